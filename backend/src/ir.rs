//! The guest-neutral intermediate representation: one translation block is a flat list of
//! [`Op`]s over typed temporaries, guest globals (fields of the CPU state at fixed offsets),
//! guest memory, helper calls and block exits. Frontends build it with [`crate::builder`];
//! the interpreter and the Cranelift code generator consume it.
//!
//! Semantics that every consumer must implement identically (the interpreter is the
//! reference, the JIT must match it bit for bit):
//! - Temporaries are mutable local variables of one type each (declared in [`Block::temps`]);
//!   they may be assigned several times (e.g. on both sides of a branch). A temporary read
//!   before any assignment reads zero. Temporaries do not survive a block exit.
//! - Integer values of type I8..I64 are held zero-extended in 64 bits by the interpreter;
//!   every op produces a result truncated to its type. I128 and V128 are 128-bit values.
//!   F32/F64 temporaries hold raw IEEE bit patterns; FP ops use the host's default
//!   environment (round to nearest even, no exception flags observed). Guest-exact FP with
//!   rounding modes and flags is done in frontend helpers.
//! - Shift and rotate amounts are taken modulo the bit width of the type.
//! - `DivS/DivU/RemS/RemU` never trap and are fully defined: x DivU 0 = all ones,
//!   x RemU 0 = x, x DivS 0 = -1, x RemS 0 = x, MIN DivS -1 = MIN, MIN RemS -1 = 0 (the
//!   RISC-V answers; other frontends select their guest's answer around them).
//! - Guest memory addresses are 64-bit guest virtual addresses. A memory op that faults
//!   (unmapped, protected, misaligned where the MemOp demands alignment) ends the block with
//!   [`ExitStatus::Fault`], having stored the PC of the current guest instruction (the last
//!   [`Op::InsnStart`]) in `CpuHeader::pc` and the faulting address and access kind in
//!   `CpuHeader::fault_addr` / `fault_kind`. No later op of the block takes effect, no earlier
//!   op is undone.
//! - A helper whose effects include `may_raise` signals an exception by storing a nonzero
//!   status into `CpuHeader::pending_status` and returning; the backend checks it after the
//!   call and, when nonzero, stores the current instruction's PC into `CpuHeader::pc`, clears
//!   `pending_status` and ends the block with that status (an [`ExitStatus`] value).

use std::fmt;

/// Value types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    I8,
    I16,
    I32,
    I64,
    I128,
    F32,
    F64,
    V128,
}

impl Ty {
    /// Width in bits.
    pub fn bits(self) -> u32 {
        match self {
            Ty::I8 => 8,
            Ty::I16 => 16,
            Ty::I32 | Ty::F32 => 32,
            Ty::I64 | Ty::F64 => 64,
            Ty::I128 | Ty::V128 => 128,
        }
    }
    pub fn bytes(self) -> u32 {
        self.bits() / 8
    }
    pub fn is_int(self) -> bool {
        matches!(self, Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64 | Ty::I128)
    }
    pub fn is_float(self) -> bool {
        matches!(self, Ty::F32 | Ty::F64)
    }
    /// The integer type of the given width in bytes (1, 2, 4, 8, 16).
    pub fn int_of_bytes(bytes: u32) -> Option<Ty> {
        Some(match bytes {
            1 => Ty::I8,
            2 => Ty::I16,
            4 => Ty::I32,
            8 => Ty::I64,
            16 => Ty::I128,
            _ => return None,
        })
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Ty::I8 => "i8",
            Ty::I16 => "i16",
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::I128 => "i128",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
            Ty::V128 => "v128",
        };
        f.write_str(s)
    }
}

/// A block-local temporary. Index into [`Block::temps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Temp(pub u32);

/// A branch target inside a block. Index < [`Block::num_labels`]; placed once by [`Op::Label`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(pub u32);

/// Two-operand operations. Both operands and the result have the op's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    /// High half of the signed x signed product.
    MulHS,
    /// High half of the unsigned x unsigned product.
    MulHU,
    /// High half of the signed (first operand) x unsigned (second) product.
    MulHSU,
    DivS,
    DivU,
    RemS,
    RemU,
    And,
    Or,
    Xor,
    /// a & !b
    AndNot,
    /// a | !b
    OrNot,
    /// !(a ^ b)
    XorNot,
    Shl,
    ShrU,
    ShrS,
    Rotl,
    Rotr,
    MinS,
    MinU,
    MaxS,
    MaxU,
    /// Float ops (F32/F64), host default environment.
    FAdd,
    FSub,
    FMul,
    FDiv,
}

impl BinOp {
    /// Every binary operation (its index is a stable code, e.g. for helper arguments).
    pub const ALL: [BinOp; 29] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::MulHS,
        BinOp::MulHU,
        BinOp::MulHSU,
        BinOp::DivS,
        BinOp::DivU,
        BinOp::RemS,
        BinOp::RemU,
        BinOp::And,
        BinOp::Or,
        BinOp::Xor,
        BinOp::AndNot,
        BinOp::OrNot,
        BinOp::XorNot,
        BinOp::Shl,
        BinOp::ShrU,
        BinOp::ShrS,
        BinOp::Rotl,
        BinOp::Rotr,
        BinOp::MinS,
        BinOp::MinU,
        BinOp::MaxS,
        BinOp::MaxU,
        BinOp::FAdd,
        BinOp::FSub,
        BinOp::FMul,
        BinOp::FDiv,
    ];
}

/// One-operand operations; operand and result have the op's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Not,
    Neg,
    /// Count leading zeros (result = bit width for zero).
    Clz,
    /// Count trailing zeros (result = bit width for zero).
    Ctz,
    Popcnt,
    /// Reverse byte order.
    Bswap,
    /// Reverse bit order.
    Bitrev,
    FNeg,
    FAbs,
    FSqrt,
}

impl UnOp {
    /// Every unary operation (its index is a stable code).
    pub const ALL: [UnOp; 10] = [
        UnOp::Not,
        UnOp::Neg,
        UnOp::Clz,
        UnOp::Ctz,
        UnOp::Popcnt,
        UnOp::Bswap,
        UnOp::Bitrev,
        UnOp::FNeg,
        UnOp::FAbs,
        UnOp::FSqrt,
    ];
}

/// Integer comparison conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    Eq,
    Ne,
    LtS,
    LeS,
    GtS,
    GeS,
    LtU,
    LeU,
    GtU,
    GeU,
}

impl Cond {
    /// Every condition.
    pub const ALL: [Cond; 10] = [
        Cond::Eq,
        Cond::Ne,
        Cond::LtS,
        Cond::LeS,
        Cond::GtS,
        Cond::GeS,
        Cond::LtU,
        Cond::LeU,
        Cond::GtU,
        Cond::GeU,
    ];

    pub fn eval(self, a: u64, b: u64, ty: Ty) -> bool {
        let bits = ty.bits().min(64);
        let sa = sext(a, bits);
        let sb = sext(b, bits);
        let ua = zext(a, bits);
        let ub = zext(b, bits);
        match self {
            Cond::Eq => ua == ub,
            Cond::Ne => ua != ub,
            Cond::LtS => sa < sb,
            Cond::LeS => sa <= sb,
            Cond::GtS => sa > sb,
            Cond::GeS => sa >= sb,
            Cond::LtU => ua < ub,
            Cond::LeU => ua <= ub,
            Cond::GtU => ua > ub,
            Cond::GeU => ua >= ub,
        }
    }
}

/// Sign-extend the low `bits` bits of `v` to 64 bits.
pub fn sext(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        v as i64
    } else {
        let s = 64 - bits;
        ((v << s) as i64) >> s
    }
}

/// Keep the low `bits` bits of `v`.
pub fn zext(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

/// Float comparison conditions (quiet: no exception semantics in the IR; unordered when
/// either operand is NaN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FCond {
    Eq,
    Lt,
    Le,
    Unordered,
}

impl FCond {
    /// Every float condition (its index is a stable code).
    pub const ALL: [FCond; 4] = [FCond::Eq, FCond::Lt, FCond::Le, FCond::Unordered];
}

/// Conversions between integer and float types, host default environment. Float to int
/// conversions saturate (NaN gives 0), as Cranelift's `fcvt_to_*_sat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvOp {
    /// signed int -> float
    SToF,
    /// unsigned int -> float
    UToF,
    /// float -> signed int, saturating, toward zero
    FToS,
    /// float -> unsigned int, saturating, toward zero
    FToU,
    /// f32 <-> f64
    FToF,
    /// reinterpret bits (same width)
    Bitcast,
}

impl ConvOp {
    /// Every conversion (its index is a stable code).
    pub const ALL: [ConvOp; 6] = [
        ConvOp::SToF,
        ConvOp::UToF,
        ConvOp::FToS,
        ConvOp::FToU,
        ConvOp::FToF,
        ConvOp::Bitcast,
    ];
}

/// Read-modify-write atomic operations; the op's result is the old memory value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RmwOp {
    Xchg,
    Add,
    And,
    Or,
    Xor,
    MinS,
    MaxS,
    MinU,
    MaxU,
}

/// Memory ordering of a fence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FenceKind {
    Acquire,
    Release,
    SeqCst,
}

/// How a guest memory access is performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemOp {
    /// Access size in bytes: 1, 2, 4, 8 or 16.
    pub size: u8,
    /// Sign-extend a narrow load into the destination type.
    pub signed: bool,
    /// Guest byte order of the access.
    pub big_endian: bool,
    /// When true, an address not aligned to `size` faults (kind `Misaligned`).
    pub aligned: bool,
    /// Which guest MMU context translates the address (system mode; 0 in user mode).
    pub mmu_idx: u8,
}

impl MemOp {
    /// Little-endian, unaligned allowed, MMU index 0.
    pub fn le(size: u8, signed: bool) -> MemOp {
        MemOp {
            size,
            signed,
            big_endian: false,
            aligned: false,
            mmu_idx: 0,
        }
    }
    pub fn with_aligned(mut self) -> MemOp {
        self.aligned = true;
        self
    }
}

/// What a helper may do, so the backend knows what it must flush or check around the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Effects {
    /// Reads guest globals (the backend must have stored cached globals before the call).
    pub reads_globals: bool,
    /// Writes guest globals (cached globals must be reloaded after the call).
    pub writes_globals: bool,
    /// May set `CpuHeader::pending_status`; the backend checks it after the call.
    pub may_raise: bool,
}

impl Effects {
    pub const PURE: Effects = Effects {
        reads_globals: false,
        writes_globals: false,
        may_raise: false,
    };
    pub const READS: Effects = Effects {
        reads_globals: true,
        writes_globals: false,
        may_raise: false,
    };
    pub const WRITES: Effects = Effects {
        reads_globals: true,
        writes_globals: true,
        may_raise: false,
    };
    pub const RAISES: Effects = Effects {
        reads_globals: true,
        writes_globals: true,
        may_raise: true,
    };
}

/// A host function callable from guest code. ABI: `extern "C" fn(env: *mut u8, a0: u64, ...,
/// aN: u64) -> u64` with `env` the CPU state and at most [`Helper::MAX_ARGS`] arguments; all
/// arguments and the return value are passed as u64 (floats as their bit patterns, narrower
/// integers zero-extended). The return value is ignored when the call has no destination.
#[derive(Debug)]
pub struct Helper {
    pub name: &'static str,
    pub func: *const u8,
    pub nargs: u8,
    pub effects: Effects,
}

// SAFETY: `func` is the address of an immutable `extern "C"` function; sharing the address
// between threads is sound.
unsafe impl Sync for Helper {}
unsafe impl Send for Helper {}

impl Helper {
    pub const MAX_ARGS: usize = 6;

    /// Why a call of this helper with `n` arguments is invalid IR, if it is.
    pub fn check_arity(&self, n: usize) -> Result<(), String> {
        if n > Helper::MAX_ARGS || n != self.nargs as usize {
            return Err(format!(
                "helper {} takes {} arguments, called with {n}",
                self.name, self.nargs
            ));
        }
        Ok(())
    }
}

/// Helpers are the same when they are the same static.
impl PartialEq for Helper {
    fn eq(&self, other: &Helper) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Declare a `static` [`Helper`] for an `extern "C" fn(*mut u8, u64...) -> u64`.
#[macro_export]
macro_rules! helper {
    ($vis:vis $name:ident = $func:path, $nargs:expr, $effects:expr) => {
        $vis static $name: $crate::ir::Helper = $crate::ir::Helper {
            name: stringify!($func),
            func: $func as *const u8,
            nargs: $nargs,
            effects: $effects,
        };
    };
}

/// The status a block ends with (returned by the interpreter and by JIT code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ExitStatus {
    /// `CpuHeader::pc` holds the next guest PC; continue with the block there.
    Next = 0,
    /// The interrupt/exit request flag was seen at block entry; pc = this block's start.
    Interrupted = 1,
    /// A guest memory access faulted; see `CpuHeader::fault_*`.
    Fault = 2,
    /// The frontend raised a guest exception or trap (ecall, illegal instruction, breakpoint,
    /// ...). Its details are in the frontend's CPU state; `CpuHeader::pc` is the PC of the
    /// instruction that raised it.
    Exception = 3,
    /// The guest halted the vCPU (wfi with nothing pending, power-off request, ...).
    Halt = 4,
}

impl ExitStatus {
    pub fn from_u32(v: u32) -> ExitStatus {
        match v {
            0 => ExitStatus::Next,
            1 => ExitStatus::Interrupted,
            2 => ExitStatus::Fault,
            4 => ExitStatus::Halt,
            _ => ExitStatus::Exception,
        }
    }
}

/// One IR operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Marks the start of the guest instruction at `pc` (for precise faults and traces).
    InsnStart {
        pc: u64,
    },
    /// dst = constant (for I128/V128 only the low 64 bits can be set this way: high = 0).
    Const {
        dst: Temp,
        ty: Ty,
        value: u64,
    },
    /// dst = src (same type).
    Mov {
        dst: Temp,
        src: Temp,
    },
    /// dst = *(ty*)(env + offset): read a guest global.
    GetGlobal {
        dst: Temp,
        ty: Ty,
        offset: u32,
    },
    /// *(ty*)(env + offset) = src: write a guest global.
    SetGlobal {
        offset: u32,
        ty: Ty,
        src: Temp,
    },
    Bin {
        op: BinOp,
        ty: Ty,
        dst: Temp,
        a: Temp,
        b: Temp,
    },
    Un {
        op: UnOp,
        ty: Ty,
        dst: Temp,
        a: Temp,
    },
    /// Integer width change: `to` wider than `from` extends (sign or zero), narrower truncates.
    Ext {
        dst: Temp,
        to: Ty,
        src: Temp,
        from: Ty,
        signed: bool,
    },
    /// dst (type `ty`) = bits [pos, pos+len) of src (type `ty`), sign- or zero-extended.
    Extract {
        dst: Temp,
        ty: Ty,
        src: Temp,
        pos: u8,
        len: u8,
        signed: bool,
    },
    /// dst = base with bits [pos, pos+len) replaced by the low `len` bits of val.
    Deposit {
        dst: Temp,
        ty: Ty,
        base: Temp,
        val: Temp,
        pos: u8,
        len: u8,
    },
    /// dst (I64) = (a cond b) ? 1 : 0, a and b of type `ty`.
    SetCond {
        cond: Cond,
        ty: Ty,
        dst: Temp,
        a: Temp,
        b: Temp,
    },
    /// dst (I64) = (a fcond b) ? 1 : 0.
    FCmp {
        cond: FCond,
        ty: Ty,
        dst: Temp,
        a: Temp,
        b: Temp,
    },
    /// dst = (cond != 0) ? a : b; `cond` is I64, a/b/dst of type `ty`.
    Select {
        ty: Ty,
        dst: Temp,
        cond: Temp,
        a: Temp,
        b: Temp,
    },
    /// dst (type `to`) = conversion of src (type `from`).
    Conv {
        op: ConvOp,
        dst: Temp,
        to: Ty,
        src: Temp,
        from: Ty,
    },
    /// Fused multiply-add, host default environment: dst = a * b + c.
    FMa {
        ty: Ty,
        dst: Temp,
        a: Temp,
        b: Temp,
        c: Temp,
    },
    /// dst (type `ty`) = guest memory at addr (I64), `mem.size` bytes, extended per `mem`.
    Load {
        dst: Temp,
        ty: Ty,
        addr: Temp,
        mem: MemOp,
    },
    /// Store the low `mem.size` bytes of val (type `ty`) at addr.
    Store {
        ty: Ty,
        val: Temp,
        addr: Temp,
        mem: MemOp,
    },
    /// Atomic read-modify-write of `mem.size` bytes; dst = old value (extended per `mem`).
    AtomicRmw {
        op: RmwOp,
        ty: Ty,
        dst: Temp,
        addr: Temp,
        val: Temp,
        mem: MemOp,
    },
    /// Atomic compare-and-exchange; dst = old value. Stores `new` only if old == expected
    /// (compared over `mem.size` bytes). Sizes 1..8, and 16 on I128: a 16-byte cmpxchg is
    /// single-copy atomic (host `lock cmpxchg16b`) against all other atomics on those bytes.
    Cmpxchg {
        ty: Ty,
        dst: Temp,
        addr: Temp,
        expected: Temp,
        new: Temp,
        mem: MemOp,
    },
    Fence {
        kind: FenceKind,
    },
    /// Call a helper with up to 6 arguments; `dst` (I64) receives the return value.
    Call {
        helper: &'static Helper,
        args: Vec<Temp>,
        dst: Option<Temp>,
    },
    /// Place a label (each label exactly once).
    Label {
        label: Label,
    },
    /// Jump to a label of this block.
    Br {
        label: Label,
    },
    /// Jump to `label` if cond (I64) != 0.
    BrCond {
        cond: Temp,
        label: Label,
    },
    /// End the block, continue at the constant guest `pc` (chainable).
    GotoBlock {
        pc: u64,
    },
    /// End the block, continue at the guest PC in `pc` (I64), found by lookup.
    ExitIndirect {
        pc: Temp,
    },
    /// End the block with a status; `pc` (I64) is stored into `CpuHeader::pc` first.
    Exit {
        status: ExitStatus,
        pc: Temp,
    },
}

impl Op {
    /// True for ops after which control does not fall through.
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Op::Br { .. } | Op::GotoBlock { .. } | Op::ExitIndirect { .. } | Op::Exit { .. }
        )
    }
}

/// One translation block (or, later, a region of several guest blocks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    /// Guest virtual PC of the first instruction.
    pub pc: u64,
    /// Bytes of guest code covered (for invalidation).
    pub guest_size: u32,
    /// Number of guest instructions.
    pub num_insns: u32,
    /// Types of the temporaries.
    pub temps: Vec<Ty>,
    /// Number of labels.
    pub num_labels: u32,
    pub ops: Vec<Op>,
}
