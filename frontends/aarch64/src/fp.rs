//! Scalar floating-point instructions of the A64 "Data Processing -- Scalar Floating-Point
//! and Advanced SIMD" group: FP<->integer and FP<->fixed-point conversions, FMOV (register,
//! general, immediate, top half), 1-, 2- and 3-source arithmetic, compares, conditional
//! compares and selects. [`exec`] decodes and executes one instruction on the SIMD&FP
//! register file with the Arm semantics of [`crate::fpu`]; it is pure in its inputs, so the
//! translator runs it once at translate time to learn whether the encoding is allocated and
//! what general-purpose I/O it needs (see [`Io`]).

use crate::fpu::{self, Ctx, D, Fmt, H, Rounding, S};

/// What an instruction of this group does besides writing V registers and FPSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// Nothing else.
    None,
    /// Writes general register Rd (bits 4..0; 31 = XZR) with this value (already
    /// zero-extended for a W destination).
    X(u64),
    /// Writes PSTATE.NZCV (bits 31..28).
    Nzcv(u64),
    /// Writes general register Rd with the low 32 bits (zero-extended) and PSTATE.NZCV
    /// with bits 63..60 (FJCVTZS).
    XNzcv(u64),
}

/// General-purpose inputs an instruction needs from the translator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Io {
    /// Reads general register Rn (bits 9..5, 31 = XZR).
    pub reads_xn: bool,
    /// Needs the truth of the condition in bits 15..12.
    pub cond: bool,
}

/// The SIMD&FP register file plus FP control/status, as the executors see it.
pub struct Regs<'a> {
    pub v: &'a mut [u128; 32],
    pub fpcr: u64,
    pub fpsr: &'a mut u64,
}

impl Regs<'_> {
    pub fn ctx(&self) -> Ctx {
        Ctx::new(self.fpcr)
    }
    pub fn flags(&mut self, c: &Ctx) {
        *self.fpsr |= c.flags as u64;
    }
    /// The low `bits` of V[n].
    pub fn get(&self, n: u32, bits: u32) -> u64 {
        let x = self.v[n as usize];
        if bits >= 64 {
            x as u64
        } else {
            (x as u64) & ((1u64 << bits) - 1)
        }
    }
    /// Write a scalar to V[n], zeroing the rest of the register.
    pub fn set(&mut self, n: u32, val: u64, bits: u32) {
        let m = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        self.v[n as usize] = (val & m) as u128;
    }
}

/// Undefined (unallocated or unimplemented) encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Undef;

fn bits(x: u32, hi: u32, lo: u32) -> u32 {
    (x >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// The scalar format of `ftype` (00 S, 01 D, 11 H: FEAT_FP16).
fn fmt_of(ftype: u32) -> Result<Fmt, Undef> {
    match ftype {
        0 => Ok(S),
        1 => Ok(D),
        3 => Ok(H),
        _ => Err(Undef),
    }
}

/// VFPExpandImm.
pub fn vfp_expand_imm(imm8: u32, f: Fmt) -> u64 {
    let e = f.exp_bits;
    let fr = f.mant;
    let sign = (imm8 >> 7) as u64 & 1;
    let b6 = (imm8 >> 6) as u64 & 1;
    // exp = NOT(imm8<6>) : Replicate(imm8<6>, E-3) : imm8<5:4>
    let mut exp = (1 - b6) << (e - 1);
    if b6 == 1 {
        exp |= ((1u64 << (e - 3)) - 1) << 2;
    }
    exp |= (imm8 as u64 >> 4) & 3;
    let frac = ((imm8 as u64) & 0xf) << (fr - 4);
    sign << (e + fr) | exp << fr | frac
}

/// Which general-purpose inputs `insn` (of this group) needs.
pub fn io(insn: u32) -> Io {
    let mut io = Io::default();
    if bits(insn, 28, 24) == 0b11110 && insn & (1 << 21) == 0 {
        io.reads_xn = matches!(bits(insn, 18, 16), 0b010 | 0b011);
    }
    if bits(insn, 28, 24) == 0b11110 && insn & (1 << 21) != 0 {
        match bits(insn, 11, 10) {
            0b00 if bits(insn, 15, 10) == 0 => {
                let opcode = bits(insn, 18, 16);
                io.reads_xn = matches!(opcode, 0b010 | 0b011 | 0b111);
            }
            0b01 | 0b11 => io.cond = true,
            _ => {}
        }
    }
    io
}

/// Execute one scalar FP instruction (`insn` bits 28..24 = 11110 or 11111, bit 30 = 0).
/// `xn` is general register Rn when [`io`] says so; `cond` the condition's truth.
pub fn exec(r: &mut Regs, insn: u32, xn: u64, cond: bool) -> Result<Out, Undef> {
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let rm = (insn >> 16) & 31;
    let ftype = bits(insn, 23, 22);
    let sf = insn >> 31;
    if insn & (1 << 29) != 0 || insn & (1 << 30) != 0 {
        return Err(Undef);
    }
    if bits(insn, 28, 24) == 0b11111 {
        if sf != 0 {
            return Err(Undef);
        }
        // FMADD/FMSUB/FNMADD/FNMSUB
        let f = fmt_of(ftype)?;
        let ra = (insn >> 10) & 31;
        let o1 = (insn >> 21) & 1;
        let o0 = (insn >> 15) & 1;
        let nb = f.bits();
        let mut a = r.get(ra, nb);
        let mut n = r.get(rn, nb);
        let m = r.get(rm, nb);
        if o1 == 1 {
            a = fpu::neg(f, a);
        }
        if o0 != o1 {
            n = fpu::neg(f, n);
        }
        let mut c = r.ctx();
        let res = fpu::mul_add(&mut c, f, a, n, m);
        r.flags(&c);
        r.set(rd, res, nb);
        return Ok(Out::None);
    }
    if insn & (1 << 21) == 0 {
        return conv_fixed(r, insn, xn);
    }
    match bits(insn, 11, 10) {
        0b01 => {
            // FCCMP / FCCMPE
            if sf != 0 {
                return Err(Undef);
            }
            let f = fmt_of(ftype)?;
            if cond {
                let mut c = r.ctx();
                let nz = fpu::compare(
                    &mut c,
                    f,
                    r.get(rn, f.bits()),
                    r.get(rm, f.bits()),
                    insn & 16 != 0,
                );
                r.flags(&c);
                Ok(Out::Nzcv(nz))
            } else {
                Ok(Out::Nzcv(((insn & 15) as u64) << 28))
            }
        }
        0b11 => {
            // FCSEL
            if sf != 0 {
                return Err(Undef);
            }
            let f = fmt_of(ftype)?;
            let v = if cond {
                r.get(rn, f.bits())
            } else {
                r.get(rm, f.bits())
            };
            r.set(rd, v, f.bits());
            Ok(Out::None)
        }
        0b10 => {
            if sf != 0 {
                return Err(Undef);
            }
            let f = fmt_of(ftype)?;
            let nb = f.bits();
            let a = r.get(rn, nb);
            let b = r.get(rm, nb);
            let mut c = r.ctx();
            let res = match bits(insn, 15, 12) {
                0 => fpu::mul(&mut c, f, a, b, false),
                1 => fpu::div(&mut c, f, a, b),
                2 => fpu::add(&mut c, f, a, b, false),
                3 => fpu::add(&mut c, f, a, b, true),
                4 => fpu::max_min(&mut c, f, a, b, true, false),
                5 => fpu::max_min(&mut c, f, a, b, false, false),
                6 => fpu::max_min(&mut c, f, a, b, true, true),
                7 => fpu::max_min(&mut c, f, a, b, false, true),
                8 => fpu::neg(f, fpu::mul(&mut c, f, a, b, false)),
                _ => return Err(Undef),
            };
            r.flags(&c);
            r.set(rd, res, nb);
            Ok(Out::None)
        }
        _ => {
            if bits(insn, 15, 10) == 0 {
                return conv_int(r, insn, xn);
            }
            if sf != 0 {
                return Err(Undef);
            }
            if bits(insn, 14, 10) == 0b10000 {
                return dp1(r, insn);
            }
            if bits(insn, 13, 10) == 0b1000 {
                // FCMP / FCMPE
                if bits(insn, 15, 14) != 0 || insn & 7 != 0 {
                    return Err(Undef);
                }
                let f = fmt_of(ftype)?;
                let a = r.get(rn, f.bits());
                let b = if insn & 8 != 0 {
                    0
                } else {
                    r.get(rm, f.bits())
                };
                let mut c = r.ctx();
                let nz = fpu::compare(&mut c, f, a, b, insn & 16 != 0);
                r.flags(&c);
                return Ok(Out::Nzcv(nz));
            }
            if bits(insn, 12, 10) == 0b100 {
                // FMOV (scalar, immediate)
                if bits(insn, 9, 5) != 0 {
                    return Err(Undef);
                }
                let f = fmt_of(ftype)?;
                let v = vfp_expand_imm(bits(insn, 20, 13), f);
                r.set(rd, v, f.bits());
                return Ok(Out::None);
            }
            Err(Undef)
        }
    }
}

/// FP data-processing (1 source).
fn dp1(r: &mut Regs, insn: u32) -> Result<Out, Undef> {
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let opcode = bits(insn, 20, 15);
    let ftype = bits(insn, 23, 22);
    if opcode & 0b111100 == 0b000100 {
        // FCVT between precisions
        let from = fmt_of(ftype)?;
        let to = match opcode & 3 {
            0 => S,
            1 => D,
            3 => H,
            _ => return Err(Undef),
        };
        if from == to {
            return Err(Undef);
        }
        let mut c = r.ctx();
        let rm = c.rmode;
        let res = fpu::convert(&mut c, from, to, r.get(rn, from.bits()), rm);
        r.flags(&c);
        r.set(rd, res, to.bits());
        return Ok(Out::None);
    }
    let f = fmt_of(ftype)?;
    let nb = f.bits();
    let a = r.get(rn, nb);
    let mut c = r.ctx();
    let rmode = c.rmode;
    let res = match opcode {
        0 => a,
        1 => fpu::abs(f, a),
        2 => fpu::neg(f, a),
        3 => fpu::sqrt(&mut c, f, a),
        8 => fpu::round_int(&mut c, f, a, Rounding::TieEven, false),
        9 => fpu::round_int(&mut c, f, a, Rounding::PosInf, false),
        10 => fpu::round_int(&mut c, f, a, Rounding::NegInf, false),
        11 => fpu::round_int(&mut c, f, a, Rounding::Zero, false),
        12 => fpu::round_int(&mut c, f, a, Rounding::TieAway, false),
        14 => fpu::round_int(&mut c, f, a, rmode, true),
        15 => fpu::round_int(&mut c, f, a, rmode, false),
        // FRINT32Z, FRINT32X, FRINT64Z, FRINT64X (FEAT_FRINTTS; single and double only)
        16..=19 if f != H => {
            let rm = if opcode & 1 == 0 {
                Rounding::Zero
            } else {
                rmode
            };
            let size = if opcode < 18 { 32 } else { 64 };
            fpu::round_int_n(&mut c, f, a, rm, size)
        }
        _ => return Err(Undef),
    };
    r.flags(&c);
    r.set(rd, res, nb);
    Ok(Out::None)
}

/// Conversion between floating-point and integer (incl. FMOV general).
fn conv_int(r: &mut Regs, insn: u32, xn: u64) -> Result<Out, Undef> {
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let sf = insn >> 31;
    let ftype = bits(insn, 23, 22);
    let rmode = bits(insn, 20, 19);
    let opcode = bits(insn, 18, 16);
    let ib = if sf == 1 { 64 } else { 32 };
    let zx = |v: u64| if sf == 1 { v } else { v & 0xffff_ffff };
    if (sf, ftype, rmode, opcode) == (0, 1, 3, 6) {
        // FJCVTZS (FEAT_JSCVT): NZCV = 0:Z:0:0
        let mut c = r.ctx();
        let (v, z) = fpu::to_int32_js(&mut c, r.get(rn, 64));
        r.flags(&c);
        return Ok(Out::XNzcv(v as u64 | (z as u64) << 62));
    }
    if opcode >= 6 {
        // FMOV general
        let to_gpr = opcode == 6;
        return match (sf, ftype, rmode) {
            (0, 0, 0) | (1, 1, 0) => {
                if to_gpr {
                    Ok(Out::X(r.get(rn, ib)))
                } else {
                    r.set(rd, zx(xn), ib);
                    Ok(Out::None)
                }
            }
            (_, 3, 0) => {
                // FMOV Wd/Xd, Hn and Hd, Wn/Xn (FEAT_FP16)
                if to_gpr {
                    Ok(Out::X(r.get(rn, 16)))
                } else {
                    r.set(rd, xn, 16);
                    Ok(Out::None)
                }
            }
            (1, 2, 1) => {
                if to_gpr {
                    Ok(Out::X((r.v[rn as usize] >> 64) as u64))
                } else {
                    let v = &mut r.v[rd as usize];
                    *v = (*v & u64::MAX as u128) | (xn as u128) << 64;
                    Ok(Out::None)
                }
            }
            _ => Err(Undef),
        };
    }
    let f = fmt_of(ftype)?;
    let mut c = r.ctx();
    let out = match opcode {
        0 | 1 => {
            let rm = match rmode {
                0 => Rounding::TieEven,
                1 => Rounding::PosInf,
                2 => Rounding::NegInf,
                _ => Rounding::Zero,
            };
            let v = fpu::to_fixed(&mut c, f, r.get(rn, f.bits()), 0, opcode == 1, ib, rm);
            Out::X(v)
        }
        4 | 5 if rmode == 0 => {
            let v = fpu::to_fixed(
                &mut c,
                f,
                r.get(rn, f.bits()),
                0,
                opcode == 5,
                ib,
                Rounding::TieAway,
            );
            Out::X(v)
        }
        2 | 3 if rmode == 0 => {
            let rm = c.rmode;
            let v = fpu::from_fixed(&mut c, f, xn, 0, opcode == 3, ib, rm);
            r.set(rd, v, f.bits());
            Out::None
        }
        _ => return Err(Undef),
    };
    r.flags(&c);
    Ok(out)
}

/// Conversion between floating-point and fixed-point.
fn conv_fixed(r: &mut Regs, insn: u32, xn: u64) -> Result<Out, Undef> {
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let sf = insn >> 31;
    let scale = bits(insn, 15, 10);
    if sf == 0 && scale < 32 {
        return Err(Undef);
    }
    let f = fmt_of(bits(insn, 23, 22))?;
    let fbits = 64 - scale;
    let ib = if sf == 1 { 64 } else { 32 };
    let mut c = r.ctx();
    let out = match (bits(insn, 20, 19), bits(insn, 18, 16)) {
        (3, op @ (0 | 1)) => Out::X(fpu::to_fixed(
            &mut c,
            f,
            r.get(rn, f.bits()),
            fbits,
            op == 1,
            ib,
            Rounding::Zero,
        )),
        (0, op @ (2 | 3)) => {
            let rm = c.rmode;
            let v = fpu::from_fixed(&mut c, f, xn, fbits, op == 3, ib, rm);
            r.set(rd, v, f.bits());
            Out::None
        }
        _ => return Err(Undef),
    };
    r.flags(&c);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &mut [u128; 32], fpcr: u64, insn: u32, xn: u64, cond: bool) -> (Out, u64) {
        let mut fpsr = 0;
        let mut r = Regs {
            v,
            fpcr,
            fpsr: &mut fpsr,
        };
        let o = exec(&mut r, insn, xn, cond).expect("allocated");
        (o, fpsr)
    }

    #[test]
    fn fadd_fmov_fcvtzs() {
        let mut v = [0u128; 32];
        v[1] = 1.5f64.to_bits() as u128 | 0xdead << 64;
        v[2] = 2.25f64.to_bits() as u128;
        // fadd d0, d1, d2
        run(&mut v, 0, 0x1e62_2820, 0, false);
        assert_eq!(v[0], 3.75f64.to_bits() as u128);
        // fcvtzs x3, d0 -> 3, inexact
        let (o, fpsr) = run(&mut v, 0, 0x9e78_0003, 0, false);
        assert_eq!(o, Out::X(3));
        assert_eq!(fpsr, fpu::IXC as u64);
        // fmov d5, #-2.0 (imm8 = 0x80)
        run(&mut v, 0, 0x1e70_1005, 0, false);
        assert_eq!(v[5], (-2.0f64).to_bits() as u128);
        // fmov v7.d[1], x0 keeps the low half
        v[7] = 5;
        run(&mut v, 0, 0x9eaf_0007, 0x1234, false);
        assert_eq!(v[7], 5 | 0x1234 << 64);
        // fcmp d1, d2 -> less: N
        let (o, _) = run(&mut v, 0, 0x1e62_2020, 0, false);
        assert_eq!(o, Out::Nzcv(0x8000_0000));
    }

    #[test]
    fn fmadd_family_signs() {
        let mut v = [0u128; 32];
        v[1] = 2.0f32.to_bits() as u128;
        v[2] = 3.0f32.to_bits() as u128;
        v[3] = 1.0f32.to_bits() as u128;
        // fmadd s0, s1, s2, s3 = 7 ; fmsub = -5 ; fnmadd = -7 ; fnmsub = 5
        for (insn, want) in [
            (0x1f02_0c20u32, 7.0f32),
            (0x1f02_8c20, -5.0),
            (0x1f22_0c20, -7.0),
            (0x1f22_8c20, 5.0),
        ] {
            run(&mut v, 0, insn, 0, false);
            assert_eq!(v[0], want.to_bits() as u128, "{insn:#x}");
        }
    }

    #[test]
    fn expand_imm() {
        assert_eq!(vfp_expand_imm(0x70, S), 1.0f32.to_bits() as u64);
        assert_eq!(vfp_expand_imm(0x00, D), 2.0f64.to_bits());
        assert_eq!(vfp_expand_imm(0x1f, S), 7.75f32.to_bits() as u64);
    }
}
