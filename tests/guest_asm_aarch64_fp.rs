//! AArch64 FP / Advanced SIMD / crypto assembly guest tests (tests/guest/aarch64/asm/
//! {fp,simd,crypto}_*.S, standalone programs): each runs under every heron tier and is
//! compared with qemu-aarch64 (or, without qemu, with tests/guest/aarch64/expected/NAME.out).

mod common;
use common::*;

fn asm(name: &str) {
    let g = Guest::new(guest_a64(&format!("asm/{name}")));
    let expected = root().join(format!("tests/guest/aarch64/expected/{name}.out"));
    let opts = if qemu_aarch64().is_some() {
        Check::default()
    } else {
        Check {
            expected: Some((
                std::fs::read(&expected).expect("reference output"),
                Status::Exit(0),
            )),
            ..Check::default()
        }
    };
    let out = check(name, g, &opts);
    assert_eq!(out.status, Status::Exit(0), "{name}: reference exit status");
    assert!(!out.stdout.is_empty(), "{name}: no output");
}

#[test]
fn fp_scalar() {
    asm("fp_scalar");
}

#[test]
fn simd_int() {
    asm("simd_int");
}

#[test]
fn simd_fp() {
    asm("simd_fp");
}

#[test]
fn simd_ldst() {
    asm("simd_ldst");
}

#[test]
fn crypto_aes_sha() {
    asm("crypto_aes_sha");
}
