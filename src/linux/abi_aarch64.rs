//! The aarch64 Linux ABI: syscall register conventions (x8 = number, x0-x5 = arguments,
//! result in x0), initial registers, /proc/cpuinfo, and the arm64 rt_sigframe (siginfo +
//! ucontext whose sigcontext holds x0-x30, sp, pc, pstate and the `__reserved` record area
//! with an fpsimd_context, an esr_context for faults, and the terminator), plus the frame
//! record {x29, x30} above it, built and restored as the kernel does.

use super::signal::{self, FrameInput};
use super::{AltStack, CpuEvent, GuestCpu};
use heron_aarch64::A64Cpu;
use heron_aarch64::cpu::{esr, features};
use heron_backend::{CpuHeader, ExitStatus, FaultKind, Guest, GuestMemory};
use std::sync::Arc;

/// `mov x8, #139` (rt_sigreturn); `svc #0`: the signal-return trampoline (the vDSO's
/// __kernel_rt_sigreturn).
pub const SIGRETURN_CODE: [u8; 8] = {
    let a = 0xd280_1168u32.to_le_bytes();
    let b = 0xd400_0001u32.to_le_bytes();
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
};

/// MINSIGSTKSZ of the arm64 uapi (the sigaltstack minimum).
pub const MINSIGSTKSZ: u64 = 5120;
/// AT_MINSIGSTKSZ: the frame size plus the frame record and alignment slack.
pub const AT_MINSIGSTKSZ: u64 = frame::SIZE + 16 + 16;

/// Layout of the arm64 `struct rt_sigframe` (uapi asm/sigcontext.h, asm/ucontext.h).
pub mod frame {
    pub const INFO: u64 = 0;
    pub const UC: u64 = 128;
    pub const UC_FLAGS: u64 = UC;
    pub const UC_LINK: u64 = UC + 8;
    pub const UC_STACK: u64 = UC + 16;
    pub const UC_SIGMASK: u64 = UC + 40;
    /// struct sigcontext (16-byte aligned).
    pub const MC: u64 = UC + 176;
    pub const FAULT_ADDRESS: u64 = MC;
    pub const REGS: u64 = MC + 8;
    pub const SP: u64 = MC + 256;
    pub const PC: u64 = MC + 264;
    pub const PSTATE: u64 = MC + 272;
    /// `__reserved[4096]`: the context records.
    pub const RESERVED: u64 = MC + 288;
    pub const RESERVED_SIZE: u64 = 4096;
    /// sizeof(struct rt_sigframe).
    pub const SIZE: u64 = RESERVED + RESERVED_SIZE;

    pub const FPSIMD_MAGIC: u32 = 0x4650_8001;
    pub const FPSIMD_SIZE: u32 = 528;
    pub const ESR_MAGIC: u32 = 0x4553_5201;
    pub const ESR_SIZE: u32 = 16;
}

pub fn guest() -> Arc<dyn Guest> {
    Arc::new(heron_aarch64::A64Guest)
}

/// The CPU state a new program starts with (x0 = 0: no rtld_fini for a static program).
pub fn initial_cpu(entry: u64, sp: u64) -> Box<dyn GuestCpu> {
    let mut cpu = Box::new(A64Cpu::default());
    cpu.hdr.pc = entry;
    cpu.x[31] = sp;
    Box::new(ArmCpu(cpu))
}

/// Feature names of the AT_HWCAP bits, in bit order (arch/arm64 cpuinfo).
const HWCAP_NAMES: [&str; 32] = [
    "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp",
    "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4",
    "asimddp", "sha512", "sve", "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb",
    "paca", "pacg",
];

/// Feature names of the AT_HWCAP2 bits, in bit order (the first ones).
const HWCAP2_NAMES: [&str; 9] = [
    "dcpodp",
    "sve2",
    "sveaes",
    "svepmull",
    "svebitperm",
    "svesha3",
    "svesm4",
    "flagm2",
    "frint",
];

/// /proc/cpuinfo as Linux prints it on arm64: one block per CPU number in `cpus`.
pub fn cpuinfo(cpus: &[usize]) -> String {
    let hw = features::hwcap();
    let hw2 = features::hwcap2();
    let names: Vec<&str> = (0..32)
        .filter(|i| hw & (1 << i) != 0)
        .map(|i| HWCAP_NAMES[i])
        .chain(
            (0..HWCAP2_NAMES.len())
                .filter(|i| hw2 & (1 << i) != 0)
                .map(|i| HWCAP2_NAMES[i]),
        )
        .collect();
    let midr = features::MIDR;
    let mut s = String::new();
    for &c in cpus {
        s.push_str(&format!(
            "processor\t: {c}\nBogoMIPS\t: 2000.00\nFeatures\t: {}\nCPU implementer\t: {:#04x}\n\
             CPU architecture: 8\nCPU variant\t: {:#x}\nCPU part\t: {:#05x}\nCPU revision\t: {}\n\n",
            names.join(" "),
            midr >> 24,
            (midr >> 20) & 0xf,
            (midr >> 4) & 0xfff,
            midr & 0xf
        ));
    }
    s
}

/// Wrapper so the CPU box has a stable address (generated code holds `env`).
pub struct ArmCpu(pub Box<A64Cpu>);

fn put(buf: &mut [u8], off: u64, v: &[u8]) {
    buf[off as usize..off as usize + v.len()].copy_from_slice(v);
}

fn u32_at(buf: &[u8], off: u64) -> u32 {
    let o = off as usize;
    u32::from_le_bytes(buf[o..o + 4].try_into().unwrap_or([0; 4]))
}

fn u64_at(buf: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(buf[o..o + 8].try_into().unwrap_or([0; 8]))
}

impl GuestCpu for ArmCpu {
    fn env_ptr(&mut self) -> *mut u8 {
        &mut *self.0 as *mut A64Cpu as *mut u8
    }
    fn header(&self) -> &CpuHeader {
        &self.0.hdr
    }
    fn pc(&self) -> u64 {
        self.0.hdr.pc
    }
    fn set_pc(&mut self, pc: u64) {
        self.0.hdr.pc = pc;
    }
    fn sp(&self) -> u64 {
        self.0.x[31]
    }
    fn set_sp(&mut self, sp: u64) {
        self.0.x[31] = sp;
    }
    fn set_tls(&mut self, tls: u64) {
        self.0.tpidr_el0 = tls;
    }
    fn event(&self, status: ExitStatus) -> CpuEvent {
        match status {
            ExitStatus::Exception => match esr::ec(self.0.exc_syndrome) {
                esr::EC_SVC64 => CpuEvent::Syscall,
                esr::EC_BRK64 => CpuEvent::Breakpoint,
                _ => CpuEvent::IllegalInsn,
            },
            ExitStatus::Fault => CpuEvent::Fault {
                addr: self.0.hdr.fault_addr,
                kind: FaultKind::from_u32(self.0.hdr.fault_kind),
            },
            ExitStatus::Interrupted | ExitStatus::Next => CpuEvent::Interrupted,
            ExitStatus::Halt => CpuEvent::Halt,
        }
    }
    fn syscall_insn_len(&self) -> u64 {
        4
    }
    fn syscall_nr(&self) -> u64 {
        self.0.x[8]
    }
    fn syscall_args(&self) -> [u64; 6] {
        let x = &self.0.x;
        [x[0], x[1], x[2], x[3], x[4], x[5]]
    }
    fn set_syscall_ret(&mut self, v: u64) {
        self.0.x[0] = v;
    }
    fn clone_cpu(&self) -> Box<dyn GuestCpu> {
        let c = &self.0;
        let mut n = Box::new(A64Cpu::default());
        n.hdr.pc = c.hdr.pc;
        n.x = c.x;
        n.v = c.v;
        n.fpcr = c.fpcr;
        n.fpsr = c.fpsr;
        n.tpidr_el0 = c.tpidr_el0;
        n.tpidrro_el0 = c.tpidrro_el0;
        n.set_nzcv(c.nzcv());
        Box::new(ArmCpu(n))
    }
    fn setup_signal_frame(&mut self, mem: &GuestMemory, f: &FrameInput) -> bool {
        let c = &mut self.0;
        // Frame record {fp, lr} at the top, the rt_sigframe below it, both 16-aligned.
        let record = (f.sp.wrapping_sub(16)) & !15;
        let addr = record.wrapping_sub(frame::SIZE) & !15;
        let mut buf = vec![0u8; frame::SIZE as usize];
        buf[..128].copy_from_slice(&f.info);
        put(&mut buf, frame::UC_FLAGS, &0u64.to_le_bytes());
        put(&mut buf, frame::UC_LINK, &0u64.to_le_bytes());
        put(&mut buf, frame::UC_STACK, &f.altstack.sp.to_le_bytes());
        put(
            &mut buf,
            frame::UC_STACK + 8,
            &f.altstack.flags.to_le_bytes(),
        );
        put(
            &mut buf,
            frame::UC_STACK + 16,
            &f.altstack.size.to_le_bytes(),
        );
        put(&mut buf, frame::UC_SIGMASK, &f.old_mask.to_le_bytes());
        let signo = signal::siginfo_signo(&f.info);
        let code = i32::from_le_bytes([f.info[8], f.info[9], f.info[10], f.info[11]]);
        let fault = code > 0 && (signo == signal::SIGSEGV || signo == signal::SIGBUS);
        if fault {
            put(&mut buf, frame::FAULT_ADDRESS, &f.info[16..24]);
        }
        for r in 0..31 {
            put(&mut buf, frame::REGS + 8 * r as u64, &c.x[r].to_le_bytes());
        }
        put(&mut buf, frame::SP, &c.x[31].to_le_bytes());
        put(&mut buf, frame::PC, &c.hdr.pc.to_le_bytes());
        put(&mut buf, frame::PSTATE, &c.nzcv().to_le_bytes());
        // Records: fpsimd_context, esr_context (faults only), terminator.
        let mut at = frame::RESERVED;
        put(&mut buf, at, &frame::FPSIMD_MAGIC.to_le_bytes());
        put(&mut buf, at + 4, &frame::FPSIMD_SIZE.to_le_bytes());
        put(&mut buf, at + 8, &(c.fpsr as u32).to_le_bytes());
        put(&mut buf, at + 12, &(c.fpcr as u32).to_le_bytes());
        for r in 0..32 {
            put(&mut buf, at + 16 + 16 * r as u64, &c.v[r].to_le_bytes());
        }
        at += frame::FPSIMD_SIZE as u64;
        if fault {
            // Data abort from a lower EL; DFSC = translation fault, level 3.
            let esr_val: u64 = (0x24 << 26) | (1 << 25) | 0x07;
            put(&mut buf, at, &frame::ESR_MAGIC.to_le_bytes());
            put(&mut buf, at + 4, &frame::ESR_SIZE.to_le_bytes());
            put(&mut buf, at + 8, &esr_val.to_le_bytes());
            at += frame::ESR_SIZE as u64;
        }
        put(&mut buf, at, &[0u8; 8]); // terminator: magic 0, size 0
        if mem.write_bytes(addr, &buf).is_err() {
            return false;
        }
        let mut rec = [0u8; 16];
        rec[..8].copy_from_slice(&c.x[29].to_le_bytes());
        rec[8..].copy_from_slice(&c.x[30].to_le_bytes());
        if mem.write_bytes(record, &rec).is_err() {
            return false;
        }
        c.x[0] = f.sig as u64;
        c.x[1] = addr + frame::INFO;
        c.x[2] = addr + frame::UC;
        c.x[29] = record;
        c.x[30] = f.restorer;
        c.x[31] = addr;
        c.hdr.pc = f.handler;
        c.excl_addr = u64::MAX;
        true
    }
    fn restore_signal_frame(&mut self, mem: &GuestMemory) -> Option<(u64, AltStack)> {
        let c = &mut self.0;
        let addr = c.x[31];
        if addr & 15 != 0 {
            return None;
        }
        let mut buf = vec![0u8; frame::SIZE as usize];
        mem.read_bytes(addr, &mut buf).ok()?;
        for r in 0..31 {
            c.x[r] = u64_at(&buf, frame::REGS + 8 * r as u64);
        }
        c.x[31] = u64_at(&buf, frame::SP);
        c.hdr.pc = u64_at(&buf, frame::PC);
        c.set_nzcv(u64_at(&buf, frame::PSTATE));
        // Walk the records; the fpsimd_context is required.
        let mut at = frame::RESERVED;
        let end = frame::RESERVED + frame::RESERVED_SIZE;
        let mut have_fpsimd = false;
        while at + 8 <= end {
            let magic = u32_at(&buf, at);
            let size = u32_at(&buf, at + 4) as u64;
            if magic == 0 {
                break;
            }
            if size < 8 || at + size > end {
                return None;
            }
            if magic == frame::FPSIMD_MAGIC && size == frame::FPSIMD_SIZE as u64 {
                c.fpsr = u32_at(&buf, at + 8) as u64;
                c.fpcr = u32_at(&buf, at + 12) as u64;
                for r in 0..32 {
                    let o = (at + 16 + 16 * r as u64) as usize;
                    c.v[r] = u128::from_le_bytes(buf[o..o + 16].try_into().unwrap_or([0; 16]));
                }
                have_fpsimd = true;
            }
            at += size;
        }
        if !have_fpsimd {
            return None;
        }
        c.excl_addr = u64::MAX;
        let mask = u64_at(&buf, frame::UC_SIGMASK);
        let alt = AltStack {
            sp: u64_at(&buf, frame::UC_STACK),
            flags: u32_at(&buf, frame::UC_STACK + 8),
            size: u64_at(&buf, frame::UC_STACK + 16),
        };
        Some((mask, alt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heron_backend::mem::{PERM_R, PERM_W};

    #[test]
    fn cpuinfo_lists_hwcap_and_hwcap2_features() {
        let s = cpuinfo(&[0]);
        let feats = s
            .lines()
            .find_map(|l| l.strip_prefix("Features\t: "))
            .unwrap_or("");
        let names: Vec<&str> = feats.split(' ').collect();
        assert!(names.contains(&"fp") && names.contains(&"cpuid"), "{feats}");
        assert_eq!(names.contains(&"jscvt"), features::JSCVT, "{feats}");
        assert_eq!(names.contains(&"frint"), features::FRINTTS, "{feats}");
        assert_eq!(names.last(), Some(&"frint"), "hwcap2 names follow: {feats}");
    }

    #[test]
    fn constants() {
        // Kernel sizes: offsetof(struct ucontext, uc_mcontext) = 176,
        // sizeof(struct sigcontext) = 4384, sizeof(struct rt_sigframe) = 4688.
        assert_eq!(frame::MC - frame::UC, 176);
        assert_eq!(frame::SIZE, 4688);
        assert_eq!(frame::RESERVED - frame::MC, 288);
        assert_eq!(&SIGRETURN_CODE, &[0x68, 0x11, 0x80, 0xd2, 0x01, 0, 0, 0xd4]);
        let text = cpuinfo(&[0, 2]);
        assert!(text.starts_with("processor\t: 0\nBogoMIPS\t: 2000.00\nFeatures\t: "));
        assert!(text.contains("atomics"), "{text}");
        assert!(text.contains("CPU implementer\t: 0x00\n"), "{text}");
        assert!(text.contains("CPU part\t: 0x051\n"), "{text}");
        assert!(text.contains("\n\nprocessor\t: 2\n"));
    }

    #[test]
    fn sigframe_roundtrip() {
        let mem = GuestMemory::reserve(1 << 24).unwrap();
        mem.map_anon(0x10000, 0x10000, PERM_R | PERM_W).unwrap();
        let mut cpu = ArmCpu(Box::default());
        for r in 0..31 {
            cpu.0.x[r] = 0x1000 + r as u64;
        }
        for r in 0..32 {
            cpu.0.v[r] = (0x2000 + r as u128) << 64 | 7;
        }
        cpu.0.x[31] = 0x1fff8;
        cpu.0.hdr.pc = 0x4444;
        cpu.0.fpsr = 0x1f;
        cpu.0.fpcr = 0x40_0000;
        cpu.0.set_nzcv(0x6000_0000);
        let saved = (cpu.0.x, cpu.0.v);
        let info = signal::info_fault(signal::SIGSEGV, signal::SEGV_MAPERR, 0xdead);
        let fi = FrameInput {
            sig: 11,
            handler: 0x5000,
            restorer: 0x6000,
            sp: 0x1fff8,
            info,
            old_mask: 0xabcd,
            altstack: AltStack {
                sp: 0x7000,
                flags: 2,
                size: 0x800,
            },
        };
        assert!(cpu.setup_signal_frame(&mem, &fi));
        let fa = cpu.0.x[31];
        assert_eq!(fa % 16, 0);
        assert_eq!(fa, (((0x1fff8 - 16) & !15) - 4688) & !15);
        assert_eq!(cpu.0.hdr.pc, 0x5000);
        assert_eq!(cpu.0.x[30], 0x6000);
        assert_eq!(cpu.0.x[0], 11);
        assert_eq!(cpu.0.x[1], fa);
        assert_eq!(cpu.0.x[2], fa + 128);
        assert_eq!(cpu.0.x[29], (0x1fff8 - 16) & !15);
        // Fields where the kernel puts them.
        assert_eq!(mem.load(fa, 4).unwrap(), 11);
        assert_eq!(mem.load(fa + 128 + 176, 8).unwrap(), 0xdead); // fault_address
        assert_eq!(mem.load(fa + 128 + 176 + 8 + 8 * 5, 8).unwrap(), 0x1005); // x5
        assert_eq!(mem.load(fa + 128 + 176 + 264, 8).unwrap(), 0x4444); // pc
        assert_eq!(mem.load(fa + 128 + 176 + 272, 8).unwrap(), 0x6000_0000); // pstate
        let res = fa + 128 + 176 + 288;
        assert_eq!(mem.load(res, 4).unwrap(), 0x4650_8001);
        assert_eq!(mem.load(res + 4, 4).unwrap(), 528);
        assert_eq!(mem.load(res + 8, 4).unwrap(), 0x1f);
        assert_eq!(mem.load(res + 16 + 16 * 3 + 8, 8).unwrap(), 0x2003);
        assert_eq!(mem.load(res + 528, 4).unwrap(), 0x4553_5201);
        assert_eq!(mem.load(res + 544, 8).unwrap(), 0);
        assert_eq!(mem.load(fa + 128 + 40, 8).unwrap(), 0xabcd);
        assert_eq!(mem.load(cpu.0.x[29], 8).unwrap(), 0x101d); // frame record fp = x29
        // The handler clobbers state; sigreturn restores it.
        cpu.0.x[5] = 0;
        cpu.0.v[7] = 0;
        cpu.0.set_nzcv(0);
        cpu.0.x[31] = fa;
        let (mask, alt) = cpu.restore_signal_frame(&mem).unwrap();
        assert_eq!(mask, 0xabcd);
        assert_eq!(alt.size, 0x800);
        assert_eq!((cpu.0.x, cpu.0.v), saved);
        assert_eq!(cpu.0.hdr.pc, 0x4444);
        assert_eq!(cpu.0.nzcv(), 0x6000_0000);
        assert_eq!((cpu.0.fpsr, cpu.0.fpcr), (0x1f, 0x40_0000));
        // A frame without the fpsimd record is refused.
        mem.store(res, 4, 0).unwrap();
        cpu.0.x[31] = fa;
        assert!(cpu.restore_signal_frame(&mem).is_none());
    }
}
