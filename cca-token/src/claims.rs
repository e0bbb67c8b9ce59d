//! Walking a claims map: labels (integers, or text for claims this crate does not know),
//! each once, values borrowed.

use crate::cbor::{CborError, Reader, TSTR};

/// Most claims a claims map may hold.
pub const MAX_CLAIMS: usize = 32;

/// Why a claim is not acceptable.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ClaimError {
    /// The claims are not a CBOR map of integer or text labels (or the CBOR is bad).
    Cbor(CborError),
    /// More than [`MAX_CLAIMS`] claims.
    TooMany,
    /// A claim appears twice.
    Duplicate(i64),
    /// A text-labelled claim appears twice.
    DuplicateText,
    /// A claim has the wrong CBOR type.
    Type(i64),
    /// A claim has a value the profile does not allow (a length, a range, a name).
    Value(i64),
    /// A mandatory claim is missing.
    Missing(i64),
}

impl core::fmt::Display for ClaimError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Cbor(e) => write!(f, "claims map: {e}"),
            Self::TooMany => write!(f, "more than {MAX_CLAIMS} claims"),
            Self::Duplicate(k) => write!(f, "claim {k} appears twice"),
            Self::DuplicateText => f.write_str("a text-labelled claim appears twice"),
            Self::Type(k) => write!(f, "claim {k} has the wrong CBOR type"),
            Self::Value(k) => write!(f, "claim {k} has a value the profile does not allow"),
            Self::Missing(k) => write!(f, "mandatory claim {k} is missing"),
        }
    }
}

impl core::error::Error for ClaimError {}

impl From<CborError> for ClaimError {
    fn from(e: CborError) -> Self {
        Self::Cbor(e)
    }
}

/// A claim label: EAT (RFC 9711) allows integers and text; CCA claims use integers.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Label<'a> {
    /// An integer label (every claim this crate knows).
    Int(i64),
    /// A text label.
    Text(&'a str),
}

impl core::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Int(k) => write!(f, "{k}"),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// One claim as it appears in the claims map: its label and the encoding of its value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RawClaim<'a> {
    /// The claim label.
    pub label: Label<'a>,
    /// The CBOR encoding of the value (one complete, well-formed item).
    pub value: &'a [u8],
}

/// A claim found by its integer key, with typed accessors whose errors name the key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim<'a> {
    pub(crate) key: i64,
    pub(crate) value: &'a [u8],
}

impl<'a> Claim<'a> {
    /// The value as a byte string.
    pub(crate) fn bytes(&self) -> Result<&'a [u8], ClaimError> {
        Reader::new(self.value)
            .bytes()
            .map_err(|_| ClaimError::Type(self.key))
    }

    /// The value as a byte string of exactly `len` bytes.
    pub(crate) fn bytes_of(&self, len: usize) -> Result<&'a [u8], ClaimError> {
        let v = self.bytes()?;
        if v.len() == len {
            Ok(v)
        } else {
            Err(ClaimError::Value(self.key))
        }
    }

    /// The value as a text string.
    pub(crate) fn text(&self) -> Result<&'a str, ClaimError> {
        Reader::new(self.value)
            .text()
            .map_err(|_| ClaimError::Type(self.key))
    }

    /// The value as an unsigned integer.
    pub(crate) fn uint(&self) -> Result<u64, ClaimError> {
        Reader::new(self.value)
            .uint()
            .map_err(|_| ClaimError::Type(self.key))
    }
}

/// Reads one claim label: an integer or a text string.
fn label<'a>(r: &mut Reader<'a>) -> Result<Label<'a>, CborError> {
    match r.peek_major() {
        Some(TSTR) => r.text().map(Label::Text),
        _ => r.int().map(Label::Int),
    }
}

/// Reads a claims map: at most [`MAX_CLAIMS`] labels, none twice, the whole input.
pub(crate) fn read_claims<'a>(
    payload: &'a [u8],
    out: &mut [Option<RawClaim<'a>>; MAX_CLAIMS],
) -> Result<usize, ClaimError> {
    let mut r = Reader::new(payload);
    let n = r.map()?;
    if n > MAX_CLAIMS {
        return Err(ClaimError::TooMany);
    }
    for i in 0..n {
        let label = label(&mut r)?;
        let value = r.item()?;
        if out[..i].iter().flatten().any(|c| c.label == label) {
            return Err(match label {
                Label::Int(k) => ClaimError::Duplicate(k),
                Label::Text(_) => ClaimError::DuplicateText,
            });
        }
        out[i] = Some(RawClaim { label, value });
    }
    r.finish()?;
    Ok(n)
}

/// Iterates the claims whose labels are not known integer keys, in token order.
#[derive(Clone, Debug)]
pub struct UnknownClaims<'a> {
    reader: Reader<'a>,
    left: usize,
    known: &'static [i64],
}

impl<'a> UnknownClaims<'a> {
    pub(crate) fn new(payload: &'a [u8], known: &'static [i64]) -> Self {
        let mut reader = Reader::new(payload);
        let left = reader.map().unwrap_or(0);
        Self {
            reader,
            left,
            known,
        }
    }
}

impl<'a> Iterator for UnknownClaims<'a> {
    type Item = RawClaim<'a>;

    fn next(&mut self) -> Option<RawClaim<'a>> {
        while self.left > 0 {
            self.left -= 1;
            // The map was validated when the token was parsed.
            let label = label(&mut self.reader).ok()?;
            let value = self.reader.item().ok()?;
            if !matches!(label, Label::Int(k) if self.known.contains(&k)) {
                return Some(RawClaim { label, value });
            }
        }
        None
    }
}

/// Looks up a claim by integer key in a claims table.
pub(crate) fn find<'a>(claims: &[Option<RawClaim<'a>>], key: i64) -> Option<Claim<'a>> {
    claims
        .iter()
        .flatten()
        .find(|c| c.label == Label::Int(key))
        .map(|c| Claim {
            key,
            value: c.value,
        })
}

/// Looks up a mandatory claim.
pub(crate) fn require<'a>(
    claims: &[Option<RawClaim<'a>>],
    key: i64,
) -> Result<Claim<'a>, ClaimError> {
    find(claims, key).ok_or(ClaimError::Missing(key))
}

/// Digest length of a hash algorithm named as in the tokens ("sha-256", ...).
#[must_use]
pub fn digest_len(name: &str) -> Option<usize> {
    match name {
        "sha-256" => Some(32),
        "sha-384" => Some(48),
        "sha-512" => Some(64),
        _ => None,
    }
}
