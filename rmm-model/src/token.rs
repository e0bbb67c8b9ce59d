//! The attestation token: what the realm claims and who signs it.

use alloc::vec::Vec;

use cca_abi::measurement::{HashAlgorithm, Measurement, REM_COUNT};
use cca_abi::rsi::{CHALLENGE_SIZE, RPV_SIZE};

/// The realm claims the RMM snapshots at `RSI_ATTESTATION_TOKEN_INIT` (DEN0137 A7.2.3.1).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Claims {
    /// The challenge (`x1..x8`).
    pub challenge: [u8; CHALLENGE_SIZE],
    /// The Realm Personalization Value.
    pub rpv: [u8; RPV_SIZE],
    /// The realm's hash algorithm.
    pub hash_algorithm: HashAlgorithm,
    /// The RIM.
    pub rim: Measurement,
    /// REM[0] to REM[3].
    pub rems: [Measurement; REM_COUNT],
}

/// Why a token could not be made; the realm sees `RSI_ERROR_UNKNOWN`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IssueError {
    /// The model has no attestation key.
    NoKey,
    /// Signing or encoding failed.
    Failed,
}

/// Makes the CCA attestation token for a set of claims.
pub trait TokenIssuer {
    /// The complete token (the collection holding the platform and realm tokens).
    fn issue(&mut self, claims: &Claims) -> Result<Vec<u8>, IssueError>;
}

/// An RMM without attestation keys: every `RSI_ATTESTATION_TOKEN_INIT` fails with
/// `RSI_ERROR_UNKNOWN`, as TF-RMM does when it cannot create the token.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAttestation;

impl TokenIssuer for NoAttestation {
    fn issue(&mut self, _claims: &Claims) -> Result<Vec<u8>, IssueError> {
        Err(IssueError::NoKey)
    }
}

impl<T: TokenIssuer + ?Sized> TokenIssuer for alloc::boxed::Box<T> {
    fn issue(&mut self, claims: &Claims) -> Result<Vec<u8>, IssueError> {
        (**self).issue(claims)
    }
}

/// Where one REC is in the token protocol (TF-RMM keeps this in the REC's aux granules).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub enum TokenState {
    /// No INIT yet, or the last one failed.
    #[default]
    Idle,
    /// INIT done; `steps_left` more CONTINUE calls are spent signing.
    Signing {
        /// Signing steps still to go.
        steps_left: u32,
        /// The token, ready once signing is over.
        token: Vec<u8>,
    },
    /// Signed; `copied` bytes handed out so far.
    Copying {
        /// The token.
        token: Vec<u8>,
        /// Bytes already copied to the realm.
        copied: usize,
    },
    /// Every byte was handed out; CONTINUE now fails with ERROR_STATE until the next INIT.
    Delivered,
}
