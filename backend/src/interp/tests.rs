//! Tests of the reference interpreter, mostly against native Rust arithmetic at each width.

use super::*;
use crate::builder::Builder;
use crate::ir::*;
use crate::mem::{GuestMemory, PERM_R, PERM_W};
use crate::{CPU_HEADER_SIZE, CpuHeader, FaultKind};

#[repr(C)]
#[derive(Debug, Default)]
struct Env {
    hdr: CpuHeader,
    g: [u64; 16],
    /// Counts helper calls.
    calls: u64,
}

impl Env {
    fn set(&mut self, i: usize, v: u128) {
        self.g[i] = v as u64;
        self.g[i + 1] = (v >> 64) as u64;
    }
    fn get(&self, i: usize) -> u128 {
        self.g[i] as u128 | ((self.g[i + 1] as u128) << 64)
    }
}

/// Byte offset of global slot `i` (8 bytes each).
fn goff(i: usize) -> u32 {
    CPU_HEADER_SIZE + 8 * i as u32
}

const A: usize = 0;
const B: usize = 2;
const C: usize = 4;
const R: usize = 6;

fn mem() -> GuestMemory {
    let m = GuestMemory::reserve(1 << 24).unwrap();
    m.map_anon(0x1000, 0x2000, PERM_R | PERM_W).unwrap();
    m.map_anon(0x3000, 0x1000, PERM_R).unwrap();
    m
}

fn exec(block: &Block, env: &mut Env, mem: &GuestMemory) -> ExitStatus {
    let ib = InterpBlock::new(block);
    let mut regs = InterpRegs::default();
    // SAFETY: `env` is a live Env (CpuHeader first) and covers every global the tests use.
    unsafe { ib.run(env as *mut Env as *mut u8, mem, &mut regs) }
}

/// Run `f` over a block that reads A, B, C as `ty`, and stores its result (of type `rty`) to R.
fn eval(
    ty: Ty,
    rty: Ty,
    a: u128,
    b: u128,
    c: u128,
    f: impl FnOnce(&mut Builder, Temp, Temp, Temp) -> Temp,
) -> u128 {
    let m = GuestMemory::reserve(1 << 16).unwrap();
    let mut bl = Builder::new(0x1000);
    bl.insn_start(0x1000);
    let ta = bl.get_global(ty, goff(A));
    let tb = bl.get_global(ty, goff(B));
    let tc = bl.get_global(ty, goff(C));
    let r = f(&mut bl, ta, tb, tc);
    bl.set_global(rty, goff(R), r);
    bl.goto_block(0x1004);
    let mut env = Env::default();
    env.set(A, a);
    env.set(B, b);
    env.set(C, c);
    assert_eq!(exec(&bl.finish(), &mut env, &m), ExitStatus::Next);
    assert_eq!(env.hdr.pc, 0x1004);
    env.get(R)
}

fn bin(op: BinOp, ty: Ty, a: u128, b: u128) -> u128 {
    eval(ty, ty, a, b, 0, |bl, x, y, _| bl.bin(op, x, y))
}

fn un(op: UnOp, ty: Ty, a: u128) -> u128 {
    eval(ty, ty, a, 0, 0, |bl, x, _, _| bl.un(op, x))
}

const VALS: &[u128] = &[
    0,
    1,
    2,
    3,
    5,
    7,
    8,
    15,
    16,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    129,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_ffff,
    0x1234_5678_9abc_def0,
    0xfedc_ba98_7654_3210,
    i128::MAX as u128,
    i128::MIN as u128,
    u128::MAX,
    u128::MAX - 1,
    0xdead_beef_cafe_babe_0123_4567_89ab_cdef,
];

/// The integer binary ops (`BinOp::ALL` lists the float ones last).
const BINOPS: &[BinOp] = BinOp::ALL.split_at(25).0;

/// The integer unary ops (`UnOp::ALL` lists the float ones last).
const UNOPS: &[UnOp] = UnOp::ALL.split_at(7).0;

/// Native reference for one width: $U unsigned, $S signed, $W a signed type twice as wide
/// (for the high-half products; None at 128 bits, checked separately).
macro_rules! reference {
    ($name:ident, $U:ty, $S:ty) => {
        fn $name(op: BinOp, a: u128, b: u128) -> Option<u128> {
            let (x, y) = (a as $U, b as $U);
            let (sx, sy) = (x as $S, y as $S);
            let bits = <$U>::BITS;
            let r: $U = match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                BinOp::Mul => x.wrapping_mul(y),
                BinOp::MulHS if bits < 128 => ((sx as i128).wrapping_mul(sy as i128) >> bits) as $U,
                BinOp::MulHU if bits < 128 => (((x as u128) * (y as u128)) >> bits) as $U,
                BinOp::MulHSU if bits < 128 => ((sx as i128).wrapping_mul(y as i128) >> bits) as $U,
                BinOp::MulHS | BinOp::MulHU | BinOp::MulHSU => return None,
                BinOp::DivS => {
                    if sy == 0 {
                        <$U>::MAX
                    } else {
                        sx.wrapping_div(sy) as $U
                    }
                }
                BinOp::DivU => {
                    if y == 0 {
                        <$U>::MAX
                    } else {
                        x / y
                    }
                }
                BinOp::RemS => {
                    if sy == 0 {
                        x
                    } else {
                        sx.wrapping_rem(sy) as $U
                    }
                }
                BinOp::RemU => {
                    if y == 0 {
                        x
                    } else {
                        x % y
                    }
                }
                BinOp::And => x & y,
                BinOp::Or => x | y,
                BinOp::Xor => x ^ y,
                BinOp::AndNot => x & !y,
                BinOp::OrNot => x | !y,
                BinOp::XorNot => !(x ^ y),
                BinOp::Shl => x.wrapping_shl(y as u32),
                BinOp::ShrU => x.wrapping_shr(y as u32),
                BinOp::ShrS => sx.wrapping_shr(y as u32) as $U,
                BinOp::Rotl => x.rotate_left((y % bits as $U) as u32),
                BinOp::Rotr => x.rotate_right((y % bits as $U) as u32),
                BinOp::MinS => sx.min(sy) as $U,
                BinOp::MaxS => sx.max(sy) as $U,
                BinOp::MinU => x.min(y),
                BinOp::MaxU => x.max(y),
                _ => return None,
            };
            Some(r as u128)
        }
    };
}
reference!(ref8, u8, i8);
reference!(ref16, u16, i16);
reference!(ref32, u32, i32);
reference!(ref64, u64, i64);
reference!(ref128, u128, i128);

macro_rules! unref {
    ($name:ident, $U:ty) => {
        fn $name(op: UnOp, a: u128) -> u128 {
            let x = a as $U;
            (match op {
                UnOp::Not => !x,
                UnOp::Neg => x.wrapping_neg(),
                UnOp::Clz => x.leading_zeros() as $U,
                UnOp::Ctz => x.trailing_zeros() as $U,
                UnOp::Popcnt => x.count_ones() as $U,
                UnOp::Bswap => x.swap_bytes(),
                UnOp::Bitrev => x.reverse_bits(),
                _ => unreachable!(),
            }) as u128
        }
    };
}
unref!(unref8, u8);
unref!(unref16, u16);
unref!(unref32, u32);
unref!(unref64, u64);
unref!(unref128, u128);

type BinRef = fn(BinOp, u128, u128) -> Option<u128>;
type UnRef = fn(UnOp, u128) -> u128;
const WIDTHS: &[(Ty, BinRef, UnRef)] = &[
    (Ty::I8, ref8, unref8),
    (Ty::I16, ref16, unref16),
    (Ty::I32, ref32, unref32),
    (Ty::I64, ref64, unref64),
    (Ty::I128, ref128, unref128),
];

#[test]
fn binops_match_native_at_every_width() {
    for &(ty, reference, _) in WIDTHS {
        for &op in BINOPS {
            for &a in VALS {
                for &b in VALS {
                    let Some(want) = reference(op, a, b) else {
                        continue;
                    };
                    let got = bin(op, ty, a, b);
                    assert_eq!(got, want, "{op:?} {ty} {a:#x} {b:#x}");
                }
            }
        }
    }
}

#[test]
fn binop_edge_cases() {
    // Division corner cases of ir.rs.
    assert_eq!(bin(BinOp::DivU, Ty::I32, 7, 0), 0xffff_ffff);
    assert_eq!(bin(BinOp::RemU, Ty::I32, 7, 0), 7);
    assert_eq!(bin(BinOp::DivS, Ty::I64, 7, 0), u64::MAX as u128);
    assert_eq!(bin(BinOp::RemS, Ty::I16, 0x8123, 0), 0x8123);
    assert_eq!(bin(BinOp::DivS, Ty::I8, 0x80, 0xff), 0x80);
    assert_eq!(bin(BinOp::RemS, Ty::I8, 0x80, 0xff), 0);
    assert_eq!(
        bin(BinOp::DivS, Ty::I64, 1 << 63, u64::MAX as u128),
        1 << 63
    );
    assert_eq!(bin(BinOp::RemS, Ty::I64, 1 << 63, u64::MAX as u128), 0);
    assert_eq!(
        bin(BinOp::DivS, Ty::I128, i128::MIN as u128, u128::MAX),
        i128::MIN as u128
    );
    assert_eq!(
        bin(BinOp::DivS, Ty::I32, (-7i32) as u32 as u128, 2),
        (-3i32) as u32 as u128
    );
    assert_eq!(
        bin(BinOp::RemS, Ty::I32, (-7i32) as u32 as u128, 2),
        (-1i32) as u32 as u128
    );
    // Shifts and rotates modulo the width.
    assert_eq!(bin(BinOp::Shl, Ty::I32, 1, 33), 2);
    assert_eq!(bin(BinOp::Shl, Ty::I8, 0x81, 9), 0x02);
    assert_eq!(bin(BinOp::ShrS, Ty::I16, 0x8000, 15), 0xffff);
    assert_eq!(bin(BinOp::ShrS, Ty::I16, 0x8000, 16), 0x8000);
    assert_eq!(bin(BinOp::ShrU, Ty::I64, 1 << 63, 127), 1);
    assert_eq!(bin(BinOp::Rotl, Ty::I8, 0x81, 1), 0x03);
    assert_eq!(bin(BinOp::Rotr, Ty::I8, 0x81, 9), 0xc0);
    assert_eq!(bin(BinOp::Rotl, Ty::I32, 0x8000_0001, 32), 0x8000_0001);
    assert_eq!(bin(BinOp::Shl, Ty::I128, 1, 127), 1 << 127);
    assert_eq!(bin(BinOp::Shl, Ty::I128, 1, 128), 1);
    // High products with signs.
    assert_eq!(
        bin(BinOp::MulHS, Ty::I64, u64::MAX as u128, u64::MAX as u128),
        0
    );
    assert_eq!(
        bin(BinOp::MulHU, Ty::I64, u64::MAX as u128, u64::MAX as u128),
        (u64::MAX - 1) as u128
    );
    assert_eq!(
        bin(BinOp::MulHSU, Ty::I64, u64::MAX as u128, u64::MAX as u128),
        u64::MAX as u128
    );
    assert_eq!(bin(BinOp::MulHSU, Ty::I64, 2, u64::MAX as u128), 1);
    assert_eq!(
        bin(BinOp::MulHS, Ty::I32, 0x8000_0000, 0x8000_0000),
        0x4000_0000
    );
    assert_eq!(
        bin(BinOp::MulHU, Ty::I128, u128::MAX, u128::MAX),
        u128::MAX - 1
    );
    assert_eq!(bin(BinOp::MulHU, Ty::I128, 1 << 127, 2), 1);
    assert_eq!(bin(BinOp::MulHS, Ty::I128, u128::MAX, u128::MAX), 0);
    assert_eq!(bin(BinOp::MulHS, Ty::I128, u128::MAX, 1), u128::MAX);
    assert_eq!(bin(BinOp::MulHS, Ty::I128, 1 << 127, 1 << 127), 1 << 126);
    assert_eq!(
        bin(BinOp::MulHSU, Ty::I128, u128::MAX, u128::MAX),
        u128::MAX
    );
    assert_eq!(bin(BinOp::MulHSU, Ty::I128, 1 << 127, 2), u128::MAX);
    assert_eq!(bin(BinOp::MulHSU, Ty::I128, 3, u128::MAX), 2);
}

/// Checks the 256-bit high product against a bit-serial shift-and-add.
#[test]
fn mulhu128_matches_shift_and_add() {
    fn slow(a: u128, b: u128) -> u128 {
        let (mut hi, mut lo) = (0u128, 0u128);
        for i in 0..128 {
            if b >> i & 1 == 1 {
                let (add_lo, add_hi) = (a << i, if i == 0 { 0 } else { a >> (128 - i) });
                let (n, c) = lo.overflowing_add(add_lo);
                lo = n;
                hi = hi.wrapping_add(add_hi).wrapping_add(c as u128);
            }
        }
        hi
    }
    for &a in VALS {
        for &b in VALS {
            assert_eq!(arith::mulhu128(a, b), slow(a, b), "{a:#x} {b:#x}");
        }
    }
}

#[test]
fn unops_match_native_at_every_width() {
    for &(ty, _, reference) in WIDTHS {
        for &op in UNOPS {
            for &a in VALS {
                assert_eq!(un(op, ty, a), reference(op, a), "{op:?} {ty} {a:#x}");
            }
        }
    }
    assert_eq!(un(UnOp::Clz, Ty::I16, 0), 16);
    assert_eq!(un(UnOp::Ctz, Ty::I8, 0), 8);
    assert_eq!(un(UnOp::Clz, Ty::I32, 1), 31);
    assert_eq!(un(UnOp::Ctz, Ty::I128, 0), 128);
    assert_eq!(un(UnOp::Bswap, Ty::I32, 0x1122_3344), 0x4433_2211);
    assert_eq!(un(UnOp::Bswap, Ty::I8, 0xab), 0xab);
    assert_eq!(un(UnOp::Bitrev, Ty::I8, 0x01), 0x80);
    assert_eq!(un(UnOp::Neg, Ty::I16, 1), 0xffff);
}

#[test]
fn results_stay_truncated_to_their_type() {
    // An I8 add that overflows, then zero-extended to I64, must show no carry.
    let r = eval(Ty::I8, Ty::I64, 0xff, 0x02, 0, |bl, a, b, _| {
        let s = bl.bin(BinOp::Add, a, b);
        bl.zext(s, Ty::I64)
    });
    assert_eq!(r, 1);
    let r = eval(Ty::I32, Ty::I64, 0x8000_0000, 0, 0, |bl, a, _, _| {
        let s = bl.bin_imm(BinOp::Shl, a, 1);
        bl.zext(s, Ty::I64)
    });
    assert_eq!(r, 0);
}

#[test]
fn float_ops() {
    let f32b = |x: f32| x.to_bits() as u128;
    let f64b = |x: f64| x.to_bits() as u128;
    let vals32 = [
        0.0f32,
        -0.0,
        1.5,
        -2.25,
        3.0e38,
        f32::INFINITY,
        f32::NAN,
        1e-45,
    ];
    let vals64 = [
        0.0f64,
        -0.0,
        1.5,
        -2.25,
        1.7e308,
        f64::NEG_INFINITY,
        f64::NAN,
        5e-324,
    ];
    type F = fn(f64, f64) -> f64;
    let ops: [(BinOp, F); 4] = [
        (BinOp::FAdd, |a, b| a + b),
        (BinOp::FSub, |a, b| a - b),
        (BinOp::FMul, |a, b| a * b),
        (BinOp::FDiv, |a, b| a / b),
    ];
    for (op, f) in ops {
        for &a in &vals32 {
            for &b in &vals32 {
                let want = f(a as f64, b as f64) as f32;
                let got = f32::from_bits(bin(op, Ty::F32, f32b(a), f32b(b)) as u32);
                assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()));
            }
        }
        for &a in &vals64 {
            for &b in &vals64 {
                let want = f(a, b);
                let got = f64::from_bits(bin(op, Ty::F64, f64b(a), f64b(b)) as u64);
                assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()));
            }
        }
    }
    assert_eq!(un(UnOp::FNeg, Ty::F32, f32b(1.0)), f32b(-1.0));
    assert_eq!(un(UnOp::FAbs, Ty::F64, f64b(-0.0)), 0);
    assert_eq!(un(UnOp::FSqrt, Ty::F64, f64b(2.0)), f64b(2f64.sqrt()));
    assert_eq!(un(UnOp::FSqrt, Ty::F32, f32b(9.0)), f32b(3.0));
    // FNeg of a NaN only flips the sign bit.
    assert_eq!(un(UnOp::FNeg, Ty::F32, 0x7fc0_0001), 0xffc0_0001);
    // Fused multiply-add rounds once.
    let (a, b, c) = (0.1f64, 10.0f64, -1.0f64);
    let r = eval(
        Ty::F64,
        Ty::F64,
        f64b(a),
        f64b(b),
        f64b(c),
        |bl, a, b, c| bl.fma(a, b, c),
    );
    assert_eq!(r, f64b(a.mul_add(b, c)));
    assert_ne!(r, f64b(a * b + c));
    let r = eval(
        Ty::F32,
        Ty::F32,
        f32b(1.5),
        f32b(2.0),
        f32b(0.25),
        |bl, a, b, c| bl.fma(a, b, c),
    );
    assert_eq!(r, f32b(3.25));
}

#[test]
fn fcmp_is_quiet_and_unordered_aware() {
    let f64b = |x: f64| x.to_bits() as u128;
    let cases = [
        (FCond::Eq, 1.0, 1.0, 1),
        (FCond::Eq, 0.0, -0.0, 1),
        (FCond::Eq, f64::NAN, f64::NAN, 0),
        (FCond::Lt, 1.0, 2.0, 1),
        (FCond::Lt, 2.0, 2.0, 0),
        (FCond::Lt, f64::NAN, 2.0, 0),
        (FCond::Le, 2.0, 2.0, 1),
        (FCond::Le, 2.0, f64::NAN, 0),
        (FCond::Unordered, 2.0, f64::NAN, 1),
        (FCond::Unordered, 2.0, 3.0, 0),
    ];
    for (c, a, b, want) in cases {
        let r = eval(Ty::F64, Ty::I64, f64b(a), f64b(b), 0, |bl, x, y, _| {
            bl.fcmp(c, x, y)
        });
        assert_eq!(r, want, "{c:?} {a} {b}");
        let r = eval(
            Ty::F32,
            Ty::I64,
            (a as f32).to_bits() as u128,
            (b as f32).to_bits() as u128,
            0,
            |bl, x, y, _| bl.fcmp(c, x, y),
        );
        assert_eq!(r, want, "f32 {c:?} {a} {b}");
    }
}

fn conv(op: ConvOp, from: Ty, to: Ty, v: u128) -> u128 {
    eval(from, to, v, 0, 0, |bl, x, _, _| bl.conv(op, x, to))
}

#[test]
fn conversions() {
    let f32b = |x: f32| x.to_bits() as u128;
    let f64b = |x: f64| x.to_bits() as u128;
    assert_eq!(
        conv(ConvOp::SToF, Ty::I32, Ty::F64, 0xffff_ffff),
        f64b(-1.0)
    );
    assert_eq!(
        conv(ConvOp::UToF, Ty::I32, Ty::F64, 0xffff_ffff),
        f64b(4294967295.0)
    );
    assert_eq!(
        conv(ConvOp::SToF, Ty::I64, Ty::F32, u64::MAX as u128),
        f32b(-1.0)
    );
    assert_eq!(
        conv(ConvOp::UToF, Ty::I64, Ty::F32, u64::MAX as u128),
        f32b(u64::MAX as f32)
    );
    // Rounding to nearest even: 2^24 + 1 is not representable in f32.
    assert_eq!(
        conv(ConvOp::SToF, Ty::I64, Ty::F32, (1 << 24) + 1),
        f32b(16777216.0)
    );
    assert_eq!(conv(ConvOp::SToF, Ty::I8, Ty::F32, 0x80), f32b(-128.0));
    assert_eq!(conv(ConvOp::SToF, Ty::I128, Ty::F64, u128::MAX), f64b(-1.0));
    // Float to int saturates toward zero; NaN gives 0.
    assert_eq!(
        conv(ConvOp::FToS, Ty::F64, Ty::I32, f64b(-2.9)),
        (-2i32) as u32 as u128
    );
    assert_eq!(
        conv(ConvOp::FToS, Ty::F64, Ty::I32, f64b(1e20)),
        i32::MAX as u128
    );
    assert_eq!(
        conv(ConvOp::FToS, Ty::F64, Ty::I32, f64b(-1e20)),
        i32::MIN as u32 as u128
    );
    assert_eq!(conv(ConvOp::FToS, Ty::F32, Ty::I64, f32b(f32::NAN)), 0);
    assert_eq!(conv(ConvOp::FToU, Ty::F32, Ty::I64, f32b(-5.0)), 0);
    assert_eq!(
        conv(ConvOp::FToU, Ty::F64, Ty::I32, f64b(1e20)),
        u32::MAX as u128
    );
    assert_eq!(
        conv(ConvOp::FToU, Ty::F64, Ty::I64, f64b(f64::INFINITY)),
        u64::MAX as u128
    );
    assert_eq!(conv(ConvOp::FToS, Ty::F64, Ty::I8, f64b(300.0)), 0x7f);
    assert_eq!(
        conv(ConvOp::FToS, Ty::F64, Ty::I16, f64b(-300.5)),
        (-300i16) as u16 as u128
    );
    assert_eq!(
        conv(ConvOp::FToU, Ty::F64, Ty::I128, f64b(1e30)),
        1e30f64 as u128
    );
    assert_eq!(conv(ConvOp::FToF, Ty::F32, Ty::F64, f32b(1.25)), f64b(1.25));
    assert_eq!(
        conv(ConvOp::FToF, Ty::F64, Ty::F32, f64b(1e300)),
        f32b(f32::INFINITY)
    );
    assert_eq!(conv(ConvOp::FToF, Ty::F64, Ty::F32, f64b(0.1)), f32b(0.1));
    assert_eq!(conv(ConvOp::Bitcast, Ty::F64, Ty::I64, f64b(-0.0)), 1 << 63);
    assert_eq!(
        conv(ConvOp::Bitcast, Ty::I32, Ty::F32, 0x3f80_0000),
        f32b(1.0)
    );
    assert_eq!(
        conv(ConvOp::Bitcast, Ty::I128, Ty::V128, u128::MAX - 5),
        u128::MAX - 5
    );
}

#[test]
fn ext_extract_deposit() {
    let ext = |from: Ty, to: Ty, signed: bool, v: u128| {
        eval(from, to, v, 0, 0, |bl, x, _, _| bl.ext(x, to, signed))
    };
    assert_eq!(ext(Ty::I8, Ty::I64, true, 0x80), 0xffff_ffff_ffff_ff80);
    assert_eq!(ext(Ty::I8, Ty::I64, false, 0x80), 0x80);
    assert_eq!(ext(Ty::I16, Ty::I32, true, 0x8001), 0xffff_8001);
    assert_eq!(ext(Ty::I64, Ty::I32, true, 0x1_8000_0000), 0x8000_0000);
    assert_eq!(ext(Ty::I64, Ty::I8, false, 0x1234), 0x34);
    assert_eq!(ext(Ty::I64, Ty::I128, true, 1 << 63), (u128::MAX << 63));
    assert_eq!(ext(Ty::I64, Ty::I128, false, 1 << 63), 1 << 63);
    assert_eq!(ext(Ty::I32, Ty::I128, true, 0x8000_0000), u128::MAX << 31);
    assert_eq!(ext(Ty::I128, Ty::I64, false, u128::MAX), u64::MAX as u128);
    assert_eq!(ext(Ty::I128, Ty::I16, true, 0x1_2345), 0x2345);

    let extract = |ty: Ty, v: u128, pos: u8, len: u8, signed: bool| {
        eval(ty, ty, v, 0, 0, |bl, x, _, _| {
            bl.extract(x, pos, len, signed)
        })
    };
    assert_eq!(extract(Ty::I32, 0xabcd_1234, 8, 8, false), 0x12);
    assert_eq!(extract(Ty::I32, 0xabcd_1234, 28, 4, true), 0xffff_fffa);
    assert_eq!(
        extract(Ty::I64, u64::MAX as u128, 0, 64, false),
        u64::MAX as u128
    );
    assert_eq!(extract(Ty::I64, 1 << 63, 63, 1, true), u64::MAX as u128);
    assert_eq!(extract(Ty::I8, 0x80, 7, 1, false), 1);
    assert_eq!(extract(Ty::I128, 1 << 100, 100, 1, true), u128::MAX);
    assert_eq!(extract(Ty::I128, 0xf << 64, 62, 4, false), 0xc);

    let deposit = |ty: Ty, base: u128, val: u128, pos: u8, len: u8| {
        eval(ty, ty, base, val, 0, |bl, x, y, _| {
            bl.deposit(x, y, pos, len)
        })
    };
    assert_eq!(deposit(Ty::I32, 0xffff_ffff, 0, 8, 8), 0xffff_00ff);
    assert_eq!(deposit(Ty::I32, 0, 0x1ff, 28, 4), 0xf000_0000);
    assert_eq!(
        deposit(Ty::I64, 0x1234, u64::MAX as u128, 0, 64),
        u64::MAX as u128
    );
    assert_eq!(deposit(Ty::I64, 0, 1, 63, 1), 1 << 63);
    assert_eq!(deposit(Ty::I16, 0xaaaa, 0x5, 4, 3), 0xaada);
    assert_eq!(deposit(Ty::I128, 0, u128::MAX, 64, 64), u128::MAX << 64);
}

const CONDS: &[Cond] = &Cond::ALL;

macro_rules! condref {
    ($name:ident, $U:ty, $S:ty) => {
        fn $name(c: Cond, a: u128, b: u128) -> bool {
            let (x, y) = (a as $U, b as $U);
            let (sx, sy) = (x as $S, y as $S);
            match c {
                Cond::Eq => x == y,
                Cond::Ne => x != y,
                Cond::LtS => sx < sy,
                Cond::LeS => sx <= sy,
                Cond::GtS => sx > sy,
                Cond::GeS => sx >= sy,
                Cond::LtU => x < y,
                Cond::LeU => x <= y,
                Cond::GtU => x > y,
                Cond::GeU => x >= y,
            }
        }
    };
}
condref!(cond8, u8, i8);
condref!(cond16, u16, i16);
condref!(cond32, u32, i32);
condref!(cond64, u64, i64);
condref!(cond128, u128, i128);

#[test]
fn setcond_every_cond_and_width() {
    type CondRef = fn(Cond, u128, u128) -> bool;
    let widths: [(Ty, CondRef); 5] = [
        (Ty::I8, cond8),
        (Ty::I16, cond16),
        (Ty::I32, cond32),
        (Ty::I64, cond64),
        (Ty::I128, cond128),
    ];
    let vals = [
        0u128,
        1,
        0x7f,
        0x80,
        0xff,
        0x8000,
        0xffff_ffff,
        1 << 63,
        u64::MAX as u128,
        u128::MAX,
        1 << 127,
    ];
    for (ty, reference) in widths {
        for &c in CONDS {
            for &a in &vals {
                for &b in &vals {
                    let r = eval(ty, Ty::I64, a, b, 0, |bl, x, y, _| bl.setcond(c, x, y));
                    assert_eq!(r, reference(c, a, b) as u128, "{c:?} {ty} {a:#x} {b:#x}");
                }
            }
        }
    }
}

#[test]
fn select() {
    for ty in [Ty::I32, Ty::I64, Ty::I128, Ty::F64] {
        for (cond, want) in [(0u128, 22u128), (1, 11), (1 << 40, 11)] {
            let r = eval(ty, ty, 11, 22, cond, |bl, a, b, c| {
                let c64 = if ty == Ty::I64 {
                    c
                } else {
                    bl.const64(cond as u64)
                };
                bl.select(c64, a, b)
            });
            assert_eq!(r, want, "{ty} {cond}");
        }
    }
}

#[test]
fn branches_and_a_loop() {
    // sum = 0; i = 10; do { sum += i; i -= 1 } while i != 0
    let m = mem();
    let mut b = Builder::new(0x2000);
    b.insn_start(0x2000);
    let sum = b.const64(0);
    let i = b.get_global(Ty::I64, goff(A));
    let top = b.new_label();
    let skip = b.new_label();
    b.label(top);
    let s2 = b.bin(BinOp::Add, sum, i);
    b.mov(sum, s2);
    let i2 = b.bin_imm(BinOp::Sub, i, 1);
    b.mov(i, i2);
    let zero = b.const64(0);
    let again = b.setcond(Cond::Ne, i, zero);
    b.br_cond(again, top);
    b.set_global(Ty::I64, goff(R), sum);
    b.br(skip);
    // Unreachable: would overwrite R.
    b.set_global(Ty::I64, goff(R), zero);
    b.label(skip);
    b.goto_block(0x2040);
    let block = b.finish();
    let mut env = Env::default();
    env.g[A] = 10;
    assert_eq!(exec(&block, &mut env, &m), ExitStatus::Next);
    assert_eq!(env.g[R], 55);
    assert_eq!(env.hdr.pc, 0x2040);
}

#[test]
fn temporaries_start_at_zero_and_regs_are_reusable() {
    // t is assigned only on a branch not taken; it must read 0, even when the scratch
    // registers were dirtied by a previous block.
    let m = mem();
    let mut b = Builder::new(0x2000);
    let t = b.temp(Ty::I64);
    let cond = b.get_global(Ty::I64, goff(A));
    let l = b.new_label();
    b.br_cond(cond, l);
    let k = b.const64(99);
    b.mov(t, k);
    b.label(l);
    b.set_global(Ty::I64, goff(R), t);
    b.goto_block(0);
    let block = InterpBlock::new(&b.finish());

    let mut dirty = Builder::new(0);
    for _ in 0..8 {
        dirty.const64(0xdead);
    }
    dirty.goto_block(0);
    let dirty = InterpBlock::new(&dirty.finish());

    let mut regs = InterpRegs::default();
    let mut env = Env::default();
    let envp = &mut env as *mut Env as *mut u8;
    for cond in [1, 0, 1] {
        // SAFETY: `env` is a live Env.
        unsafe {
            dirty.run(envp, &m, &mut regs);
            (*(envp as *mut Env)).g[A] = cond;
            block.run(envp, &m, &mut regs);
            assert_eq!((*(envp as *mut Env)).g[R], if cond == 1 { 0 } else { 99 });
        }
    }
}

#[test]
fn globals_of_every_width_unaligned() {
    let m = mem();
    let mut b = Builder::new(0);
    let base = goff(8) + 1; // deliberately unaligned
    let x8 = b.get_global(Ty::I8, base);
    let x16 = b.get_global(Ty::I16, base + 1);
    let x32 = b.get_global(Ty::I32, base + 3);
    let x64 = b.get_global(Ty::I64, base + 7);
    let one8 = b.const_(Ty::I8, 1);
    let y8 = b.bin(BinOp::Add, x8, one8);
    b.set_global(Ty::I8, base, y8);
    let y16 = b.un(UnOp::Not, x16);
    b.set_global(Ty::I16, base + 1, y16);
    let y32 = b.un(UnOp::Bswap, x32);
    b.set_global(Ty::I32, base + 3, y32);
    let y64 = b.un(UnOp::Neg, x64);
    b.set_global(Ty::I64, base + 7, y64);
    let f = b.get_global(Ty::F32, goff(A));
    b.set_global(Ty::F32, goff(B), f);
    let w = b.get_global(Ty::I128, goff(C) + 3);
    b.set_global(Ty::I128, goff(R) + 1, w);
    b.goto_block(0);
    let mut env = Env::default();
    let mut bytes = [0u8; 15];
    bytes[0] = 0xff;
    bytes[1..3].copy_from_slice(&0x1234u16.to_le_bytes());
    bytes[3..7].copy_from_slice(&0x1122_3344u32.to_le_bytes());
    bytes[7..15].copy_from_slice(&5u64.to_le_bytes());
    let gp = env.g.as_mut_ptr() as *mut u8;
    // SAFETY: bytes 65..80 of the 128-byte `g` array.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), gp.add(65), 15) };
    env.g[A] = 0xffff_ffff_3f80_0000;
    env.set(C, 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10 << 24);
    assert_eq!(exec(&b.finish(), &mut env, &m), ExitStatus::Next);
    let mut out = [0u8; 15];
    // SAFETY: as above.
    unsafe { std::ptr::copy_nonoverlapping(gp.add(65), out.as_mut_ptr(), 15) };
    assert_eq!(out[0], 0);
    assert_eq!(u16::from_le_bytes([out[1], out[2]]), !0x1234);
    assert_eq!(
        u32::from_le_bytes(out[3..7].try_into().unwrap()),
        0x4433_2211
    );
    assert_eq!(
        u64::from_le_bytes(out[7..15].try_into().unwrap()),
        5u64.wrapping_neg()
    );
    assert_eq!(
        env.g[B], 0x3f80_0000,
        "an F32 global write touches 4 bytes only"
    );
    // The I128 read at C+3 sees the low 104 bits of the 120-bit pattern.
    assert_eq!(
        env.get(R) >> 8,
        0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10 & ((1 << 104) - 1)
    );
}

fn load_block(ty: Ty, mem_op: MemOp, addr: u64) -> Block {
    let mut b = Builder::new(0x4000);
    b.insn_start(0x4000);
    b.insn_start(0x4004);
    let a = b.const64(addr);
    let v = b.load(ty, a, mem_op);
    b.set_global(ty, goff(R), v);
    b.goto_block(0x4008);
    b.finish()
}

#[test]
fn loads_extend_and_swap() {
    let m = mem();
    m.write_bytes(
        0x1100,
        &[
            0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 9, 10, 11, 12, 13, 14, 15, 16,
        ],
    )
    .unwrap();
    let le = |size, signed| MemOp::le(size, signed);
    let be = |size, signed| MemOp {
        big_endian: true,
        ..MemOp::le(size, signed)
    };
    let cases: &[(Ty, MemOp, u64, u128)] = &[
        (Ty::I64, le(1, false), 0x1100, 0x81),
        (Ty::I64, le(1, true), 0x1100, 0xffff_ffff_ffff_ff81),
        (Ty::I32, le(1, true), 0x1100, 0xffff_ff81),
        (Ty::I64, le(2, false), 0x1101, 0x8382),
        (Ty::I64, le(2, true), 0x1101, 0xffff_ffff_ffff_8382),
        (Ty::I64, le(4, true), 0x1100, 0xffff_ffff_8483_8281),
        (Ty::I64, le(4, false), 0x1100, 0x8483_8281),
        (Ty::I64, le(8, false), 0x1100, 0x8887_8685_8483_8281),
        (Ty::I32, le(4, false), 0x1103, 0x8786_8584),
        (Ty::I64, be(2, false), 0x1100, 0x8182),
        (Ty::I64, be(2, true), 0x1100, 0xffff_ffff_ffff_8182),
        (Ty::I64, be(4, false), 0x1100, 0x8182_8384),
        (Ty::I64, be(8, false), 0x1100, 0x8182_8384_8586_8788),
        (Ty::I64, be(1, true), 0x1101, 0xffff_ffff_ffff_ff82),
        (
            Ty::I128,
            le(16, false),
            0x1100,
            0x100f_0e0d_0c0b_0a09_8887_8685_8483_8281,
        ),
        (
            Ty::I128,
            be(16, false),
            0x1100,
            0x8182_8384_8586_8788_090a_0b0c_0d0e_0f10,
        ),
        (
            Ty::I128,
            le(8, true),
            0x1100,
            0xffff_ffff_ffff_ffff_8887_8685_8483_8281,
        ),
        (Ty::F32, le(4, false), 0x1100, 0x8483_8281),
    ];
    for &(ty, mop, addr, want) in cases {
        let mut env = Env::default();
        assert_eq!(
            exec(&load_block(ty, mop, addr), &mut env, &m),
            ExitStatus::Next
        );
        assert_eq!(env.get(R), want, "{ty} {mop:?} {addr:#x}");
    }
}

fn store_block(ty: Ty, mem_op: MemOp, addr: u64) -> Block {
    let mut b = Builder::new(0x4000);
    b.insn_start(0x4000);
    let v = b.get_global(ty, goff(A));
    b.insn_start(0x4004);
    let a = b.const64(addr);
    b.store(v, a, mem_op);
    b.set_global(Ty::I64, goff(R), a);
    b.goto_block(0x4008);
    b.finish()
}

#[test]
fn stores_of_every_size_and_order() {
    let m = mem();
    let val: u128 = 0x1112_1314_1516_1718_2122_2324_2526_2728;
    let cases: &[(Ty, u8, bool, &[u8])] = &[
        (Ty::I8, 1, false, &[0x28]),
        (Ty::I64, 1, true, &[0x28]),
        (Ty::I16, 2, false, &[0x28, 0x27]),
        (Ty::I64, 2, true, &[0x27, 0x28]),
        (Ty::I32, 4, false, &[0x28, 0x27, 0x26, 0x25]),
        (Ty::I32, 4, true, &[0x25, 0x26, 0x27, 0x28]),
        (
            Ty::I64,
            8,
            true,
            &[0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28],
        ),
        (
            Ty::I128,
            16,
            false,
            &[
                0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13,
                0x12, 0x11,
            ],
        ),
        (
            Ty::V128,
            16,
            true,
            &[
                0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
                0x27, 0x28,
            ],
        ),
    ];
    for &(ty, size, big_endian, want) in cases {
        m.write_bytes(0x1ff0, &[0xee; 32]).unwrap();
        let mop = MemOp {
            big_endian,
            ..MemOp::le(size, false)
        };
        let mut env = Env::default();
        env.set(A, val);
        // Crosses a page boundary at 0x2000 for the larger sizes.
        assert_eq!(
            exec(&store_block(ty, mop, 0x1ffd), &mut env, &m),
            ExitStatus::Next
        );
        let mut got = [0u8; 20];
        m.read_bytes(0x1ffc, &mut got).unwrap();
        assert_eq!(got[0], 0xee);
        assert_eq!(&got[1..1 + want.len()], want, "{ty} {size} {big_endian}");
        assert_eq!(got[1 + want.len()], 0xee);
    }
}

fn assert_fault(block: &Block, m: &GuestMemory, pc: u64, addr: u64, kind: FaultKind) -> Env {
    let mut env = Env::default();
    env.g[R] = 0x5555;
    assert_eq!(exec(block, &mut env, m), ExitStatus::Fault);
    assert_eq!(env.hdr.pc, pc);
    assert_eq!(env.hdr.fault_addr, addr);
    assert_eq!(env.hdr.fault_kind, kind as u32);
    assert_eq!(env.g[R], 0x5555, "no op after the fault takes effect");
    env
}

#[test]
fn memory_faults_are_precise() {
    let m = mem();
    // Unmapped.
    assert_fault(
        &load_block(Ty::I64, MemOp::le(8, false), 0x8000),
        &m,
        0x4004,
        0x8000,
        FaultKind::Read,
    );
    // Straddling into an unmapped page: the fault address is the first bad byte.
    assert_fault(
        &load_block(Ty::I64, MemOp::le(8, false), 0x3ffc),
        &m,
        0x4004,
        0x4000,
        FaultKind::Read,
    );
    // Beyond the reservation, and wrapping around the address space.
    assert_fault(
        &load_block(Ty::I32, MemOp::le(4, false), u64::MAX - 1),
        &m,
        0x4004,
        u64::MAX - 1,
        FaultKind::Read,
    );
    // Read-only.
    assert_fault(
        &store_block(Ty::I32, MemOp::le(4, false), 0x3000),
        &m,
        0x4004,
        0x3000,
        FaultKind::Write,
    );
    // Misaligned where alignment is demanded; allowed otherwise.
    let al = MemOp::le(4, false).with_aligned();
    assert_fault(
        &load_block(Ty::I32, al, 0x1002),
        &m,
        0x4004,
        0x1002,
        FaultKind::Misaligned,
    );
    assert_fault(
        &store_block(Ty::I32, al, 0x1006),
        &m,
        0x4004,
        0x1006,
        FaultKind::Misaligned,
    );
    let mut env = Env::default();
    assert_eq!(
        exec(&load_block(Ty::I32, al, 0x1004), &mut env, &m),
        ExitStatus::Next
    );
    assert_eq!(
        exec(
            &load_block(Ty::I32, MemOp::le(4, false), 0x1002),
            &mut env,
            &m
        ),
        ExitStatus::Next
    );
    // Alignment is checked before permissions.
    assert_fault(
        &load_block(Ty::I32, al, 0x8001),
        &m,
        0x4004,
        0x8001,
        FaultKind::Misaligned,
    );
    // A fault before any InsnStart reports the block's PC; earlier stores stay done.
    let mut b = Builder::new(0x7000);
    let a = b.const64(0x1010);
    let v = b.const64(77);
    b.store(v, a, MemOp::le(8, false));
    let bad = b.const64(0x3000);
    b.store(v, bad, MemOp::le(8, false));
    b.set_global(Ty::I64, goff(R), v);
    b.goto_block(0);
    assert_fault(&b.finish(), &m, 0x7000, 0x3000, FaultKind::Write);
    assert_eq!(m.load(0x1010, 8).unwrap(), 77);
}

fn rmw(op: RmwOp, ty: Ty, mop: MemOp, addr: u64, old: u64, val: u128) -> (ExitStatus, u128, u64) {
    let m = mem();
    m.store(addr & !7, 8, old).unwrap_or(());
    let mut b = Builder::new(0x5000);
    b.insn_start(0x5000);
    let a = b.const64(addr);
    let v = b.get_global(ty, goff(A));
    let r = b.atomic_rmw(op, a, v, mop);
    b.set_global(ty, goff(R), r);
    b.goto_block(0x5004);
    let mut env = Env::default();
    env.set(A, val);
    let st = exec(&b.finish(), &mut env, &m);
    (st, env.get(R), m.load(addr & !7, 8).unwrap_or(0))
}

#[test]
fn atomics() {
    let le = |s, signed| MemOp::le(s, signed);
    let cases: &[(RmwOp, Ty, u8, u64, u128, u128, u64)] = &[
        // op, ty, size, old memory, operand, wanted dst, wanted memory
        (RmwOp::Add, Ty::I64, 8, 40, 2, 40, 42),
        (RmwOp::Xchg, Ty::I64, 8, 40, 2, 40, 2),
        (RmwOp::Add, Ty::I32, 4, 0xffff_ffff, 1, 0xffff_ffff, 0),
        (
            RmwOp::And,
            Ty::I64,
            4,
            0x1_0000_00ff,
            0x0f,
            0xff,
            0x1_0000_000f,
        ),
        (RmwOp::Or, Ty::I64, 2, 0x10, 0x01, 0x10, 0x11),
        (RmwOp::Xor, Ty::I64, 1, 0xff, 0x0f, 0xff, 0xf0),
        (RmwOp::MinS, Ty::I64, 4, 5, 0xffff_ffff, 5, 0xffff_ffff),
        (RmwOp::MinU, Ty::I64, 4, 5, 0xffff_ffff, 5, 5),
        (RmwOp::MaxS, Ty::I64, 4, 5, 0xffff_ffff, 5, 5),
        (RmwOp::MaxU, Ty::I64, 4, 5, 0xffff_ffff, 5, 0xffff_ffff),
        (RmwOp::MaxS, Ty::I64, 1, 0x80, 0x7f, 0x80, 0x7f),
    ];
    for &(op, ty, size, old, val, want, want_mem) in cases {
        let (st, r, memv) = rmw(op, ty, le(size, false), 0x1008, old, val);
        assert_eq!(st, ExitStatus::Next);
        assert_eq!((r, memv), (want, want_mem), "{op:?} {ty} {size}");
    }
    // Signed extension of the old value.
    let (_, r, _) = rmw(RmwOp::Add, Ty::I64, le(4, true), 0x1008, 0x8000_0000, 1);
    assert_eq!(r, 0xffff_ffff_8000_0000);
    // Big-endian add carries across bytes in guest order.
    let be = MemOp {
        big_endian: true,
        ..le(2, false)
    };
    let (_, r, memv) = rmw(RmwOp::Add, Ty::I64, be, 0x1008, 0xff00, 1);
    assert_eq!(r, 0x00ff);
    assert_eq!(memv, 0x0001);
    // 16-byte atomics.
    let (st, r, memv) = rmw(RmwOp::Add, Ty::I128, le(16, false), 0x1000, 7, u128::MAX);
    assert_eq!(st, ExitStatus::Next);
    assert_eq!((r, memv), (7, 6));
    // Faults: misaligned (even without the `aligned` flag), read-only, unmapped.
    let (st, ..) = rmw(RmwOp::Add, Ty::I64, le(8, false), 0x1004, 0, 1);
    assert_eq!(st, ExitStatus::Fault);
    for (addr, kind) in [
        (0x1004u64, FaultKind::Misaligned),
        (0x3000, FaultKind::Write),
        (0x9000, FaultKind::Write),
    ] {
        let mut b = Builder::new(0x5000);
        b.insn_start(0x5000);
        b.insn_start(0x5004);
        let a = b.const64(addr);
        let v = b.const64(1);
        let r = b.atomic_rmw(RmwOp::Add, a, v, le(8, false));
        b.set_global(Ty::I64, goff(R), r);
        b.goto_block(0);
        assert_fault(&b.finish(), &mem(), 0x5004, addr, kind);
    }
}

#[test]
fn cmpxchg() {
    let m = mem();
    let run = |ty: Ty, mop: MemOp, expected: u128, new: u128| -> (u128, u128) {
        let mut b = Builder::new(0x5000);
        let a = b.const64(0x1010);
        let e = b.get_global(ty, goff(A));
        let n = b.get_global(ty, goff(B));
        let r = b.cmpxchg(a, e, n, mop);
        b.set_global(ty, goff(R), r);
        b.goto_block(0);
        let mut env = Env::default();
        env.set(A, expected);
        env.set(B, new);
        assert_eq!(exec(&b.finish(), &mut env, &m), ExitStatus::Next);
        let mut buf = [0u8; 16];
        m.read_bytes(0x1010, &mut buf).unwrap();
        (env.get(R), u128::from_le_bytes(buf))
    };
    m.store(0x1010, 8, 5).unwrap();
    assert_eq!(run(Ty::I64, MemOp::le(8, false), 4, 9), (5, 5));
    assert_eq!(run(Ty::I64, MemOp::le(8, false), 5, 9), (5, 9));
    // Compared over the access size only; old value sign-extended.
    m.store(0x1010, 8, 0x8000_0000).unwrap();
    assert_eq!(
        run(Ty::I64, MemOp::le(4, true), 0x1_8000_0000, 1),
        (0xffff_ffff_8000_0000, 1)
    );
    let be4 = MemOp {
        big_endian: true,
        ..MemOp::le(4, false)
    };
    m.store(0x1010, 8, 0x0100_0000).unwrap();
    assert_eq!(run(Ty::I32, be4, 1, 2), (1, 0x0200_0000));
    m.write_bytes(0x1010, &[0; 16]).unwrap();
    assert_eq!(
        run(Ty::I128, MemOp::le(16, false), 0, u128::MAX),
        (0, u128::MAX)
    );
}

#[test]
fn atomics_are_atomic_across_threads() {
    let m = std::sync::Arc::new(mem());
    let mut b = Builder::new(0x5000);
    let a = b.const64(0x1040);
    let one = b.const_(Ty::I32, 1);
    b.atomic_rmw(RmwOp::Add, a, one, MemOp::le(4, false));
    b.goto_block(0);
    let block = std::sync::Arc::new(InterpBlock::new(&b.finish()));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (m, block) = (m.clone(), block.clone());
            std::thread::spawn(move || {
                let mut env = Env::default();
                let mut regs = InterpRegs::default();
                for _ in 0..20000 {
                    // SAFETY: `env` is a live Env.
                    unsafe { block.run(&mut env as *mut Env as *mut u8, &m, &mut regs) };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(m.load(0x1040, 4).unwrap(), 80000);
}

/// A 16-byte cmpxchg is atomic against 8-byte atomics on half of it: two threads bump the
/// high half with 128-bit compare-and-swap loops while two add to the low half with 64-bit
/// atomic adds; a lock-based 16-byte cmpxchg (read, compare, write) loses some of the adds.
#[test]
fn cmpxchg16_is_atomic_against_narrow_atomics() {
    let m = std::sync::Arc::new(mem());
    m.write_bytes(0x1080, &[0; 16]).unwrap();
    let mut b = Builder::new(0x5000);
    let a = b.const64(0x1080);
    let e = b.get_global(Ty::I128, goff(A));
    let n = b.get_global(Ty::I128, goff(B));
    let r = b.cmpxchg(a, e, n, MemOp::le(16, false).with_aligned());
    b.set_global(Ty::I128, goff(R), r);
    b.goto_block(0);
    let blk = b.finish();
    crate::verify::verify(&blk).unwrap();
    let cas = std::sync::Arc::new(InterpBlock::new(&blk));
    let mut b = Builder::new(0x6000);
    let a = b.const64(0x1080);
    let one = b.const64(1);
    b.atomic_rmw(RmwOp::Add, a, one, MemOp::le(8, false));
    b.goto_block(0);
    let add = std::sync::Arc::new(InterpBlock::new(&b.finish()));
    const N: u128 = 1_000_000;
    let start = std::sync::Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (m, cas, add) = (m.clone(), cas.clone(), add.clone());
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let mut env = Env::default();
                let mut regs = InterpRegs::default();
                let envp = &mut env as *mut Env;
                for _ in 0..N {
                    if i % 2 == 0 {
                        // SAFETY: `env` is a live Env.
                        unsafe { add.run(envp as *mut u8, &m, &mut regs) };
                        continue;
                    }
                    let mut cur = 0u128;
                    loop {
                        // SAFETY: `envp` points to the live `env`; no reference to it is held.
                        unsafe {
                            (*envp).set(A, cur);
                            (*envp).set(B, cur + (1 << 64));
                            cas.run(envp as *mut u8, &m, &mut regs);
                            let old = (*envp).get(R);
                            if old == cur {
                                break;
                            }
                            cur = old;
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut buf = [0u8; 16];
    m.read_bytes(0x1080, &mut buf).unwrap();
    let v = u128::from_le_bytes(buf);
    assert_eq!((v as u64, (v >> 64) as u64), (2 * N as u64, 2 * N as u64));
}

#[test]
fn cmpxchg16_faults_when_misaligned() {
    let m = mem();
    let mut b = Builder::new(0x5000);
    b.insn_start(0x5000);
    let a = b.const64(0x1088);
    let z = b.const_(Ty::I128, 0);
    b.cmpxchg(a, z, z, MemOp::le(16, false).with_aligned());
    b.goto_block(0);
    let mut env = Env::default();
    assert_eq!(exec(&b.finish(), &mut env, &m), ExitStatus::Fault);
    assert_eq!(env.hdr.fault_addr, 0x1088);
}

#[test]
fn fences_run() {
    let mut b = Builder::new(0);
    b.fence(FenceKind::Acquire);
    b.fence(FenceKind::Release);
    b.fence(FenceKind::SeqCst);
    b.goto_block(8);
    let mut env = Env::default();
    assert_eq!(exec(&b.finish(), &mut env, &mem()), ExitStatus::Next);
    assert_eq!(env.hdr.pc, 8);
}

fn env_of(p: *mut u8) -> &'static mut Env {
    // SAFETY: the tests pass a live Env as `env`.
    unsafe { &mut *(p as *mut Env) }
}

extern "C" fn h0(env: *mut u8) -> u64 {
    env_of(env).calls += 1;
    1000
}
extern "C" fn h1(env: *mut u8, a: u64) -> u64 {
    env_of(env).calls += 1;
    a * 2
}
extern "C" fn h2(_: *mut u8, a: u64, b: u64) -> u64 {
    a * 10 + b
}
extern "C" fn h3(_: *mut u8, a: u64, b: u64, c: u64) -> u64 {
    (a * 10 + b) * 10 + c
}
extern "C" fn h4(_: *mut u8, a: u64, b: u64, c: u64, d: u64) -> u64 {
    h3(std::ptr::null_mut(), a, b, c) * 10 + d
}
extern "C" fn h5(_: *mut u8, a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    h4(std::ptr::null_mut(), a, b, c, d) * 10 + e
}
extern "C" fn h6(_: *mut u8, a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    h5(std::ptr::null_mut(), a, b, c, d, e) * 10 + f
}
/// Raises status 3 (Exception) when its argument is nonzero.
extern "C" fn hraise(env: *mut u8, a: u64) -> u64 {
    let e = env_of(env);
    e.calls += 1;
    if a != 0 {
        e.hdr.pending_status = a as u32;
    }
    7
}
crate::helper!(H0 = h0, 0, Effects::WRITES);
crate::helper!(H1 = h1, 1, Effects::WRITES);
crate::helper!(H2 = h2, 2, Effects::PURE);
crate::helper!(H3 = h3, 3, Effects::PURE);
crate::helper!(H4 = h4, 4, Effects::PURE);
crate::helper!(H5 = h5, 5, Effects::PURE);
crate::helper!(H6 = h6, 6, Effects::PURE);
crate::helper!(HRAISE = hraise, 1, Effects::RAISES);

#[test]
fn helper_calls_with_0_to_6_args() {
    let helpers: [(&'static Helper, u64); 7] = [
        (&H0, 1000),
        (&H1, 2),
        (&H2, 12),
        (&H3, 123),
        (&H4, 1234),
        (&H5, 12345),
        (&H6, 123456),
    ];
    for (n, (h, want)) in helpers.into_iter().enumerate() {
        let mut b = Builder::new(0);
        let args: Vec<Temp> = (1..=n as u64).map(|k| b.const64(k)).collect();
        let r = b.call(h, &args);
        b.set_global(Ty::I64, goff(R), r);
        b.call_void(h, &args);
        b.goto_block(0);
        let mut env = Env::default();
        assert_eq!(exec(&b.finish(), &mut env, &mem()), ExitStatus::Next);
        assert_eq!(env.g[R], want, "{} args", n);
    }
    // Narrow and float arguments arrive zero-extended, as bits.
    let mut b = Builder::new(0);
    let x = b.const_(Ty::I8, 0xff);
    let f = b.const_(Ty::F32, 1.0f32.to_bits() as u64);
    let r = b.call(&H2, &[x, f]);
    b.set_global(Ty::I64, goff(R), r);
    b.goto_block(0);
    let mut env = Env::default();
    exec(&b.finish(), &mut env, &mem());
    assert_eq!(env.g[R], 0xff * 10 + 0x3f80_0000);
}

#[test]
fn may_raise_helpers_end_the_block() {
    let build = || {
        let mut b = Builder::new(0x6000);
        b.insn_start(0x6000);
        let a = b.get_global(Ty::I64, goff(A));
        b.insn_start(0x6004);
        let r = b.call(&HRAISE, &[a]);
        b.set_global(Ty::I64, goff(R), r);
        b.insn_start(0x6008);
        b.call_void(&H0, &[]);
        b.goto_block(0x600c);
        b.finish()
    };
    let mut env = Env::default();
    env.g[A] = 0;
    assert_eq!(exec(&build(), &mut env, &mem()), ExitStatus::Next);
    assert_eq!((env.hdr.pc, env.g[R], env.calls), (0x600c, 7, 2));

    let mut env = Env::default();
    env.g[A] = ExitStatus::Exception as u64;
    assert_eq!(exec(&build(), &mut env, &mem()), ExitStatus::Exception);
    assert_eq!((env.hdr.pc, env.g[R], env.calls), (0x6004, 0, 1));
    assert_eq!(env.hdr.pending_status, 0, "pending status is consumed");

    let mut env = Env::default();
    env.g[A] = ExitStatus::Halt as u64;
    assert_eq!(exec(&build(), &mut env, &mem()), ExitStatus::Halt);
    assert_eq!(env.hdr.pc, 0x6004);

    // A helper without may_raise does not consume a pending status.
    let mut b = Builder::new(0);
    b.call_void(&H0, &[]);
    b.goto_block(4);
    let mut env = Env::default();
    env.hdr.pending_status = 3;
    assert_eq!(exec(&b.finish(), &mut env, &mem()), ExitStatus::Next);
    assert_eq!(env.hdr.pending_status, 3);
}

#[test]
fn exits() {
    let m = mem();
    let mut b = Builder::new(0x100);
    let t = b.get_global(Ty::I64, goff(A));
    b.exit_indirect(t);
    let mut env = Env::default();
    env.g[A] = 0x1234;
    assert_eq!(exec(&b.finish(), &mut env, &m), ExitStatus::Next);
    assert_eq!(env.hdr.pc, 0x1234);

    let mut b = Builder::new(0x100);
    b.exit(ExitStatus::Halt, 0x104);
    assert_eq!(exec(&b.finish(), &mut env, &m), ExitStatus::Halt);
    assert_eq!(env.hdr.pc, 0x104);
}

#[test]
fn exit_request_interrupts_at_entry() {
    let m = mem();
    let mut b = Builder::new(0x100);
    let one = b.const64(1);
    b.set_global(Ty::I64, goff(R), one);
    b.goto_block(0x200);
    let block = b.finish();
    let mut env = Env::default();
    env.hdr.exit_request.store(1, Ordering::Relaxed);
    assert_eq!(exec(&block, &mut env, &m), ExitStatus::Interrupted);
    assert_eq!(env.hdr.pc, 0x100);
    assert_eq!(env.g[R], 0, "nothing ran");
    assert_eq!(
        env.hdr.exit_request.load(Ordering::Relaxed),
        1,
        "flag not cleared"
    );
    env.hdr.exit_request.store(0, Ordering::Relaxed);
    assert_eq!(exec(&block, &mut env, &m), ExitStatus::Next);
    assert_eq!((env.hdr.pc, env.g[R]), (0x200, 1));
}

#[test]
#[should_panic(expected = "never placed")]
fn unplaced_label_panics_at_decode() {
    let mut b = Builder::new(0);
    let l = b.new_label();
    b.br(l);
    InterpBlock::new(&b.finish());
}

#[test]
#[should_panic(expected = "128-bit")]
fn width_class_confusion_panics_at_decode() {
    let mut b = Builder::new(0);
    let x = b.const64(1);
    let y = b.temp(Ty::I128);
    b.push(Op::Bin {
        op: BinOp::Add,
        ty: Ty::I128,
        dst: y,
        a: x,
        b: x,
    });
    b.goto_block(0);
    InterpBlock::new(&b.finish());
}

#[test]
fn decoded_blocks_are_shareable_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<InterpBlock>();
}

#[test]
fn decoded_ops_are_compact() {
    assert!(
        std::mem::size_of::<D>() <= 24,
        "{}",
        std::mem::size_of::<D>()
    );
}

/// Constants folded into their users (`foldable_consts`) give what the same operation on
/// a value read from a global gives, at every width, and their `Const` ops are gone.
#[test]
fn folded_constants_match_register_operands() {
    let ops = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::And,
        BinOp::Or,
        BinOp::Xor,
        BinOp::Shl,
        BinOp::ShrU,
    ];
    for ty in [Ty::I8, Ty::I16, Ty::I32, Ty::I64] {
        for &a in &[
            0u128,
            1,
            5,
            0x7f,
            0x80,
            0xffff,
            0x8000_0000,
            u64::MAX as u128,
        ] {
            for &k in &[0u64, 1, 3, 31, 63, 64, 0x80, 0xffff_fff0, u64::MAX - 2] {
                for op in ops {
                    let folded = eval(ty, ty, a, 0, 0, |bl, x, _, _| {
                        let c = bl.const_(ty, k);
                        bl.bin(op, x, c)
                    });
                    assert_eq!(
                        folded,
                        bin(op, ty, a, k as u128),
                        "{op:?} {ty} {a:#x} {k:#x}"
                    );
                }
                for &cond in CONDS {
                    let folded = eval(ty, Ty::I64, a, 0, 0, |bl, x, _, _| {
                        let c = bl.const_(ty, k);
                        bl.setcond(cond, x, c)
                    });
                    let plain = eval(ty, Ty::I64, a, k as u128, 0, |bl, x, y, _| {
                        bl.setcond(cond, x, y)
                    });
                    assert_eq!(folded, plain, "{cond:?} {ty} {a:#x} {k:#x}");
                }
            }
        }
    }
    // The constants of `r = a + k; g = k32` need no op of their own; one also used as a first
    // operand, or defined after a label, keeps its op.
    let mut bl = Builder::new(0x1000);
    let a = bl.get_global(Ty::I64, goff(A));
    let k = bl.const64(7);
    let r = bl.bin(BinOp::Add, a, k);
    bl.set_global(Ty::I64, goff(R), r);
    let k32 = bl.const_(Ty::I32, 7);
    bl.set_global(Ty::I32, goff(B), k32);
    bl.goto_block(0x1004);
    let block = bl.finish();
    // get, add, set, set, goto
    assert_eq!(InterpBlock::new(&block).num_ops(), 5);
    let mut env = Env::default();
    env.set(A, 35);
    env.set(B, u64::MAX as u128);
    assert_eq!(exec(&block, &mut env, &mem()), ExitStatus::Next);
    assert_eq!(env.get(R) as u64, 42);
    assert_eq!(env.g[B], 0xffff_ffff_0000_0007);

    let mut bl = Builder::new(0x1000);
    let k = bl.const64(7);
    let r = bl.bin(BinOp::Sub, k, k);
    bl.set_global(Ty::I64, goff(R), r);
    let l = bl.new_label();
    bl.br(l);
    bl.label(l);
    let k2 = bl.const64(9);
    bl.set_global(Ty::I64, goff(A), k2);
    bl.goto_block(0x1004);
    let block = bl.finish();
    // const, sub, set, br, const, set, goto
    assert_eq!(InterpBlock::new(&block).num_ops(), 7);
    let mut env = Env::default();
    env.set(R, 5);
    assert_eq!(exec(&block, &mut env, &mem()), ExitStatus::Next);
    assert_eq!((env.g[R], env.g[A]), (0, 9));
}
