//! The key broker: releases a realm's sealing key only to that realm, after verifying its
//! CCA attestation token (see `realm_sdk::broker` for the protocol).
//!
//! The broker holds a master secret. A realm's key is HKDF-SHA-384 of it with the identity
//! the token shows, as the policy selects (`realm_sdk::seal::derive_key`): the same image
//! and RPV get the same key on every run, another image another key. A [`BrokerConfig`]
//! names the trust anchors, the realms allowed (by RIM, optionally RPV) and the policies
//! ([`config`]).
//!
//! Nonces are issued to a [`Session`] (a connection) and can be spent only through it; the
//! [`nonces`] store bounds and expires them. [`ServerLimits`] sets those bounds and the
//! server's. Randomness comes from a ChaCha20 generator seeded once from the operating
//! system when the broker starts ([`Broker::new`]), so no request can fail for want of it.
//!
//! [`net`] puts the broker on the network (a framed protocol over TCP); the `key-broker`
//! binary serves a configuration file with it. `key-broker/broker.example.json` shows the
//! file's form; its master secret is a published example and must be replaced by 32 random
//! bytes of your own.
//!
//! # Example
//!
//! A realm gets its sealing key. The realm runs on the software RMM model (`rmm-model`,
//! whose tokens are signed with its published test keys, so the broker trusts them only
//! because this example says so), and the host that carries the messages is a direct call
//! instead of [`net`]'s TCP.
//!
//! ```
//! use std::sync::Arc;
//!
//! use key_broker::{AllowedRealm, Broker, BrokerConfig, OsRandom, Refusal, Session};
//! use realm_sdk::broker::{KeyBrokerProvider, REQUEST_HEADER_SIZE, RESPONSE_SIZE, Transport};
//! use realm_sdk::seal::{Policy, SealingKeyProvider};
//! use realm_sdk::{Conduit, HashAlgorithm, Realm};
//! use rmm_model::sim::Simulator;
//! use rmm_model::token::InsecureTestIssuer;
//! use zeroize::Zeroizing;
//!
//! // The broker: the platforms it trusts and the realms (by RIM) that get a key.
//! let rim = HashAlgorithm::Sha256.hash(&[b"the realm's image"]);
//! let broker = Arc::new(Broker::new(BrokerConfig {
//!     anchors: vec![InsecureTestIssuer::new().trust_anchor()],
//!     master_secret: Zeroizing::new([0x42; 32]), // 32 random bytes of your own
//!     allowed: vec![AllowedRealm { rim: rim.as_bytes().to_vec(), rpv: None }],
//!     policies: vec![Policy::RimRpv],
//!     appraisal: None,
//! })?);
//! let session = broker.session().expect("under the connection limit");
//!
//! /// The untrusted host: carries the realm's messages to the broker and back.
//! struct Direct<'s>(&'s Session);
//! impl Transport for Direct<'_> {
//!     type Error = Refusal;
//!     fn nonce(&mut self, _: &mut dyn Conduit) -> Result<[u8; 32], Refusal> {
//!         Ok(self.0.nonce())
//!     }
//!     fn release(
//!         &mut self,
//!         _: &mut dyn Conduit,
//!         request: &[u8],
//!         response: &mut [u8; RESPONSE_SIZE],
//!     ) -> Result<(), Refusal> {
//!         *response = self.0.release(request)?;
//!         Ok(())
//!     }
//! }
//!
//! // The realm, whose image pins the broker's public key.
//! let mut rmm = Simulator::with_issuer(
//!     rmm_model::RealmConfig { rim, ..Default::default() },
//!     Box::new(InsecureTestIssuer::new()),
//! );
//! let mut realm = Realm::new(&mut rmm)?;
//! let (mut token, mut request) = (vec![0; 4096], vec![0; 4096 + REQUEST_HEADER_SIZE]);
//! let pinned = broker.public_key();
//! let mut provider = KeyBrokerProvider::new(
//!     &mut realm, Direct(&session), OsRandom, pinned, &mut token, &mut request,
//! );
//! // The key for this realm's RIM and RPV, which `realm_sdk::seal` seals with.
//! let _key = provider.sealing_key(Policy::RimRpv)?;
//!
//! // What is not a request of the protocol is refused.
//! assert_eq!(session.release(b"hello").unwrap_err(), Refusal::Malformed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_token::appraisal::{Appraisal, PolicyFile};
use cca_token::{Policy as TokenPolicy, Token, VerifyError};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng, SeedableRng};
use hkdf::Hkdf;
use realm_sdk::broker::{
    BrokerError, BrokerIdentity, BrokerPublicKey, EphemeralKey, NONCE_SIZE, RESPONSE_SIZE, Request,
};
use realm_sdk::seal::{self, Identity};
use sha2::Sha384;
use zeroize::Zeroizing;

pub mod config;
pub mod net;
pub mod nonces;

pub use config::{AllowedRealm, BrokerConfig, ConfigError};
use nonces::{ConnectionId, NonceLimits, NonceStore};

/// Why the broker refused a release.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Refusal {
    /// The request is not in the protocol's form.
    Malformed,
    /// The request is of another version of the protocol (its version digit).
    Version(u8),
    /// The nonce was not issued by this broker on this connection, was already used, or
    /// has expired.
    StaleNonce,
    /// The token does not parse.
    Token(cca_token::ParseError),
    /// The token does not verify (signatures, binding, trust anchor).
    Verify(VerifyError),
    /// The token's challenge is not bound to this nonce, policy, ephemeral key and broker (a
    /// token made for another exchange or another broker, or a field substituted).
    Binding,
    /// The verified token fails the broker's appraisal (platform lifecycle, software
    /// components, algorithms, profiles, reference values: [`cca_token::appraisal`]).
    Appraisal {
        /// The key of the claim that failed.
        claim: i64,
        /// The sentence saying why, with the claim's value.
        reason: String,
    },
    /// The realm's RIM is not allowed.
    RimNotAllowed,
    /// The realm's RPV is not the one pinned for its RIM.
    RpvNotAllowed,
    /// The broker does not derive keys for this policy.
    PolicyNotAllowed,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed request"),
            Self::Version(v) => write!(
                f,
                "request of key release protocol version {v}; this broker speaks version {}",
                realm_sdk::broker::VERSION
            ),
            Self::StaleNonce => f.write_str("unknown or already used nonce"),
            Self::Token(e) => write!(f, "token: {e}"),
            Self::Verify(e) => write!(f, "token does not verify: {e}"),
            Self::Binding => f.write_str(
                "token is not bound to this request (nonce, policy, realm key) and this broker",
            ),
            Self::Appraisal { reason, .. } => write!(f, "token not accepted: {reason}"),
            Self::RimNotAllowed => f.write_str("RIM not allowed"),
            Self::RpvNotAllowed => f.write_str("RPV not allowed"),
            Self::PolicyNotAllowed => f.write_str("policy not allowed"),
        }
    }
}

impl std::error::Error for Refusal {}

/// A release the broker granted.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Grant {
    /// The response for the realm: its sealing key, wrapped for its ephemeral key.
    pub response: [u8; RESPONSE_SIZE],
    /// The RIM of the realm the key went to (for logs).
    pub rim: Vec<u8>,
}

/// The broker's and its server's limits. The defaults are the figures given on each field;
/// change some with `ServerLimits { idle_timeout: ..., ..ServerLimits::default() }`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ServerLimits {
    /// Sessions (connections) open at once; default 64. Over it the server accepts a new
    /// connection and closes it at once, unanswered ([`net::Event::Rejected`]), and
    /// [`Broker::session`] returns `None`. 0 counts as 1.
    pub max_connections: usize,
    /// Outstanding nonces per session; default 8. A session that asks for one more loses
    /// its oldest ([`nonces`]). 0 counts as 1. The broker never holds more than
    /// `max_connections × nonces_per_connection` nonces.
    pub nonces_per_connection: usize,
    /// How long a nonce can be spent after it is issued; default 120 s.
    pub nonce_ttl: Duration,
    /// How long the server waits for the next frame on a connection, from its last answer
    /// (or from the connection's start), before closing it; default 30 s.
    pub idle_timeout: Duration,
    /// How long a whole frame may take to arrive, from its first byte to its last, and how
    /// long writing an answer may take; default 5 s. Past it the server closes the
    /// connection.
    pub frame_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            nonces_per_connection: 8,
            nonce_ttl: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(30),
            frame_timeout: Duration::from_secs(5),
        }
    }
}

/// The operating system could not provide random bytes.
#[derive(Debug)]
pub struct RandomError(getrandom::Error);

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the operating system's random number source failed ({}), and the broker cannot run without one",
            self.0
        )
    }
}

impl std::error::Error for RandomError {}

impl From<RandomError> for std::io::Error {
    fn from(e: RandomError) -> Self {
        Self::other(e)
    }
}

/// Why a broker could not start.
#[derive(Debug)]
pub enum StartError {
    /// No randomness for its generator.
    Random(RandomError),
    /// Its configuration cannot be used.
    Config(ConfigError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Random(e) => e.fmt(f),
            Self::Config(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StartError {}

impl From<RandomError> for StartError {
    fn from(e: RandomError) -> Self {
        Self::Random(e)
    }
}

impl From<ConfigError> for StartError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

/// HKDF info of the broker's identity key.
pub const IDENTITY_INFO: &[u8] = b"realm-sdk/key-broker/identity/v2";

/// The broker's long-term key pair, derived from its master secret: rotating the secret
/// (which makes every sealed blob unopenable anyway) changes the identity realms pin.
///
/// The scalar is 48 bytes of HKDF-SHA-384 output with the top bit cleared and the lowest
/// set, so it lies in `[1, 2^383)`, below the group order: always a valid key, at the cost
/// of two bits of a 384-bit secret.
///
/// # Errors
///
/// [`ConfigError::Identity`] only if the curve library refused such a scalar, which it
/// does not.
pub fn identity(master_secret: &[u8; 32]) -> Result<BrokerIdentity, ConfigError> {
    let mut scalar = Zeroizing::new([0u8; 48]);
    Hkdf::<Sha384>::new(None, master_secret)
        .expand(IDENTITY_INFO, &mut *scalar)
        .map_err(|_| ConfigError::Identity)?;
    scalar[0] &= 0x7f;
    scalar[47] |= 1;
    p384::SecretKey::from_slice(&*scalar)
        .map(EphemeralKey::from_secret)
        .map_err(|_| ConfigError::Identity)
}

/// Fills `buf` with random bytes from the operating system (the `getrandom` system call on
/// Linux: no file descriptor is needed).
///
/// # Errors
///
/// [`RandomError`] if the operating system has none to give.
pub fn os_random(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(RandomError)
}

/// The operating system's randomness ([`os_random`]) as a realm's
/// [`realm_sdk::broker::Entropy`]: for realms that run in this process (on the RMM model, in
/// tests and simulations). A realm on an RMM uses its own (`realm_sdk::rt::Rndr`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl realm_sdk::broker::Entropy for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError> {
        os_random(buf).map_err(|_| BrokerError::Entropy)
    }
}

/// Locks `m`, recovering it if a thread panicked while holding it.
///
/// The broker's critical sections (a nonce store update, drawing from the generator) hold
/// no operation that can panic, so the mutex should never be poisoned. Were it poisoned all
/// the same, the state behind it is still sound: every store operation leaves the store
/// consistent at each step (at worst one nonce too few or too many of a connection's, still
/// within the bounds), and a generator's state is valid whatever it is. Refusing every later
/// client, as `lock().unwrap()` or turning poison into an error would, is the one outcome
/// that must not happen.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The broker: its configuration, its outstanding nonces and its random generator. Share it
/// as an `Arc<Broker>`; each client talks to it through a [`Session`]
/// ([`Broker::session`]). No lock is held while a token is verified: the nonce store is
/// locked only to record or spend a nonce, the generator only to draw from it.
pub struct Broker {
    config: BrokerConfig,
    limits: ServerLimits,
    nonces: Mutex<NonceStore>,
    random: Mutex<ChaCha20Rng>,
    identity: BrokerIdentity,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the configuration (the master secret) nor the generator's state.
        f.debug_struct("Broker")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker with `config` and the default [`ServerLimits`], its generator seeded from
    /// the operating system.
    ///
    /// # Errors
    ///
    /// [`StartError::Random`] if the operating system gives no random bytes,
    /// [`StartError::Config`] for a master secret without an identity ([`identity`]).
    pub fn new(config: BrokerConfig) -> Result<Self, StartError> {
        Self::with_limits(config, ServerLimits::default())
    }

    /// A broker with `config` and `limits`, its generator seeded from the operating system.
    ///
    /// # Errors
    ///
    /// As [`Broker::new`].
    pub fn with_limits(config: BrokerConfig, limits: ServerLimits) -> Result<Self, StartError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        os_random(&mut *seed)?;
        Ok(Self::from_seed(config, limits, &seed)?)
    }

    /// A broker whose generator starts from `seed`: deterministic, for tests only (anyone
    /// who knows the seed predicts the nonces).
    ///
    /// # Errors
    ///
    /// As [`identity`].
    pub fn from_seed(
        config: BrokerConfig,
        limits: ServerLimits,
        seed: &[u8; 32],
    ) -> Result<Self, ConfigError> {
        let store = NonceStore::new(NonceLimits {
            connections: limits.max_connections,
            per_connection: limits.nonces_per_connection,
            ttl: limits.nonce_ttl,
        });
        Ok(Self {
            identity: identity(&config.master_secret)?,
            config,
            limits,
            nonces: Mutex::new(store),
            random: Mutex::new(ChaCha20Rng::from_seed(*seed)),
        })
    }

    /// The broker's public key: realms build it into their image
    /// (`REALM_BROKER_PUBLIC_KEY`) and accept keys only from this broker.
    #[must_use]
    pub fn public_key(&self) -> BrokerPublicKey {
        self.identity.broker_public_key()
    }

    /// The limits the broker was made with.
    #[must_use]
    pub fn limits(&self) -> ServerLimits {
        self.limits
    }

    /// How many nonces the broker holds (expired ones included until they are dropped).
    #[must_use]
    pub fn outstanding_nonces(&self) -> usize {
        lock(&self.nonces).len()
    }

    /// How many sessions are open.
    #[must_use]
    pub fn open_sessions(&self) -> usize {
        lock(&self.nonces).connections()
    }

    /// Opens a session (one per connection), or `None` if
    /// [`ServerLimits::max_connections`] are open already. Dropping the session closes it
    /// and forgets its nonces.
    #[must_use]
    pub fn session(self: &Arc<Self>) -> Option<Session> {
        let id = lock(&self.nonces).open()?;
        Some(Session {
            broker: Arc::clone(self),
            id,
        })
    }

    fn fill_random(&self, buf: &mut [u8]) {
        lock(&self.random).fill_bytes(buf);
    }

    fn nonce(&self, conn: ConnectionId) -> [u8; NONCE_SIZE] {
        let mut n = [0u8; NONCE_SIZE];
        self.fill_random(&mut n);
        // A session's connection is open as long as the session lives.
        let _ = lock(&self.nonces).insert(conn, n, Instant::now());
        n
    }

    fn take_nonce(&self, conn: ConnectionId, nonce: &[u8; NONCE_SIZE]) -> bool {
        lock(&self.nonces).take(conn, nonce, Instant::now())
    }

    /// [`Session::grant`] for connection `conn`.
    fn grant(&self, conn: ConnectionId, request: &[u8]) -> Result<Grant, Refusal> {
        let req = Request::decode(request).map_err(|e| match e {
            BrokerError::UnsupportedVersion(v) => Refusal::Version(v),
            _ => Refusal::Malformed,
        })?;
        if !self.take_nonce(conn, &req.nonce) {
            return Err(Refusal::StaleNonce);
        }
        let token = Token::parse(req.token).map_err(Refusal::Token)?;
        let expected = req.challenge(self.identity.public());
        let policy = TokenPolicy {
            challenge: Some(&expected),
            ..TokenPolicy::default()
        };
        let verified = token
            .verify(self.config.anchors.as_slice(), &policy)
            .map_err(|e| match e {
                VerifyError::ChallengeMismatch => Refusal::Binding,
                e => Refusal::Verify(e),
            })?;
        self.config
            .appraisal
            .as_ref()
            .map_or(Appraisal::DEFAULT, PolicyFile::appraisal)
            .appraise(&verified)
            .map_err(|e| Refusal::Appraisal {
                claim: e.claim(),
                reason: e.to_string(),
            })?;
        let r = &token.realm_claims;
        let allowed = self
            .config
            .allowed
            .iter()
            .filter(|a| a.rim == r.rim)
            .collect::<Vec<_>>();
        if allowed.is_empty() {
            return Err(Refusal::RimNotAllowed);
        }
        if !allowed.iter().any(|a| {
            a.rpv
                .as_deref()
                .is_none_or(|rpv| rpv == r.personalization_value)
        }) {
            return Err(Refusal::RpvNotAllowed);
        }
        if !self.config.policies.contains(&req.policy) {
            return Err(Refusal::PolicyNotAllowed);
        }
        let alg = match r.hash_algorithm {
            "sha-256" => HashAlgorithm::Sha256,
            "sha-512" => HashAlgorithm::Sha512,
            _ => return Err(Refusal::Malformed),
        };
        let measurement = |b: &[u8]| Measurement::from_digest(alg, b).ok_or(Refusal::Malformed);
        let rim = measurement(r.rim)?;
        let rems = r.rems();
        let rems = [
            measurement(rems[0])?,
            measurement(rems[1])?,
            measurement(rems[2])?,
            measurement(rems[3])?,
        ];
        let rpv: &[u8; 64] = r
            .personalization_value
            .try_into()
            .map_err(|_| Refusal::Malformed)?;
        let key = seal::derive_key(
            &*self.config.master_secret,
            &Identity {
                rim: &rim,
                rpv,
                rems: &rems,
            },
            req.policy,
        );
        let mut gcm_nonce = [0u8; 12];
        self.fill_random(&mut gcm_nonce);
        let ephemeral =
            EphemeralKey::generate(&mut Generator(self)).map_err(|_| Refusal::Malformed)?;
        let response = self
            .identity
            .respond(&req, &ephemeral, gcm_nonce, key.expose_secret())
            .map_err(|_| Refusal::Malformed)?;
        Ok(Grant {
            response,
            rim: r.rim.to_vec(),
        })
    }
}

/// The broker's generator as [`realm_sdk::broker::Entropy`], for its ephemeral keys.
struct Generator<'a>(&'a Broker);

impl realm_sdk::broker::Entropy for Generator<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError> {
        self.0.fill_random(buf);
        Ok(())
    }
}

/// One client's conversation with the [`Broker`] (the server opens one per connection): the
/// nonces it is issued are charged to it and can be spent only through it. Dropping it
/// closes it.
pub struct Session {
    broker: Arc<Broker>,
    id: ConnectionId,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish()
    }
}

impl Session {
    /// A fresh single-use nonce, valid on this session for [`ServerLimits::nonce_ttl`]. If
    /// the session holds [`ServerLimits::nonces_per_connection`] already, its oldest is
    /// dropped.
    #[must_use]
    pub fn nonce(&self) -> [u8; NONCE_SIZE] {
        self.broker.nonce(self.id)
    }

    /// Verifies `request` and returns the realm's sealing key wrapped for it.
    ///
    /// # Errors
    ///
    /// The [`Refusal`]; the nonce is spent whatever the outcome.
    pub fn release(&self, request: &[u8]) -> Result<[u8; RESPONSE_SIZE], Refusal> {
        self.grant(request).map(|g| g.response)
    }

    /// [`Session::release`], also saying which realm (RIM) the key went to. Takes the
    /// broker's locks only briefly (to spend the nonce, to draw a GCM nonce), never while
    /// verifying the token.
    ///
    /// # Errors
    ///
    /// The [`Refusal`]; the nonce is spent whatever the outcome.
    pub fn grant(&self, request: &[u8]) -> Result<Grant, Refusal> {
        self.broker.grant(self.id, request)
    }

    /// The broker the session belongs to.
    #[must_use]
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        lock(&self.broker.nonces).close(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(limits: ServerLimits) -> Arc<Broker> {
        let config = BrokerConfig {
            anchors: Vec::new(),
            master_secret: Zeroizing::new([0x42; 32]),
            allowed: Vec::new(),
            policies: Vec::new(),
            appraisal: None,
        };
        Arc::new(Broker::from_seed(config, limits, &[1; 32]).unwrap())
    }

    /// A thread that panics holding the broker's locks does not take the broker down: the
    /// next clients are served (finding 1: a poisoned mutex refused everyone after).
    #[test]
    fn a_poisoned_lock_is_recovered() {
        let b = broker(ServerLimits::default());
        let s = b.session().unwrap();
        let b2 = Arc::clone(&b);
        let panicked = std::thread::spawn(move || {
            let _nonces = b2.nonces.lock();
            let _random = b2.random.lock();
            panic!("poisoning the broker's locks");
        })
        .join();
        assert!(panicked.is_err());
        assert!(b.nonces.is_poisoned() && b.random.is_poisoned());
        let n = s.nonce();
        assert_eq!(b.outstanding_nonces(), 1);
        let other = b.session().unwrap();
        assert_ne!(other.nonce(), n);
        assert_eq!(s.release(b"garbage"), Err(Refusal::Malformed));
    }

    /// Randomness comes from the OS once; the generator never fails afterwards.
    #[test]
    fn os_randomness_seeds_distinct_brokers() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        os_random(&mut a).unwrap();
        os_random(&mut b).unwrap();
        assert_ne!(a, b);
    }

    /// Sessions are capped at `max_connections` and free their place, and their nonces,
    /// when dropped.
    #[test]
    fn sessions_are_capped_and_close_on_drop() {
        let b = broker(ServerLimits {
            max_connections: 2,
            nonces_per_connection: 3,
            ..ServerLimits::default()
        });
        let (s1, s2) = (b.session().unwrap(), b.session().unwrap());
        assert!(b.session().is_none());
        for _ in 0..10 {
            let _ = s1.nonce();
            let _ = s2.nonce();
        }
        assert_eq!(b.outstanding_nonces(), 6);
        drop(s1);
        assert_eq!((b.open_sessions(), b.outstanding_nonces()), (1, 3));
        assert!(b.session().is_some());
        drop(s2);
        assert_eq!(b.outstanding_nonces(), 0);
    }
}
