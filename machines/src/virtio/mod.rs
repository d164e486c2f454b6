//! virtio 1.x over MMIO (register layout version 2): the transport ([`VirtioMmio`]) owns
//! the register file, feature negotiation, device status, queue configuration and the
//! interrupt line; a [`VirtioDevice`] (blk, rng, console, net) owns its config space and
//! processes its queues. Queues are processed on the notifying thread (the vCPU writing
//! QueueNotify) or from another thread via [`VirtioMmio::kick`]. A bad descriptor chain
//! sets DEVICE_NEEDS_RESET and raises a configuration-change interrupt.

pub mod blk;
pub mod console;
pub mod net;
pub mod queue;
pub mod rng;

use crate::bus::{BusError, DmaMemory, MmioDevice, bad_size};
use crate::irq::IrqLine;
pub use queue::{Chain, Queue, QueueError};
use std::sync::{Arc, Mutex};

pub const MMIO_SIZE: u64 = 0x1000;
pub const MAGIC: u32 = 0x7472_6976; // "virt"
pub const VENDOR_ID: u32 = 0x4e52_4548; // "HERN"
pub const F_VERSION_1: u64 = 1 << 32;

pub const STATUS_ACKNOWLEDGE: u32 = 1;
pub const STATUS_DRIVER: u32 = 2;
pub const STATUS_DRIVER_OK: u32 = 4;
pub const STATUS_FEATURES_OK: u32 = 8;
pub const STATUS_NEEDS_RESET: u32 = 64;
pub const STATUS_FAILED: u32 = 128;

pub const INT_USED_BUFFER: u32 = 1;
pub const INT_CONFIG_CHANGE: u32 = 2;

pub const DEVICE_ID_NET: u32 = 1;
pub const DEVICE_ID_BLOCK: u32 = 2;
pub const DEVICE_ID_CONSOLE: u32 = 3;
pub const DEVICE_ID_RNG: u32 = 4;

/// A virtio device model behind the MMIO transport.
pub trait VirtioDevice: Send {
    fn device_id(&self) -> u32;
    /// Device-specific feature bits (the transport adds VIRTIO_F_VERSION_1).
    fn features(&self) -> u64;
    /// Maximum size of each queue; the length is the number of queues.
    fn queue_max_sizes(&self) -> Vec<u16>;
    /// Reads `buf.len()` bytes of config space at `offset` (zeros past its end).
    fn read_config(&self, offset: u64, buf: &mut [u8]);
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}
    /// The driver negotiated `features` (called when FEATURES_OK is accepted).
    fn set_driver_features(&mut self, _features: u64) {}
    /// Processes what queue `index` holds. Returns whether used buffers were added.
    fn process(
        &mut self,
        index: usize,
        queue: &mut Queue,
        mem: &dyn DmaMemory,
    ) -> Result<bool, QueueError>;
    fn reset(&mut self) {}
}

/// Copies the `[offset, offset+buf.len())` window of `config` into `buf`, zero-filling.
pub fn copy_config(config: &[u8], offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = usize::try_from(offset)
            .ok()
            .and_then(|o| config.get(o + i))
            .copied()
            .unwrap_or(0);
    }
}

struct State {
    dev: Option<Box<dyn VirtioDevice>>,
    queues: Vec<Queue>,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    status: u32,
    interrupt_status: u32,
    config_generation: u32,
    last_error: Option<QueueError>,
}

/// One virtio-mmio slot. A slot without a device reads device ID 0 (Linux skips it).
pub struct VirtioMmio {
    st: Mutex<State>,
    mem: Arc<dyn DmaMemory>,
    irq: IrqLine,
}

impl VirtioMmio {
    pub fn new(
        dev: Option<Box<dyn VirtioDevice>>,
        mem: Arc<dyn DmaMemory>,
        irq: IrqLine,
    ) -> VirtioMmio {
        let queues = dev
            .as_ref()
            .map(|d| d.queue_max_sizes().into_iter().map(Queue::new).collect())
            .unwrap_or_default();
        VirtioMmio {
            st: Mutex::new(State {
                dev,
                queues,
                device_features_sel: 0,
                driver_features_sel: 0,
                driver_features: 0,
                queue_sel: 0,
                status: 0,
                interrupt_status: 0,
                config_generation: 0,
                last_error: None,
            }),
            mem,
            irq,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn device_id(&self) -> u32 {
        self.lock().dev.as_ref().map_or(0, |d| d.device_id())
    }

    /// The device status register (e.g. to see DEVICE_NEEDS_RESET).
    pub fn status(&self) -> u32 {
        self.lock().status
    }

    /// The last descriptor-chain error, if the device needs a reset.
    pub fn last_error(&self) -> Option<QueueError> {
        self.lock().last_error.clone()
    }

    fn device_features(st: &State) -> u64 {
        st.dev.as_ref().map_or(0, |d| d.features() | F_VERSION_1)
    }

    /// Processes queue `index` now (for input that arrives on another thread).
    pub fn kick(&self, index: usize) {
        let mut st = self.lock();
        self.process(&mut st, index);
    }

    fn process(&self, st: &mut State, index: usize) {
        if st.status & STATUS_DRIVER_OK == 0 || st.status & STATUS_NEEDS_RESET != 0 {
            return;
        }
        let State { dev, queues, .. } = st;
        let (Some(dev), Some(q)) = (dev.as_mut(), queues.get_mut(index)) else {
            return;
        };
        if !q.ready {
            return;
        }
        match dev.process(index, q, &*self.mem) {
            Ok(true) => {
                if !q.interrupts_suppressed(&*self.mem) {
                    st.interrupt_status |= INT_USED_BUFFER;
                }
            }
            Ok(false) => {}
            Err(e) => {
                st.status |= STATUS_NEEDS_RESET;
                st.interrupt_status |= INT_CONFIG_CHANGE;
                st.last_error = Some(e);
            }
        }
        self.irq.set(st.interrupt_status != 0);
    }

    fn reset(&self, st: &mut State) {
        for q in &mut st.queues {
            q.reset();
        }
        if let Some(d) = st.dev.as_mut() {
            d.reset();
        }
        st.device_features_sel = 0;
        st.driver_features_sel = 0;
        st.driver_features = 0;
        st.queue_sel = 0;
        st.status = 0;
        st.interrupt_status = 0;
        st.last_error = None;
        self.irq.lower();
    }
}

fn set_half(v: &mut u64, high: bool, value: u32) {
    if high {
        *v = (*v & 0xffff_ffff) | (u64::from(value) << 32);
    } else {
        *v = (*v & !0xffff_ffff) | u64::from(value);
    }
}

impl MmioDevice for VirtioMmio {
    fn read(&self, offset: u64, size: u8) -> Result<u64, BusError> {
        let st = self.lock();
        if offset >= 0x100 {
            if !matches!(size, 1 | 2 | 4 | 8) {
                return Err(bad_size(offset, size));
            }
            let mut b = [0u8; 8];
            if let Some(d) = st.dev.as_ref() {
                d.read_config(offset - 0x100, &mut b[..size as usize]);
            }
            return Ok(u64::from_le_bytes(b));
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        let q = st.queues.get(st.queue_sel as usize);
        let v: u32 = match offset {
            0x000 => MAGIC,
            0x004 => 2,
            0x008 => st.dev.as_ref().map_or(0, |d| d.device_id()),
            0x00c => VENDOR_ID,
            0x010 => match st.device_features_sel {
                0 => Self::device_features(&st) as u32,
                1 => (Self::device_features(&st) >> 32) as u32,
                _ => 0,
            },
            0x034 => q.map_or(0, |q| u32::from(q.max_size)),
            0x044 => q.is_some_and(|q| q.ready).into(),
            0x060 => st.interrupt_status,
            0x070 => st.status,
            0x0b0 | 0x0b4 => 0xffff_ffff, // SHMLen: no shared memory regions
            0x0fc => st.config_generation,
            _ => 0,
        };
        Ok(v.into())
    }

    fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError> {
        let mut st = self.lock();
        if offset >= 0x100 {
            if !matches!(size, 1 | 2 | 4 | 8) {
                return Err(bad_size(offset, size));
            }
            if let Some(d) = st.dev.as_mut() {
                d.write_config(offset - 0x100, &value.to_le_bytes()[..size as usize]);
            }
            return Ok(());
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        let v = value as u32;
        let sel = st.queue_sel as usize;
        // Queue layout may only change while the queue is not live.
        let can_config = st.queues.get(sel).is_some_and(|q| !q.ready);
        match offset {
            0x014 => st.device_features_sel = v,
            0x020 => match st.driver_features_sel {
                0 => set_half(&mut st.driver_features, false, v),
                1 => set_half(&mut st.driver_features, true, v),
                _ => {}
            },
            0x024 => st.driver_features_sel = v,
            0x030 => st.queue_sel = v,
            0x038 if can_config => {
                let q = &mut st.queues[sel];
                // Sizes are powers of two up to the maximum (split rings).
                if v != 0 && v <= u32::from(q.max_size) && v.is_power_of_two() {
                    q.size = v as u16;
                } else {
                    q.size = 0;
                }
            }
            0x044 => {
                if let Some(q) = st.queues.get_mut(sel) {
                    if v & 1 != 0 {
                        q.ready = q.size != 0;
                    } else {
                        q.ready = false;
                    }
                }
            }
            0x050 => self.process(&mut st, v as usize),
            0x064 => {
                st.interrupt_status &= !v;
                self.irq.set(st.interrupt_status != 0);
            }
            0x070 => {
                if v == 0 {
                    self.reset(&mut st);
                } else {
                    let mut v = v;
                    let newly_ok =
                        v & STATUS_FEATURES_OK != 0 && st.status & STATUS_FEATURES_OK == 0;
                    if newly_ok {
                        let offered = Self::device_features(&st);
                        let wanted = st.driver_features;
                        if wanted & !offered != 0 || wanted & F_VERSION_1 == 0 {
                            v &= !STATUS_FEATURES_OK; // refuse: the driver re-reads status
                        } else if let Some(d) = st.dev.as_mut() {
                            d.set_driver_features(wanted);
                        }
                    }
                    st.status = v | (st.status & STATUS_NEEDS_RESET);
                }
            }
            0x080 | 0x084 | 0x090 | 0x094 | 0x0a0 | 0x0a4 if can_config => {
                let q = &mut st.queues[sel];
                let high = offset & 4 != 0;
                match offset & !4 {
                    0x080 => set_half(&mut q.desc, high, v),
                    0x090 => set_half(&mut q.avail, high, v),
                    _ => set_half(&mut q.used, high, v),
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod testdrv {
    //! A minimal virtio-mmio driver for tests: does what Linux's virtio_mmio does.
    use super::*;
    use crate::bus::Ram;
    use crate::irq::test_util::Levels;
    use queue::{DESC_F_NEXT, DESC_F_WRITE};

    pub const RAM_BASE: u64 = 0x8000_0000;
    pub const QSIZE: u16 = 16;

    pub struct Driver {
        pub dev: VirtioMmio,
        pub ram: Arc<Ram>,
        pub irq: Arc<Levels>,
        pub next_desc: Vec<u16>,
        pub avail_idx: Vec<u16>,
        pub used_seen: Vec<u16>,
    }

    pub fn ring_base(q: usize) -> (u64, u64, u64) {
        let base = RAM_BASE + 0x1000 * (q as u64 * 3);
        (base, base + 0x1000, base + 0x2000)
    }
    /// Scratch area for buffers.
    pub const BUF_BASE: u64 = RAM_BASE + 0x10_0000;

    impl Driver {
        pub fn new(d: Box<dyn VirtioDevice>) -> Driver {
            let ram = Arc::new(Ram::new(RAM_BASE, 0x40_0000).unwrap());
            let irq = Arc::new(Levels::default());
            let dev = VirtioMmio::new(Some(d), ram.clone(), IrqLine::new(irq.clone(), 1));
            Driver {
                dev,
                ram,
                irq,
                next_desc: vec![],
                avail_idx: vec![],
                used_seen: vec![],
            }
        }
        pub fn r(&self, off: u64) -> u32 {
            self.dev.read(off, 4).unwrap() as u32
        }
        pub fn w(&self, off: u64, v: u32) {
            self.dev.write(off, 4, v.into()).unwrap();
        }
        /// The Linux probe sequence; accepts `features` (must be offered).
        pub fn init(&mut self, features: u64) {
            assert_eq!(self.r(0), MAGIC);
            assert_eq!(self.r(4), 2);
            self.w(0x70, 0);
            self.w(0x70, STATUS_ACKNOWLEDGE);
            self.w(0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
            self.w(0x14, 0);
            let lo = self.r(0x10);
            self.w(0x14, 1);
            let hi = self.r(0x10);
            let offered = (u64::from(hi) << 32) | u64::from(lo);
            assert_eq!(
                features & !offered,
                0,
                "features {features:#x} not offered ({offered:#x})"
            );
            self.w(0x24, 0);
            self.w(0x20, features as u32);
            self.w(0x24, 1);
            self.w(0x20, (features >> 32) as u32);
            self.w(
                0x70,
                STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK,
            );
            assert_ne!(self.r(0x70) & STATUS_FEATURES_OK, 0);
            let mut q = 0;
            loop {
                self.w(0x30, q as u32);
                if self.r(0x34) == 0 {
                    break;
                }
                assert_eq!(self.r(0x44), 0);
                self.w(0x38, QSIZE.into());
                let (d, a, u) = ring_base(q);
                self.w(0x80, d as u32);
                self.w(0x84, (d >> 32) as u32);
                self.w(0x90, a as u32);
                self.w(0x94, (a >> 32) as u32);
                self.w(0xa0, u as u32);
                self.w(0xa4, (u >> 32) as u32);
                self.w(0x44, 1);
                q += 1;
            }
            self.next_desc = vec![0; q];
            self.avail_idx = vec![0; q];
            self.used_seen = vec![0; q];
            self.w(
                0x70,
                STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK,
            );
        }
        /// Posts a chain of (addr, len, device-writable) buffers on queue `q`, without notifying.
        pub fn post(&mut self, q: usize, bufs: &[(u64, u32, bool)]) -> u16 {
            let (d, a, _) = ring_base(q);
            let head = self.next_desc[q];
            for (i, &(addr, len, wr)) in bufs.iter().enumerate() {
                let idx = (head + i as u16) % QSIZE;
                let e = d + 16 * u64::from(idx);
                let last = i + 1 == bufs.len();
                let flags = if last { 0 } else { DESC_F_NEXT } | if wr { DESC_F_WRITE } else { 0 };
                self.ram.write(e, &addr.to_le_bytes()).unwrap();
                self.ram.write_u32(e + 8, len).unwrap();
                self.ram.write_u16(e + 12, flags).unwrap();
                self.ram.write_u16(e + 14, (idx + 1) % QSIZE).unwrap();
            }
            self.next_desc[q] = (head + bufs.len() as u16) % QSIZE;
            let slot = u64::from(self.avail_idx[q] % QSIZE);
            self.ram.write_u16(a + 4 + 2 * slot, head).unwrap();
            self.avail_idx[q] = self.avail_idx[q].wrapping_add(1);
            self.ram.write_u16(a + 2, self.avail_idx[q]).unwrap();
            head
        }
        pub fn notify(&self, q: usize) {
            self.w(0x50, q as u32);
        }
        /// Next used element (head, len) on queue `q`, if any.
        pub fn used(&mut self, q: usize) -> Option<(u32, u32)> {
            let (_, _, u) = ring_base(q);
            let idx = self.ram.read_u16(u + 2).unwrap();
            if idx == self.used_seen[q] {
                return None;
            }
            let slot = u64::from(self.used_seen[q] % QSIZE);
            self.used_seen[q] = self.used_seen[q].wrapping_add(1);
            Some((
                self.ram.read_u32(u + 4 + 8 * slot).unwrap(),
                self.ram.read_u32(u + 8 + 8 * slot).unwrap(),
            ))
        }
        /// The interrupt handler: reads and acknowledges InterruptStatus.
        pub fn ack(&self) -> u32 {
            let s = self.r(0x60);
            self.w(0x64, s);
            s
        }
        pub fn config(&self, off: u64, size: u8) -> u64 {
            self.dev.read(0x100 + off, size).unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testdrv::*;
    use super::*;

    #[test]
    fn empty_slot_and_register_errors() {
        let ram = Arc::new(crate::bus::Ram::new(RAM_BASE, 0x1000).unwrap());
        let v = VirtioMmio::new(None, ram, IrqLine::disconnected());
        assert_eq!(v.read(0, 4).unwrap(), u64::from(MAGIC));
        assert_eq!(v.read(8, 4).unwrap(), 0);
        assert_eq!(v.read(0x34, 4).unwrap(), 0);
        assert!(v.read(0, 2).is_err());
        assert!(v.write(0x70, 1, 1).is_err());
        assert!(v.read(2, 4).is_err());
    }

    #[test]
    fn feature_negotiation_and_bad_chain() {
        let mut d = Driver::new(Box::new(rng::VirtioRng::new()));
        assert_eq!(d.r(8), DEVICE_ID_RNG);
        // Refuses a driver without VERSION_1.
        d.w(0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        d.w(
            0x70,
            STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK,
        );
        assert_eq!(d.r(0x70) & STATUS_FEATURES_OK, 0);
        d.init(F_VERSION_1);
        // Buffer outside RAM.
        d.post(0, &[(0x1000, 16, true)]);
        d.notify(0);
        assert_ne!(d.r(0x70) & STATUS_NEEDS_RESET, 0);
        assert!(matches!(
            d.dev.last_error(),
            Some(QueueError::BufferOutsideRam { .. })
        ));
        assert!(d.irq.get(1));
        assert_eq!(d.ack(), INT_CONFIG_CHANGE);
        assert!(!d.irq.get(1));
        // Reset brings it back.
        d.init(F_VERSION_1);
        assert_eq!(d.r(0x70) & STATUS_NEEDS_RESET, 0);
        d.post(0, &[(BUF_BASE, 16, true)]);
        d.notify(0);
        assert_eq!(d.used(0), Some((0, 16)));
        assert_eq!(d.ack(), INT_USED_BUFFER);
    }

    #[test]
    fn descriptor_loop_and_direction() {
        let mut d = Driver::new(Box::new(rng::VirtioRng::new()));
        d.init(F_VERSION_1);
        // A loop: descriptor 0 -> 0.
        let (desc, avail, _) = ring_base(0);
        d.ram.write(desc, &BUF_BASE.to_le_bytes()).unwrap();
        d.ram.write_u32(desc + 8, 4).unwrap();
        d.ram
            .write_u16(desc + 12, queue::DESC_F_NEXT | queue::DESC_F_WRITE)
            .unwrap();
        d.ram.write_u16(desc + 14, 0).unwrap();
        d.ram.write_u16(avail + 4, 0).unwrap();
        d.ram.write_u16(avail + 2, 1).unwrap();
        d.notify(0);
        assert_eq!(d.dev.last_error(), Some(QueueError::ChainTooLong));
        // Readable after writable.
        d.init(F_VERSION_1);
        d.post(0, &[(BUF_BASE, 4, true), (BUF_BASE + 4, 4, false)]);
        d.notify(0);
        assert_eq!(d.dev.last_error(), Some(QueueError::WrongDirection));
        // Head index out of range; avail idx jumping too far.
        d.init(F_VERSION_1);
        d.ram.write_u16(avail + 4, 99).unwrap();
        d.ram.write_u16(avail + 2, 1).unwrap();
        d.notify(0);
        assert_eq!(d.dev.last_error(), Some(QueueError::BadIndex(99)));
        d.init(F_VERSION_1);
        d.ram.write_u16(avail + 2, 40).unwrap();
        d.notify(0);
        assert_eq!(d.dev.last_error(), Some(QueueError::BadAvailIdx));
        // Rings outside RAM.
        d.init(F_VERSION_1);
        d.w(0x70, 0);
        d.init(F_VERSION_1);
        d.w(0x70, 0);
        d.w(0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        d.w(0x24, 1);
        d.w(0x20, 1);
        d.w(
            0x70,
            STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK,
        );
        d.w(0x30, 0);
        d.w(0x38, 16);
        d.w(0x80, 0x100);
        d.w(0x44, 1);
        d.w(0x70, 0xf);
        d.notify(0);
        assert!(matches!(
            d.dev.last_error(),
            Some(QueueError::RingOutsideRam(0x100))
        ));
    }
}
