//! The `seal` realm payload on QEMU under the EL2 harness, with real key brokers (the
//! `key_broker::net` server on loopback) that the harness reaches through the relay on
//! QEMU's serial port (`xtask::seal`): a realm seals a secret and is torn down; a new realm
//! of the same image unseals it; a realm with a changed image is refused, or, where the
//! broker serves its RIM too, gets another key that does not open the blob; a host that
//! answers the release itself with a key of its choosing is not believed. The event log the
//! realm prints replays to the REMs of the token it sent the broker.

use rmm_model::token::InsecureTestIssuer;
use system_tests::{assert_log_replays_to_token, expected, match_output, qemu_or_skip};
use xtask::seal::{Platform, demo};

#[test]
fn sealed_secret_survives_teardown_and_only_the_same_image_unseals_it() {
    if !qemu_or_skip("seal") {
        return;
    }
    let harness = xtask::build_harness().expect("build el2-harness");
    let anchors = [InsecureTestIssuer::new().trust_anchor()];
    let stages = demo(&Platform::Harness(harness), &anchors).expect("run the seal demo");
    let files = [
        "seal-sealed.txt",
        "seal-unsealed.txt",
        "seal-refused.txt",
        "seal-other-key.txt",
        "seal-forged.txt",
    ];
    assert_eq!(stages.len(), files.len());
    let captures: Vec<Vec<String>> = stages
        .iter()
        .zip(files)
        .map(|(stage, file)| {
            let c = match_output(&expected(file), &stage.output).unwrap_or_else(|e| {
                panic!(
                    "{}: {file}: {e}\n--- output ---\n{}",
                    stage.title, stage.output
                )
            });
            assert_eq!(
                c[1], stage.rim,
                "{}: the harness measured the RIM",
                stage.title
            );
            c
        })
        .collect();
    // Captures: image size, RIM, event log, then the key ID where one was released.
    assert_log_replays_to_token(&captures[0][2], &stages[0].relay.requests[0]);
    assert_eq!(captures[0][3], captures[1][3], "same identity, same key");
    assert_ne!(captures[0][3], captures[3][3], "another image, another key");
    assert_ne!(stages[0].rim, stages[2].rim);
    assert_eq!(stages[2].relay.refusals, ["RIM not allowed"]);
    assert!(stages[1].relay.refusals.is_empty());
    // The forging host got a request it could answer; the realm refused the answer.
    assert_eq!(stages[4].relay.requests.len(), 1);
}
