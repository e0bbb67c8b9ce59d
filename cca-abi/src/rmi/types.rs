//! RMI enumerations and flag words (cca-abi.md §4.4, §5.3; TF-RMM `smc-rmi.h`).

/// Defines a flag word: a `u64` newtype with named bits, lossless for unknown bits.
macro_rules! flag_word {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$fmeta:meta])* $flag:ident = $bit:expr; )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
        pub struct $name(u64);

        impl $name {
            $( $(#[$fmeta])* pub const $flag: Self = Self(1 << $bit); )*
            /// Every bit this interface defines.
            pub const DEFINED: Self = Self(0 $( | 1 << $bit )*);
            /// No flag set.
            pub const EMPTY: Self = Self(0);

            /// Wraps a raw value, keeping bits the interface does not define.
            #[must_use]
            pub const fn from_raw(raw: u64) -> Self {
                Self(raw)
            }

            /// The raw value.
            #[must_use]
            pub const fn to_raw(self) -> u64 {
                self.0
            }

            /// Whether every flag of `other` is set.
            #[must_use]
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// Bits that are set but not defined by the interface.
            #[must_use]
            pub const fn undefined_bits(self) -> u64 {
                self.0 & !Self::DEFINED.0
            }
        }

        impl core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }
    };
}
pub(crate) use flag_word;

flag_word! {
    /// `RmiRealmFlags`: `RmiRealmParams.flags` (R8: `flags0`), cca-abi.md §4.4.
    RealmFlags {
        /// Bit 0 `LPA2`: 52-bit IPAs with FEAT_LPA2.
        LPA2 = 0;
        /// Bit 1 `SVE`: the realm may use SVE (`sve_vl` is then checked).
        SVE = 1;
        /// Bit 2 `PMU`: the realm may use the PMU (`pmu_num_ctrs` is then checked).
        PMU = 2;
        /// Bit 3 `DA` (RMI 1.1, TF-RMM v0.8.0): device assignment.
        DA = 3;
    }
}

flag_word! {
    /// `RmiRecCreateFlags`: `RmiRecParams.flags`, cca-abi.md §4.4.
    RecCreateFlags {
        /// Bit 0 `RUNNABLE`: the REC may be entered; only such a REC is measured (§6.3).
        RUNNABLE = 0;
    }
}

flag_word! {
    /// `RmiRecEnterFlags`: `RmiRecEnter.flags`, cca-abi.md §5.3.
    RecEnterFlags {
        /// Bit 0 `EMUL_MMIO`: the host emulated the MMIO access of the last exit; a read's
        /// value is in `gprs[0]`.
        EMUL_MMIO = 0;
        /// Bit 1 `INJECT_SEA`: inject a synchronous external abort for the last MMIO exit.
        INJECT_SEA = 1;
        /// Bit 2 `TRAP_WFI`: trap WFI to the host.
        TRAP_WFI = 2;
        /// Bit 3 `TRAP_WFE`: trap WFE to the host.
        TRAP_WFE = 3;
        /// Bit 4 `RIPAS_RESPONSE`: 1 rejects the pending RIPAS change, 0 accepts it.
        RIPAS_RESPONSE = 4;
        /// Bit 5 `S2AP_RESPONSE` (RMI 1.1, TF-RMM v0.8.0).
        S2AP_RESPONSE = 5;
        /// Bit 6 `DEV_MEM_RESPONSE` (RMI 1.1, TF-RMM v0.8.0).
        DEV_MEM_RESPONSE = 6;
        /// Bit 7 `FORCE_P0` (RMI 1.1, TF-RMM v0.8.0): enter plane 0.
        FORCE_P0 = 7;
    }
}

/// Defines a closed enumeration with `from_raw` (`None` for undefined values) and `to_raw`.
macro_rules! abi_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:expr, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Decodes the ABI value; `None` if the interface does not define it.
            #[must_use]
            pub const fn from_raw(raw: u64) -> Option<Self> {
                match raw {
                    $( $value => Some(Self::$variant), )*
                    _ => None,
                }
            }

            /// The ABI value.
            #[must_use]
            pub const fn to_raw(self) -> u64 {
                match self {
                    $( Self::$variant => $value, )*
                }
            }
        }
    };
}
pub(crate) use abi_enum;

abi_enum! {
    /// `RmiRttEntryState`, returned in `x2` by `RMI_RTT_READ_ENTRY` (cca-abi.md §4.4).
    RmiRttEntryState {
        /// `UNASSIGNED` (0): no output address.
        Unassigned = 0,
        /// `ASSIGNED` (1): maps a DATA granule (protected) or host memory (unprotected).
        Assigned = 1,
        /// `TABLE` (2): points to a next-level RTT.
        Table = 2,
        /// `ASSIGNED_DEV` (3, RMI 1.1): maps device memory.
        AssignedDev = 3,
        /// `AUX_DESTROYED` (5, RMI 1.1).
        AuxDestroyed = 5,
    }
}

abi_enum! {
    /// `RmiDataMeasureContent`: `x5` of `RMI_DATA_CREATE` (cca-abi.md §4.1, §4.4).
    ///
    /// TF-RMM answers `RMI_ERROR_INPUT` for any other value.
    RmiDataMeasureContent {
        /// `NO_MEASURE_CONTENT` (0): the descriptor records the IPA but not the content.
        NoMeasureContent = 0,
        /// `MEASURE_CONTENT` (1): the descriptor also records a hash of the content.
        MeasureContent = 1,
    }
}

abi_enum! {
    /// `RmiResponse` (cca-abi.md §4.4): the host's answer to a realm's request.
    RmiResponse {
        /// `ACCEPT` (0).
        Accept = 0,
        /// `REJECT` (1).
        Reject = 1,
    }
}

abi_enum! {
    /// `RmiPmuOverflowStatus`: `RmiRecExit.pmu_ovf_status` (cca-abi.md §4.4).
    RmiPmuOverflowStatus {
        /// `NOT_ACTIVE` (0).
        NotActive = 0,
        /// `ACTIVE` (1): a PMU overflow is pending.
        Active = 1,
    }
}

/// `RmiRecExitReason`: `RmiRecExit.exit_reason` (cca-abi.md §5.3).
///
/// Values 7 to 10 are RMI 1.1 as TF-RMM v0.8.0 numbers them; TF-RMM v0.9.0 (RMI 2.0)
/// swaps the meaning of 9 and 10, which this RMI 1.0 type does not follow.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RmiExitReason {
    /// `RMI_EXIT_SYNC` (0): a synchronous exception (data abort, sysreg, WFx, SMC...).
    Sync,
    /// `RMI_EXIT_IRQ` (1).
    Irq,
    /// `RMI_EXIT_FIQ` (2).
    Fiq,
    /// `RMI_EXIT_PSCI` (3): the realm made a PSCI call.
    Psci,
    /// `RMI_EXIT_RIPAS_CHANGE` (4): the realm asked for a RIPAS change.
    RipasChange,
    /// `RMI_EXIT_HOST_CALL` (5): `RSI_HOST_CALL`.
    HostCall,
    /// `RMI_EXIT_SERROR` (6).
    SError,
    /// `RMI_EXIT_S2AP_CHANGE` (7, RMI 1.1).
    S2apChange,
    /// `RMI_EXIT_VDEV_REQUEST` (8, RMI 1.1).
    VdevRequest,
    /// `RMI_EXIT_VDEV_COMM` (9, RMI 1.1 in TF-RMM v0.8.0).
    VdevComm,
    /// `RMI_EXIT_DEV_MEM_MAP` (10, RMI 1.1 in TF-RMM v0.8.0).
    DevMemMap,
    /// Any other value.
    Unknown(u64),
}

impl RmiExitReason {
    /// Decodes the exit reason.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        match raw {
            0 => Self::Sync,
            1 => Self::Irq,
            2 => Self::Fiq,
            3 => Self::Psci,
            4 => Self::RipasChange,
            5 => Self::HostCall,
            6 => Self::SError,
            7 => Self::S2apChange,
            8 => Self::VdevRequest,
            9 => Self::VdevComm,
            10 => Self::DevMemMap,
            other => Self::Unknown(other),
        }
    }

    /// The ABI value.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::Sync => 0,
            Self::Irq => 1,
            Self::Fiq => 2,
            Self::Psci => 3,
            Self::RipasChange => 4,
            Self::HostCall => 5,
            Self::SError => 6,
            Self::S2apChange => 7,
            Self::VdevRequest => 8,
            Self::VdevComm => 9,
            Self::DevMemMap => 10,
            Self::Unknown(other) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cca-abi.md §4.4 `RmiRttEntryState`, `RmiDataMeasureContent`, `RmiResponse`,
    /// `RmiPmuOverflowStatus`.
    #[test]
    fn enumerations() {
        assert_eq!(
            RmiRttEntryState::from_raw(0),
            Some(RmiRttEntryState::Unassigned)
        );
        assert_eq!(RmiRttEntryState::from_raw(2), Some(RmiRttEntryState::Table));
        assert_eq!(RmiRttEntryState::from_raw(4), None);
        assert_eq!(RmiRttEntryState::AuxDestroyed.to_raw(), 5);
        assert_eq!(
            RmiDataMeasureContent::from_raw(1),
            Some(RmiDataMeasureContent::MeasureContent)
        );
        assert_eq!(RmiDataMeasureContent::from_raw(2), None);
        assert_eq!(RmiResponse::Reject.to_raw(), 1);
        assert_eq!(
            RmiPmuOverflowStatus::from_raw(1),
            Some(RmiPmuOverflowStatus::Active)
        );
    }

    /// cca-abi.md §5.3 `RmiRecExitReason`, R0/R8 column.
    #[test]
    fn exit_reasons() {
        for raw in 0..=11 {
            assert_eq!(RmiExitReason::from_raw(raw).to_raw(), raw);
        }
        assert_eq!(RmiExitReason::from_raw(5), RmiExitReason::HostCall);
        assert_eq!(RmiExitReason::from_raw(10), RmiExitReason::DevMemMap);
        assert_eq!(RmiExitReason::from_raw(11), RmiExitReason::Unknown(11));
    }

    /// cca-abi.md §4.4 flag bits and §5.3 entry flags.
    #[test]
    fn flag_bits() {
        assert_eq!(RealmFlags::LPA2.to_raw(), 1);
        assert_eq!(RealmFlags::SVE.to_raw(), 2);
        assert_eq!(RealmFlags::PMU.to_raw(), 4);
        assert_eq!(RecCreateFlags::RUNNABLE.to_raw(), 1);
        assert_eq!(RecEnterFlags::RIPAS_RESPONSE.to_raw(), 1 << 4);
        assert_eq!(RecEnterFlags::DEFINED.to_raw(), 0xFF);
        let f = RecEnterFlags::TRAP_WFI | RecEnterFlags::TRAP_WFE;
        assert!(f.contains(RecEnterFlags::TRAP_WFE));
        assert!(!f.contains(RecEnterFlags::EMUL_MMIO));
        assert_eq!(RealmFlags::from_raw(0x12).undefined_bits(), 0x10);
    }
}
