//! Tests of the FP/SIMD translator: IR blocks built by [`translate_fp_simd`] /
//! [`translate_ldst_struct`] run on the reference interpreter and on the Cranelift JIT
//! (the qemu differential tests in `qemu_diff` replay through these runners too), plus
//! known-value checks.

use super::*;
use heron_backend::interp::{InterpBlock, InterpRegs};
use heron_backend::jit::{Jit, JitConfig, handle_host_fault};
use heron_backend::mem::{PERM_R, PERM_W};
use heron_backend::{ExitStatus, GuestMemory};

/// Where a test block pretends to live.
const PC: u64 = 0x1000;

/// Execution tier of a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tier {
    Interp,
    Jit,
}

/// Translate `insns` (all of this module's groups) into one block ending with a jump to
/// the next instruction. None when one of them is unallocated.
pub(super) fn block_of(insns: &[u32]) -> Option<heron_backend::Block> {
    let mut b = Builder::new(PC);
    for (i, &w) in insns.iter().enumerate() {
        let pc = PC + 4 * i as u64;
        b.insn_start(pc);
        let ok = if (w >> 25) & 7 == 0b111 {
            translate_fp_simd(&mut b, w, pc)
        } else {
            translate_ldst_struct(&mut b, w, pc)
        };
        if !ok {
            return None;
        }
    }
    b.exit(ExitStatus::Next, PC + 4 * insns.len() as u64);
    b.block.num_insns = insns.len() as u32;
    b.block.guest_size = 4 * insns.len() as u32;
    Some(b.finish())
}

/// Runs blocks on one tier over one guest memory.
pub(super) struct Runner {
    pub mem: GuestMemory,
    jit: Option<Jit>,
    regs: InterpRegs,
    /// Translated blocks by guest PC, for [`Runner::run_at`].
    cache: std::collections::HashMap<u64, Cached>,
}

enum Cached {
    Interp(InterpBlock),
    Jit(*const u8),
}

extern "C" fn host_fault_handler(signo: i32, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    // SAFETY: called by the kernel with SA_SIGINFO arguments.
    if !unsafe { handle_host_fault(signo, info, uctx) } {
        // SAFETY: restoring the default action makes the fault re-trigger and kill us: a
        // real bug, not a guest fault.
        unsafe { libc::signal(signo, libc::SIG_DFL) };
    }
}

fn install_host_fault_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a process-wide handler that only calls async-signal-safe code.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = host_fault_handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut()), 0);
            assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
        }
    });
}

impl Runner {
    /// A runner whose guest memory maps `[data, data + len)` read/write (none if len = 0).
    pub fn new(tier: Tier, data: u64, len: u64) -> Runner {
        let mem = GuestMemory::reserve(1 << 32).expect("reserve guest memory");
        if len > 0 {
            let start = data & !0xfff;
            let end = (data + len + 0xfff) & !0xfff;
            mem.map_anon(start, end - start, PERM_R | PERM_W)
                .expect("map data");
        }
        let jit = (tier == Tier::Jit).then(|| {
            install_host_fault_handler();
            Jit::new(JitConfig {
                code_size: 64 << 20,
                guest_base: mem.base(),
                guest_limit: mem.limit(),
                opt_speed: false,
                verify: true,
            })
            .expect("jit")
        });
        Runner {
            mem,
            jit,
            regs: InterpRegs::default(),
            cache: std::collections::HashMap::new(),
        }
    }

    /// Run the block at `cpu.hdr.pc`, translating it with `translate` the first time
    /// (code is never modified by the programs these tests run).
    pub fn run_at(
        &mut self,
        cpu: &mut A64Cpu,
        translate: impl FnOnce(&GuestMemory) -> heron_backend::Block,
    ) -> ExitStatus {
        let pc = cpu.hdr.pc;
        if !self.cache.contains_key(&pc) {
            let block = translate(&self.mem);
            let c = match &mut self.jit {
                Some(jit) => Cached::Jit(jit.compile(&block).expect("compile").entry),
                None => Cached::Interp(InterpBlock::new(&block)),
            };
            self.cache.insert(pc, c);
        }
        let env = cpu as *mut A64Cpu as *mut u8;
        match (self.cache.get(&pc), &self.jit) {
            (Some(Cached::Jit(entry)), Some(jit)) => {
                // SAFETY: env is our live A64Cpu, used by this thread only; the entry was
                // compiled by this Jit, whose guest range is self.mem's.
                unsafe { jit.enter(env, *entry) }
            }
            (Some(Cached::Interp(ib)), _) => {
                // SAFETY: as in `run`.
                unsafe { ib.run(env, &self.mem, &mut self.regs) }
            }
            _ => unreachable!("cached block of the wrong tier"),
        }
    }

    /// Run `block` on `cpu`.
    pub fn run(&mut self, cpu: &mut A64Cpu, block: &heron_backend::Block) -> ExitStatus {
        let env = cpu as *mut A64Cpu as *mut u8;
        match &mut self.jit {
            Some(jit) => {
                let compiled = jit.compile(block).expect("compile");
                // SAFETY: env is our live A64Cpu, used by this thread only; the block was
                // compiled by this Jit, whose guest range is self.mem's.
                unsafe { jit.enter(env, compiled.entry) }
            }
            None => {
                let ib = InterpBlock::new(block);
                // SAFETY: env is our live A64Cpu, used by this thread only; the helpers
                // take only env.
                unsafe { ib.run(env, &self.mem, &mut self.regs) }
            }
        }
    }
}

fn cpu_with(v: &[(usize, u128)]) -> Box<A64Cpu> {
    let mut cpu = Box::<A64Cpu>::default();
    for &(i, x) in v {
        cpu.v[i] = x;
    }
    cpu
}

#[test]
fn fp_and_gpr_glue_on_both_tiers() {
    for tier in [Tier::Interp, Tier::Jit] {
        let mut r = Runner::new(tier, 0, 0);
        let mut cpu = cpu_with(&[
            (1, 1.5f64.to_bits() as u128 | 0xabcd << 64),
            (2, 2.25f64.to_bits() as u128),
        ]);
        cpu.x[4] = 0x1234_5678_9abc_def0;
        cpu.set_nzcv(0x4000_0000); // Z: eq holds
        let block = block_of(&[
            0x1e62_2820, // fadd d0, d1, d2
            0x9e78_0003, // fcvtzs x3, d0
            0x1e62_2020, // fcmp d1, d2 -> N
            0x9e67_0085, // fmov d5, x4
            0x4e08_1c86, // mov v6.d[0], x4 (ins)
            0x1e62_0c27, // fcsel d7, d1, d2, eq (flags from the fcmp: lt, so not eq)
        ])
        .expect("allocated");
        assert_eq!(r.run(&mut cpu, &block), ExitStatus::Next, "{tier:?}");
        assert_eq!(cpu.v[0], 3.75f64.to_bits() as u128);
        assert_eq!(cpu.x[3], 3);
        assert_eq!(cpu.fpsr, crate::fpu::IXC as u64);
        assert_eq!(cpu.nzcv(), 0x8000_0000);
        assert_eq!(cpu.v[5], 0x1234_5678_9abc_def0);
        assert_eq!(cpu.v[6] as u64, 0x1234_5678_9abc_def0);
        assert_eq!(cpu.v[7], 2.25f64.to_bits() as u128);
        assert_eq!(cpu.hdr.pc, PC + 24);
    }
}

#[test]
fn structure_loads_and_stores_on_both_tiers() {
    const BUF: u64 = 0x20000;
    for tier in [Tier::Interp, Tier::Jit] {
        let mut r = Runner::new(tier, BUF, 0x1000);
        let bytes: Vec<u8> = (0..64u8).collect();
        r.mem.write_bytes(BUF, &bytes).expect("write");
        let mut cpu = Box::<A64Cpu>::default();
        cpu.x[0] = BUF;
        cpu.x[1] = BUF + 0x100;
        let block = block_of(&[
            0x4cdf_0800, // ld4 {v0.4s-v3.4s}, [x0], #64
            0x4d40_c404, // ld1r {v4.8h}, [x0]  (x0 now BUF+64: zeros)
            0x0d40_0005, // ld1 {v5.b}[0], [x0]
            0x4c00_7000, // st1 {v0.16b}, [x0]
            0x4c9f_8c22, // st2 {v2.2d, v3.2d}, [x1], #32
        ])
        .expect("allocated");
        assert_eq!(r.run(&mut cpu, &block), ExitStatus::Next, "{tier:?}");
        // ld4 .4s: v0 gets words 0, 4, 8, 12 of the buffer.
        let word = |i: u32| {
            u32::from_le_bytes([
                4 * i as u8,
                4 * i as u8 + 1,
                4 * i as u8 + 2,
                4 * i as u8 + 3,
            ])
        };
        for (k, lane) in (0..4).enumerate() {
            assert_eq!(
                exec::el(cpu.v[0], lane, 32) as u32,
                word(4 * k as u32),
                "{tier:?}"
            );
            assert_eq!(exec::el(cpu.v[3], lane, 32) as u32, word(4 * k as u32 + 3));
        }
        assert_eq!(cpu.x[0], BUF + 64);
        assert_eq!(cpu.v[4], 0);
        let mut out = [0u8; 16];
        r.mem.read_bytes(BUF + 64, &mut out).expect("read");
        assert_eq!(&out[..16], &cpu.v[0].to_le_bytes());
        // st2 .2d interleaves v2.d[0], v3.d[0], v2.d[1], v3.d[1].
        assert_eq!(cpu.x[1], BUF + 0x100 + 32);
        let mut st2 = [0u8; 32];
        r.mem.read_bytes(BUF + 0x100, &mut st2).expect("read");
        assert_eq!(&st2[..8], &(cpu.v[2] as u64).to_le_bytes());
        assert_eq!(&st2[8..16], &(cpu.v[3] as u64).to_le_bytes());
        assert_eq!(&st2[16..24], &((cpu.v[2] >> 64) as u64).to_le_bytes());
    }
}

#[test]
fn unallocated_encodings_are_rejected() {
    let mut b = Builder::new(PC);
    // FP with ftype 10, FRINT32Z on half precision (no such form), scalar FABS (FP16: no
    // scalar form), ld4 with .1d, SM3SS1 (no SM3).
    for w in [0x1ea2_2820u32, 0x1ee8_4020, 0x5ef8_f822] {
        assert!(!translate_fp_simd(&mut b, w, PC), "{w:#x}");
    }
    assert!(!translate_ldst_struct(&mut b, 0x0c40_0c00, PC));
    assert!(!translate_fp_simd(&mut b, 0xce40_0000, PC));
    assert!(b.block.ops.is_empty());
}

#[test]
fn crc32_glue_on_both_tiers() {
    use crate::crypto::{crc32, translate_crc32};
    for tier in [Tier::Interp, Tier::Jit] {
        let mut r = Runner::new(tier, 0, 0);
        let mut cpu = Box::<A64Cpu>::default();
        cpu.x[0] = 0xffff_ffff_1234_5678; // upper half ignored
        cpu.x[1] = 0x1ab;
        cpu.x[4] = 0x8765_4321;
        cpu.x[5] = 0x0102_0304_0506_0708;
        cpu.x[6] = 0xdead_beef;
        cpu.x[7] = 0xffff_0000_5555_aaaa;
        let mut b = Builder::new(PC);
        for (i, w) in [0x1ac1_4000u32, 0x9ac5_5c83, 0x1ac7_44c6]
            .into_iter()
            .enumerate()
        {
            b.insn_start(PC + 4 * i as u64);
            assert!(translate_crc32(&mut b, w, PC));
        }
        // crc32x with sf=0 and crc32b with sf=1 are unallocated.
        assert!(!translate_crc32(&mut b, 0x1ac5_4c83, PC));
        assert!(!translate_crc32(&mut b, 0x9ac1_4000, PC));
        b.exit(ExitStatus::Next, PC + 12);
        let block = b.finish();
        assert_eq!(r.run(&mut cpu, &block), ExitStatus::Next);
        assert_eq!(cpu.x[0], crc32(0x1234_5678, 0xab, 1, false) as u64);
        assert_eq!(
            cpu.x[3],
            crc32(0x8765_4321, 0x0102_0304_0506_0708, 8, true) as u64
        );
        assert_eq!(cpu.x[6], crc32(0xdead_beef, 0xaaaa, 2, false) as u64);
    }
}

#[test]
fn int_fp_conversion_edges_match_the_executor() {
    // Inline SCVTF/UCVTF/FCVTZS/FCVTZU must agree with the exact executor at the
    // saturation and precision edges, with Inexact clear or already set.
    let insns = [
        0x1e23_0000u32, // ucvtf s0, w0
        0x9e62_0000,    // scvtf d0, x0
        0x9e22_0000,    // scvtf s0, x0
        0x9e63_0000,    // ucvtf d0, x0
        0x1e78_0020,    // fcvtzs w0, d1
        0x9e39_0020,    // fcvtzu x0, s1
    ];
    let xs = [
        0xffff_ffffu64,
        u64::MAX,
        i64::MAX as u64,
        i64::MIN as u64,
        (1 << 24) + 1,
        (1 << 53) + 1,
        (1u64 << 53).wrapping_neg() - 1,
        12345,
    ];
    let vs = [
        2147483647.5f64.to_bits() as u128,
        (-2147483648.9f64).to_bits() as u128,
        4294967296.0f32.to_bits() as u128,
        18446744073709551616.0f32.to_bits() as u128,
        (-0.75f64).to_bits() as u128,
        1e10f64.to_bits() as u128,
    ];
    for tier in [Tier::Interp, Tier::Jit] {
        let mut r = Runner::new(tier, 0, 0);
        for &w in &insns {
            let block = block_of(&[w]).expect("allocated");
            for &x in &xs {
                for &v in &vs {
                    for fpsr in [0u64, 0x10] {
                        let mut cpu = Box::<A64Cpu>::default();
                        cpu.x[0] = x;
                        cpu.v[1] = v;
                        cpu.fpsr = fpsr;
                        let mut want = Box::<A64Cpu>::default();
                        want.x[0] = x;
                        want.v[1] = v;
                        want.fpsr = fpsr;
                        let mut regs = Regs {
                            v: &mut want.v,
                            fpcr: 0,
                            fpsr: &mut want.fpsr,
                        };
                        if let Ok(Out::X(val)) = exec_any(&mut regs, w, x, false) {
                            want.x[0] = val;
                        }
                        assert_eq!(r.run(&mut cpu, &block), ExitStatus::Next);
                        assert_eq!(
                            (cpu.v[0], cpu.x[0], cpu.fpsr),
                            (want.v[0], want.x[0], want.fpsr),
                            "{tier:?} {w:#x} x={x:#x} v={v:#x} fpsr={fpsr:#x}"
                        );
                    }
                }
            }
        }
    }
}

/// Run one instruction of the group on the executor with V registers `v` and FPCR.
fn exec1(insn: u32, v: &[(usize, u128)], fpcr: u64) -> ([u128; 32], u64) {
    let mut regs = [0u128; 32];
    for &(i, x) in v {
        regs[i] = x;
    }
    let mut fpsr = 0;
    let mut r = Regs {
        v: &mut regs,
        fpcr,
        fpsr: &mut fpsr,
    };
    assert!(exec_any(&mut r, insn, 0, false).is_ok(), "{insn:#010x}");
    (regs, fpsr)
}

/// FCVTZS Hd, Hn, #fbits writes a 16-bit element (the Arm ARM's datasize = esize), so the
/// rest of the register is zero; qemu 7.2 writes a sign-extended 32-bit value instead.
#[test]
fn fp16_scalar_fixed_point_result_is_16_bits() {
    // fcvtzs h0, h1, #1 on -3.5: -7 as a 16-bit integer.
    let (v, fpsr) = exec1(0x5f1f_fc20, &[(1, 0xc300)], 0);
    assert_eq!((v[0], fpsr), (0xfff9, 0));
    // fcvtzu h0, h1, #1 on -3.5: saturates to 0 with Invalid Operation.
    let (v, fpsr) = exec1(0x7f1f_fc20, &[(1, 0xc300)], 0);
    assert_eq!((v[0], fpsr), (0, 1));
}

/// FEAT_FP16 vector forms on known values: FADD .8h lane by lane, FMAXNMV .8h, FMOV .4h
/// immediate, FMLA by element (index 7), FRECPE and FABD with FZ16.
#[test]
fn fp16_vector_known_values() {
    let ones = 0x3c00_3c00_3c00_3c00_3c00_3c00_3c00_3c00u128;
    // fadd v0.8h, v1.8h, v2.8h: 1 + lane value; lane 7: 65504 + 1 rounds back to 65504.
    let b = 0x7bff_4600_4500_4400_4200_4000_3c00_0000u128;
    let (v, fpsr) = exec1(0x4e42_1420, &[(1, ones), (2, b)], 0);
    assert_eq!(
        v[0], 0x7bff_4700_4600_4500_4400_4200_4000_3c00,
        "{:#x}",
        v[0]
    );
    assert_eq!(fpsr, 0x10, "inexact");
    // fadd v0.4h with 65504 + 65504 in lane 0: +inf, overflow and inexact.
    let (v, fpsr) = exec1(0x0e42_1420, &[(1, 0x7bff), (2, 0x7bff)], 0);
    assert_eq!((v[0], fpsr), (0x7c00, 0x14));
    // fmaxnmv h0, v1.8h: NaN lanes are ignored by the NM form.
    let x = 0x7e00_3c00_c000_4800_7e00_0001_bc00_4400u128;
    let (v, fpsr) = exec1(0x6e30_c820 & !(1 << 29), &[(1, x)], 0);
    assert_eq!((v[0], fpsr), (0x4800, 0));
    // fmov v0.4h, #-1.5: replicated in the low 64 bits.
    let (v, _) = exec1(0x0f07_ff00, &[(0, u128::MAX)], 0);
    assert_eq!(v[0], 0xbe00_be00_be00_be00);
    // fmla v0.8h, v1.8h, v2.h[7]: 1 * 2 + 1 = 3 in each lane.
    let (v, _) = exec1(
        0x4f32_1820,
        &[(0, ones), (1, ones), (2, 0x4000u128 << 112)],
        0,
    );
    assert_eq!(v[0], 0x4200_4200_4200_4200_4200_4200_4200_4200);
    // fabd h0, h1, h2 with FZ16: |2^-14 - 1.5 * 2^-14| = 2^-15 is flushed to +0 (UFC).
    let (v, fpsr) = exec1(0x7ec2_1420, &[(1, 0x0400), (2, 0x0600)], 1 << 19);
    assert_eq!((v[0], fpsr), (0, 0x8));
    let (v, fpsr) = exec1(0x7ec2_1420, &[(1, 0x0400), (2, 0x0600)], 0);
    assert_eq!((v[0], fpsr), (0x0200, 0));
}
