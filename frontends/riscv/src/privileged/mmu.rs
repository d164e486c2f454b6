//! Virtual-memory translation: the Sv39/Sv48/Sv57 page-table walker of the privileged spec
//! ("Virtual Address Translation Process"), with MPRV, SUM, MXR, canonical-address checks,
//! hardware A/D update by compare-and-swap (or Svade-style page faults), Svpbmt (PBMT bits
//! of leaf PTEs under menvcfg.PBMTE: accepted, no effect on coherent memory, 3 reserved),
//! and PMP checks on both the page-table reads and the final physical address.

use super::csr::{envcfg, satp, status};
use super::{Priv, PrivState, Trap};
use crate::cpu::cause;

/// Kind of memory access. AMOs and SC translate as `Write` (store/AMO faults), LR as `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Access {
    fn page_fault(self) -> u64 {
        match self {
            Access::Read => cause::LOAD_PAGE_FAULT,
            Access::Write => cause::STORE_PAGE_FAULT,
            Access::Exec => cause::FETCH_PAGE_FAULT,
        }
    }
    fn access_fault(self) -> u64 {
        match self {
            Access::Read => cause::LOAD_ACCESS,
            Access::Write => cause::STORE_ACCESS,
            Access::Exec => cause::FETCH_ACCESS,
        }
    }
}

/// A guest-physical access hit no RAM (page-table walks only read and CAS RAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysMemError;

/// Guest-physical memory as the page walker needs it: aligned 64-bit reads and an atomic
/// compare-and-exchange (for A/D updates racing with other harts). Little-endian values.
pub trait PhysMem {
    fn read_u64(&self, paddr: u64) -> Result<u64, PhysMemError>;
    /// Atomically replaces the value at `paddr` with `new` if it equals `current`.
    /// Returns Ok(Ok(current)) on success, Ok(Err(actual)) when the value differed.
    fn compare_exchange_u64(
        &self,
        paddr: u64,
        current: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, PhysMemError>;
}

/// Permissions an access by the same effective privilege (and the same SUM/MXR) has on the
/// 4 KiB page that contains `paddr`, after PTE and PMP rules: a TLB may cache the page for
/// each access type present here without asking again. `w` is only set once the PTE's D bit
/// is set, so the first store goes through [`PrivState::translate`] and sets D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perms {
    pub r: bool,
    pub w: bool,
    pub x: bool,
}

impl Perms {
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.r,
            Access::Write => self.w,
            Access::Exec => self.x,
        }
    }
}

/// Result of a successful translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    pub paddr: u64,
    /// Size of the mapping (leaf page size: 4 KiB, 2 MiB, 1 GiB, 512 GiB, 256 TiB), or 4 KiB
    /// when translation is off. Useful for address-range `sfence.vma` bookkeeping.
    pub page_size: u64,
    /// See [`Perms`]; valid for the 4 KiB page containing `paddr`.
    pub perms: Perms,
}

const PTE_V: u64 = 1 << 0;
const PTE_R: u64 = 1 << 1;
const PTE_W: u64 = 1 << 2;
const PTE_X: u64 = 1 << 3;
const PTE_U: u64 = 1 << 4;
const PTE_A: u64 = 1 << 6;
const PTE_D: u64 = 1 << 7;
const PTE_PPN_SHIFT: u32 = 10;
const PTE_PPN_MASK: u64 = (1 << 44) - 1;
/// Bits 63:54 (N, PBMT, reserved): Svnapot is not implemented, so N must be 0; PBMT
/// (bits 62:61, Svpbmt) is only allowed in leaf PTEs with menvcfg.PBMTE = 1.
const PTE_RESERVED: u64 = !0 << 54;
const PTE_PBMT: u64 = 3 << 61;
const PAGE: u64 = 4096;

impl PrivState {
    /// The privilege that memory accesses of kind `access` use at `priv_level`: loads and
    /// stores in M-mode with mstatus.MPRV = 1 use mstatus.MPP; fetches never do.
    pub fn effective_priv(&self, access: Access, priv_level: Priv) -> Priv {
        let mstatus = self.mstatus();
        if access != Access::Exec && priv_level == Priv::Machine && mstatus & status::MPRV != 0 {
            Priv::from_bits((mstatus & status::MPP) >> status::MPP_SHIFT).unwrap_or(Priv::User)
        } else {
            priv_level
        }
    }

    /// Number of page-table levels of the current satp mode (0 for Bare).
    pub fn satp_levels(&self) -> u32 {
        match self.satp() >> satp::MODE_SHIFT {
            satp::MODE_SV39 => 3,
            satp::MODE_SV48 => 4,
            satp::MODE_SV57 => 5,
            _ => 0,
        }
    }

    /// Translates an access of `size` bytes (1..=4096, not crossing a page: the caller splits
    /// page-crossing accesses) at virtual `vaddr` by a hart at privilege `priv_level`.
    /// Errors are the exception to raise: page fault 12/13/15 or access fault 1/5/7 (PMP,
    /// or a page-table read outside RAM), with `tval` = `vaddr`.
    pub fn translate(
        &self,
        vaddr: u64,
        size: u64,
        access: Access,
        priv_level: Priv,
        mem: &dyn PhysMem,
    ) -> Result<Translation, Trap> {
        let eff = self.effective_priv(access, priv_level);
        let mstatus = self.mstatus();
        let sum = mstatus & status::SUM != 0;
        let mxr = mstatus & status::MXR != 0;
        self.translate_as(vaddr, size, access, eff, sum, mxr, mem)
    }

    /// [`PrivState::translate`] for an explicit effective privilege `eff` and SUM/MXR
    /// values (the softmmu's MMU index encodes them) instead of those of the current state.
    #[allow(clippy::too_many_arguments)]
    pub fn translate_as(
        &self,
        vaddr: u64,
        size: u64,
        access: Access,
        eff: Priv,
        sum: bool,
        mxr: bool,
        mem: &dyn PhysMem,
    ) -> Result<Translation, Trap> {
        let levels = if eff == Priv::Machine {
            0
        } else {
            self.satp_levels()
        };
        let (paddr, page_size, pte_perms) = if levels == 0 {
            let all = Perms {
                r: true,
                w: true,
                x: true,
            };
            (vaddr, PAGE, all)
        } else {
            self.walk(vaddr, access, eff, (sum, mxr), levels, mem)?
        };
        let fault = Trap {
            cause: access.access_fault(),
            tval: vaddr,
        };
        let page = paddr & !(PAGE - 1);
        // One PMP lookup for the whole page; byte-exact only when entries split the page
        // (then nothing is cached for the page).
        let (r, w, x) = self.pmp.page_perms(page, eff).unwrap_or_default();
        let allowed = match access {
            Access::Read => r,
            Access::Write => w,
            Access::Exec => x,
        };
        if !allowed && !self.pmp_check(paddr, size, access, eff) {
            return Err(fault);
        }
        let perms = Perms {
            r: pte_perms.r && r,
            w: pte_perms.w && w,
            x: pte_perms.x && x,
        };
        Ok(Translation {
            paddr,
            page_size,
            perms,
        })
    }

    fn walk(
        &self,
        vaddr: u64,
        access: Access,
        eff: Priv,
        (sum, mxr): (bool, bool),
        levels: u32,
        mem: &dyn PhysMem,
    ) -> Result<(u64, u64, Perms), Trap> {
        let page_fault = Trap {
            cause: access.page_fault(),
            tval: vaddr,
        };
        let access_fault = Trap {
            cause: access.access_fault(),
            tval: vaddr,
        };
        let va_bits = 12 + 9 * levels;
        let shift = 64 - va_bits;
        if ((vaddr << shift) as i64 >> shift) as u64 != vaddr {
            return Err(page_fault);
        }
        let root = (self.satp() & satp::PPN_MASK) * PAGE;
        let pbmte = self.menvcfg() & envcfg::PBMTE != 0;
        // Restarted when an A/D compare-and-swap loses a race.
        'walk: loop {
            let mut table = root;
            let mut level = levels - 1;
            let (pte, pte_addr) = loop {
                let vpn = (vaddr >> (12 + 9 * level)) & 0x1FF;
                let pte_addr = table.wrapping_add(vpn * 8);
                // Implicit page-table accesses are S-mode accesses for PMP.
                if !self.pmp_check(pte_addr, 8, Access::Read, Priv::Supervisor) {
                    return Err(access_fault);
                }
                let pte = mem.read_u64(pte_addr).map_err(|_| access_fault)?;
                if pte & PTE_V == 0 || pte & (PTE_R | PTE_W) == PTE_W {
                    return Err(page_fault);
                }
                let leaf = pte & (PTE_R | PTE_X) != 0;
                // Svpbmt: PBMT 0 (PMA), 1 (NC) and 2 (IO) only change cacheability, which
                // means nothing here; 3 is reserved.
                let allowed = if leaf && pbmte { PTE_PBMT } else { 0 };
                if pte & PTE_RESERVED & !allowed != 0 || pte & PTE_PBMT == PTE_PBMT {
                    return Err(page_fault);
                }
                if leaf {
                    break (pte, pte_addr);
                }
                // D, A and U are reserved in non-leaf PTEs (a reserved bit set is a page
                // fault); a pointer at level 0 is a page fault.
                if level == 0 || pte & (PTE_D | PTE_A | PTE_U) != 0 {
                    return Err(page_fault);
                }
                level -= 1;
                table = ((pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK) * PAGE;
            };
            // Leaf: privilege and permission checks.
            let user_page = pte & PTE_U != 0;
            let mut perms = Perms {
                r: pte & PTE_R != 0 || (mxr && pte & PTE_X != 0),
                w: pte & PTE_W != 0,
                x: pte & PTE_X != 0,
            };
            match (eff, user_page) {
                (Priv::User, false) => perms = Perms::default(),
                (Priv::Supervisor, true) => {
                    perms.x = false;
                    if !sum {
                        perms.r = false;
                        perms.w = false;
                    }
                }
                _ => {}
            }
            if !perms.allows(access) {
                return Err(page_fault);
            }
            let ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
            let low_ppn_mask = (1u64 << (9 * level)) - 1;
            if ppn & low_ppn_mask != 0 {
                return Err(page_fault); // misaligned superpage
            }
            let need_d = access == Access::Write && pte & PTE_D == 0;
            let mut pte = pte;
            if pte & PTE_A == 0 || need_d {
                if !self.hw_ad_update {
                    return Err(page_fault);
                }
                if !self.pmp_check(pte_addr, 8, Access::Write, Priv::Supervisor) {
                    return Err(access_fault);
                }
                let new = pte | PTE_A | if need_d { PTE_D } else { 0 };
                match mem
                    .compare_exchange_u64(pte_addr, pte, new)
                    .map_err(|_| access_fault)?
                {
                    Ok(_) => pte = new,
                    Err(_) => continue 'walk,
                }
            }
            perms.w = perms.w && pte & PTE_D != 0;
            let page_size = PAGE << (9 * level);
            let paddr = ((ppn * PAGE) & !(page_size - 1)) | (vaddr & (page_size - 1));
            return Ok((paddr, page_size, perms));
        }
    }
}

/// One level of a page walk: the level (leaf level 0 = 4 KiB), the PTE's physical address
/// and the value read there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkStep {
    pub level: u32,
    pub pte_addr: u64,
    pub pte: u64,
}

/// What [`PrivState::walk_debug`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugWalk {
    /// Number of levels of the satp mode (0: Bare, no walk).
    pub levels: u32,
    /// The PTEs read, root first.
    pub steps: Vec<WalkStep>,
    /// Physical address and mapping size; None when the walk found no valid mapping
    /// (non-canonical address, invalid or malformed PTE, table outside RAM).
    pub result: Option<(u64, u64)>,
}

impl PrivState {
    /// Walks the current satp's page tables for `vaddr` the way a debugger or a trace
    /// looks at them: no permission, privilege or PMP checks, no A/D updates, nothing
    /// raised. With satp in Bare mode the address is physical.
    pub fn walk_debug(&self, vaddr: u64, mem: &dyn PhysMem) -> DebugWalk {
        let levels = self.satp_levels();
        let mut w = DebugWalk {
            levels,
            steps: Vec::new(),
            result: None,
        };
        if levels == 0 {
            w.result = Some((vaddr, PAGE));
            return w;
        }
        let shift = 64 - (12 + 9 * levels);
        if ((vaddr << shift) as i64 >> shift) as u64 != vaddr {
            return w;
        }
        let mut table = (self.satp() & satp::PPN_MASK) * PAGE;
        for level in (0..levels).rev() {
            let pte_addr = table.wrapping_add(((vaddr >> (12 + 9 * level)) & 0x1FF) * 8);
            let Ok(pte) = mem.read_u64(pte_addr) else {
                return w;
            };
            w.steps.push(WalkStep {
                level,
                pte_addr,
                pte,
            });
            if pte & PTE_V == 0 || pte & (PTE_R | PTE_W) == PTE_W || pte & PTE_RESERVED != 0 {
                return w;
            }
            let ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
            if pte & (PTE_R | PTE_X) != 0 {
                if ppn & ((1u64 << (9 * level)) - 1) != 0 {
                    return w; // misaligned superpage
                }
                let size = PAGE << (9 * level);
                w.result = Some((((ppn * PAGE) & !(size - 1)) | (vaddr & (size - 1)), size));
                return w;
            }
            table = ppn * PAGE;
        }
        w
    }
}

/// Text form of a PTE's flag bits, `DAGUXWRV` order as in the spec's figure (`-` = clear).
pub fn pte_flags(pte: u64) -> String {
    "DAGUXWRV"
        .chars()
        .enumerate()
        .map(|(i, c)| if pte & (1 << (7 - i)) != 0 { c } else { '-' })
        .collect()
}
