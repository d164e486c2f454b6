//! `heron system riscv64 ARGS...` (also `heron-system-riscv64 ARGS...`): full-system
//! emulation of the riscv64 `virt` board with qemu-system-riscv64's command line. This
//! module owns the glue: argument parsing ([`args`]), the console ([`console`]), the
//! physical-memory view of the board for the softmmu ([`phys`]), the harts and their run
//! loop ([`hart`]), and the machine life cycle (build, boot, power-off, reset).

pub mod args;
pub mod console;
pub mod devices;
pub mod hart;
pub mod phys;

use args::{DeviceArg, SystemConfig, SystemRequest};
use heron_machines::boot::{self, BootImages};
use heron_machines::power::PowerEvent;
use heron_machines::riscv_virt::{DriveConfig, FdtOptions, VirtBoard, VirtConfig};
use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// How one run of the machine ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Power-off (or quit from the console) with this host exit status.
    Exit(i32),
    /// The guest asked for a reset.
    Reset,
}

/// Shared between the harts, the console and the main thread: the first outcome wins.
#[derive(Default)]
pub struct Shutdown {
    outcome: Mutex<Option<Outcome>>,
    cond: Condvar,
    /// Set with the outcome: a lock-free check for the harts' run loops.
    stopping: AtomicBool,
}

impl Shutdown {
    pub fn request(&self, o: Outcome) {
        let mut g = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(o);
        }
        self.stopping.store(true, Ordering::SeqCst);
        self.cond.notify_all();
    }
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
    #[cfg(test)]
    pub fn get(&self) -> Option<Outcome> {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Waits up to `timeout` for an outcome.
    pub fn wait(&self, timeout: std::time::Duration) -> Option<Outcome> {
        let g = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = self
            .cond
            .wait_timeout_while(g, timeout, |o| o.is_none())
            .unwrap_or_else(|e| e.into_inner());
        *g
    }
}

/// Ctrl-A x was typed.
static QUIT: AtomicBool = AtomicBool::new(false);

/// Where console input goes: the UART of the machine currently running (a reset builds a
/// new board).
type ConsoleTarget = Arc<Mutex<Option<Arc<VirtBoard>>>>;

/// Entry point: parse, run, exit with the machine's status. Never returns.
pub fn main(args: &[OsString]) -> ! {
    let env = |k: &str| std::env::var(k).ok();
    let cfg = match args::parse(args, &env) {
        Ok(SystemRequest::Run(c)) => c,
        Ok(SystemRequest::Print(s)) => {
            print!("{s}");
            crate::exit_process(0);
        }
        Err(e) => {
            eprintln!("heron: {}", e.msg);
            crate::exit_process(e.status);
        }
    };
    let targets: Vec<&str> = cfg
        .log_items
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "nochain")
        .collect();
    if let Err(m) = crate::logging::init(&targets, cfg.log_file.as_deref(), false) {
        eprintln!("{m}");
        crate::exit_process(1);
    }
    let code = match run(&cfg) {
        Ok(c) => c,
        Err(msg) => {
            console::restore_terminal();
            eprintln!("heron: {msg}");
            1
        }
    };
    console::restore_terminal();
    crate::exit_process(code);
}

/// Reads a file named on the command line.
fn read_file(what: &str, p: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("{what} {}: {e}", p.display()))
}

/// Builds the board from the configuration (devices in command-line order).
pub fn build_board(
    cfg: &SystemConfig,
    uart_out: Box<dyn std::io::Write + Send>,
    dma_notify: phys::WriteNotify,
) -> Result<VirtBoard, String> {
    let mut drives = vec![];
    let mut rng = false;
    for d in &cfg.devices {
        match d {
            DeviceArg::VirtioBlk { drive } => {
                let Some(a) = cfg.drives.iter().find(|x| &x.id == drive) else {
                    return Err(format!("no -drive with id={drive}"));
                };
                drives.push(DriveConfig {
                    path: a.file.clone(),
                    id: a.id.clone(),
                    read_only: a.read_only,
                    snapshot: a.snapshot,
                });
            }
            DeviceArg::VirtioRng => rng = true,
            // devices::nics / devices::virtio_console
            DeviceArg::VirtioNet { .. }
            | DeviceArg::VirtioSerial
            | DeviceArg::VirtConsole { .. } => {}
        }
    }
    VirtBoard::new_with_dma(
        VirtConfig {
            ram_size: cfg.ram_size,
            harts: cfg.harts,
            drives,
            rng,
            virtio_console: devices::virtio_console(cfg)?,
            nics: devices::nics(cfg),
            uart_out,
        },
        move |ram| {
            Arc::new(phys::CodeAwareDma {
                ram,
                notify: dma_notify,
            })
        },
    )
    .map_err(|e| e.to_string())
}

/// Loads firmware, kernel, initrd and the device tree.
pub fn load_images(board: &VirtBoard, cfg: &SystemConfig) -> Result<boot::BootInfo, String> {
    let fw = cfg
        .bios
        .as_ref()
        .map(|p| read_file("-bios", p))
        .transpose()?;
    let kernel = cfg
        .kernel
        .as_ref()
        .map(|p| read_file("-kernel", p))
        .transpose()?;
    let initrd = cfg
        .initrd
        .as_ref()
        .map(|p| read_file("-initrd", p))
        .transpose()?;
    let images = BootImages {
        firmware: fw.as_deref(),
        kernel: kernel.as_deref(),
        initrd: initrd.as_deref(),
        fdt: FdtOptions {
            isa: hart::ISA_STRING.into(),
            mmu_type: hart::MMU_TYPE.into(),
            bootargs: cfg.append.clone(),
            initrd: None,
        },
    };
    boot::load(board, &images).map_err(|e| e.to_string())
}

/// Runs the machine until power-off, restarting it on guest resets unless `-no-reboot`.
/// Returns the host exit status.
pub fn run(cfg: &SystemConfig) -> Result<i32, String> {
    let gdb = start_gdb(cfg)?;
    let shutdown_target: ConsoleTarget = Arc::new(Mutex::new(None));
    let current_shutdown: Arc<Mutex<Option<Arc<Shutdown>>>> = Arc::new(Mutex::new(None));
    console::enter_raw_mode();
    {
        let target = shutdown_target.clone();
        let sd = current_shutdown.clone();
        console::spawn_reader(
            move |bytes| {
                if let Some(b) = &*target.lock().unwrap_or_else(|e| e.into_inner()) {
                    b.uart_input(bytes);
                }
            },
            move || {
                let g = sd.lock().unwrap_or_else(|e| e.into_inner());
                QUIT.store(true, Ordering::SeqCst);
                if let Some(s) = &*g {
                    s.request(Outcome::Exit(0));
                }
            },
        )
        .map_err(|e| format!("console: {e}"))?;
    }
    loop {
        let shutdown = Arc::new(Shutdown::default());
        {
            let mut g = current_shutdown.lock().unwrap_or_else(|e| e.into_inner());
            *g = Some(shutdown.clone());
            // Ctrl-A x typed before (or between) machines.
            if QUIT.load(Ordering::SeqCst) {
                shutdown.request(Outcome::Exit(0));
            }
        }
        let outcome = hart::run_machine(cfg, shutdown, &shutdown_target, gdb.as_ref())?;
        match outcome {
            Outcome::Exit(code) => return Ok(code),
            Outcome::Reset if cfg.no_reboot => return Ok(0),
            Outcome::Reset => {
                tracing::info!(target: "int", "guest reset: restarting the machine");
            }
        }
    }
}

/// `-s` / `-gdb DEV` / `-S`: listen for gdb (QEMU's endpoint syntax; `-gdb none` is no
/// stub). The harts start stopped with `-S` until gdb continues them; without it they run
/// and a connecting gdb stops them. Port 0 picks a free port, named on stderr. A kill from
/// gdb ends heron.
fn start_gdb(cfg: &SystemConfig) -> Result<Option<hart::GdbLink>, String> {
    let spec = cfg.gdb.as_deref().filter(|s| *s != "none");
    let Some(spec) = spec else {
        if cfg.wait_for_gdb {
            return Err("-S needs -s or -gdb (heron has no monitor to start the CPUs)".into());
        }
        return Ok(None);
    };
    let listener = crate::gdb::bind(spec).map_err(|e| format!("-gdb: {e}"))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    if spec.ends_with(":0") || spec == "0" {
        eprintln!("heron: waiting for gdb on port {port}");
    }
    let ctl = if cfg.wait_for_gdb {
        crate::gdb::Control::new()
    } else {
        crate::gdb::Control::new_running()
    };
    // exit_process tells gdb that the machine powered off.
    ctl.set_active();
    let mem = crate::gdb::riscv_sys::SysMemory::new();
    crate::gdb::spawn_server::<crate::gdb::riscv_sys::RiscvSysGdb>(
        listener,
        ctl.clone(),
        mem.clone(),
        || {
            console::restore_terminal();
            crate::exit_process(0);
        },
    )
    .map_err(|e| format!("cannot start the gdb stub thread: {e}"))?;
    Ok(Some(hart::GdbLink { ctl, mem }))
}

/// What a finisher request means for the run.
pub fn power_outcome(ev: PowerEvent) -> Outcome {
    match ev.exit_status() {
        Some(code) => Outcome::Exit(code),
        None => Outcome::Reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shutdown_first_request_wins() {
        let s = Shutdown::default();
        assert_eq!(s.wait(Duration::from_millis(1)), None);
        assert!(!s.stopping());
        s.request(Outcome::Reset);
        s.request(Outcome::Exit(3));
        assert!(s.stopping());
        assert_eq!(s.get(), Some(Outcome::Reset));
        assert_eq!(s.wait(Duration::from_secs(5)), Some(Outcome::Reset));
        assert_eq!(power_outcome(PowerEvent::PowerOff), Outcome::Exit(0));
        assert_eq!(power_outcome(PowerEvent::Fail(2)), Outcome::Exit(5));
        assert_eq!(power_outcome(PowerEvent::Reset), Outcome::Reset);
    }
}
