//! The encrypted model container (`QMC1`): how the model travels on the host's disk,
//! readable by the realm images its owner approved and by no other.
//!
//! The model is encrypted once with a random data key; the data key is wrapped for each
//! approved identity (a *recipient*: one RIM and RPV, say the same image under RMI 1.0 and
//! RMI 2.0, or an old and a new release). All integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `"QMC1"` |
//! | 1 | version, 1 |
//! | 1 | recipient count `r`, 1 to [`MAX_RECIPIENTS`] |
//! | 2 | reserved, 0 |
//! | 16 | model ID: ASCII, padded with zero bytes |
//! | 4 | model version |
//! | 4 | plaintext length `n`, at most [`crate::model::MAX_MODEL_SIZE`] |
//! | 12 | AES-GCM nonce of the model |
//! | 4 | reserved, 0 |
//! | 68 × `r` | recipients: key ID (8) ‖ AES-GCM nonce (12) ‖ wrapped data key (32) ‖ tag (16) |
//! | `n` | the model, AES-256-GCM under the data key |
//! | 16 | its tag |
//!
//! A recipient's data key is wrapped with AES-256-GCM under its model key
//! ([`model_key`]), with the 48-byte header and the recipient's key ID as additional data.
//! The model's additional data is the header and every recipient record, so the model ID,
//! its version, the length and the recipient list cannot be changed without a tag failing.
//!
//! # The keys
//!
//! No key is stored: [`model_key`] derives a recipient's key from the key the key broker
//! releases to the realm (`realm_sdk::broker`, policy `RimRpv`: HKDF-SHA-384 of the
//! broker's master secret with the realm's RIM and RPV, `realm_sdk::seal::derive_key`):
//! HKDF-SHA-384 with salt `"realm-inference/model-key/v1"`, the released key as input key
//! material, and info the 16-byte model ID for the key, `"key id"` ‖ model ID for the
//! 8-byte key ID. The broker releases that key only to a realm whose token verifies against
//! its trust anchors, passes its appraisal and whose RIM (and RPV) its allow-list names, so
//! only an approved image derives a recipient's key. The owner, who runs the broker, makes
//! the container from the broker's master secret with the same derivation ([`seal`]). A
//! realm of another image finds no recipient of its key ([`ContainerError::NotARecipient`]).

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
/// Bytes of a recipient record.
pub const RECIPIENT_SIZE: usize = 68;
/// The most recipients a container may have.
pub const MAX_RECIPIENTS: usize = 8;
/// Bytes of a GCM tag.
pub const TAG_SIZE: usize = 16;
/// Bytes of a model ID.
pub const MODEL_ID_SIZE: usize = 16;
/// Bytes of a key ID.
pub const KEY_ID_SIZE: usize = 8;
/// The HKDF salt of [`model_key`].
pub const MODEL_KEY_SALT: &[u8] = b"realm-inference/model-key/v1";
/// The largest container: the largest model, every recipient, the header and the tag.
pub const MAX_CONTAINER_SIZE: usize =
    HEADER_SIZE + MAX_RECIPIENTS * RECIPIENT_SIZE + MAX_MODEL_SIZE + TAG_SIZE;

/// The container's header.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Header {
    /// Number of recipients.
    pub recipients: usize,
    /// The model ID (ASCII, zero-padded).
    pub model_id: [u8; MODEL_ID_SIZE],
    /// The model's version.
    pub model_version: u32,
    /// Bytes of the plaintext model.
    pub len: usize,
    /// The model's AES-GCM nonce.
    pub nonce: [u8; 12],
}

/// Why a container was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ContainerError {
    /// Shorter than its header, or than the lengths its header gives.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// Longer than the lengths its header gives.
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
    /// A recipient count of 0 or over [`MAX_RECIPIENTS`].
    Recipients(u8),
    /// A plaintext length over [`MAX_MODEL_SIZE`].
    TooLong(u32),
    /// The model is not the one asked for.
    ModelId {
        /// The ID in the container.
        found: [u8; MODEL_ID_SIZE],
    },
    /// No recipient has this realm's key ID: the model was not encrypted for this realm's
    /// identity (not an approved image, or another broker).
    NotARecipient,
    /// Authentication failed: the container was changed.
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
            Self::Recipients(n) => write!(
                f,
                "the model container has {n} recipients; 1 to {MAX_RECIPIENTS} are accepted"
            ),
            Self::TooLong(n) => write!(
                f,
                "the model container announces {n} bytes of model, over the limit of {MAX_MODEL_SIZE}"
            ),
            Self::ModelId { found } => write!(
                f,
                "the container holds model \"{}\", not the one expected",
                Id(&found)
            ),
            Self::NotARecipient => f.write_str(
                "the model is not encrypted for this realm: no recipient has its key (not an approved image, or another broker)",
            ),
            Self::Tampered => f.write_str("the model container was changed: a tag does not verify"),
            Self::BufferTooSmall { needed } => write!(
                f,
                "the buffer is too small for the container ({needed} bytes needed)"
            ),
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

/// A recipient's model key for `model_id` and its key ID, from the key the broker released
/// (module documentation).
#[must_use]
pub fn model_key(
    released: &[u8; 32],
    model_id: &[u8; MODEL_ID_SIZE],
) -> (Zeroizing<[u8; 32]>, [u8; KEY_ID_SIZE]) {
    let hkdf = Hkdf::<Sha384>::new(Some(MODEL_KEY_SALT), released);
    let mut key = Zeroizing::new([0u8; 32]);
    let mut id = [0u8; KEY_ID_SIZE];
    // 32 and 8 bytes are far below HKDF-SHA-384's output limit: `expand` cannot fail.
    let _ = hkdf.expand(model_id, &mut *key);
    let _ = hkdf.expand_multi_info(&[b"key id", model_id], &mut id);
    (key, id)
}

impl Header {
    /// Encodes the header.
    #[must_use]
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        h[..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        #[allow(clippy::cast_possible_truncation, reason = "at most MAX_RECIPIENTS")]
        {
            h[5] = self.recipients as u8;
        }
        h[8..24].copy_from_slice(&self.model_id);
        h[24..28].copy_from_slice(&self.model_version.to_le_bytes());
        #[allow(clippy::cast_possible_truncation, reason = "at most MAX_MODEL_SIZE")]
        h[28..32].copy_from_slice(&(self.len as u32).to_le_bytes());
        h[32..44].copy_from_slice(&self.nonce);
        h
    }

    /// Bytes of the whole container this header describes.
    #[must_use]
    pub fn container_len(&self) -> usize {
        HEADER_SIZE + self.recipients * RECIPIENT_SIZE + self.len + TAG_SIZE
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
        if h[6..8] != [0; 2] || h[44..48] != [0; 4] {
            return Err(ContainerError::Reserved);
        }
        if h[5] == 0 || usize::from(h[5]) > MAX_RECIPIENTS {
            return Err(ContainerError::Recipients(h[5]));
        }
        let len = u32::from_le_bytes([h[28], h[29], h[30], h[31]]);
        if len as usize > MAX_MODEL_SIZE {
            return Err(ContainerError::TooLong(len));
        }
        let mut model_id = [0u8; MODEL_ID_SIZE];
        model_id.copy_from_slice(&h[8..24]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&h[32..44]);
        let header = Self {
            recipients: usize::from(h[5]),
            model_id,
            model_version: u32::from_le_bytes([h[24], h[25], h[26], h[27]]),
            len: len as usize,
            nonce,
        };
        let expected = header.container_len();
        if got < expected {
            return Err(ContainerError::Truncated {
                needed: expected,
                got,
            });
        }
        if got > expected {
            return Err(ContainerError::TrailingBytes { expected, got });
        }
        Ok(header)
    }
}

/// The additional data of a recipient's wrap: the header and its key ID.
fn wrap_aad(header: &[u8], key_id: &[u8]) -> [u8; HEADER_SIZE + KEY_ID_SIZE] {
    let mut aad = [0u8; HEADER_SIZE + KEY_ID_SIZE];
    aad[..HEADER_SIZE].copy_from_slice(header);
    aad[HEADER_SIZE..].copy_from_slice(key_id);
    aad
}

/// Decrypts `container` in place for the realm whose released key is `released`, after
/// checking that it holds `model_id`; returns the header and the plaintext (inside
/// `container`).
///
/// # Errors
///
/// The header's [`ContainerError`], [`ContainerError::ModelId`],
/// [`ContainerError::NotARecipient`], or [`ContainerError::Tampered`] (the ciphertext is
/// then zeroized).
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
    let (key, key_id) = model_key(released, model_id);
    let records_end = HEADER_SIZE + header.recipients * RECIPIENT_SIZE;
    let (aad, rest) = container.split_at_mut(records_end);
    let record = aad[HEADER_SIZE..]
        .chunks_exact(RECIPIENT_SIZE)
        .find(|r| r[..KEY_ID_SIZE] == key_id)
        .ok_or(ContainerError::NotARecipient)?;
    let mut data_key = Zeroizing::new([0u8; 32]);
    data_key.copy_from_slice(&record[20..52]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&record[8..20]);
    let mut tag = [0u8; TAG_SIZE];
    tag.copy_from_slice(&record[52..68]);
    Aes256Gcm::new((&*key).into())
        .decrypt_inout_detached(
            (&nonce).into(),
            &wrap_aad(&aad[..HEADER_SIZE], &key_id),
            (&mut data_key[..]).into(),
            (&tag).into(),
        )
        .map_err(|_| ContainerError::Tampered)?;
    let (body, tag) = rest.split_at_mut(header.len);
    let mut tag_arr = [0u8; TAG_SIZE];
    tag_arr.copy_from_slice(tag);
    if Aes256Gcm::new((&*data_key).into())
        .decrypt_inout_detached(
            (&header.nonce).into(),
            aad,
            (&mut *body).into(),
            (&tag_arr).into(),
        )
        .is_err()
    {
        body.zeroize();
        return Err(ContainerError::Tampered);
    }
    Ok((header, body))
}

/// Encrypts `model` into `out` for every realm whose released key is in `recipients` (the
/// model's owner calls it on the host; module documentation); returns the container, a
/// prefix of `out`. `random` fills the data key and the nonces: give it a cryptographic
/// generator.
///
/// # Errors
///
/// [`ContainerError::Recipients`] for no or too many recipients,
/// [`ContainerError::TooLong`] for a model over [`MAX_MODEL_SIZE`],
/// [`ContainerError::BufferTooSmall`] if `out` cannot hold the container.
pub fn seal<'o>(
    recipients: &[&[u8; 32]],
    model_id: &[u8; MODEL_ID_SIZE],
    model_version: u32,
    model: &[u8],
    random: &mut dyn FnMut(&mut [u8]),
    out: &'o mut [u8],
) -> Result<&'o [u8], ContainerError> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(ContainerError::Recipients(
            u8::try_from(recipients.len()).unwrap_or(u8::MAX),
        ));
    }
    if model.len() > MAX_MODEL_SIZE {
        return Err(ContainerError::TooLong(
            u32::try_from(model.len()).unwrap_or(u32::MAX),
        ));
    }
    let mut nonce = [0u8; 12];
    random(&mut nonce);
    let header = Header {
        recipients: recipients.len(),
        model_id: *model_id,
        model_version,
        len: model.len(),
        nonce,
    };
    let total = header.container_len();
    let out = out
        .get_mut(..total)
        .ok_or(ContainerError::BufferTooSmall { needed: total })?;
    let encoded = header.encode();
    let records_end = HEADER_SIZE + recipients.len() * RECIPIENT_SIZE;
    let (aad, rest) = out.split_at_mut(records_end);
    aad[..HEADER_SIZE].copy_from_slice(&encoded);
    let mut data_key = Zeroizing::new([0u8; 32]);
    random(&mut *data_key);
    for (released, record) in recipients
        .iter()
        .zip(aad[HEADER_SIZE..].chunks_exact_mut(RECIPIENT_SIZE))
    {
        let (key, key_id) = model_key(released, model_id);
        record[..KEY_ID_SIZE].copy_from_slice(&key_id);
        let mut wrap_nonce = [0u8; 12];
        random(&mut wrap_nonce);
        record[8..20].copy_from_slice(&wrap_nonce);
        record[20..52].copy_from_slice(&*data_key);
        let tag = Aes256Gcm::new((&*key).into())
            .encrypt_inout_detached(
                (&wrap_nonce).into(),
                &wrap_aad(&encoded, &key_id),
                (&mut record[20..52]).into(),
            )
            .map_err(|_| ContainerError::TooLong(u32::MAX))?;
        record[52..68].copy_from_slice(&tag);
    }
    let (body, tag_out) = rest.split_at_mut(model.len());
    body.copy_from_slice(model);
    let tag = Aes256Gcm::new((&*data_key).into())
        .encrypt_inout_detached((&nonce).into(), aad, body.into())
        .map_err(|_| ContainerError::TooLong(u32::MAX))?;
    tag_out.copy_from_slice(&tag);
    Ok(out)
}
