//! heron's RISC-V 64 frontend (RV64GC + Zba/Zbb/Zbs/Zicond): hart state, instruction
//! decoder, translator to heron IR, FP helpers with exact IEEE/RISC-V semantics, and
//! disassembly for traces; privileged architecture and full-system translation.

pub mod cpu;
pub mod decode;
pub mod disas;
pub mod fpu;
pub mod privileged;
pub mod system;
pub mod translate;
pub mod translate_fp;

pub use cpu::RiscvCpu;
pub use system::{HartEvent, RiscvMmu, RiscvSystemCpu, RiscvSystemGuest};
pub use translate::RiscvGuest;
