//! The generic Linux syscall table (asm-generic/unistd.h numbering, shared by riscv64 and
//! later aarch64): dispatch by number, pass-through to the host where the structures match,
//! conversions where they differ (in `fs`), memory-management syscalls on the guest address
//! space, signal syscalls, and `-strace` output. Unknown numbers return -ENOSYS, logged once.

use super::mm::{PAGE, VmaKind, page_up};
use super::signal::{self, GuestSigAction};
use super::thread::{Thread, gettid};
use super::{fs, process};
use heron_backend::mem::{PERM_R, PERM_W, PERM_X};

/// Generic syscall numbers.
pub mod nr {
    pub const GETCWD: u64 = 17;
    pub const EVENTFD2: u64 = 19;
    pub const EPOLL_CREATE1: u64 = 20;
    pub const EPOLL_CTL: u64 = 21;
    pub const EPOLL_PWAIT: u64 = 22;
    pub const DUP: u64 = 23;
    pub const DUP3: u64 = 24;
    pub const FCNTL: u64 = 25;
    pub const INOTIFY_INIT1: u64 = 26;
    pub const INOTIFY_ADD_WATCH: u64 = 27;
    pub const INOTIFY_RM_WATCH: u64 = 28;
    pub const IOCTL: u64 = 29;
    pub const FLOCK: u64 = 32;
    pub const MKNODAT: u64 = 33;
    pub const MKDIRAT: u64 = 34;
    pub const UNLINKAT: u64 = 35;
    pub const SYMLINKAT: u64 = 36;
    pub const LINKAT: u64 = 37;
    pub const STATFS: u64 = 43;
    pub const FSTATFS: u64 = 44;
    pub const TRUNCATE: u64 = 45;
    pub const FTRUNCATE: u64 = 46;
    pub const FALLOCATE: u64 = 47;
    pub const FACCESSAT: u64 = 48;
    pub const CHDIR: u64 = 49;
    pub const FCHDIR: u64 = 50;
    pub const FCHMOD: u64 = 52;
    pub const FCHMODAT: u64 = 53;
    pub const FCHOWNAT: u64 = 54;
    pub const FCHOWN: u64 = 55;
    pub const OPENAT: u64 = 56;
    pub const CLOSE: u64 = 57;
    pub const PIPE2: u64 = 59;
    pub const GETDENTS64: u64 = 61;
    pub const LSEEK: u64 = 62;
    pub const READ: u64 = 63;
    pub const WRITE: u64 = 64;
    pub const READV: u64 = 65;
    pub const WRITEV: u64 = 66;
    pub const PREAD64: u64 = 67;
    pub const PWRITE64: u64 = 68;
    pub const PREADV: u64 = 69;
    pub const PWRITEV: u64 = 70;
    pub const SENDFILE: u64 = 71;
    pub const PSELECT6: u64 = 72;
    pub const PPOLL: u64 = 73;
    pub const SPLICE: u64 = 76;
    pub const READLINKAT: u64 = 78;
    pub const NEWFSTATAT: u64 = 79;
    pub const FSTAT: u64 = 80;
    pub const SYNC: u64 = 81;
    pub const FSYNC: u64 = 82;
    pub const FDATASYNC: u64 = 83;
    pub const TIMERFD_CREATE: u64 = 85;
    pub const TIMERFD_SETTIME: u64 = 86;
    pub const TIMERFD_GETTIME: u64 = 87;
    pub const UTIMENSAT: u64 = 88;
    pub const CAPGET: u64 = 90;
    pub const PERSONALITY: u64 = 92;
    pub const EXIT: u64 = 93;
    pub const EXIT_GROUP: u64 = 94;
    pub const WAITID: u64 = 95;
    pub const SET_TID_ADDRESS: u64 = 96;
    pub const FUTEX: u64 = 98;
    pub const SET_ROBUST_LIST: u64 = 99;
    pub const GET_ROBUST_LIST: u64 = 100;
    pub const NANOSLEEP: u64 = 101;
    pub const GETITIMER: u64 = 102;
    pub const SETITIMER: u64 = 103;
    pub const CLOCK_GETTIME: u64 = 113;
    pub const CLOCK_GETRES: u64 = 114;
    pub const CLOCK_NANOSLEEP: u64 = 115;
    pub const SCHED_SETAFFINITY: u64 = 122;
    pub const SCHED_GETAFFINITY: u64 = 123;
    pub const SCHED_YIELD: u64 = 124;
    pub const SCHED_GET_PRIORITY_MAX: u64 = 125;
    pub const SCHED_GET_PRIORITY_MIN: u64 = 126;
    pub const KILL: u64 = 129;
    pub const TKILL: u64 = 130;
    pub const TGKILL: u64 = 131;
    pub const SIGALTSTACK: u64 = 132;
    pub const RT_SIGSUSPEND: u64 = 133;
    pub const RT_SIGACTION: u64 = 134;
    pub const RT_SIGPROCMASK: u64 = 135;
    pub const RT_SIGPENDING: u64 = 136;
    pub const RT_SIGTIMEDWAIT: u64 = 137;
    pub const RT_SIGQUEUEINFO: u64 = 138;
    pub const RT_SIGRETURN: u64 = 139;
    pub const SETPRIORITY: u64 = 140;
    pub const GETPRIORITY: u64 = 141;
    pub const SETREGID: u64 = 143;
    pub const SETGID: u64 = 144;
    pub const SETREUID: u64 = 145;
    pub const SETUID: u64 = 146;
    pub const SETRESUID: u64 = 147;
    pub const GETRESUID: u64 = 148;
    pub const SETRESGID: u64 = 149;
    pub const GETRESGID: u64 = 150;
    pub const TIMES: u64 = 153;
    pub const SETPGID: u64 = 154;
    pub const GETPGID: u64 = 155;
    pub const GETSID: u64 = 156;
    pub const SETSID: u64 = 157;
    pub const GETGROUPS: u64 = 158;
    pub const SETGROUPS: u64 = 159;
    pub const UNAME: u64 = 160;
    pub const GETRLIMIT: u64 = 163;
    pub const SETRLIMIT: u64 = 164;
    pub const GETRUSAGE: u64 = 165;
    pub const UMASK: u64 = 166;
    pub const PRCTL: u64 = 167;
    pub const GETCPU: u64 = 168;
    pub const GETTIMEOFDAY: u64 = 169;
    pub const GETPID: u64 = 172;
    pub const GETPPID: u64 = 173;
    pub const GETUID: u64 = 174;
    pub const GETEUID: u64 = 175;
    pub const GETGID: u64 = 176;
    pub const GETEGID: u64 = 177;
    pub const GETTID: u64 = 178;
    pub const SYSINFO: u64 = 179;
    pub const SOCKET: u64 = 198;
    pub const SOCKETPAIR: u64 = 199;
    pub const BIND: u64 = 200;
    pub const LISTEN: u64 = 201;
    pub const ACCEPT: u64 = 202;
    pub const CONNECT: u64 = 203;
    pub const GETSOCKNAME: u64 = 204;
    pub const GETPEERNAME: u64 = 205;
    pub const SENDTO: u64 = 206;
    pub const RECVFROM: u64 = 207;
    pub const SETSOCKOPT: u64 = 208;
    pub const GETSOCKOPT: u64 = 209;
    pub const SHUTDOWN: u64 = 210;
    pub const SENDMSG: u64 = 211;
    pub const RECVMSG: u64 = 212;
    pub const BRK: u64 = 214;
    pub const MUNMAP: u64 = 215;
    pub const MREMAP: u64 = 216;
    pub const CLONE: u64 = 220;
    pub const EXECVE: u64 = 221;
    pub const MMAP: u64 = 222;
    pub const FADVISE64: u64 = 223;
    pub const MPROTECT: u64 = 226;
    pub const MSYNC: u64 = 227;
    pub const MLOCK: u64 = 228;
    pub const MUNLOCK: u64 = 229;
    pub const MLOCKALL: u64 = 230;
    pub const MUNLOCKALL: u64 = 231;
    pub const MINCORE: u64 = 232;
    pub const MADVISE: u64 = 233;
    pub const RT_TGSIGQUEUEINFO: u64 = 240;
    pub const ACCEPT4: u64 = 242;
    pub const RISCV_HWPROBE: u64 = 258;
    pub const RISCV_FLUSH_ICACHE: u64 = 259;
    pub const WAIT4: u64 = 260;
    pub const PRLIMIT64: u64 = 261;
    pub const SYNCFS: u64 = 267;
    pub const RENAMEAT2: u64 = 276;
    /// renameat: in the aarch64 table only (__ARCH_WANT_RENAMEAT), not riscv64's.
    pub const RENAMEAT: u64 = 38;
    pub const GETRANDOM: u64 = 278;
    pub const MEMFD_CREATE: u64 = 279;
    pub const MEMBARRIER: u64 = 283;
    pub const COPY_FILE_RANGE: u64 = 285;
    pub const STATX: u64 = 291;
    pub const RSEQ: u64 = 293;
    pub const CLONE3: u64 = 435;
    pub const CLOSE_RANGE: u64 = 436;
    pub const FACCESSAT2: u64 = 439;
}

pub mod clone_flags {
    pub const CLONE_VM: u64 = 0x100;
    pub const CLONE_SIGHAND: u64 = 0x800;
    pub const CLONE_VFORK: u64 = 0x4000;
    pub const CLONE_THREAD: u64 = 0x10000;
    pub const CLONE_SETTLS: u64 = 0x80000;
    pub const CLONE_PARENT_SETTID: u64 = 0x100000;
    pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
    pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
}

/// What a syscall did to the guest's registers.
pub enum SysRet {
    /// Put the value in the result register and continue after the syscall instruction.
    Value(i64),
    /// The syscall set the registers itself (rt_sigreturn, execve failure paths...).
    Regs,
    /// This thread exits with the code.
    ExitThread(i32),
}

pub type R = Result<i64, i32>;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Call a host syscall, returning its result or -errno folded into Err(errno).
pub fn host(nr: libc::c_long, a: [u64; 6]) -> R {
    // SAFETY: the caller has translated every pointer argument to a host pointer inside
    // the guest reservation (or NULL); the kernel validates the rest.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 { Err(errno()) } else { Ok(r) }
}

/// Dispatch one syscall of `t`.
pub fn dispatch(t: &mut Thread, nr: u64, a: [u64; 6]) -> SysRet {
    let strace = t.proc_.cfg.strace;
    let pre = if strace {
        Some(describe_call(t, nr, &a))
    } else {
        None
    };
    if strace
        && matches!(
            nr,
            nr::EXIT | nr::EXIT_GROUP | nr::EXECVE | nr::RT_SIGRETURN
        )
        && let Some(p) = &pre
    {
        tracing::info!(target: "strace", "{} {p}", gettid());
    }
    let r = match nr {
        nr::EXIT => return SysRet::ExitThread(a[0] as i32),
        nr::EXIT_GROUP => {
            t.log_stats();
            crate::exit_process(a[0] as i32)
        }
        nr::RT_SIGRETURN => return sys_rt_sigreturn(t),
        nr::EXECVE => process::execve(t, a[0], a[1], a[2]),
        _ => dispatch_value(t, nr, a),
    };
    let v = match r {
        Ok(v) => v,
        Err(e) => -(e as i64),
    };
    if let Some(p) = pre
        && !matches!(nr, nr::EXIT | nr::EXIT_GROUP | nr::RT_SIGRETURN)
    {
        let res = if v < 0 && v > -4096 {
            format!("-1 errno={} ({})", -v, strerror(-v as i32))
        } else if v.unsigned_abs() > 0xffff {
            format!("{v:#x}")
        } else {
            format!("{v}")
        };
        tracing::info!(target: "strace", "{} {p} = {res}", gettid());
    }
    SysRet::Value(v)
}

fn dispatch_value(t: &mut Thread, n: u64, a: [u64; 6]) -> R {
    use libc as l;
    let m = &t.proc_.mem;
    match n {
        // ---- files and I/O: mostly pass-through (fs.rs) ----
        nr::READ | nr::WRITE | nr::PREAD64 | nr::PWRITE64 => {
            let buf = t.g2h(a[1], a[2])?;
            let hn = match n {
                nr::READ => l::SYS_read,
                nr::WRITE => l::SYS_write,
                nr::PREAD64 => l::SYS_pread64,
                _ => l::SYS_pwrite64,
            };
            host(hn, [a[0], buf, a[2], a[3], 0, 0])
        }
        nr::READV | nr::WRITEV | nr::PREADV | nr::PWRITEV => fs::rw_vec(t, n, a),
        nr::OPENAT => fs::openat(t, a),
        nr::CLOSE => host(l::SYS_close, [a[0], 0, 0, 0, 0, 0]),
        nr::CLOSE_RANGE => host(l::SYS_close_range, a),
        nr::LSEEK => host(l::SYS_lseek, a),
        nr::DUP => host(l::SYS_dup, a),
        nr::DUP3 => host(l::SYS_dup3, a),
        nr::FCNTL => fs::fcntl(t, a),
        nr::IOCTL => fs::ioctl(t, a),
        nr::FLOCK
        | nr::FSYNC
        | nr::FDATASYNC
        | nr::FTRUNCATE
        | nr::FCHMOD
        | nr::FCHOWN
        | nr::FCHDIR
        | nr::FALLOCATE
        | nr::FADVISE64
        | nr::SYNCFS
        | nr::UMASK
        | nr::SYNC => {
            let hn = match n {
                nr::FLOCK => l::SYS_flock,
                nr::FSYNC => l::SYS_fsync,
                nr::FDATASYNC => l::SYS_fdatasync,
                nr::FTRUNCATE => l::SYS_ftruncate,
                nr::FCHMOD => l::SYS_fchmod,
                nr::FCHOWN => l::SYS_fchown,
                nr::FCHDIR => l::SYS_fchdir,
                nr::FALLOCATE => l::SYS_fallocate,
                nr::FADVISE64 => l::SYS_fadvise64,
                nr::SYNCFS => l::SYS_syncfs,
                nr::SYNC => l::SYS_sync,
                _ => l::SYS_umask,
            };
            host(hn, a)
        }
        nr::PIPE2 => {
            let p = t.g2h(a[0], 8)?;
            host(l::SYS_pipe2, [p, a[1], 0, 0, 0, 0])
        }
        nr::GETCWD => {
            let p = t.g2h(a[0], a[1])?;
            host(l::SYS_getcwd, [p, a[1], 0, 0, 0, 0])
        }
        nr::CHDIR => {
            let p = fs::guest_path(t, a[0])?;
            host(l::SYS_chdir, [p.as_ptr() as u64, 0, 0, 0, 0, 0])
        }
        nr::MKDIRAT
        | nr::UNLINKAT
        | nr::FCHMODAT
        | nr::FACCESSAT
        | nr::FACCESSAT2
        | nr::MKNODAT
        | nr::FCHOWNAT
        | nr::INOTIFY_ADD_WATCH => {
            let p = fs::guest_path(t, a[1])?;
            let hn = match n {
                nr::MKDIRAT => l::SYS_mkdirat,
                nr::UNLINKAT => l::SYS_unlinkat,
                nr::FCHMODAT => l::SYS_fchmodat,
                nr::FACCESSAT => l::SYS_faccessat,
                nr::FACCESSAT2 => l::SYS_faccessat2,
                nr::MKNODAT => l::SYS_mknodat,
                nr::INOTIFY_ADD_WATCH => l::SYS_inotify_add_watch,
                _ => l::SYS_fchownat,
            };
            host(hn, [a[0], p.as_ptr() as u64, a[2], a[3], a[4], 0])
        }
        nr::TRUNCATE => {
            let p = fs::guest_path(t, a[0])?;
            host(l::SYS_truncate, [p.as_ptr() as u64, a[1], 0, 0, 0, 0])
        }
        nr::SYMLINKAT => {
            let target = t.cstr(a[0])?;
            let p = fs::guest_path(t, a[2])?;
            host(
                l::SYS_symlinkat,
                [target.as_ptr() as u64, a[1], p.as_ptr() as u64, 0, 0, 0],
            )
        }
        nr::RENAMEAT if t.proc_.arch == super::abi::Arch::Aarch64 => {
            let p1 = fs::guest_path(t, a[1])?;
            let p2 = fs::guest_path(t, a[3])?;
            host(
                l::SYS_renameat2,
                [a[0], p1.as_ptr() as u64, a[2], p2.as_ptr() as u64, 0, 0],
            )
        }
        nr::LINKAT | nr::RENAMEAT2 => {
            let p1 = fs::guest_path(t, a[1])?;
            let p2 = fs::guest_path(t, a[3])?;
            let hn = if n == nr::LINKAT {
                l::SYS_linkat
            } else {
                l::SYS_renameat2
            };
            host(
                hn,
                [a[0], p1.as_ptr() as u64, a[2], p2.as_ptr() as u64, a[4], 0],
            )
        }
        nr::READLINKAT => fs::readlinkat(t, a),
        nr::NEWFSTATAT => fs::newfstatat(t, a),
        nr::FSTAT => fs::fstat(t, a),
        nr::STATX => fs::statx(t, a),
        nr::STATFS => {
            let p = fs::guest_path(t, a[0])?;
            let b = t.g2h(a[1], 120)?;
            host(l::SYS_statfs, [p.as_ptr() as u64, b, 0, 0, 0, 0])
        }
        nr::FSTATFS => {
            let b = t.g2h(a[1], 120)?;
            host(l::SYS_fstatfs, [a[0], b, 0, 0, 0, 0])
        }
        nr::GETDENTS64 => {
            let b = t.g2h(a[1], a[2])?;
            host(l::SYS_getdents64, [a[0], b, a[2], 0, 0, 0])
        }
        nr::UTIMENSAT => {
            let p = if a[1] == 0 {
                None
            } else {
                Some(fs::guest_path(t, a[1])?)
            };
            let ts = t.g2h(a[2], 32)?;
            host(
                l::SYS_utimensat,
                [
                    a[0],
                    p.as_ref().map_or(0, |p| p.as_ptr() as u64),
                    ts,
                    a[3],
                    0,
                    0,
                ],
            )
        }
        nr::SENDFILE => {
            let off = t.g2h(a[2], 8)?;
            host(l::SYS_sendfile, [a[0], a[1], off, a[3], 0, 0])
        }
        nr::COPY_FILE_RANGE => {
            let o1 = t.g2h(a[1], 8)?;
            let o2 = t.g2h(a[3], 8)?;
            host(l::SYS_copy_file_range, [a[0], o1, a[2], o2, a[4], a[5]])
        }
        nr::SPLICE => {
            let o1 = t.g2h(a[1], 8)?;
            let o2 = t.g2h(a[3], 8)?;
            host(l::SYS_splice, [a[0], o1, a[2], o2, a[4], a[5]])
        }
        nr::MEMFD_CREATE => {
            let p = t.cstr(a[0])?;
            host(l::SYS_memfd_create, [p.as_ptr() as u64, a[1], 0, 0, 0, 0])
        }
        nr::EVENTFD2 => host(l::SYS_eventfd2, a),
        nr::INOTIFY_INIT1 => host(l::SYS_inotify_init1, a),
        nr::INOTIFY_RM_WATCH => host(l::SYS_inotify_rm_watch, a),
        nr::TIMERFD_CREATE => host(l::SYS_timerfd_create, a),
        nr::TIMERFD_SETTIME => {
            let new = t.g2h(a[2], 32)?;
            let old = t.g2h(a[3], 32)?;
            host(l::SYS_timerfd_settime, [a[0], a[1], new, old, 0, 0])
        }
        nr::TIMERFD_GETTIME => {
            let cur = t.g2h(a[1], 32)?;
            host(l::SYS_timerfd_gettime, [a[0], cur, 0, 0, 0, 0])
        }
        nr::EPOLL_CREATE1 => host(l::SYS_epoll_create1, a),
        nr::EPOLL_CTL => fs::epoll_ctl(t, a),
        nr::EPOLL_PWAIT => fs::epoll_pwait(t, a),
        nr::PPOLL => {
            let fds = t.g2h(a[0], a[1].saturating_mul(8))?;
            let ts = t.g2h(a[2], 16)?;
            host(l::SYS_ppoll, [fds, a[1], ts, 0, 8, 0])
        }
        nr::PSELECT6 => {
            let sz = a[0].div_ceil(64) * 8;
            let r = t.g2h(a[1], sz)?;
            let w = t.g2h(a[2], sz)?;
            let e = t.g2h(a[3], sz)?;
            let ts = t.g2h(a[4], 16)?;
            host(l::SYS_pselect6, [a[0], r, w, e, ts, 0])
        }
        // ---- sockets (structures match x86-64) ----
        nr::SOCKET | nr::LISTEN | nr::SHUTDOWN => {
            let hn = match n {
                nr::SOCKET => l::SYS_socket,
                nr::LISTEN => l::SYS_listen,
                _ => l::SYS_shutdown,
            };
            host(hn, a)
        }
        nr::SOCKETPAIR => {
            let sv = t.g2h(a[3], 8)?;
            host(l::SYS_socketpair, [a[0], a[1], a[2], sv, 0, 0])
        }
        nr::BIND | nr::CONNECT => {
            let sa = t.g2h(a[1], a[2])?;
            let hn = if n == nr::BIND {
                l::SYS_bind
            } else {
                l::SYS_connect
            };
            host(hn, [a[0], sa, a[2], 0, 0, 0])
        }
        nr::ACCEPT | nr::ACCEPT4 | nr::GETSOCKNAME | nr::GETPEERNAME => {
            let len = t.g2h(a[2], 4)?;
            let alen = if a[2] != 0 {
                m.load(a[2], 4).map_err(|_| l::EFAULT)?
            } else {
                0
            };
            let sa = t.g2h(a[1], alen)?;
            let hn = match n {
                nr::ACCEPT => l::SYS_accept,
                nr::ACCEPT4 => l::SYS_accept4,
                nr::GETSOCKNAME => l::SYS_getsockname,
                _ => l::SYS_getpeername,
            };
            host(hn, [a[0], sa, len, a[3], 0, 0])
        }
        nr::SENDTO => {
            let buf = t.g2h(a[1], a[2])?;
            let sa = t.g2h(a[4], a[5])?;
            host(l::SYS_sendto, [a[0], buf, a[2], a[3], sa, a[5]])
        }
        nr::RECVFROM => {
            let buf = t.g2h(a[1], a[2])?;
            let len = t.g2h(a[5], 4)?;
            let alen = if a[5] != 0 {
                m.load(a[5], 4).map_err(|_| l::EFAULT)?
            } else {
                0
            };
            let sa = t.g2h(a[4], alen)?;
            host(l::SYS_recvfrom, [a[0], buf, a[2], a[3], sa, len])
        }
        nr::SETSOCKOPT => {
            let v = t.g2h(a[3], a[4])?;
            host(l::SYS_setsockopt, [a[0], a[1], a[2], v, a[4], 0])
        }
        nr::GETSOCKOPT => {
            let len = t.g2h(a[4], 4)?;
            let vlen = if a[4] != 0 {
                m.load(a[4], 4).map_err(|_| l::EFAULT)?
            } else {
                0
            };
            let v = t.g2h(a[3], vlen)?;
            host(l::SYS_getsockopt, [a[0], a[1], a[2], v, len, 0])
        }
        nr::SENDMSG | nr::RECVMSG => fs::sendrecvmsg(t, n, a),
        // ---- memory ----
        nr::BRK => Ok(sys_brk(t, a[0]) as i64),
        nr::MMAP => sys_mmap(t, a),
        nr::MUNMAP => sys_munmap(t, a[0], a[1]),
        nr::MPROTECT => sys_mprotect(t, a[0], a[1], a[2]),
        nr::MREMAP => sys_mremap(t, a),
        nr::MADVISE => sys_madvise(t, a),
        nr::MSYNC => {
            let p = t.g2h(a[0], a[1])?;
            host(l::SYS_msync, [p, a[1], a[2], 0, 0, 0])
        }
        nr::MLOCK | nr::MUNLOCK | nr::MLOCKALL | nr::MUNLOCKALL => Ok(0),
        nr::MINCORE => {
            let p = t.g2h(a[0], a[1])?;
            let v = t.g2h(a[2], a[1].div_ceil(PAGE))?;
            host(l::SYS_mincore, [p, a[1], v, 0, 0, 0])
        }
        nr::RISCV_FLUSH_ICACHE if t.proc_.arch == super::abi::Arch::Riscv64 => {
            heron_backend::engine::request_flush_all();
            Ok(0)
        }
        nr::RISCV_HWPROBE if t.proc_.arch == super::abi::Arch::Riscv64 => {
            let (mask, _) = super::abi_riscv64::host_cpus();
            super::abi_riscv64::sys_riscv_hwprobe(&t.proc_.mem, a, &mask)
        }
        nr::MEMBARRIER => sys_membarrier(a),
        // glibc copes with both: no rseq registration, and clone3 falls back to clone.
        nr::RSEQ | nr::CLONE3 => Err(l::ENOSYS),
        // ---- processes and threads ----
        nr::CLONE => process::clone(t, a),
        nr::WAIT4 => {
            let st = t.g2h(a[1], 4)?;
            let ru = t.g2h(a[3], 144)?;
            host(l::SYS_wait4, [a[0], st, a[2], ru, 0, 0])
        }
        nr::WAITID => {
            let info = t.g2h(a[2], 128)?;
            let ru = t.g2h(a[4], 144)?;
            host(l::SYS_waitid, [a[0], a[1], info, a[3], ru, 0])
        }
        nr::KILL => process::kill(t, a[0] as i32, a[1] as i32),
        nr::TKILL => process::tgkill(t, -1, a[0] as i32, a[1] as i32),
        nr::TGKILL => process::tgkill(t, a[0] as i32, a[1] as i32, a[2] as i32),
        nr::RT_SIGQUEUEINFO => process::sigqueueinfo(t, a[0] as i32, None, a[1] as i32, a[2]),
        nr::RT_TGSIGQUEUEINFO => {
            process::sigqueueinfo(t, a[0] as i32, Some(a[1] as i32), a[2] as i32, a[3])
        }
        nr::SET_TID_ADDRESS => {
            t.clear_child_tid = a[0];
            Ok(t.tid() as i64)
        }
        nr::SET_ROBUST_LIST => Ok(0),
        nr::GET_ROBUST_LIST => Err(l::ENOSYS),
        nr::FUTEX => process::futex(t, a),
        nr::GETPID => host(l::SYS_getpid, a),
        nr::GETPPID => host(l::SYS_getppid, a),
        nr::GETTID => Ok(t.tid() as i64),
        nr::GETUID => host(l::SYS_getuid, a),
        nr::GETEUID => host(l::SYS_geteuid, a),
        nr::GETGID => host(l::SYS_getgid, a),
        nr::GETEGID => host(l::SYS_getegid, a),
        nr::GETRESUID | nr::GETRESGID => {
            let p0 = t.g2h(a[0], 4)?;
            let p1 = t.g2h(a[1], 4)?;
            let p2 = t.g2h(a[2], 4)?;
            let hn = if n == nr::GETRESUID {
                l::SYS_getresuid
            } else {
                l::SYS_getresgid
            };
            host(hn, [p0, p1, p2, 0, 0, 0])
        }
        nr::SETUID | nr::SETGID | nr::SETREUID | nr::SETREGID | nr::SETRESUID | nr::SETRESGID => {
            let hn = match n {
                nr::SETUID => l::SYS_setuid,
                nr::SETGID => l::SYS_setgid,
                nr::SETREUID => l::SYS_setreuid,
                nr::SETREGID => l::SYS_setregid,
                nr::SETRESUID => l::SYS_setresuid,
                _ => l::SYS_setresgid,
            };
            host(hn, a)
        }
        nr::GETGROUPS | nr::SETGROUPS => {
            let p = t.g2h(a[1], a[0].saturating_mul(4))?;
            let hn = if n == nr::GETGROUPS {
                l::SYS_getgroups
            } else {
                l::SYS_setgroups
            };
            host(hn, [a[0], p, 0, 0, 0, 0])
        }
        nr::SETSID => host(l::SYS_setsid, a),
        nr::GETSID => host(l::SYS_getsid, a),
        nr::SETPGID => host(l::SYS_setpgid, a),
        nr::GETPGID => host(l::SYS_getpgid, a),
        nr::GETPRIORITY => host(l::SYS_getpriority, a),
        nr::SETPRIORITY => host(l::SYS_setpriority, a),
        // Only PER_LINUX exists for the guest: report it for queries and changes alike.
        nr::PERSONALITY => Ok(0),
        nr::PRCTL => sys_prctl(t, a),
        nr::CAPGET => {
            let h = t.g2h(a[0], 8)?;
            let d = t.g2h(a[1], 24)?;
            host(l::SYS_capget, [h, d, 0, 0, 0, 0])
        }
        // ---- signals ----
        nr::RT_SIGACTION => sys_rt_sigaction(t, a[0] as i32, a[1], a[2], a[3]),
        nr::RT_SIGPROCMASK => sys_rt_sigprocmask(t, a[0], a[1], a[2], a[3]),
        nr::RT_SIGPENDING => {
            signal::drain_host_pending(&t.proc_.sig.pending);
            let mut bits = 0u64;
            for q in [&t.shared.pending, &t.proc_.sig.pending] {
                for i in q.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                    bits |= signal::bit(signal::siginfo_signo(i));
                }
            }
            m.store(a[0], 8, bits & t.mask()).map_err(|_| l::EFAULT)?;
            Ok(0)
        }
        nr::RT_SIGSUSPEND => {
            if a[1] != 8 {
                return Err(l::EINVAL);
            }
            let new = m.load(a[0], 8).map_err(|_| l::EFAULT)?;
            let old = t.mask();
            t.set_mask(new);
            // Wait with the temporary mask; the run loop delivers the signal after the
            // syscall returns, and the handler's frame saves the pre-suspend mask.
            t.saved_mask = Some(old);
            let hm = signal::block_all_host();
            while !t.has_deliverable(t.mask()) {
                signal::wait_host_signal(None);
            }
            signal::restore_host_mask(&hm);
            Err(l::EINTR)
        }
        nr::RT_SIGTIMEDWAIT => sys_rt_sigtimedwait(t, a),
        nr::SIGALTSTACK => sys_sigaltstack(t, a[0], a[1]),
        // ---- time ----
        nr::CLOCK_GETTIME | nr::CLOCK_GETRES => {
            let p = t.g2h(a[1], 16)?;
            let hn = if n == nr::CLOCK_GETTIME {
                l::SYS_clock_gettime
            } else {
                l::SYS_clock_getres
            };
            host(hn, [a[0], p, 0, 0, 0, 0])
        }
        nr::GETTIMEOFDAY => {
            let tv = t.g2h(a[0], 16)?;
            let tz = t.g2h(a[1], 8)?;
            host(l::SYS_gettimeofday, [tv, tz, 0, 0, 0, 0])
        }
        nr::NANOSLEEP => sleep(t, None, 0, a[0], a[1]),
        nr::CLOCK_NANOSLEEP => sleep(t, Some(a[0]), a[1], a[2], a[3]),
        nr::GETITIMER | nr::SETITIMER => {
            if n == nr::GETITIMER {
                let p = t.g2h(a[1], 32)?;
                host(l::SYS_getitimer, [a[0], p, 0, 0, 0, 0])
            } else {
                let p = t.g2h(a[1], 32)?;
                let o = t.g2h(a[2], 32)?;
                host(l::SYS_setitimer, [a[0], p, o, 0, 0, 0])
            }
        }
        nr::TIMES => {
            let p = t.g2h(a[0], 32)?;
            host(l::SYS_times, [p, 0, 0, 0, 0, 0])
        }
        nr::GETRUSAGE => {
            let p = t.g2h(a[1], 144)?;
            host(l::SYS_getrusage, [a[0], p, 0, 0, 0, 0])
        }
        // ---- system information ----
        nr::UNAME => sys_uname(t, a[0]),
        nr::SYSINFO => {
            let p = t.g2h(a[0], 112)?;
            host(l::SYS_sysinfo, [p, 0, 0, 0, 0, 0])
        }
        nr::GETRANDOM => {
            let p = t.g2h(a[0], a[1])?;
            host(l::SYS_getrandom, [p, a[1], a[2], 0, 0, 0])
        }
        nr::GETRLIMIT => sys_prlimit(t, 0, a[0], 0, a[1]),
        nr::SETRLIMIT => sys_prlimit(t, 0, a[0], a[1], 0),
        nr::PRLIMIT64 => sys_prlimit(t, a[0], a[1], a[2], a[3]),
        nr::SCHED_GETAFFINITY => {
            let p = t.g2h(a[2], a[1])?;
            host(l::SYS_sched_getaffinity, [a[0], a[1], p, 0, 0, 0])
        }
        nr::SCHED_SETAFFINITY => {
            let p = t.g2h(a[2], a[1])?;
            host(l::SYS_sched_setaffinity, [a[0], a[1], p, 0, 0, 0])
        }
        nr::SCHED_YIELD => host(l::SYS_sched_yield, a),
        nr::SCHED_GET_PRIORITY_MAX => host(l::SYS_sched_get_priority_max, a),
        nr::SCHED_GET_PRIORITY_MIN => host(l::SYS_sched_get_priority_min, a),
        nr::GETCPU => {
            let c = t.g2h(a[0], 4)?;
            let nd = t.g2h(a[1], 4)?;
            host(l::SYS_getcpu, [c, nd, 0, 0, 0, 0])
        }
        _ => {
            let first = t
                .proc_
                .unknown_logged
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(n);
            if first {
                tracing::warn!(target: "strace", "heron: unsupported syscall {n} ({})", syscall_name(n));
                if !t.proc_.cfg.strace && std::env::var_os("HERON_WARN_ENOSYS").is_some() {
                    eprintln!("heron: unsupported syscall {n} ({})", syscall_name(n));
                }
            }
            Err(l::ENOSYS)
        }
    }
}

impl Thread {
    /// Host address of guest [addr, addr+len) for pass-through (NULL stays NULL). Only the
    /// range is checked here; the host kernel checks access rights, as host protections
    /// mirror guest ones.
    pub fn g2h(&self, addr: u64, len: u64) -> Result<u64, i32> {
        if addr == 0 {
            return Ok(0);
        }
        if !self.proc_.mem.in_range(addr, len.max(1)) {
            return Err(libc::EFAULT);
        }
        Ok(self.proc_.mem.host_ptr(addr) as u64)
    }

    /// A NUL-terminated guest string as a host C string.
    pub fn cstr(&self, addr: u64) -> Result<std::ffi::CString, i32> {
        let v = self
            .proc_
            .mem
            .read_cstr(addr, 4096)
            .map_err(|_| libc::EFAULT)?;
        std::ffi::CString::new(v).map_err(|_| libc::EINVAL)
    }
}

// ---- memory management --------------------------------------------------------------

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

fn perms_of_prot(prot: u64) -> u8 {
    let mut p = 0;
    if prot & PROT_READ != 0 {
        p |= PERM_R;
    }
    if prot & PROT_WRITE != 0 {
        p |= PERM_W;
    }
    if prot & PROT_EXEC != 0 {
        p |= PERM_X;
    }
    p
}

fn had_exec(mm: &super::mm::Mm, start: u64, end: u64) -> bool {
    mm.areas_in(start, end)
        .iter()
        .any(|(_, v)| v.prot & PERM_X != 0)
}

fn sys_brk(t: &mut Thread, new: u64) -> u64 {
    let mem = t.proc_.mem.clone();
    let mut mm = t.proc_.mm.lock().unwrap_or_else(|p| p.into_inner());
    let cur = mm.brk_cur;
    if new < mm.brk_start {
        return cur;
    }
    let (Some(new_page), Some(cur_page)) = (page_up(new), page_up(cur)) else {
        return cur;
    };
    if new_page > cur_page {
        if new_page > mm.mmap_top || !mm.is_free(cur_page, new_page) {
            return cur;
        }
        if mem
            .map_anon(cur_page, new_page - cur_page, PERM_R | PERM_W)
            .is_err()
        {
            return cur;
        }
        mm.insert(cur_page, new_page, PERM_R | PERM_W, VmaKind::Anon);
    } else if new_page < cur_page {
        if mem.unmap(new_page, cur_page - new_page).is_err() {
            return cur;
        }
        mm.remove(new_page, cur_page);
    }
    mm.brk_cur = new;
    new
}

fn sys_mmap(t: &mut Thread, a: [u64; 6]) -> R {
    let (addr, len, prot, flags, fd, off) = (a[0], a[1], a[2], a[3], a[4] as i32, a[5]);
    if len == 0 || !off.is_multiple_of(PAGE) {
        return Err(libc::EINVAL);
    }
    let len = page_up(len).ok_or(libc::ENOMEM)?;
    let kind_bits = flags & 0x0f;
    if kind_bits != MAP_SHARED && kind_bits != MAP_PRIVATE && kind_bits != MAP_SHARED_VALIDATE {
        return Err(libc::EINVAL);
    }
    let shared = kind_bits != MAP_PRIVATE;
    let perms = perms_of_prot(prot);
    let mem = t.proc_.mem.clone();
    let mut mm = t.proc_.mm.lock().unwrap_or_else(|p| p.into_inner());
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let start = if fixed {
        if !addr.is_multiple_of(PAGE) {
            return Err(libc::EINVAL);
        }
        let end = addr.checked_add(len).ok_or(libc::ENOMEM)?;
        if addr < PAGE || end > super::SIGTRAMP_PAGE {
            return Err(libc::ENOMEM);
        }
        if flags & MAP_FIXED == 0 && !mm.is_free(addr, end) {
            return Err(libc::EEXIST);
        }
        addr
    } else {
        mm.find_free(len, addr).ok_or(libc::ENOMEM)?
    };
    let end = start + len;
    let flush = had_exec(&mm, start, end);
    let mut name = None;
    let kind = if flags & MAP_ANONYMOUS != 0 {
        if shared {
            // Shared anonymous memory: back it with a memfd so forks share it.
            let name = c"heron-shm";
            // SAFETY: valid C string; the fd is closed below.
            let mfd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
            if mfd < 0 {
                return Err(errno());
            }
            // SAFETY: our own fresh memfd.
            let r = unsafe { libc::ftruncate(mfd, len as libc::off_t) };
            let res = if r == 0 {
                mem.map_file(start, len, perms, true, mfd, 0)
            } else {
                Err(std::io::Error::last_os_error())
            };
            // SAFETY: closing our own fd; the mapping keeps the memory.
            unsafe { libc::close(mfd) };
            res.map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
            VmaKind::Shared
        } else {
            mem.map_anon(start, len, perms)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
            VmaKind::Anon
        }
    } else {
        mem.map_file(start, len, perms, shared, fd, off)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
        name = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok();
        if shared {
            VmaKind::Shared
        } else {
            VmaKind::File
        }
    };
    mm.insert(start, end, perms, kind);
    if let Some(p) = name {
        mm.set_name(start, end, off, p.to_string_lossy().into_owned());
    }
    drop(mm);
    if flush {
        heron_backend::engine::request_flush_all();
    }
    Ok(start as i64)
}

fn check_range(addr: u64, len: u64) -> Result<(u64, u64), i32> {
    if !addr.is_multiple_of(PAGE) {
        return Err(libc::EINVAL);
    }
    let len = page_up(len).ok_or(libc::EINVAL)?;
    let end = addr.checked_add(len).ok_or(libc::EINVAL)?;
    if end > super::GUEST_LIMIT {
        return Err(libc::EINVAL);
    }
    Ok((addr, end))
}

fn sys_munmap(t: &mut Thread, addr: u64, len: u64) -> R {
    if len == 0 {
        return Err(libc::EINVAL);
    }
    let (start, end) = check_range(addr, len)?;
    let mut mm = t.proc_.mm.lock().unwrap_or_else(|p| p.into_inner());
    let flush = had_exec(&mm, start, end);
    for (s, v) in mm.areas_in(start, end) {
        t.proc_
            .mem
            .unmap(s, v.end - s)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))?;
    }
    mm.remove(start, end);
    drop(mm);
    if flush {
        heron_backend::engine::request_flush_all();
    }
    Ok(0)
}

fn sys_mprotect(t: &mut Thread, addr: u64, len: u64, prot: u64) -> R {
    let (start, end) = check_range(addr, len)?;
    if start == end {
        return Ok(0);
    }
    let perms = perms_of_prot(prot);
    let mut mm = t.proc_.mm.lock().unwrap_or_else(|p| p.into_inner());
    if !mm.is_fully_mapped(start, end) {
        return Err(libc::ENOMEM);
    }
    let flush = had_exec(&mm, start, end) || perms & PERM_X != 0;
    t.proc_
        .mem
        .protect(start, end - start, perms)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EACCES))?;
    let _ = mm.protect(start, end, perms);
    drop(mm);
    if flush {
        heron_backend::engine::request_flush_all();
    }
    Ok(0)
}

fn sys_mremap(t: &mut Thread, a: [u64; 6]) -> R {
    const MAYMOVE: u64 = 1;
    const FIXED: u64 = 2;
    let (old, old_len, new_len, flags, new_addr) = (a[0], a[1], a[2], a[3], a[4]);
    if !old.is_multiple_of(PAGE) || flags & !(MAYMOVE | FIXED) != 0 || new_len == 0 {
        return Err(libc::EINVAL);
    }
    if flags & FIXED != 0 && flags & MAYMOVE == 0 {
        return Err(libc::EINVAL);
    }
    let old_len = page_up(old_len).ok_or(libc::EINVAL)?;
    let new_len = page_up(new_len).ok_or(libc::EINVAL)?;
    let old_end = old.checked_add(old_len).ok_or(libc::EINVAL)?;
    let mem = t.proc_.mem.clone();
    let mut mm = t.proc_.mm.lock().unwrap_or_else(|p| p.into_inner());
    if old_len == 0 || !mm.is_fully_mapped(old, old_end) {
        return Err(libc::EFAULT);
    }
    let (_, first) = mm.find(old).ok_or(libc::EFAULT)?;
    let flush = had_exec(&mm, old, old_end);
    if flags & FIXED == 0 {
        if new_len <= old_len {
            if new_len < old_len {
                mem.unmap(old + new_len, old_len - new_len)
                    .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))?;
                mm.remove(old + new_len, old_end);
            }
            return Ok(old as i64);
        }
        let grow_end = old.checked_add(new_len).ok_or(libc::ENOMEM)?;
        if first.kind == VmaKind::Anon
            && grow_end <= mm.mmap_top.max(old_end)
            && mm.is_free(old_end, grow_end)
        {
            let (_, last) = mm.find(old_end - 1).ok_or(libc::EFAULT)?;
            mem.map_anon(old_end, grow_end - old_end, last.prot)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
            mm.insert(old_end, grow_end, last.prot, VmaKind::Anon);
            return Ok(old as i64);
        }
        if flags & MAYMOVE == 0 {
            return Err(libc::ENOMEM);
        }
    }
    let dest = if flags & FIXED != 0 {
        if !new_addr.is_multiple_of(PAGE) {
            return Err(libc::EINVAL);
        }
        let e = new_addr.checked_add(new_len).ok_or(libc::EINVAL)?;
        if e > super::SIGTRAMP_PAGE || new_addr < PAGE || (new_addr < old_end && e > old) {
            return Err(libc::EINVAL);
        }
        new_addr
    } else {
        mm.find_free(new_len, 0).ok_or(libc::ENOMEM)?
    };
    // Move the host pages (contents and file backing) with the host's mremap.
    let keep = old_len.min(new_len);
    // SAFETY: both ranges lie in our reservation; MREMAP_FIXED replaces the reservation's
    // PROT_NONE pages at the destination.
    let r = unsafe {
        libc::mremap(
            mem.host_ptr(old) as *mut libc::c_void,
            old_len as usize,
            new_len as usize,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            mem.host_ptr(dest) as *mut libc::c_void,
        )
    };
    if r == libc::MAP_FAILED {
        return Err(errno());
    }
    let _ = keep;
    // The source range left a hole in the reservation: fill it again.
    let _ = mem.unmap(old, old_len);
    let _ = mem.protect(dest, new_len, first.prot);
    mm.remove(old, old_end);
    mm.insert(dest, dest + new_len, first.prot, first.kind);
    drop(mm);
    if flush {
        heron_backend::engine::request_flush_all();
    }
    Ok(dest as i64)
}

fn sys_madvise(t: &mut Thread, a: [u64; 6]) -> R {
    const MADV_DONTNEED: u64 = 4;
    let (start, end) = check_range(a[0], a[1])?;
    if a[2] == MADV_DONTNEED {
        // Pass through: private anonymous pages read back as zero afterwards.
        let mm = t.proc_.mm.lock().unwrap_or_else(|p| p.into_inner());
        if !mm.is_fully_mapped(start, end) {
            return Err(libc::ENOMEM);
        }
        let p = t.proc_.mem.host_ptr(start) as u64;
        return host(libc::SYS_madvise, [p, end - start, a[2], 0, 0, 0]);
    }
    Ok(0)
}

// ---- signals ------------------------------------------------------------------------

fn sys_rt_sigaction(t: &mut Thread, sig: i32, act: u64, old: u64, size: u64) -> R {
    if size != 8 || sig < 1 || sig as usize > signal::NSIG {
        return Err(libc::EINVAL);
    }
    let m = &t.proc_.mem;
    // struct sigaction: handler, flags, [restorer,] mask.
    let has_restorer = t.proc_.arch.has_sa_restorer();
    let sigaction_size = if has_restorer { 32 } else { 24 };
    let new = if act != 0 {
        if sig == signal::SIGKILL || sig == signal::SIGSTOP {
            return Err(libc::EINVAL);
        }
        let mut b = vec![0u8; sigaction_size];
        m.read_bytes(act, &mut b).map_err(|_| libc::EFAULT)?;
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        Some(if has_restorer {
            GuestSigAction {
                handler: w(0),
                flags: w(1),
                restorer: w(2),
                mask: w(3) & !signal::UNBLOCKABLE,
            }
        } else {
            GuestSigAction {
                handler: w(0),
                flags: w(1),
                restorer: 0,
                mask: w(2) & !signal::UNBLOCKABLE,
            }
        })
    } else {
        None
    };
    let prev = {
        let mut acts = t
            .proc_
            .sig
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let prev = acts[sig as usize];
        if let Some(n) = new {
            acts[sig as usize] = n;
        }
        prev
    };
    if let Some(n) = new {
        signal::set_host_disposition(sig, n.handler == signal::SIG_IGN);
        if n.handler == signal::SIG_IGN {
            // Discard pending instances.
            for q in [&t.shared.pending, &t.proc_.sig.pending] {
                q.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|i| signal::siginfo_signo(i) != sig);
            }
        }
    }
    if old != 0 {
        let mut b = vec![0u8; sigaction_size];
        b[0..8].copy_from_slice(&prev.handler.to_le_bytes());
        b[8..16].copy_from_slice(&prev.flags.to_le_bytes());
        if has_restorer {
            b[16..24].copy_from_slice(&prev.restorer.to_le_bytes());
            b[24..32].copy_from_slice(&prev.mask.to_le_bytes());
        } else {
            b[16..24].copy_from_slice(&prev.mask.to_le_bytes());
        }
        m.write_bytes(old, &b).map_err(|_| libc::EFAULT)?;
    }
    Ok(0)
}

fn sys_rt_sigprocmask(t: &mut Thread, how: u64, set: u64, old: u64, size: u64) -> R {
    if size != 8 {
        return Err(libc::EINVAL);
    }
    let m = &t.proc_.mem;
    let cur = t.mask();
    if set != 0 {
        let s = m.load(set, 8).map_err(|_| libc::EFAULT)?;
        let n = match how {
            0 => cur | s,
            1 => cur & !s,
            2 => s,
            _ => return Err(libc::EINVAL),
        };
        t.set_mask(n);
    }
    if old != 0 {
        m.store(old, 8, cur).map_err(|_| libc::EFAULT)?;
    }
    Ok(0)
}

fn sys_rt_sigreturn(t: &mut Thread) -> SysRet {
    let mem = t.proc_.mem.clone();
    match t.cpu.restore_signal_frame(&mem) {
        Some((mask, alt)) => {
            t.set_mask(mask);
            if alt.flags & signal::SS_DISABLE == 0 && alt.size != 0 {
                t.altstack.sp = alt.sp;
                t.altstack.size = alt.size;
                t.altstack.flags = 0;
            }
            SysRet::Regs
        }
        None => {
            t.force_signal(signal::info_fault(signal::SIGSEGV, signal::SI_USER, 0));
            SysRet::Regs
        }
    }
}

fn sys_rt_sigtimedwait(t: &mut Thread, a: [u64; 6]) -> R {
    if a[3] != 8 {
        return Err(libc::EINVAL);
    }
    let m = &t.proc_.mem;
    let set = m.load(a[0], 8).map_err(|_| libc::EFAULT)? & !signal::UNBLOCKABLE;
    let timeout = if a[2] != 0 {
        let s = m.load(a[2], 8).map_err(|_| libc::EFAULT)? as i64;
        let ns = m.load(a[2] + 8, 8).map_err(|_| libc::EFAULT)? as i64;
        Some(
            std::time::Instant::now()
                + std::time::Duration::new(s.max(0) as u64, ns.clamp(0, 999_999_999) as u32),
        )
    } else {
        None
    };
    let hm = signal::block_all_host();
    let got = loop {
        if let Some(i) = t.take_from_set(set) {
            break Some(i);
        }
        let ts = match timeout {
            Some(deadline) => {
                let now = std::time::Instant::now();
                if now >= deadline {
                    break None;
                }
                let d = deadline - now;
                Some(libc::timespec {
                    tv_sec: d.as_secs() as libc::time_t,
                    tv_nsec: d.subsec_nanos() as libc::c_long,
                })
            }
            None => None,
        };
        signal::wait_host_signal(ts);
        // A deliverable signal outside the set interrupts the wait.
        if t.has_deliverable(t.mask() | set) {
            signal::restore_host_mask(&hm);
            return Err(libc::EINTR);
        }
    };
    signal::restore_host_mask(&hm);
    match got {
        Some(info) => {
            if a[1] != 0 {
                m.write_bytes(a[1], &info).map_err(|_| libc::EFAULT)?;
            }
            Ok(signal::siginfo_signo(&info) as i64)
        }
        None => Err(libc::EAGAIN),
    }
}

fn sys_sigaltstack(t: &mut Thread, new: u64, old: u64) -> R {
    let m = t.proc_.mem.clone();
    let sp = t.cpu.sp();
    let on = t.on_altstack(sp);
    if old != 0 {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&t.altstack.sp.to_le_bytes());
        let fl = if t.altstack.size == 0 || t.altstack.flags & signal::SS_DISABLE != 0 {
            signal::SS_DISABLE
        } else if on {
            signal::SS_ONSTACK
        } else {
            0
        };
        b[8..12].copy_from_slice(&fl.to_le_bytes());
        b[16..24].copy_from_slice(&t.altstack.size.to_le_bytes());
        m.write_bytes(old, &b).map_err(|_| libc::EFAULT)?;
    }
    if new != 0 {
        if on {
            return Err(libc::EPERM);
        }
        let mut b = [0u8; 24];
        m.read_bytes(new, &mut b).map_err(|_| libc::EFAULT)?;
        let ss_sp = u64::from_le_bytes(b[0..8].try_into().unwrap_or([0; 8]));
        let flags = u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let size = u64::from_le_bytes(b[16..24].try_into().unwrap_or([0; 8]));
        if flags & signal::SS_DISABLE != 0 {
            t.altstack = super::AltStack {
                sp: 0,
                flags: signal::SS_DISABLE,
                size: 0,
            };
        } else {
            if flags & !(signal::SS_ONSTACK | 0x8000_0000) != 0 {
                return Err(libc::EINVAL);
            }
            if size < t.proc_.arch.minsigstksz() {
                return Err(libc::ENOMEM);
            }
            t.altstack = super::AltStack {
                sp: ss_sp,
                flags: 0,
                size,
            };
        }
    }
    Ok(0)
}

// ---- misc -----------------------------------------------------------------------------

/// nanosleep / clock_nanosleep. A host signal that brings no deliverable guest signal (one
/// the guest ignores or blocks) does not cut the sleep short: it goes on for the remaining
/// time, as on Linux where such a signal never interrupts it.
fn sleep(t: &mut Thread, clock: Option<u64>, flags: u64, req: u64, rem: u64) -> R {
    const TIMER_ABSTIME: u64 = 1;
    let m = t.proc_.mem.clone();
    let mut ts = [0u64; 2];
    ts[0] = m.load(req, 8).map_err(|_| libc::EFAULT)?;
    ts[1] = m.load(req + 8, 8).map_err(|_| libc::EFAULT)?;
    loop {
        let mut left = [0u64; 2];
        let r = match clock {
            None => host(
                libc::SYS_nanosleep,
                [ts.as_ptr() as u64, left.as_mut_ptr() as u64, 0, 0, 0, 0],
            ),
            Some(c) => host(
                libc::SYS_clock_nanosleep,
                [c, flags, ts.as_ptr() as u64, left.as_mut_ptr() as u64, 0, 0],
            ),
        };
        match r {
            Err(libc::EINTR) if !t.has_deliverable(t.mask()) => {
                if flags & TIMER_ABSTIME == 0 {
                    ts = left;
                }
            }
            Err(libc::EINTR) => {
                if rem != 0 && flags & TIMER_ABSTIME == 0 {
                    m.store(rem, 8, left[0]).map_err(|_| libc::EFAULT)?;
                    m.store(rem + 8, 8, left[1]).map_err(|_| libc::EFAULT)?;
                }
                return Err(libc::EINTR);
            }
            other => return other,
        }
    }
}

fn sys_uname(t: &mut Thread, buf: u64) -> R {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(errno());
    }
    let mut machine = [0 as libc::c_char; 65];
    for (d, s) in machine
        .iter_mut()
        .zip(t.proc_.arch.uname_machine().as_bytes())
    {
        *d = *s as libc::c_char;
    }
    u.machine = machine;
    // SAFETY: utsname is 6 * 65 bytes of chars, identical on riscv64.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            &u as *const _ as *const u8,
            std::mem::size_of::<libc::utsname>(),
        )
    };
    t.proc_
        .mem
        .write_bytes(buf, bytes)
        .map_err(|_| libc::EFAULT)?;
    Ok(0)
}

const MEMBARRIER_CMD_QUERY: u64 = 0;
const MEMBARRIER_SYNC_CORE: u64 = 32 | 64;
const MEMBARRIER_RSEQ: u64 = 128 | 256;

/// membarrier: guest threads are host threads of this process, so the host's barriers are
/// the right ones. The rseq commands are not offered (rseq is not supported); the
/// sync-core ones also make every thread re-translate guest code.
fn sys_membarrier(a: [u64; 6]) -> R {
    let (cmd, flags, cpu) = (a[0], a[1], a[2]);
    if cmd == MEMBARRIER_CMD_QUERY {
        let r = host(libc::SYS_membarrier, [cmd, flags, cpu, 0, 0, 0])?;
        return Ok(r & !(MEMBARRIER_RSEQ as i64));
    }
    if cmd & MEMBARRIER_RSEQ != 0 {
        return Err(libc::EINVAL);
    }
    let r = host(libc::SYS_membarrier, [cmd, flags, cpu, 0, 0, 0])?;
    if cmd & MEMBARRIER_SYNC_CORE == 32 {
        heron_backend::engine::request_flush_all();
    }
    Ok(r)
}

fn sys_prlimit(t: &mut Thread, pid: u64, res: u64, new: u64, old: u64) -> R {
    const RLIMIT_STACK: u64 = 3;
    const RLIMIT_DATA: u64 = 2;
    const RLIMIT_AS: u64 = 9;
    let oldp = t.g2h(old, 16)?;
    // Limits on heron's own address space would break the emulator: report them, but do
    // not apply guest changes to them.
    if matches!(res, RLIMIT_STACK | RLIMIT_DATA | RLIMIT_AS) && new != 0 {
        t.proc_.mem.load(new, 8).map_err(|_| libc::EFAULT)?;
        return host(libc::SYS_prlimit64, [pid, res, 0, oldp, 0, 0]);
    }
    let newp = t.g2h(new, 16)?;
    host(libc::SYS_prlimit64, [pid, res, newp, oldp, 0, 0])
}

fn sys_prctl(t: &mut Thread, a: [u64; 6]) -> R {
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_PDEATHSIG: u64 = 2;
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    match a[0] {
        PR_SET_NAME | PR_GET_NAME => {
            let p = t.g2h(a[1], 16)?;
            host(libc::SYS_prctl, [a[0], p, 0, 0, 0, 0])
        }
        PR_GET_PDEATHSIG => {
            let p = t.g2h(a[1], 4)?;
            host(libc::SYS_prctl, [a[0], p, 0, 0, 0, 0])
        }
        PR_SET_PDEATHSIG | PR_GET_DUMPABLE | PR_SET_DUMPABLE => host(libc::SYS_prctl, a),
        _ => Err(libc::EINVAL),
    }
}

// ---- strace ---------------------------------------------------------------------------

/// The host's message for an errno value, without Rust's " (os error N)" suffix.
fn strerror(e: i32) -> String {
    let s = std::io::Error::from_raw_os_error(e).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Name of a generic syscall number.
pub fn syscall_name(n: u64) -> &'static str {
    NAMES
        .iter()
        .find(|(k, _, _)| *k == n)
        .map_or("unknown", |(_, s, _)| s)
}

/// (number, name, argument count) of the syscalls strace knows.
const NAMES: &[(u64, &str, u8)] = &[
    (17, "getcwd", 2),
    (19, "eventfd2", 2),
    (20, "epoll_create1", 1),
    (21, "epoll_ctl", 4),
    (22, "epoll_pwait", 6),
    (23, "dup", 1),
    (24, "dup3", 3),
    (25, "fcntl", 3),
    (26, "inotify_init1", 1),
    (29, "ioctl", 3),
    (32, "flock", 2),
    (33, "mknodat", 4),
    (34, "mkdirat", 3),
    (35, "unlinkat", 3),
    (36, "symlinkat", 3),
    (37, "linkat", 5),
    (38, "renameat", 4),
    (43, "statfs", 2),
    (44, "fstatfs", 2),
    (45, "truncate", 2),
    (46, "ftruncate", 2),
    (47, "fallocate", 4),
    (48, "faccessat", 3),
    (49, "chdir", 1),
    (50, "fchdir", 1),
    (52, "fchmod", 2),
    (53, "fchmodat", 3),
    (54, "fchownat", 5),
    (55, "fchown", 3),
    (56, "openat", 4),
    (57, "close", 1),
    (59, "pipe2", 2),
    (61, "getdents64", 3),
    (62, "lseek", 3),
    (63, "read", 3),
    (64, "write", 3),
    (65, "readv", 3),
    (66, "writev", 3),
    (67, "pread64", 4),
    (68, "pwrite64", 4),
    (69, "preadv", 4),
    (70, "pwritev", 4),
    (71, "sendfile", 4),
    (72, "pselect6", 6),
    (73, "ppoll", 5),
    (76, "splice", 6),
    (78, "readlinkat", 4),
    (79, "newfstatat", 4),
    (80, "fstat", 2),
    (81, "sync", 0),
    (82, "fsync", 1),
    (83, "fdatasync", 1),
    (85, "timerfd_create", 2),
    (86, "timerfd_settime", 4),
    (87, "timerfd_gettime", 2),
    (88, "utimensat", 4),
    (90, "capget", 2),
    (92, "personality", 1),
    (93, "exit", 1),
    (94, "exit_group", 1),
    (95, "waitid", 5),
    (96, "set_tid_address", 1),
    (98, "futex", 6),
    (99, "set_robust_list", 2),
    (100, "get_robust_list", 3),
    (101, "nanosleep", 2),
    (102, "getitimer", 2),
    (103, "setitimer", 3),
    (113, "clock_gettime", 2),
    (114, "clock_getres", 2),
    (115, "clock_nanosleep", 4),
    (122, "sched_setaffinity", 3),
    (123, "sched_getaffinity", 3),
    (124, "sched_yield", 0),
    (129, "kill", 2),
    (130, "tkill", 2),
    (131, "tgkill", 3),
    (132, "sigaltstack", 2),
    (133, "rt_sigsuspend", 2),
    (134, "rt_sigaction", 4),
    (135, "rt_sigprocmask", 4),
    (136, "rt_sigpending", 2),
    (137, "rt_sigtimedwait", 4),
    (139, "rt_sigreturn", 0),
    (140, "setpriority", 3),
    (141, "getpriority", 2),
    (143, "setregid", 2),
    (144, "setgid", 1),
    (145, "setreuid", 2),
    (146, "setuid", 1),
    (147, "setresuid", 3),
    (148, "getresuid", 3),
    (149, "setresgid", 3),
    (150, "getresgid", 3),
    (153, "times", 1),
    (154, "setpgid", 2),
    (155, "getpgid", 1),
    (156, "getsid", 1),
    (157, "setsid", 0),
    (158, "getgroups", 2),
    (159, "setgroups", 2),
    (160, "uname", 1),
    (163, "getrlimit", 2),
    (164, "setrlimit", 2),
    (165, "getrusage", 2),
    (166, "umask", 1),
    (167, "prctl", 5),
    (168, "getcpu", 3),
    (169, "gettimeofday", 2),
    (172, "getpid", 0),
    (173, "getppid", 0),
    (174, "getuid", 0),
    (175, "geteuid", 0),
    (176, "getgid", 0),
    (177, "getegid", 0),
    (178, "gettid", 0),
    (179, "sysinfo", 1),
    (198, "socket", 3),
    (199, "socketpair", 4),
    (200, "bind", 3),
    (201, "listen", 2),
    (202, "accept", 3),
    (203, "connect", 3),
    (204, "getsockname", 3),
    (205, "getpeername", 3),
    (206, "sendto", 6),
    (207, "recvfrom", 6),
    (208, "setsockopt", 5),
    (209, "getsockopt", 5),
    (210, "shutdown", 2),
    (211, "sendmsg", 3),
    (212, "recvmsg", 3),
    (214, "brk", 1),
    (215, "munmap", 2),
    (216, "mremap", 5),
    (220, "clone", 5),
    (221, "execve", 3),
    (222, "mmap", 6),
    (223, "fadvise64", 4),
    (226, "mprotect", 3),
    (227, "msync", 3),
    (228, "mlock", 2),
    (229, "munlock", 2),
    (232, "mincore", 3),
    (233, "madvise", 3),
    (240, "rt_tgsigqueueinfo", 4),
    (242, "accept4", 4),
    (258, "riscv_hwprobe", 5),
    (259, "riscv_flush_icache", 3),
    (260, "wait4", 4),
    (261, "prlimit64", 4),
    (267, "syncfs", 1),
    (276, "renameat2", 5),
    (278, "getrandom", 3),
    (279, "memfd_create", 2),
    (283, "membarrier", 3),
    (285, "copy_file_range", 6),
    (291, "statx", 5),
    (293, "rseq", 4),
    (435, "clone3", 2),
    (436, "close_range", 3),
    (439, "faccessat2", 4),
];

/// Which argument of a syscall is a path/string (for strace).
fn string_arg(n: u64) -> Option<usize> {
    match n {
        nr::OPENAT
        | nr::MKDIRAT
        | nr::UNLINKAT
        | nr::FCHMODAT
        | nr::FACCESSAT
        | nr::FACCESSAT2
        | nr::READLINKAT
        | nr::NEWFSTATAT
        | nr::STATX
        | nr::FCHOWNAT
        | nr::MKNODAT
        | nr::LINKAT
        | nr::RENAMEAT
        | nr::RENAMEAT2 => Some(1),
        nr::CHDIR | nr::EXECVE | nr::STATFS | nr::TRUNCATE | nr::MEMFD_CREATE => Some(0),
        _ => None,
    }
}

fn describe_call(t: &Thread, n: u64, a: &[u64; 6]) -> String {
    let (name, argc) = NAMES
        .iter()
        .find(|(k, _, _)| *k == n)
        .map_or(("unknown", 6), |(_, s, c)| (*s, *c as usize));
    let sarg = string_arg(n);
    let mut parts = Vec::with_capacity(argc);
    for (i, v) in a.iter().enumerate().take(argc) {
        if Some(i) == sarg {
            match t.proc_.mem.read_cstr(*v, 256) {
                Ok(s) => parts.push(format!("\"{}\"", String::from_utf8_lossy(&s))),
                Err(_) => parts.push(format!("{v:#x}")),
            }
        } else if (*v as i64).unsigned_abs() < 4096 {
            parts.push(format!("{}", *v as i64));
        } else {
            parts.push(format!("{v:#x}"));
        }
    }
    if name == "unknown" {
        format!("syscall_{n}({})", parts.join(","))
    } else {
        format!("{name}({})", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sorted() {
        for w in NAMES.windows(2) {
            assert!(w[0].0 < w[1].0, "{} {}", w[0].1, w[1].1);
        }
        assert_eq!(syscall_name(64), "write");
        assert_eq!(syscall_name(221), "execve");
        assert_eq!(syscall_name(9999), "unknown");
    }

    #[test]
    fn membarrier_commands() {
        // QUERY: the host's commands without the rseq ones; a fresh process may not use
        // private expedited before registering, and may afterwards.
        let q = sys_membarrier([MEMBARRIER_CMD_QUERY, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(q & MEMBARRIER_RSEQ as i64, 0);
        assert_ne!(
            q & 8,
            0,
            "host lacks MEMBARRIER_CMD_PRIVATE_EXPEDITED: {q:#x}"
        );
        assert_eq!(sys_membarrier([256, 0, 0, 0, 0, 0]), Err(libc::EINVAL));
        assert_eq!(sys_membarrier([128, 0, 0, 0, 0, 0]), Err(libc::EINVAL));
        assert_eq!(sys_membarrier([16, 0, 0, 0, 0, 0]), Ok(0));
        assert_eq!(sys_membarrier([8, 0, 0, 0, 0, 0]), Ok(0));
        assert_eq!(sys_membarrier([1 << 20, 0, 0, 0, 0, 0]), Err(libc::EINVAL));
    }

    #[test]
    fn prot_bits() {
        assert_eq!(perms_of_prot(7), PERM_R | PERM_W | PERM_X);
        assert_eq!(perms_of_prot(0), 0);
        assert_eq!(check_range(0x1001, 1), Err(libc::EINVAL));
        assert_eq!(check_range(0x1000, 1), Ok((0x1000, 0x2000)));
    }
}
