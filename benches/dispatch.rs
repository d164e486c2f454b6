//! Criterion bench of dispatch cost: a tight guest loop of three tiny blocks (two end in a
//! `j` to the next, the third in a `bnez` back to the first) run through `Engine::run` with
//! each tier, so the time per block is dominated by getting from one block to the next:
//! the interpreter's lookup and dispatch, the JIT's chained tail calls, or (with `nochain`)
//! the JIT's return to the exec loop after every block. `cargo bench --bench dispatch`;
//! criterion's throughput is blocks per second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use heron_backend::engine::{Engine, EngineConfig, Tier, Trace};
use heron_backend::mem::{PERM_R, PERM_X};
use heron_backend::{ExitStatus, GuestMemory};
use heron_riscv::RiscvCpu;
use heron_riscv::RiscvGuest;
use heron_riscv::cpu::cause;

/// Guest address of the code page.
const CODE: u64 = 0x1_0000;

/// Three blocks of two instructions per iteration, then an ecall that ends the run.
const LOOP: &[u32] = &[
    0xfff50513, // 0x00: addi a0,a0,-1
    0x0040006f, // 0x04: j    0x08
    0x00158593, // 0x08: addi a1,a1,1
    0x0040006f, // 0x0c: j    0x10
    0x00b64633, // 0x10: xor  a2,a2,a1
    0xfe0516e3, // 0x14: bnez a0,0x00
    0x00000073, // 0x18: ecall
];
const BLOCKS_PER_ITER: u64 = 3;
/// Loop iterations per `Engine::run` call.
const ITERS: u64 = 20_000;

fn guest() -> Arc<GuestMemory> {
    let mem = GuestMemory::reserve(1 << 24).expect("reserve guest memory");
    mem.map_anon(CODE, 4096, PERM_R | PERM_X).expect("map code");
    let bytes: Vec<u8> = LOOP.iter().flat_map(|w| w.to_le_bytes()).collect();
    mem.write_bytes_force(CODE, &bytes).expect("write code");
    Arc::new(mem)
}

/// Runs the loop once from the start; checks it ended at the ecall with the right state.
fn run_loop(engine: &mut Engine, cpu: &mut RiscvCpu) {
    cpu.hdr.pc = CODE;
    cpu.x[10] = ITERS;
    cpu.x[11] = 0;
    // SAFETY: `cpu` is a live RiscvCpu (CpuHeader first) used only by this thread.
    let st = unsafe { engine.run(cpu as *mut RiscvCpu as *mut u8) };
    assert_eq!(st, ExitStatus::Exception);
    assert_eq!(cpu.exc_cause, cause::ECALL_U);
    assert_eq!((cpu.hdr.pc, cpu.x[11]), (CODE + 0x18, ITERS));
}

fn bench_dispatch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(BLOCKS_PER_ITER * ITERS));
    let cases = [
        ("interp", Tier::Interp, false),
        ("jit", Tier::Jit, false),
        ("jit_nochain", Tier::Jit, true),
        ("auto", Tier::Auto, false),
    ];
    for (name, tier, nochain) in cases {
        let mem = guest();
        let cfg = EngineConfig {
            tier,
            trace: Trace {
                nochain,
                ..Trace::default()
            },
            ..EngineConfig::default()
        };
        let mut engine = Engine::new(Arc::new(RiscvGuest), mem, cfg).expect("create engine");
        let mut cpu = Box::<RiscvCpu>::default();
        // Warm up once outside the measurement so every tier starts with its blocks
        // translated (and, with auto, promoted).
        run_loop(&mut engine, &mut cpu);
        g.bench_function(name, |b| {
            b.iter(|| run_loop(&mut engine, black_box(&mut cpu)))
        });
    }
    g.finish();
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
    targets = bench_dispatch
}
criterion_main!(benches);
