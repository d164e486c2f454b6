//! `-perfmap`: heron writes /tmp/perf-<pid>.map (`START SIZE heron:TIER:PC` per compiled
//! block, hex) in user mode and in system mode, and nothing without the option.

mod common;
use common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Runs heron with `args`; returns (exit ok, pid, stdout).
fn run_heron(args: &[String]) -> (bool, u32, String) {
    let child = Command::new(heron())
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn heron");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for heron");
    let ctx = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!ctx.contains("panicked"), "{ctx}");
    (
        out.status.success(),
        pid,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn map_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{pid}.map"))
}

/// Parses a perf map, checking every line's form; returns (start, size, tier, pc) per line.
fn parse_map(text: &str) -> Vec<(u64, u64, String, u64)> {
    let mut v = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 3, "malformed line {line:?}");
        let start = u64::from_str_radix(f[0], 16).expect("hex start");
        let size = u64::from_str_radix(f[1], 16).expect("hex size");
        assert!(start != 0 && size != 0, "empty range in {line:?}");
        let name: Vec<&str> = f[2].split(':').collect();
        assert_eq!(name.len(), 3, "malformed name in {line:?}");
        assert_eq!(name[0], "heron", "{line:?}");
        assert!(
            matches!(name[1], "jit" | "region" | "entry"),
            "unknown tier in {line:?}"
        );
        let pc = u64::from_str_radix(name[2], 16).expect("hex guest pc");
        v.push((start, size, name[1].to_string(), pc));
    }
    v
}

/// The ranges of one map never overlap (no code buffer flush in these short runs).
fn check_disjoint(map: &[(u64, u64, String, u64)]) {
    let mut r: Vec<(u64, u64)> = map.iter().map(|e| (e.0, e.0 + e.1)).collect();
    r.sort();
    for w in r.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlapping ranges {w:?}");
    }
}

#[test]
fn user_mode_perfmap_names_every_compiled_block() {
    let hello = guest("c/hello");
    let bytes = std::fs::read(&hello).expect("read hello");
    let e_entry = u64::from_le_bytes(bytes[24..32].try_into().expect("ELF header"));
    let h = hello.display().to_string();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a = vec!["run".to_string(), "--tier".into(), "jit".into()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push(h.clone());
        a
    };
    let (ok, pid, plain_out) = run_heron(&args(&[]));
    assert!(ok);
    assert!(!map_path(pid).exists(), "a map without -perfmap");

    let (ok, pid, out) = run_heron(&args(&["-perfmap"]));
    assert!(ok);
    assert_eq!(out, plain_out, "-perfmap changed the guest's output");
    let p = map_path(pid);
    let text = std::fs::read_to_string(&p).expect("perf map written");
    let _ = std::fs::remove_file(&p);
    let map = parse_map(&text);
    check_disjoint(&map);
    let jit: Vec<_> = map.iter().filter(|e| e.2 == "jit").collect();
    assert!(jit.len() > 10, "few blocks in the map:\n{text}");
    assert_eq!(map.iter().filter(|e| e.2 == "entry").count(), 1, "{text}");
    // The program's first block (static binary: the ELF entry) was compiled and named.
    let is_static = !bytes.windows(15).any(|w| w == b"ld-linux-riscv6");
    if is_static {
        assert!(
            jit.iter().any(|e| e.3 == e_entry),
            "no block at the entry {e_entry:#x}:\n{text}"
        );
    }
}

#[test]
fn system_mode_perfmap() {
    let args = common::bare_metal_args("faults", "jit", &["-perfmap"]);
    let (ok, pid, out) = run_heron(&args);
    assert!(ok && out.contains("BARE-PASS"), "{out}");
    let p = map_path(pid);
    let text = std::fs::read_to_string(&p).expect("perf map written");
    let _ = std::fs::remove_file(&p);
    let map = parse_map(&text);
    check_disjoint(&map);
    // The firmware starts at the reset address 0x80000000 (bare programs are linked there).
    assert!(
        map.iter().any(|e| e.2 == "jit" && e.3 == 0x8000_0000),
        "no block at 0x80000000:\n{text}"
    );
}
