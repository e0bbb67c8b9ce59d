//! The attested-inference story (`xtask::inference`, realm-sdk issue 13) on QEMU under the
//! EL2 harness: the `inference` payload reads the RIDK disk through its virtio block device
//! (the disk image loaded into the harness's disk window), gets the model key from a key
//! broker on loopback through the service relay, and writes its report to the virtio
//! console. Every batch verifies (`realm_inference::verify`, what `cca-token
//! verify-inference` runs), the outputs equal the training script's bit for bit, and every
//! tamper case, on the evidence and on the disk, fails for its own reason.

use rmm_model::token::InsecureTestIssuer;
use system_tests::qemu_or_skip;
use xtask::inference::{OUTPUTS, Platform, demo, parse_report};

#[test]
fn the_story_holds_under_the_harness() {
    if !qemu_or_skip("inference story") {
        return;
    }
    let harness = xtask::build_harness().expect("build el2-harness");
    let anchors = [InsecureTestIssuer::new().trust_anchor()];
    let story = demo(&Platform::Harness(harness), &anchors).expect("run the inference story");
    for c in &story.checks {
        assert!(
            c.outcome.is_ok(),
            "{}: {:?}\n--- output ---\n{}",
            c.what,
            c.outcome,
            story.output
        );
    }
    // Bit-exact outputs, 2 (outputs, verification) + 8 evidence + 2 disk tamper cases.
    assert_eq!(story.checks.len(), 12, "{:#?}", story.checks);
    let report = parse_report(&story.output).expect("the report parses");
    let outputs: Vec<u8> = report
        .batches
        .iter()
        .flat_map(|b| b.outputs.clone())
        .collect();
    assert_eq!(outputs, OUTPUTS, "the realm's outputs, bit for bit");
    assert_eq!(report.batches.len(), 9, "450 inputs in batches of 50");
    assert_eq!(report.inferences, 450);
    assert!(report.read_bytes > 0 && report.read_ticks > 0 && report.hz > 0);
    assert!(story.bench.realm_per_s > 0.0 && story.bench.host_per_s > 0.0);
    assert!(story.bench.payload_bytes > 0);
    let _ = std::fs::remove_dir_all(&story.evidence);
}
