//! Walking a claims map: integer keys, each once, values borrowed.

use crate::cbor::{CborError, Reader};

/// Most claims a claims map may hold.
pub const MAX_CLAIMS: usize = 32;

/// Why a claim is not acceptable.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ClaimError {
    /// The claims are not a CBOR map of integer keys (or the CBOR is bad).
    Cbor(CborError),
    /// More than [`MAX_CLAIMS`] claims.
    TooMany,
    /// A claim appears twice.
    Duplicate(i64),
    /// A claim has the wrong CBOR type.
    Type(i64),
    /// A claim has a value the profile does not allow (a length, a range, a name).
    Value(i64),
    /// A mandatory claim is missing.
    Missing(i64),
}

impl From<CborError> for ClaimError {
    fn from(e: CborError) -> Self {
        Self::Cbor(e)
    }
}

/// One claim: its key and the encoding of its value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RawClaim<'a> {
    /// The claim key.
    pub key: i64,
    /// The CBOR encoding of the value.
    pub value: &'a [u8],
}

impl<'a> RawClaim<'a> {
    /// The value as a byte string.
    pub fn bytes(&self) -> Result<&'a [u8], ClaimError> {
        let mut r = Reader::new(self.value);
        let v = r.bytes().map_err(|_| ClaimError::Type(self.key))?;
        Ok(v)
    }

    /// The value as a byte string of exactly `len` bytes.
    pub fn bytes_of(&self, len: usize) -> Result<&'a [u8], ClaimError> {
        let v = self.bytes()?;
        if v.len() == len {
            Ok(v)
        } else {
            Err(ClaimError::Value(self.key))
        }
    }

    /// The value as a text string.
    pub fn text(&self) -> Result<&'a str, ClaimError> {
        Reader::new(self.value)
            .text()
            .map_err(|_| ClaimError::Type(self.key))
    }

    /// The value as an unsigned integer.
    pub fn uint(&self) -> Result<u64, ClaimError> {
        Reader::new(self.value)
            .uint()
            .map_err(|_| ClaimError::Type(self.key))
    }
}

/// Reads a claims map: at most [`MAX_CLAIMS`] integer keys, none twice, the whole input.
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
        let key = r.int()?;
        let value = r.item()?;
        if out[..i].iter().flatten().any(|c| c.key == key) {
            return Err(ClaimError::Duplicate(key));
        }
        out[i] = Some(RawClaim { key, value });
    }
    r.finish()?;
    Ok(n)
}

/// Iterates the claims whose keys are not in `known`.
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
            let key = self.reader.int().ok()?;
            let value = self.reader.item().ok()?;
            if !self.known.contains(&key) {
                return Some(RawClaim { key, value });
            }
        }
        None
    }
}

/// Looks up a claim in a claims table.
pub(crate) fn find<'a>(claims: &[Option<RawClaim<'a>>], key: i64) -> Option<RawClaim<'a>> {
    claims.iter().flatten().find(|c| c.key == key).copied()
}

/// Looks up a mandatory claim.
pub(crate) fn require<'a>(
    claims: &[Option<RawClaim<'a>>],
    key: i64,
) -> Result<RawClaim<'a>, ClaimError> {
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
