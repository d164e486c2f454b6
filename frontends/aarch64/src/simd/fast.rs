//! Inline IR for the Advanced SIMD instructions on the hot paths of glibc's string and
//! memory functions and of register moves: bitwise ops, NOT, FMOV (general and register),
//! UMOV/INS/DUP, modified immediates, CMEQ on bytes, ADD/SUB and SHL/USHR by immediate
//! and USHLL/SSHLL/SHLL widening (exact SWAR), EXT, and pure helpers
//! (no guest-state access, so the JIT keeps its cached registers) for the byte pairwise ops
//! UMAXP/UMINP/ADDP, the across-lane UMAXV/UMINV/ADDV and SHRN from halfwords. Everything
//! else goes through the generic executor. The differential tests replay these through the
//! interpreter and the JIT against qemu, like the generic path.

use super::{Out, Regs, exec_any};
use crate::cpu::off;
use crate::translate::{get_x, set_x};
use heron_backend::Builder;
use heron_backend::helper;
use heron_backend::ir::{BinOp, Effects, Temp, Ty, UnOp};

fn vget(b: &mut Builder, n: u32) -> Temp {
    b.get_global(Ty::I128, off::v(n))
}

/// Write V[n]; with `q` false only the low 64 bits are kept (the rest zeroed). An I64
/// `v` (a 64-bit form computed on the low half) fills the low half.
fn vset(b: &mut Builder, n: u32, v: Temp, q: bool) {
    let v = if b.ty(v) == Ty::I64 {
        b.zext(v, Ty::I128)
    } else if q {
        v
    } else {
        let lo = b.trunc(v, Ty::I64);
        b.zext(lo, Ty::I128)
    };
    b.set_global(Ty::I128, off::v(n), v);
}

/// Lane constant `pattern` for a vector form: 128 bits, or its low half as I64 for the
/// 64-bit form (`q` false) computed on the low half.
fn lane_const(b: &mut Builder, pattern: u128, q: bool) -> Temp {
    if q {
        c128(b, pattern)
    } else {
        b.const64(pattern as u64)
    }
}

/// A 128-bit constant.
fn c128(b: &mut Builder, v: u128) -> Temp {
    let lo = b.const_(Ty::I128, v as u64);
    if (v >> 64) == 0 {
        return lo;
    }
    let hi = b.const_(Ty::I128, (v >> 64) as u64);
    let sh = b.const_(Ty::I128, 64);
    let hi = b.bin(BinOp::Shl, hi, sh);
    b.bin(BinOp::Or, hi, lo)
}

fn lo64(b: &mut Builder, v: Temp) -> Temp {
    b.trunc(v, Ty::I64)
}

fn hi64(b: &mut Builder, v: Temp) -> Temp {
    let sh = b.const_(Ty::I128, 64);
    let h = b.bin(BinOp::ShrU, v, sh);
    b.trunc(h, Ty::I64)
}

fn join(b: &mut Builder, lo: Temp, hi: Temp) -> Temp {
    let lo = b.zext(lo, Ty::I128);
    let hi = b.zext(hi, Ty::I128);
    let sh = b.const_(Ty::I128, 64);
    let hi = b.bin(BinOp::Shl, hi, sh);
    b.bin(BinOp::Or, hi, lo)
}

/// Replicate the low `es` bits of the I128 `x` across 128 bits.
fn replicate(b: &mut Builder, x: Temp, es: u32) -> Temp {
    let mut r = x;
    let mut w = es;
    while w < 128 {
        let sh = b.const_(Ty::I128, w as u64);
        let t = b.bin(BinOp::Shl, r, sh);
        r = b.bin(BinOp::Or, r, t);
        w *= 2;
    }
    r
}

/// `x` (an `es`-bit lane value) replicated across 128 bits.
fn lane_pattern(es: u32, x: u64) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < 128 {
        v |= (x as u128) << i;
        i += es;
    }
    v
}

/// V[d] after the instruction on scratch state whose registers all hold `fill`: the
/// constant an immediate form produces.
fn probe(insn: u32, fill: u128) -> Option<u128> {
    let mut v = [fill; 32];
    let mut fpsr = 0;
    let mut r = Regs {
        v: &mut v,
        fpcr: 0,
        fpsr: &mut fpsr,
    };
    match exec_any(&mut r, insn, 0, false) {
        Ok(Out::None) => Some(v[(insn & 31) as usize]),
        _ => None,
    }
}

/// Byte-pair reduction of 16 bytes (`lo` = bytes 0..7, `hi` = bytes 8..15) to 8 bytes:
/// kind 0 UMAXP, 1 UMINP, 2 ADDP.
pub fn pair8(lo: u64, hi: u64, kind: u64) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&lo.to_le_bytes());
    bytes[8..].copy_from_slice(&hi.to_le_bytes());
    let mut out = [0u8; 8];
    for i in 0..8 {
        let (x, y) = (bytes[2 * i], bytes[2 * i + 1]);
        out[i] = match kind {
            0 => x.max(y),
            1 => x.min(y),
            _ => x.wrapping_add(y),
        };
    }
    u64::from_le_bytes(out)
}

/// Across-lane byte reduction of `n` (8 or 16) bytes: kind 0 UMAXV, 1 UMINV, 2 ADDV.
pub fn across8(lo: u64, hi: u64, kind_n: u64) -> u64 {
    let kind = kind_n & 3;
    let n = (kind_n >> 2) as usize;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&lo.to_le_bytes());
    bytes[8..].copy_from_slice(&hi.to_le_bytes());
    let it = bytes[..n].iter().copied();
    (match kind {
        0 => it.max().unwrap_or(0),
        1 => it.min().unwrap_or(0),
        _ => it.fold(0u8, |a, x| a.wrapping_add(x)),
    }) as u64
}

/// SHRN from 8 halfwords (`lo`, `hi`) by `shift` (1..=8): 8 bytes.
pub fn shrn8(lo: u64, hi: u64, shift: u64) -> u64 {
    let mut out = 0u64;
    for i in 0..8 {
        let src = if i < 4 { lo } else { hi };
        let h = (src >> (16 * (i % 4))) & 0xffff;
        out |= ((h >> shift) & 0xff) << (8 * i);
    }
    out
}

extern "C" fn pair8_helper(_env: *mut u8, lo: u64, hi: u64, kind: u64) -> u64 {
    pair8(lo, hi, kind)
}
extern "C" fn across8_helper(_env: *mut u8, lo: u64, hi: u64, kind_n: u64) -> u64 {
    across8(lo, hi, kind_n)
}
extern "C" fn shrn8_helper(_env: *mut u8, lo: u64, hi: u64, shift: u64) -> u64 {
    shrn8(lo, hi, shift)
}

helper!(H_PAIR8 = pair8_helper, 3, Effects::PURE);
helper!(H_ACROSS8 = across8_helper, 3, Effects::PURE);
helper!(H_SHRN8 = shrn8_helper, 3, Effects::PURE);

/// SWAR widening of the `es`-bit lanes in the low 32 bits of the I64 `x` (upper bits zero)
/// to 2*es-bit lanes, sign- or zero-extended, shifted left by `shift` (< 2*es).
fn widen_ir(b: &mut Builder, x: Temp, es: u32, shift: u32, signed: bool) -> Temp {
    let mut x = x;
    let spread = |b: &mut Builder, x: Temp, by: u64, keep: u64| {
        let t = b.bin_imm(BinOp::Shl, x, by);
        let o = b.bin(BinOp::Or, x, t);
        b.bin_imm(BinOp::And, o, keep)
    };
    match es {
        8 => {
            x = spread(b, x, 16, 0x0000_ffff_0000_ffff);
            x = spread(b, x, 8, 0x00ff_00ff_00ff_00ff);
        }
        16 => x = spread(b, x, 16, 0x0000_ffff_0000_ffff),
        _ => {}
    }
    if signed {
        x = match es {
            32 => {
                let w = b.trunc(x, Ty::I32);
                b.sext(w, Ty::I64)
            }
            _ => {
                let ones = lane_pattern(2 * es, 1) as u64;
                let fill = lane_pattern(2 * es, ((1u64 << es) - 1) << es) as u64;
                let sbit = b.bin_imm(BinOp::ShrU, x, (es - 1) as u64);
                let sbit = b.bin_imm(BinOp::And, sbit, ones);
                let hi = b.bin_imm(BinOp::Mul, sbit, ((1u64 << es) - 1) << es);
                let hi = b.bin_imm(BinOp::And, hi, fill);
                b.bin(BinOp::Or, x, hi)
            }
        };
    }
    if shift > 0 {
        let wm = if 2 * es == 64 {
            u64::MAX
        } else {
            (1u64 << (2 * es)) - 1
        };
        let keep = lane_pattern(2 * es, (wm << shift) & wm) as u64;
        let t = b.bin_imm(BinOp::Shl, x, shift as u64);
        x = b.bin_imm(BinOp::And, t, keep);
    }
    x
}

/// (es, shift, signed) of USHLL/SSHLL (vector, es < 64) or SHLL.
fn widen_form(insn: u32) -> Option<(u32, u32, bool)> {
    if insn & 0x9f80_fc00 == 0x0f00_a400 {
        let immh = (insn >> 19) & 15;
        if immh == 0 || immh & 8 != 0 {
            return None;
        }
        let es = 8u32 << (31 - immh.leading_zeros());
        let shift = ((insn >> 16) & 127) - es;
        return Some((es, shift, insn & (1 << 29) == 0));
    }
    if insn & 0xbf3f_fc00 == 0x2e21_3800 {
        let size = (insn >> 22) & 3;
        if size == 3 {
            return None;
        }
        let es = 8u32 << size;
        return Some((es, es, false));
    }
    None
}

/// CMEQ on bytes against zero (exact): 0xff where the byte of `x` is zero.
fn zero_bytes(b: &mut Builder, x: Temp) -> Temp {
    let k7f = c128(b, 0x7f7f_7f7f_7f7f_7f7f_7f7f_7f7f_7f7f_7f7f);
    let t = b.bin(BinOp::And, x, k7f);
    let t = b.bin(BinOp::Add, t, k7f);
    let t = b.bin(BinOp::Or, t, x);
    let t = b.bin(BinOp::Or, t, k7f);
    let t = b.un(UnOp::Not, t); // 0x80 in zero bytes, 0 elsewhere
    let one = b.const_(Ty::I128, 1);
    let seven = b.const_(Ty::I128, 7);
    let hi = b.bin(BinOp::Shl, t, one);
    let lo = b.bin(BinOp::ShrU, t, seven);
    b.bin(BinOp::Sub, hi, lo)
}

/// Emit inline IR for `insn` when it is one of the fast-path forms; false otherwise
/// (nothing emitted).
pub fn translate(b: &mut Builder, insn: u32) -> bool {
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let rm = (insn >> 16) & 31;
    let q = insn & (1 << 30) != 0;
    // Bitwise three-same: AND BIC ORR ORN EOR BSL BIT BIF.
    if insn & 0x9f20_fc00 == 0x0e20_1c00 {
        let u = insn & (1 << 29) != 0;
        let size = (insn >> 22) & 3;
        let a = vget(b, rn);
        let m = vget(b, rm);
        let v = match (u, size) {
            (false, 0) => b.bin(BinOp::And, a, m),
            (false, 1) => b.bin(BinOp::AndNot, a, m),
            (false, 2) => b.bin(BinOp::Or, a, m),
            (false, _) => b.bin(BinOp::OrNot, a, m),
            (true, 0) => b.bin(BinOp::Xor, a, m),
            (true, sel) => {
                // BSL: d ? n : m; BIT: m ? n : d; BIF: m ? d : n
                let d = vget(b, rd);
                let (mask, t, f) = match sel {
                    1 => (d, a, m),
                    2 => (m, a, d),
                    _ => (m, d, a),
                };
                let x = b.bin(BinOp::And, t, mask);
                let y = b.bin(BinOp::AndNot, f, mask);
                b.bin(BinOp::Or, x, y)
            }
        };
        vset(b, rd, v, q);
        return true;
    }
    // NOT
    if insn & 0xbfff_fc00 == 0x2e20_5800 {
        let a = vget(b, rn);
        let v = b.un(UnOp::Not, a);
        vset(b, rd, v, q);
        return true;
    }
    // FMOV general <-> FP and FMOV (register)
    match insn & 0xffff_fc00 {
        0x1e26_0000 => {
            let v = b.get_global(Ty::I32, off::v(rn));
            set_x(b, rd, v);
            return true;
        }
        0x9e66_0000 => {
            let v = b.get_global(Ty::I64, off::v(rn));
            set_x(b, rd, v);
            return true;
        }
        0x9eae_0000 => {
            let v = b.get_global(Ty::I64, off::v(rn) + 8);
            set_x(b, rd, v);
            return true;
        }
        0x1e27_0000 | 0x9e67_0000 => {
            let x = get_x(b, rn);
            let x = if insn >> 31 == 0 {
                b.trunc(x, Ty::I32)
            } else {
                x
            };
            let v = b.zext(x, Ty::I128);
            vset(b, rd, v, true);
            return true;
        }
        0x9eaf_0000 => {
            let x = get_x(b, rn);
            let d = vget(b, rd);
            let x = b.zext(x, Ty::I128);
            let v = b.deposit(d, x, 64, 64);
            vset(b, rd, v, true);
            return true;
        }
        0x1e20_4000 | 0x1e60_4000 => {
            let ty = if insn & (1 << 22) != 0 {
                Ty::I64
            } else {
                Ty::I32
            };
            let v = b.get_global(ty, off::v(rn));
            let v = b.zext(v, Ty::I128);
            vset(b, rd, v, true);
            return true;
        }
        _ => {}
    }
    // AdvSIMD copy: DUP (element, general), INS (general, element), UMOV.
    if insn & 0x9fe0_8400 == 0x0e00_0400 {
        let op = (insn >> 29) & 1;
        let imm5 = (insn >> 16) & 31;
        let imm4 = (insn >> 11) & 15;
        let size = imm5.trailing_zeros();
        if size > 3 {
            return false;
        }
        let es = 8u32 << size;
        let idx = imm5 >> (size + 1);
        let pos = (idx * es) as u8;
        match (op, imm4) {
            (1, _) if q => {
                let src = (imm4 >> size) * es;
                let n = vget(b, rn);
                let e = b.extract(n, src as u8, es as u8, false);
                let d = vget(b, rd);
                let v = b.deposit(d, e, pos, es as u8);
                vset(b, rd, v, true);
                true
            }
            (0, 0b0000) if q || size < 3 => {
                let n = vget(b, rn);
                let e = b.extract(n, pos, es as u8, false);
                let v = replicate(b, e, es);
                vset(b, rd, v, q);
                true
            }
            (0, 0b0001) if q || size < 3 => {
                let x = get_x(b, rn);
                let x = b.zext(x, Ty::I128);
                let e = b.extract(x, 0, es as u8, false);
                let v = replicate(b, e, es);
                vset(b, rd, v, q);
                true
            }
            (0, 0b0011) if q => {
                let x = get_x(b, rn);
                let x = b.zext(x, Ty::I128);
                let d = vget(b, rd);
                let v = b.deposit(d, x, pos, es as u8);
                vset(b, rd, v, true);
                true
            }
            (0, 0b0111) if (!q && size < 3) || (q && size == 3) => {
                let n = vget(b, rn);
                let e = b.extract(n, pos, es as u8, false);
                let e = b.trunc(e, Ty::I64);
                set_x(b, rd, e);
                true
            }
            _ => false,
        }
    } else if insn & 0x9ff8_0400 == 0x0f00_0400 {
        // Modified immediate: MOVI/MVNI/FMOV give constants; ORR/BIC combine with V[d].
        let cmode = (insn >> 12) & 15;
        let logic = cmode & 1 == 1 && cmode < 0b1100;
        let (Some(zero), Some(ones)) = (probe(insn, 0), probe(insn, u128::MAX)) else {
            return false;
        };
        let v = if !logic {
            c128(b, zero)
        } else if insn & (1 << 29) == 0 {
            // ORR: 0 | imm = imm
            let d = vget(b, rd);
            let k = c128(b, zero);
            b.bin(BinOp::Or, d, k)
        } else {
            // BIC: ones & !imm
            let d = vget(b, rd);
            let k = c128(b, ones | if q { 0 } else { u128::MAX << 64 });
            b.bin(BinOp::And, d, k)
        };
        vset(b, rd, v, q);
        true
    } else if insn & 0xbfff_fc00 == 0x0e20_9800 || insn & 0xbfe0_fc00 == 0x2e20_8c00 {
        // CMEQ .16b/.8b against zero or a register
        let a = vget(b, rn);
        let x = if insn & (1 << 29) != 0 {
            let m = vget(b, rm);
            b.bin(BinOp::Xor, a, m)
        } else {
            a
        };
        let v = zero_bytes(b, x);
        vset(b, rd, v, q);
        true
    } else if insn & 0xbfe0_8400 == 0x2e00_0000 {
        // EXT
        let imm4 = (insn >> 11) & 15;
        if !q && imm4 >= 8 {
            return false;
        }
        let ds = if q { 128 } else { 64 };
        let mut lo = vget(b, rn);
        let mut hi = vget(b, rm);
        if !q {
            let l = lo64(b, lo);
            lo = b.zext(l, Ty::I128);
            let h = lo64(b, hi);
            hi = b.zext(h, Ty::I128);
        }
        let sh = imm4 * 8;
        let v = if sh == 0 {
            lo
        } else {
            let s1 = b.const_(Ty::I128, sh as u64);
            let s2 = b.const_(Ty::I128, (ds - sh) as u64);
            let l = b.bin(BinOp::ShrU, lo, s1);
            let h = b.bin(BinOp::Shl, hi, s2);
            b.bin(BinOp::Or, l, h)
        };
        vset(b, rd, v, q);
        true
    } else if let Some(kind) = match insn & 0xbfe0_fc00 {
        0x2e20_a400 => Some(0u64),
        0x2e20_ac00 => Some(1),
        0x0e20_bc00 => Some(2),
        _ => None,
    } {
        // UMAXP / UMINP / ADDP on bytes
        let a = vget(b, rn);
        let m = vget(b, rm);
        let k = b.const64(kind);
        let (lo, hi) = if q {
            let (al, ah) = (lo64(b, a), hi64(b, a));
            let r0 = b.call(&H_PAIR8, &[al, ah, k]);
            let r1 = if rn == rm {
                r0
            } else {
                let (ml, mh) = (lo64(b, m), hi64(b, m));
                b.call(&H_PAIR8, &[ml, mh, k])
            };
            (r0, r1)
        } else {
            let (al, ml) = (lo64(b, a), lo64(b, m));
            let r0 = b.call(&H_PAIR8, &[al, ml, k]);
            (r0, b.const64(0))
        };
        let v = join(b, lo, hi);
        vset(b, rd, v, true);
        true
    } else if let Some(kind) = match insn & 0xbfff_fc00 {
        0x2e30_a800 => Some(0u64),
        0x2e31_a800 => Some(1),
        0x0e31_b800 => Some(2),
        _ => None,
    } {
        // UMAXV / UMINV / ADDV on bytes
        let a = vget(b, rn);
        let (al, ah) = (lo64(b, a), hi64(b, a));
        let n = if q { 16 } else { 8 };
        let k = b.const64(kind | n << 2);
        let r = b.call(&H_ACROSS8, &[al, ah, k]);
        let v = b.zext(r, Ty::I128);
        vset(b, rd, v, true);
        true
    } else if insn & 0x9f20_fc00 == 0x0e20_8400 {
        // ADD / SUB (vector), any lane size (SWAR on 128 bits)
        let size = (insn >> 22) & 3;
        if size == 3 && !q {
            return false;
        }
        let es = 8u32 << size;
        let h = lane_pattern(es, 1u64 << (es - 1));
        let (a, m) = (vget(b, rn), vget(b, rm));
        // The 64-bit form works on the low halves as I64 (I128 shifts and constants cost
        // Cranelift several instructions each).
        let (a, m) = if q { (a, m) } else { (lo64(b, a), lo64(b, m)) };
        let hk = lane_const(b, h, q);
        let v = if insn & (1 << 29) == 0 {
            // ((a & ~H) + (m & ~H)) ^ ((a ^ m) & H)
            let a0 = b.bin(BinOp::AndNot, a, hk);
            let m0 = b.bin(BinOp::AndNot, m, hk);
            let s0 = b.bin(BinOp::Add, a0, m0);
            let x = b.bin(BinOp::Xor, a, m);
            let x = b.bin(BinOp::And, x, hk);
            b.bin(BinOp::Xor, s0, x)
        } else {
            // ((a | H) - (m & ~H)) ^ ((a ^ ~m) & H)
            let a1 = b.bin(BinOp::Or, a, hk);
            let m0 = b.bin(BinOp::AndNot, m, hk);
            let d0 = b.bin(BinOp::Sub, a1, m0);
            let x = b.bin(BinOp::XorNot, a, m);
            let x = b.bin(BinOp::And, x, hk);
            b.bin(BinOp::Xor, d0, x)
        };
        vset(b, rd, v, q);
        true
    } else if (insn & 0xbf80_fc00 == 0x0f00_5400 || insn & 0xbf80_fc00 == 0x2f00_0400)
        && (insn >> 19) & 15 != 0
    {
        // SHL / USHR by immediate (vector)
        let immh = (insn >> 19) & 15;
        let hb = 31 - immh.leading_zeros();
        let es = 8u32 << hb;
        if es == 64 && !q {
            return false;
        }
        let immhb = (insn >> 16) & 127;
        let a = vget(b, rn);
        // As for ADD/SUB: the 64-bit form shifts and masks the low half as I64.
        let (a, ty) = if q {
            (a, Ty::I128)
        } else {
            (lo64(b, a), Ty::I64)
        };
        let lane = if es == 64 { u64::MAX } else { (1u64 << es) - 1 };
        let v = if insn & (1 << 29) == 0 {
            let sh = immhb - es;
            let k = b.const_(ty, sh as u64);
            let t = b.bin(BinOp::Shl, a, k);
            let mk = lane_const(b, lane_pattern(es, (lane << sh) & lane), q);
            b.bin(BinOp::And, t, mk)
        } else {
            let sh = 2 * es - immhb;
            let k = b.const_(ty, sh as u64);
            let t = b.bin(BinOp::ShrU, a, k);
            let keep = if sh >= es { 0 } else { lane >> sh };
            let mk = lane_const(b, lane_pattern(es, keep), q);
            b.bin(BinOp::And, t, mk)
        };
        vset(b, rd, v, q);
        true
    } else if let Some((es, shift, signed)) = widen_form(insn) {
        // USHLL/SSHLL (incl. UXTL/SXTL) and SHLL, lower or upper half
        let a = vget(b, rn);
        let src = if q { hi64(b, a) } else { lo64(b, a) };
        let lo32 = b.bin_imm(BinOp::And, src, 0xffff_ffff);
        let hi32 = b.bin_imm(BinOp::ShrU, src, 32);
        let r0 = widen_ir(b, lo32, es, shift, signed);
        let r1 = widen_ir(b, hi32, es, shift, signed);
        let v = join(b, r0, r1);
        vset(b, rd, v, true);
        true
    } else if insn & 0xbff8_fc00 == 0x0f08_8400 {
        // SHRN / SHRN2 .8b/.16b from .8h
        let shift = 16 - (8 + ((insn >> 16) & 7));
        let a = vget(b, rn);
        let (al, ah) = (lo64(b, a), hi64(b, a));
        let s = b.const64(shift as u64);
        let r = b.call(&H_SHRN8, &[al, ah, s]);
        let v = if q {
            let d = vget(b, rd);
            let dl = lo64(b, d);
            join(b, dl, r)
        } else {
            b.zext(r, Ty::I128)
        };
        vset(b, rd, v, true);
        true
    } else {
        false
    }
}
