//! `-perfmap` support: a Linux perf map (`/tmp/perf-<pid>.map`) naming every block of JIT
//! code as it is installed, so `perf report` shows `heron:<tier>:<guest pc>` instead of
//! anonymous memory. One line per block: `START SIZE NAME` (hex start, hex size), the format
//! perf reads for JIT code. Process-wide: off until [`enable`], then every [`crate::jit::Jit`]
//! of the process (all vCPUs, all compile threads) appends to the same file. A forked child
//! (user mode: guest `fork`) starts its own map on its first record, beginning with a copy of
//! the parent's lines (the inherited code is still mapped at the same addresses).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
/// The open map and the pid it belongs to.
static FILE: Mutex<Option<(u32, PathBuf, File)>> = Mutex::new(None);

/// The perf map path of this process.
pub fn path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Create (truncate) this process's perf map and record every block installed from now on.
/// Returns the file's path. Calling it again keeps the open file.
pub fn enable() -> std::io::Result<PathBuf> {
    let p = path();
    let mut g = FILE.lock().unwrap_or_else(|e| e.into_inner());
    if g.as_ref()
        .is_none_or(|(pid, _, _)| *pid != std::process::id())
    {
        *g = Some((std::process::id(), p.clone(), File::create(&p)?));
    }
    ENABLED.store(true, Ordering::Release);
    Ok(p)
}

/// Whether [`enable`] was called.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// One perf map line: `START SIZE heron:TIER:PC` (hex, no prefixes on the numbers, as perf
/// expects).
pub fn line(start: usize, size: usize, tier: &str, pc: u64) -> String {
    format!("{start:x} {size:x} heron:{tier}:{pc:x}\n")
}

/// Record code at host `start`, `size` bytes, compiled by `tier` for guest `pc`. A no-op
/// unless enabled; write errors are ignored (the map is a debugging aid, never worth
/// stopping the guest for).
pub fn record(start: usize, size: usize, tier: &str, pc: u64) {
    if !enabled() || size == 0 {
        return;
    }
    let l = line(start, size, tier, pc);
    let mut g = FILE.lock().unwrap_or_else(|e| e.into_inner());
    let me = std::process::id();
    if let Some((pid, parent, _)) = g.as_ref()
        && *pid != me
    {
        // A forked child: its own map, starting with what it inherited.
        let old = std::fs::read(parent).unwrap_or_default();
        let p = path();
        match File::create(&p) {
            Ok(mut f) => {
                let _ = f.write_all(&old);
                *g = Some((me, p, f));
            }
            Err(_) => *g = None,
        }
    }
    if let Some((_, _, f)) = g.as_mut() {
        let _ = f.write_all(l.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_is_perfs() {
        assert_eq!(
            line(0x7f00_1000, 0x40, "jit", 0x8020_0000),
            "7f001000 40 heron:jit:80200000\n"
        );
    }
}
