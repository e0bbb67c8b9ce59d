//! Getting the attestation token from the RMM.
//!
//! DEN0137 1.0-rel0 A7.2 and B5.3.1/B5.3.2: `RSI_ATTESTATION_TOKEN_INIT` takes the challenge
//! and reports an upper bound on the token size; `RSI_ATTESTATION_TOKEN_CONTINUE` is then
//! called until it returns `RSI_SUCCESS`. Each call names one granule, an offset and a size;
//! the RMM answers `RSI_INCOMPLETE` while it is still signing (nothing written) or while
//! bytes remain. State is per REC: the whole exchange must stay on one CPU.

use core::fmt;

use cca_abi::GRANULE_SIZE;
use cca_abi::challenge;
use cca_abi::smccc::Conduit;

use crate::addr::Ipa;
use crate::rsi::{self, RsiError, TokenProgress};

/// Why getting a token failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TokenError {
    /// The buffer filled up before the token was complete; a buffer of `upper_bound` bytes
    /// (what `RSI_ATTESTATION_TOKEN_INIT` reported) is always enough.
    BufferTooSmall {
        /// Size of the buffer that was given.
        given: usize,
        /// The RMM's upper bound on the token size.
        upper_bound: u64,
    },
    /// `RSI_ATTESTATION_TOKEN_INIT` failed.
    Init(RsiError),
    /// `RSI_ATTESTATION_TOKEN_CONTINUE` failed after `received` bytes: the exchange was
    /// interrupted (for example by another INIT on this REC) or the RMM refused the buffer.
    Continue {
        /// The error.
        error: RsiError,
        /// Bytes received before it.
        received: usize,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { given, upper_bound } => write!(
                f,
                "token buffer of {given} bytes is too small; the RMM needs up to {upper_bound}"
            ),
            Self::Init(e) => write!(f, "RSI_ATTESTATION_TOKEN_INIT failed: {e}"),
            Self::Continue { error, received } => {
                write!(
                    f,
                    "RSI_ATTESTATION_TOKEN_CONTINUE failed after {received} bytes: {error}"
                )
            }
        }
    }
}

impl core::error::Error for TokenError {}

/// A token challenge, made by one of the domain-separated constructions of
/// [`cca_abi::challenge`], so that no challenge a verifier (or the host relaying for it)
/// chooses can equal the challenge of a key release ([`crate::broker`]).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Challenge([u8; challenge::CHALLENGE_SIZE]);

impl Challenge {
    /// The challenge for `data` a verifier chose (its nonce, or a hash of what it wants
    /// bound to the token): [`cca_abi::challenge::verifier`]. The verifier computes the same
    /// function to know what to expect in the token.
    #[must_use]
    pub fn for_verifier(data: &[u8]) -> Self {
        Self(challenge::verifier(data))
    }

    /// The challenge of a batch of attested inference: the verifier's `nonce` and the
    /// SHA-512 hashes of the batch's inputs and outputs ([`cca_abi::challenge::inference`];
    /// `realm_inference::binding` says what is hashed). A verifier computes the same to
    /// check that the token speaks for these very inputs and outputs.
    #[must_use]
    pub fn for_inference(
        nonce: &[u8; challenge::NONCE_SIZE],
        inputs_hash: &[u8; 64],
        outputs_hash: &[u8; 64],
    ) -> Self {
        Self(challenge::inference(nonce, inputs_hash, outputs_hash))
    }

    /// The challenge of a key release; only [`crate::broker`] makes these.
    pub(crate) fn key_release(
        nonce: &[u8; challenge::NONCE_SIZE],
        policy: u8,
        realm_key: &[u8; challenge::P384_PUBLIC_KEY_SIZE],
        broker_key: &[u8; challenge::P384_PUBLIC_KEY_SIZE],
    ) -> Self {
        Self(challenge::key_release(nonce, policy, realm_key, broker_key))
    }

    /// The 64 bytes the token will carry in its challenge claim.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; challenge::CHALLENGE_SIZE] {
        &self.0
    }
}

/// Gets an attestation token for `challenge` into `buffer` and returns the token, a prefix
/// of `buffer`.
///
/// `buffer` may be anywhere in protected realm memory and of any alignment: it is handed to
/// the RMM granule by granule. No heap is used.
pub fn attestation_token<'b>(
    conduit: &mut (impl Conduit + ?Sized),
    challenge: &Challenge,
    buffer: &'b mut [u8],
) -> Result<&'b [u8], TokenError> {
    attestation_token_with_raw_challenge(conduit, challenge.as_bytes(), buffer)
}

/// Gets an attestation token for a raw `challenge` (at most 64 bytes; shorter ones are
/// zero-padded), as [`attestation_token`] does.
///
/// **Careful:** the RMM signs whatever bytes are given. A realm that also takes part in
/// key release must never pass bytes that someone else chose here: they could be a key
/// release's challenge, and the token would get that someone a key the realm then
/// trusts. Use [`Challenge::for_verifier`] with [`attestation_token`] instead, unless a
/// protocol fixed by others dictates the raw challenge.
pub fn attestation_token_with_raw_challenge<'b>(
    conduit: &mut (impl Conduit + ?Sized),
    challenge: &[u8],
    buffer: &'b mut [u8],
) -> Result<&'b [u8], TokenError> {
    let upper_bound = rsi::attestation_token_init(conduit, challenge).map_err(TokenError::Init)?;
    let given = buffer.len();
    let mut received = 0;
    loop {
        let rest = &mut buffer[received..];
        let in_granule = GRANULE_SIZE - (Ipa::of_mut(rest).0 as usize & (GRANULE_SIZE - 1));
        let len = rest.len().min(in_granule);
        if len == 0 {
            return Err(TokenError::BufferTooSmall { given, upper_bound });
        }
        let progress = rsi::attestation_token_continue(conduit, &mut rest[..len])
            .map_err(|error| TokenError::Continue { error, received })?;
        match progress {
            TokenProgress::Incomplete { written } => received += written,
            TokenProgress::Done { written } => return Ok(&buffer[..received + written]),
        }
    }
}
