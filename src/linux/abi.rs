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
    /// Guest open(2)/fcntl(F_SETFL) flags to the host's (x86-64, the generic values).
    /// arm64 numbers O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE differently.
    pub fn open_flags_to_host(self, f: u64) -> u64 {
        match self {
            Arch::Riscv64 => f,
            Arch::Aarch64 => remap_bits(f, &ARM64_OPEN_FLAGS, false),
        }
    }
    /// Host open flags (fcntl F_GETFL) to the guest's.
    pub fn open_flags_to_guest(self, f: u64) -> u64 {
        match self {
            Arch::Riscv64 => f,
            Arch::Aarch64 => remap_bits(f, &ARM64_OPEN_FLAGS, true),
        }
    }
    /// /proc/cpuinfo for the CPU numbers in `cpus`.
    pub fn cpuinfo(self, cpus: &[usize]) -> String {
        match self {
            Arch::Riscv64 => abi_riscv64::cpuinfo(cpus),
            Arch::Aarch64 => abi_aarch64::cpuinfo(cpus),
        }
    }
}

/// (arm64 value, generic/x86-64 value) of the open flags that differ.
const ARM64_OPEN_FLAGS: [(u64, u64); 4] = [
    (0o040000, 0o200000), // O_DIRECTORY
    (0o100000, 0o400000), // O_NOFOLLOW
    (0o200000, 0o040000), // O_DIRECT
    (0o400000, 0o100000), // O_LARGEFILE
];

fn remap_bits(f: u64, table: &[(u64, u64)], to_guest: bool) -> u64 {
    let mut out = f;
    for &(g, h) in table {
        out &= !(g | h);
    }
    for &(g, h) in table {
        let (from, to) = if to_guest { (h, g) } else { (g, h) };
        if f & from != 0 {
            out |= to;
        }
    }
    out
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

    #[test]
    fn arm64_open_flags() {
        let a = Arch::Aarch64;
        // O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NONBLOCK as arm64 glibc passes it for opendir.
        let g = 0o040000 | 0o2000000 | 0o4000;
        assert_eq!(
            a.open_flags_to_host(g),
            (libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64
        );
        assert_eq!(a.open_flags_to_host(0o100000), libc::O_NOFOLLOW as u64);
        assert_eq!(
            a.open_flags_to_guest(libc::O_NOFOLLOW as u64 | 2),
            0o100000 | 2
        );
        assert_eq!(
            a.open_flags_to_guest(a.open_flags_to_host(0o740002)),
            0o740002
        );
        assert_eq!(Arch::Riscv64.open_flags_to_host(0o200000), 0o200000);
    }
}
