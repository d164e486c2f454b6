//! The quick tier: translates an IR block straight into x86-64 machine code in one pass,
//! with no optimiser and no register allocator, for system mode (softmmu) blocks. It costs
//! a few microseconds per block where Cranelift costs tens, so blocks leave the interpreter
//! after a few runs instead of waiting for the compile thread; the code is slower than
//! Cranelift's, which is why hot blocks are still compiled by Cranelift later (the engine
//! decides).
//!
//! Code shape: a frame `push rbp; mov rbp, rsp; push rbx`, env in rbx, and one 8-byte
//! stack slot per temporary at `[rbp - 16 - 8 * t]`, holding its value zero-extended to 64
//! bits (the interpreter's representation). Every op loads its operands into scratch
//! registers, computes, and stores its result; nothing stays in a register between ops
//! except the last result, still in rax when the next op reads it first. Constants defined
//! once in the straight-line prefix are used as immediates and never stored. Helper calls
//! need no spilling (nothing lives in caller-saved registers). Block protocol, exits,
//! chaining sites, the jump-table lookup and the softmmu hit path are those of the
//! Cranelift lowering (see `super` and `softmmu.rs`), so quick and Cranelift blocks chain
//! into each other. Operations that are rare in system code (division, float arithmetic,
//! conversions, bit counts, narrow shifts, atomics) call the interpreter's arithmetic or the
//! softmmu slow path, which makes them exact by construction. Blocks with 128-bit values are
//! not compiled here ([`JitError::Codegen`]: the caller uses Cranelift). A goto to the
//! block's own start is an ordinary chainable exit (no in-block self loop: hot loops are
//! Cranelift's once promoted).

use super::lower::{LowerEnv, fma_bits, mem_code, slow_cmpxchg, slow_load, slow_rmw, slow_store};
use super::x64::{
    Alu, Asm, AsmLabel, Cc, R8, R9, RAX, RBP, RBX, RCX, RDI, RDX, RSI, RSP, Reg, Shift, W,
};
use super::{CompiledObject, JitError};
use crate::header_offsets as ho;
use crate::interp::{arith, def_of, for_each_use, read_before_written};
use crate::ir::{
    BinOp, Block, Cond, ConvOp, ExitStatus, FCond, FenceKind, Helper, MemOp, Op, RmwOp, Temp, Ty,
    UnOp,
};
use crate::softmmu::{
    ENTRY_SHIFT, MAX_MMU_IDX, PAGE_BITS, PAGE_MASK, TLB_ENTRIES, TLB_JIT_HITS_OFFSET, entry_offset,
    entry_offsets,
};

/// Promotion requests the ring holds at most (more are dropped until the engine drains it).
const RING: usize = 63;
/// Entry counters per code buffer generation (blocks compiled after they ran out have none,
/// and stay quick).
const COUNTERS: usize = 1 << 16;

/// The entry counters of a Jit's quick blocks and the ring through which a block whose
/// counter ran out asks the engine to compile it with Cranelift. One allocation of u32
/// words: `[0]` ring length, `[1..=RING]` counter indices, `[RING + 1..]` counters. JIT
/// code of the owning Jit's thread writes it; the engine reads it between JIT runs.
pub(crate) struct Promotions {
    mem: *mut [u32],
    next: usize,
}

// SAFETY: the allocation is owned; it moves with the Jit to another thread.
unsafe impl Send for Promotions {}

impl Promotions {
    pub fn new() -> Promotions {
        let mem = Box::into_raw(vec![0u32; RING + 1 + COUNTERS].into_boxed_slice());
        Promotions { mem, next: 0 }
    }
    fn word(&self, i: usize) -> *mut u32 {
        debug_assert!(i < RING + 1 + COUNTERS);
        (self.mem as *mut u32).wrapping_add(i)
    }
    /// A fresh counter set to `n`: its index and address. None when all are taken.
    fn alloc(&mut self, n: u32) -> Option<(u32, u64)> {
        if self.next >= COUNTERS {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let w = self.word(RING + 1 + i);
        // SAFETY: inside our allocation; no JIT code uses a counter before it is handed out.
        unsafe { w.write_volatile(n) };
        Some((i as u32, w as u64))
    }
    /// Whether a block asked for promotion since the last [`Promotions::take`].
    pub fn pending(&self) -> bool {
        // SAFETY: word 0 of our allocation; JIT code of this thread is not running.
        unsafe { self.word(0).read_volatile() != 0 }
    }
    /// The counter indices of the blocks that asked, emptying the ring.
    pub fn take(&mut self) -> Vec<u32> {
        // SAFETY: words of our allocation; JIT code of this thread is not running.
        unsafe {
            let n = (self.word(0).read_volatile() as usize).min(RING);
            let v = (0..n).map(|k| self.word(1 + k).read_volatile()).collect();
            self.word(0).write_volatile(0);
            v
        }
    }
    /// Forget every counter (the code that used them was flushed).
    pub fn reset(&mut self) {
        self.next = 0;
        // SAFETY: word 0 of our allocation; no JIT code runs during a flush.
        unsafe { self.word(0).write_volatile(0) };
    }
}

impl Drop for Promotions {
    fn drop(&mut self) {
        // SAFETY: made by Box::into_raw in `new`; the owning Jit's code no longer runs.
        drop(unsafe { Box::from_raw(self.mem) });
    }
}

/// A quick block's entry counter: (its index, counter address, ring address).
#[derive(Clone, Copy)]
pub(crate) struct Counter {
    pub idx: u32,
    addr: u64,
    ring: u64,
}

impl Promotions {
    /// A counter for a new block that asks for promotion on its `n`-th run.
    pub fn counter(&mut self, n: u32) -> Option<Counter> {
        let ring = self.word(0) as u64;
        self.alloc(n.max(1))
            .map(|(idx, addr)| Counter { idx, addr, ring })
    }
}

fn err(msg: impl Into<String>) -> JitError {
    JitError::Codegen(msg.into())
}

/// Value types by their code in a [`quick_conv`] call (ops use their `ALL` index).
const TYS: [Ty; 6] = [Ty::I8, Ty::I16, Ty::I32, Ty::I64, Ty::F32, Ty::F64];

fn code_of<T: PartialEq>(table: &[T], x: T) -> u64 {
    table.iter().position(|y| *y == x).unwrap_or(0) as u64
}

extern "C" fn quick_bin(op: u64, bits: u64, a: u64, b: u64) -> u64 {
    arith::bin(
        BinOp::ALL[op as usize % BinOp::ALL.len()],
        bits as u32,
        a,
        b,
    )
}
extern "C" fn quick_un(op: u64, bits: u64, a: u64) -> u64 {
    arith::un(UnOp::ALL[op as usize % UnOp::ALL.len()], bits as u32, a)
}
extern "C" fn quick_fcmp(cond: u64, bits: u64, a: u64, b: u64) -> u64 {
    arith::fcmp(
        FCond::ALL[cond as usize % FCond::ALL.len()],
        bits as u32,
        a,
        b,
    ) as u64
}
/// `code` = op | from << 8 | to << 16 (indices into ConvOp::ALL and TYS).
extern "C" fn quick_conv(code: u64, v: u64) -> u64 {
    let op = ConvOp::ALL[(code & 0xff) as usize % ConvOp::ALL.len()];
    let from = TYS[(code >> 8 & 0xff) as usize % TYS.len()];
    let to = TYS[(code >> 16 & 0xff) as usize % TYS.len()];
    arith::conv(op, from, to, v as u128) as u64
}

/// Integer register arguments of the SysV ABI, after env.
const ARG_REGS: [Reg; 6] = [RDI, RSI, RDX, RCX, R8, R9];

/// Offset of temporary `t`'s slot from rbp.
fn slot(t: Temp) -> i32 {
    -16 - 8 * t.0 as i32
}

fn width(ty: Ty) -> W {
    if ty.bits() <= 32 { W::D } else { W::Q }
}

fn int_cc(c: Cond) -> Cc {
    match c {
        Cond::Eq => Cc::E,
        Cond::Ne => Cc::Ne,
        Cond::LtS => Cc::L,
        Cond::LeS => Cc::Le,
        Cond::GtS => Cc::G,
        Cond::GeS => Cc::Ge,
        Cond::LtU => Cc::B,
        Cond::LeU => Cc::Be,
        Cond::GtU => Cc::A,
        Cond::GeU => Cc::Ae,
    }
}

/// A cold path emitted after the block's last op.
enum Cold {
    /// Interrupted at entry.
    Interrupt { at: AsmLabel },
    /// The entry counter ran out: post the counter index to the ring, continue at `back`.
    Promote {
        at: AsmLabel,
        back: AsmLabel,
        counter: Counter,
    },
    /// A helper raised: status in ecx.
    Raise { at: AsmLabel, pc: u64 },
    /// A TLB miss: call `helper(env, pc, addr, [val,] code)`, extend the result as `ext`
    /// says (loads), store it to `dst`, and continue at `back`.
    Slow {
        at: AsmLabel,
        back: AsmLabel,
        pc: u64,
        helper: usize,
        addr: Temp,
        val: Option<Temp>,
        code: u64,
        load: Option<(Temp, Ty, MemOp)>,
    },
}

struct Quick<'a> {
    a: Asm,
    blk: &'a Block,
    lenv: &'a LowerEnv,
    labels: Vec<AsmLabel>,
    cur_pc: u64,
    /// Per temporary: its constant value, when it is used as an immediate instead.
    consts: Vec<Option<u64>>,
    /// Per temporary: the global (offset, type) it is a copy of, read from the CPU state
    /// at each use (its GetGlobal emits nothing).
    globals: Vec<Option<(u32, Ty)>>,
    /// Per temporary: reads of it.
    uses: Vec<u32>,
    /// Per temporary: read anywhere.
    used: Vec<bool>,
    /// The temporary whose value rax holds when the current op starts, if any.
    rax_holds: Option<Temp>,
    /// Code position where the current op started.
    op_start: usize,
    /// The current op reads its operands only once, here (loads and stores read theirs
    /// again from the slots in their cold slow paths): a store of an operand that the op
    /// takes from rax can be left out.
    may_elide: bool,
    /// (temporary, code positions of the start and the end of storing it from rax) of
    /// the last store.
    last_put: Option<(Temp, usize, usize)>,
    cold: Vec<Cold>,
    exits: Vec<u64>,
    sites: Vec<(u32, u32)>,
}

/// Compile `blk` for system mode. Err: the block uses something this tier does not do.
pub(crate) fn compile(
    blk: &Block,
    lenv: &LowerEnv,
    counter: Option<Counter>,
) -> Result<CompiledObject, JitError> {
    if lenv.softmmu.is_none() {
        return Err(err("the quick tier needs the softmmu"));
    }
    if let Some(t) = blk.temps.iter().find(|t| matches!(t, Ty::I128 | Ty::V128)) {
        return Err(err(format!("quick tier: {t} values")));
    }
    let n = blk.temps.len();
    let zero = read_before_written(blk);
    let mut uses = vec![0u32; n];
    let mut last_use = vec![0usize; n];
    let mut defs = vec![0u32; n];
    let mut consts: Vec<Option<u64>> = vec![None; n];
    // Temporaries that are a straight-prefix GetGlobal (index of the op, offset, type).
    let mut global_def: Vec<Option<(usize, u32, Ty)>> = vec![None; n];
    let mut straight = true;
    let mut label_at = vec![usize::MAX; blk.num_labels as usize];
    let mut backward = false;
    for (k, op) in blk.ops.iter().enumerate() {
        for_each_use(op, |t| {
            if let Some(u) = uses.get_mut(t.0 as usize) {
                *u += 1;
                last_use[t.0 as usize] = k;
            }
        });
        match *op {
            Op::Label { label } => {
                if let Some(at) = label_at.get_mut(label.0 as usize) {
                    *at = k;
                }
            }
            Op::Br { label } | Op::BrCond { label, .. } => {
                backward |= label_at.get(label.0 as usize).is_some_and(|&at| at < k);
            }
            _ => {}
        }
        if let Some(t) = def_of(op) {
            let i = t.0 as usize;
            if i >= n {
                return Err(err(format!("t{i} out of range")));
            }
            defs[i] += 1;
            if let Op::Const { ty, value, .. } = *op
                && straight
                && defs[i] == 1
                && !zero[i]
            {
                consts[i] = Some(value & arith::mask(ty.bits()));
            } else {
                consts[i] = None;
            }
            global_def[i] = match *op {
                Op::GetGlobal { ty, offset, .. } if straight && defs[i] == 1 && !zero[i] => {
                    Some((k, offset, ty))
                }
                _ => None,
            };
        }
        if matches!(op, Op::Label { .. } | Op::Br { .. } | Op::BrCond { .. }) {
            straight = false;
        }
    }
    for i in 0..n {
        if defs[i] != 1 {
            consts[i] = None;
            global_def[i] = None;
        }
    }
    // A straight-prefix GetGlobal with a single reader, and nothing between them that may
    // change the CPU state (a store to those bytes, a memory access: MMIO devices and
    // fault paths touch it; a helper call; a fence; a backward branch), is read from the
    // CPU state at its use instead of through a slot: the one read just happens later.
    // (Two reads could see two values of a global that another thread updates.) Every
    // read of a temporary goes through `Quick::get`, which knows.
    let mut globals: Vec<Option<(u32, Ty)>> = vec![None; n];
    for i in 0..n {
        let Some((d, off, ty)) = global_def[i] else {
            continue;
        };
        let end = off + ty.bytes();
        let clobbered = backward
            || blk.ops[d + 1..=last_use[i].max(d)]
                .iter()
                .any(|op| match *op {
                    Op::SetGlobal { offset, ty, .. } => offset < end && off < offset + ty.bytes(),
                    Op::Load { .. }
                    | Op::Store { .. }
                    | Op::AtomicRmw { .. }
                    | Op::Cmpxchg { .. }
                    | Op::Call { .. }
                    | Op::Fence { .. } => true,
                    _ => false,
                });
        if !clobbered && uses[i] == 1 {
            globals[i] = Some((off, ty));
        }
    }
    let used: Vec<bool> = uses.iter().map(|&u| u != 0).collect();
    let mut q = Quick {
        a: Asm::new(),
        blk,
        lenv,
        labels: Vec::new(),
        cur_pc: blk.pc,
        consts,
        globals,
        uses,
        used,
        rax_holds: None,
        op_start: 0,
        may_elide: false,
        last_put: None,
        cold: Vec::new(),
        exits: Vec::new(),
        sites: Vec::new(),
    };
    q.labels = (0..blk.num_labels).map(|_| q.a.new_label()).collect();
    q.prologue(&zero, counter);
    let mut reachable = true;
    // A BrCond already emitted with the SetCond before it (see `Quick::fused_branch`).
    let mut skip_branch = None;
    for (k, op) in blk.ops.iter().enumerate() {
        if skip_branch == Some(k) {
            continue;
        }
        match *op {
            Op::InsnStart { pc } => q.cur_pc = pc,
            Op::Label { label } => {
                let l = *q
                    .labels
                    .get(label.0 as usize)
                    .ok_or_else(|| err(format!("label L{} out of range", label.0)))?;
                q.a.bind(l);
                q.rax_holds = None;
                q.last_put = None;
                reachable = true;
            }
            _ if !reachable => {}
            _ => {
                q.op_start = q.a.pos();
                q.may_elide = !matches!(op, Op::Load { .. } | Op::Store { .. });
                if let Some((at, label)) = q.fused_branch(k) {
                    q.setcond_branch(op, label)?;
                    skip_branch = Some(at);
                } else {
                    q.op(op)?;
                }
                q.rax_holds = match q.last_put {
                    Some((t, _, end)) if end == q.a.pos() => Some(t),
                    _ => None,
                };
                if op.is_terminator() {
                    reachable = false;
                }
            }
        }
    }
    if reachable {
        return Err(err("block does not end with an exit"));
    }
    q.emit_cold()?;
    let Quick {
        a, exits, sites, ..
    } = q;
    let code = a
        .finish()
        .ok_or_else(|| err("label used but never placed"))?;
    let insns_end = code.len();
    Ok(CompiledObject {
        code,
        sites,
        exits,
        mem_traps: Vec::new(),
        insns_end,
        pc: blk.pc,
        optimized: false,
        quick: true,
    })
}

impl Quick<'_> {
    fn prologue(&mut self, zero: &[bool], counter: Option<Counter>) {
        let n = self.blk.temps.len() as i32;
        // After `push rbp; push rbx` rsp is 8 below a 16-byte boundary: the frame below
        // must be 8 mod 16 bytes for calls to see an aligned stack.
        let frame = if (8 * n) % 16 == 8 { 8 * n } else { 8 * n + 8 };
        self.a.push(RBP);
        self.a.mov_rr(W::Q, RBP, RSP);
        self.a.push(RBX);
        self.a.alu_ri(Alu::Sub, W::Q, RSP, frame);
        self.a.mov_rr(W::Q, RBX, RDI);
        if self.lenv.count_blocks {
            self.a
                .alu_mi8(Alu::Add, W::Q, RBX, ho::BLOCK_ENTRIES as i32, 1);
        }
        let at = self.a.new_label();
        self.a
            .alu_mi8(Alu::Cmp, W::D, RBX, ho::EXIT_REQUEST as i32, 0);
        self.a.jcc(Cc::Ne, at);
        self.cold.push(Cold::Interrupt { at });
        if let Some(c) = counter {
            self.a.mov_ri(RAX, c.addr);
            self.a.alu_mi8(Alu::Sub, W::D, RAX, 0, 1);
            let at = self.a.new_label();
            let back = self.a.new_label();
            self.a.jcc(Cc::E, at);
            self.a.bind(back);
            self.cold.push(Cold::Promote {
                at,
                back,
                counter: c,
            });
        }
        let zeroed: Vec<Temp> = (0..zero.len())
            .filter(|&i| zero[i] && self.used[i])
            .map(|i| Temp(i as u32))
            .collect();
        if !zeroed.is_empty() {
            self.a.mov_ri(RAX, 0);
            for t in zeroed {
                self.a.store(8, RBP, slot(t), RAX);
            }
        }
    }

    /// Leave the frame (rbx restored) and return eax to the engine.
    fn ret(&mut self) {
        self.a.load(8, RBX, RBP, -8);
        self.a.leave();
        self.a.ret();
    }

    /// reg = value of `t`.
    fn get(&mut self, reg: Reg, t: Temp) {
        if let Some(v) = self.consts[t.0 as usize] {
            self.a.mov_ri(reg, v);
        } else if let Some((off, ty)) = self.globals[t.0 as usize] {
            self.a.load(ty.bytes(), reg, RBX, off as i32);
        } else if self.rax_holds == Some(t) && self.a.pos() == self.op_start {
            // The previous op left it in rax, and nothing of this op has run yet. Its only
            // reader is this op: the store to its slot (the last thing emitted, and no
            // label is placed inside it) is not needed.
            if self.uses[t.0 as usize] == 1
                && self.may_elide
                && let Some((_, start, end)) = self.last_put
                && end == self.op_start
                && self.a.last_bind() <= start
            {
                self.a.code.truncate(start);
                self.op_start = start;
            }
            if reg != RAX {
                self.a.mov_rr(W::Q, reg, RAX);
            }
        } else {
            self.a.load(8, reg, RBP, slot(t));
        }
    }

    /// t = reg (its value already zero-extended to t's type).
    fn put(&mut self, t: Temp, reg: Reg) {
        if !self.used[t.0 as usize] {
            return;
        }
        let start = self.a.pos();
        self.a.store(8, RBP, slot(t), reg);
        if reg == RAX {
            self.last_put = Some((t, start, self.a.pos()));
        }
    }

    fn temp_ty(&self, t: Temp) -> Result<Ty, JitError> {
        self.blk
            .temps
            .get(t.0 as usize)
            .copied()
            .ok_or_else(|| err(format!("t{} out of range", t.0)))
    }

    /// Call `f` with the values of `args` in the SysV argument registers (at most 6);
    /// the result is in rax.
    fn call_with(&mut self, f: usize, first: &[u64], args: &[Temp]) {
        for (k, &v) in first.iter().enumerate() {
            self.a.mov_ri(ARG_REGS[k], v);
        }
        for (k, &t) in args.iter().enumerate() {
            self.get(ARG_REGS[first.len() + k], t);
        }
        self.a.mov_ri(RAX, f as u64);
        self.a.call_r(RAX);
    }

    /// rax = interpreter arithmetic `f(code, bits, args...)`, truncated to `ty`; then dst.
    fn arith_call(&mut self, f: usize, code: u64, ty: Ty, args: &[Temp], dst: Temp) {
        self.call_with(f, &[code, ty.bits() as u64], args);
        self.put(dst, RAX);
    }

    fn op(&mut self, op: &Op) -> Result<(), JitError> {
        match *op {
            Op::InsnStart { .. } | Op::Label { .. } => unreachable!("handled by the caller"),
            Op::Const { dst, ty, value } => {
                if self.consts[dst.0 as usize].is_none() {
                    self.a.mov_ri(RAX, value & arith::mask(ty.bits()));
                    self.put(dst, RAX);
                }
            }
            Op::Mov { dst, src } => {
                self.get(RAX, src);
                self.put(dst, RAX);
            }
            Op::GetGlobal { dst, ty, offset } => {
                if self.globals[dst.0 as usize].is_none() {
                    self.a.load(ty.bytes(), RAX, RBX, disp(offset)?);
                    self.put(dst, RAX);
                }
            }
            Op::SetGlobal { offset, ty, src } => {
                self.get(RAX, src);
                self.a.store(ty.bytes(), RBX, disp(offset)?, RAX);
            }
            Op::Bin { op, ty, dst, a, b } => self.bin(op, ty, dst, a, b)?,
            Op::Un { op, ty, dst, a } => match (op, ty.is_int()) {
                (UnOp::Not, true) => {
                    self.get(RAX, a);
                    self.a.not(width(ty), RAX);
                    self.a.zext(ty.bytes(), RAX);
                    self.put(dst, RAX);
                }
                (UnOp::Neg, true) => {
                    self.get(RAX, a);
                    self.a.neg(width(ty), RAX);
                    self.a.zext(ty.bytes(), RAX);
                    self.put(dst, RAX);
                }
                _ => self.arith_call(
                    quick_un as *const () as usize,
                    code_of(&UnOp::ALL, op),
                    ty,
                    &[a],
                    dst,
                ),
            },
            Op::Ext {
                dst,
                to,
                src,
                from,
                signed,
            } => {
                if !to.is_int() || !from.is_int() {
                    return Err(err("quick tier: float Ext"));
                }
                self.get(RAX, src);
                if signed {
                    self.a.sext(from.bytes(), RAX);
                }
                self.a.zext(to.bytes(), RAX);
                self.put(dst, RAX);
            }
            Op::Extract {
                dst,
                ty,
                src,
                pos,
                len,
                signed,
            } => {
                let (pos, len) = (pos as u32, len as u32);
                if len == 0 || pos + len > 64 || !ty.is_int() {
                    return Err(err("quick tier: unusual extract"));
                }
                self.get(RAX, src);
                let up = 64 - pos - len;
                if up != 0 {
                    self.a.shift_ri(Shift::Shl, W::Q, RAX, up as u8);
                }
                if len != 64 {
                    let k = if signed { Shift::Sar } else { Shift::Shr };
                    self.a.shift_ri(k, W::Q, RAX, (64 - len) as u8);
                }
                self.a.zext(ty.bytes(), RAX);
                self.put(dst, RAX);
            }
            Op::Deposit {
                dst,
                ty,
                base,
                val,
                pos,
                len,
            } => {
                let (pos, len) = (pos as u32, len as u32);
                if len == 0 || pos + len > 64 || !ty.is_int() {
                    return Err(err("quick tier: unusual deposit"));
                }
                let field = arith::mask(len) << pos;
                self.get(RAX, base);
                self.get(RCX, val);
                if pos != 0 {
                    self.a.shift_ri(Shift::Shl, W::Q, RCX, pos as u8);
                }
                self.a.mov_ri(RDX, field);
                self.a.alu_rr(Alu::And, W::Q, RCX, RDX);
                self.a.not(W::Q, RDX);
                self.a.alu_rr(Alu::And, W::Q, RAX, RDX);
                self.a.alu_rr(Alu::Or, W::Q, RAX, RCX);
                self.a.zext(ty.bytes(), RAX);
                self.put(dst, RAX);
            }
            Op::SetCond {
                cond,
                ty,
                dst,
                a,
                b,
            } => {
                if !ty.is_int() {
                    return Err(err("quick tier: float setcond"));
                }
                self.compare(ty, a, b);
                self.a.setcc(int_cc(cond), RAX);
                self.put(dst, RAX);
            }
            Op::FCmp {
                cond,
                ty,
                dst,
                a,
                b,
            } => {
                // The result is 0 or 1 whatever the operands' type.
                self.arith_call(
                    quick_fcmp as *const () as usize,
                    code_of(&FCond::ALL, cond),
                    ty,
                    &[a, b],
                    dst,
                );
            }
            Op::Select {
                ty: _,
                dst,
                cond,
                a,
                b,
            } => {
                self.get(RAX, a);
                self.get(RCX, b);
                self.get(RDX, cond);
                self.a.test_rr(W::Q, RDX, RDX);
                self.a.cmov(Cc::E, W::Q, RAX, RCX);
                self.put(dst, RAX);
            }
            Op::Conv {
                op,
                dst,
                to,
                src,
                from,
            } => {
                if op == ConvOp::Bitcast && from.bits() == to.bits() {
                    self.get(RAX, src);
                    self.put(dst, RAX);
                } else {
                    let code = code_of(&ConvOp::ALL, op)
                        | code_of(&TYS, from) << 8
                        | code_of(&TYS, to) << 16;
                    self.call_with(quick_conv as *const () as usize, &[code], &[src]);
                    self.put(dst, RAX);
                }
            }
            Op::FMa { ty, dst, a, b, c } => {
                self.call_with(
                    fma_bits as *const () as usize,
                    &[ty.bits() as u64],
                    &[a, b, c],
                );
                self.put(dst, RAX);
            }
            Op::Load { dst, ty, addr, mem } => self.load(dst, ty, addr, mem)?,
            Op::Store { ty, val, addr, mem } => self.store(ty, val, addr, mem)?,
            Op::AtomicRmw {
                op,
                ty,
                dst,
                addr,
                val,
                mem,
            } => {
                let code = self.mem_code(&mem, Some(op))?;
                self.slow_access(slow_rmw as *const () as usize, addr, &[val], code);
                self.extend_loaded(ty, &mem);
                self.put(dst, RAX);
            }
            Op::Cmpxchg {
                ty,
                dst,
                addr,
                expected,
                new,
                mem,
            } => {
                let code = self.mem_code(&mem, None)?;
                self.slow_access(
                    slow_cmpxchg as *const () as usize,
                    addr,
                    &[expected, new],
                    code,
                );
                self.extend_loaded(ty, &mem);
                self.put(dst, RAX);
            }
            Op::Fence { kind } => {
                if kind == FenceKind::SeqCst {
                    self.a.mfence();
                }
            }
            Op::Call {
                helper,
                ref args,
                dst,
            } => self.call(helper, args, dst)?,
            Op::Br { label } => {
                let l = self.label(label.0)?;
                self.a.jmp(l);
            }
            Op::BrCond { cond, label } => {
                let l = self.label(label.0)?;
                if let Some(v) = self.consts[cond.0 as usize] {
                    if v != 0 {
                        self.a.jmp(l);
                    }
                } else {
                    // Through `get`: the value may be in rax already, or be a global.
                    self.get(RAX, cond);
                    self.a.test_rr(W::Q, RAX, RAX);
                    self.a.jcc(Cc::Ne, l);
                }
            }
            Op::GotoBlock { pc } => {
                let idx = u32::try_from(self.exits.len()).map_err(|_| err("too many exits"))?;
                self.exits.push(pc);
                self.a.mov_rr(W::Q, RDI, RBX);
                self.a.load(8, RBX, RBP, -8);
                self.a.leave();
                let site = self.a.jmp_site();
                self.sites.push((site as u32, idx));
            }
            Op::ExitIndirect { pc } => {
                self.get(RAX, pc);
                self.a.store(8, RBX, ho::PC as i32, RAX);
                self.a.store_imm64(RBX, ho::LAST_EXIT_SLOT as i32, 0);
                // The Cranelift lowering's inline jump-table lookup.
                self.a.mov_rr(W::Q, RCX, RAX);
                self.a.shift_ri(Shift::Shr, W::Q, RCX, 1);
                self.a
                    .alu_ri(Alu::And, W::D, RCX, (super::JUMP_TABLE_SIZE - 1) as i32);
                self.a.shift_ri(Shift::Shl, W::Q, RCX, 4);
                self.a
                    .alu_rm(Alu::Add, W::Q, RCX, RBX, ho::JUMP_TABLE as i32);
                self.a.alu_rm(Alu::Cmp, W::Q, RAX, RCX, 0);
                let miss = self.a.new_label();
                self.a.jcc(Cc::Ne, miss);
                self.a.load(8, RAX, RCX, 8);
                self.a.mov_rr(W::Q, RDI, RBX);
                self.a.load(8, RBX, RBP, -8);
                self.a.leave();
                self.a.jmp_r(RAX);
                // Miss: ask the engine's lookup (system mode), else return Next.
                self.a.bind(miss);
                let next = self.a.new_label();
                self.a.load(8, RAX, RBX, ho::INDIRECT_LOOKUP as i32);
                self.a.test_rr(W::Q, RAX, RAX);
                self.a.jcc(Cc::E, next);
                self.a.mov_rr(W::Q, RDI, RBX);
                self.a.load(8, RSI, RBX, ho::PC as i32);
                self.a.call_r(RAX);
                self.a.test_rr(W::Q, RAX, RAX);
                self.a.jcc(Cc::E, next);
                self.a.mov_rr(W::Q, RDI, RBX);
                self.a.load(8, RBX, RBP, -8);
                self.a.leave();
                self.a.jmp_r(RAX);
                self.a.bind(next);
                self.a.mov_ri(RAX, ExitStatus::Next as u64);
                self.ret();
            }
            Op::Exit { status, pc } => {
                self.get(RAX, pc);
                self.a.store(8, RBX, ho::PC as i32, RAX);
                self.a.store_imm64(RBX, ho::LAST_EXIT_SLOT as i32, 0);
                self.a.mov_ri(RAX, status as u64);
                self.ret();
            }
        }
        Ok(())
    }

    /// When op `k` is a SetCond whose only reader is a BrCond right after it (guest
    /// instruction boundaries aside): that BrCond's index and label, to emit both as one
    /// compare and conditional jump.
    fn fused_branch(&self, k: usize) -> Option<(usize, crate::ir::Label)> {
        let Op::SetCond { dst, ty, .. } = self.blk.ops[k] else {
            return None;
        };
        if !ty.is_int() || self.uses[dst.0 as usize] != 1 {
            return None;
        }
        let (at, next) = self.blk.ops[k + 1..]
            .iter()
            .enumerate()
            .find(|(_, op)| !matches!(op, Op::InsnStart { .. }))?;
        match *next {
            Op::BrCond { cond, label } if cond == dst => Some((k + 1 + at, label)),
            _ => None,
        }
    }

    /// A SetCond and the BrCond on its result as `cmp; jcc` (the 0/1 is never made).
    fn setcond_branch(&mut self, op: &Op, label: crate::ir::Label) -> Result<(), JitError> {
        let Op::SetCond { cond, ty, a, b, .. } = *op else {
            return Err(err("fused branch without a SetCond"));
        };
        let l = self.label(label.0)?;
        self.compare(ty, a, b);
        self.a.jcc(int_cc(cond), l);
        Ok(())
    }

    /// Compare `a` with `b` as integers of `ty` (flags set as for `cmp a, b`).
    fn compare(&mut self, ty: Ty, a: Temp, b: Temp) {
        self.get(RAX, a);
        self.get(RCX, b);
        let w = if ty.bits() < 32 {
            // Sign-extended narrow values compare like the values themselves, signed or
            // unsigned.
            self.a.sext(ty.bytes(), RAX);
            self.a.sext(ty.bytes(), RCX);
            W::Q
        } else {
            width(ty)
        };
        self.a.alu_rr(Alu::Cmp, w, RAX, RCX);
    }

    fn label(&self, idx: u32) -> Result<AsmLabel, JitError> {
        self.labels
            .get(idx as usize)
            .copied()
            .ok_or_else(|| err(format!("label L{idx} out of range")))
    }

    fn bin(&mut self, op: BinOp, ty: Ty, dst: Temp, a: Temp, b: Temp) -> Result<(), JitError> {
        let bits = ty.bits();
        if !ty.is_int() {
            self.arith_call(
                quick_bin as *const () as usize,
                code_of(&BinOp::ALL, op),
                ty,
                &[a, b],
                dst,
            );
            return Ok(());
        }
        let w = width(ty);
        let narrow = bits < 32;
        let simple = match op {
            BinOp::Add => Some(Alu::Add),
            BinOp::Sub => Some(Alu::Sub),
            BinOp::And => Some(Alu::And),
            BinOp::Or => Some(Alu::Or),
            BinOp::Xor => Some(Alu::Xor),
            _ => None,
        };
        if let Some(alu) = simple {
            self.get(RAX, a);
            match self.consts[b.0 as usize] {
                Some(v)
                    if i32::try_from(v as i64).is_ok() && (w == W::Q || v <= i32::MAX as u64) =>
                {
                    self.a.alu_ri(alu, w, RAX, v as i64 as i32);
                }
                Some(_) => {
                    self.get(RCX, b);
                    self.a.alu_rr(alu, w, RAX, RCX);
                }
                None => match self.globals[b.0 as usize] {
                    // A global of the op's width is a memory operand as it is.
                    Some((off, gty)) if gty.bytes() == if w == W::Q { 8 } else { 4 } => {
                        self.a.alu_rm(alu, w, RAX, RBX, off as i32)
                    }
                    Some(_) => {
                        self.get(RCX, b);
                        self.a.alu_rr(alu, w, RAX, RCX);
                    }
                    None => self.a.alu_rm(alu, w, RAX, RBP, slot(b)),
                },
            }
            if narrow {
                self.a.zext(ty.bytes(), RAX);
            }
            self.put(dst, RAX);
            return Ok(());
        }
        match op {
            BinOp::Mul => {
                self.get(RAX, a);
                self.get(RCX, b);
                self.a.imul_rr(w, RAX, RCX);
                if narrow {
                    self.a.zext(ty.bytes(), RAX);
                }
                self.put(dst, RAX);
            }
            BinOp::MulHS | BinOp::MulHU if bits == 64 => {
                self.get(RAX, a);
                self.get(RCX, b);
                self.a.mul_wide_r(op == BinOp::MulHS, RCX);
                self.a.mov_rr(W::Q, RAX, RDX);
                self.put(dst, RAX);
            }
            BinOp::AndNot | BinOp::OrNot | BinOp::XorNot => {
                self.get(RAX, a);
                self.get(RCX, b);
                match op {
                    BinOp::AndNot => {
                        self.a.not(W::Q, RCX);
                        self.a.alu_rr(Alu::And, W::Q, RAX, RCX);
                    }
                    BinOp::OrNot => {
                        self.a.not(W::Q, RCX);
                        self.a.alu_rr(Alu::Or, W::Q, RAX, RCX);
                    }
                    _ => {
                        self.a.alu_rr(Alu::Xor, W::Q, RAX, RCX);
                        self.a.not(W::Q, RAX);
                    }
                }
                self.a.zext(ty.bytes(), RAX);
                self.put(dst, RAX);
            }
            BinOp::Shl | BinOp::ShrU | BinOp::ShrS | BinOp::Rotl | BinOp::Rotr if !narrow => {
                let k = match op {
                    BinOp::Shl => Shift::Shl,
                    BinOp::ShrU => Shift::Shr,
                    BinOp::ShrS => Shift::Sar,
                    BinOp::Rotl => Shift::Rol,
                    _ => Shift::Ror,
                };
                self.get(RAX, a);
                match self.consts[b.0 as usize] {
                    Some(v) => {
                        let n = (v & (bits as u64 - 1)) as u8;
                        if n != 0 {
                            self.a.shift_ri(k, w, RAX, n);
                        } else if w == W::D {
                            self.a.zext(4, RAX);
                        }
                    }
                    None => {
                        self.get(RCX, b);
                        self.a.shift_cl(k, w, RAX);
                    }
                }
                self.put(dst, RAX);
            }
            BinOp::MinS | BinOp::MinU | BinOp::MaxS | BinOp::MaxU if !narrow => {
                // rax = a; replace by b when b is the answer.
                let cc = match op {
                    BinOp::MinS => Cc::G,
                    BinOp::MinU => Cc::A,
                    BinOp::MaxS => Cc::L,
                    _ => Cc::B,
                };
                self.get(RAX, a);
                self.get(RCX, b);
                self.a.alu_rr(Alu::Cmp, w, RAX, RCX);
                self.a.cmov(cc, W::Q, RAX, RCX);
                self.put(dst, RAX);
            }
            _ => self.arith_call(
                quick_bin as *const () as usize,
                code_of(&BinOp::ALL, op),
                ty,
                &[a, b],
                dst,
            ),
        }
        Ok(())
    }

    fn mem_code(&self, mem: &MemOp, rmw: Option<RmwOp>) -> Result<u64, JitError> {
        if mem.mmu_idx as usize >= MAX_MMU_IDX {
            return Err(err(format!("MMU index {} out of range", mem.mmu_idx)));
        }
        if !matches!(mem.size, 1 | 2 | 4 | 8) {
            return Err(err(format!("quick tier: {}-byte access", mem.size)));
        }
        Ok(mem_code(mem, rmw))
    }

    /// rax = `helper(env, pc, addr, vals..., code)`.
    fn slow_access(&mut self, helper: usize, addr: Temp, vals: &[Temp], code: u64) {
        self.a.mov_rr(W::Q, RDI, RBX);
        self.a.mov_ri(RSI, self.cur_pc);
        self.get(RDX, addr);
        for (k, &v) in vals.iter().enumerate() {
            self.get(ARG_REGS[3 + k], v);
        }
        self.a.mov_ri(ARG_REGS[3 + vals.len()], code);
        self.a.mov_ri(RAX, helper as u64);
        self.a.call_r(RAX);
    }

    /// rax (zero-extended `mem.size` bytes) extended as a load of `mem` into `ty` says.
    fn extend_loaded(&mut self, ty: Ty, mem: &MemOp) {
        let size = mem.size as u32;
        if mem.signed && size < ty.bytes() {
            self.a.sext(size, RAX);
        }
        self.a.zext(ty.bytes().min(8), RAX);
    }

    /// The inline TLB check of an access at the address in rsi: on a hit, rsi becomes the
    /// host address; on a miss, jumps to a new cold label (returned).
    fn tlb_check(&mut self, mem: &MemOp, write: bool) -> Result<AsmLabel, JitError> {
        let sm = self
            .lenv
            .softmmu
            .ok_or_else(|| err("softmmu access without a softmmu"))?;
        let size = mem.size as u64;
        let amask = if mem.aligned { size - 1 } else { 0 };
        let base = sm.tlb_offset as i64 + entry_offset(mem.mmu_idx as usize, 0) as i64;
        let base = i32::try_from(base).map_err(|_| err("TLB too far from env"))?;
        self.a.mov_rr(W::Q, RAX, RSI);
        self.a
            .shift_ri(Shift::Shr, W::Q, RAX, (PAGE_BITS - ENTRY_SHIFT) as u8);
        self.a.alu_ri(
            Alu::And,
            W::D,
            RAX,
            ((TLB_ENTRIES - 1) << ENTRY_SHIFT) as i32,
        );
        self.a.alu_rr(Alu::Add, W::Q, RAX, RBX);
        let last = size - 1 - amask;
        if last != 0 {
            // lea rcx, [rsi + last]
            self.a.mov_rr(W::Q, RCX, RSI);
            self.a.alu_ri(Alu::Add, W::Q, RCX, last as i32);
        } else {
            self.a.mov_rr(W::Q, RCX, RSI);
        }
        self.a
            .alu_ri(Alu::And, W::Q, RCX, (PAGE_MASK | amask) as i64 as i32);
        let field = if write {
            entry_offsets::WRITE
        } else {
            entry_offsets::READ
        };
        self.a.alu_rm(Alu::Cmp, W::Q, RCX, RAX, base + field as i32);
        let slow = self.a.new_label();
        self.a.jcc(Cc::Ne, slow);
        self.a.alu_rm(
            Alu::Add,
            W::Q,
            RSI,
            RAX,
            base + entry_offsets::ADDEND as i32,
        );
        if sm.count_hits {
            let at = sm.tlb_offset as usize + TLB_JIT_HITS_OFFSET;
            let at = i32::try_from(at).map_err(|_| err("TLB too far from env"))?;
            self.a.alu_mi8(Alu::Add, W::Q, RBX, at, 1);
        }
        Ok(slow)
    }

    fn load(&mut self, dst: Temp, ty: Ty, addr: Temp, mem: MemOp) -> Result<(), JitError> {
        let code = self.mem_code(&mem, None)?;
        let have = self.temp_ty(dst)?;
        if have.bits() != ty.bits() {
            return Err(err(format!("t{} is {have}, loaded as {ty}", dst.0)));
        }
        self.get(RSI, addr);
        let slow = self.tlb_check(&mem, false)?;
        let size = mem.size as u32;
        if mem.big_endian {
            self.a.load(size, RAX, RSI, 0);
            self.a.bswap(size, RAX);
            self.extend_loaded(ty, &mem);
        } else if mem.signed && size < ty.bytes() {
            self.a.load_sx(size, RAX, RSI, 0);
            self.a.zext(ty.bytes(), RAX);
        } else {
            self.a.load(size, RAX, RSI, 0);
            self.a.zext(ty.bytes().min(8), RAX);
        }
        let back = self.a.new_label();
        self.a.bind(back);
        self.put(dst, RAX);
        self.cold.push(Cold::Slow {
            at: slow,
            back,
            pc: self.cur_pc,
            helper: slow_load as *const () as usize,
            addr,
            val: None,
            code,
            load: Some((dst, ty, mem)),
        });
        Ok(())
    }

    fn store(&mut self, ty: Ty, val: Temp, addr: Temp, mem: MemOp) -> Result<(), JitError> {
        let code = self.mem_code(&mem, None)?;
        let _ = ty;
        self.get(RSI, addr);
        let slow = self.tlb_check(&mem, true)?;
        self.get(RCX, val);
        let size = mem.size as u32;
        if mem.big_endian {
            self.a.bswap(size, RCX);
        }
        self.a.store(size, RSI, 0, RCX);
        let back = self.a.new_label();
        self.a.bind(back);
        self.cold.push(Cold::Slow {
            at: slow,
            back,
            pc: self.cur_pc,
            helper: slow_store as *const () as usize,
            addr,
            val: Some(val),
            code,
            load: None,
        });
        Ok(())
    }

    fn call(
        &mut self,
        helper: &'static Helper,
        args: &[Temp],
        dst: Option<Temp>,
    ) -> Result<(), JitError> {
        let n = args.len();
        helper.check_arity(n).map_err(err)?;
        let in_regs = n.min(5);
        if n == 6 {
            // The sixth argument goes on the stack, which stays 16-byte aligned.
            self.a.alu_ri(Alu::Sub, W::Q, RSP, 8);
            self.get(RAX, args[5]);
            self.a.push(RAX);
        }
        self.a.mov_rr(W::Q, RDI, RBX);
        for k in 0..in_regs {
            self.get(ARG_REGS[k + 1], args[k]);
        }
        self.a.mov_ri(RAX, helper.func as u64);
        self.a.call_r(RAX);
        if n == 6 {
            self.a.alu_ri(Alu::Add, W::Q, RSP, 16);
        }
        if helper.effects.may_raise {
            self.a.load(4, RCX, RBX, ho::PENDING_STATUS as i32);
            self.a.test_rr(W::D, RCX, RCX);
            let at = self.a.new_label();
            self.a.jcc(Cc::Ne, at);
            self.cold.push(Cold::Raise {
                at,
                pc: self.cur_pc,
            });
        }
        if let Some(d) = dst {
            let ty = self.temp_ty(d)?;
            if !matches!(ty, Ty::I64) {
                self.a.zext(ty.bytes(), RAX);
            }
            self.put(d, RAX);
        }
        Ok(())
    }

    fn emit_cold(&mut self) -> Result<(), JitError> {
        for c in std::mem::take(&mut self.cold) {
            match c {
                Cold::Interrupt { at } => {
                    self.a.bind(at);
                    self.a.mov_ri(RAX, self.blk.pc);
                    self.a.store(8, RBX, ho::PC as i32, RAX);
                    self.a.mov_ri(RAX, ExitStatus::Interrupted as u64);
                    self.ret();
                }
                Cold::Promote { at, back, counter } => {
                    // if ring.len < RING { ring[len] = idx; len += 1 }
                    self.a.bind(at);
                    self.a.mov_ri(RAX, counter.ring);
                    self.a.load(4, RCX, RAX, 0);
                    self.a.alu_ri(Alu::Cmp, W::D, RCX, RING as i32);
                    self.a.jcc(Cc::Ae, back);
                    self.a.mov_rr(W::Q, RDX, RCX);
                    self.a.shift_ri(Shift::Shl, W::Q, RDX, 2);
                    self.a.alu_rr(Alu::Add, W::Q, RDX, RAX);
                    self.a.store_imm32(RDX, 4, counter.idx as i32);
                    self.a.alu_ri(Alu::Add, W::D, RCX, 1);
                    self.a.store(4, RAX, 0, RCX);
                    self.a.jmp(back);
                }
                Cold::Raise { at, pc } => {
                    self.a.bind(at);
                    self.a.store_imm32(RBX, ho::PENDING_STATUS as i32, 0);
                    self.a.mov_ri(RAX, pc);
                    self.a.store(8, RBX, ho::PC as i32, RAX);
                    self.a.mov_rr(W::D, RAX, RCX);
                    self.ret();
                }
                Cold::Slow {
                    at,
                    back,
                    pc,
                    helper,
                    addr,
                    val,
                    code,
                    load,
                } => {
                    self.a.bind(at);
                    self.rax_holds = None;
                    self.op_start = usize::MAX;
                    let saved = self.cur_pc;
                    self.cur_pc = pc;
                    let vals: Vec<Temp> = val.into_iter().collect();
                    self.slow_access(helper, addr, &vals, code);
                    self.cur_pc = saved;
                    if let Some((_, ty, mem)) = load {
                        self.extend_loaded(ty, &mem);
                    }
                    self.a.jmp(back);
                }
            }
        }
        Ok(())
    }
}

/// An env offset as a displacement.
fn disp(offset: u32) -> Result<i32, JitError> {
    i32::try_from(offset).map_err(|_| err(format!("global offset {offset} too large")))
}
