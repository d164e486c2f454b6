//! The JIT's memory: one executable code region (a single RWX anonymous mapping, bump
//! allocated, reset as a whole) and a side arena of 8-byte exit slots (ordinary RW memory,
//! also reset as a whole). RWX keeps compilation cheap: no `mprotect` per block. Code is
//! only ever written into the unused tail, which no thread executes, so on x86-64 (coherent
//! instruction cache) no flush is needed.

use std::sync::atomic::AtomicUsize;

/// The executable region.
pub(crate) struct CodeBuffer {
    base: *mut u8,
    cap: usize,
    used: usize,
}

// SAFETY: the buffer exclusively owns its mapping; moving it to another thread moves that
// ownership (writes need `&mut self`).
unsafe impl Send for CodeBuffer {}

impl CodeBuffer {
    pub(crate) fn new(size: usize) -> std::io::Result<CodeBuffer> {
        let cap = size.max(4096).next_multiple_of(4096);
        // SAFETY: a fresh private anonymous mapping at a kernel-chosen address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                cap,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(CodeBuffer {
            base: p as *mut u8,
            cap,
            used: 0,
        })
    }

    pub(crate) fn base(&self) -> usize {
        self.base as usize
    }
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Copy `code` to the next `align`-aligned offset; returns that offset, or None when
    /// it does not fit.
    pub(crate) fn append(&mut self, code: &[u8], align: usize) -> Option<usize> {
        let off = self.used.next_multiple_of(align);
        if off > self.cap || code.len() > self.cap - off {
            return None;
        }
        // SAFETY: [off, off+len) lies inside our mapping (checked above) and is not yet
        // handed out, so no code runs there and nothing else aliases it.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), self.base.add(off), code.len()) };
        self.used = off + code.len();
        Some(off)
    }

    /// Forget everything above `mark` (a value previously returned by [`Self::used`]).
    pub(crate) fn reset_to(&mut self, mark: usize) {
        debug_assert!(mark <= self.used);
        self.used = mark;
    }

    /// The bytes at [off, off+len) of the region.
    pub(crate) fn bytes(&self, off: usize, len: usize) -> &[u8] {
        assert!(off <= self.used && len <= self.used - off);
        // SAFETY: inside the written part of our mapping (asserted); code bytes are never
        // rewritten while a `&self` borrow exists (only `&mut self` appends or resets).
        unsafe { std::slice::from_raw_parts(self.base.add(off), len) }
    }
}

impl Drop for CodeBuffer {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; the Jit owning it is gone, so no code runs there.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.cap) };
    }
}

/// Fixed-capacity arena of exit slots; addresses are stable for the Jit's lifetime. The
/// backing pages are an anonymous mapping, committed only as slots get used.
pub(crate) struct SlotArena {
    map: memmap2::MmapMut,
    cap: usize,
    used: usize,
}

impl SlotArena {
    pub(crate) fn new(cap: usize) -> std::io::Result<SlotArena> {
        let cap = cap.max(1);
        let map = memmap2::MmapOptions::new()
            .len(cap * std::mem::size_of::<AtomicUsize>())
            .map_anon()?;
        Ok(SlotArena { map, cap, used: 0 })
    }
    pub(crate) fn used(&self) -> usize {
        self.used
    }
    /// A fresh slot initialised to `value`, or None when the arena is full.
    pub(crate) fn alloc(&mut self, value: usize) -> Option<*const AtomicUsize> {
        if self.used == self.cap {
            return None;
        }
        // SAFETY: `used < cap` slots fit in the page-aligned mapping; AtomicUsize has the
        // layout of usize and every access to a slot goes through the atomic.
        let s = unsafe { &*(self.map.as_ptr() as *const AtomicUsize).add(self.used) };
        s.store(value, std::sync::atomic::Ordering::Relaxed);
        self.used += 1;
        Some(s as *const AtomicUsize)
    }
    pub(crate) fn reset_to(&mut self, mark: usize) {
        debug_assert!(mark <= self.used);
        self.used = mark;
    }
}
