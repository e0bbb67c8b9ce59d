//! What the key broker's tests share: deterministic entropy and the simulated realm's
//! configuration.

use cca_abi::measurement::HashAlgorithm;
use realm_sdk::broker::{BrokerError, Entropy};
use rmm_model::RealmConfig;

/// Test-only entropy: a counter run through SHA-256.
pub struct TestEntropy(pub u64);

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

/// A realm whose RIM is the SHA-256 of `image`, with RPV 9s.
pub fn realm_config(image: &[u8]) -> RealmConfig {
    RealmConfig {
        rim: HashAlgorithm::Sha256.hash(&[image]),
        rpv: [9; 64],
        ..RealmConfig::default()
    }
}

/// The master secret of the brokers these tests make.
#[allow(dead_code, reason = "not every test binary uses it")]
pub const MASTER_SECRET: [u8; 32] = [0x42; 32];

/// The public key of a broker with [`MASTER_SECRET`]: what the tests' realms pin.
#[allow(dead_code, reason = "not every test binary makes real requests")]
pub fn pinned_broker() -> realm_sdk::broker::BrokerPublicKey {
    key_broker::identity(&MASTER_SECRET)
        .unwrap()
        .broker_public_key()
}

/// What a realm built from `image` (on the RMM model, with its insecure test keys) sends for
/// `nonce` to the broker it pins ([`pinned_broker`]): its ephemeral key and the encoded
/// release request for policy RIM+RPV.
#[allow(dead_code, reason = "not every test binary makes real requests")]
pub fn request_for(
    image: &[u8],
    nonce: [u8; 32],
    seed: u64,
) -> (realm_sdk::broker::EphemeralKey, Vec<u8>) {
    use realm_sdk::broker::{EphemeralKey, Request};
    use realm_sdk::{Realm, RemIndex};
    use rmm_model::sim::Simulator;
    use rmm_model::token::InsecureTestIssuer;

    let mut sim = Simulator::with_issuer(realm_config(image), Box::new(InsecureTestIssuer::new()));
    let mut realm = Realm::new(&mut sim).unwrap();
    realm.measurement_extend(RemIndex::REM0, b"booted").unwrap();
    let ephemeral = EphemeralKey::generate(&mut TestEntropy(seed)).unwrap();
    let mut request = Request {
        nonce,
        policy: realm_sdk::seal::Policy::RimRpv,
        public_key: *ephemeral.public(),
        token: &[],
    };
    // The test plays a realm-sdk realm, which makes the key-release challenge inside
    // `KeyBrokerProvider`; here it is made by hand, so the raw call.
    let challenge = request.challenge(pinned_broker().as_bytes());
    let mut token = vec![0u8; 4096];
    request.token = realm
        .attestation_token_with_raw_challenge(&challenge, &mut token)
        .unwrap();
    let mut buf = vec![0u8; 4096 + 136];
    let request = request.encode(&mut buf).unwrap().to_vec();
    (ephemeral, request)
}

/// The realm's side of [`request_for`]: opens the broker's `response` to `nonce`.
#[allow(dead_code, reason = "not every test binary makes real requests")]
pub fn open(
    ephemeral: &realm_sdk::broker::EphemeralKey,
    nonce: &[u8; 32],
    response: &[u8],
) -> Result<realm_sdk::seal::SealingKey, BrokerError> {
    ephemeral.open(
        &pinned_broker(),
        nonce,
        realm_sdk::seal::Policy::RimRpv,
        response,
    )
}

/// A configuration serving `image` (RPV 9s) on the model's test platform.
#[allow(
    dead_code,
    reason = "not every test binary builds its own configuration"
)]
pub fn config_for(image: &[u8]) -> key_broker::BrokerConfig {
    key_broker::BrokerConfig {
        anchors: vec![rmm_model::token::InsecureTestIssuer::new().trust_anchor()],
        master_secret: zeroize::Zeroizing::new(MASTER_SECRET),
        allowed: vec![key_broker::AllowedRealm {
            rim: HashAlgorithm::Sha256.hash(&[image]).as_bytes().to_vec(),
            rpv: Some(vec![9; 64]),
        }],
        policies: vec![realm_sdk::seal::Policy::RimRpv],
        appraisal: None,
    }
}

/// A host that relays honestly, straight to a broker session.
#[allow(
    dead_code,
    reason = "not every test binary runs realms through a provider"
)]
pub struct Direct<'a>(pub &'a key_broker::Session);

impl realm_sdk::broker::Transport for Direct<'_> {
    type Error = key_broker::Refusal;

    fn nonce(&mut self, _: &mut dyn realm_sdk::Conduit) -> Result<[u8; 32], Self::Error> {
        Ok(self.0.nonce())
    }

    fn release(
        &mut self,
        _: &mut dyn realm_sdk::Conduit,
        request: &[u8],
        response: &mut [u8; realm_sdk::broker::RESPONSE_SIZE],
    ) -> Result<(), Self::Error> {
        *response = self.0.release(request)?;
        Ok(())
    }
}
