//! Fuzzes the key-release protocol's decoders (`realm_sdk::broker`): a request as the
//! broker reads it, and a response as the realm opens it, both straight from the host. No
//! input may panic, and nothing but the pinned broker's genuine answer may open.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use realm_sdk::broker::{EphemeralKey, Request, Response};
use realm_sdk::seal::Policy;

/// Fixed keys, made once: the realm's ephemeral key, the pinned broker's identity, and the
/// identity and ephemeral key of a broker answering decoded requests.
fn key(byte: u8) -> EphemeralKey {
    EphemeralKey::from_secret(p384::SecretKey::from_slice(&[byte; 48]).expect("valid scalar"))
}
static REALM: LazyLock<EphemeralKey> = LazyLock::new(|| key(0x11));
static PINNED: LazyLock<EphemeralKey> = LazyLock::new(|| key(0x22));
static BROKER: LazyLock<EphemeralKey> = LazyLock::new(|| key(0x33));
static BROKER_EPHEMERAL: LazyLock<EphemeralKey> = LazyLock::new(|| key(0x44));

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::decode(data) {
        // What the broker computes from a request before answering it.
        let _ = request.challenge(&[4; 97]);
        let _ = BROKER.respond(&request, &BROKER_EPHEMERAL, [0; 12], &[0; 32]);
        let mut out = vec![0u8; data.len()];
        let encoded = request.encode(&mut out).expect("a decoded request re-encodes");
        assert_eq!(encoded, data, "decode and encode round-trip");
    }
    if let Ok(response) = Response::decode(data) {
        assert_eq!(&response.encode()[..], data, "decode and encode round-trip");
    }
    let broker = PINNED.broker_public_key();
    for policy in [Policy::RimRpv, Policy::RimRpvRems] {
        let opened = REALM.open(&broker, &[7; 32], policy, data);
        assert!(opened.is_err(), "a response no broker made opened");
    }
});
