//! Logging setup for `-d`/`-D`: enables the engine's trace targets (in_asm, op, out_asm, exec,
//! stats) and the user mode's `strace` target at INFO, and prints only each event's message,
//! to stderr or to the log file.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// Event formatter that writes the message (and any other fields) with no decoration.
struct MessageOnly;

impl<S, N> FormatEvent<S, N> for MessageOnly
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Install the global subscriber. `targets` are the enabled targets (log items that are not
/// trace targets, like `nochain`, are ignored here). Returns an error message for `-D` files
/// that cannot be created.
pub fn init(targets: &[&str], file: Option<&Path>, append: bool) -> Result<(), String> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut filter = Targets::new();
    for t in targets {
        filter = filter.with_target(*t, tracing::Level::INFO);
    }
    let layer = tracing_subscriber::fmt::layer()
        .event_format(MessageOnly)
        .with_ansi(false);
    match file {
        Some(path) => {
            // Always O_APPEND: forked children and re-executed herons (`append`, which
            // must not truncate) write to the same file without overwriting each other.
            let f = if append {
                Ok(())
            } else {
                File::create(path).map(drop)
            }
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
            });
            let f = f.map_err(|e| format!("heron: -D {}: {e}", path.display()))?;
            let f = Arc::new(Mutex::new(f));
            let layer = layer.with_writer(move || LockedFile(f.clone()));
            tracing_subscriber::registry()
                .with(layer.with_filter(filter))
                .try_init()
                .map_err(|e| format!("heron: logging: {e}"))
        }
        None => tracing_subscriber::registry()
            .with(layer.with_writer(std::io::stderr).with_filter(filter))
            .try_init()
            .map_err(|e| format!("heron: logging: {e}")),
    }
}

/// A shared log file; each event is written with one `write` under the lock.
struct LockedFile(Arc<Mutex<File>>);

impl std::io::Write for LockedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}
