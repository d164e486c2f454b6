//! Trap entry with delegation, `mret`/`sret`/`wfi`, and selection of the interrupt to take
//! (privileged spec: "Machine Trap Delegation", "Machine Interrupt Registers", "Trap-Return
//! Instructions", "Wait for Interrupt").

use super::csr::{irq, status};
use super::{Priv, PrivState, Trap};

const INTERRUPT_BIT: u64 = 1 << 63;

impl PrivState {
    /// Takes a trap at `pc` (the faulting instruction, or the next one to execute for an
    /// interrupt) with exception or interrupt code `cause` (without the interrupt bit) and
    /// trap value `tval`. Delegates to S-mode when the current privilege is S or U and the
    /// medeleg/mideleg bit is set; updates xEPC, xCAUSE, xTVAL, xPIE/xIE, xPP and the
    /// privilege; returns the handler address (xtvec, + 4 * cause for vectored interrupts).
    pub fn take_trap(&mut self, cause: u64, tval: u64, pc: u64, is_interrupt: bool) -> u64 {
        let code = cause & !INTERRUPT_BIT;
        let deleg = if is_interrupt {
            self.mideleg
        } else {
            self.medeleg
        };
        let to_s = self.priv_level <= Priv::Supervisor && code < 64 && deleg & (1 << code) != 0;
        let xcause = code | if is_interrupt { INTERRUPT_BIT } else { 0 };
        let prev = self.priv_level as u64;
        let tvec = if to_s {
            self.sepc = pc & !1;
            self.scause = xcause;
            self.stval = tval;
            let sie = self.mstatus & status::SIE != 0;
            self.mstatus &= !(status::SPIE | status::SIE | status::SPP);
            if sie {
                self.mstatus |= status::SPIE;
            }
            if prev != 0 {
                self.mstatus |= status::SPP;
            }
            self.priv_level = Priv::Supervisor;
            self.stvec
        } else {
            self.mepc = pc & !1;
            self.mcause = xcause;
            self.mtval = tval;
            let mie = self.mstatus & status::MIE != 0;
            self.mstatus &= !(status::MPIE | status::MIE | status::MPP);
            if mie {
                self.mstatus |= status::MPIE;
            }
            self.mstatus |= prev << status::MPP_SHIFT;
            self.priv_level = Priv::Machine;
            self.mtvec
        };
        let base = tvec & !3;
        if is_interrupt && tvec & 3 == 1 {
            base.wrapping_add(4 * code)
        } else {
            base
        }
    }

    /// Takes synchronous exception `trap` at `pc`; see [`PrivState::take_trap`].
    pub fn take_exception(&mut self, trap: Trap, pc: u64) -> u64 {
        self.take_trap(trap.cause, trap.tval, pc, false)
    }

    /// `mret` at privilege `priv_level`: returns the new pc (mepc) or illegal instruction
    /// outside M-mode. Privilege := MPP, MIE := MPIE, MPIE := 1, MPP := U, and MPRV := 0 when
    /// the new privilege is below M. The caller ends the block (privilege/MMU change).
    pub fn mret(&mut self, priv_level: Priv) -> Result<u64, Trap> {
        if priv_level != Priv::Machine {
            return Err(Trap::illegal());
        }
        let mpp = (self.mstatus & status::MPP) >> status::MPP_SHIFT;
        // MPP never holds the reserved value (WARL), but decode defensively.
        let new = Priv::from_bits(mpp).unwrap_or(Priv::User);
        let mpie = self.mstatus & status::MPIE != 0;
        self.mstatus &= !(status::MIE | status::MPP);
        if mpie {
            self.mstatus |= status::MIE;
        }
        self.mstatus |= status::MPIE;
        if new != Priv::Machine {
            self.mstatus &= !status::MPRV;
        }
        self.priv_level = new;
        Ok(self.mepc & !1)
    }

    /// `sret` at privilege `priv_level`: illegal in U-mode and in S-mode when mstatus.TSR = 1.
    /// Privilege := SPP, SIE := SPIE, SPIE := 1, SPP := U, MPRV := 0. Returns sepc.
    pub fn sret(&mut self, priv_level: Priv) -> Result<u64, Trap> {
        match priv_level {
            Priv::User => return Err(Trap::illegal()),
            Priv::Supervisor if self.mstatus & status::TSR != 0 => return Err(Trap::illegal()),
            _ => {}
        }
        let new = if self.mstatus & status::SPP != 0 {
            Priv::Supervisor
        } else {
            Priv::User
        };
        let spie = self.mstatus & status::SPIE != 0;
        self.mstatus &= !(status::SIE | status::SPP | status::MPRV);
        if spie {
            self.mstatus |= status::SIE;
        }
        self.mstatus |= status::SPIE;
        self.priv_level = new;
        Ok(self.sepc & !1)
    }

    /// `wfi` at privilege `priv_level`: illegal in U-mode, and in S-mode when mstatus.TW = 1
    /// (our bounded time limit is zero). On Ok the caller may idle until
    /// [`PrivState::wfi_wakeup`] is true (then it continues after the wfi).
    pub fn wfi(&self, priv_level: Priv) -> Result<(), Trap> {
        match priv_level {
            Priv::User => Err(Trap::illegal()),
            Priv::Supervisor if self.mstatus & status::TW != 0 => Err(Trap::illegal()),
            _ => Ok(()),
        }
    }

    /// Whether a hart in `wfi` resumes: some interrupt is pending and enabled in mie,
    /// regardless of the global enables and delegation.
    pub fn wfi_wakeup(&self) -> bool {
        self.mip() & self.mie != 0
    }

    /// The interrupt (code, without the interrupt bit) to take before the next instruction at
    /// the current privilege, if any. M-level (non-delegated) interrupts are enabled when
    /// privilege < M or mstatus.MIE; delegated ones when privilege < S or (privilege = S and
    /// mstatus.SIE), never in M-mode. M-level interrupts come first; within a level the order
    /// is MEI, MSI, MTI, SEI, SSI, STI.
    pub fn pending_interrupt(&self) -> Option<u64> {
        let pending = self.mip() & self.mie;
        if pending == 0 {
            return None;
        }
        let p = self.priv_level;
        let m_enabled = p < Priv::Machine || self.mstatus & status::MIE != 0;
        let s_enabled =
            p < Priv::Supervisor || (p == Priv::Supervisor && self.mstatus & status::SIE != 0);
        let mut enabled = 0;
        if m_enabled {
            enabled |= pending & !self.mideleg;
        }
        let m_level = enabled;
        if s_enabled {
            enabled |= pending & self.mideleg;
        }
        for set in [m_level, enabled] {
            if let Some(&c) = irq::PRIORITY.iter().find(|&&c| set & (1 << c) != 0) {
                return Some(c);
            }
        }
        None
    }
}
