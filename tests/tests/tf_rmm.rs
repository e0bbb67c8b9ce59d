//! Realm payloads on the reference RMM: TF-A + TF-RMM v0.8.0 (RMI 1.0) or v0.9.0 (RMI 2.0)
//! under QEMU with RME, launched
//! by rmi-host (rmi-shim's builder at NS-EL2). Needs the user's firmware: set
//! `REALM_SDK_FIRMWARE` to a folder holding `bl1.bin` and `fip.bin` (see the README); without
//! it the tests say so and skip, since CI cannot build that firmware.
//!
//! Checks: the realm's output, RIM read by the realm == RIM predicted by the host, and
//! teardown returned every granule it delegated.

use std::time::Duration;

use xtask::{Firmware, Qemu, run_image_on_tf_rmm_with, run_on_tf_rmm};

fn firmware(test: &str) -> Option<Firmware> {
    let fw = Firmware::from_env();
    if fw.is_none() {
        eprintln!(
            "{test}: skipped: REALM_SDK_FIRMWARE does not name a folder with bl1.bin and fip.bin"
        );
    } else if !Qemu::available() {
        system_tests::skip(test, "qemu-system-aarch64 not found");
        return None;
    }
    fw
}

/// The value after `prefix` on the first line that has it, up to the end of the line or
/// `end`. TF-RMM logs every SMC at LOG_LEVEL 40; realm lines still stand on their own.
fn after<'a>(out: &'a str, prefix: &str, end: char) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|rest| rest.split(end).next().unwrap_or(rest))
}

/// The RIM rmi-host predicted for the realm it built.
fn predicted_rim(out: &str) -> &str {
    after(out, "rmi-host: realm image ", '\n')
        .and_then(|l| l.split("predicted RIM ").nth(1))
        .expect("prediction printed")
}

fn run(test: &str, name: &str, entry: [u64; 2]) -> Option<String> {
    let fw = firmware(test)?;
    let out = run_on_tf_rmm(
        &fw,
        name,
        entry,
        Duration::from_secs(300),
        &mut xtask::NoServices,
    )
    .expect("boot TF-A + TF-RMM");
    checked(test, out)
}

/// Checks that the run was on TF-RMM, the realm ended with SYSTEM_OFF and teardown returned
/// everything.
fn checked(test: &str, out: String) -> Option<String> {
    assert!(
        out.contains("RMI ABI revision v1.0") || out.contains("RMI ABI revision v2.0"),
        "{test}: neither TF-RMM v0.8.0 (RMI 1.0) nor v0.9.0 (RMI 2.0):\n{out}"
    );
    let held: usize = after(&out, "rmi-host: realm built and activated, ", ' ')
        .and_then(|n| n.parse().ok())
        .expect("built");
    let populated: usize = out
        .lines()
        .find_map(|l| l.strip_suffix(" pages of RAM populated on the realm's demand"))
        .and_then(|l| l.strip_prefix("rmi-host: "))
        .and_then(|n| n.parse().ok())
        .expect("populated");
    let teardown = format!(
        "rmi-host: teardown undelegated all {} granules; 0 still out of the pool",
        held + populated
    );
    assert!(out.contains(&teardown), "{test}: teardown:\n{out}");
    assert!(
        out.contains("rmi-host: realm stopped: PSCI SYSTEM_OFF"),
        "{test}:\n{out}"
    );
    Some(out)
}

#[test]
fn hello_on_tf_rmm_reads_the_predicted_rim() {
    for (entry, console) in [([0, 0], "host call"), ([1, 0], "pl011")] {
        let test = format!("hello on TF-RMM ({console})");
        let Some(out) = run(&test, "hello", entry) else {
            return;
        };
        let predicted = predicted_rim(&out);
        assert_eq!(
            after(&out, "RIM: ", '\n'),
            Some(predicted),
            "{test}: RIM read by the realm"
        );
        assert!(
            out.contains(&format!("hello: running in a realm, console: {console}")),
            "{test}:\n{out}"
        );
        assert!(out.contains("REM[0] check: ok"), "{test}:\n{out}");
        assert!(
            out.contains("a 1 ms delay took at least 1 ms: ok"),
            "{test}:\n{out}"
        );
        assert!(out.contains("hello: done"), "{test}:\n{out}");
    }
}

/// The realm parameters beyond the defaults (issue 10, item 8) on the real RMM: LPA2 with a
/// 52-bit IPA space, SVE, an entry point that is not the start of RAM (a branch back to it,
/// in a granule after the image), a per-instance granule loaded unmeasured, a level-2 root
/// RTT (16 concatenated tables for 34 bits), a level −1 root (LPA2), and the PMU (offered by v0.8.0, refused before
/// `RMI_REALM_CREATE` on v0.9.0, which offers none). Each realm reads the RIM the host
/// predicted.
#[test]
fn realm_parameters_on_tf_rmm() {
    let test = "realm parameters on TF-RMM";
    let Some(fw) = firmware(test) else {
        return;
    };
    let (path, hello) = xtask::build_payload("hello").expect("build hello");
    // hello, padded to a granule; a granule of per-instance data; a granule whose first
    // instruction branches back to the image's entry (`B` with a negative word offset).
    let mut image = hello.bytes.clone();
    image.resize(image.len().next_multiple_of(4096), 0);
    let data_at = image.len();
    image.extend((0..4096).map(|i| (i * 31 + 7) as u8));
    let entry_at = image.len();
    let words = i64::try_from(entry_at / 4).unwrap();
    let branch = 0x1400_0000 | ((-words) as u32 & 0x03ff_ffff);
    image.extend(branch.to_le_bytes());
    let variant = path.with_file_name("hello-variant.bin");
    std::fs::write(&variant, &image).unwrap();
    let run_with = |params: &str| {
        let out = run_image_on_tf_rmm_with(
            &fw,
            &variant,
            [0, 0],
            params,
            Duration::from_secs(300),
            &mut xtask::NoServices,
        )
        .expect("boot TF-A + TF-RMM");
        assert!(
            out.contains(&format!("rmi-host: realm parameters: {params}")),
            "{params}:\n{out}"
        );
        out
    };
    let reads_the_prediction = |params: &str, out: String| {
        let out = checked(test, out).unwrap();
        let predicted = predicted_rim(&out);
        assert_eq!(
            after(&out, "RIM: ", '\n'),
            Some(predicted),
            "{params}:\n{out}"
        );
        assert!(out.contains("hello: done"), "{params}:\n{out}");
        eprintln!("{test}: {params}: the realm reads the predicted RIM {predicted}");
        out
    };
    let params = format!(
        "lpa2,ipa_width=52,sve_vl=1,entry={entry_at:#x},unmeasured={data_at:#x}..{:#x}",
        data_at + 4096
    );
    let out = reads_the_prediction(&params, run_with(&params));
    assert!(out.contains("IPA width: 52 bits"), "{out}");
    for (params, width) in [
        ("ipa_width=34,rtt_level_start=2", 34),
        ("lpa2,ipa_width=50,rtt_level_start=-1", 50),
    ] {
        let out = reads_the_prediction(params, run_with(params));
        assert!(out.contains(&format!("IPA width: {width} bits")), "{out}");
    }
    let params = "pmu=2";
    let out = run_with(params);
    if out.contains("rmi-host: RMI 2.0") {
        assert!(
            out.contains(
                "rmi-host: error: the realm asks for the PMU, which the RMM does not offer \
                 (RMI_FEATURES)"
            ),
            "{out}"
        );
        eprintln!("{test}: {params}: refused before RMI_REALM_CREATE (RMI 2.0 offers no PMU)");
    } else {
        reads_the_prediction(params, out);
    }
}

#[test]
fn selftest_on_tf_rmm() {
    let Some(out) = run("selftest on TF-RMM", "selftest", [0, 1]) else {
        return;
    };
    assert!(out.contains("MMU: on, caches on"), "{out}");
    assert!(
        out.contains("RIPAS: EMPTY requested, now EMPTY up to +0x2000"),
        "{out}"
    );
    assert!(
        out.contains("RIPAS: RAM requested, now RAM up to +0x2000"),
        "{out}"
    );
    assert!(
        out.contains(
            "attestation: token buffer of 64 bytes is too small; the RMM needs up to 4096"
        ),
        "{out}"
    );
    assert!(
        out.contains("realm-sdk: synchronous exception: EC 0x00 (unknown reason), ESR 0x2000000"),
        "{out}"
    );
    // The RSI 1.1 calls of a realm with plane 0 only and no device: TF-RMM v0.9.0 answers
    // them (the same lines as `expected/selftest-rsi11.txt`, from the harness's model);
    // on v0.8.0, which offers RSI 1.0 only, realm-sdk refuses them without an SMC.
    let rsi11: Vec<&str> = out.lines().filter(|l| l.starts_with("rsi11: ")).collect();
    let expected = if out.contains("rmi-host: RMI 2.0") {
        system_tests::expected("selftest-rsi11.txt")
    } else {
        system_tests::expected("selftest-return.txt")
    };
    let expected: Vec<&str> = expected
        .lines()
        .filter(|l| l.starts_with("rsi11: "))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(rsi11, expected, "{out}");
}

/// Under TF-RMM too, a write to the stack's guard page is a level-3 translation fault the
/// runtime reports, and the benchmark's kernels agree with the MMU off and on (their times
/// are printed).
#[test]
fn selftest_guard_page_and_bench_on_tf_rmm() {
    let Some(out) = run("selftest guard page on TF-RMM", "selftest", [0, 4]) else {
        return;
    };
    assert!(
        out.contains("realm-sdk: synchronous exception: EC 0x25 (data abort), ESR 0x96000047"),
        "{out}"
    );
    let Some(out) = run("selftest bench on TF-RMM", "selftest", [0, 5]) else {
        return;
    };
    assert!(
        out.contains("bench: same results with the MMU off and on: true"),
        "{out}"
    );
    for line in out.lines().filter(|l| l.starts_with("bench: ")) {
        eprintln!("TF-RMM {line}");
    }
}

/// TF-RMM issues a real token (TF-A's sample platform token, ES384) that the realm verifies
/// itself; v0.9.0 wraps it in the CMW collection.
#[test]
fn attest_on_tf_rmm() {
    let Some(out) = run("attest on TF-RMM", "attest", [0, 0]) else {
        return;
    };
    // TF-RMM v0.8.0 emits the tag-399 collection, v0.9.0 the CMW collection (tag 907).
    let collection = if out.contains("rmi-host: RMI 2.0") {
        "attest: collection CMW (tag 907), platform ES384, realm ES384"
    } else {
        "attest: collection tag 399, platform ES384, realm ES384"
    };
    assert!(out.contains(collection), "{out}");
    assert!(
        out.contains("attest: token verified inside the realm"),
        "{out}"
    );
    // The same token verifies outside, with the command-line verifier and TF-A's sample
    // platform key.
    let Some(anchors) = testdata::path("veraison/ta-tfa.json") else {
        return;
    };
    let hex = out
        .lines()
        .filter_map(|l| l.strip_prefix("attest: token "))
        .find(|h| !h.starts_with("of "))
        .expect("token printed");
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let file = std::env::temp_dir().join(format!("tf-rmm-token-{}.cbor", std::process::id()));
    std::fs::write(&file, &bytes).unwrap();
    let nonce: String = b"attest example: a verifier's nonce"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let verify = std::process::Command::new(cargo)
        .args([
            "run",
            "-q",
            "-p",
            "cca-token-cli",
            "--bin",
            "cca-token",
            "--",
            "verify",
        ])
        .arg(&file)
        .arg("--anchors")
        .arg(&anchors)
        .args(["--nonce", &nonce])
        .output()
        .expect("run cca-token");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    eprintln!("attest on TF-RMM: cca-token verify: {}", stdout.trim());
    assert!(
        verify.status.success(),
        "cca-token verify: {stdout}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// The sealing demo on TF-RMM (`xtask::seal`): rmi-host maps host memory behind the realm's
/// shared buffer and relays its service calls over the UART to key brokers on loopback that
/// trust TF-A's sample platform key (`../shared/testdata/veraison/ta-tfa.json`). The event
/// log the realm prints replays to the REMs in TF-RMM's token.
#[test]
fn seal_on_tf_rmm() {
    use xtask::seal::{Platform, demo};
    let test = "seal on TF-RMM";
    let Some(fw) = firmware(test) else {
        return;
    };
    let Some(json) = testdata::read_to_string("veraison/ta-tfa.json") else {
        return;
    };
    let anchors = cca_token::anchors::from_json(&json).expect("trust anchors");
    let stages = demo(&Platform::TfRmm(fw), &anchors).expect("run the seal demo");
    let expect = [
        "seal: sealed 24 secret bytes into a 72-byte blob; the host keeps it",
        "seal: unsealed the secret: 24 bytes, SHA-256 \
         f8d1f03d420dbb8bfc1c9a6d2a4d1133f4c166b55b8ad5184f2e0567989b584e",
        "seal: no sealing key: key broker: refused: RIM not allowed",
        "seal: cannot unseal the blob: blob sealed with another key",
        "seal: no sealing key: key release: the released key does not decrypt: \
         the response is not the pinned broker's answer to this exchange",
    ];
    assert_eq!(stages.len(), expect.len());
    for (stage, line) in stages.iter().zip(expect) {
        let out = &stage.output;
        assert!(out.contains(line), "{}:\n{out}", stage.title);
        let predicted = predicted_rim(out);
        let rim = if out.contains("rmi-host: RMI 2.0") {
            &stage.rim_v2
        } else {
            &stage.rim
        };
        assert_eq!(predicted, rim, "{}: RIM", stage.title);
        assert!(
            out.contains("0 still out of the pool"),
            "{}: teardown:\n{out}",
            stage.title
        );
    }
    let log = after(&stages[0].output, "seal: event log ", '\n').expect("event log");
    system_tests::assert_log_replays_to_token(log, &stages[0].relay.requests[0]);
}

/// The realm sleeps on its EL1 virtual timer under TF-RMM (issue 12, item 3): rmi-host traps
/// its `WFI` (`RmiRecEnterFlags.TRAP_WFI`), waits for the deadline TF-RMM reports in
/// `RmiRecExit.cntv_cval` and injects vINTID 27 (RMI 1.0: `RmiRecEnter.gicv3_lrs`; RMI 2.0:
/// `ICH_LR0_EL2`). Each sleep must last at least its duration and end on the timer's
/// interrupt, with no early, stray or spurious one: this host injects only when the timer
/// has fired.
#[test]
fn timer_on_tf_rmm() {
    let Some(out) = run("timer on TF-RMM", "timer", [0, 0]) else {
        return;
    };
    for asked in [50u64, 10, 25] {
        let prefix = format!(
            "timer: slept {asked} ms, woke on the virtual timer interrupt (INTID 27) after "
        );
        let took: u64 = after(&out, &prefix, ' ')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the {asked} ms sleep is reported:\n{out}"));
        assert!(took >= asked, "a {asked} ms sleep took {took} ms:\n{out}");
    }
    assert!(
        out.contains("timer: interrupts taken: 3 from the timer, 0 early, 0 other, 0 spurious"),
        "{out}"
    );
    assert!(
        out.contains("timer: no sleep ended early, each ended on the timer's interrupt: ok"),
        "{out}"
    );
}

#[test]
fn virtio_on_tf_rmm() {
    let test = "virtio on TF-RMM";
    let Some(fw) = firmware(test) else {
        return;
    };
    let mut disk: Vec<u8> = (0..1u32 << 20).map(|i| (i % 241) as u8).collect();
    disk[..27].copy_from_slice(b"REALM-SDK VIRTIO TEST DISK\n");
    let path = std::env::temp_dir().join(format!(
        "realm-sdk-tf-rmm-virtio-{}.img",
        std::process::id()
    ));
    std::fs::write(&path, &disk).expect("write the disk image");
    let (image, _) = xtask::build_payload("virtio").expect("build virtio");
    let mut qemu = xtask::tf_rmm_qemu(&fw, &image, [0, 0], "").expect("build rmi-host");
    qemu.arg("-device")
        .arg(xtask::disk_device(&path, cca_abi::virtio::RMI_HOST_DISK_PA).expect("disk argument"));
    let out =
        xtask::run_timed(qemu, Duration::from_secs(300), &mut xtask::NoServices).map(|o| o.text());
    let _ = std::fs::remove_file(&path);
    let out = out.expect("boot TF-A + TF-RMM");
    // Not `checked`: the RTTs made for the shared pages are delegated beyond the realm's
    // granules and its populated RAM; teardown must still return everything.
    for line in [
        "rmi-host: realm stopped: PSCI SYSTEM_OFF",
        " granules; 0 still out of the pool",
    ] {
        assert!(out.contains(line), "{test}: no line {line:?}:\n{out}");
    }
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&disk[..1 << 20])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for line in [
        "virtio console: hello from the realm",
        "virtio console: 16777216 bytes of disk",
        "virtio: disk id \"rmi-host disk\", 32768 sectors",
        "virtio: first bytes: REALM-SDK VIRTIO TEST DISK.",
        &format!("virtio: SHA-256 of the first MiB: {digest}"),
        "virtio: wrote 3000 bytes at 0x100064 and read them back: true",
        "virtio console: goodbye",
    ] {
        assert!(out.contains(line), "{test}: no line {line:?}:\n{out}");
    }
    assert!(
        !out.contains("rmi-host: virtio"),
        "{test}: a device stopped:\n{out}"
    );
    let rmi = after(&out, "rmi-host: RMI ", ' ').expect("RMI version printed");
    eprintln!("{test}: RMI {rmi}, disk read and written through virtio");
}

/// The `smp` example on 2 RECs, REC i on physical CPU i (rmi-host brings CPU 1 up through
/// TF-A, QEMU `-smp 2`): the realm counts its RECs, starts REC 1 with CPU_ON (completed by
/// rmi-host with RMI_PSCI_COMPLETE), and the split computation matches the one on REC 0
/// alone. Only lines printed while one CPU runs are matched whole: while both run, TF-RMM's
/// log lines (LOG_LEVEL 40) from one CPU can cut the realm's lines from the other (both write
/// the same UART). What proves REC 1 ran is the matching result: half the chains are only
/// ever computed there. Timing lines are not asserted.
#[test]
fn smp_on_two_recs_on_tf_rmm() {
    let test = "smp on 2 RECs on TF-RMM";
    let Some(fw) = firmware(test) else {
        return;
    };
    let (image, _) = xtask::build_payload("smp").expect("build smp");
    let out = run_image_on_tf_rmm_with(
        &fw,
        &image,
        [0, 0],
        "recs=2",
        Duration::from_secs(300),
        &mut xtask::NoServices,
    )
    .expect("boot TF-A + TF-RMM");
    let out = checked(test, out).expect("checked");
    for line in [
        "rmi-host: 2 RECs, one physical CPU each",
        "smp: 2 RECs, 16 chains of 12000 SHA-256 links",
        "smp: result check passed",
    ] {
        assert!(
            out.lines().any(|l| l.trim_end() == line),
            "{test}: no line {line:?}:\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("smp: 2 RECs: ") && l.ends_with("result matches")),
        "{test}: no 2-REC result:\n{out}"
    );
    eprintln!("{test}: both RECs ran, results match");
}

/// The attested-inference story on TF-RMM (`xtask::inference`): rmi-host emulates the
/// realm's virtio console and block device (the RIDK disk loaded at `RMI_HOST_DISK_PA`) and
/// relays its service calls to a key broker on loopback trusting TF-A's sample platform key.
/// The model is encrypted for the RIM TF-RMM measures (RMI 1.0 or 2.0); every batch's token
/// verifies, the outputs equal the reference bit for bit, and each tamper case fails for its
/// own reason.
#[test]
fn inference_story_on_tf_rmm() {
    use xtask::inference::{Platform, demo};
    let test = "inference story on TF-RMM";
    let Some(fw) = firmware(test) else {
        return;
    };
    let Some(json) = testdata::read_to_string("veraison/ta-tfa.json") else {
        return;
    };
    let anchors = cca_token::anchors::from_json(&json).expect("trust anchors");
    let story = demo(&Platform::TfRmm(fw), &anchors).expect("run the inference story");
    system_tests::assert_inference_story(test, &story);
    assert!(
        story.output.contains(" granules; 0 still out of the pool"),
        "{test}: teardown returned every granule:\n{}",
        story.output
    );
    let rmi = after(&story.output, "rmi-host: RMI ", ' ').expect("RMI version printed");
    eprintln!(
        "{test}: RMI {rmi}: {:.0} inferences/s in the realm, {:.0} natively; disk {:.0} bytes/s",
        story.bench.realm_per_s, story.bench.host_per_s, story.bench.disk_bytes_per_s
    );
    let _ = std::fs::remove_dir_all(&story.evidence);
}
