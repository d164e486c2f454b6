//! The riscv64 Linux ABI: syscall register conventions (a7 = number, a0-a5 = arguments,
//! result in a0), initial registers, AT_HWCAP, and the rt_sigframe layout (siginfo +
//! ucontext with sc_regs {pc, x1..x31} and the D-extension FP state), built and restored
//! byte for byte as the kernel does.

use super::signal::FrameInput;
use super::{AltStack, CpuEvent, GuestCpu};
use heron_backend::{CpuHeader, ExitStatus, FaultKind, Guest, GuestMemory};
use heron_riscv::RiscvCpu;
use heron_riscv::cpu::cause;
use std::sync::Arc;

/// `li a7, 139` (addi a7, zero, 139); `ecall`: the rt_sigreturn trampoline.
pub const SIGRETURN_CODE: [u8; 8] = {
    let a = 0x08b0_0893u32.to_le_bytes();
    let b = 0x0000_0073u32.to_le_bytes();
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
};

/// One ISA extension heron's RISC-V frontend implements.
#[derive(Debug, Clone, Copy)]
pub struct Extension {
    /// Name as written in an ISA string ("m", "zba").
    pub name: &'static str,
    /// Bit in the hwprobe IMA_EXT_0 value, if the kernel interface has one.
    pub hwprobe: Option<u64>,
}

/// The single source of truth for what the guest CPU implements in user mode
/// (frontends/riscv: RV64IMAFDC, Zicboz, Zicond, Zicsr, Zifencei, Zihintpause, Zba, Zbb,
/// Zbs). /proc/cpuinfo, riscv_hwprobe and AT_HWCAP are all derived from it. In Linux's
/// order: single letters, then the Z extensions by category (Zi*, then Zb*).
pub const EXTENSIONS: &[Extension] = &[
    Extension {
        name: "i",
        hwprobe: None,
    },
    Extension {
        name: "m",
        hwprobe: None,
    },
    Extension {
        name: "a",
        hwprobe: None,
    },
    // F and D together are hwprobe's IMA_FD bit.
    Extension {
        name: "f",
        hwprobe: Some(hwprobe::IMA_FD),
    },
    Extension {
        name: "d",
        hwprobe: Some(hwprobe::IMA_FD),
    },
    Extension {
        name: "c",
        hwprobe: Some(hwprobe::IMA_C),
    },
    // cbo.zero on 64-byte blocks (Linux enables it for user mode when harts have it).
    Extension {
        name: "zicboz",
        hwprobe: Some(hwprobe::EXT_ZICBOZ),
    },
    Extension {
        name: "zicond",
        hwprobe: Some(hwprobe::EXT_ZICOND),
    },
    Extension {
        name: "zicsr",
        hwprobe: None,
    },
    Extension {
        name: "zifencei",
        hwprobe: None,
    },
    // `pause` lets the host run another thread (a spin-wait hint).
    Extension {
        name: "zihintpause",
        hwprobe: Some(hwprobe::EXT_ZIHINTPAUSE),
    },
    Extension {
        name: "zba",
        hwprobe: Some(hwprobe::EXT_ZBA),
    },
    Extension {
        name: "zbb",
        hwprobe: Some(hwprobe::EXT_ZBB),
    },
    Extension {
        name: "zbs",
        hwprobe: Some(hwprobe::EXT_ZBS),
    },
];

/// The ISA string as Linux prints it in /proc/cpuinfo ("rv64imafdc_zicsr_...").
pub fn isa_string() -> String {
    let mut s = String::from("rv64");
    for e in EXTENSIONS {
        if e.name.len() == 1 {
            s.push_str(e.name);
        } else {
            s.push('_');
            s.push_str(e.name);
        }
    }
    s
}

/// AT_HWCAP: one bit per implemented single-letter extension (bit = letter - 'a').
pub const HWCAP: u64 = {
    let mut v = 0u64;
    let mut i = 0;
    while i < EXTENSIONS.len() {
        let n = EXTENSIONS[i].name.as_bytes();
        if n.len() == 1 {
            v |= 1 << (n[0] - b'a');
        }
        i += 1;
    }
    v
};

/// Keys and values of the riscv_hwprobe syscall (Documentation/arch/riscv/hwprobe.rst,
/// uapi asm/hwprobe.h).
pub mod hwprobe {
    pub const KEY_MVENDORID: i64 = 0;
    pub const KEY_MARCHID: i64 = 1;
    pub const KEY_MIMPID: i64 = 2;
    pub const KEY_BASE_BEHAVIOR: i64 = 3;
    pub const BASE_BEHAVIOR_IMA: u64 = 1;
    pub const KEY_IMA_EXT_0: i64 = 4;
    pub const IMA_FD: u64 = 1 << 0;
    pub const IMA_C: u64 = 1 << 1;
    pub const EXT_ZBA: u64 = 1 << 3;
    pub const EXT_ZBB: u64 = 1 << 4;
    pub const EXT_ZBS: u64 = 1 << 5;
    pub const EXT_ZICBOZ: u64 = 1 << 6;
    pub const EXT_ZICOND: u64 = 1 << 35;
    pub const EXT_ZIHINTPAUSE: u64 = 1 << 36;
    pub const KEY_CPUPERF_0: i64 = 5;
    pub const MISALIGNED_FAST: u64 = 3;
    pub const KEY_ZICBOZ_BLOCK_SIZE: i64 = 6;
    pub const KEY_HIGHEST_VIRT_ADDRESS: i64 = 7;
    pub const KEY_MISALIGNED_SCALAR_PERF: i64 = 9;
    pub const WHICH_CPUS: u64 = 1;

    /// The value of `key` on every heron hart, or None for a key heron does not know.
    pub fn value(key: i64) -> Option<u64> {
        Some(match key {
            KEY_MVENDORID | KEY_MARCHID | KEY_MIMPID => 0,
            KEY_BASE_BEHAVIOR => BASE_BEHAVIOR_IMA,
            KEY_IMA_EXT_0 => super::EXTENSIONS
                .iter()
                .filter_map(|e| e.hwprobe)
                .fold(0, |a, b| a | b),
            // Scalar misaligned loads and stores are done directly by the host: fast.
            KEY_CPUPERF_0 | KEY_MISALIGNED_SCALAR_PERF => MISALIGNED_FAST,
            KEY_ZICBOZ_BLOCK_SIZE => heron_riscv::privileged::CBO_BLOCK_SIZE,
            KEY_HIGHEST_VIRT_ADDRESS => super::super::GUEST_LIMIT - 1,
            _ => return None,
        })
    }

    /// True if a hart whose value for `key` is `have` satisfies the request `want`
    /// (WHICH_CPUS): bitmask keys need all requested bits, the others equality.
    pub fn matches(key: i64, have: u64, want: u64) -> bool {
        match key {
            KEY_BASE_BEHAVIOR | KEY_IMA_EXT_0 => have & want == want,
            _ => have == want,
        }
    }
}

/// riscv_hwprobe(pairs, pair_count, cpusetsize, cpus, flags). `online` is the set of host
/// CPUs the guest may use (bit i of byte i/8); every one is an identical heron hart.
pub fn sys_riscv_hwprobe(mem: &GuestMemory, a: [u64; 6], online: &[u8]) -> Result<i64, i32> {
    let (pairs, count, setsize, cpus, flags) = (a[0], a[1], a[2], a[3], a[4]);
    if flags & !hwprobe::WHICH_CPUS != 0 {
        return Err(libc::EINVAL);
    }
    let which = flags & hwprobe::WHICH_CPUS != 0;
    if setsize != 0 && cpus == 0 {
        return Err(libc::EFAULT);
    }
    if which && (setsize == 0 || cpus == 0) {
        return Err(libc::EINVAL);
    }
    // The caller's set, limited to the CPUs that exist; bytes beyond our set stay unread.
    let n = (setsize as usize).min(online.len());
    let mut set = vec![0u8; n];
    if cpus != 0 {
        mem.read_bytes(cpus, &mut set).map_err(|_| libc::EFAULT)?;
    }
    for (b, o) in set.iter_mut().zip(online) {
        *b &= o;
    }
    let empty = set.iter().all(|&b| b == 0);
    if !which && cpus != 0 && empty {
        return Err(libc::EINVAL);
    }
    if which && empty {
        set.copy_from_slice(&online[..n]);
    }
    let count = count.min(1 << 20);
    let mut all_match = true;
    for i in 0..count {
        let at = pairs.checked_add(16 * i).ok_or(libc::EFAULT)?;
        let key = mem.load(at, 8).map_err(|_| libc::EFAULT)? as i64;
        if which {
            let want = mem.load(at + 8, 8).map_err(|_| libc::EFAULT)?;
            match hwprobe::value(key) {
                Some(have) => all_match &= hwprobe::matches(key, have, want),
                None => {
                    all_match = false;
                    mem.store(at, 8, u64::MAX).map_err(|_| libc::EFAULT)?;
                }
            }
        } else {
            let (k, v) = match hwprobe::value(key) {
                Some(v) => (key as u64, v),
                None => (u64::MAX, 0),
            };
            mem.store(at, 8, k).map_err(|_| libc::EFAULT)?;
            mem.store(at + 8, 8, v).map_err(|_| libc::EFAULT)?;
        }
    }
    if which {
        if !all_match {
            set.fill(0);
        }
        mem.write_bytes(cpus, &set).map_err(|_| libc::EFAULT)?;
    }
    Ok(0)
}

/// /proc/cpuinfo as Linux 6.x prints it on RISC-V: one block per usable CPU number in
/// `cpus`, each ending with an empty line.
pub fn cpuinfo(cpus: &[usize]) -> String {
    let isa = isa_string();
    let mut s = String::new();
    for &c in cpus {
        s.push_str(&format!(
            "processor\t: {c}\nhart\t\t: {c}\nisa\t\t: {isa}\nmmu\t\t: sv39\n\
             uarch\t\t: heron\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\n\
             hart isa\t: {isa}\n\n"
        ));
    }
    s
}

/// The host CPUs this process may run on, as a cpumask (bit i of byte i/8) and a list.
pub fn host_cpus() -> (Vec<u8>, Vec<usize>) {
    let mut mask = vec![0u8; 128];
    // SAFETY: the kernel writes at most mask.len() bytes into our buffer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getaffinity,
            0,
            mask.len(),
            mask.as_mut_ptr(),
        )
    };
    if r <= 0 {
        mask.fill(0);
        mask[0] = 1;
    } else {
        mask.truncate(r as usize);
    }
    let list = (0..mask.len() * 8)
        .filter(|i| mask[i / 8] & (1 << (i % 8)) != 0)
        .collect();
    (mask, list)
}

/// AT_MINSIGSTKSZ: the kernel's MINSIGSTKSZ for riscv (a frame is FRAME_SIZE bytes).
pub const MINSIGSTKSZ: u64 = 2048;

/// Layout of the riscv64 `struct rt_sigframe` (kernel arch/riscv/kernel/signal.c).
pub mod frame {
    /// siginfo_t at the start of the frame.
    pub const INFO: u64 = 0;
    /// struct ucontext.
    pub const UC: u64 = 128;
    pub const UC_STACK: u64 = UC + 16; // ss_sp, ss_flags (int + pad), ss_size
    pub const UC_SIGMASK: u64 = UC + 40;
    /// uc_mcontext (struct sigcontext, 16-byte aligned): sc_regs then FP state.
    pub const MCONTEXT: u64 = UC + 176;
    pub const SC_REGS: u64 = MCONTEXT; // pc, x1..x31
    pub const SC_FPREGS: u64 = MCONTEXT + 256; // f[32] (u64), then fcsr (u32)
    pub const SC_FCSR: u64 = SC_FPREGS + 256;
    /// sizeof(struct rt_sigframe).
    pub const SIZE: u64 = 1088;
}

pub fn guest() -> Arc<dyn Guest> {
    Arc::new(heron_riscv::translate::RiscvGuest)
}

/// The CPU state a new program starts with.
pub fn initial_cpu(entry: u64, sp: u64) -> Box<dyn GuestCpu> {
    let mut cpu = Box::new(RiscvCpu::default());
    cpu.hdr.pc = entry;
    cpu.x[2] = sp;
    // a0 = 0: no rtld_fini for a static program; the dynamic loader passes its own.
    Box::new(RvCpu(cpu))
}

/// Wrapper so the CPU box has a stable address (generated code holds `env`).
pub struct RvCpu(pub Box<RiscvCpu>);

impl GuestCpu for RvCpu {
    fn env_ptr(&mut self) -> *mut u8 {
        &mut *self.0 as *mut RiscvCpu as *mut u8
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
        self.0.x[2]
    }
    fn set_sp(&mut self, sp: u64) {
        self.0.x[2] = sp;
    }
    fn set_tls(&mut self, tls: u64) {
        self.0.x[4] = tls;
    }
    fn event(&self, status: ExitStatus) -> CpuEvent {
        match status {
            ExitStatus::Exception => match self.0.exc_cause {
                cause::ECALL_U | cause::ECALL_S | cause::ECALL_M => CpuEvent::Syscall,
                cause::BREAKPOINT => CpuEvent::Breakpoint,
                cause::MISALIGNED_FETCH | cause::MISALIGNED_LOAD | cause::MISALIGNED_STORE => {
                    CpuEvent::Fault {
                        addr: self.0.exc_tval,
                        kind: FaultKind::Misaligned,
                    }
                }
                cause::FETCH_ACCESS | cause::FETCH_PAGE_FAULT => CpuEvent::Fault {
                    addr: self.0.exc_tval,
                    kind: FaultKind::Exec,
                },
                cause::LOAD_ACCESS | cause::LOAD_PAGE_FAULT => CpuEvent::Fault {
                    addr: self.0.exc_tval,
                    kind: FaultKind::Read,
                },
                cause::STORE_ACCESS | cause::STORE_PAGE_FAULT => CpuEvent::Fault {
                    addr: self.0.exc_tval,
                    kind: FaultKind::Write,
                },
                _ => CpuEvent::IllegalInsn,
            },
            ExitStatus::Fault => CpuEvent::Fault {
                addr: self.0.hdr.fault_addr,
                kind: FaultKind::from_u32(self.0.hdr.fault_kind),
            },
            ExitStatus::Interrupted => CpuEvent::Interrupted,
            ExitStatus::Halt => CpuEvent::Halt,
            ExitStatus::Next => CpuEvent::Interrupted,
        }
    }
    fn syscall_insn_len(&self) -> u64 {
        4
    }
    fn syscall_nr(&self) -> u64 {
        self.0.x[17]
    }
    fn syscall_args(&self) -> [u64; 6] {
        let x = &self.0.x;
        [x[10], x[11], x[12], x[13], x[14], x[15]]
    }
    fn set_syscall_ret(&mut self, v: u64) {
        self.0.x[10] = v;
    }
    fn clone_cpu(&self) -> Box<dyn GuestCpu> {
        let c = &self.0;
        let mut n = Box::new(RiscvCpu::default());
        n.hdr.pc = c.hdr.pc;
        n.x = c.x;
        n.f = c.f;
        n.fflags = c.fflags;
        n.frm = c.frm;
        Box::new(RvCpu(n))
    }
    fn setup_signal_frame(&mut self, mem: &GuestMemory, f: &FrameInput) -> bool {
        let c = &mut self.0;
        let addr = (f.sp.wrapping_sub(frame::SIZE)) & !15;
        let mut buf = vec![0u8; frame::SIZE as usize];
        buf[..128].copy_from_slice(&f.info);
        let put = |buf: &mut Vec<u8>, off: u64, v: &[u8]| {
            buf[off as usize..off as usize + v.len()].copy_from_slice(v);
        };
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
        put(&mut buf, frame::SC_REGS, &c.hdr.pc.to_le_bytes());
        for r in 1..32 {
            put(
                &mut buf,
                frame::SC_REGS + 8 * r as u64,
                &c.x[r].to_le_bytes(),
            );
        }
        for r in 0..32 {
            put(
                &mut buf,
                frame::SC_FPREGS + 8 * r as u64,
                &c.f[r].to_le_bytes(),
            );
        }
        let fcsr = ((c.frm & 7) << 5 | (c.fflags & 0x1f)) as u32;
        put(&mut buf, frame::SC_FCSR, &fcsr.to_le_bytes());
        if mem.write_bytes(addr, &buf).is_err() {
            return false;
        }
        c.x[1] = f.restorer;
        c.x[2] = addr;
        c.x[10] = f.sig as u64;
        c.x[11] = addr + frame::INFO;
        c.x[12] = addr + frame::UC;
        c.hdr.pc = f.handler;
        c.res_addr = u64::MAX;
        true
    }
    fn restore_signal_frame(&mut self, mem: &GuestMemory) -> Option<(u64, AltStack)> {
        let c = &mut self.0;
        let addr = c.x[2];
        let mut buf = vec![0u8; frame::SIZE as usize];
        mem.read_bytes(addr, &mut buf).ok()?;
        let u64_at = |off: u64| {
            let o = off as usize;
            u64::from_le_bytes(buf[o..o + 8].try_into().unwrap_or([0; 8]))
        };
        c.hdr.pc = u64_at(frame::SC_REGS);
        for r in 1..32 {
            c.x[r] = u64_at(frame::SC_REGS + 8 * r as u64);
        }
        for r in 0..32 {
            c.f[r] = u64_at(frame::SC_FPREGS + 8 * r as u64);
        }
        let fcsr = u64_at(frame::SC_FCSR) & 0xffff_ffff;
        c.fflags = fcsr & 0x1f;
        c.frm = (fcsr >> 5) & 7;
        c.res_addr = u64::MAX;
        let mask = u64_at(frame::UC_SIGMASK);
        let alt = AltStack {
            sp: u64_at(frame::UC_STACK),
            flags: u64_at(frame::UC_STACK + 8) as u32,
            size: u64_at(frame::UC_STACK + 16),
        };
        Some((mask, alt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heron_backend::mem::{PERM_R, PERM_W};

    #[test]
    fn constants() {
        // 'a' | 'c' | 'd' | 'f' | 'i' | 'm'
        assert_eq!(HWCAP, 1 | 1 << 2 | 1 << 3 | 1 << 5 | 1 << 8 | 1 << 12);
        assert_eq!(&SIGRETURN_CODE, &[0x93, 0x08, 0xb0, 0x08, 0x73, 0, 0, 0]);
        // Kernel struct sizes/offsets for riscv64 (measured with the riscv64 kernel
        // headers: offsetof(struct ucontext, uc_mcontext) = 176, sizeof(struct ucontext)
        // = 960, sizeof(struct rt_sigframe) = 1088, sc_fpregs at 256 in sigcontext).
        assert_eq!(frame::MCONTEXT - frame::UC, 176);
        assert_eq!(frame::SIZE, 128 + 960);
        assert_eq!(frame::SC_FPREGS - frame::MCONTEXT, 256);
        assert_eq!(frame::UC_SIGMASK - frame::UC, 40);
    }

    #[test]
    fn one_table_for_isa_hwcap_and_hwprobe() {
        let isa = "rv64imafdc_zicboz_zicond_zicsr_zifencei_zihintpause_zba_zbb_zbs";
        assert_eq!(isa_string(), isa);
        assert_eq!(
            hwprobe::value(hwprobe::KEY_IMA_EXT_0),
            Some(1 | 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 35 | 1 << 36)
        );
        assert_eq!(hwprobe::value(hwprobe::KEY_ZICBOZ_BLOCK_SIZE), Some(64));
        let text = cpuinfo(&[0, 3]);
        assert!(text.starts_with(
            "processor\t: 0\nhart\t\t: 0\nisa\t\t: \
             rv64imafdc_zicboz_zicond_zicsr_zifencei_zihintpause_zba_zbb_zbs\n\
             mmu\t\t: sv39\nuarch\t\t: heron\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\n\
             mimpid\t\t: 0x0\nhart isa\t: rv64imafdc_"
        ));
        assert!(text.contains("\n\nprocessor\t: 3\nhart\t\t: 3\n"));
        assert!(text.ends_with("\n\n"));
    }

    #[test]
    fn hwprobe_pairs_cpusets_and_errors() {
        let mem = GuestMemory::reserve(1 << 24).unwrap();
        mem.map_anon(0x10000, 0x10000, PERM_R | PERM_W).unwrap();
        let online = [0b0000_0101u8, 0]; // CPUs 0 and 2
        let (p, c) = (0x10000u64, 0x11000u64);
        for (i, k) in [4i64, 0, 3, 5, 9, 99, -5].iter().enumerate() {
            mem.store(p + 16 * i as u64, 8, *k as u64).unwrap();
            mem.store(p + 16 * i as u64 + 8, 8, 0x77).unwrap();
        }
        assert_eq!(sys_riscv_hwprobe(&mem, [p, 7, 0, 0, 0, 0], &online), Ok(0));
        let kv = |i: u64| {
            (
                mem.load(p + 16 * i, 8).unwrap() as i64,
                mem.load(p + 16 * i + 8, 8).unwrap(),
            )
        };
        assert_eq!(kv(0), (4, 0x18_0000_007b));
        assert_eq!(kv(1), (0, 0));
        assert_eq!(kv(2), (3, 1));
        assert_eq!(kv(3), (5, 3));
        assert_eq!(kv(4), (9, 3));
        assert_eq!(kv(5), (-1, 0));
        assert_eq!(kv(6), (-1, 0));
        // Errors: unknown flags, size without set, a set of only offline CPUs, bad pointers.
        assert_eq!(
            sys_riscv_hwprobe(&mem, [p, 1, 0, 0, 2, 0], &online),
            Err(libc::EINVAL)
        );
        assert_eq!(
            sys_riscv_hwprobe(&mem, [p, 1, 8, 0, 0, 0], &online),
            Err(libc::EFAULT)
        );
        mem.store(c, 8, 0b10).unwrap();
        assert_eq!(
            sys_riscv_hwprobe(&mem, [p, 1, 8, c, 0, 0], &online),
            Err(libc::EINVAL)
        );
        mem.store(c, 8, 0b110).unwrap();
        assert_eq!(sys_riscv_hwprobe(&mem, [p, 1, 8, c, 0, 0], &online), Ok(0));
        assert_eq!(
            sys_riscv_hwprobe(&mem, [8, 1, 0, 0, 0, 0], &online),
            Err(libc::EFAULT)
        );
        assert_eq!(
            sys_riscv_hwprobe(&mem, [p, 1, 8, 8, 0, 0], &online),
            Err(libc::EFAULT)
        );
        // WHICH_CPUS: needs a set; an empty set means all; a mismatch empties it.
        assert_eq!(
            sys_riscv_hwprobe(&mem, [p, 1, 0, 0, 1, 0], &online),
            Err(libc::EINVAL)
        );
        mem.store(p, 8, 4).unwrap();
        mem.store(p + 8, 8, hwprobe::EXT_ZBA | hwprobe::IMA_C)
            .unwrap();
        mem.store(c, 8, 0).unwrap();
        assert_eq!(sys_riscv_hwprobe(&mem, [p, 1, 2, c, 1, 0], &online), Ok(0));
        assert_eq!(mem.load(c, 2).unwrap(), 0b101);
        mem.store(p + 8, 8, 1 << 2).unwrap(); // V: not implemented
        assert_eq!(sys_riscv_hwprobe(&mem, [p, 1, 2, c, 1, 0], &online), Ok(0));
        assert_eq!(mem.load(c, 2).unwrap(), 0);
        mem.store(p, 8, 99).unwrap();
        mem.store(c, 8, 0b1).unwrap();
        assert_eq!(sys_riscv_hwprobe(&mem, [p, 1, 2, c, 1, 0], &online), Ok(0));
        assert_eq!(
            (mem.load(p, 8).unwrap() as i64, mem.load(c, 2).unwrap()),
            (-1, 0)
        );
    }

    #[test]
    fn sigframe_roundtrip() {
        let mem = GuestMemory::reserve(1 << 24).unwrap();
        mem.map_anon(0x10000, 0x10000, PERM_R | PERM_W).unwrap();
        let mut cpu = RvCpu(Box::default());
        for r in 1..32 {
            cpu.0.x[r] = 0x1000 + r as u64;
            cpu.0.f[r] = 0x2000 + r as u64;
        }
        cpu.0.x[2] = 0x1fff8;
        cpu.0.hdr.pc = 0x4444;
        cpu.0.fflags = 0x15;
        cpu.0.frm = 3;
        let saved_x = cpu.0.x;
        let mut info = [0u8; 128];
        info[0] = 10;
        let fi = FrameInput {
            sig: 10,
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
        let fa = cpu.0.x[2];
        assert_eq!(fa % 16, 0);
        assert_eq!(fa, (0x1fff8 - 1088) & !15);
        assert_eq!(cpu.0.hdr.pc, 0x5000);
        assert_eq!(cpu.0.x[1], 0x6000);
        assert_eq!(cpu.0.x[10], 10);
        assert_eq!(cpu.0.x[11], fa);
        assert_eq!(cpu.0.x[12], fa + 128);
        // Fields where the kernel puts them.
        assert_eq!(mem.load(fa, 1).unwrap(), 10);
        assert_eq!(mem.load(fa + 128 + 176, 8).unwrap(), 0x4444); // sc_regs.pc
        assert_eq!(mem.load(fa + 128 + 176 + 8 * 10, 8).unwrap(), 0x100a); // a0
        assert_eq!(mem.load(fa + 128 + 176 + 256 + 8 * 3, 8).unwrap(), 0x2003); // f3
        assert_eq!(mem.load(fa + 128 + 176 + 512, 4).unwrap(), 3 << 5 | 0x15); // fcsr
        assert_eq!(mem.load(fa + 128 + 40, 8).unwrap(), 0xabcd); // uc_sigmask
        assert_eq!(mem.load(fa + 128 + 16, 8).unwrap(), 0x7000); // uc_stack.ss_sp
        // Handler clobbers registers; sigreturn restores them.
        cpu.0.x[5] = 0;
        cpu.0.f[7] = 0;
        cpu.0.fflags = 0;
        let (mask, alt) = cpu.restore_signal_frame(&mem).unwrap();
        assert_eq!(mask, 0xabcd);
        assert_eq!(alt.size, 0x800);
        assert_eq!(cpu.0.x, saved_x);
        assert_eq!(cpu.0.f[7], 0x2007);
        assert_eq!(cpu.0.hdr.pc, 0x4444);
        assert_eq!((cpu.0.fflags, cpu.0.frm), (0x15, 3));
    }
}
