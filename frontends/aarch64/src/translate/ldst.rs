//! A64 loads and stores: single registers (all addressing modes), pairs, literals,
//! exclusives with a monitor, acquire/release (LDAR/STLR/LDAPR/LDAPUR/STLUR), LSE atomics
//! (LD<op>, SWP, CAS, CASP), and the scalar FP/SIMD register forms; the Advanced SIMD
//! structure forms go to [`crate::simd::translate_ldst_struct`].
//!
//! Ordering: acquire loads are followed by an acquire fence; release stores are done as an
//! atomic exchange (a full barrier on the host), so release-then-acquire pairs stay ordered.

use super::{get_x, get_xsp, set_x, set_xsp};
use crate::cpu::off;
use heron_backend::Builder;
use heron_backend::ir::{BinOp, Cond, FenceKind, MemOp, RmwOp, Temp, Ty, UnOp, sext};

fn bits(insn: u32, pos: u32, len: u32) -> u32 {
    (insn >> pos) & ((1 << len) - 1)
}

fn int_ty(size: u32) -> Ty {
    match size {
        1 => Ty::I8,
        2 => Ty::I16,
        4 => Ty::I32,
        8 => Ty::I64,
        _ => Ty::I128,
    }
}

/// Loads and stores. Returns false for an unallocated encoding.
pub fn translate_ldst(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let op0 = bits(insn, 28, 2);
    let v = bits(insn, 26, 1) == 1;
    match op0 {
        0 => {
            if v {
                crate::simd::translate_ldst_struct(b, insn, pc)
            } else {
                translate_exclusive(b, insn)
            }
        }
        1 => {
            if bits(insn, 24, 1) == 0 {
                translate_literal(b, insn, pc)
            } else if !v && bits(insn, 21, 1) == 0 && bits(insn, 10, 2) == 0 {
                translate_rcpc_unscaled(b, insn)
            } else {
                false
            }
        }
        2 => translate_pair(b, insn),
        _ => translate_single(b, insn),
    }
}

/// What a single-register access does.
#[derive(Clone, Copy)]
enum Access {
    /// Store `size` bytes of the register.
    Store,
    /// Load `size` bytes, zero- or sign-extended to 64 (`to32`: sign-extended to 32 and
    /// zero-extended above).
    Load {
        signed: bool,
        to32: bool,
    },
    Prefetch,
}

/// Decode size/opc of an integer single-register access: (bytes, access), or None.
fn int_access(size: u32, opc: u32) -> Option<(u32, Access)> {
    let bytes = 1 << size;
    Some(match opc {
        0 => (bytes, Access::Store),
        1 => (
            bytes,
            Access::Load {
                signed: false,
                to32: false,
            },
        ),
        2 if size == 3 => (8, Access::Prefetch),
        2 => (
            bytes,
            Access::Load {
                signed: true,
                to32: false,
            },
        ),
        _ if size >= 2 => return None,
        _ => (
            bytes,
            Access::Load {
                signed: true,
                to32: true,
            },
        ),
    })
}

/// Bytes of an FP/SIMD single-register access (size and opc<1>), or None.
fn fp_bytes(size: u32, opc: u32) -> Option<u32> {
    match (size, opc >> 1) {
        (0, 1) => Some(16),
        (s, 0) => Some(1 << s),
        _ => None,
    }
}

/// Perform an integer access of register `rt` at `addr`.
fn do_int(b: &mut Builder, access: Access, bytes: u32, rt: u32, addr: Temp) {
    match access {
        Access::Store => {
            let v = get_x(b, rt);
            let v = if bytes == 8 {
                v
            } else {
                b.trunc(v, int_ty(bytes))
            };
            b.store(v, addr, MemOp::le(bytes as u8, false));
        }
        Access::Load { signed, to32 } => {
            let v = if to32 {
                let v = b.load(Ty::I32, addr, MemOp::le(bytes as u8, true));
                b.zext(v, Ty::I64)
            } else {
                b.load(Ty::I64, addr, MemOp::le(bytes as u8, signed))
            };
            set_x(b, rt, v);
        }
        Access::Prefetch => {}
    }
}

/// Load or store SIMD&FP register `rt` (`bytes` of it) at `addr`. Loads zero the rest of
/// the register.
pub fn do_fp(b: &mut Builder, load: bool, bytes: u32, rt: u32, addr: Temp) {
    let ty = int_ty(bytes);
    if load {
        let v = b.load(ty, addr, MemOp::le(bytes as u8, false));
        let v = if ty == Ty::I128 {
            v
        } else {
            b.zext(v, Ty::I128)
        };
        b.set_global(Ty::I128, off::v(rt), v);
    } else {
        let v = b.get_global(ty, off::v(rt));
        b.store(v, addr, MemOp::le(bytes as u8, false));
    }
}

/// Load/store register: unsigned offset, unscaled, pre/post-indexed, unprivileged,
/// register offset, and the LSE atomic memory operations.
fn translate_single(b: &mut Builder, insn: u32) -> bool {
    let size = bits(insn, 30, 2);
    let v = bits(insn, 26, 1) == 1;
    let opc = bits(insn, 22, 2);
    let rn = bits(insn, 5, 5);
    let rt = bits(insn, 0, 5);
    // Decode the access first.
    let (bytes, access) = if v {
        let Some(bytes) = fp_bytes(size, opc) else {
            return false;
        };
        let access = if opc & 1 == 1 {
            Access::Load {
                signed: false,
                to32: false,
            }
        } else {
            Access::Store
        };
        (bytes, access)
    } else if bits(insn, 24, 1) == 0 && bits(insn, 21, 1) == 1 && bits(insn, 10, 2) == 0 {
        return translate_atomic(b, insn);
    } else {
        match int_access(size, opc) {
            Some(x) => x,
            None => return false,
        }
    };
    let scale = bytes.trailing_zeros();
    let base = get_xsp(b, rn);
    // (address, writeback value)
    let (addr, wb) = if bits(insn, 24, 1) == 1 {
        let imm = (bits(insn, 10, 12) as u64) << scale;
        (add_imm(b, base, imm), None)
    } else if bits(insn, 21, 1) == 0 {
        let imm = sext(bits(insn, 12, 9) as u64, 9) as u64;
        match bits(insn, 10, 2) {
            0 | 2 => (add_imm(b, base, imm), None), // unscaled / unprivileged
            1 => {
                let nb = add_imm(b, base, imm);
                (base, Some(nb))
            }
            _ => {
                let nb = add_imm(b, base, imm);
                (nb, Some(nb))
            }
        }
    } else if bits(insn, 10, 2) == 2 {
        let option = bits(insn, 13, 3);
        if option & 2 == 0 {
            return false;
        }
        let shift = if bits(insn, 12, 1) == 1 { scale } else { 0 };
        let m = get_x(b, bits(insn, 16, 5));
        let len = 8u8 << (option & 3);
        let m = if len == 64 {
            m
        } else {
            b.extract(m, 0, len, option & 4 != 0)
        };
        let m = if shift == 0 {
            m
        } else {
            b.bin_imm(BinOp::Shl, m, shift as u64)
        };
        (b.bin(BinOp::Add, base, m), None)
    } else {
        return false; // PAC loads (LDRAA/LDRAB)
    };
    if v {
        do_fp(b, matches!(access, Access::Load { .. }), bytes, rt, addr);
    } else {
        do_int(b, access, bytes, rt, addr);
    }
    if let Some(nb) = wb {
        set_xsp(b, rn, nb);
    }
    true
}

fn add_imm(b: &mut Builder, base: Temp, imm: u64) -> Temp {
    if imm == 0 {
        base
    } else {
        b.bin_imm(BinOp::Add, base, imm)
    }
}

/// LDR (literal) for W, X, SW, PRFM and the S/D/Q forms.
fn translate_literal(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let opc = bits(insn, 30, 2);
    let v = bits(insn, 26, 1) == 1;
    let rt = bits(insn, 0, 5);
    let target = pc.wrapping_add((sext(bits(insn, 5, 19) as u64, 19) << 2) as u64);
    let addr = b.const64(target);
    if v {
        let bytes = match opc {
            0 => 4,
            1 => 8,
            2 => 16,
            _ => return false,
        };
        do_fp(b, true, bytes, rt, addr);
    } else {
        let (bytes, access) = match opc {
            0 => (
                4,
                Access::Load {
                    signed: false,
                    to32: false,
                },
            ),
            1 => (
                8,
                Access::Load {
                    signed: false,
                    to32: false,
                },
            ),
            2 => (
                4,
                Access::Load {
                    signed: true,
                    to32: false,
                },
            ),
            _ => (8, Access::Prefetch),
        };
        do_int(b, access, bytes, rt, addr);
    }
    true
}

/// LDAPUR*/STLUR* (RCpc, unscaled signed offset).
fn translate_rcpc_unscaled(b: &mut Builder, insn: u32) -> bool {
    let size = bits(insn, 30, 2);
    let opc = bits(insn, 22, 2);
    let Some((bytes, access)) = int_access(size, opc) else {
        return false;
    };
    if matches!(access, Access::Prefetch) {
        return false;
    }
    let rn = bits(insn, 5, 5);
    let rt = bits(insn, 0, 5);
    let base = get_xsp(b, rn);
    let imm = sext(bits(insn, 12, 9) as u64, 9) as u64;
    let addr = add_imm(b, base, imm);
    match access {
        Access::Store => store_release(b, rt, bytes, addr, false),
        _ => {
            do_int(b, access, bytes, rt, addr);
            b.fence(FenceKind::Acquire);
        }
    }
    true
}

/// Store-release of `bytes` of register `rt`, as an atomic exchange (a full barrier).
fn store_release(b: &mut Builder, rt: u32, bytes: u32, addr: Temp, aligned: bool) {
    let v = get_x(b, rt);
    let ty = int_ty(bytes);
    let v = if ty == Ty::I64 { v } else { b.trunc(v, ty) };
    let mem = MemOp::le(bytes as u8, false);
    if aligned {
        b.atomic_rmw(RmwOp::Xchg, addr, v, mem.with_aligned());
    } else {
        b.fence(FenceKind::SeqCst);
        b.store(v, addr, mem);
        b.fence(FenceKind::SeqCst);
    }
}

/// Load/store pair: STP/LDP/LDPSW/STNP/LDNP, integer and SIMD&FP, all index modes.
fn translate_pair(b: &mut Builder, insn: u32) -> bool {
    let opc = bits(insn, 30, 2);
    let v = bits(insn, 26, 1) == 1;
    let mode = bits(insn, 23, 2);
    let load = bits(insn, 22, 1) == 1;
    let rt2 = bits(insn, 10, 5);
    let rn = bits(insn, 5, 5);
    let rt = bits(insn, 0, 5);
    let (bytes, signed): (u32, bool) = if v {
        match opc {
            0 => (4, false),
            1 => (8, false),
            2 => (16, false),
            _ => return false,
        }
    } else {
        match opc {
            0 => (4, false),
            1 if load && mode != 0 => (4, true), // LDPSW
            2 => (8, false),
            _ => return false,
        }
    };
    let imm = (sext(bits(insn, 15, 7) as u64, 7) << bytes.trailing_zeros()) as u64;
    let base = get_xsp(b, rn);
    let (addr, wb) = match mode {
        0 | 2 => (add_imm(b, base, imm), None),
        1 => {
            let nb = add_imm(b, base, imm);
            (base, Some(nb))
        }
        _ => {
            let nb = add_imm(b, base, imm);
            (nb, Some(nb))
        }
    };
    let addr2 = b.bin_imm(BinOp::Add, addr, bytes as u64);
    if v {
        if load {
            // Both loads happen before either register is written.
            let ty = int_ty(bytes);
            let a = b.load(ty, addr, MemOp::le(bytes as u8, false));
            let c = b.load(ty, addr2, MemOp::le(bytes as u8, false));
            for (r, val) in [(rt, a), (rt2, c)] {
                let val = if ty == Ty::I128 {
                    val
                } else {
                    b.zext(val, Ty::I128)
                };
                b.set_global(Ty::I128, off::v(r), val);
            }
        } else {
            do_fp(b, false, bytes, rt, addr);
            do_fp(b, false, bytes, rt2, addr2);
        }
    } else if load {
        let a = b.load(Ty::I64, addr, MemOp::le(bytes as u8, signed));
        let c = b.load(Ty::I64, addr2, MemOp::le(bytes as u8, signed));
        set_x(b, rt, a);
        set_x(b, rt2, c);
    } else {
        do_int(b, Access::Store, bytes, rt, addr);
        do_int(b, Access::Store, bytes, rt2, addr2);
    }
    if let Some(nb) = wb {
        set_xsp(b, rn, nb);
    }
    true
}

/// Exclusives (LDXR/STXR/LDAXR/STLXR and pairs), LDAR/STLR/LDLAR/STLLR, CAS, CASP.
fn translate_exclusive(b: &mut Builder, insn: u32) -> bool {
    let size = bits(insn, 30, 2);
    let o2 = bits(insn, 23, 1);
    let l = bits(insn, 22, 1) == 1;
    let o1 = bits(insn, 21, 1);
    let rs = bits(insn, 16, 5);
    let o0 = bits(insn, 15, 1) == 1;
    let rt2 = bits(insn, 10, 5);
    let rn = bits(insn, 5, 5);
    let rt = bits(insn, 0, 5);
    let bytes = 1u32 << size;
    match (o2, o1) {
        (0, 0) => {
            let addr = get_xsp(b, rn);
            if l {
                load_exclusive(b, addr, bytes, rt, None, o0);
            } else {
                store_exclusive(b, addr, bytes, rs, rt, None, o0);
            }
            true
        }
        (0, 1) if size >= 2 => {
            let addr = get_xsp(b, rn);
            if l {
                load_exclusive(b, addr, bytes, rt, Some(rt2), o0);
            } else {
                store_exclusive(b, addr, bytes, rs, rt, Some(rt2), o0);
            }
            true
        }
        (0, 1) => {
            // CASP (size 0: 32-bit pairs, 1: 64-bit pairs)
            if rt2 != 31 || rs & 1 == 1 || rt & 1 == 1 {
                return false;
            }
            translate_casp(b, size == 1, rs, rt, rn, l, o0);
            true
        }
        (1, 0) => {
            // LDAR/LDLAR, STLR/STLLR (o0 = 0: LORegion forms, same effect here)
            if rt2 != 31 {
                return false;
            }
            let addr = get_xsp(b, rn);
            if l {
                let v = b.load(Ty::I64, addr, MemOp::le(bytes as u8, false).with_aligned());
                b.fence(FenceKind::Acquire);
                set_x(b, rt, v);
            } else {
                store_release(b, rt, bytes, addr, true);
            }
            true
        }
        _ => {
            // CAS, CASA, CASL, CASAL (bytes, halfwords, words, doublewords)
            if rt2 != 31 {
                return false;
            }
            let addr = get_xsp(b, rn);
            let ty = int_ty(bytes);
            let expected = get_x(b, rs);
            let expected = if ty == Ty::I64 {
                expected
            } else {
                b.trunc(expected, ty)
            };
            let new = get_x(b, rt);
            let new = if ty == Ty::I64 { new } else { b.trunc(new, ty) };
            let old = b.cmpxchg(
                addr,
                expected,
                new,
                MemOp::le(bytes as u8, false).with_aligned(),
            );
            if l {
                b.fence(FenceKind::Acquire);
            }
            set_x(b, rs, old);
            true
        }
    }
}

/// LDXR/LDAXR (and LDXP/LDAXP when `rt2`): load, then open the monitor on the address.
fn load_exclusive(
    b: &mut Builder,
    addr: Temp,
    bytes: u32,
    rt: u32,
    rt2: Option<u32>,
    acquire: bool,
) {
    match rt2 {
        None => {
            let v = b.load(Ty::I64, addr, MemOp::le(bytes as u8, false).with_aligned());
            b.set_global(Ty::I64, off::EXCL_VAL, v);
            set_x(b, rt, v);
        }
        Some(rt2) if bytes == 4 => {
            let v = b.load(Ty::I64, addr, MemOp::le(8, false).with_aligned());
            b.set_global(Ty::I64, off::EXCL_VAL, v);
            let lo = b.extract(v, 0, 32, false);
            let hi = b.bin_imm(BinOp::ShrU, v, 32);
            set_x(b, rt, lo);
            set_x(b, rt2, hi);
        }
        Some(rt2) => {
            let v = b.load(Ty::I128, addr, MemOp::le(16, false).with_aligned());
            let lo = b.trunc(v, Ty::I64);
            let hi = b.bin_imm(BinOp::ShrU, v, 64);
            let hi = b.trunc(hi, Ty::I64);
            b.set_global(Ty::I64, off::EXCL_VAL, lo);
            b.set_global(Ty::I64, off::EXCL_VAL2, hi);
            set_x(b, rt, lo);
            set_x(b, rt2, hi);
        }
    }
    b.set_global(Ty::I64, off::EXCL_ADDR, addr);
    if acquire {
        b.fence(FenceKind::Acquire);
    }
}

/// STXR/STLXR (and STXP/STLXP when `rt2`): store if the monitor holds `addr` and memory
/// still holds the value the load-exclusive read; Ws = 0 on success, 1 on failure. The
/// monitor is always closed.
fn store_exclusive(
    b: &mut Builder,
    addr: Temp,
    bytes: u32,
    rs: u32,
    rt: u32,
    rt2: Option<u32>,
    release: bool,
) {
    if release {
        b.fence(FenceKind::SeqCst);
    }
    let status = b.temp(Ty::I64);
    let one = b.const64(1);
    b.mov(status, one);
    let l_try = b.new_label();
    let l_done = b.new_label();
    let held = b.get_global(Ty::I64, off::EXCL_ADDR);
    let same = b.setcond(Cond::Eq, addr, held);
    b.br_cond(same, l_try);
    b.br(l_done);
    b.label(l_try);
    let expected = b.get_global(Ty::I64, off::EXCL_VAL);
    match rt2 {
        Some(rt2) if bytes == 8 => {
            // 128-bit pair: one 16-byte compare-and-swap of both halves (single-copy atomic
            // on every tier, see `cas_pair128`).
            let exp_hi = b.get_global(Ty::I64, off::EXCL_VAL2);
            let lo = get_x(b, rt);
            let hi = get_x(b, rt2);
            let (old_lo, old_hi) = cas_pair128(b, addr, (expected, exp_hi), (lo, hi));
            let d_lo = b.bin(BinOp::Xor, old_lo, expected);
            let d_hi = b.bin(BinOp::Xor, old_hi, exp_hi);
            let d = b.bin(BinOp::Or, d_lo, d_hi);
            let zero = b.const64(0);
            let failed = b.setcond(Cond::Ne, d, zero);
            b.mov(status, failed);
        }
        _ => {
            let (size, new) = match rt2 {
                Some(rt2) => {
                    let lo = get_x(b, rt);
                    let hi = get_x(b, rt2);
                    (8, b.deposit(lo, hi, 32, 32))
                }
                None => (bytes, get_x(b, rt)),
            };
            let ty = int_ty(size);
            let (expected, new) = if ty == Ty::I64 {
                (expected, new)
            } else {
                (b.trunc(expected, ty), b.trunc(new, ty))
            };
            let old = b.cmpxchg(
                addr,
                expected,
                new,
                MemOp::le(size as u8, false).with_aligned(),
            );
            let failed = b.setcond(Cond::Ne, old, expected);
            b.mov(status, failed);
        }
    }
    b.label(l_done);
    let none = b.const64(u64::MAX);
    b.set_global(Ty::I64, off::EXCL_ADDR, none);
    set_x(b, rs, status);
}

/// One 16-byte compare-and-swap at `addr` (16-byte aligned, else an alignment fault) of the
/// little-endian pair (lo, hi): stores `new` if memory holds `expected`; returns the old
/// pair. The IR's 16-byte `Cmpxchg` is `lock cmpxchg16b` on the host in both the
/// interpreter and the JIT, so it is atomic against the other guest threads' 128-bit and
/// narrower atomics, as CASP and STXP require.
fn cas_pair128(
    b: &mut Builder,
    addr: Temp,
    expected: (Temp, Temp),
    new: (Temp, Temp),
) -> (Temp, Temp) {
    let e = pair128(b, expected.0, expected.1);
    let n = pair128(b, new.0, new.1);
    let old = b.cmpxchg(addr, e, n, MemOp::le(16, false).with_aligned());
    let lo = b.trunc(old, Ty::I64);
    let hi = b.bin_imm(BinOp::ShrU, old, 64);
    let hi = b.trunc(hi, Ty::I64);
    (lo, hi)
}

/// The I128 value hi:lo of two I64 halves.
fn pair128(b: &mut Builder, lo: Temp, hi: Temp) -> Temp {
    let lo = b.zext(lo, Ty::I128);
    let hi = b.zext(hi, Ty::I128);
    let hi = b.bin_imm(BinOp::Shl, hi, 64);
    b.bin(BinOp::Or, hi, lo)
}

/// CASP/CASPA/CASPL/CASPAL on register pairs (Xs, Xs+1) and (Xt, Xt+1).
fn translate_casp(b: &mut Builder, wide: bool, rs: u32, rt: u32, rn: u32, acq: bool, rel: bool) {
    let addr = get_xsp(b, rn);
    if rel {
        b.fence(FenceKind::SeqCst);
    }
    if !wide {
        let e_lo = get_x(b, rs);
        let e_hi = get_x(b, rs + 1);
        let expected = b.deposit(e_lo, e_hi, 32, 32);
        let n_lo = get_x(b, rt);
        let n_hi = get_x(b, rt + 1);
        let new = b.deposit(n_lo, n_hi, 32, 32);
        let old = b.cmpxchg(addr, expected, new, MemOp::le(8, false).with_aligned());
        let lo = b.extract(old, 0, 32, false);
        let hi = b.bin_imm(BinOp::ShrU, old, 32);
        set_x(b, rs, lo);
        set_x(b, rs + 1, hi);
    } else {
        let e_lo = get_x(b, rs);
        let e_hi = get_x(b, rs + 1);
        let n_lo = get_x(b, rt);
        let n_hi = get_x(b, rt + 1);
        let (old_lo, old_hi) = cas_pair128(b, addr, (e_lo, e_hi), (n_lo, n_hi));
        set_x(b, rs, old_lo);
        set_x(b, rs + 1, old_hi);
    }
    if acq {
        b.fence(FenceKind::Acquire);
    }
}

/// LSE atomic memory operations: LD{ADD,CLR,EOR,SET,SMAX,SMIN,UMAX,UMIN}, SWP, LDAPR.
fn translate_atomic(b: &mut Builder, insn: u32) -> bool {
    let size = bits(insn, 30, 2);
    let a = bits(insn, 23, 1) == 1;
    let r = bits(insn, 22, 1) == 1;
    let rs = bits(insn, 16, 5);
    let o3 = bits(insn, 15, 1);
    let opc = bits(insn, 12, 3);
    let rn = bits(insn, 5, 5);
    let rt = bits(insn, 0, 5);
    let bytes = 1u32 << size;
    let ty = int_ty(bytes);
    let mem = MemOp::le(bytes as u8, false).with_aligned();
    let addr = get_xsp(b, rn);
    if o3 == 1 {
        match opc {
            0 => {}
            4 if a && !r && rs == 31 => {
                // LDAPR
                let v = b.load(Ty::I64, addr, mem);
                b.fence(FenceKind::Acquire);
                set_x(b, rt, v);
                return true;
            }
            _ => return false,
        }
    }
    let op = match (o3, opc) {
        (1, _) => RmwOp::Xchg,
        (_, 0) => RmwOp::Add,
        (_, 1) => RmwOp::And, // LDCLR: and with the complement
        (_, 2) => RmwOp::Xor,
        (_, 3) => RmwOp::Or,
        (_, 4) => RmwOp::MaxS,
        (_, 5) => RmwOp::MinS,
        (_, 6) => RmwOp::MaxU,
        _ => RmwOp::MinU,
    };
    let v = get_x(b, rs);
    let v = if ty == Ty::I64 { v } else { b.trunc(v, ty) };
    let v = if o3 == 0 && opc == 1 {
        b.un(UnOp::Not, v)
    } else {
        v
    };
    if r {
        b.fence(FenceKind::SeqCst);
    }
    let old = b.atomic_rmw(op, addr, v, mem);
    if a {
        b.fence(FenceKind::Acquire);
    }
    set_x(b, rt, old);
    true
}
