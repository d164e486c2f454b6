//! Linux user mode: runs one guest program as a host process. Owns the process-wide state
//! ([`Process`]: guest memory, address-space layout, signal actions, thread registry) and the
//! start-up sequence (load ELF + interpreter, build the stack, start the main thread).
//! Architecture-specific parts (register conventions, signal frames) sit behind
//! [`GuestCpu`]; the syscall table is shared by every Linux ABI that uses the generic one.

pub mod abi;
pub mod abi_aarch64;
pub mod abi_riscv64;
pub mod fs;
pub mod icount;
pub mod loader;
pub mod mm;
pub mod process;
pub mod signal;
pub mod stack;
pub mod syscall;
pub mod thread;

use crate::cli::RunConfig;
use heron_backend::engine::{EngineConfig, Tier};
use heron_backend::mem::{PERM_R, PERM_W, PERM_X};
use heron_backend::{CpuHeader, ExitStatus, FaultKind, Guest, GuestMemory};
use mm::{Mm, PAGE, VmaKind};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

/// Size of the guest address space: Sv39-like user space (256 GiB).
pub const GUEST_LIMIT: u64 = 1 << 38;
/// Lowest address the mmap allocator hands out (like vm.mmap_min_addr).
pub const MMAP_MIN: u64 = 0x10000;
/// The page that holds the signal-return trampoline (like the vDSO), just below the top.
pub const SIGTRAMP_PAGE: u64 = GUEST_LIMIT - 2 * PAGE;

/// What the guest CPU stopped for, decoded by the architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuEvent {
    Syscall,
    IllegalInsn,
    Breakpoint,
    Fault { addr: u64, kind: FaultKind },
    Interrupted,
    Halt,
}

/// Saved signal-delivery context the generic code passes to the arch frame builder.
#[derive(Debug, Clone, Copy, Default)]
pub struct AltStack {
    pub sp: u64,
    pub flags: u32,
    pub size: u64,
}

/// The architecture-specific view of a guest thread's CPU state.
pub trait GuestCpu: Send {
    fn env_ptr(&mut self) -> *mut u8;
    fn header(&self) -> &CpuHeader;
    fn pc(&self) -> u64;
    fn set_pc(&mut self, pc: u64);
    fn sp(&self) -> u64;
    fn set_sp(&mut self, sp: u64);
    fn set_tls(&mut self, tls: u64);
    /// Decode an engine exit status into an event.
    fn event(&self, status: ExitStatus) -> CpuEvent;
    /// Size in bytes of the instruction that made the syscall.
    fn syscall_insn_len(&self) -> u64;
    fn syscall_nr(&self) -> u64;
    fn syscall_args(&self) -> [u64; 6];
    fn set_syscall_ret(&mut self, v: u64);
    /// A copy for a new thread (exit request and reservation cleared).
    fn clone_cpu(&self) -> Box<dyn GuestCpu>;
    /// Build a signal frame on the guest stack at or below `sp` and point the CPU at
    /// `handler`. Returns false if the frame cannot be written.
    fn setup_signal_frame(&mut self, mem: &GuestMemory, f: &signal::FrameInput) -> bool;
    /// Restore state from the frame at sp (rt_sigreturn). Returns (mask, altstack) or None.
    fn restore_signal_frame(&mut self, mem: &GuestMemory) -> Option<(u64, AltStack)>;
}

/// Process-wide state shared by all guest threads.
pub struct Process {
    pub mem: Arc<GuestMemory>,
    pub mm: Mutex<Mm>,
    pub cfg: RunConfig,
    /// Absolute host path of the guest program (/proc/self/exe).
    pub exe_path: PathBuf,
    pub guest: Arc<dyn Guest>,
    pub engine_cfg: EngineConfig,
    pub sig: signal::ProcSignals,
    pub threads: Mutex<HashMap<i32, Arc<thread::ThreadShared>>>,
    pub live_threads: AtomicUsize,
    pub unknown_logged: Mutex<HashSet<u64>>,
    pub sigtramp: u64,
    /// The guest architecture (ABI layer).
    pub arch: abi::Arch,
    /// The gdb stub's control block (`-g PORT`).
    pub gdb: Option<Arc<crate::gdb::Control>>,
}

fn engine_config(cfg: &RunConfig) -> EngineConfig {
    let mut e = EngineConfig {
        tier: match cfg.tier {
            Tier::Interp => Tier::Interp,
            Tier::Jit => Tier::Jit,
            Tier::Auto => Tier::Auto,
        },
        trace: cfg.trace.clone(),
        ..EngineConfig::default()
    };
    if let Some(t) = cfg.jit_threshold {
        e.jit_threshold = t;
    }
    e
}

/// Resolve an absolute guest path against the sysroot prefix: `prefix/path` when that
/// exists, else the path itself.
pub fn prefixed_path(prefix: Option<&Path>, path: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let p = Path::new(std::ffi::OsStr::from_bytes(path));
    if let Some(pre) = prefix
        && p.is_absolute()
    {
        let cand = pre.join(p.strip_prefix("/").unwrap_or(p));
        if std::fs::symlink_metadata(&cand).is_ok() {
            return cand;
        }
    }
    p.to_path_buf()
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        let msg = match e.kind() {
            std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
            _ => match e.raw_os_error() {
                Some(libc::EISDIR) => "Is a directory".to_string(),
                _ => e.to_string(),
            },
        };
        format!("{}: {msg}", path.display())
    })
}

/// Start the guest program described by `cfg`; returns only on a start-up error (the
/// guest's exit ends the process). The error is the full `heron: ...` line.
pub fn run(cfg: RunConfig) -> Result<std::convert::Infallible, String> {
    let prog = &cfg.program;
    let bytes = read_file(prog).map_err(|m| format!("heron: {m}"))?;
    let arch = match loader::classify(&bytes) {
        loader::FileKind::Elf(arch) => arch,
        loader::FileKind::Script { .. } => {
            return Err(format!(
                "heron: {}: is a script; run its interpreter under heron instead",
                prog.display()
            ));
        }
        loader::FileKind::Other(why) => return Err(format!("heron: {}: {why}", prog.display())),
    };
    let mem = GuestMemory::reserve(GUEST_LIMIT)
        .map_err(|e| format!("heron: cannot reserve guest address space: {e}"))?;
    let stack_top = SIGTRAMP_PAGE - PAGE; // one guard page between stack and trampoline
    let stack_lo = stack_top - cfg.stack_size;
    let mut mm = Mm::new(MMAP_MIN, stack_lo - (1 << 20));

    let main = loader::load(&mem, &mut mm, &bytes, Some(loader::PIE_BASE))
        .map_err(|m| format!("heron: {}: {m}", prog.display()))?;
    let exe_path = std::fs::canonicalize(prog).unwrap_or_else(|_| prog.clone());
    for &(s, e, off) in &main.segments {
        mm.set_name(s, e, off, exe_path.to_string_lossy().into_owned());
    }
    let mut entry = main.entry;
    let mut base = 0;
    if let Some(interp) = &main.interp {
        let ipath = prefixed_path(cfg.ld_prefix.as_deref(), interp.as_bytes());
        let ibytes = read_file(&ipath).map_err(|m| {
            let hint = if cfg.ld_prefix.is_none() {
                " (use -L to give the guest's sysroot)"
            } else {
                ""
            };
            format!(
                "heron: {}: cannot load interpreter {m}{hint}",
                prog.display()
            )
        })?;
        if loader::classify(&ibytes) != loader::FileKind::Elf(arch) {
            return Err(format!(
                "heron: {}: interpreter {}: not a {} ELF",
                prog.display(),
                ipath.display(),
                arch.uname_machine()
            ));
        }
        let img = loader::load(&mem, &mut mm, &ibytes, None)
            .map_err(|m| format!("heron: {}: {m}", ipath.display()))?;
        entry = img.entry;
        base = img.bias;
        let iname = std::fs::canonicalize(&ipath).unwrap_or(ipath);
        for &(s, e, off) in &img.segments {
            mm.set_name(s, e, off, iname.to_string_lossy().into_owned());
        }
    }
    mm.brk_start = main.end;
    mm.brk_cur = main.end;

    // Stack.
    mem.map_anon(stack_lo, cfg.stack_size, PERM_R | PERM_W)
        .map_err(|e| format!("heron: cannot map the guest stack: {e}"))?;
    mm.insert(stack_lo, stack_top, PERM_R | PERM_W, VmaKind::Anon);
    mm.stack = (stack_lo, stack_top);
    mm.vdso = SIGTRAMP_PAGE;
    // Signal trampoline page (rt_sigreturn: `li a7, 139; ecall` / `mov x8, #139; svc #0`).
    mem.map_anon(SIGTRAMP_PAGE, PAGE, PERM_R | PERM_W)
        .map_err(|e| format!("heron: cannot map the signal trampoline: {e}"))?;
    let tramp = arch.sigreturn_code();
    mem.write_bytes(SIGTRAMP_PAGE, &tramp)
        .map_err(|_| "heron: cannot write the signal trampoline".to_string())?;
    mem.protect(SIGTRAMP_PAGE, PAGE, PERM_R | PERM_X)
        .map_err(|e| format!("heron: {e}"))?;
    mm.insert(
        SIGTRAMP_PAGE,
        SIGTRAMP_PAGE + PAGE,
        PERM_R | PERM_X,
        VmaKind::Anon,
    );

    // SAFETY: plain getters without arguments.
    let (uid, euid, gid, egid) = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    let aux = stack::AuxInfo {
        phdr: main.phdr,
        phent: main.phent,
        phnum: main.phnum,
        base,
        entry: main.entry,
        hwcap: arch.hwcap(),
        hwcap2: arch.hwcap2(),
        platform: arch.platform(),
        minsigstksz: arch.aux_minsigstksz(),
        uid: uid as u64,
        euid: euid as u64,
        gid: gid as u64,
        egid: egid as u64,
    };
    let mut random = [0u8; 16];
    fill_random(&mut random);
    use std::os::unix::ffi::OsStrExt;
    let execfn = prog.as_os_str().as_bytes().to_vec();
    let st = stack::build(stack_top, &cfg.argv, &cfg.envp, &execfn, &aux, random);
    if st.sp < stack_lo + 4096 {
        return Err("heron: arguments and environment do not fit in the guest stack".into());
    }
    mem.write_bytes(st.sp, &st.bytes)
        .map_err(|_| "heron: cannot write the initial stack".to_string())?;

    let guest: Arc<dyn Guest> = arch.guest();
    let sig = signal::ProcSignals::new();
    signal::initial_actions(&mut sig.actions.lock().unwrap_or_else(|p| p.into_inner()));
    signal::install_host_handlers();
    let engine_cfg = engine_config(&cfg);
    let mem = Arc::new(mem);
    let gdb = match &cfg.gdb {
        Some(port) => {
            let conn = crate::gdb::listen(port)?;
            let ctl = crate::gdb::Control::new();
            match arch {
                abi::Arch::Riscv64 => crate::gdb::start_user_stub::<crate::gdb::riscv64::RiscvGdb>(
                    conn,
                    ctl.clone(),
                    mem.clone(),
                ),
                abi::Arch::Aarch64 => crate::gdb::start_user_stub::<crate::gdb::aarch64::A64Gdb>(
                    conn,
                    ctl.clone(),
                    mem.clone(),
                ),
            }
            Some(ctl)
        }
        None => None,
    };
    let proc_ = Arc::new(Process {
        mem,
        gdb,
        mm: Mutex::new(mm),
        exe_path,
        guest,
        engine_cfg,
        sig,
        threads: Mutex::new(HashMap::new()),
        live_threads: AtomicUsize::new(1),
        unknown_logged: Mutex::new(HashSet::new()),
        sigtramp: SIGTRAMP_PAGE,
        arch,
        cfg,
    });
    let cpu = arch.initial_cpu(entry, st.sp);
    thread::run_main_thread(proc_, cpu)
}

/// Fill `buf` with random bytes from the host kernel.
pub fn fill_random(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most buf.len()-done bytes into our own buffer.
        let r = unsafe {
            libc::getrandom(
                buf[done..].as_mut_ptr() as *mut libc::c_void,
                buf.len() - done,
                0,
            )
        };
        if r <= 0 {
            break;
        }
        done += r as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysroot_prefix_lookup() {
        let d = std::env::temp_dir().join(format!("heron-prefix-{}", std::process::id()));
        std::fs::create_dir_all(d.join("lib")).unwrap();
        std::fs::write(d.join("lib/libx.so"), b"x").unwrap();
        // Found under the prefix.
        assert_eq!(
            prefixed_path(Some(&d), b"/lib/libx.so"),
            d.join("lib/libx.so")
        );
        // Not under the prefix: the host path.
        assert_eq!(
            prefixed_path(Some(&d), b"/etc/passwd"),
            PathBuf::from("/etc/passwd")
        );
        // Relative paths and no prefix are left alone.
        assert_eq!(
            prefixed_path(Some(&d), b"lib/libx.so"),
            PathBuf::from("lib/libx.so")
        );
        assert_eq!(
            prefixed_path(None, b"/lib/libx.so"),
            PathBuf::from("/lib/libx.so")
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
