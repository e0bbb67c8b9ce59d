//! The inference kernel in a realm: `examples/inference-bench` on QEMU under the EL2
//! harness classifies the 450 held-out digits with the committed model, and every output
//! record equals the training script's reference output bit for bit (438 correct labels,
//! the script's int8 accuracy). On the reference RMM too, when `REALM_SDK_FIRMWARE` names
//! the firmware (as `tf_rmm.rs`; skipped without it).
//!
//! The attested-inference story itself (`xtask::inference`) is `qemu_inference_story.rs`
//! (and `tf_rmm.rs::inference_story_on_tf_rmm`); its in-process run on the RMM model is
//! xtask's test `the_story_holds_on_the_simulator`.

use std::time::Duration;

use system_tests::qemu_or_skip;
use xtask::inference::KernelRun;

fn check(test: &str, output: &str) {
    xtask::check_realm_end(output).unwrap_or_else(|e| panic!("{test}: {e}\n{output}"));
    let run = KernelRun::parse(output)
        .unwrap_or_else(|| panic!("{test}: no inference-bench line\n{output}"));
    assert_eq!(
        (run.exact, run.correct, run.total),
        (450, 438, 450),
        "{test}: {output}"
    );
    assert!(
        run.inferences > 0 && run.ticks > 0 && run.hz > 0,
        "{test}: {run:?}"
    );
}

#[test]
fn the_kernel_is_bit_exact_in_a_realm() {
    if !qemu_or_skip("inference-bench") {
        return;
    }
    let output = xtask::run_example("inference-bench", [0, 0]).expect("run inference-bench");
    check("inference-bench", &output);
}

#[test]
fn the_kernel_is_bit_exact_on_tf_rmm() {
    let Some(firmware) = xtask::Firmware::from_env() else {
        eprintln!(
            "inference-bench on TF-RMM: skipped: REALM_SDK_FIRMWARE does not name a folder with bl1.bin and fip.bin"
        );
        return;
    };
    if !qemu_or_skip("inference-bench on TF-RMM") {
        return;
    }
    let output = xtask::run_on_tf_rmm(
        &firmware,
        "inference-bench",
        [0, 0],
        Duration::from_secs(300),
        &mut xtask::NoServices,
    )
    .expect("run inference-bench on TF-RMM");
    check("inference-bench on TF-RMM", &output);
}
