//! heron's command line beyond `run PROGRAM`: the observability options (-strace, -d)
//! must not change what the guest prints, and the `heron-riscv64` symlink form (for
//! binfmt_misc and Cargo runners) runs the program given as its first argument.

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

fn heron_run(args: &[&str], prog: &std::path::Path, guest_args: &[&str]) -> Outcome {
    let mut cmd = Command::new(heron());
    cmd.arg("run").args(args).arg(prog).args(guest_args);
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    run_command(cmd, b"", Duration::from_secs(120))
}

fn plain_hello() -> (std::path::PathBuf, Outcome) {
    let hello = guest("c/hello");
    let o = heron_run(&[], &hello, &["x"]);
    assert_eq!(o.status, Status::Exit(0), "{}", o.stderr_str());
    (hello, o)
}

#[test]
fn strace_logs_syscalls_to_stderr_only() {
    let (hello, plain) = plain_hello();
    let o = heron_run(&["-strace"], &hello, &["x"]);
    assert_eq!(o.status, Status::Exit(0), "{}", o.stderr_str());
    assert_eq!(o.stdout, plain.stdout, "-strace changed the guest's stdout");
    let err = o.stderr_str();
    assert!(
        err.contains("write"),
        "no write syscall in -strace log:\n{err}"
    );
    assert!(
        err.contains("exit"),
        "no exit syscall in -strace log:\n{err}"
    );
}

#[test]
fn debug_logs_go_to_stderr() {
    let (hello, plain) = plain_hello();
    for items in ["in_asm", "op", "in_asm,op,out_asm", "exec,nochain"] {
        for tier in ["interp", "jit"] {
            let o = heron_run(&["--tier", tier, "-d", items], &hello, &["x"]);
            assert_eq!(o.status, Status::Exit(0), "-d {items}: {}", o.stderr_str());
            assert_eq!(
                o.stdout, plain.stdout,
                "-d {items} --tier {tier} changed stdout"
            );
            assert!(
                !o.stderr.is_empty(),
                "-d {items} --tier {tier} logged nothing"
            );
            assert!(!o.stderr_str().contains("panicked"), "-d {items}");
        }
    }
}

#[test]
fn heron_riscv64_symlink_runs_program_directly() {
    let (hello, plain) = plain_hello();
    let d = temp_dir("symlink");
    let link = d.join("heron-riscv64");
    std::os::unix::fs::symlink(heron(), &link).expect("symlink");
    let mut cmd = Command::new(&link);
    cmd.arg(&hello).arg("x");
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    let o = run_command(cmd, b"", Duration::from_secs(120));
    assert_eq!(o.status, Status::Exit(0), "{}", o.stderr_str());
    assert_eq!(o.stdout, plain.stdout);
}
