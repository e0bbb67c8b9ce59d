//! The `timer` realm payload on QEMU under the EL2 harness, against `expected/timer.txt`:
//! three sleeps on the EL1 virtual timer, each ended by vINTID 27, which the harness injects
//! through the GICv3 virtual CPU interface when the realm's trapped `WFI` waits for a timer
//! that has fired (`el2-harness/src/vgic.rs`).
//!
//! The harness also plays a hostile host: at the realm's first `WFI` it injects the
//! interrupt before the timer fired, at the second it resumes the realm with no interrupt,
//! at the third it injects vINTID 30, which the realm never asked for. The expectation says
//! the realm counted the early and the stray one and slept on after all three: no sleep
//! ends before its deadline (checked by the payload on the counter, and here on the times
//! it prints).

use std::time::Duration;

use system_tests::{expected, match_output, qemu_or_skip};
use xtask::{ModelRmm, Qemu, build_harness, build_payload};

fn run_timer(rmm: ModelRmm) {
    let test = format!("timer on {rmm:?}");
    if !qemu_or_skip(&test) {
        return;
    }
    let harness = build_harness().expect("build el2-harness");
    let (image_path, image) = build_payload("timer").expect("build timer");
    let output = Qemu {
        harness,
        image: image_path,
        image_size: image.bytes.len() as u64,
        entry: [0, 0],
        timeout: Duration::from_secs(120),
        rmm,
        recs: 1,
        disk: None,
    }
    .run()
    .expect("run QEMU");
    let mut exp = expected("timer.txt");
    if rmm == ModelRmm::TfRmmV0_9 {
        exp = exp.replace(
            "RIM {hex32}\n",
            "RIM {hex32}\nel2-harness: modelling TF-RMM v0.9.0: RSI 1.0 and 1.1\n",
        );
    }
    let captures = match_output(&exp, &output)
        .unwrap_or_else(|e| panic!("{test}: {e}\n--- output ---\n{output}"));
    let [_size, _rim, hz, slept @ .., _populated] = captures.as_slice() else {
        panic!("{test}: captures {captures:?}");
    };
    assert!(hz.parse::<u64>().unwrap() > 0, "{test}: frequency {hz}");
    for (took, asked) in slept.iter().zip([50, 10, 25]) {
        let took: u64 = took.parse().unwrap();
        assert!(took >= asked, "{test}: a {asked} ms sleep took {took} ms");
    }
    assert_eq!(xtask::check_realm_end(&output), Ok(()), "{test}");
}

#[test]
fn timer_sleeps_and_wakes_on_the_virtual_timer_interrupt() {
    run_timer(ModelRmm::TfRmmV0_8);
}

#[test]
fn timer_on_the_tf_rmm_v0_9_model() {
    run_timer(ModelRmm::TfRmmV0_9);
}
