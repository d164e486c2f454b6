//! Unit tests of the CSR file, traps and the page walker, written from the privileged spec.

use super::csr::{self, envcfg, irq, satp, status};
use super::*;
use std::cell::{Cell, RefCell};

const M: Priv = Priv::Machine;
const S: Priv = Priv::Supervisor;
const U: Priv = Priv::User;

fn illegal<T: std::fmt::Debug>(r: Result<T, Trap>) {
    assert_eq!(r.unwrap_err(), Trap::illegal());
}

// ---------------------------------------------------------------- CSRs

#[test]
fn mstatus_warl_and_sstatus_view() {
    let mut st = PrivState::new(0, 0);
    assert_eq!(st.csr_read(csr::MSTATUS, M).unwrap(), status::XL64);
    st.csr_write(csr::MSTATUS, u64::MAX, M).unwrap();
    let v = st.csr_read(csr::MSTATUS, M).unwrap();
    assert_eq!(v, status::WRITABLE | status::XL64 | status::SD);
    // UXL/SXL stay 64-bit, VS/XS/UBE/SBE/MBE stay 0.
    assert_eq!(
        v & (status::VS | status::XS | status::UBE | status::SBE | status::MBE),
        0
    );
    st.csr_write(csr::MSTATUS, 0, M).unwrap();
    assert_eq!(st.csr_read(csr::MSTATUS, M).unwrap(), status::XL64);
    // MPP = 2 (reserved) keeps the previous MPP.
    st.csr_write(csr::MSTATUS, 1 << status::MPP_SHIFT, M)
        .unwrap();
    st.csr_write(csr::MSTATUS, 2 << status::MPP_SHIFT, M)
        .unwrap();
    assert_eq!(st.mstatus() & status::MPP, 1 << status::MPP_SHIFT);
    // sstatus shows only its bits, writes only its writable bits.
    st.csr_write(csr::MSTATUS, status::MIE | status::TVM | status::SIE, M)
        .unwrap();
    assert_eq!(
        st.csr_read(csr::SSTATUS, S).unwrap(),
        status::SIE | (2 << 32)
    );
    st.csr_write(csr::SSTATUS, u64::MAX, S).unwrap();
    let m = st.mstatus();
    assert_eq!(m & status::SSTATUS_WRITABLE, status::SSTATUS_WRITABLE);
    assert_eq!(m & (status::MIE | status::TVM), status::MIE | status::TVM);
    assert_eq!(
        m & (status::MPRV | status::TW | status::TSR | status::MPIE),
        0
    );
    st.csr_write(csr::SSTATUS, 0, S).unwrap();
    assert_eq!(st.mstatus() & status::SSTATUS_WRITABLE, 0);
    assert_eq!(
        st.mstatus() & (status::MIE | status::TVM),
        status::MIE | status::TVM
    );
    // SD follows FS == Dirty only.
    st.csr_write(csr::SSTATUS, 2 << status::FS_SHIFT, S)
        .unwrap();
    assert_eq!(st.csr_read(csr::SSTATUS, S).unwrap() & status::SD, 0);
    assert!(st.fp_enabled());
    st.mark_fs_dirty();
    assert_ne!(st.csr_read(csr::SSTATUS, S).unwrap() & status::SD, 0);
    // Not from U-mode.
    illegal(st.csr_read(csr::SSTATUS, U));
    illegal(st.csr_write(csr::MSTATUS, 0, S));
}

#[test]
fn mstatus_write_effects() {
    let mut st = PrivState::new(0, 0);
    let e = st.csr_write(csr::MSTATUS, status::SUM, M).unwrap();
    assert!(e.flush_tlb && e.end_block && !e.check_irq);
    let e = st.csr_write(csr::MSTATUS, status::SUM, M).unwrap();
    assert_eq!(e, WriteEffect::default());
    let e = st
        .csr_write(csr::MSTATUS, status::SUM | status::MIE, M)
        .unwrap();
    assert!(e.check_irq && e.end_block && !e.flush_tlb);
    let e = st
        .csr_write(csr::MSTATUS, status::SUM | status::MIE | status::FS, M)
        .unwrap();
    assert!(e.end_block && !e.flush_tlb && !e.check_irq);
    // MPP matters for translation only under MPRV.
    let e = st.csr_write(
        csr::MSTATUS,
        status::SUM | status::MIE | status::FS | status::MPP,
        M,
    );
    assert!(!e.unwrap().flush_tlb);
    st.csr_write(csr::MSTATUS, status::MPRV | status::MPP, M)
        .unwrap();
    let e = st.csr_write(csr::MSTATUS, status::MPRV, M).unwrap();
    assert!(e.flush_tlb);
}

#[test]
fn id_csrs_are_read_only_and_machine_only() {
    let mut st = PrivState::new(7, 0);
    assert_eq!(st.csr_read(csr::MHARTID, M).unwrap(), 7);
    for n in [csr::MVENDORID, csr::MARCHID, csr::MIMPID, csr::MCONFIGPTR] {
        assert_eq!(st.csr_read(n, M).unwrap(), 0);
    }
    for n in [
        csr::MVENDORID,
        csr::MARCHID,
        csr::MIMPID,
        csr::MHARTID,
        csr::MCONFIGPTR,
    ] {
        illegal(st.csr_write(n, 1, M));
        illegal(st.csr_read(n, S));
    }
    // mseccfg (0x747) and unknown CSRs are absent.
    illegal(st.csr_read(0x747, M));
    illegal(st.csr_read(0x7A0, M));
    illegal(st.csr_read(0x5A8, M));
}

#[test]
fn misa_is_rv64_imafdcb_su_and_ignores_writes() {
    let mut st = PrivState::new(0, 0);
    let v = st.csr_read(csr::MISA, M).unwrap();
    assert_eq!(v >> 62, 2);
    for letter in "IMAFDCBSU".chars() {
        assert_ne!(v & 1 << (letter as u8 - b'A'), 0, "{letter}");
    }
    assert_eq!(
        v & (1 << (b'H' - b'A') | 1 << (b'V' - b'A') | 1 << (b'E' - b'A')),
        0
    );
    st.csr_write(csr::MISA, 0, M).unwrap();
    assert_eq!(st.csr_read(csr::MISA, M).unwrap(), v);
    illegal(st.csr_read(csr::MISA, S));
}

#[test]
fn delegation_registers_warl() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::MEDELEG, u64::MAX, M).unwrap();
    let d = st.csr_read(csr::MEDELEG, M).unwrap();
    assert_eq!(
        d & 1 << cause::ECALL_M,
        0,
        "ecall from M cannot be delegated"
    );
    for c in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15] {
        assert_ne!(d & 1 << c, 0, "cause {c}");
    }
    assert_eq!(d & !0xB3FF, 0);
    st.csr_write(csr::MIDELEG, u64::MAX, M).unwrap();
    assert_eq!(st.csr_read(csr::MIDELEG, M).unwrap(), irq::S_BITS);
    illegal(st.csr_write(csr::MEDELEG, 0, S));
}

#[test]
fn mie_mip_and_s_views() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::MIE, u64::MAX, M).unwrap();
    assert_eq!(st.csr_read(csr::MIE, M).unwrap(), irq::ALL);
    // Without delegation sie/sip show nothing and sie writes do not take.
    assert_eq!(st.csr_read(csr::SIE, S).unwrap(), 0);
    st.csr_write(csr::MIE, 0, M).unwrap();
    st.csr_write(csr::SIE, u64::MAX, S).unwrap();
    assert_eq!(st.csr_read(csr::MIE, M).unwrap(), 0);
    st.csr_write(csr::MIDELEG, irq::SSIP | irq::STIP, M)
        .unwrap();
    st.csr_write(csr::SIE, u64::MAX, S).unwrap();
    assert_eq!(st.csr_read(csr::MIE, M).unwrap(), irq::SSIP | irq::STIP);
    assert_eq!(st.csr_read(csr::SIE, S).unwrap(), irq::SSIP | irq::STIP);
    // mip: SSIP, STIP, SEIP writable by M; MSIP/MTIP/MEIP are device lines.
    st.csr_write(csr::MIP, u64::MAX, M).unwrap();
    assert_eq!(st.csr_read(csr::MIP, M).unwrap(), irq::S_BITS);
    st.set_irq_line(irq::MTIP | irq::MSIP, true);
    assert_eq!(
        st.csr_read(csr::MIP, M).unwrap(),
        irq::S_BITS | irq::MTIP | irq::MSIP
    );
    st.csr_write(csr::MIP, 0, M).unwrap();
    assert_eq!(st.csr_read(csr::MIP, M).unwrap(), irq::MTIP | irq::MSIP);
    st.set_irq_line(irq::MTIP, false);
    // sip shows delegated bits only; only SSIP is writable through it.
    st.csr_write(csr::MIP, irq::STIP | irq::SEIP, M).unwrap();
    assert_eq!(st.csr_read(csr::SIP, S).unwrap(), irq::STIP);
    st.csr_write(csr::SIP, u64::MAX, S).unwrap();
    assert_eq!(st.csr_read(csr::SIP, S).unwrap(), irq::STIP | irq::SSIP);
    st.csr_write(csr::SIP, 0, S).unwrap();
    assert_eq!(st.csr_read(csr::SIP, S).unwrap(), irq::STIP);
    assert_eq!(
        st.csr_read(csr::MIP, M).unwrap(),
        irq::STIP | irq::SEIP | irq::MSIP
    );
    illegal(st.csr_read(csr::MIP, S));
    illegal(st.csr_read(csr::SIP, U));
}

#[test]
fn seip_read_modify_write_uses_software_bit() {
    let mut st = PrivState::new(0, 0);
    st.set_irq_line(irq::SEIP, true);
    // csrrs mip, SSIP: rd sees the external SEIP, but the write must not latch it.
    let (old, e) = st
        .csr_rmw(csr::MIP, CsrOp::Set, irq::SSIP, true, M)
        .unwrap();
    assert_eq!(old, irq::SEIP);
    assert!(e.check_irq);
    st.set_irq_line(irq::SEIP, false);
    assert_eq!(st.csr_read(csr::MIP, M).unwrap(), irq::SSIP);
    // csrrs with x0 does not write: legal even on read-only CSRs.
    let (v, e) = st.csr_rmw(csr::MHARTID, CsrOp::Set, 0, false, M).unwrap();
    assert_eq!((v, e), (0, WriteEffect::default()));
    illegal(st.csr_rmw(csr::MHARTID, CsrOp::Set, 0, true, M));
    let (old, _) = st.csr_rmw(csr::MSCRATCH, CsrOp::Write, 5, true, M).unwrap();
    assert_eq!(old, 0);
    st.csr_rmw(csr::MSCRATCH, CsrOp::Clear, 4, true, M).unwrap();
    assert_eq!(st.mscratch, 1);
}

#[test]
fn tvec_epc_cause_tval_scratch() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::MTVEC, 0x8000_0101, M).unwrap();
    assert_eq!(st.csr_read(csr::MTVEC, M).unwrap(), 0x8000_0101);
    // Reserved mode 2/3 keeps the old mode; base keeps 4-byte alignment.
    st.csr_write(csr::MTVEC, 0x8000_0202, M).unwrap();
    assert_eq!(st.csr_read(csr::MTVEC, M).unwrap(), 0x8000_0201);
    st.csr_write(csr::STVEC, 0xffff_ffff_8000_0003, S).unwrap();
    assert_eq!(st.csr_read(csr::STVEC, S).unwrap(), 0xffff_ffff_8000_0000);
    // xEPC bit 0 is always zero (IALIGN = 16 with C).
    st.csr_write(csr::MEPC, 0x1003, M).unwrap();
    assert_eq!(st.csr_read(csr::MEPC, M).unwrap(), 0x1002);
    st.csr_write(csr::SEPC, u64::MAX, S).unwrap();
    assert_eq!(st.csr_read(csr::SEPC, S).unwrap(), u64::MAX - 1);
    for (n, p) in [
        (csr::MSCRATCH, M),
        (csr::SSCRATCH, S),
        (csr::MCAUSE, M),
        (csr::SCAUSE, S),
        (csr::MTVAL, M),
        (csr::STVAL, S),
    ] {
        st.csr_write(n, 0xdead_beef_0000_0005, p).unwrap();
        assert_eq!(st.csr_read(n, p).unwrap(), 0xdead_beef_0000_0005);
    }
    illegal(st.csr_write(csr::MSCRATCH, 0, S));
    illegal(st.csr_write(csr::SSCRATCH, 0, U));
}

#[test]
fn satp_modes_are_warl_and_tvm_traps() {
    let mut st = PrivState::new(0, 0);
    let sv39 = satp::MODE_SV39 << 60 | 0x1234 << 44 | 0x80123;
    let e = st.csr_write(csr::SATP, sv39, S).unwrap();
    assert!(e.flush_tlb && e.end_block);
    assert_eq!(st.csr_read(csr::SATP, S).unwrap(), sv39);
    // Same value again: nothing to flush.
    assert_eq!(
        st.csr_write(csr::SATP, sv39, S).unwrap(),
        WriteEffect::default()
    );
    // Unsupported modes (1..7, 11..15): the whole write has no effect.
    for mode in [1u64, 7, 11, 15] {
        st.csr_write(csr::SATP, mode << 60 | 0x55, S).unwrap();
        assert_eq!(st.csr_read(csr::SATP, S).unwrap(), sv39);
    }
    for mode in [satp::MODE_SV48, satp::MODE_SV57, satp::MODE_BARE] {
        st.csr_write(csr::SATP, mode << 60 | 0x42, S).unwrap();
        assert_eq!(st.csr_read(csr::SATP, S).unwrap(), mode << 60 | 0x42);
    }
    st.max_satp_mode = satp::MODE_SV39;
    st.csr_write(csr::SATP, satp::MODE_SV48 << 60 | 1, S)
        .unwrap();
    assert_eq!(st.csr_read(csr::SATP, S).unwrap(), 0x42);
    // ASID width: with 0 bits the ASID reads back 0 (Linux probes this).
    st.asid_bits = 0;
    st.csr_write(csr::SATP, satp::MODE_SV39 << 60 | 0xFFFF << 44 | 7, S)
        .unwrap();
    assert_eq!(
        st.csr_read(csr::SATP, S).unwrap(),
        satp::MODE_SV39 << 60 | 7
    );
    // TVM: satp and sfence.vma trap in S-mode, not in M-mode.
    assert!(st.check_sfence_vma(S).is_ok());
    st.csr_write(csr::MSTATUS, status::TVM, M).unwrap();
    illegal(st.csr_read(csr::SATP, S));
    illegal(st.csr_write(csr::SATP, 0, S));
    illegal(st.check_sfence_vma(S));
    assert!(st.csr_read(csr::SATP, M).is_ok());
    assert!(st.check_sfence_vma(M).is_ok());
    illegal(st.check_sfence_vma(U));
    illegal(st.csr_read(csr::SATP, U));
}

#[test]
fn counters_and_counteren() {
    let mut st = PrivState::new(0, 0);
    // The callbacks are Send; share via atomics in the test.
    let r = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(100));
    let t = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(5000));
    let (r2, t2) = (r.clone(), t.clone());
    // Without a time source, time does not exist (firmware emulates it).
    illegal(st.csr_read(csr::TIME, M));
    st.set_retired_source(Box::new(move || {
        r2.load(std::sync::atomic::Ordering::SeqCst)
    }));
    st.set_time_source(Box::new(move || {
        t2.load(std::sync::atomic::Ordering::SeqCst)
    }));
    assert_eq!(st.csr_read(csr::MCYCLE, M).unwrap(), 100);
    assert_eq!(st.csr_read(csr::CYCLE, M).unwrap(), 100);
    assert_eq!(st.csr_read(csr::TIME, M).unwrap(), 5000);
    st.csr_write(csr::MINSTRET, 1000, M).unwrap();
    r.store(150, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(st.csr_read(csr::MINSTRET, M).unwrap(), 1050);
    assert_eq!(st.csr_read(csr::INSTRET, M).unwrap(), 1050);
    assert_eq!(st.csr_read(csr::MCYCLE, M).unwrap(), 150);
    // mcountinhibit freezes the counters, and they resume from the frozen value.
    st.csr_write(csr::MCOUNTINHIBIT, u64::MAX, M).unwrap();
    assert_eq!(st.csr_read(csr::MCOUNTINHIBIT, M).unwrap(), 0b101);
    r.store(170, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(st.csr_read(csr::MCYCLE, M).unwrap(), 150);
    st.csr_write(csr::MCOUNTINHIBIT, 0, M).unwrap();
    r.store(175, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(st.csr_read(csr::MCYCLE, M).unwrap(), 155);
    // hpm counters read zero, writes ignored.
    st.csr_write(csr::MHPMCOUNTER3, 9, M).unwrap();
    assert_eq!(st.csr_read(csr::MHPMCOUNTER3, M).unwrap(), 0);
    st.csr_write(csr::MHPMEVENT3, 9, M).unwrap();
    assert_eq!(st.csr_read(csr::MHPMEVENT3, M).unwrap(), 0);
    // User-level counters are read-only.
    illegal(st.csr_write(csr::CYCLE, 0, M));
    // S needs mcounteren, U needs both.
    illegal(st.csr_read(csr::TIME, S));
    st.csr_write(csr::MCOUNTEREN, 0b010, M).unwrap();
    assert_eq!(st.csr_read(csr::TIME, S).unwrap(), 5000);
    illegal(st.csr_read(csr::CYCLE, S));
    illegal(st.csr_read(csr::TIME, U));
    st.csr_write(csr::SCOUNTEREN, 0b111, S).unwrap();
    assert_eq!(st.csr_read(csr::TIME, U).unwrap(), 5000);
    illegal(st.csr_read(csr::CYCLE, U));
    st.csr_write(csr::MCOUNTEREN, u64::MAX, M).unwrap();
    assert_eq!(st.csr_read(csr::MCOUNTEREN, M).unwrap(), 0xFFFF_FFFF);
    assert_eq!(st.csr_read(csr::CYCLE, U).unwrap(), 155);
    illegal(st.csr_read(csr::HPMCOUNTER3, U)); // scounteren bit 3 clear
    illegal(st.csr_read(csr::MCYCLE, S));
    illegal(st.csr_write(csr::MCOUNTEREN, 0, S));
    illegal(st.csr_read(csr::SCOUNTEREN, U));
}

#[test]
fn envcfg_and_sstc() {
    let mut st = PrivState::new(0, 0);
    // No time source: no stimecmp.
    illegal(st.csr_read(csr::STIMECMP, M));
    let t = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1000));
    let t2 = t.clone();
    st.set_time_source(Box::new(move || {
        t2.load(std::sync::atomic::Ordering::SeqCst)
    }));
    st.csr_write(csr::MENVCFG, u64::MAX, M).unwrap();
    let cbo = envcfg::CBIE | envcfg::CBCFE | envcfg::CBZE;
    assert_eq!(
        st.csr_read(csr::MENVCFG, M).unwrap(),
        envcfg::STCE | envcfg::PBMTE | envcfg::FIOM | cbo
    );
    st.csr_write(csr::SENVCFG, u64::MAX, S).unwrap();
    assert_eq!(st.csr_read(csr::SENVCFG, S).unwrap(), envcfg::FIOM | cbo);
    illegal(st.csr_read(csr::MENVCFG, S));
    illegal(st.csr_read(csr::SENVCFG, U));
    // S-mode access to stimecmp needs STCE and mcounteren.TM.
    illegal(st.csr_read(csr::STIMECMP, S));
    st.csr_write(csr::MCOUNTEREN, 2, M).unwrap();
    assert_eq!(st.csr_read(csr::STIMECMP, S).unwrap(), u64::MAX);
    // STIP follows time >= stimecmp and is not software-writable.
    st.csr_write(csr::MIP, irq::STIP, M).unwrap();
    assert_eq!(st.csr_read(csr::MIP, M).unwrap() & irq::STIP, 0);
    let e = st.csr_write(csr::STIMECMP, 1500, S).unwrap();
    assert!(e.check_irq);
    assert_eq!(st.csr_read(csr::MIP, M).unwrap() & irq::STIP, 0);
    t.store(1500, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(st.csr_read(csr::MIP, M).unwrap() & irq::STIP, irq::STIP);
    st.csr_write(csr::STIMECMP, 2000, S).unwrap();
    assert_eq!(st.csr_read(csr::MIP, M).unwrap() & irq::STIP, 0);
    // STCE = 0: S loses stimecmp, M keeps it, and STIP is software-writable again.
    st.csr_write(csr::MENVCFG, 0, M).unwrap();
    illegal(st.csr_read(csr::STIMECMP, S));
    assert_eq!(st.csr_read(csr::STIMECMP, M).unwrap(), 2000);
    st.csr_write(csr::MIP, irq::STIP, M).unwrap();
    assert_eq!(st.csr_read(csr::MIP, M).unwrap() & irq::STIP, irq::STIP);
    illegal(st.csr_read(csr::STIMECMP, U));
}

/// Zicbom/Zicboz enables: menvcfg gates S and U, senvcfg gates U too, M always runs
/// them; the fields are WARL (CBIE's reserved 10 keeps the old value) and each CSR keeps
/// its own fields; senvcfg writes that change them end the block (new translation flags).
#[test]
fn envcfg_cbo_fields_gate_lower_privileges() {
    let mut st = PrivState::new(0, 0);
    let none = CboEnables::default();
    let all = CboEnables {
        zero: true,
        clean_flush: true,
        inval: true,
    };
    assert_eq!(st.cbo_enables(M), all);
    assert_eq!(st.cbo_enables(S), none);
    assert_eq!(st.cbo_enables(U), none);
    // menvcfg alone: S gets them, U still needs senvcfg.
    st.csr_write(csr::MENVCFG, envcfg::CBZE, M).unwrap();
    assert_eq!(st.cbo_enables(S), CboEnables { zero: true, ..none });
    assert_eq!(st.cbo_enables(U), none);
    let e = st.csr_write(csr::SENVCFG, envcfg::CBZE, S).unwrap();
    assert!(e.end_block);
    assert!(st.cbo_enables(U).zero);
    // Rewriting the same value changes nothing the translator folded in.
    assert!(
        !st.csr_write(csr::SENVCFG, envcfg::CBZE, S)
            .unwrap()
            .end_block
    );
    // CBIE: 01 (flush) and 11 (invalidate) enable, 10 is reserved and keeps the old value.
    let flush = 1 << envcfg::CBIE_SHIFT;
    st.csr_write(csr::MENVCFG, flush | envcfg::CBCFE, M)
        .unwrap();
    assert_eq!(st.menvcfg(), flush | envcfg::CBCFE);
    assert_eq!(
        st.cbo_enables(S),
        CboEnables {
            zero: false,
            clean_flush: true,
            inval: true
        }
    );
    st.csr_write(csr::MENVCFG, envcfg::CBIE_RESERVED | envcfg::CBCFE, M)
        .unwrap();
    assert_eq!(st.csr_read(csr::MENVCFG, M).unwrap(), flush | envcfg::CBCFE);
    st.csr_write(csr::SENVCFG, envcfg::CBIE, S).unwrap();
    st.csr_write(csr::SENVCFG, envcfg::CBIE_RESERVED | envcfg::CBCFE, S)
        .unwrap();
    assert_eq!(st.senvcfg(), envcfg::CBIE | envcfg::CBCFE);
    assert_eq!(
        st.cbo_enables(U),
        CboEnables {
            zero: false,
            clean_flush: true,
            inval: true
        }
    );
    // The fields of one CSR do not change the other's.
    st.csr_write(csr::MENVCFG, 0, M).unwrap();
    assert_eq!(st.senvcfg(), envcfg::CBIE | envcfg::CBCFE);
    assert_eq!(st.cbo_enables(U), none);
    assert_eq!(st.cbo_enables(S), none);
    assert_eq!(st.cbo_enables(M), all);
}

// ---------------------------------------------------------------- traps

#[test]
fn delegated_ecall_from_u_and_sret() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::STVEC, 0xffff_ffff_8000_1000, M).unwrap();
    st.csr_write(csr::MTVEC, 0x8000_0000, M).unwrap();
    st.csr_write(csr::MEDELEG, 1 << cause::ECALL_U, M).unwrap();
    st.csr_write(csr::SSTATUS, status::SIE, M).unwrap();
    st.priv_level = U;
    let pc = st.take_trap(cause::ECALL_U, 0, 0x1_0000, false);
    assert_eq!(pc, 0xffff_ffff_8000_1000);
    assert_eq!(st.priv_level, S);
    assert_eq!(st.sepc(), 0x1_0000);
    assert_eq!(st.scause, cause::ECALL_U);
    assert_eq!(st.stval, 0);
    let ms = st.mstatus();
    assert_eq!(ms & (status::SPP | status::SIE), 0);
    assert_ne!(ms & status::SPIE, 0);
    assert_eq!(st.mcause, 0, "M-mode registers untouched");
    st.csr_write(csr::SEPC, 0x1_0004, S).unwrap();
    assert_eq!(st.sret(S).unwrap(), 0x1_0004);
    assert_eq!(st.priv_level, U);
    let ms = st.mstatus();
    assert_ne!(ms & status::SIE, 0);
    assert_ne!(ms & status::SPIE, 0);
}

#[test]
fn undelegated_ecall_from_s_goes_to_m_and_mret_returns() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::MTVEC, 0x8000_0004, M).unwrap();
    st.csr_write(csr::MEDELEG, 1 << cause::ECALL_U, M).unwrap();
    st.csr_write(csr::MSTATUS, status::MIE | status::MPRV, M)
        .unwrap();
    st.priv_level = S;
    let pc = st.take_trap(cause::ECALL_S, 0, 0x8020_0000, false);
    assert_eq!(pc, 0x8000_0004);
    assert_eq!(st.priv_level, M);
    assert_eq!(st.mepc(), 0x8020_0000);
    assert_eq!(st.mcause, cause::ECALL_S);
    let ms = st.mstatus();
    assert_eq!(ms & status::MPP, 1 << status::MPP_SHIFT);
    assert_eq!(ms & status::MIE, 0);
    assert_ne!(ms & status::MPIE, 0);
    illegal(st.mret(S));
    illegal(st.mret(U));
    assert_eq!(st.mret(M).unwrap(), 0x8020_0000);
    assert_eq!(st.priv_level, S);
    let ms = st.mstatus();
    assert_ne!(ms & status::MIE, 0);
    assert_ne!(ms & status::MPIE, 0);
    assert_eq!(ms & status::MPP, 0, "MPP := U");
    assert_eq!(ms & status::MPRV, 0, "MPRV cleared when returning below M");
}

#[test]
fn traps_in_m_are_never_delegated_and_mret_to_m_keeps_mprv() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::MEDELEG, u64::MAX, M).unwrap();
    st.csr_write(csr::MIDELEG, u64::MAX, M).unwrap();
    st.csr_write(csr::MTVEC, 0x100, M).unwrap();
    st.csr_write(csr::STVEC, 0x200, M).unwrap();
    assert_eq!(st.take_trap(cause::ILLEGAL_INSN, 0x13, 0x40, false), 0x100);
    assert_eq!(st.mtval, 0x13);
    assert_eq!(st.mstatus() & status::MPP, status::MPP);
    st.csr_write(csr::MSTATUS, st.mstatus() | status::MPRV, M)
        .unwrap();
    assert_eq!(st.mret(M).unwrap(), 0x40);
    assert_eq!(st.priv_level, M);
    assert_ne!(st.mstatus() & status::MPRV, 0);
    // From S, a delegated page fault goes to S with stval.
    st.priv_level = S;
    assert_eq!(
        st.take_trap(cause::LOAD_PAGE_FAULT, 0xdead, 0x80, false),
        0x200
    );
    assert_eq!(st.stval, 0xdead);
    assert_ne!(st.mstatus() & status::SPP, 0);
    assert_eq!(st.sret(S).unwrap(), 0x80);
    assert_eq!(st.priv_level, S);
}

#[test]
fn vectored_interrupts_and_direct_exceptions() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::MTVEC, 0x8000_0001, M).unwrap();
    st.priv_level = U;
    assert_eq!(
        st.take_trap(irq::MTI, 0, 0x500, true),
        0x8000_0000 + 4 * irq::MTI
    );
    assert_eq!(st.mcause, 1 << 63 | irq::MTI);
    st.priv_level = U;
    assert_eq!(
        st.take_trap(cause::BREAKPOINT, 0, 0x500, false),
        0x8000_0000
    );
    st.csr_write(csr::MIDELEG, irq::STIP, M).unwrap();
    st.csr_write(csr::STVEC, 0x9000_0001, M).unwrap();
    st.priv_level = U;
    assert_eq!(
        st.take_trap(irq::STI, 0, 0x500, true),
        0x9000_0000 + 4 * irq::STI
    );
    assert_eq!(st.scause, 1 << 63 | irq::STI);
}

#[test]
fn sret_tsr_and_wfi_tw() {
    let mut st = PrivState::new(0, 0);
    illegal(st.sret(U));
    illegal(st.wfi(U));
    assert!(st.wfi(S).is_ok());
    assert!(st.wfi(M).is_ok());
    st.csr_write(csr::MSTATUS, status::TSR | status::TW, M)
        .unwrap();
    illegal(st.sret(S));
    illegal(st.wfi(S));
    assert!(st.wfi(M).is_ok());
    assert!(st.sret(M).is_ok(), "TSR does not affect M-mode");
    // wfi wakes on a pending enabled interrupt even with global enables off.
    assert!(!st.wfi_wakeup());
    st.csr_write(csr::MIE, irq::MTIP, M).unwrap();
    st.set_irq_line(irq::MTIP, true);
    assert!(st.wfi_wakeup());
    st.priv_level = M;
    assert_eq!(st.pending_interrupt(), None, "MIE = 0 in M-mode");
}

#[test]
fn interrupt_priority_and_enables() {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::MIE, irq::ALL, M).unwrap();
    st.csr_write(csr::MIP, irq::S_BITS, M).unwrap();
    st.set_irq_line(irq::MSIP | irq::MTIP | irq::MEIP, true);
    st.priv_level = U;
    // Nothing delegated: all six are M-level; order MEI MSI MTI SEI SSI STI.
    let order = [
        irq::MEIP,
        irq::MSIP,
        irq::MTIP,
        irq::SEIP,
        irq::SSIP,
        irq::STIP,
    ];
    let codes = [irq::MEI, irq::MSI, irq::MTI, irq::SEI, irq::SSI, irq::STI];
    for (i, &code) in codes.iter().enumerate() {
        assert_eq!(st.pending_interrupt(), Some(code));
        let bit = order[i];
        if bit & irq::LINES & !irq::SEIP != 0 {
            st.set_irq_line(bit, false);
        } else {
            let mip = st.csr_read(csr::MIP, M).unwrap();
            st.csr_write(csr::MIP, mip & !bit, M).unwrap();
        }
    }
    assert_eq!(st.pending_interrupt(), None);
    // mie masks.
    st.csr_write(csr::MIP, irq::SSIP, M).unwrap();
    st.csr_write(csr::MIE, irq::ALL & !irq::SSIP, M).unwrap();
    assert_eq!(st.pending_interrupt(), None);
    st.csr_write(csr::MIE, irq::ALL, M).unwrap();
    // Undelegated SSI in M-mode needs mstatus.MIE.
    st.priv_level = M;
    assert_eq!(st.pending_interrupt(), None);
    st.csr_write(csr::MSTATUS, status::MIE, M).unwrap();
    assert_eq!(st.pending_interrupt(), Some(irq::SSI));
    // Delegated: never taken in M, in S only with SIE, always in U.
    st.csr_write(csr::MIDELEG, irq::SSIP | irq::STIP, M)
        .unwrap();
    assert_eq!(st.pending_interrupt(), None);
    st.priv_level = S;
    assert_eq!(st.pending_interrupt(), None);
    st.csr_write(csr::MSTATUS, status::SIE, M).unwrap();
    assert_eq!(st.pending_interrupt(), Some(irq::SSI));
    st.priv_level = U;
    st.csr_write(csr::MSTATUS, 0, M).unwrap();
    assert_eq!(st.pending_interrupt(), Some(irq::SSI));
    // An M-level interrupt beats a higher-listed S-level one: STI delegated vs MTI.
    st.csr_write(csr::MIP, irq::STIP, M).unwrap();
    st.csr_write(csr::MIDELEG, irq::S_BITS, M).unwrap();
    st.csr_write(csr::MIP, irq::SEIP, M).unwrap();
    st.set_irq_line(irq::MTIP, true);
    st.priv_level = S;
    st.csr_write(csr::MSTATUS, status::SIE, M).unwrap();
    assert_eq!(st.pending_interrupt(), Some(irq::MTI));
    st.set_irq_line(irq::MTIP, false);
    assert_eq!(st.pending_interrupt(), Some(irq::SEI));
    // M-level interrupts are taken in S even with MIE = 0.
    st.csr_write(csr::MIDELEG, 0, M).unwrap();
    assert_eq!(st.pending_interrupt(), Some(irq::SEI));
    // Taking it goes to M (not delegated).
    let code = st.pending_interrupt().unwrap();
    st.take_trap(code, 0, 0x1000, true);
    assert_eq!(st.priv_level, M);
    assert_eq!(st.pending_interrupt(), None, "MIE was 0");
}

// ---------------------------------------------------------------- MMU

/// RAM at `base` as 64-bit words, with an optional forced CAS failure.
struct TestMem {
    base: u64,
    words: RefCell<Vec<u64>>,
    next_free: Cell<u64>,
    /// When set, the next compare-exchange fails after storing this value (a racing writer).
    race: Cell<Option<u64>>,
}

impl TestMem {
    fn new(base: u64, size: u64) -> TestMem {
        TestMem {
            base,
            words: RefCell::new(vec![0; (size / 8) as usize]),
            next_free: Cell::new(base),
            race: Cell::new(None),
        }
    }
    fn alloc_page(&self) -> u64 {
        let p = self.next_free.get();
        self.next_free.set(p + 4096);
        p
    }
    fn idx(&self, pa: u64) -> Result<usize, PhysMemError> {
        let len = self.words.borrow().len() as u64;
        if pa < self.base || pa - self.base >= len * 8 || !pa.is_multiple_of(8) {
            return Err(PhysMemError);
        }
        Ok(((pa - self.base) / 8) as usize)
    }
    fn write(&self, pa: u64, v: u64) {
        let i = self.idx(pa).unwrap();
        self.words.borrow_mut()[i] = v;
    }
    fn read(&self, pa: u64) -> u64 {
        self.read_u64(pa).unwrap()
    }
}

impl PhysMem for TestMem {
    fn read_u64(&self, pa: u64) -> Result<u64, PhysMemError> {
        let i = self.idx(pa)?;
        Ok(self.words.borrow()[i])
    }
    fn compare_exchange_u64(
        &self,
        pa: u64,
        current: u64,
        new: u64,
    ) -> Result<Result<u64, u64>, PhysMemError> {
        let i = self.idx(pa)?;
        if let Some(v) = self.race.take() {
            self.words.borrow_mut()[i] = v;
        }
        let mut w = self.words.borrow_mut();
        if w[i] == current {
            w[i] = new;
            Ok(Ok(current))
        } else {
            Ok(Err(w[i]))
        }
    }
}

const V: u64 = 1;
const R: u64 = 2;
const W: u64 = 4;
const X: u64 = 8;
const UB: u64 = 16;
const A: u64 = 64;
const D: u64 = 128;

const RAM: u64 = 0x8000_0000;

/// Page tables for `levels` (3/4/5) with root at the first page of `mem`.
struct Tables<'a> {
    mem: &'a TestMem,
    root: u64,
    levels: u32,
}

impl<'a> Tables<'a> {
    fn new(mem: &'a TestMem, levels: u32) -> Tables<'a> {
        let root = mem.alloc_page();
        Tables { mem, root, levels }
    }
    fn satp(&self) -> u64 {
        let mode = match self.levels {
            3 => satp::MODE_SV39,
            4 => satp::MODE_SV48,
            _ => satp::MODE_SV57,
        };
        mode << 60 | self.root >> 12
    }
    /// Address of the PTE for `va` at `level`, creating intermediate tables.
    fn pte_addr(&self, va: u64, level: u32) -> u64 {
        let mut table = self.root;
        let mut l = self.levels - 1;
        loop {
            let slot = table + ((va >> (12 + 9 * l)) & 0x1ff) * 8;
            if l == level {
                return slot;
            }
            let mut pte = self.mem.read(slot);
            if pte & V == 0 {
                let t = self.mem.alloc_page();
                pte = (t >> 12) << 10 | V;
                self.mem.write(slot, pte);
            }
            table = (pte >> 10) << 12;
            l -= 1;
        }
    }
    fn map(&self, va: u64, pa: u64, level: u32, flags: u64) -> u64 {
        let slot = self.pte_addr(va, level);
        self.mem.write(slot, (pa >> 12) << 10 | flags);
        slot
    }
}

fn mmu_state(t: &Tables) -> PrivState {
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::SATP, t.satp(), M).unwrap();
    st
}

fn fault(cause: u64, va: u64) -> Trap {
    Trap { cause, tval: va }
}

#[test]
fn sv39_page_sizes() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    t.map(0x1000, 0x9000_0000, 0, V | R | W | A | D);
    t.map(0x4020_0000, 0x8040_0000, 1, V | R | X | A);
    t.map(0xffff_ffff_c000_0000, 0xc000_0000, 2, V | R | W | X | A | D);
    let st = mmu_state(&t);
    let tr = st.translate(0x1abc, 8, Access::Read, S, &mem).unwrap();
    assert_eq!((tr.paddr, tr.page_size), (0x9000_0abc, 4096));
    assert_eq!(
        tr.perms,
        Perms {
            r: true,
            w: true,
            x: false
        }
    );
    let tr = st.translate(0x4031_2344, 4, Access::Exec, S, &mem).unwrap();
    assert_eq!((tr.paddr, tr.page_size), (0x8051_2344, 2 << 20));
    assert_eq!(
        tr.perms,
        Perms {
            r: true,
            w: false,
            x: true
        }
    );
    let tr = st
        .translate(0xffff_ffff_c123_4567, 1, Access::Write, S, &mem)
        .unwrap();
    assert_eq!((tr.paddr, tr.page_size), (0xc123_4567, 1 << 30));
    // Unmapped: page fault with the access's cause.
    assert_eq!(
        st.translate(0x2000, 8, Access::Read, S, &mem),
        Err(fault(cause::LOAD_PAGE_FAULT, 0x2000))
    );
    assert_eq!(
        st.translate(0x2000, 8, Access::Write, S, &mem),
        Err(fault(cause::STORE_PAGE_FAULT, 0x2000))
    );
    assert_eq!(
        st.translate(0x2000, 2, Access::Exec, S, &mem),
        Err(fault(cause::FETCH_PAGE_FAULT, 0x2000))
    );
    // M-mode and Bare mode do not translate.
    assert_eq!(
        st.translate(0x1abc, 8, Access::Read, M, &mem)
            .unwrap()
            .paddr,
        0x1abc
    );
    let bare = PrivState::new(0, 0);
    let tr = bare
        .translate(0x8000_1234, 8, Access::Write, S, &mem)
        .unwrap();
    assert_eq!((tr.paddr, tr.page_size), (0x8000_1234, 4096));
}

#[test]
fn sv48_and_sv57_page_sizes() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 4);
    t.map(0x7fff_ffff_f000, 0x8000_5000, 0, V | R | A);
    t.map(0x80_0000_0000, 0, 3, V | R | W | A | D); // 512 GiB page
    t.map(0xffff_8000_0000_0000, 0x1_0000_0000, 2, V | R | A); // 1 GiB
    let st = mmu_state(&t);
    let tr = st
        .translate(0x7fff_ffff_f010, 8, Access::Read, S, &mem)
        .unwrap();
    assert_eq!((tr.paddr, tr.page_size), (0x8000_5010, 4096));
    let va = 0x80_0000_0000 + 0x12_3456_7890;
    let tr = st.translate(va, 8, Access::Write, S, &mem).unwrap();
    assert_eq!((tr.paddr, tr.page_size), (0x12_3456_7890, 1 << 39));
    let tr = st
        .translate(0xffff_8000_0000_0008, 8, Access::Read, S, &mem)
        .unwrap();
    assert_eq!(tr.paddr, 0x1_0000_0008);
    // Sv48 canonical: bits 63:47 must equal bit 47.
    for va in [
        0x8000_0000_0000u64,
        0x0001_0000_0000_0000,
        0xfff0_0000_0000_0000,
    ] {
        assert_eq!(
            st.translate(va, 8, Access::Read, S, &mem),
            Err(fault(cause::LOAD_PAGE_FAULT, va))
        );
    }

    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 5);
    t.map(0x00ff_ffff_ffff_f000, 0x8000_7000, 0, V | R | X | A);
    t.map(0xff00_0000_0000_0000, 0, 4, V | R | A); // 256 TiB
    let st = mmu_state(&t);
    let tr = st.translate(0x00ff_ffff_ffff_f004, 4, Access::Exec, U, &mem);
    assert_eq!(
        tr,
        Err(fault(cause::FETCH_PAGE_FAULT, 0x00ff_ffff_ffff_f004))
    );
    let tr = st
        .translate(0x00ff_ffff_ffff_f004, 4, Access::Exec, S, &mem)
        .unwrap();
    assert_eq!(tr.paddr, 0x8000_7004);
    let tr = st
        .translate(0xff00_1234_5678_9abc, 8, Access::Read, S, &mem)
        .unwrap();
    assert_eq!((tr.paddr, tr.page_size), (0x1234_5678_9abc, 1 << 48));
    let va = 0x0100_0000_0000_0000;
    assert_eq!(
        st.translate(va, 8, Access::Write, S, &mem),
        Err(fault(cause::STORE_PAGE_FAULT, va))
    );
}

#[test]
fn sv39_canonical_check() {
    let mem = TestMem::new(RAM, 1 << 16);
    let t = Tables::new(&mem, 3);
    t.map(0x4000_0000 * 0x100 - (1 << 30), 0x8000_0000, 2, V | R | A); // top of lower half
    let st = mmu_state(&t);
    assert!(
        st.translate(0x3f_ffff_fff8, 8, Access::Read, S, &mem)
            .is_ok()
    );
    for va in [0x40_0000_0000u64, 0x8000_0000_0000, 0xffff_ffbf_ffff_f000] {
        assert_eq!(
            st.translate(va, 8, Access::Read, S, &mem),
            Err(fault(cause::LOAD_PAGE_FAULT, va)),
            "{va:#x}"
        );
    }
}

#[test]
fn pte_encodings() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    let st = mmu_state(&t);
    let check = |flags: u64, access: Access, ok: bool| {
        let slot = t.map(0x5000, 0x8008_0000, 0, flags);
        let r = st.translate(0x5008, 8, access, S, &mem);
        assert_eq!(r.is_ok(), ok, "flags {flags:#x} {access:?}: {r:?}");
        mem.write(slot, 0);
    };
    let all = [Access::Read, Access::Write, Access::Exec];
    // Invalid, W-without-R (and WX), reserved bits 63:54.
    for flags in [
        R | W | X | A | D,
        W | V | A | D,
        W | X | V | A | D,
        V | R | A | 1 << 54,
        V | R | A | 1 << 63,
        V | R | A | 3 << 61,
    ] {
        for a in all {
            check(flags, a, false);
        }
    }
    // Permission combinations (A and D set).
    let table: [(u64, [bool; 3]); 5] = [
        (R, [true, false, false]),
        (R | W, [true, true, false]),
        (X, [false, false, true]),
        (R | X, [true, false, true]),
        (R | W | X, [true, true, true]),
    ];
    for (perm, expect) in table {
        for (a, ok) in all.into_iter().zip(expect) {
            check(V | A | D | perm, a, ok);
        }
    }
    // Non-leaf PTEs with D, A or U set (reserved) are page faults.
    let l1 = t.pte_addr(0x5000, 1);
    let pointer = mem.read(l1);
    t.map(0x5000, 0x8008_0000, 0, V | R | A);
    assert!(st.translate(0x5000, 8, Access::Read, S, &mem).is_ok());
    for bit in [A, D, UB] {
        mem.write(l1, pointer | bit);
        assert_eq!(
            st.translate(0x5000, 8, Access::Read, S, &mem),
            Err(fault(cause::LOAD_PAGE_FAULT, 0x5000)),
            "non-leaf bit {bit:#x}"
        );
    }
    mem.write(l1, pointer);
    // A non-leaf PTE at level 0 is a page fault.
    let slot = t.pte_addr(0x5000, 0);
    let next = mem.alloc_page();
    mem.write(slot, (next >> 12) << 10 | V);
    mem.write(next + 8 * 5, (0x8008_0000u64 >> 12) << 10 | V | R | A);
    assert_eq!(
        st.translate(0x5000, 8, Access::Read, S, &mem),
        Err(fault(cause::LOAD_PAGE_FAULT, 0x5000))
    );
}

#[test]
fn user_bit_sum_and_mxr() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    t.map(0x1000, 0x8010_0000, 0, V | R | W | X | UB | A | D); // user page
    t.map(0x2000, 0x8010_1000, 0, V | R | W | X | A | D); // supervisor page
    t.map(0x3000, 0x8010_2000, 0, V | X | UB | A | D); // execute-only user page
    let mut st = mmu_state(&t);
    let ok = |st: &PrivState, va, a, p| st.translate(va, 4, a, p, &mem).is_ok();
    // U-mode: user pages only.
    assert!(ok(&st, 0x1000, Access::Write, U));
    assert!(ok(&st, 0x1000, Access::Exec, U));
    assert!(!ok(&st, 0x2000, Access::Read, U));
    // S-mode without SUM: no access to user pages.
    assert!(!ok(&st, 0x1000, Access::Read, S));
    assert!(!ok(&st, 0x1000, Access::Write, S));
    assert!(ok(&st, 0x2000, Access::Exec, S));
    st.csr_write(csr::SSTATUS, status::SUM, S).unwrap();
    assert!(ok(&st, 0x1000, Access::Read, S));
    assert!(ok(&st, 0x1000, Access::Write, S));
    assert!(
        !ok(&st, 0x1000, Access::Exec, S),
        "S never executes user pages"
    );
    let tr = st.translate(0x1000, 4, Access::Read, S, &mem).unwrap();
    assert_eq!(
        tr.perms,
        Perms {
            r: true,
            w: true,
            x: false
        }
    );
    // MXR: loads from execute-only pages.
    assert!(!ok(&st, 0x3000, Access::Read, U));
    st.csr_write(csr::SSTATUS, status::SUM | status::MXR, S)
        .unwrap();
    assert!(ok(&st, 0x3000, Access::Read, U));
    assert!(ok(&st, 0x3000, Access::Read, S));
    assert!(!ok(&st, 0x3000, Access::Write, U));
}

#[test]
fn mprv_translates_m_mode_loads_and_stores() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    t.map(0x1000, 0x8010_0000, 0, V | R | W | UB | A | D);
    let mut st = mmu_state(&t);
    assert_eq!(
        st.translate(0x1000, 8, Access::Read, M, &mem)
            .unwrap()
            .paddr,
        0x1000
    );
    // MPRV with MPP = U: loads/stores as U; fetches unaffected.
    st.csr_write(csr::MSTATUS, status::MPRV, M).unwrap();
    assert_eq!(st.effective_priv(Access::Write, M), U);
    assert_eq!(
        st.translate(0x1008, 8, Access::Write, M, &mem)
            .unwrap()
            .paddr,
        0x8010_0008
    );
    assert_eq!(
        st.translate(0x1000, 4, Access::Exec, M, &mem)
            .unwrap()
            .paddr,
        0x1000
    );
    // MPP = S without SUM: the user page faults.
    st.csr_write(csr::MSTATUS, status::MPRV | 1 << status::MPP_SHIFT, M)
        .unwrap();
    assert_eq!(
        st.translate(0x1000, 8, Access::Read, M, &mem),
        Err(fault(cause::LOAD_PAGE_FAULT, 0x1000))
    );
    // MPRV does not apply outside M-mode.
    assert_eq!(st.effective_priv(Access::Read, U), U);
}

#[test]
fn hardware_a_d_update() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    let slot = t.map(0x1000, 0x8010_0000, 0, V | R | W);
    let st = mmu_state(&t);
    let tr = st.translate(0x1000, 8, Access::Read, S, &mem).unwrap();
    assert_eq!(mem.read(slot) & (A | D), A);
    assert!(
        tr.perms.r && !tr.perms.w,
        "no write permission cached until D is set"
    );
    let tr = st.translate(0x1000, 8, Access::Write, S, &mem).unwrap();
    assert_eq!(mem.read(slot) & (A | D), A | D);
    assert!(tr.perms.w);
    // A fetch-only walk sets A but not D.
    let slot2 = t.map(0x2000, 0x8010_1000, 0, V | R | W | X);
    st.translate(0x2000, 4, Access::Exec, S, &mem).unwrap();
    assert_eq!(mem.read(slot2) & (A | D), A);
    // Superpage leaf gets the bits too.
    let slot3 = t.map(0x4000_0000, 0x8000_0000, 2, V | R | W);
    st.translate(0x4000_0010, 8, Access::Write, S, &mem)
        .unwrap();
    assert_eq!(mem.read(slot3) & (A | D), A | D);
}

#[test]
fn a_d_race_restarts_the_walk() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    let slot = t.map(0x1000, 0x8010_0000, 0, V | R | W);
    let st = mmu_state(&t);
    // Another hart remaps the page between our read and our CAS.
    mem.race.set(Some((0x8020_0000u64 >> 12) << 10 | V | R | W));
    let tr = st.translate(0x1000, 8, Access::Write, S, &mem).unwrap();
    assert_eq!(tr.paddr, 0x8020_0000);
    assert_eq!(
        mem.read(slot),
        (0x8020_0000u64 >> 12) << 10 | V | R | W | A | D
    );
    // And if it invalidated the PTE, we fault.
    mem.write(slot, (0x8010_0000u64 >> 12) << 10 | V | R | W);
    mem.race.set(Some(0));
    assert_eq!(
        st.translate(0x1000, 8, Access::Read, S, &mem),
        Err(fault(cause::LOAD_PAGE_FAULT, 0x1000))
    );
}

#[test]
fn svade_mode_faults_instead_of_updating() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    let slot = t.map(0x1000, 0x8010_0000, 0, V | R | W);
    let mut st = mmu_state(&t);
    st.hw_ad_update = false;
    assert_eq!(
        st.translate(0x1000, 8, Access::Read, S, &mem),
        Err(fault(cause::LOAD_PAGE_FAULT, 0x1000))
    );
    mem.write(slot, mem.read(slot) | A);
    assert!(st.translate(0x1000, 8, Access::Read, S, &mem).is_ok());
    assert_eq!(
        st.translate(0x1000, 8, Access::Write, S, &mem),
        Err(fault(cause::STORE_PAGE_FAULT, 0x1000))
    );
    assert_eq!(mem.read(slot) & D, 0);
}

#[test]
fn misaligned_superpages_fault() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 4);
    t.map(0x20_0000, 0x8000_1000, 1, V | R | A | D); // 2 MiB leaf, PPN not 2 MiB aligned
    t.map(0x4000_0000, 0x8020_0000, 2, V | R | A | D); // 1 GiB leaf, 2 MiB aligned only
    t.map(0x80_0000_0000, 0x4000_0000, 3, V | R | A | D); // 512 GiB leaf, 1 GiB aligned
    t.map(0x60_0000, 0x8060_0000, 1, V | R | A | D); // properly aligned
    let st = mmu_state(&t);
    for va in [0x20_0000u64, 0x4000_0000, 0x80_0000_0000] {
        assert_eq!(
            st.translate(va, 8, Access::Read, S, &mem),
            Err(fault(cause::LOAD_PAGE_FAULT, va))
        );
    }
    assert_eq!(
        st.translate(0x7f_fff8, 8, Access::Read, S, &mem)
            .unwrap()
            .paddr,
        0x807f_fff8
    );
}

#[test]
fn access_faults_from_pmp_and_missing_memory() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    t.map(0x1000, 0x8008_0000, 0, V | R | W | X | A | D);
    t.map(0x2000, 0x1_0000_0000, 0, V | R | A | D); // not RAM: fine for the walker
    let mut st = PrivState::new(0, 16);
    st.csr_write(csr::SATP, t.satp(), M).unwrap();
    // No PMP entry configured: S-mode accesses (including the walk) fail with access faults.
    for (a, c) in [
        (Access::Read, cause::LOAD_ACCESS),
        (Access::Write, cause::STORE_ACCESS),
        (Access::Exec, cause::FETCH_ACCESS),
    ] {
        assert_eq!(st.translate(0x1000, 4, a, S, &mem), Err(fault(c, 0x1000)));
    }
    // Entry 0: page tables (first 64 KiB of RAM) R/W; entry 1: 0x8008_0000 4 KiB read-only;
    // entry 2: everything else RWX.
    st.csr_write(csr::PMPADDR0, (RAM >> 2) | (0x1_0000 / 8 - 1), M)
        .unwrap();
    st.csr_write(
        csr::PMPADDR0 + 1,
        (0x8008_0000u64 >> 2) | (0x1000 / 8 - 1),
        M,
    )
    .unwrap();
    st.csr_write(csr::PMPADDR0 + 2, u64::MAX, M).unwrap();
    st.csr_write(csr::PMPCFG0, 0x1b | 0x19 << 8 | 0x1f << 16, M)
        .unwrap();
    let tr = st.translate(0x1000, 8, Access::Read, S, &mem).unwrap();
    assert_eq!(tr.paddr, 0x8008_0000);
    assert_eq!(
        tr.perms,
        Perms {
            r: true,
            w: false,
            x: false
        },
        "PMP narrows cached perms"
    );
    assert_eq!(
        st.translate(0x1000, 8, Access::Write, S, &mem),
        Err(fault(cause::STORE_ACCESS, 0x1000))
    );
    assert_eq!(
        st.translate(0x1000, 4, Access::Exec, S, &mem),
        Err(fault(cause::FETCH_ACCESS, 0x1000))
    );
    assert!(st.translate(0x2000, 8, Access::Read, S, &mem).is_ok());
    // Page tables not readable by S-mode PMP: access fault of the original access type.
    st.csr_write(csr::PMPCFG0, 0x18 | 0x19 << 8 | 0x1f << 16, M)
        .unwrap();
    assert_eq!(
        st.translate(0x2000, 8, Access::Write, S, &mem),
        Err(fault(cause::STORE_ACCESS, 0x2000))
    );
    // Page table outside RAM: access fault.
    let mut st = PrivState::new(0, 0);
    st.csr_write(csr::SATP, satp::MODE_SV39 << 60 | 0x10_0000, M)
        .unwrap();
    assert_eq!(
        st.translate(0x1000, 8, Access::Read, S, &mem),
        Err(fault(cause::LOAD_ACCESS, 0x1000))
    );
    // M-mode accesses with no translation still see locked PMP entries.
    let mut st = PrivState::new(0, 16);
    st.csr_write(csr::PMPADDR0, (RAM >> 2) | (0x1000 / 8 - 1), M)
        .unwrap();
    st.csr_write(csr::PMPCFG0, 0x99, M).unwrap(); // L | NAPOT | R
    assert!(st.translate(RAM, 8, Access::Read, M, &mem).is_ok());
    assert_eq!(
        st.translate(RAM, 8, Access::Write, M, &mem),
        Err(fault(cause::STORE_ACCESS, RAM))
    );
}

/// The device tree's promises match the hart: satp accepts exactly the modes up to
/// [`MAX_SATP_MODE`] (which `DT_MMU_TYPE` names), and the single-letter part of `DT_ISA`
/// is misa's extension set (B, S and U are not written in the ISA string).
#[test]
fn device_tree_constants_match_the_hart() {
    assert_eq!(mmu_type(MAX_SATP_MODE), Some(DT_MMU_TYPE));
    assert_eq!(DT_MMU_TYPE, "riscv,sv57");
    let mut st = PrivState::new(0, 0);
    for mode in 0..16u64 {
        st.csr_write(csr::SATP, 0, S).unwrap();
        st.csr_write(csr::SATP, mode << 60 | 0x123, S).unwrap();
        let accepted = st.csr_read(csr::SATP, S).unwrap() == mode << 60 | 0x123;
        let expect = mode == satp::MODE_BARE || mmu_type(mode).is_some();
        assert_eq!(accepted, expect, "satp MODE {mode}");
        assert_eq!(mmu_type(mode).is_some(), (8..=10).contains(&mode));
    }
    let letters = DT_ISA
        .strip_prefix("rv64")
        .and_then(|s| s.split('_').next())
        .unwrap();
    let misa = st.csr_read(csr::MISA, M).unwrap();
    let mut from_misa = String::new();
    for c in "imafdc".chars() {
        if misa & 1 << (c as u8 - b'a') != 0 {
            from_misa.push(c);
        }
    }
    assert_eq!(letters, from_misa);
    for (c, bit) in [('b', 1), ('s', 18), ('u', 20)] {
        assert!(misa & 1 << bit != 0, "misa {c}");
    }
    assert_eq!(misa & !(3 << 62) & !0x3ff_ffff, 0);
    // misa has no letters beyond I M A F D C B S U.
    let all = "imafdcbsu"
        .chars()
        .fold(0u64, |m, c| m | 1 << (c as u8 - b'a'));
    assert_eq!(misa & 0x3ff_ffff & !all, 0);
}

/// Svpbmt: with menvcfg.PBMTE = 0 the PBMT bits are reserved (page fault); with
/// PBMTE = 1 a leaf may say PMA (0), NC (1) or IO (2), which translate the same, and 3 is
/// a page fault; in a non-leaf PTE PBMT stays reserved. Changing PBMTE flushes the TLB.
#[test]
fn svpbmt_pbmt_bits() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 4);
    let mut st = mmu_state(&t);
    let leaf = |st: &PrivState, pbmt: u64| {
        t.map(0x20_0000, 0x8008_0000, 0, V | R | W | A | D | pbmt << 61);
        st_translate(st, &mem)
    };
    fn st_translate(st: &PrivState, mem: &TestMem) -> Result<u64, Trap> {
        st.translate(0x20_0010, 8, Access::Write, S, mem)
            .map(|tr| tr.paddr)
    }
    let pf = Err(fault(cause::STORE_PAGE_FAULT, 0x20_0010));
    assert_eq!(leaf(&st, 0), Ok(0x8008_0010));
    for pbmt in 1..4 {
        assert_eq!(leaf(&st, pbmt), pf, "PBMTE = 0, PBMT {pbmt}");
    }
    let e = st.csr_write(csr::MENVCFG, envcfg::PBMTE, M).unwrap();
    assert!(e.flush_tlb, "PBMTE change flushes");
    assert_eq!(st.csr_read(csr::MENVCFG, M).unwrap(), envcfg::PBMTE);
    for pbmt in 0..3 {
        assert_eq!(leaf(&st, pbmt), Ok(0x8008_0010), "PBMT {pbmt}");
    }
    assert_eq!(leaf(&st, 3), pf);
    // Superpage leaves too; non-leaf PTEs keep PBMT reserved.
    t.map(0x4000_0000, 0x8000_0000, 2, V | R | A | 2 << 61);
    assert!(st.translate(0x4000_0000, 8, Access::Read, S, &mem).is_ok());
    leaf(&st, 1).unwrap();
    let l1 = t.pte_addr(0x20_0000, 1);
    let pointer = mem.read(l1);
    leaf(&st, 0).unwrap();
    for pbmt in 1..4 {
        mem.write(l1, pointer | pbmt << 61);
        assert_eq!(st_translate(&st, &mem), pf, "non-leaf PBMT {pbmt}");
    }
    mem.write(l1, pointer);
    // The N bit (Svnapot) and bits 60:54 stay reserved with PBMTE = 1.
    t.map(0x20_0000, 0x8008_0000, 0, V | R | W | A | D | 1 << 63);
    assert_eq!(st_translate(&st, &mem), pf);
    t.map(0x20_0000, 0x8008_0000, 0, V | R | W | A | D | 1 << 60);
    assert_eq!(st_translate(&st, &mem), pf);
    // Same value again: nothing to flush; back to 0 flushes.
    assert!(
        !st.csr_write(csr::MENVCFG, envcfg::PBMTE, M)
            .unwrap()
            .flush_tlb
    );
    assert!(st.csr_write(csr::MENVCFG, 0, M).unwrap().flush_tlb);
    assert_eq!(leaf(&st, 2), pf);
}

#[test]
fn debug_walk_reports_every_level_and_changes_nothing() {
    let mem = TestMem::new(RAM, 1 << 20);
    let t = Tables::new(&mem, 3);
    // A and D clear: a real access would set them; the debug walk must not.
    let leaf = t.map(0x1000, 0x9000_0000, 0, V | R | W);
    let big = t.map(0x4020_0000, 0x8040_0000, 1, V | R | X | A);
    let st = mmu_state(&t);
    let w = st.walk_debug(0x1abc, &mem);
    assert_eq!(w.levels, 3);
    assert_eq!(w.result, Some((0x9000_0abc, 4096)));
    assert_eq!(w.steps.len(), 3);
    assert_eq!(w.steps[0].pte_addr, t.root);
    assert_eq!(
        w.steps.iter().map(|s| s.level).collect::<Vec<_>>(),
        [2, 1, 0]
    );
    assert_eq!(w.steps[2].pte_addr, leaf);
    assert_eq!(mem.read(leaf), (0x9000_0000 >> 12) << 10 | V | R | W);
    let w = st.walk_debug(0x4031_2344, &mem);
    assert_eq!(w.result, Some((0x8051_2344, 2 << 20)));
    assert_eq!(w.steps.last().map(|s| s.pte_addr), Some(big));
    // Unmapped and non-canonical addresses: no result, no fault raised.
    let w = st.walk_debug(0x2000, &mem);
    assert_eq!(w.result, None);
    assert_eq!(w.steps.last().map(|s| s.pte & V), Some(0));
    assert_eq!(st.walk_debug(1 << 40, &mem).result, None);
    assert_eq!(super::mmu::pte_flags(V | R | W | A), "-A---WRV");
    // Bare: physical.
    let bare = PrivState::new(0, 0);
    assert_eq!(bare.walk_debug(0x1234, &mem).result, Some((0x1234, 4096)));
}
