//! The AArch64 register set as gdb sees it in user mode: x0-x30, sp, pc, cpsr (NZCV from
//! the vCPU's flag fields) in the `org.gnu.gdb.aarch64.core` feature, v0-v31 (128-bit),
//! fpsr and fpcr in `org.gnu.gdb.aarch64.fpu`, described by our own target description and
//! read from and written to [`A64Cpu`].

use super::GdbCpu;
use gdbstub::arch::{Arch, RegId, Registers};
use heron_aarch64::cpu::A64Cpu;
use std::num::NonZeroUsize;

/// gdbstub `Arch` for AArch64 (EL0).
pub enum A64 {}

/// Remote register numbers (the order of the target description).
pub mod regnum {
    pub const SP: usize = 31;
    pub const PC: usize = 32;
    pub const CPSR: usize = 33;
    pub const V0: usize = 34;
    pub const FPSR: usize = 66;
    pub const FPCR: usize = 67;
    pub const COUNT: usize = 68;
}

/// Size in bytes of remote register `n`.
fn reg_size(n: usize) -> Option<usize> {
    match n {
        0..=regnum::PC => Some(8),
        regnum::CPSR | regnum::FPSR | regnum::FPCR => Some(4),
        34..=65 => Some(16),
        _ => None,
    }
}

/// All registers, in remote-number order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct A64Regs {
    /// x0-x30.
    pub x: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    /// NZCV in bits 31..28 (the rest of PSTATE reads as zero at EL0t).
    pub cpsr: u32,
    pub v: [u128; 32],
    pub fpsr: u32,
    pub fpcr: u32,
}

impl A64Regs {
    /// Register `n` as little-endian bytes (its size).
    fn get(&self, n: usize) -> Option<Vec<u8>> {
        Some(match n {
            0..=30 => self.x[n].to_le_bytes().to_vec(),
            regnum::SP => self.sp.to_le_bytes().to_vec(),
            regnum::PC => self.pc.to_le_bytes().to_vec(),
            regnum::CPSR => self.cpsr.to_le_bytes().to_vec(),
            34..=65 => self.v[n - regnum::V0].to_le_bytes().to_vec(),
            regnum::FPSR => self.fpsr.to_le_bytes().to_vec(),
            regnum::FPCR => self.fpcr.to_le_bytes().to_vec(),
            _ => return None,
        })
    }

    /// Set register `n` from little-endian `bytes` (shorter values are zero-extended).
    fn set(&mut self, n: usize, bytes: &[u8]) -> bool {
        let Some(size) = reg_size(n) else {
            return false;
        };
        if bytes.is_empty() || bytes.len() > size {
            return false;
        }
        let mut w = [0u8; 16];
        w[..bytes.len()].copy_from_slice(bytes);
        let v = u128::from_le_bytes(w);
        match n {
            0..=30 => self.x[n] = v as u64,
            regnum::SP => self.sp = v as u64,
            regnum::PC => self.pc = v as u64,
            regnum::CPSR => self.cpsr = v as u32,
            34..=65 => self.v[n - regnum::V0] = v,
            regnum::FPSR => self.fpsr = v as u32,
            _ => self.fpcr = v as u32,
        }
        true
    }
}

impl Registers for A64Regs {
    type ProgramCounter = u64;
    fn pc(&self) -> u64 {
        self.pc
    }
    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for n in 0..regnum::COUNT {
            for b in self.get(n).unwrap_or_default() {
                write_byte(Some(b));
            }
        }
    }
    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let mut off = 0;
        for n in 0..regnum::COUNT {
            if off == bytes.len() {
                break;
            }
            let size = reg_size(n).ok_or(())?;
            let chunk = bytes.get(off..off + size).ok_or(())?;
            self.set(n, chunk);
            off += size;
        }
        if off == bytes.len() { Ok(()) } else { Err(()) }
    }
}

/// A remote register number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct A64RegId(pub usize);

impl RegId for A64RegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let size = reg_size(id)?;
        Some((A64RegId(id), NonZeroUsize::new(size)))
    }
    fn to_raw_id(&self) -> Option<usize> {
        Some(self.0)
    }
}

impl Arch for A64 {
    type Usize = u64;
    type Registers = A64Regs;
    type BreakpointKind = usize;
    type RegId = A64RegId;
    fn target_description_xml() -> Option<&'static str> {
        Some(target_xml())
    }
}

/// Our target description: the core and FP/SIMD features gdb's AArch64 support expects.
fn target_xml() -> &'static str {
    static XML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    XML.get_or_init(|| {
        let mut s = String::from(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n\
             <target version=\"1.0\">\n<architecture>aarch64</architecture>\n\
             <feature name=\"org.gnu.gdb.aarch64.core\">\n\
             <flags id=\"cpsr_flags\" size=\"4\">\n\
             <field name=\"V\" start=\"28\" end=\"28\"/>\n\
             <field name=\"C\" start=\"29\" end=\"29\"/>\n\
             <field name=\"Z\" start=\"30\" end=\"30\"/>\n\
             <field name=\"N\" start=\"31\" end=\"31\"/>\n\
             </flags>\n",
        );
        for i in 0..31 {
            let num = if i == 0 { " regnum=\"0\"" } else { "" };
            s.push_str(&format!(
                "<reg name=\"x{i}\" bitsize=\"64\" type=\"int\"{num}/>\n"
            ));
        }
        s.push_str(
            "<reg name=\"sp\" bitsize=\"64\" type=\"data_ptr\"/>\n\
             <reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\"/>\n\
             <reg name=\"cpsr\" bitsize=\"32\" type=\"cpsr_flags\"/>\n\
             </feature>\n<feature name=\"org.gnu.gdb.aarch64.fpu\">\n",
        );
        // Lane views of a 128-bit register: q (1 x 128), d (2 x 64), s (4 x 32),
        // h (8 x 16), b (16 x 8), each as float where one exists, unsigned and signed.
        let views: [(&str, u32, Option<&str>); 5] = [
            ("q", 1, None),
            ("d", 2, Some("ieee_double")),
            ("s", 4, Some("ieee_single")),
            ("h", 8, Some("ieee_half")),
            ("b", 16, None),
        ];
        for (name, count, float) in views {
            let bits = 128 / count;
            s.push_str(&format!(
                "<vector id=\"v{count}u\" type=\"uint{bits}\" count=\"{count}\"/>\n\
                 <vector id=\"v{count}i\" type=\"int{bits}\" count=\"{count}\"/>\n"
            ));
            if let Some(f) = float {
                s.push_str(&format!(
                    "<vector id=\"v{count}f\" type=\"{f}\" count=\"{count}\"/>\n"
                ));
            }
            s.push_str(&format!("<union id=\"vn{name}\">\n"));
            if float.is_some() {
                s.push_str(&format!("<field name=\"f\" type=\"v{count}f\"/>\n"));
            }
            s.push_str(&format!(
                "<field name=\"u\" type=\"v{count}u\"/>\n\
                 <field name=\"s\" type=\"v{count}i\"/>\n</union>\n"
            ));
        }
        s.push_str("<union id=\"aarch64v\">\n");
        for (name, _, _) in views.iter() {
            s.push_str(&format!("<field name=\"{name}\" type=\"vn{name}\"/>\n"));
        }
        s.push_str("</union>\n");
        for i in 0..32 {
            let num = if i == 0 {
                format!(" regnum=\"{}\"", regnum::V0)
            } else {
                String::new()
            };
            s.push_str(&format!(
                "<reg name=\"v{i}\" bitsize=\"128\" type=\"aarch64v\"{num}/>\n"
            ));
        }
        s.push_str(
            "<reg name=\"fpsr\" bitsize=\"32\" type=\"int\"/>\n\
             <reg name=\"fpcr\" bitsize=\"32\" type=\"int\"/>\n</feature>\n</target>\n",
        );
        s
    })
}

/// The AArch64 CPU state behind `env` for the stub.
pub struct A64Gdb;

fn load(env: *const u8) -> A64Regs {
    // SAFETY: GdbCpu contract: env is an A64Cpu not running on any thread.
    let c = unsafe { &*(env as *const A64Cpu) };
    let mut x = [0u64; 31];
    x.copy_from_slice(&c.x[..31]);
    A64Regs {
        x,
        sp: c.x[31],
        pc: c.hdr.pc,
        cpsr: c.nzcv() as u32,
        v: c.v,
        fpsr: c.fpsr as u32,
        fpcr: c.fpcr as u32,
    }
}

fn store(env: *mut u8, r: &A64Regs) {
    // SAFETY: as in `load`, and the stub is the only writer while the vCPU is parked.
    let c = unsafe { &mut *(env as *mut A64Cpu) };
    c.x[..31].copy_from_slice(&r.x);
    c.x[31] = r.sp;
    c.hdr.pc = r.pc;
    c.set_nzcv(u64::from(r.cpsr));
    c.v = r.v;
    c.fpsr = u64::from(r.fpsr);
    c.fpcr = u64::from(r.fpcr);
}

impl GdbCpu for A64Gdb {
    type Arch = A64;
    fn read_regs(env: *const u8, regs: &mut A64Regs) {
        *regs = load(env);
    }
    fn write_regs(env: *mut u8, regs: &A64Regs) {
        store(env, regs);
    }
    fn read_reg(env: *const u8, id: &A64RegId, buf: &mut [u8]) -> Option<usize> {
        let v = load(env).get(id.0)?;
        let n = v.len().min(buf.len());
        buf[..n].copy_from_slice(&v[..n]);
        Some(n)
    }
    fn write_reg(env: *mut u8, id: &A64RegId, val: &[u8]) -> bool {
        let mut r = load(env);
        if !r.set(id.0, val) {
            return false;
        }
        store(env, &r);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_packet_layout_and_roundtrip() {
        let mut r = A64Regs::default();
        for i in 0..31 {
            r.x[i] = i as u64 * 7;
        }
        r.sp = 0x7fff_0000;
        r.pc = 0x40_1000;
        r.cpsr = 0x6000_0000;
        r.v[3] = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        r.fpsr = 0x8000_0000;
        r.fpcr = 0x0300_0000;
        let mut bytes = Vec::new();
        r.gdb_serialize(|b| bytes.push(b.unwrap_or(0)));
        assert_eq!(bytes.len(), 33 * 8 + 4 + 32 * 16 + 4 + 4);
        assert_eq!(&bytes[32 * 8..33 * 8], &0x40_1000u64.to_le_bytes());
        assert_eq!(&bytes[33 * 8..33 * 8 + 4], &0x6000_0000u32.to_le_bytes());
        let v3 = 33 * 8 + 4 + 3 * 16;
        assert_eq!(&bytes[v3..v3 + 16], &r.v[3].to_le_bytes());
        let mut back = A64Regs::default();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, r);
        assert!(back.gdb_deserialize(&bytes[..bytes.len() - 2]).is_err());
    }

    #[test]
    fn registers_on_a_cpu_with_flags_sp_and_vectors() {
        let mut c = A64Cpu::default();
        c.x[0] = 42;
        c.x[31] = 0x7ff0;
        c.set_nzcv(0x9000_0000);
        let env = &mut c as *mut A64Cpu as *mut u8;
        let mut buf = [0u8; 16];
        assert_eq!(A64Gdb::read_reg(env, &A64RegId(0), &mut buf), Some(8));
        assert_eq!(buf[0], 42);
        assert_eq!(
            A64Gdb::read_reg(env, &A64RegId(regnum::SP), &mut buf),
            Some(8)
        );
        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), 0x7ff0);
        assert_eq!(
            A64Gdb::read_reg(env, &A64RegId(regnum::CPSR), &mut buf),
            Some(4)
        );
        assert_eq!(
            u32::from_le_bytes(buf[..4].try_into().unwrap()),
            0x9000_0000
        );
        assert!(A64Gdb::write_reg(
            env,
            &A64RegId(regnum::CPSR),
            &0x4000_0000u32.to_le_bytes()
        ));
        assert!(A64Gdb::write_reg(
            env,
            &A64RegId(regnum::V0 + 1),
            &[0xff; 16]
        ));
        assert!(!A64Gdb::write_reg(env, &A64RegId(regnum::COUNT), &[0; 4]));
        assert!(!A64Gdb::write_reg(env, &A64RegId(regnum::CPSR), &[0; 8]));
        assert_eq!(c.nzcv(), 0x4000_0000);
        assert_eq!(c.v[1], u128::MAX);
        assert_eq!(
            A64RegId::from_raw_id(regnum::V0).map(|r| r.1),
            Some(NonZeroUsize::new(16))
        );
        let x = target_xml();
        assert!(x.contains("<reg name=\"v0\" bitsize=\"128\" type=\"aarch64v\" regnum=\"34\"/>"));
        assert!(x.contains("org.gnu.gdb.aarch64.core") && x.contains("org.gnu.gdb.aarch64.fpu"));
    }
}
