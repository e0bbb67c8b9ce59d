//! The GICv3 CPU interface a realm sees: interrupt identifiers and, with the `rt` runtime on
//! AArch64, the group-1 system registers it uses to take interrupts.
//!
//! A realm has no distributor or redistributor of its own. The RMM runs it with
//! `HCR_EL2.IMO`/`FMO` set, so its `ICC_*_EL1` accesses reach the *virtual* CPU interface
//! (`ICV_*_EL1`, GICv3 architecture specification IHI 0069, §6 "Virtual interrupt
//! handling"), whose pending interrupts are the list registers the host programs
//! (`RmiRecEnter.gicv3_lrs` on RMI 1.0, TF-RMM v0.8.0 `runtime/rmi/run.c`; the host's own
//! `ICH_LR<n>_EL2` on RMI 2.0, TF-RMM v0.9.0 `lib/gic/src/gic.c`). The interrupts a realm can
//! expect are PPIs of its own timers, which the host injects when it sees the timer fire.
//!
//! What the host can do: inject any virtual interrupt at any time, withhold one, or inject a
//! timer interrupt early. A realm must treat an interrupt as a hint and check the state it
//! announces (for the timer, the counter and `CNTV_CTL_EL0.ISTATUS`), as
//! realm-sdk's `time::sleep_until` does.

/// The INTIDs of the EL1 virtual and physical timers' PPIs, as the hosts inject them.
pub use cca_abi::gic::{PHYSICAL_TIMER_INTID, VIRTUAL_TIMER_INTID};

/// The INTID `ICC_IAR1_EL1` returns when no group-1 interrupt is pending (GICv3 §2.2.1,
/// "special INTIDs").
pub const INTID_SPURIOUS: u32 = 1023;

/// The kinds of INTID (GICv3 §2.2.1, Table 2-1).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IntidKind {
    /// 0 to 15: software-generated interrupts.
    Sgi,
    /// 16 to 31, and the extended range 1056 to 1119: private peripheral interrupts.
    Ppi,
    /// 32 to 1019, and the extended range 4096 to 5119: shared peripheral interrupts.
    Spi,
    /// 1020 to 1023: special values, never an interrupt to acknowledge.
    Special,
    /// 8192 and above: locality-specific peripheral interrupts.
    Lpi,
    /// Reserved values.
    Reserved,
}

/// The kind of `intid`.
#[must_use]
pub const fn kind(intid: u32) -> IntidKind {
    match intid {
        0..=15 => IntidKind::Sgi,
        16..=31 | 1056..=1119 => IntidKind::Ppi,
        32..=1019 | 4096..=5119 => IntidKind::Spi,
        1020..=1023 => IntidKind::Special,
        8192.. => IntidKind::Lpi,
        _ => IntidKind::Reserved,
    }
}

/// The INTID field of an `ICC_IAR1_EL1` value (bits \[23:0\]; GICv3 §12.2.13).
#[must_use]
pub const fn iar_intid(iar: u64) -> u32 {
    (iar & 0xff_ffff) as u32
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
#[allow(
    unsafe_code,
    reason = "system register accesses the aarch64-cpu crate does not name"
)]
mod registers {
    use core::arch::asm;

    use super::iar_intid;

    // Encodings (op0, op1, CRn, CRm, op2) from GICv3 §12.2: the assembler's generic names
    // avoid depending on it knowing the GIC register names.
    /// Enables group-1 interrupts at the CPU interface (`ICC_IGRPEN1_EL1.Enable = 1`) and
    /// lets every priority through (`ICC_PMR_EL1 = 0xff`). Idempotent; per CPU.
    pub fn enable_group1() {
        // SAFETY: ICC_PMR_EL1 (S3_0_C4_C6_0) and ICC_IGRPEN1_EL1 (S3_0_C12_C12_7) are the
        // realm's own virtual CPU interface registers: writing them changes only which
        // virtual interrupts are signalled to this CPU, and touches no memory.
        unsafe {
            asm!(
                "msr S3_0_C4_C6_0, {pmr}",
                "msr S3_0_C12_C12_7, {en}",
                "isb",
                pmr = in(reg) 0xffu64,
                en = in(reg) 1u64,
                options(nostack, preserves_flags),
            );
        }
    }

    /// Acknowledges the highest-priority pending group-1 interrupt (`ICC_IAR1_EL1`); returns
    /// its INTID, [`super::INTID_SPURIOUS`] if there is none.
    #[must_use]
    pub fn acknowledge() -> u32 {
        let iar: u64;
        // SAFETY: reading ICC_IAR1_EL1 (S3_0_C12_C12_0) acknowledges an interrupt of this
        // CPU's interface; it touches no memory.
        unsafe {
            asm!("mrs {iar}, S3_0_C12_C12_0", iar = out(reg) iar, options(nostack, preserves_flags));
        }
        iar_intid(iar)
    }

    /// Ends interrupt `intid` (`ICC_EOIR1_EL1`), and deactivates it (`ICC_DIR_EL1`) when
    /// `ICC_CTLR_EL1.EOImode` splits the two (GICv3 §4.1.1).
    pub fn end_of_interrupt(intid: u32) {
        let ctlr: u64;
        // SAFETY: ICC_EOIR1_EL1 (S3_0_C12_C12_1), ICC_CTLR_EL1 (S3_0_C12_C12_4) and
        // ICC_DIR_EL1 (S3_0_C12_C11_1) belong to this CPU's interface; `intid` was returned
        // by `acknowledge`. No memory is touched.
        unsafe {
            asm!(
                "msr S3_0_C12_C12_1, {id}",
                "mrs {ctlr}, S3_0_C12_C12_4",
                id = in(reg) u64::from(intid),
                ctlr = out(reg) ctlr,
                options(nostack, preserves_flags),
            );
            if ctlr & (1 << 1) != 0 {
                asm!("msr S3_0_C12_C11_1, {id}", id = in(reg) u64::from(intid), options(nostack, preserves_flags));
            }
        }
    }
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
pub use registers::{acknowledge, enable_group1, end_of_interrupt};

#[cfg(test)]
mod tests {
    use super::*;

    /// GICv3 Table 2-1: the INTID ranges, at both ends of each.
    #[test]
    fn intid_ranges() {
        assert_eq!(kind(0), IntidKind::Sgi);
        assert_eq!(kind(15), IntidKind::Sgi);
        assert_eq!(kind(16), IntidKind::Ppi);
        assert_eq!(kind(VIRTUAL_TIMER_INTID), IntidKind::Ppi);
        assert_eq!(kind(PHYSICAL_TIMER_INTID), IntidKind::Ppi);
        assert_eq!(kind(31), IntidKind::Ppi);
        assert_eq!(kind(32), IntidKind::Spi);
        assert_eq!(kind(1019), IntidKind::Spi);
        assert_eq!(kind(1020), IntidKind::Special);
        assert_eq!(kind(INTID_SPURIOUS), IntidKind::Special);
        assert_eq!(kind(1024), IntidKind::Reserved);
        assert_eq!(kind(1056), IntidKind::Ppi);
        assert_eq!(kind(1119), IntidKind::Ppi);
        assert_eq!(kind(1120), IntidKind::Reserved);
        assert_eq!(kind(4096), IntidKind::Spi);
        assert_eq!(kind(5119), IntidKind::Spi);
        assert_eq!(kind(5120), IntidKind::Reserved);
        assert_eq!(kind(8191), IntidKind::Reserved);
        assert_eq!(kind(8192), IntidKind::Lpi);
    }

    /// ICC_IAR1_EL1 keeps the INTID in bits [23:0]; bits above are RES0 and ignored.
    #[test]
    fn iar_field() {
        assert_eq!(iar_intid(27), 27);
        assert_eq!(iar_intid(0xffff_ffff_ff00_03ff), 1023);
        assert_eq!(iar_intid(0x00ff_ffff), 0xff_ffff);
    }
}
