//! What ties an answer to the model that produced it and to the verifier who asked.
//!
//! # The model's measurement
//!
//! Before it classifies anything, the realm measures the decrypted model into
//! [`MODEL_REM`] through its event log (`realm_sdk::Realm::measure`, `cca_abi::eventlog`):
//! one event whose value is [`model_hash`], the hash of the plaintext model file with the
//! realm's hash algorithm (32 bytes for SHA-256, 64 for SHA-512, so it is extended as it
//! is), and whose description is [`MODEL_EVENT_DESCRIPTION`]. Every token the realm makes
//! afterwards carries the REMs, so a verifier who replays the log to them and finds that
//! event knows which model the realm had loaded when it signed.
//!
//! # The batch challenge
//!
//! Each batch's token has the challenge [`batch_challenge`] =
//! `cca_abi::challenge::inference(nonce, SHA-512(inputs), SHA-512(outputs))`:
//!
//! `SHA-512("realm-sdk/challenge/inference/v1" ‖ 0x00 ‖ nonce (32) ‖ SHA-512(inputs) (64) ‖ SHA-512(outputs) (64))`
//!
//! where `nonce` is the verifier's 32-byte nonce (carried in the disk header, [`crate::disk`]),
//! `inputs` the batch's input bytes exactly as the realm read them from the disk (the
//! inputs one after the other, [`crate::disk::Header::input_len`] bytes each) and `outputs`
//! the batch's output records one after the other ([`crate::model::encode_output`]: the
//! class byte and the logits as int32 little-endian). The tag keeps the challenge apart from
//! every other challenge realm-sdk makes (`cca_abi::challenge`).

use cca_abi::challenge::{self, CHALLENGE_SIZE, NONCE_SIZE};
use cca_abi::measurement::{HashAlgorithm, Measurement, REM_COUNT};
use sha2::{Digest, Sha512};

/// The REM the model is measured into: REM\[0\], as `cca_abi::eventlog` numbers them
/// (measurement index 1).
pub const MODEL_REM: u8 = 1;

/// The description of the model's event in the log (bound into the extension).
pub const MODEL_EVENT_DESCRIPTION: &str = "realm-inference model";

/// Bytes of a verifier's nonce.
pub const NONCE_LEN: usize = NONCE_SIZE;

const _: () = assert!((MODEL_REM as usize) >= 1 && (MODEL_REM as usize) <= REM_COUNT);

/// The model's measurement: the hash of the plaintext model file with `algorithm` (the
/// realm's).
#[must_use]
pub fn model_hash(algorithm: HashAlgorithm, model: &[u8]) -> Measurement {
    algorithm.hash(&[model])
}

/// SHA-512 of a batch's inputs or of its outputs (module documentation).
#[must_use]
pub fn batch_hash(bytes: &[u8]) -> [u8; 64] {
    Sha512::digest(bytes).into()
}

/// The challenge of a batch's token (module documentation).
#[must_use]
pub fn batch_challenge(
    nonce: &[u8; NONCE_LEN],
    inputs: &[u8],
    outputs: &[u8],
) -> [u8; CHALLENGE_SIZE] {
    challenge::inference(nonce, &batch_hash(inputs), &batch_hash(outputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The construction is the one the module documents, byte for byte.
    #[test]
    fn the_challenge_is_as_documented() {
        let (nonce, inputs, outputs) = ([7u8; 32], b"digits".as_slice(), b"\x03answer".as_slice());
        let mut h = Sha512::new();
        h.update(b"realm-sdk/challenge/inference/v1");
        h.update([0]);
        h.update(nonce);
        h.update(Sha512::digest(inputs));
        h.update(Sha512::digest(outputs));
        let expected: [u8; 64] = h.finalize().into();
        assert_eq!(batch_challenge(&nonce, inputs, outputs), expected);
    }

    /// Moving a byte from the inputs to the outputs changes the challenge (the two are
    /// hashed apart, not concatenated).
    #[test]
    fn inputs_and_outputs_are_not_interchangeable() {
        let n = [1u8; 32];
        assert_ne!(
            batch_challenge(&n, b"ab", b"c"),
            batch_challenge(&n, b"a", b"bc")
        );
        assert_ne!(
            batch_challenge(&n, b"ab", b"c"),
            batch_challenge(&n, b"c", b"ab")
        );
    }

    /// The model's hash is the plain hash of the file, with the realm's algorithm.
    #[test]
    fn model_hash_follows_the_algorithm() {
        assert_eq!(model_hash(HashAlgorithm::Sha256, b"m").as_bytes().len(), 32);
        assert_eq!(model_hash(HashAlgorithm::Sha512, b"m").as_bytes().len(), 64);
        assert_eq!(
            model_hash(HashAlgorithm::Sha256, b"m"),
            HashAlgorithm::Sha256.hash(&[b"m"])
        );
    }
}
