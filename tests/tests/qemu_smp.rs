//! The `smp` realm payload on 2 RECs under the EL2 harness: two QEMU CPUs, REC i on CPU i,
//! the RMM model shared behind the harness's lock.
//!
//! The realm starts REC 1 with PSCI `CPU_ON` (completed by the harness through the model),
//! splits its hash chains between the RECs, joins with `AFFINITY_INFO`, and checks the
//! result against the run on REC 0 alone. The test checks that the realm counted 2 RECs,
//! that both RECs reported their share, that the result check passed and that the realm
//! ended cleanly; the timing lines are not asserted (no performance claim in a test).

use std::time::Duration;

use system_tests::qemu_or_skip;
use xtask::{Qemu, build_harness, build_payload};

#[test]
fn smp_on_two_recs_under_the_harness() {
    let test = "smp on 2 RECs";
    if !qemu_or_skip(test) {
        return;
    }
    let harness = build_harness().expect("build el2-harness");
    let (image_path, image) = build_payload("smp").expect("build smp");
    let output = Qemu {
        harness,
        image: image_path,
        image_size: image.bytes.len() as u64,
        entry: [0, 0],
        recs: 2,
        timeout: Duration::from_secs(240),
        rmm: xtask::ModelRmm::default(),
        disk: None,
    }
    .run()
    .expect("run QEMU");
    for line in [
        "el2-harness: 2 RECs, one physical CPU each",
        "smp: 2 RECs, 16 chains of 12000 SHA-256 links",
        "smp: REC 0 of 1 ran 16 chains",
        "smp: REC 0 of 2 ran 8 chains",
        "smp: REC 1 of 2 ran 8 chains",
        "smp: result check passed",
        "el2-harness: realm called PSCI SYSTEM_OFF",
    ] {
        assert!(
            output.lines().any(|l| l.trim_end() == line),
            "{test}: no line {line:?}\n--- output ---\n{output}"
        );
    }
    assert!(
        output
            .lines()
            .any(|l| l.starts_with("smp: 2 RECs: ") && l.ends_with("result matches")),
        "{test}: no 2-REC timing line\n--- output ---\n{output}"
    );
    eprintln!("{output}");
    assert!(
        !output.contains("realm ended:"),
        "{test}: the realm failed\n--- output ---\n{output}"
    );
}
