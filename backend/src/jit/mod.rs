//! The Cranelift code generator tier: compiles one IR [`Block`] into host code in our own
//! executable buffer, enters it, chains blocks through exit slots, and turns host faults in
//! JIT code into precise guest faults.
//!
//! Layout: `buffer` (code region and exit-slot arena), `lower` (IR -> Cranelift IR),
//! `entry` (asm entry wrapper, thread-local entry record, host fault recovery), and the
//! [`Jit`] itself here (compile, enter, chain, flush, disassembly).
//!
//! Protocol (see DESIGN.md "Execution engine"): every block is a `tail`-convention function
//! `(env) -> status`. At entry it checks `CpuHeader::exit_request` (-> Interrupted). A
//! `GotoBlock` exit stores the next PC in `CpuHeader::pc`, its slot's address in
//! `CpuHeader::last_exit_slot`, and tail-calls through the slot, which holds either the
//! exit stub (returns Next) or a chained successor. Every other exit stores 0 in
//! `last_exit_slot` except the cold paths (Interrupted, Fault, raised status), which leave it
//! unchanged: it is meaningful only when the status is [`ExitStatus::Next`].
//!
//! Guest memory (user mode) is accessed directly at `guest_base + addr` after an inline
//! bounds check (and an alignment check where the op demands it), which exit with Fault
//! themselves. Unmapped or protected pages fault on the host; every host instruction that
//! touches guest memory carries a Cranelift trap code naming its IR op, so
//! [`handle_host_fault`] maps the faulting instruction exactly to its guest PC, even after
//! the optimiser or load merging. Semantics match the interpreter bit for bit (a
//! differential test runs random blocks through both): operations x86-64 Cranelift cannot
//! lower (128-bit division/mulh/int-float conversion) and FMA (whose NaN choice depends on
//! the x86 instruction form) call the interpreter's own arithmetic.
//!
//! x86-64 Linux hosts only (the entry wrapper and the signal context are x86-64 specific).

mod buffer;
mod entry;
mod lower;
pub mod region;
#[cfg(test)]
mod tests;

pub use entry::handle_host_fault;

use crate::ExitStatus;
use crate::ir::Block;
use buffer::{CodeBuffer, SlotArena};
use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{AbiParam, Function, InstBuilder, Signature, UserFuncName, types};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use lower::{LowerEnv, block_sig};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Configuration of one [`Jit`].
#[derive(Clone, Debug)]
pub struct JitConfig {
    /// Bytes of executable code buffer (rounded up to pages).
    pub code_size: usize,
    /// Host address of guest address 0 (user mode: [`crate::GuestMemory::base`]).
    pub guest_base: usize,
    /// Guest accesses must lie below this ([`crate::GuestMemory::limit`]).
    pub guest_limit: u64,
    /// Cranelift `opt_level=speed` instead of `none` (slower compile, rarely faster code).
    pub opt_speed: bool,
    /// Run the Cranelift verifier on every function (tests, debugging).
    pub verify: bool,
}

/// What JIT code needs to reach the softmmu of its vCPU (see [`Jit::set_softmmu`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmmuJit {
    /// Byte offset of the [`crate::softmmu::Tlb`] in the CPU state.
    pub tlb_offset: u32,
    /// Address of the [`crate::softmmu::SoftmmuConfig`] the slow paths use; it must stay
    /// valid (and unmoved) as long as code of this Jit may run.
    pub config: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JitError {
    /// The code buffer or the exit-slot arena is full: flush and retry.
    #[error("JIT code buffer full")]
    BufferFull,
    #[error("code generation failed: {0}")]
    Codegen(String),
}

/// One chainable exit of a compiled block: the guest PC it continues at, and the 8-byte
/// cell it jumps through (the exit stub, or the chained successor's entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitSlot {
    pub target_pc: u64,
    pub slot: *const AtomicUsize,
}

/// A block compiled into the code buffer. Valid until the next [`Jit::flush`].
#[derive(Clone, Debug)]
pub struct CompiledBlock {
    /// Entry point (pass to [`Jit::enter`] or [`Jit::chain`]).
    pub entry: *const u8,
    /// Host address of the first code byte (equal to `entry`).
    pub code_start: usize,
    /// Bytes of host code, including its constant pool.
    pub code_len: usize,
    /// One per `GotoBlock` op, in op order, except gotos to the block itself when self
    /// loops are on (see [`Jit::set_self_loops`]).
    pub exits: Vec<ExitSlot>,
}

// SAFETY: an ExitSlot is an address of an AtomicUsize in a Jit's slot arena, and a
// CompiledBlock addresses of immutable code; both are plain data that any thread may hold.
// Using them (chain, enter) goes through the Jit, whose methods state the requirements.
unsafe impl Send for ExitSlot {}
unsafe impl Sync for ExitSlot {}
unsafe impl Send for CompiledBlock {}
unsafe impl Sync for CompiledBlock {}

/// Host-code offset ranges to guest PCs, for the fault handler.
#[derive(Default)]
pub(crate) struct FaultMap {
    /// Sorted by `start` (blocks are appended in address order).
    blocks: Vec<BlockRange>,
    pcs: Vec<TrapSite>,
}

struct BlockRange {
    start: usize,
    end: usize,
    /// End of the instructions (the constant pool follows).
    insns_end: usize,
    pcs_start: usize,
    pcs_end: usize,
}

/// A host instruction that accesses guest memory, and its guest instruction.
struct TrapSite {
    off: usize,
    pc: u64,
}

impl FaultMap {
    /// Guest PC of the guest memory access whose host instruction starts at buffer offset
    /// `off`, or None when no guest access starts there. Async-signal-safe: no allocation,
    /// no locks.
    pub(crate) fn lookup(&self, off: usize) -> Option<u64> {
        let i = self
            .blocks
            .partition_point(|b| b.start <= off)
            .checked_sub(1)?;
        let b = &self.blocks[i];
        if off >= b.end {
            return None;
        }
        let sites = &self.pcs[b.pcs_start..b.pcs_end];
        let j = sites.binary_search_by_key(&off, |s| s.off).ok()?;
        Some(sites[j].pc)
    }
    fn clear(&mut self) {
        self.blocks.clear();
        self.pcs.clear();
    }
}

/// Entries of a [`Jit`]'s jump table (a power of two).
pub const JUMP_TABLE_SIZE: usize = 4096;

/// The Cranelift JIT of one vCPU thread.
pub struct Jit {
    /// Jump table for `ExitIndirect`: pairs {guest pc, host entry}, direct-mapped by
    /// `(pc >> 1) % JUMP_TABLE_SIZE`; an empty entry is {`u64::MAX`, exit stub}, so that
    /// even a lookup of that PC is harmless (it returns Next). Generated code reads it at a fixed
    /// address baked into each block; only [`Jit::set_jump`] and flushes write it, never
    /// while JIT code runs.
    jump_table: Box<[u64]>,
    cfg: JitConfig,
    isa: OwnedTargetIsa,
    ctx: Context,
    fctx: FunctionBuilderContext,
    code: CodeBuffer,
    slots: SlotArena,
    map: FaultMap,
    lenv: LowerEnv,
    trampoline: usize,
    exit_stub: usize,
    /// Buffer offset after the trampoline and the exit stub (flush resets to it).
    base_mark: usize,
    align: usize,
    flushes: u64,
}

fn cg_err(e: impl std::fmt::Display) -> JitError {
    JitError::Codegen(e.to_string())
}

fn host_isa(cfg: &JitConfig) -> Result<OwnedTargetIsa, JitError> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(cg_err);
    set(
        &mut flags,
        "opt_level",
        if cfg.opt_speed { "speed" } else { "none" },
    )?;
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg.verify { "true" } else { "false" },
    )?;
    set(&mut flags, "unwind_info", "false")?;
    set(&mut flags, "is_pic", "false")?;
    let mut ib =
        cranelift_codegen::isa::lookup_by_name("x86_64-unknown-linux-gnu").map_err(cg_err)?;
    macro_rules! feat {
        ($($f:tt => $n:literal),*) => {$(
            if std::is_x86_feature_detected!($f) {
                ib.enable($n).map_err(cg_err)?;
            }
        )*};
    }
    feat!("sse3" => "has_sse3", "ssse3" => "has_ssse3", "sse4.1" => "has_sse41",
          "sse4.2" => "has_sse42", "popcnt" => "has_popcnt", "lzcnt" => "has_lzcnt",
          "bmi1" => "has_bmi1", "bmi2" => "has_bmi2", "avx" => "has_avx",
          "avx2" => "has_avx2", "fma" => "has_fma");
    ib.finish(settings::Flags::new(flags)).map_err(cg_err)
}

impl Jit {
    pub fn new(cfg: JitConfig) -> Result<Jit, JitError> {
        let isa = host_isa(&cfg)?;
        let code = CodeBuffer::new(cfg.code_size).map_err(cg_err)?;
        // A block is at least ~100 bytes of code and rarely has more than two exits.
        let slots = SlotArena::new((code.capacity() / 32).max(64)).map_err(cg_err)?;
        let align = (isa.function_alignment().preferred as usize).max(16);
        let mut jit = Jit {
            lenv: LowerEnv {
                guest_base: cfg.guest_base as u64,
                guest_limit: cfg.guest_limit,
                exit_stub: 0,
                jump_table: 0,
                self_loops: false,
                softmmu: None,
            },
            jump_table: vec![u64::MAX; 2 * JUMP_TABLE_SIZE].into_boxed_slice(),
            cfg,
            isa,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
            code,
            slots,
            map: FaultMap::default(),
            trampoline: 0,
            exit_stub: 0,
            base_mark: 0,
            align,
            flushes: 0,
        };
        // Exit stub: tail (env) -> Next.
        let mut f = Function::with_name_signature(UserFuncName::default(), block_sig());
        {
            let mut b = FunctionBuilder::new(&mut f, &mut jit.fctx);
            let blk = b.create_block();
            b.append_block_params_for_function_params(blk);
            b.switch_to_block(blk);
            b.seal_block(blk);
            let z = b.ins().iconst(types::I32, ExitStatus::Next as i64);
            b.ins().return_(&[z]);
            b.finalize(jit.isa.frontend_config());
        }
        jit.exit_stub = jit.code.base() + jit.install(f)?.0;
        jit.lenv.exit_stub = jit.exit_stub;
        jit.lenv.jump_table = jit.jump_table.as_ptr() as usize;
        jit.clear_jumps();
        // Entry trampoline: SystemV (env, entry) -> status, calls the tail-convention block.
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(types::I64));
        sig.returns.push(AbiParam::new(types::I32));
        let mut f = Function::with_name_signature(UserFuncName::default(), sig);
        {
            let mut b = FunctionBuilder::new(&mut f, &mut jit.fctx);
            let blk = b.create_block();
            b.append_block_params_for_function_params(blk);
            b.switch_to_block(blk);
            b.seal_block(blk);
            let (env, entry) = (b.block_params(blk)[0], b.block_params(blk)[1]);
            let sr = b.import_signature(block_sig());
            let call = b.ins().call_indirect(sr, entry, &[env]);
            let r = b.inst_results(call)[0];
            b.ins().return_(&[r]);
            b.finalize(jit.isa.frontend_config());
        }
        jit.trampoline = jit.code.base() + jit.install(f)?.0;
        jit.base_mark = jit.code.used();
        Ok(jit)
    }

    /// Compile `func` and copy it into the buffer; returns (offset, length).
    fn install(&mut self, func: Function) -> Result<(usize, usize), JitError> {
        self.ctx.clear();
        self.ctx.func = func;
        let code = compile_ctx(&mut self.ctx, &*self.isa)?;
        let len = code.len();
        let off = self
            .code
            .append(code, self.align)
            .ok_or(JitError::BufferFull)?;
        Ok((off, len))
    }
}

/// Compile the function in `ctx` to relocation-free machine code.
fn compile_ctx<'c>(ctx: &'c mut Context, isa: &dyn TargetIsa) -> Result<&'c [u8], JitError> {
    {
        let compiled = match ctx.compile(isa, &mut ControlPlane::default()) {
            Ok(c) => c,
            Err(e) => {
                let msg = match e.inner {
                    cranelift_codegen::CodegenError::Verifier(errs) => {
                        cranelift_codegen::print_errors::pretty_verifier_error(e.func, None, errs)
                    }
                    other => other.to_string(),
                };
                return Err(JitError::Codegen(msg));
            }
        };
        if let Some(r) = compiled.buffer.relocs().first() {
            return Err(JitError::Codegen(format!(
                "generated code needs a relocation: {r:?}"
            )));
        }
        Ok(compiled.code_buffer())
    }
}

impl Jit {
    /// Compile `block` into the code buffer. On [`JitError::BufferFull`] nothing was
    /// added: the caller flushes and retries (a block that cannot fit even an empty buffer
    /// is a [`JitError::Codegen`] error instead, so the retry always succeeds or fails
    /// for good).
    pub fn compile(&mut self, block: &Block) -> Result<CompiledBlock, JitError> {
        let slot_mark = self.slots.used();
        self.ctx.clear();
        self.ctx.func.signature = block_sig();
        let lowered = lower::lower_block(
            &mut self.ctx.func,
            &mut self.fctx,
            block,
            &self.lenv,
            &mut self.slots,
            self.isa.frontend_config(),
        );
        let out = match lowered {
            Ok(o) => o,
            Err(e) => {
                // The builder context may hold a half-built function.
                self.fctx = FunctionBuilderContext::new();
                self.slots.reset_to(slot_mark);
                if e == JitError::BufferFull && slot_mark == 0 {
                    // Flushing would not help: never report BufferFull for it.
                    return Err(JitError::Codegen(
                        "block has more exits than the slot arena holds".into(),
                    ));
                }
                return Err(e);
            }
        };
        let code = match compile_ctx(&mut self.ctx, &*self.isa) {
            Ok(c) => c,
            Err(e) => {
                self.slots.reset_to(slot_mark);
                return Err(e);
            }
        };
        let Some(off) = self.code.append(code, self.align) else {
            self.slots.reset_to(slot_mark);
            if self.base_mark.next_multiple_of(self.align) + code.len() > self.code.capacity() {
                // Flushing would not help: never report BufferFull for it.
                return Err(JitError::Codegen(format!(
                    "block of {} bytes does not fit in the code buffer",
                    code.len()
                )));
            }
            return Err(JitError::BufferFull);
        };
        let len = code.len();
        let pcs_start = self.map.pcs.len();
        let mut insns_end = off + len;
        if let Some(cc) = self.ctx.compiled_code() {
            if let Some(end) = cc.buffer.get_srclocs_sorted().iter().map(|s| s.end).max() {
                insns_end = off + end as usize;
            }
            let traps = cc.buffer.traps().iter().map(|t| (t.offset, t.code));
            for (toff, ord) in lower::mem_ordinals(traps) {
                if let Some(&pc) = out.mem_pcs.get(ord) {
                    self.map.pcs.push(TrapSite {
                        off: off + toff as usize,
                        pc,
                    });
                }
            }
        }
        self.map.blocks.push(BlockRange {
            start: off,
            end: off + len,
            insns_end,
            pcs_start,
            pcs_end: self.map.pcs.len(),
        });
        let addr = self.code.base() + off;
        Ok(CompiledBlock {
            entry: addr as *const u8,
            code_start: addr,
            code_len: len,
            exits: out
                .exits
                .into_iter()
                .map(|(target_pc, slot)| ExitSlot { target_pc, slot })
                .collect(),
        })
    }

    /// Run JIT code from `entry` until a block returns; the status it returned.
    ///
    /// # Safety
    /// `env` points to the frontend's `#[repr(C)]` CPU state (CpuHeader first), valid and
    /// used only by this thread during the call; `entry` is the entry of a block compiled
    /// by this Jit since the last flush; guest memory is the range given in the config.
    pub unsafe fn enter(&self, env: *mut u8, entry: *const u8) -> ExitStatus {
        let rec = entry::EntryRecord::new(
            self.code.base(),
            self.code.base() + self.code.used(),
            &self.map,
            env,
            self.cfg.guest_base,
            self.cfg.guest_limit,
        );
        // SAFETY: per this function's contract; the trampoline is ours and `self.map`
        // outlives the call.
        let r = unsafe { entry::enter(rec, self.trampoline as *const u8, env, entry) };
        ExitStatus::from_u32(r)
    }

    /// Make `slot` jump straight to `target_entry` (a block of this Jit).
    pub fn chain(&self, slot: &ExitSlot, target_entry: *const u8) {
        // SAFETY: slots point into our arena, which lives as long as the Jit.
        unsafe { &*slot.slot }.store(target_entry as usize, Ordering::Release);
    }

    /// Point `slot` back at the exit stub.
    pub fn unchain(&self, slot: &ExitSlot) {
        // SAFETY: as in `chain`.
        unsafe { &*slot.slot }.store(self.exit_stub, Ordering::Release);
    }

    /// Let indirect exits (`ExitIndirect`) to guest `pc` jump straight to `entry`, a block
    /// of this Jit compiled for `pc`. The table is keyed by PC alone: callers must only
    /// record blocks translated with the translation flags in force whenever generated code
    /// runs, and call [`Jit::clear_jumps`] when those flags change.
    pub fn set_jump(&mut self, pc: u64, entry: *const u8) {
        let i = 2 * (((pc >> 1) as usize) & (JUMP_TABLE_SIZE - 1));
        self.jump_table[i] = pc;
        self.jump_table[i + 1] = entry as u64;
    }

    /// Whether blocks compiled from now on branch straight back to themselves on a
    /// `GotoBlock` to their own PC, never returning to the caller until another exit (the
    /// engine turns this on when it chains), or leave through an exit slot like any other
    /// goto (default: then every block run returns or chains exactly as it exits).
    pub fn set_self_loops(&mut self, on: bool) {
        self.lenv.self_loops = on;
    }

    /// System mode: guest memory ops of blocks compiled from now on go through the softmmu
    /// (inline TLB hit path, slow-path helper calls) instead of `guest_base + addr`; the
    /// config's `guest_base`/`guest_limit` are then unused. Set it before compiling.
    pub fn set_softmmu(&mut self, sm: SoftmmuJit) {
        self.lenv.softmmu = Some(sm);
    }

    /// Forget every jump table entry (indirect exits return to the engine again).
    pub fn clear_jumps(&mut self) {
        for e in self.jump_table.chunks_exact_mut(2) {
            e[0] = u64::MAX;
            e[1] = self.exit_stub as u64;
        }
    }

    /// Drop all compiled code and exit slots: every [`CompiledBlock`] becomes invalid.
    /// No thread may be running code of this Jit.
    pub fn flush(&mut self) {
        self.clear_jumps();
        self.code.reset_to(self.base_mark);
        self.slots.reset_to(0);
        self.map.clear();
        self.flushes += 1;
    }

    /// Bytes of the code buffer in use.
    pub fn used(&self) -> usize {
        self.code.used()
    }
    pub fn capacity(&self) -> usize {
        self.code.capacity()
    }
    pub fn flush_count(&self) -> u64 {
        self.flushes
    }

    /// Host disassembly of a compiled block, one line per instruction.
    pub fn disassemble(&self, cb: &CompiledBlock) -> Vec<String> {
        use capstone::prelude::*;
        let base = self.code.base();
        let Some(off) = cb.code_start.checked_sub(base) else {
            return vec!["<block not in the code buffer>".into()];
        };
        if off + cb.code_len > self.code.used() {
            return vec!["<block not in the code buffer>".into()];
        }
        // Instructions only, not the constant pool behind them.
        let len = match self.map.blocks.binary_search_by_key(&off, |b| b.start) {
            Ok(i) => (self.map.blocks[i].insns_end - off).min(cb.code_len),
            Err(_) => cb.code_len,
        };
        let bytes = self.code.bytes(off, len);
        let cs = match Capstone::new()
            .x86()
            .mode(arch::x86::ArchMode::Mode64)
            .build()
        {
            Ok(cs) => cs,
            Err(e) => return vec![format!("<capstone: {e}>")],
        };
        match cs.disasm_all(bytes, cb.code_start as u64) {
            Ok(insns) => insns
                .iter()
                .map(|i| {
                    format!(
                        "{:#x}: {} {}",
                        i.address(),
                        i.mnemonic().unwrap_or("?"),
                        i.op_str().unwrap_or("")
                    )
                    .trim_end()
                    .to_string()
                })
                .collect(),
            Err(e) => vec![format!("<capstone: {e}>")],
        }
    }
}
