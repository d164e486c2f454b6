//! Guest threads: one host thread per guest thread, each with its own CPU state and engine.
//! Owns the run loop (engine exits -> syscalls, guest faults -> signals), signal delivery
//! to guest handlers, thread creation for `clone(CLONE_VM|CLONE_THREAD...)`, and thread /
//! process exit (clear_child_tid + futex wake, exit status).

use super::signal::{self, GuestSigAction, SigInfo};
use super::{AltStack, CpuEvent, GuestCpu, Process, syscall};
use heron_backend::FaultKind;
use heron_backend::engine::Engine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The parts of a thread other threads may touch.
pub struct ThreadShared {
    pub tid: i32,
    /// Blocked guest signals (bit sig-1).
    pub mask: AtomicU64,
    /// Thread-directed pending signals.
    pub pending: Mutex<Vec<SigInfo>>,
    /// exit_request word of the thread's CPU (set to interrupt it).
    pub exit_req: *const std::sync::atomic::AtomicU32,
}

// SAFETY: exit_req points into the thread's CPU state, which is never freed (leaked at
// thread exit) and is only accessed atomically.
unsafe impl Send for ThreadShared {}
unsafe impl Sync for ThreadShared {}

impl ThreadShared {
    pub fn kick(&self) {
        // SAFETY: see the Send/Sync comment above.
        unsafe { (*self.exit_req).store(1, Ordering::SeqCst) };
    }
}

/// An interrupted syscall that may be restarted after signal delivery.
#[derive(Clone, Copy, Debug)]
pub struct Restart {
    pub nr: u64,
    pub pc: u64,
    pub a0: u64,
}

/// One guest thread, owned by its host thread.
pub struct Thread {
    pub proc_: Arc<Process>,
    pub shared: Arc<ThreadShared>,
    pub cpu: Box<dyn GuestCpu>,
    pub engine: Engine,
    pub clear_child_tid: u64,
    pub altstack: AltStack,
    /// Mask to save in the next signal frame instead of the current one (rt_sigsuspend).
    pub saved_mask: Option<u64>,
    slot: Option<usize>,
    /// This thread's side of the gdb stub (`-g`).
    gdb: Option<crate::gdb::VcpuHandle>,
}

/// How a thread's run loop ended.
pub enum ThreadEnd {
    /// `exit` of this thread only.
    Thread(i32),
}

pub fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::gettid() }
}

impl Thread {
    /// Create the thread state on the current host thread.
    pub fn new(
        proc_: Arc<Process>,
        mut cpu: Box<dyn GuestCpu>,
        mask: u64,
    ) -> Result<Thread, String> {
        let mut engine = Engine::new(
            proc_.guest.clone(),
            proc_.mem.clone(),
            proc_.engine_cfg.clone(),
        )
        .map_err(|e| format!("heron: cannot start the execution engine: {e}"))?;
        let _ = cpu.env_ptr();
        let req = &cpu.header().exit_request as *const std::sync::atomic::AtomicU32;
        let shared = Arc::new(ThreadShared {
            tid: gettid(),
            mask: AtomicU64::new(mask),
            pending: Mutex::new(Vec::new()),
            exit_req: req,
        });
        // SAFETY: req points into `cpu`, which lives until the thread ends and is then leaked.
        let slot = signal::register_thread(unsafe { &*req }, shared.tid);
        proc_
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shared.tid, shared.clone());
        signal::install_host_altstack();
        if proc_.cfg.trace.icount {
            super::icount::register(shared.tid, engine.icount_counter());
        }
        let gdb = match &proc_.gdb {
            Some(ctl) => {
                let env = cpu.env_ptr();
                // SAFETY: the CPU state and its exit-request word are never freed (leaked
                // at thread exit), and only this thread runs guest code on them.
                Some(unsafe { ctl.register(shared.tid as usize, env, req, &mut engine) })
            }
            None => None,
        };
        Ok(Thread {
            gdb,
            proc_,
            shared,
            cpu,
            engine,
            clear_child_tid: 0,
            altstack: AltStack {
                sp: 0,
                flags: signal::SS_DISABLE,
                size: 0,
            },
            saved_mask: None,
            slot,
        })
    }

    /// `-d stats`: this thread's engine counters and hottest blocks.
    pub fn log_stats(&self) {
        if !self.proc_.cfg.trace.stats {
            return;
        }
        let mut text = format!(
            "thread {} engine statistics:\n{}",
            self.tid(),
            self.engine.stats()
        );
        if self.proc_.cfg.trace.memtrace {
            text.push_str(&format!(
                "\nmemory accesses        {}",
                self.engine.mem_accesses()
            ));
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("hottest blocks (pc: runs):\n");
        for (pc, runs) in self.engine.hottest_blocks(10) {
            text.push_str(&format!("  {pc:#x}: {runs}\n"));
        }
        tracing::info!(target: "stats", "{}", text.trim_end());
    }

    pub fn tid(&self) -> i32 {
        self.shared.tid
    }
    pub fn mask(&self) -> u64 {
        self.shared.mask.load(Ordering::Relaxed)
    }
    pub fn set_mask(&self, m: u64) {
        self.shared
            .mask
            .store(m & !signal::UNBLOCKABLE, Ordering::Relaxed);
    }

    /// Run guest code until this thread exits.
    pub fn run_loop(&mut self) -> ThreadEnd {
        loop {
            if let Some(g) = &mut self.gdb {
                g.sync(&mut self.engine, self.cpu.pc());
            }
            let env = self.cpu.env_ptr();
            // SAFETY: env is this thread's CPU state (CpuHeader first), used only here.
            let status = unsafe { self.engine.run(env) };
            if let Some(g) = &mut self.gdb
                && g.after_run(&mut self.engine)
            {
                continue;
            }
            let mut restart = None;
            match self.cpu.event(status) {
                CpuEvent::Syscall => {
                    let nr = self.cpu.syscall_nr();
                    let args = self.cpu.syscall_args();
                    let pc = self.cpu.pc();
                    // A signal queued since the last check: do not start a blocking host
                    // syscall that nothing would interrupt (the window left is the few
                    // instructions up to the host syscall).
                    let pending = self.cpu.header().exit_request.load(Ordering::SeqCst) != 0;
                    let r = if pending && may_block(nr) && self.has_deliverable(self.mask()) {
                        syscall::SysRet::Value(-(libc::EINTR as i64))
                    } else if may_block(nr)
                        && let Some(g) = &self.gdb
                    {
                        // While blocked in the host the thread counts as stopped for gdb
                        // (its registers are readable); it waits for gdb before going on.
                        g.enter_blocking();
                        let r = syscall::dispatch(self, nr, args);
                        if let Some(g) = &self.gdb {
                            g.leave_blocking();
                        }
                        r
                    } else {
                        syscall::dispatch(self, nr, args)
                    };
                    match r {
                        syscall::SysRet::Value(v) => {
                            self.cpu.set_syscall_ret(v as u64);
                            self.cpu
                                .set_pc(pc.wrapping_add(self.cpu.syscall_insn_len()));
                            if v == -(libc::EINTR as i64) {
                                restart = Some(Restart {
                                    nr,
                                    pc,
                                    a0: args[0],
                                });
                            }
                        }
                        syscall::SysRet::Regs => {}
                        syscall::SysRet::ExitThread(code) => return ThreadEnd::Thread(code),
                    }
                }
                CpuEvent::IllegalInsn => {
                    let pc = self.cpu.pc();
                    self.force_signal(signal::info_fault(signal::SIGILL, signal::ILL_ILLOPC, pc));
                }
                CpuEvent::Breakpoint => {
                    let pc = self.cpu.pc();
                    self.force_signal(signal::info_fault(signal::SIGTRAP, signal::TRAP_BRKPT, pc));
                }
                CpuEvent::Fault { addr, kind } => {
                    let info = if kind == FaultKind::Misaligned {
                        signal::info_fault(signal::SIGBUS, signal::BUS_ADRALN, addr)
                    } else {
                        let mapped = self
                            .proc_
                            .mm
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .find(addr)
                            .is_some();
                        let code = if mapped {
                            signal::SEGV_ACCERR
                        } else {
                            signal::SEGV_MAPERR
                        };
                        signal::info_fault(signal::SIGSEGV, code, addr)
                    };
                    self.force_signal(info);
                }
                CpuEvent::Interrupted => {
                    self.cpu.header().exit_request.store(0, Ordering::SeqCst);
                }
                CpuEvent::Halt => {
                    let pc = self.cpu.pc();
                    self.force_signal(signal::info_fault(signal::SIGILL, signal::ILL_ILLOPC, pc));
                }
            }
            if let Some(g) = &mut self.gdb {
                g.after_event(&mut self.engine);
            }
            self.deliver_signals(restart);
        }
    }

    /// A synchronous signal (fault): if the guest blocks or ignores it, it kills the process.
    pub fn force_signal(&mut self, info: SigInfo) {
        let sig = signal::siginfo_signo(&info);
        if self.proc_.cfg.trace.int {
            tracing::info!(target: "int", "exception at pc={:#x}: {}", self.cpu.pc(), describe_signal(&info));
        }
        if let Some(g) = &mut self.gdb {
            // The debugger sees the fault first (and may inspect the faulting state).
            let pc = self.cpu.pc();
            g.report_signal(&mut self.engine, pc, sig);
        }
        let act = self.proc_.sig.action(sig);
        if self.mask() & signal::bit(sig) != 0 || act.handler == signal::SIG_IGN {
            self.dump_fatal(sig, &info);
            signal::die_by_signal(sig);
        }
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(0, info);
    }

    fn dump_fatal(&self, sig: i32, info: &SigInfo) {
        if self.proc_.cfg.strace {
            tracing::info!(target: "strace", "{} at pc={:#x} ---", describe_signal(info).trim_end_matches(" ---"), self.cpu.pc());
            tracing::info!(target: "strace", "+++ killed by SIG{} +++", signame(sig));
        }
    }

    /// Take the next deliverable pending signal (thread queue first, then process queue).
    fn take_pending(&self) -> Option<SigInfo> {
        signal::drain_host_pending(&self.proc_.sig.pending);
        let mask = self.mask();
        let pick = |q: &mut Vec<SigInfo>| -> Option<SigInfo> {
            // Synchronous signals are at the front; otherwise lowest number first.
            let mut best: Option<usize> = None;
            for (i, inf) in q.iter().enumerate() {
                let s = signal::siginfo_signo(inf);
                if mask & signal::bit(s) != 0 {
                    continue;
                }
                if i == 0 && is_sync(inf) {
                    best = Some(0);
                    break;
                }
                if best.is_none_or(|b| signal::siginfo_signo(&q[b]) > s) {
                    best = Some(i);
                }
            }
            best.map(|i| q.remove(i))
        };
        if let Some(i) = pick(
            &mut self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        ) {
            return Some(i);
        }
        pick(
            &mut self
                .proc_
                .sig
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// True if some pending signal is not blocked by `mask`.
    pub fn has_deliverable(&self, mask: u64) -> bool {
        signal::drain_host_pending(&self.proc_.sig.pending);
        let any = |q: &Vec<SigInfo>| {
            q.iter()
                .any(|i| mask & signal::bit(signal::siginfo_signo(i)) == 0)
        };
        any(&self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner()))
            || any(&self
                .proc_
                .sig
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner()))
    }

    /// Remove and return a pending signal in `set` (for rt_sigtimedwait).
    pub fn take_from_set(&self, set: u64) -> Option<SigInfo> {
        signal::drain_host_pending(&self.proc_.sig.pending);
        for q in [&self.shared.pending, &self.proc_.sig.pending] {
            let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = q
                .iter()
                .position(|inf| set & signal::bit(signal::siginfo_signo(inf)) != 0)
            {
                return Some(q.remove(i));
            }
        }
        None
    }

    /// Deliver pending signals: run default actions, or build one frame per handled signal.
    pub fn deliver_signals(&mut self, mut restart: Option<Restart>) {
        let mut handler_ran = false;
        while let Some(info) = self.take_pending() {
            let sig = signal::siginfo_signo(&info);
            let act = self.proc_.sig.action(sig);
            match act.handler {
                signal::SIG_IGN => continue,
                signal::SIG_DFL => match signal::default_action(sig) {
                    signal::DefaultAction::Ignore => continue,
                    signal::DefaultAction::Stop => {
                        // SAFETY: stopping ourselves; SIGCONT resumes us.
                        unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
                        continue;
                    }
                    signal::DefaultAction::Terminate => {
                        self.dump_fatal(sig, &info);
                        signal::die_by_signal(sig);
                    }
                },
                _ => {}
            }
            if let Some(r) = restart.take()
                && act.flags & signal::SA_RESTART != 0
                && restartable(r.nr)
            {
                self.cpu.set_pc(r.pc);
                self.cpu.set_syscall_ret(r.a0);
            }
            if self.proc_.cfg.strace {
                tracing::info!(target: "strace", "{}", describe_signal(&info));
            }
            if self.proc_.cfg.trace.int {
                tracing::info!(target: "int", "signal SIG{} delivered to handler {:#x} (interrupted pc={:#x})", signame(sig), act.handler, self.cpu.pc());
            }
            if !self.setup_frame(sig, act, info) {
                signal::die_by_signal(signal::SIGSEGV);
            }
            handler_ran = true;
        }
        if let Some(m) = self.saved_mask.take() {
            self.set_mask(m);
        }
        // No handler interrupted the syscall: restart it as if the signal never came.
        if let Some(r) = restart
            && !handler_ran
            && !never_restart(r.nr)
        {
            self.cpu.set_pc(r.pc);
            self.cpu.set_syscall_ret(r.a0);
        }
    }

    fn setup_frame(&mut self, sig: i32, act: GuestSigAction, info: SigInfo) -> bool {
        let cur_mask = self.mask();
        let old_mask = self.saved_mask.take().unwrap_or(cur_mask);
        let mut sp = self.cpu.sp();
        let on_alt = self.on_altstack(sp);
        if act.flags & signal::SA_ONSTACK != 0
            && self.altstack.flags & signal::SS_DISABLE == 0
            && self.altstack.size != 0
            && !on_alt
        {
            sp = self.altstack.sp.wrapping_add(self.altstack.size);
        }
        let alt = AltStack {
            flags: if self.altstack.size == 0 || self.altstack.flags & signal::SS_DISABLE != 0 {
                signal::SS_DISABLE
            } else if on_alt {
                signal::SS_ONSTACK
            } else {
                0
            },
            ..self.altstack
        };
        let f = signal::FrameInput {
            sig,
            handler: act.handler,
            restorer: if self.proc_.arch.has_sa_restorer() && act.flags & signal::SA_RESTORER != 0 {
                act.restorer
            } else {
                self.proc_.sigtramp
            },
            sp,
            info,
            old_mask,
            altstack: alt,
        };
        if !self.cpu.setup_signal_frame(&self.proc_.mem, &f) {
            return false;
        }
        let mut m = cur_mask | act.mask;
        if act.flags & signal::SA_NODEFER == 0 {
            m |= signal::bit(sig);
        }
        self.set_mask(m);
        if act.flags & signal::SA_RESETHAND != 0 {
            let mut acts = self
                .proc_
                .sig
                .actions
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            acts[sig as usize] = GuestSigAction::default();
        }
        true
    }

    pub fn on_altstack(&self, sp: u64) -> bool {
        self.altstack.size != 0
            && sp > self.altstack.sp
            && sp <= self.altstack.sp.wrapping_add(self.altstack.size)
    }

    /// Thread exit bookkeeping: clear_child_tid, unregister. Returns true if this was the
    /// last thread.
    pub fn finish(&mut self) -> bool {
        if self.clear_child_tid != 0 {
            let a = self.clear_child_tid;
            if self.proc_.mem.store(a, 4, 0).is_ok() {
                let p = self.proc_.mem.host_ptr(a);
                // SAFETY: futex wake on a mapped guest word (checked by the store above).
                unsafe {
                    libc::syscall(libc::SYS_futex, p, libc::FUTEX_WAKE, i32::MAX, 0, 0, 0);
                }
            }
        }
        if let Some(s) = self.slot.take() {
            signal::unregister_thread(s);
        }
        if let Some(g) = &self.gdb {
            g.unregister();
        }
        self.proc_
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.shared.tid);
        self.proc_.live_threads.fetch_sub(1, Ordering::SeqCst) == 1
    }
}

fn is_sync(info: &SigInfo) -> bool {
    let sig = signal::siginfo_signo(info);
    let code = i32::from_le_bytes([info[8], info[9], info[10], info[11]]);
    matches!(
        sig,
        signal::SIGSEGV | signal::SIGBUS | signal::SIGILL | signal::SIGTRAP | signal::SIGFPE
    ) && code > 0
}

/// Syscalls that SA_RESTART restarts after a handler ran.
fn restartable(nr: u64) -> bool {
    use syscall::nr::*;
    matches!(
        nr,
        READ | WRITE
            | READV
            | WRITEV
            | PREAD64
            | PWRITE64
            | OPENAT
            | WAIT4
            | WAITID
            | IOCTL
            | FCNTL
            | FLOCK
            | ACCEPT
            | ACCEPT4
            | CONNECT
            | RECVFROM
            | SENDTO
            | RECVMSG
            | SENDMSG
            | FUTEX
            | GETRANDOM
    )
}

/// Syscalls that may block in the host kernel until a signal interrupts them.
fn may_block(nr: u64) -> bool {
    use syscall::nr::*;
    restartable(nr)
        || matches!(
            nr,
            NANOSLEEP | CLOCK_NANOSLEEP | PPOLL | PSELECT6 | EPOLL_PWAIT
        )
}

/// Syscalls whose EINTR is their result even when no handler ran.
fn never_restart(nr: u64) -> bool {
    use syscall::nr::*;
    matches!(
        nr,
        RT_SIGSUSPEND | RT_SIGTIMEDWAIT | NANOSLEEP | CLOCK_NANOSLEEP
    )
}

/// strace line for a delivered signal: number, code and the address or sender.
fn describe_signal(info: &SigInfo) -> String {
    let sig = signal::siginfo_signo(info);
    let code = i32::from_le_bytes([info[8], info[9], info[10], info[11]]);
    let extra = if is_sync(info) {
        let addr = u64::from_le_bytes(info[16..24].try_into().unwrap_or([0; 8]));
        format!("si_addr={addr:#x}")
    } else {
        let pid = i32::from_le_bytes([info[16], info[17], info[18], info[19]]);
        format!("si_pid={pid}")
    };
    format!(
        "--- SIG{} {{si_signo=SIG{}, si_code={code}, {extra}}} ---",
        signame(sig),
        signame(sig)
    )
}

pub fn signame(sig: i32) -> &'static str {
    const N: [&str; 32] = [
        "0", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    N.get(sig as usize).copied().unwrap_or("RT")
}

/// Run the main guest thread on the current host thread; never returns on success.
pub fn run_main_thread(
    proc_: Arc<Process>,
    cpu: Box<dyn GuestCpu>,
) -> Result<std::convert::Infallible, String> {
    let mut t = Thread::new(proc_, cpu, 0)?;
    let ThreadEnd::Thread(code) = t.run_loop();
    t.log_stats();
    if t.finish() {
        crate::exit_process(code);
    }
    // Other threads keep the process alive; the last one to exit ends it.
    std::mem::forget(t);
    loop {
        std::thread::park();
    }
}

/// Start a guest thread for clone(CLONE_VM|CLONE_THREAD...). Returns the new tid.
pub fn spawn_thread(
    parent: &Thread,
    flags: u64,
    newsp: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> Result<i32, i32> {
    use syscall::clone_flags::*;
    let mut cpu = parent.cpu.clone_cpu();
    let pc = parent.cpu.pc() + parent.cpu.syscall_insn_len();
    cpu.set_pc(pc);
    cpu.set_syscall_ret(0);
    if newsp != 0 {
        cpu.set_sp(newsp);
    }
    if flags & CLONE_SETTLS != 0 {
        cpu.set_tls(tls);
    }
    let proc_ = parent.proc_.clone();
    let mask = parent.mask();
    let (tx, rx) = std::sync::mpsc::channel::<Result<i32, String>>();
    proc_.live_threads.fetch_add(1, Ordering::SeqCst);
    let p2 = proc_.clone();
    let builder = std::thread::Builder::new()
        .name("guest".into())
        .stack_size(8 << 20);
    let r = builder.spawn(move || {
        let mut t = match Thread::new(p2, cpu, mask) {
            Ok(t) => t,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let tid = t.tid();
        if flags & CLONE_CHILD_SETTID != 0 {
            let _ = t.proc_.mem.store(ctid, 4, tid as u32 as u64);
        }
        if flags & CLONE_PARENT_SETTID != 0 {
            let _ = t.proc_.mem.store(ptid, 4, tid as u32 as u64);
        }
        if flags & CLONE_CHILD_CLEARTID != 0 {
            t.clear_child_tid = ctid;
        }
        let _ = tx.send(Ok(tid));
        let ThreadEnd::Thread(code) = t.run_loop();
        t.log_stats();
        if t.finish() {
            crate::exit_process(code);
        }
        // The CPU state stays allocated: a host signal handler may still hold its pointer.
        std::mem::forget(t);
    });
    if r.is_err() {
        proc_.live_threads.fetch_sub(1, Ordering::SeqCst);
        return Err(libc::EAGAIN);
    }
    match rx.recv() {
        Ok(Ok(tid)) => Ok(tid),
        Ok(Err(e)) => {
            eprintln!("{e}");
            Err(libc::EAGAIN)
        }
        Err(_) => Err(libc::EAGAIN),
    }
}
