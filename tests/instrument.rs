//! The instrumentation hooks end to end: `-d icount` and `-d memtrace` on a guest whose
//! loop has a known size (tests/guest/riscv64/asm/icount.S: 1000 * argc iterations of five
//! instructions and two memory accesses). Counts must be exact and equal on every tier.

mod common;

use std::process::{Command, Stdio};

/// (instructions, memory-access lines) of one run with `args` guest arguments.
fn counts(tier: &str, nargs: usize) -> (u64, u64) {
    let prog = common::guest("asm/icount");
    let out = Command::new(common::heron())
        .args(["run", "--tier", tier, "-d", "icount,memtrace"])
        .arg(&prog)
        .args(std::iter::repeat_n("x", nargs))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{tier}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let icount = err
        .lines()
        .find_map(|l| l.strip_prefix("icount: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{tier}: no icount line in:\n{err}"));
    let accesses = err
        .lines()
        .filter(|l| l.contains(": load ") || l.contains(": store ") || l.contains(": rmw "))
        .count() as u64;
    (icount, accesses)
}

#[test]
fn icount_and_memtrace_are_exact_on_every_tier() {
    let mut seen = Vec::new();
    for tier in ["interp", "jit", "auto"] {
        // argc is 1 (program name only) and 3.
        let (i1, m1) = counts(tier, 0);
        let (i3, m3) = counts(tier, 2);
        assert_eq!(i3 - i1, 2000 * 5, "{tier}: five instructions per iteration");
        assert_eq!(m3 - m1, 2000 * 2, "{tier}: two accesses per iteration");
        seen.push((i1, m1));
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "tiers differ: {seen:?}"
    );
}

#[test]
fn memtrace_lines_name_pc_kind_size_and_address() {
    let prog = common::guest("asm/icount");
    let out = Command::new(common::heron())
        .args(["run", "-d", "memtrace"])
        .arg(&prog)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains(": store 8 @ 0x"))
        .unwrap_or_else(|| panic!("no store line:\n{err}"));
    assert!(line.starts_with("0x"), "{line}");
}

#[test]
fn int_and_cpu_items_trace_signals_and_registers() {
    let out = Command::new(common::heron())
        .args(["run", "-d", "int"])
        .arg(common::guest("c/signals"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("signal SIGUSR1 delivered to handler 0x")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("exception at pc=0x")),
        "a fault is traced: {err}"
    );
    let out = Command::new(common::heron())
        .args(["run", "-d", "cpu"])
        .arg(common::guest("asm/icount"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // One dump per block entry; the loop block is entered once per iteration (no chaining).
    let dumps = err.lines().filter(|l| l.starts_with("pc       ")).count();
    assert!(dumps > 1000, "{dumps} dumps");
    assert!(err.contains("x10/a0   "), "{err}");
}

/// Runs the bare-metal firmware `bin` in system mode with `-d ITEMS -D log` (it must
/// exit 0) and returns the log.
fn system_log(bin: &std::path::Path, items: &str, log: &std::path::Path) -> String {
    let out = Command::new(common::heron())
        .args(["system", "riscv64", "-nographic", "-bios"])
        .arg(bin)
        .args(["-d", items, "-D"])
        .arg(log)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::read_to_string(log).unwrap()
}

/// `-d mmu` in system mode: the TLB fill of a known Sv39 mapping (bare/gdbsys: VA
/// 0x40000000 -> 0x80020000 through three tables at 0x80010000/0x80011000/0x80012000)
/// is logged with each level's PTE address and value and the result; M-mode fills say
/// the translation is bare; page faults name their cause. Without the item nothing is
/// logged.
#[test]
fn mmu_item_traces_page_walks_and_tlb_fills() {
    let bin = common::guest("bare/gdbsys.bin");
    let dir = common::temp_dir("mmu-trace");
    let log = dir.join("mmu.log");
    for (items, expect_lines) in [("mmu", true), ("int", false)] {
        let text = system_log(&bin, items, &log);
        let fills = text.lines().filter(|l| l.contains(" fill ")).count();
        if !expect_lines {
            assert_eq!(fills, 0, "{text}");
            continue;
        }
        let line = text
            .lines()
            .find(|l| l.contains("fill read vaddr=0x40000000 "))
            .unwrap_or_else(|| panic!("no fill of VA 0x40000000 in:\n{text}"));
        assert!(line.contains("priv=Supervisor satp=sv39"), "{line}");
        for (level, addr) in [(2, "0x80010008"), (1, "0x80011000"), (0, "0x80012000")] {
            assert!(line.contains(&format!(" L{level} pte@{addr}=0x")), "{line}");
        }
        assert!(line.contains("=0x20004401[-------V]"), "{line}");
        assert!(line.ends_with("-> paddr=0x80020000 r--"), "{line}");
        assert!(
            text.lines()
                .any(|l| l.contains("fill fetch vaddr=0x80000000 priv=Machine satp=bare(M)")),
            "{text}"
        );
    }
    // Faults: bare/paging stores to a read-only page and loads from an unmapped one.
    let bin = common::guest("bare/paging.bin");
    let text = system_log(&bin, "mmu", &log);
    assert!(
        text.lines()
            .any(|l| l.contains("fill write vaddr=0x40000000 ")
                && l.contains("[-A----RV] -> fault cause=15")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("fill read vaddr=0x40003000 ")
                && l.ends_with(" L0 pte@0x80012018=0x0[--------] -> fault cause=13")),
        "{text}"
    );
}

/// `-d icount` on a multithreaded guest (c/threads: many short-lived workers) prints one
/// summary line for the whole process, the sum of every thread's detail line; a
/// single-threaded guest prints only the summary.
#[test]
fn icount_total_is_per_process() {
    let run = |prog: &str| {
        let out = Command::new(common::heron())
            .args(["run", "-d", "icount"])
            .arg(common::guest(prog))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{prog}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run("c/threads");
    let per_thread: Vec<u64> = err
        .lines()
        .filter_map(|l| l.strip_prefix("icount thread "))
        .map(|l| {
            let n = l
                .split(": ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next());
            n.and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad line {l}"))
        })
        .collect();
    let totals: Vec<&str> = err.lines().filter(|l| l.starts_with("icount: ")).collect();
    assert_eq!(totals.len(), 1, "one summary line:\n{err}");
    assert!(per_thread.len() > 4, "a detail line per thread:\n{err}");
    let total: u64 = totals[0]
        .strip_prefix("icount: ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(total, per_thread.iter().sum::<u64>(), "{err}");
    assert!(
        totals[0].ends_with(&format!("({} threads)", per_thread.len())),
        "{err}"
    );
    let max = per_thread.iter().copied().max().unwrap_or(0);
    assert!(total > max, "the total is more than one thread's count");
    let single = run("asm/icount");
    assert!(!single.contains("icount thread "), "{single}");
    assert!(
        single.contains(" guest instructions (1 thread)"),
        "{single}"
    );
}

/// `-d stats` in user mode: per-thread engine counters, compiled-block runs split into
/// engine entries and chained ones (counted by the blocks themselves only under stats),
/// and the hottest blocks. A libc program's start-up runs compiled blocks that reach each
/// other through chains (a loop inside one block or region is not a block entry).
#[test]
fn stats_report_counts_chained_block_runs() {
    let prog = common::guest("c/hello");
    let out = Command::new(common::heron())
        .args(["run", "--tier", "jit", "-d", "stats"])
        .arg(&prog)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for line in [
        "blocks translated",
        "chains made",
        "hottest blocks (pc: runs):",
    ] {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    let runs_line = err
        .lines()
        .find_map(|l| l.strip_prefix("compiled block runs"))
        .unwrap_or_else(|| panic!("no compiled block runs line in:\n{err}"));
    let nums: Vec<u64> = runs_line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (runs, chained) = (nums[0], nums[1]);
    assert!(chained > 0 && chained < runs, "{runs_line}");
}
