//! Lowering of one IR [`Block`] to one Cranelift function (`tail` calling convention,
//! `(env: i64) -> i32` returning the [`ExitStatus`]). Every IR semantic rule of `ir.rs` is
//! implemented here: shift amounts modulo the width, non-trapping division with the defined
//! corner cases, saturating float-to-int conversion, guest memory with bounds/alignment
//! checks and precise fault exits, helper calls with the `may_raise` check, and the three
//! kinds of block exit (chainable direct jump, indirect, status).

use super::JitError;
use crate::FaultKind;
use crate::header_offsets as ho;
use crate::ir::{
    BinOp, Block, Cond, ConvOp, ExitStatus, FCond, FenceKind, Helper, MemOp, Op, RmwOp, Temp, Ty,
    UnOp,
};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{self, Type};
use cranelift_codegen::ir::{
    AbiParam, AtomicRmwOp, BlockArg, Endianness, ExtFuncData, ExternalName, Function, InstBuilder,
    MemFlagsData, SigRef, Signature, SourceLoc, StackSlotData, StackSlotKind, TrapCode,
    UserExternalName, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};

// System-mode memory ops: methods of `Lower`, so a child module.
#[path = "softmmu.rs"]
mod softmmu;
pub(crate) use softmmu::{encode as mem_code, slow_cmpxchg, slow_load, slow_rmw, slow_store};

/// Fixed facts the lowering needs from the Jit.
#[derive(Clone)]
pub(crate) struct LowerEnv {
    pub guest_base: u64,
    pub guest_limit: u64,
    /// Compile a `GotoBlock` to the block's own PC as a jump back to its entry check
    /// instead of a chainable exit (off for `-d nochain`/`exec` tracing).
    pub self_loops: bool,
    /// System mode: guest memory through the softmmu (see `softmmu.rs`) instead of
    /// `guest_base + addr`.
    pub softmmu: Option<super::SoftmmuJit>,
    /// Each block increments `CpuHeader::block_entries` on entry (`-d stats`: chain hits).
    pub count_blocks: bool,
}

impl LowerEnv {
    /// Whether code lowered with `self` behaves the same as code lowered with `other`
    /// (generated code holds no engine's addresses: those come from the CPU header).
    pub fn same_code(&self, other: &LowerEnv) -> bool {
        let sm = |l: &LowerEnv| l.softmmu.map(|s| (s.tlb_offset, s.count_hits));
        self.guest_base == other.guest_base
            && self.guest_limit == other.guest_limit
            && self.self_loops == other.self_loops
            && self.count_blocks == other.count_blocks
            && sm(self) == sm(other)
    }
}

/// What lowering produced besides the function.
#[derive(Default)]
pub(crate) struct LowerOut {
    /// Guest target PC per chainable `GotoBlock`; exit `i` is a tail call to the user
    /// function name (`EXIT_NAMESPACE`, i), which the Jit resolves by patching the jump.
    pub exits: Vec<u64>,
    /// Guest PC of each guest memory op, in op order. Host instructions that access guest
    /// memory carry the trap code `mem_trap_code(ordinal)` (see [`mem_ordinals`]).
    pub mem_pcs: Vec<u64>,
}

fn err(msg: impl Into<String>) -> JitError {
    JitError::Codegen(msg.into())
}

/// The Cranelift type holding an IR type (V128 is carried as a 128-bit integer).
pub(crate) fn clif_ty(ty: Ty) -> Type {
    match ty {
        Ty::I8 => types::I8,
        Ty::I16 => types::I16,
        Ty::I32 => types::I32,
        Ty::I64 => types::I64,
        Ty::I128 | Ty::V128 => types::I128,
        Ty::F32 => types::F32,
        Ty::F64 => types::F64,
    }
}

/// The tail-convention signature of blocks and the exit stub: (env) -> status.
pub(crate) fn block_sig() -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// The integer type of a float's width.
fn cfrom_int(t: Ty) -> Type {
    if t == Ty::F32 { types::I32 } else { types::I64 }
}

fn int_cc(c: Cond) -> IntCC {
    match c {
        Cond::Eq => IntCC::Equal,
        Cond::Ne => IntCC::NotEqual,
        Cond::LtS => IntCC::SignedLessThan,
        Cond::LeS => IntCC::SignedLessThanOrEqual,
        Cond::GtS => IntCC::SignedGreaterThan,
        Cond::GeS => IntCC::SignedGreaterThanOrEqual,
        Cond::LtU => IntCC::UnsignedLessThan,
        Cond::LeU => IntCC::UnsignedLessThanOrEqual,
        Cond::GtU => IntCC::UnsignedGreaterThan,
        Cond::GeU => IntCC::UnsignedGreaterThanOrEqual,
    }
}

/// 128-bit ops Cranelift cannot lower on x86-64, in the reference arithmetic.
const WIDE_BIN_OPS: [BinOp; 7] = [
    BinOp::MulHS,
    BinOp::MulHU,
    BinOp::MulHSU,
    BinOp::DivS,
    BinOp::DivU,
    BinOp::RemS,
    BinOp::RemU,
];

/// `*out = WIDE_BIN_OPS[op](a, b)` on 128-bit values given as halves.
extern "C" fn wide_bin(out: *mut u128, op: u64, a_lo: u64, a_hi: u64, b_lo: u64, b_hi: u64) {
    let a = a_lo as u128 | (a_hi as u128) << 64;
    let b = b_lo as u128 | (b_hi as u128) << 64;
    let op = WIDE_BIN_OPS[op as usize % WIDE_BIN_OPS.len()];
    // SAFETY: `out` is a 16-byte stack slot of the calling JIT code.
    unsafe { out.write_unaligned(crate::interp::arith::bin128(op, a, b)) }
}

const WIDE_CONV: [(ConvOp, Ty, Ty); 8] = [
    (ConvOp::SToF, Ty::I128, Ty::F32),
    (ConvOp::SToF, Ty::I128, Ty::F64),
    (ConvOp::UToF, Ty::I128, Ty::F32),
    (ConvOp::UToF, Ty::I128, Ty::F64),
    (ConvOp::FToS, Ty::F32, Ty::I128),
    (ConvOp::FToS, Ty::F64, Ty::I128),
    (ConvOp::FToU, Ty::F32, Ty::I128),
    (ConvOp::FToU, Ty::F64, Ty::I128),
];

/// `*out = conversion WIDE_CONV[code] of v`.
extern "C" fn wide_conv(out: *mut u128, code: u64, lo: u64, hi: u64) {
    let (op, from, to) = WIDE_CONV[code as usize % WIDE_CONV.len()];
    let v = lo as u128 | (hi as u128) << 64;
    // SAFETY: `out` is a 16-byte stack slot of the calling JIT code.
    unsafe { out.write_unaligned(crate::interp::arith::conv(op, from, to, v)) }
}

/// Fused multiply-add through the interpreter's arithmetic, for NaN results (and hosts
/// without FMA): x86 FMA instructions pick which NaN operand to propagate by instruction
/// form, so only a shared implementation is bit-identical to the reference there.
pub(crate) extern "C" fn fma_bits(bits: u64, a: u64, b: u64, c: u64) -> u64 {
    crate::interp::arith::fma(bits as u32, a, b, c)
}

/// Distinct user trap codes cycled through by guest memory ops.
const MEM_CODES: usize = 250;

fn mem_trap_code(ordinal: usize) -> TrapCode {
    TrapCode::unwrap_user(1 + (ordinal % MEM_CODES) as u8)
}

/// Which guest memory op each trap record belongs to: `traps` are (host offset, code) in
/// offset order. Host code keeps guest memory ops in program order (they all have side
/// effects, and blocks are laid out in op order), several host instructions of one op share
/// its code, and consecutive ops have different codes, so a walk in offset order assigns
/// them exactly. Yields (host offset, ordinal).
pub(crate) fn mem_ordinals(
    traps: impl Iterator<Item = (u32, TrapCode)>,
) -> impl Iterator<Item = (u32, usize)> {
    let mut cur: Option<usize> = None;
    traps.filter_map(move |(off, code)| {
        let raw = code.as_raw().get() as usize;
        if raw > MEM_CODES {
            return None; // a reserved (non-user) trap code: not a guest access
        }
        let c = raw - 1;
        let ord = match cur {
            Some(o) if o % MEM_CODES == c => o,
            Some(o) => o + 1 + (c + MEM_CODES - (o + 1) % MEM_CODES) % MEM_CODES,
            None => c,
        };
        cur = Some(ord);
        Some((off, ord))
    })
}

/// Flags for accesses to the CPU state: never trap.
fn env_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

struct Lower<'a, 'b> {
    b: FunctionBuilder<'b>,
    blk: &'a Block,
    lenv: &'a LowerEnv,
    env: Value,
    vars: Vec<Variable>,
    labels: Vec<Option<cranelift_codegen::ir::Block>>,
    placed: Vec<bool>,
    /// PC of the current guest instruction.
    cur_pc: u64,
    /// Cold block (pc: i64, addr: i64, kind: i32) that reports a memory fault.
    fault_blk: Option<cranelift_codegen::ir::Block>,
    /// Cold block (pc: i64, status: i32) that ends the block after a helper raised.
    raise_blk: Option<cranelift_codegen::ir::Block>,
    helper_sigs: [Option<SigRef>; Helper::MAX_ARGS + 1],
    tail_sig: Option<SigRef>,
    /// The block's entry check (exit_request test), target of self loops.
    head: Option<cranelift_codegen::ir::Block>,
    /// Guest globals known to hold a value in this stretch of straight-line code:
    /// (offset, type, value). Write-through: `SetGlobal` still stores at once, so memory is
    /// always exact; this only skips reloading. Cleared at every label (merge point) and after
    /// helpers that write globals.
    gcache: Vec<(u32, Type, Value)>,
    /// Guest globals carried in Cranelift variables across the whole function (loops and
    /// merge points included): those the block reads, always with one width and not
    /// overlapping another accessed global. Write-through like `gcache`.
    gvars: Vec<GVar>,
    /// Per entry of `gvars`: memory may differ from the variable (a helper wrote globals
    /// since the variable was last loaded or set); reload before the next read.
    stale: Vec<bool>,
    /// Per label: union of `stale` over the branches to it seen so far (before placement),
    /// then its state at placement (for branches back to it).
    label_stale: Vec<Vec<bool>>,
    /// Per entry of `gvars`: a `SetGlobal` whose store is deferred (the variable already
    /// holds the value). Stores are emitted before anything that can observe guest state
    /// or leave the straight-line stretch (see `observes_state`), so a later `SetGlobal` to
    /// the same global in between makes the earlier store dead.
    pending: Vec<Option<Value>>,
    /// Per entry of `gvars`: not loaded yet (see [`first_used_in_stretch`]); the first
    /// `GetGlobal` loads it, a `SetGlobal` defines it.
    lazy: Vec<bool>,
    out: LowerOut,
}

/// Whether `op` may read guest globals from memory, leave the block (exit, fault, raise) or
/// end a straight-line stretch: deferred global stores must be in memory before it.
/// Unknown ops count as observing.
fn observes_state(op: &Op) -> bool {
    !matches!(
        op,
        Op::InsnStart { .. }
            | Op::Const { .. }
            | Op::Mov { .. }
            | Op::GetGlobal { .. }
            | Op::SetGlobal { .. }
            | Op::Bin { .. }
            | Op::Un { .. }
            | Op::Ext { .. }
            | Op::Extract { .. }
            | Op::Deposit { .. }
            | Op::SetCond { .. }
            | Op::FCmp { .. }
            | Op::Select { .. }
            | Op::Conv { .. }
            | Op::FMa { .. }
    )
}

/// A guest global held in a Cranelift variable (see `Lower::gvars`).
struct GVar {
    offset: u32,
    ty: Type,
    var: Variable,
    /// Some `GetGlobal` reads it (else the variable only defers its stores).
    read: bool,
}

/// The globals of `blk` to carry in variables: always accessed with one size, overlapping
/// no other accessed global. Returns (offset, canonical type, read at least once).
fn global_vars(blk: &Block) -> Vec<(u32, Type, bool)> {
    // offset -> (type of first access, read?, usable?)
    let mut acc: std::collections::BTreeMap<u32, (Type, bool, bool)> = Default::default();
    for op in &blk.ops {
        let (offset, ty, read) = match *op {
            Op::GetGlobal { offset, ty, .. } => (offset, clif_ty(ty), true),
            Op::SetGlobal { offset, ty, .. } => (offset, clif_ty(ty), false),
            _ => continue,
        };
        let e = acc.entry(offset).or_insert((ty, false, true));
        e.1 |= read;
        if e.0.bytes() != ty.bytes() {
            e.2 = false;
        }
    }
    let v: Vec<(u32, Type, bool, bool)> = acc
        .into_iter()
        .map(|(o, (t, r, ok))| (o, t, r, ok))
        .collect();
    let mut ok: Vec<bool> = v.iter().map(|e| e.3).collect();
    for i in 1..v.len() {
        // Sorted by offset: an overlap is with the previous entry (or further back, which
        // overlaps the previous one too, since sizes are powers of two... check all).
        let mut j = i;
        while j > 0 {
            j -= 1;
            if v[j].0 + v[j].1.bytes() > v[i].0 {
                ok[i] = false;
                ok[j] = false;
            }
        }
    }
    v.iter()
        .zip(ok)
        .filter(|(_, ok)| *ok)
        .map(|(e, _)| (e.0, e.1, e.2))
        .collect()
}

/// Offsets of the globals first accessed in the block's first straight-line stretch (up to
/// the first label, branch, exit or helper call). Their variables are loaded where the
/// stretch first reads them instead of at entry (or not at all when it writes them first):
/// in that stretch program order is dominance, so every later use sees the definition, and
/// loading late keeps live ranges (and so callee-saved registers and spills) short. In a
/// block that loops onto itself only the globals written first qualify: the back-edge
/// re-enters above the stretch, and a read-first global would be reloaded from memory on
/// every iteration instead of staying in a register.
fn first_used_in_stretch(blk: &Block, self_loop: bool) -> Vec<u32> {
    let mut seen: Vec<u32> = Vec::new();
    let mut late = Vec::new();
    for op in &blk.ops {
        match *op {
            Op::GetGlobal { offset, .. } | Op::SetGlobal { offset, .. }
                if !seen.contains(&offset) =>
            {
                seen.push(offset);
                if !self_loop || matches!(op, Op::SetGlobal { .. }) {
                    late.push(offset);
                }
            }
            Op::Label { .. } | Op::BrCond { .. } | Op::Call { .. } => break,
            ref o if o.is_terminator() => break,
            _ => {}
        }
    }
    late
}

/// Namespace of the function names that stand for chainable exits.
pub(crate) const EXIT_NAMESPACE: u32 = 1;

/// Build the Cranelift function for `blk` into `func` (already cleared, with
/// [`block_sig`]).
pub(crate) fn lower_block(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    blk: &Block,
    lenv: &LowerEnv,
    fcfg: TargetFrontendConfig,
) -> Result<LowerOut, JitError> {
    let mut b = FunctionBuilder::new(func, fctx);
    // One source location on everything we emit: its ranges tell where the instructions
    // end and the constant pool begins (for disassembly).
    b.set_srcloc(SourceLoc::new(0));
    // Blocks are sealed as soon as all their predecessors are known (most at once: the
    // diamonds of memory accesses and checks, forward labels), so that variables read in
    // them resolve through their predecessors right away instead of through placeholder
    // block parameters that `seal_all_blocks` resolves and removes at the end: 2% of
    // Cranelift's time for a boot's blocks.
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let env = b.block_params(entry)[0];
    if lenv.count_blocks {
        let at = crate::header_offsets::BLOCK_ENTRIES as i32;
        let n = b.ins().load(types::I64, env_flags(), env, at);
        let n = b.ins().iadd_imm_s(n, 1);
        b.ins().store(env_flags(), n, env, at);
    }
    let vars = blk
        .temps
        .iter()
        .map(|&t| b.declare_var(clif_ty(t)))
        .collect();
    let mut l = Lower {
        b,
        blk,
        lenv,
        env,
        vars,
        labels: vec![None; blk.num_labels as usize],
        placed: vec![false; blk.num_labels as usize],
        cur_pc: blk.pc,
        fault_blk: None,
        raise_blk: None,
        helper_sigs: [None; Helper::MAX_ARGS + 1],
        tail_sig: None,
        head: None,
        gcache: Vec::new(),
        gvars: Vec::new(),
        stale: Vec::new(),
        label_stale: vec![Vec::new(); blk.num_labels as usize],
        pending: Vec::new(),
        lazy: Vec::new(),
        out: LowerOut::default(),
    };
    let self_loop = lenv.self_loops
        && blk
            .ops
            .iter()
            .any(|op| matches!(*op, Op::GotoBlock { pc } if pc == blk.pc));
    let late = first_used_in_stretch(blk, self_loop);
    for (offset, ty, read) in global_vars(blk) {
        let var = l.b.declare_var(ty);
        let lazy = late.contains(&offset);
        l.lazy.push(lazy);
        if read && !lazy {
            let v = l.load_env(ty, offset);
            l.b.def_var(var, v);
        }
        l.gvars.push(GVar {
            offset,
            ty,
            var,
            read,
        });
    }
    l.stale = vec![false; l.gvars.len()];
    l.pending = vec![None; l.gvars.len()];
    for s in &mut l.label_stale {
        *s = vec![false; l.gvars.len()];
    }
    l.entry_check(self_loop);
    // Labels that a branch after them jumps back to: sealed only at the end (the others
    // are sealed where they are placed, when all their predecessors are known).
    let mut back_targets = vec![false; blk.num_labels as usize];
    let mut placed_yet = vec![false; blk.num_labels as usize];
    for op in &blk.ops {
        match *op {
            Op::Label { label } => {
                if let Some(p) = placed_yet.get_mut(label.0 as usize) {
                    *p = true;
                }
            }
            Op::Br { label } | Op::BrCond { label, .. }
                if placed_yet.get(label.0 as usize) == Some(&true) =>
            {
                back_targets[label.0 as usize] = true;
            }
            _ => {}
        }
    }
    let mut reachable = true;
    for op in &blk.ops {
        match op {
            Op::Label { label } => {
                let lb = l.label_block(label.0)?;
                if l.placed[label.0 as usize] {
                    return Err(err(format!("label L{} placed twice", label.0)));
                }
                if reachable {
                    l.flush_stores();
                    l.note_branch(label.0)?;
                    l.b.ins().jump(lb, &[]);
                }
                l.placed[label.0 as usize] = true;
                let st = l.label_stale[label.0 as usize].clone();
                l.stale = st;
                l.gcache.clear();
                if !back_targets[label.0 as usize] {
                    l.b.seal_block(lb);
                }
                l.b.switch_to_block(lb);
                reachable = true;
            }
            Op::InsnStart { pc } => {
                l.cur_pc = *pc;
            }
            _ if !reachable => {}
            _ => {
                if observes_state(op) {
                    l.flush_stores();
                }
                l.op(op)?;
                if op.is_terminator() {
                    reachable = false;
                }
            }
        }
    }
    if reachable {
        return Err(err("block does not end with an exit"));
    }
    for (i, used) in l.labels.iter().enumerate() {
        if used.is_some() && !l.placed[i] {
            return Err(err(format!("label L{i} used but never placed")));
        }
    }
    l.finish_cold();
    l.b.seal_all_blocks();
    let out = std::mem::take(&mut l.out);
    l.b.finalize(fcfg);
    Ok(out)
}

impl Lower<'_, '_> {
    fn label_block(&mut self, idx: u32) -> Result<cranelift_codegen::ir::Block, JitError> {
        let slot = self
            .labels
            .get_mut(idx as usize)
            .ok_or_else(|| err(format!("label L{idx} out of range")))?;
        Ok(*slot.get_or_insert_with(|| self.b.create_block()))
    }

    fn iconst(&mut self, ty: Type, v: u64) -> Value {
        let v = if ty.bits() < 64 {
            v & ((1u64 << ty.bits()) - 1)
        } else {
            v
        };
        self.b.ins().iconst(ty, v as i64)
    }
    fn i64c(&mut self, v: u64) -> Value {
        self.b.ins().iconst(types::I64, v as i64)
    }
    fn i32c(&mut self, v: u32) -> Value {
        self.b.ins().iconst(types::I32, v as i64)
    }
    /// An integer constant of any width up to 128 bits.
    fn int_const(&mut self, ty: Type, v: u128) -> Value {
        if ty == types::I128 {
            let lo = self.i64c(v as u64);
            let hi = self.i64c((v >> 64) as u64);
            self.b.ins().iconcat(lo, hi)
        } else {
            self.iconst(ty, v as u64)
        }
    }

    fn store_env(&mut self, v: Value, off: u32) {
        let env = self.env;
        self.b.ins().store(env_flags(), v, env, off as i32);
    }
    /// Record that global bytes [off, off + size of `ty`) hold `v`, forgetting every cached
    /// global that overlaps them.
    fn gcache_put(&mut self, off: u32, ty: Type, v: Value) {
        let end = off + ty.bytes();
        self.gcache
            .retain(|&(o, t, _)| o + t.bytes() <= off || end <= o);
        self.gcache.push((off, ty, v));
    }
    fn load_env(&mut self, ty: Type, off: u32) -> Value {
        let env = self.env;
        self.b.ins().load(ty, env_flags(), env, off as i32)
    }
    fn ret(&mut self, status: u32) {
        let s = self.i32c(status);
        self.b.ins().return_(&[s]);
    }

    /// Index in `gvars` of the global at `offset`, if it is carried in a variable.
    fn gvar(&self, offset: u32) -> Option<usize> {
        self.gvars.iter().position(|g| g.offset == offset)
    }

    /// Emit the deferred global stores.
    fn flush_stores(&mut self) {
        for i in 0..self.pending.len() {
            if let Some(v) = self.pending[i].take() {
                self.store_env(v, self.gvars[i].offset);
            }
        }
    }

    /// Load global variable `i` from memory again.
    fn reload(&mut self, i: usize) {
        let (offset, ty, var) = (self.gvars[i].offset, self.gvars[i].ty, self.gvars[i].var);
        let v = self.load_env(ty, offset);
        self.b.def_var(var, v);
        self.stale[i] = false;
    }

    /// Account for a branch from the current point to `label`: before the label is placed,
    /// its stale set grows by ours; after (a backward branch), we reload what it expects
    /// fresh.
    fn note_branch(&mut self, label: u32) -> Result<(), JitError> {
        let idx = label as usize;
        if idx >= self.label_stale.len() {
            return Err(err(format!("label L{label} out of range")));
        }
        if self.placed[idx] {
            for i in 0..self.gvars.len() {
                if self.stale[i] && !self.label_stale[idx][i] {
                    self.reload(i);
                }
            }
        } else {
            for i in 0..self.gvars.len() {
                self.label_stale[idx][i] |= self.stale[i];
            }
        }
        Ok(())
    }

    /// Block entry: leave with Interrupted if someone set `exit_request`. `self_loop`: the
    /// block jumps back to its own start, here.
    fn entry_check(&mut self, self_loop: bool) {
        let head = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        self.head = Some(head);
        if !self_loop {
            self.b.seal_block(head);
        } else {
            // A self loop (or a region's back-edge) re-enters here: temporaries start at
            // zero again, as in a fresh run of the block. Unread definitions cost nothing.
            for i in 0..self.vars.len() {
                let z = match self.blk.temps[i] {
                    Ty::F32 => self.b.ins().f32const(Ieee32::with_bits(0)),
                    Ty::F64 => self.b.ins().f64const(Ieee64::with_bits(0)),
                    t => self.int_const(clif_ty(t), 0),
                };
                self.b.def_var(self.vars[i], z);
            }
        }
        let req = self.load_env(types::I32, ho::EXIT_REQUEST);
        let intr = self.b.create_block();
        let body = self.b.create_block();
        self.b.set_cold_block(intr);
        self.b.ins().brif(req, intr, &[], body, &[]);
        self.b.seal_block(intr);
        self.b.seal_block(body);
        self.b.switch_to_block(intr);
        let pc = self.i64c(self.blk.pc);
        self.store_env(pc, ho::PC);
        self.ret(ExitStatus::Interrupted as u32);
        self.b.switch_to_block(body);
    }

    /// Read temp `t`, checking that it has IR type `ty` (V128/I128 and are carried alike).
    fn get(&mut self, t: Temp, ty: Ty) -> Result<Value, JitError> {
        let have = self.temp_ty(t)?;
        if clif_ty(have) != clif_ty(ty) {
            return Err(err(format!("t{} is {have}, used as {ty}", t.0)));
        }
        Ok(self.b.use_var(self.vars[t.0 as usize]))
    }
    fn temp_ty(&self, t: Temp) -> Result<Ty, JitError> {
        self.blk
            .temps
            .get(t.0 as usize)
            .copied()
            .ok_or_else(|| err(format!("t{} out of range", t.0)))
    }
    fn set(&mut self, t: Temp, v: Value) -> Result<(), JitError> {
        let var = *self
            .vars
            .get(t.0 as usize)
            .ok_or_else(|| err(format!("t{} out of range", t.0)))?;
        self.b
            .try_def_var(var, v)
            .map_err(|e| err(format!("t{}: {e}", t.0)))
    }

    /// The cold block (pc, addr, kind) reporting a memory fault; filled by `finish_cold`.
    fn fault_block(&mut self) -> cranelift_codegen::ir::Block {
        if let Some(fb) = self.fault_blk {
            return fb;
        }
        let fb = self.b.create_block();
        self.b.set_cold_block(fb);
        self.b.append_block_param(fb, types::I64);
        self.b.append_block_param(fb, types::I64);
        self.b.append_block_param(fb, types::I32);
        self.fault_blk = Some(fb);
        fb
    }

    /// The cold block (pc, status) ending the block after a helper raised.
    fn raise_block(&mut self) -> cranelift_codegen::ir::Block {
        if let Some(rb) = self.raise_blk {
            return rb;
        }
        let rb = self.b.create_block();
        self.b.set_cold_block(rb);
        self.b.append_block_param(rb, types::I64);
        self.b.append_block_param(rb, types::I32);
        self.raise_blk = Some(rb);
        rb
    }

    /// Fill the cold blocks that were used (after the last op).
    fn finish_cold(&mut self) {
        if let Some(fb) = self.fault_blk {
            self.b.switch_to_block(fb);
            let p = self.b.block_params(fb).to_vec();
            self.store_env(p[0], ho::PC);
            self.store_env(p[1], ho::FAULT_ADDR);
            self.store_env(p[2], ho::FAULT_KIND);
            self.ret(ExitStatus::Fault as u32);
        }
        if let Some(rb) = self.raise_blk {
            self.b.switch_to_block(rb);
            let p = self.b.block_params(rb).to_vec();
            let zero = self.i32c(0);
            self.store_env(zero, ho::PENDING_STATUS);
            self.store_env(p[0], ho::PC);
            self.b.ins().return_(&[p[1]]);
        }
    }

    /// Branch to a cold fault path when `cond` is nonzero, else continue in a new block.
    /// Each check gets its own small cold block that materializes the pc and kind, so the
    /// hot path is only the compare and branch.
    fn fault_if(&mut self, cond: Value, addr: Value, kind: FaultKind) {
        let fb = self.fault_block();
        let site = self.b.create_block();
        self.b.set_cold_block(site);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, site, &[], cont, &[]);
        self.b.seal_block(site);
        self.b.seal_block(cont);
        self.b.switch_to_block(site);
        let pc = self.i64c(self.cur_pc);
        let k = self.i32c(kind as u32);
        self.b.ins().jump(
            fb,
            &[
                BlockArg::Value(pc),
                BlockArg::Value(addr),
                BlockArg::Value(k),
            ],
        );
        self.b.switch_to_block(cont);
    }

    /// Check a guest access of `size` bytes at `addr` (I64) and return its host address.
    fn guest_addr(&mut self, addr: Value, size: u8, aligned: bool, kind: FaultKind) -> Value {
        if aligned && size > 1 {
            let mis = self.b.ins().band_imm_u(addr, (size - 1) as i64);
            self.fault_if(mis, addr, FaultKind::Misaligned);
        }
        let out = match self.lenv.guest_limit.checked_sub(size as u64) {
            Some(bound) => {
                let bound = self.i64c(bound);
                self.b.ins().icmp(IntCC::UnsignedGreaterThan, addr, bound)
            }
            None => self.b.ins().iconst(types::I8, 1),
        };
        self.fault_if(out, addr, kind);
        self.b.ins().iadd_imm_s(addr, self.lenv.guest_base as i64)
    }

    /// Flags for the host accesses of one guest memory op (call once per op, after its
    /// software checks): a trap code identifying the op, for the host fault handler.
    fn guest_flags(&mut self) -> MemFlagsData {
        let ord = self.out.mem_pcs.len();
        self.out.mem_pcs.push(self.cur_pc);
        MemFlagsData::new().with_trap_code(Some(mem_trap_code(ord)))
    }

    fn bswap(&mut self, v: Value, ty: Type) -> Value {
        if ty == types::I8 {
            v
        } else {
            self.b.ins().bswap(v)
        }
    }

    /// Extend or truncate integer `v` from `from` to `to`.
    fn resize(&mut self, v: Value, from: Type, to: Type, signed: bool) -> Value {
        use std::cmp::Ordering::*;
        match to.bits().cmp(&from.bits()) {
            Equal => v,
            Less => self.b.ins().ireduce(to, v),
            Greater if signed => self.b.ins().sextend(to, v),
            Greater => self.b.ins().uextend(to, v),
        }
    }

    fn mem_int_ty(mem: &MemOp) -> Result<Type, JitError> {
        Ty::int_of_bytes(mem.size as u32)
            .map(clif_ty)
            .ok_or_else(|| err(format!("bad memory access size {}", mem.size)))
    }

    fn op(&mut self, op: &Op) -> Result<(), JitError> {
        match *op {
            Op::InsnStart { .. } | Op::Label { .. } => unreachable!("handled by the caller"),
            Op::Const { dst, ty, value } => {
                let v = match ty {
                    Ty::F32 => self.b.ins().f32const(Ieee32::with_bits(value as u32)),
                    Ty::F64 => self.b.ins().f64const(Ieee64::with_bits(value)),
                    _ => self.int_const(clif_ty(ty), value as u128),
                };
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Mov { dst, src } => {
                let ty = self.temp_ty(src)?;
                let v = self.get(src, ty)?;
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::GetGlobal { dst, ty, offset } => {
                self.check_dst(dst, ty)?;
                let cty = clif_ty(ty);
                if let Some(i) = self.gvar(offset) {
                    if self.stale[i] || self.lazy[i] {
                        self.reload(i);
                        self.lazy[i] = false;
                    }
                    let g = &self.gvars[i];
                    let (gty, var) = (g.ty, g.var);
                    let v = self.b.use_var(var);
                    let v = if gty == cty {
                        v
                    } else {
                        self.b.ins().bitcast(cty, MemFlagsData::new(), v)
                    };
                    self.set(dst, v)?;
                    return Ok(());
                }
                let hit = self
                    .gcache
                    .iter()
                    .find(|&&(o, t, _)| o == offset && t == cty)
                    .map(|&(_, _, v)| v);
                let v = match hit {
                    Some(v) => v,
                    None => {
                        let v = self.load_env(cty, offset);
                        self.gcache_put(offset, cty, v);
                        v
                    }
                };
                self.set(dst, v)?;
            }
            Op::SetGlobal { offset, ty, src } => {
                let v = self.get(src, ty)?;
                if let Some(i) = self.gvar(offset) {
                    let (gty, var) = (self.gvars[i].ty, self.gvars[i].var);
                    let v = if gty == clif_ty(ty) {
                        v
                    } else {
                        self.b.ins().bitcast(gty, MemFlagsData::new(), v)
                    };
                    self.b.def_var(var, v);
                    self.stale[i] = false;
                    self.lazy[i] = false;
                    self.pending[i] = Some(v);
                } else {
                    self.store_env(v, offset);
                    self.gcache_put(offset, clif_ty(ty), v);
                }
            }
            Op::Bin { op, ty, dst, a, b } => {
                let a = self.get(a, ty)?;
                let b = self.get(b, ty)?;
                let v = self.bin(op, ty, a, b)?;
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Un { op, ty, dst, a } => {
                let a = self.get(a, ty)?;
                let v = self.un(op, ty, a)?;
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Ext {
                dst,
                to,
                src,
                from,
                signed,
            } => {
                if !to.is_int() && to != Ty::V128 || !from.is_int() && from != Ty::V128 {
                    return Err(err("Ext on a non-integer type"));
                }
                let v = self.get(src, from)?;
                let v = self.resize(v, clif_ty(from), clif_ty(to), signed);
                self.check_dst(dst, to)?;
                self.set(dst, v)?;
            }
            Op::Extract {
                dst,
                ty,
                src,
                pos,
                len,
                signed,
            } => {
                let w = ty.bits();
                if !ty.is_int() || pos as u32 + len as u32 > w {
                    return Err(err(format!("bad extract {pos}+{len} of {ty}")));
                }
                let s = self.get(src, ty)?;
                let v = if len == 0 {
                    self.int_const(clif_ty(ty), 0)
                } else if len as u32 == w {
                    s
                } else {
                    let t = self
                        .b
                        .ins()
                        .ishl_imm_u(s, (w - pos as u32 - len as u32) as i64);
                    let sh = (w - len as u32) as i64;
                    if signed {
                        self.b.ins().sshr_imm_u(t, sh)
                    } else {
                        self.b.ins().ushr_imm_u(t, sh)
                    }
                };
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Deposit {
                dst,
                ty,
                base,
                val,
                pos,
                len,
            } => {
                let w = ty.bits();
                if !ty.is_int() || pos as u32 + len as u32 > w {
                    return Err(err(format!("bad deposit {pos}+{len} of {ty}")));
                }
                let cty = clif_ty(ty);
                let base = self.get(base, ty)?;
                let val = self.get(val, ty)?;
                let v = if len == 0 {
                    base
                } else {
                    let ones = if len as u32 >= 128 {
                        u128::MAX
                    } else {
                        (1u128 << len) - 1
                    };
                    let mask = ones << pos;
                    let keep = !mask
                        & if w >= 128 {
                            u128::MAX
                        } else {
                            (1u128 << w) - 1
                        };
                    let sh = self.b.ins().ishl_imm_u(val, pos as i64);
                    let m = self.int_const(cty, mask);
                    let ins = self.b.ins().band(sh, m);
                    if keep == 0 {
                        ins
                    } else {
                        let k = self.int_const(cty, keep);
                        let kept = self.b.ins().band(base, k);
                        self.b.ins().bor(kept, ins)
                    }
                };
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::SetCond {
                cond,
                ty,
                dst,
                a,
                b,
            } => {
                let a = self.get(a, ty)?;
                let b = self.get(b, ty)?;
                let c = self.b.ins().icmp(int_cc(cond), a, b);
                let v = self.b.ins().uextend(types::I64, c);
                self.check_dst(dst, Ty::I64)?;
                self.set(dst, v)?;
            }
            Op::FCmp {
                cond,
                ty,
                dst,
                a,
                b,
            } => {
                if !ty.is_float() {
                    return Err(err("FCmp on a non-float type"));
                }
                let a = self.get(a, ty)?;
                let b = self.get(b, ty)?;
                let cc = match cond {
                    FCond::Eq => FloatCC::Equal,
                    FCond::Lt => FloatCC::LessThan,
                    FCond::Le => FloatCC::LessThanOrEqual,
                    FCond::Unordered => FloatCC::Unordered,
                };
                let c = self.b.ins().fcmp(cc, a, b);
                let v = self.b.ins().uextend(types::I64, c);
                self.check_dst(dst, Ty::I64)?;
                self.set(dst, v)?;
            }
            Op::Select {
                ty,
                dst,
                cond,
                a,
                b,
            } => {
                let c = self.get(cond, Ty::I64)?;
                let a = self.get(a, ty)?;
                let b = self.get(b, ty)?;
                let v = if clif_ty(ty) == types::I128 {
                    // By halves: the optimiser would turn select-of-icmp on i128 into
                    // smax.i128 and friends, which x86-64 cannot lower.
                    let [al, ah] = self.halves(a);
                    let [bl, bh] = self.halves(b);
                    let lo = self.b.ins().select(c, al, bl);
                    let hi = self.b.ins().select(c, ah, bh);
                    self.b.ins().iconcat(lo, hi)
                } else {
                    self.b.ins().select(c, a, b)
                };
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Conv {
                op,
                dst,
                to,
                src,
                from,
            } => {
                let s = self.get(src, from)?;
                let v = self.conv(op, to, from, s)?;
                self.check_dst(dst, to)?;
                self.set(dst, v)?;
            }
            Op::FMa { ty, dst, a, b, c } => {
                if !ty.is_float() {
                    return Err(err("FMa on a non-float type"));
                }
                let a = self.get(a, ty)?;
                let b = self.get(b, ty)?;
                let c = self.get(c, ty)?;
                let t = clif_ty(ty);
                let it = cfrom_int(ty);
                // With host FMA: the host's fused multiply-add, whose correctly rounded
                // result is the reference's bit for bit unless it is a NaN; only a NaN
                // result (whose payload and sign the host picks by its own rules) takes
                // the shared helper (see `fma_bits`). Without host FMA, always the helper.
                let done = std::is_x86_feature_detected!("fma").then(|| {
                    let r = self.b.ins().fma(a, b, c);
                    let nan = self.b.ins().fcmp(FloatCC::Unordered, r, r);
                    let slow = self.b.create_block();
                    let done = self.b.create_block();
                    self.b.append_block_param(done, t);
                    self.b
                        .ins()
                        .brif(nan, slow, &[], done, &[BlockArg::Value(r)]);
                    self.b.switch_to_block(slow);
                    done
                });
                let mut sig = Signature::new(CallConv::SystemV);
                for _ in 0..4 {
                    sig.params.push(AbiParam::new(types::I64));
                }
                sig.returns.push(AbiParam::new(types::I64));
                let sr = self.b.import_signature(sig);
                let mut args = vec![self.i64c(ty.bits() as u64)];
                for x in [a, b, c] {
                    let i = self.b.ins().bitcast(it, MemFlagsData::new(), x);
                    args.push(self.resize(i, it, types::I64, false));
                }
                let f = self.i64c(fma_bits as *const () as u64);
                let call = self.b.ins().call_indirect(sr, f, &args);
                let r = self.b.inst_results(call)[0];
                let r = self.resize(r, types::I64, it, false);
                let mut v = self.b.ins().bitcast(t, MemFlagsData::new(), r);
                if let Some(done) = done {
                    self.b.ins().jump(done, &[BlockArg::Value(v)]);
                    self.b.switch_to_block(done);
                    v = self.b.block_params(done)[0];
                }
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Load { dst, ty, addr, mem } => {
                let a = self.get(addr, Ty::I64)?;
                let v = self.load(ty, a, &mem)?;
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Store { ty, val, addr, mem } => {
                let v = self.get(val, ty)?;
                let a = self.get(addr, Ty::I64)?;
                self.store(ty, v, a, &mem)?;
            }
            Op::AtomicRmw {
                op,
                ty,
                dst,
                addr,
                val,
                mem,
            } => {
                let a = self.get(addr, Ty::I64)?;
                let x = self.get(val, ty)?;
                let v = self.atomic_rmw(op, ty, a, x, &mem)?;
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Cmpxchg {
                ty,
                dst,
                addr,
                expected,
                new,
                mem,
            } => {
                let a = self.get(addr, Ty::I64)?;
                let e = self.get(expected, ty)?;
                let n = self.get(new, ty)?;
                let v = self.cmpxchg(ty, a, e, n, &mem)?;
                self.check_dst(dst, ty)?;
                self.set(dst, v)?;
            }
            Op::Fence { kind } => {
                // x86-64 is TSO: plain loads and stores already have acquire/release
                // ordering, and Cranelift keeps memory ops in program order.
                if kind == FenceKind::SeqCst {
                    self.b.ins().fence();
                }
            }
            Op::Call {
                helper,
                ref args,
                dst,
            } => self.call(helper, args, dst)?,
            Op::Br { label } => {
                let lb = self.label_block(label.0)?;
                self.note_branch(label.0)?;
                self.b.ins().jump(lb, &[]);
            }
            Op::BrCond { cond, label } => {
                let c = self.get(cond, Ty::I64)?;
                let lb = self.label_block(label.0)?;
                self.note_branch(label.0)?;
                let cont = self.b.create_block();
                self.b.ins().brif(c, lb, &[], cont, &[]);
                self.b.seal_block(cont);
                self.b.switch_to_block(cont);
            }
            Op::GotoBlock { pc } if pc == self.blk.pc && self.lenv.self_loops => {
                // A loop onto itself: go straight back to the entry check (which honours
                // exit_request and stores the PC if it leaves). Nothing else reads
                // `CpuHeader::pc` inside a block: fault and raise paths store their own.
                let head = self.head.ok_or_else(|| err("no entry block"))?;
                // The head expects every global variable fresh.
                for i in 0..self.gvars.len() {
                    if self.stale[i] {
                        self.reload(i);
                    }
                }
                self.b.ins().jump(head, &[]);
            }
            Op::GotoBlock { pc } => {
                // A direct tail call to a placeholder the Jit patches: first to this exit's
                // stub (stores the PC and the jump's address, returns Next), later straight
                // to the successor's entry.
                let idx = u32::try_from(self.out.exits.len()).map_err(|_| err("too many exits"))?;
                self.out.exits.push(pc);
                let name = self
                    .b
                    .func
                    .declare_imported_user_function(UserExternalName::new(EXIT_NAMESPACE, idx));
                let signature = self.tail_sig();
                let f = self.b.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature,
                    colocated: true,
                    patchable: false,
                });
                let env = self.env;
                self.b.ins().return_call(f, &[env]);
            }
            Op::ExitIndirect { pc } => {
                let p = self.get(pc, Ty::I64)?;
                self.store_env(p, ho::PC);
                let z = self.i64c(0);
                self.store_env(z, ho::LAST_EXIT_SLOT);
                // Inline lookup in the jump table: on a tag hit, tail-call the target block
                // (which checks exit_request at its entry); else return Next to the engine.
                let idx = self.b.ins().ushr_imm_u(p, 1);
                let idx = self
                    .b
                    .ins()
                    .band_imm_u(idx, (super::JUMP_TABLE_SIZE - 1) as i64);
                let off = self.b.ins().ishl_imm_u(idx, 4);
                let tbl = self.load_env(types::I64, ho::JUMP_TABLE);
                let ea = self.b.ins().iadd(tbl, off);
                let tag = self.b.ins().load(types::I64, env_flags(), ea, 0);
                let hit = self.b.ins().icmp(IntCC::Equal, tag, p);
                let hit_blk = self.b.create_block();
                let miss_blk = self.b.create_block();
                self.b.ins().brif(hit, hit_blk, &[], miss_blk, &[]);
                self.b.seal_block(hit_blk);
                self.b.seal_block(miss_blk);
                self.b.switch_to_block(hit_blk);
                let target = self.b.ins().load(types::I64, env_flags(), ea, 8);
                let sig = self.tail_sig();
                let env = self.env;
                self.b.ins().return_call_indirect(sig, target, &[env]);
                self.b.switch_to_block(miss_blk);
                if self.lenv.softmmu.is_some() {
                    // System mode: the engine's lookup (CpuHeader::indirect_lookup), if
                    // set, may name the target's code; else return Next.
                    let f = self.load_env(types::I64, ho::INDIRECT_LOOKUP);
                    let call_blk = self.b.create_block();
                    let go_blk = self.b.create_block();
                    let next_blk = self.b.create_block();
                    self.b.ins().brif(f, call_blk, &[], next_blk, &[]);
                    self.b.seal_block(call_blk);
                    self.b.switch_to_block(call_blk);
                    let mut sig = Signature::new(CallConv::SystemV);
                    sig.params.push(AbiParam::new(types::I64));
                    sig.params.push(AbiParam::new(types::I64));
                    sig.returns.push(AbiParam::new(types::I64));
                    let sr = self.b.import_signature(sig);
                    let env = self.env;
                    let call = self.b.ins().call_indirect(sr, f, &[env, p]);
                    let target = self.b.inst_results(call)[0];
                    self.b.ins().brif(target, go_blk, &[], next_blk, &[]);
                    self.b.seal_block(go_blk);
                    self.b.seal_block(next_blk);
                    self.b.switch_to_block(go_blk);
                    let tsig = self.tail_sig();
                    self.b.ins().return_call_indirect(tsig, target, &[env]);
                    self.b.switch_to_block(next_blk);
                }
                self.ret(ExitStatus::Next as u32);
            }
            Op::Exit { status, pc } => {
                let p = self.get(pc, Ty::I64)?;
                self.store_env(p, ho::PC);
                let z = self.i64c(0);
                self.store_env(z, ho::LAST_EXIT_SLOT);
                self.ret(status as u32);
            }
        }
        Ok(())
    }

    /// The imported signature of block functions, for tail calls.
    fn tail_sig(&mut self) -> SigRef {
        match self.tail_sig {
            Some(s) => s,
            None => {
                let s = self.b.import_signature(block_sig());
                self.tail_sig = Some(s);
                s
            }
        }
    }

    fn check_dst(&self, dst: Temp, ty: Ty) -> Result<(), JitError> {
        let have = self.temp_ty(dst)?;
        if clif_ty(have) != clif_ty(ty) {
            return Err(err(format!("t{} is {have}, assigned {ty}", dst.0)));
        }
        Ok(())
    }

    /// Call `f(out, code, args...)` (SystemV, all i64) and load the 128-bit result.
    fn wide_call(&mut self, f: usize, code: u64, args: &[Value]) -> Value {
        let mut sig = Signature::new(CallConv::SystemV);
        for _ in 0..args.len() + 2 {
            sig.params.push(AbiParam::new(types::I64));
        }
        let sr = self.b.import_signature(sig);
        let ss =
            self.b
                .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 4));
        let out = self.b.ins().stack_addr(types::I64, ss, 0);
        let code = self.i64c(code);
        let mut vals = vec![out, code];
        vals.extend_from_slice(args);
        let f = self.i64c(f as u64);
        self.b.ins().call_indirect(sr, f, &vals);
        self.b.ins().load(types::I128, env_flags(), out, 0)
    }

    fn halves(&mut self, v: Value) -> [Value; 2] {
        let (lo, hi) = self.b.ins().isplit(v);
        [lo, hi]
    }

    fn bin(&mut self, op: BinOp, ty: Ty, a: Value, b: Value) -> Result<Value, JitError> {
        use BinOp::*;
        let is_f = matches!(op, FAdd | FSub | FMul | FDiv);
        if is_f != ty.is_float() {
            return Err(err(format!("{op:?} on {ty}")));
        }
        let cty = clif_ty(ty);
        let wide = cty == types::I128;
        if wide && let Some(code) = WIDE_BIN_OPS.iter().position(|&o| o == op) {
            let [al, ah] = self.halves(a);
            let [bl, bh] = self.halves(b);
            return Ok(self.wide_call(
                wide_bin as *const () as usize,
                code as u64,
                &[al, ah, bl, bh],
            ));
        }
        Ok(match op {
            Add => self.b.ins().iadd(a, b),
            Sub => self.b.ins().isub(a, b),
            Mul => self.b.ins().imul(a, b),
            And => self.b.ins().band(a, b),
            Or => self.b.ins().bor(a, b),
            Xor => self.b.ins().bxor(a, b),
            AndNot => self.b.ins().band_not(a, b),
            OrNot => self.b.ins().bor_not(a, b),
            XorNot => self.b.ins().bxor_not(a, b),
            Shl => self.b.ins().ishl(a, b),
            ShrU => self.b.ins().ushr(a, b),
            ShrS => self.b.ins().sshr(a, b),
            Rotl => self.b.ins().rotl(a, b),
            Rotr => self.b.ins().rotr(a, b),
            MinS | MinU | MaxS | MaxU if wide => {
                let cc = match op {
                    MinS => IntCC::SignedLessThan,
                    MinU => IntCC::UnsignedLessThan,
                    MaxS => IntCC::SignedGreaterThan,
                    _ => IntCC::UnsignedGreaterThan,
                };
                // Select the 64-bit halves: the optimiser turns a 128-bit icmp+select (or
                // a mask blend) into smax.i128 and friends, which x86-64 cannot lower.
                let c = self.b.ins().icmp(cc, a, b);
                let [al, ah] = self.halves(a);
                let [bl, bh] = self.halves(b);
                let lo = self.b.ins().select(c, al, bl);
                let hi = self.b.ins().select(c, ah, bh);
                self.b.ins().iconcat(lo, hi)
            }
            MinS => self.b.ins().smin(a, b),
            MinU => self.b.ins().umin(a, b),
            MaxS => self.b.ins().smax(a, b),
            MaxU => self.b.ins().umax(a, b),
            MulHS | MulHU | MulHSU => {
                if cty == types::I64 {
                    match op {
                        MulHS => self.b.ins().smulhi(a, b),
                        MulHU => self.b.ins().umulhi(a, b),
                        _ => {
                            // a_s * b_u = a_u * b_u - 2^64 * b * [a < 0]
                            let hi = self.b.ins().umulhi(a, b);
                            let neg = self.b.ins().sshr_imm_u(a, 63);
                            let corr = self.b.ins().band(neg, b);
                            self.b.ins().isub(hi, corr)
                        }
                    }
                } else {
                    let (ea, eb) = match op {
                        MulHS => (
                            self.b.ins().sextend(types::I64, a),
                            self.b.ins().sextend(types::I64, b),
                        ),
                        MulHU => (
                            self.b.ins().uextend(types::I64, a),
                            self.b.ins().uextend(types::I64, b),
                        ),
                        _ => (
                            self.b.ins().sextend(types::I64, a),
                            self.b.ins().uextend(types::I64, b),
                        ),
                    };
                    let p = self.b.ins().imul(ea, eb);
                    let h = self.b.ins().sshr_imm_u(p, cty.bits() as i64);
                    self.b.ins().ireduce(cty, h)
                }
            }
            DivU | RemU | DivS | RemS => {
                let zero = self.b.ins().icmp_imm_u(IntCC::Equal, b, 0);
                let one = self.iconst(cty, 1);
                let mut safe_b = self.b.ins().select(zero, one, b);
                if matches!(op, DivS | RemS) {
                    // MIN / -1 overflows on the host: divide by 1 instead (MIN / 1 = MIN,
                    // MIN % 1 = 0, the defined answers).
                    let min = self.iconst(cty, 1u64 << (cty.bits() - 1));
                    let is_min = self.b.ins().icmp(IntCC::Equal, a, min);
                    let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
                    let ovf = self.b.ins().band(is_min, is_m1);
                    safe_b = self.b.ins().select(ovf, one, safe_b);
                }
                let (r, on_zero) = match op {
                    DivU => (self.b.ins().udiv(a, safe_b), self.iconst(cty, u64::MAX)),
                    RemU => (self.b.ins().urem(a, safe_b), a),
                    DivS => (self.b.ins().sdiv(a, safe_b), self.iconst(cty, u64::MAX)),
                    _ => (self.b.ins().srem(a, safe_b), a),
                };
                self.b.ins().select(zero, on_zero, r)
            }
            FAdd => self.b.ins().fadd(a, b),
            FSub => self.b.ins().fsub(a, b),
            FMul => self.b.ins().fmul(a, b),
            FDiv => self.b.ins().fdiv(a, b),
        })
    }

    fn un(&mut self, op: UnOp, ty: Ty, a: Value) -> Result<Value, JitError> {
        use UnOp::*;
        let is_f = matches!(op, FNeg | FAbs | FSqrt);
        if is_f != ty.is_float() {
            return Err(err(format!("{op:?} on {ty}")));
        }
        let cty = clif_ty(ty);
        Ok(match op {
            Not => self.b.ins().bnot(a),
            Neg => self.b.ins().ineg(a),
            Clz => self.b.ins().clz(a),
            Ctz => self.b.ins().ctz(a),
            Popcnt => self.b.ins().popcnt(a),
            Bswap => self.bswap(a, cty),
            Bitrev => self.b.ins().bitrev(a),
            FNeg => self.b.ins().fneg(a),
            FAbs => self.b.ins().fabs(a),
            FSqrt => self.b.ins().sqrt(a),
        })
    }

    fn conv(&mut self, op: ConvOp, to: Ty, from: Ty, s: Value) -> Result<Value, JitError> {
        let bad = || err(format!("{op:?} from {from} to {to}"));
        let (cto, cfrom) = (clif_ty(to), clif_ty(from));
        let small_int = |t: Ty| matches!(t, Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64);
        if let Some(code) = WIDE_CONV.iter().position(|&c| c == (op, from, to)) {
            let [lo, hi] = if from == Ty::I128 {
                self.halves(s)
            } else {
                let bits = self.b.ins().bitcast(
                    if from == Ty::F32 {
                        types::I32
                    } else {
                        types::I64
                    },
                    MemFlagsData::new(),
                    s,
                );
                let lo = self.resize(bits, cfrom_int(from), types::I64, false);
                let hi = self.i64c(0);
                [lo, hi]
            };
            let r = self.wide_call(wide_conv as *const () as usize, code as u64, &[lo, hi]);
            return Ok(if to == Ty::I128 {
                r
            } else {
                let lo = self.b.ins().ireduce(types::I64, r);
                let lo = self.resize(lo, types::I64, cfrom_int(to), false);
                self.b.ins().bitcast(cto, MemFlagsData::new(), lo)
            });
        }
        Ok(match op {
            ConvOp::SToF | ConvOp::UToF => {
                if !small_int(from) || !to.is_float() {
                    return Err(bad());
                }
                let signed = op == ConvOp::SToF;
                let s = if from.bits() < 32 {
                    self.resize(s, cfrom, types::I32, signed)
                } else {
                    s
                };
                if signed {
                    self.b.ins().fcvt_from_sint(cto, s)
                } else {
                    self.b.ins().fcvt_from_uint(cto, s)
                }
            }
            ConvOp::FToS | ConvOp::FToU => {
                if !from.is_float() || !small_int(to) {
                    return Err(bad());
                }
                let signed = op == ConvOp::FToS;
                if to.bits() >= 32 {
                    if signed {
                        self.b.ins().fcvt_to_sint_sat(cto, s)
                    } else {
                        self.b.ins().fcvt_to_uint_sat(cto, s)
                    }
                } else if signed {
                    // Saturate through i32, then clamp to the narrow range.
                    let w = self.b.ins().fcvt_to_sint_sat(types::I32, s);
                    let bits = to.bits();
                    let hi = self.iconst(types::I32, (1u64 << (bits - 1)) - 1);
                    let lo = self.iconst(types::I32, (-(1i64 << (bits - 1))) as u64);
                    let w = self.b.ins().smin(w, hi);
                    let w = self.b.ins().smax(w, lo);
                    self.b.ins().ireduce(cto, w)
                } else {
                    let w = self.b.ins().fcvt_to_uint_sat(types::I32, s);
                    let hi = self.iconst(types::I32, (1u64 << to.bits()) - 1);
                    let w = self.b.ins().umin(w, hi);
                    self.b.ins().ireduce(cto, w)
                }
            }
            ConvOp::FToF => match (from, to) {
                (Ty::F32, Ty::F64) => self.b.ins().fpromote(types::F64, s),
                (Ty::F64, Ty::F32) => self.b.ins().fdemote(types::F32, s),
                (a, b) if a == b && a.is_float() => s,
                _ => return Err(bad()),
            },
            ConvOp::Bitcast => {
                if from.bits() != to.bits() {
                    return Err(bad());
                }
                if cto == cfrom {
                    s
                } else {
                    self.b.ins().bitcast(cto, MemFlagsData::new(), s)
                }
            }
        })
    }

    fn load(&mut self, ty: Ty, a: Value, mem: &MemOp) -> Result<Value, JitError> {
        Self::mem_int_ty(mem)?;
        if mem.size as u32 > ty.bytes() || ty.is_float() && mem.size as u32 != ty.bytes() {
            return Err(err(format!("load of {} bytes into {ty}", mem.size)));
        }
        if self.lenv.softmmu.is_some() {
            return self.sys_load(ty, a, mem);
        }
        let host = self.guest_addr(a, mem.size, mem.aligned, FaultKind::Read);
        let flags = self.guest_flags();
        Ok(self.load_host(ty, host, flags, mem))
    }

    /// The host load of a checked guest load at host address `host`.
    fn load_host(&mut self, ty: Ty, host: Value, flags: MemFlagsData, mem: &MemOp) -> Value {
        let cty = clif_ty(ty);
        let mty = clif_ty(Ty::int_of_bytes(mem.size as u32).unwrap_or(Ty::I64));
        if ty.is_float() && !mem.big_endian {
            return self.b.ins().load(cty, flags, host, 0);
        }
        let raw = self.b.ins().load(mty, flags, host, 0);
        let raw = if mem.big_endian {
            self.bswap(raw, mty)
        } else {
            raw
        };
        if ty.is_float() {
            self.b.ins().bitcast(cty, MemFlagsData::new(), raw)
        } else {
            self.resize(raw, mty, cty, mem.signed)
        }
    }

    fn store(&mut self, ty: Ty, v: Value, a: Value, mem: &MemOp) -> Result<(), JitError> {
        Self::mem_int_ty(mem)?;
        if mem.size as u32 > ty.bytes() || ty.is_float() && mem.size as u32 != ty.bytes() {
            return Err(err(format!("store of {} bytes from {ty}", mem.size)));
        }
        if self.lenv.softmmu.is_some() {
            return self.sys_store(ty, v, a, mem);
        }
        let host = self.guest_addr(a, mem.size, mem.aligned, FaultKind::Write);
        let flags = self.guest_flags();
        self.store_host(ty, v, host, flags, mem);
        Ok(())
    }

    /// The host store of a checked guest store at host address `host`.
    fn store_host(&mut self, ty: Ty, v: Value, host: Value, flags: MemFlagsData, mem: &MemOp) {
        let mty = clif_ty(Ty::int_of_bytes(mem.size as u32).unwrap_or(Ty::I64));
        if ty.is_float() && !mem.big_endian {
            self.b.ins().store(flags, v, host, 0);
            return;
        }
        let iv = if ty.is_float() {
            self.b.ins().bitcast(mty, MemFlagsData::new(), v)
        } else {
            self.resize(v, clif_ty(ty), mty, false)
        };
        let iv = if mem.big_endian {
            self.bswap(iv, mty)
        } else {
            iv
        };
        // An i128 store is two host stores; a vector store is one instruction, so a fault
        // on the second page cannot leave the first half written.
        let iv = if mty == types::I128 {
            self.b.ins().bitcast(
                types::I8X16,
                MemFlagsData::new().with_endianness(Endianness::Little),
                iv,
            )
        } else {
            iv
        };
        self.b.ins().store(flags, iv, host, 0);
    }

    fn atomic_ty(ty: Ty, mem: &MemOp) -> Result<Type, JitError> {
        if !matches!(ty, Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64)
            || mem.size as u32 > ty.bytes()
            || mem.size > 8
        {
            return Err(err(format!("atomic of {} bytes on {ty}", mem.size)));
        }
        Self::mem_int_ty(mem)
    }

    fn atomic_rmw(
        &mut self,
        op: RmwOp,
        ty: Ty,
        a: Value,
        x: Value,
        mem: &MemOp,
    ) -> Result<Value, JitError> {
        let mty = Self::atomic_ty(ty, mem)?;
        if self.lenv.softmmu.is_some() {
            return self.sys_atomic_rmw(op, ty, a, x, mem);
        }
        let host = self.guest_addr(a, mem.size, true, FaultKind::Write);
        let flags = self.guest_flags();
        Ok(self.atomic_rmw_host(op, ty, mty, host, x, flags, mem))
    }

    /// The host atomic of a checked guest read-modify-write at host address `host`.
    #[allow(clippy::too_many_arguments)]
    fn atomic_rmw_host(
        &mut self,
        op: RmwOp,
        ty: Ty,
        mty: Type,
        host: Value,
        x: Value,
        flags: MemFlagsData,
        mem: &MemOp,
    ) -> Value {
        let cty = clif_ty(ty);
        let rop = match op {
            RmwOp::Xchg => AtomicRmwOp::Xchg,
            RmwOp::Add => AtomicRmwOp::Add,
            RmwOp::And => AtomicRmwOp::And,
            RmwOp::Or => AtomicRmwOp::Or,
            RmwOp::Xor => AtomicRmwOp::Xor,
            RmwOp::MinS => AtomicRmwOp::Smin,
            RmwOp::MaxS => AtomicRmwOp::Smax,
            RmwOp::MinU => AtomicRmwOp::Umin,
            RmwOp::MaxU => AtomicRmwOp::Umax,
        };
        let byte_wise = matches!(op, RmwOp::Xchg | RmwOp::And | RmwOp::Or | RmwOp::Xor);
        let xv = self.resize(x, cty, mty, false);
        if mem.big_endian && !byte_wise && mem.size > 1 {
            // Arithmetic on byte-swapped memory: a compare-and-swap loop. The first read
            // is a CAS too, so an unmapped page faults as a write, like the interpreter.
            let zero = self.iconst(mty, 0);
            let first = self.b.ins().atomic_cas(flags, host, zero, zero);
            let head = self.b.create_block();
            let cur = self.b.append_block_param(head, mty);
            let done = self.b.create_block();
            self.b.ins().jump(head, &[BlockArg::Value(first)]);
            self.b.switch_to_block(head);
            let old = self.bswap(cur, mty);
            let new = match op {
                RmwOp::Add => self.b.ins().iadd(old, xv),
                RmwOp::MinS => self.b.ins().smin(old, xv),
                RmwOp::MaxS => self.b.ins().smax(old, xv),
                RmwOp::MinU => self.b.ins().umin(old, xv),
                _ => self.b.ins().umax(old, xv),
            };
            let new = self.bswap(new, mty);
            let got = self.b.ins().atomic_cas(flags, host, cur, new);
            let same = self.b.ins().icmp(IntCC::Equal, got, cur);
            self.b
                .ins()
                .brif(same, done, &[], head, &[BlockArg::Value(got)]);
            self.b.seal_block(done);
            self.b.switch_to_block(done);
            return self.resize(old, mty, cty, mem.signed);
        }
        let xv = if mem.big_endian {
            self.bswap(xv, mty)
        } else {
            xv
        };
        let old = self.b.ins().atomic_rmw(mty, flags, rop, host, xv);
        let old = if mem.big_endian {
            self.bswap(old, mty)
        } else {
            old
        };
        self.resize(old, mty, cty, mem.signed)
    }

    fn cmpxchg(
        &mut self,
        ty: Ty,
        a: Value,
        e: Value,
        n: Value,
        mem: &MemOp,
    ) -> Result<Value, JitError> {
        if mem.size == 16 {
            return self.cmpxchg16(ty, a, e, n, mem);
        }
        let mty = Self::atomic_ty(ty, mem)?;
        if self.lenv.softmmu.is_some() {
            return self.sys_cmpxchg(ty, a, e, n, mem);
        }
        let host = self.guest_addr(a, mem.size, true, FaultKind::Write);
        let flags = self.guest_flags();
        Ok(self.cmpxchg_host(ty, mty, host, e, n, flags, mem))
    }

    /// A 16-byte guest cmpxchg in user mode: `lock cmpxchg16b` (Cranelift's I128
    /// `atomic_cas`), single-copy atomic like the interpreter's (see `interp::cas16`).
    /// Without cmpxchg16b, in system mode or big-endian, the block stays interpreted.
    fn cmpxchg16(
        &mut self,
        ty: Ty,
        a: Value,
        e: Value,
        n: Value,
        mem: &MemOp,
    ) -> Result<Value, JitError> {
        if ty != Ty::I128
            || mem.big_endian
            || self.lenv.softmmu.is_some()
            || !crate::interp::host_has_cas16()
        {
            return Err(err(format!("16-byte cmpxchg on {ty} not compiled")));
        }
        let host = self.guest_addr(a, 16, true, FaultKind::Write);
        let flags = self.guest_flags();
        Ok(self.b.ins().atomic_cas(flags, host, e, n))
    }

    /// The host compare-and-swap of a checked guest cmpxchg at host address `host`.
    #[allow(clippy::too_many_arguments)]
    fn cmpxchg_host(
        &mut self,
        ty: Ty,
        mty: Type,
        host: Value,
        e: Value,
        n: Value,
        flags: MemFlagsData,
        mem: &MemOp,
    ) -> Value {
        let cty = clif_ty(ty);
        let mut ev = self.resize(e, cty, mty, false);
        let mut nv = self.resize(n, cty, mty, false);
        if mem.big_endian {
            ev = self.bswap(ev, mty);
            nv = self.bswap(nv, mty);
        }
        let old = self.b.ins().atomic_cas(flags, host, ev, nv);
        let old = if mem.big_endian {
            self.bswap(old, mty)
        } else {
            old
        };
        self.resize(old, mty, cty, mem.signed)
    }

    fn call(
        &mut self,
        helper: &'static Helper,
        args: &[Temp],
        dst: Option<Temp>,
    ) -> Result<(), JitError> {
        let n = args.len();
        helper.check_arity(n).map_err(err)?;
        let sig = match self.helper_sigs[n] {
            Some(s) => s,
            None => {
                let mut sig = Signature::new(CallConv::SystemV);
                for _ in 0..=n {
                    sig.params.push(AbiParam::new(types::I64));
                }
                sig.returns.push(AbiParam::new(types::I64));
                let s = self.b.import_signature(sig);
                self.helper_sigs[n] = Some(s);
                s
            }
        };
        let mut vals = Vec::with_capacity(n + 1);
        vals.push(self.env);
        for &t in args {
            let ty = self.temp_ty(t)?;
            let v = self.get(t, ty)?;
            let v = match ty {
                Ty::I64 => v,
                Ty::I8 | Ty::I16 | Ty::I32 => self.b.ins().uextend(types::I64, v),
                Ty::F64 => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
                Ty::F32 => {
                    let i = self.b.ins().bitcast(types::I32, MemFlagsData::new(), v);
                    self.b.ins().uextend(types::I64, i)
                }
                Ty::I128 | Ty::V128 => {
                    return Err(err(format!("helper argument t{} is {ty}", t.0)));
                }
            };
            vals.push(v);
        }
        let f = self.i64c(helper.func as u64);
        let call = self.b.ins().call_indirect(sig, f, &vals);
        let r = self.b.inst_results(call)[0];
        if helper.effects.writes_globals {
            self.gcache.clear();
            for (st, g) in self.stale.iter_mut().zip(&self.gvars) {
                *st = g.read;
            }
        }
        if let Some(d) = dst {
            self.check_dst(d, Ty::I64)?;
            self.set(d, r)?;
        }
        if helper.effects.may_raise {
            let st = self.load_env(types::I32, ho::PENDING_STATUS);
            let rb = self.raise_block();
            let pc = self.i64c(self.cur_pc);
            let cont = self.b.create_block();
            self.b.ins().brif(
                st,
                rb,
                &[BlockArg::Value(pc), BlockArg::Value(st)],
                cont,
                &[],
            );
            self.b.seal_block(cont);
            self.b.switch_to_block(cont);
        }
        Ok(())
    }
}

#[cfg(test)]
mod stretch_tests {
    use super::first_used_in_stretch;
    use crate::ir::{Block, Label, Op, Temp, Ty};

    fn get(off: u32) -> Op {
        Op::GetGlobal {
            dst: Temp(0),
            ty: Ty::I64,
            offset: off,
        }
    }
    fn set(off: u32) -> Op {
        Op::SetGlobal {
            offset: off,
            ty: Ty::I64,
            src: Temp(0),
        }
    }

    #[test]
    fn only_globals_first_used_before_control_flow_load_late() {
        let blk = Block {
            pc: 0x1000,
            temps: vec![Ty::I64],
            num_labels: 1,
            ops: vec![
                get(8),
                set(16),
                get(16),
                Op::BrCond {
                    cond: Temp(0),
                    label: Label(0),
                },
                get(24),
                Op::Label { label: Label(0) },
                set(32),
                Op::GotoBlock { pc: 0x1000 },
            ],
            ..Block::default()
        };
        assert_eq!(first_used_in_stretch(&blk, false), vec![8, 16]);
        // In a self loop only the written-first ones: read-first stay in registers.
        assert_eq!(first_used_in_stretch(&blk, true), vec![16]);
    }
}
