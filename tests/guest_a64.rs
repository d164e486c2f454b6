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
    assert!(s.contains("mixed lo 80000 hi 80000"), "{s}");
    assert!(s.ends_with("atomic128 ok\n"), "{s}");
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
