//! The `sifive,test0`/`sifive,test1` finisher ("test" / syscon power device at 0x100000).
//! A 32-bit write to offset 0 whose low 16 bits are 0x5555 requests power-off with
//! success, 0x3333 power-off with failure (exit code in the upper 16 bits), 0x7777 a
//! reset. The device records the request; the board's run loop acts on it. Other values
//! are ignored, reads return 0.

use crate::bus::{BusError, MmioDevice, bad_size};
use std::sync::Mutex;

pub const MMIO_SIZE: u64 = 0x1000;
pub const FINISHER_FAIL: u32 = 0x3333;
pub const FINISHER_PASS: u32 = 0x5555;
pub const FINISHER_RESET: u32 = 0x7777;

/// What the guest asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerEvent {
    PowerOff,
    Fail(u16),
    Reset,
}

impl PowerEvent {
    /// The host exit status for this event, as QEMU reports it: 0 for a clean power-off,
    /// `(code << 1) | 1` for a failure, None for a reset (the machine keeps running, or
    /// exits 0 under `-no-reboot`).
    pub fn exit_status(self) -> Option<i32> {
        match self {
            PowerEvent::PowerOff => Some(0),
            PowerEvent::Fail(code) => Some((i32::from(code) << 1) | 1),
            PowerEvent::Reset => None,
        }
    }
}

type Handler = Box<dyn Fn(PowerEvent) + Send + Sync>;

pub struct TestFinisher {
    event: Mutex<Option<PowerEvent>>,
    handler: Mutex<Option<Handler>>,
}

impl Default for TestFinisher {
    fn default() -> Self {
        Self::new()
    }
}

impl TestFinisher {
    pub fn new() -> TestFinisher {
        TestFinisher {
            event: Mutex::new(None),
            handler: Mutex::new(None),
        }
    }
    /// Called on every request (e.g. to stop all harts).
    pub fn set_handler(&self, f: impl Fn(PowerEvent) + Send + Sync + 'static) {
        *self.handler.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }
    /// Takes the last request, if any.
    pub fn take_event(&self) -> Option<PowerEvent> {
        self.event.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl MmioDevice for TestFinisher {
    fn read(&self, offset: u64, size: u8) -> Result<u64, BusError> {
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        Ok(0)
    }
    fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError> {
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        if offset != 0 {
            return Ok(());
        }
        let v = value as u32;
        let ev = match v & 0xffff {
            FINISHER_PASS => PowerEvent::PowerOff,
            FINISHER_FAIL => PowerEvent::Fail((v >> 16) as u16),
            FINISHER_RESET => PowerEvent::Reset,
            _ => return Ok(()),
        };
        *self.event.lock().unwrap_or_else(|e| e.into_inner()) = Some(ev);
        if let Some(h) = &*self.handler.lock().unwrap_or_else(|e| e.into_inner()) {
            h(ev);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn finisher_codes() {
        let t = TestFinisher::new();
        let seen = Arc::new(Mutex::new(vec![]));
        let s = seen.clone();
        t.set_handler(move |e| s.lock().unwrap().push(e));
        t.write(0, 4, 0x1234).unwrap();
        assert_eq!(t.take_event(), None);
        t.write(0, 4, 0x5555).unwrap();
        assert_eq!(t.take_event(), Some(PowerEvent::PowerOff));
        t.write(0, 4, (3 << 16) | 0x3333).unwrap();
        let e = t.take_event().unwrap();
        assert_eq!(e, PowerEvent::Fail(3));
        assert_eq!(e.exit_status(), Some(7));
        t.write(0, 4, 0x7777).unwrap();
        assert_eq!(t.take_event(), Some(PowerEvent::Reset));
        assert_eq!(PowerEvent::PowerOff.exit_status(), Some(0));
        assert_eq!(seen.lock().unwrap().len(), 3);
        assert!(t.write(0, 2, 0x5555).is_err());
        assert_eq!(t.take_event(), None);
    }
}
