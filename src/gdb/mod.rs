//! The gdb stub (GDB remote serial protocol, through the `gdbstub` crate), for user mode and
//! system mode alike. Owns:
//! - [`Control`]: the meeting point of the stub thread and the vCPU threads (all-stop
//!   model: a stop of one vCPU parks all of them; resume actions per vCPU; exit reports);
//! - [`VcpuHandle`]: what a vCPU's run loop calls (`sync` before running, `after_run` /
//!   `after_event` after), which drives the engine's debug state (breakpoints, single step
//!   and watchpoints are implemented by the engine, see `heron_backend::debug`);
//! - [`serve`]: the protocol loop on one connection, generic over the guest's register set
//!   ([`GdbCpu`]; RISC-V 64 in [`riscv64`]) and its memory ([`DebugMemory`]).
//!
//! System mode uses the same pieces: one [`VcpuHandle`] per hart, a `DebugMemory` view of
//! physical or virtual memory, and `serve` on the `-gdb tcp::PORT` connection.

pub mod aarch64;
pub mod riscv64;
pub mod riscv_sys;

use gdbstub::arch::Arch;
use gdbstub::common::{Signal, Tid};
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::run_blocking::{self, BlockingEventLoop};
use gdbstub::stub::{DisconnectReason, GdbStub, MultiThreadStopReason};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use heron_backend::GuestMemory;
use heron_backend::debug::{DebugPoints, DebugStop, VcpuDebug, Watchpoint};
use heron_backend::engine::Engine;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Copies a 64-bit register value into gdb's buffer (little-endian, at most 8 bytes);
/// returns the byte count.
pub(crate) fn put_reg64(v: u64, buf: &mut [u8]) -> usize {
    let n = 8.min(buf.len());
    buf[..n].copy_from_slice(&v.to_le_bytes()[..n]);
    n
}

/// The value gdb sends for a 64-bit register (1 to 8 little-endian bytes), or None.
pub(crate) fn reg64_of(val: &[u8]) -> Option<u64> {
    if val.is_empty() || val.len() > 8 {
        return None;
    }
    let mut w = [0u8; 8];
    w[..val.len()].copy_from_slice(val);
    Some(u64::from_le_bytes(w))
}

/// A guest register set the stub can read and write in a CPU state.
///
/// Every `env` passed in points to the frontend's CPU state of a vCPU that is parked (not
/// running guest code), so the stub is its only user for the duration of the call.
pub trait GdbCpu: 'static {
    type Arch: Arch<Usize = u64, BreakpointKind = usize>;
    fn read_regs(env: *const u8, regs: &mut <Self::Arch as Arch>::Registers);
    fn write_regs(env: *mut u8, regs: &<Self::Arch as Arch>::Registers);
    /// Read one register into `buf`; returns its size, or None if it does not exist.
    fn read_reg(env: *const u8, id: &<Self::Arch as Arch>::RegId, buf: &mut [u8]) -> Option<usize>;
    fn write_reg(env: *mut u8, id: &<Self::Arch as Arch>::RegId, val: &[u8]) -> bool;
}

/// Guest memory as the debugger sees it (ignores guest write protection).
pub trait DebugMemory: Send + Sync {
    /// Read up to `buf.len()` bytes at `addr`; returns how many leading bytes were readable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize;
    /// Write `data` at `addr` (also into read-only code); false if some byte is unmapped.
    fn write(&self, addr: u64, data: &[u8]) -> bool;
    /// Whether accesses depend on the vCPU (its address translation): only then does the
    /// stub look up the selected vCPU's state for [`DebugMemory::read_on`].
    fn per_cpu(&self) -> bool {
        false
    }
    /// [`DebugMemory::read`] as the vCPU with CPU state `env` sees memory (system mode:
    /// through its address translation); `env` is None when no vCPU is parked.
    fn read_on(&self, env: Option<*mut u8>, addr: u64, buf: &mut [u8]) -> usize {
        let _ = env;
        self.read(addr, buf)
    }
    /// [`DebugMemory::write`] as the vCPU with CPU state `env` sees memory.
    fn write_on(&self, env: Option<*mut u8>, addr: u64, data: &[u8]) -> bool {
        let _ = env;
        self.write(addr, data)
    }
}

impl DebugMemory for GuestMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let in_page = (4096 - (a & 4095)) as usize;
            let n = in_page.min(buf.len() - done);
            if self.read_bytes(a, &mut buf[done..done + n]).is_err() {
                // Execute-only code is still readable for the debugger.
                let got = self.fetch(a, &mut buf[done..done + n]);
                done += got;
                if got < n {
                    break;
                }
                continue;
            }
            done += n;
        }
        done
    }
    fn write(&self, addr: u64, data: &[u8]) -> bool {
        let ok = self.write_bytes_force(addr, data).is_ok();
        if ok {
            // The write may have changed guest code.
            heron_backend::engine::request_flush_all();
        }
        ok
    }
}

/// What a vCPU does when the debugger resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Stop,
    Continue,
    Step,
}

/// Why the target stopped, as reported to gdb.
#[derive(Clone, Copy, Debug)]
enum StopKind {
    Debug(DebugStop),
    /// Ctrl-C from gdb.
    Interrupt,
    /// The guest received a signal (user mode) or an exception (system mode).
    Signal(u8),
}

struct VcpuSlot {
    env: usize,
    exit_req: usize,
    parked: bool,
    /// Parked in a blocking host call or WFI sleep ([`VcpuHandle::enter_blocking`]): its
    /// thread may still read the CPU state, so the stub only reads it too.
    blocking: bool,
    action: Action,
    /// The last stop reported for this vCPU was a breakpoint at this PC: do not report it
    /// again before the vCPU moves.
    reported_bp: Option<u64>,
}

#[derive(Default)]
struct State {
    vcpus: BTreeMap<usize, VcpuSlot>,
    /// False: every vCPU must park at its next sync point.
    running: bool,
    /// The stop to report (the first one after a resume).
    stop: Option<(usize, StopKind)>,
    exit: Option<MultiThreadStopReason<u64>>,
    /// The session is over (the exit report, if any, was written).
    exit_sent: bool,
    detached: bool,
    connected: bool,
    /// System mode: the machine is going away; vCPUs run to their end without parking.
    released: bool,
}

/// Shared between the stub thread and the vCPU threads of one debugged process/machine.
pub struct Control {
    pub points: Arc<DebugPoints>,
    st: Mutex<State>,
    cv: Condvar,
}

/// The process-wide stub of user mode, for exit reporting.
static ACTIVE: OnceLock<Arc<Control>> = OnceLock::new();

/// How long a stop waits for the other vCPUs to park (a vCPU blocked in a host syscall
/// does not park; its registers cannot be read until it returns).
const PARK_WAIT: Duration = Duration::from_millis(300);

impl Control {
    /// A new control block: the target starts stopped (vCPUs park before their first
    /// instruction until gdb resumes them).
    pub fn new() -> Arc<Control> {
        Arc::new(Control {
            points: DebugPoints::new(),
            st: Mutex::new(State::default()),
            cv: Condvar::new(),
        })
    }

    /// A control block whose vCPUs run until a debugger attaches (system mode `-s` without
    /// `-S`): attaching stops them all.
    pub fn new_running() -> Arc<Control> {
        let c = Control::new();
        c.lock().running = true;
        c
    }

    /// Make this the process-wide stub that [`report_exit`] informs.
    pub fn set_active(self: &Arc<Self>) {
        let _ = ACTIVE.set(self.clone());
    }

    /// System mode: the machine stops (power-off, reset, quit); its parked vCPUs leave
    /// their sync points and no longer park.
    pub fn release(&self) {
        let mut st = self.lock();
        st.released = true;
        self.cv.notify_all();
    }

    /// System mode: a new machine starts (after a reset); its vCPUs obey the debugger.
    pub fn begin_machine(&self) {
        self.lock().released = false;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a vCPU with gdb thread id `tid` (nonzero; user mode: the host tid; system
    /// mode: hart index + 1), CPU state `env` and its exit-request word.
    ///
    /// # Safety
    /// `env` and `exit_req` must stay valid for the life of the process (thread CPU states
    /// are leaked, never freed), and `env` must only be touched by its vCPU thread while it
    /// runs guest code.
    pub unsafe fn register(
        self: &Arc<Self>,
        tid: usize,
        env: *mut u8,
        exit_req: *const AtomicU32,
        engine: &mut Engine,
    ) -> VcpuHandle {
        let mut st = self.lock();
        let action = if st.running {
            Action::Continue
        } else {
            Action::Stop
        };
        st.vcpus.insert(
            tid,
            VcpuSlot {
                env: env as usize,
                exit_req: exit_req as usize,
                parked: false,
                blocking: false,
                action,
                reported_bp: None,
            },
        );
        drop(st);
        engine.set_debug(Some(VcpuDebug::new(self.points.clone())));
        VcpuHandle {
            ctl: self.clone(),
            tid,
            stepping: false,
        }
    }

    fn kick_all(st: &State) {
        for v in st.vcpus.values() {
            // SAFETY: registered exit-request words stay valid (register's contract).
            unsafe { (*(v.exit_req as *const AtomicU32)).store(1, Ordering::SeqCst) };
        }
    }

    /// Record a stop of vCPU `tid` and ask all vCPUs to park. Only the first stop after a
    /// resume is reported; a later one is dropped (a breakpoint is hit again on resume).
    fn report(&self, tid: usize, kind: StopKind) {
        let mut st = self.lock();
        if st.detached || st.released || !st.running {
            return;
        }
        st.running = false;
        st.stop = Some((tid, kind));
        Self::kick_all(&st);
        self.cv.notify_all();
    }

    /// Ctrl-C from gdb.
    fn interrupt(&self) {
        let first = self.lock().vcpus.keys().next().copied();
        if let Some(tid) = first {
            self.report(tid, StopKind::Interrupt);
        }
    }

    /// The process is exiting with `code` (or was killed by `signal`): tell gdb and wait
    /// briefly until the stub has sent it.
    pub fn report_exit(&self, code: i32, signal: Option<i32>) {
        let mut st = self.lock();
        if st.detached || !st.connected {
            return;
        }
        st.exit = Some(match signal {
            Some(s) => MultiThreadStopReason::Terminated(Signal(s as u8)),
            None => MultiThreadStopReason::Exited(code as u8),
        });
        self.cv.notify_all();
        let deadline = Instant::now() + Duration::from_secs(2);
        while !st.exit_sent && Instant::now() < deadline {
            st = self
                .cv
                .wait_timeout(st, Duration::from_millis(20))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The CPU state of `tid` once it is parked (for reading).
    fn env_of(&self, tid: Tid) -> Option<*mut u8> {
        self.parked_env(tid, false)
    }

    /// The CPU state of `tid` for writing registers: not while it is parked in a blocking
    /// call (a WFI sleep reads its state; a system call's result would overwrite it).
    fn env_for_write(&self, tid: Tid) -> Option<*mut u8> {
        self.parked_env(tid, true)
    }

    fn parked_env(&self, tid: Tid, write: bool) -> Option<*mut u8> {
        let deadline = Instant::now() + PARK_WAIT;
        let mut st = self.lock();
        loop {
            let v = st.vcpus.get(&tid.get())?;
            if v.parked {
                if write && v.blocking {
                    return None;
                }
                return Some(v.env as *mut u8);
            }
            if Instant::now() >= deadline {
                return None;
            }
            st = self
                .cv
                .wait_timeout(st, Duration::from_millis(10))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Report the process exit to the active user-mode stub, if any (called just before the
/// process ends).
pub fn report_exit(code: i32, signal: Option<i32>) {
    if let Some(c) = ACTIVE.get() {
        c.report_exit(code, signal);
    }
}

/// Whether vCPU `tid` may run guest code now.
fn may_run(st: &State, tid: usize) -> bool {
    st.running && st.vcpus.get(&tid).is_some_and(|v| v.action != Action::Stop)
}

/// A vCPU's side of the stub. Lives with the vCPU's run loop.
pub struct VcpuHandle {
    ctl: Arc<Control>,
    tid: usize,
    stepping: bool,
}

impl VcpuHandle {
    /// Call before running guest code: parks while the debugger holds the target stopped,
    /// then arms the engine for the resume action (continue or step) from `pc`.
    pub fn sync(&mut self, engine: &mut Engine, pc: u64) {
        let mut st = self.ctl.lock();
        loop {
            if st.detached || st.released {
                if let Some(v) = st.vcpus.get_mut(&self.tid) {
                    v.parked = false;
                }
                drop(st);
                if let Some(d) = engine.debug_mut() {
                    d.resume(false, pc);
                }
                self.stepping = false;
                return;
            }
            let go = may_run(&st, self.tid);
            if go {
                break;
            }
            if let Some(v) = st.vcpus.get_mut(&self.tid) {
                v.parked = true;
            }
            self.ctl.cv.notify_all();
            st = self.ctl.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        let v = st.vcpus.get_mut(&self.tid).expect("registered vCPU");
        v.parked = false;
        let step = v.action == Action::Step;
        // A step always executes the instruction at pc, breakpoint or not; a continue
        // skips only the breakpoint just reported there.
        let skip = v.reported_bp.take() == Some(pc) || step;
        drop(st);
        self.stepping = step;
        if let Some(d) = engine.debug_mut() {
            d.resume(step, if skip { pc } else { u64::MAX });
        }
    }

    /// Whether the vCPU is to execute a single step for the debugger (set by `sync`).
    pub fn stepping(&self) -> bool {
        self.stepping
    }

    /// Call after `Engine::run` returned. True when the engine stopped for the debugger
    /// (the stop is reported; the caller goes back to `sync` without handling the status).
    pub fn after_run(&mut self, engine: &mut Engine) -> bool {
        let Some(stop) = engine.debug_mut().and_then(|d| d.take_stop()) else {
            return false;
        };
        if let DebugStop::Breakpoint { pc } = stop
            && let Some(v) = self.ctl.lock().vcpus.get_mut(&self.tid)
        {
            v.reported_bp = Some(pc);
        }
        self.stepping = false;
        self.ctl.report(self.tid, StopKind::Debug(stop));
        true
    }

    /// Call after the run loop handled an engine exit (syscall, fault): completes a single
    /// step that ended in a trap.
    pub fn after_event(&mut self, engine: &mut Engine) {
        if self.stepping && engine.debug_mut().is_some_and(|d| d.step_done()) {
            self.stepping = false;
            self.ctl.report(self.tid, StopKind::Debug(DebugStop::Step));
        }
    }

    /// The vCPU enters a host call that may block for long (a blocking system call): it
    /// counts as parked, so a stop does not wait for it and gdb can read its registers.
    /// The caller must not change the CPU state before [`VcpuHandle::leave_blocking`].
    pub fn enter_blocking(&self) {
        let mut st = self.ctl.lock();
        if let Some(v) = st.vcpus.get_mut(&self.tid) {
            v.parked = true;
            v.blocking = true;
        }
        self.ctl.cv.notify_all();
    }

    /// The blocking call returned: wait while the debugger holds the target stopped.
    pub fn leave_blocking(&self) {
        let mut st = self.ctl.lock();
        while !st.detached && !st.released && !may_run(&st, self.tid) {
            st = self.ctl.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if let Some(v) = st.vcpus.get_mut(&self.tid) {
            v.parked = false;
            v.blocking = false;
        }
    }

    /// The guest is about to receive signal `sig` (user mode): stop and tell gdb first.
    pub fn report_signal(&mut self, engine: &mut Engine, pc: u64, sig: i32) {
        self.ctl.report(self.tid, StopKind::Signal(sig as u8));
        self.sync(engine, pc);
    }

    /// The vCPU's thread ends.
    pub fn unregister(&self) {
        let mut st = self.ctl.lock();
        st.vcpus.remove(&self.tid);
        self.ctl.cv.notify_all();
    }
}

/// The gdbstub target: the registered vCPUs of one `Control`.
struct StubTarget<C: GdbCpu> {
    ctl: Arc<Control>,
    mem: Arc<dyn DebugMemory>,
    /// Resume actions being collected (tid -> action); absent tids continue.
    actions: BTreeMap<usize, Action>,
    /// Scheduler locking: vCPUs without an action stay stopped.
    locked: bool,
    _cpu: PhantomData<C>,
}

fn tid_of(n: usize) -> Option<Tid> {
    Tid::new(n)
}

impl<C: GdbCpu> Target for StubTarget<C> {
    type Arch = C::Arch;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }
    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }
}

impl<C: GdbCpu> MultiThreadBase for StubTarget<C> {
    fn read_registers(
        &mut self,
        regs: &mut <C::Arch as Arch>::Registers,
        tid: Tid,
    ) -> TargetResult<(), Self> {
        let env = self.ctl.env_of(tid).ok_or(TargetError::NonFatal)?;
        C::read_regs(env, regs);
        Ok(())
    }
    fn write_registers(
        &mut self,
        regs: &<C::Arch as Arch>::Registers,
        tid: Tid,
    ) -> TargetResult<(), Self> {
        let env = self.ctl.env_for_write(tid).ok_or(TargetError::NonFatal)?;
        C::write_regs(env, regs);
        Ok(())
    }
    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }
    fn read_addrs(&mut self, start: u64, data: &mut [u8], tid: Tid) -> TargetResult<usize, Self> {
        let env = if self.mem.per_cpu() {
            self.ctl.env_of(tid)
        } else {
            None
        };
        let n = self.mem.read_on(env, start, data);
        if n == 0 && !data.is_empty() {
            return Err(TargetError::NonFatal);
        }
        Ok(n)
    }
    fn write_addrs(&mut self, start: u64, data: &[u8], tid: Tid) -> TargetResult<(), Self> {
        let env = if self.mem.per_cpu() {
            self.ctl.env_of(tid)
        } else {
            None
        };
        if self.mem.write_on(env, start, data) {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }
    fn list_active_threads(
        &mut self,
        register_thread: &mut dyn FnMut(Tid),
    ) -> Result<(), Self::Error> {
        let tids: Vec<usize> = self.ctl.lock().vcpus.keys().copied().collect();
        for t in tids.into_iter().filter_map(tid_of) {
            register_thread(t);
        }
        Ok(())
    }
    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl<C: GdbCpu> SingleRegisterAccess<Tid> for StubTarget<C> {
    fn read_register(
        &mut self,
        tid: Tid,
        reg_id: <C::Arch as Arch>::RegId,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let env = self.ctl.env_of(tid).ok_or(TargetError::NonFatal)?;
        C::read_reg(env, &reg_id, buf).ok_or(TargetError::NonFatal)
    }
    fn write_register(
        &mut self,
        tid: Tid,
        reg_id: <C::Arch as Arch>::RegId,
        val: &[u8],
    ) -> TargetResult<(), Self> {
        let env = self.ctl.env_for_write(tid).ok_or(TargetError::NonFatal)?;
        if C::write_reg(env, &reg_id, val) {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }
}

impl<C: GdbCpu> MultiThreadResume for StubTarget<C> {
    fn resume(&mut self) -> Result<(), Self::Error> {
        let mut st = self.ctl.lock();
        // While one vCPU steps, the others stay parked (so the step is reported alone).
        let stepping = self.actions.values().any(|a| *a == Action::Step);
        for (tid, v) in st.vcpus.iter_mut() {
            v.action = match self.actions.get(tid) {
                Some(a) => *a,
                None if stepping || self.locked => Action::Stop,
                None => Action::Continue,
            };
            if v.action != Action::Stop {
                // SAFETY: registered exit-request words stay valid (register's contract).
                unsafe { (*(v.exit_req as *const AtomicU32)).store(0, Ordering::SeqCst) };
            }
        }
        st.stop = None;
        st.running = true;
        self.ctl.cv.notify_all();
        Ok(())
    }
    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.actions.clear();
        self.locked = false;
        Ok(())
    }
    fn set_resume_action_continue(
        &mut self,
        tid: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.actions.insert(tid.get(), Action::Continue);
        Ok(())
    }
    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl<C: GdbCpu> MultiThreadSchedulerLocking for StubTarget<C> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        self.locked = true;
        Ok(())
    }
}

impl<C: GdbCpu> MultiThreadSingleStep for StubTarget<C> {
    fn set_resume_action_step(
        &mut self,
        tid: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.actions.insert(tid.get(), Action::Step);
        Ok(())
    }
}

impl<C: GdbCpu> Breakpoints for StubTarget<C> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

// Software and hardware breakpoints are the same thing here: the engine stops before the
// instruction; guest memory is never patched.
impl<C: GdbCpu> SwBreakpoint for StubTarget<C> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.ctl.points.add_breakpoint(addr);
        Ok(true)
    }
    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.ctl.points.remove_breakpoint(addr))
    }
}

impl<C: GdbCpu> HwBreakpoint for StubTarget<C> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.ctl.points.add_breakpoint(addr);
        Ok(true)
    }
    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.ctl.points.remove_breakpoint(addr))
    }
}

fn watch_kind(k: WatchKind) -> heron_backend::debug::WatchKind {
    match k {
        WatchKind::Write => heron_backend::debug::WatchKind::Write,
        WatchKind::Read => heron_backend::debug::WatchKind::Read,
        WatchKind::ReadWrite => heron_backend::debug::WatchKind::Access,
    }
}

impl<C: GdbCpu> HwWatchpoint for StubTarget<C> {
    fn add_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        self.ctl.points.add_watchpoint(Watchpoint {
            addr,
            len,
            kind: watch_kind(kind),
        });
        Ok(true)
    }
    fn remove_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.ctl.points.remove_watchpoint(Watchpoint {
            addr,
            len,
            kind: watch_kind(kind),
        }))
    }
}

struct EventLoop<C: GdbCpu>(PhantomData<C>);

fn stop_reason(tid: usize, kind: StopKind) -> MultiThreadStopReason<u64> {
    let Some(t) = tid_of(tid) else {
        return MultiThreadStopReason::Signal(Signal::SIGTRAP);
    };
    match kind {
        StopKind::Debug(DebugStop::Breakpoint { .. }) => MultiThreadStopReason::SwBreak(t),
        StopKind::Debug(DebugStop::Step) => MultiThreadStopReason::SignalWithThread {
            tid: t,
            signal: Signal::SIGTRAP,
        },
        StopKind::Debug(DebugStop::Watch { addr, kind, .. }) => MultiThreadStopReason::Watch {
            tid: t,
            kind: match kind {
                heron_backend::debug::WatchKind::Write => WatchKind::Write,
                heron_backend::debug::WatchKind::Read => WatchKind::Read,
                heron_backend::debug::WatchKind::Access => WatchKind::ReadWrite,
            },
            addr,
        },
        StopKind::Interrupt => MultiThreadStopReason::SignalWithThread {
            tid: t,
            signal: Signal::SIGINT,
        },
        StopKind::Signal(s) => MultiThreadStopReason::SignalWithThread {
            tid: t,
            signal: Signal(s),
        },
    }
}

impl<C: GdbCpu> BlockingEventLoop for EventLoop<C> {
    type Target = StubTarget<C>;
    type Connection = TcpStream;
    type StopReason = MultiThreadStopReason<u64>;

    fn wait_for_stop_reason(
        target: &mut StubTarget<C>,
        conn: &mut TcpStream,
    ) -> Result<
        run_blocking::Event<MultiThreadStopReason<u64>>,
        run_blocking::WaitForStopReasonError<&'static str, std::io::Error>,
    > {
        let ctl = target.ctl.clone();
        let mut stopped_at: Option<Instant> = None;
        loop {
            {
                let mut st = ctl.lock();
                if let Some(e) = st.exit.take() {
                    // `serve` sets `exit_sent` once gdbstub has written the report.
                    return Ok(run_blocking::Event::TargetStopped(e));
                }
                if !st.running
                    && let Some((tid, kind)) = st.stop
                {
                    // Report once every vCPU has parked (or after PARK_WAIT).
                    let t0 = *stopped_at.get_or_insert_with(Instant::now);
                    let all = st.vcpus.values().all(|v| v.parked);
                    if all || t0.elapsed() >= PARK_WAIT {
                        st.stop = None;
                        return Ok(run_blocking::Event::TargetStopped(stop_reason(tid, kind)));
                    }
                }
                let _ = ctl
                    .cv
                    .wait_timeout(st, Duration::from_millis(10))
                    .unwrap_or_else(|e| e.into_inner());
            }
            if let Some(b) = conn
                .peek()
                .map_err(run_blocking::WaitForStopReasonError::Connection)?
            {
                let _ = b;
                let byte = ConnectionExt::read(conn)
                    .map_err(run_blocking::WaitForStopReasonError::Connection)?;
                return Ok(run_blocking::Event::IncomingData(byte));
            }
        }
    }

    fn on_interrupt(
        target: &mut StubTarget<C>,
    ) -> Result<Option<MultiThreadStopReason<u64>>, &'static str> {
        target.ctl.interrupt();
        Ok(None)
    }
}

/// How a debugging session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// gdb detached or disconnected: the target runs on without the debugger.
    Detached,
    /// gdb asked to kill the target.
    Kill,
    /// The target exited and gdb was told.
    TargetExited,
}

/// Serve one gdb connection until it ends. Run this on its own thread; the vCPUs
/// registered with `ctl` park until gdb resumes them. On return the debugger is gone:
/// points are cleared and every vCPU runs freely.
pub fn serve<C: GdbCpu>(
    conn: TcpStream,
    ctl: Arc<Control>,
    mem: Arc<dyn DebugMemory>,
) -> SessionEnd {
    let _ = conn.set_nodelay(true);
    let reply = conn.try_clone().ok();
    {
        // gdb's first questions are about threads: wait until the first vCPU exists.
        let mut st = ctl.lock();
        st.connected = true;
        st.detached = false;
        st.exit_sent = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        while st.vcpus.is_empty() && Instant::now() < deadline {
            st = ctl
                .cv
                .wait_timeout(st, Duration::from_millis(10))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        // gdb expects a stopped target when it connects: stop a running one.
        if st.running {
            st.running = false;
            st.stop = None;
            Control::kick_all(&st);
            let deadline = Instant::now() + PARK_WAIT;
            while !st.vcpus.values().all(|v| v.parked) && Instant::now() < deadline {
                st = ctl
                    .cv
                    .wait_timeout(st, Duration::from_millis(10))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
    let mut target = StubTarget::<C> {
        ctl: ctl.clone(),
        mem,
        actions: BTreeMap::new(),
        locked: false,
        _cpu: PhantomData,
    };
    let end = match GdbStub::new(conn).run_blocking::<EventLoop<C>>(&mut target) {
        Ok(DisconnectReason::Kill) => {
            // gdbstub leaves a kill request unanswered outside extended mode, but gdb waits
            // for the reply to `vKill`: acknowledge it before the target goes away.
            if let Some(mut c) = reply {
                use std::io::Write;
                let _ = c.write_all(b"$OK#9a");
                let _ = c.flush();
            }
            SessionEnd::Kill
        }
        Ok(DisconnectReason::TargetExited(_) | DisconnectReason::TargetTerminated(_)) => {
            SessionEnd::TargetExited
        }
        Ok(DisconnectReason::Disconnect) => SessionEnd::Detached,
        Err(e) => {
            tracing::warn!("gdb stub: {e}");
            SessionEnd::Detached
        }
    };
    if end == SessionEnd::Kill {
        // The vCPUs stay parked: the caller ends the target.
        ctl.lock().connected = false;
        return end;
    }
    ctl.points.clear();
    let mut st = ctl.lock();
    st.detached = true;
    st.running = true;
    st.exit_sent = true;
    st.connected = false;
    st.stop = None;
    for v in st.vcpus.values_mut() {
        v.action = Action::Continue;
        v.reported_bp = None;
    }
    ctl.cv.notify_all();
    end
}

/// Parse a gdb endpoint as QEMU spells it (`tcp::PORT`, `tcp:HOST:PORT`, `:PORT`, `PORT`;
/// port 0 picks a free one) and listen on it (all interfaces when no host is given).
pub fn bind(spec: &str) -> Result<std::net::TcpListener, String> {
    let s = spec.trim();
    let s = s.strip_prefix("tcp:").unwrap_or(s);
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (if h.is_empty() { "0.0.0.0" } else { h }, p),
        None => ("0.0.0.0", s),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("invalid gdb port in '{spec}'"))?;
    std::net::TcpListener::bind((host, port))
        .map_err(|e| format!("cannot listen for gdb on {host}:{port}: {e}"))
}

/// Serve gdb connections on `listener` from a new thread, one after the other (gdb may
/// detach and attach again), for the vCPUs of `ctl`. `on_kill` runs when gdb asks to kill
/// the target. System mode calls this for `-s` / `-gdb tcp::PORT` (with
/// [`Control::new_running`], or [`Control::new`] for `-S`).
pub fn spawn_server<C: GdbCpu>(
    listener: std::net::TcpListener,
    ctl: Arc<Control>,
    mem: Arc<dyn DebugMemory>,
    on_kill: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("gdbstub".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                match serve::<C>(conn, ctl.clone(), mem.clone()) {
                    SessionEnd::Kill => on_kill(),
                    SessionEnd::TargetExited => return,
                    SessionEnd::Detached => {}
                }
            }
        })
        .map(drop)
}

/// Listen on `port` (all local interfaces, like QEMU; 0 picks a free port, which the
/// message on stderr names) and wait for gdb to connect.
pub fn listen(port: &str) -> Result<TcpStream, String> {
    let l = bind(port).map_err(|e| format!("heron: -g: {e}"))?;
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    eprintln!("heron: waiting for gdb on port {port}");
    let (conn, _) = l
        .accept()
        .map_err(|e| format!("heron: -g: accept failed: {e}"))?;
    Ok(conn)
}

/// Start the stub thread for user mode: serves `conn`; a kill request ends the process.
pub fn start_user_stub<C: GdbCpu>(conn: TcpStream, ctl: Arc<Control>, mem: Arc<GuestMemory>) {
    ctl.set_active();
    let r = std::thread::Builder::new()
        .name("gdbstub".into())
        .spawn(move || {
            if serve::<C>(conn, ctl, mem) == SessionEnd::Kill {
                crate::exit_process(137);
            }
        });
    if let Err(e) = r {
        eprintln!("heron: cannot start the gdb stub thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_as_qemu_spells_them() {
        for spec in ["0", "tcp::0", ":0", "tcp:127.0.0.1:0"] {
            let l = bind(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_ne!(l.local_addr().unwrap().port(), 0);
        }
        assert!(bind("tcp::x").is_err());
        assert!(bind("70000").is_err());
    }

    #[test]
    fn vcpus_park_until_resumed_and_stops_reach_the_stub() {
        use heron_backend::engine::EngineConfig;
        use heron_backend::mem::{PERM_R, PERM_X};
        let ctl = Control::new();
        let mem = Arc::new(GuestMemory::reserve(1 << 20).unwrap());
        mem.map_anon(0x1000, 0x1000, PERM_R | PERM_X).unwrap();
        let guest = Arc::new(heron_riscv::translate::RiscvGuest);
        let mut engine = Engine::new(guest, mem, EngineConfig::default()).unwrap();
        let cpu = Box::leak(Box::new(heron_riscv::cpu::RiscvCpu::default()));
        let env = cpu as *mut heron_riscv::cpu::RiscvCpu as *mut u8;
        let req = &cpu.hdr.exit_request as *const AtomicU32;
        // SAFETY: the CPU state is leaked (lives forever) and only this test touches it.
        let mut h = unsafe { ctl.register(7, env, req, &mut engine) };
        let ctl2 = ctl.clone();
        let t = std::thread::spawn(move || {
            // Starts stopped: sync parks until the stub resumes with a step.
            h.sync(&mut engine, 0x1000);
            (h.stepping, engine.debug_mut().is_some())
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ctl2.lock().vcpus.get(&7).is_some_and(|v| v.parked) {
            assert!(Instant::now() < deadline, "vCPU did not park");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(ctl2.env_of(Tid::new(7).unwrap()).is_some());
        let mut target = StubTarget::<riscv64::RiscvGdb> {
            ctl: ctl2.clone(),
            mem: Arc::new(GuestMemory::reserve(1 << 16).unwrap()),
            actions: BTreeMap::new(),
            locked: false,
            _cpu: PhantomData,
        };
        target.clear_resume_actions().unwrap();
        target
            .set_resume_action_step(Tid::new(7).unwrap(), None)
            .unwrap();
        target.resume().unwrap();
        assert_eq!(t.join().unwrap(), (true, true));
        // A stop is reported once and parks everyone.
        ctl2.report(7, StopKind::Interrupt);
        let st = ctl2.lock();
        assert!(!st.running);
        assert!(matches!(st.stop, Some((7, StopKind::Interrupt))));
    }
}
