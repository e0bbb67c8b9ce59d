//! The encrypted model container (`QMC1`): how the model travels on the host's disk.
//!
//! All integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `"QMC1"` |
//! | 1 | version, 1 |
//! | 3 | reserved, 0 |
//! | 16 | model ID: ASCII, padded with zero bytes |
//! | 4 | model version |
//! | 4 | plaintext length `n`, at most [`crate::model::MAX_MODEL_SIZE`] |
//! | 12 | AES-GCM nonce |
//! | 4 | reserved, 0 |
//! | `n` | ciphertext (AES-256-GCM) |
//! | 16 | tag |
//!
//! The additional data GCM authenticates is the 48-byte header, so the model ID, its version
//! and the length cannot be changed without the tag failing.
//!
//! # The key
//!
//! The key is never stored: [`model_key`] derives it from the key the key broker releases
//! to the realm (`realm_sdk::broker`, policy `RimRpv`: HKDF-SHA-384 of the broker's master
//! secret with the realm's RIM and RPV, `realm_sdk::seal::derive_key`), as
//! HKDF-SHA-384(salt `"realm-inference/model-key/v1"`, key material the released key, info
//! the 16-byte model ID). The broker releases that key only to a realm whose token verifies
//! against its trust anchors, passes its appraisal and whose RIM (and RPV) its allow-list
//! names: only the image the model's owner approved can derive the model key. The owner,
//! who runs the broker, encrypts the model for an approved image with the same derivation
//! from the broker's master secret. A realm of another image gets another released key and
//! the tag fails ([`ContainerError::Tampered`]).

use core::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha384;
use zeroize::{Zeroize, Zeroizing};

use crate::model::MAX_MODEL_SIZE;

/// The container's magic.
pub const MAGIC: [u8; 4] = *b"QMC1";
/// The container format version.
pub const VERSION: u8 = 1;
/// Bytes of the header.
pub const HEADER_SIZE: usize = 48;
/// Bytes of the GCM tag.
pub const TAG_SIZE: usize = 16;
/// Bytes of a model ID.
pub const MODEL_ID_SIZE: usize = 16;
/// The HKDF salt of [`model_key`].
pub const MODEL_KEY_SALT: &[u8] = b"realm-inference/model-key/v1";
/// The largest container: the largest model, its header and tag.
pub const MAX_CONTAINER_SIZE: usize = HEADER_SIZE + MAX_MODEL_SIZE + TAG_SIZE;

/// The container's header.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Header {
    /// The model ID (ASCII, zero-padded).
    pub model_id: [u8; MODEL_ID_SIZE],
    /// The model's version.
    pub model_version: u32,
    /// Bytes of the plaintext model.
    pub len: usize,
    /// The AES-GCM nonce.
    pub nonce: [u8; 12],
}

/// Why a container was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ContainerError {
    /// Shorter than its header, or than the length its header gives.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// Longer than the length its header gives.
    TrailingBytes {
        /// Bytes the header calls for.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// Not [`MAGIC`].
    Magic,
    /// Another version of the format.
    Version(u8),
    /// Reserved bytes that are not zero.
    Reserved,
    /// A plaintext length over [`MAX_MODEL_SIZE`].
    TooLong(u32),
    /// The model is not the one asked for.
    ModelId {
        /// The ID in the container.
        found: [u8; MODEL_ID_SIZE],
    },
    /// Authentication failed: another key (another realm image, another broker), or the
    /// container was changed.
    Tampered,
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

/// Writes a model ID as text: its ASCII up to the padding, other bytes as `\xNN`.
struct Id<'a>(&'a [u8; MODEL_ID_SIZE]);

impl fmt::Display for Id<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.0.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        for &b in &self.0[..end] {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { needed, got } => write!(
                f,
                "the model container is truncated: {needed} bytes needed, {got} given"
            ),
            Self::TrailingBytes { expected, got } => write!(
                f,
                "the model container has {got} bytes where its header calls for {expected}"
            ),
            Self::Magic => f.write_str("not a model container (its magic is not \"QMC1\")"),
            Self::Version(v) => write!(
                f,
                "model container version {v}; this reader knows version {VERSION}"
            ),
            Self::Reserved => f.write_str("the model container's reserved bytes are not zero"),
            Self::TooLong(n) => write!(
                f,
                "the model container announces {n} bytes of model, over the limit of {MAX_MODEL_SIZE}"
            ),
            Self::ModelId { found } => {
                write!(f, "the container holds model \"{}\", not the one expected", Id(&found))
            }
            Self::Tampered => f.write_str(
                "the model does not decrypt: another key (not the image the owner approved) or a changed container",
            ),
            Self::BufferTooSmall { needed } => {
                write!(f, "the buffer is too small for the container ({needed} bytes needed)")
            }
        }
    }
}

impl core::error::Error for ContainerError {}

/// A model ID from text (at most 16 bytes; longer text is cut).
#[must_use]
pub fn model_id(name: &str) -> [u8; MODEL_ID_SIZE] {
    let mut id = [0u8; MODEL_ID_SIZE];
    let n = name.len().min(MODEL_ID_SIZE);
    id[..n].copy_from_slice(&name.as_bytes()[..n]);
    id
}

/// The model key for `model_id` from the key the broker released (module documentation).
#[must_use]
pub fn model_key(released: &[u8; 32], model_id: &[u8; MODEL_ID_SIZE]) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes are far below HKDF-SHA-384's output limit, so `expand` cannot fail.
    let _ = Hkdf::<Sha384>::new(Some(MODEL_KEY_SALT), released).expand(model_id, &mut *key);
    key
}

impl Header {
    /// Encodes the header.
    #[must_use]
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        h[..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        h[8..24].copy_from_slice(&self.model_id);
        h[24..28].copy_from_slice(&self.model_version.to_le_bytes());
        #[allow(clippy::cast_possible_truncation, reason = "at most MAX_MODEL_SIZE")]
        h[28..32].copy_from_slice(&(self.len as u32).to_le_bytes());
        h[32..44].copy_from_slice(&self.nonce);
        h
    }

    /// Parses the header of `container` and checks its length against it.
    ///
    /// # Errors
    ///
    /// The [`ContainerError`] of the first field at fault.
    pub fn parse(container: &[u8]) -> Result<Self, ContainerError> {
        let got = container.len();
        let h = container
            .get(..HEADER_SIZE)
            .ok_or(ContainerError::Truncated {
                needed: HEADER_SIZE,
                got,
            })?;
        if h[..4] != MAGIC {
            return Err(ContainerError::Magic);
        }
        if h[4] != VERSION {
            return Err(ContainerError::Version(h[4]));
        }
        if h[5..8] != [0; 3] || h[44..48] != [0; 4] {
            return Err(ContainerError::Reserved);
        }
        let len = u32::from_le_bytes([h[28], h[29], h[30], h[31]]);
        if len as usize > MAX_MODEL_SIZE {
            return Err(ContainerError::TooLong(len));
        }
        let len = len as usize;
        let expected = HEADER_SIZE + len + TAG_SIZE;
        if got < expected {
            return Err(ContainerError::Truncated {
                needed: expected,
                got,
            });
        }
        if got > expected {
            return Err(ContainerError::TrailingBytes { expected, got });
        }
        let mut model_id = [0u8; MODEL_ID_SIZE];
        model_id.copy_from_slice(&h[8..24]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&h[32..44]);
        Ok(Self {
            model_id,
            model_version: u32::from_le_bytes([h[24], h[25], h[26], h[27]]),
            len,
            nonce,
        })
    }
}

/// Decrypts `container` in place with the key [`model_key`] derives from `released`, after
/// checking that it holds `model_id`; returns the header and the plaintext (inside
/// `container`).
///
/// # Errors
///
/// The header's [`ContainerError`], [`ContainerError::ModelId`], or
/// [`ContainerError::Tampered`] (the ciphertext is then zeroized).
pub fn open<'c>(
    released: &[u8; 32],
    model_id: &[u8; MODEL_ID_SIZE],
    container: &'c mut [u8],
) -> Result<(Header, &'c [u8]), ContainerError> {
    let header = Header::parse(container)?;
    if header.model_id != *model_id {
        return Err(ContainerError::ModelId {
            found: header.model_id,
        });
    }
    let key = model_key(released, model_id);
    let (aad, rest) = container.split_at_mut(HEADER_SIZE);
    let (body, tag) = rest.split_at_mut(header.len);
    let tag: [u8; TAG_SIZE] = (&*tag).try_into().map_err(|_| ContainerError::Truncated {
        needed: HEADER_SIZE + header.len + TAG_SIZE,
        got: HEADER_SIZE + header.len,
    })?;
    let cipher = Aes256Gcm::new((&*key).into());
    if cipher
        .decrypt_inout_detached(
            (&header.nonce).into(),
            aad,
            (&mut *body).into(),
            (&tag).into(),
        )
        .is_err()
    {
        body.zeroize();
        return Err(ContainerError::Tampered);
    }
    Ok((header, body))
}

/// Encrypts `model` into `out` for the realm whose released key is `released` (the model's
/// owner calls it on the host; module documentation); returns the container, a prefix of
/// `out`. `nonce` must never repeat under one key: draw it at random.
///
/// # Errors
///
/// [`ContainerError::TooLong`] for a model over [`MAX_MODEL_SIZE`],
/// [`ContainerError::BufferTooSmall`] if `out` cannot hold the container.
pub fn seal<'o>(
    released: &[u8; 32],
    model_id: &[u8; MODEL_ID_SIZE],
    model_version: u32,
    nonce: [u8; 12],
    model: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], ContainerError> {
    if model.len() > MAX_MODEL_SIZE {
        return Err(ContainerError::TooLong(
            u32::try_from(model.len()).unwrap_or(u32::MAX),
        ));
    }
    let total = HEADER_SIZE + model.len() + TAG_SIZE;
    let out = out
        .get_mut(..total)
        .ok_or(ContainerError::BufferTooSmall { needed: total })?;
    let header = Header {
        model_id: *model_id,
        model_version,
        len: model.len(),
        nonce,
    }
    .encode();
    let (aad, rest) = out.split_at_mut(HEADER_SIZE);
    aad.copy_from_slice(&header);
    let (body, tag_out) = rest.split_at_mut(model.len());
    body.copy_from_slice(model);
    let key = model_key(released, model_id);
    let cipher = Aes256Gcm::new((&*key).into());
    let tag = cipher
        .encrypt_inout_detached((&nonce).into(), aad, body.into())
        .map_err(|_| ContainerError::TooLong(u32::MAX))?;
    tag_out.copy_from_slice(&tag);
    Ok(out)
}
