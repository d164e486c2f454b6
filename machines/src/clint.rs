//! SiFive CLINT (the ACLINT MTIMER + MSWI pair at the classic layout): `msip` per hart at
//! 0x0, `mtimecmp` per hart at 0x4000, `mtime` at 0xbff8. `mtime` counts at 10 MHz from
//! the host monotonic clock. Outputs MSIP and MTIP per hart as atomics; MTIP depends on
//! time, so the CPU side calls [`Clint::refresh`] (or reads [`Clint::next_deadline`] to
//! sleep in WFI until it fires).

use crate::bus::{BusError, MmioDevice, bad_size};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const TIMEBASE_HZ: u64 = 10_000_000;
pub const MMIO_SIZE: u64 = 0x1_0000;
const MTIMECMP: u64 = 0x4000;
const MTIME: u64 = 0xbff8;

/// Per-hart interrupt outputs of the CLINT.
type Notifier = Box<dyn Fn(usize, ClintLine, bool) + Send + Sync>;

/// Which per-hart output of the CLINT changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClintLine {
    Msip,
    Mtip,
}

pub struct ClintOutputs {
    pub msip: Vec<AtomicBool>,
    pub mtip: Vec<AtomicBool>,
}

pub struct Clint {
    start: Instant,
    /// Guest writes to mtime move this offset (ticks).
    offset: AtomicI64,
    mtimecmp: Vec<AtomicU64>,
    out: Arc<ClintOutputs>,
    notifier: Mutex<Option<Notifier>>,
}

impl Clint {
    pub fn new(harts: usize) -> Clint {
        Clint {
            start: Instant::now(),
            offset: AtomicI64::new(0),
            mtimecmp: (0..harts).map(|_| AtomicU64::new(u64::MAX)).collect(),
            out: Arc::new(ClintOutputs {
                msip: (0..harts).map(|_| AtomicBool::new(false)).collect(),
                mtip: (0..harts).map(|_| AtomicBool::new(false)).collect(),
            }),
            notifier: Mutex::new(None),
        }
    }

    pub fn outputs(&self) -> Arc<ClintOutputs> {
        self.out.clone()
    }

    /// Called with (hart, line, level) whenever a hart's MSIP or MTIP changes, under the
    /// CLINT's lock: in the order of the changes, with the output already at `level`. MTIP
    /// changes with time only when [`Clint::refresh`] runs. Must not access devices.
    pub fn set_notifier(&self, f: impl Fn(usize, ClintLine, bool) + Send + Sync + 'static) {
        *self.notifier.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    fn ticks_since_start(&self) -> u64 {
        let ns = self.start.elapsed().as_nanos();
        (ns / (1_000_000_000 / u128::from(TIMEBASE_HZ))) as u64
    }

    /// The current `mtime` (also what `rdtime` returns).
    pub fn mtime(&self) -> u64 {
        self.ticks_since_start()
            .wrapping_add_signed(self.offset.load(Ordering::Relaxed))
    }

    pub fn mtimecmp(&self, hart: usize) -> Option<u64> {
        self.mtimecmp.get(hart).map(|c| c.load(Ordering::Relaxed))
    }

    fn notifier(&self) -> MutexGuard<'_, Option<Notifier>> {
        self.notifier.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets output `line` of `hart` to `on` and, if that changed it, tells the notifier
    /// (msip writes also notify every write of 1: see `write`).
    /// The caller holds the notifier lock (`n`) across both steps, so the notifications
    /// reach the harts in the order of the changes. (Changing the output before taking the
    /// lock let two writers of one msip, an IPI sender setting it and the receiver's
    /// handler clearing it, deliver their notifications in the opposite order: mip.MSIP
    /// stayed 0 while msip was 1, and as later writes of 1 changed nothing, no IPI reached
    /// that hart again.)
    fn set_output(n: &Option<Notifier>, cell: &AtomicBool, hart: usize, line: ClintLine, on: bool) {
        if cell.swap(on, Ordering::SeqCst) != on
            && let Some(f) = n
        {
            f(hart, line, on);
        }
    }

    /// Recomputes every hart's MTIP from the clock.
    pub fn refresh(&self) {
        // The clock and mtimecmp are read under the lock: the last refresh to run sees the
        // last mtimecmp write.
        let n = self.notifier();
        let now = self.mtime();
        for (h, cmp) in self.mtimecmp.iter().enumerate() {
            let on = now >= cmp.load(Ordering::SeqCst);
            Clint::set_output(&n, &self.out.mtip[h], h, ClintLine::Mtip, on);
        }
    }

    /// When hart `hart`'s timer fires next (None: never, or out of range).
    pub fn next_deadline(&self, hart: usize) -> Option<Instant> {
        let cmp = self.mtimecmp(hart)?;
        if cmp == u64::MAX {
            return None;
        }
        let delta = cmp.saturating_sub(self.mtime());
        let ns = u128::from(delta) * u128::from(1_000_000_000 / TIMEBASE_HZ);
        Instant::now().checked_add(Duration::from_nanos(u64::try_from(ns).ok()?))
    }
}

fn merge(old: u64, shift: u64, size: u8, value: u64) -> u64 {
    let mask = if size == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    } << shift;
    (old & !mask) | ((value << shift) & mask)
}

impl MmioDevice for Clint {
    fn read(&self, offset: u64, size: u8) -> Result<u64, BusError> {
        if !(size == 4 || size == 8) || !offset.is_multiple_of(u64::from(size)) {
            return Err(bad_size(offset, size));
        }
        let harts = self.mtimecmp.len() as u64;
        let (full, base) = match offset {
            o if o < 4 * harts => {
                if size != 4 {
                    return Err(bad_size(offset, size));
                }
                return Ok(self.out.msip[(o / 4) as usize]
                    .load(Ordering::SeqCst)
                    .into());
            }
            o if (MTIMECMP..MTIMECMP + 8 * harts).contains(&o) => {
                let h = ((o - MTIMECMP) / 8) as usize;
                (
                    self.mtimecmp[h].load(Ordering::Relaxed),
                    MTIMECMP + 8 * h as u64,
                )
            }
            o if (MTIME..MTIME + 8).contains(&o) => (self.mtime(), MTIME),
            _ => return Ok(0),
        };
        let shift = 8 * (offset - base);
        Ok(if size == 8 {
            full
        } else {
            (full >> shift) & 0xffff_ffff
        })
    }

    fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError> {
        if !(size == 4 || size == 8) || !offset.is_multiple_of(u64::from(size)) {
            return Err(bad_size(offset, size));
        }
        let harts = self.mtimecmp.len() as u64;
        match offset {
            o if o < 4 * harts => {
                if size != 4 {
                    return Err(bad_size(offset, size));
                }
                let h = (o / 4) as usize;
                let on = value & 1 != 0;
                let n = self.notifier();
                let was = self.out.msip[h].swap(on, Ordering::SeqCst);
                // Every write of 1 is an IPI sent, even over a pending one: the notifier
                // hears it (a doorbell), so a hart that polls memory with msip already
                // pending (OpenSBI 1.1's secondary harts waiting to be started) and that
                // backs off in WFI (see system/hart.rs) wakes at once for it.
                if (was != on || on)
                    && let Some(f) = n.as_ref()
                {
                    f(h, ClintLine::Msip, on);
                }
            }
            o if (MTIMECMP..MTIMECMP + 8 * harts).contains(&o) => {
                let h = ((o - MTIMECMP) / 8) as usize;
                let shift = 8 * (o - MTIMECMP - 8 * h as u64);
                let old = self.mtimecmp[h].load(Ordering::SeqCst);
                self.mtimecmp[h].store(merge(old, shift, size, value), Ordering::SeqCst);
                self.refresh();
            }
            o if (MTIME..MTIME + 8).contains(&o) => {
                let shift = 8 * (o - MTIME);
                let new = merge(self.mtime(), shift, size, value);
                let off = new.wrapping_sub(self.ticks_since_start()) as i64;
                self.offset.store(off, Ordering::Relaxed);
                self.refresh();
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtime_runs_at_10mhz() {
        let c = Clint::new(1);
        let t0 = c.read(MTIME, 8).unwrap();
        let h0 = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let t1 = c.read(MTIME, 8).unwrap();
        let el = h0.elapsed().as_nanos() as u64 / 100;
        assert!(t1 - t0 >= 200_000, "{}", t1 - t0);
        assert!(t1 - t0 <= el + 10_000, "{} vs {}", t1 - t0, el);
        let lo = c.read(MTIME, 4).unwrap();
        let hi = c.read(MTIME + 4, 4).unwrap();
        assert!(hi <= 1 && lo > 0);
    }

    #[test]
    fn mtimecmp_drives_mtip() {
        let c = Clint::new(2);
        let out = c.outputs();
        c.refresh();
        assert!(
            !out.mtip[0].load(Ordering::SeqCst),
            "mtimecmp resets to max"
        );
        c.write(MTIMECMP + 8, 8, 0).unwrap();
        assert!(out.mtip[1].load(Ordering::SeqCst));
        assert!(!out.mtip[0].load(Ordering::SeqCst));
        // 32-bit halves, the way RV32 software writes them.
        c.write(MTIMECMP + 8 + 4, 4, 0xffff_ffff).unwrap();
        assert!(!out.mtip[1].load(Ordering::SeqCst));
        assert_eq!(c.mtimecmp(1), Some(0xffff_ffff_0000_0000));
        let soon = c.mtime() + 50_000; // 5 ms
        c.write(MTIMECMP, 8, soon).unwrap();
        assert!(!out.mtip[0].load(Ordering::SeqCst));
        let d = c.next_deadline(0).unwrap();
        assert!(d <= Instant::now() + Duration::from_millis(6));
        std::thread::sleep(Duration::from_millis(6));
        c.refresh();
        assert!(out.mtip[0].load(Ordering::SeqCst));
    }

    #[test]
    fn msip_and_mtime_write() {
        let c = Clint::new(2);
        let out = c.outputs();
        let hits = Arc::new(Mutex::new(vec![]));
        let h = hits.clone();
        c.set_notifier(move |x, l, v| h.lock().unwrap().push((x, l, v)));
        c.write(4, 4, 1).unwrap();
        assert!(out.msip[1].load(Ordering::SeqCst));
        assert_eq!(c.read(4, 4).unwrap(), 1);
        assert_eq!(*hits.lock().unwrap(), vec![(1, ClintLine::Msip, true)]);
        c.write(4, 4, 0).unwrap();
        assert_eq!(hits.lock().unwrap()[1], (1, ClintLine::Msip, false));
        // Clearing a clear msip changes nothing and tells nobody.
        c.write(4, 4, 0).unwrap();
        assert_eq!(hits.lock().unwrap().len(), 2);
        assert_eq!(c.read(4, 4).unwrap(), 0);
        c.write(MTIME, 8, 1 << 40).unwrap();
        let t = c.mtime();
        assert!((1 << 40..(1 << 40) + 10_000_000).contains(&t));
        assert!(c.read(1, 4).is_err());
        assert!(c.read(0, 2).is_err());
        assert!(c.read(0, 8).is_err(), "msip is 32-bit");
    }

    /// A write of 1 over a pending msip is an IPI too: the notifier hears it, so a hart
    /// backing off in WFI with the previous IPI still pending (a polling loop) wakes for
    /// it. Without this, OpenSBI 1.1's secondary harts, which wait to be started with msip
    /// still set from their cold-boot wakeup, woke only by timer and could catch the start
    /// request half written (see docs/system-mode.md, the `-smp 2` boot failure).
    #[test]
    fn msip_write_over_pending_ipi_notifies() {
        let c = Clint::new(2);
        let hits = Arc::new(Mutex::new(vec![]));
        let h = hits.clone();
        c.set_notifier(move |x, l, v| h.lock().unwrap().push((x, l, v)));
        c.write(4, 4, 1).unwrap();
        c.write(4, 4, 1).unwrap();
        assert_eq!(
            *hits.lock().unwrap(),
            vec![(1, ClintLine::Msip, true), (1, ClintLine::Msip, true)]
        );
        assert!(c.outputs().msip[1].load(Ordering::SeqCst));
    }

    /// Two harts writing the same msip (one sets it, as an IPI sender; the other clears
    /// it, as the receiver's handler) must see their notifications delivered in the order
    /// of the changes, leaving the notified line equal to msip. Before the output change
    /// and its notification were made one step, a writer overtaken between them (preempted,
    /// or waiting for the lock) notified a stale level: mip.MSIP stayed 0 with msip at 1,
    /// and as later writes of 1 changed nothing, no IPI reached that hart again (the
    /// `-smp 2` boot hang).
    #[test]
    fn racing_msip_writes_keep_the_line_in_step() {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let c = Arc::new(Clint::new(1));
        let line = Arc::new(AtomicBool::new(false));
        // Notifications whose level msip no longer had when they ran (out of order).
        let stale = Arc::new(AtomicUsize::new(0));
        let (l, st, out) = (line.clone(), stale.clone(), c.outputs());
        c.set_notifier(move |_, _, v| {
            if out.msip[0].load(Ordering::SeqCst) != v {
                st.fetch_add(1, Ordering::SeqCst);
            }
            // A notifier that takes a little while (as waking a hart does) makes the
            // writers queue on each other.
            for _ in 0..200 {
                std::hint::spin_loop();
            }
            l.store(v, Ordering::SeqCst);
        });
        // Long enough for the writers to run side by side and to be preempted many
        // times, even on a loaded host.
        let until = Instant::now() + Duration::from_millis(300);
        // Ping-pong, as IPIs go: senders set msip once it is clear, receivers clear it once
        // it is set (seeing the other side's change before its notification is out); more
        // writers than host cores, so that they queue on the lock and get preempted.
        let writers: Vec<_> = [1u64, 0, 1, 0, 1, 0]
            .into_iter()
            .map(|v| {
                let c = c.clone();
                std::thread::spawn(move || {
                    let out = c.outputs();
                    let mut n = 0u64;
                    while Instant::now() < until {
                        for _ in 0..1000 {
                            if out.msip[0].load(Ordering::SeqCst) != (v != 0) {
                                c.write(0, 4, v).unwrap();
                                n += 1;
                                break;
                            }
                            std::hint::spin_loop();
                        }
                        std::thread::yield_now();
                    }
                    n
                })
            })
            .collect();
        let writes: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
        let msip = c.outputs().msip[0].load(Ordering::SeqCst);
        let stale = stale.load(Ordering::SeqCst);
        assert_eq!(
            (line.load(Ordering::SeqCst), stale),
            (msip, 0),
            "{stale} of the notifications of {writes} writes came out of order"
        );
    }

    /// The same for MTIP: a hart moving its mtimecmp between past and future (each write
    /// refreshes) while the timer thread refreshes too. A refresh that computed its level
    /// before a concurrent mtimecmp write could otherwise land last and leave MTIP stale.
    #[test]
    fn racing_refreshes_keep_mtip_in_step() {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let c = Arc::new(Clint::new(1));
        let line = Arc::new(AtomicBool::new(false));
        let stale = Arc::new(AtomicUsize::new(0));
        let (l, st, out) = (line.clone(), stale.clone(), c.outputs());
        c.set_notifier(move |_, _, v| {
            if out.mtip[0].load(Ordering::SeqCst) != v {
                st.fetch_add(1, Ordering::SeqCst);
            }
            for _ in 0..200 {
                std::hint::spin_loop();
            }
            l.store(v, Ordering::SeqCst);
        });
        let until = Instant::now() + Duration::from_millis(300);
        let threads: Vec<_> = (0..6)
            .map(|k| {
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut past = false;
                    while Instant::now() < until {
                        if k == 0 {
                            past = !past;
                            let cmp = if past { 0 } else { u64::MAX };
                            c.write(MTIMECMP, 8, cmp).unwrap();
                        } else {
                            c.refresh();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let expected = c.mtime() >= c.mtimecmp(0).unwrap();
        assert_eq!(c.outputs().mtip[0].load(Ordering::SeqCst), expected);
        assert_eq!(line.load(Ordering::SeqCst), expected);
        assert_eq!(
            stale.load(Ordering::SeqCst),
            0,
            "notifications out of order"
        );
    }
}
