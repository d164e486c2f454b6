//! Execution tests of the translator: hand-encoded or assembled guest code run on the
//! reference interpreter.

use super::*;

#[test]
fn undefined_ends_block() {
    let mut b = Builder::new(0x1000);
    assert!(translate_insn(&mut b, 0x0000_0000, 0x1000));
}
