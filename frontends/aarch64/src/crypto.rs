//! Cryptographic extension instructions and CRC32. Owned by the FP/SIMD work; until it
//! lands CRC32 is unallocated (the caller raises SIGILL, and HWCAP does not advertise it).

use heron_backend::Builder;

/// Translate CRC32{B,H,W,X} / CRC32C{B,H,W,X}. Returns false when not implemented.
pub fn translate_crc32(_b: &mut Builder, _insn: u32, _pc: u64) -> bool {
    false
}
