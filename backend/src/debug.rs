//! Debugger support in the engine: the breakpoint and watchpoint sets a debugger (the gdb
//! stub) shares with every vCPU ([`DebugPoints`]), each vCPU's debug state ([`VcpuDebug`]:
//! single-step request, why it stopped), and the engine hooks that make them exact with
//! chained JIT code:
//! - blocks end before every breakpoint address ([`crate::Builder::stop_pcs`]) and the engine
//!   checks the PC at each block entry; while any breakpoint, watchpoint or step is active,
//!   chaining, self loops and the indirect-jump table are off, so every block entry passes
//!   through that check; translations are dropped whenever the point set changes;
//! - a single step translates a one-instruction block (`max_insns = 1`) outside the cache
//!   and runs it on the interpreter;
//! - watchpoints are checked by the memory hook of [`crate::instrument`] before the access;
//!   on a hit the engine steps over the accessing instruction and then reports the stop, so
//!   the debugger sees the access done (as with hardware watchpoints).

use crate::engine::Engine;
use crate::instrument::{InstrState, instrument};
use crate::interp::InterpBlock;
use crate::{Builder, CpuHeader, ExitStatus, FaultKind, TranslateError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Which accesses a watchpoint reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Write,
    Read,
    Access,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watchpoint {
    pub addr: u64,
    pub len: u64,
    pub kind: WatchKind,
}

#[derive(Clone, Debug, Default)]
struct Points {
    breakpoints: Vec<u64>,
    watchpoints: Vec<Watchpoint>,
}

/// The breakpoints and watchpoints of one debugged machine or process, shared by all its
/// vCPUs. Every change bumps a generation that vCPUs compare at block entry.
#[derive(Debug, Default)]
pub struct DebugPoints {
    points: RwLock<Points>,
    generation: AtomicU64,
}

impl DebugPoints {
    pub fn new() -> Arc<DebugPoints> {
        Arc::new(DebugPoints::default())
    }

    fn change(&self, f: impl FnOnce(&mut Points) -> bool) -> bool {
        let mut p = self.points.write().unwrap_or_else(|e| e.into_inner());
        let changed = f(&mut p);
        if changed {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        changed
    }

    /// Add a breakpoint at guest address `pc` (true if it was not set yet).
    pub fn add_breakpoint(&self, pc: u64) -> bool {
        self.change(|p| {
            if p.breakpoints.contains(&pc) {
                false
            } else {
                p.breakpoints.push(pc);
                true
            }
        })
    }

    /// Remove the breakpoint at `pc` (true if there was one).
    pub fn remove_breakpoint(&self, pc: u64) -> bool {
        self.change(|p| {
            let n = p.breakpoints.len();
            p.breakpoints.retain(|&b| b != pc);
            p.breakpoints.len() != n
        })
    }

    pub fn add_watchpoint(&self, w: Watchpoint) -> bool {
        self.change(|p| {
            if p.watchpoints.contains(&w) {
                false
            } else {
                p.watchpoints.push(w);
                true
            }
        })
    }

    pub fn remove_watchpoint(&self, w: Watchpoint) -> bool {
        self.change(|p| {
            let n = p.watchpoints.len();
            p.watchpoints.retain(|x| *x != w);
            p.watchpoints.len() != n
        })
    }

    /// Remove every breakpoint and watchpoint (debugger detached).
    pub fn clear(&self) {
        self.change(|p| {
            let had = !p.breakpoints.is_empty() || !p.watchpoints.is_empty();
            *p = Points::default();
            had
        });
    }

    pub fn breakpoints(&self) -> Vec<u64> {
        self.points
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .breakpoints
            .clone()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// Why a vCPU stopped for the debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugStop {
    /// At a breakpoint; the instruction at `pc` has not run.
    Breakpoint { pc: u64 },
    /// A single step completed.
    Step,
    /// The instruction at `pc` accessed watched memory at `addr` (the access is done).
    Watch { pc: u64, addr: u64, kind: WatchKind },
}

/// The debug state of one vCPU, owned by its engine ([`Engine::set_debug`]).
#[derive(Debug)]
pub struct VcpuDebug {
    points: Arc<DebugPoints>,
    /// Generation of `points` the engine's translations were made with (u64::MAX: none).
    seen: u64,
    breakpoints: Vec<u64>,
    step: bool,
    stepped: bool,
    /// Do not stop at a breakpoint at this PC on the first block entry after resuming.
    skip_bp: Option<u64>,
    stop: Option<DebugStop>,
}

impl VcpuDebug {
    pub fn new(points: Arc<DebugPoints>) -> VcpuDebug {
        VcpuDebug {
            points,
            seen: u64::MAX,
            breakpoints: Vec::new(),
            step: false,
            stepped: false,
            skip_bp: None,
            stop: None,
        }
    }

    /// Resume from `pc`: with `step`, the next run executes one instruction and stops. A
    /// breakpoint at `pc` itself is not reported again before the vCPU leaves it.
    pub fn resume(&mut self, step: bool, pc: u64) {
        self.step = step;
        self.stepped = false;
        self.skip_bp = Some(pc);
        self.stop = None;
    }

    /// The stop recorded by the last run (a run that returned `Interrupted` for it).
    pub fn take_stop(&mut self) -> Option<DebugStop> {
        self.stop.take()
    }

    /// True once the requested single step has executed (it may have ended in a trap the
    /// caller handles before reporting the step).
    pub fn step_done(&self) -> bool {
        self.stepped
    }

    /// Whether blocks may chain (no breakpoints, watchpoints or step active).
    pub(crate) fn chaining_allowed(&self) -> bool {
        !self.step && self.breakpoints.is_empty()
    }

    pub(crate) fn stop_pcs(&self) -> Vec<u64> {
        self.breakpoints.clone()
    }
}

/// What [`Engine::debug_block_entry`] decided.
pub(crate) enum EntryAction {
    /// Run the block normally.
    Run,
    /// Return this status from `Engine::run`.
    Return(ExitStatus),
}

impl Engine {
    /// Attach (or detach, with None) the debug state of this vCPU.
    pub fn set_debug(&mut self, debug: Option<VcpuDebug>) {
        self.debug = debug;
        // Translations made with other stop points or chaining rules must go.
        self.debug_reconfigure();
    }

    pub fn debug_mut(&mut self) -> Option<&mut VcpuDebug> {
        self.debug.as_mut()
    }

    /// Re-read the shared point set, set the JIT's self-loop rule and the watchpoint hooks,
    /// and drop all translations.
    fn debug_reconfigure(&mut self) {
        let (watches, chain) = match &mut self.debug {
            Some(d) => {
                let gen_ = d.points.generation();
                let p = d.points.points.read().unwrap_or_else(|e| e.into_inner());
                d.breakpoints = p.breakpoints.clone();
                d.seen = gen_;
                (
                    p.watchpoints.clone(),
                    p.breakpoints.is_empty() && p.watchpoints.is_empty(),
                )
            }
            None => (Vec::new(), true),
        };
        self.instr.watches = watches;
        self.instr_cfg.watch = !self.instr.watches.is_empty();
        let chain = chain && !self.cfg.trace.nochain && !self.cfg.trace.exec && !self.cfg.trace.cpu;
        if let Some(j) = self.jit.as_mut() {
            j.set_self_loops(chain);
        }
        self.flush_translations();
    }

    /// Debug checks at the entry of the block at `pc`: pick up changed points, stop at a
    /// breakpoint, or run one instruction for a single step.
    pub(crate) fn debug_block_entry(&mut self, env: *mut u8, pc: u64, flags: u64) -> EntryAction {
        let Some(d) = self.debug.as_mut() else {
            return EntryAction::Run;
        };
        if d.points.generation() != d.seen {
            self.debug_reconfigure();
        }
        let Some(d) = self.debug.as_mut() else {
            return EntryAction::Run;
        };
        let skip = d.skip_bp.take() == Some(pc);
        if !skip && d.breakpoints.contains(&pc) {
            d.stop = Some(DebugStop::Breakpoint { pc });
            return EntryAction::Return(ExitStatus::Interrupted);
        }
        if d.step {
            // SAFETY: env is the caller's CPU state (Engine::run contract).
            if unsafe {
                (*(env as *const CpuHeader))
                    .exit_request
                    .load(Ordering::SeqCst)
            } != 0
            {
                return EntryAction::Return(ExitStatus::Interrupted);
            }
            let status = self.run_one_insn(env, pc, flags);
            let d = self.debug.as_mut().expect("debug state checked above");
            d.step = false;
            d.stepped = true;
            if status == ExitStatus::Interrupted
                && let Some(hit) = self.instr.watch_hit.take()
            {
                // The stepped instruction hit a watchpoint: finish it, then report the watch.
                return EntryAction::Return(self.finish_watch(env, hit, flags));
            }
            if status == ExitStatus::Next {
                d.stop = Some(DebugStop::Step);
                return EntryAction::Return(ExitStatus::Interrupted);
            }
            return EntryAction::Return(status);
        }
        EntryAction::Run
    }

    /// A block ended with `Interrupted` because the memory hook hit a watchpoint (the access
    /// has not happened, pc is the accessing instruction): run that instruction with the
    /// watch check off, then record the stop.
    pub(crate) fn debug_watch_exit(&mut self, env: *mut u8, flags: u64) -> Option<ExitStatus> {
        let hit = self.instr.watch_hit.take()?;
        Some(self.finish_watch(env, hit, flags))
    }

    fn finish_watch(
        &mut self,
        env: *mut u8,
        hit: crate::instrument::WatchHit,
        flags: u64,
    ) -> ExitStatus {
        self.instr.suppress_watch = true;
        let status = self.run_one_insn(env, hit.pc, flags);
        self.instr.suppress_watch = false;
        if status != ExitStatus::Next {
            // The access faulted or trapped: that is what the vCPU reports.
            return status;
        }
        if let Some(d) = self.debug.as_mut() {
            d.stop = Some(DebugStop::Watch {
                pc: hit.pc,
                addr: hit.addr,
                kind: hit.kind,
            });
        }
        ExitStatus::Interrupted
    }

    /// Translate and interpret the single instruction at `pc` (not cached).
    fn run_one_insn(&mut self, env: *mut u8, pc: u64, flags: u64) -> ExitStatus {
        let mut b = Builder::new(pc);
        b.max_insns = 1;
        if let Err(TranslateError::FetchFault(addr)) =
            self.translate_uncached(env, pc, flags, &mut b)
        {
            // SAFETY: env valid (Engine::run contract).
            unsafe {
                (*(env as *mut CpuHeader)).fault_addr = addr;
                (*(env as *mut CpuHeader)).fault_kind = FaultKind::Exec as u32;
            }
            return ExitStatus::Fault;
        }
        let mut block = b.finish();
        if self.instr_cfg.any() {
            let st: *mut InstrState = &mut *self.instr;
            block = instrument(&block, self.instr_cfg, st);
        }
        let ib = InterpBlock::new(&block);
        // SAFETY: env valid per Engine::run's contract; the interpreter checks accesses.
        unsafe { self.interp_run(&ib, env) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_sets_bump_the_generation() {
        let p = DebugPoints::new();
        let g0 = p.generation();
        assert!(p.add_breakpoint(0x1000));
        assert!(!p.add_breakpoint(0x1000));
        assert_eq!(p.generation(), g0 + 1);
        let w = Watchpoint {
            addr: 0x2000,
            len: 4,
            kind: WatchKind::Write,
        };
        assert!(p.add_watchpoint(w));
        assert!(p.remove_breakpoint(0x1000));
        assert!(!p.remove_breakpoint(0x1000));
        assert!(p.remove_watchpoint(w));
        assert_eq!(p.generation(), g0 + 4);
        assert!(p.breakpoints().is_empty());
    }
}
