//! Arm floating-point semantics in software, written after the Arm ARM's shared pseudocode
//! (FPUnpack, FPRound, FPProcessNaNs, FPAdd, FPMulAdd, FPToFixed, FPRoundInt, FPConvert,
//! FPCompare, FPMax/FPMin/FPMaxNum...): half, single and double precision, every FPCR
//! rounding mode plus ties-away and round-to-odd, flush-to-zero of inputs (IDC) and outputs
//! (UFC, tininess detected *before* rounding), default NaN, Arm NaN propagation (first
//! signalling NaN quietened, else first quiet NaN) and the alternative half-precision format
//! for conversions. Values are raw bit patterns in a u64; exceptions accumulate into
//! [`Ctx::flags`] with FPSR bit positions. Every result is computed exactly (integer
//! significands with a sticky bit), so no host FP state is involved.

#[cfg(test)]
mod tests;

use std::cmp::Ordering;

/// FPSR cumulative exception bits.
pub const IOC: u32 = 1 << 0;
pub const DZC: u32 = 1 << 1;
pub const OFC: u32 = 1 << 2;
pub const UFC: u32 = 1 << 3;
pub const IXC: u32 = 1 << 4;
pub const IDC: u32 = 1 << 7;
/// FPSR.QC (saturation), used by the integer SIMD helpers.
pub const QC: u32 = 1 << 27;

/// FPCR fields.
pub const FPCR_AHP: u64 = 1 << 26;
pub const FPCR_DN: u64 = 1 << 25;
pub const FPCR_FZ: u64 = 1 << 24;
pub const FPCR_FZ16: u64 = 1 << 19;

/// A binary floating-point format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmt {
    /// Fraction bits (10, 23, 52).
    pub mant: u32,
    /// Exponent bits (5, 8, 11).
    pub exp_bits: u32,
}

pub const H: Fmt = Fmt {
    mant: 10,
    exp_bits: 5,
};
pub const S: Fmt = Fmt {
    mant: 23,
    exp_bits: 8,
};
pub const D: Fmt = Fmt {
    mant: 52,
    exp_bits: 11,
};

impl Fmt {
    /// The format of `bits` wide values (16, 32, 64).
    pub fn of_bits(bits: u32) -> Fmt {
        match bits {
            16 => H,
            32 => S,
            _ => D,
        }
    }
    pub const fn bits(self) -> u32 {
        self.mant + self.exp_bits + 1
    }
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
    const fn exp_ones(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    pub const fn zero(self, neg: bool) -> u64 {
        if neg { self.sign() } else { 0 }
    }
    pub const fn inf(self, neg: bool) -> u64 {
        self.zero(neg) | self.exp_ones() << self.mant
    }
    pub const fn max_normal(self, neg: bool) -> u64 {
        self.inf(neg) - 1
    }
    pub const fn default_nan(self) -> u64 {
        self.exp_ones() << self.mant | 1 << (self.mant - 1)
    }
    /// The value `2^e` (a normal number).
    pub const fn pow2(self, neg: bool, e: i32) -> u64 {
        self.zero(neg) | ((e + self.bias()) as u64) << self.mant
    }
    pub const fn is_nan(self, x: u64) -> bool {
        x & (self.sign() - 1) > self.inf(false)
    }
    pub const fn quiet_bit(self) -> u64 {
        1 << (self.mant - 1)
    }
    pub const fn mask(self) -> u64 {
        if self.bits() == 64 {
            u64::MAX
        } else {
            (1 << self.bits()) - 1
        }
    }
}

/// Rounding modes of the pseudocode (FPCR.RMode gives the first four).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    TieEven,
    PosInf,
    NegInf,
    Zero,
    TieAway,
    Odd,
}

impl Rounding {
    /// The mode encoded in a 2-bit RMode field.
    pub fn from_rmode(rmode: u64) -> Rounding {
        match rmode & 3 {
            0 => Rounding::TieEven,
            1 => Rounding::PosInf,
            2 => Rounding::NegInf,
            _ => Rounding::Zero,
        }
    }
}

/// The FP environment of one operation: FPCR controls and accumulated FPSR flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub rmode: Rounding,
    pub fz: bool,
    pub fz16: bool,
    pub dn: bool,
    pub ahp: bool,
    /// FPSR cumulative bits raised so far.
    pub flags: u32,
}

impl Ctx {
    pub fn new(fpcr: u64) -> Ctx {
        Ctx {
            rmode: Rounding::from_rmode(fpcr >> 22),
            fz: fpcr & FPCR_FZ != 0,
            fz16: fpcr & FPCR_FZ16 != 0,
            dn: fpcr & FPCR_DN != 0,
            ahp: fpcr & FPCR_AHP != 0,
            flags: 0,
        }
    }
}

/// FPType of an unpacked operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Zero,
    Inf,
    QNaN,
    SNaN,
    /// Nonzero finite: value = sig * 2^exp, sig != 0.
    Fin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unp {
    pub kind: Kind,
    pub neg: bool,
    pub sig: u64,
    pub exp: i32,
}

impl Unp {
    fn is_nan(&self) -> bool {
        matches!(self.kind, Kind::QNaN | Kind::SNaN)
    }
}

/// FPUnpack (`cv` = FPUnpackCV: half precision is never flushed and honours FPCR.AHP).
pub fn unpack(c: &mut Ctx, f: Fmt, x: u64, cv: bool) -> Unp {
    let neg = x & f.sign() != 0;
    let e = (x >> f.mant) & f.exp_ones();
    let frac = x & ((1 << f.mant) - 1);
    let is_h = f == H;
    let lowest = f.emin() - f.mant as i32;
    if e == 0 {
        if frac == 0 {
            return Unp {
                kind: Kind::Zero,
                neg,
                sig: 0,
                exp: 0,
            };
        }
        let flush = if is_h { !cv && c.fz16 } else { c.fz };
        if flush {
            if !is_h {
                c.flags |= IDC;
            }
            return Unp {
                kind: Kind::Zero,
                neg,
                sig: 0,
                exp: 0,
            };
        }
        return Unp {
            kind: Kind::Fin,
            neg,
            sig: frac,
            exp: lowest,
        };
    }
    if e == f.exp_ones() && !(is_h && cv && c.ahp) {
        let kind = if frac == 0 {
            Kind::Inf
        } else if frac & f.quiet_bit() != 0 {
            Kind::QNaN
        } else {
            Kind::SNaN
        };
        return Unp {
            kind,
            neg,
            sig: 0,
            exp: 0,
        };
    }
    Unp {
        kind: Kind::Fin,
        neg,
        sig: frac | 1 << f.mant,
        exp: lowest + e as i32 - 1,
    }
}

/// FPRound / FPRoundCV of the nonzero value `(-1)^neg * sig * 2^exp` (the least significant
/// bit of `sig` may be a sticky bit as long as `sig` carries at least two bits more than the
/// format's precision).
pub fn round(c: &mut Ctx, f: Fmt, neg: bool, sig: u128, exp: i32, rm: Rounding, cv: bool) -> u64 {
    debug_assert!(sig != 0);
    let fb = f.mant as i32;
    let emin = f.emin();
    let p = 127 - sig.leading_zeros() as i32;
    let e = exp + p;
    let is_h = f == H;
    let flush = if is_h { !cv && c.fz16 } else { c.fz };
    if flush && e < emin {
        c.flags |= UFC;
        return f.zero(neg);
    }
    let mut biased = (e - emin + 1).max(0);
    let lsb = if biased > 0 { e - fb } else { emin - fb };
    let shift = lsb - exp;
    let (mut mant, cmp, mut inexact): (u128, Ordering, bool) = if shift <= 0 {
        (sig << (-shift) as u32, Ordering::Less, false)
    } else if shift < 128 {
        let rem = sig & ((1u128 << shift) - 1);
        (sig >> shift, rem.cmp(&(1u128 << (shift - 1))), rem != 0)
    } else if shift == 128 {
        (0, sig.cmp(&(1u128 << 127)), true)
    } else {
        (0, Ordering::Less, true)
    };
    if biased == 0 && inexact {
        c.flags |= UFC;
    }
    let (round_up, to_inf) = match rm {
        Rounding::TieEven => (
            cmp == Ordering::Greater || (cmp == Ordering::Equal && mant & 1 == 1),
            true,
        ),
        Rounding::TieAway => (inexact && cmp != Ordering::Less, true),
        Rounding::PosInf => (inexact && !neg, !neg),
        Rounding::NegInf => (inexact && neg, neg),
        Rounding::Zero | Rounding::Odd => (false, false),
    };
    if round_up {
        mant += 1;
        if mant == 1 << fb {
            biased = 1;
        }
        if mant == 1 << (fb + 1) {
            biased += 1;
            mant >>= 1;
        }
    }
    if rm == Rounding::Odd && inexact {
        mant |= 1;
    }
    let pack = |biased: i32, mant: u128| {
        f.zero(neg) | (biased as u64) << f.mant | (mant as u64 & ((1 << f.mant) - 1))
    };
    let result;
    if !(is_h && cv && c.ahp) {
        if biased >= (1 << f.exp_bits) - 1 {
            result = if to_inf {
                f.inf(neg)
            } else {
                f.max_normal(neg)
            };
            c.flags |= OFC;
            inexact = true;
        } else {
            result = pack(biased, mant);
        }
    } else if biased >= 1 << f.exp_bits {
        result = f.zero(neg) | 0x7fff;
        c.flags |= IOC;
        inexact = false;
    } else {
        result = pack(biased, mant);
    }
    if inexact {
        c.flags |= IXC;
    }
    result
}

/// FPProcessNaN.
pub fn process_nan(c: &mut Ctx, f: Fmt, u: &Unp, x: u64) -> u64 {
    let mut r = x & f.mask();
    if u.kind == Kind::SNaN {
        r |= f.quiet_bit();
        c.flags |= IOC;
    }
    if c.dn { f.default_nan() } else { r }
}

/// FPProcessNaNs: Some(result) when either operand is a NaN.
pub fn process_nans(c: &mut Ctx, f: Fmt, ua: &Unp, a: u64, ub: &Unp, b: u64) -> Option<u64> {
    if ua.kind == Kind::SNaN {
        Some(process_nan(c, f, ua, a))
    } else if ub.kind == Kind::SNaN {
        Some(process_nan(c, f, ub, b))
    } else if ua.kind == Kind::QNaN {
        Some(process_nan(c, f, ua, a))
    } else if ub.kind == Kind::QNaN {
        Some(process_nan(c, f, ub, b))
    } else {
        None
    }
}

/// FPProcessNaNs3.
pub fn process_nans3(c: &mut Ctx, f: Fmt, u: [&Unp; 3], x: [u64; 3]) -> Option<u64> {
    for i in 0..3 {
        if u[i].kind == Kind::SNaN {
            return Some(process_nan(c, f, u[i], x[i]));
        }
    }
    for i in 0..3 {
        if u[i].kind == Kind::QNaN {
            return Some(process_nan(c, f, u[i], x[i]));
        }
    }
    None
}

fn shr_jam(x: u128, d: u32) -> u128 {
    if d == 0 {
        x
    } else if d >= 128 {
        (x != 0) as u128
    } else {
        (x >> d) | ((x & ((1u128 << d) - 1)) != 0) as u128
    }
}

/// Normalise a nonzero significand so its top bit is bit 125.
fn norm125(sig: u128, exp: i32) -> (u128, i32) {
    let p = 127 - sig.leading_zeros() as i32;
    if p <= 125 {
        (sig << (125 - p) as u32, exp - (125 - p))
    } else {
        let d = (p - 125) as u32;
        (shr_jam(sig, d), exp + d as i32)
    }
}

/// Round the exact sum of two nonzero finite values.
#[allow(clippy::too_many_arguments)]
fn add_fin(
    c: &mut Ctx,
    f: Fmt,
    na: bool,
    sa: u128,
    ea: i32,
    nb: bool,
    sb: u128,
    eb: i32,
    rm: Rounding,
) -> u64 {
    let (mut sa, mut ea) = norm125(sa, ea);
    let (mut sb, mut eb) = norm125(sb, eb);
    let (mut na, mut nb) = (na, nb);
    if ea < eb {
        std::mem::swap(&mut sa, &mut sb);
        std::mem::swap(&mut ea, &mut eb);
        std::mem::swap(&mut na, &mut nb);
    }
    let sb = shr_jam(sb, (ea - eb) as u32);
    let (neg, sig) = if na == nb {
        (na, sa + sb)
    } else if sa >= sb {
        (na, sa - sb)
    } else {
        (nb, sb - sa)
    };
    if sig == 0 {
        return f.zero(rm == Rounding::NegInf);
    }
    round(c, f, neg, sig, ea, rm, false)
}

fn fin(u: &Unp) -> (u128, i32) {
    (u.sig as u128, u.exp)
}

/// Whether `x` is a normal number of `f`.
#[inline]
fn is_normal(f: Fmt, x: u64) -> bool {
    let e = (x >> f.mant) & f.exp_ones();
    e != 0 && e != f.exp_ones()
}

/// The host fast path applies: round to nearest even, single or double precision, both
/// operands normal. The caller still checks that the host result is a normal number
/// above the smallest normal (so neither overflow nor tininess before rounding is
/// possible), in which case the host's correctly rounded result is Arm's, and only the
/// inexact flag needs an exact test.
#[inline]
fn fast_ok(c: &Ctx, f: Fmt, a: u64, b: u64) -> bool {
    c.rmode == Rounding::TieEven && f != H && is_normal(f, a) && is_normal(f, b)
}

/// Significand of a normal number (with the hidden bit).
#[inline]
fn sig_of(f: Fmt, x: u64) -> u64 {
    (x & ((1 << f.mant) - 1)) | 1 << f.mant
}

/// Host result bits if finite and strictly above the smallest normal in magnitude.
#[inline]
fn host_ok(f: Fmt, r: u64) -> bool {
    let mag = r & (f.sign() - 1);
    mag > 1 << f.mant && mag < f.inf(false)
}

/// a + b (or a - b) on the host, with the exact inexact test (TwoSum).
#[inline]
fn fast_add(c: &mut Ctx, f: Fmt, a: u64, b: u64, sub: bool) -> Option<u64> {
    if f == D {
        let (x, mut y) = (f64::from_bits(a), f64::from_bits(b));
        if sub {
            y = -y;
        }
        let s = x + y;
        if !host_ok(f, s.to_bits()) {
            return None;
        }
        let bb = s - x;
        let err = (x - (s - bb)) + (y - bb);
        if err != 0.0 {
            c.flags |= IXC;
        }
        Some(s.to_bits())
    } else {
        let (x, mut y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
        if sub {
            y = -y;
        }
        let s = x + y;
        if !host_ok(f, s.to_bits() as u64) {
            return None;
        }
        let bb = s - x;
        let err = (x - (s - bb)) + (y - bb);
        if err != 0.0 {
            c.flags |= IXC;
        }
        Some(s.to_bits() as u64)
    }
}

#[inline]
fn fast_mul(c: &mut Ctx, f: Fmt, a: u64, b: u64) -> Option<u64> {
    let r = if f == D {
        (f64::from_bits(a) * f64::from_bits(b)).to_bits()
    } else {
        (f32::from_bits(a as u32) * f32::from_bits(b as u32)).to_bits() as u64
    };
    if !host_ok(f, r) {
        return None;
    }
    // Exact iff the significand product fits the precision.
    let p = sig_of(f, a) as u128 * sig_of(f, b) as u128;
    let nbits = 128 - p.leading_zeros();
    let prec = f.mant + 1;
    if nbits > prec && p.trailing_zeros() < nbits - prec {
        c.flags |= IXC;
    }
    Some(r)
}

#[inline]
fn fast_div(c: &mut Ctx, f: Fmt, a: u64, b: u64) -> Option<u64> {
    let r = if f == D {
        (f64::from_bits(a) / f64::from_bits(b)).to_bits()
    } else {
        (f32::from_bits(a as u32) / f32::from_bits(b as u32)).to_bits() as u64
    };
    if !host_ok(f, r) {
        return None;
    }
    // sa / sb is representable iff the odd part of sb divides sa.
    let sb = sig_of(f, b);
    let odd = sb >> sb.trailing_zeros();
    if !sig_of(f, a).is_multiple_of(odd) {
        c.flags |= IXC;
    }
    Some(r)
}

/// FPAdd (sub = FPSub).
pub fn add(c: &mut Ctx, f: Fmt, a: u64, b: u64, sub: bool) -> u64 {
    if fast_ok(c, f, a, b)
        && let Some(r) = fast_add(c, f, a, b, sub)
    {
        return r;
    }
    let ua = unpack(c, f, a, false);
    let mut ub = unpack(c, f, b, false);
    if let Some(r) = process_nans(c, f, &ua, a, &ub, b) {
        return r;
    }
    if sub {
        ub.neg = !ub.neg;
    }
    let rm = c.rmode;
    match (ua.kind, ub.kind) {
        (Kind::Inf, Kind::Inf) if ua.neg != ub.neg => {
            c.flags |= IOC;
            f.default_nan()
        }
        (Kind::Inf, _) => f.inf(ua.neg),
        (_, Kind::Inf) => f.inf(ub.neg),
        (Kind::Zero, Kind::Zero) if ua.neg == ub.neg => f.zero(ua.neg),
        (Kind::Zero, Kind::Zero) => f.zero(rm == Rounding::NegInf),
        (Kind::Zero, _) => round(c, f, ub.neg, ub.sig as u128, ub.exp, rm, false),
        (_, Kind::Zero) => round(c, f, ua.neg, ua.sig as u128, ua.exp, rm, false),
        _ => {
            let (sa, ea) = fin(&ua);
            let (sb, eb) = fin(&ub);
            add_fin(c, f, ua.neg, sa, ea, ub.neg, sb, eb, rm)
        }
    }
}

/// FPMul (`mulx`: FPMulX, where infinity times zero is 2.0).
pub fn mul(c: &mut Ctx, f: Fmt, a: u64, b: u64, mulx: bool) -> u64 {
    if fast_ok(c, f, a, b)
        && let Some(r) = fast_mul(c, f, a, b)
    {
        return r;
    }
    let ua = unpack(c, f, a, false);
    let ub = unpack(c, f, b, false);
    if let Some(r) = process_nans(c, f, &ua, a, &ub, b) {
        return r;
    }
    let neg = ua.neg != ub.neg;
    match (ua.kind, ub.kind) {
        (Kind::Inf, Kind::Zero) | (Kind::Zero, Kind::Inf) => {
            if mulx {
                f.pow2(neg, 1)
            } else {
                c.flags |= IOC;
                f.default_nan()
            }
        }
        (Kind::Inf, _) | (_, Kind::Inf) => f.inf(neg),
        (Kind::Zero, _) | (_, Kind::Zero) => f.zero(neg),
        _ => round(
            c,
            f,
            neg,
            ua.sig as u128 * ub.sig as u128,
            ua.exp + ub.exp,
            c.rmode,
            false,
        ),
    }
}

/// FPDiv.
pub fn div(c: &mut Ctx, f: Fmt, a: u64, b: u64) -> u64 {
    if fast_ok(c, f, a, b)
        && let Some(r) = fast_div(c, f, a, b)
    {
        return r;
    }
    let ua = unpack(c, f, a, false);
    let ub = unpack(c, f, b, false);
    if let Some(r) = process_nans(c, f, &ua, a, &ub, b) {
        return r;
    }
    let neg = ua.neg != ub.neg;
    match (ua.kind, ub.kind) {
        (Kind::Inf, Kind::Inf) | (Kind::Zero, Kind::Zero) => {
            c.flags |= IOC;
            f.default_nan()
        }
        (Kind::Inf, _) => f.inf(neg),
        (_, Kind::Zero) => {
            c.flags |= DZC;
            f.inf(neg)
        }
        (Kind::Zero, _) | (_, Kind::Inf) => f.zero(neg),
        _ => {
            let sa = ua.sig as u128;
            let sh = sa.leading_zeros();
            let n = sa << sh;
            let d = ub.sig as u128;
            let q = n / d;
            let r = n % d;
            round(
                c,
                f,
                neg,
                q | (r != 0) as u128,
                ua.exp - sh as i32 - ub.exp,
                c.rmode,
                false,
            )
        }
    }
}

/// Integer square root: (floor(sqrt(n)), n != root^2).
fn isqrt(n: u128) -> (u128, bool) {
    if n == 0 {
        return (0, false);
    }
    let mut x = (n as f64).sqrt() as u128;
    // Correct the floating estimate to the exact floor.
    while x > 0 && x.checked_mul(x).is_none_or(|sq| sq > n) {
        x -= 1;
    }
    while (x + 1).checked_mul(x + 1).is_some_and(|sq| sq <= n) {
        x += 1;
    }
    (x, x * x != n)
}

/// FPSqrt.
pub fn sqrt(c: &mut Ctx, f: Fmt, a: u64) -> u64 {
    let ua = unpack(c, f, a, false);
    match ua.kind {
        Kind::QNaN | Kind::SNaN => process_nan(c, f, &ua, a),
        Kind::Zero => f.zero(ua.neg),
        Kind::Inf if !ua.neg => f.inf(false),
        _ if ua.neg => {
            c.flags |= IOC;
            f.default_nan()
        }
        _ => {
            let mut s = ua.sig as u128;
            let mut e = ua.exp;
            if e & 1 != 0 {
                s <<= 1;
                e -= 1;
            }
            let p = 127 - s.leading_zeros() as i32;
            let k = (124 - p) / 2;
            s <<= (2 * k) as u32;
            e -= 2 * k;
            let (r, inexact) = isqrt(s);
            round(
                c,
                f,
                false,
                r << 1 | inexact as u128,
                e / 2 - 1,
                c.rmode,
                false,
            )
        }
    }
}

/// FPMulAdd: addend + op1 * op2, one rounding.
pub fn mul_add(c: &mut Ctx, f: Fmt, addend: u64, a: u64, b: u64) -> u64 {
    let uc = unpack(c, f, addend, false);
    let ua = unpack(c, f, a, false);
    let ub = unpack(c, f, b, false);
    let inf1 = ua.kind == Kind::Inf;
    let inf2 = ub.kind == Kind::Inf;
    let zero1 = ua.kind == Kind::Zero;
    let zero2 = ub.kind == Kind::Zero;
    let nan = process_nans3(c, f, [&uc, &ua, &ub], [addend, a, b]);
    if uc.kind == Kind::QNaN && ((inf1 && zero2) || (zero1 && inf2)) {
        c.flags |= IOC;
        return f.default_nan();
    }
    if let Some(r) = nan {
        return r;
    }
    let inf_a = uc.kind == Kind::Inf;
    let zero_a = uc.kind == Kind::Zero;
    let sign_p = ua.neg != ub.neg;
    let inf_p = inf1 || inf2;
    let zero_p = zero1 || zero2;
    let rm = c.rmode;
    if (inf1 && zero2) || (zero1 && inf2) || (inf_a && inf_p && uc.neg != sign_p) {
        c.flags |= IOC;
        return f.default_nan();
    }
    if (inf_a && !uc.neg) || (inf_p && !sign_p) {
        return f.inf(false);
    }
    if (inf_a && uc.neg) || (inf_p && sign_p) {
        return f.inf(true);
    }
    if zero_a && zero_p && uc.neg == sign_p {
        return f.zero(uc.neg);
    }
    if zero_p {
        if zero_a {
            return f.zero(rm == Rounding::NegInf);
        }
        return round(c, f, uc.neg, uc.sig as u128, uc.exp, rm, false);
    }
    let ps = ua.sig as u128 * ub.sig as u128;
    let pe = ua.exp + ub.exp;
    if zero_a {
        return round(c, f, sign_p, ps, pe, rm, false);
    }
    add_fin(c, f, uc.neg, uc.sig as u128, uc.exp, sign_p, ps, pe, rm)
}

/// FPNeg / FPAbs are plain bit operations.
pub fn neg(f: Fmt, a: u64) -> u64 {
    (a ^ f.sign()) & f.mask()
}
pub fn abs(f: Fmt, a: u64) -> u64 {
    a & (f.sign() - 1)
}

/// Exact ordering of two non-NaN unpacked values.
fn cmp_val(a: &Unp, b: &Unp) -> Ordering {
    fn key(u: &Unp) -> (i32, u128) {
        // Magnitude key: (exponent of the top bit, normalised significand).
        match u.kind {
            Kind::Zero => (i32::MIN, 0),
            Kind::Inf => (i32::MAX, 0),
            _ => {
                let lz = u.sig.leading_zeros();
                (u.exp + 63 - lz as i32, (u.sig << lz) as u128)
            }
        }
    }
    let az = a.kind == Kind::Zero;
    let bz = b.kind == Kind::Zero;
    if az && bz {
        return Ordering::Equal;
    }
    let an = a.neg && !az;
    let bn = b.neg && !bz;
    match (an, bn) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => key(a).cmp(&key(b)),
        (true, true) => key(b).cmp(&key(a)),
    }
}

/// FPCompare: NZCV in bits 31..28 (`signal`: FCMPE, any NaN raises Invalid Operation).
pub fn compare(c: &mut Ctx, f: Fmt, a: u64, b: u64, signal: bool) -> u64 {
    let ua = unpack(c, f, a, false);
    let ub = unpack(c, f, b, false);
    if ua.is_nan() || ub.is_nan() {
        if signal || ua.kind == Kind::SNaN || ub.kind == Kind::SNaN {
            c.flags |= IOC;
        }
        return 0x3000_0000;
    }
    match cmp_val(&ua, &ub) {
        Ordering::Equal => 0x6000_0000,
        Ordering::Less => 0x8000_0000,
        Ordering::Greater => 0x2000_0000,
    }
}

/// Vector compares: FPCompareEQ / GE / GT (GE and GT signal on any NaN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ge,
    Gt,
}

pub fn compare_op(c: &mut Ctx, f: Fmt, a: u64, b: u64, op: CmpOp) -> bool {
    let ua = unpack(c, f, a, false);
    let ub = unpack(c, f, b, false);
    if ua.is_nan() || ub.is_nan() {
        if op != CmpOp::Eq || ua.kind == Kind::SNaN || ub.kind == Kind::SNaN {
            c.flags |= IOC;
        }
        return false;
    }
    let o = cmp_val(&ua, &ub);
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ge => o != Ordering::Less,
        CmpOp::Gt => o == Ordering::Greater,
    }
}

/// The repacked value of a finite/zero/infinite operand (what FPRound(value) gives for a
/// representable value: flushed when FZ, otherwise the same bits).
fn repack(c: &mut Ctx, f: Fmt, u: &Unp) -> u64 {
    match u.kind {
        Kind::Zero => f.zero(u.neg),
        Kind::Inf => f.inf(u.neg),
        _ => round(c, f, u.neg, u.sig as u128, u.exp, Rounding::Zero, false),
    }
}

/// FPMax / FPMin (`num`: FPMaxNum / FPMinNum, where a quiet NaN loses to a number).
pub fn max_min(c: &mut Ctx, f: Fmt, a: u64, b: u64, max: bool, num: bool) -> u64 {
    let (mut a, mut b) = (a, b);
    if num {
        let qa = f.is_nan(a) && a & f.quiet_bit() != 0;
        let qb = f.is_nan(b) && b & f.quiet_bit() != 0;
        if qa && !f.is_nan(b) {
            a = f.inf(max);
        } else if !f.is_nan(a) && qb {
            b = f.inf(max);
        }
    }
    let ua = unpack(c, f, a, false);
    let ub = unpack(c, f, b, false);
    if let Some(r) = process_nans(c, f, &ua, a, &ub, b) {
        return r;
    }
    if ua.kind == Kind::Zero && ub.kind == Kind::Zero {
        let neg = if max {
            ua.neg && ub.neg
        } else {
            ua.neg || ub.neg
        };
        return f.zero(neg);
    }
    let o = cmp_val(&ua, &ub);
    let pick_a = if max {
        o == Ordering::Greater
    } else {
        o == Ordering::Less
    };
    let u = if pick_a { ua } else { ub };
    repack(c, f, &u)
}

/// FPConvert (FCVT between formats; `rm` normally the FPCR mode, Odd for FCVTXN).
pub fn convert(c: &mut Ctx, from: Fmt, to: Fmt, a: u64, rm: Rounding) -> u64 {
    let u = unpack(c, from, a, true);
    let alt_hp = to == H && c.ahp;
    match u.kind {
        Kind::QNaN | Kind::SNaN => {
            let r = if alt_hp {
                to.zero(u.neg)
            } else if c.dn {
                to.default_nan()
            } else {
                // FPConvertNaN: sign, quiet bit set, payload from the top.
                let payload = a & ((1u64 << from.mant) - 1);
                let p = if to.mant >= from.mant {
                    payload << (to.mant - from.mant)
                } else {
                    payload >> (from.mant - to.mant)
                };
                to.inf(u.neg) | p | to.quiet_bit()
            };
            if u.kind == Kind::SNaN || alt_hp {
                c.flags |= IOC;
            }
            r
        }
        Kind::Inf => {
            if alt_hp {
                c.flags |= IOC;
                to.zero(u.neg) | 0x7fff
            } else {
                to.inf(u.neg)
            }
        }
        Kind::Zero => to.zero(u.neg),
        Kind::Fin => round(c, to, u.neg, u.sig as u128, u.exp, rm, true),
    }
}

/// Split |value| * 2^fbits into an integer part and the rounding information of the
/// discarded fraction: (magnitude, cmp of fraction with one half, inexact). Returns None
/// when the integer part needs more than 100 bits (certain overflow).
fn int_part(u: &Unp, fbits: i32) -> Option<(u128, Ordering, bool)> {
    let e = u.exp + fbits;
    let sig = u.sig as u128;
    if e >= 0 {
        if e > 70 {
            return None;
        }
        Some((sig << e as u32, Ordering::Less, false))
    } else {
        let s = (-e) as u32;
        if s >= 128 {
            return Some((0, Ordering::Less, true));
        }
        let rem = sig & ((1u128 << s) - 1);
        Some((sig >> s, rem.cmp(&(1u128 << (s - 1))), rem != 0))
    }
}

/// Whether the magnitude rounds up (away from zero) under `rm`.
fn round_up_mag(m: u128, cmp: Ordering, inexact: bool, neg: bool, rm: Rounding) -> bool {
    match rm {
        Rounding::TieEven => cmp == Ordering::Greater || (cmp == Ordering::Equal && m & 1 == 1),
        Rounding::TieAway => inexact && cmp != Ordering::Less,
        Rounding::PosInf => inexact && !neg,
        Rounding::NegInf => inexact && neg,
        Rounding::Zero | Rounding::Odd => false,
    }
}

/// FPToFixed: convert to a `bits`-wide (32 or 64) integer with `fbits` fraction bits.
pub fn to_fixed(
    c: &mut Ctx,
    f: Fmt,
    a: u64,
    fbits: u32,
    unsigned: bool,
    bits: u32,
    rm: Rounding,
) -> u64 {
    let u = unpack(c, f, a, false);
    let (neg, mag, inexact) = match u.kind {
        Kind::QNaN | Kind::SNaN => {
            c.flags |= IOC;
            return 0;
        }
        Kind::Zero => return 0,
        Kind::Inf => (u.neg, None, false),
        Kind::Fin => match int_part(&u, fbits as i32) {
            None => (u.neg, None, false),
            Some((m, cmp, inexact)) => {
                let m = m + round_up_mag(m, cmp, inexact, u.neg, rm) as u128;
                (u.neg, Some(m), inexact)
            }
        },
    };
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let (result, overflow) = if unsigned {
        match mag {
            Some(0) => (0, false),
            Some(_) | None if neg => (0, true),
            Some(m) if m <= mask as u128 => (m as u64, false),
            _ => (mask, true),
        }
    } else {
        let lim = 1u128 << (bits - 1);
        match mag {
            Some(m) if neg && m <= lim => ((m as u64).wrapping_neg() & mask, false),
            Some(m) if !neg && m < lim => (m as u64, false),
            _ if neg => (lim as u64, true),
            _ => ((lim - 1) as u64, true),
        }
    };
    if overflow {
        c.flags |= IOC;
    } else if inexact {
        c.flags |= IXC;
    }
    result
}

/// FixedToFP: the `bits`-wide integer `x` with `fbits` fraction bits, to format `f`.
pub fn from_fixed(
    c: &mut Ctx,
    f: Fmt,
    x: u64,
    fbits: u32,
    unsigned: bool,
    bits: u32,
    rm: Rounding,
) -> u64 {
    let x = if bits == 64 {
        x
    } else {
        x & ((1u64 << bits) - 1)
    };
    let (neg, mag) = if unsigned {
        (false, x)
    } else {
        let v = ((x << (64 - bits)) as i64) >> (64 - bits);
        (v < 0, v.unsigned_abs())
    };
    if mag == 0 {
        return 0;
    }
    round(c, f, neg, mag as u128, -(fbits as i32), rm, false)
}

/// FPRoundInt (`exact`: FRINTX, which signals Inexact).
pub fn round_int(c: &mut Ctx, f: Fmt, a: u64, rm: Rounding, exact: bool) -> u64 {
    let u = unpack(c, f, a, false);
    match u.kind {
        Kind::QNaN | Kind::SNaN => process_nan(c, f, &u, a),
        Kind::Inf => f.inf(u.neg),
        Kind::Zero => f.zero(u.neg),
        Kind::Fin => {
            if u.exp >= 0 {
                return repack(c, f, &u);
            }
            let Some((m, cmp, inexact)) = int_part(&u, 0) else {
                return repack(c, f, &u);
            };
            let m = m + round_up_mag(m, cmp, inexact, u.neg, rm) as u128;
            if inexact && exact {
                c.flags |= IXC;
            }
            if m == 0 {
                f.zero(u.neg)
            } else {
                // An integer no wider than the significand: exact.
                round(c, f, u.neg, m, 0, Rounding::Zero, false)
            }
        }
    }
}

/// FPRoundIntN (FRINT32*/FRINT64*): round to an integral value that fits `intsize` bits,
/// else the most negative such integer with Invalid Operation.
pub fn round_int_n(c: &mut Ctx, f: Fmt, a: u64, rm: Rounding, intsize: u32) -> u64 {
    let u = unpack(c, f, a, false);
    let minint = f.pow2(true, intsize as i32 - 1);
    match u.kind {
        Kind::QNaN | Kind::SNaN | Kind::Inf => {
            c.flags |= IOC;
            minint
        }
        Kind::Zero => f.zero(u.neg),
        Kind::Fin => {
            let Some((m, cmp, inexact)) = int_part(&u, 0) else {
                c.flags |= IOC;
                return minint;
            };
            let m = m + round_up_mag(m, cmp, inexact, u.neg, rm) as u128;
            let lim = 1u128 << (intsize - 1);
            if (u.neg && m > lim) || (!u.neg && m >= lim) {
                c.flags |= IOC;
                return minint;
            }
            if inexact {
                c.flags |= IXC;
            }
            if m == 0 {
                f.zero(u.neg)
            } else {
                round(c, f, u.neg, m, 0, Rounding::Zero, false)
            }
        }
    }
}

/// FPToFixedJS (FJCVTZS): the double `a` truncated toward zero, modulo 2^32 (JavaScript's
/// ToInt32). Returns the 32-bit result and Z: true only for an exact in-range conversion
/// of a value that is not -0.0. NaN and infinity give 0 with Invalid Operation; other
/// out-of-range values wrap with Invalid Operation; inexact in-range ones set Inexact.
pub fn to_int32_js(c: &mut Ctx, a: u64) -> (u32, bool) {
    let u = unpack(c, D, a, false);
    match u.kind {
        Kind::QNaN | Kind::SNaN | Kind::Inf => {
            c.flags |= IOC;
            (0, false)
        }
        Kind::Zero => (0, !u.neg),
        Kind::Fin => {
            // |value| = sig * 2^exp; m = its integer part, `inexact` = fraction dropped.
            let (m, inexact) = if u.exp >= 0 {
                // Bits at or above 2^64 cannot reach the low 32 bits nor the range test.
                let m = if u.exp >= 64 {
                    0
                } else {
                    (u.sig as u128) << u.exp
                };
                (m, false)
            } else if u.exp <= -64 {
                (0, true)
            } else {
                let s = (-u.exp) as u32;
                ((u.sig >> s) as u128, u.sig & ((1u64 << s) - 1) != 0)
            };
            let big = u.exp >= 64;
            let result = if u.neg {
                (m as u32).wrapping_neg()
            } else {
                m as u32
            };
            let out_of_range = big || if u.neg { m > 1 << 31 } else { m >= 1 << 31 };
            let z = if out_of_range {
                c.flags |= IOC;
                false
            } else if inexact {
                c.flags |= IXC;
                false
            } else {
                !(u.neg && m == 0)
            };
            (result, z)
        }
    }
}

/// FPRecipStepFused (FRECPS: 2 - a*b) and FPRSqrtStepFused (FRSQRTS: (3 - a*b) / 2).
pub fn step_fused(c: &mut Ctx, f: Fmt, a: u64, b: u64, rsqrt: bool) -> u64 {
    let a = neg(f, a);
    let ua = unpack(c, f, a, false);
    let ub = unpack(c, f, b, false);
    if let Some(r) = process_nans(c, f, &ua, a, &ub, b) {
        return r;
    }
    let inf1 = ua.kind == Kind::Inf;
    let inf2 = ub.kind == Kind::Inf;
    let zero1 = ua.kind == Kind::Zero;
    let zero2 = ub.kind == Kind::Zero;
    if (inf1 && zero2) || (zero1 && inf2) {
        // 2.0 or 1.5
        return if rsqrt {
            f.pow2(false, 0) | 1 << (f.mant - 1)
        } else {
            f.pow2(false, 1)
        };
    }
    if inf1 || inf2 {
        return f.inf(ua.neg != ub.neg);
    }
    let rm = c.rmode;
    // value = K + a*b (K = 2, or 3 then halved).
    let (ks, ke): (u128, i32) = if rsqrt { (3, -1) } else { (1, 1) };
    let sign_p = ua.neg != ub.neg;
    if zero1 || zero2 {
        return round(c, f, false, ks, ke, rm, false);
    }
    let ps = ua.sig as u128 * ub.sig as u128;
    let pe = ua.exp + ub.exp - rsqrt as i32;
    add_fin(c, f, false, ks, ke, sign_p, ps, pe, rm)
}

/// FPAbs(FPSub) for FABD.
pub fn abd(c: &mut Ctx, f: Fmt, a: u64, b: u64) -> u64 {
    let r = add(c, f, a, b, true);
    abs(f, r)
}

/// FPRecpX (FRECPX): exponent-only reciprocal.
pub fn recpx(c: &mut Ctx, f: Fmt, a: u64) -> u64 {
    let u = unpack(c, f, a, false);
    match u.kind {
        Kind::QNaN | Kind::SNaN => process_nan(c, f, &u, a),
        _ => {
            let e = (a >> f.mant) & f.exp_ones();
            let ne = if e == 0 || u.kind == Kind::Zero {
                f.exp_ones() - 1
            } else {
                !e & f.exp_ones()
            };
            f.zero(u.neg) | ne << f.mant
        }
    }
}

/// The 8-bit reciprocal estimate of a significand in [256, 511] (RecipEstimate).
pub fn recip_estimate(a: u64) -> u64 {
    let a = a * 2 + 1;
    let b = (1u64 << 19) / a;
    b.div_ceil(2)
}

/// The 8-bit reciprocal square-root estimate (RecipSqrtEstimate) of a in [128, 511].
pub fn rsqrt_estimate(a: u64) -> u64 {
    let a = if a < 256 {
        a * 2 + 1
    } else {
        (((a >> 1) << 1) + 1) * 2
    };
    let mut b = 512u64;
    while a * (b + 1) * (b + 1) < 1 << 28 {
        b += 1;
    }
    b.div_ceil(2)
}

/// FPRecipEstimate (FRECPE).
pub fn recip_est(c: &mut Ctx, f: Fmt, a: u64) -> u64 {
    let u = unpack(c, f, a, false);
    match u.kind {
        Kind::QNaN | Kind::SNaN => return process_nan(c, f, &u, a),
        Kind::Inf => return f.zero(u.neg),
        Kind::Zero => {
            c.flags |= DZC;
            return f.inf(u.neg);
        }
        Kind::Fin => {}
    }
    // Tiny inputs overflow.
    let fexp = (a >> f.mant) & f.exp_ones();
    let mut frac = a & ((1 << f.mant) - 1);
    let e_val = u.exp + 63 - u.sig.leading_zeros() as i32; // exponent of the top bit
    if e_val < -f.bias() - 1 {
        let overflow_to_inf = match c.rmode {
            Rounding::TieEven => true,
            Rounding::PosInf => !u.neg,
            Rounding::NegInf => u.neg,
            _ => false,
        };
        c.flags |= OFC | IXC;
        return if overflow_to_inf {
            f.inf(u.neg)
        } else {
            f.max_normal(u.neg)
        };
    }
    let flush = if f == H { c.fz16 } else { c.fz };
    if flush && e_val >= f.bias() - 1 {
        c.flags |= UFC;
        return f.zero(u.neg);
    }
    // Normalise to the pseudocode's 52-bit fraction view.
    let mut exp = fexp as i64;
    let mut fr = frac << (52 - f.mant);
    if exp == 0 {
        if fr & (1 << 51) == 0 {
            exp = -1;
            fr = (fr & ((1 << 50) - 1)) << 2;
        } else {
            fr = (fr & ((1 << 51) - 1)) << 1;
        }
    }
    let scaled = (1u64 << 8) | (fr >> 44);
    let est = recip_estimate(scaled);
    let result_exp = 2 * f.bias() as i64 - 1 - exp;
    let mut rfrac = (est & 0xff) << 44;
    let mut rexp = result_exp;
    if rexp == 0 {
        rfrac = (1 << 51) | (rfrac >> 1);
    } else if rexp == -1 {
        rfrac = (1 << 50) | (rfrac >> 2);
        rexp = 0;
    }
    frac = rfrac >> (52 - f.mant);
    f.zero(u.neg) | (rexp as u64) << f.mant | frac
}

/// FPRSqrtEstimate (FRSQRTE).
pub fn rsqrt_est(c: &mut Ctx, f: Fmt, a: u64) -> u64 {
    let u = unpack(c, f, a, false);
    match u.kind {
        Kind::QNaN | Kind::SNaN => return process_nan(c, f, &u, a),
        Kind::Zero => {
            c.flags |= DZC;
            return f.inf(u.neg);
        }
        _ if u.neg => {
            c.flags |= IOC;
            return f.default_nan();
        }
        Kind::Inf => return f.zero(false),
        Kind::Fin => {}
    }
    let fexp = (a >> f.mant) & f.exp_ones();
    let mut exp = fexp as i64;
    let mut fr = (a & ((1 << f.mant) - 1)) << (52 - f.mant);
    if exp == 0 {
        while fr & (1 << 51) == 0 {
            fr <<= 1;
            exp -= 1;
        }
        fr = (fr & ((1 << 51) - 1)) << 1;
    }
    let scaled = if exp & 1 == 0 {
        (1u64 << 8) | (fr >> 44)
    } else {
        (1u64 << 7) | (fr >> 45)
    };
    let est = rsqrt_estimate(scaled);
    let result_exp = (3 * f.bias() as i64 - 1 - exp).div_euclid(2);
    let frac = ((est & 0xff) << 44) >> (52 - f.mant);
    (result_exp as u64) << f.mant | frac
}
