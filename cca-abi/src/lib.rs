//! The Arm CCA ABI shared by both sides of the Realm Management Monitor.
//!
//! This crate follows the *Realm Management Monitor specification* (Arm DEN0137, RMM 1.0-rel0)
//! as implemented by the reference RMM, TF-RMM `tf-rmm-v0.8.0`. Where the two disagree the
//! reference RMM is followed and the item says so.
//!
//! It holds only definitions and pure logic, so that the realm side ([`rsi`]), the host side
//! ([`rmi`]) and the software RMM model all speak exactly the same encoding:
//!
//! - [`smccc`]: the register file of an SMC64 call and the [`Conduit`](smccc::Conduit) trait
//!   every call goes through;
//! - [`rsi`]: Realm Services Interface function ids, status codes, structures and a register
//!   codec for every command, RSI 1.0 and the RSI 1.1 commands of TF-RMM v0.9.0 (planes,
//!   memory permissions, device assignment);
//! - [`rmi`]: Realm Management Interface function ids, status codes and structures;
//! - [`measurement`]: hash algorithms, measurement values and the REM extension rule;
//! - [`rim`]: the measurement descriptors from which the RMM builds the RIM;
//! - [`hostcall`]: this project's conventions for `RSI_HOST_CALL` (console output, service
//!   calls through shared memory);
//! - [`eventlog`]: the measured-boot event log and its offline replay;
//! - [`challenge`]: the domain-separated constructions of token challenges.
//!
//! # Example
//!
//! Both sides of a call use the same codec: here a conduit that answers
//! `RSI_MEASUREMENT_EXTEND` for REM\[0\] the way an RMM does, and the realm's call through
//! it; whoever checks the REM later recomputes it with the same extension rule.
//!
//! ```
//! use cca_abi::measurement::{HashAlgorithm, Measurement};
//! use cca_abi::rsi::{MAX_EXTEND_SIZE, RsiCommand, RsiStatus};
//! use cca_abi::smccc::{Conduit, Regs};
//!
//! /// An RMM with one REM (index 1) and nothing else.
//! struct OneRem(Measurement);
//!
//! impl Conduit for OneRem {
//!     fn call(&mut self, request: Regs) -> Regs {
//!         let status = match RsiCommand::from_regs(&request) {
//!             Some(RsiCommand::MeasurementExtend { index: 1, size, value }) => {
//!                 match value.get(..usize::try_from(size).unwrap_or(usize::MAX)) {
//!                     Some(bytes) => {
//!                         self.0.extend(bytes);
//!                         RsiStatus::Success
//!                     }
//!                     None => RsiStatus::ErrorInput,
//!                 }
//!             }
//!             _ => RsiStatus::ErrorInput,
//!         };
//!         let mut reply: Regs = [0; 18];
//!         reply[0] = status.to_raw();
//!         reply
//!     }
//! }
//!
//! let mut rmm = OneRem(Measurement::zero(HashAlgorithm::Sha256));
//! let mut value = [0; MAX_EXTEND_SIZE];
//! value[..7].copy_from_slice(b"stage 1");
//! let extend = RsiCommand::MeasurementExtend { index: 1, size: 7, value };
//! let reply = rmm.call(extend.to_regs());
//! assert_eq!(RsiStatus::from_raw(reply[0]), RsiStatus::Success);
//!
//! let mut expected = Measurement::zero(HashAlgorithm::Sha256);
//! expected.extend(b"stage 1");
//! assert_eq!(rmm.0, expected);
//! ```
#![no_std]
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly) marks what a feature or target gates.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod challenge;
pub mod eventlog;
pub mod gic;
pub mod hostcall;
pub mod measurement;
pub mod rim;
pub mod rmi;
pub mod rsi;
pub mod smccc;
pub mod virtio;

/// Size of a granule, the unit of memory the RMM manages: 4 KiB (TF-RMM refuses any other).
pub const GRANULE_SIZE: usize = 0x1000;

/// Returns whether `addr` is aligned to a granule.
#[must_use]
pub const fn is_granule_aligned(addr: u64) -> bool {
    addr & (GRANULE_SIZE as u64 - 1) == 0
}

/// An interface revision as RSI and RMI encode it: `(major << 16) | minor`, bit 31 zero
/// (DEN0137 1.0-rel0 B5.3.10 `RSI_VERSION`, B4.3.21 `RMI_VERSION`).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct AbiVersion {
    /// Major revision: a change here breaks compatibility.
    pub major: u16,
    /// Minor revision: backwards compatible within a major revision.
    pub minor: u16,
}

impl AbiVersion {
    /// Revision 1.0, what DEN0137 1.0-rel0 and TF-RMM v0.8.0 implement.
    pub const V1_0: Self = Self::new(1, 0);
    /// Revision 1.1 (DEN0137 1.1 drafts; TF-RMM v0.9.0 offers RSI 1.1).
    pub const V1_1: Self = Self::new(1, 1);
    /// Revision 2.0 (RMI of TF-RMM v0.9.0 and later).
    pub const V2_0: Self = Self::new(2, 0);

    /// Makes a version from its parts.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// The register encoding.
    #[must_use]
    pub const fn encode(self) -> u64 {
        ((self.major as u64) << 16) | self.minor as u64
    }

    /// Decodes a register; `None` if bits other than 30:0 are set (bit 31 is reserved).
    #[must_use]
    pub const fn decode(value: u64) -> Option<Self> {
        if value >> 31 != 0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, reason = "masked to 15 and 16 bits")]
        Some(Self::new((value >> 16) as u16, (value & 0xffff) as u16))
    }
}

impl core::fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
