//! A REC's EL1 virtual timer and GICv3 virtual CPU interface, as TF-RMM v0.8.0 (RMI 1.0)
//! shows them to the host, for in-process realms.
//!
//! An in-process realm is Rust code, not a CPU: it reaches its timer and CPU interface
//! through model calls ([`MODEL_CNTV_WRITE`] and the others below, like
//! [`super::MODEL_UNPROTECTED_READ`] not RMM calls). The counter is [`counter`], a
//! nanosecond clock of the process (1 GHz, as QEMU's), which a test host reads too.
//!
//! What the model does as TF-RMM v0.8.0 does:
//! - `RMI_REC_ENTER` refuses (`RMI_ERROR_REC`) `RmiRecEnter.gicv3_hcr` with a bit other than
//!   UIE, LRENPIE, NPIE, VGrp{0,1}{E,D}IE and TDIR, and a valid list register with HW = 1, a
//!   pINTID other than the EOI bit, a priority with any of its low 3 bits set (5 priority
//!   bits implemented), a vINTID beyond 1019 below 8192, or the vINTID of another valid one
//!   (`lib/gic/src/gic.c` `gic_validate_state`, `runtime/rmi/run.c`);
//! - `RmiRecEnterFlags.TRAP_WFI` makes a `WFI` ([`MODEL_WFI`]) with no interrupt pending exit
//!   with `RMI_EXIT_SYNC` and ESR EC 0x01 (`runtime/core/exit.c` `handle_wfx_exception`);
//!   without it the `WFI` returns at once (the physical timer interrupt never exits the realm
//!   on the platforms tested, see `rmi-shim/src/builder/vgic.rs`);
//! - every exit reports `cntv_ctl` (with `ISTATUS`) and `cntv_cval`, and the list registers
//!   in `gicv3_lrs` (`runtime/core/timers.c` `report_timer_state_to_ns`,
//!   `gic_copy_state_to_exit`);
//! - an entry on which the timer's asserted state differs from the last exit's exits at once
//!   with `RMI_EXIT_IRQ` (`check_pending_timers` in `rec_run_loop`).

use std::sync::OnceLock;
use std::time::Instant;

use cca_abi::gic::{ListRegister, LrState, timer_ctl};
use cca_abi::rmi::{RecEnterFlags, RmiRecExit, RmiRecRun};
use cca_abi::smccc::Regs;

/// **Not an RMM call**: writes the REC's `CNTV_CVAL_EL0` (`x1`) and `CNTV_CTL_EL0` (`x2`,
/// bits ENABLE and IMASK).
pub const MODEL_CNTV_WRITE: u64 = 0xC700_01B0;
/// **Not an RMM call**: reads `CNTV_CTL_EL0` into `x1` (with ISTATUS) and the counter into `x2`.
pub const MODEL_CNTV_READ: u64 = 0xC700_01B1;
/// **Not an RMM call**: `WFI`.
pub const MODEL_WFI: u64 = 0xC700_01B2;
/// **Not an RMM call**: `ICC_IAR1_EL1`: `x1` = the vINTID of the first pending group-1 list
/// register, now active, or 1023.
pub const MODEL_IRQ_ACK: u64 = 0xC700_01B3;
/// **Not an RMM call**: `ICC_EOIR1_EL1` with `x1` = vINTID: its active list register becomes
/// invalid.
pub const MODEL_IRQ_EOI: u64 = 0xC700_01B4;

/// `ICH_HCR_EL2` bits a host may set (TF-RMM `ICH_HCR_EL2_NS_MASK`).
const ICH_HCR_NS_MASK: u64 = 0b1111_1110 | (1 << 14);
/// RES0 priority bits with 5 implemented priority bits.
const LR_PRIORITY_RES0: u64 = 0b111 << 48;
/// Valid list registers of the model's CPU interface (`ICH_VTR_EL2.ListRegs` + 1, the
/// value `RMI_FEATURES` reports: `gicv3_num_lrs` 3 → 4).
const NR_LRS: usize = 4;

/// The model's counter: nanoseconds since the process first read it (1 GHz).
#[must_use]
pub fn counter() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What a model call did.
pub(super) enum Call {
    /// Not a timer or GIC call.
    NotMine,
    /// Done; the realm continues.
    Resume,
    /// A trapped `WFI`: exit to the host.
    Wfi,
}

/// A REC's timer and list registers.
#[derive(Clone, Debug, Default)]
pub(super) struct VirtualTimer {
    cval: u64,
    ctl: u64,
    lrs: [u64; 16],
    trap_wfi: bool,
    /// Asserted at the last exit.
    reported_asserted: bool,
}

fn lr_state(lr: u64) -> LrState {
    ListRegister(lr).state()
}

impl VirtualTimer {
    /// `CNTV_CTL_EL0` now, with ISTATUS.
    fn ctl_now(&self) -> u64 {
        let met = self.ctl & timer_ctl::ENABLE != 0 && counter() >= self.cval;
        self.ctl | if met { timer_ctl::ISTATUS } else { 0 }
    }

    fn asserted(&self) -> bool {
        timer_ctl::asserted(self.ctl_now())
    }

    /// `RMI_REC_ENTER`: checks and loads the host's GIC state and WFI trap. `false` if TF-RMM
    /// would refuse the entry with `RMI_ERROR_REC`.
    pub(super) fn enter(&mut self, run: &RmiRecRun) -> bool {
        if run.enter.gicv3_hcr & !ICH_HCR_NS_MASK != 0 {
            return false;
        }
        let lrs = &run.enter.gicv3_lrs[..NR_LRS];
        for (i, &lr) in lrs.iter().enumerate() {
            if lr_state(lr) == LrState::Invalid {
                continue;
            }
            let vintid = ListRegister(lr).vintid();
            if ListRegister(lr).hw()
                || lr & ListRegister::PINTID & !ListRegister::EOI != 0
                || lr & LR_PRIORITY_RES0 != 0
                || (1020..8192).contains(&vintid)
                || lrs[i + 1..]
                    .iter()
                    .any(|&o| lr_state(o) != LrState::Invalid && ListRegister(o).vintid() == vintid)
            {
                return false;
            }
        }
        self.lrs = [0; 16];
        self.lrs[..NR_LRS].copy_from_slice(lrs);
        self.trap_wfi = RecEnterFlags::from_raw(run.enter.flags).contains(RecEnterFlags::TRAP_WFI);
        true
    }

    /// Whether the timer's asserted state changed since the last exit (TF-RMM then exits at
    /// once with `RMI_EXIT_IRQ`).
    pub(super) fn changed(&self) -> bool {
        self.asserted() != self.reported_asserted
    }

    /// Fills the timer and GIC fields of an exit.
    pub(super) fn report(&mut self, exit: &mut RmiRecExit) {
        exit.cntv_ctl = self.ctl_now();
        exit.cntv_cval = self.cval;
        exit.gicv3_lrs = self.lrs;
        self.reported_asserted = self.asserted();
    }

    /// A model call in `regs`.
    pub(super) fn call(&mut self, regs: &mut Regs) -> Call {
        match regs[0] {
            MODEL_CNTV_WRITE => {
                self.cval = regs[1];
                self.ctl = regs[2] & (timer_ctl::ENABLE | timer_ctl::IMASK);
            }
            MODEL_CNTV_READ => {
                regs[1] = self.ctl_now();
                regs[2] = counter();
            }
            MODEL_WFI => {
                let pending = self
                    .lrs
                    .iter()
                    .any(|&lr| matches!(lr_state(lr), LrState::Pending | LrState::PendingActive));
                if self.trap_wfi && !pending {
                    regs[0] = 0;
                    return Call::Wfi;
                }
            }
            MODEL_IRQ_ACK => {
                regs[1] = 1023;
                let group1_pending = |lr: &&mut u64| {
                    lr_state(**lr) == LrState::Pending && ListRegister(**lr).group1()
                };
                if let Some(lr) = self.lrs.iter_mut().find(group1_pending) {
                    regs[1] = u64::from(ListRegister(*lr).vintid());
                    *lr = ListRegister(*lr).with_state(LrState::Active).0;
                }
            }
            MODEL_IRQ_EOI => {
                let active = |lr: &&mut u64| {
                    matches!(lr_state(**lr), LrState::Active | LrState::PendingActive)
                        && u64::from(ListRegister(**lr).vintid()) == regs[1]
                };
                if let Some(lr) = self.lrs.iter_mut().find(active) {
                    // Active → invalid; pending and active → pending.
                    let ended = match lr_state(*lr) {
                        LrState::PendingActive => LrState::Pending,
                        _ => LrState::Invalid,
                    };
                    *lr = ListRegister(*lr).with_state(ended).0;
                }
            }
            _ => return Call::NotMine,
        }
        regs[0] = 0;
        Call::Resume
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    const TIMER_LR: u64 = ListRegister::pending_group1(27, 0xa0).0;
    const LR_HW: u64 = ListRegister::HW;
    const LR_EOI: u64 = ListRegister::EOI;

    /// `gic_validate_state` (TF-RMM v0.8.0): what a host may put in `RmiRecEnter`.
    #[test]
    fn entry_validation() {
        let mut t = VirtualTimer::default();
        let mut run = Box::new(RmiRecRun::new_zeroed());
        assert!(t.enter(&run));
        run.enter.gicv3_lrs[0] = TIMER_LR;
        assert!(t.enter(&run));
        for bad in [
            TIMER_LR | LR_HW,
            TIMER_LR | (1 << 32),
            TIMER_LR | (1 << 48),
            (TIMER_LR & !0xffff_ffff) | 1020,
        ] {
            run.enter.gicv3_lrs[0] = bad;
            assert!(!t.enter(&run), "{bad:#x}");
        }
        run.enter.gicv3_lrs[0] = TIMER_LR | LR_EOI;
        assert!(t.enter(&run));
        run.enter.gicv3_lrs[1] = TIMER_LR;
        assert!(!t.enter(&run), "two entries for one vINTID");
        run.enter.gicv3_lrs[1] = 0;
        run.enter.gicv3_hcr = 1;
        assert!(!t.enter(&run), "ICH_HCR_EL2.En is the RMM's");
        run.enter.gicv3_hcr = ICH_HCR_NS_MASK;
        assert!(t.enter(&run));
    }

    /// A pending entry is acknowledged (active) then ended (invalid); nothing pending reads
    /// 1023.
    #[test]
    fn acknowledge_and_end() {
        let mut t = VirtualTimer::default();
        let mut run = Box::new(RmiRecRun::new_zeroed());
        run.enter.gicv3_lrs[0] = TIMER_LR;
        assert!(t.enter(&run));
        let mut regs = [0; 18];
        regs[0] = MODEL_IRQ_ACK;
        assert!(matches!(t.call(&mut regs), Call::Resume));
        assert_eq!(regs[1], 27);
        assert_eq!(lr_state(t.lrs[0]), LrState::Active);
        regs[0] = MODEL_IRQ_ACK;
        t.call(&mut regs);
        assert_eq!(regs[1], 1023);
        regs[0] = MODEL_IRQ_EOI;
        regs[1] = 27;
        t.call(&mut regs);
        assert_eq!(lr_state(t.lrs[0]), LrState::Invalid);
    }
}
