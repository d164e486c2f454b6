//! Execution tests of the integer translator: small guest programs (assembled at test time
//! with `aarch64-linux-gnu-as`) are translated block by block and run on the reference
//! interpreter and on the JIT; final registers, flags and memory are checked against known
//! values. Also: the condition table against a direct evaluation, and the exception exits.

use super::*;
use crate::cpu::A64Cpu;
use heron_backend::GuestMemory;
use heron_backend::interp::{InterpBlock, InterpRegs};
use heron_backend::jit::{Jit, JitConfig};
use heron_backend::mem::{PERM_R, PERM_W, PERM_X};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const CODE: u64 = 0x10000;
const DATA: u64 = 0x40000;

/// Assemble `src` into raw code bytes (None, after a notice, when binutils is missing).
fn assemble(src: &str) -> Option<Vec<u8>> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "heron-a64int-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let s = dir.join("t.s");
    let o = dir.join("t.o");
    let bin = dir.join("t.bin");
    std::fs::write(&s, format!(".arch armv8.4-a\n.text\n{src}\n")).expect("write source");
    let as_out = match Command::new("aarch64-linux-gnu-as")
        .arg("-o")
        .arg(&o)
        .arg(&s)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("NOTICE: aarch64-linux-gnu-as not installed; skipping an assembled test");
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
    };
    assert!(
        as_out.status.success(),
        "as failed: {}",
        String::from_utf8_lossy(&as_out.stderr)
    );
    let st = Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&o)
        .arg(&bin)
        .status()
        .expect("objcopy");
    assert!(st.success());
    let bytes = std::fs::read(&bin).expect("read binary");
    let _ = std::fs::remove_dir_all(&dir);
    Some(bytes)
}

/// Run `code` at CODE until it executes `svc` (or another exception), on the interpreter
/// (`jit` false) or the JIT. Returns the exit status of the last block.
fn run(cpu: &mut A64Cpu, mem: &GuestMemory, jit: bool) -> ExitStatus {
    let mut j = jit.then(|| {
        Jit::new(JitConfig {
            code_size: 16 << 20,
            guest_base: mem.base(),
            guest_limit: mem.limit(),
            opt_speed: false,
            verify: true,
        })
        .expect("jit")
    });
    let mut regs = InterpRegs::default();
    cpu.hdr.pc = CODE;
    for _ in 0..10_000 {
        let mut b = Builder::new(cpu.hdr.pc);
        translate_block(cpu.hdr.pc, mem, &mut b).expect("translate");
        let block = b.finish();
        let env = cpu as *mut A64Cpu as *mut u8;
        let st = match &mut j {
            Some(jit) => {
                let compiled = jit.compile(&block).expect("compile");
                // SAFETY: env is a live A64Cpu used by this thread only; the block was
                // compiled by this Jit for this memory's range.
                unsafe { jit.enter(env, compiled.entry) }
            }
            None => {
                let ib = InterpBlock::new(&block);
                // SAFETY: env is a live A64Cpu used by this thread only.
                unsafe { ib.run(env, mem, &mut regs) }
            }
        };
        if st != ExitStatus::Next {
            return st;
        }
    }
    panic!("program did not finish");
}

/// Assemble and run `src` (which must end with `svc #0`) on both tiers with `init` applied
/// to a fresh CPU; `check` inspects each final state.
fn exec(src: &str, init: impl Fn(&mut A64Cpu), check: impl Fn(&A64Cpu, &GuestMemory)) {
    let Some(code) = assemble(src) else {
        return;
    };
    for jit in [false, true] {
        let mem = GuestMemory::reserve(1 << 24).expect("reserve");
        mem.map_anon(CODE, 0x10000, PERM_R | PERM_W)
            .expect("map code");
        mem.write_bytes(CODE, &code).expect("write code");
        mem.protect(CODE, 0x10000, PERM_R | PERM_X)
            .expect("protect");
        mem.map_anon(DATA, 0x10000, PERM_R | PERM_W)
            .expect("map data");
        let mut cpu = Box::<A64Cpu>::default();
        cpu.x[31] = DATA + 0x8000;
        init(&mut cpu);
        let st = run(&mut cpu, &mem, jit);
        assert_eq!(st, ExitStatus::Exception, "jit={jit}");
        assert_eq!(esr::ec(cpu.exc_syndrome), esr::EC_SVC64, "jit={jit}");
        check(&cpu, &mem);
    }
}

#[test]
fn undefined_ends_block_with_unknown_syndrome() {
    let mut b = Builder::new(0x1000);
    assert!(translate_insn(&mut b, 0x0000_0000, 0x1000));
    let ops = &b.block.ops;
    assert!(matches!(
        ops.last(),
        Some(heron_backend::ir::Op::Exit {
            status: ExitStatus::Exception,
            ..
        })
    ));
}

#[test]
fn yield_is_a_spin_wait_hint_and_nop_is_nothing() {
    let mut b = Builder::new(0x1000);
    assert!(!translate_insn(&mut b, 0xd503_203f, 0x1000)); // yield
    assert!(!translate_insn(&mut b, 0xd503_201f, 0x1004)); // nop
    let calls: Vec<&str> = b
        .block
        .ops
        .iter()
        .filter_map(|op| match op {
            heron_backend::ir::Op::Call { helper, .. } => Some(helper.name),
            _ => None,
        })
        .collect();
    assert_eq!(calls, ["spin_wait_hint"]);
}

#[test]
fn cond_holds_matches_the_architecture() {
    // Reference: ConditionHolds from the Arm ARM.
    fn reference(cond: u32, n: bool, z: bool, c: bool, v: bool) -> bool {
        let r = match cond >> 1 {
            0 => z,
            1 => c,
            2 => n,
            3 => v,
            4 => c && !z,
            5 => n == v,
            6 => n == v && !z,
            _ => true,
        };
        if cond & 1 == 1 && cond != 15 { !r } else { r }
    }
    let mem = GuestMemory::reserve(1 << 20).expect("reserve");
    let mut regs = InterpRegs::default();
    for cond in 0..16 {
        let mut b = Builder::new(0);
        let t = cond_holds(&mut b, cond);
        b.set_global(Ty::I64, off::x(0), t);
        b.exit(ExitStatus::Next, 4);
        let ib = InterpBlock::new(&b.finish());
        for flags in 0..16u64 {
            let mut cpu = Box::<A64Cpu>::default();
            cpu.set_nzcv(flags << 28);
            // SAFETY: env is a live A64Cpu used by this thread only.
            unsafe { ib.run(&mut *cpu as *mut A64Cpu as *mut u8, &mem, &mut regs) };
            let want = reference(
                cond,
                flags & 8 != 0,
                flags & 4 != 0,
                flags & 2 != 0,
                flags & 1 != 0,
            );
            assert_eq!(cpu.x[0], want as u64, "cond {cond} flags {flags:04b}");
        }
    }
}

#[test]
fn nzcv_through_ir_round_trips() {
    let mem = GuestMemory::reserve(1 << 20).expect("reserve");
    let mut regs = InterpRegs::default();
    let mut b = Builder::new(0);
    let v = get_x(&mut b, 1);
    set_nzcv(&mut b, v);
    let back = get_nzcv(&mut b);
    set_x(&mut b, 2, back);
    b.exit(ExitStatus::Next, 4);
    let ib = InterpBlock::new(&b.finish());
    let mut cpu = Box::<A64Cpu>::default();
    cpu.x[1] = 0xffff_ffff_afff_ffff;
    // SAFETY: env is a live A64Cpu used by this thread only.
    unsafe { ib.run(&mut *cpu as *mut A64Cpu as *mut u8, &mem, &mut regs) };
    assert_eq!(cpu.x[2], 0xa000_0000);
    assert_eq!((cpu.nf, cpu.zf, cpu.cf, cpu.vf), (1, 0, 1, 0));
}

#[test]
fn add_sub_flags_and_division_corners() {
    exec(
        "adds x0, x1, x2\n mrs x10, nzcv\n subs w3, w4, w5\n mrs x11, nzcv\n \
         udiv x6, x1, xzr\n sdiv x7, x8, x9\n adcs x12, x1, x1\n mrs x13, nzcv\n svc #0",
        |c| {
            c.x[1] = u64::MAX;
            c.x[2] = 1;
            c.x[4] = 0x8000_0000;
            c.x[5] = 1;
            c.x[8] = i64::MIN as u64;
            c.x[9] = u64::MAX;
        },
        |c, _| {
            assert_eq!(c.x[0], 0);
            assert_eq!(c.x[10], 0x6000_0000, "adds: Z and C");
            assert_eq!(c.x[3], 0x7fff_ffff);
            assert_eq!(c.x[11], 0x3000_0000, "subs w: C and V");
            assert_eq!(c.x[6], 0, "udiv by zero is 0");
            assert_eq!(c.x[7], i64::MIN as u64, "INT_MIN / -1");
            // C was 1 from subs: MAX + MAX + 1 = MAX with carry out.
            assert_eq!(c.x[12], u64::MAX);
            assert_eq!(c.x[13], 0xa000_0000, "adcs: N and C");
        },
    );
}

#[test]
fn bitfield_and_logical_immediates() {
    exec(
        "ubfx x0, x1, #8, #12\n sbfiz w2, w1, #4, #8\n bfi x3, x1, #60, #4\n \
         and x4, x1, #0xff00ff00ff00ff00\n extr x5, x1, x6, #16\n cls w7, w8\n svc #0",
        |c| {
            c.x[1] = 0x1234_5678_9abc_def0;
            c.x[3] = 0;
            c.x[6] = 0x1111_2222_3333_4444;
            c.x[8] = 0xffff_0f00;
        },
        |c, _| {
            assert_eq!(c.x[0], 0xcde);
            assert_eq!(c.x[2], 0xffff_ff00, "sbfiz of 0xf0");
            assert_eq!(c.x[3], 0, "bfi of the low nibble 0 at bit 60");
            assert_eq!(c.x[4], 0x1200_5600_9a00_de00);
            assert_eq!(c.x[5], 0xdef0_1111_2222_3333);
            assert_eq!(c.x[7], 15);
        },
    );
}

#[test]
fn exclusives_and_lse_atomics() {
    exec(
        "mov x1, #0x40000\n ldxr x2, [x1]\n add x2, x2, #1\n stxr w3, x2, [x1]\n \
         stxr w4, x2, [x1]\n mov x5, #10\n ldadd x5, x6, [x1]\n mov x7, #99\n \
         cas x7, x8, [x1]\n ldr x9, [x1]\n svc #0",
        |c| c.x[8] = 0x1234,
        |c, mem| {
            assert_eq!(c.x[3], 0, "stxr with the monitor held succeeds");
            assert_eq!(c.x[4], 1, "second stxr fails: monitor closed");
            assert_eq!(c.x[6], 1, "ldadd returns the old value");
            assert_eq!(c.x[7], 11, "cas returns the old value (compare failed)");
            assert_eq!(c.x[9], 11);
            assert_eq!(mem.load(DATA, 8).unwrap_or(0), 11);
            assert_eq!(c.excl_addr, u64::MAX);
        },
    );
}

#[test]
fn pair_exclusives_and_casp_compare_both_halves() {
    exec(
        "mov x1, #0x40000\n ldxp x2, x3, [x1]\n add x2, x2, #1\n add x3, x3, #2\n \
         stxp w4, x2, x3, [x1]\n ldaxp x2, x3, [x1]\n str x9, [x1, #8]\n \
         stlxp w5, x2, x3, [x1]\n ldp x10, x11, [x1]\n \
         mov x12, x10\n mov x13, #77\n mov x14, #1\n mov x15, #2\n \
         caspal x12, x13, x14, x15, [x1]\n ldp x16, x17, [x1]\n \
         mov x18, x16\n mov x19, x17\n mov x20, #5\n mov x21, #6\n \
         casp x18, x19, x20, x21, [x1]\n ldp x22, x23, [x1]\n \
         mov w24, #5\n mov w25, #0\n mov w26, #7\n mov w27, #8\n \
         caspa w24, w25, w26, w27, [x1]\n ldr x28, [x1]\n svc #0",
        |c| c.x[9] = 0xabc,
        |c, mem| {
            assert_eq!(c.x[4], 0, "stxp succeeds");
            assert_eq!(c.x[5], 1, "stlxp fails: the high half changed");
            assert_eq!((c.x[10], c.x[11]), (1, 0xabc));
            assert_eq!(
                (c.x[12], c.x[13]),
                (1, 0xabc),
                "caspal fails on the high half"
            );
            assert_eq!((c.x[16], c.x[17]), (1, 0xabc), "and stores nothing");
            assert_eq!((c.x[18], c.x[19]), (1, 0xabc), "casp returns the old pair");
            assert_eq!((c.x[22], c.x[23]), (5, 6), "and stores the new one");
            assert_eq!(
                (c.x[24], c.x[25]),
                (5, 0),
                "32-bit caspa returns the old pair"
            );
            assert_eq!(c.x[28], 0x8_0000_0007);
            assert_eq!(mem.load(DATA + 8, 8).unwrap_or(0), 6);
        },
    );
}

#[test]
fn loads_stores_and_writeback() {
    exec(
        "mov x1, #0x40000\n mov x2, #-2\n stp x2, x1, [x1, #16]!\n ldrsb w3, [x1]\n \
         ldrsw x4, [x1, #4]\n ldr x5, [x1], #-16\n ldp w6, w7, [x1, #16]\n \
         str q0, [x1, #64]\n ldr d1, [x1, #72]\n dc zva, x1\n ldr x8, [x1, #16]\n svc #0",
        |c| c.v[0] = 0x1111_2222_3333_4444_5555_6666_7777_8888,
        |c, _| {
            assert_eq!(c.x[1], DATA, "post-index wrote back");
            assert_eq!(c.x[3], 0xffff_fffe);
            assert_eq!(c.x[4], u64::MAX);
            assert_eq!(c.x[5], (-2i64) as u64);
            assert_eq!((c.x[6], c.x[7]), (0xffff_fffe, 0xffff_ffff));
            assert_eq!(c.v[1], 0x1111_2222_3333_4444, "ldr d zeroes the upper half");
            assert_eq!(c.x[8], 0, "dc zva zeroed the block");
        },
    );
}

#[test]
fn system_registers_and_branches() {
    exec(
        "msr tpidr_el0, x1\n mrs x2, tpidr_el0\n mrs x3, ctr_el0\n mrs x4, midr_el1\n \
         mov x5, #0\n cmp x1, #0\n b.eq 1f\n mov x5, #1\n1: tbz x1, #0, 2f\n mov x6, #7\n2: \
         bl 3f\n b 4f\n3: mov x7, x30\n ret\n4: svc #0",
        |c| c.x[1] = 0x35,
        |c, _| {
            assert_eq!(c.x[2], 0x35);
            assert_eq!(c.tpidr_el0, 0x35);
            assert_eq!(c.x[3], crate::cpu::features::CTR);
            assert_eq!(c.x[4], crate::cpu::features::MIDR);
            assert_eq!(c.x[5], 1);
            assert_eq!(c.x[6], 7);
            assert_eq!(c.x[7], CODE + 4 * 11, "bl links to the next instruction");
        },
    );
}

#[test]
fn mrs_of_unknown_register_is_undefined() {
    // An ID register outside the space Linux emulates for EL0 (CRm = 2).
    let mut b = Builder::new(0x1000);
    let insn = 0xd538_2000; // MRS x0, S3_0_C2_C0_0
    assert!(translate_insn(&mut b, insn, 0x1000));
}
