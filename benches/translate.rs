//! Criterion bench of translation cost per block, per tier: decoding a typical RISC-V block
//! into IR with `RiscvGuest`, pre-decoding that IR for the interpreter (`InterpBlock::new`),
//! and compiling it with Cranelift (`Jit::compile`, at opt_level none as the engine uses it,
//! and at speed for comparison). Two blocks: an integer loop body (CRC-32 step) and an FP
//! one (n-body style, fma/sqrt/div). `cargo bench --bench translate`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use heron_backend::interp::InterpBlock;
use heron_backend::jit::{CompiledBlock, Jit, JitConfig, JitError, SoftmmuJit};
use heron_backend::mem::{PERM_R, PERM_X};
use heron_backend::{Block, Builder, Guest, GuestMemory};
use heron_riscv::RiscvGuest;

/// Guest address of the code page.
const CODE: u64 = 0x1_0000;

/// A CRC-32 inner loop as gcc -O2 writes it: byte load, table load, 32-bit ops, a store, and
/// a backward conditional branch (12 instructions).
const INT_BLOCK: &[u32] = &[
    0x00054783, // lbu    a5,0(a0)
    0x00150513, // addi   a0,a0,1
    0x00e7c7b3, // xor    a5,a5,a4
    0x0ff7f793, // andi   a5,a5,255
    0x00279793, // slli   a5,a5,0x2
    0x00d787b3, // add    a5,a5,a3
    0x0007e783, // lwu    a5,0(a5)
    0x0087571b, // srliw  a4,a4,0x8
    0x00e7c733, // xor    a4,a5,a4
    0x0007071b, // addiw  a4,a4,0
    0x00e13423, // sd     a4,8(sp)
    0xfcb51ae3, // bne    a0,a1,0 (back to the block start)
];

/// An n-body style FP loop body: loads, sub/mul, two fmadd, sqrt, div, store (11 insns).
const FP_BLOCK: &[u32] = &[
    0x00053787, // fld     fa5,0(a0)
    0x00853707, // fld     fa4,8(a0)
    0x0ae7f6d3, // fsub.d  fa3,fa5,fa4
    0x12d6f653, // fmul.d  fa2,fa3,fa3
    0x62e77643, // fmadd.d fa2,fa4,fa4,fa2
    0x5a0675d3, // fsqrt.d fa1,fa2
    0x1ab6f553, // fdiv.d  fa0,fa3,fa1
    0x7a8577c3, // fmadd.d fa5,fa0,fs0,fa5
    0x00f53027, // fsd     fa5,0(a0)
    0x01050513, // addi    a0,a0,16
    0xfcb56ce3, // bltu    a0,a1,0 (back to the block start)
];

/// Guest memory with `words` at CODE.
fn guest_with(words: &[u32]) -> GuestMemory {
    let mem = GuestMemory::reserve(1 << 24).expect("reserve guest memory");
    mem.map_anon(CODE, 4096, PERM_R | PERM_X).expect("map code");
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    mem.write_bytes_force(CODE, &bytes).expect("write code");
    mem
}

fn translate(mem: &GuestMemory) -> Block {
    let mut b = Builder::new(CODE);
    RiscvGuest
        .translate(CODE, 0, mem, &mut b)
        .expect("translate the bench block");
    b.finish()
}

fn new_jit(mem: &GuestMemory, opt_speed: bool) -> Jit {
    Jit::new(JitConfig {
        code_size: 16 << 20,
        guest_base: mem.base(),
        guest_limit: mem.limit(),
        opt_speed,
        verify: false,
    })
    .expect("create the JIT")
}

/// Compile, flushing the code buffer when it is full (as the engine does).
fn compile(jit: &mut Jit, block: &Block) -> CompiledBlock {
    match jit.compile(block) {
        Ok(cb) => cb,
        Err(JitError::BufferFull) => {
            jit.flush();
            jit.compile(block).expect("compile after flush")
        }
        Err(e) => panic!("compile failed: {e}"),
    }
}

fn bench_translate(c: &mut Criterion) {
    for (name, words) in [("int", INT_BLOCK), ("fp", FP_BLOCK)] {
        let mem = guest_with(words);
        let block = translate(&mem);
        assert_eq!(
            block.num_insns as usize,
            words.len(),
            "the {name} block should translate as one block"
        );
        let mut jit = new_jit(&mem, false);
        let code_len = compile(&mut jit, &block).code_len;
        eprintln!(
            "translate/{name}: {} guest insns -> {} IR ops, {} interp ops, {} bytes of host code",
            block.num_insns,
            block.ops.len(),
            InterpBlock::new(&block).num_ops(),
            code_len
        );

        let mut g = c.benchmark_group(format!("translate/{name}"));
        g.bench_function("riscv_to_ir", |b| b.iter(|| translate(black_box(&mem))));
        g.bench_function("interp_predecode", |b| {
            b.iter(|| InterpBlock::new(black_box(&block)))
        });
        g.bench_function("jit_compile", |b| {
            b.iter(|| compile(&mut jit, black_box(&block)).code_len)
        });
        // The quick tier (system mode only): a Jit with a softmmu; the code is compiled and
        // installed, never run, so the config address is not used.
        let mut jit_quick = new_jit(&mem, false);
        jit_quick.set_softmmu(SoftmmuJit {
            tlb_offset: 4096,
            config: 0,
            count_hits: false,
        });
        g.bench_function("quick_compile", |b| {
            b.iter(|| {
                let r = jit_quick.compile_quick(black_box(&block), 2000);
                let r = match r {
                    Err(JitError::BufferFull) => {
                        jit_quick.flush();
                        jit_quick.compile_quick(&block, 2000)
                    }
                    r => r,
                };
                r.expect("quick compile").0.code_len
            })
        });
        let mut jit_speed = new_jit(&mem, true);
        g.bench_function("jit_compile_opt_speed", |b| {
            b.iter(|| compile(&mut jit_speed, black_box(&block)).code_len)
        });
        g.bench_function("total_interp_tier", |b| {
            b.iter(|| InterpBlock::new(&translate(black_box(&mem))))
        });
        g.bench_function("total_jit_tier", |b| {
            b.iter(|| compile(&mut jit, &translate(black_box(&mem))).code_len)
        });
        g.finish();
    }
}

fn config() -> Criterion {
    // Short runs: the development machine is a busy 2-core box.
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_translate
}
criterion_main!(benches);
