//! The RISC-V 64 integer instruction decoder: field extraction for the base formats
//! (R/I/S/B/U/J), expansion of 16-bit compressed (C) instructions into their 32-bit
//! equivalents, and decoding of 32-bit words into a named [`Op`] with its operands.
//!
//! Covered: RV64I, M, A, C, Zicsr, Zifencei, Zba, Zbb, Zbs, Zicond. The F/D major opcodes
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
    /// fence (any predecessor/successor set, fence.tso, pause).
    Fence,
    Ecall,
    Ebreak,
    // Zifencei
    FenceI,
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
            0 => Some(Insn::new(Op::Fence, 0, 0, 0, 0)),
            1 => Some(Insn::new(Op::FenceI, 0, 0, 0, 0)),
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
