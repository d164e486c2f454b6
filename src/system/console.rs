//! The guest's serial console on heron's stdin/stdout: a reader thread feeds stdin to the
//! UART, interpreting the Ctrl-A escapes (Ctrl-A x quits, Ctrl-A h prints help, Ctrl-A
//! Ctrl-A sends one Ctrl-A); stdout receives the UART's output unbuffered. When stdin is a
//! terminal it is put in raw mode, and [`restore_terminal`] (called on every exit path:
//! normal exit, errors, panics, SIGTERM/SIGHUP) puts it back. Over pipes (CI) nothing
//! changes except that end of input just stops the reader.

use std::io::Write;
use std::sync::Mutex;

const CTRL_A: u8 = 0x01;

/// What the console input means after escape processing.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// Bytes for the guest.
    Data(Vec<u8>),
    /// Ctrl-A x.
    Quit,
    /// Ctrl-A h (or an unknown escape): print the help.
    Help,
}

/// The Ctrl-A escape state machine (kept across reads: the escape may be split).
#[derive(Default)]
pub struct EscapeFilter {
    after_ctrl_a: bool,
}

impl EscapeFilter {
    pub fn feed(&mut self, input: &[u8]) -> Vec<ConsoleEvent> {
        let mut out = vec![];
        let mut data = vec![];
        for &b in input {
            if self.after_ctrl_a {
                self.after_ctrl_a = false;
                match b {
                    CTRL_A | b'a' => data.push(CTRL_A),
                    b'x' | b'X' => {
                        if !data.is_empty() {
                            out.push(ConsoleEvent::Data(std::mem::take(&mut data)));
                        }
                        out.push(ConsoleEvent::Quit);
                        return out;
                    }
                    _ => {
                        if !data.is_empty() {
                            out.push(ConsoleEvent::Data(std::mem::take(&mut data)));
                        }
                        out.push(ConsoleEvent::Help);
                    }
                }
            } else if b == CTRL_A {
                self.after_ctrl_a = true;
            } else {
                data.push(b);
            }
        }
        if !data.is_empty() {
            out.push(ConsoleEvent::Data(data));
        }
        out
    }
}

pub const ESCAPE_HELP: &str = "\r\nheron console escapes (Ctrl-A then):\r\n\
    \x20 h       show this help\r\n\
    \x20 x       quit heron\r\n\
    \x20 Ctrl-A  send a Ctrl-A to the guest\r\n";

/// The terminal settings to restore, when stdin is a terminal in raw mode.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Puts stdin in raw mode if it is a terminal (no echo, no line editing, no signals from
/// Ctrl-C: everything goes to the guest). Returns whether it did.
pub fn enter_raw_mode() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } != 1 {
        return false;
    }
    // SAFETY: termios is plain data; tcgetattr fills it or fails.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a termios.
    if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
        return false;
    }
    let saved = t;
    // SAFETY: cfmakeraw only edits the struct.
    unsafe { libc::cfmakeraw(&mut t) };
    // Keep output post-processing off as well (the guest sends CR LF itself).
    // SAFETY: valid termios pointer.
    if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
        return false;
    }
    *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(saved);
    install_restore_handlers();
    true
}

/// Restores the terminal settings saved by [`enter_raw_mode`], if any. Idempotent.
pub fn restore_terminal() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(t) = saved {
        // SAFETY: t is a termios obtained from tcgetattr.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
    }
}

/// A copy of the saved settings readable from a signal handler without locking.
static mut SIGNAL_COPY: Option<libc::termios> = None;

extern "C" fn on_fatal_signal(sig: libc::c_int) {
    // SAFETY: SIGNAL_COPY is written once before the handler is installed and never
    // again; tcsetattr and _exit are async-signal-safe.
    unsafe {
        let p = &raw const SIGNAL_COPY;
        if let Some(t) = &*p {
            libc::tcsetattr(0, libc::TCSANOW, t);
        }
        libc::_exit(128 + sig);
    }
}

fn install_restore_handlers() {
    let saved = *SAVED.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: single write before any handler that reads it is installed.
    unsafe {
        let p = &raw mut SIGNAL_COPY;
        *p = saved;
    }
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installing a handler that only calls async-signal-safe functions.
        unsafe { libc::signal(sig, on_fatal_signal as *const () as libc::sighandler_t) };
    }
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev(info);
    }));
}

/// The UART's output sink: heron's stdout, written through at once (prompts without a
/// newline must appear).
pub struct StdoutSink;

impl Write for StdoutSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = std::io::stdout().lock();
        out.write_all(buf)?;
        out.flush()?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// Starts the stdin reader thread. `input` receives guest bytes; `quit` runs on Ctrl-A x.
pub fn spawn_reader(
    input: impl Fn(&[u8]) + Send + 'static,
    quit: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("console".into())
        .spawn(move || {
            let mut filter = EscapeFilter::default();
            let mut buf = [0u8; 256];
            loop {
                // SAFETY: reading into a stack buffer of the given length.
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return;
                }
                if n == 0 {
                    return; // end of input: the guest keeps running
                }
                for ev in filter.feed(&buf[..n as usize]) {
                    match ev {
                        ConsoleEvent::Data(d) => input(&d),
                        ConsoleEvent::Help => {
                            let _ = StdoutSink.write_all(ESCAPE_HELP.as_bytes());
                        }
                        ConsoleEvent::Quit => {
                            quit();
                            return;
                        }
                    }
                }
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut f = EscapeFilter::default();
        assert_eq!(f.feed(b"ls\r"), [ConsoleEvent::Data(b"ls\r".to_vec())]);
        assert_eq!(
            f.feed(b"a\x01\x01b"),
            [ConsoleEvent::Data(b"a\x01b".to_vec())]
        );
        assert_eq!(
            f.feed(b"x\x01h"),
            [ConsoleEvent::Data(b"x".to_vec()), ConsoleEvent::Help]
        );
        // Split across reads.
        assert_eq!(f.feed(b"q\x01"), [ConsoleEvent::Data(b"q".to_vec())]);
        assert_eq!(f.feed(b"xrest"), [ConsoleEvent::Quit]);
        let mut f = EscapeFilter::default();
        assert_eq!(f.feed(b"\x01?"), [ConsoleEvent::Help]);
        assert_eq!(f.feed(b"\x03"), [ConsoleEvent::Data(vec![3])]);
    }
}
