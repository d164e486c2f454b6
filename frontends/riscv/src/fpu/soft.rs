//! Software IEEE 754 binary32/binary64 arithmetic with RISC-V semantics: every operation
//! rounds once, in any of the five RISC-V rounding modes, and reports the five accrued
//! exception flags exactly (tininess detected after rounding); NaN results are canonical.
//! It is the reference the hardware (SSE) paths are tested against, the implementation of
//! round-to-nearest-ties-to-max-magnitude (which x86 lacks), and the FMA fallback for hosts
//! without an FMA unit. Values are raw bit patterns of the format (f32 in the low 32 bits).

use std::cmp::Ordering;

/// Accrued exception flags (fflags bit values).
pub const NV: u32 = 16;
pub const DZ: u32 = 8;
pub const OF: u32 = 4;
pub const UF: u32 = 2;
pub const NX: u32 = 1;

/// A RISC-V rounding mode (the valid encodings of the rm field and of frm).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Rm {
    /// Round to nearest, ties to even.
    Rne = 0,
    /// Round towards zero.
    Rtz = 1,
    /// Round down (towards -inf).
    Rdn = 2,
    /// Round up (towards +inf).
    Rup = 3,
    /// Round to nearest, ties to max magnitude.
    Rmm = 4,
}

impl Rm {
    /// The rounding mode with encoding `v`, or None for the reserved encodings 5..=7 (7 is
    /// "dynamic" in an instruction, reserved in frm; the caller resolves it first).
    pub fn from_bits(v: u64) -> Option<Rm> {
        Some(match v {
            0 => Rm::Rne,
            1 => Rm::Rtz,
            2 => Rm::Rdn,
            3 => Rm::Rup,
            4 => Rm::Rmm,
            _ => return None,
        })
    }
    pub const ALL: [Rm; 5] = [Rm::Rne, Rm::Rtz, Rm::Rdn, Rm::Rup, Rm::Rmm];
}

/// An IEEE binary interchange format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmt {
    /// Stored significand bits (23 or 52); the precision is `mant + 1`.
    pub mant: u32,
    /// Exponent field bits (8 or 11).
    pub exp_bits: u32,
}

pub const F32: Fmt = Fmt {
    mant: 23,
    exp_bits: 8,
};
pub const F64: Fmt = Fmt {
    mant: 52,
    exp_bits: 11,
};

impl Fmt {
    pub const fn sign(self) -> u64 {
        1 << (self.mant + self.exp_bits)
    }
    pub const fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    /// Exponent of the smallest normal number.
    pub const fn emin(self) -> i32 {
        1 - self.bias()
    }
    /// Exponent of the largest finite number.
    pub const fn emax(self) -> i32 {
        self.bias()
    }
    const fn exp_all_ones(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    pub const fn zero(self, neg: bool) -> u64 {
        if neg { self.sign() } else { 0 }
    }
    pub const fn inf(self, neg: bool) -> u64 {
        self.zero(neg) | self.exp_all_ones() << self.mant
    }
    pub const fn max_finite(self, neg: bool) -> u64 {
        self.inf(neg) - 1
    }
    /// The canonical NaN: positive, only the quiet bit set in the significand.
    pub const fn canonical_nan(self) -> u64 {
        self.exp_all_ones() << self.mant | 1 << (self.mant - 1)
    }
    pub const fn is_nan(self, x: u64) -> bool {
        x & !self.sign() > self.inf(false)
    }
    pub const fn is_snan(self, x: u64) -> bool {
        self.is_nan(x) && x & (1 << (self.mant - 1)) == 0
    }
    /// Total-order key of a non-NaN value: -0 and +0 map to 0, order preserved.
    fn key(self, x: u64) -> i64 {
        let mag = (x & !self.sign()) as i64;
        if x & self.sign() != 0 { -mag } else { mag }
    }
}

/// A decoded operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    Nan {
        quiet: bool,
    },
    Inf {
        neg: bool,
    },
    Zero {
        neg: bool,
    },
    /// Nonzero finite: value = (-1)^neg * sig * 2^exp.
    Fin {
        neg: bool,
        sig: u64,
        exp: i32,
    },
}

pub fn unpack(fmt: Fmt, x: u64) -> Val {
    let neg = x & fmt.sign() != 0;
    let e = (x >> fmt.mant) & fmt.exp_all_ones();
    let frac = x & ((1u64 << fmt.mant) - 1);
    let lowest = fmt.emin() - fmt.mant as i32;
    if e == fmt.exp_all_ones() {
        if frac == 0 {
            Val::Inf { neg }
        } else {
            Val::Nan {
                quiet: frac >> (fmt.mant - 1) != 0,
            }
        }
    } else if e == 0 {
        if frac == 0 {
            Val::Zero { neg }
        } else {
            Val::Fin {
                neg,
                sig: frac,
                exp: lowest,
            }
        }
    } else {
        Val::Fin {
            neg,
            sig: frac | 1 << fmt.mant,
            exp: lowest + e as i32 - 1,
        }
    }
}

/// Shift `sig` right by `shift` bits, rounding the quotient per `rm` for a value of sign
/// `neg`. Returns the rounded quotient and whether any nonzero bit was dropped.
fn round_shift(sig: u128, shift: u32, neg: bool, rm: Rm) -> (u128, bool) {
    if shift == 0 {
        return (sig, false);
    }
    let (q, vs_half, nonzero) = if shift >= 128 {
        let vs_half = if shift == 128 {
            sig.cmp(&(1u128 << 127))
        } else {
            Ordering::Less
        };
        (0, vs_half, sig != 0)
    } else {
        let rem = sig & ((1u128 << shift) - 1);
        (sig >> shift, rem.cmp(&(1u128 << (shift - 1))), rem != 0)
    };
    if !nonzero {
        return (q, false);
    }
    let up = match rm {
        Rm::Rne => vs_half == Ordering::Greater || (vs_half == Ordering::Equal && q & 1 == 1),
        Rm::Rtz => false,
        Rm::Rdn => neg,
        Rm::Rup => !neg,
        Rm::Rmm => vs_half != Ordering::Less,
    };
    (q + up as u128, true)
}

/// The result of an overflow: infinity or the largest finite number, per mode and sign.
fn overflow(fmt: Fmt, neg: bool, rm: Rm) -> (u64, u32) {
    let to_inf = match rm {
        Rm::Rne | Rm::Rmm => true,
        Rm::Rtz => false,
        Rm::Rdn => neg,
        Rm::Rup => !neg,
    };
    let r = if to_inf {
        fmt.inf(neg)
    } else {
        fmt.max_finite(neg)
    };
    (r, OF | NX)
}

/// Round the exact nonzero value (-1)^neg * sig * 2^exp to `fmt` (single rounding), with
/// IEEE flags (underflow: tiny after rounding and inexact).
pub fn round_pack(fmt: Fmt, neg: bool, sig: u128, exp: i32, rm: Rm) -> (u64, u32) {
    debug_assert!(sig != 0);
    let p = fmt.mant as i32 + 1;
    let msb = 127 - sig.leading_zeros() as i32;
    let e = msb + exp; // 2^e <= |value| < 2^(e+1)
    let sign = fmt.zero(neg);
    let shifted = |shift: i32| {
        if shift > 0 {
            round_shift(sig, shift as u32, neg, rm)
        } else {
            (sig << (-shift) as u32, false)
        }
    };
    if e >= fmt.emin() {
        let (mut q, inexact) = shifted(msb - (p - 1));
        let mut e = e;
        if q >> p != 0 {
            // Rounded up to the next power of two.
            q >>= 1;
            e += 1;
        }
        if e > fmt.emax() {
            return overflow(fmt, neg, rm);
        }
        let bits = (((e + fmt.bias() - 1) as u64) << fmt.mant) + q as u64;
        (sign | bits, if inexact { NX } else { 0 })
    } else {
        // Below the normal range: the quantum is that of the subnormals.
        let quantum = fmt.emin() - (p - 1);
        let (q, inexact) = shifted(quantum - exp);
        let mut flags = 0;
        if inexact {
            flags |= NX;
            // Tiny unless rounding to p bits with an unbounded exponent reaches 2^emin.
            let tiny = if e == fmt.emin() - 1 {
                let (q2, _) = shifted(msb - (p - 1));
                q2 >> p == 0
            } else {
                true
            };
            if tiny {
                flags |= UF;
            }
        }
        // q <= 2^(p-1); q == 2^(p-1) encodes the smallest normal number.
        (sign | q as u64, flags)
    }
}

/// An exact nonzero finite intermediate: (-1)^neg * sig * 2^exp.
#[derive(Clone, Copy, Debug)]
struct Exact {
    neg: bool,
    sig: u128,
    exp: i32,
}

impl Exact {
    /// Normalize so the most significant bit is bit 125 (sig must have at most 126 bits).
    fn norm(self) -> Exact {
        let sh = self.sig.leading_zeros() as i32 - 2;
        debug_assert!(sh >= 0);
        Exact {
            sig: self.sig << sh,
            exp: self.exp - sh,
            ..self
        }
    }
}

/// Shift right, OR-ing every dropped bit into bit 0.
fn shift_right_jam(x: u128, d: u32) -> u128 {
    if d == 0 {
        x
    } else if d >= 127 {
        (x != 0) as u128
    } else {
        (x >> d) | ((x & ((1u128 << d) - 1) != 0) as u128)
    }
}

/// Round x + y (both nonzero finite, at most 126 significant bits each) once.
fn sum(fmt: Fmt, x: Exact, y: Exact, rm: Rm) -> (u64, u32) {
    let (mut x, mut y) = (x.norm(), y.norm());
    if (y.exp, y.sig) > (x.exp, x.sig) {
        std::mem::swap(&mut x, &mut y);
    }
    // |x| >= |y|. Dropped bits of y become a sticky bit: x has at least 20 trailing zero
    // bits and the rounding point lies 70+ bits above bit 0, so the rounding is unchanged.
    let ys = shift_right_jam(y.sig, (x.exp - y.exp) as u32);
    let s = if x.neg == y.neg {
        x.sig + ys
    } else {
        x.sig - ys
    };
    if s == 0 {
        // Exact cancellation: +0, except -0 when rounding down.
        return (fmt.zero(rm == Rm::Rdn), 0);
    }
    round_pack(fmt, x.neg, s, x.exp, rm)
}

fn nan_result(fmt: Fmt, invalid: bool) -> (u64, u32) {
    (fmt.canonical_nan(), if invalid { NV } else { 0 })
}

/// The sign of x + y when both are zero.
fn zero_sum_neg(xn: bool, yn: bool, rm: Rm) -> bool {
    if xn == yn { xn } else { rm == Rm::Rdn }
}

/// a + b.
pub fn add(fmt: Fmt, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    use Val::*;
    match (unpack(fmt, a), unpack(fmt, b)) {
        (Nan { .. }, _) | (_, Nan { .. }) => nan_result(fmt, fmt.is_snan(a) || fmt.is_snan(b)),
        (Inf { neg: x }, Inf { neg: y }) if x != y => nan_result(fmt, true),
        (Inf { .. }, _) => (a, 0),
        (_, Inf { .. }) => (b, 0),
        (Zero { neg: x }, Zero { neg: y }) => (fmt.zero(zero_sum_neg(x, y, rm)), 0),
        (Zero { .. }, _) => (b, 0),
        (_, Zero { .. }) => (a, 0),
        (
            Fin {
                neg: xn,
                sig: xs,
                exp: xe,
            },
            Fin {
                neg: yn,
                sig: ys,
                exp: ye,
            },
        ) => sum(
            fmt,
            Exact {
                neg: xn,
                sig: xs as u128,
                exp: xe,
            },
            Exact {
                neg: yn,
                sig: ys as u128,
                exp: ye,
            },
            rm,
        ),
    }
}

/// a - b.
pub fn sub(fmt: Fmt, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    add(fmt, a, b ^ fmt.sign(), rm)
}

/// a * b.
pub fn mul(fmt: Fmt, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    use Val::*;
    let neg = (a ^ b) & fmt.sign() != 0;
    match (unpack(fmt, a), unpack(fmt, b)) {
        (Nan { .. }, _) | (_, Nan { .. }) => nan_result(fmt, fmt.is_snan(a) || fmt.is_snan(b)),
        (Inf { .. }, Zero { .. }) | (Zero { .. }, Inf { .. }) => nan_result(fmt, true),
        (Inf { .. }, _) | (_, Inf { .. }) => (fmt.inf(neg), 0),
        (Zero { .. }, _) | (_, Zero { .. }) => (fmt.zero(neg), 0),
        (
            Fin {
                sig: xs, exp: xe, ..
            },
            Fin {
                sig: ys, exp: ye, ..
            },
        ) => round_pack(fmt, neg, xs as u128 * ys as u128, xe + ye, rm),
    }
}

/// a * b + c with a single rounding. Invalid for inf * 0 even when c is a quiet NaN.
pub fn mul_add(fmt: Fmt, a: u64, b: u64, c: u64, rm: Rm) -> (u64, u32) {
    use Val::*;
    let (va, vb, vc) = (unpack(fmt, a), unpack(fmt, b), unpack(fmt, c));
    let inf_times_zero = matches!(
        (va, vb),
        (Inf { .. }, Zero { .. }) | (Zero { .. }, Inf { .. })
    );
    if matches!(va, Nan { .. }) || matches!(vb, Nan { .. }) || matches!(vc, Nan { .. }) {
        let snan = fmt.is_snan(a) || fmt.is_snan(b) || fmt.is_snan(c);
        return nan_result(fmt, snan || inf_times_zero);
    }
    if inf_times_zero {
        return nan_result(fmt, true);
    }
    let pneg = (a ^ b) & fmt.sign() != 0;
    if matches!(va, Inf { .. }) || matches!(vb, Inf { .. }) {
        return match vc {
            Inf { neg } if neg != pneg => nan_result(fmt, true),
            _ => (fmt.inf(pneg), 0),
        };
    }
    if let Inf { .. } = vc {
        return (c, 0);
    }
    match (va, vb, vc) {
        (Zero { .. }, _, Zero { neg }) | (_, Zero { .. }, Zero { neg }) => {
            (fmt.zero(zero_sum_neg(pneg, neg, rm)), 0)
        }
        (Zero { .. }, _, _) | (_, Zero { .. }, _) => (c, 0),
        (
            Fin {
                sig: xs, exp: xe, ..
            },
            Fin {
                sig: ys, exp: ye, ..
            },
            vc,
        ) => {
            let p = Exact {
                neg: pneg,
                sig: xs as u128 * ys as u128,
                exp: xe + ye,
            };
            match vc {
                Fin { neg, sig, exp } => sum(
                    fmt,
                    p,
                    Exact {
                        neg,
                        sig: sig as u128,
                        exp,
                    },
                    rm,
                ),
                _ => round_pack(fmt, p.neg, p.sig, p.exp, rm),
            }
        }
        _ => unreachable!("non-finite cases handled above"),
    }
}

/// Normalize a nonzero significand so its most significant bit is bit 62.
fn norm62(sig: u64, exp: i32) -> (u64, i32) {
    let sh = sig.leading_zeros() as i32 - 1;
    (sig << sh, exp - sh)
}

/// a / b.
pub fn div(fmt: Fmt, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    use Val::*;
    let neg = (a ^ b) & fmt.sign() != 0;
    match (unpack(fmt, a), unpack(fmt, b)) {
        (Nan { .. }, _) | (_, Nan { .. }) => nan_result(fmt, fmt.is_snan(a) || fmt.is_snan(b)),
        (Inf { .. }, Inf { .. }) | (Zero { .. }, Zero { .. }) => nan_result(fmt, true),
        (Inf { .. }, _) => (fmt.inf(neg), 0),
        (_, Inf { .. }) | (Zero { .. }, _) => (fmt.zero(neg), 0),
        (Fin { .. }, Zero { .. }) => (fmt.inf(neg), DZ),
        (
            Fin {
                sig: xs, exp: xe, ..
            },
            Fin {
                sig: ys, exp: ye, ..
            },
        ) => {
            let (xs, xe) = norm62(xs, xe);
            let (ys, ye) = norm62(ys, ye);
            let num = (xs as u128) << 64;
            let q = num / ys as u128;
            let sticky = !num.is_multiple_of(ys as u128);
            round_pack(fmt, neg, q | sticky as u128, xe - 64 - ye, rm)
        }
    }
}

/// Integer square root: (floor(sqrt(n)), n - floor(sqrt(n))^2).
fn isqrt(n: u128) -> (u128, u128) {
    let mut rem = n;
    let mut root = 0u128;
    let mut bit = 1u128 << 126;
    while bit > rem {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    (root, rem)
}

/// sqrt(a).
pub fn sqrt(fmt: Fmt, a: u64, rm: Rm) -> (u64, u32) {
    use Val::*;
    match unpack(fmt, a) {
        Nan { .. } => nan_result(fmt, fmt.is_snan(a)),
        Zero { .. } | Inf { neg: false } => (a, 0),
        Inf { neg: true } | Fin { neg: true, .. } => nan_result(fmt, true),
        Fin {
            neg: false,
            sig,
            exp,
        } => {
            let (mut m, mut e) = norm62(sig, exp);
            if e & 1 != 0 {
                m <<= 1;
                e -= 1;
            }
            let (root, rem) = isqrt((m as u128) << 64);
            round_pack(fmt, false, root | (rem != 0) as u128, (e - 64) / 2, rm)
        }
    }
}

/// Convert between formats (narrowing rounds; widening is exact).
pub fn convert(from: Fmt, to: Fmt, a: u64, rm: Rm) -> (u64, u32) {
    match unpack(from, a) {
        Val::Nan { .. } => nan_result(to, from.is_snan(a)),
        Val::Inf { neg } => (to.inf(neg), 0),
        Val::Zero { neg } => (to.zero(neg), 0),
        Val::Fin { neg, sig, exp } => round_pack(to, neg, sig as u128, exp, rm),
    }
}

/// Convert the integer (-1)^neg * mag to `fmt`.
pub fn from_int(fmt: Fmt, neg: bool, mag: u64, rm: Rm) -> (u64, u32) {
    if mag == 0 {
        (0, 0)
    } else {
        round_pack(fmt, neg, mag as u128, 0, rm)
    }
}

/// Integer destination of a float-to-integer conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntKind {
    /// Signed 32-bit (FCVT.W), result sign-extended to 64 bits.
    W,
    /// Unsigned 32-bit (FCVT.WU), result sign-extended to 64 bits.
    Wu,
    /// Signed 64-bit (FCVT.L).
    L,
    /// Unsigned 64-bit (FCVT.LU).
    Lu,
}

impl IntKind {
    /// From the rs2 field of FCVT.int.fmt / FCVT.fmt.int (0..=3).
    pub fn from_rs2(rs2: u32) -> IntKind {
        match rs2 & 3 {
            0 => IntKind::W,
            1 => IntKind::Wu,
            2 => IntKind::L,
            _ => IntKind::Lu,
        }
    }
    /// Largest magnitude of a valid negative result, and largest valid positive result.
    fn limits(self) -> (u128, u128) {
        match self {
            IntKind::W => (1 << 31, (1 << 31) - 1),
            IntKind::Wu => (0, (1 << 32) - 1),
            IntKind::L => (1 << 63, (1 << 63) - 1),
            IntKind::Lu => (0, u64::MAX as u128),
        }
    }
    /// The 64-bit register value of the in-range integer (-1)^neg * mag.
    fn encode(self, neg: bool, mag: u128) -> u64 {
        let v = if neg {
            (mag as u64).wrapping_neg()
        } else {
            mag as u64
        };
        match self {
            IntKind::W | IntKind::Wu => v as u32 as i32 as i64 as u64,
            IntKind::L | IntKind::Lu => v,
        }
    }
    /// Interpret a 64-bit integer register as this kind: (negative, magnitude).
    pub fn decode(self, x: u64) -> (bool, u64) {
        match self {
            IntKind::W => {
                let v = x as i32;
                (v < 0, v.unsigned_abs() as u64)
            }
            IntKind::Wu => (false, x as u32 as u64),
            IntKind::L => {
                let v = x as i64;
                (v < 0, v.unsigned_abs())
            }
            IntKind::Lu => (false, x),
        }
    }
}

/// Float to integer, rounding per `rm`, saturating with NV as the RISC-V table says.
pub fn to_int(fmt: Fmt, a: u64, kind: IntKind, rm: Rm) -> (u64, u32) {
    let (lo, hi) = kind.limits();
    let saturate = |neg: bool| {
        let r = if neg {
            kind.encode(true, lo)
        } else {
            kind.encode(false, hi)
        };
        (r, NV)
    };
    match unpack(fmt, a) {
        Val::Nan { .. } => saturate(false),
        Val::Inf { neg } => saturate(neg),
        Val::Zero { .. } => (0, 0),
        Val::Fin { neg, sig, exp } => {
            let (mag, inexact) = if exp >= 0 {
                if exp > 64 {
                    return saturate(neg);
                }
                ((sig as u128) << exp, false)
            } else {
                round_shift(sig as u128, (-exp) as u32, neg, rm)
            };
            let limit = if neg { lo } else { hi };
            if mag > limit {
                return saturate(neg);
            }
            (kind.encode(neg, mag), if inexact { NX } else { 0 })
        }
    }
}

/// feq: quiet equality (NV only for signaling NaNs).
pub fn feq(fmt: Fmt, a: u64, b: u64) -> (u64, u32) {
    if fmt.is_nan(a) || fmt.is_nan(b) {
        let nv = fmt.is_snan(a) || fmt.is_snan(b);
        return (0, if nv { NV } else { 0 });
    }
    ((fmt.key(a) == fmt.key(b)) as u64, 0)
}

/// flt: signaling less-than (NV for any NaN).
pub fn flt(fmt: Fmt, a: u64, b: u64) -> (u64, u32) {
    if fmt.is_nan(a) || fmt.is_nan(b) {
        return (0, NV);
    }
    ((fmt.key(a) < fmt.key(b)) as u64, 0)
}

/// fle: signaling less-or-equal (NV for any NaN).
pub fn fle(fmt: Fmt, a: u64, b: u64) -> (u64, u32) {
    if fmt.is_nan(a) || fmt.is_nan(b) {
        return (0, NV);
    }
    ((fmt.key(a) <= fmt.key(b)) as u64, 0)
}

/// IEEE 754-2019 minimumNumber / maximumNumber with -0 < +0 (RISC-V FMIN/FMAX).
pub fn fminmax(fmt: Fmt, a: u64, b: u64, max: bool) -> (u64, u32) {
    let flags = if fmt.is_snan(a) || fmt.is_snan(b) {
        NV
    } else {
        0
    };
    let r = match (fmt.is_nan(a), fmt.is_nan(b)) {
        (true, true) => fmt.canonical_nan(),
        (true, false) => b,
        (false, true) => a,
        (false, false) => match fmt.key(a).cmp(&fmt.key(b)) {
            Ordering::Less => {
                if max {
                    b
                } else {
                    a
                }
            }
            Ordering::Greater => {
                if max {
                    a
                } else {
                    b
                }
            }
            // Equal values: identical bits, or zeros of either sign.
            Ordering::Equal => {
                if max {
                    a & b
                } else {
                    a | b
                }
            }
        },
    };
    (r, flags)
}

/// fclass: the one-hot 10-bit class mask.
pub fn fclass(fmt: Fmt, a: u64) -> u64 {
    let bit = match unpack(fmt, a) {
        Val::Inf { neg: true } => 0,
        Val::Fin { neg: true, sig, .. } if sig >> fmt.mant != 0 => 1,
        Val::Fin { neg: true, .. } => 2,
        Val::Zero { neg: true } => 3,
        Val::Zero { neg: false } => 4,
        Val::Fin {
            neg: false, sig, ..
        } if sig >> fmt.mant == 0 => 5,
        Val::Fin { neg: false, .. } => 6,
        Val::Inf { neg: false } => 7,
        Val::Nan { quiet: false } => 8,
        Val::Nan { quiet: true } => 9,
    };
    1 << bit
}
