//! The realm's virtual timer interrupt, delivered through the GICv3 virtual CPU interface.
//!
//! The harness plays host and RMM here the way rmi-shim's builder and TF-RMM do between
//! them: the realm's `ICC_*_EL1` accesses reach the virtual CPU interface (`HCR_EL2.IMO` and
//! `FMO` set, `ICH_HCR_EL2.En` = 1); `WFI` traps to EL2 (`HCR_EL2.TWI`, what rmi-shim asks of
//! TF-RMM with `RmiRecEnterFlags.TRAP_WFI`); on a trapped `WFI` with the realm's EL1 virtual
//! timer armed, the harness waits until the timer condition holds (`CNTV_CTL_EL0.ISTATUS`)
//! and injects vINTID 27 as a pending group-1 interrupt in `ICH_LR0_EL2` (HW = 0, as TF-RMM
//! requires of a host: v0.8.0 and v0.9.0 `lib/gic/src/gic.c`). Before every entry it also
//! injects the interrupt if the timer fired while the realm ran, as a host does with the
//! `cntv_ctl` TF-RMM reports at each exit (`runtime/core/timers.c`
//! `report_timer_state_to_ns`). The realm ends the interrupt with `ICC_EOIR1_EL1`, which
//! turns the list register back to invalid.
//!
//! The harness never enables a physical interrupt at the GIC (QEMU starts it with every PPI
//! disabled), so no physical IRQ reaches EL2 and the realm only sleeps in a trapped `WFI`.
//!
//! It also plays a hostile host, once each: the first time the realm waits in `WFI` with its
//! timer armed and not yet fired, the harness injects the interrupt at once, early; the
//! second time, it resumes the realm with no interrupt at all (a `WFI` may complete for no
//! reason); the third time, it injects an interrupt the realm never asked for (vINTID 30,
//! the physical timer's PPI). A realm must treat an interrupt as a hint and re-read the
//! counter (realm-sdk's `time::sleep_until` counts the early and the stray one, and sleeps
//! on after all three). The state is per CPU: one [`VirtualTimer`] for each physical
//! CPU, which runs one REC.

use aarch64_cpu::registers::{
    CNTV_CTL_EL0, CNTVOFF_EL2, HCR_EL2, ICC_SRE_EL2, ICH_HCR_EL2, ICH_LR0_EL2, ICH_VMCR_EL2,
    Readable, Writeable,
};

use cca_abi::gic::{
    ICH_HCR_EN, ListRegister, LrState, PHYSICAL_TIMER_INTID, VIRTUAL_TIMER_INTID, timer_ctl,
};

use crate::switch::GuestContext;

/// The vINTID of the one stray interrupt: the EL1 physical timer's PPI, which the realm
/// never arms.
const STRAY_INTID: u32 = PHYSICAL_TIMER_INTID;

/// The priority of the interrupts the harness injects (valid with 5 implemented priority
/// bits, as rmi-shim's `TIMER_PRIORITY`).
const PRIORITY: u8 = 0xa0;

/// Sets up this CPU's GIC virtual CPU interface and the traps the virtual timer needs; after
/// `HCR_EL2` has been set for the realm.
pub fn init_cpu() {
    // ICC_SRE_EL2: SRE (system registers at EL2), Enable (EL1 may use them too), DFB, DIB.
    ICC_SRE_EL2.set(ICC_SRE_EL2.get() | 0b1111);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    // The realm's virtual counter is the physical one, as on TF-RMM (a REC's CNTVOFF_EL2
    // starts at 0 and the realm cannot change it).
    CNTVOFF_EL2.set(0);
    ICH_VMCR_EL2.set(0);
    ICH_LR0_EL2.set(0);
    // ICH_HCR_EL2.En: the virtual CPU interface signals the list registers' interrupts.
    ICH_HCR_EL2.set(ICH_HCR_EN);
    // HCR_EL2: IMO (bit 4) and FMO (bit 3) send the realm's ICC_* accesses to the virtual
    // interface and its virtual IRQs to it; TWI (bit 13) traps WFI.
    HCR_EL2.set(HCR_EL2.get() | (1 << 13) | (1 << 4) | (1 << 3));
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// The virtual timer's delivery on one CPU.
#[derive(Debug, Default)]
pub struct VirtualTimer {
    /// Trapped `WFI`s with the timer armed and not fired, up to 3: the first gets an early
    /// interrupt, the second none, the third a stray one.
    hostile: u8,
}

impl VirtualTimer {
    /// Nothing injected yet.
    #[must_use]
    pub const fn new() -> Self {
        Self { hostile: 0 }
    }

    /// Before entering the realm: injects the timer's interrupt if the timer condition holds
    /// and the interrupt is not already in the list register.
    pub fn before_entry(&mut self) {
        if timer_ctl::asserted(CNTV_CTL_EL0.get()) {
            inject(VIRTUAL_TIMER_INTID);
        }
    }

    /// A trapped `WFI` (ESR EC 0x01, TI = 0): skips it, and if the realm's virtual timer is
    /// armed, waits until it fires and injects its interrupt (or, the first time, injects it
    /// at once, early, and the second time resumes the realm without one). With no timer armed and nothing pending the realm just resumes: a
    /// `WFI` may complete at any time.
    pub fn on_wfi(&mut self, ctx: &mut GuestContext) {
        // The preferred return address of a trapped WFI is the WFI itself.
        ctx.elr += 4;
        if ListRegister(ICH_LR0_EL2.get()).state() != LrState::Invalid {
            return;
        }
        let ctl = CNTV_CTL_EL0.get();
        if !timer_ctl::armed(ctl) {
            return;
        }
        if self.hostile < 3 && ctl & timer_ctl::ISTATUS == 0 {
            self.hostile += 1;
            match self.hostile {
                1 => {
                    el2_rt::println!(
                        "el2-harness: injecting the virtual timer interrupt before the timer fired (a hostile host's early interrupt)"
                    );
                    inject(VIRTUAL_TIMER_INTID);
                }
                2 => el2_rt::println!(
                    "el2-harness: resuming the realm's WFI with no interrupt (a spurious wake-up)"
                ),
                _ => {
                    el2_rt::println!(
                        "el2-harness: injecting vINTID {STRAY_INTID}, which the realm never asked for (a stray interrupt)"
                    );
                    inject(STRAY_INTID);
                }
            }
            return;
        }
        loop {
            let ctl = CNTV_CTL_EL0.get();
            if !timer_ctl::armed(ctl) {
                return;
            }
            if ctl & timer_ctl::ISTATUS != 0 {
                break;
            }
            core::hint::spin_loop();
        }
        inject(VIRTUAL_TIMER_INTID);
    }
}

/// Makes `vintid` pending in `ICH_LR0_EL2` unless the list register holds an interrupt
/// (pending or active) already: one list register, so never two entries for one vINTID, as
/// TF-RMM requires of a host.
fn inject(vintid: u32) {
    if ListRegister(ICH_LR0_EL2.get()).state() == LrState::Invalid {
        ICH_LR0_EL2.set(ListRegister::pending_group1(vintid, PRIORITY).0);
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    }
}
