//! Islet's sealing-key provider against the model's simulation of Islet's call
//! (`rmm_model::islet`), against a TF-RMM-like model that lacks the call, and against a fake
//! conduit for the register encoding (Islet `doc/components/sealing.md`,
//! "RSI_ISLET_REALM_SEALING_KEY command").

use cca_abi::measurement::HashAlgorithm;
use cca_abi::smccc::Regs;
use realm_sdk::islet::{
    Ikm, IsletError, IsletProvider, RSI_ISLET_REALM_SEALING_KEY, SealingFlags, sealing_key,
};
use realm_sdk::seal::{self, Policy, SealingKeyProvider};
use realm_sdk::{Conduit, Realm};
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

/// The `RsiIsletSealingFlags` table: bits 0 to 3, bits 4 to 63 reserved.
#[test]
fn flags_round_trip_and_reserved_bits_are_refused() {
    for raw in 0..16 {
        let f = SealingFlags::from_raw(raw, 7).unwrap();
        assert_eq!(f.to_raw(), raw);
        assert_eq!(f.svn, (raw & 8 != 0).then_some(7));
        assert_eq!(f.svn_raw(), if raw & 8 != 0 { 7 } else { 0 });
        let regs = f.to_regs();
        assert_eq!(regs[..3], [RSI_ISLET_REALM_SEALING_KEY, raw, f.svn_raw()]);
        assert!(regs[3..].iter().all(|&r| r == 0));
    }
    for bit in 4..64 {
        assert_eq!(SealingFlags::from_raw(1 << bit, 0), None, "bit {bit}");
        assert_eq!(SealingFlags::from_raw(1 << bit | 0xf, 7), None, "bit {bit}");
    }
    assert_eq!(MEASURED.to_raw(), 0b0011);
}

/// The input and output values tables: `x0` = function id, `x1` = flags, `x2` = SVN (0
/// without the SVN flag); the key is the little-endian bytes of `x1..x4`; statuses become
/// errors.
#[test]
fn registers_in_and_out() {
    struct Fake {
        seen: Vec<Regs>,
        reply: Regs,
    }
    impl Conduit for Fake {
        fn call(&mut self, regs: Regs) -> Regs {
            self.seen.push(regs);
            self.reply
        }
    }
    let mut reply = [0u64; 18];
    for (i, r) in reply[1..5].iter_mut().enumerate() {
        let base = 8 * i as u8;
        *r = u64::from_le_bytes(core::array::from_fn(|j| base + j as u8));
    }
    let mut fake = Fake {
        seen: Vec::new(),
        reply,
    };
    let flags = SealingFlags {
        ikm: Ikm::VhukA,
        rim: false,
        realm_id: true,
        svn: Some(9),
    };
    let k = sealing_key(&mut fake, flags).unwrap();
    let expected: [u8; 32] = core::array::from_fn(|i| i as u8);
    assert_eq!(k.expose_secret(), &expected);
    sealing_key(&mut fake, MEASURED).unwrap();
    let mut want = [[0u64; 18]; 2];
    want[0][..3].copy_from_slice(&[RSI_ISLET_REALM_SEALING_KEY, 0b1100, 9]);
    want[1][..3].copy_from_slice(&[0xC700_0191, 0b0011, 0]);
    assert_eq!(fake.seen, want);

    for (x0, err) in [
        (1, IsletError::Input),
        (u64::MAX, IsletError::NotSupported),
        (2, IsletError::Unknown(2)),
        (3, IsletError::Unknown(3)),
        (0xC700_0191, IsletError::Unknown(0xC700_0191)),
    ] {
        fake.reply[0] = x0;
        assert_eq!(sealing_key(&mut fake, flags).err(), Some(err), "x0 {x0:#x}");
        assert_eq!(IsletError::from_status(x0), Some(err));
        assert_eq!(err.status(), Some(x0));
    }
    assert_eq!(IsletError::from_status(0), None);
    assert_eq!(
        IsletError::PolicyUnsupported(Policy::RimRpvRems).status(),
        None
    );
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
        assert_eq!(p.flags(Policy::RimRpv), Some(MEASURED));
        assert_eq!(p.flags(Policy::RimRpvRems), None);
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

    // The provider's key is the call's with its flags; the realm ID and SVN it adds change it.
    let direct = sealing_key(&mut islet_realm(b"app", 1), MEASURED).unwrap();
    assert_eq!(direct.id(), k.id());
    let mut sim = islet_realm(b"app", 1);
    let mut realm = Realm::new(&mut sim).unwrap();
    let mut p = IsletProvider::new(&mut realm);
    p.realm_id = true;
    p.svn = Some(2);
    assert_eq!(
        p.flags(Policy::RimRpv),
        Some(SealingFlags {
            realm_id: true,
            svn: Some(2),
            ..MEASURED
        })
    );
    let other = p.sealing_key(Policy::RimRpv).unwrap();
    assert_ne!(other.id(), k.id());
    assert_eq!(
        seal::unseal(&other, &blob, b"", &mut out),
        Err(seal::SealError::KeyMismatch)
    );
}
