//! Shared harness for heron's integration tests: builds the guest programs once per test
//! binary (scripts/build-guest-tests.sh), runs a guest under heron (`--tier interp`,
//! `--tier jit`, `--tier auto`) and under qemu-riscv64 when it is installed, and compares
//! standard output byte for byte and the exit status (code or terminating signal).
//! qemu's output is the reference; without qemu the tiers are compared with each other
//! (and with a checked-in expected output where a test has one).
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The heron binary under test ($HERON_BIN overrides the one cargo built, e.g. to test
/// a release build or another checkout with the same harness).
pub fn heron() -> PathBuf {
    match std::env::var_os("HERON_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_heron")),
    }
}

/// Looks `name` up in PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Builds every guest program (once per test binary). Panics with the build log, or with
/// a pointer to scripts/install-deps.sh when the cross compiler is missing.
pub fn build_guests() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let r = BUILT.get_or_init(|| {
        if which("riscv64-linux-gnu-gcc").is_none() {
            return Err("riscv64-linux-gnu-gcc is not installed: run scripts/install-deps.sh \
                        (it installs the cross compilers, qemu-user and Go)"
                .to_string());
        }
        let out = Command::new("bash")
            .arg(root().join("scripts/build-guest-tests.sh"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run scripts/build-guest-tests.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/build-guest-tests.sh failed ({}):\n{}{}\n(missing tools? run scripts/install-deps.sh)",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}

/// Path of a built guest program, e.g. `guest("asm/rv64m")`, `guest("c/hello")`.
pub fn guest(rel: &str) -> PathBuf {
    build_guests();
    let p = root().join("tests/guest/build/riscv64").join(rel);
    assert!(p.is_file(), "guest program {} was not built", p.display());
    p
}

/// Path of a built aarch64 guest program, e.g. `guest_a64("asm/int_alu")`.
pub fn guest_a64(rel: &str) -> PathBuf {
    build_guests();
    let p = root().join("tests/guest/build/aarch64").join(rel);
    assert!(
        p.is_file(),
        "aarch64 guest program {} was not built (is aarch64-linux-gnu-gcc installed?)",
        p.display()
    );
    p
}

/// True when `program` is an AArch64 ELF file (its ELF e_machine is 183).
pub fn is_aarch64_elf(program: &Path) -> bool {
    let mut head = [0u8; 20];
    std::fs::File::open(program)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[..4] == b"\x7fELF"
        && u16::from_le_bytes([head[18], head[19]]) == 183
}

/// qemu-aarch64, when installed (HERON_NO_QEMU=1 pretends it is not).
pub fn qemu_aarch64() -> Option<PathBuf> {
    if std::env::var_os("HERON_NO_QEMU").is_some_and(|v| v == "1") {
        return None;
    }
    static Q: OnceLock<Option<PathBuf>> = OnceLock::new();
    Q.get_or_init(|| which("qemu-aarch64").or_else(|| which("qemu-aarch64-static")))
        .clone()
}

/// qemu-riscv64, when installed (HERON_NO_QEMU=1 pretends it is not).
pub fn qemu() -> Option<PathBuf> {
    if std::env::var_os("HERON_NO_QEMU").is_some_and(|v| v == "1") {
        return None;
    }
    static Q: OnceLock<Option<PathBuf>> = OnceLock::new();
    Q.get_or_init(|| which("qemu-riscv64").or_else(|| which("qemu-riscv64-static")))
        .clone()
}

/// A fresh empty directory under the target's temporary directory (canonical path).
/// The shared system-mode guest images ($HERON_GUESTS, default /work/shared/guests), or
/// None (with a SKIPPED line) when the riscv64 kernel or the disk image is missing.
pub fn guest_images() -> Option<PathBuf> {
    let d = std::env::var_os("HERON_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/guests"));
    if d.join("riscv64/Image").is_file() && d.join("disk.img").is_file() {
        Some(d)
    } else {
        eprintln!(
            "SKIPPED: no guest images at {} (set HERON_GUESTS or run scripts/build-guest-images.sh)",
            d.display()
        );
        None
    }
}

/// heron's arguments to run our bare-metal program `bare/NAME.bin` as the firmware of a
/// 64 MiB `virt` board on `tier`, then `extra`.
pub fn bare_metal_args(name: &str, tier: &str, extra: &[&str]) -> Vec<String> {
    let bin = guest(&format!("bare/{name}.bin"));
    let mut args: Vec<String> = [
        "system",
        "riscv64",
        "-M",
        "virt",
        "-nographic",
        "-m",
        "64M",
        "-bios",
        &bin.display().to_string(),
        "--tier",
        tier,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let d = base.join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d.canonicalize().expect("canonicalize temp dir")
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exit(i32),
    Signal(i32),
    Timeout,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Exit(c) => write!(f, "exit status {c}"),
            Status::Signal(s) => write!(f, "killed by signal {s}"),
            Status::Timeout => write!(f, "timed out"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: Status,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// One guest invocation: program, arguments, environment, stdin, working directory.
#[derive(Clone, Debug)]
pub struct Guest {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub stdin: Vec<u8>,
    pub cwd: Option<PathBuf>,
    /// Sysroot for dynamically linked guests (heron -L, qemu -L).
    pub sysroot: Option<PathBuf>,
    pub timeout: Duration,
}

impl Guest {
    pub fn new(program: impl Into<PathBuf>) -> Guest {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), "/usr/bin:/bin".into());
        env.insert("LC_ALL".into(), "C".into());
        let secs = std::env::var("HERON_TEST_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180);
        Guest {
            program: program.into(),
            args: Vec::new(),
            env,
            stdin: Vec::new(),
            cwd: None,
            sysroot: None,
            timeout: Duration::from_secs(secs),
        }
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Guest {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Guest {
        self.env.insert(k.into(), v.into());
        self
    }
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Guest {
        self.stdin = data.into();
        self
    }
    pub fn cwd(mut self, d: impl Into<PathBuf>) -> Guest {
        self.cwd = Some(d.into());
        self
    }
    pub fn sysroot(mut self, d: impl Into<PathBuf>) -> Guest {
        self.sysroot = Some(d.into());
        self
    }
}

/// Runs `cmd` with `stdin`, collecting output, killing its whole process group after
/// `timeout`.
pub fn run_command(mut cmd: Command, stdin: &[u8], timeout: Duration) -> Outcome {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut sin = child.stdin.take().expect("stdin piped");
    let data = stdin.to_vec();
    let writer = thread::spawn(move || {
        // A guest may exit without reading: ignore EPIPE.
        let _ = sin.write_all(&data);
    });
    let mut sout = child.stdout.take().expect("stdout piped");
    let mut serr = child.stderr.take().expect("stderr piped");
    let r_out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = sout.read_to_end(&mut v);
        v
    });
    let r_err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = serr.read_to_end(&mut v);
        v
    });
    let pgid = child.id() as i32;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                break match (st.code(), st.signal()) {
                    (Some(c), _) => Status::Exit(c),
                    (None, Some(s)) => Status::Signal(s),
                    _ => Status::Exit(-1),
                };
            }
            Ok(None) if start.elapsed() > timeout => {
                // SAFETY: kill(2) on the process group we created for this child only.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                let _ = child.wait();
                break Status::Timeout;
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("wait failed: {e}"),
        }
    };
    let elapsed = start.elapsed();
    // Guest children left in the group (e.g. background jobs) would keep the pipes open.
    // SAFETY: kill(2) on the process group we created for this child only; it may be gone.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = writer.join();
    let stdout = r_out.join().unwrap_or_default();
    let stderr = r_err.join().unwrap_or_default();
    Outcome {
        stdout,
        stderr,
        status,
        elapsed,
    }
}

fn apply(cmd: &mut Command, g: &Guest) {
    cmd.env_clear();
    for (k, v) in &g.env {
        cmd.env(k, v);
    }
    if let Some(d) = &g.cwd {
        cmd.current_dir(d);
    }
}

/// Execution tiers of heron.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Interp,
    Jit,
    Auto,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Interp => "interp",
            Tier::Jit => "jit",
            Tier::Auto => "auto",
        }
    }
}

pub const ALL_TIERS: &[Tier] = &[Tier::Interp, Tier::Jit, Tier::Auto];
pub const BOTH_TIERS: &[Tier] = &[Tier::Interp, Tier::Jit];

/// Runs the guest under heron with the given tier and extra heron options.
pub fn run_heron(g: &Guest, tier: Tier, extra: &[&str]) -> Outcome {
    let mut cmd = Command::new(heron());
    cmd.arg("run").arg("--tier").arg(tier.name());
    cmd.args(extra);
    if let Some(s) = &g.sysroot {
        cmd.arg("-L").arg(s);
    }
    cmd.arg(&g.program).args(&g.args);
    apply(&mut cmd, g);
    run_command(cmd, &g.stdin, g.timeout)
}

/// Runs the guest under qemu-riscv64 or qemu-aarch64, by the program's ELF machine (None
/// when that qemu is not installed).
pub fn run_qemu(g: &Guest) -> Option<Outcome> {
    let q = if is_aarch64_elf(&g.program) {
        qemu_aarch64()?
    } else {
        qemu()?
    };
    let mut cmd = Command::new(q);
    if let Some(s) = &g.sysroot {
        cmd.arg("-L").arg(s);
    }
    cmd.arg(&g.program).args(&g.args);
    apply(&mut cmd, g);
    Some(run_command(cmd, &g.stdin, g.timeout))
}

/// A readable account of the first difference between two outputs.
pub fn diff(a_name: &str, a: &[u8], b_name: &str, b: &[u8]) -> String {
    let a_s = String::from_utf8_lossy(a);
    let b_s = String::from_utf8_lossy(b);
    let al: Vec<&str> = a_s.split_inclusive('\n').collect();
    let bl: Vec<&str> = b_s.split_inclusive('\n').collect();
    let first = al
        .iter()
        .zip(bl.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(al.len().min(bl.len()));
    let mut s = format!(
        "outputs differ at line {} ({a_name}: {} lines/{} bytes, {b_name}: {} lines/{} bytes)\n",
        first + 1,
        al.len(),
        a.len(),
        bl.len(),
        b.len()
    );
    let from = first.saturating_sub(3);
    for i in from..(first + 4) {
        if let Some(l) = al.get(i) {
            s += &format!("  {a_name:>8} {:4}: {}", i + 1, l.trim_end_matches('\n'));
            s.push('\n');
        }
        if i >= first
            && let Some(l) = bl.get(i)
        {
            s += &format!("  {b_name:>8} {:4}: {}", i + 1, l.trim_end_matches('\n'));
            s.push('\n');
        }
    }
    s
}

fn tail(b: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(b);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Options for [`check`].
pub struct Check<'a> {
    pub tiers: &'a [Tier],
    /// Compare with qemu-riscv64 (when installed).
    pub qemu: bool,
    /// Reference output used instead of qemu's (or when qemu is missing).
    pub expected: Option<(Vec<u8>, Status)>,
    /// Rewrites qemu's output before comparing (for documented qemu deviations).
    pub fix_qemu: Option<&'a dyn Fn(Vec<u8>) -> Vec<u8>>,
    /// Extra heron options placed before the program.
    pub extra_heron_args: &'a [&'a str],
}

impl Default for Check<'_> {
    fn default() -> Self {
        Check {
            tiers: ALL_TIERS,
            qemu: true,
            expected: None,
            fix_qemu: None,
            extra_heron_args: &[],
        }
    }
}

/// Runs `make()`'s guest under each tier (and qemu), compares stdout and status with the
/// reference, and panics with a readable report on any difference. Returns the reference
/// outcome. `make` is called once per run so each run can get fresh state.
pub fn check_with(name: &str, make: &dyn Fn() -> Guest, opts: &Check<'_>) -> Outcome {
    let mut failures = Vec::new();
    let reference: Option<(String, Outcome)> = if let Some((out, st)) = &opts.expected {
        Some((
            "expected".into(),
            Outcome {
                stdout: out.clone(),
                stderr: Vec::new(),
                status: *st,
                elapsed: Duration::ZERO,
            },
        ))
    } else if opts.qemu {
        run_qemu(&make()).map(|mut o| {
            if let Some(f) = opts.fix_qemu {
                o.stdout = f(o.stdout);
            }
            ("qemu".to_string(), o)
        })
    } else {
        None
    };
    if reference.is_none() && opts.qemu {
        eprintln!("{name}: qemu-user not installed, comparing heron's tiers only");
    }
    if let Some((rn, r)) = &reference
        && r.status == Status::Timeout
    {
        failures.push(format!("{name}: reference ({rn}) timed out"));
    }
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    for &t in opts.tiers {
        let o = run_heron(&make(), t, opts.extra_heron_args);
        eprintln!(
            "{name}: heron --tier {} -> {} in {:.2?}",
            t.name(),
            o.status,
            o.elapsed
        );
        outcomes.push((format!("heron-{}", t.name()), o));
    }
    let (ref_name, ref_out) = match &reference {
        Some((n, o)) => (n.clone(), o.clone()),
        None => outcomes[0].clone(),
    };
    for (n, o) in &outcomes {
        let mut problems = Vec::new();
        if o.status != ref_out.status {
            problems.push(format!(
                "status: {n} {} but {ref_name} {}",
                o.status, ref_out.status
            ));
        }
        if o.stdout != ref_out.stdout {
            problems.push(diff(&ref_name, &ref_out.stdout, n, &o.stdout));
        }
        let err = o.stderr_str();
        if err.contains("panicked") {
            problems.push("heron panicked".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name} under {n}:\n{}\n  {n} stderr (tail):\n{}",
                problems.join("\n"),
                tail(&o.stderr, 15)
            ));
        }
    }
    if !failures.is_empty() {
        panic!("{}", failures.join("\n\n"));
    }
    ref_out
}

/// [`check_with`] for a guest that needs no per-run state.
pub fn check(name: &str, g: Guest, opts: &Check<'_>) -> Outcome {
    check_with(name, &|| g.clone(), opts)
}

/// Reads a checked-in expected output under tests/guest/riscv64/expected/.
pub fn expected_file(name: &str) -> Vec<u8> {
    let p = root().join("tests/guest/riscv64/expected").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// True when `p` exists and is executable by its owner.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o100 != 0)
}

/// Debian's static busybox for `arch` ("riscv64" or "arm64"), fetched once per test binary
/// by scripts/fetch-busybox.sh.
pub fn busybox(arch: &str) -> PathBuf {
    static P: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut cache = P.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = cache.iter().find(|(a, _)| a == arch) {
        return p.clone();
    }
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(root().join("scripts/fetch-busybox.sh"));
    if arch != "riscv64" {
        cmd.arg(arch);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/fetch-busybox.sh: {e}"));
    assert!(
        out.status.success(),
        "scripts/fetch-busybox.sh {arch} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(p.is_file(), "fetch-busybox.sh printed {}", p.display());
    cache.push((arch.to_string(), p.clone()));
    p
}

/// The busybox applets the scripts of tests/busybox use.
const BUSYBOX_APPLETS: &[&str] = &[
    "sh",
    "ash",
    "awk",
    "sort",
    "head",
    "cut",
    "md5sum",
    "sha256sum",
    "seq",
    "expr",
    "printf",
    "ls",
    "mkdir",
    "rm",
    "cp",
    "echo",
    "kill",
    "sleep",
    "cat",
    "tr",
    "sed",
    "wc",
    "uniq",
    "gzip",
    "gunzip",
    "tar",
    "od",
    "test",
    "true",
    "false",
];

/// A directory of applet symlinks to `arch`'s busybox, used as the guest's PATH.
pub fn busybox_applet_dir(arch: &str) -> PathBuf {
    let bb = busybox(arch);
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("busybox-{arch}-applets-{}", std::process::id()));
    static MADE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.contains(&d) {
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("applet dir");
        for a in BUSYBOX_APPLETS {
            std::os::unix::fs::symlink(&bb, d.join(a)).expect("symlink");
        }
        made.push(d.clone());
    }
    d
}

/// `arch`'s busybox with `args`, its applets on PATH.
pub fn busybox_guest(arch: &str, args: &[&str]) -> Guest {
    Guest::new(busybox(arch))
        .args(args.iter().copied())
        .env("PATH", &busybox_applet_dir(arch).to_string_lossy())
}

/// Runs tests/busybox/NAME.sh under `arch`'s busybox, compared with qemu under every tier;
/// the script must exit 0 and print something.
pub fn busybox_script(arch: &str, name: &str) {
    let path = root().join(format!("tests/busybox/{name}.sh"));
    let path_s = path.to_string_lossy().into_owned();
    let make = || busybox_guest(arch, &["sh", &path_s]).cwd(temp_dir(&format!("bb-{arch}-{name}")));
    let out = check_with(
        &format!("{arch} busybox sh {name}.sh"),
        &make,
        &Check::default(),
    );
    assert_eq!(out.status, Status::Exit(0), "{name}.sh status");
    assert!(!out.stdout.is_empty());
}
