//! Attestation-gated key release: the realm's side of the key broker protocol.
//!
//! A relying party (the broker) releases a realm's sealing key only after verifying the
//! realm's attestation token. The protocol binds the token to this exchange and to a key
//! only the realm holds:
//!
//! 1. the broker hands out a single-use 32-byte nonce (through the untrusted host);
//! 2. the realm makes an ephemeral P-384 key pair and asks the RMM for a token whose
//!    challenge is `SHA-512("realm-sdk key broker v1" ‖ nonce ‖ ephemeral public key)`;
//! 3. the realm sends the [`Request`]: nonce, policy, its ephemeral public key and the token;
//! 4. the broker verifies the token (trust anchors, expected RIM/RPV), recomputes the
//!    challenge from the nonce it issued and the public key sent, derives the realm's
//!    sealing key from its master secret and the identity in the token, and returns it
//!    encrypted to the realm's ephemeral key: ECDH P-384 with a broker ephemeral key,
//!    HKDF-SHA-384 (salt: the nonce; info: "realm-sdk key broker wrap v1"), AES-256-GCM
//!    with the nonce and the realm's public key as additional data ([`Response`]).
//!
//! The host sees everything but can neither read the key nor replay a release: the nonce is
//! single-use and the key is encrypted to a key that never leaves the realm.

use core::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use p384::elliptic_curve::sec1::ToSec1Point;
use sha2::{Digest, Sha384, Sha512};
use zeroize::Zeroizing;

use crate::attest::TokenError;
use crate::seal::{Policy, SealingKey, SealingKeyProvider, provider};
use crate::{Conduit, Realm};

/// Bytes of a broker nonce.
pub const NONCE_SIZE: usize = 32;
/// Bytes of an uncompressed P-384 public key.
pub const PUBLIC_KEY_SIZE: usize = 97;
/// Magic of a request.
pub const REQUEST_MAGIC: [u8; 4] = *b"RKB1";
/// Bytes of a response: broker public key, GCM nonce, wrapped key, tag.
pub const RESPONSE_SIZE: usize = PUBLIC_KEY_SIZE + 12 + 32 + 16;
/// HKDF info of the wrapping key.
pub const WRAP_INFO: &[u8] = b"realm-sdk key broker wrap v1";
/// Domain separation of the token challenge.
pub const CHALLENGE_DOMAIN: &[u8] = b"realm-sdk key broker v1";

/// The token challenge for `nonce` and the realm's ephemeral `public_key`.
#[must_use]
pub fn challenge(nonce: &[u8; NONCE_SIZE], public_key: &[u8; PUBLIC_KEY_SIZE]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(CHALLENGE_DOMAIN);
    h.update(nonce);
    h.update(public_key);
    h.finalize().into()
}

/// Why the protocol failed on the realm's side.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum BrokerError {
    /// No entropy for the ephemeral key.
    Entropy,
    /// A message does not have the protocol's form.
    Malformed,
    /// The broker's public key is not a valid P-384 point.
    BadPublicKey,
    /// The wrapped key did not decrypt: not for this realm's key, or altered.
    Unwrap,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Entropy => "no entropy for the ephemeral key",
            Self::Malformed => "malformed key broker message",
            Self::BadPublicKey => "invalid broker public key",
            Self::Unwrap => "the released key does not decrypt",
            Self::BufferTooSmall => "buffer too small",
        })
    }
}

impl core::error::Error for BrokerError {}

/// Randomness for ephemeral keys.
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError>;
}

/// A P-384 key pair used for one release; the secret is zeroized when dropped.
pub struct EphemeralKey {
    secret: p384::SecretKey,
    public: [u8; PUBLIC_KEY_SIZE],
}

impl EphemeralKey {
    /// A fresh key pair from `entropy`.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Entropy`] if `entropy` fails or keeps producing invalid scalars.
    pub fn generate(entropy: &mut impl Entropy) -> Result<Self, BrokerError> {
        for _ in 0..8 {
            let mut bytes = Zeroizing::new([0u8; 48]);
            entropy.fill(&mut *bytes)?;
            if let Ok(secret) = p384::SecretKey::from_slice(&*bytes) {
                return Ok(Self::from_secret(secret));
            }
        }
        Err(BrokerError::Entropy)
    }

    /// The key pair of a known secret (the broker derives its own this way).
    #[must_use]
    pub fn from_secret(secret: p384::SecretKey) -> Self {
        let mut public = [0u8; PUBLIC_KEY_SIZE];
        public.copy_from_slice(secret.public_key().to_sec1_point(false).as_bytes());
        Self { secret, public }
    }

    /// The public key, SEC1 uncompressed.
    #[must_use]
    pub fn public(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.public
    }

    /// The AES-256-GCM key shared with `peer` for the exchange of `nonce`.
    fn wrapping_key(
        &self,
        peer: &[u8],
        nonce: &[u8; NONCE_SIZE],
    ) -> Result<Zeroizing<[u8; 32]>, BrokerError> {
        let peer = p384::PublicKey::from_sec1_bytes(peer).map_err(|_| BrokerError::BadPublicKey)?;
        let shared = p384::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha384>::new(Some(nonce), shared.raw_secret_bytes())
            .expand(WRAP_INFO, &mut *key)
            .map_err(|_| BrokerError::Unwrap)?;
        Ok(key)
    }

    /// Wraps `key` for the realm whose ephemeral public key is `realm_public` (the broker's
    /// side): the [`Response`] bytes.
    ///
    /// # Errors
    ///
    /// [`BrokerError::BadPublicKey`] for an invalid realm key.
    pub fn wrap(
        &self,
        realm_public: &[u8; PUBLIC_KEY_SIZE],
        nonce: &[u8; NONCE_SIZE],
        gcm_nonce: [u8; 12],
        key: &[u8; 32],
    ) -> Result<[u8; RESPONSE_SIZE], BrokerError> {
        let wrap = self.wrapping_key(realm_public, nonce)?;
        let mut out = [0u8; RESPONSE_SIZE];
        out[..PUBLIC_KEY_SIZE].copy_from_slice(&self.public);
        out[PUBLIC_KEY_SIZE..PUBLIC_KEY_SIZE + 12].copy_from_slice(&gcm_nonce);
        let body = &mut out[PUBLIC_KEY_SIZE + 12..PUBLIC_KEY_SIZE + 12 + 32];
        body.copy_from_slice(key);
        let aad = wrap_aad(nonce, realm_public);
        let tag = Aes256Gcm::new((&*wrap).into())
            .encrypt_inout_detached((&gcm_nonce).into(), &aad, body.into())
            .map_err(|_| BrokerError::Unwrap)?;
        out[RESPONSE_SIZE - 16..].copy_from_slice(&tag);
        Ok(out)
    }

    /// Unwraps the sealing key in a broker `response` to the exchange of `nonce`.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Malformed`], [`BrokerError::BadPublicKey`] or
    /// [`BrokerError::Unwrap`].
    pub fn unwrap(
        &self,
        nonce: &[u8; NONCE_SIZE],
        response: &[u8],
    ) -> Result<SealingKey, BrokerError> {
        if response.len() != RESPONSE_SIZE {
            return Err(BrokerError::Malformed);
        }
        let wrap = self.wrapping_key(&response[..PUBLIC_KEY_SIZE], nonce)?;
        let mut gcm_nonce = [0u8; 12];
        gcm_nonce.copy_from_slice(&response[PUBLIC_KEY_SIZE..PUBLIC_KEY_SIZE + 12]);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&response[PUBLIC_KEY_SIZE + 12..PUBLIC_KEY_SIZE + 44]);
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&response[PUBLIC_KEY_SIZE + 44..]);
        let aad = wrap_aad(nonce, &self.public);
        Aes256Gcm::new((&*wrap).into())
            .decrypt_inout_detached(
                (&gcm_nonce).into(),
                &aad,
                key.as_mut_slice().into(),
                (&tag).into(),
            )
            .map_err(|_| BrokerError::Unwrap)?;
        Ok(SealingKey::new(*key))
    }
}

fn wrap_aad(
    nonce: &[u8; NONCE_SIZE],
    realm_public: &[u8; PUBLIC_KEY_SIZE],
) -> [u8; NONCE_SIZE + PUBLIC_KEY_SIZE] {
    let mut aad = [0u8; NONCE_SIZE + PUBLIC_KEY_SIZE];
    aad[..NONCE_SIZE].copy_from_slice(nonce);
    aad[NONCE_SIZE..].copy_from_slice(realm_public);
    aad
}

/// A release request: `"RKB1" ‖ nonce ‖ policy ‖ public key ‖ token length (u16 LE) ‖ token`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Request<'a> {
    /// The broker's nonce.
    pub nonce: [u8; NONCE_SIZE],
    /// The identity policy the realm asks its key for.
    pub policy: Policy,
    /// The realm's ephemeral public key.
    pub public_key: [u8; PUBLIC_KEY_SIZE],
    /// The attestation token.
    pub token: &'a [u8],
}

const REQUEST_HEADER: usize = 4 + NONCE_SIZE + 1 + PUBLIC_KEY_SIZE + 2;

impl<'a> Request<'a> {
    /// Encodes the request into `out`.
    ///
    /// # Errors
    ///
    /// [`BrokerError::BufferTooSmall`], or [`BrokerError::Malformed`] for a token over 64 KiB.
    pub fn encode<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8], BrokerError> {
        let len = u16::try_from(self.token.len()).map_err(|_| BrokerError::Malformed)?;
        let total = REQUEST_HEADER + self.token.len();
        let out = out.get_mut(..total).ok_or(BrokerError::BufferTooSmall)?;
        out[..4].copy_from_slice(&REQUEST_MAGIC);
        out[4..36].copy_from_slice(&self.nonce);
        out[36] = self.policy.to_byte();
        out[37..134].copy_from_slice(&self.public_key);
        out[134..136].copy_from_slice(&len.to_le_bytes());
        out[136..].copy_from_slice(self.token);
        Ok(out)
    }

    /// Decodes a request.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Malformed`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, BrokerError> {
        let bad = BrokerError::Malformed;
        let h = bytes.get(..REQUEST_HEADER).ok_or(bad)?;
        if h[..4] != REQUEST_MAGIC {
            return Err(bad);
        }
        let mut nonce = [0u8; NONCE_SIZE];
        nonce.copy_from_slice(&h[4..36]);
        let policy = Policy::from_byte(h[36]).ok_or(bad)?;
        let mut public_key = [0u8; PUBLIC_KEY_SIZE];
        public_key.copy_from_slice(&h[37..134]);
        let len = usize::from(u16::from_le_bytes([h[134], h[135]]));
        let token = &bytes[REQUEST_HEADER..];
        if token.len() != len {
            return Err(bad);
        }
        Ok(Self {
            nonce,
            policy,
            public_key,
            token,
        })
    }
}

/// How the realm reaches the broker: through the untrusted host.
pub trait Transport {
    /// Why the exchange failed.
    type Error: fmt::Debug;
    /// A fresh nonce from the broker; `conduit` reaches the RMM (for host calls).
    fn nonce(&mut self, conduit: &mut dyn Conduit) -> Result<[u8; NONCE_SIZE], Self::Error>;
    /// Sends a request; the broker's response lands in `response`.
    fn release(
        &mut self,
        conduit: &mut dyn Conduit,
        request: &[u8],
        response: &mut [u8; RESPONSE_SIZE],
    ) -> Result<(), Self::Error>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;

    fn nonce(&mut self, conduit: &mut dyn Conduit) -> Result<[u8; NONCE_SIZE], Self::Error> {
        (**self).nonce(conduit)
    }

    fn release(
        &mut self,
        conduit: &mut dyn Conduit,
        request: &[u8],
        response: &mut [u8; RESPONSE_SIZE],
    ) -> Result<(), Self::Error> {
        (**self).release(conduit, request, response)
    }
}

/// Why [`KeyBrokerProvider`] could not get a key.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ProviderError<T> {
    /// The transport failed (or the broker refused; the transport says which).
    Transport(T),
    /// The RMM did not give a token.
    Token(TokenError),
    /// The protocol failed on the realm's side.
    Protocol(BrokerError),
}

impl<T: fmt::Display> fmt::Display for ProviderError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "key broker: {e}"),
            Self::Token(e) => write!(f, "attestation token: {e}"),
            Self::Protocol(e) => write!(f, "key release: {e}"),
        }
    }
}

impl<T: fmt::Display + fmt::Debug> core::error::Error for ProviderError<T> {}

/// The default [`SealingKeyProvider`]: keys released by a key broker after attestation.
/// Works on any RMM.
pub struct KeyBrokerProvider<'r, C: Conduit, T: Transport, E: Entropy> {
    realm: &'r mut Realm<C>,
    transport: T,
    entropy: E,
    token: &'r mut [u8],
    request: &'r mut [u8],
}

impl<'r, C: Conduit, T: Transport, E: Entropy> KeyBrokerProvider<'r, C, T, E> {
    /// A provider for `realm`, with buffers for the token (the RMM's upper bound, 4096 bytes
    /// for TF-RMM) and the request (the token plus 136 bytes).
    pub fn new(
        realm: &'r mut Realm<C>,
        transport: T,
        entropy: E,
        token: &'r mut [u8],
        request: &'r mut [u8],
    ) -> Self {
        Self {
            realm,
            transport,
            entropy,
            token,
            request,
        }
    }
}

impl<C: Conduit, T: Transport, E: Entropy> SealingKeyProvider for KeyBrokerProvider<'_, C, T, E> {
    const PROVIDER: u8 = provider::KEY_BROKER;
    type Error = ProviderError<T::Error>;

    fn sealing_key(&mut self, policy: Policy) -> Result<SealingKey, Self::Error> {
        let nonce = self
            .transport
            .nonce(self.realm.conduit())
            .map_err(ProviderError::Transport)?;
        let ephemeral =
            EphemeralKey::generate(&mut self.entropy).map_err(ProviderError::Protocol)?;
        let challenge = challenge(&nonce, ephemeral.public());
        let token = self
            .realm
            .attestation_token(&challenge, self.token)
            .map_err(ProviderError::Token)?;
        let request = Request {
            nonce,
            policy,
            public_key: *ephemeral.public(),
            token,
        }
        .encode(self.request)
        .map_err(ProviderError::Protocol)?;
        let mut response = [0u8; RESPONSE_SIZE];
        self.transport
            .release(self.realm.conduit(), request, &mut response)
            .map_err(ProviderError::Transport)?;
        ephemeral
            .unwrap(&nonce, &response)
            .map_err(ProviderError::Protocol)
    }
}
