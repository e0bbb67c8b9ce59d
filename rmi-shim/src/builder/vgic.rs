//! The realm's virtual timer interrupt, delivered through the GICv3 virtual CPU interface on
//! both RMI generations.
//!
//! # What TF-RMM does (v0.8.0 and v0.9.0)
//!
//! - At every REC exit it reports the realm's EL1 timers: `RmiRecExit.cntv_ctl` is the
//!   realm's `CNTV_CTL_EL0` as it stands (its own `IMASK`, and `ISTATUS` as the hardware
//!   computes it), `cntv_cval` its `CNTV_CVAL_EL0` minus the REC's `CNTVOFF_EL2`, that is a
//!   value of the physical counter (`runtime/core/timers.c` `report_timer_state_to_ns`). A
//!   REC's `CNTVOFF_EL2` starts at 0 (the REC is zeroed at `RMI_REC_CREATE`) and the realm
//!   cannot change it, so the realm's virtual counter is the physical one.
//! - Before every entry it masks the timer's output at EL2 (`CNTHCTL_EL2.CNTVMASK`) while the
//!   timer is *asserted* (`ENABLE` = 1, `ISTATUS` = 1, `IMASK` = 0), so that a fired timer does
//!   not exit the realm again and again as a physical IRQ, and unmasks it once the realm has
//!   masked, disabled or re-armed the timer; and if the asserted state changed since the last
//!   exit, it exits at once with `RMI_EXIT_IRQ` to report it (`runtime/core/timers.c`
//!   `check_pending_timers`, `runtime/core/run.c` `rec_run_loop`). The interrupt the realm
//!   takes is the *virtual* one the host puts in a list register.
//! - A physical IRQ taken while the realm runs exits with `RMI_EXIT_IRQ` and nothing else:
//!   no INTID, the interrupt stays pending at the host's own GIC for the host to take
//!   (`runtime/core/exit.c` `handle_exception_irq_lel`). The same exit reason reports the
//!   timer's change of state above, with the timer fields telling the host which.
//! - A `WFI` traps only if the host set `RmiRecEnterFlags.TRAP_WFI`; it exits with
//!   `RMI_EXIT_SYNC`, `esr` = EC 0x01 and the TI bit (0 for WFI), the realm's PC already past
//!   the instruction (`runtime/core/exit.c` `handle_wfx_exception`, `runtime/rmi/run.c`).
//! - RMI 1.0 (v0.8.0): the host passes `RmiRecEnter.gicv3_lrs` and `gicv3_hcr`; the RMM
//!   refuses the entry (`RMI_ERROR_REC`) if `gicv3_hcr` has a bit other than UIE, LRENPIE,
//!   NPIE, VGrp{0,1}{E,D}IE and TDIR, or if a valid list register has HW = 1, a pINTID other
//!   than the EOI bit, a priority with RES0 bits set, an INTID out of range, or the vINTID of
//!   another valid one (`lib/gic/src/gic.c` `gic_validate_state`); it enables the interface
//!   itself (`ICH_HCR_EL2.En`, `gic_cpu_state_init`) and keeps `ICH_VMCR_EL2` and the
//!   active priorities per REC. At exit it returns the list registers in
//!   `RmiRecExit.gicv3_lrs` (`gic_copy_state_to_exit`).
//! - RMI 2.0 (v0.9.0): `RmiRecEnter`/`RmiRecExit` have no GIC fields. The realm runs with the
//!   host's own `ICH_*_EL2` registers; `RMI_REC_ENTER` fails with `RMI_ERROR_REC` if a valid
//!   list register has HW = 1 or two share a vINTID (`gic_validate_vgic`), and every exit
//!   clears `ICH_HCR_EL2.En` (`gic_disable_virtual_cpuif`). The host saves and restores the
//!   list registers, `ICH_VMCR_EL2` and the active-priority registers per REC itself.
//!
//! # What the host does here
//!
//! Each entry sets `TRAP_WFI`: on QEMU the host's GIC is left as TF-A configured it, with
//! the timer PPIs disabled at the redistributor, so a fired timer never exits the realm as a
//! physical IRQ, and a realm waiting in `WFI` would wait for ever (tried on TF-RMM v0.8.0
//! and v0.9.0: without `TRAP_WFI` a 10 ms sleep had not ended after 60 s). Trapping `WFI`
//! also works whatever the host's GIC configuration. On a `WFI` exit the host
//! looks at the timer the RMM reported: armed (`ENABLE`, not `IMASK`), it waits until the
//! physical counter reaches `cntv_cval` ([`VirtualCpuInterface::wait_until`]), then injects;
//! with nothing armed it resumes the realm at once (a `WFI` may complete at any time). On
//! every exit, if the timer is asserted, the next entry carries vINTID 27 as a pending
//! group-1 interrupt in list register 0 (unless it is already pending or active there); if
//! the timer stopped being asserted before the realm took it, the pending entry is
//! withdrawn (the PPI is level-sensitive). The realm's `ICC_EOIR1_EL1` turns the entry
//! invalid. List register 0 is the only one the host uses; what comes back in it is checked
//! against what the host wrote (only its state may change, and only as the GIC changes it)
//! and any other value is refused ([`VgicError`]): the RMM and the hardware are trusted less
//! than the host's own bookkeeping.
//!
//! A host without a [`VirtualCpuInterface`] ([`super::Host::cpu_interface`] returns `None`)
//! gets none of this: no `TRAP_WFI`, no virtual interrupt.

use alloc::vec::Vec;
use core::fmt;

use cca_abi::gic::timer_ctl;
use cca_abi::rmi::{Generation, RecEnterFlags, RmiExitReason, RmiRecRun};

pub use cca_abi::gic::{ICH_HCR_EN, LIST_REGISTERS, ListRegister, LrState, VIRTUAL_TIMER_INTID};

/// `ESR_EL2.EC` of a trapped WFI or WFE.
const EC_WFX: u64 = 0x01;

/// The priority the host gives the timer's interrupt: valid whatever the number of
/// implemented priority bits (at least 5 in GICv3, whose RES0 low bits TF-RMM checks).
pub const TIMER_PRIORITY: u8 = 0xa0;

/// A REC's GICv3 virtual CPU interface as the host keeps it between entries (RMI 2.0; on
/// RMI 1.0 the RMM keeps everything but the list registers).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct CpuInterfaceState {
    /// `ICH_LR<n>_EL2`.
    pub lrs: [u64; LIST_REGISTERS],
    /// `ICH_HCR_EL2` to load (the RMM clears `En` at every exit).
    pub hcr: u64,
    /// `ICH_VMCR_EL2`: the realm's priority mask, group enables, EOI mode.
    pub vmcr: u64,
    /// `ICH_AP0R<n>_EL2`.
    pub ap0r: [u64; 4],
    /// `ICH_AP1R<n>_EL2`.
    pub ap1r: [u64; 4],
}

/// What the host's CPU provides for virtual interrupts: its counter, a way to wait and, on
/// RMI 2.0, its GICv3 virtual CPU interface registers (`ICH_*_EL2`). rmi-host implements
/// it with el2-rt; tests implement it in software.
pub trait VirtualCpuInterface {
    /// The physical counter (`CNTPCT_EL0`), against which TF-RMM reports `cntv_cval`.
    fn counter(&mut self) -> u64;

    /// Waits until [`counter`](Self::counter) reaches `tick`. The default spins.
    fn wait_until(&mut self, tick: u64) {
        while self.counter() < tick {
            core::hint::spin_loop();
        }
    }

    /// RMI 2.0: loads `state` into the CPU interface just before `RMI_REC_ENTER`. Not called
    /// on RMI 1.0.
    fn load(&mut self, state: &CpuInterfaceState);

    /// RMI 2.0: saves the CPU interface into `state` just after `RMI_REC_ENTER` returned
    /// (`lrs`, `vmcr`, `ap0r`, `ap1r`; `hcr` is the host's). Not called on RMI 1.0.
    fn save(&mut self, state: &mut CpuInterfaceState);
}

/// What came back from the RMM (RMI 1.0, `RmiRecExit.gicv3_lrs`) or the hardware (RMI 2.0)
/// that the host did not put there.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum VgicError {
    /// List register 0 came back with a value that is not the host's entry in some state
    /// the GIC can move it to.
    ListRegister {
        /// The REC's index.
        rec: usize,
        /// What the host wrote.
        wrote: u64,
        /// What came back.
        read: u64,
    },
}

impl fmt::Display for VgicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ListRegister { rec, wrote, read } => write!(
                f,
                "REC {rec}: list register 0 came back as {read:#x} after the host wrote {wrote:#x}"
            ),
        }
    }
}

impl core::error::Error for VgicError {}

/// Whether an exit was a `WFI`/`WFE` the host answered (the run loop just enters again).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ExitHandled {
    /// The exit was a trapped `WFI` or `WFE`: nothing else to do.
    Wfx,
    /// Any other exit: the run loop handles it.
    No,
}

/// One REC's timer delivery.
#[derive(Clone, Debug, Default)]
struct RecTimer {
    cpu: CpuInterfaceState,
    /// The timer was asserted at the last exit (or the host waited until it fired).
    asserted: bool,
}

/// The virtual timer delivery of a realm's RECs: one entry per REC, so that RECs run on
/// several CPUs (or one after another on one) each carry their own interface state.
#[derive(Debug)]
pub(crate) struct Interrupts {
    generation: Generation,
    recs: Vec<RecTimer>,
}

impl Interrupts {
    /// Nothing injected for `recs` RECs.
    pub(crate) fn new(generation: Generation, recs: usize) -> Self {
        Self {
            generation,
            recs: (0..recs).map(|_| RecTimer::default()).collect(),
        }
    }

    /// Just before `RMI_REC_ENTER` of REC `rec`: sets `TRAP_WFI`, injects or withdraws the
    /// timer's interrupt, and loads the list registers (`run.enter` on RMI 1.0, the CPU
    /// interface on RMI 2.0). Does nothing without a CPU interface or for an unknown REC.
    pub(crate) fn before_enter(
        &mut self,
        rec: usize,
        run: &mut RmiRecRun,
        cpu: Option<&mut dyn VirtualCpuInterface>,
    ) {
        let (Some(cpu), Some(state)) = (cpu, self.recs.get_mut(rec)) else {
            return;
        };
        let lr = ListRegister(state.cpu.lrs[0]);
        let timer = ListRegister::pending_group1(VIRTUAL_TIMER_INTID, TIMER_PRIORITY);
        if state.asserted && lr.state() == LrState::Invalid {
            state.cpu.lrs[0] = timer.0;
        } else if !state.asserted && lr == timer {
            // Withdrawn before the realm took it: the line dropped.
            state.cpu.lrs[0] = 0;
        }
        run.enter.flags |= RecEnterFlags::TRAP_WFI.to_raw();
        match self.generation {
            Generation::V1_0 => {
                run.enter.gicv3_hcr = 0;
                run.enter.gicv3_lrs = state.cpu.lrs;
            }
            Generation::V2_0 => {
                state.cpu.hcr = ICH_HCR_EN;
                cpu.load(&state.cpu);
            }
        }
    }

    /// Just after `RMI_REC_ENTER` of REC `rec` returned: takes back list register 0 and
    /// checks it, records the timer's state, and answers a trapped `WFI` (waiting for the
    /// timer if it is armed).
    ///
    /// # Errors
    ///
    /// [`VgicError::ListRegister`] if list register 0 came back with a value the host did
    /// not write and the GIC could not have made.
    pub(crate) fn after_exit(
        &mut self,
        rec: usize,
        run: &RmiRecRun,
        cpu: Option<&mut dyn VirtualCpuInterface>,
    ) -> Result<ExitHandled, VgicError> {
        let (Some(cpu), Some(state)) = (cpu, self.recs.get_mut(rec)) else {
            return Ok(ExitHandled::No);
        };
        let wrote = state.cpu.lrs[0];
        let read = match self.generation {
            Generation::V1_0 => run.exit.gicv3_lrs[0],
            Generation::V2_0 => {
                cpu.save(&mut state.cpu);
                state.cpu.lrs[0]
            }
        };
        // Only the host's LR 0 is kept; the others are written as invalid at every entry.
        state.cpu.lrs = [0; LIST_REGISTERS];
        state.cpu.lrs[0] = check_returned(wrote, read)
            .ok_or(VgicError::ListRegister { rec, wrote, read })?
            .0;
        let exit = &run.exit;
        let ctl = exit.cntv_ctl;
        state.asserted = timer_ctl::asserted(ctl);
        let reason = RmiExitReason::from_raw(exit.exit_reason.into());
        if reason != RmiExitReason::Sync || (exit.esr >> 26) & 0x3f != EC_WFX {
            return Ok(ExitHandled::No);
        }
        // ESR_EL2.ISS.TI (bit 0): 0 WFI, 1 WFE. A WFE (never trapped: TRAP_WFE is not set)
        // just resumes.
        let wfi = exit.esr & 1 == 0;
        let pending = ListRegister(state.cpu.lrs[0]).state() != LrState::Invalid;
        let armed = timer_ctl::armed(ctl);
        if wfi && !pending && !state.asserted && armed {
            cpu.wait_until(exit.cntv_cval);
            // The counter has reached the compare value: the timer condition holds now (the
            // RMM will see it asserted at the next entry and report it).
            state.asserted = true;
        }
        Ok(ExitHandled::Wfx)
    }
}

/// The list register the host keeps after an exit, given what it wrote and what came back:
/// an invalid entry must stay invalid; the host's entry may come back in any state with
/// every other bit unchanged, or invalid (ended). `None` for anything else.
fn check_returned(wrote: u64, read: u64) -> Option<ListRegister> {
    let (wrote, read) = (ListRegister(wrote), ListRegister(read));
    if read.state() == LrState::Invalid {
        return Some(ListRegister::INVALID);
    }
    let same_entry = wrote.state() != LrState::Invalid
        && read.0 & !ListRegister::STATE == wrote.0 & !ListRegister::STATE;
    same_entry.then_some(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cca_abi::gic::timer_ctl::{
        ENABLE as CNT_ENABLE, IMASK as CNT_IMASK, ISTATUS as CNT_ISTATUS,
    };
    use zerocopy::FromZeros;

    /// A software CPU: a counter that moves only when waited on, and list registers that
    /// record what the host loads.
    #[derive(Default)]
    struct SoftCpu {
        now: u64,
        loaded: Vec<CpuInterfaceState>,
        /// What `save` reports (the GIC's view after the realm ran).
        hardware: CpuInterfaceState,
    }

    impl VirtualCpuInterface for SoftCpu {
        fn counter(&mut self) -> u64 {
            self.now
        }
        fn wait_until(&mut self, tick: u64) {
            self.now = self.now.max(tick);
        }
        fn load(&mut self, state: &CpuInterfaceState) {
            self.loaded.push(*state);
            self.hardware = *state;
        }
        fn save(&mut self, state: &mut CpuInterfaceState) {
            state.lrs = self.hardware.lrs;
            state.vmcr = self.hardware.vmcr;
        }
    }

    const TIMER_LR: u64 = ListRegister::pending_group1(27, TIMER_PRIORITY).0;

    fn wfi_exit(run: &mut RmiRecRun, ctl: u64, cval: u64) {
        run.exit.exit_reason = RmiExitReason::Sync.to_raw() as u8;
        run.exit.esr = EC_WFX << 26;
        run.exit.cntv_ctl = ctl;
        run.exit.cntv_cval = cval;
    }

    /// GICv3 §12.4.6: the encoding of a pending group-1 virtual interrupt with HW = 0.
    #[test]
    fn list_register_encoding() {
        let lr = ListRegister::pending_group1(27, 0xa0);
        assert_eq!(lr.0, 0x50a0_0000_0000_001b);
        assert_eq!(lr.state(), LrState::Pending);
        assert_eq!(lr.vintid(), 27);
        assert!(!lr.hw());
        assert_eq!(
            ListRegister(lr.0 | (1 << 63)).state(),
            LrState::PendingActive
        );
        assert_eq!(ListRegister(2 << 62).state(), LrState::Active);
        assert_eq!(ListRegister::INVALID.state(), LrState::Invalid);
    }

    /// RMI 1.0: a WFI with the timer armed makes the host wait until `cntv_cval` and enter
    /// again with vINTID 27 pending in LR 0 and TRAP_WFI; the realm's EOI (LR 0 back invalid)
    /// with the timer masked ends the injection.
    #[test]
    fn rmi1_wfi_then_injection_then_eoi() {
        let mut cpu = SoftCpu::default();
        let mut irqs = Interrupts::new(Generation::V1_0, 1);
        let mut run = Box::new(RmiRecRun::new_zeroed());
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(run.enter.flags, RecEnterFlags::TRAP_WFI.to_raw());
        assert_eq!(run.enter.gicv3_lrs, [0; 16]);
        assert_eq!(run.enter.gicv3_hcr, 0);

        wfi_exit(&mut run, CNT_ENABLE, 5_000);
        let handled = irqs.after_exit(0, &run, Some(&mut cpu)).unwrap();
        assert_eq!(handled, ExitHandled::Wfx);
        assert_eq!(cpu.now, 5_000, "the host waited for the deadline");

        run.enter.flags = 0;
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(run.enter.gicv3_lrs[0], TIMER_LR);
        assert_eq!(run.enter.gicv3_lrs[1..], [0; 15]);

        // The RMM reports the now-asserted timer at once (RMI_EXIT_IRQ) and the LR pending.
        run.exit.exit_reason = RmiExitReason::Irq.to_raw() as u8;
        run.exit.cntv_ctl = CNT_ENABLE | CNT_ISTATUS;
        run.exit.gicv3_lrs[0] = TIMER_LR;
        assert_eq!(
            irqs.after_exit(0, &run, Some(&mut cpu)).unwrap(),
            ExitHandled::No
        );
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(run.enter.gicv3_lrs[0], TIMER_LR, "still pending: kept once");

        // The realm took it, masked the timer and ended it; it exits for a host call.
        run.exit.exit_reason = RmiExitReason::HostCall.to_raw() as u8;
        run.exit.cntv_ctl = CNT_ENABLE | CNT_IMASK | CNT_ISTATUS;
        run.exit.gicv3_lrs[0] = 0;
        irqs.after_exit(0, &run, Some(&mut cpu)).unwrap();
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(run.enter.gicv3_lrs[0], 0);
    }

    /// A WFI with nothing armed, or with the interrupt already pending, resumes at once.
    #[test]
    fn wfi_without_timer_resumes() {
        let mut cpu = SoftCpu::default();
        let mut irqs = Interrupts::new(Generation::V1_0, 1);
        let mut run = Box::new(RmiRecRun::new_zeroed());
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        for ctl in [0, CNT_ENABLE | CNT_IMASK, CNT_IMASK] {
            wfi_exit(&mut run, ctl, u64::MAX);
            assert_eq!(
                irqs.after_exit(0, &run, Some(&mut cpu)).unwrap(),
                ExitHandled::Wfx
            );
            assert_eq!(cpu.now, 0, "no wait for a timer that cannot fire");
        }
    }

    /// RMI 2.0: the host loads its state with ICH_HCR_EL2.En before entry, saves it after;
    /// the realm's VMCR is carried from one entry to the next; two RECs keep apart.
    #[test]
    fn rmi2_loads_and_saves_per_rec() {
        let mut cpu = SoftCpu::default();
        let mut irqs = Interrupts::new(Generation::V2_0, 2);
        let mut run = Box::new(RmiRecRun::new_zeroed());
        irqs.before_enter(1, &mut run, Some(&mut cpu));
        assert_eq!(cpu.loaded[0].hcr, ICH_HCR_EN);
        assert_eq!(
            run.enter.gicv3_lrs, [0; 16],
            "RecEnter has no GIC fields on 2.0"
        );
        // The realm set its priority mask and group enable; its timer fired.
        cpu.hardware.vmcr = 0xff00_0002;
        run.exit.exit_reason = RmiExitReason::Irq.to_raw() as u8;
        run.exit.cntv_ctl = CNT_ENABLE | CNT_ISTATUS;
        irqs.after_exit(1, &run, Some(&mut cpu)).unwrap();
        irqs.before_enter(1, &mut run, Some(&mut cpu));
        let loaded = cpu.loaded[1];
        assert_eq!(loaded.lrs[0], TIMER_LR);
        assert_eq!(loaded.vmcr, 0xff00_0002);
        // REC 0 has its own, empty, state.
        run.exit.cntv_ctl = 0;
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(cpu.loaded[2].lrs[0], 0);
        assert_eq!(cpu.loaded[2].vmcr, 0);
    }

    /// The attacker's side: LR 0 coming back as something the host never wrote is refused,
    /// whatever the generation; the GIC's own moves (active, pending and active, invalid)
    /// are accepted.
    #[test]
    fn returned_list_registers_are_checked() {
        for (wrote, read, ok) in [
            (0, 0, true),
            (0, TIMER_LR, false),
            (0, 0x4000_0000_0000_0001, false),
            (TIMER_LR, TIMER_LR, true),
            (TIMER_LR, (TIMER_LR & !(3 << 62)) | (2 << 62), true),
            (TIMER_LR, TIMER_LR | (3 << 62), true),
            (TIMER_LR, 0, true),
            (TIMER_LR, TIMER_LR & !(3 << 62), true),
            (TIMER_LR, TIMER_LR | (1 << 61), false),
            (TIMER_LR, TIMER_LR + 1, false),
            (TIMER_LR, TIMER_LR ^ (0xa0 << 48), false),
        ] {
            assert_eq!(
                check_returned(wrote, read).is_some(),
                ok,
                "{wrote:#x} -> {read:#x}"
            );
        }
        let mut cpu = SoftCpu::default();
        let mut irqs = Interrupts::new(Generation::V1_0, 1);
        let mut run = Box::new(RmiRecRun::new_zeroed());
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        run.exit.gicv3_lrs[0] = ListRegister::pending_group1(30, 0).0 | (1 << 61);
        let e = irqs.after_exit(0, &run, Some(&mut cpu)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "REC 0: list register 0 came back as 0x700000000000001e after the host wrote 0x0"
        );
        // RMI 2.0, from the hardware.
        let mut irqs = Interrupts::new(Generation::V2_0, 1);
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        cpu.hardware.lrs[0] = TIMER_LR;
        assert!(irqs.after_exit(0, &run, Some(&mut cpu)).is_err());
    }

    /// The timer stops being asserted before the realm took the interrupt: the pending entry
    /// is withdrawn; an active one is left for the realm to end.
    #[test]
    fn level_drop_withdraws_pending_only() {
        let mut cpu = SoftCpu::default();
        let mut irqs = Interrupts::new(Generation::V1_0, 1);
        let mut run = Box::new(RmiRecRun::new_zeroed());
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        run.exit.cntv_ctl = CNT_ENABLE | CNT_ISTATUS;
        irqs.after_exit(0, &run, Some(&mut cpu)).unwrap();
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(run.enter.gicv3_lrs[0], TIMER_LR);
        run.exit.cntv_ctl = 0;
        run.exit.gicv3_lrs[0] = TIMER_LR;
        irqs.after_exit(0, &run, Some(&mut cpu)).unwrap();
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(run.enter.gicv3_lrs[0], 0, "withdrawn");

        run.exit.cntv_ctl = CNT_ENABLE | CNT_ISTATUS;
        run.exit.gicv3_lrs[0] = 0;
        irqs.after_exit(0, &run, Some(&mut cpu)).unwrap();
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        let active = (TIMER_LR & !(3 << 62)) | (2 << 62);
        run.exit.cntv_ctl = CNT_ENABLE | CNT_IMASK | CNT_ISTATUS;
        run.exit.gicv3_lrs[0] = active;
        irqs.after_exit(0, &run, Some(&mut cpu)).unwrap();
        irqs.before_enter(0, &mut run, Some(&mut cpu));
        assert_eq!(run.enter.gicv3_lrs[0], active, "active: kept");
    }

    /// Without a CPU interface the host behaves as before: no TRAP_WFI, nothing injected,
    /// no exit consumed.
    #[test]
    fn without_cpu_interface_nothing_changes() {
        let mut irqs = Interrupts::new(Generation::V1_0, 1);
        let mut run = Box::new(RmiRecRun::new_zeroed());
        irqs.before_enter(0, &mut run, None);
        assert_eq!(run.enter.flags, 0);
        wfi_exit(&mut run, CNT_ENABLE | CNT_ISTATUS, 0);
        assert_eq!(irqs.after_exit(0, &run, None).unwrap(), ExitHandled::No);
    }
}
