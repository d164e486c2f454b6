//! Interrupt lines between devices and interrupt controllers. A device holds an
//! [`IrqLine`] and raises or lowers it (level-triggered); the controller (PLIC) implements
//! [`IrqSink`]. Devices never know about CPUs.

use std::sync::Arc;

/// Something that receives interrupt-line levels: an interrupt controller.
pub trait IrqSink: Send + Sync {
    /// Line `irq` is now at `level` (true = asserted).
    fn set_level(&self, irq: u32, level: bool);
}

/// One level-triggered interrupt line from a device to a controller input.
#[derive(Clone)]
pub struct IrqLine {
    sink: Arc<dyn IrqSink>,
    irq: u32,
}

impl IrqLine {
    pub fn new(sink: Arc<dyn IrqSink>, irq: u32) -> IrqLine {
        IrqLine { sink, irq }
    }
    /// A line connected to nothing (for devices used without a controller).
    pub fn disconnected() -> IrqLine {
        struct Nowhere;
        impl IrqSink for Nowhere {
            fn set_level(&self, _irq: u32, _level: bool) {}
        }
        IrqLine {
            sink: Arc::new(Nowhere),
            irq: 0,
        }
    }
    pub fn number(&self) -> u32 {
        self.irq
    }
    pub fn set(&self, level: bool) {
        self.sink.set_level(self.irq, level);
    }
    pub fn raise(&self) {
        self.set(true);
    }
    pub fn lower(&self) {
        self.set(false);
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use std::sync::Mutex;

    /// Records the current level of every line, for device tests.
    #[derive(Default)]
    pub struct Levels(pub Mutex<std::collections::HashMap<u32, bool>>);
    impl IrqSink for Levels {
        fn set_level(&self, irq: u32, level: bool) {
            self.0.lock().unwrap().insert(irq, level);
        }
    }
    impl Levels {
        pub fn get(&self, irq: u32) -> bool {
            self.0.lock().unwrap().get(&irq).copied().unwrap_or(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::Levels;
    use super::*;

    #[test]
    fn line_drives_sink() {
        let sink = Arc::new(Levels::default());
        let line = IrqLine::new(sink.clone(), 10);
        assert_eq!(line.number(), 10);
        line.raise();
        assert!(sink.get(10));
        line.lower();
        assert!(!sink.get(10));
        IrqLine::disconnected().raise();
    }
}
