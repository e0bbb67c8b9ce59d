//! The key broker: releases a realm's sealing key only to that realm, after verifying its
//! CCA attestation token (see `realm_sdk::broker` for the protocol).
//!
//! The broker holds a master secret. A realm's key is HKDF-SHA-384 of it with the identity
//! the token shows, as the policy selects (`realm_sdk::seal::derive_key`): the same image
//! and RPV get the same key on every run, another image another key. A [`BrokerConfig`]
//! names the trust anchors, the realms allowed (by RIM, optionally RPV) and the policies.
//!
//! [`net`] puts the broker on the network (a framed protocol over TCP); the `key-broker`
//! binary serves a configuration file with it.

use std::collections::HashSet;
use std::fmt;

use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_token::{Policy as TokenPolicy, Token, TrustAnchor, VerifyError};
use hkdf::Hkdf;
use realm_sdk::broker::{
    BrokerError, BrokerIdentity, BrokerPublicKey, EphemeralKey, NONCE_SIZE, RESPONSE_SIZE, Request,
};
use realm_sdk::seal::{self, Identity, Policy};
use sha2::Sha384;
use zeroize::Zeroizing;

pub mod net;

/// A realm the broker serves.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AllowedRealm {
    /// Its RIM.
    pub rim: Vec<u8>,
    /// Its RPV, if the broker pins it.
    pub rpv: Option<Vec<u8>>,
}

/// What the broker trusts and releases.
pub struct BrokerConfig {
    /// Trust anchors of the platforms.
    pub anchors: Vec<TrustAnchor>,
    /// The master secret.
    pub master_secret: Zeroizing<[u8; 32]>,
    /// The realms that get keys.
    pub allowed: Vec<AllowedRealm>,
    /// The identity policies the broker derives keys for.
    pub policies: Vec<Policy>,
}

/// Why a configuration could not be loaded.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key broker configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

impl BrokerConfig {
    /// Reads a configuration:
    ///
    /// ```json
    /// { "master_secret": "<64 hex digits>",
    ///   "trust_anchors": [ ...veraison ta.json entries... ],
    ///   "allowed": [ { "rim": "<hex>", "rpv": "<hex, optional>" } ],
    ///   "policies": ["rim+rpv", "rim+rpv+rems"] }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming what is wrong.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let err = |m: &str| ConfigError(m.to_owned());
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| ConfigError(e.to_string()))?;
        let secret = v["master_secret"]
            .as_str()
            .and_then(unhex)
            .filter(|s| s.len() == 32)
            .ok_or_else(|| err("master_secret must be 64 hex digits"))?;
        let mut master_secret = Zeroizing::new([0u8; 32]);
        master_secret.copy_from_slice(&secret);
        let anchors = cca_token::anchors::from_json(&v["trust_anchors"].to_string())
            .map_err(|e| ConfigError(e.to_string()))?;
        let allowed = v["allowed"]
            .as_array()
            .ok_or_else(|| err("allowed must be an array"))?
            .iter()
            .map(|a| {
                let rim = a["rim"]
                    .as_str()
                    .and_then(unhex)
                    .ok_or_else(|| err("allowed[].rim must be hex"))?;
                let rpv = match &a["rpv"] {
                    serde_json::Value::Null => None,
                    r => Some(
                        r.as_str()
                            .and_then(unhex)
                            .ok_or_else(|| err("allowed[].rpv must be hex"))?,
                    ),
                };
                Ok(AllowedRealm { rim, rpv })
            })
            .collect::<Result<_, ConfigError>>()?;
        let policies = v["policies"]
            .as_array()
            .ok_or_else(|| err("policies must be an array"))?
            .iter()
            .map(|p| match p.as_str() {
                Some("rim+rpv") => Ok(Policy::RimRpv),
                Some("rim+rpv+rems") => Ok(Policy::RimRpvRems),
                _ => Err(err("policies: \"rim+rpv\" or \"rim+rpv+rems\"")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            anchors,
            master_secret,
            allowed,
            policies,
        })
    }
}

/// Why the broker refused a release.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Refusal {
    /// The request is not in the protocol's form.
    Malformed,
    /// The request is of another version of the protocol (its version digit).
    Version(u8),
    /// The nonce was not issued by this broker, or was already used.
    StaleNonce,
    /// The token does not parse.
    Token(cca_token::ParseError),
    /// The token does not verify (signatures, binding, trust anchor).
    Verify(VerifyError),
    /// The token's challenge is not bound to this nonce, policy, ephemeral key and broker (a
    /// token made for another exchange or another broker, or a field substituted).
    Binding,
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

/// A source of random bytes.
pub type Random = Box<dyn FnMut(&mut [u8]) + Send>;

/// The broker.
pub struct Broker {
    config: BrokerConfig,
    identity: BrokerIdentity,
    outstanding: HashSet<[u8; NONCE_SIZE]>,
    random: Random,
}

/// Random bytes from the operating system (`/dev/urandom`).
///
/// # Panics
///
/// If `/dev/urandom` cannot be read: a broker without randomness must not run.
pub fn os_random(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("/dev/urandom");
}

impl Broker {
    /// A broker with `config`, taking randomness from `random` (nonces, ephemeral keys,
    /// GCM nonces).
    ///
    /// # Errors
    ///
    /// As [`identity`].
    pub fn new(config: BrokerConfig, random: Random) -> Result<Self, ConfigError> {
        Ok(Self {
            identity: identity(&config.master_secret)?,
            config,
            outstanding: HashSet::new(),
            random,
        })
    }

    /// The broker's public key: realms build it into their image and accept keys only from
    /// this broker.
    #[must_use]
    pub fn public_key(&self) -> BrokerPublicKey {
        self.identity.broker_public_key()
    }

    /// A fresh single-use nonce.
    pub fn nonce(&mut self) -> [u8; NONCE_SIZE] {
        let mut n = [0u8; NONCE_SIZE];
        (self.random)(&mut n);
        self.outstanding.insert(n);
        n
    }

    /// Verifies `request` and returns the realm's sealing key wrapped for it.
    ///
    /// # Errors
    ///
    /// The [`Refusal`]; the nonce is spent whatever the outcome.
    pub fn release(&mut self, request: &[u8]) -> Result<[u8; RESPONSE_SIZE], Refusal> {
        self.grant(request).map(|g| g.response)
    }

    /// [`Broker::release`], also saying which realm (RIM) the key went to.
    ///
    /// # Errors
    ///
    /// The [`Refusal`]; the nonce is spent whatever the outcome.
    pub fn grant(&mut self, request: &[u8]) -> Result<Grant, Refusal> {
        let req = Request::decode(request).map_err(|e| match e {
            BrokerError::UnsupportedVersion(v) => Refusal::Version(v),
            _ => Refusal::Malformed,
        })?;
        if !self.outstanding.remove(&req.nonce) {
            return Err(Refusal::StaleNonce);
        }
        let token = Token::parse(req.token).map_err(Refusal::Token)?;
        let expected = req.challenge(self.identity.public());
        let policy = TokenPolicy {
            challenge: Some(&expected),
            ..TokenPolicy::default()
        };
        token
            .verify(self.config.anchors.as_slice(), &policy)
            .map_err(|e| match e {
                VerifyError::ChallengeMismatch => Refusal::Binding,
                e => Refusal::Verify(e),
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
        (self.random)(&mut gcm_nonce);
        let ephemeral = EphemeralKey::generate(&mut RandomEntropy(&mut self.random))
            .map_err(|_| Refusal::Malformed)?;
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
/// [`ConfigError`] only if the curve library refused such a scalar, which it does not.
pub fn identity(master_secret: &[u8; 32]) -> Result<BrokerIdentity, ConfigError> {
    let mut scalar = Zeroizing::new([0u8; 48]);
    Hkdf::<Sha384>::new(None, master_secret)
        .expand(IDENTITY_INFO, &mut *scalar)
        .map_err(|_| ConfigError("cannot derive the broker identity".into()))?;
    scalar[0] &= 0x7f;
    scalar[47] |= 1;
    p384::SecretKey::from_slice(&*scalar)
        .map(EphemeralKey::from_secret)
        .map_err(|_| ConfigError("cannot derive the broker identity".into()))
}

/// [`Random`] as [`realm_sdk::broker::Entropy`].
struct RandomEntropy<'a>(&'a mut Random);

impl realm_sdk::broker::Entropy for RandomEntropy<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError> {
        (self.0)(buf);
        Ok(())
    }
}
