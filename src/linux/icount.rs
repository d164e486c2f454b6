//! `-d icount` per process: every guest thread's instruction counter (the engine's, shared)
//! is registered here; when the process ends (exit_group, last thread's exit, death by a
//! signal) one summary line gives the total of all threads, finished or still running,
//! after one detail line per thread when there were several.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// (guest thread id, its counter), in creation order.
static THREADS: Mutex<Vec<(i32, Arc<AtomicU64>)>> = Mutex::new(Vec::new());
/// The summary was printed (the exit paths may meet).
static DONE: AtomicBool = AtomicBool::new(false);

fn threads() -> std::sync::MutexGuard<'static, Vec<(i32, Arc<AtomicU64>)>> {
    THREADS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new guest thread counts into `counter`.
pub fn register(tid: i32, counter: Arc<AtomicU64>) {
    threads().push((tid, counter));
}

/// In a forked child: the process is only this thread (now `tid`), and its count starts
/// at zero (the parent's instructions belong to the parent).
pub fn after_fork(tid: i32, counter: Arc<AtomicU64>) {
    counter.store(0, Ordering::Relaxed);
    let mut t = threads();
    t.clear();
    t.push((tid, counter));
    DONE.store(false, Ordering::SeqCst);
}

/// The summary lines (empty without registered threads).
fn summary(list: &[(i32, u64)]) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if list.len() > 1 {
        for (tid, n) in list {
            out.push(format!("icount thread {tid}: {n} guest instructions"));
        }
    }
    let total: u64 = list
        .iter()
        .map(|(_, n)| n)
        .fold(0, |a, n| a.wrapping_add(*n));
    let k = list.len();
    out.push(format!(
        "icount: {total} guest instructions ({k} thread{})",
        if k == 1 { "" } else { "s" }
    ));
    out
}

/// The process ends: log the per-process total (once) on the `icount` target.
pub fn log_total() {
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let list: Vec<(i32, u64)> = threads()
        .iter()
        .map(|(t, c)| (*t, c.load(Ordering::Relaxed)))
        .collect();
    for line in summary(&list) {
        tracing::info!(target: "icount", "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_sums_every_thread_and_details_only_when_several() {
        assert!(summary(&[]).is_empty());
        assert_eq!(
            summary(&[(7, 5)]),
            ["icount: 5 guest instructions (1 thread)"]
        );
        assert_eq!(
            summary(&[(7, 5), (8, 10)]),
            [
                "icount thread 7: 5 guest instructions",
                "icount thread 8: 10 guest instructions",
                "icount: 15 guest instructions (2 threads)",
            ]
        );
    }
}
