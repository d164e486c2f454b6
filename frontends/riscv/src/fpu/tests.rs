//! Tests of the FP helpers: hand-picked cases for every rounding mode, flag and corner of
//! the RISC-V rules, and randomized cross-checks of the host (SSE) paths against the
//! software implementation.

use super::soft::{self, F32, F64, Fmt, IntKind};
use super::*;

type H1 = unsafe extern "C" fn(*mut u8, u64, u64) -> u64;
type H2 = unsafe extern "C" fn(*mut u8, u64, u64, u64) -> u64;
type H3 = unsafe extern "C" fn(*mut u8, u64, u64, u64, u64) -> u64;

const DYN: u64 = 7;
const MODES: [Rm; 5] = Rm::ALL;

/// An OP-FP instruction word with the given rm field (and rs2 for conversions).
fn word(rm: u64, rs2: u64) -> u64 {
    0x53 | rm << 12 | rs2 << 20
}

fn env(c: &mut RiscvCpu) -> *mut u8 {
    (c as *mut RiscvCpu).cast()
}

/// Run a helper on a fresh hart; returns (result, fflags) and checks nothing was raised.
fn run(f: impl FnOnce(*mut u8) -> u64) -> (u64, u64) {
    let mut c = RiscvCpu::default();
    let r = f(env(&mut c));
    assert_eq!(c.hdr.pending_status, 0, "unexpected exception");
    (r, c.fflags)
}

fn h1(f: H1, a: u64, rm: u64) -> (u64, u64) {
    // SAFETY: env is a live RiscvCpu.
    run(|e| unsafe { f(e, a, word(rm, 0)) })
}
fn h1k(f: H1, a: u64, kind: u64, rm: u64) -> (u64, u64) {
    // SAFETY: env is a live RiscvCpu.
    run(|e| unsafe { f(e, a, word(rm, kind)) })
}
fn h2(f: H2, a: u64, b: u64, rm: u64) -> (u64, u64) {
    // SAFETY: env is a live RiscvCpu.
    run(|e| unsafe { f(e, a, b, word(rm, 0)) })
}
fn h3(f: H3, opcode: u64, a: u64, b: u64, c: u64, rm: u64) -> (u64, u64) {
    // SAFETY: env is a live RiscvCpu.
    run(|e| unsafe { f(e, a, b, c, opcode | rm << 12) })
}
fn flags2(f: unsafe extern "C" fn(*mut u8, u64, u64) -> u64, a: u64, b: u64) -> (u64, u64) {
    // SAFETY: env is a live RiscvCpu.
    run(|e| unsafe { f(e, a, b) })
}

fn d(x: f64) -> u64 {
    x.to_bits()
}
fn s(x: f32) -> u64 {
    nan_box(x.to_bits())
}
/// f64 2^e (normal range).
fn p2(e: i32) -> u64 {
    ((e + 1023) as u64) << 52
}

const NX_: u64 = NX as u64;
const UF_: u64 = UF as u64;
const OF_: u64 = OF as u64;
const DZ_: u64 = DZ as u64;
const NV_: u64 = NV as u64;

const D_MAX: u64 = 0x7fef_ffff_ffff_ffff;
const D_INF: u64 = 0x7ff0_0000_0000_0000;
const D_MIN_NORMAL: u64 = 0x0010_0000_0000_0000;
const D_SNAN: u64 = 0x7ff0_0000_0000_0001;
const D_QNAN_PAYLOAD: u64 = 0x7ff8_0000_dead_beef;
const NEG: u64 = 1 << 63;
const S_SNAN: u32 = 0x7f80_0001;
const S_INF: u32 = 0x7f80_0000;

/// Results of a positive inexact operation that is not a tie: `lo` is the truncation.
fn expect_pos(results: [(u64, u64); 5], lo: u64) {
    let rne = results[0].0;
    assert!(rne == lo || rne == lo + 1, "RNE {rne:#x} vs lo {lo:#x}");
    let want = [rne, lo, lo, lo + 1, rne];
    for (i, (r, fl)) in results.iter().enumerate() {
        assert_eq!(*r, want[i], "mode {i}");
        assert_eq!(*fl, NX_, "mode {i}");
    }
}

fn all_modes(f: impl Fn(u64) -> (u64, u64)) -> [(u64, u64); 5] {
    [f(0), f(1), f(2), f(3), f(4)]
}

#[test]
fn add_rounds_per_mode() {
    // 1 + 0.75 ulp: RNE/RUP/RMM up, RTZ/RDN down.
    let r = all_modes(|m| h2(helper_fadd_d, d(1.0), d(3.0 * 2f64.powi(-54)), m));
    assert_eq!(
        r.map(|x| x.0),
        [
            0x3ff0_0000_0000_0001,
            d(1.0),
            d(1.0),
            0x3ff0_0000_0000_0001,
            0x3ff0_0000_0000_0001
        ]
    );
    assert!(r.iter().all(|x| x.1 == NX_));
    // Tie 1 + ulp/2: RNE to even (1), RMM away.
    let r = all_modes(|m| h2(helper_fadd_d, d(1.0), d(2f64.powi(-53)), m));
    assert_eq!(
        r.map(|x| x.0),
        [
            d(1.0),
            d(1.0),
            d(1.0),
            0x3ff0_0000_0000_0001,
            0x3ff0_0000_0000_0001
        ]
    );
    // Negative tie: RDN and RMM away from zero.
    let r = all_modes(|m| h2(helper_fadd_d, d(-1.0), d(-(2f64.powi(-53))), m));
    assert_eq!(
        r.map(|x| x.0),
        [
            d(-1.0),
            d(-1.0),
            0xbff0_0000_0000_0001,
            d(-1.0),
            0xbff0_0000_0000_0001
        ]
    );
    // fsub.s: 1 - 2^-25 (tie between 1 - 2^-24 and 1).
    let r = all_modes(|m| h2(helper_fsub_s, s(1.0), s(2f32.powi(-25)), m));
    let below = nan_box(0x3f7f_ffff);
    assert_eq!(r.map(|x| x.0), [s(1.0), below, below, s(1.0), s(1.0)]);
    assert!(r.iter().all(|x| x.1 == NX_));
    // Exact results raise nothing, and x - x is +0 except -0 when rounding down.
    let r = all_modes(|m| h2(helper_fsub_d, d(1.5), d(1.5), m));
    assert_eq!(r.map(|x| x.0), [0, 0, NEG, 0, 0]);
    assert!(r.iter().all(|x| x.1 == 0));
    let r = all_modes(|m| h2(helper_fadd_s, s(-0.0), s(0.0), m));
    assert_eq!(r.map(|x| x.0), [s(0.0), s(0.0), s(-0.0), s(0.0), s(0.0)]);
}

#[test]
fn mul_div_sqrt_round_per_mode() {
    // 1/3 and 2/3 (f64) and 1/3 (f32).
    let third = 1.0f64 / std::hint::black_box(3.0);
    let lo = |x: f64| x.to_bits() - u64::from(x * 3.0 > 1.0);
    expect_pos(
        all_modes(|m| h2(helper_fdiv_d, d(1.0), d(3.0), m)),
        lo(third),
    );
    let r = all_modes(|m| h2(helper_fdiv_d, d(2.0), d(3.0), m));
    let rtz = r[1].0;
    expect_pos(r, rtz);
    let r = all_modes(|m| h2(helper_fdiv_s, s(1.0), s(3.0), m));
    expect_pos(r.map(|(x, f)| (x & 0xffff_ffff, f)), r[1].0 & 0xffff_ffff);
    assert!(r.iter().all(|x| x.0 >> 32 == 0xffff_ffff));
    // sqrt(2) is irrational: never a tie.
    let r = all_modes(|m| h1(helper_fsqrt_d, d(2.0), m));
    assert_eq!(r[0].0, d(std::hint::black_box(2.0f64).sqrt()));
    expect_pos(r, r[1].0);
    let r = all_modes(|m| h1(helper_fsqrt_s, s(2.0), m));
    expect_pos(r.map(|(x, f)| (x & 0xffff_ffff, f)), r[1].0 & 0xffff_ffff);
    // Multiplication: (1 + 3 ulp) * 1.5 = 1.5 + 4.5 ulp: a tie with an even lower
    // neighbour (RNE down, RMM up).
    let r = all_modes(|m| h2(helper_fmul_d, 0x3ff0_0000_0000_0003, d(1.5), m));
    let lo = 0x3ff8_0000_0000_0004;
    assert_eq!(r.map(|x| x.0), [lo, lo, lo, lo + 1, lo + 1]);
    // Negative product, not a tie: (1 + 2^-52) * -(1 + 2^-52).
    let r = all_modes(|m| {
        h2(
            helper_fmul_d,
            0x3ff0_0000_0000_0001,
            0xbff0_0000_0000_0001,
            m,
        )
    });
    // Exact: -(1 + 2^-51 + 2^-104): truncation -(1 + 2^-51).
    let t = 0xbff0_0000_0000_0002;
    assert_eq!(r.map(|x| x.0), [t, t, t + 1, t, t]);
    assert!(r.iter().all(|x| x.1 == NX_));
    // Exact sqrt.
    assert_eq!(h1(helper_fsqrt_d, d(2.25), 3), (d(1.5), 0));
    assert_eq!(h1(helper_fsqrt_s, s(0.25), 1), (s(0.5), 0));
}

#[test]
fn overflow_per_mode() {
    let r = all_modes(|m| h2(helper_fmul_d, D_MAX, d(2.0), m));
    assert_eq!(r.map(|x| x.0), [D_INF, D_MAX, D_MAX, D_INF, D_INF]);
    assert!(r.iter().all(|x| x.1 == OF_ | NX_));
    let r = all_modes(|m| h2(helper_fmul_d, D_MAX | NEG, d(2.0), m));
    assert_eq!(
        r.map(|x| x.0),
        [
            D_INF | NEG,
            D_MAX | NEG,
            D_INF | NEG,
            D_MAX | NEG,
            D_INF | NEG
        ]
    );
    // A sum that rounds up across the top: max + ulp/2 is a tie to even (inf). Rounded
    // towards zero it is max itself, which is no overflow, only inexact.
    let r = all_modes(|m| h2(helper_fadd_d, D_MAX, p2(970), m));
    assert_eq!(r.map(|x| x.0), [D_INF, D_MAX, D_MAX, D_INF, D_INF]);
    let ovf = OF_ | NX_;
    assert_eq!(r.map(|x| x.1), [ovf, NX_, NX_, ovf, ovf]);
    // Slightly less than ulp/2 above max: not an overflow except when rounding up.
    let r = all_modes(|m| h2(helper_fadd_d, D_MAX, p2(969), m));
    assert_eq!(r.map(|x| x.0), [D_MAX, D_MAX, D_MAX, D_INF, D_MAX]);
    assert_eq!(r.map(|x| x.1), [NX_, NX_, NX_, OF_ | NX_, NX_]);
    // f32 overflow and division overflow.
    let r = all_modes(|m| h2(helper_fdiv_s, s(f32::MAX), s(0.5), m));
    let smax = s(f32::MAX);
    let sinf = nan_box(S_INF);
    assert_eq!(r.map(|x| x.0), [sinf, smax, smax, sinf, sinf]);
    assert!(r.iter().all(|x| x.1 == OF_ | NX_));
}

#[test]
fn underflow_and_subnormals() {
    let min_sub = 1u64;
    // Exact subnormal result: no flags at all.
    assert_eq!(
        h2(helper_fmul_d, D_MIN_NORMAL, d(0.5), 0),
        (D_MIN_NORMAL / 2, 0)
    );
    // Half the smallest subnormal: a tie between 0 and min_sub.
    let r = all_modes(|m| h2(helper_fmul_d, min_sub, d(0.5), m));
    assert_eq!(r.map(|x| x.0), [0, 0, 0, min_sub, min_sub]);
    assert!(r.iter().all(|x| x.1 == UF_ | NX_));
    // 2.5 * min_sub: RNE 2, RMM 3.
    let r = all_modes(|m| h2(helper_fdiv_d, 5, d(2.0), m));
    assert_eq!(r.map(|x| x.0), [2, 2, 2, 3, 3]);
    assert!(r.iter().all(|x| x.1 == UF_ | NX_));
    // Tininess is detected after rounding. (1 + 2^-52) * (2^-1022 * (1 - 2^-52)) =
    // 2^-1022 * (1 - 2^-104): rounded to 53 bits with unbounded exponent it is 2^-1022 in
    // RNE/RUP/RMM (not tiny: inexact only) but stays below in RTZ/RDN (tiny: underflow).
    let max_sub = D_MIN_NORMAL - 1;
    let r = all_modes(|m| h2(helper_fmul_d, 0x3ff0_0000_0000_0001, max_sub, m));
    assert_eq!(
        r.map(|x| x.0),
        [D_MIN_NORMAL, max_sub, max_sub, D_MIN_NORMAL, D_MIN_NORMAL]
    );
    assert_eq!(r.map(|x| x.1), [NX_, UF_ | NX_, UF_ | NX_, NX_, NX_]);
    // Same for f32 through FCVT.S.D: 2^-126 * (1 - 2^-25).
    let x = d(2f64.powi(-126) * (1.0 - 2f64.powi(-25)));
    let r = all_modes(|m| h1(helper_fcvt_s_d, x, m));
    let (mn, mx) = (nan_box(0x0080_0000), nan_box(0x007f_ffff));
    assert_eq!(r.map(|x| x.0), [mn, mx, mx, mn, mn]);
    assert_eq!(r.map(|x| x.1), [NX_, UF_ | NX_, UF_ | NX_, NX_, NX_]);
    // A result that is tiny even after rounding but rounds to the smallest normal:
    // (1 - 2^-53) * 2^-1022 = (2^52 - 1/2) quanta, a tie.
    let r = h2(helper_fmul_d, 0x3fef_ffff_ffff_ffff, D_MIN_NORMAL, 0);
    assert_eq!(r, (D_MIN_NORMAL, UF_ | NX_));
    // Subnormal operands are not flushed.
    assert_eq!(h2(helper_fadd_d, 1, 1, 0), (2, 0));
    assert_eq!(
        h2(helper_fadd_s, nan_box(1), nan_box(1), 0),
        (nan_box(2), 0)
    );
    // A subnormal - subnormal cancelling exactly.
    assert_eq!(h2(helper_fsub_d, 3, 3, 2), (NEG, 0));
    // Underflow on add of opposite-sign normals that cancel to a subnormal is exact.
    assert_eq!(h2(helper_fsub_d, D_MIN_NORMAL + 1, D_MIN_NORMAL, 0), (1, 0));
}

#[test]
fn divide_by_zero_and_invalid() {
    assert_eq!(h2(helper_fdiv_d, d(1.0), 0, 0), (D_INF, DZ_));
    assert_eq!(h2(helper_fdiv_d, d(-1.0), 0, 0), (D_INF | NEG, DZ_));
    assert_eq!(h2(helper_fdiv_d, d(1.0), NEG, 0), (D_INF | NEG, DZ_));
    assert_eq!(h2(helper_fdiv_s, s(2.0), s(0.0), 4), (nan_box(S_INF), DZ_));
    assert_eq!(h2(helper_fdiv_d, D_INF, 0, 0), (D_INF, 0));
    assert_eq!(h2(helper_fdiv_d, 0, 0, 0), (CANONICAL_NAN_D, NV_));
    assert_eq!(h2(helper_fdiv_d, D_INF, D_INF, 4), (CANONICAL_NAN_D, NV_));
    assert_eq!(h2(helper_fdiv_d, d(1.0), D_INF, 0), (0, 0));
    assert_eq!(h2(helper_fsub_d, D_INF, D_INF, 0), (CANONICAL_NAN_D, NV_));
    assert_eq!(
        h2(helper_fadd_d, D_INF, D_INF | NEG, 4),
        (CANONICAL_NAN_D, NV_)
    );
    assert_eq!(h2(helper_fadd_d, D_INF, D_INF, 0), (D_INF, 0));
    assert_eq!(h2(helper_fmul_d, 0, D_INF, 0), (CANONICAL_NAN_D, NV_));
    assert_eq!(
        h2(helper_fmul_s, nan_box(S_INF), s(0.0), 4),
        (s(f32::NAN), NV_)
    );
    assert_eq!(h1(helper_fsqrt_d, d(-1.0), 0), (CANONICAL_NAN_D, NV_));
    assert_eq!(h1(helper_fsqrt_d, D_INF | NEG, 4), (CANONICAL_NAN_D, NV_));
    assert_eq!(h1(helper_fsqrt_s, s(-1.0), 4), (s(f32::NAN), NV_));
    assert_eq!(h1(helper_fsqrt_d, NEG, 0), (NEG, 0));
    assert_eq!(h1(helper_fsqrt_d, D_INF, 0), (D_INF, 0));
    assert_eq!(h1(helper_fsqrt_d, 1 | NEG, 0), (CANONICAL_NAN_D, NV_));
    // Signaling NaN inputs are invalid, quiet ones are not; results are canonical.
    for m in 0..5 {
        assert_eq!(h2(helper_fadd_d, D_SNAN, d(1.0), m), (CANONICAL_NAN_D, NV_));
        assert_eq!(
            h2(helper_fmul_d, d(1.0), D_SNAN | NEG, m),
            (CANONICAL_NAN_D, NV_)
        );
        assert_eq!(
            h2(helper_fdiv_d, D_QNAN_PAYLOAD, d(1.0), m),
            (CANONICAL_NAN_D, 0)
        );
        assert_eq!(
            h2(helper_fsub_d, d(1.0), D_QNAN_PAYLOAD | NEG, m),
            (CANONICAL_NAN_D, 0)
        );
        assert_eq!(h1(helper_fsqrt_d, D_SNAN, m), (CANONICAL_NAN_D, NV_));
        assert_eq!(h1(helper_fsqrt_d, D_QNAN_PAYLOAD, m), (CANONICAL_NAN_D, 0));
        assert_eq!(
            h2(helper_fadd_s, nan_box(S_SNAN), s(1.0), m),
            (s(f32::NAN), NV_)
        );
        assert_eq!(
            h2(helper_fadd_s, nan_box(0xffc1_2345), s(1.0), m),
            (s(f32::NAN), 0)
        );
        assert_eq!(
            h2(helper_fdiv_s, s(1.0), nan_box(S_SNAN), m),
            (s(f32::NAN), NV_)
        );
    }
}

#[test]
fn nan_boxing_of_f32_operands() {
    let unboxed_one = 0x3f80_0000u64; // upper half zero: not a valid f32
    let half_boxed = 0xffff_0000_3f80_0000u64;
    for bad in [unboxed_one, half_boxed, d(1.0)] {
        assert_eq!(h2(helper_fadd_s, bad, s(1.0), 0), (s(f32::NAN), 0));
        assert_eq!(h2(helper_fmul_s, s(2.0), bad, 0), (s(f32::NAN), 0));
        assert_eq!(h1(helper_fsqrt_s, bad, 0), (s(f32::NAN), 0));
        assert_eq!(h1(helper_fcvt_d_s, bad, 0), (CANONICAL_NAN_D, 0));
        // The canonical NaN is quiet: FEQ does not signal, FLT does.
        assert_eq!(flags2(helper_feq_s, bad, s(1.0)), (0, 0));
        assert_eq!(flags2(helper_flt_s, s(1.0), bad), (0, NV_));
        assert_eq!(flags2(helper_fmin_s, bad, s(3.0)), (s(3.0), 0));
        assert_eq!(helper_fclass_s(std::ptr::null_mut(), bad), 1 << 9);
        assert_eq!(h1k(helper_fcvt_int_s, bad, 0, 1), (0x7fff_ffff, NV_));
    }
    // Every f32 result is boxed.
    assert_eq!(h2(helper_fadd_s, s(1.0), s(2.0), 0), (s(3.0), 0));
    assert_eq!(h1(helper_fcvt_s_d, d(1.5), 0).0, s(1.5));
    assert_eq!(h1k(helper_fcvt_s_int, 7, 0, 0).0, s(7.0));
}

#[test]
fn fused_multiply_add() {
    for hw in [false, true] {
        if hw && !host_fma() {
            continue;
        }
        let fd = |k: u64, a: u64, b: u64, c: u64, rm: Rm| {
            fma_d_with(FmaKind::from_insn(k), a, b, c, rm, hw)
        };
        let fs = |k: u64, a: u64, b: u64, c: u64, rm: Rm| {
            fma_s_with(FmaKind::from_insn(k), a, b, c, rm, hw)
        };
        // The four kinds.
        let (two, three, one) = (d(2.0), d(3.0), d(1.0));
        assert_eq!(fd(0x43, two, three, one, Rm::Rne), (d(7.0), 0));
        assert_eq!(fd(0x47, two, three, one, Rm::Rne), (d(5.0), 0));
        assert_eq!(fd(0x4b, two, three, one, Rm::Rne), (d(-5.0), 0));
        assert_eq!(fd(0x4f, two, three, one, Rm::Rne), (d(-7.0), 0));
        assert_eq!(fs(0x4f, s(2.0), s(3.0), s(1.0), Rm::Rtz), (s(-7.0), 0));
        // Single rounding: (1 + 2^-30)^2 - 1 = 2^-29 + 2^-60 exactly.
        let a = d(1.0 + 2f64.powi(-30));
        for rm in MODES {
            assert_eq!(
                fd(0x47, a, a, one, rm),
                (d(2f64.powi(-29) + 2f64.powi(-60)), 0)
            );
        }
        // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104, exact only when fused.
        assert_eq!(
            fd(
                0x47,
                0x3ff0_0000_0000_0001,
                0x3fef_ffff_ffff_fffe,
                one,
                Rm::Rne
            ),
            (d(-(2f64.powi(-104))), 0)
        );
        // Rounding of the fused result: 1 * 1 + 2^-53 (tie) per mode.
        let r = MODES.map(|m| fd(0x43, one, one, d(2f64.powi(-53)), m));
        let up = 0x3ff0_0000_0000_0001;
        assert_eq!(r.map(|x| x.0), [one, one, one, up, up]);
        assert!(r.iter().all(|x| x.1 == NX));
        // Zero signs: -(1*0) - 0 = -0; -(1*0) + 0 = +0 (-0 rounding down); 0 - 0 likewise.
        for rm in MODES {
            let down = rm == Rm::Rdn;
            assert_eq!(fd(0x4f, one, 0, 0, rm), (NEG, 0));
            assert_eq!(fd(0x4b, one, 0, 0, rm), (if down { NEG } else { 0 }, 0));
            assert_eq!(fd(0x47, one, 0, 0, rm), (if down { NEG } else { 0 }, 0));
            assert_eq!(fd(0x43, NEG, 0, NEG, rm), (NEG, 0));
        }
        // Product zero, addend nonzero: the addend exactly.
        assert_eq!(fd(0x43, 0, D_INF - 1, 5, Rm::Rne), (5, 0));
        // Overflow and underflow of the fused result.
        assert_eq!(fd(0x43, D_MAX, d(2.0), d(-1.0), Rm::Rtz), (D_MAX, OF | NX));
        assert_eq!(fd(0x43, D_MAX, d(2.0), D_MAX | NEG, Rm::Rne), (D_MAX, 0));
        assert_eq!(fd(0x43, 1, d(0.5), 0, Rm::Rne), (0, UF | NX));
        assert_eq!(fd(0x43, 1, d(0.5), 0, Rm::Rup), (1, UF | NX));
        // Invalid: inf * 0 even with a quiet NaN addend; inf - inf; sNaN anywhere.
        assert_eq!(
            fd(0x43, D_INF, 0, D_QNAN_PAYLOAD, Rm::Rne),
            (CANONICAL_NAN_D, NV)
        );
        assert_eq!(
            fd(0x43, 0, D_INF | NEG, one, Rm::Rne),
            (CANONICAL_NAN_D, NV)
        );
        assert_eq!(
            fd(0x43, D_INF, one, D_INF | NEG, Rm::Rne),
            (CANONICAL_NAN_D, NV)
        );
        assert_eq!(fd(0x47, D_INF, one, D_INF, Rm::Rne), (CANONICAL_NAN_D, NV));
        assert_eq!(fd(0x43, D_INF, one, D_INF, Rm::Rne), (D_INF, 0));
        assert_eq!(fd(0x4b, D_INF, one, one, Rm::Rne), (D_INF | NEG, 0));
        assert_eq!(fd(0x43, one, one, D_INF | NEG, Rm::Rne), (D_INF | NEG, 0));
        assert_eq!(fd(0x43, one, one, D_SNAN, Rm::Rne), (CANONICAL_NAN_D, NV));
        assert_eq!(
            fd(0x43, D_QNAN_PAYLOAD, one, one, Rm::Rne),
            (CANONICAL_NAN_D, 0)
        );
        assert_eq!(
            fs(0x43, nan_box(S_INF), s(0.0), s(f32::NAN), Rm::Rne),
            (s(f32::NAN), NV)
        );
        assert_eq!(
            fs(0x43, s(1.0), nan_box(S_SNAN), s(1.0), Rm::Rne),
            (s(f32::NAN), NV)
        );
        assert_eq!(
            fs(0x43, 0x3f80_0000, s(1.0), s(1.0), Rm::Rne),
            (s(f32::NAN), 0)
        );
    }
    // Through the helper: the opcode selects the kind, the rm field the mode.
    let (r, fl) = h3(helper_fma_d, 0x4f, d(2.0), d(3.0), d(1.0), DYN);
    assert_eq!((r, fl), (d(-7.0), 0));
    let (r, fl) = h3(helper_fma_s, 0x47, s(1.0), s(1.0), s(2f32.powi(-25)), 3);
    assert_eq!((r, fl), (s(1.0), NX_));
}

#[test]
fn fmin_fmax() {
    let q = D_QNAN_PAYLOAD;
    assert_eq!(flags2(helper_fmin_d, 0, NEG), (NEG, 0));
    assert_eq!(flags2(helper_fmin_d, NEG, 0), (NEG, 0));
    assert_eq!(flags2(helper_fmax_d, 0, NEG), (0, 0));
    assert_eq!(flags2(helper_fmax_d, NEG, 0), (0, 0));
    assert_eq!(flags2(helper_fmin_d, d(1.0), d(-2.0)), (d(-2.0), 0));
    assert_eq!(flags2(helper_fmax_d, d(1.0), d(-2.0)), (d(1.0), 0));
    assert_eq!(flags2(helper_fmax_d, D_INF | NEG, d(-2.0)), (d(-2.0), 0));
    assert_eq!(flags2(helper_fmin_d, q, d(1.0)), (d(1.0), 0));
    assert_eq!(flags2(helper_fmax_d, d(1.0), q), (d(1.0), 0));
    assert_eq!(flags2(helper_fmin_d, D_SNAN, d(1.0)), (d(1.0), NV_));
    assert_eq!(flags2(helper_fmax_d, d(1.0), D_SNAN), (d(1.0), NV_));
    assert_eq!(flags2(helper_fmin_d, q, q), (CANONICAL_NAN_D, 0));
    assert_eq!(flags2(helper_fmax_d, D_SNAN, q), (CANONICAL_NAN_D, NV_));
    assert_eq!(flags2(helper_fmin_s, s(0.0), s(-0.0)), (s(-0.0), 0));
    assert_eq!(flags2(helper_fmax_s, s(-0.0), s(0.0)), (s(0.0), 0));
    assert_eq!(
        flags2(helper_fmax_s, nan_box(S_SNAN), s(-3.0)),
        (s(-3.0), NV_)
    );
    assert_eq!(
        flags2(helper_fmin_s, s(f32::NAN), s(f32::NAN)),
        (s(f32::NAN), 0)
    );
    assert_eq!(flags2(helper_fmin_s, s(5.0), s(4.0)), (s(4.0), 0));
}

#[test]
fn compares() {
    let q = D_QNAN_PAYLOAD;
    assert_eq!(flags2(helper_feq_d, d(1.0), d(1.0)), (1, 0));
    assert_eq!(flags2(helper_feq_d, 0, NEG), (1, 0));
    assert_eq!(flags2(helper_flt_d, NEG, 0), (0, 0));
    assert_eq!(flags2(helper_fle_d, 0, NEG), (1, 0));
    assert_eq!(flags2(helper_flt_d, d(-2.0), d(-1.0)), (1, 0));
    assert_eq!(flags2(helper_flt_d, d(-1.0), d(-2.0)), (0, 0));
    assert_eq!(flags2(helper_fle_d, D_INF | NEG, D_INF), (1, 0));
    assert_eq!(flags2(helper_feq_d, q, q), (0, 0));
    assert_eq!(flags2(helper_feq_d, D_SNAN, d(1.0)), (0, NV_));
    assert_eq!(flags2(helper_flt_d, q, d(1.0)), (0, NV_));
    assert_eq!(flags2(helper_fle_d, d(1.0), q), (0, NV_));
    assert_eq!(flags2(helper_fle_d, D_SNAN, D_SNAN), (0, NV_));
    assert_eq!(flags2(helper_feq_s, s(1.5), s(1.5)), (1, 0));
    assert_eq!(flags2(helper_feq_s, s(f32::NAN), s(1.5)), (0, 0));
    assert_eq!(flags2(helper_feq_s, nan_box(S_SNAN), s(1.5)), (0, NV_));
    assert_eq!(flags2(helper_flt_s, s(1.0), s(1.5)), (1, 0));
    assert_eq!(flags2(helper_flt_s, s(f32::NAN), s(1.5)), (0, NV_));
    assert_eq!(flags2(helper_fle_s, s(1.5), s(1.5)), (1, 0));
    assert_eq!(flags2(helper_fle_s, s(-0.0), s(0.0)), (1, 0));
}

#[test]
fn classify_all_ten_classes() {
    let e = std::ptr::null_mut();
    let cases_d = [
        (D_INF | NEG, 0),
        (d(-1.0), 1),
        (1 | NEG, 2),
        (NEG, 3),
        (0, 4),
        (1, 5),
        (d(1.0), 6),
        (D_INF, 7),
        (D_SNAN, 8),
        (CANONICAL_NAN_D, 9),
    ];
    for (x, bit) in cases_d {
        assert_eq!(helper_fclass_d(e, x), 1 << bit, "{x:#x}");
    }
    let cases_s = [
        (S_INF | 1 << 31, 0),
        ((-1.0f32).to_bits(), 1),
        (0x8000_0001, 2),
        (0x8000_0000, 3),
        (0, 4),
        (0x007f_ffff, 5),
        (f32::MIN_POSITIVE.to_bits(), 6),
        (S_INF, 7),
        (S_SNAN, 8),
        (0xffc0_0001, 9),
    ];
    for (x, bit) in cases_s {
        assert_eq!(helper_fclass_s(e, nan_box(x)), 1 << bit, "{x:#x}");
    }
}

const W: u64 = 0;
const WU: u64 = 1;
const L: u64 = 2;
const LU: u64 = 3;

#[test]
fn float_to_int_saturation() {
    let cvt = |x: u64, kind: u64| all_modes(|m| h1k(helper_fcvt_int_d, x, kind, m));
    let i = |v: i64| v as u64;
    let imax = i(i32::MAX as i64);
    let imin = i(i32::MIN as i64);
    // 2^31 - 0.5: RNE ties to even 2^31 (invalid), RTZ/RDN 2^31-1, RUP/RMM 2^31 (invalid).
    let r = cvt(d(2147483647.5), W);
    assert_eq!(r.map(|x| x.0), [imax; 5]);
    assert_eq!(r.map(|x| x.1), [NV_, NX_, NX_, NV_, NV_]);
    // 2^31 - 1.5: RNE to 2^31-2 (even).
    let r = cvt(d(2147483646.5), W);
    assert_eq!(r.map(|x| x.0), [imax - 1, imax - 1, imax - 1, imax, imax]);
    assert!(r.iter().all(|x| x.1 == NX_));
    // -2^31 - 0.5: RNE -2^31 (even), RDN/RMM -2^31-1 (invalid, clipped to -2^31).
    let r = cvt(d(-2147483648.5), W);
    assert_eq!(r.map(|x| x.0), [imin; 5]);
    assert_eq!(r.map(|x| x.1), [NX_, NX_, NV_, NX_, NV_]);
    assert_eq!(cvt(d(-2147483648.0), W)[0], (imin, 0));
    assert_eq!(cvt(d(2147483648.0), W)[1], (imax, NV_));
    // -0.0, NaN, infinities.
    assert_eq!(cvt(NEG, W), [(0, 0); 5]);
    assert_eq!(cvt(CANONICAL_NAN_D, W)[0], (imax, NV_));
    assert_eq!(cvt(D_SNAN | NEG, W)[0], (imax, NV_));
    assert_eq!(cvt(D_INF | NEG, W)[0], (imin, NV_));
    assert_eq!(cvt(D_INF, W)[0], (imax, NV_));
    // Small values per mode: 2.5 and -2.5.
    assert_eq!(cvt(d(2.5), W).map(|x| x.0), [2, 2, 2, 3, 3]);
    assert_eq!(
        cvt(d(-2.5), L).map(|x| x.0),
        [i(-2), i(-2), i(-3), i(-2), i(-3)]
    );
    assert_eq!(cvt(d(0.3), W).map(|x| x.0), [0, 0, 0, 1, 0]);
    assert_eq!(cvt(1, L).map(|x| x.0), [0, 0, 0, 1, 0]);
    assert_eq!(cvt(1 | NEG, L).map(|x| x.0), [0, 0, i(-1), 0, 0]);
    // WU: negative values that round to 0 are valid (inexact), others invalid -> 0.
    let r = cvt(d(-0.5), WU);
    assert_eq!(r.map(|x| x.0), [0; 5]);
    assert_eq!(r.map(|x| x.1), [NX_, NX_, NV_, NX_, NV_]);
    assert_eq!(cvt(d(-1.0), WU)[1], (0, NV_));
    assert_eq!(cvt(D_INF | NEG, WU)[0], (0, NV_));
    // WU results are sign-extended: 2^32 - 1 -> all ones; 2^31 -> 0xffffffff80000000.
    assert_eq!(cvt(d(4294967295.0), WU)[0], (u64::MAX, 0));
    assert_eq!(cvt(d(2147483648.0), WU)[0], (0xffff_ffff_8000_0000, 0));
    assert_eq!(
        cvt(d(4294967295.5), WU).map(|x| x.1),
        [NV_, NX_, NX_, NV_, NV_]
    );
    assert_eq!(cvt(d(4294967296.0), WU)[1], (u64::MAX, NV_));
    assert_eq!(cvt(CANONICAL_NAN_D, WU)[0], (u64::MAX, NV_));
    // L: the f64 boundaries.
    assert_eq!(cvt(d(-9223372036854775808.0), L)[0], (i(i64::MIN), 0));
    assert_eq!(cvt(d(9223372036854775808.0), L)[0], (i(i64::MAX), NV_));
    assert_eq!(
        cvt(d(9223372036854774784.0), L)[0],
        (9223372036854774784, 0)
    );
    assert_eq!(cvt(d(-1e300), L)[0], (i(i64::MIN), NV_));
    assert_eq!(cvt(CANONICAL_NAN_D, L)[0], (i(i64::MAX), NV_));
    // LU.
    assert_eq!(
        cvt(d(18446744073709549568.0), LU)[0],
        (18446744073709549568, 0)
    );
    assert_eq!(cvt(d(18446744073709551616.0), LU)[0], (u64::MAX, NV_));
    assert_eq!(cvt(d(-1.0), LU)[0], (0, NV_));
    assert_eq!(cvt(d(-0.75), LU).map(|x| x.1), [NV_, NX_, NV_, NX_, NV_]);
    assert_eq!(cvt(D_INF, LU)[0], (u64::MAX, NV_));
    assert_eq!(cvt(D_INF | NEG, LU)[0], (0, NV_));
    assert_eq!(cvt(d(1e300), LU)[0], (u64::MAX, NV_));
    // From f32.
    let cvts = |x: f32, kind: u64| all_modes(|m| h1k(helper_fcvt_int_s, s(x), kind, m));
    assert_eq!(cvts(-2147483648.0, W)[0], (imin, 0));
    assert_eq!(cvts(2147483648.0, W)[0], (imax, NV_));
    assert_eq!(
        cvts(-1.5, W).map(|x| x.0),
        [i(-2), i(-1), i(-2), i(-1), i(-2)]
    );
    assert_eq!(cvts(4294967040.0, WU)[0], (0xffff_ffff_ffff_ff00, 0));
    assert_eq!(cvts(f32::INFINITY, LU)[0], (u64::MAX, NV_));
    assert_eq!(cvts(-9223372036854775808.0, L)[0], (i(i64::MIN), 0));
    assert_eq!(cvts(9223372036854775808.0, L)[0], (i(i64::MAX), NV_));
    assert_eq!(cvts(f32::NAN, W)[0], (imax, NV_));
    assert_eq!(cvts(1e-30, LU).map(|x| x.0), [0, 0, 0, 1, 0]);
}

#[test]
fn int_to_float() {
    let cvt_s = |x: u64, kind: u64| all_modes(|m| h1k(helper_fcvt_s_int, x, kind, m));
    let cvt_d = |x: u64, kind: u64| all_modes(|m| h1k(helper_fcvt_d_int, x, kind, m));
    // 2^24 + 1 is a tie in f32; 2^24 + 3 rounds to even 2^24 + 4 in RNE.
    let r = cvt_s(16777217, W);
    let (lo, hi) = (s(16777216.0), s(16777218.0));
    assert_eq!(r.map(|x| x.0), [lo, lo, lo, hi, hi]);
    assert!(r.iter().all(|x| x.1 == NX_));
    assert_eq!(cvt_s(16777219, L)[0], (s(16777220.0), NX_));
    // Negative: -(2^24 + 1).
    let r = cvt_s((-16777217i64) as u64, L);
    let (lo, hi) = (s(-16777216.0), s(-16777218.0));
    assert_eq!(r.map(|x| x.0), [lo, lo, hi, lo, hi]);
    // W uses the low 32 bits, signed; WU the low 32 bits, unsigned.
    assert_eq!(cvt_d(0x1234_5678_ffff_ffff, W)[0], (d(-1.0), 0));
    assert_eq!(cvt_d(0x1234_5678_ffff_ffff, WU)[0], (d(4294967295.0), 0));
    assert_eq!(cvt_s(0xffff_ffff, WU).map(|x| x.0)[0], s(4294967296.0));
    assert_eq!(cvt_s(0xffff_ffff, WU)[1], (s(4294967040.0), NX_));
    assert_eq!(cvt_d(i64::MIN as u64, L)[0], (d(-9223372036854775808.0), 0));
    let r = cvt_d(u64::MAX, LU);
    assert_eq!(r[0], (d(18446744073709551616.0), NX_));
    assert_eq!(r[1], (d(18446744073709549568.0), NX_));
    assert_eq!(cvt_d(u64::MAX, L)[0], (d(-1.0), 0));
    // fcvt.s.w rd, x0 gives +0 without flags.
    assert_eq!(cvt_s(0, W), [(s(0.0), 0); 5]);
    assert_eq!(cvt_d(0, LU), [(0, 0); 5]);
}

#[test]
fn float_to_float() {
    // Narrowing rounds per mode and signals like arithmetic.
    let x = d(1.0 + 2f64.powi(-24)); // tie in f32
    let r = all_modes(|m| h1(helper_fcvt_s_d, x, m));
    let (lo, hi) = (s(1.0), nan_box(0x3f80_0001));
    assert_eq!(r.map(|x| x.0), [lo, lo, lo, hi, hi]);
    let r = all_modes(|m| h1(helper_fcvt_s_d, d(1e39), m));
    let (inf, max) = (nan_box(S_INF), s(f32::MAX));
    assert_eq!(r.map(|x| x.0), [inf, max, max, inf, inf]);
    assert!(r.iter().all(|x| x.1 == OF_ | NX_));
    assert_eq!(h1(helper_fcvt_s_d, D_SNAN, 0), (s(f32::NAN), NV_));
    assert_eq!(h1(helper_fcvt_s_d, D_QNAN_PAYLOAD, 0), (s(f32::NAN), 0));
    assert_eq!(h1(helper_fcvt_s_d, d(1e-50), 3), (nan_box(1), UF_ | NX_));
    assert_eq!(h1(helper_fcvt_s_d, NEG, 0), (s(-0.0), 0));
    // Widening is exact; sNaN is invalid; subnormal f32 becomes a normal f64.
    assert_eq!(h1(helper_fcvt_d_s, s(1.5), 0), (d(1.5), 0));
    assert_eq!(
        h1(helper_fcvt_d_s, nan_box(1), 0),
        (d(f32::from_bits(1) as f64), 0)
    );
    assert_eq!(
        h1(helper_fcvt_d_s, nan_box(S_SNAN), 0),
        (CANONICAL_NAN_D, NV_)
    );
    assert_eq!(
        h1(helper_fcvt_d_s, nan_box(0xffc0_1234), 0),
        (CANONICAL_NAN_D, 0)
    );
    assert_eq!(
        h1(helper_fcvt_d_s, nan_box(S_INF | 1 << 31), 0),
        (D_INF | NEG, 0)
    );
}

#[test]
fn dynamic_rounding_mode_and_reserved_modes() {
    // frm selects the mode when rm = 7.
    for frm in 0..5u64 {
        let mut c = RiscvCpu {
            frm,
            ..RiscvCpu::default()
        };
        // SAFETY: env is a live RiscvCpu.
        let r = unsafe { helper_fdiv_d(env(&mut c), d(1.0), d(3.0), word(DYN, 0)) };
        assert_eq!(r, h2(helper_fdiv_d, d(1.0), d(3.0), frm).0);
        assert_eq!(c.fflags, NX_);
        assert_eq!(c.hdr.pending_status, 0);
    }
    // A reserved frm (5, 6, 7) with rm = 7, or a reserved static rm, raises illegal
    // instruction with the instruction bits as trap value, and changes no flags.
    for (frm, rm) in [(5, DYN), (6, DYN), (7, DYN), (0, 5), (0, 6)] {
        let mut c = RiscvCpu {
            frm,
            fflags: 0x10,
            ..RiscvCpu::default()
        };
        let insn = 0x02b5_0553 | rm << 12;
        // SAFETY: env is a live RiscvCpu.
        unsafe { helper_fadd_d(env(&mut c), d(1.0), d(3.0), insn) };
        assert_eq!(c.hdr.pending_status, ExitStatus::Exception as u32);
        assert_eq!(c.exc_cause, cause::ILLEGAL_INSN);
        assert_eq!(c.exc_tval, insn);
        assert_eq!(c.fflags, 0x10);
        let mut c = RiscvCpu {
            frm,
            ..RiscvCpu::default()
        };
        // SAFETY: as above.
        unsafe { helper_fcvt_d_s(env(&mut c), s(1.0), insn) };
        assert_eq!(c.hdr.pending_status, ExitStatus::Exception as u32);
    }
    // Flags accrue (OR) into fflags.
    let mut c = RiscvCpu {
        fflags: DZ_,
        ..RiscvCpu::default()
    };
    // SAFETY: env is a live RiscvCpu.
    unsafe { helper_fadd_d(env(&mut c), d(1.0), d(1e-30), word(0, 0)) };
    // SAFETY: as above.
    unsafe { helper_flt_d(env(&mut c), CANONICAL_NAN_D, 0) };
    assert_eq!(c.fflags, DZ_ | NX_ | NV_);
}

#[test]
fn helper_declarations() {
    assert_eq!(FADD_D.nargs, 3);
    assert_eq!(FMA_S.nargs, 4);
    assert_eq!(FSQRT_S.nargs, 2);
    assert_eq!(FCVT_INT_D.nargs, 2);
    assert_eq!(FEQ_D.nargs, 2);
    assert_eq!(FCLASS_D.nargs, 1);
    assert_eq!(FADD_D.effects, Effects::RAISES);
    assert_eq!(FMIN_S.effects, Effects::WRITES);
    assert_eq!(FCLASS_S.effects, Effects::PURE);
}

// ---------------------------------------------------------------------------------------
// Randomized cross-checks: host SSE paths against the software implementation.

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// An interesting value of `fmt` with biased exponent near `near` (if given).
    pub(crate) fn value(&mut self, fmt: Fmt, near: Option<i64>) -> u64 {
        let emax = (1i64 << fmt.exp_bits) - 1;
        let e = match (near, self.below(10)) {
            (Some(n), 0..=5) => n + self.below(9) as i64 - 4,
            (_, 0) => 0,
            (_, 1) => emax,
            (_, 2) => 1 + self.below(3) as i64,
            (_, 3) => emax - 1 - self.below(3) as i64,
            (_, 4 | 5) => emax / 2 + self.below(9) as i64 - 4,
            _ => self.below(emax as u64 + 1) as i64,
        }
        .clamp(0, emax) as u64;
        let mmask = (1u64 << fmt.mant) - 1;
        let m = match self.below(8) {
            0 => 0,
            1 => mmask,
            2 => 1 << self.below(fmt.mant as u64),
            3 => self.below(8),
            4 => mmask - self.below(8),
            5 => (self.next() & mmask) & !((1 << self.below(fmt.mant as u64)) - 1),
            _ => self.next() & mmask,
        };
        (self.below(2) << (fmt.mant + fmt.exp_bits)) | e << fmt.mant | m
    }
}

fn biased_exp(fmt: Fmt, x: u64) -> i64 {
    ((x >> fmt.mant) & ((1 << fmt.exp_bits) - 1)) as i64
}

const HW_MODES: [Rm; 4] = [Rm::Rne, Rm::Rtz, Rm::Rdn, Rm::Rup];

#[test]
fn sse_arith_matches_software() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for i in 0..60_000 {
        for fmt in [F32, F64] {
            let a = rng.value(fmt, None);
            let near = if i % 2 == 0 {
                Some(biased_exp(fmt, a))
            } else {
                None
            };
            let b = rng.value(fmt, near);
            for rm in HW_MODES {
                for op in [Arith::Add, Arith::Sub, Arith::Mul, Arith::Div] {
                    let (hw, want) = if fmt == F32 {
                        let (r, fl) = arith_s(op, nan_box(a as u32), nan_box(b as u32), rm);
                        ((r & 0xffff_ffff, fl), op.soft()(fmt, a, b, rm))
                    } else {
                        (arith_d(op, a, b, rm), op.soft()(fmt, a, b, rm))
                    };
                    assert_eq!(hw, want, "{op:?} {fmt:?} {a:#x} {b:#x} {rm:?}");
                }
                let (hw, want) = if fmt == F32 {
                    let (r, fl) = sqrt_s(nan_box(a as u32), rm);
                    ((r & 0xffff_ffff, fl), soft::sqrt(fmt, a, rm))
                } else {
                    (sqrt_d(a, rm), soft::sqrt(fmt, a, rm))
                };
                assert_eq!(hw, want, "sqrt {fmt:?} {a:#x} {rm:?}");
            }
        }
    }
}

#[test]
fn sse_narrowing_matches_software() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    for _ in 0..100_000 {
        // f64 values around the f32 range, including its subnormals and overflow.
        let e = 1023 - 150 + rng.below(285) as i64;
        let a = rng.value(F64, Some(e));
        for rm in HW_MODES {
            let (r, fl) = cvt_s_d(a, rm);
            assert_eq!(
                (r & 0xffff_ffff, fl),
                soft::convert(F64, F32, a, rm),
                "{a:#x} {rm:?}"
            );
        }
    }
}

#[test]
fn hardware_fma_matches_software() {
    if !host_fma() {
        eprintln!("host has no FMA unit: only the software path is in use");
        return;
    }
    let mut rng = Rng(0xfeed_face_dead_beef);
    for i in 0..80_000 {
        for fmt in [F32, F64] {
            let a = rng.value(fmt, None);
            let b = rng.value(fmt, Some(biased_exp(fmt, a) / 2 + fmt.bias() as i64 / 2));
            let pe = biased_exp(fmt, a) + biased_exp(fmt, b) - fmt.bias() as i64;
            let c = match i % 3 {
                // Near the exact product: heavy cancellation.
                0 => {
                    let (p, _) = soft::mul(fmt, a, b, Rm::Rne);
                    let delta = rng.below(5);
                    (p ^ fmt.sign()).wrapping_add(delta).wrapping_sub(2)
                }
                1 => rng.value(fmt, Some(pe)),
                _ => rng.value(fmt, None),
            };
            for rm in HW_MODES {
                let hw = fma_raw(fmt, a, b, c, rm, true);
                let sw = fma_raw(fmt, a, b, c, rm, false);
                assert_eq!(hw, sw, "{fmt:?} {a:#x} {b:#x} {c:#x} {rm:?}");
            }
        }
    }
}

/// Round-to-nearest-max-magnitude has no hardware counterpart; check the software f32
/// operations against exact f64 intermediates rounded by the (separately verified)
/// conversion: f32 products are exact in f64, and so are sums with close exponents.
#[test]
fn rmm_f32_matches_exact_f64_intermediate() {
    let mut rng = Rng(0x5eed_0000_1111_2222);
    let widen = |x: u64| soft::convert(F32, F64, x, Rm::Rne).0;
    let mut checked = 0;
    for _ in 0..100_000 {
        let a = rng.value(F32, None);
        let b = rng.value(F32, Some(biased_exp(F32, a)));
        if F32.is_nan(a) || F32.is_nan(b) {
            continue;
        }
        for op in [Arith::Mul, Arith::Add] {
            let (wide, wfl) = op.soft()(F64, widen(a), widen(b), Rm::Rne);
            if wfl != 0 {
                continue; // not an exact intermediate (or an invalid operation)
            }
            let want = soft::convert(F64, F32, wide, Rm::Rmm);
            assert_eq!(op.soft()(F32, a, b, Rm::Rmm), want, "{op:?} {a:#x} {b:#x}");
            checked += 1;
        }
        // FMA: a*b exact in f64; a*b + c exact in f64 when no flags are raised.
        let c = rng.value(F32, Some(biased_exp(F32, a)));
        if F32.is_nan(c) {
            continue;
        }
        let (wide, wfl) = soft::mul_add(F64, widen(a), widen(b), widen(c), Rm::Rne);
        if wfl == 0 {
            let want = soft::convert(F64, F32, wide, Rm::Rmm);
            assert_eq!(soft::mul_add(F32, a, b, c, Rm::Rmm), want);
        }
    }
    assert!(checked > 50_000, "{checked}");
}

#[test]
fn soft_fma_agrees_with_separate_ops_when_exact() {
    // When a*b is exact, fma(a, b, c) must equal add(a*b, c); when c is zero, mul(a, b).
    let mut rng = Rng(0x7777_8888_9999_aaaa);
    for _ in 0..50_000 {
        let a = rng.value(F64, None);
        let b = rng.value(F64, Some(1023));
        let c = rng.value(F64, Some(biased_exp(F64, a)));
        for rm in MODES {
            let (p, pfl) = soft::mul(F64, a, b, rm);
            if pfl == 0 && !F64.is_nan(p) {
                assert_eq!(soft::mul_add(F64, a, b, c, rm), soft::add(F64, p, c, rm));
            }
            let zero = if rm == Rm::Rdn { 0 } else { NEG };
            assert_eq!(soft::mul_add(F64, a, b, zero, rm), soft::mul(F64, a, b, rm));
        }
    }
}

#[test]
fn int_kind_round_trip() {
    for (kind, x, neg, mag) in [
        (IntKind::W, 0xffff_ffffu64, true, 1u64),
        (IntKind::W, 0x8000_0000, true, 1 << 31),
        (IntKind::Wu, 0xffff_ffff_8000_0000, false, 1 << 31),
        (IntKind::L, i64::MIN as u64, true, 1 << 63),
        (IntKind::Lu, u64::MAX, false, u64::MAX),
    ] {
        assert_eq!(kind.decode(x), (neg, mag));
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn host_rounding_mode_is_restored() {
    fn mxcsr() -> u32 {
        let mut v = 0u32;
        // SAFETY: stores MXCSR into a local.
        unsafe { std::arch::asm!("stmxcsr [{p}]", p = in(reg) &raw mut v, options(nostack)) };
        v
    }
    for rm in 0..5 {
        h2(helper_fdiv_d, d(1.0), d(3.0), rm);
        h3(helper_fma_s, 0x43, s(1.0), s(3.0), s(1e-10), rm);
        h1(helper_fcvt_s_d, d(0.1), rm);
        // Control bits (all but the sticky status flags) are the default again.
        assert_eq!(mxcsr() & !0x3f, 0x1f80, "rm {rm}");
        let x = std::hint::black_box(1.0f64) + std::hint::black_box(3.0 * 2f64.powi(-54));
        assert_eq!(x.to_bits(), 0x3ff0_0000_0000_0001);
    }
}

/// For round-to-nearest the arithmetic helpers may skip the MXCSR dance; their results and
/// flags must be exactly those of the full path, whether or not inexact is accrued yet.
#[test]
fn fast_path_matches_full_path() {
    let mut rng = Rng(0xabcd_ef01_2345_6789);
    let run_with = |fflags: u64, f: &dyn Fn(*mut u8) -> u64| {
        let mut c = RiscvCpu {
            fflags,
            ..RiscvCpu::default()
        };
        let r = f(env(&mut c));
        assert_eq!(c.hdr.pending_status, 0);
        (r, c.fflags)
    };
    type Op2 = Box<dyn Fn(*mut u8, u64, u64, u64) -> u64>;
    type Full = fn(u64, u64) -> (u64, u32);
    let two = |h: H2| -> Op2 {
        // SAFETY: called with a live RiscvCpu env.
        Box::new(move |e, a, b, w| unsafe { h(e, a, b, w) })
    };
    let one = |h: H1| -> Op2 {
        // SAFETY: called with a live RiscvCpu env.
        Box::new(move |e, a, _, w| unsafe { h(e, a, w) })
    };
    let ops: [(Op2, Full, bool); 11] = [
        (
            two(helper_fadd_s),
            |a, b| arith_s(Arith::Add, a, b, Rm::Rne),
            true,
        ),
        (
            two(helper_fsub_s),
            |a, b| arith_s(Arith::Sub, a, b, Rm::Rne),
            true,
        ),
        (
            two(helper_fmul_s),
            |a, b| arith_s(Arith::Mul, a, b, Rm::Rne),
            true,
        ),
        (
            two(helper_fdiv_s),
            |a, b| arith_s(Arith::Div, a, b, Rm::Rne),
            true,
        ),
        (
            two(helper_fadd_d),
            |a, b| arith_d(Arith::Add, a, b, Rm::Rne),
            false,
        ),
        (
            two(helper_fsub_d),
            |a, b| arith_d(Arith::Sub, a, b, Rm::Rne),
            false,
        ),
        (
            two(helper_fmul_d),
            |a, b| arith_d(Arith::Mul, a, b, Rm::Rne),
            false,
        ),
        (
            two(helper_fdiv_d),
            |a, b| arith_d(Arith::Div, a, b, Rm::Rne),
            false,
        ),
        (one(helper_fsqrt_s), |a, _| sqrt_s(a, Rm::Rne), true),
        (one(helper_fsqrt_d), |a, _| sqrt_d(a, Rm::Rne), false),
        (one(helper_fcvt_s_d), |a, _| cvt_s_d(a, Rm::Rne), false),
    ];
    let mut fast_hits = 0;
    for i in 0..40_000 {
        for (j, (h, full, single)) in ops.iter().enumerate() {
            let fmt = if *single { F32 } else { F64 };
            let a = if j == 10 {
                rng.value(F64, Some(1023 - 130 + (i % 260) as i64))
            } else {
                rng.value(fmt, None)
            };
            let b = rng.value(fmt, Some(biased_exp(fmt, a)));
            let (a, b) = if *single {
                (nan_box(a as u32), nan_box(b as u32))
            } else {
                (a, b)
            };
            let w = word(
                if i % 2 == 0 { 0 } else { DYN },
                if j == 10 { 1 } else { 0 },
            );
            let call = |e: *mut u8| h(e, a, b, w);
            let (r, fl) = full(a, b);
            let fl = fl as u64;
            assert_eq!(run_with(0, &call), (r, fl), "helper {j} {a:#x} {b:#x}");
            assert_eq!(
                run_with(NX_, &call),
                (r, fl | NX_),
                "helper {j} {a:#x} {b:#x}"
            );
            if fl & !NX_ == 0 {
                fast_hits += 1;
            }
        }
        let fmt = if i % 2 == 0 { F32 } else { F64 };
        let (a, b, c) = (
            rng.value(fmt, None),
            rng.value(fmt, Some(fmt.bias() as i64)),
            rng.value(fmt, None),
        );
        for opc in [0x43, 0x47, 0x4b, 0x4f] {
            let kind = FmaKind::from_insn(opc);
            let (h, a, b, c): (H3, u64, u64, u64) = if fmt == F32 {
                (
                    helper_fma_s,
                    nan_box(a as u32),
                    nan_box(b as u32),
                    nan_box(c as u32),
                )
            } else {
                (helper_fma_d, a, b, c)
            };
            let (r, fl) = if fmt == F32 {
                fma_s(kind, a, b, c, Rm::Rne)
            } else {
                fma_d(kind, a, b, c, Rm::Rne)
            };
            let fl = fl as u64;
            let w = opc | DYN << 12;
            // SAFETY: env is a live RiscvCpu.
            let call = |e: *mut u8| unsafe { h(e, a, b, c, w) };
            assert_eq!(
                run_with(0, &call),
                (r, fl),
                "fma {opc:#x} {a:#x} {b:#x} {c:#x}"
            );
            assert_eq!(
                run_with(NX_, &call),
                (r, fl | NX_),
                "fma {opc:#x} {a:#x} {b:#x} {c:#x}"
            );
        }
    }
    assert!(fast_hits > 200_000, "{fast_hits}");
    // Exact operations through the fast path raise nothing.
    assert_eq!(h2(helper_fmul_d, d(3.0), d(0.75), 0), (d(2.25), 0));
    assert_eq!(h2(helper_fadd_s, s(1e30), s(-1e30), 0), (s(0.0), 0));
    assert_eq!(h2(helper_fsub_d, d(1e300), d(-1e300), DYN), (d(2e300), 0));
    assert_eq!(
        h2(
            helper_fmul_d,
            d(1.0 + f64::EPSILON),
            d(1.0 + f64::EPSILON),
            0
        )
        .1,
        NX_
    );
    assert_eq!(h2(helper_fdiv_d, d(3.0), d(0.5), 0), (d(6.0), 0));
    assert_eq!(h2(helper_fdiv_d, d(1.0), d(10.0), 0).1, NX_);
    assert_eq!(h2(helper_fdiv_s, s(3.0), s(-0.25), DYN), (s(-12.0), 0));
    assert_eq!(h2(helper_fdiv_s, s(1.0), s(10.0), 0).1, NX_);
    assert_eq!(h1(helper_fsqrt_d, d(2.25), 0), (d(1.5), 0));
    assert_eq!(h1(helper_fsqrt_d, d(2.0), 0).1, NX_);
    assert_eq!(h1(helper_fsqrt_s, s(6.25), DYN), (s(2.5), 0));
    assert_eq!(h1(helper_fsqrt_s, s(2.0), 0).1, NX_);
    assert_eq!(h1(helper_fcvt_s_d, d(0.375), 0), (s(0.375), 0));
    assert_eq!(h1(helper_fcvt_s_d, d(0.1), 0).1, NX_);
    // Results at the smallest normal may come with underflow: the full path decides.
    let tiny_d = |e: *mut u8| {
        // SAFETY: env is a live RiscvCpu.
        unsafe { helper_fmul_d(e, 0x3fef_ffff_ffff_ffff, D_MIN_NORMAL | NEG, word(0, 0)) }
    };
    assert_eq!(run_with(NX_, &tiny_d), (D_MIN_NORMAL | NEG, UF_ | NX_));
    let tiny_s = |e: *mut u8| {
        // SAFETY: env is a live RiscvCpu.
        unsafe { helper_fmul_s(e, nan_box(0x3f7f_ffff), nan_box(0x0080_0000), word(DYN, 0)) }
    };
    assert_eq!(run_with(NX_, &tiny_s), (nan_box(0x0080_0000), UF_ | NX_));
    // Overflow to infinity and exact results with NX set.
    let ovf = |e: *mut u8| {
        // SAFETY: env is a live RiscvCpu.
        unsafe { helper_fadd_d(e, D_MAX, D_MAX, word(0, 0)) }
    };
    assert_eq!(run_with(NX_, &ovf), (D_INF, OF_ | NX_));
    let dz = |e: *mut u8| {
        // SAFETY: env is a live RiscvCpu.
        unsafe { helper_fdiv_s(e, s(1.0), s(0.0), word(0, 0)) }
    };
    assert_eq!(run_with(NX_, &dz), (nan_box(S_INF), DZ_ | NX_));
}
