//! The RSI 1.1 calls of realm-sdk: what a realm with plane 0 only and no device gets from
//! the software RMM (which answers as TF-RMM v0.9.0, or v0.8.0 when it offers RSI 1.0 only),
//! the refusals realm-sdk makes before calling, and malformed replies from a scripted fake.
//! Each test names the TF-RMM source file whose rule it checks (cca-abi.md §2.3).

use std::cell::Cell;

use cca_abi::AbiVersion;
use cca_abi::rsi::{
    self as abi, MemPermValue, RsiCommand, RsiPlaneExitReason, RsiPlaneRun, RsiStatus, RsiVdevInfo,
    SysregEncoding,
};
use cca_abi::smccc::{Conduit, Regs, regs};
use realm_sdk::rsi::{
    self, BadArgument, BadReply, DevMemFlags, PermCookie, RsiError, RsiResponse, VdevNonces,
};
use realm_sdk::{AuxPlaneIndex, Ipa, PermIndex, PlaneIndex, Realm, VdevId};
use rmm_model::sim::Simulator;
use rmm_model::{RealmConfig, RecExit, RsiRevisions};

const PAR_TOP: u64 = 1 << 47;
const PLANE1: AuxPlaneIndex = AuxPlaneIndex::PLANE_1;
const VDEV: VdevId = VdevId(3);
const NONCES: VdevNonces = VdevNonces {
    lock: 1,
    meas: 2,
    report: 3,
};

/// An RMM offering RSI 1.0 and 1.1: TF-RMM v0.9.0.
fn v0_9() -> Simulator {
    Simulator::new(RealmConfig {
        rsi: RsiRevisions::TF_RMM_V0_9,
        ..RealmConfig::default()
    })
}

/// An RMM offering RSI 1.0 only: TF-RMM v0.8.0's default build.
fn v0_8() -> Simulator {
    Simulator::new(RealmConfig::default())
}

fn index(i: u64) -> PermIndex {
    PermIndex::try_new(i).unwrap()
}

/// Granule-aligned memory whose address is its IPA in the simulator.
#[repr(C, align(4096))]
struct Pages([u8; 0x4000]);

impl Pages {
    fn range() -> (Box<Self>, Ipa, Ipa) {
        let p = Box::new(Self([0; 0x4000]));
        let base = Ipa::of(&p.0);
        (p, base, Ipa(base.0 + 0x4000))
    }
}

/// Status of a raw call.
fn raw_status(conduit: &mut impl Conduit, fid: u32, args: &[u64]) -> RsiStatus {
    RsiStatus::from_raw(conduit.call(regs(fid, args))[0])
}

// ---- What a single-plane realm gets from TF-RMM v0.9.0 ----

/// `runtime/rsi/config.c`: an RSI 1.1 realm reads its number of auxiliary planes, 0 here.
#[test]
fn a_1_1_realm_knows_it_has_no_auxiliary_plane() {
    let mut s = v0_9();
    let realm = Realm::new(&mut s).unwrap();
    assert_eq!(realm.version(), AbiVersion::V1_1);
    assert_eq!(realm.num_aux_planes(), 0);
}

/// `runtime/rsi/config.c`: TF-RMM v0.8.0 and v0.9.0 write `num_aux_planes` (0 here);
/// only v0.9.0 writes `ats_plane`. The model leaves `gicv3_vtr` alone (it has no GIC).
#[test]
fn realm_config_writes_the_plane_fields() {
    for (mut s, ats_written) in [(v0_8(), false), (v0_9(), true)] {
        let mut config = Box::new(abi::RsiRealmConfig::zeroed());
        config.num_aux_planes = u64::MAX;
        config.ats_plane = u64::MAX;
        rsi::realm_config(&mut s, &mut config).unwrap();
        assert_eq!(config.num_aux_planes, 0);
        assert_eq!(config.ats_plane == 0, ats_written);
    }
}

/// `runtime/rsi/memory.c` + `runtime/rmi/realm.c`: plane 0 has `RW_upX` for indices 0 to 14;
/// index 15 and planes the realm lacks are ERROR_INPUT.
#[test]
fn mem_get_perm_value_reads_plane_0_defaults() {
    let mut s = v0_9();
    let mut realm = Realm::new(&mut s).unwrap();
    for i in 0..abi::PERM_INDEX_COUNT {
        assert_eq!(
            realm.mem_get_perm_value(PlaneIndex::PLANE_0, index(i)),
            Ok(MemPermValue::RwUpx),
            "index {i}"
        );
    }
    for plane in 1..=3 {
        let plane = PlaneIndex::try_new(plane).unwrap();
        assert_eq!(
            realm.mem_get_perm_value(plane, index(0)),
            Err(RsiError::ErrorInput)
        );
    }
    let fid = abi::RSI_MEM_GET_PERM_VALUE;
    assert_eq!(raw_status(&mut s, fid, &[0, 15]), RsiStatus::ErrorInput);
    assert_eq!(raw_status(&mut s, fid, &[4, 0]), RsiStatus::ErrorInput);
    // TF-RMM casts the index register to 32 bits before checking it.
    let r = s.call(regs(fid, &[0, 1 << 32]));
    assert_eq!((r[0], r[1]), (0, 15));
}

/// `runtime/rsi/memory.c`: plane 0's values cannot be set and plane 1 does not exist.
#[test]
fn mem_set_perm_value_is_refused() {
    let mut s = v0_9();
    let mut realm = Realm::new(&mut s).unwrap();
    assert_eq!(
        realm.mem_set_perm_value(PLANE1, index(1), MemPermValue::Rw),
        Err(RsiError::ErrorInput)
    );
    let fid = abi::RSI_MEM_SET_PERM_VALUE;
    assert_eq!(raw_status(&mut s, fid, &[0, 1, 12]), RsiStatus::ErrorInput);
}

/// `runtime/rsi/memory.c` and `runtime/rmi/run.c`: a valid request exits to the host
/// (`RMI_EXIT_S2AP_CHANGE`); on re-entry x1 = progress, x2 = response, x3 = cookie 0.
#[test]
fn mem_set_perm_index_exits_to_the_host() {
    let (_pages, base, top) = Pages::range();
    let mut s = v0_9();
    let mut realm = Realm::new(&mut s).unwrap();
    let change = realm
        .mem_set_perm_index(base, top, index(2), PermCookie::START)
        .unwrap();
    assert_eq!(change.next, top);
    assert_eq!(change.response, RsiResponse::Accept);
    assert_eq!(change.cookie, PermCookie::START);
    assert_eq!(
        s.exits(),
        [RecExit::S2apChange {
            base: base.0,
            top: top.0,
            index: 2
        }]
    );
}

/// `runtime/rsi/memory.c`: refusals that never reach the host. A non-zero cookie on a realm
/// whose planes share one tree, a range outside the protected half, index 15, and (before
/// anything else) an unaligned or empty range.
#[test]
fn mem_set_perm_index_refusals() {
    let (_pages, base, top) = Pages::range();
    let mut s = v0_9();
    let mut realm = Realm::new(&mut s).unwrap();
    assert_eq!(
        realm.mem_set_perm_index(base, top, index(1), PermCookie::from_raw(1)),
        Err(RsiError::ErrorInput)
    );
    assert_eq!(
        realm.mem_set_perm_index(
            Ipa(PAR_TOP - 0x1000),
            Ipa(PAR_TOP + 0x1000),
            index(1),
            PermCookie::START
        ),
        Err(RsiError::ErrorInput)
    );
    // realm-sdk refuses what it can see is wrong, without a call.
    for (b, t) in [(base, base), (top, base), (Ipa(base.0 + 8), top)] {
        assert_eq!(
            realm.mem_set_perm_index(b, t, index(1), PermCookie::START),
            Err(RsiError::BadArgument(BadArgument::Range))
        );
    }
    let fid = abi::RSI_MEM_SET_PERM_INDEX;
    let (b, t) = (base.0, top.0);
    for args in [[b, t, 15, 0], [b + 8, t, 1, 0], [t, b, 1, 0], [b, b, 1, 0]] {
        assert_eq!(raw_status(&mut s, fid, &args), RsiStatus::ErrorInput);
    }
    assert!(s.exits().is_empty());
}

/// `runtime/rsi/planes.c`: the target must be an existing auxiliary plane, checked first.
#[test]
fn plane_calls_are_refused() {
    let mut s = v0_9();
    let mut realm = Realm::new(&mut s).unwrap();
    let mut run = RsiPlaneRun::zeroed();
    for p in 1..=3 {
        let plane = AuxPlaneIndex::try_new(p).unwrap();
        assert_eq!(
            realm.plane_enter(plane, &mut run),
            Err(RsiError::ErrorInput)
        );
        for reg in SysregEncoding::ALL {
            assert_eq!(
                realm.plane_sysreg_read(plane, *reg),
                Err(RsiError::ErrorInput)
            );
            assert_eq!(
                realm.plane_sysreg_write(plane, *reg, 1),
                Err(RsiError::ErrorInput)
            );
        }
    }
    let run_ipa = Ipa::of_mut(&mut run).0;
    for (fid, args) in [
        (abi::RSI_PLANE_ENTER, [0, run_ipa]),
        (abi::RSI_PLANE_SYSREG_READ, [0, 0xC080]),
        (abi::RSI_PLANE_SYSREG_WRITE, [0, 0xC080]),
    ] {
        assert_eq!(raw_status(&mut s, fid, &args), RsiStatus::ErrorInput);
    }
}

/// `runtime/rsi/vdev.c`: without device assignment every VDEV command is ERROR_STATE, before
/// any argument is looked at; `runtime/core/exit.c` does not dispatch VSMMU_GET_INFO or
/// ARCH_DEV_ACTIVATE (SMC_UNKNOWN).
#[test]
fn device_calls_without_device_assignment() {
    let (_pages, base, top) = Pages::range();
    let mut s = v0_9();
    let mut realm = Realm::new(&mut s).unwrap();
    let mut info = RsiVdevInfo::zeroed();
    assert_eq!(
        realm.vdev_get_info(VDEV, &mut info),
        Err(RsiError::ErrorState)
    );
    assert_eq!(
        realm.vdev_dma_enable(VDEV, PlaneIndex::PLANE_0, &NONCES),
        Err(RsiError::ErrorState)
    );
    assert_eq!(realm.vdev_dma_disable(VDEV), Err(RsiError::ErrorState));
    assert_eq!(
        realm.vdev_validate_mapping(VDEV, base, top, 0x1000, DevMemFlags::SHARED, &NONCES),
        Err(RsiError::ErrorState)
    );
    assert_eq!(realm.vsmmu_get_info(), Err(RsiError::NotSupported));
    assert_eq!(realm.arch_dev_activate(), Err(RsiError::NotSupported));
    // ERROR_STATE comes before the argument checks: an unaligned buffer gets it too.
    assert_eq!(
        raw_status(&mut s, abi::RSI_VDEV_GET_INFO, &[0, 8]),
        RsiStatus::ErrorState
    );
    assert!(s.exits().is_empty());
}

/// `runtime/core/exit.c`: x1..x3 come back zero and x4..x7 keep their values.
#[test]
fn refusals_zero_x1_to_x3_and_keep_x4() {
    let mut s = v0_9();
    let mut r = regs(abi::RSI_PLANE_SYSREG_WRITE, &[1, 0xC080, 5, 6, 7]);
    r = s.call(r);
    assert_eq!(&r[..6], &[1, 0, 0, 0, 6, 7]);
}

// ---- TF-RMM v0.8.0's default build (RSI 1.0) ----

/// Counts the calls that reach the RMM.
struct Counting<C> {
    inner: C,
    calls: Cell<usize>,
}

impl<C: Conduit> Conduit for Counting<C> {
    fn call(&mut self, regs: Regs) -> Regs {
        self.calls.set(self.calls.get() + 1);
        self.inner.call(regs)
    }
}

/// realm-sdk: on a realm that negotiated RSI 1.0, every RSI 1.1 method is refused with
/// `NotNegotiated` and no SMC.
#[test]
fn rsi_1_0_realm_refuses_every_1_1_call_without_a_call() {
    let (_pages, base, top) = Pages::range();
    let mut c = Counting {
        inner: v0_8(),
        calls: Cell::new(0),
    };
    let mut realm = Realm::new(&mut c).unwrap();
    assert_eq!(realm.version(), AbiVersion::V1_0);
    assert_eq!(realm.num_aux_planes(), 0);
    let mut run = RsiPlaneRun::zeroed();
    let mut info = RsiVdevInfo::zeroed();
    let refused = |fid| RsiError::NotNegotiated {
        fid,
        negotiated: AbiVersion::V1_0,
    };
    let results = [
        (
            abi::RSI_MEM_GET_PERM_VALUE,
            realm
                .mem_get_perm_value(PlaneIndex::PLANE_0, index(0))
                .map(drop),
        ),
        (
            abi::RSI_MEM_SET_PERM_INDEX,
            realm
                .mem_set_perm_index(base, top, index(1), PermCookie::START)
                .map(drop),
        ),
        (
            abi::RSI_MEM_SET_PERM_VALUE,
            realm.mem_set_perm_value(PLANE1, index(1), MemPermValue::Rw),
        ),
        (
            abi::RSI_PLANE_ENTER,
            realm.plane_enter(PLANE1, &mut run).map(drop),
        ),
        (
            abi::RSI_PLANE_SYSREG_READ,
            realm
                .plane_sysreg_read(PLANE1, SysregEncoding::SCTLR_EL1)
                .map(drop),
        ),
        (
            abi::RSI_PLANE_SYSREG_WRITE,
            realm.plane_sysreg_write(PLANE1, SysregEncoding::SCTLR_EL1, 0),
        ),
        (abi::RSI_VDEV_GET_INFO, realm.vdev_get_info(VDEV, &mut info)),
        (
            abi::RSI_VDEV_DMA_ENABLE,
            realm.vdev_dma_enable(VDEV, PlaneIndex::PLANE_0, &NONCES),
        ),
        (abi::RSI_VDEV_DMA_DISABLE, realm.vdev_dma_disable(VDEV)),
        (
            abi::RSI_VDEV_VALIDATE_MAPPING,
            realm
                .vdev_validate_mapping(VDEV, base, top, 0, DevMemFlags::EMPTY, &NONCES)
                .map(drop),
        ),
        (abi::RSI_VSMMU_GET_INFO, realm.vsmmu_get_info()),
        (abi::RSI_ARCH_DEV_ACTIVATE, realm.arch_dev_activate()),
    ];
    let after_new = c.calls.get();
    for (fid, result) in results {
        assert_eq!(result, Err(refused(fid)), "{fid:#x}");
    }
    // Realm::new made its calls (RSI_VERSION twice, RSI_REALM_CONFIG) and nothing else.
    assert_eq!(after_new, 3);
    let text = refused(abi::RSI_PLANE_ENTER).to_string();
    assert_eq!(
        text,
        "RSI_PLANE_ENTER needs RSI 1.1, but RSI 1.0 was negotiated; nothing was sent"
    );
    assert_eq!(refused(abi::RSI_PLANE_ENTER).status(), None);
}

/// TF-RMM v0.8.0 `runtime/core/exit.c` dispatches the same permission and plane handlers
/// whatever `RMM_V1_1` is set to, has no 0x19D or 0x19F (SMC_UNKNOWN), and gives 0x19C and
/// 0x1A4 to its draft device handlers (`runtime/rsi/rdev.c`: ERROR_STATE without DA).
#[test]
fn tf_rmm_v0_8_answers_to_the_1_1_ids() {
    let (_pages, base, top) = Pages::range();
    let mut s = v0_8();
    assert_eq!(
        rsi::mem_get_perm_value(&mut s, PlaneIndex::PLANE_0, index(3)),
        Ok(MemPermValue::RwUpx)
    );
    let mut run = RsiPlaneRun::zeroed();
    assert_eq!(
        rsi::plane_enter(&mut s, PLANE1, &mut run),
        Err(RsiError::ErrorInput)
    );
    let mut info = RsiVdevInfo::zeroed();
    assert_eq!(
        rsi::vdev_get_info(&mut s, VDEV, &mut info),
        Err(RsiError::NotSupported)
    );
    assert_eq!(
        rsi::vdev_validate_mapping(&mut s, VDEV, base, top, 0, DevMemFlags::EMPTY, &NONCES),
        Err(RsiError::NotSupported)
    );
    assert_eq!(
        rsi::vdev_dma_enable(&mut s, VDEV, PlaneIndex::PLANE_0, &NONCES),
        Err(RsiError::ErrorState)
    );
    assert_eq!(
        rsi::vdev_dma_disable(&mut s, VDEV),
        Err(RsiError::ErrorState)
    );
    assert_eq!(rsi::vsmmu_get_info(&mut s), Err(RsiError::NotSupported));
    // RDEV_GET_INFO .. RDEV_STOP: ERROR_STATE; RDEV_VALIDATE_MAPPING checks its range first.
    for fid in 0xC400_01A5..=0xC400_01AB {
        assert_eq!(
            raw_status(&mut s, fid, &[]),
            RsiStatus::ErrorState,
            "{fid:#x}"
        );
    }
    let fid = 0xC400_01AC;
    assert_eq!(
        raw_status(&mut s, fid, &[0, 0, 0x1000, 0x3000, 0]),
        RsiStatus::ErrorState
    );
    assert_eq!(
        raw_status(&mut s, fid, &[0, 0, 0x1000, 0x1000, 0]),
        RsiStatus::ErrorInput
    );
    assert_eq!(
        raw_status(&mut s, fid, &[0, 0, 0x1000, 0x3000, 8]),
        RsiStatus::ErrorInput
    );
    // TF-RMM v0.9.0 dropped them: SMC_UNKNOWN.
    let mut s = v0_9();
    for fid in 0xC400_01A5..=0xC400_01AD {
        assert_eq!(
            raw_status(&mut s, fid, &[]),
            RsiStatus::NotSupported,
            "{fid:#x}"
        );
    }
}

// ---- Malformed replies, from a scripted RMM ----

/// Answers every call with `reply` and records the registers it was given.
struct Scripted {
    reply: Regs,
    seen: Vec<Regs>,
}

impl Scripted {
    fn new(reply: &[u64]) -> Self {
        let mut r = [0; 18];
        r[..reply.len()].copy_from_slice(reply);
        Self {
            reply: r,
            seen: Vec::new(),
        }
    }
}

impl Conduit for Scripted {
    fn call(&mut self, regs: Regs) -> Regs {
        self.seen.push(regs);
        self.reply
    }
}

#[test]
fn mem_get_perm_value_rejects_a_value_wider_than_4_bits() {
    let mut c = Scripted::new(&[0, 16]);
    assert_eq!(
        rsi::mem_get_perm_value(&mut c, PlaneIndex::PLANE_0, index(0)),
        Err(RsiError::BadReply(BadReply::PermValue(16)))
    );
    let mut c = Scripted::new(&[0, 12]);
    assert_eq!(
        rsi::mem_get_perm_value(&mut c, PlaneIndex::try_new(2).unwrap(), index(7)),
        Ok(MemPermValue::Rw)
    );
    assert_eq!(
        RsiCommand::from_regs(&c.seen[0]),
        Some(RsiCommand::MemGetPermValue { plane: 2, index: 7 })
    );
}

#[test]
fn mem_set_perm_index_checks_progress_and_response() {
    let (base, top) = (Ipa(0x10000), Ipa(0x14000));
    let call = |reply: &[u64]| {
        rsi::mem_set_perm_index(
            &mut Scripted::new(reply),
            base,
            top,
            index(1),
            PermCookie::START,
        )
    };
    assert_eq!(
        call(&[0, 0xF000, 0, 0]),
        Err(RsiError::BadReply(BadReply::Progress(0xF000)))
    );
    assert_eq!(
        call(&[0, 0x15000, 0, 0]),
        Err(RsiError::BadReply(BadReply::Progress(0x15000)))
    );
    assert_eq!(
        call(&[0, 0x12000, 2, 0]),
        Err(RsiError::BadReply(BadReply::Response(2)))
    );
    let change = call(&[0, 0x12000, 1, 0x10001]).unwrap();
    assert_eq!(change.next, Ipa(0x12000));
    assert_eq!(change.response, RsiResponse::Reject);
    assert_eq!(change.cookie.to_raw(), 0x10001);
    assert_eq!(call(&[1]), Err(RsiError::ErrorInput));
}

#[test]
fn plane_enter_rejects_an_undefined_exit_reason() {
    let mut run = RsiPlaneRun::zeroed();
    run.exit.reason = 3;
    let mut c = Scripted::new(&[0]);
    assert_eq!(
        rsi::plane_enter(&mut c, PLANE1, &mut run),
        Err(RsiError::BadReply(BadReply::PlaneExitReason(3)))
    );
    run.exit.reason = 1;
    assert_eq!(
        rsi::plane_enter(&mut c, PLANE1, &mut run),
        Ok(RsiPlaneExitReason::Irq)
    );
    assert_eq!(
        RsiCommand::from_regs(&c.seen[0]),
        Some(RsiCommand::PlaneEnter {
            plane: 1,
            run: Ipa::of(&run).0
        })
    );
}

#[test]
fn plane_sysreg_widths() {
    let sctlr = SysregEncoding::SCTLR_EL1;
    let ttbr0 = SysregEncoding::TTBR0_EL1.as_128bit();
    let mut c = Scripted::new(&[0, 5, 1]);
    assert_eq!(
        rsi::plane_sysreg_read(&mut c, PLANE1, sctlr),
        Err(RsiError::BadReply(BadReply::SysregUpper(1)))
    );
    assert_eq!(
        rsi::plane_sysreg_read(&mut c, PLANE1, ttbr0),
        Ok(1 << 64 | 5)
    );
    let mut c = Scripted::new(&[0]);
    assert_eq!(
        rsi::plane_sysreg_write(&mut c, PLANE1, sctlr, 1 << 64),
        Err(RsiError::BadArgument(BadArgument::SysregValueTooWide))
    );
    assert!(c.seen.is_empty());
    rsi::plane_sysreg_write(&mut c, PLANE1, ttbr0, 2 << 64 | 3).unwrap();
    assert_eq!(
        RsiCommand::from_regs(&c.seen[0]),
        Some(RsiCommand::PlaneSysregWrite {
            plane: 1,
            sysreg: ttbr0.to_raw(),
            value: 3,
            value_hi: 2
        })
    );
}

#[test]
fn vdev_get_info_rejects_undefined_fields() {
    let mut c = Scripted::new(&[0]);
    let mut info = RsiVdevInfo::zeroed();
    rsi::vdev_get_info(&mut c, VDEV, &mut info).unwrap();
    for (field, set) in [
        (
            "state",
            (|i: &mut RsiVdevInfo| i.state = 4) as fn(&mut RsiVdevInfo),
        ),
        ("hash_algo", |i| i.hash_algo = 3),
        ("format_type", |i| i.format_type = 2),
    ] {
        let mut info = RsiVdevInfo::zeroed();
        set(&mut info);
        let err = rsi::vdev_get_info(&mut c, VDEV, &mut info).unwrap_err();
        let RsiError::BadReply(BadReply::VdevInfo { field: f, .. }) = err else {
            panic!("{err}");
        };
        assert_eq!(f, field);
    }
    assert_eq!(
        RsiCommand::from_regs(&c.seen[0]),
        Some(RsiCommand::VdevGetInfo {
            vdev_id: 3,
            ipa: Ipa::of(&info).0
        })
    );
}

#[test]
fn vdev_validate_mapping_checks_arguments_and_reply() {
    let (base, top) = (Ipa(0x10000), Ipa(0x12000));
    let call = |c: &mut Scripted, pa, flags| {
        rsi::vdev_validate_mapping(c, VDEV, base, top, pa, flags, &NONCES)
    };
    let mut c = Scripted::new(&[0, 0x11000, 0]);
    assert_eq!(
        call(&mut c, 0x1008, DevMemFlags::EMPTY),
        Err(RsiError::BadArgument(BadArgument::UnalignedPa(0x1008)))
    );
    assert_eq!(
        call(&mut c, 0x1000, DevMemFlags::from_raw(4)),
        Err(RsiError::BadArgument(BadArgument::UndefinedFlags(4)))
    );
    assert!(c.seen.is_empty());
    let done = call(&mut c, 0x1000, DevMemFlags::SHARED | DevMemFlags::COHERENT).unwrap();
    assert_eq!(
        (done.next, done.response),
        (Ipa(0x11000), RsiResponse::Accept)
    );
    assert_eq!(
        RsiCommand::from_regs(&c.seen[0]),
        Some(RsiCommand::VdevValidateMapping {
            vdev_id: 3,
            ipa_base: 0x10000,
            ipa_top: 0x12000,
            pa_base: 0x1000,
            flags: 3,
            lock_nonce: 1,
            meas_nonce: 2,
            report_nonce: 3
        })
    );
    let mut c = Scripted::new(&[0, 0x13000, 0]);
    assert_eq!(
        call(&mut c, 0x1000, DevMemFlags::EMPTY),
        Err(RsiError::BadReply(BadReply::Progress(0x13000)))
    );
    let mut c = Scripted::new(&[0, 0x12000, 5]);
    assert_eq!(
        call(&mut c, 0x1000, DevMemFlags::EMPTY),
        Err(RsiError::BadReply(BadReply::Response(5)))
    );
}

#[test]
fn vdev_dma_enable_sends_the_nonces_and_no_flags() {
    let mut c = Scripted::new(&[5]);
    assert_eq!(
        rsi::vdev_dma_enable(&mut c, VDEV, PlaneIndex::try_new(2).unwrap(), &NONCES),
        Err(RsiError::ErrorDevice)
    );
    assert_eq!(&c.seen[0][1..8], &[3, 0, 2, 1, 2, 3, 0]);
    let info = {
        let mut i = RsiVdevInfo::zeroed();
        (i.lock_nonce, i.meas_nonce, i.report_nonce) = (7, 8, 9);
        i
    };
    assert_eq!(
        VdevNonces::from(&info),
        VdevNonces {
            lock: 7,
            meas: 8,
            report: 9
        }
    );
}

/// An RSI 1.1 RMM whose REALM_CONFIG reports more than 3 auxiliary planes is refused.
#[test]
fn realm_config_with_too_many_planes_is_a_bad_reply() {
    struct Lying;
    impl Conduit for Lying {
        fn call(&mut self, r: Regs) -> Regs {
            let mut out = [0; 18];
            match u32::try_from(r[0]) {
                Ok(abi::RSI_VERSION) => (out[1], out[2]) = (r[1], 0x10001),
                Ok(abi::RSI_REALM_CONFIG) => {
                    let config = r[1] as *mut abi::RsiRealmConfig;
                    // SAFETY: Realm::new passes the address of its own `RsiRealmConfig`,
                    // which it does not touch during the call.
                    unsafe {
                        (*config).ipa_width = 48;
                        (*config).num_aux_planes = 4;
                    }
                }
                _ => out[0] = u64::MAX,
            }
            out
        }
    }
    let err = Realm::new(Lying).err().unwrap();
    assert_eq!(err, RsiError::BadReply(BadReply::AuxPlanes(4)));
    assert_eq!(
        err.to_string(),
        "malformed reply from the RMM: RSI_REALM_CONFIG reports 4 auxiliary planes, more \
         than the 3 RSI 1.1 allows"
    );
}

/// Errors read as sentences with names and hex values.
#[test]
fn rsi_1_1_errors_read_as_sentences() {
    let texts = [
        (
            RsiError::BadReply(BadReply::PermValue(0x10)),
            "malformed reply from the RMM: RSI_MEM_GET_PERM_VALUE returned 0x10, which is not \
             a 4-bit permission value",
        ),
        (
            RsiError::BadReply(BadReply::PlaneExitReason(7)),
            "malformed reply from the RMM: RSI_PLANE_ENTER left exit reason 0x7, which is not \
             defined",
        ),
        (
            RsiError::BadReply(BadReply::SysregUpper(1)),
            "malformed reply from the RMM: RSI_PLANE_SYSREG_READ returned upper bits 0x1 for \
             a 64-bit register",
        ),
        (
            RsiError::BadReply(BadReply::VdevInfo {
                field: "state",
                value: 9,
            }),
            "malformed reply from the RMM: RSI_VDEV_GET_INFO wrote state = 0x9, which is not \
             defined",
        ),
        (
            RsiError::BadArgument(BadArgument::UnalignedPa(0x10)),
            "invalid argument: device physical address 0x10 is not granule aligned",
        ),
        (
            RsiError::BadArgument(BadArgument::UndefinedFlags(0x8)),
            "invalid argument: flag bits 0x8 are not defined by the specification",
        ),
        (
            RsiError::NotNegotiated {
                fid: 0xC400_01A5,
                negotiated: AbiVersion::V1_0,
            },
            "RSI function 0xc40001a5 needs RSI 1.1, but RSI 1.0 was negotiated; nothing was \
             sent",
        ),
    ];
    for (err, text) in texts {
        assert_eq!(err.to_string(), text);
    }
}
