//! The RISC-V hart state as generated code sees it: a `#[repr(C)]` struct whose fields are
//! IR globals at fixed offsets (the backend's [`CpuHeader`] first).

use heron_backend::CpuHeader;
use std::mem::offset_of;

/// Exception causes (mcause values for synchronous exceptions) used with
/// `ExitStatus::Exception`.
pub mod cause {
    pub const MISALIGNED_FETCH: u64 = 0;
    pub const FETCH_ACCESS: u64 = 1;
    pub const ILLEGAL_INSN: u64 = 2;
    pub const BREAKPOINT: u64 = 3;
    pub const MISALIGNED_LOAD: u64 = 4;
    pub const LOAD_ACCESS: u64 = 5;
    pub const MISALIGNED_STORE: u64 = 6;
    pub const STORE_ACCESS: u64 = 7;
    pub const ECALL_U: u64 = 8;
    pub const ECALL_S: u64 = 9;
    pub const ECALL_M: u64 = 11;
    pub const FETCH_PAGE_FAULT: u64 = 12;
    pub const LOAD_PAGE_FAULT: u64 = 13;
    pub const STORE_PAGE_FAULT: u64 = 15;
}

/// One RISC-V hart (user-level state; privileged state arrives with system mode).
#[repr(C)]
#[derive(Debug)]
pub struct RiscvCpu {
    pub hdr: CpuHeader,
    /// Integer registers; x[0] is always 0 (translators never write it).
    pub x: [u64; 32],
    /// FP registers as raw bits; single-precision values are NaN-boxed (upper 32 bits set).
    pub f: [u64; 32],
    /// Accrued FP exception flags (fcsr.fflags, 5 bits: NV DZ OF UF NX from bit 4 to 0).
    pub fflags: u64,
    /// Dynamic rounding mode (fcsr.frm, 3 bits).
    pub frm: u64,
    /// LR/SC reservation: address, or u64::MAX when none is held.
    pub res_addr: u64,
    /// Value loaded by the LR that took the reservation (SC compares against it).
    pub res_val: u64,
    /// Cause of the last `ExitStatus::Exception` (see [`cause`]).
    pub exc_cause: u64,
    /// Trap value of the last exception (faulting address, or the illegal instruction bits).
    pub exc_tval: u64,
}

impl Default for RiscvCpu {
    fn default() -> Self {
        RiscvCpu {
            hdr: CpuHeader::default(),
            x: [0; 32],
            f: [0; 32],
            fflags: 0,
            frm: 0,
            res_addr: u64::MAX,
            res_val: 0,
            exc_cause: 0,
            exc_tval: 0,
        }
    }
}

/// Offsets of the CPU state fields, for IR globals.
pub mod off {
    use super::*;
    pub const PC: u32 = offset_of!(RiscvCpu, hdr) as u32;
    pub const X0: u32 = offset_of!(RiscvCpu, x) as u32;
    pub const F0: u32 = offset_of!(RiscvCpu, f) as u32;
    pub const FFLAGS: u32 = offset_of!(RiscvCpu, fflags) as u32;
    pub const FRM: u32 = offset_of!(RiscvCpu, frm) as u32;
    pub const RES_ADDR: u32 = offset_of!(RiscvCpu, res_addr) as u32;
    pub const RES_VAL: u32 = offset_of!(RiscvCpu, res_val) as u32;
    pub const EXC_CAUSE: u32 = offset_of!(RiscvCpu, exc_cause) as u32;
    pub const EXC_TVAL: u32 = offset_of!(RiscvCpu, exc_tval) as u32;
    pub const END: u32 = std::mem::size_of::<RiscvCpu>() as u32;

    /// Offset of integer register `r`.
    pub const fn x(r: u32) -> u32 {
        X0 + 8 * r
    }
    /// Offset of FP register `r`.
    pub const fn f(r: u32) -> u32 {
        F0 + 8 * r
    }
}

/// ABI names of the integer registers.
pub const XREG_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

/// The registers as text for `-d cpu`: pc, the 32 integer registers four to a line (ABI
/// names), fcsr, and the FP registers that are not zero.
pub fn dump_state(c: &RiscvCpu) -> String {
    use std::fmt::Write;
    let mut s = format!("pc       {:016x}\n", c.hdr.pc);
    for (i, v) in c.x.iter().enumerate() {
        let _ = write!(s, "x{i:<2}/{:<4} {v:016x}", XREG_NAMES[i]);
        s.push(if i % 4 == 3 { '\n' } else { ' ' });
    }
    let _ = write!(s, "fcsr     {:08x}", (c.frm << 5) | c.fflags);
    for (i, v) in c.f.iter().enumerate() {
        if *v != 0 {
            let _ = write!(s, "\nf{i:<2}      {v:016x}");
        }
    }
    s
}

/// Name of the global at `offset`, for IR text.
pub fn global_name(offset: u32) -> Option<String> {
    use off::*;
    if (X0..X0 + 256).contains(&offset) && (offset - X0).is_multiple_of(8) {
        return Some(XREG_NAMES[((offset - X0) / 8) as usize].to_string());
    }
    if (F0..F0 + 256).contains(&offset) && (offset - F0).is_multiple_of(8) {
        return Some(format!("f{}", (offset - F0) / 8));
    }
    Some(
        match offset {
            PC => "pc",
            FFLAGS => "fflags",
            FRM => "frm",
            RES_ADDR => "res_addr",
            RES_VAL => "res_val",
            EXC_CAUSE => "exc_cause",
            EXC_TVAL => "exc_tval",
            _ => return None,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_state_names_registers_and_skips_zero_fp() {
        let mut c = RiscvCpu::default();
        c.hdr.pc = 0x1_0000;
        c.x[10] = 0x2a;
        c.f[3] = 0xffff_ffff_3f80_0000;
        c.frm = 1;
        let s = dump_state(&c);
        assert!(s.starts_with("pc       0000000000010000\n"), "{s}");
        assert!(s.contains("x10/a0   000000000000002a"), "{s}");
        assert!(s.contains("fcsr     00000020"), "{s}");
        assert!(s.contains("f3       ffffffff3f800000"), "{s}");
        assert!(!s.contains("f4 "), "{s}");
        assert_eq!(s.lines().count(), 1 + 8 + 1 + 1);
    }
}
