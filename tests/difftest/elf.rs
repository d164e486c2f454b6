//! Builds a static RV64 ELF executable that runs a batch of sequences. For each sequence a
//! prologue loads the initial state (scratch area, f0..f31, fcsr, x1..x31) from that
//! sequence's init record, the sequence runs, and an epilogue stores x1..x31, f0..f31, fcsr
//! and a copy of the scratch area into the sequence's dump record. At the end the program
//! writes all dump records to fd 1 and calls exit_group(0).
//!
//! Layout: one R+X segment (ELF headers, then code at CODE_BASE) and one R+W data segment at
//! DATA_BASE (scratch area, init records, dump records). All addresses stay below 2 GiB so
//! `lui`+`addi` reaches them.

use crate::enc::{self, *};
use crate::rvgen::{
    BASE_OFF, BASE_REG, DATA_BASE, Insn, SCRATCH, SCRATCH_SIZE, Sequence, encode_items,
};

pub const LOAD_BASE: u64 = 0x10000;
pub const CODE_OFF: u64 = 0x1000;
pub const CODE_BASE: u64 = LOAD_BASE + CODE_OFF;

/// Record layout (init and dump records have the same shape).
pub const REC_X: usize = 0;
pub const REC_F: usize = 256;
pub const REC_FCSR: usize = 512;
pub const REC_SCRATCH: usize = 520;
pub const REC_SIZE: usize = REC_SCRATCH + SCRATCH_SIZE;

/// Data segment: scratch at SCRATCH, init records after it, dump records after those.
fn init_addr(i: usize) -> u64 {
    SCRATCH + SCRATCH_SIZE as u64 + (i * REC_SIZE) as u64
}
fn dump_base(n: usize) -> u64 {
    init_addr(n)
}
fn dump_addr(n: usize, i: usize) -> u64 {
    dump_base(n) + (i * REC_SIZE) as u64
}

/// Where each sequence's instructions start in the code (for reports).
pub struct Built {
    pub elf: Vec<u8>,
    pub seq_code_addr: Vec<u64>,
}

struct Code {
    words: Vec<u8>,
}

impl Code {
    fn pc(&self) -> u64 {
        CODE_BASE + self.words.len() as u64
    }
    fn w(&mut self, bits: u32) {
        self.words.extend_from_slice(&bits.to_le_bytes());
    }
    fn insn(&mut self, i: &Insn) {
        if i.len == 2 {
            self.words.extend_from_slice(&(i.bits as u16).to_le_bytes());
        } else {
            self.w(i.bits);
        }
    }
    fn li_addr(&mut self, rd: u32, addr: u64) {
        for w in enc::li_addr(rd, addr) {
            self.w(w);
        }
    }
    /// `jal ra, target`
    fn call(&mut self, target: u64) {
        let off = target as i64 - self.pc() as i64;
        self.w(enc::j(1, off as i32));
    }
}

const X_RESTORE: [u32; 29] = [
    1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
    28, 29, 30, 31,
];

/// Address of the pass counter (data segment, below the scratch area).
const PASS_COUNTER: u64 = DATA_BASE;

/// Builds the ELF for `seqs`; the output is `seqs.len() * REC_SIZE` bytes of dump records.
pub fn build(seqs: &[Sequence]) -> Built {
    build_passes(seqs, 1)
}

/// Like [`build`], but runs all sequences `passes` times (each pass reloads every initial
/// state, so every pass must produce the same dumps; the last one is written). Later passes
/// run already-translated (and, under the auto tier, freshly compiled) blocks.
pub fn build_passes(seqs: &[Sequence], passes: u64) -> Built {
    assert!(passes >= 1);
    let n = seqs.len();
    let mut c = Code { words: Vec::new() };
    // Entry: jump over the copy routine.
    c.w(enc::j(0, 8 + 7 * 4));
    // copy routine at CODE_BASE+4: copies SCRATCH_SIZE bytes from x9 to x10 (clobbers x11, x12)
    let copy = c.pc();
    c.w(enc::i(OP_IMM, 0, 11, 0, (SCRATCH_SIZE / 8) as i32)); // addi x11,x0,n
    let lp = c.pc();
    c.w(enc::i(LOAD, 3, 12, 9, 0)); // ld x12,0(x9)
    c.w(enc::s(STORE, 3, 10, 12, 0)); // sd x12,0(x10)
    c.w(enc::i(OP_IMM, 0, 9, 9, 8));
    c.w(enc::i(OP_IMM, 0, 10, 10, 8));
    c.w(enc::i(OP_IMM, 0, 11, 11, -1));
    let back = lp as i64 - c.pc() as i64;
    c.w(enc::b(1, 11, 0, back as i32)); // bnez x11, lp
    c.w(enc::i(JALR, 0, 0, 1, 0)); // ret
    assert_eq!(c.pc(), CODE_BASE + 36);
    let mut seq_code_addr = Vec::with_capacity(n);
    let first_seq = c.pc();
    for (i, seq) in seqs.iter().enumerate() {
        // ---- prologue ----
        c.li_addr(10, SCRATCH);
        c.w(enc::amo(0x03, false, false, 3, 0, 10, 0)); // sc.d x0,x0,(x10): drop any reservation
        c.li_addr(BASE_REG, init_addr(i));
        c.w(enc::i(OP_IMM, 0, 9, BASE_REG, REC_SCRATCH as i32)); // x9 = &init.scratch
        c.call(copy);
        for r in 0..32 {
            c.w(enc::i(
                LOAD_FP,
                3,
                r,
                BASE_REG,
                (REC_F + 8 * r as usize) as i32,
            ));
        }
        c.w(enc::i(LOAD, 3, 9, BASE_REG, REC_FCSR as i32));
        c.w(enc::csr(1, 0, 9, 3)); // csrrw x0,fcsr,x9
        for &r in &X_RESTORE {
            c.w(enc::i(
                LOAD,
                3,
                r,
                BASE_REG,
                (REC_X + 8 * r as usize) as i32,
            ));
        }
        c.li_addr(2, SCRATCH);
        c.li_addr(BASE_REG, SCRATCH + BASE_OFF);
        // ---- the sequence ----
        seq_code_addr.push(c.pc());
        for insn in encode_items(&seq.items) {
            c.insn(&insn);
        }
        // ---- epilogue ----
        c.li_addr(BASE_REG, dump_addr(n, i));
        for r in 1..32u32 {
            if r != BASE_REG {
                c.w(enc::s(
                    STORE,
                    3,
                    BASE_REG,
                    r,
                    (REC_X + 8 * r as usize) as i32,
                ));
            }
        }
        for r in 0..32u32 {
            c.w(enc::s(
                STORE_FP,
                3,
                BASE_REG,
                r,
                (REC_F + 8 * r as usize) as i32,
            ));
        }
        c.w(enc::csr(2, 9, 0, 3)); // csrrs x9,fcsr,x0
        c.w(enc::s(STORE, 3, BASE_REG, 9, REC_FCSR as i32));
        c.li_addr(9, SCRATCH);
        c.w(enc::i(OP_IMM, 0, 10, BASE_REG, REC_SCRATCH as i32));
        c.call(copy);
    }
    // ---- another pass? ----
    c.li_addr(9, PASS_COUNTER);
    c.w(enc::i(LOAD, 3, 10, 9, 0)); // ld x10,0(x9)
    c.w(enc::i(OP_IMM, 0, 10, 10, -1));
    c.w(enc::s(STORE, 3, 9, 10, 0)); // sd x10,0(x9)
    c.w(enc::b(0, 10, 0, 8)); // beqz x10, +8
    let off = first_seq as i64 - c.pc() as i64;
    c.w(enc::j(0, off as i32)); // j first_seq
    // ---- write(1, dumps, len) in a loop, then exit_group(0) ----
    let len = (n * REC_SIZE) as u64;
    c.li_addr(11, dump_base(n)); // a1 = buf
    c.li_addr(12, len); // a2 = remaining
    let wl = c.pc();
    c.w(enc::i(OP_IMM, 0, 17, 0, 64)); // a7 = SYS_write
    c.w(enc::i(OP_IMM, 0, 10, 0, 1)); // a0 = 1
    c.w(0x0000_0073); // ecall
    // if a0 <= 0: exit_group(1)
    let fail_branch_pos = c.words.len();
    c.w(0); // placeholder: bge x0, a0, fail
    c.w(enc::r(OP, 0, 0, 11, 11, 10)); // a1 += a0
    c.w(enc::r(OP, 0, 0x20, 12, 12, 10)); // a2 -= a0
    let back = wl as i64 - c.pc() as i64;
    c.w(enc::b(1, 12, 0, back as i32)); // bnez a2, wl
    c.w(enc::i(OP_IMM, 0, 10, 0, 0)); // a0 = 0
    let exit = c.pc();
    c.w(enc::i(OP_IMM, 0, 17, 0, 94)); // a7 = SYS_exit_group
    c.w(0x0000_0073);
    let fail = c.pc();
    c.w(enc::i(OP_IMM, 0, 10, 0, 1));
    let off = exit as i64 - c.pc() as i64;
    c.w(enc::j(0, off as i32));
    let fb_pc = CODE_BASE + fail_branch_pos as u64;
    let fb = enc::b(5, 0, 10, (fail - fb_pc) as i32);
    c.words[fail_branch_pos..fail_branch_pos + 4].copy_from_slice(&fb.to_le_bytes());

    // ---- data segment ----
    let mut data = vec![0u8; (dump_addr(n, n) - DATA_BASE) as usize];
    let pc_off = (PASS_COUNTER - DATA_BASE) as usize;
    data[pc_off..pc_off + 8].copy_from_slice(&passes.to_le_bytes());
    for (i, seq) in seqs.iter().enumerate() {
        let o = (init_addr(i) - DATA_BASE) as usize;
        let rec = &mut data[o..o + REC_SIZE];
        for r in 0..32 {
            rec[REC_X + 8 * r..REC_X + 8 * r + 8].copy_from_slice(&seq.init.x[r].to_le_bytes());
            rec[REC_F + 8 * r..REC_F + 8 * r + 8].copy_from_slice(&seq.init.f[r].to_le_bytes());
        }
        rec[REC_FCSR..REC_FCSR + 8].copy_from_slice(&seq.init.fcsr.to_le_bytes());
        rec[REC_SCRATCH..].copy_from_slice(&seq.init.scratch);
    }
    Built {
        elf: write_elf(&c.words, &data),
        seq_code_addr,
    }
}

/// ELF64 little-endian RISC-V executable with a text and a data PT_LOAD.
fn write_elf(code: &[u8], data: &[u8]) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    let text_filesz = CODE_OFF as usize + code.len();
    let data_off = text_filesz.div_ceil(0x1000) * 0x1000;
    assert!(
        LOAD_BASE + (text_filesz as u64) < DATA_BASE,
        "code overlaps data"
    );
    let mut f = vec![0u8; data_off + data.len()];
    // e_ident
    f[0..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little endian
    f[6] = 1; // EV_CURRENT
    f[7] = 0; // System V ABI
    let put16 = |f: &mut Vec<u8>, o: usize, v: u16| f[o..o + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |f: &mut Vec<u8>, o: usize, v: u32| f[o..o + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |f: &mut Vec<u8>, o: usize, v: u64| f[o..o + 8].copy_from_slice(&v.to_le_bytes());
    put16(&mut f, 16, 2); // ET_EXEC
    put16(&mut f, 18, 243); // EM_RISCV
    put32(&mut f, 20, 1);
    put64(&mut f, 24, CODE_BASE); // e_entry
    put64(&mut f, 32, EHDR as u64); // e_phoff
    put64(&mut f, 40, 0); // e_shoff
    put32(&mut f, 48, 0x0005); // e_flags: RVC | double-float ABI
    put16(&mut f, 52, EHDR as u16);
    put16(&mut f, 54, PHDR as u16);
    put16(&mut f, 56, 2); // e_phnum
    put16(&mut f, 58, 64); // e_shentsize
    put16(&mut f, 60, 0);
    put16(&mut f, 62, 0);
    let segs = [
        (5u32, 0u64, LOAD_BASE, text_filesz as u64), // R+X
        (6u32, data_off as u64, DATA_BASE, data.len() as u64), // R+W
    ];
    for (k, &(flags, off, vaddr, size)) in segs.iter().enumerate() {
        let p = EHDR + k * PHDR;
        put32(&mut f, p, 1); // PT_LOAD
        put32(&mut f, p + 4, flags);
        put64(&mut f, p + 8, off);
        put64(&mut f, p + 16, vaddr);
        put64(&mut f, p + 24, vaddr);
        put64(&mut f, p + 32, size);
        put64(&mut f, p + 40, size);
        put64(&mut f, p + 48, 0x1000);
    }
    f[CODE_OFF as usize..text_filesz].copy_from_slice(code);
    f[data_off..].copy_from_slice(data);
    f
}
