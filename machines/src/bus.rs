//! The physical address space of a board: a [`Bus`] maps guest-physical ranges to RAM
//! regions ([`Ram`], anonymous host mappings) or MMIO devices ([`MmioDevice`]). It owns
//! lookup, overlap rejection and the guest-visible errors for unmapped addresses and
//! unsupported access sizes. [`DmaMemory`] is the view of guest RAM that devices (virtio)
//! use for DMA: every guest-physical range is checked against RAM before it is touched.

use std::sync::Arc;

/// A failed bus access. These are guest-visible (the CPU side turns them into access
/// faults); they are never host panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("no device or RAM at physical address {addr:#x}")]
    Unmapped { addr: u64 },
    #[error("unsupported {size}-byte access at physical address {addr:#x}")]
    BadSize { addr: u64, size: u8 },
    #[error("misaligned {size}-byte access at physical address {addr:#x}")]
    Misaligned { addr: u64, size: u8 },
    #[error("access at {addr:#x} crosses the end of its region")]
    CrossesRegion { addr: u64 },
    #[error("region {base:#x}+{size:#x} ({name}) overlaps an existing region")]
    Overlap { base: u64, size: u64, name: String },
    #[error("empty or wrapping region {base:#x}+{size:#x}")]
    BadRegion { base: u64, size: u64 },
    #[error("host error: {0}")]
    Host(String),
}

/// A memory-mapped device. `offset` is relative to the start of the device's region;
/// `size` is 1, 2, 4 or 8. Devices use interior mutability: they are shared by vCPU
/// threads and I/O threads.
pub trait MmioDevice: Send + Sync {
    fn read(&self, offset: u64, size: u8) -> Result<u64, BusError>;
    fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError>;
}

/// A bad-size error for a device access at `offset` (devices only know offsets).
pub fn bad_size(offset: u64, size: u8) -> BusError {
    BusError::BadSize { addr: offset, size }
}

/// Guest RAM as seen by DMA-capable devices: byte copies at guest-physical addresses,
/// each checked against RAM.
pub trait DmaMemory: Send + Sync {
    /// Whether `[gpa, gpa+len)` lies entirely inside RAM.
    fn contains(&self, gpa: u64, len: u64) -> bool;
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), BusError>;
    fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), BusError>;

    fn read_u16(&self, gpa: u64) -> Result<u16, BusError> {
        let mut b = [0; 2];
        self.read(gpa, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    fn read_u32(&self, gpa: u64) -> Result<u32, BusError> {
        let mut b = [0; 4];
        self.read(gpa, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn read_u64(&self, gpa: u64) -> Result<u64, BusError> {
        let mut b = [0; 8];
        self.read(gpa, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn write_u16(&self, gpa: u64, v: u16) -> Result<(), BusError> {
        self.write(gpa, &v.to_le_bytes())
    }
    fn write_u32(&self, gpa: u64, v: u32) -> Result<(), BusError> {
        self.write(gpa, &v.to_le_bytes())
    }
}

/// One region of guest RAM backed by an anonymous host mapping (zero-filled, committed
/// lazily by the host kernel).
pub struct Ram {
    base: u64,
    len: u64,
    ptr: *mut u8,
    _map: memmap2::MmapMut,
}

// SAFETY: `ptr` points into `_map`, which lives as long as the `Ram` and is never
// remapped. Guest RAM is shared memory by nature: concurrent accesses from vCPU and I/O
// threads are the guest's business (as on real hardware); every host access is a plain
// byte copy within bounds checked below, so no reference to the bytes is ever handed out.
unsafe impl Send for Ram {}
// SAFETY: see above; all accesses go through raw-pointer copies, never `&mut` aliases.
unsafe impl Sync for Ram {}

impl Ram {
    /// Maps `len` bytes of zeroed RAM at guest-physical `base`.
    pub fn new(base: u64, len: u64) -> Result<Ram, BusError> {
        if len == 0 || base.checked_add(len).is_none() {
            return Err(BusError::BadRegion { base, size: len });
        }
        let size = usize::try_from(len).map_err(|e| BusError::Host(e.to_string()))?;
        let mut map = memmap2::MmapOptions::new()
            .len(size)
            .map_anon()
            .map_err(|e| BusError::Host(e.to_string()))?;
        let ptr = map.as_mut_ptr();
        Ok(Ram {
            base,
            len,
            ptr,
            _map: map,
        })
    }
    pub fn base(&self) -> u64 {
        self.base
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Host address of guest-physical `base` (for the softmmu TLB's host addend). Only
    /// valid while this `Ram` is alive.
    pub fn host_ptr(&self) -> *mut u8 {
        self.ptr
    }
    fn offset_of(&self, gpa: u64, len: u64) -> Option<usize> {
        let off = gpa.checked_sub(self.base)?;
        let end = off.checked_add(len)?;
        (end <= self.len).then_some(off as usize)
    }
    /// Loads an image (firmware, kernel, initrd, DTB) at guest-physical `gpa`.
    pub fn load(&self, gpa: u64, data: &[u8]) -> Result<(), BusError> {
        DmaMemory::write(self, gpa, data)
    }
}

impl DmaMemory for Ram {
    fn contains(&self, gpa: u64, len: u64) -> bool {
        self.offset_of(gpa, len).is_some()
    }
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), BusError> {
        let off = self
            .offset_of(gpa, buf.len() as u64)
            .ok_or(BusError::Unmapped { addr: gpa })?;
        // SAFETY: `off + buf.len() <= len` was checked; the mapping is live; `buf` is a
        // distinct host buffer so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(off), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }
    fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), BusError> {
        let off = self
            .offset_of(gpa, buf.len() as u64)
            .ok_or(BusError::Unmapped { addr: gpa })?;
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), self.ptr.add(off), buf.len()) };
        Ok(())
    }
}

/// What a bus region is backed by.
#[derive(Clone)]
pub enum Backing {
    Ram(Arc<Ram>),
    Mmio(Arc<dyn MmioDevice>),
}

/// One mapped range of the physical address space.
#[derive(Clone)]
pub struct Region {
    pub base: u64,
    pub size: u64,
    pub name: String,
    pub backing: Backing,
}

/// The physical address space: non-overlapping regions sorted by base address.
#[derive(Clone, Default)]
pub struct Bus {
    regions: Vec<Region>,
}

fn check_size(addr: u64, size: u8) -> Result<(), BusError> {
    match size {
        1 | 2 | 4 | 8 => Ok(()),
        _ => Err(BusError::BadSize { addr, size }),
    }
}

impl Bus {
    pub fn new() -> Bus {
        Bus::default()
    }

    fn insert(&mut self, region: Region) -> Result<(), BusError> {
        let (base, size) = (region.base, region.size);
        let end = match base.checked_add(size) {
            Some(e) if size > 0 => e,
            _ => return Err(BusError::BadRegion { base, size }),
        };
        let idx = self.regions.partition_point(|r| r.base < base);
        let clash_prev = idx > 0 && {
            let p = &self.regions[idx - 1];
            p.base + p.size > base
        };
        let clash_next = self.regions.get(idx).is_some_and(|n| n.base < end);
        if clash_prev || clash_next {
            return Err(BusError::Overlap {
                base,
                size,
                name: region.name,
            });
        }
        self.regions.insert(idx, region);
        Ok(())
    }

    /// Maps a RAM region at its own base address.
    pub fn map_ram(&mut self, name: &str, ram: Arc<Ram>) -> Result<(), BusError> {
        self.insert(Region {
            base: ram.base(),
            size: ram.len(),
            name: name.to_string(),
            backing: Backing::Ram(ram),
        })
    }

    /// Maps an MMIO device at `[base, base+size)`.
    pub fn map_mmio(
        &mut self,
        name: &str,
        base: u64,
        size: u64,
        dev: Arc<dyn MmioDevice>,
    ) -> Result<(), BusError> {
        self.insert(Region {
            base,
            size,
            name: name.to_string(),
            backing: Backing::Mmio(dev),
        })
    }

    /// The region holding `addr` and the offset of `addr` in it.
    pub fn lookup(&self, addr: u64) -> Option<(&Region, u64)> {
        let idx = self.regions.partition_point(|r| r.base <= addr);
        let r = self.regions.get(idx.checked_sub(1)?)?;
        let off = addr - r.base;
        (off < r.size).then_some((r, off))
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    fn locate(&self, addr: u64, size: u8) -> Result<(&Region, u64), BusError> {
        check_size(addr, size)?;
        let (r, off) = self.lookup(addr).ok_or(BusError::Unmapped { addr })?;
        if off + u64::from(size) > r.size {
            return Err(BusError::CrossesRegion { addr });
        }
        Ok((r, off))
    }

    /// A load of `size` bytes (little-endian) from guest-physical `addr`.
    pub fn read(&self, addr: u64, size: u8) -> Result<u64, BusError> {
        let (r, off) = self.locate(addr, size)?;
        match &r.backing {
            Backing::Ram(ram) => {
                let mut b = [0u8; 8];
                ram.read(addr, &mut b[..size as usize])?;
                Ok(u64::from_le_bytes(b))
            }
            Backing::Mmio(dev) => dev.read(off, size).map_err(|e| rebase(e, r.base)),
        }
    }

    /// A store of the low `size` bytes of `value` (little-endian) to `addr`.
    pub fn write(&self, addr: u64, size: u8, value: u64) -> Result<(), BusError> {
        let (r, off) = self.locate(addr, size)?;
        match &r.backing {
            Backing::Ram(ram) => ram.write(addr, &value.to_le_bytes()[..size as usize]),
            Backing::Mmio(dev) => dev.write(off, size, value).map_err(|e| rebase(e, r.base)),
        }
    }
}

/// Device errors carry region offsets; turn them into physical addresses.
fn rebase(e: BusError, base: u64) -> BusError {
    match e {
        BusError::BadSize { addr, size } => BusError::BadSize {
            addr: addr + base,
            size,
        },
        BusError::Misaligned { addr, size } => BusError::Misaligned {
            addr: addr + base,
            size,
        },
        BusError::Unmapped { addr } => BusError::Unmapped { addr: addr + base },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Reg(Mutex<u64>);
    impl MmioDevice for Reg {
        fn read(&self, offset: u64, size: u8) -> Result<u64, BusError> {
            if size != 4 {
                return Err(bad_size(offset, size));
            }
            Ok(*self.0.lock().unwrap() + offset)
        }
        fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError> {
            if size != 4 {
                return Err(bad_size(offset, size));
            }
            *self.0.lock().unwrap() = value;
            Ok(())
        }
    }

    fn bus() -> Bus {
        let mut bus = Bus::new();
        bus.map_ram("ram", Arc::new(Ram::new(0x8000_0000, 0x10000).unwrap()))
            .unwrap();
        bus.map_mmio("reg", 0x1000, 0x100, Arc::new(Reg(Mutex::new(7))))
            .unwrap();
        bus
    }

    #[test]
    fn ram_and_mmio_access() {
        let bus = bus();
        bus.write(0x8000_0010, 8, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(bus.read(0x8000_0010, 8).unwrap(), 0x1122_3344_5566_7788);
        assert_eq!(bus.read(0x8000_0010, 1).unwrap(), 0x88);
        assert_eq!(bus.read(0x8000_0012, 2).unwrap(), 0x5566);
        assert_eq!(bus.read(0x1004, 4).unwrap(), 11);
        bus.write(0x1000, 4, 40).unwrap();
        assert_eq!(bus.read(0x1008, 4).unwrap(), 48);
    }

    #[test]
    fn errors_are_guest_visible() {
        let bus = bus();
        assert_eq!(
            bus.read(0x2000, 4),
            Err(BusError::Unmapped { addr: 0x2000 })
        );
        assert_eq!(
            bus.read(0x7fff_ffff, 1),
            Err(BusError::Unmapped { addr: 0x7fff_ffff })
        );
        assert_eq!(
            bus.read(0x8001_0000, 1),
            Err(BusError::Unmapped { addr: 0x8001_0000 })
        );
        assert_eq!(
            bus.read(0x1000, 2),
            Err(BusError::BadSize {
                addr: 0x1000,
                size: 2
            })
        );
        assert_eq!(
            bus.read(0x8000_0000, 3),
            Err(BusError::BadSize {
                addr: 0x8000_0000,
                size: 3
            })
        );
        assert_eq!(
            bus.read(0x8000_fffc, 8),
            Err(BusError::CrossesRegion { addr: 0x8000_fffc })
        );
        assert_eq!(
            bus.read(u64::MAX, 8),
            Err(BusError::Unmapped { addr: u64::MAX })
        );
    }

    #[test]
    fn overlap_rejected() {
        let mut bus = bus();
        let dev = Arc::new(Reg(Mutex::new(0)));
        assert!(matches!(
            bus.map_mmio("x", 0x10ff, 0x10, dev.clone()),
            Err(BusError::Overlap { .. })
        ));
        assert!(matches!(
            bus.map_mmio("x", 0xf00, 0x101, dev.clone()),
            Err(BusError::Overlap { .. })
        ));
        assert!(matches!(
            bus.map_mmio("x", 0x1010, 0x10, dev.clone()),
            Err(BusError::Overlap { .. })
        ));
        assert!(matches!(
            bus.map_mmio("x", 0, 0, dev.clone()),
            Err(BusError::BadRegion { .. })
        ));
        bus.map_mmio("ok", 0x1100, 0x100, dev.clone()).unwrap();
        bus.map_mmio("ok2", 0xf00, 0x100, dev).unwrap();
        let names: Vec<_> = bus.regions().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["ok2", "reg", "ok", "ram"]);
        assert_eq!(
            bus.lookup(0x10ff).map(|(r, o)| (r.name.as_str(), o)),
            Some(("reg", 0xff))
        );
    }

    #[test]
    fn dma_range_checks() {
        let ram = Ram::new(0x8000_0000, 0x1000).unwrap();
        assert!(ram.contains(0x8000_0000, 0x1000));
        assert!(!ram.contains(0x8000_0001, 0x1000));
        assert!(!ram.contains(u64::MAX, 2));
        let mut b = [0; 4];
        assert!(ram.read(0x7fff_fffe, &mut b).is_err());
        ram.write_u32(0x8000_0ffc, 0xdead_beef).unwrap();
        assert_eq!(ram.read_u32(0x8000_0ffc).unwrap(), 0xdead_beef);
        assert!(ram.write_u32(0x8000_0ffe, 1).is_err());
    }
}
