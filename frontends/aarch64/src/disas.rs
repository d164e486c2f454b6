//! Disassembly of A64 guest code for traces (`-d in_asm`), through capstone in ARM64 mode;
//! words capstone cannot decode are printed as `.inst 0x...` so listings never stop early.

use capstone::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// One capstone handle per thread (handles are not shareable between threads).
    static CAPSTONE: RefCell<Option<Capstone>> = RefCell::new(new_capstone());
}

fn new_capstone() -> Option<Capstone> {
    Capstone::new()
        .arm64()
        .mode(arch::arm64::ArchMode::Arm)
        .build()
        .ok()
}

/// One line per instruction in `bytes` (guest code at `pc`), like
/// `0x400078: 8b020020  add x0, x1, x2`.
pub fn disassemble(pc: u64, bytes: &[u8]) -> Vec<String> {
    CAPSTONE.with(|cs| {
        let cs = cs.borrow();
        let mut out = Vec::new();
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let addr = pc.wrapping_add(4 * i as u64);
            if chunk.len() < 4 {
                let hex: Vec<String> = chunk.iter().map(|b| format!("{b:#04x}")).collect();
                out.push(format!("{addr:#x}: .byte {}", hex.join(", ")));
                break;
            }
            let word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let text = cs
                .as_ref()
                .and_then(|cs| {
                    let insns = cs.disasm_count(chunk, addr, 1).ok()?;
                    let insn = insns.iter().next()?;
                    let mnemonic = insn.mnemonic()?.to_string();
                    Some(match insn.op_str() {
                        Some(ops) if !ops.is_empty() => format!("{mnemonic} {ops}"),
                        _ => mnemonic,
                    })
                })
                .unwrap_or_else(|| format!(".inst {word:#010x}"));
            out.push(format!("{addr:#x}: {word:08x}  {text}"));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disassembles_add_and_unknown() {
        // add x0, x1, x2 ; udf #0
        let bytes = [0x20, 0x00, 0x02, 0x8b, 0x00, 0x00, 0x00, 0x00];
        let lines = disassemble(0x1000, &bytes);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("add x0, x1, x2"), "{}", lines[0]);
        assert!(lines[1].starts_with("0x1004: 00000000"), "{}", lines[1]);
    }
}
