//! Attestation-gated key release end to end, in one process: a realm on the RMM model (with
//! real tokens from its test keys) asks the broker for its sealing key through a transport
//! that plays the untrusted host, which may replay, substitute or tamper.

use cca_abi::measurement::HashAlgorithm;
use key_broker::{AllowedRealm, Broker, BrokerConfig, Refusal};
use realm_sdk::broker::{
    BrokerError, Entropy, KeyBrokerProvider, ProviderError, RESPONSE_SIZE, Request, Transport,
};
use realm_sdk::seal::{self, Policy, SealingKey, SealingKeyProvider};
use realm_sdk::{Realm, RemIndex};
use rmm_model::RealmConfig;
use rmm_model::sim::Simulator;
use rmm_model::token::InsecureTestIssuer;
use zeroize::Zeroizing;

/// Test-only entropy: a counter run through SHA-256.
struct TestEntropy(u64);

impl Entropy for TestEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError> {
        use sha2::Digest;
        for chunk in buf.chunks_mut(32) {
            self.0 += 1;
            let d = sha2::Sha256::digest(self.0.to_le_bytes());
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
        Ok(())
    }
}

/// What the untrusted host does to the exchange.
#[derive(Clone, Copy, PartialEq)]
enum Host {
    Honest,
    /// Answers every nonce request with the first nonce it got.
    ReplayNonce,
    /// Replaces the realm's ephemeral public key with another valid one.
    SwapKey,
    /// Flips a byte inside the realm token's claims.
    TamperToken,
}

struct Relay<'b> {
    broker: &'b mut Broker,
    host: Host,
    first_nonce: Option<[u8; 32]>,
}

impl Transport for Relay<'_> {
    type Error = Refusal;

    fn nonce(&mut self) -> Result<[u8; 32], Refusal> {
        let n = self.broker.nonce();
        if self.host == Host::ReplayNonce {
            return Ok(*self.first_nonce.get_or_insert(n));
        }
        Ok(n)
    }

    fn release(
        &mut self,
        request: &[u8],
        response: &mut [u8; RESPONSE_SIZE],
    ) -> Result<(), Refusal> {
        let mut req = request.to_vec();
        match self.host {
            Host::Honest | Host::ReplayNonce => {}
            Host::SwapKey => {
                let other =
                    realm_sdk::broker::EphemeralKey::generate(&mut TestEntropy(999)).unwrap();
                req[37..134].copy_from_slice(other.public());
            }
            Host::TamperToken => {
                let len = Request::decode(&req).unwrap().token.len();
                let at = req.len() - len + len / 2;
                req[at] ^= 1;
            }
        }
        *response = self.broker.release(&req)?;
        Ok(())
    }
}

fn realm_config(image: &[u8]) -> RealmConfig {
    RealmConfig {
        rim: HashAlgorithm::Sha256.hash(&[image]),
        rpv: [9; 64],
        ..RealmConfig::default()
    }
}

fn broker(allowed_image: &[u8]) -> Broker {
    let config = BrokerConfig {
        anchors: vec![InsecureTestIssuer::new().trust_anchor()],
        master_secret: Zeroizing::new([0x42; 32]),
        allowed: vec![AllowedRealm {
            rim: HashAlgorithm::Sha256
                .hash(&[allowed_image])
                .as_bytes()
                .to_vec(),
            rpv: Some(vec![9; 64]),
        }],
        policies: vec![Policy::RimRpv, Policy::RimRpvRems],
    };
    let mut n = 0u8;
    Broker::new(
        config,
        Box::new(move |b: &mut [u8]| {
            n = n.wrapping_add(1);
            b.fill(n);
        }),
    )
}

/// Runs a realm built from `image` asking `broker` for its key through `host`.
fn key_of(
    image: &[u8],
    broker: &mut Broker,
    host: Host,
    seed: u64,
) -> Result<SealingKey, ProviderError<Refusal>> {
    let mut sim = Simulator::with_issuer(realm_config(image), Box::new(InsecureTestIssuer::new()));
    let mut realm = Realm::new(&mut sim).unwrap();
    realm.measurement_extend(RemIndex::REM0, b"booted").unwrap();
    let (mut token, mut request) = (vec![0u8; 4096], vec![0u8; 4096 + 136]);
    let relay = Relay {
        broker,
        host,
        first_nonce: None,
    };
    let mut provider = KeyBrokerProvider::new(
        &mut realm,
        relay,
        TestEntropy(seed),
        &mut token,
        &mut request,
    );
    let key = provider.sealing_key(Policy::RimRpv);
    if host == Host::ReplayNonce {
        // The host replays the nonce of this first exchange for a second one.
        key?;
        return provider.sealing_key(Policy::RimRpv);
    }
    key
}

/// The same realm identity gets the same key across runs (different ephemeral keys and
/// nonces each time), and what one run seals the next unseals.
#[test]
fn same_identity_same_key_across_runs() {
    let mut b = broker(b"app v1");
    let k1 = key_of(b"app v1", &mut b, Host::Honest, 1).unwrap();
    let k2 = key_of(b"app v1", &mut b, Host::Honest, 2).unwrap();
    assert_eq!(k1.id(), k2.id());
    let mut buf = [0u8; 128];
    let blob = seal::seal(
        &k1,
        Policy::RimRpv,
        1,
        [5; 12],
        b"model weights key",
        b"",
        &mut buf,
    )
    .unwrap()
    .to_vec();
    let mut out = [0u8; 64];
    assert_eq!(
        seal::unseal(&k2, &blob, b"", &mut out).unwrap(),
        b"model weights key"
    );
}

/// A realm with another image (RIM) is refused.
#[test]
fn wrong_rim_is_refused() {
    let mut b = broker(b"app v1");
    assert_eq!(
        key_of(b"app v2", &mut b, Host::Honest, 1).err(),
        Some(ProviderError::Transport(Refusal::RimNotAllowed))
    );
}

/// A replayed (stale) nonce is refused.
#[test]
fn stale_nonce_is_refused() {
    let mut b = broker(b"app v1");
    assert_eq!(
        key_of(b"app v1", &mut b, Host::ReplayNonce, 1).err(),
        Some(ProviderError::Transport(Refusal::StaleNonce))
    );
}

/// A token bound to another ephemeral key (the host substituted its own) is refused.
#[test]
fn token_bound_to_another_key_is_refused() {
    let mut b = broker(b"app v1");
    assert_eq!(
        key_of(b"app v1", &mut b, Host::SwapKey, 1).err(),
        Some(ProviderError::Transport(Refusal::Binding))
    );
}

/// A forged token (altered claims) or an unknown platform is refused.
#[test]
fn forged_token_is_refused() {
    let mut b = broker(b"app v1");
    let err = key_of(b"app v1", &mut b, Host::TamperToken, 1).err();
    assert!(
        matches!(
            err,
            Some(ProviderError::Transport(
                Refusal::Verify(_) | Refusal::Token(_)
            ))
        ),
        "{err:?}"
    );
    let config = BrokerConfig {
        anchors: vec![],
        master_secret: Zeroizing::new([0x42; 32]),
        allowed: vec![AllowedRealm {
            rim: HashAlgorithm::Sha256.hash(&[b"app v1"]).as_bytes().to_vec(),
            rpv: None,
        }],
        policies: vec![Policy::RimRpv],
    };
    let mut unknown_platform = Broker::new(config, Box::new(key_broker::os_random));
    assert_eq!(
        key_of(b"app v1", &mut unknown_platform, Host::Honest, 1).err(),
        Some(ProviderError::Transport(Refusal::Verify(
            cca_token::VerifyError::NoTrustAnchor
        )))
    );
}
