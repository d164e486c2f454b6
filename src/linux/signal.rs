//! Guest signals: the guest's sigactions, pending queues, the host signal handlers that queue
//! host signals for the guest (and wake guest threads through `CpuHeader::exit_request`),
//! the JIT fault handler hook, default actions (heron dies by the guest's signal so the
//! exit status matches), and the generic `siginfo` layout (identical on riscv64 and x86-64).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};

pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGSEGV: i32 = 11;
pub const SIGPIPE: i32 = 13;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGWINCH: i32 = 28;
pub const NSIG: usize = 64;

pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;

// si_code values.
pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;
pub const ILL_ILLOPC: i32 = 1;
pub const TRAP_BRKPT: i32 = 1;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const BUS_ADRALN: i32 = 1;

pub fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}
/// Signals that can never be blocked.
pub const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// A guest `struct sigaction`: handler, flags, (aarch64 only: sa_restorer), mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestSigAction {
    pub handler: u64,
    pub flags: u64,
    pub mask: u64,
    /// sa_restorer (used with SA_RESTORER on architectures that have the field).
    pub restorer: u64,
}

/// A raw 128-byte siginfo in the generic (riscv64 = x86-64) layout.
pub type SigInfo = [u8; 128];

pub fn siginfo_signo(i: &SigInfo) -> i32 {
    i32::from_le_bytes([i[0], i[1], i[2], i[3]])
}

/// siginfo for a signal sent by a process (kill/tkill): si_pid, si_uid.
pub fn info_kill(sig: i32, code: i32, pid: i32, uid: u32) -> SigInfo {
    let mut i = [0u8; 128];
    i[0..4].copy_from_slice(&sig.to_le_bytes());
    i[8..12].copy_from_slice(&code.to_le_bytes());
    i[16..20].copy_from_slice(&pid.to_le_bytes());
    i[20..24].copy_from_slice(&uid.to_le_bytes());
    i
}

/// siginfo for a synchronous fault: si_addr.
pub fn info_fault(sig: i32, code: i32, addr: u64) -> SigInfo {
    let mut i = [0u8; 128];
    i[0..4].copy_from_slice(&sig.to_le_bytes());
    i[8..12].copy_from_slice(&code.to_le_bytes());
    i[16..24].copy_from_slice(&addr.to_le_bytes());
    i
}

/// What the default action of a signal is.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum DefaultAction {
    Terminate,
    Ignore,
    Stop,
}

pub fn default_action(sig: i32) -> DefaultAction {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH | SIGCONT => DefaultAction::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

/// Everything the arch code needs to build a signal frame.
pub struct FrameInput {
    pub sig: i32,
    pub handler: u64,
    pub restorer: u64,
    pub sp: u64,
    pub info: SigInfo,
    pub old_mask: u64,
    pub altstack: super::AltStack,
}

/// Process-wide signal state.
pub struct ProcSignals {
    pub actions: Mutex<[GuestSigAction; NSIG + 1]>,
    /// Process-directed pending signals.
    pub pending: Mutex<Vec<SigInfo>>,
}

impl ProcSignals {
    pub fn new() -> ProcSignals {
        ProcSignals {
            actions: Mutex::new([GuestSigAction::default(); NSIG + 1]),
            pending: Mutex::new(Vec::new()),
        }
    }
    pub fn action(&self, sig: i32) -> GuestSigAction {
        self.actions.lock().unwrap_or_else(|p| p.into_inner())[sig as usize]
    }
}

impl Default for ProcSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// Queue a siginfo unless a standard signal of that number is already queued.
pub fn enqueue(q: &mut Vec<SigInfo>, info: SigInfo) {
    let sig = siginfo_signo(&info);
    if sig < 32 && q.iter().any(|i| siginfo_signo(i) == sig) {
        return;
    }
    q.push(info);
}

// ---- host side ------------------------------------------------------------------------

/// Host signals caught for the guest and not yet moved into a queue (bit sig-1).
static HOST_PENDING: AtomicU64 = AtomicU64::new(0);
/// The host siginfo of the last instance of each caught signal.
static HOST_INFO: [[AtomicU64; 16]; NSIG + 1] =
    [const { [const { AtomicU64::new(0) }; 16] }; NSIG + 1];
const MAX_THREADS: usize = 1024;
/// exit_request words of all live guest threads, so a host signal can stop them all.
static THREAD_REQS: [AtomicPtr<AtomicU32>; MAX_THREADS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_THREADS];

/// Host tids of the registered threads (same slots as THREAD_REQS).
static THREAD_TIDS: [AtomicI32; MAX_THREADS] = [const { AtomicI32::new(0) }; MAX_THREADS];

/// Register a guest thread's exit_request word and host tid; returns its slot (or None if
/// full).
pub fn register_thread(req: &AtomicU32, tid: i32) -> Option<usize> {
    let p = req as *const AtomicU32 as *mut AtomicU32;
    for (i, s) in THREAD_REQS.iter().enumerate() {
        if s.compare_exchange(std::ptr::null_mut(), p, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            THREAD_TIDS[i].store(tid, Ordering::SeqCst);
            return Some(i);
        }
    }
    None
}

pub fn unregister_thread(slot: usize) {
    THREAD_TIDS[slot].store(0, Ordering::SeqCst);
    THREAD_REQS[slot].store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// In the child of a fork only the forking thread (exit_request word `keep`) exists, under
/// a new tid: forget the other threads and record the new tid.
pub fn reset_after_fork(keep: &AtomicU32, new_tid: i32) {
    let keep = keep as *const AtomicU32 as *mut AtomicU32;
    for (r, t) in THREAD_REQS.iter().zip(THREAD_TIDS.iter()) {
        if r.load(Ordering::SeqCst) == keep {
            t.store(new_tid, Ordering::SeqCst);
        } else {
            t.store(0, Ordering::SeqCst);
            r.store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}

/// Interrupt the blocking host syscalls of every other guest thread (async-signal-safe), so
/// that one which does not block a newly queued process signal picks it up.
pub fn wake_other_threads() {
    // SAFETY: plain syscalls without pointers.
    let (me, pid) = unsafe { (libc::gettid(), libc::getpid()) };
    for t in THREAD_TIDS.iter() {
        let tid = t.load(Ordering::SeqCst);
        if tid != 0 && tid != me {
            // SAFETY: signalling one of our own threads with a signal we handle.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, WAKE_SIG) };
        }
    }
}

/// Ask every guest thread to leave generated code (async-signal-safe).
pub fn kick_all_threads() {
    for s in THREAD_REQS.iter() {
        let p = s.load(Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: registered pointers stay valid forever (thread CPU states are never
            // freed while registered, and are leaked after unregistering).
            unsafe { (*p).store(1, Ordering::SeqCst) };
        }
    }
}

extern "C" fn host_queue_handler(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _u: *mut libc::c_void,
) {
    if sig <= 0 || sig as usize > NSIG {
        return;
    }
    if !info.is_null() {
        // SAFETY: the kernel passes a valid 128-byte siginfo.
        let words = unsafe { std::slice::from_raw_parts(info as *const u64, 16) };
        for (d, w) in HOST_INFO[sig as usize].iter().zip(words) {
            d.store(*w, Ordering::Relaxed);
        }
    }
    HOST_PENDING.fetch_or(bit(sig), Ordering::SeqCst);
    kick_all_threads();
    wake_other_threads();
}

extern "C" fn host_fault_handler(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    uctx: *mut libc::c_void,
) {
    // SAFETY: forwarding the kernel's arguments unchanged, as engine-api.md specifies.
    let handled = unsafe { heron_backend::jit::handle_host_fault(sig, info, uctx) };
    if handled {
        return;
    }
    // A real heron bug: restore the default action; the fault re-triggers and kills us.
    // SAFETY: resetting a handler with a zeroed sigaction (SIG_DFL).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Move host-caught signals into the process queue.
pub fn drain_host_pending(proc_pending: &Mutex<Vec<SigInfo>>) {
    let bits = HOST_PENDING.swap(0, Ordering::SeqCst);
    if bits == 0 {
        return;
    }
    let mut q = proc_pending.lock().unwrap_or_else(|p| p.into_inner());
    for sig in 1..=NSIG as i32 {
        if bits & bit(sig) != 0 {
            let mut info = [0u8; 128];
            for (i, w) in HOST_INFO[sig as usize].iter().enumerate() {
                info[i * 8..i * 8 + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            info[0..4].copy_from_slice(&sig.to_le_bytes());
            enqueue(&mut q, info);
        }
    }
}

/// Host signal heron sends to one of its own threads to interrupt a blocking host syscall
/// after queueing a guest signal for it (SIGRTMAX; the guest can still use its own signal
/// 64 between its threads, but not receive it from other processes).
pub const WAKE_SIG: i32 = 64;

/// True for signals heron must not catch for the guest (unblockable, used by the JIT,
/// reserved by the host C library, or heron's wake-up signal).
fn host_reserved(sig: i32) -> bool {
    matches!(
        sig,
        SIGKILL | SIGSTOP | SIGSEGV | SIGBUS | 32 | 33 | WAKE_SIG
    )
}

extern "C" fn host_wake_handler(_sig: libc::c_int) {
    // Nothing to do: being interrupted (EINTR) is the point.
}

/// Interrupt a blocking host syscall of our thread `tid` (which has just been kicked).
pub fn wake_thread(tid: i32) {
    // SAFETY: signalling one of our own threads with a signal we handle.
    unsafe {
        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, WAKE_SIG);
    }
}

/// Install the host handler of `sig` according to the guest disposition: SIG_IGN is
/// mirrored (so it is inherited across exec and never interrupts syscalls), anything else
/// is caught and queued.
pub fn set_host_disposition(sig: i32, ignore: bool) {
    if host_reserved(sig) {
        return;
    }
    // SAFETY: installing a handler for a valid signal number with a zeroed sigaction.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        if ignore {
            sa.sa_sigaction = libc::SIG_IGN;
        } else {
            sa.sa_sigaction = host_queue_handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
        }
        libc::sigfillset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Install the host handlers at start-up: the JIT fault handlers and the queueing handler
/// for every signal whose host disposition is not already SIG_IGN (inherited ignores stay,
/// as for any program).
pub fn install_host_handlers() {
    for sig in 1..=NSIG as i32 {
        if host_reserved(sig) {
            continue;
        }
        // SAFETY: querying the current disposition.
        let ignored = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        };
        // Rust's runtime sets SIGPIPE to SIG_IGN itself; the guest starts with SIG_DFL.
        if !ignored || sig == SIGPIPE {
            set_host_disposition(sig, false);
        }
    }
    // SAFETY: installing a handler that does nothing, without SA_RESTART.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = host_wake_handler as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(WAKE_SIG, &sa, std::ptr::null_mut());
    }
    for sig in [SIGSEGV, SIGBUS] {
        // SAFETY: installing the fault handler with SA_ONSTACK (each thread has an altstack).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = host_fault_handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Guest dispositions at start: inherited host SIG_IGN stays ignored for the guest.
pub fn initial_actions(actions: &mut [GuestSigAction; NSIG + 1]) {
    for (sig, a) in actions.iter_mut().enumerate().skip(1) {
        if host_reserved(sig as i32) {
            continue;
        }
        // SAFETY: querying the current disposition.
        let ignored = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig as i32, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        };
        if ignored && sig as i32 != SIGPIPE {
            a.handler = SIG_IGN;
        }
    }
}

/// A per-thread alternate stack for the host fault handler.
pub fn install_host_altstack() {
    const SIZE: usize = 64 << 10;
    let mem = Box::leak(vec![0u8; SIZE].into_boxed_slice());
    let ss = libc::stack_t {
        ss_sp: mem.as_mut_ptr() as *mut libc::c_void,
        ss_flags: 0,
        ss_size: SIZE,
    };
    // SAFETY: the stack memory is leaked, so it lives as long as the thread.
    unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) };
}

/// End heron by `sig` with the host default action, so the parent sees the same status as
/// for a native program (core dumps are suppressed: they would hold heron, not the guest).
pub fn die_by_signal(sig: i32) -> ! {
    super::icount::log_total();
    crate::gdb::report_exit(0, Some(sig));
    crate::flush_logs();
    // SAFETY: plain libc calls with valid arguments on our own process.
    unsafe {
        let rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &rl);
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
        // Give a process-directed signal time to arrive.
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        libc::nanosleep(&ts, std::ptr::null_mut());
        libc::_exit(128 + sig);
    }
}

/// Block every host signal in this thread; returns the previous mask.
pub fn block_all_host() -> libc::sigset_t {
    // SAFETY: valid sigset pointers.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigdelset(&mut all, SIGSEGV);
        libc::sigdelset(&mut all, SIGBUS);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    }
}

pub fn restore_host_mask(old: &libc::sigset_t) {
    // SAFETY: valid sigset pointer.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// With host signals blocked (see [`block_all_host`]), wait until any host signal arrives or
/// `timeout` passes. Returns false on timeout.
pub fn wait_host_signal(timeout: Option<libc::timespec>) -> bool {
    // SAFETY: ppoll with no fds and an empty mask, which atomically unblocks all signals.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        let t = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        let r = libc::ppoll(std::ptr::null_mut(), 0, t, &empty);
        r != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siginfo_layout() {
        let i = info_fault(SIGSEGV, SEGV_ACCERR, 0x1234_5678_9abc);
        assert_eq!(siginfo_signo(&i), 11);
        assert_eq!(i32::from_le_bytes(i[8..12].try_into().unwrap()), 2);
        assert_eq!(
            u64::from_le_bytes(i[16..24].try_into().unwrap()),
            0x1234_5678_9abc
        );
        // Host (x86-64) siginfo has the same layout: check via libc's accessors.
        let mut host: libc::siginfo_t = unsafe { std::mem::zeroed() };
        assert_eq!(std::mem::size_of_val(&host), 128);
        // SAFETY: copying 128 bytes into a 128-byte siginfo_t.
        unsafe {
            std::ptr::copy_nonoverlapping(i.as_ptr(), &mut host as *mut _ as *mut u8, 128);
            assert_eq!(host.si_addr() as u64, 0x1234_5678_9abc);
        }
        assert_eq!(host.si_signo, 11);
        assert_eq!(host.si_code, 2);
        let k = info_kill(SIGUSR1_FOR_TEST, SI_TKILL, 77, 1000);
        // SAFETY: as above.
        unsafe {
            std::ptr::copy_nonoverlapping(k.as_ptr(), &mut host as *mut _ as *mut u8, 128);
            assert_eq!(host.si_pid(), 77);
            assert_eq!(host.si_uid(), 1000);
        }
    }
    const SIGUSR1_FOR_TEST: i32 = 10;

    #[test]
    fn queueing_and_defaults() {
        let mut q = Vec::new();
        enqueue(&mut q, info_kill(10, 0, 1, 0));
        enqueue(&mut q, info_kill(10, 0, 2, 0));
        enqueue(&mut q, info_kill(40, 0, 1, 0));
        enqueue(&mut q, info_kill(40, 0, 1, 0));
        assert_eq!(q.len(), 3);
        assert_eq!(default_action(SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(SIGTSTP), DefaultAction::Stop);
        assert_eq!(default_action(SIGSEGV), DefaultAction::Terminate);
        assert_eq!(bit(1), 1);
        assert_eq!(UNBLOCKABLE, 1 << 8 | 1 << 18);
    }
}
