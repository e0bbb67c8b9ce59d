//! COSE_Sign1 (RFC 9052 §4.2) as CCA tokens use it: tagged (18), an algorithm in the
//! protected header, an attached payload, ECDSA signatures (ES256, ES384, ES512).

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::cbor::{self, CborError, Reader};

/// CBOR tag of a COSE_Sign1.
pub const COSE_SIGN1_TAG: u64 = 18;

/// COSE algorithms of CCA tokens (IANA COSE Algorithms registry).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Algorithm {
    /// ES256 (−7): ECDSA P-256 with SHA-256.
    Es256,
    /// ES384 (−35): ECDSA P-384 with SHA-384.
    Es384,
    /// ES512 (−36): ECDSA P-521 with SHA-512.
    Es512,
}

impl Algorithm {
    /// From the COSE algorithm number.
    #[must_use]
    pub const fn from_cose(value: i64) -> Option<Self> {
        match value {
            -7 => Some(Self::Es256),
            -35 => Some(Self::Es384),
            -36 => Some(Self::Es512),
            _ => None,
        }
    }

    /// The COSE algorithm number.
    #[must_use]
    pub const fn cose(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::Es384 => -35,
            Self::Es512 => -36,
        }
    }

    /// The algorithm's IANA name: "ES256", "ES384" or "ES512".
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }

    /// Size of an `r ‖ s` signature in bytes.
    #[must_use]
    pub const fn signature_len(self) -> usize {
        match self {
            Self::Es256 => 64,
            Self::Es384 => 96,
            Self::Es512 => 132,
        }
    }
}

/// An ECDSA public key of one of the token curves.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum PublicKey {
    /// P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// P-521.
    P521(p521::ecdsa::VerifyingKey),
}

/// A key that is not a valid point of a supported curve.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct InvalidKey;

impl core::fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("not an uncompressed point of P-256, P-384 or P-521")
    }
}

impl core::error::Error for InvalidKey {}

impl PublicKey {
    /// From affine coordinates of `x.len() * 8`-bit curve (32: P-256, 48: P-384, 66: P-521).
    ///
    /// # Errors
    ///
    /// [`InvalidKey`] for other lengths or a point not on the curve.
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, InvalidKey> {
        let mut sec1 = [0u8; 1 + 2 * 66];
        let n = x.len();
        if y.len() != n || !matches!(n, 32 | 48 | 66) {
            return Err(InvalidKey);
        }
        sec1[0] = 4;
        sec1[1..=n].copy_from_slice(x);
        sec1[1 + n..=2 * n].copy_from_slice(y);
        Self::from_sec1(&sec1[..=2 * n])
    }

    /// From an uncompressed SEC1 point (`04 ‖ x ‖ y`).
    ///
    /// # Errors
    ///
    /// [`InvalidKey`] for other encodings or a point not on the curve.
    pub fn from_sec1(sec1: &[u8]) -> Result<Self, InvalidKey> {
        if sec1.first() != Some(&4) {
            return Err(InvalidKey);
        }
        match sec1.len() {
            65 => p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                .map(Self::P256)
                .map_err(|_| InvalidKey),
            97 => p384::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                .map(Self::P384)
                .map_err(|_| InvalidKey),
            133 => p521::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                .map(Self::P521)
                .map_err(|_| InvalidKey),
            _ => Err(InvalidKey),
        }
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        match self {
            Self::P256(_) => Algorithm::Es256,
            Self::P384(_) => Algorithm::Es384,
            Self::P521(_) => Algorithm::Es512,
        }
    }

    /// Verifies an `r ‖ s` signature over a prehashed message.
    pub(crate) fn verify_prehash(
        &self,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let ok = match self {
            Self::P256(k) => p256::ecdsa::Signature::from_slice(signature)
                .map(|s| k.verify_prehash(digest, &s).is_ok()),
            Self::P384(k) => p384::ecdsa::Signature::from_slice(signature)
                .map(|s| k.verify_prehash(digest, &s).is_ok()),
            Self::P521(k) => p521::ecdsa::Signature::from_slice(signature)
                .map(|s| k.verify_prehash(digest, &s).is_ok()),
        };
        match ok {
            Ok(true) => Ok(()),
            Ok(false) => Err(SignatureError::Invalid),
            Err(_) => Err(SignatureError::Malformed),
        }
    }
}

/// Why a signature did not verify.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SignatureError {
    /// The token's algorithm is not the one of the key.
    AlgorithmMismatch {
        /// The token's.
        token: Algorithm,
        /// The key's.
        key: Algorithm,
    },
    /// The signature is not `r ‖ s` of the algorithm's size, or a scalar is out of range.
    Malformed,
    /// The signature does not verify.
    Invalid,
}

impl core::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AlgorithmMismatch { token, key } => {
                write!(
                    f,
                    "the token is signed with {token:?} but the key is for {key:?}"
                )
            }
            Self::Malformed => f.write_str("the signature is not a valid r || s of its algorithm"),
            Self::Invalid => f.write_str("the signature does not verify"),
        }
    }
}

impl core::error::Error for SignatureError {}

/// Why a COSE_Sign1 could not be parsed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CoseError {
    /// Bad CBOR.
    Cbor(CborError),
    /// Not tagged 18.
    Tag,
    /// Not an array of four items.
    Structure,
    /// The protected header has no algorithm, a duplicated label or another problem.
    ProtectedHeader,
    /// An algorithm this crate does not verify.
    UnsupportedAlgorithm(i64),
    /// The payload is detached (nil) or not a byte string.
    Payload,
}

impl core::fmt::Display for CoseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Cbor(e) => write!(f, "COSE_Sign1: {e}"),
            Self::Tag => f.write_str("COSE_Sign1: not tagged 18"),
            Self::Structure => f.write_str("COSE_Sign1: not an array of four items"),
            Self::ProtectedHeader => {
                f.write_str("COSE_Sign1: protected header lacks a single integer algorithm")
            }
            Self::UnsupportedAlgorithm(a) => {
                write!(
                    f,
                    "COSE_Sign1: unsupported algorithm {a} (ES256, ES384, ES512 only)"
                )
            }
            Self::Payload => f.write_str("COSE_Sign1: payload is not an attached byte string"),
        }
    }
}

impl core::error::Error for CoseError {}

impl From<CborError> for CoseError {
    fn from(e: CborError) -> Self {
        Self::Cbor(e)
    }
}

/// A parsed COSE_Sign1, borrowing from the token.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Sign1<'a> {
    /// The serialized protected header (the bytes that are signed).
    pub protected: &'a [u8],
    /// The algorithm from the protected header.
    pub algorithm: Algorithm,
    /// The payload: the claims.
    pub payload: &'a [u8],
    /// The signature, `r ‖ s`.
    pub signature: &'a [u8],
}

impl<'a> Sign1<'a> {
    /// Parses a tagged COSE_Sign1 that is the whole of `bytes`.
    ///
    /// # Errors
    ///
    /// [`CoseError`] for anything that is not a COSE_Sign1 of a supported algorithm.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CoseError> {
        let mut r = Reader::new(bytes);
        if r.tag().map_err(|_| CoseError::Tag)? != COSE_SIGN1_TAG {
            return Err(CoseError::Tag);
        }
        if r.array().map_err(|_| CoseError::Structure)? != 4 {
            return Err(CoseError::Structure);
        }
        let protected = r.bytes()?;
        let algorithm = protected_algorithm(protected)?;
        // The unprotected header: a map, its content unused.
        if r.peek_major() != Some(cbor::MAP) {
            return Err(CoseError::Structure);
        }
        r.item()?;
        let payload = r.bytes().map_err(|e| {
            if e == CborError::UnexpectedType {
                CoseError::Payload
            } else {
                e.into()
            }
        })?;
        let signature = r.bytes()?;
        r.finish()?;
        Ok(Self {
            protected,
            algorithm,
            payload,
            signature,
        })
    }

    /// Hashes the `Sig_structure` `["Signature1", protected, h'', payload]` (RFC 9052 §4.4)
    /// with the algorithm's hash, streaming (no copy of the payload), into `out`; returns the
    /// digest length.
    pub fn digest(&self, out: &mut [u8; 64]) -> usize {
        fn feed(h: &mut impl Digest, s: &Sign1<'_>) {
            let mut head = [0u8; 9];
            h.update([0x84]);
            h.update([0x6a]);
            h.update(b"Signature1");
            let n = cbor::encode_head(cbor::BSTR, s.protected.len() as u64, &mut head);
            h.update(&head[..n]);
            h.update(s.protected);
            h.update([0x40]);
            let n = cbor::encode_head(cbor::BSTR, s.payload.len() as u64, &mut head);
            h.update(&head[..n]);
            h.update(s.payload);
        }
        match self.algorithm {
            Algorithm::Es256 => {
                let mut h = Sha256::new();
                feed(&mut h, self);
                out[..32].copy_from_slice(&h.finalize());
                32
            }
            Algorithm::Es384 => {
                let mut h = Sha384::new();
                feed(&mut h, self);
                out[..48].copy_from_slice(&h.finalize());
                48
            }
            Algorithm::Es512 => {
                let mut h = Sha512::new();
                feed(&mut h, self);
                out.copy_from_slice(&h.finalize());
                64
            }
        }
    }

    /// Verifies the signature with `key`.
    ///
    /// # Errors
    ///
    /// [`SignatureError`].
    pub fn verify(&self, key: &PublicKey) -> Result<(), SignatureError> {
        if key.algorithm() != self.algorithm {
            return Err(SignatureError::AlgorithmMismatch {
                token: self.algorithm,
                key: key.algorithm(),
            });
        }
        if self.signature.len() != self.algorithm.signature_len() {
            return Err(SignatureError::Malformed);
        }
        let mut digest = [0u8; 64];
        let n = self.digest(&mut digest);
        key.verify_prehash(&digest[..n], self.signature)
    }
}

/// The algorithm in a serialized protected header (a map; label 1 = alg, once).
fn protected_algorithm(protected: &[u8]) -> Result<Algorithm, CoseError> {
    let mut r = Reader::new(protected);
    let pairs = r.map().map_err(|_| CoseError::ProtectedHeader)?;
    let mut alg = None;
    let mut labels = [0i64; 8];
    if pairs > labels.len() {
        return Err(CoseError::ProtectedHeader);
    }
    for i in 0..pairs {
        // Labels are integers or text; only integer labels are checked for duplicates.
        let label = match r.peek_major() {
            Some(cbor::UINT | cbor::NINT) => r.int().map_err(|_| CoseError::ProtectedHeader)?,
            Some(cbor::TSTR) => {
                r.text().map_err(|_| CoseError::ProtectedHeader)?;
                r.item().map_err(|_| CoseError::ProtectedHeader)?;
                continue;
            }
            _ => return Err(CoseError::ProtectedHeader),
        };
        if labels[..i].contains(&label) {
            return Err(CoseError::ProtectedHeader);
        }
        labels[i] = label;
        if label == 1 {
            let v = r.int().map_err(|_| CoseError::ProtectedHeader)?;
            alg = Some(Algorithm::from_cose(v).ok_or(CoseError::UnsupportedAlgorithm(v))?);
        } else {
            r.item().map_err(|_| CoseError::ProtectedHeader)?;
        }
    }
    r.finish().map_err(|_| CoseError::ProtectedHeader)?;
    alg.ok_or(CoseError::ProtectedHeader)
}
