//! Split virtqueues (virtio 1.x §2.7) processed against guest RAM through [`DmaMemory`].
//! Every guest-physical address is checked against RAM; a bad chain (address outside RAM,
//! index out of range, loop, too long, a device-readable descriptor after a
//! device-writable one, indirect descriptors we did not offer) is a [`QueueError`], never
//! a host panic.

use crate::bus::DmaMemory;
use std::sync::atomic::{Ordering, fence};

pub const DESC_F_NEXT: u16 = 1;
pub const DESC_F_WRITE: u16 = 2;
pub const DESC_F_INDIRECT: u16 = 4;
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Upper bound on the bytes of one chain (guards host allocations).
pub const MAX_CHAIN_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("virtqueue ring at {0:#x} is outside guest RAM")]
    RingOutsideRam(u64),
    #[error("descriptor index {0} out of range")]
    BadIndex(u16),
    #[error("buffer {addr:#x}+{len:#x} is outside guest RAM")]
    BufferOutsideRam { addr: u64, len: u32 },
    #[error("descriptor chain loops or is longer than the queue")]
    ChainTooLong,
    #[error("descriptor chain larger than {MAX_CHAIN_BYTES} bytes")]
    ChainTooBig,
    #[error("device-readable descriptor after a device-writable one")]
    WrongDirection,
    #[error("indirect descriptor (not negotiated)")]
    Indirect,
    #[error("available index moved by more than the queue size")]
    BadAvailIdx,
    #[error("request malformed: {0}")]
    BadRequest(&'static str),
}

/// One guest buffer of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    pub addr: u64,
    pub len: u32,
}

/// A popped descriptor chain: device-readable buffers, then device-writable ones.
#[derive(Debug, Default)]
pub struct Chain {
    pub head: u16,
    pub readable: Vec<Buf>,
    pub writable: Vec<Buf>,
}

impl Chain {
    pub fn readable_len(&self) -> u64 {
        self.readable.iter().map(|b| u64::from(b.len)).sum()
    }
    pub fn writable_len(&self) -> u64 {
        self.writable.iter().map(|b| u64::from(b.len)).sum()
    }
    /// All device-readable bytes, concatenated.
    pub fn read_all(&self, mem: &dyn DmaMemory) -> Result<Vec<u8>, QueueError> {
        let mut out = vec![0; self.readable_len() as usize];
        let mut pos = 0;
        for b in &self.readable {
            let end = pos + b.len as usize;
            mem.read(b.addr, &mut out[pos..end])
                .map_err(|_| QueueError::BufferOutsideRam {
                    addr: b.addr,
                    len: b.len,
                })?;
            pos = end;
        }
        Ok(out)
    }
    /// Scatters `data` over the device-writable buffers from byte `skip` on; returns the
    /// bytes written (short if the buffers are smaller).
    pub fn write_at(
        &self,
        mem: &dyn DmaMemory,
        mut skip: u64,
        data: &[u8],
    ) -> Result<usize, QueueError> {
        let mut done = 0;
        for b in &self.writable {
            if done == data.len() {
                break;
            }
            let len = u64::from(b.len);
            if skip >= len {
                skip -= len;
                continue;
            }
            let n = ((len - skip) as usize).min(data.len() - done);
            mem.write(b.addr + skip, &data[done..done + n])
                .map_err(|_| QueueError::BufferOutsideRam {
                    addr: b.addr,
                    len: b.len,
                })?;
            done += n;
            skip = 0;
        }
        Ok(done)
    }
}

/// Driver-programmed state of one split virtqueue.
#[derive(Clone, Debug, Default)]
pub struct Queue {
    pub max_size: u16,
    pub size: u16,
    pub ready: bool,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    pub last_avail: u16,
    pub next_used: u16,
}

impl Queue {
    pub fn new(max_size: u16) -> Queue {
        Queue {
            max_size,
            size: max_size,
            ..Queue::default()
        }
    }

    pub fn reset(&mut self) {
        *self = Queue::new(self.max_size);
    }

    fn check_rings(&self, mem: &dyn DmaMemory) -> Result<(), QueueError> {
        let n = u64::from(self.size);
        if !mem.contains(self.desc, 16 * n) {
            return Err(QueueError::RingOutsideRam(self.desc));
        }
        if !mem.contains(self.avail, 6 + 2 * n) {
            return Err(QueueError::RingOutsideRam(self.avail));
        }
        if !mem.contains(self.used, 6 + 8 * n) {
            return Err(QueueError::RingOutsideRam(self.used));
        }
        Ok(())
    }

    fn ram<T>(r: Result<T, crate::bus::BusError>, addr: u64) -> Result<T, QueueError> {
        r.map_err(|_| QueueError::RingOutsideRam(addr))
    }

    /// Takes the next available chain, if any.
    pub fn pop(&mut self, mem: &dyn DmaMemory) -> Result<Option<Chain>, QueueError> {
        if !self.ready || self.size == 0 {
            return Ok(None);
        }
        self.check_rings(mem)?;
        let avail_idx = Self::ram(mem.read_u16(self.avail + 2), self.avail)?;
        let outstanding = avail_idx.wrapping_sub(self.last_avail);
        if outstanding == 0 {
            return Ok(None);
        }
        if outstanding > self.size {
            return Err(QueueError::BadAvailIdx);
        }
        // Read ring entries only after seeing the index (pairs with the driver's barrier).
        fence(Ordering::Acquire);
        let slot = u64::from(self.last_avail % self.size);
        let head = Self::ram(mem.read_u16(self.avail + 4 + 2 * slot), self.avail)?;
        self.last_avail = self.last_avail.wrapping_add(1);
        self.walk(mem, head).map(Some)
    }

    fn walk(&self, mem: &dyn DmaMemory, head: u16) -> Result<Chain, QueueError> {
        let mut chain = Chain {
            head,
            ..Chain::default()
        };
        let mut idx = head;
        let mut total = 0u64;
        for _ in 0..self.size {
            if idx >= self.size {
                return Err(QueueError::BadIndex(idx));
            }
            let d = self.desc + 16 * u64::from(idx);
            let addr = Self::ram(mem.read_u64(d), d)?;
            let len = Self::ram(mem.read_u32(d + 8), d)?;
            let flags = Self::ram(mem.read_u16(d + 12), d)?;
            let next = Self::ram(mem.read_u16(d + 14), d)?;
            if flags & DESC_F_INDIRECT != 0 {
                return Err(QueueError::Indirect);
            }
            if !mem.contains(addr, u64::from(len)) {
                return Err(QueueError::BufferOutsideRam { addr, len });
            }
            total += u64::from(len);
            if total > MAX_CHAIN_BYTES {
                return Err(QueueError::ChainTooBig);
            }
            let buf = Buf { addr, len };
            if flags & DESC_F_WRITE != 0 {
                chain.writable.push(buf);
            } else if chain.writable.is_empty() {
                chain.readable.push(buf);
            } else {
                return Err(QueueError::WrongDirection);
            }
            if flags & DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            idx = next;
        }
        Err(QueueError::ChainTooLong)
    }

    /// Returns chain `head` to the driver with `len` bytes written.
    pub fn push_used(
        &mut self,
        mem: &dyn DmaMemory,
        head: u16,
        len: u32,
    ) -> Result<(), QueueError> {
        let slot = u64::from(self.next_used % self.size.max(1));
        let e = self.used + 4 + 8 * slot;
        Self::ram(mem.write_u32(e, u32::from(head)), e)?;
        Self::ram(mem.write_u32(e + 4, len), e)?;
        self.next_used = self.next_used.wrapping_add(1);
        // The element must be visible before the index.
        fence(Ordering::Release);
        Self::ram(mem.write_u16(self.used + 2, self.next_used), self.used)
    }

    /// Whether the driver asked not to be interrupted.
    pub fn interrupts_suppressed(&self, mem: &dyn DmaMemory) -> bool {
        fence(Ordering::SeqCst);
        mem.read_u16(self.avail)
            .is_ok_and(|f| f & AVAIL_F_NO_INTERRUPT != 0)
    }
}
