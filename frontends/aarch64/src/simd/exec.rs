//! Advanced SIMD data processing (vector and scalar forms) decoded after the Arm ARM's
//! encoding tables and executed element by element on the register file: copy/dup/ins/umov,
//! modified immediates, shifts by immediate, three-same / three-different / two-register
//! misc / across-lanes / pairwise / by-element groups (integer and single/double FP),
//! permutes, EXT and TBL/TBX. Saturating operations set FPSR.QC; FP elements use
//! [`crate::fpu`] with the FPCR controls, in half (FEAT_FP16: the "(FP16)" three-same,
//! two-register misc, across-lanes, pairwise, by-element, fixed-point and FMOV forms),
//! single and double precision.

// Binary literals are grouped by encoding field (U, a, opcode), not by nibble.
#![allow(clippy::unusual_byte_groupings)]

use crate::fp::{Out, Regs, Undef, vfp_expand_imm};
use crate::fpu::{self, CmpOp, Ctx, D, Fmt, H, QC, Rounding, S};

fn bits(x: u32, hi: u32, lo: u32) -> u32 {
    (x >> lo) & ((1 << (hi - lo + 1)) - 1)
}

fn mask(es: u32) -> u64 {
    if es >= 64 { u64::MAX } else { (1u64 << es) - 1 }
}

/// Element `i` of width `es` bits of `v`.
#[inline]
pub fn el(v: u128, i: u32, es: u32) -> u64 {
    ((v >> (i * es)) as u64) & mask(es)
}

#[inline]
pub fn put(v: &mut u128, i: u32, es: u32, x: u64) {
    let m = (mask(es) as u128) << (i * es);
    *v = (*v & !m) | (((x & mask(es)) as u128) << (i * es));
}

/// All elements of `v` (lane i at index i; 128 / es of them, the rest zero).
#[inline]
fn unpack(v: u128, es: u32) -> [u64; 16] {
    let b = v.to_le_bytes();
    let mut r = [0u64; 16];
    match es {
        8 => {
            for i in 0..16 {
                r[i] = b[i] as u64;
            }
        }
        16 => {
            for i in 0..8 {
                r[i] = u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as u64;
            }
        }
        32 => {
            for i in 0..4 {
                r[i] =
                    u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]) as u64;
            }
        }
        _ => {
            r[0] = v as u64;
            r[1] = (v >> 64) as u64;
        }
    }
    r
}

/// Inverse of [`unpack`] (each lane truncated to `es` bits).
#[inline]
fn pack(r: &[u64; 16], es: u32) -> u128 {
    let mut b = [0u8; 16];
    match es {
        8 => {
            for i in 0..16 {
                b[i] = r[i] as u8;
            }
        }
        16 => {
            for i in 0..8 {
                b[2 * i..2 * i + 2].copy_from_slice(&(r[i] as u16).to_le_bytes());
            }
        }
        32 => {
            for i in 0..4 {
                b[4 * i..4 * i + 4].copy_from_slice(&(r[i] as u32).to_le_bytes());
            }
        }
        _ => return r[0] as u128 | (r[1] as u128) << 64,
    }
    u128::from_le_bytes(b)
}

fn sx(x: u64, es: u32) -> i64 {
    let s = 64 - es;
    ((x << s) as i64) >> s
}

/// Element value as a signed or unsigned integer.
fn ival(x: u64, es: u32, unsigned: bool) -> i128 {
    if unsigned {
        (x & mask(es)) as i128
    } else {
        sx(x, es) as i128
    }
}

/// SatQ: saturate to `es` bits; returns (value, saturated).
fn sat(x: i128, es: u32, unsigned: bool) -> (u64, bool) {
    let (lo, hi) = if unsigned {
        (0i128, mask(es) as i128)
    } else {
        (-(1i128 << (es - 1)), (1i128 << (es - 1)) - 1)
    };
    if x < lo {
        ((lo as u64) & mask(es), true)
    } else if x > hi {
        ((hi as u64) & mask(es), true)
    } else {
        ((x as u64) & mask(es), false)
    }
}

/// Result register width from Q.
fn datasize(q: u32) -> u32 {
    if q == 1 { 128 } else { 64 }
}

fn trunc(v: u128, ds: u32) -> u128 {
    if ds == 128 { v } else { v & u64::MAX as u128 }
}

struct St<'r, 'a> {
    r: &'r mut Regs<'a>,
    qc: bool,
    c: Ctx,
}

impl St<'_, '_> {
    fn v(&self, n: u32) -> u128 {
        self.r.v[n as usize]
    }
    fn set(&mut self, n: u32, v: u128, ds: u32) {
        self.r.v[n as usize] = trunc(v, ds);
    }
    fn sat(&mut self, x: i128, es: u32, unsigned: bool) -> u64 {
        let (v, s) = sat(x, es, unsigned);
        self.qc |= s;
        v
    }
    fn finish(self) {
        let fl = self.c.flags as u64 | if self.qc { QC as u64 } else { 0 };
        *self.r.fpsr |= fl;
    }
}

fn fmt_sz(sz: u32) -> Fmt {
    if sz == 1 { D } else { S }
}

/// Execute one Advanced SIMD instruction (bits 28..25 = x111, not a scalar-FP or crypto
/// encoding). `xn` is general register Rn for DUP/INS (general).
pub fn exec(r: &mut Regs, insn: u32, xn: u64) -> Result<Out, Undef> {
    let c = r.ctx();
    let mut st = St { r, qc: false, c };
    let out = dispatch(&mut st, insn, xn)?;
    st.finish();
    Ok(out)
}

/// Whether `insn` reads general register Rn (DUP general, INS general).
pub fn reads_xn(insn: u32) -> bool {
    insn & 0xbfe0_8400 == 0x0e00_0400 && matches!(bits(insn, 14, 11), 0b0001 | 0b0011)
}

fn dispatch(s: &mut St, insn: u32, xn: u64) -> Result<Out, Undef> {
    let op0 = insn >> 28;
    let op1 = bits(insn, 24, 23);
    let op2 = bits(insn, 22, 19);
    let op3 = bits(insn, 18, 10);
    let scalar = op0 & 0b1101 == 0b0101;
    let vector = op0 & 0b1001 == 0;
    if !scalar && !vector {
        return Err(Undef);
    }
    if vector {
        if op0 & 0b1011 == 0 && op1 < 2 && op2 & 0b0100 == 0 && op3 & 0b000100011 == 0 {
            return tbl(s, insn);
        }
        if op0 & 0b1011 == 0 && op1 < 2 && op2 & 0b0100 == 0 && op3 & 0b000100011 == 0b10 {
            return permute(s, insn);
        }
        if op0 & 0b1011 == 0b0010 && op1 < 2 && op2 & 0b0100 == 0 && op3 & 0b000100001 == 0 {
            return ext(s, insn);
        }
    }
    if op1 == 0 && op2 & 0b1100 == 0 && op3 & 0b000100001 == 1 {
        return copy(s, insn, xn, scalar);
    }
    if op1 < 2 {
        if op2 & 0b1100 == 0b1000 && op3 & 0b000100001 == 1 {
            return three_same_fp16(s, insn, scalar);
        }
        if op2 == 0b1111 && op3 & 0b110000011 == 0b10 {
            return misc2_fp(s, insn, scalar, true);
        }
        if op2 & 0b0100 == 0 && op3 & 0b000100001 == 0b000100001 {
            return Err(Undef); // three-reg extension (RDM, dot product...)
        }
        if op2 & 0b0111 == 0b0100 && op3 & 0b110000011 == 0b10 {
            return misc2(s, insn, scalar);
        }
        if op2 & 0b0111 == 0b0110 && op3 & 0b110000011 == 0b10 {
            return if scalar {
                pairwise_scalar(s, insn)
            } else {
                across(s, insn)
            };
        }
        if op2 & 0b0100 == 0b0100 && op3 & 0b11 == 0 {
            return three_diff(s, insn, scalar);
        }
        if op2 & 0b0100 == 0b0100 && op3 & 1 == 1 {
            return three_same(s, insn, scalar);
        }
        return Err(Undef);
    }
    if op1 == 2 && op3 & 1 == 1 {
        if op2 == 0 {
            return if scalar { Err(Undef) } else { mod_imm(s, insn) };
        }
        return shift_imm(s, insn, scalar);
    }
    if op3 & 1 == 0 {
        return by_elem(s, insn, scalar);
    }
    Err(Undef)
}

/// AdvSIMD copy (and scalar DUP element).
fn copy(s: &mut St, insn: u32, xn: u64, scalar: bool) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let op = bits(insn, 29, 29);
    let imm5 = bits(insn, 20, 16);
    let imm4 = bits(insn, 14, 11);
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let size = imm5.trailing_zeros();
    if size > 3 {
        return Err(Undef);
    }
    let es = 8 << size;
    let idx = imm5 >> (size + 1);
    if scalar {
        if op != 0 || imm4 != 0 || q != 1 {
            return Err(Undef);
        }
        let x = el(s.v(rn), idx, es);
        s.set(rd, x as u128, 128);
        return Ok(Out::None);
    }
    let ds = datasize(q);
    if op == 1 {
        if q == 0 {
            return Err(Undef);
        }
        let src = imm4 >> size;
        let x = el(s.v(rn), src, es);
        let mut d = s.v(rd);
        put(&mut d, idx, es, x);
        s.set(rd, d, 128);
        return Ok(Out::None);
    }
    match imm4 {
        0b0000 | 0b0001 => {
            if size == 3 && q == 0 {
                return Err(Undef);
            }
            let x = if imm4 == 0 {
                el(s.v(rn), idx, es)
            } else {
                xn & mask(es)
            };
            let mut d = 0u128;
            for i in 0..ds / es {
                put(&mut d, i, es, x);
            }
            s.set(rd, d, ds);
            Ok(Out::None)
        }
        0b0011 => {
            if q == 0 {
                return Err(Undef);
            }
            let mut d = s.v(rd);
            put(&mut d, idx, es, xn);
            s.set(rd, d, 128);
            Ok(Out::None)
        }
        0b0101 => {
            // SMOV
            let ok = if q == 0 { size < 2 } else { size < 3 };
            if !ok {
                return Err(Undef);
            }
            let x = sx(el(s.v(rn), idx, es), es) as u64;
            Ok(Out::X(if q == 0 { x & 0xffff_ffff } else { x }))
        }
        0b0111 => {
            // UMOV
            let ok = if q == 0 { size < 3 } else { size == 3 };
            if !ok {
                return Err(Undef);
            }
            Ok(Out::X(el(s.v(rn), idx, es)))
        }
        _ => Err(Undef),
    }
}

fn tbl(s: &mut St, insn: u32) -> Result<Out, Undef> {
    if bits(insn, 23, 22) != 0 {
        return Err(Undef);
    }
    let q = bits(insn, 30, 30);
    let ds = datasize(q);
    let len = bits(insn, 14, 13) + 1;
    let tbx = insn & (1 << 12) != 0;
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let rm = (insn >> 16) & 31;
    let mut table = [0u8; 64];
    for t in 0..len {
        let v = s.v((rn + t) % 32);
        table[(16 * t) as usize..(16 * t + 16) as usize].copy_from_slice(&v.to_le_bytes());
    }
    let idx = s.v(rm);
    let mut d = if tbx { s.v(rd) } else { 0 };
    for i in 0..ds / 8 {
        let k = el(idx, i, 8) as u32;
        if k < 16 * len {
            put(&mut d, i, 8, table[k as usize] as u64);
        } else if !tbx {
            put(&mut d, i, 8, 0);
        }
    }
    s.set(rd, d, ds);
    Ok(Out::None)
}

fn permute(s: &mut St, insn: u32) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let size = bits(insn, 23, 22);
    if size == 3 && q == 0 {
        return Err(Undef);
    }
    let es = 8 << size;
    let ds = datasize(q);
    let n = ds / es;
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    let b = s.v((insn >> 16) & 31);
    let opc = bits(insn, 14, 12);
    let part = (opc >> 2) & 1;
    let mut d = 0u128;
    match opc & 3 {
        1 => {
            // UZP
            for i in 0..n {
                let src = 2 * i + part;
                let x = if src < n {
                    el(a, src, es)
                } else {
                    el(b, src - n, es)
                };
                put(&mut d, i, es, x);
            }
        }
        2 => {
            // TRN
            for p in 0..n / 2 {
                put(&mut d, 2 * p, es, el(a, 2 * p + part, es));
                put(&mut d, 2 * p + 1, es, el(b, 2 * p + part, es));
            }
        }
        3 => {
            // ZIP
            let base = part * n / 2;
            for p in 0..n / 2 {
                put(&mut d, 2 * p, es, el(a, base + p, es));
                put(&mut d, 2 * p + 1, es, el(b, base + p, es));
            }
        }
        _ => return Err(Undef),
    }
    s.set(rd, d, ds);
    Ok(Out::None)
}

fn ext(s: &mut St, insn: u32) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let imm4 = bits(insn, 14, 11);
    if bits(insn, 23, 22) != 0 || (q == 0 && imm4 >= 8) {
        return Err(Undef);
    }
    let ds = datasize(q);
    let lo = trunc(s.v((insn >> 5) & 31), ds);
    let hi = trunc(s.v((insn >> 16) & 31), ds);
    let sh = imm4 * 8;
    let v = if sh == 0 {
        lo
    } else {
        (lo >> sh) | (hi << (ds - sh))
    };
    s.set(insn & 31, v, ds);
    Ok(Out::None)
}

/// AdvSIMDExpandImm.
fn expand_imm(op: u32, cmode: u32, imm8: u32) -> u64 {
    let i = imm8 as u64;
    let rep32 = |x: u64| x | x << 32;
    let rep16 = |x: u64| x | x << 16 | x << 32 | x << 48;
    match cmode >> 1 {
        0 => rep32(i),
        1 => rep32(i << 8),
        2 => rep32(i << 16),
        3 => rep32(i << 24),
        4 => rep16(i),
        5 => rep16(i << 8),
        6 => {
            if cmode & 1 == 0 {
                rep32(i << 8 | 0xff)
            } else {
                rep32(i << 16 | 0xffff)
            }
        }
        _ => {
            if cmode & 1 == 0 {
                if op == 0 {
                    i * 0x0101_0101_0101_0101
                } else {
                    let mut r = 0u64;
                    for b in 0..8 {
                        if i >> b & 1 != 0 {
                            r |= 0xff << (8 * b);
                        }
                    }
                    r
                }
            } else if op == 0 {
                let f = vfp_expand_imm(imm8, S);
                rep32(f)
            } else {
                vfp_expand_imm(imm8, D)
            }
        }
    }
}

fn mod_imm(s: &mut St, insn: u32) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let op = bits(insn, 29, 29);
    let cmode = bits(insn, 15, 12);
    let o2 = bits(insn, 11, 11);
    let rd = insn & 31;
    let imm8 = bits(insn, 18, 16) << 5 | bits(insn, 9, 5);
    if o2 != 0 {
        // FMOV (vector, immediate), half precision
        if op != 0 || cmode != 0b1111 {
            return Err(Undef);
        }
        let h = vfp_expand_imm(imm8, H) as u128;
        let v = h * 0x0001_0001_0001_0001_0001_0001_0001_0001;
        s.set(rd, v, datasize(q));
        return Ok(Out::None);
    }
    if cmode == 0b1111 && op == 1 && q == 0 {
        return Err(Undef);
    }
    let ds = datasize(q);
    let imm = expand_imm(op, cmode, imm8);
    let imm128 = imm as u128 | (imm as u128) << 64;
    let d = s.v(rd);
    // ORR/BIC (immediate): cmode 0xx1 / 10x1 (not 11xx).
    let logic = cmode & 1 == 1 && cmode < 0b1100;
    let v = if logic {
        if op == 0 { d | imm128 } else { d & !imm128 }
    } else if op == 1 && cmode < 0b1110 {
        !imm128
    } else {
        imm128
    };
    s.set(rd, v, ds);
    Ok(Out::None)
}

/// Shift by immediate (vector and scalar).
fn shift_imm(s: &mut St, insn: u32, scalar: bool) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = bits(insn, 29, 29) == 1;
    let immh = bits(insn, 22, 19);
    let immb = bits(insn, 18, 16);
    let opcode = bits(insn, 15, 11);
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let hb = 31 - immh.leading_zeros(); // highest set bit of immh
    let es = 8 << hb;
    let immhb = immh << 3 | immb;
    let rshift = 2 * es - immhb;
    let lshift = immhb - es;
    let a = s.v(rn);
    let d0 = s.v(rd);
    match opcode {
        0b00000 | 0b00010 | 0b00100 | 0b00110 | 0b01000 | 0b01010 | 0b01100 | 0b01110 => {
            if scalar && es != 64 && !matches!(opcode, 0b01100 | 0b01110) {
                return Err(Undef);
            }
            if !scalar && es == 64 && q == 0 {
                return Err(Undef);
            }
            if (opcode == 0b01000 || opcode == 0b01100) && !u {
                return Err(Undef);
            }
            let ds = if scalar { es } else { datasize(q) };
            let n = ds / es;
            let av = unpack(a, es);
            let dv = unpack(d0, es);
            let mut rv = [0u64; 16];
            for i in 0..n as usize {
                let x = av[i];
                let old = dv[i];
                let r = match opcode {
                    0b00000 | 0b00010 | 0b00100 | 0b00110 => {
                        let round = opcode & 0b00100 != 0;
                        let v = ival(x, es, u);
                        let rc = if round { 1i128 << (rshift - 1) } else { 0 };
                        let sh = ((v + rc) >> rshift) as u64;
                        if opcode & 0b00010 != 0 {
                            old.wrapping_add(sh)
                        } else {
                            sh
                        }
                    }
                    0b01000 => {
                        // SRI
                        if rshift == es {
                            old
                        } else {
                            let m = mask(es) >> rshift;
                            (old & !m) | (x >> rshift)
                        }
                    }
                    0b01010 => {
                        if u {
                            // SLI
                            let m = mask(es) << lshift;
                            (old & !m) | (x << lshift)
                        } else {
                            x << lshift
                        }
                    }
                    _ => {
                        // SQSHLU (01100), SQSHL/UQSHL (01110)
                        let src_unsigned = opcode == 0b01110 && u;
                        let dst_unsigned = u;
                        let v = ival(x, es, src_unsigned) << lshift;
                        s.sat(v, es, dst_unsigned)
                    }
                };
                rv[i] = r;
            }
            s.set(rd, pack(&rv, es), ds);
            Ok(Out::None)
        }
        0b10000..=0b10011 => {
            // narrowing shifts: SHRN, RSHRN, SQSHRUN, SQRSHRUN, SQSHRN, UQSHRN, SQRSHRN, UQRSHRN
            if immh & 0b1000 != 0 {
                return Err(Undef);
            }
            if scalar && opcode < 0b10010 && !u {
                return Err(Undef); // scalar SHRN/RSHRN do not exist
            }
            let round = opcode & 1 == 1;
            let (src_unsigned, dst_unsigned, saturate) = match (opcode >> 1 & 1, u) {
                (0, false) => (false, false, false),
                (0, true) => (false, true, true),
                (_, false) => (false, false, true),
                (_, true) => (true, true, true),
            };
            let src_es = 2 * es;
            let rshift = 2 * es - immhb; // relative to the destination element size
            let n = if scalar { 1 } else { 64 / es };
            let mut part = 0u128;
            for i in 0..n {
                let v = ival(el(a, i, src_es), src_es, src_unsigned);
                let rc = if round { 1i128 << (rshift - 1) } else { 0 };
                let sh = (v + rc) >> rshift;
                let r = if saturate {
                    s.sat(sh, es, dst_unsigned)
                } else {
                    sh as u64 & mask(es)
                };
                put(&mut part, i, es, r);
            }
            if scalar {
                s.set(rd, part, es);
            } else if q == 1 {
                let d = (d0 & u64::MAX as u128) | part << 64;
                s.set(rd, d, 128);
            } else {
                s.set(rd, part, 64);
            }
            Ok(Out::None)
        }
        0b10100 => {
            // SSHLL / USHLL
            if scalar || immh & 0b1000 != 0 {
                return Err(Undef);
            }
            let src = if q == 1 { a >> 64 } else { a };
            let mut d = 0u128;
            for i in 0..64 / es {
                let v = ival(el(src, i, es), es, u) << lshift;
                put(&mut d, i, 2 * es, v as u64);
            }
            s.set(rd, d, 128);
            Ok(Out::None)
        }
        0b11100 | 0b11111 => {
            // SCVTF/UCVTF, FCVTZS/FCVTZU (fixed-point)
            if immh & 0b1110 == 0 {
                return Err(Undef);
            }
            if !scalar && es == 64 && q == 0 {
                return Err(Undef);
            }
            let f = Fmt::of_bits(es);
            let fbits = rshift;
            let ds = if scalar { es } else { datasize(q) };
            let mut d = 0u128;
            for i in 0..ds / es {
                let x = el(a, i, es);
                let r = if opcode == 0b11100 {
                    let rm = s.c.rmode;
                    fpu::from_fixed(&mut s.c, f, x, fbits, u, es, rm)
                } else {
                    fpu::to_fixed(&mut s.c, f, x, fbits, u, es, Rounding::Zero)
                };
                put(&mut d, i, es, r);
            }
            s.set(rd, d, ds);
            Ok(Out::None)
        }
        _ => Err(Undef),
    }
}

/// Shift by a signed register amount (SSHL/USHL/SQSHL/UQSHL/SRSHL/URSHL/SQRSHL/UQRSHL).
fn shl_reg(s: &mut St, x: u64, b: u64, es: u32, u: bool, round: bool, saturate: bool) -> u64 {
    let shift = (b as u8) as i8 as i32;
    let v = ival(x, es, u);
    let r: i128 = if shift >= 0 {
        if shift > 63 {
            if v == 0 {
                0
            } else if saturate {
                if v > 0 {
                    i128::MAX >> 1
                } else {
                    i128::MIN >> 1
                }
            } else {
                0
            }
        } else {
            v << shift
        }
    } else {
        let sh = (-shift) as u32;
        let rc = if round { 1i128 << (sh - 1).min(126) } else { 0 };
        if sh >= 127 {
            if round { 0 } else { v >> 127 }
        } else {
            (v + rc) >> sh
        }
    };
    if saturate {
        s.sat(r, es, u)
    } else {
        r as u64 & mask(es)
    }
}

/// Integer three-same element operation; None for FP/other opcodes.
fn int_same(s: &mut St, op: u32, u: bool, es: u32, x: u64, y: u64, old: u64) -> Option<u64> {
    let a = ival(x, es, u);
    let b = ival(y, es, u);
    let m = mask(es);
    Some(match op {
        0b00000 => ((a + b) >> 1) as u64 & m,
        0b00001 => s.sat(a + b, es, u),
        0b00010 => ((a + b + 1) >> 1) as u64 & m,
        0b00100 => ((a - b) >> 1) as u64 & m,
        0b00101 => s.sat(a - b, es, u),
        0b00110 => {
            if a > b {
                m
            } else {
                0
            }
        }
        0b00111 => {
            if a >= b {
                m
            } else {
                0
            }
        }
        0b01000 => shl_reg(s, x, y, es, u, false, false),
        0b01001 => shl_reg(s, x, y, es, u, false, true),
        0b01010 => shl_reg(s, x, y, es, u, true, false),
        0b01011 => shl_reg(s, x, y, es, u, true, true),
        0b01100 => a.max(b) as u64 & m,
        0b01101 => a.min(b) as u64 & m,
        0b01110 => (a - b).unsigned_abs() as u64 & m,
        0b01111 => old.wrapping_add((a - b).unsigned_abs() as u64) & m,
        0b10000 => {
            if u {
                x.wrapping_sub(y) & m
            } else {
                x.wrapping_add(y) & m
            }
        }
        0b10001 => {
            let t = if u { x == y } else { x & y != 0 };
            if t { m } else { 0 }
        }
        0b10010 => {
            let p = x.wrapping_mul(y);
            if u {
                old.wrapping_sub(p) & m
            } else {
                old.wrapping_add(p) & m
            }
        }
        0b10011 => {
            if u {
                pmul(x, y, es) as u64 & m
            } else {
                x.wrapping_mul(y) & m
            }
        }
        0b10110 => {
            // SQDMULH / SQRDMULH
            let a = sx(x, es) as i128;
            let b = sx(y, es) as i128;
            let rc = if u { 1i128 << (es - 1) } else { 0 };
            s.sat((2 * a * b + rc) >> es, es, false)
        }
        _ => return None,
    })
}

/// Polynomial (carry-less) multiply of two `es`-bit values.
pub fn pmul(x: u64, y: u64, es: u32) -> u128 {
    let mut r = 0u128;
    for i in 0..es {
        if y >> i & 1 != 0 {
            r ^= ((x & mask(es)) as u128) << i;
        }
    }
    r
}

/// FP three-same element op: (opcode, U, size<1>) -> result.
fn fp_same(s: &mut St, f: Fmt, key: u32, x: u64, y: u64, old: u64) -> Option<u64> {
    let c = &mut s.c;
    let t = |b: bool| if b { f.mask() } else { 0 };
    Some(match key {
        // key = U << 6 | a << 5 | opcode
        0b0_0_11000 => fpu::max_min(c, f, x, y, true, true),
        0b0_0_11001 => fpu::mul_add(c, f, old, x, y),
        0b0_0_11010 => fpu::add(c, f, x, y, false),
        0b0_0_11011 => fpu::mul(c, f, x, y, true),
        0b0_0_11100 => t(fpu::compare_op(c, f, x, y, CmpOp::Eq)),
        0b0_0_11110 => fpu::max_min(c, f, x, y, true, false),
        0b0_0_11111 => fpu::step_fused(c, f, x, y, false),
        0b0_1_11000 => fpu::max_min(c, f, x, y, false, true),
        0b0_1_11001 => fpu::mul_add(c, f, old, fpu::neg(f, x), y),
        0b0_1_11010 => fpu::add(c, f, x, y, true),
        0b0_1_11110 => fpu::max_min(c, f, x, y, false, false),
        0b0_1_11111 => fpu::step_fused(c, f, x, y, true),
        0b1_0_11011 => fpu::mul(c, f, x, y, false),
        0b1_0_11100 => t(fpu::compare_op(c, f, x, y, CmpOp::Ge)),
        0b1_0_11101 => t(fpu::compare_op(
            c,
            f,
            fpu::abs(f, x),
            fpu::abs(f, y),
            CmpOp::Ge,
        )),
        0b1_0_11111 => fpu::div(c, f, x, y),
        0b1_1_11010 => fpu::abd(c, f, x, y),
        0b1_1_11100 => t(fpu::compare_op(c, f, x, y, CmpOp::Gt)),
        0b1_1_11101 => t(fpu::compare_op(
            c,
            f,
            fpu::abs(f, x),
            fpu::abs(f, y),
            CmpOp::Gt,
        )),
        _ => return None,
    })
}

/// FP pairwise op for key (U=1 forms): FMAXNMP, FADDP, FMAXP, FMINNMP, FMINP.
fn fp_pair(c: &mut Ctx, f: Fmt, key: u32, x: u64, y: u64) -> Option<u64> {
    Some(match key {
        0b1_0_11000 => fpu::max_min(c, f, x, y, true, true),
        0b1_0_11010 => fpu::add(c, f, x, y, false),
        0b1_0_11110 => fpu::max_min(c, f, x, y, true, false),
        0b1_1_11000 => fpu::max_min(c, f, x, y, false, true),
        0b1_1_11110 => fpu::max_min(c, f, x, y, false, false),
        _ => return None,
    })
}

fn three_same(s: &mut St, insn: u32, scalar: bool) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = bits(insn, 29, 29) == 1;
    let size = bits(insn, 23, 22);
    let opcode = bits(insn, 15, 11);
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    let b = s.v((insn >> 16) & 31);
    let d0 = s.v(rd);
    if opcode == 0b00011 {
        // Logical
        if scalar {
            return Err(Undef);
        }
        let ds = datasize(q);
        let v = match (u, size) {
            (false, 0) => a & b,
            (false, 1) => a & !b,
            (false, 2) => a | b,
            (false, _) => a | !b,
            (true, 0) => a ^ b,
            (true, 1) => (d0 & a) | (!d0 & b),
            (true, 2) => (d0 & !b) | (a & b),
            (true, _) => (d0 & b) | (a & !b),
        };
        s.set(rd, v, ds);
        return Ok(Out::None);
    }
    if opcode >= 0b11000 {
        let key = (u as u32) << 6 | (size >> 1) << 5 | opcode;
        return three_same_fp(s, insn, scalar, fmt_sz(size & 1), key);
    }
    let es = 8 << size;
    if scalar {
        let ok = match opcode {
            0b00001 | 0b00101 | 0b01001 | 0b01011 => true,
            0b00110 | 0b00111 | 0b01000 | 0b01010 | 0b10000 | 0b10001 => size == 3,
            0b10110 => size == 1 || size == 2,
            _ => false,
        };
        if !ok {
            return Err(Undef);
        }
        let r = int_same(s, opcode, u, es, el(a, 0, es), el(b, 0, es), 0).ok_or(Undef)?;
        s.set(rd, r as u128, es);
        return Ok(Out::None);
    }
    if size == 3 && q == 0 {
        return Err(Undef);
    }
    let ok = match opcode {
        0b00000 | 0b00010 | 0b00100 | 0b01100 | 0b01101 | 0b01110 | 0b01111 | 0b10010 => size != 3,
        0b10011 => size != 3 && (!u || size == 0),
        0b10100 | 0b10101 => size != 3,
        0b10110 => size == 1 || size == 2,
        0b10111 => !u,
        _ => true,
    };
    if !ok {
        return Err(Undef);
    }
    let ds = datasize(q);
    let n = ds / es;
    let d;
    if matches!(opcode, 0b10100 | 0b10101 | 0b10111) {
        // SMAXP/UMAXP, SMINP/UMINP, ADDP
        let (av, bv) = (unpack(a, es), unpack(b, es));
        let mut rv = [0u64; 16];
        let n = n as usize;
        for (i, out) in rv.iter_mut().enumerate().take(n) {
            let (src, j) = if i < n / 2 {
                (&av, 2 * i)
            } else {
                (&bv, 2 * (i - n / 2))
            };
            let x = ival(src[j], es, u);
            let y = ival(src[j + 1], es, u);
            let r = match opcode {
                0b10100 => x.max(y),
                0b10101 => x.min(y),
                _ => x + y,
            };
            *out = r as u64;
        }
        d = pack(&rv, es);
    } else {
        let (av, bv, dv) = (unpack(a, es), unpack(b, es), unpack(d0, es));
        let mut rv = [0u64; 16];
        for i in 0..n as usize {
            rv[i] = int_same(s, opcode, u, es, av[i], bv[i], dv[i]).ok_or(Undef)?;
        }
        d = pack(&rv, es);
    }
    s.set(rd, d, ds);
    Ok(Out::None)
}

/// Advanced SIMD three same (FP16), vector and scalar: the FP three-same operations on
/// half-precision elements (opcode<2:0> selects among the FP opcodes 11000..11111).
fn three_same_fp16(s: &mut St, insn: u32, scalar: bool) -> Result<Out, Undef> {
    if bits(insn, 14, 14) != 0 {
        return Err(Undef);
    }
    let key = bits(insn, 29, 29) << 6 | bits(insn, 23, 23) << 5 | 0b11000 | bits(insn, 13, 11);
    three_same_fp(s, insn, scalar, H, key)
}

/// The FP three-same group on elements of format `f`; `key` = U : a : opcode.
fn three_same_fp(s: &mut St, insn: u32, scalar: bool, f: Fmt, key: u32) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = key >> 6 == 1;
    let opcode = key & 31;
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    let b = s.v((insn >> 16) & 31);
    let d0 = s.v(rd);
    let es = f.bits();
    if !scalar && f == D && q == 0 {
        return Err(Undef);
    }
    if scalar {
        // scalar forms: FMULX, FCMEQ, FRECPS, FRSQRTS, FCMGE, FACGE, FABD, FCMGT, FACGT
        if !matches!(
            key,
            0b0_0_11011
                | 0b0_0_11100
                | 0b0_0_11111
                | 0b0_1_11111
                | 0b1_0_11100
                | 0b1_0_11101
                | 0b1_1_11010
                | 0b1_1_11100
                | 0b1_1_11101
        ) {
            return Err(Undef);
        }
        let r = fp_same(s, f, key, el(a, 0, es), el(b, 0, es), 0).ok_or(Undef)?;
        s.set(rd, r as u128, es);
        return Ok(Out::None);
    }
    let ds = datasize(q);
    let n = ds / es;
    let mut d = 0u128;
    if u && matches!(opcode, 0b11000 | 0b11010 | 0b11110) && key != 0b1_1_11010 {
        // pairwise
        for i in 0..n {
            let (src, j) = if i < n / 2 {
                (a, 2 * i)
            } else {
                (b, 2 * (i - n / 2))
            };
            let r = fp_pair(&mut s.c, f, key, el(src, j, es), el(src, j + 1, es)).ok_or(Undef)?;
            put(&mut d, i, es, r);
        }
    } else {
        for i in 0..n {
            let r = fp_same(s, f, key, el(a, i, es), el(b, i, es), el(d0, i, es)).ok_or(Undef)?;
            put(&mut d, i, es, r);
        }
    }
    s.set(rd, d, ds);
    Ok(Out::None)
}

fn three_diff(s: &mut St, insn: u32, scalar: bool) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = bits(insn, 29, 29) == 1;
    let size = bits(insn, 23, 22);
    let opcode = bits(insn, 15, 12);
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    let b = s.v((insn >> 16) & 31);
    let d0 = s.v(rd);
    if opcode == 0b1110 {
        // PMULL / PMULL2
        if u || scalar {
            return Err(Undef);
        }
        let (a, b) = if q == 1 { (a >> 64, b >> 64) } else { (a, b) };
        let d = match size {
            0 => {
                let mut d = 0u128;
                for i in 0..8 {
                    put(&mut d, i, 16, pmul(el(a, i, 8), el(b, i, 8), 8) as u64);
                }
                d
            }
            3 => pmul(a as u64, b as u64, 64),
            _ => return Err(Undef),
        };
        s.set(rd, d, 128);
        return Ok(Out::None);
    }
    if size == 3 {
        return Err(Undef);
    }
    let es = 8 << size;
    let sat_op = matches!(opcode, 0b1001 | 0b1011 | 0b1101);
    if scalar && (!sat_op || u || size == 0) {
        return Err(Undef);
    }
    if sat_op && (u || size == 0) {
        return Err(Undef);
    }
    if opcode == 0b1111 {
        return Err(Undef);
    }
    let part = if scalar { 0 } else { q };
    let hi = |v: u128| if part == 1 { v >> 64 } else { v };
    let n = if scalar { 1 } else { 64 / es };
    let mut d = 0u128;
    match opcode {
        0b0100 | 0b0110 => {
            // ADDHN/RADDHN, SUBHN/RSUBHN: wide operands, narrow result
            let wes = 2 * es;
            for i in 0..n {
                let x = el(a, i, wes) as u128;
                let y = el(b, i, wes) as u128;
                let mut r = if opcode == 0b0100 {
                    x.wrapping_add(y)
                } else {
                    x.wrapping_sub(y)
                };
                if u {
                    r = r.wrapping_add(1u128 << (es - 1));
                }
                put(&mut d, i, es, (r >> es) as u64);
            }
            let v = if q == 1 {
                (d0 & u64::MAX as u128) | d << 64
            } else {
                d
            };
            s.set(rd, v, if q == 1 { 128 } else { 64 });
            return Ok(Out::None);
        }
        _ => {}
    }
    let wes = 2 * es;
    for i in 0..n {
        let wide_a = matches!(opcode, 0b0001 | 0b0011);
        let x = if wide_a {
            ival(el(a, i, wes), wes, u)
        } else {
            ival(el(hi(a), i, es), es, u)
        };
        let y = ival(el(hi(b), i, es), es, u);
        let old = ival(el(d0, i, wes), wes, u);
        let r: u64 = match opcode {
            0b0000 | 0b0001 => (x + y) as u64,
            0b0010 | 0b0011 => (x - y) as u64,
            0b0101 => (old + (x - y).abs()) as u64,
            0b0111 => (x - y).unsigned_abs() as u64,
            0b1000 => (old + x * y) as u64,
            0b1010 => (old - x * y) as u64,
            0b1100 => (x * y) as u64,
            0b1001 | 0b1011 | 0b1101 => {
                let p = s.sat(2 * x * y, wes, false);
                let p = sx(p, wes) as i128;
                match opcode {
                    0b1101 => p as u64,
                    0b1001 => s.sat(ival(el(d0, i, wes), wes, false) + p, wes, false),
                    _ => s.sat(ival(el(d0, i, wes), wes, false) - p, wes, false),
                }
            }
            _ => return Err(Undef),
        };
        put(&mut d, i, wes, r);
    }
    s.set(rd, d, if scalar { wes } else { 128 });
    Ok(Out::None)
}

/// Two-register miscellaneous (vector and scalar).
fn misc2(s: &mut St, insn: u32, scalar: bool) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = bits(insn, 29, 29) == 1;
    let size = bits(insn, 23, 22);
    let opcode = bits(insn, 16, 12);
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    let d0 = s.v(rd);
    let ds = datasize(q);
    let es = 8 << size;
    let uo = (u as u32) << 5 | opcode;
    // Narrowing ops (XTN, SQXTUN, SQXTN, UQXTN, FCVTN, FCVTXN) and widening (SHLL, FCVTL).
    match opcode {
        0b10010 | 0b10100 => {
            if size == 3 || (scalar && uo == 0b10010) {
                return Err(Undef);
            }
            let n = if scalar { 1 } else { 64 / es };
            let wes = 2 * es;
            let mut part = 0u128;
            for i in 0..n {
                let x = el(a, i, wes);
                let r = match uo {
                    0b0_10010 => x & mask(es),
                    0b1_10010 => s.sat(ival(x, wes, false), es, true),
                    0b0_10100 => s.sat(ival(x, wes, false), es, false),
                    _ => s.sat(ival(x, wes, true), es, true),
                };
                put(&mut part, i, es, r);
            }
            return narrow_out(s, rd, part, q, scalar, es, d0);
        }
        0b10110 => {
            // FCVTN (U=0, f32<-f64 or f16<-f32) / FCVTXN (U=1, f32<-f64, round to odd)
            let sz = size & 1;
            if size >> 1 != 0 || (u && sz == 0) || (scalar && !u) {
                return Err(Undef);
            }
            let (from, to) = if sz == 1 { (D, S) } else { (S, fpu::H) };
            let n = if scalar { 1 } else { 128 / from.bits() };
            let mut part = 0u128;
            for i in 0..n {
                let x = el(a, i, from.bits());
                let rm = if u { Rounding::Odd } else { s.c.rmode };
                let r = fpu::convert(&mut s.c, from, to, x, rm);
                put(&mut part, i, to.bits(), r);
            }
            return narrow_out(s, rd, part, q, scalar, to.bits(), d0);
        }
        0b10111 if !u => {
            // FCVTL
            if scalar || size >> 1 != 0 {
                return Err(Undef);
            }
            let sz = size & 1;
            let (from, to) = if sz == 1 { (S, D) } else { (fpu::H, S) };
            let src = if q == 1 { a >> 64 } else { a };
            let mut d = 0u128;
            for i in 0..128 / to.bits() {
                let x = el(src, i, from.bits());
                let rm = s.c.rmode;
                put(
                    &mut d,
                    i,
                    to.bits(),
                    fpu::convert(&mut s.c, from, to, x, rm),
                );
            }
            s.set(rd, d, 128);
            return Ok(Out::None);
        }
        0b10011 if u => {
            // SHLL
            if scalar || size == 3 {
                return Err(Undef);
            }
            let src = if q == 1 { a >> 64 } else { a };
            let mut d = 0u128;
            for i in 0..64 / es {
                put(&mut d, i, 2 * es, el(src, i, es) << es);
            }
            s.set(rd, d, 128);
            return Ok(Out::None);
        }
        _ => {}
    }
    if opcode >= 0b11000 || (0b01100..=0b01111).contains(&opcode) {
        return misc2_fp(s, insn, scalar, false);
    }
    // Integer element-wise ops.
    if scalar {
        let ok = match opcode {
            0b00011 | 0b00111 => true,
            0b01000..=0b01011 => size == 3 && !(opcode == 0b01010 && u),
            _ => false,
        };
        if !ok {
            return Err(Undef);
        }
    }
    let ds = if scalar { es } else { ds };
    let n = ds / es;
    if !scalar && size == 3 && q == 0 && !matches!(opcode, 0b00101) {
        return Err(Undef);
    }
    let mut d = 0u128;
    let av = unpack(a, es);
    let dv = unpack(d0, es);
    let mut rv = [0u64; 16];
    match uo {
        0b0_00000 | 0b1_00000 | 0b0_00001 => {
            // REV64 / REV32 / REV16: reverse elements within containers
            let container = match opcode {
                0 if !u => 64,
                0 => 32,
                _ => 16,
            };
            if es >= container {
                return Err(Undef);
            }
            let per = container / es;
            for i in 0..n {
                let base = i - i % per;
                let j = base + (per - 1 - i % per);
                rv[i as usize] = av[j as usize];
            }
        }
        0b0_00010 | 0b1_00010 | 0b0_00110 | 0b1_00110 => {
            // SADDLP / UADDLP / SADALP / UADALP
            if size == 3 {
                return Err(Undef);
            }
            let wes = 2 * es;
            for i in 0..ds / wes {
                let x = ival(el(a, 2 * i, es), es, u) + ival(el(a, 2 * i + 1, es), es, u);
                let acc = if opcode == 0b00110 {
                    el(d0, i, wes) as i128
                } else {
                    0
                };
                put(&mut d, i, wes, (x + acc) as u64);
            }
        }
        0b0_00011 | 0b1_00011 => {
            // SUQADD / USQADD
            for i in 0..n {
                let x = av[i as usize];
                let o = dv[i as usize];
                let r = if u {
                    s.sat(ival(o, es, true) + ival(x, es, false), es, true)
                } else {
                    s.sat(ival(o, es, false) + ival(x, es, true), es, false)
                };
                rv[i as usize] = r;
            }
        }
        0b0_00100 | 0b1_00100 => {
            // CLS / CLZ
            if size == 3 {
                return Err(Undef);
            }
            for i in 0..n {
                let x = av[i as usize];
                let r = if u {
                    (x << (64 - es)).leading_zeros().min(es) as u64
                } else {
                    let v = sx(x, es);
                    let t = if v < 0 { !v } else { v } as u64;
                    (t.leading_zeros() - (64 - es) - 1) as u64
                };
                rv[i as usize] = r;
            }
        }
        0b0_00101 => {
            if size != 0 {
                return Err(Undef);
            }
            for i in 0..n {
                put(&mut d, i, 8, el(a, i, 8).count_ones() as u64);
            }
        }
        0b1_00101 => match size {
            0 => d = !a,
            1 => {
                for i in 0..ds / 8 {
                    put(&mut d, i, 8, (el(a, i, 8) as u8).reverse_bits() as u64);
                }
            }
            _ => return Err(Undef),
        },
        0b0_00111 | 0b1_00111 => {
            // SQABS / SQNEG
            for i in 0..n {
                let x = ival(av[i as usize], es, false);
                let r = s.sat(if u { -x } else { x.abs() }, es, false);
                rv[i as usize] = r;
            }
        }
        0b0_01000 | 0b1_01000 | 0b0_01001 | 0b1_01001 | 0b0_01010 => {
            for i in 0..n {
                let x = ival(av[i as usize], es, false);
                let t = match uo {
                    0b0_01000 => x > 0,
                    0b1_01000 => x >= 0,
                    0b0_01001 => x == 0,
                    0b1_01001 => x <= 0,
                    _ => x < 0,
                };
                rv[i as usize] = if t { mask(es) } else { 0 };
            }
        }
        0b0_01011 | 0b1_01011 => {
            for i in 0..n {
                let x = av[i as usize];
                let r = if u || sx(x, es) < 0 {
                    x.wrapping_neg()
                } else {
                    x
                };
                rv[i as usize] = r;
            }
        }
        _ => return Err(Undef),
    }
    let d = d | pack(&rv, es);
    s.set(rd, d, ds);
    Ok(Out::None)
}

fn narrow_out(
    s: &mut St,
    rd: u32,
    part: u128,
    q: u32,
    scalar: bool,
    es: u32,
    d0: u128,
) -> Result<Out, Undef> {
    if scalar {
        s.set(rd, part, es);
    } else if q == 1 {
        s.set(rd, (d0 & u64::MAX as u128) | part << 64, 128);
    } else {
        s.set(rd, part, 64);
    }
    Ok(Out::None)
}

/// FP two-register misc, vector and scalar; `half`: the "(FP16)" group (bit 23 = a,
/// half-precision elements), else size<0> selects single or double.
fn misc2_fp(s: &mut St, insn: u32, scalar: bool, half: bool) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = bits(insn, 29, 29) == 1;
    let size = bits(insn, 23, 22);
    let opcode = bits(insn, 16, 12);
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    let hi = size >> 1;
    let f = if half { H } else { fmt_sz(size & 1) };
    let es = f.bits();
    if !scalar && f == D && q == 0 {
        return Err(Undef);
    }
    let key = (u as u32) << 6 | hi << 5 | opcode;
    // No FP16 forms of FRINT32*/FRINT64* (0_1111x) or URECPE/URSQRTE (1_11100).
    if half && (key & 0b11_1110 == 0b01_1110 || key & 0b11_1111 == 0b11_1100) {
        return Err(Undef);
    }
    let ds = if scalar { es } else { datasize(q) };
    let n = ds / es;
    let mut d = 0u128;
    let scalar_ok = matches!(
        key & !(1 << 6),
        0b0_11010
            | 0b0_11011
            | 0b0_11100
            | 0b0_11101
            | 0b1_01100
            | 0b1_01101
            | 0b1_01110
            | 0b1_11010
            | 0b1_11011
            | 0b1_11101
            | 0b1_11111
    );
    if scalar && (!scalar_ok || key == 0b1_1_11111 || key == 0b1_1_01110) {
        return Err(Undef);
    }
    for i in 0..n {
        let x = el(a, i, es);
        let c = &mut s.c;
        let rmode = c.rmode;
        let cz = |c: &mut Ctx, op: CmpOp, swap: bool| {
            let r = if swap {
                fpu::compare_op(c, f, 0, x, op)
            } else {
                fpu::compare_op(c, f, x, 0, op)
            };
            if r { f.mask() } else { 0 }
        };
        let r = match key {
            0b0_0_11000 => fpu::round_int(c, f, x, Rounding::TieEven, false),
            0b0_0_11001 => fpu::round_int(c, f, x, Rounding::NegInf, false),
            0b1_0_11000 => fpu::round_int(c, f, x, Rounding::TieAway, false),
            0b1_0_11001 => fpu::round_int(c, f, x, rmode, true),
            0b0_1_11000 => fpu::round_int(c, f, x, Rounding::PosInf, false),
            0b0_1_11001 => fpu::round_int(c, f, x, Rounding::Zero, false),
            0b1_1_11001 => fpu::round_int(c, f, x, rmode, false),
            // FRINT32Z, FRINT32X, FRINT64Z, FRINT64X (FEAT_FRINTTS)
            0b0_0_11110 => fpu::round_int_n(c, f, x, Rounding::Zero, 32),
            0b1_0_11110 => fpu::round_int_n(c, f, x, rmode, 32),
            0b0_0_11111 => fpu::round_int_n(c, f, x, Rounding::Zero, 64),
            0b1_0_11111 => fpu::round_int_n(c, f, x, rmode, 64),
            0b0_0_11010 | 0b1_0_11010 => fpu::to_fixed(c, f, x, 0, u, es, Rounding::TieEven),
            0b0_0_11011 | 0b1_0_11011 => fpu::to_fixed(c, f, x, 0, u, es, Rounding::NegInf),
            0b0_0_11100 | 0b1_0_11100 => fpu::to_fixed(c, f, x, 0, u, es, Rounding::TieAway),
            0b0_1_11010 | 0b1_1_11010 => fpu::to_fixed(c, f, x, 0, u, es, Rounding::PosInf),
            0b0_1_11011 | 0b1_1_11011 => fpu::to_fixed(c, f, x, 0, u, es, Rounding::Zero),
            0b0_0_11101 | 0b1_0_11101 => fpu::from_fixed(c, f, x, 0, u, es, rmode),
            0b0_1_01100 => cz(c, CmpOp::Gt, false),
            0b1_1_01100 => cz(c, CmpOp::Ge, false),
            0b0_1_01101 => cz(c, CmpOp::Eq, false),
            0b1_1_01101 => cz(c, CmpOp::Ge, true),
            0b0_1_01110 => cz(c, CmpOp::Gt, true),
            0b0_1_01111 => fpu::abs(f, x),
            0b1_1_01111 => fpu::neg(f, x),
            0b0_1_11101 => fpu::recip_est(c, f, x),
            0b1_1_11101 => fpu::rsqrt_est(c, f, x),
            0b1_1_11111 => fpu::sqrt(c, f, x),
            0b0_1_11111 if scalar => fpu::recpx(c, f, x),
            0b0_1_11100 | 0b1_1_11100 => {
                // URECPE / URSQRTE (32-bit only)
                if f != S || scalar {
                    return Err(Undef);
                }
                urecpe(x, u)
            }
            _ => return Err(Undef),
        };
        put(&mut d, i, es, r);
    }
    s.set(rd, d, ds);
    Ok(Out::None)
}

/// URECPE / URSQRTE on a 32-bit element.
fn urecpe(x: u64, rsqrt: bool) -> u64 {
    if !rsqrt {
        if x & 0x8000_0000 == 0 {
            return 0xffff_ffff;
        }
        fpu::recip_estimate((x >> 23) & 0x1ff) << 23 & 0xffff_ffff
    } else {
        if x & 0xc000_0000 == 0 {
            return 0xffff_ffff;
        }
        fpu::rsqrt_estimate((x >> 23) & 0x1ff) << 23 & 0xffff_ffff
    }
}

/// Across lanes: SADDLV/UADDLV, SMAXV/UMAXV, SMINV/UMINV, ADDV, FMAXNMV/FMINNMV/FMAXV/FMINV.
fn across(s: &mut St, insn: u32) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = bits(insn, 29, 29) == 1;
    let size = bits(insn, 23, 22);
    let opcode = bits(insn, 16, 12);
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    if matches!(opcode, 0b01100 | 0b01111) {
        // FP: U=1 single precision (4S only), U=0 half precision (4H, 8H; size<0> is
        // ignored there: "size = x0/x1")
        if u && (size & 1 == 1 || q == 0) {
            return Err(Undef);
        }
        let f = if u { S } else { H };
        let es = f.bits();
        let max = size >> 1 == 0;
        let num = opcode == 0b01100;
        fn reduce(c: &mut Ctx, f: Fmt, v: &[u64], max: bool, num: bool) -> u64 {
            if v.len() == 1 {
                return v[0];
            }
            let h = v.len() / 2;
            let lo = reduce(c, f, &v[..h], max, num);
            let hi = reduce(c, f, &v[h..], max, num);
            fpu::max_min(c, f, lo, hi, max, num)
        }
        let v: Vec<u64> = (0..datasize(q) / es).map(|i| el(a, i, es)).collect();
        let r = reduce(&mut s.c, f, &v, max, num);
        s.set(rd, r as u128, es);
        return Ok(Out::None);
    }
    if size == 3 || (size == 2 && q == 0) {
        return Err(Undef);
    }
    let es = 8 << size;
    let n = datasize(q) / es;
    let vals: Vec<i128> = (0..n).map(|i| ival(el(a, i, es), es, u)).collect();
    let (r, w) = match opcode {
        0b00011 => (vals.iter().sum::<i128>(), 2 * es),
        0b01010 => (*vals.iter().max().ok_or(Undef)?, es),
        0b11010 => (*vals.iter().min().ok_or(Undef)?, es),
        0b11011 if !u => (vals.iter().sum::<i128>(), es),
        _ => return Err(Undef),
    };
    s.set(rd, (r as u64 & mask(w)) as u128, w);
    Ok(Out::None)
}

/// Scalar pairwise: ADDP (D), FADDP/FMAXP/FMINP/FMAXNMP/FMINNMP (S, D).
fn pairwise_scalar(s: &mut St, insn: u32) -> Result<Out, Undef> {
    let u = bits(insn, 29, 29) == 1;
    let size = bits(insn, 23, 22);
    let opcode = bits(insn, 16, 12);
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    if opcode == 0b11011 {
        if u || size != 3 {
            return Err(Undef);
        }
        let r = el(a, 0, 64).wrapping_add(el(a, 1, 64));
        s.set(rd, r as u128, 64);
        return Ok(Out::None);
    }
    // U=0: the FP16 forms (size<0> is ignored: "size = x0/x1"); U=1: single or double.
    let f = if u { fmt_sz(size & 1) } else { H };
    let es = f.bits();
    let key = 1 << 6
        | (size >> 1) << 5
        | match opcode {
            0b01100 => 0b11000,
            0b01101 => 0b11010,
            0b01111 => 0b11110,
            _ => return Err(Undef),
        };
    if key == 0b1_1_11010 {
        return Err(Undef);
    }
    let r = fp_pair(&mut s.c, f, key, el(a, 0, es), el(a, 1, es)).ok_or(Undef)?;
    s.set(rd, r as u128, es);
    Ok(Out::None)
}

/// Vector / scalar x indexed element.
fn by_elem(s: &mut St, insn: u32, scalar: bool) -> Result<Out, Undef> {
    let q = bits(insn, 30, 30);
    let u = bits(insn, 29, 29) == 1;
    let size = bits(insn, 23, 22);
    let l = bits(insn, 21, 21);
    let m = bits(insn, 20, 20);
    let h = bits(insn, 11, 11);
    let opcode = bits(insn, 15, 12);
    let rd = insn & 31;
    let a = s.v((insn >> 5) & 31);
    let d0 = s.v(rd);
    let fp = matches!(opcode, 0b0001 | 0b0101 | 0b1001) && !(u && opcode != 0b1001);
    if fp {
        // FMLA, FMLS, FMUL (U=0), FMULX (U=1, opcode 1001)
        let (f, idx, rm) = match size {
            2 => (S, h << 1 | l, bits(insn, 20, 16)),
            3 => {
                if l == 1 || (!scalar && q == 0) {
                    return Err(Undef);
                }
                (D, h, bits(insn, 20, 16))
            }
            0 => (H, h << 2 | l << 1 | m, bits(insn, 19, 16)),
            _ => return Err(Undef),
        };
        let es = f.bits();
        let y = el(s.v(rm), idx, es);
        let ds = if scalar { es } else { datasize(q) };
        let mut d = 0u128;
        for i in 0..ds / es {
            let x = el(a, i, es);
            let c = &mut s.c;
            let r = match opcode {
                0b0001 => fpu::mul_add(c, f, el(d0, i, es), x, y),
                0b0101 => fpu::mul_add(c, f, el(d0, i, es), fpu::neg(f, x), y),
                _ => fpu::mul(c, f, x, y, u),
            };
            put(&mut d, i, es, r);
        }
        s.set(rd, d, ds);
        return Ok(Out::None);
    }
    let (es, idx, rm) = match size {
        1 => (16, h << 2 | l << 1 | m, bits(insn, 19, 16)),
        2 => (32, h << 1 | l, bits(insn, 20, 16)),
        _ => return Err(Undef),
    };
    let y = el(s.v(rm), idx, es);
    let part = if scalar { 0 } else { q };
    match (u, opcode) {
        (_, 0b0000) | (_, 0b0100) | (false, 0b1000) if !scalar => {
            // MLA (U=1, 0000), MLS (U=1, 0100), MUL (U=0, 1000)
            if (opcode != 0b1000) != u {
                return Err(Undef);
            }
            let ds = datasize(q);
            let mut d = 0u128;
            for i in 0..ds / es {
                let p = el(a, i, es).wrapping_mul(y);
                let o = el(d0, i, es);
                let r = match opcode {
                    0b0000 => o.wrapping_add(p),
                    0b0100 => o.wrapping_sub(p),
                    _ => p,
                };
                put(&mut d, i, es, r);
            }
            s.set(rd, d, ds);
            Ok(Out::None)
        }
        (false, 0b1100) | (false, 0b1101) => {
            // SQDMULH / SQRDMULH by element
            let ds = if scalar { es } else { datasize(q) };
            let mut d = 0u128;
            for i in 0..ds / es {
                let x = sx(el(a, i, es), es) as i128;
                let b = sx(y, es) as i128;
                let rc = if opcode == 0b1101 {
                    1i128 << (es - 1)
                } else {
                    0
                };
                let r = s.sat((2 * x * b + rc) >> es, es, false);
                put(&mut d, i, es, r);
            }
            s.set(rd, d, ds);
            Ok(Out::None)
        }
        (_, 0b0010)
        | (_, 0b0110)
        | (_, 0b1010)
        | (false, 0b0011)
        | (false, 0b0111)
        | (false, 0b1011) => {
            // SMLAL/UMLAL, SMLSL/UMLSL, SMULL/UMULL, SQDMLAL, SQDMLSL, SQDMULL
            let satop = opcode & 1 == 1;
            if scalar && !satop {
                return Err(Undef);
            }
            let src = if part == 1 { a >> 64 } else { a };
            let wes = 2 * es;
            let n = if scalar { 1 } else { 64 / es };
            let b = ival(y, es, u);
            let mut d = 0u128;
            for i in 0..n {
                let x = ival(el(src, i, es), es, u);
                let old = ival(el(d0, i, wes), wes, u);
                let r = if satop {
                    let p = sx(s.sat(2 * x * b, wes, false), wes) as i128;
                    match opcode {
                        0b1011 => p as u64,
                        0b0011 => s.sat(old + p, wes, false),
                        _ => s.sat(old - p, wes, false),
                    }
                } else {
                    match opcode {
                        0b0010 => (old + x * b) as u64,
                        0b0110 => (old - x * b) as u64,
                        _ => (x * b) as u64,
                    }
                };
                put(&mut d, i, wes, r);
            }
            s.set(rd, d, if scalar { wes } else { 128 });
            Ok(Out::None)
        }
        _ => Err(Undef),
    }
}
