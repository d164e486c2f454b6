//! ELF loading for user mode: checks that a file is a RISC-V 64 or AArch64 executable (with one-line
//! user-facing errors), maps its PT_LOAD segments into guest memory with the right page
//! permissions (ET_EXEC at its addresses, ET_DYN at a chosen base), zeroes bss, and finds
//! the program interpreter.

use super::mm::{Mm, PAGE, VmaKind, page_down, page_up};
use goblin::elf::Elf;
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};
use heron_backend::GuestMemory;
use heron_backend::mem::{PERM_R, PERM_W, PERM_X};

pub const EM_RISCV: u16 = 243;
pub const EM_AARCH64: u16 = 183;

/// The guest architectures user mode runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    Riscv64,
    Aarch64,
}
/// Load address of position-independent main programs.
pub const PIE_BASE: u64 = 0x2a_aaaa_a000;

/// Where a loaded image ended up.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// Load bias (0 for ET_EXEC).
    pub bias: u64,
    /// Entry point (biased).
    pub entry: u64,
    /// Guest address of the program headers.
    pub phdr: u64,
    pub phent: u64,
    pub phnum: u64,
    /// First address past the highest segment (page aligned): the brk start.
    pub end: u64,
    /// PT_INTERP path, if any.
    pub interp: Option<String>,
    /// File-backed page ranges of the segments: (start, end, file offset of start).
    pub segments: Vec<(u64, u64, u64)>,
}

fn machine_name(m: u16) -> String {
    match m {
        3 => "i386".into(),
        8 => "MIPS".into(),
        20 => "PowerPC".into(),
        21 => "PowerPC64".into(),
        22 => "s390".into(),
        40 => "ARM".into(),
        62 => "x86-64".into(),
        183 => "AArch64".into(),
        243 => "RISC-V".into(),
        258 => "LoongArch".into(),
        n => format!("{n}"),
    }
}

/// What kind of file this is, from its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A 64-bit little-endian ELF executable or shared object of a supported guest.
    Elf(Arch),
    /// `#!interpreter [arg]` script.
    Script {
        interp: Vec<u8>,
        arg: Option<Vec<u8>>,
    },
    /// Anything else, with the reason it cannot run (for the error line).
    Other(String),
}

/// Classify a file from its contents.
pub fn classify(bytes: &[u8]) -> FileKind {
    if bytes.starts_with(b"#!") {
        let line_end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(bytes.len());
        let line = &bytes[2..line_end.min(256)];
        let line: Vec<u8> = line.to_vec();
        let trimmed: Vec<&[u8]> = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|s| !s.is_empty())
            .collect();
        let Some(first) = trimmed.first() else {
            return FileKind::Other("empty #! line".into());
        };
        // Everything after the interpreter is one argument, as Linux does.
        let first_pos = line
            .windows(first.len())
            .position(|w| w == *first)
            .unwrap_or(0);
        let rest = &line[first_pos + first.len()..];
        let rest: Vec<u8> = rest
            .iter()
            .copied()
            .skip_while(|b| *b == b' ' || *b == b'\t')
            .collect();
        let rest = rest.trim_ascii_end().to_vec();
        return FileKind::Script {
            interp: first.to_vec(),
            arg: (!rest.is_empty()).then_some(rest),
        };
    }
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return FileKind::Other("not an ELF executable".into());
    }
    if bytes.len() < 64 {
        return FileKind::Other("truncated ELF file".into());
    }
    let class = bytes[4];
    let data = bytes[5];
    let machine = if data == 2 {
        u16::from_be_bytes([bytes[18], bytes[19]])
    } else {
        u16::from_le_bytes([bytes[18], bytes[19]])
    };
    let arch = match machine {
        EM_RISCV => Arch::Riscv64,
        EM_AARCH64 => Arch::Aarch64,
        _ => Arch::Riscv64,
    };
    if !matches!(machine, EM_RISCV | EM_AARCH64) || class != 2 || data != 1 {
        let bits = match class {
            1 => "32-bit",
            2 => "64-bit",
            _ => "unknown class",
        };
        let endian = if data == 2 { ", big-endian" } else { "" };
        return FileKind::Other(format!(
            "not a RISC-V 64-bit or AArch64 ELF executable (machine {}, {bits}{endian})",
            machine_name(machine)
        ));
    }
    let etype = u16::from_le_bytes([bytes[16], bytes[17]]);
    if etype != 2 && etype != 3 {
        return FileKind::Other(format!(
            "not an executable ELF file (type {etype}: relocatable or core)"
        ));
    }
    FileKind::Elf(arch)
}

fn perms_of(flags: u32) -> u8 {
    let mut p = 0;
    if flags & PF_R != 0 {
        p |= PERM_R;
    }
    if flags & PF_W != 0 {
        p |= PERM_W;
    }
    if flags & PF_X != 0 {
        p |= PERM_X;
    }
    p
}

/// Load an ELF image. `bytes` must have passed [`classify`] as `Elf`. ET_DYN images go
/// at `dyn_base` if given, else wherever the mmap allocator finds room.
pub fn load(
    mem: &GuestMemory,
    mm: &mut Mm,
    bytes: &[u8],
    dyn_base: Option<u64>,
) -> Result<Image, String> {
    let elf = Elf::parse(bytes).map_err(|e| format!("truncated or malformed ELF file ({e})"))?;
    let loads: Vec<_> = elf
        .program_headers
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
        .collect();
    if loads.is_empty() {
        return Err("ELF file has no loadable segments".into());
    }
    for p in &loads {
        let end = p.p_offset.checked_add(p.p_filesz);
        if end.is_none_or(|e| e > bytes.len() as u64) {
            return Err("truncated ELF file (segment past end of file)".into());
        }
        if p.p_filesz > p.p_memsz || p.p_vaddr.checked_add(p.p_memsz).is_none() {
            return Err("malformed ELF file (bad segment sizes)".into());
        }
        if p.p_align > 1 && (p.p_vaddr % PAGE) != (p.p_offset % PAGE) {
            return Err("malformed ELF file (segment misaligned)".into());
        }
    }
    let lo = page_down(loads.iter().map(|p| p.p_vaddr).min().unwrap_or(0));
    let hi_raw = loads
        .iter()
        .map(|p| p.p_vaddr + p.p_memsz)
        .max()
        .unwrap_or(0);
    let hi = page_up(hi_raw).ok_or("malformed ELF file (segment past address space)")?;
    let span = hi - lo;
    let is_dyn = elf.header.e_type == goblin::elf::header::ET_DYN;
    let bias = if is_dyn {
        let base = match dyn_base {
            Some(b) => b,
            None => mm
                .find_free(span, 0)
                .ok_or("no room in the guest address space for the ELF image")?,
        };
        base.wrapping_sub(lo)
    } else {
        0
    };
    let start = lo.wrapping_add(bias);
    let end = start
        .checked_add(span)
        .filter(|&e| e <= mem.limit())
        .ok_or_else(|| format!("ELF image at {start:#x} lies outside the guest address space"))?;
    if start < mm.mmap_min.min(0x1000) {
        return Err("ELF image maps page zero".into());
    }

    mem.map_anon(start, span, PERM_R | PERM_W)
        .map_err(|e| format!("cannot map ELF image at {start:#x}: {e}"))?;
    for p in &loads {
        let data = &bytes[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize];
        mem.write_bytes(p.p_vaddr + bias, data)
            .map_err(|f| format!("cannot write segment at {:#x}", f.addr))?;
    }
    // Final page permissions: union of the segments covering each page; holes are unmapped.
    mm.insert(start, end, 0, VmaKind::Anon);
    let mut page = start;
    while page < end {
        let perms = loads
            .iter()
            .filter(|p| {
                let s = page_down(p.p_vaddr + bias);
                let e = page_up(p.p_vaddr + bias + p.p_memsz).unwrap_or(u64::MAX);
                page >= s && page < e
            })
            .fold(0u8, |acc, p| acc | perms_of(p.p_flags));
        if perms == 0 {
            mem.unmap(page, PAGE).map_err(|e| e.to_string())?;
            mm.remove(page, page + PAGE);
        } else {
            mem.protect(page, PAGE, perms).map_err(|e| e.to_string())?;
            mm.protect(page, page + PAGE, perms)
                .map_err(|_| "internal error: protect of loaded page".to_string())?;
        }
        page += PAGE;
    }

    // Program headers in guest memory: PT_PHDR if present, else inside the first segment
    // that maps file offset e_phoff.
    let phoff = elf.header.e_phoff;
    let phdr = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == PT_PHDR)
        .map(|p| p.p_vaddr + bias)
        .or_else(|| {
            loads
                .iter()
                .find(|p| phoff >= p.p_offset && phoff < p.p_offset + p.p_filesz)
                .map(|p| p.p_vaddr + (phoff - p.p_offset) + bias)
        })
        .unwrap_or(0);
    let interp = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == PT_INTERP)
        .map(|p| {
            let s = p.p_offset as usize;
            let e = (p.p_offset + p.p_filesz) as usize;
            let raw = bytes.get(s..e).unwrap_or(&[]);
            let raw = raw.split(|b| *b == 0).next().unwrap_or(&[]);
            String::from_utf8_lossy(raw).into_owned()
        });
    if interp.as_deref() == Some("") {
        return Err("malformed ELF file (empty PT_INTERP)".into());
    }
    Ok(Image {
        bias,
        entry: elf.header.e_entry.wrapping_add(bias),
        phdr,
        phent: elf.header.e_phentsize as u64,
        phnum: elf.header.e_phnum as u64,
        end,
        interp,
        segments: loads
            .iter()
            .filter(|p| p.p_filesz > 0)
            .map(|p| {
                let s = page_down(p.p_vaddr + bias);
                let e = page_up(p.p_vaddr + bias + p.p_filesz).unwrap_or(u64::MAX);
                (s, e, p.p_offset - (p.p_vaddr + bias - s))
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class: u8, machine: u16, etype: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = 1;
        h[16..18].copy_from_slice(&etype.to_le_bytes());
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn classify_files() {
        assert_eq!(classify(&header(2, 243, 2)), FileKind::Elf(Arch::Riscv64));
        assert_eq!(classify(&header(2, 243, 3)), FileKind::Elf(Arch::Riscv64));
        assert_eq!(classify(&header(2, 183, 2)), FileKind::Elf(Arch::Aarch64));
        let FileKind::Other(m) = classify(&header(2, 62, 2)) else {
            panic!()
        };
        assert_eq!(
            m,
            "not a RISC-V 64-bit or AArch64 ELF executable (machine x86-64, 64-bit)"
        );
        let FileKind::Other(m) = classify(&header(1, 243, 2)) else {
            panic!()
        };
        assert!(m.contains("RISC-V, 32-bit"));
        assert!(matches!(classify(&header(2, 243, 1)), FileKind::Other(_)));
        assert!(matches!(classify(b"\x7fELF\x02"), FileKind::Other(m) if m.contains("truncated")));
        assert!(matches!(classify(b"hello"), FileKind::Other(m) if m.contains("not an ELF")));
        assert_eq!(
            classify(b"#!/bin/sh -e -x\necho"),
            FileKind::Script {
                interp: b"/bin/sh".to_vec(),
                arg: Some(b"-e -x".to_vec())
            }
        );
        assert_eq!(
            classify(b"#! /usr/bin/env\n"),
            FileKind::Script {
                interp: b"/usr/bin/env".to_vec(),
                arg: None
            }
        );
    }

    #[test]
    fn truncated_segments_are_rejected() {
        // A header claiming one program header past the end of the file.
        let mut h = header(2, 243, 2);
        h[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        h[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        h[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        h[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let mem = GuestMemory::reserve(1 << 30).unwrap();
        let mut mm = Mm::new(0x10000, 1 << 29);
        assert!(load(&mem, &mut mm, &h, None).is_err());
    }
}
