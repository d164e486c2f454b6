//! The RISC-V 64 register set as gdb sees it: x0-x31, pc, f0-f31 and fflags/frm/fcsr,
//! described to gdb by our own target description (the `cpu` and `fpu` features gdb's RISC-V
//! support expects), read from and written to [`RiscvCpu`].

use super::GdbCpu;
use gdbstub::arch::{Arch, RegId, Registers};
use heron_riscv::cpu::RiscvCpu;
use std::num::NonZeroUsize;

/// gdbstub `Arch` for RV64 with the F/D registers.
pub enum Rv64 {}

/// Remote register numbers (the order of the target description).
pub mod regnum {
    pub const PC: usize = 32;
    pub const F0: usize = 33;
    pub const FFLAGS: usize = 65;
    pub const FRM: usize = 66;
    pub const FCSR: usize = 67;
    pub const COUNT: usize = 68;
}

/// All registers, in remote-number order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rv64Regs {
    pub x: [u64; 32],
    pub pc: u64,
    pub f: [u64; 32],
    pub fflags: u64,
    pub frm: u64,
}

impl Rv64Regs {
    pub(crate) fn get(&self, n: usize) -> Option<u64> {
        Some(match n {
            0..=31 => self.x[n],
            regnum::PC => self.pc,
            33..=64 => self.f[n - regnum::F0],
            regnum::FFLAGS => self.fflags,
            regnum::FRM => self.frm,
            regnum::FCSR => (self.frm << 5) | self.fflags,
            _ => return None,
        })
    }

    pub(crate) fn set(&mut self, n: usize, v: u64) -> bool {
        match n {
            0 => {} // x0 is hardwired to zero
            1..=31 => self.x[n] = v,
            regnum::PC => self.pc = v,
            33..=64 => self.f[n - regnum::F0] = v,
            regnum::FFLAGS => self.fflags = v & 0x1f,
            regnum::FRM => self.frm = v & 7,
            regnum::FCSR => {
                self.fflags = v & 0x1f;
                self.frm = (v >> 5) & 7;
            }
            _ => return false,
        }
        true
    }
}

impl Registers for Rv64Regs {
    type ProgramCounter = u64;
    fn pc(&self) -> u64 {
        self.pc
    }
    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for n in 0..regnum::COUNT {
            let v = self.get(n).unwrap_or(0);
            for b in v.to_le_bytes() {
                write_byte(Some(b));
            }
        }
    }
    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if !bytes.len().is_multiple_of(8) || bytes.len() > 8 * regnum::COUNT {
            return Err(());
        }
        let old_fcsr = self.get(regnum::FCSR);
        let mut fcsr = None;
        for (n, c) in bytes.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            let v = u64::from_le_bytes(w);
            if n == regnum::FCSR {
                fcsr = Some(v);
            } else {
                self.set(n, v);
            }
        }
        // fcsr aliases fflags/frm: it wins only when gdb changed it.
        if let Some(v) = fcsr
            && Some(v) != old_fcsr
        {
            self.set(regnum::FCSR, v);
        }
        Ok(())
    }
}

/// A remote register number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rv64RegId(pub usize);

impl RegId for Rv64RegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        (id < regnum::COUNT).then(|| (Rv64RegId(id), NonZeroUsize::new(8)))
    }
    fn to_raw_id(&self) -> Option<usize> {
        Some(self.0)
    }
}

impl Arch for Rv64 {
    type Usize = u64;
    type Registers = Rv64Regs;
    type BreakpointKind = usize;
    type RegId = Rv64RegId;
    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// Our target description: architecture, then the integer and FP register features.
pub(crate) const TARGET_XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
<architecture>riscv:rv64</architecture>
<feature name="org.gnu.gdb.riscv.cpu">
<reg name="zero" bitsize="64" type="int" regnum="0"/>
<reg name="ra" bitsize="64" type="code_ptr"/>
<reg name="sp" bitsize="64" type="data_ptr"/>
<reg name="gp" bitsize="64" type="data_ptr"/>
<reg name="tp" bitsize="64" type="data_ptr"/>
<reg name="t0" bitsize="64" type="int"/>
<reg name="t1" bitsize="64" type="int"/>
<reg name="t2" bitsize="64" type="int"/>
<reg name="fp" bitsize="64" type="data_ptr"/>
<reg name="s1" bitsize="64" type="int"/>
<reg name="a0" bitsize="64" type="int"/>
<reg name="a1" bitsize="64" type="int"/>
<reg name="a2" bitsize="64" type="int"/>
<reg name="a3" bitsize="64" type="int"/>
<reg name="a4" bitsize="64" type="int"/>
<reg name="a5" bitsize="64" type="int"/>
<reg name="a6" bitsize="64" type="int"/>
<reg name="a7" bitsize="64" type="int"/>
<reg name="s2" bitsize="64" type="int"/>
<reg name="s3" bitsize="64" type="int"/>
<reg name="s4" bitsize="64" type="int"/>
<reg name="s5" bitsize="64" type="int"/>
<reg name="s6" bitsize="64" type="int"/>
<reg name="s7" bitsize="64" type="int"/>
<reg name="s8" bitsize="64" type="int"/>
<reg name="s9" bitsize="64" type="int"/>
<reg name="s10" bitsize="64" type="int"/>
<reg name="s11" bitsize="64" type="int"/>
<reg name="t3" bitsize="64" type="int"/>
<reg name="t4" bitsize="64" type="int"/>
<reg name="t5" bitsize="64" type="int"/>
<reg name="t6" bitsize="64" type="int"/>
<reg name="pc" bitsize="64" type="code_ptr"/>
</feature>
<feature name="org.gnu.gdb.riscv.fpu">
<union id="riscv_double">
<field name="float" type="ieee_single"/>
<field name="double" type="ieee_double"/>
</union>
<reg name="ft0" bitsize="64" type="riscv_double" regnum="33"/>
<reg name="ft1" bitsize="64" type="riscv_double"/>
<reg name="ft2" bitsize="64" type="riscv_double"/>
<reg name="ft3" bitsize="64" type="riscv_double"/>
<reg name="ft4" bitsize="64" type="riscv_double"/>
<reg name="ft5" bitsize="64" type="riscv_double"/>
<reg name="ft6" bitsize="64" type="riscv_double"/>
<reg name="ft7" bitsize="64" type="riscv_double"/>
<reg name="fs0" bitsize="64" type="riscv_double"/>
<reg name="fs1" bitsize="64" type="riscv_double"/>
<reg name="fa0" bitsize="64" type="riscv_double"/>
<reg name="fa1" bitsize="64" type="riscv_double"/>
<reg name="fa2" bitsize="64" type="riscv_double"/>
<reg name="fa3" bitsize="64" type="riscv_double"/>
<reg name="fa4" bitsize="64" type="riscv_double"/>
<reg name="fa5" bitsize="64" type="riscv_double"/>
<reg name="fa6" bitsize="64" type="riscv_double"/>
<reg name="fa7" bitsize="64" type="riscv_double"/>
<reg name="fs2" bitsize="64" type="riscv_double"/>
<reg name="fs3" bitsize="64" type="riscv_double"/>
<reg name="fs4" bitsize="64" type="riscv_double"/>
<reg name="fs5" bitsize="64" type="riscv_double"/>
<reg name="fs6" bitsize="64" type="riscv_double"/>
<reg name="fs7" bitsize="64" type="riscv_double"/>
<reg name="fs8" bitsize="64" type="riscv_double"/>
<reg name="fs9" bitsize="64" type="riscv_double"/>
<reg name="fs10" bitsize="64" type="riscv_double"/>
<reg name="fs11" bitsize="64" type="riscv_double"/>
<reg name="ft8" bitsize="64" type="riscv_double"/>
<reg name="ft9" bitsize="64" type="riscv_double"/>
<reg name="ft10" bitsize="64" type="riscv_double"/>
<reg name="ft11" bitsize="64" type="riscv_double"/>
<reg name="fflags" bitsize="64" type="int" regnum="65"/>
<reg name="frm" bitsize="64" type="int" regnum="66"/>
<reg name="fcsr" bitsize="64" type="int" regnum="67"/>
</feature>
</target>
"#;

/// The RISC-V 64 CPU state behind `env` for the stub.
pub struct RiscvGdb;

fn cpu(env: *const u8) -> *const RiscvCpu {
    env as *const RiscvCpu
}

fn load(env: *const u8) -> Rv64Regs {
    // SAFETY: GdbCpu contract: env is a RiscvCpu not running on any thread.
    let c = unsafe { &*cpu(env) };
    Rv64Regs {
        x: c.x,
        pc: c.hdr.pc,
        f: c.f,
        fflags: c.fflags,
        frm: c.frm,
    }
}

fn store(env: *mut u8, r: &Rv64Regs) {
    // SAFETY: as in `load`, and the stub is the only writer while the vCPU is parked.
    let c = unsafe { &mut *(env as *mut RiscvCpu) };
    c.x = r.x;
    c.x[0] = 0;
    c.hdr.pc = r.pc;
    c.f = r.f;
    c.fflags = r.fflags;
    c.frm = r.frm;
}

impl GdbCpu for RiscvGdb {
    type Arch = Rv64;
    fn read_regs(env: *const u8, regs: &mut Rv64Regs) {
        *regs = load(env);
    }
    fn write_regs(env: *mut u8, regs: &Rv64Regs) {
        store(env, regs);
    }
    fn read_reg(env: *const u8, id: &Rv64RegId, buf: &mut [u8]) -> Option<usize> {
        Some(super::put_reg64(load(env).get(id.0)?, buf))
    }
    fn write_reg(env: *mut u8, id: &Rv64RegId, val: &[u8]) -> bool {
        let mut r = load(env);
        let ok = super::reg64_of(val).is_some_and(|v| r.set(id.0, v));
        if ok {
            store(env, &r);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_roundtrip_through_the_g_packet_layout() {
        let mut r = Rv64Regs::default();
        for i in 1..32 {
            r.x[i] = i as u64 * 3;
            r.f[i] = 0xffff_ffff_0000_0000 | i as u64;
        }
        r.pc = 0x1_0000;
        r.fflags = 0x15;
        r.frm = 3;
        let mut bytes = Vec::new();
        r.gdb_serialize(|b| bytes.push(b.unwrap_or(0)));
        assert_eq!(bytes.len(), 8 * regnum::COUNT);
        assert_eq!(
            &bytes[8 * 67..8 * 67 + 8],
            &((3u64 << 5) | 0x15).to_le_bytes()
        );
        let mut back = r.clone();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, r);
        // Changing fcsr in the packet updates fflags and frm.
        bytes[8 * 67] = 0x41;
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!((back.fflags, back.frm), (1, 2));
        assert!(back.gdb_deserialize(&bytes[..7]).is_err());
    }

    #[test]
    fn single_registers_on_a_cpu() {
        let mut c = RiscvCpu::default();
        let env = &mut c as *mut RiscvCpu as *mut u8;
        assert!(RiscvGdb::write_reg(
            env,
            &Rv64RegId(10),
            &42u64.to_le_bytes()
        ));
        assert!(RiscvGdb::write_reg(env, &Rv64RegId(0), &7u64.to_le_bytes()));
        assert!(RiscvGdb::write_reg(
            env,
            &Rv64RegId(regnum::FCSR),
            &[0x25, 0, 0, 0]
        ));
        let mut buf = [0u8; 8];
        assert_eq!(RiscvGdb::read_reg(env, &Rv64RegId(10), &mut buf), Some(8));
        assert_eq!(u64::from_le_bytes(buf), 42);
        assert_eq!(c.x[0], 0);
        assert_eq!((c.fflags, c.frm), (5, 1));
        assert!(Rv64RegId::from_raw_id(regnum::COUNT).is_none());
    }
}
