//! Boards and devices for full-system emulation: the physical address space and device bus
//! ([`bus`]), interrupt lines ([`irq`]), the devices of the RISC-V `virt` board (ns16550a
//! UART, PLIC, CLINT, test finisher, goldfish RTC, virtio-mmio with blk/rng/console/net),
//! device-tree generation ([`fdt`]) and the board itself ([`riscv_virt`]). Nothing here
//! knows about CPUs: the CPU side reads interrupt outputs (atomics) and calls the bus.

pub mod boot;
pub mod bus;
pub mod clint;
pub mod irq;
pub mod plic;
pub mod power;
pub mod riscv_virt;
pub mod rtc;
pub mod uart;
pub mod virtio;
