//! virtio-console (ID 3), single port, no multiport: receiveq (0) gets bytes from a
//! [`ConsoleInput`] queue fed by the console thread (which then calls
//! `VirtioMmio::kick(0)`), transmitq (1) goes to a `Write` sink.

use super::{DEVICE_ID_CONSOLE, Queue, QueueError, VirtioDevice, copy_config};
use crate::bus::DmaMemory;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Bytes waiting for the guest's receive buffers.
#[derive(Clone, Default)]
pub struct ConsoleInput(Arc<Mutex<VecDeque<u8>>>);

impl ConsoleInput {
    pub fn push(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(bytes);
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct VirtioConsole {
    out: Box<dyn Write + Send>,
    input: ConsoleInput,
}

impl VirtioConsole {
    pub fn new(out: Box<dyn Write + Send>) -> (VirtioConsole, ConsoleInput) {
        let input = ConsoleInput::default();
        (
            VirtioConsole {
                out,
                input: input.clone(),
            },
            input,
        )
    }
}

impl VirtioDevice for VirtioConsole {
    fn device_id(&self) -> u32 {
        DEVICE_ID_CONSOLE
    }
    fn features(&self) -> u64 {
        0
    }
    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![256, 256]
    }
    fn read_config(&self, offset: u64, buf: &mut [u8]) {
        // cols, rows (unused without VIRTIO_CONSOLE_F_SIZE), max_nr_ports = 1.
        let mut cfg = [0u8; 12];
        cfg[4..8].copy_from_slice(&1u32.to_le_bytes());
        copy_config(&cfg, offset, buf);
    }
    fn process(
        &mut self,
        index: usize,
        q: &mut Queue,
        mem: &dyn DmaMemory,
    ) -> Result<bool, QueueError> {
        let mut any = false;
        if index == 1 {
            while let Some(chain) = q.pop(mem)? {
                let data = chain.read_all(mem)?;
                // A failing sink loses output, as an unplugged terminal would.
                let _ = self.out.write_all(&data);
                let _ = self.out.flush();
                q.push_used(mem, chain.head, 0)?;
                any = true;
            }
        } else if index == 0 {
            let mut input = self.input.0.lock().unwrap_or_else(|e| e.into_inner());
            while !input.is_empty() {
                let Some(chain) = q.pop(mem)? else { break };
                let n = (chain.writable_len() as usize).min(input.len());
                let bytes: Vec<u8> = input.drain(..n).collect();
                let written = chain.write_at(mem, 0, &bytes)?;
                q.push_used(mem, chain.head, written as u32)?;
                any = true;
            }
        }
        Ok(any)
    }
    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::super::F_VERSION_1;
    use super::super::testdrv::*;
    use super::*;

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

    #[test]
    fn output_and_input() {
        let sink = Sink::default();
        let (con, input) = VirtioConsole::new(Box::new(sink.clone()));
        let mut d = Driver::new(Box::new(con));
        d.init(F_VERSION_1);
        assert_eq!(d.config(4, 4), 1);
        d.ram.write(BUF_BASE, b"hello ").unwrap();
        d.ram.write(BUF_BASE + 0x40, b"world").unwrap();
        d.post(1, &[(BUF_BASE, 6, false), (BUF_BASE + 0x40, 5, false)]);
        d.notify(1);
        assert_eq!(&*sink.0.lock().unwrap(), b"hello world");
        assert_eq!(d.ack(), 1);
        // Input before any buffer waits; a buffer posted later gets it on kick.
        input.push(b"ls\n");
        d.dev.kick(0);
        assert!(!d.irq.get(1));
        let h = d.post(0, &[(BUF_BASE + 0x100, 2, true)]);
        d.notify(0);
        assert_eq!(d.used(0), Some((h.into(), 2)));
        let h2 = d.post(0, &[(BUF_BASE + 0x200, 64, true)]);
        d.notify(0);
        assert_eq!(d.used(0), Some((h2.into(), 1)));
        let mut b = [0u8; 3];
        d.ram.read(BUF_BASE + 0x100, &mut b[..2]).unwrap();
        d.ram.read(BUF_BASE + 0x200, &mut b[2..]).unwrap();
        assert_eq!(&b, b"ls\n");
        assert!(input.is_empty());
    }
}
