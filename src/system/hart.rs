//! The harts of the machine: one host thread per hart running the system-mode engine,
//! the run loop (exits, traps, interrupts, WFI sleep), and the machine's life cycle.

use super::{ConsoleTarget, Outcome, Shutdown, SystemConfig};
use std::sync::Arc;

/// The ISA string of the device tree: exactly what the frontend implements.
pub const ISA_STRING: &str = "rv64imafdc_zicsr_zifencei_zihintpause_zba_zbb_zbs_sstc";
/// The paging mode the device tree announces.
pub const MMU_TYPE: &str = "riscv,sv48";

/// Builds, boots and runs one machine until it powers off or resets.
pub fn run_machine(
    cfg: &SystemConfig,
    _shutdown: Arc<Shutdown>,
    _console: &ConsoleTarget,
) -> Result<Outcome, String> {
    let board = super::build_board(
        cfg,
        Box::new(super::console::StdoutSink),
        Arc::new(|_, _| {}),
    )?;
    let _boot = super::load_images(&board, cfg)?;
    Err("system mode: the CPU is not wired yet".into())
}
