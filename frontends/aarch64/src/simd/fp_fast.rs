//! Inline IR for the hot scalar floating-point instructions (single and double precision).
//!
//! Arithmetic (FADD FSUB FMUL FDIV FNMUL FSQRT FMADD FMSUB FNMADD FNMSUB, FCVT S<->D) runs
//! on the host's IEEE operations, guarded at run time: FPCR.RMode = nearest and FPCR.FZ = 0,
//! FPSR.IXC already set, and a result that is finite and larger in magnitude than the
//! smallest normal number. Under those conditions the correctly rounded host result is
//! Arm's result bit for bit and the only exception it could raise (Inexact) is already
//! recorded: NaN operands or results, infinities, division by zero, overflow and
//! (before-rounding) tininess all fail the result test. Anything else takes the exact
//! helper. FABS/FNEG/FCSEL/FMOV (immediate) are plain bit operations; FCMP/FCMPE of two
//! ordered operands (with FZ = 0) raise nothing and set NZCV inline. The vector forms of
//! FADD/FSUB/FMUL/FDIV/FMLA/FMLS (by vector and by element) use the same guard on every lane;
//! SCVTF/UCVTF and FCVTZS/FCVTZU between general and FP registers have guards of their own.

use super::emit_generic;
use crate::cpu::off;
use crate::fp::vfp_expand_imm;
use crate::fpu::{D, FPCR_FZ, IXC, S};
use crate::translate::{cond_holds, set_nzcv};
use heron_backend::Builder;
use heron_backend::ir::{BinOp, Cond, ConvOp, FCond, Temp, Ty, UnOp};

fn fty(double: bool) -> Ty {
    if double { Ty::F64 } else { Ty::F32 }
}

fn fget(b: &mut Builder, n: u32, double: bool) -> Temp {
    b.get_global(fty(double), off::v(n))
}

/// Write a scalar (float or integer bits) to V[d], zeroing the rest.
fn fset(b: &mut Builder, d: u32, v: Temp) {
    let v = match b.ty(v) {
        Ty::F64 => b.conv(ConvOp::Bitcast, v, Ty::I64),
        Ty::F32 => b.conv(ConvOp::Bitcast, v, Ty::I32),
        _ => v,
    };
    let w = b.zext(v, Ty::I128);
    b.set_global(Ty::I128, off::v(d), w);
}

/// I64 1 when FPCR has round-to-nearest and FZ clear.
fn fpcr_plain(b: &mut Builder) -> Temp {
    let fpcr = b.get_global(Ty::I64, off::FPCR);
    let m = b.bin_imm(BinOp::And, fpcr, 0x00c0_0000 | FPCR_FZ);
    let z = b.const64(0);
    b.setcond(Cond::Eq, m, z)
}

/// I64 1 when the result `r` is finite and above the smallest normal in magnitude.
fn lane_ok(b: &mut Builder, r: Temp, double: bool) -> Temp {
    let (ity, sign, min_normal, inf) = if double {
        (Ty::I64, 1u64 << 63, 1u64 << 52, 0x7ff0_0000_0000_0000u64)
    } else {
        (Ty::I32, 1u64 << 31, 1u64 << 23, 0x7f80_0000u64)
    };
    let bits = b.conv(ConvOp::Bitcast, r, ity);
    let bits = b.zext(bits, Ty::I64);
    let mag = b.bin_imm(BinOp::And, bits, !sign);
    let lo = b.const64(min_normal);
    let hi = b.const64(inf);
    let above = b.setcond(Cond::GtU, mag, lo);
    let finite = b.setcond(Cond::LtU, mag, hi);
    b.bin(BinOp::And, above, finite)
}

/// I64 1 when FPCR is plain (round to nearest, FZ = 0) and FPSR.IXC is already set.
fn env_ok(b: &mut Builder) -> Temp {
    let fpsr = b.get_global(Ty::I64, off::FPSR);
    let ixc = b.extract(fpsr, IXC.trailing_zeros() as u8, 1, false);
    let plain = fpcr_plain(b);
    b.bin(BinOp::And, ixc, plain)
}

/// I64 1 when the fast path may be used for result `r`.
fn guard(b: &mut Builder, r: Temp, double: bool) -> Temp {
    let ok = lane_ok(b, r, double);
    let env = env_ok(b);
    b.bin(BinOp::And, ok, env)
}

/// Emit: if ok != 0 { fast(b) } else { generic(insn) }.
fn fast_or_generic(b: &mut Builder, insn: u32, ok: Temp, fast: impl FnOnce(&mut Builder)) {
    let slow = b.new_label();
    let done = b.new_label();
    let z = b.const64(0);
    let bad = b.setcond(Cond::Eq, ok, z);
    b.br_cond(bad, slow);
    fast(b);
    b.br(done);
    b.label(slow);
    emit_generic(b, insn);
    b.label(done);
}

/// Emit: if guard(r) { V[d] = r } else { generic(insn) }.
fn guarded(b: &mut Builder, insn: u32, rd: u32, r: Temp, double: bool) {
    let ok = guard(b, r, double);
    fast_or_generic(b, insn, ok, |b| fset(b, rd, r));
}

/// Vector FP arithmetic forms handled inline.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VOp {
    Add,
    Sub,
    Mul,
    Div,
    Mla,
    Mls,
}

/// Inline vector FADD/FSUB/FMUL/FDIV/FMLA/FMLS (by vector, or by element `elem` of Rm),
/// guarded like the scalar forms on every lane.
fn vector(b: &mut Builder, insn: u32, op: VOp, double: bool, q: bool, rm: u32, elem: Option<u32>) {
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let ty = fty(double);
    let eb = if double { 8 } else { 4 };
    let n = if q { 16 / eb } else { 8 / eb };
    let mut ok = env_ok(b);
    let mut lanes = Vec::new();
    for i in 0..n {
        let x = b.get_global(ty, off::v(rn) + i * eb);
        let y = b.get_global(ty, off::v(rm) + elem.unwrap_or(i) * eb);
        let r = match op {
            VOp::Add => b.bin(BinOp::FAdd, x, y),
            VOp::Sub => b.bin(BinOp::FSub, x, y),
            VOp::Mul => b.bin(BinOp::FMul, x, y),
            VOp::Div => b.bin(BinOp::FDiv, x, y),
            VOp::Mla | VOp::Mls => {
                let d = b.get_global(ty, off::v(rd) + i * eb);
                let x = if op == VOp::Mls {
                    b.un(UnOp::FNeg, x)
                } else {
                    x
                };
                b.fma(x, y, d)
            }
        };
        let l = lane_ok(b, r, double);
        ok = b.bin(BinOp::And, ok, l);
        lanes.push(r);
    }
    fast_or_generic(b, insn, ok, |b| {
        let ity = if double { Ty::I64 } else { Ty::I32 };
        let mut acc: Option<Temp> = None;
        for (i, r) in lanes.into_iter().enumerate() {
            let bits = b.conv(ConvOp::Bitcast, r, ity);
            let w = b.zext(bits, Ty::I128);
            let w = if i == 0 {
                w
            } else {
                let sh = b.const_(Ty::I128, (i as u32 * eb * 8) as u64);
                b.bin(BinOp::Shl, w, sh)
            };
            acc = Some(match acc {
                None => w,
                Some(a) => b.bin(BinOp::Or, a, w),
            });
        }
        if let Some(v) = acc {
            b.set_global(Ty::I128, off::v(rd), v);
        }
    });
}

/// Match the vector FP forms; true when handled (IR emitted). Binary literals are grouped
/// by encoding field (U, a, opcode).
#[allow(clippy::unusual_byte_groupings)]
fn translate_vector(b: &mut Builder, insn: u32) -> bool {
    let q = insn & (1 << 30) != 0;
    let double = insn & (1 << 22) != 0;
    if double && !q {
        return false;
    }
    let rm = (insn >> 16) & 31;
    if insn & 0x9f20_0400 == 0x0e20_0400 {
        // three same: key = U : a : opcode
        let key = (insn >> 29 & 1) << 6 | (insn >> 23 & 1) << 5 | (insn >> 11) & 31;
        let op = match key {
            0b0_0_11010 => VOp::Add,
            0b0_1_11010 => VOp::Sub,
            0b1_0_11011 => VOp::Mul,
            0b1_0_11111 => VOp::Div,
            0b0_0_11001 => VOp::Mla,
            0b0_1_11001 => VOp::Mls,
            _ => return false,
        };
        vector(b, insn, op, double, q, rm, None);
        return true;
    }
    if insn & 0xbf80_0400 == 0x0f80_0000 {
        // by element (U = 0): FMLA 0001, FMLS 0101, FMUL 1001
        let op = match (insn >> 12) & 15 {
            0b0001 => VOp::Mla,
            0b0101 => VOp::Mls,
            0b1001 => VOp::Mul,
            _ => return false,
        };
        let h = (insn >> 11) & 1;
        let l = (insn >> 21) & 1;
        let idx = if double {
            if l != 0 {
                return false;
            }
            h
        } else {
            h << 1 | l
        };
        vector(b, insn, op, double, q, rm, Some(idx));
        return true;
    }
    false
}

/// SCVTF/UCVTF (from a general register) and FCVTZS/FCVTZU (to a general register),
/// inline with a run-time guard; false when `insn` is not one of them.
fn translate_int_conv(b: &mut Builder, insn: u32) -> bool {
    let sf = insn >> 31 == 1;
    let double = insn & (1 << 22) != 0;
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let ity = if sf { Ty::I64 } else { Ty::I32 };
    let ftyp = fty(double);
    let fbits = |v: f64| {
        if double {
            v.to_bits()
        } else {
            (v as f32).to_bits() as u64
        }
    };
    match insn & 0x7fbf_fc00 {
        op @ (0x1e22_0000 | 0x1e23_0000) => {
            // SCVTF / UCVTF: exact conversions raise nothing; inexact ones need round to
            // nearest and Inexact already set.
            let signed = op == 0x1e22_0000;
            let x = crate::translate::get_x(b, rn);
            let x = b.trunc(x, ity);
            let r = b.conv(if signed { ConvOp::SToF } else { ConvOp::UToF }, x, ftyp);
            // Exact (no flags) when |x| < 2^precision.
            let p = if double { 53 } else { 24 };
            let exact = if !sf && p >= 32 {
                b.const64(1)
            } else if signed {
                let k = b.const_(ity, 1u64 << p);
                let k2 = b.const_(ity, 2u64 << p);
                let t = b.bin(BinOp::Add, x, k);
                b.setcond(Cond::LtU, t, k2)
            } else {
                let k = b.const_(ity, 1u64 << p);
                b.setcond(Cond::LtU, x, k)
            };
            let env = env_ok(b);
            let ok = b.bin(BinOp::Or, exact, env);
            fast_or_generic(b, insn, ok, |b| fset(b, rd, r));
            true
        }
        op @ (0x1e38_0000 | 0x1e39_0000) => {
            // FCVTZS / FCVTZU: inline for operands strictly inside the range, with FZ = 0
            // and Inexact already set (truncation is the only rounding).
            let signed = op == 0x1e38_0000;
            let nbits = if sf { 64 } else { 32 };
            let x = fget(b, rn, double);
            let (lo, hi) = if signed {
                let m = (1u64 << (nbits - 1)) as f64;
                (-m, m)
            } else {
                (0.0, ((1u128 << nbits) as f64))
            };
            let lo_c = b.const_(ftyp, fbits(lo));
            let hi_c = b.const_(ftyp, fbits(hi));
            // lo < x (or lo <= x for unsigned zero) and x < hi; NaN fails both.
            let above = if signed {
                b.fcmp(FCond::Lt, lo_c, x)
            } else {
                b.fcmp(FCond::Le, lo_c, x)
            };
            let below = b.fcmp(FCond::Lt, x, hi_c);
            let fpcr = b.get_global(Ty::I64, off::FPCR);
            let fz = b.bin_imm(BinOp::And, fpcr, FPCR_FZ);
            let z = b.const64(0);
            let no_fz = b.setcond(Cond::Eq, fz, z);
            let fpsr = b.get_global(Ty::I64, off::FPSR);
            let ixc = b.extract(fpsr, IXC.trailing_zeros() as u8, 1, false);
            let ok = b.bin(BinOp::And, above, below);
            let ok = b.bin(BinOp::And, ok, no_fz);
            let ok = b.bin(BinOp::And, ok, ixc);
            fast_or_generic(b, insn, ok, |b| {
                let r = b.conv(if signed { ConvOp::FToS } else { ConvOp::FToU }, x, ity);
                crate::translate::set_x(b, rd, r);
            });
            true
        }
        _ => false,
    }
}

/// Emit inline IR for `insn` when it is one of the scalar-FP fast forms; false otherwise
/// (nothing emitted).
pub fn translate(b: &mut Builder, insn: u32) -> bool {
    if insn & 0x1e00_0000 == 0x0e00_0000 && insn >> 31 == 0 && translate_vector(b, insn) {
        return true;
    }
    if translate_int_conv(b, insn) {
        return true;
    }
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let rm = (insn >> 16) & 31;
    let double = insn & (1 << 22) != 0;
    let f = if double { D } else { S };
    // FP data-processing (2 source): fmul fdiv fadd fsub fnmul
    if insn & 0xffa0_0c00 == 0x1e20_0800 {
        let op = match (insn >> 12) & 15 {
            0 => BinOp::FMul,
            1 => BinOp::FDiv,
            2 => BinOp::FAdd,
            3 => BinOp::FSub,
            8 => BinOp::FMul,
            _ => return false,
        };
        let x = fget(b, rn, double);
        let y = fget(b, rm, double);
        let mut r = b.bin(op, x, y);
        if (insn >> 12) & 15 == 8 {
            r = b.un(UnOp::FNeg, r);
        }
        guarded(b, insn, rd, r, double);
        return true;
    }
    // FP data-processing (3 source): fmadd fmsub fnmadd fnmsub
    if insn & 0xff80_0000 == 0x1f00_0000 {
        let ra = (insn >> 10) & 31;
        let o1 = insn & (1 << 21) != 0;
        let o0 = insn & (1 << 15) != 0;
        let mut a = fget(b, ra, double);
        let mut n = fget(b, rn, double);
        let m = fget(b, rm, double);
        if o1 {
            a = b.un(UnOp::FNeg, a);
        }
        if o0 != o1 {
            n = b.un(UnOp::FNeg, n);
        }
        let r = b.fma(n, m, a);
        guarded(b, insn, rd, r, double);
        return true;
    }
    // FP data-processing (1 source)
    if insn & 0xffa0_7c00 == 0x1e20_4000 {
        match (insn >> 15) & 0x3f {
            1 | 2 => {
                // FABS / FNEG: bit operations
                let ity = if double { Ty::I64 } else { Ty::I32 };
                let x = b.get_global(ity, off::v(rn));
                let sign = b.const_(ity, f.sign());
                let r = if (insn >> 15) & 0x3f == 1 {
                    b.bin(BinOp::AndNot, x, sign)
                } else {
                    b.bin(BinOp::Xor, x, sign)
                };
                fset(b, rd, r);
                true
            }
            3 => {
                let x = fget(b, rn, double);
                let r = b.un(UnOp::FSqrt, x);
                guarded(b, insn, rd, r, double);
                true
            }
            5 if !double => {
                // FCVT Dd, Sn
                let x = fget(b, rn, false);
                let r = b.conv(ConvOp::FToF, x, Ty::F64);
                guarded(b, insn, rd, r, true);
                true
            }
            4 if double => {
                // FCVT Sd, Dn
                let x = fget(b, rn, true);
                let r = b.conv(ConvOp::FToF, x, Ty::F32);
                guarded(b, insn, rd, r, false);
                true
            }
            _ => false,
        }
    } else if insn & 0xffa0_fc07 == 0x1e20_2000 {
        // FCMP / FCMPE (register or #0.0): inline when ordered and FZ = 0
        let x = fget(b, rn, double);
        let y = if insn & 8 != 0 {
            let z = b.const_(if double { Ty::I64 } else { Ty::I32 }, 0);
            b.conv(ConvOp::Bitcast, z, fty(double))
        } else {
            fget(b, rm, double)
        };
        let unord = b.fcmp(FCond::Unordered, x, y);
        let fpcr = b.get_global(Ty::I64, off::FPCR);
        let fz = b.bin_imm(BinOp::And, fpcr, FPCR_FZ);
        let bad = b.bin(BinOp::Or, unord, fz);
        let slow = b.new_label();
        let done = b.new_label();
        b.br_cond(bad, slow);
        let lt = b.fcmp(FCond::Lt, x, y);
        let eq = b.fcmp(FCond::Eq, x, y);
        let k_lt = b.const64(0x8000_0000);
        let k_eq = b.const64(0x6000_0000);
        let k_gt = b.const64(0x2000_0000);
        let ge = b.select(eq, k_eq, k_gt);
        let nzcv = b.select(lt, k_lt, ge);
        set_nzcv(b, nzcv);
        b.br(done);
        b.label(slow);
        emit_generic(b, insn);
        b.label(done);
        true
    } else if insn & 0xffa0_0c00 == 0x1e20_0c00 {
        // FCSEL
        let ity = if double { Ty::I64 } else { Ty::I32 };
        let c = cond_holds(b, (insn >> 12) & 15);
        let x = b.get_global(ity, off::v(rn));
        let y = b.get_global(ity, off::v(rm));
        let r = b.select(c, x, y);
        fset(b, rd, r);
        true
    } else if insn & 0xffa0_1fe0 == 0x1e20_1000 {
        // FMOV (scalar, immediate)
        let v = vfp_expand_imm((insn >> 13) & 0xff, f);
        let r = if double {
            b.const64(v)
        } else {
            b.const_(Ty::I32, v)
        };
        fset(b, rd, r);
        true
    } else {
        false
    }
}
