//! Bookkeeping of the guest address space: the list of mapped areas (VMAs) with their
//! protections, the top-down first-fit mmap allocator below the stack, and the brk range.
//! This module only decides addresses; the syscall layer applies them to `GuestMemory`.

use std::collections::BTreeMap;

pub const PAGE: u64 = 4096;

pub fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}
pub fn page_up(a: u64) -> Option<u64> {
    a.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

/// What a mapping came from (mremap of anonymous memory copies contents; files re-map).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    Anon,
    /// Private or shared file mapping (contents come from the host mapping).
    File,
    Shared,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    /// PERM_R/W/X bits of the guest.
    pub prot: u8,
    pub kind: VmaKind,
}

/// The guest address space layout.
#[derive(Debug)]
pub struct Mm {
    vmas: BTreeMap<u64, Vma>,
    /// Lowest address the allocator hands out.
    pub mmap_min: u64,
    /// Allocations are placed below this (the stack area starts above it).
    pub mmap_top: u64,
    pub brk_start: u64,
    pub brk_cur: u64,
    /// File mappings by start: (end, file offset at start, path) for /proc/self/maps.
    names: BTreeMap<u64, (u64, u64, String)>,
    /// The initial thread's stack [lo, hi) and the signal trampoline page ([vdso]).
    pub stack: (u64, u64),
    pub vdso: u64,
}

impl Mm {
    pub fn new(mmap_min: u64, mmap_top: u64) -> Mm {
        Mm {
            vmas: BTreeMap::new(),
            mmap_min,
            mmap_top,
            brk_start: 0,
            brk_cur: 0,
            names: BTreeMap::new(),
            stack: (0, 0),
            vdso: u64::MAX,
        }
    }

    /// True if no page of [start, end) is mapped.
    pub fn is_free(&self, start: u64, end: u64) -> bool {
        if let Some((_, v)) = self.vmas.range(..end).next_back()
            && v.end > start
        {
            return false;
        }
        true
    }

    /// The area containing `addr`, if any.
    pub fn find(&self, addr: u64) -> Option<(u64, Vma)> {
        let (s, v) = self.vmas.range(..=addr).next_back()?;
        (v.end > addr).then_some((*s, *v))
    }

    /// True if every page of [start, end) is mapped.
    pub fn is_fully_mapped(&self, start: u64, end: u64) -> bool {
        let mut a = start;
        while a < end {
            match self.find(a) {
                Some((_, v)) => a = v.end,
                None => return false,
            }
        }
        true
    }

    /// Find a free page-aligned range of `len` bytes: at `hint` if that is free and in
    /// bounds, else the highest free range below `mmap_top` (first fit, top down).
    pub fn find_free(&self, len: u64, hint: u64) -> Option<u64> {
        if len == 0 {
            return None;
        }
        let hint = page_down(hint);
        if hint >= self.mmap_min
            && let Some(end) = hint.checked_add(len)
            && end <= self.mmap_top
            && self.is_free(hint, end)
        {
            return Some(hint);
        }
        let mut end = self.mmap_top;
        // Walk areas from the top down; gaps are [prev_area_end, end).
        for (&s, v) in self.vmas.range(..self.mmap_top).rev() {
            let gap_lo = v.end.max(self.mmap_min);
            if gap_lo.checked_add(len).is_some_and(|x| x <= end) {
                return Some(end - len);
            }
            end = end.min(s);
            if end < self.mmap_min + len {
                return None;
            }
        }
        if end >= self.mmap_min + len {
            Some(end - len)
        } else {
            None
        }
    }

    /// Record [start, end) as mapped (replacing anything there).
    pub fn insert(&mut self, start: u64, end: u64, prot: u8, kind: VmaKind) {
        self.remove(start, end);
        if kind == VmaKind::Anon {
            self.clear_names(start, end);
        }
        self.vmas.insert(start, Vma { end, prot, kind });
        self.merge_around(start);
    }

    /// Forget [start, end) (splitting areas that straddle the edges).
    pub fn remove(&mut self, start: u64, end: u64) {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.vmas.range(start..end).map(|(k, _)| *k).collect();
        for k in keys {
            self.vmas.remove(&k);
        }
        self.clear_names(start, end);
    }

    /// Change protections of [start, end). Fails (ENOMEM) unless it is fully mapped.
    pub fn protect(&mut self, start: u64, end: u64, prot: u8) -> Result<(), ()> {
        if !self.is_fully_mapped(start, end) {
            return Err(());
        }
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.vmas.range_mut(start..end) {
            v.prot = prot;
        }
        self.merge_around(start);
        self.merge_around(end);
        Ok(())
    }

    /// Remember that [start, end) maps `path` from file offset `off`.
    pub fn set_name(&mut self, start: u64, end: u64, off: u64, path: String) {
        self.clear_names(start, end);
        self.names.insert(start, (end, off, path));
    }

    /// Forget file names in [start, end), keeping the parts of entries outside it.
    fn clear_names(&mut self, start: u64, end: u64) {
        let hit: Vec<u64> = self
            .names
            .range(..end)
            .filter(|(_, (e, _, _))| *e > start)
            .map(|(s, _)| *s)
            .collect();
        for s in hit {
            let Some((e, off, n)) = self.names.remove(&s) else {
                continue;
            };
            if s < start {
                self.names.insert(s, (start, off, n.clone()));
            }
            if e > end {
                self.names.insert(end, (e, off + (end - s), n));
            }
        }
    }

    /// /proc/self/maps in Linux's format: one line per area with guest addresses.
    pub fn render_maps(&self) -> String {
        let mut out = String::new();
        let heap = (
            page_down(self.brk_start),
            page_up(self.brk_cur).unwrap_or(0),
        );
        // The heap starts a line of its own even where it continues the program's data.
        let mut areas: Vec<(u64, Vma)> = Vec::new();
        for (&s, v) in &self.vmas {
            if s < heap.0 && v.end > heap.0 && heap.1 > heap.0 {
                areas.push((s, Vma { end: heap.0, ..*v }));
                areas.push((heap.0, *v));
            } else {
                areas.push((s, *v));
            }
        }
        for (s, v) in areas {
            let (off, name) = match self.name_of(s) {
                Some((off, n)) => (off, n.to_string()),
                _ if s >= heap.0 && v.end <= heap.1 && heap.1 > heap.0 => (0, "[heap]".into()),
                _ if s < self.stack.1 && v.end > self.stack.0 => (0, "[stack]".into()),
                _ if s == self.vdso => (0, "[vdso]".into()),
                _ => (0, String::new()),
            };
            let (dev, ino) = if name.starts_with('/') {
                file_id(&name)
            } else {
                (0, 0)
            };
            let mut line = format!(
                "{s:08x}-{:08x} {}{}{}{} {off:08x} {:02x}:{:02x} {ino}",
                v.end,
                if v.prot & 1 != 0 { 'r' } else { '-' },
                if v.prot & 2 != 0 { 'w' } else { '-' },
                if v.prot & 4 != 0 { 'x' } else { '-' },
                if v.kind == VmaKind::Shared { 's' } else { 'p' },
                dev_major(dev),
                dev_minor(dev),
            );
            if !name.is_empty() {
                while line.len() < 73 {
                    line.push(' ');
                }
                line.push_str(&name);
            }
            line.push('\n');
            out.push_str(&line);
        }
        out
    }

    fn name_of(&self, addr: u64) -> Option<(u64, &str)> {
        let (&s, (e, off, n)) = self.names.range(..=addr).next_back()?;
        (*e > addr).then(|| (off + (addr - s), n.as_str()))
    }

    /// Areas overlapping [start, end), clipped to it.
    pub fn areas_in(&self, start: u64, end: u64) -> Vec<(u64, Vma)> {
        let mut out = Vec::new();
        if let Some((s, v)) = self.find(start) {
            out.push((s, v));
        }
        for (&s, v) in self.vmas.range(start..end) {
            if s != start || out.is_empty() {
                out.push((s, *v));
            }
        }
        out.dedup_by_key(|(s, _)| *s);
        out.into_iter()
            .map(|(s, mut v)| {
                let s2 = s.max(start);
                v.end = v.end.min(end);
                (s2, v)
            })
            .collect()
    }

    fn split_at(&mut self, addr: u64) {
        if let Some((s, v)) = self.find(addr)
            && s < addr
        {
            self.vmas.insert(s, Vma { end: addr, ..v });
            self.vmas.insert(addr, v);
        }
    }

    fn merge_around(&mut self, addr: u64) {
        // Merge the area starting at `addr` with its predecessor, and with its successor.
        let Some(cur) = self.vmas.get(&addr).copied() else {
            // `addr` may be an end: merge the area ending there with the one starting there.
            if let Some((s, _)) = self.find(addr.wrapping_sub(1)) {
                self.merge_around(s);
            }
            return;
        };
        let mut start = addr;
        if let Some((ps, pv)) = self.vmas.range(..addr).next_back().map(|(k, v)| (*k, *v))
            && pv.end == addr
            && pv.prot == cur.prot
            && pv.kind == cur.kind
            && cur.kind == VmaKind::Anon
        {
            self.vmas.remove(&addr);
            self.vmas.insert(ps, Vma { end: cur.end, ..pv });
            start = ps;
        }
        let cur = self.vmas[&start];
        if let Some(nv) = self.vmas.get(&cur.end).copied()
            && nv.prot == cur.prot
            && nv.kind == cur.kind
            && cur.kind == VmaKind::Anon
        {
            self.vmas.remove(&cur.end);
            self.vmas.insert(start, Vma { end: nv.end, ..cur });
        }
    }
}

/// Device number and inode of a host file, (0, 0) if it cannot be inspected.
fn file_id(path: &str) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or((0, 0), |m| (m.dev(), m.ino()))
}

/// Major and minor parts of a Linux dev_t (the kernel's 12+20-bit split, extended to 64 bits).
fn dev_major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}
fn dev_minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: u8 = 3;

    #[test]
    fn top_down_first_fit_and_hints() {
        let mut m = Mm::new(0x10000, 0x100000);
        let a = m.find_free(0x2000, 0).unwrap();
        assert_eq!(a, 0xfe000);
        m.insert(a, a + 0x2000, RW, VmaKind::Anon);
        let b = m.find_free(0x1000, 0).unwrap();
        assert_eq!(b, 0xfd000);
        m.insert(b, b + 0x1000, 1, VmaKind::Anon);
        // A hole left by munmap is reused when it fits.
        m.remove(0xfe000, 0xff000);
        assert_eq!(m.find_free(0x1000, 0), Some(0xfe000));
        assert_eq!(m.find_free(0x2000, 0), Some(0xfb000));
        // Hints: honoured when free, ignored when taken.
        assert_eq!(m.find_free(0x1000, 0x20000), Some(0x20000));
        assert_eq!(m.find_free(0x1000, 0xfd000), Some(0xfe000));
        // Exhaustion.
        assert_eq!(m.find_free(0x100000, 0), None);
    }

    #[test]
    fn split_protect_merge() {
        let mut m = Mm::new(0x10000, 0x100000);
        m.insert(0x20000, 0x30000, RW, VmaKind::Anon);
        m.protect(0x22000, 0x23000, 1).unwrap();
        assert_eq!(m.vmas.len(), 3);
        assert_eq!(m.find(0x22800).unwrap().1.prot, 1);
        assert_eq!(
            m.find(0x23000).unwrap(),
            (
                0x23000,
                Vma {
                    end: 0x30000,
                    prot: RW,
                    kind: VmaKind::Anon
                }
            )
        );
        m.protect(0x22000, 0x23000, RW).unwrap();
        assert_eq!(m.vmas.len(), 1);
        assert!(m.protect(0x2f000, 0x31000, 1).is_err());
        m.remove(0x24000, 0x25000);
        assert!(m.is_free(0x24000, 0x25000));
        assert!(!m.is_free(0x23000, 0x24001));
        assert!(!m.is_fully_mapped(0x20000, 0x30000));
        let areas = m.areas_in(0x23800, 0x26000);
        assert_eq!(areas.len(), 2);
        assert_eq!(areas[0].0, 0x23800);
        assert_eq!(areas[1].0, 0x25000);
        assert_eq!(areas[1].1.end, 0x26000);
    }

    #[test]
    fn dev_numbers_and_file_ids() {
        // makedev(0xfe, 0) and makedev(259, 0x12345).
        assert_eq!((dev_major(0xfe00), dev_minor(0xfe00)), (0xfe, 0));
        let d = (259u64 & 0xfff) << 8 | (0x12345u64 & 0xff) | (0x12345u64 & !0xff) << 12;
        assert_eq!((dev_major(d), dev_minor(d)), (259, 0x12345));
        let (dev, ino) = file_id("/proc/self/exe");
        assert!(ino != 0 && dev != 0);
        assert_eq!(file_id("/nonexistent/file"), (0, 0));
    }

    #[test]
    fn maps_format() {
        let mut m = Mm::new(0x10000, 0x100000);
        m.insert(0x10000, 0x12000, 5, VmaKind::File);
        m.set_name(0x10000, 0x12000, 0x3000, "/bin/x".into());
        m.brk_start = 0x20000;
        m.brk_cur = 0x20800;
        m.insert(0x1f000, 0x21000, RW, VmaKind::Anon);
        m.stack = (0x80000, 0x90000);
        m.insert(0x80000, 0x90000, RW, VmaKind::Anon);
        m.insert(0x30000, 0x31000, RW, VmaKind::Shared);
        let text = m.render_maps();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1], "0001f000-00020000 rw-p 00000000 00:00 0");
        let lines: Vec<&str> = [&lines[..1], &lines[2..]].concat();
        assert_eq!(
            lines[0],
            format!("{:<73}/bin/x", "00010000-00012000 r-xp 00003000 00:00 0")
        );
        assert!(
            lines[1].starts_with("00020000-00021000 rw-p 00000000 00:00 0 ")
                && lines[1].ends_with(" [heap]")
        );
        assert_eq!(lines[2], "00030000-00031000 rw-s 00000000 00:00 0");
        assert!(lines[3].ends_with(" [stack]"), "{}", lines[3]);
        // An anonymous mapping over the file range forgets the name.
        m.insert(0x10000, 0x11000, RW, VmaKind::Anon);
        assert!(m.render_maps().lines().next().unwrap().ends_with(" 0"));
        assert!(
            m.render_maps()
                .contains("00011000-00012000 r-xp 00004000 00:00 0 ")
        );
    }

    #[test]
    fn allocations_never_overlap() {
        let mut m = Mm::new(0x10000, 0x200000);
        let mut got = Vec::new();
        for i in 1..20u64 {
            let len = (i % 4 + 1) * PAGE;
            let a = m.find_free(len, 0).unwrap();
            assert!(m.is_free(a, a + len));
            m.insert(a, a + len, RW, VmaKind::File);
            got.push((a, len));
            if i % 3 == 0 {
                let (a, l) = got.remove(0);
                m.remove(a, a + l);
            }
        }
        for (i, (a, l)) in got.iter().enumerate() {
            for (b, k) in &got[i + 1..] {
                assert!(a + l <= *b || b + k <= *a);
            }
        }
    }
}
