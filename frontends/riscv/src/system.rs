//! RISC-V full-system mode (M, S and U privilege): the hart state as generated code sees it
//! ([`RiscvSystemCpu`]: user-level registers, the softmmu TLB, [`PrivState`]), the
//! backend's [`Guest`] for system-mode translation ([`RiscvSystemGuest`], sharing the user-mode
//! translator with the privileged cases behind a mode check), the softmmu's address
//! translator over the Sv39/48/57 walker and PMP ([`RiscvMmu`]), the helpers behind CSR and
//! privileged instructions, and the conversion of block exits into traps and interrupts
//! ([`RiscvSystemCpu::handle_exit`]).
//!
//! MMU indices (the `mmu_idx` of every memory access, see [`mmu_idx`]) encode the effective
//! privilege of data accesses (mstatus.MPRV/MPP), SUM and MXR, so toggling those bits needs
//! no TLB flush; satp and PMP writes and `sfence.vma` flush. Counters: mcycle and minstret
//! (and cycle/instret) both count retired instructions: every block adds its instruction
//! count at entry and counter CSR reads subtract the instructions of the block not yet
//! executed, so reads are exact; a block that traps midway still counts whole (the count is
//! an estimate across traps and interrupts).

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod tests;

use crate::cpu::{RiscvCpu, cause};
use crate::privileged::{self, CsrOp, PhysMem, PhysMemError, Priv, PrivState, Trap, csr};
use crate::translate::{Ctx, get_x, set_x, translate_block_ctx};
use heron_backend::ir::{BinOp, Effects, Op as IrOp, Temp, Ty};
use heron_backend::softmmu::{Access, AddressTranslator, PageMapping, PhysMemory, Tlb};
use heron_backend::{Builder, CodeFetch, ExitStatus, FaultKind, Guest, TranslateError};
use std::mem::offset_of;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Number of PMP entries of a hart.
pub const PMP_ENTRIES: usize = 16;

/// Superpage ranges tracked for one-address `sfence.vma` (see `RiscvSystemCpu`).
const MAX_SUPERPAGES: usize = 64;

/// One hart in system mode. `cpu` (with the backend's header) comes first, so generated code
/// and the user-mode translator find the registers at the offsets of [`crate::cpu::off`].
#[repr(C)]
pub struct RiscvSystemCpu {
    pub cpu: RiscvCpu,
    /// The softmmu TLB (at [`TLB_OFFSET`]).
    pub tlb: Tlb,
    /// Privileged state: privilege level, CSRs, PMP.
    pub privs: PrivState,
    /// Cause of an alignment fault of the atomic the block is executing (LR: load, SC/AMO:
    /// store/AMO); set by generated code before each atomic access.
    pub misaligned_cause: u64,
    /// Cause recorded by [`RiscvMmu`] for its last failed translation (u64::MAX: none).
    pub mmu_fault_cause: u64,
    /// Virtual address of that failed translation (the trap value).
    pub mmu_fault_addr: u64,
    /// Virtual ranges (base, size) of superpages (Sv39/48/57 leaves above level 0) whose
    /// 4 KiB pieces the TLB may hold: `sfence.vma` of an address inside one must flush all
    /// the pieces. Cleared by full flushes; past [`MAX_SUPERPAGES`] ranges any one-address
    /// fence flushes everything.
    superpages: Vec<(u64, u64)>,
    /// Set by the CSR helper when the write it just did must end the block: new
    /// translation flags, a TLB flush, or an interrupt that is now to be taken.
    pub csr_end_block: u64,
    /// Sstc deadline (mtime ticks) for a timer thread to watch, u64::MAX when none; see
    /// [`RiscvSystemCpu::deadline_cell`].
    deadline: Arc<AtomicU64>,
    /// The machine's guest-physical memory, for page walks outside the softmmu
    /// (`cbo.clean/flush/inval` check access without accessing memory). Attached by
    /// [`RiscvMmu`] on its first translation for this hart, which comes before the hart
    /// runs any code (its first fetch misses in the empty TLB).
    phys: Option<Arc<dyn PhysMemory>>,
}

/// Byte offset of [`RiscvSystemCpu::tlb`] (for `SoftmmuConfig::tlb_offset`).
pub const TLB_OFFSET: u32 = offset_of!(RiscvSystemCpu, tlb) as u32;

/// Offsets of the system-mode globals in [`RiscvSystemCpu`].
pub mod goff {
    use super::*;
    pub const MSTATUS: u32 =
        (offset_of!(RiscvSystemCpu, privs) + privileged::MSTATUS_OFFSET) as u32;
    pub const RETIRED: u32 =
        (offset_of!(RiscvSystemCpu, privs) + privileged::RETIRED_OFFSET) as u32;
    pub const MISALIGNED_CAUSE: u32 = offset_of!(RiscvSystemCpu, misaligned_cause) as u32;
    pub const CSR_END_BLOCK: u32 = offset_of!(RiscvSystemCpu, csr_end_block) as u32;
}

/// MMU indices. Data accesses use the effective privilege (MPP when M-mode sets MPRV), with
/// SUM (S only) and MXR (S/U) folded in; instruction fetch uses U, S or M.
pub mod mmu_idx {
    pub const U: u8 = 0;
    pub const S: u8 = 1;
    /// S-mode with mstatus.SUM = 1.
    pub const S_SUM: u8 = 2;
    pub const M: u8 = 3;
    /// Added to U/S/S_SUM when mstatus.MXR = 1.
    pub const MXR: u8 = 4;
}

/// Effective privilege, SUM and MXR of MMU index `idx`.
fn decode_mmu_idx(idx: u8) -> (Priv, bool, bool) {
    let mxr = idx & mmu_idx::MXR != 0;
    match idx & 3 {
        mmu_idx::U => (Priv::User, false, mxr),
        mmu_idx::S => (Priv::Supervisor, false, mxr),
        mmu_idx::S_SUM => (Priv::Supervisor, true, mxr),
        _ => (Priv::Machine, false, false),
    }
}

/// MMU index of data accesses under the current state.
fn data_mmu_idx(p: &PrivState) -> u8 {
    let eff = p.effective_priv(privileged::Access::Read, p.priv_level);
    let ms = p.mstatus();
    let mxr = if ms & csr::status::MXR != 0 {
        mmu_idx::MXR
    } else {
        0
    };
    match eff {
        Priv::Machine => mmu_idx::M,
        Priv::Supervisor if ms & csr::status::SUM != 0 => mmu_idx::S_SUM | mxr,
        Priv::Supervisor => mmu_idx::S | mxr,
        Priv::User => mmu_idx::U | mxr,
    }
}

/// The translation flags of system mode (what [`Guest::tb_flags`] packs): privilege, data
/// MMU index, mstatus.FS and which cache-block operations the privilege may execute
/// (menvcfg/senvcfg). Everything else privileged (TVM, TW, TSR, counter enables, CSR access
/// rules) is checked when the instruction executes. Every change of these (trap entry,
/// xRET, a CSR write) ends the block without chaining, so a block only ever runs under the
/// flags it was translated for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysFlags {
    /// Privilege level: 0 U, 1 S, 3 M.
    pub priv_bits: u8,
    /// MMU index of loads, stores and atomics.
    pub data_idx: u8,
    /// mstatus.FS: 0 off (FP instructions are illegal), 1 initial, 2 clean, 3 dirty.
    pub fs: u8,
    /// Enabled cache-block operations ([`PrivState::cbo_enables`] of the privilege):
    /// [`SysFlags::CBO_ZERO`] | [`SysFlags::CBO_CLEAN_FLUSH`] | [`SysFlags::CBO_INVAL`].
    pub cbo: u8,
}

impl SysFlags {
    /// `cbo.zero` may execute.
    pub const CBO_ZERO: u8 = 1;
    /// `cbo.clean` and `cbo.flush` may execute.
    pub const CBO_CLEAN_FLUSH: u8 = 2;
    /// `cbo.inval` may execute.
    pub const CBO_INVAL: u8 = 4;

    pub fn of(p: &PrivState) -> SysFlags {
        let en = p.cbo_enables(p.priv_level);
        let mut cbo = 0;
        if en.zero {
            cbo |= Self::CBO_ZERO;
        }
        if en.clean_flush {
            cbo |= Self::CBO_CLEAN_FLUSH;
        }
        if en.inval {
            cbo |= Self::CBO_INVAL;
        }
        SysFlags {
            priv_bits: p.priv_level as u8,
            data_idx: data_mmu_idx(p),
            fs: ((p.mstatus() & csr::status::FS) >> csr::status::FS_SHIFT) as u8,
            cbo,
        }
    }
    pub fn to_bits(self) -> u64 {
        u64::from(self.priv_bits)
            | u64::from(self.data_idx) << 2
            | u64::from(self.fs) << 5
            | u64::from(self.cbo) << 7
    }
    pub fn from_bits(flags: u64) -> SysFlags {
        SysFlags {
            priv_bits: (flags & 3) as u8,
            data_idx: ((flags >> 2) & 7) as u8,
            fs: ((flags >> 5) & 3) as u8,
            cbo: ((flags >> 7) & 7) as u8,
        }
    }
    /// Whether the cache-block operation `op` ([`crate::decode::Op::CboZero`], ...) is
    /// enabled at this privilege (false for any other op).
    pub(crate) fn cbo_allowed(self, op: crate::decode::Op) -> bool {
        use crate::decode::Op;
        let bit = match op {
            Op::CboZero => Self::CBO_ZERO,
            Op::CboClean | Op::CboFlush => Self::CBO_CLEAN_FLUSH,
            Op::CboInval => Self::CBO_INVAL,
            _ => return false,
        };
        self.cbo & bit != 0
    }
    /// MMU index of instruction fetch.
    pub fn fetch_idx(self) -> u8 {
        match self.priv_bits {
            0 => mmu_idx::U,
            1 => mmu_idx::S,
            _ => mmu_idx::M,
        }
    }
    /// Exception cause of `ecall` at this privilege.
    pub(crate) fn ecall_cause(self) -> u64 {
        match self.priv_bits {
            0 => cause::ECALL_U,
            1 => cause::ECALL_S,
            _ => cause::ECALL_M,
        }
    }
}

/// What the hart's run loop does after [`RiscvSystemCpu::handle_exit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HartEvent {
    /// Run on (the trap or interrupt, if any, has been taken: pc is at the handler).
    Continue,
    /// The hart executed `wfi` (pc = the next instruction): wait until
    /// [`RiscvSystemCpu::interrupt_pending`] (or the timer deadline), then take interrupts
    /// with [`RiscvSystemCpu::take_pending_interrupt`] and run on.
    Wfi,
    /// The hart cannot go on (not produced by the RISC-V frontend today; kept for boards).
    Halt,
}

impl RiscvSystemCpu {
    /// Reset state of hart `hartid`: M-mode, pc 0 (the board sets the reset vector), MMU
    /// off, [`PMP_ENTRIES`] PMP entries, empty TLB.
    pub fn new(hartid: u64) -> Box<RiscvSystemCpu> {
        Box::new(RiscvSystemCpu {
            cpu: RiscvCpu::default(),
            tlb: Tlb::new(),
            privs: PrivState::new(hartid, PMP_ENTRIES),
            misaligned_cause: cause::MISALIGNED_STORE,
            mmu_fault_cause: u64::MAX,
            mmu_fault_addr: 0,
            csr_end_block: 0,
            superpages: Vec::new(),
            deadline: Arc::new(AtomicU64::new(u64::MAX)),
            phys: None,
        })
    }

    /// The CPU state as the engine's `env` pointer.
    pub fn env(&mut self) -> *mut u8 {
        self as *mut RiscvSystemCpu as *mut u8
    }

    /// Turns a non-Next exit of `Engine::run` into architectural effects (see the module
    /// docs of system-api.md): Exception/Fault -> trap with cause, tval and delegation, pc at
    /// the handler; Interrupted -> clears `exit_request` and takes the highest-priority
    /// pending enabled interrupt, if any; Halt (from `wfi`) -> [`HartEvent::Wfi`].
    pub fn handle_exit(&mut self, status: ExitStatus) -> HartEvent {
        match status {
            ExitStatus::Next => HartEvent::Continue,
            ExitStatus::Exception => {
                let trap = Trap {
                    cause: self.cpu.exc_cause,
                    tval: self.cpu.exc_tval,
                };
                self.trap(trap);
                HartEvent::Continue
            }
            ExitStatus::Fault => {
                let trap = self.fault_trap();
                self.trap(trap);
                HartEvent::Continue
            }
            ExitStatus::Interrupted => {
                self.cpu.hdr.exit_request.store(0, Ordering::SeqCst);
                self.take_pending_interrupt();
                HartEvent::Continue
            }
            ExitStatus::Halt => HartEvent::Wfi,
        }
    }

    /// The trap for an `ExitStatus::Fault` exit.
    fn fault_trap(&mut self) -> Trap {
        let addr = self.cpu.hdr.fault_addr;
        let recorded = std::mem::replace(&mut self.mmu_fault_cause, u64::MAX);
        let (page, access) = match FaultKind::from_u32(self.cpu.hdr.fault_kind) {
            FaultKind::Read => (cause::LOAD_PAGE_FAULT, cause::LOAD_ACCESS),
            FaultKind::Write => (cause::STORE_PAGE_FAULT, cause::STORE_ACCESS),
            FaultKind::Exec => (cause::FETCH_PAGE_FAULT, cause::FETCH_ACCESS),
            FaultKind::Misaligned => {
                return Trap {
                    cause: self.misaligned_cause,
                    tval: addr,
                };
            }
            // No RAM or device at the physical address: access faults.
            FaultKind::BusRead => (cause::LOAD_ACCESS, cause::LOAD_ACCESS),
            FaultKind::BusWrite => (cause::STORE_ACCESS, cause::STORE_ACCESS),
            FaultKind::BusExec => (cause::FETCH_ACCESS, cause::FETCH_ACCESS),
        };
        // The translator's own verdict (page fault or PMP access fault, at the address of
        // the part of the access that failed) when it is about this kind of access.
        let bus = matches!(
            FaultKind::from_u32(self.cpu.hdr.fault_kind),
            FaultKind::BusRead | FaultKind::BusWrite | FaultKind::BusExec
        );
        if !bus && (recorded == page || recorded == access) {
            return Trap {
                cause: recorded,
                tval: self.mmu_fault_addr,
            };
        }
        Trap {
            cause: page,
            tval: addr,
        }
    }

    /// Flushes the whole TLB (and forgets the cached superpages).
    fn flush_tlb_all(&mut self) {
        self.tlb.flush_all();
        self.superpages.clear();
    }

    /// Records that the TLB may now hold pieces of the superpage at `base`.
    fn note_superpage(&mut self, base: u64, size: u64) {
        if self.superpages.len() <= MAX_SUPERPAGES && !self.superpages.contains(&(base, size)) {
            self.superpages.push((base, size));
        }
    }

    /// Takes synchronous exception `trap` at the current pc.
    fn trap(&mut self, trap: Trap) {
        let pc = self.cpu.hdr.pc;
        self.cpu.hdr.pc = self.privs.take_exception(trap, pc);
        self.cpu.res_addr = u64::MAX;
    }

    /// Takes the highest-priority pending and enabled interrupt before the instruction at
    /// pc, if there is one. Returns whether it took one.
    pub fn take_pending_interrupt(&mut self) -> bool {
        let Some(code) = self.privs.pending_interrupt() else {
            return false;
        };
        let pc = self.cpu.hdr.pc;
        self.cpu.hdr.pc = self.privs.take_trap(code, 0, pc, true);
        self.cpu.res_addr = u64::MAX;
        self.update_deadline();
        true
    }

    /// Whether a hart in `wfi` wakes up: an interrupt is pending and enabled in mie
    /// (regardless of global enables and delegation).
    pub fn interrupt_pending(&self) -> bool {
        self.privs.wfi_wakeup()
    }

    /// The mtime value at which the Sstc timer raises STIP, while STIP is enabled in mie
    /// and not yet pending (None otherwise, e.g. once time >= stimecmp: then
    /// [`RiscvSystemCpu::interrupt_pending`] tells). A WFI loop sleeps until then.
    pub fn timer_deadline(&self) -> Option<u64> {
        let d = self.raw_deadline()?;
        match self.privs.time() {
            Some(t) if t >= d => None,
            _ => Some(d),
        }
    }

    /// stimecmp while Sstc is on and STIE is set.
    fn raw_deadline(&self) -> Option<u64> {
        let p = &self.privs;
        let stce = p.menvcfg() & csr::envcfg::STCE != 0;
        if !stce || p.mie() & csr::irq::STIP == 0 || p.stimecmp() == u64::MAX {
            return None;
        }
        Some(p.stimecmp())
    }

    /// A cell holding the Sstc deadline (stimecmp while menvcfg.STCE and mie.STIE are set,
    /// else u64::MAX), kept current by the hart whenever stimecmp, menvcfg, mie or mideleg
    /// change, so that a timer thread can set `exit_request` once when mtime reaches it
    /// while the hart runs (the hart then takes the interrupt if it is enabled).
    pub fn deadline_cell(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.deadline)
    }

    fn update_deadline(&self) {
        let d = self.raw_deadline().unwrap_or(u64::MAX);
        self.deadline.store(d, Ordering::SeqCst);
    }

    /// After something that may have enabled an interrupt: ask the engine to leave at the
    /// next block entry, where [`RiscvSystemCpu::handle_exit`] takes it. Returns whether
    /// it did.
    fn request_exit_if_interrupt(&self) -> bool {
        let pending = self.privs.pending_interrupt().is_some();
        if pending {
            self.cpu.hdr.exit_request.store(1, Ordering::SeqCst);
        }
        pending
    }
}

// ---------------------------------------------------------------------------------------
// The Guest
// ---------------------------------------------------------------------------------------

/// The RISC-V frontend in system mode, as the backend sees it. `env` is a
/// [`RiscvSystemCpu`].
#[derive(Debug, Default, Clone, Copy)]
pub struct RiscvSystemGuest;

impl RiscvSystemGuest {
    /// MMU index of instruction fetch under `flags` (see `Guest::fetch_mmu_idx`).
    pub fn fetch_idx(flags: u64) -> u8 {
        SysFlags::from_bits(flags).fetch_idx()
    }
}

impl Guest for RiscvSystemGuest {
    fn name(&self) -> &'static str {
        "riscv64"
    }

    fn fetch_mmu_idx(&self, flags: u64) -> u8 {
        Self::fetch_idx(flags)
    }

    fn translate(
        &self,
        pc: u64,
        flags: u64,
        code: &dyn CodeFetch,
        b: &mut Builder,
    ) -> Result<(), TranslateError> {
        let ctx = Ctx {
            sys: Some(SysFlags::from_bits(flags)),
            retire: None,
        };
        translate_block_ctx(pc, code, b, ctx)
    }

    fn tb_flags(&self, env: *const u8) -> u64 {
        // SAFETY: the engine passes the CPU state it runs, a RiscvSystemCpu for this guest.
        let cpu = unsafe { &*(env as *const RiscvSystemCpu) };
        SysFlags::of(&cpu.privs).to_bits()
    }

    fn global_name(&self, offset: u32) -> Option<String> {
        match offset {
            goff::MSTATUS => Some("mstatus".into()),
            goff::RETIRED => Some("retired".into()),
            goff::MISALIGNED_CAUSE => Some("misaligned_cause".into()),
            goff::CSR_END_BLOCK => Some("csr_end_block".into()),
            _ => crate::cpu::global_name(offset),
        }
    }

    fn disassemble(&self, pc: u64, bytes: &[u8]) -> Vec<String> {
        crate::disas::disassemble(pc, bytes)
    }

    fn dump_state(&self, env: *const u8) -> String {
        // SAFETY: the engine passes the CPU state it runs, a RiscvSystemCpu for this guest.
        let cpu = unsafe { &*(env as *const RiscvSystemCpu) };
        dump(cpu)
    }
}

/// The hart state as text: pc, privilege, integer registers and the main trap CSRs.
pub fn dump(cpu: &RiscvSystemCpu) -> String {
    use std::fmt::Write;
    let p = &cpu.privs;
    let mut s = String::new();
    let level = match p.priv_level {
        Priv::Machine => 'M',
        Priv::Supervisor => 'S',
        Priv::User => 'U',
    };
    let _ = writeln!(s, "pc {:016x}  priv {level}", cpu.cpu.hdr.pc);
    for (i, name) in crate::cpu::XREG_NAMES.iter().enumerate() {
        let sep = if i % 4 == 3 { '\n' } else { ' ' };
        let _ = write!(s, "{name:>4} {:016x}{sep}", cpu.cpu.x[i]);
    }
    let csrs = [
        ("mstatus", p.mstatus()),
        ("mie", p.mie()),
        ("mip", p.mip()),
        ("mideleg", p.mideleg()),
        ("medeleg", p.medeleg()),
        ("mtvec", p.mtvec()),
        ("mepc", p.mepc()),
        ("mcause", p.mcause),
        ("mtval", p.mtval),
        ("stvec", p.stvec()),
        ("sepc", p.sepc()),
        ("scause", p.scause),
        ("stval", p.stval),
        ("satp", p.satp()),
    ];
    for (i, (name, v)) in csrs.iter().enumerate() {
        let sep = if i % 4 == 3 || i == csrs.len() - 1 {
            '\n'
        } else {
            ' '
        };
        let _ = write!(s, "{name:>7} {v:016x}{sep}");
    }
    s
}

// ---------------------------------------------------------------------------------------
// Translation of the system-only cases (called from crate::translate)
// ---------------------------------------------------------------------------------------

/// Emits the block-entry increment of the retired-instruction counter with a placeholder
/// count; returns the index of the constant op for [`patch_retire_count`] and its temp.
pub(crate) fn emit_retire_count(b: &mut Builder) -> (usize, Temp) {
    let count = b.get_global(Ty::I64, goff::RETIRED);
    let at = b.block.ops.len();
    let n = b.const64(0);
    let sum = b.bin(BinOp::Add, count, n);
    b.set_global(Ty::I64, goff::RETIRED, sum);
    (at, n)
}

/// Sets the count emitted by [`emit_retire_count`] to the block's `n` instructions.
pub(crate) fn patch_retire_count(b: &mut Builder, at: usize, n: u32) {
    if let Some(IrOp::Const { value, .. }) = b.block.ops.get_mut(at) {
        *value = u64::from(n);
    }
}

/// Records which misaligned-access cause the next atomic access raises.
pub(crate) fn set_misaligned_cause(b: &mut Builder, c: u64) {
    let v = b.const64(c);
    b.set_global(Ty::I64, goff::MISALIGNED_CAUSE, v);
}

/// mstatus.FS := Dirty (unless the flags say it already is).
pub(crate) fn mark_fs_dirty(b: &mut Builder, sys: SysFlags) {
    if sys.fs != 3 {
        let m = b.get_global(Ty::I64, goff::MSTATUS);
        let m = b.bin_imm(BinOp::Or, m, csr::status::FS);
        b.set_global(Ty::I64, goff::MSTATUS, m);
    }
}

const MRET: u32 = 0x3020_0073;
const SRET: u32 = 0x1020_0073;
const WFI: u32 = 0x1050_0073;

/// mret, sret, wfi and sfence.vma (`word` is a 32-bit instruction at `pc`). Returns None
/// for any other instruction, else whether the block ended (always).
pub(crate) fn translate_privileged(
    b: &mut Builder,
    _sys: SysFlags,
    word: u32,
    pc: u64,
) -> Option<bool> {
    if word & 0x7f != 0x73 || (word >> 12) & 7 != 0 {
        return None;
    }
    let next = pc.wrapping_add(4);
    let is_sfence = word >> 25 == 0b000_1001 && (word >> 7) & 31 == 0;
    if !matches!(word, MRET | SRET | WFI) && !is_sfence {
        return None;
    }
    let iw = b.const64(u64::from(word));
    match word {
        MRET | SRET => {
            let h = if word == MRET {
                &HELPER_MRET
            } else {
                &HELPER_SRET
            };
            let target = b.call(h, &[iw]);
            b.push(IrOp::Exit {
                status: ExitStatus::Next,
                pc: target,
            });
        }
        WFI => {
            b.call_void(&HELPER_WFI, &[iw]);
            b.exit(ExitStatus::Halt, next);
        }
        // sfence.vma rs1, rs2 (funct7 0001001, rd 0); the ASID in rs2 is not used: a
        // page is flushed for every address space.
        _ => {
            let rs1 = ((word >> 15) & 31) as u8;
            let vaddr = get_x(b, rs1);
            let all = b.const64(u64::from(rs1 == 0));
            b.call_void(&HELPER_SFENCE_VMA, &[vaddr, all, iw]);
            b.exit(ExitStatus::Next, next);
        }
    }
    Some(true)
}

/// `cbo.clean`, `cbo.flush` or `cbo.inval` on the block holding the address in `rs1`,
/// already known to be enabled (translation flags): heron has no caches, so all that is
/// left is the access check of [`HELPER_CBO_CHECK`]. Returns whether the block ended
/// (never).
pub(crate) fn translate_cbo_management(b: &mut Builder, sys: SysFlags, rs1: u8) -> bool {
    let addr = get_x(b, rs1);
    let idx = b.const64(u64::from(sys.data_idx));
    b.call_void(&HELPER_CBO_CHECK, &[addr, idx]);
    false
}

/// CSRs whose writes change nothing the translator or the execution loop depends on. A
/// write to any other CSR is followed by a check of [`RiscvSystemCpu::csr_end_block`]: the
/// block ends there only when the write changed the translation flags, flushed the TLB or
/// made an interrupt deliverable (so e.g. toggling sstatus.SIE stays inside the block).
fn csr_write_is_plain(num: u32) -> bool {
    let num = num as u16;
    matches!(
        num,
        csr::SSCRATCH
            | csr::MSCRATCH
            | csr::SEPC
            | csr::MEPC
            | csr::SCAUSE
            | csr::MCAUSE
            | csr::STVAL
            | csr::MTVAL
            | csr::STVEC
            | csr::MTVEC
            | csr::MEDELEG
            | csr::SCOUNTEREN
            | csr::MCOUNTEREN
            | csr::MCYCLE
            | csr::MINSTRET
            | csr::MCOUNTINHIBIT
    ) || (csr::MHPMEVENT3..=csr::MHPMEVENT31).contains(&num)
        || (csr::MHPMCOUNTER3..=csr::MHPMCOUNTER31).contains(&num)
}

/// Zicsr on every CSR except fflags/frm/fcsr, through [`HELPER_CSR`] into [`PrivState`]
/// (which raises illegal instruction for absent CSRs, privilege, read-only and counteren
/// violations). Returns whether the block ended.
#[allow(clippy::too_many_arguments)]
pub(crate) fn translate_csr(
    b: &mut Builder,
    ctx: Ctx,
    op: crate::decode::Op,
    rd: u8,
    src: u8,
    csr_num: u32,
    raw: u32,
    pc: u64,
) -> bool {
    use crate::decode::Op;
    let writes = matches!(op, Op::Csrrw | Op::Csrrwi) || src != 0;
    let operand = if matches!(op, Op::Csrrwi | Op::Csrrsi | Op::Csrrci) {
        b.const64(u64::from(src))
    } else {
        get_x(b, src)
    };
    let cop: u64 = match op {
        Op::Csrrw | Op::Csrrwi => 0,
        Op::Csrrs | Op::Csrrsi => 1,
        _ => 2,
    };
    let (total, index) = match ctx.retire {
        Some((t, i)) => (t, i),
        None => (b.const64(0), 0),
    };
    let packed = b
        .const64(u64::from(csr_num) | cop << 12 | u64::from(writes) << 14 | u64::from(index) << 16);
    let iw = b.const64(u64::from(raw));
    let old = b.call(&HELPER_CSR, &[packed, operand, iw, total]);
    set_x(b, rd, old);
    if writes && !csr_write_is_plain(csr_num) {
        // Leave (without chaining, so the engine looks up the block under the new flags)
        // only when the helper says so.
        let end = b.get_global(Ty::I64, goff::CSR_END_BLOCK);
        let l_end = b.new_label();
        let l_on = b.new_label();
        b.br_cond(end, l_end);
        b.br(l_on);
        b.label(l_end);
        b.exit(ExitStatus::Next, pc.wrapping_add(4));
        b.label(l_on);
    }
    false
}

// ---------------------------------------------------------------------------------------
// Helpers called from generated code (env = RiscvSystemCpu)
// ---------------------------------------------------------------------------------------

/// The CPU state behind `env`.
///
/// # Safety
/// `env` is the RiscvSystemCpu the engine runs (the only guest whose blocks call these
/// helpers is [`RiscvSystemGuest`]), used by this thread only during the call.
unsafe fn sys_cpu<'a>(env: *mut u8) -> &'a mut RiscvSystemCpu {
    // SAFETY: per this function's contract.
    unsafe { &mut *(env as *mut RiscvSystemCpu) }
}

/// Raise illegal instruction (tval = the instruction bits) from a `may_raise` helper.
fn raise_illegal(cpu: &mut RiscvSystemCpu, insn: u64) {
    cpu.cpu.exc_cause = cause::ILLEGAL_INSN;
    cpu.cpu.exc_tval = insn;
    cpu.cpu.hdr.pending_status = ExitStatus::Exception as u32;
}

/// Zicsr: `packed` = CSR number | op << 12 (0 write, 1 set, 2 clear) | writes << 14 |
/// (index of the instruction in its block) << 16; `block_insns` = the block's instruction
/// count, already added to the retired counter at block entry: counters see only the
/// instructions before this one.
extern "C" fn helper_csr(
    env: *mut u8,
    packed: u64,
    operand: u64,
    insn: u64,
    block_insns: u64,
) -> u64 {
    // SAFETY: called from system-mode blocks only (see sys_cpu).
    let cpu = unsafe { sys_cpu(env) };
    let num = (packed & 0xfff) as u16;
    let op = match (packed >> 12) & 3 {
        0 => CsrOp::Write,
        1 => CsrOp::Set,
        _ => CsrOp::Clear,
    };
    let writes = (packed >> 14) & 1 != 0;
    let not_retired = block_insns.saturating_sub(packed >> 16);
    let p = cpu.privs.priv_level;
    let flags_before = SysFlags::of(&cpu.privs);
    cpu.privs.retired_count = cpu.privs.retired_count.wrapping_sub(not_retired);
    let r = cpu.privs.csr_rmw(num, op, operand, writes, p);
    cpu.privs.retired_count = cpu.privs.retired_count.wrapping_add(not_retired);
    match r {
        Ok((old, eff)) => {
            let mut end = SysFlags::of(&cpu.privs) != flags_before;
            // SUM/MXR/MPRV/MPP changes select other MMU indices: no flush needed for them.
            if eff.flush_tlb && !matches!(num, csr::MSTATUS | csr::SSTATUS) {
                cpu.flush_tlb_all();
                end = true;
            }
            if eff.check_irq {
                cpu.update_deadline();
                // Interrupt conditions are re-evaluated right after such a write.
                end |= cpu.request_exit_if_interrupt();
            }
            cpu.csr_end_block = u64::from(end);
            old
        }
        Err(_) => {
            raise_illegal(cpu, insn);
            0
        }
    }
}

/// mret / sret (the instruction word tells which): returns the new pc.
extern "C" fn helper_xret(env: *mut u8, insn: u64) -> u64 {
    // SAFETY: called from system-mode blocks only (see sys_cpu).
    let cpu = unsafe { sys_cpu(env) };
    let p = cpu.privs.priv_level;
    let r = if insn == u64::from(MRET) {
        cpu.privs.mret(p)
    } else {
        cpu.privs.sret(p)
    };
    match r {
        Ok(pc) => {
            cpu.cpu.res_addr = u64::MAX;
            cpu.request_exit_if_interrupt();
            pc
        }
        Err(_) => {
            raise_illegal(cpu, insn);
            0
        }
    }
}

/// wfi legality (U-mode, TW); the block then ends with Halt.
extern "C" fn helper_wfi(env: *mut u8, insn: u64) -> u64 {
    // SAFETY: called from system-mode blocks only (see sys_cpu).
    let cpu = unsafe { sys_cpu(env) };
    if cpu.privs.wfi(cpu.privs.priv_level).is_err() {
        raise_illegal(cpu, insn);
    }
    0
}

/// sfence.vma: legality (U-mode, TVM), then flush one page (every ASID) or everything. The
/// TLB caches 4 KiB pieces: a one-address fence inside a cached superpage flushes
/// everything (the superpage's other pieces are stale too).
extern "C" fn helper_sfence_vma(env: *mut u8, vaddr: u64, all: u64, insn: u64) -> u64 {
    // SAFETY: called from system-mode blocks only (see sys_cpu).
    let cpu = unsafe { sys_cpu(env) };
    if cpu.privs.check_sfence_vma(cpu.privs.priv_level).is_err() {
        raise_illegal(cpu, insn);
        return 0;
    }
    let in_superpage = cpu.superpages.len() > MAX_SUPERPAGES
        || cpu
            .superpages
            .iter()
            .any(|&(base, size)| vaddr.wrapping_sub(base) < size);
    if all != 0 || in_superpage {
        cpu.flush_tlb_all();
    } else {
        cpu.tlb.flush_page(vaddr);
    }
    0
}

/// The access check of `cbo.clean/flush/inval` at `vaddr` through MMU index `mmu_idx`
/// (CMO spec, "Page-Fault, Guest-Page-Fault, and Access-Fault Exceptions"): allowed when a
/// load or a store would be (a load check suffices: a writable page or PMP region is also
/// readable), for the whole 64-byte block; the walk sets the A bit (not D). Faults are
/// reported as store faults (page fault when translation forbids the access, access
/// fault for PMP) with tval = `vaddr`, the value of rs1. Memory itself is not touched,
/// so MMIO sees nothing; an address with no RAM or device behind it is not detected.
extern "C" fn helper_cbo_check(env: *mut u8, vaddr: u64, mmu_idx: u64) -> u64 {
    // SAFETY: called from system-mode blocks only (see sys_cpu).
    let cpu = unsafe { sys_cpu(env) };
    let (eff, sum, mxr) = decode_mmu_idx(mmu_idx as u8);
    let block = vaddr & !(privileged::CBO_BLOCK_SIZE - 1);
    let phys = cpu.phys.clone();
    let walk = phys.as_deref().map(WalkMem);
    let mem: &dyn PhysMem = match &walk {
        Some(w) => w,
        None => &NoMem,
    };
    let r = cpu.privs.translate_as(
        block,
        privileged::CBO_BLOCK_SIZE,
        privileged::Access::Read,
        eff,
        sum,
        mxr,
        mem,
    );
    if let Err(trap) = r {
        cpu.cpu.exc_cause = match trap.cause {
            cause::LOAD_PAGE_FAULT => cause::STORE_PAGE_FAULT,
            _ => cause::STORE_ACCESS,
        };
        cpu.cpu.exc_tval = vaddr;
        cpu.cpu.hdr.pending_status = ExitStatus::Exception as u32;
    }
    0
}

heron_backend::helper!(pub HELPER_CSR = helper_csr, 4, Effects::RAISES);
heron_backend::helper!(pub HELPER_CBO_CHECK = helper_cbo_check, 2, Effects::RAISES);
heron_backend::helper!(pub HELPER_MRET = helper_xret, 1, Effects::RAISES);
heron_backend::helper!(pub HELPER_SRET = helper_xret, 1, Effects::RAISES);
heron_backend::helper!(pub HELPER_WFI = helper_wfi, 1, Effects::RAISES);
heron_backend::helper!(pub HELPER_SFENCE_VMA = helper_sfence_vma, 3, Effects::RAISES);

// ---------------------------------------------------------------------------------------
// The softmmu's address translator
// ---------------------------------------------------------------------------------------

/// Page-table walks, PMP and A/D updates for the softmmu: implements `AddressTranslator`
/// with [`PrivState::translate_as`] over the board's guest-physical memory. One per machine
/// (shared by all harts: each call gets its hart's CPU state).
pub struct RiscvMmu {
    phys: Arc<dyn PhysMemory>,
    /// `-d mmu`: log every translation (TLB fill) with its page walk, target "mmu".
    trace: bool,
}

impl RiscvMmu {
    pub fn new(phys: Arc<dyn PhysMemory>) -> RiscvMmu {
        RiscvMmu { phys, trace: false }
    }

    /// Log each translation the softmmu asks for (one per TLB fill) through `tracing`
    /// target "mmu": the access, the satp mode, every PTE of the walk and the result.
    pub fn with_trace(mut self, on: bool) -> RiscvMmu {
        self.trace = on;
        self
    }

    /// The side-effect-free walk of `vaddr` in `cpu`'s current address space (see
    /// [`PrivState::walk_debug`]), over this machine's RAM.
    pub fn walk_debug(&self, cpu: &RiscvSystemCpu, vaddr: u64) -> privileged::mmu::DebugWalk {
        cpu.privs.walk_debug(vaddr, &WalkMem(&*self.phys))
    }

    fn trace_fill(
        &self,
        cpu: &RiscvSystemCpu,
        vaddr: u64,
        access: Access,
        mmu_idx: u8,
        result: &Result<PageMapping, FaultKind>,
    ) {
        use std::fmt::Write;
        let (eff, sum, mxr) = decode_mmu_idx(mmu_idx);
        let mode = match cpu.privs.satp_levels() {
            _ if eff == Priv::Machine => "bare(M)",
            0 => "bare",
            3 => "sv39",
            4 => "sv48",
            _ => "sv57",
        };
        let acc = match access {
            Access::Read => "read",
            Access::Write => "write",
            Access::Exec => "fetch",
        };
        let mut line = format!(
            "hart{} fill {acc} vaddr={vaddr:#x} priv={eff:?}{}{} satp={mode}",
            cpu.privs.hartid,
            if sum { "+sum" } else { "" },
            if mxr { "+mxr" } else { "" },
        );
        if eff != Priv::Machine && cpu.privs.satp_levels() > 0 {
            let w = self.walk_debug(cpu, vaddr);
            for st in &w.steps {
                let _ = write!(
                    line,
                    " L{} pte@{:#x}={:#x}[{}]",
                    st.level,
                    st.pte_addr,
                    st.pte,
                    privileged::mmu::pte_flags(st.pte)
                );
            }
        }
        match result {
            Ok(m) => {
                let _ = write!(
                    line,
                    " -> paddr={:#x} {}{}{}",
                    m.paddr | (vaddr & 0xfff),
                    if m.read { 'r' } else { '-' },
                    if m.write { 'w' } else { '-' },
                    if m.exec { 'x' } else { '-' },
                );
            }
            Err(_) => {
                let _ = write!(line, " -> fault cause={}", cpu.mmu_fault_cause);
            }
        }
        tracing::info!(target: "mmu", "{line}");
    }
}

/// The walker's view of guest-physical memory: page-table entries in RAM only.
struct WalkMem<'a>(&'a dyn PhysMemory);

/// No memory at all (a hart whose [`RiscvMmu`] has not run yet): every page-table read is
/// an access fault; translations that need no walk (Bare, M-mode) still work.
struct NoMem;

impl PhysMem for NoMem {
    fn read_u64(&self, _paddr: u64) -> Result<u64, PhysMemError> {
        Err(PhysMemError)
    }

    fn compare_exchange_u64(
        &self,
        _paddr: u64,
        _current: u64,
        _new: u64,
    ) -> Result<Result<u64, u64>, PhysMemError> {
        Err(PhysMemError)
    }
}

impl WalkMem<'_> {
    /// The PTE at `paddr` as an atomic (other harts update A/D bits concurrently).
    fn pte(&self, paddr: u64) -> Result<&AtomicU64, PhysMemError> {
        if !paddr.is_multiple_of(8) {
            return Err(PhysMemError);
        }
        let page = self.0.ram_page(paddr & !0xfff).ok_or(PhysMemError)?;
        // SAFETY: `ram_page` returns the host address of a whole 4 KiB RAM page that stays
        // mapped for the machine's lifetime; the offset is inside it and 8-aligned, and
        // guest RAM is only ever accessed with atomics or plain copies of guest data.
        Ok(unsafe { &*(page.add((paddr & 0xfff) as usize) as *const AtomicU64) })
    }
}

impl PhysMem for WalkMem<'_> {
    fn read_u64(&self, paddr: u64) -> Result<u64, PhysMemError> {
        Ok(u64::from_le(self.pte(paddr)?.load(Ordering::Acquire)))
    }

    fn compare_exchange_u64(
        &self,
        paddr: u64,
        current: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, PhysMemError> {
        let r = self.pte(paddr)?.compare_exchange(
            current.to_le(),
            new.to_le(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        Ok(r.map(u64::from_le).map_err(u64::from_le))
    }
}

impl AddressTranslator for RiscvMmu {
    fn translate(
        &self,
        env: *mut u8,
        vaddr: u64,
        access: Access,
        mmu_idx: u8,
    ) -> Result<PageMapping, FaultKind> {
        // SAFETY: the softmmu passes the CPU state of the vCPU whose access misses, a
        // RiscvSystemCpu in an engine running RiscvSystemGuest, owned by this thread.
        let cpu = unsafe { &mut *(env as *mut RiscvSystemCpu) };
        if cpu.phys.is_none() {
            cpu.phys = Some(Arc::clone(&self.phys));
        }
        let (eff, sum, mxr) = decode_mmu_idx(mmu_idx);
        let (pa, kind) = match access {
            Access::Read => (privileged::Access::Read, FaultKind::Read),
            Access::Write => (privileged::Access::Write, FaultKind::Write),
            Access::Exec => (privileged::Access::Exec, FaultKind::Exec),
        };
        let mem = WalkMem(&*self.phys);
        let r = match cpu.privs.translate_as(vaddr, 1, pa, eff, sum, mxr, &mem) {
            Ok(t) => {
                // `perms` covers the whole page; the access itself passed its own (byte
                // granular) PMP check even when PMP splits the page.
                if t.page_size > 4096 {
                    cpu.note_superpage(vaddr & !(t.page_size - 1), t.page_size);
                }
                let mut perms = t.perms;
                match pa {
                    privileged::Access::Read => perms.r = true,
                    privileged::Access::Write => perms.w = true,
                    privileged::Access::Exec => perms.x = true,
                }
                Ok(PageMapping {
                    paddr: t.paddr & !0xfff,
                    read: perms.r,
                    write: perms.w,
                    exec: perms.x,
                })
            }
            Err(trap) => {
                cpu.mmu_fault_cause = trap.cause;
                cpu.mmu_fault_addr = vaddr;
                Err(kind)
            }
        };
        if self.trace {
            self.trace_fill(cpu, vaddr, access, mmu_idx, &r);
        }
        r
    }
}
