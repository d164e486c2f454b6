//! Convenience API for frontends to emit IR into a [`Block`]: allocates temporaries and
//! labels and offers one method per common op, so translators read like the ISA manual.

use crate::ir::*;

extern "C" fn spin_wait_hint(_env: *mut u8) -> u64 {
    std::thread::yield_now();
    0
}
crate::helper!(SPIN_WAIT_HINT = spin_wait_hint, 0, Effects::PURE);

/// Builds one [`Block`].
#[derive(Debug, Default)]
pub struct Builder {
    pub block: Block,
    /// Most guest instructions the block may hold (0: the frontend's own limit). The engine
    /// sets 1 for single-stepping.
    pub max_insns: u32,
    /// Guest addresses where a block must end before the instruction (breakpoints): the
    /// engine checks them at block entry, so they must start a block.
    pub stop_pcs: Vec<u64>,
}

impl Builder {
    pub fn new(pc: u64) -> Builder {
        Builder {
            block: Block {
                pc,
                ..Block::default()
            },
            max_insns: 0,
            stop_pcs: Vec::new(),
        }
    }
    /// Whether the block must end before the instruction at `pc`, given that `done`
    /// instructions are already in it. Frontends call this before every instruction after
    /// the first and end the block with a direct jump to `pc` when it returns true.
    pub fn stop_before(&self, pc: u64, done: u32) -> bool {
        done > 0 && ((self.max_insns != 0 && done >= self.max_insns) || self.stop_pcs.contains(&pc))
    }
    pub fn finish(self) -> Block {
        self.block
    }
    pub fn push(&mut self, op: Op) {
        self.block.ops.push(op);
    }
    /// A new temporary of type `ty`.
    pub fn temp(&mut self, ty: Ty) -> Temp {
        self.block.temps.push(ty);
        Temp(self.block.temps.len() as u32 - 1)
    }
    pub fn ty(&self, t: Temp) -> Ty {
        self.block.temps[t.0 as usize]
    }
    /// A new label, to be placed later with [`Builder::label`].
    pub fn new_label(&mut self) -> Label {
        self.block.num_labels += 1;
        Label(self.block.num_labels - 1)
    }
    pub fn label(&mut self, label: Label) {
        self.push(Op::Label { label });
    }
    pub fn insn_start(&mut self, pc: u64) {
        self.push(Op::InsnStart { pc });
    }
    pub fn const_(&mut self, ty: Ty, value: u64) -> Temp {
        let dst = self.temp(ty);
        self.push(Op::Const { dst, ty, value });
        dst
    }
    pub fn const64(&mut self, value: u64) -> Temp {
        self.const_(Ty::I64, value)
    }
    pub fn mov(&mut self, dst: Temp, src: Temp) {
        self.push(Op::Mov { dst, src });
    }
    pub fn get_global(&mut self, ty: Ty, offset: u32) -> Temp {
        let dst = self.temp(ty);
        self.push(Op::GetGlobal { dst, ty, offset });
        dst
    }
    pub fn set_global(&mut self, ty: Ty, offset: u32, src: Temp) {
        self.push(Op::SetGlobal { offset, ty, src });
    }
    pub fn bin(&mut self, op: BinOp, a: Temp, b: Temp) -> Temp {
        let ty = self.ty(a);
        let dst = self.temp(ty);
        self.push(Op::Bin { op, ty, dst, a, b });
        dst
    }
    /// `a op constant`.
    pub fn bin_imm(&mut self, op: BinOp, a: Temp, imm: u64) -> Temp {
        let ty = self.ty(a);
        let b = self.const_(ty, imm);
        self.bin(op, a, b)
    }
    pub fn un(&mut self, op: UnOp, a: Temp) -> Temp {
        let ty = self.ty(a);
        let dst = self.temp(ty);
        self.push(Op::Un { op, ty, dst, a });
        dst
    }
    /// Sign- or zero-extend (or truncate) `src` to `to`.
    pub fn ext(&mut self, src: Temp, to: Ty, signed: bool) -> Temp {
        let from = self.ty(src);
        let dst = self.temp(to);
        self.push(Op::Ext {
            dst,
            to,
            src,
            from,
            signed,
        });
        dst
    }
    pub fn sext(&mut self, src: Temp, to: Ty) -> Temp {
        self.ext(src, to, true)
    }
    pub fn zext(&mut self, src: Temp, to: Ty) -> Temp {
        self.ext(src, to, false)
    }
    pub fn trunc(&mut self, src: Temp, to: Ty) -> Temp {
        self.ext(src, to, false)
    }
    pub fn extract(&mut self, src: Temp, pos: u8, len: u8, signed: bool) -> Temp {
        let ty = self.ty(src);
        let dst = self.temp(ty);
        self.push(Op::Extract {
            dst,
            ty,
            src,
            pos,
            len,
            signed,
        });
        dst
    }
    pub fn deposit(&mut self, base: Temp, val: Temp, pos: u8, len: u8) -> Temp {
        let ty = self.ty(base);
        let dst = self.temp(ty);
        self.push(Op::Deposit {
            dst,
            ty,
            base,
            val,
            pos,
            len,
        });
        dst
    }
    /// I64 0/1.
    pub fn setcond(&mut self, cond: Cond, a: Temp, b: Temp) -> Temp {
        let ty = self.ty(a);
        let dst = self.temp(Ty::I64);
        self.push(Op::SetCond {
            cond,
            ty,
            dst,
            a,
            b,
        });
        dst
    }
    pub fn fcmp(&mut self, cond: FCond, a: Temp, b: Temp) -> Temp {
        let ty = self.ty(a);
        let dst = self.temp(Ty::I64);
        self.push(Op::FCmp {
            cond,
            ty,
            dst,
            a,
            b,
        });
        dst
    }
    pub fn select(&mut self, cond: Temp, a: Temp, b: Temp) -> Temp {
        let ty = self.ty(a);
        let dst = self.temp(ty);
        self.push(Op::Select {
            ty,
            dst,
            cond,
            a,
            b,
        });
        dst
    }
    pub fn conv(&mut self, op: ConvOp, src: Temp, to: Ty) -> Temp {
        let from = self.ty(src);
        let dst = self.temp(to);
        self.push(Op::Conv {
            op,
            dst,
            to,
            src,
            from,
        });
        dst
    }
    pub fn fma(&mut self, a: Temp, b: Temp, c: Temp) -> Temp {
        let ty = self.ty(a);
        let dst = self.temp(ty);
        self.push(Op::FMa { ty, dst, a, b, c });
        dst
    }
    pub fn load(&mut self, ty: Ty, addr: Temp, mem: MemOp) -> Temp {
        let dst = self.temp(ty);
        self.push(Op::Load { dst, ty, addr, mem });
        dst
    }
    pub fn store(&mut self, val: Temp, addr: Temp, mem: MemOp) {
        let ty = self.ty(val);
        self.push(Op::Store { ty, val, addr, mem });
    }
    pub fn atomic_rmw(&mut self, op: RmwOp, addr: Temp, val: Temp, mem: MemOp) -> Temp {
        let ty = self.ty(val);
        let dst = self.temp(ty);
        self.push(Op::AtomicRmw {
            op,
            ty,
            dst,
            addr,
            val,
            mem,
        });
        dst
    }
    pub fn cmpxchg(&mut self, addr: Temp, expected: Temp, new: Temp, mem: MemOp) -> Temp {
        let ty = self.ty(new);
        let dst = self.temp(ty);
        self.push(Op::Cmpxchg {
            ty,
            dst,
            addr,
            expected,
            new,
            mem,
        });
        dst
    }
    pub fn fence(&mut self, kind: FenceKind) {
        self.push(Op::Fence { kind });
    }
    /// Call a helper; returns the I64 result temp.
    pub fn call(&mut self, helper: &'static Helper, args: &[Temp]) -> Temp {
        let dst = self.temp(Ty::I64);
        self.push(Op::Call {
            helper,
            args: args.to_vec(),
            dst: Some(dst),
        });
        dst
    }
    /// The guest is spinning, waiting for another vCPU (RISC-V `pause`, AArch64 `yield`):
    /// lets the host run another thread first, such as the vCPU that holds the lock,
    /// when threads outnumber host cores. No guest-visible effect.
    pub fn spin_wait_hint(&mut self) {
        self.call_void(&SPIN_WAIT_HINT, &[]);
    }
    /// Call a helper, discarding its result.
    pub fn call_void(&mut self, helper: &'static Helper, args: &[Temp]) {
        self.push(Op::Call {
            helper,
            args: args.to_vec(),
            dst: None,
        });
    }
    pub fn br(&mut self, label: Label) {
        self.push(Op::Br { label });
    }
    pub fn br_cond(&mut self, cond: Temp, label: Label) {
        self.push(Op::BrCond { cond, label });
    }
    pub fn goto_block(&mut self, pc: u64) {
        self.push(Op::GotoBlock { pc });
    }
    pub fn exit_indirect(&mut self, pc: Temp) {
        self.push(Op::ExitIndirect { pc });
    }
    pub fn exit(&mut self, status: ExitStatus, pc: u64) {
        let pc = self.const64(pc);
        self.push(Op::Exit { status, pc });
    }
}
