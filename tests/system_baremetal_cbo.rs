//! `heron system riscv64` runs our bare-metal program for the cache-block operations
//! (tests/guest/riscv64/bare/cbo.S) on the interpreter and on the JIT: `cbo.zero` zeros
//! exactly its 64-byte block (unaligned rs1), also over code that ran (after `fence.i`
//! the zeros execute), menvcfg.CBZE gates S-mode (illegal instruction with the
//! instruction as mtval, then the same routine works once enabled), menvcfg's CMO fields
//! are WARL, and under Sv39 `cbo.clean/flush/inval/zero` on an unmapped address raise
//! store page faults with mtval = rs1 while on mapped memory the management ops are
//! no-ops.

mod common;

use common::{Status, heron, run_command};
use std::process::Command;
use std::time::Duration;

fn bare(name: &str, tier: &str) -> common::Outcome {
    let bin = common::guest(&format!("bare/{name}.bin"));
    let mut cmd = Command::new(heron());
    cmd.args([
        "system",
        "riscv64",
        "-M",
        "virt",
        "-nographic",
        "-m",
        "64M",
        "-bios",
    ]);
    cmd.arg(&bin);
    cmd.args(["--tier", tier]);
    run_command(cmd, b"", Duration::from_secs(120))
}

#[test]
fn bare_cbo_zero_management_and_envcfg_gates() {
    for tier in ["interp", "jit"] {
        let o = bare("cbo", tier);
        let out = o.stdout_str();
        let ctx = format!("cbo ({tier}): {}\n{out}\n{}", o.status, o.stderr_str());
        assert!(out.contains("BARE-CBO-OK"), "{ctx}");
        assert!(out.contains("BARE-PASS"), "{ctx}");
        assert_eq!(o.status, Status::Exit(0), "{ctx}");
    }
}
