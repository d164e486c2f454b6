//! The RISC-V 64 translator: turns guest code into heron IR one block at a time
//! ([`RiscvGuest`] implements the backend's [`Guest`] trait). It fetches 16-bit parcels,
//! expands compressed instructions, decodes them with [`crate::decode`], and emits the IR of
//! every integer instruction (RV64IMAC, Zicsr, Zifencei, Zba, Zbb, Zbs, Zicond, and the
//! cache-block operations of Zicboz/Zicbom; Zicbop's prefetches are ORIs to x0); F/D
//! instructions go to [`crate::translate_fp`]. Also owns the CSR and fence.i helpers.
//! The same code translates system mode ([`crate::system`]): with `Ctx::sys` set, memory
//! accesses use the mode's MMU index and the privileged cases (mret/sret/wfi/sfence.vma,
//! CSRs, ecall by privilege, FS) call into `crate::system`.

use crate::cpu::{cause, off};
use crate::decode::{self, AmoOp, Insn, Op};
use heron_backend::ir::{BinOp, Cond, Effects, FenceKind, MemOp, RmwOp, Temp, Ty, UnOp};
use heron_backend::{Builder, CodeFetch, ExitStatus, Guest, TranslateError};

/// Most guest instructions in one block.
pub const MAX_BLOCK_INSNS: u32 = 64;
/// Blocks never cross this boundary (the next instruction starts a new block).
const PAGE_SIZE: u64 = 4096;

/// CSR numbers the user-mode translator implements.
pub mod csr {
    pub const FFLAGS: u32 = 0x001;
    pub const FRM: u32 = 0x002;
    pub const FCSR: u32 = 0x003;
    pub const CYCLE: u32 = 0xc00;
    pub const TIME: u32 = 0xc01;
    pub const INSTRET: u32 = 0xc02;
}

/// The RISC-V 64 frontend, as the backend sees it.
#[derive(Debug, Default, Clone, Copy)]
pub struct RiscvGuest;

impl Guest for RiscvGuest {
    fn name(&self) -> &'static str {
        "riscv64"
    }

    fn translate(
        &self,
        pc: u64,
        _flags: u64,
        code: &dyn CodeFetch,
        b: &mut Builder,
    ) -> Result<(), TranslateError> {
        translate_block(pc, code, b)
    }

    fn tb_flags(&self, _env: *const u8) -> u64 {
        0
    }

    fn global_name(&self, offset: u32) -> Option<String> {
        crate::cpu::global_name(offset)
    }

    fn disassemble(&self, pc: u64, bytes: &[u8]) -> Vec<String> {
        crate::disas::disassemble(pc, bytes)
    }

    fn dump_state(&self, env: *const u8) -> String {
        // SAFETY: the backend passes the CPU state it runs this frontend's code on, which
        // is a RiscvCpu.
        crate::cpu::dump_state(unsafe { &*(env as *const crate::cpu::RiscvCpu) })
    }
}

/// How the instruction stream is translated: user mode (Linux processes), or system mode
/// under the translation flags of [`crate::system::SysFlags`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ctx {
    /// `None` in user mode.
    pub(crate) sys: Option<crate::system::SysFlags>,
    /// System mode: the temporary holding the block's instruction count (added to the
    /// retired counter at block entry), and the index of the current instruction in the
    /// block, so counter reads can subtract what has not retired yet.
    pub(crate) retire: Option<(Temp, u32)>,
}

impl Ctx {
    /// A little-endian access through the data MMU index of the current mode.
    fn mem(&self, size: u8, signed: bool) -> MemOp {
        let mut m = MemOp::le(size, signed);
        if let Some(s) = self.sys {
            m.mmu_idx = s.data_idx;
        }
        m
    }
}

/// Translate the block at `pc` into `b` (see [`Guest::translate`]), in user mode.
pub fn translate_block(
    pc: u64,
    mem: &dyn CodeFetch,
    b: &mut Builder,
) -> Result<(), TranslateError> {
    translate_block_ctx(pc, mem, b, Ctx::default())
}

/// Translate the block at `pc` in mode `ctx`. In system mode the block first adds its
/// instruction count to the retired-instruction counter (the source of mcycle/minstret).
pub(crate) fn translate_block_ctx(
    pc: u64,
    mem: &dyn CodeFetch,
    b: &mut Builder,
    ctx: Ctx,
) -> Result<(), TranslateError> {
    let start_page = pc / PAGE_SIZE;
    let mut cur = pc;
    let mut n = 0u32;
    let count = ctx.sys.map(|_| crate::system::emit_retire_count(b));
    loop {
        if b.stop_before(cur, n) {
            b.goto_block(cur);
            break;
        }
        // Fetch the first parcel, then the second one for a 32-bit instruction.
        let mut buf = [0u8; 4];
        let got = mem.fetch(cur, &mut buf[..2]);
        let (raw, len) = if got < 2 {
            if n == 0 {
                return Err(TranslateError::FetchFault(cur.wrapping_add(got as u64)));
            }
            b.goto_block(cur); // the next block raises the fetch fault
            break;
        } else {
            let lo = u16::from_le_bytes([buf[0], buf[1]]);
            if decode::insn_len(lo) == 4 {
                let hi_addr = cur.wrapping_add(2);
                let got = mem.fetch(hi_addr, &mut buf[2..]);
                if got < 2 {
                    if n == 0 {
                        return Err(TranslateError::FetchFault(hi_addr.wrapping_add(got as u64)));
                    }
                    b.goto_block(cur);
                    break;
                }
                (u32::from_le_bytes(buf), 4)
            } else {
                (lo as u32, 2)
            }
        };
        b.insn_start(cur);
        n += 1;
        let ictx = Ctx {
            retire: count.map(|(_, t)| (t, n - 1)),
            ..ctx
        };
        let ended = translate_insn(b, raw, len, cur, ictx);
        cur = cur.wrapping_add(len);
        if ended {
            break;
        }
        if n >= MAX_BLOCK_INSNS || cur / PAGE_SIZE != start_page {
            b.goto_block(cur);
            break;
        }
    }
    b.block.guest_size = cur.wrapping_sub(pc) as u32;
    b.block.num_insns = n;
    if let Some((at, _)) = count {
        crate::system::patch_retire_count(b, at, n);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Register access
// ---------------------------------------------------------------------------------------

/// Read integer register `r` (x0 reads as the constant 0).
pub(crate) fn get_x(b: &mut Builder, r: u8) -> Temp {
    if r == 0 {
        b.const64(0)
    } else {
        b.get_global(Ty::I64, off::x(r as u32))
    }
}

/// Write an I64 value to integer register `r` (writes to x0 are dropped).
pub(crate) fn set_x(b: &mut Builder, r: u8, v: Temp) {
    if r != 0 {
        b.set_global(Ty::I64, off::x(r as u32), v);
    }
}

/// Write an I32 value to register `r`, sign-extended (the result of every *W instruction).
fn set_x32(b: &mut Builder, r: u8, v: Temp) {
    if r != 0 {
        let v = b.sext(v, Ty::I64);
        set_x(b, r, v);
    }
}

/// Low 32 bits of register `r`.
fn get_x32(b: &mut Builder, r: u8) -> Temp {
    let v = get_x(b, r);
    b.trunc(v, Ty::I32)
}

/// rs1 + imm (the effective address of loads, stores and jalr).
fn addr_of(b: &mut Builder, rs1: u8, imm: i64) -> Temp {
    let base = get_x(b, rs1);
    if imm == 0 {
        base
    } else {
        b.bin_imm(BinOp::Add, base, imm as u64)
    }
}

/// Zero-extend the low 32 bits of register `r` to 64 (the ".uw" operand of Zba).
fn get_x_uw(b: &mut Builder, r: u8) -> Temp {
    let v = get_x32(b, r);
    b.zext(v, Ty::I64)
}

/// Raise a synchronous exception at `pc`: record cause and trap value, end the block.
pub(crate) fn raise(b: &mut Builder, pc: u64, exc_cause: u64, tval: u64) {
    let c = b.const64(exc_cause);
    b.set_global(Ty::I64, off::EXC_CAUSE, c);
    let t = b.const64(tval);
    b.set_global(Ty::I64, off::EXC_TVAL, t);
    b.exit(ExitStatus::Exception, pc);
}

/// Raise the illegal-instruction exception for the instruction bits `raw` at `pc`.
pub(crate) fn illegal(b: &mut Builder, pc: u64, raw: u32) -> bool {
    raise(b, pc, cause::ILLEGAL_INSN, raw as u64);
    true
}

// ---------------------------------------------------------------------------------------
// One instruction
// ---------------------------------------------------------------------------------------

/// Translate the instruction `raw` (`len` = 2 for a compressed parcel, 4 otherwise) at `pc`.
/// Returns true when it ended the block (it emitted the exit).
fn translate_insn(b: &mut Builder, raw: u32, len: u64, pc: u64, ctx: Ctx) -> bool {
    let word = if len == 2 {
        match decode::expand_compressed(raw as u16) {
            Some(w) => w,
            None => return illegal(b, pc, raw),
        }
    } else {
        raw
    };
    // System mode: mret, sret, wfi, sfence.vma (the user-mode decoder rejects them).
    if let Some(sys) = ctx.sys
        && let Some(ended) = crate::system::translate_privileged(b, sys, word, pc)
    {
        return ended;
    }
    let Some(insn) = decode::decode(word) else {
        return illegal(b, pc, raw);
    };
    let next = pc.wrapping_add(len);
    let Insn {
        op,
        rd,
        rs1,
        rs2,
        imm,
    } = insn;
    match op {
        // ---- RV64I: upper immediates and jumps ----
        Op::Lui => {
            let v = b.const64(imm as u64);
            set_x(b, rd, v);
        }
        Op::Auipc => {
            let v = b.const64(pc.wrapping_add(imm as u64));
            set_x(b, rd, v);
        }
        Op::Jal => {
            let link = b.const64(next);
            set_x(b, rd, link);
            b.goto_block(pc.wrapping_add(imm as u64));
            return true;
        }
        Op::Jalr => {
            // The target is computed before rd is written: rd may equal rs1.
            let t = addr_of(b, rs1, imm);
            let target = b.bin_imm(BinOp::And, t, !1u64);
            let link = b.const64(next);
            set_x(b, rd, link);
            b.exit_indirect(target);
            return true;
        }
        // ---- conditional branches ----
        Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
            let cond = match op {
                Op::Beq => Cond::Eq,
                Op::Bne => Cond::Ne,
                Op::Blt => Cond::LtS,
                Op::Bge => Cond::GeS,
                Op::Bltu => Cond::LtU,
                _ => Cond::GeU,
            };
            let a = get_x(b, rs1);
            let c = get_x(b, rs2);
            let taken = b.setcond(cond, a, c);
            let l_taken = b.new_label();
            b.br_cond(taken, l_taken);
            b.goto_block(next);
            b.label(l_taken);
            b.goto_block(pc.wrapping_add(imm as u64));
            return true;
        }
        // ---- loads and stores ----
        Op::Lb | Op::Lh | Op::Lw | Op::Ld | Op::Lbu | Op::Lhu | Op::Lwu => {
            let (size, signed) = match op {
                Op::Lb => (1, true),
                Op::Lh => (2, true),
                Op::Lw => (4, true),
                Op::Ld => (8, true),
                Op::Lbu => (1, false),
                Op::Lhu => (2, false),
                _ => (4, false),
            };
            let a = addr_of(b, rs1, imm);
            let v = b.load(Ty::I64, a, ctx.mem(size, signed));
            set_x(b, rd, v);
        }
        Op::Sb | Op::Sh | Op::Sw | Op::Sd => {
            let size = match op {
                Op::Sb => 1,
                Op::Sh => 2,
                Op::Sw => 4,
                _ => 8,
            };
            let a = addr_of(b, rs1, imm);
            let v = get_x(b, rs2);
            b.store(v, a, ctx.mem(size, false));
        }
        // ---- register-immediate ALU ----
        // The idioms li (addi rd, x0, imm) and mv (addi rd, rs, 0) need no arithmetic.
        Op::Addi | Op::Ori | Op::Xori if rs1 == 0 => {
            let v = b.const64(imm as u64);
            set_x(b, rd, v);
        }
        Op::Addi if imm == 0 => {
            let v = get_x(b, rs1);
            set_x(b, rd, v);
        }
        Op::Addi | Op::Xori | Op::Ori | Op::Andi => {
            let bop = match op {
                Op::Addi => BinOp::Add,
                Op::Xori => BinOp::Xor,
                Op::Ori => BinOp::Or,
                _ => BinOp::And,
            };
            let a = get_x(b, rs1);
            let v = b.bin_imm(bop, a, imm as u64);
            set_x(b, rd, v);
        }
        Op::Slti | Op::Sltiu => {
            let cond = if op == Op::Slti { Cond::LtS } else { Cond::LtU };
            let a = get_x(b, rs1);
            let c = b.const64(imm as u64);
            let v = b.setcond(cond, a, c);
            set_x(b, rd, v);
        }
        Op::Slli | Op::Srli | Op::Srai | Op::Rori => {
            let bop = match op {
                Op::Slli => BinOp::Shl,
                Op::Srli => BinOp::ShrU,
                Op::Srai => BinOp::ShrS,
                _ => BinOp::Rotr,
            };
            let a = get_x(b, rs1);
            let v = b.bin_imm(bop, a, imm as u64);
            set_x(b, rd, v);
        }
        Op::Addiw if imm == 0 => {
            // sext.w rd, rs1
            let a = get_x32(b, rs1);
            set_x32(b, rd, a);
        }
        Op::Addiw | Op::Slliw | Op::Srliw | Op::Sraiw | Op::Roriw => {
            let bop = match op {
                Op::Addiw => BinOp::Add,
                Op::Slliw => BinOp::Shl,
                Op::Srliw => BinOp::ShrU,
                Op::Sraiw => BinOp::ShrS,
                _ => BinOp::Rotr,
            };
            let a = get_x32(b, rs1);
            let v = b.bin_imm(bop, a, imm as u64 & 0xffff_ffff);
            set_x32(b, rd, v);
        }
        // ---- register-register ALU, 64-bit ----
        Op::Add if rs1 == 0 => {
            // mv rd, rs2 (what c.mv expands to)
            let v = get_x(b, rs2);
            set_x(b, rd, v);
        }
        Op::Add
        | Op::Sub
        | Op::Sll
        | Op::Srl
        | Op::Sra
        | Op::Xor
        | Op::Or
        | Op::And
        | Op::Mul
        | Op::Mulh
        | Op::Mulhsu
        | Op::Mulhu
        | Op::Div
        | Op::Divu
        | Op::Rem
        | Op::Remu
        | Op::Andn
        | Op::Orn
        | Op::Xnor
        | Op::Max
        | Op::Maxu
        | Op::Min
        | Op::Minu
        | Op::Rol
        | Op::Ror => {
            let bop = match op {
                Op::Add => BinOp::Add,
                Op::Sub => BinOp::Sub,
                Op::Sll => BinOp::Shl, // shift amounts are mod 64, as in the IR
                Op::Srl => BinOp::ShrU,
                Op::Sra => BinOp::ShrS,
                Op::Xor => BinOp::Xor,
                Op::Or => BinOp::Or,
                Op::And => BinOp::And,
                Op::Mul => BinOp::Mul,
                Op::Mulh => BinOp::MulHS,
                Op::Mulhsu => BinOp::MulHSU,
                Op::Mulhu => BinOp::MulHU,
                // The IR's division gives RISC-V's answers for /0 and MIN/-1.
                Op::Div => BinOp::DivS,
                Op::Divu => BinOp::DivU,
                Op::Rem => BinOp::RemS,
                Op::Remu => BinOp::RemU,
                Op::Andn => BinOp::AndNot,
                Op::Orn => BinOp::OrNot,
                Op::Xnor => BinOp::XorNot,
                Op::Max => BinOp::MaxS,
                Op::Maxu => BinOp::MaxU,
                Op::Min => BinOp::MinS,
                Op::Minu => BinOp::MinU,
                Op::Rol => BinOp::Rotl,
                _ => BinOp::Rotr,
            };
            let a = get_x(b, rs1);
            let c = get_x(b, rs2);
            let v = b.bin(bop, a, c);
            set_x(b, rd, v);
        }
        Op::Slt | Op::Sltu => {
            let cond = if op == Op::Slt { Cond::LtS } else { Cond::LtU };
            let a = get_x(b, rs1);
            let c = get_x(b, rs2);
            let v = b.setcond(cond, a, c);
            set_x(b, rd, v);
        }
        // ---- register-register ALU, 32-bit (W forms) ----
        Op::Addw
        | Op::Subw
        | Op::Sllw
        | Op::Srlw
        | Op::Sraw
        | Op::Mulw
        | Op::Divw
        | Op::Divuw
        | Op::Remw
        | Op::Remuw
        | Op::Rolw
        | Op::Rorw => {
            let bop = match op {
                Op::Addw => BinOp::Add,
                Op::Subw => BinOp::Sub,
                Op::Sllw => BinOp::Shl, // amounts mod 32 in I32
                Op::Srlw => BinOp::ShrU,
                Op::Sraw => BinOp::ShrS,
                Op::Mulw => BinOp::Mul,
                Op::Divw => BinOp::DivS,
                Op::Divuw => BinOp::DivU,
                Op::Remw => BinOp::RemS,
                Op::Remuw => BinOp::RemU,
                Op::Rolw => BinOp::Rotl,
                _ => BinOp::Rotr,
            };
            let a = get_x32(b, rs1);
            let c = get_x32(b, rs2);
            let v = b.bin(bop, a, c);
            set_x32(b, rd, v);
        }
        // ---- Zba ----
        Op::Sh1add | Op::Sh2add | Op::Sh3add | Op::Sh1addUw | Op::Sh2addUw | Op::Sh3addUw => {
            let shift = match op {
                Op::Sh1add | Op::Sh1addUw => 1,
                Op::Sh2add | Op::Sh2addUw => 2,
                _ => 3,
            };
            let a = if matches!(op, Op::Sh1add | Op::Sh2add | Op::Sh3add) {
                get_x(b, rs1)
            } else {
                get_x_uw(b, rs1)
            };
            let scaled = b.bin_imm(BinOp::Shl, a, shift);
            let c = get_x(b, rs2);
            let v = b.bin(BinOp::Add, scaled, c);
            set_x(b, rd, v);
        }
        Op::AddUw => {
            let a = get_x_uw(b, rs1);
            let c = get_x(b, rs2);
            let v = b.bin(BinOp::Add, a, c);
            set_x(b, rd, v);
        }
        Op::SlliUw => {
            let a = get_x_uw(b, rs1);
            let v = b.bin_imm(BinOp::Shl, a, imm as u64);
            set_x(b, rd, v);
        }
        // ---- Zbb unary ----
        Op::Clz | Op::Ctz | Op::Cpop | Op::Rev8 => {
            let uop = match op {
                Op::Clz => UnOp::Clz,
                Op::Ctz => UnOp::Ctz,
                Op::Cpop => UnOp::Popcnt,
                _ => UnOp::Bswap,
            };
            let a = get_x(b, rs1);
            let v = b.un(uop, a);
            set_x(b, rd, v);
        }
        Op::Clzw | Op::Ctzw | Op::Cpopw => {
            let uop = match op {
                Op::Clzw => UnOp::Clz,
                Op::Ctzw => UnOp::Ctz,
                _ => UnOp::Popcnt,
            };
            let a = get_x32(b, rs1);
            let v = b.un(uop, a);
            let v = b.zext(v, Ty::I64); // a count of at most 32
            set_x(b, rd, v);
        }
        Op::SextB | Op::SextH | Op::ZextH => {
            let (ty, signed) = match op {
                Op::SextB => (Ty::I8, true),
                Op::SextH => (Ty::I16, true),
                _ => (Ty::I16, false),
            };
            let a = get_x(b, rs1);
            let narrow = b.trunc(a, ty);
            let v = b.ext(narrow, Ty::I64, signed);
            set_x(b, rd, v);
        }
        Op::OrcB => {
            // Each byte becomes 0xff if it is nonzero, else 0x00:
            // ((x & 0x7f..) + 0x7f..) | x has bit 7 of a byte set iff the byte is nonzero;
            // isolate those bits, move them to bit 0 and multiply by 0xff (no carries).
            const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
            let x = get_x(b, rs1);
            let low = b.bin_imm(BinOp::And, x, LOW7);
            let sum = b.bin_imm(BinOp::Add, low, LOW7);
            let any = b.bin(BinOp::Or, sum, x);
            let high = b.bin_imm(BinOp::And, any, !LOW7);
            let ones = b.bin_imm(BinOp::ShrU, high, 7);
            let v = b.bin_imm(BinOp::Mul, ones, 0xff);
            set_x(b, rd, v);
        }
        // ---- Zbs ----
        Op::Bclr | Op::Binv | Op::Bset | Op::Bclri | Op::Binvi | Op::Bseti => {
            let mask = if matches!(op, Op::Bclr | Op::Binv | Op::Bset) {
                let one = b.const64(1);
                let index = get_x(b, rs2);
                b.bin(BinOp::Shl, one, index) // index mod 64
            } else {
                b.const64(1u64 << (imm & 63))
            };
            let bop = match op {
                Op::Bclr | Op::Bclri => BinOp::AndNot,
                Op::Binv | Op::Binvi => BinOp::Xor,
                _ => BinOp::Or,
            };
            let a = get_x(b, rs1);
            let v = b.bin(bop, a, mask);
            set_x(b, rd, v);
        }
        Op::Bext | Op::Bexti => {
            let a = get_x(b, rs1);
            let shifted = if op == Op::Bext {
                let index = get_x(b, rs2);
                b.bin(BinOp::ShrU, a, index)
            } else {
                b.bin_imm(BinOp::ShrU, a, imm as u64)
            };
            let v = b.bin_imm(BinOp::And, shifted, 1);
            set_x(b, rd, v);
        }
        // ---- Zicond ----
        Op::CzeroEqz | Op::CzeroNez => {
            let a = get_x(b, rs1);
            let cond = get_x(b, rs2);
            let zero = b.const64(0);
            let v = if op == Op::CzeroEqz {
                b.select(cond, a, zero) // rs2 == 0 ? 0 : rs1
            } else {
                b.select(cond, zero, a) // rs2 != 0 ? 0 : rs1
            };
            set_x(b, rd, v);
        }
        // ---- A ----
        Op::Lr { double } => {
            let size = if double { 8 } else { 4 };
            if ctx.sys.is_some() {
                crate::system::set_misaligned_cause(b, cause::MISALIGNED_LOAD);
            }
            let a = get_x(b, rs1);
            let v = b.load(Ty::I64, a, ctx.mem(size, true).with_aligned());
            b.set_global(Ty::I64, off::RES_ADDR, a);
            b.set_global(Ty::I64, off::RES_VAL, v);
            set_x(b, rd, v);
        }
        Op::Sc { double } => translate_sc(b, rd, rs1, rs2, double, ctx),
        Op::Amo { op: aop, double } => {
            if ctx.sys.is_some() {
                crate::system::set_misaligned_cause(b, cause::MISALIGNED_STORE);
            }
            let rmw = match aop {
                AmoOp::Swap => RmwOp::Xchg,
                AmoOp::Add => RmwOp::Add,
                AmoOp::Xor => RmwOp::Xor,
                AmoOp::And => RmwOp::And,
                AmoOp::Or => RmwOp::Or,
                AmoOp::Min => RmwOp::MinS,
                AmoOp::Max => RmwOp::MaxS,
                AmoOp::Minu => RmwOp::MinU,
                AmoOp::Maxu => RmwOp::MaxU,
            };
            let a = get_x(b, rs1);
            if double {
                let v = get_x(b, rs2);
                let old = b.atomic_rmw(rmw, a, v, ctx.mem(8, false).with_aligned());
                set_x(b, rd, old);
            } else {
                let v = get_x32(b, rs2);
                let old = b.atomic_rmw(rmw, a, v, ctx.mem(4, false).with_aligned());
                set_x32(b, rd, old);
            }
        }
        // ---- fences and system ----
        Op::Fence => b.fence(FenceKind::SeqCst),
        Op::Pause => b.spin_wait_hint(),
        Op::FenceI => {
            // User mode: guest code may have changed: drop all translations. System mode:
            // the softmmu already invalidates translations of written code pages, so only
            // the block ends. Either way leave without chaining, so the next block is
            // looked up (and translated afresh if needed).
            if ctx.sys.is_none() {
                b.call_void(&HELPER_FENCE_I, &[]);
            }
            b.exit(ExitStatus::Next, next);
            return true;
        }
        // ---- Zicboz / Zicbom ----
        Op::CboZero => {
            if ctx.sys.is_some_and(|s| !s.cbo_allowed(op)) {
                return illegal(b, pc, raw);
            }
            translate_cbo_zero(b, rs1, ctx);
        }
        Op::CboClean | Op::CboFlush | Op::CboInval => {
            // User mode: Linux leaves senvcfg.CBCFE/CBIE clear, so user programs get SIGILL.
            match ctx.sys {
                Some(sys) if sys.cbo_allowed(op) => {
                    return crate::system::translate_cbo_management(b, sys, rs1);
                }
                _ => return illegal(b, pc, raw),
            }
        }
        Op::Ecall => {
            let c = ctx.sys.map_or(cause::ECALL_U, |s| s.ecall_cause());
            raise(b, pc, c, 0);
            return true;
        }
        Op::Ebreak => {
            raise(b, pc, cause::BREAKPOINT, pc);
            return true;
        }
        Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
            let csr_num = imm as u32 & 0xfff;
            if let Some(sys) = ctx.sys {
                let is_fp_csr = matches!(csr_num, csr::FFLAGS | csr::FRM | csr::FCSR);
                if !is_fp_csr {
                    return crate::system::translate_csr(b, ctx, op, rd, rs1, csr_num, raw, pc);
                }
                if sys.fs == 0 {
                    return illegal(b, pc, raw);
                }
            }
            let writes = matches!(op, Op::Csrrw | Op::Csrrwi) || rs1 != 0;
            if !translate_csr(b, op, rd, rs1, csr_num) {
                return illegal(b, pc, raw);
            }
            if writes && let Some(sys) = ctx.sys {
                crate::system::mark_fs_dirty(b, sys);
            }
        }
        Op::Fp => {
            let mmu_idx = ctx.sys.map_or(0, |s| s.data_idx);
            if ctx.sys.is_some_and(|s| s.fs == 0) {
                return illegal(b, pc, raw);
            }
            if !crate::translate_fp::translate_fp_idx(b, word, pc, mmu_idx) {
                return illegal(b, pc, raw);
            }
            // FP stores leave the FP state unchanged; everything else may write it.
            if let Some(sys) = ctx.sys
                && word & 0x7f != crate::translate_fp::OPC_STORE_FP
            {
                crate::system::mark_fs_dirty(b, sys);
            }
        }
    }
    false
}

/// Size of the cache block of `cbo.zero` (the device tree's `riscv,cboz-block-size`).
pub const CBOZ_BLOCK_SIZE: u64 = crate::privileged::CBO_BLOCK_SIZE;

/// `cbo.zero`: zeros the 64-byte block holding the address in rs1, as ordinary stores
/// through the data MMU index (so TLB, MMIO and the invalidation of translated code all
/// apply). The first store is the byte at rs1 itself: a page or access fault then reports
/// tval = rs1, as the CMO spec requires; the block's eight 8-byte stores follow and can
/// no longer fault on translation (one block never spans two pages).
fn translate_cbo_zero(b: &mut Builder, rs1: u8, ctx: Ctx) {
    let addr = get_x(b, rs1);
    let zero = b.const64(0);
    b.store(zero, addr, ctx.mem(1, false));
    let base = b.bin_imm(BinOp::And, addr, !(CBOZ_BLOCK_SIZE - 1));
    for off in (0..CBOZ_BLOCK_SIZE).step_by(8) {
        let a = if off == 0 {
            base
        } else {
            b.bin_imm(BinOp::Add, base, off)
        };
        b.store(zero, a, ctx.mem(8, false));
    }
}

/// sc.w / sc.d: store rs2 at rs1 if the reservation is held for that address and memory
/// still holds the value the LR read; rd = 0 on success, 1 on failure. The reservation is
/// always released.
fn translate_sc(b: &mut Builder, rd: u8, rs1: u8, rs2: u8, double: bool, ctx: Ctx) {
    let ty = if double { Ty::I64 } else { Ty::I32 };
    let size = if double { 8 } else { 4 };
    if ctx.sys.is_some() {
        crate::system::set_misaligned_cause(b, cause::MISALIGNED_STORE);
    }
    let a = get_x(b, rs1);
    let res_addr = b.get_global(Ty::I64, off::RES_ADDR);
    let result = b.temp(Ty::I64);
    let one = b.const64(1);
    b.mov(result, one);
    let l_try = b.new_label();
    let l_done = b.new_label();
    let same = b.setcond(Cond::Eq, a, res_addr);
    b.br_cond(same, l_try);
    b.br(l_done);
    b.label(l_try);
    let expected = b.get_global(Ty::I64, off::RES_VAL);
    let expected = b.trunc(expected, ty);
    let new = get_x(b, rs2);
    let new = b.trunc(new, ty);
    let old = b.cmpxchg(a, expected, new, ctx.mem(size, false).with_aligned());
    let failed = b.setcond(Cond::Ne, old, expected); // 0 on success, 1 on failure
    b.mov(result, failed);
    b.label(l_done);
    let none = b.const64(u64::MAX);
    b.set_global(Ty::I64, off::RES_ADDR, none);
    set_x(b, rd, result);
}

/// Zicsr on the user-level CSRs. Returns false (having emitted nothing) for an unknown CSR
/// or a write to a read-only one, which the caller turns into an illegal instruction.
/// `src` is rs1 for the register forms and the 5-bit immediate for the *i forms.
fn translate_csr(b: &mut Builder, op: Op, rd: u8, src: u8, csr_num: u32) -> bool {
    // csrrw/csrrwi always write; csrrs/csrrc(i) write only when rs1/uimm is not x0/0.
    let writes = matches!(op, Op::Csrrw | Op::Csrrwi) || src != 0;
    let read_only = (csr_num >> 10) & 3 == 3;
    let known = matches!(
        csr_num,
        csr::FFLAGS | csr::FRM | csr::FCSR | csr::CYCLE | csr::TIME | csr::INSTRET
    );
    if !known || (writes && read_only) {
        return false;
    }
    // The operand, read before rd is written (rd may equal rs1).
    let operand = if matches!(op, Op::Csrrwi | Op::Csrrsi | Op::Csrrci) {
        b.const64(src as u64)
    } else {
        get_x(b, src)
    };
    // The old value.
    let old = match csr_num {
        csr::FFLAGS => b.get_global(Ty::I64, off::FFLAGS),
        csr::FRM => b.get_global(Ty::I64, off::FRM),
        csr::FCSR => {
            let flags = b.get_global(Ty::I64, off::FFLAGS);
            let frm = b.get_global(Ty::I64, off::FRM);
            let frm = b.bin_imm(BinOp::Shl, frm, 5);
            b.bin(BinOp::Or, frm, flags)
        }
        csr::TIME => b.call(&HELPER_RDTIME, &[]),
        _ => b.call(&HELPER_RDCYCLE, &[]), // cycle, instret
    };
    if writes {
        let new = match op {
            Op::Csrrw | Op::Csrrwi => operand,
            Op::Csrrs | Op::Csrrsi => b.bin(BinOp::Or, old, operand),
            _ => b.bin(BinOp::AndNot, old, operand),
        };
        match csr_num {
            csr::FFLAGS => {
                let v = b.bin_imm(BinOp::And, new, 0x1f);
                b.set_global(Ty::I64, off::FFLAGS, v);
            }
            csr::FRM => {
                let v = b.bin_imm(BinOp::And, new, 7);
                b.set_global(Ty::I64, off::FRM, v);
            }
            _ => {
                // fcsr = frm << 5 | fflags
                let flags = b.bin_imm(BinOp::And, new, 0x1f);
                b.set_global(Ty::I64, off::FFLAGS, flags);
                let frm = b.extract(new, 5, 3, false);
                b.set_global(Ty::I64, off::FRM, frm);
            }
        }
    }
    set_x(b, rd, old);
    true
}

// ---------------------------------------------------------------------------------------
// Helpers called from generated code
// ---------------------------------------------------------------------------------------

/// Nanoseconds of the host monotonic clock since the first counter read of this process.
fn host_nanos() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    Instant::now().duration_since(start).as_nanos() as u64
}

/// `time` CSR: the host monotonic clock at 10 MHz.
extern "C" fn helper_rdtime(_env: *mut u8) -> u64 {
    host_nanos() / 100
}

/// `cycle` and `instret` CSRs: the host monotonic clock in nanoseconds (about one "cycle"
/// per nanosecond; user programs only use them to measure intervals).
extern "C" fn helper_rdcycle(_env: *mut u8) -> u64 {
    host_nanos()
}

/// fence.i: every engine drops its translations before its next block.
extern "C" fn helper_fence_i(_env: *mut u8) -> u64 {
    heron_backend::engine::request_flush_all();
    0
}

heron_backend::helper!(pub HELPER_RDTIME = helper_rdtime, 0, Effects::PURE);
heron_backend::helper!(pub HELPER_RDCYCLE = helper_rdcycle, 0, Effects::PURE);
// Declared as writing globals so that no optimisation may drop or move the call.
heron_backend::helper!(pub HELPER_FENCE_I = helper_fence_i, 0, Effects::WRITES);

#[cfg(test)]
mod tests;
