//! The `heron` command line: qemu-user style argument preprocessing (single-dash long options,
//! options end at PROGRAM), the clap definition, and the merge with the QEMU_* / HERON_*
//! environment variables into one [`RunConfig`].

use clap::{Parser, Subcommand};
use heron_backend::engine::{Tier, Trace};
use std::ffi::OsString;
use std::path::PathBuf;

/// Log items accepted by `-d` (and QEMU_LOG), with their help text.
pub const LOG_ITEMS: &[(&str, &str)] = &[
    ("in_asm", "show guest instructions of each translated block"),
    ("op", "show the IR of each translated block"),
    ("out_asm", "show the host code generated for each block"),
    ("exec", "show each executed block"),
    ("nochain", "do not chain compiled blocks"),
    (
        "cpu",
        "show the guest registers at each block entry (disables chaining)",
    ),
    ("int", "show exceptions, signals and interrupts"),
    ("mmu", "show page walks and TLB fills (system mode)"),
    (
        "icount",
        "count guest instructions; print the process total at exit",
    ),
    (
        "memtrace",
        "show every guest memory access (pc, kind, size, address)",
    ),
    ("stats", "print engine statistics at exit"),
    ("strace", "log system calls (same as -strace)"),
];

/// CPU models accepted by `-cpu`.
pub const CPU_MODELS: &[&str] = &["rv64", "any", "max"];

/// Default guest stack size (bytes).
pub const DEFAULT_STACK_SIZE: u64 = 8 << 20;

#[derive(Parser, Debug)]
#[command(
    name = "heron",
    version,
    about = "heron: a dynamic binary translator (Linux user mode for RISC-V 64 programs)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a Linux program of another architecture (riscv64, aarch64) in user mode.
    Run(Box<RunArgs>),
    /// Full-system emulation: `heron system riscv64 [qemu-system-riscv64 options]`
    /// (also installed as `heron-system-riscv64`; `-help` lists the options).
    System {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// Prefix for the ELF interpreter and absolute guest paths (QEMU_LD_PREFIX).
    #[arg(short = 'L', value_name = "PATH")]
    pub ld_prefix: Option<PathBuf>,
    /// Set VAR=VAL in the guest environment (repeatable; QEMU_SET_ENV).
    #[arg(short = 'E', value_name = "VAR=VAL")]
    pub set_env: Vec<String>,
    /// Remove VAR from the guest environment (repeatable; QEMU_UNSET_ENV).
    #[arg(short = 'U', value_name = "VAR")]
    pub unset_env: Vec<String>,
    /// CPU model: rv64, any or max (QEMU_CPU).
    #[arg(long = "cpu", value_name = "NAME")]
    pub cpu: Option<String>,
    /// Comma-separated log items (`-d help` lists them; QEMU_LOG).
    #[arg(short = 'd', value_name = "ITEMS")]
    pub log_items: Option<String>,
    /// Write logs to FILE instead of stderr (QEMU_LOG_FILENAME).
    #[arg(short = 'D', value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Append to the -D file instead of truncating it (used when heron re-executes itself).
    #[arg(long = "log-append", hide = true)]
    pub log_append: bool,
    /// Log system calls (QEMU_STRACE).
    #[arg(long = "strace")]
    pub strace: bool,
    /// Wait for a gdb connection on PORT before the first instruction (QEMU_GDB).
    #[arg(short = 'g', value_name = "PORT")]
    pub gdb: Option<String>,
    /// argv[0] for the guest program.
    #[arg(short = '0', value_name = "ARGV0")]
    pub argv0: Option<String>,
    /// Guest stack size, with optional k/M/G suffix (QEMU_STACK_SIZE).
    #[arg(short = 's', value_name = "SIZE")]
    pub stack_size: Option<String>,
    /// Execution tier: interp, jit or auto (HERON_TIER).
    #[arg(long = "tier", value_name = "TIER")]
    pub tier: Option<String>,
    /// Executions of a block before the auto tier compiles it.
    #[arg(long = "jit-threshold", value_name = "N")]
    pub jit_threshold: Option<u32>,
    /// The guest program followed by its arguments.
    #[arg(trailing_var_arg = true, value_name = "PROGRAM [ARGS]")]
    pub program: Vec<OsString>,
}

/// Options of `heron run` that take a value, by canonical clap spelling. Single-dash long
/// spellings (`-cpu`) are rewritten to the double-dash ones.
const VALUE_OPTS: &[&str] = &[
    "-L",
    "-E",
    "-U",
    "--cpu",
    "-d",
    "-D",
    "-g",
    "-0",
    "-s",
    "--tier",
    "--jit-threshold",
];
const FLAG_OPTS: &[&str] = &[
    "--strace",
    "--log-append",
    "-h",
    "--help",
    "-V",
    "--version",
];
const LONG_NAMES: &[&str] = &[
    "cpu",
    "strace",
    "log-append",
    "tier",
    "jit-threshold",
    "help",
    "version",
];

/// Canonical spelling of an option word (without any `=value`), or None if unknown.
fn canonical(word: &str) -> Option<String> {
    if VALUE_OPTS.contains(&word) || FLAG_OPTS.contains(&word) {
        return Some(word.to_string());
    }
    if let Some(name) = word.strip_prefix('-')
        && !name.starts_with('-')
        && LONG_NAMES.contains(&name)
    {
        return Some(format!("--{name}"));
    }
    None
}

/// Rewrite the arguments that follow `run` so clap can parse them: single-dash long options
/// become double-dash, and a `--` is inserted before PROGRAM so that everything from PROGRAM
/// on reaches the guest untouched. Unknown options are left for clap to reject.
pub fn preprocess_run_args(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let Some(s) = a.to_str() else {
            // Not UTF-8: cannot be an option, so it is PROGRAM.
            break;
        };
        if s == "--" {
            break;
        }
        if !s.starts_with('-') || s == "-" {
            break;
        }
        let (word, value) = match s.split_once('=') {
            Some((w, v))
                if w.starts_with("--") || canonical(w).is_some_and(|c| c.starts_with("--")) =>
            {
                (w, Some(v))
            }
            _ => (s, None),
        };
        match canonical(word) {
            Some(c) => {
                let takes_value = VALUE_OPTS.contains(&c.as_str());
                match value {
                    Some(v) => out.push(OsString::from(format!("{c}={v}"))),
                    None => {
                        out.push(OsString::from(&c));
                        if takes_value && i + 1 < args.len() {
                            i += 1;
                            out.push(args[i].clone());
                        }
                    }
                }
            }
            // Attached short values (`-Lpath`) and unknown options: clap decides. An
            // unknown single-dash word is shown to clap as a long option, so the error
            // names it whole.
            None => {
                let attached = s.len() > 2
                    && !s.starts_with("--")
                    && VALUE_OPTS.iter().any(|o| o.len() == 2 && s.starts_with(o));
                if !attached && s.len() > 2 && !s.starts_with("--") {
                    out.push(OsString::from(format!("-{s}")));
                } else {
                    out.push(a.clone());
                }
            }
        }
        i += 1;
    }
    if i < args.len() {
        out.push(OsString::from("--"));
        let start = if args[i] == "--" { i + 1 } else { i };
        out.extend(args[start..].iter().cloned());
    }
    out
}

/// Turn the raw process arguments into the argument list clap sees: handles the
/// `heron-riscv64` and `heron-aarch64` aliases (behave as `heron run`; the ELF machine picks the guest) and the `run` preprocessing.
pub fn normalize_argv(argv: Vec<OsString>) -> Vec<OsString> {
    let Some(first) = argv.first() else {
        return vec![OsString::from("heron")];
    };
    let base = std::path::Path::new(first)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = vec![OsString::from("heron")];
    let rest: &[OsString];
    if base.starts_with("heron-riscv64") || base.starts_with("heron-aarch64") {
        // `heron-riscv64 --version`/`--help` still answer about heron.
        if argv.len() == 2 && (argv[1] == "--version" || argv[1] == "-V") {
            out.push(argv[1].clone());
            return out;
        }
        out.push(OsString::from("run"));
        rest = &argv[1..];
    } else if argv.get(1).is_some_and(|a| a == "run") {
        out.push(OsString::from("run"));
        rest = &argv[2..];
    } else {
        out.extend(argv[1..].iter().cloned());
        return out;
    }
    out.extend(preprocess_run_args(rest));
    out
}

/// The arguments after `heron system riscv64` or `heron-system-riscv64` (None: not a
/// system-mode command line). An unsupported machine architecture is an error.
pub fn system_args(argv: &[OsString]) -> Option<Result<&[OsString], CliError>> {
    let base = std::path::Path::new(argv.first()?)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base.starts_with("heron-system-riscv64") {
        return Some(Ok(&argv[1..]));
    }
    if argv.get(1).is_none_or(|a| a != "system") {
        return None;
    }
    match argv.get(2).and_then(|a| a.to_str()) {
        Some("riscv64") => Some(Ok(&argv[3..])),
        None => None, // `heron system`: clap prints the usage
        Some(a) if a.starts_with('-') => None,
        Some(a) => Some(Err(CliError::usage(format!(
            "system: unsupported architecture '{a}' (supported: riscv64)"
        )))),
    }
}

/// A user error of the command line: message and exit status.
#[derive(Debug)]
pub struct CliError {
    pub msg: String,
    pub status: i32,
}

impl CliError {
    fn usage(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            status: 2,
        }
    }
}

/// Everything `heron run` needs, after merging flags and environment variables.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub program: PathBuf,
    /// Guest argv (argv[0] already replaced by `-0`).
    pub argv: Vec<Vec<u8>>,
    /// Guest environment as `VAR=VAL` byte strings.
    pub envp: Vec<Vec<u8>>,
    pub ld_prefix: Option<PathBuf>,
    pub trace: Trace,
    pub strace: bool,
    /// Raw -d item list (for re-exec).
    pub log_items: Vec<String>,
    pub log_file: Option<PathBuf>,
    /// Open the log file for appending (set by a re-executing heron).
    pub log_append: bool,
    pub tier: Tier,
    pub tier_name: String,
    pub jit_threshold: Option<u32>,
    pub stack_size: u64,
    /// `-g PORT`: wait for gdb on this TCP port before the first instruction.
    pub gdb: Option<String>,
}

/// Parse a size with an optional k/M/G suffix (binary multiples).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Parse a `-d` item list. Returns the items (validated) or an error naming the bad one.
pub fn parse_log_items(s: &str) -> Result<Vec<String>, CliError> {
    let mut items = Vec::new();
    for it in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        if !LOG_ITEMS.iter().any(|(n, _)| *n == it) {
            return Err(CliError::usage(format!(
                "-d: unknown log item '{it}' (try -d help)"
            )));
        }
        items.push(it.to_string());
    }
    Ok(items)
}

pub fn log_items_help() -> String {
    let mut s = String::from("Log items (comma separated):\n");
    for (n, h) in LOG_ITEMS {
        s.push_str(&format!("{n:<10} {h}\n"));
    }
    s
}

fn parse_tier(s: &str) -> Result<Tier, CliError> {
    match s {
        "interp" => Ok(Tier::Interp),
        "jit" => Ok(Tier::Jit),
        "auto" => Ok(Tier::Auto),
        _ => Err(CliError::usage(format!(
            "--tier: unknown tier '{s}' (expected interp, jit or auto)"
        ))),
    }
}

/// Outcome of resolving the run arguments: either run, or print something and exit 0.
pub enum RunRequest {
    Run(Box<RunConfig>),
    Print(String),
}

/// Merge the parsed flags with the environment (`env` gives variable lookup, so tests can
/// supply their own). Flags win over environment variables.
pub fn resolve_run(
    args: RunArgs,
    env: &dyn Fn(&str) -> Option<String>,
    host_env: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<RunRequest, CliError> {
    let log_spec = args.log_items.clone().or_else(|| env("QEMU_LOG"));
    if log_spec.as_deref() == Some("help") {
        return Ok(RunRequest::Print(log_items_help()));
    }
    let cpu = args.cpu.clone().or_else(|| env("QEMU_CPU"));
    if let Some(c) = &cpu {
        if c == "help" {
            return Ok(RunRequest::Print(format!(
                "Available CPUs: {}\n",
                CPU_MODELS.join(" ")
            )));
        }
        if !CPU_MODELS.contains(&c.as_str()) {
            return Err(CliError::usage(format!(
                "-cpu: unknown CPU model '{c}' (available: {})",
                CPU_MODELS.join(", ")
            )));
        }
    }
    let gdb = args.gdb.clone().or_else(|| env("QEMU_GDB"));
    if let Some(p) = &gdb
        && p.trim().trim_start_matches("tcp::").parse::<u16>().is_err()
    {
        return Err(CliError::usage(format!("-g: invalid port '{p}'")));
    }
    let items = match &log_spec {
        Some(s) => parse_log_items(s)?,
        None => Vec::new(),
    };
    let mut trace = Trace::default();
    let mut strace = args.strace || env("QEMU_STRACE").is_some();
    for it in &items {
        match it.as_str() {
            "in_asm" => trace.in_asm = true,
            "op" => trace.op = true,
            "out_asm" => trace.out_asm = true,
            "exec" => trace.exec = true,
            "nochain" => trace.nochain = true,
            "stats" => trace.stats = true,
            "cpu" => trace.cpu = true,
            "int" => trace.int = true,
            "mmu" => trace.mmu = true,
            "icount" => trace.icount = true,
            "memtrace" => trace.memtrace = true,
            "strace" => strace = true,
            _ => {}
        }
    }
    let tier_name = args
        .tier
        .clone()
        .or_else(|| env("HERON_TIER"))
        .unwrap_or_else(|| "auto".to_string());
    let tier = parse_tier(&tier_name)?;
    let stack_size = match args.stack_size.clone().or_else(|| env("QEMU_STACK_SIZE")) {
        Some(s) => match parse_size(&s) {
            Some(v) if (64 << 10..=1 << 34).contains(&v) => v.div_ceil(4096) * 4096,
            _ => {
                return Err(CliError::usage(format!(
                    "-s: invalid stack size '{s}' (64k to 16G)"
                )));
            }
        },
        None => DEFAULT_STACK_SIZE,
    };
    let Some((prog, rest)) = args.program.split_first() else {
        return Err(CliError::usage(
            "no program given (usage: heron run [OPTIONS] PROGRAM [ARGS...])",
        ));
    };
    let program = PathBuf::from(prog);
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.program.len());
    use std::os::unix::ffi::OsStrExt;
    argv.push(match &args.argv0 {
        Some(a) => a.as_bytes().to_vec(),
        None => prog.as_bytes().to_vec(),
    });
    argv.extend(rest.iter().map(|a| a.as_bytes().to_vec()));

    // Guest environment: heron's own, then QEMU_SET_ENV/-E, then QEMU_UNSET_ENV/-U.
    let mut envp: Vec<(Vec<u8>, Vec<u8>)> = host_env;
    let mut sets: Vec<String> = Vec::new();
    if let Some(s) = env("QEMU_SET_ENV") {
        sets.extend(s.split(',').filter(|x| !x.is_empty()).map(String::from));
    }
    sets.extend(args.set_env.iter().cloned());
    for s in sets {
        let Some((k, v)) = s.split_once('=') else {
            return Err(CliError::usage(format!(
                "-E: expected VAR=VALUE, got '{s}'"
            )));
        };
        envp.retain(|(ek, _)| ek != k.as_bytes());
        envp.push((k.as_bytes().to_vec(), v.as_bytes().to_vec()));
    }
    let mut unsets: Vec<String> = Vec::new();
    if let Some(s) = env("QEMU_UNSET_ENV") {
        unsets.extend(s.split(',').filter(|x| !x.is_empty()).map(String::from));
    }
    unsets.extend(args.unset_env.iter().cloned());
    for u in unsets {
        envp.retain(|(ek, _)| ek != u.as_bytes());
    }
    let envp = envp
        .into_iter()
        .map(|(mut k, v)| {
            k.push(b'=');
            k.extend(v);
            k
        })
        .collect();

    Ok(RunRequest::Run(Box::new(RunConfig {
        program,
        argv,
        envp,
        ld_prefix: args
            .ld_prefix
            .clone()
            .or_else(|| env("QEMU_LD_PREFIX").map(PathBuf::from)),
        trace,
        strace,
        log_items: items,
        log_file: args
            .log_file
            .clone()
            .or_else(|| env("QEMU_LOG_FILENAME").map(PathBuf::from)),
        log_append: args.log_append,
        tier,
        tier_name,
        jit_threshold: args.jit_threshold,
        stack_size,
        gdb,
    })))
}

/// Render a clap error as one line (`heron: ...`) for the user.
pub fn one_line_clap_error(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    let first = first.trim().trim_start_matches("error: ");
    format!("heron: {first}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }
    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn single_dash_long_options_and_program_boundary() {
        let out = preprocess_run_args(&os(&[
            "-cpu", "max", "-strace", "-L", "/sys", "-tier", "interp", "prog", "-cpu", "x",
            "--tier",
        ]));
        assert_eq!(
            strs(&out),
            [
                "--cpu", "max", "--strace", "-L", "/sys", "--tier", "interp", "--", "prog", "-cpu",
                "x", "--tier"
            ]
        );
    }

    #[test]
    fn equals_forms_and_double_dash() {
        let out = preprocess_run_args(&os(&["--tier=jit", "-jit-threshold=5", "--", "-prog"]));
        assert_eq!(
            strs(&out),
            ["--tier=jit", "--jit-threshold=5", "--", "-prog"]
        );
        let out = preprocess_run_args(&os(&["-d", "in_asm,op", "-E", "A=B", "p"]));
        assert_eq!(strs(&out), ["-d", "in_asm,op", "-E", "A=B", "--", "p"]);
    }

    #[test]
    fn alias_and_subcommand() {
        let out = normalize_argv(os(&["/usr/bin/heron-riscv64", "-strace", "a.out", "x"]));
        assert_eq!(strs(&out), ["heron", "run", "--strace", "--", "a.out", "x"]);
        let out = normalize_argv(os(&["heron", "--version"]));
        assert_eq!(strs(&out), ["heron", "--version"]);
        let cli = Cli::try_parse_from(normalize_argv(os(&[
            "heron", "run", "-E", "A=1", "-E", "B=2", "-cpu", "rv64", "prog", "-E", "x",
        ])))
        .unwrap();
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        assert_eq!(r.set_env, ["A=1", "B=2"]);
        assert_eq!(r.cpu.as_deref(), Some("rv64"));
        assert_eq!(strs(&r.program), ["prog", "-E", "x"]);
    }

    #[test]
    fn unknown_option_is_a_usage_error() {
        let e = Cli::try_parse_from(normalize_argv(os(&["heron", "run", "-bogus", "prog"])))
            .unwrap_err();
        let line = one_line_clap_error(&e);
        assert!(line.starts_with("heron: "), "{line}");
        assert!(line.contains("--bogus"), "names the option: {line}");
        assert!(!line.contains('\n'));
        assert_eq!(e.exit_code(), 2);
    }

    fn resolve(v: &[&str], env: &[(&str, &str)]) -> Result<RunRequest, CliError> {
        let cli = Cli::try_parse_from(normalize_argv(os(v))).unwrap();
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let look = move |k: &str| env.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone());
        resolve_run(
            *r,
            &look,
            vec![
                (b"HOME".to_vec(), b"/h".to_vec()),
                (b"X".to_vec(), b"1".to_vec()),
            ],
        )
    }

    #[test]
    fn log_append_flag_for_reexec() {
        let run = |v: &[&str]| match resolve(v, &[]) {
            Ok(RunRequest::Run(c)) => (c.log_file.clone(), c.log_append, c.strace),
            _ => panic!("not run"),
        };
        assert_eq!(
            run(&["heron", "run", "-D", "/l", "--log-append", "--strace", "p"]),
            (Some(PathBuf::from("/l")), true, true)
        );
        assert_eq!(
            run(&["heron", "run", "-D", "/l", "p", "--log-append"]),
            (Some(PathBuf::from("/l")), false, false)
        );
    }

    #[test]
    fn resolve_merges_env_and_flags() {
        let RunRequest::Run(c) = resolve(
            &[
                "heron", "run", "-U", "X", "-E", "Y=2", "-0", "zero", "-s", "1M", "p", "a",
            ],
            &[("QEMU_LOG", "in_asm,strace"), ("HERON_TIER", "interp")],
        )
        .ok()
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.argv, [b"zero".to_vec(), b"a".to_vec()]);
        assert_eq!(c.envp, [b"HOME=/h".to_vec(), b"Y=2".to_vec()]);
        assert!(c.trace.in_asm && c.strace && !c.trace.op);
        assert!(matches!(c.tier, Tier::Interp));
        assert_eq!(c.stack_size, 1 << 20);
    }

    #[test]
    fn resolve_rejects_bad_values() {
        assert!(resolve(&["heron", "run", "-cpu", "rv32", "p"], &[]).is_err());
        assert!(resolve(&["heron", "run", "-d", "nope", "p"], &[]).is_err());
        assert!(resolve(&["heron", "run", "-tier", "fast", "p"], &[]).is_err());
        assert!(resolve(&["heron", "run", "-s", "abc", "p"], &[]).is_err());
        let e = resolve(&["heron", "run", "-g", "12x", "p"], &[])
            .err()
            .unwrap();
        assert_eq!(e.status, 2);
        assert!(e.msg.contains("invalid port"));
        match resolve(&["heron", "run", "p"], &[("QEMU_GDB", "1234")]) {
            Ok(RunRequest::Run(c)) => assert_eq!(c.gdb.as_deref(), Some("1234")),
            _ => panic!("QEMU_GDB not taken"),
        }
        assert!(matches!(
            resolve(&["heron", "run", "-d", "help", "p"], &[]),
            Ok(RunRequest::Print(_))
        ));
    }

    #[test]
    fn observability_items_set_the_trace() {
        let RunRequest::Run(c) = resolve(
            &["heron", "run", "-d", "cpu,int,mmu,icount,memtrace", "p"],
            &[],
        )
        .ok()
        .unwrap() else {
            panic!()
        };
        let t = &c.trace;
        assert!(t.cpu && t.int && t.mmu && t.icount && t.memtrace && !t.exec);
        let help = log_items_help();
        for item in ["cpu", "int", "mmu", "icount", "memtrace", "stats"] {
            assert!(help.contains(&format!("\n{item} ")), "{item} in {help}");
        }
    }

    #[test]
    fn system_command_lines() {
        let v = os(&["heron", "system", "riscv64", "-M", "virt"]);
        assert_eq!(strs(system_args(&v).unwrap().unwrap()), ["-M", "virt"]);
        let v = os(&["/usr/bin/heron-system-riscv64", "-smp", "2"]);
        assert_eq!(strs(system_args(&v).unwrap().unwrap()), ["-smp", "2"]);
        let v = os(&["heron", "system", "aarch64"]);
        let e = system_args(&v).unwrap().unwrap_err();
        assert!(e.msg.contains("aarch64") && e.status == 2);
        assert!(system_args(&os(&["heron", "run", "x"])).is_none());
        assert!(system_args(&os(&["heron", "system"])).is_none());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("100k"), Some(100 << 10));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("x"), None);
    }
}
