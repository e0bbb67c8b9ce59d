//! The attested-inference story (`xtask::inference`, realm-sdk issue 13) on QEMU under the
//! EL2 harness: the `inference` payload reads the RIDK disk through its virtio block device
//! (the disk image loaded into the harness's disk window), gets the model key from a key
//! broker on loopback through the service relay, and writes its report to the virtio
//! console. Every batch verifies (`realm_inference::verify`, what `cca-token
//! verify-inference` runs), the outputs equal the training script's bit for bit, and every
//! tamper case, on the evidence and on the disk, fails for its own reason.

use rmm_model::token::InsecureTestIssuer;
use system_tests::{assert_inference_story, qemu_or_skip};
use xtask::inference::{Platform, demo};

#[test]
fn the_story_holds_under_the_harness() {
    if !qemu_or_skip("inference story") {
        return;
    }
    let harness = xtask::build_harness().expect("build el2-harness");
    let anchors = [InsecureTestIssuer::new().trust_anchor()];
    let story = demo(&Platform::Harness(harness), &anchors).expect("run the inference story");
    let report = assert_inference_story("inference story", &story);
    assert!(report.read_bytes > 0 && report.read_ticks > 0 && report.hz > 0);
    assert!(story.bench.realm_per_s > 0.0 && story.bench.host_per_s > 0.0);
    assert!(story.bench.payload_bytes > 0);
    let _ = std::fs::remove_dir_all(&story.evidence);
}
