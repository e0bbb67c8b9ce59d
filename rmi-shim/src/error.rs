//! Errors of RMI calls: the RMM refused, the function is missing, or the reply is malformed.

use core::fmt;

use cca_abi::rmi::{RmiReturn, RmiStatus};

/// Why an RMI call did not succeed.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Error {
    /// The RMM refused the command with a defined status and its index (cca-abi.md §4.2).
    Refused {
        /// Function id of the command.
        fid: u32,
        /// Status and index. For `RMI_ERROR_RTT`, [`RmiReturn::rtt_level`] gives the level.
        ret: RmiReturn,
        /// `x1..x4` as the RMM left them. Meaningful only where the specification says so:
        /// `RMI_DATA_DESTROY` and `RMI_RTT_DESTROY` report the top of the non-live region in
        /// `x2` even on `RMI_ERROR_RTT`.
        out: [u64; 4],
    },
    /// Nothing implements the function id: `x0` = `SMC_UNKNOWN` (−1). Either no RMM is
    /// present, or it does not implement this revision's command.
    NotImplemented {
        /// Function id of the command.
        fid: u32,
    },
    /// A multi-call operation (an RMI 2.0 range command or stateful operation) hit its bound
    /// on calls without finishing: the RMM kept answering `RMI_BUSY`, or kept asking for the
    /// same step without making progress. rmi-shim never loops without a bound.
    Stalled {
        /// Function id of the last command sent.
        fid: u32,
        /// How many calls the operation made.
        calls: u32,
    },
    /// The RMM asked for memory (an RMI 2.0 `RMI_INCOMPLETE` with a donation request) and the
    /// host's granule supply ran out.
    OutOfGranules {
        /// Function id of the command that asked.
        fid: u32,
    },
    /// The reply does not follow the specification.
    Malformed {
        /// Function id of the command.
        fid: u32,
        /// What was wrong.
        problem: Malformed,
    },
}

/// How a reply broke the specification.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Malformed {
    /// `x0` is not a status the negotiated RMI generation defines for this command (or has
    /// bits 63:16 set).
    Status(u64),
    /// A successful reply carries a value its command cannot return in `x<register>`.
    Output {
        /// The result register, 1 to 4.
        register: u8,
        /// The value found there.
        value: u64,
    },
    /// An address-list entry the RMM wrote (RMI 2.0 `RMI_OP_MEM_RECLAIM`) is not a valid
    /// `RmiAddrRangeDesc`, or names memory the operation never held.
    AddrListEntry {
        /// The entry's index in the list.
        index: u16,
        /// The entry.
        value: u64,
    },
}

impl Error {
    /// The function id of the failed command.
    #[must_use]
    pub const fn fid(&self) -> u32 {
        match self {
            Self::Refused { fid, .. }
            | Self::NotImplemented { fid }
            | Self::Stalled { fid, .. }
            | Self::OutOfGranules { fid }
            | Self::Malformed { fid, .. } => *fid,
        }
    }

    /// The status, if the RMM refused the command.
    #[must_use]
    pub const fn status(&self) -> Option<RmiStatus> {
        match self {
            Self::Refused { ret, .. } => Some(ret.status),
            _ => None,
        }
    }
}

/// A function id as a person reads it: `RMI_REC_CREATE (0xc400015a)`.
///
/// rmi-shim speaks RMI 1.0 ([`crate::rmi`]) and RMI 2.0 ([`crate::rmi2`]), and an error does
/// not record which: rather than widen every variant with a generation, the name is looked
/// up in both ([`cca_abi::rmi::fid_name`]). The generations agree on every number they both
/// define except `…153`, RMI 1.0's `RMI_DATA_CREATE` and RMI 2.0's `RMI_RTT_DATA_MAP_INIT`
/// (same arguments, same measurement), which is shown with both names.
struct Fid(u32);

impl fmt::Display for Fid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use cca_abi::rmi::{Generation, fid_name};
        let fid = u64::from(self.0);
        match (
            fid_name(Generation::V1_0, fid),
            fid_name(Generation::V2_0, fid),
        ) {
            (Some(v1), Some(v2)) if v1 != v2 => write!(f, "{v1} / {v2} ({:#x})", self.0),
            (Some(name), _) | (None, Some(name)) => write!(f, "{name} ({:#x})", self.0),
            (None, None) => write!(f, "{:#x}", self.0),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { fid, ret, .. } => write!(f, "{} refused: {ret}", Fid(*fid)),
            Self::NotImplemented { fid } => {
                write!(f, "{}: function not implemented (SMC_UNKNOWN)", Fid(*fid))
            }
            Self::Stalled { fid, calls } => write!(
                f,
                "{}: the RMM made no progress; gave up after {calls} calls",
                Fid(*fid)
            ),
            Self::OutOfGranules { fid } => write!(
                f,
                "{}: the RMM asked for memory and the host has no granule left to give",
                Fid(*fid)
            ),
            Self::Malformed {
                fid,
                problem: Malformed::AddrListEntry { index, value },
            } => write!(
                f,
                "{}: impossible address-list entry {index} = {value:#x}",
                Fid(*fid)
            ),
            Self::Malformed {
                fid,
                problem: Malformed::Status(x0),
            } => {
                write!(f, "{}: malformed status x0 = {x0:#x}", Fid(*fid))
            }
            Self::Malformed {
                fid,
                problem: Malformed::Output { register, value },
            } => {
                write!(
                    f,
                    "{}: impossible result x{register} = {value:#x}",
                    Fid(*fid)
                )
            }
        }
    }
}

impl core::error::Error for Error {}
