//! A statically linked Go program (tests/guest/go/hello.go, GOARCH=riscv64, CGO_ENABLED=0):
//! the Go runtime's threads, futexes, signals for goroutine preemption, and its own
//! memory management, compared with qemu-riscv64 under every heron tier.

mod common;
use common::*;

#[test]
fn go_hello() {
    let g = Guest::new(guest("go/hello")).args(["one", "two"]);
    let out = check("go/hello", g, &Check::default());
    assert_eq!(out.status, Status::Exit(0));
    assert!(out.stdout_str().ends_with("done\n"), "{}", out.stdout_str());
}
