//! Disassembly of RISC-V 64 guest code for traces (`-d in_asm`), through capstone in
//! RV64 + compressed mode. Instructions capstone does not know (e.g. Zba/Zbb/Zbs/Zicond)
//! are printed as `.insn 0x...`, so the listing never stops early.

use crate::decode::insn_len;
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
            let text = cs
                .as_ref()
                .and_then(|cs| {
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
        assert!(lines[2].starts_with("0x1007e: 20c5a533  "), "{}", lines[2]);
    }

    #[test]
    fn truncated_tail() {
        let lines = disassemble(0x1000, &[0x33, 0x05, 0xa5]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains(".2byte"), "{}", lines[0]);
    }
}
