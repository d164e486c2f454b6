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
    let mut all: Vec<String> = ["run", "--tier", tier, "-g", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    all.push(prog.display().to_string());
    all.extend(args.iter().map(|s| s.to_string()));
    start_heron_with(&all)
}

/// Start heron with `args` (which make it listen on port 0); returns it once it is
/// listening, with the port it chose.
fn start_heron_with(args: &[String]) -> (Child, u16) {
    let mut h = Command::new(common::heron())
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
    let (h, port) = start_heron(tier, prog, &[]);
    session_on(h, port, prog, script)
}

/// Run a gdb script (symbols from `prog`) against the heron `h` listening on `port`.
fn session_on(mut h: Child, port: u16, prog: &Path, script: &str) -> (String, String, Option<i32>) {
    let mut full = format!("set pagination off\nset confirm off\ntarget remote 127.0.0.1:{port}\n");
    full.push_str(script);
    let dir = std::env::temp_dir().join(format!("heron-gdb-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cmds = dir.join("cmds.gdb");
    std::fs::write(&cmds, full).unwrap();
    let mut g = Command::new(gdb_bin());
    g.args(["-batch", "-nx", "-x"]).arg(&cmds);
    // No program: gdb learns the architecture from the target description.
    if !prog.as_os_str().is_empty() {
        g.arg(prog);
    }
    let mut g = g
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

// ---- system mode (`heron system riscv64 -S -gdb tcp::0`) ----

/// heron system riscv64 arguments for a bare-metal program of ours, waiting for gdb.
fn system_args(bin: &Path, tier: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["system", "riscv64", "-M", "virt", "-nographic", "-m", "64M"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(["-bios".to_string(), bin.display().to_string()]);
    a.extend(
        ["--tier", tier, "-S", "-gdb", "tcp::0"]
            .iter()
            .map(|s| s.to_string()),
    );
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Address of `name` in bare/gdbsys.elf (from the cross binutils' nm).
fn bare_symbol(name: &str) -> u64 {
    let elf = common::guest("bare/gdbsys.elf");
    let out = Command::new("riscv64-linux-gnu-nm")
        .arg(&elf)
        .output()
        .expect("riscv64-linux-gnu-nm (scripts/install-deps.sh)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[2] == name).then(|| u64::from_str_radix(f[0], 16).ok())?
        })
        .unwrap_or_else(|| panic!("no symbol {name} in {}", elf.display()))
}

const SYSTEM_SESSION: &str = "\
info registers priv
print/x $pc
break *target
continue
print $a0
print/x $a1
info registers priv
print/x $satp
info registers mstatus
x/gx 0x40000000
x/gx 0x80012000
stepi
print $pc == (long)&target + 4
print/x $t0
x/gx 0x80012000
watch *(long*)&watched
continue
print/x *(long*)&watched
delete
hbreak *spin
continue
print $s1
stepi
stepi
print $s1
delete
info threads
continue
";

/// A bare-metal S-mode program under gdb: breakpoints (software and hardware) on virtual
/// PCs, an argument register, a CSR, the privilege pseudo-register, memory through the
/// hart's Sv39 translation that does not set the A bit (the load that follows does), a
/// single step, a watchpoint, and the power-off reported as the end of the process.
#[test]
fn system_bare_metal_break_step_csrs_memory_watch() {
    let elf = common::guest("bare/gdbsys.elf");
    let bin = common::guest("bare/gdbsys.bin");
    for tier in ["interp", "jit"] {
        let (h, port) = start_heron_with(&system_args(&bin, tier, &[]));
        let (out, hout, code) = session_on(h, port, &elf, SYSTEM_SESSION);
        expect(
            &out,
            &[
                "prv:3 [Machine]",
                "$1 = 0x80000000",
                "Breakpoint 1, 0x",
                " in target ()",
                "$2 = 42",
                "$3 = 0x40000000",
                "prv:1 [Supervisor]",
                "$4 = 0x8000000000080010",
                "mstatus        0x",
                "0x40000000:\t0x0000000000001111",
                // L0 PTE of VA: V|R|W, A still clear after gdb read the page
                "0x80012000:\t0x0000000020008007",
                " in target ()",
                "$5 = 1",
                "$6 = 0x1111",
                // the guest's load set A
                "0x80012000:\t0x0000000020008047",
                "Hardware watchpoint 2: *(long*)&watched",
                "Old value = 0",
                "New value = 4411",
                "$7 = 0x113b",
                "Hardware assisted breakpoint 3 at 0x",
                "Breakpoint 3, 0x",
                " in spin ()",
                "$8 = 200000",
                "$9 = 199999",
                "* 1    Thread 1.1",
                "exited normally",
            ],
        );
        assert!(hout.contains("BARE-PASS"), "{tier}: {hout}\n{out}");
        assert_eq!(code, Some(0), "{tier}: heron exit status\n{out}");
    }
}

/// What gdb cannot do in batch mode, on the raw protocol: an unmapped virtual address is
/// an error reply; Ctrl-C stops a spinning hart; the register packet has the CSRs; kill
/// ends heron.
#[test]
fn system_unmapped_memory_interrupt_and_kill() {
    let bin = common::guest("bare/gdbsys.bin");
    let (mut h, port) = start_heron_with(&system_args(&bin, "auto", &[]));
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut c = Raw(s);
    c.send("?");
    let first = c.recv();
    assert!(first.starts_with('T'), "{first}");
    let target = bare_symbol("target");
    let spin = bare_symbol("spin");
    c.send(&format!("Z0,{target:x},2"));
    assert_eq!(c.recv(), "OK");
    c.send("vCont;c");
    assert!(c.recv().starts_with("T05"));
    c.send("m40000000,8");
    assert_eq!(c.recv(), "1111000000000000");
    c.send("m40001000,8");
    assert!(c.recv().starts_with('E'), "unmapped read must fail");
    c.send("M40001000,1:00");
    assert!(c.recv().starts_with('E'), "unmapped write must fail");
    // Make the spin loop endless (s1 = x9), then interrupt it.
    c.send(&format!("z0,{target:x},2"));
    assert_eq!(c.recv(), "OK");
    c.send(&format!("Z0,{spin:x},2"));
    assert_eq!(c.recv(), "OK");
    c.send("vCont;c");
    assert!(c.recv().starts_with("T05"));
    c.send("P9=ffffffffffffff7f");
    assert_eq!(c.recv(), "OK");
    c.send(&format!("z0,{spin:x},2"));
    assert_eq!(c.recv(), "OK");
    c.send("vCont;c");
    std::thread::sleep(Duration::from_millis(500));
    {
        use std::io::Write;
        c.0.write_all(&[3]).unwrap();
    }
    let stop = c.recv();
    assert!(stop.starts_with("T02"), "stop reply {stop}");
    c.send("g");
    let regs = c.recv();
    // x0-x31, pc, f0-f31, fflags, frm, fcsr, 29 CSRs, priv: 8 bytes each.
    assert_eq!(regs.len(), (68 + 29 + 1) * 16, "{regs}");
    let pc = u64::from_str_radix(&regs[32 * 16..33 * 16], 16)
        .unwrap()
        .swap_bytes();
    assert!((spin..spin + 4).contains(&pc), "pc {pc:#x}");
    c.send("vKill;1");
    assert_eq!(c.recv(), "OK");
    let st = wait_deadline(&mut h, "heron");
    assert_eq!(st.code(), Some(0));
}

/// Two harts: one gdb thread each; a single step of one leaves the other where it is;
/// once both sleep in WFI, Ctrl-C stops them (sleeping harts
/// count as stopped), each has its own registers (mhartid = hart id), which gdb may read
/// but not write while the hart sleeps.
#[test]
fn system_two_harts_are_two_threads() {
    let bin = common::guest("bare/idle.bin");
    let (mut h, port) = start_heron_with(&system_args(&bin, "auto", &["-smp", "2"]));
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut c = Raw(s);
    c.send("?");
    assert!(c.recv().starts_with('T'));
    c.send("qfThreadInfo");
    let threads = c.recv();
    assert_eq!(
        threads.trim_start_matches('m').split(',').count(),
        2,
        "{threads}"
    );
    // Both harts start at 0x80000000 (`j _start`). Stepping one leaves the other there.
    let pc_of = |c: &mut Raw, hart: u64| -> u64 {
        c.send(&format!("Hg{hart:x}"));
        assert_eq!(c.recv(), "OK");
        c.send("p20");
        u64::from_str_radix(&c.recv(), 16).unwrap().swap_bytes()
    };
    c.send("vCont;s:1");
    assert!(c.recv().starts_with("T05"));
    let pc1 = pc_of(&mut c, 1);
    assert_ne!(pc1, 0x8000_0000, "hart 0 stepped");
    assert_eq!(pc_of(&mut c, 2), 0x8000_0000, "hart 1 stayed");
    c.send("vCont;s:2");
    assert!(c.recv().starts_with("T05"));
    assert_eq!(pc_of(&mut c, 2), pc1, "hart 1 stepped to the same place");
    assert_eq!(pc_of(&mut c, 1), pc1, "hart 0 stayed");
    c.send("vCont;c");
    std::thread::sleep(Duration::from_millis(500));
    {
        use std::io::Write;
        c.0.write_all(&[3]).unwrap();
    }
    assert!(c.recv().starts_with("T02"));
    for hart in 1..=2u64 {
        c.send(&format!("Hg{hart:x}"));
        assert_eq!(c.recv(), "OK");
        // mhartid: remote number 68 + 25
        c.send(&format!("p{:x}", 68 + 25));
        let id = u64::from_str_radix(&c.recv(), 16).unwrap().swap_bytes();
        assert_eq!(id, hart - 1);
        // A hart sleeping in WFI is read, not written (its thread watches its state).
        c.send("P5=0100000000000000");
        assert!(c.recv().starts_with('E'));
    }
    c.send("vKill;1");
    assert_eq!(c.recv(), "OK");
    let st = wait_deadline(&mut h, "heron");
    assert_eq!(st.code(), Some(0));
}

/// The shared image's kernel on two harts with OpenSBI fw_dynamic and a gdb stub on a free
/// port, plus `extra` arguments.
fn kernel_args(g: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let p = |s: &str| g.join(s).display().to_string();
    let mut args: Vec<String> = ["system", "riscv64", "-M", "virt", "-nographic", "-smp", "2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend([
        "-m".into(),
        "256M".into(),
        "-bios".into(),
        p("riscv64/fw_dynamic.bin"),
    ]);
    args.extend([
        "-kernel".into(),
        p("riscv64/Image"),
        "-append".into(),
        "console=ttyS0".into(),
    ]);
    args.extend(["-gdb".into(), "tcp::0".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The shared Debian image under gdb: OpenSBI (fw_dynamic) runs from `-S` to the kernel
/// entry at 0x80200000, where a0 = boot hart id (whichever hart won OpenSBI's lottery)
/// and a1 = the device tree; S-mode with satp
/// off; a step; both harts listed with -smp 2; kill ends heron. Skipped without the
/// images ($HERON_GUESTS, default /work/shared/guests).
#[test]
fn system_kernel_entry_under_opensbi() {
    let Some(g) = common::guest_images() else {
        return;
    };
    let args = kernel_args(&g, &["-S"]);
    let (h, port) = start_heron_with(&args);
    let script = "\
info threads
break *0x80200000
continue
print/x $pc
print $a0 == $mhartid
print/x $a1
info registers priv
print/x $satp
stepi
print/x $pc
info threads
kill
";
    let empty = std::path::PathBuf::new();
    let (out, _hout, code) = session_on(h, port, &empty, script);
    expect(
        &out,
        &[
            "Thread 1.1",
            "Thread 1.2",
            "Breakpoint 1 at 0x80200000",
            "hit Breakpoint 1, 0x0000000080200000",
            "$1 = 0x80200000",
            "$2 = 1",
            "$3 = 0x8",
            "prv:1 [Supervisor]",
            "$4 = 0x0",
            "$5 = 0x80200002",
            "Thread 1.2",
            "killed",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
}

// ---- aarch64 user mode ----

const A64_SESSION: &str = "\
break scale_add
continue
info args
print $x0
print $x1
next
print r
stepi
info registers pc
info registers cpsr
set $v1.d.u[1] = 0x55
print/x $v1.d.u[1]
print ((long)$sp & 15) == 0
continue
print a
watch counter
continue
delete
continue
";

/// The same C program built for aarch64 under gdb: arguments in x0/x1, line and
/// instruction steps, pc, cpsr (flags), a 128-bit vector register written and read back,
/// a watchpoint, the exit; on the interpreter and the JIT tier.
#[test]
fn aarch64_break_step_registers_watch_and_exit() {
    let prog = common::guest_a64("c/gdbtarget");
    for tier in ["interp", "jit"] {
        let (out, hout, code) = session(tier, &prog, A64_SESSION);
        expect(
            &out,
            &[
                "Breakpoint 1, scale_add (a=10, b=7)",
                "a = 10",
                "b = 7",
                "$1 = 10",
                "$2 = 7",
                "\t    r = r + b;",
                "$3 = 30",
                "pc             0x",
                "<scale_add+",
                "cpsr           0x",
                "$4 = 0x55",
                "$5 = 1",
                "Breakpoint 1, scale_add (a=11, b=7)",
                "$6 = 11",
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

/// `-gdb` without `-S`: the kernel boots until gdb attaches, which stops both harts; a
/// hart in S-mode with paging on has its code readable at its virtual pc through its
/// translation (and a non-canonical address is an error); detach lets the machine run on.
#[test]
fn system_attach_to_a_running_kernel_reads_virtual_memory() {
    let Some(g) = common::guest_images() else {
        return;
    };
    let initrd = g.join("riscv64/initramfs.cpio.gz").display().to_string();
    let args = kernel_args(&g, &["-initrd", &initrd]);
    let (mut h, port) = start_heron_with(&args);
    // Let the kernel turn paging on.
    std::thread::sleep(Duration::from_secs(4));
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut c = Raw(s);
    let reg = |c: &mut Raw, n: usize| -> u64 {
        c.send(&format!("p{n:x}"));
        u64::from_str_radix(&c.recv(), 16).unwrap().swap_bytes()
    };
    c.send("?");
    assert!(c.recv().starts_with('T'));
    let satp_n = 68 + 11;
    let priv_n = 68 + 29;
    let mut found = false;
    for attempt in 0..20 {
        for hart in 1..=2 {
            c.send(&format!("Hg{hart}"));
            assert_eq!(c.recv(), "OK");
            if reg(&mut c, priv_n) != 1 || reg(&mut c, satp_n) >> 60 == 0 {
                continue;
            }
            let pc = reg(&mut c, 32);
            assert!(pc >> 63 == 1, "kernel pc {pc:#x} is a high virtual address");
            c.send(&format!("m{pc:x},4"));
            let insn = c.recv();
            assert!(
                !insn.starts_with('E') && insn.len() == 8,
                "code at {pc:#x}: {insn}"
            );
            c.send("m4000000000000000,8");
            assert!(c.recv().starts_with('E'));
            found = true;
        }
        if found {
            break;
        }
        // Both harts were in M-mode or before paging: run a little and stop again.
        c.send("vCont;c");
        std::thread::sleep(Duration::from_millis(200 + 100 * attempt));
        {
            use std::io::Write;
            c.0.write_all(&[3]).unwrap();
        }
        assert!(c.recv().starts_with("T02"));
    }
    assert!(found, "no hart in S-mode with paging on");
    c.send("D");
    assert_eq!(c.recv(), "OK");
    // Detached: the machine runs on; end it.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        h.try_wait().unwrap().is_none(),
        "heron still runs after detach"
    );
    let _ = h.kill();
    let _ = h.wait();
}

/// A single step (`vCont;s`; gdb itself steps RISC-V in software, with a temporary
/// breakpoint) executes the instruction at pc even with an interrupt pending (raised from
/// the stub: a delegated, enabled supervisor software interrupt); the interrupt is taken
/// on the next continue, at the pc after the step.
#[test]
fn system_step_leaves_pending_interrupts_for_continue() {
    let bin = common::guest("bare/gdbsys.bin");
    let (mut h, port) = start_heron_with(&system_args(&bin, "auto", &[]));
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut c = Raw(s);
    let csr = |name: &str| {
        let names = [
            "sstatus",
            "sie",
            "stvec",
            "scounteren",
            "senvcfg",
            "sscratch",
            "sepc",
            "scause",
            "stval",
            "sip",
            "stimecmp",
            "satp",
            "mstatus",
            "misa",
            "medeleg",
            "mideleg",
        ];
        68 + names.iter().position(|n| *n == name).unwrap()
    };
    let get = |c: &mut Raw, n: usize| -> u64 {
        c.send(&format!("p{n:x}"));
        u64::from_str_radix(&c.recv(), 16).unwrap().swap_bytes()
    };
    let set = |c: &mut Raw, n: usize, v: u64| {
        c.send(&format!("P{n:x}={:016x}", v.swap_bytes()));
        assert_eq!(c.recv(), "OK");
    };
    c.send("?");
    assert!(c.recv().starts_with('T'));
    let (target, spin) = (bare_symbol("target"), bare_symbol("spin"));
    c.send(&format!("Z0,{target:x},2"));
    assert_eq!(c.recv(), "OK");
    c.send("vCont;c");
    assert!(c.recv().starts_with("T05"));
    c.send(&format!("z0,{target:x},2"));
    assert_eq!(c.recv(), "OK");
    set(&mut c, csr("mideleg"), 0x222);
    set(&mut c, csr("stvec"), bare_symbol("s_irq"));
    set(&mut c, csr("sie"), 2);
    let sstatus = get(&mut c, csr("sstatus"));
    set(&mut c, csr("sstatus"), sstatus | 2);
    set(&mut c, csr("sip"), 2);
    assert_eq!(get(&mut c, csr("sip")), 2);
    c.send("vCont;s:1");
    assert!(c.recv().starts_with("T05"));
    assert_eq!(
        get(&mut c, 32),
        target + 4,
        "the step ran the instruction at pc"
    );
    assert_eq!(get(&mut c, csr("sip")), 2, "still pending");
    c.send(&format!("Z0,{spin:x},2"));
    assert_eq!(c.recv(), "OK");
    c.send("vCont;c");
    assert!(c.recv().starts_with("T05"));
    assert_eq!(get(&mut c, csr("sip")), 0, "taken and cleared by s_irq");
    assert_eq!(get(&mut c, csr("sepc")), target + 4);
    assert_eq!(get(&mut c, csr("scause")), (1 << 63) | 1);
    c.send("vKill;1");
    assert_eq!(c.recv(), "OK");
    let st = wait_deadline(&mut h, "heron");
    assert_eq!(st.code(), Some(0));
}

/// A guest reset rebuilds the machine under the same gdb session: the breakpoint stays,
/// the new hart is thread 1 again and stops there; kill ends heron.
#[test]
fn system_breakpoints_survive_a_guest_reset() {
    let elf = common::guest("bare/reset.elf");
    let bin = common::guest("bare/reset.bin");
    let (h, port) = start_heron_with(&system_args(&bin, "auto", &[]));
    let script = "break *_start\ncontinue\ncontinue\ninfo threads\ncontinue\nkill\n";
    let (out, hout, code) = session_on(h, port, &elf, script);
    expect(
        &out,
        &[
            "Breakpoint 1, 0x",
            " in _start ()",
            "Breakpoint 1, 0x",
            "* 1    Thread 1.1",
            "Breakpoint 1, 0x",
            "killed",
        ],
    );
    assert_eq!(hout.matches("BARE-RESET").count(), 2, "{hout}");
    assert_eq!(code, Some(0), "{out}");
}
