//! Sealing: encrypting data so that only the same realm identity can decrypt it later.
//!
//! The specification gives a realm no sealing key (no RSI call in RMM 1.0 or 1.1 hands one
//! out), so keys come from a [`SealingKeyProvider`]. Data is sealed with AES-256-GCM under a
//! key the provider derives for the realm's identity as the [`Policy`] selects it, into a
//! versioned blob whose header names the policy, the provider and the key (by an ID derived
//! from it, not the key itself) and is authenticated with the data.
//!
//! # Blob format (version 1)
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `"RSB1"` |
//! | 1 | version (1) |
//! | 1 | [`Policy`] |
//! | 1 | provider ([`SealingKeyProvider::PROVIDER`]) |
//! | 1 | reserved, 0 |
//! | 8 | key ID: 8 bytes of HKDF-SHA-384(salt none, ikm key, info "realm-sdk key id") |
//! | 12 | AES-GCM nonce |
//! | 4 | ciphertext length, little-endian |
//! | n | ciphertext |
//! | 16 | AES-GCM tag |
//!
//! The additional data GCM authenticates is the 32-byte header followed by SHA-256 of the
//! caller's additional data (so any length of it binds, without a heap).
//!
//! Keys and plaintext copies the module makes are zeroized when dropped.

use core::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use cca_abi::measurement::Measurement;
use cca_abi::rsi::RPV_SIZE;
use hkdf::Hkdf;
use sha2::Sha384;
use zeroize::{Zeroize, Zeroizing};

/// Bytes of the blob header.
pub const HEADER_SIZE: usize = 32;
/// Bytes of the GCM tag.
pub const TAG_SIZE: usize = 16;
/// The blob's magic.
pub const MAGIC: [u8; 4] = *b"RSB1";
/// The blob format version.
pub const VERSION: u8 = 1;

/// Which part of the realm's identity a key is bound to.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Policy {
    /// The RIM and the RPV: the initial image and configuration, and the host's
    /// personalization.
    RimRpv,
    /// The RIM, the RPV and the four REMs at the time the key is requested: also what the
    /// realm measured into its REMs.
    RimRpvRems,
}

impl Policy {
    /// The byte in the blob header.
    #[must_use]
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::RimRpv => 1,
            Self::RimRpvRems => 2,
        }
    }

    /// From the byte in the blob header.
    #[must_use]
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::RimRpv),
            2 => Some(Self::RimRpvRems),
            _ => None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RimRpv => "rim+rpv",
            Self::RimRpvRems => "rim+rpv+rems",
        })
    }
}

/// A 256-bit sealing key; zeroized when dropped.
pub struct SealingKey {
    key: Zeroizing<[u8; 32]>,
    id: [u8; 8],
}

impl SealingKey {
    /// Wraps key bytes and derives the key ID.
    #[must_use]
    pub fn new(key: [u8; 32]) -> Self {
        let key = Zeroizing::new(key);
        let mut id = [0u8; 8];
        // 8 bytes are far below HKDF-SHA-384's output limit, so expand cannot fail.
        let _ = Hkdf::<Sha384>::new(None, &*key).expand(b"realm-sdk key id", &mut id);
        Self { key, id }
    }

    /// The key bytes, for a provider that has to transport the key (the key broker wraps
    /// it for the realm). Sealing code never needs them.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.key
    }

    /// The key ID written in blobs sealed with this key.
    #[must_use]
    pub const fn id(&self) -> [u8; 8] {
        self.id
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKey {{ id: {:02x?} }}", self.id)
    }
}

/// The identity a key is derived from: what the realm's attestation token shows.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Identity<'a> {
    /// The RIM.
    pub rim: &'a Measurement,
    /// The Realm Personalization Value.
    pub rpv: &'a [u8; RPV_SIZE],
    /// REM\[0\] to REM\[3\].
    pub rems: &'a [Measurement; 4],
}

impl Identity<'_> {
    /// The HKDF `info` that binds a key to this identity under `policy`:
    /// `"realm-sdk sealing v1" ‖ policy ‖ RIM ‖ RPV [‖ REM0..3]`; returns its length.
    pub fn info(&self, policy: Policy, out: &mut [u8; 21 + 64 + 64 + 4 * 64]) -> usize {
        let mut n = 0;
        let mut put = |b: &[u8]| {
            out[n..n + b.len()].copy_from_slice(b);
            n += b.len();
        };
        put(b"realm-sdk sealing v1");
        put(&[policy.to_byte()]);
        put(self.rim.as_bytes());
        put(self.rpv);
        if policy == Policy::RimRpvRems {
            for rem in self.rems {
                put(rem.as_bytes());
            }
        }
        n
    }
}

/// Derives a sealing key for `identity` under `policy` from secret key material `root`:
/// HKDF-SHA-384 with `root` as input key material and [`Identity::info`] as info.
#[must_use]
pub fn derive_key(root: &[u8], identity: &Identity<'_>, policy: Policy) -> SealingKey {
    let mut info = [0u8; 21 + 64 + 64 + 4 * 64];
    let n = identity.info(policy, &mut info);
    let mut key = [0u8; 32];
    // 32 bytes are far below HKDF-SHA-384's output limit.
    let _ = Hkdf::<Sha384>::new(Some(b"realm-sdk sealing"), root).expand(&info[..n], &mut key);
    let sealing = SealingKey::new(key);
    key.zeroize();
    sealing
}

/// Where a realm's sealing keys come from.
pub trait SealingKeyProvider {
    /// The provider's byte in blob headers.
    const PROVIDER: u8;
    /// Why a key could not be had.
    type Error: fmt::Debug;
    /// The sealing key of this realm under `policy`.
    fn sealing_key(&mut self, policy: Policy) -> Result<SealingKey, Self::Error>;
}

/// Why sealing or unsealing failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SealError {
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// The data is too long for the blob format (4 GiB).
    TooLong,
    /// The blob is too short, or its length field disagrees with its size.
    Truncated,
    /// Not a sealed blob (bad magic).
    Magic,
    /// A blob version this code does not read.
    Version(u8),
    /// A policy this code does not know.
    Policy(u8),
    /// The blob was sealed by another provider.
    Provider(u8),
    /// The blob was sealed with another key (another identity, policy or provider secret).
    KeyMismatch,
    /// Authentication failed: the blob or the additional data was altered.
    Tampered,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            Self::TooLong => f.write_str("data too long to seal"),
            Self::Truncated => f.write_str("sealed blob truncated"),
            Self::Magic => f.write_str("not a sealed blob"),
            Self::Version(v) => write!(f, "sealed blob version {v} is not supported"),
            Self::Policy(p) => write!(f, "unknown sealing policy {p}"),
            Self::Provider(p) => write!(f, "blob sealed by provider {p}"),
            Self::KeyMismatch => f.write_str("blob sealed with another key"),
            Self::Tampered => f.write_str("sealed blob or its additional data was altered"),
        }
    }
}

impl core::error::Error for SealError {}

/// The header of a sealed blob.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Header {
    /// The policy the key follows.
    pub policy: Policy,
    /// The provider that gave the key.
    pub provider: u8,
    /// The key's ID.
    pub key_id: [u8; 8],
    /// The nonce.
    pub nonce: [u8; 12],
    /// Bytes of ciphertext.
    pub len: usize,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        h[..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        h[5] = self.policy.to_byte();
        h[6] = self.provider;
        h[8..16].copy_from_slice(&self.key_id);
        h[16..28].copy_from_slice(&self.nonce);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "checked against u32::MAX by seal"
        )]
        h[28..32].copy_from_slice(&(self.len as u32).to_le_bytes());
        h
    }

    /// Reads the header of `blob` and checks its size.
    ///
    /// # Errors
    ///
    /// [`SealError`] for anything but a well-formed version-1 blob.
    pub fn parse(blob: &[u8]) -> Result<Self, SealError> {
        let h = blob.get(..HEADER_SIZE).ok_or(SealError::Truncated)?;
        if h[..4] != MAGIC {
            return Err(SealError::Magic);
        }
        if h[4] != VERSION || h[7] != 0 {
            return Err(SealError::Version(h[4]));
        }
        let policy = Policy::from_byte(h[5]).ok_or(SealError::Policy(h[5]))?;
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&h[8..16]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&h[16..28]);
        let len = u32::from_le_bytes([h[28], h[29], h[30], h[31]]) as usize;
        if blob.len() != HEADER_SIZE + len + TAG_SIZE {
            return Err(SealError::Truncated);
        }
        Ok(Self {
            policy,
            provider: h[6],
            key_id,
            nonce,
            len,
        })
    }
}

/// Seals `plaintext` with `key` (from `provider` under `policy`) and a fresh `nonce` (never
/// reuse one with the same key), authenticating `aad` too; writes the blob into `out`.
///
/// # Errors
///
/// [`SealError::BufferTooSmall`] or [`SealError::TooLong`].
#[allow(
    clippy::too_many_arguments,
    reason = "each is a distinct input of the format"
)]
pub fn seal<'b>(
    key: &SealingKey,
    policy: Policy,
    provider: u8,
    nonce: [u8; 12],
    plaintext: &[u8],
    aad: &[u8],
    out: &'b mut [u8],
) -> Result<&'b [u8], SealError> {
    if u32::try_from(plaintext.len()).is_err() {
        return Err(SealError::TooLong);
    }
    let total = HEADER_SIZE + plaintext.len() + TAG_SIZE;
    let out = out
        .get_mut(..total)
        .ok_or(SealError::BufferTooSmall { needed: total })?;
    let header = Header {
        policy,
        provider,
        key_id: key.id,
        nonce,
        len: plaintext.len(),
    }
    .encode();
    out[..HEADER_SIZE].copy_from_slice(&header);
    let (body, tag_out) = out[HEADER_SIZE..].split_at_mut(plaintext.len());
    body.copy_from_slice(plaintext);
    let cipher = Aes256Gcm::new((&*key.key).into());
    let tag = cipher
        .encrypt_inout_detached((&nonce).into(), &gcm_aad(&header, aad), body.into())
        .map_err(|_| SealError::TooLong)?;
    tag_out.copy_from_slice(&tag);
    Ok(out)
}

/// Unseals `blob` with `key`, checking `aad`; writes the plaintext into `out`.
///
/// # Errors
///
/// [`SealError`]: the header's problem, [`SealError::KeyMismatch`] if another key sealed
/// it, [`SealError::Tampered`] if authentication fails (nothing is returned, and `out` is
/// zeroized).
pub fn unseal<'b>(
    key: &SealingKey,
    blob: &[u8],
    aad: &[u8],
    out: &'b mut [u8],
) -> Result<&'b [u8], SealError> {
    let h = Header::parse(blob)?;
    if h.key_id != key.id {
        return Err(SealError::KeyMismatch);
    }
    let out = out
        .get_mut(..h.len)
        .ok_or(SealError::BufferTooSmall { needed: h.len })?;
    out.copy_from_slice(&blob[HEADER_SIZE..HEADER_SIZE + h.len]);
    let mut tag = [0u8; TAG_SIZE];
    tag.copy_from_slice(&blob[HEADER_SIZE + h.len..]);
    let header: &[u8; HEADER_SIZE] = blob[..HEADER_SIZE]
        .try_into()
        .map_err(|_| SealError::Truncated)?;
    let cipher = Aes256Gcm::new((&*key.key).into());
    if cipher
        .decrypt_inout_detached(
            (&h.nonce).into(),
            &gcm_aad(header, aad),
            (&mut *out).into(),
            (&tag).into(),
        )
        .is_err()
    {
        out.zeroize();
        return Err(SealError::Tampered);
    }
    Ok(out)
}

/// The additional data GCM authenticates: the header, then SHA-256 of the caller's.
fn gcm_aad(header: &[u8; HEADER_SIZE], aad: &[u8]) -> [u8; HEADER_SIZE + 32] {
    use sha2::Digest;
    let mut out = [0u8; HEADER_SIZE + 32];
    out[..HEADER_SIZE].copy_from_slice(header);
    out[HEADER_SIZE..].copy_from_slice(&sha2::Sha256::digest(aad));
    out
}

/// Provider bytes in blob headers.
pub mod provider {
    /// The key broker: attestation-gated key release.
    pub const KEY_BROKER: u8 = 1;
    /// Islet's vendor RSI call.
    pub const ISLET: u8 = 2;
    /// `InsecureSimulatedProvider` (feature `insecure-simulated-sealing`).
    pub const INSECURE_SIMULATED: u8 = 0xf0;
}

/// **Insecure**, for tests and the simulator (feature `insecure-simulated-sealing`, off by
/// default so that no production build has it): derives keys from the realm's identity and a
/// root that is public (it is in this source file). Anyone who knows a realm's RIM and RPV
/// (every verifier of its token) can compute its keys. It exists so that sealing code runs
/// on the model and under the QEMU harness exactly as it would with a real provider.
#[derive(Clone, Debug)]
#[cfg(feature = "insecure-simulated-sealing")]
pub struct InsecureSimulatedProvider {
    rim: Measurement,
    rpv: [u8; RPV_SIZE],
    rems: [Measurement; 4],
}

#[cfg(feature = "insecure-simulated-sealing")]
/// The public root of [`InsecureSimulatedProvider`].
pub const INSECURE_SIMULATED_ROOT: &[u8] =
    b"realm-sdk INSECURE simulated sealing root: not a secret";

#[cfg(feature = "insecure-simulated-sealing")]
impl InsecureSimulatedProvider {
    /// A provider for the realm `realm` as it is now (RIM, RPV and current REMs).
    ///
    /// # Errors
    ///
    /// The RMM's refusal of `RSI_MEASUREMENT_READ`.
    pub fn new<C: crate::Conduit>(
        realm: &mut crate::Realm<C>,
    ) -> Result<Self, crate::rsi::RsiError> {
        Ok(Self {
            rim: realm.rim()?,
            rpv: *realm.personalization_value(),
            rems: realm.rems()?,
        })
    }
}

#[cfg(feature = "insecure-simulated-sealing")]
impl SealingKeyProvider for InsecureSimulatedProvider {
    const PROVIDER: u8 = provider::INSECURE_SIMULATED;
    type Error = core::convert::Infallible;

    fn sealing_key(&mut self, policy: Policy) -> Result<SealingKey, Self::Error> {
        let identity = Identity {
            rim: &self.rim,
            rpv: &self.rpv,
            rems: &self.rems,
        };
        Ok(derive_key(INSECURE_SIMULATED_ROOT, &identity, policy))
    }
}
