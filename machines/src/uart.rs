//! ns16550a UART: the register file (RBR/THR/DLL, IER/DLM, IIR/FCR, LCR, MCR, LSR, MSR,
//! SCR) with DLAB, a 16-byte receive FIFO, interrupt identification by priority (line
//! status > received data / timeout > THR empty > modem status), the THR-empty interrupt and
//! loopback. Transmitted bytes go to a `Write` sink at once (so THR is always empty); input
//! is a byte queue fed by the console thread via [`Uart::push_input`].

use crate::bus::{BusError, MmioDevice, bad_size};
use crate::irq::IrqLine;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

const FIFO_LEN: usize = 16;

const IER_RDI: u8 = 1;
const IER_THRI: u8 = 2;
const IER_RLSI: u8 = 4;
const IER_MSI: u8 = 8;

const IIR_NONE: u8 = 0x01;
const IIR_MSI: u8 = 0x00;
const IIR_THRI: u8 = 0x02;
const IIR_RDI: u8 = 0x04;
const IIR_RLSI: u8 = 0x06;
const IIR_TIMEOUT: u8 = 0x0c;
const IIR_FIFO: u8 = 0xc0;

const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;

const LCR_DLAB: u8 = 0x80;
const MCR_LOOP: u8 = 0x10;
const FCR_ENABLE: u8 = 0x01;
const FCR_CLEAR_RX: u8 = 0x02;

struct State {
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    fcr: u8,
    dll: u8,
    dlm: u8,
    lsr_errors: u8,
    /// THR-empty interrupt pending (cleared by reading IIR while it is the cause, or by
    /// writing THR; set again once the byte is sent, which is immediate here).
    thr_pending: bool,
    /// Delta bits of MSR (low nibble).
    msr_delta: u8,
    rx: VecDeque<u8>,
    /// Bytes from the console not yet in the FIFO (flow control instead of overruns).
    input: VecDeque<u8>,
    out: Box<dyn Write + Send>,
}

/// An ns16550a at byte-wide registers (reg-shift 0, reg-io-width 1).
pub struct Uart {
    st: Mutex<State>,
    irq: IrqLine,
}

impl State {
    fn fifo_cap(&self) -> usize {
        if self.fcr & FCR_ENABLE != 0 {
            FIFO_LEN
        } else {
            1
        }
    }
    fn refill(&mut self) {
        while self.rx.len() < self.fifo_cap() {
            match self.input.pop_front() {
                Some(b) => self.rx.push_back(b),
                None => break,
            }
        }
    }
    fn rx_trigger(&self) -> usize {
        if self.fcr & FCR_ENABLE == 0 {
            return 1;
        }
        [1, 4, 8, 14][(self.fcr >> 6) as usize]
    }
    fn lsr(&self) -> u8 {
        let dr = if self.rx.is_empty() { 0 } else { LSR_DR };
        LSR_THRE | LSR_TEMT | dr | self.lsr_errors
    }
    fn msr(&self) -> u8 {
        let status = if self.mcr & MCR_LOOP != 0 {
            // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            let m = self.mcr;
            ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4)
        } else {
            0xb0 // DCD, DSR, CTS asserted: a terminal is attached.
        };
        status | self.msr_delta
    }
    fn iir_cause(&self) -> u8 {
        if self.ier & IER_RLSI != 0 && self.lsr_errors != 0 {
            IIR_RLSI
        } else if self.ier & IER_RDI != 0 && !self.rx.is_empty() {
            if self.rx.len() >= self.rx_trigger() {
                IIR_RDI
            } else {
                IIR_TIMEOUT
            }
        } else if self.ier & IER_THRI != 0 && self.thr_pending {
            IIR_THRI
        } else if self.ier & IER_MSI != 0 && self.msr_delta != 0 {
            IIR_MSI
        } else {
            IIR_NONE
        }
    }
}

impl Uart {
    pub fn new(out: Box<dyn Write + Send>, irq: IrqLine) -> Uart {
        Uart {
            st: Mutex::new(State {
                ier: 0,
                lcr: 0,
                mcr: 0,
                scr: 0,
                fcr: 0,
                dll: 0x0c,
                dlm: 0,
                lsr_errors: 0,
                thr_pending: false,
                msr_delta: 0,
                rx: VecDeque::new(),
                input: VecDeque::new(),
                out,
            }),
            irq,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update_irq(&self, st: &State) {
        self.irq.set(st.iir_cause() != IIR_NONE);
    }

    /// Queues bytes typed on the console; they enter the receive FIFO as it drains.
    pub fn push_input(&self, bytes: &[u8]) {
        let mut st = self.lock();
        st.input.extend(bytes);
        st.refill();
        self.update_irq(&st);
    }

    /// Bytes queued but not yet read by the guest.
    pub fn pending_input(&self) -> usize {
        let st = self.lock();
        st.rx.len() + st.input.len()
    }

    fn read_reg(&self, st: &mut State, reg: u64) -> u8 {
        let dlab = st.lcr & LCR_DLAB != 0;
        match reg {
            0 if dlab => st.dll,
            0 => {
                let b = st.rx.pop_front().unwrap_or(0);
                st.refill();
                b
            }
            1 if dlab => st.dlm,
            1 => st.ier,
            2 => {
                let cause = st.iir_cause();
                if cause == IIR_THRI {
                    st.thr_pending = false;
                }
                let fifo = if st.fcr & FCR_ENABLE != 0 {
                    IIR_FIFO
                } else {
                    0
                };
                cause | fifo
            }
            3 => st.lcr,
            4 => st.mcr,
            5 => {
                let v = st.lsr();
                st.lsr_errors = 0;
                v
            }
            6 => {
                let v = st.msr();
                st.msr_delta = 0;
                v
            }
            _ => st.scr,
        }
    }

    fn write_reg(&self, st: &mut State, reg: u64, v: u8) {
        let dlab = st.lcr & LCR_DLAB != 0;
        match reg {
            0 if dlab => st.dll = v,
            0 => {
                if st.mcr & MCR_LOOP != 0 {
                    if st.rx.len() < st.fifo_cap() {
                        st.rx.push_back(v);
                    } else {
                        st.lsr_errors |= LSR_OE;
                    }
                } else {
                    // A broken console must not stop the guest; the byte is lost as on a
                    // disconnected line.
                    let _ = st.out.write_all(&[v]);
                    let _ = st.out.flush();
                }
                // The byte left at once: THR is empty again.
                st.thr_pending = true;
            }
            1 if dlab => st.dlm = v,
            1 => {
                let was = st.ier;
                st.ier = v & 0x0f;
                if st.ier & IER_THRI != 0 && was & IER_THRI == 0 {
                    st.thr_pending = true;
                }
            }
            2 => {
                if v & FCR_CLEAR_RX != 0 {
                    st.rx.clear();
                }
                if (v ^ st.fcr) & FCR_ENABLE != 0 {
                    st.rx.clear();
                }
                st.fcr = v & 0xc9;
                st.refill();
            }
            3 => st.lcr = v,
            4 => {
                let old = st.msr() & 0xf0;
                st.mcr = v & 0x1f;
                let new = st.msr() & 0xf0;
                let changed = old ^ new;
                // CTS, DSR, RI (trailing edge), DCD deltas.
                st.msr_delta |= ((changed >> 4) & 0b1011) | (((old & !new) >> 4) & 0b0100);
            }
            5 | 6 => {} // LSR/MSR: writes are for factory test only.
            _ => st.scr = v,
        }
    }
}

impl MmioDevice for Uart {
    fn read(&self, offset: u64, size: u8) -> Result<u64, BusError> {
        if size != 1 || offset > 7 {
            return Err(bad_size(offset, size));
        }
        let mut st = self.lock();
        let v = self.read_reg(&mut st, offset);
        self.update_irq(&st);
        Ok(v.into())
    }
    fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError> {
        if size != 1 || offset > 7 {
            return Err(bad_size(offset, size));
        }
        let mut st = self.lock();
        self.write_reg(&mut st, offset, value as u8);
        self.update_irq(&st);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::test_util::Levels;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn uart() -> (Uart, Sink, Arc<Levels>) {
        let sink = Sink::default();
        let levels = Arc::new(Levels::default());
        let u = Uart::new(Box::new(sink.clone()), IrqLine::new(levels.clone(), 10));
        (u, sink, levels)
    }

    #[test]
    fn transmit_and_dlab() {
        let (u, sink, _) = uart();
        u.write(3, 1, 0x83).unwrap(); // DLAB, 8N1
        u.write(0, 1, 0x01).unwrap(); // divisor low
        u.write(1, 1, 0x00).unwrap();
        assert_eq!(u.read(0, 1).unwrap(), 1);
        u.write(3, 1, 0x03).unwrap();
        assert_eq!(u.read(1, 1).unwrap(), 0); // IER, not DLM
        for b in b"hi\n" {
            assert_ne!(u.read(5, 1).unwrap() & 0x20, 0);
            u.write(0, 1, u64::from(*b)).unwrap();
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"hi\n");
        assert_eq!(u.read(5, 1).unwrap(), 0x60);
    }

    #[test]
    fn receive_fifo_and_interrupts() {
        let (u, _, irq) = uart();
        u.write(2, 1, 0x07).unwrap(); // enable + clear FIFOs, trigger 1
        assert_eq!(u.read(2, 1).unwrap(), 0xc1);
        u.push_input(b"abc");
        assert!(!irq.get(10), "RDI disabled");
        assert_eq!(u.read(5, 1).unwrap() & 1, 1);
        u.write(1, 1, IER_RDI as u64).unwrap();
        assert!(irq.get(10));
        assert_eq!(u.read(2, 1).unwrap(), 0xc4);
        assert_eq!(u.read(0, 1).unwrap(), b'a' as u64);
        assert_eq!(u.read(0, 1).unwrap(), b'b' as u64);
        assert_eq!(u.read(0, 1).unwrap(), b'c' as u64);
        assert!(!irq.get(10));
        assert_eq!(u.read(5, 1).unwrap() & 1, 0);
        assert_eq!(u.read(2, 1).unwrap(), 0xc1);
        // Trigger level 8: fewer bytes report a character timeout.
        u.write(2, 1, 0x81).unwrap();
        u.push_input(b"xy");
        assert_eq!(u.read(2, 1).unwrap(), 0xcc);
        // More than the FIFO holds waits in the input queue, nothing is lost.
        let many: Vec<u8> = (0..40).collect();
        u.push_input(&many);
        assert_eq!(u.pending_input(), 42);
        let mut got = vec![];
        while u.read(5, 1).unwrap() & 1 != 0 {
            got.push(u.read(0, 1).unwrap() as u8);
        }
        assert_eq!(&got[..2], b"xy");
        assert_eq!(&got[2..], &many[..]);
    }

    #[test]
    fn thr_empty_interrupt() {
        let (u, _, irq) = uart();
        u.write(1, 1, IER_THRI as u64).unwrap();
        assert!(irq.get(10), "enabling THRI with THR empty interrupts");
        assert_eq!(u.read(2, 1).unwrap(), 0x02);
        assert!(!irq.get(10), "reading IIR clears THRE");
        assert_eq!(u.read(2, 1).unwrap(), 0x01);
        u.write(0, 1, b'x' as u64).unwrap();
        assert!(irq.get(10), "THR empty again after transmit");
        u.write(1, 1, 0).unwrap();
        assert!(!irq.get(10));
    }

    #[test]
    fn loopback_and_bad_size() {
        let (u, sink, _) = uart();
        u.write(4, 1, 0x1b).unwrap(); // loop, OUT2, RTS, DTR
        assert_eq!(u.read(6, 1).unwrap() & 0xf0, 0xb0);
        u.write(0, 1, 0x5a).unwrap();
        assert_eq!(u.read(0, 1).unwrap(), 0x5a);
        assert!(sink.0.lock().unwrap().is_empty());
        u.write(7, 1, 0x42).unwrap();
        assert_eq!(u.read(7, 1).unwrap(), 0x42);
        assert!(u.read(0, 4).is_err());
        assert!(u.write(8, 1, 0).is_err());
    }
}
