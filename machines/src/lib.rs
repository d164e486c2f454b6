//! Boards and devices for full-system emulation: address space, device buses, UARTs,
//! interrupt controllers, timers, virtio-mmio devices and device-tree generation.
//! Not yet implemented: full-system emulation is the subject of a later issue.
