//! Known-value tests of the Arm FP core (results per the Arm ARM pseudocode).

use super::*;

fn ctx(fpcr: u64) -> Ctx {
    Ctx::new(fpcr)
}

#[test]
fn add_basic_and_flags() {
    let mut c = ctx(0);
    assert_eq!(add(&mut c, S, 0x3f80_0000, 0x4000_0000, false), 0x4040_0000);
    assert_eq!(c.flags, 0);
    // 1 + 2^-30 is inexact in single precision.
    assert_eq!(add(&mut c, S, 0x3f80_0000, 0x3080_0000, false), 0x3f80_0000);
    assert_eq!(c.flags, IXC);
    // Round up with RMode = +inf.
    let mut c = ctx(1 << 22);
    assert_eq!(add(&mut c, S, 0x3f80_0000, 0x3080_0000, false), 0x3f80_0001);
    // x - x = +0, or -0 when rounding to -inf.
    let mut c = ctx(0);
    assert_eq!(
        add(
            &mut c,
            D,
            0x4000_0000_0000_0000,
            0x4000_0000_0000_0000,
            true
        ),
        0
    );
    let mut c = ctx(2 << 22);
    assert_eq!(
        add(
            &mut c,
            D,
            0x4000_0000_0000_0000,
            0x4000_0000_0000_0000,
            true
        ),
        1 << 63
    );
    // inf - inf: default NaN (positive on Arm), Invalid Operation.
    let mut c = ctx(0);
    assert_eq!(add(&mut c, S, 0x7f80_0000, 0x7f80_0000, true), 0x7fc0_0000);
    assert_eq!(c.flags, IOC);
}

#[test]
fn nan_propagation_is_arm_order() {
    let mut c = ctx(0);
    // qNaN op1, sNaN op2: the signalling one wins (x86 would return op1).
    assert_eq!(add(&mut c, S, 0x7fc0_0001, 0x7f80_0002, false), 0x7fc0_0002);
    assert_eq!(c.flags, IOC);
    let mut c = ctx(0);
    assert_eq!(mul(&mut c, S, 0xffc0_0003, 0x7fc0_0004, false), 0xffc0_0003);
    assert_eq!(c.flags, 0);
    // Default NaN mode.
    let mut c = ctx(FPCR_DN);
    assert_eq!(mul(&mut c, S, 0xffc0_0003, 0x7fc0_0004, false), 0x7fc0_0000);
    // FMA: addend first, and qNaN addend with inf*0 gives the default NaN + IOC.
    let mut c = ctx(0);
    assert_eq!(mul_add(&mut c, S, 0x7fc0_0009, 0x7f80_0000, 0), 0x7fc0_0000);
    assert_eq!(c.flags, IOC);
    let mut c = ctx(0);
    assert_eq!(mul_add(&mut c, S, 0x7fc0_0009, 0x7f80_0001, 0), 0x7fc0_0001);
}

#[test]
fn flush_to_zero_inputs_and_outputs() {
    // Denormal input with FZ: treated as zero, IDC.
    let mut c = ctx(FPCR_FZ);
    assert_eq!(add(&mut c, S, 0x0000_0001, 0x3f80_0000, false), 0x3f80_0000);
    assert_eq!(c.flags, IDC);
    // Tiny output with FZ: zero with UFC and no IXC.
    let mut c = ctx(FPCR_FZ);
    assert_eq!(mul(&mut c, S, 0x0080_0000, 0x3f00_0000, false), 0);
    assert_eq!(c.flags, UFC);
    // Without FZ: exact denormal result, no flags.
    let mut c = ctx(0);
    assert_eq!(mul(&mut c, S, 0x0080_0000, 0x3f00_0000, false), 0x0040_0000);
    assert_eq!(c.flags, 0);
    // Inexact denormal result: UFC + IXC.
    let mut c = ctx(0);
    assert_eq!(mul(&mut c, S, 0x0080_0001, 0x3f00_0000, false), 0x0040_0000);
    assert_eq!(c.flags, UFC | IXC);
}

#[test]
fn tininess_before_rounding() {
    // The largest denormal-range product that rounds up to the smallest normal: Arm
    // detects tininess before rounding, so UFC is set (x86 would not set it).
    let mut c = ctx(0);
    // (2^-126 - 2^-150) ~ 0x007fffff.8 in units of 2^-149 -> rounds to 0x00800000.
    let a = 0x3f7f_ffff; // 1 - 2^-24
    let b = 0x0080_0000; // 2^-126
    assert_eq!(mul(&mut c, S, a, b, false), 0x0080_0000);
    assert_eq!(c.flags, UFC | IXC);
}

#[test]
fn overflow_by_mode() {
    let mut c = ctx(0);
    assert_eq!(mul(&mut c, S, 0x7f7f_ffff, 0x4000_0000, false), 0x7f80_0000);
    assert_eq!(c.flags, OFC | IXC);
    let mut c = ctx(3 << 22);
    assert_eq!(mul(&mut c, S, 0x7f7f_ffff, 0x4000_0000, false), 0x7f7f_ffff);
    let mut c = ctx(1 << 22);
    assert_eq!(mul(&mut c, S, 0xff7f_ffff, 0x4000_0000, false), 0xff7f_ffff);
}

#[test]
fn div_sqrt() {
    let mut c = ctx(0);
    assert_eq!(
        div(&mut c, D, 0x3ff0_0000_0000_0000, 0x4008_0000_0000_0000),
        0x3fd5_5555_5555_5555
    );
    assert_eq!(c.flags, IXC);
    let mut c = ctx(0);
    assert_eq!(div(&mut c, S, 0x3f80_0000, 0), 0x7f80_0000);
    assert_eq!(c.flags, DZC);
    let mut c = ctx(0);
    assert_eq!(
        sqrt(&mut c, D, 0x4000_0000_0000_0000),
        0x3ff6_a09e_667f_3bcd
    );
    assert_eq!(c.flags, IXC);
    let mut c = ctx(0);
    assert_eq!(sqrt(&mut c, S, 0x4110_0000), 0x4040_0000);
    assert_eq!(c.flags, 0);
    let mut c = ctx(0);
    assert_eq!(sqrt(&mut c, S, 0xbf80_0000), 0x7fc0_0000);
    assert_eq!(c.flags, IOC);
    assert_eq!(sqrt(&mut c, S, 0x8000_0000), 0x8000_0000);
}

#[test]
fn host_agreement_round_to_nearest() {
    // For ordinary values the exact core agrees with the host's IEEE arithmetic.
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20000 {
        let a = f64::from_bits((next() & 0x3fff_ffff_ffff_ffff) | 0x3000_0000_0000_0000);
        let b = f64::from_bits((next() & 0x3fff_ffff_ffff_ffff) | 0x3000_0000_0000_0000);
        let cc = f64::from_bits((next() & 0x3fff_ffff_ffff_ffff) | 0x3000_0000_0000_0000);
        let mut c = ctx(0);
        assert_eq!(
            add(&mut c, D, a.to_bits(), b.to_bits(), false),
            (a + b).to_bits()
        );
        assert_eq!(
            add(&mut c, D, a.to_bits(), b.to_bits(), true),
            (a - b).to_bits()
        );
        assert_eq!(
            mul(&mut c, D, a.to_bits(), b.to_bits(), false),
            (a * b).to_bits()
        );
        assert_eq!(div(&mut c, D, a.to_bits(), b.to_bits()), (a / b).to_bits());
        assert_eq!(sqrt(&mut c, D, a.to_bits()), a.sqrt().to_bits());
        assert_eq!(
            mul_add(&mut c, D, cc.to_bits(), a.to_bits(), b.to_bits()),
            a.mul_add(b, cc).to_bits()
        );
        let (fa, fb) = (a as f32, b as f32);
        if !fa.is_finite() || !fb.is_finite() || fa == 0.0 || fb == 0.0 {
            continue;
        }
        assert_eq!(
            add(&mut c, S, fa.to_bits() as u64, fb.to_bits() as u64, false),
            (fa + fb).to_bits() as u64
        );
        assert_eq!(
            mul(&mut c, S, fa.to_bits() as u64, fb.to_bits() as u64, false),
            (fa * fb).to_bits() as u64
        );
        assert_eq!(
            div(&mut c, S, fa.to_bits() as u64, fb.to_bits() as u64),
            (fa / fb).to_bits() as u64
        );
        assert_eq!(
            convert(&mut c, D, S, a.to_bits(), Rounding::TieEven),
            (a as f32).to_bits() as u64
        );
    }
}

#[test]
fn conversions_to_int() {
    let mut c = ctx(0);
    // fcvtzs w, 2.5 -> 2 inexact
    assert_eq!(
        to_fixed(&mut c, S, 0x4020_0000, 0, false, 32, Rounding::Zero),
        2
    );
    assert_eq!(c.flags, IXC);
    // ties-even vs ties-away
    let mut c = ctx(0);
    assert_eq!(
        to_fixed(&mut c, S, 0x4020_0000, 0, false, 32, Rounding::TieEven),
        2
    );
    assert_eq!(
        to_fixed(&mut c, S, 0x4020_0000, 0, false, 32, Rounding::TieAway),
        3
    );
    assert_eq!(
        to_fixed(&mut c, S, 0xc020_0000, 0, false, 32, Rounding::TieAway),
        0xffff_fffd
    );
    assert_eq!(
        to_fixed(&mut c, S, 0xc020_0000, 0, false, 32, Rounding::NegInf),
        0xffff_fffd
    );
    // Saturation and NaN.
    let mut c = ctx(0);
    assert_eq!(
        to_fixed(&mut c, S, 0x4f80_0000, 0, false, 32, Rounding::Zero),
        0x7fff_ffff
    );
    assert_eq!(c.flags, IOC);
    let mut c = ctx(0);
    assert_eq!(
        to_fixed(
            &mut c,
            D,
            0x7ff8_0000_0000_0000,
            0,
            false,
            64,
            Rounding::Zero
        ),
        0
    );
    assert_eq!(c.flags, IOC);
    let mut c = ctx(0);
    assert_eq!(
        to_fixed(
            &mut c,
            D,
            0xbff0_0000_0000_0000,
            0,
            true,
            64,
            Rounding::Zero
        ),
        0
    );
    assert_eq!(c.flags, IOC);
    let mut c = ctx(0);
    assert_eq!(
        to_fixed(
            &mut c,
            D,
            0xbfe0_0000_0000_0000,
            0,
            true,
            64,
            Rounding::Zero
        ),
        0
    );
    assert_eq!(c.flags, IXC);
    // Fixed point: 1.5 with 4 fraction bits = 24.
    assert_eq!(
        to_fixed(
            &mut c,
            D,
            0x3ff8_0000_0000_0000,
            4,
            false,
            64,
            Rounding::Zero
        ),
        24
    );
    assert_eq!(
        to_fixed(
            &mut c,
            D,
            0xc1e0_0000_0000_0000,
            0,
            false,
            32,
            Rounding::Zero
        ),
        0x8000_0000
    );
}

#[test]
fn conversions_from_int_and_formats() {
    let mut c = ctx(0);
    assert_eq!(
        from_fixed(&mut c, S, 0xffff_ffff, 0, false, 32, Rounding::TieEven),
        0xbf80_0000
    );
    assert_eq!(
        from_fixed(&mut c, S, 0xffff_ffff, 0, true, 32, Rounding::TieEven),
        0x4f80_0000
    );
    assert_eq!(c.flags, IXC);
    assert_eq!(
        from_fixed(&mut c, D, 24, 4, false, 64, Rounding::TieEven),
        0x3ff8_0000_0000_0000
    );
    // f32 <-> f16
    let mut c = ctx(0);
    assert_eq!(
        convert(&mut c, S, H, 0x3f80_0000, Rounding::TieEven),
        0x3c00
    );
    assert_eq!(
        convert(&mut c, H, D, 0x3c00, Rounding::TieEven),
        0x3ff0_0000_0000_0000
    );
    assert_eq!(
        convert(&mut c, S, H, 0x7f80_0000, Rounding::TieEven),
        0x7c00
    );
    assert_eq!(c.flags, 0);
    assert_eq!(
        convert(&mut c, S, H, 0x4780_0000, Rounding::TieEven),
        0x7c00
    );
    assert_eq!(c.flags, OFC | IXC);
    // NaN payload carried from the top, quietened.
    let mut c = ctx(0);
    assert_eq!(
        convert(
            &mut c,
            D,
            S,
            0x7ff0_0000_2000_0000 | 1 << 50,
            Rounding::TieEven
        ),
        0x7fe0_0001
    );
    assert_eq!(c.flags, IOC);
    assert_eq!(
        convert(&mut c, S, D, 0xffc0_0001, Rounding::TieEven),
        0xfff8_0000_2000_0000
    );
    // Alternative half precision: 65536 fits (no infinities).
    let mut c = ctx(FPCR_AHP);
    assert_eq!(
        convert(&mut c, S, H, 0x4780_0000, Rounding::TieEven),
        0x7c00
    );
    assert_eq!(
        convert(&mut c, H, S, 0x7c00, Rounding::TieEven),
        0x4780_0000
    );
    assert_eq!(c.flags, 0);
}

#[test]
fn round_int_modes() {
    let mut c = ctx(0);
    let r = |c: &mut Ctx, x: f64, rm| f64::from_bits(round_int(c, D, x.to_bits(), rm, false));
    assert_eq!(r(&mut c, 2.5, Rounding::TieEven), 2.0);
    assert_eq!(r(&mut c, 2.5, Rounding::TieAway), 3.0);
    assert_eq!(r(&mut c, -2.5, Rounding::TieAway), -3.0);
    assert_eq!(r(&mut c, -2.5, Rounding::PosInf), -2.0);
    assert_eq!(
        r(&mut c, -0.5, Rounding::PosInf).to_bits(),
        (-0.0f64).to_bits()
    );
    assert_eq!(r(&mut c, 0.5, Rounding::NegInf).to_bits(), 0);
    assert_eq!(c.flags, 0);
    assert_eq!(
        f64::from_bits(round_int(
            &mut c,
            D,
            1.25f64.to_bits(),
            Rounding::TieEven,
            true
        )),
        1.0
    );
    assert_eq!(c.flags, IXC);
}

#[test]
fn compare_and_minmax() {
    let mut c = ctx(0);
    assert_eq!(
        compare(&mut c, S, 0x3f80_0000, 0x4000_0000, false),
        0x8000_0000
    );
    assert_eq!(compare(&mut c, S, 0x8000_0000, 0, false), 0x6000_0000);
    assert_eq!(compare(&mut c, S, 0x7fc0_0000, 0, false), 0x3000_0000);
    assert_eq!(c.flags, 0);
    assert_eq!(compare(&mut c, S, 0x7fc0_0000, 0, true), 0x3000_0000);
    assert_eq!(c.flags, IOC);
    let mut c = ctx(0);
    assert_eq!(max_min(&mut c, S, 0x8000_0000, 0, true, false), 0);
    assert_eq!(
        max_min(&mut c, S, 0x8000_0000, 0, false, false),
        0x8000_0000
    );
    assert_eq!(
        max_min(&mut c, S, 0x7fc0_0000, 0x3f80_0000, true, true),
        0x3f80_0000
    );
    assert_eq!(
        max_min(&mut c, S, 0x7fc0_0000, 0x3f80_0000, true, false),
        0x7fc0_0000
    );
    assert_eq!(c.flags, 0);
}

#[test]
fn estimates() {
    let mut c = ctx(0);
    // frecpe(2.0) = 0.4990234375 (0x3eff8000), frsqrte(4.0) = 0.4990234375
    assert_eq!(recip_est(&mut c, S, 0x4000_0000), 0x3eff_8000);
    assert_eq!(rsqrt_est(&mut c, S, 0x4080_0000), 0x3eff_8000);
    assert_eq!(recpx(&mut c, S, 0x4000_0000), 0x3f80_0000);
    assert_eq!(
        step_fused(&mut c, S, 0x3f80_0000, 0x3f80_0000, false),
        0x3f80_0000
    );
    assert_eq!(
        step_fused(&mut c, S, 0x3f80_0000, 0x3f80_0000, true),
        0x3f80_0000
    );
}

#[test]
fn fast_path_matches_soft_path() {
    // The host fast path (round to nearest, normal operands and result) against the exact
    // software path, flags included.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..200_000u64 {
        let f = if i % 2 == 0 { D } else { S };
        let mut pick = || {
            let r = next();
            let frac = if r & 3 == 0 { r & !0xffff_ffff } else { r } & ((1 << f.mant) - 1);
            let e = match (r >> 60) & 3 {
                0 => 1 + (r >> 40) % 4,
                1 => f.exp_ones() - 2 - (r >> 40) % 3,
                _ => f.bias() as u64 - 30 + (r >> 40) % 60,
            };
            (r >> 63) << (f.bits() - 1) | e << f.mant | frac
        };
        let (a, b) = (pick(), pick());
        for op in 0..4 {
            let mut fast = ctx(0);
            let r = match op {
                0 => add(&mut fast, f, a, b, false),
                1 => add(&mut fast, f, a, b, true),
                2 => mul(&mut fast, f, a, b, false),
                _ => div(&mut fast, f, a, b),
            };
            // Reference: the exact software path, called below the fast-path check.
            let mut soft = ctx(0);
            let ua = unpack(&mut soft, f, a, false);
            let ub = unpack(&mut soft, f, b, false);
            let rm = Rounding::TieEven;
            let want = match op {
                0 | 1 => {
                    let nb = ub.neg ^ (op == 1);
                    add_fin(
                        &mut soft,
                        f,
                        ua.neg,
                        ua.sig as u128,
                        ua.exp,
                        nb,
                        ub.sig as u128,
                        ub.exp,
                        rm,
                    )
                }
                2 => round(
                    &mut soft,
                    f,
                    ua.neg != ub.neg,
                    ua.sig as u128 * ub.sig as u128,
                    ua.exp + ub.exp,
                    rm,
                    false,
                ),
                _ => {
                    let n = (ua.sig as u128) << (ua.sig as u128).leading_zeros();
                    let sh = (ua.sig as u128).leading_zeros() as i32;
                    let d = ub.sig as u128;
                    round(
                        &mut soft,
                        f,
                        ua.neg != ub.neg,
                        (n / d) | !n.is_multiple_of(d) as u128,
                        ua.exp - sh - ub.exp,
                        rm,
                        false,
                    )
                }
            };
            assert_eq!((r, fast.flags), (want, soft.flags), "op {op} {a:#x} {b:#x}");
        }
    }
}

#[test]
fn fjcvtzs_edge_cases() {
    let js = |fpcr: u64, x: f64| {
        let mut c = ctx(fpcr);
        let (v, z) = to_int32_js(&mut c, x.to_bits());
        (v, z, c.flags)
    };
    assert_eq!(js(0, 42.0), (42, true, 0));
    assert_eq!(js(0, -1.0), (0xffff_ffff, true, 0));
    assert_eq!(js(0, 1.75), (1, false, IXC));
    assert_eq!(js(0, -1.75), (0xffff_ffff, false, IXC));
    // -0.0: result 0 with no flag, but Z clear.
    assert_eq!(js(0, -0.0), (0, false, 0));
    assert_eq!(js(0, 0.0), (0, true, 0));
    // Range limits: -2^31 fits, 2^31 wraps with Invalid Operation.
    assert_eq!(js(0, -2147483648.0), (0x8000_0000, true, 0));
    assert_eq!(js(0, 2147483648.0), (0x8000_0000, false, IOC));
    assert_eq!(js(0, 2147483647.5), (0x7fff_ffff, false, IXC));
    assert_eq!(js(0, -2147483649.0), (0x7fff_ffff, false, IOC));
    // Modulo 2^32 (JavaScript ToInt32): 2^32 + 5 -> 5; 2^53 + 2 -> 2; 1e300 -> 0.
    assert_eq!(js(0, 4294967301.0), (5, false, IOC));
    assert_eq!(js(0, 9007199254740994.0), (2, false, IOC));
    assert_eq!(js(0, 1e300), (0, false, IOC));
    assert_eq!(js(0, -4294967297.5), (0xffff_ffff, false, IOC));
    // NaN and infinities: 0 with Invalid Operation.
    assert_eq!(js(0, f64::NAN), (0, false, IOC));
    assert_eq!(js(0, f64::INFINITY), (0, false, IOC));
    assert_eq!(js(0, f64::NEG_INFINITY), (0, false, IOC));
    // A denormal: inexact 0, or with FZ flushed (IDC) and exact.
    let tiny = f64::from_bits(1);
    assert_eq!(js(0, tiny), (0, false, IXC));
    assert_eq!(js(FPCR_FZ, tiny), (0, true, IDC));
    assert_eq!(js(FPCR_FZ, -tiny), (0, false, IDC));
    // Rounding mode does not matter: always toward zero.
    assert_eq!(js(1 << 22, 2.5), (2, false, IXC));
}

#[test]
fn frint32_frint64_edge_cases() {
    let f = |fpcr: u64, x: f64, size: u32, exact_mode: bool| {
        let mut c = ctx(fpcr);
        let rm = if exact_mode { c.rmode } else { Rounding::Zero };
        let r = round_int_n(&mut c, D, x.to_bits(), rm, size);
        (f64::from_bits(r), c.flags)
    };
    assert_eq!(f(0, 2.5, 32, true), (2.0, IXC));
    assert_eq!(f(0, 2.5, 32, false), (2.0, IXC));
    assert_eq!(f(0, -2.5, 32, false), (-2.0, IXC));
    assert_eq!(f(1 << 22, 2.1, 32, true), (3.0, IXC));
    assert_eq!(f(0, 2147483647.0, 32, false), (2147483647.0, 0));
    assert_eq!(f(0, -2147483648.0, 32, false), (-2147483648.0, 0));
    // Out of range, NaN and infinity: the most negative integer with Invalid Operation.
    assert_eq!(f(0, 2147483648.0, 32, false), (-2147483648.0, IOC));
    assert_eq!(f(0, 2147483647.5, 32, true), (-2147483648.0, IOC));
    assert_eq!(f(0, f64::NAN, 32, false), (-2147483648.0, IOC));
    assert_eq!(
        f(0, f64::INFINITY, 64, false),
        (-9223372036854775808.0, IOC)
    );
    assert_eq!(f(0, 9.3e18, 64, false), (-9223372036854775808.0, IOC));
    assert_eq!(
        f(0, -9223372036854775808.0, 64, false),
        (-9223372036854775808.0, 0)
    );
    assert_eq!(f(0, 2147483648.0, 64, false), (2147483648.0, 0));
    // Zero keeps its sign; a value rounding to zero is -0.0 for negative inputs.
    let (z, fl) = f(0, -0.25, 32, false);
    assert_eq!((z.to_bits(), fl), ((-0.0f64).to_bits(), IXC));
    // Single precision.
    let mut c = ctx(0);
    let r = round_int_n(&mut c, S, 3.0e9f32.to_bits() as u64, Rounding::Zero, 32);
    assert_eq!((r, c.flags), ((-2147483648.0f32).to_bits() as u64, IOC));
}

#[test]
fn half_precision_arithmetic() {
    let one = 0x3c00;
    // 1 + 1 = 2, exact.
    let mut c = ctx(0);
    assert_eq!(add(&mut c, H, one, one, false), 0x4000);
    assert_eq!(c.flags, 0);
    // Overflow: 65504 + 65504 is +inf under RN, the largest normal under RZ.
    let max = 0x7bff;
    let mut c = ctx(0);
    assert_eq!(add(&mut c, H, max, max, false), 0x7c00);
    assert_eq!(c.flags, OFC | IXC);
    let mut c = ctx(3 << 22);
    assert_eq!(add(&mut c, H, max, max, false), max);
    // Rounding: 1 + 2^-11 is a tie: even under RN, up under RP, down under RM.
    let tie = 0x1000;
    for (rmode, want) in [(0u64, 0x3c00), (1, 0x3c01), (2, 0x3c00)] {
        let mut c = ctx(rmode << 22);
        assert_eq!(add(&mut c, H, one, tie, false), want, "rmode {rmode}");
        assert_eq!(c.flags, IXC);
    }
    // NaN propagation: the first signalling NaN, quietened (IOC); default NaN with DN.
    let snan = 0x7d00;
    let qnan = 0x7e01;
    let mut c = ctx(0);
    assert_eq!(add(&mut c, H, qnan, snan, false), 0x7f00);
    assert_eq!(c.flags, IOC);
    let mut c = ctx(0);
    assert_eq!(mul(&mut c, H, qnan, one, false), qnan);
    assert_eq!(c.flags, 0);
    let mut c = ctx(FPCR_DN);
    assert_eq!(add(&mut c, H, qnan, one, false), 0x7e00);
    // Invalid: inf - inf.
    let mut c = ctx(0);
    assert_eq!(add(&mut c, H, 0x7c00, 0x7c00, true), 0x7e00);
    assert_eq!(c.flags, IOC);
}

#[test]
fn half_precision_denormals_follow_fz16_not_fz() {
    let one = 0x3c00;
    let tiny = 0x0001; // 2^-24
    // Without FZ16 denormals are exact operands and results; FZ does not apply to half.
    for fpcr in [0, FPCR_FZ] {
        let mut c = ctx(fpcr);
        assert_eq!(mul(&mut c, H, tiny, one, false), tiny);
        assert_eq!(c.flags, 0);
    }
    // FZ16 flushes a denormal input to zero without IDC (IDC is for single/double only).
    let mut c = ctx(FPCR_FZ16);
    assert_eq!(mul(&mut c, H, tiny | 0x8000, one, false), 0x8000);
    assert_eq!(c.flags, 0);
    // ... and a result that is tiny before rounding to zero with UFC.
    let min_normal = 0x0400;
    let half = 0x3800;
    let mut c = ctx(FPCR_FZ16);
    assert_eq!(mul(&mut c, H, min_normal, half, false), 0);
    assert_eq!(c.flags, UFC);
    let mut c = ctx(0);
    assert_eq!(mul(&mut c, H, min_normal, half, false), 0x0200);
    assert_eq!(c.flags, 0);
    // FZ16 does not affect single precision; FZ does.
    let mut c = ctx(FPCR_FZ16);
    assert_eq!(mul(&mut c, S, 1, 0x3f80_0000, false), 1);
    // Conversions from half are never flushed (FPUnpackCV), even with FZ16.
    let mut c = ctx(FPCR_FZ16);
    assert_eq!(convert(&mut c, H, S, tiny, Rounding::TieEven), 0x3380_0000);
    assert_eq!(c.flags, 0);
    // AHP applies to conversions only, not to arithmetic: 65504 + 65504 still overflows.
    let mut c = ctx(FPCR_AHP);
    assert_eq!(add(&mut c, H, 0x7bff, 0x7bff, false), 0x7c00);
}
