//! System-mode engine tests: a toy guest ISA whose code lives in (fake) guest RAM, a toy
//! page table and a fake physical address space with RAM, one MMIO device and a hole.

use super::*;
use crate::engine::{Engine, EngineConfig, Tier, Trace};
use crate::ir::{BinOp, Cond, ExitStatus, MemOp, RmwOp, Ty};
use crate::{Builder, CpuHeader, Guest, TranslateError};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

const RAM_BASE: u64 = 0x8000_0000;
const RAM_PAGES: u64 = 16;
const MMIO_BASE: u64 = 0x1000_0000;
const HOLE_BASE: u64 = 0x2000_0000;

/// Virtual pages of the toy address space.
const V_CODE: u64 = 0x4000_0000; // RAM page 0, rx
const V_DATA: u64 = 0x4000_1000; // RAM page 1, rw
const V_RO: u64 = 0x4000_2000; // RAM page 2, r
const V_MMIO: u64 = 0x4000_3000; // device, rw
const V_HOLE: u64 = 0x4000_4000; // nothing at the physical page, rw
const V_CROSS: u64 = 0x4000_5000; // RAM page 5, rw; the next virtual page is RAM page 3
const V_CODE2: u64 = 0x4000_7000; // RAM page 4, rwx
const V_EDGE: u64 = 0x4000_8000; // RAM page 6, rw; the next virtual page is unmapped
const V_CODE3: u64 = 0x4000_a000; // RAM page 8, rx

#[repr(C)]
struct ToyCpu {
    hdr: CpuHeader,
    regs: [u64; 8],
    tlb: Tlb,
}

const REGS: u32 = crate::CPU_HEADER_SIZE;
const TLB_OFFSET: u32 = std::mem::offset_of!(ToyCpu, tlb) as u32;

impl ToyCpu {
    fn new(pc: u64) -> Box<ToyCpu> {
        let mut c = Box::new(ToyCpu {
            hdr: CpuHeader::default(),
            regs: [0; 8],
            tlb: Tlb::new(),
        });
        c.hdr.pc = pc;
        c
    }
    fn env(&mut self) -> *mut u8 {
        self as *mut ToyCpu as *mut u8
    }
}

/// Toy ISA, 4-byte instructions [op, a, b, c]:
/// 00 halt | 01 rd lo hi: rd = imm16 | 02 rd lo hi: rd = rd << 16 | imm16 | 03 rd rs: rd += rs
/// 04 rd rs m: rd = load [rs] | 05 rv rs m: store rv -> [rs] | 06 rd rs m: rd = amoadd [rs], rd
/// 07 rd rs rn: rd = cas [rs] (expected rd, new rn), 8 bytes, mmu 0
/// 08 r off: r -= 1; if r != 0 goto pc + 4 * off (i8) | 09 rd: jump to rd
/// 0a lo hi: goto pc + 4 * imm16 (signed) | 0b: end block
/// m = mmu_idx | log2(size) << 4 | aligned << 7.
struct ToyGuest;

fn reg(r: u8) -> u32 {
    REGS + 8 * (r as u32 & 7)
}

fn memop(m: u8) -> MemOp {
    MemOp {
        size: 1 << ((m >> 4) & 3),
        signed: false,
        big_endian: false,
        aligned: m & 0x80 != 0,
        mmu_idx: m & 7,
    }
}

impl Guest for ToyGuest {
    fn name(&self) -> &'static str {
        "toysys"
    }
    fn translate(
        &self,
        pc: u64,
        _flags: u64,
        code: &dyn CodeFetch,
        b: &mut Builder,
    ) -> Result<(), TranslateError> {
        let mut cur = pc;
        for n in 0..16u32 {
            let mut w = [0u8; 4];
            if code.fetch(cur, &mut w) < 4 {
                if n == 0 {
                    return Err(TranslateError::FetchFault(cur));
                }
                b.goto_block(cur);
                return Ok(());
            }
            b.block.guest_size += 4;
            b.block.num_insns += 1;
            b.insn_start(cur);
            let [op, a, x, y] = w;
            let next = cur + 4;
            match op {
                0x00 => {
                    b.exit(ExitStatus::Halt, cur);
                    return Ok(());
                }
                0x01 => {
                    let v = b.const64(u16::from_le_bytes([x, y]) as u64);
                    b.set_global(Ty::I64, reg(a), v);
                }
                0x02 => {
                    let r = b.get_global(Ty::I64, reg(a));
                    let s = b.bin_imm(BinOp::Shl, r, 16);
                    let v = b.bin_imm(BinOp::Or, s, u16::from_le_bytes([x, y]) as u64);
                    b.set_global(Ty::I64, reg(a), v);
                }
                0x03 => {
                    let r = b.get_global(Ty::I64, reg(a));
                    let s = b.get_global(Ty::I64, reg(x));
                    let v = b.bin(BinOp::Add, r, s);
                    b.set_global(Ty::I64, reg(a), v);
                }
                0x04 => {
                    let addr = b.get_global(Ty::I64, reg(x));
                    let v = b.load(Ty::I64, addr, memop(y));
                    b.set_global(Ty::I64, reg(a), v);
                }
                0x05 => {
                    let addr = b.get_global(Ty::I64, reg(x));
                    let v = b.get_global(Ty::I64, reg(a));
                    b.store(v, addr, memop(y));
                }
                0x06 => {
                    let addr = b.get_global(Ty::I64, reg(x));
                    let v = b.get_global(Ty::I64, reg(a));
                    let old = b.atomic_rmw(RmwOp::Add, addr, v, memop(y | 0x80));
                    b.set_global(Ty::I64, reg(a), old);
                }
                0x07 => {
                    let addr = b.get_global(Ty::I64, reg(x));
                    let e = b.get_global(Ty::I64, reg(a));
                    let n = b.get_global(Ty::I64, reg(y));
                    let old = b.cmpxchg(addr, e, n, MemOp::le(8, false).with_aligned());
                    b.set_global(Ty::I64, reg(a), old);
                }
                0x08 => {
                    let r = b.get_global(Ty::I64, reg(a));
                    let r1 = b.bin_imm(BinOp::Sub, r, 1);
                    b.set_global(Ty::I64, reg(a), r1);
                    let zero = b.const64(0);
                    let more = b.setcond(Cond::Ne, r1, zero);
                    let l = b.new_label();
                    b.br_cond(more, l);
                    b.goto_block(next);
                    b.label(l);
                    b.goto_block(cur.wrapping_add((x as i8 as i64 * 4) as u64));
                    return Ok(());
                }
                0x09 => {
                    let t = b.get_global(Ty::I64, reg(a));
                    b.exit_indirect(t);
                    return Ok(());
                }
                0x0a => {
                    let off = i16::from_le_bytes([x, y]) as i64 * 4;
                    b.goto_block(cur.wrapping_add(off as u64));
                    return Ok(());
                }
                0x0b => {
                    b.exit(ExitStatus::Next, next);
                    return Ok(());
                }
                _ => {
                    b.exit(ExitStatus::Exception, cur);
                    return Ok(());
                }
            }
            cur = next;
            if b.stop_before(cur, n + 1) {
                break;
            }
        }
        b.goto_block(cur);
        Ok(())
    }
    fn tb_flags(&self, _env: *const u8) -> u64 {
        0
    }
    fn global_name(&self, offset: u32) -> Option<String> {
        Some(format!("r{}", (offset - REGS) / 8))
    }
    fn disassemble(&self, pc: u64, _bytes: &[u8]) -> Vec<String> {
        vec![format!("{pc:#x}: toy")]
    }
}

fn halt() -> [u8; 4] {
    [0, 0, 0, 0]
}
fn li(r: u8, v: u16) -> [u8; 4] {
    let [lo, hi] = v.to_le_bytes();
    [1, r, lo, hi]
}
/// r = v (64-bit), four instructions.
fn li64(r: u8, v: u64) -> Vec<[u8; 4]> {
    let mut out = vec![li(r, (v >> 48) as u16)];
    for sh in [32, 16, 0] {
        let [lo, hi] = ((v >> sh) as u16).to_le_bytes();
        out.push([2, r, lo, hi]);
    }
    out
}
fn add(rd: u8, rs: u8) -> [u8; 4] {
    [3, rd, rs, 0]
}
fn m(size: u8, aligned: bool, mmu: u8) -> u8 {
    mmu | (size.trailing_zeros() as u8) << 4 | (aligned as u8) << 7
}
fn ld(rd: u8, rs: u8, mo: u8) -> [u8; 4] {
    [4, rd, rs, mo]
}
fn st(rv: u8, rs: u8, mo: u8) -> [u8; 4] {
    [5, rv, rs, mo]
}
fn amoadd(rd: u8, rs: u8, mo: u8) -> [u8; 4] {
    [6, rd, rs, mo]
}
fn cas(rd: u8, rs: u8, rn: u8) -> [u8; 4] {
    [7, rd, rs, rn]
}
fn djnz(r: u8, off: i8) -> [u8; 4] {
    [8, r, off as u8, 0]
}
fn jr(r: u8) -> [u8; 4] {
    [9, r, 0, 0]
}
fn jmp(from: u64, to: u64) -> [u8; 4] {
    let [lo, hi] = ((to.wrapping_sub(from) as i64 / 4) as i16).to_le_bytes();
    [0x0a, 0, lo, hi]
}
fn fence_i() -> [u8; 4] {
    [0x0b, 0, 0, 0]
}

struct ToyMmu {
    map: Mutex<HashMap<u64, (u64, bool, bool, bool)>>,
    calls: AtomicU64,
}

impl AddressTranslator for ToyMmu {
    fn translate(
        &self,
        _env: *mut u8,
        vaddr: u64,
        access: Access,
        _mmu_idx: u8,
    ) -> Result<PageMapping, FaultKind> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let map = self.map.lock().unwrap();
        let Some(&(paddr, read, write, exec)) = map.get(&(vaddr & PAGE_MASK)) else {
            return Err(access.fault());
        };
        let ok = match access {
            Access::Read => read,
            Access::Write => write,
            Access::Exec => exec,
        };
        if !ok {
            return Err(access.fault());
        }
        Ok(PageMapping {
            paddr,
            read,
            write,
            exec,
        })
    }
}

struct ToyPhys {
    ram: memmap2::MmapMut,
    reg: AtomicU64,
    io_log: Mutex<Vec<(u64, u8, u64, bool)>>,
}

impl PhysMemory for ToyPhys {
    fn ram_page(&self, paddr: u64) -> Option<*mut u8> {
        let off = paddr.checked_sub(RAM_BASE)?;
        (off < RAM_PAGES * PAGE_SIZE)
            .then(|| self.ram.as_ptr().wrapping_add(off as usize) as *mut u8)
    }
    fn io_read(&self, paddr: u64, size: u8) -> Result<u64, BusFault> {
        if paddr & PAGE_MASK != MMIO_BASE {
            return Err(BusFault { paddr });
        }
        let v = if paddr == MMIO_BASE {
            self.reg.load(Ordering::SeqCst)
        } else {
            0xd0 + (paddr - MMIO_BASE)
        };
        self.io_log.lock().unwrap().push((paddr, size, v, false));
        Ok(v)
    }
    fn io_write(&self, paddr: u64, size: u8, value: u64) -> Result<(), BusFault> {
        if paddr & PAGE_MASK != MMIO_BASE {
            return Err(BusFault { paddr });
        }
        if paddr == MMIO_BASE {
            self.reg.store(value, Ordering::SeqCst);
        }
        self.io_log.lock().unwrap().push((paddr, size, value, true));
        Ok(())
    }
}

struct Machine {
    mmu: Arc<ToyMmu>,
    phys: Arc<ToyPhys>,
    code: Arc<CodePages>,
}

fn ram(page: u64) -> u64 {
    RAM_BASE + page * PAGE_SIZE
}

impl Machine {
    fn new() -> Machine {
        let mut map = HashMap::new();
        map.insert(V_CODE, (ram(0), true, false, true));
        map.insert(V_DATA, (ram(1), true, true, false));
        map.insert(V_RO, (ram(2), true, false, false));
        map.insert(V_MMIO, (MMIO_BASE, true, true, false));
        map.insert(V_HOLE, (HOLE_BASE, true, true, false));
        map.insert(V_CROSS, (ram(5), true, true, false));
        map.insert(V_CROSS + PAGE_SIZE, (ram(3), true, true, false));
        map.insert(V_CODE2, (ram(4), true, true, true));
        map.insert(V_EDGE, (ram(6), true, true, false));
        map.insert(V_CODE3, (ram(8), true, false, true));
        map.insert(V_CODE3 + PAGE_SIZE, (ram(10), true, false, true));
        Machine {
            mmu: Arc::new(ToyMmu {
                map: Mutex::new(map),
                calls: AtomicU64::new(0),
            }),
            phys: Arc::new(ToyPhys {
                ram: memmap2::MmapOptions::new()
                    .len((RAM_PAGES * PAGE_SIZE) as usize)
                    .map_anon()
                    .unwrap(),
                reg: AtomicU64::new(0),
                io_log: Mutex::new(Vec::new()),
            }),
            code: CodePages::new(RAM_BASE, RAM_PAGES * PAGE_SIZE),
        }
    }
    fn engine(&self, tier: Tier) -> Engine {
        let sys = SoftmmuConfig {
            translator: self.mmu.clone(),
            phys: self.phys.clone(),
            code_pages: self.code.clone(),
            tlb_offset: TLB_OFFSET,
        };
        // Auto: interpreter, quick tier after one run, Cranelift after three more.
        let cfg = EngineConfig {
            tier,
            jit_threshold: 2,
            quick_threshold: 1,
            promote_threshold: 3,
            code_buffer_size: 1 << 20,
            trace: Trace::default(),
        };
        Engine::new_system(Arc::new(ToyGuest), sys, cfg).unwrap()
    }
    /// Write bytes to guest RAM behind the vCPUs' backs (no invalidation).
    fn poke(&self, paddr: u64, bytes: &[u8]) {
        let p = self.phys.ram_page(paddr & PAGE_MASK).unwrap();
        // SAFETY: test RAM, inside the mapping (pages are whole).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                p.add((paddr & !PAGE_MASK) as usize),
                bytes.len(),
            )
        };
    }
    fn peek(&self, paddr: u64, n: usize) -> Vec<u8> {
        let p = self.phys.ram_page(paddr & PAGE_MASK).unwrap();
        // SAFETY: as in `poke`.
        unsafe { std::slice::from_raw_parts(p.add((paddr & !PAGE_MASK) as usize), n).to_vec() }
    }
    fn asm(&self, paddr: u64, insns: &[[u8; 4]]) {
        let bytes: Vec<u8> = insns.iter().flatten().copied().collect();
        self.poke(paddr, &bytes);
    }
}

fn run(e: &mut Engine, cpu: &mut ToyCpu) -> ExitStatus {
    // SAFETY: cpu is a live ToyCpu (header first, Tlb at TLB_OFFSET) that outlives `e`'s
    // use of it in each test.
    unsafe { e.run(cpu.env()) }
}

fn tiers() -> Vec<Tier> {
    vec![Tier::Interp, Tier::Jit, Tier::Auto]
}

/// Program: r1 = V_DATA, r2 = n, loop { [r1] = r3; r4 = [r1]; r5 += r4 }.
fn loop_program(n: u16) -> Vec<[u8; 4]> {
    let mut p = li64(1, V_DATA);
    p.push(li(2, n));
    p.push(li(3, 5));
    // loop at index 6
    p.push(st(3, 1, m(8, true, 0)));
    p.push(ld(4, 1, m(8, true, 0)));
    p.push(add(5, 4));
    p.push(djnz(2, -3));
    p.push(halt());
    p
}

#[test]
fn loads_and_stores_hit_after_one_fill() {
    for tier in tiers() {
        let mach = Machine::new();
        mach.asm(ram(0), &loop_program(1000));
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt, "{tier:?}");
        assert_eq!(cpu.regs[5], 5000);
        assert_eq!(cpu.hdr.pc, V_CODE + 10 * 4);
        // One fill for code and one for the data page (the read fill grants write too).
        assert_eq!(mach.mmu.calls.load(Ordering::SeqCst), 2, "{tier:?}");
        assert_eq!(cpu.tlb.fills(), 2);
        if tier == Tier::Jit {
            // JIT code serves hits inline: only the first access reaches the slow path.
            assert_eq!(cpu.tlb.slow_accesses(), 1, "{tier:?}");
        } else if tier == Tier::Interp {
            assert!(cpu.tlb.slow_accesses() >= 2000, "{tier:?}");
        }
        assert_eq!(mach.peek(ram(1), 8), 5u64.to_le_bytes());
    }
}

/// Auto tier: the loop is interpreted once, compiled by the quick tier, and promoted to
/// Cranelift after three more runs (in-engine, no compile thread); the result is exact and
/// the loop's block ends up running Cranelift's code, chained to itself.
#[test]
fn hot_quick_blocks_are_promoted_to_cranelift() {
    let mach = Machine::new();
    mach.asm(ram(0), &loop_program(1000));
    let mut e = mach.engine(Tier::Auto);
    let mut cpu = ToyCpu::new(V_CODE);
    assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
    assert_eq!(cpu.regs[5], 5000);
    let st = e.stats();
    assert!(st.blocks_quick >= 2, "{st:?}");
    assert!(st.blocks_promoted >= 1, "{st:?}");
    assert!(st.blocks_compiled > st.blocks_quick, "{st:?}");
    assert_eq!(mach.peek(ram(1), 8), 5u64.to_le_bytes());
    // Without promotion the quick code runs the whole loop.
    let mach = Machine::new();
    mach.asm(ram(0), &loop_program(1000));
    let mut e = mach.engine(Tier::Auto);
    e.set_promote_threshold(0);
    let mut cpu = ToyCpu::new(V_CODE);
    assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
    assert_eq!(cpu.regs[5], 5000);
    let st = e.stats();
    assert_eq!(st.blocks_promoted, 0, "{st:?}");
    assert_eq!(st.blocks_compiled, st.blocks_quick, "{st:?}");
}

/// Indirect jumps alternate between two blocks whose PCs share a slot of the JIT jump table
/// (V_CODE and V_CODE3 are 40 KiB apart), so every jump misses the table: in generated
/// code the engine's lookup resolves them without leaving it, and the result is exact.
#[test]
fn jump_table_misses_resolve_in_generated_code() {
    let x = V_CODE + 0x100;
    let y = V_CODE3 + 0x100;
    assert_eq!((x >> 1) % 4096, (y >> 1) % 4096);
    for tier in [Tier::Jit, Tier::Auto, Tier::Interp] {
        let mach = Machine::new();
        let mut main = li64(1, x);
        main.push(li(2, 600));
        main.extend(li64(3, y.wrapping_sub(x)));
        main.extend(li64(4, x.wrapping_sub(y)));
        let l = V_CODE + 4 * main.len() as u64;
        main.push(jr(1));
        mach.asm(ram(0), &main);
        // x: r1 += r3 (to y); r2 -= 1, if nonzero back to l, else halt. y: the same back.
        for (at, paddr, k) in [(x, ram(0) + 0x100, 3), (y, ram(8) + 0x100, 4)] {
            mach.asm(paddr, &[add(1, k), djnz(2, 2), halt(), jmp(at + 12, l)]);
        }
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt, "{tier:?}");
        assert_eq!(cpu.regs[2], 0, "{tier:?}");
        // 600 decrements, the last one in y (which points r1 back at x): halt at y + 8.
        assert_eq!((cpu.hdr.pc, cpu.regs[1]), (y + 8, x), "{tier:?}");
        let st = e.stats();
        if tier == Tier::Interp {
            assert_eq!(st.indirect_lookups, 0);
        } else {
            assert!(st.indirect_lookups > 500, "{tier:?}: {st:?}");
            assert!(st.jit_entries < 100, "{tier:?}: {st:?}");
        }
    }
}

/// Run `prog` placed at V_CODE and expect a fault at instruction `at`.
fn expect_fault(prog: &[[u8; 4]], at: usize, addr: u64, kind: FaultKind) {
    expect_fault_at(prog, V_CODE + 4 * at as u64, addr, kind)
}

/// Run `prog` placed at V_CODE and expect a fault with the PC at `pc`.
fn expect_fault_at(prog: &[[u8; 4]], pc: u64, addr: u64, kind: FaultKind) {
    let mach = Machine::new();
    mach.asm(ram(0), prog);
    for tier in tiers() {
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Fault, "{tier:?}");
        assert_eq!(cpu.hdr.pc, pc, "{tier:?}");
        assert_eq!(cpu.hdr.fault_addr, addr, "{tier:?}");
        assert_eq!(FaultKind::from_u32(cpu.hdr.fault_kind), kind, "{tier:?}");
        // Earlier instructions took effect, the faulting one did not.
        assert_eq!(cpu.regs[7], 7, "{tier:?}");
    }
}

#[test]
fn page_faults_report_the_translator_kind() {
    let unmapped = 0x4000_9010;
    let mut p = li64(1, unmapped);
    p.push(li(7, 7));
    p.push(ld(2, 1, m(4, false, 0)));
    expect_fault(&p, 5, unmapped, FaultKind::Read);

    let mut p = li64(1, V_RO + 8);
    p.push(li(7, 7));
    p.push(st(2, 1, m(8, false, 0)));
    expect_fault(&p, 5, V_RO + 8, FaultKind::Write);

    let mut p = li64(1, V_RO + 8);
    p.push(li(7, 7));
    p.push(amoadd(2, 1, m(8, true, 0)));
    expect_fault(&p, 5, V_RO + 8, FaultKind::Write);

    let mut p = li64(1, V_DATA + 2);
    p.push(li(7, 7));
    p.push(ld(2, 1, m(4, true, 0)));
    expect_fault(&p, 5, V_DATA + 2, FaultKind::Misaligned);

    // Jumping to a non-executable page is an instruction fetch fault.
    let mut p = li64(1, V_DATA + 0x40);
    p.push(li(7, 7));
    p.push(jr(1));
    expect_fault_at(&p, V_DATA + 0x40, V_DATA + 0x40, FaultKind::Exec);
}

#[test]
fn bus_faults_when_nothing_answers() {
    let mut p = li64(1, V_HOLE + 8);
    p.push(li(7, 7));
    p.push(ld(2, 1, m(8, false, 0)));
    expect_fault(&p, 5, V_HOLE + 8, FaultKind::BusRead);

    let mut p = li64(1, V_HOLE + 8);
    p.push(li(7, 7));
    p.push(st(2, 1, m(2, false, 0)));
    expect_fault(&p, 5, V_HOLE + 8, FaultKind::BusWrite);
}

#[test]
fn mmio_reads_writes_and_atomics_reach_the_device() {
    for tier in tiers() {
        let mach = Machine::new();
        let mut p = li64(1, V_MMIO);
        p.extend(li64(2, 0x1234));
        p.push(st(2, 1, m(4, false, 0))); // reg = 0x1234
        p.push(ld(3, 1, m(4, false, 0))); // r3 = 0x1234
        p.push(li(4, 2));
        p.push(amoadd(4, 1, m(4, true, 0))); // r4 = 0x1234, reg = 0x1236
        p.extend(li64(5, V_MMIO + 0x10));
        p.push(ld(6, 5, m(2, false, 0))); // r6 = 0xd0 + 0x10
        p.push(halt());
        mach.asm(ram(0), &p);
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[3], 0x1234);
        assert_eq!(cpu.regs[4], 0x1234);
        assert_eq!(cpu.regs[6], 0xe0);
        assert_eq!(mach.phys.reg.load(Ordering::SeqCst), 0x1236);
        let log = mach.phys.io_log.lock().unwrap().clone();
        assert_eq!(
            log,
            vec![
                (MMIO_BASE, 4, 0x1234, true),
                (MMIO_BASE, 4, 0x1234, false),
                (MMIO_BASE, 4, 0x1234, false),
                (MMIO_BASE, 4, 0x1236, true),
                (MMIO_BASE + 0x10, 2, 0xe0, false),
            ],
            "{tier:?}"
        );
    }
}

#[test]
fn page_crossing_accesses_use_both_translations() {
    for tier in tiers() {
        let mach = Machine::new();
        let mut p = li64(1, V_CROSS + PAGE_SIZE - 4);
        p.extend(li64(2, 0x1122_3344_5566_7788));
        p.push(st(2, 1, m(8, false, 0)));
        p.push(ld(3, 1, m(8, false, 0)));
        p.push(li(7, 7));
        // Crossing into an unmapped page faults before writing anything.
        p.extend(li64(4, V_EDGE + PAGE_SIZE - 2));
        p.push(st(2, 4, m(4, false, 0)));
        mach.asm(ram(0), &p);
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Fault);
        assert_eq!(cpu.regs[3], 0x1122_3344_5566_7788);
        assert_eq!(
            mach.peek(ram(5) + PAGE_SIZE - 4, 4),
            [0x88, 0x77, 0x66, 0x55]
        );
        assert_eq!(mach.peek(ram(3), 4), [0x44, 0x33, 0x22, 0x11]);
        assert_eq!(cpu.hdr.fault_addr, V_EDGE + PAGE_SIZE);
        assert_eq!(FaultKind::from_u32(cpu.hdr.fault_kind), FaultKind::Write);
        assert_eq!(cpu.hdr.pc, V_CODE + 4 * 15);
        assert_eq!(mach.peek(ram(6) + PAGE_SIZE - 2, 2), [0, 0]);
    }
}

#[test]
fn cmpxchg_and_amoadd_on_ram() {
    for tier in tiers() {
        let mach = Machine::new();
        mach.poke(ram(1) + 16, &40u64.to_le_bytes());
        let mut p = li64(1, V_DATA + 16);
        p.push(li(2, 40)); // expected
        p.push(li(3, 50)); // new
        p.push(cas(2, 1, 3)); // succeeds: r2 = 40, mem = 50
        p.push(li(4, 41));
        p.push(cas(4, 1, 3)); // fails: r4 = 50
        p.push(li(5, 8));
        p.push(amoadd(5, 1, m(8, true, 0))); // r5 = 50, mem = 58
        p.push(halt());
        mach.asm(ram(0), &p);
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!((cpu.regs[2], cpu.regs[4], cpu.regs[5]), (40, 50, 50));
        assert_eq!(mach.peek(ram(1) + 16, 8), 58u64.to_le_bytes());
    }
}

/// Program at V_CODE storing the word in r3 to V_CODE2, synchronising the instruction
/// stream (like fence.i: end the block, back to the engine) and jumping there.
fn patch_and_jump(word: [u8; 4]) -> Vec<[u8; 4]> {
    let mut p = li64(2, V_CODE2);
    p.extend(li64(3, u32::from_le_bytes(word) as u64));
    p.push(st(3, 2, m(4, false, 0)));
    p.push(fence_i());
    p.push(jr(2));
    p
}

#[test]
fn stores_to_code_pages_invalidate_translations() {
    for tier in tiers() {
        let mach = Machine::new();
        mach.asm(ram(4), &[li(1, 1), halt()]);
        mach.asm(ram(0), &patch_and_jump(li(1, 2)));
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE2);
        for _ in 0..3 {
            cpu.hdr.pc = V_CODE2;
            assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
            assert_eq!(cpu.regs[1], 1);
        }
        assert!(mach.code.is_code(ram(4)));
        cpu.hdr.pc = V_CODE;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 2, "{tier:?}: the patched code must run");
        assert_eq!(cpu.hdr.pc, V_CODE2 + 4);
        // The page holds code again (the patched block), so its TLB entry is write-
        // protected again and a second patch is seen too.
        assert!(mach.code.is_code(ram(4)));
        assert_ne!(cpu.tlb.entry(0, V_CODE2).write & TLB_CODE, 0);
        mach.asm(ram(0), &patch_and_jump(li(1, 3)));
        mach.code.notify_write(ram(0), PAGE_SIZE);
        cpu.hdr.pc = V_CODE;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 3, "{tier:?}: the second patch must run");
        let st = e.stats();
        assert!(st.code_page_invalidations >= 2, "{st:?}");
        assert!(st.tlb_fills >= 2 && st.tlb_slow_accesses >= 2, "{st:?}");
        assert!(st.to_string().contains("softmmu TLB fills"));
    }
}

#[test]
fn data_beside_code_in_one_page_does_not_drop_translations() {
    for tier in tiers() {
        let mach = Machine::new();
        // Code at the start of V_CODE2's page, data at +0x800 in the same page.
        mach.asm(ram(4), &[li(1, 1), add(6, 1), halt()]);
        let mut p = li64(2, V_CODE2 + 0x800);
        p.push(li(3, 100));
        p.push(st(3, 2, m(8, false, 0)));
        p.push(add(7, 3));
        p.extend(li64(4, V_CODE2));
        p.push(jr(4));
        mach.asm(ram(0), &p);
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE2);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        let translated = e.stats().blocks_translated;
        for k in 0..5 {
            cpu.hdr.pc = V_CODE;
            assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
            assert_eq!(cpu.regs[6], 2 + k);
        }
        assert_eq!(mach.peek(ram(4) + 0x800, 8), 100u64.to_le_bytes());
        let st = e.stats();
        assert_eq!(st.code_page_invalidations, 0, "{tier:?}: {st:?}");
        // Only the program at V_CODE was added (one or two blocks).
        assert!(st.blocks_translated <= translated + 2, "{tier:?}: {st:?}");
        assert!(mach.code.is_code(ram(4)));
    }
}

#[test]
fn dma_writes_invalidate_translations() {
    for tier in tiers() {
        let mach = Machine::new();
        mach.asm(ram(4), &[li(1, 1), halt()]);
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE2);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 1);
        // Without a notification the stale translation runs (as on hardware without a
        // fence.i the result would be undefined; here it is the old code).
        mach.asm(ram(4), &[li(1, 3), halt()]);
        cpu.hdr.pc = V_CODE2;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 1);
        mach.code.notify_write(ram(4), 4);
        cpu.hdr.pc = V_CODE2;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 3, "{tier:?}");
    }
}

#[test]
fn another_vcpus_writable_entry_is_protected_when_the_page_becomes_code() {
    for tier in tiers() {
        let mach = Machine::new();
        // vCPU 2 writes the first word of V_CODE2 through its TLB (entry filled writable
        // before the page holds code), then stops.
        let word_at = |insn: [u8; 4]| u32::from_le_bytes(insn) as u64;
        let mut e2 = mach.engine(tier);
        let mut cpu2 = ToyCpu::new(V_CODE);
        let store_word = |e2: &mut Engine, cpu2: &mut ToyCpu, w: u64| {
            cpu2.regs = [0; 8];
            cpu2.hdr.pc = V_CODE;
            let mut p = li64(2, V_CODE2);
            p.extend(li64(3, w));
            p.push(st(3, 2, m(4, false, 0)));
            p.push(halt());
            mach.asm(ram(0), &p);
            mach.code.notify_write(ram(0), PAGE_SIZE);
            assert_eq!(run(e2, cpu2), ExitStatus::Halt);
        };
        store_word(&mut e2, &mut cpu2, word_at(li(1, 1)));
        mach.asm(ram(4) + 4, &[halt()]);
        assert_eq!(cpu2.tlb.entry(0, V_CODE2).write & TLB_CODE, 0);

        // vCPU 1 translates V_CODE2: vCPU 2's entry gets the code flag.
        let mut e1 = mach.engine(tier);
        let mut cpu1 = ToyCpu::new(V_CODE2);
        assert_eq!(run(&mut e1, &mut cpu1), ExitStatus::Halt);
        assert_eq!(cpu1.regs[1], 1);
        assert_ne!(cpu2.tlb.entry(0, V_CODE2).write & TLB_CODE, 0);

        // vCPU 2 stores new code; vCPU 1 sees it on its next lookup.
        store_word(&mut e2, &mut cpu2, word_at(li(1, 9)));
        cpu1.hdr.pc = V_CODE2;
        assert_eq!(run(&mut e1, &mut cpu1), ExitStatus::Halt);
        assert_eq!(cpu1.regs[1], 9, "{tier:?}");
        drop(e1);
        drop(e2);
    }
}

#[test]
fn tlb_flush_makes_a_new_mapping_visible() {
    for tier in tiers() {
        let mach = Machine::new();
        mach.asm(ram(8), &[li(1, 1), halt()]);
        mach.asm(ram(9), &[li(1, 2), halt()]);
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE3);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 1);
        mach.mmu
            .map
            .lock()
            .unwrap()
            .insert(V_CODE3, (ram(9), true, false, true));
        // The TLB still holds the old mapping: the old code runs.
        cpu.hdr.pc = V_CODE3;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 1);
        let calls = mach.mmu.calls.load(Ordering::SeqCst);
        cpu.tlb.flush_page(V_CODE3 + 0x123);
        cpu.hdr.pc = V_CODE3;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 2, "{tier:?}");
        assert_eq!(mach.mmu.calls.load(Ordering::SeqCst), calls + 1);
        // Back to the first page: its block is found again by physical PC.
        mach.mmu
            .map
            .lock()
            .unwrap()
            .insert(V_CODE3, (ram(8), true, false, true));
        cpu.tlb.flush_all();
        cpu.hdr.pc = V_CODE3;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[1], 1);
    }
}

#[test]
fn blocks_spanning_two_pages_follow_the_second_pages_mapping() {
    for tier in tiers() {
        let mach = Machine::new();
        mach.asm(ram(8) + PAGE_SIZE - 8, &[li(1, 1), add(5, 1)]);
        mach.asm(ram(10), &[li(2, 7), halt()]);
        mach.asm(ram(11), &[li(2, 9), halt()]);
        let mut e = mach.engine(tier);
        let start = V_CODE3 + PAGE_SIZE - 8;
        let mut cpu = ToyCpu::new(start);
        let go = |cpu: &mut ToyCpu, e: &mut Engine| {
            cpu.hdr.pc = start;
            assert_eq!(run(e, cpu), ExitStatus::Halt);
            assert_eq!(cpu.hdr.pc, V_CODE3 + PAGE_SIZE + 4);
            cpu.regs[2]
        };
        assert_eq!(go(&mut cpu, &mut e), 7);
        assert_eq!(go(&mut cpu, &mut e), 7);
        let remap = |p: u64| {
            mach.mmu
                .map
                .lock()
                .unwrap()
                .insert(V_CODE3 + PAGE_SIZE, (ram(p), true, false, true));
        };
        // Only the second page is remapped and flushed.
        remap(11);
        cpu.tlb.flush_page(V_CODE3 + PAGE_SIZE);
        assert_eq!(go(&mut cpu, &mut e), 9, "{tier:?}");
        // Back, with a full flush (the block is found by its first page again).
        remap(10);
        cpu.tlb.flush_all();
        assert_eq!(go(&mut cpu, &mut e), 7, "{tier:?}");
        assert_eq!(cpu.regs[5], 4);
    }
}

#[test]
fn chains_to_another_page_are_undone_when_it_is_remapped() {
    for tier in tiers() {
        let mach = Machine::new();
        mach.asm(
            ram(0),
            &[li(2, 20), jmp(V_CODE + 4, V_CODE3), djnz(2, -1), halt()],
        );
        let back = |v: u16| [li(3, v), add(5, 3), jmp(V_CODE3 + 8, V_CODE + 8)];
        mach.asm(ram(8), &back(1));
        mach.asm(ram(9), &back(2));
        let mut e = mach.engine(tier);
        let mut cpu = ToyCpu::new(V_CODE);
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[5], 20);
        cpu.hdr.pc = V_CODE;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(cpu.regs[5], 40);
        if tier == Tier::Jit {
            assert!(e.stats().chains_made >= 3, "{:?}", e.stats());
        }
        mach.mmu
            .map
            .lock()
            .unwrap()
            .insert(V_CODE3, (ram(9), true, false, true));
        cpu.tlb.flush_page(V_CODE3);
        cpu.hdr.pc = V_CODE;
        assert_eq!(run(&mut e, &mut cpu), ExitStatus::Halt);
        assert_eq!(
            cpu.regs[5], 80,
            "{tier:?}: the remapped page's code must run"
        );
    }
}

#[test]
fn tlb_flushes_invalidate_entries() {
    let mut t = Tlb::new();
    let tp: *mut Tlb = &mut t;
    let e = TlbEntry {
        read: 0x5000,
        write: TLB_INVALID,
        code: 0x5000,
        addend: 7,
    };
    // SAFETY: `tp` is a live Tlb; indices in range.
    unsafe { Tlb::store_entry(tp, 3, tlb_index(0x5000), e, 0x9000) };
    t.used |= 1 << 3;
    assert_eq!(t.entry(3, 0x5abc), e);
    t.flush_page(0x6000); // another index
    assert_eq!(t.entry(3, 0x5000), e);
    t.flush_page(0x5000 + (TLB_ENTRIES as u64) * PAGE_SIZE); // same index, other page
    assert_eq!(t.entry(3, 0x5000), e);
    let before = t.flush_count();
    t.flush_page(0x5fff);
    assert_eq!(t.entry(3, 0x5000), TlbEntry::INVALID);
    assert!(t.flush_count() > before);
    // SAFETY: as above.
    unsafe { Tlb::store_entry(tp, 1, 0, e, 0) };
    t.used |= 1 << 1;
    t.flush_mmu_idx(2);
    assert_eq!(t.entry(1, 0), e);
    t.flush_mmu_idx(1);
    assert_eq!(t.entry(1, 0), TlbEntry::INVALID);
    assert_eq!(entry_offset(1, 2), (TLB_ENTRIES + 2) * 32);
    let mut seen = (0, 0);
    let mut t = Tlb::new();
    assert!(matches!(t.flushes_since(&mut seen), TlbFlushes::None));
    t.flush_page(0x7123);
    t.flush_page(0x9000);
    match t.flushes_since(&mut seen) {
        TlbFlushes::Pages(p) => assert_eq!(p, &[0x7000, 0x9000]),
        _ => panic!("expected two pages"),
    }
    for k in 0..PAGE_FLUSH_LOG as u64 + 1 {
        t.flush_page(k << PAGE_BITS);
    }
    assert!(matches!(t.flushes_since(&mut seen), TlbFlushes::All));
    t.flush_all();
    assert!(matches!(t.flushes_since(&mut seen), TlbFlushes::All));
    assert!(matches!(t.flushes_since(&mut seen), TlbFlushes::None));
}

#[test]
fn code_pages_log_overflow_asks_for_a_full_flush() {
    let cp = CodePages::new(RAM_BASE, 4 * PAGE_SIZE);
    let mut cursor = cp.log_position();
    assert!(matches!(
        cp.invalidations_since(&mut cursor),
        Invalidations::None
    ));
    cp.mark_code(RAM_BASE + 5, 4);
    // Data next to code in the same page: nothing to drop.
    cp.notify_write(RAM_BASE + 64, 64);
    cp.notify_write(RAM_BASE + PAGE_SIZE - 8, 16);
    assert!(matches!(
        cp.invalidations_since(&mut cursor),
        Invalidations::None
    ));
    assert!(cp.is_code(RAM_BASE));
    cp.notify_write(RAM_BASE + 60, 8);
    cp.notify_write(RAM_BASE + 8, 1); // no longer code: not logged twice
    match cp.invalidations_since(&mut cursor) {
        Invalidations::Pages(p) => assert_eq!(p, vec![RAM_BASE]),
        _ => panic!("expected one page"),
    }
    for _ in 0..LOG_SIZE + 1 {
        cp.mark_code(RAM_BASE + PAGE_SIZE, 1);
        cp.notify_write(RAM_BASE + PAGE_SIZE - 1, 2);
    }
    assert!(matches!(
        cp.invalidations_since(&mut cursor),
        Invalidations::All
    ));
    // Outside RAM: ignored.
    cp.mark_code(0x1000, 4);
    assert!(!cp.is_code(0x1000));
}

/// A guest whose blocks are given as IR (the code bytes are only fetched, so the engine
/// registers the page).
struct IrGuest {
    blocks: Mutex<HashMap<u64, crate::ir::Block>>,
}

impl Guest for IrGuest {
    fn name(&self) -> &'static str {
        "ir"
    }
    fn translate(
        &self,
        pc: u64,
        _flags: u64,
        code: &dyn CodeFetch,
        b: &mut Builder,
    ) -> Result<(), TranslateError> {
        let mut byte = [0u8; 1];
        if code.fetch(pc, &mut byte) == 0 {
            return Err(TranslateError::FetchFault(pc));
        }
        let blocks = self.blocks.lock().unwrap();
        b.block = blocks
            .get(&pc)
            .cloned()
            .ok_or(TranslateError::FetchFault(pc))?;
        Ok(())
    }
    fn tb_flags(&self, _env: *const u8) -> u64 {
        0
    }
    fn global_name(&self, offset: u32) -> Option<String> {
        Some(format!("g{offset}"))
    }
    fn disassemble(&self, pc: u64, _bytes: &[u8]) -> Vec<String> {
        vec![format!("{pc:#x}: ir")]
    }
}

#[repr(C)]
struct WideCpu {
    hdr: CpuHeader,
    out: [u64; 128],
    tlb: Tlb,
}

/// An engine of `tier` on `mach` whose only code is `block` at V_CODE, and its CPU.
fn wide_engine(mach: &Machine, block: crate::ir::Block, tier: Tier) -> (Engine, Box<WideCpu>) {
    let guest = Arc::new(IrGuest {
        blocks: Mutex::new(HashMap::from([(V_CODE, block)])),
    });
    let sys = SoftmmuConfig {
        translator: mach.mmu.clone(),
        phys: mach.phys.clone(),
        code_pages: mach.code.clone(),
        tlb_offset: std::mem::offset_of!(WideCpu, tlb) as u32,
    };
    let cfg = EngineConfig {
        tier,
        ..EngineConfig::default()
    };
    let e = Engine::new_system(guest, sys, cfg).unwrap();
    let cpu = Box::new(WideCpu {
        hdr: CpuHeader::default(),
        out: [0; 128],
        tlb: Tlb::new(),
    });
    (e, cpu)
}

/// Every flavour of access (sizes, sign, byte order, float, 128-bit, atomics) on RAM,
/// across a page boundary and on MMIO, so the JIT's hit path (second run) and slow path
/// (first run, crossing, MMIO) are compared with the interpreter.
fn access_zoo() -> crate::ir::Block {
    let mut b = Builder::new(V_CODE);
    b.insn_start(V_CODE);
    let mut slot = 0u32;
    let mut out = |b: &mut Builder, v: crate::ir::Temp| {
        let ty = b.ty(v);
        b.set_global(ty, REGS + 8 * slot, v);
        slot += if ty.bits() > 64 { 2 } else { 1 };
    };
    let mo = |size: u8, signed: bool, big_endian: bool, aligned: bool| MemOp {
        size,
        signed,
        big_endian,
        aligned,
        mmu_idx: 0,
    };
    for addr in [V_DATA + 0x101, V_CROSS + PAGE_SIZE - 3, V_MMIO + 0x20] {
        let a = b.const64(addr);
        for size in [1u8, 2, 4, 8] {
            for signed in [false, true] {
                for be in [false, true] {
                    let v = b.load(Ty::I64, a, mo(size, signed, be, false));
                    out(&mut b, v);
                }
            }
        }
        let v = b.load(Ty::I32, a, mo(2, true, false, false));
        out(&mut b, v);
        for be in [false, true] {
            let v = b.load(Ty::F32, a, mo(4, false, be, false));
            out(&mut b, v);
            let v = b.load(Ty::F64, a, mo(8, false, be, false));
            out(&mut b, v);
        }
        if addr != V_MMIO + 0x20 {
            let v = b.load(Ty::I128, a, mo(16, false, false, false));
            out(&mut b, v);
        }
    }
    // Stores of every width and order, then read back.
    let val = b.const64(0x8182_8384_8586_8788);
    let f = b.const_(Ty::F64, 0x4009_21fb_5444_2d18);
    for (k, addr) in [V_DATA + 0x201, V_CROSS + PAGE_SIZE - 5]
        .into_iter()
        .enumerate()
    {
        let a = b.const64(addr);
        for (j, size) in [1u8, 2, 4, 8].into_iter().enumerate() {
            let aj = b.bin_imm(BinOp::Add, a, (j * 16) as u64);
            b.store(val, aj, mo(size, false, k == 1, false));
            let aj8 = b.bin_imm(BinOp::Add, aj, 8);
            b.store(f, aj8, mo(8, false, k == 0, false));
        }
        let wide = b.load(Ty::I128, a, mo(16, false, false, false));
        b.store(wide, a, mo(16, false, true, false));
        for j in 0..5u64 {
            let aj = b.bin_imm(BinOp::Add, a, j * 8);
            let v = b.load(Ty::I64, aj, mo(8, false, false, false));
            out(&mut b, v);
        }
    }
    // Atomics on RAM (aligned) and MMIO.
    for addr in [V_DATA + 0x300, V_MMIO] {
        let a = b.const64(addr);
        let x = b.const64(0x7fff_fff0);
        for (op, size, be, signed) in [
            (RmwOp::Add, 4u8, true, true),
            (RmwOp::MaxS, 8, false, false),
            (RmwOp::Xchg, 2, true, false),
            (RmwOp::MinU, 1, false, true),
        ] {
            let v = b.atomic_rmw(op, a, x, mo(size, signed, be, true));
            out(&mut b, v);
        }
        let e = b.const64(0x7fff_fff0);
        let n = b.const64(0x1234_5678_9abc_def0);
        let v = b.cmpxchg(a, e, n, mo(4, true, true, true));
        out(&mut b, v);
        let v = b.cmpxchg(a, n, e, mo(8, false, false, true));
        out(&mut b, v);
    }
    b.exit(ExitStatus::Halt, V_CODE);
    b.finish()
}

#[test]
fn jit_and_interpreter_agree_on_every_access_kind() {
    let mut results = Vec::new();
    for tier in [Tier::Interp, Tier::Jit] {
        let mach = Machine::new();
        let pattern: Vec<u8> = (0..=255u8).map(|x| x.wrapping_mul(37) ^ 0x80).collect();
        mach.poke(ram(1) + 0x100, &pattern);
        mach.poke(ram(5) + PAGE_SIZE - 16, &pattern[..16]);
        mach.poke(ram(3), &pattern[16..32]);
        mach.phys.reg.store(0x8765_4321_0fed_cba9, Ordering::SeqCst);
        let (mut e, mut cpu) = wide_engine(&mach, access_zoo(), tier);
        let mut runs = Vec::new();
        for _ in 0..2 {
            cpu.hdr.pc = V_CODE;
            // SAFETY: a live WideCpu with its Tlb at the configured offset.
            let st = unsafe { e.run(&mut *cpu as *mut WideCpu as *mut u8) };
            assert_eq!(st, ExitStatus::Halt, "{tier:?}");
            runs.push(cpu.out.to_vec());
        }
        if tier == Tier::Jit {
            assert_eq!(e.stats().blocks_compiled, 1);
        }
        let io = mach.phys.io_log.lock().unwrap().clone();
        results.push((
            runs,
            mach.peek(ram(1), PAGE_SIZE as usize),
            mach.peek(ram(5), PAGE_SIZE as usize),
            mach.peek(ram(3), PAGE_SIZE as usize),
            io,
            mach.phys.reg.load(Ordering::SeqCst),
        ));
    }
    let (i, j) = (&results[0], &results[1]);
    for (k, (a, b)) in i.0[0].iter().zip(&j.0[0]).enumerate() {
        assert_eq!(
            a, b,
            "first run, output slot {k}: interp {a:#x}, jit {b:#x}"
        );
    }
    for (k, (a, b)) in i.0[1].iter().zip(&j.0[1]).enumerate() {
        assert_eq!(
            a, b,
            "second run, output slot {k}: interp {a:#x}, jit {b:#x}"
        );
    }
    assert!(
        i.1 == j.1 && i.2 == j.2 && i.3 == j.3,
        "RAM contents differ"
    );
    assert_eq!(i.4, j.4, "device accesses differ");
    assert_eq!(i.5, j.5);
    // The zoo did produce values (not all zero) and touched the device.
    assert!(i.0[1].iter().filter(|&&v| v != 0).count() > 60);
    assert!(i.4.len() > 20);
}

/// Sixteen RAM loads (inline hits) whose values are all live across an MMIO load (a
/// slow-path call through its `preserve_all` thunk), then summed with it: a register the
/// thunk failed to preserve would change the sum.
#[test]
fn values_in_registers_survive_slow_path_calls() {
    let mut b = Builder::new(V_CODE);
    b.insn_start(V_CODE);
    let mo = |size: u8| MemOp {
        size,
        signed: false,
        big_endian: false,
        aligned: false,
        mmu_idx: 0,
    };
    let vals: Vec<_> = (0..16u64)
        .map(|i| {
            let a = b.const64(V_DATA + 8 * i);
            b.load(Ty::I64, a, mo(8))
        })
        .collect();
    let f = b.conv(crate::ir::ConvOp::Bitcast, vals[0], Ty::F64);
    let io = b.const64(V_MMIO);
    let dev = b.load(Ty::I64, io, mo(4));
    let mut sum = dev;
    for &v in &vals {
        sum = b.bin(BinOp::Add, sum, v);
    }
    let back = b.conv(crate::ir::ConvOp::Bitcast, f, Ty::I64);
    sum = b.bin(BinOp::Add, sum, back);
    b.set_global(Ty::I64, REGS, sum);
    b.exit(ExitStatus::Halt, V_CODE + 4);
    let block = b.finish();
    for tier in [Tier::Interp, Tier::Jit] {
        let mach = Machine::new();
        let words: Vec<u8> = (0..16u64)
            .flat_map(|i| (0x0101_0101_0101_0101u64 * (i + 1)).to_le_bytes())
            .collect();
        mach.poke(ram(1), &words);
        mach.phys.reg.store(0x1000, Ordering::SeqCst);
        let (mut e, mut cpu) = wide_engine(&mach, block.clone(), tier);
        // Twice: the first run fills the TLB, the second takes the inline hits.
        for _ in 0..2 {
            cpu.hdr.pc = V_CODE;
            // SAFETY: a live WideCpu with its Tlb at the configured offset.
            let st = unsafe { e.run(&mut *cpu as *mut WideCpu as *mut u8) };
            assert_eq!(st, ExitStatus::Halt, "{tier:?}");
            let expect = (1..=16u64)
                .map(|k| 0x0101_0101_0101_0101u64.wrapping_mul(k))
                .fold(0x1000 + 0x0101_0101_0101_0101u64, u64::wrapping_add);
            assert_eq!(cpu.out[0], expect, "{tier:?}");
        }
    }
}

/// A promoted block's code is read again through the physical pages recorded at its
/// translation (not through the TLB): across its two pages in order, stopping at a page it
/// did not read or one that is not RAM.
#[test]
fn refetch_reads_the_recorded_physical_pages() {
    let mach = Machine::new();
    mach.poke(ram(3) + PAGE_SIZE - 2, &[0xa1, 0xa2]);
    mach.poke(ram(7), &[0xb1, 0xb2]);
    let fetch = RefetchCode {
        phys: &*mach.phys,
        // Virtual pages 0x4000 and 0x5000 were physical pages 3 and 7.
        pages: [Some((0x4000, ram(3))), Some((0x5000, ram(7)))],
    };
    let mut buf = [0u8; 4];
    assert_eq!(fetch.fetch(0x4ffe, &mut buf), 4);
    assert_eq!(buf, [0xa1, 0xa2, 0xb1, 0xb2]);
    // 0x6000 was not read by the block.
    let mut buf = [0u8; 4];
    assert_eq!(fetch.fetch(0x5ffe, &mut buf), 2);
    // Device memory is not read again.
    let fetch = RefetchCode {
        phys: &*mach.phys,
        pages: [Some((0x4000, MMIO_BASE)), None],
    };
    assert_eq!(fetch.fetch(0x4000, &mut buf), 0);
}

/// A full flush clears every entry filled since the last one, whether it clears them one
/// by one (few fills) or all of the index (more fills than the log holds).
#[test]
fn full_flushes_clear_every_filled_entry() {
    for fills in [1usize, 3, FILL_LOG, FILL_LOG + 1, TLB_ENTRIES] {
        let mut t = Tlb::new();
        let tp: *mut Tlb = &mut t;
        let pages: Vec<u64> = (0..fills as u64)
            .map(|k| (k * 7 % TLB_ENTRIES as u64) << PAGE_BITS)
            .collect();
        for &page in &pages {
            let e = TlbEntry {
                read: page,
                write: page,
                code: TLB_INVALID,
                addend: 1,
            };
            for i in 0..2 {
                // SAFETY: `tp` is a live Tlb; indices in range.
                unsafe { Tlb::store_entry(tp, i, tlb_index(page), e, 0x8000_0000) };
            }
        }
        t.flush_all();
        for &page in &pages {
            for i in 0..2 {
                assert_eq!(t.entry(i, page), TlbEntry::INVALID, "{fills} fills");
            }
        }
        // The log starts afresh: a later fill is cleared by the next flush too.
        let e = TlbEntry {
            read: 0x3000,
            write: TLB_INVALID,
            code: TLB_INVALID,
            addend: 1,
        };
        // SAFETY: as above.
        unsafe { Tlb::store_entry(tp, 0, tlb_index(0x3000), e, 0x8000_0000) };
        t.flush_mmu_idx(0);
        assert_eq!(t.entry(0, 0x3000), TlbEntry::INVALID, "{fills} fills");
    }
}
