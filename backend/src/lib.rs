//! heron's guest-neutral backend: the IR, its builder, verifier and printer, the reference
//! interpreter, the Cranelift code generator, and the execution engine (translation-block
//! cache, tiering, chaining). It never names a guest ISA: frontends implement [`Guest`].

pub mod builder;
pub mod debug;
pub mod engine;
pub mod instrument;
pub mod interp;
pub mod ir;
pub mod jit;
pub mod mem;
pub mod printer;
pub mod softmmu;
pub mod verify;

use std::sync::atomic::AtomicU32;

pub use builder::Builder;
pub use ir::{Block, ExitStatus};
pub use mem::{GuestMemory, PagePerms};

/// The backend-owned head of every frontend's CPU state. Frontends embed it as the first
/// field of their `#[repr(C)]` CPU struct, so generated code finds it at offset 0 of `env`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct CpuHeader {
    /// Guest PC: written on every block exit (next PC, or PC of the faulting instruction).
    pub pc: u64,
    /// Nonzero asks the vCPU to leave generated code at the next block entry
    /// (set by other threads: signals, interrupts, code invalidation).
    pub exit_request: AtomicU32,
    /// Set nonzero by a `may_raise` helper to end the block with that status.
    pub pending_status: u32,
    /// Guest address of the faulting access (with [`ExitStatus::Fault`]).
    pub fault_addr: u64,
    /// [`FaultKind`] of the faulting access.
    pub fault_kind: u32,
    pub _reserved: u32,
    /// Address of the exit slot a JIT block left through (for chaining), or 0.
    pub last_exit_slot: u64,
    /// Set by the JIT on each entry, read by generated code, so that compiled code holds
    /// no address of one engine and can be shared between engines: the selected jump
    /// table (`ExitIndirect`), and in system mode the softmmu config (slow-path argument).
    pub jump_table: u64,
    pub softmmu_config: u64,
    /// Entries into compiled blocks (counted only by code compiled for `-d stats`).
    pub block_entries: u64,
    /// Result of a softmmu slow-path call from JIT code (its thunk returns it here).
    pub slow_result: u64,
    /// System mode, set by the engine on each entry (0: none): `extern "C" fn(env, pc) ->
    /// entry` that generated code calls when an `ExitIndirect` misses the jump table; a
    /// nonzero result is the compiled code of the block at `pc`, to jump to (see
    /// `engine::indirect_lookup`), 0 sends the exit to the engine as before.
    pub indirect_lookup: u64,
    /// The engine's context for `indirect_lookup`.
    pub indirect_ctx: u64,
}

/// Byte offsets of [`CpuHeader`] fields, for generated code.
pub mod header_offsets {
    pub const PC: u32 = 0;
    pub const EXIT_REQUEST: u32 = 8;
    pub const PENDING_STATUS: u32 = 12;
    pub const FAULT_ADDR: u32 = 16;
    pub const FAULT_KIND: u32 = 24;
    pub const LAST_EXIT_SLOT: u32 = 32;
    pub const JUMP_TABLE: u32 = 40;
    pub const SOFTMMU_CONFIG: u32 = 48;
    pub const BLOCK_ENTRIES: u32 = 56;
    pub const SLOW_RESULT: u32 = 64;
    pub const INDIRECT_LOOKUP: u32 = 72;
}

const _: () = {
    assert!(
        std::mem::offset_of!(CpuHeader, last_exit_slot) == header_offsets::LAST_EXIT_SLOT as usize
    );
    assert!(std::mem::offset_of!(CpuHeader, jump_table) == header_offsets::JUMP_TABLE as usize);
    assert!(
        std::mem::offset_of!(CpuHeader, softmmu_config) == header_offsets::SOFTMMU_CONFIG as usize
    );
    assert!(
        std::mem::offset_of!(CpuHeader, block_entries) == header_offsets::BLOCK_ENTRIES as usize
    );
    assert!(std::mem::offset_of!(CpuHeader, slow_result) == header_offsets::SLOW_RESULT as usize);
    assert!(
        std::mem::offset_of!(CpuHeader, indirect_lookup)
            == header_offsets::INDIRECT_LOOKUP as usize
    );
};

/// Size of [`CpuHeader`]; frontend globals start at or after this offset.
pub const CPU_HEADER_SIZE: u32 = std::mem::size_of::<CpuHeader>() as u32;

/// Why a guest memory access faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum FaultKind {
    /// Load from an unmapped or unreadable address.
    Read = 0,
    /// Store (or atomic) to an unmapped or read-only address.
    Write = 1,
    /// Instruction fetch from an unmapped or non-executable address.
    Exec = 2,
    /// Misaligned access where the op demanded alignment (address in `fault_addr`).
    Misaligned = 3,
    /// System mode: a load whose physical address no RAM or device answered.
    BusRead = 4,
    /// System mode: a store or atomic whose physical address no RAM or device answered.
    BusWrite = 5,
    /// System mode: an instruction fetch whose physical address no RAM or device answered.
    BusExec = 6,
}

impl FaultKind {
    pub fn from_u32(v: u32) -> FaultKind {
        match v {
            0 => FaultKind::Read,
            1 => FaultKind::Write,
            2 => FaultKind::Exec,
            4 => FaultKind::BusRead,
            5 => FaultKind::BusWrite,
            6 => FaultKind::BusExec,
            _ => FaultKind::Misaligned,
        }
    }
}

/// A translation request could not produce any code at all (the first instruction could
/// not be fetched). Undecodable instructions are *not* errors: the frontend emits IR that
/// raises the guest's illegal-instruction exception.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TranslateError {
    #[error("instruction fetch fault at {0:#x}")]
    FetchFault(u64),
}

/// Where a frontend reads guest code from while translating: user-mode memory
/// ([`GuestMemory`]) or, in system mode, the vCPU's instruction-fetch view through its MMU.
pub trait CodeFetch {
    /// Copy code bytes at guest virtual address `addr` into `buf`; returns how many leading
    /// bytes could be fetched (fewer than `buf.len()` when a fetch fault stops it).
    fn fetch(&self, addr: u64, buf: &mut [u8]) -> usize;
}

impl CodeFetch for GuestMemory {
    fn fetch(&self, addr: u64, buf: &mut [u8]) -> usize {
        GuestMemory::fetch(self, addr, buf)
    }
}

/// CPU time consumed by the calling thread (zero if the host cannot tell).
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// What the backend needs from a guest-ISA frontend.
pub trait Guest: Send + Sync {
    /// Short ISA name ("riscv64").
    fn name(&self) -> &'static str;
    /// Translate the guest block starting at `pc` (with translation-affecting mode bits
    /// `flags`, from [`Guest::tb_flags`]) into `b`. Code bytes are read through `code`. The
    /// block must end with an exit op. A fetch fault on the first instruction is an error; on
    /// a later one the block ends before it. Before translating each instruction after the
    /// first, the frontend asks [`Builder::stop_before`] and, when it says so, ends the block
    /// with a direct jump to that instruction (single-step and breakpoints rely on this).
    fn translate(
        &self,
        pc: u64,
        flags: u64,
        code: &dyn CodeFetch,
        b: &mut Builder,
    ) -> Result<(), TranslateError>;
    /// The mode bits of the current CPU state that change how code translates.
    fn tb_flags(&self, env: *const u8) -> u64;
    /// System mode: the MMU index instruction fetch uses under translation flags `flags`.
    fn fetch_mmu_idx(&self, flags: u64) -> u8 {
        let _ = flags;
        0
    }
    /// Name of the guest global at `offset` of the CPU state, for IR text ("x10", "f3").
    fn global_name(&self, offset: u32) -> Option<String>;
    /// One-line disassembly of guest instructions in `bytes` at `pc` (for `-d in_asm`).
    fn disassemble(&self, pc: u64, bytes: &[u8]) -> Vec<String>;
    /// The guest registers of the CPU state at `env`, as text (for `-d cpu`).
    fn dump_state(&self, env: *const u8) -> String {
        let _ = env;
        String::new()
    }
}
