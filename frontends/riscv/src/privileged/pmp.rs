//! Physical memory protection: pmpcfg/pmpaddr storage with their WARL and lock rules, and
//! the access check (privileged spec "Physical Memory Protection"). Granularity is 4 bytes
//! (G = 0), so NA4 is available; mseccfg (Smepmp) is not implemented.

use super::Priv;
use super::mmu::Access;

/// Most PMP entries the spec allows.
pub const PMP_MAX: usize = 64;

const R: u8 = 1;
const W: u8 = 2;
const X: u8 = 4;
const A_SHIFT: u8 = 3;
const A_MASK: u8 = 3 << A_SHIFT;
const L: u8 = 1 << 7;
const A_TOR: u8 = 1;
const A_NA4: u8 = 2;
const A_NAPOT: u8 = 3;
/// pmpaddr holds physical address bits 55:2.
const ADDR_MASK: u64 = (1 << 54) - 1;

#[derive(Debug, Clone)]
pub(crate) struct Pmp {
    entries: usize,
    cfg: [u8; PMP_MAX],
    addr: [u64; PMP_MAX],
    /// Byte range [lo, hi) of each entry, recomputed on every write (empty when OFF).
    bounds: [(u128, u128); PMP_MAX],
    /// One past the last entry that is not OFF (checks stop there).
    active: usize,
}

/// What covers a byte range: the lowest-numbered entry that overlaps it, and whether it
/// covers all of it.
enum Cover {
    /// No entry overlaps the range.
    None,
    /// Entry `i` overlaps only part of it (the access fails).
    Partial,
    /// Entry `i` covers all of it.
    Full(usize),
}

impl Pmp {
    pub(crate) fn new(entries: usize) -> Pmp {
        Pmp {
            entries: entries.min(PMP_MAX),
            cfg: [0; PMP_MAX],
            addr: [0; PMP_MAX],
            bounds: [(0, 0); PMP_MAX],
            active: 0,
        }
    }

    /// Recomputes `bounds` and `active` after a write.
    fn update(&mut self) {
        self.active = 0;
        for i in 0..self.entries {
            self.bounds[i] = self.range(i).unwrap_or((0, 0));
            if mode(self.cfg[i]) != 0 {
                self.active = i + 1;
            }
        }
    }

    /// Reads pmpcfgN (N even): 8 entries' cfg bytes.
    pub(crate) fn read_cfg(&self, n: usize) -> u64 {
        (0..8).fold(0, |acc, k| acc | u64::from(self.cfg[n * 4 + k]) << (8 * k))
    }

    pub(crate) fn write_cfg(&mut self, n: usize, v: u64) {
        for k in 0..8 {
            let i = n * 4 + k;
            if i >= self.entries || self.cfg[i] & L != 0 {
                continue;
            }
            let b = (v >> (8 * k)) as u8 & (R | W | X | A_MASK | L);
            // R = 0, W = 1 is reserved: the write of this entry does not take.
            if b & (R | W) == W {
                continue;
            }
            self.cfg[i] = b;
        }
        self.update();
    }

    pub(crate) fn read_addr(&self, i: usize) -> u64 {
        if i < self.entries { self.addr[i] } else { 0 }
    }

    pub(crate) fn write_addr(&mut self, i: usize, v: u64) {
        if i >= self.entries || self.cfg[i] & L != 0 {
            return;
        }
        // A locked TOR entry also locks the pmpaddr below it.
        if i + 1 < self.entries && self.cfg[i + 1] & L != 0 && mode(self.cfg[i + 1]) == A_TOR {
            return;
        }
        self.addr[i] = v & ADDR_MASK;
        self.update();
    }

    /// Byte range [lo, hi) of entry `i` (hi exclusive, as u128 so NAPOT over everything fits),
    /// or None when OFF or empty.
    fn range(&self, i: usize) -> Option<(u128, u128)> {
        let a = u128::from(self.addr[i]);
        match mode(self.cfg[i]) {
            A_TOR => {
                let lo = if i == 0 {
                    0
                } else {
                    u128::from(self.addr[i - 1]) << 2
                };
                let hi = a << 2;
                (lo < hi).then_some((lo, hi))
            }
            A_NA4 => Some((a << 2, (a << 2) + 4)),
            A_NAPOT => {
                let ones = self.addr[i].trailing_ones();
                let size = 1u128 << (ones + 3);
                let lo = (a << 2) & !(size - 1);
                Some((lo, lo + size))
            }
            _ => None, // OFF
        }
    }

    /// The entry deciding accesses to [lo, hi).
    fn cover(&self, lo: u128, hi: u128) -> Cover {
        for i in 0..self.active {
            let (rlo, rhi) = self.bounds[i];
            if rlo >= rhi || hi <= rlo || lo >= rhi {
                continue;
            }
            // The lowest-numbered matching entry decides; a partial match fails.
            if lo < rlo || hi > rhi {
                return Cover::Partial;
            }
            return Cover::Full(i);
        }
        Cover::None
    }

    /// Permission bits (R|W|X) entry `i` grants to `priv_level`.
    fn perms_of(&self, i: usize, priv_level: Priv) -> u8 {
        let c = self.cfg[i];
        if priv_level == Priv::Machine && c & L == 0 {
            R | W | X
        } else {
            c & (R | W | X)
        }
    }

    /// Permission bits granted where no entry matches.
    fn default_perms(&self, priv_level: Priv) -> u8 {
        if priv_level == Priv::Machine || self.entries == 0 {
            R | W | X
        } else {
            0
        }
    }

    /// Checks an access of `size` bytes at physical `addr` by effective privilege `priv_level`.
    pub(crate) fn check(&self, addr: u64, size: u64, access: Access, priv_level: Priv) -> bool {
        let lo = u128::from(addr);
        let hi = lo + u128::from(size.max(1));
        let perms = match self.cover(lo, hi) {
            Cover::None => self.default_perms(priv_level),
            Cover::Partial => return false,
            Cover::Full(i) => self.perms_of(i, priv_level),
        };
        let need = match access {
            Access::Read => R,
            Access::Write => W,
            Access::Exec => X,
        };
        perms & need != 0
    }

    /// Permissions (read, write, exec) of `priv_level` on the whole 4 KiB page at `page`, or
    /// None when PMP entries split the page (accesses must then be checked one by one).
    pub(crate) fn page_perms(&self, page: u64, priv_level: Priv) -> Option<(bool, bool, bool)> {
        let lo = u128::from(page);
        let p = match self.cover(lo, lo + 4096) {
            Cover::None => self.default_perms(priv_level),
            Cover::Partial => return None,
            Cover::Full(i) => self.perms_of(i, priv_level),
        };
        Some((p & R != 0, p & W != 0, p & X != 0))
    }
}

fn mode(cfg: u8) -> u8 {
    (cfg & A_MASK) >> A_SHIFT
}

impl super::PrivState {
    /// PMP check of an access of `size` bytes at physical `addr` with `access` type by
    /// (effective) privilege `priv_level`: true if allowed. A failure is an access fault
    /// (cause 1/5/7 for fetch/load/store).
    pub fn pmp_check(&self, addr: u64, size: u64, access: Access, priv_level: Priv) -> bool {
        self.pmp.check(addr, size, access, priv_level)
    }

    /// Number of implemented PMP entries.
    pub fn pmp_entries(&self) -> usize {
        self.pmp.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileged::{PrivState, csr};

    const M: Priv = Priv::Machine;
    const S: Priv = Priv::Supervisor;
    const U: Priv = Priv::User;

    fn napot(base: u64, size: u64) -> u64 {
        (base >> 2) | ((size / 8) - 1)
    }

    #[test]
    fn no_entries_allows_everything_and_entries_deny_s_u_by_default() {
        let p = Pmp::new(0);
        assert!(p.check(0x8000_0000, 8, Access::Write, U));
        let p = Pmp::new(16);
        assert!(p.check(0x8000_0000, 8, Access::Write, M));
        assert!(!p.check(0x8000_0000, 8, Access::Read, S));
        assert!(!p.check(0x8000_0000, 8, Access::Read, U));
    }

    #[test]
    fn napot_range_and_permissions() {
        let mut st = PrivState::new(0, 16);
        // entry 0: 64 KiB at 0x8000_0000, R only; entry 1: everything, RWX.
        st.csr_write(csr::PMPADDR0, napot(0x8000_0000, 0x1_0000), M)
            .unwrap();
        st.csr_write(csr::PMPADDR0 + 1, u64::MAX, M).unwrap();
        let cfg0 = u64::from(R | (A_NAPOT << A_SHIFT));
        let cfg1 = u64::from(R | W | X | (A_NAPOT << A_SHIFT));
        st.csr_write(csr::PMPCFG0, cfg0 | cfg1 << 8, M).unwrap();
        assert!(st.pmp_check(0x8000_0000, 8, Access::Read, S));
        assert!(!st.pmp_check(0x8000_0000, 8, Access::Write, S));
        assert!(!st.pmp_check(0x8000_fff8, 8, Access::Exec, U));
        // Just past the first region: the all-memory entry grants RWX.
        assert!(st.pmp_check(0x8001_0000, 8, Access::Write, S));
        // Straddling the end of entry 0 is a partial match of entry 0: denied.
        assert!(!st.pmp_check(0x8000_fffc, 8, Access::Read, S));
        // M-mode ignores unlocked entries.
        assert!(st.pmp_check(0x8000_0000, 8, Access::Write, M));
        assert_eq!(st.csr_read(csr::PMPCFG0, M).unwrap(), cfg0 | cfg1 << 8);
    }

    #[test]
    fn tor_and_na4() {
        let mut p = Pmp::new(8);
        p.write_addr(0, 0x1000 >> 2);
        p.write_addr(1, 0x2000 >> 2);
        p.write_addr(2, 0x3000 >> 2);
        // entry 1: TOR [0x1000, 0x2000) RW; entry 2: NA4 at 0x3000, X.
        p.write_cfg(
            0,
            u64::from(R | W | (A_TOR << A_SHIFT)) << 8 | u64::from(X | (A_NA4 << A_SHIFT)) << 16,
        );
        assert!(p.check(0x1000, 8, Access::Write, S));
        assert!(p.check(0x1ff8, 8, Access::Read, U));
        assert!(!p.check(0x0ff8, 8, Access::Read, S));
        assert!(!p.check(0x1ffc, 8, Access::Read, S), "partial match fails");
        assert!(!p.check(0x2000, 4, Access::Read, S));
        assert!(p.check(0x3000, 4, Access::Exec, S));
        assert!(
            !p.check(0x3000, 8, Access::Exec, S),
            "NA4 covers only 4 bytes"
        );
        // Entry 0 as TOR lower bound 0: [0, 0x1000).
        p.write_cfg(0, u64::from(R | (A_TOR << A_SHIFT)));
        assert!(p.check(0, 8, Access::Read, U));
        assert!(!p.check(0, 8, Access::Write, U));
    }

    #[test]
    fn lock_bit_blocks_writes_and_binds_m_mode() {
        let mut st = PrivState::new(0, 16);
        st.csr_write(csr::PMPADDR0, 0x1000 >> 2, M).unwrap();
        st.csr_write(csr::PMPADDR0 + 1, 0x2000 >> 2, M).unwrap();
        // entry 1: locked TOR, read-only.
        st.csr_write(csr::PMPCFG0, u64::from(R | L | (A_TOR << A_SHIFT)) << 8, M)
            .unwrap();
        assert!(st.pmp_check(0x1000, 8, Access::Read, M));
        assert!(
            !st.pmp_check(0x1000, 8, Access::Write, M),
            "locked entry applies to M"
        );
        // Writes to the locked cfg and to both TOR bounds are ignored.
        st.csr_write(csr::PMPCFG0, 0, M).unwrap();
        assert_eq!(
            st.csr_read(csr::PMPCFG0, M).unwrap() >> 8 & 0xff,
            u64::from(R | L | (A_TOR << A_SHIFT))
        );
        st.csr_write(csr::PMPADDR0 + 1, 0x9999, M).unwrap();
        st.csr_write(csr::PMPADDR0, 0x9999, M).unwrap();
        assert_eq!(st.csr_read(csr::PMPADDR0 + 1, M).unwrap(), 0x2000 >> 2);
        assert_eq!(st.csr_read(csr::PMPADDR0, M).unwrap(), 0x1000 >> 2);
        // Entry 2 is not locked.
        st.csr_write(csr::PMPADDR0 + 2, 0x1234, M).unwrap();
        assert_eq!(st.csr_read(csr::PMPADDR0 + 2, M).unwrap(), 0x1234);
    }

    #[test]
    fn warl_rules() {
        let mut st = PrivState::new(0, 16);
        // Reserved R=0 W=1 does not take; bits 6:5 read zero; pmpaddr keeps 54 bits.
        st.csr_write(csr::PMPCFG0, 0x02 | 0x61 << 8, M).unwrap();
        assert_eq!(st.csr_read(csr::PMPCFG0, M).unwrap(), 0x01 << 8);
        st.csr_write(csr::PMPADDR0, u64::MAX, M).unwrap();
        assert_eq!(st.csr_read(csr::PMPADDR0, M).unwrap(), ADDR_MASK);
        // Entries beyond the implemented 16 read zero; odd pmpcfg and S-mode access are illegal.
        st.csr_write(csr::PMPADDR0 + 20, 0x1234, M).unwrap();
        assert_eq!(st.csr_read(csr::PMPADDR0 + 20, M).unwrap(), 0);
        st.csr_write(csr::PMPCFG0 + 4, u64::MAX, M).unwrap();
        assert_eq!(st.csr_read(csr::PMPCFG0 + 4, M).unwrap(), 0);
        assert!(st.csr_read(csr::PMPCFG0 + 1, M).is_err());
        assert!(st.csr_read(csr::PMPCFG0, S).is_err());
        assert!(st.csr_write(csr::PMPADDR0, 0, S).is_err());
    }

    #[test]
    fn page_permissions_in_one_lookup() {
        let mut p = Pmp::new(16);
        // entry 0: NA4 at 0x1000 (R), entry 1: TOR [0, 0x10_0000) RWX over everything else.
        p.write_addr(0, 0x1000 >> 2);
        p.write_addr(1, 0x10_0000 >> 2);
        p.write_cfg(
            0,
            u64::from(R | (A_NA4 << A_SHIFT)) | u64::from(R | W | X | (A_TOR << A_SHIFT)) << 8,
        );
        // Page 0x2000 lies in entry 1 only.
        assert_eq!(p.page_perms(0x2000, S), Some((true, true, true)));
        // Page 0x1000 is split by the NA4 entry: no page-wide answer, byte checks decide.
        assert_eq!(p.page_perms(0x1000, S), None);
        assert!(p.check(0x1000, 4, Access::Read, S));
        assert!(!p.check(0x1000, 4, Access::Write, S));
        assert!(p.check(0x1008, 8, Access::Write, S));
        // Beyond every entry: nothing for S, everything for M.
        assert_eq!(p.page_perms(0x20_0000, S), Some((false, false, false)));
        assert_eq!(p.page_perms(0x20_0000, M), Some((true, true, true)));
        // A translation of an address in the split page grants that access only.
        let mut st = PrivState::new(0, 16);
        st.pmp = p;
        let t = st
            .translate(0x1008, 8, Access::Write, S, &NoMem)
            .expect("allowed");
        assert_eq!(t.perms, crate::privileged::Perms::default());
        let t = st
            .translate(0x2008, 8, Access::Read, S, &NoMem)
            .expect("ok");
        assert!(t.perms.r && t.perms.w && t.perms.x);
    }

    /// Bare translation never reads memory.
    struct NoMem;
    impl crate::privileged::PhysMem for NoMem {
        fn read_u64(&self, _: u64) -> Result<u64, crate::privileged::PhysMemError> {
            Err(crate::privileged::PhysMemError)
        }
        fn compare_exchange_u64(
            &self,
            _: u64,
            _: u64,
            _: u64,
        ) -> Result<Result<u64, u64>, crate::privileged::PhysMemError> {
            Err(crate::privileged::PhysMemError)
        }
    }
}
