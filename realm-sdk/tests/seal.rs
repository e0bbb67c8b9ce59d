//! Sealing on the RMM model: round trips, identity binding, and every kind of tampering
//! giving a typed error.

use cca_abi::measurement::HashAlgorithm;
use realm_sdk::seal::{
    self, Header, InsecureSimulatedProvider, Policy, SealError, SealingKeyProvider,
};
use realm_sdk::{Realm, RemIndex};
use rmm_model::RealmConfig;
use rmm_model::sim::Simulator;

fn config(image: &[u8]) -> RealmConfig {
    RealmConfig {
        rim: HashAlgorithm::Sha256.hash(&[image]),
        rpv: [7; 64],
        ..RealmConfig::default()
    }
}

fn provider(c: RealmConfig) -> InsecureSimulatedProvider {
    let mut s = Simulator::new(c);
    let mut realm = Realm::new(&mut s).unwrap();
    InsecureSimulatedProvider::new(&mut realm).unwrap()
}

const PROVIDER: u8 = InsecureSimulatedProvider::PROVIDER;

/// The same realm identity gets the same key in another run; the blob opens there.
#[test]
fn same_identity_unseals_across_runs() {
    let key1 = provider(config(b"image v1"))
        .sealing_key(Policy::RimRpv)
        .unwrap();
    let mut buf = [0u8; 256];
    let blob = seal::seal(
        &key1,
        Policy::RimRpv,
        PROVIDER,
        [1; 12],
        b"the secret",
        b"ctx",
        &mut buf,
    )
    .unwrap()
    .to_vec();
    let key2 = provider(config(b"image v1"))
        .sealing_key(Policy::RimRpv)
        .unwrap();
    assert_eq!(key1.id(), key2.id());
    let mut out = [0u8; 64];
    assert_eq!(
        seal::unseal(&key2, &blob, b"ctx", &mut out).unwrap(),
        b"the secret"
    );
    let h = Header::parse(&blob).unwrap();
    assert_eq!(
        (h.policy, h.provider, h.len),
        (Policy::RimRpv, PROVIDER, 10)
    );
}

/// Another image (RIM) or another RPV gets another key: the blob does not open.
#[test]
fn other_identity_is_refused() {
    let key = provider(config(b"image v1"))
        .sealing_key(Policy::RimRpv)
        .unwrap();
    let mut buf = [0u8; 256];
    let blob = seal::seal(&key, Policy::RimRpv, PROVIDER, [2; 12], b"s", b"", &mut buf)
        .unwrap()
        .to_vec();
    let mut out = [0u8; 8];
    let other_image = provider(config(b"image v2"))
        .sealing_key(Policy::RimRpv)
        .unwrap();
    assert_eq!(
        seal::unseal(&other_image, &blob, b"", &mut out),
        Err(SealError::KeyMismatch)
    );
    let other_rpv = provider(RealmConfig {
        rpv: [8; 64],
        ..config(b"image v1")
    })
    .sealing_key(Policy::RimRpv)
    .unwrap();
    assert_eq!(
        seal::unseal(&other_rpv, &blob, b"", &mut out),
        Err(SealError::KeyMismatch)
    );
}

/// With the REM policy the key follows what the realm measured.
#[test]
fn rem_policy_follows_measurements() {
    let mut s = Simulator::new(config(b"image"));
    let mut realm = Realm::new(&mut s).unwrap();
    let before = InsecureSimulatedProvider::new(&mut realm)
        .unwrap()
        .sealing_key(Policy::RimRpvRems)
        .unwrap();
    let rim_only = InsecureSimulatedProvider::new(&mut realm)
        .unwrap()
        .sealing_key(Policy::RimRpv)
        .unwrap();
    realm
        .measurement_extend(RemIndex::REM2, b"loaded module")
        .unwrap();
    let after = InsecureSimulatedProvider::new(&mut realm)
        .unwrap()
        .sealing_key(Policy::RimRpvRems)
        .unwrap();
    let rim_only_after = InsecureSimulatedProvider::new(&mut realm)
        .unwrap()
        .sealing_key(Policy::RimRpv)
        .unwrap();
    assert_ne!(before.id(), after.id());
    assert_eq!(rim_only.id(), rim_only_after.id());
    assert_ne!(
        rim_only.id(),
        before.id(),
        "the policy is part of the derivation"
    );
}

/// Any byte of the blob altered, the additional data altered, or the blob cut: a typed
/// error, never the plaintext.
#[test]
fn tampering_is_detected() {
    let key = provider(config(b"image"))
        .sealing_key(Policy::RimRpv)
        .unwrap();
    let mut buf = [0u8; 256];
    let blob = seal::seal(
        &key,
        Policy::RimRpv,
        PROVIDER,
        [3; 12],
        b"sealed data!",
        b"aad",
        &mut buf,
    )
    .unwrap()
    .to_vec();
    let mut out = [0u8; 64];
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x40;
        let err = seal::unseal(&key, &bad, b"aad", &mut out).unwrap_err();
        let want: &[SealError] = match i {
            0..=3 => &[SealError::Magic],
            4 | 7 => &[SealError::Version(bad[4])],
            5 => &[SealError::Policy(bad[5])],
            8..=15 => &[SealError::KeyMismatch],
            28..=31 => &[SealError::Truncated],
            _ => &[SealError::Tampered],
        };
        assert!(want.contains(&err), "byte {i}: {err:?}");
    }
    assert_eq!(
        seal::unseal(&key, &blob, b"aaD", &mut out),
        Err(SealError::Tampered)
    );
    for len in 0..blob.len() {
        assert!(
            seal::unseal(&key, &blob[..len], b"aad", &mut out).is_err(),
            "cut at {len}"
        );
    }
    assert_eq!(
        seal::unseal(&key, &blob, b"aad", &mut out[..5]),
        Err(SealError::BufferTooSmall { needed: 12 })
    );
}
