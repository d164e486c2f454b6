//! The AArch64 vCPU state (EL0 view) as generated code sees it: a `#[repr(C)]` struct whose
//! fields are IR globals at fixed offsets (the backend's [`CpuHeader`] first), plus the
//! syndrome values recorded with `ExitStatus::Exception`.

use heron_backend::CpuHeader;
use std::mem::offset_of;

/// Exception syndromes stored in [`A64Cpu::exc_syndrome`]: the exception class in bits
/// 31..26 and the instruction-specific syndrome below, as in ESR_ELx.
pub mod esr {
    /// Unknown reason: an undefined or unallocated instruction (guest SIGILL).
    pub const EC_UNKNOWN: u64 = 0x00;
    /// SVC from AArch64; ISS = the 16-bit immediate.
    pub const EC_SVC64: u64 = 0x15;
    /// BRK from AArch64; ISS = the 16-bit immediate (guest SIGTRAP).
    pub const EC_BRK64: u64 = 0x3c;
    /// Exception class of a syndrome.
    pub const fn ec(syndrome: u64) -> u64 {
        (syndrome >> 26) & 0x3f
    }
    /// Instruction-specific syndrome (low 25 bits).
    pub const fn iss(syndrome: u64) -> u64 {
        syndrome & 0x1ff_ffff
    }
    /// A syndrome from its class and ISS.
    pub const fn make(ec: u64, iss: u64) -> u64 {
        (ec << 26) | (iss & 0x1ff_ffff)
    }
}

/// One AArch64 vCPU at EL0.
#[repr(C)]
#[derive(Debug)]
pub struct A64Cpu {
    /// Backend header; `hdr.pc` is the PC.
    pub hdr: CpuHeader,
    /// x0..x30; `x[31]` is SP_EL0 (XZR is never stored).
    pub x: [u64; 32],
    /// SIMD&FP registers V0..V31, lane 0 in the low bits (16-byte aligned).
    pub v: [u128; 32],
    /// FPCR (rounding mode, FZ, DN, AHP...).
    pub fpcr: u64,
    /// FPSR: cumulative exception flags IOC..IDC and QC.
    pub fpsr: u64,
    pub tpidr_el0: u64,
    pub tpidrro_el0: u64,
    /// PSTATE.N, .Z, .C, .V, each 0 or 1. Use [`A64Cpu::nzcv`] / the translator's
    /// `get_nzcv`/`set_nzcv` rather than these fields.
    pub nf: u64,
    pub zf: u64,
    pub cf: u64,
    pub vf: u64,
    /// Exclusive monitor: address of the last load-exclusive, or `u64::MAX` when open.
    pub excl_addr: u64,
    /// Value (low 64 bits for a pair) read by the last load-exclusive.
    pub excl_val: u64,
    /// High 64 bits (second register) read by the last load-exclusive pair.
    pub excl_val2: u64,
    /// Why the last `ExitStatus::Exception` happened (see [`esr`]).
    pub exc_syndrome: u64,
}

impl Default for A64Cpu {
    fn default() -> Self {
        A64Cpu {
            hdr: CpuHeader::default(),
            x: [0; 32],
            v: [0; 32],
            fpcr: 0,
            fpsr: 0,
            tpidr_el0: 0,
            tpidrro_el0: 0,
            nf: 0,
            zf: 0,
            cf: 0,
            vf: 0,
            excl_addr: u64::MAX,
            excl_val: 0,
            excl_val2: 0,
            exc_syndrome: 0,
        }
    }
}

impl A64Cpu {
    /// PSTATE.NZCV in the NZCV system register layout (bits 31..28).
    pub fn nzcv(&self) -> u64 {
        (self.nf & 1) << 31 | (self.zf & 1) << 30 | (self.cf & 1) << 29 | (self.vf & 1) << 28
    }
    /// Set PSTATE.NZCV from bits 31..28 of `v`.
    pub fn set_nzcv(&mut self, v: u64) {
        self.nf = (v >> 31) & 1;
        self.zf = (v >> 30) & 1;
        self.cf = (v >> 29) & 1;
        self.vf = (v >> 28) & 1;
    }
    /// SP_EL0.
    pub fn sp(&self) -> u64 {
        self.x[31]
    }
}

/// Offsets of the CPU state fields, for IR globals.
pub mod off {
    use super::*;
    pub const PC: u32 = offset_of!(A64Cpu, hdr) as u32;
    pub const X0: u32 = offset_of!(A64Cpu, x) as u32;
    pub const SP: u32 = X0 + 8 * 31;
    pub const V0: u32 = offset_of!(A64Cpu, v) as u32;
    pub const FPCR: u32 = offset_of!(A64Cpu, fpcr) as u32;
    pub const FPSR: u32 = offset_of!(A64Cpu, fpsr) as u32;
    pub const TPIDR_EL0: u32 = offset_of!(A64Cpu, tpidr_el0) as u32;
    pub const TPIDRRO_EL0: u32 = offset_of!(A64Cpu, tpidrro_el0) as u32;
    pub const NF: u32 = offset_of!(A64Cpu, nf) as u32;
    pub const ZF: u32 = offset_of!(A64Cpu, zf) as u32;
    pub const CF: u32 = offset_of!(A64Cpu, cf) as u32;
    pub const VF: u32 = offset_of!(A64Cpu, vf) as u32;
    pub const EXCL_ADDR: u32 = offset_of!(A64Cpu, excl_addr) as u32;
    pub const EXCL_VAL: u32 = offset_of!(A64Cpu, excl_val) as u32;
    pub const EXCL_VAL2: u32 = offset_of!(A64Cpu, excl_val2) as u32;
    pub const EXC_SYNDROME: u32 = offset_of!(A64Cpu, exc_syndrome) as u32;
    pub const END: u32 = std::mem::size_of::<A64Cpu>() as u32;

    /// Offset of general register `n` (0..=30; 31 is SP).
    pub const fn x(n: u32) -> u32 {
        X0 + 8 * n
    }
    /// Offset of SIMD&FP register `n` (its low lane; 16 bytes).
    pub const fn v(n: u32) -> u32 {
        V0 + 16 * n
    }
}

/// Name of the global at `offset`, for IR text.
pub fn global_name(offset: u32) -> Option<String> {
    use off::*;
    if (X0..X0 + 248).contains(&offset) && (offset - X0).is_multiple_of(8) {
        return Some(format!("x{}", (offset - X0) / 8));
    }
    if (V0..V0 + 512).contains(&offset) {
        let rel = offset - V0;
        return Some(if rel.is_multiple_of(16) {
            format!("v{}", rel / 16)
        } else {
            format!("v{}+{}", rel / 16, rel % 16)
        });
    }
    Some(
        match offset {
            PC => "pc",
            SP => "sp",
            FPCR => "fpcr",
            FPSR => "fpsr",
            TPIDR_EL0 => "tpidr_el0",
            TPIDRRO_EL0 => "tpidrro_el0",
            NF => "nf",
            ZF => "zf",
            CF => "cf",
            VF => "vf",
            EXCL_ADDR => "excl_addr",
            EXCL_VAL => "excl_val",
            EXCL_VAL2 => "excl_val2",
            EXC_SYNDROME => "exc_syndrome",
            _ => return None,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned_and_named() {
        assert_eq!(off::V0 % 16, 0);
        assert_eq!(off::PC, 0);
        assert_eq!(off::x(31), off::SP);
        assert_eq!(global_name(off::x(3)).as_deref(), Some("x3"));
        assert_eq!(global_name(off::SP).as_deref(), Some("sp"));
        assert_eq!(global_name(off::v(2)).as_deref(), Some("v2"));
        assert_eq!(global_name(off::v(2) + 8).as_deref(), Some("v2+8"));
        assert_eq!(global_name(off::ZF).as_deref(), Some("zf"));
    }

    #[test]
    fn nzcv_round_trips() {
        let mut c = A64Cpu::default();
        c.set_nzcv(0xa000_0000);
        assert_eq!((c.nf, c.zf, c.cf, c.vf), (1, 0, 1, 0));
        assert_eq!(c.nzcv(), 0xa000_0000);
        assert_eq!(c.excl_addr, u64::MAX);
    }

    #[test]
    fn syndrome_fields() {
        let s = esr::make(esr::EC_SVC64, 0x1234);
        assert_eq!(esr::ec(s), esr::EC_SVC64);
        assert_eq!(esr::iss(s), 0x1234);
    }
}

/// The one table of optional architecture features this frontend implements. Everything
/// the guest can discover derives from it: AT_HWCAP/AT_HWCAP2 ([`hwcap`], [`hwcap2`]) and
/// the ID registers read through MRS ([`id_reg`]). Set a flag only when every instruction
/// of the feature is translated.
pub mod features {
    /// Scalar floating point (FP) and half-precision conversions.
    pub const FP: bool = true;
    /// Advanced SIMD.
    pub const ASIMD: bool = true;
    /// Half-precision scalar FP arithmetic (FEAT_FP16, HWCAP_FPHP).
    pub const FPHP: bool = true;
    /// Half-precision Advanced SIMD arithmetic (FEAT_FP16, HWCAP_ASIMDHP).
    pub const ASIMDHP: bool = true;
    /// AES instructions.
    pub const AES: bool = true;
    /// PMULL/PMULL2 on 64-bit lanes.
    pub const PMULL: bool = true;
    pub const SHA1: bool = true;
    pub const SHA2: bool = true;
    pub const SHA512: bool = true;
    /// EOR3, BCAX, RAX1, XAR.
    pub const SHA3: bool = true;
    pub const CRC32: bool = true;
    /// LSE atomics (CAS, CASP, SWP, LD<op>).
    pub const ATOMICS: bool = true;
    /// LDAPR (RCpc loads).
    pub const LRCPC: bool = true;
    /// LDAPUR/STLUR (RCpc with immediate offsets).
    pub const ILRCPC: bool = true;
    /// FJCVTZS (FEAT_JSCVT).
    pub const JSCVT: bool = true;
    /// FRINT32Z/32X/64Z/64X, scalar and vector (FEAT_FRINTTS).
    pub const FRINTTS: bool = true;

    /// HWCAP_* bits (arch/arm64 uapi hwcap.h).
    pub mod bits {
        pub const FP: u64 = 1 << 0;
        pub const ASIMD: u64 = 1 << 1;
        pub const AES: u64 = 1 << 3;
        pub const PMULL: u64 = 1 << 4;
        pub const SHA1: u64 = 1 << 5;
        pub const SHA2: u64 = 1 << 6;
        pub const CRC32: u64 = 1 << 7;
        pub const ATOMICS: u64 = 1 << 8;
        pub const FPHP: u64 = 1 << 9;
        pub const ASIMDHP: u64 = 1 << 10;
        pub const CPUID: u64 = 1 << 11;
        pub const LRCPC: u64 = 1 << 15;
        pub const SHA3: u64 = 1 << 17;
        pub const SHA512: u64 = 1 << 21;
        pub const JSCVT: u64 = 1 << 13;
        pub const ILRCPC: u64 = 1 << 26;
    }

    /// HWCAP2_* bits.
    pub mod bits2 {
        pub const FRINT: u64 = 1 << 8;
    }

    /// AT_HWCAP for the auxiliary vector.
    pub const fn hwcap() -> u64 {
        let mut h = bits::CPUID; // MRS of the ID registers is emulated
        let table = [
            (FP, bits::FP),
            (ASIMD, bits::ASIMD),
            (FPHP, bits::FPHP),
            (ASIMDHP, bits::ASIMDHP),
            (AES, bits::AES),
            (PMULL, bits::PMULL),
            (SHA1, bits::SHA1),
            (SHA2, bits::SHA2),
            (SHA512, bits::SHA512),
            (SHA3, bits::SHA3),
            (CRC32, bits::CRC32),
            (ATOMICS, bits::ATOMICS),
            (LRCPC, bits::LRCPC),
            (ILRCPC, bits::ILRCPC),
            (JSCVT, bits::JSCVT),
        ];
        let mut i = 0;
        while i < table.len() {
            if table[i].0 {
                h |= table[i].1;
            }
            i += 1;
        }
        h
    }

    /// AT_HWCAP2 for the auxiliary vector.
    pub const fn hwcap2() -> u64 {
        if FRINTTS { bits2::FRINT } else { 0 }
    }

    // CPU-model values: the ones qemu-aarch64's default `max` CPU reports in user mode, so
    // programs that print them see the same thing under both (tests/guest/aarch64/c/
    // cpu_id_regs.c). Feature fields stay honest: see docs/design-notes.md.

    /// MIDR_EL1 reported to the guest (qemu's `max`: implementer 0, architecture 0xf,
    /// part 0x051, variant and revision 0).
    pub const MIDR: u64 = 0x000f_0510;
    /// CTR_EL0: 32-byte I and D cache lines, PIPT I-cache, IDC=0 and DIC=0 (guests clean
    /// and invalidate, and `ic ivau` is what tells us code changed).
    pub const CTR: u64 = 0x8003_8003;
    /// DCZID_EL0: `dc zva` allowed, block of 2^7 words = 512 bytes.
    pub const DCZID: u64 = 0x7;
    /// Bytes zeroed by `dc zva`.
    pub const DCZ_BLOCK: u64 = 512;

    /// Value of the ID register (op0=3, op1=0, CRn=0, CRm, op2) as Linux's EL0 emulation
    /// reports it, or None when the kernel would not emulate it (SIGILL).
    pub const fn id_reg(crm: u32, op2: u32) -> Option<u64> {
        Some(match (crm, op2) {
            (0, 0) => MIDR,
            (0, 5) => 0x8000_0000, // MPIDR_EL1: only RES1 bit 31 is exposed
            (0, 6) => 0,           // REVIDR_EL1
            (0, _) => 0,
            (4, 0) => {
                // ID_AA64PFR0_EL1: EL0 and EL1 AArch64-only; FP/AdvSIMD 0 = present,
                // 1 = present with half-precision arithmetic, 0xf = absent.
                let fp = if !FP {
                    0xf
                } else if FPHP {
                    1
                } else {
                    0
                };
                let simd = if !ASIMD {
                    0xf
                } else if ASIMDHP {
                    1
                } else {
                    0
                };
                0x11 | fp << 16 | simd << 20
            }
            (6, 0) => {
                // ID_AA64ISAR0_EL1
                let aes = if PMULL {
                    2
                } else if AES {
                    1
                } else {
                    0
                };
                let sha1 = if SHA1 { 1 } else { 0 };
                let sha2 = if SHA512 {
                    2
                } else if SHA2 {
                    1
                } else {
                    0
                };
                let crc = if CRC32 { 1 } else { 0 };
                let atomic = if ATOMICS { 2 } else { 0 };
                let sha3: u64 = if SHA3 { 1 } else { 0 };
                aes << 4 | sha1 << 8 | sha2 << 12 | crc << 16 | atomic << 20 | sha3 << 32
            }
            (6, 1) => {
                // ID_AA64ISAR1_EL1: JSCVT, LRCPC, FRINTTS
                let lrcpc: u64 = if ILRCPC {
                    2
                } else if LRCPC {
                    1
                } else {
                    0
                };
                let jscvt: u64 = if JSCVT { 1 } else { 0 };
                let frintts: u64 = if FRINTTS { 1 } else { 0 };
                jscvt << 12 | lrcpc << 20 | frintts << 32
            }
            // ID_AA64DFR0_EL1: DebugVer = 6 (Armv8.0 debug), as Linux shows it.
            (5, 0) => 6,
            // ID_AA64MMFR0_EL1 as Linux shows EL0: all hidden; TGran4 and TGran64 read as
            // "not implemented" (0xf), their safe values.
            (7, 0) => 0xff00_0000,
            (4..=7, _) => 0,
            _ => return None,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn hwcap_matches_id_registers() {
            let h = hwcap();
            assert_eq!(
                h & bits::ATOMICS != 0,
                id_reg(6, 0).unwrap() >> 20 & 0xf == 2
            );
            assert_eq!(h & bits::FP != 0, id_reg(4, 0).unwrap() >> 16 & 0xf != 0xf);
            assert_eq!(h & bits::FPHP != 0, id_reg(4, 0).unwrap() >> 16 & 0xf == 1);
            assert_eq!(
                h & bits::ASIMDHP != 0,
                id_reg(4, 0).unwrap() >> 20 & 0xf == 1
            );
            assert_eq!(h & bits::CRC32 != 0, id_reg(6, 0).unwrap() >> 16 & 0xf == 1);
            assert_eq!(h & bits::SHA3 != 0, id_reg(6, 0).unwrap() >> 32 & 0xf == 1);
            assert!(h & bits::CPUID != 0);
            assert_eq!(h & bits::JSCVT != 0, id_reg(6, 1).unwrap() >> 12 & 0xf == 1);
            assert_eq!(
                hwcap2() & bits2::FRINT != 0,
                id_reg(6, 1).unwrap() >> 32 & 0xf == 1
            );
            assert_eq!(id_reg(2, 0), None);
            assert_eq!(id_reg(0, 0), Some(MIDR));
        }
    }
}
