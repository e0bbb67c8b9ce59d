//! Hash algorithms and measurement values: the RIM and the four REMs of a realm.
//!
//! DEN0137 1.0-rel0 A7.1 (realm measurements); the extension rule is the one TF-RMM v0.8.0
//! implements in `runtime/rsi/realm_attest.c` and `lib/measurement`.

use core::fmt;

use sha2::{Digest, Sha256, Sha512};

/// Size of a measurement slot: large enough for a SHA-512 digest.
pub const MAX_MEASUREMENT_SIZE: usize = 64;

/// Number of Realm Extensible Measurements (REM[0..3], measurement indices 1 to 4).
pub const REM_COUNT: usize = 4;

/// Index of the Realm Initial Measurement for `RSI_MEASUREMENT_READ`.
pub const RIM_INDEX: u64 = 0;

/// A realm's hash algorithm (`RmiHashAlgorithm` / `RsiHashAlgorithm`: 0 = SHA-256, 1 = SHA-512).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum HashAlgorithm {
    /// SHA-256, encoding 0.
    Sha256,
    /// SHA-512, encoding 1.
    Sha512,
}

impl HashAlgorithm {
    /// The ABI encoding of the algorithm.
    #[must_use]
    pub const fn encoding(self) -> u8 {
        match self {
            Self::Sha256 => 0,
            Self::Sha512 => 1,
        }
    }

    /// Decodes the ABI encoding; `None` for a value the RMM does not define.
    #[must_use]
    pub const fn from_encoding(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::Sha256),
            1 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Digest size in bytes: 32 or 64.
    #[must_use]
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The name the attestation token uses for the algorithm (realm claim 44236).
    #[must_use]
    pub const fn token_name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha512 => "sha-512",
        }
    }

    /// Hashes the concatenation of `parts` into a [`Measurement`].
    #[must_use]
    pub fn hash(self, parts: &[&[u8]]) -> Measurement {
        let mut m = Measurement::zero(self);
        match self {
            Self::Sha256 => {
                let mut h = Sha256::new();
                parts.iter().for_each(|p| h.update(p));
                m.bytes[..32].copy_from_slice(&h.finalize());
            }
            Self::Sha512 => {
                let mut h = Sha512::new();
                parts.iter().for_each(|p| h.update(p));
                m.bytes.copy_from_slice(&h.finalize());
            }
        }
        m
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token_name())
    }
}

/// A measurement: a digest of the realm's hash algorithm in a 64-byte slot.
///
/// The slot is what `RSI_MEASUREMENT_READ` returns in `x1..x8`; for SHA-256 the upper 32
/// bytes are zero.
#[derive(Clone, Copy, Eq, Hash, PartialEq)]
pub struct Measurement {
    algorithm: HashAlgorithm,
    bytes: [u8; MAX_MEASUREMENT_SIZE],
}

impl Measurement {
    /// The all-zero measurement every REM starts from.
    #[must_use]
    pub const fn zero(algorithm: HashAlgorithm) -> Self {
        Self {
            algorithm,
            bytes: [0; MAX_MEASUREMENT_SIZE],
        }
    }

    /// Builds a measurement from a 64-byte slot. Bytes past the digest length are kept as
    /// given; [`Measurement::as_bytes`] never shows them.
    #[must_use]
    pub const fn from_slot(algorithm: HashAlgorithm, slot: [u8; MAX_MEASUREMENT_SIZE]) -> Self {
        Self {
            algorithm,
            bytes: slot,
        }
    }

    /// Builds a measurement from a digest of exactly the algorithm's length.
    #[must_use]
    pub fn from_digest(algorithm: HashAlgorithm, digest: &[u8]) -> Option<Self> {
        if digest.len() != algorithm.digest_len() {
            return None;
        }
        let mut m = Self::zero(algorithm);
        m.bytes[..digest.len()].copy_from_slice(digest);
        Some(m)
    }

    /// The algorithm of the digest.
    #[must_use]
    pub const fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest: 32 or 64 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }

    /// The whole 64-byte slot, zero past the digest (the RMM's "RIM field").
    #[must_use]
    pub fn slot(&self) -> [u8; MAX_MEASUREMENT_SIZE] {
        let mut s = [0; MAX_MEASUREMENT_SIZE];
        s[..self.algorithm.digest_len()].copy_from_slice(self.as_bytes());
        s
    }

    /// Extends this measurement as `RSI_MEASUREMENT_EXTEND` does:
    /// `M = H(M[0..hlen] ‖ value[0..size])`.
    ///
    /// This is TF-RMM's rule (one hash over the current digest, not the 64-byte slot,
    /// followed by the value bytes). `value` must be at most 64 bytes (the caller checks).
    pub fn extend(&mut self, value: &[u8]) {
        *self = self.algorithm.hash(&[self.as_bytes(), value]);
    }
}

impl fmt::Debug for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.algorithm)?;
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Measurement {
    /// Lower-case hex of the digest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-4 test vector: SHA-256("abc").
    #[test]
    fn sha256_known_answer() {
        let m = HashAlgorithm::Sha256.hash(&[b"a", b"bc"]);
        assert_eq!(
            m.as_bytes()[..8],
            [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea]
        );
        assert_eq!(m.slot()[32..], [0; 32]);
    }

    /// REM rule (cca-abi.md §6.5): the old digest, not the 64-byte slot, is hashed.
    #[test]
    fn extend_hashes_digest_then_value() {
        let mut m = Measurement::zero(HashAlgorithm::Sha256);
        m.extend(&[1, 2, 3]);
        let expected = HashAlgorithm::Sha256.hash(&[&[0; 32], &[1, 2, 3]]);
        assert_eq!(m, expected);
    }

    #[test]
    fn encodings_round_trip() {
        for a in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            assert_eq!(HashAlgorithm::from_encoding(a.encoding().into()), Some(a));
        }
        assert_eq!(HashAlgorithm::from_encoding(2), None);
    }
}
