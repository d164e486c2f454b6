//! Differential test of [`super::exec_any`] against qemu-aarch64 (`-cpu cortex-a72`: Armv8.0
//! with AES/SHA1/SHA2/PMULL/CRC32, the feature set this frontend advertises). A generated
//! static guest program runs each instruction word on several register states (all 32
//! V registers, x0..x15, FPCR, NZCV) and dumps the resulting registers, FPSR, NZCV and
//! whether it raised SIGILL; the test replays the same cases through the executor and
//! compares everything. Skipped (with a message) when the cross assembler or qemu-aarch64
//! is not installed.

use super::tests::{Runner, Tier, block_of};
use super::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

const IN_SIZE: usize = 512 + 128 + 24;
const OUT_SIZE: usize = 512 + 128 + 24;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An FP-interesting 32- or 64-bit pattern.
fn fp_value(r: &mut Rng, bits: u32) -> u64 {
    let (mant, expb) = match bits {
        64 => (52, 11),
        32 => (23, 8),
        _ => (10, 5),
    };
    let sign = (r.next() & 1) << (bits - 1);
    let frac = r.next() & ((1u64 << mant) - 1);
    let emax = (1u64 << expb) - 1;
    let bias = emax / 2;
    let e = match r.below(10) {
        0 => 0,                                   // zero / denormal
        1 => emax,                                // inf / NaN
        2 => return sign | (bias << mant),        // +-1.0
        3 => return sign,                         // +-0
        4 => bias + r.below(40.min(emax - bias)), // small integers and values around them
        5 => r.below(4),                          // near the denormal boundary
        6 => emax - 1 - r.below(3),               // near overflow
        _ if bits == 16 => 1 + r.below(emax - 1),
        _ => bias - 20 + r.below(40),
    };
    let frac = match r.below(4) {
        0 => frac & !((1u64 << (mant - 3)) - 1), // short fractions (exact results)
        _ => frac,
    };
    sign | e << mant | frac
}

fn random_state(r: &mut Rng) -> [u8; IN_SIZE] {
    let mut s = [0u8; IN_SIZE];
    for i in 0..32 {
        let mut v = 0u128;
        match r.below(4) {
            0 => v = (r.next() as u128) << 64 | r.next() as u128,
            1 => {
                for l in 0..2 {
                    v |= (fp_value(r, 64) as u128) << (64 * l);
                }
            }
            2 => {
                for l in 0..4 {
                    v |= (fp_value(r, 32) as u128) << (32 * l);
                }
            }
            _ => {
                // small integers / bytes with repeats, as string code sees
                for l in 0..16 {
                    let b = match r.below(4) {
                        0 => 0,
                        1 => 0xff,
                        2 => 0x80 | r.below(3),
                        _ => r.below(256),
                    };
                    v |= (b as u128) << (8 * l);
                }
            }
        }
        s[16 * i..16 * i + 16].copy_from_slice(&v.to_le_bytes());
    }
    for i in 0..16 {
        let x = match r.below(4) {
            0 => r.next(),
            1 => r.below(100),
            2 => fp_value(r, 64),
            _ => fp_value(r, 32) | (r.next() & 0xffff_ffff_0000_0000),
        };
        s[512 + 8 * i..520 + 8 * i].copy_from_slice(&x.to_le_bytes());
    }
    // FPCR: RMode, FZ, DN, AHP (FZ16 is RES0 without FEAT_FP16)
    let fpcr = (r.below(4) << 22)
        | if r.below(3) == 0 { 1 << 24 } else { 0 }
        | if r.below(3) == 0 { 1 << 25 } else { 0 }
        | if r.below(4) == 0 { 1 << 26 } else { 0 };
    s[640..648].copy_from_slice(&fpcr.to_le_bytes());
    let nzcv = r.below(16) << 28;
    s[648..656].copy_from_slice(&nzcv.to_le_bytes());
    // Initial FPSR: clear, Inexact already set (enables the inline FP fast path), or a
    // random mix of cumulative flags and QC.
    let fpsr = match r.below(3) {
        0 => 0,
        1 => 0x10,
        _ => r.next() & 0x0800_009f,
    };
    s[656..664].copy_from_slice(&fpsr.to_le_bytes());
    s
}

/// A state for the inline FP fast paths: plain FPCR, Inexact already set, and registers
/// full of ordinary normal numbers (single lanes in the even registers, double lanes in
/// the odd ones; some lanes of the other width mixed in by chance).
fn random_state_fp(r: &mut Rng) -> [u8; IN_SIZE] {
    let mut s = random_state(r);
    for i in 0..32 {
        let mut v = 0u128;
        if i % 2 == 0 {
            for l in 0..4 {
                let x =
                    (r.next() & 0x8000_0000) | (110 + r.below(40)) << 23 | (r.next() & 0x7f_ffff);
                v |= (x as u128) << (32 * l);
            }
        } else {
            for l in 0..2 {
                let x = (r.next() & (1 << 63))
                    | (1000 + r.below(46)) << 52
                    | (r.next() & ((1 << 52) - 1));
                v |= (x as u128) << (64 * l);
            }
        }
        s[16 * i..16 * i + 16].copy_from_slice(&v.to_le_bytes());
    }
    s[640..648].copy_from_slice(&0u64.to_le_bytes());
    s[656..664].copy_from_slice(&0x10u64.to_le_bytes());
    s
}

/// A state for the FEAT_FP16 tests: half-precision-interesting lanes in every other
/// register, FPCR.FZ16 set at random (and always when `fz16`).
fn random_state_h(r: &mut Rng, fz16: bool) -> [u8; IN_SIZE] {
    let mut s = random_state(r);
    for i in (0..32).step_by(2) {
        let mut v = 0u128;
        for l in 0..8 {
            v |= (fp_value(r, 16) as u128) << (16 * l);
        }
        s[16 * i..16 * i + 16].copy_from_slice(&v.to_le_bytes());
    }
    for i in (0..16).step_by(3) {
        let x = fp_value(r, 16) | (r.next() & 0xffff_ffff_ffff_0000);
        s[512 + 8 * i..520 + 8 * i].copy_from_slice(&x.to_le_bytes());
    }
    let mut fpcr = u64_at(&s, 640);
    if fz16 || r.below(3) == 0 {
        fpcr |= 1 << 19;
    }
    s[640..648].copy_from_slice(&fpcr.to_le_bytes());
    s
}

/// Whether `insn` belongs to a feature after Armv8.0 that this frontend implements in the
/// op0 = x111 group (FEAT_FP16, FEAT_JSCVT, FEAT_FRINTTS): cortex-a72 calls them undefined.
fn after_v80(insn: u32) -> bool {
    let fp_scalar = insn & 0x5f00_0000 == 0x1e00_0000 || insn & 0x5f00_0000 == 0x1f00_0000;
    if fp_scalar {
        let ftype = (insn >> 22) & 3;
        // FCVT between precisions from/to half is Armv8.0.
        let fcvt = insn & 0xff3e_7c00 == 0x1e22_4000;
        let jscvt = insn & 0xffff_fc00 == 0x1e7e_0000;
        let frintts = insn & 0xff3e_7c00 == 0x1e28_4000;
        return (ftype == 3 && !fcvt) || jscvt || frintts;
    }
    let m = |mask: u32, val: u32| insn & mask == val;
    m(0x9fbf_ec00, 0x0e21_e800) // FRINT32/64 vector
        || m(0x9f60_c400, 0x0e40_0400) // three same FP16
        || m(0xdf60_c400, 0x5e40_0400) // scalar three same FP16
        || m(0x9f7e_0c00, 0x0e78_0800) // two-reg misc FP16
        || m(0xdf7e_0c00, 0x5e78_0800) // scalar two-reg misc FP16
        || m(0xbf3e_ec00, 0x0e30_c800) // FMAXNMV/FMINNMV (half)
        || m(0xbf3f_fc00, 0x0e30_f800) // FMAXV/FMINV (half)
        || m(0xff3e_cc00, 0x5e30_c800) // scalar pairwise FP16
        || m(0xbff8_fc00, 0x0f00_fc00) // FMOV vector immediate (half)
        || (m(0x9fc0_0400, 0x0f00_0000) && matches!((insn >> 12) & 15, 0b0001 | 0b0101 | 0b1001))
        || (m(0xdfc0_0400, 0x5f00_0000) && matches!((insn >> 12) & 15, 0b0001 | 0b0101 | 0b1001))
        || (m(0x0f80_0400, 0x0f00_0400)
            && (insn >> 20) & 7 == 1
            && matches!((insn >> 11) & 31, 0b11100 | 0b11111)) // fixed-point half
}

fn cond_holds_rs(cond: u32, nzcv: u64) -> bool {
    let n = nzcv >> 31 & 1 == 1;
    let z = nzcv >> 30 & 1 == 1;
    let c = nzcv >> 29 & 1 == 1;
    let v = nzcv >> 28 & 1 == 1;
    let r = match cond >> 1 {
        0 => z,
        1 => c,
        2 => n,
        3 => v,
        4 => c && !z,
        5 => n == v,
        6 => n == v && !z,
        _ => true,
    };
    if cond & 1 == 1 && cond != 15 { !r } else { r }
}

/// Keep GPR operands within x0..x15 (the harness owns x16..x30).
fn fix_gprs(insn: u32) -> u32 {
    let mut insn = insn;
    let io = io(insn);
    if io.reads_xn && (insn >> 5) & 31 != 31 {
        insn &= !(1 << 9);
    }
    let mut v = [0u128; 32];
    let mut fpsr = 0;
    let mut r = Regs {
        v: &mut v,
        fpcr: 0,
        fpsr: &mut fpsr,
    };
    if let Ok(Out::X(_) | Out::XNzcv(_)) = exec_any(&mut r, insn, 0, false)
        && insn & 31 != 31
    {
        insn &= !(1 << 4);
    }
    insn
}

fn tools() -> bool {
    [
        "aarch64-linux-gnu-as",
        "aarch64-linux-gnu-ld",
        "qemu-aarch64",
    ]
    .iter()
    .all(|t| Command::new(t).arg("--version").output().is_ok())
}

/// Extra input (initial buffer) and output (final buffer + its address) of memory cases.
const MEM_BUF: usize = 512;
const MEM_IN: usize = IN_SIZE + MEM_BUF;
const MEM_OUT: usize = OUT_SIZE + MEM_BUF + 8;

/// Run `insns` x `states` under qemu; returns the raw output records. With `mem`, each
/// state carries a 512-byte buffer image (after the register state) that is copied to a
/// buffer before each case, x15 points 128 bytes into it, and each record carries the
/// buffer afterwards and its address.
fn run_qemu(insns: &[u32], states: &[Vec<u8>], tag: &str, mem: bool) -> Vec<u8> {
    let (in_size, out_size) = if mem {
        (MEM_IN, MEM_OUT)
    } else {
        (IN_SIZE, OUT_SIZE)
    };
    let dir: PathBuf =
        std::env::temp_dir().join(format!("heron-a64fp-{}-{}", tag, std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut inbin = Vec::new();
    for s in states {
        inbin.extend_from_slice(s);
    }
    std::fs::write(dir.join("in.bin"), &inbin).expect("write in.bin");
    let mut a = String::new();
    a.push_str(
        r#"
        .text
        .global _start
_start:
        // rt_sigaction(SIGILL, &sa, 0, 8)
        mov x0, #4
        adr x1, sa
        mov x2, #0
        mov x3, #8
        mov x8, #134
        svc #0
        adrp x22, flag
        add x22, x22, :lo12:flag
        adrp x21, outbuf
        add x21, x21, :lo12:outbuf
        adr x24, stubs
        mov x25, #0
1:      // per instruction
        adr x20, inputs
        mov x26, #0
2:      // per state
        ldr x16, [x20, #640]
        msr fpcr, x16
        ldr x16, [x20, #648]
        msr nzcv, x16
        ldr x16, [x20, #656]
        msr fpsr, x16
"#,
    );
    if mem {
        a.push_str(&format!("        add x19, x20, #{IN_SIZE}\n"));
        a.push_str("        adrp x18, membuf\n        add x18, x18, :lo12:membuf\n");
        for k in (0..MEM_BUF).step_by(32) {
            a.push_str(&format!(
                "        ldp q0, q1, [x19, #{k}]\n        stp q0, q1, [x18, #{k}]\n"
            ));
        }
    }
    for i in (0..32).step_by(2) {
        a.push_str(&format!(
            "        ldp q{}, q{}, [x20, #{}]\n",
            i,
            i + 1,
            16 * i
        ));
    }
    a.push_str("        add x19, x20, #512\n");
    for i in (0..16).step_by(2) {
        a.push_str(&format!(
            "        ldp x{}, x{}, [x19, #{}]\n",
            i,
            i + 1,
            8 * i
        ));
    }
    if mem {
        a.push_str("        adrp x15, membuf\n        add x15, x15, :lo12:membuf\n");
        a.push_str("        add x15, x15, #128\n");
    }
    a.push_str(
        r#"        str xzr, [x22]
        add x27, x24, x25, lsl #3
        blr x27
"#,
    );
    for i in (0..32).step_by(2) {
        a.push_str(&format!(
            "        stp q{}, q{}, [x21, #{}]\n",
            i,
            i + 1,
            16 * i
        ));
    }
    a.push_str("        add x19, x21, #512\n");
    for i in (0..16).step_by(2) {
        a.push_str(&format!(
            "        stp x{}, x{}, [x19, #{}]\n",
            i,
            i + 1,
            8 * i
        ));
    }
    a.push_str(&format!(
        r#"        mrs x16, fpsr
        mrs x17, nzcv
        stp x16, x17, [x19, #128]
        ldr x16, [x22]
        str x16, [x19, #144]
{memout}        add x21, x21, #{out_size}
        add x20, x20, #{in_size}
        add x26, x26, #1
        cmp x26, #{ns}
        b.lo 2b
        add x25, x25, #1
        ldr x16, ={ni}
        cmp x25, x16
        b.lo 1b
        // write(1, outbuf, total) in a loop
        adrp x1, outbuf
        add x1, x1, :lo12:outbuf
        ldr x2, ={total}
3:      mov x0, #1
        mov x8, #64
        svc #0
        cmp x0, #0
        b.le 4f
        add x1, x1, x0
        sub x2, x2, x0
        cbnz x2, 3b
4:      mov x0, #0
        mov x8, #93
        svc #0

handler:
        adrp x9, flag
        add x9, x9, :lo12:flag
        mov x10, #1
        str x10, [x9]
        ldr x10, [x2, #440]
        add x10, x10, #4
        str x10, [x2, #440]
        ret
restorer:
        mov x8, #139
        svc #0
        .ltorg
        .balign 8
sa:     .quad handler
        .quad 0x04000004
        .quad restorer
        .quad 0
        .balign 16
inputs: .incbin "in.bin"
        .balign 8
stubs:
"#,
        ns = states.len(),
        ni = insns.len(),
        total = insns.len() * states.len() * out_size,
        memout = if mem {
            let mut m = String::from(
                "        add x19, x21, #664\n        adrp x18, membuf\n        add x18, x18, :lo12:membuf\n",
            );
            for k in (0..MEM_BUF).step_by(32) {
                m += &format!("        ldp q0, q1, [x18, #{k}]\n        stp q0, q1, [x19, #{k}]\n");
            }
            m += &format!("        str x18, [x19, #{MEM_BUF}]\n");
            m
        } else {
            String::new()
        },
    ));
    for w in insns {
        a.push_str(&format!("        .inst {w:#010x}\n        ret\n"));
    }
    a.push_str(&format!(
        "        .bss\n        .balign 16\nflag:   .skip 8\nmembuf: .skip {MEM_BUF}\noutbuf: .skip {}\n",
        insns.len() * states.len() * out_size
    ));
    std::fs::write(dir.join("t.s"), a).expect("write t.s");
    let st = Command::new("aarch64-linux-gnu-as")
        .current_dir(&dir)
        .args(["t.s", "-o", "t.o"])
        .status()
        .expect("as");
    assert!(st.success(), "assembler failed");
    let st = Command::new("aarch64-linux-gnu-ld")
        .current_dir(&dir)
        .args(["-static", "t.o", "-o", "t"])
        .status()
        .expect("ld");
    assert!(st.success(), "linker failed");
    let out = Command::new("qemu-aarch64")
        .current_dir(&dir)
        .args([
            "-cpu",
            if tag == "v82" || tag.starts_with("max") {
                "max"
            } else {
                "cortex-a72"
            },
            "./t",
        ])
        .output()
        .expect("qemu");
    assert!(out.status.success(), "qemu run failed: {out:?}");
    let _ = std::fs::remove_dir_all(&dir);
    out.stdout
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Replay one case through the executor (`runner` None) or through a translated block on
/// the runner's tier; returns the output record.
fn replay(insn: u32, s: &[u8; IN_SIZE], runner: Option<&mut Runner>) -> [u8; OUT_SIZE] {
    if let Some(r) = runner {
        return replay_ir(insn, s, r);
    }
    let mut v = [0u128; 32];
    for (i, r) in v.iter_mut().enumerate() {
        let mut w = [0u8; 16];
        w.copy_from_slice(&s[16 * i..16 * i + 16]);
        *r = u128::from_le_bytes(w);
    }
    let mut x: Vec<u64> = (0..16).map(|i| u64_at(s, 512 + 8 * i)).collect();
    let fpcr = u64_at(s, 640);
    let mut nzcv = u64_at(s, 648);
    let mut fpsr = u64_at(s, 656);
    let io = io(insn);
    let rn = ((insn >> 5) & 31) as usize;
    let xn = if io.reads_xn && rn != 31 { x[rn] } else { 0 };
    let cond = cond_holds_rs((insn >> 12) & 15, nzcv);
    let mut r = Regs {
        v: &mut v,
        fpcr,
        fpsr: &mut fpsr,
    };
    let mut ill = 0u64;
    match exec_any(&mut r, insn, xn, cond) {
        Ok(Out::X(val)) => {
            let rd = (insn & 31) as usize;
            if rd < 16 {
                x[rd] = val;
            }
        }
        Ok(Out::Nzcv(n)) => nzcv = n,
        Ok(Out::XNzcv(val)) => {
            let rd = (insn & 31) as usize;
            if rd < 16 {
                x[rd] = val & 0xffff_ffff;
            }
            nzcv = val >> 32;
        }
        Ok(Out::None) => {}
        Err(Undef) => ill = 1,
    }
    let mut o = [0u8; OUT_SIZE];
    for (i, r) in v.iter().enumerate() {
        o[16 * i..16 * i + 16].copy_from_slice(&r.to_le_bytes());
    }
    for (i, r) in x.iter().enumerate() {
        o[512 + 8 * i..520 + 8 * i].copy_from_slice(&r.to_le_bytes());
    }
    o[640..648].copy_from_slice(&fpsr.to_le_bytes());
    o[648..656].copy_from_slice(&nzcv.to_le_bytes());
    o[656..664].copy_from_slice(&ill.to_le_bytes());
    o
}

fn state_cpu(s: &[u8]) -> Box<A64Cpu> {
    let mut cpu = Box::<A64Cpu>::default();
    for i in 0..32 {
        let mut w = [0u8; 16];
        w.copy_from_slice(&s[16 * i..16 * i + 16]);
        cpu.v[i] = u128::from_le_bytes(w);
    }
    for i in 0..16 {
        cpu.x[i] = u64_at(s, 512 + 8 * i);
    }
    cpu.fpcr = u64_at(s, 640);
    cpu.set_nzcv(u64_at(s, 648));
    cpu.fpsr = u64_at(s, 656);
    cpu
}

fn cpu_record(cpu: &A64Cpu, ill: bool) -> [u8; OUT_SIZE] {
    let mut o = [0u8; OUT_SIZE];
    for (i, r) in cpu.v.iter().enumerate() {
        o[16 * i..16 * i + 16].copy_from_slice(&r.to_le_bytes());
    }
    for i in 0..16 {
        o[512 + 8 * i..520 + 8 * i].copy_from_slice(&cpu.x[i].to_le_bytes());
    }
    o[640..648].copy_from_slice(&cpu.fpsr.to_le_bytes());
    o[648..656].copy_from_slice(&cpu.nzcv().to_le_bytes());
    o[656..664].copy_from_slice(&(ill as u64).to_le_bytes());
    o
}

/// Replay one case through a translated block.
fn replay_ir(insn: u32, s: &[u8; IN_SIZE], r: &mut Runner) -> [u8; OUT_SIZE] {
    let mut cpu = state_cpu(s);
    let Some(block) = block_of(&[insn]) else {
        return cpu_record(&cpu, true);
    };
    let st = r.run(&mut cpu, &block);
    assert_eq!(st, heron_backend::ExitStatus::Next, "{insn:#010x}");
    cpu_record(&cpu, false)
}

fn describe(a: &[u8], b: &[u8]) -> String {
    let mut d = String::new();
    for i in 0..32 {
        let (x, y) = (&a[16 * i..16 * i + 16], &b[16 * i..16 * i + 16]);
        if x != y {
            let x = u128::from_le_bytes(x.try_into().unwrap_or([0; 16]));
            let y = u128::from_le_bytes(y.try_into().unwrap_or([0; 16]));
            d += &format!(" v{i}: qemu {x:#034x} ours {y:#034x};");
        }
    }
    for i in 0..16 {
        let (x, y) = (u64_at(a, 512 + 8 * i), u64_at(b, 512 + 8 * i));
        if x != y {
            d += &format!(" x{i}: qemu {x:#x} ours {y:#x};");
        }
    }
    for (name, at) in [("fpsr", 640), ("nzcv", 648), ("sigill", 656)] {
        let (x, y) = (u64_at(a, at), u64_at(b, at));
        if x != y {
            d += &format!(" {name}: qemu {x:#x} ours {y:#x};");
        }
    }
    d
}

/// Compare a batch; returns failure descriptions. Every case is replayed through the
/// executor and the interpreter; every `jit_every`-th instruction also through the JIT.
fn compare(insns: &[u32], nstates: usize, seed: u64, tag: &str, jit_every: usize) -> Vec<String> {
    let mut interp = Runner::new(Tier::Interp, 0, 0);
    let mut jit = Runner::new(Tier::Jit, 0, 0);
    let mut rng = Rng(seed);
    let states: Vec<[u8; IN_SIZE]> = (0..nstates)
        .map(|k| {
            if tag == "fast" && k % 2 == 1 {
                random_state_fp(&mut rng)
            } else if tag.starts_with("max") {
                random_state_h(&mut rng, k % 2 == 1)
            } else {
                random_state(&mut rng)
            }
        })
        .collect();
    let raw: Vec<Vec<u8>> = states.iter().map(|s| s.to_vec()).collect();
    let out = run_qemu(insns, &raw, tag, false);
    assert_eq!(
        out.len(),
        insns.len() * nstates * OUT_SIZE,
        "short qemu output"
    );
    let mut fails = Vec::new();
    let mut illegal = 0;
    for i in 0..insns.len() {
        illegal += (u64_at(&out, i * nstates * OUT_SIZE + 656) != 0) as usize;
    }
    eprintln!(
        "{tag}: {} instructions, {illegal} undefined in qemu",
        insns.len()
    );
    for (i, &insn) in insns.iter().enumerate() {
        for (k, s) in states.iter().enumerate() {
            let at = (i * nstates + k) * OUT_SIZE;
            let q = &out[at..at + OUT_SIZE];
            let mut tiers: Vec<(&str, Option<&mut Runner>)> =
                vec![("exec", None), ("interp", Some(&mut interp))];
            if i % jit_every == 0 {
                tiers.push(("jit", Some(&mut jit)));
            }
            let mut failed = false;
            for (name, runner) in tiers {
                let ours = replay(insn, s, runner);
                if q != ours {
                    fails.push(format!(
                        "{insn:#010x} state {k} {name}:{}",
                        describe(q, &ours)
                    ));
                    failed = true;
                    break;
                }
            }
            if failed {
                break;
            }
        }
    }
    fails
}

fn check(insns: Vec<u32>, tag: &str, jit_every: usize) {
    if !tools() {
        eprintln!("skipping qemu differential test: cross binutils or qemu-aarch64 missing");
        return;
    }
    // cortex-a72 (Armv8.0) lacks FEAT_FP16/JSCVT/FRINTTS: those words are compared with
    // `-cpu max` by the "max" tests only.
    let a72 = !(tag == "v82" || tag.starts_with("max"));
    let insns: Vec<u32> = insns
        .into_iter()
        .filter(|&w| !(a72 && after_v80(w)))
        .map(fix_gprs)
        .collect();
    let fails = compare(
        &insns,
        if tag == "fast" { 4 } else { 3 },
        0x5eed_0000_0000_0001 ^ insns.len() as u64,
        tag,
        jit_every,
    );
    if !fails.is_empty() {
        let n = fails.len();
        let shown: Vec<_> = fails.into_iter().take(40).collect();
        panic!(
            "{n} of {} instructions differ from qemu:\n{}",
            insns.len(),
            shown.join("\n")
        );
    }
}

/// Random words of the whole op0 = x111 space.
#[test]
fn qemu_random_group() {
    let mut r = Rng(0x0123_4567_89ab_cdef);
    let n: usize = std::env::var("HERON_A64FP_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    // The Armv8.2 crypto group (op0 = 1100) is compared with `-cpu max` in qemu_crypto_v82.
    let insns: Vec<u32> = (0..n)
        .map(|_| (r.next() as u32 & !0x0e00_0000) | 0x0e00_0000)
        .filter(|w| w >> 24 != 0xce)
        .collect();
    check(insns, "rand", 7);
}

/// Random words of each allocated sub-group (so small groups are covered well).
#[test]
fn qemu_random_subgroups() {
    // (mask of fixed bits, value)
    let groups: [(u32, u32); 22] = [
        (0x5f20_0000, 0x1e20_0000), // FP data processing / conversions (incl. sf)
        (0x7f20_fc00, 0x1e20_4000), // FP 1-source
        (0x7f20_0c00, 0x1e20_0800), // FP 2-source
        (0x7f00_0000, 0x1f00_0000), // FP 3-source
        (0x7f20_0c00, 0x1e20_0400), // FCCMP
        (0x7f20_0c00, 0x1e20_0c00), // FCSEL
        (0x5f20_fc00, 0x1e20_0000), // FP <-> int
        (0x5f20_0000, 0x1e00_0000), // FP <-> fixed
        (0x9f20_0400, 0x0e20_0400), // three same
        (0x9f20_0c00, 0x0e20_0000), // three different
        (0x9f3e_0c00, 0x0e20_0800), // two-reg misc
        (0x9f3e_0c00, 0x0e30_0800), // across lanes
        (0x9fe0_8400, 0x0e00_0400), // copy
        (0x9ff8_0400, 0x0f00_0400), // modified immediate
        (0x9f80_0400, 0x0f00_0400), // shift by immediate
        (0x9f00_0400, 0x0f00_0000), // by element
        (0xbf20_8000, 0x0e00_0000), // tbl / permute
        (0xbf20_8400, 0x2e00_0000), // ext
        (0xdf20_0400, 0x5e20_0400), // scalar three same
        (0xdf3e_0c00, 0x5e20_0800), // scalar two-reg misc / pairwise
        (0xdf80_0400, 0x5f00_0400), // scalar shift imm
        (0xff00_0000, 0x4e00_0000), // crypto AES + vector Q=1 U=0
    ];
    let mut r = Rng(0xfeed_beef_1234_5678);
    let per: usize = std::env::var("HERON_A64FP_PER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut insns = Vec::new();
    for (m, v) in groups {
        for _ in 0..per {
            insns.push((r.next() as u32 & !m) | v);
        }
    }
    // Crypto SHA, scalar copy, scalar by element.
    for (m, v) in [
        (0xff20_8c00u32, 0x5e00_0000u32),
        (0xff3e_0c00, 0x5e28_0800),
        (0xdf00_0400, 0x5f00_0000),
    ] {
        for _ in 0..per {
            insns.push((r.next() as u32 & !m) | v);
        }
    }
    check(insns, "sub", 5);
}

/// A fixed list of instructions glibc's string functions and common FP code use.
#[test]
fn qemu_common_instructions() {
    let src = "
        cmeq v0.16b, v1.16b, v2.16b
        cmeq v3.16b, v4.16b, #0
        umaxp v0.16b, v1.16b, v2.16b
        uminp v5.16b, v6.16b, v7.16b
        addp v0.16b, v1.16b, v2.16b
        addp d0, v1.2d
        shrn v0.8b, v1.8h, #4
        orr v0.16b, v1.16b, v2.16b
        and v0.16b, v1.16b, v2.16b
        bic v0.16b, v1.16b, v2.16b
        eor v0.8b, v1.8b, v2.8b
        ext v0.16b, v1.16b, v2.16b, #3
        tbl v0.16b, {v1.16b, v2.16b}, v3.16b
        tbx v0.8b, {v30.16b, v31.16b, v0.16b}, v3.8b
        dup v0.16b, w1
        dup v0.4s, v1.s[3]
        ins v0.d[1], x2
        ins v0.b[3], v1.b[15]
        umov w0, v1.h[5]
        mov x0, v1.d[1]
        smov x1, v2.b[7]
        movi v0.16b, #0x40
        movi v0.2d, #0xff00ff00ff00ff00
        mvni v1.4s, #0x12, lsl #8
        orr v2.8h, #0x5, lsl #8
        bic v3.4s, #0x80, lsl #24
        fmov v4.4s, #1.5
        zip1 v0.16b, v1.16b, v2.16b
        uzp2 v0.8h, v1.8h, v2.8h
        trn1 v0.4s, v1.4s, v2.4s
        rev64 v0.16b, v1.16b
        rev32 v0.8h, v1.8h
        rev16 v0.16b, v1.16b
        cnt v0.16b, v1.16b
        uaddlv h0, v1.16b
        addv b0, v1.16b
        umaxv b0, v1.16b
        uminv s0, v1.4s
        ushr v0.2d, v1.2d, #63
        sshr v0.4s, v1.4s, #7
        shl v0.8h, v1.8h, #3
        ushll v0.8h, v1.8b, #0
        sshll2 v0.4s, v1.8h, #2
        xtn v0.8b, v1.8h
        sqxtn v0.4h, v1.4s
        uqxtn2 v0.16b, v1.8h
        sqxtun v0.8b, v1.8h
        add v0.2d, v1.2d, v2.2d
        sub v0.4s, v1.4s, v2.4s
        mul v0.8h, v1.8h, v2.8h
        mla v0.4s, v1.4s, v2.4s
        mls v0.16b, v1.16b, v2.16b
        cmhi v0.16b, v1.16b, v2.16b
        cmhs v0.8h, v1.8h, v2.8h
        cmgt v0.4s, v1.4s, v2.4s
        cmge v0.2d, v1.2d, v2.2d
        cmtst v0.16b, v1.16b, v2.16b
        abs v0.4s, v1.4s
        neg v0.2d, v1.2d
        sqadd v0.16b, v1.16b, v2.16b
        uqsub v0.8h, v1.8h, v2.8h
        sqdmulh v0.4s, v1.4s, v2.4s
        sqrdmulh v0.8h, v1.8h, v2.h[3]
        umull v0.2d, v1.2s, v2.2s
        smlal2 v0.4s, v1.8h, v2.8h
        uaddw v0.8h, v1.8h, v2.8b
        uabd v0.16b, v1.16b, v2.16b
        pmull v0.1q, v1.1d, v2.1d
        pmull2 v0.8h, v1.16b, v2.16b
        fadd v0.4s, v1.4s, v2.4s
        fmul v0.2d, v1.2d, v2.2d
        fmla v0.4s, v1.4s, v2.s[1]
        fmls v0.2d, v1.2d, v2.2d
        faddp v0.4s, v1.4s, v2.4s
        faddp s0, v1.2s
        fmaxnmv s0, v1.4s
        fcvtzs v0.4s, v1.4s
        fcvtzu v0.2d, v1.2d, #3
        scvtf v0.2d, v1.2d
        ucvtf v0.4s, v1.4s, #16
        fcvtn v0.4h, v1.4s
        fcvtn2 v0.4s, v1.2d
        fcvtl v0.2d, v1.2s
        fcvtl2 v0.4s, v1.8h
        fcvtxn s0, d1
        frecpe v0.4s, v1.4s
        frsqrte v0.2d, v1.2d
        frecps v0.4s, v1.4s, v2.4s
        frsqrts d0, d1, d2
        frecpx s0, s1
        urecpe v0.2s, v1.2s
        ursqrte v0.4s, v1.4s
        fabd v0.4s, v1.4s, v2.4s
        facgt v0.2d, v1.2d, v2.2d
        fcmle v0.4s, v1.4s, #0.0
        fsqrt v0.2d, v1.2d
        frintx v0.4s, v1.4s
        frinta v0.2d, v1.2d
        fmov s0, w1
        fmov x2, d3
        fmov d4, x5
        fmov v5.d[1], x6
        fmov x7, v8.d[1]
        fmov d0, #-1.25
        fmov s1, s2
        fadd d0, d1, d2
        fsub s0, s1, s2
        fmul d0, d1, d2
        fdiv s0, s1, s2
        fnmul d0, d1, d2
        fsqrt s0, s1
        fabs d0, d1
        fneg s0, s1
        fmadd d0, d1, d2, d3
        fnmsub s0, s1, s2, s3
        fmax d0, d1, d2
        fminnm s0, s1, s2
        fcmp d0, d1
        fcmpe s0, #0.0
        fccmp d0, d1, #4, ne
        fccmpe s0, s1, #2, ge
        fcsel d0, d1, d2, lt
        fcvt s0, d1
        fcvt d0, h1
        fcvt h0, s1
        fcvt h0, d1
        frintn d0, d1
        frintp s0, s1
        frintm d0, d1
        frintz s0, s1
        frinti d0, d1
        scvtf d0, x1
        ucvtf s0, w1
        scvtf s0, x1, #12
        fcvtzs w0, d1
        fcvtzu x0, s1
        fcvtns x0, d1
        fcvtms w0, s1
        fcvtps x0, d1
        fcvtas w0, d1
        fcvtau x0, s1
        fcvtzs x0, d1, #10
        fcvtzu w0, s1, #31
        aese v0.16b, v1.16b
        aesd v0.16b, v1.16b
        aesmc v0.16b, v1.16b
        aesimc v0.16b, v1.16b
        sha1c q0, s1, v2.4s
        sha1p q0, s1, v2.4s
        sha1m q0, s1, v2.4s
        sha1h s0, s1
        sha1su0 v0.4s, v1.4s, v2.4s
        sha1su1 v0.4s, v1.4s
        sha256h q0, q1, v2.4s
        sha256h2 q0, q1, v2.4s
        sha256su0 v0.4s, v1.4s
        sha256su1 v0.4s, v1.4s, v2.4s
        sqshl v0.4s, v1.4s, v2.4s
        uqrshl v0.16b, v1.16b, v2.16b
        srshl d0, d1, d2
        ursra v0.2d, v1.2d, #5
        sri v0.8h, v1.8h, #4
        sli v0.4s, v1.4s, #9
        sqshlu v0.16b, v1.16b, #3
        uqrshrn v0.8b, v1.8h, #2
        sqrshrun2 v0.8h, v1.4s, #7
        rshrn v0.2s, v1.2d, #17
        saddlp v0.4s, v1.8h
        uadalp v0.2d, v1.4s
        cls v0.16b, v1.16b
        clz v0.4s, v1.4s
        rbit v0.8b, v1.8b
        not v0.16b, v1.16b
        sqabs v0.8h, v1.8h
        sqneg d0, d1
        suqadd v0.4s, v1.4s
        usqadd b0, b1
        shll2 v0.4s, v1.8h, #16
        addhn2 v0.16b, v1.8h, v2.8h
        rsubhn v0.4h, v1.4s, v2.4s
        sqdmlal d0, s1, s2
        sqdmull2 v0.2d, v1.4s, v2.s[3]
        umlsl v0.2d, v1.2s, v2.s[1]
        mul v0.4s, v1.4s, v2.s[2]
        fmulx v0.4s, v1.4s, v2.4s
        fmulx d0, d1, v2.d[1]
        fmaxp v0.2d, v1.2d, v2.2d
        fminnmp s0, v1.2s
        fmaxv s0, v1.4s
        sminv h0, v1.8h
        saddlv d0, v1.4s
    ";
    if !tools() {
        eprintln!("skipping qemu differential test: cross binutils or qemu-aarch64 missing");
        return;
    }
    let dir = std::env::temp_dir().join(format!("heron-a64fp-common-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut f = std::fs::File::create(dir.join("c.s")).expect("c.s");
    writeln!(f, "{src}").expect("write");
    drop(f);
    let st = Command::new("aarch64-linux-gnu-as")
        .current_dir(&dir)
        .args(["-march=armv8-a+crypto", "c.s", "-o", "c.o"])
        .status()
        .expect("as");
    assert!(st.success());
    let st = Command::new("aarch64-linux-gnu-objcopy")
        .current_dir(&dir)
        .args(["-O", "binary", "-j", ".text", "c.o", "c.bin"])
        .status()
        .expect("objcopy");
    assert!(st.success());
    let bin = std::fs::read(dir.join("c.bin")).expect("c.bin");
    let _ = std::fs::remove_dir_all(&dir);
    let insns: Vec<u32> = bin
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    for &w in &insns {
        let mut v = [0u128; 32];
        let mut fpsr = 0;
        let mut r = Regs {
            v: &mut v,
            fpcr: 0,
            fpsr: &mut fpsr,
        };
        assert!(
            exec_any(&mut r, w, 0, false).is_ok(),
            "{w:#010x} not implemented"
        );
    }
    check(insns, "common", 1);
}

/// Random LD1-4/ST1-4/LDnR (multiple and single structures, with and without post-index)
/// with x15 as the base, replayed on the interpreter and the JIT.
#[test]
fn qemu_structure_loads_stores() {
    if !tools() {
        eprintln!("skipping qemu differential test: cross binutils or qemu-aarch64 missing");
        return;
    }
    let mut r = Rng(0x57ac_4ed0_0000_0001);
    let n: usize = std::env::var("HERON_A64FP_MEM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let insns: Vec<u32> = (0..n)
        .map(|_| {
            let w = r.next() as u32;
            let single = w & (1 << 24);
            let post = w & (1 << 23);
            let mut rm = (w >> 16) & 31;
            if post == 0 && r.below(8) != 0 {
                rm = 0;
            }
            if rm > 14 && rm != 31 {
                rm = if rm == 15 || r.below(2) == 0 {
                    31
                } else {
                    rm - 16
                };
            }
            0x0c00_0000 | (w & 0x4060_fc1f) | single | post | rm << 16 | 15 << 5
        })
        .collect();
    let states: Vec<Vec<u8>> = (0..3)
        .map(|_| {
            let mut s = random_state(&mut r).to_vec();
            for i in 0..15 {
                let x = r.below(64);
                s[512 + 8 * i..520 + 8 * i].copy_from_slice(&x.to_le_bytes());
            }
            s.extend((0..MEM_BUF).map(|_| r.next() as u8));
            s
        })
        .collect();
    let out = run_qemu(&insns, &states, "mem", true);
    assert_eq!(out.len(), insns.len() * states.len() * MEM_OUT);
    let buf = u64_at(&out, OUT_SIZE + MEM_BUF);
    let mut runners = [
        ("interp", Runner::new(Tier::Interp, buf, MEM_BUF as u64)),
        ("jit", Runner::new(Tier::Jit, buf, MEM_BUF as u64)),
    ];
    let mut fails = Vec::new();
    let mut illegal = 0;
    for (i, &insn) in insns.iter().enumerate() {
        'states: for (k, s) in states.iter().enumerate() {
            let at = (i * states.len() + k) * MEM_OUT;
            let q = &out[at..at + MEM_OUT];
            illegal += (k == 0 && u64_at(q, 656) != 0) as usize;
            for (name, runner) in runners.iter_mut() {
                let mut cpu = state_cpu(s);
                cpu.x[15] = buf + 128;
                runner
                    .mem
                    .write_bytes(buf, &s[MEM_IN - MEM_BUF..])
                    .expect("write buffer");
                let (rec, ill) = match block_of(&[insn]) {
                    None => (cpu_record(&cpu, true), true),
                    Some(block) => {
                        let st = runner.run(&mut cpu, &block);
                        assert_eq!(st, heron_backend::ExitStatus::Next, "{insn:#010x}");
                        (cpu_record(&cpu, false), false)
                    }
                };
                let mut after = vec![0u8; MEM_BUF];
                runner.mem.read_bytes(buf, &mut after).expect("read buffer");
                let mut d = describe(&q[..OUT_SIZE], &rec);
                if !ill && after[..] != q[OUT_SIZE..OUT_SIZE + MEM_BUF] {
                    d += " memory differs;";
                }
                if !d.is_empty() {
                    fails.push(format!("{insn:#010x} state {k} {name}:{d}"));
                    break 'states;
                }
            }
        }
    }
    eprintln!(
        "mem: {} instructions, {illegal} undefined in qemu",
        insns.len()
    );
    if !fails.is_empty() {
        let n = fails.len();
        let shown: Vec<_> = fails.into_iter().take(40).collect();
        panic!(
            "{n} of {} instructions differ from qemu:\n{}",
            insns.len(),
            shown.join("\n")
        );
    }
}

/// Random operands of the inline fast-path forms (see `fast`), every one also on the JIT.
#[test]
fn qemu_fast_paths() {
    let forms: [(u32, u32); 21] = [
        (0x9f20_fc00, 0x0e20_1c00), // logic
        (0xbfff_fc00, 0x2e20_5800), // not
        (0x7fff_fc00, 0x1e26_0000), // fmov w/x <-> s/d, fmov reg (varied below)
        (0x7fff_fc00, 0x1e27_0000),
        (0xffff_fc00, 0x9eae_0000),
        (0xffff_fc00, 0x9eaf_0000),
        (0xffbf_fc00, 0x1e20_4000),
        (0x9fe0_8400, 0x0e00_0400), // copy
        (0x9ff8_0400, 0x0f00_0400), // modified immediate
        (0xbfff_fc00, 0x0e20_9800), // cmeq #0
        (0xbfe0_fc00, 0x2e20_8c00), // cmeq
        (0xbfe0_8400, 0x2e00_0000), // ext
        (0xbfe0_fc00, 0x2e20_a400), // umaxp
        (0xbfe0_ec00, 0x0e20_ac00), // uminp/addp (U random)
        (0xbffe_fc00, 0x2e30_a800), // umaxv/uminv
        (0xbff8_fc00, 0x0f08_8400), // shrn
        (0x9f20_fc00, 0x0e20_8400), // add/sub vector
        (0xbf80_fc00, 0x0f00_5400), // shl #imm
        (0xbf80_fc00, 0x2f00_0400), // ushr #imm
        (0x9f80_fc00, 0x0f00_a400), // ushll/sshll
        (0xbf3f_fc00, 0x2e21_3800), // shll
    ];
    let fp_forms: [(u32, u32); 19] = [
        (0xbfa0_fc00, 0x0e20_d400), // FADD vector
        (0xbfa0_fc00, 0x0ea0_d400), // FSUB
        (0xbfa0_fc00, 0x2e20_dc00), // FMUL
        (0xbfa0_fc00, 0x2e20_fc00), // FDIV
        (0xbfa0_fc00, 0x0e20_cc00), // FMLA
        (0xbfa0_fc00, 0x0ea0_cc00), // FMLS
        (0xbf80_f400, 0x0f80_1000), // FMLA by element
        (0xbf80_f400, 0x0f80_5000), // FMLS by element
        (0xbf80_f400, 0x0f80_9000), // FMUL by element
        (0x7fbf_fc00, 0x1e22_0000), // SCVTF (general)
        (0x7fbf_fc00, 0x1e23_0000), // UCVTF
        (0x7fbf_fc00, 0x1e38_0000), // FCVTZS (general)
        (0x7fbf_fc00, 0x1e39_0000), // FCVTZU
        (0xffa0_0c00, 0x1e20_0800), // FP 2-source
        (0xff80_0000, 0x1f00_0000), // FP 3-source
        (0xffa0_7c00, 0x1e20_4000), // FP 1-source
        (0xffa0_fc07, 0x1e20_2000), // FCMP/FCMPE
        (0xffa0_0c00, 0x1e20_0c00), // FCSEL
        (0xffa0_1fe0, 0x1e20_1000), // FMOV immediate
    ];
    let mut r = Rng(0xfa57_0000_1234_0001);
    let mut insns = Vec::new();
    for (m, v) in forms {
        for _ in 0..60 {
            insns.push((r.next() as u32 & !m) | v);
        }
    }
    for (m, v) in fp_forms {
        for _ in 0..250 {
            insns.push((r.next() as u32 & !m) | v);
        }
    }
    check(insns, "fast", 1);
}

/// SHA512H/H2/SU0/SU1, EOR3, BCAX, RAX1, XAR against `qemu-aarch64 -cpu max`.
#[test]
fn qemu_crypto_v82() {
    let forms: [(u32, u32); 8] = [
        (0xffe0_fc00, 0xce60_8000), // SHA512H
        (0xffe0_fc00, 0xce60_8400), // SHA512H2
        (0xffe0_fc00, 0xce60_8800), // SHA512SU1
        (0xffe0_fc00, 0xce60_8c00), // RAX1
        (0xffff_fc00, 0xcec0_8000), // SHA512SU0
        (0xffe0_8000, 0xce00_0000), // EOR3
        (0xffe0_8000, 0xce20_0000), // BCAX
        (0xffe0_0000, 0xce80_0000), // XAR
    ];
    let mut r = Rng(0x5a51_2000_0000_0001);
    let mut insns = Vec::new();
    for (m, v) in forms {
        for _ in 0..40 {
            insns.push((r.next() as u32 & !m) | v);
        }
    }
    check(insns, "v82", 1);
}

/// FJCVTZS and FRINT32Z/32X/64Z/64X (scalar and vector) against `qemu-aarch64 -cpu max`.
#[test]
fn qemu_jscvt_frintts() {
    let forms: [(u32, u32); 4] = [
        (0xffff_fc00, 0x1e7e_0000), // FJCVTZS
        (0xffbe_7c00, 0x1e28_4000), // FRINT32Z/32X/64Z/64X (S, D)
        (0xbfbf_ec00, 0x0e21_e800), // vector forms, U = 0
        (0xbfbf_ec00, 0x2e21_e800), // vector forms, U = 1
    ];
    let mut r = Rng(0x7a5c_0000_0000_0001);
    let mut insns = Vec::new();
    for (m, v) in forms {
        for _ in 0..40 {
            insns.push((r.next() as u32 & !m) | v);
        }
    }
    check(insns, "max-jscvt", 1);
}

/// FEAT_FP16: every half-precision scalar and Advanced SIMD group against
/// `qemu-aarch64 -cpu max`, on half-precision-rich states with FPCR.FZ16 set at random.
#[test]
fn qemu_fp16() {
    let forms: [(u32, u32); 23] = [
        (0xffe0_7c00, 0x1ee0_4000), // FP 1-source (H)
        (0xffe0_0c00, 0x1ee0_0800), // FP 2-source (H)
        (0xffc0_0000, 0x1fc0_0000), // FP 3-source (H)
        (0xffe0_fc07, 0x1ee0_2000), // FCMP/FCMPE (H)
        (0xffe0_0c00, 0x1ee0_0400), // FCCMP/FCCMPE (H)
        (0xffe0_0c00, 0x1ee0_0c00), // FCSEL (H)
        (0xffe0_1fe0, 0x1ee0_1000), // FMOV immediate (H)
        (0x7fe0_fc00, 0x1ee0_0000), // FP <-> integer (H), FMOV general
        (0x7fe0_0000, 0x1ec0_0000), // FP <-> fixed point (H)
        (0x9f60_c400, 0x0e40_0400), // three same (FP16)
        (0xdf60_c400, 0x5e40_0400), // scalar three same (FP16)
        (0x9f7e_0c00, 0x0e78_0800), // two-reg misc (FP16)
        (0xdf7e_0c00, 0x5e78_0800), // scalar two-reg misc (FP16)
        (0x9f3e_cc00, 0x0e30_c800), // FMAXNMV/FMINNMV/FMAXV/FMINV (H with U=0, S with U=1)
        (0xdf3e_cc00, 0x5e30_c800), // scalar pairwise FP (FADDP/FMAXP/... H with U=0)
        (0x9fc0_3400, 0x0f00_1000), // by element, size 00 (FMLA/FMLS/FMUL/FMULX H)
        (0xdfc0_3400, 0x5f00_1000), // scalar by element (H)
        (0x9ff0_e400, 0x0f10_e400), // SCVTF/UCVTF/FCVTZS/FCVTZU fixed point (H)
        (0xdff0_e400, 0x5f10_e400), // scalar fixed point (H)
        (0xbff8_fc00, 0x0f00_fc00), // FMOV vector immediate (H)
        (0xbfbf_fc00, 0x0e21_6800), // FCVTN (to H) / FCVTN2
        (0xbfbf_fc00, 0x0e21_7800), // FCVTL (from H) / FCVTL2
        (0xff3e_7c00, 0x1e22_4000), // FCVT between H/S/D
    ];
    let mut r = Rng(0xf16f_0000_0000_0001);
    let per: usize = std::env::var("HERON_A64FP_PER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut insns = Vec::new();
    for (m, v) in forms {
        for _ in 0..per {
            insns.push((r.next() as u32 & !m) | v);
        }
    }
    // qemu 7.2 aborts (an assertion in its FP16 two-reg misc decoder) on three unallocated
    // encodings, which heron treats as undefined: vector FRECPX, scalar FABS, scalar FSQRT.
    insns.retain(|&w| !qemu72_aborts(w) && !qemu72_accepts(w));
    // Compared elsewhere: qemu 7.2 sign-extends the scalar half-precision FCVTZS (fixed
    // point) result to 32 bits, where the Arm ARM writes a 16-bit element (unit test
    // `fp16_scalar_fixed_point_result_is_16_bits`); BFCVT is FEAT_BF16, not implemented.
    insns.retain(|&w| w & 0xdf70_fc00 != 0x5f10_fc00 && w & 0xffff_fc00 != 0x1e63_4000);
    check(insns, "max-fp16", 1);
}

// Binary literals are grouped by encoding field (U, a, opcode).
#[allow(clippy::unusual_byte_groupings)]
fn qemu72_aborts(w: u32) -> bool {
    let misc16 = w & 0x9f7e_0c00 == 0x0e78_0800 || w & 0xdf7e_0c00 == 0x5e78_0800;
    let scalar = w & (1 << 28) != 0;
    let key = (w >> 29 & 1) << 6 | (w >> 23 & 1) << 5 | (w >> 12) & 31;
    misc16
        && matches!(
            (scalar, key),
            (false, 0b0_1_11111) | (true, 0b0_1_01111) | (true, 0b1_1_11111)
        )
}

/// Unallocated FP16 encodings that qemu 7.2 executes anyway: scalar FNEG (U=1 a=1 01111).
fn qemu72_accepts(w: u32) -> bool {
    w & 0xffff_fc00 == 0x7ef8_f800
}

#[test]
fn qemu72_abort_filter_keeps_allocated_forms() {
    // The three aborting words found by bisection, and their allocated neighbours.
    for w in [0x0ef9_f822u32, 0x4ef9_f822, 0x5ef8_f822, 0x7ef9_f822] {
        assert!(qemu72_aborts(w), "{w:#x}");
    }
    for w in [0x5ef9_f822u32, 0x2ef9_f822, 0x7ef8_f822, 0x0ef8_f822] {
        assert!(!qemu72_aborts(w), "{w:#x}");
    }
}
