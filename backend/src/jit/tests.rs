//! Tests of the JIT tier: every op kind against values computed in Rust, exits and
//! chaining, flushing, exit requests, helper calls, and guest faults (software checks and
//! host SIGSEGV recovery).

use super::*;
use crate::builder::Builder;
use crate::ir::*;
use crate::mem::{GuestMemory, PERM_R, PERM_W};
use crate::{CPU_HEADER_SIZE, CpuHeader, FaultKind};
use std::mem::offset_of;
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[repr(C)]
#[derive(Default)]
struct Env {
    hdr: CpuHeader,
    g: [u64; 16],
    w: [u128; 4],
}

fn g(i: u32) -> u32 {
    CPU_HEADER_SIZE + 8 * i
}
fn w(i: u32) -> u32 {
    (offset_of!(Env, w) + 16 * i as usize) as u32
}

const LIMIT: u64 = 1 << 32;
const RAM: u64 = 0x10000;
const RAM_LEN: u64 = 0x10000;

struct Rig {
    mem: GuestMemory,
    jit: Jit,
}

impl Rig {
    fn new() -> Rig {
        Rig::with_code_size(1 << 20)
    }
    fn with_code_size(code_size: usize) -> Rig {
        let mem = GuestMemory::reserve(LIMIT).unwrap();
        mem.map_anon(RAM, RAM_LEN, PERM_R | PERM_W).unwrap();
        let jit = Jit::new(JitConfig {
            code_size,
            guest_base: mem.base(),
            guest_limit: mem.limit(),
            opt_speed: false,
            verify: true,
        })
        .unwrap();
        Rig { mem, jit }
    }
    fn run(&mut self, blk: &Block, env: &mut Env) -> ExitStatus {
        let cb = self.jit.compile(blk).unwrap();
        self.enter(&cb, env)
    }
    fn enter(&self, cb: &CompiledBlock, env: &mut Env) -> ExitStatus {
        // SAFETY: env is a live Env (CpuHeader first) covering all offsets the test blocks
        // use; cb comes from this Jit.
        unsafe { self.jit.enter(env as *mut Env as *mut u8, cb.entry) }
    }
}

fn mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}
fn sx(v: u128, bits: u32) -> i128 {
    let s = 128 - bits;
    ((v << s) as i128) >> s
}

/// Run `r = op(a, b)` of type `ty` through the JIT; a, b, r pass through globals.
fn jit_bin(rig: &mut Rig, op: BinOp, ty: Ty, a: u128, b: u128) -> u128 {
    let mut bl = Builder::new(0x1000);
    bl.insn_start(0x1000);
    let ta = bl.get_global(ty, w(1));
    let tb = bl.get_global(ty, w(2));
    let r = bl.bin(op, ta, tb);
    bl.set_global(ty, w(0), r);
    bl.goto_block(0x1004);
    let mut env = Env::default();
    env.w[1] = a;
    env.w[2] = b;
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Next);
    assert_eq!(env.hdr.pc, 0x1004);
    env.w[0]
}

/// Reference semantics of integer binary ops (from ir.rs).
fn ref_bin(op: BinOp, bits: u32, a: u128, b: u128) -> u128 {
    use BinOp::*;
    let m = mask(bits);
    let (a, b) = (a & m, b & m);
    let (sa, sb) = (sx(a, bits), sx(b, bits));
    let sh = (b % bits as u128) as u32;
    // Full 2*bits-wide products, as i128/u128 are enough for widths up to 64.
    let r = match op {
        Add => a.wrapping_add(b),
        Sub => a.wrapping_sub(b),
        Mul => a.wrapping_mul(b),
        MulHS => ((sa * sb) >> bits) as u128,
        MulHU => (a * b) >> bits,
        MulHSU => ((sa * b as i128) >> bits) as u128,
        DivU => a.checked_div(b).unwrap_or(m),
        RemU => a.checked_rem(b).unwrap_or(a),
        DivS => {
            if b == 0 {
                m
            } else if sb == -1 {
                sa.wrapping_neg() as u128
            } else {
                (sa / sb) as u128
            }
        }
        RemS => {
            if b == 0 {
                a
            } else if sb == -1 {
                0
            } else {
                (sa % sb) as u128
            }
        }
        And => a & b,
        Or => a | b,
        Xor => a ^ b,
        AndNot => a & !b,
        OrNot => a | !b,
        XorNot => !(a ^ b),
        Shl => a << sh,
        ShrU => a >> sh,
        ShrS => (sa >> sh) as u128,
        Rotl => (a << sh) | a.checked_shr(bits - sh).unwrap_or(0) & if sh == 0 { 0 } else { m },
        Rotr => (a >> sh) | if sh == 0 { 0 } else { a << (bits - sh) },
        MinS => sa.min(sb) as u128,
        MaxS => sa.max(sb) as u128,
        MinU => a.min(b),
        MaxU => a.max(b),
        FAdd | FSub | FMul | FDiv => unreachable!(),
    };
    r & m
}

const INT_OPS: [BinOp; 25] = {
    use BinOp::*;
    [
        Add, Sub, Mul, MulHS, MulHU, MulHSU, DivS, DivU, RemS, RemU, And, Or, Xor, AndNot, OrNot,
        XorNot, Shl, ShrU, ShrS, Rotl, Rotr, MinS, MinU, MaxS, MaxU,
    ]
};

fn interesting(bits: u32) -> Vec<u128> {
    let m = mask(bits);
    let min = 1u128 << (bits - 1);
    vec![
        0,
        1,
        2,
        3,
        7,
        bits as u128 + 1,
        m,
        m - 1,
        min,
        min - 1,
        min + 1,
        0x5a5a_a5a5_1234_5678_9abc_def0_0fed_cba9 & m,
        0x8765_4321_0f0f_f0f0_dead_beef_cafe_f00d & m,
    ]
}

#[test]
fn int_binops_all_widths() {
    let mut rig = Rig::new();
    for ty in [Ty::I8, Ty::I16, Ty::I32, Ty::I64] {
        let bits = ty.bits();
        let vals = interesting(bits);
        for op in INT_OPS {
            for &a in &vals {
                for &b in &vals {
                    let got = jit_bin(&mut rig, op, ty, a, b) & mask(bits);
                    let want = ref_bin(op, bits, a, b);
                    assert_eq!(got, want, "{op:?} {ty} {a:#x} {b:#x}");
                }
            }
            // Keep the buffer from filling up.
            rig.jit.flush();
        }
    }
}

#[test]
fn i128_binops() {
    let mut rig = Rig::new();
    let vals = [
        0u128,
        1,
        3,
        127,
        129,
        u128::MAX,
        1 << 127,
        (1 << 64) | 5,
        0x5a5a_a5a5_1234_5678_9abc_def0_0fed_cba9,
    ];
    use BinOp::*;
    for op in [
        Add, Sub, Mul, And, Or, Xor, AndNot, OrNot, XorNot, Shl, ShrU, ShrS, Rotl, Rotr, MinS,
        MinU, MaxS, MaxU,
    ] {
        for &a in &vals {
            for &b in &vals {
                let got = jit_bin(&mut rig, op, Ty::I128, a, b);
                let sh = (b % 128) as u32;
                let want = match op {
                    Add => a.wrapping_add(b),
                    Sub => a.wrapping_sub(b),
                    Mul => a.wrapping_mul(b),
                    And => a & b,
                    Or => a | b,
                    Xor => a ^ b,
                    AndNot => a & !b,
                    OrNot => a | !b,
                    XorNot => !(a ^ b),
                    Shl => a << sh,
                    ShrU => a >> sh,
                    ShrS => ((a as i128) >> sh) as u128,
                    Rotl => a.rotate_left(sh),
                    Rotr => a.rotate_right(sh),
                    MinS => (a as i128).min(b as i128) as u128,
                    MaxS => (a as i128).max(b as i128) as u128,
                    MinU => a.min(b),
                    _ => a.max(b),
                };
                assert_eq!(got, want, "{op:?} {a:#x} {b:#x}");
            }
        }
        rig.jit.flush();
    }
}

fn jit_un(rig: &mut Rig, op: UnOp, ty: Ty, a: u128) -> u128 {
    let mut bl = Builder::new(0x1000);
    let ta = bl.get_global(ty, w(1));
    let r = bl.un(op, ta);
    bl.set_global(ty, w(0), r);
    bl.goto_block(0x1004);
    let mut env = Env::default();
    env.w[1] = a;
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Next);
    env.w[0]
}

#[test]
fn int_unops() {
    let mut rig = Rig::new();
    for ty in [Ty::I8, Ty::I16, Ty::I32, Ty::I64, Ty::I128] {
        let bits = ty.bits();
        let m = mask(bits);
        for a in interesting(bits) {
            // The integer ops (`UnOp::ALL` lists the float ones last).
            for op in UnOp::ALL.into_iter().take(7) {
                let got = jit_un(&mut rig, op, ty, a) & m;
                let want = match op {
                    UnOp::Not => !a & m,
                    UnOp::Neg => a.wrapping_neg() & m,
                    UnOp::Clz => (a.leading_zeros() - (128 - bits)) as u128,
                    UnOp::Ctz => a.trailing_zeros().min(bits) as u128,
                    UnOp::Popcnt => a.count_ones() as u128,
                    UnOp::Bswap => a.swap_bytes() >> (128 - bits),
                    _ => a.reverse_bits() >> (128 - bits),
                };
                assert_eq!(got, want, "{op:?} {ty} {a:#x}");
            }
        }
        rig.jit.flush();
    }
}

#[test]
fn float_ops() {
    let mut rig = Rig::new();
    let f64s = [
        0.0f64,
        -0.0,
        1.5,
        -2.25,
        1e300,
        f64::INFINITY,
        f64::NAN,
        3.0,
    ];
    for &x in &f64s {
        for &y in &f64s {
            let (a, b) = (x.to_bits() as u128, y.to_bits() as u128);
            for (op, want) in [
                (BinOp::FAdd, x + y),
                (BinOp::FSub, x - y),
                (BinOp::FMul, x * y),
                (BinOp::FDiv, x / y),
            ] {
                let got = jit_bin(&mut rig, op, Ty::F64, a, b) as u64;
                assert_eq!(got, want.to_bits(), "{op:?} {x} {y}");
            }
            let (xf, yf) = (x as f32, y as f32);
            let (a, b) = (xf.to_bits() as u128, yf.to_bits() as u128);
            let got = jit_bin(&mut rig, BinOp::FMul, Ty::F32, a, b) as u32;
            assert_eq!(got, (xf * yf).to_bits());
        }
        let a = x.to_bits() as u128;
        assert_eq!(
            jit_un(&mut rig, UnOp::FNeg, Ty::F64, a) as u64,
            (-x).to_bits()
        );
        assert_eq!(
            jit_un(&mut rig, UnOp::FAbs, Ty::F64, a) as u64,
            x.abs().to_bits()
        );
        assert_eq!(
            jit_un(&mut rig, UnOp::FSqrt, Ty::F64, a) as u64,
            x.sqrt().to_bits()
        );
        let af = (x as f32).to_bits() as u128;
        assert_eq!(
            jit_un(&mut rig, UnOp::FSqrt, Ty::F32, af) as u32,
            (x as f32).sqrt().to_bits()
        );
        rig.jit.flush();
    }
}

/// Block computing several non-binary ops at once; checks results against Rust.
#[test]
fn ext_extract_deposit_setcond_select() {
    let mut rig = Rig::new();
    for &x in &[
        0u64,
        1,
        0x80,
        0xff,
        0x8000_0001,
        0xdead_beef_8765_4321,
        u64::MAX,
    ] {
        for &y in &[0u64, 1, 0x7f, 0xffff_ffff, 0x1234_5678_9abc_def0, u64::MAX] {
            let mut bl = Builder::new(0);
            let a = bl.get_global(Ty::I64, g(0));
            let b = bl.get_global(Ty::I64, g(1));
            let a8 = bl.trunc(a, Ty::I8);
            let s = bl.sext(a8, Ty::I64);
            bl.set_global(Ty::I64, g(2), s);
            let a32 = bl.trunc(a, Ty::I32);
            let z = bl.zext(a32, Ty::I128);
            bl.set_global(Ty::I128, w(0), z);
            let e1 = bl.extract(a, 4, 12, true);
            bl.set_global(Ty::I64, g(3), e1);
            let e2 = bl.extract(a, 60, 4, false);
            bl.set_global(Ty::I64, g(4), e2);
            let d = bl.deposit(a, b, 8, 16);
            bl.set_global(Ty::I64, g(5), d);
            let d2 = bl.deposit(a, b, 0, 64);
            bl.set_global(Ty::I64, g(6), d2);
            let c1 = bl.setcond(Cond::LtS, a, b);
            let c2 = bl.setcond(Cond::GeU, a8, a8);
            let c = bl.bin(BinOp::Add, c1, c2);
            bl.set_global(Ty::I64, g(7), c);
            let lt = bl.setcond(Cond::LtU, a32, a32);
            let sel = bl.select(c1, a, b);
            let sel2 = bl.select(lt, a, b);
            bl.set_global(Ty::I64, g(8), sel);
            bl.set_global(Ty::I64, g(9), sel2);
            bl.goto_block(8);
            let mut env = Env::default();
            env.g[0] = x;
            env.g[1] = y;
            assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Next);
            assert_eq!(env.g[2], x as i8 as i64 as u64);
            assert_eq!(env.w[0], x as u32 as u128);
            assert_eq!(
                env.g[3],
                ((x >> 4) & 0xfff) | if x & 0x8000 != 0 { !0xfff } else { 0 }
            );
            assert_eq!(env.g[4], x >> 60);
            assert_eq!(env.g[5], (x & !0xff_ff00) | ((y & 0xffff) << 8));
            assert_eq!(env.g[6], y);
            assert_eq!(env.g[7], ((x as i64) < (y as i64)) as u64 + 1);
            assert_eq!(env.g[8], if (x as i64) < (y as i64) { x } else { y });
            assert_eq!(env.g[9], y);
        }
        rig.jit.flush();
    }
}

#[test]
fn conversions_and_fcmp_fma() {
    let mut rig = Rig::new();
    for &x in &[
        0.0f64,
        -0.0,
        1.5,
        -1.5,
        2.5e9,
        -3e9,
        1e20,
        -1e20,
        300.7,
        -129.9,
        f64::NAN,
        f64::INFINITY,
    ] {
        let mut bl = Builder::new(0);
        let f = bl.get_global(Ty::F64, g(0));
        let i = 1;
        for (k, (op, to)) in [
            (ConvOp::FToS, Ty::I64),
            (ConvOp::FToU, Ty::I64),
            (ConvOp::FToS, Ty::I32),
            (ConvOp::FToU, Ty::I32),
            (ConvOp::FToS, Ty::I8),
            (ConvOp::FToU, Ty::I16),
        ]
        .into_iter()
        .enumerate()
        {
            let r = bl.conv(op, f, to);
            let r = bl.zext(r, Ty::I64);
            bl.set_global(Ty::I64, g(i + k as u32), r);
        }
        let f32v = bl.conv(ConvOp::FToF, f, Ty::F32);
        let back = bl.conv(ConvOp::FToF, f32v, Ty::F64);
        bl.set_global(Ty::F64, g(7), back);
        let bits = bl.conv(ConvOp::Bitcast, f, Ty::I64);
        bl.set_global(Ty::I64, g(8), bits);
        let s = bl.conv(ConvOp::FToS, f, Ty::I64);
        let sf = bl.conv(ConvOp::SToF, s, Ty::F64);
        bl.set_global(Ty::F64, g(9), sf);
        let u = bl.conv(ConvOp::FToU, f, Ty::I64);
        let uf = bl.conv(ConvOp::UToF, u, Ty::F32);
        bl.set_global(Ty::F32, g(10), uf);
        let one = bl.const_(Ty::F64, 1.0f64.to_bits());
        let lt = bl.fcmp(FCond::Lt, f, one);
        let le = bl.fcmp(FCond::Le, f, one);
        let eq = bl.fcmp(FCond::Eq, f, f);
        let un = bl.fcmp(FCond::Unordered, f, one);
        let t = bl.bin_imm(BinOp::Shl, le, 1);
        let t = bl.bin(BinOp::Or, t, lt);
        let e = bl.bin_imm(BinOp::Shl, eq, 2);
        let t = bl.bin(BinOp::Or, t, e);
        let uu = bl.bin_imm(BinOp::Shl, un, 3);
        let t = bl.bin(BinOp::Or, t, uu);
        bl.set_global(Ty::I64, g(11), t);
        let three = bl.const_(Ty::F64, 3.0f64.to_bits());
        let fm = bl.fma(f, three, one);
        bl.set_global(Ty::F64, g(12), fm);
        let i8v = bl.const_(Ty::I8, 0xfe);
        let i8f = bl.conv(ConvOp::SToF, i8v, Ty::F32);
        bl.set_global(Ty::F32, g(13), i8f);
        let u16f = bl.const_(Ty::I16, 0xfffe);
        let u16f = bl.conv(ConvOp::UToF, u16f, Ty::F64);
        bl.set_global(Ty::F64, g(14), u16f);
        bl.goto_block(0);
        let mut env = Env::default();
        env.g[0] = x.to_bits();
        assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Next);
        assert_eq!(env.g[1], x as i64 as u64, "{x}");
        assert_eq!(env.g[2], x as u64, "{x}");
        assert_eq!(env.g[3], x as i32 as u32 as u64, "{x}");
        assert_eq!(env.g[4], x as u32 as u64, "{x}");
        assert_eq!(env.g[5], x as i8 as u8 as u64, "{x}");
        assert_eq!(env.g[6], x as u16 as u64, "{x}");
        assert_eq!(env.g[7], ((x as f32) as f64).to_bits(), "{x}");
        assert_eq!(env.g[8], x.to_bits());
        assert_eq!(env.g[9], ((x as i64) as f64).to_bits());
        assert_eq!(env.g[10] as u32, ((x as u64) as f32).to_bits());
        let want = (x < 1.0) as u64
            | ((x <= 1.0) as u64) << 1
            | ((x == x) as u64) << 2
            | (x.is_nan() as u64) << 3;
        assert_eq!(env.g[11], want, "{x}");
        assert_eq!(env.g[12], x.mul_add(3.0, 1.0).to_bits());
        assert_eq!(env.g[13] as u32, (-2.0f32).to_bits());
        assert_eq!(env.g[14], 65534.0f64.to_bits());
    }
}

/// Fused multiply-add is the reference's bit for bit, NaN results included (the host's
/// FMA picks a NaN's payload and sign by its own rules: those results take the shared
/// helper), for every combination of ordinary, signed-zero, infinite and NaN operands.
#[test]
fn fma_matches_the_reference_bit_for_bit() {
    let mut rig = Rig::new();
    for (ty, vals) in [
        (
            Ty::F64,
            vec![
                1.5f64.to_bits(),
                (-2.0f64).to_bits(),
                0.0f64.to_bits(),
                (-0.0f64).to_bits(),
                f64::INFINITY.to_bits(),
                f64::NEG_INFINITY.to_bits(),
                0x7ff8_0000_0000_0001, // quiet NaNs with payloads, either sign
                0xfff8_0000_0000_0002,
                0x7ff0_0000_0000_0003, // signalling NaN
                1e308f64.to_bits(),
                5e-324f64.to_bits(),
            ],
        ),
        (
            Ty::F32,
            vec![
                1.5f32.to_bits() as u64,
                (-2.0f32).to_bits() as u64,
                0.0f32.to_bits() as u64,
                (-0.0f32).to_bits() as u64,
                f32::INFINITY.to_bits() as u64,
                f32::NEG_INFINITY.to_bits() as u64,
                0x7fc0_0001,
                0xffc0_0002,
                0x7f80_0003,
                3e38f32.to_bits() as u64,
                1e-45f32.to_bits() as u64,
            ],
        ),
    ] {
        let mut bl = Builder::new(0);
        let x = bl.get_global(ty, g(0));
        let y = bl.get_global(ty, g(1));
        let z = bl.get_global(ty, g(2));
        let r = bl.fma(x, y, z);
        bl.set_global(ty, g(3), r);
        bl.goto_block(0);
        let cb = rig.jit.compile(&bl.finish()).unwrap();
        for &a in &vals {
            for &b in &vals {
                for &c in &vals {
                    let mut env = Env::default();
                    env.g[0] = a;
                    env.g[1] = b;
                    env.g[2] = c;
                    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Next);
                    let bits = ty.bits();
                    let got = env.g[3] & (mask(bits) as u64);
                    let want = crate::interp::arith::fma(bits, a, b, c);
                    assert_eq!(got, want, "{ty:?} fma({a:#x}, {b:#x}, {c:#x})");
                }
            }
        }
    }
}

#[test]
fn temps_start_at_zero_and_branches() {
    let mut rig = Rig::new();
    // sum = 0; i = n; loop: if i == 0 goto done; sum += i; i -= 1; goto loop; done.
    let mut bl = Builder::new(0x100);
    let sum = bl.temp(Ty::I64); // never assigned before use: reads 0
    let i = bl.get_global(Ty::I64, g(0));
    let lp = bl.new_label();
    let done = bl.new_label();
    let zero = bl.const64(0);
    bl.label(lp);
    let z = bl.setcond(Cond::Eq, i, zero);
    bl.br_cond(z, done);
    let s2 = bl.bin(BinOp::Add, sum, i);
    bl.mov(sum, s2);
    let i2 = bl.bin_imm(BinOp::Sub, i, 1);
    bl.mov(i, i2);
    bl.br(lp);
    bl.label(done);
    bl.set_global(Ty::I64, g(1), sum);
    let pc = bl.get_global(Ty::I64, g(2));
    bl.exit_indirect(pc);
    let blk = bl.finish();
    let mut env = Env::default();
    env.g[0] = 100;
    env.g[2] = 0x4242;
    env.hdr.last_exit_slot = 77;
    assert_eq!(rig.run(&blk, &mut env), ExitStatus::Next);
    assert_eq!(env.g[1], 5050);
    assert_eq!(env.hdr.pc, 0x4242);
    assert_eq!(env.hdr.last_exit_slot, 0);
}

#[test]
fn memory_loads_stores() {
    let mut rig = Rig::new();
    let mut bl = Builder::new(0);
    let base = bl.const64(RAM + 0x100);
    let v = bl.get_global(Ty::I64, g(0));
    bl.store(v, base, MemOp::le(8, false));
    let a1 = bl.bin_imm(BinOp::Add, base, 1);
    // Unaligned narrow loads with sign/zero extension.
    let l1 = bl.load(Ty::I64, a1, MemOp::le(2, true));
    bl.set_global(Ty::I64, g(1), l1);
    let l2 = bl.load(Ty::I64, a1, MemOp::le(4, false));
    bl.set_global(Ty::I64, g(2), l2);
    let be = MemOp {
        big_endian: true,
        ..MemOp::le(4, false)
    };
    let l3 = bl.load(Ty::I32, base, be);
    bl.set_global(Ty::I32, g(3), l3);
    let a2 = bl.bin_imm(BinOp::Add, base, 16);
    bl.store(l3, a2, be);
    let l4 = bl.load(Ty::I64, a2, MemOp::le(8, false));
    bl.set_global(Ty::I64, g(4), l4);
    let f = bl.load(Ty::F64, base, MemOp::le(8, false));
    let a3 = bl.bin_imm(BinOp::Add, base, 32);
    bl.store(f, a3, MemOp::le(8, false));
    let q = bl.get_global(Ty::I128, w(1));
    bl.store(q, a3, MemOp::le(16, false));
    let qb = MemOp {
        big_endian: true,
        ..MemOp::le(16, false)
    };
    let q2 = bl.load(Ty::V128, a3, qb);
    bl.set_global(Ty::V128, w(0), q2);
    let b8 = bl.load(Ty::I8, a3, MemOp::le(1, true));
    bl.set_global(Ty::I8, g(5), b8);
    bl.goto_block(0);
    let mut env = Env::default();
    let x = 0x8877_6655_4433_2211u64;
    env.g[0] = x;
    env.g[5] = 0xffff_ffff;
    env.w[1] = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10;
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Next);
    assert_eq!(env.g[1], 0x3322);
    assert_eq!(env.g[2], 0x5544_3322);
    assert_eq!(env.g[3], 0x1122_3344);
    assert_eq!(env.g[4], 0x4433_2211);
    assert_eq!(
        env.w[0],
        0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10u128.swap_bytes()
    );
    assert_eq!(env.g[5], 0xffff_ff10);
    assert_eq!(rig.mem.load(RAM + 0x100, 8).unwrap(), x);
    let mut env = Env::default();
    env.g[0] = 0x8000;
    let mut bl = Builder::new(0);
    let a = bl.const64(RAM);
    let v = bl.get_global(Ty::I16, g(0));
    bl.store(v, a, MemOp::le(2, false));
    let l = bl.load(Ty::I64, a, MemOp::le(2, true));
    bl.set_global(Ty::I64, g(1), l);
    bl.goto_block(0);
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Next);
    assert_eq!(env.g[1], 0xffff_ffff_ffff_8000);
}

#[test]
fn atomics() {
    let mut rig = Rig::new();
    let cell = RAM + 0x200;
    rig.mem.store(cell, 8, 10).unwrap();
    let mut bl = Builder::new(0);
    let a = bl.const64(cell);
    let five = bl.const64(5);
    let old = bl.atomic_rmw(RmwOp::Add, a, five, MemOp::le(8, false));
    bl.set_global(Ty::I64, g(0), old);
    let m1 = bl.const64(u64::MAX);
    // 32-bit signed min with -1 on the low word (15): stores -1, returns 15.
    let old = bl.atomic_rmw(RmwOp::MinS, a, m1, MemOp::le(4, true));
    bl.set_global(Ty::I64, g(1), old);
    let exp = bl.const64(0xffff_ffff);
    let new = bl.const64(0x1_0000_0007);
    let old = bl.cmpxchg(a, exp, new, MemOp::le(4, false));
    bl.set_global(Ty::I64, g(2), old);
    let old = bl.cmpxchg(a, exp, new, MemOp::le(8, false));
    bl.set_global(Ty::I64, g(3), old);
    let x = bl.const64(0xf0);
    let old = bl.atomic_rmw(RmwOp::Xchg, a, x, MemOp::le(1, false));
    bl.set_global(Ty::I64, g(4), old);
    let old = bl.atomic_rmw(RmwOp::MaxU, a, x, MemOp::le(2, false));
    bl.set_global(Ty::I64, g(5), old);
    bl.fence(FenceKind::SeqCst);
    bl.fence(FenceKind::Acquire);
    bl.goto_block(0);
    let mut env = Env::default();
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Next);
    assert_eq!(env.g[0], 10);
    assert_eq!(env.g[1], 15);
    assert_eq!(env.g[2], 0xffff_ffff);
    assert_eq!(env.g[3], 7);
    assert_eq!(env.g[4], 7);
    assert_eq!(env.g[5], 0xf0);
    assert_eq!(rig.mem.load(cell, 8).unwrap(), 0xf0);
}

/// The JIT's 16-byte cmpxchg (`lock cmpxchg16b`): success, failure (old value returned,
/// memory unchanged) and the alignment fault, as the interpreter does them.
#[test]
fn cmpxchg16() {
    let mut rig = Rig::new();
    let cell = RAM + 0x300;
    let init = 0x1111_2222_3333_4444_5555_6666_7777_8888u128;
    rig.mem.write_bytes(cell, &init.to_le_bytes()).unwrap();
    let mut bl = Builder::new(0);
    let a = bl.const64(cell);
    let e = bl.get_global(Ty::I128, w(0));
    let n = bl.get_global(Ty::I128, w(1));
    let old = bl.cmpxchg(a, e, n, MemOp::le(16, false).with_aligned());
    bl.set_global(Ty::I128, w(2), old);
    bl.goto_block(0);
    let blk = bl.finish();
    let new = u128::MAX - 5;
    for (expected, stored) in [(init ^ (1 << 100), init), (init, new)] {
        let mut env = Env::default();
        env.w[0] = expected;
        env.w[1] = new;
        assert_eq!(rig.run(&blk, &mut env), ExitStatus::Next);
        assert_eq!(env.w[2], init);
        let mut buf = [0u8; 16];
        rig.mem.read_bytes(cell, &mut buf).unwrap();
        assert_eq!(u128::from_le_bytes(buf), stored);
        rig.mem.write_bytes(cell, &init.to_le_bytes()).unwrap();
    }
    let mut bl = Builder::new(0x500);
    bl.insn_start(0x500);
    let a = bl.const64(cell + 8);
    let z = bl.const_(Ty::I128, 0);
    bl.cmpxchg(a, z, z, MemOp::le(16, false).with_aligned());
    bl.goto_block(0);
    let mut env = Env::default();
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Fault);
    assert_eq!(env.hdr.fault_addr, cell + 8);
}

fn fault_block(addr: u64, mem: MemOp, store: bool) -> Block {
    let mut bl = Builder::new(0x500);
    bl.insn_start(0x500);
    let one = bl.const64(1);
    bl.set_global(Ty::I64, g(0), one);
    bl.insn_start(0x504);
    let a = bl.const64(addr);
    if store {
        bl.store(one, a, mem);
    } else {
        let v = bl.load(Ty::I64, a, mem);
        bl.set_global(Ty::I64, g(1), v);
    }
    bl.insn_start(0x508);
    bl.set_global(Ty::I64, g(2), one);
    bl.goto_block(0x50c);
    bl.finish()
}

#[test]
fn bounds_and_alignment_faults() {
    let mut rig = Rig::new();
    for (addr, mem, store, kind) in [
        (LIMIT - 4, MemOp::le(8, false), false, FaultKind::Read),
        (u64::MAX, MemOp::le(1, false), true, FaultKind::Write),
        (
            RAM + 2,
            MemOp::le(4, false).with_aligned(),
            false,
            FaultKind::Misaligned,
        ),
        (
            RAM + 4,
            MemOp::le(8, false).with_aligned(),
            true,
            FaultKind::Misaligned,
        ),
    ] {
        let mut env = Env::default();
        env.hdr.last_exit_slot = 99;
        assert_eq!(
            rig.run(&fault_block(addr, mem, store), &mut env),
            ExitStatus::Fault
        );
        assert_eq!(env.hdr.pc, 0x504);
        assert_eq!(env.hdr.fault_addr, addr);
        assert_eq!(env.hdr.fault_kind, kind as u32);
        assert_eq!((env.g[0], env.g[1], env.g[2]), (1, 0, 0));
    }
    // Atomics demand natural alignment even without `aligned`.
    let mut bl = Builder::new(0x600);
    bl.insn_start(0x600);
    let a = bl.const64(RAM + 1);
    let v = bl.const64(1);
    bl.atomic_rmw(RmwOp::Add, a, v, MemOp::le(2, false));
    bl.goto_block(0);
    let mut env = Env::default();
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Fault);
    assert_eq!(env.hdr.fault_kind, FaultKind::Misaligned as u32);
    assert_eq!((env.hdr.pc, env.hdr.fault_addr), (0x600, RAM + 1));
}

/// The test's SIGSEGV handler: hand the fault to the JIT, or die.
extern "C" fn segv_handler(signo: i32, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    // SAFETY: called by the kernel with SA_SIGINFO arguments.
    if !unsafe { handle_host_fault(signo, info, uctx) } {
        // SAFETY: restoring the default action makes the fault re-trigger and kill us.
        unsafe { libc::signal(signo, libc::SIG_DFL) };
    }
}

fn install_segv_handler() {
    // SAFETY: installing a process-wide handler that only calls async-signal-safe code.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = segv_handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut()), 0);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
}

#[test]
fn host_fault_recovery() {
    install_segv_handler();
    let mut rig = Rig::new();
    let page = RAM + RAM_LEN - 0x1000;
    rig.mem.protect(page, 0x1000, PERM_R).unwrap();
    rig.mem.unmap(RAM + RAM_LEN - 0x2000, 0x1000).unwrap();
    // Load from an unmapped page.
    let mut env = Env::default();
    let st = rig.run(
        &fault_block(RAM + RAM_LEN - 0x2000 + 8, MemOp::le(8, false), false),
        &mut env,
    );
    assert_eq!(st, ExitStatus::Fault);
    assert_eq!(env.hdr.pc, 0x504);
    assert_eq!(env.hdr.fault_addr, RAM + RAM_LEN - 0x2000 + 8);
    assert_eq!(env.hdr.fault_kind, FaultKind::Read as u32);
    assert_eq!((env.g[0], env.g[1], env.g[2]), (1, 0, 0));
    // Store to a read-only page, straddling from a writable one: the faulting address is
    // the first byte of the protected page.
    let mut env = Env::default();
    let st = rig.run(&fault_block(page - 4, MemOp::le(8, false), true), &mut env);
    assert_eq!(st, ExitStatus::Fault);
    assert_eq!(env.hdr.pc, 0x504);
    assert_eq!(env.hdr.fault_kind, FaultKind::Write as u32);
    assert!(env.hdr.fault_addr == page || env.hdr.fault_addr == page - 4);
    // Atomic on the read-only page.
    let mut bl = Builder::new(0x700);
    bl.insn_start(0x700);
    bl.insn_start(0x704);
    let a = bl.const64(page + 8);
    let v = bl.const64(1);
    bl.atomic_rmw(RmwOp::Add, a, v, MemOp::le(8, false));
    bl.goto_block(0);
    let mut env = Env::default();
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Fault);
    assert_eq!(env.hdr.pc, 0x704);
    assert_eq!(env.hdr.fault_addr, page + 8);
    assert_eq!(env.hdr.fault_kind, FaultKind::Write as u32);
    // A 16-byte cmpxchg (lock cmpxchg16b) on the read-only page faults the same way.
    let mut bl = Builder::new(0x700);
    bl.insn_start(0x700);
    bl.insn_start(0x708);
    let a = bl.const64(page + 16);
    let z = bl.const_(Ty::I128, 0);
    bl.cmpxchg(a, z, z, MemOp::le(16, false).with_aligned());
    bl.goto_block(0);
    let mut env = Env::default();
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Fault);
    assert_eq!(env.hdr.pc, 0x708);
    assert_eq!(env.hdr.fault_addr, page + 16);
    assert_eq!(env.hdr.fault_kind, FaultKind::Write as u32);
    // The thread and the Jit still work.
    let mut env = Env::default();
    let st = rig.run(&fault_block(page, MemOp::le(8, false), false), &mut env);
    assert_eq!(st, ExitStatus::Next);
    assert_eq!((env.g[0], env.g[1], env.g[2]), (1, 0, 1));
    // Repeated faults do not leak stack.
    for _ in 0..1000 {
        let mut env = Env::default();
        let blk = fault_block(RAM + RAM_LEN - 0x2000, MemOp::le(4, false), true);
        assert_eq!(rig.run(&blk, &mut env), ExitStatus::Fault);
        rig.jit.flush();
    }
}

/// Each thread has its own Jit and entry record: host faults on several threads at once.
#[test]
fn host_faults_on_several_threads() {
    install_segv_handler();
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rig = Rig::new();
                rig.mem.unmap(RAM + RAM_LEN - 0x1000, 0x1000).unwrap();
                let bad = RAM + RAM_LEN - 0x1000 + 8 * t;
                let blk = fault_block(bad, MemOp::le(8, false), t % 2 == 0);
                let cb = rig.jit.compile(&blk).unwrap();
                for _ in 0..2000 {
                    let mut env = Env::default();
                    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Fault);
                    assert_eq!((env.hdr.pc, env.hdr.fault_addr), (0x504, bad));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// The optimiser must not lose the guest PC of a faulting load.
#[test]
fn host_fault_pc_with_optimizer() {
    install_segv_handler();
    let mut rig = Rig::new();
    rig.jit = Jit::new(JitConfig {
        opt_speed: true,
        ..rig.jit.cfg.clone()
    })
    .unwrap();
    let mut b = Builder::new(0x4000);
    b.insn_start(0x4000);
    let x = b.get_global(Ty::I64, g(0));
    b.insn_start(0x4008);
    let a = b.const64(0xffff_fffb);
    let v = b.load(Ty::I32, a, MemOp::le(2, false));
    let r = b.call(&H_MIX, &[x, v]);
    b.set_global(Ty::I64, g(1), r);
    b.insn_start(0x400c);
    b.goto_block(0x4010);
    let blk = b.finish();
    let mut env = Env::default();
    assert_eq!(rig.run(&blk, &mut env), ExitStatus::Fault);
    assert_eq!((env.hdr.pc, env.hdr.fault_addr), (0x4008, 0xffff_fffb));
}

/// More guest memory ops than trap codes: the faulting one is still found exactly.
#[test]
fn host_fault_pc_in_long_block() {
    install_segv_handler();
    let mut rig = Rig::new();
    rig.mem.unmap(RAM + RAM_LEN - 0x1000, 0x1000).unwrap();
    for bad in [0usize, 249, 250, 251, 520] {
        let mut b = Builder::new(0x8000);
        let ok = b.const64(RAM + 8);
        let unmapped = b.const64(RAM + RAM_LEN - 0x1000);
        for i in 0..600usize {
            b.insn_start(0x8000 + 4 * i as u64);
            let v = b.load(
                Ty::I64,
                if i == bad { unmapped } else { ok },
                MemOp::le(8, false),
            );
            if i % 3 == 0 {
                b.store(v, ok, MemOp::le(8, false));
            }
        }
        b.goto_block(0);
        let mut env = Env::default();
        assert_eq!(rig.run(&b.finish(), &mut env), ExitStatus::Fault);
        assert_eq!(env.hdr.pc, 0x8000 + 4 * bad as u64, "bad op {bad}");
        rig.jit.flush();
    }
}

#[test]
fn foreign_faults_are_not_ours() {
    // SAFETY: zeroed siginfo/ucontext are valid to read; no JIT code runs on this thread,
    // so the handler must decline without touching anything.
    unsafe {
        let info: libc::siginfo_t = std::mem::zeroed();
        let mut uc: libc::ucontext_t = std::mem::zeroed();
        let uc_ptr = &mut uc as *mut libc::ucontext_t as *mut libc::c_void;
        assert!(!handle_host_fault(libc::SIGSEGV, &info, uc_ptr));
        assert!(!handle_host_fault(libc::SIGILL, &info, uc_ptr));
    }
}

#[test]
fn chaining_and_last_exit_slot() {
    let mut rig = Rig::new();
    // A: g0 += 1; goto B(0x2000). B: g1 += g0; goto A (0x1000) or exit if g1 > 100.
    let mut a = Builder::new(0x1000);
    let x = a.get_global(Ty::I64, g(0));
    let x = a.bin_imm(BinOp::Add, x, 1);
    a.set_global(Ty::I64, g(0), x);
    a.goto_block(0x2000);
    let mut b = Builder::new(0x2000);
    let x = b.get_global(Ty::I64, g(0));
    let y = b.get_global(Ty::I64, g(1));
    let y = b.bin(BinOp::Add, y, x);
    b.set_global(Ty::I64, g(1), y);
    let lim = b.const64(100);
    let big = b.setcond(Cond::GtU, y, lim);
    let out = b.new_label();
    b.br_cond(big, out);
    b.goto_block(0x1000);
    b.label(out);
    b.exit(ExitStatus::Halt, 0x2004);
    let ca = rig.jit.compile(&a.finish()).unwrap();
    let cb = rig.jit.compile(&b.finish()).unwrap();
    assert_eq!(ca.exits.len(), 1);
    assert_eq!(ca.exits[0].target_pc, 0x2000);
    assert_eq!(cb.exits[0].target_pc, 0x1000);
    let mut env = Env::default();
    // Unchained: A runs alone and reports its slot.
    assert_eq!(rig.enter(&ca, &mut env), ExitStatus::Next);
    assert_eq!((env.g[0], env.g[1], env.hdr.pc), (1, 0, 0x2000));
    assert_eq!(env.hdr.last_exit_slot, ca.exits[0].site as u64);
    // Chain both ways: runs until B halts.
    rig.jit.chain(&ca.exits[0], cb.entry);
    rig.jit.chain(&cb.exits[0], ca.entry);
    assert_eq!(rig.enter(&ca, &mut env), ExitStatus::Halt);
    // g0 = 2.. k, g1 = sum of 2..k > 100 -> k = 14 (2+..+14 = 104).
    assert_eq!((env.g[0], env.g[1], env.hdr.pc), (14, 104, 0x2004));
    assert_eq!(env.hdr.last_exit_slot, 0);
    // Unchain B -> A: one round trip then back to the caller.
    rig.jit.unchain(&cb.exits[0]);
    env.g = [0; 16];
    assert_eq!(rig.enter(&ca, &mut env), ExitStatus::Next);
    assert_eq!((env.g[0], env.g[1], env.hdr.pc), (1, 1, 0x1000));
    assert_eq!(env.hdr.last_exit_slot, cb.exits[0].site as u64);
    // An exit request stops a chain at the next block entry.
    rig.jit.chain(&cb.exits[0], ca.entry);
    env.g = [0; 16];
    env.hdr.exit_request.store(1, Ordering::Relaxed);
    assert_eq!(rig.enter(&ca, &mut env), ExitStatus::Interrupted);
    assert_eq!((env.g[0], env.hdr.pc), (0, 0x1000));
    let dis = rig.jit.disassemble(&ca);
    assert!(
        dis.len() > 5 && dis[0].starts_with(&format!("{:#x}:", ca.code_start)),
        "{dis:?}"
    );
    // Instructions only: the constant pool is left out.
    let last = dis.last().unwrap();
    assert!(last.contains("ret") || last.contains("jmp"), "{dis:?}");
}

/// Cost of one chained block transition (entry check, exit stores, tail call).
#[test]
fn chained_transition_cost() {
    let mut rig = Rig::new();
    // Self-loop: g0 -= 1; if g0 == 0 exit Halt; else goto self.
    let mut b = Builder::new(0x1000);
    let x = b.get_global(Ty::I64, g(0));
    let x = b.bin_imm(BinOp::Sub, x, 1);
    b.set_global(Ty::I64, g(0), x);
    let zero = b.const64(0);
    let done = b.setcond(Cond::Eq, x, zero);
    let out = b.new_label();
    b.br_cond(done, out);
    b.goto_block(0x1000);
    b.label(out);
    b.exit(ExitStatus::Halt, 0x1004);
    let cb = rig.jit.compile(&b.finish()).unwrap();
    rig.jit.chain(&cb.exits[0], cb.entry);
    let n = 5_000_000u64;
    let mut env = Env::default();
    env.g[0] = n;
    let t0 = std::time::Instant::now();
    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Halt);
    let ns = t0.elapsed().as_secs_f64() * 1e9 / n as f64;
    assert_eq!(env.g[0], 0);
    eprintln!("chained block transition: {ns:.2} ns per block");
}

/// The self-loop block of `chained_transition_cost`, `g0 -= 1` until 0, from 0x1000.
fn countdown_block() -> Block {
    let mut b = Builder::new(0x1000);
    let x = b.get_global(Ty::I64, g(0));
    let x = b.bin_imm(BinOp::Sub, x, 1);
    b.set_global(Ty::I64, g(0), x);
    let zero = b.const64(0);
    let done = b.setcond(Cond::Eq, x, zero);
    let out = b.new_label();
    b.br_cond(done, out);
    b.goto_block(0x1000);
    b.label(out);
    b.exit(ExitStatus::Halt, 0x1004);
    b.finish()
}

#[test]
fn self_loops_branch_back_and_honour_exit_request() {
    let mut rig = Rig::new();
    rig.jit.set_self_loops(true);
    let cb = rig.jit.compile(&countdown_block()).unwrap();
    // No exit slot: the goto to itself is a branch back to the entry check.
    assert!(cb.exits.is_empty());
    let mut env = Env::default();
    env.g[0] = 1000;
    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Halt);
    assert_eq!(env.g[0], 0);
    assert_eq!(env.hdr.pc, 0x1004);
    // An exit request stops the loop at the block's entry, state exact.
    env.g[0] = 1000;
    env.hdr.exit_request.store(1, Ordering::Relaxed);
    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Interrupted);
    assert_eq!(env.g[0], 1000);
    assert_eq!(env.hdr.pc, 0x1000);
    // With self loops off, the same block leaves through a slot (Next at 0x1000).
    rig.jit.set_self_loops(false);
    let cb = rig.jit.compile(&countdown_block()).unwrap();
    assert_eq!(cb.exits.len(), 1);
    assert_eq!(cb.exits[0].target_pc, 0x1000);
    env.hdr.exit_request.store(0, Ordering::Relaxed);
    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Next);
    assert_eq!(env.g[0], 999);
    assert_eq!(env.hdr.pc, 0x1000);
}

#[test]
fn indirect_exit_jump_table() {
    let mut rig = Rig::new();
    // Block A at 0x2000: g1 += 1; exit_indirect g2. Block B at 0x3000: exit Halt at 0x3004.
    let mut b = Builder::new(0x2000);
    let x = b.get_global(Ty::I64, g(1));
    let x = b.bin_imm(BinOp::Add, x, 1);
    b.set_global(Ty::I64, g(1), x);
    let t = b.get_global(Ty::I64, g(2));
    b.exit_indirect(t);
    let a = rig.jit.compile(&b.finish()).unwrap();
    let mut b = Builder::new(0x3000);
    b.exit(ExitStatus::Halt, 0x3004);
    let bb = rig.jit.compile(&b.finish()).unwrap();
    let mut env = Env::default();
    env.g[2] = 0x3000;
    // Empty table: back to the engine with Next and the target PC.
    assert_eq!(rig.enter(&a, &mut env), ExitStatus::Next);
    assert_eq!((env.hdr.pc, env.g[1]), (0x3000, 1));
    // Filled: straight into B.
    rig.jit.set_jump(0x3000, bb.entry);
    assert_eq!(rig.enter(&a, &mut env), ExitStatus::Halt);
    assert_eq!((env.hdr.pc, env.g[1]), (0x3004, 2));
    // Another PC with the same index misses (tag compare).
    env.g[2] = 0x3000 + 2 * crate::jit::JUMP_TABLE_SIZE as u64;
    assert_eq!(rig.enter(&a, &mut env), ExitStatus::Next);
    assert_eq!(env.hdr.pc, env.g[2]);
    // The empty-entry tag is harmless: the exit stub returns Next.
    env.g[2] = u64::MAX;
    assert_eq!(rig.enter(&a, &mut env), ExitStatus::Next);
    assert_eq!(env.hdr.pc, u64::MAX);
    // Cleared: misses again.
    rig.jit.clear_jumps();
    env.g[2] = 0x3000;
    assert_eq!(rig.enter(&a, &mut env), ExitStatus::Next);
    assert_eq!(env.hdr.pc, 0x3000);
}

#[test]
fn flush_when_full() {
    let mut rig = Rig::with_code_size(8192);
    let mk = |k: u64| {
        let mut b = Builder::new(0x1000 + k);
        let x = b.get_global(Ty::I64, g(0));
        let x = b.bin_imm(BinOp::Add, x, k);
        b.set_global(Ty::I64, g(0), x);
        b.goto_block(0x1000);
        b.finish()
    };
    let base_used = rig.jit.used();
    let mut n = 0;
    let err = loop {
        match rig.jit.compile(&mk(n)) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 1000);
    };
    assert_eq!(err, JitError::BufferFull);
    assert!(n > 3, "only {n} blocks fit");
    assert!(rig.jit.used() <= rig.jit.capacity());
    rig.jit.flush();
    assert_eq!(rig.jit.flush_count(), 1);
    assert_eq!(rig.jit.used(), base_used);
    let cb = rig.jit.compile(&mk(5)).unwrap();
    let mut env = Env::default();
    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Next);
    assert_eq!(env.g[0], 5);
    // A block too big for the whole buffer is an error flushing cannot fix.
    let mut b = Builder::new(0);
    for i in 0..1500 {
        let x = b.get_global(Ty::I64, g(i % 16));
        let y = b.bin_imm(BinOp::Mul, x, i as u64 + 3);
        b.set_global(Ty::I64, g((i + 1) % 16), y);
    }
    b.goto_block(0);
    rig.jit.flush();
    assert!(matches!(
        rig.jit.compile(&b.finish()),
        Err(JitError::Codegen(_))
    ));
}

extern "C" fn h_add3(env: *mut u8, a: u64, b: u64, c: u64) -> u64 {
    // SAFETY: env is the test Env.
    let e = unsafe { &mut *(env as *mut Env) };
    e.g[15] += 1;
    a.wrapping_add(b).wrapping_add(c)
}
extern "C" fn h_raise(env: *mut u8, code: u64) -> u64 {
    // SAFETY: env is the test Env.
    let e = unsafe { &mut *(env as *mut Env) };
    if code != 0 {
        e.hdr.pending_status = ExitStatus::Exception as u32;
        e.g[14] = code;
    }
    code * 2 + 1
}
extern "C" fn h_six(_env: *mut u8, a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f
}
crate::helper!(H_ADD3 = h_add3, 3, Effects::WRITES);
crate::helper!(H_RAISE = h_raise, 1, Effects::RAISES);
crate::helper!(H_SIX = h_six, 6, Effects::PURE);

#[test]
fn helper_calls() {
    let mut rig = Rig::new();
    for code in [0u64, 7] {
        let mut bl = Builder::new(0x800);
        bl.insn_start(0x800);
        let a = bl.const_(Ty::I32, 0xffff_ffff);
        let b = bl.const_(Ty::F64, 1.0f64.to_bits());
        let c = bl.const_(Ty::I8, 3);
        let r = bl.call(&H_ADD3, &[a, b, c]);
        bl.set_global(Ty::I64, g(0), r);
        let args: Vec<Temp> = (1..=6).map(|k| bl.const64(k)).collect();
        let r = bl.call(&H_SIX, &args);
        bl.set_global(Ty::I64, g(1), r);
        bl.insn_start(0x804);
        let c = bl.const64(code);
        let r = bl.call(&H_RAISE, &[c]);
        bl.set_global(Ty::I64, g(2), r);
        bl.insn_start(0x808);
        bl.call_void(&H_ADD3, &[c, c, c]);
        bl.goto_block(0x80c);
        let mut env = Env::default();
        let st = rig.run(&bl.finish(), &mut env);
        assert_eq!(env.g[0], 0xffff_ffffu64 + 1.0f64.to_bits() + 3);
        assert_eq!(env.g[1], 1 + 4 + 9 + 16 + 25 + 36);
        // A raising call ends the block before any later op.
        assert_eq!(env.g[2], if code == 0 { 1 } else { 0 });
        assert_eq!(env.hdr.pending_status, 0);
        if code == 0 {
            assert_eq!(st, ExitStatus::Next);
            assert_eq!((env.hdr.pc, env.g[15]), (0x80c, 2));
        } else {
            assert_eq!(st, ExitStatus::Exception);
            assert_eq!((env.hdr.pc, env.g[15], env.g[14]), (0x804, 1, 7));
        }
    }
}

#[test]
fn jit_and_blocks_can_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Jit>();
    send::<CompiledBlock>();
    sync::<CompiledBlock>();
    sync::<ExitSlot>();
}

#[test]
fn bad_ir_is_an_error_not_a_panic() {
    let mut rig = Rig::new();
    let mut bl = Builder::new(0);
    let x = bl.const64(1);
    bl.set_global(Ty::I64, g(0), x);
    assert!(matches!(
        rig.jit.compile(&bl.block),
        Err(JitError::Codegen(_))
    ));
    let l = bl.new_label();
    bl.br(l);
    assert!(matches!(
        rig.jit.compile(&bl.block),
        Err(JitError::Codegen(_))
    ));
    let mut bl = Builder::new(0);
    let x = bl.const64(1);
    let y = bl.const_(Ty::I32, 1);
    bl.push(Op::Bin {
        op: BinOp::Add,
        ty: Ty::I64,
        dst: x,
        a: x,
        b: y,
    });
    bl.goto_block(0);
    assert!(matches!(
        rig.jit.compile(&bl.block),
        Err(JitError::Codegen(_))
    ));
    // The Jit still works afterwards.
    let mut bl = Builder::new(0);
    bl.exit(ExitStatus::Halt, 5);
    let mut env = Env::default();
    assert_eq!(rig.run(&bl.finish(), &mut env), ExitStatus::Halt);
    assert_eq!(env.hdr.pc, 5);
}

/// Compile cost of a typical RISC-V-like block of ~15 IR ops (4 guest instructions).
#[test]
fn compile_cost() {
    let mut rig = Rig::new();
    rig.jit = Jit::new(JitConfig {
        verify: false,
        ..rig.jit.cfg.clone()
    })
    .unwrap();
    let mk = |k: u64| {
        let mut b = Builder::new(0x1000 + 16 * k);
        b.insn_start(0x1000);
        let x1 = b.get_global(Ty::I64, g(1));
        let t = b.bin_imm(BinOp::Add, x1, k);
        b.set_global(Ty::I64, g(2), t);
        b.insn_start(0x1004);
        let a = b.bin_imm(BinOp::Add, t, 8);
        let v = b.load(Ty::I64, a, MemOp::le(4, true));
        b.set_global(Ty::I64, g(3), v);
        b.insn_start(0x1008);
        let s = b.bin(BinOp::Xor, v, x1);
        b.store(s, a, MemOp::le(8, false));
        b.insn_start(0x100c);
        let c = b.setcond(Cond::LtS, s, t);
        let l = b.new_label();
        b.br_cond(c, l);
        b.goto_block(0x1010);
        b.label(l);
        b.goto_block(0x2000);
        b.finish()
    };
    let blocks: Vec<Block> = (0..200).map(mk).collect();
    let ops: usize = blocks[0].ops.len();
    for (name, opt_speed, verify) in [
        ("opt none", false, false),
        ("opt speed", true, false),
        ("opt none + verifier", false, true),
    ] {
        rig.jit = Jit::new(JitConfig {
            opt_speed,
            verify,
            ..rig.jit.cfg.clone()
        })
        .unwrap();
        // The machine is shared: report the best of a few rounds.
        let mut us = f64::MAX;
        for _ in 0..5 {
            rig.jit.flush();
            let t0 = std::time::Instant::now();
            for b in &blocks {
                match rig.jit.compile(b) {
                    Ok(_) => {}
                    Err(JitError::BufferFull) => {
                        rig.jit.flush();
                        rig.jit.compile(b).unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            us = us.min(t0.elapsed().as_secs_f64() * 1e6 / blocks.len() as f64);
        }
        let code = rig.jit.used() - rig.jit.base_mark;
        if std::env::var_os("HERON_SHOW_ASM").is_some() {
            let cb = rig.jit.compile(&blocks[0]).unwrap();
            eprintln!("{}", rig.jit.disassemble(&cb).join("\n"));
        }
        eprintln!(
            "compile cost ({name}): {us:.1} us per block of {ops} IR ops, {} bytes of code",
            code / blocks.len()
        );
        assert!(us < 20_000.0);
    }
}

/// xorshift64* for the differential test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    /// A value biased towards corner cases.
    fn value(&mut self) -> u64 {
        match self.below(6) {
            0 => self.pick(&[
                0,
                1,
                2,
                u64::MAX,
                1 << 63,
                (1 << 63) - 1,
                0x8000_0000,
                0x7fff_ffff,
            ]),
            1 => self.next() & 0xff,
            2 => (self.next() as i8) as i64 as u64,
            3 => self.pick(&[
                1.5f64.to_bits(),
                (-0.0f64).to_bits(),
                f64::NAN.to_bits(),
                1e19f64.to_bits(),
                (-3e9f64).to_bits(),
                (2.5f32.to_bits() as u64) | 0xffff_ffff_0000_0000,
                f32::NAN.to_bits() as u64,
                (-1e10f32).to_bits() as u64,
            ]),
            _ => self.next(),
        }
    }
}

extern "C" fn h_mix(_env: *mut u8, a: u64, b: u64) -> u64 {
    a.rotate_left(7) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
extern "C" fn h_maybe_raise(env: *mut u8, a: u64) -> u64 {
    if a % 7 == 3 {
        // SAFETY: env is the test Env.
        unsafe { (*(env as *mut CpuHeader)).pending_status = ExitStatus::Exception as u32 };
    }
    a ^ 0x55
}
crate::helper!(H_MIX = h_mix, 2, Effects::PURE);
crate::helper!(H_MAYBE_RAISE = h_maybe_raise, 1, Effects::RAISES);

const INTS: [Ty; 5] = [Ty::I8, Ty::I16, Ty::I32, Ty::I64, Ty::I128];
const ALL_TYS: [Ty; 8] = [
    Ty::I8,
    Ty::I16,
    Ty::I32,
    Ty::I64,
    Ty::I128,
    Ty::F32,
    Ty::F64,
    Ty::V128,
];

/// A random well-formed block over globals g0..g15, w0..w3 and guest memory near RAM.
fn random_block(r: &mut Rng) -> Block {
    random_block_with(r, false)
}

/// [`random_block`]; `narrow`: without 128-bit values (what the quick tier compiles).
fn random_block_with(r: &mut Rng, narrow: bool) -> Block {
    let ints: &[Ty] = if narrow { &INTS[..4] } else { &INTS };
    let tys: &[Ty] = if narrow {
        &[Ty::I8, Ty::I16, Ty::I32, Ty::I64, Ty::F32, Ty::F64]
    } else {
        &ALL_TYS
    };
    let mut b = Builder::new(0x4000);
    let mut pool: Vec<Vec<Temp>> = vec![Vec::new(); ALL_TYS.len()];
    let idx = |t: Ty| ALL_TYS.iter().position(|&x| x == t).unwrap();
    let mut pc = 0x4000u64;
    b.insn_start(pc);
    for (i, &ty) in ALL_TYS.iter().enumerate() {
        if narrow && ty.bits() == 128 {
            continue;
        }
        for k in 0..2u32 {
            let t = if ty.bits() == 128 {
                b.get_global(ty, w(1 + (i as u32 + k) % 3))
            } else {
                b.get_global(ty, g((i as u32 * 2 + k) % 16))
            };
            pool[i].push(t);
        }
    }
    let mut open_labels: Vec<(Label, usize)> = Vec::new();
    let n = 8 + r.below(25);
    for step in 0..n {
        if r.chance(25) {
            pc += 4;
            b.insn_start(pc);
        }
        // Close labels whose time has come.
        open_labels.retain(|&(l, at)| {
            if at <= step {
                b.label(l);
                false
            } else {
                true
            }
        });
        let ity = r.pick(ints);
        let ip = idx(ity);
        let fty = r.pick(&[Ty::F32, Ty::F64]);
        let fp = idx(fty);
        let i64p = idx(Ty::I64);
        let ta = r.pick(&pool[ip]);
        let tb = r.pick(&pool[ip]);
        match r.below(20) {
            0..=4 => {
                let op = r.pick(&INT_OPS);
                let d = b.bin(op, ta, tb);
                pool[ip].push(d);
            }
            5 => {
                let op = r.pick(&[
                    UnOp::Not,
                    UnOp::Neg,
                    UnOp::Clz,
                    UnOp::Ctz,
                    UnOp::Popcnt,
                    UnOp::Bswap,
                    UnOp::Bitrev,
                ]);
                let d = b.un(op, ta);
                pool[ip].push(d);
            }
            6 => {
                let to = r.pick(ints);
                let d = b.ext(ta, to, r.chance(50));
                pool[idx(to)].push(d);
            }
            7 => {
                let bits = ity.bits() as usize;
                let pos = r.below(bits);
                let len = 1 + r.below(bits - pos);
                let d = if r.chance(50) {
                    b.extract(ta, pos as u8, len as u8, r.chance(50))
                } else {
                    b.deposit(ta, tb, pos as u8, len as u8)
                };
                pool[ip].push(d);
            }
            8 => {
                let c = r.pick(&Cond::ALL);
                let d = b.setcond(c, ta, tb);
                pool[i64p].push(d);
            }
            9 => {
                let c = r.pick(&pool[i64p]);
                let sty = r.pick(tys);
                let sp = idx(sty);
                let (x, y) = (r.pick(&pool[sp]), r.pick(&pool[sp]));
                let d = b.select(c, x, y);
                pool[sp].push(d);
            }
            10 => {
                let (x, y) = (r.pick(&pool[fp]), r.pick(&pool[fp]));
                match r.below(4) {
                    0 => {
                        let op = r.pick(&[BinOp::FAdd, BinOp::FSub, BinOp::FMul, BinOp::FDiv]);
                        let d = b.bin(op, x, y);
                        pool[fp].push(d);
                    }
                    1 => {
                        let op = r.pick(&[UnOp::FNeg, UnOp::FAbs, UnOp::FSqrt]);
                        let d = b.un(op, x);
                        pool[fp].push(d);
                    }
                    2 => {
                        let c = r.pick(&[FCond::Eq, FCond::Lt, FCond::Le, FCond::Unordered]);
                        let d = b.fcmp(c, x, y);
                        pool[i64p].push(d);
                    }
                    _ => {
                        let z = r.pick(&pool[fp]);
                        let d = b.fma(x, y, z);
                        pool[fp].push(d);
                    }
                }
            }
            11 => {
                let x = r.pick(&pool[fp]);
                match r.below(4) {
                    0 => {
                        let d = b.conv(r.pick(&[ConvOp::FToS, ConvOp::FToU]), x, ity);
                        pool[ip].push(d);
                    }
                    1 => {
                        let d = b.conv(r.pick(&[ConvOp::SToF, ConvOp::UToF]), ta, fty);
                        pool[fp].push(d);
                    }
                    2 => {
                        let to = if fty == Ty::F32 { Ty::F64 } else { Ty::F32 };
                        let d = b.conv(ConvOp::FToF, x, to);
                        pool[idx(to)].push(d);
                    }
                    _ => {
                        let to = if fty == Ty::F32 { Ty::I32 } else { Ty::I64 };
                        let d = b.conv(ConvOp::Bitcast, x, to);
                        pool[idx(to)].push(d);
                        let back = b.conv(ConvOp::Bitcast, d, fty);
                        pool[fp].push(back);
                    }
                }
            }
            12 => {
                let v = r.value();
                let d = b.const_(ity, v);
                pool[ip].push(d);
            }
            13..=15 => {
                // Memory: mostly inside RAM, sometimes at the edges.
                let addr = match r.below(40) {
                    0 => LIMIT - r.below(16) as u64,
                    1 => RAM + RAM_LEN - 0x1000 - r.below(16) as u64, // into the unmapped page
                    2 => RAM + RAM_LEN - 0x2000 - r.below(16) as u64, // into the read-only page
                    _ => RAM + r.below(0x800) as u64,
                };
                let a = b.const64(addr);
                let mty = r.pick(tys);
                let size = if mty.is_float() {
                    mty.bytes() as u8
                } else {
                    r.pick(&[1u8, 2, 4, 8, 16].map(|s| s.min(mty.bytes() as u8)))
                };
                let mem = MemOp {
                    size,
                    signed: !mty.is_float() && r.chance(50),
                    big_endian: r.chance(20),
                    aligned: r.chance(8),
                    mmu_idx: 0,
                };
                let mp = idx(mty);
                if r.chance(50) {
                    let d = b.load(mty, a, mem);
                    pool[mp].push(d);
                } else {
                    let v = r.pick(&pool[mp]);
                    b.store(v, a, mem);
                }
            }
            16 => {
                let aty = r.pick(&[Ty::I8, Ty::I16, Ty::I32, Ty::I64]);
                let ap = idx(aty);
                let size = r.pick(&[1u8, 2, 4, 8].map(|s| s.min(aty.bytes() as u8)));
                let addr = if r.chance(4) {
                    RAM + RAM_LEN - 0x2000
                } else {
                    RAM + (r.below(0x100) as u64 & !(size as u64 - 1) | r.chance(4) as u64)
                };
                let a = b.const64(addr);
                let mem = MemOp {
                    size,
                    signed: r.chance(50),
                    big_endian: r.chance(20),
                    aligned: false,
                    mmu_idx: 0,
                };
                let (x, y) = (r.pick(&pool[ap]), r.pick(&pool[ap]));
                let d = if r.chance(30) {
                    b.cmpxchg(a, x, y, mem)
                } else {
                    let op = r.pick(&[
                        RmwOp::Xchg,
                        RmwOp::Add,
                        RmwOp::And,
                        RmwOp::Or,
                        RmwOp::Xor,
                        RmwOp::MinS,
                        RmwOp::MaxS,
                        RmwOp::MinU,
                        RmwOp::MaxU,
                    ]);
                    b.atomic_rmw(op, a, x, mem)
                };
                pool[ap].push(d);
            }
            17 => {
                let x = r.pick(&pool[i64p]);
                let y = r.pick(&pool[idx(Ty::I32)]);
                let d = if r.chance(70) {
                    b.call(&H_MIX, &[x, y])
                } else {
                    b.call(&H_MAYBE_RAISE, &[x])
                };
                pool[i64p].push(d);
            }
            18 => {
                // Forward branch over a few ops, on a low bit, on any value (a global's
                // copy, a helper's result...) or on a fresh comparison.
                let c = match r.below(3) {
                    0 => r.pick(&pool[i64p]),
                    1 => {
                        let cond = r.pick(&[Cond::Eq, Cond::Ne, Cond::LtS, Cond::GeU, Cond::GtS]);
                        b.setcond(cond, ta, tb)
                    }
                    _ => {
                        let c = r.pick(&pool[i64p]);
                        b.bin_imm(BinOp::And, c, 1)
                    }
                };
                let l = b.new_label();
                b.br_cond(c, l);
                open_labels.push((l, step + 1 + r.below(4)));
            }
            _ => {
                // Overwrite an existing temp (temps are mutable).
                let d = r.pick(&pool[ip]);
                b.mov(d, tb);
            }
        }
    }
    for (l, _) in open_labels {
        b.label(l);
    }
    for k in 0..16u32 {
        let ty = r.pick(&[Ty::I8, Ty::I16, Ty::I32, Ty::I64, Ty::F32, Ty::F64]);
        let t = r.pick(&pool[idx(ty)]);
        b.set_global(ty, g(k), t);
    }
    for k in 0..4u32 {
        if narrow {
            break;
        }
        let ty = r.pick(&[Ty::I128, Ty::V128]);
        let t = r.pick(&pool[idx(ty)]);
        b.set_global(ty, w(k), t);
    }
    match r.below(3) {
        0 => b.goto_block(pc + 4),
        1 => {
            let t = r.pick(&pool[idx(Ty::I64)]);
            b.exit_indirect(t);
        }
        _ => b.exit(ExitStatus::Halt, pc),
    }
    b.finish()
}

fn snapshot(mem: &GuestMemory) -> Vec<u8> {
    let mut v = vec![0u8; (RAM_LEN - 0x1000) as usize];
    // The last page is unmapped; read-only pages are readable.
    mem.read_bytes(RAM, &mut v).unwrap();
    v
}

fn restore(mem: &GuestMemory, bytes: &[u8]) {
    mem.write_bytes(RAM, &bytes[..(RAM_LEN - 0x2000) as usize])
        .unwrap();
}

/// One run of a block in the differential tests: its status, header, globals g0..g15
/// and the RAM below the unmapped page afterwards.
type Outcome<'a> = (ExitStatus, &'a CpuHeader, &'a [u64; 16], &'a [u8]);

/// Panics, naming the block (`ctx`), where the reference run `[0]` and the run under test
/// `[1]` differ: status, pc, fault address and kind, pending status, globals, RAM.
fn assert_same_outcome(
    [(is, ih, ig, imem), (js, jh, jg, jmem)]: [Outcome; 2],
    ctx: &dyn Fn() -> String,
) {
    assert_eq!(
        is,
        js,
        "faults {:#x}/{} and {:#x}/{} at pc {:#x}/{:#x} {}",
        ih.fault_addr,
        ih.fault_kind,
        jh.fault_addr,
        jh.fault_kind,
        ih.pc,
        jh.pc,
        ctx()
    );
    assert_eq!(ih.pc, jh.pc, "pc {}", ctx());
    if is == ExitStatus::Fault {
        assert_eq!(ih.fault_addr, jh.fault_addr, "{}", ctx());
        assert_eq!(ih.fault_kind, jh.fault_kind, "{}", ctx());
    }
    assert_eq!(ih.pending_status, jh.pending_status, "{}", ctx());
    for k in 0..16 {
        assert_eq!(ig[k], jg[k], "g{k}: {:#x} vs {:#x} {}", ig[k], jg[k], ctx());
    }
    if let Some(i) = imem.iter().zip(jmem).position(|(a, b)| a != b) {
        panic!("memory differs at {:#x} {}", RAM + i as u64, ctx());
    }
}

/// Random blocks give bit-identical results in the interpreter and the JIT.
#[test]
fn differential_against_interpreter() {
    install_segv_handler();
    let mut rig = Rig::new();
    rig.mem
        .protect(RAM + RAM_LEN - 0x2000, 0x1000, PERM_R)
        .unwrap();
    rig.mem.unmap(RAM + RAM_LEN - 0x1000, 0x1000).unwrap();
    // HERON_DIFF_SEED / HERON_DIFF_ITERS explore further than the default run.
    let seed = std::env::var("HERON_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1234_5678_9abc_def1u64);
    let mut r = Rng(seed | 1);
    let mut regs = crate::interp::InterpRegs::default();
    // Odd iterations use Cranelift's optimiser.
    let mut fast = Jit::new(JitConfig {
        opt_speed: true,
        ..rig.jit.cfg.clone()
    })
    .unwrap();
    let iters = std::env::var("HERON_DIFF_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut statuses = [0usize; 5];
    for it in 0..iters {
        let blk = random_block(&mut r);
        if let Err(e) = crate::verify::verify(&blk) {
            panic!("generator made bad IR: {e}");
        }
        let mut init = Env::default();
        for k in 0..16 {
            init.g[k] = r.value();
        }
        for k in 0..4 {
            init.w[k] = (r.value() as u128) << 64 | r.value() as u128;
        }
        let mut ram = vec![0u8; (RAM_LEN - 0x1000) as usize];
        for c in ram.chunks_mut(8) {
            c.copy_from_slice(&r.value().to_le_bytes());
        }
        let fresh = |e: &Env| Env {
            hdr: CpuHeader::default(),
            g: e.g,
            w: e.w,
        };
        restore(&rig.mem, &ram);
        rig.mem
            .write_bytes_force(RAM + RAM_LEN - 0x2000, &ram[(RAM_LEN - 0x2000) as usize..])
            .unwrap();
        let mut ie = fresh(&init);
        let ib = crate::interp::InterpBlock::new(&blk);
        // SAFETY: ie is a live Env covering every offset the block uses; helpers are ours.
        let is = unsafe { ib.run(&mut ie as *mut Env as *mut u8, &rig.mem, &mut regs) };
        let imem = snapshot(&rig.mem);
        restore(&rig.mem, &ram);
        let mut je = fresh(&init);
        let jit = if it % 2 == 1 { &mut fast } else { &mut rig.jit };
        let cb = match jit.compile(&blk) {
            Ok(cb) => cb,
            Err(JitError::BufferFull) => {
                jit.flush();
                jit.compile(&blk).unwrap()
            }
            Err(e) => panic!(
                "iteration {it}: {e}\n{}",
                crate::printer::print_block(&blk, &|_| None)
            ),
        };
        // SAFETY: je is a live Env; cb comes from `jit`.
        let js = unsafe { jit.enter(&mut je as *mut Env as *mut u8, cb.entry) };
        let jmem = snapshot(&rig.mem);
        let ctx = || {
            format!(
                "iteration {it}\n{}",
                crate::printer::print_block(&blk, &|_| None)
            )
        };
        let runs = [
            (is, &ie.hdr, &ie.g, &imem[..]),
            (js, &je.hdr, &je.g, &jmem[..]),
        ];
        assert_same_outcome(runs, &ctx);
        statuses[is as usize] += 1;
        for k in 0..4 {
            assert_eq!(ie.w[k], je.w[k], "w{k} {}", ctx());
        }
    }
    eprintln!("statuses (Next, Interrupted, Fault, Exception, Halt): {statuses:?}");
    assert!(statuses[ExitStatus::Fault as usize] > 10);
    assert!(statuses[ExitStatus::Next as usize] > 10);
}

/// The CPU state of the system-mode differential test: [`Env`] and a TLB.
#[repr(C)]
struct SysEnv {
    hdr: CpuHeader,
    g: [u64; 16],
    w: [u128; 4],
    tlb: crate::softmmu::Tlb,
}

/// Identity-mapped guest RAM [RAM, RAM + RAM_LEN): read-only below the last page, which is
/// unmapped; everything else faults. Physical RAM is a plain host buffer.
struct FlatSystem {
    ram: memmap2::MmapMut,
}

impl crate::softmmu::AddressTranslator for FlatSystem {
    fn translate(
        &self,
        _env: *mut u8,
        vaddr: u64,
        access: crate::softmmu::Access,
        _mmu_idx: u8,
    ) -> Result<crate::softmmu::PageMapping, FaultKind> {
        use crate::softmmu::Access;
        let page = vaddr & crate::softmmu::PAGE_MASK;
        let ro = page == RAM + RAM_LEN - 0x2000;
        if !(RAM..RAM + RAM_LEN - 0x1000).contains(&page)
            || (ro && access == Access::Write)
            || access == Access::Exec
        {
            return Err(access.fault());
        }
        Ok(crate::softmmu::PageMapping {
            paddr: page,
            read: true,
            write: !ro,
            exec: false,
        })
    }
}

impl crate::softmmu::PhysMemory for FlatSystem {
    fn ram_page(&self, paddr: u64) -> Option<*mut u8> {
        let off = paddr.checked_sub(RAM)?;
        (off < RAM_LEN).then(|| self.ram.as_ptr().wrapping_add(off as usize) as *mut u8)
    }
    fn io_read(&self, paddr: u64, _size: u8) -> Result<u64, crate::softmmu::BusFault> {
        Err(crate::softmmu::BusFault { paddr })
    }
    fn io_write(&self, paddr: u64, _: u8, _: u64) -> Result<(), crate::softmmu::BusFault> {
        Err(crate::softmmu::BusFault { paddr })
    }
}

/// Flat system RAM, its softmmu config (boxed: the Jit holds its address) and a Jit with
/// that softmmu, for quick-tier tests.
fn quick_rig() -> (Arc<FlatSystem>, Box<crate::softmmu::SoftmmuConfig>, Jit) {
    use crate::softmmu::{CodePages, SoftmmuConfig};
    let flat = Arc::new(FlatSystem {
        ram: memmap2::MmapOptions::new()
            .len(RAM_LEN as usize)
            .map_anon()
            .unwrap(),
    });
    let sys = Box::new(SoftmmuConfig {
        translator: flat.clone(),
        phys: flat.clone(),
        code_pages: CodePages::new(RAM, RAM_LEN),
        tlb_offset: offset_of!(SysEnv, tlb) as u32,
    });
    let mut jit = Jit::new(JitConfig {
        code_size: 1 << 20,
        guest_base: 0,
        guest_limit: 0,
        opt_speed: false,
        verify: true,
    })
    .unwrap();
    jit.set_softmmu(SoftmmuJit {
        tlb_offset: sys.tlb_offset,
        config: &*sys as *const SoftmmuConfig as usize,
        count_hits: false,
    });
    (flat, sys, jit)
}

/// The quick tier compiles a SetCond whose only reader is the BrCond after it as one
/// compare and jump: right for every condition and width, on values around the sign and
/// width boundaries (operands read straight from the CPU state).
#[test]
fn quick_tier_fused_compare_and_branch() {
    let (_flat, _sys, mut jit) = quick_rig();

    let values = [
        0u64,
        1,
        0x7f,
        0x80,
        0xff,
        0x7fff,
        0x8000,
        0xffff_ffff,
        1 << 63,
        u64::MAX,
    ];
    for ty in [Ty::I8, Ty::I16, Ty::I32, Ty::I64] {
        for cond in Cond::ALL {
            let mut b = Builder::new(0x4000);
            b.insn_start(0x4000);
            let x = b.get_global(ty, g(0));
            let y = b.get_global(ty, g(1));
            let c = b.setcond(cond, x, y);
            let taken = b.new_label();
            b.br_cond(c, taken);
            let one = b.const64(1);
            b.set_global(Ty::I64, g(2), one);
            b.exit(ExitStatus::Halt, 0x4004);
            b.label(taken);
            let two = b.const64(2);
            b.set_global(Ty::I64, g(2), two);
            b.exit(ExitStatus::Halt, 0x4008);
            let blk = b.finish();
            let cb = jit.compile_quick(&blk, 0).unwrap().0;
            for &va in &values {
                for &vb in &values {
                    let mut e = Box::new(SysEnv {
                        hdr: CpuHeader::default(),
                        g: [0; 16],
                        w: [0; 4],
                        tlb: crate::softmmu::Tlb::new(),
                    });
                    e.g[0] = va;
                    e.g[1] = vb;
                    // SAFETY: e is a live SysEnv; cb comes from `jit`.
                    let st = unsafe { jit.enter(&mut *e as *mut SysEnv as *mut u8, cb.entry) };
                    assert_eq!(st, ExitStatus::Halt);
                    let m = crate::interp::arith::mask(ty.bits());
                    let want = if cond.eval(va & m, vb & m, ty) { 2 } else { 1 };
                    assert_eq!(e.g[2], want, "{cond:?} {ty} {va:#x} {vb:#x}");
                }
            }
        }
    }
}

/// Random blocks without 128-bit values give bit-identical results in the interpreter and
/// the quick tier in system mode (softmmu hit paths, slow paths with faults, helpers).
/// Every other run starts with the TLB the interpreter's run filled, so that accesses take
/// the inline hit path.
#[test]
fn quick_tier_differential_against_interpreter() {
    use crate::softmmu::Tlb;
    let (flat, sys, mut jit) = quick_rig();
    let seed = std::env::var("HERON_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0ddc_0ffe_e123_4579_u64);
    let iters = std::env::var("HERON_DIFF_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut r = Rng(seed | 1);
    let mut regs = crate::interp::InterpRegs::default();
    let mut statuses = [0usize; 5];
    let ram_bytes = |f: &FlatSystem| f.ram[..(RAM_LEN - 0x1000) as usize].to_vec();
    let fill = |f: &FlatSystem, bytes: &[u8]| {
        let p = f.ram.as_ptr() as *mut u8;
        // SAFETY: inside the mapping; no JIT code or interpreter runs meanwhile.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    };
    for it in 0..iters {
        let blk = random_block_with(&mut r, true);
        if let Err(e) = crate::verify::verify(&blk) {
            panic!("generator made bad IR: {e}");
        }
        let mut g0 = [0u64; 16];
        for v in &mut g0 {
            *v = r.value();
        }
        let mut ram = vec![0u8; (RAM_LEN - 0x1000) as usize];
        for c in ram.chunks_mut(8) {
            c.copy_from_slice(&r.value().to_le_bytes());
        }
        let fresh = |tlb: Tlb| {
            Box::new(SysEnv {
                hdr: CpuHeader::default(),
                g: g0,
                w: [0; 4],
                tlb,
            })
        };
        fill(&flat, &ram);
        let mut ie = fresh(Tlb::new());
        let ib = crate::interp::InterpBlock::new(&blk);
        // SAFETY: ie is a live SysEnv (header first, Tlb at the config's offset) covering
        // every global the block uses; helpers are ours.
        let is = unsafe { ib.run_system(&mut *ie as *mut SysEnv as *mut u8, &sys, &mut regs) };
        let imem = ram_bytes(&flat);
        fill(&flat, &ram);
        let tlb = if it % 2 == 1 {
            std::mem::take(&mut ie.tlb)
        } else {
            Tlb::new()
        };
        let mut je = fresh(tlb);
        let ctx = || {
            format!(
                "iteration {it}\n{}",
                crate::printer::print_block(&blk, &|_| None)
            )
        };
        let cb = match jit.compile_quick(&blk, 0) {
            Ok((cb, _)) => cb,
            Err(JitError::BufferFull) => {
                jit.flush();
                jit.compile_quick(&blk, 0).unwrap().0
            }
            Err(e) => panic!("{e} {}", ctx()),
        };
        // SAFETY: je is a live SysEnv; cb comes from `jit`, whose softmmu config `sys`
        // outlives the call.
        let js = unsafe { jit.enter(&mut *je as *mut SysEnv as *mut u8, cb.entry) };
        let jmem = ram_bytes(&flat);
        let runs = [
            (is, &ie.hdr, &ie.g, &imem[..]),
            (js, &je.hdr, &je.g, &jmem[..]),
        ];
        assert_same_outcome(runs, &ctx);
        statuses[is as usize] += 1;
    }
    eprintln!("statuses (Next, Interrupted, Fault, Exception, Halt): {statuses:?}");
    assert!(statuses[ExitStatus::Fault as usize] > 10);
    assert!(statuses[ExitStatus::Next as usize] > 10);
}

/// A helper that writes globals behind the JIT's back: g[a % 14] ^= b.
extern "C" fn h_poke(env: *mut u8, a: u64, b: u64) -> u64 {
    // SAFETY: env is the test Env.
    let e = unsafe { &mut *(env as *mut Env) };
    e.g[(a % 14) as usize] ^= b;
    a
}
crate::helper!(H_POKE = h_poke, 2, Effects::WRITES);

/// One random member of a region test: a loop counter in g15 (Halt at `limit`), random
/// global arithmetic (some as I32 views of I64 globals), helpers that write globals, guest
/// memory, inner branches, then a direct jump to one of two blocks of `pcs`.
fn region_member(r: &mut Rng, pc: u64, pcs: &[u64], limit: u64) -> Block {
    let mut b = Builder::new(pc);
    b.block.guest_size = 0x40;
    b.block.num_insns = 4;
    b.insn_start(pc);
    let c = b.get_global(Ty::I64, g(15));
    let c1 = b.bin_imm(BinOp::Add, c, 1);
    b.set_global(Ty::I64, g(15), c1);
    let lim = b.const64(limit);
    let more = b.setcond(Cond::LtU, c1, lim);
    let go = b.new_label();
    b.br_cond(more, go);
    b.exit(ExitStatus::Halt, pc);
    b.label(go);
    for k in 0..r.below(8) + 2 {
        b.insn_start(pc + 4 + 4 * k as u64);
        let (x, y, z) = (r.below(14) as u32, r.below(14) as u32, r.below(14) as u32);
        match r.below(7) {
            0 | 1 => {
                let op = r.pick(&[BinOp::Add, BinOp::Xor, BinOp::Mul, BinOp::ShrU, BinOp::Sub]);
                let a = b.get_global(Ty::I64, g(x));
                let c = b.get_global(Ty::I64, g(y));
                let v = b.bin(op, a, c);
                b.set_global(Ty::I64, g(z), v);
            }
            2 => {
                let a = b.get_global(Ty::I32, g(x));
                let v = b.bin_imm(BinOp::Add, a, r.next() & 0xffff);
                b.set_global(Ty::I32, g(z), v);
            }
            3 => {
                let a = b.get_global(Ty::I64, g(x));
                let k = b.const64(r.next());
                b.call_void(&H_POKE, &[a, k]);
            }
            4 => {
                let a = b.get_global(Ty::I64, g(x));
                let off = b.bin_imm(BinOp::And, a, 0xff8);
                let addr = b.bin_imm(BinOp::Add, off, RAM);
                let v = b.load(Ty::I64, addr, MemOp::le(8, false));
                let c = b.get_global(Ty::I64, g(y));
                let s = b.bin(BinOp::Add, v, c);
                b.store(s, addr, MemOp::le(8, false));
                b.set_global(Ty::I64, g(z), v);
            }
            5 => {
                // An inner diamond.
                let a = b.get_global(Ty::I64, g(x));
                let bit = b.bin_imm(BinOp::And, a, 1 << r.below(8));
                let skip = b.new_label();
                b.br_cond(bit, skip);
                let k = b.const64(r.next());
                b.call_void(&H_POKE, &[a, k]);
                let v = b.bin_imm(BinOp::Add, a, 3);
                b.set_global(Ty::I64, g(y), v);
                b.label(skip);
            }
            _ => {
                let a = b.get_global(Ty::I64, g(x));
                let v = b.call(&H_MIX, &[a, c1]);
                b.set_global(Ty::I64, g(y), v);
            }
        }
    }
    let a = b.get_global(Ty::I64, g(r.below(14) as u32));
    let bit = b.bin_imm(BinOp::And, a, 1 << r.below(4));
    let other = b.new_label();
    b.br_cond(bit, other);
    b.goto_block(r.pick(pcs));
    b.label(other);
    b.goto_block(r.pick(pcs));
    b.finish()
}

/// Random loops of blocks merged into regions give the interpreter's results.
#[test]
fn regions_match_the_interpreter() {
    let mut rig = Rig::new();
    rig.jit.set_self_loops(true);
    let mut regs = crate::interp::InterpRegs::default();
    let mut r = Rng(0x5eed_0f2e_610a_5001);
    let mut merged = 0;
    for it in 0..300 {
        let pcs: Vec<u64> = (0..4).map(|k| 0x4000 + 0x40 * k).collect();
        let limit = 20 + r.below(200) as u64;
        let blocks: Vec<Block> = pcs
            .iter()
            .map(|&pc| region_member(&mut r, pc, &pcs, limit))
            .collect();
        let by_pc = |pc: u64| blocks.iter().find(|b| b.pc == pc).cloned();
        let mut init = Env::default();
        for k in 0..15 {
            init.g[k] = r.value();
        }
        let ram: Vec<u8> = (0..RAM_LEN - 0x2000).map(|_| r.next() as u8).collect();
        // Reference: the interpreter, one block at a time.
        restore(&rig.mem, &ram);
        let mut ie = Env {
            g: init.g,
            ..Env::default()
        };
        ie.hdr.pc = pcs[0];
        let interp: Vec<_> = blocks.iter().map(crate::interp::InterpBlock::new).collect();
        let is = loop {
            let i = pcs.iter().position(|&p| p == ie.hdr.pc).unwrap();
            // SAFETY: ie is a live Env; helpers are ours.
            let s = unsafe { interp[i].run(&mut ie as *mut Env as *mut u8, &rig.mem, &mut regs) };
            if s != ExitStatus::Next {
                break s;
            }
        };
        let imem = snapshot(&rig.mem);
        // JIT: a region per head.
        restore(&rig.mem, &ram);
        let mut compiled = Vec::new();
        for &pc in &pcs {
            let reg = region::form(by_pc(pc).unwrap(), region::RegionLimits::default(), by_pc);
            crate::verify::verify(&reg).unwrap();
            if reg.ops.len() > by_pc(pc).unwrap().ops.len() {
                merged += 1;
            }
            // Odd iterations use the optimiser, as the engine does for regions.
            compiled.push(if it % 2 == 1 {
                rig.jit.compile_optimized(&reg).unwrap()
            } else {
                rig.jit.compile(&reg).unwrap()
            });
        }
        let mut je = Env {
            g: init.g,
            ..Env::default()
        };
        je.hdr.pc = pcs[0];
        let js = loop {
            let i = pcs.iter().position(|&p| p == je.hdr.pc).unwrap();
            let s = rig.enter(&compiled[i], &mut je);
            if s != ExitStatus::Next {
                break s;
            }
        };
        let jmem = snapshot(&rig.mem);
        assert_eq!(is, js, "iteration {it}");
        assert_eq!(ie.hdr.pc, je.hdr.pc, "iteration {it}");
        assert_eq!(ie.g, je.g, "iteration {it}");
        assert!(imem == jmem, "iteration {it}: memory differs");
        rig.jit.flush();
    }
    assert!(merged > 300, "only {merged} regions were formed");
}

/// Region formation: members are the blocks on loops through the head, in the head's page,
/// laid out so that every internal jump goes forward or back to the head.
#[test]
fn region_membership_and_layout() {
    let blk = |pc: u64, succ: &[u64]| {
        let mut b = Builder::new(pc);
        b.block.guest_size = 4;
        b.insn_start(pc);
        let c = b.get_global(Ty::I64, g(0));
        for (k, &s) in succ.iter().enumerate() {
            if k + 1 < succ.len() {
                let l = b.new_label();
                let bit = b.bin_imm(BinOp::And, c, 1 << k);
                b.br_cond(bit, l);
                b.goto_block(s);
                b.label(l);
            } else {
                b.goto_block(s);
            }
        }
        b.finish()
    };
    // 0x100 -> 0x200 -> {0x100, 0x300}; 0x300 -> 0x9000 (other page, exit); 0x400 unreachable.
    let all = [
        blk(0x100, &[0x200]),
        blk(0x200, &[0x100, 0x300]),
        blk(0x300, &[0x9000]),
        blk(0x400, &[0x100]),
    ];
    let fetch = |pc: u64| all.iter().find(|b| b.pc == pc).cloned();
    let reg = region::form(all[0].clone(), region::RegionLimits::default(), fetch);
    crate::verify::verify(&reg).unwrap();
    let gotos: Vec<u64> = reg
        .ops
        .iter()
        .filter_map(|o| match o {
            Op::GotoBlock { pc } => Some(*pc),
            _ => None,
        })
        .collect();
    // 0x200 is merged (its goto 0x100 is the self loop), 0x300 is not a member.
    assert_eq!(gotos, vec![0x100, 0x300]);
    assert_eq!(reg.guest_size, 0x104);
    // A block with no way back stays alone.
    let single = region::form(all[2].clone(), region::RegionLimits::default(), fetch);
    assert_eq!(single, all[2]);
    // Limits: one block only.
    let one = region::RegionLimits {
        max_blocks: 1,
        ..Default::default()
    };
    assert_eq!(region::form(all[0].clone(), one, fetch), all[0]);
}

/// A temporary read before it is written reads zero in every run of a self-looping block,
/// as in the interpreter (the loop must not carry the previous iteration's value).
#[test]
fn self_loops_restart_temporaries_at_zero() {
    let mut rig = Rig::new();
    rig.jit.set_self_loops(true);
    let mut b = Builder::new(0x1000);
    b.insn_start(0x1000);
    let carried = b.temp(Ty::I64);
    let acc = b.get_global(Ty::I64, g(1));
    let acc = b.bin(BinOp::Add, acc, carried);
    b.set_global(Ty::I64, g(1), acc);
    let five = b.const64(5);
    b.mov(carried, five);
    let x = b.get_global(Ty::I64, g(0));
    let x = b.bin_imm(BinOp::Sub, x, 1);
    b.set_global(Ty::I64, g(0), x);
    let zero = b.const64(0);
    let done = b.setcond(Cond::Eq, x, zero);
    let out = b.new_label();
    b.br_cond(done, out);
    b.goto_block(0x1000);
    b.label(out);
    b.exit(ExitStatus::Halt, 0x1004);
    let blk = b.finish();
    crate::verify::verify(&blk).unwrap();
    let mut env = Env::default();
    env.g[0] = 10;
    assert_eq!(rig.run(&blk, &mut env), ExitStatus::Halt);
    assert_eq!((env.g[0], env.g[1]), (0, 0));
    let cb = rig.jit.compile_optimized(&blk).unwrap();
    env.g[0] = 10;
    assert_eq!(rig.enter(&cb, &mut env), ExitStatus::Halt);
    assert_eq!((env.g[0], env.g[1]), (0, 0));
}
