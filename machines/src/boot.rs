//! Boot images for the riscv64 `virt` board: places firmware (`-bios`, at RAM base), the
//! kernel (`-kernel`, a RISC-V `Image` at RAM base + 2 MiB), the initrd, the generated
//! device tree and OpenSBI's `fw_dynamic_info` in guest RAM, and returns the register
//! state the boot hart starts with (pc, a0 = hart id, a1 = DTB, a2 = fw_dynamic_info).
//! Layout: initrd at the middle of RAM (or right after the kernel if that is higher), the
//! DTB at the top of RAM aligned down to 2 MiB, the info block just below the DTB.

use crate::riscv_virt::{BoardError, FdtOptions, RAM_BASE, VirtBoard};

pub const KERNEL_OFFSET: u64 = 0x20_0000;
pub const FW_DYNAMIC_INFO_MAGIC: u64 = 0x4942_534f; // "OSBI"
pub const FW_DYNAMIC_INFO_VERSION: u64 = 2;
pub const NEXT_MODE_S: u64 = 1;
/// "RSC\x05" at offset 56 of a RISC-V Linux `Image` header.
pub const IMAGE_MAGIC2: u32 = 0x0543_5352;

/// What to load.
#[derive(Default)]
pub struct BootImages<'a> {
    pub firmware: Option<&'a [u8]>,
    pub kernel: Option<&'a [u8]>,
    pub initrd: Option<&'a [u8]>,
    pub fdt: FdtOptions,
}

/// Where things went and how the boot hart starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootInfo {
    /// Start address of the boot hart (firmware if any, else the kernel).
    pub pc: u64,
    pub a0_hartid: u64,
    pub a1_fdt: u64,
    /// Address of fw_dynamic_info (meaningful to fw_dynamic; others ignore a2).
    pub a2_fw_dynamic_info: u64,
    pub kernel: Option<(u64, u64)>,
    pub initrd: Option<(u64, u64)>,
    pub fdt: (u64, u64),
}

/// The memory footprint of a kernel: the `Image` header's image_size when the header is
/// valid and larger than the file, else the file size.
pub fn kernel_footprint(kernel: &[u8]) -> u64 {
    let file = kernel.len() as u64;
    if kernel.len() >= 64
        && u32::from_le_bytes([kernel[56], kernel[57], kernel[58], kernel[59]]) == IMAGE_MAGIC2
    {
        let mut b = [0u8; 8];
        b.copy_from_slice(&kernel[16..24]);
        return u64::from_le_bytes(b).max(file);
    }
    file
}

const fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

/// Loads the images into `board`'s RAM and returns the boot register state.
pub fn load(board: &VirtBoard, images: &BootImages<'_>) -> Result<BootInfo, BoardError> {
    let ram = &board.ram;
    let ram_end = RAM_BASE + ram.len();
    let too_big = |what: &'static str| BoardError::Config(what);
    let mut used_end = RAM_BASE;
    if let Some(fw) = images.firmware {
        if fw.len() as u64 > KERNEL_OFFSET {
            return Err(too_big(
                "firmware larger than 2 MiB would overlap the kernel",
            ));
        }
        ram.load(RAM_BASE, fw)?;
        used_end = RAM_BASE + fw.len() as u64;
    }
    let mut kernel = None;
    if let Some(k) = images.kernel {
        let base = RAM_BASE + KERNEL_OFFSET;
        let end = base + kernel_footprint(k);
        if end > ram_end {
            return Err(too_big("kernel does not fit in RAM"));
        }
        ram.load(base, k)?;
        kernel = Some((base, base + k.len() as u64));
        used_end = end;
    }
    let mut initrd = None;
    if let Some(rd) = images.initrd {
        let start = align_up(used_end.max(RAM_BASE + ram.len() / 2), 0x1000);
        let end = start + rd.len() as u64;
        if end > ram_end {
            return Err(too_big("initrd does not fit in RAM"));
        }
        ram.load(start, rd)?;
        initrd = Some((start, end));
        used_end = end;
    }
    let mut opts = images.fdt.clone();
    opts.initrd = initrd;
    let blob = board.device_tree(&opts)?;
    let fdt_size = blob.len() as u64;
    let fdt_addr = ram_end
        .checked_sub(fdt_size)
        .map(|a| a & !(0x20_0000 - 1))
        .unwrap_or(0);
    let info_addr = fdt_addr.wrapping_sub(64);
    if fdt_addr < RAM_BASE || info_addr < used_end {
        return Err(too_big("no room for the device tree"));
    }
    ram.load(fdt_addr, &blob)?;
    let next = kernel.map_or(0, |(k, _)| k);
    let info = [
        FW_DYNAMIC_INFO_MAGIC,
        FW_DYNAMIC_INFO_VERSION,
        next,
        NEXT_MODE_S,
        0,
        0,
    ];
    let bytes: Vec<u8> = info.iter().flat_map(|v| v.to_le_bytes()).collect();
    ram.load(info_addr, &bytes)?;
    let pc = if images.firmware.is_some() {
        RAM_BASE
    } else {
        next
    };
    Ok(BootInfo {
        pc,
        a0_hartid: 0,
        a1_fdt: fdt_addr,
        a2_fw_dynamic_info: info_addr,
        kernel,
        initrd,
        fdt: (fdt_addr, fdt_addr + fdt_size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::DmaMemory;
    use crate::riscv_virt::VirtConfig;

    fn board(ram: u64) -> VirtBoard {
        VirtBoard::new(VirtConfig {
            ram_size: ram,
            harts: 1,
            drives: vec![],
            rng: false,
            virtio_console: None,
            nics: vec![],
            uart_out: Box::new(std::io::sink()),
        })
        .unwrap()
    }

    fn fake_image(file: usize, image_size: u64) -> Vec<u8> {
        let mut k = vec![0x13u8; file];
        k[16..24].copy_from_slice(&image_size.to_le_bytes());
        k[56..60].copy_from_slice(&IMAGE_MAGIC2.to_le_bytes());
        k
    }

    #[test]
    fn layout_and_fw_dynamic_info() {
        let b = board(256 << 20);
        let fw = vec![0x6fu8; 4096];
        let k = fake_image(0x1000, 0x40_0000);
        let rd = vec![0xaau8; 5000];
        let images = BootImages {
            firmware: Some(&fw),
            kernel: Some(&k),
            initrd: Some(&rd),
            fdt: FdtOptions {
                isa: "rv64imac".into(),
                mmu_type: "riscv,sv39".into(),
                bootargs: "x".into(),
                initrd: None,
            },
        };
        let bi = load(&b, &images).unwrap();
        assert_eq!(bi.pc, 0x8000_0000);
        assert_eq!(bi.kernel, Some((0x8020_0000, 0x8020_1000)));
        assert_eq!(bi.initrd, Some((0x8800_0000, 0x8800_0000 + 5000)));
        assert_eq!(bi.a1_fdt, 0x8fe0_0000);
        assert_eq!(
            b.ram.read_u32(bi.a1_fdt).unwrap(),
            0xedfe_0dd0,
            "FDT magic (big-endian)"
        );
        let rdq = |a: u64| {
            let mut x = [0u8; 8];
            b.ram.read(a, &mut x).unwrap();
            u64::from_le_bytes(x)
        };
        let i = bi.a2_fw_dynamic_info;
        assert_eq!(i % 8, 0);
        assert_eq!(
            [rdq(i), rdq(i + 8), rdq(i + 16), rdq(i + 24)],
            [0x4942_534f, 2, 0x8020_0000, 1]
        );
        assert_eq!(b.ram.read_u32(0x8000_0000).unwrap(), 0x6f6f_6f6f);
        assert_eq!(b.ram.read_u32(0x8800_0000).unwrap(), 0xaaaa_aaaa);
        // The DTB names the initrd where it went.
        let blob_len = (bi.fdt.1 - bi.fdt.0) as usize;
        let mut blob = vec![0u8; blob_len];
        b.ram.read(bi.fdt.0, &mut blob).unwrap();
        let needle = 0x8800_0000u64.to_be_bytes();
        assert!(blob.windows(8).any(|w| w == needle));
    }

    #[test]
    fn big_kernel_pushes_initrd_and_errors() {
        let b = board(64 << 20);
        let k = fake_image(0x1000, 40 << 20);
        assert_eq!(kernel_footprint(&k), 40 << 20);
        assert_eq!(kernel_footprint(&[0u8; 10]), 10);
        let rd = [1u8; 16];
        let images = BootImages {
            kernel: Some(&k),
            initrd: Some(&rd),
            ..BootImages::default()
        };
        let bi = load(&b, &images).unwrap();
        assert_eq!(bi.pc, 0x8020_0000, "no firmware: start in the kernel");
        assert_eq!(bi.initrd.unwrap().0, 0x8020_0000 + (40 << 20));
        let huge = fake_image(0x1000, 100 << 20);
        assert!(
            load(
                &b,
                &BootImages {
                    kernel: Some(&huge),
                    ..BootImages::default()
                }
            )
            .is_err()
        );
        let fw = vec![0u8; 3 << 20];
        assert!(
            load(
                &b,
                &BootImages {
                    firmware: Some(&fw),
                    ..BootImages::default()
                }
            )
            .is_err()
        );
    }

    /// The shared Debian kernel, if present, has a valid Image header.
    #[test]
    fn shared_kernel_header() {
        let p = std::path::Path::new("/work/shared/guests/riscv64/Image");
        let Ok(k) = std::fs::read(p) else {
            eprintln!("SKIPPED: {} not present", p.display());
            return;
        };
        let fp = kernel_footprint(&k);
        assert!(fp >= k.len() as u64);
        let b = board(256 << 20);
        let bi = load(
            &b,
            &BootImages {
                kernel: Some(&k),
                ..BootImages::default()
            },
        )
        .unwrap();
        assert_eq!(bi.kernel.unwrap().1 - bi.kernel.unwrap().0, k.len() as u64);
    }
}
