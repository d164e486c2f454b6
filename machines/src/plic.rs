//! SiFive/RISC-V PLIC: per-source priorities, pending bits, per-context enables and
//! thresholds, claim/complete, with level-triggered gateways (a source that is still high
//! after completion becomes pending again). Contexts are 2 per hart (M then S). The
//! per-context "external interrupt pending" outputs are atomics the CPU side reads
//! ([`Plic::eip`]); an optional notifier wakes a sleeping hart when one rises.

use crate::bus::{BusError, MmioDevice, bad_size};
use crate::irq::IrqSink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Number of interrupt sources including the reserved source 0 (so ids 1..=95).
pub const NUM_SOURCES: usize = 96;
pub const MAX_PRIORITY: u32 = 7;
/// Size of the register window for `contexts` contexts.
pub fn mmio_size(contexts: usize) -> u64 {
    0x20_0000 + 0x1000 * contexts as u64
}

const WORDS: usize = NUM_SOURCES.div_ceil(32);

struct State {
    priority: [u32; NUM_SOURCES],
    level: [bool; NUM_SOURCES],
    pending: [bool; NUM_SOURCES],
    in_flight: [bool; NUM_SOURCES],
    enable: Vec<[u32; WORDS]>,
    threshold: Vec<u32>,
}

type Notifier = Box<dyn Fn(usize, bool) + Send + Sync>;

pub struct Plic {
    st: Mutex<State>,
    eip: Arc<[AtomicBool]>,
    notifier: Mutex<Option<Notifier>>,
}

impl State {
    fn enabled(&self, ctx: usize, src: usize) -> bool {
        self.enable[ctx][src / 32] >> (src % 32) & 1 != 0
    }
    /// The highest-priority pending, enabled source above the threshold (lowest id on ties).
    /// Runs on every source level change and register access, for every context: it
    /// visits only the context's enabled sources (a handful), in ascending order.
    fn best(&self, ctx: usize) -> u32 {
        let mut best = 0;
        let mut best_prio = self.threshold[ctx];
        for (w, &word) in self.enable[ctx].iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let src = w * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if src < NUM_SOURCES && self.pending[src] && self.priority[src] > best_prio {
                    best = src as u32;
                    best_prio = self.priority[src];
                }
            }
        }
        best
    }
}

impl Plic {
    pub fn new(contexts: usize) -> Plic {
        Plic {
            st: Mutex::new(State {
                priority: [0; NUM_SOURCES],
                level: [false; NUM_SOURCES],
                pending: [false; NUM_SOURCES],
                in_flight: [false; NUM_SOURCES],
                enable: vec![[0; WORDS]; contexts],
                threshold: vec![0; contexts],
            }),
            eip: (0..contexts).map(|_| AtomicBool::new(false)).collect(),
            notifier: Mutex::new(None),
        }
    }

    /// Context index for `hart` in M mode (`supervisor` false) or S mode.
    pub fn context(hart: usize, supervisor: bool) -> usize {
        2 * hart + usize::from(supervisor)
    }

    pub fn num_contexts(&self) -> usize {
        self.eip.len()
    }

    /// Per-context external-interrupt-pending outputs (MEIP for even, SEIP for odd contexts).
    pub fn eip(&self) -> Arc<[AtomicBool]> {
        self.eip.clone()
    }

    /// Called with (context, level) whenever a context's output changes (e.g. to set the
    /// hart's mip bit and unpark it from WFI). Runs under the PLIC lock: it must not access
    /// devices.
    pub fn set_notifier(&self, f: impl Fn(usize, bool) + Send + Sync + 'static) {
        *self.notifier.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, st: &State) {
        for ctx in 0..self.eip.len() {
            let on = st.best(ctx) != 0;
            let was = self.eip[ctx].swap(on, Ordering::SeqCst);
            if on != was
                && let Some(f) = &*self.notifier.lock().unwrap_or_else(|e| e.into_inner())
            {
                f(ctx, on);
            }
        }
    }

    fn claim(&self, st: &mut State, ctx: usize) -> u32 {
        let id = st.best(ctx);
        if id != 0 {
            st.pending[id as usize] = false;
            st.in_flight[id as usize] = true;
        }
        id
    }

    fn complete(&self, st: &mut State, ctx: usize, id: u32) {
        let src = id as usize;
        if src == 0 || src >= NUM_SOURCES || !st.enabled(ctx, src) {
            return; // Not enabled for this target: silently ignored.
        }
        st.in_flight[src] = false;
        if st.level[src] {
            st.pending[src] = true;
        }
    }
}

impl IrqSink for Plic {
    fn set_level(&self, irq: u32, level: bool) {
        let src = irq as usize;
        if src == 0 || src >= NUM_SOURCES {
            return;
        }
        let mut st = self.lock();
        st.level[src] = level;
        if level && !st.in_flight[src] {
            st.pending[src] = true;
        }
        // A level source that drops before being claimed is no longer requesting.
        if !level && !st.in_flight[src] {
            st.pending[src] = false;
        }
        self.update(&st);
    }
}

impl MmioDevice for Plic {
    fn read(&self, offset: u64, size: u8) -> Result<u64, BusError> {
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        let mut st = self.lock();
        let n = self.eip.len() as u64;
        let v = match offset {
            0..0x1000 => st.priority.get((offset / 4) as usize).copied().unwrap_or(0),
            0x1000..0x2000 => {
                let w = ((offset - 0x1000) / 4) as usize;
                (0..32)
                    .filter(|b| st.pending.get(w * 32 + b).copied().unwrap_or(false))
                    .fold(0, |acc, b| acc | 1 << b)
            }
            0x2000..0x20_0000 => {
                let ctx = (offset - 0x2000) / 0x80;
                let w = ((offset - 0x2000) % 0x80 / 4) as usize;
                if ctx < n {
                    st.enable[ctx as usize].get(w).copied().unwrap_or(0)
                } else {
                    0
                }
            }
            _ => {
                let ctx = (offset - 0x20_0000) / 0x1000;
                if ctx >= n {
                    return Err(BusError::Unmapped { addr: offset });
                }
                match offset % 0x1000 {
                    0 => st.threshold[ctx as usize],
                    4 => {
                        let id = self.claim(&mut st, ctx as usize);
                        self.update(&st);
                        id
                    }
                    _ => 0,
                }
            }
        };
        Ok(v.into())
    }

    fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError> {
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        let value = value as u32;
        let mut st = self.lock();
        let n = self.eip.len() as u64;
        match offset {
            0..0x1000 => {
                let src = (offset / 4) as usize;
                if src > 0 && src < NUM_SOURCES {
                    st.priority[src] = value & MAX_PRIORITY;
                }
            }
            0x1000..0x2000 => {} // pending bits are read-only
            0x2000..0x20_0000 => {
                let ctx = (offset - 0x2000) / 0x80;
                let w = ((offset - 0x2000) % 0x80 / 4) as usize;
                if ctx < n && w < WORDS {
                    // Source 0 does not exist: its enable bit is hardwired to zero.
                    st.enable[ctx as usize][w] = if w == 0 { value & !1 } else { value };
                }
            }
            _ => {
                let ctx = (offset - 0x20_0000) / 0x1000;
                if ctx >= n {
                    return Err(BusError::Unmapped { addr: offset });
                }
                match offset % 0x1000 {
                    0 => st.threshold[ctx as usize] = value & MAX_PRIORITY,
                    4 => self.complete(&mut st, ctx as usize, value),
                    _ => {}
                }
            }
        }
        self.update(&st);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M0: u64 = 0; // context 0 = hart 0 M
    const S0: u64 = 1;

    fn enable(p: &Plic, ctx: u64, src: u32) {
        let off = 0x2000 + ctx * 0x80 + u64::from(src / 32) * 4;
        let cur = p.read(off, 4).unwrap();
        p.write(off, 4, cur | 1 << (src % 32)).unwrap();
    }
    fn claim(p: &Plic, ctx: u64) -> u64 {
        p.read(0x20_0004 + ctx * 0x1000, 4).unwrap()
    }
    fn complete(p: &Plic, ctx: u64, id: u64) {
        p.write(0x20_0004 + ctx * 0x1000, 4, id).unwrap();
    }

    #[test]
    fn priority_threshold_claim_complete() {
        let p = Plic::new(2);
        let eip = p.eip();
        p.write(10 * 4, 4, 1).unwrap();
        p.write(4 * 4, 4, 5).unwrap();
        enable(&p, S0, 10);
        enable(&p, S0, 4);
        p.set_level(10, true);
        assert!(eip[S0 as usize].load(Ordering::SeqCst));
        assert!(
            !eip[M0 as usize].load(Ordering::SeqCst),
            "not enabled in M context"
        );
        assert_eq!(p.read(0x1000, 4).unwrap(), 1 << 10);
        p.set_level(4, true);
        assert_eq!(claim(&p, S0), 4, "higher priority first");
        assert_eq!(claim(&p, S0), 10);
        assert_eq!(claim(&p, S0), 0);
        assert!(!eip[S0 as usize].load(Ordering::SeqCst));
        // Still high at completion: pending again (level-triggered).
        complete(&p, S0, 10);
        assert!(eip[S0 as usize].load(Ordering::SeqCst));
        p.set_level(10, false);
        assert!(!eip[S0 as usize].load(Ordering::SeqCst));
        p.set_level(4, false);
        complete(&p, S0, 4);
        assert!(!eip[S0 as usize].load(Ordering::SeqCst));
        // Threshold masks priorities <= threshold.
        p.write(0x20_1000, 4, 5).unwrap();
        assert_eq!(p.read(0x20_1000, 4).unwrap(), 5);
        p.set_level(4, true);
        assert!(!eip[S0 as usize].load(Ordering::SeqCst));
        p.write(0x20_1000, 4, 4).unwrap();
        assert!(eip[S0 as usize].load(Ordering::SeqCst));
    }

    #[test]
    fn priority_zero_never_interrupts_and_source0_disabled() {
        let p = Plic::new(2);
        enable(&p, M0, 3);
        p.set_level(3, true);
        assert!(!p.eip()[0].load(Ordering::SeqCst));
        p.write(0x2000, 4, 0xffff_ffff).unwrap();
        assert_eq!(p.read(0x2000, 4).unwrap(), 0xffff_fffe);
        p.write(0, 4, 7).unwrap();
        assert_eq!(p.read(0, 4).unwrap(), 0);
        p.write(12, 4, 0xff).unwrap();
        assert_eq!(p.read(12, 4).unwrap(), 7, "WARL priority");
    }

    #[test]
    fn complete_of_disabled_source_ignored_and_notifier() {
        let p = Plic::new(2);
        let hits = Arc::new(Mutex::new(vec![]));
        let h = hits.clone();
        p.set_notifier(move |c, l| h.lock().unwrap().push((c, l)));
        p.write(4, 4, 1).unwrap();
        enable(&p, M0, 1);
        p.set_level(1, true);
        assert_eq!(*hits.lock().unwrap(), vec![(0, true)]);
        assert_eq!(claim(&p, M0), 1);
        assert_eq!(*hits.lock().unwrap(), vec![(0, true), (0, false)]);
        p.write(0x2000, 4, 0).unwrap();
        complete(&p, M0, 1); // ignored: not enabled
        enable(&p, M0, 1);
        assert_eq!(claim(&p, M0), 0, "still in flight");
        complete(&p, M0, 1);
        assert_eq!(claim(&p, M0), 1);
    }

    #[test]
    fn claims_go_by_priority_then_lowest_id_across_enable_words() {
        let p = Plic::new(2);
        for (src, prio) in [(95, 3), (40, 3), (64, 6), (7, 3), (33, 1)] {
            p.write(src * 4, 4, prio).unwrap();
            enable(&p, S0, src as u32);
            p.set_level(src as u32, true);
        }
        // Pending but not enabled for S0: never claimed there.
        p.write(50 * 4, 4, 7).unwrap();
        p.set_level(50, true);
        let order: Vec<u64> = (0..6).map(|_| claim(&p, S0)).collect();
        assert_eq!(order, vec![64, 7, 40, 95, 33, 0]);
        assert!(!p.eip()[S0 as usize].load(Ordering::SeqCst));
    }

    #[test]
    fn bad_accesses() {
        let p = Plic::new(2);
        assert!(p.read(0, 1).is_err());
        assert!(p.read(2, 4).is_err());
        assert!(p.read(0x20_2000, 4).is_err(), "context 2 does not exist");
    }
}
