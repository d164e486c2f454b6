//! Translation of the RISC-V F and D extensions (LOAD-FP, STORE-FP, the fused multiply-add
//! opcodes and OP-FP) into heron IR. Loads, stores, moves, sign injection and NaN-boxing are
//! plain IR; everything that rounds, compares, classifies or raises flags calls a helper
//! from [`crate::fpu`]. The integer translator calls [`translate_fp`] for these opcodes.

use crate::cpu::off;
use crate::fpu;
use heron_backend::Builder;
use heron_backend::ir::{BinOp, Cond, Helper, MemOp, Temp, Ty};

/// Major opcodes handled here.
pub const OPC_LOAD_FP: u32 = 0x07;
pub const OPC_STORE_FP: u32 = 0x27;
pub const OPC_MADD: u32 = 0x43;
pub const OPC_MSUB: u32 = 0x47;
pub const OPC_NMSUB: u32 = 0x4b;
pub const OPC_NMADD: u32 = 0x4f;
pub const OPC_OP_FP: u32 = 0x53;

/// Whether `insn`'s major opcode belongs to [`translate_fp`].
pub fn is_fp_opcode(insn: u32) -> bool {
    matches!(
        insn & 0x7f,
        OPC_LOAD_FP | OPC_STORE_FP | OPC_MADD | OPC_MSUB | OPC_NMSUB | OPC_NMADD | OPC_OP_FP
    )
}

/// Translate one F/D instruction (the caller has emitted `insn_start(pc)`). Returns false,
/// having emitted nothing, when `insn` is not a valid F/D instruction (the caller then
/// raises illegal instruction). A reserved static rounding mode is rejected here; a dynamic
/// one that finds a reserved `frm` raises illegal instruction when executed.
pub fn translate_fp(b: &mut Builder, insn: u32, pc: u64) -> bool {
    translate_fp_idx(b, insn, pc, 0)
}

/// [`translate_fp`] with FP loads and stores through MMU index `mmu_idx` (system mode).
pub fn translate_fp_idx(b: &mut Builder, insn: u32, pc: u64, mmu_idx: u8) -> bool {
    let _ = pc; // Helpers that may raise get the PC from the instruction start.
    let f = Fields::new(insn);
    match f.opcode {
        OPC_LOAD_FP => load(b, &f, mmu_idx),
        OPC_STORE_FP => store(b, &f, mmu_idx),
        OPC_MADD | OPC_MSUB | OPC_NMSUB | OPC_NMADD => fused(b, &f),
        OPC_OP_FP => op_fp(b, &f),
        _ => false,
    }
}

/// Decoded instruction fields.
struct Fields {
    insn: u32,
    opcode: u32,
    rd: u32,
    funct3: u32,
    rs1: u32,
    rs2: u32,
    rs3: u32,
    funct7: u32,
}

impl Fields {
    fn new(insn: u32) -> Fields {
        Fields {
            insn,
            opcode: insn & 0x7f,
            rd: (insn >> 7) & 31,
            funct3: (insn >> 12) & 7,
            rs1: (insn >> 15) & 31,
            rs2: (insn >> 20) & 31,
            rs3: insn >> 27,
            funct7: insn >> 25,
        }
    }
    /// The precision field (bits 26:25): 0 = S, 1 = D, others unsupported.
    fn fmt(&self) -> Option<Prec> {
        match self.funct7 & 3 {
            0 => Some(Prec::S),
            1 => Some(Prec::D),
            _ => None,
        }
    }
    /// Whether the rm field is a valid static mode or dynamic.
    fn rm_ok(&self) -> bool {
        self.funct3 <= 4 || self.funct3 == 7
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prec {
    S,
    D,
}

fn get_f(b: &mut Builder, r: u32) -> Temp {
    b.get_global(Ty::I64, off::f(r))
}

fn set_f(b: &mut Builder, r: u32, v: Temp) {
    b.set_global(Ty::I64, off::f(r), v);
}

fn get_x(b: &mut Builder, r: u32) -> Temp {
    if r == 0 {
        b.const64(0)
    } else {
        b.get_global(Ty::I64, off::x(r))
    }
}

fn set_x(b: &mut Builder, r: u32, v: Temp) {
    if r != 0 {
        b.set_global(Ty::I64, off::x(r), v);
    }
}

/// x[rs1] + imm.
fn address(b: &mut Builder, rs1: u32, imm: i64) -> Temp {
    let base = get_x(b, rs1);
    if imm == 0 {
        base
    } else {
        b.bin_imm(BinOp::Add, base, imm as u64)
    }
}

/// FLW / FLD.
fn load(b: &mut Builder, f: &Fields, mmu_idx: u8) -> bool {
    let size = match f.funct3 {
        2 => 4,
        3 => 8,
        _ => return false,
    };
    let imm = (f.insn as i32 >> 20) as i64;
    let addr = address(b, f.rs1, imm);
    let mut m = MemOp::le(size, false);
    m.mmu_idx = mmu_idx;
    let v = b.load(Ty::I64, addr, m);
    let v = if size == 4 {
        b.bin_imm(BinOp::Or, v, fpu::BOX)
    } else {
        v
    };
    set_f(b, f.rd, v);
    true
}

/// FSW / FSD.
fn store(b: &mut Builder, f: &Fields, mmu_idx: u8) -> bool {
    let size = match f.funct3 {
        2 => 4,
        3 => 8,
        _ => return false,
    };
    let imm = (((f.insn as i32 >> 25) << 5) | ((f.insn >> 7) & 31) as i32) as i64;
    let addr = address(b, f.rs1, imm);
    let v = get_f(b, f.rs2);
    let mut m = MemOp::le(size, false);
    m.mmu_idx = mmu_idx;
    b.store(v, addr, m);
    true
}

/// Emit a call to a helper whose last argument is the instruction word.
fn call_with_insn(b: &mut Builder, h: &'static Helper, args: &[Temp], insn: u32) -> Temp {
    let iw = b.const64(insn as u64);
    let mut all = args.to_vec();
    all.push(iw);
    b.call(h, &all)
}

/// FMADD / FMSUB / FNMSUB / FNMADD (the helper reads which from the opcode bits).
fn fused(b: &mut Builder, f: &Fields) -> bool {
    let Some(p) = f.fmt() else { return false };
    if !f.rm_ok() {
        return false;
    }
    let h = match p {
        Prec::S => &fpu::FMA_S,
        Prec::D => &fpu::FMA_D,
    };
    let (x, y, z) = (get_f(b, f.rs1), get_f(b, f.rs2), get_f(b, f.rs3));
    let r = call_with_insn(b, h, &[x, y, z], f.insn);
    set_f(b, f.rd, r);
    true
}

/// The f32 in an f register as an I64 with the value in the low half and all ones above:
/// the register itself if properly NaN-boxed, else the boxed canonical NaN.
fn unboxed_s(b: &mut Builder, r: u32) -> Temp {
    let v = get_f(b, r);
    let hi = b.bin_imm(BinOp::ShrU, v, 32);
    let ones = b.const64(0xffff_ffff);
    let ok = b.setcond(Cond::Eq, hi, ones);
    let canon = b.const64(fpu::nan_box(fpu::CANONICAL_NAN_S));
    b.select(ok, v, canon)
}

/// FSGNJ / FSGNJN / FSGNJX: plain bit operations (no flags, NaNs not canonicalized).
fn sign_inject(b: &mut Builder, f: &Fields, p: Prec) -> bool {
    if f.funct3 > 2 {
        return false;
    }
    let sign: u64 = match p {
        Prec::S => 1 << 31,
        Prec::D => 1 << 63,
    };
    let read = |b: &mut Builder, r: u32| match p {
        Prec::S => unboxed_s(b, r),
        Prec::D => get_f(b, r),
    };
    let a = read(b, f.rs1);
    // The magnitude of rs1; for S the box bits above stay set.
    let mag = b.bin_imm(BinOp::And, a, !sign);
    let r = if f.rs1 == f.rs2 {
        // fmv / fneg / fabs.
        match f.funct3 {
            0 => a,
            1 => b.bin_imm(BinOp::Xor, a, sign),
            _ => mag,
        }
    } else {
        let s = read(b, f.rs2);
        let sign_t = b.const64(sign);
        match f.funct3 {
            0 => {
                let sb = b.bin(BinOp::And, s, sign_t);
                b.bin(BinOp::Or, mag, sb)
            }
            1 => {
                let sb = b.bin(BinOp::AndNot, sign_t, s);
                b.bin(BinOp::Or, mag, sb)
            }
            _ => {
                let sb = b.bin(BinOp::And, s, sign_t);
                b.bin(BinOp::Xor, a, sb)
            }
        }
    };
    set_f(b, f.rd, r);
    true
}

fn op_fp(b: &mut Builder, f: &Fields) -> bool {
    let Some(p) = f.fmt() else { return false };
    let s = p == Prec::S;
    let pick = |hs: &'static Helper, hd: &'static Helper| if s { hs } else { hd };
    match f.funct7 >> 2 {
        // FADD, FSUB, FMUL, FDIV
        op @ 0x00..=0x03 => {
            if !f.rm_ok() {
                return false;
            }
            let h = match op {
                0 => pick(&fpu::FADD_S, &fpu::FADD_D),
                1 => pick(&fpu::FSUB_S, &fpu::FSUB_D),
                2 => pick(&fpu::FMUL_S, &fpu::FMUL_D),
                _ => pick(&fpu::FDIV_S, &fpu::FDIV_D),
            };
            let (x, y) = (get_f(b, f.rs1), get_f(b, f.rs2));
            let r = call_with_insn(b, h, &[x, y], f.insn);
            set_f(b, f.rd, r);
            true
        }
        // FSQRT
        0x0b => {
            if f.rs2 != 0 || !f.rm_ok() {
                return false;
            }
            let x = get_f(b, f.rs1);
            let r = call_with_insn(b, pick(&fpu::FSQRT_S, &fpu::FSQRT_D), &[x], f.insn);
            set_f(b, f.rd, r);
            true
        }
        0x04 => sign_inject(b, f, p),
        // FMIN, FMAX
        0x05 => {
            let h = match f.funct3 {
                0 => pick(&fpu::FMIN_S, &fpu::FMIN_D),
                1 => pick(&fpu::FMAX_S, &fpu::FMAX_D),
                _ => return false,
            };
            let (x, y) = (get_f(b, f.rs1), get_f(b, f.rs2));
            let r = b.call(h, &[x, y]);
            set_f(b, f.rd, r);
            true
        }
        // FCVT.S.D (fmt S, rs2 = D) and FCVT.D.S (fmt D, rs2 = S)
        0x08 => {
            let h = match (p, f.rs2) {
                (Prec::S, 1) => &fpu::FCVT_S_D,
                (Prec::D, 0) => &fpu::FCVT_D_S,
                _ => return false,
            };
            if !f.rm_ok() {
                return false;
            }
            let x = get_f(b, f.rs1);
            let r = call_with_insn(b, h, &[x], f.insn);
            set_f(b, f.rd, r);
            true
        }
        // FEQ, FLT, FLE
        0x14 => {
            let h = match f.funct3 {
                2 => pick(&fpu::FEQ_S, &fpu::FEQ_D),
                1 => pick(&fpu::FLT_S, &fpu::FLT_D),
                0 => pick(&fpu::FLE_S, &fpu::FLE_D),
                _ => return false,
            };
            let (x, y) = (get_f(b, f.rs1), get_f(b, f.rs2));
            let r = b.call(h, &[x, y]);
            set_x(b, f.rd, r);
            true
        }
        // FCVT.{W,WU,L,LU}.fmt
        0x18 => {
            if f.rs2 > 3 || !f.rm_ok() {
                return false;
            }
            let x = get_f(b, f.rs1);
            let r = call_with_insn(b, pick(&fpu::FCVT_INT_S, &fpu::FCVT_INT_D), &[x], f.insn);
            set_x(b, f.rd, r);
            true
        }
        // FCVT.fmt.{W,WU,L,LU}
        0x1a => {
            if f.rs2 > 3 || !f.rm_ok() {
                return false;
            }
            let x = get_x(b, f.rs1);
            let r = call_with_insn(b, pick(&fpu::FCVT_S_INT, &fpu::FCVT_D_INT), &[x], f.insn);
            set_f(b, f.rd, r);
            true
        }
        // FMV.X.W / FMV.X.D (funct3 0), FCLASS (funct3 1)
        0x1c => {
            if f.rs2 != 0 {
                return false;
            }
            match f.funct3 {
                0 => {
                    let v = get_f(b, f.rs1);
                    let r = if s { b.extract(v, 0, 32, true) } else { v };
                    set_x(b, f.rd, r);
                }
                1 => {
                    let v = get_f(b, f.rs1);
                    let r = b.call(pick(&fpu::FCLASS_S, &fpu::FCLASS_D), &[v]);
                    set_x(b, f.rd, r);
                }
                _ => return false,
            }
            true
        }
        // FMV.W.X / FMV.D.X
        0x1e => {
            if f.rs2 != 0 || f.funct3 != 0 {
                return false;
            }
            let v = get_x(b, f.rs1);
            let r = if s {
                b.bin_imm(BinOp::Or, v, fpu::BOX)
            } else {
                v
            };
            set_f(b, f.rd, r);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::RiscvCpu;
    use crate::fpu::soft::{F32, F64};
    use crate::fpu::tests::Rng;
    use crate::fpu::{CANONICAL_NAN_D, CANONICAL_NAN_S, nan_box};
    use heron_backend::interp::{InterpBlock, InterpRegs};
    use heron_backend::ir::{ExitStatus, Op};
    use heron_backend::jit::{CompiledBlock, Jit, JitConfig};
    use heron_backend::mem::{GuestMemory, PERM_R, PERM_W};
    use heron_backend::verify::verify;

    fn r(funct7: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
        funct7 << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | OPC_OP_FP
    }
    fn r4(opc: u32, rs3: u32, fmt: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
        rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opc
    }
    fn ld(imm: i32, rs1: u32, width: u32, rd: u32) -> u32 {
        ((imm as u32) << 20) | rs1 << 15 | width << 12 | rd << 7 | OPC_LOAD_FP
    }
    fn st(imm: i32, rs2: u32, rs1: u32, width: u32) -> u32 {
        let imm = imm as u32;
        (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | width << 12 | (imm & 31) << 7 | OPC_STORE_FP
    }

    fn translate(insn: u32) -> (bool, Builder) {
        let mut b = Builder::new(0x1000);
        let ok = translate_fp(&mut b, insn, 0x1000);
        (ok, b)
    }

    #[test]
    fn known_encodings() {
        // Words as assembled by binutils.
        for (insn, what) in [
            (0x02b5_7553, "fadd.d fa0,fa0,fa1"),
            (0x0081_3507, "fld fa0,8(sp)"),
            (0x00a1_3427, "fsd fa0,8(sp)"),
            (0x0005_2787, "flw fa5,0(a0)"),
            (0xe205_0553, "fmv.x.d a0,fa0"),
            (0xf207_87d3, "fmv.d.x fa5,a5"),
            (0xc205_1553, "fcvt.w.d a0,fa0,rtz"),
            (0x62b5_7543, "fmadd.d fa0,fa0,fa1,fa2"),
            (0x5a05_7553, "fsqrt.d fa0,fa0"),
            (0xa2b5_2553, "feq.d a0,fa0,fa1"),
            (0x4205_0553, "fcvt.d.s fa0,fa0"),
            (0x4015_7553, "fcvt.s.d fa0,fa0"),
            (0xe205_1553, "fclass.d a0,fa0"),
        ] {
            assert!(translate(insn).0, "{what}");
        }
    }

    #[test]
    fn accepts_every_f_and_d_instruction() {
        let mut valid = vec![
            ld(-8, 2, 2, 1),
            ld(2047, 31, 3, 31),
            st(-2048, 3, 4, 2),
            st(16, 3, 0, 3),
        ];
        for fmt in 0..2 {
            for rm in [0, 1, 2, 3, 4, 7] {
                for opc in [OPC_MADD, OPC_MSUB, OPC_NMSUB, OPC_NMADD] {
                    valid.push(r4(opc, 3, fmt, 2, 1, rm, 4));
                }
                for funct5 in 0..4 {
                    valid.push(r(funct5 << 2 | fmt, 2, 1, rm, 3));
                }
                valid.push(r(0x0b << 2 | fmt, 0, 1, rm, 3)); // fsqrt
                for rs2 in 0..4 {
                    valid.push(r(0x18 << 2 | fmt, rs2, 1, rm, 3)); // fcvt.int.fmt
                    valid.push(r(0x1a << 2 | fmt, rs2, 1, rm, 3)); // fcvt.fmt.int
                }
            }
            for funct3 in 0..3 {
                valid.push(r(0x04 << 2 | fmt, 2, 1, funct3, 3)); // fsgnj*
                valid.push(r(0x04 << 2 | fmt, 1, 1, funct3, 3)); // fmv/fneg/fabs
                valid.push(r(0x14 << 2 | fmt, 2, 1, funct3, 3)); // fle/flt/feq
            }
            for funct3 in 0..2 {
                valid.push(r(0x05 << 2 | fmt, 2, 1, funct3, 3)); // fmin/fmax
                valid.push(r(0x1c << 2 | fmt, 0, 1, funct3, 3)); // fmv.x / fclass
            }
            valid.push(r(0x1e << 2 | fmt, 0, 1, 0, 3)); // fmv.fmt.x
        }
        for rm in [0, 1, 2, 3, 4, 7] {
            valid.push(r(0x20, 1, 1, rm, 2)); // fcvt.s.d
            valid.push(r(0x21, 0, 1, rm, 2)); // fcvt.d.s
        }
        for insn in valid {
            let mut b = Builder::new(PC);
            b.insn_start(PC);
            assert!(translate_fp(&mut b, insn, PC), "{insn:#010x} rejected");
            assert!(b.block.ops.len() > 1);
            b.goto_block(PC + 4);
            let block = b.finish();
            if let Err(e) = verify(&block) {
                panic!("{insn:#010x}: {e:?}");
            }
        }
    }

    #[test]
    fn rejects_everything_else_and_emits_nothing() {
        let invalid = [
            r(0x01, 11, 10, 5, 10),          // fadd.d, reserved rm 5
            r(0x01, 11, 10, 6, 10),          // fadd.d, reserved rm 6
            r(0x02, 11, 10, 0, 10),          // fadd.h (Zfh)
            r(0x03, 11, 10, 0, 10),          // fadd.q
            r(0x2d, 1, 10, 0, 10),           // fsqrt.d with rs2 != 0
            r(0x2c, 0, 10, 5, 10),           // fsqrt.s, reserved rm
            r(0x11, 2, 1, 3, 3),             // fsgnj funct3 3
            r(0x15, 2, 1, 2, 3),             // fminm.d (Zfa)
            r(0x15, 2, 1, 3, 3),             // fmaxm.d (Zfa)
            r(0x20, 0, 1, 0, 2),             // fcvt.s.s
            r(0x20, 2, 1, 0, 2),             // fcvt.s.h
            r(0x20, 4, 1, 0, 2),             // fround.s (Zfa)
            r(0x21, 1, 1, 0, 2),             // fcvt.d.d
            r(0x21, 0, 1, 5, 2),             // fcvt.d.s, reserved rm
            r(0x51, 2, 1, 3, 3),             // compare funct3 3
            r(0x51, 2, 1, 4, 3),             // fltq (Zfa)
            r(0x61, 4, 1, 1, 3),             // fcvt.int.d rs2 4
            r(0x61, 8, 1, 1, 3),             // fcvtmod.w.d (Zfa)
            r(0x61, 0, 1, 6, 3),             // fcvt.w.d, reserved rm
            r(0x69, 4, 1, 0, 3),             // fcvt.d.int rs2 4
            r(0x71, 1, 1, 0, 3),             // fmv.x.d rs2 1
            r(0x71, 0, 1, 2, 3),             // fmv.x.d funct3 2
            r(0x79, 0, 1, 1, 3),             // fmv.d.x funct3 1
            r(0x79, 1, 1, 0, 3),             // fli.d (Zfa)
            r(0x19, 2, 1, 0, 3),             // unassigned funct5 6
            r(0x41, 2, 1, 0, 3),             // unassigned funct5 0x10
            r4(OPC_MADD, 3, 2, 2, 1, 0, 4),  // fmadd.h
            r4(OPC_NMADD, 3, 3, 2, 1, 0, 4), // fnmadd.q
            r4(OPC_MSUB, 3, 1, 2, 1, 5, 4),  // fmsub.d, reserved rm
            ld(0, 1, 1, 2),                  // flh
            ld(0, 1, 4, 2),                  // flq
            ld(0, 1, 0, 2),                  // vector load
            ld(0, 1, 6, 2),                  // vector load
            st(0, 1, 2, 1),                  // fsh
            st(0, 1, 2, 4),                  // fsq
            st(0, 1, 2, 7),                  // vector store
            0x0000_0013,                     // addi (not an FP opcode)
            0x0000_0000,
        ];
        for insn in invalid {
            let (ok, b) = translate(insn);
            assert!(!ok, "{insn:#010x} accepted");
            assert!(
                b.block.ops.is_empty() && b.block.temps.is_empty(),
                "{insn:#010x}"
            );
        }
    }

    #[test]
    fn ir_shape_of_a_rounding_op() {
        let (ok, b) = translate(0x02b5_7553); // fadd.d fa0, fa0, fa1 (dynamic rm)
        assert!(ok);
        let ops = &b.block.ops;
        assert_eq!(ops.len(), 5, "{ops:?}");
        assert!(
            matches!(ops[0], Op::GetGlobal { ty: Ty::I64, offset, .. } if offset == off::f(10))
        );
        assert!(
            matches!(ops[1], Op::GetGlobal { ty: Ty::I64, offset, .. } if offset == off::f(11))
        );
        assert!(matches!(
            ops[2],
            Op::Const {
                ty: Ty::I64,
                value: 0x02b5_7553,
                ..
            }
        ));
        match &ops[3] {
            Op::Call { helper, args, dst } => {
                assert!(std::ptr::eq(*helper, &fpu::FADD_D));
                assert_eq!(args.len(), 3);
                assert!(dst.is_some());
            }
            op => panic!("{op:?}"),
        }
        assert!(
            matches!(ops[4], Op::SetGlobal { ty: Ty::I64, offset, .. } if offset == off::f(10))
        );
    }

    #[test]
    fn ir_shape_of_loads_stores_and_moves() {
        let (_, b) = translate(ld(-8, 2, 2, 1)); // flw f1, -8(sp)
        let ops = &b.block.ops;
        assert!(ops.iter().any(|op| matches!(
            op,
            Op::Load { ty: Ty::I64, mem, .. } if *mem == MemOp::le(4, false)
        )));
        assert!(
            ops.iter()
                .any(|op| matches!(op, Op::Const { value, .. } if *value == fpu::BOX))
        );
        assert!(
            ops.iter()
                .any(|op| matches!(op, Op::Const { value, .. } if *value == (-8i64) as u64))
        );
        assert!(!ops.iter().any(|op| matches!(op, Op::Call { .. })));
        let (_, b) = translate(st(16, 3, 0, 2)); // fsw f3, 16(x0)
        assert!(b.block.ops.iter().any(|op| matches!(
            op,
            Op::Store { ty: Ty::I64, mem, .. } if *mem == MemOp::le(4, false)
        )));
        // fcvt.w.d x0, fa0: the helper still runs (flags, exceptions), nothing is written.
        let (_, b) = translate(r(0x61, 0, 10, 1, 0));
        assert!(b.block.ops.iter().any(|op| matches!(op, Op::Call { .. })));
        assert!(
            !b.block
                .ops
                .iter()
                .any(|op| matches!(op, Op::SetGlobal { .. }))
        );
        // Sign injection and moves are plain IR.
        for insn in [
            r(0x10, 2, 1, 0, 3),
            r(0x11, 2, 1, 2, 3),
            r(0x70, 0, 1, 0, 3),
        ] {
            let (_, b) = translate(insn);
            assert!(!b.block.ops.iter().any(|op| matches!(op, Op::Call { .. })));
        }
    }

    /// One hart and a little guest memory; runs translated instructions (verified by the IR
    /// verifier) on the backend's reference interpreter, or compiled by the JIT.
    struct Machine {
        cpu: RiscvCpu,
        mem: GuestMemory,
        regs: InterpRegs,
        jit: Option<Jit>,
    }

    /// A translated instruction, ready to run on the machine's tier.
    enum Code {
        Interp(InterpBlock),
        Jit(CompiledBlock),
    }

    const PC: u64 = 0x8000;

    impl Machine {
        fn on_tier(jit: bool) -> Machine {
            let mem = GuestMemory::reserve(1 << 24).expect("reserve");
            mem.map_anon(0x1000, 0x2000, PERM_R | PERM_W).expect("map");
            let jit = jit.then(|| {
                Jit::new(JitConfig {
                    code_size: 1 << 20,
                    guest_base: mem.base(),
                    guest_limit: mem.limit(),
                    opt_speed: false,
                    verify: true,
                })
                .expect("jit")
            });
            Machine {
                cpu: RiscvCpu::default(),
                mem,
                regs: InterpRegs::default(),
                jit,
            }
        }
        /// Translate one instruction into a verified block for this machine's tier.
        fn build(&mut self, insn: u32) -> Code {
            let mut b = Builder::new(PC);
            b.insn_start(PC);
            assert!(translate_fp(&mut b, insn, PC), "{insn:#010x}");
            b.goto_block(PC + 4);
            let mut block = b.finish();
            block.guest_size = 4;
            block.num_insns = 1;
            if let Err(e) = verify(&block) {
                panic!("{insn:#010x}: {e:?}\n{block:?}");
            }
            match &mut self.jit {
                Some(j) => Code::Jit(j.compile(&block).expect("compile")),
                None => Code::Interp(InterpBlock::new(&block)),
            }
        }
        /// Run a block built by [`Machine::build`]; returns the exit status.
        fn run(&mut self, code: &Code) -> ExitStatus {
            let env = (&mut self.cpu as *mut RiscvCpu).cast::<u8>();
            // SAFETY: env is a live RiscvCpu covering every global the translator uses, and
            // the block calls only fpu helpers, whose ABI matches their declarations; JIT
            // code comes from this machine's Jit (no guest memory faults are provoked on
            // that tier, which would need the host fault handler).
            let st = unsafe {
                match (code, &self.jit) {
                    (Code::Interp(ib), _) => ib.run(env, &self.mem, &mut self.regs),
                    (Code::Jit(cb), Some(j)) => j.enter(env, cb.entry),
                    (Code::Jit(_), None) => unreachable!("JIT code without a JIT"),
                }
            };
            let want_pc = if st == ExitStatus::Next { PC + 4 } else { PC };
            assert_eq!(self.cpu.hdr.pc, want_pc);
            st
        }
        /// Run one instruction as a block; returns the exit status.
        fn exec(&mut self, insn: u32) -> ExitStatus {
            let code = self.build(insn);
            self.run(&code)
        }
    }

    const NEG_D: u64 = 1 << 63;

    #[test]
    fn sign_injection_semantics() {
        for jit in [false, true] {
            sign_injection_on(Machine::on_tier(jit));
        }
    }

    fn sign_injection_on(mut m: Machine) {
        let (one, mtwo) = (1.0f64.to_bits(), (-2.0f64).to_bits());
        m.cpu.f[1] = one;
        m.cpu.f[2] = mtwo;
        for (funct3, want) in [(0, NEG_D | one), (1, one), (2, NEG_D | one)] {
            assert_eq!(m.exec(r(0x11, 2, 1, funct3, 3)), ExitStatus::Next);
            assert_eq!(m.cpu.f[3], want, "fsgnj*.d funct3 {funct3}");
        }
        // fmv.d / fneg.d / fabs.d keep NaN payloads.
        m.cpu.f[4] = 0xfff0_0000_0000_0001;
        for (funct3, want) in [
            (0, 0xfff0_0000_0000_0001),
            (1, 0x7ff0_0000_0000_0001),
            (2, 0x7ff0_0000_0000_0001),
        ] {
            m.exec(r(0x11, 4, 4, funct3, 5));
            assert_eq!(m.cpu.f[5], want);
        }
        // Single precision: results boxed; improperly boxed inputs read as canonical NaN.
        let s = |x: f32| nan_box(x.to_bits());
        m.cpu.f[1] = s(1.5);
        m.cpu.f[2] = s(-3.0);
        for (funct3, want) in [(0, s(-1.5)), (1, s(1.5)), (2, s(-1.5))] {
            m.exec(r(0x10, 2, 1, funct3, 3));
            assert_eq!(m.cpu.f[3], want, "fsgnj*.s funct3 {funct3}");
        }
        m.cpu.f[6] = 1.5f64.to_bits(); // not a boxed f32
        m.exec(r(0x10, 2, 6, 0, 3));
        assert_eq!(m.cpu.f[3], nan_box(CANONICAL_NAN_S | 1 << 31));
        m.exec(r(0x10, 6, 1, 1, 3)); // sign from a canonical NaN (positive): negated
        assert_eq!(m.cpu.f[3], s(-1.5));
        m.exec(r(0x10, 6, 6, 2, 3)); // fabs.s of a bad box
        assert_eq!(m.cpu.f[3], nan_box(CANONICAL_NAN_S));
        m.cpu.f[7] = nan_box(0xff80_0001); // boxed negative sNaN: payload kept
        m.exec(r(0x10, 7, 7, 1, 3));
        assert_eq!(m.cpu.f[3], nan_box(0x7f80_0001));
        assert_eq!(m.cpu.fflags, 0);
    }

    #[test]
    fn moves_loads_and_stores() {
        for jit in [false, true] {
            let m = moves_loads_and_stores_on(Machine::on_tier(jit));
            if jit {
                continue; // guest faults in JIT code need the host fault handler
            }
            faults_on(m);
        }
    }

    fn moves_loads_and_stores_on(mut m: Machine) -> Machine {
        // fmv.x.w sign-extends the low 32 bits, without checking the box.
        m.cpu.f[1] = 0x1234_5678_8000_0001;
        m.exec(r(0x70, 0, 1, 0, 10));
        assert_eq!(m.cpu.x[10], 0xffff_ffff_8000_0001);
        m.exec(r(0x70, 0, 1, 0, 0)); // rd = x0: dropped
        assert_eq!(m.cpu.x[0], 0);
        // fmv.w.x boxes; fmv.d.x / fmv.x.d copy.
        m.cpu.x[11] = 0xdead_beef_7fc0_0001;
        m.exec(r(0x78, 0, 11, 0, 2));
        assert_eq!(m.cpu.f[2], 0xffff_ffff_7fc0_0001);
        m.exec(r(0x79, 0, 11, 0, 3));
        assert_eq!(m.cpu.f[3], 0xdead_beef_7fc0_0001);
        m.exec(r(0x71, 0, 3, 0, 12));
        assert_eq!(m.cpu.x[12], 0xdead_beef_7fc0_0001);
        // flw boxes, fsw stores the low 32 bits raw, fld/fsd move 64 bits.
        m.cpu.x[5] = 0x2000;
        m.cpu.f[4] = 0x0123_4567_89ab_cdef;
        let next = ExitStatus::Next;
        assert_eq!(m.exec(st(-16, 4, 5, 3)), next); // fsd f4, -16(x5)
        assert_eq!(m.exec(st(8, 4, 5, 2)), next); // fsw f4, 8(x5)
        assert_eq!(m.exec(ld(-16, 5, 3, 6)), next); // fld f6, -16(x5)
        assert_eq!(m.cpu.f[6], 0x0123_4567_89ab_cdef);
        assert_eq!(m.exec(ld(8, 5, 2, 7)), next); // flw f7, 8(x5)
        assert_eq!(m.cpu.f[7], 0xffff_ffff_89ab_cdef);
        assert_eq!(m.exec(ld(-12, 5, 2, 8)), next); // flw f8, -12(x5): high half of f4
        assert_eq!(m.cpu.f[8], 0xffff_ffff_0123_4567);
        assert_eq!(m.mem.load(0x2008, 8), Ok(0x89ab_cdef));
        // Misaligned accesses are allowed.
        assert_eq!(m.exec(ld(-13, 5, 3, 9)), next);
        assert_eq!(m.cpu.f[9], 0x0000_0001_2345_6789);
        m
    }

    /// Unmapped accesses fault precisely (interpreter tier).
    fn faults_on(mut m: Machine) {
        m.cpu.x[6] = 0x3000;
        m.cpu.f[10] = 7;
        assert_eq!(m.exec(ld(4, 6, 3, 10)), ExitStatus::Fault);
        assert_eq!(m.cpu.hdr.fault_addr, 0x3004);
        assert_eq!(m.cpu.f[10], 7);
        assert_eq!(m.exec(st(-4, 4, 6, 3)), ExitStatus::Fault); // fsd straddling the end
        assert_eq!(m.cpu.hdr.fault_addr, 0x3000);
        assert_eq!(m.mem.load(0x2ffc, 4), Ok(0));
    }

    #[test]
    fn helpers_through_translation() {
        for jit in [false, true] {
            helpers_on(Machine::on_tier(jit));
        }
    }

    fn helpers_on(mut m: Machine) {
        let d = |x: f64| x.to_bits();
        m.cpu.f[1] = d(1.0);
        m.cpu.f[2] = d(3.0);
        m.cpu.frm = 3; // RUP
        m.exec(r(0x0d, 2, 1, 7, 3)); // fdiv.d f3, f1, f2 (dynamic)
        assert_eq!(m.cpu.f[3], d(1.0 / 3.0) + 1);
        assert_eq!(m.cpu.fflags, 1);
        m.exec(r(0x0d, 2, 1, 1, 4)); // fdiv.d f4, f1, f2, rtz
        assert_eq!(m.cpu.f[4], d(1.0 / 3.0));
        // fnmadd.d f5 = -(f1*f2) - f3
        m.exec(r4(OPC_NMADD, 3, 1, 2, 1, 0, 5));
        assert_eq!(m.cpu.f[5], d(-(3.0 + m_f64(m.cpu.f[3]))));
        // fcvt.w.d a0, f2 and flt.d / fclass.d / fcvt.s.d / fmax.s.
        m.exec(r(0x61, 0, 2, 1, 10));
        assert_eq!(m.cpu.x[10], 3);
        m.exec(r(0x51, 2, 1, 1, 11));
        assert_eq!(m.cpu.x[11], 1);
        m.exec(r(0x71, 0, 2, 1, 12));
        assert_eq!(m.cpu.x[12], 1 << 6);
        m.exec(r(0x20, 1, 2, 0, 6));
        assert_eq!(m.cpu.f[6], nan_box(3.0f32.to_bits()));
        m.exec(r(0x14, 6, 6, 1, 7));
        assert_eq!(m.cpu.f[7], nan_box(3.0f32.to_bits()));
        m.cpu.x[13] = (-7i64) as u64;
        m.exec(r(0x69, 0, 13, 0, 8)); // fcvt.d.w
        assert_eq!(m.cpu.f[8], d(-7.0));
        // Invalid flags accrue.
        m.cpu.f[9] = CANONICAL_NAN_D;
        m.exec(r(0x51, 9, 1, 0, 0)); // fle.d x0, f1, f9
        assert_eq!(m.cpu.fflags, 0x11);
        // A reserved dynamic mode raises illegal instruction; rd is not written.
        m.cpu.frm = 5;
        m.cpu.f[10] = 0;
        let insn = r(0x01, 2, 1, 7, 10);
        assert_eq!(m.exec(insn), ExitStatus::Exception);
        assert_eq!(m.cpu.exc_cause, crate::cpu::cause::ILLEGAL_INSN);
        assert_eq!(m.cpu.exc_tval, insn as u64);
        assert_eq!(m.cpu.f[10], 0);
    }

    fn m_f64(x: u64) -> f64 {
        f64::from_bits(x)
    }

    /// Operand source of a differential-test op.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Src {
        S,
        D,
        Int,
        /// Float operand for a float-to-integer conversion (S or D).
        ToInt(Prec),
    }

    /// (oracle op code, instruction with rd = 4, rs1 = 1, rs2 = 2, rs3 = 3, rm = dynamic,
    /// result in x4 rather than f4, operand source).
    fn oracle_ops() -> Vec<(u32, u32, bool, Src)> {
        let mut v = Vec::new();
        for (fmt, base, src) in [(0u32, 0u32, Src::S), (1, 32, Src::D)] {
            let p = if fmt == 0 { Prec::S } else { Prec::D };
            for (i, f5) in [0x00u32, 0x01, 0x02, 0x03].iter().enumerate() {
                v.push((base + i as u32, r(f5 << 2 | fmt, 2, 1, 7, 4), false, src));
            }
            v.push((base + 4, r(0x0b << 2 | fmt, 0, 1, 7, 4), false, src));
            for (i, opc) in [OPC_MADD, OPC_MSUB, OPC_NMSUB, OPC_NMADD]
                .iter()
                .enumerate()
            {
                v.push((
                    base + 5 + i as u32,
                    r4(*opc, 3, fmt, 2, 1, 7, 4),
                    false,
                    src,
                ));
            }
            v.push((base + 9, r(0x05 << 2 | fmt, 2, 1, 0, 4), false, src));
            v.push((base + 10, r(0x05 << 2 | fmt, 2, 1, 1, 4), false, src));
            v.push((base + 11, r(0x14 << 2 | fmt, 2, 1, 2, 4), true, src));
            v.push((base + 12, r(0x14 << 2 | fmt, 2, 1, 1, 4), true, src));
            v.push((base + 13, r(0x14 << 2 | fmt, 2, 1, 0, 4), true, src));
            v.push((base + 14, r(0x1c << 2 | fmt, 0, 1, 1, 4), true, src));
            for k in 0..4 {
                v.push((
                    base + 15 + k,
                    r(0x18 << 2 | fmt, k, 1, 7, 4),
                    true,
                    Src::ToInt(p),
                ));
                v.push((
                    base + 19 + k,
                    r(0x1a << 2 | fmt, k, 1, 7, 4),
                    false,
                    Src::Int,
                ));
            }
            for j in 0..3 {
                v.push((base + 24 + j, r(0x04 << 2 | fmt, 2, 1, j, 4), false, src));
            }
        }
        v.push((23, r(0x20, 1, 1, 7, 4), false, Src::D)); // fcvt.s.d
        v.push((55, r(0x21, 0, 1, 7, 4), false, Src::S)); // fcvt.d.s
        v
    }

    fn gen_operand(rng: &mut Rng, src: Src, near: Option<u64>) -> u64 {
        match src {
            Src::S => {
                let x = rng.value(F32, near.map(|n| n as i64)) as u32;
                match rng.below(16) {
                    0 => x as u64,                         // not NaN-boxed
                    1 => 0x7fff_ffff_0000_0000 | x as u64, // not NaN-boxed
                    _ => nan_box(x),
                }
            }
            Src::D => rng.value(F64, near.map(|n| n as i64)),
            Src::Int => {
                const EDGES: [u64; 12] = [
                    0,
                    1 << 24,
                    1 << 31,
                    1 << 32,
                    1 << 53,
                    1 << 63,
                    0x7fff_ffff,
                    0xffff_ffff,
                    i64::MAX as u64,
                    u64::MAX,
                    0x0123_4567_89ab_cdef,
                    0x8000_0000_0000_0001,
                ];
                let e = EDGES[rng.below(EDGES.len() as u64) as usize];
                match rng.below(4) {
                    0 => rng.next(),
                    1 => rng.next() >> rng.below(64),
                    2 => e.wrapping_add(rng.below(9)).wrapping_sub(4),
                    _ => e.wrapping_neg().wrapping_add(rng.below(9)).wrapping_sub(4),
                }
            }
            Src::ToInt(p) => {
                // Integers near the conversion boundaries, plus quarters, rounded to the
                // format; or any value.
                let k: f64 = [
                    0.0,
                    1.0,
                    2f64.powi(31),
                    2f64.powi(32),
                    2f64.powi(63),
                    2f64.powi(64),
                ][rng.below(6) as usize];
                let x = k + rng.below(9) as f64 - 4.0 + rng.below(4) as f64 * 0.25;
                let x = if rng.below(2) == 0 { -x } else { x };
                match (p, rng.below(4)) {
                    (Prec::S, 0) => nan_box(rng.value(F32, None) as u32),
                    (Prec::S, _) => nan_box((x as f32).to_bits()),
                    (Prec::D, 0) => rng.value(F64, None),
                    (Prec::D, _) => x.to_bits(),
                }
            }
        }
    }

    /// Compare every F/D instruction, in every rounding mode, against qemu-riscv64 running
    /// the same instructions (built with riscv64-linux-gnu-gcc): results and fflags.
    #[test]
    fn matches_qemu_on_random_vectors() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let dir = std::env::temp_dir().join(format!("heron-rvfp-oracle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let src = dir.join("oracle.c");
        let exe = dir.join("oracle");
        std::fs::write(&src, include_str!("fpu/qemu_oracle.c")).expect("write oracle");
        match Command::new("riscv64-linux-gnu-gcc")
            .args(["-O1", "-static", "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
        {
            Ok(st) => assert!(st.success(), "compiling the oracle failed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "NOTICE: riscv64-linux-gnu-gcc not installed; skipping the qemu comparison"
                );
                return;
            }
            Err(e) => panic!("running riscv64-linux-gnu-gcc: {e}"),
        }
        // Vectors: (op index, frm, a, b, c).
        let ops = oracle_ops();
        let mut rng = Rng(0x0ddb_a11c_afe5_1234);
        let mut vecs = Vec::new();
        for _ in 0..1500 {
            for (i, &(_, _, _, src)) in ops.iter().enumerate() {
                let frm = rng.below(5);
                let a = gen_operand(&mut rng, src, None);
                let fmt = if src == Src::S { F32 } else { F64 };
                let near = (a >> fmt.mant) & ((1 << fmt.exp_bits) - 1);
                let (nb, nc) = (rng.below(2) == 0, rng.below(2) == 0);
                let b = gen_operand(&mut rng, src, nb.then_some(near));
                let c = gen_operand(&mut rng, src, nc.then_some(near));
                vecs.push((i, frm, a, b, c));
            }
        }
        let mut input = Vec::with_capacity(vecs.len() * 32);
        for &(i, frm, a, b, c) in &vecs {
            input.extend_from_slice(&ops[i].0.to_le_bytes());
            input.extend_from_slice(&(frm as u32).to_le_bytes());
            for x in [a, b, c] {
                input.extend_from_slice(&x.to_le_bytes());
            }
        }
        let child = Command::new("qemu-riscv64")
            .arg(&exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("NOTICE: qemu-riscv64 not installed; skipping the qemu comparison");
                return;
            }
            Err(e) => panic!("running qemu-riscv64: {e}"),
        };
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("qemu output");
        writer.join().expect("writer").expect("write vectors");
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), vecs.len() * 16);
        let _ = std::fs::remove_dir_all(&dir);

        for jit in [false, true] {
            let mut m = Machine::on_tier(jit);
            let blocks: Vec<Code> = ops.iter().map(|o| m.build(o.1)).collect();
            compare_with_qemu(&mut m, &blocks, &ops, &vecs, &out.stdout);
        }
    }

    fn compare_with_qemu(
        m: &mut Machine,
        blocks: &[Code],
        ops: &[(u32, u32, bool, Src)],
        vecs: &[(usize, u64, u64, u64, u64)],
        stdout: &[u8],
    ) {
        let mut mismatches = Vec::new();
        for (n, &(i, frm, a, b, c)) in vecs.iter().enumerate() {
            let word = |k: usize| {
                let bytes: [u8; 8] = stdout[n * 16 + k * 8..n * 16 + k * 8 + 8]
                    .try_into()
                    .expect("8 bytes");
                u64::from_le_bytes(bytes)
            };
            let (want, want_flags) = (word(0), word(1));
            // Half the runs start with inexact accrued (which enables the helpers' fast
            // path); qemu's flags are from a clear start.
            let init = (n as u64 & 1) * fpu::NX as u64;
            m.cpu.frm = frm;
            m.cpu.fflags = init;
            m.cpu.f[1] = a;
            m.cpu.f[2] = b;
            m.cpu.f[3] = c;
            m.cpu.x[1] = a;
            assert_eq!(m.run(&blocks[i]), ExitStatus::Next);
            let got = if ops[i].2 { m.cpu.x[4] } else { m.cpu.f[4] };
            if (got, m.cpu.fflags) != (want, want_flags | init) {
                mismatches.push(format!(
                    "op {} insn {:#010x} frm {frm} a {a:#x} b {b:#x} c {c:#x}: got {got:#x}/{:#x}, qemu {want:#x}/{want_flags:#x}",
                    ops[i].0, ops[i].1, m.cpu.fflags
                ));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{} of {} differ (jit: {}):\n{}",
            mismatches.len(),
            vecs.len(),
            m.jit.is_some(),
            mismatches[..mismatches.len().min(40)].join("\n")
        );
    }
}
