//! A64 integer data processing: the immediate group (PC-relative, add/sub, logical with
//! DecodeBitMasks, move wide, bitfield, extract) and the register group (shifted and
//! extended register forms, carries, conditional compare/select, 1- and 2-source, 3-source
//! multiply).

use heron_backend::Builder;

/// Data processing -- immediate. Returns false for an unallocated encoding.
pub fn translate_dp_imm(_b: &mut Builder, _insn: u32, _pc: u64) -> bool {
    false
}

/// Data processing -- register. Returns false for an unallocated encoding.
pub fn translate_dp_reg(_b: &mut Builder, _insn: u32, _pc: u64) -> bool {
    false
}
