//! The initial process stack as Linux builds it for a new program: argc, argv, envp and the
//! auxiliary vector at a 16-byte aligned sp, with the strings, the execfn name and the 16
//! AT_RANDOM bytes above them.

pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_HWCAP: u64 = 16;
pub const AT_PLATFORM: u64 = 15;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_EXECFN: u64 = 31;
pub const AT_MINSIGSTKSZ: u64 = 51;

/// The program-dependent auxv values (the rest are fixed or derived).
#[derive(Clone, Debug, Default)]
pub struct AuxInfo {
    pub phdr: u64,
    pub phent: u64,
    pub phnum: u64,
    pub base: u64,
    pub entry: u64,
    pub hwcap: u64,
    /// AT_HWCAP2, for architectures that define it.
    pub hwcap2: Option<u64>,
    /// AT_PLATFORM string, for architectures whose kernel passes one.
    pub platform: Option<&'static str>,
    pub minsigstksz: u64,
    pub uid: u64,
    pub euid: u64,
    pub gid: u64,
    pub egid: u64,
}

/// The built stack: `bytes` go at guest address `sp` and end exactly at the stack top.
pub struct InitialStack {
    pub sp: u64,
    pub bytes: Vec<u8>,
}

/// Build the initial stack image that ends at `top` (exclusive).
pub fn build(
    top: u64,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    aux: &AuxInfo,
    random: [u8; 16],
) -> InitialStack {
    // Strings area, built downward from the top: execfn, then envp, then argv strings.
    let mut strings: Vec<u8> = Vec::new();
    let mut push_str = |s: &[u8]| -> u64 {
        // Offset from the top of the string's first byte, after prepending it.
        let mut v = s.to_vec();
        v.push(0);
        v.extend_from_slice(&strings);
        strings = v;
        strings.len() as u64
    };
    // The top 8 bytes stay zero (Linux leaves a terminating word above execfn).
    let _ = push_str(&[0u8; 7]);
    let execfn_off = push_str(execfn);
    let platform_off = aux.platform.map(|p| push_str(p.as_bytes()));
    let env_offs: Vec<u64> = envp.iter().rev().map(|e| push_str(e)).collect();
    let arg_offs: Vec<u64> = argv.iter().rev().map(|a| push_str(a)).collect();
    // AT_RANDOM bytes below the strings, 16-aligned.
    let strings_lo = top - strings.len() as u64;
    let random_addr = (strings_lo - 16) & !15;

    let mut auxv: Vec<(u64, u64)> = vec![
        (AT_PHDR, aux.phdr),
        (AT_PHENT, aux.phent),
        (AT_PHNUM, aux.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, aux.base),
        (AT_FLAGS, 0),
        (AT_ENTRY, aux.entry),
        (AT_UID, aux.uid),
        (AT_EUID, aux.euid),
        (AT_GID, aux.gid),
        (AT_EGID, aux.egid),
        (AT_SECURE, 0),
        (AT_RANDOM, random_addr),
        (AT_HWCAP, aux.hwcap),
        (AT_CLKTCK, 100),
        (AT_EXECFN, top - execfn_off),
        (AT_MINSIGSTKSZ, aux.minsigstksz),
    ];
    if let Some(h2) = aux.hwcap2 {
        auxv.push((AT_HWCAP2, h2));
    }
    if let Some(off) = platform_off {
        auxv.push((AT_PLATFORM, top - off));
    }
    auxv.push((AT_NULL, 0));

    let words = 1 + argv.len() + 1 + envp.len() + 1 + 2 * auxv.len();
    let sp = (random_addr - 8 * words as u64) & !15;
    let mut table: Vec<u64> = Vec::with_capacity(words);
    table.push(argv.len() as u64);
    table.extend(arg_offs.iter().rev().map(|o| top - o));
    table.push(0);
    table.extend(env_offs.iter().rev().map(|o| top - o));
    table.push(0);
    for (k, v) in &auxv {
        table.push(*k);
        table.push(*v);
    }

    let mut bytes = vec![0u8; (top - sp) as usize];
    for (i, w) in table.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let r = (random_addr - sp) as usize;
    bytes[r..r + 16].copy_from_slice(&random);
    let s = (strings_lo - sp) as usize;
    bytes[s..].copy_from_slice(&strings);
    InitialStack { sp, bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(u64, u64)>);

    /// Parse a stack image back the way a C runtime does.
    fn parse(st: &InitialStack) -> Parsed {
        let word = |addr: u64| {
            let o = (addr - st.sp) as usize;
            u64::from_le_bytes(st.bytes[o..o + 8].try_into().unwrap())
        };
        let cstr = |addr: u64| {
            let o = (addr - st.sp) as usize;
            let n = st.bytes[o..].iter().position(|b| *b == 0).unwrap();
            st.bytes[o..o + n].to_vec()
        };
        let argc = word(st.sp);
        let mut a = st.sp + 8;
        let mut argv = Vec::new();
        for _ in 0..argc {
            argv.push(cstr(word(a)));
            a += 8;
        }
        assert_eq!(word(a), 0);
        a += 8;
        let mut envp = Vec::new();
        while word(a) != 0 {
            envp.push(cstr(word(a)));
            a += 8;
        }
        a += 8;
        let mut auxv = Vec::new();
        loop {
            let (k, v) = (word(a), word(a + 8));
            auxv.push((k, v));
            a += 16;
            if k == AT_NULL {
                break;
            }
        }
        (argv, envp, auxv)
    }

    #[test]
    fn layout_parses_back() {
        let top = 0x7fff_0000u64;
        let argv = vec![b"prog".to_vec(), b"arg one".to_vec(), b"".to_vec()];
        let envp = vec![b"A=1".to_vec(), b"PATH=/bin".to_vec()];
        let aux = AuxInfo {
            phdr: 0x10040,
            phent: 56,
            phnum: 9,
            entry: 0x10500,
            hwcap: 0x112d,
            minsigstksz: 2048,
            ..Default::default()
        };
        let st = build(top, &argv, &envp, b"/path/prog", &aux, [7; 16]);
        assert_eq!(st.sp % 16, 0);
        assert_eq!(st.sp + st.bytes.len() as u64, top);
        let (a, e, x) = parse(&st);
        assert_eq!(a, argv);
        assert_eq!(e, envp);
        let get = |k| x.iter().find(|(kk, _)| *kk == k).map(|(_, v)| *v).unwrap();
        assert_eq!(get(AT_PHDR), 0x10040);
        assert_eq!(get(AT_PHNUM), 9);
        assert_eq!(get(AT_PAGESZ), 4096);
        assert_eq!(get(AT_ENTRY), 0x10500);
        assert_eq!(get(AT_HWCAP), 0x112d);
        let rnd = get(AT_RANDOM);
        assert_eq!(rnd % 16, 0);
        let o = (rnd - st.sp) as usize;
        assert_eq!(&st.bytes[o..o + 16], &[7; 16]);
        let ef = get(AT_EXECFN);
        let o = (ef - st.sp) as usize;
        assert_eq!(&st.bytes[o..o + 11], b"/path/prog\0");
        assert_eq!(x.last(), Some(&(AT_NULL, 0)));
        // Strings lie above the table and the random bytes.
        assert!(ef > rnd && rnd > st.sp);
    }
}
