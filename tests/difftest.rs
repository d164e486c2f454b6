//! Differential tester for the RISC-V frontend: random RV64GC + Zba/Zbb/Zbs/Zicond sequences
//! are packed into tiny static ELFs (written here, no assembler), run under `heron run --tier
//! interp`, `--tier jit`, `--tier auto --jit-threshold 1` and, when installed, `qemu-riscv64`;
//! the register, fcsr and scratch-memory dumps each program writes to stdout must agree byte
//! for byte. Each batch runs its sequences twice (the auto tier runs the second pass compiled).
//!
//! Knobs: HERON_DIFFTEST_SECONDS (time budget; default 60 under CI, else 20),
//! HERON_DIFFTEST_BATCHES (exact batch count, overrides the time budget),
//! HERON_DIFFTEST_SEED (reproduce a run), HERON_DIFFTEST_RUNNERS (comma list out of
//! interp,jit,auto,qemu; default all of them, qemu when installed), HERON_DIFFTEST_SEQS and
//! HERON_DIFFTEST_LEN (batch shape, default 200 sequences of about 20 items),
//! HERON_DIFFTEST_KEEP (keep the batch ELFs).

#[path = "difftest/elf.rs"]
mod elf;
#[path = "difftest/enc.rs"]
mod enc;
#[path = "difftest/rng.rs"]
mod rng;
#[path = "difftest/runner.rs"]
mod runner;
#[path = "difftest/rvgen.rs"]
mod rvgen;

use runner::{Outcome, Relation, Runner, relation};
use rvgen::{GenConfig, InitState, Insn, Item, Sequence};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = if let Some(h) = v.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        v.parse()
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

fn mix(seed: u64, k: u64) -> u64 {
    let mut z = seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 31)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    z ^ (z >> 32)
}

fn quiet_init() -> InitState {
    InitState {
        x: [0; 32],
        f: [0; 32],
        fcsr: 0,
        scratch: vec![0; rvgen::SCRATCH_SIZE],
    }
}

struct Difference {
    text: String,
    /// The shrunk sequence that still shows the difference, when one was found.
    min: Option<Sequence>,
}

/// Compares `outs[k]` against the reference `outs[0]`; on disagreement finds the first
/// differing sequence, describes it and shrinks it.
#[allow(clippy::too_many_arguments)]
fn check_pair(
    seqs: &[Sequence],
    seq_addr: &[u64],
    runners: &[Runner],
    outs: &[Outcome],
    k: usize,
    run_seed: u64,
    batch: u64,
    dir: &std::path::Path,
) -> Option<Difference> {
    let (a, b) = (&outs[0], &outs[k]);
    let (an, bn) = (&runners[0].name, &runners[k].name);
    let rel = relation(a, b);
    if rel == Relation::Same {
        return None;
    }
    let pair = [&runners[0], &runners[k]];
    // Which sequences differ?
    let culprits: Vec<usize> = match (a, b) {
        (Outcome::Ok(x), Outcome::Ok(y)) if x.len() == y.len() => {
            runner::differing_records(x, y, seqs.len())
        }
        _ => {
            // A crash or short output: run sequences alone until one reproduces.
            let mut found = Vec::new();
            for (i, s) in seqs.iter().enumerate() {
                let (sa, sb) = runner::run_single(s, pair, dir, RUN_TIMEOUT);
                if relation(&sa, &sb) != Relation::Same {
                    found.push(i);
                    break;
                }
            }
            found
        }
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "DIFFERENCE {an} vs {bn} in batch {batch} (rerun: HERON_DIFFTEST_SEED={run_seed:#x} \
         HERON_DIFFTEST_BATCHES={}): {rel:?}; {} differing sequence(s): {:?}",
        batch + 1,
        culprits.len(),
        &culprits[..culprits.len().min(20)]
    );
    if let (Outcome::Failed { status, stderr }, _) | (_, Outcome::Failed { status, stderr }) =
        (a, b)
    {
        let _ = writeln!(
            t,
            "  batch run failed: {status}\n  stderr: {}",
            stderr.trim()
        );
    }
    for &i in culprits.iter().take(3) {
        let seq = &seqs[i];
        let _ = writeln!(
            t,
            "--- sequence {i} at pc {:#x} ({} instructions):",
            seq_addr[i],
            seq.insn_count()
        );
        t.push_str(&runner::listing(&seq.items));
        let _ = writeln!(
            t,
            "  hex: {}",
            runner::hex_words(&rvgen::encode_items(&seq.items))
        );
        if let Some(d) = runner::describe_pair(a, b, an, bn, i) {
            let _ = writeln!(t, "  differs:\n    {}", d.replace('\n', "\n    "));
        }
    }
    let mut minimised = None;
    if let Some(&i) = culprits.first() {
        let min = runner::minimise(&seqs[i], pair, dir, RUN_TIMEOUT);
        let (sa, sb) = runner::run_single(&min, pair, dir, RUN_TIMEOUT);
        let built = elf::build(std::slice::from_ref(&min));
        let repro = dir.join(format!("repro-batch{batch}-seq{i}-{an}-vs-{bn}.elf"));
        runner::write_exec(&repro, &built.elf);
        let _ = writeln!(
            t,
            "--- minimised reproducer of sequence {i} ({} instructions), ELF saved as {}:",
            min.insn_count(),
            repro.display()
        );
        t.push_str(&runner::listing(&min.items));
        let _ = writeln!(
            t,
            "  hex: {}",
            runner::hex_words(&rvgen::encode_items(&min.items))
        );
        let _ = writeln!(
            t,
            "  initial state (x2=sp={:#x}, x8={:#x}):",
            rvgen::SCRATCH,
            rvgen::SCRATCH + rvgen::BASE_OFF
        );
        t.push_str(&runner::init_text(&min));
        t.push('\n');
        match runner::describe_pair(&sa, &sb, an, bn, 0) {
            Some(d) => {
                let _ = writeln!(t, "  differs:\n    {}", d.replace('\n', "\n    "));
            }
            None => {
                let _ = writeln!(t, "  (the minimised sequence alone no longer differs)");
            }
        }
        minimised = Some(min);
    }
    Some(Difference {
        text: t,
        min: minimised,
    })
}

fn select_runners() -> (Vec<Runner>, bool) {
    let wanted = std::env::var("HERON_DIFFTEST_RUNNERS")
        .unwrap_or_else(|_| "interp,jit,auto,qemu".to_string());
    let mut rs = Vec::new();
    let mut qemu_wanted = false;
    for w in wanted.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match w {
            "interp" | "jit" | "auto" => rs.push(Runner::heron(w)),
            "qemu" => {
                qemu_wanted = true;
                match Runner::qemu() {
                    Some(q) => rs.push(q),
                    None => {
                        eprintln!("difftest: qemu-riscv64 not found; comparing heron tiers only")
                    }
                }
            }
            other => panic!("HERON_DIFFTEST_RUNNERS: unknown runner {other}"),
        }
    }
    assert!(!rs.is_empty(), "no runners selected");
    (rs, qemu_wanted)
}

#[test]
fn differential_random_sequences() {
    let (runners, _) = select_runners();
    let dir = runner::work_dir("differential");
    let seed = env_u64("HERON_DIFFTEST_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let batches = env_u64("HERON_DIFFTEST_BATCHES");
    let keep = std::env::var_os("HERON_DIFFTEST_KEEP").is_some();
    let default_secs = if std::env::var_os("CI").is_some() {
        60
    } else {
        20
    };
    let budget = Duration::from_secs(env_u64("HERON_DIFFTEST_SECONDS").unwrap_or(default_secs));
    let nseq = env_u64("HERON_DIFFTEST_SEQS").unwrap_or(200).max(1) as usize;
    let len = env_u64("HERON_DIFFTEST_LEN").unwrap_or(20).max(1) as usize;
    let qemu_idx = runners.iter().position(|r| r.name == "qemu-riscv64");
    eprintln!(
        "difftest: seed {seed:#x}, {nseq} sequences x {len} items per batch, runners: {}{}",
        runners
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if qemu_idx.is_some() {
            " (every 4th batch adds Zicond and ctzw, which qemu 7.2 lacks or gets wrong, and \
             skips qemu)"
        } else {
            ""
        }
    );
    let start = Instant::now();
    let (mut n_seq, mut n_insn, mut n_batches) = (0usize, 0usize, 0u64);
    let mut qemu_seq = 0usize;
    let mut diffs: Vec<Difference> = Vec::new();
    for batch in 0.. {
        match batches {
            Some(b) if batch >= b => break,
            None if batch > 0 && start.elapsed() >= budget => break,
            _ => {}
        }
        let batch_seed = mix(seed, batch);
        let heron_runs = runners.iter().any(|r| r.name != "qemu-riscv64");
        let heron_only = qemu_idx.is_none() || (heron_runs && batch % 4 == 3);
        let batch_runners: Vec<Runner> = runners
            .iter()
            .filter(|r| r.name != "qemu-riscv64" || !heron_only)
            .cloned()
            .collect();
        let mut rng = rng::Rng::new(batch_seed);
        let cfg = GenConfig {
            items: len,
            qemu_safe: !heron_only,
        };
        let seqs: Vec<Sequence> = (0..nseq)
            .map(|_| rvgen::gen_sequence(&mut rng, cfg))
            .collect();
        // Two passes: the second runs translated blocks again (TB cache, chaining) and, under
        // the auto tier, the blocks compiled after the first pass.
        let built = elf::build_passes(&seqs, 2);
        let path = dir.join(format!("batch{batch}.elf"));
        runner::write_exec(&path, &built.elf);
        let outs = runner::run_all(&batch_runners, &path, RUN_TIMEOUT);
        let mut batch_ok = true;
        for k in 1..batch_runners.len() {
            if let Some(d) = check_pair(
                &seqs,
                &built.seq_code_addr,
                &batch_runners,
                &outs,
                k,
                seed,
                batch,
                &dir,
            ) {
                eprintln!("{}", d.text);
                diffs.push(d);
                batch_ok = false;
            }
        }
        if batch_runners.len() == 1
            && let Outcome::Failed { status, stderr } = &outs[0]
        {
            let text = format!(
                "{} failed on batch {batch}: {status}\n{stderr}",
                batch_runners[0].name
            );
            eprintln!("{text}");
            diffs.push(Difference { text, min: None });
            batch_ok = false;
        }
        if let Outcome::Ok(o) = &outs[0] {
            assert_eq!(
                o.len(),
                nseq * elf::REC_SIZE,
                "short output from {}",
                batch_runners[0].name
            );
        }
        n_batches += 1;
        n_seq += seqs.len();
        n_insn += seqs.iter().map(Sequence::insn_count).sum::<usize>();
        if batch_runners.len() == runners.len() {
            qemu_seq += if qemu_idx.is_some() { seqs.len() } else { 0 };
        }
        if batch_ok && !keep {
            let _ = std::fs::remove_file(&path);
        }
        if diffs.len() >= 3 {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let summary = format!(
        "difftest: compared {n_seq} sequences ({n_insn} instructions) across {}; {} differences \
         ({n_batches} batches in {secs:.1} s, {:.0} sequences/min{})",
        runners
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        diffs.len(),
        n_seq as f64 * 60.0 / secs.max(1e-9),
        if qemu_idx.is_some() {
            format!("; {qemu_seq} of them also under qemu-riscv64")
        } else {
            String::new()
        }
    );
    eprintln!("{summary}");
    // cargo captures test output; scripts/test.sh names a file to show the count in CI.
    if let Ok(path) = std::env::var("HERON_DIFFTEST_SUMMARY") {
        let _ = std::fs::write(path, format!("{summary}\n"));
    }
    if diffs.is_empty() && !keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("difftest: ELFs kept in {}", dir.display());
    }
    assert!(
        diffs.is_empty(),
        "difftest found {} difference(s) (seed {seed:#x}); details above",
        diffs.len()
    );
}

// ---------------------------------------------------------------------------------------
// Self-tests of the generator and ELF writer (need only qemu-riscv64 / binutils).

fn w(bits: u32, asm: &str) -> Insn {
    Insn {
        bits,
        len: 4,
        asm: asm.into(),
    }
}
fn c(bits: u16, asm: &str) -> Insn {
    Insn {
        bits: bits as u32,
        len: 2,
        asm: asm.into(),
    }
}

fn rec_u64(rec: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&rec[off..off + 8]);
    u64::from_le_bytes(b)
}

/// A hand-written sequence with known results, run under qemu-riscv64: checks the prologue
/// (state loading), branches over items, stores into scratch, atomics, FP flags and the dump.
#[test]
fn handwritten_sequence_under_qemu() {
    let Some(q) = Runner::qemu() else {
        eprintln!("qemu-riscv64 not installed: skipping (scripts/install-deps.sh installs it)");
        return;
    };
    use enc::*;
    let mut init = quiet_init();
    init.x[5] = 7;
    init.x[6] = (-3i64) as u64;
    init.x[11] = 0x1111;
    init.f[1] = 1.0f64.to_bits();
    init.f[2] = 2.0f64.to_bits();
    init.f[0] = 0; // +0.0
    init.f[7] = 0xffff_ffff_0000_0000 | 1.5f32.to_bits() as u64;
    init.fcsr = 1 << 5; // frm = rtz
    init.scratch[256..264].copy_from_slice(&40u64.to_le_bytes());
    let items = vec![
        Item::Insns(vec![w(r(OP, 0, 0, 7, 5, 6), "add x7,x5,x6")]),
        Item::Insns(vec![w(r(OP, 0, 1, 9, 5, 6), "mul x9,x5,x6")]),
        Item::Insns(vec![w(r(OP_FP, 7, 0x01, 3, 1, 2), "fadd.d f3,f1,f2")]),
        Item::Insns(vec![w(s(STORE, 3, 8, 5, 8), "sd x5,8(x8)")]),
        Item::Insns(vec![c(
            ci(0b010, 1, 10, (-5i32 as u32) & 0x3f),
            "c.li x10,-5",
        )]),
        Item::Insns(vec![w(r(OP_FP, 7, 0x0d, 4, 1, 0), "fdiv.d f4,f1,f0")]),
        Item::Branch {
            kind: rvgen::BranchKind::B {
                f3: 0,
                rs1: 0,
                rs2: 0,
            },
            skip: 1,
        },
        Item::Insns(vec![w(i(OP_IMM, 0, 11, 0, 99), "addi x11,x0,99")]),
        Item::Insns(vec![
            w(i(OP_IMM, 0, 12, 8, 0), "addi x12,x8,0"),
            w(
                amo(0x00, false, false, 3, 13, 12, 5),
                "amoadd.d x13,x5,(x12)",
            ),
        ]),
        Item::Insns(vec![
            w(amo(0x02, false, false, 3, 14, 12, 0), "lr.d x14,(x12)"),
            w(amo(0x03, false, false, 3, 15, 12, 6), "sc.d x15,x6,(x12)"),
            w(amo(0x03, false, false, 3, 16, 12, 5), "sc.d x16,x5,(x12)"),
        ]),
        Item::Insns(vec![w(r(OP_FP, 1, 0x60, 17, 7, 0), "fcvt.w.s x17,f7,rtz")]),
        Item::Insns(vec![w(csr(2, 18, 0, 1), "csrrs x18,fflags,x0")]),
        // improperly NaN-boxed single: fmv.x.w reads its low bits, fadd.s sees canonical NaN
        Item::Insns(vec![w(i(OP_IMM, 0, 19, 0, 1), "addi x19,x0,1")]),
        Item::Insns(vec![w(r(OP_FP, 0, 0x79, 20, 19, 0), "fmv.d.x f20,x19")]),
        Item::Insns(vec![w(
            r(OP_FP, 0, 0x00, 21, 20, 20),
            "fadd.s f21,f20,f20,rne",
        )]),
        Item::Insns(vec![w(r(OP_FP, 0, 0x70, 22, 20, 0), "fmv.x.w x22,f20")]),
    ];
    let seq = Sequence { init, items };
    let dir = runner::work_dir("handwritten");
    let built = elf::build(&[seq.clone(), seq]);
    let p = dir.join("handwritten.elf");
    runner::write_exec(&p, &built.elf);
    let out = match &runner::run_all(&[q], &p, RUN_TIMEOUT)[0] {
        Outcome::Ok(o) => o.clone(),
        Outcome::Failed { status, stderr } => panic!("qemu failed: {status}\n{stderr}"),
    };
    assert_eq!(out.len(), 2 * elf::REC_SIZE);
    // Both copies start from the same state, so they must agree (state is fully reloaded).
    assert_eq!(out[..elf::REC_SIZE], out[elf::REC_SIZE..]);
    let rec = &out[..elf::REC_SIZE];
    let x = |r: usize| rec_u64(rec, elf::REC_X + 8 * r);
    let f = |r: usize| rec_u64(rec, elf::REC_F + 8 * r);
    assert_eq!(x(2), rvgen::SCRATCH);
    assert_eq!(x(7), 4);
    assert_eq!(x(9) as i64, -21);
    assert_eq!(f(3), 3.0f64.to_bits());
    assert_eq!(x(10) as i64, -5);
    assert_eq!(f(4), f64::INFINITY.to_bits());
    assert_eq!(x(11), 0x1111, "branch did not skip");
    assert_eq!(x(12), rvgen::SCRATCH + rvgen::BASE_OFF);
    assert_eq!(x(13), 40, "amoadd old value");
    assert_eq!(x(14), 47, "lr value after amoadd");
    assert_eq!(x(15), 0, "sc after lr succeeds");
    assert_eq!(x(16), 1, "second sc fails");
    assert_eq!(x(17), 1, "fcvt.w.s 1.5 rtz");
    assert_eq!(x(18), 0b01001, "DZ from fdiv, NX from fcvt");
    assert_eq!(
        f(21),
        0xffff_ffff_7fc0_0000,
        "canonical NaN from unboxed input"
    );
    assert_eq!(x(22), 1);
    let sc = |k: usize| rec_u64(rec, elf::REC_SCRATCH + k);
    assert_eq!(sc(256), (-3i64) as u64, "sc.d stored x6");
    assert_eq!(sc(264), 7, "sd x5,8(x8)");
    let fcsr = rec_u64(rec, elf::REC_FCSR);
    assert_eq!(fcsr >> 5, 1, "frm kept");
    // An improperly boxed single reads as the canonical (quiet) NaN: no NV.
    assert_eq!(fcsr & 31, 0b01001, "DZ from fdiv, NX from fcvt");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every generated instruction must be the one its text claims: GNU objdump (when
/// installed) disassembles the generator's output and must agree on mnemonic and operands.
#[test]
fn generator_encodings_agree_with_objdump() {
    let (asm, objdump) = ("riscv64-linux-gnu-as", "riscv64-linux-gnu-objdump");
    let have = |t: &str| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have(asm) || !have(objdump) {
        eprintln!(
            "{asm}/{objdump} not installed: skipping (scripts/install-deps.sh installs them)"
        );
        return;
    }
    let items = rvgen::sample_items(0x5eed, 6000, false);
    let insns = rvgen::encode_items(&items);
    let mut src = String::new();
    for i in &insns {
        let _ = writeln!(src, ".insn 0x{}", i.hex());
    }
    let dir = runner::work_dir("objdump");
    let (sp, op) = (dir.join("sample.s"), dir.join("sample.o"));
    std::fs::write(&sp, src).expect("write sample");
    let st = std::process::Command::new(asm)
        .arg("-march=rv64gc_zba_zbb_zbs")
        .arg(&sp)
        .arg("-o")
        .arg(&op)
        .status()
        .expect("run as");
    assert!(st.success(), "{asm} failed");
    let out = std::process::Command::new(objdump)
        .args(["-d", "-M", "no-aliases,numeric"])
        .arg(&op)
        .output()
        .expect("run objdump");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // Instruction lines look like "   a:\t00000463          \tbeq\tx0,x0,0x12 <...>".
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            let mut parts = l.split('\t');
            let addr = parts.next().unwrap_or("").trim();
            addr.ends_with(':')
                && addr.len() > 1
                && addr[..addr.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit())
                && parts.next().is_some()
        })
        .collect();
    assert_eq!(
        lines.len(),
        insns.len(),
        "objdump saw a different instruction count"
    );
    let mut bad = Vec::new();
    let mut checked = 0;
    for (i, l) in insns.iter().zip(&lines) {
        let theirs = l.split('\t').skip(2).collect::<Vec<_>>().join(" ");
        let theirs = theirs.split(" #").next().unwrap_or("").trim().to_string();
        let ours = &i.asm;
        let ok = if ours.contains(".+") || ours.contains(".-") {
            // Branch: objdump prints an absolute target; compare everything before it.
            let cut = ours.find(".+").or_else(|| ours.find(".-")).unwrap_or(0);
            normalise(&theirs).starts_with(&normalise(&ours[..cut]))
        } else if ours.starts_with("czero.") {
            // Zicond postdates binutils 2.40; encodings checked by hand against the Zicond
            // spec (OP, funct7 0000111, funct3 101 eqz / 111 nez).
            theirs.starts_with(".4byte") || normalise(&theirs) == normalise(ours)
        } else if ours.starts_with("fcvt.d.w") || ours.starts_with("fcvt.d.s") {
            // Exact conversions: binutils 2.40 decodes them only with rm=rne and prints no
            // rm; any valid rm is legal (the result is exact) and newer binutils accept it.
            let bare = ours.rsplit_once(",r").map_or(ours.as_str(), |(a, _)| a);
            theirs.starts_with(".4byte") || normalise(&theirs) == normalise(bare)
        } else {
            normalise(&theirs) == normalise(ours)
        };
        checked += 1;
        if !ok {
            bad.push(format!("{} ours `{ours}` objdump `{theirs}`", i.hex()));
        }
    }
    assert!(checked > 5000);
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad[..bad.len().min(40)].join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn normalise(s: &str) -> String {
    s.replace([' ', '\t'], "")
}

/// The generator's programs run cleanly and deterministically under qemu-riscv64.
#[test]
fn generated_batch_is_valid_under_qemu() {
    let Some(q) = Runner::qemu() else {
        eprintln!("qemu-riscv64 not installed: skipping");
        return;
    };
    let mut rng = rng::Rng::new(7);
    let seqs: Vec<Sequence> = (0..60)
        .map(|_| {
            rvgen::gen_sequence(
                &mut rng,
                GenConfig {
                    items: 30,
                    qemu_safe: true,
                },
            )
        })
        .collect();
    let built = elf::build(&seqs);
    let dir = runner::work_dir("valid");
    let p = dir.join("valid.elf");
    runner::write_exec(&p, &built.elf);
    let outs = runner::run_all(&[q.clone(), q], &p, RUN_TIMEOUT);
    match &outs[0] {
        Outcome::Ok(o) => assert_eq!(o.len(), seqs.len() * elf::REC_SIZE),
        Outcome::Failed { status, stderr } => panic!("qemu failed: {status}\n{stderr}"),
    }
    assert_eq!(outs[0], outs[1], "qemu runs differ");
    // x2 and the unwritten x8 slot are as the harness defines them.
    if let Outcome::Ok(o) = &outs[0] {
        for k in 0..seqs.len() {
            let rec = &o[k * elf::REC_SIZE..(k + 1) * elf::REC_SIZE];
            assert_eq!(rec_u64(rec, elf::REC_X + 16), rvgen::SCRATCH);
            assert_eq!(rec_u64(rec, elf::REC_X + 64), 0);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The comparison machinery itself: a runner without Zbb (qemu `-cpu rv64,zbb=false`) must
/// be caught (the batch dies with SIGILL), the culprit sequence found, and the shrinker must
/// reduce it to one Zbb instruction.
#[test]
fn difference_is_detected_and_shrunk() {
    let Some(q) = Runner::qemu() else {
        eprintln!("qemu-riscv64 not installed: skipping");
        return;
    };
    let mut no_zbb = q.clone();
    no_zbb.name = "qemu-without-zbb".into();
    no_zbb
        .argv
        .extend(["-cpu".to_string(), "rv64,zbb=false".to_string()]);
    let runners = vec![q, no_zbb];
    let mut rng = rng::Rng::new(11);
    let seqs: Vec<Sequence> = (0..20)
        .map(|_| {
            rvgen::gen_sequence(
                &mut rng,
                GenConfig {
                    items: 20,
                    qemu_safe: true,
                },
            )
        })
        .collect();
    let built = elf::build(&seqs);
    let dir = runner::work_dir("detect");
    let p = dir.join("batch.elf");
    runner::write_exec(&p, &built.elf);
    let outs = runner::run_all(&runners, &p, RUN_TIMEOUT);
    assert!(matches!(outs[0], Outcome::Ok(_)));
    assert!(matches!(outs[1], Outcome::Failed { .. }));
    let d = check_pair(&seqs, &built.seq_code_addr, &runners, &outs, 1, 0, 0, &dir)
        .expect("difference not detected");
    eprintln!("{}", d.text);
    assert!(d.text.contains("SecondFailed"), "{}", d.text);
    let min = d.min.expect("no minimised sequence");
    let insns = rvgen::encode_items(&min.items);
    assert_eq!(insns.len(), 1, "not shrunk to one instruction:\n{}", d.text);
    const ZBB: [&str; 19] = [
        "andn", "orn", "xnor", "clz", "ctz", "cpop", "max", "min", "sext.", "zext.h", "rol", "ror",
        "orc.b", "rev8", "clzw", "ctzw", "cpopw", "maxu", "minu",
    ];
    assert!(
        ZBB.iter().any(|z| insns[0].asm.starts_with(z)),
        "shrunk to a non-Zbb instruction: {}",
        insns[0].asm
    );
    // Same outcome from both on identical programs: no difference reported.
    let same = runner::run_all(&runners[..1], &p, RUN_TIMEOUT);
    let pair = [outs[0].clone(), same[0].clone()];
    assert!(check_pair(&seqs, &built.seq_code_addr, &runners, &pair, 1, 0, 0, &dir).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Field-by-field description of differing dump records.
#[test]
fn record_diff_names_the_fields() {
    let a = vec![0u8; elf::REC_SIZE * 3];
    let mut b = a.clone();
    let rec1 = elf::REC_SIZE;
    b[rec1 + elf::REC_X + 8 * 5] = 1; // x5
    b[rec1 + elf::REC_F + 8 * 31 + 7] = 0x80; // f31 sign
    b[rec1 + elf::REC_FCSR] = 0x10; // NV
    b[rec1 + elf::REC_SCRATCH + 264] = 9; // x8+8
    assert_eq!(runner::differing_records(&a, &b, 3), vec![1]);
    let d = runner::diff_record(&a[rec1..2 * rec1], &b[rec1..2 * rec1], "interp", "jit");
    assert_eq!(d.len(), 4, "{d:?}");
    assert!(d[0].starts_with("x5: interp=0x0000000000000000 jit=0x0000000000000001"));
    assert!(d[1].starts_with("f31: interp=0x0000000000000000 jit=0x8000000000000000"));
    assert!(d[2].starts_with("fcsr: interp=0x0 jit=0x10"), "{}", d[2]);
    assert!(d[3].starts_with("scratch[264..272] (x8+8)"), "{}", d[3]);
}

/// The generator reaches every instruction class the difftest is meant to cover.
#[test]
fn generator_covers_every_instruction() {
    let mut seen = std::collections::BTreeSet::new();
    for insn in rvgen::encode_items(&rvgen::sample_items(3, 30000, false)) {
        let m = insn.asm.split(' ').next().unwrap_or("").to_string();
        // drop AMO ordering suffixes
        let m = m
            .trim_end_matches(".aqrl")
            .trim_end_matches(".aq")
            .trim_end_matches(".rl")
            .to_string();
        seen.insert(m);
    }
    let want = "add sub sll slt sltu xor srl sra or and addw subw sllw srlw sraw addi slti sltiu \
        xori ori andi addiw slli srli srai slliw srliw sraiw lui auipc mul mulh mulhsu mulhu div \
        divu rem remu mulw divw divuw remw remuw add.uw sh1add sh2add sh3add sh1add.uw sh2add.uw \
        sh3add.uw andn orn xnor max maxu min minu rol ror rolw rorw bclr bext binv bset clz ctz \
        cpop sext.b sext.h clzw ctzw cpopw orc.b rev8 zext.h slli.uw rori roriw bclri bexti binvi \
        bseti czero.eqz czero.nez lb lh lw ld lbu lhu lwu sb sh sw sd flw fld fsw fsd beq bne blt \
        bge bltu bgeu jal c.j c.beqz c.bnez c.addi4spn c.ld c.lw c.sd c.sw c.fld c.fsd c.addi \
        c.addiw c.li c.lui c.srli c.srai c.andi c.sub c.xor c.or c.and c.subw c.addw c.slli c.mv \
        c.add c.lwsp c.ldsp c.fldsp c.swsp c.sdsp c.fsdsp addi amoswap.w amoadd.w amoxor.w \
        amoand.w amoor.w amomin.w amomax.w amominu.w amomaxu.w amoswap.d amoadd.d amoxor.d \
        amoand.d amoor.d amomin.d amomax.d amominu.d amomaxu.d lr.w lr.d sc.w sc.d fadd.s fsub.s \
        fmul.s fdiv.s fsqrt.s fmadd.s fmsub.s fnmsub.s fnmadd.s fmin.s fmax.s fsgnj.s fsgnjn.s \
        fsgnjx.s fcvt.s.d fcvt.d.s fcvt.w.s fcvt.wu.s fcvt.l.s fcvt.lu.s fcvt.s.w fcvt.s.wu \
        fcvt.s.l fcvt.s.lu fmv.x.w fmv.w.x fclass.s fle.s flt.s feq.s fadd.d fsub.d fmul.d \
        fdiv.d fsqrt.d fmadd.d fmsub.d fnmsub.d fnmadd.d fmin.d fmax.d fsgnj.d fsgnjn.d fsgnjx.d \
        fcvt.w.d fcvt.wu.d fcvt.l.d fcvt.lu.d fcvt.d.w fcvt.d.wu fcvt.d.l fcvt.d.lu fmv.x.d \
        fmv.d.x fclass.d fle.d flt.d feq.d csrrs csrrw csrrc csrrwi csrrsi csrrci";
    let missing: Vec<&str> = want
        .split_whitespace()
        .filter(|m| !seen.contains(*m))
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}
