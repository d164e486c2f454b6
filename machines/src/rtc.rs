//! Goldfish RTC (`google,goldfish-rtc`): nanoseconds since the Unix epoch from the host
//! clock. TIME_LOW (0x00) latches the high half read at TIME_HIGH (0x04); writing
//! TIME_LOW/TIME_HIGH sets the time (kept as an offset to the host clock). One alarm
//! (ALARM_LOW 0x08 arms it with ALARM_HIGH 0x0c), IRQ_ENABLED 0x10, CLEAR_ALARM 0x14,
//! ALARM_STATUS 0x18, CLEAR_INTERRUPT 0x1c. The alarm is checked on register accesses and
//! by [`GoldfishRtc::poll`].

use crate::bus::{BusError, MmioDevice, bad_size};
use crate::irq::IrqLine;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub const MMIO_SIZE: u64 = 0x1000;

#[derive(Default)]
struct State {
    offset_ns: i128,
    time_high_latch: u32,
    set_low: u32,
    alarm_high: u32,
    alarm: Option<u64>,
    irq_enabled: bool,
    irq_pending: bool,
}

pub struct GoldfishRtc {
    st: Mutex<State>,
    irq: IrqLine,
}

fn host_ns() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl GoldfishRtc {
    pub fn new(irq: IrqLine) -> GoldfishRtc {
        GoldfishRtc {
            st: Mutex::new(State::default()),
            irq,
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn now(st: &State) -> u64 {
        (host_ns() + st.offset_ns).clamp(0, u64::MAX as i128) as u64
    }
    fn check(&self, st: &mut State) {
        if let Some(a) = st.alarm
            && Self::now(st) >= a
        {
            st.alarm = None;
            st.irq_pending = true;
        }
        self.irq.set(st.irq_pending && st.irq_enabled);
    }
    /// Fires the alarm if its time has come.
    pub fn poll(&self) {
        let mut st = self.lock();
        self.check(&mut st);
    }
}

impl MmioDevice for GoldfishRtc {
    fn read(&self, offset: u64, size: u8) -> Result<u64, BusError> {
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        let mut st = self.lock();
        self.check(&mut st);
        let v = match offset {
            0x00 => {
                let t = Self::now(&st);
                st.time_high_latch = (t >> 32) as u32;
                t as u32
            }
            0x04 => st.time_high_latch,
            0x08 => st.alarm.unwrap_or(0) as u32,
            0x0c => (st.alarm.unwrap_or(0) >> 32) as u32,
            0x10 => st.irq_enabled.into(),
            0x18 => st.alarm.is_some().into(),
            _ => 0,
        };
        Ok(v.into())
    }
    fn write(&self, offset: u64, size: u8, value: u64) -> Result<(), BusError> {
        if size != 4 || !offset.is_multiple_of(4) {
            return Err(bad_size(offset, size));
        }
        let v = value as u32;
        let mut st = self.lock();
        match offset {
            0x00 => {
                st.set_low = v;
                let want = (u64::from(st.time_high_latch) << 32) | u64::from(v);
                st.offset_ns = i128::from(want) - host_ns();
            }
            0x04 => {
                st.time_high_latch = v;
                let want = (u64::from(v) << 32) | u64::from(st.set_low);
                st.offset_ns = i128::from(want) - host_ns();
            }
            0x08 => st.alarm = Some((u64::from(st.alarm_high) << 32) | u64::from(v)),
            0x0c => st.alarm_high = v,
            0x10 => st.irq_enabled = v & 1 != 0,
            0x14 => st.alarm = None,
            0x1c => st.irq_pending = false,
            _ => {}
        }
        self.check(&mut st);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::test_util::Levels;
    use std::sync::Arc;

    fn read_time(r: &GoldfishRtc) -> u64 {
        let lo = r.read(0, 4).unwrap();
        let hi = r.read(4, 4).unwrap();
        (hi << 32) | lo
    }

    #[test]
    fn time_from_host_clock_and_settable() {
        let r = GoldfishRtc::new(IrqLine::disconnected());
        let t = read_time(&r);
        let host = host_ns() as u64;
        assert!(host >= t && host - t < 1_000_000_000);
        let target: u64 = 1_000_000_000 * 1_000_000_000; // 2001-09-09
        r.write(4, 4, target >> 32).unwrap();
        r.write(0, 4, target & 0xffff_ffff).unwrap();
        let t = read_time(&r);
        assert!(t >= target && t - target < 1_000_000_000, "{t} {target}");
    }

    #[test]
    fn alarm_interrupt() {
        let lv = Arc::new(Levels::default());
        let r = GoldfishRtc::new(IrqLine::new(lv.clone(), 11));
        let now = read_time(&r);
        r.write(0x10, 4, 1).unwrap();
        let when = now + 5_000_000;
        r.write(0x0c, 4, when >> 32).unwrap();
        r.write(0x08, 4, when & 0xffff_ffff).unwrap();
        assert_eq!(r.read(0x18, 4).unwrap(), 1);
        assert!(!lv.get(11));
        std::thread::sleep(std::time::Duration::from_millis(6));
        r.poll();
        assert!(lv.get(11));
        assert_eq!(r.read(0x18, 4).unwrap(), 0);
        r.write(0x1c, 4, 1).unwrap();
        assert!(!lv.get(11));
        assert!(r.read(0, 8).is_err());
    }
}
