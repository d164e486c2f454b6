//! RISC-V instruction encoders (base formats, R4, AMO, and the RVC 16-bit formats) used by
//! the difftest generator and ELF writer. Each takes already-range-checked fields; callers
//! choose immediates inside the encodable range (debug assertions check it).

pub const OP: u32 = 0x33;
pub const OP_32: u32 = 0x3b;
pub const OP_IMM: u32 = 0x13;
pub const OP_IMM_32: u32 = 0x1b;
pub const LUI: u32 = 0x37;
pub const AUIPC: u32 = 0x17;
pub const JAL: u32 = 0x6f;
pub const JALR: u32 = 0x67;
pub const BRANCH: u32 = 0x63;
pub const LOAD: u32 = 0x03;
pub const STORE: u32 = 0x23;
pub const AMO: u32 = 0x2f;
pub const LOAD_FP: u32 = 0x07;
pub const STORE_FP: u32 = 0x27;
pub const OP_FP: u32 = 0x53;
pub const MADD: u32 = 0x43;
pub const MSUB: u32 = 0x47;
pub const NMSUB: u32 = 0x4b;
pub const NMADD: u32 = 0x4f;
pub const SYSTEM: u32 = 0x73;

fn fits_signed(v: i64, bits: u32) -> bool {
    let lim = 1i64 << (bits - 1);
    (-lim..lim).contains(&v)
}

pub fn r(op: u32, f3: u32, f7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    debug_assert!(rd < 32 && rs1 < 32 && rs2 < 32 && f3 < 8 && f7 < 128);
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}

pub fn i(op: u32, f3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
    debug_assert!(fits_signed(imm as i64, 12), "imm {imm}");
    (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}

pub fn s(op: u32, f3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    debug_assert!(fits_signed(imm as i64, 12), "imm {imm}");
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op
}

pub fn b(f3: u32, rs1: u32, rs2: u32, off: i32) -> u32 {
    debug_assert!(off % 2 == 0 && fits_signed(off as i64, 13), "off {off}");
    let o = off as u32;
    (((o >> 12) & 1) << 31)
        | (((o >> 5) & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (f3 << 12)
        | (((o >> 1) & 0xf) << 8)
        | (((o >> 11) & 1) << 7)
        | BRANCH
}

/// U-type; `imm20` is the 20-bit field (bits 31:12 of the result value).
pub fn u(op: u32, rd: u32, imm20: u32) -> u32 {
    debug_assert!(imm20 < (1 << 20));
    (imm20 << 12) | (rd << 7) | op
}

pub fn j(rd: u32, off: i32) -> u32 {
    debug_assert!(off % 2 == 0 && fits_signed(off as i64, 21), "off {off}");
    let o = off as u32;
    (((o >> 20) & 1) << 31)
        | (((o >> 1) & 0x3ff) << 21)
        | (((o >> 11) & 1) << 20)
        | (((o >> 12) & 0xff) << 12)
        | (rd << 7)
        | JAL
}

/// Fused multiply-add family: `rs3[31:27] fmt[26:25] rs2 rs1 rm rd opcode`.
pub fn r4(op: u32, fmt: u32, rm: u32, rd: u32, rs1: u32, rs2: u32, rs3: u32) -> u32 {
    (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | op
}

pub fn amo(f5: u32, aq: bool, rl: bool, width_f3: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    let f7 = (f5 << 2) | ((aq as u32) << 1) | (rl as u32);
    r(AMO, width_f3, f7, rd, rs1, rs2)
}

pub fn csr(f3: u32, rd: u32, rs1_or_uimm: u32, csr: u32) -> u32 {
    (csr << 20) | (rs1_or_uimm << 15) | (f3 << 12) | (rd << 7) | SYSTEM
}

/// `lui rd, hi; addi rd, rd, lo` materialising a 32-bit address below 0x7fff_f800.
pub fn li_addr(rd: u32, addr: u64) -> [u32; 2] {
    assert!(
        addr < 0x7fff_f800,
        "address {addr:#x} not reachable with lui+addi"
    );
    let hi = ((addr + 0x800) >> 12) as u32;
    let lo = (addr as i64 - ((hi as i64) << 12)) as i32;
    [u(LUI, rd, hi & 0xfffff), i(OP_IMM, 0, rd, rd, lo)]
}

// ---- RVC (16-bit) formats. `r3` arguments are full register numbers in x8..x15. ----

fn c3(reg: u32) -> u32 {
    debug_assert!((8..16).contains(&reg), "x{reg} not a compressed register");
    reg - 8
}

/// CI: funct3 | imm[5] | rd/rs1 | imm[4:0] | op, with `imm6` the raw 6-bit field.
pub fn ci(f3: u32, op: u32, rd: u32, imm6: u32) -> u16 {
    debug_assert!(imm6 < 64);
    ((f3 << 13) | (((imm6 >> 5) & 1) << 12) | (rd << 7) | ((imm6 & 0x1f) << 2) | op) as u16
}

/// CSS: funct3 | imm[12:7] field (6 bits, already permuted) | rs2 | op.
pub fn css(f3: u32, op: u32, field6: u32, rs2: u32) -> u16 {
    ((f3 << 13) | (field6 << 7) | (rs2 << 2) | op) as u16
}

/// c.addi4spn: nzuimm[5:4|9:6|2|3] in bits 12:5.
pub fn c_addi4spn(rd: u32, nzuimm: u32) -> u16 {
    debug_assert!(nzuimm != 0 && nzuimm.is_multiple_of(4) && nzuimm < 1024);
    let f = (((nzuimm >> 4) & 3) << 6)
        | (((nzuimm >> 6) & 0xf) << 2)
        | (((nzuimm >> 2) & 1) << 1)
        | ((nzuimm >> 3) & 1);
    ((f << 5) | (c3(rd) << 2)) as u16
}

/// CL/CS with 8-byte scaled offset (c.ld, c.sd, c.fld, c.fsd): uimm[5:3] at 12:10, uimm[7:6] at 6:5.
pub fn cl_d(f3: u32, rs1: u32, rd_rs2: u32, uimm: u32) -> u16 {
    debug_assert!(uimm.is_multiple_of(8) && uimm < 256);
    ((f3 << 13)
        | (((uimm >> 3) & 7) << 10)
        | (c3(rs1) << 7)
        | (((uimm >> 6) & 3) << 5)
        | (c3(rd_rs2) << 2)) as u16
}

/// CL/CS with 4-byte scaled offset (c.lw, c.sw): uimm[5:3] at 12:10, uimm[2] at 6, uimm[6] at 5.
pub fn cl_w(f3: u32, rs1: u32, rd_rs2: u32, uimm: u32) -> u16 {
    debug_assert!(uimm.is_multiple_of(4) && uimm < 128);
    ((f3 << 13)
        | (((uimm >> 3) & 7) << 10)
        | (c3(rs1) << 7)
        | (((uimm >> 2) & 1) << 6)
        | (((uimm >> 6) & 1) << 5)
        | (c3(rd_rs2) << 2)) as u16
}

/// Quadrant-1 funct3=100 ALU forms on rd' (c.srli=0, c.srai=1, c.andi=2) with a 6-bit immediate.
pub fn cb_alu(kind: u32, rd: u32, imm6: u32) -> u16 {
    ((0b100 << 13)
        | (((imm6 >> 5) & 1) << 12)
        | (kind << 10)
        | (c3(rd) << 7)
        | ((imm6 & 0x1f) << 2)
        | 1) as u16
}

/// CA: c.sub/xor/or/and (w=false, f2=0..3), c.subw/addw (w=true, f2=0..1).
pub fn ca(w: bool, f2: u32, rd: u32, rs2: u32) -> u16 {
    ((0b100011 << 10) | ((w as u32) << 12) | (c3(rd) << 7) | (f2 << 5) | (c3(rs2) << 2) | 1) as u16
}

/// c.j: offset[11|4|9:8|10|6|7|3:1|5] in bits 12:2.
pub fn c_j(off: i32) -> u16 {
    debug_assert!(off % 2 == 0 && fits_signed(off as i64, 12), "off {off}");
    let o = off as u32;
    let f = (((o >> 11) & 1) << 10)
        | (((o >> 4) & 1) << 9)
        | (((o >> 8) & 3) << 7)
        | (((o >> 10) & 1) << 6)
        | (((o >> 6) & 1) << 5)
        | (((o >> 7) & 1) << 4)
        | (((o >> 1) & 7) << 1)
        | ((o >> 5) & 1);
    ((0b101 << 13) | (f << 2) | 1) as u16
}

/// c.beqz (nez=false) / c.bnez: offset[8|4:3] at 12:10, offset[7:6|2:1|5] at 6:2.
pub fn c_bz(nez: bool, rs1: u32, off: i32) -> u16 {
    debug_assert!(off % 2 == 0 && fits_signed(off as i64, 9), "off {off}");
    let o = off as u32;
    let hi = (((o >> 8) & 1) << 2) | ((o >> 3) & 3);
    let lo = (((o >> 6) & 3) << 3) | (((o >> 1) & 3) << 1) | ((o >> 5) & 1);
    let f3 = if nez { 0b111 } else { 0b110 };
    ((f3 << 13) | (hi << 10) | (c3(rs1) << 7) | (lo << 2) | 1) as u16
}

/// c.mv (add=false) / c.add: 100 | bit12 | rd | rs2 | 10.
pub fn c_mv_add(add: bool, rd: u32, rs2: u32) -> u16 {
    ((0b100 << 13) | ((add as u32) << 12) | (rd << 7) | (rs2 << 2) | 2) as u16
}

/// c.lwsp (uimm[5] at 12, uimm[4:2|7:6] at 6:2) raw field.
pub fn c_lwsp_field(uimm: u32) -> u32 {
    debug_assert!(uimm.is_multiple_of(4) && uimm < 256);
    (((uimm >> 5) & 1) << 5) | (((uimm >> 2) & 7) << 2) | ((uimm >> 6) & 3)
}

/// c.ldsp/c.fldsp (uimm[5] at 12, uimm[4:3|8:6] at 6:2) raw field.
pub fn c_ldsp_field(uimm: u32) -> u32 {
    debug_assert!(uimm.is_multiple_of(8) && uimm < 512);
    (((uimm >> 5) & 1) << 5) | (((uimm >> 3) & 3) << 3) | ((uimm >> 6) & 7)
}

/// c.swsp: uimm[5:2|7:6] in bits 12:7.
pub fn c_swsp_field(uimm: u32) -> u32 {
    debug_assert!(uimm.is_multiple_of(4) && uimm < 256);
    (((uimm >> 2) & 0xf) << 2) | ((uimm >> 6) & 3)
}

/// c.sdsp/c.fsdsp: uimm[5:3|8:6] in bits 12:7.
pub fn c_sdsp_field(uimm: u32) -> u32 {
    debug_assert!(uimm.is_multiple_of(8) && uimm < 512);
    (((uimm >> 3) & 7) << 3) | ((uimm >> 6) & 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference encodings from the RISC-V unprivileged spec's opcode map, checked by hand.
    #[test]
    fn known_encodings() {
        assert_eq!(r(OP, 0, 0, 1, 2, 3), 0x003100b3); // add x1,x2,x3
        assert_eq!(i(OP_IMM, 0, 5, 0, -1), 0xfff00293); // addi x5,x0,-1
        assert_eq!(s(STORE, 3, 8, 9, -16), 0xfe943823); // sd x9,-16(x8)
        assert_eq!(b(0, 0, 0, 8), 0x00000463); // beq x0,x0,.+8
        assert_eq!(j(0, 8), 0x0080006f); // jal x0,.+8
        assert_eq!(u(LUI, 10, 0x12345), 0x12345537); // lui x10,0x12345
        assert_eq!(c_j(4), 0xa011); // c.j .+4
        assert_eq!(c_mv_add(false, 10, 11), 0x852e); // c.mv x10,x11
        assert_eq!(ci(0b010, 1, 10, 1), 0x4505); // c.li x10,1
        assert_eq!(c_addi4spn(8, 4), 0x0040); // c.addi4spn x8,sp,4
        assert_eq!(csr(2, 5, 0, 1), 0x001022f3); // csrrs x5,fflags,x0 (frflags t0)
    }
}
