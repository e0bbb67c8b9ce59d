//! No exclusive access touches Device memory: every example, in every mode the other system
//! tests run, executes no exclusive or atomic read-modify-write instruction before the
//! runtime turns the MMU on (QEMU's `-d in_asm` log, read by `xtask::exclusives`), and does
//! turn it on. Secondary RECs (`smp`) enter through assembly that turns the MMU on with the
//! primary's map before any Rust runs; their translation blocks come after the primary's
//! `SCTLR_EL1` write in the log, so the check covers them as code run with the MMU on.

use std::time::Duration;

use system_tests::qemu_or_skip;
use xtask::exclusives::check_in_asm_log;
use xtask::{Qemu, build_harness, build_payload};

/// REALM_RAM of realm-build's `linker/qemu-virt-realm.ld`.
const REALM_RAM: std::ops::Range<u64> = 0x8000_0000..0x8200_0000;

fn check(payload: &str, entry: [u64; 2]) {
    check_recs(payload, entry, 1);
}

fn check_recs(payload: &str, entry: [u64; 2], recs: usize) {
    let test = format!("{payload} {entry:?}: no exclusive access before the MMU is on");
    if !qemu_or_skip(&test) {
        return;
    }
    let harness = build_harness().expect("build el2-harness");
    let (image_path, image) = build_payload(payload).expect("build payload");
    let log = std::env::temp_dir().join(format!(
        "realm-sdk-in-asm-{payload}-{}-{}-{}.log",
        entry[0],
        entry[1],
        std::process::id()
    ));
    let output = Qemu {
        harness,
        image: image_path,
        image_size: image.bytes.len() as u64,
        entry,
        recs,
        timeout: Duration::from_secs(120),
        rmm: xtask::ModelRmm::default(),
        disk: None,
    }
    .run_traced(&log)
    .expect("run QEMU");
    let text = std::fs::read_to_string(&log).expect("read the QEMU log");
    let _ = std::fs::remove_file(&log);
    let report = check_in_asm_log(&text, REALM_RAM);
    assert!(
        report.mmu_on.is_some(),
        "{test}: the realm never wrote SCTLR_EL1\n--- output ---\n{output}"
    );
    assert!(
        report.before.is_empty(),
        "{test}: exclusive or atomic instructions with the MMU off: {:x?}",
        report.before
    );
    // The check sees the locks once the MMU is on: the log is the one it should read.
    assert!(!report.after.is_empty(), "{test}: no atomics at all?");
}

#[test]
fn hello_both_consoles() {
    check("hello", [0, 0]);
    check("hello", [cca_abi::hostcall::ENTRY_CONSOLE_PL011, 0]);
}

#[test]
fn attest() {
    check("attest", [0, 0]);
}

#[test]
fn seal() {
    check("seal", [0, 0]);
}

#[test]
fn minimal() {
    check("minimal", [0, 0]);
}

#[test]
fn timer() {
    check("timer", [0, 0]);
}

#[test]
fn selftest_every_ending() {
    for ending in 0..=4 {
        check("selftest", [0, ending]);
    }
}

#[test]
fn smp_on_two_recs() {
    check_recs("smp", [0, 0], 2);
}

#[test]
fn virtio() {
    check("virtio", [0, 0]);
}

#[test]
fn inference_bench() {
    check("inference-bench", [0, 0]);
}
