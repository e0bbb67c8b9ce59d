//! The `attest` realm payload on QEMU under the EL2 harness, whose RMM model issues real
//! tokens with its insecure test keys: the realm gets a token through INIT/CONTINUE and
//! verifies it itself (`expected/attest.txt`). The token's size is checked structurally: the
//! harness's tokens are deterministic (RFC 6979 signatures) but depend on the claims.

use std::time::Duration;

use system_tests::{expected, match_output, qemu_or_skip};
use xtask::{Qemu, build_harness, build_payload};

#[test]
fn attest_verifies_its_token_inside_the_realm() {
    if !qemu_or_skip("attest") {
        return;
    }
    let harness = build_harness().expect("build el2-harness");
    let (image_path, image) = build_payload("attest").expect("build attest");
    let output = Qemu {
        harness,
        image: image_path,
        image_size: image.bytes.len() as u64,
        entry: [0, 0],
        recs: 1,
        timeout: Duration::from_secs(120),
        rmm: xtask::ModelRmm::default(),
        disk: None,
    }
    .run()
    .expect("run QEMU");
    let captures = match_output(&expected("attest.txt"), &output)
        .unwrap_or_else(|e| panic!("attest: {e}\n--- output ---\n{output}"));
    let token_len: usize = captures[2].parse().unwrap();
    // A tag-399 collection of a ~600-byte realm token and the test platform token.
    assert!(
        (700..4096).contains(&token_len),
        "token of {token_len} bytes"
    );
    let offline = el2_harness::measure::rim(&image.bytes, [0, 0]).expect("image fits");
    assert_eq!(captures[1], offline.to_string());
}
