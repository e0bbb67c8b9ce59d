//! The realm builder end to end on the software RMM model: build, run the realm's code,
//! tear down; the predicted RIM equals the RIM the model measured and the RIM the realm
//! reads; a failure injected at every RMI call in turn leaves no granule delegated.

use std::sync::{Arc, Mutex};

use cca_abi::hostcall::CONSOLE_WRITE;
use cca_abi::measurement::HashAlgorithm;
use cca_abi::rsi::{RipasChangeDestroyed, RsiHostCall};
use cca_abi::smccc::{Conduit, pack_bytes};
use realm_sdk::{Ipa, Realm as RealmView, RemIndex, Ripas, psci, rsi};
use rmi_shim::builder::{
    BuildError, Host, RangeSource, Realm, RealmConfig, RipasDecision, RunOutcome,
};
use rmm_model::rmi::{Rmm, RmmConfig};

/// What the in-process realm prints through host calls.
fn print(c: &mut dyn Conduit, text: &str) {
    for chunk in text.as_bytes().chunks(240) {
        let mut call = Box::new(RsiHostCall::new(CONSOLE_WRITE));
        call.gprs[0] = chunk.len() as u64;
        pack_bytes(chunk, &mut call.gprs[1..]);
        rsi::host_call(c, &mut call).unwrap();
    }
}

/// The realm program: reads its view, extends a REM, asks for a RIPAS change inside its
/// RAM, prints, switches itself off.
fn program(rec: usize, c: &mut dyn Conduit) {
    assert_eq!(rec, 0);
    let mut realm = RealmView::new(&mut *c).expect("RSI works");
    let rim = realm.rim().unwrap();
    realm.measurement_extend(RemIndex::REM0, b"event").unwrap();
    let r = realm.set_ripas(
        Ipa(0x8010_0000),
        Ipa(0x8010_4000),
        Ripas::Empty,
        RipasChangeDestroyed::NoChange,
    );
    let text = format!("rim={rim} width={} ripas={r:?}\n", realm.ipa_width());
    print(c, &text);
    psci::system_off(c).unwrap();
}

#[derive(Default)]
struct Console(Vec<u8>);

impl Host for Console {
    fn console(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn ripas_change(&mut self, _: u64, _: u64, _: Ripas) -> RipasDecision {
        RipasDecision::Accept
    }
}

const POOL: (u64, u64) = (0x1_0000_0000, 0x1_0400_0000);

fn rmm() -> Rmm {
    let mut rmm = Rmm::new(RmmConfig {
        delegable: POOL,
        ..RmmConfig::default()
    });
    rmm.set_program(Arc::new(program));
    rmm
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// In-process realms keep their buffers in the test process, whose addresses need a 48-bit
/// IPA space to lie in the protected half.
fn configs(image: &[u8]) -> Vec<RealmConfig<'_>> {
    let base = RealmConfig {
        image,
        ram_size: 4 << 20,
        ipa_width: 48,
        ..RealmConfig::default()
    };
    vec![
        base.clone(),
        RealmConfig {
            hash: HashAlgorithm::Sha512,
            ..base.clone()
        },
        RealmConfig {
            rpv: [0xa5; 64],
            ..base.clone()
        },
        RealmConfig {
            recs: 3,
            entry_regs: [1, 2, 3, 4, 5, 6, 7, 8],
            ..base.clone()
        },
        RealmConfig {
            ram_size: 8 << 20,
            ..base.clone()
        },
    ]
}

/// Predicted RIM == the model's measured RIM == the RIM the realm reads, for several
/// configurations and image sizes; the run ends with SYSTEM_OFF; teardown leaves nothing.
#[test]
fn build_run_destroy_on_the_model() {
    for len in [1, 4096, 4097, 100_000] {
        let img = image(len);
        for config in configs(&img) {
            let predicted = config.predict_rim().unwrap();
            let mut rmm = rmm();
            let mut source = RangeSource::new(POOL.0, POOL.1);
            let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
            let mut console = Console::default();
            assert_eq!(realm.run(&mut console).unwrap(), RunOutcome::SystemOff);
            let out = String::from_utf8(console.0).unwrap();
            assert!(
                out.starts_with(&format!("rim={predicted} width={}", config.ipa_width)),
                "{out}"
            );
            assert!(out.contains("ripas=Ok(())"), "{out}");
            realm.destroy().unwrap();
            assert_eq!(rmm.delegated_count(), 0);
            assert_eq!(source.outstanding(POOL.0), 0);
        }
    }
}

/// The RMM's RIM after activation is the prediction, before anything runs.
#[test]
fn model_rim_equals_prediction() {
    let img = image(10_000);
    for config in configs(&img) {
        let mut rmm = rmm();
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
        let rd = realm.rd().unwrap().addr();
        // Keep the realm alive (no teardown) to read the RMM's state.
        std::mem::forget(realm);
        assert_eq!(rmm.rim(rd).unwrap(), config.predict_rim().unwrap());
    }
}

/// A failure injected at every RMI call of build + run + destroy, in turn, leaves 0
/// granules delegated in the model and every granule back in the source.
#[test]
fn a_fault_at_any_call_leaks_nothing() {
    let img = image(9000);
    let config = RealmConfig {
        recs: 2,
        ram_size: 2 << 20,
        ipa_width: 48,
        ..RealmConfig {
            image: &img,
            ..RealmConfig::default()
        }
    };
    // Count the calls of a clean run first.
    let total = {
        let mut rmm = rmm();
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
        realm.run(&mut Console::default()).unwrap();
        realm.destroy().unwrap();
        rmm.calls()
    };
    assert!(total > 500, "{total} calls");
    let outcomes = Arc::new(Mutex::new([0usize; 3]));
    for n in 0..total {
        let mut rmm = rmm();
        rmm.fail_call(n);
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let result = Realm::build(&mut rmm, &mut source, &config).and_then(|mut realm| {
            let outcome = realm.run(&mut Console::default());
            let destroyed = realm.destroy();
            outcome.and(destroyed)
        });
        let kind = match result {
            Ok(()) => 0,
            Err(BuildError::Leaked { .. }) => panic!("call {n}: {result:?}"),
            Err(_) => 1,
        };
        outcomes.lock().unwrap()[kind] += 1;
        assert_eq!(
            rmm.delegated_count(),
            0,
            "fault at call {n} of {total}: granules left delegated"
        );
        assert_eq!(
            source.outstanding(POOL.0),
            0,
            "fault at call {n}: granules not returned"
        );
    }
    let o = outcomes.lock().unwrap();
    assert!(o[1] > 0, "faults must make some builds fail: {o:?}");
}

/// PSCI across RECs on the model: REC 0 starts REC 1 with CPU_ON (completed by the host with
/// RMI_PSCI_COMPLETE), REC 1 runs and calls CPU_OFF, REC 0 sees it off with AFFINITY_INFO and
/// switches the realm off. The builder's run loop schedules both RECs.
#[test]
fn cpu_on_starts_a_second_rec() {
    use realm_sdk::psci::AffinityState;
    let mut rmm = Rmm::new(RmmConfig {
        delegable: POOL,
        ..RmmConfig::default()
    });
    rmm.set_program(Arc::new(|rec, c: &mut dyn Conduit| match rec {
        0 => {
            psci::cpu_on(c, 1, 0x8000_0000, 7).unwrap();
            while psci::affinity_info(c, 1).unwrap() != AffinityState::Off {}
            print(c, "rec 0: rec 1 is off\n");
            psci::system_off(c).unwrap();
        }
        _ => {
            print(c, "rec 1: up\n");
            psci::cpu_off(c).unwrap();
        }
    }));
    let img = image(100);
    let config = RealmConfig {
        recs: 2,
        ram_size: 2 << 20,
        ipa_width: 48,
        ..RealmConfig {
            image: &img,
            ..RealmConfig::default()
        }
    };
    let mut source = RangeSource::new(POOL.0, POOL.1);
    let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
    let mut console = Console::default();
    assert_eq!(realm.run(&mut console).unwrap(), RunOutcome::SystemOff);
    assert_eq!(
        String::from_utf8(console.0).unwrap(),
        "rec 1: up\nrec 0: rec 1 is off\n"
    );
    realm.destroy().unwrap();
    assert_eq!(rmm.delegated_count(), 0);
}
