//! Trust anchors from JSON (feature `std`), in the format of veraison's `ta.json`: an array
//! of `{"implementation-id": HEX, "instance-id": HEX, "pkey": JWK}` with an EC JWK
//! (`kty` "EC", `crv` "P-256" / "P-384" / "P-521", base64url `x` and `y`).

use std::fmt;

use serde_json::Value;

use crate::{PublicKey, TrustAnchor};

/// Why anchors could not be loaded.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum AnchorError {
    /// Not JSON.
    Json(String),
    /// Entry `index` lacks a field or has a malformed one.
    Field {
        /// Position in the array.
        index: usize,
        /// The field.
        field: &'static str,
    },
    /// Entry `index`'s key is not a valid EC point of a supported curve.
    Key {
        /// Position in the array.
        index: usize,
    },
}

impl fmt::Display for AnchorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "trust anchors: {e}"),
            Self::Field { index, field } => {
                write!(f, "trust anchor {index}: bad or missing `{field}`")
            }
            Self::Key { index } => write!(f, "trust anchor {index}: invalid public key"),
        }
    }
}

impl std::error::Error for AnchorError {}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    // Only hex digits: `from_str_radix` alone would also take a sign ("+f").
    if s.len() != 2 * N || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Decodes unpadded base64url (RFC 4648 §5), as JWKs use it.
fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            #[allow(
                clippy::cast_possible_truncation,
                reason = "one byte of the accumulator"
            )]
            out.push((acc >> bits) as u8);
        }
    }
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// Parses trust anchors from JSON.
///
/// # Errors
///
/// [`AnchorError`] naming the entry and field at fault.
pub fn from_json(json: &str) -> Result<Vec<TrustAnchor>, AnchorError> {
    let v: Value = serde_json::from_str(json).map_err(|e| AnchorError::Json(e.to_string()))?;
    let entries = v
        .as_array()
        .ok_or(AnchorError::Json("not an array".into()))?;
    entries
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let field = |field: &'static str| AnchorError::Field { index, field };
            let text = |name: &'static str| e.get(name).and_then(Value::as_str).ok_or(field(name));
            let implementation_id =
                hex::<32>(text("implementation-id")?).ok_or(field("implementation-id"))?;
            let instance_id = hex::<33>(text("instance-id")?).ok_or(field("instance-id"))?;
            let pkey = e.get("pkey").ok_or(field("pkey"))?;
            let jwk =
                |name: &'static str| pkey.get(name).and_then(Value::as_str).ok_or(field(name));
            if jwk("kty")? != "EC" {
                return Err(field("kty"));
            }
            let size = match jwk("crv")? {
                "P-256" => 32,
                "P-384" => 48,
                "P-521" => 66,
                _ => return Err(field("crv")),
            };
            let x = base64url(jwk("x")?)
                .filter(|x| x.len() == size)
                .ok_or(field("x"))?;
            let y = base64url(jwk("y")?)
                .filter(|y| y.len() == size)
                .ok_or(field("y"))?;
            let key =
                PublicKey::from_coordinates(&x, &y).map_err(|_| AnchorError::Key { index })?;
            Ok(TrustAnchor {
                implementation_id,
                instance_id,
                key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 vectors, in the base64url alphabet without padding.
    #[test]
    fn base64url_vectors() {
        assert_eq!(base64url("").unwrap(), b"");
        assert_eq!(base64url("Zg").unwrap(), b"f");
        assert_eq!(base64url("Zm9v").unwrap(), b"foo");
        assert_eq!(base64url("Zm9vYmE").unwrap(), b"fooba");
        assert_eq!(base64url("_-8").unwrap(), [0xff, 0xef]);
        assert!(base64url("Zm9v=").is_none());
    }

    /// IDs are exactly their length in hex digits, nothing else.
    #[test]
    fn hex_ids() {
        assert_eq!(hex::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(hex::<2>("+a0f"), None);
        assert_eq!(hex::<2>("0a0"), None);
        assert_eq!(hex::<1>("é"), None);
    }
}
