//! The gdb stub driven by Debian's gdb-multiarch in batch mode (`-batch -nx`, under a
//! deadline so a hang fails the test instead of blocking CI): break at a function, check
//! its arguments, step by line and by instruction, read registers, watch a global, continue
//! to the exit; on the interpreter and the JIT tier.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(90);

fn gdb_bin() -> std::path::PathBuf {
    common::which("gdb-multiarch")
        .expect("gdb-multiarch is not installed: run scripts/install-deps.sh")
}

/// Wait for `child` until the deadline; kill it on timeout.
fn wait_deadline(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start heron with `-g 0` (a free port) on `prog`; returns it once it is listening, with
/// the port it chose.
fn start_heron(tier: &str, prog: &Path, args: &[&str]) -> (Child, u16) {
    let mut h = Command::new(common::heron())
        .args(["run", "--tier", tier, "-g", "0"])
        .arg(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(h.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("heron: waiting for gdb on port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("heron said: {line}"));
    assert_ne!(port, 0);
    (h, port)
}

/// Run a gdb script against a fresh heron; returns (gdb output, heron stdout, heron status).
fn session(tier: &str, prog: &Path, script: &str) -> (String, String, Option<i32>) {
    let (mut h, port) = start_heron(tier, prog, &[]);
    let mut full = format!("set pagination off\nset confirm off\ntarget remote 127.0.0.1:{port}\n");
    full.push_str(script);
    let dir = std::env::temp_dir().join(format!("heron-gdb-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cmds = dir.join("cmds.gdb");
    std::fs::write(&cmds, full).unwrap();
    let mut g = Command::new(gdb_bin())
        .args(["-batch", "-nx", "-x"])
        .arg(&cmds)
        .arg(prog)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut gout = g.stdout.take().unwrap();
    let mut gerr = g.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut gout, &mut s).unwrap();
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut gerr, &mut s).unwrap();
        s
    });
    wait_deadline(&mut g, "gdb");
    let hs = wait_deadline(&mut h, "heron");
    let mut out = t1.join().unwrap();
    out.push_str(&t2.join().unwrap());
    let mut hout = String::new();
    std::io::Read::read_to_string(&mut h.stdout.take().unwrap(), &mut hout).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (out, hout, hs.code())
}

fn expect(out: &str, needles: &[&str]) {
    let mut rest = out;
    for n in needles {
        match rest.find(n) {
            Some(i) => rest = &rest[i + n.len()..],
            None => panic!("gdb output lacks {n:?} (in this order); full output:\n{out}"),
        }
    }
}

const SESSION: &str = "\
break scale_add
continue
info args
next
print r
stepi
info registers pc
print/x $pc == (long)&scale_add + 0
print $a0
continue
print a
watch counter
continue
delete
continue
";

#[test]
fn break_step_watch_and_exit_in_both_tiers() {
    let prog = common::guest("c/gdbtarget");
    for tier in ["interp", "jit"] {
        let (out, hout, code) = session(tier, &prog, SESSION);
        expect(
            &out,
            &[
                "Breakpoint 1 at",
                "Breakpoint 1, scale_add (a=10, b=7)",
                "a = 10",
                "b = 7",
                "\t    r = r + b;",
                "$1 = 30",
                "pc             0x",
                "<scale_add+",
                "$2 = 0x0",
                "Breakpoint 1, scale_add (a=11, b=7)",
                "$4 = 11",
                "Hardware watchpoint 2: counter",
                "Old value = 37",
                "New value = 40",
                "exited with code 046",
            ],
        );
        assert_eq!(hout, "total=166\n", "{tier}: guest output\n{out}");
        assert_eq!(code, Some(38), "{tier}: heron exit status\n{out}");
    }
}

#[test]
fn kill_ends_the_guest() {
    let prog = common::guest("c/gdbtarget");
    let (out, hout, code) = session("auto", &prog, "break main\ncontinue\nkill\n");
    expect(&out, &["Breakpoint 1, main", "killed"]);
    assert_eq!(hout, "", "the guest never printed:\n{out}");
    assert_eq!(code, Some(137));
}

/// A minimal remote-protocol client, for what gdb cannot do in batch mode (Ctrl-C).
struct Raw(std::net::TcpStream);

impl Raw {
    fn send(&mut self, data: &str) {
        use std::io::Write;
        let sum = data.bytes().fold(0u8, |a, b| a.wrapping_add(b));
        write!(self.0, "${data}#{sum:02x}").unwrap();
    }
    /// The next packet's payload (acknowledged; '+' acks before it are skipped).
    fn recv(&mut self) -> String {
        use std::io::{Read, Write};
        let mut byte = [0u8];
        loop {
            self.0.read_exact(&mut byte).expect("stub reply");
            if byte[0] == b'$' {
                break;
            }
        }
        let mut data = Vec::new();
        loop {
            self.0.read_exact(&mut byte).expect("stub reply");
            if byte[0] == b'#' {
                break;
            }
            data.push(byte[0]);
        }
        let mut sum = [0u8; 2];
        self.0.read_exact(&mut sum).unwrap();
        self.0.write_all(b"+").unwrap();
        // Undo run-length encoding: `X*n` repeats X (n - 29) more times.
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if data[i] == b'*' && i + 1 < data.len() {
                let last = *out.last().expect("run length after a character");
                out.extend(std::iter::repeat_n(last, (data[i + 1] - 29) as usize));
                i += 2;
            } else {
                out.push(data[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}

#[test]
fn interrupt_stops_a_running_guest() {
    let prog = common::guest("c/gdbtarget");
    for tier in ["interp", "jit"] {
        let (mut h, port) = start_heron(tier, &prog, &["spin"]);
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Raw(s);
        c.send("?");
        let first = c.recv();
        assert!(first.starts_with('T') || first.starts_with('S'), "{first}");
        c.send("vCont;c");
        std::thread::sleep(Duration::from_millis(300));
        {
            use std::io::Write;
            c.0.write_all(&[3]).unwrap();
        }
        let stop = c.recv();
        assert!(stop.starts_with("T02"), "{tier}: stop reply {stop}");
        c.send("g");
        let regs = c.recv();
        assert_eq!(regs.len(), 68 * 16, "{tier}: {regs}");
        c.send("vKill;1");
        assert_eq!(c.recv(), "OK");
        let st = wait_deadline(&mut h, "heron");
        assert_eq!(st.code(), Some(137), "{tier}");
    }
}

#[test]
fn threads_are_listed_and_stopped_together() {
    let prog = common::guest("c/threads");
    let (out, hout, code) = session(
        "auto",
        &prog,
        "break worker\ncontinue\ninfo threads\ncontinue\ninfo threads\ndelete\ncontinue\n",
    );
    expect(
        &out,
        &[
            "hit Breakpoint 1, ",
            " in worker ()",
            "Id   Target Id",
            "Thread 1.",
            "Thread 1.",
            "hit Breakpoint 1, ",
            "Id   Target Id",
            "exited normally",
        ],
    );
    // Every thread's registers could be read (also those blocked in system calls).
    assert!(!out.contains("Could not read registers"), "{out}");
    assert!(hout.ends_with("done\n"), "{hout}");
    assert_eq!(code, Some(0));
}

#[test]
fn detach_lets_the_guest_run_to_its_end() {
    let prog = common::guest("c/gdbtarget");
    let (out, hout, code) = session("auto", &prog, "break scale_add\ncontinue\ndetach\n");
    expect(&out, &["Breakpoint 1, scale_add (a=10, b=7)", "detached"]);
    assert_eq!(hout, "total=166\n", "{out}");
    assert_eq!(code, Some(38));
}
