//! The `cca-token` command on the real tokens in ../shared/testdata (read in place).

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cca-token");

fn data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run cca-token");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn inspect_prints_claims_as_json() {
    let Some(tok) = data("tf-rmm/tf-rmm-v0.8.0/sha256/token.cbor") else {
        return;
    };
    let (code, out, err) = run(&["inspect".as_ref(), tok.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rim =
        std::fs::read_to_string(data("tf-rmm/tf-rmm-v0.8.0/sha256/rim.hex").unwrap()).unwrap();
    assert_eq!(v["realm"]["claims"]["rim"], rim.trim());
    assert_eq!(v["realm"]["claims"]["mec-policy"], "shared");
    assert_eq!(
        v["platform"]["claims"]["software-components"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
    assert_eq!(v["format"], "tag 399");
    assert_eq!(
        v["realm"]["claims"]["profile"],
        "tag:arm.com,2023:realm#1.0.0"
    );
}

#[test]
fn verify_succeeds_and_fails_with_precise_reasons() {
    let (Some(tok), Some(ta_tfa), Some(ta)) = (
        data("veraison/cca-token-01.cbor"),
        data("veraison/ta-tfa.json"),
        data("veraison/ta.json"),
    ) else {
        return;
    };
    let verify = |anchors: &PathBuf, extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "verify".as_ref(),
            tok.as_os_str(),
            "--anchors".as_ref(),
            anchors.as_os_str(),
        ];
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        run(&args)
    };
    let (code, out, err) = verify(&ta_tfa, &[]);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, _, err) = verify(&ta, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("no trust anchor"), "{err}");
    let (code, _, err) = verify(&ta_tfa, &["--rim", "00"]);
    assert_eq!(code, 1);
    assert!(err.contains("RIM is not the expected one"), "{err}");
    let (code, _, err) = verify(&ta_tfa, &["--challenge", "zz"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn malformed_input_is_reported() {
    let path = std::env::temp_dir().join(format!("cca-token-cli-{}.cbor", std::process::id()));
    std::fs::write(&path, [0xd9, 0x01, 0x8f, 0xa0]).unwrap();
    let (code, _, err) = run(&["inspect".as_ref(), path.as_os_str()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 1);
    assert!(err.contains("malformed token"), "{err}");
}

/// A TF-RMM v0.8.0 token verifies with its vector's challenge and RIM, and the wrong
/// challenge is named as the reason (exit 1).
#[test]
fn verify_with_expected_challenge_and_rim() {
    let dir = "tf-rmm/tf-rmm-v0.8.0/sha512";
    let (Some(tok), Some(ta), Some(ch), Some(rim)) = (
        data(&format!("{dir}/token.cbor")),
        data("veraison/ta-tfa.json"),
        data(&format!("{dir}/challenge.bin")),
        data(&format!("{dir}/rim.hex")),
    ) else {
        return;
    };
    let challenge: String = std::fs::read(ch)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let rim = std::fs::read_to_string(rim).unwrap().trim().to_owned();
    let args = |challenge: &str| {
        run(&[
            "verify".as_ref(),
            tok.as_os_str(),
            "--anchors".as_ref(),
            ta.as_os_str(),
            "--challenge".as_ref(),
            challenge.as_ref(),
            "--rim".as_ref(),
            rim.as_ref(),
        ])
    };
    let (code, out, err) = args(&challenge);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, _, err) = args(&challenge.replace("00", "ff"));
    assert_eq!(code, 1);
    assert!(err.contains("challenge is not the expected one"), "{err}");
}

/// The CMW collection (tag 907) made by cca-token's encoder (fuzz/seeds, committed): inspect
/// names the format and the profiles as the claims spell them.
#[test]
fn inspect_cmw_collection() {
    let tok = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/token_parse/encoder-cmw-sha512.cbor");
    let (code, out, err) = run(&["inspect".as_ref(), tok.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "CMW collection (tag 907)");
    assert_eq!(
        v["realm"]["claims"]["profile"],
        "tag:arm.com,2023:realm#1.0.0"
    );
    assert_eq!(
        v["platform"]["claims"]["profile"],
        "tag:arm.com,2023:cca_platform#1.0.0"
    );
    assert_eq!(v["realm"]["claims"]["hash-algorithm"], "sha-512");
    assert_eq!(v["realm"]["algorithm"], "ES384");
    assert_eq!(v["platform"]["algorithm"], "ES256");
}

/// `--event-log`: the REM extensions TF-RMM's recorded realms made (`realm.json`
/// `rem_extends`), written as an event log, replay to the REMs in the token TF-RMM issued;
/// a log missing the last event names the REM that differs.
#[test]
fn verify_event_log_against_real_tf_rmm_tokens() {
    use cca_abi::eventlog::{Event, LogWriter};
    use cca_abi::measurement::HashAlgorithm;
    for (dir, algorithm) in [
        ("tf-rmm/tf-rmm-v0.8.0/sha256", HashAlgorithm::Sha256),
        ("tf-rmm/tf-rmm-v0.8.0/sha512", HashAlgorithm::Sha512),
    ] {
        let (Some(tok), Some(ta), Some(realm)) = (
            data(&format!("{dir}/token.cbor")),
            data("veraison/ta-tfa.json"),
            data(&format!("{dir}/realm.json")),
        ) else {
            return;
        };
        let realm: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(realm).unwrap()).unwrap();
        let extends: Vec<(u8, Vec<u8>)> = realm["rem_extends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let hex = e["data"].as_str().unwrap();
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                (e["index"].as_u64().unwrap() as u8, bytes)
            })
            .collect();
        let log_file = |events: &[(u8, Vec<u8>)], name: &str| {
            let mut buf = vec![0u8; 4096];
            let mut log = LogWriter::new(&mut buf).unwrap();
            for (index, value) in events {
                log.push(&Event {
                    index: *index,
                    algorithm,
                    value,
                    // Raw extensions, as the recorded realms made them: no description.
                    description: "",
                })
                .unwrap();
            }
            let path = std::env::temp_dir().join(format!(
                "cca-token-{}-{name}-{}.log",
                std::process::id(),
                algorithm.digest_len()
            ));
            std::fs::write(&path, log.as_bytes()).unwrap();
            path
        };
        let verify = |log: &PathBuf| {
            run(&[
                "verify".as_ref(),
                tok.as_os_str(),
                "--anchors".as_ref(),
                ta.as_os_str(),
                "--event-log".as_ref(),
                log.as_os_str(),
            ])
        };
        let full = log_file(&extends, "full");
        let (code, out, err) = verify(&full);
        assert_eq!((code, out.trim()), (0, "verified"), "{dir}: {err}");
        let short = log_file(&extends[..extends.len() - 1], "short");
        let (code, _, err) = verify(&short);
        assert_eq!(code, 1, "{dir}");
        assert!(
            err.contains("REM2: the event log replays to another value"),
            "{dir}: {err}"
        );
        let _ = std::fs::remove_file(full);
        let _ = std::fs::remove_file(short);
    }
}
