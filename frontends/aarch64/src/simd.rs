//! Scalar floating-point and Advanced SIMD data processing (encoding group op0 = x111) and
//! the Advanced SIMD structure loads/stores. Owned by the FP/SIMD work; until it lands every
//! encoding here is unallocated (the caller raises SIGILL).

use heron_backend::Builder;

/// Translate one instruction of the "Data Processing -- Scalar Floating-Point and Advanced
/// SIMD" group. Returns false when the encoding is unallocated (nothing emitted).
pub fn translate_fp_simd(_b: &mut Builder, _insn: u32, _pc: u64) -> bool {
    false
}

/// Translate one Advanced SIMD load/store multiple/single structure instruction (LD1-4,
/// ST1-4, LD1R-4R). Returns false when unallocated (nothing emitted).
pub fn translate_ldst_struct(_b: &mut Builder, _insn: u32, _pc: u64) -> bool {
    false
}
