//! The RISC-V 64 integer instruction decoder: field extraction for the base formats
//! (R/I/S/B/U/J), expansion of 16-bit compressed (C) instructions into their 32-bit
//! equivalents, and decoding of 32-bit words into a named [`Op`] with its operands.
//!
//! Covered: RV64I, M, A, C, Zicsr, Zifencei, Zba, Zbb, Zbs, Zicond, Zicbom/Zicboz (the
//! `cbo.*` cache-block operations; Zicbop's `prefetch.*` are ORI hints with rd = x0 and
//! decode as [`Op::Ori`], see [`prefetch_hint`]). The F/D major opcodes
//! decode to [`Op::Fp`]; the FP translator (`translate_fp`) interprets those words itself.
//! Anything else is `None`: the translator turns it into an illegal-instruction exception.

// ---------------------------------------------------------------------------------------
// Field extraction from a 32-bit instruction word
// ---------------------------------------------------------------------------------------

/// Major opcode, bits [6:0].
pub fn opcode(w: u32) -> u32 {
    w & 0x7f
}
/// Destination register, bits [11:7].
pub fn rd(w: u32) -> u8 {
    ((w >> 7) & 31) as u8
}
/// Minor opcode, bits [14:12].
pub fn funct3(w: u32) -> u32 {
    (w >> 12) & 7
}
/// First source register, bits [19:15].
pub fn rs1(w: u32) -> u8 {
    ((w >> 15) & 31) as u8
}
/// Second source register, bits [24:20].
pub fn rs2(w: u32) -> u8 {
    ((w >> 20) & 31) as u8
}
/// Bits [31:25] (R-type funct7).
pub fn funct7(w: u32) -> u32 {
    w >> 25
}

/// I-type immediate: imm[11:0] = inst[31:20], sign-extended.
pub fn imm_i(w: u32) -> i64 {
    ((w as i32) >> 20) as i64
}
/// S-type immediate: imm[11:5] = inst[31:25], imm[4:0] = inst[11:7], sign-extended.
pub fn imm_s(w: u32) -> i64 {
    ((((w as i32) >> 25) << 5) | ((w >> 7) & 0x1f) as i32) as i64
}
/// B-type immediate: imm[12|10:5] = inst[31:25], imm[4:1|11] = inst[11:7], sign-extended.
pub fn imm_b(w: u32) -> i64 {
    let sign = ((w as i32) >> 31) << 12; // imm[12] and above
    let b11 = ((w >> 7) & 1) << 11;
    let b10_5 = ((w >> 25) & 0x3f) << 5;
    let b4_1 = ((w >> 8) & 0xf) << 1;
    (sign | (b11 | b10_5 | b4_1) as i32) as i64
}
/// U-type immediate: imm[31:12] = inst[31:12], low 12 bits zero, sign-extended to 64.
pub fn imm_u(w: u32) -> i64 {
    (w & 0xffff_f000) as i32 as i64
}
/// J-type immediate: imm[20|10:1|11|19:12] = inst[31:12], sign-extended.
pub fn imm_j(w: u32) -> i64 {
    let sign = ((w as i32) >> 31) << 20; // imm[20] and above
    let b19_12 = w & 0x000f_f000;
    let b11 = ((w >> 20) & 1) << 11;
    let b10_1 = ((w >> 21) & 0x3ff) << 1;
    (sign | (b19_12 | b11 | b10_1) as i32) as i64
}

/// Length in bytes of the instruction whose first 16-bit parcel is `parcel`: 2 for
/// compressed instructions (low bits != 11), otherwise 4. (Longer encodings do not exist in
/// RV64GC; their first 32 bits decode as illegal.)
pub fn insn_len(parcel: u16) -> u64 {
    if parcel & 3 == 3 { 4 } else { 2 }
}

// ---------------------------------------------------------------------------------------
// Decoded instructions
// ---------------------------------------------------------------------------------------

/// Atomic memory operations (the A extension's AMO*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmoOp {
    Swap,
    Add,
    Xor,
    And,
    Or,
    Min,
    Max,
    Minu,
    Maxu,
}

/// Every instruction the integer translator knows, by its assembly name. Operands live in
/// [`Insn`]; comments say which fields an op uses when that is not the usual rd/rs1/rs2/imm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    // RV64I
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    /// Shift immediates: imm = shift amount.
    Slli,
    Srli,
    Srai,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    /// fence (any predecessor/successor set, fence.tso).
    Fence,
    /// Zihintpause `pause` (the `fence w, 0` encoding): a spin-wait hint.
    Pause,
    Ecall,
    Ebreak,
    // Zifencei
    FenceI,
    // Zicbom / Zicboz: rs1 = the base address (any byte of the 64-byte block).
    CboInval,
    CboClean,
    CboFlush,
    CboZero,
    // Zicsr: imm = CSR number; for the *i forms rs1 holds the 5-bit immediate.
    Csrrw,
    Csrrs,
    Csrrc,
    Csrrwi,
    Csrrsi,
    Csrrci,
    // M
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,
    // A: `double` is true for the .d forms (64-bit), false for .w.
    Lr {
        double: bool,
    },
    Sc {
        double: bool,
    },
    Amo {
        op: AmoOp,
        double: bool,
    },
    // Zba
    Sh1add,
    Sh2add,
    Sh3add,
    AddUw,
    Sh1addUw,
    Sh2addUw,
    Sh3addUw,
    SlliUw,
    // Zbb
    Andn,
    Orn,
    Xnor,
    Clz,
    Ctz,
    Cpop,
    Clzw,
    Ctzw,
    Cpopw,
    Max,
    Maxu,
    Min,
    Minu,
    SextB,
    SextH,
    ZextH,
    Rol,
    Ror,
    Rori,
    Rolw,
    Rorw,
    Roriw,
    OrcB,
    Rev8,
    // Zbs (immediate forms: imm = bit index)
    Bclr,
    Bext,
    Binv,
    Bset,
    Bclri,
    Bexti,
    Binvi,
    Bseti,
    // Zicond
    CzeroEqz,
    CzeroNez,
    /// An instruction of the F/D major opcodes (LOAD-FP, STORE-FP, OP-FP, FMADD...):
    /// handed whole to the FP translator.
    Fp,
}

/// One decoded instruction: the op and its operand fields (unused fields are zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub op: Op,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: i64,
}

impl Insn {
    fn new(op: Op, rd: u8, rs1: u8, rs2: u8, imm: i64) -> Insn {
        Insn {
            op,
            rd,
            rs1,
            rs2,
            imm,
        }
    }
}

/// Zihintpause `pause`: the `fence` encoding with pred = W, succ = 0, fm = 0, rd = rs1 = x0.
pub const PAUSE: u32 = 0x0100_000f;

/// Major opcodes (inst[6:0]) of the 32-bit encodings.
pub mod major {
    pub const LOAD: u32 = 0x03;
    pub const LOAD_FP: u32 = 0x07;
    pub const MISC_MEM: u32 = 0x0f;
    pub const OP_IMM: u32 = 0x13;
    pub const AUIPC: u32 = 0x17;
    pub const OP_IMM_32: u32 = 0x1b;
    pub const STORE: u32 = 0x23;
    pub const STORE_FP: u32 = 0x27;
    pub const AMO: u32 = 0x2f;
    pub const OP: u32 = 0x33;
    pub const LUI: u32 = 0x37;
    pub const OP_32: u32 = 0x3b;
    pub const MADD: u32 = 0x43;
    pub const MSUB: u32 = 0x47;
    pub const NMSUB: u32 = 0x4b;
    pub const NMADD: u32 = 0x4f;
    pub const OP_FP: u32 = 0x53;
    pub const BRANCH: u32 = 0x63;
    pub const JALR: u32 = 0x67;
    pub const JAL: u32 = 0x6f;
    pub const SYSTEM: u32 = 0x73;
}

/// Zicbop's cache-block prefetch hints: `ori x0, rs1, imm` with imm[4:0] = 0 (`prefetch.i`),
/// 1 (`prefetch.r`) or 3 (`prefetch.w`); the offset is imm[11:5] << 5. Returns the
/// mnemonic, the offset and rs1. As ORIs writing x0 they execute as no-ops, which is all a
/// hint needs to do (it never faults); this only names them for disassembly.
pub fn prefetch_hint(w: u32) -> Option<(&'static str, i64, u8)> {
    if opcode(w) != major::OP_IMM || funct3(w) != 6 || rd(w) != 0 {
        return None;
    }
    let name = match (w >> 20) & 0x1f {
        0 => "prefetch.i",
        1 => "prefetch.r",
        3 => "prefetch.w",
        _ => return None,
    };
    Some((name, imm_i(w) & !0x1f, rs1(w)))
}

/// Decode a 32-bit instruction word. `None` means illegal or unsupported.
pub fn decode(w: u32) -> Option<Insn> {
    use major::*;
    let (rd, rs1, rs2, f3, f7) = (rd(w), rs1(w), rs2(w), funct3(w), funct7(w));
    // The common shapes.
    let r = |op| Some(Insn::new(op, rd, rs1, rs2, 0));
    let i = |op| Some(Insn::new(op, rd, rs1, 0, imm_i(w)));
    let s = |op| Some(Insn::new(op, 0, rs1, rs2, imm_s(w)));
    let b = |op| Some(Insn::new(op, 0, rs1, rs2, imm_b(w)));
    // Shift-immediate shape: imm = the low `bits` of inst[25:20].
    let sh = |op, bits: u32| {
        Some(Insn::new(
            op,
            rd,
            rs1,
            0,
            ((w >> 20) & ((1 << bits) - 1)) as i64,
        ))
    };
    // Unary shape (clz, sext.b...): only rd and rs1.
    let u = |op| Some(Insn::new(op, rd, rs1, 0, 0));
    if w & 3 != 3 {
        return None; // a compressed parcel, not a 32-bit word
    }
    match opcode(w) {
        LUI => Some(Insn::new(Op::Lui, rd, 0, 0, imm_u(w))),
        AUIPC => Some(Insn::new(Op::Auipc, rd, 0, 0, imm_u(w))),
        JAL => Some(Insn::new(Op::Jal, rd, 0, 0, imm_j(w))),
        JALR if f3 == 0 => i(Op::Jalr),
        BRANCH => match f3 {
            0 => b(Op::Beq),
            1 => b(Op::Bne),
            4 => b(Op::Blt),
            5 => b(Op::Bge),
            6 => b(Op::Bltu),
            7 => b(Op::Bgeu),
            _ => None,
        },
        LOAD => match f3 {
            0 => i(Op::Lb),
            1 => i(Op::Lh),
            2 => i(Op::Lw),
            3 => i(Op::Ld),
            4 => i(Op::Lbu),
            5 => i(Op::Lhu),
            6 => i(Op::Lwu),
            _ => None,
        },
        STORE => match f3 {
            0 => s(Op::Sb),
            1 => s(Op::Sh),
            2 => s(Op::Sw),
            3 => s(Op::Sd),
            _ => None,
        },
        OP_IMM => decode_op_imm(w, f3, sh, u, i),
        OP_IMM_32 => {
            let funct6 = w >> 26;
            let imm12 = w >> 20;
            match (f3, f7) {
                (0, _) => i(Op::Addiw),
                (1, 0b0000000) => sh(Op::Slliw, 5),
                (5, 0b0000000) => sh(Op::Srliw, 5),
                (5, 0b0100000) => sh(Op::Sraiw, 5),
                (5, 0b0110000) => sh(Op::Roriw, 5), // Zbb
                (1, _) if funct6 == 0b000010 => sh(Op::SlliUw, 6), // Zba
                (1, _) => match imm12 {
                    // Zbb unary W forms
                    0x600 => u(Op::Clzw),
                    0x601 => u(Op::Ctzw),
                    0x602 => u(Op::Cpopw),
                    _ => None,
                },
                _ => None,
            }
        }
        OP => {
            let op = match (f7, f3) {
                (0b0000000, 0) => Op::Add,
                (0b0000000, 1) => Op::Sll,
                (0b0000000, 2) => Op::Slt,
                (0b0000000, 3) => Op::Sltu,
                (0b0000000, 4) => Op::Xor,
                (0b0000000, 5) => Op::Srl,
                (0b0000000, 6) => Op::Or,
                (0b0000000, 7) => Op::And,
                (0b0100000, 0) => Op::Sub,
                (0b0100000, 5) => Op::Sra,
                // M
                (0b0000001, 0) => Op::Mul,
                (0b0000001, 1) => Op::Mulh,
                (0b0000001, 2) => Op::Mulhsu,
                (0b0000001, 3) => Op::Mulhu,
                (0b0000001, 4) => Op::Div,
                (0b0000001, 5) => Op::Divu,
                (0b0000001, 6) => Op::Rem,
                (0b0000001, 7) => Op::Remu,
                // Zba
                (0b0010000, 2) => Op::Sh1add,
                (0b0010000, 4) => Op::Sh2add,
                (0b0010000, 6) => Op::Sh3add,
                // Zbb
                (0b0100000, 7) => Op::Andn,
                (0b0100000, 6) => Op::Orn,
                (0b0100000, 4) => Op::Xnor,
                (0b0000101, 4) => Op::Min,
                (0b0000101, 5) => Op::Minu,
                (0b0000101, 6) => Op::Max,
                (0b0000101, 7) => Op::Maxu,
                (0b0110000, 1) => Op::Rol,
                (0b0110000, 5) => Op::Ror,
                // Zbs
                (0b0100100, 1) => Op::Bclr,
                (0b0100100, 5) => Op::Bext,
                (0b0110100, 1) => Op::Binv,
                (0b0010100, 1) => Op::Bset,
                // Zicond
                (0b0000111, 5) => Op::CzeroEqz,
                (0b0000111, 7) => Op::CzeroNez,
                _ => return None,
            };
            r(op)
        }
        OP_32 => {
            let op = match (f7, f3) {
                (0b0000000, 0) => Op::Addw,
                (0b0000000, 1) => Op::Sllw,
                (0b0000000, 5) => Op::Srlw,
                (0b0100000, 0) => Op::Subw,
                (0b0100000, 5) => Op::Sraw,
                // M
                (0b0000001, 0) => Op::Mulw,
                (0b0000001, 4) => Op::Divw,
                (0b0000001, 5) => Op::Divuw,
                (0b0000001, 6) => Op::Remw,
                (0b0000001, 7) => Op::Remuw,
                // Zba
                (0b0000100, 0) => Op::AddUw,
                (0b0010000, 2) => Op::Sh1addUw,
                (0b0010000, 4) => Op::Sh2addUw,
                (0b0010000, 6) => Op::Sh3addUw,
                // Zbb: zext.h is the rs2 = 0 case of the (RV32-only) pack encoding.
                (0b0000100, 4) if rs2 == 0 => return u(Op::ZextH),
                (0b0110000, 1) => Op::Rolw,
                (0b0110000, 5) => Op::Rorw,
                _ => return None,
            };
            r(op)
        }
        MISC_MEM => match f3 {
            0 if w == PAUSE => Some(Insn::new(Op::Pause, 0, 0, 0, 0)),
            0 => Some(Insn::new(Op::Fence, 0, 0, 0, 0)),
            1 => Some(Insn::new(Op::FenceI, 0, 0, 0, 0)),
            // CBO: I-type with rd = 0 and imm[11:0] naming the operation.
            2 if rd == 0 => {
                let op = match w >> 20 {
                    0 => Op::CboInval,
                    1 => Op::CboClean,
                    2 => Op::CboFlush,
                    4 => Op::CboZero,
                    _ => return None,
                };
                Some(Insn::new(op, 0, rs1, 0, 0))
            }
            _ => None,
        },
        SYSTEM => {
            let csr = (w >> 20) as i64;
            match f3 {
                0 => match w {
                    0x0000_0073 => Some(Insn::new(Op::Ecall, 0, 0, 0, 0)),
                    0x0010_0073 => Some(Insn::new(Op::Ebreak, 0, 0, 0, 0)),
                    _ => None, // privileged (mret, wfi, sfence.vma...)
                },
                1 => Some(Insn::new(Op::Csrrw, rd, rs1, 0, csr)),
                2 => Some(Insn::new(Op::Csrrs, rd, rs1, 0, csr)),
                3 => Some(Insn::new(Op::Csrrc, rd, rs1, 0, csr)),
                5 => Some(Insn::new(Op::Csrrwi, rd, rs1, 0, csr)),
                6 => Some(Insn::new(Op::Csrrsi, rd, rs1, 0, csr)),
                7 => Some(Insn::new(Op::Csrrci, rd, rs1, 0, csr)),
                _ => None,
            }
        }
        AMO => {
            let double = match f3 {
                2 => false,
                3 => true,
                _ => return None,
            };
            // funct5 = inst[31:27]; inst[26:25] are aq/rl (all our atomics are SeqCst).
            let op = match w >> 27 {
                0b00010 if rs2 == 0 => Op::Lr { double },
                0b00011 => Op::Sc { double },
                0b00001 => Op::Amo {
                    op: AmoOp::Swap,
                    double,
                },
                0b00000 => Op::Amo {
                    op: AmoOp::Add,
                    double,
                },
                0b00100 => Op::Amo {
                    op: AmoOp::Xor,
                    double,
                },
                0b01100 => Op::Amo {
                    op: AmoOp::And,
                    double,
                },
                0b01000 => Op::Amo {
                    op: AmoOp::Or,
                    double,
                },
                0b10000 => Op::Amo {
                    op: AmoOp::Min,
                    double,
                },
                0b10100 => Op::Amo {
                    op: AmoOp::Max,
                    double,
                },
                0b11000 => Op::Amo {
                    op: AmoOp::Minu,
                    double,
                },
                0b11100 => Op::Amo {
                    op: AmoOp::Maxu,
                    double,
                },
                _ => return None,
            };
            r(op)
        }
        LOAD_FP | STORE_FP | MADD | MSUB | NMSUB | NMADD | OP_FP => {
            Some(Insn::new(Op::Fp, 0, 0, 0, 0))
        }
        _ => None,
    }
}

/// OP-IMM (major opcode 0x13): addi..andi, the 64-bit shift immediates, and the Zbb/Zbs
/// instructions that live in its shift-immediate space.
fn decode_op_imm(
    w: u32,
    f3: u32,
    sh: impl Fn(Op, u32) -> Option<Insn>,
    u: impl Fn(Op) -> Option<Insn>,
    i: impl Fn(Op) -> Option<Insn>,
) -> Option<Insn> {
    let funct6 = w >> 26; // inst[31:26]: RV64 shifts have a 6-bit shamt in inst[25:20]
    let imm12 = w >> 20;
    match f3 {
        0 => i(Op::Addi),
        2 => i(Op::Slti),
        3 => i(Op::Sltiu),
        4 => i(Op::Xori),
        6 => i(Op::Ori),
        7 => i(Op::Andi),
        1 => match funct6 {
            0b000000 => sh(Op::Slli, 6),
            0b010010 => sh(Op::Bclri, 6), // Zbs
            0b011010 => sh(Op::Binvi, 6), // Zbs
            0b001010 => sh(Op::Bseti, 6), // Zbs
            _ => match imm12 {
                // Zbb unary ops
                0x600 => u(Op::Clz),
                0x601 => u(Op::Ctz),
                0x602 => u(Op::Cpop),
                0x604 => u(Op::SextB),
                0x605 => u(Op::SextH),
                _ => None,
            },
        },
        5 => match funct6 {
            0b000000 => sh(Op::Srli, 6),
            0b010000 => sh(Op::Srai, 6),
            0b011000 => sh(Op::Rori, 6),  // Zbb
            0b010010 => sh(Op::Bexti, 6), // Zbs
            _ => match imm12 {
                0x287 => u(Op::OrcB), // Zbb
                0x6b8 => u(Op::Rev8), // Zbb (RV64 encoding)
                _ => None,
            },
        },
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Compressed (C) instructions
// ---------------------------------------------------------------------------------------

/// 32-bit encoders used by the compressed expansion.
mod enc {
    pub fn r(op: u32, rd: u32, f3: u32, rs1: u32, rs2: u32, f7: u32) -> u32 {
        (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
    }
    pub fn i(op: u32, rd: u32, f3: u32, rs1: u32, imm: i64) -> u32 {
        (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
    }
    pub fn s(op: u32, f3: u32, rs1: u32, rs2: u32, imm: i64) -> u32 {
        let imm = imm as u32;
        (((imm >> 5) & 0x7f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | ((imm & 0x1f) << 7)
            | op
    }
    pub fn b(op: u32, f3: u32, rs1: u32, rs2: u32, imm: i64) -> u32 {
        let imm = imm as u32;
        (((imm >> 12) & 1) << 31)
            | (((imm >> 5) & 0x3f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | (((imm >> 1) & 0xf) << 8)
            | (((imm >> 11) & 1) << 7)
            | op
    }
    pub fn u(op: u32, rd: u32, imm: i64) -> u32 {
        ((imm as u32) & 0xffff_f000) | (rd << 7) | op
    }
    pub fn j(op: u32, rd: u32, imm: i64) -> u32 {
        let imm = imm as u32;
        (((imm >> 20) & 1) << 31)
            | (((imm >> 1) & 0x3ff) << 21)
            | (((imm >> 11) & 1) << 20)
            | (((imm >> 12) & 0xff) << 12)
            | (rd << 7)
            | op
    }
}

/// Bits [hi:lo] of a 16-bit parcel, as u32.
fn bits(c: u16, hi: u32, lo: u32) -> u32 {
    ((c as u32) >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// Sign-extend the low `n` bits of `v`.
fn sext(v: u32, n: u32) -> i64 {
    (((v << (32 - n)) as i32) >> (32 - n)) as i64
}

/// Expand a 16-bit compressed instruction into the 32-bit instruction it stands for.
/// `None` for reserved and illegal encodings (including the all-zero parcel). HINTs expand
/// to their (harmless) 32-bit forms, e.g. c.nop with an immediate to `addi x0, x0, imm`.
pub fn expand_compressed(c: u16) -> Option<u32> {
    use major::*;
    // Register fields: full 5-bit ones, and the 3-bit "prime" ones naming x8..x15.
    let rd_full = bits(c, 11, 7);
    let rs2_full = bits(c, 6, 2);
    let rdp = bits(c, 4, 2) + 8; // rd' / rs2' in bits [4:2]
    let rs1p = bits(c, 9, 7) + 8; // rs1' / rd' in bits [9:7]
    // The 6-bit immediate of CI-format ops: imm[5] = c[12], imm[4:0] = c[6:2].
    let ci_imm = sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
    let ci_shamt = ((bits(c, 12, 12) << 5) | bits(c, 6, 2)) as i64;
    // Offsets of the CL/CS loads and stores.
    let off_w = ((bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6)) as i64;
    let off_d = ((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)) as i64;
    let f3 = bits(c, 15, 13);
    match (c & 3, f3) {
        // ---------------- quadrant 0 ----------------
        (0, 0) => {
            // c.addi4spn rd', sp, nzuimm  ->  addi rd', x2, nzuimm
            let imm = (bits(c, 12, 11) << 4)
                | (bits(c, 10, 7) << 6)
                | (bits(c, 6, 6) << 2)
                | (bits(c, 5, 5) << 3);
            if imm == 0 {
                return None; // includes the all-zero parcel
            }
            Some(enc::i(OP_IMM, rdp, 0, 2, imm as i64))
        }
        (0, 1) => Some(enc::i(LOAD_FP, rdp, 3, rs1p, off_d)), // c.fld  -> fld
        (0, 2) => Some(enc::i(LOAD, rdp, 2, rs1p, off_w)),    // c.lw   -> lw
        (0, 3) => Some(enc::i(LOAD, rdp, 3, rs1p, off_d)),    // c.ld   -> ld
        (0, 5) => Some(enc::s(STORE_FP, 3, rs1p, rdp, off_d)), // c.fsd -> fsd
        (0, 6) => Some(enc::s(STORE, 2, rs1p, rdp, off_w)),   // c.sw   -> sw
        (0, 7) => Some(enc::s(STORE, 3, rs1p, rdp, off_d)),   // c.sd   -> sd
        (0, _) => None,                                       // reserved (Zcb not supported)

        // ---------------- quadrant 1 ----------------
        // c.addi rd, nzimm -> addi rd, rd, imm (c.nop when rd = 0; other forms are HINTs)
        (1, 0) => Some(enc::i(OP_IMM, rd_full, 0, rd_full, ci_imm)),
        (1, 1) => {
            // c.addiw rd, imm -> addiw rd, rd, imm (rd = 0 reserved)
            if rd_full == 0 {
                return None;
            }
            Some(enc::i(OP_IMM_32, rd_full, 0, rd_full, ci_imm))
        }
        (1, 2) => Some(enc::i(OP_IMM, rd_full, 0, 0, ci_imm)), // c.li -> addi rd, x0, imm
        (1, 3) if rd_full == 2 => {
            // c.addi16sp nzimm -> addi x2, x2, nzimm
            // nzimm[9] = c[12], nzimm[4|6|8:7|5] = c[6:2]
            let imm = (bits(c, 12, 12) << 9)
                | (bits(c, 6, 6) << 4)
                | (bits(c, 5, 5) << 6)
                | (bits(c, 4, 3) << 7)
                | (bits(c, 2, 2) << 5);
            if imm == 0 {
                return None;
            }
            Some(enc::i(OP_IMM, 2, 0, 2, sext(imm, 10)))
        }
        (1, 3) => {
            // c.lui rd, nzimm -> lui rd, nzimm (nzimm[17] = c[12], nzimm[16:12] = c[6:2])
            if ci_imm == 0 {
                return None;
            }
            Some(enc::u(LUI, rd_full, ci_imm << 12))
        }
        (1, 4) => {
            // MISC-ALU on rd' = rs1' in bits [9:7]
            match bits(c, 11, 10) {
                0 => Some(enc::i(OP_IMM, rs1p, 5, rs1p, ci_shamt)), // c.srli -> srli
                1 => Some(enc::i(OP_IMM, rs1p, 5, rs1p, ci_shamt | 0x400)), // c.srai -> srai
                2 => Some(enc::i(OP_IMM, rs1p, 7, rs1p, ci_imm)),   // c.andi -> andi
                _ => {
                    let (op, f3, f7) = match (bits(c, 12, 12), bits(c, 6, 5)) {
                        (0, 0) => (OP, 0, 0b0100000),    // c.sub  -> sub
                        (0, 1) => (OP, 4, 0),            // c.xor  -> xor
                        (0, 2) => (OP, 6, 0),            // c.or   -> or
                        (0, 3) => (OP, 7, 0),            // c.and  -> and
                        (1, 0) => (OP_32, 0, 0b0100000), // c.subw -> subw
                        (1, 1) => (OP_32, 0, 0),         // c.addw -> addw
                        _ => return None,                // reserved (Zcb not supported)
                    };
                    Some(enc::r(op, rs1p, f3, rs1p, rdp, f7))
                }
            }
        }
        (1, 5) => {
            // c.j offset -> jal x0, offset; offset[11|4|9:8|10|6|7|3:1|5] = c[12:2]
            let imm = (bits(c, 12, 12) << 11)
                | (bits(c, 11, 11) << 4)
                | (bits(c, 10, 9) << 8)
                | (bits(c, 8, 8) << 10)
                | (bits(c, 7, 7) << 6)
                | (bits(c, 6, 6) << 7)
                | (bits(c, 5, 3) << 1)
                | (bits(c, 2, 2) << 5);
            Some(enc::j(JAL, 0, sext(imm, 12)))
        }
        (1, 6 | 7) => {
            // c.beqz / c.bnez rs1', offset -> beq / bne rs1', x0, offset
            // offset[8|4:3] = c[12:10], offset[7:6|2:1|5] = c[6:2]
            let imm = (bits(c, 12, 12) << 8)
                | (bits(c, 11, 10) << 3)
                | (bits(c, 6, 5) << 6)
                | (bits(c, 4, 3) << 1)
                | (bits(c, 2, 2) << 5);
            let f3 = if f3 == 6 { 0 } else { 1 };
            Some(enc::b(BRANCH, f3, rs1p, 0, sext(imm, 9)))
        }

        // ---------------- quadrant 2 ----------------
        (2, 0) => Some(enc::i(OP_IMM, rd_full, 1, rd_full, ci_shamt)), // c.slli -> slli
        (2, 1) => {
            // c.fldsp rd, uimm(sp) -> fld; uimm[5] = c[12], uimm[4:3|8:6] = c[6:2]
            let imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
            Some(enc::i(LOAD_FP, rd_full, 3, 2, imm as i64))
        }
        (2, 2) => {
            // c.lwsp rd, uimm(sp) -> lw; uimm[5] = c[12], uimm[4:2|7:6] = c[6:2]; rd = 0 reserved
            if rd_full == 0 {
                return None;
            }
            let imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
            Some(enc::i(LOAD, rd_full, 2, 2, imm as i64))
        }
        (2, 3) => {
            // c.ldsp rd, uimm(sp) -> ld; uimm[5] = c[12], uimm[4:3|8:6] = c[6:2]; rd = 0 reserved
            if rd_full == 0 {
                return None;
            }
            let imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
            Some(enc::i(LOAD, rd_full, 3, 2, imm as i64))
        }
        (2, 4) => {
            let bit12 = bits(c, 12, 12);
            match (bit12, rd_full, rs2_full) {
                (0, 0, 0) => None,                                   // c.jr x0: reserved
                (0, rs1, 0) => Some(enc::i(JALR, 0, 0, rs1, 0)),     // c.jr -> jalr x0, 0(rs1)
                (0, rd, rs2) => Some(enc::r(OP, rd, 0, 0, rs2, 0)),  // c.mv -> add rd, x0, rs2
                (_, 0, 0) => Some(0x0010_0073),                      // c.ebreak -> ebreak
                (_, rs1, 0) => Some(enc::i(JALR, 1, 0, rs1, 0)),     // c.jalr -> jalr x1, 0(rs1)
                (_, rd, rs2) => Some(enc::r(OP, rd, 0, rd, rs2, 0)), // c.add -> add rd, rd, rs2
            }
        }
        (2, 5) => {
            // c.fsdsp rs2, uimm(sp) -> fsd; uimm[5:3|8:6] = c[12:7]
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);
            Some(enc::s(STORE_FP, 3, 2, rs2_full, imm as i64))
        }
        (2, 6) => {
            // c.swsp rs2, uimm(sp) -> sw; uimm[5:2|7:6] = c[12:7]
            let imm = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6);
            Some(enc::s(STORE, 2, 2, rs2_full, imm as i64))
        }
        (2, 7) => {
            // c.sdsp rs2, uimm(sp) -> sd; uimm[5:3|8:6] = c[12:7]
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);
            Some(enc::s(STORE, 3, 2, rs2_full, imm as i64))
        }
        _ => None, // low bits 11: not a compressed instruction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates_of_every_format() {
        // I: addi a0, a1, -2048 / 2047
        assert_eq!(imm_i(0x8005_8513), -2048);
        assert_eq!(imm_i(0x7ff5_8513), 2047);
        // S: sd ra, -32(sp) = 0xfe113023; sw a0, 2047(a1) = 0x7ea5afa3
        assert_eq!(imm_s(0xfe11_3023), -32);
        assert_eq!(imm_s(0x7ea5_afa3), 2047);
        // B: beq x0, x0, -4096 = 0x80000063; bne x0, x0, 4094 = 0x7e001fe3;
        //    blt x0, x0, 2048 = 0x00004063 | imm[11] (inst[7]) = 0x000040e3
        assert_eq!(imm_b(0x8000_0063), -4096);
        assert_eq!(imm_b(0x7e00_1fe3), 4094);
        assert_eq!(imm_b(0x0000_40e3), 2048);
        assert_eq!(imm_b(0x0000_0f63), 30); // imm[4:1] = 1111
        // U: lui a0, 0x80000 sign-extends to 64 bits
        assert_eq!(imm_u(0x8000_0537), -0x8000_0000);
        assert_eq!(imm_u(0x7fff_f537), 0x7fff_f000);
        // J: jal x0, -1048576 = 0x8000006f; jal x0, 1048574 = 0x7ffff06f;
        //    imm[11] alone = inst[20] = 0x0010006f -> 2048; imm[19:12] = 0x000ff06f
        assert_eq!(imm_j(0x8000_006f), -1_048_576);
        assert_eq!(imm_j(0x7fff_f06f), 1_048_574);
        assert_eq!(imm_j(0x0010_006f), 2048);
        assert_eq!(imm_j(0x000f_f06f), 0xff000);
        // Register fields.
        let w = 0x00c5_8533; // add a0, a1, a2
        assert_eq!(
            (rd(w), rs1(w), rs2(w), funct3(w), funct7(w)),
            (10, 11, 12, 0, 0)
        );
    }

    /// 32-bit encodings produced by GNU as 2.40 (`-march=rv64gc_zba_zbb_zbs`, Zicond through
    /// `.insn`), with the fields the decoder must find: (word, op, rd, rs1, rs2, imm).
    #[test]
    fn decodes_every_supported_instruction() {
        let table: &[(u32, Op, u8, u8, u8, i64)] = &[
            (0xfffff537, Op::Lui, 10, 0, 0, -4096), // lui a0, 0xfffff
            (0x80000317, Op::Auipc, 6, 0, 0, -2147483648), // auipc t1, 0x80000
            (0x800000ef, Op::Jal, 1, 0, 0, -1048576), // jal ra, .-1048576
            (0x7ffff06f, Op::Jal, 0, 0, 0, 1048574), // jal x0, .+1048574
            (0x80058567, Op::Jalr, 10, 11, 0, -2048), // jalr a0, -2048(a1)
            (0x80b50063, Op::Beq, 0, 10, 11, -4096), // beq a0, a1, .-4096
            (0x7e629fe3, Op::Bne, 0, 5, 6, 4094),   // bne t0, t1, .+4094
            (0x00d64463, Op::Blt, 0, 12, 13, 8),    // blt a2, a3, .+8
            (0xfed65ce3, Op::Bge, 0, 12, 13, -8),   // bge a2, a3, .-8
            (0x009460e3, Op::Bltu, 0, 8, 9, 2048),  // bltu s0, s1, .+2048
            (0xfe947fe3, Op::Bgeu, 0, 8, 9, -2),    // bgeu s0, s1, .-2
            (0xfff58503, Op::Lb, 10, 11, 0, -1),    // lb a0, -1(a1)
            (0x7ff59503, Op::Lh, 10, 11, 0, 2047),  // lh a0, 2047(a1)
            (0x80012503, Op::Lw, 10, 2, 0, -2048),  // lw a0, -2048(sp)
            (0x0085b503, Op::Ld, 10, 11, 0, 8),     // ld a0, 8(a1)
            (0x0015c503, Op::Lbu, 10, 11, 0, 1),    // lbu a0, 1(a1)
            (0x0025d503, Op::Lhu, 10, 11, 0, 2),    // lhu a0, 2(a1)
            (0x0045e503, Op::Lwu, 10, 11, 0, 4),    // lwu a0, 4(a1)
            (0xfea58fa3, Op::Sb, 0, 11, 10, -1),    // sb a0, -1(a1)
            (0x7ff59fa3, Op::Sh, 0, 11, 31, 2047),  // sh t6, 2047(a1)
            (0x80a12023, Op::Sw, 0, 2, 10, -2048),  // sw a0, -2048(sp)
            (0xfe113023, Op::Sd, 0, 2, 1, -32),     // sd ra, -32(sp)
            (0xfff58513, Op::Addi, 10, 11, 0, -1),  // addi a0, a1, -1
            (0x0055a513, Op::Slti, 10, 11, 0, 5),   // slti a0, a1, 5
            (0xffb5b513, Op::Sltiu, 10, 11, 0, -5), // sltiu a0, a1, -5
            (0x7ff5c513, Op::Xori, 10, 11, 0, 2047), // xori a0, a1, 0x7ff
            (0x8005e513, Op::Ori, 10, 11, 0, -2048), // ori a0, a1, -2048
            (0x0ff5f513, Op::Andi, 10, 11, 0, 255), // andi a0, a1, 255
            (0x03f59513, Op::Slli, 10, 11, 0, 63),  // slli a0, a1, 63
            (0x0205d513, Op::Srli, 10, 11, 0, 32),  // srli a0, a1, 32
            (0x43f5d513, Op::Srai, 10, 11, 0, 63),  // srai a0, a1, 63
            (0xff95851b, Op::Addiw, 10, 11, 0, -7), // addiw a0, a1, -7
            (0x01f5951b, Op::Slliw, 10, 11, 0, 31), // slliw a0, a1, 31
            (0x01f5d51b, Op::Srliw, 10, 11, 0, 31), // srliw a0, a1, 31
            (0x41f5d51b, Op::Sraiw, 10, 11, 0, 31), // sraiw a0, a1, 31
            (0x00c58533, Op::Add, 10, 11, 12, 0),   // add a0, a1, a2
            (0x40c58533, Op::Sub, 10, 11, 12, 0),   // sub a0, a1, a2
            (0x00c59533, Op::Sll, 10, 11, 12, 0),   // sll a0, a1, a2
            (0x00c5a533, Op::Slt, 10, 11, 12, 0),   // slt a0, a1, a2
            (0x00c5b533, Op::Sltu, 10, 11, 12, 0),  // sltu a0, a1, a2
            (0x00c5c533, Op::Xor, 10, 11, 12, 0),   // xor a0, a1, a2
            (0x00c5d533, Op::Srl, 10, 11, 12, 0),   // srl a0, a1, a2
            (0x40c5d533, Op::Sra, 10, 11, 12, 0),   // sra a0, a1, a2
            (0x00c5e533, Op::Or, 10, 11, 12, 0),    // or a0, a1, a2
            (0x00c5f533, Op::And, 10, 11, 12, 0),   // and a0, a1, a2
            (0x00c5853b, Op::Addw, 10, 11, 12, 0),  // addw a0, a1, a2
            (0x40c5853b, Op::Subw, 10, 11, 12, 0),  // subw a0, a1, a2
            (0x00c5953b, Op::Sllw, 10, 11, 12, 0),  // sllw a0, a1, a2
            (0x00c5d53b, Op::Srlw, 10, 11, 12, 0),  // srlw a0, a1, a2
            (0x40c5d53b, Op::Sraw, 10, 11, 12, 0),  // sraw a0, a1, a2
            (0x0ff0000f, Op::Fence, 0, 0, 0, 0),    // fence
            (0x8330000f, Op::Fence, 0, 0, 0, 0),    // fence.tso
            (0x0210000f, Op::Fence, 0, 0, 0, 0),    // fence r, w
            (0x0100000f, Op::Pause, 0, 0, 0, 0),    // pause
            (0x0110000f, Op::Fence, 0, 0, 0, 0),    // fence w, w
            (0x0000100f, Op::FenceI, 0, 0, 0, 0),   // fence.i
            (0x0045200f, Op::CboZero, 0, 10, 0, 0), // cbo.zero (a0)
            (0x0015a00f, Op::CboClean, 0, 11, 0, 0), // cbo.clean (a1)
            (0x0022a00f, Op::CboFlush, 0, 5, 0, 0), // cbo.flush (t0)
            (0x0004a00f, Op::CboInval, 0, 9, 0, 0), // cbo.inval (s1)
            (0x0000200f, Op::CboInval, 0, 0, 0, 0), // cbo.inval (zero)
            (0x00000073, Op::Ecall, 0, 0, 0, 0),    // ecall
            (0x00100073, Op::Ebreak, 0, 0, 0, 0),   // ebreak
            (0x00359573, Op::Csrrw, 10, 11, 0, 3),  // csrrw a0, fcsr, a1
            (0x0012a073, Op::Csrrs, 0, 5, 0, 1),    // csrrs x0, fflags, t0
            (0x00203573, Op::Csrrc, 10, 0, 0, 2),   // csrrc a0, frm, x0
            (0x003fd573, Op::Csrrwi, 10, 31, 0, 3), // csrrwi a0, fcsr, 31
            (0xc0106573, Op::Csrrsi, 10, 0, 0, 3073), // csrrsi a0, 0xc01, 0
            (0xc000f573, Op::Csrrci, 10, 1, 0, 3072), // csrrci a0, 0xc00, 1
            (0x02c58533, Op::Mul, 10, 11, 12, 0),   // mul a0, a1, a2
            (0x02c59533, Op::Mulh, 10, 11, 12, 0),  // mulh a0, a1, a2
            (0x02c5a533, Op::Mulhsu, 10, 11, 12, 0), // mulhsu a0, a1, a2
            (0x02c5b533, Op::Mulhu, 10, 11, 12, 0), // mulhu a0, a1, a2
            (0x02c5c533, Op::Div, 10, 11, 12, 0),   // div a0, a1, a2
            (0x02c5d533, Op::Divu, 10, 11, 12, 0),  // divu a0, a1, a2
            (0x02c5e533, Op::Rem, 10, 11, 12, 0),   // rem a0, a1, a2
            (0x02c5f533, Op::Remu, 10, 11, 12, 0),  // remu a0, a1, a2
            (0x02c5853b, Op::Mulw, 10, 11, 12, 0),  // mulw a0, a1, a2
            (0x02c5c53b, Op::Divw, 10, 11, 12, 0),  // divw a0, a1, a2
            (0x02c5d53b, Op::Divuw, 10, 11, 12, 0), // divuw a0, a1, a2
            (0x02c5e53b, Op::Remw, 10, 11, 12, 0),  // remw a0, a1, a2
            (0x02c5f53b, Op::Remuw, 10, 11, 12, 0), // remuw a0, a1, a2
            (0x1005a52f, Op::Lr { double: false }, 10, 11, 0, 0), // lr.w a0, (a1)
            (0x1605b52f, Op::Lr { double: true }, 10, 11, 0, 0), // lr.d.aqrl a0, (a1)
            (0x18c5a52f, Op::Sc { double: false }, 10, 11, 12, 0), // sc.w a0, a2, (a1)
            (0x1ac5b52f, Op::Sc { double: true }, 10, 11, 12, 0), // sc.d.rl a0, a2, (a1)
            (
                0x08c5a52f,
                Op::Amo {
                    op: AmoOp::Swap,
                    double: false,
                },
                10,
                11,
                12,
                0,
            ), // amoswap.w a0, a2, (a1)
            (
                0x04c5b52f,
                Op::Amo {
                    op: AmoOp::Add,
                    double: true,
                },
                10,
                11,
                12,
                0,
            ), // amoadd.d.aq a0, a2, (a1)
            (
                0x20c5a52f,
                Op::Amo {
                    op: AmoOp::Xor,
                    double: false,
                },
                10,
                11,
                12,
                0,
            ), // amoxor.w a0, a2, (a1)
            (
                0x60c5b52f,
                Op::Amo {
                    op: AmoOp::And,
                    double: true,
                },
                10,
                11,
                12,
                0,
            ), // amoand.d a0, a2, (a1)
            (
                0x40c5a52f,
                Op::Amo {
                    op: AmoOp::Or,
                    double: false,
                },
                10,
                11,
                12,
                0,
            ), // amoor.w a0, a2, (a1)
            (
                0x80c5b52f,
                Op::Amo {
                    op: AmoOp::Min,
                    double: true,
                },
                10,
                11,
                12,
                0,
            ), // amomin.d a0, a2, (a1)
            (
                0xa0c5a52f,
                Op::Amo {
                    op: AmoOp::Max,
                    double: false,
                },
                10,
                11,
                12,
                0,
            ), // amomax.w a0, a2, (a1)
            (
                0xc0c5b52f,
                Op::Amo {
                    op: AmoOp::Minu,
                    double: true,
                },
                10,
                11,
                12,
                0,
            ), // amominu.d a0, a2, (a1)
            (
                0xe0c5a52f,
                Op::Amo {
                    op: AmoOp::Maxu,
                    double: false,
                },
                10,
                11,
                12,
                0,
            ), // amomaxu.w a0, a2, (a1)
            (0x20c5a533, Op::Sh1add, 10, 11, 12, 0), // sh1add a0, a1, a2
            (0x20c5c533, Op::Sh2add, 10, 11, 12, 0), // sh2add a0, a1, a2
            (0x20c5e533, Op::Sh3add, 10, 11, 12, 0), // sh3add a0, a1, a2
            (0x08c5853b, Op::AddUw, 10, 11, 12, 0), // add.uw a0, a1, a2
            (0x20c5a53b, Op::Sh1addUw, 10, 11, 12, 0), // sh1add.uw a0, a1, a2
            (0x20c5c53b, Op::Sh2addUw, 10, 11, 12, 0), // sh2add.uw a0, a1, a2
            (0x20c5e53b, Op::Sh3addUw, 10, 11, 12, 0), // sh3add.uw a0, a1, a2
            (0x0bf5951b, Op::SlliUw, 10, 11, 0, 63), // slli.uw a0, a1, 63
            (0x40c5f533, Op::Andn, 10, 11, 12, 0),  // andn a0, a1, a2
            (0x40c5e533, Op::Orn, 10, 11, 12, 0),   // orn a0, a1, a2
            (0x40c5c533, Op::Xnor, 10, 11, 12, 0),  // xnor a0, a1, a2
            (0x60059513, Op::Clz, 10, 11, 0, 0),    // clz a0, a1
            (0x60159513, Op::Ctz, 10, 11, 0, 0),    // ctz a0, a1
            (0x60259513, Op::Cpop, 10, 11, 0, 0),   // cpop a0, a1
            (0x6005951b, Op::Clzw, 10, 11, 0, 0),   // clzw a0, a1
            (0x6015951b, Op::Ctzw, 10, 11, 0, 0),   // ctzw a0, a1
            (0x6025951b, Op::Cpopw, 10, 11, 0, 0),  // cpopw a0, a1
            (0x0ac5e533, Op::Max, 10, 11, 12, 0),   // max a0, a1, a2
            (0x0ac5f533, Op::Maxu, 10, 11, 12, 0),  // maxu a0, a1, a2
            (0x0ac5c533, Op::Min, 10, 11, 12, 0),   // min a0, a1, a2
            (0x0ac5d533, Op::Minu, 10, 11, 12, 0),  // minu a0, a1, a2
            (0x60459513, Op::SextB, 10, 11, 0, 0),  // sext.b a0, a1
            (0x60559513, Op::SextH, 10, 11, 0, 0),  // sext.h a0, a1
            (0x0805c53b, Op::ZextH, 10, 11, 0, 0),  // zext.h a0, a1
            (0x60c59533, Op::Rol, 10, 11, 12, 0),   // rol a0, a1, a2
            (0x60c5d533, Op::Ror, 10, 11, 12, 0),   // ror a0, a1, a2
            (0x63f5d513, Op::Rori, 10, 11, 0, 63),  // rori a0, a1, 63
            (0x60c5953b, Op::Rolw, 10, 11, 12, 0),  // rolw a0, a1, a2
            (0x60c5d53b, Op::Rorw, 10, 11, 12, 0),  // rorw a0, a1, a2
            (0x61f5d51b, Op::Roriw, 10, 11, 0, 31), // roriw a0, a1, 31
            (0x2875d513, Op::OrcB, 10, 11, 0, 0),   // orc.b a0, a1
            (0x6b85d513, Op::Rev8, 10, 11, 0, 0),   // rev8 a0, a1
            (0x48c59533, Op::Bclr, 10, 11, 12, 0),  // bclr a0, a1, a2
            (0x48c5d533, Op::Bext, 10, 11, 12, 0),  // bext a0, a1, a2
            (0x68c59533, Op::Binv, 10, 11, 12, 0),  // binv a0, a1, a2
            (0x28c59533, Op::Bset, 10, 11, 12, 0),  // bset a0, a1, a2
            (0x4bf59513, Op::Bclri, 10, 11, 0, 63), // bclri a0, a1, 63
            (0x4a85d513, Op::Bexti, 10, 11, 0, 40), // bexti a0, a1, 40
            (0x68059513, Op::Binvi, 10, 11, 0, 0),  // binvi a0, a1, 0
            (0x2a159513, Op::Bseti, 10, 11, 0, 33), // bseti a0, a1, 33
            (0x0ec5d533, Op::CzeroEqz, 10, 11, 12, 0), // .insn r 0x33, 5, 7, a0, a1, a2
            (0x0ec5f533, Op::CzeroNez, 10, 11, 12, 0), // .insn r 0x33, 7, 7, a0, a1, a2
            (0x02c5f553, Op::Fp, 0, 0, 0, 0),       // fadd.d fa0, fa1, fa2
            (0x00452507, Op::Fp, 0, 0, 0, 0),       // flw fa0, 4(a0)
            (0x00a13427, Op::Fp, 0, 0, 0, 0),       // fsd fa0, 8(sp)
            (0x68c5f543, Op::Fp, 0, 0, 0, 0),       // fmadd.s fa0, fa1, fa2, fa3
            (0x6ac5f54f, Op::Fp, 0, 0, 0, 0),       // fnmadd.d fa0, fa1, fa2, fa3
        ];
        for &(w, op, rd, rs1, rs2, imm) in table {
            let got = decode(w).unwrap_or_else(|| panic!("{w:#010x} did not decode"));
            if op == Op::Fp {
                assert_eq!(got.op, Op::Fp, "{w:#010x}");
                continue;
            }
            assert_eq!(
                got,
                Insn {
                    op,
                    rd,
                    rs1,
                    rs2,
                    imm
                },
                "{w:#010x}"
            );
        }
    }

    #[test]
    fn illegal_32_bit_encodings() {
        for w in [
            0x0000_0000u32,                  // a compressed parcel, not a 32-bit word
            0xffff_ffff,                     // opcode 0x7f (>= 80-bit encodings)
            0x0000_001f,                     // 48-bit encoding space
            0x0000_1067,                     // jalr with funct3 = 1
            0x0000_2063,                     // branch funct3 = 2
            0x0000_3063,                     // branch funct3 = 3
            0x0000_7003,                     // load funct3 = 7 (ldu does not exist)
            0x0000_4023,                     // store funct3 = 4
            0x0400_1013,                     // slli with imm[11:6] = 000001
            0x7000_5013,                     // srli/srai space, funct6 = 011100
            0x0200_101b,                     // slliw with shamt[5] set
            0x0200_501b,                     // srliw with shamt[5] set
            0x0400_0033,                     // OP funct7 = 0000010
            0x4000_1033,                     // OP funct7 = 0100000 funct3 = 1
            0x0810_403b,                     // pack-w space (zext.h with rs2 != 0)
            0x0000_2033 | (0b0000111 << 25), // czero space, funct3 = 2
            0x3020_0073,                     // mret (privileged)
            0x1050_0073,                     // wfi (privileged)
            0x0020_0073,                     // uret / reserved
            0x0000_4073,                     // SYSTEM funct3 = 4
            0x0000_002f,                     // AMO funct3 = 0
            0x1015_252f,                     // lr.w with rs2 != 0
            0x2800_202f,                     // AMO funct5 = 00101
            0x0030_200f,                     // CBO space, imm = 3 (unassigned)
            0x0055_200f,                     // CBO space, imm = 5 (unassigned)
            0x8005_200f,                     // CBO space, imm = 0x800
            0x0045_228f,                     // cbo.zero with rd = t0 (rd must be 0)
            0x0000_300f,                     // MISC-MEM funct3 = 3
            0x0000_000b,                     // custom-0
        ] {
            assert_eq!(decode(w), None, "{w:#010x} should be illegal");
        }
    }

    /// Each C instruction and the 32-bit instruction it expands to, both assembled by
    /// GNU as 2.40 (`-march=rv64gc`, the 32-bit forms under `.option norvc`).
    #[test]
    fn expands_every_compressed_instruction() {
        let table: &[(u16, u32)] = &[
            (0x1fe0, 0x3fc10413), // c.addi4spn s0, sp, 1020  -> addi s0, sp, 1020
            (0x005c, 0x00410793), // c.addi4spn a5, sp, 4     -> addi a5, sp, 4
            (0x3fe8, 0x0f87b507), // c.fld fa0, 248(a5)       -> fld fa0, 248(a5)
            (0x5ce8, 0x07c4a503), // c.lw a0, 124(s1)         -> lw a0, 124(s1)
            (0x42d0, 0x0046a603), // c.lw a2, 4(a3)           -> lw a2, 4(a3)
            (0x7d78, 0x0f853703), // c.ld a4, 248(a0)         -> ld a4, 248(a0)
            (0xa404, 0x00943427), // c.fsd fs1, 8(s0)         -> fsd fs1, 8(s0)
            (0xc13c, 0x04f52023), // c.sw a5, 64(a0)          -> sw a5, 64(a0)
            (0xe644, 0x08963423), // c.sd s1, 136(a2)         -> sd s1, 136(a2)
            (0x0001, 0x00000013), // c.nop                    -> addi x0, x0, 0
            (0x1501, 0xfe050513), // c.addi a0, -32           -> addi a0, a0, -32
            (0x0ffd, 0x01ff8f93), // c.addi t6, 31            -> addi t6, t6, 31
            (0x35fd, 0xfff5859b), // c.addiw a1, -1           -> addiw a1, a1, -1
            (0x5dbd, 0xfef00d93), // c.li s11, -17            -> addi s11, x0, -17
            (0x7101, 0xe0010113), // c.addi16sp sp, -512      -> addi sp, sp, -512
            (0x617d, 0x1f010113), // c.addi16sp sp, 496       -> addi sp, sp, 496
            (0x7281, 0xfffe02b7), // c.lui t0, 0xfffe0        -> lui t0, 0xfffe0
            (0x657d, 0x0001f537), // c.lui a0, 31             -> lui a0, 31
            (0x907d, 0x03f45413), // c.srli s0, 63            -> srli s0, s0, 63
            (0x8785, 0x4017d793), // c.srai a5, 1             -> srai a5, a5, 1
            (0x9ab1, 0xfec6f693), // c.andi a3, -20           -> andi a3, a3, -20
            (0x8c1d, 0x40f40433), // c.sub s0, a5             -> sub s0, s0, a5
            (0x8d2d, 0x00b54533), // c.xor a0, a1             -> xor a0, a0, a1
            (0x8cd1, 0x00c4e4b3), // c.or s1, a2              -> or s1, s1, a2
            (0x8f75, 0x00d77733), // c.and a4, a3             -> and a4, a4, a3
            (0x9d81, 0x408585bb), // c.subw a1, s0            -> subw a1, a1, s0
            (0x9e3d, 0x00f6063b), // c.addw a2, a5            -> addw a2, a2, a5
            (0xb001, 0x801ff06f), // c.j .-2048               -> jal x0, .-2048
            (0xaffd, 0x7fe0006f), // c.j .+2046               -> jal x0, .+2046
            (0xa46d, 0x2aa0006f), // c.j .+0x2aa              -> jal x0, .+0x2aa
            (0xd001, 0xf00400e3), // c.beqz s0, .-256         -> beq s0, x0, .-256
            (0xeffd, 0x0e079f63), // c.bnez a5, .+254         -> bne a5, x0, .+254
            (0xe5cd, 0x0a059563), // c.bnez a1, .+0xaa        -> bne a1, x0, .+0xaa
            (0x1e16, 0x025e1e13), // c.slli t3, 37            -> slli t3, t3, 37
            (0x31fe, 0x1f813187), // c.fldsp ft3, 504(sp)     -> fld ft3, 504(sp)
            (0x50fe, 0x0fc12083), // c.lwsp ra, 252(sp)       -> lw ra, 252(sp)
            (0x7ab2, 0x12813a83), // c.ldsp s5, 296(sp)       -> ld s5, 296(sp)
            (0x8302, 0x00030067), // c.jr t1                  -> jalr x0, 0(t1)
            (0x854e, 0x01300533), // c.mv a0, s3              -> add a0, x0, s3
            (0x9002, 0x00100073), // c.ebreak                 -> ebreak
            (0x9882, 0x000880e7), // c.jalr a7                -> jalr ra, 0(a7)
            (0x9ede, 0x017e8eb3), // c.add t4, s7             -> add t4, t4, s7
            (0xbbee, 0x1fb13827), // c.fsdsp fs11, 496(sp)    -> fsd fs11, 496(sp)
            (0xdffa, 0x0fe12e23), // c.swsp t5, 252(sp)       -> sw t5, 252(sp)
            (0xffc2, 0x1f013c23), // c.sdsp a6, 504(sp)       -> sd a6, 504(sp)
        ];
        for &(c, w) in table {
            assert_eq!(expand_compressed(c), Some(w), "{c:#06x}");
            assert_eq!(insn_len(c), 2);
        }
    }

    #[test]
    fn illegal_compressed_encodings() {
        for c in [
            0x0000u16, // all zero (c.addi4spn with nzuimm = 0)
            0x0004,    // c.addi4spn a1, sp, 0: nzuimm = 0 reserved
            0x8000,    // quadrant 0 funct3 = 100 (reserved / Zcb)
            0x2001,    // c.addiw x0: reserved
            0x6101,    // c.addi16sp sp, 0: reserved
            0x6501,    // c.lui a0, 0: reserved
            0x9c41,    // MISC-ALU reserved (bit 12 = 1, funct2 = 10)
            0x9c61,    // MISC-ALU reserved (bit 12 = 1, funct2 = 11)
            0x4002,    // c.lwsp x0: reserved
            0x6002,    // c.ldsp x0: reserved
            0x8002,    // c.jr x0: reserved
        ] {
            assert_eq!(expand_compressed(c), None, "{c:#06x} should be illegal");
        }
        // HINTs are legal and harmless.
        assert_eq!(expand_compressed(0x0005), Some(0x0010_0013)); // c.nop 1 -> addi x0, x0, 1
        assert_eq!(expand_compressed(0x0016), Some(0x0050_1013)); // c.slli x0, 5
        assert_eq!(expand_compressed(0x4081), Some(0x0000_0093)); // c.li x1, 0 -> addi ra, x0, 0
        // A 32-bit word is never a compressed instruction.
        assert_eq!(expand_compressed(0x0513), None);
        assert_eq!(insn_len(0x0513), 4);
    }

    /// Zicbop hints as GNU as 2.40 assembles them: ORIs writing x0, named by
    /// `prefetch_hint`; other ORIs (and ORI-shaped words with rd != 0) are not hints.
    #[test]
    fn prefetch_hints_are_oris_to_x0() {
        for (w, want) in [
            (0x0415_6013u32, Some(("prefetch.r", 64, 10))), // prefetch.r 64(a0)
            (0x0035_e013, Some(("prefetch.w", 0, 11))),     // prefetch.w 0(a1)
            (0x0206_6013, Some(("prefetch.i", 32, 12))),    // prefetch.i 32(a2)
            (0xfe15_6013, Some(("prefetch.r", -32, 10))),   // prefetch.r -32(a0)
            (0x0025_6013, None),                            // ori x0, a0, 2: imm[4:0] = 2
            (0x0415_6513, None),                            // ori a0, a0, 65
            (0x0415_4013, None),                            // xori x0, a0, 65
        ] {
            assert_eq!(prefetch_hint(w), want, "{w:#010x}");
            assert_eq!(
                decode(w).map(|i| i.op),
                Some(if w & 0x7000 == 0x6000 {
                    Op::Ori
                } else {
                    Op::Xori
                })
            );
        }
    }
}
