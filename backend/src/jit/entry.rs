//! Entering JIT code and recovering from host faults inside it. A small x86-64 `global_asm!`
//! wrapper saves the callee-saved registers on the stack and the stack pointer in a
//! thread-local entry record, then calls the Cranelift entry trampoline. When guest code
//! touches an unmapped or protected guest page, the host raises SIGSEGV/SIGBUS; the user-mode
//! signal handler calls [`handle_host_fault`], which finds the guest instruction from the
//! faulting host address, fills the CPU header, and redirects the signal context to the
//! wrapper's epilogue with status Fault. Nothing here allocates or locks.

use super::FaultMap;
use crate::header_offsets as ho;
use crate::{ExitStatus, FaultKind};
use std::cell::UnsafeCell;

std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl heron_jit_enter",
    ".hidden heron_jit_enter",
    ".type heron_jit_enter,@function",
    // heron_jit_enter(env: rdi, entry: rsi, trampoline: rdx, record: rcx) -> eax
    "heron_jit_enter:",
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    // record.rsp = stack pointer to restore after a fault (16-byte aligned here).
    "mov qword ptr [rcx], rsp",
    // trampoline(env, entry): rdi and rsi are already in place.
    "call rdx",
    ".globl heron_jit_resume",
    ".hidden heron_jit_resume",
    "heron_jit_resume:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size heron_jit_enter, .-heron_jit_enter",
    "",
    // heron_jit_abort(rsp: rdi, status: esi) -> !: leave the JIT code running on this
    // thread, frames and all, as if the trampoline had returned `status`.
    ".p2align 4",
    ".globl heron_jit_abort",
    ".hidden heron_jit_abort",
    ".type heron_jit_abort,@function",
    "heron_jit_abort:",
    "mov rsp, rdi",
    "mov eax, esi",
    "jmp heron_jit_resume",
    ".size heron_jit_abort, .-heron_jit_abort",
);

unsafe extern "C" {
    fn heron_jit_enter(env: *mut u8, entry: *const u8, tramp: *const u8, rec: *mut usize) -> u32;
    fn heron_jit_resume();
    fn heron_jit_abort(rsp: usize, status: u32) -> !;
}

/// What the fault handler needs to know about the JIT code running on this thread.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct EntryRecord {
    /// Stack pointer saved by `heron_jit_enter` (must stay the first field).
    rsp: usize,
    pub code_start: usize,
    pub code_end: usize,
    /// Null when no JIT code runs on this thread.
    pub map: *const FaultMap,
    pub env: *mut u8,
    pub guest_base: usize,
    pub guest_limit: u64,
}

impl EntryRecord {
    const EMPTY: EntryRecord = EntryRecord {
        rsp: 0,
        code_start: 0,
        code_end: 0,
        map: std::ptr::null(),
        env: std::ptr::null_mut(),
        guest_base: 0,
        guest_limit: 0,
    };

    pub(crate) fn new(
        code_start: usize,
        code_end: usize,
        map: *const FaultMap,
        env: *mut u8,
        guest_base: usize,
        guest_limit: u64,
    ) -> EntryRecord {
        EntryRecord {
            rsp: 0,
            code_start,
            code_end,
            map,
            env,
            guest_base,
            guest_limit,
        }
    }
}

thread_local! {
    // Const-initialised and without destructor: reading it is a plain TLS access, which is
    // async-signal-safe.
    static RECORD: UnsafeCell<EntryRecord> = const { UnsafeCell::new(EntryRecord::EMPTY) };
}

/// Run `entry` through the trampoline with `rec` published for the fault handler.
///
/// # Safety
/// `tramp` is the Jit's entry trampoline, `entry` a block entry of the same Jit, `env` a
/// valid CPU state, and `rec.map` stays valid for the whole call.
pub(crate) unsafe fn enter(
    rec: EntryRecord,
    tramp: *const u8,
    env: *mut u8,
    entry: *const u8,
) -> u32 {
    let cell = RECORD.with(|r| r.get());
    // SAFETY: `cell` is this thread's record; only this thread (and its signal handler,
    // which runs on this thread and only reads it) touches it. Nested entries (a helper
    // re-entering JIT code) save and restore the outer record.
    unsafe {
        let saved = *cell;
        *cell = rec;
        let r = heron_jit_enter(env, entry, tramp, cell as *mut usize);
        *cell = saved;
        r
    }
}

/// Leave the JIT code running on this thread at once: [`super::Jit::enter`] returns
/// `status`. For the softmmu's slow paths, which report a guest fault this way instead of
/// returning into the block (so blocks need no status check after each slow access).
///
/// # Safety
/// Called on a thread inside [`enter`] (JIT code called the caller, directly or through a
/// thunk), with nothing on the stack between here and the JIT code that needs dropping:
/// the frames in between are discarded without running anything. The CPU header must
/// already say what the status means (pc and fault fields).
pub(crate) unsafe fn abort_to_entry(status: ExitStatus) -> ! {
    let cell = RECORD.with(|r| r.get());
    // SAFETY: this thread's record, written by `enter` before it called the JIT code that
    // (per the contract) is below us on the stack; `heron_jit_abort` restores that stack
    // pointer and returns through `heron_jit_enter`'s epilogue.
    unsafe {
        let rsp = (*cell).rsp;
        assert!(rsp != 0, "abort_to_entry outside JIT code");
        heron_jit_abort(rsp, status as u32)
    }
}

/// Called by the user-mode SIGSEGV/SIGBUS handler. If the fault happened in JIT code of the
/// Jit currently entered on this thread, while accessing guest memory, records a guest
/// memory fault (pc of the faulting guest instruction, guest address, Read/Write from the
/// page-fault error code) in the CPU header and redirects the context so that
/// [`super::Jit::enter`] returns [`ExitStatus::Fault`]; returns true. Returns false for any
/// other fault (a bug in heron), leaving the context untouched.
///
/// # Safety
/// Must be called from a signal handler installed with `SA_SIGINFO`, with the handler's own
/// `info` and `uctx` arguments.
pub unsafe fn handle_host_fault(
    signo: i32,
    info: *const libc::siginfo_t,
    uctx: *mut libc::c_void,
) -> bool {
    if signo != libc::SIGSEGV && signo != libc::SIGBUS || info.is_null() || uctx.is_null() {
        return false;
    }
    let cell = RECORD.with(|r| r.get());
    // SAFETY: the record belongs to this thread and is not being modified (we interrupted
    // JIT code, not `enter`'s bookkeeping: the RIP check below proves it). `map` and `env`
    // were valid when entering and stay valid until `enter` returns. `uctx` is the kernel's
    // ucontext_t for this signal on x86-64 Linux.
    unsafe {
        let rec = *cell;
        if rec.map.is_null() {
            return false;
        }
        let uc = &mut *(uctx as *mut libc::ucontext_t);
        let gregs = &mut uc.uc_mcontext.gregs;
        let rip = gregs[libc::REG_RIP as usize] as usize;
        if rip < rec.code_start || rip >= rec.code_end {
            return false;
        }
        let host_addr = (*info).si_addr() as usize;
        let addr = host_addr.wrapping_sub(rec.guest_base) as u64;
        if host_addr < rec.guest_base || addr >= rec.guest_limit.saturating_add(16) {
            return false;
        }
        let Some(pc) = (*rec.map).lookup(rip - rec.code_start) else {
            return false;
        };
        let kind = if gregs[libc::REG_ERR as usize] & 2 != 0 {
            FaultKind::Write
        } else {
            FaultKind::Read
        };
        let env = rec.env;
        (env.add(ho::PC as usize) as *mut u64).write(pc);
        (env.add(ho::FAULT_ADDR as usize) as *mut u64).write(addr);
        (env.add(ho::FAULT_KIND as usize) as *mut u32).write(kind as u32);
        gregs[libc::REG_RSP as usize] = rec.rsp as i64;
        gregs[libc::REG_RIP as usize] = heron_jit_resume as *const () as usize as i64;
        gregs[libc::REG_RAX as usize] = ExitStatus::Fault as u32 as i64;
        true
    }
}
