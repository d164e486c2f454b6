//! A64 integer data processing: the immediate group (PC-relative, add/sub, logical with
//! DecodeBitMasks, move wide, bitfield, extract) and the register group (shifted and
//! extended register forms, carries, conditional compare/select, 1- and 2-source, 3-source
//! multiply). 32-bit forms compute in I32 and zero-extend into the X register.

use super::{cond_holds, get_reg, get_reg_sp, get_x, set_flags, set_x, set_xsp};
use heron_backend::Builder;
use heron_backend::ir::{BinOp, Cond, Temp, Ty, UnOp};

fn bits(insn: u32, pos: u32, len: u32) -> u32 {
    (insn >> pos) & ((1 << len) - 1)
}

fn ty_of(sf: bool) -> Ty {
    if sf { Ty::I64 } else { Ty::I32 }
}

fn width(sf: bool) -> u32 {
    if sf { 64 } else { 32 }
}

/// Replicate the `esize`-bit pattern `elem` across 64 bits.
fn replicate(elem: u64, esize: u32) -> u64 {
    let mut out = 0u64;
    let mut pos = 0;
    while pos < 64 {
        out |= elem << pos;
        pos += esize;
    }
    out
}

fn ones(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// DecodeBitMasks for logical immediates: the `datasize`-bit mask, or None when reserved.
pub fn decode_bit_masks(n: u32, imms: u32, immr: u32, datasize: u32) -> Option<u64> {
    let combined = (n << 6) | (!imms & 0x3f);
    if combined == 0 {
        return None;
    }
    let len = 31 - combined.leading_zeros();
    if len < 1 {
        return None;
    }
    let levels = (1u32 << len) - 1;
    if imms & levels == levels {
        return None;
    }
    let s = imms & levels;
    let r = immr & levels;
    let esize = 1u32 << len;
    if esize > datasize {
        return None;
    }
    let welem = ones(s + 1);
    let rotated = if r == 0 {
        welem
    } else {
        ((welem >> r) | (welem << (esize - r))) & ones(esize)
    };
    Some(replicate(rotated, esize) & ones(datasize))
}

/// Set N and Z from `res` (of type I32 or I64), C and V from I64 0/1 temps.
fn set_nzcv_from(b: &mut Builder, res: Temp, c: Temp, v: Temp) {
    let w = b.ty(res).bits() as u8;
    let n = b.extract(res, w - 1, 1, false);
    let n = b.zext(n, Ty::I64);
    let zero = b.const_(b.ty(res), 0);
    let z = b.setcond(Cond::Eq, res, zero);
    set_flags(b, n, z, c, v);
}

/// The sign bit of `x` as an I64 0/1.
fn sign_bit(b: &mut Builder, x: Temp) -> Temp {
    let w = b.ty(x).bits() as u8;
    let s = b.extract(x, w - 1, 1, false);
    b.zext(s, Ty::I64)
}

/// a + b (or a - b with `sub`), setting NZCV when `flags`.
pub fn add_sub(b: &mut Builder, a: Temp, m: Temp, sub: bool, flags: bool) -> Temp {
    let res = b.bin(if sub { BinOp::Sub } else { BinOp::Add }, a, m);
    if flags {
        let (c, vx) = if sub {
            let c = b.setcond(Cond::GeU, a, m);
            let x1 = b.bin(BinOp::Xor, a, m);
            let x2 = b.bin(BinOp::Xor, a, res);
            (c, b.bin(BinOp::And, x1, x2))
        } else {
            let c = b.setcond(Cond::LtU, res, a);
            let x1 = b.bin(BinOp::Xor, a, res);
            let x2 = b.bin(BinOp::Xor, m, res);
            (c, b.bin(BinOp::And, x1, x2))
        };
        let v = sign_bit(b, vx);
        set_nzcv_from(b, res, c, v);
    }
    res
}

/// a + m + C (ADC; SBC passes !m), setting NZCV when `flags`.
fn add_with_carry(b: &mut Builder, a: Temp, m: Temp, flags: bool) -> Temp {
    let ty = b.ty(a);
    let cin = b.get_global(Ty::I64, crate::cpu::off::CF);
    let cin_t = if ty == Ty::I64 { cin } else { b.trunc(cin, ty) };
    let t = b.bin(BinOp::Add, a, m);
    let res = b.bin(BinOp::Add, t, cin_t);
    if flags {
        let c1 = b.setcond(Cond::LtU, t, a);
        let c2 = b.setcond(Cond::LtU, res, t);
        let c = b.bin(BinOp::Or, c1, c2);
        let x1 = b.bin(BinOp::Xor, a, res);
        let x2 = b.bin(BinOp::Xor, m, res);
        let vx = b.bin(BinOp::And, x1, x2);
        let v = sign_bit(b, vx);
        set_nzcv_from(b, res, c, v);
    }
    res
}

/// Logical result flags: N, Z from `res`, C = V = 0.
fn logic_flags(b: &mut Builder, res: Temp) {
    let zero = b.const64(0);
    set_nzcv_from(b, res, zero, zero);
}

/// Shift `v` by the constant `amount` with A64 shift type (LSL, LSR, ASR, ROR).
fn shift_const(b: &mut Builder, v: Temp, shift: u32, amount: u32) -> Temp {
    if amount == 0 {
        return v;
    }
    let op = match shift {
        0 => BinOp::Shl,
        1 => BinOp::ShrU,
        2 => BinOp::ShrS,
        _ => BinOp::Rotr,
    };
    b.bin_imm(op, v, amount as u64)
}

/// ExtendReg: extend register `r` (XZR for 31) by `option`, then shift left by `sh`;
/// result of type `ty`.
fn extend_reg(b: &mut Builder, r: u32, option: u32, sh: u32, ty: Ty) -> Temp {
    let x = get_x(b, r);
    let len = 8u8 << (option & 3);
    let signed = option & 4 != 0;
    let e = if len == 64 {
        x
    } else {
        b.extract(x, 0, len, signed)
    };
    let e = if sh == 0 {
        e
    } else {
        b.bin_imm(BinOp::Shl, e, sh as u64)
    };
    if ty == Ty::I64 { e } else { b.trunc(e, ty) }
}

/// Write a data-processing result to Rd (XZR for 31).
fn set_rd(b: &mut Builder, rd: u32, v: Temp) {
    set_x(b, rd, v);
}

// ---------------------------------------------------------------------------------------
// Data processing -- immediate
// ---------------------------------------------------------------------------------------

/// Data processing -- immediate. Returns false for an unallocated encoding.
pub fn translate_dp_imm(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let sf = insn >> 31 == 1;
    let rd = bits(insn, 0, 5);
    let rn = bits(insn, 5, 5);
    match bits(insn, 23, 3) {
        0b000 | 0b001 => {
            // ADR / ADRP
            let immlo = bits(insn, 29, 2) as u64;
            let immhi = bits(insn, 5, 19) as u64;
            let imm = heron_backend::ir::sext((immhi << 2) | immlo, 21) as u64;
            let v = if insn >> 31 == 1 {
                (pc & !0xfff).wrapping_add(imm << 12)
            } else {
                pc.wrapping_add(imm)
            };
            let t = b.const64(v);
            set_rd(b, rd, t);
            true
        }
        0b010 => {
            // ADD/ADDS/SUB/SUBS (immediate)
            let sub = bits(insn, 30, 1) == 1;
            let s = bits(insn, 29, 1) == 1;
            let sh = bits(insn, 22, 1);
            let imm = (bits(insn, 10, 12) as u64) << (12 * sh);
            let a = get_reg_sp(b, sf, rn);
            if !s && imm == 0 {
                // MOV to/from SP
                set_reg_sp_or_zr(b, rd, a, true);
                return true;
            }
            let m = b.const_(ty_of(sf), imm);
            let res = add_sub(b, a, m, sub, s);
            set_reg_sp_or_zr(b, rd, res, !s);
            true
        }
        0b100 => {
            // AND/ORR/EOR/ANDS (immediate)
            let opc = bits(insn, 29, 2);
            let n = bits(insn, 22, 1);
            if !sf && n == 1 {
                return false;
            }
            let Some(mask) = decode_bit_masks(n, bits(insn, 10, 6), bits(insn, 16, 6), width(sf))
            else {
                return false;
            };
            let a = get_reg(b, sf, rn);
            let m = b.const_(ty_of(sf), mask);
            let res = match opc {
                0 | 3 => b.bin(BinOp::And, a, m),
                1 => {
                    if rn == 31 {
                        m
                    } else {
                        b.bin(BinOp::Or, a, m)
                    }
                }
                _ => b.bin(BinOp::Xor, a, m),
            };
            if opc == 3 {
                logic_flags(b, res);
            }
            set_reg_sp_or_zr(b, rd, res, opc != 3);
            true
        }
        0b101 => {
            // MOVN/MOVZ/MOVK
            let opc = bits(insn, 29, 2);
            let hw = bits(insn, 21, 2);
            if opc == 1 || (!sf && hw >= 2) {
                return false;
            }
            let imm16 = bits(insn, 5, 16) as u64;
            let shift = 16 * hw;
            match opc {
                0 => {
                    let v = !(imm16 << shift) & ones(width(sf));
                    let t = b.const64(v);
                    set_rd(b, rd, t);
                }
                2 => {
                    let t = b.const64(imm16 << shift);
                    set_rd(b, rd, t);
                }
                _ => {
                    let old = get_reg(b, sf, rd);
                    let k = b.const_(ty_of(sf), imm16);
                    let v = b.deposit(old, k, shift as u8, 16);
                    set_rd(b, rd, v);
                }
            }
            true
        }
        0b110 => translate_bitfield(b, insn),
        0b111 => {
            // EXTR
            let n = bits(insn, 22, 1);
            let o0 = bits(insn, 21, 1);
            let op21 = bits(insn, 29, 2);
            let imms = bits(insn, 10, 6);
            if op21 != 0 || o0 != 0 || (sf as u32) != n || (!sf && imms >= 32) {
                return false;
            }
            let rm = bits(insn, 16, 5);
            let lo = get_reg(b, sf, rm);
            let res = if imms == 0 {
                lo
            } else if rn == rm {
                b.bin_imm(BinOp::Rotr, lo, imms as u64)
            } else {
                let hi = get_reg(b, sf, rn);
                let l = b.bin_imm(BinOp::ShrU, lo, imms as u64);
                let h = b.bin_imm(BinOp::Shl, hi, (width(sf) - imms) as u64);
                b.bin(BinOp::Or, l, h)
            };
            set_rd(b, rd, res);
            true
        }
        _ => false, // add/sub immediate with tags (MTE)
    }
}

/// Write `v` to Rd where 31 means SP (`sp` true) or XZR.
fn set_reg_sp_or_zr(b: &mut Builder, rd: u32, v: Temp, sp: bool) {
    if sp {
        set_xsp(b, rd, v);
    } else {
        set_x(b, rd, v);
    }
}

/// SBFM / BFM / UBFM.
fn translate_bitfield(b: &mut Builder, insn: u32) -> bool {
    let sf = insn >> 31 == 1;
    let opc = bits(insn, 29, 2);
    let n = bits(insn, 22, 1);
    let immr = bits(insn, 16, 6);
    let imms = bits(insn, 10, 6);
    let rn = bits(insn, 5, 5);
    let rd = bits(insn, 0, 5);
    let w = width(sf);
    if opc == 3 || (sf as u32) != n || (!sf && (immr >= 32 || imms >= 32)) {
        return false;
    }
    let src = get_reg(b, sf, rn);
    let res = match opc {
        0 | 2 => {
            let signed = opc == 0;
            if imms >= immr {
                // SBFX/UBFX (and ASR/LSR, SXTB.., UXTB..)
                let len = imms - immr + 1;
                if immr == 0 && len == w {
                    src
                } else if imms == w - 1 {
                    let op = if signed { BinOp::ShrS } else { BinOp::ShrU };
                    b.bin_imm(op, src, immr as u64)
                } else {
                    b.extract(src, immr as u8, len as u8, signed)
                }
            } else {
                // SBFIZ/UBFIZ (and LSL): field of imms+1 bits moved up to w-immr.
                let len = imms + 1;
                let field = if len == w {
                    src
                } else {
                    b.extract(src, 0, len as u8, signed)
                };
                b.bin_imm(BinOp::Shl, field, (w - immr) as u64)
            }
        }
        _ => {
            let dst = get_reg(b, sf, rd);
            if imms >= immr {
                // BFXIL
                let len = imms - immr + 1;
                let field = if immr == 0 {
                    src
                } else {
                    b.bin_imm(BinOp::ShrU, src, immr as u64)
                };
                b.deposit(dst, field, 0, len as u8)
            } else {
                // BFI
                b.deposit(dst, src, (w - immr) as u8, (imms + 1) as u8)
            }
        }
    };
    set_rd(b, rd, res);
    true
}

// ---------------------------------------------------------------------------------------
// Data processing -- register
// ---------------------------------------------------------------------------------------

/// Data processing -- register. Returns false for an unallocated encoding.
pub fn translate_dp_reg(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let sf = insn >> 31 == 1;
    let rd = bits(insn, 0, 5);
    let rn = bits(insn, 5, 5);
    let rm = bits(insn, 16, 5);
    let op1 = bits(insn, 28, 1);
    let op2 = bits(insn, 21, 4);
    if op1 == 0 {
        if op2 & 0b1000 == 0 {
            // Logical (shifted register)
            let shift = bits(insn, 22, 2);
            let imm6 = bits(insn, 10, 6);
            if !sf && imm6 >= 32 {
                return false;
            }
            let opc = bits(insn, 29, 2);
            let invert = bits(insn, 21, 1) == 1;
            let m = get_reg(b, sf, rm);
            let m = shift_const(b, m, shift, imm6);
            if opc == 1 && rn == 31 {
                // MOV / MVN
                let v = if invert { b.un(UnOp::Not, m) } else { m };
                set_rd(b, rd, v);
                return true;
            }
            let a = get_reg(b, sf, rn);
            let op = match (opc, invert) {
                (0 | 3, false) => BinOp::And,
                (0 | 3, true) => BinOp::AndNot,
                (1, false) => BinOp::Or,
                (1, true) => BinOp::OrNot,
                (_, false) => BinOp::Xor,
                (_, true) => BinOp::XorNot,
            };
            let res = b.bin(op, a, m);
            if opc == 3 {
                logic_flags(b, res);
            }
            set_rd(b, rd, res);
            return true;
        }
        let sub = bits(insn, 30, 1) == 1;
        let s = bits(insn, 29, 1) == 1;
        if op2 & 1 == 0 {
            // Add/subtract (shifted register)
            let shift = bits(insn, 22, 2);
            let imm6 = bits(insn, 10, 6);
            if shift == 3 || (!sf && imm6 >= 32) {
                return false;
            }
            let m = get_reg(b, sf, rm);
            let m = shift_const(b, m, shift, imm6);
            let a = get_reg(b, sf, rn);
            let res = add_sub(b, a, m, sub, s);
            set_rd(b, rd, res);
        } else {
            // Add/subtract (extended register)
            let opt = bits(insn, 22, 2);
            let option = bits(insn, 13, 3);
            let imm3 = bits(insn, 10, 3);
            if opt != 0 || imm3 > 4 {
                return false;
            }
            let m = extend_reg(b, rm, option, imm3, ty_of(sf));
            let a = get_reg_sp(b, sf, rn);
            let res = add_sub(b, a, m, sub, s);
            set_reg_sp_or_zr(b, rd, res, !s);
        }
        return true;
    }
    match op2 {
        0b0000 => {
            // ADC/ADCS/SBC/SBCS (FEAT_FlagM forms RMIF/SETF are not implemented)
            if bits(insn, 10, 6) != 0 {
                return false;
            }
            let sub = bits(insn, 30, 1) == 1;
            let s = bits(insn, 29, 1) == 1;
            let a = get_reg(b, sf, rn);
            let m = get_reg(b, sf, rm);
            let m = if sub { b.un(UnOp::Not, m) } else { m };
            let res = add_with_carry(b, a, m, s);
            set_rd(b, rd, res);
            true
        }
        0b0010 => {
            // CCMN/CCMP (register or immediate)
            if bits(insn, 29, 1) == 0 || bits(insn, 10, 1) != 0 || bits(insn, 4, 1) != 0 {
                return false;
            }
            let sub = bits(insn, 30, 1) == 1;
            let cond = bits(insn, 12, 4);
            let nzcv = bits(insn, 0, 4) as u64;
            let holds = cond_holds(b, cond);
            let a = get_reg(b, sf, rn);
            let m = if bits(insn, 11, 1) == 1 {
                b.const_(ty_of(sf), rm as u64)
            } else {
                get_reg(b, sf, rm)
            };
            let l_else = b.new_label();
            let l_done = b.new_label();
            let not = b.bin_imm(BinOp::Xor, holds, 1);
            b.br_cond(not, l_else);
            add_sub(b, a, m, sub, true);
            b.br(l_done);
            b.label(l_else);
            let n = b.const64(nzcv >> 3 & 1);
            let z = b.const64(nzcv >> 2 & 1);
            let c = b.const64(nzcv >> 1 & 1);
            let v = b.const64(nzcv & 1);
            set_flags(b, n, z, c, v);
            b.label(l_done);
            true
        }
        0b0100 => {
            // CSEL/CSINC/CSINV/CSNEG
            let op = bits(insn, 30, 1);
            let o2 = bits(insn, 10, 2);
            if bits(insn, 29, 1) != 0 || o2 > 1 {
                return false;
            }
            let cond = bits(insn, 12, 4);
            let holds = cond_holds(b, cond);
            let a = get_reg(b, sf, rn);
            let m = get_reg(b, sf, rm);
            let alt = match (op, o2) {
                (0, 0) => m,
                (0, _) => b.bin_imm(BinOp::Add, m, 1),
                (_, 0) => b.un(UnOp::Not, m),
                _ => b.un(UnOp::Neg, m),
            };
            let res = b.select(holds, a, alt);
            set_rd(b, rd, res);
            true
        }
        0b0110 => {
            if bits(insn, 29, 1) != 0 {
                return false;
            }
            if bits(insn, 30, 1) == 0 {
                translate_dp_2src(b, insn, pc)
            } else {
                translate_dp_1src(b, insn)
            }
        }
        _ if op2 & 0b1000 != 0 => translate_dp_3src(b, insn),
        _ => false,
    }
}

/// UDIV, SDIV, LSLV, LSRV, ASRV, RORV; CRC32 goes to the crypto translator.
fn translate_dp_2src(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let sf = insn >> 31 == 1;
    let opcode = bits(insn, 10, 6);
    let rd = bits(insn, 0, 5);
    let rn = bits(insn, 5, 5);
    let rm = bits(insn, 16, 5);
    if opcode & 0b111000 == 0b010000 {
        return crate::crypto::translate_crc32(b, insn, pc);
    }
    let a = get_reg(b, sf, rn);
    let m = get_reg(b, sf, rm);
    let res = match opcode {
        0b000010 | 0b000011 => {
            // Division by zero gives 0; INT_MIN / -1 gives INT_MIN (the IR's answer).
            let op = if opcode == 2 {
                BinOp::DivU
            } else {
                BinOp::DivS
            };
            let q = b.bin(op, a, m);
            let zero = b.const_(ty_of(sf), 0);
            let is_zero = b.setcond(Cond::Eq, m, zero);
            b.select(is_zero, zero, q)
        }
        0b001000 => b.bin(BinOp::Shl, a, m),
        0b001001 => b.bin(BinOp::ShrU, a, m),
        0b001010 => b.bin(BinOp::ShrS, a, m),
        0b001011 => b.bin(BinOp::Rotr, a, m),
        _ => return false,
    };
    set_rd(b, rd, res);
    true
}

/// RBIT, REV16, REV32, REV, CLZ, CLS.
fn translate_dp_1src(b: &mut Builder, insn: u32) -> bool {
    let sf = insn >> 31 == 1;
    let opcode = bits(insn, 10, 6);
    let rd = bits(insn, 0, 5);
    let rn = bits(insn, 5, 5);
    if bits(insn, 16, 5) != 0 {
        return false;
    }
    let a = get_reg(b, sf, rn);
    let res = match (opcode, sf) {
        (0, _) => b.un(UnOp::Bitrev, a),
        (1, _) => {
            // REV16: swap the bytes of every halfword.
            let lo_mask = 0x00ff_00ff_00ff_00ffu64 & ones(width(sf));
            let hi = b.bin_imm(BinOp::ShrU, a, 8);
            let hi = b.bin_imm(BinOp::And, hi, lo_mask);
            let lo = b.bin_imm(BinOp::And, a, lo_mask);
            let lo = b.bin_imm(BinOp::Shl, lo, 8);
            b.bin(BinOp::Or, hi, lo)
        }
        (2, false) | (3, true) => b.un(UnOp::Bswap, a),
        (2, true) => {
            // REV32: byte-reverse each word.
            let r = b.un(UnOp::Bswap, a);
            b.bin_imm(BinOp::Rotr, r, 32)
        }
        (4, _) => b.un(UnOp::Clz, a),
        (5, _) => {
            // CLS = CLZ(x ^ (x >> 1 arithmetic)) - 1
            let s = b.bin_imm(BinOp::ShrS, a, 1);
            let x = b.bin(BinOp::Xor, a, s);
            let c = b.un(UnOp::Clz, x);
            b.bin_imm(BinOp::Sub, c, 1)
        }
        _ => return false,
    };
    set_rd(b, rd, res);
    true
}

/// MADD, MSUB, SMADDL, SMSUBL, UMADDL, UMSUBL, SMULH, UMULH.
fn translate_dp_3src(b: &mut Builder, insn: u32) -> bool {
    let sf = insn >> 31 == 1;
    let op54 = bits(insn, 29, 2);
    let op31 = bits(insn, 21, 3);
    let o0 = bits(insn, 15, 1);
    let rd = bits(insn, 0, 5);
    let rn = bits(insn, 5, 5);
    let rm = bits(insn, 16, 5);
    let ra = bits(insn, 10, 5);
    if op54 != 0 {
        return false;
    }
    let res = match (op31, sf) {
        (0, _) => {
            let a = get_reg(b, sf, rn);
            let m = get_reg(b, sf, rm);
            let p = b.bin(BinOp::Mul, a, m);
            if ra == 31 && o0 == 0 {
                p
            } else {
                let acc = get_reg(b, sf, ra);
                b.bin(if o0 == 1 { BinOp::Sub } else { BinOp::Add }, acc, p)
            }
        }
        (1 | 5, true) => {
            let signed = op31 == 1;
            let a = get_reg(b, false, rn);
            let a = b.ext(a, Ty::I64, signed);
            let m = get_reg(b, false, rm);
            let m = b.ext(m, Ty::I64, signed);
            let p = b.bin(BinOp::Mul, a, m);
            let acc = get_x(b, ra);
            b.bin(if o0 == 1 { BinOp::Sub } else { BinOp::Add }, acc, p)
        }
        (2 | 6, true) if o0 == 0 => {
            let a = get_x(b, rn);
            let m = get_x(b, rm);
            b.bin(
                if op31 == 2 {
                    BinOp::MulHS
                } else {
                    BinOp::MulHU
                },
                a,
                m,
            )
        }
        _ => return false,
    };
    set_rd(b, rd, res);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_masks() {
        // and x0, x1, #0xff  -> N=1 immr=0 imms=7
        assert_eq!(decode_bit_masks(1, 7, 0, 64), Some(0xff));
        // 0x5555... : N=0 imms=0b111100 immr=0
        assert_eq!(
            decode_bit_masks(0, 0b111100, 0, 64),
            Some(0x5555_5555_5555_5555)
        );
        // 32-bit #0xffff0000: N=0 immr=16 imms=15
        assert_eq!(decode_bit_masks(0, 15, 16, 32), Some(0xffff_0000));
        // all ones is reserved
        assert_eq!(decode_bit_masks(1, 0b111111, 0, 64), None);
        assert_eq!(decode_bit_masks(0, 0b111111, 0, 32), None);
        // 0x8000000000000001: N=1 immr=1 imms=1
        assert_eq!(decode_bit_masks(1, 1, 1, 64), Some(0x8000_0000_0000_0001));
    }
}
