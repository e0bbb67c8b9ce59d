//! Attestation-gated key release end to end, in one process: a realm on the RMM model (with
//! real tokens from its test keys) asks the broker for its sealing key through a transport
//! that plays the untrusted host, which may replay, substitute or tamper.

mod common;

use common::{TestEntropy, realm_config};

use cca_abi::measurement::HashAlgorithm;
use std::sync::Arc;

use key_broker::{AllowedRealm, Broker, BrokerConfig, Refusal, ServerLimits, Session};
use realm_sdk::broker::{KeyBrokerProvider, ProviderError, RESPONSE_SIZE, Request, Transport};
use realm_sdk::seal::{self, Policy, SealingKey, SealingKeyProvider};
use realm_sdk::service::Window;
use realm_sdk::{Conduit, Realm, RemIndex};
use rmm_model::RealmConfig;
use rmm_model::sim::Simulator;
use rmm_model::token::InsecureTestIssuer;
use zeroize::Zeroizing;

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
    broker: &'b Session,
    host: Host,
    first_nonce: Option<[u8; 32]>,
}

impl Transport for Relay<'_> {
    type Error = Refusal;

    fn nonce(&mut self, _: &mut dyn Conduit) -> Result<[u8; 32], Refusal> {
        let n = self.broker.nonce();
        if self.host == Host::ReplayNonce {
            return Ok(*self.first_nonce.get_or_insert(n));
        }
        Ok(n)
    }

    fn release(
        &mut self,
        _: &mut dyn Conduit,
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

/// A session with a fresh broker (deterministic nonces) serving `allowed_image`.
fn broker(allowed_image: &[u8]) -> Session {
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
        appraisal: None,
    };
    Arc::new(Broker::from_seed(config, ServerLimits::default(), &[7; 32]).unwrap())
        .session()
        .unwrap()
}

/// Runs a realm built from `image` asking `broker` for its key through `host`.
fn key_of(
    image: &[u8],
    broker: &Session,
    host: Host,
    seed: u64,
) -> Result<SealingKey, ProviderError<Refusal>> {
    let mut sim = Simulator::with_issuer(realm_config(image), Box::new(InsecureTestIssuer::new()));
    let mut realm = Realm::new(&mut sim).unwrap();
    realm.measurement_extend(RemIndex::REM0, b"booted").unwrap();
    let (mut token, mut request) = (vec![0u8; 4096], vec![0u8; 4096 + 136]);
    let pinned = broker.broker().public_key();
    let relay = Relay {
        broker,
        host,
        first_nonce: None,
    };
    let mut provider = KeyBrokerProvider::new(
        &mut realm,
        relay,
        TestEntropy(seed),
        pinned,
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
    let b = broker(b"app v1");
    let k1 = key_of(b"app v1", &b, Host::Honest, 1).unwrap();
    let k2 = key_of(b"app v1", &b, Host::Honest, 2).unwrap();
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
    let b = broker(b"app v1");
    assert_eq!(
        key_of(b"app v2", &b, Host::Honest, 1).err(),
        Some(ProviderError::Transport(Refusal::RimNotAllowed))
    );
}

/// A replayed (stale) nonce is refused.
#[test]
fn stale_nonce_is_refused() {
    let b = broker(b"app v1");
    assert_eq!(
        key_of(b"app v1", &b, Host::ReplayNonce, 1).err(),
        Some(ProviderError::Transport(Refusal::StaleNonce))
    );
}

/// A token bound to another ephemeral key (the host substituted its own) is refused.
#[test]
fn token_bound_to_another_key_is_refused() {
    let b = broker(b"app v1");
    assert_eq!(
        key_of(b"app v1", &b, Host::SwapKey, 1).err(),
        Some(ProviderError::Transport(Refusal::Binding))
    );
}

/// A forged token (altered claims) or an unknown platform is refused.
#[test]
fn forged_token_is_refused() {
    let b = broker(b"app v1");
    let err = key_of(b"app v1", &b, Host::TamperToken, 1).err();
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
        appraisal: None,
    };
    let unknown_platform = Arc::new(Broker::new(config).unwrap()).session().unwrap();
    assert_eq!(
        key_of(b"app v1", &unknown_platform, Host::Honest, 1).err(),
        Some(ProviderError::Transport(Refusal::Verify(
            cca_token::VerifyError::NoTrustAnchor
        )))
    );
}

/// The shared buffer of a simulated realm: host memory both sides see.
#[derive(Clone)]
struct SimWindow(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

/// The unprotected IPA the test's shared buffer pretends to be at.
const SHARED_IPA: u64 = (1 << 47) | 0x8000_0000;

impl Window for SimWindow {
    fn ipa(&self) -> u64 {
        SHARED_IPA
    }
    fn size(&self) -> usize {
        self.0.borrow().len()
    }
    fn write(&mut self, offset: usize, data: &[u8]) {
        self.0.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
    }
    fn read(&self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.0.borrow()[offset..offset + buf.len()]);
    }
}

/// Everything in one process: a realm on the model reaches the broker through service host
/// calls and a shared buffer, as it does under the EL2 harness and on TF-RMM; the simulated
/// host answers the calls from the buffer, and keeps a sealed blob between two realms.
#[test]
fn release_and_blob_store_through_the_shared_buffer() {
    use cca_abi::hostcall::{SERVICE, service, status};
    use realm_sdk::service::{ServiceChannel, ServiceError};
    use std::cell::RefCell;
    use std::rc::Rc;

    let broker = Rc::new(RefCell::new(broker(b"app v1")));
    let store: Rc<RefCell<Option<Vec<u8>>>> = Rc::default();
    let run = |image: &[u8], secret: Option<&[u8]>| -> Result<Vec<u8>, String> {
        let window = SimWindow(Rc::new(RefCell::new(vec![0u8; 8192])));
        let mut sim =
            Simulator::with_issuer(realm_config(image), Box::new(InsecureTestIssuer::new()));
        let (host_window, broker, store) = (window.clone(), broker.clone(), store.clone());
        sim.set_host_call_handler(Box::new(move |imm, gprs| {
            assert_eq!(imm, SERVICE);
            assert_eq!(gprs[1], SHARED_IPA);
            let request = host_window.0.borrow()[..gprs[2] as usize].to_vec();
            let (code, answer) = match gprs[0] {
                service::BROKER_NONCE => (status::OK, broker.borrow().nonce().to_vec()),
                service::BROKER_RELEASE => match broker.borrow().release(&request) {
                    Ok(r) => (status::OK, r.to_vec()),
                    Err(e) => (status::REFUSED, e.to_string().into_bytes()),
                },
                service::BLOB_STORE => {
                    *store.borrow_mut() = Some(request);
                    (status::OK, vec![])
                }
                service::BLOB_LOAD => match &*store.borrow() {
                    Some(b) => (status::OK, b.clone()),
                    None => (status::REFUSED, b"no blob".to_vec()),
                },
                _ => (status::UNAVAILABLE, vec![]),
            };
            host_window.0.borrow_mut()[..answer.len()].copy_from_slice(&answer);
            gprs[0] = code;
            gprs[1] = answer.len() as u64;
        }));
        let mut realm = Realm::new(&mut sim).unwrap();
        let mut channel = ServiceChannel::new(window);
        let (mut token, mut request) = (vec![0u8; 4096], vec![0u8; 4096 + 136]);
        let mut blob = [0u8; 256];
        let loaded = channel
            .load_blob(realm.conduit(), &mut blob)
            .map_err(|e| e.to_string())?
            .map(<[u8]>::to_vec);
        let key = KeyBrokerProvider::new(
            &mut realm,
            &mut channel,
            TestEntropy(7),
            common::pinned_broker(),
            &mut token,
            &mut request,
        )
        .sealing_key(Policy::RimRpv)
        .map_err(|e| format!("{e:?}"))?;
        if let Some(secret) = secret {
            let mut out = [0u8; 256];
            let sealed = seal::seal(&key, Policy::RimRpv, 1, [3; 12], secret, b"", &mut out)
                .unwrap()
                .to_vec();
            channel
                .store_blob(realm.conduit(), &sealed)
                .map_err(|e| e.to_string())?;
            return Ok(sealed);
        }
        let blob = loaded.ok_or("no blob")?;
        let mut out = [0u8; 256];
        seal::unseal(&key, &blob, b"", &mut out)
            .map(<[u8]>::to_vec)
            .map_err(|e| e.to_string())
    };
    run(b"app v1", Some(b"model weights key")).unwrap();
    assert_eq!(run(b"app v1", None).unwrap(), b"model weights key");
    let refused = run(b"app v2", None).unwrap_err();
    assert!(
        refused.contains("Refused") && refused.contains("RIM not allowed"),
        "{refused}"
    );
    // A host that garbles the answer's length is caught before anything is copied.
    let mut sim = Simulator::new(RealmConfig::default());
    sim.set_host_call_handler(Box::new(|_, gprs| {
        gprs[0] = status::OK;
        gprs[1] = 1 << 40;
    }));
    let mut realm = Realm::new(&mut sim).unwrap();
    let mut channel = ServiceChannel::new(SimWindow(Rc::new(RefCell::new(vec![0u8; 64]))));
    assert_eq!(
        channel.load_blob(realm.conduit(), &mut [0u8; 64]),
        Err(ServiceError::AnswerTooLong)
    );
}
