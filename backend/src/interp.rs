//! The reference IR interpreter: the executable definition of the semantics in `ir.rs`, and
//! the cold tier of the engine. [`InterpBlock::new`] pre-decodes a [`Block`] once into a flat
//! vector of compact ops (labels resolved to op indices, temporaries to register slots, guest
//! PCs of instructions kept aside for precise faults); [`InterpBlock::run`] executes it over
//! a reusable [`InterpRegs`] scratch without allocating.

pub mod arith;

use crate::ir::{
    BinOp, Block, Cond, ConvOp, ExitStatus, FCond, FenceKind, Helper, Label, MemOp, Op, RmwOp,
    Temp, Ty, UnOp,
};
use crate::mem::{GuestMemory, MemFault, PERM_R, PERM_W};
use crate::softmmu::SoftmmuConfig;
use crate::{CpuHeader, FaultKind};
use std::sync::atomic::{self, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};

/// A memory access, compacted.
#[derive(Clone, Copy, Debug)]
struct M {
    size: u8,
    signed: bool,
    be: bool,
    aligned: bool,
    mmu: u8,
}

impl M {
    fn of(m: MemOp) -> M {
        assert!(
            matches!(m.size, 1 | 2 | 4 | 8 | 16),
            "IR memory access of {} bytes",
            m.size
        );
        M {
            size: m.size,
            signed: m.signed,
            be: m.big_endian,
            aligned: m.aligned,
            mmu: m.mmu_idx,
        }
    }
}

/// A pre-decoded helper call.
#[derive(Debug)]
struct DCall {
    helper: &'static Helper,
    nargs: u8,
    args: [u32; Helper::MAX_ARGS],
    /// Destination slot, or `u32::MAX` for none.
    dst: u32,
    dst_bits: u32,
}

/// One pre-decoded op. Register operands are slot indices (a 128-bit temporary occupies two
/// consecutive slots, low half first); `bits` is the width of the op's integer type.
#[derive(Clone, Copy, Debug)]
enum D {
    Const {
        d: u32,
        v: u64,
    },
    Const128 {
        d: u32,
        v: u64,
    },
    Mov {
        d: u32,
        s: u32,
    },
    Mov128 {
        d: u32,
        s: u32,
    },
    Get8 {
        d: u32,
        off: u32,
    },
    Get16 {
        d: u32,
        off: u32,
    },
    Get32 {
        d: u32,
        off: u32,
    },
    Get64 {
        d: u32,
        off: u32,
    },
    Get128 {
        d: u32,
        off: u32,
    },
    Set8 {
        s: u32,
        off: u32,
    },
    Set16 {
        s: u32,
        off: u32,
    },
    Set32 {
        s: u32,
        off: u32,
    },
    Set64 {
        s: u32,
        off: u32,
    },
    Set128 {
        s: u32,
        off: u32,
    },
    Add {
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
    },
    Sub {
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
    },
    And {
        d: u32,
        a: u32,
        b: u32,
    },
    Or {
        d: u32,
        a: u32,
        b: u32,
    },
    Xor {
        d: u32,
        a: u32,
        b: u32,
    },
    Shl {
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
    },
    ShrU {
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
    },
    Bin {
        op: BinOp,
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
    },
    Bin128 {
        op: BinOp,
        d: u32,
        a: u32,
        b: u32,
    },
    Un {
        op: UnOp,
        bits: u8,
        d: u32,
        a: u32,
    },
    Un128 {
        op: UnOp,
        d: u32,
        a: u32,
    },
    Ext {
        from: u8,
        to: u8,
        signed: bool,
        d: u32,
        s: u32,
    },
    /// Any width change where a side is 128-bit.
    ExtW {
        from: Ty,
        to: Ty,
        signed: bool,
        d: u32,
        s: u32,
    },
    Extract {
        ty: Ty,
        pos: u8,
        len: u8,
        signed: bool,
        d: u32,
        s: u32,
    },
    Deposit {
        ty: Ty,
        pos: u8,
        len: u8,
        d: u32,
        base: u32,
        val: u32,
    },
    SetCond {
        cond: Cond,
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
    },
    // Immediate forms: the second operand (or the stored value) was a constant temporary
    // (see `foldable_consts`), already masked to the op's width; shifts pre-masked.
    AddI {
        bits: u8,
        d: u32,
        a: u32,
        k: u64,
    },
    AndI {
        d: u32,
        a: u32,
        k: u64,
    },
    OrI {
        d: u32,
        a: u32,
        k: u64,
    },
    XorI {
        d: u32,
        a: u32,
        k: u64,
    },
    ShlI {
        bits: u8,
        d: u32,
        a: u32,
        sh: u32,
    },
    ShrUI {
        d: u32,
        a: u32,
        sh: u32,
    },
    SetCondI {
        cond: Cond,
        bits: u8,
        d: u32,
        a: u32,
        k: u64,
    },
    Set32I {
        off: u32,
        v: u32,
    },
    Set64I {
        off: u32,
        v: u64,
    },
    SetCond128 {
        cond: Cond,
        d: u32,
        a: u32,
        b: u32,
    },
    FCmp {
        cond: FCond,
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
    },
    Select {
        d: u32,
        c: u32,
        a: u32,
        b: u32,
    },
    Select128 {
        d: u32,
        c: u32,
        a: u32,
        b: u32,
    },
    Conv {
        op: ConvOp,
        from: Ty,
        to: Ty,
        d: u32,
        s: u32,
    },
    FMa {
        bits: u8,
        d: u32,
        a: u32,
        b: u32,
        c: u32,
    },
    Load {
        m: M,
        bits: u8,
        d: u32,
        addr: u32,
    },
    Load128 {
        m: M,
        d: u32,
        addr: u32,
    },
    Store {
        m: M,
        s: u32,
        addr: u32,
    },
    Store128 {
        m: M,
        s: u32,
        addr: u32,
    },
    Rmw {
        op: RmwOp,
        m: M,
        ty: Ty,
        d: u32,
        addr: u32,
        v: u32,
    },
    Cmpxchg {
        m: M,
        ty: Ty,
        d: u32,
        addr: u32,
        e: u32,
        n: u32,
    },
    Fence {
        kind: FenceKind,
    },
    Call {
        idx: u32,
    },
    Br {
        t: u32,
    },
    BrCond {
        c: u32,
        t: u32,
    },
    Goto {
        pc: u64,
    },
    ExitInd {
        s: u32,
    },
    Exit {
        status: ExitStatus,
        s: u32,
    },
    /// Sentinel after the last op: reached only by a block that does not end in a terminator.
    End,
}

fn is_wide(ty: Ty) -> bool {
    matches!(ty, Ty::I128 | Ty::V128)
}

/// Reusable scratch registers for [`InterpBlock::run`] (one per vCPU thread).
#[derive(Debug, Default)]
pub struct InterpRegs {
    slots: Vec<u64>,
}

/// A block pre-decoded for interpretation. Immutable and shareable between threads.
#[derive(Debug)]
pub struct InterpBlock {
    pc: u64,
    ops: Box<[D]>,
    /// Guest PC of the instruction each op belongs to (same index as `ops`).
    pcs: Box<[u64]>,
    calls: Box<[DCall]>,
    nslots: usize,
    /// Slots that may be read before being written: zeroed at every entry.
    zero: Box<[u32]>,
}

/// Calls `f` for every temporary `op` reads.
pub(crate) fn for_each_use(op: &Op, mut f: impl FnMut(Temp)) {
    match op {
        Op::Mov { src, .. } => f(*src),
        Op::SetGlobal { src, .. } => f(*src),
        Op::Bin { a, b, .. } | Op::SetCond { a, b, .. } | Op::FCmp { a, b, .. } => {
            f(*a);
            f(*b)
        }
        Op::Un { a, .. } => f(*a),
        Op::Ext { src, .. } | Op::Extract { src, .. } | Op::Conv { src, .. } => f(*src),
        Op::Deposit { base, val, .. } => {
            f(*base);
            f(*val)
        }
        Op::Select { cond, a, b, .. } => {
            f(*cond);
            f(*a);
            f(*b)
        }
        Op::FMa { a, b, c, .. } => {
            f(*a);
            f(*b);
            f(*c)
        }
        Op::Load { addr, .. } => f(*addr),
        Op::Store { val, addr, .. } | Op::AtomicRmw { val, addr, .. } => {
            f(*val);
            f(*addr)
        }
        Op::Cmpxchg {
            addr,
            expected,
            new,
            ..
        } => {
            f(*addr);
            f(*expected);
            f(*new)
        }
        Op::Call { args, .. } => args.iter().for_each(|a| f(*a)),
        Op::BrCond { cond, .. } => f(*cond),
        Op::ExitIndirect { pc } | Op::Exit { pc, .. } => f(*pc),
        Op::InsnStart { .. }
        | Op::Const { .. }
        | Op::GetGlobal { .. }
        | Op::Fence { .. }
        | Op::Label { .. }
        | Op::Br { .. }
        | Op::GotoBlock { .. } => {}
    }
}

/// Per temporary: whether some run of `block` may read it before writing it (it must then
/// read zero). Only definitions in the straight-line prefix (before the first label or
/// branch) count as always executed.
pub(crate) fn read_before_written(block: &Block) -> Vec<bool> {
    let mut written = vec![false; block.temps.len()];
    let mut must_zero = vec![false; block.temps.len()];
    let mut straight = true;
    for op in &block.ops {
        for_each_use(op, |t| {
            if let Some(w) = written.get(t.0 as usize)
                && !*w
            {
                must_zero[t.0 as usize] = true;
            }
        });
        if straight
            && let Some(t) = def_of(op)
            && let Some(w) = written.get_mut(t.0 as usize)
        {
            *w = true;
        }
        if matches!(op, Op::Label { .. } | Op::Br { .. } | Op::BrCond { .. }) {
            straight = false;
        }
    }
    must_zero
}

/// The temporary `op` writes, if any.
pub(crate) fn def_of(op: &Op) -> Option<Temp> {
    match op {
        Op::Const { dst, .. }
        | Op::Mov { dst, .. }
        | Op::GetGlobal { dst, .. }
        | Op::Bin { dst, .. }
        | Op::Un { dst, .. }
        | Op::Ext { dst, .. }
        | Op::Extract { dst, .. }
        | Op::Deposit { dst, .. }
        | Op::SetCond { dst, .. }
        | Op::FCmp { dst, .. }
        | Op::Select { dst, .. }
        | Op::Conv { dst, .. }
        | Op::FMa { dst, .. }
        | Op::Load { dst, .. }
        | Op::AtomicRmw { dst, .. }
        | Op::Cmpxchg { dst, .. } => Some(*dst),
        Op::Call { dst, .. } => *dst,
        _ => None,
    }
}

/// The operand of `op` that the decoder can take as an immediate, if any: the second
/// operand of an integer add, sub, and, or, xor, shl, shr.u or setcond, the value of a
/// 4- or 8-byte SetGlobal (all of 64 bits or narrower).
fn imm_operand(op: &Op) -> Option<Temp> {
    match *op {
        Op::Bin { op, ty, b, .. }
            if !is_wide(ty)
                && !ty.is_float()
                && matches!(
                    op,
                    BinOp::Add
                        | BinOp::Sub
                        | BinOp::And
                        | BinOp::Or
                        | BinOp::Xor
                        | BinOp::Shl
                        | BinOp::ShrU
                ) =>
        {
            Some(b)
        }
        Op::SetCond { ty, b, .. } if !is_wide(ty) => Some(b),
        Op::SetGlobal { ty, src, .. } if !is_wide(ty) && matches!(ty.bytes(), 4 | 8) => Some(src),
        _ => None,
    }
}

/// Per temporary, the constant the decoder folds into its users instead of running its
/// `Const` (None: not folded). A temporary qualifies when it is defined exactly once, by a
/// `Const` of a 64-bit-or-narrower type in the block's straight-line prefix (so every path
/// runs the definition first), and every use comes after it in a position of
/// [`imm_operand`]. The value is masked to the constant's type, as `Const` would store it.
/// A third of a boot's interpreted ops were such constants and their users.
fn foldable_consts(block: &Block) -> Vec<Option<u64>> {
    let n = block.temps.len();
    let mut defs = vec![0u32; n];
    let mut val: Vec<Option<u64>> = vec![None; n];
    let mut ok = vec![true; n];
    let mut straight = true;
    for op in &block.ops {
        let imm = imm_operand(op);
        let mut imm_seen = false;
        for_each_use(op, |t| {
            let i = t.0 as usize;
            if i >= n {
                return;
            }
            if Some(t) == imm && !imm_seen && val[i].is_some() {
                imm_seen = true;
            } else {
                ok[i] = false;
            }
        });
        if let Some(t) = def_of(op)
            && let Some(d) = defs.get_mut(t.0 as usize)
        {
            *d += 1;
            match *op {
                Op::Const { ty, value, .. } if straight && !is_wide(ty) && *d == 1 => {
                    val[t.0 as usize] = Some(value & arith::mask(ty.bits()));
                }
                _ => ok[t.0 as usize] = false,
            }
        }
        if matches!(op, Op::Label { .. } | Op::Br { .. } | Op::BrCond { .. }) {
            straight = false;
        }
    }
    (0..n).map(|i| if ok[i] { val[i] } else { None }).collect()
}

/// Decoding state: temp -> slot mapping.
struct Dec<'a> {
    temps: &'a [Ty],
    slot_of: Vec<u32>,
}

impl Dec<'_> {
    /// Slot of `t`, which the op uses as a value of width class `wide`.
    fn s(&self, t: Temp, wide: bool) -> u32 {
        let i = t.0 as usize;
        let ty = *self.temps.get(i).unwrap_or_else(|| {
            panic!(
                "IR uses t{} but the block has {} temps",
                i,
                self.temps.len()
            )
        });
        assert!(
            is_wide(ty) == wide,
            "IR uses t{i}:{ty} as a {} value",
            if wide {
                "128-bit"
            } else {
                "64-bit or narrower"
            }
        );
        self.slot_of[i]
    }
    fn n(&self, t: Temp) -> u32 {
        self.s(t, false)
    }
}

fn bits8(ty: Ty) -> u8 {
    ty.bits().min(64) as u8
}

impl InterpBlock {
    /// Pre-decode `block`.
    ///
    /// # Panics
    /// On structurally malformed IR that [`crate::verify::verify`] rejects and that could
    /// otherwise make the interpreter touch memory it does not own: a temporary out of range
    /// or of the wrong width class (64-bit vs 128-bit), a label out of range, placed twice or
    /// branched to but never placed, a call whose argument count differs from the helper's
    /// (or exceeds 6), a memory size other than 1, 2, 4, 8, 16. Type confusions within a width
    /// class give defined but meaningless results.
    pub fn new(block: &Block) -> InterpBlock {
        let mut slot_of = Vec::with_capacity(block.temps.len());
        let mut nslots = 0u32;
        for &ty in &block.temps {
            slot_of.push(nslots);
            nslots += if is_wide(ty) { 2 } else { 1 };
        }
        let dec = Dec {
            temps: &block.temps,
            slot_of,
        };

        let folded = foldable_consts(block);
        let is_folded = |t: Temp| folded.get(t.0 as usize).copied().flatten();

        // Pass 1: op index of every label.
        let mut label_at = vec![u32::MAX; block.num_labels as usize];
        let mut n = 0u32;
        for op in &block.ops {
            match op {
                Op::InsnStart { .. } => {}
                Op::Const { dst, .. } if is_folded(*dst).is_some() => {}
                Op::Label { label } => {
                    let slot = label_at.get_mut(label.0 as usize).unwrap_or_else(|| {
                        panic!("IR places L{} of {}", label.0, block.num_labels)
                    });
                    assert!(*slot == u32::MAX, "IR places L{} twice", label.0);
                    *slot = n;
                }
                _ => n += 1,
            }
        }
        let target = |l: Label| -> u32 {
            let t = label_at.get(l.0 as usize).copied().unwrap_or(u32::MAX);
            assert!(t != u32::MAX, "IR branches to L{}, never placed", l.0);
            t
        };

        // Pass 2: decode, and find the slots that may be read before written.
        let mut ops = Vec::with_capacity(n as usize + 1);
        let mut pcs = Vec::with_capacity(n as usize + 1);
        let mut calls = Vec::new();
        let mut cur_pc = block.pc;
        let must_zero = read_before_written(block);
        for op in &block.ops {
            let d = match *op {
                Op::InsnStart { pc } => {
                    cur_pc = pc;
                    continue;
                }
                Op::Label { .. } => continue,
                Op::Const { dst, .. } if is_folded(dst).is_some() => continue,
                Op::Const { dst, ty, value } => {
                    if is_wide(ty) {
                        D::Const128 {
                            d: dec.s(dst, true),
                            v: value,
                        }
                    } else {
                        D::Const {
                            d: dec.n(dst),
                            v: value & arith::mask(ty.bits()),
                        }
                    }
                }
                Op::Mov { dst, src } => {
                    let wide = is_wide(block.temps.get(dst.0 as usize).copied().unwrap_or(Ty::I64));
                    if wide {
                        D::Mov128 {
                            d: dec.s(dst, true),
                            s: dec.s(src, true),
                        }
                    } else {
                        D::Mov {
                            d: dec.n(dst),
                            s: dec.n(src),
                        }
                    }
                }
                Op::GetGlobal { dst, ty, offset } => {
                    let d = dec.s(dst, is_wide(ty));
                    let off = offset;
                    match ty.bytes() {
                        1 => D::Get8 { d, off },
                        2 => D::Get16 { d, off },
                        4 => D::Get32 { d, off },
                        8 => D::Get64 { d, off },
                        _ => D::Get128 { d, off },
                    }
                }
                Op::SetGlobal { offset, ty, src } if let Some(k) = is_folded(src) => {
                    if ty.bytes() == 8 {
                        D::Set64I { off: offset, v: k }
                    } else {
                        D::Set32I {
                            off: offset,
                            v: k as u32,
                        }
                    }
                }
                Op::SetGlobal { offset, ty, src } => {
                    let s = dec.s(src, is_wide(ty));
                    let off = offset;
                    match ty.bytes() {
                        1 => D::Set8 { s, off },
                        2 => D::Set16 { s, off },
                        4 => D::Set32 { s, off },
                        8 => D::Set64 { s, off },
                        _ => D::Set128 { s, off },
                    }
                }
                Op::Bin { op, ty, dst, a, b } => {
                    if is_wide(ty) {
                        D::Bin128 {
                            op,
                            d: dec.s(dst, true),
                            a: dec.s(a, true),
                            b: dec.s(b, true),
                        }
                    } else if let Some(k) = is_folded(b) {
                        let (d, a, bits) = (dec.n(dst), dec.n(a), bits8(ty));
                        let sh = (k as u32) & (bits as u32 - 1);
                        match op {
                            BinOp::Add => D::AddI { bits, d, a, k },
                            BinOp::Sub => D::AddI {
                                bits,
                                d,
                                a,
                                k: k.wrapping_neg(),
                            },
                            BinOp::And => D::AndI { d, a, k },
                            BinOp::Or => D::OrI { d, a, k },
                            BinOp::Xor => D::XorI { d, a, k },
                            BinOp::Shl => D::ShlI { bits, d, a, sh },
                            _ => D::ShrUI { d, a, sh },
                        }
                    } else {
                        let (d, a, b, bits) = (dec.n(dst), dec.n(a), dec.n(b), bits8(ty));
                        match op {
                            _ if ty.is_float() => D::Bin { op, bits, d, a, b },
                            BinOp::Add => D::Add { bits, d, a, b },
                            BinOp::Sub => D::Sub { bits, d, a, b },
                            BinOp::And => D::And { d, a, b },
                            BinOp::Or => D::Or { d, a, b },
                            BinOp::Xor => D::Xor { d, a, b },
                            BinOp::Shl => D::Shl { bits, d, a, b },
                            BinOp::ShrU => D::ShrU { bits, d, a, b },
                            _ => D::Bin { op, bits, d, a, b },
                        }
                    }
                }
                Op::Un { op, ty, dst, a } => {
                    if is_wide(ty) {
                        D::Un128 {
                            op,
                            d: dec.s(dst, true),
                            a: dec.s(a, true),
                        }
                    } else {
                        D::Un {
                            op,
                            bits: bits8(ty),
                            d: dec.n(dst),
                            a: dec.n(a),
                        }
                    }
                }
                Op::Ext {
                    dst,
                    to,
                    src,
                    from,
                    signed,
                } => {
                    let d = dec.s(dst, is_wide(to));
                    let s = dec.s(src, is_wide(from));
                    if is_wide(to) || is_wide(from) {
                        D::ExtW {
                            from,
                            to,
                            signed,
                            d,
                            s,
                        }
                    } else {
                        D::Ext {
                            from: bits8(from),
                            to: bits8(to),
                            signed,
                            d,
                            s,
                        }
                    }
                }
                Op::Extract {
                    dst,
                    ty,
                    src,
                    pos,
                    len,
                    signed,
                } => D::Extract {
                    ty,
                    pos,
                    len,
                    signed,
                    d: dec.s(dst, is_wide(ty)),
                    s: dec.s(src, is_wide(ty)),
                },
                Op::Deposit {
                    dst,
                    ty,
                    base,
                    val,
                    pos,
                    len,
                } => D::Deposit {
                    ty,
                    pos,
                    len,
                    d: dec.s(dst, is_wide(ty)),
                    base: dec.s(base, is_wide(ty)),
                    val: dec.s(val, is_wide(ty)),
                },
                Op::SetCond {
                    cond,
                    ty,
                    dst,
                    a,
                    b,
                } => {
                    if is_wide(ty) {
                        D::SetCond128 {
                            cond,
                            d: dec.n(dst),
                            a: dec.s(a, true),
                            b: dec.s(b, true),
                        }
                    } else if let Some(k) = is_folded(b) {
                        D::SetCondI {
                            cond,
                            bits: bits8(ty),
                            d: dec.n(dst),
                            a: dec.n(a),
                            k,
                        }
                    } else {
                        D::SetCond {
                            cond,
                            bits: bits8(ty),
                            d: dec.n(dst),
                            a: dec.n(a),
                            b: dec.n(b),
                        }
                    }
                }
                Op::FCmp {
                    cond,
                    ty,
                    dst,
                    a,
                    b,
                } => D::FCmp {
                    cond,
                    bits: bits8(ty),
                    d: dec.n(dst),
                    a: dec.n(a),
                    b: dec.n(b),
                },
                Op::Select {
                    ty,
                    dst,
                    cond,
                    a,
                    b,
                } => {
                    let w = is_wide(ty);
                    let (d, c, a, b) = (dec.s(dst, w), dec.n(cond), dec.s(a, w), dec.s(b, w));
                    if w {
                        D::Select128 { d, c, a, b }
                    } else {
                        D::Select { d, c, a, b }
                    }
                }
                Op::Conv {
                    op,
                    dst,
                    to,
                    src,
                    from,
                } => D::Conv {
                    op,
                    from,
                    to,
                    d: dec.s(dst, is_wide(to)),
                    s: dec.s(src, is_wide(from)),
                },
                Op::FMa { ty, dst, a, b, c } => D::FMa {
                    bits: bits8(ty),
                    d: dec.n(dst),
                    a: dec.n(a),
                    b: dec.n(b),
                    c: dec.n(c),
                },
                Op::Load { dst, ty, addr, mem } => {
                    let m = M::of(mem);
                    let addr = dec.n(addr);
                    if is_wide(ty) {
                        D::Load128 {
                            m,
                            d: dec.s(dst, true),
                            addr,
                        }
                    } else {
                        D::Load {
                            m,
                            bits: bits8(ty),
                            d: dec.n(dst),
                            addr,
                        }
                    }
                }
                Op::Store { ty, val, addr, mem } => {
                    let m = M::of(mem);
                    let addr = dec.n(addr);
                    if is_wide(ty) {
                        D::Store128 {
                            m,
                            s: dec.s(val, true),
                            addr,
                        }
                    } else {
                        D::Store {
                            m,
                            s: dec.n(val),
                            addr,
                        }
                    }
                }
                Op::AtomicRmw {
                    op,
                    ty,
                    dst,
                    addr,
                    val,
                    mem,
                } => D::Rmw {
                    op,
                    m: M::of(mem),
                    ty,
                    d: dec.s(dst, is_wide(ty)),
                    addr: dec.n(addr),
                    v: dec.s(val, is_wide(ty)),
                },
                Op::Cmpxchg {
                    ty,
                    dst,
                    addr,
                    expected,
                    new,
                    mem,
                } => D::Cmpxchg {
                    m: M::of(mem),
                    ty,
                    d: dec.s(dst, is_wide(ty)),
                    addr: dec.n(addr),
                    e: dec.s(expected, is_wide(ty)),
                    n: dec.s(new, is_wide(ty)),
                },
                Op::Fence { kind } => D::Fence { kind },
                Op::Call {
                    helper,
                    ref args,
                    dst,
                } => {
                    assert!(
                        args.len() <= Helper::MAX_ARGS && args.len() == helper.nargs as usize,
                        "IR calls {} ({} args) with {} args",
                        helper.name,
                        helper.nargs,
                        args.len()
                    );
                    let mut a = [0u32; Helper::MAX_ARGS];
                    for (k, t) in args.iter().enumerate() {
                        a[k] = dec.n(*t);
                    }
                    let (dst, dst_bits) = match dst {
                        Some(t) => (dec.n(t), bits8(block.temps[t.0 as usize]) as u32),
                        None => (u32::MAX, 64),
                    };
                    calls.push(DCall {
                        helper,
                        nargs: args.len() as u8,
                        args: a,
                        dst,
                        dst_bits,
                    });
                    D::Call {
                        idx: calls.len() as u32 - 1,
                    }
                }
                Op::Br { label } => D::Br { t: target(label) },
                Op::BrCond { cond, label } => D::BrCond {
                    c: dec.n(cond),
                    t: target(label),
                },
                Op::GotoBlock { pc } => D::Goto { pc },
                Op::ExitIndirect { pc } => D::ExitInd { s: dec.n(pc) },
                Op::Exit { status, pc } => D::Exit {
                    status,
                    s: dec.n(pc),
                },
            };
            ops.push(d);
            pcs.push(cur_pc);
        }
        ops.push(D::End);
        pcs.push(cur_pc);

        let mut zero = Vec::new();
        for (t, &z) in must_zero.iter().enumerate() {
            if z {
                let s = dec.slot_of[t];
                zero.push(s);
                if is_wide(block.temps[t]) {
                    zero.push(s + 1);
                }
            }
        }
        InterpBlock {
            pc: block.pc,
            ops: ops.into_boxed_slice(),
            pcs: pcs.into_boxed_slice(),
            calls: calls.into_boxed_slice(),
            nslots: nslots as usize,
            zero: zero.into_boxed_slice(),
        }
    }

    /// Guest PC of the block.
    pub fn pc(&self) -> u64 {
        self.pc
    }

    /// Number of executable ops (without instruction markers and labels).
    pub fn num_ops(&self) -> usize {
        self.ops.len() - 1
    }

    /// Run the block once.
    ///
    /// # Safety
    /// `env` must point to a live CPU state that starts with a [`CpuHeader`] and covers every
    /// global offset the block accesses; no other thread may write those globals during the
    /// call (except `exit_request`). Every helper the block calls must be a valid
    /// `extern "C" fn(*mut u8, u64 × nargs) -> u64` that is safe to call with `env`.
    pub unsafe fn run(&self, env: *mut u8, mem: &GuestMemory, regs: &mut InterpRegs) -> ExitStatus {
        // SAFETY: the caller's contract.
        unsafe { self.run_with(env, mem, regs) }
    }

    /// Run the block once in system mode: guest memory goes through the softmmu of `sys`.
    ///
    /// # Safety
    /// As for [`InterpBlock::run`]; in addition the CPU state holds a [`crate::softmmu::Tlb`]
    /// at `sys.tlb_offset`, and every `mmu_idx` of the block is below
    /// [`crate::softmmu::MAX_MMU_IDX`].
    pub unsafe fn run_system(
        &self,
        env: *mut u8,
        sys: &SoftmmuConfig,
        regs: &mut InterpRegs,
    ) -> ExitStatus {
        let mem = SysMem { sys, env };
        // SAFETY: the caller's contract.
        unsafe { self.run_with(env, &mem, regs) }
    }

    /// # Safety
    /// As for [`InterpBlock::run`].
    unsafe fn run_with<Mm: MemIf>(
        &self,
        env: *mut u8,
        mem: &Mm,
        regs: &mut InterpRegs,
    ) -> ExitStatus {
        let hdr = env as *mut CpuHeader;
        // SAFETY: `env` points to a CpuHeader (caller contract); `exit_request` is atomic.
        unsafe {
            if (*hdr).exit_request.load(Ordering::Relaxed) != 0 {
                (*hdr).pc = self.pc;
                return ExitStatus::Interrupted;
            }
        }
        if regs.slots.len() < self.nslots {
            regs.slots.resize(self.nslots, 0);
        }
        for &z in self.zero.iter() {
            regs.slots[z as usize] = 0;
        }
        // SAFETY: `regs.slots` has at least `nslots` entries, which `exec` relies on; the
        // rest is the caller's contract.
        unsafe { self.exec(env, mem, regs.slots.as_mut_ptr()) }
    }

    /// The interpreter loop.
    ///
    /// # Safety
    /// `s` points to at least `self.nslots` u64 slots; `env` as for [`InterpBlock::run`].
    unsafe fn exec<Mm: MemIf>(&self, env: *mut u8, mem: &Mm, s: *mut u64) -> ExitStatus {
        let hdr = env as *mut CpuHeader;
        let ops = &self.ops[..];
        let mut i = 0usize;
        // SAFETY (whole loop): `new` gave every register operand a slot index below `nslots`
        // (128-bit operands two, both below `nslots`) and `s` has `nslots` slots; every branch
        // target is an index into `ops`, and the last op is `End`, which leaves the loop, so
        // `i` stays in bounds; call indices index `calls`. Globals are read and written
        // unaligned at `env + offset`, which the caller guarantees to be inside the CPU state.
        // Guest memory is accessed only through `MemIf`, which checks it.
        unsafe {
            macro_rules! r {
                ($i:expr) => {
                    *s.add($i as usize)
                };
            }
            macro_rules! w {
                ($i:expr, $v:expr) => {{
                    let v: u64 = $v;
                    *s.add($i as usize) = v;
                }};
            }
            macro_rules! r2 {
                ($i:expr) => {
                    (*s.add($i as usize) as u128) | ((*s.add($i as usize + 1) as u128) << 64)
                };
            }
            macro_rules! w2 {
                ($i:expr, $v:expr) => {{
                    let v: u128 = $v;
                    *s.add($i as usize) = v as u64;
                    *s.add($i as usize + 1) = (v >> 64) as u64;
                }};
            }
            // Read/write a value whose width class depends on `ty`.
            macro_rules! rt {
                ($ty:expr, $i:expr) => {
                    if is_wide($ty) {
                        r2!($i)
                    } else {
                        r!($i) as u128
                    }
                };
            }
            macro_rules! wt {
                ($ty:expr, $i:expr, $v:expr) => {{
                    let v: u128 = $v;
                    if is_wide($ty) {
                        w2!($i, v)
                    } else {
                        w!($i, v as u64)
                    }
                }};
            }
            macro_rules! g {
                ($t:ty, $off:expr) => {
                    env.add($off as usize).cast::<$t>().read_unaligned()
                };
            }
            macro_rules! sg {
                ($t:ty, $off:expr, $v:expr) => {
                    env.add($off as usize).cast::<$t>().write_unaligned($v)
                };
            }
            macro_rules! fault {
                ($f:expr) => {{
                    let f: MemFault = $f;
                    (*hdr).pc = *self.pcs.get_unchecked(i - 1);
                    (*hdr).fault_addr = f.addr;
                    (*hdr).fault_kind = f.kind as u32;
                    return ExitStatus::Fault;
                }};
            }
            loop {
                let op = *ops.get_unchecked(i);
                i += 1;
                match op {
                    D::Const { d, v } => w!(d, v),
                    D::Const128 { d, v } => w2!(d, v as u128),
                    D::Mov { d, s: a } => w!(d, r!(a)),
                    D::Mov128 { d, s: a } => w2!(d, r2!(a)),
                    D::Get8 { d, off } => w!(d, g!(u8, off) as u64),
                    D::Get16 { d, off } => w!(d, g!(u16, off) as u64),
                    D::Get32 { d, off } => w!(d, g!(u32, off) as u64),
                    D::Get64 { d, off } => w!(d, g!(u64, off)),
                    D::Get128 { d, off } => w2!(d, g!(u128, off)),
                    D::Set8 { s: a, off } => sg!(u8, off, r!(a) as u8),
                    D::Set16 { s: a, off } => sg!(u16, off, r!(a) as u16),
                    D::Set32 { s: a, off } => sg!(u32, off, r!(a) as u32),
                    D::Set64 { s: a, off } => sg!(u64, off, r!(a)),
                    D::Set128 { s: a, off } => sg!(u128, off, r2!(a)),
                    D::Add { bits, d, a, b } => {
                        w!(d, r!(a).wrapping_add(r!(b)) & arith::mask(bits as u32))
                    }
                    D::Sub { bits, d, a, b } => {
                        w!(d, r!(a).wrapping_sub(r!(b)) & arith::mask(bits as u32))
                    }
                    D::And { d, a, b } => w!(d, r!(a) & r!(b)),
                    D::Or { d, a, b } => w!(d, r!(a) | r!(b)),
                    D::Xor { d, a, b } => w!(d, r!(a) ^ r!(b)),
                    D::Shl { bits, d, a, b } => {
                        let sh = (r!(b) as u32) & (bits as u32 - 1);
                        w!(d, (r!(a) << sh) & arith::mask(bits as u32))
                    }
                    D::ShrU { bits, d, a, b } => {
                        let sh = (r!(b) as u32) & (bits as u32 - 1);
                        w!(d, r!(a) >> sh)
                    }
                    D::Bin { op, bits, d, a, b } => {
                        w!(d, arith::bin(op, bits as u32, r!(a), r!(b)))
                    }
                    D::Bin128 { op, d, a, b } => w2!(d, arith::bin128(op, r2!(a), r2!(b))),
                    D::Un { op, bits, d, a } => w!(d, arith::un(op, bits as u32, r!(a))),
                    D::Un128 { op, d, a } => w2!(d, arith::un128(op, r2!(a))),
                    D::Ext {
                        from,
                        to,
                        signed,
                        d,
                        s: a,
                    } => {
                        let v = r!(a);
                        let x = if signed {
                            crate::ir::sext(v, from as u32) as u64
                        } else {
                            v & arith::mask(from as u32)
                        };
                        w!(d, x & arith::mask(to as u32))
                    }
                    D::ExtW {
                        from,
                        to,
                        signed,
                        d,
                        s: a,
                    } => wt!(
                        to,
                        d,
                        arith::ext(rt!(from, a), from.bits(), to.bits(), signed)
                    ),
                    D::Extract {
                        ty,
                        pos,
                        len,
                        signed,
                        d,
                        s: a,
                    } => wt!(
                        ty,
                        d,
                        arith::extract(rt!(ty, a), ty.bits(), pos as u32, len as u32, signed)
                    ),
                    D::Deposit {
                        ty,
                        pos,
                        len,
                        d,
                        base,
                        val,
                    } => wt!(
                        ty,
                        d,
                        arith::deposit(
                            rt!(ty, base),
                            rt!(ty, val),
                            ty.bits(),
                            pos as u32,
                            len as u32
                        )
                    ),
                    D::SetCond {
                        cond,
                        bits,
                        d,
                        a,
                        b,
                    } => {
                        w!(d, arith::cond64(cond, bits as u32, r!(a), r!(b)) as u64)
                    }
                    D::SetCond128 { cond, d, a, b } => {
                        w!(d, arith::cond(cond, 128, r2!(a), r2!(b)) as u64)
                    }
                    D::AddI { bits, d, a, k } => {
                        w!(d, r!(a).wrapping_add(k) & arith::mask(bits as u32))
                    }
                    D::AndI { d, a, k } => w!(d, r!(a) & k),
                    D::OrI { d, a, k } => w!(d, r!(a) | k),
                    D::XorI { d, a, k } => w!(d, r!(a) ^ k),
                    D::ShlI { bits, d, a, sh } => {
                        w!(d, (r!(a) << sh) & arith::mask(bits as u32))
                    }
                    D::ShrUI { d, a, sh } => w!(d, r!(a) >> sh),
                    D::SetCondI {
                        cond,
                        bits,
                        d,
                        a,
                        k,
                    } => w!(d, arith::cond64(cond, bits as u32, r!(a), k) as u64),
                    D::Set32I { off, v } => sg!(u32, off, v),
                    D::Set64I { off, v } => sg!(u64, off, v),
                    D::FCmp {
                        cond,
                        bits,
                        d,
                        a,
                        b,
                    } => {
                        w!(d, arith::fcmp(cond, bits as u32, r!(a), r!(b)) as u64)
                    }
                    D::Select { d, c, a, b } => w!(d, if r!(c) != 0 { r!(a) } else { r!(b) }),
                    D::Select128 { d, c, a, b } => {
                        w2!(d, if r!(c) != 0 { r2!(a) } else { r2!(b) })
                    }
                    D::Conv {
                        op,
                        from,
                        to,
                        d,
                        s: a,
                    } => wt!(to, d, arith::conv(op, from, to, rt!(from, a))),
                    D::FMa { bits, d, a, b, c } => {
                        w!(d, arith::fma(bits as u32, r!(a), r!(b), r!(c)))
                    }
                    D::Load { m, bits, d, addr } => match mem.load(r!(addr), m) {
                        Ok(v) => w!(
                            d,
                            arith::ext(v, m.size as u32 * 8, bits as u32, m.signed) as u64
                        ),
                        Err(f) => fault!(f),
                    },
                    D::Load128 { m, d, addr } => match mem.load(r!(addr), m) {
                        Ok(v) => w2!(d, arith::ext(v, m.size as u32 * 8, 128, m.signed)),
                        Err(f) => fault!(f),
                    },
                    D::Store { m, s: v, addr } => {
                        if let Err(f) = mem.store(r!(addr), m, r!(v) as u128) {
                            fault!(f)
                        }
                    }
                    D::Store128 { m, s: v, addr } => {
                        if let Err(f) = mem.store(r!(addr), m, r2!(v)) {
                            fault!(f)
                        }
                    }
                    D::Rmw {
                        op,
                        m,
                        ty,
                        d,
                        addr,
                        v,
                    } => match mem.rmw(r!(addr), m, op, rt!(ty, v)) {
                        Ok(old) => wt!(
                            ty,
                            d,
                            arith::ext(old, m.size as u32 * 8, ty.bits(), m.signed)
                        ),
                        Err(f) => fault!(f),
                    },
                    D::Cmpxchg {
                        m,
                        ty,
                        d,
                        addr,
                        e,
                        n,
                    } => match mem.cmpxchg(r!(addr), m, rt!(ty, e), rt!(ty, n)) {
                        Ok(old) => wt!(
                            ty,
                            d,
                            arith::ext(old, m.size as u32 * 8, ty.bits(), m.signed)
                        ),
                        Err(f) => fault!(f),
                    },
                    D::Fence { kind } => atomic::fence(match kind {
                        FenceKind::Acquire => Ordering::Acquire,
                        FenceKind::Release => Ordering::Release,
                        FenceKind::SeqCst => Ordering::SeqCst,
                    }),
                    D::Call { idx } => {
                        let c = self.calls.get_unchecked(idx as usize);
                        let f = c.helper.func;
                        let a = |k: usize| *s.add(c.args[k] as usize);
                        type F0 = unsafe extern "C" fn(*mut u8) -> u64;
                        type F1 = unsafe extern "C" fn(*mut u8, u64) -> u64;
                        type F2 = unsafe extern "C" fn(*mut u8, u64, u64) -> u64;
                        type F3 = unsafe extern "C" fn(*mut u8, u64, u64, u64) -> u64;
                        type F4 = unsafe extern "C" fn(*mut u8, u64, u64, u64, u64) -> u64;
                        type F5 = unsafe extern "C" fn(*mut u8, u64, u64, u64, u64, u64) -> u64;
                        type F6 =
                            unsafe extern "C" fn(*mut u8, u64, u64, u64, u64, u64, u64) -> u64;
                        // The helper's signature is the IR's helper ABI with `nargs`
                        // arguments (caller contract; `new` checked the count).
                        let ret = match c.nargs {
                            0 => std::mem::transmute::<*const u8, F0>(f)(env),
                            1 => std::mem::transmute::<*const u8, F1>(f)(env, a(0)),
                            2 => std::mem::transmute::<*const u8, F2>(f)(env, a(0), a(1)),
                            3 => std::mem::transmute::<*const u8, F3>(f)(env, a(0), a(1), a(2)),
                            4 => {
                                std::mem::transmute::<*const u8, F4>(f)(env, a(0), a(1), a(2), a(3))
                            }
                            5 => std::mem::transmute::<*const u8, F5>(f)(
                                env,
                                a(0),
                                a(1),
                                a(2),
                                a(3),
                                a(4),
                            ),
                            _ => std::mem::transmute::<*const u8, F6>(f)(
                                env,
                                a(0),
                                a(1),
                                a(2),
                                a(3),
                                a(4),
                                a(5),
                            ),
                        };
                        if c.dst != u32::MAX {
                            w!(c.dst, ret & arith::mask(c.dst_bits));
                        }
                        if c.helper.effects.may_raise {
                            let st = (*hdr).pending_status;
                            if st != 0 {
                                (*hdr).pending_status = 0;
                                (*hdr).pc = *self.pcs.get_unchecked(i - 1);
                                return ExitStatus::from_u32(st);
                            }
                        }
                    }
                    D::Br { t } => i = t as usize,
                    D::BrCond { c, t } => {
                        if r!(c) != 0 {
                            i = t as usize;
                        }
                    }
                    D::Goto { pc } => {
                        (*hdr).pc = pc;
                        return ExitStatus::Next;
                    }
                    D::ExitInd { s: a } => {
                        (*hdr).pc = r!(a);
                        return ExitStatus::Next;
                    }
                    D::Exit { status, s: a } => {
                        (*hdr).pc = r!(a);
                        return status;
                    }
                    D::End => panic!(
                        "IR block {:#x} fell off its end (missing terminator)",
                        self.pc
                    ),
                }
            }
        }
    }
}

/// Alignment and permission check of a guest access; returns the host pointer.
#[inline]
fn access(
    mem: &GuestMemory,
    addr: u64,
    m: M,
    need: u8,
    kind: FaultKind,
) -> Result<*mut u8, MemFault> {
    if m.aligned && addr & (m.size as u64 - 1) != 0 {
        return Err(MemFault {
            addr,
            kind: FaultKind::Misaligned,
        });
    }
    mem.check(addr, m.size as u64, need, kind)?;
    Ok(mem.host_ptr(addr))
}

/// Load `m.size` bytes in guest byte order, zero-extended.
#[inline]
fn load(mem: &GuestMemory, addr: u64, m: M) -> Result<u128, MemFault> {
    let p = access(mem, addr, m, PERM_R, FaultKind::Read)?;
    // SAFETY: `check` approved [addr, addr+size) as readable, so it is mapped readable in the
    // reservation; reads are unaligned-safe.
    unsafe {
        Ok(match m.size {
            1 => *p as u128,
            2 => {
                let v = p.cast::<u16>().read_unaligned();
                (if m.be {
                    u16::from_be(v)
                } else {
                    u16::from_le(v)
                }) as u128
            }
            4 => {
                let v = p.cast::<u32>().read_unaligned();
                (if m.be {
                    u32::from_be(v)
                } else {
                    u32::from_le(v)
                }) as u128
            }
            8 => {
                let v = p.cast::<u64>().read_unaligned();
                (if m.be {
                    u64::from_be(v)
                } else {
                    u64::from_le(v)
                }) as u128
            }
            _ => {
                let v = p.cast::<u128>().read_unaligned();
                if m.be {
                    u128::from_be(v)
                } else {
                    u128::from_le(v)
                }
            }
        })
    }
}

/// Store the low `m.size` bytes of `v` in guest byte order.
#[inline]
fn store(mem: &GuestMemory, addr: u64, m: M, v: u128) -> Result<(), MemFault> {
    let p = access(mem, addr, m, PERM_W, FaultKind::Write)?;
    // SAFETY: `check` approved [addr, addr+size) as writable, so it is mapped writable.
    unsafe {
        match m.size {
            1 => *p = v as u8,
            2 => {
                let x = v as u16;
                p.cast::<u16>()
                    .write_unaligned(if m.be { x.to_be() } else { x.to_le() })
            }
            4 => {
                let x = v as u32;
                p.cast::<u32>()
                    .write_unaligned(if m.be { x.to_be() } else { x.to_le() })
            }
            8 => {
                let x = v as u64;
                p.cast::<u64>()
                    .write_unaligned(if m.be { x.to_be() } else { x.to_le() })
            }
            _ => p
                .cast::<u128>()
                .write_unaligned(if m.be { v.to_be() } else { v.to_le() }),
        }
    }
    Ok(())
}

/// Whether the host has `cmpxchg16b` (every x86-64 CPU since ~2008 has; cached by std).
pub(crate) fn host_has_cas16() -> bool {
    std::is_x86_feature_detected!("cmpxchg16b")
}

/// 16-byte atomics on a host without `cmpxchg16b` serialise on this lock (atomic with
/// respect to each other only; the JIT then leaves blocks with 16-byte atomics to the
/// interpreter, see `jit::lower`, so both tiers agree).
static ATOMIC128: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 16-byte compare-and-swap of raw host memory at `p`: stores `n` if `*p == e`, returns
/// the old contents. With `lock cmpxchg16b` it is single-copy atomic against every other
/// host atomic on the same bytes (the 1..8-byte atomics of other guest threads and the
/// JIT's own `lock cmpxchg16b`), which a lock cannot give.
///
/// # Safety
/// `p` is 16-byte aligned, readable and writable.
unsafe fn cas16(p: *mut u128, e: u128, n: u128) -> u128 {
    if host_has_cas16() {
        let (mut lo, mut hi) = (e as u64, (e >> 64) as u64);
        // SAFETY: the caller's contract; the CPU has cmpxchg16b. rbx cannot be an asm
        // operand, so the new low half travels in a scratch register and is swapped in
        // and back out around the instruction.
        unsafe {
            std::arch::asm!(
                "xchg {nlo}, rbx",
                "lock cmpxchg16b xmmword ptr [{p}]",
                "mov rbx, {nlo}",
                p = in(reg) p,
                nlo = inout(reg) n as u64 => _,
                in("rcx") (n >> 64) as u64,
                inout("rax") lo,
                inout("rdx") hi,
                options(nostack),
            );
        }
        (hi as u128) << 64 | lo as u128
    } else {
        let _g = ATOMIC128.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the caller's contract.
        unsafe {
            let old = p.read();
            if old == e {
                p.write(n);
            }
            old
        }
    }
}

/// Checks of an atomic access: natural alignment (always), then read and write permission.
fn atomic_access(mem: &GuestMemory, addr: u64, m: M) -> Result<*mut u8, MemFault> {
    access(
        mem,
        addr,
        M { aligned: true, ..m },
        PERM_R | PERM_W,
        FaultKind::Write,
    )
}

macro_rules! cas_loop {
    ($p:expr, $A:ty, $T:ty, $m:expr, $f:expr) => {{
        // SAFETY: `atomic_access` approved the naturally aligned range as readable and
        // writable (the reservation base is page aligned, so the host address is aligned too).
        let a = unsafe { &*($p as *const $A) };
        let be = $m.be;
        let mut cur = a.load(Ordering::Relaxed);
        loop {
            let old: $T = if be {
                <$T>::from_be(cur)
            } else {
                <$T>::from_le(cur)
            };
            let new: $T = $f(old as u64) as $T;
            let raw = if be { new.to_be() } else { new.to_le() };
            match a.compare_exchange_weak(cur, raw, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break old as u128,
                Err(x) => cur = x,
            }
        }
    }};
}

/// Atomic read-modify-write; returns the old value (zero-extended, guest byte order).
fn atomic_rmw(mem: &GuestMemory, addr: u64, m: M, op: RmwOp, v: u128) -> Result<u128, MemFault> {
    let p = atomic_access(mem, addr, m)?;
    // SAFETY: `atomic_access` approved the naturally aligned range.
    Ok(unsafe { host_rmw(p, m, op, v) })
}

/// Atomic read-modify-write on host memory at `p`; returns the old value.
///
/// # Safety
/// `p` is naturally aligned for `m.size` and `m.size` bytes at it are readable and writable.
unsafe fn host_rmw(p: *mut u8, m: M, op: RmwOp, v: u128) -> u128 {
    let bits = m.size as u32 * 8;
    let f = |old: u64| arith::rmw(op, bits, old, v as u64);
    match m.size {
        1 => cas_loop!(p, AtomicU8, u8, m, f),
        2 => cas_loop!(p, AtomicU16, u16, m, f),
        4 => cas_loop!(p, AtomicU32, u32, m, f),
        8 => cas_loop!(p, AtomicU64, u64, m, f),
        _ => {
            let p = p.cast::<u128>();
            // SAFETY: checked readable and writable, 16-byte aligned; the first read may
            // tear, which only makes the first compare-and-swap fail.
            let mut raw = unsafe { p.read_volatile() };
            loop {
                let old = if m.be {
                    u128::from_be(raw)
                } else {
                    u128::from_le(raw)
                };
                let new = arith::rmw128(op, old, v);
                let new = if m.be { new.to_be() } else { new.to_le() };
                // SAFETY: as above.
                let seen = unsafe { cas16(p, raw, new) };
                if seen == raw {
                    return old;
                }
                raw = seen;
            }
        }
    }
}

macro_rules! cas_once {
    ($p:expr, $A:ty, $T:ty, $m:expr, $e:expr, $n:expr) => {{
        // SAFETY: as in `cas_loop`.
        let a = unsafe { &*($p as *const $A) };
        let (e, n) = ($e as $T, $n as $T);
        let (e, n) = if $m.be {
            (e.to_be(), n.to_be())
        } else {
            (e.to_le(), n.to_le())
        };
        let raw = match a.compare_exchange(e, n, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(x) | Err(x) => x,
        };
        (if $m.be {
            <$T>::from_be(raw)
        } else {
            <$T>::from_le(raw)
        }) as u128
    }};
}

/// Atomic compare-and-exchange; returns the old value (zero-extended, guest byte order).
fn atomic_cmpxchg(mem: &GuestMemory, addr: u64, m: M, e: u128, n: u128) -> Result<u128, MemFault> {
    let p = atomic_access(mem, addr, m)?;
    // SAFETY: `atomic_access` approved the naturally aligned range.
    Ok(unsafe { host_cmpxchg(p, m, e, n) })
}

/// Atomic compare-and-exchange on host memory at `p`; returns the old value.
///
/// # Safety
/// As for [`host_rmw`].
unsafe fn host_cmpxchg(p: *mut u8, m: M, e: u128, n: u128) -> u128 {
    match m.size {
        1 => cas_once!(p, AtomicU8, u8, m, e, n),
        2 => cas_once!(p, AtomicU16, u16, m, e, n),
        4 => cas_once!(p, AtomicU32, u32, m, e, n),
        8 => cas_once!(p, AtomicU64, u64, m, e, n),
        _ => {
            let (e, n) = if m.be {
                (e.to_be(), n.to_be())
            } else {
                (e.to_le(), n.to_le())
            };
            // SAFETY: checked readable and writable, 16-byte aligned.
            let raw = unsafe { cas16(p.cast::<u128>(), e, n) };
            if m.be {
                u128::from_be(raw)
            } else {
                u128::from_le(raw)
            }
        }
    }
}

/// Guest memory as the interpreter sees it: user-mode [`GuestMemory`] or the softmmu.
trait MemIf {
    fn load(&self, addr: u64, m: M) -> Result<u128, MemFault>;
    fn store(&self, addr: u64, m: M, v: u128) -> Result<(), MemFault>;
    fn rmw(&self, addr: u64, m: M, op: RmwOp, v: u128) -> Result<u128, MemFault>;
    fn cmpxchg(&self, addr: u64, m: M, e: u128, n: u128) -> Result<u128, MemFault>;
}

impl MemIf for GuestMemory {
    #[inline]
    fn load(&self, addr: u64, m: M) -> Result<u128, MemFault> {
        load(self, addr, m)
    }
    #[inline]
    fn store(&self, addr: u64, m: M, v: u128) -> Result<(), MemFault> {
        store(self, addr, m, v)
    }
    fn rmw(&self, addr: u64, m: M, op: RmwOp, v: u128) -> Result<u128, MemFault> {
        atomic_rmw(self, addr, m, op, v)
    }
    fn cmpxchg(&self, addr: u64, m: M, e: u128, n: u128) -> Result<u128, MemFault> {
        atomic_cmpxchg(self, addr, m, e, n)
    }
}

/// One guest memory access of [`system_access`].
pub(crate) enum SysAccess {
    Load,
    Store(u128),
    Rmw(RmwOp, u128),
    Cmpxchg(u128, u128),
}

/// One guest memory access through the softmmu with the interpreter's semantics (the JIT's
/// slow paths use it, so both tiers agree bit for bit). Returns the loaded or old value,
/// zero-extended from `mem.size` bytes (0 for a store).
///
/// # Safety
/// As for [`InterpBlock::run_system`]: `env` is the live CPU state of the calling vCPU
/// thread with its Tlb at `sys.tlb_offset`; `mem.mmu_idx < MAX_MMU_IDX`.
pub(crate) unsafe fn system_access(
    sys: &SoftmmuConfig,
    env: *mut u8,
    addr: u64,
    mem: MemOp,
    op: SysAccess,
) -> Result<u128, MemFault> {
    let m = M::of(mem);
    let sm = SysMem { sys, env };
    match op {
        SysAccess::Load => sm.load(addr, m),
        SysAccess::Store(v) => sm.store(addr, m, v).map(|()| 0),
        SysAccess::Rmw(op, v) => sm.rmw(addr, m, op, v),
        SysAccess::Cmpxchg(e, n) => sm.cmpxchg(addr, m, e, n),
    }
}

/// The softmmu of one vCPU, for the duration of one block run.
struct SysMem<'a> {
    sys: &'a SoftmmuConfig,
    env: *mut u8,
}

impl MemIf for SysMem<'_> {
    fn load(&self, addr: u64, m: M) -> Result<u128, MemFault> {
        // SAFETY: `run_system`'s contract: env is the live CPU state with its Tlb.
        unsafe {
            self.sys
                .load(self.env, addr, m.size, m.aligned, m.be, m.mmu)
        }
    }
    fn store(&self, addr: u64, m: M, v: u128) -> Result<(), MemFault> {
        // SAFETY: as in `load`.
        unsafe {
            self.sys
                .store(self.env, addr, m.size, m.aligned, m.be, m.mmu, v)
        }
    }
    fn rmw(&self, addr: u64, m: M, op: RmwOp, v: u128) -> Result<u128, MemFault> {
        let bits = m.size as u32 * 8;
        // SAFETY: as in `load`; `atomic` hands `host_rmw` a naturally aligned pointer into
        // a translated RAM page.
        unsafe {
            self.sys.atomic(
                self.env,
                addr,
                m.size,
                m.be,
                m.mmu,
                |p| host_rmw(p, m, op, v),
                |old| {
                    Some(if m.size == 16 {
                        arith::rmw128(op, old, v)
                    } else {
                        arith::rmw(op, bits, old as u64, v as u64) as u128
                    })
                },
            )
        }
    }
    fn cmpxchg(&self, addr: u64, m: M, e: u128, n: u128) -> Result<u128, MemFault> {
        let mask = if m.size == 16 {
            u128::MAX
        } else {
            (1u128 << (m.size as u32 * 8)) - 1
        };
        // SAFETY: as in `rmw`.
        unsafe {
            self.sys.atomic(
                self.env,
                addr,
                m.size,
                m.be,
                m.mmu,
                |p| host_cmpxchg(p, m, e, n),
                |old| (old == e & mask).then_some(n & mask),
            )
        }
    }
}

#[cfg(test)]
mod tests;
