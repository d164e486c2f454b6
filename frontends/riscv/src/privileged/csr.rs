//! Numbers of the machine- and supervisor-level CSRs that [`super::PrivState`] implements,
//! and the bit layouts of `mstatus`, `mip`/`mie` and `satp` (RISC-V privileged spec).

pub const SSTATUS: u16 = 0x100;
pub const SIE: u16 = 0x104;
pub const STVEC: u16 = 0x105;
pub const SCOUNTEREN: u16 = 0x106;
pub const SENVCFG: u16 = 0x10A;
pub const SSCRATCH: u16 = 0x140;
pub const SEPC: u16 = 0x141;
pub const SCAUSE: u16 = 0x142;
pub const STVAL: u16 = 0x143;
pub const SIP: u16 = 0x144;
pub const STIMECMP: u16 = 0x14D;
pub const SATP: u16 = 0x180;

pub const MSTATUS: u16 = 0x300;
pub const MISA: u16 = 0x301;
pub const MEDELEG: u16 = 0x302;
pub const MIDELEG: u16 = 0x303;
pub const MIE: u16 = 0x304;
pub const MTVEC: u16 = 0x305;
pub const MCOUNTEREN: u16 = 0x306;
pub const MENVCFG: u16 = 0x30A;
pub const MCOUNTINHIBIT: u16 = 0x320;
/// mhpmevent3..31 are 0x323..=0x33F.
pub const MHPMEVENT3: u16 = 0x323;
pub const MHPMEVENT31: u16 = 0x33F;
pub const MSCRATCH: u16 = 0x340;
pub const MEPC: u16 = 0x341;
pub const MCAUSE: u16 = 0x342;
pub const MTVAL: u16 = 0x343;
pub const MIP: u16 = 0x344;
/// pmpcfg0..15 are 0x3A0..=0x3AF (only the even ones exist on RV64).
pub const PMPCFG0: u16 = 0x3A0;
/// pmpaddr0..63 are 0x3B0..=0x3EF.
pub const PMPADDR0: u16 = 0x3B0;

pub const MCYCLE: u16 = 0xB00;
pub const MINSTRET: u16 = 0xB02;
/// mhpmcounter3..31 are 0xB03..=0xB1F.
pub const MHPMCOUNTER3: u16 = 0xB03;
pub const MHPMCOUNTER31: u16 = 0xB1F;
pub const CYCLE: u16 = 0xC00;
pub const TIME: u16 = 0xC01;
pub const INSTRET: u16 = 0xC02;
/// hpmcounter3..31 are 0xC03..=0xC1F.
pub const HPMCOUNTER3: u16 = 0xC03;
pub const HPMCOUNTER31: u16 = 0xC1F;

pub const MVENDORID: u16 = 0xF11;
pub const MARCHID: u16 = 0xF12;
pub const MIMPID: u16 = 0xF13;
pub const MHARTID: u16 = 0xF14;
pub const MCONFIGPTR: u16 = 0xF15;

/// `mstatus` fields.
pub mod status {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const SPIE: u64 = 1 << 5;
    pub const UBE: u64 = 1 << 6;
    pub const MPIE: u64 = 1 << 7;
    pub const SPP: u64 = 1 << 8;
    pub const VS: u64 = 3 << 9;
    pub const MPP_SHIFT: u32 = 11;
    pub const MPP: u64 = 3 << MPP_SHIFT;
    pub const FS_SHIFT: u32 = 13;
    pub const FS: u64 = 3 << FS_SHIFT;
    pub const XS: u64 = 3 << 15;
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
    pub const UXL: u64 = 3 << 32;
    pub const SXL: u64 = 3 << 34;
    pub const SBE: u64 = 1 << 36;
    pub const MBE: u64 = 1 << 37;
    pub const SD: u64 = 1 << 63;
    /// UXL = SXL = 2 (XLEN 64), hardwired.
    pub const XL64: u64 = (2 << 32) | (2 << 34);
    /// Bits of mstatus that software can change (all others are fixed or computed).
    pub const WRITABLE: u64 =
        SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR;
    /// Bits of mstatus visible through sstatus.
    pub const SSTATUS_VIEW: u64 = SIE | SPIE | UBE | SPP | VS | FS | XS | SUM | MXR | UXL | SD;
    /// Bits of mstatus that sstatus writes can change.
    pub const SSTATUS_WRITABLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR;
}

/// Interrupt numbers (bit positions in mip/mie; `mcause` code with the interrupt bit).
pub mod irq {
    pub const SSI: u64 = 1;
    pub const MSI: u64 = 3;
    pub const STI: u64 = 5;
    pub const MTI: u64 = 7;
    pub const SEI: u64 = 9;
    pub const MEI: u64 = 11;
    pub const SSIP: u64 = 1 << SSI;
    pub const MSIP: u64 = 1 << MSI;
    pub const STIP: u64 = 1 << STI;
    pub const MTIP: u64 = 1 << MTI;
    pub const SEIP: u64 = 1 << SEI;
    pub const MEIP: u64 = 1 << MEI;
    /// Supervisor-level interrupt bits (the only delegatable ones).
    pub const S_BITS: u64 = SSIP | STIP | SEIP;
    /// All implemented interrupt bits.
    pub const ALL: u64 = S_BITS | MSIP | MTIP | MEIP;
    /// Lines driven by devices (CLINT/ACLINT, PLIC), read-only in mip.
    pub const LINES: u64 = MSIP | MTIP | MEIP | SEIP;
    /// Priority order for taking interrupts (privileged spec, "Machine Interrupt Registers").
    pub const PRIORITY: [u64; 6] = [MEI, MSI, MTI, SEI, SSI, STI];
}

/// `satp` fields and MODE values (RV64).
pub mod satp {
    pub const MODE_SHIFT: u32 = 60;
    pub const ASID_SHIFT: u32 = 44;
    pub const ASID_MASK: u64 = 0xFFFF;
    pub const PPN_MASK: u64 = (1 << 44) - 1;
    pub const MODE_BARE: u64 = 0;
    pub const MODE_SV39: u64 = 8;
    pub const MODE_SV48: u64 = 9;
    pub const MODE_SV57: u64 = 10;
}

/// `menvcfg`/`senvcfg` fields.
pub mod envcfg {
    pub const FIOM: u64 = 1;
    /// Zicbom: `cbo.inval` enable for the lower privileges (WARL): 00 illegal, 01 runs as a
    /// flush, 11 invalidates; 10 is reserved (a write of it leaves the field unchanged).
    pub const CBIE: u64 = 3 << 4;
    pub const CBIE_SHIFT: u32 = 4;
    /// The reserved CBIE value.
    pub const CBIE_RESERVED: u64 = 2 << 4;
    /// Zicbom: `cbo.clean`/`cbo.flush` enable for the lower privileges.
    pub const CBCFE: u64 = 1 << 6;
    /// Zicboz: `cbo.zero` enable for the lower privileges.
    pub const CBZE: u64 = 1 << 7;
    /// Sstc: enables `stimecmp` for S-mode and makes mip.STIP reflect `time >= stimecmp`.
    pub const STCE: u64 = 1 << 63;
    /// Svpbmt (menvcfg only): the PBMT bits of leaf PTEs are valid for S/U translations.
    pub const PBMTE: u64 = 1 << 62;
}
