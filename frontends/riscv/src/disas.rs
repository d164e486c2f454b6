//! Disassembly of RISC-V 64 guest code for traces (`-d in_asm`), through capstone in
//! RV64 + compressed mode. The bit-manipulation, Zicond and cache-block (Zicbom/Zicboz)
//! instructions, which capstone does not know, are named from heron's own decoder, and
//! Zicbop's prefetch hints (ORIs to x0) and Zihintpause's `pause` get their own names
//! before capstone sees them; anything else capstone cannot decode is printed as
//! `.insn 0x...`, so the listing never stops early.

use crate::cpu::XREG_NAMES;
use crate::decode::{self, Op, insn_len};
use capstone::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// One capstone handle per thread (handles are not shareable between threads).
    static CAPSTONE: RefCell<Option<Capstone>> = RefCell::new(new_capstone());
}

fn new_capstone() -> Option<Capstone> {
    Capstone::new()
        .riscv()
        .mode(arch::riscv::ArchMode::RiscV64)
        .extra_mode([arch::riscv::ArchExtraMode::RiscVC].into_iter())
        .build()
        .ok()
}

/// One line per instruction in `bytes` (guest code at `pc`), like
/// `0x10078: 00a50533  add a0, a0, a0`.
pub fn disassemble(pc: u64, bytes: &[u8]) -> Vec<String> {
    CAPSTONE.with(|cs| {
        let cs = cs.borrow();
        let mut out = Vec::new();
        let mut off = 0usize;
        while off < bytes.len() {
            let addr = pc.wrapping_add(off as u64);
            let rest = &bytes[off..];
            if rest.len() < 2 {
                out.push(format!(
                    "{addr:#x}: {:02x}        .byte {:#04x}",
                    rest[0], rest[0]
                ));
                break;
            }
            let parcel = u16::from_le_bytes([rest[0], rest[1]]);
            let len = insn_len(parcel) as usize;
            if rest.len() < len {
                out.push(format!("{addr:#x}: {parcel:04x}      .2byte {parcel:#06x}"));
                break;
            }
            let raw = if len == 4 {
                u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]])
            } else {
                parcel as u32
            };
            let hex = if len == 4 {
                format!("{raw:08x}")
            } else {
                format!("{raw:04x}    ")
            };
            let own = if len == 4 {
                cbo_or_hint_text(raw)
            } else {
                None
            };
            let text = own
                .or_else(|| {
                    let cs = cs.as_ref()?;
                    let insns = cs.disasm_count(&rest[..len], addr, 1).ok()?;
                    let insn = insns.iter().next()?;
                    if insn.len() != len {
                        return None;
                    }
                    let mnemonic = insn.mnemonic()?.to_string();
                    Some(match insn.op_str() {
                        Some(ops) if !ops.is_empty() => format!("{mnemonic} {ops}"),
                        _ => mnemonic,
                    })
                })
                .or_else(|| if len == 4 { extension_text(raw) } else { None })
                .unwrap_or_else(|| {
                    if len == 4 {
                        format!(".insn {raw:#010x}")
                    } else {
                        format!(".insn {raw:#06x}")
                    }
                });
            out.push(format!("{addr:#x}: {hex}  {text}"));
            off += len;
        }
        out
    })
}

/// Assembly text of a cache-block instruction or hint, as GNU objdump writes them:
/// `cbo.zero (a0)`, `prefetch.r 64(a0)`, `pause`.
fn cbo_or_hint_text(w: u32) -> Option<String> {
    if w == decode::PAUSE {
        return Some("pause".into());
    }
    if let Some((name, offset, rs1)) = decode::prefetch_hint(w) {
        return Some(format!("{name} {offset}({})", XREG_NAMES[rs1 as usize]));
    }
    let insn = decode::decode(w)?;
    let name = match insn.op {
        Op::CboInval => "cbo.inval",
        Op::CboClean => "cbo.clean",
        Op::CboFlush => "cbo.flush",
        Op::CboZero => "cbo.zero",
        _ => return None,
    };
    Some(format!("{name} ({})", XREG_NAMES[insn.rs1 as usize]))
}

/// Assembly text of a Zba/Zbb/Zbs/Zicond instruction (capstone 5 lacks them).
fn extension_text(w: u32) -> Option<String> {
    let insn = decode::decode(w)?;
    let (rd, rs1, rs2) = (
        XREG_NAMES[insn.rd as usize],
        XREG_NAMES[insn.rs1 as usize],
        XREG_NAMES[insn.rs2 as usize],
    );
    // (name, shape): 'r' = rd, rs1, rs2; 'u' = rd, rs1; 'i' = rd, rs1, imm
    let (name, shape) = match insn.op {
        Op::Sh1add => ("sh1add", 'r'),
        Op::Sh2add => ("sh2add", 'r'),
        Op::Sh3add => ("sh3add", 'r'),
        Op::AddUw => ("add.uw", 'r'),
        Op::Sh1addUw => ("sh1add.uw", 'r'),
        Op::Sh2addUw => ("sh2add.uw", 'r'),
        Op::Sh3addUw => ("sh3add.uw", 'r'),
        Op::SlliUw => ("slli.uw", 'i'),
        Op::Andn => ("andn", 'r'),
        Op::Orn => ("orn", 'r'),
        Op::Xnor => ("xnor", 'r'),
        Op::Clz => ("clz", 'u'),
        Op::Ctz => ("ctz", 'u'),
        Op::Cpop => ("cpop", 'u'),
        Op::Clzw => ("clzw", 'u'),
        Op::Ctzw => ("ctzw", 'u'),
        Op::Cpopw => ("cpopw", 'u'),
        Op::Max => ("max", 'r'),
        Op::Maxu => ("maxu", 'r'),
        Op::Min => ("min", 'r'),
        Op::Minu => ("minu", 'r'),
        Op::SextB => ("sext.b", 'u'),
        Op::SextH => ("sext.h", 'u'),
        Op::ZextH => ("zext.h", 'u'),
        Op::Rol => ("rol", 'r'),
        Op::Ror => ("ror", 'r'),
        Op::Rori => ("rori", 'i'),
        Op::Rolw => ("rolw", 'r'),
        Op::Rorw => ("rorw", 'r'),
        Op::Roriw => ("roriw", 'i'),
        Op::OrcB => ("orc.b", 'u'),
        Op::Rev8 => ("rev8", 'u'),
        Op::Bclr => ("bclr", 'r'),
        Op::Bext => ("bext", 'r'),
        Op::Binv => ("binv", 'r'),
        Op::Bset => ("bset", 'r'),
        Op::Bclri => ("bclri", 'i'),
        Op::Bexti => ("bexti", 'i'),
        Op::Binvi => ("binvi", 'i'),
        Op::Bseti => ("bseti", 'i'),
        Op::CzeroEqz => ("czero.eqz", 'r'),
        Op::CzeroNez => ("czero.nez", 'r'),
        _ => return None,
    };
    Some(match shape {
        'r' => format!("{name} {rd}, {rs1}, {rs2}"),
        'u' => format!("{name} {rd}, {rs1}"),
        _ => format!("{name} {rd}, {rs1}, {}", insn.imm),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_32_and_16_bit_and_unknown() {
        // add a0, a0, a0 ; ret (c.jr ra) ; sh1add a0, a1, a2 (Zba: unknown to capstone 5)
        let mut code = Vec::new();
        code.extend_from_slice(&0x00a5_0533u32.to_le_bytes());
        code.extend_from_slice(&0x8082u16.to_le_bytes());
        code.extend_from_slice(&0x20c5_a533u32.to_le_bytes());
        let lines = disassemble(0x10078, &code);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "0x10078: 00a50533  add a0, a0, a0");
        assert!(lines[1].starts_with("0x1007c: 8082      "), "{}", lines[1]);
        assert!(
            lines[1].contains("ret") || lines[1].contains("jr"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "0x1007e: 20c5a533  sh1add a0, a1, a2");
    }

    #[test]
    fn bit_manipulation_and_zicond_names() {
        for (w, text) in [
            (0x6005_9513u32, "clz a0, a1"),
            (0x63f5_d513, "rori a0, a1, 63"),
            (0x0805_c53b, "zext.h a0, a1"),
            (0x0ec5_d533, "czero.eqz a0, a1, a2"),
            (0x0ec5_f533, "czero.nez a0, a1, a2"),
            (0x4805_9513, "bclri a0, a1, 0"),
            (0x6b85_d513, "rev8 a0, a1"),
        ] {
            let lines = disassemble(0, &w.to_le_bytes());
            assert_eq!(lines, vec![format!("0x0: {w:08x}  {text}")]);
        }
        // Still unknown: .insn
        let lines = disassemble(0, &0xffff_ffffu32.to_le_bytes());
        assert_eq!(lines, vec!["0x0: ffffffff  .insn 0xffffffff".to_string()]);
    }

    /// The cache-block instructions and `pause` as GNU objdump 2.40 names them (capstone 5
    /// knows none of the cache-block ones, and would call the prefetches `ori`).
    #[test]
    fn cache_block_operation_and_pause_names() {
        for (w, text) in [
            (0x0045_200fu32, "cbo.zero (a0)"),
            (0x0015_a00f, "cbo.clean (a1)"),
            (0x0022_a00f, "cbo.flush (t0)"),
            (0x0004_a00f, "cbo.inval (s1)"),
            (0x0415_6013, "prefetch.r 64(a0)"),
            (0x0035_e013, "prefetch.w 0(a1)"),
            (0x0206_6013, "prefetch.i 32(a2)"),
            (0x0100_000f, "pause"),
        ] {
            let lines = disassemble(0, &w.to_le_bytes());
            assert_eq!(lines, vec![format!("0x0: {w:08x}  {text}")]);
        }
        // An ORI to x0 that is not a prefetch stays an ORI.
        let lines = disassemble(0, &0x0025_6013u32.to_le_bytes());
        assert!(lines[0].contains("ori"), "{}", lines[0]);
    }

    #[test]
    fn truncated_tail() {
        let lines = disassemble(0x1000, &[0x33, 0x05, 0xa5]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains(".2byte"), "{}", lines[0]);
    }
}
