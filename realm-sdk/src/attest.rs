//! Getting the attestation token from the RMM.
//!
//! DEN0137 1.0-rel0 A7.2 and B5.3.1/B5.3.2: `RSI_ATTESTATION_TOKEN_INIT` takes the challenge
//! and reports an upper bound on the token size; `RSI_ATTESTATION_TOKEN_CONTINUE` is then
//! called until it returns `RSI_SUCCESS`. Each call names one granule, an offset and a size;
//! the RMM answers `RSI_INCOMPLETE` while it is still signing (nothing written) or while
//! bytes remain. State is per REC: the whole exchange must stay on one CPU.

use core::fmt;

use cca_abi::GRANULE_SIZE;
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

/// Gets an attestation token for `challenge` (at most 64 bytes; shorter ones are
/// zero-padded) into `buffer` and returns the token, a prefix of `buffer`.
///
/// `buffer` may be anywhere in protected realm memory and of any alignment: it is handed to
/// the RMM granule by granule. No heap is used.
pub fn attestation_token<'b>(
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
