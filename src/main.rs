//! The `heron` binary: command-line entry (`heron run`, `heron system`, the `heron-riscv64`
//! alias), logging setup, and process exit. Linux user mode lives in [`linux`].

mod cli;
mod gdb;
mod linux;
mod logging;
mod system;

use clap::Parser;
use std::path::PathBuf;
use std::sync::OnceLock;

static HERON_EXE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Absolute path of the running heron binary (for execve of guest programs).
pub fn heron_exe() -> Option<PathBuf> {
    HERON_EXE
        .get_or_init(|| std::env::current_exe().ok())
        .clone()
}

/// Flush anything buffered before the process ends or execs.
pub fn flush_logs() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// End the whole process with the guest's exit code (exit_group or last thread's exit).
pub fn exit_process(code: i32) -> ! {
    linux::icount::log_total();
    gdb::report_exit(code, None);
    flush_logs();
    // SAFETY: _exit ends the process immediately; other guest threads may still be
    // running, so no Rust destructors or atexit handlers must run.
    unsafe { libc::_exit(code & 0xff) }
}

/// mimalloc instead of glibc's malloc: a boot allocates ~100 MB of translations per hart
/// from three threads, which glibc serves from per-thread arenas grown one page (one
/// `mprotect`) at a time. Measured side by side (docs/system-mode.md): 5-10% off a boot.
/// `no_thp`: mimalloc's own memory without transparent huge pages (with them, a boot spent
/// more system time than it saved).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let _ = heron_exe();
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(args) = cli::system_args(&raw) {
        match args {
            Ok(rest) => system::main(rest),
            Err(e) => {
                eprintln!("heron: {}", e.msg);
                std::process::exit(e.status);
            }
        }
    }
    let argv = cli::normalize_argv(raw);
    let parsed = match cli::Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    std::process::exit(
                        if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                            2
                        } else {
                            0
                        },
                    );
                }
                _ => {
                    eprintln!("{}", cli::one_line_clap_error(&e));
                    std::process::exit(2);
                }
            }
        }
    };
    match parsed.command {
        cli::Command::System { .. } => {
            // Handled by cli::system_args before clap; reached only without arguments.
            eprintln!(
                "heron: system: usage: heron system riscv64 [QEMU options] (-help lists them)"
            );
            std::process::exit(2);
        }
        cli::Command::Run(args) => {
            let host_env: Vec<(Vec<u8>, Vec<u8>)> = std::env::vars_os()
                .map(|(k, v)| {
                    use std::os::unix::ffi::OsStrExt;
                    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
                })
                .collect();
            let look = |k: &str| std::env::var(k).ok();
            let cfg = match cli::resolve_run(*args, &look, host_env) {
                Ok(cli::RunRequest::Run(c)) => c,
                Ok(cli::RunRequest::Print(s)) => {
                    print!("{s}");
                    std::process::exit(0);
                }
                Err(e) => {
                    eprintln!("heron: {}", e.msg);
                    std::process::exit(e.status);
                }
            };
            let mut targets: Vec<&str> = cfg
                .log_items
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "nochain")
                .collect();
            if cfg.strace && !targets.contains(&"strace") {
                targets.push("strace");
            }
            if let Err(m) = logging::init(&targets, cfg.log_file.as_deref(), cfg.log_append) {
                eprintln!("{m}");
                std::process::exit(1);
            }
            if cfg.perfmap
                && let Err(e) = heron_backend::jit::perfmap::enable()
            {
                eprintln!("heron: -perfmap: {e}");
                std::process::exit(1);
            }
            match linux::run(*cfg) {
                Ok(never) => match never {},
                Err(msg) => {
                    eprintln!("{msg}");
                    std::process::exit(1);
                }
            }
        }
    }
}
