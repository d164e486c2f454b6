//! The RISC-V 64 hart as gdb sees it in system mode: the user-mode register set
//! ([`super::riscv64`]: x0-x31, pc, f0-f31, fflags/frm/fcsr) plus the supervisor and machine
//! CSRs a kernel developer reads (target feature `org.gnu.gdb.riscv.csr`) and the privilege
//! level as the `priv` pseudo-register (`org.gnu.gdb.riscv.virtual`), over a
//! [`RiscvSystemCpu`]; and [`SysMemory`], the debugger's view of memory through the selected
//! hart's current address translation (physical when it runs in M-mode or with satp Bare),
//! which never sets A/D bits, never raises guest exceptions and reads RAM only.

use super::riscv64::{Rv64Regs, regnum};
use super::{DebugMemory, GdbCpu};
use gdbstub::arch::{Arch, RegId, Registers};
use heron_backend::softmmu::PhysMemory;
use heron_riscv::privileged::{Priv, csr};
use heron_riscv::system::{RiscvMmu, RiscvSystemCpu};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

/// The CSRs in the target description, in remote-number order after fcsr.
pub const CSRS: &[(&str, u16)] = &[
    ("sstatus", csr::SSTATUS),
    ("sie", csr::SIE),
    ("stvec", csr::STVEC),
    ("scounteren", csr::SCOUNTEREN),
    ("senvcfg", csr::SENVCFG),
    ("sscratch", csr::SSCRATCH),
    ("sepc", csr::SEPC),
    ("scause", csr::SCAUSE),
    ("stval", csr::STVAL),
    ("sip", csr::SIP),
    ("stimecmp", csr::STIMECMP),
    ("satp", csr::SATP),
    ("mstatus", csr::MSTATUS),
    ("misa", csr::MISA),
    ("medeleg", csr::MEDELEG),
    ("mideleg", csr::MIDELEG),
    ("mie", csr::MIE),
    ("mtvec", csr::MTVEC),
    ("mcounteren", csr::MCOUNTEREN),
    ("menvcfg", csr::MENVCFG),
    ("mscratch", csr::MSCRATCH),
    ("mepc", csr::MEPC),
    ("mcause", csr::MCAUSE),
    ("mtval", csr::MTVAL),
    ("mip", csr::MIP),
    ("mhartid", csr::MHARTID),
    ("cycle", csr::CYCLE),
    ("time", csr::TIME),
    ("instret", csr::INSTRET),
];

/// Remote number of the first CSR.
pub const FIRST_CSR: usize = regnum::COUNT;
/// Remote number of `priv`.
pub const PRIV: usize = FIRST_CSR + CSRS.len();
/// Number of registers.
pub const COUNT: usize = PRIV + 1;

/// gdbstub `Arch` for an RV64 hart in system mode.
pub enum Rv64Sys {}

/// All registers of a hart, in remote-number order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rv64SysRegs {
    pub base: Rv64Regs,
    pub csr: [u64; CSRS.len()],
    /// Privilege level (0 U, 1 S, 3 M).
    pub prv: u64,
}

impl Default for Rv64SysRegs {
    fn default() -> Self {
        Rv64SysRegs {
            base: Rv64Regs::default(),
            csr: [0; CSRS.len()],
            prv: 3,
        }
    }
}

impl Rv64SysRegs {
    fn get(&self, n: usize) -> Option<u64> {
        match n {
            PRIV => Some(self.prv),
            n if n >= FIRST_CSR => self.csr.get(n - FIRST_CSR).copied(),
            n => self.base.get(n),
        }
    }

    fn set(&mut self, n: usize, v: u64) -> bool {
        match n {
            PRIV => {
                self.prv = v;
                true
            }
            n if n >= FIRST_CSR => match self.csr.get_mut(n - FIRST_CSR) {
                Some(c) => {
                    *c = v;
                    true
                }
                None => false,
            },
            n => self.base.set(n, v),
        }
    }
}

impl Registers for Rv64SysRegs {
    type ProgramCounter = u64;
    fn pc(&self) -> u64 {
        self.base.pc
    }
    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for n in 0..COUNT {
            for b in self.get(n).unwrap_or(0).to_le_bytes() {
                write_byte(Some(b));
            }
        }
    }
    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if !bytes.len().is_multiple_of(8) || bytes.len() > 8 * COUNT {
            return Err(());
        }
        let n_base = (bytes.len() / 8).min(regnum::COUNT) * 8;
        self.base.gdb_deserialize(&bytes[..n_base])?;
        for (i, c) in bytes[n_base..].chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.set(FIRST_CSR + i, u64::from_le_bytes(w));
        }
        Ok(())
    }
}

/// A remote register number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rv64SysRegId(pub usize);

impl RegId for Rv64SysRegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        (id < COUNT).then(|| (Rv64SysRegId(id), NonZeroUsize::new(8)))
    }
    fn to_raw_id(&self) -> Option<usize> {
        Some(self.0)
    }
}

impl Arch for Rv64Sys {
    type Usize = u64;
    type Registers = Rv64SysRegs;
    type BreakpointKind = usize;
    type RegId = Rv64SysRegId;
    fn target_description_xml() -> Option<&'static str> {
        Some(target_xml())
    }
}

/// The user-mode description with the `csr` and `virtual` features added.
fn target_xml() -> &'static str {
    static XML: OnceLock<String> = OnceLock::new();
    XML.get_or_init(|| {
        let base = super::riscv64::TARGET_XML;
        let head = base.strip_suffix("</target>\n").unwrap_or(base);
        let mut s = String::from(head);
        s.push_str("<feature name=\"org.gnu.gdb.riscv.csr\">\n");
        for (i, (name, _)) in CSRS.iter().enumerate() {
            let num = if i == 0 {
                format!(" regnum=\"{FIRST_CSR}\"")
            } else {
                String::new()
            };
            s.push_str(&format!(
                "<reg name=\"{name}\" bitsize=\"64\" type=\"int\"{num}/>\n"
            ));
        }
        s.push_str("</feature>\n<feature name=\"org.gnu.gdb.riscv.virtual\">\n");
        s.push_str(&format!(
            "<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"{PRIV}\"/>\n"
        ));
        s.push_str("</feature>\n</target>\n");
        s
    })
}

/// A hart's state behind `env` for the stub.
pub struct RiscvSysGdb;

fn hart<'a>(env: *const u8) -> &'a RiscvSystemCpu {
    // SAFETY: GdbCpu contract: env is a parked RiscvSystemCpu (system mode registers this
    // type), not touched by its thread while the stub looks at it.
    unsafe { &*(env as *const RiscvSystemCpu) }
}

fn priv_bits(p: Priv) -> u64 {
    p as u64
}

fn load(env: *const u8) -> Rv64SysRegs {
    let h = hart(env);
    let c = &h.cpu;
    let mut csrs = [0u64; CSRS.len()];
    for (v, (_, num)) in csrs.iter_mut().zip(CSRS) {
        *v = h.privs.csr_read(*num, Priv::Machine).unwrap_or(0);
    }
    Rv64SysRegs {
        base: Rv64Regs {
            x: c.x,
            pc: c.hdr.pc,
            f: c.f,
            fflags: c.fflags,
            frm: c.frm,
        },
        csr: csrs,
        prv: priv_bits(h.privs.priv_level),
    }
}

fn store(env: *mut u8, r: &Rv64SysRegs) {
    let old = load(env);
    // SAFETY: as in `hart`; the stub is the only user of the parked hart's state.
    let h = unsafe { &mut *(env as *mut RiscvSystemCpu) };
    let c = &mut h.cpu;
    c.x = r.base.x;
    c.x[0] = 0;
    c.hdr.pc = r.base.pc;
    c.f = r.base.f;
    c.fflags = r.base.fflags;
    c.frm = r.base.frm;
    let mut changed = false;
    // Only CSRs gdb changed are written (a `G` packet carries all of them, also the
    // read-only ones and aliases such as sstatus).
    for ((new, was), (_, num)) in r.csr.iter().zip(old.csr.iter()).zip(CSRS) {
        if new != was {
            changed |= h.privs.csr_write(*num, *new, Priv::Machine).is_ok();
        }
    }
    if r.prv != old.prv
        && let Some(p) = Priv::from_bits(r.prv)
    {
        h.privs.priv_level = p;
        changed = true;
    }
    if changed {
        // Translation state may have changed (satp, mstatus, privilege): forget cached
        // translations of this hart and every translated block.
        h.tlb.flush_all();
        heron_backend::engine::request_flush_all();
    }
}

impl GdbCpu for RiscvSysGdb {
    type Arch = Rv64Sys;
    fn read_regs(env: *const u8, regs: &mut Rv64SysRegs) {
        *regs = load(env);
    }
    fn write_regs(env: *mut u8, regs: &Rv64SysRegs) {
        store(env, regs);
    }
    fn read_reg(env: *const u8, id: &Rv64SysRegId, buf: &mut [u8]) -> Option<usize> {
        Some(super::put_reg64(load(env).get(id.0)?, buf))
    }
    fn write_reg(env: *mut u8, id: &Rv64SysRegId, val: &[u8]) -> bool {
        let mut r = load(env);
        let ok = super::reg64_of(val).is_some_and(|v| r.set(id.0, v));
        if ok {
            store(env, &r);
        }
        ok
    }
}

/// The machine the debugger's memory accesses go to (replaced when the machine resets).
struct Machine {
    mmu: Arc<RiscvMmu>,
    phys: Arc<dyn PhysMemory>,
}

/// Guest memory for gdb in system mode: virtual addresses through the selected hart's
/// current translation, physical without a hart or when the hart does not translate.
#[derive(Default)]
pub struct SysMemory {
    machine: Mutex<Option<Machine>>,
}

impl SysMemory {
    pub fn new() -> Arc<SysMemory> {
        Arc::new(SysMemory::default())
    }

    /// The machine now running (its MMU and physical memory).
    pub fn set_machine(&self, mmu: Arc<RiscvMmu>, phys: Arc<dyn PhysMemory>) {
        *self.machine.lock().unwrap_or_else(|e| e.into_inner()) = Some(Machine { mmu, phys });
    }

    /// Host address of guest byte `addr` as hart `env` sees it (RAM only).
    fn host(m: &Machine, env: Option<*mut u8>, addr: u64) -> Option<*mut u8> {
        let paddr = match env {
            Some(e) if !e.is_null() => {
                let h = hart(e);
                if h.privs.priv_level == Priv::Machine {
                    addr
                } else {
                    m.mmu.walk_debug(h, addr).result?.0
                }
            }
            _ => addr,
        };
        let page = m.phys.ram_page(paddr & !0xfff)?;
        // SAFETY: `ram_page` returns a whole 4 KiB RAM page; the offset is inside it.
        Some(unsafe { page.add((paddr & 0xfff) as usize) })
    }

    /// Copy between guest memory and `buf` page by page; returns the bytes done.
    fn access(
        &self,
        env: Option<*mut u8>,
        addr: u64,
        len: usize,
        mut f: impl FnMut(*mut u8, usize, usize),
    ) -> usize {
        let g = self.machine.lock().unwrap_or_else(|e| e.into_inner());
        let Some(m) = g.as_ref() else { return 0 };
        let mut done = 0;
        while done < len {
            let a = addr.wrapping_add(done as u64);
            let n = ((4096 - (a & 4095)) as usize).min(len - done);
            let Some(p) = Self::host(m, env, a) else {
                break;
            };
            f(p, done, n);
            done += n;
        }
        done
    }
}

impl DebugMemory for SysMemory {
    fn per_cpu(&self) -> bool {
        true
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        self.read_on(None, addr, buf)
    }
    fn write(&self, addr: u64, data: &[u8]) -> bool {
        self.write_on(None, addr, data)
    }
    fn read_on(&self, env: Option<*mut u8>, addr: u64, buf: &mut [u8]) -> usize {
        let len = buf.len();
        let dst = buf.as_mut_ptr();
        self.access(env, addr, len, |p, off, n| {
            // SAFETY: `p` has `n` bytes of guest RAM (within one page); `dst + off` has
            // `n` bytes of `buf`. Guest RAM is never a Rust reference.
            unsafe { std::ptr::copy_nonoverlapping(p, dst.add(off), n) };
        })
    }
    fn write_on(&self, env: Option<*mut u8>, addr: u64, data: &[u8]) -> bool {
        let src = data.as_ptr();
        let done = self.access(env, addr, data.len(), |p, off, n| {
            // SAFETY: as in `read_on`, in the other direction.
            unsafe { std::ptr::copy_nonoverlapping(src.add(off), p, n) };
        });
        if done > 0 {
            // The write may have changed guest code.
            heron_backend::engine::request_flush_all();
        }
        done == data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_lists_csrs_and_priv_with_their_numbers() {
        let x = target_xml();
        assert!(x.contains(&format!(
            "<reg name=\"sstatus\" bitsize=\"64\" type=\"int\" regnum=\"{FIRST_CSR}\"/>"
        )));
        assert!(x.contains("<reg name=\"satp\""));
        assert!(x.contains(&format!(
            "<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"{PRIV}\"/>"
        )));
        assert!(x.trim_end().ends_with("</target>"));
        assert_eq!(x.matches("<target").count(), 1);
    }

    #[test]
    fn csrs_and_priv_read_and_write_on_a_hart() {
        let mut h = RiscvSystemCpu::new(1);
        h.cpu.x[10] = 5;
        let env = h.env();
        let satp_n = FIRST_CSR + CSRS.iter().position(|c| c.0 == "satp").unwrap();
        let hartid_n = FIRST_CSR + CSRS.iter().position(|c| c.0 == "mhartid").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            RiscvSysGdb::read_reg(env, &Rv64SysRegId(hartid_n), &mut buf),
            Some(8)
        );
        assert_eq!(u64::from_le_bytes(buf), 1);
        RiscvSysGdb::read_reg(env, &Rv64SysRegId(PRIV), &mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), 3);
        let sv39 = (8u64 << 60) | 0x80010;
        assert!(RiscvSysGdb::write_reg(
            env,
            &Rv64SysRegId(satp_n),
            &sv39.to_le_bytes()
        ));
        assert!(RiscvSysGdb::write_reg(
            env,
            &Rv64SysRegId(PRIV),
            &1u64.to_le_bytes()
        ));
        assert_eq!(h.privs.satp(), sv39);
        assert_eq!(h.privs.priv_level, Priv::Supervisor);
        // The whole set round-trips through the `g` layout; x0 stays zero.
        let env = h.env();
        let mut r = Rv64SysRegs::default();
        RiscvSysGdb::read_regs(env, &mut r);
        assert_eq!(r.base.x[10], 5);
        let mut bytes = Vec::new();
        r.gdb_serialize(|b| bytes.push(b.unwrap_or(0)));
        assert_eq!(bytes.len(), 8 * COUNT);
        let mut back = Rv64SysRegs::default();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, r);
        assert!(!RiscvSysGdb::write_reg(env, &Rv64SysRegId(COUNT), &[0; 8]));
    }
}
