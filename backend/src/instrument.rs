//! Instrumentation hooks (the use case of TCG plugins): an IR pass the engine applies to a
//! freshly translated block when counting or memory tracing is enabled, and the per-vCPU
//! state ([`InstrState`]) its helper calls update: the instruction counter, the memory-access
//! trace switch, and the watchpoints of the debugger. When nothing is enabled the pass does
//! not run, so blocks carry no extra ops and cost nothing.
//!
//! Instruction counting counts instructions *started*: every [`Op::InsnStart`] reached adds
//! one, including an instruction that then faults or traps. Counts are accumulated while the
//! pass walks the block and added by one helper call before each point where control can
//! leave the straight line (memory ops, raising helpers, branches, labels, exits), so the
//! total is exact in both tiers without a call per instruction.

use crate::debug::{WatchKind, Watchpoint};
use crate::helper;
use crate::ir::{Block, Effects, Op, Ty};
use crate::{CpuHeader, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which hooks the pass inserts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstrConfig {
    /// Count guest instructions into [`InstrState::icount`].
    pub icount: bool,
    /// Call the memory hook before every load, store and atomic (for `-d memtrace` and
    /// watchpoints).
    pub mem: bool,
    /// The memory hook checks watchpoints and may end the block (needs a raising helper).
    pub watch: bool,
}

impl InstrConfig {
    pub fn any(&self) -> bool {
        self.icount || self.mem || self.watch
    }
}

/// Kind of a traced memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AccessKind {
    Load = 0,
    Store = 1,
    /// Atomic read-modify-write or compare-and-exchange (reads and writes).
    Rmw = 2,
}

impl AccessKind {
    fn from_u8(v: u8) -> AccessKind {
        match v {
            0 => AccessKind::Load,
            1 => AccessKind::Store,
            _ => AccessKind::Rmw,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            AccessKind::Load => "load",
            AccessKind::Store => "store",
            AccessKind::Rmw => "rmw",
        }
    }
}

/// A watchpoint the memory hook hit (the access has not happened yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchHit {
    /// PC of the accessing instruction.
    pub pc: u64,
    /// Start address of the watchpoint that was hit.
    pub addr: u64,
    pub kind: WatchKind,
}

/// Per-vCPU state of the instrumentation helpers. The engine owns it in a `Box` whose
/// address is baked into instrumented blocks as a constant, so it never moves.
#[derive(Debug, Default)]
pub struct InstrState {
    /// Instructions started (with [`InstrConfig::icount`]). Only this vCPU's thread
    /// writes it; other threads may read it (a process total at exit): see
    /// [`crate::engine::Engine::icount_counter`].
    pub icount: Arc<AtomicU64>,
    /// Memory accesses seen by the hook.
    pub mem_accesses: u64,
    /// Log every access on the `memtrace` target.
    pub memtrace: bool,
    /// Active watchpoints (checked when the block was instrumented with `watch`).
    pub watches: Vec<Watchpoint>,
    /// Set by the engine while it steps over the instruction that hit a watchpoint.
    pub suppress_watch: bool,
    /// The watchpoint hit that ended the last block (status `Interrupted`).
    pub watch_hit: Option<WatchHit>,
}

impl crate::engine::Engine {
    /// The instruction counter of this vCPU (with `Trace::icount`), shared so that a
    /// process can sum the counts of all its threads, running or finished.
    pub fn icount_counter(&self) -> Arc<AtomicU64> {
        self.instr.icount.clone()
    }
}

extern "C" fn icount_add(_env: *mut u8, state: u64, n: u64) -> u64 {
    // SAFETY: `state` is the address of the engine's boxed InstrState, which outlives every
    // block instrumented with it; only this vCPU's thread runs those blocks.
    let st = unsafe { &*(state as *const InstrState) };
    // The only writer: a plain load and store (no locked add) keep the count exact.
    let c = &st.icount;
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    0
}

fn mem_hook(env: *mut u8, state: u64, addr: u64, size_kind: u64, pc: u64) {
    // SAFETY: as in `icount_add`.
    let st = unsafe { &mut *(state as *mut InstrState) };
    let size = size_kind & 0xff;
    let kind = AccessKind::from_u8((size_kind >> 8) as u8);
    st.mem_accesses += 1;
    if st.memtrace {
        tracing::info!(target: "memtrace", "{pc:#x}: {} {size} @ {addr:#x}", kind.name());
    }
    if st.suppress_watch || st.watches.is_empty() {
        return;
    }
    let end = addr.wrapping_add(size);
    for w in &st.watches {
        let wend = w.addr.wrapping_add(w.len.max(1));
        let overlaps = addr < wend && w.addr < end;
        let matches = match w.kind {
            WatchKind::Write => kind != AccessKind::Load,
            WatchKind::Read => kind != AccessKind::Store,
            WatchKind::Access => true,
        };
        if overlaps && matches {
            st.watch_hit = Some(WatchHit {
                pc,
                addr: w.addr,
                kind: w.kind,
            });
            // SAFETY: env is the CPU state the block runs on (helper ABI), CpuHeader first.
            unsafe { (*(env as *mut CpuHeader)).pending_status = ExitStatus::Interrupted as u32 };
            return;
        }
    }
}

extern "C" fn mem_trace(env: *mut u8, state: u64, addr: u64, size_kind: u64, pc: u64) -> u64 {
    mem_hook(env, state, addr, size_kind, pc);
    0
}

extern "C" fn mem_watch(env: *mut u8, state: u64, addr: u64, size_kind: u64, pc: u64) -> u64 {
    mem_hook(env, state, addr, size_kind, pc);
    0
}

helper!(ICOUNT_ADD = icount_add, 2, Effects::PURE);
// Reads no guest globals, but must not be removed or moved: declared as reading them.
helper!(MEM_TRACE = mem_trace, 4, Effects::READS);
helper!(MEM_WATCH = mem_watch, 4, Effects::RAISES);

/// Insert the hooks `cfg` asks for into `block`; `state` is the vCPU's [`InstrState`].
pub fn instrument(block: &Block, cfg: InstrConfig, state: *mut InstrState) -> Block {
    let mut out = Block {
        pc: block.pc,
        guest_size: block.guest_size,
        num_insns: block.num_insns,
        temps: block.temps.clone(),
        num_labels: block.num_labels,
        ops: Vec::with_capacity(block.ops.len() + 8),
    };
    let new_temp = |out: &mut Block, ty: Ty| {
        out.temps.push(ty);
        crate::ir::Temp(out.temps.len() as u32 - 1)
    };
    let state_t = new_temp(&mut out, Ty::I64);
    out.ops.push(Op::Const {
        dst: state_t,
        ty: Ty::I64,
        value: state as u64,
    });
    let count_t = new_temp(&mut out, Ty::I64);
    let arg_t = new_temp(&mut out, Ty::I64);
    let pc_t = new_temp(&mut out, Ty::I64);
    let mut pending: u64 = 0;
    let mut cur_pc = block.pc;
    let flush = |out: &mut Block, pending: &mut u64| {
        if cfg.icount && *pending != 0 {
            out.ops.push(Op::Const {
                dst: count_t,
                ty: Ty::I64,
                value: *pending,
            });
            out.ops.push(Op::Call {
                helper: &ICOUNT_ADD,
                args: vec![state_t, count_t],
                dst: None,
            });
        }
        *pending = 0;
    };
    let mem_helper = if cfg.watch { &MEM_WATCH } else { &MEM_TRACE };
    for op in &block.ops {
        let access = match op {
            Op::Load { addr, mem, .. } => Some((*addr, mem.size, AccessKind::Load)),
            Op::Store { addr, mem, .. } => Some((*addr, mem.size, AccessKind::Store)),
            Op::AtomicRmw { addr, mem, .. } | Op::Cmpxchg { addr, mem, .. } => {
                Some((*addr, mem.size, AccessKind::Rmw))
            }
            _ => None,
        };
        match op {
            Op::InsnStart { pc } => {
                cur_pc = *pc;
                pending += 1;
            }
            Op::Call { helper, .. } if helper.effects.may_raise => flush(&mut out, &mut pending),
            Op::Label { .. }
            | Op::Br { .. }
            | Op::BrCond { .. }
            | Op::GotoBlock { .. }
            | Op::ExitIndirect { .. }
            | Op::Exit { .. } => flush(&mut out, &mut pending),
            _ => {}
        }
        if let Some((addr, size, kind)) = access {
            flush(&mut out, &mut pending);
            if cfg.mem || cfg.watch {
                out.ops.push(Op::Const {
                    dst: arg_t,
                    ty: Ty::I64,
                    value: size as u64 | (kind as u64) << 8,
                });
                out.ops.push(Op::Const {
                    dst: pc_t,
                    ty: Ty::I64,
                    value: cur_pc,
                });
                out.ops.push(Op::Call {
                    helper: mem_helper,
                    args: vec![state_t, addr, arg_t, pc_t],
                    dst: None,
                });
            }
        }
        out.ops.push(op.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Builder;
    use crate::interp::{InterpBlock, InterpRegs};
    use crate::ir::{BinOp, Cond, MemOp};
    use crate::mem::{GuestMemory, PERM_R, PERM_W};

    #[repr(C)]
    #[derive(Default)]
    struct Cpu {
        hdr: CpuHeader,
        r: [u64; 4],
    }
    const R0: u32 = crate::CPU_HEADER_SIZE;

    /// A loop of 3 "instructions" per iteration: load r1 from [r0], r1 += 1, store, r2 -= 1,
    /// branch back while r2 != 0. Then exit. Every instruction is one InsnStart.
    fn loop_block() -> Block {
        let mut b = Builder::new(0x100);
        let top = b.new_label();
        b.label(top);
        b.insn_start(0x100);
        let a = b.get_global(Ty::I64, R0);
        let v = b.load(Ty::I64, a, MemOp::le(8, false));
        b.insn_start(0x104);
        let v1 = b.bin_imm(BinOp::Add, v, 1);
        b.store(v1, a, MemOp::le(8, false));
        b.insn_start(0x108);
        let n = b.get_global(Ty::I64, R0 + 16);
        let n1 = b.bin_imm(BinOp::Sub, n, 1);
        b.set_global(Ty::I64, R0 + 16, n1);
        let z = b.const64(0);
        let more = b.setcond(Cond::Ne, n1, z);
        b.br_cond(more, top);
        b.insn_start(0x10c);
        b.goto_block(0x110);
        b.block.num_insns = 4;
        b.block.guest_size = 16;
        b.finish()
    }

    fn run_both(block: &Block, iters: u64) -> Vec<(u64, u64, u64)> {
        let mem = GuestMemory::reserve(1 << 20).unwrap();
        mem.map_anon(0x1000, 0x1000, PERM_R | PERM_W).unwrap();
        let mut out = Vec::new();
        let cfg = InstrConfig {
            icount: true,
            mem: true,
            watch: false,
        };
        // Interpreter.
        {
            let mut st = Box::new(InstrState::default());
            let ib = instrument(block, cfg, &mut *st);
            crate::verify::verify(&ib).unwrap();
            let mut cpu = Cpu::default();
            cpu.r[0] = 0x1000;
            cpu.r[2] = iters;
            let mut regs = InterpRegs::default();
            // SAFETY: cpu is a valid CPU state with the header first.
            let s = unsafe {
                InterpBlock::new(&ib).run(&mut cpu as *mut Cpu as *mut u8, &mem, &mut regs)
            };
            assert_eq!(s, ExitStatus::Next);
            out.push((
                st.icount.load(Ordering::Relaxed),
                st.mem_accesses,
                mem.load(0x1000, 8).unwrap(),
            ));
        }
        // JIT.
        {
            let mut st = Box::new(InstrState::default());
            let ib = instrument(block, cfg, &mut *st);
            let mut jit = crate::jit::Jit::new(crate::jit::JitConfig {
                code_size: 1 << 20,
                guest_base: mem.base(),
                guest_limit: mem.limit(),
                opt_speed: false,
                verify: true,
            })
            .unwrap();
            let cb = jit.compile(&ib).unwrap();
            let mut cpu = Cpu::default();
            cpu.r[0] = 0x1000;
            cpu.r[2] = iters;
            // SAFETY: live code of this JIT, valid CPU state.
            let s = unsafe { jit.enter(&mut cpu as *mut Cpu as *mut u8, cb.entry) };
            assert_eq!(s, ExitStatus::Next);
            out.push((
                st.icount.load(Ordering::Relaxed),
                st.mem_accesses,
                mem.load(0x1000, 8).unwrap(),
            ));
        }
        out
    }

    #[test]
    fn counts_are_exact_in_both_tiers() {
        let block = loop_block();
        for r in run_both(&block, 5) {
            // 3 instructions per iteration, then the final goto's instruction.
            assert_eq!(r.0, 5 * 3 + 1, "{r:?}");
            assert_eq!(r.1, 5 * 2, "{r:?}");
        }
    }

    #[test]
    fn watch_hit_ends_the_block_before_the_access() {
        let block = loop_block();
        let mem = GuestMemory::reserve(1 << 20).unwrap();
        mem.map_anon(0x1000, 0x1000, PERM_R | PERM_W).unwrap();
        let mut st = Box::new(InstrState::default());
        st.watches.push(Watchpoint {
            addr: 0x1000,
            len: 8,
            kind: WatchKind::Write,
        });
        let ib = instrument(
            &block,
            InstrConfig {
                icount: false,
                mem: false,
                watch: true,
            },
            &mut *st,
        );
        let mut cpu = Cpu::default();
        cpu.r[0] = 0x1000;
        cpu.r[2] = 5;
        let mut regs = InterpRegs::default();
        // SAFETY: valid CPU state.
        let s =
            unsafe { InterpBlock::new(&ib).run(&mut cpu as *mut Cpu as *mut u8, &mem, &mut regs) };
        assert_eq!(s, ExitStatus::Interrupted);
        assert_eq!(cpu.hdr.pc, 0x104);
        assert_eq!(mem.load(0x1000, 8).unwrap(), 0, "the store did not happen");
        assert_eq!(
            st.watch_hit,
            Some(WatchHit {
                pc: 0x104,
                addr: 0x1000,
                kind: WatchKind::Write
            })
        );
    }

    #[test]
    fn no_pass_means_no_ops() {
        let block = loop_block();
        let ib = instrument(&block, InstrConfig::default(), std::ptr::null_mut());
        // Only the state constant and the unchanged ops.
        assert_eq!(ib.ops.len(), block.ops.len() + 1);
    }
}
