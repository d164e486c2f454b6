//! The per-architecture ABI layer of user mode: everything the shared syscall, signal and
//! start-up code needs to know about the guest ISA (frontend, initial registers, AT_HWCAP /
//! AT_HWCAP2 / AT_PLATFORM, /proc/cpuinfo, uname machine, sigaction layout, signal-return
//! trampoline, MINSIGSTKSZ), dispatched on [`Arch`]. Register conventions and signal frames
//! sit behind [`super::GuestCpu`] in `abi_riscv64` / `abi_aarch64`.

pub use super::loader::Arch;
use super::{GuestCpu, abi_aarch64, abi_riscv64};
use heron_backend::Guest;
use std::sync::Arc;

impl Arch {
    /// The frontend that translates this architecture.
    pub fn guest(self) -> Arc<dyn Guest> {
        match self {
            Arch::Riscv64 => abi_riscv64::guest(),
            Arch::Aarch64 => abi_aarch64::guest(),
        }
    }
    /// The CPU state a new program starts with.
    pub fn initial_cpu(self, entry: u64, sp: u64) -> Box<dyn GuestCpu> {
        match self {
            Arch::Riscv64 => abi_riscv64::initial_cpu(entry, sp),
            Arch::Aarch64 => abi_aarch64::initial_cpu(entry, sp),
        }
    }
    /// `uname -m`.
    pub fn uname_machine(self) -> &'static str {
        match self {
            Arch::Riscv64 => "riscv64",
            Arch::Aarch64 => "aarch64",
        }
    }
    pub fn hwcap(self) -> u64 {
        match self {
            Arch::Riscv64 => abi_riscv64::HWCAP,
            Arch::Aarch64 => heron_aarch64::cpu::features::hwcap(),
        }
    }
    /// AT_HWCAP2, when the architecture defines it.
    pub fn hwcap2(self) -> Option<u64> {
        match self {
            Arch::Riscv64 => None,
            Arch::Aarch64 => Some(heron_aarch64::cpu::features::hwcap2()),
        }
    }
    /// AT_PLATFORM string, when the kernel passes one.
    pub fn platform(self) -> Option<&'static str> {
        match self {
            Arch::Riscv64 => None,
            Arch::Aarch64 => Some("aarch64"),
        }
    }
    /// AT_MINSIGSTKSZ.
    pub fn aux_minsigstksz(self) -> u64 {
        match self {
            Arch::Riscv64 => abi_riscv64::MINSIGSTKSZ,
            Arch::Aarch64 => abi_aarch64::AT_MINSIGSTKSZ,
        }
    }
    /// The smallest alternate signal stack sigaltstack accepts (MINSIGSTKSZ).
    pub fn minsigstksz(self) -> u64 {
        match self {
            Arch::Riscv64 => abi_riscv64::MINSIGSTKSZ,
            Arch::Aarch64 => abi_aarch64::MINSIGSTKSZ,
        }
    }
    /// Code of the rt_sigreturn trampoline page.
    pub fn sigreturn_code(self) -> [u8; 8] {
        match self {
            Arch::Riscv64 => abi_riscv64::SIGRETURN_CODE,
            Arch::Aarch64 => abi_aarch64::SIGRETURN_CODE,
        }
    }
    /// Whether `struct sigaction` has an sa_restorer field (between flags and mask).
    pub fn has_sa_restorer(self) -> bool {
        matches!(self, Arch::Aarch64)
    }
    /// /proc/cpuinfo for the CPU numbers in `cpus`.
    pub fn cpuinfo(self, cpus: &[usize]) -> String {
        match self {
            Arch::Riscv64 => abi_riscv64::cpuinfo(cpus),
            Arch::Aarch64 => abi_aarch64::cpuinfo(cpus),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_arch_values() {
        assert_eq!(Arch::Aarch64.uname_machine(), "aarch64");
        assert_eq!(Arch::Riscv64.uname_machine(), "riscv64");
        assert_eq!(Arch::Aarch64.platform(), Some("aarch64"));
        assert_eq!(Arch::Riscv64.hwcap2(), None);
        assert!(Arch::Aarch64.has_sa_restorer());
        assert!(!Arch::Riscv64.has_sa_restorer());
        assert_eq!(Arch::Aarch64.guest().name(), "aarch64");
        assert_eq!(Arch::Riscv64.guest().name(), "riscv64");
    }
}
