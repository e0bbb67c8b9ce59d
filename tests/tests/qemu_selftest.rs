//! The `selftest` realm payload on QEMU under the EL2 harness: heap, RIPAS changes through
//! the host, the token protocol's error path, and each way a payload can end (return,
//! undefined instruction, panic, HVC, a write to the stack guard page), checked against
//! `expected/selftest-*.txt`, each with the MMU and caches on.
//!
//! The exception lines check the runtime's vectors (vector name, EC, ESR) and the HVC case
//! checks the harness's injection of an Undefined Instruction exception, as TF-RMM does.
//!
//! The harness models TF-RMM v0.8.0 (RSI 1.0), where the selftest's RSI 1.1 calls are refused
//! by realm-sdk before any SMC; `selftest_rsi_1_1_on_a_single_plane_realm` runs it once more
//! with the harness modelling TF-RMM v0.9.0, where they reach the model and get TF-RMM's
//! answers for a realm with no auxiliary plane and no device.

use std::time::Duration;

use system_tests::{expected, match_output, qemu_or_skip};
use xtask::{ModelRmm, Qemu, build_harness, build_payload};

/// Runs the selftest ending `ending`; `ended` is how `xtask::check_realm_end` must judge it.
fn run_selftest(ending: u64, expectation: &str, ended: Result<(), &str>) -> Vec<String> {
    run_selftest_on(ModelRmm::TfRmmV0_8, ending, expectation, ended)
}

/// As [`run_selftest`], with the harness modelling `rmm`; the captures of the expectation.
fn run_selftest_on(
    rmm: ModelRmm,
    ending: u64,
    expectation: &str,
    ended: Result<(), &str>,
) -> Vec<String> {
    let test = format!("selftest ending {ending} on {rmm:?}");
    if !qemu_or_skip(&test) {
        return Vec::new();
    }
    let harness = build_harness().expect("build el2-harness");
    let (image_path, image) = build_payload("selftest").expect("build selftest");
    let output = Qemu {
        harness,
        image: image_path,
        image_size: image.bytes.len() as u64,
        entry: [0, ending],
        recs: 1,
        timeout: Duration::from_secs(120),
        rmm,
        disk: None,
    }
    .run()
    .expect("run QEMU");
    let captures = match_output(&expected(expectation), &output)
        .unwrap_or_else(|e| panic!("{test}: {e}\n--- output ---\n{output}"));
    assert_eq!(
        xtask::check_realm_end(&output),
        ended.map_err(str::to_owned),
        "{test}"
    );
    let offline = el2_harness::measure::rim(&image.bytes, [0, ending]).expect("image fits");
    assert_eq!(
        captures[1],
        offline.to_string(),
        "{test}: harness RIM vs offline RIM"
    );
    captures
}

#[test]
fn selftest_returns() {
    let _ = run_selftest(0, "selftest-return.txt", Ok(()));
}

#[test]
fn selftest_undefined_instruction_is_reported() {
    let _ = run_selftest(
        1,
        "selftest-undefined.txt",
        Err("the realm ended: unhandled exception (status 2)"),
    );
}

#[test]
fn selftest_panic_is_reported() {
    let _ = run_selftest(
        2,
        "selftest-panic.txt",
        Err("the realm ended: panic (status 1)"),
    );
}

#[test]
fn selftest_hvc_becomes_undefined_instruction() {
    let _ = run_selftest(
        3,
        "selftest-hvc.txt",
        Err("the realm ended: unhandled exception (status 2)"),
    );
}

#[test]
fn selftest_rsi_1_1_on_a_single_plane_realm() {
    let _ = run_selftest_on(ModelRmm::TfRmmV0_9, 0, "selftest-rsi11.txt", Ok(()));
}

#[test]
fn selftest_stack_overflow_hits_the_guard_page() {
    // ESR 0x96000047: data abort from the current EL (EC 0x25), a write (WnR), translation
    // fault at level 3 (DFSC 0b000111): the guard page below the stack is unmapped, and the
    // vectors report it on their own stack.
    let captures = run_selftest(
        4,
        "selftest-guard.txt",
        Err("the realm ended: unhandled exception (status 2)"),
    );
    let Some([guard, far]) = captures.get(2..4) else {
        return; // skipped
    };
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex");
    let (guard, far) = (hex(guard), hex(far));
    assert!(
        (guard..guard + 4096).contains(&far),
        "FAR {far:#x} outside the guard page at {guard:#x}"
    );
}

#[test]
fn selftest_bench_gives_the_same_results_with_the_mmu_off_and_on() {
    let _ = run_selftest(5, "selftest-bench.txt", Ok(()));
}
