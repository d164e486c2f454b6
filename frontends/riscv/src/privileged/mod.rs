//! RISC-V privileged architecture of one hart, as plain Rust state: M/S/U privilege, the
//! machine and supervisor CSRs used by OpenSBI and Linux (with their WARL, read-only and
//! privilege rules), trap entry with delegation, `mret`/`sret`/`wfi`, interrupt selection,
//! PMP ([`pmp`]) and the Sv39/Sv48/Sv57 page-table walker ([`mmu`]).
//!
//! Nothing here touches generated code: the system-mode translator and softmmu call these
//! functions from helpers (CSR instructions, traps, TLB misses). Written from the RISC-V
//! privileged specification (version 1.12/1.13 with Sstc).
//!
//! Integration contract for the system-mode translator / softmmu:
//! - Zicsr on any CSR other than fflags/frm/fcsr: call [`PrivState::csr_rmw`] from a helper
//!   (it raises illegal instruction as a [`Trap`]); honour the returned [`WriteEffect`].
//! - `ecall`/`ebreak`/faults: [`PrivState::take_exception`] then continue at the returned pc.
//!   Interrupts: at block entry (or when a `WriteEffect::check_irq`/device event says so) ask
//!   [`PrivState::pending_interrupt`] and [`PrivState::take_trap`] with `is_interrupt`.
//! - `mret`/`sret`/`wfi`/`sfence.vma`: [`PrivState::mret`], [`PrivState::sret`],
//!   [`PrivState::wfi`] (+ [`PrivState::wfi_wakeup`]), [`PrivState::check_sfence_vma`]; all end
//!   the block, and privilege changes switch the MMU index.
//! - TLB miss: [`PrivState::translate`]; cache the page per access type in
//!   [`Translation::perms`]; index TLBs by [`PrivState::effective_priv`]; flush on
//!   `WriteEffect::flush_tlb`, `sfence.vma`, and PMP writes.

pub mod csr;
pub mod mmu;
pub mod pmp;
mod trap;

#[cfg(test)]
mod tests;

use crate::cpu::cause;
use csr::{envcfg, irq, status};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use mmu::{Access, Perms, PhysMem, PhysMemError, Translation};
pub use pmp::PMP_MAX;

/// Highest satp MODE this hart accepts (the default of [`PrivState::max_satp_mode`]): the
/// walker ([`mmu`]) handles any number of levels, and Sv39, Sv48 and Sv57 are all tested
/// (unit tests here, bare-metal programs in tests/guest/riscv64/bare). Writes of a larger or
/// reserved MODE leave satp unchanged (WARL).
pub const MAX_SATP_MODE: u64 = csr::satp::MODE_SV57;

/// The device-tree `mmu-type` naming satp MODE `mode` (None for Bare and reserved modes).
pub const fn mmu_type(mode: u64) -> Option<&'static str> {
    match mode {
        csr::satp::MODE_SV39 => Some("riscv,sv39"),
        csr::satp::MODE_SV48 => Some("riscv,sv48"),
        csr::satp::MODE_SV57 => Some("riscv,sv57"),
        _ => None,
    }
}

/// The `mmu-type` of heron's harts in the device tree: exactly [`MAX_SATP_MODE`] (Linux
/// caps its paging mode by it, then probes satp downwards from there).
pub const DT_MMU_TYPE: &str = match mmu_type(MAX_SATP_MODE) {
    Some(s) => s,
    None => panic!("MAX_SATP_MODE must be a paging mode"),
};

/// The device-tree `riscv,isa` of heron's harts in system mode: exactly what the frontend
/// and this module implement. Single letters: RV64 I M A F D C. Then Zicbom/Zicboz/Zicbop
/// (cache-block operations on [`CBO_BLOCK_SIZE`]-byte blocks, enabled for S and U by
/// menvcfg/senvcfg CBIE/CBCFE/CBZE: `cbo.zero` stores zeros, `cbo.clean/flush/inval` only
/// check access since heron has no caches, `prefetch.*` are no-op hints), Zicntr (cycle,
/// time, instret), Zicond, Zicsr, Zifencei, Zihintpause (`pause` lets the host run another
/// thread first: Linux's spin loops use it, so a spinning hart gives way to the one holding
/// the lock), Zihpm (hpmcounter3..31 exist and count nothing, which the spec allows),
/// Zba/Zbb/Zbs, Sstc and Svpbmt (menvcfg.PBMTE; PBMT values 0-2 are accepted and change
/// nothing, since all of heron's memory is coherent and device accesses are never cached;
/// 3 is a page fault).
/// Not listed because not implemented: V, H, Zfh, Zfa, Zbc, Zawrs, Zacas, Svnapot,
/// Svinval, Svadu/Svade (A/D bits are updated by the walker, menvcfg.ADUE does not
/// exist). The board also gives it as `riscv,isa-base` + `riscv,isa-extensions`, and
/// announces the block size as `riscv,cbom/cboz/cbop-block-size`.
pub const DT_ISA: &str = concat!(
    "rv64imafdc_zicbom_zicbop_zicboz_zicntr_zicond_zicsr_zifencei_zihintpause_zihpm",
    "_zba_zbb_zbs_sstc_svpbmt"
);

/// Size in bytes of the cache block every Zicbom/Zicboz/Zicbop instruction acts on (the
/// device tree's `riscv,cbom-block-size`, `riscv,cboz-block-size`, `riscv,cbop-block-size`).
pub const CBO_BLOCK_SIZE: u64 = 64;

/// Which cache-block operations a privilege level may execute (Zicbom/Zicboz, from
/// menvcfg and senvcfg; see [`PrivState::cbo_enables`]). A disabled one raises illegal
/// instruction. (Whether an enabled `cbo.inval` invalidates or flushes makes no
/// difference to heron, which has no caches.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CboEnables {
    /// `cbo.zero` (CBZE).
    pub zero: bool,
    /// `cbo.clean` and `cbo.flush` (CBCFE).
    pub clean_flush: bool,
    /// `cbo.inval` (CBIE != 00).
    pub inval: bool,
}

/// Privilege level (the encoding used in mstatus.MPP and `priv` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Priv {
    User = 0,
    Supervisor = 1,
    Machine = 3,
}

impl Priv {
    /// Decodes an MPP/SPP value; the reserved value 2 gives `None`.
    pub fn from_bits(bits: u64) -> Option<Priv> {
        match bits {
            0 => Some(Priv::User),
            1 => Some(Priv::Supervisor),
            3 => Some(Priv::Machine),
            _ => None,
        }
    }
}

/// A synchronous exception: `cause` is the mcause/scause exception code (see
/// [`crate::cpu::cause`]), `tval` the trap value.
///
/// For illegal-instruction traps raised by this module `tval` is 0; the caller, who knows the
/// instruction bits, may put them there instead (both are allowed by the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trap {
    pub cause: u64,
    pub tval: u64,
}

impl Trap {
    pub const fn illegal() -> Trap {
        Trap {
            cause: cause::ILLEGAL_INSN,
            tval: 0,
        }
    }
}

/// What a CSR write changed, for the translator and the execution loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteEffect {
    /// Address translation changed (satp, or mstatus MPRV/MPP-under-MPRV/SUM/MXR): the
    /// softmmu must flush its TLBs (or switch MMU index) before the next memory access.
    pub flush_tlb: bool,
    /// State the translator may have folded into the current block changed (the above, or
    /// mstatus FS/TVM/TW/TSR, or anything in `check_irq`): end the block after this
    /// instruction.
    pub end_block: bool,
    /// Interrupt enables/pending/delegation changed: call [`PrivState::pending_interrupt`]
    /// before executing the next instruction.
    pub check_irq: bool,
}

impl WriteEffect {
    fn or(self, o: WriteEffect) -> WriteEffect {
        WriteEffect {
            flush_tlb: self.flush_tlb || o.flush_tlb,
            end_block: self.end_block || o.end_block,
            check_irq: self.check_irq || o.check_irq,
        }
    }
    const IRQ: WriteEffect = WriteEffect {
        flush_tlb: false,
        end_block: true,
        check_irq: true,
    };
    const TLB: WriteEffect = WriteEffect {
        flush_tlb: true,
        end_block: true,
        check_irq: false,
    };
    const BLOCK: WriteEffect = WriteEffect {
        flush_tlb: false,
        end_block: true,
        check_irq: false,
    };
}

/// The operation of a Zicsr instruction, for [`PrivState::csr_rmw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrOp {
    /// csrrw/csrrwi
    Write,
    /// csrrs/csrrsi
    Set,
    /// csrrc/csrrci
    Clear,
}

/// A counter read callback (`time`, retired instructions).
pub type CounterFn = Box<dyn Fn() -> u64 + Send>;

/// misa letters: I M A F D C + B (Zba/Zbb/Zbs, all of which the frontend implements) + S U.
pub const MISA_RV64GCBSU: u64 = (2 << 62)
    | (1 << 0)   // A
    | (1 << 1)   // B
    | (1 << 2)   // C
    | (1 << 3)   // D
    | (1 << 5)   // F
    | (1 << 8)   // I
    | (1 << 12)  // M
    | (1 << 18)  // S
    | (1 << 20); // U

/// Privileged state of one hart. Fields that have no side-effect rules are public; the others
/// go through [`PrivState::csr_read`]/[`PrivState::csr_write`] and the trap functions.
pub struct PrivState {
    /// Current privilege level.
    pub priv_level: Priv,
    /// mhartid.
    pub hartid: u64,
    /// mvendorid / marchid / mimpid (0 = not implemented / non-commercial).
    pub mvendorid: u64,
    pub marchid: u64,
    pub mimpid: u64,
    /// misa (read-only here: writes are ignored, which WARL allows).
    pub misa: u64,
    /// Highest satp MODE accepted (`csr::satp::MODE_SV39/48/57`); larger modes are WARL-rejected.
    pub max_satp_mode: u64,
    /// Number of implemented ASID bits (0..=16).
    pub asid_bits: u32,
    /// Hardware update of PTE A/D bits (true, the default) or a page fault when they need
    /// setting (Svade behaviour). Neither Svadu nor Svade is advertised; menvcfg.ADUE is
    /// not implemented (reads 0).
    pub hw_ad_update: bool,
    mstatus: u64,
    medeleg: u64,
    mideleg: u64,
    mie: u64,
    /// Software-writable mip bits (SSIP, SEIP, and STIP when menvcfg.STCE = 0).
    mip_sw: u64,
    /// Interrupt lines driven by devices (MSIP, MTIP, MEIP, SEIP); shared with device threads.
    irq_lines: Arc<AtomicU64>,
    mtvec: u64,
    stvec: u64,
    pub mscratch: u64,
    pub sscratch: u64,
    mepc: u64,
    sepc: u64,
    pub mcause: u64,
    pub scause: u64,
    pub mtval: u64,
    pub stval: u64,
    satp: u64,
    mcounteren: u64,
    scounteren: u64,
    menvcfg: u64,
    senvcfg: u64,
    stimecmp: u64,
    mcountinhibit: u64,
    /// mcycle = retired + cycle_off (while not inhibited); same for minstret.
    cycle_off: u64,
    instret_off: u64,
    cycle_frozen: u64,
    instret_frozen: u64,
    time_fn: Option<CounterFn>,
    retired_fn: Option<CounterFn>,
    /// Retired-instruction count used when no [`PrivState::set_retired_source`] is set: the
    /// system-mode translator adds each block's instruction count to it at block entry.
    pub retired_count: u64,
    pub(crate) pmp: pmp::Pmp,
}

/// Byte offset of mstatus inside [`PrivState`] (generated code sets mstatus.FS inline).
pub(crate) const MSTATUS_OFFSET: usize = std::mem::offset_of!(PrivState, mstatus);
/// Byte offset of [`PrivState::retired_count`].
pub(crate) const RETIRED_OFFSET: usize = std::mem::offset_of!(PrivState, retired_count);

impl std::fmt::Debug for PrivState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivState")
            .field("priv", &self.priv_level)
            .field("mstatus", &format_args!("{:#x}", self.mstatus))
            .field("satp", &format_args!("{:#x}", self.satp))
            .field("mepc", &format_args!("{:#x}", self.mepc))
            .field("sepc", &format_args!("{:#x}", self.sepc))
            .finish_non_exhaustive()
    }
}

impl PrivState {
    /// Reset state of hart `hartid` (privileged spec "Reset"): M-mode, MIE = MPRV = 0,
    /// misa at its maximal value, satp Bare, `pmp_entries` PMP entries (0..=64) all OFF.
    pub fn new(hartid: u64, pmp_entries: usize) -> PrivState {
        PrivState {
            priv_level: Priv::Machine,
            hartid,
            mvendorid: 0,
            marchid: 0,
            mimpid: 0,
            misa: MISA_RV64GCBSU,
            max_satp_mode: MAX_SATP_MODE,
            asid_bits: 16,
            hw_ad_update: true,
            mstatus: status::XL64,
            medeleg: 0,
            mideleg: 0,
            mie: 0,
            mip_sw: 0,
            irq_lines: Arc::new(AtomicU64::new(0)),
            mtvec: 0,
            stvec: 0,
            mscratch: 0,
            sscratch: 0,
            mepc: 0,
            sepc: 0,
            mcause: 0,
            scause: 0,
            mtval: 0,
            stval: 0,
            satp: 0,
            mcounteren: 0,
            scounteren: 0,
            menvcfg: 0,
            senvcfg: 0,
            stimecmp: u64::MAX,
            mcountinhibit: 0,
            cycle_off: 0,
            instret_off: 0,
            cycle_frozen: 0,
            instret_frozen: 0,
            time_fn: None,
            retired_fn: None,
            retired_count: 0,
            pmp: pmp::Pmp::new(pmp_entries),
        }
    }

    /// Sets the source of the `time` CSR (mtime of the board's ACLINT). Without one, `time`
    /// and `stimecmp` do not exist (illegal instruction; firmware then emulates `rdtime`).
    pub fn set_time_source(&mut self, f: CounterFn) {
        self.time_fn = Some(f);
    }

    /// Sets the source of the retired-instruction count that drives mcycle/minstret (and
    /// cycle/instret). Without one, [`PrivState::retired_count`] is used.
    pub fn set_retired_source(&mut self, f: CounterFn) {
        self.retired_fn = Some(f);
    }

    /// The device interrupt lines (bits of [`csr::irq::LINES`] in mip layout). Devices set and
    /// clear bits with `fetch_or`/`fetch_and`, from any thread; the hart sees them in mip.
    pub fn irq_lines(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.irq_lines)
    }

    /// Sets or clears device interrupt line(s) `mask` (a subset of [`csr::irq::LINES`]).
    pub fn set_irq_line(&self, mask: u64, level: bool) {
        let mask = mask & irq::LINES;
        if level {
            self.irq_lines.fetch_or(mask, Ordering::SeqCst);
        } else {
            self.irq_lines.fetch_and(!mask, Ordering::SeqCst);
        }
    }

    // ---- plain accessors ----

    pub fn mstatus(&self) -> u64 {
        let fs_dirty = self.mstatus & status::FS == status::FS;
        self.mstatus | if fs_dirty { status::SD } else { 0 }
    }
    pub fn satp(&self) -> u64 {
        self.satp
    }
    pub fn medeleg(&self) -> u64 {
        self.medeleg
    }
    pub fn mideleg(&self) -> u64 {
        self.mideleg
    }
    pub fn mie(&self) -> u64 {
        self.mie
    }
    pub fn mepc(&self) -> u64 {
        self.mepc
    }
    pub fn sepc(&self) -> u64 {
        self.sepc
    }
    pub fn mtvec(&self) -> u64 {
        self.mtvec
    }
    pub fn stvec(&self) -> u64 {
        self.stvec
    }
    pub fn menvcfg(&self) -> u64 {
        self.menvcfg
    }
    pub fn senvcfg(&self) -> u64 {
        self.senvcfg
    }

    /// The cache-block operations `priv_level` may execute (CMO spec, "Control and Status
    /// Register State"): all in M-mode; in S-mode those enabled in menvcfg; in U-mode those
    /// enabled in both menvcfg and senvcfg.
    pub fn cbo_enables(&self, priv_level: Priv) -> CboEnables {
        let (m, s) = (self.menvcfg, self.senvcfg);
        let on = |field: u64| match priv_level {
            Priv::Machine => true,
            Priv::Supervisor => m & field != 0,
            Priv::User => m & field != 0 && s & field != 0,
        };
        CboEnables {
            zero: on(envcfg::CBZE),
            clean_flush: on(envcfg::CBCFE),
            inval: on(envcfg::CBIE),
        }
    }
    pub fn stimecmp(&self) -> u64 {
        self.stimecmp
    }

    /// Whether FP instructions and fflags/frm/fcsr are enabled (mstatus.FS != Off).
    pub fn fp_enabled(&self) -> bool {
        self.mstatus & status::FS != 0
    }

    /// Records that FP state was written (FS := Dirty). Helpers for FP instructions that
    /// change f-registers or fcsr call this (or the translator sets FS inline).
    pub fn mark_fs_dirty(&mut self) {
        self.mstatus |= status::FS;
    }

    /// The current `time` (the board's mtime), if a time source is set.
    pub fn time(&self) -> Option<u64> {
        self.time_fn.as_ref().map(|f| f())
    }

    fn retired(&self) -> u64 {
        self.retired_fn.as_ref().map_or(self.retired_count, |f| f())
    }

    pub fn mcounteren(&self) -> u64 {
        self.mcounteren
    }
    pub fn scounteren(&self) -> u64 {
        self.scounteren
    }

    /// mip as read by software: software bits, device lines, and STIP from Sstc.
    pub fn mip(&self) -> u64 {
        let mut v = self.mip_sw | self.irq_lines.load(Ordering::SeqCst) & irq::LINES;
        if self.menvcfg & envcfg::STCE != 0 {
            v &= !irq::STIP;
            if self.time().is_some_and(|t| t >= self.stimecmp) {
                v |= irq::STIP;
            }
        }
        v
    }

    fn mip_writable(&self) -> u64 {
        if self.menvcfg & envcfg::STCE != 0 {
            irq::SSIP | irq::SEIP
        } else {
            irq::SSIP | irq::STIP | irq::SEIP
        }
    }

    // ---- CSR access ----

    /// Checks that `num` exists and that `priv_level` may access it (reads only; writes add
    /// the read-only check). Returns Err(illegal instruction) otherwise.
    fn check_access(&self, num: u16, priv_level: Priv) -> Result<(), Trap> {
        let min_priv = u64::from((num >> 8) & 3);
        if (priv_level as u64) < min_priv {
            return Err(Trap::illegal());
        }
        // Counter visibility (mcounteren / scounteren).
        if (csr::CYCLE..=csr::HPMCOUNTER31).contains(&num) {
            let bit = 1u64 << (num - csr::CYCLE);
            if num == csr::TIME && self.time_fn.is_none() {
                return Err(Trap::illegal());
            }
            if priv_level < Priv::Machine && self.mcounteren & bit == 0 {
                return Err(Trap::illegal());
            }
            if priv_level < Priv::Supervisor && self.scounteren & bit == 0 {
                return Err(Trap::illegal());
            }
        }
        match num {
            csr::SATP if priv_level == Priv::Supervisor && self.mstatus & status::TVM != 0 => {
                Err(Trap::illegal())
            }
            csr::STIMECMP => {
                if self.time_fn.is_none() {
                    return Err(Trap::illegal());
                }
                let stce = self.menvcfg & envcfg::STCE != 0;
                let tm = self.mcounteren & 2 != 0;
                if priv_level < Priv::Machine && !(stce && tm) {
                    return Err(Trap::illegal());
                }
                Ok(())
            }
            _ if self.exists(num) => Ok(()),
            _ => Err(Trap::illegal()),
        }
    }

    fn exists(&self, num: u16) -> bool {
        matches!(
            num,
            csr::SSTATUS
                | csr::SIE
                | csr::STVEC
                | csr::SCOUNTEREN
                | csr::SENVCFG
                | csr::SSCRATCH
                | csr::SEPC
                | csr::SCAUSE
                | csr::STVAL
                | csr::SIP
                | csr::STIMECMP
                | csr::SATP
                | csr::MSTATUS
                | csr::MISA
                | csr::MEDELEG
                | csr::MIDELEG
                | csr::MIE
                | csr::MTVEC
                | csr::MCOUNTEREN
                | csr::MENVCFG
                | csr::MCOUNTINHIBIT
                | csr::MHPMEVENT3..=csr::MHPMEVENT31
                | csr::MSCRATCH
                | csr::MEPC
                | csr::MCAUSE
                | csr::MTVAL
                | csr::MIP
                | csr::PMPADDR0..=0x3EF
                | csr::MCYCLE
                | csr::MINSTRET
                | csr::MHPMCOUNTER3..=csr::MHPMCOUNTER31
                | csr::CYCLE..=csr::HPMCOUNTER31
                | csr::MVENDORID..=csr::MCONFIGPTR
        ) || ((csr::PMPCFG0..=0x3AF).contains(&num) && num.is_multiple_of(2))
    }

    fn mcycle(&self) -> u64 {
        if self.mcountinhibit & 1 != 0 {
            self.cycle_frozen
        } else {
            self.retired().wrapping_add(self.cycle_off)
        }
    }

    fn minstret(&self) -> u64 {
        if self.mcountinhibit & 4 != 0 {
            self.instret_frozen
        } else {
            self.retired().wrapping_add(self.instret_off)
        }
    }

    /// Reads CSR `num` at privilege `priv_level` (csrr). Err = illegal instruction.
    /// fflags/frm/fcsr live in [`crate::RiscvCpu`] and are not handled here.
    pub fn csr_read(&self, num: u16, priv_level: Priv) -> Result<u64, Trap> {
        self.check_access(num, priv_level)?;
        Ok(self.read_unchecked(num))
    }

    fn read_unchecked(&self, num: u16) -> u64 {
        match num {
            csr::SSTATUS => self.mstatus() & status::SSTATUS_VIEW,
            csr::SIE => self.mie & self.mideleg & irq::S_BITS,
            csr::STVEC => self.stvec,
            csr::SCOUNTEREN => self.scounteren,
            csr::SENVCFG => self.senvcfg,
            csr::SSCRATCH => self.sscratch,
            csr::SEPC => self.sepc & !1,
            csr::SCAUSE => self.scause,
            csr::STVAL => self.stval,
            csr::SIP => self.mip() & self.mideleg & irq::S_BITS,
            csr::STIMECMP => self.stimecmp,
            csr::SATP => self.satp,
            csr::MSTATUS => self.mstatus(),
            csr::MISA => self.misa,
            csr::MEDELEG => self.medeleg,
            csr::MIDELEG => self.mideleg,
            csr::MIE => self.mie,
            csr::MTVEC => self.mtvec,
            csr::MCOUNTEREN => self.mcounteren,
            csr::MENVCFG => self.menvcfg,
            csr::MCOUNTINHIBIT => self.mcountinhibit,
            csr::MSCRATCH => self.mscratch,
            csr::MEPC => self.mepc & !1,
            csr::MCAUSE => self.mcause,
            csr::MTVAL => self.mtval,
            csr::MIP => self.mip(),
            csr::MCYCLE | csr::CYCLE => self.mcycle(),
            csr::MINSTRET | csr::INSTRET => self.minstret(),
            csr::TIME => self.time().unwrap_or(0),
            csr::MVENDORID => self.mvendorid,
            csr::MARCHID => self.marchid,
            csr::MIMPID => self.mimpid,
            csr::MHARTID => self.hartid,
            n if (csr::PMPCFG0..=0x3AF).contains(&n) => self.pmp.read_cfg(usize::from(n - 0x3A0)),
            n if (csr::PMPADDR0..=0x3EF).contains(&n) => {
                self.pmp.read_addr(usize::from(n - csr::PMPADDR0))
            }
            // mhpmcounter3..31, hpmcounter3..31, mhpmevent3..31, mconfigptr: hardwired 0.
            _ => 0,
        }
    }

    /// Writes CSR `num` at privilege `priv_level` (csrw). Err = illegal instruction (absent
    /// CSR, insufficient privilege, read-only CSR, TVM/Sstc/counteren gates).
    pub fn csr_write(
        &mut self,
        num: u16,
        value: u64,
        priv_level: Priv,
    ) -> Result<WriteEffect, Trap> {
        self.check_access(num, priv_level)?;
        if (num >> 10) & 3 == 3 {
            return Err(Trap::illegal());
        }
        Ok(self.write_unchecked(num, value))
    }

    /// A whole Zicsr instruction: reads the old value (returned, for rd), and writes unless
    /// the instruction is csrrs/csrrc with a zero operand register/immediate (`writes` =
    /// false), as the spec requires (such reads of read-only CSRs are legal). For mip/sip the
    /// read-modify-write uses only the software-writable SEIP bit.
    pub fn csr_rmw(
        &mut self,
        num: u16,
        op: CsrOp,
        operand: u64,
        writes: bool,
        priv_level: Priv,
    ) -> Result<(u64, WriteEffect), Trap> {
        let old = self.csr_read(num, priv_level)?;
        if !writes {
            return Ok((old, WriteEffect::default()));
        }
        let base = match num {
            csr::MIP | csr::SIP => (old & !irq::SEIP) | (self.mip_sw & irq::SEIP),
            _ => old,
        };
        let new = match op {
            CsrOp::Write => operand,
            CsrOp::Set => base | operand,
            CsrOp::Clear => base & !operand,
        };
        let eff = self.csr_write(num, new, priv_level)?;
        Ok((old, eff))
    }

    fn write_unchecked(&mut self, num: u16, v: u64) -> WriteEffect {
        match num {
            csr::SSTATUS => {
                let m = status::SSTATUS_WRITABLE;
                self.write_mstatus((self.mstatus & !m) | (v & m))
            }
            csr::SIE => {
                let m = self.mideleg & irq::S_BITS;
                self.mie = (self.mie & !m) | (v & m);
                WriteEffect::IRQ
            }
            csr::STVEC => {
                self.stvec = tvec_warl(self.stvec, v);
                WriteEffect::default()
            }
            csr::SCOUNTEREN => {
                self.scounteren = v & 0xFFFF_FFFF;
                WriteEffect::default()
            }
            csr::SENVCFG => {
                let old = self.senvcfg;
                self.senvcfg = envcfg_warl(old, v, ENVCFG_COMMON);
                if (old ^ self.senvcfg) & ENVCFG_CBO != 0 {
                    // Which CBO instructions U-mode may execute changed.
                    WriteEffect::BLOCK
                } else {
                    WriteEffect::default()
                }
            }
            csr::SSCRATCH => {
                self.sscratch = v;
                WriteEffect::default()
            }
            csr::SEPC => {
                self.sepc = v & !1;
                WriteEffect::default()
            }
            csr::SCAUSE => {
                self.scause = v;
                WriteEffect::default()
            }
            csr::STVAL => {
                self.stval = v;
                WriteEffect::default()
            }
            csr::SIP => {
                let m = self.mideleg & irq::SSIP;
                self.mip_sw = (self.mip_sw & !m) | (v & m);
                WriteEffect::IRQ
            }
            csr::STIMECMP => {
                self.stimecmp = v;
                WriteEffect::IRQ
            }
            csr::SATP => self.write_satp(v),
            csr::MSTATUS => self.write_mstatus(v),
            csr::MISA => WriteEffect::default(),
            csr::MEDELEG => {
                // Every implemented exception except ecall from M (11) is delegatable.
                const DELEGABLE: u64 = 0xB3FF & !(1 << 11);
                self.medeleg = v & DELEGABLE;
                WriteEffect::default()
            }
            csr::MIDELEG => {
                self.mideleg = v & irq::S_BITS;
                WriteEffect::IRQ
            }
            csr::MIE => {
                self.mie = v & irq::ALL;
                WriteEffect::IRQ
            }
            csr::MTVEC => {
                self.mtvec = tvec_warl(self.mtvec, v);
                WriteEffect::default()
            }
            csr::MCOUNTEREN => {
                self.mcounteren = v & 0xFFFF_FFFF;
                WriteEffect::default()
            }
            csr::MENVCFG => {
                let old = self.menvcfg;
                self.menvcfg = envcfg_warl(old, v, ENVCFG_COMMON | envcfg::STCE | envcfg::PBMTE);
                if (old ^ self.menvcfg) & envcfg::PBMTE != 0 {
                    // PTEs read differently now: no cached translation may survive.
                    WriteEffect::IRQ.or(WriteEffect::TLB)
                } else {
                    WriteEffect::IRQ
                }
            }
            csr::MCOUNTINHIBIT => {
                let v = v & 0b101;
                let (cy, ir) = (self.mcycle(), self.minstret());
                self.mcountinhibit = v;
                self.set_mcycle(cy);
                self.set_minstret(ir);
                WriteEffect::default()
            }
            csr::MSCRATCH => {
                self.mscratch = v;
                WriteEffect::default()
            }
            csr::MEPC => {
                self.mepc = v & !1;
                WriteEffect::default()
            }
            csr::MCAUSE => {
                self.mcause = v;
                WriteEffect::default()
            }
            csr::MTVAL => {
                self.mtval = v;
                WriteEffect::default()
            }
            csr::MIP => {
                let m = self.mip_writable();
                self.mip_sw = (self.mip_sw & !m) | (v & m);
                WriteEffect::IRQ
            }
            csr::MCYCLE => {
                self.set_mcycle(v);
                WriteEffect::default()
            }
            csr::MINSTRET => {
                self.set_minstret(v);
                WriteEffect::default()
            }
            n if (csr::PMPCFG0..=0x3AF).contains(&n) => {
                self.pmp.write_cfg(usize::from(n - csr::PMPCFG0), v);
                WriteEffect::TLB
            }
            n if (csr::PMPADDR0..=0x3EF).contains(&n) => {
                self.pmp.write_addr(usize::from(n - csr::PMPADDR0), v);
                WriteEffect::TLB
            }
            // mhpmcounter3..31 / mhpmevent3..31: hardwired zero, writes ignored.
            _ => WriteEffect::default(),
        }
    }

    fn set_mcycle(&mut self, v: u64) {
        self.cycle_frozen = v;
        self.cycle_off = v.wrapping_sub(self.retired());
    }

    fn set_minstret(&mut self, v: u64) {
        self.instret_frozen = v;
        self.instret_off = v.wrapping_sub(self.retired());
    }

    fn write_mstatus(&mut self, v: u64) -> WriteEffect {
        let old = self.mstatus;
        let mut new = (old & !status::WRITABLE) | (v & status::WRITABLE);
        // MPP is WARL over {U, S, M}: the reserved value 2 leaves the field unchanged.
        if Priv::from_bits((new & status::MPP) >> status::MPP_SHIFT).is_none() {
            new = (new & !status::MPP) | (old & status::MPP);
        }
        new = (new & !(status::UXL | status::SXL | status::SD)) | status::XL64;
        self.mstatus = new;
        let changed = old ^ new;
        let mut eff = WriteEffect::default();
        let mprv_on = new & status::MPRV != 0;
        if changed & (status::MPRV | status::SUM | status::MXR) != 0
            || (mprv_on && changed & status::MPP != 0)
        {
            eff = eff.or(WriteEffect::TLB);
        }
        if changed & (status::FS | status::TVM | status::TW | status::TSR) != 0 {
            eff = eff.or(WriteEffect::BLOCK);
        }
        if changed & (status::MIE | status::SIE) != 0 {
            eff = eff.or(WriteEffect::IRQ);
        }
        eff
    }

    fn write_satp(&mut self, v: u64) -> WriteEffect {
        let mode = v >> csr::satp::MODE_SHIFT;
        let supported = mode == csr::satp::MODE_BARE
            || (csr::satp::MODE_SV39..=self.max_satp_mode).contains(&mode);
        if !supported {
            // "If satp is written with an unsupported MODE, the entire write has no effect."
            return WriteEffect::default();
        }
        let asid_mask = (1u64 << self.asid_bits.min(16)) - 1;
        let asid = (v >> csr::satp::ASID_SHIFT) & asid_mask;
        let new = (mode << csr::satp::MODE_SHIFT)
            | (asid << csr::satp::ASID_SHIFT)
            | (v & csr::satp::PPN_MASK);
        let changed = new != self.satp;
        self.satp = new;
        if changed {
            WriteEffect::TLB
        } else {
            WriteEffect::default()
        }
    }

    /// `sfence.vma` legality: illegal in U-mode, and in S-mode when mstatus.TVM = 1. On Ok the
    /// caller flushes the TLB (all, or the given address/ASID) and ends the block.
    pub fn check_sfence_vma(&self, priv_level: Priv) -> Result<(), Trap> {
        match priv_level {
            Priv::User => Err(Trap::illegal()),
            Priv::Supervisor if self.mstatus & status::TVM != 0 => Err(Trap::illegal()),
            _ => Ok(()),
        }
    }
}

/// The menvcfg/senvcfg fields of the CMO extensions.
const ENVCFG_CBO: u64 = envcfg::CBIE | envcfg::CBCFE | envcfg::CBZE;
/// The fields menvcfg and senvcfg both implement.
const ENVCFG_COMMON: u64 = envcfg::FIOM | ENVCFG_CBO;

/// WARL rule of menvcfg/senvcfg: the implemented fields (`mask`) of `v`, except that the
/// reserved CBIE value 10 keeps the old CBIE.
fn envcfg_warl(old: u64, v: u64, mask: u64) -> u64 {
    let mut new = v & mask;
    if new & envcfg::CBIE == envcfg::CBIE_RESERVED {
        new = (new & !envcfg::CBIE) | (old & envcfg::CBIE);
    }
    new
}

/// WARL rule of mtvec/stvec: BASE is 4-byte aligned; MODE 0 (direct) and 1 (vectored) are
/// legal, a reserved MODE (>= 2) keeps the previous mode.
fn tvec_warl(old: u64, v: u64) -> u64 {
    let mode = if v & 3 < 2 { v & 3 } else { old & 3 };
    (v & !3) | mode
}
