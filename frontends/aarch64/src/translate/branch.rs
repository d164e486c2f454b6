//! A64 branches, exception generation and system instructions (hints, barriers, MRS/MSR of
//! the EL0-visible system registers with Linux's emulation of the ID registers, cache
//! maintenance, `dc zva`).

use super::{
    cond_holds, get_nzcv, get_reg, get_x, raise_exception, raise_undefined, set_nzcv, set_x,
};
use crate::cpu::{esr, features, off};
use heron_backend::Builder;
use heron_backend::ExitStatus;
use heron_backend::ir::{BinOp, Cond, Effects, FenceKind, MemOp, Ty, sext};

fn bits(insn: u32, pos: u32, len: u32) -> u32 {
    (insn >> pos) & ((1 << len) - 1)
}

/// Branches, exception generation and system. Returns true when the block ended.
pub fn translate_branch_sys(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let next = pc.wrapping_add(4);
    // B / BL
    if insn & 0x7c00_0000 == 0x1400_0000 {
        let target = pc.wrapping_add((sext(bits(insn, 0, 26) as u64, 26) << 2) as u64);
        if insn >> 31 == 1 {
            let link = b.const64(next);
            set_x(b, 30, link);
        }
        b.goto_block(target);
        return true;
    }
    // CBZ / CBNZ
    if insn & 0x7e00_0000 == 0x3400_0000 {
        let sf = insn >> 31 == 1;
        let target = pc.wrapping_add((sext(bits(insn, 5, 19) as u64, 19) << 2) as u64);
        let v = get_reg(b, sf, bits(insn, 0, 5));
        let zero = b.const_(b.ty(v), 0);
        let cond = if bits(insn, 24, 1) == 0 {
            Cond::Eq
        } else {
            Cond::Ne
        };
        let taken = b.setcond(cond, v, zero);
        cond_branch(b, taken, target, next);
        return true;
    }
    // TBZ / TBNZ
    if insn & 0x7e00_0000 == 0x3600_0000 {
        let bit = (bits(insn, 31, 1) << 5) | bits(insn, 19, 5);
        let target = pc.wrapping_add((sext(bits(insn, 5, 14) as u64, 14) << 2) as u64);
        let v = get_x(b, bits(insn, 0, 5));
        let t = b.extract(v, bit as u8, 1, false);
        let taken = if bits(insn, 24, 1) == 0 {
            b.bin_imm(BinOp::Xor, t, 1)
        } else {
            t
        };
        cond_branch(b, taken, target, next);
        return true;
    }
    // B.cond (and BC.cond)
    if insn & 0xff00_0000 == 0x5400_0000 {
        let target = pc.wrapping_add((sext(bits(insn, 5, 19) as u64, 19) << 2) as u64);
        let cond = bits(insn, 0, 4);
        if cond >= 14 {
            b.goto_block(target);
        } else {
            let taken = cond_holds(b, cond);
            cond_branch(b, taken, target, next);
        }
        return true;
    }
    // BR / BLR / RET
    if insn & 0xff9f_fc1f == 0xd61f_0000 || insn & 0xffff_fc1f == 0xd65f_0000 {
        let link = insn & 0x0060_0000 == 0x0020_0000; // BLR
        let target = get_x(b, bits(insn, 5, 5));
        if link {
            let l = b.const64(next);
            set_x(b, 30, l);
        }
        b.exit_indirect(target);
        return true;
    }
    // Exception generation
    if insn & 0xff00_0000 == 0xd400_0000 {
        let opc = bits(insn, 21, 3);
        let ll = bits(insn, 0, 2);
        let op2 = bits(insn, 2, 3);
        let imm16 = bits(insn, 5, 16) as u64;
        match (opc, op2, ll) {
            (0, 0, 1) => raise_exception(b, pc, esr::make(esr::EC_SVC64, imm16)),
            (1, 0, 0) => raise_exception(b, pc, esr::make(esr::EC_BRK64, imm16)),
            _ => raise_undefined(b, pc),
        }
        return true;
    }
    // System
    if insn & 0xffc0_0000 == 0xd500_0000 {
        if translate_system(b, insn, pc) {
            return false;
        }
        // ended or undefined
        return true;
    }
    raise_undefined(b, pc);
    true
}

fn cond_branch(b: &mut Builder, taken: heron_backend::ir::Temp, target: u64, next: u64) {
    let l = b.new_label();
    b.br_cond(taken, l);
    b.goto_block(next);
    b.label(l);
    b.goto_block(target);
}

/// System instructions. Returns true when translated without ending the block; false when
/// it ended the block (exception, undefined, or a flush).
fn translate_system(b: &mut Builder, insn: u32, pc: u64) -> bool {
    let l = bits(insn, 21, 1);
    let op0 = bits(insn, 19, 2);
    let op1 = bits(insn, 16, 3);
    let crn = bits(insn, 12, 4);
    let crm = bits(insn, 8, 4);
    let op2 = bits(insn, 5, 3);
    let rt = bits(insn, 0, 5);
    let next = pc.wrapping_add(4);
    match (l, op0) {
        (0, 0) => {
            if crn == 2 && op1 == 3 && rt == 31 {
                // Hints: NOP, YIELD, WFE, WFI, SEV, BTI, PAC hints in the NOP space... all
                // are no-ops for a user-mode vCPU without those features enabled, apart
                // from YIELD, a spin-wait loop's hint to let the lock holder run.
                if crm == 0 && op2 == 1 {
                    b.spin_wait_hint();
                }
                return true;
            }
            if crn == 3 && op1 == 3 && rt == 31 {
                match op2 {
                    2 => {
                        // CLREX
                        let none = b.const64(u64::MAX);
                        b.set_global(Ty::I64, off::EXCL_ADDR, none);
                        return true;
                    }
                    4 | 5 => {
                        // DSB / DMB: loads-only domains need acquire ordering, others full.
                        let kind = if crm & 3 == 1 {
                            FenceKind::Acquire
                        } else {
                            FenceKind::SeqCst
                        };
                        b.fence(kind);
                        return true;
                    }
                    6 => {
                        // ISB: later instructions are refetched: end the block unchained
                        // so code changed by `ic ivau` is seen.
                        b.exit(ExitStatus::Next, next);
                        return false;
                    }
                    _ => {}
                }
            }
            raise_undefined(b, pc);
            false
        }
        (0, 1) => {
            // SYS: cache maintenance reachable from EL0.
            match (op1, crn, crm, op2) {
                (3, 7, 4, 1) => {
                    // DC ZVA: zero the DCZ_BLOCK-byte block containing Xt.
                    let a = get_x(b, rt);
                    let base = b.bin_imm(BinOp::And, a, !(features::DCZ_BLOCK - 1));
                    let zero = b.const_(Ty::I128, 0);
                    for i in 0..features::DCZ_BLOCK / 16 {
                        let addr = b.bin_imm(BinOp::Add, base, i * 16);
                        b.store(zero, addr, MemOp::le(16, false));
                    }
                    true
                }
                (3, 7, 5, 1) => {
                    // IC IVAU: guest code may have changed; drop translations and leave the
                    // block unchained.
                    b.call_void(&HELPER_FLUSH_CODE, &[]);
                    b.exit(ExitStatus::Next, next);
                    false
                }
                (3, 7, 10..=14, 1) => true, // DC CVAC, CVAU, CVAP, CVADP, CIVAC
                _ => {
                    raise_undefined(b, pc);
                    false
                }
            }
        }
        (_, 2 | 3) if translate_sysreg(b, l == 1, op0, op1, crn, crm, op2, rt) => true,
        _ => {
            raise_undefined(b, pc);
            false
        }
    }
}

/// MRS (`read`) / MSR (register) of the system registers EL0 may access under Linux.
#[allow(clippy::too_many_arguments)]
fn translate_sysreg(
    b: &mut Builder,
    read: bool,
    op0: u32,
    op1: u32,
    crn: u32,
    crm: u32,
    op2: u32,
    rt: u32,
) -> bool {
    let global = match (op0, op1, crn, crm, op2) {
        (3, 3, 13, 0, 2) => Some((off::TPIDR_EL0, true)),
        (3, 3, 13, 0, 3) => Some((off::TPIDRRO_EL0, false)),
        (3, 3, 4, 4, 0) => Some((off::FPCR, true)),
        (3, 3, 4, 4, 1) => Some((off::FPSR, true)),
        _ => None,
    };
    if let Some((offset, writable)) = global {
        if read {
            let v = b.get_global(Ty::I64, offset);
            set_x(b, rt, v);
        } else {
            if !writable {
                return false;
            }
            let v = get_x(b, rt);
            let v = match offset {
                // Only the architected fields hold values.
                o if o == off::FPCR => b.bin_imm(BinOp::And, v, 0x07ff_9f00),
                o if o == off::FPSR => b.bin_imm(BinOp::And, v, 0xf800_009f),
                _ => v,
            };
            b.set_global(Ty::I64, offset, v);
        }
        return true;
    }
    if (op0, op1, crn, crm, op2) == (3, 3, 4, 2, 0) {
        if read {
            let v = get_nzcv(b);
            set_x(b, rt, v);
        } else {
            let v = get_x(b, rt);
            set_nzcv(b, v);
        }
        return true;
    }
    if !read {
        return false;
    }
    let value = match (op0, op1, crn, crm, op2) {
        (3, 3, 0, 0, 1) => features::CTR,
        (3, 3, 0, 0, 7) => features::DCZID,
        (3, 3, 14, 0, 0) => COUNTER_FREQ,
        (3, 3, 14, 0, 2) | (3, 3, 14, 0, 6) => {
            let v = b.call(&HELPER_CNTVCT, &[]);
            set_x(b, rt, v);
            return true;
        }
        (3, 0, 0, crm, op2) => match features::id_reg(crm, op2) {
            Some(v) => v,
            None => return false,
        },
        _ => return false,
    };
    let v = b.const64(value);
    set_x(b, rt, v);
    true
}

/// CNTFRQ_EL0: the generic timer runs at 62.5 MHz (qemu-aarch64's value; one tick per 16
/// host nanoseconds).
pub const COUNTER_FREQ: u64 = 62_500_000;

/// CNTVCT_EL0: host monotonic time since the first read in this process, in ticks of
/// [`COUNTER_FREQ`].
extern "C" fn helper_cntvct(_env: *mut u8) -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    // Start the count above zero so that guests never read 0 as "no counter".
    let ns = Instant::now().duration_since(start).as_nanos() as u64;
    (ns / (1_000_000_000 / COUNTER_FREQ)).wrapping_add(62_500)
}

/// `ic ivau`: every engine drops its translations before its next block.
extern "C" fn helper_flush_code(_env: *mut u8) -> u64 {
    heron_backend::engine::request_flush_all();
    0
}

heron_backend::helper!(pub HELPER_CNTVCT = helper_cntvct, 0, Effects::PURE);
// Declared as writing globals so that no optimisation may drop or move the call.
heron_backend::helper!(pub HELPER_FLUSH_CODE = helper_flush_code, 0, Effects::WRITES);
