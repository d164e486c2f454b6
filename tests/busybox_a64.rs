//! Debian's static arm64 busybox (busybox-static 1.37.0-6+b9, scripts/fetch-busybox.sh arm64)
//! as a third-party aarch64 guest: the same ash scripts (tests/busybox/*.sh) and applets on
//! generated input as the riscv64 busybox test, compared byte for byte with qemu-aarch64
//! under every heron tier.

mod common;
use common::*;
use std::path::PathBuf;

fn busybox() -> PathBuf {
    common::busybox("arm64")
}

fn bb(args: &[&str]) -> Guest {
    busybox_guest("arm64", args)
}

fn script(name: &str) {
    busybox_script("arm64", name);
}
#[test]
fn a64_sh_basics() {
    script("shell_basics");
}

#[test]
fn a64_sh_pipelines_and_jobs() {
    script("pipelines");
}

#[test]
fn a64_sh_traps_and_signals() {
    script("traps");
}

#[test]
fn a64_sh_text_tools() {
    script("text_tools");
}

fn text(n: usize) -> Vec<u8> {
    let words = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    ];
    let mut x: u32 = 777;
    let mut s = String::new();
    for i in 0..n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let a = words[(x >> 16) as usize % words.len()];
        let b = words[(x >> 8) as usize % words.len()];
        s += &format!("line {i} {a} {b} {}\n", x % 1000);
    }
    s.into_bytes()
}

#[test]
fn a64_applets_on_generated_input() {
    let input = text(3000);
    let cases: Vec<Vec<&str>> = vec![
        vec!["sed", "-e", "s/alpha/ALPHA/g", "-e", "/3$/d"],
        vec!["sed", "-E", "s/^line ([0-9]+) ([a-z]+)/\\2:\\1/;y/abc/xyz/"],
        vec!["md5sum"],
        vec!["sha256sum"],
        vec!["sort", "-k4,4n", "-k3,3r"],
        vec!["wc"],
        vec!["awk", "{ s += $5 } END { print s, NR }"],
        vec!["od", "-A", "x", "-t", "x1"],
    ];
    for args in cases {
        let out = check(
            &format!("arm64 busybox {args:?}"),
            bb(&args).stdin(input.clone()),
            &Check::default(),
        );
        assert_eq!(out.status, Status::Exit(0), "{args:?}");
    }
}

#[test]
fn a64_gzip_roundtrip() {
    let input = text(8000);
    let gz = check(
        "arm64 busybox gzip",
        bb(&["gzip", "-c", "-n", "-9"]).stdin(input.clone()),
        &Check::default(),
    );
    assert_eq!(gz.status, Status::Exit(0));
    assert!(gz.stdout.len() < input.len() / 3, "gzip did not compress");
    let back = check(
        "arm64 busybox gunzip",
        bb(&["gunzip", "-c"]).stdin(gz.stdout.clone()),
        &Check::default(),
    );
    assert_eq!(back.stdout, input, "gunzip(gzip(x)) != x");
}

/// Exec'd applets in a pipeline: qemu-user cannot execve foreign binaries without
/// binfmt_misc, so the expected output is written here.
#[test]
fn a64_sh_pipeline_with_exec_applets() {
    let g = bb(&[
        "sh",
        "-c",
        "echo hello world | tr a-z A-Z; printf 'b\\nb\\na\\n' | uniq | sed s/b/B/; \
         echo abc | cat; sh -c 'exit 3'; echo status $?",
    ]);
    check(
        "arm64 busybox exec pipeline",
        g,
        &Check {
            expected: Some((
                b"HELLO WORLD\nB\na\nabc\nstatus 3\n".to_vec(),
                Status::Exit(0),
            )),
            qemu: false,
            ..Check::default()
        },
    );
}

#[test]
fn a64_busybox_is_the_recorded_binary() {
    let p = busybox();
    assert!(is_aarch64_elf(&p));
}
