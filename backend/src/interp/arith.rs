//! Pure evaluation of IR value operations (integer, float, conversion, atomic combine), as the
//! reference semantics of `ir.rs`. Integer values of up to 64 bits are passed zero-extended in
//! a `u64`; I128/V128 values in a `u128`; F32/F64 as raw bit patterns. Every function is total:
//! it never panics, whatever its inputs.

use crate::ir::{BinOp, Cond, ConvOp, FCond, RmwOp, Ty, UnOp, sext};

/// All ones in the low `bits` bits (`bits` in 1..=64).
#[inline(always)]
pub fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Sign-extend the low `bits` bits of a 128-bit value.
#[inline]
pub fn sext128(v: u128, bits: u32) -> i128 {
    if bits >= 128 || bits == 0 {
        v as i128
    } else {
        let s = 128 - bits;
        ((v << s) as i128) >> s
    }
}

/// Keep the low `bits` bits of a 128-bit value.
#[inline]
pub fn zext128(v: u128, bits: u32) -> u128 {
    if bits >= 128 {
        v
    } else {
        v & ((1u128 << bits) - 1)
    }
}

#[inline]
fn f32_of(v: u64) -> f32 {
    f32::from_bits(v as u32)
}
#[inline]
fn f64_of(v: u64) -> f64 {
    f64::from_bits(v)
}

/// Float binary op; `bits` 32 selects f32, anything else f64.
#[inline]
pub fn fbin(op: BinOp, bits: u32, a: u64, b: u64) -> u64 {
    if bits == 32 {
        let (x, y) = (f32_of(a), f32_of(b));
        let r = match op {
            BinOp::FAdd => x + y,
            BinOp::FSub => x - y,
            BinOp::FMul => x * y,
            _ => x / y,
        };
        r.to_bits() as u64
    } else {
        let (x, y) = (f64_of(a), f64_of(b));
        let r = match op {
            BinOp::FAdd => x + y,
            BinOp::FSub => x - y,
            BinOp::FMul => x * y,
            _ => x / y,
        };
        r.to_bits()
    }
}

/// Integer binary op at `bits` (8, 16, 32, 64) on zero-extended operands; the float ops are
/// delegated to [`fbin`]. The result is zero-extended.
#[inline]
pub fn bin(op: BinOp, bits: u32, a: u64, b: u64) -> u64 {
    let m = mask(bits);
    let (a, b) = (a & m, b & m);
    let sh = (b as u32) & (bits.wrapping_sub(1) & 63);
    let r = match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::MulHS => ((sext(a, bits) as i128 * sext(b, bits) as i128) >> bits) as u64,
        BinOp::MulHU => ((a as u128 * b as u128) >> bits) as u64,
        BinOp::MulHSU => ((sext(a, bits) as i128 * b as i128) >> bits) as u64,
        BinOp::DivS => {
            let (x, y) = (sext(a, bits), sext(b, bits));
            if y == 0 {
                u64::MAX
            } else {
                x.wrapping_div(y) as u64
            }
        }
        BinOp::DivU => a.checked_div(b).unwrap_or(u64::MAX),
        BinOp::RemS => {
            let (x, y) = (sext(a, bits), sext(b, bits));
            if y == 0 { a } else { x.wrapping_rem(y) as u64 }
        }
        BinOp::RemU => a.checked_rem(b).unwrap_or(a),
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
        BinOp::AndNot => a & !b,
        BinOp::OrNot => a | !b,
        BinOp::XorNot => !(a ^ b),
        BinOp::Shl => a << sh,
        BinOp::ShrU => a >> sh,
        BinOp::ShrS => (sext(a, bits) >> sh) as u64,
        BinOp::Rotl => {
            if sh == 0 {
                a
            } else {
                (a << sh) | (a >> (bits - sh))
            }
        }
        BinOp::Rotr => {
            if sh == 0 {
                a
            } else {
                (a >> sh) | (a << (bits - sh))
            }
        }
        BinOp::MinS => {
            if sext(a, bits) <= sext(b, bits) {
                a
            } else {
                b
            }
        }
        BinOp::MaxS => {
            if sext(a, bits) >= sext(b, bits) {
                a
            } else {
                b
            }
        }
        BinOp::MinU => a.min(b),
        BinOp::MaxU => a.max(b),
        BinOp::FAdd | BinOp::FSub | BinOp::FMul | BinOp::FDiv => fbin(op, bits, a, b),
    };
    r & m
}

/// High 128 bits of the unsigned 256-bit product.
pub fn mulhu128(a: u128, b: u128) -> u128 {
    let (a0, a1) = (a as u64 as u128, a >> 64);
    let (b0, b1) = (b as u64 as u128, b >> 64);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 as u64 as u128) + (p10 as u64 as u128);
    p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64)
}

/// Binary op on 128-bit values (I128, and the bitwise ops on V128). Float ops act on the low
/// 64 bits as f64 (meaningless but defined; the verifier rejects them).
pub fn bin128(op: BinOp, a: u128, b: u128) -> u128 {
    let sh = (b as u32) & 127;
    let (x, y) = (a as i128, b as i128);
    match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::MulHU => mulhu128(a, b),
        BinOp::MulHS => mulhu128(a, b)
            .wrapping_sub(if x < 0 { b } else { 0 })
            .wrapping_sub(if y < 0 { a } else { 0 }),
        BinOp::MulHSU => mulhu128(a, b).wrapping_sub(if x < 0 { b } else { 0 }),
        BinOp::DivS => {
            if y == 0 {
                u128::MAX
            } else {
                x.wrapping_div(y) as u128
            }
        }
        BinOp::DivU => a.checked_div(b).unwrap_or(u128::MAX),
        BinOp::RemS => {
            if y == 0 {
                a
            } else {
                x.wrapping_rem(y) as u128
            }
        }
        BinOp::RemU => a.checked_rem(b).unwrap_or(a),
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
        BinOp::AndNot => a & !b,
        BinOp::OrNot => a | !b,
        BinOp::XorNot => !(a ^ b),
        BinOp::Shl => a << sh,
        BinOp::ShrU => a >> sh,
        BinOp::ShrS => (x >> sh) as u128,
        BinOp::Rotl => a.rotate_left(sh),
        BinOp::Rotr => a.rotate_right(sh),
        BinOp::MinS => x.min(y) as u128,
        BinOp::MaxS => x.max(y) as u128,
        BinOp::MinU => a.min(b),
        BinOp::MaxU => a.max(b),
        BinOp::FAdd | BinOp::FSub | BinOp::FMul | BinOp::FDiv => {
            fbin(op, 64, a as u64, b as u64) as u128
        }
    }
}

/// Float unary op; `bits` 32 selects f32, anything else f64.
#[inline]
pub fn fun(op: UnOp, bits: u32, a: u64) -> u64 {
    if bits == 32 {
        let x = f32_of(a);
        let r = match op {
            UnOp::FNeg => -x,
            UnOp::FAbs => x.abs(),
            _ => x.sqrt(),
        };
        r.to_bits() as u64
    } else {
        let x = f64_of(a);
        let r = match op {
            UnOp::FNeg => -x,
            UnOp::FAbs => x.abs(),
            _ => x.sqrt(),
        };
        r.to_bits()
    }
}

/// Integer unary op at `bits` (8, 16, 32, 64); float ops delegated to [`fun`].
#[inline]
pub fn un(op: UnOp, bits: u32, a: u64) -> u64 {
    let m = mask(bits);
    let a = a & m;
    let pad = 64 - bits.min(64);
    let r = match op {
        UnOp::Not => !a,
        UnOp::Neg => a.wrapping_neg(),
        UnOp::Clz => {
            if a == 0 {
                bits as u64
            } else {
                (a.leading_zeros() - pad) as u64
            }
        }
        UnOp::Ctz => {
            if a == 0 {
                bits as u64
            } else {
                a.trailing_zeros() as u64
            }
        }
        UnOp::Popcnt => a.count_ones() as u64,
        UnOp::Bswap => a.swap_bytes() >> pad,
        UnOp::Bitrev => a.reverse_bits() >> pad,
        UnOp::FNeg | UnOp::FAbs | UnOp::FSqrt => fun(op, bits, a),
    };
    r & m
}

/// Unary op on 128-bit values.
pub fn un128(op: UnOp, a: u128) -> u128 {
    match op {
        UnOp::Not => !a,
        UnOp::Neg => a.wrapping_neg(),
        UnOp::Clz => a.leading_zeros() as u128,
        UnOp::Ctz => a.trailing_zeros() as u128,
        UnOp::Popcnt => a.count_ones() as u128,
        UnOp::Bswap => a.swap_bytes(),
        UnOp::Bitrev => a.reverse_bits(),
        UnOp::FNeg | UnOp::FAbs | UnOp::FSqrt => fun(op, 64, a as u64) as u128,
    }
}

/// Integer comparison at `bits` (up to 128) of zero-extended values.
#[inline]
pub fn cond(c: Cond, bits: u32, a: u128, b: u128) -> bool {
    let (ua, ub) = (zext128(a, bits), zext128(b, bits));
    let (sa, sb) = (sext128(a, bits), sext128(b, bits));
    match c {
        Cond::Eq => ua == ub,
        Cond::Ne => ua != ub,
        Cond::LtS => sa < sb,
        Cond::LeS => sa <= sb,
        Cond::GtS => sa > sb,
        Cond::GeS => sa >= sb,
        Cond::LtU => ua < ub,
        Cond::LeU => ua <= ub,
        Cond::GtU => ua > ub,
        Cond::GeU => ua >= ub,
    }
}

/// Integer comparison at `bits` up to 64 (the hot path of [`cond`]).
#[inline]
pub fn cond64(c: Cond, bits: u32, a: u64, b: u64) -> bool {
    match c {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::LtS => sext(a, bits) < sext(b, bits),
        Cond::LeS => sext(a, bits) <= sext(b, bits),
        Cond::GtS => sext(a, bits) > sext(b, bits),
        Cond::GeS => sext(a, bits) >= sext(b, bits),
        Cond::LtU => a < b,
        Cond::LeU => a <= b,
        Cond::GtU => a > b,
        Cond::GeU => a >= b,
    }
}

/// Quiet float comparison; `bits` 32 selects f32, anything else f64.
#[inline]
pub fn fcmp(c: FCond, bits: u32, a: u64, b: u64) -> bool {
    let (x, y) = if bits == 32 {
        (f32_of(a) as f64, f32_of(b) as f64)
    } else {
        (f64_of(a), f64_of(b))
    };
    match c {
        FCond::Eq => x == y,
        FCond::Lt => x < y,
        FCond::Le => x <= y,
        FCond::Unordered => x.is_nan() || y.is_nan(),
    }
}

/// Fused multiply-add; `bits` 32 selects f32, anything else f64.
#[inline]
pub fn fma(bits: u32, a: u64, b: u64, c: u64) -> u64 {
    if bits == 32 {
        f32_of(a).mul_add(f32_of(b), f32_of(c)).to_bits() as u64
    } else {
        f64_of(a).mul_add(f64_of(b), f64_of(c)).to_bits()
    }
}

/// Float value of a raw F32/F64 pattern, widened exactly to f64.
fn float_in(from: Ty, v: u128) -> f64 {
    if from == Ty::F32 {
        f32_of(v as u64) as f64
    } else {
        f64_of(v as u64)
    }
}

/// Raw pattern of `x` rounded to the float type `to`.
fn float_out_i(to: Ty, x: i128) -> u128 {
    if to == Ty::F32 {
        (x as f32).to_bits() as u128
    } else {
        (x as f64).to_bits() as u128
    }
}

fn float_out_u(to: Ty, x: u128) -> u128 {
    if to == Ty::F32 {
        (x as f32).to_bits() as u128
    } else {
        (x as f64).to_bits() as u128
    }
}

/// Conversion from type `from` to type `to` (Rust `as` semantics: int to float rounds to
/// nearest even, float to int saturates toward zero with NaN giving 0). The result is
/// zero-extended from `to`'s width.
pub fn conv(op: ConvOp, from: Ty, to: Ty, v: u128) -> u128 {
    let fb = from.bits();
    let r = match op {
        ConvOp::SToF => float_out_i(to, sext128(v, fb)),
        ConvOp::UToF => float_out_u(to, zext128(v, fb)),
        ConvOp::FToS => {
            let x = float_in(from, v);
            match to.bits() {
                8 => x as i8 as u8 as u128,
                16 => x as i16 as u16 as u128,
                32 => x as i32 as u32 as u128,
                64 => x as i64 as u64 as u128,
                _ => x as i128 as u128,
            }
        }
        ConvOp::FToU => {
            let x = float_in(from, v);
            match to.bits() {
                8 => x as u8 as u128,
                16 => x as u16 as u128,
                32 => x as u32 as u128,
                64 => x as u64 as u128,
                _ => x as u128,
            }
        }
        ConvOp::FToF => match (from, to) {
            (Ty::F32, Ty::F64) => (f32_of(v as u64) as f64).to_bits() as u128,
            (Ty::F64, Ty::F32) => (f64_of(v as u64) as f32).to_bits() as u128,
            _ => v,
        },
        ConvOp::Bitcast => v,
    };
    zext128(r, to.bits())
}

/// Width change of an integer (or bits) value: extend from `from_bits` (sign or zero), then
/// truncate to `to_bits`.
#[inline]
pub fn ext(v: u128, from_bits: u32, to_bits: u32, signed: bool) -> u128 {
    let x = if signed {
        sext128(v, from_bits) as u128
    } else {
        zext128(v, from_bits)
    };
    zext128(x, to_bits)
}

/// Bits [pos, pos+len) of `v`, sign- or zero-extended, truncated to `bits`.
#[inline]
pub fn extract(v: u128, bits: u32, pos: u32, len: u32, signed: bool) -> u128 {
    if len == 0 {
        return 0;
    }
    let f = v.checked_shr(pos).unwrap_or(0);
    let x = if signed {
        sext128(f, len) as u128
    } else {
        zext128(f, len)
    };
    zext128(x, bits)
}

/// `base` with bits [pos, pos+len) replaced by the low `len` bits of `val`, truncated to
/// `bits`.
#[inline]
pub fn deposit(base: u128, val: u128, bits: u32, pos: u32, len: u32) -> u128 {
    if len == 0 {
        return zext128(base, bits);
    }
    let field = zext128(u128::MAX, len).checked_shl(pos).unwrap_or(0);
    let v = val.checked_shl(pos).unwrap_or(0);
    zext128((base & !field) | (v & field), bits)
}

/// New memory value of an atomic read-modify-write at `bits` (8..64): `old op val`.
#[inline]
pub fn rmw(op: RmwOp, bits: u32, old: u64, val: u64) -> u64 {
    let m = mask(bits);
    let (old, val) = (old & m, val & m);
    let r = match op {
        RmwOp::Xchg => val,
        RmwOp::Add => old.wrapping_add(val),
        RmwOp::And => old & val,
        RmwOp::Or => old | val,
        RmwOp::Xor => old ^ val,
        RmwOp::MinS => {
            if sext(old, bits) <= sext(val, bits) {
                old
            } else {
                val
            }
        }
        RmwOp::MaxS => {
            if sext(old, bits) >= sext(val, bits) {
                old
            } else {
                val
            }
        }
        RmwOp::MinU => old.min(val),
        RmwOp::MaxU => old.max(val),
    };
    r & m
}

/// [`rmw`] on 128-bit values.
pub fn rmw128(op: RmwOp, old: u128, val: u128) -> u128 {
    match op {
        RmwOp::Xchg => val,
        RmwOp::Add => old.wrapping_add(val),
        RmwOp::And => old & val,
        RmwOp::Or => old | val,
        RmwOp::Xor => old ^ val,
        RmwOp::MinS => (old as i128).min(val as i128) as u128,
        RmwOp::MaxS => (old as i128).max(val as i128) as u128,
        RmwOp::MinU => old.min(val),
        RmwOp::MaxU => old.max(val),
    }
}
