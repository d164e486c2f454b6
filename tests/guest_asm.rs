//! Assembly guest tests (tests/guest/riscv64/asm): one test per instruction class, each
//! run under every heron tier and compared with qemu-riscv64 (Zicond, which qemu 7.2 lacks,
//! against a checked-in expected output).

mod common;
use common::*;

fn asm(name: &str) {
    let g = Guest::new(guest(&format!("asm/{name}")));
    let out = check(name, g, &Check::default());
    assert_eq!(out.status, Status::Exit(0), "{name}: reference exit status");
    assert!(!out.stdout.is_empty(), "{name}: no output");
}

#[test]
fn rv64i_alu() {
    asm("rv64i_alu");
}

#[test]
fn rv64i_mem() {
    asm("rv64i_mem");
}

#[test]
fn rv64i_branch() {
    asm("rv64i_branch");
}

#[test]
fn rv64m() {
    asm("rv64m");
}

#[test]
fn rv64a() {
    asm("rv64a");
}

#[test]
fn rvc() {
    asm("rvc");
}

#[test]
fn zba_zbb_zbs() {
    asm("zb");
}

#[test]
fn fp_arith() {
    asm("fp_arith");
}

#[test]
fn fp_misc() {
    asm("fp_misc");
}

#[test]
fn fp_cvt_fma() {
    asm("fp_cvt");
}

#[test]
fn self_modifying_code() {
    asm("smc");
}

#[test]
fn zicond() {
    // qemu 7.2 does not implement Zicond: the expected output is checked in.
    let g = Guest::new(guest("asm/zicond"));
    check(
        "zicond",
        g,
        &Check {
            expected: Some((expected_file("zicond.out"), Status::Exit(0))),
            ..Check::default()
        },
    );
}

/// The checked-in Zicond expectation is consistent with the instruction's definition
/// (guards against a wrong expected file making the test above meaningless).
#[test]
fn zicond_expected_file_is_consistent() {
    let text = String::from_utf8(expected_file("zicond.out")).expect("utf-8");
    for line in text.lines() {
        let (lhs, val) = line.split_once(": ").expect("label: value");
        let val = u64::from_str_radix(val, 16).expect("hex");
        let parts: Vec<&str> = lhs.split(' ').collect();
        let parse = |s: &str| -> u64 {
            if let Some(h) = s.strip_prefix("0x") {
                u64::from_str_radix(h, 16).expect("hex operand")
            } else {
                s.parse::<i64>().expect("decimal operand") as u64
            }
        };
        match parts[0] {
            "czero.eqz" if parts.len() == 3 => {
                let (a, b) = (parse(parts[1]), parse(parts[2]));
                assert_eq!(val, if b == 0 { 0 } else { a }, "{line}");
            }
            "czero.nez" if parts.len() == 3 => {
                let (a, b) = (parse(parts[1]), parse(parts[2]));
                assert_eq!(val, if b != 0 { 0 } else { a }, "{line}");
            }
            _ => {}
        }
    }
}

#[test]
fn raw_syscalls_and_errors() {
    asm("syscalls");
}
