//! How this project builds the 64-byte challenge of an attestation token.
//!
//! `RSI_ATTESTATION_TOKEN_INIT` signs whatever 64 bytes the realm passes (DEN0137 1.0-rel0
//! B5.3.2; the realm token's claim 10). If the same realm both answers verifiers' challenges
//! and takes part in key release, a challenge chosen by a verifier (or by whoever relays for
//! it: the host) must never be able to equal a key-release challenge, or the host could
//! ask for a token that the key broker accepts for a key the host chose. Every challenge is
//! therefore a SHA-512 hash of a *domain tag*, a zero byte and the construction's inputs:
//!
//! | construction | domain tag | inputs |
//! |---|---|---|
//! | [`verifier`] | `realm-sdk/challenge/verifier/v1` | the verifier's data, as given |
//! | [`key_release`] | `realm-sdk/challenge/key-release/v2` | nonce (32) ‖ policy (1) ‖ realm key (97) ‖ broker key (97) |
//! | [`inference`] | `realm-sdk/challenge/inference/v1` | verifier's nonce (32) ‖ SHA-512 of the batch's inputs (64) ‖ SHA-512 of its outputs (64) |
//!
//! No tag contains a zero byte, so the hashed inputs of two constructions always differ
//! in their prefix; equal challenges would need a SHA-512 collision. Verifiers call the
//! same functions to compute what they expect.

use sha2::{Digest, Sha512};

/// Bytes of a token challenge.
pub const CHALLENGE_SIZE: usize = 64;
/// Bytes of a key-release nonce.
pub const NONCE_SIZE: usize = 32;
/// Bytes of an uncompressed (SEC1) P-384 public key.
pub const P384_PUBLIC_KEY_SIZE: usize = 97;

/// Domain tag of [`verifier`].
pub const VERIFIER_DOMAIN: &[u8] = b"realm-sdk/challenge/verifier/v1";
/// Domain tag of [`key_release`].
pub const KEY_RELEASE_DOMAIN: &[u8] = b"realm-sdk/challenge/key-release/v2";

/// Domain tag of [`inference`].
pub const INFERENCE_DOMAIN: &[u8] = b"realm-sdk/challenge/inference/v1";

fn hash(domain: &[u8], parts: &[&[u8]]) -> [u8; CHALLENGE_SIZE] {
    let mut h = Sha512::new();
    h.update(domain);
    h.update([0]);
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

/// The challenge for data a verifier chose (its nonce, or a hash of what it wants bound).
#[must_use]
pub fn verifier(data: &[u8]) -> [u8; CHALLENGE_SIZE] {
    hash(VERIFIER_DOMAIN, &[data])
}

/// The challenge of a key release (`realm_sdk::broker`): the broker's single-use `nonce`,
/// the identity `policy` the realm asks its key for (its byte), the realm's ephemeral
/// public key and the public key of the broker the realm pinned.
#[must_use]
pub fn key_release(
    nonce: &[u8; NONCE_SIZE],
    policy: u8,
    realm_key: &[u8; P384_PUBLIC_KEY_SIZE],
    broker_key: &[u8; P384_PUBLIC_KEY_SIZE],
) -> [u8; CHALLENGE_SIZE] {
    hash(
        KEY_RELEASE_DOMAIN,
        &[nonce, &[policy], realm_key, broker_key],
    )
}

/// The challenge of a batch of attested inference (`realm-inference`): the verifier's
/// `nonce`, SHA-512 of the batch's inputs as the realm read them and SHA-512 of the outputs
/// it wrote (`realm_inference::binding` defines both byte strings). Every input is of fixed
/// length, so the concatenation is unambiguous.
#[must_use]
pub fn inference(
    nonce: &[u8; NONCE_SIZE],
    inputs_hash: &[u8; 64],
    outputs_hash: &[u8; 64],
) -> [u8; CHALLENGE_SIZE] {
    hash(INFERENCE_DOMAIN, &[nonce, inputs_hash, outputs_hash])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags are distinct and free of zero bytes, so the constructions are prefix-free.
    #[test]
    fn domains_are_prefix_free() {
        let tags = [VERIFIER_DOMAIN, KEY_RELEASE_DOMAIN, INFERENCE_DOMAIN];
        for (i, a) in tags.iter().enumerate() {
            assert!(!a.contains(&0));
            for b in &tags[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    /// Every input of an inference challenge changes it, and it is not the verifier
    /// challenge of the same bytes.
    #[test]
    fn inference_binds_every_input() {
        let base = inference(&[1; 32], &[2; 64], &[3; 64]);
        assert_ne!(base, inference(&[9; 32], &[2; 64], &[3; 64]));
        assert_ne!(base, inference(&[1; 32], &[9; 64], &[3; 64]));
        assert_ne!(base, inference(&[1; 32], &[2; 64], &[9; 64]));
        // Swapping the inputs' and the outputs' hashes is another challenge.
        assert_ne!(base, inference(&[1; 32], &[3; 64], &[2; 64]));
        let mut same = [0u8; 160];
        same[..32].fill(1);
        same[32..96].fill(2);
        same[96..].fill(3);
        assert_ne!(base, verifier(&same));
    }

    /// Data a verifier picks to look like a key release's inputs (even with the key-release
    /// tag in front) gives another challenge than the key release.
    #[test]
    fn verifier_data_never_makes_a_key_release_challenge() {
        let (nonce, realm, broker) = ([1u8; 32], [2u8; 97], [3u8; 97]);
        let release = key_release(&nonce, 1, &realm, &broker);
        let mut preimage = [0u8; 32 + 1 + 97 + 97];
        preimage[..32].copy_from_slice(&nonce);
        preimage[32] = 1;
        preimage[33..130].copy_from_slice(&realm);
        preimage[130..].copy_from_slice(&broker);
        assert_ne!(verifier(&preimage), release);
        let mut tagged = [0u8; 34 + 1 + 227];
        tagged[..34].copy_from_slice(KEY_RELEASE_DOMAIN);
        tagged[35..].copy_from_slice(&preimage);
        assert_ne!(verifier(&tagged), release);
    }

    /// Every input of a key release changes its challenge.
    #[test]
    fn key_release_binds_every_input() {
        let base = key_release(&[1; 32], 1, &[2; 97], &[3; 97]);
        assert_ne!(base, key_release(&[9; 32], 1, &[2; 97], &[3; 97]));
        assert_ne!(base, key_release(&[1; 32], 2, &[2; 97], &[3; 97]));
        assert_ne!(base, key_release(&[1; 32], 1, &[9; 97], &[3; 97]));
        assert_ne!(base, key_release(&[1; 32], 1, &[2; 97], &[9; 97]));
    }
}
