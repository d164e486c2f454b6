//! Temporary stand-in for `heron_backend::softmmu` (system-api.md section 1) until the
//! softmmu branch lands; removed at the merge. Same names and meaning as the contract.
#![allow(dead_code)]

use heron_backend::FaultKind;

pub const PAGE_BITS: u32 = 12;
pub const TLB_ENTRIES: usize = 256;
pub const MAX_MMU_IDX: usize = 8;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TlbEntry {
    pub read: u64,
    pub write: u64,
    pub code: u64,
    pub addend: u64,
}

#[repr(C)]
pub struct Tlb {
    entries: [[TlbEntry; TLB_ENTRIES]; MAX_MMU_IDX],
    flushes: u64,
}

impl Tlb {
    pub fn new() -> Tlb {
        let e = TlbEntry {
            read: u64::MAX,
            write: u64::MAX,
            code: u64::MAX,
            addend: 0,
        };
        Tlb {
            entries: [[e; TLB_ENTRIES]; MAX_MMU_IDX],
            flushes: 0,
        }
    }
    pub fn flush_all(&mut self) {
        *self = Tlb {
            flushes: self.flushes + 1,
            ..Tlb::new()
        };
    }
    pub fn flush_page(&mut self, _vaddr: u64) {
        self.flush_all();
    }
    pub fn flush_mmu_idx(&mut self, _idx: u8) {
        self.flush_all();
    }
    pub fn flush_count(&self) -> u64 {
        self.flushes
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageMapping {
    pub paddr: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

pub trait AddressTranslator: Send + Sync {
    fn translate(
        &self,
        env: *mut u8,
        vaddr: u64,
        access: Access,
        mmu_idx: u8,
    ) -> Result<PageMapping, FaultKind>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusFault;

pub trait PhysMemory: Send + Sync {
    fn ram_page(&self, paddr: u64) -> Option<*mut u8>;
    fn io_read(&self, paddr: u64, size: u8) -> Result<u64, BusFault>;
    fn io_write(&self, paddr: u64, size: u8, value: u64) -> Result<(), BusFault>;
}
