//! Guest memory for user mode: one reserved host range that holds the whole guest address
//! space (host address = base + guest address), plus a page-permission table. The JIT
//! accesses it directly (host page protections mirror guest ones, host faults are turned
//! into guest faults); the interpreter and the translator check [`PagePerms`] in software.

use crate::FaultKind;
use std::sync::atomic::{AtomicU8, Ordering};

pub const PAGE_SIZE: u64 = 4096;
pub const PAGE_SHIFT: u32 = 12;

pub const PERM_R: u8 = 1;
pub const PERM_W: u8 = 2;
pub const PERM_X: u8 = 4;

/// One permission byte per guest page, in an untouched-until-used anonymous mapping.
pub struct PagePerms {
    map: memmap2::MmapMut,
    pages: u64,
}

impl PagePerms {
    fn new(pages: u64) -> std::io::Result<PagePerms> {
        let map = memmap2::MmapOptions::new().len(pages as usize).map_anon()?;
        Ok(PagePerms { map, pages })
    }
    fn cell(&self, page: u64) -> &AtomicU8 {
        debug_assert!(page < self.pages);
        // SAFETY: `page < pages` = mapping length; AtomicU8 has the layout of u8, and all
        // accesses to the table go through atomics.
        unsafe { &*(self.map.as_ptr().add(page as usize) as *const AtomicU8) }
    }
    pub fn get(&self, addr: u64) -> u8 {
        let page = addr >> PAGE_SHIFT;
        if page >= self.pages {
            0
        } else {
            self.cell(page).load(Ordering::Relaxed)
        }
    }
    fn set_range(&self, addr: u64, len: u64, perms: u8) {
        let first = addr >> PAGE_SHIFT;
        let last = (addr + len).div_ceil(PAGE_SIZE).min(self.pages);
        for p in first..last {
            self.cell(p).store(perms, Ordering::Relaxed);
        }
    }
}

/// A guest memory fault: address and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault {
    pub addr: u64,
    pub kind: FaultKind,
}

/// The guest address space of one user-mode process.
pub struct GuestMemory {
    base: *mut u8,
    limit: u64,
    perms: PagePerms,
}

// SAFETY: the reservation lives as long as the GuestMemory and is only accessed through
// raw pointers with explicit checks; concurrent guest threads race exactly as the guest's
// own memory model allows.
unsafe impl Send for GuestMemory {}
unsafe impl Sync for GuestMemory {}

fn prot_of(perms: u8) -> libc::c_int {
    let mut p = libc::PROT_NONE;
    if perms & (PERM_R | PERM_X) != 0 {
        p |= libc::PROT_READ;
    }
    if perms & PERM_W != 0 {
        p |= libc::PROT_READ | libc::PROT_WRITE;
    }
    p
}

impl GuestMemory {
    /// Reserve `limit` bytes (a multiple of the page size) of host address space, all
    /// inaccessible.
    pub fn reserve(limit: u64) -> std::io::Result<GuestMemory> {
        assert!(limit.is_multiple_of(PAGE_SIZE));
        // SAFETY: a fresh anonymous PROT_NONE reservation at a kernel-chosen address.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                limit as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let perms = PagePerms::new(limit >> PAGE_SHIFT)?;
        Ok(GuestMemory {
            base: base as *mut u8,
            limit,
            perms,
        })
    }

    /// Host address of guest address 0.
    pub fn base(&self) -> usize {
        self.base as usize
    }
    /// Guest addresses at or above this are never mapped.
    pub fn limit(&self) -> u64 {
        self.limit
    }
    pub fn perms(&self) -> &PagePerms {
        &self.perms
    }
    /// True if [addr, addr+len) lies in the reservation.
    pub fn in_range(&self, addr: u64, len: u64) -> bool {
        addr < self.limit && len <= self.limit - addr
    }

    /// Map fresh zeroed memory at [addr, addr+len) with `perms` (replacing what was there).
    pub fn map_anon(&self, addr: u64, len: u64, perms: u8) -> std::io::Result<()> {
        self.check_range(addr, len)?;
        // SAFETY: the range is inside our reservation (checked), so MAP_FIXED only replaces
        // guest pages.
        let r = unsafe {
            libc::mmap(
                self.base.add(addr as usize) as *mut libc::c_void,
                len as usize,
                prot_of(perms),
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if r == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        self.perms.set_range(addr, len, perms);
        Ok(())
    }

    /// Map `len` bytes of host file `fd` at `offset` to guest [addr, addr+len).
    pub fn map_file(
        &self,
        addr: u64,
        len: u64,
        perms: u8,
        shared: bool,
        fd: i32,
        offset: u64,
    ) -> std::io::Result<()> {
        self.check_range(addr, len)?;
        let flags = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        } | libc::MAP_FIXED;
        // SAFETY: inside our reservation (checked); the kernel validates fd and offset.
        let r = unsafe {
            libc::mmap(
                self.base.add(addr as usize) as *mut libc::c_void,
                len as usize,
                prot_of(perms),
                flags,
                fd,
                offset as libc::off_t,
            )
        };
        if r == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        self.perms.set_range(addr, len, perms);
        Ok(())
    }

    /// Change the permissions of mapped pages.
    pub fn protect(&self, addr: u64, len: u64, perms: u8) -> std::io::Result<()> {
        self.check_range(addr, len)?;
        // SAFETY: inside our reservation (checked).
        let r = unsafe {
            libc::mprotect(
                self.base.add(addr as usize) as *mut libc::c_void,
                len as usize,
                prot_of(perms),
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.perms.set_range(addr, len, perms);
        Ok(())
    }

    /// Unmap guest pages: they become inaccessible again (the reservation stays).
    pub fn unmap(&self, addr: u64, len: u64) -> std::io::Result<()> {
        self.check_range(addr, len)?;
        // SAFETY: inside our reservation (checked); replaces the pages with PROT_NONE.
        let r = unsafe {
            libc::mmap(
                self.base.add(addr as usize) as *mut libc::c_void,
                len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if r == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        self.perms.set_range(addr, len, 0);
        Ok(())
    }

    fn check_range(&self, addr: u64, len: u64) -> std::io::Result<()> {
        if !addr.is_multiple_of(PAGE_SIZE)
            || !len.is_multiple_of(PAGE_SIZE)
            || !self.in_range(addr, len)
        {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(())
    }

    /// Check that every byte of [addr, addr+len) has all of `need`.
    pub fn check(&self, addr: u64, len: u64, need: u8, kind: FaultKind) -> Result<(), MemFault> {
        if len == 0 {
            return Ok(());
        }
        if !self.in_range(addr, len) {
            return Err(MemFault { addr, kind });
        }
        let mut page = addr & !(PAGE_SIZE - 1);
        let end = addr + len;
        while page < end {
            if self.perms.get(page) & need != need {
                return Err(MemFault {
                    addr: page.max(addr),
                    kind,
                });
            }
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Host pointer for a guest address, unchecked. Callers must have checked the range.
    pub fn host_ptr(&self, addr: u64) -> *mut u8 {
        self.base.wrapping_add(addr as usize)
    }

    /// Load `size` (1, 2, 4, 8) little-endian bytes, zero-extended.
    pub fn load(&self, addr: u64, size: u8) -> Result<u64, MemFault> {
        self.check(addr, size as u64, PERM_R, FaultKind::Read)?;
        let mut buf = [0u8; 8];
        // SAFETY: the range was checked readable, so it is mapped in the reservation.
        unsafe {
            std::ptr::copy_nonoverlapping(self.host_ptr(addr), buf.as_mut_ptr(), size as usize)
        };
        Ok(u64::from_le_bytes(buf))
    }

    /// Store the low `size` bytes of `value`, little-endian.
    pub fn store(&self, addr: u64, size: u8, value: u64) -> Result<(), MemFault> {
        self.check(addr, size as u64, PERM_W, FaultKind::Write)?;
        let buf = value.to_le_bytes();
        // SAFETY: the range was checked writable, so it is mapped writable in the reservation.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), self.host_ptr(addr), size as usize) };
        Ok(())
    }

    /// Read guest bytes into `buf` (checked for read permission).
    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        self.check(addr, buf.len() as u64, PERM_R, FaultKind::Read)?;
        // SAFETY: checked readable.
        unsafe { std::ptr::copy_nonoverlapping(self.host_ptr(addr), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Write `buf` to guest memory (checked for write permission).
    pub fn write_bytes(&self, addr: u64, buf: &[u8]) -> Result<(), MemFault> {
        self.check(addr, buf.len() as u64, PERM_W, FaultKind::Write)?;
        // SAFETY: checked writable.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), self.host_ptr(addr), buf.len()) };
        Ok(())
    }

    /// Write guest bytes ignoring guest permissions (loader, kernel-side writes such as
    /// the initial stack), but still only to mapped pages.
    pub fn write_bytes_force(&self, addr: u64, buf: &[u8]) -> Result<(), MemFault> {
        self.check(addr, buf.len() as u64, 0, FaultKind::Write)?;
        for chunk_start in
            (addr & !(PAGE_SIZE - 1)..addr + buf.len() as u64).step_by(PAGE_SIZE as usize)
        {
            if self.perms.get(chunk_start) == 0 {
                return Err(MemFault {
                    addr: chunk_start.max(addr),
                    kind: FaultKind::Write,
                });
            }
        }
        let p = self.perms.get(addr);
        if p & PERM_W != 0 {
            return self.write_bytes(addr, buf);
        }
        // Temporarily make the pages writable on the host.
        let first = addr & !(PAGE_SIZE - 1);
        let end = (addr + buf.len() as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        // SAFETY: the pages are mapped guest pages inside our reservation.
        unsafe {
            libc::mprotect(
                self.host_ptr(first) as *mut libc::c_void,
                (end - first) as usize,
                libc::PROT_READ | libc::PROT_WRITE,
            );
            std::ptr::copy_nonoverlapping(buf.as_ptr(), self.host_ptr(addr), buf.len());
        }
        let mut page = first;
        while page < end {
            let perms = self.perms.get(page);
            // SAFETY: as above; restores the guest's protection.
            unsafe {
                libc::mprotect(
                    self.host_ptr(page) as *mut libc::c_void,
                    PAGE_SIZE as usize,
                    prot_of(perms),
                )
            };
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Fetch code bytes for the translator: as many bytes of `buf` as are executable from
    /// `addr` on (stops at the first non-executable page). Returns the count.
    pub fn fetch(&self, addr: u64, buf: &mut [u8]) -> usize {
        let mut n = 0usize;
        while n < buf.len() {
            let a = addr.wrapping_add(n as u64);
            if !self.in_range(a, 1) || self.perms.get(a) & PERM_X == 0 {
                break;
            }
            let page_end = (a | (PAGE_SIZE - 1)) + 1;
            let take = ((page_end - a) as usize).min(buf.len() - n);
            // SAFETY: the page is mapped and executable (hence host-readable).
            unsafe { std::ptr::copy_nonoverlapping(self.host_ptr(a), buf[n..].as_mut_ptr(), take) };
            n += take;
        }
        n
    }

    /// Read a NUL-terminated guest string of at most `max` bytes.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, MemFault> {
        let mut out = Vec::new();
        let mut a = addr;
        while out.len() < max {
            let b = self.load(a, 1)? as u8;
            if b == 0 {
                return Ok(out);
            }
            out.push(b);
            a += 1;
        }
        Err(MemFault {
            addr: a,
            kind: FaultKind::Read,
        })
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping our own reservation; no guest code runs after drop.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.limit as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_load_store_protect() {
        let m = GuestMemory::reserve(1 << 30).unwrap();
        assert!(m.load(0x1000, 4).is_err());
        m.map_anon(0x1000, 0x2000, PERM_R | PERM_W).unwrap();
        m.store(0x1ffe, 4, 0xdeadbeef).unwrap();
        assert_eq!(m.load(0x1ffe, 4).unwrap(), 0xdeadbeef);
        m.protect(0x2000, 0x1000, PERM_R).unwrap();
        assert_eq!(
            m.store(0x1ffe, 4, 1),
            Err(MemFault {
                addr: 0x2000,
                kind: FaultKind::Write
            })
        );
        m.write_bytes_force(0x2000, &[7]).unwrap();
        assert_eq!(m.load(0x2000, 1).unwrap(), 7);
        assert_eq!(m.store(0x2000, 1, 1).unwrap_err().kind, FaultKind::Write);
        let mut buf = [0u8; 16];
        assert_eq!(m.fetch(0x1000, &mut buf), 0);
        m.protect(0x1000, 0x1000, PERM_R | PERM_X).unwrap();
        assert_eq!(m.fetch(0x1ff8, &mut buf), 8);
        m.unmap(0x1000, 0x2000).unwrap();
        assert!(m.load(0x1000, 1).is_err());
        assert!(m.load(u64::MAX - 2, 4).is_err());
    }
}
