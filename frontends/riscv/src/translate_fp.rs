//! Placeholder for the F/D translator (owned by the rvfp worker, who replaces this file):
//! until then every F/D instruction is reported as not handled, hence illegal.

use heron_backend::Builder;

/// Translate the F/D instruction `insn` at `pc` into `b`. Returns false, having emitted
/// nothing, when `insn` is not an F/D instruction this translator handles.
pub fn translate_fp(_b: &mut Builder, _insn: u32, _pc: u64) -> bool {
    false
}
