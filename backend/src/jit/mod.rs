//! The Cranelift code generator tier: compiles one IR [`Block`] into host code in our own
//! executable buffer, enters it, chains blocks through exit slots, and turns host faults in
//! JIT code into precise guest faults.
//!
//! Layout: `buffer` (code region), `region` (multi-block regions), `lower` (IR -> Cranelift IR),
//! `entry` (asm entry wrapper, thread-local entry record, host fault recovery), and the
//! [`Jit`] itself here (compile, enter, chain, flush, disassembly).
//!
//! Protocol (see DESIGN.md "Execution engine"): every block is a `tail`-convention function
//! `(env) -> status`. At entry it checks `CpuHeader::exit_request` (-> Interrupted). A
//! `GotoBlock` exit is a direct `jmp rel32` (a Cranelift tail call to a placeholder name,
//! resolved here). Unchained, it jumps to a small stub of its own, emitted behind the block,
//! that stores the next PC in `CpuHeader::pc` and the address of the jump's rel32 field (the
//! exit's *site*) in `CpuHeader::last_exit_slot` and returns Next; [`Jit::chain_site`]
//! rewrites the rel32 to go straight to the successor, so a chained transition costs only
//! the frame teardown, the jump and the next entry check. Every other exit stores 0 in
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
pub mod perfmap;
mod quick;
pub mod region;
mod share;
#[cfg(test)]
mod tests;
mod x64;

pub use entry::handle_host_fault;
pub use share::CodeShare;

use crate::ExitStatus;
use crate::ir::Block;
use buffer::CodeBuffer;
use cranelift_codegen::Context;
use cranelift_codegen::FinalizedRelocTarget;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{
    AbiParam, ExternalName, Function, InstBuilder, Signature, UserFuncName, types,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use lower::{LowerEnv, block_sig};
use std::cell::Cell;
use std::sync::Arc;

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
    /// Count the inline path's TLB hits in the Tlb (`-d stats`; costs a memory increment
    /// per hit, so off otherwise).
    pub count_hits: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JitError {
    /// The code buffer is full: flush and retry.
    #[error("JIT code buffer full")]
    BufferFull,
    #[error("code generation failed: {0}")]
    Codegen(String),
}

/// One chainable exit of a compiled block: the guest PC it continues at, the host address
/// of its jump's rel32 field (`site`, what the exit reports in `CpuHeader::last_exit_slot`)
/// and its stub (where the jump goes while unchained).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitSlot {
    pub target_pc: u64,
    pub site: usize,
    pub stub: usize,
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
    /// loops are on (see [`Jit::set_self_loops`]). An exit the code generator found
    /// unreachable has `site` and `stub` 0 (chaining it does nothing).
    pub exits: Vec<ExitSlot>,
}

// SAFETY: a CompiledBlock holds addresses of code; it is plain data that any thread may
// hold. Using it (chain, enter) goes through the Jit, whose methods state the requirements.
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
/// Jump tables a [`Jit`] keeps (one per translation-flags value in use).
pub const JUMP_TABLES: usize = 8;

/// One jump table: pairs {guest pc, host entry}, direct-mapped by
/// `(pc >> 1) % JUMP_TABLE_SIZE`; an empty entry is {`u64::MAX`, exit stub}, so that even a
/// lookup of that PC is harmless (it returns Next). [`Jit::set_jump`] and clears write it
/// while no JIT code runs; while it runs, only the engine's indirect lookup, called by
/// that code on this thread, does ([`fill_jump_table`]). Cells, because that happens
/// while the Jit is borrowed.
struct JumpTable {
    /// The translation flags of every block in the table.
    flags: u64,
    last_used: u64,
    /// [`JUMP_TABLE_HEAD`] words, then the pairs (generated code gets the address of the
    /// first pair). The head logs the pairs [`fill_jump_table`] set since the last clear,
    /// which `dirty` does not list: word 0 counts them, words 1.. hold the first
    /// [`CODE_FILL_LOG`] pair indices (a count past that: too many, clear everything).
    entries: Box<[Cell<u64>]>,
    /// Indices of entries set since the last clear (None: too many to list), so that
    /// frequent clears stay cheap.
    dirty: Option<Vec<u32>>,
}

/// Pairs set by generated code's lookups that a clear resets one by one (see
/// [`JumpTable::entries`]). A boot resolves ~150 jump-table misses in code between two
/// of its ~4,600 full TLB flushes, each of which clears the tables.
const CODE_FILL_LOG: usize = 255;

/// Words in front of a jump table's pairs (see [`JumpTable::entries`]).
const JUMP_TABLE_HEAD: usize = 1 + CODE_FILL_LOG;

/// Set the pair of `pc` in the jump table whose pairs start at `table` (the address the
/// CPU header holds while generated code runs) to `entry`, from the code's own thread
/// while it runs, and log it for the next clear.
///
/// # Safety
/// `table` is the pair address of a live jump table of the Jit whose code is running on
/// this thread (it reads the table only in its own instructions, not concurrently), and
/// `entry` the entry of a block of that Jit compiled under the table's flags.
pub(crate) unsafe fn fill_jump_table(table: u64, pc: u64, entry: u64) {
    let t = table as *mut u64;
    let i = 2 * (((pc >> 1) as usize) & (JUMP_TABLE_SIZE - 1));
    // SAFETY: per the contract: inside the table's allocation, whose words are Cells.
    unsafe {
        t.add(i).write(pc);
        t.add(i + 1).write(entry);
        let head = t.sub(JUMP_TABLE_HEAD);
        let n = head.read() as usize;
        if n < CODE_FILL_LOG {
            head.add(1 + n).write(i as u64);
        }
        if n <= CODE_FILL_LOG {
            head.write(n as u64 + 1);
        }
    }
}

impl JumpTable {
    fn new(exit_stub: usize) -> JumpTable {
        let entries: Box<[Cell<u64>]> = (0..JUMP_TABLE_HEAD + 2 * JUMP_TABLE_SIZE)
            .map(|k| {
                Cell::new(match k {
                    k if k < JUMP_TABLE_HEAD => 0,
                    k if (k - JUMP_TABLE_HEAD).is_multiple_of(2) => u64::MAX,
                    _ => exit_stub as u64,
                })
            })
            .collect();
        JumpTable {
            flags: 0,
            last_used: 0,
            entries,
            dirty: Some(Vec::with_capacity(JUMP_TABLE_SIZE / 8)),
        }
    }

    /// The pairs (after the head words).
    fn pairs(&self) -> &[Cell<u64>] {
        &self.entries[JUMP_TABLE_HEAD..]
    }

    /// Address of the first pair, for generated code.
    fn addr(&self) -> u64 {
        self.pairs().as_ptr() as u64
    }

    fn set(&mut self, pc: u64, entry: *const u8) {
        let i = 2 * (((pc >> 1) as usize) & (JUMP_TABLE_SIZE - 1));
        let e = self.pairs();
        if e[i].get() == pc && e[i + 1].get() == entry as u64 {
            // Already there (the engine records every JIT entry): leave the line clean.
            return;
        }
        let was_empty = e[i].get() == u64::MAX;
        e[i].set(pc);
        e[i + 1].set(entry as u64);
        if was_empty && let Some(d) = &mut self.dirty {
            if d.len() < JUMP_TABLE_SIZE / 8 {
                d.push(i as u32);
            } else {
                self.dirty = None;
            }
        }
    }

    fn clear(&mut self, exit_stub: usize) {
        let by_code = self.entries[0].replace(0) as usize;
        match self.dirty.take() {
            Some(mut d) if by_code <= CODE_FILL_LOG => {
                let code_fills = self.entries[1..=by_code].iter().map(|c| c.get() as u32);
                let e = self.pairs();
                for i in d.iter().copied().chain(code_fills) {
                    e[i as usize].set(u64::MAX);
                    e[i as usize + 1].set(exit_stub as u64);
                }
                d.clear();
                self.dirty = Some(d);
            }
            _ => {
                for e in self.pairs().chunks_exact(2) {
                    e[0].set(u64::MAX);
                    e[1].set(exit_stub as u64);
                }
                self.dirty = Some(Vec::with_capacity(JUMP_TABLE_SIZE / 8));
            }
        }
    }

    #[cfg(test)]
    fn is_empty(&self, exit_stub: usize) -> bool {
        self.pairs()
            .chunks_exact(2)
            .all(|e| e[0].get() == u64::MAX && e[1].get() == exit_stub as u64)
    }
}

/// The Cranelift JIT of one vCPU thread.
pub struct Jit {
    /// Jump tables for `ExitIndirect`, one per translation-flags value (up to
    /// [`JUMP_TABLES`], least recently selected reused): see [`JumpTable`].
    jump_tables: Vec<JumpTable>,
    /// Index of the selected table in `jump_tables`.
    jump_active: usize,
    /// Selections so far (LRU clock).
    jump_clock: u64,
    /// Address of the selected table's entries, and of the softmmu config: [`Jit::enter`]
    /// puts both in the CPU header, where generated code finds them.
    jump_table_addr: u64,
    softmmu_config: u64,
    cfg: JitConfig,
    /// Compiles blocks for [`Jit::compile`] (workers get their own: [`Jit::new_compiler`]).
    comp: Compiler,
    code: CodeBuffer,
    map: FaultMap,
    trampoline: usize,
    exit_stub: usize,
    /// Buffer offset after the trampoline and the exit stub (flush resets to it).
    base_mark: usize,
    align: usize,
    flushes: u64,
    /// Entry counters of quick blocks (see [`quick::Promotions`]).
    promo: quick::Promotions,
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
          "avx2" => "has_avx2", "fma" => "has_fma", "cmpxchg16b" => "has_cmpxchg16b");
    ib.finish(settings::Flags::new(flags)).map_err(cg_err)
}

/// Machine code of one block, not yet in a code buffer: what a [`Compiler`] makes (on
/// any thread) and [`Jit::install_object`] places. The code is position independent apart
/// from its exit jumps, which the install resolves to fresh exit stubs.
#[derive(Clone, Debug)]
pub struct CompiledObject {
    code: Vec<u8>,
    /// Per exit jump: (offset of its rel32 field, exit index).
    sites: Vec<ExitSite>,
    /// Guest target PC per exit.
    exits: Vec<u64>,
    /// (code offset, guest PC) of each host instruction that accesses guest memory.
    mem_traps: Vec<(u32, u64)>,
    /// End of the instructions (the constant pool follows).
    insns_end: usize,
    /// Guest PC of the block and whether it was optimised (for the perf map).
    pc: u64,
    optimized: bool,
    /// Made by the quick tier (the perf map names it so).
    quick: bool,
}

/// Lowers IR blocks and runs Cranelift on them: the part of compiling that needs no code
/// buffer, so it can run on a thread of its own (see [`Jit::new_compiler`]).
pub struct Compiler {
    lenv: LowerEnv,
    isa: OwnedTargetIsa,
    /// The same target with `opt_level=speed`, made on first use.
    isa_speed: Option<OwnedTargetIsa>,
    cfg: JitConfig,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

impl Compiler {
    /// Compile `block` (with `opt_level=speed` when `optimize`) to a relocatable object.
    pub fn compile(&mut self, block: &Block, optimize: bool) -> Result<CompiledObject, JitError> {
        if optimize && self.isa_speed.is_none() && !self.cfg.opt_speed {
            self.isa_speed = Some(host_isa(&JitConfig {
                opt_speed: true,
                ..self.cfg.clone()
            })?);
        }
        let isa = match &self.isa_speed {
            Some(fast) if optimize => &**fast,
            _ => &*self.isa,
        };
        self.ctx.clear();
        self.ctx.func.signature = block_sig();
        let lowered = lower::lower_block(
            &mut self.ctx.func,
            &mut self.fctx,
            block,
            &self.lenv,
            isa.frontend_config(),
        );
        let out = match lowered {
            Ok(o) => o,
            Err(e) => {
                // The builder context may hold a half-built function.
                self.fctx = FunctionBuilderContext::new();
                return Err(e);
            }
        };
        let (code, sites) = compile_ctx(&mut self.ctx, isa)?;
        let code = code.to_vec();
        let mut insns_end = code.len();
        let mut mem_traps = Vec::new();
        if let Some(cc) = self.ctx.compiled_code() {
            if let Some(end) = cc.buffer.get_srclocs_sorted().iter().map(|s| s.end).max() {
                insns_end = end as usize;
            }
            let traps = cc.buffer.traps().iter().map(|t| (t.offset, t.code));
            for (toff, ord) in lower::mem_ordinals(traps) {
                if let Some(&pc) = out.mem_pcs.get(ord) {
                    mem_traps.push((toff, pc));
                }
            }
        }
        Ok(CompiledObject {
            code,
            sites,
            exits: out.exits,
            mem_traps,
            insns_end,
            pc: block.pc,
            optimized: optimize,
            quick: false,
        })
    }
}

impl Jit {
    pub fn new(cfg: JitConfig) -> Result<Jit, JitError> {
        let isa = host_isa(&cfg)?;
        let code = CodeBuffer::new(cfg.code_size).map_err(cg_err)?;
        let align = (isa.function_alignment().preferred as usize).max(16);
        let mut jit = Jit {
            comp: Compiler {
                lenv: LowerEnv {
                    guest_base: cfg.guest_base as u64,
                    guest_limit: cfg.guest_limit,
                    self_loops: false,
                    softmmu: None,
                    count_blocks: false,
                },
                isa,
                isa_speed: None,
                cfg: cfg.clone(),
                ctx: Context::new(),
                fctx: FunctionBuilderContext::new(),
            },
            jump_tables: Vec::new(),
            jump_active: 0,
            jump_clock: 0,
            jump_table_addr: 0,
            softmmu_config: 0,
            cfg,
            code,
            map: FaultMap::default(),
            trampoline: 0,
            exit_stub: 0,
            base_mark: 0,
            align,
            flushes: 0,
            promo: quick::Promotions::new(),
        };
        // Exit stub: tail (env) -> Next.
        let mut f = Function::with_name_signature(UserFuncName::default(), block_sig());
        {
            let mut b = FunctionBuilder::new(&mut f, &mut jit.comp.fctx);
            let blk = b.create_block();
            b.append_block_params_for_function_params(blk);
            b.switch_to_block(blk);
            b.seal_block(blk);
            let z = b.ins().iconst(types::I32, ExitStatus::Next as i64);
            b.ins().return_(&[z]);
            b.finalize(jit.comp.isa.frontend_config());
        }
        jit.exit_stub = jit.code.base() + jit.install(f)?.0;
        jit.jump_tables.push(JumpTable::new(jit.exit_stub));
        jit.jump_table_addr = jit.jump_tables[0].addr();
        // Entry trampoline: SystemV (env, entry) -> status, calls the tail-convention block.
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(types::I64));
        sig.returns.push(AbiParam::new(types::I32));
        let mut f = Function::with_name_signature(UserFuncName::default(), sig);
        {
            let mut b = FunctionBuilder::new(&mut f, &mut jit.comp.fctx);
            let blk = b.create_block();
            b.append_block_params_for_function_params(blk);
            b.switch_to_block(blk);
            b.seal_block(blk);
            let (env, entry) = (b.block_params(blk)[0], b.block_params(blk)[1]);
            let sr = b.import_signature(block_sig());
            let call = b.ins().call_indirect(sr, entry, &[env]);
            let r = b.inst_results(call)[0];
            b.ins().return_(&[r]);
            b.finalize(jit.comp.isa.frontend_config());
        }
        let (toff, tlen) = jit.install(f)?;
        jit.trampoline = jit.code.base() + toff;
        perfmap::record(jit.trampoline, tlen, "entry", 0);
        jit.base_mark = jit.code.used();
        Ok(jit)
    }

    /// Compile `func` and copy it into the buffer; returns (offset, length).
    fn install(&mut self, func: Function) -> Result<(usize, usize), JitError> {
        let ctx = &mut self.comp.ctx;
        ctx.clear();
        ctx.func = func;
        let (code, _) = compile_ctx(ctx, &*self.comp.isa)?;
        let len = code.len();
        let off = self
            .code
            .append(code, self.align)
            .ok_or(JitError::BufferFull)?;
        Ok((off, len))
    }
}

/// (offset of an exit jump's rel32 field in the function's code, exit index).
type ExitSite = (u32, u32);

/// Compile the function in `ctx` to machine code whose only relocations are the chainable
/// exits' jumps: returns the code and, per exit jump, (offset of its rel32 field, exit index).
fn compile_ctx<'c>(
    ctx: &'c mut Context,
    isa: &dyn TargetIsa,
) -> Result<(&'c [u8], Vec<ExitSite>), JitError> {
    let relocs: Vec<_> = {
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
        compiled.buffer.relocs().to_vec()
    };
    let mut sites = Vec::with_capacity(relocs.len());
    for r in &relocs {
        let exit = match (&r.kind, &r.target, r.addend) {
            (
                Reloc::X86CallPCRel4,
                FinalizedRelocTarget::ExternalName(ExternalName::User(n)),
                -4,
            ) => {
                let name = &ctx.func.params.user_named_funcs()[*n];
                (name.namespace == lower::EXIT_NAMESPACE).then_some(name.index)
            }
            _ => None,
        };
        match exit {
            Some(i) => sites.push((r.offset, i)),
            None => {
                return Err(JitError::Codegen(format!(
                    "generated code needs a relocation: {r:?}"
                )));
            }
        }
    }
    let code = ctx
        .compiled_code()
        .ok_or_else(|| JitError::Codegen("no compiled code".into()))?
        .code_buffer();
    Ok((code, sites))
}

/// Bytes of one exit stub (see [`exit_stub_code`]).
const EXIT_STUB_LEN: usize = 30;

/// Machine code of an exit's stub, entered by the exit's tail jump with the block's frame
/// gone (env in rdi, the trampoline's return address on top of the stack):
/// `pc = target_pc; last_exit_slot = site; return Next`.
fn exit_stub_code(target_pc: u64, site: u64) -> [u8; EXIT_STUB_LEN] {
    const _: () = assert!(crate::header_offsets::PC == 0);
    const _: () = assert!(crate::header_offsets::LAST_EXIT_SLOT < 0x80);
    const _: () = assert!(ExitStatus::Next as u32 == 0);
    let mut c = [0u8; EXIT_STUB_LEN];
    c[0..2].copy_from_slice(&[0x48, 0xb8]); // mov rax, imm64
    c[2..10].copy_from_slice(&target_pc.to_le_bytes());
    c[10..13].copy_from_slice(&[0x48, 0x89, 0x07]); // mov [rdi], rax
    c[13..15].copy_from_slice(&[0x48, 0xb8]); // mov rax, imm64
    c[15..23].copy_from_slice(&site.to_le_bytes());
    // mov [rdi + LAST_EXIT_SLOT], rax
    c[23..27].copy_from_slice(&[
        0x48,
        0x89,
        0x47,
        crate::header_offsets::LAST_EXIT_SLOT as u8,
    ]);
    c[27..29].copy_from_slice(&[0x31, 0xc0]); // xor eax, eax
    c[29] = 0xc3; // ret
    c
}

impl Jit {
    /// Compile `block` into the code buffer. On [`JitError::BufferFull`] nothing was
    /// added: the caller flushes and retries (a block that cannot fit even an empty buffer
    /// is a [`JitError::Codegen`] error instead, so the retry always succeeds or fails
    /// for good).
    pub fn compile(&mut self, block: &Block) -> Result<CompiledBlock, JitError> {
        let obj = self.comp.compile(block, false)?;
        self.install_object(&obj)
    }

    /// [`Jit::compile`] through `share` ([`Compiler::compile_shared`]); true: the code
    /// came from the store.
    pub fn compile_shared(
        &mut self,
        block: &Block,
        share: &CodeShare,
    ) -> Result<(CompiledBlock, bool), JitError> {
        let (obj, shared) = self.comp.compile_shared(block, false, share)?;
        Ok((self.install_object(&obj)?, shared))
    }

    /// The object another engine stored in `share` for `block`, if any.
    pub fn find_shared(&self, block: &Block, share: &CodeShare) -> Option<Arc<CompiledObject>> {
        self.comp.find_shared(block, share)
    }

    /// Compile `block` with the quick tier (system mode only; see [`quick`]): microseconds
    /// instead of Cranelift's tens, for slower code. Err([`JitError::Codegen`]) for blocks
    /// it does not handle (128-bit values, user mode), which Cranelift compiles instead.
    /// `promote_after` (nonzero): the block counts its runs and on that run asks to be
    /// compiled by Cranelift (see [`Jit::take_promotions`]); the counter index that names
    /// it is returned with the block (None: no counter left until the next flush).
    pub fn compile_quick(
        &mut self,
        block: &Block,
        promote_after: u32,
    ) -> Result<(CompiledBlock, Option<u32>), JitError> {
        // A block that fails to compile leaves its counter unused until the next flush.
        let counter = (promote_after != 0)
            .then(|| self.promo.counter(promote_after))
            .flatten();
        let obj = quick::compile(block, &self.comp.lenv, counter)?;
        let cb = self.install_object(&obj)?;
        Ok((cb, counter.map(|c| c.idx)))
    }

    /// Whether a quick block asked to be promoted since the last [`Jit::take_promotions`].
    pub fn promotions_pending(&self) -> bool {
        self.promo.pending()
    }

    /// The counter indices ([`Jit::compile_quick`]) of the quick blocks that asked to be
    /// promoted since the last call (at most a few dozen are remembered).
    pub fn take_promotions(&mut self) -> Vec<u32> {
        self.promo.take()
    }

    /// [`Jit::compile`] with Cranelift's optimiser (`opt_level=speed`) whatever the config
    /// says: for blocks hot enough to repay the extra compile time (regions).
    pub fn compile_optimized(&mut self, block: &Block) -> Result<CompiledBlock, JitError> {
        let obj = self.comp.compile(block, true)?;
        self.install_object(&obj)
    }

    /// A compiler producing the same code as this Jit's own ([`Jit::compile`]), for another
    /// thread: its objects are installed with [`Jit::install_object`]. Make it after
    /// [`Jit::set_softmmu`] and [`Jit::set_self_loops`]; it keeps the settings of that
    /// moment. Its objects stay installable across flushes, and in any Jit whose compiler
    /// makes the same code ([`Compiler::makes_same_code`]): they embed no address of a Jit
    /// (jump table and softmmu config come from the CPU header).
    pub fn new_compiler(&self) -> Compiler {
        Compiler {
            lenv: self.comp.lenv.clone(),
            isa: self.comp.isa.clone(),
            isa_speed: self.comp.isa_speed.clone(),
            cfg: self.comp.cfg.clone(),
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        }
    }

    /// Copy a compiled object into the code buffer, with its exit stubs and fault map
    /// entries. Errors as for [`Jit::compile`].
    pub fn install_object(&mut self, obj: &CompiledObject) -> Result<CompiledBlock, JitError> {
        let code = &obj.code[..];
        let len = code.len();
        let mark = self.code.used();
        let total = len.next_multiple_of(8) + obj.exits.len() * EXIT_STUB_LEN.next_multiple_of(8);
        if self.base_mark.next_multiple_of(self.align) + total > self.code.capacity() {
            // Flushing would not help: never report BufferFull for it.
            return Err(JitError::Codegen(format!(
                "block of {total} bytes does not fit in the code buffer"
            )));
        }
        let Some(off) = self.code.append(code, self.align) else {
            return Err(JitError::BufferFull);
        };
        let base = self.code.base();
        let mut exits = Vec::with_capacity(obj.exits.len());
        for (i, &target_pc) in obj.exits.iter().enumerate() {
            let Some(&(site_off, _)) = obj.sites.iter().find(|&&(_, e)| e as usize == i) else {
                // Cranelift removed the exit as unreachable: nothing jumps, nothing to chain.
                exits.push(ExitSlot {
                    target_pc,
                    site: 0,
                    stub: 0,
                });
                continue;
            };
            let site = base + off + site_off as usize;
            let Some(stub_off) = self.code.append(&exit_stub_code(target_pc, site as u64), 8)
            else {
                self.code.reset_to(mark);
                return Err(JitError::BufferFull);
            };
            let e = ExitSlot {
                target_pc,
                site,
                stub: base + stub_off,
            };
            self.patch_jump(e.site, e.stub);
            exits.push(e);
        }
        let pcs_start = self.map.pcs.len();
        for &(toff, pc) in &obj.mem_traps {
            self.map.pcs.push(TrapSite {
                off: off + toff as usize,
                pc,
            });
        }
        self.map.blocks.push(BlockRange {
            start: off,
            end: off + len,
            insns_end: off + obj.insns_end,
            pcs_start,
            pcs_end: self.map.pcs.len(),
        });
        let addr = base + off;
        let tier = match (obj.optimized, obj.quick) {
            (true, _) => "region",
            (false, true) => "quick",
            (false, false) => "jit",
        };
        perfmap::record(addr, len, tier, obj.pc);
        Ok(CompiledBlock {
            entry: addr as *const u8,
            code_start: addr,
            code_len: len,
            exits,
        })
    }

    /// Point the jump whose rel32 field is at host address `site` at `target`. Both lie in
    /// the code buffer (64-bit displacements never arise: the buffer is far below 2 GiB).
    fn patch_jump(&mut self, site: usize, target: usize) {
        let base = self.code.base();
        let Some(off) = site.checked_sub(base) else {
            return;
        };
        if off + 4 > self.code.used() {
            return;
        }
        let rel = target as i64 - (site as i64 + 4);
        let Ok(rel) = i32::try_from(rel) else {
            return;
        };
        self.code.patch(off, &rel.to_le_bytes());
    }

    /// Run JIT code from `entry` until a block returns; the status it returned.
    ///
    /// # Safety
    /// `env` points to the frontend's `#[repr(C)]` CPU state (CpuHeader first), valid and
    /// used only by this thread during the call; `entry` is the entry of a block compiled
    /// by this Jit since the last flush; guest memory is the range given in the config.
    pub unsafe fn enter(&self, env: *mut u8, entry: *const u8) -> ExitStatus {
        let hdr = env as *mut crate::CpuHeader;
        // SAFETY: env is a valid CPU state (CpuHeader first), this thread's alone.
        unsafe {
            (*hdr).jump_table = self.jump_table_addr;
            (*hdr).softmmu_config = self.softmmu_config;
        }
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

    /// Make `exit` jump straight to `target_entry` (a block of this Jit).
    pub fn chain(&mut self, exit: &ExitSlot, target_entry: *const u8) {
        self.patch_jump(exit.site, target_entry as usize);
    }

    /// Make the exit whose site a block reported in `CpuHeader::last_exit_slot` jump
    /// straight to `target_entry` (a block of this Jit). Sites outside the code buffer are
    /// ignored.
    pub fn chain_site(&mut self, site: usize, target_entry: *const u8) {
        self.patch_jump(site, target_entry as usize);
    }

    /// Point `exit` back at its stub.
    pub fn unchain(&mut self, exit: &ExitSlot) {
        self.patch_jump(exit.site, exit.stub);
    }

    /// Let indirect exits (`ExitIndirect`) to guest `pc` jump straight to `entry`, a block
    /// of this Jit compiled for `pc`, in the selected jump table ([`Jit::select_jumps`]).
    /// The table is keyed by PC alone: callers must only record blocks translated with the
    /// flags the table was selected for, and select the table of the flags in force
    /// whenever generated code runs.
    pub fn set_jump(&mut self, pc: u64, entry: *const u8) {
        self.jump_tables[self.jump_active].set(pc, entry);
    }

    /// Make the jump table of translation flags `flags` the one generated code uses and
    /// [`Jit::set_jump`] fills (an empty one the first time; the least recently selected
    /// table is reused once there are [`JUMP_TABLES`]).
    pub fn select_jumps(&mut self, flags: u64) {
        self.jump_clock += 1;
        let i = match self.jump_tables.iter().position(|t| t.flags == flags) {
            Some(i) => i,
            None if self.jump_tables.len() < JUMP_TABLES => {
                self.jump_tables.push(JumpTable::new(self.exit_stub));
                self.jump_tables.len() - 1
            }
            None => {
                let (i, _) = self
                    .jump_tables
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, t)| t.last_used)
                    .expect("at least one jump table");
                self.jump_tables[i].clear(self.exit_stub);
                i
            }
        };
        let t = &mut self.jump_tables[i];
        t.flags = flags;
        t.last_used = self.jump_clock;
        self.jump_active = i;
        self.jump_table_addr = t.addr();
    }

    /// Whether blocks compiled from now on branch straight back to themselves on a
    /// `GotoBlock` to their own PC, never returning to the caller until another exit (the
    /// engine turns this on when it chains), or leave through an exit slot like any other
    /// goto (default: then every block run returns or chains exactly as it exits).
    pub fn set_self_loops(&mut self, on: bool) {
        self.comp.lenv.self_loops = on;
    }

    /// Make blocks compiled from now on count their entries in
    /// `CpuHeader::block_entries`; a memory increment per block run, so only for `-d stats`.
    pub fn count_block_entries(&mut self) {
        self.comp.lenv.count_blocks = true;
    }

    /// System mode: guest memory ops of blocks compiled from now on go through the softmmu
    /// (inline TLB hit path, slow-path helper calls) instead of `guest_base + addr`; the
    /// config's `guest_base`/`guest_limit` are then unused. Set it before compiling.
    pub fn set_softmmu(&mut self, sm: SoftmmuJit) {
        self.softmmu_config = sm.config as u64;
        self.comp.lenv.softmmu = Some(sm);
    }

    /// Forget every jump table entry, of every table (indirect exits return to the engine
    /// again).
    pub fn clear_jumps(&mut self) {
        for t in &mut self.jump_tables {
            t.clear(self.exit_stub);
        }
    }

    /// Drop all compiled code and exit slots: every [`CompiledBlock`] becomes invalid.
    /// No thread may be running code of this Jit.
    pub fn flush(&mut self) {
        self.clear_jumps();
        self.code.reset_to(self.base_mark);
        self.map.clear();
        self.promo.reset();
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

/// A Jit with a small code buffer and no guest memory, for tests of IR without memory ops.
#[cfg(test)]
pub(crate) fn small_test_jit() -> Jit {
    Jit::new(JitConfig {
        code_size: 1 << 16,
        guest_base: 0,
        guest_limit: 0,
        opt_speed: false,
        verify: true,
    })
    .expect("a JIT with a 64 KiB buffer")
}

#[cfg(test)]
mod jump_clear_tests {
    use super::*;

    #[test]
    fn clearing_the_jump_table_forgets_every_entry_listed_or_not() {
        let mut jit = small_test_jit();
        let empty = |jit: &Jit| jit.jump_tables.iter().all(|t| t.is_empty(jit.exit_stub));
        for n in [3u64, JUMP_TABLE_SIZE as u64 / 8 + 5, 1] {
            for k in 0..n {
                jit.set_jump(0x1000 + 2 * k, 0x5000 as *const u8);
                jit.set_jump(0x1000 + 2 * k, 0x6000 as *const u8);
            }
            assert!(!empty(&jit));
            jit.clear_jumps();
            assert!(empty(&jit), "after {n} entries");
        }
    }

    /// Pairs that generated code's lookups set ([`fill_jump_table`]) are cleared too, both
    /// while the head's log lists them and past its capacity; set ones mix with them.
    #[test]
    fn clearing_forgets_pairs_set_by_generated_code() {
        let mut jit = small_test_jit();
        let empty = |jit: &Jit| jit.jump_tables.iter().all(|t| t.is_empty(jit.exit_stub));
        for n in [
            1u64,
            7,
            CODE_FILL_LOG as u64,
            CODE_FILL_LOG as u64 + 1,
            3000,
        ] {
            jit.set_jump(0x9000, 0x5000 as *const u8);
            for k in 0..n {
                // SAFETY: the selected table of a live Jit, on this thread, no code running.
                unsafe { fill_jump_table(jit.jump_table_addr, 0x2000 + 2 * k, 0x6000) };
            }
            assert!(!empty(&jit));
            jit.clear_jumps();
            assert!(empty(&jit), "after {n} pairs set by code");
        }
    }

    #[test]
    fn each_flags_value_has_its_own_jump_table() {
        let mut jit = small_test_jit();
        let lookup = |jit: &Jit, pc: u64| {
            // What generated code does: the table from the header, then the entry.
            let t = jit.jump_table_addr as *const u64;
            let i = 2 * (((pc >> 1) as usize) & (JUMP_TABLE_SIZE - 1));
            // SAFETY: the cell holds the address of a live table of 2 * JUMP_TABLE_SIZE words.
            let (tag, entry) = unsafe { (*t.add(i), *t.add(i + 1)) };
            (tag == pc).then_some(entry)
        };
        jit.select_jumps(1);
        jit.set_jump(0x1000, 0x5000 as *const u8);
        jit.select_jumps(2);
        assert_eq!(lookup(&jit, 0x1000), None);
        jit.set_jump(0x1000, 0x6000 as *const u8);
        jit.select_jumps(1);
        assert_eq!(lookup(&jit, 0x1000), Some(0x5000));
        jit.select_jumps(2);
        assert_eq!(lookup(&jit, 0x1000), Some(0x6000));
        // More flags values than tables: the least recently selected (1) is reused, empty.
        for f in 3..3 + JUMP_TABLES as u64 - 1 {
            jit.select_jumps(f);
        }
        jit.select_jumps(2);
        jit.select_jumps(1);
        assert_eq!(lookup(&jit, 0x1000), None);
        jit.select_jumps(2);
        assert_eq!(lookup(&jit, 0x1000), Some(0x6000));
        jit.clear_jumps();
        assert_eq!(lookup(&jit, 0x1000), None);
        assert!(jit.jump_tables.len() <= JUMP_TABLES);
    }
}
