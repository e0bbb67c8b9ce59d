//! rmi-shim's RMI 2.0 calls (`rmi_shim::rmi2`) against rmm-model configured as TF-RMM
//! v0.9.0 (`RmmConfig::tf_rmm_v0_9`): the RMM-state gate (digest §3.2), version and
//! features (§2, §7), range delegation (§4.1), data mapping (§5), the stateful REC
//! operations (§6) and a whole realm life cycle that leaves no granule delegated (§14), with
//! the RIM checked against `rim::predict_for(Generation::V2_0, ..)` (§12).

use std::sync::Arc;

use cca_abi::AbiVersion;
use cca_abi::hostcall::CONSOLE_WRITE;
use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams};
use cca_abi::rmi::{
    ADDR_LIST_ENTRIES, Generation, Granule, Ipa, RMI_REALM_ACTIVATE, RMI_REALM_CREATE,
    RMI_REALM_DESTROY, RMI_REC_CREATE, RMI_REC_ENTER, RMI_RTT_CREATE, RMI_RTT_DESTROY,
    RMI_RTT_INIT_RIPAS, RMI_VERSION, RmiDataMeasureContent, RmiExitReason2, RmiRealmParams2,
    RmiRecParams2, RmiRecRun2, RmiRmmConfig, RmiStatus, RttLevel,
};
use cca_abi::rsi::{RSI_HOST_CALL, RsiHostCall};
use cca_abi::smccc::{Conduit, regs};
use rmi_shim::Error;
use rmi_shim::link::V2;
use rmi_shim::rim::{DataGranule, RealmBuild, RipasRange, predict_for};
use rmi_shim::rmi2::{self, AddrList};
use rmm_model::rmi::{GranuleState, Rmm, RmmConfig};

const G: u64 = 0x1000;
const POOL: (u64, u64) = (0x1_0000_0000, 0x1_0400_0000);
const SMC_UNKNOWN: u64 = u64::MAX;

fn g(i: u64) -> Granule {
    Granule::new(POOL.0 + i * G).unwrap()
}

fn ipa(v: u64) -> Ipa {
    Ipa::new(v).unwrap()
}

#[repr(C, align(4096))]
struct Page([u8; 4096]);

fn page() -> Box<Page> {
    Box::new(Page([0; 4096]))
}

fn addr<T>(t: &T) -> u64 {
    std::ptr::from_ref(t).expose_provenance() as u64
}

fn ns(p: &Page) -> Granule {
    Granule::new(addr(p)).unwrap()
}

/// The v0.9.0 model, as a conduit that negotiated RMI 2.0 (the tests call the RMI 2.0 API
/// straight away; `version_is_2_0` checks the negotiation itself).
fn rmm(contexts: usize) -> V2<Rmm> {
    V2::assume(Rmm::new(RmmConfig {
        delegable: POOL,
        sro_contexts: contexts,
        ..RmmConfig::tf_rmm_v0_9()
    }))
}

/// `x0` of a raw call.
fn x0(rmm: &mut V2<Rmm>, fid: u32, args: &[u64]) -> u64 {
    rmm.call(regs(fid, args))[0]
}

fn activate(rmm: &mut V2<Rmm>) {
    let cfg = page();
    rmi2::rmm_config_set(rmm, ns(&cfg)).unwrap();
    rmi2::rmm_activate(rmm).unwrap();
}

/// Digest §2, §3.2, §7, §9.3: version 2.0 only; nothing but VERSION, FEATURES, CONFIG_GET
/// and TRACKING_GET before RMM_ACTIVATE; activation once; removed and undispatched FIDs
/// unknown in every state.
#[test]
fn version_gate_and_features() {
    let mut rmm = rmm(320);
    let v = rmi2::version(&mut rmm).unwrap();
    assert_eq!(
        (v.version, v.lower, v.higher),
        (AbiVersion::V2_0, AbiVersion::V2_0, AbiVersion::V2_0)
    );
    let r = rmm.call(regs(RMI_VERSION, &[0x1_0000]));
    assert_eq!(
        &r[..3],
        &[1, 0x2_0000, 0x2_0000],
        "1.0 request: ERROR_INPUT, lower = higher = 2.0"
    );

    let cfg = page();
    rmi2::rmm_config_get(&mut rmm, ns(&cfg)).unwrap();
    assert_eq!(
        rmm.call(regs(0xC400_01E1, &[POOL.0]))[..3],
        [0, 0, 2],
        "tracked: FINE"
    );
    let e = rmi2::granule_range_delegate(&mut rmm, g(0), g(1)).unwrap_err();
    assert_eq!(e.error.status(), Some(RmiStatus::ErrorGlobal));
    assert_eq!(x0(&mut rmm, RMI_REALM_ACTIVATE, &[0]), 11);
    for removed in [
        0xC400_0151,
        0xC400_0152,
        0xC400_0154,
        0xC400_0155,
        0xC400_0167,
        0xC400_01F4,
        0xC400_01E3,
    ] {
        assert_eq!(
            x0(&mut rmm, removed, &[POOL.0]),
            SMC_UNKNOWN,
            "{removed:#x}"
        );
    }
    assert_eq!(rmi2::features(&mut rmm, 7).unwrap(), 0);

    // RMM_CONFIG_SET accepts only the all-zero configuration, and only before activation.
    let mut bad = Box::new(RmiRmmConfig::zeroed());
    bad.rmi_granule_size = 1;
    let e = rmi2::rmm_config_set(&mut rmm, Granule::new(addr(&*bad)).unwrap()).unwrap_err();
    assert_eq!(e.status(), Some(RmiStatus::ErrorInput));
    activate(&mut rmm);
    assert!(rmm.rmm_active());
    let e = rmi2::rmm_activate(&mut rmm).unwrap_err();
    assert_eq!(
        e.status(),
        Some(RmiStatus::ErrorGlobal),
        "a second activation"
    );
    let e = rmi2::rmm_config_set(&mut rmm, ns(&cfg)).unwrap_err();
    assert_eq!(e.status(), Some(RmiStatus::ErrorGlobal));
    assert_eq!(
        x0(&mut rmm, RMI_REALM_ACTIVATE, &[0]),
        1,
        "the §3.2 probe: active now"
    );

    let f0 = rmi2::features0(&mut rmm).unwrap();
    assert_eq!((f0.s2sz, f0.pmu, f0.pmu_num_ctrs), (52, false, 0));
    let f1 = rmi2::features1(&mut rmm).unwrap();
    assert!(f1.gran_sz_4k && f1.hash_sha_256 && f1.hash_sha_512 && !f1.hash_sha_384);
    assert_eq!((f1.max_recs_order, f1.pps), (10, 5));
    assert!(!rmi2::features2(&mut rmm).unwrap().da);
    assert_eq!(rmi2::features4(&mut rmm).unwrap().mec_count, 0);

    // No device assignment, SMMU or stateful operation to cancel on this platform.
    assert_eq!(
        x0(&mut rmm, 0xC400_0176, &[0, 0]),
        SMC_UNKNOWN,
        "PDEV_CREATE: SMC_NOT_SUPPORTED"
    );
    assert_eq!(
        x0(&mut rmm, 0xC400_01D7, &[0, 0]),
        5,
        "PSMMU_ACTIVATE: ERROR_NOT_SUPPORTED"
    );
    assert_eq!(
        x0(&mut rmm, 0xC400_020A, &[0]),
        1,
        "OP_CANCEL of no operation"
    );
    assert_eq!(
        x0(&mut rmm, 0xC400_01F3, &[1 << 30]),
        15,
        "GPT_L1_CREATE: ERROR_GPT"
    );
}

/// Digest §4.1: one granule per call, `x1` = next on success, `base` on error.
#[test]
fn range_delegation() {
    let mut rmm = rmm(320);
    activate(&mut rmm);
    rmi2::granule_range_delegate(&mut rmm, g(0), g(8)).unwrap();
    assert_eq!(rmm.delegated_count(), 8);
    assert_eq!(
        rmm.log2().len(),
        2 + 8,
        "CONFIG_SET, ACTIVATE, then one call per granule"
    );
    let r = rmm.call(regs(0xC400_01F1, &[g(3).addr(), g(9).addr()]));
    assert_eq!(&r[..2], &[1, g(3).addr()], "already delegated");
    let r = rmm.call(regs(0xC400_01F1, &[g(9).addr(), g(9).addr()]));
    assert_eq!(&r[..2], &[1, g(9).addr()], "empty range");
    let e = rmi2::granule_range_delegate(&mut rmm, g(7), g(10)).unwrap_err();
    assert_eq!(e.reached, g(7).addr());
    rmi2::granule_range_undelegate(&mut rmm, g(0), g(8)).unwrap();
    assert_eq!(rmm.delegated_count(), 0);
}

/// Guest code of the life-cycle test: one host call, then SYSTEM_OFF.
fn program(_rec: usize, c: &mut dyn Conduit) {
    let mut call = Box::new(RsiHostCall::new(CONSOLE_WRITE));
    call.gprs[0] = 42;
    assert_eq!(c.call(regs(RSI_HOST_CALL, &[addr(&*call)]))[0], 0);
    assert_eq!(call.gprs[0], 43);
    c.call(regs(0x8400_0008, &[]));
}

const RAM: u64 = 0x8000_0000;

/// RD g0, root RTT g1, L1/L2/L3 RTTs g2..g5, data g5..g9, REC g9; aux granules g16..g32.
fn create_realm(rmm: &mut V2<Rmm>) -> (Box<RmiRealmParams2>, Vec<Box<Page>>) {
    rmi2::granule_range_delegate(rmm, g(0), g(10)).unwrap();
    rmi2::granule_range_delegate(rmm, g(16), g(32)).unwrap();
    let mut p = Box::new(RmiRealmParams2::zeroed());
    p.s2sz = 48;
    p.num_bps = 1;
    p.num_wps = 1;
    p.rtt_base = g(1).addr();
    p.rtt_level_start = 0;
    p.rtt_num_start = 1;
    assert_eq!(x0(rmm, RMI_REALM_CREATE, &[g(0).addr(), addr(&*p)]), 0);
    for (i, (at, level)) in [(0, 1), (RAM, 2), (RAM, 3)].into_iter().enumerate() {
        let rtt = g(2 + i as u64).addr();
        assert_eq!(x0(rmm, RMI_RTT_CREATE, &[g(0).addr(), rtt, at, level]), 0);
    }
    let r = rmm.call(regs(RMI_RTT_INIT_RIPAS, &[g(0).addr(), RAM, RAM + 0x4000]));
    assert_eq!(&r[..2], &[0, RAM + 0x4000]);
    let sources: Vec<Box<Page>> = (0..2u8)
        .map(|i| {
            let mut s = page();
            s.0.iter_mut()
                .enumerate()
                .for_each(|(k, b)| *b = (k as u8) ^ i);
            s
        })
        .collect();
    for (i, src) in sources.iter().enumerate() {
        let i = i as u64;
        rmi2::rtt_data_map_init(
            rmm,
            g(0),
            g(5 + i),
            ipa(RAM + i * G),
            ns(src),
            RmiDataMeasureContent::MeasureContent,
        )
        .unwrap();
    }
    rmi2::rtt_data_map(rmm, g(0), ipa(RAM + 2 * G), &[g(7), g(8)]).unwrap();
    (p, sources)
}

fn rec_params() -> Box<RmiRecParams2> {
    let mut rp = Box::new(RmiRecParams2::zeroed());
    rp.flags = 1;
    rp.pc = RAM;
    rp.gprs[0] = 7;
    rp
}

fn aux_supply() -> impl FnMut() -> Option<Granule> {
    let mut next = 16;
    move || {
        (next < 32).then(|| {
            next += 1;
            g(next - 1)
        })
    }
}

/// Digest §14: build, run and tear down a realm; nothing stays delegated, no operation
/// stays open, and the RIM is the RMI 2.0 prediction (no RIPAS descriptors, §12).
#[test]
fn full_life_cycle_leaves_nothing_delegated() {
    let mut rmm = rmm(320);
    rmm.set_program(Arc::new(program));
    activate(&mut rmm);
    let (params, sources) = create_realm(&mut rmm);
    let rp = rec_params();
    let mut list = Box::new([0u64; ADDR_LIST_ENTRIES]);
    let created = rmi2::rec_create(
        &mut rmm,
        g(0),
        g(9),
        ns_params(&rp),
        &mut aux_supply(),
        &mut AddrList::identity(&mut list),
    )
    .unwrap();
    assert_eq!(created.aux, (16..32).map(g).collect::<Vec<_>>());
    assert_eq!(rmm.granule(g(9).addr()), Some(GranuleState::Rec));
    assert_eq!(rmm.granule(g(20).addr()), Some(GranuleState::RecAux));

    // RIM: REALM_CREATE, two DATA descriptors, one REC descriptor; INIT_RIPAS not measured.
    let mut v1 = cca_abi::rmi::RmiRealmParams::zeroed();
    v1.s2sz = params.s2sz;
    v1.num_bps = 1;
    v1.num_wps = 1;
    let contents: Vec<&[u8; 4096]> = sources.iter().map(|s| &s.0).collect();
    let data: Vec<DataGranule<'_>> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| DataGranule {
            ipa: ipa(RAM + i as u64 * G),
            flags: RmiDataMeasureContent::MeasureContent,
            content: c,
        })
        .collect();
    let recs = [MeasuredRecParams {
        flags: 1,
        pc: RAM,
        gprs: rp.gprs,
    }];
    let ripas = [RipasRange {
        base: ipa(RAM),
        top: ipa(RAM + 0x4000),
        level: RttLevel::PAGE,
    }];
    let build = RealmBuild {
        params: MeasuredRealmParams::from_params(&v1).unwrap(),
        ripas: &ripas,
        data: &data,
        recs: &recs,
    };
    let rim = rmm.rim(g(0).addr()).unwrap();
    assert_eq!(rim, predict_for(Generation::V2_0, &build).unwrap());
    assert_ne!(rim, predict_for(Generation::V1_0, &build).unwrap());

    // Run: a host call, then SYSTEM_OFF (RmiRecRun2, RmiExitReason2).
    assert_eq!(x0(&mut rmm, RMI_REALM_ACTIVATE, &[g(0).addr()]), 0);
    let mut run = Box::new(RmiRecRun2::zeroed());
    assert_eq!(x0(&mut rmm, RMI_REC_ENTER, &[g(9).addr(), addr(&*run)]), 0);
    assert_eq!(run.exit.reason(), RmiExitReason2::HostCall);
    assert_eq!(
        (run.exit.imm, run.exit.gprs[0]),
        (u32::from(CONSOLE_WRITE), 42)
    );
    run.enter.gprs[0] = 43;
    assert_eq!(x0(&mut rmm, RMI_REC_ENTER, &[g(9).addr(), addr(&*run)]), 0);
    assert_eq!(run.exit.reason(), RmiExitReason2::Psci);
    assert_eq!(run.exit.gprs[0], 0x8400_0008);
    assert_eq!(
        x0(&mut rmm, RMI_REC_ENTER, &[g(9).addr(), addr(&*run)]),
        0x102,
        "SYSTEM_OFF"
    );

    // Tear down.
    let back = rmi2::rec_destroy(&mut rmm, g(9), &mut AddrList::identity(&mut list)).unwrap();
    assert_eq!(back, (16..32).map(g).collect::<Vec<_>>());
    assert_eq!(
        list[0],
        g(16).addr() | (16 << 2),
        "16 contiguous granules in one entry"
    );
    assert_eq!(rmm.granule(g(9).addr()), Some(GranuleState::Delegated));
    let mut freed = Vec::new();
    let mut b = RAM;
    while b < RAM + 0x8000 {
        let u = rmi2::rtt_data_unmap(&mut rmm, g(0), ipa(b), ipa(RAM + 0x8000)).unwrap();
        freed.extend(u.granule());
        b = u.next.addr();
    }
    assert_eq!(freed, (5..9).map(g).collect::<Vec<_>>());
    for (at, level) in [(RAM, 3), (RAM, 2), (0, 1)] {
        assert_eq!(x0(&mut rmm, RMI_RTT_DESTROY, &[g(0).addr(), at, level]), 0);
    }
    assert_eq!(x0(&mut rmm, RMI_REALM_DESTROY, &[g(0).addr()]), 0);
    rmi2::granule_range_undelegate(&mut rmm, g(0), g(10)).unwrap();
    rmi2::granule_range_undelegate(&mut rmm, g(16), g(32)).unwrap();
    assert_eq!(rmm.delegated_count(), 0);
    assert_eq!(rmm.open_operations(), 0);
}

fn ns_params(rp: &RmiRecParams2) -> Granule {
    Granule::new(addr(rp)).unwrap()
}

/// Digest §5.2, §5.3: DATA_MAP keeps RIPAS, returns `base + 4 KiB` even on error, needs
/// flags = SINGLE; DATA_UNMAP of nothing is SUCCESS with `x2 = 0`.
#[test]
fn data_map_and_unmap() {
    let mut rmm = rmm(320);
    activate(&mut rmm);
    let _keep = create_realm(&mut rmm);
    let r = rmm.call(regs(
        0xC400_01F5,
        &[g(0).addr(), RAM, RAM + 0x8000, 1, g(9).addr()],
    ));
    assert_eq!(
        &r[..2],
        &[(3 << 8) | 4, RAM + G],
        "(ERROR_RTT, 3), x1 = base + 4 KiB"
    );
    let r = rmm.call(regs(
        0xC400_01F5,
        &[g(0).addr(), RAM + 0x4000, RAM + 0x8000, 2, g(7).addr()],
    ));
    assert_eq!(&r[..2], &[1, RAM + 0x5000], "LIST address type");
    let u = rmi2::rtt_data_unmap(&mut rmm, g(0), ipa(RAM + 0x4000), ipa(RAM + 0x6000)).unwrap();
    assert_eq!((u.next, u.freed), (ipa(RAM + 0x6000), None));
    let u = rmi2::rtt_data_unmap(&mut rmm, g(0), ipa(RAM + 0x2000), ipa(RAM + 0x6000)).unwrap();
    assert_eq!(u.granule(), Some(g(7)));
    let r = rmm.call(regs(0xC400_0161, &[g(0).addr(), RAM + 0x2000, 3]));
    assert_eq!(
        &r[..5],
        &[0, 3, 0, 0, 2],
        "UNASSIGNED, RIPAS DESTROYED after unmapping RAM"
    );
}

/// Digest §6.3, §6.5: BUSY and BLOCKED, the wrong OP_*, a failed creation that reclaims
/// its granules, and a first donated granule that is not delegated.
#[test]
fn stateful_operation_errors() {
    let mut rmm = rmm(1);
    activate(&mut rmm);
    let _keep = create_realm(&mut rmm);
    let rp = rec_params();
    let mut list = Box::new([0u64; ADDR_LIST_ENTRIES]);

    rmm.busy_next(2);
    let created = rmi2::rec_create(
        &mut rmm,
        g(0),
        g(9),
        ns_params(&rp),
        &mut aux_supply(),
        &mut AddrList::identity(&mut list),
    )
    .unwrap();
    assert_eq!(created.aux.len(), 16);
    assert_eq!(
        rmm.log2()[rmm.log2().len() - 5..][..3]
            .iter()
            .map(|l| l.1)
            .collect::<Vec<_>>(),
        [10, 10, 0x10D]
    );

    // The realm is no longer NEW after activation: OP_CONTINUE fails and reclaims.
    assert_eq!(x0(&mut rmm, RMI_REALM_ACTIVATE, &[g(0).addr()]), 0);
    rmi2::granule_range_delegate(&mut rmm, g(32), g(49)).unwrap();
    let mut next = 33;
    let mut supply = move || {
        (next < 49).then(|| {
            next += 1;
            g(next - 1)
        })
    };
    let e = rmi2::rec_create(
        &mut rmm,
        g(0),
        g(32),
        ns_params(&rp),
        &mut supply,
        &mut AddrList::identity(&mut list),
    )
    .unwrap_err();
    assert_eq!(e.error.status(), Some(RmiStatus::ErrorRealm));
    assert_eq!(e.returned.len(), 16);
    assert_eq!(rmm.granule(g(32).addr()), Some(GranuleState::Delegated));
    assert_eq!(rmm.granule(g(40).addr()), Some(GranuleState::Delegated));

    // One context: a second operation while one is open is BLOCKED.
    let r = rmm.call(regs(
        RMI_REC_CREATE,
        &[g(0).addr(), g(32).addr(), addr(&*rp)],
    ));
    assert_eq!(&r[..3], &[0x10D, 0, 0x40]);
    assert_eq!(rmm.granule(g(32).addr()), Some(GranuleState::Partial));
    assert_eq!(
        x0(
            &mut rmm,
            RMI_REC_CREATE,
            &[g(0).addr(), g(33).addr(), addr(&*rp)]
        ),
        14
    );
    assert_eq!(
        x0(&mut rmm, 0xC400_0203, &[0, 0]),
        1,
        "OP_CONTINUE when a donation is expected"
    );
    assert_eq!(
        x0(&mut rmm, 0xC400_020A, &[0]),
        1,
        "REC operations cannot be cancelled"
    );
    let e = rmi2::granule_range_undelegate(&mut rmm, g(32), g(33)).unwrap_err();
    assert_eq!(
        e.error.status(),
        Some(RmiStatus::ErrorInput),
        "a PARTIAL granule"
    );
    // First granule not delegated: reclaim nothing, then OP_CONTINUE ends with ERROR_INPUT.
    list[0] = addr(&*rp) | 0x4;
    let r = rmm.call(regs(0xC400_0208, &[0, addr(&*list), 1]));
    assert_eq!(&r[..3], &[0x20D, 0, 0]);
    let r = rmm.call(regs(0xC400_0209, &[0, addr(&*list), 512]));
    assert_eq!(&r[..2], &[0x00D, 0]);
    assert_eq!(x0(&mut rmm, 0xC400_0203, &[0, 0]), 1);
    assert_eq!(rmm.granule(g(32).addr()), Some(GranuleState::Delegated));
    assert_eq!(rmm.open_operations(), 0);

    // A supply that runs dry: the driver ends the operation through the failure path.
    let mut few = {
        let mut next = 33;
        move || {
            (next < 38).then(|| {
                next += 1;
                g(next - 1)
            })
        }
    };
    let e = rmi2::rec_create(
        &mut rmm,
        g(0),
        g(32),
        ns_params(&rp),
        &mut few,
        &mut AddrList::identity(&mut list),
    )
    .unwrap_err();
    assert_eq!(
        e.error,
        Error::OutOfGranules {
            fid: RMI_REC_CREATE
        }
    );
    assert_eq!(e.returned.len(), 5);
    assert_eq!(rmm.open_operations(), 0);
}
