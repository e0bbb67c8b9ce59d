//! Islet's sealing-key provider against the model's simulation of Islet's call
//! (`rmm_model::islet`), and against a TF-RMM-like model that lacks the call.

use cca_abi::measurement::HashAlgorithm;
use realm_sdk::Realm;
use realm_sdk::islet::{Ikm, IsletError, IsletProvider, SealingFlags, sealing_key};
use realm_sdk::seal::{self, Policy, SealingKeyProvider};
use rmm_model::RealmConfig;
use rmm_model::islet::IsletSealing;
use rmm_model::sim::Simulator;

fn islet_realm(image: &[u8], rpv: u8) -> Simulator {
    let mut sim = Simulator::new(RealmConfig {
        rim: HashAlgorithm::Sha256.hash(&[image]),
        rpv: [rpv; 64],
        ..RealmConfig::default()
    });
    sim.model().simulate_islet_sealing(IsletSealing { svn: 3 });
    sim
}

fn key(sim: &mut Simulator, flags: SealingFlags) -> Result<[u8; 8], IsletError> {
    sealing_key(sim, flags).map(|k| k.id())
}

const MEASURED: SealingFlags = SealingFlags {
    ikm: Ikm::VhukM,
    rim: true,
    realm_id: false,
    svn: None,
};

#[test]
fn flags_round_trip_and_reserved_bits_are_refused() {
    for raw in 0..16 {
        let f = SealingFlags::from_raw(raw, 7).unwrap();
        assert_eq!(f.to_raw(), raw);
        assert_eq!(f.svn, (raw & 8 != 0).then_some(7));
    }
    assert_eq!(SealingFlags::from_raw(1 << 4, 0), None);
    assert_eq!(SealingFlags::from_raw(1 << 63, 0), None);
    assert_eq!(MEASURED.to_raw(), 0b0011);
}

/// The same realm identity gets the same key; another RIM another one with the RIM flag and
/// the same one without; another RPV always another one; the input key matters.
#[test]
fn keys_follow_the_identity_the_flags_select() {
    let a = key(&mut islet_realm(b"app v1", 1), MEASURED).unwrap();
    assert_eq!(key(&mut islet_realm(b"app v1", 1), MEASURED).unwrap(), a);
    assert_ne!(key(&mut islet_realm(b"app v2", 1), MEASURED).unwrap(), a);
    assert_ne!(key(&mut islet_realm(b"app v1", 2), MEASURED).unwrap(), a);
    let no_rim = SealingFlags {
        rim: false,
        ..MEASURED
    };
    assert_eq!(
        key(&mut islet_realm(b"app v1", 1), no_rim).unwrap(),
        key(&mut islet_realm(b"app v2", 1), no_rim).unwrap()
    );
    let authority = SealingFlags {
        ikm: Ikm::VhukA,
        ..MEASURED
    };
    assert_ne!(key(&mut islet_realm(b"app v1", 1), authority).unwrap(), a);
}

/// Islet's failure condition `svn_valid`: an SVN of 0 or above the realm's is refused.
#[test]
fn svn_zero_or_above_the_realms_is_an_input_error() {
    let mut sim = islet_realm(b"app", 1);
    for (svn, ok) in [(0, false), (1, true), (3, true), (4, false)] {
        let flags = SealingFlags {
            svn: Some(svn),
            ..MEASURED
        };
        assert_eq!(key(&mut sim, flags).is_ok(), ok, "svn {svn}");
        if !ok {
            assert_eq!(key(&mut sim, flags), Err(IsletError::Input));
        }
    }
    // An older SVN gives another key than the current one.
    let at = |svn| {
        key(
            &mut islet_realm(b"app", 1),
            SealingFlags {
                svn: Some(svn),
                ..MEASURED
            },
        )
    };
    assert_ne!(at(2), at(3));
}

/// TF-RMM has no such call.
#[test]
fn an_rmm_without_the_call_says_not_supported() {
    let mut sim = Simulator::new(RealmConfig::default());
    assert_eq!(key(&mut sim, MEASURED), Err(IsletError::NotSupported));
}

/// The provider: RIM+RPV keys that seal in one run and unseal in the next; no REM policy.
#[test]
fn provider_seals_across_runs_and_refuses_rems() {
    let mut sealed = [0u8; 128];
    let blob = {
        let mut sim = islet_realm(b"app", 1);
        let mut realm = Realm::new(&mut sim).unwrap();
        let mut p = IsletProvider::new(&mut realm);
        assert_eq!(
            p.sealing_key(Policy::RimRpvRems).err(),
            Some(IsletError::PolicyUnsupported(Policy::RimRpvRems))
        );
        let k = p.sealing_key(Policy::RimRpv).unwrap();
        let provider = <IsletProvider<'_, &mut Simulator> as SealingKeyProvider>::PROVIDER;
        seal::seal(
            &k,
            Policy::RimRpv,
            provider,
            [9; 12],
            b"secret",
            b"",
            &mut sealed,
        )
        .unwrap()
        .to_vec()
    };
    let mut sim = islet_realm(b"app", 1);
    let mut realm = Realm::new(&mut sim).unwrap();
    let k = IsletProvider::new(&mut realm)
        .sealing_key(Policy::RimRpv)
        .unwrap();
    let mut out = [0u8; 16];
    assert_eq!(seal::unseal(&k, &blob, b"", &mut out).unwrap(), b"secret");
}
