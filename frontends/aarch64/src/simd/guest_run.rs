//! End-to-end run of the FP/SIMD/crypto guest programs (tests/guest/aarch64/asm/{fp_*,
//! simd_*,crypto_*}.S, standalone: write and exit are their only system calls) through the
//! whole A64 translator on the interpreter and the JIT, with a minimal static-ELF loader;
//! stdout must equal qemu-aarch64's (run at test time) and the checked-in reference.
//! Skipped when the cross compiler or qemu-aarch64 is missing.

use super::tests::{Runner, Tier};
use crate::cpu::{A64Cpu, esr};
use crate::translate::translate_block;
use heron_backend::mem::{PERM_R, PERM_W, PERM_X};
use heron_backend::{Builder, ExitStatus};
use std::path::{Path, PathBuf};
use std::process::Command;

const STACK_TOP: u64 = 0x7f00_0000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build(name: &str, dir: &Path) -> Option<PathBuf> {
    let src = root().join(format!("tests/guest/aarch64/asm/{name}.S"));
    let out = dir.join(name);
    let st = Command::new("aarch64-linux-gnu-gcc")
        .args(["-nostdlib", "-static", "-march=armv8-a+crypto+crc", "-o"])
        .arg(&out)
        .arg(&src)
        .status();
    match st {
        Ok(st) => {
            assert!(st.success(), "building {name}");
            Some(out)
        }
        Err(_) => None,
    }
}

fn u64_le(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// Load the PT_LOAD segments of a static ELF64 into the runner's memory; returns the entry.
fn load(r: &Runner, elf: &[u8]) -> u64 {
    assert_eq!(&elf[..4], b"\x7fELF");
    let entry = u64_le(elf, 24);
    let phoff = u64_le(elf, 32) as usize;
    let phentsize = u16::from_le_bytes([elf[54], elf[55]]) as usize;
    let phnum = u16::from_le_bytes([elf[56], elf[57]]) as usize;
    for i in 0..phnum {
        let ph = &elf[phoff + i * phentsize..];
        if u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) != 1 {
            continue;
        }
        let off = u64_le(ph, 8) as usize;
        let vaddr = u64_le(ph, 16);
        let filesz = u64_le(ph, 32) as usize;
        let memsz = u64_le(ph, 40);
        let start = vaddr & !0xfff;
        let end = (vaddr + memsz + 0xfff) & !0xfff;
        r.mem
            .map_anon(start, end - start, PERM_R | PERM_W | PERM_X)
            .expect("map segment");
        r.mem
            .write_bytes_force(vaddr, &elf[off..off + filesz])
            .expect("copy segment");
    }
    entry
}

/// Run the program on `tier`; returns its stdout.
fn run(tier: Tier, elf: &[u8]) -> Vec<u8> {
    let mut r = Runner::new(tier, STACK_TOP - 0x10000, 0x10000);
    let entry = load(&r, elf);
    let mut cpu = Box::<A64Cpu>::default();
    cpu.hdr.pc = entry;
    cpu.x[31] = STACK_TOP - 0x100;
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        let pc = cpu.hdr.pc;
        let st = r.run_at(&mut cpu, |mem| {
            let mut b = Builder::new(pc);
            translate_block(pc, mem, &mut b).expect("translate");
            b.finish()
        });
        match st {
            ExitStatus::Next => {}
            ExitStatus::Exception => {
                let syn = cpu.exc_syndrome;
                assert_eq!(
                    esr::ec(syn),
                    esr::EC_SVC64,
                    "exception {syn:#x} at {:#x}",
                    cpu.hdr.pc
                );
                match cpu.x[8] {
                    64 => {
                        let mut buf = vec![0u8; cpu.x[2] as usize];
                        r.mem.read_bytes(cpu.x[1], &mut buf).expect("write buffer");
                        out.extend_from_slice(&buf);
                        cpu.x[0] = cpu.x[2];
                    }
                    93 => {
                        assert_eq!(cpu.x[0], 0, "exit status");
                        return out;
                    }
                    n => panic!("unexpected syscall {n}"),
                }
                cpu.hdr.pc += 4;
            }
            st => panic!("{st:?} at {:#x}", cpu.hdr.pc),
        }
    }
    panic!("guest did not exit");
}

fn check(name: &str) {
    let dir = std::env::temp_dir().join(format!("heron-a64fp-guest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let Some(exe) = build(name, &dir) else {
        eprintln!("skipping {name}: aarch64-linux-gnu-gcc missing");
        return;
    };
    let elf = std::fs::read(&exe).expect("read elf");
    let reference = std::fs::read(root().join(format!("tests/guest/aarch64/expected/{name}.out")))
        .expect("reference output");
    if let Ok(q) = Command::new("qemu-aarch64")
        .args(["-cpu", "cortex-a72"])
        .arg(&exe)
        .output()
    {
        assert!(q.status.success());
        assert!(
            q.stdout == reference,
            "{name}: checked-in reference differs from qemu"
        );
    } else {
        eprintln!("NOTICE: qemu-aarch64 missing; comparing {name} with the checked-in reference");
    }
    let _ = std::fs::remove_dir_all(&dir);
    for tier in [Tier::Interp, Tier::Jit] {
        let out = run(tier, &elf);
        if out != reference {
            let got = String::from_utf8_lossy(&out);
            let want = String::from_utf8_lossy(&reference);
            let diff: Vec<String> = got
                .lines()
                .zip(want.lines())
                .filter(|(g, w)| g != w)
                .take(10)
                .map(|(g, w)| format!("  heron: {g}\n  qemu:  {w}"))
                .collect();
            panic!(
                "{name} on {tier:?} differs ({} vs {} lines):\n{}",
                got.lines().count(),
                want.lines().count(),
                diff.join("\n")
            );
        }
    }
}

#[test]
fn guest_fp_scalar() {
    check("fp_scalar");
}

#[test]
fn guest_simd_int() {
    check("simd_int");
}

#[test]
fn guest_simd_fp() {
    check("simd_fp");
}

#[test]
fn guest_simd_ldst() {
    check("simd_ldst");
}

#[test]
fn guest_crypto_aes_sha() {
    check("crypto_aes_sha");
}
