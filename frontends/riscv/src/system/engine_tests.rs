//! System-mode programs on the backend's system engine (softmmu) over a fake physical
//! memory, on the interpreter and on the JIT: Sv39 translation with faults delegated to
//! S-mode, A/D updates, SUM, `sfence.vma`, and the run loop a board uses
//! (`Engine::run` + [`RiscvSystemCpu::handle_exit`]).

use super::tests::{FakePhys, LEAF0, ROOT, assemble_at, sv39_tables};
use super::*;
use heron_backend::engine::{Engine, EngineConfig, Tier};
use heron_backend::softmmu::{CodePages, SoftmmuConfig};

const RAM: u64 = FakePhys::BASE;

/// Loads `code` at the start of RAM and runs hart 0 from there in M-mode until it executes
/// `wfi` (true) or `max_exits` exits happened.
/// A system-mode engine on `tier` over `phys`, and hart 0 reset to run from RAM.
fn system_engine(phys: &Arc<FakePhys>, tier: Tier) -> (Engine, Box<RiscvSystemCpu>) {
    let code_pages = CodePages::new(RAM, FakePhys::PAGES * 4096);
    let sys = SoftmmuConfig {
        translator: Arc::new(RiscvMmu::new(phys.clone())),
        phys: phys.clone(),
        code_pages,
        tlb_offset: TLB_OFFSET,
    };
    let cfg = EngineConfig {
        tier,
        ..EngineConfig::default()
    };
    let engine = Engine::new_system(Arc::new(RiscvSystemGuest), sys, cfg).expect("engine");
    let mut cpu = RiscvSystemCpu::new(0);
    cpu.cpu.hdr.pc = RAM;
    (engine, cpu)
}

fn run_system(phys: &Arc<FakePhys>, tier: Tier, max_exits: usize) -> (Box<RiscvSystemCpu>, bool) {
    let (mut engine, mut cpu) = system_engine(phys, tier);
    for _ in 0..max_exits {
        // SAFETY: cpu is a live RiscvSystemCpu used only by this thread.
        let status = unsafe { engine.run(cpu.env()) };
        let pc = cpu.cpu.hdr.pc;
        let ev = cpu.handle_exit(status);
        if std::env::var_os("HERON_RVSYS_TRACE").is_some() {
            eprintln!(
                "{tier:?} {status:?} at {pc:#x} -> {:#x} {:?} kind {} addr {:#x} exc {}",
                cpu.cpu.hdr.pc,
                cpu.privs.priv_level,
                cpu.cpu.hdr.fault_kind,
                cpu.cpu.hdr.fault_addr,
                cpu.cpu.exc_cause
            );
        }
        if ev == HartEvent::Wfi {
            check_tier(&engine, tier);
            return (cpu, true);
        }
    }
    (cpu, false)
}

/// The JIT tier really compiled the blocks it ran.
fn check_tier(engine: &Engine, tier: Tier) {
    let compiled = engine.stats().blocks_compiled;
    match tier {
        Tier::Jit => assert!(compiled > 0, "no block was compiled"),
        _ => assert_eq!(compiled, 0),
    }
}

/// M-mode setup shared by the programs: PMP open, S handler at `strap`, page faults and
/// illegal instructions delegated, satp = a0, then mret to `smode` in S. The S handler logs
/// (scause, stval, sepc) at 0x8003_0000 + 24*i and resumes after the instruction; an ecall
/// from S ends in M with `wfi`.
const SETUP: &str = "
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    la t0, mtrap
    csrw mtvec, t0
    la t0, strap
    csrw stvec, t0
    li t0, (1 << 12) | (1 << 13) | (1 << 15) | (1 << 2)
    csrw medeleg, t0
    csrw satp, a0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    li s1, 0x80030000
    mret
mtrap:
    csrr t0, mcause
    wfi
strap:
    csrr t0, scause
    csrr t1, stval
    csrr t2, sepc
    sd t0, 0(s1)
    sd t1, 8(s1)
    sd t2, 16(s1)
    addi s1, s1, 24
    li t3, 12
    bne t0, t3, 1f
    csrw sepc, ra            # fetch fault of a call: return to the caller
    sret
1:  addi t2, t2, 4
    csrw sepc, t2
    sret
";

/// Page tables: a 1 GiB identity gigapage for RAM (RWX, A/D set) plus the 4 KiB pages of
/// [`sv39_tables`] at 0x4000_0000.
fn tables(phys: &FakePhys, leaves: &[u64]) -> u64 {
    let satp_v = sv39_tables(phys, leaves);
    // VPN2 = 2: 0x8000_0000 -> 0x8000_0000, RWX, A, D.
    phys.write(ROOT + 16, (RAM >> 12) << 10 | 0xcf);
    satp_v
}

fn slog(phys: &FakePhys, i: u64) -> (u64, u64, u64) {
    let a = RAM + 0x3_0000 + 24 * i;
    (phys.read(a), phys.read(a + 8), phys.read(a + 16))
}

/// The programs need the satp value in a0 at entry; [`run_system`] starts at RAM with a0
/// = 0, so the program loads it from a literal the test patches in.
fn program(body: &str) -> String {
    program_m("", body)
}

/// [`program`] with extra M-mode setup code `m_setup` (run before [`SETUP`]).
fn program_m(m_setup: &str, body: &str) -> String {
    format!(
        "
    j setup
    .balign 8
satp_value:
    .dword 0
setup:
    ld a0, satp_value
{m_setup}
{SETUP}
smode:
{body}
    ecall
"
    )
}

fn load(phys: &FakePhys, code: &[u8], satp_v: u64) {
    load_code(phys, code);
    // satp_value is the dword at offset 8 (after the `j`).
    phys.write(RAM + 8, satp_v);
}

/// Copies `code` to the start of RAM.
fn load_code(phys: &FakePhys, code: &[u8]) {
    for (i, chunk) in code.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        phys.write(RAM + 8 * i as u64, u64::from_le_bytes(w));
    }
}

const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_U: u64 = 16;
const PTE_A: u64 = 64;
const PTE_D: u64 = 128;

#[test]
fn sv39_walk_faults_ad_and_sum() {
    let body = "
    li a1, 0x40000000
    ld a2, 0(a1)             # page 0: RW (A set by the walk)
    sd a2, 8(a1)             # sets D
    li a3, 0x40003008
    ld a4, 0(a3)             # page 3: invalid -> load page fault, stval 0x40003008
    li a3, 0x40001010
    sd a4, 0(a3)             # page 1: user read-only -> store page fault
    ld a5, 0(a3)             # user page from S without SUM -> load page fault
    li t0, 1 << 18
    csrs sstatus, t0         # SUM
    ld a5, 0(a3)             # now readable
    li a3, 0x40002000
    jalr ra, 0(a3)           # page 2: not executable -> fetch page fault, stval = target
";
    let Some(code) = assemble_at(&program(body), RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        let satp_v = tables(
            &phys,
            &[
                PTE_V | PTE_R | PTE_W,
                PTE_V | PTE_R | PTE_U | PTE_A,
                PTE_V | PTE_R | PTE_W | PTE_A | PTE_D,
                0,
            ],
        );
        load(&phys, &code, satp_v);
        phys.write(RAM + 0x1_1010, 0x5555);
        let (cpu, done) = run_system(&phys, tier, 200);
        assert!(done, "{tier:?}: did not finish");
        assert_eq!(cpu.privs.mcause, cause::ECALL_S, "{tier:?}");
        assert_eq!((slog(&phys, 0).0, slog(&phys, 0).1), (13, 0x4000_3008));
        assert_eq!((slog(&phys, 1).0, slog(&phys, 1).1), (15, 0x4000_1010));
        assert_eq!((slog(&phys, 2).0, slog(&phys, 2).1), (13, 0x4000_1010));
        assert_eq!((slog(&phys, 3).0, slog(&phys, 3).1), (12, 0x4000_2000));
        assert_eq!(slog(&phys, 3).2, 0x4000_2000, "sepc = the target");
        assert_eq!(cpu.cpu.x[15], 0x5555, "read with SUM");
        // A and D of page 0 were set in the guest's page table.
        let pte0 = phys.read(LEAF0);
        assert_eq!(pte0 & (PTE_A | PTE_D), PTE_A | PTE_D);
    }
}

#[test]
fn sfence_vma_makes_a_changed_pte_visible() {
    let body = "
    li a1, 0x40000000
    ld a2, 0(a1)             # page 0 -> RAM + 0x10000
    li t0, 0x80022000        # its PTE, through the identity gigapage
    ld t1, 0(t0)
    li t2, 2 << 10
    add t1, t1, t2           # now -> RAM + 0x12000
    sd t1, 0(t0)
    sfence.vma a1
    ld a3, 0(a1)
    sd a3, 8(a1)             # a store through the new mapping (A/D already set)
    sfence.vma
";
    let Some(code) = assemble_at(&program(body), RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        let rwad = PTE_V | PTE_R | PTE_W | PTE_A | PTE_D;
        let satp_v = tables(&phys, &[rwad, rwad, rwad]);
        load(&phys, &code, satp_v);
        phys.write(RAM + 0x1_0000, 0xaaaa);
        phys.write(RAM + 0x1_2000, 0xbbbb);
        let (cpu, done) = run_system(&phys, tier, 200);
        assert!(done, "{tier:?}: did not finish");
        assert_eq!(cpu.privs.mcause, cause::ECALL_S, "{tier:?}");
        assert_eq!(cpu.cpu.x[12], 0xaaaa);
        assert_eq!(cpu.cpu.x[13], 0xbbbb);
        assert_eq!(phys.read(RAM + 0x1_2008), 0xbbbb);
        assert_eq!(phys.read(RAM + 0x1_0008), 0);
    }
}

#[test]
fn mprv_uses_the_page_tables_for_m_mode_data_only() {
    // Runs in M-mode throughout: with MPRV = 1 and MPP = S, loads translate through satp;
    // fetches do not. Then a page-crossing load whose second page is invalid faults with
    // the address of the second page (delegation does not apply to M: mtvec).
    let src = "
    j setup
    .balign 8
satp_value:
    .dword 0
setup:
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    ld t0, satp_value
    csrw satp, t0
    la t0, mtrap
    csrw mtvec, t0
    li t0, (1 << 17) | (1 << 11)     # MPRV, MPP = S
    csrs mstatus, t0
    li a1, 0x40000000
    ld a2, 0(a1)                     # through the page table: RAM + 0x10000
    li a3, 0x40002ffc
    ld a4, 0(a3)                     # crosses into page 3 (invalid): load page fault
    wfi
mtrap:
    csrr a5, mcause
    csrr a6, mtval
    wfi
";
    let Some(code) = assemble_at(src, RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        let rwad = PTE_V | PTE_R | PTE_W | PTE_A | PTE_D;
        let satp_v = tables(&phys, &[rwad, rwad, rwad, 0]);
        load(&phys, &code, satp_v);
        phys.write(RAM + 0x1_0000, 0x1234_5678);
        let (cpu, done) = run_system(&phys, tier, 50);
        assert!(done, "{tier:?}");
        let x = &cpu.cpu.x;
        assert_eq!(x[12], 0x1234_5678, "{tier:?}");
        assert_eq!(x[15], cause::LOAD_PAGE_FAULT);
        assert_eq!(
            x[16], 0x4000_3000,
            "tval: the part of the access that faulted"
        );
        assert_eq!(cpu.privs.priv_level, Priv::Machine);
    }
}

#[test]
fn user_code_on_user_pages_and_fetch_faults() {
    // S maps page 0 as a user RWX page, copies a tiny U program there (through SUM),
    // runs it with sret; the U program reads page 1 (user) and then jumps to page 2 (a
    // supervisor page: fetch page fault for U), whose handler ends the test.
    let body = "
    li t0, 1 << 18
    csrs sstatus, t0         # SUM: S may write the user page
    li a1, 0x40000000
    la t1, uprog
    lw t2, 0(t1)
    sw t2, 0(a1)
    lw t2, 4(t1)
    sw t2, 4(a1)
    lw t2, 8(t1)
    sw t2, 8(a1)
    fence.i
    la t0, stop
    csrw stvec, t0
    csrw sepc, a1
    li a3, 0x40002000
    li a4, 0x40001000
    li t0, 1 << 8
    csrc sstatus, t0         # SPP = U
    sret
uprog:
    ld a2, 0(a4)             # page 1: user data
    jalr ra, 0(a3)           # page 2: not a user page
    nop
stop:
    csrr a3, scause
    csrr a4, stval
    csrr a5, sepc
";
    let Some(code) = assemble_at(&program(body), RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        let urwx = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D;
        let srwx = urwx & !PTE_U;
        let satp_v = tables(&phys, &[urwx, urwx, srwx]);
        load(&phys, &code, satp_v);
        phys.write(RAM + 0x1_1000, 77);
        let (cpu, done) = run_system(&phys, tier, 50);
        assert!(done, "{tier:?}");
        let x = &cpu.cpu.x;
        assert_eq!(x[12], 77, "{tier:?}: U read its page");
        let page2 = 0x4000_2000;
        assert_eq!(
            (x[13], x[14], x[15]),
            (cause::FETCH_PAGE_FAULT, page2, page2)
        );
        assert_eq!(cpu.privs.mcause, cause::ECALL_S);
    }
}

#[test]
fn device_interrupt_from_another_thread_stops_a_loop() {
    let src = "
    la t0, mtrap
    csrw mtvec, t0
    li t0, 1 << 11
    csrw mie, t0             # MEIE
    csrsi mstatus, 8         # MIE
loop:
    addi a0, a0, 1
    j loop
mtrap:
    csrr a1, mcause
    csrr a2, mepc
    wfi
";
    let Some(code) = assemble_at(src, RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        load_code(&phys, &code);
        let (mut engine, mut cpu) = system_engine(&phys, tier);
        let lines = cpu.privs.irq_lines();
        let request = &cpu.cpu.hdr.exit_request as *const std::sync::atomic::AtomicU32 as usize;
        let device = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            lines.fetch_or(csr::irq::MEIP, Ordering::SeqCst);
            // SAFETY: the CPU outlives this thread (joined below); the field is atomic.
            let req = unsafe { &*(request as *const std::sync::atomic::AtomicU32) };
            req.store(1, Ordering::SeqCst);
        });
        let mut events = Vec::new();
        for _ in 0..10 {
            // SAFETY: cpu is a live RiscvSystemCpu; the other thread touches only atomics.
            let status = unsafe { engine.run(cpu.env()) };
            events.push(status);
            if cpu.handle_exit(status) == HartEvent::Wfi {
                break;
            }
        }
        device.join().expect("device thread");
        check_tier(&engine, tier);
        assert_eq!(events.first(), Some(&ExitStatus::Interrupted), "{tier:?}");
        assert_eq!(events.last(), Some(&ExitStatus::Halt));
        assert_eq!(cpu.cpu.x[11], (1 << 63) | 11);
        assert!(cpu.cpu.x[10] > 0, "the loop ran");
        assert!(
            (RAM..RAM + 0x40).contains(&cpu.cpu.x[12]),
            "mepc inside the loop"
        );
        assert!(cpu.interrupt_pending(), "the line is still high");
    }
}

#[test]
fn sfence_vma_of_one_address_covers_the_whole_superpage() {
    // A 2 MiB megapage at 0x4020_0000 -> RAM; two of its 4 KiB pieces get cached
    // writable; the PTE loses W and one address is fenced: a store to the other piece
    // must now fault.
    let body = "
    li a1, 0x40210000
    sd zero, 0(a1)
    li a2, 0x40211000
    sd zero, 0(a2)
    li t0, 0x80021008        # the megapage PTE, through the identity gigapage
    ld t1, 0(t0)
    andi t1, t1, -5          # clear W
    sd t1, 0(t0)
    sfence.vma a1
    sd zero, 0(a2)           # store page fault
";
    let Some(code) = assemble_at(&program(body), RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        let satp_v = tables(&phys, &[]);
        // VPN2 = 1, VPN1 = 1: level-1 leaf, RW, A, D.
        phys.write(
            ROOT + 0x1008,
            (RAM >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D,
        );
        load(&phys, &code, satp_v);
        let (cpu, done) = run_system(&phys, tier, 50);
        assert!(done, "{tier:?}");
        assert_eq!(cpu.privs.mcause, cause::ECALL_S, "{tier:?}");
        assert_eq!(
            (slog(&phys, 0).0, slog(&phys, 0).1),
            (15, 0x4021_1000),
            "{tier:?}"
        );
    }
}

/// Cache-block operations under Sv39 from S-mode (menvcfg enables all): on an invalid
/// page all four raise store page faults with stval = rs1 (not the block's start);
/// `cbo.clean` on a read-only page is fine but `cbo.zero` there faults; the management
/// ops need read access (an execute-only page faults, unless MXR); a management op sets A
/// but not D; `cbo.zero` clears exactly its block through the mapping.
#[test]
fn cbo_faults_and_permissions_under_sv39() {
    let body = "
    li a1, 0x40003015
    cbo.clean (a1)           # page 3: invalid
    cbo.flush (a1)
    cbo.inval (a1)
    cbo.zero (a1)
    li a2, 0x40001023
    cbo.clean (a2)           # page 1: read-only: fine
    cbo.zero (a2)            # needs write: store page fault
    li a3, 0x40002007
    cbo.flush (a3)           # page 2: execute-only: store page fault
    li t0, 1 << 19
    csrs sstatus, t0         # MXR: now readable
    cbo.flush (a3)
    csrc sstatus, t0
    li a4, 0x40000001
    cbo.inval (a4)           # page 0: A and D clear: sets A only
    li a5, 0x40004071
    cbo.zero (a5)            # page 4: zeros 0x40004040..0x40004080
";
    let Some(code) = assemble_at(&program_m("li t0, 0xf0\ncsrw menvcfg, t0", body), RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        let satp_v = tables(
            &phys,
            &[
                PTE_V | PTE_R | PTE_W,
                PTE_V | PTE_R | PTE_A,
                PTE_V | PTE_X | PTE_A,
                0,
                PTE_V | PTE_R | PTE_W | PTE_A | PTE_D,
            ],
        );
        load(&phys, &code, satp_v);
        let page4 = RAM + 0x1_4000;
        for i in 0..32 {
            phys.write(page4 + 8 * i, u64::MAX);
        }
        let (cpu, done) = run_system(&phys, tier, 200);
        assert!(done, "{tier:?}: did not finish");
        assert_eq!(cpu.privs.mcause, cause::ECALL_S, "{tier:?}");
        let want = [
            (15, 0x4000_3015),
            (15, 0x4000_3015),
            (15, 0x4000_3015),
            (15, 0x4000_3015),
            (15, 0x4000_1023),
            (15, 0x4000_2007),
        ];
        for (i, w) in want.iter().enumerate() {
            let (c, t, _) = slog(&phys, i as u64);
            assert_eq!((c, t), *w, "{tier:?}: trap {i}");
        }
        assert_eq!(
            slog(&phys, want.len() as u64).0,
            0,
            "{tier:?}: no more traps"
        );
        let pte0 = phys.read(LEAF0);
        assert_eq!(pte0 & (PTE_A | PTE_D), PTE_A, "{tier:?}: A set, D not");
        for i in 0..32 {
            let v = phys.read(page4 + 8 * i);
            let expect = if (8..16).contains(&i) { 0 } else { u64::MAX };
            assert_eq!(v, expect, "{tier:?}: page 4 + {:#x}", 8 * i);
        }
    }
}

/// `cbo.zero` over translated code (M-mode): the code is invalidated like after any
/// store, so after `fence.i` the next call executes the zeros (illegal instruction at the
/// routine).
#[test]
fn cbo_zero_over_translated_code_invalidates_it() {
    let src = "
    la t0, mtrap
    csrw mtvec, t0
    li a0, 0
    call victim              # translated and run: a0 = 1
    mv s1, a0
    la a1, victim
    cbo.zero (a1)
    fence.i                  # what RISC-V requires before running stored code
    li a0, 0
    call victim              # zeros now: illegal instruction at victim
    wfi
    .balign 64
victim:
    li a0, 1
    ret
    .balign 64
mtrap:
    csrr a5, mcause
    csrr a6, mepc
    csrr a7, mtval
    wfi
";
    let Some(code) = assemble_at(src, RAM) else {
        return;
    };
    for tier in [Tier::Interp, Tier::Jit] {
        let phys = Arc::new(FakePhys::new());
        load_code(&phys, &code);
        let (cpu, done) = run_system(&phys, tier, 50);
        assert!(done, "{tier:?}");
        let x = &cpu.cpu.x;
        assert_eq!(x[9], 1, "{tier:?}: the first call ran the routine");
        assert_eq!(x[15], cause::ILLEGAL_INSN, "{tier:?}: mcause");
        assert_eq!(x[16], x[11], "{tier:?}: mepc = victim");
        assert_eq!(x[17], 0, "{tier:?}: tval = the zero parcel");
        assert_eq!(x[10], 0, "{tier:?}: the zeroed routine did not set a0");
    }
}
