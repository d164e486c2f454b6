//! The per-vCPU execution engine: finds or translates the translation block (TB) for the
//! current guest PC, runs it on the interpreter or in JIT code, promotes hot blocks from the
//! interpreter to Cranelift, chains JIT blocks through their exit slots, and flushes
//! translations when guest code changes or the code buffer fills.

use std::sync::atomic::{AtomicU64, Ordering};

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
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub tier: Tier,
    /// With [`Tier::Auto`]: interpreted executions before a block is compiled.
    pub jit_threshold: u32,
    /// Size of the JIT code buffer in bytes; it is flushed as a whole when full.
    pub code_buffer_size: usize,
    pub trace: Trace,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            tier: Tier::Auto,
            jit_threshold: 50,
            code_buffer_size: 64 << 20,
            trace: Trace::default(),
        }
    }
}

/// Bumped by [`request_flush_all`]; each engine compares it with the value it last saw.
static FLUSH_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Make every engine (all threads) drop its translations before its next block (guest code
/// changed: `fence.i`, munmap/mprotect of code pages). Returns immediately.
pub fn request_flush_all() {
    FLUSH_GENERATION.fetch_add(1, Ordering::SeqCst);
}
