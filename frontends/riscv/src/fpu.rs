//! RISC-V F and D semantics for generated code: the helpers that translated FP
//! instructions call (declared with `heron_backend::helper!`), and the exact IEEE operations
//! behind them. Arithmetic runs on the host's SSE unit with MXCSR set to the guest rounding
//! mode and its status flags read back (x86, like RISC-V, detects tininess after rounding);
//! round-to-nearest-max-magnitude, conversions, comparisons and FMA on hosts without an FMA
//! unit use the software implementation in [`soft`]. NaN results are canonical, f32 operands
//! are NaN-unboxed and f32 results NaN-boxed, flags are ORed into `RiscvCpu::fflags`, and a
//! reserved rounding mode raises an illegal-instruction exception. Round-to-nearest
//! arithmetic whose result is an ordinary normal number skips MXCSR entirely (see
//! `fast_d`): it can only have raised inexact, which is either accrued already (the steady
//! state of most floating-point code) or decided by an exact error term.
//!
//! Invariant: outside these helpers MXCSR holds its default (round to nearest even, all
//! exceptions masked, no DAZ/FTZ), as Rust and Cranelift code assume; helpers leave it so.

pub mod soft;

use crate::cpu::{RiscvCpu, cause};
use heron_backend::ExitStatus;
use heron_backend::ir::Effects;
pub use soft::{DZ, IntKind, NV, NX, OF, Rm, UF};
use soft::{F32, F64};

/// The f32 canonical NaN.
pub const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
/// The f64 canonical NaN.
pub const CANONICAL_NAN_D: u64 = 0x7ff8_0000_0000_0000;
/// Upper half of a NaN-boxed f32.
pub const BOX: u64 = 0xffff_ffff_0000_0000;

/// The f32 held in an f register: its low half if properly NaN-boxed, else the canonical NaN.
#[inline(always)]
pub fn unbox(x: u64) -> u32 {
    if x & BOX == BOX {
        x as u32
    } else {
        CANONICAL_NAN_S
    }
}

/// The f register value holding f32 bits `x`.
#[inline(always)]
pub fn nan_box(x: u32) -> u64 {
    BOX | x as u64
}

#[inline(always)]
fn canon_s(x: u32) -> u32 {
    if x & 0x7fff_ffff > 0x7f80_0000 {
        CANONICAL_NAN_S
    } else {
        x
    }
}

#[inline(always)]
fn canon_d(x: u64) -> u64 {
    if x & !(1 << 63) > 0x7ff0_0000_0000_0000 {
        CANONICAL_NAN_D
    } else {
        x
    }
}

/// Host SSE arithmetic under a chosen rounding mode, returning the IEEE flags it raised.
#[cfg(target_arch = "x86_64")]
mod sse {
    use super::soft::{DZ, NV, NX, OF, Rm, UF};
    use std::arch::asm;

    /// The host's MXCSR outside these operations, as Rust and Cranelift code assume it: round
    /// to nearest even, all exceptions masked, no DAZ/FTZ (status flags are never read).
    const DEFAULT_MXCSR: u32 = 0x1f80;
    /// The same, in memory for `ldmxcsr`.
    static DEFAULT_MXCSR_MEM: u32 = DEFAULT_MXCSR;

    /// MXCSR for one operation: the default with clear status flags and rounding control per
    /// `rm` (never called with RMM, which x86 lacks).
    #[inline(always)]
    fn mxcsr_for(rm: Rm) -> u32 {
        match rm {
            Rm::Rne | Rm::Rmm => DEFAULT_MXCSR,
            Rm::Rdn => DEFAULT_MXCSR | 0x2000,
            Rm::Rup => DEFAULT_MXCSR | 0x4000,
            Rm::Rtz => DEFAULT_MXCSR | 0x6000,
        }
    }

    /// MXCSR status bits (IE DE ZE OE UE PE) to fflags; DE is not an IEEE flag.
    const FLAGS: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut st = 0;
        while st < 64 {
            let mut f = 0;
            if st & 0x01 != 0 {
                f |= NV;
            }
            if st & 0x04 != 0 {
                f |= DZ;
            }
            if st & 0x08 != 0 {
                f |= OF;
            }
            if st & 0x10 != 0 {
                f |= UF;
            }
            if st & 0x20 != 0 {
                f |= NX;
            }
            t[st] = f as u8;
            st += 1;
        }
        t
    };

    #[inline(always)]
    fn flags(st: u32) -> u32 {
        FLAGS[(st & 0x3f) as usize] as u32
    }

    /// Run one SSE instruction (an asm template string plus its register operands) under the
    /// rounding mode `rm` with clear status flags, and return the flags it raised as fflags.
    /// Each run is one asm block, so the compiler can neither fold the operation nor move it
    /// out of the rounding-mode window. Round-to-nearest needs a single MXCSR load (the
    /// default mode with clear flags); other modes restore the default afterwards.
    macro_rules! under_mode {
        ($rm:expr, $insn:expr, $($operands:tt)*) => {{
            let ctl = mxcsr_for($rm);
            let mut st = 0u32;
            if ctl == DEFAULT_MXCSR {
                // SAFETY: touches only the named registers, the local `ctl`/`st` slots passed
                // by pointer and MXCSR, which it leaves in the default mode.
                unsafe {
                    asm!(
                        "ldmxcsr [{ctl}]",
                        $insn,
                        "stmxcsr [{st}]",
                        ctl = in(reg) &raw const ctl,
                        st = in(reg) &raw mut st,
                        $($operands)*
                        options(nostack, preserves_flags),
                    );
                }
            } else {
                // SAFETY: as above; the final load restores the default mode.
                unsafe {
                    asm!(
                        "ldmxcsr [{ctl}]",
                        $insn,
                        "stmxcsr [{st}]",
                        "ldmxcsr [{dflt}]",
                        ctl = in(reg) &raw const ctl,
                        st = in(reg) &raw mut st,
                        dflt = in(reg) &raw const DEFAULT_MXCSR_MEM,
                        $($operands)*
                        options(nostack, preserves_flags),
                    );
                }
            }
            flags(st)
        }};
    }

    macro_rules! binop {
        ($name:ident, $t:ty, $insn:literal) => {
            #[inline(always)]
            pub fn $name(a: $t, b: $t, rm: Rm) -> ($t, u32) {
                let mut x = a;
                let fl = under_mode!(
                    rm,
                    concat!($insn, " {x}, {y}"),
                    x = inout(xmm_reg) x,
                    y = in(xmm_reg) b,
                );
                (x, fl)
            }
        };
    }

    binop!(addss, f32, "addss");
    binop!(subss, f32, "subss");
    binop!(mulss, f32, "mulss");
    binop!(divss, f32, "divss");
    binop!(sqrtss, f32, "sqrtss");
    binop!(addsd, f64, "addsd");
    binop!(subsd, f64, "subsd");
    binop!(mulsd, f64, "mulsd");
    binop!(divsd, f64, "divsd");
    binop!(sqrtsd, f64, "sqrtsd");

    macro_rules! fma {
        ($name:ident, $t:ty, $insn:literal) => {
            /// a * b + c, one rounding. Only call when the host has FMA.
            #[inline(always)]
            pub fn $name(a: $t, b: $t, c: $t, rm: Rm) -> ($t, u32) {
                let mut x = a;
                let fl = under_mode!(
                    rm,
                    concat!($insn, " {x}, {y}, {z}"),
                    x = inout(xmm_reg) x,
                    y = in(xmm_reg) b,
                    z = in(xmm_reg) c,
                );
                (x, fl)
            }
        };
    }

    fma!(fmadd_ss, f32, "vfmadd213ss");
    fma!(fmadd_sd, f64, "vfmadd213sd");

    macro_rules! fma_default_env {
        ($name:ident, $t:ty, $insn:literal) => {
            /// a * b + c in the default environment (round to nearest even), flags not
            /// observed. Only call when the host has FMA.
            #[inline(always)]
            pub fn $name(a: $t, b: $t, c: $t) -> $t {
                let mut x = a;
                // SAFETY: a pure register operation; the caller checked for FMA support.
                unsafe {
                    asm!(
                        concat!($insn, " {x}, {y}, {z}"),
                        x = inout(xmm_reg) x,
                        y = in(xmm_reg) b,
                        z = in(xmm_reg) c,
                        options(pure, nomem, nostack, preserves_flags),
                    );
                }
                x
            }
        };
    }

    fma_default_env!(fmadd_ss_rne, f32, "vfmadd213ss");
    fma_default_env!(fmadd_sd_rne, f64, "vfmadd213sd");

    /// f64 -> f32, rounding per `rm`.
    #[inline(always)]
    pub fn cvtsd2ss(a: f64, rm: Rm) -> (f32, u32) {
        let x: f32;
        let fl = under_mode!(rm, "cvtsd2ss {x}, {y}", x = out(xmm_reg) x, y = in(xmm_reg) a,);
        (x, fl)
    }

    /// Whether the host has an FMA unit (detected once, then a cached load).
    #[inline(always)]
    pub fn has_fma() -> bool {
        std::arch::is_x86_feature_detected!("fma")
    }
}

/// A two-operand arithmetic operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arith {
    fn soft(self) -> fn(soft::Fmt, u64, u64, Rm) -> (u64, u32) {
        match self {
            Arith::Add => soft::add,
            Arith::Sub => soft::sub,
            Arith::Mul => soft::mul,
            Arith::Div => soft::div,
        }
    }
}

/// f32 `a op b` on f register values; returns the boxed result and the flags.
#[inline(always)]
pub fn arith_s(op: Arith, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    let (a, b) = (unbox(a), unbox(b));
    #[cfg(target_arch = "x86_64")]
    if rm != Rm::Rmm {
        let (x, y) = (f32::from_bits(a), f32::from_bits(b));
        let (r, fl) = match op {
            Arith::Add => sse::addss(x, y, rm),
            Arith::Sub => sse::subss(x, y, rm),
            Arith::Mul => sse::mulss(x, y, rm),
            Arith::Div => sse::divss(x, y, rm),
        };
        return (nan_box(canon_s(r.to_bits())), fl);
    }
    let (r, fl) = op.soft()(F32, a as u64, b as u64, rm);
    (nan_box(r as u32), fl)
}

/// f64 `a op b`.
#[inline(always)]
pub fn arith_d(op: Arith, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    #[cfg(target_arch = "x86_64")]
    if rm != Rm::Rmm {
        let (x, y) = (f64::from_bits(a), f64::from_bits(b));
        let (r, fl) = match op {
            Arith::Add => sse::addsd(x, y, rm),
            Arith::Sub => sse::subsd(x, y, rm),
            Arith::Mul => sse::mulsd(x, y, rm),
            Arith::Div => sse::divsd(x, y, rm),
        };
        return (canon_d(r.to_bits()), fl);
    }
    op.soft()(F64, a, b, rm)
}

/// f32 square root.
pub fn sqrt_s(a: u64, rm: Rm) -> (u64, u32) {
    let a = unbox(a);
    #[cfg(target_arch = "x86_64")]
    if rm != Rm::Rmm {
        let x = f32::from_bits(a);
        let (r, fl) = sse::sqrtss(x, x, rm);
        return (nan_box(canon_s(r.to_bits())), fl);
    }
    let (r, fl) = soft::sqrt(F32, a as u64, rm);
    (nan_box(r as u32), fl)
}

/// f64 square root.
pub fn sqrt_d(a: u64, rm: Rm) -> (u64, u32) {
    #[cfg(target_arch = "x86_64")]
    if rm != Rm::Rmm {
        let x = f64::from_bits(a);
        let (r, fl) = sse::sqrtsd(x, x, rm);
        return (canon_d(r.to_bits()), fl);
    }
    soft::sqrt(F64, a, rm)
}

/// Which of FMADD / FMSUB / FNMSUB / FNMADD: the product and/or the addend negated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FmaKind {
    pub negate_product: bool,
    pub negate_addend: bool,
}

impl FmaKind {
    /// From the major opcode (0x43 FMADD, 0x47 FMSUB, 0x4b FNMSUB, 0x4f FNMADD).
    pub fn from_insn(insn: u64) -> FmaKind {
        FmaKind {
            negate_product: insn & 0x08 != 0,
            negate_addend: insn & 0x04 != 0,
        }
    }
}

/// Fused multiply-add on raw format bits (`use_hw`: may use the host FMA instruction).
fn fma_raw(fmt: soft::Fmt, a: u64, b: u64, c: u64, rm: Rm, use_hw: bool) -> (u64, u32) {
    #[cfg(target_arch = "x86_64")]
    {
        let inf = fmt.inf(false);
        let finite = |x: u64| x & inf != inf;
        // Non-finite operands take the software path: it raises NV for inf * 0 + qNaN, as
        // RISC-V requires, whatever the host does.
        if use_hw && rm != Rm::Rmm && finite(a) && finite(b) && finite(c) {
            return if fmt == F32 {
                let (r, fl) = sse::fmadd_ss(
                    f32::from_bits(a as u32),
                    f32::from_bits(b as u32),
                    f32::from_bits(c as u32),
                    rm,
                );
                (canon_s(r.to_bits()) as u64, fl)
            } else {
                let (r, fl) =
                    sse::fmadd_sd(f64::from_bits(a), f64::from_bits(b), f64::from_bits(c), rm);
                (canon_d(r.to_bits()), fl)
            };
        }
    }
    let _ = use_hw;
    soft::mul_add(fmt, a, b, c, rm)
}

#[inline(always)]
fn host_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return sse::has_fma();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// f32 fused multiply-add family on f register values.
pub fn fma_s(kind: FmaKind, a: u64, b: u64, c: u64, rm: Rm) -> (u64, u32) {
    fma_s_with(kind, a, b, c, rm, host_fma())
}

fn fma_s_with(kind: FmaKind, a: u64, b: u64, c: u64, rm: Rm, hw: bool) -> (u64, u32) {
    let mut a = unbox(a) as u64;
    let mut c = unbox(c) as u64;
    if kind.negate_product {
        a ^= F32.sign();
    }
    if kind.negate_addend {
        c ^= F32.sign();
    }
    let (r, fl) = fma_raw(F32, a, unbox(b) as u64, c, rm, hw);
    (nan_box(r as u32), fl)
}

/// f64 fused multiply-add family.
pub fn fma_d(kind: FmaKind, a: u64, b: u64, c: u64, rm: Rm) -> (u64, u32) {
    fma_d_with(kind, a, b, c, rm, host_fma())
}

fn fma_d_with(kind: FmaKind, mut a: u64, b: u64, mut c: u64, rm: Rm, hw: bool) -> (u64, u32) {
    if kind.negate_product {
        a ^= F64.sign();
    }
    if kind.negate_addend {
        c ^= F64.sign();
    }
    fma_raw(F64, a, b, c, rm, hw)
}

/// FCVT.S.D.
pub fn cvt_s_d(a: u64, rm: Rm) -> (u64, u32) {
    #[cfg(target_arch = "x86_64")]
    if rm != Rm::Rmm {
        let (r, fl) = sse::cvtsd2ss(f64::from_bits(a), rm);
        return (nan_box(canon_s(r.to_bits())), fl);
    }
    let (r, fl) = soft::convert(F64, F32, a, rm);
    (nan_box(r as u32), fl)
}

/// FCVT.D.S (exact; NV for a signaling NaN).
pub fn cvt_d_s(a: u64, rm: Rm) -> (u64, u32) {
    soft::convert(F32, F64, unbox(a) as u64, rm)
}

/// FCVT.{W,WU,L,LU}.S: the integer register value and flags.
pub fn to_int_s(a: u64, kind: IntKind, rm: Rm) -> (u64, u32) {
    soft::to_int(F32, unbox(a) as u64, kind, rm)
}

/// FCVT.{W,WU,L,LU}.D.
pub fn to_int_d(a: u64, kind: IntKind, rm: Rm) -> (u64, u32) {
    soft::to_int(F64, a, kind, rm)
}

/// FCVT.S.{W,WU,L,LU}: from an integer register value.
pub fn from_int_s(x: u64, kind: IntKind, rm: Rm) -> (u64, u32) {
    let (neg, mag) = kind.decode(x);
    let (r, fl) = soft::from_int(F32, neg, mag, rm);
    (nan_box(r as u32), fl)
}

/// FCVT.D.{W,WU,L,LU}.
pub fn from_int_d(x: u64, kind: IntKind, rm: Rm) -> (u64, u32) {
    let (neg, mag) = kind.decode(x);
    soft::from_int(F64, neg, mag, rm)
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Lt,
    Le,
}

/// FEQ/FLT/FLE.S: 0 or 1 and flags.
pub fn cmp_s(op: Compare, a: u64, b: u64) -> (u64, u32) {
    cmp_raw(F32, op, unbox(a) as u64, unbox(b) as u64)
}

/// FEQ/FLT/FLE.D.
pub fn cmp_d(op: Compare, a: u64, b: u64) -> (u64, u32) {
    cmp_raw(F64, op, a, b)
}

fn cmp_raw(fmt: soft::Fmt, op: Compare, a: u64, b: u64) -> (u64, u32) {
    match op {
        Compare::Eq => soft::feq(fmt, a, b),
        Compare::Lt => soft::flt(fmt, a, b),
        Compare::Le => soft::fle(fmt, a, b),
    }
}

/// FMIN.S / FMAX.S.
pub fn minmax_s(max: bool, a: u64, b: u64) -> (u64, u32) {
    let (r, fl) = soft::fminmax(F32, unbox(a) as u64, unbox(b) as u64, max);
    (nan_box(r as u32), fl)
}

/// FMIN.D / FMAX.D.
pub fn minmax_d(max: bool, a: u64, b: u64) -> (u64, u32) {
    soft::fminmax(F64, a, b, max)
}

/// FCLASS.S.
pub fn class_s(a: u64) -> u64 {
    soft::fclass(F32, unbox(a) as u64)
}

/// FCLASS.D.
pub fn class_d(a: u64) -> u64 {
    soft::fclass(F64, a)
}

// ---------------------------------------------------------------------------------------
// Helpers called from generated code. ABI: `extern "C" fn(env, args...) -> u64` with env the
// hart's `RiscvCpu`. Helpers that round take the instruction word last: its rm field selects
// the mode (7 = frm), and its bits are the trap value if the mode is reserved.

/// Raise an illegal-instruction exception for `insn` (a reserved rounding mode).
fn raise_illegal(cpu: &mut RiscvCpu, insn: u64) {
    cpu.exc_cause = cause::ILLEGAL_INSN;
    cpu.exc_tval = insn & 0xffff_ffff;
    cpu.hdr.pending_status = ExitStatus::Exception as u32;
}

/// The rounding mode `insn` selects, or None (having raised illegal instruction) if reserved.
fn rounding_mode(cpu: &mut RiscvCpu, insn: u64) -> Option<Rm> {
    let field = (insn >> 12) & 7;
    let mode = if field == 7 { cpu.frm } else { field };
    let rm = Rm::from_bits(mode);
    if rm.is_none() {
        raise_illegal(cpu, insn);
    }
    rm
}

/// Run a rounding operation for a helper: resolve the mode, accrue the flags.
///
/// # Safety
/// `env` must point to a valid `RiscvCpu` not otherwise borrowed during the call.
#[inline(always)]
unsafe fn with_rm(env: *mut u8, insn: u64, f: impl FnOnce(Rm) -> (u64, u32)) -> u64 {
    // SAFETY: guaranteed by the caller (the helper ABI passes the vCPU's own state).
    let cpu = unsafe { &mut *env.cast::<RiscvCpu>() };
    match rounding_mode(cpu, insn) {
        Some(rm) => {
            let (r, fl) = f(rm);
            cpu.fflags |= fl as u64;
            r
        }
        None => 0,
    }
}

/// Run a non-rounding operation for a helper, accruing its flags.
///
/// # Safety
/// As for [`with_rm`].
#[inline(always)]
unsafe fn with_flags(env: *mut u8, f: impl FnOnce() -> (u64, u32)) -> u64 {
    // SAFETY: guaranteed by the caller.
    let cpu = unsafe { &mut *env.cast::<RiscvCpu>() };
    let (r, fl) = f();
    cpu.fflags |= fl as u64;
    r
}

/// The common case of a rounding helper, without touching MXCSR (QEMU calls the idea
/// "hardfloat"). For an instruction that rounds to nearest-even, an operation whose result
/// is a normal number of magnitude above the smallest normal can have raised no flag but
/// inexact: invalid operations give NaN, division by zero and overflow infinity, underflow
/// at most the smallest normal. So the host's result in its default environment stands;
/// `f` computes it. Inexact then only matters if it is not accrued yet: `exact` tells,
/// from the result, whether the operation was exact (None: it cannot tell cheaply, and the
/// full path runs). Returns None when the full path must run.
///
/// # Safety
/// `env` must point to a valid `RiscvCpu` not otherwise borrowed during the call.
#[inline(always)]
unsafe fn fast_d(
    env: *mut u8,
    insn: u64,
    f: impl FnOnce() -> f64,
    exact: impl FnOnce(f64) -> Option<bool>,
) -> Option<u64> {
    let cpu = env.cast::<RiscvCpu>();
    // SAFETY: guaranteed by the caller; plain reads of two fields.
    let (frm, fflags) = unsafe { ((*cpu).frm, (*cpu).fflags) };
    let field = (insn >> 12) & 7;
    if !(field == 0 || (field == 7 && frm == 0)) {
        return None;
    }
    let r = f();
    let bits = r.to_bits();
    const MIN_ABOVE: u64 = 0x0010_0000_0000_0001; // just above the smallest normal
    const INF: u64 = 0x7ff0_0000_0000_0000;
    if (bits & !(1 << 63)).wrapping_sub(MIN_ABOVE) >= INF - MIN_ABOVE {
        return None;
    }
    if fflags & NX as u64 == 0 && !exact(r)? {
        // SAFETY: as above.
        unsafe { (*cpu).fflags |= NX as u64 };
    }
    Some(bits)
}

/// [`fast_d`] for single precision (the result NaN-boxed).
///
/// # Safety
/// As for [`fast_d`].
#[inline(always)]
unsafe fn fast_s(
    env: *mut u8,
    insn: u64,
    f: impl FnOnce() -> f32,
    exact: impl FnOnce(f32) -> Option<bool>,
) -> Option<u64> {
    let cpu = env.cast::<RiscvCpu>();
    // SAFETY: guaranteed by the caller; plain reads of two fields.
    let (frm, fflags) = unsafe { ((*cpu).frm, (*cpu).fflags) };
    let field = (insn >> 12) & 7;
    if !(field == 0 || (field == 7 && frm == 0)) {
        return None;
    }
    let r = f();
    let bits = r.to_bits();
    const MIN_ABOVE: u32 = 0x0080_0001;
    const INF: u32 = 0x7f80_0000;
    if (bits & !(1 << 31)).wrapping_sub(MIN_ABOVE) >= INF - MIN_ABOVE {
        return None;
    }
    if fflags & NX as u64 == 0 && !exact(r)? {
        // SAFETY: as above.
        unsafe { (*cpu).fflags |= NX as u64 };
    }
    Some(nan_box(bits))
}

/// Whether s = a + b (rounded to nearest, no overflow) was exact: the rounding error by
/// Knuth's TwoSum, which is itself computed exactly.
#[inline(always)]
fn sum_exact_d(a: f64, b: f64, s: f64) -> bool {
    let bb = s - a;
    (a - (s - bb)) + (b - bb) == 0.0
}

/// [`sum_exact_d`] in single precision.
#[inline(always)]
fn sum_exact_s(a: f32, b: f32, s: f32) -> bool {
    let bb = s - a;
    (a - (s - bb)) + (b - bb) == 0.0
}

/// Whether p = a * b (rounded to nearest, |p| above the smallest normal) was exact: the
/// error a*b - p by one fused multiply-add. The error is a nonzero multiple of
/// 2^(lsb(a) + lsb(b)) when inexact, which stays representable (so does not round to zero)
/// when |p| >= 2^-959; below that, or without a host FMA unit, None.
#[inline(always)]
fn product_exact_d(a: f64, b: f64, p: f64) -> Option<bool> {
    if (p.to_bits() >> 52) & 0x7ff < 64 {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    if sse::has_fma() {
        return Some(sse::fmadd_sd_rne(a, b, -p) == 0.0);
    }
    let _ = (a, b);
    None
}

/// Whether q = a / b (rounded to nearest, |q| above the smallest normal) was exact: the
/// remainder a - q*b, exactly representable without underflow, by one fused multiply-add.
/// It is a multiple of 2^(lsb(q) + lsb(b)) >= 2^(lsb(a) - 53), representable when
/// |a| >= 2^-959; below that, or without a host FMA unit, None.
#[inline(always)]
fn quotient_exact_d(a: f64, b: f64, q: f64) -> Option<bool> {
    if (a.to_bits() >> 52) & 0x7ff < 64 {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    if sse::has_fma() {
        return Some(sse::fmadd_sd_rne(-q, b, a) == 0.0);
    }
    let _ = (b, q);
    None
}

/// Whether r = sqrt(a) (rounded to nearest, r above the smallest normal) was exact: the
/// remainder a - r*r by one fused multiply-add (representable when |a| >= 2^-959).
#[inline(always)]
fn root_exact_d(a: f64, r: f64) -> Option<bool> {
    if (a.to_bits() >> 52) & 0x7ff < 64 {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    if sse::has_fma() {
        return Some(sse::fmadd_sd_rne(-r, r, a) == 0.0);
    }
    let _ = r;
    None
}

/// Whether p = a * b was exact in single precision: the product is exact in f64.
#[inline(always)]
fn product_exact_s(a: f32, b: f32, p: f32) -> bool {
    a as f64 * b as f64 == p as f64
}

/// Whether q = a / b was exact in single precision: q*b is exact in f64.
#[inline(always)]
fn quotient_exact_s(a: f32, b: f32, q: f32) -> bool {
    q as f64 * b as f64 == a as f64
}

/// Whether r = sqrt(a) was exact in single precision: r*r is exact in f64.
#[inline(always)]
fn root_exact_s(a: f32, r: f32) -> bool {
    r as f64 * r as f64 == a as f64
}

#[inline(always)]
fn fs(x: u64) -> f32 {
    f32::from_bits(unbox(x))
}

#[inline(always)]
fn fd(x: u64) -> f64 {
    f64::from_bits(x)
}

/// a * b + c in the default environment (round to nearest even), flags not observed.
#[inline(always)]
fn fma_rne_s(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if sse::has_fma() {
        return sse::fmadd_ss_rne(a, b, c);
    }
    a.mul_add(b, c)
}

/// a * b + c in the default environment (round to nearest even), flags not observed.
#[inline(always)]
fn fma_rne_d(a: f64, b: f64, c: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if sse::has_fma() {
        return sse::fmadd_sd_rne(a, b, c);
    }
    a.mul_add(b, c)
}

/// The f32 operands of an FMA-family instruction with its negations applied.
#[inline(always)]
fn fma_operands_s(insn: u64, a: u64, b: u64, c: u64) -> (f32, f32, f32) {
    let k = FmaKind::from_insn(insn);
    let a = if k.negate_product { -fs(a) } else { fs(a) };
    let c = if k.negate_addend { -fs(c) } else { fs(c) };
    (a, fs(b), c)
}

/// The f64 operands of an FMA-family instruction with its negations applied.
#[inline(always)]
fn fma_operands_d(insn: u64, a: u64, b: u64, c: u64) -> (f64, f64, f64) {
    let k = FmaKind::from_insn(insn);
    let a = if k.negate_product { -fd(a) } else { fd(a) };
    let c = if k.negate_addend { -fd(c) } else { fd(c) };
    (a, fd(b), c)
}

/// Count identifiers (helper argument counts).
macro_rules! count {
    () => { 0 };
    ($x:ident $($rest:ident)*) => { 1 + count!($($rest)*) };
}

/// The `exact` argument of a fast path: the given closure, or "cannot tell".
macro_rules! or_unknown {
    () => {
        |_| None
    };
    ($e:expr) => {
        $e
    };
}

/// Declare rounding helpers: `STATIC = func(args...; insn, rm) => (result, flags)`. The
/// instruction word is the last argument; `rm` is bound to the resolved rounding mode.
macro_rules! rm_helpers {
    ($($static:ident = $func:ident($($arg:ident),*; $insn:ident, $rm:ident)
        $(fast $fast:ident $fexpr:block $(exact $exact:expr)?)? => $body:expr;)*) => {
        $(
            unsafe extern "C" fn $func(env: *mut u8, $($arg: u64,)* $insn: u64) -> u64 {
                $(
                    // SAFETY: generated code passes the calling hart's RiscvCpu as env.
                    if let Some(r) = unsafe {
                        $fast(env, $insn, || $fexpr, or_unknown!($($exact)?))
                    } {
                        return r;
                    }
                )?
                // SAFETY: generated code passes the calling hart's RiscvCpu as env.
                unsafe { with_rm(env, $insn, |$rm| $body) }
            }
            heron_backend::helper!(pub $static = $func, count!($($arg)* $insn), Effects::RAISES);
        )*
    };
}

/// Declare non-rounding helpers that accrue flags: `STATIC = func(args...) => (result, flags)`.
macro_rules! flag_helpers {
    ($($static:ident = $func:ident($($arg:ident),*) => $body:expr;)*) => {
        $(
            unsafe extern "C" fn $func(env: *mut u8, $($arg: u64),*) -> u64 {
                // SAFETY: generated code passes the calling hart's RiscvCpu as env.
                unsafe { with_flags(env, || $body) }
            }
            heron_backend::helper!(pub $static = $func, count!($($arg)*), Effects::WRITES);
        )*
    };
}

/// The integer kind of an FCVT between integer and float (its rs2 field).
fn int_kind(insn: u64) -> IntKind {
    IntKind::from_rs2((insn >> 20) as u32)
}

rm_helpers! {
    FADD_S = helper_fadd_s(a, b; insn, rm) fast fast_s { fs(a) + fs(b) }
        exact |r| Some(sum_exact_s(fs(a), fs(b), r))
        => arith_s(Arith::Add, a, b, rm);
    FSUB_S = helper_fsub_s(a, b; insn, rm) fast fast_s { fs(a) - fs(b) }
        exact |r| Some(sum_exact_s(fs(a), -fs(b), r))
        => arith_s(Arith::Sub, a, b, rm);
    FMUL_S = helper_fmul_s(a, b; insn, rm) fast fast_s { fs(a) * fs(b) }
        exact |r| Some(product_exact_s(fs(a), fs(b), r))
        => arith_s(Arith::Mul, a, b, rm);
    FDIV_S = helper_fdiv_s(a, b; insn, rm) fast fast_s { fs(a) / fs(b) }
        exact |r| Some(quotient_exact_s(fs(a), fs(b), r))
        => arith_s(Arith::Div, a, b, rm);
    FSQRT_S = helper_fsqrt_s(a; insn, rm) fast fast_s { fs(a).sqrt() }
        exact |r| Some(root_exact_s(fs(a), r)) => sqrt_s(a, rm);
    FADD_D = helper_fadd_d(a, b; insn, rm) fast fast_d { fd(a) + fd(b) }
        exact |r| Some(sum_exact_d(fd(a), fd(b), r))
        => arith_d(Arith::Add, a, b, rm);
    FSUB_D = helper_fsub_d(a, b; insn, rm) fast fast_d { fd(a) - fd(b) }
        exact |r| Some(sum_exact_d(fd(a), -fd(b), r))
        => arith_d(Arith::Sub, a, b, rm);
    FMUL_D = helper_fmul_d(a, b; insn, rm) fast fast_d { fd(a) * fd(b) }
        exact |r| product_exact_d(fd(a), fd(b), r)
        => arith_d(Arith::Mul, a, b, rm);
    FDIV_D = helper_fdiv_d(a, b; insn, rm) fast fast_d { fd(a) / fd(b) }
        exact |r| quotient_exact_d(fd(a), fd(b), r)
        => arith_d(Arith::Div, a, b, rm);
    FSQRT_D = helper_fsqrt_d(a; insn, rm) fast fast_d { fd(a).sqrt() }
        exact |r| root_exact_d(fd(a), r) => sqrt_d(a, rm);
    FMA_S = helper_fma_s(a, b, c; insn, rm) fast fast_s {
        let (x, y, z) = fma_operands_s(insn, a, b, c);
        fma_rne_s(x, y, z)
    } => fma_s(FmaKind::from_insn(insn), a, b, c, rm);
    FMA_D = helper_fma_d(a, b, c; insn, rm) fast fast_d {
        let (x, y, z) = fma_operands_d(insn, a, b, c);
        fma_rne_d(x, y, z)
    } => fma_d(FmaKind::from_insn(insn), a, b, c, rm);
    FCVT_S_D = helper_fcvt_s_d(a; insn, rm) fast fast_s { fd(a) as f32 }
        exact |r| Some(r as f64 == fd(a)) => cvt_s_d(a, rm);
    FCVT_D_S = helper_fcvt_d_s(a; insn, rm) => cvt_d_s(a, rm);
    FCVT_INT_S = helper_fcvt_int_s(a; insn, rm) => to_int_s(a, int_kind(insn), rm);
    FCVT_INT_D = helper_fcvt_int_d(a; insn, rm) => to_int_d(a, int_kind(insn), rm);
    FCVT_S_INT = helper_fcvt_s_int(x; insn, rm) => from_int_s(x, int_kind(insn), rm);
    FCVT_D_INT = helper_fcvt_d_int(x; insn, rm) => from_int_d(x, int_kind(insn), rm);
}

flag_helpers! {
    FMIN_S = helper_fmin_s(a, b) => minmax_s(false, a, b);
    FMAX_S = helper_fmax_s(a, b) => minmax_s(true, a, b);
    FMIN_D = helper_fmin_d(a, b) => minmax_d(false, a, b);
    FMAX_D = helper_fmax_d(a, b) => minmax_d(true, a, b);
    FEQ_S = helper_feq_s(a, b) => cmp_s(Compare::Eq, a, b);
    FLT_S = helper_flt_s(a, b) => cmp_s(Compare::Lt, a, b);
    FLE_S = helper_fle_s(a, b) => cmp_s(Compare::Le, a, b);
    FEQ_D = helper_feq_d(a, b) => cmp_d(Compare::Eq, a, b);
    FLT_D = helper_flt_d(a, b) => cmp_d(Compare::Lt, a, b);
    FLE_D = helper_fle_d(a, b) => cmp_d(Compare::Le, a, b);
}

extern "C" fn helper_fclass_s(_env: *mut u8, a: u64) -> u64 {
    class_s(a)
}
heron_backend::helper!(pub FCLASS_S = helper_fclass_s, 1, Effects::PURE);

extern "C" fn helper_fclass_d(_env: *mut u8, a: u64) -> u64 {
    class_d(a)
}
heron_backend::helper!(pub FCLASS_D = helper_fclass_d, 1, Effects::PURE);

#[cfg(test)]
pub(crate) mod tests;
