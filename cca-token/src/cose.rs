//! COSE_Sign1 (RFC 9052 §4.2) as CCA tokens use it: tagged (18), an algorithm in the
//! protected header, an attached payload, ECDSA signatures (ES256, ES384, ES512).
//!
//! Headers are read strictly (RFC 9052 §3 and §3.1): each header map has distinct labels
//! (integer or text), no label is in both maps, and `crit` (label 2) must be a non-empty
//! array in the protected header naming only labels this crate processes, which is label 1
//! (alg) alone. A token that breaks one of these rules is refused with its own
//! [`CoseError`] before any signature is checked.

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
                    "the token is signed with {} but the key is for {}",
                    token.name(),
                    key.name()
                )
            }
            Self::Malformed => f.write_str("the signature is not a valid r || s of its algorithm"),
            Self::Invalid => f.write_str("the signature does not verify"),
        }
    }
}

impl core::error::Error for SignatureError {}

/// Which header map of a COSE_Sign1 an error is about.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Header {
    /// The protected header (signed).
    Protected,
    /// The unprotected header (not signed).
    Unprotected,
}

impl Header {
    const fn name(self) -> &'static str {
        match self {
            Self::Protected => "protected",
            Self::Unprotected => "unprotected",
        }
    }
}

/// Why a COSE_Sign1 could not be parsed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CoseError {
    /// Bad CBOR.
    Cbor(CborError),
    /// Not tagged 18.
    Tag,
    /// Not an array of four items.
    Structure,
    /// The protected header is not a map of at most [`MAX_HEADER_LABELS`] integer or text
    /// labels, or has no algorithm (label 1) or one that is not an integer.
    ProtectedHeader,
    /// The unprotected header is not a map of at most [`MAX_HEADER_LABELS`] integer or text
    /// labels.
    UnprotectedHeader,
    /// A label appears twice in one header map (RFC 9052 §3: each label at most once).
    DuplicateLabel(Header),
    /// A label appears in both the protected and the unprotected header (RFC 9052 §3).
    LabelInBothHeaders,
    /// The critical header parameter (label 2) is in the unprotected header; RFC 9052 §3.1
    /// puts it in the protected header only.
    CritUnprotected,
    /// The critical header parameter (label 2) is not a non-empty array of integer or text
    /// labels (RFC 9052 §3.1).
    Crit,
    /// The critical header parameter names an integer label this crate does not process
    /// (it processes only label 1, the algorithm).
    UnprocessedCritical(i64),
    /// The critical header parameter names a text label (this crate processes none).
    UnprocessedCriticalText,
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
            Self::ProtectedHeader => f.write_str(
                "COSE_Sign1: protected header is not a small map of labels with one integer algorithm",
            ),
            Self::UnprotectedHeader => write!(
                f,
                "COSE_Sign1: unprotected header is not a map of at most {MAX_HEADER_LABELS} integer or text labels"
            ),
            Self::DuplicateLabel(h) => {
                write!(f, "COSE_Sign1: a label appears twice in the {} header", h.name())
            }
            Self::LabelInBothHeaders => f.write_str(
                "COSE_Sign1: a label appears in both the protected and the unprotected header",
            ),
            Self::CritUnprotected => f.write_str(
                "COSE_Sign1: the crit header parameter (label 2) is in the unprotected header",
            ),
            Self::Crit => f.write_str(
                "COSE_Sign1: the crit header parameter (label 2) is not a non-empty array of labels",
            ),
            Self::UnprocessedCritical(l) => write!(
                f,
                "COSE_Sign1: crit names header label {l}, which this verifier does not process (only 1, alg)"
            ),
            Self::UnprocessedCriticalText => f.write_str(
                "COSE_Sign1: crit names a text header label, which this verifier does not process (only 1, alg)",
            ),
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
        let mut protected_labels = [HeaderLabel::Int(0); MAX_HEADER_LABELS];
        let (algorithm, n) = protected_header(protected, &mut protected_labels)?;
        // The unprotected header: a map whose values are unused, but whose labels must not
        // repeat, nor repeat a protected label, nor be crit.
        if r.peek_major() != Some(cbor::MAP) {
            return Err(CoseError::Structure);
        }
        unprotected_header(r.item()?, &protected_labels[..n])?;
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

/// Most labels a header map may hold (CCA tokens use one).
pub const MAX_HEADER_LABELS: usize = 8;

/// `1`: the algorithm header parameter (RFC 9052 §3.1).
const ALG: i64 = 1;
/// `2`: the critical header parameter (RFC 9052 §3.1).
const CRIT: i64 = 2;

/// A header label: an integer or a text string (RFC 9052 §3).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum HeaderLabel<'a> {
    Int(i64),
    Text(&'a str),
}

/// Reads the labels of a header map one at a time, rejecting a label seen before in the
/// same map. `bad` is the error for anything that is not a map of integer or text labels
/// of at most [`MAX_HEADER_LABELS`] entries.
struct HeaderMap<'a, 'l> {
    reader: Reader<'a>,
    left: usize,
    labels: &'l mut [HeaderLabel<'a>; MAX_HEADER_LABELS],
    seen: usize,
    header: Header,
    bad: CoseError,
}

impl<'a, 'l> HeaderMap<'a, 'l> {
    fn new(
        bytes: &'a [u8],
        labels: &'l mut [HeaderLabel<'a>; MAX_HEADER_LABELS],
        header: Header,
        bad: CoseError,
    ) -> Result<Self, CoseError> {
        let mut reader = Reader::new(bytes);
        let left = reader.map().map_err(|_| bad)?;
        if left > MAX_HEADER_LABELS {
            return Err(bad);
        }
        Ok(Self {
            reader,
            left,
            labels,
            seen: 0,
            header,
            bad,
        })
    }

    /// The next label (the reader is then at its value), or `None` at the end of the map.
    fn next_label(&mut self) -> Result<Option<HeaderLabel<'a>>, CoseError> {
        if self.left == 0 {
            self.reader.finish().map_err(|_| self.bad)?;
            return Ok(None);
        }
        self.left -= 1;
        let label = match self.reader.peek_major() {
            Some(cbor::UINT | cbor::NINT) => {
                HeaderLabel::Int(self.reader.int().map_err(|_| self.bad)?)
            }
            Some(cbor::TSTR) => HeaderLabel::Text(self.reader.text().map_err(|_| self.bad)?),
            _ => return Err(self.bad),
        };
        if self.labels[..self.seen].contains(&label) {
            return Err(CoseError::DuplicateLabel(self.header));
        }
        self.labels[self.seen] = label;
        self.seen += 1;
        Ok(Some(label))
    }
}

/// Checks a serialized protected header (RFC 9052 §3): a map of distinct labels with the
/// algorithm (label 1) and, if present, a crit (label 2) that names only labels this crate
/// processes. Returns the algorithm and the number of labels written to `labels`.
fn protected_header<'a>(
    protected: &'a [u8],
    labels: &mut [HeaderLabel<'a>; MAX_HEADER_LABELS],
) -> Result<(Algorithm, usize), CoseError> {
    let bad = CoseError::ProtectedHeader;
    let mut map = HeaderMap::new(protected, labels, Header::Protected, bad)?;
    let mut alg = None;
    while let Some(label) = map.next_label()? {
        match label {
            HeaderLabel::Int(ALG) => {
                let v = map.reader.int().map_err(|_| bad)?;
                alg = Some(Algorithm::from_cose(v).ok_or(CoseError::UnsupportedAlgorithm(v))?);
            }
            HeaderLabel::Int(CRIT) => check_crit(&mut map.reader)?,
            _ => drop(map.reader.item().map_err(|_| bad)?),
        }
    }
    let n = map.seen;
    Ok((alg.ok_or(bad)?, n))
}

/// Checks a crit value: a non-empty array of labels, each one this crate processes.
fn check_crit(r: &mut Reader<'_>) -> Result<(), CoseError> {
    let n = r.array().map_err(|_| CoseError::Crit)?;
    if n == 0 {
        return Err(CoseError::Crit);
    }
    for _ in 0..n {
        match r.peek_major() {
            Some(cbor::UINT | cbor::NINT) => match r.int().map_err(|_| CoseError::Crit)? {
                ALG => {}
                other => return Err(CoseError::UnprocessedCritical(other)),
            },
            Some(cbor::TSTR) => return Err(CoseError::UnprocessedCriticalText),
            _ => return Err(CoseError::Crit),
        }
    }
    Ok(())
}

/// Checks an unprotected header map: distinct labels, none of them also protected, no crit.
fn unprotected_header(bytes: &[u8], protected: &[HeaderLabel<'_>]) -> Result<(), CoseError> {
    let bad = CoseError::UnprotectedHeader;
    let mut labels = [HeaderLabel::Int(0); MAX_HEADER_LABELS];
    let mut map = HeaderMap::new(bytes, &mut labels, Header::Unprotected, bad)?;
    while let Some(label) = map.next_label()? {
        if label == HeaderLabel::Int(CRIT) {
            return Err(CoseError::CritUnprotected);
        }
        if protected.contains(&label) {
            return Err(CoseError::LabelInBothHeaders);
        }
        map.reader.item().map_err(|_| bad)?;
    }
    Ok(())
}
