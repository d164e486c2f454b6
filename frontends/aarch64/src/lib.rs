//! heron's AArch64 frontend (A64, EL0): vCPU state, decoder and translator to heron IR,
//! system registers reachable from EL0, and disassembly for traces. The scalar FP /
//! Advanced SIMD / crypto groups live in [`simd`], [`fp`] and [`crypto`].

pub mod cpu;
pub mod crypto;
pub mod disas;
pub mod fp;
pub mod fpu;
pub mod simd;
pub mod translate;

pub use cpu::A64Cpu;
pub use translate::A64Guest;
