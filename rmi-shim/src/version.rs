//! `RMI_VERSION` negotiation (DEN0137 1.0-rel0 B4.3.21; cca-abi.md §4.1, §9).
//!
//! The host asks for RMI 1.0. The answers seen from the reference RMM:
//!
//! | RMM | Reply to a 1.0 request |
//! |---|---|
//! | TF-RMM aligned to 1.0-rel0 | SUCCESS, lower = higher = 1.0 |
//! | TF-RMM v0.8.0 | SUCCESS, lower = 1.0, higher = 1.0 (or 1.1 when built with `RMM_V1_1`) |
//! | TF-RMM v0.9.0 and later | ERROR_INPUT, lower = higher = 2.0: RMI 2.0 only |
//!
//! A 1.0 or 1.1 RMM is accepted; an RMI 2.0-only RMM is reported as
//! [`VersionError::Rmi2Only`], because its commands and structures differ (cca-abi.md §9).

use core::fmt;

use cca_abi::AbiVersion;
use cca_abi::rmi::{Generation, RmiCommand, RmiReply, RmiStatus};
use cca_abi::smccc::Conduit;

use crate::error::{Error, Malformed};

/// The revision this crate implements and requests.
pub const REQUESTED: AbiVersion = AbiVersion::V1_0;

/// The outcome of a successful negotiation.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Negotiated {
    /// The revision both sides use from now on: the one requested ([`REQUESTED`] for
    /// [`negotiate`], 2.0 for [`crate::rmi2::version`]).
    pub version: AbiVersion,
    /// `x1`: the lower revision the RMM reported.
    pub lower: AbiVersion,
    /// `x2`: the highest revision the RMM implements (1.0 or 1.1 for TF-RMM v0.8.0).
    pub higher: AbiVersion,
}

/// Why negotiation failed.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum VersionError {
    /// The RMM implements only RMI 2.0 or later (TF-RMM v0.9.0 and later): it refused 1.0
    /// and offers nothing below 2.0. This host cannot drive it.
    Rmi2Only {
        /// `x1`: the lowest revision offered.
        lower: AbiVersion,
        /// `x2`: the highest revision offered.
        higher: AbiVersion,
    },
    /// The RMM refused 1.0 and offers another set of revisions that does not include it.
    Unsupported {
        /// `x1`: the revision offered instead.
        lower: AbiVersion,
        /// `x2`: the highest revision offered.
        higher: AbiVersion,
    },
    /// The RMM refused RMI 2.0 ([`crate::rmi2::version`]) and offers the revisions below
    /// instead; when `higher` is 1.x the host should fall back to [`negotiate`].
    NotRmi2 {
        /// `x1`: the revision offered instead.
        lower: AbiVersion,
        /// `x2`: the highest revision offered.
        higher: AbiVersion,
    },
    /// The call itself failed: no RMM (`SMC_UNKNOWN`), another refusal, or a malformed reply.
    Call(Error),
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rmi2Only { lower, higher } => write!(
                f,
                "the RMM implements only RMI {lower}..{higher} (RMI 2.0, TF-RMM v0.9.0 or \
                 later); this host speaks RMI {REQUESTED}"
            ),
            Self::Unsupported { lower, higher } => write!(
                f,
                "the RMM refused RMI {REQUESTED} and offers RMI {lower}..{higher}"
            ),
            Self::NotRmi2 { lower, higher } => write!(
                f,
                "the RMM refused RMI {} and offers RMI {lower}..{higher}",
                AbiVersion::V2_0
            ),
            Self::Call(e) => write!(f, "RMI_VERSION failed: {e}"),
        }
    }
}

impl core::error::Error for VersionError {}

impl From<Error> for VersionError {
    fn from(e: Error) -> Self {
        Self::Call(e)
    }
}

/// Asks for RMI [`REQUESTED`] and checks that the RMM implements it.
///
/// # Errors
///
/// [`VersionError::Rmi2Only`] for an RMI 2.0-only RMM, [`VersionError::Unsupported`] for
/// any other refusal with a well-formed offer, [`VersionError::Call`] otherwise.
pub fn negotiate<C: Conduit + ?Sized>(c: &mut C) -> Result<Negotiated, VersionError> {
    let cmd = RmiCommand::Version {
        requested: REQUESTED.encode(),
    };
    let fid = cmd.fid();
    let reply = RmiReply::from_regs(&c.call(cmd.to_regs()));
    let decode = |register: u8, value: u64| {
        AbiVersion::decode(value).ok_or(Error::Malformed {
            fid,
            problem: Malformed::Output { register, value },
        })
    };
    let malformed_status = Error::Malformed {
        fid,
        problem: Malformed::Status(reply.ret.to_raw()),
    };
    match reply.ret.status {
        RmiStatus::SmcUnknown => Err(Error::NotImplemented { fid }.into()),
        RmiStatus::Success if reply.ret.index == 0 => {
            let lower = decode(1, reply.out[0])?;
            let higher = decode(2, reply.out[1])?;
            // On success the requested revision must lie within what the RMM reports.
            if lower > REQUESTED || higher < REQUESTED {
                return Err(Error::Malformed {
                    fid,
                    problem: Malformed::Output {
                        register: 2,
                        value: reply.out[1],
                    },
                }
                .into());
            }
            Ok(Negotiated {
                version: REQUESTED,
                lower,
                higher,
            })
        }
        RmiStatus::ErrorInput if reply.ret.index == 0 => {
            let lower = decode(1, reply.out[0])?;
            let higher = decode(2, reply.out[1])?;
            if lower.major >= 2 {
                Err(VersionError::Rmi2Only { lower, higher })
            } else {
                Err(VersionError::Unsupported { lower, higher })
            }
        }
        status if status == RmiStatus::Success || !status.defined_in(Generation::V1_0) => {
            Err(malformed_status.into())
        }
        _ => Err(Error::Refused {
            fid,
            ret: reply.ret,
            out: reply.out,
        }
        .into()),
    }
}
