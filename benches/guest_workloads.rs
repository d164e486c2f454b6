//! Guest-workload harness (`cargo bench --bench guest_workloads`, or `scripts/bench.sh`).
//! Builds the C workloads in benches/workloads natively and as static riscv64 (or, with
//! `--arch aarch64`, arm64) binaries, runs each one natively, under `qemu-riscv64` (or
//! `qemu-aarch64`) and under `heron run --tier T` side by side, interleaving the configurations in every repetition so a noisy machine slows them alike,
//! checks that every run printed the same output, and prints the medians as a table with
//! ratios and geometric means. Exits non-zero when a run fails or outputs disagree.
//! Without `--bench` (as under `cargo test --benches`) it only checks its own arithmetic.

use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A workload and the size argument the harness gives it: chosen so that one run under
/// qemu-riscv64 takes about a second on the development machine. (Each program's own
/// default size, used when it gets no argument, runs ~0.5-1 s natively instead.)
struct Workload {
    name: &'static str,
    size: u64,
    what: &'static str,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "hash",
        size: 1000,
        what: "SHA-256 + CRC-32 rounds over 64 KiB",
    },
    Workload {
        name: "sieve",
        size: 300,
        what: "sieve passes below 2^21",
    },
    Workload {
        name: "nbody",
        size: 1_500_000,
        what: "five-body steps (f64, fma, sqrt)",
    },
    Workload {
        name: "matmul",
        size: 120,
        what: "128x128 f64 matrix multiplies (fma)",
    },
    Workload {
        name: "vm",
        size: 100_000,
        what: "bytecode VM: Collatz lengths of 1..N",
    },
    Workload {
        name: "strmem",
        size: 500_000,
        what: "memset/memcpy/memmove/strlen/strcmp/memchr rounds",
    },
    Workload {
        name: "alloc",
        size: 15,
        what: "rounds of building and freeing trees and lists",
    },
];

const HELP: &str = "\
usage: cargo bench --bench guest_workloads -- [OPTIONS] [WORKLOAD...]
       scripts/bench.sh [OPTIONS] [WORKLOAD...]

Runs each workload natively, under qemu-riscv64 and under heron, N times each (interleaved),
and prints median times, ratios and geometric means. Exits 1 if any run fails or outputs differ.

  --reps N          repetitions per configuration (default 3; the median is reported)
  --tiers LIST      heron tiers to run, comma-separated from auto,jit,interp or 'all'
                    (default auto; 'none' runs no heron)
  --scale F         multiply every workload size by F (default 1; e.g. 0.1 for --tier interp)
  --metric M        'cpu' (default: user+system time of the process and its threads, which
                    a busy machine disturbs far less) or 'wall'
  --timeout S       kill a run after S seconds and count it as failed (default 120)
  --arch A          guest architecture: riscv64 (default) or aarch64
  --no-qemu         skip qemu-riscv64 / qemu-aarch64
  --no-native       skip the native runs (outputs are then compared with the first configuration)
  --heron PATH      heron binary (default: the one cargo built for this bench)
  --qemu PATH       qemu binary (default: qemu-riscv64 or qemu-aarch64 on PATH)
  --csv FILE        also write every single run to FILE (workload,config,rep,wall_s,cpu_s,ok)
  --verbose         print every run as it finishes
  --list            list the workloads and their sizes, then exit
  WORKLOAD...       run only these workloads (default: all)
";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Metric {
    Wall,
    Cpu,
}

/// The guest architecture the workloads are built for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Arch {
    Riscv64,
    Aarch64,
}

impl Arch {
    /// File suffix of the guest build, cross compiler and its flags.
    fn flavour(self) -> (&'static str, &'static str, Vec<&'static str>) {
        match self {
            Arch::Riscv64 => (
                "rv64",
                "riscv64-linux-gnu-gcc",
                vec!["-O2", "-static", "-ffp-contract=off"],
            ),
            Arch::Aarch64 => (
                "a64",
                "aarch64-linux-gnu-gcc",
                vec!["-O2", "-static", "-ffp-contract=off"],
            ),
        }
    }
    fn qemu(self) -> &'static str {
        match self {
            Arch::Riscv64 => "qemu-riscv64",
            Arch::Aarch64 => "qemu-aarch64",
        }
    }
}

#[derive(Debug)]
struct Opts {
    arch: Arch,
    reps: usize,
    tiers: Vec<String>,
    scale: f64,
    metric: Metric,
    timeout: Duration,
    qemu: Option<PathBuf>,
    native: bool,
    heron: PathBuf,
    csv: Option<PathBuf>,
    verbose: bool,
    list: bool,
    only: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        arch: Arch::Riscv64,
        reps: 3,
        tiers: vec!["auto".to_string()],
        scale: 1.0,
        metric: Metric::Cpu,
        timeout: Duration::from_secs(120),
        qemu: None,
        native: true,
        heron: PathBuf::from(env!("CARGO_BIN_EXE_heron")),
        csv: None,
        verbose: false,
        list: false,
        only: Vec::new(),
    };
    let mut no_qemu = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--bench" => {}
            "--reps" => {
                o.reps = value(a)?.parse().map_err(|e| format!("--reps: {e}"))?;
                if o.reps == 0 {
                    return Err("--reps must be at least 1".into());
                }
            }
            "--tiers" | "--tier" => {
                let v = value(a)?;
                o.tiers = match v.as_str() {
                    "all" => vec!["auto".into(), "jit".into(), "interp".into()],
                    "none" => Vec::new(),
                    _ => v.split(',').map(str::to_string).collect(),
                };
                for t in &o.tiers {
                    if !matches!(t.as_str(), "auto" | "jit" | "interp") {
                        return Err(format!("unknown tier '{t}' (expected auto, jit, interp)"));
                    }
                }
            }
            "--scale" => {
                o.scale = value(a)?.parse().map_err(|e| format!("--scale: {e}"))?;
                if !(o.scale > 0.0 && o.scale.is_finite()) {
                    return Err("--scale must be a positive number".into());
                }
            }
            "--metric" => {
                o.metric = match value(a)?.as_str() {
                    "wall" => Metric::Wall,
                    "cpu" => Metric::Cpu,
                    m => return Err(format!("unknown metric '{m}' (expected wall or cpu)")),
                }
            }
            "--timeout" => {
                let s: f64 = value(a)?.parse().map_err(|e| format!("--timeout: {e}"))?;
                if !(s > 0.0 && s.is_finite()) {
                    return Err("--timeout must be a positive number of seconds".into());
                }
                o.timeout = Duration::from_secs_f64(s);
            }
            "--arch" => {
                o.arch = match value(a)?.as_str() {
                    "riscv64" | "rv64" => Arch::Riscv64,
                    "aarch64" | "arm64" => Arch::Aarch64,
                    v => return Err(format!("unknown architecture '{v}' (riscv64 or aarch64)")),
                }
            }
            "--no-qemu" => no_qemu = true,
            "--no-native" => o.native = false,
            "--heron" => o.heron = PathBuf::from(value(a)?),
            "--qemu" => o.qemu = Some(PathBuf::from(value(a)?)),
            "--csv" => o.csv = Some(PathBuf::from(value(a)?)),
            "--verbose" | "-v" => o.verbose = true,
            "--list" => o.list = true,
            "--help" | "-h" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'")),
            name => {
                if !WORKLOADS.iter().any(|w| w.name == name) {
                    return Err(format!("unknown workload '{name}' (see --list)"));
                }
                o.only.push(name.to_string());
            }
        }
    }
    if no_qemu {
        o.qemu = None;
    } else if o.qemu.is_none() {
        o.qemu = Some(PathBuf::from(o.arch.qemu()));
    }
    Ok(o)
}

/// One way of running a workload.
#[derive(Clone, Debug, PartialEq)]
enum Config {
    Native,
    Qemu,
    Heron(String),
}

impl Config {
    fn label(&self) -> String {
        match self {
            Config::Native => "native".into(),
            Config::Qemu => "qemu".into(),
            Config::Heron(t) => format!("heron:{t}"),
        }
    }
}

/// The result of one run.
#[derive(Clone, Debug)]
struct Run {
    wall: f64,
    cpu: f64,
    stdout: String,
    /// Why the run failed (exit status, signal, timeout, spawn error), if it did.
    failure: Option<String>,
    stderr_tail: String,
}

/// Runs `cmd` to completion (or until `timeout`, when it is killed), measuring wall time
/// and the user+system CPU time of the process.
fn run_one(mut cmd: Command, timeout: Duration) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Run {
                wall: 0.0,
                cpu: 0.0,
                stdout: String::new(),
                failure: Some(format!("cannot start {:?}: {e}", cmd.get_program())),
                stderr_tail: String::new(),
            };
        }
    };
    let pid = child.id() as libc::pid_t;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            // A read error only truncates what we show; the exit status still decides.
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = child.stdout.take().map(|s| drain(Box::new(s)));
    let err = child.stderr.take().map(|s| drain(Box::new(s)));

    // A watchdog kills the child on timeout. The main thread first waits for the exit
    // *without* reaping (WNOWAIT), so the pid cannot be reused while the watchdog may
    // still signal it; then it stops the watchdog and reaps with wait4 for the rusage.
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(timeout) {
            // SAFETY: `pid` is our unreaped child (a zombie at worst), so it names no
            // other process; kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let mut wait_err = None;
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value for waitid to overwrite.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t; `pid` is our child.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            wait_err = Some(e);
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);

    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `ru` are valid, writable; `pid` is our exited, unreaped child.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();

    let failure = if let Some(e) = wait_err {
        Some(format!("waitid failed: {e}"))
    } else if reaped != pid {
        Some(format!("wait4 failed: {}", std::io::Error::last_os_error()))
    } else if timed_out {
        Some(format!("timed out after {:.0} s", timeout.as_secs_f64()))
    } else {
        let st = std::process::ExitStatus::from_raw(status);
        if st.success() {
            None
        } else if let Some(sig) = st.signal() {
            Some(format!("killed by signal {sig}"))
        } else {
            Some(format!("exit status {}", st.code().unwrap_or(-1)))
        }
    };
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    let stderr_tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    Run {
        wall,
        cpu,
        stdout,
        failure,
        stderr_tail,
    }
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

fn geomean(v: &[f64]) -> Option<f64> {
    if v.is_empty() || v.iter().any(|&x| x.is_nan() || x <= 0.0) {
        return None;
    }
    Some((v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

fn benches_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches")
}

fn host_has_fma() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("flags"))
                .is_some_and(|l| l.split_whitespace().any(|f| f == "fma"))
        })
        .unwrap_or(false)
}

/// Compilers and flags for the two builds. `-ffp-contract=off` keeps the compiler from fusing
/// on its own, so FP results depend only on the explicit fma() calls and are bit-identical
/// on both machines; `-mfma` lets the native build inline them when the host has FMA.
fn build_flavours(arch: Arch) -> [(&'static str, &'static str, Vec<&'static str>); 2] {
    let mut native = vec!["-O2", "-ffp-contract=off"];
    if host_has_fma() {
        native.push("-mfma");
    }
    [("native", "gcc", native), arch.flavour()]
}

/// Compiles `name` into benches/build/NAME.{native,rv64} unless the outputs are newer than
/// the source and were built with the same command.
fn build_workload(name: &str, arch: Arch) -> Result<(), String> {
    let dir = benches_dir();
    let src = dir.join("workloads").join(format!("{name}.c"));
    let build = dir.join("build");
    std::fs::create_dir_all(&build).map_err(|e| format!("{}: {e}", build.display()))?;
    let src_time = std::fs::metadata(&src)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{}: {e}", src.display()))?;
    for (suffix, cc, flags) in build_flavours(arch) {
        let out = build.join(format!("{name}.{suffix}"));
        let stamp = build.join(format!("{name}.{suffix}.cmd"));
        let cmdline = format!(
            "{cc} {} -o {} {} -lm",
            flags.join(" "),
            out.display(),
            src.display()
        );
        let fresh = std::fs::metadata(&out)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= src_time)
            && std::fs::read_to_string(&stamp).is_ok_and(|s| s == cmdline);
        if fresh {
            continue;
        }
        let st = Command::new(cc)
            .args(&flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .arg("-lm")
            .status()
            .map_err(|e| {
                format!(
                    "cannot run {cc}: {e} (scripts/install-deps.sh installs the cross compiler)"
                )
            })?;
        if !st.success() {
            return Err(format!("{cmdline} failed ({st})"));
        }
        std::fs::write(&stamp, &cmdline).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    Ok(())
}

fn command_for(o: &Opts, c: &Config, name: &str, size: u64) -> Command {
    let build = benches_dir().join("build");
    let rv = build.join(format!("{name}.{}", o.arch.flavour().0));
    let mut cmd = match c {
        Config::Native => Command::new(build.join(format!("{name}.native"))),
        Config::Qemu => {
            let mut cmd = Command::new(o.qemu.as_deref().unwrap_or(Path::new(o.arch.qemu())));
            cmd.arg(&rv);
            cmd
        }
        Config::Heron(tier) => {
            let mut cmd = Command::new(&o.heron);
            cmd.args(["run", "--tier", tier.as_str()]).arg(&rv);
            cmd
        }
    };
    cmd.arg(size.to_string());
    cmd
}

/// Formats a table with right-aligned columns (the first left-aligned).
fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for (i, r) in rows.iter().enumerate() {
        for (c, cell) in r.iter().enumerate() {
            if c == 0 {
                let _ = write!(s, "{cell:<w$}", w = width[c]);
            } else {
                let _ = write!(s, "  {cell:>w$}", w = width[c]);
            }
        }
        s.push('\n');
        if i == 0 {
            let total = width.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
            s.push_str(&"-".repeat(total));
            s.push('\n');
        }
    }
    s
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "FAIL".to_string(), |x| format!("{x:.3}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn times(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |x| format!("{x:.2}x"))
}

/// Builds the result table: one row per workload, then the geometric means.
/// `med[w][c]` is the median time of workload `w` under `configs[c]`, None if it failed.
fn results_table(names: &[&str], configs: &[Config], med: &[Vec<Option<f64>>]) -> String {
    let find = |c: &Config| configs.iter().position(|x| x == c);
    let native = find(&Config::Native);
    let qemu = find(&Config::Qemu);
    let herons: Vec<(usize, &str)> = configs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Config::Heron(t) => Some((i, t.as_str())),
            _ => None,
        })
        .collect();
    let mut header = vec!["workload".to_string()];
    if native.is_some() {
        header.push("native s".into());
    }
    if qemu.is_some() {
        header.push("qemu s".into());
    }
    let single = herons.len() == 1;
    for &(_, t) in &herons {
        let h = if single {
            "heron".to_string()
        } else {
            format!("heron:{t}")
        };
        header.push(format!("{h} s"));
        if qemu.is_some() {
            header.push(format!("{h}/qemu"));
        }
        if native.is_some() {
            header.push(format!("{h}/native"));
        }
    }
    if native.is_some() && qemu.is_some() {
        header.push("qemu/native".into());
    }

    // Every cell as Option<f64>, row by row, so the geometric means follow the same layout.
    let mut cells: Vec<Vec<Option<f64>>> = Vec::new();
    let mut is_ratio = Vec::new();
    for m in med {
        let mut row = Vec::new();
        is_ratio.clear();
        let get = |i: Option<usize>| i.and_then(|i| m[i]);
        if let Some(n) = native {
            row.push(m[n]);
            is_ratio.push(false);
        }
        if let Some(q) = qemu {
            row.push(m[q]);
            is_ratio.push(false);
        }
        for &(h, _) in &herons {
            row.push(m[h]);
            is_ratio.push(false);
            if qemu.is_some() {
                row.push(ratio(m[h], get(qemu)));
                is_ratio.push(true);
            }
            if native.is_some() {
                row.push(ratio(m[h], get(native)));
                is_ratio.push(true);
            }
        }
        if native.is_some() && qemu.is_some() {
            row.push(ratio(get(qemu), get(native)));
            is_ratio.push(true);
        }
        cells.push(row);
    }
    let mut rows = vec![header];
    for (name, row) in names.iter().zip(&cells) {
        let mut r = vec![name.to_string()];
        for (v, &q) in row.iter().zip(&is_ratio) {
            r.push(if q { times(*v) } else { secs(*v) });
        }
        rows.push(r);
    }
    let mut g = vec!["geomean".to_string()];
    for (c, &q) in is_ratio.iter().enumerate() {
        let col: Vec<Option<f64>> = cells.iter().map(|r| r[c]).collect();
        let v = if col.iter().all(Option::is_some) {
            geomean(&col.into_iter().flatten().collect::<Vec<_>>())
        } else {
            None
        };
        g.push(match (v, q) {
            (None, _) => "-".into(),
            (Some(_), true) => times(v),
            (Some(_), false) => secs(v),
        });
    }
    if cells.len() > 1 {
        rows.push(g);
    }
    render_table(&rows)
}

fn tool_exists(p: &Path) -> bool {
    if p.components().count() > 1 {
        return p.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
}

fn bench(o: &Opts) -> Result<bool, String> {
    let workloads: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| o.only.is_empty() || o.only.iter().any(|n| n == w.name))
        .collect();
    if o.list {
        for w in WORKLOADS {
            println!("{:<8} size {:>9}  {}", w.name, w.size, w.what);
        }
        return Ok(true);
    }
    let mut configs = Vec::new();
    if o.native {
        configs.push(Config::Native);
    }
    if let Some(q) = &o.qemu {
        if tool_exists(q) {
            configs.push(Config::Qemu);
        } else {
            eprintln!(
                "bench: {} not found, skipping qemu (scripts/install-deps.sh installs it)",
                q.display()
            );
        }
    }
    if !o.tiers.is_empty() && !o.heron.is_file() {
        return Err(format!("heron binary {} not found", o.heron.display()));
    }
    configs.extend(o.tiers.iter().map(|t| Config::Heron(t.clone())));
    if configs.is_empty() {
        return Err("nothing to run".into());
    }
    for w in &workloads {
        build_workload(w.name, o.arch)?;
    }
    let sizes: Vec<u64> = workloads
        .iter()
        .map(|w| ((w.size as f64 * o.scale).round() as u64).max(1))
        .collect();
    eprintln!(
        "bench: {} workloads x {} configurations ({}) x {} reps, metric {}",
        workloads.len(),
        configs.len(),
        configs
            .iter()
            .map(Config::label)
            .collect::<Vec<_>>()
            .join(", "),
        o.reps,
        if o.metric == Metric::Wall {
            "wall"
        } else {
            "cpu"
        },
    );

    let mut csv = String::from("workload,size,config,rep,wall_s,cpu_s,ok\n");
    // results[w][c] = every run of workload w under configs[c]
    let mut results: Vec<Vec<Vec<Run>>> = vec![vec![Vec::new(); configs.len()]; workloads.len()];
    for rep in 0..o.reps {
        for (wi, w) in workloads.iter().enumerate() {
            // Rotate the order every repetition so no configuration always runs first.
            for k in 0..configs.len() {
                let ci = (k + rep) % configs.len();
                let c = &configs[ci];
                let run = run_one(command_for(o, c, w.name, sizes[wi]), o.timeout);
                if o.verbose || run.failure.is_some() {
                    eprintln!(
                        "  rep {} {:<7} {:<12} wall {:7.3} s  cpu {:7.3} s  {}",
                        rep + 1,
                        w.name,
                        c.label(),
                        run.wall,
                        run.cpu,
                        run.failure.as_deref().unwrap_or("ok"),
                    );
                    if run.failure.is_some() && !run.stderr_tail.is_empty() {
                        for l in run.stderr_tail.lines() {
                            eprintln!("      | {l}");
                        }
                    }
                }
                let _ = writeln!(
                    csv,
                    "{},{},{},{},{:.6},{:.6},{}",
                    w.name,
                    sizes[wi],
                    c.label(),
                    rep + 1,
                    run.wall,
                    run.cpu,
                    run.failure.is_none()
                );
                results[wi][ci].push(run);
            }
        }
        if !o.verbose {
            eprintln!("bench: repetition {}/{} done", rep + 1, o.reps);
        }
    }
    if let Some(path) = &o.csv {
        std::fs::write(path, &csv).map_err(|e| format!("{}: {e}", path.display()))?;
    }

    // Check outputs: every successful run must print what the reference printed (native
    // if it ran and succeeded, else the first successful run).
    let mut ok = true;
    let mut med = Vec::new();
    for (wi, w) in workloads.iter().enumerate() {
        let reference = results[wi]
            .iter()
            .flatten()
            .find(|r| r.failure.is_none())
            .map(|r| r.stdout.clone());
        let mut row = Vec::new();
        for (ci, runs) in results[wi].iter().enumerate() {
            let mut good = Vec::new();
            for r in runs {
                if let Some(f) = &r.failure {
                    ok = false;
                    eprintln!("FAIL {} under {}: {f}", w.name, configs[ci].label());
                } else if Some(&r.stdout) != reference.as_ref() {
                    ok = false;
                    eprintln!(
                        "MISMATCH {} under {}: printed {:?}, expected {:?}",
                        w.name,
                        configs[ci].label(),
                        r.stdout.trim_end(),
                        reference.as_deref().unwrap_or("").trim_end()
                    );
                } else {
                    good.push(if o.metric == Metric::Wall {
                        r.wall
                    } else {
                        r.cpu
                    });
                }
            }
            // A configuration counts only if every repetition ran and agreed.
            row.push(if good.len() == runs.len() {
                median(&good)
            } else {
                None
            });
        }
        med.push(row);
    }
    let names: Vec<&str> = workloads.iter().map(|w| w.name).collect();
    println!();
    println!(
        "median {} time of {} runs (sizes: {})",
        if o.metric == Metric::Wall {
            "wall"
        } else {
            "cpu"
        },
        o.reps,
        workloads
            .iter()
            .zip(&sizes)
            .map(|(w, s)| format!("{} {s}", w.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print!("{}", results_table(&names, &configs, &med));
    if !ok {
        println!("FAILED: some runs failed or printed different output (see above)");
    }
    Ok(ok)
}

/// The checks `cargo test --benches` runs (the harness has no libtest).
fn self_test() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[]), None);
    let g = geomean(&[1.0, 4.0, 16.0]).unwrap_or(0.0);
    assert!((g - 4.0).abs() < 1e-12, "geomean {g}");
    assert_eq!(geomean(&[1.0, 0.0]), None);
    let o = parse_args(&[
        "--reps".into(),
        "5".into(),
        "--tiers".into(),
        "all".into(),
        "vm".into(),
    ])
    .unwrap_or_else(|e| panic!("parse failed: {e}"));
    assert_eq!(
        (o.reps, o.tiers.len(), o.only.clone()),
        (5, 3, vec!["vm".to_string()])
    );
    assert!(parse_args(&["--tiers".into(), "fast".into()]).is_err());
    assert!(parse_args(&["nosuch".into()]).is_err());
    assert!(parse_args(&["--reps".into(), "0".into()]).is_err());

    let configs = [Config::Native, Config::Qemu, Config::Heron("auto".into())];
    let med = vec![
        vec![Some(1.0), Some(4.0), Some(2.0)],
        vec![Some(2.0), Some(2.0), None],
    ];
    let t = results_table(&["a", "b"], &configs, &med);
    let lines: Vec<&str> = t.lines().collect();
    let words = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
    assert_eq!(
        words(0),
        [
            "workload",
            "native",
            "s",
            "qemu",
            "s",
            "heron",
            "s",
            "heron/qemu",
            "heron/native",
            "qemu/native"
        ]
    );
    assert_eq!(
        words(2),
        ["a", "1.000", "4.000", "2.000", "0.50x", "2.00x", "4.00x"]
    );
    assert_eq!(words(3), ["b", "2.000", "2.000", "FAIL", "-", "-", "1.00x"]);
    assert_eq!(
        words(4),
        ["geomean", "1.414", "2.828", "-", "-", "-", "2.00x"]
    );

    // The process runner measures, captures output and reports failures and timeouts.
    let mut c = Command::new("sh");
    c.args(["-c", "echo hi; echo oops >&2; exit 3"]);
    let r = run_one(c, Duration::from_secs(10));
    assert_eq!(
        (r.stdout.as_str(), r.stderr_tail.as_str()),
        ("hi\n", "oops")
    );
    assert_eq!(r.failure.as_deref(), Some("exit status 3"));
    let mut c = Command::new("sh");
    c.args(["-c", "sleep 5"]);
    let r = run_one(c, Duration::from_millis(200));
    assert!(
        r.failure
            .as_deref()
            .is_some_and(|f| f.starts_with("timed out")),
        "{r:?}"
    );
    assert!(r.wall < 4.0, "the timeout did not kill the child: {r:?}");
    let mut c = Command::new("sh");
    c.args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"]);
    let r = run_one(c, Duration::from_secs(30));
    assert!(r.failure.is_none() && r.cpu > 0.0 && r.wall > 0.0, "{r:?}");
    println!(
        "guest_workloads: self-test ok (run `cargo bench --bench guest_workloads` to benchmark)"
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        self_test();
        return ExitCode::SUCCESS;
    }
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    match bench(&o) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
