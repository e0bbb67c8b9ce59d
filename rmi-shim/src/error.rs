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
    /// `x0` is not a status RMI 1.0 or 1.1 defines (or has bits 63:16 set).
    Status(u64),
    /// A successful reply carries a value its command cannot return in `x<register>`.
    Output {
        /// The result register, 1 to 4.
        register: u8,
        /// The value found there.
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

/// A function id as a person reads it: `RMI_REC_CREATE (0xc400015a)`. rmi-shim speaks RMI
/// 1.0, so the names are 1.0's ([`cca_abi::rmi::fid_name`]).
struct Fid(u32);

impl fmt::Display for Fid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cca_abi::rmi::fid_name(cca_abi::rmi::Generation::V1_0, self.0.into()) {
            Some(name) => write!(f, "{name} ({:#x})", self.0),
            None => write!(f, "{:#x}", self.0),
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
