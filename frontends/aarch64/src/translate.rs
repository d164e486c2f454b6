//! The A64 translator: turns guest code into heron IR one block at a time ([`A64Guest`]
//! implements the backend's [`Guest`] trait). Owns the top-level decode dispatch by the
//! major encoding groups, and the register/flag access helpers shared by every group
//! (including the FP/SIMD translator in [`crate::simd`]). The groups themselves live in
//! [`dp`] (integer data processing), [`branch`] (branches, exceptions, system) and
//! [`ldst`] (loads and stores).

pub mod branch;
pub mod dp;
pub mod ldst;

use crate::cpu::{esr, off};
use heron_backend::ir::{BinOp, Cond, Temp, Ty};
use heron_backend::{Builder, CodeFetch, ExitStatus, Guest, TranslateError};

/// Most guest instructions in one block.
pub const MAX_BLOCK_INSNS: u32 = 64;
/// Blocks never cross this boundary (the next instruction starts a new block).
const PAGE_SIZE: u64 = 4096;

/// The AArch64 frontend, as the backend sees it.
#[derive(Debug, Default, Clone, Copy)]
pub struct A64Guest;

impl Guest for A64Guest {
    fn name(&self) -> &'static str {
        "aarch64"
    }

    fn translate(
        &self,
        pc: u64,
        _flags: u64,
        code: &dyn CodeFetch,
        b: &mut Builder,
    ) -> Result<(), TranslateError> {
        translate_block(pc, code, b)
    }

    fn tb_flags(&self, _env: *const u8) -> u64 {
        0
    }

    fn global_name(&self, offset: u32) -> Option<String> {
        crate::cpu::global_name(offset)
    }

    fn disassemble(&self, pc: u64, bytes: &[u8]) -> Vec<String> {
        crate::disas::disassemble(pc, bytes)
    }
}

/// Translate the block at `pc` into `b` (see [`Guest::translate`]).
pub fn translate_block(
    pc: u64,
    code: &dyn CodeFetch,
    b: &mut Builder,
) -> Result<(), TranslateError> {
    let start_page = pc / PAGE_SIZE;
    let mut cur = pc;
    let mut n = 0u32;
    loop {
        if b.stop_before(cur, n) {
            b.goto_block(cur);
            break;
        }
        let mut buf = [0u8; 4];
        let got = code.fetch(cur, &mut buf);
        if got < 4 {
            if n == 0 {
                return Err(TranslateError::FetchFault(cur.wrapping_add(got as u64)));
            }
            b.goto_block(cur); // the next block raises the fetch fault
            break;
        }
        let insn = u32::from_le_bytes(buf);
        b.insn_start(cur);
        n += 1;
        let ended = translate_insn(b, insn, cur);
        cur = cur.wrapping_add(4);
        if ended {
            break;
        }
        if n >= MAX_BLOCK_INSNS || cur / PAGE_SIZE != start_page {
            b.goto_block(cur);
            break;
        }
    }
    b.block.guest_size = cur.wrapping_sub(pc) as u32;
    b.block.num_insns = n;
    Ok(())
}

/// Translate one instruction at `pc`. Returns true when it ended the block.
pub fn translate_insn(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let op0 = (insn >> 25) & 0xf;
    let handled = match op0 {
        0b1000 | 0b1001 => dp::translate_dp_imm(b, insn, pc),
        0b1010 | 0b1011 => return branch::translate_branch_sys(b, insn, pc),
        0b0101 | 0b1101 => dp::translate_dp_reg(b, insn, pc),
        0b0111 | 0b1111 => crate::simd::translate_fp_simd(b, insn, pc),
        0b0100 | 0b0110 | 0b1100 | 0b1110 => ldst::translate_ldst(b, insn, pc),
        _ => false, // reserved, SME, SVE
    };
    if !handled {
        raise_undefined(b, pc);
        return true;
    }
    false
}

// ---------------------------------------------------------------------------------------
// Shared helpers (also used by the FP/SIMD translator)
// ---------------------------------------------------------------------------------------

/// Read general register `r` as I64; 31 reads XZR (zero).
pub fn get_x(b: &mut Builder, r: u32) -> Temp {
    if r == 31 {
        b.const64(0)
    } else {
        b.get_global(Ty::I64, off::x(r))
    }
}

/// Write the I64 (or narrower, zero-extended) value `v` to general register `r`; 31 is XZR
/// (the write is dropped).
pub fn set_x(b: &mut Builder, r: u32, v: Temp) {
    if r != 31 {
        let v = if b.ty(v) == Ty::I64 {
            v
        } else {
            b.zext(v, Ty::I64)
        };
        b.set_global(Ty::I64, off::x(r), v);
    }
}

/// Read general register `r` as I64; 31 reads SP.
pub fn get_xsp(b: &mut Builder, r: u32) -> Temp {
    b.get_global(Ty::I64, off::x(r))
}

/// Write the I64 (or narrower, zero-extended) value `v` to general register `r`; 31 is SP.
pub fn set_xsp(b: &mut Builder, r: u32, v: Temp) {
    let v = if b.ty(v) == Ty::I64 {
        v
    } else {
        b.zext(v, Ty::I64)
    };
    b.set_global(Ty::I64, off::x(r), v);
}

/// Read register `r` (XZR for 31) as I64 when `sf`, else its low 32 bits as I32.
pub fn get_reg(b: &mut Builder, sf: bool, r: u32) -> Temp {
    if sf {
        get_x(b, r)
    } else if r == 31 {
        b.const_(Ty::I32, 0)
    } else {
        b.get_global(Ty::I32, off::x(r))
    }
}

/// Read register `r` (SP for 31) as I64 when `sf`, else its low 32 bits as I32.
pub fn get_reg_sp(b: &mut Builder, sf: bool, r: u32) -> Temp {
    if sf {
        get_xsp(b, r)
    } else {
        b.get_global(Ty::I32, off::x(r))
    }
}

/// PSTATE.NZCV as an I64 with N, Z, C, V at bits 31..28 (the NZCV register layout).
pub fn get_nzcv(b: &mut Builder) -> Temp {
    let n = b.get_global(Ty::I64, off::NF);
    let z = b.get_global(Ty::I64, off::ZF);
    let c = b.get_global(Ty::I64, off::CF);
    let v = b.get_global(Ty::I64, off::VF);
    let n = b.bin_imm(BinOp::Shl, n, 31);
    let z = b.bin_imm(BinOp::Shl, z, 30);
    let c = b.bin_imm(BinOp::Shl, c, 29);
    let v = b.bin_imm(BinOp::Shl, v, 28);
    let nz = b.bin(BinOp::Or, n, z);
    let cv = b.bin(BinOp::Or, c, v);
    b.bin(BinOp::Or, nz, cv)
}

/// Set PSTATE.NZCV from bits 31..28 of the I64 `v`.
pub fn set_nzcv(b: &mut Builder, v: Temp) {
    for (bit, offset) in [(31, off::NF), (30, off::ZF), (29, off::CF), (28, off::VF)] {
        let f = b.extract(v, bit, 1, false);
        b.set_global(Ty::I64, offset, f);
    }
}

/// Set the four flags from I64 0/1 temps.
pub fn set_flags(b: &mut Builder, n: Temp, z: Temp, c: Temp, v: Temp) {
    b.set_global(Ty::I64, off::NF, n);
    b.set_global(Ty::I64, off::ZF, z);
    b.set_global(Ty::I64, off::CF, c);
    b.set_global(Ty::I64, off::VF, v);
}

/// I64 0/1: whether the 4-bit A64 condition `cond` holds for the current NZCV.
pub fn cond_holds(b: &mut Builder, cond: u32) -> Temp {
    let cond = cond & 0xf;
    if cond >= 14 {
        return b.const64(1);
    }
    let base = match cond >> 1 {
        0 => b.get_global(Ty::I64, off::ZF),
        1 => b.get_global(Ty::I64, off::CF),
        2 => b.get_global(Ty::I64, off::NF),
        3 => b.get_global(Ty::I64, off::VF),
        4 => {
            // HI: C && !Z
            let c = b.get_global(Ty::I64, off::CF);
            let z = b.get_global(Ty::I64, off::ZF);
            b.bin(BinOp::AndNot, c, z)
        }
        5 => {
            // GE: N == V
            let n = b.get_global(Ty::I64, off::NF);
            let v = b.get_global(Ty::I64, off::VF);
            b.setcond(Cond::Eq, n, v)
        }
        _ => {
            // GT: !Z && N == V
            let n = b.get_global(Ty::I64, off::NF);
            let v = b.get_global(Ty::I64, off::VF);
            let ge = b.setcond(Cond::Eq, n, v);
            let z = b.get_global(Ty::I64, off::ZF);
            b.bin(BinOp::AndNot, ge, z)
        }
    };
    if cond & 1 == 1 {
        b.bin_imm(BinOp::Xor, base, 1)
    } else {
        base
    }
}

/// Raise a synchronous exception with `syndrome` at `pc`; ends the block.
pub fn raise_exception(b: &mut Builder, pc: u64, syndrome: u64) {
    let s = b.const64(syndrome);
    b.set_global(Ty::I64, off::EXC_SYNDROME, s);
    b.exit(ExitStatus::Exception, pc);
}

/// End the block with the undefined-instruction exception at `pc` (guest SIGILL).
pub fn raise_undefined(b: &mut Builder, pc: u64) {
    raise_exception(b, pc, esr::make(esr::EC_UNKNOWN, 0));
}

#[cfg(test)]
mod tests;
