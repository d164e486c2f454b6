//! Translation of the A64 "Data Processing -- Scalar Floating-Point and Advanced SIMD"
//! encoding group (op0 = x111) and of the Advanced SIMD structure loads/stores.
//!
//! Data processing: each instruction is decoded and executed by one pure Rust function
//! ([`exec_any`]: scalar FP in [`crate::fp`], crypto in [`crate::crypto`], the rest in
//! [`exec`]) that works on the SIMD&FP registers, FPCR and FPSR. The translator runs it
//! once at translate time on scratch state to learn whether the encoding is allocated
//! (undefined-ness depends only on encoding bits) and what it exchanges with the integer
//! side (general register in, general register / NZCV out, a condition), then emits a
//! helper call doing the same at run time. Structure loads/stores are plain IR memory
//! accesses, with a helper only to (de)interleave LD2-4/ST2-4 multiple structures.

pub mod exec;
pub mod fast;
pub mod fp_fast;

use crate::cpu::{A64Cpu, off};
use crate::fp::{self, Io, Out, Regs, Undef};
use crate::translate::{cond_holds, get_x, get_xsp, set_nzcv, set_x, set_xsp};
use heron_backend::Builder;
use heron_backend::helper;
use heron_backend::ir::{BinOp, Effects, MemOp, Temp, Ty};

/// Execute any instruction of the op0 = x111 group on `r`.
pub fn exec_any(r: &mut Regs, insn: u32, xn: u64, cond: bool) -> Result<Out, Undef> {
    if (insn >> 25) & 7 != 0b111 {
        return Err(Undef);
    }
    let op0 = insn >> 28;
    if op0 & 0b0101 == 0b0001 {
        return fp::exec(r, insn, xn, cond);
    }
    if crate::crypto::is_crypto(insn) {
        return crate::crypto::exec(r, insn);
    }
    if crate::crypto::is_crypto_v82(insn) {
        return crate::crypto::exec_v82(r, insn);
    }
    exec::exec(r, insn, xn)
}

/// General-purpose inputs of an instruction of the group.
pub fn io(insn: u32) -> Io {
    if (insn >> 28) & 0b0101 == 0b0001 {
        fp::io(insn)
    } else {
        Io {
            reads_xn: exec::reads_xn(insn),
            cond: false,
        }
    }
}

extern "C" fn fpsimd_helper(env: *mut u8, insn: u64, xn: u64, cond: u64) -> u64 {
    // SAFETY: generated code passes the running vCPU's `A64Cpu` as env, exclusively ours
    // for the duration of the call.
    let cpu = unsafe { &mut *(env as *mut A64Cpu) };
    let mut r = Regs {
        v: &mut cpu.v,
        fpcr: cpu.fpcr,
        fpsr: &mut cpu.fpsr,
    };
    match exec_any(&mut r, insn as u32, xn, cond != 0) {
        Ok(Out::X(v)) | Ok(Out::Nzcv(v)) | Ok(Out::XNzcv(v)) => v,
        _ => 0,
    }
}

helper!(H_FPSIMD = fpsimd_helper, 3, Effects::WRITES);

/// Translate one instruction of the "Data Processing -- Scalar Floating-Point and Advanced
/// SIMD" group. Returns false when the encoding is unallocated (nothing emitted).
pub fn translate_fp_simd(b: &mut Builder, insn: u32, _pc: u64) -> bool {
    fast::translate(b, insn) || fp_fast::translate(b, insn) || emit_generic(b, insn)
}

/// Emit the executor call for `insn` (with its general-register / condition inputs and
/// outputs). Returns false, emitting nothing, when the encoding is unallocated.
pub(crate) fn emit_generic(b: &mut Builder, insn: u32) -> bool {
    let mut v = [0u128; 32];
    let mut fpsr = 0;
    let mut scratch = Regs {
        v: &mut v,
        fpcr: 0,
        fpsr: &mut fpsr,
    };
    let Ok(out) = exec_any(&mut scratch, insn, 0, false) else {
        return false;
    };
    let io = io(insn);
    let it = b.const64(insn as u64);
    let xn = if io.reads_xn {
        get_x(b, (insn >> 5) & 31)
    } else {
        b.const64(0)
    };
    let cond = if io.cond {
        cond_holds(b, (insn >> 12) & 15)
    } else {
        b.const64(0)
    };
    match out {
        Out::None => b.call_void(&H_FPSIMD, &[it, xn, cond]),
        Out::X(_) => {
            let r = b.call(&H_FPSIMD, &[it, xn, cond]);
            set_x(b, insn & 31, r);
        }
        Out::Nzcv(_) => {
            let r = b.call(&H_FPSIMD, &[it, xn, cond]);
            set_nzcv(b, r);
        }
        Out::XNzcv(_) => {
            let r = b.call(&H_FPSIMD, &[it, xn, cond]);
            let x = b.extract(r, 0, 32, false);
            set_x(b, insn & 31, x);
            let nzcv = b.bin_imm(BinOp::ShrU, r, 32);
            set_nzcv(b, nzcv);
        }
    }
    true
}

/// Descriptor of an interleaved register group: first register, structure size, element
/// size, Q.
fn struct_desc(rt: u32, selem: u32, size: u32, q: u32) -> u64 {
    (rt | selem << 5 | size << 8 | q << 10) as u64
}

fn desc_parts(desc: u64) -> (u32, u32, u32, u32) {
    let d = desc as u32;
    (d & 31, (d >> 5) & 7, (d >> 8) & 3, (d >> 10) & 1)
}

/// The memory image of registers rt.. (selem of them, `ds` bits each) stored with STn.
fn interleave(v: &[u128; 32], desc: u64) -> [u8; 64] {
    let (rt, selem, size, q) = desc_parts(desc);
    let es = 8 << size;
    let ds = if q == 1 { 128 } else { 64 };
    let eb = (es / 8) as usize;
    let mut img = [0u8; 64];
    for e in 0..ds / es {
        for s in 0..selem {
            let x = exec::el(v[((rt + s) % 32) as usize], e, es);
            let at = ((e * selem + s) as usize) * eb;
            img[at..at + eb].copy_from_slice(&x.to_le_bytes()[..eb]);
        }
    }
    img
}

extern "C" fn interleave_helper(env: *mut u8, desc: u64, chunk: u64) -> u64 {
    // SAFETY: env is the running vCPU's `A64Cpu`; only read here.
    let cpu = unsafe { &*(env as *const A64Cpu) };
    let img = interleave(&cpu.v, desc);
    let k = (chunk as usize % 8) * 8;
    let mut w = [0u8; 8];
    w.copy_from_slice(&img[k..k + 8]);
    u64::from_le_bytes(w)
}

extern "C" fn deinterleave_helper(env: *mut u8, desc: u64) -> u64 {
    // SAFETY: env is the running vCPU's `A64Cpu`, exclusively ours during the call.
    let cpu = unsafe { &mut *(env as *mut A64Cpu) };
    let (rt, selem, size, q) = desc_parts(desc);
    let es = 8 << size;
    let ds = if q == 1 { 128 } else { 64 };
    let eb = (es / 8) as usize;
    let chunk = (ds / 8) as usize;
    // The registers hold the raw memory image, chunk s in register rt+s.
    let mut img = [0u8; 64];
    for s in 0..selem as usize {
        let r = cpu.v[(rt as usize + s) % 32].to_le_bytes();
        for k in 0..chunk {
            img[s * chunk + k] = r[k];
        }
    }
    let mut regs = [[0u8; 16]; 4];
    let n = selem as usize;
    for e in 0..(ds / es) as usize {
        for (s, reg) in regs.iter_mut().enumerate().take(n) {
            let at = (e * n + s) * eb;
            for k in 0..eb {
                reg[e * eb + k] = img[at + k];
            }
        }
    }
    for (s, reg) in regs.iter().enumerate().take(selem as usize) {
        cpu.v[(rt as usize + s) % 32] = u128::from_le_bytes(*reg);
    }
    0
}

helper!(H_INTERLEAVE = interleave_helper, 2, Effects::READS);
helper!(H_DEINTERLEAVE = deinterleave_helper, 1, Effects::WRITES);

fn add_imm(b: &mut Builder, a: Temp, imm: u64) -> Temp {
    if imm == 0 {
        a
    } else {
        b.bin_imm(BinOp::Add, a, imm)
    }
}

/// Replicate the low `es` bits of the I128 `x` across `ds` bits.
fn replicate(b: &mut Builder, x: Temp, es: u32, ds: u32) -> Temp {
    let mut r = x;
    let mut w = es;
    while w < ds {
        let sh = b.const_(Ty::I128, w as u64);
        let t = b.bin(BinOp::Shl, r, sh);
        r = b.bin(BinOp::Or, r, t);
        w *= 2;
    }
    r
}

/// Translate one Advanced SIMD load/store multiple/single structure instruction (LD1-4,
/// ST1-4, LD1R-4R, with or without post-index). Returns false when unallocated.
pub fn translate_ldst_struct(b: &mut Builder, insn: u32, _pc: u64) -> bool {
    if insn >> 31 != 0 || (insn >> 25) & 0x1f != 0b00110 {
        return false;
    }
    let q = (insn >> 30) & 1;
    let single = (insn >> 24) & 1 == 1;
    let post = (insn >> 23) & 1 == 1;
    let load = (insn >> 22) & 1 == 1;
    let r_bit = (insn >> 21) & 1;
    let rm = (insn >> 16) & 31;
    let size = (insn >> 10) & 3;
    let rn = (insn >> 5) & 31;
    let rt = insn & 31;
    if !post && rm != 0 {
        return false;
    }
    let ds = if q == 1 { 128 } else { 64 };
    let base;
    let total: u64;
    if !single {
        if r_bit != 0 {
            return false;
        }
        let (rpt, selem) = match (insn >> 12) & 15 {
            0b0000 => (1, 4),
            0b0010 => (4, 1),
            0b0100 => (1, 3),
            0b0110 => (3, 1),
            0b0111 => (1, 1),
            0b1000 => (1, 2),
            0b1010 => (2, 1),
            _ => return false,
        };
        if size == 3 && q == 0 && selem != 1 {
            return false;
        }
        base = get_xsp(b, rn);
        let regs = rpt * selem;
        let rbytes = (ds / 8) as u64;
        total = regs as u64 * rbytes;
        if load {
            let mut vals = Vec::new();
            for r in 0..regs {
                let a = add_imm(b, base, r as u64 * rbytes);
                let x = b.load(Ty::I128, a, MemOp::le(rbytes as u8, false));
                vals.push(x);
            }
            for (r, x) in vals.into_iter().enumerate() {
                b.set_global(Ty::I128, off::v((rt + r as u32) % 32), x);
            }
            if selem > 1 {
                let d = b.const64(struct_desc(rt, selem, size, q));
                b.call_void(&H_DEINTERLEAVE, &[d]);
            }
        } else if selem == 1 {
            for r in 0..regs {
                let x = b.get_global(Ty::I128, off::v((rt + r) % 32));
                let a = add_imm(b, base, r as u64 * rbytes);
                b.store(x, a, MemOp::le(rbytes as u8, false));
            }
        } else {
            let d = b.const64(struct_desc(rt, selem, size, q));
            let mut vals = Vec::new();
            for k in 0..total / 8 {
                let kt = b.const64(k);
                vals.push(b.call(&H_INTERLEAVE, &[d, kt]));
            }
            for (k, x) in vals.into_iter().enumerate() {
                let a = add_imm(b, base, 8 * k as u64);
                b.store(x, a, MemOp::le(8, false));
            }
        }
    } else {
        let opcode = (insn >> 13) & 7;
        let s_bit = (insn >> 12) & 1;
        let selem = ((opcode & 1) << 1 | r_bit) + 1;
        let mut scale = opcode >> 1;
        let mut replicate_all = false;
        let index = match scale {
            3 => {
                if !load || s_bit != 0 {
                    return false;
                }
                scale = size;
                replicate_all = true;
                0
            }
            0 => q << 3 | s_bit << 2 | size,
            1 => {
                if size & 1 != 0 {
                    return false;
                }
                q << 2 | s_bit << 1 | size >> 1
            }
            _ => {
                if size & 2 != 0 {
                    return false;
                }
                if size & 1 == 0 {
                    q << 1 | s_bit
                } else {
                    if s_bit != 0 {
                        return false;
                    }
                    scale = 3;
                    q
                }
            }
        };
        base = get_xsp(b, rn);
        let eb = 1u64 << scale;
        let es = 8 << scale;
        total = selem as u64 * eb;
        if load {
            let mut vals = Vec::new();
            for s in 0..selem {
                let a = add_imm(b, base, s as u64 * eb);
                vals.push(b.load(Ty::I128, a, MemOp::le(eb as u8, false)));
            }
            for (s, x) in vals.into_iter().enumerate() {
                let reg = off::v((rt + s as u32) % 32);
                let v = if replicate_all {
                    replicate(b, x, es, ds)
                } else {
                    let old = b.get_global(Ty::I128, reg);
                    b.deposit(old, x, (index * es) as u8, es as u8)
                };
                b.set_global(Ty::I128, reg, v);
            }
        } else {
            for s in 0..selem {
                let v = b.get_global(Ty::I128, off::v((rt + s) % 32));
                let x = b.extract(v, (index * es) as u8, es as u8, false);
                let a = add_imm(b, base, s as u64 * eb);
                b.store(x, a, MemOp::le(eb as u8, false));
            }
        }
    }
    if post {
        let new = if rm == 31 {
            add_imm(b, base, total)
        } else {
            let m = get_x(b, rm);
            b.bin(BinOp::Add, base, m)
        };
        set_xsp(b, rn, new);
    }
    true
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod qemu_diff;

#[cfg(test)]
mod guest_run;
