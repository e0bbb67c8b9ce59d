//! The `cca-token` command on the real tokens in ../shared/testdata (read in place).

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cca-token");

use testdata::path as data;

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

/// A temporary file for one test, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    /// A file named after `name`, the process and a counter, so that tests running at the
    /// same time never share one.
    fn new(name: &str, contents: &[u8]) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("cca-token-cli-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The verifier's nonce the tokens of [`signed_token`] attest (their challenge is
/// `cca_abi::challenge::verifier(NONCE)`, as a realm-sdk realm makes it).
const NONCE: &[u8] = b"cli verifier nonce";

/// A token signed with test keys (P-384 RAK, P-256 IAK) whose platform has `lifecycle`,
/// and a trust anchor file for its IAK.
fn signed_token(lifecycle: u64) -> (TempFile, TempFile) {
    use cca_token::encode::{self, PlatformClaimValues, RealmClaimValues};
    use cca_token::platform::SwComponent;
    use sha2::Digest;
    let rak = p384::ecdsa::SigningKey::from_slice(&[0x11; 48]).unwrap();
    let iak = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
    let point = rak.verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    let mut key_buf = [0u8; 128];
    let key = cca_token::realm::encode_p384_cose_key(
        b[1..49].try_into().unwrap(),
        b[49..].try_into().unwrap(),
        &mut key_buf,
    )
    .unwrap();
    let mut rbuf = [0u8; 2048];
    let realm_claims = encode::realm_claims(
        &RealmClaimValues {
            challenge: &cca_abi::challenge::verifier(NONCE),
            personalization_value: &[0x55; 64],
            public_key: key,
            hash_algorithm: "sha-256",
            public_key_hash_algorithm: "sha-256",
            mec_policy: None,
            instance_id: None,
            profile: Some(cca_token::realm::PROFILE_1_0),
            rim: &[0x33; 32],
            rems: [&[0; 32]; 4],
        },
        &mut rbuf,
    )
    .unwrap();
    let instance_id: [u8; 33] = core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 });
    let mut pbuf = [0u8; 2048];
    let platform_claims = encode::platform_claims(
        &PlatformClaimValues {
            profile: cca_token::platform::PROFILE_1_0,
            challenge: &sha2::Sha256::digest(key),
            implementation_id: &[0x7f; 32],
            instance_id: &instance_id,
            config: &[0xcf; 4],
            lifecycle,
            sw_components: &[SwComponent {
                measurement_type: Some("BL2"),
                measurement_value: &[1; 32],
                version: None,
                signer_id: &[2; 32],
                description: None,
            }],
            verification_service: None,
            hash_algorithm: "sha-256",
        },
        &mut pbuf,
    )
    .unwrap();
    let (mut rt, mut pt, mut out) = ([0u8; 4096], [0u8; 4096], [0u8; 8192]);
    let realm_token = encode::sign1(realm_claims, &rak, &mut rt).unwrap();
    let platform_token = encode::sign1(platform_claims, &iak, &mut pt).unwrap();
    let token = encode::collection(
        cca_token::Format::Tag399,
        platform_token,
        realm_token,
        &mut out,
    )
    .unwrap();
    let iak_point = iak.verifying_key().to_sec1_point(false);
    let xy = &iak_point.as_bytes()[1..];
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let anchors = serde_json::json!([{
        "pkey": {"crv": "P-256", "kty": "EC", "x": base64url(&xy[..32]), "y": base64url(&xy[32..])},
        "implementation-id": hex(&[0x7f; 32]),
        "instance-id": hex(&instance_id),
    }]);
    let name = format!("{lifecycle:x}");
    (
        TempFile::new(&format!("{name}.cbor"), token),
        TempFile::new(&format!("{name}-ta.json"), anchors.to_string().as_bytes()),
    )
}

fn verify_args(
    token: &TempFile,
    anchors: &TempFile,
    extra: &[&std::ffi::OsStr],
) -> (i32, String, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "verify".as_ref(),
        token.0.as_os_str(),
        "--anchors".as_ref(),
        anchors.0.as_os_str(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Without `--policy`, `verify` applies the default appraisal: a secured platform verifies,
/// a decommissioned one (lifecycle 0x6000) is refused with the claim named (exit 1); a
/// policy file that accepts it makes it verify.
#[test]
fn verify_applies_the_default_appraisal() {
    let (token, anchors) = signed_token(0x3001);
    let (code, out, err) = verify_args(&token, &anchors, &[]);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");

    let (token, anchors) = signed_token(0x6000);
    let (code, out, err) = verify_args(&token, &anchors, &[]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err.trim(),
        "cca-token: appraisal: platform lifecycle (claim 2395) is 0x6000 (decommissioned); \
         accepted: secured"
    );
    let policy = TempFile::new(
        "decommissioned.json",
        br#"{"lifecycle": ["decommissioned"]}"#,
    );
    let (code, out, err) = verify_args(
        &token,
        &anchors,
        &["--policy".as_ref(), policy.0.as_os_str()],
    );
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
}

/// `--nonce`: the verifier's data, through the same domain-separated construction the realm
/// used; `--challenge` takes the raw 64 bytes; not both.
#[test]
fn verify_with_a_verifier_nonce() {
    let (token, anchors) = signed_token(0x3000);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let nonce = hex(NONCE);
    let (code, out, err) = verify_args(&token, &anchors, &["--nonce".as_ref(), nonce.as_ref()]);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let raw = hex(&cca_abi::challenge::verifier(NONCE));
    let (code, _, err) = verify_args(&token, &anchors, &["--challenge".as_ref(), raw.as_ref()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = verify_args(&token, &anchors, &["--nonce".as_ref(), raw.as_ref()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("the realm challenge is not the expected one"),
        "{err}"
    );
    let (code, _, err) = verify_args(
        &token,
        &anchors,
        &[
            "--nonce".as_ref(),
            nonce.as_ref(),
            "--challenge".as_ref(),
            raw.as_ref(),
        ],
    );
    assert_eq!(code, 2, "{err}");
}

/// `--policy`: software-component reference values from a file; a refusal names the
/// component (exit 1); a refused policy file names the file and the JSON path (exit 2).
#[test]
fn verify_with_a_policy_file() {
    let (token, anchors) = signed_token(0x3000);
    let policy = |name: &str, json: &str| TempFile::new(name, json.as_bytes());
    let good = policy(
        "good.json",
        &format!(
            r#"{{"sw_components": {{"reference": [{{"type": "BL2", "measurement": "{}", "signer": "{}"}}]}},
                "rim": ["{}"]}}"#,
            "01".repeat(32),
            "02".repeat(32),
            "33".repeat(32)
        ),
    );
    let (code, out, err) =
        verify_args(&token, &anchors, &["--policy".as_ref(), good.0.as_os_str()]);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");

    let wrong_signer = policy(
        "signer.json",
        &format!(
            r#"{{"sw_components": {{"reference": [{{"type": "BL2", "measurement": "{}", "signer": "{}"}}]}}}}"#,
            "01".repeat(32),
            "03".repeat(32)
        ),
    );
    let (code, _, err) = verify_args(
        &token,
        &anchors,
        &["--policy".as_ref(), wrong_signer.0.as_os_str()],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(
            "cca-token: appraisal: platform software component 0 (BL2) (claim 2399): signer ID 0x0202"
        ),
        "{err}"
    );

    let bad = policy("bad.json", r#"{"rim": ["0011"]}"#);
    let (code, _, err) = verify_args(&token, &anchors, &["--policy".as_ref(), bad.0.as_os_str()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "cca-token: {}: $.rim[0]: 2 bytes of hex; expected 32 or 64",
            bad.0.display()
        )
    );
    let missing = PathBuf::from("/nonexistent/policy.json");
    let (code, _, err) = verify_args(
        &token,
        &anchors,
        &["--policy".as_ref(), missing.as_os_str()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/policy.json"), "{err}");
}

/// `inspect TOKEN | head -1`: the reader goes away; the command exits quietly (0, no
/// panic message) instead of panicking on the broken pipe.
#[test]
fn inspect_into_a_closed_pipe_exits_quietly() {
    use std::process::Stdio;
    let tok = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/token_parse/encoder-cmw-sha512.cbor");
    let mut child = Command::new(BIN)
        .args(["inspect".as_ref(), tok.as_os_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the command writes.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

/// Runs the command with `stdin` on its standard input.
fn run_with_stdin(args: &[&std::ffi::OsStr], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cca-token");
    // The command may exit before reading all of it (a usage error).
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `--help` and `--version` print to stdout and exit 0, for the command and its
/// subcommands; the help lists the exit codes.
#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["-h"], &["help"], &["help", "verify"]] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage: cca-token"), "{args:?}: {out}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    let (_, out, _) = run(&["--help".as_ref()]);
    assert!(out.contains("Exit codes: 0 "), "{out}");
    for sub in ["inspect", "verify"] {
        let (code, out, _) = run(&[sub.as_ref(), "--help".as_ref()]);
        assert_eq!(code, 0);
        assert!(out.contains(&format!("Usage: cca-token {sub}")), "{out}");
    }
    for version in ["--version", "-V"] {
        let (code, out, _) = run(&[version.as_ref()]);
        assert_eq!(code, 0);
        assert_eq!(out.trim(), concat!("cca-token ", env!("CARGO_PKG_VERSION")));
    }
}

/// Unknown flags and subcommands, a missing subcommand or argument, and conflicting options
/// get clap's message and exit 2.
#[test]
fn usage_errors_exit_2() {
    for (args, message) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (
            &["inspect", "t", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            &["verify", "t", "--anchors", "a", "--bogus", "x"],
            "unexpected argument '--bogus'",
        ),
        (&["x"], "unrecognized subcommand 'x'"),
        (&["verify", "t"], "--anchors <TA.json>"),
        (
            &["verify", "t", "--anchors"],
            "a value is required for '--anchors <TA.json>'",
        ),
        (
            &["verify", "t", "--anchors", "a", "--rim", "0"],
            "invalid value '0' for '--rim <HEX>'",
        ),
        (
            &[
                "verify",
                "t",
                "--anchors",
                "a",
                "--nonce",
                "00",
                "--challenge",
                "00",
            ],
            "cannot be used with",
        ),
        (
            &["verify", "-", "--anchors", "-"],
            "only one file can be `-` (standard input)",
        ),
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Usage: cca-token <COMMAND>"), "{err}");
}

/// Options may come before or after the token, and `-` reads the token, the anchors, the
/// policy or the event log from standard input.
#[test]
fn options_in_any_order_and_stdin() {
    let (token, anchors) = signed_token(0x3000);
    let token_bytes = std::fs::read(&token.0).unwrap();
    let anchors_bytes = std::fs::read(&anchors.0).unwrap();
    let (t, a) = (token.0.as_os_str(), anchors.0.as_os_str());
    for args in [
        &["verify".as_ref(), t, "--anchors".as_ref(), a][..],
        &["verify".as_ref(), "--anchors".as_ref(), a, t],
        &[
            "verify".as_ref(),
            "--rpv".as_ref(),
            "55".repeat(64).as_ref(),
            "--anchors".as_ref(),
            a,
            t,
        ],
    ] {
        let (code, out, err) = run(args);
        assert_eq!((code, out.trim()), (0, "verified"), "{args:?}: {err}");
    }
    let (code, out, err) = run_with_stdin(
        &["verify".as_ref(), "--anchors".as_ref(), a, "-".as_ref()],
        &token_bytes,
    );
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, out, err) = run_with_stdin(
        &["verify".as_ref(), t, "--anchors".as_ref(), "-".as_ref()],
        &anchors_bytes,
    );
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, out, err) = run_with_stdin(
        &[
            "verify".as_ref(),
            t,
            "--anchors".as_ref(),
            a,
            "--policy".as_ref(),
            "-".as_ref(),
        ],
        br#"{"lifecycle": ["secured"]}"#,
    );
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, out, err) = run_with_stdin(&["inspect".as_ref(), "-".as_ref()], &token_bytes);
    assert_eq!(code, 0, "{err}");
    let (_, from_file, _) = run(&["inspect".as_ref(), t]);
    assert_eq!(out, from_file);
    // A malformed token on standard input is a refusal (exit 1), not a usage error.
    let (code, _, err) = run_with_stdin(&["inspect".as_ref(), "-".as_ref()], b"");
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("cca-token: malformed token"), "{err}");
}

/// A JSON syntax error in the anchors or the policy names the file with the line and
/// column (exit 2: nothing was checked); so does a file that cannot be read.
#[test]
fn json_syntax_errors_name_the_file() {
    let (token, anchors) = signed_token(0x3000);
    let policy = TempFile::new(
        "syntax-policy.json",
        b"{\n  \"lifecycle\": [\n    \"secured\",,\n  ]\n}",
    );
    let (code, out, err) = verify_args(
        &token,
        &anchors,
        &["--policy".as_ref(), policy.0.as_os_str()],
    );
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "cca-token: {}: not JSON: expected value at line 3 column 15",
            policy.0.display()
        )
    );
    let bad_anchors = TempFile::new("syntax-ta.json", b"[{\"pkey\": }]");
    let (code, _, err) = verify_args(&token, &bad_anchors, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with(&format!(
            "cca-token: {}: trust anchors: ",
            bad_anchors.0.display()
        )),
        "{err}"
    );
    assert!(err.contains("line 1 column 11"), "{err}");
    let (code, _, err) = run_with_stdin(
        &[
            "verify".as_ref(),
            token.0.as_os_str(),
            "--anchors".as_ref(),
            "-".as_ref(),
        ],
        b"[",
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("cca-token: standard input: trust anchors: "),
        "{err}"
    );
    let (code, _, err) = run(&["inspect".as_ref(), "/nonexistent/token.cbor".as_ref()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("cca-token: /nonexistent/token.cbor: "),
        "{err}"
    );
    assert!(!err.contains("Os {"), "no Debug output: {err}");
}

/// `verify --json` prints a document with the outcome and the token as `inspect` prints it,
/// on success (exit 0) and on a refusal (exit 1, the reason on stderr too).
#[test]
fn verify_json() {
    let (token, anchors) = signed_token(0x3000);
    let json = ["--json".as_ref()];
    let (code, out, err) = verify_args(&token, &anchors, &json);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (_, inspected, _) = run(&["inspect".as_ref(), token.0.as_os_str()]);
    let inspected: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["error"], serde_json::Value::Null);
    assert_eq!(v["appraisal"], "default");
    assert_eq!(v["token"], inspected);
    assert_eq!(
        v["token"]["platform"]["claims"]["lifecycle-state"],
        "secured"
    );

    let (token, anchors) = signed_token(0x6000);
    let (code, out, err) = verify_args(&token, &anchors, &json);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"], false);
    let reason = v["error"].as_str().unwrap();
    assert!(
        reason.starts_with("appraisal: platform lifecycle"),
        "{reason}"
    );
    assert_eq!(err.trim(), format!("cca-token: {reason}"));
    assert_eq!(v["token"]["platform"]["claims"]["lifecycle"], 0x6000);

    let malformed = TempFile::new("malformed.cbor", &[0xd9, 0x01, 0x8f, 0xa0]);
    let (code, out, _) = verify_args(&malformed, &anchors, &json);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["token"], serde_json::Value::Null);
    assert!(v["error"].as_str().unwrap().starts_with("malformed token"));
}

/// `verify --json | head -1` and `--help | head -1`: a closed output ends the command
/// quietly; a refused token still exits 1.
#[test]
fn verify_into_a_closed_pipe_exits_quietly() {
    use std::process::Stdio;
    let closed = |args: &[&std::ffi::OsStr]| {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (token, anchors) = signed_token(0x3000);
    let args = |t: &TempFile, a: &TempFile| -> Vec<std::ffi::OsString> {
        vec![
            "verify".into(),
            t.0.clone().into_os_string(),
            "--anchors".into(),
            a.0.clone().into_os_string(),
            "--json".into(),
        ]
    };
    let ok = args(&token, &anchors);
    let ok: Vec<&std::ffi::OsStr> = ok.iter().map(|s| s.as_os_str()).collect();
    assert_eq!(closed(&ok), (Some(0), String::new()));
    assert_eq!(closed(&["--help".as_ref()]), (Some(0), String::new()));
    let (token, anchors) = signed_token(0x6000);
    let refused = args(&token, &anchors);
    let refused: Vec<&std::ffi::OsStr> = refused.iter().map(|s| s.as_os_str()).collect();
    let (code, err) = closed(&refused);
    assert_eq!(code, Some(1));
    assert!(err.contains("appraisal: platform lifecycle"), "{err}");
}
