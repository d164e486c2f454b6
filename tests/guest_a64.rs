//! aarch64 guest tests: assembly per instruction class (tests/guest/aarch64/asm: the integer
//! classes, and the FP/SIMD/crypto programs), C programs with glibc (the ISA-neutral ones of
//! the riscv64 suite plus tests/guest/aarch64/c), a static Go program (GOARCH=arm64) and a
//! dynamically linked Debian arm64 program run from a sysroot extracted from Debian packages
//! (scripts/fetch-arm64-sysroot.sh). Each runs under every heron tier and is compared byte
//! for byte (stdout and exit status) with qemu-aarch64 run at test time.

mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

fn asm(name: &str) {
    let g = Guest::new(guest_a64(&format!("asm/{name}")));
    let out = check(&format!("aarch64 {name}"), g, &Check::default());
    assert_eq!(out.status, Status::Exit(0), "{name}: reference exit status");
    assert!(out.stdout.len() > 100, "{name}: too little output");
}

#[test]
fn a64_int_alu() {
    asm("int_alu");
}

#[test]
fn a64_int_bits() {
    asm("int_bits");
}

#[test]
fn a64_int_muldiv() {
    asm("int_muldiv");
}

#[test]
fn a64_int_cond() {
    asm("int_cond");
}

#[test]
fn a64_branch() {
    asm("branch");
}

#[test]
fn a64_ldst() {
    asm("ldst");
}

#[test]
fn a64_atomics() {
    asm("atomics");
}

#[test]
fn a64_sysreg() {
    asm("sysreg");
}

#[test]
fn a64_fp_scalar() {
    asm("fp_scalar");
}

#[test]
fn a64_simd_int() {
    asm("simd_int");
}

#[test]
fn a64_simd_fp() {
    asm("simd_fp");
}

#[test]
fn a64_simd_ldst() {
    asm("simd_ldst");
}

/// FJCVTZS and FRINT32Z/32X/64Z/64X (scalar and vector) on edge values, every rounding mode.
#[test]
fn a64_fp_jscvt_frint() {
    asm("fp_jscvt_frint");
}

/// FEAT_FP16 scalar and Advanced SIMD on edge values under rounding modes, FZ16, FZ, DN, AHP.
#[test]
fn a64_fp_fp16() {
    asm("fp_fp16");
}

#[test]
fn a64_crypto() {
    asm("crypto_aes_sha");
}

fn c(name: &str) -> Guest {
    Guest::new(guest_a64(&format!("c/{name}")))
}

fn simple(name: &str) -> Outcome {
    let out = check(&format!("aarch64 {name}"), c(name), &Check::default());
    assert_eq!(out.status, Status::Exit(0), "{name}: reference exit status");
    out
}

#[test]
fn a64_c_exit_codes_and_signals() {
    for (mode, want) in [
        ("exit42", Status::Exit(42)),
        ("ret7", Status::Exit(7)),
        ("_exit255", Status::Exit(255)),
        ("thread", Status::Exit(3)),
        ("abort", Status::Signal(libc::SIGABRT)),
        ("segv", Status::Signal(libc::SIGSEGV)),
    ] {
        let out = check(
            &format!("aarch64 exitcode {mode}"),
            c("exitcode").args([mode]),
            &Check::default(),
        );
        assert_eq!(out.status, want, "exitcode {mode}");
    }
}

#[test]
fn a64_c_file_io() {
    let prog = guest_a64("c/fileio");
    let make = || {
        let d = temp_dir("a64-fileio");
        Guest::new(prog.clone()).args([d.to_string_lossy().into_owned()])
    };
    let out = check_with("aarch64 fileio", &make, &Check::default());
    assert_eq!(out.status, Status::Exit(0));
}

#[test]
fn a64_c_malloc_stress() {
    simple("malloc_stress");
}

#[test]
fn a64_c_threads() {
    simple("threads");
}

#[test]
fn a64_c_fork_wait_pipe() {
    simple("fork");
}

#[test]
fn a64_c_sysinfo() {
    simple("sysinfo");
}

#[test]
fn a64_c_signals_fpsimd_frames_atomics() {
    let out = simple("signals_a64");
    let s = out.stdout_str();
    assert!(s.contains("signal 11 code 1 at segv_insn fpsimd 1"), "{s}");
    assert!(s.contains("d8 after handler 3.25"), "{s}");
    assert!(s.contains("atomic 80000 locked 80000"), "{s}");
}

/// 128-bit LDXP/STXP and CASP from several threads, also against 64-bit LDADD on the same
/// pair: both halves stay consistent and no update is lost (see c/atomic128.c).
#[test]
fn a64_c_atomic128() {
    let out = simple("atomic128");
    let s = out.stdout_str();
    assert!(s.contains("mixed lo 400000 hi 400000"), "{s}");
    assert!(s.ends_with("atomic128 ok\n"), "{s}");
}

/// CPU-model registers (CTR_EL0, DCZID_EL0, CNTFRQ_EL0, MIDR_EL1, MPIDR, the ID_AA64*
/// registers through the MRS emulation) read by a C program: every line matches
/// qemu-aarch64's default `max` CPU except the feature registers (PFR0/PFR1/ZFR0/ISAR0/
/// ISAR1, HWCAP, HWCAP2), where heron reports what it implements: those lines of qemu's
/// output are replaced by heron's table, after checking that every 4-bit field heron
/// advertises there is at most qemu's (and every HWCAP bit is one qemu also has).
#[test]
fn a64_c_cpu_id_regs() {
    use heron_aarch64::cpu::features;
    let ours: Vec<(&str, u64)> = vec![
        ("id_aa64pfr0_el1", features::id_reg(4, 0).unwrap_or(0)),
        ("id_aa64pfr1_el1", features::id_reg(4, 1).unwrap_or(0)),
        ("s3_0_c0_c4_4", features::id_reg(4, 4).unwrap_or(0)),
        ("id_aa64isar0_el1", features::id_reg(6, 0).unwrap_or(0)),
        ("id_aa64isar1_el1", features::id_reg(6, 1).unwrap_or(0)),
        ("hwcap", features::hwcap()),
        ("hwcap2", features::hwcap2()),
    ];
    let fix = |out: Vec<u8>| -> Vec<u8> {
        let text = String::from_utf8_lossy(&out).into_owned();
        let mut res = String::new();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (name, val) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            match ours.iter().find(|(n, _)| *n == name) {
                Some(&(n, mine)) => {
                    let q = u64::from_str_radix(val, 16).unwrap_or(0);
                    if n.starts_with("hwcap") {
                        assert_eq!(mine & !q, 0, "{n}: heron {mine:#x} beyond qemu {q:#x}");
                    } else {
                        for f in (0..64).step_by(4) {
                            let (a, b) = ((mine >> f) & 0xf, (q >> f) & 0xf);
                            assert!(a <= b, "{n} bits {f}: heron {a} > qemu {b}");
                        }
                    }
                    res.push_str(&format!("{n:<18} {mine:016x}\n"));
                }
                None => {
                    res.push_str(line);
                    res.push('\n');
                }
            }
        }
        res.into_bytes()
    };
    let out = check(
        "aarch64 cpu_id_regs",
        c("cpu_id_regs"),
        &Check {
            fix_qemu: Some(&fix),
            ..Check::default()
        },
    );
    assert_eq!(out.status, Status::Exit(0));
    let s = out.stdout_str();
    assert!(s.contains("ctr_el0            0000000080038003\n"), "{s}");
    assert!(s.contains("id_aa64mmfr2_el1"), "{s}");
}

#[test]
fn a64_c_hwcap_id_registers_tls() {
    let out = simple("sysregs_c");
    let s = out.stdout_str();
    assert!(
        s.starts_with("machine aarch64 platform aarch64\ncpuid 1\n"),
        "{s}"
    );
}

#[test]
fn a64_go_static() {
    let g = Guest::new(guest_a64("go/hello")).args(["one", "two"]);
    let out = check("aarch64 go/hello", g, &Check::default());
    assert_eq!(out.status, Status::Exit(0));
    assert!(out.stdout_str().ends_with("done\n"), "{}", out.stdout_str());
}

/// The arm64 sysroot built from Debian packages (libc6-arm64-cross + GNU hello).
fn sysroot() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("scripts/fetch-arm64-sysroot.sh"))
        .output()
        .expect("run scripts/fetch-arm64-sysroot.sh");
    assert!(
        out.status.success(),
        "fetch-arm64-sysroot.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn a64_dynamic_debian_program_with_sysroot() {
    let s = sysroot();
    let hello = s.join("usr/bin/hello");
    assert!(is_aarch64_elf(&hello));
    for args in [vec![], vec!["-g", "dynamically linked, from a sysroot"]] {
        let g = Guest::new(hello.clone()).args(args.clone()).sysroot(&s);
        let out = check(&format!("aarch64 hello {args:?}"), g, &Check::default());
        assert_eq!(out.status, Status::Exit(0));
        assert!(!out.stdout.is_empty());
    }
    // QEMU_LD_PREFIX works like -L.
    let mut cmd = Command::new(heron());
    cmd.arg("run").arg(&hello).env("QEMU_LD_PREFIX", &s);
    let out = run_command(cmd, b"", std::time::Duration::from_secs(120));
    assert_eq!(out.status, Status::Exit(0), "{}", out.stderr_str());
    assert_eq!(out.stdout_str(), "Hello, world!\n");
}

#[test]
fn heron_aarch64_alias() {
    let d = temp_dir("a64-alias");
    let link = d.join("heron-aarch64");
    std::os::unix::fs::symlink(heron(), &link).expect("symlink");
    let cmd = {
        let mut c = Command::new(&link);
        c.arg(guest_a64("asm/int_muldiv"));
        c
    };
    let out = run_command(cmd, b"", std::time::Duration::from_secs(120));
    assert_eq!(out.status, Status::Exit(0), "{}", out.stderr_str());
    assert!(
        out.stdout_str().starts_with("mul x0"),
        "{}",
        out.stdout_str()
    );
}
