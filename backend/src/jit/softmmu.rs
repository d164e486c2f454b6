//! System-mode guest memory in JIT code (a child module of `lower`, enabled by
//! [`super::super::Jit::set_softmmu`]): the inline TLB hit path and the out-of-line slow
//! path of every Load, Store, AtomicRmw and Cmpxchg.
//!
//! Hit path (about ten host instructions): index = (addr >> 7) & ((TLB_ENTRIES - 1) << 5) into the
//! entries of the op's MMU index at `env + tlb_offset`; compare the read or write tag with
//! `(addr + size - 1 - amask) & (PAGE_MASK | amask)` (amask = size - 1 when the op must
//! be aligned, else 0), which differs from every tag when the access is misaligned, crosses
//! a page, or the entry is invalid or flagged (MMIO, code page); then `addr + addend` is
//! the host address and the access is a plain host load/store (host atomics for atomics)
//! in guest byte order. Anything else calls a slow-path helper that performs the access
//! exactly as the interpreter does ([`crate::interp::system_access`]): TLB fill through the
//! translator, MMIO, page-crossing, code-page invalidation, faults. A fault stores the
//! fault address and kind, sets `CpuHeader::pending_status` to Fault, and the block leaves
//! through the raise path with the PC of the current instruction.
//!
//! Blocks call the slow-path helpers through thunks with Cranelift's `preserve_all`
//! convention (built once per process, [`slow_thunk`]): the thunk saves every register the
//! SysV helper may clobber and returns the result in `CpuHeader::slow_result`, so a block
//! keeps its values in any register across the cold call. Called directly, the helpers'
//! clobbers made most blocks hold values in callee-saved registers, saved and restored by
//! the block's prologue and epilogue on every run, chained runs included.

use super::{Lower, clif_ty, env_flags, err};
use crate::CpuHeader;
use crate::header_offsets as ho;
use crate::interp::{SysAccess, system_access};
use crate::ir::{ExitStatus, MemOp, RmwOp, Ty};
use crate::jit::JitError;
use crate::softmmu::{
    ENTRY_SHIFT, MAX_MMU_IDX, PAGE_BITS, PAGE_MASK, SoftmmuConfig, TLB_ENTRIES,
    TLB_JIT_HITS_OFFSET, entry_offset, entry_offsets,
};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{self, Type};
use cranelift_codegen::ir::{
    AbiParam, BlockArg, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use std::sync::OnceLock;

/// Read-modify-write operations by their code in a slow-path call.
const RMW_OPS: [RmwOp; 9] = [
    RmwOp::Xchg,
    RmwOp::Add,
    RmwOp::And,
    RmwOp::Or,
    RmwOp::Xor,
    RmwOp::MinS,
    RmwOp::MaxS,
    RmwOp::MinU,
    RmwOp::MaxU,
];

/// A MemOp (and RMW op) packed into one helper argument.
pub(crate) fn encode(mem: &MemOp, rmw: Option<RmwOp>) -> u64 {
    let op = rmw
        .and_then(|o| RMW_OPS.iter().position(|&x| x == o))
        .unwrap_or(0) as u64;
    mem.size as u64
        | (mem.big_endian as u64) << 8
        | (mem.aligned as u64) << 9
        | (mem.mmu_idx as u64 & 0xf) << 12
        | op << 16
}

fn decode(code: u64) -> (MemOp, RmwOp) {
    (
        MemOp {
            size: code as u8,
            signed: false,
            big_endian: code >> 8 & 1 != 0,
            aligned: code >> 9 & 1 != 0,
            mmu_idx: (code >> 12 & 0xf) as u8,
        },
        RMW_OPS[(code >> 16) as usize % RMW_OPS.len()],
    )
}

/// Perform one slow-path access of the guest instruction at `pc`. A fault does not return:
/// it fills the CPU header (pc, fault address and kind) and leaves the JIT code with
/// [`ExitStatus::Fault`] (see [`super::super::entry::abort_to_entry`]), so blocks need no
/// status check after a slow access.
///
/// # Safety
/// Called only from JIT code of a Jit with [`super::super::SoftmmuJit`], entered on this
/// thread: `CpuHeader::softmmu_config` holds the address of its live SoftmmuConfig and
/// `env` is the running vCPU's CPU state. The caller holds nothing that needs dropping.
unsafe fn access(env: *mut u8, pc: u64, addr: u64, code: u64, op: SysAccess) -> u128 {
    let (mem, _) = decode(code);
    let hdr = env as *mut CpuHeader;
    // SAFETY: per the contract.
    let sys = unsafe { &*((*hdr).softmmu_config as *const SoftmmuConfig) };
    // SAFETY: per the contract; the lowering rejected mmu indices >= MAX_MMU_IDX.
    match unsafe { system_access(sys, env, addr, mem, op) } {
        Ok(v) => v,
        // SAFETY: env is the CPU state; JIT code of this thread's entry called us with
        // nothing to drop on the way (the contract).
        Err(f) => unsafe {
            (*hdr).pc = pc;
            (*hdr).fault_addr = f.addr;
            (*hdr).fault_kind = f.kind as u32;
            super::super::entry::abort_to_entry(ExitStatus::Fault)
        },
    }
}

/// The slow-path helpers' addresses and numbers of arguments after env and pc.
fn slow_helpers() -> [(usize, usize); 6] {
    [
        (slow_load as *const () as usize, 2),
        (slow_load16 as *const () as usize, 3),
        (slow_store as *const () as usize, 3),
        (slow_store16 as *const () as usize, 4),
        (slow_rmw as *const () as usize, 3),
        (slow_cmpxchg as *const () as usize, 4),
    ]
}

/// Thunk addresses, in the order of [`slow_helpers`] (None: they could not be built, and
/// blocks call the helpers directly).
static SLOW_THUNKS: OnceLock<Option<[usize; 6]>> = OnceLock::new();

/// The `preserve_all` thunk of slow-path helper `f`: `thunk(env, pc, args...)` calls
/// `f(env, pc, args...)` and stores its result at `CpuHeader::slow_result`.
fn slow_thunk(f: usize) -> Option<usize> {
    let thunks = SLOW_THUNKS.get_or_init(build_slow_thunks).as_ref()?;
    let i = slow_helpers().iter().position(|&(h, _)| h == f)?;
    Some(thunks[i])
}

fn build_slow_thunks() -> Option<[usize; 6]> {
    let isa = super::super::host_isa(&super::super::JitConfig {
        code_size: 0,
        guest_base: 0,
        guest_limit: 0,
        opt_speed: false,
        verify: cfg!(debug_assertions),
    })
    .ok()?;
    let mut buf = super::super::buffer::CodeBuffer::new(1 << 14).ok()?;
    let mut ctx = cranelift_codegen::Context::new();
    let mut fctx = FunctionBuilderContext::new();
    let mut addrs = [0usize; 6];
    for (i, (f, nargs)) in slow_helpers().into_iter().enumerate() {
        let mut sig = Signature::new(CallConv::PreserveAll);
        let mut helper_sig = Signature::new(CallConv::SystemV);
        for _ in 0..nargs + 2 {
            sig.params.push(AbiParam::new(types::I64));
            helper_sig.params.push(AbiParam::new(types::I64));
        }
        helper_sig.returns.push(AbiParam::new(types::I64));
        ctx.clear();
        ctx.func.signature = sig;
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let blk = b.create_block();
        b.append_block_params_for_function_params(blk);
        b.switch_to_block(blk);
        b.seal_block(blk);
        let params = b.block_params(blk).to_vec();
        let sr = b.import_signature(helper_sig);
        let fv = b.ins().iconst(types::I64, f as i64);
        let call = b.ins().call_indirect(sr, fv, &params);
        let r = b.inst_results(call)[0];
        b.ins()
            .store(env_flags(), r, params[0], ho::SLOW_RESULT as i32);
        b.ins().return_(&[]);
        b.finalize(isa.frontend_config());
        let (code, _) = super::super::compile_ctx(&mut ctx, &*isa).ok()?;
        addrs[i] = buf.base() + buf.append(code, 16)?;
    }
    // The thunks live as long as the process: JIT code of any engine may call them.
    std::mem::forget(buf);
    Some(addrs)
}

pub(crate) extern "C" fn slow_load(env: *mut u8, pc: u64, addr: u64, code: u64) -> u64 {
    // SAFETY: called by JIT code as documented on `access`.
    unsafe { access(env, pc, addr, code, SysAccess::Load) as u64 }
}

extern "C" fn slow_load16(env: *mut u8, pc: u64, addr: u64, code: u64, out: u64) -> u64 {
    // SAFETY: called by JIT code as documented on `access`.
    let v = unsafe { access(env, pc, addr, code, SysAccess::Load) };
    // SAFETY: `out` is a 16-byte stack slot of the calling JIT code.
    unsafe { (out as *mut u128).write_unaligned(v) };
    0
}

pub(crate) extern "C" fn slow_store(env: *mut u8, pc: u64, addr: u64, val: u64, code: u64) -> u64 {
    // SAFETY: called by JIT code as documented on `access`.
    unsafe { access(env, pc, addr, code, SysAccess::Store(val as u128)) };
    0
}

extern "C" fn slow_store16(env: *mut u8, pc: u64, addr: u64, lo: u64, hi: u64, code: u64) -> u64 {
    let v = lo as u128 | (hi as u128) << 64;
    // SAFETY: called by JIT code as documented on `access`.
    unsafe { access(env, pc, addr, code, SysAccess::Store(v)) };
    0
}

pub(crate) extern "C" fn slow_rmw(env: *mut u8, pc: u64, addr: u64, val: u64, code: u64) -> u64 {
    let (_, op) = decode(code);
    // SAFETY: called by JIT code as documented on `access`.
    unsafe { access(env, pc, addr, code, SysAccess::Rmw(op, val as u128)) as u64 }
}

pub(crate) extern "C" fn slow_cmpxchg(
    env: *mut u8,
    pc: u64,
    addr: u64,
    e: u64,
    n: u64,
    code: u64,
) -> u64 {
    let op = SysAccess::Cmpxchg(e as u128, n as u128);
    // SAFETY: called by JIT code as documented on `access`.
    unsafe { access(env, pc, addr, code, op) as u64 }
}

/// Host accesses of the hit path: to RAM pages that stay mapped, never trapping.
fn host_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl Lower<'_, '_> {
    /// The packed MemOp argument of a slow-path call (emitted in the slow block, so the
    /// hit path does not materialise it).
    fn mem_code(&mut self, mem: &MemOp, rmw: Option<RmwOp>) -> Result<Value, JitError> {
        if mem.mmu_idx as usize >= MAX_MMU_IDX {
            return Err(err(format!("MMU index {} out of range", mem.mmu_idx)));
        }
        Ok(self.i64c(encode(mem, rmw)))
    }

    /// The inline TLB check of an access at `a`. Leaves the builder in the hit block and
    /// returns the host address there, and the (cold, empty) slow-path block.
    fn tlb_hit(
        &mut self,
        a: Value,
        mem: &MemOp,
        write: bool,
        force_align: bool,
    ) -> Result<(Value, cranelift_codegen::ir::Block), JitError> {
        let sm = self
            .lenv
            .softmmu
            .ok_or_else(|| err("softmmu access without a softmmu"))?;
        if mem.mmu_idx as usize >= MAX_MMU_IDX {
            return Err(err(format!("MMU index {} out of range", mem.mmu_idx)));
        }
        let size = mem.size as u64;
        let amask = if mem.aligned || force_align {
            size - 1
        } else {
            0
        };
        let base = sm.tlb_offset as i64 + entry_offset(mem.mmu_idx as usize, 0) as i64;
        let t = self.b.ins().ushr_imm_u(a, (PAGE_BITS - ENTRY_SHIFT) as i64);
        let t = self
            .b
            .ins()
            .band_imm_u(t, ((TLB_ENTRIES - 1) << ENTRY_SHIFT) as i64);
        let ep = self.b.ins().iadd(self.env, t);
        let field = if write {
            entry_offsets::WRITE
        } else {
            entry_offsets::READ
        };
        let tag = self
            .b
            .ins()
            .load(types::I64, env_flags(), ep, (base + field as i64) as i32);
        let last = size - 1 - amask;
        let c = if last != 0 {
            self.b.ins().iadd_imm_s(a, last as i64)
        } else {
            a
        };
        let c = self.b.ins().band_imm_u(c, (PAGE_MASK | amask) as i64);
        let hit = self.b.ins().icmp(IntCC::Equal, tag, c);
        let hitb = self.b.create_block();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(hit, hitb, &[], slow, &[]);
        self.b.seal_block(hitb);
        self.b.seal_block(slow);
        self.b.switch_to_block(hitb);
        let addend = self.b.ins().load(
            types::I64,
            env_flags(),
            ep,
            (base + entry_offsets::ADDEND as i64) as i32,
        );
        if sm.count_hits {
            let at = (sm.tlb_offset as usize + TLB_JIT_HITS_OFFSET) as i32;
            let n = self.b.ins().load(types::I64, env_flags(), self.env, at);
            let n = self.b.ins().iadd_imm_s(n, 1);
            self.b.ins().store(env_flags(), n, self.env, at);
        }
        let host = self.b.ins().iadd(a, addend);
        Ok((host, slow))
    }

    /// Call slow-path helper `f(env, pc, args...)` (pc: the current guest instruction's, for
    /// a fault, which leaves the block from inside the helper). Returns its result.
    fn slow_call(&mut self, f: usize, args: &[Value]) -> Result<Value, JitError> {
        if self.lenv.softmmu.is_none() {
            return Err(err("softmmu access without a softmmu"));
        }
        let thunk = slow_thunk(f);
        let mut sig = Signature::new(if thunk.is_some() {
            CallConv::PreserveAll
        } else {
            CallConv::SystemV
        });
        for _ in 0..args.len() + 2 {
            sig.params.push(AbiParam::new(types::I64));
        }
        if thunk.is_none() {
            sig.returns.push(AbiParam::new(types::I64));
        }
        let sr = self.b.import_signature(sig);
        let pc = self.i64c(self.cur_pc);
        let mut vals = vec![self.env, pc];
        vals.extend_from_slice(args);
        let fv = self.i64c(thunk.unwrap_or(f) as u64);
        let call = self.b.ins().call_indirect(sr, fv, &vals);
        Ok(match thunk {
            Some(_) => self.load_env(types::I64, ho::SLOW_RESULT),
            None => self.b.inst_results(call)[0],
        })
    }

    /// A zero-extended slow-path result (`mem.size` bytes) as a value of `ty`, extended as
    /// the op says.
    fn slow_result(&mut self, r: Value, ty: Ty, mem: &MemOp) -> Value {
        let mty = Ty::int_of_bytes(mem.size as u32).map_or(types::I64, clif_ty);
        let x = self.resize(r, types::I64, mty, false);
        if ty.is_float() {
            self.b.ins().bitcast(clif_ty(ty), MemFlagsData::new(), x)
        } else {
            self.resize(x, mty, clif_ty(ty), mem.signed)
        }
    }

    /// A value of `ty` as a slow-path argument (low 64 bits, floats as their bits).
    fn slow_arg(&mut self, v: Value, ty: Ty) -> Value {
        match ty {
            Ty::F32 => {
                let i = self.b.ins().bitcast(types::I32, MemFlagsData::new(), v);
                self.b.ins().uextend(types::I64, i)
            }
            Ty::F64 => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            _ => self.resize(v, clif_ty(ty), types::I64, false),
        }
    }

    /// End the current block with a jump passing `v` to a new block with one parameter of
    /// type `t` (the join of the hit and slow paths); returns that block.
    fn join(&mut self, t: Type, v: Value) -> cranelift_codegen::ir::Block {
        let merge = self.b.create_block();
        self.b.append_block_param(merge, t);
        self.b.ins().jump(merge, &[BlockArg::Value(v)]);
        merge
    }

    pub(super) fn sys_load(&mut self, ty: Ty, a: Value, mem: &MemOp) -> Result<Value, JitError> {
        if mem.size == 16 {
            let code = self.mem_code(mem, None)?;
            let ss = self.b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                16,
                4,
            ));
            let out = self.b.ins().stack_addr(types::I64, ss, 0);
            self.slow_call(slow_load16 as *const () as usize, &[a, code, out])?;
            return Ok(self.b.ins().load(types::I128, env_flags(), out, 0));
        }
        let (host, slow) = self.tlb_hit(a, mem, false, false)?;
        let v = self.load_host(ty, host, host_flags(), mem);
        let merge = self.join(clif_ty(ty), v);
        self.b.switch_to_block(slow);
        let code = self.mem_code(mem, None)?;
        let r = self.slow_call(slow_load as *const () as usize, &[a, code])?;
        let w = self.slow_result(r, ty, mem);
        self.b.ins().jump(merge, &[BlockArg::Value(w)]);
        self.b.seal_block(merge);
        self.b.switch_to_block(merge);
        Ok(self.b.block_params(merge)[0])
    }

    pub(super) fn sys_store(
        &mut self,
        ty: Ty,
        v: Value,
        a: Value,
        mem: &MemOp,
    ) -> Result<(), JitError> {
        if mem.size == 16 {
            let code = self.mem_code(mem, None)?;
            let [lo, hi] = self.halves(v);
            self.slow_call(slow_store16 as *const () as usize, &[a, lo, hi, code])?;
            return Ok(());
        }
        let (host, slow) = self.tlb_hit(a, mem, true, false)?;
        self.store_host(ty, v, host, host_flags(), mem);
        let done = self.b.create_block();
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(slow);
        let code = self.mem_code(mem, None)?;
        let x = self.slow_arg(v, ty);
        self.slow_call(slow_store as *const () as usize, &[a, x, code])?;
        self.b.ins().jump(done, &[]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        Ok(())
    }

    pub(super) fn sys_atomic_rmw(
        &mut self,
        op: RmwOp,
        ty: Ty,
        a: Value,
        x: Value,
        mem: &MemOp,
    ) -> Result<Value, JitError> {
        let mty = Self::atomic_ty(ty, mem)?;
        let (host, slow) = self.tlb_hit(a, mem, true, true)?;
        let v = self.atomic_rmw_host(op, ty, mty, host, x, host_flags(), mem);
        let merge = self.join(clif_ty(ty), v);
        self.b.switch_to_block(slow);
        let code = self.mem_code(mem, Some(op))?;
        let xs = self.slow_arg(x, ty);
        let r = self.slow_call(slow_rmw as *const () as usize, &[a, xs, code])?;
        let w = self.slow_result(r, ty, mem);
        self.b.ins().jump(merge, &[BlockArg::Value(w)]);
        self.b.seal_block(merge);
        self.b.switch_to_block(merge);
        Ok(self.b.block_params(merge)[0])
    }

    pub(super) fn sys_cmpxchg(
        &mut self,
        ty: Ty,
        a: Value,
        e: Value,
        n: Value,
        mem: &MemOp,
    ) -> Result<Value, JitError> {
        let mty = Self::atomic_ty(ty, mem)?;
        let (host, slow) = self.tlb_hit(a, mem, true, true)?;
        let v = self.cmpxchg_host(ty, mty, host, e, n, host_flags(), mem);
        let merge = self.join(clif_ty(ty), v);
        self.b.switch_to_block(slow);
        let code = self.mem_code(mem, None)?;
        let es = self.slow_arg(e, ty);
        let ns = self.slow_arg(n, ty);
        let r = self.slow_call(slow_cmpxchg as *const () as usize, &[a, es, ns, code])?;
        let w = self.slow_result(r, ty, mem);
        self.b.ins().jump(merge, &[BlockArg::Value(w)]);
        self.b.seal_block(merge);
        self.b.switch_to_block(merge);
        Ok(self.b.block_params(merge)[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memop_codes_round_trip() {
        for (size, be, aligned, mmu) in [
            (1, false, false, 0),
            (8, true, true, 7),
            (16, false, true, 3),
        ] {
            for op in RMW_OPS {
                let m = MemOp {
                    size,
                    signed: false,
                    big_endian: be,
                    aligned,
                    mmu_idx: mmu,
                };
                assert_eq!(decode(encode(&m, Some(op))), (m, op));
            }
        }
    }
}
