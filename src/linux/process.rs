//! Process-level syscalls: clone (threads via `thread::spawn_thread`, fork-style clones via
//! host fork), execve (re-runs heron on RISC-V and AArch64 programs, follows `#!` scripts, runs host
//! programs natively), kill/tgkill (guest-internal queues for our own threads), futex on
//! guest memory (guest memory is host memory).

use super::loader::{self, FileKind};
use super::signal;
use super::syscall::{R, clone_flags::*, host};
use super::thread::{self, Thread};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;

pub fn clone(t: &mut Thread, a: [u64; 6]) -> R {
    // riscv64 argument order (CONFIG_CLONE_BACKWARDS): flags, newsp, parent_tid, tls,
    // child_tid.
    let (flags, newsp, ptid, tls, ctid) = (a[0], a[1], a[2], a[3], a[4]);
    if flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0 {
        if flags & CLONE_THREAD == 0 || flags & CLONE_SIGHAND == 0 {
            // A process sharing our memory without being a thread: not supported.
            return Err(libc::EINVAL);
        }
        return thread::spawn_thread(t, flags, newsp, ptid, ctid, tls).map(|tid| tid as i64);
    }
    if flags & CLONE_THREAD != 0 {
        return Err(libc::EINVAL);
    }
    // fork / vfork: a host fork (vfork's shared memory becomes copy-on-write, which every
    // program that follows vfork's rules cannot tell apart).
    crate::flush_logs();
    // SAFETY: fork in a possibly multi-threaded process; the child only continues this
    // guest thread, as Linux does.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EAGAIN));
    }
    if pid == 0 {
        // Child: only this thread survives.
        let tid = thread::gettid();
        let p = &t.proc_;
        {
            let mut th = p.threads.lock().unwrap_or_else(|e| e.into_inner());
            let me = th.remove(&t.shared.tid);
            th.clear();
            if let Some(me) = me {
                th.insert(tid, me);
            }
        }
        p.live_threads.store(1, Ordering::SeqCst);
        // The child's tid differs from the parent's: rebuild the shared record.
        let shared = std::sync::Arc::new(thread::ThreadShared {
            tid,
            mask: std::sync::atomic::AtomicU64::new(t.mask()),
            pending: std::sync::Mutex::new(Vec::new()),
            exit_req: t.shared.exit_req,
        });
        p.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tid, shared.clone());
        t.shared = shared;
        // SAFETY: exit_req points into this thread's CPU state, which lives on.
        signal::reset_after_fork(unsafe { &*t.shared.exit_req }, tid);
        if p.cfg.trace.icount {
            super::icount::after_fork(tid, t.engine.icount_counter());
        }
        p.sig
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        if flags & CLONE_CHILD_SETTID != 0 {
            let _ = p.mem.store(ctid, 4, tid as u32 as u64);
        }
        if flags & CLONE_CHILD_CLEARTID != 0 {
            t.clear_child_tid = ctid;
        }
        if flags & CLONE_SETTLS != 0 {
            t.cpu.set_tls(tls);
        }
        if newsp != 0 {
            t.cpu.set_sp(newsp);
        }
        return Ok(0);
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = t.proc_.mem.store(ptid, 4, pid as u32 as u64);
    }
    Ok(pid as i64)
}

/// Read a NULL-terminated array of guest string pointers.
fn read_str_array(t: &Thread, addr: u64) -> Result<Vec<Vec<u8>>, i32> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut a = addr;
    loop {
        let p = t.proc_.mem.load(a, 8).map_err(|_| libc::EFAULT)?;
        if p == 0 {
            return Ok(out);
        }
        out.push(
            t.proc_
                .mem
                .read_cstr(p, 128 << 10)
                .map_err(|_| libc::EFAULT)?,
        );
        if out.len() > 100_000 {
            return Err(libc::E2BIG);
        }
        a += 8;
    }
}

fn cstrings(v: &[Vec<u8>]) -> Result<Vec<CString>, i32> {
    v.iter()
        .map(|s| CString::new(s.clone()).map_err(|_| libc::EINVAL))
        .collect()
}

fn host_execve(path: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) -> i32 {
    let Ok(p) = CString::new(path.to_vec()) else {
        return libc::EINVAL;
    };
    let (Ok(av), Ok(ev)) = (cstrings(argv), cstrings(envp)) else {
        return libc::EINVAL;
    };
    let mut avp: Vec<*const libc::c_char> = av.iter().map(|s| s.as_ptr()).collect();
    avp.push(std::ptr::null());
    let mut evp: Vec<*const libc::c_char> = ev.iter().map(|s| s.as_ptr()).collect();
    evp.push(std::ptr::null());
    crate::flush_logs();
    // SAFETY: NUL-terminated strings and NULL-terminated arrays that outlive the call.
    unsafe { libc::execve(p.as_ptr(), avp.as_ptr(), evp.as_ptr()) };
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::ENOEXEC)
}

/// The heron options a re-executed heron needs to behave like this one.
fn heron_options(t: &Thread) -> Vec<Vec<u8>> {
    let c = &t.proc_.cfg;
    let mut o: Vec<Vec<u8>> = Vec::new();
    if let Some(p) = &c.ld_prefix {
        o.push(b"-L".to_vec());
        o.push(p.as_os_str().as_bytes().to_vec());
    }
    o.push(b"--tier".to_vec());
    o.push(c.tier_name.as_bytes().to_vec());
    if let Some(n) = c.jit_threshold {
        o.push(format!("--jit-threshold={n}").into_bytes());
    }
    if let Some(f) = &c.log_file {
        // The new heron appends to the same log (an absolute path survives chdir).
        let f = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        o.push(b"-D".to_vec());
        o.push(f.as_os_str().as_bytes().to_vec());
        o.push(b"--log-append".to_vec());
    }
    if !c.log_items.is_empty() {
        o.push(b"-d".to_vec());
        o.push(c.log_items.join(",").into_bytes());
    }
    if c.strace {
        o.push(b"--strace".to_vec());
    }
    if c.stack_size != crate::cli::DEFAULT_STACK_SIZE {
        o.push(b"-s".to_vec());
        o.push(c.stack_size.to_string().into_bytes());
    }
    o
}

pub fn execve(t: &mut Thread, path: u64, argv: u64, envp: u64) -> R {
    let gpath = t
        .proc_
        .mem
        .read_cstr(path, 4096)
        .map_err(|_| libc::EFAULT)?;
    let mut argv = read_str_array(t, argv)?;
    let envp = read_str_array(t, envp)?;
    let mut cur = gpath.clone();
    // Follow up to 4 levels of #! interpreters.
    for _ in 0..4 {
        let hp = super::fs::host_path(t, &cur)?;
        let hpb = hp.as_bytes().to_vec();
        // Must exist and be executable, like the kernel checks.
        // SAFETY: valid C string.
        if unsafe { libc::access(hp.as_ptr(), libc::X_OK) } != 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EACCES));
        }
        let mut head = vec![0u8; 256];
        let n = match std::fs::File::open(std::ffi::OsStr::from_bytes(&hpb)) {
            Ok(mut f) => {
                use std::io::Read;
                f.read(&mut head)
                    .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?
            }
            Err(e) => return Err(e.raw_os_error().unwrap_or(libc::ENOENT)),
        };
        head.truncate(n);
        match loader::classify(&head) {
            FileKind::Elf(_) => {
                let Some(heron) = crate::heron_exe() else {
                    return Err(libc::ENOEXEC);
                };
                let mut hargv: Vec<Vec<u8>> =
                    vec![heron.as_os_str().as_bytes().to_vec(), b"run".to_vec()];
                hargv.extend(heron_options(t));
                hargv.push(b"-0".to_vec());
                hargv.push(argv.first().cloned().unwrap_or_else(|| cur.clone()));
                hargv.push(b"--".to_vec());
                hargv.push(hpb);
                hargv.extend(argv.iter().skip(1).cloned());
                let e = host_execve(heron.as_os_str().as_bytes(), &hargv, &envp);
                return Err(e);
            }
            FileKind::Script { interp, arg } => {
                let mut nargv = vec![interp.clone()];
                if let Some(a) = arg {
                    nargv.push(a);
                }
                nargv.push(cur.clone());
                nargv.extend(argv.iter().skip(1).cloned());
                argv = nargv;
                cur = interp;
            }
            FileKind::Other(_) => {
                // A host program (or something the kernel will refuse): run it natively.
                return Err(host_execve(&hpb, &argv, &envp));
            }
        }
    }
    Err(libc::ELOOP)
}

/// Queue `info` on a thread of ours and wake it.
fn queue_thread(t: &Thread, tid: i32, info: signal::SigInfo) -> bool {
    let th = t.proc_.threads.lock().unwrap_or_else(|e| e.into_inner());
    let Some(target) = th.get(&tid) else {
        return false;
    };
    signal::enqueue(
        &mut target.pending.lock().unwrap_or_else(|e| e.into_inner()),
        info,
    );
    target.kick();
    if tid != t.tid() {
        signal::wake_thread(tid);
    }
    true
}

fn uid() -> u32 {
    // SAFETY: no arguments.
    unsafe { libc::getuid() }
}

pub fn kill(t: &mut Thread, pid: i32, sig: i32) -> R {
    if sig < 0 || sig as usize > signal::NSIG {
        return Err(libc::EINVAL);
    }
    // SAFETY: no arguments.
    let me = unsafe { libc::getpid() };
    if pid == me && sig != 0 {
        let info = signal::info_kill(sig, signal::SI_USER, me, uid());
        signal::enqueue(
            &mut t
                .proc_
                .sig
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            info,
        );
        signal::kick_all_threads();
        signal::wake_other_threads();
        return Ok(0);
    }
    host(libc::SYS_kill, [pid as u64, sig as u64, 0, 0, 0, 0])
}

pub fn tgkill(t: &mut Thread, tgid: i32, tid: i32, sig: i32) -> R {
    if sig < 0 || sig as usize > signal::NSIG || tid <= 0 {
        return Err(libc::EINVAL);
    }
    // SAFETY: no arguments.
    let me = unsafe { libc::getpid() };
    if (tgid == -1 || tgid == me) && sig != 0 {
        let info = signal::info_kill(sig, signal::SI_TKILL, me, uid());
        if queue_thread(t, tid, info) {
            return Ok(0);
        }
    }
    if tgid == -1 {
        host(libc::SYS_tkill, [tid as u64, sig as u64, 0, 0, 0, 0])
    } else {
        host(
            libc::SYS_tgkill,
            [tgid as u64, tid as u64, sig as u64, 0, 0, 0],
        )
    }
}

/// rt_sigqueueinfo / rt_tgsigqueueinfo: the caller supplies the siginfo.
pub fn sigqueueinfo(t: &mut Thread, tgid: i32, tid: Option<i32>, sig: i32, uinfo: u64) -> R {
    if sig <= 0 || sig as usize > signal::NSIG {
        return Err(libc::EINVAL);
    }
    let mut info = [0u8; 128];
    t.proc_
        .mem
        .read_bytes(uinfo, &mut info)
        .map_err(|_| libc::EFAULT)?;
    info[0..4].copy_from_slice(&sig.to_le_bytes());
    // SAFETY: no arguments.
    let me = unsafe { libc::getpid() };
    if tgid == me {
        match tid {
            Some(tid) => {
                if queue_thread(t, tid, info) {
                    return Ok(0);
                }
                return Err(libc::ESRCH);
            }
            None => {
                signal::enqueue(
                    &mut t
                        .proc_
                        .sig
                        .pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()),
                    info,
                );
                signal::kick_all_threads();
                return Ok(0);
            }
        }
    }
    // The siginfo layout is the same on the host.
    let p = info.as_ptr() as u64;
    match tid {
        Some(tid) => host(
            libc::SYS_rt_tgsigqueueinfo,
            [tgid as u64, tid as u64, sig as u64, p, 0, 0],
        ),
        None => host(
            libc::SYS_rt_sigqueueinfo,
            [tgid as u64, sig as u64, p, 0, 0, 0],
        ),
    }
}

pub fn futex(t: &mut Thread, a: [u64; 6]) -> R {
    const FUTEX_WAIT: u64 = 0;
    const FUTEX_WAKE: u64 = 1;
    const FUTEX_FD: u64 = 2;
    const FUTEX_REQUEUE: u64 = 3;
    const FUTEX_CMP_REQUEUE: u64 = 4;
    const FUTEX_WAKE_OP: u64 = 5;
    const FUTEX_LOCK_PI: u64 = 6;
    const FUTEX_UNLOCK_PI: u64 = 7;
    const FUTEX_TRYLOCK_PI: u64 = 8;
    const FUTEX_WAIT_BITSET: u64 = 9;
    const FUTEX_WAKE_BITSET: u64 = 10;
    const FUTEX_WAIT_REQUEUE_PI: u64 = 11;
    const FUTEX_CMP_REQUEUE_PI: u64 = 12;
    const FUTEX_LOCK_PI2: u64 = 13;
    let op = a[1] & 0x7f;
    let uaddr = t.g2h(a[0], 4)?;
    if !a[0].is_multiple_of(4) {
        return Err(libc::EINVAL);
    }
    let (a3, a4) = match op {
        // timeout pointer in a3, uaddr2 in a4.
        FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            (t.g2h(a[3], 16)?, a[4])
        }
        FUTEX_WAIT_REQUEUE_PI => (t.g2h(a[3], 16)?, t.g2h(a[4], 4)?),
        // val2 in a3, uaddr2 in a4.
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP | FUTEX_CMP_REQUEUE_PI => {
            (a[3], t.g2h(a[4], 4)?)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET | FUTEX_UNLOCK_PI => (a[3], a[4]),
        FUTEX_FD => return Err(libc::ENOSYS),
        _ => return Err(libc::ENOSYS),
    };
    host(libc::SYS_futex, [uaddr, a[1], a[2], a3, a4, a[5]])
}
