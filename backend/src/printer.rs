//! The IR text printer: one readable line per op, for `-d op` traces, tests and the teaching
//! guide. Guest globals are shown by the names the frontend gives their CPU-state offsets.
//!
//! ```text
//! block 0x10078: 3 insns, 12 bytes
//! ---- 0x10078
//!   t0:i64 = global a0
//!   t1:i64 = const 0x10
//!   t2:i64 = add t0, t1
//!   global a1 = t2
//!   t3:i64 = load.s32.le [t2]
//! L0:
//!   brcond t3, L0
//!   goto_block 0x1008c
//! ```

use crate::ir::{
    BinOp, Block, Cond, ConvOp, ExitStatus, FCond, FenceKind, MemOp, Op, RmwOp, Temp, Ty, UnOp,
};
use std::fmt::Write;

/// Mnemonic of a binary op.
pub fn bin_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "sub",
        BinOp::Mul => "mul",
        BinOp::MulHS => "mulhs",
        BinOp::MulHU => "mulhu",
        BinOp::MulHSU => "mulhsu",
        BinOp::DivS => "divs",
        BinOp::DivU => "divu",
        BinOp::RemS => "rems",
        BinOp::RemU => "remu",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::Xor => "xor",
        BinOp::AndNot => "andnot",
        BinOp::OrNot => "ornot",
        BinOp::XorNot => "xornot",
        BinOp::Shl => "shl",
        BinOp::ShrU => "shru",
        BinOp::ShrS => "shrs",
        BinOp::Rotl => "rotl",
        BinOp::Rotr => "rotr",
        BinOp::MinS => "mins",
        BinOp::MinU => "minu",
        BinOp::MaxS => "maxs",
        BinOp::MaxU => "maxu",
        BinOp::FAdd => "fadd",
        BinOp::FSub => "fsub",
        BinOp::FMul => "fmul",
        BinOp::FDiv => "fdiv",
    }
}

/// Mnemonic of a unary op.
pub fn un_name(op: UnOp) -> &'static str {
    match op {
        UnOp::Not => "not",
        UnOp::Neg => "neg",
        UnOp::Clz => "clz",
        UnOp::Ctz => "ctz",
        UnOp::Popcnt => "popcnt",
        UnOp::Bswap => "bswap",
        UnOp::Bitrev => "bitrev",
        UnOp::FNeg => "fneg",
        UnOp::FAbs => "fabs",
        UnOp::FSqrt => "fsqrt",
    }
}

fn cond_name(c: Cond) -> &'static str {
    match c {
        Cond::Eq => "eq",
        Cond::Ne => "ne",
        Cond::LtS => "lts",
        Cond::LeS => "les",
        Cond::GtS => "gts",
        Cond::GeS => "ges",
        Cond::LtU => "ltu",
        Cond::LeU => "leu",
        Cond::GtU => "gtu",
        Cond::GeU => "geu",
    }
}

fn fcond_name(c: FCond) -> &'static str {
    match c {
        FCond::Eq => "eq",
        FCond::Lt => "lt",
        FCond::Le => "le",
        FCond::Unordered => "uno",
    }
}

fn conv_name(op: ConvOp) -> &'static str {
    match op {
        ConvOp::SToF => "stof",
        ConvOp::UToF => "utof",
        ConvOp::FToS => "ftos",
        ConvOp::FToU => "ftou",
        ConvOp::FToF => "ftof",
        ConvOp::Bitcast => "bitcast",
    }
}

fn rmw_name(op: RmwOp) -> &'static str {
    match op {
        RmwOp::Xchg => "xchg",
        RmwOp::Add => "add",
        RmwOp::And => "and",
        RmwOp::Or => "or",
        RmwOp::Xor => "xor",
        RmwOp::MinS => "mins",
        RmwOp::MaxS => "maxs",
        RmwOp::MinU => "minu",
        RmwOp::MaxU => "maxu",
    }
}

fn status_name(s: ExitStatus) -> &'static str {
    match s {
        ExitStatus::Next => "next",
        ExitStatus::Interrupted => "interrupted",
        ExitStatus::Fault => "fault",
        ExitStatus::Exception => "exception",
        ExitStatus::Halt => "halt",
    }
}

/// `.s32.le`, `.u8.be.al`, `.u64.le.mmu1`: sign and size, byte order, alignment, MMU index.
/// Stores (`with_sign` false) show the size alone: `.32.le`.
fn mem_suffix(m: MemOp, with_sign: bool) -> String {
    let mut s = String::from(".");
    if with_sign {
        s.push(if m.signed { 's' } else { 'u' });
    }
    let _ = write!(
        s,
        "{}.{}",
        m.size as u32 * 8,
        if m.big_endian { "be" } else { "le" }
    );
    if m.aligned {
        s.push_str(".al");
    }
    if m.mmu_idx != 0 {
        let _ = write!(s, ".mmu{}", m.mmu_idx);
    }
    s
}

/// The short name of a helper: the last path segment of its function.
fn helper_name(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name).trim()
}

struct P<'a> {
    block: &'a Block,
    names: &'a dyn Fn(u32) -> Option<String>,
}

impl P<'_> {
    fn ty(&self, t: Temp) -> Option<Ty> {
        self.block.temps.get(t.0 as usize).copied()
    }
    /// `t3:i64`, the destination with its declared type.
    fn def(&self, t: Temp) -> String {
        match self.ty(t) {
            Some(ty) => format!("t{}:{ty}", t.0),
            None => format!("t{}:?", t.0),
        }
    }
    fn global(&self, offset: u32) -> String {
        (self.names)(offset).unwrap_or_else(|| format!("env+{offset:#x}"))
    }
    /// `.i32` when the op's type differs from the temporary's (a narrow global access).
    fn ty_note(&self, ty: Ty, t: Temp) -> String {
        if self.ty(t) == Some(ty) {
            String::new()
        } else {
            format!(".{ty}")
        }
    }

    fn op(&self, op: &Op) -> String {
        match op {
            Op::InsnStart { pc } => format!("---- {pc:#x}"),
            Op::Label { label } => format!("L{}:", label.0),
            Op::Const { dst, ty, value } => {
                let note = match ty {
                    Ty::F32 => format!(" ({:?})", f32::from_bits(*value as u32)),
                    Ty::F64 => format!(" ({:?})", f64::from_bits(*value)),
                    _ => String::new(),
                };
                format!("  {} = const {value:#x}{note}", self.def(*dst))
            }
            Op::Mov { dst, src } => format!("  {} = mov t{}", self.def(*dst), src.0),
            Op::GetGlobal { dst, ty, offset } => format!(
                "  {} = global{} {}",
                self.def(*dst),
                self.ty_note(*ty, *dst),
                self.global(*offset)
            ),
            Op::SetGlobal { offset, ty, src } => format!(
                "  global{} {} = t{}",
                self.ty_note(*ty, *src),
                self.global(*offset),
                src.0
            ),
            Op::Bin { op, dst, a, b, .. } => format!(
                "  {} = {} t{}, t{}",
                self.def(*dst),
                bin_name(*op),
                a.0,
                b.0
            ),
            Op::Un { op, dst, a, .. } => {
                format!("  {} = {} t{}", self.def(*dst), un_name(*op), a.0)
            }
            Op::Ext {
                dst,
                to,
                src,
                from,
                signed,
            } => {
                let kind = if to.bits() < from.bits() {
                    "trunc"
                } else if *signed {
                    "sext"
                } else {
                    "zext"
                };
                format!("  {} = {kind}.{from} t{}", self.def(*dst), src.0)
            }
            Op::Extract {
                dst,
                src,
                pos,
                len,
                signed,
                ..
            } => format!(
                "  {} = extract.{} t{}[{}..{}]",
                self.def(*dst),
                if *signed { 's' } else { 'u' },
                src.0,
                pos,
                *pos as u32 + *len as u32
            ),
            Op::Deposit {
                dst,
                base,
                val,
                pos,
                len,
                ..
            } => format!(
                "  {} = deposit t{}[{}..{}], t{}",
                self.def(*dst),
                base.0,
                pos,
                *pos as u32 + *len as u32,
                val.0
            ),
            Op::SetCond {
                cond, dst, a, b, ..
            } => format!(
                "  {} = setcond {} t{}, t{}",
                self.def(*dst),
                cond_name(*cond),
                a.0,
                b.0
            ),
            Op::FCmp {
                cond, dst, a, b, ..
            } => format!(
                "  {} = fcmp {} t{}, t{}",
                self.def(*dst),
                fcond_name(*cond),
                a.0,
                b.0
            ),
            Op::Select {
                dst, cond, a, b, ..
            } => format!(
                "  {} = select t{}, t{}, t{}",
                self.def(*dst),
                cond.0,
                a.0,
                b.0
            ),
            Op::Conv { op, dst, src, .. } => {
                format!("  {} = {} t{}", self.def(*dst), conv_name(*op), src.0)
            }
            Op::FMa { dst, a, b, c, .. } => {
                format!("  {} = fma t{}, t{}, t{}", self.def(*dst), a.0, b.0, c.0)
            }
            Op::Load { dst, addr, mem, .. } => format!(
                "  {} = load{} [t{}]",
                self.def(*dst),
                mem_suffix(*mem, true),
                addr.0
            ),
            Op::Store { val, addr, mem, .. } => format!(
                "  store{} [t{}] = t{}",
                mem_suffix(*mem, false),
                addr.0,
                val.0
            ),
            Op::AtomicRmw {
                op,
                dst,
                addr,
                val,
                mem,
                ..
            } => format!(
                "  {} = atomic_{}{} [t{}], t{}",
                self.def(*dst),
                rmw_name(*op),
                mem_suffix(*mem, true),
                addr.0,
                val.0
            ),
            Op::Cmpxchg {
                dst,
                addr,
                expected,
                new,
                mem,
                ..
            } => format!(
                "  {} = cmpxchg{} [t{}], t{}, t{}",
                self.def(*dst),
                mem_suffix(*mem, true),
                addr.0,
                expected.0,
                new.0
            ),
            Op::Fence { kind } => format!(
                "  fence.{}",
                match kind {
                    FenceKind::Acquire => "acquire",
                    FenceKind::Release => "release",
                    FenceKind::SeqCst => "seqcst",
                }
            ),
            Op::Call { helper, args, dst } => {
                let args: Vec<String> = args.iter().map(|a| format!("t{}", a.0)).collect();
                let call = format!("call {}({})", helper_name(helper.name), args.join(", "));
                match dst {
                    Some(d) => format!("  t{} = {call}", d.0),
                    None => format!("  {call}"),
                }
            }
            Op::Br { label } => format!("  br L{}", label.0),
            Op::BrCond { cond, label } => format!("  brcond t{}, L{}", cond.0, label.0),
            Op::GotoBlock { pc } => format!("  goto_block {pc:#x}"),
            Op::ExitIndirect { pc } => format!("  exit_indirect t{}", pc.0),
            Op::Exit { status, pc } => format!("  exit {}, t{}", status_name(*status), pc.0),
        }
    }
}

/// The text of one op (as it appears in [`print_block`], without the newline).
pub fn print_op(block: &Block, op: &Op, names: &dyn Fn(u32) -> Option<String>) -> String {
    P { block, names }.op(op)
}

/// The text of a whole block: a header line, then one line per op (instruction markers
/// `---- pc` and labels `L0:` at the left margin, other ops indented).
pub fn print_block(block: &Block, names: &dyn Fn(u32) -> Option<String>) -> String {
    let p = P { block, names };
    let mut out = format!(
        "block {:#x}: {} insns, {} bytes\n",
        block.pc, block.num_insns, block.guest_size
    );
    for op in &block.ops {
        out.push_str(&p.op(op));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Builder;
    use crate::ir::{Effects, MemOp};

    extern "C" fn fadd_s(_: *mut u8, a: u64, b: u64) -> u64 {
        a + b
    }
    crate::helper!(FADD_S = fadd_s, 2, Effects::RAISES);

    fn names(off: u32) -> Option<String> {
        match off {
            0x48 => Some("a0".into()),
            0x50 => Some("a1".into()),
            _ => None,
        }
    }

    #[test]
    fn prints_a_small_block_exactly() {
        let mut b = Builder::new(0x10078);
        b.insn_start(0x10078);
        let a0 = b.get_global(Ty::I64, 0x48);
        let k = b.const64(16);
        let s = b.bin(BinOp::Add, a0, k);
        b.set_global(Ty::I64, 0x50, s);
        b.insn_start(0x1007c);
        let v = b.load(Ty::I64, s, MemOp::le(4, true));
        let w = b.load(
            Ty::I32,
            s,
            MemOp {
                big_endian: true,
                ..MemOp::le(2, false)
            }
            .with_aligned(),
        );
        b.store(w, s, MemOp::le(4, false));
        let n = b.get_global(Ty::I32, 0x48);
        b.set_global(Ty::I32, 0x99, n);
        let l = b.new_label();
        b.label(l);
        let z = b.const64(0);
        let c = b.setcond(Cond::LtU, v, z);
        let x = b.sext(w, Ty::I64);
        let y = b.extract(x, 8, 4, true);
        let f = b.conv(ConvOp::SToF, y, Ty::F64);
        let r = b.call(&FADD_S, &[f, f]);
        b.call_void(&FADD_S, &[r, r]);
        let old = b.atomic_rmw(RmwOp::Add, s, v, MemOp::le(8, false));
        let sel = b.select(c, old, v);
        b.br_cond(sel, l);
        b.insn_start(0x10080);
        b.goto_block(0x1008c);
        let mut block = b.finish();
        block.num_insns = 3;
        block.guest_size = 12;
        let text = print_block(&block, &names);
        let want = "\
block 0x10078: 3 insns, 12 bytes
---- 0x10078
  t0:i64 = global a0
  t1:i64 = const 0x10
  t2:i64 = add t0, t1
  global a1 = t2
---- 0x1007c
  t3:i64 = load.s32.le [t2]
  t4:i32 = load.u16.be.al [t2]
  store.32.le [t2] = t4
  t5:i32 = global a0
  global env+0x99 = t5
L0:
  t6:i64 = const 0x0
  t7:i64 = setcond ltu t3, t6
  t8:i64 = sext.i32 t4
  t9:i64 = extract.s t8[8..12]
  t10:f64 = stof t9
  t11 = call fadd_s(t10, t10)
  call fadd_s(t11, t11)
  t12:i64 = atomic_add.u64.le [t2], t3
  t13:i64 = select t7, t12, t3
  brcond t13, L0
---- 0x10080
  goto_block 0x1008c
";
        assert_eq!(text, want, "\n{text}");
    }

    #[test]
    fn prints_every_other_op() {
        let mut b = Builder::new(0);
        let a = b.const_(Ty::I32, 5);
        let n = b.un(UnOp::Clz, a);
        let t = b.trunc(n, Ty::I8);
        let d = b.deposit(a, n, 4, 8);
        let f = b.const_(Ty::F32, 1.5f32.to_bits() as u64);
        let g = b.fcmp(FCond::Unordered, f, f);
        let h = b.fma(f, f, f);
        let i = b.conv(ConvOp::Bitcast, h, Ty::I32);
        let m = b.temp(Ty::I32);
        b.mov(m, i);
        let addr = b.const64(0x100);
        let o = b.cmpxchg(addr, a, d, MemOp::le(4, false));
        b.fence(FenceKind::SeqCst);
        let l = b.new_label();
        b.br(l);
        b.label(l);
        b.exit_indirect(addr);
        b.exit(ExitStatus::Exception, 0x40);
        let block = b.finish();
        let lines: Vec<String> = block
            .ops
            .iter()
            .map(|op| print_op(&block, op, &|_| None))
            .collect();
        let want = [
            "  t0:i32 = const 0x5",
            "  t1:i32 = clz t0",
            "  t2:i8 = trunc.i32 t1",
            "  t3:i32 = deposit t0[4..12], t1",
            "  t4:f32 = const 0x3fc00000 (1.5)",
            "  t5:i64 = fcmp uno t4, t4",
            "  t6:f32 = fma t4, t4, t4",
            "  t7:i32 = bitcast t6",
            "  t8:i32 = mov t7",
            "  t9:i64 = const 0x100",
            "  t10:i32 = cmpxchg.u32.le [t9], t0, t3",
            "  fence.seqcst",
            "  br L0",
            "L0:",
            "  exit_indirect t9",
            "  t11:i64 = const 0x40",
            "  exit exception, t11",
        ];
        assert_eq!(lines, want);
        let _ = (t, g, o);
    }
}
