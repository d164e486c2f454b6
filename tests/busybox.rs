//! Debian's static riscv64 busybox as a third-party guest (scripts/fetch-busybox.sh takes
//! it from the shared initramfs or the Debian pool): ash scripts with pipelines, forks,
//! background jobs and traps (tests/busybox/*.sh), and single applets (sed, gzip/gunzip,
//! tar, md5sum, sort, tr, od, uniq, wc) on generated input, compared byte for byte with
//! qemu-riscv64 under every heron tier.
//!
//! qemu-user cannot execve a riscv64 binary on a host without binfmt_misc, so the scripts
//! only use ash builtins and the applets busybox runs without exec (awk, sort, head, cut,
//! md5sum, seq, expr, ls, cp, mkdir, rm); applets that need exec are run directly.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn busybox() -> PathBuf {
    common::busybox("riscv64")
}

fn bb(args: &[&str]) -> Guest {
    busybox_guest("riscv64", args)
}

fn script(name: &str) {
    busybox_script("riscv64", name);
}
#[test]
fn sh_basics() {
    script("shell_basics");
}

#[test]
fn sh_pipelines_and_jobs() {
    script("pipelines");
}

#[test]
fn sh_traps_and_signals() {
    script("traps");
}

#[test]
fn sh_text_tools() {
    script("text_tools");
}

/// Deterministic text: `n` lines of words from a small vocabulary.
fn text(n: usize) -> Vec<u8> {
    let words = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    ];
    let mut x: u32 = 12345;
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
fn sed() {
    let input = text(3000);
    for prog in [
        vec![
            "-e",
            "s/alpha/ALPHA/g",
            "-e",
            "/3$/d",
            "-e",
            "5,40s/line/LINE/",
        ],
        vec!["-n", "$="],
        vec!["-n", "/7 beta/p"],
        vec!["-E", "s/^line ([0-9]+) ([a-z]+)/\\2:\\1/;y/abc/xyz/"],
        vec!["-n", "100,110{p;p}"],
    ] {
        let mut args = vec!["sed"];
        args.extend(prog.iter().copied());
        check(
            &format!("busybox {args:?}"),
            bb(&args).stdin(input.clone()),
            &Check::default(),
        );
    }
}

#[test]
fn gzip_roundtrip() {
    let input = text(8000);
    let gz = check(
        "busybox gzip",
        bb(&["gzip", "-c", "-n", "-9"]).stdin(input.clone()),
        &Check::default(),
    );
    assert_eq!(gz.status, Status::Exit(0));
    assert!(gz.stdout.len() < input.len() / 3, "gzip did not compress");
    let back = check(
        "busybox gunzip",
        bb(&["gunzip", "-c"]).stdin(gz.stdout.clone()),
        &Check::default(),
    );
    assert_eq!(back.stdout, input, "gunzip(gzip(x)) != x");
}

#[test]
fn tar_create_list_extract() {
    let src = temp_dir("bb-tar-src");
    std::fs::create_dir_all(src.join("dir/sub")).expect("mkdir");
    std::fs::write(src.join("dir/a.txt"), text(50)).expect("write");
    std::fs::write(
        src.join("dir/sub/b.bin"),
        (0..=255u8).cycle().take(70000).collect::<Vec<_>>(),
    )
    .expect("write");
    std::fs::write(src.join("top"), b"top-level file\n").expect("write");
    let src_s = src.to_string_lossy().into_owned();
    let tarball = check(
        "busybox tar c",
        bb(&["tar", "-cf", "-", "-C", &src_s, "."]),
        &Check::default(),
    );
    assert_eq!(tarball.status, Status::Exit(0));
    check(
        "busybox tar t",
        bb(&["tar", "-tf", "-"]).stdin(tarball.stdout.clone()),
        &Check::default(),
    );
    // Extraction runs tar as the top-level program: `tar` inside `sh -c` would need
    // execve of busybox, which qemu-user cannot do on this host.
    let make_x = || {
        let d = temp_dir("bb-tar-x");
        bb(&["tar", "-xvf", "-"])
            .cwd(d)
            .stdin(tarball.stdout.clone())
    };
    let x = check_with("busybox tar x", &make_x, &Check::default());
    assert_eq!(x.status, Status::Exit(0));
}

#[test]
fn checksums_and_filters() {
    let input = text(2000);
    let bin: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases: Vec<(Vec<&str>, Vec<u8>)> = vec![
        (vec!["md5sum"], input.clone()),
        (vec!["sha256sum"], input.clone()),
        (vec!["sort"], input.clone()),
        (vec!["sort", "-k4,4n", "-k3,3r"], input.clone()),
        (vec!["tr", "a-z", "A-Z"], input.clone()),
        (vec!["wc"], input.clone()),
        (vec!["cut", "-d", " ", "-f", "3"], input.clone()),
        (vec!["od", "-A", "x", "-t", "x1", "-c"], bin.clone()),
        (vec!["cat"], bin.clone()),
        (vec!["awk", "{ print $3 }"], input.clone()),
    ];
    for (args, data) in cases {
        let out = check(
            &format!("busybox {args:?}"),
            bb(&args).stdin(data),
            &Check::default(),
        );
        assert_eq!(out.status, Status::Exit(0), "{args:?}");
    }
    // uniq -c on sorted words
    let mut words: Vec<&str> = std::str::from_utf8(&input)
        .expect("utf-8")
        .lines()
        .filter_map(|l| l.split(' ').nth(2))
        .collect();
    words.sort_unstable();
    let data = words.join("\n") + "\n";
    check(
        "busybox uniq -c",
        bb(&["uniq", "-c"]).stdin(data.into_bytes()),
        &Check::default(),
    );
}

/// A shell pipeline whose stages are exec'd applets (execve of a riscv64 binary from the
/// guest). qemu-user cannot run this without binfmt_misc, so the expected output is
/// written here; it needs heron to run foreign executables started by the guest.
#[test]
fn sh_pipeline_with_exec_applets() {
    let g = bb(&[
        "sh",
        "-c",
        "echo hello world | tr a-z A-Z; printf 'b\\nb\\na\\n' | uniq | sed s/b/B/; \
         echo abc | cat; sh -c 'exit 3'; echo status $?",
    ]);
    check(
        "busybox exec pipeline",
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
fn busybox_is_the_recorded_binary() {
    let p = busybox();
    let bytes = std::fs::read(&p).expect("read busybox");
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), 243, "EM_RISCV");
    assert!(is_executable(Path::new(&p)));
}
