//! The software MMU of system mode: the per-vCPU, per-MMU-index TLB (its layout is read by
//! JIT code), the traits through which the frontend translates addresses
//! ([`AddressTranslator`]) and the board provides guest-physical memory ([`PhysMemory`]),
//! the slow paths of guest loads, stores and atomics (TLB fill, MMIO, page crossing,
//! faults), the instruction-fetch view used for translation, and [`CodePages`]: which RAM
//! pages hold translated code, so writes to them invalidate those translations.
//!
//! TLB entry tags: a tag is the guest-virtual page address (`vaddr & PAGE_MASK`) when the
//! access kind is allowed, possibly with flag bits in the page-offset bits ([`TLB_MMIO`],
//! [`TLB_CODE`]), or [`TLB_INVALID`]. A fast path compares the tag with the page of the
//! address (plus the alignment bits the access demands, and the page of its last byte), so
//! a flagged, invalid, misaligned or page-crossing access never matches and takes the slow
//! path. Host address of a hit = `vaddr + addend`.

use crate::mem::MemFault;
use crate::{CodeFetch, FaultKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const PAGE_BITS: u32 = 12;
pub const PAGE_SIZE: u64 = 1 << PAGE_BITS;
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);
/// Entries per MMU index (direct-mapped by virtual page number). 1024 (4 MiB of pages per
/// index) holds a booting kernel's working set: 256 took 2.4 times as many fills.
pub const TLB_ENTRIES: usize = 1024;
/// `MemOp::mmu_idx` must be below this.
pub const MAX_MMU_IDX: usize = 8;
/// Tag of an access kind the entry does not allow (matches no address: its page-offset
/// bits are all set, a compared address has at most the low 4 set).
pub const TLB_INVALID: u64 = u64::MAX;
/// Tag flag: the page is not RAM; accesses go to [`PhysMemory::io_read`]/`io_write`.
pub const TLB_MMIO: u64 = 1 << 11;
/// Write-tag flag: the page held translated code when the entry was filled; a store goes
/// to the slow path, which invalidates the translations.
pub const TLB_CODE: u64 = 1 << 10;

/// One TLB entry (32 bytes, read by JIT code at constant offsets).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbEntry {
    /// Tag for loads.
    pub read: u64,
    /// Tag for stores and atomics.
    pub write: u64,
    /// Tag for instruction fetch.
    pub code: u64,
    /// Host address minus guest-virtual address, for RAM pages.
    pub addend: u64,
}

impl TlbEntry {
    pub const INVALID: TlbEntry = TlbEntry {
        read: TLB_INVALID,
        write: TLB_INVALID,
        code: TLB_INVALID,
        addend: 0,
    };
}

/// Byte offsets inside [`TlbEntry`], for generated code.
pub mod entry_offsets {
    pub const READ: u32 = 0;
    pub const WRITE: u32 = 8;
    pub const CODE: u32 = 16;
    pub const ADDEND: u32 = 24;
}
/// log2 of `size_of::<TlbEntry>()`.
pub const ENTRY_SHIFT: u32 = 5;
const _: () = assert!(std::mem::size_of::<TlbEntry>() == 1 << ENTRY_SHIFT);

/// Byte offset of entry (`mmu_idx`, `index`) from the start of a [`Tlb`].
pub const fn entry_offset(mmu_idx: usize, index: usize) -> usize {
    (mmu_idx * TLB_ENTRIES + index) << ENTRY_SHIFT
}

/// TLB index of a guest-virtual address.
#[inline]
pub fn tlb_index(vaddr: u64) -> usize {
    ((vaddr >> PAGE_BITS) as usize) & (TLB_ENTRIES - 1)
}

/// The software TLB of one vCPU: one direct-mapped table per MMU index. Lives inside the
/// frontend's CPU state (at `SoftmmuConfig::tlb_offset`), so generated code finds entry
/// (i, j) at `env + tlb_offset + entry_offset(i, j)`.
///
/// Entries are written by their own vCPU (fills and flushes) and, for the write tag only,
/// by other threads that mark a page as holding code ([`CodePages`]); all writes from Rust
/// are atomic stores.
#[repr(C)]
pub struct Tlb {
    entries: [[TlbEntry; TLB_ENTRIES]; MAX_MMU_IDX],
    /// Guest-physical page of each valid entry (slow path and code protection only).
    phys: [[u64; TLB_ENTRIES]; MAX_MMU_IDX],
    flushes: u64,
    /// Bit i: MMU index i may hold valid entries (filled since its last full flush).
    used: u8,
    /// Flushes of more than one page (flush_all, flush_mmu_idx).
    full_flushes: u64,
    /// Single-page flushes, and the last [`PAGE_FLUSH_LOG`] pages flushed (entry `n` at
    /// `n % PAGE_FLUSH_LOG`), so the engine can keep virtual-PC caches of other pages.
    page_flushes: u64,
    flushed_pages: [u64; PAGE_FLUSH_LOG],
    /// Slow-path fills (translator calls that succeeded), for `-d stats`.
    fills: u64,
    /// Slow-path entries (every access the fast path could not serve, including MMIO).
    slow: u64,
    /// Slow-path TLB lookups ([`SoftmmuConfig::resolve`]) and those that missed, for the
    /// hit rate of `-d stats`.
    lookups: u64,
    misses: u64,
    /// Hits of the JIT's inline path, counted by JIT code only under `-d stats`
    /// ([`TLB_JIT_HITS_OFFSET`]).
    jit_hits: u64,
    /// Entries filled in each MMU index since its last clear, while there are at most
    /// [`FILL_LOG`] (one past that: too many, clear them all). A boot refills ~130 entries
    /// between two of its ~4,600 full flushes: clearing those beats clearing all 1,024.
    filled: [[u16; FILL_LOG]; MAX_MMU_IDX],
    filled_len: [u16; MAX_MMU_IDX],
}

/// How many filled entries per MMU index a flush clears one by one (see `Tlb::filled`).
const FILL_LOG: usize = 256;

/// Byte offset of the inline-hit counter in a [`Tlb`] (JIT code increments it).
pub const TLB_JIT_HITS_OFFSET: usize = std::mem::offset_of!(Tlb, jit_hits);

/// Single-page flushes remembered by a [`Tlb`].
pub(crate) const PAGE_FLUSH_LOG: usize = 8;

/// What changed in a TLB since an observer last looked (see [`Tlb::flushes_since`]).
pub(crate) enum TlbFlushes<'a> {
    None,
    /// Only these virtual pages were flushed.
    Pages(&'a [u64]),
    /// Too much to tell: treat every virtual address as remapped.
    All,
}

impl Default for Tlb {
    fn default() -> Tlb {
        Tlb::new()
    }
}

impl std::fmt::Debug for Tlb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tlb")
            .field("flushes", &self.flushes)
            .field("fills", &self.fills)
            .finish_non_exhaustive()
    }
}

/// Atomic view of a u64 field of a [`Tlb`].
///
/// # Safety
/// `p` points to a live, 8-byte aligned u64 inside a `Tlb`.
#[inline]
unsafe fn atomic_at<'a>(p: *mut u64) -> &'a AtomicU64 {
    // SAFETY: per the contract; every Rust access to TLB tags goes through atomics.
    unsafe { AtomicU64::from_ptr(p) }
}

impl Tlb {
    /// A TLB with every entry invalid.
    pub fn new() -> Tlb {
        Tlb {
            entries: [[TlbEntry::INVALID; TLB_ENTRIES]; MAX_MMU_IDX],
            phys: [[u64::MAX; TLB_ENTRIES]; MAX_MMU_IDX],
            flushes: 0,
            used: 0,
            full_flushes: 0,
            page_flushes: 0,
            flushed_pages: [0; PAGE_FLUSH_LOG],
            fills: 0,
            slow: 0,
            lookups: 0,
            misses: 0,
            jit_hits: 0,
            filled: [[0; FILL_LOG]; MAX_MMU_IDX],
            filled_len: [0; MAX_MMU_IDX],
        }
    }

    /// Records that entry (i, j) was filled (see `Tlb::filled`).
    ///
    /// # Safety
    /// As for [`Tlb::store_entry`]; called by the TLB's own vCPU (the only user of these
    /// fields).
    unsafe fn note_fill(tlb: *mut Tlb, i: usize, j: usize) {
        // SAFETY: per the contract (field places, no reference to the whole Tlb, whose
        // tags other threads may be marking).
        unsafe {
            let n = (*tlb).filled_len[i] as usize;
            if n < FILL_LOG {
                (*tlb).filled[i][n] = j as u16;
            }
            if n <= FILL_LOG {
                (*tlb).filled_len[i] += 1;
            }
        }
    }

    /// Makes entry (i, j) `e` for physical page `phys` (the only way an entry becomes
    /// valid: flushes clear what this recorded).
    ///
    /// # Safety
    /// `tlb` points to a live Tlb; `i < MAX_MMU_IDX`, `j < TLB_ENTRIES`.
    unsafe fn store_entry(tlb: *mut Tlb, i: usize, j: usize, e: TlbEntry, phys: u64) {
        // SAFETY: per the contract; fields are aligned u64s.
        unsafe {
            let ep = &raw mut (*tlb).entries[i][j];
            // The write tag first invalid, then the rest, then the write tag: a concurrent
            // code-page scan never sees a writable tag with a stale physical page.
            atomic_at(&raw mut (*ep).write).store(TLB_INVALID, Ordering::SeqCst);
            atomic_at(&raw mut (*tlb).phys[i][j]).store(phys, Ordering::SeqCst);
            atomic_at(&raw mut (*ep).read).store(e.read, Ordering::Relaxed);
            atomic_at(&raw mut (*ep).code).store(e.code, Ordering::Relaxed);
            atomic_at(&raw mut (*ep).addend).store(e.addend, Ordering::Relaxed);
            atomic_at(&raw mut (*ep).write).store(e.write, Ordering::SeqCst);
            (*tlb).used |= 1 << i;
            Tlb::note_fill(tlb, i, j);
        }
    }

    /// Make entry (i, j) invalid. Plain (relaxed) stores suffice: a concurrent code-page
    /// scan that sets TLB_CODE in an invalid tag leaves it invalid (all bits set).
    ///
    /// # Safety
    /// As for [`Tlb::store_entry`].
    unsafe fn invalidate_entry(tlb: *mut Tlb, i: usize, j: usize) {
        // SAFETY: per the contract; fields are aligned u64s.
        unsafe {
            let ep = &raw mut (*tlb).entries[i][j];
            atomic_at(&raw mut (*ep).write).store(TLB_INVALID, Ordering::Relaxed);
            atomic_at(&raw mut (*tlb).phys[i][j]).store(u64::MAX, Ordering::Relaxed);
            atomic_at(&raw mut (*ep).read).store(TLB_INVALID, Ordering::Relaxed);
            atomic_at(&raw mut (*ep).code).store(TLB_INVALID, Ordering::Relaxed);
            atomic_at(&raw mut (*ep).addend).store(0, Ordering::Relaxed);
        }
    }

    /// Invalidate every entry of MMU index `i` (if it was filled since its last flush).
    fn clear_idx(&mut self, i: usize) {
        if self.used & (1 << i) == 0 {
            return;
        }
        self.used &= !(1 << i);
        let n = std::mem::take(&mut self.filled_len[i]) as usize;
        let t: *mut Tlb = self;
        if n <= FILL_LOG {
            // Only filled entries can be valid (a flush of one page only invalidates).
            for k in 0..n {
                let j = self.filled[i][k] as usize;
                // SAFETY: indices in range (j < TLB_ENTRIES: it came from tlb_index),
                // `t` from `&mut self`.
                unsafe { Tlb::invalidate_entry(t, i, j) };
            }
        } else {
            for j in 0..TLB_ENTRIES {
                // SAFETY: indices in range, `t` from `&mut self`.
                unsafe { Tlb::invalidate_entry(t, i, j) };
            }
        }
    }

    /// Invalidate every entry of every MMU index (satp write, sfence.vma without address).
    pub fn flush_all(&mut self) {
        for i in 0..MAX_MMU_IDX {
            self.clear_idx(i);
        }
        self.flushes += 1;
        self.full_flushes += 1;
    }

    /// Invalidate the entries of the page holding `vaddr` in every MMU index.
    pub fn flush_page(&mut self, vaddr: u64) {
        let page = vaddr & PAGE_MASK;
        let j = tlb_index(vaddr);
        let t: *mut Tlb = self;
        for i in 0..MAX_MMU_IDX {
            let e = self.entries[i][j];
            let hit = [e.read, e.write, e.code]
                .iter()
                .any(|&tag| tag != TLB_INVALID && tag & PAGE_MASK == page);
            if hit {
                // SAFETY: indices in range, `t` from `&mut self`.
                unsafe { Tlb::invalidate_entry(t, i, j) };
            }
        }
        self.flushed_pages[self.page_flushes as usize % PAGE_FLUSH_LOG] = page;
        self.page_flushes += 1;
        self.flushes += 1;
    }

    /// Invalidate every entry of one MMU index.
    pub fn flush_mmu_idx(&mut self, idx: u8) {
        let i = idx as usize;
        if i >= MAX_MMU_IDX {
            return;
        }
        self.clear_idx(i);
        self.flushes += 1;
        self.full_flushes += 1;
    }

    /// Which virtual pages were flushed since an observer saw `*seen` = (full flushes,
    /// page flushes); updates `*seen`.
    pub(crate) fn flushes_since(&self, seen: &mut (u64, u64)) -> TlbFlushes<'_> {
        let (full, pages) = *seen;
        *seen = (self.full_flushes, self.page_flushes);
        if full != self.full_flushes || self.page_flushes - pages > PAGE_FLUSH_LOG as u64 {
            return TlbFlushes::All;
        }
        if pages == self.page_flushes {
            return TlbFlushes::None;
        }
        let a = pages as usize % PAGE_FLUSH_LOG;
        let b = self.page_flushes as usize % PAGE_FLUSH_LOG;
        if a < b {
            TlbFlushes::Pages(&self.flushed_pages[a..b])
        } else {
            // Wrapped: report all remembered pages (a superset is harmless).
            TlbFlushes::Pages(&self.flushed_pages[..])
        }
    }

    /// Number of flushes so far (the engine clears its virtual-PC caches when it changes).
    pub fn flush_count(&self) -> u64 {
        self.flushes
    }

    /// Successful slow-path TLB fills so far.
    pub fn fills(&self) -> u64 {
        self.fills
    }

    /// Accesses served by the slow path so far (misses, MMIO, page crossings, writes to
    /// code pages).
    pub fn slow_accesses(&self) -> u64 {
        self.slow
    }

    /// TLB lookups so far (slow-path lookups plus the JIT's inline hits when it counts
    /// them) and the lookups that missed.
    pub fn lookups_and_misses(&self) -> (u64, u64) {
        (self.lookups + self.jit_hits, self.misses)
    }

    /// Flushes so far: (of more than one page, of one page).
    pub fn flush_counts(&self) -> (u64, u64) {
        (self.full_flushes, self.page_flushes)
    }

    /// The JIT's inline hits (counted only when the JIT was told to: `-d stats`).
    pub fn jit_hits(&self) -> u64 {
        self.jit_hits
    }

    /// A copy of entry (`mmu_idx`, index of `vaddr`), for tests and debugging.
    pub fn entry(&self, mmu_idx: u8, vaddr: u64) -> TlbEntry {
        self.entries[mmu_idx as usize % MAX_MMU_IDX][tlb_index(vaddr)]
    }
}

/// Kind of access a translation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Access {
    pub(crate) fn fault(self) -> FaultKind {
        match self {
            Access::Read => FaultKind::Read,
            Access::Write => FaultKind::Write,
            Access::Exec => FaultKind::Exec,
        }
    }
    fn bus_fault(self) -> FaultKind {
        match self {
            Access::Read => FaultKind::BusRead,
            Access::Write => FaultKind::BusWrite,
            Access::Exec => FaultKind::BusExec,
        }
    }
}

/// Result of a successful translation: the physical page and what it may be used for
/// without asking the translator again. The TLB caches exactly these permissions, so a
/// translator must grant `write` only when a store needs no further page-table update
/// (RISC-V: the PTE's D bit is set, or was just set by a `Write` walk), and `read`/`exec`
/// only when the A bit is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageMapping {
    /// Guest-physical address of the page (page-aligned; low bits are ignored).
    pub paddr: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

/// Frontend: the guest's page-table walk and permission rules (RISC-V: Sv39/48/57, PMP, MXR,
/// SUM, A/D updates). Err = guest fault: the frontend records what it needs (cause, tval)
/// in its own CPU state and returns the FaultKind for `CpuHeader::fault_kind`.
pub trait AddressTranslator: Send + Sync {
    fn translate(
        &self,
        env: *mut u8,
        vaddr: u64,
        access: Access,
        mmu_idx: u8,
    ) -> Result<PageMapping, FaultKind>;
}

/// A physical access that no RAM or device answered (or a device refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bus fault at physical address {paddr:#x}")]
pub struct BusFault {
    pub paddr: u64,
}

/// Board glue: the guest-physical address space.
pub trait PhysMemory: Send + Sync {
    /// Host address of the RAM page holding `paddr` (page-aligned), or None (MMIO/unmapped).
    /// The host page must stay valid and writable for the life of the machine.
    fn ram_page(&self, paddr: u64) -> Option<*mut u8>;
    /// Device read of `size` (1, 2, 4, 8) bytes; the value is the little-endian reading of
    /// the bytes.
    fn io_read(&self, paddr: u64, size: u8) -> Result<u64, BusFault>;
    fn io_write(&self, paddr: u64, size: u8, value: u64) -> Result<(), BusFault>;
}

/// Slots of the invalidation log (pages written since they held code).
const LOG_SIZE: usize = 1024;
/// log2 of the granule of code tracking inside a page (64 bytes: 64 granules per page).
const CHUNK_BITS: u32 = 6;

/// Shared by all vCPUs of one machine: which RAM pages hold translated code. A write to such
/// a page (by any vCPU's store slow path, or by device DMA through [`CodePages::notify_write`])
/// invalidates the translations of that page in every engine before they run again.
pub struct CodePages {
    ram_base: u64,
    pages: u64,
    /// One word per RAM page: bit k set while some engine may hold a translation of code
    /// in bytes [64k, 64k + 64) of the page. Writes elsewhere in the page (data sharing a
    /// page with code) invalidate nothing.
    code: Box<[AtomicU64]>,
    /// Ring of invalidated physical page addresses; entry `n` is at `n % LOG_SIZE`.
    log: Box<[AtomicU64]>,
    /// Entries ever logged.
    log_len: AtomicU64,
    log_lock: Mutex<()>,
    /// Addresses of the TLBs of every engine of this machine (for write protection).
    tlbs: Mutex<Vec<usize>>,
}

impl std::fmt::Debug for CodePages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodePages")
            .field("ram_base", &self.ram_base)
            .field("pages", &self.pages)
            .field("invalidations", &self.log_len.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What an engine must drop, from [`CodePages::invalidations_since`].
pub(crate) enum Invalidations {
    None,
    /// These physical pages (addresses, page-aligned).
    Pages(Vec<u64>),
    /// The engine fell too far behind: drop everything.
    All,
}

impl CodePages {
    /// Tracking for guest RAM [ram_base, ram_base + ram_size). Code from pages outside it
    /// (ROM) is never invalidated.
    pub fn new(ram_base: u64, ram_size: u64) -> Arc<CodePages> {
        let pages = ram_size.div_ceil(PAGE_SIZE);
        Arc::new(CodePages {
            ram_base: ram_base & PAGE_MASK,
            pages,
            code: (0..pages).map(|_| AtomicU64::new(0)).collect(),
            log: (0..LOG_SIZE).map(|_| AtomicU64::new(0)).collect(),
            log_len: AtomicU64::new(0),
            log_lock: Mutex::new(()),
            tlbs: Mutex::new(Vec::new()),
        })
    }

    fn page_index(&self, paddr: u64) -> Option<usize> {
        let p = paddr.checked_sub(self.ram_base)? >> PAGE_BITS;
        (p < self.pages).then_some(p as usize)
    }

    /// Chunk bits of the bytes [paddr, paddr + len) that lie in paddr's page (len > 0).
    fn chunk_bits(paddr: u64, len: u64) -> u64 {
        let off = paddr & !PAGE_MASK;
        let end = (off + len).min(PAGE_SIZE) - 1;
        let (a, b) = (off >> CHUNK_BITS, end >> CHUNK_BITS);
        (u64::MAX >> (63 - b)) & (u64::MAX << a)
    }

    /// Whether the page holding `paddr` may hold translated code.
    pub fn is_code(&self, paddr: u64) -> bool {
        self.page_index(paddr)
            .is_some_and(|i| self.code[i].load(Ordering::SeqCst) != 0)
    }

    /// Guest memory [paddr, paddr + len) was (or is about to be) written by something other
    /// than a vCPU store (device DMA, loaders, debuggers): translations of those pages are
    /// dropped before any engine runs code again.
    pub fn notify_write(&self, paddr: u64, len: u64) {
        if len == 0 {
            return;
        }
        let end = paddr.saturating_add(len - 1);
        let mut a = paddr;
        loop {
            let page = a & PAGE_MASK;
            let bits = CodePages::chunk_bits(a, end - a + 1);
            if let Some(i) = self.page_index(page)
                && self.code[i].load(Ordering::SeqCst) & bits != 0
                && self.code[i].swap(0, Ordering::SeqCst) != 0
            {
                self.log_page(page);
            }
            if page >= end & PAGE_MASK {
                break;
            }
            a = page + PAGE_SIZE;
        }
    }

    fn log_page(&self, page: u64) {
        let _g = self.log_lock.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.log_len.load(Ordering::Relaxed);
        self.log[n as usize % LOG_SIZE].store(page, Ordering::Relaxed);
        self.log_len.store(n + 1, Ordering::Release);
    }

    /// Number of invalidations logged so far (an engine's starting cursor).
    pub(crate) fn log_position(&self) -> u64 {
        self.log_len.load(Ordering::Acquire)
    }

    /// Pages invalidated since log position `*cursor`; advances the cursor.
    pub(crate) fn invalidations_since(&self, cursor: &mut u64) -> Invalidations {
        let end = self.log_len.load(Ordering::Acquire);
        if end == *cursor {
            return Invalidations::None;
        }
        let start = *cursor;
        *cursor = end;
        if end - start > LOG_SIZE as u64 {
            return Invalidations::All;
        }
        let pages: Vec<u64> = (start..end)
            .map(|n| self.log[n as usize % LOG_SIZE].load(Ordering::Relaxed))
            .collect();
        // A writer may have wrapped around while we read.
        if self.log_len.load(Ordering::Acquire) - start > LOG_SIZE as u64 {
            return Invalidations::All;
        }
        Invalidations::Pages(pages)
    }

    /// Record that an engine is about to translate code from RAM [paddr, paddr + len)
    /// (within one page): from now on stores to the page take the slow path in every
    /// registered TLB, and those that touch these bytes invalidate the page's translations.
    pub(crate) fn mark_code(&self, paddr: u64, len: u64) {
        let Some(i) = self.page_index(paddr) else {
            return;
        };
        let bits = CodePages::chunk_bits(paddr, len.max(1));
        let old = self.code[i].load(Ordering::SeqCst);
        if old & bits == bits || self.code[i].fetch_or(bits, Ordering::SeqCst) != 0 {
            return;
        }
        let page = paddr & PAGE_MASK;
        let tlbs = self.tlbs.lock().unwrap_or_else(|e| e.into_inner());
        for &t in tlbs.iter() {
            let t = t as *mut Tlb;
            for mi in 0..MAX_MMU_IDX {
                for j in 0..TLB_ENTRIES {
                    // SAFETY: registered TLBs stay alive until unregistered (engine
                    // contract); only atomic accesses to tags and phys.
                    unsafe {
                        if atomic_at(&raw mut (*t).phys[mi][j]).load(Ordering::SeqCst) == page {
                            let w = atomic_at(&raw mut (*t).entries[mi][j].write);
                            let cur = w.load(Ordering::SeqCst);
                            if cur != TLB_INVALID && cur & TLB_MMIO == 0 {
                                w.fetch_or(TLB_CODE, Ordering::SeqCst);
                            }
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn register_tlb(&self, tlb: *mut Tlb) {
        let mut v = self.tlbs.lock().unwrap_or_else(|e| e.into_inner());
        if !v.contains(&(tlb as usize)) {
            v.push(tlb as usize);
        }
    }

    pub(crate) fn unregister_tlb(&self, tlb: *mut Tlb) {
        let mut v = self.tlbs.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|&t| t != tlb as usize);
    }
}

/// What a system-mode engine needs besides the frontend.
#[derive(Clone)]
pub struct SoftmmuConfig {
    pub translator: Arc<dyn AddressTranslator>,
    pub phys: Arc<dyn PhysMemory>,
    pub code_pages: Arc<CodePages>,
    /// Byte offset of the [`Tlb`] inside the frontend's CPU struct (8-byte aligned).
    pub tlb_offset: u32,
}

impl std::fmt::Debug for SoftmmuConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftmmuConfig")
            .field("tlb_offset", &self.tlb_offset)
            .field("code_pages", &self.code_pages)
            .finish_non_exhaustive()
    }
}

/// Where a translated access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Host address of the byte.
    Ram(*mut u8),
    /// Guest-physical address of a device byte.
    Io(u64),
}

/// Serialises atomics on MMIO (read, modify, write as one step with respect to each other).
static IO_ATOMIC: Mutex<()> = Mutex::new(());

impl SoftmmuConfig {
    /// The TLB inside the CPU state `env`.
    pub(crate) fn tlb(&self, env: *mut u8) -> *mut Tlb {
        env.wrapping_add(self.tlb_offset as usize) as *mut Tlb
    }

    /// Translate the access of a byte range that lies within one page: the TLB entry on a
    /// hit, else the translator (filling the entry). Writes to code pages invalidate the
    /// page's translations first.
    ///
    /// # Safety
    /// `env` is the live CPU state of the calling vCPU thread, with a [`Tlb`] at
    /// `tlb_offset`; `mmu_idx < MAX_MMU_IDX`.
    pub(crate) unsafe fn resolve(
        &self,
        env: *mut u8,
        vaddr: u64,
        len: u64,
        access: Access,
        mmu_idx: u8,
    ) -> Result<Target, MemFault> {
        let tlb = self.tlb(env);
        let i = mmu_idx as usize % MAX_MMU_IDX;
        let j = tlb_index(vaddr);
        let page = vaddr & PAGE_MASK;
        // SAFETY: per the contract, `tlb` is live and ours; indices in range.
        unsafe {
            let ep = &raw mut (*tlb).entries[i][j];
            let tag_ptr = match access {
                Access::Read => &raw mut (*ep).read,
                Access::Write => &raw mut (*ep).write,
                Access::Exec => &raw mut (*ep).code,
            };
            let mut tag = atomic_at(tag_ptr).load(Ordering::SeqCst);
            (*tlb).lookups += 1;
            if tag == TLB_INVALID || tag & PAGE_MASK != page {
                (*tlb).misses += 1;
                self.fill(env, tlb, vaddr, access, i)?;
                tag = atomic_at(tag_ptr).load(Ordering::SeqCst);
                if tag == TLB_INVALID || tag & PAGE_MASK != page {
                    // The translator answered Ok without granting this access.
                    return Err(MemFault {
                        addr: vaddr,
                        kind: access.fault(),
                    });
                }
            }
            let phys = atomic_at(&raw mut (*tlb).phys[i][j]).load(Ordering::SeqCst);
            let off = vaddr & !PAGE_MASK;
            if tag & TLB_MMIO != 0 {
                return Ok(Target::Io(phys | off));
            }
            if tag & TLB_CODE != 0 {
                self.code_pages.notify_write(phys | off, len);
                if !self.code_pages.is_code(phys) {
                    atomic_at(tag_ptr).fetch_and(!TLB_CODE, Ordering::SeqCst);
                }
            }
            let addend = atomic_at(&raw mut (*ep).addend).load(Ordering::Relaxed);
            Ok(Target::Ram(vaddr.wrapping_add(addend) as *mut u8))
        }
    }

    fn count_slow(&self, env: *mut u8) {
        // SAFETY: the callers' contract: env holds our Tlb.
        unsafe { (*self.tlb(env)).slow += 1 };
    }

    /// Ask the translator and fill entry (i, index of vaddr).
    ///
    /// # Safety
    /// As for [`SoftmmuConfig::resolve`]; `tlb` is `self.tlb(env)`.
    unsafe fn fill(
        &self,
        env: *mut u8,
        tlb: *mut Tlb,
        vaddr: u64,
        access: Access,
        i: usize,
    ) -> Result<(), MemFault> {
        let map = self
            .translator
            .translate(env, vaddr, access, i as u8)
            .map_err(|kind| MemFault { addr: vaddr, kind })?;
        let page = vaddr & PAGE_MASK;
        let ppage = map.paddr & PAGE_MASK;
        let (flags, addend) = match self.phys.ram_page(ppage) {
            Some(host) => (0, (host as u64).wrapping_sub(page)),
            None => (TLB_MMIO, 0),
        };
        let tag = |ok: bool| if ok { page | flags } else { TLB_INVALID };
        let code = flags == 0 && self.code_pages.is_code(ppage);
        let e = TlbEntry {
            read: tag(map.read),
            write: if map.write && code {
                page | TLB_CODE
            } else {
                tag(map.write)
            },
            code: tag(map.exec),
            addend,
        };
        let j = tlb_index(vaddr);
        // SAFETY: per the contract.
        unsafe {
            Tlb::store_entry(tlb, i, j, e, ppage);
            (*tlb).fills += 1;
            // A page that became code between our check and the store: protect it now
            // (the marker scans TLBs after setting the bit; one of us sees the other).
            if map.write
                && flags == 0
                && !code
                && self.code_pages.is_code(ppage)
                && atomic_at(&raw mut (*tlb).phys[i][j]).load(Ordering::SeqCst) == ppage
            {
                atomic_at(&raw mut (*tlb).entries[i][j].write).fetch_or(TLB_CODE, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    fn io_err(vaddr: u64, access: Access) -> impl Fn(BusFault) -> MemFault {
        move |_| MemFault {
            addr: vaddr,
            kind: access.bus_fault(),
        }
    }

    /// Load `size` bytes (1, 2, 4, 8, 16), zero-extended, in guest byte order `be`.
    ///
    /// # Safety
    /// As for [`SoftmmuConfig::resolve`].
    pub(crate) unsafe fn load(
        &self,
        env: *mut u8,
        vaddr: u64,
        size: u8,
        aligned: bool,
        be: bool,
        mmu_idx: u8,
    ) -> Result<u128, MemFault> {
        self.count_slow(env);
        check_align(vaddr, size, aligned)?;
        let n = size as usize;
        let mut bytes = [0u8; 16];
        if crosses_page(vaddr, size) {
            // Both pages must translate before anything is read (MMIO reads have effects).
            let split = (PAGE_SIZE - (vaddr & !PAGE_MASK)) as usize;
            let second = vaddr.wrapping_add(split as u64);
            // SAFETY: per the contract.
            let (t0, t1) = unsafe {
                (
                    self.resolve(env, vaddr, split as u64, Access::Read, mmu_idx)?,
                    self.resolve(env, second, (n - split) as u64, Access::Read, mmu_idx)?,
                )
            };
            for (k, byte) in bytes[..n].iter_mut().enumerate() {
                let (t, off, va) = if k < split {
                    (t0, k, vaddr + k as u64)
                } else {
                    (t1, k - split, second + (k - split) as u64)
                };
                *byte = match t {
                    // SAFETY: inside the translated RAM page.
                    Target::Ram(p) => unsafe { *p.add(off) },
                    Target::Io(pa) => {
                        self.phys
                            .io_read(pa + off as u64, 1)
                            .map_err(Self::io_err(va, Access::Read))? as u8
                    }
                };
            }
        } else {
            // SAFETY: per the contract.
            match unsafe { self.resolve(env, vaddr, n as u64, Access::Read, mmu_idx)? } {
                // SAFETY: [p, p + n) lies in one translated RAM page.
                Target::Ram(p) if n <= 8 => return Ok(unsafe { ram_load(p, size, be) }.into()),
                Target::Ram(p) => {
                    // SAFETY: [p, p + n) lies in one translated RAM page.
                    unsafe { std::ptr::copy_nonoverlapping(p, bytes.as_mut_ptr(), n) }
                }
                Target::Io(pa) => {
                    let err = Self::io_err(vaddr, Access::Read);
                    if n == 16 {
                        let lo = self.phys.io_read(pa, 8).map_err(&err)?;
                        let hi = self.phys.io_read(pa + 8, 8).map_err(&err)?;
                        bytes[..8].copy_from_slice(&lo.to_le_bytes());
                        bytes[8..].copy_from_slice(&hi.to_le_bytes());
                    } else {
                        let v = self.phys.io_read(pa, size).map_err(err)?;
                        bytes[..8].copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
        Ok(from_bytes(&bytes[..n], be))
    }

    /// Store the low `size` bytes of `v` in guest byte order `be`.
    ///
    /// # Safety
    /// As for [`SoftmmuConfig::resolve`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn store(
        &self,
        env: *mut u8,
        vaddr: u64,
        size: u8,
        aligned: bool,
        be: bool,
        mmu_idx: u8,
        v: u128,
    ) -> Result<(), MemFault> {
        self.count_slow(env);
        check_align(vaddr, size, aligned)?;
        let n = size as usize;
        if n <= 8 && !crosses_page(vaddr, size) {
            // SAFETY: per the contract.
            let t = unsafe { self.resolve(env, vaddr, n as u64, Access::Write, mmu_idx)? };
            if let Target::Ram(p) = t {
                // SAFETY: [p, p + n) lies in one translated, writable RAM page.
                unsafe { ram_store(p, size, be, v as u64) };
                return Ok(());
            }
        }
        let bytes = to_bytes(v, n, be);
        if crosses_page(vaddr, size) {
            // Both pages must translate before anything is written.
            let split = (PAGE_SIZE - (vaddr & !PAGE_MASK)) as usize;
            let second = vaddr.wrapping_add(split as u64);
            // SAFETY: per the contract.
            let (t0, t1) = unsafe {
                (
                    self.resolve(env, vaddr, split as u64, Access::Write, mmu_idx)?,
                    self.resolve(env, second, (n - split) as u64, Access::Write, mmu_idx)?,
                )
            };
            for (k, &byte) in bytes[..n].iter().enumerate() {
                let (t, off, va) = if k < split {
                    (t0, k, vaddr + k as u64)
                } else {
                    (t1, k - split, second + (k - split) as u64)
                };
                match t {
                    // SAFETY: inside the translated RAM page.
                    Target::Ram(p) => unsafe { *p.add(off) = byte },
                    Target::Io(pa) => self
                        .phys
                        .io_write(pa + off as u64, 1, byte as u64)
                        .map_err(Self::io_err(va, Access::Write))?,
                }
            }
            return Ok(());
        }
        // SAFETY: per the contract.
        match unsafe { self.resolve(env, vaddr, n as u64, Access::Write, mmu_idx)? } {
            Target::Ram(p) => {
                // SAFETY: [p, p + n) lies in one translated, writable RAM page.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, n) }
            }
            Target::Io(pa) => {
                let err = Self::io_err(vaddr, Access::Write);
                let le = from_bytes(&bytes[..n], false);
                if n == 16 {
                    self.phys.io_write(pa, 8, le as u64).map_err(&err)?;
                    self.phys
                        .io_write(pa + 8, 8, (le >> 64) as u64)
                        .map_err(&err)?;
                } else {
                    self.phys.io_write(pa, size, le as u64).map_err(err)?;
                }
            }
        }
        Ok(())
    }

    /// An atomic access of `size` bytes (naturally aligned, else Misaligned), translated
    /// for writing: on RAM `ram` performs it with host atomics on the host pointer and
    /// returns the old value; on MMIO the old value is read, `io` gives the new one (None:
    /// no write), and it is written, all under one lock. Returns the old value.
    ///
    /// # Safety
    /// As for [`SoftmmuConfig::resolve`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn atomic(
        &self,
        env: *mut u8,
        vaddr: u64,
        size: u8,
        be: bool,
        mmu_idx: u8,
        ram: impl FnOnce(*mut u8) -> u128,
        io: impl FnOnce(u128) -> Option<u128>,
    ) -> Result<u128, MemFault> {
        self.count_slow(env);
        check_align(vaddr, size, true)?;
        // SAFETY: per the contract.
        match unsafe { self.resolve(env, vaddr, size as u64, Access::Write, mmu_idx)? } {
            Target::Ram(p) => Ok(ram(p)),
            Target::Io(_) => {
                let _g = IO_ATOMIC.lock().unwrap_or_else(|e| e.into_inner());
                // SAFETY: per the contract.
                // An atomic is a store for its faults: a device that refuses the read part
                // gives a store/AMO bus fault, not a load one.
                let old = unsafe { self.load(env, vaddr, size, true, be, mmu_idx) }.map_err(
                    |f| match f.kind {
                        FaultKind::BusRead => MemFault {
                            kind: FaultKind::BusWrite,
                            ..f
                        },
                        _ => f,
                    },
                )?;
                if let Some(new) = io(old) {
                    // SAFETY: per the contract.
                    unsafe { self.store(env, vaddr, size, true, be, mmu_idx, new)? };
                }
                Ok(old)
            }
        }
    }
}

fn check_align(vaddr: u64, size: u8, aligned: bool) -> Result<(), MemFault> {
    if aligned && vaddr & (size as u64 - 1) != 0 {
        return Err(MemFault {
            addr: vaddr,
            kind: FaultKind::Misaligned,
        });
    }
    Ok(())
}

#[inline]
fn crosses_page(vaddr: u64, size: u8) -> bool {
    (vaddr & !PAGE_MASK) + size as u64 > PAGE_SIZE
}

/// Load `size` (1, 2, 4 or 8) bytes at host `p` in guest byte order `be`, zero-extended:
/// one host load instead of a byte copy (the common case of [`SoftmmuConfig::load`]).
///
/// # Safety
/// `[p, p + size)` is readable host memory.
#[inline]
unsafe fn ram_load(p: *const u8, size: u8, be: bool) -> u64 {
    // SAFETY: per the contract (unaligned reads are fine for these types).
    unsafe {
        match (size, be) {
            (1, _) => u64::from(*p),
            (2, false) => u64::from(u16::from_le((p as *const u16).read_unaligned())),
            (2, true) => u64::from(u16::from_be((p as *const u16).read_unaligned())),
            (4, false) => u64::from(u32::from_le((p as *const u32).read_unaligned())),
            (4, true) => u64::from(u32::from_be((p as *const u32).read_unaligned())),
            (_, false) => u64::from_le((p as *const u64).read_unaligned()),
            (_, true) => u64::from_be((p as *const u64).read_unaligned()),
        }
    }
}

/// Store the low `size` (1, 2, 4 or 8) bytes of `v` at host `p` in guest byte order `be`.
///
/// # Safety
/// `[p, p + size)` is writable host memory.
#[inline]
unsafe fn ram_store(p: *mut u8, size: u8, be: bool, v: u64) {
    // SAFETY: per the contract (unaligned writes are fine for these types).
    unsafe {
        match (size, be) {
            (1, _) => *p = v as u8,
            (2, false) => (p as *mut u16).write_unaligned((v as u16).to_le()),
            (2, true) => (p as *mut u16).write_unaligned((v as u16).to_be()),
            (4, false) => (p as *mut u32).write_unaligned((v as u32).to_le()),
            (4, true) => (p as *mut u32).write_unaligned((v as u32).to_be()),
            (_, false) => (p as *mut u64).write_unaligned(v.to_le()),
            (_, true) => (p as *mut u64).write_unaligned(v.to_be()),
        }
    }
}

fn from_bytes(b: &[u8], be: bool) -> u128 {
    let mut v = 0u128;
    if be {
        for &x in b {
            v = v << 8 | x as u128;
        }
    } else {
        for &x in b.iter().rev() {
            v = v << 8 | x as u128;
        }
    }
    v
}

fn to_bytes(v: u128, n: usize, be: bool) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (k, o) in out[..n].iter_mut().enumerate() {
        let shift = if be { (n - 1 - k) * 8 } else { k * 8 };
        *o = (v >> shift) as u8;
    }
    out
}

/// The instruction-fetch view of one vCPU for the translator: guest-virtual code addresses
/// through the MMU (Exec permission, the fetch MMU index), RAM or device memory. Records the
/// physical pages read (marked as code in [`CodePages`] before they are read) and the
/// fault that stopped a fetch.
pub(crate) struct SysFetch<'a> {
    pub sys: &'a SoftmmuConfig,
    pub env: *mut u8,
    pub mmu_idx: u8,
    /// (virtual page, physical page) of every page read, in order, without duplicates.
    pub pages: std::cell::RefCell<Vec<(u64, u64)>>,
    /// The fault that ended the last short fetch.
    pub fault: std::cell::Cell<Option<MemFault>>,
}

impl<'a> SysFetch<'a> {
    pub(crate) fn new(sys: &'a SoftmmuConfig, env: *mut u8, mmu_idx: u8) -> SysFetch<'a> {
        SysFetch {
            sys,
            env,
            mmu_idx,
            pages: Default::default(),
            fault: Default::default(),
        }
    }

    /// Physical address of the code byte at `vaddr`.
    ///
    /// # Safety
    /// As for [`SoftmmuConfig::resolve`].
    pub(crate) unsafe fn phys_of(&self, vaddr: u64) -> Result<(u64, Target), MemFault> {
        // SAFETY: per the contract.
        let t = unsafe {
            self.sys
                .resolve(self.env, vaddr, 1, Access::Exec, self.mmu_idx)?
        };
        let tlb = self.sys.tlb(self.env);
        let i = self.mmu_idx as usize % MAX_MMU_IDX;
        // SAFETY: resolve just filled or hit this entry.
        let phys =
            unsafe { atomic_at(&raw mut (*tlb).phys[i][tlb_index(vaddr)]) }.load(Ordering::SeqCst);
        Ok((phys | (vaddr & !PAGE_MASK), t))
    }
}

impl CodeFetch for SysFetch<'_> {
    fn fetch(&self, addr: u64, buf: &mut [u8]) -> usize {
        let mut n = 0usize;
        while n < buf.len() {
            let a = addr.wrapping_add(n as u64);
            // SAFETY: the engine creates SysFetch only inside `run` with the live env.
            let (pa, t) = match unsafe { self.phys_of(a) } {
                Ok(x) => x,
                Err(f) => {
                    self.fault.set(Some(f));
                    break;
                }
            };
            let take = ((PAGE_SIZE - (a & !PAGE_MASK)) as usize).min(buf.len() - n);
            {
                let pair = (a & PAGE_MASK, pa & PAGE_MASK);
                let mut pages = self.pages.borrow_mut();
                if !pages.contains(&pair) {
                    pages.push(pair);
                }
            }
            if matches!(t, Target::Ram(_)) {
                // Before reading: a store racing with us then invalidates.
                self.sys.code_pages.mark_code(pa, take as u64);
            }
            match t {
                Target::Ram(p) => {
                    // SAFETY: [p, p + take) lies in one translated RAM page.
                    unsafe { std::ptr::copy_nonoverlapping(p, buf[n..].as_mut_ptr(), take) };
                    n += take;
                }
                Target::Io(_) => {
                    for k in 0..take {
                        match self.sys.phys.io_read(pa + k as u64, 1) {
                            Ok(v) => buf[n + k] = v as u8,
                            Err(_) => {
                                self.fault.set(Some(MemFault {
                                    addr: a + k as u64,
                                    kind: FaultKind::BusExec,
                                }));
                                return n + k;
                            }
                        }
                    }
                    n += take;
                }
            }
        }
        n
    }
}

/// The code of a translated block read again for re-translation (a quick-tier block
/// promoted to Cranelift: its IR is not kept). Reads guest-physical RAM through the
/// (virtual page, physical page) pairs recorded when the block was first translated, not
/// through the TLB, whose mappings may have changed since. The engine still holds the block,
/// so its code bytes are unchanged (a write to them drops it); any other page, or a page
/// that is not RAM, ends the fetch.
pub(crate) struct RefetchCode<'a> {
    pub phys: &'a dyn PhysMemory,
    pub pages: [Option<(u64, u64)>; 2],
}

impl CodeFetch for RefetchCode<'_> {
    fn fetch(&self, addr: u64, buf: &mut [u8]) -> usize {
        let mut n = 0usize;
        while n < buf.len() {
            let a = addr.wrapping_add(n as u64);
            let Some((_, pp)) = self
                .pages
                .iter()
                .flatten()
                .find(|(vp, _)| *vp == a & PAGE_MASK)
            else {
                break;
            };
            let Some(host) = self.phys.ram_page(*pp) else {
                break;
            };
            let off = (a & !PAGE_MASK) as usize;
            let take = (PAGE_SIZE as usize - off).min(buf.len() - n);
            // SAFETY: `host` is the host address of a whole RAM page (PhysMemory's
            // contract); [off, off + take) lies inside it.
            unsafe { std::ptr::copy_nonoverlapping(host.add(off), buf[n..].as_mut_ptr(), take) };
            n += take;
        }
        n
    }
}

#[cfg(test)]
mod tests;
