//! The guest-physical address space as the CPU side sees it: [`BoardPhys`] implements the
//! softmmu's `PhysMemory` over the board's [`Bus`] and [`Ram`] (RAM pages by host address,
//! everything else through MMIO), and [`CodeAwareDma`] is the DMA view the virtio devices
//! use, which tells the shared `CodePages` about every device write so translations of
//! overwritten code are dropped.

use heron_machines::bus::{Bus, BusError, DmaMemory, Ram};
use std::sync::Arc;

/// What a DMA write must notify (guest-physical start, length).
pub type WriteNotify = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Guest RAM for devices, reporting writes.
pub struct CodeAwareDma {
    pub ram: Arc<Ram>,
    pub notify: WriteNotify,
}

impl DmaMemory for CodeAwareDma {
    fn contains(&self, gpa: u64, len: u64) -> bool {
        self.ram.contains(gpa, len)
    }
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), BusError> {
        DmaMemory::read(&*self.ram, gpa, buf)
    }
    fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), BusError> {
        DmaMemory::write(&*self.ram, gpa, buf)?;
        (self.notify)(gpa, buf.len() as u64);
        Ok(())
    }
}

/// The board's physical address space for the vCPUs.
pub struct BoardPhys {
    pub bus: Bus,
    pub ram: Arc<Ram>,
    /// Log failed accesses (`-d guest_errors`).
    pub log_errors: bool,
}

impl BoardPhys {
    /// Host address of the RAM page holding `paddr`, if it is RAM.
    pub fn ram_page_ptr(&self, paddr: u64) -> Option<*mut u8> {
        let page = paddr & !0xfff;
        let off = page.checked_sub(self.ram.base())?;
        if off.checked_add(0x1000)? > self.ram.len() {
            return None;
        }
        // SAFETY: `off + 4096 <= len`, so the result stays inside the RAM mapping.
        Some(unsafe { self.ram.host_ptr().add(off as usize) })
    }

    pub fn read(&self, paddr: u64, size: u8) -> Result<u64, BusError> {
        let r = self.bus.read(paddr, size);
        if let Err(e) = &r
            && self.log_errors
        {
            tracing::info!(target: "guest_errors", "guest read failed: {e}");
        }
        r
    }

    pub fn write(&self, paddr: u64, size: u8, value: u64) -> Result<(), BusError> {
        let r = self.bus.write(paddr, size, value);
        if let Err(e) = &r
            && self.log_errors
        {
            tracing::info!(target: "guest_errors", "guest write of {value:#x} failed: {e}");
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn ram_pages_and_dma_notify() {
        let ram = Arc::new(Ram::new(0x8000_0000, 0x4000).unwrap());
        let mut bus = Bus::new();
        bus.map_ram("ram", ram.clone()).unwrap();
        let phys = BoardPhys {
            bus,
            ram: ram.clone(),
            log_errors: false,
        };
        let p0 = phys.ram_page_ptr(0x8000_0123).unwrap();
        assert_eq!(p0, ram.host_ptr());
        assert_eq!(
            phys.ram_page_ptr(0x8000_3fff).unwrap() as usize - p0 as usize,
            0x3000
        );
        assert!(phys.ram_page_ptr(0x8000_4000).is_none());
        assert!(phys.ram_page_ptr(0x7fff_f000).is_none());
        assert!(phys.read(0x1000, 4).is_err());
        phys.write(0x8000_0010, 4, 0xdead_beef).unwrap();
        assert_eq!(phys.read(0x8000_0010, 2).unwrap(), 0xbeef);

        let seen = Arc::new(Mutex::new(vec![]));
        let s = seen.clone();
        let dma = CodeAwareDma {
            ram: ram.clone(),
            notify: Arc::new(move |a, l| s.lock().unwrap().push((a, l))),
        };
        dma.write(0x8000_1000, &[1, 2, 3]).unwrap();
        assert!(dma.write(0x8000_3fff, &[1, 2]).is_err());
        let mut b = [0; 3];
        dma.read(0x8000_1000, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3]);
        assert_eq!(*seen.lock().unwrap(), [(0x8000_1000, 3)]);
    }
}
