//! File-system and I/O syscalls that need more than pointer translation: guest paths (the
//! -L sysroot prefix, /proc/self/exe), `struct stat` (generic riscv64 layout vs x86-64),
//! `epoll_event` (packed on x86-64), iovec and msghdr arrays, fcntl locks and terminal ioctls.

use super::syscall::{R, host, nr};
use super::thread::Thread;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

/// The host path for a guest path argument: /proc/self/exe names the guest program, and
/// absolute paths are looked up under the -L prefix first.
pub fn guest_path(t: &Thread, addr: u64) -> Result<CString, i32> {
    let raw = t
        .proc_
        .mem
        .read_cstr(addr, 4096)
        .map_err(|_| libc::EFAULT)?;
    host_path(t, &raw)
}

pub fn host_path(t: &Thread, raw: &[u8]) -> Result<CString, i32> {
    if is_self_exe(raw) {
        return CString::new(t.proc_.exe_path.as_os_str().as_bytes()).map_err(|_| libc::EINVAL);
    }
    let p = super::prefixed_path(t.proc_.cfg.ld_prefix.as_deref(), raw);
    CString::new(p.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)
}

fn is_self_exe(raw: &[u8]) -> bool {
    if raw == b"/proc/self/exe" {
        return true;
    }
    // SAFETY: no arguments.
    let pid = unsafe { libc::getpid() };
    raw == format!("/proc/{pid}/exe").as_bytes()
}

/// Files under /proc that describe the guest rather than the host.
#[derive(Debug, PartialEq, Eq)]
enum ProcFile {
    CpuInfo,
    Maps,
}

fn proc_file(raw: &[u8], pid: i32) -> Option<ProcFile> {
    if raw == b"/proc/cpuinfo" {
        return Some(ProcFile::CpuInfo);
    }
    let rest = raw.strip_prefix(b"/proc/")?;
    let rest = rest.strip_suffix(b"/maps")?;
    (rest == b"self" || rest == b"thread-self" || rest == pid.to_string().as_bytes())
        .then_some(ProcFile::Maps)
}

/// A read-only-ish memfd holding `content`, positioned at its start.
fn memfd_with(content: &[u8], flags: u64) -> R {
    let cloexec = if flags & libc::O_CLOEXEC as u64 != 0 {
        libc::MFD_CLOEXEC
    } else {
        0
    };
    // SAFETY: valid C string.
    let fd = unsafe { libc::memfd_create(c"heron-proc".as_ptr(), cloexec) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOMEM));
    }
    let mut done = 0;
    while done < content.len() {
        // SAFETY: reads from our own buffer into our own fd.
        let r = unsafe {
            libc::write(
                fd,
                content[done..].as_ptr() as *const libc::c_void,
                content.len() - done,
            )
        };
        if r <= 0 {
            // SAFETY: closing our own fd.
            unsafe { libc::close(fd) };
            return Err(libc::EIO);
        }
        done += r as usize;
    }
    // SAFETY: our own fd.
    unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
    Ok(fd as i64)
}

pub fn openat(t: &mut Thread, a: [u64; 6]) -> R {
    let raw = t
        .proc_
        .mem
        .read_cstr(a[1], 4096)
        .map_err(|_| libc::EFAULT)?;
    // SAFETY: no arguments.
    let pid = unsafe { libc::getpid() };
    match proc_file(&raw, pid) {
        Some(ProcFile::CpuInfo) => {
            let (_, cpus) = super::abi_riscv64::host_cpus();
            return memfd_with(t.proc_.arch.cpuinfo(&cpus).as_bytes(), a[2]);
        }
        Some(ProcFile::Maps) => {
            let text = t
                .proc_
                .mm
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .render_maps();
            return memfd_with(text.as_bytes(), a[2]);
        }
        None => {}
    }
    let p = host_path(t, &raw)?;
    host(
        libc::SYS_openat,
        [a[0], p.as_ptr() as u64, a[2], a[3], 0, 0],
    )
}

pub fn readlinkat(t: &mut Thread, a: [u64; 6]) -> R {
    let raw = t
        .proc_
        .mem
        .read_cstr(a[1], 4096)
        .map_err(|_| libc::EFAULT)?;
    if is_self_exe(&raw) {
        let s = t.proc_.exe_path.as_os_str().as_bytes();
        let n = s.len().min(a[3] as usize);
        t.proc_
            .mem
            .write_bytes(a[2], &s[..n])
            .map_err(|_| libc::EFAULT)?;
        return Ok(n as i64);
    }
    let p = host_path(t, &raw)?;
    let buf = t.g2h(a[2], a[3])?;
    host(
        libc::SYS_readlinkat,
        [a[0], p.as_ptr() as u64, buf, a[3], 0, 0],
    )
}

/// Convert a host (x86-64) `struct stat` to the generic riscv64 layout (128 bytes).
pub fn stat_to_guest(s: &libc::stat) -> [u8; 128] {
    let mut b = [0u8; 128];
    let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    put(0, &s.st_dev.to_le_bytes());
    put(8, &s.st_ino.to_le_bytes());
    put(16, &s.st_mode.to_le_bytes());
    put(20, &(s.st_nlink as u32).to_le_bytes());
    put(24, &s.st_uid.to_le_bytes());
    put(28, &s.st_gid.to_le_bytes());
    put(32, &s.st_rdev.to_le_bytes());
    put(48, &s.st_size.to_le_bytes());
    put(56, &(s.st_blksize as i32).to_le_bytes());
    put(64, &s.st_blocks.to_le_bytes());
    put(72, &s.st_atime.to_le_bytes());
    put(80, &(s.st_atime_nsec as u64).to_le_bytes());
    put(88, &s.st_mtime.to_le_bytes());
    put(96, &(s.st_mtime_nsec as u64).to_le_bytes());
    put(104, &s.st_ctime.to_le_bytes());
    put(112, &(s.st_ctime_nsec as u64).to_le_bytes());
    b
}

pub fn newfstatat(t: &mut Thread, a: [u64; 6]) -> R {
    let p = guest_path(t, a[1])?;
    // SAFETY: stat is plain old data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    host(
        libc::SYS_newfstatat,
        [
            a[0],
            p.as_ptr() as u64,
            &mut st as *mut _ as u64,
            a[3],
            0,
            0,
        ],
    )?;
    t.proc_
        .mem
        .write_bytes(a[2], &stat_to_guest(&st))
        .map_err(|_| libc::EFAULT)?;
    Ok(0)
}

pub fn fstat(t: &mut Thread, a: [u64; 6]) -> R {
    // SAFETY: stat is plain old data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    host(
        libc::SYS_fstat,
        [a[0], &mut st as *mut _ as u64, 0, 0, 0, 0],
    )?;
    t.proc_
        .mem
        .write_bytes(a[1], &stat_to_guest(&st))
        .map_err(|_| libc::EFAULT)?;
    Ok(0)
}

pub fn statx(t: &mut Thread, a: [u64; 6]) -> R {
    let p = guest_path(t, a[1])?;
    // struct statx has one layout on every architecture.
    let buf = t.g2h(a[4], 256)?;
    host(
        libc::SYS_statx,
        [a[0], p.as_ptr() as u64, a[2], a[3], buf, 0],
    )
}

/// Build host iovecs for a guest iovec array.
fn host_iovecs(t: &Thread, addr: u64, cnt: u64) -> Result<Vec<libc::iovec>, i32> {
    if cnt > 1024 {
        return Err(libc::EINVAL);
    }
    let mut raw = vec![0u8; cnt as usize * 16];
    t.proc_
        .mem
        .read_bytes(addr, &mut raw)
        .map_err(|_| libc::EFAULT)?;
    let mut v = Vec::with_capacity(cnt as usize);
    for c in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(c[0..8].try_into().unwrap_or([0; 8]));
        let len = u64::from_le_bytes(c[8..16].try_into().unwrap_or([0; 8]));
        let hb = if len == 0 { 0 } else { t.g2h(base, len)? };
        v.push(libc::iovec {
            iov_base: hb as *mut libc::c_void,
            iov_len: len as usize,
        });
    }
    Ok(v)
}

pub fn rw_vec(t: &mut Thread, n: u64, a: [u64; 6]) -> R {
    let iov = host_iovecs(t, a[1], a[2])?;
    let hn = match n {
        nr::READV => libc::SYS_readv,
        nr::WRITEV => libc::SYS_writev,
        nr::PREADV => libc::SYS_preadv,
        _ => libc::SYS_pwritev,
    };
    host(hn, [a[0], iov.as_ptr() as u64, a[2], a[3], a[4], 0])
}

pub fn fcntl(t: &mut Thread, a: [u64; 6]) -> R {
    const F_GETLK: u64 = 5;
    const F_SETLK: u64 = 6;
    const F_SETLKW: u64 = 7;
    const F_OFD_GETLK: u64 = 36;
    const F_OFD_SETLK: u64 = 37;
    const F_OFD_SETLKW: u64 = 38;
    match a[1] {
        // struct flock has the same layout on riscv64 and x86-64.
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            let p = t.g2h(a[2], 32)?;
            host(libc::SYS_fcntl, [a[0], a[1], p, 0, 0, 0])
        }
        0..=4 | 8..=11 | 1024..=1026 | 1030..=1034 => {
            host(libc::SYS_fcntl, [a[0], a[1], a[2], 0, 0, 0])
        }
        _ => Err(libc::EINVAL),
    }
}

pub fn ioctl(t: &mut Thread, a: [u64; 6]) -> R {
    // Terminal structures and request numbers are the asm-generic ones on both sides.
    let size = match a[1] {
        0x5401..=0x5404 => 36, // TCGETS, TCSETS, TCSETSW, TCSETSF
        0x5413 | 0x5414 => 8,  // TIOCGWINSZ, TIOCSWINSZ
        0x540F | 0x5410 | 0x541B | 0x5421 | 0x5452 => 4, // TIOCGPGRP, TIOCSPGRP, FIONREAD, FIONBIO, FIOASYNC
        0x8004_5430 | 0x4004_5431 => 4,                  // TIOCGPTN, TIOCSPTLCK
        0x5409 | 0x540A | 0x540B | 0x540E | 0x5422 | 0x5450 | 0x5451 => {
            // TCSBRK, TCXONC, TCFLSH, TIOCSCTTY, TIOCNOTTY, FIONCLEX, FIOCLEX: integer args.
            return host(libc::SYS_ioctl, [a[0], a[1], a[2], 0, 0, 0]);
        }
        _ => return Err(libc::ENOTTY),
    };
    let p = t.g2h(a[2], size)?;
    host(libc::SYS_ioctl, [a[0], a[1], p, 0, 0, 0])
}

/// riscv64 `struct epoll_event` is 16 bytes (u32 events, pad, u64 data); x86-64's is packed
/// (12 bytes).
pub fn epoll_to_host(g: &[u8; 16]) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0..4].copy_from_slice(&g[0..4]);
    h[4..12].copy_from_slice(&g[8..16]);
    h
}

pub fn epoll_to_guest(h: &[u8]) -> [u8; 16] {
    let mut g = [0u8; 16];
    g[0..4].copy_from_slice(&h[0..4]);
    g[8..16].copy_from_slice(&h[4..12]);
    g
}

pub fn epoll_ctl(t: &mut Thread, a: [u64; 6]) -> R {
    let mut g = [0u8; 16];
    if a[3] != 0 {
        t.proc_
            .mem
            .read_bytes(a[3], &mut g)
            .map_err(|_| libc::EFAULT)?;
    }
    let mut ev = epoll_to_host(&g);
    let p = if a[3] != 0 { ev.as_mut_ptr() as u64 } else { 0 };
    host(libc::SYS_epoll_ctl, [a[0], a[1], a[2], p, 0, 0])
}

pub fn epoll_pwait(t: &mut Thread, a: [u64; 6]) -> R {
    let max = a[2] as i32;
    if max <= 0 || max > 65536 {
        return Err(libc::EINVAL);
    }
    let mut buf = vec![0u8; max as usize * 12];
    let n = host(
        libc::SYS_epoll_pwait,
        [a[0], buf.as_mut_ptr() as u64, a[2], a[3], 0, 8],
    )?;
    for i in 0..n as usize {
        let g = epoll_to_guest(&buf[i * 12..i * 12 + 12]);
        t.proc_
            .mem
            .write_bytes(a[1] + 16 * i as u64, &g)
            .map_err(|_| libc::EFAULT)?;
    }
    Ok(n)
}

/// sendmsg/recvmsg: the msghdr layout matches, but its pointers are guest addresses.
pub fn sendrecvmsg(t: &mut Thread, n: u64, a: [u64; 6]) -> R {
    let m = &t.proc_.mem;
    let mut g = [0u8; 56];
    m.read_bytes(a[1], &mut g).map_err(|_| libc::EFAULT)?;
    let w = |o: usize| u64::from_le_bytes(g[o..o + 8].try_into().unwrap_or([0; 8]));
    let namelen = w(8) & 0xffff_ffff;
    let iov = host_iovecs(t, w(16), w(24))?;
    // SAFETY: msghdr is plain old data.
    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
    h.msg_name = t.g2h(w(0), namelen)? as *mut libc::c_void;
    h.msg_namelen = namelen as u32;
    h.msg_iov = iov.as_ptr() as *mut libc::iovec;
    h.msg_iovlen = iov.len();
    h.msg_control = t.g2h(w(32), w(40))? as *mut libc::c_void;
    h.msg_controllen = w(40) as usize;
    h.msg_flags = 0;
    let hn = if n == nr::SENDMSG {
        libc::SYS_sendmsg
    } else {
        libc::SYS_recvmsg
    };
    let r = host(hn, [a[0], &mut h as *mut _ as u64, a[2], 0, 0, 0])?;
    if n == nr::RECVMSG {
        let m = &t.proc_.mem;
        let _ = m.store(a[1] + 8, 4, h.msg_namelen as u64);
        let _ = m.store(a[1] + 40, 8, h.msg_controllen as u64);
        let _ = m.store(a[1] + 48, 4, h.msg_flags as u32 as u64);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout() {
        // SAFETY: stat is plain old data.
        let mut s: libc::stat = unsafe { std::mem::zeroed() };
        s.st_dev = 0x0102;
        s.st_ino = 0xabcdef;
        s.st_mode = 0o100644;
        s.st_nlink = 3;
        s.st_uid = 1000;
        s.st_gid = 100;
        s.st_rdev = 7;
        s.st_size = 123456789;
        s.st_blksize = 4096;
        s.st_blocks = 248;
        s.st_atime = 11;
        s.st_atime_nsec = 12;
        s.st_mtime = 13;
        s.st_mtime_nsec = 14;
        s.st_ctime = 15;
        s.st_ctime_nsec = 16;
        let g = stat_to_guest(&s);
        let u64_at = |o: usize| u64::from_le_bytes(g[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(g[o..o + 4].try_into().unwrap());
        // Offsets of the generic struct stat (asm-generic/stat.h, riscv64).
        assert_eq!(u64_at(0), 0x0102);
        assert_eq!(u64_at(8), 0xabcdef);
        assert_eq!(u32_at(16), 0o100644);
        assert_eq!(u32_at(20), 3);
        assert_eq!(u32_at(24), 1000);
        assert_eq!(u32_at(28), 100);
        assert_eq!(u64_at(32), 7);
        assert_eq!(u64_at(48), 123456789);
        assert_eq!(u32_at(56), 4096);
        assert_eq!(u64_at(64), 248);
        assert_eq!(
            [
                u64_at(72),
                u64_at(80),
                u64_at(88),
                u64_at(96),
                u64_at(104),
                u64_at(112)
            ],
            [11, 12, 13, 14, 15, 16]
        );
    }

    #[test]
    fn proc_files_of_the_guest() {
        assert_eq!(proc_file(b"/proc/cpuinfo", 7), Some(ProcFile::CpuInfo));
        assert_eq!(proc_file(b"/proc/self/maps", 7), Some(ProcFile::Maps));
        assert_eq!(proc_file(b"/proc/7/maps", 7), Some(ProcFile::Maps));
        assert_eq!(proc_file(b"/proc/8/maps", 7), None);
        assert_eq!(proc_file(b"/proc/self/status", 7), None);
        let fd = memfd_with(b"abc", libc::O_CLOEXEC as u64).unwrap() as i32;
        let mut b = [0u8; 8];
        // SAFETY: reading into our buffer from our fd, then closing it.
        let n = unsafe { libc::read(fd, b.as_mut_ptr() as *mut libc::c_void, 8) };
        // SAFETY: as above.
        unsafe { libc::close(fd) };
        assert_eq!(&b[..n as usize], b"abc");
    }

    #[test]
    fn epoll_event_conversion() {
        let mut g = [0u8; 16];
        g[0..4].copy_from_slice(&0x8000_0001u32.to_le_bytes());
        g[4..8].copy_from_slice(&[0xee; 4]); // padding must not leak
        g[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        let h = epoll_to_host(&g);
        // The host layout, as libc declares it (packed on x86-64).
        assert_eq!(std::mem::size_of::<libc::epoll_event>(), 12);
        // SAFETY: 12 bytes into a 12-byte POD struct.
        let ev: libc::epoll_event = unsafe { std::ptr::read_unaligned(h.as_ptr() as *const _) };
        let (events, data) = (ev.events, ev.u64);
        assert_eq!(events, 0x8000_0001);
        assert_eq!(data, 0x1122_3344_5566_7788);
        let back = epoll_to_guest(&h);
        assert_eq!(&back[0..4], &g[0..4]);
        assert_eq!(&back[4..8], &[0; 4]);
        assert_eq!(&back[8..16], &g[8..16]);
    }
}
