//! The host as the adversary of key release: every attack a host can mount on the messages
//! it relays between a realm (on the RMM model, with real tokens from its test keys) and
//! the broker, each ending in a specific refusal by the broker or the realm.
//!
//! The findings they answer: the host choosing the realm's sealing key (1), downgrading the
//! policy (2), and getting a key-release token out of a realm that signs verifiers'
//! challenges (7). Appraisal of the platform (3) is in `tests/appraisal.rs`.

mod common;

use common::{TestEntropy, realm_config};

use cca_abi::measurement::HashAlgorithm;
use std::sync::Arc;

use key_broker::{AllowedRealm, Broker, BrokerConfig, Refusal, Session};
use realm_sdk::broker::{
    BrokerError, BrokerPublicKey, EphemeralKey, KeyBrokerProvider, ProviderError, RESPONSE_SIZE,
    Request, Response, Transport,
};
use realm_sdk::seal::{Policy, SealingKey, SealingKeyProvider};
use realm_sdk::{Challenge, Conduit, Realm, RemIndex};
use rmm_model::sim::Simulator;
use rmm_model::token::InsecureTestIssuer;
use zeroize::Zeroizing;

const IMAGE: &[u8] = b"app v1";
/// The key a hostile host wants the realm to seal with.
const HOST_KEY: [u8; 32] = [0x66; 32];

fn broker_with(master_secret: [u8; 32]) -> Session {
    let config = BrokerConfig {
        anchors: vec![InsecureTestIssuer::new().trust_anchor()],
        master_secret: Zeroizing::new(master_secret),
        allowed: vec![AllowedRealm {
            rim: HashAlgorithm::Sha256.hash(&[IMAGE]).as_bytes().to_vec(),
            rpv: None,
        }],
        policies: vec![Policy::RimRpv, Policy::RimRpvRems],
        appraisal: None,
    };
    Arc::new(Broker::new(config).unwrap()).session().unwrap()
}

fn broker() -> Session {
    broker_with([0x42; 32])
}

/// What the host does with a release request: its answer to the realm, or a refusal.
type Attack<'a> = Box<dyn FnMut(&Session, &[u8]) -> Result<[u8; RESPONSE_SIZE], Refusal> + 'a>;

/// A transport through a host that runs `attack` on every release request.
struct Host<'a> {
    broker: &'a Session,
    attack: Attack<'a>,
}

impl Transport for Host<'_> {
    type Error = Refusal;

    fn nonce(&mut self, _: &mut dyn Conduit) -> Result<[u8; 32], Refusal> {
        Ok(self.broker.nonce())
    }

    fn release(
        &mut self,
        _: &mut dyn Conduit,
        request: &[u8],
        response: &mut [u8; RESPONSE_SIZE],
    ) -> Result<(), Refusal> {
        *response = (self.attack)(self.broker, request)?;
        Ok(())
    }
}

/// A realm of [`IMAGE`] that pins `pinned` asks for its `policy` key through a host running
/// `attack`.
fn key_through(
    broker: &Session,
    pinned: BrokerPublicKey,
    policy: Policy,
    attack: Attack<'_>,
) -> Result<SealingKey, ProviderError<Refusal>> {
    let mut sim = Simulator::with_issuer(realm_config(IMAGE), Box::new(InsecureTestIssuer::new()));
    let mut realm = Realm::new(&mut sim).unwrap();
    realm.measurement_extend(RemIndex::REM0, b"booted").unwrap();
    let (mut token, mut request) = (vec![0u8; 4096], vec![0u8; 4096 + 136]);
    let host = Host { broker, attack };
    KeyBrokerProvider::new(
        &mut realm,
        host,
        TestEntropy(11),
        pinned,
        &mut token,
        &mut request,
    )
    .sealing_key(policy)
}

fn honest() -> Attack<'static> {
    Box::new(|broker, request| broker.release(request))
}

/// A response made by the host: `key` wrapped for the realm's ephemeral key under a broker
/// identity of the host's own (it does not have the pinned broker's secret).
fn forge(request: &[u8], key: &[u8; 32]) -> [u8; RESPONSE_SIZE] {
    let request = Request::decode(request).unwrap();
    let identity = EphemeralKey::generate(&mut TestEntropy(1000)).unwrap();
    let ephemeral = EphemeralKey::generate(&mut TestEntropy(2000)).unwrap();
    identity
        .respond(&request, &ephemeral, [0; 12], key)
        .unwrap()
}

/// The honest path works, so every refusal below is the attack's doing.
#[test]
fn honest_host_gets_the_realm_its_key() {
    let b = broker();
    let pinned = b.broker().public_key();
    key_through(&b, pinned, Policy::RimRpvRems, honest()).unwrap();
}

/// Finding 1: the host answers the release itself, wrapping a key of its choosing for the
/// realm's ephemeral key (which it saw in the request). It lacks the pinned broker's secret,
/// so the realm cannot decrypt it and refuses.
#[test]
fn host_cannot_choose_the_sealing_key() {
    let b = broker();
    let pinned = b.broker().public_key();
    let attack: Attack<'_> = Box::new(|_, request| Ok(forge(request, &HOST_KEY)));
    assert_eq!(
        key_through(&b, pinned, Policy::RimRpv, attack).err(),
        Some(ProviderError::Protocol(BrokerError::Unwrap))
    );
}

/// Finding 1, with a real broker as accomplice: a broker of another identity (another
/// master secret) serving the same image refuses the token, which names the pinned broker;
/// had it answered, the realm would still not believe it.
#[test]
fn another_broker_cannot_release_to_a_realm_that_pinned_one() {
    let pinned = broker().broker().public_key();
    let impostor = broker_with([0x43; 32]);
    assert_ne!(impostor.broker().public_key(), pinned);
    assert_eq!(
        key_through(&impostor, pinned, Policy::RimRpv, honest()).err(),
        Some(ProviderError::Transport(Refusal::Binding))
    );
}

/// Finding 1: a response the broker gave to an earlier exchange of the same realm, replayed
/// for a later one, does not open (the transcript covers the nonce and ephemeral key).
#[test]
fn replayed_response_is_refused() {
    let b = broker();
    let pinned = b.broker().public_key();
    let recorded = std::cell::Cell::new(None);
    let record: Attack<'_> = Box::new(|broker, request| {
        let response = broker.release(request)?;
        recorded.set(Some(response));
        Ok(response)
    });
    key_through(&b, pinned, Policy::RimRpv, record).unwrap();
    let old = recorded.get().unwrap();
    let replay: Attack<'_> = Box::new(move |_, _| Ok(old));
    assert_eq!(
        key_through(&b, pinned, Policy::RimRpv, replay).err(),
        Some(ProviderError::Protocol(BrokerError::Unwrap))
    );
}

/// Finding 1: any byte of the broker's answer changed by the host makes it unusable, with
/// the error of the part it hit; none yields a key.
#[test]
fn every_altered_response_byte_is_refused() {
    let b = broker();
    let pinned = b.broker().public_key();
    let mut request = Vec::new();
    let mut response = [0u8; RESPONSE_SIZE];
    let capture: Attack<'_> = Box::new(|broker, r| {
        request = r.to_vec();
        response = broker.release(r)?;
        Ok(response)
    });
    key_through(&b, pinned, Policy::RimRpv, capture).unwrap();
    // The realm's ephemeral key in the capture is TestEntropy(11)'s.
    let realm = EphemeralKey::generate(&mut TestEntropy(11)).unwrap();
    let nonce: [u8; 32] = request[4..36].try_into().unwrap();
    let open = |r: &[u8]| realm.open(&pinned, &nonce, Policy::RimRpv, r);
    assert!(open(&response).is_ok());
    for at in 0..RESPONSE_SIZE {
        let mut altered = response;
        altered[at] ^= 0x01;
        let err = open(&altered).err();
        let expected = match at {
            0..=2 => Some(BrokerError::Malformed),
            3 => Some(BrokerError::UnsupportedVersion(3)),
            4 => Some(BrokerError::PolicyMismatch {
                asked: Policy::RimRpv,
                answered: 0,
            }),
            _ => None,
        };
        match expected {
            Some(e) => assert_eq!(err, Some(e), "byte {at}"),
            None => assert!(
                matches!(err, Some(BrokerError::Unwrap | BrokerError::BadPublicKey)),
                "byte {at}: {err:?}"
            ),
        }
    }
    // Version 1's answer (no magic, 157 bytes) and a cut answer are not responses.
    assert_eq!(open(&response[5..]).err(), Some(BrokerError::Malformed));
    assert_eq!(
        open(&response[..RESPONSE_SIZE - 1]).err(),
        Some(BrokerError::Malformed)
    );
}

/// Finding 2: the host downgrades the policy in the request (RIM+RPV+REMs asked, RIM+RPV
/// forwarded). The policy is in the challenge the RMM signed: the broker refuses.
#[test]
fn policy_downgrade_in_the_request_is_refused() {
    let b = broker();
    let pinned = b.broker().public_key();
    let downgrade: Attack<'_> = Box::new(|broker, request| {
        let mut r = request.to_vec();
        assert_eq!(r[36], Policy::RimRpvRems.to_byte());
        r[36] = Policy::RimRpv.to_byte();
        broker.release(&r)
    });
    assert_eq!(
        key_through(&b, pinned, Policy::RimRpvRems, downgrade).err(),
        Some(ProviderError::Transport(Refusal::Binding))
    );
}

/// Finding 2: the host gets a RIM+RPV key released in a separate exchange of the same
/// realm and hands it to the realm that asked for RIM+RPV+REMs: as it is, the realm sees the
/// other policy; with the policy byte changed, the key does not open (the policy is in the
/// key derivation and the additional data).
#[test]
fn policy_downgrade_in_the_response_is_refused() {
    let b = broker();
    let pinned = b.broker().public_key();
    let weaker = std::cell::Cell::new(None);
    let record: Attack<'_> = Box::new(|broker, request| {
        let response = broker.release(request)?;
        weaker.set(Some(response));
        Ok(response)
    });
    key_through(&b, pinned, Policy::RimRpv, record).unwrap();
    let weaker = weaker.get().unwrap();
    let as_is: Attack<'_> = Box::new(move |broker, request| {
        broker.release(request)?;
        Ok(weaker)
    });
    assert_eq!(
        key_through(&b, pinned, Policy::RimRpvRems, as_is).err(),
        Some(ProviderError::Protocol(BrokerError::PolicyMismatch {
            asked: Policy::RimRpvRems,
            answered: Policy::RimRpv.to_byte(),
        }))
    );
    let relabelled: Attack<'_> = Box::new(move |_, _| {
        let mut r = Response::decode(&weaker).unwrap();
        r.policy = Policy::RimRpvRems.to_byte();
        Ok(r.encode())
    });
    assert_eq!(
        key_through(&b, pinned, Policy::RimRpvRems, relabelled).err(),
        Some(ProviderError::Protocol(BrokerError::Unwrap))
    );
    // The honest broker's answers for the two policies are different keys.
    let rems = key_through(&b, pinned, Policy::RimRpvRems, honest()).unwrap();
    let rim = key_through(&b, pinned, Policy::RimRpv, honest()).unwrap();
    assert_ne!(rems.id(), rim.id());
}

/// Finding 7: a realm app that also answers verifiers' challenges. The host, posing as a
/// verifier, asks it to attest exactly the key-release challenge for the host's own
/// ephemeral key (or its preimage). Through the safe API the realm's challenge is the
/// verifier construction's hash of that data, which never equals a key-release challenge,
/// so the broker refuses the token.
#[test]
fn verifier_challenges_cannot_become_key_release_tokens() {
    let b = broker();
    let pinned = b.broker().public_key();
    let mut sim = Simulator::with_issuer(realm_config(IMAGE), Box::new(InsecureTestIssuer::new()));
    let mut realm = Realm::new(&mut sim).unwrap();

    let host_key = EphemeralKey::generate(&mut TestEntropy(77)).unwrap();
    let mut try_release = |challenge_data: &dyn Fn(&Request<'_>) -> Vec<u8>, raw: bool| {
        let nonce = b.nonce();
        let mut request = Request {
            nonce,
            policy: Policy::RimRpv,
            public_key: *host_key.public(),
            token: &[],
        };
        let data = challenge_data(&request);
        let mut buf = vec![0u8; 4096];
        request.token = if raw {
            realm.attestation_token_with_raw_challenge(&data, &mut buf)
        } else {
            realm.attestation_token(&Challenge::for_verifier(&data), &mut buf)
        }
        .unwrap();
        let mut out = vec![0u8; 4096 + 136];
        let encoded = request.encode(&mut out).unwrap().to_vec();
        b.release(&encoded).map(|r| (nonce, r))
    };
    let challenge = |r: &Request<'_>| r.challenge(pinned.as_bytes()).to_vec();
    let preimage = |r: &Request<'_>| {
        let mut p = r.nonce.to_vec();
        p.push(r.policy.to_byte());
        p.extend_from_slice(&r.public_key);
        p.extend_from_slice(pinned.as_bytes());
        p
    };
    assert_eq!(try_release(&challenge, false).err(), Some(Refusal::Binding));
    assert_eq!(try_release(&preimage, false).err(), Some(Refusal::Binding));

    // The attack is real: an app that signs raw verifier bytes hands the host a key the
    // broker meant for the realm. That is why raw challenges need the explicitly named
    // `attestation_token_with_raw_challenge`.
    let (nonce, response) = try_release(&challenge, true).unwrap();
    let stolen = host_key.open(&pinned, &nonce, Policy::RimRpv, &response);
    assert!(stolen.is_ok());
}

/// A request of version 1 of the protocol is refused as such, not as garbage.
#[test]
fn old_protocol_version_is_refused_clearly() {
    let b = broker();
    let mut request = vec![0u8; 200];
    request[..4].copy_from_slice(b"RKB1");
    assert_eq!(b.release(&request), Err(Refusal::Version(1)));
    assert_eq!(
        Refusal::Version(1).to_string(),
        "request of key release protocol version 1; this broker speaks version 2"
    );
    request[..4].copy_from_slice(b"XKB2");
    assert_eq!(b.release(&request), Err(Refusal::Malformed));
}
