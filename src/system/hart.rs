//! The harts of the machine and its life cycle: one host thread per hart running a
//! system-mode engine over its [`RiscvSystemCpu`]; the run loop (block exits become traps
//! and interrupts through `handle_exit`; `wfi` sleeps on a condvar until an interrupt
//! line changes or the nearest timer deadline, CLINT mtimecmp or Sstc stimecmp); device
//! interrupt wiring (the board's wake callback sets `exit_request` and notifies the
//! condvar); a timer thread for running harts (CLINT/RTC refresh, Sstc deadlines); and the
//! power-off / reset handling of the test finisher.

use super::phys::BoardPhys;
use super::{ConsoleTarget, Outcome, Shutdown, SystemConfig, power_outcome};
use heron_backend::engine::{Engine, EngineConfig, EngineStats, Trace};
use heron_backend::softmmu::{BusFault, CodePages, PhysMemory, SoftmmuConfig};
use heron_backend::{ExitStatus, Guest};
use heron_machines::riscv_virt::VirtBoard;
use heron_riscv::system::{HartEvent, RiscvMmu, RiscvSystemCpu, RiscvSystemGuest, TLB_OFFSET};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The ISA string of the device tree: exactly what the frontend implements.
pub const ISA_STRING: &str = heron_riscv::privileged::DT_ISA;
/// The paging mode the device tree announces: the highest satp MODE the harts accept.
pub const MMU_TYPE: &str = heron_riscv::privileged::DT_MMU_TYPE;

/// Default `--jit-threshold` of system mode. Cranelift runs on a background thread, so
/// the threshold trades interpreting against that thread's backlog (a block still queued
/// at 4x the threshold moves to the front). Shared image, `-smp 1`, release build, hart
/// CPU time on a quiet 2-core host: 2.42-2.70 s at 50 (six boots), 2.66-2.79 s at
/// 100 (three), 2.56-2.65 s at 30 (three; the compile thread then lags: 2.6 s of work).
pub(crate) const SYSTEM_JIT_THRESHOLD: u32 = 50;

/// Default `--quick-threshold` and `--promote-threshold`: a block leaves the interpreter
/// for the quick tier after 5 runs (2.7 us of compiling on the hart's thread) and gets
/// Cranelift's code (on the compile thread) after 2,000 runs of the quick code. Shared
/// image, one run each on a 2-core host, boot wall / user CPU: quick 10 and promote 1,000:
/// 2.28 / 2.44 s; 10 and 300: 2.30 / 2.92 s; 5 and 2,000: 2.20 / 2.22 s; 2 and 2,000:
/// 2.36 / 2.49 s; 5 and 5,000: 2.37 / 2.37 s; without the quick tier 2.45-2.59 /
/// 3.84-4.06 s. Later, four alternating boots each: promote 500: 2.36-2.48 s against
/// 2.32-2.41 s at 2,000 (and 0.4 s more CPU); 5,000: 2.35-2.44 s against 2.31-2.42 s.
pub(crate) const SYSTEM_QUICK_THRESHOLD: u32 = 5;
pub(crate) const SYSTEM_PROMOTE_THRESHOLD: u32 = 2000;

/// How often the timer thread looks at deadlines while some hart runs.
const TICK_RUNNING: Duration = Duration::from_millis(1);
/// ... and while every hart sleeps in WFI (they watch their own deadlines then).
const TICK_IDLE: Duration = Duration::from_millis(20);
/// Longest single WFI sleep (a safety net; wakeups are event driven).
const MAX_WFI_SLEEP: Duration = Duration::from_millis(100);
/// After this many WFIs in a row (same wfi, no trap in between) that returned at once
/// without taking an interrupt (an interrupt pending in mie but masked by mstatus: the
/// guest polls memory around `wfi`, as OpenSBI 1.1's secondary harts do with msip still
/// set until Linux starts them), each further such WFI first waits for a wakeup (an
/// interrupt line change, or any IPI to the hart), at most [`wfi_backoff`]: 0.5 ms,
/// doubling with each further such WFI up to [`MAX_WFI_SLEEP`]. WFI may take any time to
/// complete; without this, the polling hart burned a host core (about 2.4 million engine
/// exits per second) for the first seconds of every `-smp 2` boot. Linux's idle loop (wfi
/// with interrupts off, then the interrupt taken) never reaches the limit.
///
/// Why the wait grows and an IPI ends it (the CLINT notifies every msip write of 1, also
/// over a pending IPI): OpenSBI 1.1's `sbi_hsm_hart_start` marks the target hart
/// START_PENDING *before* it stores the start address (OpenSBI 1.6 stores it first), then
/// sends the IPI; the target, polling that state, starts at whatever address it then
/// reads, the stale cold-boot entry if it was too early. A hart thread can be descheduled
/// by the host between those steps. With a fixed 0.5 ms wait, the polling hart woke (and,
/// sharing a host core, preempted the boot hart) every 0.5 ms, and now and then caught a
/// half-written request: hart 1 ran the kernel's boot-hart entry a second time (about 1
/// in 30 `-smp 2` boots with each boot pinned to one host core; see docs/system-mode.md).
/// Woken by the IPI, it reads the request once it is complete; what is left of the
/// guest's race is a timeout wakeup landing in that window, and such a wakeup yields the
/// host core first (see [`wfi_sleep`]).
const WFI_SPIN_LIMIT: u32 = 100;
const WFI_BACKOFF: Duration = Duration::from_micros(500);

/// How long the `n`th WFI past [`WFI_SPIN_LIMIT`] (from 0) waits for a wakeup.
fn wfi_backoff(n: u32) -> Duration {
    WFI_BACKOFF
        .saturating_mul(1u32 << n.min(16))
        .min(MAX_WFI_SLEEP)
}

impl PhysMemory for BoardPhys {
    fn ram_page(&self, paddr: u64) -> Option<*mut u8> {
        self.ram_page_ptr(paddr)
    }
    fn io_read(&self, paddr: u64, size: u8) -> Result<u64, BusFault> {
        self.read(paddr, size).map_err(|_| BusFault { paddr })
    }
    fn io_write(&self, paddr: u64, size: u8, value: u64) -> Result<(), BusFault> {
        self.write(paddr, size, value)
            .map_err(|_| BusFault { paddr })
    }
}

/// What other threads know about one hart.
struct HartLink {
    /// `exit_request` of the hart's CPU header (the CPU box outlives every user: see
    /// [`run_machine`]).
    exit_request: *const AtomicU32,
    /// Set by wakeups; the WFI sleep consumes it.
    woken: Mutex<bool>,
    cond: Condvar,
    /// Sstc deadline (mtime ticks), u64::MAX when none.
    deadline: Arc<AtomicU64>,
    /// The hart is in its WFI sleep.
    asleep: AtomicBool,
    /// Engine exits so far (progress, for the `HERON_HANG_DUMP` watchdog).
    exits: AtomicU64,
    /// Set by the watchdog: print the hart state at the next engine exit.
    dump_request: AtomicBool,
}

// SAFETY: `exit_request` points to an atomic inside a CPU box that stays allocated while
// any HartLink user can run (run_machine joins every thread and detaches the console and
// device callbacks first); it is only accessed atomically.
unsafe impl Send for HartLink {}
// SAFETY: as above.
unsafe impl Sync for HartLink {}

impl HartLink {
    fn kick(&self) {
        // SAFETY: see the Send impl: the pointee is alive and atomic.
        unsafe { (*self.exit_request).store(1, Ordering::SeqCst) };
        let mut w = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        *w = true;
        self.cond.notify_all();
    }
}

/// Per-hart results for `-d stats`.
struct HartReport {
    stats: EngineStats,
    run_time: Duration,
    wfi_time: Duration,
    exits: u64,
    /// WFIs that backed off (see [`WFI_SPIN_LIMIT`]).
    wfi_backoffs: u64,
    /// CPU time of the hart thread (the wall times above include waiting for a host core).
    cpu_time: Duration,
    /// The hart's most-run blocks (virtual PC, runs), for `-d stats`.
    hottest: Vec<(u64, u64)>,
}

/// The gdb stub of the machine (`-s`, `-gdb`): its control block and memory view.
pub struct GdbLink {
    pub ctl: Arc<crate::gdb::Control>,
    pub mem: Arc<crate::gdb::riscv_sys::SysMemory>,
}

/// Builds, boots and runs one machine until it powers off, quits or resets.
pub fn run_machine(
    cfg: &SystemConfig,
    shutdown: Arc<Shutdown>,
    console: &ConsoleTarget,
    gdb: Option<&GdbLink>,
) -> Result<Outcome, String> {
    let code_pages = CodePages::new(heron_machines::riscv_virt::RAM_BASE, cfg.ram_size);
    let cp = code_pages.clone();
    let board = Arc::new(super::build_board(
        cfg,
        Box::new(super::console::StdoutSink),
        Arc::new(move |gpa, len| cp.notify_write(gpa, len)),
    )?);
    let boot = super::load_images(&board, cfg)?;
    let log_int = cfg.log_items.iter().any(|i| i == "int");
    let phys: Arc<dyn PhysMemory> = Arc::new(BoardPhys {
        bus: board.bus.clone(),
        ram: board.ram.clone(),
        log_errors: cfg.log_items.iter().any(|i| i == "guest_errors"),
    });
    let mmu =
        Arc::new(RiscvMmu::new(phys.clone()).with_trace(cfg.log_items.iter().any(|i| i == "mmu")));
    if let Some(g) = gdb {
        g.mem.set_machine(mmu.clone(), phys.clone());
        g.ctl.begin_machine();
    }
    let guest: Arc<dyn Guest> = Arc::new(RiscvSystemGuest);

    // CPUs in their reset state: every hart starts at the boot address (firmware picks
    // the boot hart), a0 = hart id, a1 = device tree, a2 = fw_dynamic_info.
    let mut cpus: Vec<Box<RiscvSystemCpu>> = (0..cfg.harts)
        .map(|h| {
            let mut c = RiscvSystemCpu::new(h as u64);
            c.cpu.hdr.pc = boot.pc;
            c.cpu.x[10] = h as u64;
            c.cpu.x[11] = boot.a1_fdt;
            c.cpu.x[12] = boot.a2_fw_dynamic_info;
            c.privs.set_time_source(board.mtime_source());
            c
        })
        .collect();
    let links: Arc<[HartLink]> = cpus
        .iter()
        .map(|c| HartLink {
            exit_request: &c.cpu.hdr.exit_request as *const AtomicU32,
            woken: Mutex::new(false),
            cond: Condvar::new(),
            deadline: c.deadline_cell(),
            asleep: AtomicBool::new(false),
            exits: AtomicU64::new(0),
            dump_request: AtomicBool::new(false),
        })
        .collect();
    {
        let l = links.clone();
        board
            .connect_harts(
                cpus.iter().map(|c| c.privs.irq_lines()).collect(),
                move |h| {
                    if let Some(link) = l.get(h) {
                        link.kick();
                    }
                },
            )
            .map_err(|e| e.to_string())?;
    }
    {
        let (l, sd) = (links.clone(), shutdown.clone());
        board.finisher.set_handler(move |ev| {
            sd.request(power_outcome(ev));
            for link in l.iter() {
                link.kick();
            }
        });
    }

    let trace = trace_of(&cfg.log_items);
    let mut ecfg = EngineConfig {
        tier: cfg.tier,
        trace,
        ..EngineConfig::default()
    };
    ecfg.jit_threshold = cfg.jit_threshold.unwrap_or(SYSTEM_JIT_THRESHOLD);
    ecfg.quick_threshold = cfg.quick_threshold.unwrap_or(SYSTEM_QUICK_THRESHOLD);
    ecfg.promote_threshold = cfg.promote_threshold.unwrap_or(SYSTEM_PROMOTE_THRESHOLD);
    let sys = SoftmmuConfig {
        translator: mmu,
        phys,
        code_pages,
        tlb_offset: TLB_OFFSET,
    };
    let mut engines = Vec::with_capacity(cfg.harts);
    // The harts run the same kernel: code one of them compiled is installed by the others.
    let share = heron_backend::jit::CodeShare::new();
    for _ in 0..cfg.harts {
        let mut e = Engine::new_system(guest.clone(), sys.clone(), ecfg.clone())
            .map_err(|e| e.to_string())?;
        // Cranelift runs beside the hart: the hart interprets a hot block until its code
        // is ready instead of waiting for it.
        e.set_background_compile(true);
        if cfg.harts > 1 {
            e.set_code_share(share.clone());
        }
        engines.push(e);
    }

    *console.lock().unwrap_or_else(|e| e.into_inner()) = Some(board.clone());
    let running = Arc::new(AtomicUsize::new(cfg.harts));
    let started = Instant::now();
    let mut handles = vec![];
    for (h, (cpu, engine)) in cpus.drain(..).zip(engines).enumerate() {
        let (b, l, sd, run) = (
            board.clone(),
            links.clone(),
            shutdown.clone(),
            running.clone(),
        );
        let dbg = gdb.map(|g| g.ctl.clone());
        let handle = std::thread::Builder::new()
            .name(format!("hart{h}"))
            .spawn(move || hart_thread(h, cpu, engine, &b, &l, &sd, &run, log_int, dbg))
            .map_err(|e| format!("cannot start hart {h}: {e}"))?;
        handles.push(handle);
    }
    let ticker = {
        let (b, l, sd, run) = (
            board.clone(),
            links.clone(),
            shutdown.clone(),
            running.clone(),
        );
        std::thread::Builder::new()
            .name("timer".into())
            .spawn(move || timer_thread(&b, &l, &sd, &run))
            .map_err(|e| format!("cannot start the timer thread: {e}"))?
    };

    let watchdog = hang_dump_delay().map(|after| {
        let (b, l, sd) = (board.clone(), links.clone(), shutdown.clone());
        std::thread::Builder::new()
            .name("hang-dump".into())
            .spawn(move || hang_watchdog(after, &b, &l, &sd))
    });
    let outcome = loop {
        if let Some(o) = shutdown.wait(Duration::from_secs(3600)) {
            break o;
        }
    };
    if let Some(Ok(w)) = watchdog {
        let _ = w.join();
    }
    // Stop everything, then detach the callbacks that reach into the CPU boxes before
    // they are freed.
    if let Some(g) = gdb {
        g.ctl.release();
    }
    for l in links.iter() {
        l.kick();
    }
    let _ = ticker.join();
    let mut reports = vec![];
    let mut panicked = false;
    let mut cpus_back = vec![];
    let mut engines_back = vec![];
    for h in handles {
        match h.join() {
            Ok((cpu, report, engine)) => {
                cpus_back.push(cpu);
                reports.push(report);
                engines_back.push(engine);
            }
            Err(_) => panicked = true,
        }
    }
    *console.lock().unwrap_or_else(|e| e.into_inner()) = None;
    board.plic.set_notifier(|_, _| {});
    board.clint.set_notifier(|_, _, _| {});
    board.finisher.set_handler(|_| {});
    if matches!(outcome, Outcome::Reset) && !cfg.no_reboot {
        // Engines first: dropping one unregisters its TLB, which lives in the CPU box.
        drop(engines_back);
        drop(cpus_back);
    } else {
        // The process ends with this machine: freeing a boot's ~80,000 translations one by
        // one took 45-60 ms of every boot-to-poweroff. The CPU boxes stay too (the code-page
        // tracker still points at their TLBs); the compile threads stay parked until exit.
        std::mem::forget(engines_back);
        std::mem::forget(cpus_back);
    }
    if cfg.log_items.iter().any(|i| i == "stats") {
        print_stats(&reports, started.elapsed());
    }
    if panicked {
        return Err("a hart thread panicked (heron bug)".into());
    }
    Ok(outcome)
}

fn trace_of(items: &[String]) -> Trace {
    let mut t = Trace::default();
    for it in items {
        match it.as_str() {
            "in_asm" => t.in_asm = true,
            "op" => t.op = true,
            "out_asm" => t.out_asm = true,
            "exec" => t.exec = true,
            "nochain" => t.nochain = true,
            "stats" => t.stats = true,
            _ => {}
        }
    }
    t
}

/// Ends the whole machine if a hart thread unwinds (a heron bug), so the others stop.
struct PanicGuard<'a>(&'a Shutdown);
impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.request(Outcome::Exit(1));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn hart_thread(
    h: usize,
    mut cpu: Box<RiscvSystemCpu>,
    mut engine: Engine,
    board: &VirtBoard,
    links: &[HartLink],
    shutdown: &Shutdown,
    running: &AtomicUsize,
    log_int: bool,
    gdb: Option<Arc<crate::gdb::Control>>,
) -> (Box<RiscvSystemCpu>, HartReport, Engine) {
    let _guard = PanicGuard(shutdown);
    // gdb thread id = hart index + 1.
    // SAFETY: the CPU box outlives the registration: the thread unregisters before it
    // returns the box, and the stub reads the state only while the hart is parked.
    let mut dbg = gdb.map(|c| unsafe {
        let env = cpu.env();
        c.register(h + 1, env, &cpu.cpu.hdr.exit_request, &mut engine)
    });
    let link = &links[h];
    let mut report = HartReport {
        stats: EngineStats::default(),
        run_time: Duration::ZERO,
        wfi_time: Duration::ZERO,
        exits: 0,
        wfi_backoffs: 0,
        cpu_time: Duration::ZERO,
        hottest: Vec::new(),
    };
    // WFIs in a row, at the same pc with no trap in between, that returned at once (an
    // interrupt pending in mie but masked) and took no interrupt: a guest polling memory
    // around `wfi`.
    let mut idle_wfis = 0u32;
    let mut last_wfi_pc = u64::MAX;
    while !shutdown.stopping() {
        if let Some(d) = dbg.as_mut() {
            // Parks while gdb holds the machine stopped.
            d.sync(&mut engine, cpu.cpu.hdr.pc);
            if shutdown.stopping() {
                break;
            }
            // A single step runs the instruction at pc, not an interrupt handler (as
            // QEMU's default stepping): pending interrupts wait for the next continue.
            // Otherwise a wakeup while parked may have been cleared by the resume.
            if d.stepping() {
                cpu.cpu.hdr.exit_request.store(0, Ordering::SeqCst);
            } else if cpu.privs.pending_interrupt().is_some() {
                cpu.cpu.hdr.exit_request.store(1, Ordering::SeqCst);
            }
        }
        let t0 = Instant::now();
        // SAFETY: the CPU state is a RiscvSystemCpu owned by this thread, the engine was
        // made for RiscvSystemGuest with the matching TLB offset.
        let status = unsafe { engine.run(cpu.env()) };
        report.run_time += t0.elapsed();
        report.exits += 1;
        link.exits.fetch_add(1, Ordering::Relaxed);
        if link.dump_request.swap(false, Ordering::SeqCst) {
            eprintln!(
                "heron: hang dump: hart{h} exit {status:?} (exits {})\n{}",
                report.exits,
                hart_state(&cpu)
            );
        }
        if let Some(d) = dbg.as_mut()
            && d.after_run(&mut engine)
        {
            continue;
        }
        let pc = cpu.cpu.hdr.pc;
        let priv_before = cpu.privs.priv_level;
        let ev = cpu.handle_exit(status);
        if log_int && (status != ExitStatus::Interrupted || cpu.cpu.hdr.pc != pc) {
            log_exit(h, status, pc, priv_before, &cpu);
        }
        if status != ExitStatus::Next && status != ExitStatus::Halt && cpu.cpu.hdr.pc != pc {
            // A trap or interrupt was taken (e.g. Linux's idle loop: wfi with interrupts
            // off, then the interrupt once it enables them): not a polling loop.
            idle_wfis = 0;
        }
        match ev {
            HartEvent::Continue => {}
            HartEvent::Halt => {
                tracing::info!(target: "int", "hart{h}: halted at {pc:#x}");
                break;
            }
            HartEvent::Wfi => {
                let t = Instant::now();
                running.fetch_sub(1, Ordering::SeqCst);
                link.asleep.store(true, Ordering::SeqCst);
                // A sleeping hart counts as parked for gdb; it stays parked on waking
                // while gdb holds the machine stopped.
                if let Some(d) = &dbg {
                    d.enter_blocking();
                }
                // Only the same wfi again and again counts (pc: the instruction after it).
                if pc != last_wfi_pc {
                    last_wfi_pc = pc;
                    idle_wfis = 0;
                }
                let backoff = idle_wfis.checked_sub(WFI_SPIN_LIMIT).map(wfi_backoff);
                report.wfi_backoffs += u64::from(backoff.is_some());
                let slept = wfi_sleep(h, &mut cpu, board, link, shutdown, log_int, backoff);
                if let Some(d) = &dbg {
                    d.leave_blocking();
                }
                link.asleep.store(false, Ordering::SeqCst);
                running.fetch_add(1, Ordering::SeqCst);
                report.wfi_time += t.elapsed();
                if cpu.take_pending_interrupt() || slept {
                    idle_wfis = 0;
                } else {
                    idle_wfis = idle_wfis.saturating_add(1);
                }
            }
        }
        if let Some(d) = dbg.as_mut() {
            d.after_event(&mut engine);
        }
    }
    if let Some(d) = &dbg {
        d.unregister();
    }
    report.stats = engine.stats();
    report.hottest = engine.hottest_blocks(HOTTEST_SHOWN);
    report.cpu_time = heron_backend::thread_cpu_time();
    (cpu, report, engine)
}

fn log_exit(
    h: usize,
    status: ExitStatus,
    pc: u64,
    before: heron_riscv::privileged::Priv,
    cpu: &RiscvSystemCpu,
) {
    let what = match status {
        ExitStatus::Exception => format!(
            "exception cause {} tval {:#x}",
            cpu.cpu.exc_cause, cpu.cpu.exc_tval
        ),
        ExitStatus::Fault => format!(
            "fault kind {} addr {:#x}",
            cpu.cpu.hdr.fault_kind, cpu.cpu.hdr.fault_addr
        ),
        ExitStatus::Interrupted => format!("interrupt (mip {:#x})", cpu.privs.mip()),
        ExitStatus::Halt => "wfi".to_string(),
        ExitStatus::Next => "next".to_string(),
    };
    tracing::info!(
        target: "int",
        "hart{h}: {what} at {pc:#x} ({before:?}) -> {:#x} ({:?})",
        cpu.cpu.hdr.pc,
        cpu.privs.priv_level
    );
}

/// Sleeps until an interrupt is pending for the hart (or the machine stops). Returns
/// whether it slept for want of a pending interrupt. With `backoff`, a WFI that would
/// return at once first waits that long at most for a wakeup (see [`WFI_SPIN_LIMIT`]).
fn wfi_sleep(
    h: usize,
    cpu: &mut RiscvSystemCpu,
    board: &VirtBoard,
    link: &HartLink,
    shutdown: &Shutdown,
    log_int: bool,
    backoff: Option<Duration>,
) -> bool {
    let mut waited = false;
    loop {
        if shutdown.stopping() {
            return waited;
        }
        // Time-driven device state first (not under the wake lock: it may call wake).
        board.poll();
        if cpu.interrupt_pending() {
            if let Some(wait) = backoff
                && !waited
                // Not a sleep for the caller's count: the next such WFI backs off again.
                && !wait_woken(link, shutdown, Instant::now() + wait)
            {
                // Nothing happened: the guest only polls. Let a hart that works (and may
                // be halfway through what this one polls for) have the host core first,
                // rather than preempting it.
                std::thread::yield_now();
            }
            return waited;
        }
        waited = true;
        let now = Instant::now();
        let mut until = now + MAX_WFI_SLEEP;
        if let Some(d) = board.clint.next_deadline(h) {
            until = until.min(d);
        }
        if let Some(ticks) = cpu.timer_deadline() {
            let delta = ticks.saturating_sub(board.clint.mtime());
            until = until.min(now + Duration::from_nanos(delta.saturating_mul(100)));
        }
        if log_int {
            tracing::info!(target: "int", "hart{h}: wfi sleep up to {:?}", until - now);
        }
        wait_woken(link, shutdown, until);
    }
}

/// Waits until a wakeup (`HartLink::kick`), `until`, or the machine stopping; consumes
/// the wakeup and says whether there was one.
fn wait_woken(link: &HartLink, shutdown: &Shutdown, until: Instant) -> bool {
    let mut woken = link.woken.lock().unwrap_or_else(|e| e.into_inner());
    while !*woken && !shutdown.stopping() {
        let now = Instant::now();
        if now >= until {
            break;
        }
        woken = link
            .cond
            .wait_timeout(woken, until - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    std::mem::replace(&mut *woken, false)
}

/// `HERON_HANG_DUMP=SECS` (a debugging aid, see docs/system-mode.md): SECS seconds after
/// the machine starts, dump the CLINT and every hart's state to stderr once a second.
fn hang_dump_delay() -> Option<Duration> {
    let v = std::env::var("HERON_HANG_DUMP").ok()?;
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// The privileged state that matters for a hang, then the registers.
fn hart_state(cpu: &RiscvSystemCpu) -> String {
    let p = &cpu.privs;
    format!(
        "  time {:?} stimecmp {:#x} menvcfg {:#x} exit_request {} res_addr {:#x} pending {:?}\n{}",
        p.time(),
        p.stimecmp(),
        p.menvcfg(),
        cpu.cpu.hdr.exit_request.load(Ordering::SeqCst),
        cpu.cpu.res_addr,
        p.pending_interrupt(),
        heron_riscv::system::dump(cpu)
    )
}

/// The `HERON_HANG_DUMP` watchdog: asks each hart for a state dump every second (a hart
/// answers at its next engine exit; one that never exits is reported as such).
fn hang_watchdog(after: Duration, board: &VirtBoard, links: &[HartLink], shutdown: &Shutdown) {
    if shutdown.wait(after).is_some() {
        return;
    }
    let mut last: Vec<u64> = links
        .iter()
        .map(|l| l.exits.load(Ordering::Relaxed))
        .collect();
    while shutdown.wait(Duration::from_secs(1)).is_none() {
        let out = board.clint.outputs();
        let lines: Vec<String> = (0..links.len())
            .map(|h| {
                format!(
                    "hart{h} msip {} mtip {} mtimecmp {:#x}",
                    out.msip[h].load(Ordering::SeqCst),
                    out.mtip[h].load(Ordering::SeqCst),
                    board.clint.mtimecmp(h).unwrap_or(0)
                )
            })
            .collect();
        eprintln!(
            "heron: hang dump: clint mtime {:#x}: {}",
            board.clint.mtime(),
            lines.join(", ")
        );
        for (h, l) in links.iter().enumerate() {
            let exits = l.exits.load(Ordering::Relaxed);
            if l.dump_request.load(Ordering::SeqCst) {
                eprintln!(
                    "heron: hang dump: hart{h} did not answer within 1 s (asleep {}, exits {exits}, +{} in 1 s)",
                    l.asleep.load(Ordering::SeqCst),
                    exits.wrapping_sub(last[h])
                );
            }
            last[h] = exits;
            l.dump_request.store(true, Ordering::SeqCst);
            // SAFETY: see HartLink's Send impl.
            unsafe { (*l.exit_request).store(1, Ordering::SeqCst) };
        }
    }
}

/// While harts run: refresh time-driven devices and poke harts whose Sstc deadline passed.
fn timer_thread(board: &VirtBoard, links: &[HartLink], shutdown: &Shutdown, running: &AtomicUsize) {
    while !shutdown.stopping() {
        let tick = if running.load(Ordering::SeqCst) > 0 {
            TICK_RUNNING
        } else {
            TICK_IDLE
        };
        std::thread::sleep(tick);
        board.poll();
        let now = board.clint.mtime();
        for l in links {
            if !l.asleep.load(Ordering::SeqCst) && l.deadline.load(Ordering::SeqCst) <= now {
                // SAFETY: see HartLink's Send impl.
                unsafe { (*l.exit_request).store(1, Ordering::SeqCst) };
            }
        }
    }
}

/// How many of the most-run blocks `-d stats` lists.
const HOTTEST_SHOWN: usize = 10;

fn print_stats(reports: &[HartReport], wall: Duration) {
    let mut total = EngineStats::default();
    let (mut run, mut wfi, mut exits) = (Duration::ZERO, Duration::ZERO, 0);
    let mut cpu = Duration::ZERO;
    for r in reports {
        total += &r.stats;
        run += r.run_time;
        wfi += r.wfi_time;
        exits += r.exits;
        cpu += r.cpu_time;
    }
    let tr = total.translate_time + total.compile_time;
    let exec = run.saturating_sub(tr);
    let pct = |d: Duration| {
        if run.is_zero() {
            0.0
        } else {
            100.0 * d.as_secs_f64() / run.as_secs_f64()
        }
    };
    let msg = format!(
        "{total}\nharts                  {}\nwall time              {:.3} s\n\
         hart time in engine    {:.3} s (all harts)\n\
         \x20 translation          {:.3} s ({:.1}%: IR {:.3} s, compiling {:.3} s)\n\
         \x20 (Cranelift on the compile threads {:.3} s, not in hart time)\n\
         \x20 execution            {:.3} s ({:.1}%)\n\
         hart time in wfi       {:.3} s\nhart threads' CPU time {:.3} s\n\
         engine exits           {exits}",
        reports.len(),
        wall.as_secs_f64(),
        run.as_secs_f64(),
        tr.as_secs_f64(),
        pct(tr),
        total.translate_time.as_secs_f64(),
        total.compile_time.as_secs_f64(),
        total.compile_time_background.as_secs_f64(),
        exec.as_secs_f64(),
        pct(exec),
        wfi.as_secs_f64(),
        cpu.as_secs_f64(),
    );
    let mut msg = msg;
    if reports.len() > 1 {
        for (h, r) in reports.iter().enumerate() {
            let s = &r.stats;
            let _ = write!(
                msg,
                "\nhart{h}: CPU {:.3} s, engine {:.3} s (translation {:.3} s), wfi {:.3} s, \
                 {} exits, {} wfi back-offs, {} blocks translated, {} compiled",
                r.cpu_time.as_secs_f64(),
                r.run_time.as_secs_f64(),
                (s.translate_time + s.compile_time).as_secs_f64(),
                r.wfi_time.as_secs_f64(),
                r.exits,
                r.wfi_backoffs,
                s.blocks_translated,
                s.blocks_compiled,
            );
        }
    }
    let mut hottest: Vec<(usize, u64, u64)> = reports
        .iter()
        .enumerate()
        .flat_map(|(h, r)| r.hottest.iter().map(move |&(pc, runs)| (h, pc, runs)))
        .collect();
    hottest.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
    msg.push_str(
        "\nhottest blocks (hart: virtual pc: runs; runs inside chained JIT code not counted):",
    );
    for (h, pc, runs) in hottest.into_iter().take(HOTTEST_SHOWN) {
        let _ = write!(msg, "\n  hart{h}: {pc:#x}: {runs}");
    }
    tracing::info!(target: "stats", "{msg}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A polling hart's wait for a wakeup grows from 0.5 ms to the longest WFI sleep, so
    /// that it sleeps until the IPI rather than waking every 0.5 ms (see WFI_SPIN_LIMIT).
    #[test]
    fn wfi_backoff_grows_to_the_longest_sleep() {
        assert_eq!(wfi_backoff(0), WFI_BACKOFF);
        assert_eq!(wfi_backoff(1), 2 * WFI_BACKOFF);
        let all: Vec<Duration> = (0..40).map(wfi_backoff).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(wfi_backoff(8), MAX_WFI_SLEEP);
        assert_eq!(wfi_backoff(u32::MAX), MAX_WFI_SLEEP);
    }
}
