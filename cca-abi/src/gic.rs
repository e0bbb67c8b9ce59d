//! The EL1 timers and the GICv3 list registers as every side sees them: the realm (its timer
//! and the interrupts it takes), the hosts (rmi-shim's builder, the EL2 harness) that inject
//! the timer's interrupt, and the model that checks what a host injects.
//!
//! Sources: Arm ARM D23 (`CNTV_CTL_EL0`, `CNTP_CTL_EL0`); GICv3 architecture specification
//! IHI 0069 §12.4.6 (`ICH_LR<n>_EL2`), §12.4.3 (`ICH_HCR_EL2`); TF-RMM
//! `lib/arch/include/arch.h` (`EL1_VIRT_TIMER_PPI`, `EL1_PHYS_TIMER_PPI`) and
//! `lib/gic/src/gic.c` (what it checks of a host's list registers), v0.8.0 and v0.9.0.

/// INTID of the EL1 virtual timer's PPI (QEMU `virt` and the FVP; TF-RMM
/// `EL1_VIRT_TIMER_PPI`).
pub const VIRTUAL_TIMER_INTID: u32 = 27;

/// INTID of the EL1 physical timer's PPI (TF-RMM `EL1_PHYS_TIMER_PPI`).
pub const PHYSICAL_TIMER_INTID: u32 = 30;

/// The list registers of the GICv3 architecture (`ICH_LR<n>_EL2`, n < 16).
pub const LIST_REGISTERS: usize = 16;

/// `ICH_HCR_EL2.En`: the virtual CPU interface signals its list registers' interrupts.
pub const ICH_HCR_EN: u64 = 1 << 0;

/// The bits of a timer's control register, `CNTV_CTL_EL0` or `CNTP_CTL_EL0`.
pub mod timer_ctl {
    /// The timer is enabled.
    pub const ENABLE: u64 = 1 << 0;
    /// Its interrupt is masked at the timer.
    pub const IMASK: u64 = 1 << 1;
    /// Its condition is met (read-only).
    pub const ISTATUS: u64 = 1 << 2;

    /// Whether the timer is armed: enabled, its interrupt not masked.
    #[must_use]
    pub const fn armed(ctl: u64) -> bool {
        ctl & (ENABLE | IMASK) == ENABLE
    }

    /// Whether the timer asserts its interrupt: armed and its condition met.
    #[must_use]
    pub const fn asserted(ctl: u64) -> bool {
        armed(ctl) && ctl & ISTATUS != 0
    }
}

/// The state of an `ICH_LR<n>_EL2` entry (bits \[63:62\]).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum LrState {
    /// No interrupt.
    Invalid,
    /// Pending.
    Pending,
    /// Active: acknowledged, not yet ended.
    Active,
    /// Active and pending.
    PendingActive,
}

/// A list register value (`ICH_LR<n>_EL2`): vINTID \[31:0\], pINTID \[41:32\] (bit 41 is EOI
/// when HW = 0), priority \[55:48\], group \[60\], HW \[61\], state \[63:62\].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ListRegister(pub u64);

impl ListRegister {
    /// No interrupt.
    pub const INVALID: Self = Self(0);
    /// The first bit of the state field.
    pub const STATE_SHIFT: u32 = 62;
    /// The state field.
    pub const STATE: u64 = 0b11 << Self::STATE_SHIFT;
    /// HW: a physical interrupt is linked (TF-RMM refuses it from a host).
    pub const HW: u64 = 1 << 61;
    /// Group 1.
    pub const GROUP1: u64 = 1 << 60;
    /// The first bit of the priority field.
    pub const PRIORITY_SHIFT: u32 = 48;
    /// The pINTID field.
    pub const PINTID: u64 = 0x3ff << 32;
    /// With HW = 0: signal a maintenance interrupt on EOI (the only pINTID bit TF-RMM allows).
    pub const EOI: u64 = 1 << 41;

    /// A pending virtual group-1 interrupt `vintid` at `priority`, HW = 0 (what TF-RMM
    /// requires of a host).
    #[must_use]
    pub const fn pending_group1(vintid: u32, priority: u8) -> Self {
        Self(
            (0b01 << Self::STATE_SHIFT)
                | Self::GROUP1
                | ((priority as u64) << Self::PRIORITY_SHIFT)
                | vintid as u64,
        )
    }

    /// The entry's state.
    #[must_use]
    pub const fn state(self) -> LrState {
        match self.0 >> Self::STATE_SHIFT {
            0 => LrState::Invalid,
            1 => LrState::Pending,
            2 => LrState::Active,
            _ => LrState::PendingActive,
        }
    }

    /// The virtual INTID.
    #[must_use]
    #[allow(clippy::cast_possible_truncation, reason = "vINTID is bits [31:0]")]
    pub const fn vintid(self) -> u32 {
        self.0 as u32
    }

    /// Whether HW is set (a physical interrupt is linked).
    #[must_use]
    pub const fn hw(self) -> bool {
        self.0 & Self::HW != 0
    }

    /// Whether it is group 1.
    #[must_use]
    pub const fn group1(self) -> bool {
        self.0 & Self::GROUP1 != 0
    }

    /// The same entry in state `state`.
    #[must_use]
    pub const fn with_state(self, state: LrState) -> Self {
        let bits = match state {
            LrState::Invalid => 0,
            LrState::Pending => 1,
            LrState::Active => 2,
            LrState::PendingActive => 3,
        };
        Self((self.0 & !Self::STATE) | (bits << Self::STATE_SHIFT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_states() {
        use timer_ctl::*;
        assert!(asserted(ENABLE | ISTATUS));
        assert!(!asserted(ENABLE | IMASK | ISTATUS));
        assert!(!asserted(ISTATUS));
        assert!(armed(ENABLE) && !armed(ENABLE | IMASK) && !armed(0));
    }

    #[test]
    fn list_register_fields() {
        let lr = ListRegister::pending_group1(VIRTUAL_TIMER_INTID, 0xa0);
        assert_eq!(lr.0, (1 << 62) | (1 << 60) | (0xa0 << 48) | 27);
        assert_eq!(lr.state(), LrState::Pending);
        assert_eq!(lr.vintid(), 27);
        assert!(lr.group1() && !lr.hw());
        let active = lr.with_state(LrState::Active);
        assert_eq!(active.state(), LrState::Active);
        assert_eq!(active.0 & !ListRegister::STATE, lr.0 & !ListRegister::STATE);
        assert_eq!(lr.with_state(LrState::Invalid).state(), LrState::Invalid);
    }
}
