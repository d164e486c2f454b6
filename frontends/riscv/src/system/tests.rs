//! System-mode tests: small M/S/U programs (assembled at test time with
//! `riscv64-linux-gnu-as`) run through [`RiscvSystemGuest`] and
//! [`RiscvSystemCpu::handle_exit`] on four tiers: block by block on the interpreter and the
//! JIT over flat guest memory, and on the backend's system engine (softmmu, interpreter and
//! JIT) over a fake physical memory; plus the address translator on its own.

use super::*;
use crate::privileged::csr::{envcfg, irq, satp, status};
use heron_backend::GuestMemory;
use heron_backend::engine::{Engine, EngineConfig, Tier as EngineTier};
use heron_backend::interp::{InterpBlock, InterpRegs};
use heron_backend::jit::{Jit, JitConfig};
use heron_backend::mem::{PERM_R, PERM_W, PERM_X};
use heron_backend::softmmu::{BusFault, CodePages, SoftmmuConfig};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicUsize;

const CODE: u64 = 0x10000;
const DATA: u64 = 0x40000;
const DATA_LEN: u64 = 0x2000;

const M: Priv = Priv::Machine;
const S: Priv = Priv::Supervisor;
const U: Priv = Priv::User;

/// Assemble `src` (no compressed instructions) linked at `base`.
pub(crate) fn assemble_at(src: &str, base: u64) -> Option<Vec<u8>> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "heron-rvsys-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (s, o, elf, bin) = (
        dir.join("t.s"),
        dir.join("t.o"),
        dir.join("t.elf"),
        dir.join("t.bin"),
    );
    std::fs::write(
        &s,
        format!(".text\n.option norvc\n.globl _start\n_start:\n{src}\n"),
    )
    .expect("source");
    let out = match Command::new("riscv64-linux-gnu-as")
        .args([
            "-march=rv64gc_zicsr_zifencei_zicbom_zicboz_zicbop",
            "-mno-relax",
            "-o",
        ])
        .arg(&o)
        .arg(&s)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("NOTICE: riscv64-linux-gnu-as not installed; skipping an assembled test");
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
        Err(e) => panic!("running riscv64-linux-gnu-as: {e}"),
    };
    assert!(
        out.status.success(),
        "assembler failed:\n{}\n{src}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = Command::new("riscv64-linux-gnu-ld")
        .arg(format!("-Ttext={base:#x}"))
        .arg("-o")
        .arg(&elf)
        .arg(&o)
        .status()
        .expect("riscv64-linux-gnu-ld");
    assert!(st.success());
    let st = Command::new("riscv64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&elf)
        .arg(&bin)
        .status()
        .expect("objcopy");
    assert!(st.success());
    let bytes = std::fs::read(&bin).expect("binary");
    let _ = std::fs::remove_dir_all(&dir);
    Some(bytes)
}

/// Where a program runs: translated blocks run one by one on the interpreter or the JIT
/// over flat user-style memory (code at CODE, data at DATA), or the backend's system
/// engine (softmmu) on the interpreter or the JIT over [`FakePhys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    Interp,
    Jit,
    SysInterp,
    SysJit,
}

const TIERS: [Tier; 4] = [Tier::Interp, Tier::Jit, Tier::SysInterp, Tier::SysJit];

impl Tier {
    fn system(self) -> bool {
        matches!(self, Tier::SysInterp | Tier::SysJit)
    }
    fn code_base(self) -> u64 {
        if self.system() { FakePhys::BASE } else { CODE }
    }
    /// The data area (the symbol DATA of the programs).
    fn data_base(self) -> u64 {
        if self.system() {
            FakePhys::BASE + 0x3_0000
        } else {
            DATA
        }
    }
}

/// Assembles `src` for `tier` (code and DATA where that tier has them).
fn program(src: &str, tier: Tier) -> Option<Vec<u8>> {
    let src = format!(".equ DATA, {:#x}\n{src}", tier.data_base());
    assemble_at(&src, tier.code_base())
}

enum Memory {
    Flat(GuestMemory),
    Sys(Arc<FakePhys>, Box<Engine>),
}

/// A hart running a program on one [`Tier`].
struct Flat {
    tier: Tier,
    mem: Memory,
    cpu: Box<RiscvSystemCpu>,
    /// Exits that were not Next.
    exits: Vec<ExitStatus>,
    /// Blocks run (flat tiers).
    blocks: usize,
}

impl Flat {
    fn new(code: &[u8], tier: Tier) -> Flat {
        let mut cpu = RiscvSystemCpu::new(0);
        cpu.cpu.hdr.pc = tier.code_base();
        let mem = if tier.system() {
            // PMP entry 0 open for S and U, as firmware sets it (the flat tiers have no
            // physical checks at all).
            cpu.privs
                .csr_write(csr::PMPADDR0, u64::MAX, M)
                .expect("pmpaddr0");
            cpu.privs.csr_write(csr::PMPCFG0, 0x1f, M).expect("pmpcfg0");
            let phys = Arc::new(FakePhys::new());
            for (i, chunk) in code.chunks(8).enumerate() {
                let mut w = [0u8; 8];
                w[..chunk.len()].copy_from_slice(chunk);
                phys.write(FakePhys::BASE + 8 * i as u64, u64::from_le_bytes(w));
            }
            let sys = SoftmmuConfig {
                translator: Arc::new(RiscvMmu::new(phys.clone())),
                phys: phys.clone(),
                code_pages: CodePages::new(FakePhys::BASE, FakePhys::PAGES * 4096),
                tlb_offset: TLB_OFFSET,
            };
            let cfg = EngineConfig {
                tier: if tier == Tier::SysJit {
                    EngineTier::Jit
                } else {
                    EngineTier::Interp
                },
                ..EngineConfig::default()
            };
            let engine = Engine::new_system(Arc::new(RiscvSystemGuest), sys, cfg).expect("engine");
            Memory::Sys(phys, Box::new(engine))
        } else {
            let mem = GuestMemory::reserve(1 << 24).expect("reserve");
            let len = (code.len() as u64).div_ceil(4096) * 4096;
            mem.map_anon(CODE, len, PERM_R | PERM_X).expect("code");
            mem.write_bytes_force(CODE, code).expect("write code");
            mem.map_anon(DATA, DATA_LEN, PERM_R | PERM_W).expect("data");
            Memory::Flat(mem)
        };
        Flat {
            tier,
            mem,
            cpu,
            exits: Vec::new(),
            blocks: 0,
        }
    }

    fn data_u64(&self, off: u64) -> u64 {
        match &self.mem {
            Memory::Flat(mem) => {
                let mut b = [0u8; 8];
                mem.read_bytes(DATA + off, &mut b).expect("data");
                u64::from_le_bytes(b)
            }
            Memory::Sys(phys, _) => phys.read(self.tier.data_base() + off),
        }
    }

    /// Runs until the hart executes `wfi` (returns true) or `max` blocks (flat tiers) or
    /// exits (system engine) happened.
    fn run(&mut self, max: usize) -> bool {
        let tier = self.tier;
        let trace = std::env::var_os("HERON_RVSYS_TRACE").is_some();
        let mut jit = (tier == Tier::Jit).then(|| {
            let Memory::Flat(mem) = &self.mem else {
                unreachable!("flat tier")
            };
            Jit::new(JitConfig {
                code_size: 4 << 20,
                guest_base: mem.base(),
                guest_limit: mem.limit(),
                opt_speed: false,
                verify: true,
            })
            .expect("jit")
        });
        let mut regs = InterpRegs::default();
        for _ in 0..max {
            let env = self.cpu.env();
            let pc = self.cpu.cpu.hdr.pc;
            let status = match &mut self.mem {
                // SAFETY: env is our live CPU, used by this thread only.
                Memory::Sys(_, engine) => unsafe { engine.run(env) },
                Memory::Flat(mem) => {
                    self.blocks += 1;
                    let flags = RiscvSystemGuest.tb_flags(env);
                    let mut b = Builder::new(pc);
                    match RiscvSystemGuest.translate(pc, flags, &*mem, &mut b) {
                        Ok(()) => {
                            let block = b.finish();
                            heron_backend::verify::verify(&block).expect("valid IR");
                            match &mut jit {
                                Some(jit) => {
                                    let cb = jit.compile(&block).expect("compile");
                                    // SAFETY: env is our live CPU, the block was compiled
                                    // by this Jit over `mem`; the flat programs never
                                    // fault on memory.
                                    unsafe { jit.enter(env, cb.entry) }
                                }
                                None => {
                                    let ib = InterpBlock::new(&block);
                                    // SAFETY: env is our live CPU; helpers take only env.
                                    unsafe { ib.run(env, mem, &mut regs) }
                                }
                            }
                        }
                        Err(TranslateError::FetchFault(a)) => {
                            self.cpu.cpu.hdr.fault_addr = a;
                            self.cpu.cpu.hdr.fault_kind = FaultKind::Exec as u32;
                            ExitStatus::Fault
                        }
                    }
                }
            };
            if status == ExitStatus::Next {
                continue;
            }
            self.exits.push(status);
            if trace {
                eprintln!(
                    "{tier:?} exit {status:?} at {pc:#x}->{:#x} cause {} priv {:?} fault {:#x}",
                    self.cpu.cpu.hdr.pc,
                    self.cpu.cpu.exc_cause,
                    self.cpu.privs.priv_level,
                    self.cpu.cpu.hdr.fault_addr
                );
            }
            if self.cpu.handle_exit(status) == HartEvent::Wfi {
                if let Memory::Sys(_, engine) = &self.mem {
                    let compiled = engine.stats().blocks_compiled;
                    assert_eq!(compiled > 0, tier == Tier::SysJit, "{tier:?}: compiled");
                }
                return true;
            }
        }
        false
    }
}

/// Runs `src` on every tier; `check` inspects each end state.
fn on_tiers(src: &str, setup: impl Fn(&mut Flat), check: impl Fn(&Flat, Tier)) {
    for tier in TIERS {
        let Some(code) = program(src, tier) else {
            return;
        };
        let mut f = Flat::new(&code, tier);
        setup(&mut f);
        assert!(f.run(1000), "{tier:?}: program did not reach wfi");
        check(&f, tier);
    }
}

/// An M-mode trap handler that logs (mcause, mtval, mepc) at s0 (advancing it), ends at
/// `wfi` on an ecall from S or U, and otherwise resumes after the trapping instruction.
const M_HANDLER: &str = "
mtrap:
    csrr t0, mcause
    csrr t1, mtval
    csrr t2, mepc
    sd t0, 0(s0)
    sd t1, 8(s0)
    sd t2, 16(s0)
    addi s0, s0, 24
    li t3, 8
    beq t0, t3, mdone
    li t3, 9
    beq t0, t3, mdone
    addi t2, t2, 4
    csrw mepc, t2
    mret
mdone:
    wfi
";

/// Common start: s0 = DATA log, mtvec = mtrap.
const PROLOGUE: &str = "
    li s0, DATA
    la t0, mtrap
    csrw mtvec, t0
";

fn log(f: &Flat, i: u64) -> (u64, u64, u64) {
    (
        f.data_u64(24 * i),
        f.data_u64(24 * i + 8),
        f.data_u64(24 * i + 16),
    )
}

#[test]
fn m_mode_csrs_and_s_mode_access_rules() {
    // In M: write/read mscratch, mhartid, misa; then mret to S, where M-level CSRs, a
    // write to a read-only CSR and satp under TVM are illegal, and sstatus works.
    let src = format!(
        "{PROLOGUE}
    li t0, 0x1234
    csrw mscratch, t0
    csrr a0, mscratch
    csrr a1, mhartid
    csrr a2, misa
    li t0, 1 << 20          # TVM
    csrs mstatus, t0
    li t0, 1 << 11          # MPP = S
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    csrr a3, sstatus        # fine
    csrr a4, mstatus        # illegal
    csrw cycle, x0          # illegal: read-only
    csrw satp, x0           # illegal: TVM
    csrr a5, stvec          # fine
    sfence.vma              # illegal: TVM
    ecall
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, tier| {
            let c = &f.cpu.cpu;
            assert_eq!(c.x[10], 0x1234, "{tier:?}");
            assert_eq!(c.x[11], 0);
            assert_eq!(c.x[12], privileged::MISA_RV64GCBSU);
            assert_eq!(c.x[13] & status::SPP, 0);
            // Three illegal instructions with their encodings as tval, then ecall from S.
            let (c0, t0, _) = log(f, 0);
            assert_eq!((c0, t0), (cause::ILLEGAL_INSN, 0x3000_2773)); // csrr a4, mstatus
            let (c1, t1, _) = log(f, 1);
            assert_eq!((c1, t1), (cause::ILLEGAL_INSN, 0xc000_1073)); // csrw cycle, x0
            let (c2, t2, _) = log(f, 2);
            assert_eq!((c2, t2), (cause::ILLEGAL_INSN, 0x1800_1073)); // csrw satp, x0
            let (c3, t3, _) = log(f, 3);
            assert_eq!((c3, t3), (cause::ILLEGAL_INSN, 0x1200_0073)); // sfence.vma
            let (c4, _, _) = log(f, 4);
            assert_eq!(c4, cause::ECALL_S);
            assert_eq!(f.cpu.privs.priv_level, M);
            assert_eq!(
                (f.cpu.privs.mstatus() & status::MPP) >> status::MPP_SHIFT,
                1
            );
        },
    );
}

#[test]
fn delegation_to_s_and_u_mode_rules() {
    // medeleg: illegal instruction and ecall-from-U go to S. U code: csrr sstatus
    // (illegal -> S handler), ecall (-> S handler, which then ecalls to M).
    let src = format!(
        "{PROLOGUE}
    li t0, (1 << 2) | (1 << 8)
    csrw medeleg, t0
    la t0, strap
    csrw stvec, t0
    li t0, 1 << 11          # MPP = S
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    li s1, DATA + 0x800     # S log
    la t0, umode
    csrw sepc, t0
    li t0, 1 << 8           # SPP = U
    csrc sstatus, t0
    sret
umode:
    csrr a0, sstatus        # illegal from U: to S
    csrr a1, time           # illegal: no time source
    ecall                   # ecall from U: to S
strap:
    csrr t0, scause
    csrr t1, stval
    csrr t2, sepc
    sd t0, 0(s1)
    sd t1, 8(s1)
    sd t2, 16(s1)
    addi s1, s1, 24
    li t3, 8
    beq t0, t3, sdone
    addi t2, t2, 4
    csrw sepc, t2
    sret
sdone:
    csrr a2, sstatus
    ecall                   # to M (ecall from S is not delegated)
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, tier| {
            let slog = |i: u64| (f.data_u64(0x800 + 24 * i), f.data_u64(0x800 + 24 * i + 8));
            assert_eq!(slog(0), (cause::ILLEGAL_INSN, 0x1000_2573), "{tier:?}");
            assert_eq!(slog(1), (cause::ILLEGAL_INSN, 0xc010_25f3));
            assert_eq!(slog(2).0, cause::ECALL_U);
            // In the S handler after the U ecall: SPP = U, SPIE = old SIE (0).
            assert_eq!(f.cpu.cpu.x[12] & status::SPP, 0);
            assert_eq!(log(f, 0).0, cause::ECALL_S);
            assert_eq!(f.cpu.privs.mcause, cause::ECALL_S);
            assert_eq!(f.cpu.privs.scause, cause::ECALL_U);
        },
    );
}

#[test]
fn xret_and_wfi_rules() {
    // In S: mret is illegal; wfi with TW = 1 is illegal; sret with TSR = 1 is illegal;
    // in U: sret and wfi are illegal. Finally wfi in S with TW = 0 halts the hart.
    let src = format!(
        "{PROLOGUE}
    li t0, (1 << 21) | (1 << 22) | (1 << 11)   # TW, TSR, MPP = S
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    mret                    # illegal in S
    wfi                     # illegal: TW
    sret                    # illegal: TSR
    ecall
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, tier| {
            assert_eq!(
                log(f, 0),
                (cause::ILLEGAL_INSN, 0x3020_0073, log(f, 0).2),
                "{tier:?}"
            );
            assert_eq!(log(f, 1).0, cause::ILLEGAL_INSN);
            assert_eq!(log(f, 1).1, 0x1050_0073);
            assert_eq!(log(f, 2).1, 0x1020_0073);
            assert_eq!(log(f, 3).0, cause::ECALL_S);
            assert_eq!(log(f, 1).2, log(f, 0).2 + 4);
        },
    );
    // wfi in S (TW = 0) ends with Halt, pc at the next instruction, privilege unchanged.
    let src = format!(
        "{PROLOGUE}
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    wfi
after:
    ecall
{M_HANDLER}"
    );
    for tier in TIERS {
        let Some(code) = program(&src, tier) else {
            return;
        };
        let mut f = Flat::new(&code, tier);
        assert!(f.run(100));
        assert_eq!(f.exits.last(), Some(&ExitStatus::Halt), "{tier:?}");
        assert_eq!(f.cpu.privs.priv_level, S);
        let wfi_pc = f.cpu.cpu.hdr.pc - 4;
        assert_eq!(f.cpu.privs.mepc(), wfi_pc, "mepc was the wfi");
        assert!(!f.cpu.interrupt_pending());
        // Resumes at the next instruction: the ecall ends in M-mode wfi.
        assert!(f.run(100));
        assert_eq!(log(&f, 0).0, cause::ECALL_S);
        assert_eq!(log(&f, 0).2, wfi_pc + 4);
        // U-mode: wfi and sret are illegal.
    }
    let src = format!(
        "{PROLOGUE}
    la t0, umode
    csrw mepc, t0
    mret                    # MPP = U after reset
umode:
    wfi
    sret
    ecall
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, _| {
            assert_eq!(log(f, 0).1, 0x1050_0073);
            assert_eq!(log(f, 1).1, 0x1020_0073);
            assert_eq!(log(f, 2).0, cause::ECALL_U);
        },
    );
}

#[test]
fn mret_sret_state_transitions() {
    // M -> S via mret with MPIE = 1: MIE := 1, MPIE := 1, MPP := U. S -> U via sret with
    // SPIE = 1: SIE := 1, SPIE := 1, SPP := U. ecall from U to M records MPP = U.
    let src = format!(
        "{PROLOGUE}
    li t0, (1 << 7) | (1 << 11)      # MPIE, MPP = S
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    csrr a0, sstatus
    li t0, 1 << 5                    # SPIE
    csrs sstatus, t0
    la t0, umode
    csrw sepc, t0
    sret
umode:
    ecall
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, _| {
            let ms = f.cpu.privs.mstatus();
            // At the ecall trap: MPP = U (0), MPIE = MIE at the time (1, set by mret).
            assert_eq!(ms & status::MPP, 0);
            assert_ne!(ms & status::MPIE, 0);
            assert_eq!(ms & status::MIE, 0);
            // sret set SIE from SPIE.
            assert_ne!(ms & status::SIE, 0);
            assert_ne!(ms & status::SPIE, 0);
            assert_eq!(log(f, 0).0, cause::ECALL_U);
        },
    );
}

#[test]
fn fp_off_is_illegal_and_fp_writes_mark_dirty() {
    let src = format!(
        "{PROLOGUE}
    fadd.d f1, f2, f3        # illegal: FS = Off after reset
    csrr a0, fflags          # illegal too
    li t0, 1 << 13           # FS = Initial
    csrs mstatus, t0
    csrr a1, mstatus
    fsd f1, 0(s0)            # a store leaves FS alone (Initial)
    csrr a2, mstatus
    fmv.d.x f1, t0           # writes an f register: Dirty
    csrr a3, mstatus
    li t0, 3 << 13
    csrc mstatus, t0
    li t0, 2 << 13           # FS = Clean
    csrs mstatus, t0
    csrwi fflags, 1          # fcsr write: Dirty
    csrr a4, mstatus
    csrr a5, fflags
    wfi
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |f| f.cpu.privs.priv_level = M,
        |f, tier| {
            assert_eq!(log(f, 0).1, 0x0231_70d3, "{tier:?}"); // fadd.d f1,f2,f3
            assert_eq!(log(f, 1).0, cause::ILLEGAL_INSN);
            assert_eq!(log(f, 1).1, 0x0010_2573); // csrr a0, fflags
            let fs = |v: u64| (v & status::FS) >> status::FS_SHIFT;
            let c = &f.cpu.cpu;
            assert_eq!(fs(c.x[11]), 1);
            assert_eq!(fs(c.x[12]), 1);
            assert_eq!(fs(c.x[13]), 3);
            assert_ne!(c.x[13] & status::SD, 0);
            assert_eq!(fs(c.x[14]), 3);
            assert_eq!(c.x[15], 1);
            assert_eq!(f.cpu.privs.priv_level, M);
        },
    );
}

#[test]
fn counters_and_counteren() {
    // minstret counts retired instructions (per block); cycle from U needs mcounteren
    // and scounteren.
    let src = format!(
        "{PROLOGUE}
    csrr a0, minstret
    nop
    nop
    nop
    j 1f
1:  csrr a1, minstret
    li t0, 1
    csrw mcounteren, t0      # CY for S
    la t0, umode
    csrw mepc, t0
    mret                     # to U
umode:
    rdcycle a2               # illegal: scounteren.CY = 0
    rdinstret a3             # illegal: IR not enabled
    ecall
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, _| {
            let c = &f.cpu.cpu;
            // From the first csrr to the second: csrr, 3 nops, j (5 instructions).
            assert_eq!(c.x[11] - c.x[10], 5);
            assert_eq!(log(f, 0).0, cause::ILLEGAL_INSN);
            assert_eq!(log(f, 1).0, cause::ILLEGAL_INSN);
            assert_eq!(log(f, 2).0, cause::ECALL_U);
        },
    );
}

#[test]
fn minstret_is_exact_across_loops_and_chained_blocks() {
    // A self-looping block, a loop over two blocks and a CSR read in between: the count
    // JIT code carries in a register while blocks chain must reach memory exactly.
    let src = format!(
        "{PROLOGUE}
    csrr a0, minstret
    li t1, 200
1:  addi t1, t1, -1
    bnez t1, 1b
    csrr a1, minstret
    li t1, 100
2:  addi t1, t1, -1
    j 3f
3:  bnez t1, 2b
    csrr a2, minstret
    wfi
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, tier| {
            let c = &f.cpu.cpu;
            // csrr, li, 200 x (addi, bnez).
            assert_eq!(c.x[11] - c.x[10], 2 + 2 * 200, "{tier:?}");
            // csrr, li, 100 x (addi, j, bnez).
            assert_eq!(c.x[12] - c.x[11], 2 + 3 * 100, "{tier:?}");
        },
    );
}

#[test]
fn interrupt_enabled_by_csr_write_is_taken_at_next_block() {
    // MSIP is raised by a "device" before the program runs; setting mie.MSIE and
    // mstatus.MIE makes it taken right after the csrs that enables it.
    let src = "
    la t0, mtrap
    csrw mtvec, t0
    li t0, 1 << 3
    csrw mie, t0             # MSIE
    csrsi mstatus, 8         # MIE: interrupt taken after this instruction
enabled:
    nop
    wfi
mtrap:
    csrr a0, mcause
    csrr a1, mepc
    la a2, enabled
    csrr a3, mstatus
    wfi
";
    on_tiers(
        src,
        |f| f.cpu.privs.set_irq_line(irq::MSIP, true),
        |f, tier| {
            let c = &f.cpu.cpu;
            assert_eq!(c.x[10], (1 << 63) | 3, "{tier:?}");
            assert_eq!(c.x[11], c.x[12]);
            assert_eq!(c.x[13] & status::MIE, 0);
            assert_ne!(c.x[13] & status::MPIE, 0);
            assert!(f.exits.contains(&ExitStatus::Interrupted));
            assert_eq!(c.hdr.exit_request.load(Ordering::SeqCst), 0);
        },
    );
}

#[test]
fn delegated_software_interrupt_and_exit_request_at_block_entry() {
    // S-mode with SIE: setting sip.SSIP (delegated) traps to stvec with scause SSI.
    let src = format!(
        "{PROLOGUE}
    li t0, 2
    csrw mideleg, t0
    csrw mie, t0             # SSIE
    la t0, strap
    csrw stvec, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    csrsi sstatus, 2         # SIE
    csrsi sip, 2             # SSIP: taken next
ssi_taken:
    ecall
strap:
    csrr a0, scause
    csrr a1, sepc
    la a2, ssi_taken
    csrci sip, 2
    ecall
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, _| {
            let c = &f.cpu.cpu;
            assert_eq!(c.x[10], (1 << 63) | 1);
            assert_eq!(c.x[11], c.x[12]);
            assert_eq!(log(f, 0).0, cause::ECALL_S);
        },
    );
    // An exit request from another thread is honoured at the next block entry: a pending
    // MEIP with MIE set interrupts a loop.
    let src = "
    la t0, mtrap
    csrw mtvec, t0
    li t0, 1 << 11
    csrw mie, t0             # MEIE
    csrsi mstatus, 8
loop:
    addi a0, a0, 1
    j loop
mtrap:
    csrr a1, mcause
    wfi
";
    // Flat tiers only: here the test stops the loop between blocks (the system engine
    // version, with the request coming from another thread, is in engine_tests).
    for tier in [Tier::Interp, Tier::Jit] {
        let Some(code) = program(src, tier) else {
            return;
        };
        let mut f = Flat::new(&code, tier);
        assert!(!f.run(20), "loops");
        let spins = f.cpu.cpu.x[10];
        assert!(spins > 0);
        f.cpu.privs.set_irq_line(irq::MEIP, true);
        f.cpu.cpu.hdr.exit_request.store(1, Ordering::SeqCst);
        assert!(f.run(20));
        assert_eq!(f.cpu.cpu.x[11], (1 << 63) | 11, "{tier:?}");
        assert_eq!(f.cpu.cpu.x[10], spins, "no further loop iteration");
    }
}

#[test]
fn sstc_timer_and_deadline() {
    let time = Arc::new(AtomicU64::new(1000));
    let src = format!(
        "{PROLOGUE}
    li t0, 1 << 63
    csrs menvcfg, t0         # STCE
    li t0, 2
    csrs mcounteren, t0      # TM: S may use time/stimecmp
    li t0, 1 << 5
    csrw mideleg, t0         # STI to S
    csrw mie, t0             # STIE
    la t0, strap
    csrw stvec, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    csrr a0, time
    addi t0, a0, 500
    csrw stimecmp, t0        # deadline time + 500
    csrsi sstatus, 2         # SIE
    wfi                      # the test advances time, then resumes here
    nop
strap:
    csrr a1, scause
    li t0, -1
    csrw stimecmp, t0        # clears STIP
    csrr a2, sip
    ecall
{M_HANDLER}"
    );
    for tier in TIERS {
        let Some(code) = program(&src, tier) else {
            return;
        };
        time.store(1000, Ordering::SeqCst);
        let mut f = Flat::new(&code, tier);
        let t = Arc::clone(&time);
        f.cpu
            .privs
            .set_time_source(Box::new(move || t.load(Ordering::SeqCst)));
        assert!(f.run(100));
        assert_eq!(f.cpu.cpu.x[10], 1000, "{tier:?}");
        assert_eq!(f.cpu.timer_deadline(), Some(1500));
        assert_eq!(f.cpu.deadline_cell().load(Ordering::SeqCst), 1500);
        assert!(!f.cpu.interrupt_pending());
        time.store(1500, Ordering::SeqCst);
        assert_eq!(f.cpu.timer_deadline(), None, "reached");
        assert!(f.cpu.interrupt_pending());
        assert!(f.cpu.take_pending_interrupt());
        assert!(f.run(100));
        let c = &f.cpu.cpu;
        assert_eq!(c.x[11], (1 << 63) | 5);
        assert_eq!(c.x[12] & irq::STIP, 0);
        assert_eq!(log(&f, 0).0, cause::ECALL_S);
        assert_eq!(f.cpu.timer_deadline(), None);
    }
}

#[test]
fn ecall_and_ebreak_causes() {
    let src = format!(
        "{PROLOGUE}
    ebreak
    ecall
    wfi
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, tier| {
            assert_eq!(log(f, 0).0, cause::BREAKPOINT, "{tier:?}");
            assert_eq!(log(f, 0).1, log(f, 0).2, "tval = pc of ebreak");
            assert_eq!(log(f, 1).0, cause::ECALL_M);
            assert_eq!(log(f, 1).2, log(f, 0).2 + 4);
        },
    );
}

// ---------------------------------------------------------------------------------------
// The address translator over a fake physical memory
// ---------------------------------------------------------------------------------------

/// RAM at 0x8000_0000 (64 pages); everything else is a bus error.
pub(crate) struct FakePhys {
    base: u64,
    ram: Box<[u64]>,
}

// SAFETY: tests use FakePhys from one thread at a time; pointers into it are only used by
// the hart the test runs.
unsafe impl Sync for FakePhys {}
unsafe impl Send for FakePhys {}

impl FakePhys {
    pub(crate) const BASE: u64 = 0x8000_0000;
    pub(crate) const PAGES: u64 = 64;
    pub(crate) fn new() -> FakePhys {
        FakePhys {
            base: Self::BASE,
            ram: vec![0u64; (Self::PAGES * 512) as usize].into_boxed_slice(),
        }
    }
    pub(crate) fn write(&self, paddr: u64, v: u64) {
        let i = ((paddr - self.base) / 8) as usize;
        let p = self.ram.as_ptr() as *mut u64;
        // SAFETY: index checked by the slice bound below; tests are single-threaded here.
        assert!(i < self.ram.len());
        unsafe { p.add(i).write(v) };
    }
    pub(crate) fn read(&self, paddr: u64) -> u64 {
        self.ram[((paddr - self.base) / 8) as usize]
    }
}

impl PhysMemory for FakePhys {
    fn ram_page(&self, paddr: u64) -> Option<*mut u8> {
        let off = paddr.checked_sub(self.base)?;
        if off >= Self::PAGES * 4096 {
            return None;
        }
        // SAFETY: inside the RAM allocation.
        Some(unsafe { (self.ram.as_ptr() as *mut u8).add((off & !0xfff) as usize) })
    }
    fn io_read(&self, paddr: u64, _size: u8) -> Result<u64, BusFault> {
        Err(BusFault { paddr })
    }
    fn io_write(&self, paddr: u64, _size: u8, _v: u64) -> Result<(), BusFault> {
        Err(BusFault { paddr })
    }
}

const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_U: u64 = 16;
const PTE_A: u64 = 64;
const PTE_D: u64 = 128;

/// Physical address of the Sv39 root table of [`sv39_tables`] (the level-1 and level-0
/// tables follow it); below it lies room for code.
pub(crate) const ROOT: u64 = FakePhys::BASE + 0x2_0000;
/// Physical address of the level-0 PTE of page 0 of [`sv39_tables`].
pub(crate) const LEAF0: u64 = ROOT + 0x2000;

/// Sv39 tables at [`ROOT`]: maps 0x4000_0000 + 0x1000*i to 0x8001_0000 + 0x1000*i with
/// the given leaf flags; returns the satp value.
pub(crate) fn sv39_tables(phys: &FakePhys, leaves: &[u64]) -> u64 {
    let ptr = |pa: u64| (pa >> 12) << 10 | PTE_V;
    phys.write(ROOT + 8, ptr(ROOT + 0x1000)); // VPN2 = 1 (0x4000_0000)
    phys.write(ROOT + 0x1000, ptr(LEAF0 & !0xfff)); // VPN1 = 0
    for (i, &fl) in leaves.iter().enumerate() {
        let pa = FakePhys::BASE + 0x1_0000 + 0x1000 * i as u64;
        phys.write(LEAF0 + 8 * i as u64, (pa >> 12) << 10 | fl);
    }
    satp::MODE_SV39 << 60 | (ROOT >> 12)
}

#[test]
fn mmu_translates_sv39_with_ad_updates_and_records_faults() {
    let phys = Arc::new(FakePhys::new());
    let mmu = RiscvMmu::new(phys.clone());
    let satp_v = sv39_tables(
        &phys,
        &[
            PTE_V | PTE_R | PTE_W,         // 0: RW, A/D clear
            PTE_V | PTE_R | PTE_U | PTE_A, // 1: user read-only
            PTE_V | PTE_X | PTE_A,         // 2: execute-only
            0,                             // 3: invalid
        ],
    );
    let mut cpu = RiscvSystemCpu::new(0);
    cpu.privs.csr_write(csr::SATP, satp_v, M).expect("satp");
    // PMP entry 0: all memory, RWX (with PMP entries implemented and none matching, S and
    // U have no access at all).
    cpu.privs
        .csr_write(csr::PMPADDR0, u64::MAX >> 10, M)
        .unwrap();
    cpu.privs.csr_write(csr::PMPCFG0, 0x1f, M).unwrap();
    let env = cpu.env();
    let page = |i: u64| 0x4000_0000 + 0x1000 * i;
    // Read of page 0 from S: sets A only; no write permission until D is set.
    let m = mmu
        .translate(env, page(0) + 8, Access::Read, mmu_idx::S)
        .unwrap();
    assert_eq!(m.paddr, FakePhys::BASE + 0x1_0000);
    assert!(m.read && !m.write && !m.exec);
    assert_eq!(phys.read(LEAF0) & (PTE_A | PTE_D), PTE_A);
    let m = mmu
        .translate(env, page(0), Access::Write, mmu_idx::S)
        .unwrap();
    assert!(m.read && m.write);
    assert_eq!(phys.read(LEAF0) & (PTE_A | PTE_D), PTE_A | PTE_D);
    // User page from S: only with SUM; from U: readable, not writable.
    assert_eq!(
        mmu.translate(env, page(1), Access::Read, mmu_idx::S),
        Err(FaultKind::Read)
    );
    // SAFETY: reading back our own CPU state.
    let c = unsafe { &*(env as *const RiscvSystemCpu) };
    assert_eq!(
        (c.mmu_fault_cause, c.mmu_fault_addr),
        (cause::LOAD_PAGE_FAULT, page(1))
    );
    assert!(
        mmu.translate(env, page(1), Access::Read, mmu_idx::S_SUM)
            .is_ok()
    );
    assert!(
        mmu.translate(env, page(1), Access::Read, mmu_idx::U)
            .is_ok()
    );
    assert_eq!(
        mmu.translate(env, page(1), Access::Write, mmu_idx::U),
        Err(FaultKind::Write)
    );
    // SAFETY: as above.
    let c = unsafe { &*(env as *const RiscvSystemCpu) };
    assert_eq!(c.mmu_fault_cause, cause::STORE_PAGE_FAULT);
    // Execute-only page: fetch yes, read only with MXR.
    assert!(
        mmu.translate(env, page(2), Access::Exec, mmu_idx::S)
            .is_ok()
    );
    assert_eq!(
        mmu.translate(env, page(2), Access::Read, mmu_idx::S),
        Err(FaultKind::Read)
    );
    assert!(
        mmu.translate(env, page(2), Access::Read, mmu_idx::S | mmu_idx::MXR)
            .is_ok()
    );
    // Invalid PTE: fetch page fault.
    assert_eq!(
        mmu.translate(env, page(3), Access::Exec, mmu_idx::S),
        Err(FaultKind::Exec)
    );
    // SAFETY: as above.
    let c = unsafe { &*(env as *const RiscvSystemCpu) };
    assert_eq!(c.mmu_fault_cause, cause::FETCH_PAGE_FAULT);
    // M-mode index: identity, everything allowed (no PMP entries set: M only).
    let m = mmu
        .translate(env, 0x1000_0000, Access::Write, mmu_idx::M)
        .unwrap();
    assert_eq!(m.paddr, 0x1000_0000);
    // pmpcfg0 entry 0: NAPOT all memory, R only: a store is an access fault.
    cpu.privs.csr_write(csr::PMPCFG0, 0x19, M).unwrap();
    let env = cpu.env();
    assert!(
        mmu.translate(env, page(0), Access::Read, mmu_idx::S)
            .is_ok()
    );
    assert_eq!(
        mmu.translate(env, page(0), Access::Write, mmu_idx::S),
        Err(FaultKind::Write)
    );
    // SAFETY: as above.
    let c = unsafe { &*(env as *const RiscvSystemCpu) };
    assert_eq!(c.mmu_fault_cause, cause::STORE_ACCESS);
    // A page table outside RAM is an access fault.
    cpu.privs
        .csr_write(csr::SATP, satp::MODE_SV39 << 60 | 0x1000, M)
        .unwrap();
    cpu.privs.csr_write(csr::PMPCFG0, 0x1f, M).unwrap();
    let env = cpu.env();
    assert_eq!(
        mmu.translate(env, page(0), Access::Read, mmu_idx::S),
        Err(FaultKind::Read)
    );
    assert_eq!(cpu.mmu_fault_cause, cause::LOAD_ACCESS);
}

#[test]
fn handle_exit_turns_faults_into_the_right_traps() {
    let mut cpu = RiscvSystemCpu::new(0);
    cpu.privs.csr_write(csr::MTVEC, 0x8000_0100, M).unwrap();
    cpu.privs.csr_write(csr::STVEC, 0x8000_0200, M).unwrap();
    // Delegate load page faults to S; run in S.
    cpu.privs
        .csr_write(csr::MEDELEG, 1 << cause::LOAD_PAGE_FAULT, M)
        .unwrap();
    cpu.privs.priv_level = S;
    let fault = |cpu: &mut RiscvSystemCpu, kind: FaultKind, addr: u64| {
        cpu.cpu.hdr.pc = 0x4000_0010;
        cpu.cpu.hdr.fault_addr = addr;
        cpu.cpu.hdr.fault_kind = kind as u32;
        cpu.handle_exit(ExitStatus::Fault)
    };
    // Recorded page fault, delegated: stvec, scause, stval.
    cpu.mmu_fault_cause = cause::LOAD_PAGE_FAULT;
    cpu.mmu_fault_addr = 0x5000_0ffe;
    assert_eq!(
        fault(&mut cpu, FaultKind::Read, 0x5000_0ffe),
        HartEvent::Continue
    );
    assert_eq!(cpu.cpu.hdr.pc, 0x8000_0200);
    assert_eq!((cpu.privs.scause, cpu.privs.stval), (13, 0x5000_0ffe));
    assert_eq!(cpu.privs.sepc(), 0x4000_0010);
    assert_eq!(cpu.mmu_fault_cause, u64::MAX, "consumed");
    // Store access fault (PMP), not delegated: to M.
    cpu.mmu_fault_cause = cause::STORE_ACCESS;
    cpu.mmu_fault_addr = 0x6000_0000;
    fault(&mut cpu, FaultKind::Write, 0x6000_0000);
    assert_eq!(cpu.cpu.hdr.pc, 0x8000_0100);
    assert_eq!((cpu.privs.mcause, cpu.privs.mtval), (7, 0x6000_0000));
    assert_eq!(cpu.privs.priv_level, M);
    // No recorded cause (e.g. a bus error): the page fault of the access kind.
    fault(&mut cpu, FaultKind::Exec, 0x7000_0000);
    assert_eq!((cpu.privs.mcause, cpu.privs.mtval), (12, 0x7000_0000));
    // Misaligned atomic: the cause the block recorded.
    cpu.misaligned_cause = cause::MISALIGNED_STORE;
    fault(&mut cpu, FaultKind::Misaligned, 0x7000_0003);
    assert_eq!((cpu.privs.mcause, cpu.privs.mtval), (6, 0x7000_0003));
    // Exceptions raised by generated code; wfi.
    cpu.cpu.exc_cause = cause::ILLEGAL_INSN;
    cpu.cpu.exc_tval = 0x1234;
    cpu.cpu.hdr.pc = 0x8000_0000;
    cpu.handle_exit(ExitStatus::Exception);
    assert_eq!((cpu.privs.mcause, cpu.privs.mtval), (2, 0x1234));
    assert_eq!(cpu.privs.mepc(), 0x8000_0000);
    assert_eq!(cpu.handle_exit(ExitStatus::Halt), HartEvent::Wfi);
    // Interrupted with nothing pending: clears the request, pc unchanged.
    cpu.cpu.hdr.exit_request.store(1, Ordering::SeqCst);
    let pc = cpu.cpu.hdr.pc;
    assert_eq!(
        cpu.handle_exit(ExitStatus::Interrupted),
        HartEvent::Continue
    );
    assert_eq!(cpu.cpu.hdr.pc, pc);
    assert_eq!(cpu.cpu.hdr.exit_request.load(Ordering::SeqCst), 0);
}

#[test]
fn tb_flags_track_privilege_mmu_index_and_fs() {
    let mut cpu = RiscvSystemCpu::new(0);
    let flags =
        |cpu: &mut RiscvSystemCpu| SysFlags::from_bits(RiscvSystemGuest.tb_flags(cpu.env()));
    assert_eq!(
        flags(&mut cpu),
        SysFlags {
            priv_bits: 3,
            data_idx: mmu_idx::M,
            fs: 0,
            cbo: SysFlags::CBO_ZERO | SysFlags::CBO_CLEAN_FLUSH | SysFlags::CBO_INVAL,
        }
    );
    // MPRV with MPP = S and SUM, MXR: data through S+SUM+MXR, fetch stays M.
    cpu.privs
        .csr_write(
            csr::MSTATUS,
            status::MPRV | 1 << status::MPP_SHIFT | status::SUM | status::MXR | 1 << 13,
            M,
        )
        .unwrap();
    let f = flags(&mut cpu);
    assert_eq!(f.data_idx, mmu_idx::S_SUM | mmu_idx::MXR);
    assert_eq!(f.fetch_idx(), mmu_idx::M);
    assert_eq!(f.fs, 1);
    assert_eq!(SysFlags::from_bits(f.to_bits()), f);
    cpu.privs.priv_level = U;
    let f = flags(&mut cpu);
    assert_eq!(
        (f.priv_bits, f.data_idx, f.fetch_idx()),
        (0, mmu_idx::U | mmu_idx::MXR, 0)
    );
    assert_eq!(RiscvSystemGuest::fetch_idx(f.to_bits()), mmu_idx::U);
    // CBO enables: U needs menvcfg and senvcfg, S menvcfg only; all survive the packing.
    assert_eq!(f.cbo, 0);
    cpu.privs
        .csr_write(csr::MENVCFG, envcfg::CBZE | envcfg::CBIE, M)
        .unwrap();
    assert_eq!(flags(&mut cpu).cbo, 0);
    cpu.privs
        .csr_write(csr::SENVCFG, envcfg::CBZE | envcfg::CBCFE, M)
        .unwrap();
    let f = flags(&mut cpu);
    assert_eq!(f.cbo, SysFlags::CBO_ZERO);
    assert_eq!(SysFlags::from_bits(f.to_bits()), f);
    cpu.privs.priv_level = S;
    let f = flags(&mut cpu);
    assert_eq!(f.cbo, SysFlags::CBO_ZERO | SysFlags::CBO_INVAL);
    assert_eq!(SysFlags::from_bits(f.to_bits()), f);
}

/// Cache-block operations by privilege: M zeros a block (unaligned rs1) and runs the
/// management ops as no-ops; then the same S/U code runs four times: S with menvcfg = 0
/// (all four illegal), S with menvcfg enabling all, U with senvcfg = 0 (illegal), U with
/// senvcfg enabling all. The blocks translated while disabled must not run once enabled
/// (translation flags), and each enabled `cbo.zero` clears its own block only.
#[test]
fn cbo_enables_by_privilege_and_envcfg() {
    let src = "
    li s0, DATA
    la t0, mtrap
    csrw mtvec, t0
    li t0, -1               # PMP open for S and U (the management ops check it)
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    addi t0, s0, 0x100      # DATA + 0x100..0x400: all ones
    li t1, -1
    li t2, 96
1:  sd t1, 0(t0)
    addi t0, t0, 8
    addi t2, t2, -1
    bnez t2, 1b
    addi a0, s0, 0x147
    cbo.zero (a0)           # M: always enabled
    cbo.clean (a0)
    cbo.flush (a0)
    cbo.inval (a0)
    li s2, 0                # round
mround:
    li t0, 4
    beq s2, t0, done
    li t1, 0                # menvcfg: 0 in round 0, then CBZE | CBCFE | CBIE = 01
    beqz s2, 2f
    li t1, 0xd0
2:  csrw menvcfg, t1
    li t1, 0                # senvcfg: CBZE | CBCFE | CBIE = 11 in round 3
    li t0, 3
    bne s2, t0, 3f
    li t1, 0xf0
3:  csrw senvcfg, t1
    li t0, 3 << 11          # MPP = S in rounds 0-1, U in 2-3
    csrc mstatus, t0
    li t0, 2
    bge s2, t0, 4f
    li t0, 1 << 11
    csrs mstatus, t0
4:  slli t0, s2, 6          # rs1 = the last byte of block DATA + 0x200 + 0x40 * round
    li a0, DATA + 0x23f
    add a0, a0, t0
    addi s2, s2, 1
    la t0, lower
    csrw mepc, t0
    mret
lower:
    cbo.zero (a0)
    cbo.clean (a0)
    cbo.flush (a0)
    cbo.inval (a0)
    ecall
mtrap:
    csrr t0, mcause
    csrr t1, mtval
    sd t0, 0(s0)
    sd t1, 8(s0)
    addi s0, s0, 16
    li t3, 8
    beq t0, t3, mround
    li t3, 9
    beq t0, t3, mround
    csrr t2, mepc
    addi t2, t2, 4
    csrw mepc, t2
    mret
done:
    wfi
";
    let illegal = [0x0045_200fu64, 0x0015_200f, 0x0025_200f, 0x0005_200f];
    let mut want = Vec::new();
    for w in illegal {
        want.push((cause::ILLEGAL_INSN, w));
    }
    want.push((cause::ECALL_S, 0));
    want.push((cause::ECALL_S, 0));
    for w in illegal {
        want.push((cause::ILLEGAL_INSN, w));
    }
    want.push((cause::ECALL_U, 0));
    want.push((cause::ECALL_U, 0));
    on_tiers(
        src,
        |_| {},
        |f, tier| {
            let got: Vec<(u64, u64)> = (0..want.len() as u64)
                .map(|i| (f.data_u64(16 * i), f.data_u64(16 * i + 8)))
                .collect();
            assert_eq!(got, want, "{tier:?}: trap log");
            // Blocks of 64 bytes from DATA + 0x100: ones except those zeroed by M (0x140)
            // and by the enabled rounds 1 (0x240) and 3 (0x2c0).
            for blk in 0..12u64 {
                let off = 0x100 + 64 * blk;
                let zeroed = matches!(off, 0x140 | 0x240 | 0x2c0);
                for q in 0..8 {
                    let v = f.data_u64(off + 8 * q);
                    let expect = if zeroed { 0 } else { u64::MAX };
                    assert_eq!(v, expect, "{tier:?}: DATA + {:#x}", off + 8 * q);
                }
            }
            assert_eq!(
                f.cpu.privs.menvcfg() & 0xf0,
                0xd0,
                "{tier:?}: menvcfg reads back"
            );
            assert_eq!(f.cpu.privs.senvcfg() & 0xf0, 0xf0, "{tier:?}: senvcfg");
        },
    );
}

#[test]
fn misaligned_atomics_raise_load_or_store_misaligned() {
    let src = format!(
        "{PROLOGUE}
    li a0, DATA + 0x1003
    lr.w a1, (a0)            # load address misaligned
    amoadd.w a2, a1, (a0)    # store/AMO address misaligned
    li a3, DATA + 0x1001
    ld a4, 0(a3)             # plain misaligned loads are done, not trapped
    sd a4, 0(a3)
    ecall
    wfi
{M_HANDLER}"
    );
    on_tiers(
        &src,
        |_| {},
        |f, tier| {
            assert_eq!(log(f, 0).0, cause::MISALIGNED_LOAD, "{tier:?}");
            assert_eq!(log(f, 0).1, tier.data_base() + 0x1003);
            assert_eq!(log(f, 1).0, cause::MISALIGNED_STORE);
            assert_eq!(log(f, 1).1, tier.data_base() + 0x1003);
            assert_eq!(log(f, 2).0, cause::ECALL_M);
        },
    );
}

#[test]
fn user_counters_work_when_enabled() {
    let time = Arc::new(AtomicU64::new(777));
    let src = format!(
        "{PROLOGUE}
    li t0, 7
    csrw mcounteren, t0      # CY, TM, IR for S
    csrw scounteren, t0      # and for U
    la t0, umode
    csrw mepc, t0
    mret
umode:
    rdinstret a0
    rdtime a1
    rdcycle a2
    rdinstret a3
    ecall
{M_HANDLER}"
    );
    for tier in TIERS {
        let Some(code) = program(&src, tier) else {
            return;
        };
        let mut f = Flat::new(&code, tier);
        let t = Arc::clone(&time);
        f.cpu
            .privs
            .set_time_source(Box::new(move || t.load(Ordering::SeqCst)));
        assert!(f.run(100));
        let c = &f.cpu.cpu;
        assert_eq!(log(&f, 0).0, cause::ECALL_U, "{tier:?}");
        assert_eq!(c.x[11], 777);
        assert_eq!(
            c.x[13] - c.x[10],
            3,
            "instret counts the instructions between"
        );
        assert_eq!(c.x[12], c.x[10] + 2, "mcycle counts instructions too");
    }
}

#[test]
fn dump_state_shows_registers_and_trap_csrs() {
    let mut cpu = RiscvSystemCpu::new(0);
    cpu.cpu.hdr.pc = 0x8000_0000;
    cpu.cpu.x[10] = 0xabcd;
    cpu.privs.csr_write(csr::MEPC, 0x1234, M).unwrap();
    let text = RiscvSystemGuest.dump_state(cpu.env());
    assert!(text.starts_with("pc 0000000080000000  priv M\n"), "{text}");
    assert!(text.contains("  a0 000000000000abcd"), "{text}");
    assert!(text.contains("   mepc 0000000000001234"), "{text}");
    assert_eq!(text.lines().count(), 1 + 8 + 4);
}

#[test]
fn csr_writes_end_the_block_only_when_they_must() {
    // Toggling MIE with nothing pending, and writing sscratch, keep the block going;
    // changing FS (a translation flag) ends it.
    let src = "
    csrsi mstatus, 8
    csrci mstatus, 8
    csrw mscratch, a0
    csrs mstatus, 8
    addi a0, a0, 1
    li t0, 1 << 13
    csrs mstatus, t0         # FS: new flags, the block ends here
    addi a0, a0, 1
    wfi
";
    for tier in [Tier::Interp, Tier::Jit] {
        let Some(code) = program(src, tier) else {
            return;
        };
        let mut f = Flat::new(&code, tier);
        assert!(f.run(10));
        assert_eq!(f.blocks, 2, "{tier:?}");
        assert_eq!(f.cpu.cpu.x[10], 2);
    }
    // The same first block with an interrupt pending: taken right after the write that
    // enables it.
    for tier in TIERS {
        let Some(code) = program(src, tier) else {
            return;
        };
        let mut f = Flat::new(&code, tier);
        f.cpu.privs.csr_write(csr::MIE, irq::MSIP, M).unwrap();
        f.cpu.privs.set_irq_line(irq::MSIP, true);
        f.cpu
            .privs
            .csr_write(csr::MTVEC, tier.code_base() + 0x20, M)
            .unwrap();
        assert!(f.run(10), "{tier:?}");
        assert_eq!(f.cpu.privs.mepc(), tier.code_base() + 4, "{tier:?}");
        assert_eq!(f.cpu.privs.mcause, (1 << 63) | 3);
    }
}
