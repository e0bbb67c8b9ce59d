//! Attestation-gated key release: the protocol between a realm and its key broker.
//!
//! A relying party (the broker) releases a realm's sealing key only after verifying the
//! realm's attestation token, and only to that realm. Everything travels through the host,
//! which may read, drop, replay, reorder or forge any message. Version 2 of the protocol:
//!
//! 1. the broker hands out a single-use 32-byte nonce `N`;
//! 2. the realm makes an ephemeral P-384 key pair `(e, E)` and asks the RMM for a token
//!    whose challenge is [`cca_abi::challenge::key_release`]`(N, policy, E, B)`, where `B`
//!    is the broker's long-term public key, built into the realm's image (so the RIM pins
//!    which broker the realm trusts) and `policy` the identity the key is asked for;
//! 3. the realm sends the [`Request`]: `N`, `policy`, `E` and the token;
//! 4. the broker checks that it issued `N` and has not seen it since, verifies and appraises
//!    the token, recomputes the challenge from `N`, `policy`, `E` and its own `B`, derives
//!    the sealing key for `policy` from its master secret and the identity in the token, and
//!    answers with a [`Response`]: a fresh ephemeral key `F` and the sealing key encrypted
//!    with AES-256-GCM under `W`:
//!    - `T = SHA-384("realm-sdk/key-release/v2/transcript" ‖ 0 ‖ N ‖ policy ‖ E ‖ B ‖ F)`,
//!    - `W = HKDF-SHA-384(salt T, ikm ECDH(b, E) ‖ ECDH(f, E), info
//!      "realm-sdk/key-release/v2/wrap" ‖ policy)`,
//!    - additional data `"RKR2" ‖ T ‖ policy`;
//! 5. the realm checks the response's version and policy, recomputes `T` and `W` with `e`,
//!    `B` and `F`, and decrypts; a tag that does not verify means the answer is not the
//!    broker's, or not for this exchange.
//!
//! What the host can and cannot do: it sees `N`, `E`, the token and `F`. It cannot compute
//! `W` (that needs `b`, the broker's secret, or `e`, which never leaves the realm), so it
//! can neither read the key nor make the realm accept a key of its choosing; it cannot move
//! a token to another exchange, another realm key, another policy or another broker (they
//! are all in the challenge the RMM signed); it cannot replay a response (`T` covers `N`
//! and `E`, fresh per exchange) nor a request (`N` is single-use). It can always refuse to
//! relay: key release is not available against a host that will not carry messages.

use core::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use cca_abi::challenge;
use hkdf::Hkdf;
use p384::elliptic_curve::sec1::ToSec1Point;
use sha2::{Digest, Sha384};
use zeroize::Zeroizing;

use crate::attest::{Challenge, TokenError};
use crate::seal::{Policy, SealingKey, SealingKeyProvider, provider};
use crate::{Conduit, Realm};

/// The protocol version this module speaks.
pub const VERSION: u8 = 2;
/// Bytes of a broker nonce.
pub const NONCE_SIZE: usize = challenge::NONCE_SIZE;
/// Bytes of an uncompressed P-384 public key.
pub const PUBLIC_KEY_SIZE: usize = challenge::P384_PUBLIC_KEY_SIZE;
/// Magic of a request: `"RKB"` and the version as an ASCII digit.
pub const REQUEST_MAGIC: [u8; 4] = *b"RKB2";
/// Magic of a response: `"RKR"` and the version as an ASCII digit.
pub const RESPONSE_MAGIC: [u8; 4] = *b"RKR2";
/// Bytes of the fixed part of a request, before the token.
pub const REQUEST_HEADER_SIZE: usize = 4 + NONCE_SIZE + 1 + PUBLIC_KEY_SIZE + 2;
/// Bytes of a response: magic, policy, broker ephemeral key, GCM nonce, wrapped key, tag.
pub const RESPONSE_SIZE: usize = 4 + 1 + PUBLIC_KEY_SIZE + 12 + 32 + 16;
/// Domain tag of the transcript hash `T`.
pub const TRANSCRIPT_DOMAIN: &[u8] = b"realm-sdk/key-release/v2/transcript";
/// HKDF info of the wrapping key (the policy byte follows it).
pub const WRAP_INFO: &[u8] = b"realm-sdk/key-release/v2/wrap";

/// Why the protocol failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum BrokerError {
    /// No entropy for the ephemeral key.
    Entropy,
    /// A message does not have the protocol's form.
    Malformed,
    /// A message of another version of the protocol (its version digit).
    UnsupportedVersion(u8),
    /// A public key is not a valid P-384 point.
    BadPublicKey,
    /// The response is for another policy than the one asked for.
    PolicyMismatch {
        /// The policy the realm asked for.
        asked: Policy,
        /// The policy byte the response names.
        answered: u8,
    },
    /// The wrapped key did not decrypt: the response is not the pinned broker's answer to
    /// this exchange (forged, altered or replayed).
    Unwrap,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entropy => f.write_str("no entropy for the ephemeral key"),
            Self::Malformed => f.write_str("malformed key broker message"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "key broker message of protocol version {v}; this realm speaks version {VERSION}"
            ),
            Self::BadPublicKey => f.write_str("invalid P-384 public key"),
            Self::PolicyMismatch { asked, answered } => write!(
                f,
                "the response is for policy {answered:#04x}, not the {asked} asked for"
            ),
            Self::Unwrap => f.write_str(
                "the released key does not decrypt: the response is not the pinned broker's \
                 answer to this exchange",
            ),
            Self::BufferTooSmall => f.write_str("buffer too small"),
        }
    }
}

impl core::error::Error for BrokerError {}

/// Randomness for ephemeral keys.
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError>;
}

/// The public key of a key broker, as a realm pins it: a valid P-384 point.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct BrokerPublicKey {
    bytes: [u8; PUBLIC_KEY_SIZE],
    point: p384::PublicKey,
}

impl BrokerPublicKey {
    /// The key from its SEC1 uncompressed encoding (97 bytes, first byte 0x04).
    ///
    /// # Errors
    ///
    /// [`BrokerError::BadPublicKey`] for anything else, or a point not on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, BrokerError> {
        let bytes: [u8; PUBLIC_KEY_SIZE] =
            bytes.try_into().map_err(|_| BrokerError::BadPublicKey)?;
        let point =
            p384::PublicKey::from_sec1_bytes(&bytes).map_err(|_| BrokerError::BadPublicKey)?;
        Ok(Self { bytes, point })
    }

    /// The SEC1 uncompressed encoding.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.bytes
    }
}

/// A P-384 key pair: the realm's ephemeral key, the broker's ephemeral key, or the broker's
/// long-term identity. The secret is zeroized when dropped.
pub struct EphemeralKey {
    secret: p384::SecretKey,
    point: p384::PublicKey,
    public: [u8; PUBLIC_KEY_SIZE],
}

/// The broker's long-term key pair (its public half is the [`BrokerPublicKey`] realms pin).
pub type BrokerIdentity = EphemeralKey;

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

    /// The key pair of a known secret.
    #[must_use]
    pub fn from_secret(secret: p384::SecretKey) -> Self {
        let point = secret.public_key();
        let mut public = [0u8; PUBLIC_KEY_SIZE];
        public.copy_from_slice(point.to_sec1_point(false).as_bytes());
        Self {
            secret,
            point,
            public,
        }
    }

    /// The public key, SEC1 uncompressed.
    #[must_use]
    pub fn public(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.public
    }

    /// The public key as a realm pins it.
    #[must_use]
    pub fn broker_public_key(&self) -> BrokerPublicKey {
        BrokerPublicKey {
            bytes: self.public,
            point: self.point,
        }
    }

    /// ECDH with `peer`: the shared x-coordinate, zeroized when dropped.
    fn agree(&self, peer: &p384::PublicKey) -> Zeroizing<[u8; 48]> {
        let shared = p384::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        let mut out = Zeroizing::new([0u8; 48]);
        out.copy_from_slice(shared.raw_secret_bytes());
        out
    }

    /// The broker's side: the [`Response`] that releases `key` for `request`, with this
    /// key pair as the broker's identity `b`, `ephemeral` as its fresh key `f` and
    /// `gcm_nonce` fresh too.
    ///
    /// # Errors
    ///
    /// [`BrokerError::BadPublicKey`] if the realm's key is not a valid point.
    pub fn respond(
        &self,
        request: &Request<'_>,
        ephemeral: &EphemeralKey,
        gcm_nonce: [u8; 12],
        key: &[u8; 32],
    ) -> Result<[u8; RESPONSE_SIZE], BrokerError> {
        let realm = p384::PublicKey::from_sec1_bytes(&request.public_key)
            .map_err(|_| BrokerError::BadPublicKey)?;
        let exchange = Exchange {
            nonce: &request.nonce,
            policy: request.policy,
            realm_key: &request.public_key,
            broker_key: &self.public,
            broker_ephemeral: &ephemeral.public,
        };
        let wrap = exchange.wrapping_key(&self.agree(&realm), &ephemeral.agree(&realm));
        let mut body = Zeroizing::new(*key);
        let tag = Aes256Gcm::new((&*wrap).into())
            .encrypt_inout_detached(
                (&gcm_nonce).into(),
                &exchange.aad(),
                body.as_mut_slice().into(),
            )
            .map_err(|_| BrokerError::Malformed)?;
        Ok(Response {
            policy: request.policy.to_byte(),
            broker_ephemeral: ephemeral.public,
            gcm_nonce,
            wrapped: *body,
            tag: tag.into(),
        }
        .encode())
    }

    /// The realm's side: opens the `response` of `broker` to the exchange of `nonce`, in
    /// which this key pair was the realm's ephemeral key and `policy` was asked for.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Malformed`] or [`BrokerError::UnsupportedVersion`] for a response not
    /// of this protocol, [`BrokerError::PolicyMismatch`] for one about another policy,
    /// [`BrokerError::BadPublicKey`] for an invalid broker ephemeral key, and
    /// [`BrokerError::Unwrap`] for anything not made by the broker for this exchange.
    pub fn open(
        &self,
        broker: &BrokerPublicKey,
        nonce: &[u8; NONCE_SIZE],
        policy: Policy,
        response: &[u8],
    ) -> Result<SealingKey, BrokerError> {
        let response = Response::decode(response)?;
        if response.policy != policy.to_byte() {
            return Err(BrokerError::PolicyMismatch {
                asked: policy,
                answered: response.policy,
            });
        }
        let ephemeral = p384::PublicKey::from_sec1_bytes(&response.broker_ephemeral)
            .map_err(|_| BrokerError::BadPublicKey)?;
        let exchange = Exchange {
            nonce,
            policy,
            realm_key: &self.public,
            broker_key: broker.as_bytes(),
            broker_ephemeral: &response.broker_ephemeral,
        };
        let wrap = exchange.wrapping_key(&self.agree(&broker.point), &self.agree(&ephemeral));
        let mut key = Zeroizing::new(response.wrapped);
        Aes256Gcm::new((&*wrap).into())
            .decrypt_inout_detached(
                (&response.gcm_nonce).into(),
                &exchange.aad(),
                key.as_mut_slice().into(),
                (&response.tag).into(),
            )
            .map_err(|_| BrokerError::Unwrap)?;
        Ok(SealingKey::new(*key))
    }
}

/// The public values of one exchange, from which both sides compute the transcript hash,
/// the wrapping key and the additional data.
struct Exchange<'a> {
    nonce: &'a [u8; NONCE_SIZE],
    policy: Policy,
    realm_key: &'a [u8; PUBLIC_KEY_SIZE],
    broker_key: &'a [u8; PUBLIC_KEY_SIZE],
    broker_ephemeral: &'a [u8; PUBLIC_KEY_SIZE],
}

impl Exchange<'_> {
    /// `T`.
    fn transcript(&self) -> [u8; 48] {
        let mut h = Sha384::new();
        h.update(TRANSCRIPT_DOMAIN);
        h.update([0]);
        h.update(self.nonce);
        h.update([self.policy.to_byte()]);
        h.update(self.realm_key);
        h.update(self.broker_key);
        h.update(self.broker_ephemeral);
        h.finalize().into()
    }

    /// `W`, from the static (`es`) and ephemeral (`ee`) shared secrets.
    fn wrapping_key(&self, es: &[u8; 48], ee: &[u8; 48]) -> Zeroizing<[u8; 32]> {
        let mut ikm = Zeroizing::new([0u8; 96]);
        ikm[..48].copy_from_slice(es);
        ikm[48..].copy_from_slice(ee);
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA-384's limit of 255 × 48: this cannot fail.
        let _ = Hkdf::<Sha384>::new(Some(&self.transcript()), &*ikm)
            .expand_multi_info(&[WRAP_INFO, &[self.policy.to_byte()]], &mut *key);
        key
    }

    /// The additional data: response magic, `T` and the policy.
    fn aad(&self) -> [u8; 4 + 48 + 1] {
        let mut aad = [0u8; 4 + 48 + 1];
        aad[..4].copy_from_slice(&RESPONSE_MAGIC);
        aad[4..52].copy_from_slice(&self.transcript());
        aad[52] = self.policy.to_byte();
        aad
    }
}

/// Checks a message's magic: `prefix`, then the version digit.
fn check_magic(bytes: &[u8], magic: &[u8; 4]) -> Result<(), BrokerError> {
    let m = bytes.get(..4).ok_or(BrokerError::Malformed)?;
    if m[..3] != magic[..3] {
        return Err(BrokerError::Malformed);
    }
    if m[3] != magic[3] {
        return Err(match m[3] {
            d @ b'0'..=b'9' => BrokerError::UnsupportedVersion(d - b'0'),
            _ => BrokerError::Malformed,
        });
    }
    Ok(())
}

/// A release request:
/// `"RKB2" ‖ nonce (32) ‖ policy (1) ‖ realm public key (97) ‖ token length (u16 LE) ‖ token`.
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

impl<'a> Request<'a> {
    /// The challenge the token must carry if the request is for the broker whose public
    /// key is `broker`.
    #[must_use]
    pub fn challenge(&self, broker: &[u8; PUBLIC_KEY_SIZE]) -> [u8; challenge::CHALLENGE_SIZE] {
        challenge::key_release(&self.nonce, self.policy.to_byte(), &self.public_key, broker)
    }

    /// Encodes the request into `out`.
    ///
    /// # Errors
    ///
    /// [`BrokerError::BufferTooSmall`], or [`BrokerError::Malformed`] for a token over 64 KiB.
    pub fn encode<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8], BrokerError> {
        let len = u16::try_from(self.token.len()).map_err(|_| BrokerError::Malformed)?;
        let total = REQUEST_HEADER_SIZE + self.token.len();
        let out = out.get_mut(..total).ok_or(BrokerError::BufferTooSmall)?;
        out[..4].copy_from_slice(&REQUEST_MAGIC);
        out[4..36].copy_from_slice(&self.nonce);
        out[36] = self.policy.to_byte();
        out[37..134].copy_from_slice(&self.public_key);
        out[134..136].copy_from_slice(&len.to_le_bytes());
        out[136..].copy_from_slice(self.token);
        Ok(out)
    }

    /// Decodes a request. The public key is taken as bytes; the broker checks it is a
    /// point when it answers.
    ///
    /// # Errors
    ///
    /// [`BrokerError::UnsupportedVersion`] for a request of another protocol version,
    /// [`BrokerError::Malformed`] for anything else that is not a request.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, BrokerError> {
        check_magic(bytes, &REQUEST_MAGIC)?;
        let bad = BrokerError::Malformed;
        let h = bytes.get(..REQUEST_HEADER_SIZE).ok_or(bad)?;
        let mut nonce = [0u8; NONCE_SIZE];
        nonce.copy_from_slice(&h[4..36]);
        let policy = Policy::from_byte(h[36]).ok_or(bad)?;
        let mut public_key = [0u8; PUBLIC_KEY_SIZE];
        public_key.copy_from_slice(&h[37..134]);
        let len = usize::from(u16::from_le_bytes([h[134], h[135]]));
        let token = &bytes[REQUEST_HEADER_SIZE..];
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

/// A response: `"RKR2" ‖ policy (1) ‖ broker ephemeral key (97) ‖ GCM nonce (12) ‖
/// wrapped key (32) ‖ tag (16)`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Response {
    /// The policy byte the key was derived for.
    pub policy: u8,
    /// The broker's ephemeral public key `F`.
    pub broker_ephemeral: [u8; PUBLIC_KEY_SIZE],
    /// The GCM nonce.
    pub gcm_nonce: [u8; 12],
    /// The sealing key, encrypted under `W`.
    pub wrapped: [u8; 32],
    /// The GCM tag.
    pub tag: [u8; 16],
}

impl Response {
    /// The encoded response.
    #[must_use]
    pub fn encode(&self) -> [u8; RESPONSE_SIZE] {
        let mut out = [0u8; RESPONSE_SIZE];
        out[..4].copy_from_slice(&RESPONSE_MAGIC);
        out[4] = self.policy;
        out[5..102].copy_from_slice(&self.broker_ephemeral);
        out[102..114].copy_from_slice(&self.gcm_nonce);
        out[114..146].copy_from_slice(&self.wrapped);
        out[146..].copy_from_slice(&self.tag);
        out
    }

    /// Decodes a response (nothing is checked but its form).
    ///
    /// # Errors
    ///
    /// [`BrokerError::UnsupportedVersion`] for a response of another protocol version,
    /// [`BrokerError::Malformed`] for anything else that is not a response.
    pub fn decode(bytes: &[u8]) -> Result<Self, BrokerError> {
        check_magic(bytes, &RESPONSE_MAGIC)?;
        let b: &[u8; RESPONSE_SIZE] = bytes.try_into().map_err(|_| BrokerError::Malformed)?;
        let mut r = Self {
            policy: b[4],
            broker_ephemeral: [0; PUBLIC_KEY_SIZE],
            gcm_nonce: [0; 12],
            wrapped: [0; 32],
            tag: [0; 16],
        };
        r.broker_ephemeral.copy_from_slice(&b[5..102]);
        r.gcm_nonce.copy_from_slice(&b[102..114]);
        r.wrapped.copy_from_slice(&b[114..146]);
        r.tag.copy_from_slice(&b[146..]);
        Ok(r)
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
    broker: BrokerPublicKey,
    token: &'r mut [u8],
    request: &'r mut [u8],
}

impl<'r, C: Conduit, T: Transport, E: Entropy> KeyBrokerProvider<'r, C, T, E> {
    /// A provider for `realm` that trusts only the broker whose public key is `broker`
    /// (build it into the image, so that the RIM pins it), with buffers for the token (the
    /// RMM's upper bound, 4096 bytes for TF-RMM) and the request (the token plus
    /// [`REQUEST_HEADER_SIZE`] bytes).
    pub fn new(
        realm: &'r mut Realm<C>,
        transport: T,
        entropy: E,
        broker: BrokerPublicKey,
        token: &'r mut [u8],
        request: &'r mut [u8],
    ) -> Self {
        Self {
            realm,
            transport,
            entropy,
            broker,
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
        let challenge = Challenge::key_release(
            &nonce,
            policy.to_byte(),
            ephemeral.public(),
            self.broker.as_bytes(),
        );
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
            .open(&self.broker, &nonce, policy, &response)
            .map_err(ProviderError::Protocol)
    }
}
