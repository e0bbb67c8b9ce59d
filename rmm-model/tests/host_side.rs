//! The host's side of the model: REC exits and the entries that answer them, on simulated
//! memory. Rules from DEN0137 1.0-rel0 B4.3.12 (RMI_REC_ENTER) and TF-RMM v0.8.0.

use cca_abi::hostcall::CONSOLE_WRITE;
use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rsi::{RSI_HOST_CALL, RSI_IPA_STATE_SET, RSI_REALM_CONFIG, Ripas};
use cca_abi::smccc::{Regs, regs};
use rmm_model::memory::SimMemory;
use rmm_model::token::NoAttestation;
use rmm_model::{EnterError, HostResponse, RealmConfig, RealmModel, RecExit, Step};

const RAM: u64 = 0x8000_0000;

fn model() -> (RealmModel<NoAttestation>, SimMemory) {
    let config = RealmConfig {
        ipa_width: 39,
        rim: Measurement::zero(HashAlgorithm::Sha256),
        ..RealmConfig::default()
    };
    (
        RealmModel::new(config, &[(RAM, RAM + 0x10000)], NoAttestation),
        SimMemory::new(RAM, 0x10000),
    )
}

fn host_call(m: &mut RealmModel<NoAttestation>, mem: &mut SimMemory, r: &mut Regs) -> Step {
    *r = regs(RSI_HOST_CALL, &[RAM + 0x100]);
    m.handle_smc(0, r, mem)
}

/// B5.3.3: the exit carries the structure's immediate and registers; the entry writes the
/// host's registers back and returns SUCCESS.
#[test]
fn host_call_exit_and_completion() {
    let (mut m, mut mem) = model();
    let mut raw = [0u8; 0x100];
    raw[..2].copy_from_slice(&CONSOLE_WRITE.to_le_bytes());
    raw[8..16].copy_from_slice(&7u64.to_le_bytes());
    rmm_model::memory::RealmMemory::write(&mut mem, RAM + 0x100, &raw).unwrap();
    let mut r = [0; 18];
    let Step::Exit(RecExit::HostCall { imm, gprs }) = host_call(&mut m, &mut mem, &mut r) else {
        panic!("expected a host call exit");
    };
    assert_eq!((imm, gprs[0]), (CONSOLE_WRITE, 7));
    let mut reply = gprs;
    reply[0] = 99;
    m.enter(0, &mut r, HostResponse::HostCall { gprs: reply }, &mut mem)
        .unwrap();
    assert_eq!(r[0], 0);
    assert_eq!(mem.get(RAM + 0x108, 8).unwrap(), 99u64.to_le_bytes());
}

/// B4.3.12: an entry must answer the pending exit; the wrong answer is refused and the exit
/// stays pending; while it is pending the REC cannot make another call.
#[test]
fn entry_must_answer_the_pending_exit() {
    let (mut m, mut mem) = model();
    let mut r = [0; 18];
    assert!(matches!(host_call(&mut m, &mut mem, &mut r), Step::Exit(_)));
    let wrong = HostResponse::Ripas {
        progress: RAM,
        reject: false,
    };
    assert_eq!(
        m.enter(0, &mut r, wrong, &mut mem),
        Err(EnterError::WrongResponse)
    );
    assert_eq!(
        m.enter(0, &mut r, HostResponse::Resume, &mut mem),
        Err(EnterError::WrongResponse)
    );
    let mut again = regs(RSI_REALM_CONFIG, &[RAM]);
    assert_eq!(m.handle_smc(0, &mut again, &mut mem), Step::Resume);
    assert_eq!(again[0], u64::MAX, "no call while an exit is pending");
    assert_eq!(
        m.enter(1, &mut r, HostResponse::Resume, &mut mem),
        Err(EnterError::NoSuchRec)
    );
}

/// B4.3.16 / B5.3.11: the host's progress must lie in [base, top] on a granule boundary.
#[test]
fn ripas_progress_must_be_in_range() {
    let (mut m, mut mem) = model();
    let mut r = regs(RSI_IPA_STATE_SET, &[RAM, RAM + 0x4000, 0, 0]);
    let Step::Exit(RecExit::RipasChange {
        base,
        top,
        ripas,
        change_destroyed,
    }) = m.handle_smc(0, &mut r, &mut mem)
    else {
        panic!("expected a RIPAS change exit");
    };
    assert_eq!(
        (base, top, ripas, change_destroyed),
        (RAM, RAM + 0x4000, Ripas::Empty, false)
    );
    for progress in [RAM - 0x1000, RAM + 0x5000, RAM + 0x800] {
        let resp = HostResponse::Ripas {
            progress,
            reject: false,
        };
        assert_eq!(
            m.enter(0, &mut r, resp, &mut mem),
            Err(EnterError::BadProgress)
        );
    }
    m.enter(
        0,
        &mut r,
        HostResponse::Ripas {
            progress: RAM + 0x2000,
            reject: true,
        },
        &mut mem,
    )
    .unwrap();
    // REJECT only applies to RAM requests; this one asked for EMPTY, so it is accepted.
    assert_eq!(&r[..3], &[0, RAM + 0x2000, 0]);
    assert_eq!(
        m.ripas().run(RAM, RAM + 0x4000),
        (Ripas::Empty, RAM + 0x2000)
    );
}

/// TF-RMM: after SYSTEM_OFF every REC_ENTER fails (RMI_ERROR_REALM).
#[test]
fn no_entry_after_system_off() {
    let (mut m, mut mem) = model();
    let mut r = regs(0x8400_0008, &[]);
    assert!(matches!(
        m.handle_smc(0, &mut r, &mut mem),
        Step::Exit(RecExit::Psci {
            fid: 0x8400_0008,
            ..
        })
    ));
    assert!(m.is_off());
    assert_eq!(
        m.enter(0, &mut r, HostResponse::Resume, &mut mem),
        Err(EnterError::RealmOff)
    );
}

/// TF-RMM: CPU_OFF makes the REC not runnable.
#[test]
fn no_entry_after_cpu_off() {
    let (mut m, mut mem) = model();
    let mut r = regs(0x8400_0002, &[]);
    assert!(matches!(
        m.handle_smc(0, &mut r, &mut mem),
        Step::Exit(RecExit::Psci { .. })
    ));
    assert_eq!(
        m.enter(0, &mut r, HostResponse::Resume, &mut mem),
        Err(EnterError::NotRunnable)
    );
}

/// TF-RMM: a REC that called CPU_OFF starts afresh when another REC's CPU_ON completes for
/// it (`psci_reset_rec`): it takes calls again, and AFFINITY_INFO follows it off and on.
#[test]
fn cpu_on_restarts_a_rec_after_cpu_off() {
    let config = RealmConfig {
        ipa_width: 39,
        recs: 2,
        ..RealmConfig::default()
    };
    let mut m = RealmModel::new(config, &[(RAM, RAM + 0x10000)], NoAttestation);
    let mut mem = SimMemory::new(RAM, 0x10000);
    let cpu_on = |m: &mut RealmModel<NoAttestation>, mem: &mut SimMemory| {
        let mut r = regs(0xC400_0003, &[1, RAM, 7]);
        assert!(matches!(
            m.handle_smc(0, &mut r, mem),
            Step::Exit(RecExit::Psci { .. })
        ));
        m.psci_complete(0, &mut r, 0).unwrap();
        r[0]
    };
    let affinity = |m: &mut RealmModel<NoAttestation>, mem: &mut SimMemory| {
        let mut r = regs(0xC400_0004, &[1, 0]);
        assert!(matches!(
            m.handle_smc(0, &mut r, mem),
            Step::Exit(RecExit::Psci { .. })
        ));
        m.psci_complete(0, &mut r, 0).unwrap();
        r[0]
    };
    assert_eq!(cpu_on(&mut m, &mut mem), 0);
    assert_eq!(affinity(&mut m, &mut mem), 0, "on");
    // ALREADY_ON (-4) for a REC that is on.
    assert_eq!(cpu_on(&mut m, &mut mem) as i64, -4);
    let mut r = regs(0x8400_0002, &[]);
    assert!(matches!(
        m.handle_smc(1, &mut r, &mut mem),
        Step::Exit(RecExit::Psci { .. })
    ));
    assert_eq!(affinity(&mut m, &mut mem), 1, "off");
    assert_eq!(cpu_on(&mut m, &mut mem), 0);
    let mut r = regs(0x8400_0000, &[]);
    assert_eq!(m.handle_smc(1, &mut r, &mut mem), Step::Resume);
    assert_eq!(r[0], 0x1_0001, "REC 1 takes calls again");
}

/// A memory access the backing store cannot serve becomes a data-abort exit and leaves the
/// registers as they were, so the call can be made again.
#[test]
fn unbacked_memory_is_a_data_abort() {
    let config = RealmConfig {
        ipa_width: 39,
        ..RealmConfig::default()
    };
    let mut m = RealmModel::new(config, &[(RAM, RAM + 0x10000)], NoAttestation);
    let mut mem = SimMemory::new(RAM, 0x1000);
    let mut r = regs(RSI_REALM_CONFIG, &[RAM + 0x2000]);
    let before = r;
    assert_eq!(
        m.handle_smc(0, &mut r, &mut mem),
        Step::Exit(RecExit::DataAbort { ipa: RAM + 0x2000 })
    );
    assert_eq!(r, before);
}
