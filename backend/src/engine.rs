//! The per-vCPU execution engine: finds or translates the translation block (TB) for the
//! current guest PC, runs it on the interpreter or in JIT code, promotes hot blocks from the
//! interpreter to Cranelift, chains JIT blocks through their exit slots, and flushes
//! translations when guest code changes or the code buffer fills.
//!
//! Two memory modes: user mode ([`Engine::new`], guest memory = one [`GuestMemory`]) and
//! system mode ([`Engine::new_system`], guest memory through the softmmu of
//! [`crate::softmmu`]). In system mode TBs are keyed by (virtual PC, physical PC, flags),
//! instruction fetch goes through the MMU, translated RAM pages are registered in
//! [`crate::softmmu::CodePages`] (a write to one drops its TBs in every engine before the next lookup),
//! direct chaining only links blocks on the same virtual page, and the jump cache and JIT
//! jump table are cleared whenever the vCPU's [`crate::softmmu::Tlb`] is flushed.

use crate::debug::EntryAction;
use crate::instrument::{InstrConfig, InstrState};
use crate::interp::{InterpBlock, InterpRegs};
use crate::ir::{Block, ExitStatus};
use crate::jit::region::{self, RegionLimits};
use crate::jit::{
    CodeShare, CompiledBlock, CompiledObject, Compiler, ExitSlot, Jit, JitConfig, JitError,
    SoftmmuJit,
};
use crate::mem::{GuestMemory, MemFault};
use crate::softmmu::{Invalidations, PAGE_MASK, SoftmmuConfig, SysFetch, Tlb, TlbFlushes};
use crate::{CodeFetch, CpuHeader, FaultKind, Guest, TranslateError, printer};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// What [`indirect_lookup`] reads: the engine's jump cache and the translation flags and
/// fetch MMU index of the code running. Set before each entry into generated code.
struct IndirectCtx {
    jump_cache: *const (u64, u64, *mut Tb),
    len: usize,
    flags: u64,
    fetch_idx: u8,
    /// Lookups that found the code (for `-d stats`).
    hits: u64,
}

/// Called by generated code (system mode) when an indirect branch to `pc` misses the JIT
/// jump table: the entry of the compiled block at `pc`, or 0 to leave to the engine. It
/// accepts exactly what the engine's jump-cache hit accepts in `lookup` (same PC and
/// flags, the PC's current physical address through this hart's TLB equal to the block's,
/// no second page), and it must be compiled; it changes nothing but the TLB (a fill) and a
/// counter, so the engine's next lookup sees the same state. Not called while chaining is
/// off (tracing, debugging): the engine sets `CpuHeader::indirect_lookup` to 0 then.
extern "C" fn indirect_lookup(env: *mut u8, pc: u64) -> u64 {
    // SAFETY: the engine stored its live IndirectCtx in the header before entering the
    // generated code that calls us, on this thread; the jump cache's TB pointers point
    // into live boxes of the engine's map (flushes and `remove_tb` scrub them, and neither
    // runs while generated code does); env is the running vCPU's state with its Tlb and
    // softmmu config.
    unsafe {
        let hdr = env as *mut CpuHeader;
        let ctx = &mut *((*hdr).indirect_ctx as *mut IndirectCtx);
        let (cpc, cflags, ptr) = *ctx.jump_cache.add(jump_cache_index(pc, ctx.len));
        if cpc != pc || cflags != ctx.flags || ptr.is_null() {
            return 0;
        }
        let (entry, ppc) = ((*ptr).entry, (*ptr).ppc);
        if entry.is_null() || (*ptr).page2.is_some() {
            return 0;
        }
        let sys = &*((*hdr).softmmu_config as *const SoftmmuConfig);
        match SysFetch::new(sys, env, ctx.fetch_idx).phys_of(pc) {
            Ok((p, _)) if p == ppc => {}
            _ => return 0,
        }
        ctx.hits += 1;
        // Later branches to `pc` hit the table in generated code (it is cleared with the
        // other PC caches, as entries the engine sets are).
        crate::jit::fill_jump_table((*hdr).jump_table, pc, entry as u64);
        entry as u64
    }
}

/// Which tier runs guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Only the reference interpreter.
    Interp,
    /// Every block compiled by Cranelift before its first run.
    Jit,
    /// Interpreter first; blocks that ran `jit_threshold` times are compiled.
    Auto,
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Tier, String> {
        match s {
            "interp" => Ok(Tier::Interp),
            "jit" => Ok(Tier::Jit),
            "auto" => Ok(Tier::Auto),
            _ => Err(format!("unknown tier '{s}' (expected interp, jit or auto)")),
        }
    }
}

/// What to trace (the `-d` items that concern the engine).
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub in_asm: bool,
    pub op: bool,
    pub out_asm: bool,
    pub exec: bool,
    pub nochain: bool,
    pub stats: bool,
    /// Log the guest registers at each block entry (turns chaining off).
    pub cpu: bool,
    /// Count guest instructions (instrumentation; [`Engine::icount`]).
    pub icount: bool,
    /// Log every guest memory access on the `memtrace` target (instrumentation).
    pub memtrace: bool,
    /// Exceptions, signals and interrupts on the `int` target (emitted by the run loops:
    /// user mode's signal code, system mode's interrupt delivery).
    pub int: bool,
    /// Page walks and TLB fills on the `mmu` target (emitted by system mode's softmmu).
    pub mmu: bool,
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub tier: Tier,
    /// With [`Tier::Auto`]: interpreted executions before a block is compiled.
    pub jit_threshold: u32,
    /// With [`Tier::Auto`] in system mode: interpreted executions before a block is
    /// compiled by the quick tier (0: never).
    pub quick_threshold: u32,
    /// Runs of a quick-tier block before it is compiled by Cranelift (0: never).
    pub promote_threshold: u32,
    /// Size of the JIT code buffer in bytes; it is flushed as a whole when full.
    pub code_buffer_size: usize,
    pub trace: Trace,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            tier: Tier::Auto,
            jit_threshold: 50,
            quick_threshold: 0,
            promote_threshold: 0,
            code_buffer_size: 64 << 20,
            trace: Trace::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("JIT initialisation failed: {0}")]
    Jit(#[from] JitError),
}

/// Counters for `-d stats`.
#[derive(Clone, Debug, Default)]
pub struct EngineStats {
    pub blocks_translated: u64,
    pub blocks_compiled: u64,
    /// Of the compiled blocks, those compiled by the quick tier.
    pub blocks_quick: u64,
    /// Quick-tier blocks that got hot and were queued for Cranelift.
    pub blocks_promoted: u64,
    /// System mode: indirect branches that missed the JIT jump table and went on in
    /// generated code through the engine's jump cache ([`indirect_lookup`]).
    pub indirect_lookups: u64,
    /// Compiled blocks that are multi-block regions.
    pub regions_compiled: u64,
    pub translate_time: Duration,
    /// Cranelift time on the vCPU's thread (synchronous compiles, and installing the
    /// background compiler's code).
    pub compile_time: Duration,
    /// Cranelift time on the background compile thread ([`Engine::set_background_compile`]).
    pub compile_time_background: Duration,
    /// Background compiles whose block was dropped (code page written, flush) before
    /// the code arrived.
    pub compiles_discarded: u64,
    /// Compiled blocks whose code another engine of the machine had compiled from the
    /// same IR ([`Engine::set_code_share`]): installed without running Cranelift.
    pub compiles_shared: u64,
    /// Background compile jobs the hart took back and compiled itself, because no host
    /// core was idle for the (idle-priority) compile thread for [`STARVED_AFTER`].
    pub compiles_taken_back: u64,
    pub interp_runs: u64,
    /// Interpreted runs of blocks whose code was being compiled in the background (the
    /// compile thread's latency and backlog, in block runs).
    pub interp_runs_compiling: u64,
    pub jit_entries: u64,
    /// Block lookups the engine's jump cache did not answer (a hash-map lookup or a
    /// translation instead).
    pub jump_cache_misses: u64,
    pub chains_made: u64,
    pub buffer_flushes: u64,
    pub code_flushes: u64,
    pub code_bytes: usize,
    pub code_capacity: usize,
    /// System mode: TLB fills by the slow path (= TLB misses that translated).
    pub tlb_fills: u64,
    /// System mode: guest accesses that took the softmmu slow path (misses, MMIO, page
    /// crossings, writes to code pages; in the interpreter every access). Accesses served
    /// by the JIT's inline hit path are not counted.
    pub tlb_slow_accesses: u64,
    /// System mode: translation blocks dropped because their code page was written.
    pub code_page_invalidations: u64,
    /// System mode: TLB lookups (slow path, plus the JIT's inline hits under `-d stats`)
    /// and lookups that missed.
    pub tlb_lookups: u64,
    pub tlb_misses: u64,
    /// System mode: TLB flushes of everything (or of one MMU index), and of one page.
    pub tlb_full_flushes: u64,
    pub tlb_page_flushes: u64,
    /// Entries into compiled blocks, counted by the blocks under `-d stats` (else 0):
    /// those not from the engine ([`EngineStats::jit_entries`]) came through a chained
    /// exit, a jump table or a self-loop.
    pub jit_block_entries: u64,
}

/// Totals over engines (`-d stats` of a machine with several harts). Every field is named
/// here, so a new counter is a compile error until it is summed.
impl std::ops::AddAssign<&EngineStats> for EngineStats {
    fn add_assign(&mut self, o: &EngineStats) {
        let EngineStats {
            blocks_translated,
            blocks_compiled,
            blocks_quick,
            blocks_promoted,
            indirect_lookups,
            regions_compiled,
            translate_time,
            compile_time,
            compile_time_background,
            compiles_discarded,
            compiles_shared,
            compiles_taken_back,
            interp_runs,
            interp_runs_compiling,
            jit_entries,
            jump_cache_misses,
            chains_made,
            buffer_flushes,
            code_flushes,
            code_bytes,
            code_capacity,
            tlb_fills,
            tlb_slow_accesses,
            code_page_invalidations,
            tlb_lookups,
            tlb_misses,
            tlb_full_flushes,
            tlb_page_flushes,
            jit_block_entries,
        } = o;
        self.blocks_translated += *blocks_translated;
        self.blocks_compiled += *blocks_compiled;
        self.blocks_quick += *blocks_quick;
        self.blocks_promoted += *blocks_promoted;
        self.indirect_lookups += *indirect_lookups;
        self.regions_compiled += *regions_compiled;
        self.translate_time += *translate_time;
        self.compile_time += *compile_time;
        self.compile_time_background += *compile_time_background;
        self.compiles_discarded += *compiles_discarded;
        self.compiles_shared += *compiles_shared;
        self.compiles_taken_back += *compiles_taken_back;
        self.interp_runs += *interp_runs;
        self.interp_runs_compiling += *interp_runs_compiling;
        self.jit_entries += *jit_entries;
        self.jump_cache_misses += *jump_cache_misses;
        self.chains_made += *chains_made;
        self.buffer_flushes += *buffer_flushes;
        self.code_flushes += *code_flushes;
        self.code_bytes += *code_bytes;
        self.code_capacity += *code_capacity;
        self.tlb_fills += *tlb_fills;
        self.tlb_slow_accesses += *tlb_slow_accesses;
        self.code_page_invalidations += *code_page_invalidations;
        self.tlb_lookups += *tlb_lookups;
        self.tlb_misses += *tlb_misses;
        self.tlb_full_flushes += *tlb_full_flushes;
        self.tlb_page_flushes += *tlb_page_flushes;
        self.jit_block_entries += *jit_block_entries;
    }
}

impl std::fmt::Display for EngineStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "blocks translated      {}", self.blocks_translated)?;
        writeln!(f, "blocks jit-compiled    {}", self.blocks_compiled)?;
        writeln!(f, "  of them regions      {}", self.regions_compiled)?;
        if self.blocks_quick != 0 {
            writeln!(
                f,
                "  of them quick tier   {} ({} promoted to Cranelift)",
                self.blocks_quick, self.blocks_promoted
            )?;
        }
        writeln!(
            f,
            "translate time         {:.3} ms",
            self.translate_time.as_secs_f64() * 1e3
        )?;
        writeln!(
            f,
            "compile time           {:.3} ms",
            self.compile_time.as_secs_f64() * 1e3
        )?;
        if !self.compile_time_background.is_zero() {
            writeln!(
                f,
                "  in background        {:.3} ms ({} results discarded)",
                self.compile_time_background.as_secs_f64() * 1e3,
                self.compiles_discarded
            )?;
        }
        if self.compiles_shared != 0 {
            writeln!(
                f,
                "  shared               {} (code compiled by another hart, installed)",
                self.compiles_shared
            )?;
        }
        if self.compiles_taken_back != 0 {
            writeln!(
                f,
                "  taken back           {} (waited {} ms for an idle core: compiled on the hart)",
                self.compiles_taken_back,
                STARVED_AFTER.as_millis()
            )?;
        }
        writeln!(f, "interpreted block runs {}", self.interp_runs)?;
        if self.interp_runs_compiling != 0 {
            writeln!(
                f,
                "  of them compiling    {} (the block's code was queued or being compiled)",
                self.interp_runs_compiling
            )?;
        }
        writeln!(f, "jit entries            {}", self.jit_entries)?;
        if self.indirect_lookups != 0 {
            writeln!(
                f,
                "indirect lookups       {} (jump-table misses resolved in generated code)",
                self.indirect_lookups
            )?;
        }
        writeln!(
            f,
            "jump cache misses      {} of {} lookups",
            self.jump_cache_misses,
            self.interp_runs + self.jit_entries
        )?;
        writeln!(f, "chains made            {}", self.chains_made)?;
        if self.jit_block_entries != 0 {
            writeln!(
                f,
                "compiled block runs    {} ({} through chains, jump tables and self-loops)",
                self.jit_block_entries,
                self.jit_block_entries.saturating_sub(self.jit_entries)
            )?;
        }
        writeln!(
            f,
            "code buffer            {} / {} bytes",
            self.code_bytes, self.code_capacity
        )?;
        writeln!(f, "code buffer flushes    {}", self.buffer_flushes)?;
        write!(f, "translation flushes    {}", self.code_flushes)?;
        if self.tlb_fills != 0 || self.tlb_slow_accesses != 0 {
            write!(
                f,
                "\nsoftmmu TLB fills      {}\nsoftmmu slow accesses  {} (inline JIT hits not counted)\nSMC/DMA TB drops       {}",
                self.tlb_fills, self.tlb_slow_accesses, self.code_page_invalidations
            )?;
            if self.tlb_lookups != 0 {
                write!(
                    f,
                    "\nsoftmmu TLB lookups    {}, {} misses: hit rate {:.2}%",
                    self.tlb_lookups,
                    self.tlb_misses,
                    100.0 * (1.0 - self.tlb_misses as f64 / self.tlb_lookups as f64)
                )?;
            }
            write!(
                f,
                "\nsoftmmu TLB flushes    {} full, {} one-page",
                self.tlb_full_flushes, self.tlb_page_flushes
            )?;
        }
        Ok(())
    }
}

/// Bumped by [`request_flush_all`]; each engine compares it with the value it last saw.
static FLUSH_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Make every engine (all threads) drop its translations before its next block (guest code
/// changed: `fence.i`, munmap/mprotect of code pages). Returns immediately.
pub fn request_flush_all() {
    FLUSH_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// (virtual PC, physical PC, flags); user mode: physical PC = virtual PC.
type TbKey = (u64, u64, u64);

/// One translation block and its forms in each tier. `repr(C)`: what every dispatch reads
/// (the lookup's check, the JIT entry, the run counters) comes first, in one cache line,
/// and the interpreter's block next.
#[repr(C)]
struct Tb {
    pc: u64,
    /// Physical PC (user mode: = pc).
    ppc: u64,
    /// System mode: (virtual page, physical page) of a second code page the block reads.
    page2: Option<(u64, u64)>,
    /// Entry of the compiled code (`jit`'s), null while interpreted.
    entry: *const u8,
    runs: u32,
    /// A copy of the IR is with the background compiler.
    in_flight: bool,
    /// Compilation failed once: stay interpreted.
    jit_failed: bool,
    /// The quick tier does not handle this block.
    quick_failed: bool,
    /// Its code is the quick tier's (Cranelift's replaces it when it gets hot).
    quick: bool,
    /// Hottest-block accounting for `-d stats` (counted only then).
    total_runs: u64,
    /// The interpreter's form of the block, dropped once the block has code (`entry` is
    /// never reset: a flush drops whole TBs).
    interp: Option<InterpBlock>,
    flags: u64,
    /// Unique in the engine's life (background compile results name their TB by it).
    id: u64,
    /// (guest bytes, guest instructions) of the block, to check a re-translation.
    shape: (u32, u32),
    /// Exit slots of other blocks chained to this one (unchained when it is dropped).
    incoming: Vec<ExitSlot>,
    /// The IR, kept until the block is compiled. A quick-tier block of system mode drops
    /// it (most never get hot enough for Cranelift) and is translated again, from the
    /// physical pages it was read from, when it is promoted (see [`Engine::refetch_ir`]).
    ir: Option<Block>,
    jit: Option<CompiledBlock>,
}

impl Tb {
    fn key(&self) -> TbKey {
        (self.pc, self.ppc, self.flags)
    }

    /// Where its guest code came from (what [`Engine::refetch_ir`] needs).
    fn source(&self) -> TbSource {
        TbSource {
            pc: self.pc,
            ppc: self.ppc,
            page2: self.page2,
            flags: self.flags,
            shape: self.shape,
        }
    }
}

/// A TB's guest code: its virtual and physical PC, second page, flags and shape.
#[derive(Clone, Copy)]
struct TbSource {
    pc: u64,
    ppc: u64,
    page2: Option<(u64, u64)>,
    flags: u64,
    shape: (u32, u32),
}

/// A block still queued for the background compiler once it ran this many times its
/// threshold is moved to the front of the queue (a boot makes many blocks hot at once; the
/// ones that keep running are worth compiling first).
const BG_PATIENCE: u32 = 4;

/// A background compile job queued this long is taken back and compiled on the hart (the
/// compile thread runs only on host cores no other thread wants: see [`BgCompile::start`]).
const STARVED_AFTER: Duration = Duration::from_millis(50);
/// Look for starved jobs every this many blocks the engine dispatches.
const STARVED_CHECK_EVERY: u32 = 1024;
/// At most this many taken back per look (each costs the hart a Cranelift compile).
const STARVED_MAX_PER_CHECK: usize = 8;

const JUMP_CACHE_SIZE: usize = 4096;
/// System mode runs a kernel and many processes: a larger jump cache saves hash lookups.
const SYS_JUMP_CACHE_SIZE: usize = 16384;

/// Slot of `pc` in a jump cache of `len` (a power of two) entries: the low PC bits mixed
/// with higher ones, so that blocks a multiple of the cache's span apart (a kernel's hot
/// code is spread over megabytes) do not all evict each other.
fn jump_cache_index(pc: u64, len: usize) -> usize {
    let h = (pc >> 1) ^ (pc >> 13) ^ (pc >> 25);
    (h as usize) & (len - 1)
}

/// A block sent to the background compile thread.
struct CompileJob {
    id: u64,
    block: Block,
    /// When it was queued (a job waiting too long is taken back: [`BgCompile::take_starved`]).
    queued: Instant,
}

/// Its result, with the IR back (kept when the code cannot be installed).
struct CompileDone {
    id: u64,
    block: Block,
    /// The object, and whether it came from the [`CodeShare`] (compiled by another engine).
    result: Result<(Arc<CompiledObject>, bool), JitError>,
    time: Duration,
}

/// Jobs waiting for the background compile thread, in the order it takes them.
#[derive(Default)]
struct JobQueue {
    jobs: VecDeque<CompileJob>,
    /// The engine is gone: the thread ends.
    closed: bool,
}

#[derive(Default)]
struct BgQueue {
    queue: Mutex<JobQueue>,
    ready: Condvar,
    /// Results sent so far: the engine looks at the result channel only when this moved
    /// (a channel poll per block costs more than this load).
    results: AtomicU64,
}

impl BgQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, JobQueue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The background compile thread of an engine: it owns a [`Compiler`] and turns jobs into
/// compiled objects; the engine installs them between blocks. The engine can move a job to
/// the front of the queue or take it back (its TB was dropped). The thread ends when the
/// engine drops this.
struct BgCompile {
    queue: Arc<BgQueue>,
    done: mpsc::Receiver<CompileDone>,
    /// Jobs sent and not yet received back: TB id -> key.
    pending: FxHashMap<u64, TbKey>,
    /// `BgQueue::results` when the engine last took results.
    results_seen: u64,
}

impl BgCompile {
    /// Whether results may be waiting (or the thread died with jobs pending).
    fn has_results(&self) -> bool {
        !self.pending.is_empty() && self.queue.results.load(Ordering::Acquire) != self.results_seen
    }

    fn start(mut comp: Compiler, share: Option<Arc<CodeShare>>) -> Option<BgCompile> {
        let queue = Arc::new(BgQueue::default());
        let (done_tx, done) = mpsc::channel::<CompileDone>();
        let q = queue.clone();
        std::thread::Builder::new()
            .name("jit-compile".into())
            .spawn(move || {
                // However the thread ends (a panic included), the engine polls the result
                // channel once more and sees it closed.
                struct Wake(Arc<BgQueue>);
                impl Drop for Wake {
                    fn drop(&mut self) {
                        self.0.results.fetch_add(1, Ordering::Release);
                    }
                }
                let _wake = Wake(q.clone());
                // Compile on host cores the harts leave idle: a hart woken by an interrupt
                // (or running while the other spins, waiting for it) never waits for a core
                // behind the compiler. Jobs that wait too long for an idle core are taken
                // back and compiled on the hart (`Engine::compile_starved`).
                #[cfg(target_os = "linux")]
                {
                    let param = libc::sched_param { sched_priority: 0 };
                    // SAFETY: sets this thread's own policy; `param` is a valid sched_param.
                    // Failure only leaves the default policy.
                    let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
                }
                loop {
                    let job = {
                        let mut g = q.lock();
                        loop {
                            if g.closed {
                                return;
                            }
                            if let Some(job) = g.jobs.pop_front() {
                                break job;
                            }
                            g = q.ready.wait(g).unwrap_or_else(|e| e.into_inner());
                        }
                    };
                    // CPU time: at idle priority the thread may wait for a core mid-compile.
                    let t = crate::thread_cpu_time();
                    let result = match &share {
                        Some(share) => comp.compile_shared(&job.block, false, share),
                        None => comp
                            .compile(&job.block, false)
                            .map(|o| (Arc::new(o), false)),
                    };
                    let d = CompileDone {
                        id: job.id,
                        block: job.block,
                        result,
                        time: crate::thread_cpu_time().saturating_sub(t),
                    };
                    if done_tx.send(d).is_err() {
                        return;
                    }
                    q.results.fetch_add(1, Ordering::Release);
                }
            })
            .ok()?;
        Some(BgCompile {
            queue,
            done,
            pending: FxHashMap::default(),
            results_seen: 0,
        })
    }

    fn send(&mut self, job: CompileJob, key: TbKey) {
        self.pending.insert(job.id, key);
        self.queue.lock().jobs.push_back(job);
        self.queue.ready.notify_one();
    }

    /// Move the job of TB `id` to the front of the queue (if it is still queued).
    fn promote(&self, id: u64) {
        let mut g = self.queue.lock();
        if let Some(i) = g.jobs.iter().position(|j| j.id == id)
            && let Some(job) = g.jobs.remove(i)
        {
            g.jobs.push_front(job);
        }
    }

    /// Take back the job of TB `id` if the thread has not started it.
    fn cancel(&mut self, id: u64) {
        let mut g = self.queue.lock();
        if let Some(i) = g.jobs.iter().position(|j| j.id == id) {
            g.jobs.remove(i);
            self.pending.remove(&id);
        }
    }

    /// Take back (at most `max`) jobs that have waited longer than `after` without the
    /// thread starting them, oldest first, with their TBs' keys.
    fn take_starved(&mut self, after: Duration, max: usize) -> Vec<(CompileJob, TbKey)> {
        let mut g = self.queue.lock();
        let mut taken = Vec::new();
        while taken.len() < max
            && let Some(job) = g.jobs.front()
            && job.queued.elapsed() > after
        {
            let job = g.jobs.pop_front().expect("front exists");
            if let Some(key) = self.pending.remove(&job.id) {
                taken.push((job, key));
            }
        }
        taken
    }

    /// Take back every job not yet started.
    fn cancel_all(&mut self) {
        let mut g = self.queue.lock();
        for job in g.jobs.drain(..) {
            self.pending.remove(&job.id);
        }
    }
}

impl Drop for BgCompile {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

/// Guest memory of an engine.
enum Mode {
    User(Arc<GuestMemory>),
    System(Box<SysState>),
}

/// System-mode state of an engine.
struct SysState {
    cfg: SoftmmuConfig,
    /// TLB flush counters last seen (`Tlb::flushes_since`).
    tlb_seen: (u64, u64),
    /// Virtual pages with entries in the jump cache or the JIT jump table: a flush of
    /// another page leaves those caches alone.
    cached_pages: rustc_hash::FxHashSet<u64>,
    /// The page last added to `cached_pages` (u64::MAX: none since the last clear), so
    /// that runs of blocks on one page skip the hash insert.
    last_cached: u64,
    /// Position in the CodePages invalidation log.
    log_cursor: u64,
    /// TBs by physical code page.
    page_tbs: FxHashMap<u64, Vec<TbKey>>,
    /// The TLB registered with `cfg.code_pages` (null: none yet).
    tlb: *mut Tlb,
    /// Guest PC of the block owning each JIT exit slot (same-page chaining).
    slot_src: FxHashMap<usize, (u64, ExitSlot)>,
    /// Exits chained to a block on another virtual page: valid only while that page's
    /// mapping holds, so unchained whenever the virtual-PC caches are cleared.
    cross_chains: Vec<ExitSlot>,
}

/// The execution engine of one vCPU.
pub struct Engine {
    pub(crate) guest: Arc<dyn Guest>,
    mode: Mode,
    pub(crate) cfg: EngineConfig,
    pub(crate) jit: Option<Jit>,
    tbs: FxHashMap<TbKey, Box<Tb>>,
    /// Quick-tier entry counter index -> its TB (see [`Jit::compile_quick`]).
    quick_keys: Vec<TbKey>,
    /// Direct-mapped cache by PC of raw pointers into `tbs`' boxes (cleared with `tbs`).
    jump_cache: Vec<(u64, u64, *mut Tb)>,
    /// System mode: what generated code's indirect-branch lookup reads (see
    /// [`indirect_lookup`]); its address goes into the CPU header on each entry.
    indirect: Box<std::cell::UnsafeCell<IndirectCtx>>,
    pub(crate) regs: InterpRegs,
    generation: u64,
    /// The code buffer is full: drop all translations before the next block.
    flush_pending: bool,
    /// Translation flags of the Jit's selected jump table (None: select before use). Rule:
    /// a table (used by `ExitIndirect` in JIT code) is keyed by PC alone, so it only ever
    /// holds blocks of one flags value: the Jit keeps one per flags value, and the engine
    /// selects the one of the flags of the block it enters; all are cleared on every
    /// flush. Like exit-slot chaining, this relies on frontends ending a block with a status
    /// other than Next after changing `tb_flags`, so that generated code never continues
    /// under different flags. (User mode: flags always 0.)
    jump_flags: Option<u64>,
    /// Compile hot blocks as multi-block regions (see [`crate::jit::region`]); on whenever
    /// JIT blocks chain (off for `-d nochain`/`exec`, whose traces name every block).
    regions: bool,
    stats: EngineStats,
    /// Compile hot blocks on a thread of their own ([`Engine::set_background_compile`]).
    bg_wanted: bool,
    /// That thread, once started.
    bg: Option<BgCompile>,
    /// Blocks dispatched since the last look for starved background jobs.
    since_starved_check: u32,
    /// [`STARVED_AFTER`] (tests shorten it).
    starved_after: Duration,
    /// Compiled code shared with the machine's other engines ([`Engine::set_code_share`]).
    share: Option<Arc<CodeShare>>,
    /// Id of the next TB.
    next_tb_id: u64,
    /// Debugger state of this vCPU (see [`crate::debug`]).
    pub(crate) debug: Option<crate::debug::VcpuDebug>,
    /// Which instrumentation hooks translations get, and the state they update (boxed: its
    /// address is baked into instrumented blocks).
    pub(crate) instr_cfg: InstrConfig,
    pub(crate) instr: Box<InstrState>,
}

// SAFETY: the raw pointers (jump cache into `tbs`' boxes, the registered TLB) are only
// used by the thread that runs the engine; moving the engine to another thread between runs
// is sound.
unsafe impl Send for Engine {}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Mode::System(sys) = &self.mode
            && !sys.tlb.is_null()
        {
            sys.cfg.code_pages.unregister_tlb(sys.tlb);
        }
    }
}

impl Engine {
    /// A system-mode engine: guest memory through the softmmu in `sys`.
    ///
    /// The CPU state passed to [`Engine::run`] must hold its [`Tlb`] at `sys.tlb_offset`
    /// and stay alive (at the same address) until the engine is dropped: the engine
    /// registers that TLB with `sys.code_pages`, whose users write-protect it.
    pub fn new_system(
        guest: Arc<dyn Guest>,
        sys: SoftmmuConfig,
        cfg: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let log_cursor = sys.code_pages.log_position();
        let cfg_stats = cfg.trace.stats;
        let mut e = Engine::with_mode(
            guest,
            Mode::System(Box::new(SysState {
                cfg: sys,
                tlb_seen: (0, 0),
                cached_pages: Default::default(),
                last_cached: u64::MAX,
                log_cursor,
                page_tbs: FxHashMap::default(),
                tlb: std::ptr::null_mut(),
                slot_src: FxHashMap::default(),
                cross_chains: Vec::new(),
            })),
            cfg,
        )?;
        if let (Some(jit), Mode::System(sys)) = (&mut e.jit, &e.mode) {
            // `sys` is boxed: its address is stable for the engine's life, which bounds
            // the life of the Jit and its code.
            jit.set_softmmu(SoftmmuJit {
                tlb_offset: sys.cfg.tlb_offset,
                config: &sys.cfg as *const SoftmmuConfig as usize,
                count_hits: cfg_stats,
            });
        }
        Ok(e)
    }

    /// Translate the block at `pc` into `b` without caching it (debugger single steps),
    /// fetching through this engine's memory mode.
    pub(crate) fn translate_uncached(
        &self,
        env: *mut u8,
        pc: u64,
        flags: u64,
        b: &mut crate::Builder,
    ) -> Result<(), TranslateError> {
        match &self.mode {
            Mode::User(mem) => self.guest.translate(pc, flags, &**mem, b),
            Mode::System(sys) => {
                let fetch = SysFetch::new(&sys.cfg, env, self.guest.fetch_mmu_idx(flags));
                self.guest.translate(pc, flags, &fetch, b)
            }
        }
    }

    /// Interpret `ib` in this engine's memory mode.
    ///
    /// # Safety
    /// `env` as for [`Engine::run`].
    pub(crate) unsafe fn interp_run(&mut self, ib: &InterpBlock, env: *mut u8) -> ExitStatus {
        // SAFETY: the caller's contract; the interpreter checks guest accesses.
        unsafe {
            match &self.mode {
                Mode::User(mem) => ib.run(env, mem, &mut self.regs),
                Mode::System(sys) => ib.run_system(env, &sys.cfg, &mut self.regs),
            }
        }
    }

    /// The softmmu configuration of a system-mode engine.
    pub fn softmmu(&self) -> Option<&SoftmmuConfig> {
        match &self.mode {
            Mode::System(s) => Some(&s.cfg),
            Mode::User(_) => None,
        }
    }

    pub fn new(
        guest: Arc<dyn Guest>,
        mem: Arc<GuestMemory>,
        cfg: EngineConfig,
    ) -> Result<Engine, EngineError> {
        Engine::with_mode(guest, Mode::User(mem), cfg)
    }

    fn with_mode(
        guest: Arc<dyn Guest>,
        mode: Mode,
        cfg: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let (guest_base, guest_limit) = match &mode {
            Mode::User(mem) => (mem.base(), mem.limit()),
            Mode::System(_) => (0, 0),
        };
        let jit = if cfg.tier == Tier::Interp {
            None
        } else {
            Some(Jit::new(JitConfig {
                code_size: cfg.code_buffer_size,
                guest_base,
                guest_limit,
                opt_speed: false,
                verify: cfg!(debug_assertions),
            })?)
        };
        let mut jit = jit;
        if let Some(j) = &mut jit {
            j.set_self_loops(!cfg.trace.nochain && !cfg.trace.exec && !cfg.trace.cpu);
            if cfg.trace.stats {
                j.count_block_entries();
            }
        }
        let instr = Box::new(InstrState {
            memtrace: cfg.trace.memtrace,
            ..InstrState::default()
        });
        let instr_cfg = InstrConfig {
            icount: cfg.trace.icount,
            mem: cfg.trace.memtrace,
            watch: false,
        };
        let jump_cache_size = if matches!(mode, Mode::System(_)) {
            SYS_JUMP_CACHE_SIZE
        } else {
            JUMP_CACHE_SIZE
        };
        Ok(Engine {
            guest,
            mode,
            jit,
            tbs: FxHashMap::default(),
            quick_keys: Vec::new(),
            jump_cache: vec![(u64::MAX, 0, std::ptr::null_mut()); jump_cache_size],
            indirect: Box::new(std::cell::UnsafeCell::new(IndirectCtx {
                jump_cache: std::ptr::null(),
                len: 0,
                flags: 0,
                fetch_idx: 0,
                hits: 0,
            })),
            regs: InterpRegs::default(),
            generation: FLUSH_GENERATION.load(Ordering::SeqCst),
            flush_pending: false,
            jump_flags: None,
            regions: cfg.tier != Tier::Interp && !cfg.trace.nochain && !cfg.trace.exec,
            stats: EngineStats::default(),
            bg_wanted: false,
            bg: None,
            since_starved_check: 0,
            starved_after: STARVED_AFTER,
            share: None,
            next_tb_id: 0,
            debug: None,
            instr_cfg,
            instr,
            cfg,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Turn multi-block regions on or off for blocks compiled from now on (single-stepping
    /// and breakpoints need every guest block to be entered through the engine).
    pub fn set_regions(&mut self, on: bool) {
        self.regions = on && self.cfg.tier != Tier::Interp;
    }

    /// Runs of a quick-tier block before Cranelift recompiles it (0: never); applies to
    /// blocks compiled from now on.
    pub fn set_promote_threshold(&mut self, n: u32) {
        self.cfg.promote_threshold = n;
    }

    /// With [`Tier::Auto`]: compile hot blocks on a background thread while the vCPU keeps
    /// interpreting them, and install the code between blocks once it is ready (off by
    /// default; a TB dropped meanwhile discards its result). Multi-block regions (user
    /// mode) still compile on the vCPU's thread.
    pub fn set_background_compile(&mut self, on: bool) {
        self.bg_wanted = on && self.cfg.tier == Tier::Auto;
        if !self.bg_wanted {
            self.bg = None;
        }
    }

    /// Share compiled code with the other engines given the same store (the harts of a
    /// machine): blocks compiled from now on are looked up there first, and stored there.
    pub fn set_code_share(&mut self, share: Arc<CodeShare>) {
        self.share = Some(share);
    }

    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats.clone();
        // SAFETY: no generated code of this engine runs (that needs `&mut self`).
        s.indirect_lookups = unsafe { (*self.indirect.get()).hits };
        if let Some(jit) = &self.jit {
            s.code_bytes = jit.used();
            s.code_capacity = jit.capacity();
        }
        s
    }

    /// The `n` blocks that ran most often (guest PC, runs), with `-d stats` (else all runs
    /// are 0). Runs inside chained JIT code are not counted, so this favours interpreted
    /// and entry blocks.
    pub fn hottest_blocks(&self, n: usize) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = self.tbs.values().map(|tb| (tb.pc, tb.total_runs)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Guest instructions started so far on this vCPU (with `Trace::icount`; else 0).
    pub fn icount(&self) -> u64 {
        self.instr.icount.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Guest memory accesses seen by the memory hook (with `Trace::memtrace` or watchpoints).
    pub fn mem_accesses(&self) -> u64 {
        self.instr.mem_accesses
    }

    /// Drop every translation of this engine.
    pub fn flush_translations(&mut self) {
        self.tbs.clear();
        self.quick_keys.clear();
        if let Some(bg) = &mut self.bg {
            bg.cancel_all();
        }
        self.jump_cache.fill((u64::MAX, 0, std::ptr::null_mut()));
        self.jump_flags = None;
        if let Some(jit) = &mut self.jit {
            jit.flush();
        }
        if let Mode::System(sys) = &mut self.mode {
            sys.page_tbs.clear();
            sys.slot_src.clear();
            sys.cached_pages.clear();
            sys.last_cached = u64::MAX;
            sys.cross_chains.clear();
        }
    }

    /// System mode: forget every virtual-PC -> block association that generated code
    /// uses without checking the MMU (the JIT jump table, chains to other pages). The
    /// engine's jump cache checks each hit against the TLB, so it stays.
    fn clear_pc_caches(&mut self) {
        self.jump_flags = None;
        if let Some(jit) = &mut self.jit {
            jit.clear_jumps();
        }
        if let Mode::System(sys) = &mut self.mode {
            sys.cached_pages.clear();
            sys.last_cached = u64::MAX;
            if let Some(jit) = &mut self.jit {
                for slot in sys.cross_chains.drain(..) {
                    jit.unchain(&slot);
                }
            }
        }
    }

    /// Drop one TB (unchaining the slots that jump to it, and its jump cache entry).
    fn remove_tb(&mut self, key: TbKey) {
        if let Some(tb) = self.tbs.remove(&key) {
            if tb.in_flight
                && let Some(bg) = &mut self.bg
            {
                bg.cancel(tb.id);
            }
            if let Some(jit) = &mut self.jit {
                for slot in &tb.incoming {
                    jit.unchain(slot);
                }
            }
            let idx = jump_cache_index(tb.pc, self.jump_cache.len());
            if std::ptr::eq(self.jump_cache[idx].2, &*tb) {
                self.jump_cache[idx] = (u64::MAX, 0, std::ptr::null_mut());
            }
        }
    }

    /// System mode, before each lookup: register the TLB for code protection, clear the
    /// virtual-PC caches after a TLB flush, drop TBs of pages written since the last look.
    /// Returns true when chaining to the next block must not happen.
    ///
    /// # Safety
    /// `env` as for [`Engine::run`].
    unsafe fn sys_sync(&mut self, env: *mut u8) -> bool {
        let Mode::System(sys) = &mut self.mode else {
            return false;
        };
        let tlb = sys.cfg.tlb(env);
        if sys.tlb != tlb {
            if !sys.tlb.is_null() {
                sys.cfg.code_pages.unregister_tlb(sys.tlb);
            }
            sys.cfg.code_pages.register_tlb(tlb);
            sys.tlb = tlb;
        }
        // SAFETY: env holds a live Tlb at tlb_offset (new_system's contract).
        let mut clear = match unsafe { (*tlb).flushes_since(&mut sys.tlb_seen) } {
            TlbFlushes::None => false,
            TlbFlushes::All => true,
            TlbFlushes::Pages(pages) => pages.iter().any(|p| sys.cached_pages.contains(p)),
        };
        let mut drop_keys = Vec::new();
        match sys.cfg.code_pages.invalidations_since(&mut sys.log_cursor) {
            Invalidations::None => {}
            Invalidations::Pages(pages) => {
                for p in pages {
                    if let Some(keys) = sys.page_tbs.remove(&p) {
                        drop_keys.extend(keys);
                    }
                }
                clear = true;
            }
            Invalidations::All => {
                self.stats.code_flushes += 1;
                self.flush_translations();
                return true;
            }
        }
        for k in drop_keys {
            if self.tbs.contains_key(&k) {
                self.stats.code_page_invalidations += 1;
            }
            self.remove_tb(k);
        }
        if clear {
            self.clear_pc_caches();
        }
        clear
    }

    /// Run guest code from `CpuHeader::pc` until a block ends with a status other than
    /// [`ExitStatus::Next`], and return that status.
    ///
    /// # Safety
    /// `env` points to the frontend's `#[repr(C)]` CPU state (a [`CpuHeader`] first), valid
    /// and used only by this thread for the duration of the call.
    pub unsafe fn run(&mut self, env: *mut u8) -> ExitStatus {
        // SAFETY: the caller's contract.
        let status = unsafe { self.run_blocks(env) };
        // SAFETY: env is a valid CPU state (CpuHeader first), per the contract.
        self.stats.jit_block_entries = unsafe { (*(env as *const CpuHeader)).block_entries };
        if let Mode::System(sys) = &self.mode {
            let tlb = sys.cfg.tlb(env);
            // SAFETY: env holds its Tlb (new_system's contract).
            unsafe {
                self.stats.tlb_fills = (*tlb).fills();
                self.stats.tlb_slow_accesses = (*tlb).slow_accesses();
                (self.stats.tlb_lookups, self.stats.tlb_misses) = (*tlb).lookups_and_misses();
                (self.stats.tlb_full_flushes, self.stats.tlb_page_flushes) = (*tlb).flush_counts();
            }
        }
        status
    }

    /// # Safety
    /// As for [`Engine::run`].
    unsafe fn run_blocks(&mut self, env: *mut u8) -> ExitStatus {
        let hdr = env as *mut CpuHeader;
        // Slot through which the previous JIT block left, to be chained to the next block.
        let mut pending_slot: usize = 0;
        loop {
            let generation = FLUSH_GENERATION.load(Ordering::Acquire);
            if generation != self.generation || self.flush_pending {
                if generation != self.generation {
                    self.stats.code_flushes += 1;
                }
                self.generation = generation;
                self.flush_pending = false;
                self.flush_translations();
                pending_slot = 0;
            }
            // SAFETY: env is valid per this function's contract.
            if unsafe { self.sys_sync(env) } {
                pending_slot = 0;
            }
            if let Some(bg) = &mut self.bg
                && bg.has_results()
            {
                bg.results_seen = bg.queue.results.load(Ordering::Acquire);
                self.install_background();
            }
            if self.bg.is_some() {
                self.since_starved_check += 1;
                if self.since_starved_check >= STARVED_CHECK_EVERY {
                    self.since_starved_check = 0;
                    self.compile_starved();
                }
            }
            // SAFETY: env is valid per this function's contract.
            let pc = unsafe { (*hdr).pc };
            let flags = self.guest.tb_flags(env);
            if self.debug.is_some()
                && let EntryAction::Return(status) = self.debug_block_entry(env, pc, flags)
            {
                return status;
            }
            if self.cfg.trace.cpu {
                tracing::info!(target: "cpu", "{}", self.guest.dump_state(env));
            }
            // SAFETY: as above.
            let tb = match unsafe { self.lookup(env, pc, flags) } {
                Ok(tb) => tb,
                Err(f) => {
                    // SAFETY: as above.
                    unsafe {
                        (*hdr).fault_addr = f.addr;
                        (*hdr).fault_kind = f.kind as u32;
                    }
                    return ExitStatus::Fault;
                }
            };
            let tb_ptr = tb;
            // SAFETY: `tb` points into a Box owned by `self.tbs`; the map is only modified by
            // `lookup` and flushes, which happen before this reference is made or after its
            // last use.
            let tb = unsafe { &mut *tb_ptr };
            if self.cfg.trace.exec {
                tracing::info!(target: "exec", "exec {:#x} [{}]", tb.pc, if tb.entry.is_null() { "interp" } else { "jit" });
            }
            if self.cfg.trace.stats {
                tb.total_runs += 1;
            }
            let status = if !tb.entry.is_null() {
                let entry = tb.entry;
                let chaining = !self.cfg.trace.nochain
                    && !self.cfg.trace.exec
                    && !self.cfg.trace.cpu
                    && !self.instr_cfg.watch
                    && self.debug.as_ref().is_none_or(|d| d.chaining_allowed());
                let jit = self.jit.as_mut().expect("JIT block without a JIT");
                if chaining {
                    if self.jump_flags != Some(flags) {
                        jit.select_jumps(flags);
                        self.jump_flags = Some(flags);
                    }
                    jit.set_jump(pc, entry);
                }
                // System mode: a chain within one virtual page stays valid (the page is
                // entered through a checked lookup); a chain to another page, or into a
                // block that reads a second page, only while those pages' mappings hold
                // (both are in `cached_pages`, so a TLB flush of either undoes it through
                // `clear_pc_caches`). Chained exits are remembered so that dropping a TB
                // (its code page was written) unchains them.
                match &mut self.mode {
                    Mode::User(_) => {
                        if pending_slot != 0 && chaining {
                            jit.chain_site(pending_slot, entry);
                            self.stats.chains_made += 1;
                        }
                    }
                    Mode::System(sys) => {
                        if chaining && sys.last_cached != pc & PAGE_MASK {
                            sys.last_cached = pc & PAGE_MASK;
                            sys.cached_pages.insert(pc & PAGE_MASK);
                        }
                        if chaining && let Some((vp2, _)) = tb.page2 {
                            sys.cached_pages.insert(vp2);
                        }
                        if pending_slot != 0
                            && chaining
                            && let Some(&(src, slot)) = sys.slot_src.get(&pending_slot)
                        {
                            if src & PAGE_MASK != pc & PAGE_MASK || tb.page2.is_some() {
                                sys.cross_chains.push(slot);
                            }
                            jit.chain(&slot, entry);
                            // A cross-page exit is re-chained after every clear.
                            if !tb.incoming.iter().any(|s| s.site == slot.site) {
                                tb.incoming.push(slot);
                            }
                            self.stats.chains_made += 1;
                        }
                    }
                }
                let jit = &*jit;
                self.stats.jit_entries += 1;
                // System mode with chaining: jump-table misses may resolve through the
                // jump cache without leaving generated code.
                let lookup = match &self.mode {
                    Mode::System(_) if chaining => {
                        let ctx = self.indirect.get();
                        // SAFETY: no generated code runs yet; nothing else borrows it.
                        unsafe {
                            (*ctx).jump_cache = self.jump_cache.as_ptr();
                            (*ctx).len = self.jump_cache.len();
                            (*ctx).flags = flags;
                            (*ctx).fetch_idx = self.guest.fetch_mmu_idx(flags);
                            (*hdr).indirect_ctx = ctx as u64;
                        }
                        indirect_lookup as *const () as u64
                    }
                    _ => 0,
                };
                // SAFETY: env valid.
                unsafe { (*hdr).indirect_lookup = lookup };
                // SAFETY: header reset of the chaining protocol; env valid.
                unsafe { (*hdr).last_exit_slot = 0 };
                // SAFETY: `entry` is live code of this engine's JIT (flushes drop the TB's
                // CompiledBlock), and env is a valid CPU state.
                let status = unsafe { jit.enter(env, entry) };
                // SAFETY: env valid.
                pending_slot = unsafe { (*hdr).last_exit_slot } as usize;
                if jit.promotions_pending() {
                    self.promote_quick_blocks();
                }
                status
            } else {
                pending_slot = 0;
                self.stats.interp_runs += 1;
                tb.runs += 1;
                // SAFETY: env valid per contract; the interpreter checks guest accesses (in
                // system mode env holds the Tlb, new_system's contract).
                let interp = tb
                    .interp
                    .as_ref()
                    .expect("a TB without code keeps its interpreter block");
                let status = unsafe {
                    match &self.mode {
                        Mode::User(mem) => interp.run(env, mem, &mut self.regs),
                        Mode::System(sys) => interp.run_system(env, &sys.cfg, &mut self.regs),
                    }
                };
                if self.cfg.quick_threshold != 0
                    && tb.runs >= self.cfg.quick_threshold
                    && !tb.quick_failed
                    && self.cfg.tier == Tier::Auto
                    && matches!(self.mode, Mode::System(_))
                {
                    self.compile_quick(tb_ptr);
                } else if self.cfg.tier == Tier::Auto
                    && tb.runs >= self.cfg.jit_threshold
                    && !tb.jit_failed
                {
                    self.stats.interp_runs_compiling += tb.in_flight as u64;
                    if !tb.in_flight {
                        self.compile(tb_ptr);
                    } else if tb.runs == self.cfg.jit_threshold.saturating_mul(BG_PATIENCE)
                        && let Some(bg) = &self.bg
                    {
                        bg.promote(tb.id);
                    }
                }
                status
            };
            if status == ExitStatus::Interrupted
                && let Some(status) = self.debug_watch_exit(env, flags)
            {
                return status;
            }
            if status != ExitStatus::Next {
                return status;
            }
        }
    }

    /// Find the TB for (pc, flags), translating it if needed. Err: instruction fetch fault.
    ///
    /// # Safety
    /// `env` as for [`Engine::run`].
    unsafe fn lookup(&mut self, env: *mut u8, pc: u64, flags: u64) -> Result<*mut Tb, MemFault> {
        let idx = jump_cache_index(pc, self.jump_cache.len());
        let (cpc, cflags, ptr) = self.jump_cache[idx];
        let cached = cpc == pc && cflags == flags && !ptr.is_null();
        let fetch_idx = self.guest.fetch_mmu_idx(flags);
        // System mode: the physical PC now (a TLB probe, a page walk after a flush), which
        // a jump cache hit must match, and a check of a block's second page.
        let ppc = match &self.mode {
            Mode::User(_) => {
                if cached {
                    return Ok(ptr);
                }
                pc
            }
            Mode::System(sys) => {
                let f = SysFetch::new(&sys.cfg, env, fetch_idx);
                // SAFETY: env per this function's contract.
                let ppc = unsafe { f.phys_of(pc) }?.0;
                // SAFETY: jump cache pointers point into live boxes of `self.tbs`
                // (`remove_tb` and flushes scrub them).
                if cached && unsafe { (*ptr).ppc } == ppc {
                    match unsafe { (*ptr).page2 } {
                        None => return Ok(ptr),
                        Some((vp2, pp2)) => {
                            // SAFETY: as above.
                            let now = unsafe { f.phys_of(vp2) }.map(|(p, _)| p & PAGE_MASK);
                            if now == Ok(pp2) {
                                return Ok(ptr);
                            }
                        }
                    }
                }
                ppc
            }
        };
        self.stats.jump_cache_misses += 1;
        let key = (pc, ppc, flags);
        if let (Some(tb), Mode::System(sys)) = (self.tbs.get(&key), &self.mode)
            && let Some((vp2, pp2)) = tb.page2
        {
            let f = SysFetch::new(&sys.cfg, env, fetch_idx);
            // SAFETY: env per this function's contract.
            let now = unsafe { f.phys_of(vp2) }.map(|(p, _)| p & PAGE_MASK);
            if now != Ok(pp2) {
                // The block's second page maps elsewhere now: translate afresh.
                self.remove_tb(key);
                self.clear_pc_caches();
            }
        }
        let ptr: *mut Tb = match self.tbs.get_mut(&key) {
            Some(tb) => &mut **tb,
            None => {
                // SAFETY: env per this function's contract.
                let tb = unsafe { self.translate(env, key, fetch_idx) }?;
                let mut boxed = Box::new(tb);
                let ptr: *mut Tb = &mut *boxed;
                self.tbs.insert(key, boxed);
                if self.cfg.tier == Tier::Jit {
                    self.compile(ptr);
                } else {
                    self.install_shared(ptr);
                }
                ptr
            }
        };
        self.jump_cache[idx] = (pc, flags, ptr);
        Ok(ptr)
    }

    /// The IR of the user-mode guest block at (pc, flags), for multi-block regions (None
    /// when it cannot be fetched, and always in system mode, where regions are off).
    fn translate_ir(&self, pc: u64, flags: u64) -> Option<Block> {
        let Mode::User(mem) = &self.mode else {
            return None;
        };
        let mut b = crate::Builder::new(pc);
        self.guest.translate(pc, flags, &**mem, &mut b).ok()?;
        Some(b.finish())
    }

    /// A builder for the block at `pc`, stopping at the debugger's breakpoints.
    fn block_builder(&self, pc: u64) -> crate::Builder {
        let mut b = crate::Builder::new(pc);
        if let Some(d) = &self.debug {
            b.stop_pcs = d.stop_pcs();
        }
        b
    }

    /// The IR `b` built, instrumented as configured (and verified in debug builds).
    fn finish_block(&mut self, b: crate::Builder) -> Block {
        let pc = b.block.pc;
        let mut block = b.finish();
        if self.instr_cfg.any() {
            let st: *mut InstrState = &mut *self.instr;
            block = crate::instrument::instrument(&block, self.instr_cfg, st);
        }
        if cfg!(debug_assertions)
            && let Err(e) = crate::verify::verify(&block)
        {
            panic!(
                "frontend {} produced invalid IR at {pc:#x}: {e}",
                self.guest.name()
            );
        }
        block
    }

    /// Translate the block at `key` (system mode: fetching through the MMU and recording
    /// its code pages).
    ///
    /// # Safety
    /// `env` as for [`Engine::run`].
    unsafe fn translate(
        &mut self,
        env: *mut u8,
        key: TbKey,
        fetch_idx: u8,
    ) -> Result<Tb, MemFault> {
        let (pc, _, flags) = key;
        let start = Instant::now();
        let mut b = self.block_builder(pc);
        let mut page2 = None;
        let mut in_asm_bytes = Vec::new();
        match &mut self.mode {
            Mode::User(mem) => {
                self.guest.translate(pc, flags, &**mem, &mut b).map_err(
                    |TranslateError::FetchFault(addr)| MemFault {
                        addr,
                        kind: FaultKind::Exec,
                    },
                )?;
                if self.cfg.trace.in_asm {
                    in_asm_bytes = vec![0u8; b.block.guest_size as usize];
                    let n = mem.fetch(pc, &mut in_asm_bytes);
                    in_asm_bytes.truncate(n);
                }
            }
            Mode::System(sys) => {
                let fetch = SysFetch::new(&sys.cfg, env, fetch_idx);
                if let Err(TranslateError::FetchFault(addr)) =
                    self.guest.translate(pc, flags, &fetch, &mut b)
                {
                    return Err(match fetch.fault.get() {
                        Some(f) => f,
                        None => MemFault {
                            addr,
                            kind: FaultKind::Exec,
                        },
                    });
                }
                if self.cfg.trace.in_asm {
                    in_asm_bytes = vec![0u8; b.block.guest_size as usize];
                    let n = fetch.fetch(pc, &mut in_asm_bytes);
                    in_asm_bytes.truncate(n);
                }
                let pages = fetch.pages.take();
                for &(vp, pp) in &pages {
                    sys.page_tbs.entry(pp).or_default().push(key);
                    if vp != pc & PAGE_MASK {
                        page2 = Some((vp, pp));
                    }
                }
            }
        }
        let block = self.finish_block(b);
        let interp = InterpBlock::new(&block);
        let shape = (block.guest_size, block.num_insns);
        self.stats.translate_time += start.elapsed();
        self.stats.blocks_translated += 1;
        if self.cfg.trace.in_asm {
            let lines = self.guest.disassemble(pc, &in_asm_bytes);
            tracing::info!(target: "in_asm", "IN: {pc:#x}\n{}\n", lines.join("\n"));
        }
        if self.cfg.trace.op {
            let guest = self.guest.clone();
            let text = printer::print_block(&block, &|off| guest.global_name(off));
            tracing::info!(target: "op", "OP:\n{text}");
        }
        self.next_tb_id += 1;
        Ok(Tb {
            id: self.next_tb_id,
            pc,
            flags,
            ppc: key.1,
            page2,
            incoming: Vec::new(),
            ir: Some(block),
            in_flight: false,
            interp: Some(interp),
            shape,
            runs: 0,
            jit: None,
            entry: std::ptr::null(),
            jit_failed: false,
            quick_failed: false,
            quick: false,
            total_runs: 0,
        })
    }

    /// The code another engine of the machine compiled from the same IR as `block` (see
    /// [`Engine::set_code_share`]), installed in this engine's buffer; None if there is none.
    fn install_from_share(&mut self, block: &Block) -> Option<Result<CompiledBlock, JitError>> {
        let (Some(share), Some(jit)) = (&self.share, self.jit.as_mut()) else {
            return None;
        };
        let start = Instant::now();
        let obj = jit.find_shared(block, share)?;
        let result = jit.install_object(&obj);
        self.stats.compiles_shared += 1;
        self.stats.compile_time += start.elapsed();
        Some(result)
    }

    /// A new TB whose code another engine of the machine compiled from the same IR runs
    /// that code at once, without an interpreted warm-up.
    fn install_shared(&mut self, tb: *mut Tb) {
        // SAFETY: `tb` points into a Box owned by `self.tbs`; no other reference to it is
        // live while this function runs.
        let Some(block) = (unsafe { (*tb).ir.take() }) else {
            return;
        };
        match self.install_from_share(&block) {
            Some(result) => self.finish_compile(tb, block, result),
            // SAFETY: as above.
            None => unsafe { (*tb).ir = Some(block) },
        }
    }

    /// Compile a TB with Cranelift. A full code buffer schedules a flush of all
    /// translations; on a codegen error the TB stays interpreted, which is always correct.
    fn compile(&mut self, tb: *mut Tb) {
        if self.jit.is_none() {
            return;
        }
        // SAFETY: `tb` points into a Box owned by `self.tbs`; no other reference to it is
        // live while this function runs.
        let Some(block) = (unsafe { (*tb).ir.take() }) else {
            return;
        };
        // SAFETY: as above. A block compiled here while its copy is with the background
        // compiler (which lags) ignores the late result.
        let in_flight = unsafe { std::mem::replace(&mut (*tb).in_flight, false) };
        let start = Instant::now();
        // SAFETY: as above.
        let (pc, flags) = unsafe { ((*tb).pc, (*tb).flags) };
        // Regions join other blocks' IR as translated for user mode, without instrumentation
        // or debugger stops: only when neither is active.
        let region_ok = self.regions
            && matches!(self.mode, Mode::User(_))
            && self.debug.is_none()
            && !self.instr_cfg.any();
        let region = if region_ok {
            let r = region::form(block.clone(), RegionLimits::default(), |p| {
                self.translate_ir(p, flags)
            });
            if cfg!(debug_assertions)
                && let Err(e) = crate::verify::verify(&r)
            {
                panic!("region at {pc:#x} is invalid IR: {e}");
            }
            Some(r).filter(|r| r.ops.len() != block.ops.len())
        } else {
            None
        };
        // Another hart may have compiled this code since the TB was made.
        if region.is_none()
            && let Some(result) = self.install_from_share(&block)
        {
            self.finish_compile(tb, block, result);
            return;
        }
        if region.is_none() && self.bg_wanted && self.cfg.tier == Tier::Auto && !in_flight {
            if self.bg.is_none() {
                self.bg = self
                    .jit
                    .as_ref()
                    .and_then(|j| BgCompile::start(j.new_compiler(), self.share.clone()));
                if self.bg.is_none() {
                    self.bg_wanted = false;
                }
            }
            if let Some(bg) = &mut self.bg {
                // SAFETY: as above.
                let (id, key) = unsafe { ((*tb).id, (*tb).key()) };
                let block2 = block.clone();
                // SAFETY: as above.
                unsafe {
                    (*tb).ir = Some(block);
                    (*tb).in_flight = true;
                }
                bg.send(
                    CompileJob {
                        id,
                        block: block2,
                        queued: Instant::now(),
                    },
                    key,
                );
                return;
            }
        }
        let result = match &region {
            Some(r) => self.jit.as_mut().map(|jit| jit.compile_optimized(r)),
            None => self.compile_block(&block),
        };
        let Some(result) = result else { return };
        if region.is_some() && result.is_ok() {
            self.stats.regions_compiled += 1;
        }
        self.stats.compile_time += start.elapsed();
        self.finish_compile(tb, block, result);
    }

    /// Whether [`Engine::refetch_ir`] can rebuild the TB's IR: system mode, every code page
    /// RAM. (Debugger stops and instrumentation are applied again as at translation.)
    fn can_refetch(&self, tb: &TbSource) -> bool {
        let Mode::System(sys) = &self.mode else {
            return false;
        };
        let ram = |pp: u64| sys.cfg.phys.ram_page(pp).is_some();
        ram(tb.ppc & PAGE_MASK) && tb.page2.is_none_or(|(_, pp)| ram(pp))
    }

    /// The IR of a TB translated again from the physical pages it was first read from
    /// (its code is unchanged while the TB exists: writes to it drop the TB). None when the
    /// code cannot be read again or no longer gives the same block (then the TB keeps its
    /// quick code).
    fn refetch_ir(&mut self, tb: TbSource) -> Option<Block> {
        if !self.can_refetch(&tb) {
            return None;
        }
        let Mode::System(sys) = &self.mode else {
            return None;
        };
        let start = Instant::now();
        let fetch = crate::softmmu::RefetchCode {
            phys: &*sys.cfg.phys,
            pages: [Some((tb.pc & PAGE_MASK, tb.ppc & PAGE_MASK)), tb.page2],
        };
        let mut b = self.block_builder(tb.pc);
        let translated = self.guest.translate(tb.pc, tb.flags, &fetch, &mut b);
        self.stats.translate_time += start.elapsed();
        translated.ok()?;
        let block = self.finish_block(b);
        (tb.shape == (block.guest_size, block.num_insns)).then_some(block)
    }

    /// Cranelift's code for `block` on this thread (taken from the machine's code share
    /// when another hart compiled the same IR); None without a JIT.
    fn compile_block(&mut self, block: &Block) -> Option<Result<CompiledBlock, JitError>> {
        let jit = self.jit.as_mut()?;
        Some(match &self.share {
            Some(share) => jit.compile_shared(block, share).map(|(cb, shared)| {
                self.stats.compiles_shared += shared as u64;
                cb
            }),
            None => jit.compile(block),
        })
    }

    /// Compile on the hart the background jobs that waited too long for the compile thread
    /// (see [`STARVED_AFTER`]).
    fn compile_starved(&mut self) {
        let Some(bg) = &mut self.bg else { return };
        for (job, key) in bg.take_starved(self.starved_after, STARVED_MAX_PER_CHECK) {
            let tb: *mut Tb = match self.tbs.get_mut(&key) {
                Some(tb) if tb.id == job.id && tb.in_flight => {
                    tb.in_flight = false;
                    tb.ir = None;
                    &mut **tb
                }
                _ => continue,
            };
            let start = Instant::now();
            let Some(result) = self.compile_block(&job.block) else {
                return;
            };
            self.stats.compile_time += start.elapsed();
            self.stats.compiles_taken_back += 1;
            self.finish_compile(tb, job.block, result);
        }
    }

    /// Compile a TB with the quick tier; a block it does not handle is marked and goes
    /// the Cranelift way when hot.
    fn compile_quick(&mut self, tb: *mut Tb) {
        let Some(jit) = self.jit.as_mut() else { return };
        // SAFETY: `tb` points into a Box owned by `self.tbs`; no other reference to it is
        // live while this function runs.
        let tbr = unsafe { &mut *tb };
        if tbr.in_flight {
            // Cranelift's code is on its way.
            tbr.quick_failed = true;
            return;
        }
        let Some(block) = tbr.ir.take() else { return };
        let start = Instant::now();
        let result = jit.compile_quick(&block, self.cfg.promote_threshold);
        self.stats.compile_time += start.elapsed();
        match result {
            Err(JitError::Codegen(_)) => {
                tbr.quick_failed = true;
                tbr.ir = Some(block);
            }
            Err(e) => self.finish_compile(tb, block, Err(e)),
            Ok((cb, counter)) => {
                let key = tbr.key();
                if let Some(i) = counter {
                    let i = i as usize;
                    if self.quick_keys.len() <= i {
                        self.quick_keys.resize(i + 1, (0, 0, u64::MAX));
                    }
                    self.quick_keys[i] = key;
                }
                self.attach_code(tbr, cb);
                // Cranelift needs the IR again only if the block gets hot; it is read
                // again from guest memory then, where it can be.
                if !self.can_refetch(&tbr.source()) {
                    tbr.ir = Some(block);
                }
                tbr.quick = true;
                self.stats.blocks_quick += 1;
            }
        }
    }

    /// Queue the quick blocks that asked for it for Cranelift.
    fn promote_quick_blocks(&mut self) {
        let Some(jit) = self.jit.as_mut() else { return };
        for i in jit.take_promotions() {
            let Some(&key) = self.quick_keys.get(i as usize) else {
                continue;
            };
            let tb: *mut Tb = match self.tbs.get_mut(&key) {
                Some(tb) if tb.quick && !tb.in_flight => &mut **tb,
                _ => continue,
            };
            // SAFETY: `tb` points into a Box owned by `self.tbs`; no other reference to it
            // is live here (refetch_ir gets a copy of what it needs).
            let (has_ir, source) = unsafe { ((*tb).ir.is_some(), (*tb).source()) };
            if !has_ir {
                match self.refetch_ir(source) {
                    // SAFETY: as above; refetch_ir leaves `self.tbs` alone.
                    Some(block) => unsafe { (*tb).ir = Some(block) },
                    None => continue,
                }
            }
            self.stats.blocks_promoted += 1;
            self.compile(tb);
        }
    }

    /// Install the background compiler's finished objects whose TB still exists.
    fn install_background(&mut self) {
        loop {
            let Some(bg) = &mut self.bg else { return };
            let done = match bg.done.try_recv() {
                Ok(d) => d,
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => {
                    // The thread died: its TBs get recompiled here when hot again.
                    for (_, key) in bg.pending.drain() {
                        if let Some(tb) = self.tbs.get_mut(&key) {
                            tb.in_flight = false;
                        }
                    }
                    self.bg = None;
                    self.bg_wanted = false;
                    return;
                }
            };
            let key = bg.pending.remove(&done.id);
            self.stats.compile_time_background += done.time;
            let tb: *mut Tb = match key.and_then(|k| self.tbs.get_mut(&k)) {
                Some(tb) if tb.id == done.id && tb.in_flight => {
                    tb.in_flight = false;
                    tb.ir = None;
                    &mut **tb
                }
                _ => {
                    self.stats.compiles_discarded += 1;
                    continue;
                }
            };
            let start = Instant::now();
            let result = match (done.result, self.jit.as_mut()) {
                (Ok((obj, shared)), Some(jit)) => {
                    self.stats.compiles_shared += shared as u64;
                    jit.install_object(&obj)
                }
                (Ok(_), None) => return,
                (Err(e), _) => Err(e),
            };
            self.stats.compile_time += start.elapsed();
            self.finish_compile(tb, done.block, result);
        }
    }

    /// Make `cb` the TB's code. Code replacing the quick tier's takes over the exits
    /// chained to the old code (which stays valid until the next flush).
    fn attach_code(&mut self, tb: &mut Tb, cb: CompiledBlock) {
        let Some(jit) = self.jit.as_mut() else { return };
        self.stats.blocks_compiled += 1;
        if self.cfg.trace.out_asm {
            let lines = jit.disassemble(&cb);
            tracing::info!(target: "out_asm", "OUT: [{:#x}] {} bytes\n{}\n", tb.pc, cb.code_len, lines.join("\n"));
        }
        if let Mode::System(sys) = &mut self.mode {
            for e in &cb.exits {
                sys.slot_src.insert(e.site, (tb.pc, *e));
            }
        }
        if std::mem::take(&mut tb.quick) {
            for slot in &tb.incoming {
                jit.chain(slot, cb.entry);
            }
        }
        tb.entry = cb.entry;
        tb.jit = Some(cb);
        tb.interp = None;
    }

    /// Attach a compile result to its TB (or keep the IR for a retry after a flush, or
    /// mark the TB as staying interpreted).
    fn finish_compile(
        &mut self,
        tb: *mut Tb,
        block: Block,
        result: Result<CompiledBlock, JitError>,
    ) {
        if self.jit.is_none() {
            return;
        }
        // SAFETY: `tb` points into a Box owned by `self.tbs`; no other reference to it is
        // live while this function runs.
        let tb = unsafe { &mut *tb };
        match result {
            Ok(cb) => self.attach_code(tb, cb),
            Err(JitError::BufferFull) => {
                // Translations are dropped as a whole before the next block; this one is
                // retranslated and recompiled when it is hot again.
                self.flush_pending = true;
                self.stats.buffer_flushes += 1;
                tb.ir = Some(block);
            }
            Err(e) => {
                tracing::warn!(
                    "JIT compile of block {:#x} failed, staying in the interpreter: {e}",
                    tb.pc
                );
                tb.jit_failed = true;
                tb.ir = Some(block);
            }
        }
    }
}

#[cfg(test)]
use tests as tests_support;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinOp, Cond, Ty};
    use crate::mem::{PERM_R, PERM_W, PERM_X};
    use std::sync::RwLock;
    use std::sync::atomic::AtomicU64 as Counter;

    /// `request_flush_all` is process-wide: tests that count translations hold this for
    /// reading, the test that requests a flush holds it for writing.
    static GLOBAL_FLUSH: RwLock<()> = RwLock::new(());

    /// A toy guest whose "code" is generated from the PC alone:
    /// - 0x1000 + 0x10*k (k < 64): counter += 1; if counter < limit goto 0x1000 + 0x10*((k+1)%ring) else goto 0x9000
    /// - 0x9000: exit with Halt.
    ///
    /// Globals: COUNTER, LIMIT, RING (counter, limit, ring size).
    pub(super) const COUNTER: u32 = crate::CPU_HEADER_SIZE;
    pub(super) const LIMIT: u32 = COUNTER + 8;
    pub(super) const RING: u32 = COUNTER + 16;

    pub(super) struct Toy {
        translations: Counter,
    }

    #[repr(C)]
    #[derive(Default)]
    pub(super) struct ToyCpu {
        pub(super) hdr: CpuHeader,
        pub(super) counter: u64,
        pub(super) limit: u64,
        pub(super) ring: u64,
    }

    impl Guest for Toy {
        fn name(&self) -> &'static str {
            "toy"
        }
        fn translate(
            &self,
            pc: u64,
            _flags: u64,
            mem: &dyn crate::CodeFetch,
            b: &mut crate::Builder,
        ) -> Result<(), TranslateError> {
            self.translations.fetch_add(1, Ordering::Relaxed);
            let mut byte = [0u8; 1];
            if mem.fetch(pc, &mut byte) == 0 {
                return Err(TranslateError::FetchFault(pc));
            }
            b.block.guest_size = 4;
            b.block.num_insns = 1;
            b.insn_start(pc);
            if pc == 0x9000 {
                b.exit(ExitStatus::Halt, pc);
                return Ok(());
            }
            let k = (pc - 0x1000) / 0x10;
            let c = b.get_global(Ty::I64, COUNTER);
            let c1 = b.bin_imm(BinOp::Add, c, 1);
            b.set_global(Ty::I64, COUNTER, c1);
            let limit = b.get_global(Ty::I64, LIMIT);
            let more = b.setcond(Cond::LtU, c1, limit);
            let l = b.new_label();
            b.br_cond(more, l);
            b.goto_block(0x9000);
            b.label(l);
            // Next block in the ring: ring size is a global, so compute the PC at run time
            // for ring sizes other than the compile-time default of 1..=64.
            let ring = b.get_global(Ty::I64, RING);
            let next = b.const64(k + 1);
            let idx = b.bin(BinOp::RemU, next, ring);
            let off = b.bin_imm(BinOp::Shl, idx, 4);
            let target = b.bin_imm(BinOp::Add, off, 0x1000);
            let is_direct = b.setcond(Cond::Eq, idx, next);
            let l2 = b.new_label();
            b.br_cond(is_direct, l2);
            b.exit_indirect(target);
            b.label(l2);
            b.goto_block(0x1000 + 0x10 * (k + 1));
            Ok(())
        }
        fn tb_flags(&self, _env: *const u8) -> u64 {
            0
        }
        fn global_name(&self, offset: u32) -> Option<String> {
            Some(format!("g{offset}"))
        }
        fn disassemble(&self, pc: u64, _bytes: &[u8]) -> Vec<String> {
            vec![format!("{pc:#x}: toy")]
        }
    }

    pub(super) fn setup() -> (Arc<Toy>, Arc<GuestMemory>) {
        let mem = GuestMemory::reserve(1 << 24).unwrap();
        mem.map_anon(0x1000, 0x9000, PERM_R | PERM_W | PERM_X)
            .unwrap();
        (
            Arc::new(Toy {
                translations: Counter::new(0),
            }),
            Arc::new(mem),
        )
    }

    fn run_toy(
        tier: Tier,
        limit: u64,
        ring: u64,
        code_buffer_size: usize,
    ) -> (ToyCpu, EngineStats, u64) {
        let (toy, mem) = setup();
        let cfg = EngineConfig {
            tier,
            jit_threshold: 3,
            code_buffer_size,
            trace: Trace::default(),
            ..EngineConfig::default()
        };
        let mut engine = Engine::new(toy.clone(), mem, cfg).unwrap();
        let mut cpu = ToyCpu {
            limit,
            ring,
            ..ToyCpu::default()
        };
        cpu.hdr.pc = 0x1000;
        // SAFETY: cpu is a valid ToyCpu with the header first, used only here.
        let status = unsafe { engine.run(&mut cpu as *mut ToyCpu as *mut u8) };
        assert_eq!(status, ExitStatus::Halt);
        assert_eq!(cpu.hdr.pc, 0x9000);
        let t = toy.translations.load(Ordering::Relaxed);
        (cpu, engine.stats(), t)
    }

    #[test]
    fn code_another_engine_compiled_runs_without_warm_up() {
        let _counting = GLOBAL_FLUSH.read().unwrap_or_else(|e| e.into_inner());
        let (toy, mem) = setup();
        let share = CodeShare::new();
        let cfg = EngineConfig {
            tier: Tier::Auto,
            jit_threshold: 3,
            ..EngineConfig::default()
        };
        let mut stats = Vec::new();
        for _ in 0..2 {
            let mut engine = Engine::new(toy.clone(), mem.clone(), cfg.clone()).unwrap();
            engine.set_code_share(share.clone());
            let mut cpu = ToyCpu {
                limit: 1000,
                ring: 8,
                ..ToyCpu::default()
            };
            cpu.hdr.pc = 0x1000;
            // SAFETY: cpu is a valid ToyCpu with the header first, used only here.
            let status = unsafe { engine.run(&mut cpu as *mut ToyCpu as *mut u8) };
            assert_eq!(status, ExitStatus::Halt);
            assert_eq!(cpu.counter, 1000);
            stats.push(engine.stats());
        }
        // The first engine warms the ring's blocks up in the interpreter and compiles them;
        // the second installs that code as it translates each block, and interprets only
        // the exit block, which ran once and was never compiled.
        assert!(stats[0].interp_runs >= 8 * 3, "{:?}", stats[0]);
        assert_eq!(stats[0].compiles_shared, 0);
        assert_eq!(stats[0].blocks_compiled, 8);
        assert_eq!(stats[1].interp_runs, 1, "{:?}", stats[1]);
        assert_eq!(stats[1].compiles_shared, stats[0].blocks_compiled);
    }

    #[test]
    fn every_tier_runs_the_loop_to_completion() {
        let _counting = GLOBAL_FLUSH.read().unwrap_or_else(|e| e.into_inner());
        for tier in [Tier::Interp, Tier::Jit, Tier::Auto] {
            let (cpu, stats, _) = run_toy(tier, 10_000, 8, 1 << 20);
            assert_eq!(cpu.counter, 10_000, "{tier:?}");
            match tier {
                Tier::Interp => assert_eq!(stats.blocks_compiled, 0),
                Tier::Jit => {
                    assert_eq!(stats.blocks_compiled, 9);
                    assert_eq!(stats.interp_runs, 0);
                    // The 7 direct edges of the ring are chained; only the indirect wrap-around
                    // returns to the engine, once per lap.
                    assert!(stats.chains_made >= 7, "{stats:?}");
                    assert!(stats.jit_entries <= 10_000 / 8 + 9, "{stats:?}");
                }
                Tier::Auto => {
                    assert_eq!(stats.blocks_compiled, 8);
                    assert!(stats.interp_runs >= 8 * 3);
                    assert!(stats.jit_entries <= 10_000 / 8 + 9, "{stats:?}");
                }
            }
        }
    }

    /// An auto-tier engine (threshold 3) and a CPU about to run the 8-block ring 200,000
    /// times.
    fn auto_ring_engine() -> (Engine, ToyCpu) {
        let (toy, mem) = setup();
        let cfg = EngineConfig {
            tier: Tier::Auto,
            jit_threshold: 3,
            code_buffer_size: 1 << 20,
            trace: Trace::default(),
            ..EngineConfig::default()
        };
        let engine = Engine::new(toy, mem, cfg).unwrap();
        let mut cpu = ToyCpu {
            limit: 200_000,
            ring: 8,
            ..ToyCpu::default()
        };
        cpu.hdr.pc = 0x1000;
        (engine, cpu)
    }

    /// A background compiler whose queue no thread serves (and the sender of its result
    /// channel, to keep it open).
    fn threadless_bg() -> (BgCompile, mpsc::Sender<CompileDone>) {
        let (tx, done) = mpsc::channel::<CompileDone>();
        let bg = BgCompile {
            queue: Arc::new(BgQueue::default()),
            done,
            pending: FxHashMap::default(),
            results_seen: 0,
        };
        (bg, tx)
    }

    /// Jobs the compile thread leaves queued too long (here: a queue no thread serves) are
    /// taken back and compiled on the hart, oldest first, and the result stays exact.
    #[test]
    fn starved_background_jobs_are_compiled_on_the_hart() {
        let _counting = GLOBAL_FLUSH.read().unwrap_or_else(|e| e.into_inner());
        let (mut engine, mut cpu) = auto_ring_engine();
        let (bg, _results_tx) = threadless_bg();
        engine.bg = Some(bg);
        engine.bg_wanted = true;
        engine.starved_after = Duration::ZERO;
        let env = &mut cpu as *mut ToyCpu as *mut u8;
        // SAFETY: cpu is a valid ToyCpu with the header first, used only here.
        assert_eq!(unsafe { engine.run(env) }, ExitStatus::Halt);
        assert_eq!(cpu.counter, 200_000);
        let stats = engine.stats();
        assert_eq!(stats.blocks_compiled, 8, "{stats:?}");
        assert_eq!(stats.compiles_taken_back, 8, "{stats:?}");
        let bg = engine.bg.as_ref().expect("still there");
        assert!(bg.pending.is_empty() && bg.queue.lock().jobs.is_empty());

        // take_starved: only jobs older than the limit, oldest first, at most `max`.
        let (mut bg, _tx) = threadless_bg();
        let old = Instant::now() - Duration::from_millis(100);
        for (id, queued) in [(1, old), (2, old), (3, old), (4, Instant::now())] {
            let block = crate::Builder::new(0x1000).finish();
            bg.send(CompileJob { id, block, queued }, (0x1000 * id, 0, 0));
        }
        let ids =
            |v: Vec<(CompileJob, TbKey)>| v.iter().map(|(j, k)| (j.id, k.0)).collect::<Vec<_>>();
        assert_eq!(
            ids(bg.take_starved(Duration::from_millis(50), 2)),
            [(1, 0x1000), (2, 0x2000)]
        );
        assert_eq!(
            ids(bg.take_starved(Duration::from_millis(50), 8)),
            [(3, 0x3000)]
        );
        assert_eq!(bg.pending.len(), 1);
        assert_eq!(bg.queue.lock().jobs.len(), 1);
    }

    #[test]
    fn background_compiles_are_installed_and_exact() {
        let _counting = GLOBAL_FLUSH.read().unwrap_or_else(|e| e.into_inner());
        let (mut engine, mut cpu) = auto_ring_engine();
        engine.set_background_compile(true);
        let env = &mut cpu as *mut ToyCpu as *mut u8;
        // Every ring block gets code: from the compile thread, which runs at idle priority
        // (on a loaded host, after a while), or from the hart, which takes back the jobs
        // queued longer than STARVED_AFTER. Run the loop again until then.
        let start = Instant::now();
        loop {
            cpu.counter = 0;
            cpu.hdr.pc = 0x1000;
            // SAFETY: cpu is a valid ToyCpu with the header first, used only here.
            assert_eq!(unsafe { engine.run(env) }, ExitStatus::Halt);
            assert_eq!(cpu.counter, 200_000);
            let stats = engine.stats();
            if stats.blocks_compiled >= 8 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{stats:?}");
        }
        assert!(engine.bg.is_some(), "the compile thread started");
        // A flush while compiles may be in flight: their results are dropped, the loop
        // stays exact.
        cpu.counter = 0;
        cpu.limit = 50_000;
        cpu.hdr.pc = 0x1000;
        engine.flush_translations();
        // SAFETY: as above.
        assert_eq!(unsafe { engine.run(env) }, ExitStatus::Halt);
        assert_eq!(cpu.counter, 50_000);
    }

    #[test]
    fn indirect_exits_are_looked_up() {
        let _counting = GLOBAL_FLUSH.read().unwrap_or_else(|e| e.into_inner());
        // Ring of 5: block 4 jumps back to block 0 through ExitIndirect.
        for tier in [Tier::Interp, Tier::Jit, Tier::Auto] {
            let (cpu, stats, _) = run_toy(tier, 1000, 5, 1 << 20);
            assert_eq!(cpu.counter, 1000);
            assert_eq!(stats.blocks_translated, 6, "{tier:?}");
        }
    }

    #[test]
    fn full_code_buffer_is_flushed_and_execution_continues() {
        let _counting = GLOBAL_FLUSH.read().unwrap_or_else(|e| e.into_inner());
        // 64 distinct blocks with a buffer that holds only a few of them.
        let (cpu, stats, translations) = run_toy(Tier::Jit, 5000, 64, 4096);
        assert_eq!(cpu.counter, 5000);
        assert!(stats.buffer_flushes > 0, "{stats:?}");
        assert!(translations > 65, "blocks are retranslated after a flush");
    }

    #[test]
    fn flush_request_drops_translations() {
        let _flushing = GLOBAL_FLUSH.write().unwrap_or_else(|e| e.into_inner());
        let (toy, mem) = setup();
        let mut engine = Engine::new(
            toy.clone(),
            mem,
            EngineConfig {
                tier: Tier::Jit,
                ..EngineConfig::default()
            },
        )
        .unwrap();
        let mut cpu = ToyCpu {
            limit: 100,
            ring: 4,
            ..ToyCpu::default()
        };
        cpu.hdr.pc = 0x1000;
        let env = &mut cpu as *mut ToyCpu as *mut u8;
        // SAFETY: valid ToyCpu, header first.
        assert_eq!(unsafe { engine.run(env) }, ExitStatus::Halt);
        let before = toy.translations.load(Ordering::Relaxed);
        request_flush_all();
        cpu.hdr.pc = 0x1000;
        cpu.limit = 200;
        // SAFETY: as above.
        assert_eq!(unsafe { engine.run(env) }, ExitStatus::Halt);
        assert_eq!(cpu.counter, 200);
        assert!(toy.translations.load(Ordering::Relaxed) >= before + 5);
        assert!(engine.stats().code_flushes >= 1);
    }

    #[test]
    fn exit_request_interrupts_and_fetch_faults_report_exec() {
        let (toy, mem) = setup();
        for tier in [Tier::Interp, Tier::Jit] {
            let mut engine = Engine::new(
                toy.clone(),
                mem.clone(),
                EngineConfig {
                    tier,
                    ..EngineConfig::default()
                },
            )
            .unwrap();
            let mut cpu = ToyCpu {
                limit: 100,
                ring: 4,
                ..ToyCpu::default()
            };
            cpu.hdr.pc = 0x1000;
            cpu.hdr.exit_request.store(1, Ordering::Relaxed);
            let env = &mut cpu as *mut ToyCpu as *mut u8;
            // SAFETY: valid ToyCpu, header first.
            assert_eq!(unsafe { engine.run(env) }, ExitStatus::Interrupted);
            assert_eq!(cpu.hdr.pc, 0x1000);
            cpu.hdr.exit_request.store(0, Ordering::Relaxed);
            cpu.hdr.pc = 0x20_0000;
            // SAFETY: as above.
            assert_eq!(unsafe { engine.run(env) }, ExitStatus::Fault);
            assert_eq!(cpu.hdr.fault_addr, 0x20_0000);
            assert_eq!(cpu.hdr.fault_kind, FaultKind::Exec as u32);
        }
    }

    /// Two blocks that loop through each other by direct jumps: 0x1000 adds 1 to the
    /// counter and goes to 0x1008, which goes back to 0x1000 below the limit, else to 0x9000
    /// (Halt).
    struct LoopToy;

    impl Guest for LoopToy {
        fn name(&self) -> &'static str {
            "looptoy"
        }
        fn translate(
            &self,
            pc: u64,
            _flags: u64,
            _mem: &dyn crate::CodeFetch,
            b: &mut crate::Builder,
        ) -> Result<(), TranslateError> {
            b.block.guest_size = 8;
            b.block.num_insns = 1;
            b.insn_start(pc);
            match pc {
                0x1000 => {
                    let c = b.get_global(Ty::I64, COUNTER);
                    let c1 = b.bin_imm(BinOp::Add, c, 1);
                    b.set_global(Ty::I64, COUNTER, c1);
                    b.goto_block(0x1008);
                }
                0x1008 => {
                    let c = b.get_global(Ty::I64, COUNTER);
                    let limit = b.get_global(Ty::I64, LIMIT);
                    let more = b.setcond(Cond::LtU, c, limit);
                    let l = b.new_label();
                    b.br_cond(more, l);
                    b.goto_block(0x9000);
                    b.label(l);
                    b.goto_block(0x1000);
                }
                0x9000 => b.exit(ExitStatus::Halt, pc),
                _ => return Err(TranslateError::FetchFault(pc)),
            }
            Ok(())
        }
        fn tb_flags(&self, _env: *const u8) -> u64 {
            0
        }
        fn global_name(&self, offset: u32) -> Option<String> {
            Some(format!("g{offset}"))
        }
        fn disassemble(&self, pc: u64, _bytes: &[u8]) -> Vec<String> {
            vec![format!("{pc:#x}: looptoy")]
        }
    }

    #[test]
    fn direct_loops_become_regions() {
        let (_, mem) = setup();
        for (tier, regions) in [(Tier::Jit, true), (Tier::Auto, true), (Tier::Jit, false)] {
            let mut engine = Engine::new(
                Arc::new(LoopToy),
                mem.clone(),
                EngineConfig {
                    tier,
                    jit_threshold: 3,
                    ..EngineConfig::default()
                },
            )
            .unwrap();
            engine.set_regions(regions);
            let mut cpu = ToyCpu {
                limit: 100_000,
                ..ToyCpu::default()
            };
            cpu.hdr.pc = 0x1000;
            // SAFETY: cpu is a valid ToyCpu with the header first, used only here.
            let st = unsafe { engine.run(&mut cpu as *mut ToyCpu as *mut u8) };
            assert_eq!(st, ExitStatus::Halt);
            assert_eq!((cpu.counter, cpu.hdr.pc), (100_000, 0x9000));
            let stats = engine.stats();
            if regions {
                assert!(stats.regions_compiled >= 1, "{tier:?} {stats:?}");
                // The loop runs inside the region: the engine sees only its first entries.
                assert!(stats.jit_entries < 10, "{tier:?} {stats:?}");
            } else {
                assert_eq!(stats.regions_compiled, 0);
            }
        }
    }
}

#[cfg(test)]
mod debug_tests {
    //! Breakpoints and single steps are exact on chained JIT code (the toy guest of the
    //! engine tests: one "instruction" per block, counter += 1 per block).
    use super::tests_support::*;
    use super::*;
    use crate::debug::{DebugPoints, DebugStop, VcpuDebug};

    #[test]
    fn breakpoints_and_steps_are_exact_after_chaining() {
        for tier in [Tier::Jit, Tier::Auto, Tier::Interp] {
            let (toy, mem) = setup();
            let cfg = EngineConfig {
                tier,
                jit_threshold: 2,
                ..EngineConfig::default()
            };
            let mut engine = Engine::new(toy, mem, cfg).unwrap();
            let mut cpu = ToyCpu {
                limit: 40,
                ring: 8,
                ..ToyCpu::default()
            };
            cpu.hdr.pc = 0x1000;
            let env = &mut cpu as *mut ToyCpu as *mut u8;
            // A first run builds chains and self loops.
            // SAFETY: valid ToyCpu, header first.
            assert_eq!(unsafe { engine.run(env) }, ExitStatus::Halt);
            cpu.counter = 0;
            cpu.limit = 1000;
            cpu.hdr.pc = 0x1000;
            let points = DebugPoints::new();
            engine.set_debug(Some(VcpuDebug::new(points.clone())));
            points.add_breakpoint(0x1030);
            let resume = |engine: &mut Engine, step: bool, pc: u64| {
                engine.debug_mut().unwrap().resume(step, pc);
            };
            resume(&mut engine, false, u64::MAX);
            // SAFETY: as above.
            assert_eq!(
                unsafe { engine.run(env) },
                ExitStatus::Interrupted,
                "{tier:?}"
            );
            let stop = engine.debug_mut().unwrap().take_stop();
            assert_eq!(stop, Some(DebugStop::Breakpoint { pc: 0x1030 }), "{tier:?}");
            assert_eq!((cpu.counter, cpu.hdr.pc), (3, 0x1030), "{tier:?}");
            // Continue from the breakpoint: one lap of the ring later it is hit again.
            resume(&mut engine, false, 0x1030);
            // SAFETY: as above.
            assert_eq!(unsafe { engine.run(env) }, ExitStatus::Interrupted);
            assert_eq!((cpu.counter, cpu.hdr.pc), (11, 0x1030), "{tier:?}");
            // One step runs exactly one instruction.
            resume(&mut engine, true, 0x1030);
            // SAFETY: as above.
            assert_eq!(unsafe { engine.run(env) }, ExitStatus::Interrupted);
            assert_eq!(
                engine.debug_mut().unwrap().take_stop(),
                Some(DebugStop::Step)
            );
            assert!(engine.debug_mut().unwrap().step_done());
            assert_eq!((cpu.counter, cpu.hdr.pc), (12, 0x1040), "{tier:?}");
            // Without breakpoints the loop runs to the end.
            points.remove_breakpoint(0x1030);
            resume(&mut engine, false, 0x1040);
            // SAFETY: as above.
            assert_eq!(unsafe { engine.run(env) }, ExitStatus::Halt);
            assert_eq!(cpu.counter, 1000, "{tier:?}");
        }
    }
}
