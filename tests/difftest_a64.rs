//! Differential tester for the AArch64 integer translator: random sequences of A64 integer
//! data-processing instructions (add/sub immediate, shifted and extended register, with
//! carry; logical immediate and shifted register; move wide; bitfield; extract; conditional
//! compare/select; 1-, 2- and 3-source) over registers x0..x15 and NZCV, with random inputs
//! from a set of edge values. Each batch becomes one static program (`.inst` words,
//! assembled with aarch64-linux-gnu-gcc) that dumps x0..x15 and NZCV after every sequence;
//! `heron run --tier interp`, `--tier jit`, `--tier auto --jit-threshold 1` and
//! `qemu-aarch64` must print the same bytes.
//!
//! Knobs: HERON_A64_DIFFTEST_BATCHES (default 3), HERON_A64_DIFFTEST_SEED.

mod common;
use common::*;
use heron_aarch64::translate::dp::decode_bit_masks;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

/// xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bits(&mut self, n: u32) -> u32 {
        (self.next() & ((1u64 << n) - 1)) as u32
    }
    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

const EDGES: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_ffff_fffe,
    0x0123_4567_89ab_cdef,
    0xfedc_ba98_7654_3210,
    63,
    64,
    32,
];

fn value(r: &mut Rng) -> u64 {
    if r.below(3) == 0 {
        r.next()
    } else {
        EDGES[r.below(EDGES.len() as u64) as usize]
    }
}

/// A register field: x0..x15, or 31 (XZR) when `zr` allows it.
fn reg(r: &mut Rng, zr: bool) -> u32 {
    if zr && r.below(8) == 0 { 31 } else { r.bits(4) }
}

/// One random, valid integer data-processing instruction.
fn insn(r: &mut Rng) -> u32 {
    let sf = r.bits(1);
    let rd = reg(r, true);
    let rn = reg(r, true);
    let rm = reg(r, true);
    loop {
        let w = match r.below(16) {
            0 => {
                // add/sub immediate (Rn/Rd 31 would be SP: use x0..x15)
                let s = r.bits(1);
                sf << 31
                    | r.bits(1) << 30
                    | s << 29
                    | 0b100010 << 23
                    | r.bits(1) << 22
                    | r.bits(12) << 10
                    | reg(r, false) << 5
                    | if s == 1 { rd } else { reg(r, false) }
            }
            1 => {
                // logical immediate
                let n = if sf == 1 { r.bits(1) } else { 0 };
                let immr = r.bits(6);
                let imms = r.bits(6);
                if decode_bit_masks(n, imms, immr, if sf == 1 { 64 } else { 32 }).is_none() {
                    continue;
                }
                let opc = r.bits(2);
                sf << 31
                    | opc << 29
                    | 0b100100 << 23
                    | n << 22
                    | immr << 16
                    | imms << 10
                    | rn << 5
                    | if opc == 3 { rd } else { reg(r, false) }
            }
            2 => {
                // move wide (MOVN, MOVZ, MOVK)
                let opc = [0, 2, 3][r.below(3) as usize];
                let hw = if sf == 1 { r.bits(2) } else { r.bits(1) };
                sf << 31 | opc << 29 | 0b100101 << 23 | hw << 21 | r.bits(16) << 5 | rd
            }
            3 => {
                // bitfield
                let opc = r.bits(2) % 3;
                let (immr, imms) = if sf == 1 {
                    (r.bits(6), r.bits(6))
                } else {
                    (r.bits(5), r.bits(5))
                };
                sf << 31
                    | opc << 29
                    | 0b100110 << 23
                    | sf << 22
                    | immr << 16
                    | imms << 10
                    | rn << 5
                    | rd
            }
            4 => {
                // extract
                let imms = if sf == 1 { r.bits(6) } else { r.bits(5) };
                sf << 31 | 0b100111 << 23 | sf << 22 | rm << 16 | imms << 10 | rn << 5 | rd
            }
            5 => {
                // logical (shifted register)
                let imm6 = if sf == 1 { r.bits(6) } else { r.bits(5) };
                sf << 31
                    | r.bits(2) << 29
                    | 0b01010 << 24
                    | r.bits(2) << 22
                    | r.bits(1) << 21
                    | rm << 16
                    | imm6 << 10
                    | rn << 5
                    | rd
            }
            6 => {
                // add/sub (shifted register)
                let imm6 = if sf == 1 { r.bits(6) } else { r.bits(5) };
                sf << 31
                    | r.bits(2) << 29
                    | 0b01011 << 24
                    | (r.bits(2) % 3) << 22
                    | rm << 16
                    | imm6 << 10
                    | rn << 5
                    | rd
            }
            7 => {
                // add/sub (extended register): Rn and (without S) Rd are SP for 31
                let s = r.bits(1);
                sf << 31
                    | r.bits(1) << 30
                    | s << 29
                    | 0b01011001 << 21
                    | rm << 16
                    | r.bits(3) << 13
                    | (r.below(5) as u32) << 10
                    | reg(r, false) << 5
                    | if s == 1 { rd } else { reg(r, false) }
            }
            8 => {
                // adc/adcs/sbc/sbcs
                sf << 31 | r.bits(2) << 29 | 0b11010000 << 21 | rm << 16 | rn << 5 | rd
            }
            9 => {
                // ccmn/ccmp, register or immediate
                sf << 31
                    | r.bits(1) << 30
                    | 1 << 29
                    | 0b11010010 << 21
                    | r.bits(5) << 16
                    | r.bits(4) << 12
                    | r.bits(1) << 11
                    | rn << 5
                    | r.bits(4)
            }
            10 => {
                // csel/csinc/csinv/csneg
                sf << 31
                    | r.bits(1) << 30
                    | 0b11010100 << 21
                    | rm << 16
                    | r.bits(4) << 12
                    | r.bits(1) << 10
                    | rn << 5
                    | rd
            }
            11 => {
                // 2-source: udiv, sdiv, lslv, lsrv, asrv, rorv
                let op = [2, 3, 8, 9, 10, 11][r.below(6) as usize];
                sf << 31 | 0b11010110 << 21 | rm << 16 | op << 10 | rn << 5 | rd
            }
            12 => {
                // 1-source: rbit, rev16, rev32/rev, rev (64), clz, cls
                let op = r.below(6) as u32;
                if op == 3 && sf == 0 {
                    continue;
                }
                sf << 31 | 1 << 30 | 0b11010110 << 21 | op << 10 | rn << 5 | rd
            }
            13 => {
                // madd/msub
                sf << 31
                    | 0b11011 << 24
                    | rm << 16
                    | r.bits(1) << 15
                    | reg(r, true) << 10
                    | rn << 5
                    | rd
            }
            14 => {
                // smaddl/smsubl/umaddl/umsubl, smulh/umulh (64-bit only)
                let op31 = [1, 5, 2, 6][r.below(4) as usize];
                let o0 = if op31 == 2 || op31 == 6 { 0 } else { r.bits(1) };
                let ra = if o0 == 0 && (op31 == 2 || op31 == 6) {
                    31
                } else {
                    reg(r, true)
                };
                1 << 31 | 0b11011 << 24 | op31 << 21 | rm << 16 | o0 << 15 | ra << 10 | rn << 5 | rd
            }
            _ => {
                // mrs/msr nzcv round trip through a register
                if r.bool() {
                    0xd53b_4200 | rd // mrs xd, nzcv
                } else {
                    0xd51b_4200 | rn // msr nzcv, xn
                }
            }
        };
        return w;
    }
}

/// Assembly of one batch: `seqs` sequences of about `len` instructions.
fn batch(r: &mut Rng, seqs: usize, len: usize) -> String {
    let mut text =
        String::from(".text\n.globl _start\n_start:\n adrp x28, buf\n add x28, x28, :lo12:buf\n");
    let mut data = String::from(".data\n.balign 8\n");
    for i in 0..seqs {
        let _ = writeln!(text, " adr x16, init{i}");
        for p in 0..8 {
            let _ = writeln!(text, " ldp x{}, x{}, [x16, #{}]", 2 * p, 2 * p + 1, 16 * p);
        }
        let _ = writeln!(text, " ldr x17, [x16, #128]\n msr nzcv, x17");
        for _ in 0..len {
            let _ = writeln!(text, " .inst {:#010x}", insn(r));
        }
        for p in 0..8 {
            let _ = writeln!(text, " stp x{}, x{}, [x28, #{}]", 2 * p, 2 * p + 1, 16 * p);
        }
        let _ = writeln!(
            text,
            " mrs x17, nzcv\n str x17, [x28, #128]\n mov x0, #1\n mov x1, x28\n mov x2, #136\n mov x8, #64\n svc #0"
        );
        let _ = write!(data, "init{i}: .quad ");
        for _ in 0..16 {
            let _ = write!(data, "{:#x}, ", value(r));
        }
        let _ = writeln!(data, "{:#x}", r.bits(4) << 28);
    }
    text.push_str(" mov x0, #0\n mov x8, #93\n svc #0\n");
    format!("{text}{data}.bss\n.balign 16\nbuf: .skip 256\n")
}

#[test]
fn a64_integer_difftest() {
    if which("aarch64-linux-gnu-gcc").is_none() {
        panic!("aarch64-linux-gnu-gcc is not installed: run scripts/install-deps.sh");
    }
    let seed = std::env::var("HERON_A64_DIFFTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let batches: usize = std::env::var("HERON_A64_DIFFTEST_BATCHES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    eprintln!("a64 difftest: seed {seed} (HERON_A64_DIFFTEST_SEED), {batches} batches");
    let mut r = Rng(seed);
    let dir = temp_dir("a64-difftest");
    let mut compared = 0;
    for b in 0..batches {
        let src = dir.join(format!("batch{b}.S"));
        let exe = dir.join(format!("batch{b}"));
        std::fs::write(&src, batch(&mut r, 150, 20)).expect("write batch");
        let st = Command::new("aarch64-linux-gnu-gcc")
            .args(["-nostdlib", "-static", "-Wl,--build-id=none", "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .expect("run aarch64-linux-gnu-gcc");
        assert!(st.success(), "assembling {}", src.display());
        let g = Guest::new(exe.clone());
        let mut outs: Vec<(String, Outcome)> = Vec::new();
        if let Some(q) = run_qemu(&g) {
            outs.push(("qemu".into(), q));
        }
        for (name, extra) in [
            ("interp", vec!["--tier", "interp"]),
            ("jit", vec!["--tier", "jit"]),
            ("auto", vec!["--tier", "auto", "--jit-threshold", "1"]),
        ] {
            let mut cmd = Command::new(heron());
            cmd.arg("run").args(&extra).arg(&exe);
            outs.push((name.into(), run_command(cmd, b"", Duration::from_secs(120))));
        }
        let (rn, reference) = &outs[0];
        assert_eq!(
            reference.status,
            Status::Exit(0),
            "{rn} failed on batch {b}"
        );
        for (n, o) in &outs[1..] {
            if o.stdout != reference.stdout || o.status != reference.status {
                let rec = 136;
                let first = o
                    .stdout
                    .chunks(rec)
                    .zip(reference.stdout.chunks(rec))
                    .position(|(a, b)| a != b);
                panic!(
                    "batch {b} (seed {seed}, kept in {}): {n} differs from {rn} at sequence \
                     {first:?}; status {} vs {}\n{}",
                    dir.display(),
                    o.status,
                    reference.status,
                    o.stderr_str()
                );
            }
        }
        compared += reference.stdout.len() / 136;
    }
    eprintln!("a64 difftest: {compared} sequences agree");
    let _ = std::fs::remove_dir_all(&dir);
}
