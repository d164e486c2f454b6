//! Runs a difftest ELF under several runners (heron interp, heron jit, qemu-riscv64), compares
//! their register/memory dumps, describes differences field by field, and shrinks a failing
//! sequence to a small reproducer.

use crate::elf::{self, REC_F, REC_FCSR, REC_SCRATCH, REC_SIZE, REC_X};
use crate::rvgen::{Insn, Item, Sequence, encode_items};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A way to run a RISC-V ELF: program and arguments before the ELF path.
#[derive(Clone, Debug)]
pub struct Runner {
    pub name: String,
    pub argv: Vec<String>,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Ok(Vec<u8>),
    /// Non-zero exit, signal, timeout or spawn error; carries a description and stderr.
    Failed {
        status: String,
        stderr: String,
    },
}

impl Runner {
    /// `heron run --tier TIER`; the auto tier compiles a block after its first execution, so
    /// a second pass over the same code runs it compiled (tier-up inside one run).
    pub fn heron(tier: &str) -> Runner {
        let mut argv = vec![
            env!("CARGO_BIN_EXE_heron").to_string(),
            "run".into(),
            "--tier".into(),
            tier.into(),
        ];
        if tier == "auto" {
            argv.extend(["--jit-threshold".to_string(), "1".to_string()]);
        }
        Runner {
            name: tier.to_string(),
            argv,
        }
    }
    pub fn qemu() -> Option<Runner> {
        let path = std::env::var_os("PATH")?;
        let exe = std::env::split_paths(&path)
            .map(|d| d.join("qemu-riscv64"))
            .find(|p| p.is_file())?;
        Some(Runner {
            name: "qemu-riscv64".into(),
            argv: vec![exe.to_string_lossy().into_owned()],
        })
    }
}

/// Scratch directory for ELFs and outputs of one test of this process.
pub fn work_dir(tag: &str) -> PathBuf {
    let base = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let d = base.join(format!("heron-difftest-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).expect("create difftest work dir");
    d
}

/// Writes an ELF with execute permission (qemu-user refuses files without it).
pub fn write_exec(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Runs all `runners` on `elf_path` concurrently, each with a timeout.
pub fn run_all(runners: &[Runner], elf_path: &Path, timeout: Duration) -> Vec<Outcome> {
    struct Job {
        child: Option<std::process::Child>,
        out: PathBuf,
        err: PathBuf,
        spawn_error: Option<String>,
    }
    let mut jobs = Vec::new();
    for (k, r) in runners.iter().enumerate() {
        let out = elf_path.with_extension(format!("out{k}"));
        let err = elf_path.with_extension(format!("err{k}"));
        let spawned = (|| -> std::io::Result<std::process::Child> {
            Command::new(&r.argv[0])
                .args(&r.argv[1..])
                .arg(elf_path)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&out)?)
                .stderr(std::fs::File::create(&err)?)
                .spawn()
        })();
        match spawned {
            Ok(c) => jobs.push(Job {
                child: Some(c),
                out,
                err,
                spawn_error: None,
            }),
            Err(e) => jobs.push(Job {
                child: None,
                out,
                err,
                spawn_error: Some(format!("spawn {}: {e}", r.argv[0])),
            }),
        }
    }
    let start = Instant::now();
    let mut results: Vec<Option<Outcome>> = vec![None; jobs.len()];
    loop {
        let mut pending = false;
        for (k, job) in jobs.iter_mut().enumerate() {
            if results[k].is_some() {
                continue;
            }
            if let Some(e) = &job.spawn_error {
                results[k] = Some(Outcome::Failed {
                    status: e.clone(),
                    stderr: String::new(),
                });
                continue;
            }
            let Some(child) = job.child.as_mut() else {
                continue;
            };
            match child.try_wait() {
                Ok(Some(st)) => {
                    let stderr = std::fs::read_to_string(&job.err).unwrap_or_default();
                    results[k] = Some(if st.success() {
                        Outcome::Ok(std::fs::read(&job.out).unwrap_or_default())
                    } else {
                        Outcome::Failed {
                            status: format!("{st}"),
                            stderr,
                        }
                    });
                }
                Ok(None) if start.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    results[k] = Some(Outcome::Failed {
                        status: format!("timed out after {timeout:?}"),
                        stderr: std::fs::read_to_string(&job.err).unwrap_or_default(),
                    });
                }
                Ok(None) => pending = true,
                Err(e) => {
                    results[k] = Some(Outcome::Failed {
                        status: format!("wait: {e}"),
                        stderr: String::new(),
                    })
                }
            }
        }
        if !pending {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for job in &jobs {
        let _ = std::fs::remove_file(&job.out);
        let _ = std::fs::remove_file(&job.err);
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or(Outcome::Failed {
                status: "not run".into(),
                stderr: String::new(),
            })
        })
        .collect()
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(w)
}

/// Describes each field that differs between two dump records.
pub fn diff_record(a: &[u8], b: &[u8], an: &str, bn: &str) -> Vec<String> {
    let mut out = Vec::new();
    for r in 1..32 {
        let (va, vb) = (u64_at(a, REC_X + 8 * r), u64_at(b, REC_X + 8 * r));
        if va != vb {
            out.push(format!("x{r}: {an}={va:#018x} {bn}={vb:#018x}"));
        }
    }
    for r in 0..32 {
        let (va, vb) = (u64_at(a, REC_F + 8 * r), u64_at(b, REC_F + 8 * r));
        if va != vb {
            out.push(format!("f{r}: {an}={va:#018x} {bn}={vb:#018x}"));
        }
    }
    let (va, vb) = (u64_at(a, REC_FCSR), u64_at(b, REC_FCSR));
    if va != vb {
        out.push(format!(
            "fcsr: {an}={va:#x} {bn}={vb:#x} (frm {}/{}, fflags NV DZ OF UF NX {:05b}/{:05b})",
            va >> 5,
            vb >> 5,
            va & 31,
            vb & 31
        ));
    }
    for k in (REC_SCRATCH..REC_SIZE).step_by(8) {
        let (va, vb) = (u64_at(a, k), u64_at(b, k));
        if va != vb {
            out.push(format!(
                "scratch[{}..{}] (x8{:+}): {an}={va:#018x} {bn}={vb:#018x}",
                k - REC_SCRATCH,
                k - REC_SCRATCH + 8,
                (k - REC_SCRATCH) as i64 - crate::rvgen::BASE_OFF as i64
            ));
        }
    }
    out
}

/// Indices of records that differ between two outputs (each `n` records long).
pub fn differing_records(a: &[u8], b: &[u8], n: usize) -> Vec<usize> {
    (0..n)
        .filter(|&i| {
            let r = i * REC_SIZE..(i + 1) * REC_SIZE;
            a.get(r.clone()) != b.get(r)
        })
        .collect()
}

/// The sequence as `hex  asm` lines (addresses relative to the sequence start).
pub fn listing(items: &[Item]) -> String {
    let mut s = String::new();
    let mut pc = 0u32;
    for i in encode_items(items) {
        let _ = writeln!(s, "    {pc:+5}: {:>8}  {}", i.hex(), i.asm);
        pc += i.len as u32;
    }
    s
}

pub fn init_text(seq: &Sequence) -> String {
    let mut s = String::new();
    let _ = write!(s, "    fcsr={:#x}", seq.init.fcsr);
    for r in 1..32 {
        if r == 2 || r == 8 {
            continue;
        }
        if r % 4 == 1 {
            s.push_str("\n   ");
        }
        let _ = write!(s, " x{r}={:#x}", seq.init.x[r]);
    }
    for r in 0..32 {
        if r % 4 == 0 {
            s.push_str("\n   ");
        }
        let _ = write!(s, " f{r}={:#018x}", seq.init.f[r]);
    }
    s
}

/// Runs one sequence alone under two runners.
pub fn run_single(
    seq: &Sequence,
    pair: [&Runner; 2],
    dir: &Path,
    timeout: Duration,
) -> (Outcome, Outcome) {
    let built = elf::build(std::slice::from_ref(seq));
    let path = dir.join("single.elf");
    write_exec(&path, &built.elf);
    let mut outs = run_all(&[pair[0].clone(), pair[1].clone()], &path, timeout);
    let b = outs.pop().expect("two outcomes");
    let a = outs.pop().expect("two outcomes");
    (a, b)
}

/// How two outcomes relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Same,
    DataDiff,
    FirstFailed,
    SecondFailed,
    BothFailedDifferently,
}

pub fn relation(a: &Outcome, b: &Outcome) -> Relation {
    match (a, b) {
        (Outcome::Ok(x), Outcome::Ok(y)) => {
            if x == y {
                Relation::Same
            } else {
                Relation::DataDiff
            }
        }
        (Outcome::Failed { .. }, Outcome::Ok(_)) => Relation::FirstFailed,
        (Outcome::Ok(_), Outcome::Failed { .. }) => Relation::SecondFailed,
        (Outcome::Failed { status: sa, .. }, Outcome::Failed { status: sb, .. }) => {
            if sa == sb {
                Relation::Same
            } else {
                Relation::BothFailedDifferently
            }
        }
    }
}

/// Differences of record `i` between two outcomes, or None when equal.
pub fn describe_pair(a: &Outcome, b: &Outcome, an: &str, bn: &str, i: usize) -> Option<String> {
    match (a, b) {
        (Outcome::Ok(x), Outcome::Ok(y)) => {
            let r = i * REC_SIZE..(i + 1) * REC_SIZE;
            match (x.get(r.clone()), y.get(r)) {
                (Some(ra), Some(rb)) if ra == rb => None,
                (Some(ra), Some(rb)) => Some(diff_record(ra, rb, an, bn).join("\n")),
                _ => Some(format!(
                    "output lengths differ: {an} {} bytes, {bn} {} bytes",
                    x.len(),
                    y.len()
                )),
            }
        }
        (Outcome::Failed { status, stderr }, Outcome::Ok(_)) => Some(format!(
            "{an} failed ({status}), {bn} ran; {an} stderr: {}",
            tail(stderr)
        )),
        (Outcome::Ok(_), Outcome::Failed { status, stderr }) => Some(format!(
            "{bn} failed ({status}), {an} ran; {bn} stderr: {}",
            tail(stderr)
        )),
        (Outcome::Failed { status: sa, .. }, Outcome::Failed { status: sb, .. }) => {
            if sa == sb {
                None
            } else {
                Some(format!("both failed: {an} {sa}, {bn} {sb}"))
            }
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n      ")
}

/// Greedily drops items (and single instructions of groups) while the two runners still
/// disagree in the same way as on `seq`; returns the reduced sequence.
pub fn minimise(seq: &Sequence, pair: [&Runner; 2], dir: &Path, timeout: Duration) -> Sequence {
    let (a, b) = run_single(seq, pair, dir, timeout);
    let want = relation(&a, &b);
    if want == Relation::Same {
        return seq.clone();
    }
    let mut cur = seq.clone();
    let mut budget = 300i32;
    let still = |cand: &Sequence, budget: &mut i32| -> bool {
        *budget -= 1;
        let (a, b) = run_single(cand, pair, dir, timeout);
        relation(&a, &b) == want
    };
    let mut changed = true;
    while changed && budget > 0 {
        changed = false;
        let mut k = cur.items.len();
        while k > 0 && budget > 0 {
            k -= 1;
            let mut cand = cur.clone();
            cand.items.remove(k);
            if still(&cand, &mut budget) {
                cur = cand;
                changed = true;
            }
        }
        for k in (0..cur.items.len()).rev() {
            let n = match &cur.items[k] {
                Item::Insns(v) if v.len() > 1 => v.len(),
                _ => continue,
            };
            for j in (0..n).rev() {
                if budget <= 0 {
                    break;
                }
                let mut cand = cur.clone();
                if let Item::Insns(w) = &mut cand.items[k] {
                    if j >= w.len() {
                        continue;
                    }
                    w.remove(j);
                }
                if still(&cand, &mut budget) {
                    cur = cand;
                    changed = true;
                }
            }
        }
    }
    cur
}

/// Hex words of a sequence, for pasting into a disassembler.
pub fn hex_words(insns: &[Insn]) -> String {
    insns.iter().map(|i| i.hex()).collect::<Vec<_>>().join(" ")
}
