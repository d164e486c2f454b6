//! The IR verifier: checks that a [`Block`] is well formed before the interpreter or the JIT
//! consume it (the engine runs it in debug builds). It checks operand ranges and types of
//! every op, label placement, the final terminator, helper-call arity and memory-access
//! shapes. It does not check values (constants wider than their type are truncated by the
//! consumers) nor that guest global offsets lie inside the CPU state.
//!
//! Type rules in short: integer ops take I8..I128 (the bitwise ops `and/or/xor/andnot/ornot/
//! xornot/not` also V128); float ops take F32/F64; comparison results, select conditions,
//! branch conditions, addresses, exit PCs and call results are I64; call arguments are at most
//! 64 bits wide; atomics are integer accesses of 1, 2, 4 or 8 bytes.

use crate::ir::{BinOp, Block, ConvOp, Helper, Label, MemOp, Op, Temp, Ty, UnOp};
use crate::printer::print_op;

/// Why a block is malformed. `op` is the index of the offending op in [`Block::ops`]
/// (`ops.len()` for "the block does not end with a terminator" on an empty block).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A temporary index beyond [`Block::temps`].
    #[error("op {op}: {msg}")]
    TempOutOfRange { op: usize, msg: String },
    /// An operand or result whose declared type does not match what the op needs.
    #[error("op {op}: {msg}")]
    TempType { op: usize, msg: String },
    /// An op applied to a type it does not support (float op on integers, ...).
    #[error("op {op}: {msg}")]
    OpType { op: usize, msg: String },
    /// Label out of range, placed twice, never placed or branched to but never placed.
    #[error("op {op}: {msg}")]
    Label { op: usize, msg: String },
    /// The last op is not a terminator (or the block is empty).
    #[error("op {op}: {msg}")]
    NoTerminator { op: usize, msg: String },
    /// Call argument count or types wrong.
    #[error("op {op}: {msg}")]
    Call { op: usize, msg: String },
    /// Memory access size not allowed for the op or its type.
    #[error("op {op}: {msg}")]
    MemSize { op: usize, msg: String },
    /// Extract/deposit bit field outside its type.
    #[error("op {op}: {msg}")]
    BitField { op: usize, msg: String },
}

impl VerifyError {
    /// Index of the offending op.
    pub fn op(&self) -> usize {
        match self {
            VerifyError::TempOutOfRange { op, .. }
            | VerifyError::TempType { op, .. }
            | VerifyError::OpType { op, .. }
            | VerifyError::Label { op, .. }
            | VerifyError::NoTerminator { op, .. }
            | VerifyError::Call { op, .. }
            | VerifyError::MemSize { op, .. }
            | VerifyError::BitField { op, .. } => *op,
        }
    }
}

type Mk = fn(usize, String) -> VerifyError;

fn mk_temp_range(op: usize, msg: String) -> VerifyError {
    VerifyError::TempOutOfRange { op, msg }
}
fn mk_temp_type(op: usize, msg: String) -> VerifyError {
    VerifyError::TempType { op, msg }
}
fn mk_op_type(op: usize, msg: String) -> VerifyError {
    VerifyError::OpType { op, msg }
}
fn mk_label(op: usize, msg: String) -> VerifyError {
    VerifyError::Label { op, msg }
}
fn mk_call(op: usize, msg: String) -> VerifyError {
    VerifyError::Call { op, msg }
}
fn mk_mem(op: usize, msg: String) -> VerifyError {
    VerifyError::MemSize { op, msg }
}
fn mk_field(op: usize, msg: String) -> VerifyError {
    VerifyError::BitField { op, msg }
}

/// Which types an op accepts.
#[derive(Clone, Copy)]
enum Class {
    Int,
    /// Integers and V128 (bitwise ops).
    Bits,
    Float,
}

impl Class {
    fn admits(self, ty: Ty) -> bool {
        match self {
            Class::Int => ty.is_int(),
            Class::Bits => ty.is_int() || ty == Ty::V128,
            Class::Float => ty.is_float(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Class::Int => "an integer type",
            Class::Bits => "an integer type or v128",
            Class::Float => "f32 or f64",
        }
    }
}

fn bin_class(op: BinOp) -> Class {
    match op {
        BinOp::And | BinOp::Or | BinOp::Xor | BinOp::AndNot | BinOp::OrNot | BinOp::XorNot => {
            Class::Bits
        }
        BinOp::FAdd | BinOp::FSub | BinOp::FMul | BinOp::FDiv => Class::Float,
        _ => Class::Int,
    }
}

fn un_class(op: UnOp) -> Class {
    match op {
        UnOp::Not => Class::Bits,
        UnOp::FNeg | UnOp::FAbs | UnOp::FSqrt => Class::Float,
        _ => Class::Int,
    }
}

struct V<'a> {
    block: &'a Block,
    i: usize,
}

impl V<'_> {
    fn err(&self, mk: Mk, what: String) -> VerifyError {
        let text = print_op(self.block, &self.block.ops[self.i], &|_| None);
        mk(self.i, format!("{what} in `{}`", text.trim()))
    }

    /// Declared type of `t`.
    fn ty(&self, t: Temp) -> Result<Ty, VerifyError> {
        self.block.temps.get(t.0 as usize).copied().ok_or_else(|| {
            self.err(
                mk_temp_range,
                format!(
                    "t{} out of range (block has {} temps)",
                    t.0,
                    self.block.temps.len()
                ),
            )
        })
    }

    /// `t` must have type `want`.
    fn is(&self, t: Temp, want: Ty, role: &str) -> Result<(), VerifyError> {
        let ty = self.ty(t)?;
        if ty != want {
            return Err(self.err(
                mk_temp_type,
                format!("{role} t{} is {ty}, expected {want}", t.0),
            ));
        }
        Ok(())
    }

    /// The op's type must be in `class`.
    fn class(&self, ty: Ty, class: Class) -> Result<(), VerifyError> {
        if !class.admits(ty) {
            return Err(self.err(
                mk_op_type,
                format!("type {ty} not allowed, expected {}", class.name()),
            ));
        }
        Ok(())
    }

    fn label(&self, l: Label) -> Result<(), VerifyError> {
        if l.0 >= self.block.num_labels {
            return Err(self.err(
                mk_label,
                format!(
                    "L{} out of range (block has {} labels)",
                    l.0, self.block.num_labels
                ),
            ));
        }
        Ok(())
    }

    fn mem(&self, m: MemOp, ty: Ty, atomic: bool) -> Result<(), VerifyError> {
        let sizes: &[u8] = if atomic {
            &[1, 2, 4, 8]
        } else {
            &[1, 2, 4, 8, 16]
        };
        if !sizes.contains(&m.size) {
            return Err(self.err(
                mk_mem,
                format!(
                    "{}access size {} not in {sizes:?}",
                    if atomic { "atomic " } else { "" },
                    m.size
                ),
            ));
        }
        if m.size as u32 > ty.bytes() {
            return Err(self.err(mk_mem, format!("access size {} wider than {ty}", m.size)));
        }
        if ty.is_float() && m.size as u32 != ty.bytes() {
            return Err(self.err(
                mk_mem,
                format!("a {ty} access must be {} bytes, not {}", ty.bytes(), m.size),
            ));
        }
        if ty.is_float() && m.signed {
            return Err(self.err(mk_mem, format!("a {ty} access cannot sign-extend")));
        }
        Ok(())
    }

    fn field(&self, ty: Ty, pos: u8, len: u8) -> Result<(), VerifyError> {
        if len == 0 || pos as u32 + len as u32 > ty.bits() {
            return Err(self.err(
                mk_field,
                format!("bit field [{pos}, {pos}+{len}) not a nonempty part of {ty}"),
            ));
        }
        Ok(())
    }

    fn op(&self, op: &Op) -> Result<(), VerifyError> {
        match *op {
            Op::InsnStart { .. } | Op::Fence { .. } | Op::GotoBlock { .. } | Op::Label { .. } => {}
            Op::Const { dst, ty, .. } => self.is(dst, ty, "dst")?,
            Op::Mov { dst, src } => {
                let ty = self.ty(dst)?;
                self.is(src, ty, "src")?;
            }
            Op::GetGlobal { dst, ty, .. } => self.is(dst, ty, "dst")?,
            Op::SetGlobal { ty, src, .. } => self.is(src, ty, "src")?,
            Op::Bin { op, ty, dst, a, b } => {
                self.is(dst, ty, "dst")?;
                self.is(a, ty, "a")?;
                self.is(b, ty, "b")?;
                self.class(ty, bin_class(op))?;
            }
            Op::Un { op, ty, dst, a } => {
                self.is(dst, ty, "dst")?;
                self.is(a, ty, "a")?;
                self.class(ty, un_class(op))?;
            }
            Op::Ext {
                dst, to, src, from, ..
            } => {
                self.is(dst, to, "dst")?;
                self.is(src, from, "src")?;
                self.class(to, Class::Int)?;
                self.class(from, Class::Int)?;
            }
            Op::Extract {
                dst,
                ty,
                src,
                pos,
                len,
                ..
            } => {
                self.is(dst, ty, "dst")?;
                self.is(src, ty, "src")?;
                self.class(ty, Class::Int)?;
                self.field(ty, pos, len)?;
            }
            Op::Deposit {
                dst,
                ty,
                base,
                val,
                pos,
                len,
            } => {
                self.is(dst, ty, "dst")?;
                self.is(base, ty, "base")?;
                self.is(val, ty, "val")?;
                self.class(ty, Class::Int)?;
                self.field(ty, pos, len)?;
            }
            Op::SetCond { ty, dst, a, b, .. } => {
                self.is(dst, Ty::I64, "dst")?;
                self.is(a, ty, "a")?;
                self.is(b, ty, "b")?;
                self.class(ty, Class::Int)?;
            }
            Op::FCmp { ty, dst, a, b, .. } => {
                self.is(dst, Ty::I64, "dst")?;
                self.is(a, ty, "a")?;
                self.is(b, ty, "b")?;
                self.class(ty, Class::Float)?;
            }
            Op::Select {
                ty,
                dst,
                cond,
                a,
                b,
            } => {
                self.is(dst, ty, "dst")?;
                self.is(cond, Ty::I64, "cond")?;
                self.is(a, ty, "a")?;
                self.is(b, ty, "b")?;
            }
            Op::Conv {
                op,
                dst,
                to,
                src,
                from,
            } => {
                self.is(dst, to, "dst")?;
                self.is(src, from, "src")?;
                match op {
                    ConvOp::SToF | ConvOp::UToF => {
                        self.class(from, Class::Int)?;
                        self.class(to, Class::Float)?;
                    }
                    ConvOp::FToS | ConvOp::FToU => {
                        self.class(from, Class::Float)?;
                        self.class(to, Class::Int)?;
                    }
                    ConvOp::FToF => {
                        self.class(from, Class::Float)?;
                        self.class(to, Class::Float)?;
                    }
                    ConvOp::Bitcast => {
                        if from.bits() != to.bits() {
                            return Err(self.err(
                                mk_op_type,
                                format!("bitcast between {from} and {to} of different widths"),
                            ));
                        }
                    }
                }
            }
            Op::FMa { ty, dst, a, b, c } => {
                self.is(dst, ty, "dst")?;
                self.is(a, ty, "a")?;
                self.is(b, ty, "b")?;
                self.is(c, ty, "c")?;
                self.class(ty, Class::Float)?;
            }
            Op::Load { dst, ty, addr, mem } => {
                self.is(dst, ty, "dst")?;
                self.is(addr, Ty::I64, "addr")?;
                self.mem(mem, ty, false)?;
            }
            Op::Store { ty, val, addr, mem } => {
                self.is(val, ty, "val")?;
                self.is(addr, Ty::I64, "addr")?;
                self.mem(mem, ty, false)?;
            }
            Op::AtomicRmw {
                ty,
                dst,
                addr,
                val,
                mem,
                ..
            } => {
                self.is(dst, ty, "dst")?;
                self.is(addr, Ty::I64, "addr")?;
                self.is(val, ty, "val")?;
                self.class(ty, Class::Int)?;
                self.mem(mem, ty, true)?;
            }
            Op::Cmpxchg {
                ty,
                dst,
                addr,
                expected,
                new,
                mem,
            } => {
                self.is(dst, ty, "dst")?;
                self.is(addr, Ty::I64, "addr")?;
                self.is(expected, ty, "expected")?;
                self.is(new, ty, "new")?;
                self.class(ty, Class::Int)?;
                // A 16-byte compare-and-swap exists on I128 (see `Op::Cmpxchg`).
                if !(mem.size == 16 && ty == Ty::I128) {
                    self.mem(mem, ty, true)?;
                }
            }
            Op::Call {
                helper,
                ref args,
                dst,
            } => {
                if args.len() != helper.nargs as usize || args.len() > Helper::MAX_ARGS {
                    return Err(self.err(
                        mk_call,
                        format!(
                            "{} args passed, helper {} takes {} (at most {})",
                            args.len(),
                            helper.name,
                            helper.nargs,
                            Helper::MAX_ARGS
                        ),
                    ));
                }
                for a in args {
                    let ty = self.ty(*a)?;
                    if ty.bits() > 64 {
                        return Err(self.err(
                            mk_call,
                            format!("argument t{} is {ty}, wider than 64 bits", a.0),
                        ));
                    }
                }
                if let Some(d) = dst {
                    self.is(d, Ty::I64, "dst")?;
                }
            }
            Op::Br { label } => self.label(label)?,
            Op::BrCond { cond, label } => {
                self.is(cond, Ty::I64, "cond")?;
                self.label(label)?;
            }
            Op::ExitIndirect { pc } | Op::Exit { pc, .. } => self.is(pc, Ty::I64, "pc")?,
        }
        Ok(())
    }
}

/// Check that `block` is well formed; the first problem found is returned.
pub fn verify(block: &Block) -> Result<(), VerifyError> {
    let n = block.num_labels as usize;
    let mut placed = vec![false; n];
    let mut first_use: Vec<Option<usize>> = vec![None; n];
    for (i, op) in block.ops.iter().enumerate() {
        let v = V { block, i };
        v.op(op)?;
        match *op {
            Op::Label { label } => {
                v.label(label)?;
                let p = &mut placed[label.0 as usize];
                if *p {
                    return Err(v.err(mk_label, format!("L{} placed twice", label.0)));
                }
                *p = true;
            }
            Op::Br { label } | Op::BrCond { label, .. } => {
                first_use[label.0 as usize].get_or_insert(i);
            }
            _ => {}
        }
    }
    for l in 0..n {
        if !placed[l] {
            return Err(match first_use[l] {
                Some(i) => V { block, i }.err(mk_label, format!("L{l} is never placed")),
                None => VerifyError::Label {
                    op: block.ops.len(),
                    msg: format!("L{l} is declared but never placed"),
                },
            });
        }
    }
    match block.ops.last() {
        Some(op) if op.is_terminator() => Ok(()),
        Some(_) => Err(V {
            block,
            i: block.ops.len() - 1,
        }
        .err(
            |op, msg| VerifyError::NoTerminator { op, msg },
            "the block does not end with a terminator".into(),
        )),
        None => Err(VerifyError::NoTerminator {
            op: 0,
            msg: "the block is empty".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Builder;
    use crate::ir::{Cond, Effects, ExitStatus, FCond, FenceKind, MemOp, RmwOp};

    extern "C" fn h2(_: *mut u8, a: u64, b: u64) -> u64 {
        a ^ b
    }
    crate::helper!(H2 = h2, 2, Effects::PURE);

    /// A block that uses every op kind correctly.
    fn valid() -> Builder {
        let mut b = Builder::new(0x1000);
        b.insn_start(0x1000);
        let a = b.get_global(Ty::I64, 0x40);
        let k = b.const64(3);
        let s = b.bin(BinOp::Add, a, k);
        let n = b.un(UnOp::Popcnt, s);
        let w = b.trunc(n, Ty::I32);
        let x = b.extract(w, 4, 28, true);
        let d = b.deposit(x, w, 0, 32);
        let wide = b.zext(d, Ty::I128);
        let v = b.temp(Ty::V128);
        b.push(Op::Conv {
            op: ConvOp::Bitcast,
            dst: v,
            to: Ty::V128,
            src: wide,
            from: Ty::I128,
        });
        let v2 = b.bin(BinOp::Xor, v, v);
        let _ = b.un(UnOp::Not, v2);
        let c = b.setcond(Cond::LtU, s, k);
        let f = b.conv(ConvOp::SToF, s, Ty::F64);
        let g = b.bin(BinOp::FMul, f, f);
        let h = b.fma(f, g, f);
        let fc = b.fcmp(FCond::Le, g, h);
        let _ = b.conv(ConvOp::FToS, h, Ty::I32);
        let _ = b.conv(ConvOp::FToF, h, Ty::F32);
        let sel = b.select(c, g, h);
        b.set_global(Ty::F64, 0x48, sel);
        let ld = b.load(Ty::I32, s, MemOp::le(2, true));
        let fl = b.load(Ty::F64, s, MemOp::le(8, false));
        b.store(fl, s, MemOp::le(8, false));
        b.store(ld, s, MemOp::le(1, false));
        let q = b.load(Ty::I128, s, MemOp::le(16, false));
        b.store(q, s, MemOp::le(16, false));
        let _ = b.atomic_rmw(RmwOp::Add, s, ld, MemOp::le(4, false));
        let _ = b.cmpxchg(s, a, k, MemOp::le(8, false));
        b.fence(FenceKind::SeqCst);
        let r = b.call(&H2, &[ld, f]);
        b.call_void(&H2, &[r, fc]);
        let l0 = b.new_label();
        let l1 = b.new_label();
        b.br_cond(c, l1);
        b.label(l0);
        b.br_cond(c, l0);
        b.label(l1);
        b.mov(a, s);
        b.exit_indirect(a);
        b
    }

    #[test]
    fn valid_blocks_pass() {
        assert_eq!(verify(&valid().finish()), Ok(()));
        let mut b = Builder::new(0);
        b.goto_block(4);
        assert_eq!(verify(&b.finish()), Ok(()));
        let mut b = Builder::new(0);
        b.exit(ExitStatus::Exception, 0);
        assert_eq!(verify(&b.finish()), Ok(()));
    }

    /// The error of the block built by `f`, which must be rejected.
    fn with(f: impl FnOnce(&mut Builder)) -> VerifyError {
        let mut b = Builder::new(0);
        f(&mut b);
        verify(&b.finish()).expect_err("block should be rejected")
    }

    #[test]
    fn temp_out_of_range() {
        let e = with(|b| {
            let t = b.const64(1);
            b.push(Op::Mov {
                dst: t,
                src: Temp(7),
            });
            b.goto_block(0);
        });
        assert!(
            matches!(e, VerifyError::TempOutOfRange { op: 1, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("t7 out of range"), "{e}");
    }

    #[test]
    fn temp_of_wrong_type() {
        let e = with(|b| {
            let a = b.const64(1);
            let c = b.const_(Ty::I32, 1);
            let d = b.temp(Ty::I64);
            b.push(Op::Bin {
                op: BinOp::Add,
                ty: Ty::I64,
                dst: d,
                a,
                b: c,
            });
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::TempType { op: 2, .. }), "{e}");
        assert!(e.to_string().contains("b t1 is i32, expected i64"), "{e}");
        // Ext whose `from` disagrees with the source temp.
        let e = with(|b| {
            let a = b.const64(1);
            let d = b.temp(Ty::I32);
            b.push(Op::Ext {
                dst: d,
                to: Ty::I32,
                src: a,
                from: Ty::I16,
                signed: true,
            });
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::TempType { op: 1, .. }), "{e}");
        // Conditions, addresses and exit PCs must be I64.
        let e = with(|b| {
            let c = b.const_(Ty::I32, 1);
            let l = b.new_label();
            b.label(l);
            b.br_cond(c, l);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::TempType { op: 2, .. }), "{e}");
        let e = with(|b| {
            let a = b.const_(Ty::I32, 0x100);
            b.load(Ty::I64, a, MemOp::le(8, false));
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::TempType { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const64(1);
            let c = b.const_(Ty::I8, 1);
            b.select(c, a, a);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::TempType { op: 2, .. }), "{e}");
        // Conv whose `to` disagrees with the destination.
        let e = with(|b| {
            let a = b.const64(1);
            let d = b.temp(Ty::F32);
            b.push(Op::Conv {
                op: ConvOp::SToF,
                dst: d,
                to: Ty::F64,
                src: a,
                from: Ty::I64,
            });
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::TempType { op: 1, .. }), "{e}");
    }

    #[test]
    fn op_on_wrong_type_class() {
        let e = with(|b| {
            let f = b.const_(Ty::F64, 0);
            b.bin(BinOp::Add, f, f);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { op: 1, .. }), "{e}");
        let e = with(|b| {
            let i = b.const64(0);
            b.bin(BinOp::FAdd, i, i);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { op: 1, .. }), "{e}");
        let e = with(|b| {
            let i = b.const64(0);
            b.un(UnOp::FSqrt, i);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { .. }), "{e}");
        let e = with(|b| {
            let v = b.temp(Ty::V128);
            b.bin(BinOp::Add, v, v);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { .. }), "{e}");
        let e = with(|b| {
            let i = b.const64(0);
            b.conv(ConvOp::FToS, i, Ty::I32);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { .. }), "{e}");
        let e = with(|b| {
            let i = b.const64(0);
            b.conv(ConvOp::Bitcast, i, Ty::F32);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { .. }), "{e}");
        let e = with(|b| {
            let f = b.const_(Ty::F32, 0);
            b.setcond(Cond::Eq, f, f);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { .. }), "{e}");
        let e = with(|b| {
            let f = b.const_(Ty::F32, 0);
            b.ext(f, Ty::I64, false);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::OpType { .. }), "{e}");
    }

    #[test]
    fn label_errors() {
        // Out of range.
        let e = with(|b| {
            b.br(Label(3));
        });
        assert!(matches!(e, VerifyError::Label { op: 0, .. }), "{e}");
        // Placed twice.
        let e = with(|b| {
            let l = b.new_label();
            b.label(l);
            b.label(l);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::Label { op: 1, .. }), "{e}");
        // Branched to, never placed: reported at the branch.
        let e = with(|b| {
            let l = b.new_label();
            let c = b.const64(1);
            b.br_cond(c, l);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::Label { op: 1, .. }), "{e}");
        assert!(e.to_string().contains("L0 is never placed"), "{e}");
        // Declared, never placed.
        let e = with(|b| {
            b.new_label();
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::Label { op: 1, .. }), "{e}");
    }

    #[test]
    fn missing_terminator() {
        let e = with(|b| {
            b.const64(1);
        });
        assert!(matches!(e, VerifyError::NoTerminator { op: 0, .. }), "{e}");
        let e = with(|_| {});
        assert!(matches!(e, VerifyError::NoTerminator { .. }), "{e}");
        // A conditional branch does not end a block.
        let e = with(|b| {
            let l = b.new_label();
            b.label(l);
            let c = b.const64(1);
            b.br_cond(c, l);
        });
        assert!(matches!(e, VerifyError::NoTerminator { op: 2, .. }), "{e}");
    }

    #[test]
    fn call_errors() {
        let e = with(|b| {
            let a = b.const64(1);
            b.call(&H2, &[a]);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::Call { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const_(Ty::I128, 1);
            b.call(&H2, &[a, a]);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::Call { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const64(1);
            let d = b.temp(Ty::I32);
            b.push(Op::Call {
                helper: &H2,
                args: vec![a, a],
                dst: Some(d),
            });
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::TempType { op: 1, .. }), "{e}");
    }

    #[test]
    fn mem_size_errors() {
        let e = with(|b| {
            let a = b.const64(0);
            b.load(Ty::I64, a, MemOp::le(3, false));
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::MemSize { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const64(0);
            b.load(Ty::I32, a, MemOp::le(8, false));
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::MemSize { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const64(0);
            let v = b.const_(Ty::I16, 0);
            b.store(v, a, MemOp::le(4, false));
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::MemSize { op: 2, .. }), "{e}");
        let e = with(|b| {
            let a = b.const64(0);
            b.load(Ty::F64, a, MemOp::le(4, false));
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::MemSize { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const64(0);
            let v = b.const_(Ty::I128, 0);
            b.atomic_rmw(RmwOp::Add, a, v, MemOp::le(16, false));
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::MemSize { op: 2, .. }), "{e}");
    }

    #[test]
    fn bit_field_errors() {
        let e = with(|b| {
            let a = b.const_(Ty::I32, 0);
            b.extract(a, 30, 4, false);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::BitField { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const_(Ty::I8, 0);
            b.deposit(a, a, 0, 9);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::BitField { op: 1, .. }), "{e}");
        let e = with(|b| {
            let a = b.const64(0);
            b.extract(a, 3, 0, false);
            b.goto_block(0);
        });
        assert!(matches!(e, VerifyError::BitField { op: 1, .. }), "{e}");
    }

    #[test]
    fn errors_name_the_op() {
        let e = with(|b| {
            let f = b.const_(Ty::F64, 0);
            b.bin(BinOp::Add, f, f);
            b.goto_block(0);
        });
        assert_eq!(e.op(), 1);
        assert_eq!(
            e.to_string(),
            "op 1: type f64 not allowed, expected an integer type in `t1:f64 = add t0, t0`"
        );
    }
}
