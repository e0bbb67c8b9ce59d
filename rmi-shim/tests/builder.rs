//! The realm builder end to end on the software RMM model: build, run the realm's code,
//! tear down; the predicted RIM equals the RIM the model measured and the RIM the realm
//! reads; a failure injected at every RMI call in turn leaves no granule delegated.
#![allow(
    clippy::single_range_in_vec_init,
    reason = "`RealmConfig::unmeasured` is a list of byte ranges; one range is a list of one"
)]

use std::sync::{Arc, Mutex};

use cca_abi::hostcall::CONSOLE_WRITE;
use cca_abi::measurement::HashAlgorithm;
use cca_abi::rmi::Generation;
use cca_abi::rmi::RmiCommand;
use cca_abi::rsi::{RipasChangeDestroyed, RsiHostCall};
use cca_abi::smccc::{Conduit, pack_bytes};
use realm_sdk::{Ipa, Realm as RealmView, RemIndex, Ripas, psci, rsi};
use rmi_shim::builder::{
    BuildError, Host, NotShared, Populate, RangeSource, Realm, RealmConfig, RipasDecision,
    RunOutcome, SharedMemory,
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
    rmm_for(Generation::V1_0)
}

/// Both RMI generations the builder speaks: the model as TF-RMM v0.8.0 and as v0.9.0.
const GENERATIONS: [Generation; 2] = [Generation::V1_0, Generation::V2_0];

/// The model as an RMM of `generation`, running [`program`].
fn rmm_for(generation: Generation) -> Rmm {
    let config = match generation {
        Generation::V1_0 => RmmConfig::default(),
        Generation::V2_0 => RmmConfig::tf_rmm_v0_9(),
    };
    let mut rmm = Rmm::new(RmmConfig {
        delegable: POOL,
        ..config
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
        // The RealmParams and RecParams fields beyond the defaults (issue 10, item 8).
        RealmConfig {
            sve_vl: Some(3),
            ..base.clone()
        },
        RealmConfig {
            lpa2: true,
            ipa_width: 50,
            ..base.clone()
        },
        RealmConfig {
            entry: Some(base.ram_base + 0x2000),
            ..base.clone()
        },
        RealmConfig {
            unmeasured: if image.len() > 4096 { &[0..4096] } else { &[] },
            ..base.clone()
        },
    ]
}

/// Each configurable field changes the RIM exactly when the RMM measures it: flags0 (LPA2,
/// SVE, PMU), sve_vl, pmu_num_ctrs, the entry point and unmeasured content do; the root RTT
/// level does not (cca-abi.md §6.1, §6.3).
#[test]
fn measured_fields_change_the_rim() {
    let img = image(3 * 4096);
    let base = RealmConfig {
        image: &img,
        ..RealmConfig::default()
    };
    for generation in GENERATIONS {
        let rim = |c: &RealmConfig<'_>| c.predict_rim_for(generation).unwrap();
        let reference = rim(&base);
        let changed = [
            (
                "sve",
                RealmConfig {
                    sve_vl: Some(0),
                    ..base.clone()
                },
            ),
            (
                "sve_vl",
                RealmConfig {
                    sve_vl: Some(1),
                    ..base.clone()
                },
            ),
            (
                "pmu",
                RealmConfig {
                    pmu_counters: Some(2),
                    ..base.clone()
                },
            ),
            (
                "lpa2",
                RealmConfig {
                    lpa2: true,
                    ..base.clone()
                },
            ),
            (
                "entry",
                RealmConfig {
                    entry: Some(base.ram_base + 4),
                    ..base.clone()
                },
            ),
            (
                "unmeasured",
                RealmConfig {
                    unmeasured: &[4096..8192],
                    ..base.clone()
                },
            ),
        ];
        let mut seen = vec![reference];
        for (what, config) in &changed {
            let r = rim(config);
            assert!(
                !seen.contains(&r),
                "{generation}: {what} left the RIM as another"
            );
            seen.push(r);
        }
        assert_ne!(
            rim(&RealmConfig {
                sve_vl: Some(1),
                ..base.clone()
            }),
            rim(&RealmConfig {
                sve_vl: Some(2),
                ..base.clone()
            }),
        );
        // Unmeasured content: the bytes there no longer matter, the ones elsewhere do.
        let mut other = img.clone();
        other[5000] ^= 1;
        let skip = RealmConfig {
            unmeasured: &[4096..8192],
            ..base.clone()
        };
        assert_eq!(
            rim(&skip),
            rim(&RealmConfig {
                image: &other,
                ..skip.clone()
            })
        );
        other[9000] ^= 1;
        assert_ne!(
            rim(&skip),
            rim(&RealmConfig {
                image: &other,
                ..skip.clone()
            })
        );
        // The root level is not measured.
        let deep = RealmConfig {
            ipa_width: 34,
            rtt_level_start: Some(2),
            ..base.clone()
        };
        assert_eq!(
            rim(&RealmConfig {
                ipa_width: 34,
                ..base.clone()
            }),
            rim(&deep)
        );
    }
}

/// Realm parameters the RMM does not offer, or that no RMM accepts, are refused before
/// anything is delegated, each naming what is wrong.
#[test]
fn realm_parameters_beyond_the_rmm_are_refused() {
    let img = image(4096);
    let base = RealmConfig {
        image: &img,
        ..RealmConfig::default()
    };
    let refused = |generation: Generation, config: RealmConfig<'_>| {
        let mut rmm = rmm_for(generation);
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let Err(e) = Realm::build(&mut rmm, &mut source, &config) else {
            panic!("{generation}: built");
        };
        assert_eq!(rmm.delegated_count(), 0);
        assert_eq!(source.outstanding(POOL.0), 0);
        e
    };
    // TF-RMM v0.9.0 offers no PMU.
    let pmu = RealmConfig {
        pmu_counters: Some(2),
        ..base.clone()
    };
    let e = refused(Generation::V2_0, pmu.clone());
    assert_eq!(e, BuildError::NotOffered("the PMU"));
    assert_eq!(
        e.to_string(),
        "the realm asks for the PMU, which the RMM does not offer (RMI_FEATURES)"
    );
    // v0.8.0 on QEMU offers 6 counters.
    let e = refused(
        Generation::V1_0,
        RealmConfig {
            pmu_counters: Some(7),
            ..base.clone()
        },
    );
    assert_eq!(
        e.to_string(),
        "the RMM does not accept pmu_num_ctrs = 7: RMI_FEATURES(0) allows 0 to 6"
    );
    for generation in GENERATIONS {
        for (config, what) in [
            (
                RealmConfig {
                    sve_vl: Some(16),
                    ..base.clone()
                },
                "sve_vl must be 0 to 15",
            ),
            (
                RealmConfig {
                    ipa_width: 50,
                    ..base.clone()
                },
                "ipa_width must be 32 to 48 (52 with LPA2)",
            ),
            (
                RealmConfig {
                    rtt_level_start: Some(0),
                    ..base.clone()
                },
                "rtt_level_start does not fit ipa_width",
            ),
            (
                RealmConfig {
                    rtt_level_start: Some(-1),
                    lpa2: true,
                    ..base.clone()
                },
                "rtt_level_start does not fit ipa_width",
            ),
            (
                RealmConfig {
                    entry: Some(base.ram_base + 2),
                    ..base.clone()
                },
                "entry must be a 4-byte aligned IPA inside RAM",
            ),
            (
                RealmConfig {
                    entry: Some(base.ram_base + base.ram_size),
                    ..base.clone()
                },
                "entry must be a 4-byte aligned IPA inside RAM",
            ),
            (
                RealmConfig {
                    unmeasured: &[100..4096],
                    ..base.clone()
                },
                "each unmeasured range must",
            ),
            (
                RealmConfig {
                    unmeasured: &[0..4097],
                    ..base.clone()
                },
                "each unmeasured range must",
            ),
        ] {
            let e = refused(generation, config);
            assert!(
                matches!(e, BuildError::Config(text) if text.starts_with(what)),
                "{generation}: {e}"
            );
        }
    }
}

/// Every root RTT level TF-RMM accepts for an IPA width builds (the model implements levels
/// 0 to 2), with the number of concatenated tables TF-RMM requires.
#[test]
fn root_rtt_levels_build() {
    let img = image(4096);
    for generation in GENERATIONS {
        for (ipa_width, level) in [(32, 2), (34, 2), (33, 1), (43, 1), (40, 0), (48, 0)] {
            let config = RealmConfig {
                image: &img,
                ram_base: 0x4000_0000,
                ram_size: 2 << 20,
                ipa_width,
                rtt_level_start: Some(level),
                uart_ipa: None,
                ..RealmConfig::default()
            };
            let mut rmm = rmm_for(generation);
            let mut source = RangeSource::new(POOL.0, POOL.1);
            let realm = Realm::build(&mut rmm, &mut source, &config)
                .unwrap_or_else(|e| panic!("{generation}: {ipa_width} bits at level {level}: {e}"));
            let rd = realm.rd().unwrap().addr();
            std::mem::forget(realm);
            assert_eq!(
                rmm.rim(rd).unwrap(),
                config.predict_rim_for(generation).unwrap()
            );
        }
    }
}

/// Predicted RIM == the model's measured RIM == the RIM the realm reads, for several
/// configurations and image sizes; the run ends with SYSTEM_OFF; teardown leaves nothing.
#[test]
fn build_run_destroy_on_the_model() {
    for (generation, len) in GENERATIONS
        .into_iter()
        .flat_map(|g| [1, 4096, 4097, 100_000].map(|len| (g, len)))
    {
        let img = image(len);
        for config in configs(&img) {
            let predicted = config.predict_rim_for(generation).unwrap();
            let mut rmm = rmm_for(generation);
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
            assert_eq!(realm.generation(), generation);
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
    for (generation, config) in GENERATIONS
        .into_iter()
        .flat_map(|g| configs(&img).into_iter().map(move |c| (g, c)))
    {
        let mut rmm = rmm_for(generation);
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
        let rd = realm.rd().unwrap().addr();
        // Keep the realm alive (no teardown) to read the RMM's state.
        std::mem::forget(realm);
        assert_eq!(
            rmm.rim(rd).unwrap(),
            config.predict_rim_for(generation).unwrap()
        );
    }
}

/// A failure injected at every RMI call of build + run + destroy, in turn, leaves 0
/// granules delegated in the model and every granule back in the source, on either
/// generation.
#[test]
fn a_fault_at_any_call_leaks_nothing() {
    for generation in GENERATIONS {
        a_fault_at_any_call_leaks_nothing_on(generation);
    }
}

fn a_fault_at_any_call_leaks_nothing_on(generation: Generation) {
    for populate in [Populate::OnDemand, Populate::Eager] {
        a_fault_at_any_call_leaks_nothing_with(generation, populate);
    }
}

fn a_fault_at_any_call_leaks_nothing_with(generation: Generation, populate: Populate) {
    let img = image(9000);
    // On demand the realm reaches into the second 2 MiB block (RMI 2.0 then creates its
    // level-3 table); eager builds stay at 2 MiB to keep the number of runs down.
    let ram_size = match populate {
        Populate::OnDemand => 4 << 20,
        Populate::Eager => 2 << 20,
    };
    let ram = ProcessRam::new(ram_size as usize);
    let config = RealmConfig {
        recs: 2,
        ram_base: ram.base(),
        ram_size,
        ipa_width: 48,
        populate,
        ..RealmConfig {
            image: &img,
            ..RealmConfig::default()
        }
    };
    let rmm_for = |generation| {
        let mut rmm = rmm_for(generation);
        rmm.set_program(touching_program(ram.base(), ram_size - (1 << 20), 3));
        rmm
    };
    // Count the calls of a clean run first.
    let total = {
        let mut rmm = rmm_for(generation);
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
        realm.run(&mut Console::default()).unwrap();
        realm.destroy().unwrap();
        rmm.calls()
    };
    assert!(total > 100, "{generation}, {populate:?}: {total} calls");
    let outcomes = Arc::new(Mutex::new([0usize; 3]));
    for n in 0..total {
        let mut rmm = rmm_for(generation);
        rmm.fail_call(n);
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let result = Realm::build(&mut rmm, &mut source, &config).and_then(|mut realm| {
            let outcome = realm.run(&mut Console::default());
            let destroyed = realm.destroy();
            outcome.and(destroyed)
        });
        let kind = match result {
            Ok(()) => 0,
            Err(BuildError::Leaked { .. }) => {
                panic!("{generation}, {populate:?}, call {n}: {result:?}")
            }
            Err(_) => 1,
        };
        outcomes.lock().unwrap()[kind] += 1;
        assert_eq!(
            rmm.delegated_count(),
            0,
            "{generation}: fault at call {n} of {total}: granules left delegated"
        );
        assert_eq!(
            source.outstanding(POOL.0),
            0,
            "{generation}: fault at call {n}: granules not returned"
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
    for generation in GENERATIONS {
        cpu_on_starts_a_second_rec_on(generation);
    }
}

fn cpu_on_starts_a_second_rec_on(generation: Generation) {
    use realm_sdk::psci::AffinityState;
    let mut rmm = rmm_for(generation);
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

/// The in-process realm's load and store at an unprotected IPA (see
/// `rmm_model::rmi::MODEL_UNPROTECTED_READ`): 8 bytes at a time.
fn unprotected(c: &mut dyn Conduit, write: Option<u64>, ipa: u64) -> u64 {
    use rmm_model::rmi::{MODEL_UNPROTECTED_READ, MODEL_UNPROTECTED_WRITE};
    let mut regs = [0u64; 18];
    regs[..4].copy_from_slice(&[
        if write.is_some() {
            MODEL_UNPROTECTED_WRITE
        } else {
            MODEL_UNPROTECTED_READ
        },
        ipa,
        8,
        write.unwrap_or(0),
    ]);
    let out = c.call(regs);
    assert_eq!(out[0], 0, "model access at {ipa:#x}");
    out[1]
}

/// A realm that gives two pages of its RAM up, writes a request into them at their
/// unprotected alias (the host maps pages there on the faults), asks the host to answer it
/// with a SERVICE host call, and prints the answer it reads back.
/// A conduit that records every request on its way to the model.
struct Recording<'a>(&'a mut Rmm, Vec<cca_abi::smccc::Regs>);

impl Conduit for Recording<'_> {
    fn call(&mut self, regs: cca_abi::smccc::Regs) -> cca_abi::smccc::Regs {
        self.1.push(regs);
        self.0.call(regs)
    }
}

/// On RMI 2.0 the builder asks for whole ranges: what the build needs after the roots is
/// delegated with one `RMI_GRANULE_RANGE_DELEGATE` range per contiguous run (the v0.9.0 model,
/// like TF-RMM v0.9.0, still moves one granule per call, so the driver repeats the call with
/// the next base), and teardown undelegates in ranges too.
#[test]
fn rmi_2_0_delegates_and_undelegates_in_ranges() {
    use cca_abi::rmi::fids::{RMI_GRANULE_RANGE_DELEGATE, RMI_GRANULE_RANGE_UNDELEGATE};
    let img = image(5 * 4096);
    let config = RealmConfig {
        image: &img,
        ram_size: 4 << 20,
        ipa_width: 48,
        ..RealmConfig::default()
    };
    let mut rmm = rmm_for(Generation::V2_0);
    let mut conduit = Recording(&mut rmm, Vec::new());
    let mut source = RangeSource::new(POOL.0, POOL.1);
    let realm = Realm::build(&mut conduit, &mut source, &config).unwrap();
    let held = realm.granules();
    realm.destroy().unwrap();
    let ranges = |fid: u32| -> Vec<u64> {
        conduit
            .1
            .iter()
            .filter(|r| r[0] == u64::from(fid))
            .map(|r| (r[2] - r[1]) / 4096)
            .collect()
    };
    let (delegate, undelegate) = (
        ranges(RMI_GRANULE_RANGE_DELEGATE),
        ranges(RMI_GRANULE_RANGE_UNDELEGATE),
    );
    // RTTs below the level-0 root (one at level 1, one at level 2, and at level 3 one for
    // the image's 2 MiB block: on demand, RMI 2.0 makes the others when the realm reaches
    // them), 5 image pages, a REC and its 16 auxiliary granules: asked for as one range.
    let reserved = 3 + 5 + 17;
    assert_eq!(
        delegate.iter().max(),
        Some(&reserved),
        "one range for the whole reserve: {delegate:?}"
    );
    assert!(
        undelegate.iter().any(|&n| n > 1),
        "teardown undelegates in ranges: {undelegate:?}"
    );
    // One granule moves per call: as many calls as granules, each way.
    assert_eq!(delegate.len(), undelegate.len());
    assert_eq!(delegate.len(), held);
    assert_eq!(rmm.delegated_count(), 0);
    assert_eq!(source.outstanding(POOL.0), 0);
}

/// Realm RAM that is memory of the test process (2 MiB aligned), so that the RMM model can
/// write where the realm asks (the in-process realm's IPAs are process addresses).
struct ProcessRam {
    backing: Vec<u8>,
    size: usize,
}

impl ProcessRam {
    fn new(size: usize) -> Self {
        Self {
            backing: vec![0; size + (2 << 20)],
            size,
        }
    }

    fn base(&self) -> u64 {
        (self.backing.as_ptr() as u64).next_multiple_of(2 << 20)
    }
}

/// A realm program that makes the RMM write `pages` pages of its RAM from `ram_base + at`
/// (`RSI_REALM_CONFIG`), then prints its RIM and switches off.
fn touching_program(ram_base: u64, at: u64, pages: u64) -> rmm_model::rmi::RealmProgram {
    Arc::new(move |rec, c| {
        if rec != 0 {
            return;
        }
        for page in 0..pages {
            let ipa = ram_base + at + page * 0x1000;
            let regs = c.call(cca_abi::rsi::RsiCommand::RealmConfig { ipa }.to_regs());
            assert_eq!(regs[0], 0, "RSI_REALM_CONFIG into RAM at {ipa:#x}");
        }
        let rim = RealmView::new(&mut *c).expect("RSI works").rim().unwrap();
        print(c, &format!("rim={rim}\n"));
        psci::system_off(c).unwrap();
    })
}

/// RAM beyond the image gets its granules when the realm first reaches it: the model makes
/// RSI_REALM_CONFIG into an unpopulated page exit with a translation fault, the builder
/// creates the granule (DATA_CREATE_UNKNOWN / RTT_DATA_MAP) and the call runs again. The RIM
/// is the eager build's, and teardown returns everything.
#[test]
fn on_demand_populates_what_the_realm_touches() {
    let img = image(3 * 4096 + 100);
    let ram = ProcessRam::new(4 << 20);
    for generation in GENERATIONS {
        let held = |populate| {
            let config = RealmConfig {
                image: &img,
                ram_base: ram.base(),
                ram_size: ram.size as u64,
                ipa_width: 48,
                populate,
                ..RealmConfig::default()
            };
            let mut rmm = rmm_for(generation);
            // Pages in the second 2 MiB block, beyond the image's.
            rmm.set_program(touching_program(ram.base(), 3 << 20, 5));
            let mut source = RangeSource::new(POOL.0, POOL.1);
            let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
            let built = realm.granules();
            let mut console = Console::default();
            assert_eq!(realm.run(&mut console).unwrap(), RunOutcome::SystemOff);
            let predicted = config.predict_rim_for(generation).unwrap();
            assert_eq!(
                String::from_utf8(console.0).unwrap(),
                format!("rim={predicted}\n"),
                "{generation}, {populate:?}"
            );
            let populated = realm.populated();
            let after = realm.granules();
            realm.destroy().unwrap();
            assert_eq!(rmm.delegated_count(), 0);
            assert_eq!(source.outstanding(POOL.0), 0);
            (built, populated, after)
        };
        let (eager, none, eager_after) = held(Populate::Eager);
        assert_eq!((none, eager_after), (0, eager), "{generation}");
        let (lazy, populated, lazy_after) = held(Populate::OnDemand);
        assert_eq!(populated, 5, "{generation}");
        // The level-3 table of the second 2 MiB block was made on the way.
        let tables = 1;
        assert_eq!(lazy_after, lazy + 5 + tables, "{generation}");
        // Eager creates every page of RAM; on demand, the image's 4 only.
        assert_eq!(eager - lazy, (4 << 20) / 4096 - 4 + tables, "{generation}");
    }
}

fn sharing_program(_: usize, c: &mut dyn Conduit) {
    use cca_abi::hostcall::SERVICE;
    let mut realm = RealmView::new(&mut *c).unwrap();
    let base = 0x8020_0000;
    realm
        .set_ripas(
            Ipa(base),
            Ipa(base + 0x2000),
            Ripas::Empty,
            RipasChangeDestroyed::NoChange,
        )
        .unwrap();
    let alias = base | realm.unprotected_bit();
    // 16 bytes straddling the two pages.
    let request = alias + 0x1000 - 8;
    unprotected(c, Some(u64::from_le_bytes(*b"sealed r")), request);
    unprotected(c, Some(u64::from_le_bytes(*b"equest!!")), request + 8);
    let mut call = Box::new(RsiHostCall::new(SERVICE));
    call.gprs[..4].copy_from_slice(&[7, request, 16, 0x1000]);
    rsi::host_call(c, &mut call).unwrap();
    let len = call.gprs[1];
    let mut answer = Vec::new();
    for at in (0..len).step_by(8) {
        answer.extend_from_slice(&unprotected(c, None, request + at).to_le_bytes());
    }
    answer.truncate(len as usize);
    print(
        c,
        &format!(
            "status={} answer={}\n",
            call.gprs[0],
            String::from_utf8_lossy(&answer)
        ),
    );
    psci::system_off(c).unwrap();
}

/// Answers SERVICE calls from shared memory: the request, upper-cased.
#[derive(Default)]
struct Upper(Console);

impl Host for Upper {
    fn console(&mut self, bytes: &[u8]) {
        self.0.console(bytes);
    }
    fn host_call(&mut self, imm: u16, gprs: &mut [u64; 31], shared: &mut SharedMemory<'_>) {
        assert_eq!(imm, cca_abi::hostcall::SERVICE);
        let mut request = vec![0u8; gprs[2] as usize];
        shared.read(gprs[1], &mut request).unwrap();
        // Nothing outside what the realm shared. The request starts 8 bytes before the end
        // of the first of the two pages the realm touched, so the second page ends at
        // `gprs[1] + 0x1008`: the error names that first unmapped byte.
        let end = gprs[1] + 0x1008;
        assert_eq!(
            shared.read(gprs[1] + 0x2000, &mut [0]),
            Err(NotShared {
                ipa: gprs[1] + 0x2000
            })
        );
        let mut across = vec![0u8; 0x1000];
        assert_eq!(
            shared.read(gprs[1] + 16, &mut across),
            Err(NotShared { ipa: end })
        );
        // A write that runs past the shared pages writes nothing, not even its mapped part.
        let mut before = [0u8; 8];
        shared.read(gprs[1] + 16, &mut before).unwrap();
        assert_eq!(
            shared.write(gprs[1] + 16, &[0xee; 0x1000]),
            Err(NotShared { ipa: end })
        );
        let mut after = [0u8; 8];
        shared.read(gprs[1] + 16, &mut after).unwrap();
        assert_eq!(before, after);
        request.make_ascii_uppercase();
        shared.write(gprs[1], &request).unwrap();
        gprs[0] = 0;
        gprs[1] = request.len() as u64;
    }
}

fn sharing_config(img: &[u8], max_shared_pages: usize) -> RealmConfig<'_> {
    RealmConfig {
        ram_size: 4 << 20,
        ipa_width: 48,
        max_shared_pages,
        ..RealmConfig {
            image: img,
            ..RealmConfig::default()
        }
    }
}

/// The builder maps host pages behind the unprotected alias on the realm's faults (with
/// RMI_RTT_MAP_UNPROTECTED), the host answers from them, and teardown unmaps them before it
/// destroys the RTTs it made for them: nothing stays delegated.
#[test]
fn shared_pages_are_mapped_on_demand_and_unmapped_at_teardown() {
    let img = image(5000);
    let mut rmm = rmm();
    rmm.set_program(Arc::new(sharing_program));
    let mut source = RangeSource::new(POOL.0, POOL.1);
    let config = sharing_config(&img, 16);
    let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
    let mut host = Upper::default();
    assert_eq!(realm.run(&mut host).unwrap(), RunOutcome::SystemOff);
    assert_eq!(
        String::from_utf8(host.0.0).unwrap(),
        "status=0 answer=SEALED REQUEST!!\n"
    );
    realm.destroy().unwrap();
    assert_eq!(rmm.delegated_count(), 0);
    assert_eq!(source.outstanding(POOL.0), 0);
    let count = |f: fn(&RmiCommand) -> bool| rmm.log().iter().filter(|(c, _)| f(c)).count();
    assert_eq!(
        count(|c| matches!(c, RmiCommand::RttMapUnprotected { .. })),
        2
    );
    assert_eq!(
        count(|c| matches!(c, RmiCommand::RttUnmapUnprotected { .. })),
        2
    );

    // With room for one page only, the second fault is not served.
    let mut rmm = self::rmm();
    rmm.set_program(Arc::new(sharing_program));
    let config = sharing_config(&img, 1);
    let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
    assert!(matches!(
        realm.run(&mut Upper::default()),
        Err(BuildError::UnhandledExit { reason: 0, .. })
    ));
    realm.destroy().unwrap();
    assert_eq!(rmm.delegated_count(), 0);
}

/// The same on RMI 2.0, where on-demand RAM beyond the image's 2 MiB block has no level-3
/// table: the realm's RIPAS change of two pages there makes the builder create it
/// (`RMI_RTT_SET_RIPAS` answers `(RMI_ERROR_RTT, 2)` until then), and sharing works.
#[test]
fn sharing_works_where_rmi_2_0_has_no_level_3_table_yet() {
    let img = image(5000);
    let grown = |generation| {
        let mut rmm = rmm_for(generation);
        rmm.set_program(Arc::new(sharing_program));
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let config = sharing_config(&img, 16);
        let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
        let before = realm.granules();
        let mut host = Upper::default();
        assert_eq!(realm.run(&mut host).unwrap(), RunOutcome::SystemOff);
        assert_eq!(
            String::from_utf8(host.0.0).unwrap(),
            "status=0 answer=SEALED REQUEST!!\n",
            "{generation}"
        );
        let grown = realm.granules() - before;
        realm.destroy().unwrap();
        assert_eq!(rmm.delegated_count(), 0);
        assert_eq!(source.outstanding(POOL.0), 0);
        grown
    };
    // Both make the tables of the unprotected alias and the level-3 table of RAM there.
    assert_eq!(grown(Generation::V2_0), grown(Generation::V1_0));
}

/// A build that fails part-way on an RMM that then refuses everything reports both: the
/// failure that started the teardown and the granules the teardown could not get back.
#[test]
fn a_leaking_teardown_names_the_failure_that_started_it() {
    for generation in GENERATIONS {
        let img = image(9000);
        let config = RealmConfig {
            image: &img,
            ram_size: 2 << 20,
            ..RealmConfig::default()
        };
        let mut rmm = rmm_for(generation);
        // Past negotiation, features and the first delegations: fail from the 12th call on.
        rmm.fail_from(12);
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let Err(e) = Realm::build(&mut rmm, &mut source, &config) else {
            panic!("{generation}: the build succeeded on a failing RMM");
        };
        let BuildError::Leaked { leaked, cause } = &e else {
            panic!("{generation}: expected a leak, got: {e}");
        };
        assert!(*leaked > 0, "{generation}");
        assert_eq!(*leaked, rmm.delegated_count(), "{generation}");
        assert!(
            matches!(cause.as_deref(), Some(BuildError::Rmi(_))),
            "{generation}: {e}"
        );
        let text = e.to_string();
        assert!(
            text.starts_with("RMI call failed: RMI_")
                && text.ends_with(&format!(
                    "; tearing the realm down then left {leaked} granules delegated"
                )),
            "{generation}: {text}"
        );
    }
}

/// A failure injected at every RMI call of a run that maps shared pages, in turn, leaves
/// nothing delegated.
#[test]
fn a_fault_at_any_call_of_a_sharing_realm_leaks_nothing() {
    for generation in GENERATIONS {
        a_fault_at_any_call_of_a_sharing_realm_leaks_nothing_on(generation);
    }
}

fn a_fault_at_any_call_of_a_sharing_realm_leaks_nothing_on(generation: Generation) {
    let img = image(5000);
    let config = sharing_config(&img, 16);
    let run = |fail: Option<u64>| {
        let mut rmm = rmm_for(generation);
        rmm.set_program(Arc::new(sharing_program));
        if let Some(n) = fail {
            rmm.fail_call(n);
        }
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let result = Realm::build(&mut rmm, &mut source, &config).and_then(|mut realm| {
            let outcome = realm.run(&mut Upper::default());
            realm.destroy().and(outcome.map(drop))
        });
        assert!(
            !matches!(result, Err(BuildError::Leaked { .. })),
            "{generation}: fault at {fail:?}: {result:?}"
        );
        assert_eq!(rmm.delegated_count(), 0, "{generation}: fault at {fail:?}");
        assert_eq!(
            source.outstanding(POOL.0),
            0,
            "{generation}: fault at {fail:?}"
        );
        rmm.calls()
    };
    let total = run(None);
    for n in 0..total {
        run(Some(n));
    }
}

/// The model's `RMI_RTT_MAP_UNPROTECTED` takes only the descriptor bits TF-RMM v0.8.0 lets a
/// host set (`host_ns_s2tte_is_valid`, `lib/s2tt/src/s2tt.c`, without S2PIE): the output
/// address (bits 47:12 at level 3), `MemAttr[4:2]` except the reserved `0b100`
/// (`S2TTE_MEMATTR_FWB_RESERVED`) and `S2AP[7:6]`. Shareability, AF, the descriptor type and
/// XN are the RMM's (`S2TTE_NS_ATTR_RMM`). The builder's own shared-page descriptor passed
/// the same check in the run before.
#[test]
fn rtt_map_unprotected_takes_only_the_host_controlled_bits() {
    use cca_abi::rmi::{Ipa as AbiIpa, RmiStatus, RttLevel};
    use rmi_shim::{Error, rmi};
    let img = image(5000);
    let mut rmm = rmm();
    rmm.set_program(Arc::new(sharing_program));
    let mut source = RangeSource::new(POOL.0, POOL.1);
    let config = sharing_config(&img, 16);
    let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
    assert_eq!(
        realm.run(&mut Upper::default()).unwrap(),
        RunOutcome::SystemOff
    );
    let rd = realm.rd().unwrap();
    // The run left the level-3 RTT over the shared pages; its entry 3 is still unmapped.
    let ipa = AbiIpa::new((0x8020_0000 | 1 << 47) + 0x3000).unwrap();
    let level = RttLevel::new(3).unwrap();
    let pa = 0x2_0000_0000u64;
    let (normal_wb, rw) = (0b110 << 2, 0b11 << 6);
    for (desc, what) in [
        (pa | (0b100 << 2) | rw, "reserved MemAttr"),
        (pa | normal_wb | rw | 1 << 8, "shareability"),
        (pa | normal_wb | rw | 1 << 10, "access flag"),
        (pa | normal_wb | rw | 0b11, "descriptor type"),
        (pa | normal_wb | rw | 1 << 54, "execute never"),
        (pa | normal_wb | rw | 1 << 11, "bit 11"),
        (1 << 48 | normal_wb | rw, "output address beyond 48 bits"),
        (pa | normal_wb | rw | 1 << 55, "NS (the RMM sets it)"),
    ] {
        let r = rmi::rtt_map_unprotected(realm.link(), rd, ipa, level, desc);
        assert!(
            matches!(r, Err(Error::Refused { ret, .. }) if ret.status == RmiStatus::ErrorInput),
            "{what}: {desc:#x}: {r:?}"
        );
    }
    for desc in [pa | normal_wb | rw, pa | (0b101 << 2) | (0b01 << 6), pa] {
        rmi::rtt_map_unprotected(realm.link(), rd, ipa, level, desc)
            .unwrap_or_else(|e| panic!("{desc:#x}: {e:?}"));
        rmi::rtt_unmap_unprotected(realm.link(), rd, ipa, level).unwrap();
    }
    realm.destroy().unwrap();
    assert_eq!(rmm.delegated_count(), 0);
}

/// A RAM range or an image that runs past the top of the address space is a typed
/// prediction error, never an arithmetic panic.
#[test]
fn prediction_refuses_overflowing_layouts() {
    use rmi_shim::rim::PredictError;
    let img = image(3 * 4096);
    for (ram_base, ram_size) in [(u64::MAX - 0xfff, 0x2000), (!0xfff, 0x1000)] {
        let config = RealmConfig {
            image: &img,
            ram_base,
            ram_size,
            ..RealmConfig::default()
        };
        assert_eq!(config.predict_rim(), Err(PredictError::AddressOverflow));
    }
}

/// Parameters the RMM would refuse are refused before `RMI_REALM_CREATE`, naming the
/// parameter and what `RMI_FEATURES(0)` allows, with nothing left delegated (TF-RMM v0.8.0
/// `validate_realm_params`: `num_bps` and `num_wps` 0 are reserved).
#[test]
fn parameters_are_checked_against_the_features() {
    let img = image(4096);
    let features = {
        let (mut rmm, _) = rmi_shim::link::V1::connect(rmm()).unwrap();
        rmi_shim::rmi::features0(&mut rmm).unwrap()
    };
    let too_many = u32::from(features.num_bps) + 1;
    let cases = [
        ((0, 1), "num_bps", 0),
        ((1, 0), "num_wps", 0),
        ((too_many, 1), "num_bps", u64::from(too_many)),
    ];
    for (debug, what, value) in cases {
        let config = RealmConfig {
            image: &img,
            debug,
            ..RealmConfig::default()
        };
        let mut rmm = rmm();
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let err = Realm::build(&mut rmm, &mut source, &config).err().unwrap();
        match err {
            BuildError::Unsupported {
                what: w, value: v, ..
            } => assert_eq!((w, v), (what, value)),
            other => panic!("{what}: {other}"),
        }
        assert!(err.to_string().starts_with(&format!(
            "the RMM does not accept {what} = {value}: RMI_FEATURES(0) allows"
        )));
        assert_eq!(source.outstanding(POOL.0), 0);
    }
}

/// A realm of 2 RECs built for the PSCI tests.
fn two_recs(img: &[u8]) -> RealmConfig<'_> {
    RealmConfig {
        recs: 2,
        ram_size: 2 << 20,
        ipa_width: 48,
        ..RealmConfig {
            image: img,
            ..RealmConfig::default()
        }
    }
}

/// The realm plays with PSCI the way a confused or hostile realm might: CPU_ON of MPIDRs
/// that name no REC (the RMM refuses them without bothering the host), of REC 0 itself, of
/// a REC that is already on (ALREADY_ON after the host's completion); AFFINITY_INFO before,
/// during and after REC 1 runs; and counts its RECs. The host's run loop completes what
/// reaches it and the realm ends cleanly, on both generations, leaking nothing.
#[test]
fn psci_edge_cases_on_both_generations() {
    use realm_sdk::psci::{AffinityState, PsciError};
    for generation in GENERATIONS {
        let mut rmm = rmm_for(generation);
        rmm.set_program(Arc::new(|rec, c: &mut dyn Conduit| match rec {
            0 => {
                for bad in [0x55, psci::rec_mpidr(2), psci::rec_mpidr(16), u64::MAX] {
                    assert_eq!(
                        psci::cpu_on(c, bad, 0x8000_0000, 0),
                        Err(PsciError::InvalidParameters),
                        "CPU_ON {bad:#x}"
                    );
                }
                assert_eq!(
                    psci::cpu_on(c, 0, 0x8000_0000, 0),
                    Err(PsciError::AlreadyOn)
                );
                assert_eq!(psci::count_recs(c), 2);
                assert_eq!(psci::affinity_info(c, 1), Ok(AffinityState::Off));
                psci::cpu_on(c, 1, 0x8000_0000, 7).unwrap();
                // REC 1 has not run yet (REC 0 keeps the CPU until it waits): already on.
                assert_eq!(
                    psci::cpu_on(c, 1, 0x8000_0000, 7),
                    Err(PsciError::AlreadyOn)
                );
                while psci::affinity_info(c, 1).unwrap() != AffinityState::Off {}
                print(c, "rec 0: done\n");
                psci::system_off(c).unwrap();
            }
            _ => {
                print(c, "rec 1: up\n");
                psci::cpu_off(c).unwrap();
            }
        }));
        let img = image(100);
        let config = two_recs(&img);
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
        let mut console = Console::default();
        assert_eq!(
            realm.run(&mut console).unwrap(),
            RunOutcome::SystemOff,
            "{generation}"
        );
        assert_eq!(
            String::from_utf8(console.0).unwrap(),
            "rec 1: up\nrec 0: done\n",
            "{generation}"
        );
        realm.destroy().unwrap();
        assert_eq!(rmm.delegated_count(), 0, "{generation}");
    }
}

/// One RMM model shared by the test's threads, one call at a time: what several CPUs
/// reaching one RMM look like to the builder.
#[derive(Clone)]
struct SharedRmm(Arc<Mutex<Rmm>>);

impl Conduit for SharedRmm {
    fn call(&mut self, regs: cca_abi::smccc::Regs) -> cca_abi::smccc::Regs {
        self.0.lock().unwrap().call(regs)
    }
}

/// The program of the parallel tests: REC 0 starts REC 1, waits for it with AFFINITY_INFO,
/// switches the realm off; REC 1 prints and switches itself off.
fn parallel_program(rec: usize, c: &mut dyn Conduit) {
    use realm_sdk::psci::AffinityState;
    match rec {
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
    }
}

/// Runs a 2-REC realm with [`Realm::parallel`] on two threads (REC i on thread i, each with
/// its own conduit), `fail` making that RMI call fail; returns the outcome and what the
/// realm printed, after teardown, checking that no granule is left delegated.
fn run_parallel(
    generation: Generation,
    fail: Option<u64>,
) -> (Result<RunOutcome, BuildError>, String, u64) {
    let mut rmm = rmm_for(generation);
    rmm.set_program(Arc::new(parallel_program));
    let shared = SharedRmm(Arc::new(Mutex::new(rmm)));
    if let Some(n) = fail {
        shared.0.lock().unwrap().fail_call(n);
    }
    let img = image(100);
    let config = two_recs(&img);
    let mut source = RangeSource::new(POOL.0, POOL.1);
    let mut console = Console::default();
    let outcome = Realm::build(shared.clone(), &mut source, &config).and_then(|mut realm| {
        let outcome = {
            let parallel = realm.parallel(&mut console)?;
            std::thread::scope(|s| {
                for index in 0..parallel.recs() {
                    let parallel = &parallel;
                    let conduit = shared.clone();
                    s.spawn(move || match generation {
                        Generation::V1_0 => {
                            parallel.run_rec(index, &mut rmi_shim::link::V1::assume(conduit), None)
                        }
                        Generation::V2_0 => {
                            parallel.run_rec(index, &mut rmi_shim::link::V2::assume(conduit), None)
                        }
                    });
                }
            });
            parallel.finish()
        };
        let destroyed = realm.destroy();
        outcome.and_then(|o| destroyed.map(|()| o))
    });
    let rmm = shared.0.lock().unwrap();
    assert_eq!(
        rmm.delegated_count(),
        0,
        "{generation}, failing call {fail:?}: granules left delegated"
    );
    assert_eq!(
        source.outstanding(POOL.0),
        0,
        "{generation}, failing call {fail:?}"
    );
    (outcome, String::from_utf8(console.0).unwrap(), rmm.calls())
}

/// Two RECs on two threads at once: REC 1 runs on its own thread once REC 0's CPU_ON is
/// completed (by REC 0's thread, under the lock), the realm ends, nothing leaks.
#[test]
fn parallel_runs_each_rec_on_its_own_cpu() {
    for generation in GENERATIONS {
        let (outcome, text, _) = run_parallel(generation, None);
        assert_eq!(outcome.unwrap(), RunOutcome::SystemOff, "{generation}");
        assert_eq!(text, "rec 1: up\nrec 0: rec 1 is off\n", "{generation}");
    }
}

/// A CPU's conduit of the wrong generation is refused before anything is entered.
#[test]
fn parallel_refuses_a_conduit_of_another_generation() {
    let mut rmm = rmm_for(Generation::V1_0);
    rmm.set_program(Arc::new(parallel_program));
    let img = image(100);
    let config = two_recs(&img);
    let mut source = RangeSource::new(POOL.0, POOL.1);
    let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
    let mut console = Console::default();
    let parallel = realm.parallel(&mut console).unwrap();
    let mut other = Rmm::new(RmmConfig::tf_rmm_v0_9());
    assert!(matches!(
        parallel.run_rec(0, &mut rmi_shim::link::V2::assume(&mut other), None),
        Err(BuildError::Config(_))
    ));
    // An index past the last REC has nothing to run.
    assert!(
        parallel
            .run_rec(2, &mut rmi_shim::link::V1::assume(&mut other), None)
            .is_ok()
    );
    drop(parallel);
    realm.destroy().unwrap();
    assert_eq!(rmm.delegated_count(), 0);
}

/// Fault injection on the parallel run: whichever RMI call fails (during the build, the run
/// on either thread, or teardown), every thread returns and no granule stays delegated.
#[test]
fn parallel_a_fault_at_any_call_leaks_nothing() {
    for generation in GENERATIONS {
        let (_, _, total) = run_parallel(generation, None);
        let mut failed = 0;
        for n in 0..total {
            let (outcome, _, _) = run_parallel(generation, Some(n));
            if let Err(BuildError::Leaked { .. }) = outcome {
                panic!("{generation}, call {n}: {outcome:?}");
            }
            failed += usize::from(outcome.is_err());
        }
        assert!(failed > 0, "{generation}: faults must make some runs fail");
    }
}
