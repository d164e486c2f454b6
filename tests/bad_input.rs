//! heron's handling of bad input: every case must end with exactly one line starting
//! with `heron: ` on stderr (the error, no panic message or backtrace), nothing on
//! stdout, and exit status 1; bad command-line flags do the same with exit status 2.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn heron_cmd(args: &[&std::ffi::OsStr]) -> Outcome {
    let mut cmd = Command::new(heron());
    cmd.args(args);
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    run_command(cmd, b"", Duration::from_secs(60))
}

fn no_panic(what: &str, o: &Outcome) {
    let err = o.stderr_str();
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "stack backtrace",
        "thread 'main'",
    ] {
        assert!(
            !err.contains(bad),
            "{what}: stderr contains {bad:?}:\n{err}"
        );
    }
    assert!(
        !matches!(o.status, Status::Signal(_) | Status::Timeout),
        "{what}: heron {}\n{err}",
        o.status
    );
}

/// Asserts the bad-input contract and returns the error line.
fn bad_input(what: &str, args: &[&std::ffi::OsStr]) -> String {
    let o = heron_cmd(args);
    no_panic(what, &o);
    let err = o.stderr_str();
    assert_eq!(o.status, Status::Exit(1), "{what}: status; stderr:\n{err}");
    assert!(
        o.stdout.is_empty(),
        "{what}: stdout not empty: {}",
        o.stdout_str()
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: want one stderr line, got:\n{err}");
    assert!(lines[0].starts_with("heron: "), "{what}: {err}");
    lines[0].to_string()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn missing_file() {
    let l = bad_input(
        "missing file",
        &[os("run"), os("/nonexistent/dir/no-such-program")],
    );
    assert!(l.contains("no-such-program"), "error names the file: {l}");
}

#[test]
fn not_an_elf_file() {
    let d = temp_dir("badinput");
    let p = d.join("script.txt");
    std::fs::write(&p, "this is not an ELF file\n").expect("write");
    bad_input("text file", &[os("run"), p.as_os_str()]);
    let empty = d.join("empty");
    std::fs::write(&empty, "").expect("write");
    bad_input("empty file", &[os("run"), empty.as_os_str()]);
}

#[test]
fn directory_as_program() {
    let d = temp_dir("badinput-dir");
    bad_input("directory", &[os("run"), d.as_os_str()]);
}

#[test]
fn truncated_elf() {
    let hello = guest("c/hello");
    let bytes = std::fs::read(&hello).expect("read hello");
    let d = temp_dir("badinput-trunc");
    for n in [16usize, 64, 200, 4096] {
        let p = d.join(format!("trunc{n}"));
        std::fs::write(&p, &bytes[..n.min(bytes.len())]).expect("write");
        bad_input(
            &format!("ELF truncated to {n} bytes"),
            &[os("run"), p.as_os_str()],
        );
    }
}

#[test]
fn corrupt_program_headers() {
    let hello = guest("c/hello");
    let mut bytes = std::fs::read(&hello).expect("read hello");
    // e_phoff (offset 32, 8 bytes) pointing far past the end of the file
    bytes[32..40].copy_from_slice(&0x7fff_ffff_0000u64.to_le_bytes());
    let d = temp_dir("badinput-phoff");
    let p = d.join("badphoff");
    std::fs::write(&p, &bytes).expect("write");
    bad_input("e_phoff out of range", &[os("run"), p.as_os_str()]);
}

#[test]
fn host_x86_64_elf() {
    let host = Path::new("/bin/true");
    let host = if host.exists() {
        host.to_path_buf()
    } else {
        heron()
    };
    let l = bad_input("x86-64 ELF", &[os("run"), host.as_os_str()]);
    assert!(
        l.to_lowercase().contains("x86")
            || l.to_lowercase().contains("machine")
            || l.to_lowercase().contains("arch")
            || l.to_lowercase().contains("risc"),
        "error should say the architecture is unsupported: {l}"
    );
}

#[test]
fn dynamic_binary_without_sysroot() {
    let dynhello = guest("c/dynhello");
    // no -L: the interpreter /lib/ld-linux-riscv64-lp64d.so.1 does not exist on the host
    if !Path::new("/lib/ld-linux-riscv64-lp64d.so.1").exists() {
        bad_input("dynamic without -L", &[os("run"), dynhello.as_os_str()]);
    }
    bad_input(
        "dynamic with a missing sysroot",
        &[
            os("run"),
            os("-L"),
            os("/nonexistent-sysroot"),
            dynhello.as_os_str(),
        ],
    );
}

#[test]
fn bad_flags() {
    let hello = guest("c/hello");
    for (what, args) in [
        (
            "unknown flag",
            vec![os("run"), os("--no-such-flag"), hello.as_os_str()],
        ),
        (
            "bad tier",
            vec![os("run"), os("--tier"), os("fast"), hello.as_os_str()],
        ),
        ("unknown subcommand", vec![os("frobnicate")]),
        ("run without program", vec![os("run")]),
    ] {
        let o = heron_cmd(&args);
        no_panic(what, &o);
        let err = o.stderr_str();
        assert_eq!(o.status, Status::Exit(2), "{what}: status; stderr:\n{err}");
        assert!(o.stdout.is_empty(), "{what}: stdout not empty");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: want one stderr line, got:\n{err}");
        assert!(lines[0].starts_with("heron: "), "{what}: {err}");
    }
}

#[test]
fn guest_arguments_are_not_heron_flags() {
    // Flags after the program belong to the guest.
    let hello = guest("c/hello");
    let mut cmd = Command::new(heron());
    cmd.arg("run").arg(&hello).args(["--tier", "-L", "-d"]);
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    let o = run_command(cmd, b"", Duration::from_secs(120));
    no_panic("guest flags", &o);
    assert_eq!(o.status, Status::Exit(0), "{}", o.stderr_str());
    let s = o.stdout_str();
    assert!(
        s.contains("argv[1]=\"--tier\"\nargv[2]=\"-L\"\nargv[3]=\"-d\"\n"),
        "{s}"
    );
}
