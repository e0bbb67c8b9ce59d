//! `RMI_REC_ENTER` on the in-process model: a realm program's SMCs reach the RSI side, and
//! each REC exit comes back to the host in `RmiRecRun` (DEN0137 B4.3.12, B4.4.x exits).

use std::sync::Arc;

use cca_abi::hostcall::CONSOLE_WRITE;
use cca_abi::rmi::{
    RmiCommand, RmiExitReason, RmiRealmParams, RmiRecParams, RmiRecRun, RmiReturn, RmiStatus,
};
use cca_abi::rsi::{RSI_HOST_CALL, RSI_IPA_STATE_SET, RSI_MEASUREMENT_EXTEND, RsiHostCall};
use cca_abi::smccc::{Conduit, regs};
use rmm_model::rmi::{GranuleState, Rmm, RmmConfig};
use zerocopy::FromZeros;

fn addr<T>(t: &T) -> u64 {
    std::ptr::from_ref(t).expose_provenance() as u64
}

fn ok(rmm: &mut Rmm, cmd: RmiCommand) -> [u64; 18] {
    let r = rmm.call(cmd.to_regs());
    assert_eq!(RmiReturn::from_raw(r[0]), RmiReturn::SUCCESS, "{cmd:?}");
    r
}

/// Builds a realm with one REC through RMI and returns (rd, rec, all granules).
fn build(rmm: &mut Rmm) -> (u64, u64) {
    let base = RmmConfig::default().delegable.0;
    let g = |i: u64| base + i * 0x1000;
    for i in 0..20 {
        ok(rmm, RmiCommand::GranuleDelegate { addr: g(i) });
    }
    let mut p = Box::new(RmiRealmParams::new_zeroed());
    p.s2sz = 48;
    p.num_bps = 1;
    p.num_wps = 1;
    p.rtt_base = g(1);
    p.rtt_level_start = 0;
    p.rtt_num_start = 1;
    p.vmid = 1;
    ok(
        rmm,
        RmiCommand::RealmCreate {
            rd: g(0),
            params: addr(&*p),
        },
    );
    let mut rp = Box::new(RmiRecParams::new_zeroed());
    rp.flags = 1;
    rp.num_aux = 16;
    for i in 0..16 {
        rp.aux[i] = g(3 + i as u64);
    }
    ok(
        rmm,
        RmiCommand::RecCreate {
            rd: g(0),
            rec: g(2),
            params: addr(&*rp),
        },
    );
    ok(rmm, RmiCommand::RealmActivate { rd: g(0) });
    (g(0), g(2))
}

#[test]
fn rec_enter_runs_the_program_and_reports_exits() {
    let mut rmm = Rmm::new(RmmConfig::default());
    rmm.set_program(Arc::new(|_rec, c: &mut dyn Conduit| {
        let r = c.call(regs(RSI_MEASUREMENT_EXTEND, &[1, 3, 0x0030_2010]));
        assert_eq!(r[0], 0);
        let mut call = Box::new(RsiHostCall::new(CONSOLE_WRITE));
        call.gprs[0] = 42;
        let r = c.call(regs(RSI_HOST_CALL, &[addr(&*call)]));
        assert_eq!(
            (r[0], call.gprs[0]),
            (0, 43),
            "the host's reply lands in the structure"
        );
        let r = c.call(regs(RSI_IPA_STATE_SET, &[0x10_0000, 0x10_4000, 0, 0]));
        assert_eq!(&r[..3], &[0, 0x10_4000, 0]);
        c.call(regs(0x8400_0008, &[]));
    }));
    let (rd, rec) = build(&mut rmm);
    let mut run = Box::new(RmiRecRun::new_zeroed());

    ok(
        &mut rmm,
        RmiCommand::RecEnter {
            rec,
            run: addr(&*run),
        },
    );
    assert_eq!(
        RmiExitReason::from_raw(run.exit.exit_reason.into()),
        RmiExitReason::HostCall
    );
    assert_eq!((run.exit.imm, run.exit.gprs[0]), (CONSOLE_WRITE, 42));
    let mut expected =
        cca_abi::measurement::Measurement::zero(cca_abi::measurement::HashAlgorithm::Sha256);
    expected.extend(&[0x10, 0x20, 0x30]);
    assert_eq!(rmm.realm_model(rd).unwrap().rems()[0], expected);

    run.enter.gprs[0] = 43;
    ok(
        &mut rmm,
        RmiCommand::RecEnter {
            rec,
            run: addr(&*run),
        },
    );
    assert_eq!(
        RmiExitReason::from_raw(run.exit.exit_reason.into()),
        RmiExitReason::RipasChange
    );
    assert_eq!(
        (
            run.exit.ripas_base,
            run.exit.ripas_top,
            run.exit.ripas_value
        ),
        (0x10_0000, 0x10_4000, 0)
    );
    // The host must change the RIPAS before entering again; no RTT covers this range, so
    // the model applies it to the in-process realm's memory.
    ok(
        &mut rmm,
        RmiCommand::RttSetRipas {
            rd,
            rec,
            base: 0x10_0000,
            top: 0x10_4000,
        },
    );
    ok(
        &mut rmm,
        RmiCommand::RecEnter {
            rec,
            run: addr(&*run),
        },
    );
    assert_eq!(
        RmiExitReason::from_raw(run.exit.exit_reason.into()),
        RmiExitReason::Psci
    );
    assert_eq!(run.exit.gprs[0], 0x8400_0008);

    // TF-RMM: after SYSTEM_OFF, REC_ENTER fails with RMI_ERROR_REALM index 1.
    let r = rmm.call(
        RmiCommand::RecEnter {
            rec,
            run: addr(&*run),
        }
        .to_regs(),
    );
    assert_eq!(
        RmiReturn::from_raw(r[0]),
        RmiReturn::new(RmiStatus::ErrorRealm, 1)
    );

    // Teardown in reverse order leaves nothing delegated.
    assert_eq!(
        rmm.call(RmiCommand::RealmDestroy { rd }.to_regs())[0] & 0xff,
        2,
        "RECs still exist"
    );
    ok(&mut rmm, RmiCommand::RecDestroy { rec });
    ok(&mut rmm, RmiCommand::RealmDestroy { rd });
    let base = RmmConfig::default().delegable.0;
    for i in 0..20 {
        assert_eq!(
            rmm.granule(base + i * 0x1000),
            Some(GranuleState::Delegated)
        );
        ok(
            &mut rmm,
            RmiCommand::GranuleUndelegate {
                addr: base + i * 0x1000,
            },
        );
    }
    assert_eq!(rmm.delegated_count(), 0);
}

/// DEN0137 B4.3.12: a realm that is not activated cannot be entered (RMI_ERROR_REALM); a
/// granule of the wrong state is RMI_ERROR_INPUT.
#[test]
fn rec_enter_state_checks() {
    let mut rmm = Rmm::new(RmmConfig::default());
    let run = Box::new(RmiRecRun::new_zeroed());
    let r = rmm.call(
        RmiCommand::RecEnter {
            rec: RmmConfig::default().delegable.0,
            run: addr(&*run),
        }
        .to_regs(),
    );
    assert_eq!(RmiReturn::from_raw(r[0]).status, RmiStatus::ErrorInput);
}

/// TF-RMM `runtime/rsi/memory.c` / `runtime/rmi/run.c`: `RSI_MEM_SET_PERM_INDEX` reaches the
/// host as `RMI_EXIT_S2AP_CHANGE` with the range at 0x520 / 0x528 (dispatched even by
/// v0.8.0's RMI 1.0 build); without `RMI_RTT_SET_S2AP` nothing changes, so the realm gets
/// x1 = base, and x2 = the response the host gave with the `S2AP_RESPONSE` entry flag.
#[test]
fn mem_set_perm_index_exits_with_the_range() {
    use cca_abi::rmi::RecEnterFlags;
    use cca_abi::rsi::RSI_MEM_SET_PERM_INDEX;
    let mut rmm = Rmm::new(RmmConfig::default());
    let seen = Arc::new(std::sync::Mutex::new(None));
    let in_realm = Arc::clone(&seen);
    rmm.set_program(Arc::new(move |_rec, c: &mut dyn Conduit| {
        let r = c.call(regs(RSI_MEM_SET_PERM_INDEX, &[0x10_0000, 0x10_4000, 3, 0]));
        *in_realm.lock().unwrap() = Some([r[0], r[1], r[2], r[3]]);
        c.call(regs(0x8400_0008, &[]));
    }));
    let (_rd, rec) = build(&mut rmm);
    let mut run = Box::new(RmiRecRun::new_zeroed());
    ok(
        &mut rmm,
        RmiCommand::RecEnter {
            rec,
            run: addr(&*run),
        },
    );
    assert_eq!(
        RmiExitReason::from_raw(run.exit.exit_reason.into()),
        RmiExitReason::S2apChange
    );
    assert_eq!(
        (run.exit.s2ap_base, run.exit.s2ap_top),
        (0x10_0000, 0x10_4000)
    );
    run.enter.flags = RecEnterFlags::S2AP_RESPONSE.to_raw();
    ok(
        &mut rmm,
        RmiCommand::RecEnter {
            rec,
            run: addr(&*run),
        },
    );
    assert_eq!(
        RmiExitReason::from_raw(run.exit.exit_reason.into()),
        RmiExitReason::Psci
    );
    assert_eq!(*seen.lock().unwrap(), Some([0, 0x10_0000, 1, 0]));
}
