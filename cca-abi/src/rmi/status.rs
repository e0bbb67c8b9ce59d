//! RMI command return codes (cca-abi.md §4.2; TF-RMM `lib/common/include/status.h`).

use core::fmt;

use super::RttLevel;
use crate::smccc::SMCCC_NOT_SUPPORTED;

/// `RmiStatusCode`: the status part (bits 7:0) of an RMI command's `x0`.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RmiStatus {
    /// `RMI_SUCCESS` (0).
    Success,
    /// `RMI_ERROR_INPUT` (1): an input was invalid.
    ErrorInput,
    /// `RMI_ERROR_REALM` (2): the realm's state does not allow the command.
    ErrorRealm,
    /// `RMI_ERROR_REC` (3): the REC's state does not allow the command.
    ErrorRec,
    /// `RMI_ERROR_RTT` (4): an RTT walk stopped early; the index is the level reached.
    ErrorRtt,
    /// `RMI_ERROR_NOT_SUPPORTED` (5, RMI 1.1 / TF-RMM v0.8.0).
    ErrorNotSupported,
    /// `RMI_ERROR_DEVICE` (6, RMI 1.1 / TF-RMM v0.8.0).
    ErrorDevice,
    /// `RMI_ERROR_RTT_AUX` (7, RMI 1.1 / TF-RMM v0.8.0).
    ErrorRttAux,
    /// `RMI_ERROR_PSMMU_ST` (8, RMI 2.0).
    ErrorPsmmuSt,
    /// `RMI_ERROR_DPT` (9, RMI 2.0).
    ErrorDpt,
    /// `RMI_BUSY` (10, RMI 2.0): no stateful-operation context is free now; retry.
    Busy,
    /// `RMI_ERROR_GLOBAL` (11, RMI 2.0): the RMM is not in a state for the command (not yet
    /// activated with `RMI_RMM_ACTIVATE`, or activated twice), or a global resource ran out.
    ErrorGlobal,
    /// `RMI_ERROR_TRACKING` (12, RMI 2.0).
    ErrorTracking,
    /// `RMI_INCOMPLETE` (13, RMI 2.0): a stateful operation goes on; the index says what
    /// the RMM needs next ([`RmiReturn::incomplete`]).
    Incomplete,
    /// `RMI_BLOCKED` (14, RMI 2.0): every stateful-operation context is held by an
    /// unfinished operation.
    Blocked,
    /// `RMI_ERROR_GPT` (15, RMI 2.0).
    ErrorGpt,
    /// `SMC_UNKNOWN` (`x0` = −1): nothing implements the function id (cca-abi.md §1.1).
    SmcUnknown,
    /// Any other status: an undefined status byte, or an `x0` with bits 63:16 set.
    Unknown(u64),
}

impl RmiStatus {
    /// Decodes a status byte (`x0` bits 7:0).
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Success,
            1 => Self::ErrorInput,
            2 => Self::ErrorRealm,
            3 => Self::ErrorRec,
            4 => Self::ErrorRtt,
            5 => Self::ErrorNotSupported,
            6 => Self::ErrorDevice,
            7 => Self::ErrorRttAux,
            8 => Self::ErrorPsmmuSt,
            9 => Self::ErrorDpt,
            10 => Self::Busy,
            11 => Self::ErrorGlobal,
            12 => Self::ErrorTracking,
            13 => Self::Incomplete,
            14 => Self::Blocked,
            15 => Self::ErrorGpt,
            other => Self::Unknown(other as u64),
        }
    }

    /// The value this status puts in `x0` with a zero index.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::Success => 0,
            Self::ErrorInput => 1,
            Self::ErrorRealm => 2,
            Self::ErrorRec => 3,
            Self::ErrorRtt => 4,
            Self::ErrorNotSupported => 5,
            Self::ErrorDevice => 6,
            Self::ErrorRttAux => 7,
            Self::ErrorPsmmuSt => 8,
            Self::ErrorDpt => 9,
            Self::Busy => 10,
            Self::ErrorGlobal => 11,
            Self::ErrorTracking => 12,
            Self::Incomplete => 13,
            Self::Blocked => 14,
            Self::ErrorGpt => 15,
            Self::SmcUnknown => SMCCC_NOT_SUPPORTED,
            Self::Unknown(other) => other,
        }
    }

    /// Whether `generation` defines this status: RMI 1.0 (with TF-RMM v0.8.0's 1.1
    /// additions) codes 0 to 7, RMI 2.0 codes 0 to 15; `SMC_UNKNOWN` in both.
    #[must_use]
    pub const fn defined_in(self, generation: super::Generation) -> bool {
        match self {
            Self::Unknown(_) => false,
            Self::SmcUnknown => true,
            status => match generation {
                super::Generation::V1_0 => status.to_raw() <= 7,
                super::Generation::V2_0 => true,
            },
        }
    }

    /// The specification's name of the status.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "RMI_SUCCESS",
            Self::ErrorInput => "RMI_ERROR_INPUT",
            Self::ErrorRealm => "RMI_ERROR_REALM",
            Self::ErrorRec => "RMI_ERROR_REC",
            Self::ErrorRtt => "RMI_ERROR_RTT",
            Self::ErrorNotSupported => "RMI_ERROR_NOT_SUPPORTED",
            Self::ErrorDevice => "RMI_ERROR_DEVICE",
            Self::ErrorRttAux => "RMI_ERROR_RTT_AUX",
            Self::ErrorPsmmuSt => "RMI_ERROR_PSMMU_ST",
            Self::ErrorDpt => "RMI_ERROR_DPT",
            Self::Busy => "RMI_BUSY",
            Self::ErrorGlobal => "RMI_ERROR_GLOBAL",
            Self::ErrorTracking => "RMI_ERROR_TRACKING",
            Self::Incomplete => "RMI_INCOMPLETE",
            Self::Blocked => "RMI_BLOCKED",
            Self::ErrorGpt => "RMI_ERROR_GPT",
            Self::SmcUnknown => "SMC_UNKNOWN",
            Self::Unknown(_) => "unknown RMI status",
        }
    }
}

impl fmt::Display for RmiStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(v) => write!(f, "unknown RMI status {v:#x}"),
            other => f.write_str(other.name()),
        }
    }
}

/// What the RMM asks for next in an `RMI_INCOMPLETE` reply (`RmiOpMemReq`, `x0` bits 9:8;
/// TF-RMM v0.9.0 `smc-rmi.h`, `runtime/rmi/sro.c`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RmiOpMemReq {
    /// Nothing: call `RMI_OP_CONTINUE`.
    None,
    /// Memory: call `RMI_OP_MEM_DONATE` with the granules the request describes.
    Donate,
    /// Memory back: call `RMI_OP_MEM_RECLAIM`.
    Reclaim,
    /// The reserved encoding 3.
    Reserved,
}

/// An `RMI_INCOMPLETE` reply's details (`RmiResultDataIncomplete`, `x0` bits 10:8).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RmiIncomplete {
    /// The next call the operation needs.
    pub request: RmiOpMemReq,
    /// Whether `RMI_OP_CANCEL` may end the operation (`RmiOpCanCancel`, bit 10).
    pub can_cancel: bool,
}

/// `RmiCommandReturnCode`: the whole `x0` of an RMI reply, status and index.
///
/// Packing (cca-abi.md §4.2): status in bits 7:0, index in bits 15:8, all other bits zero.
/// The index says which input or state was at fault; for `RMI_ERROR_RTT` it is the RTT level
/// at which the walk stopped ([`RmiReturn::rtt_level`]).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RmiReturn {
    /// Bits 7:0 (or the whole register for [`RmiStatus::SmcUnknown`] and a wide
    /// [`RmiStatus::Unknown`]).
    pub status: RmiStatus,
    /// Bits 15:8.
    pub index: u8,
}

impl RmiReturn {
    /// `RMI_SUCCESS` with index 0.
    pub const SUCCESS: Self = Self::new(RmiStatus::Success, 0);

    /// Makes a return code.
    #[must_use]
    pub const fn new(status: RmiStatus, index: u8) -> Self {
        Self { status, index }
    }

    /// Decodes `x0`. Never fails: a value outside the packing becomes
    /// [`RmiStatus::SmcUnknown`] (−1) or [`RmiStatus::Unknown`] carrying the whole register.
    #[must_use]
    pub const fn from_raw(x0: u64) -> Self {
        if x0 == SMCCC_NOT_SUPPORTED {
            return Self::new(RmiStatus::SmcUnknown, 0);
        }
        if x0 >> 16 != 0 {
            return Self::new(RmiStatus::Unknown(x0), 0);
        }
        #[allow(
            clippy::cast_possible_truncation,
            reason = "bytes extracted on purpose"
        )]
        Self::new(RmiStatus::from_code(x0 as u8), (x0 >> 8) as u8)
    }

    /// Encodes `x0`. A status that is not a packed byte ([`RmiStatus::SmcUnknown`], or an
    /// [`RmiStatus::Unknown`] above 0xFF) is returned as is, without the index.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        let status = self.status.to_raw();
        if status > 0xFF {
            status
        } else {
            status | (self.index as u64) << 8
        }
    }

    /// Whether the command succeeded.
    #[must_use]
    pub const fn is_success(self) -> bool {
        matches!(self.status, RmiStatus::Success)
    }

    /// For `RMI_INCOMPLETE` (RMI 2.0), what the stateful operation needs next: its index
    /// carries `RmiResultDataIncomplete` instead of an error index.
    #[must_use]
    pub const fn incomplete(self) -> Option<RmiIncomplete> {
        match self.status {
            RmiStatus::Incomplete => Some(RmiIncomplete {
                request: match self.index & 0b11 {
                    0 => RmiOpMemReq::None,
                    1 => RmiOpMemReq::Donate,
                    2 => RmiOpMemReq::Reclaim,
                    _ => RmiOpMemReq::Reserved,
                },
                can_cancel: self.index & 0b100 != 0,
            }),
            _ => None,
        }
    }

    /// For `RMI_ERROR_RTT`, the level at which the RTT walk stopped.
    #[must_use]
    pub const fn rtt_level(self) -> Option<RttLevel> {
        match self.status {
            RmiStatus::ErrorRtt => RttLevel::from_index(self.index),
            _ => None,
        }
    }
}

impl fmt::Display for RmiReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            RmiStatus::ErrorRtt => match self.rtt_level() {
                Some(level) => write!(f, "RMI_ERROR_RTT at {level}"),
                None => write!(f, "RMI_ERROR_RTT, index {:#x}", self.index),
            },
            RmiStatus::Incomplete => match self.incomplete() {
                Some(RmiIncomplete {
                    request,
                    can_cancel,
                }) => write!(
                    f,
                    "RMI_INCOMPLETE ({}, {})",
                    match request {
                        RmiOpMemReq::None => "continue",
                        RmiOpMemReq::Donate => "donate memory",
                        RmiOpMemReq::Reclaim => "reclaim memory",
                        RmiOpMemReq::Reserved => "reserved request 3",
                    },
                    if can_cancel {
                        "may be cancelled"
                    } else {
                        "cannot be cancelled"
                    }
                ),
                None => f.write_str("RMI_INCOMPLETE"),
            },
            status if self.index != 0 => write!(f, "{status}, index {}", self.index),
            status => write!(f, "{status}"),
        }
    }
}

impl From<u64> for RmiReturn {
    fn from(x0: u64) -> Self {
        Self::from_raw(x0)
    }
}

impl From<RmiReturn> for u64 {
    fn from(ret: RmiReturn) -> Self {
        ret.to_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cca-abi.md §4.2 table: codes 0..7 and the (status | index << 8) packing.
    #[test]
    fn codes_and_packing() {
        let table = [
            (0, RmiStatus::Success),
            (1, RmiStatus::ErrorInput),
            (2, RmiStatus::ErrorRealm),
            (3, RmiStatus::ErrorRec),
            (4, RmiStatus::ErrorRtt),
            (5, RmiStatus::ErrorNotSupported),
            (6, RmiStatus::ErrorDevice),
            (7, RmiStatus::ErrorRttAux),
            (8, RmiStatus::ErrorPsmmuSt),
            (9, RmiStatus::ErrorDpt),
            (10, RmiStatus::Busy),
            (11, RmiStatus::ErrorGlobal),
            (12, RmiStatus::ErrorTracking),
            (13, RmiStatus::Incomplete),
            (14, RmiStatus::Blocked),
            (15, RmiStatus::ErrorGpt),
        ];
        for (code, status) in table {
            assert_eq!(RmiStatus::from_code(code), status);
            assert_eq!(status.to_raw(), u64::from(code));
            for index in [0u8, 1, 0x7F, 0xFF] {
                let raw = u64::from(code) | u64::from(index) << 8;
                let ret = RmiReturn::from_raw(raw);
                assert_eq!(ret, RmiReturn::new(status, index));
                assert_eq!(ret.to_raw(), raw);
            }
        }
        assert_eq!(RmiStatus::from_code(16), RmiStatus::Unknown(16));
        use super::super::Generation;
        assert!(RmiStatus::ErrorRttAux.defined_in(Generation::V1_0));
        assert!(!RmiStatus::Incomplete.defined_in(Generation::V1_0));
        assert!(RmiStatus::Incomplete.defined_in(Generation::V2_0));
        assert!(!RmiStatus::Unknown(16).defined_in(Generation::V2_0));
    }

    /// RMI 2.0 (TF-RMM v0.9.0 `smc-rmi.h`): an INCOMPLETE's bits 10:8 are the memory request
    /// and whether the operation may be cancelled; REC operations answer 0x10D, 0x20D, 0x00D.
    #[test]
    fn incomplete_results() {
        extern crate std;
        use std::string::ToString;
        let donate = RmiReturn::from_raw(0x10D);
        assert_eq!(
            donate.incomplete(),
            Some(RmiIncomplete {
                request: RmiOpMemReq::Donate,
                can_cancel: false
            })
        );
        assert_eq!(
            donate.to_string(),
            "RMI_INCOMPLETE (donate memory, cannot be cancelled)"
        );
        assert_eq!(
            RmiReturn::from_raw(0x20D).incomplete().map(|i| i.request),
            Some(RmiOpMemReq::Reclaim)
        );
        let cont = RmiReturn::from_raw(0x40D).incomplete().unwrap();
        assert_eq!((cont.request, cont.can_cancel), (RmiOpMemReq::None, true));
        assert_eq!(RmiReturn::from_raw(0x102).incomplete(), None);
        assert_eq!(RmiReturn::from_raw(0x0B).to_string(), "RMI_ERROR_GLOBAL");
    }

    /// cca-abi.md §4.2: REC_ENTER on a SYSTEM_OFF realm fails with (ERROR_REALM, 1), and
    /// ERROR_RTT carries the level, 0xFF meaning −1.
    #[test]
    fn index_meaning() {
        let off = RmiReturn::from_raw(0x102);
        assert_eq!(off, RmiReturn::new(RmiStatus::ErrorRealm, 1));
        assert_eq!(off.rtt_level(), None);
        assert_eq!(RmiReturn::from_raw(0x204).rtt_level(), RttLevel::new(2));
        assert_eq!(
            RmiReturn::from_raw(0xFF04).rtt_level(),
            Some(RttLevel::LPA2_ROOT)
        );
        assert_eq!(RmiReturn::from_raw(0x0904).rtt_level(), None);
    }

    /// cca-abi.md §1.1: an unknown FID answers −1; other wide values are kept whole.
    #[test]
    fn values_outside_the_packing() {
        let unknown = RmiReturn::from_raw(u64::MAX);
        assert_eq!(unknown.status, RmiStatus::SmcUnknown);
        assert_eq!(unknown.to_raw(), u64::MAX);
        let wide = RmiReturn::from_raw(0x1_0000);
        assert_eq!(wide.status, RmiStatus::Unknown(0x1_0000));
        assert_eq!(wide.to_raw(), 0x1_0000);
        assert!(!wide.is_success());
        assert!(RmiReturn::from_raw(0).is_success());
    }
}
