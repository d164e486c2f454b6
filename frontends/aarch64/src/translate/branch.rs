//! A64 branches, exception generation and system instructions (hints, barriers, MRS/MSR of
//! the EL0-visible system registers, cache maintenance, `dc zva`).

use heron_backend::Builder;

/// Branches, exception generation and system. Returns true when the block ended (always
/// for branches and exceptions).
pub fn translate_branch_sys(b: &mut Builder, _insn: u32, pc: u64) -> bool {
    super::raise_undefined(b, pc);
    true
}
