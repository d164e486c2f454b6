//! The JIT's memory: one executable code region (a single RWX anonymous mapping, bump
//! allocated, reset as a whole). RWX keeps compilation cheap: no `mprotect` per block. Code
//! is written into the unused tail, which no thread executes, and exit jumps are patched
//! (chaining) only while no JIT code of the buffer runs; x86-64 keeps the instruction cache
//! coherent, so no flush is needed.

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

    /// Overwrite written bytes at `off` (patching a jump). The caller guarantees that no
    /// code of this buffer is running (the `&mut self` borrow excludes `Jit::enter`).
    pub(crate) fn patch(&mut self, off: usize, bytes: &[u8]) {
        assert!(off <= self.used && bytes.len() <= self.used - off);
        // SAFETY: inside the written part of our mapping (asserted); `&mut self` means no
        // `&self` borrow (and so no slice from `bytes`, no running code) exists.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(off), bytes.len()) };
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
