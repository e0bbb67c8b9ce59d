//! `cca-token verify-inference`: one batch of attested inference, and each tampering with
//! the specific reason and exit code. The tokens are signed here with test keys (P-384 RAK,
//! P-256 IAK) for a chosen challenge and REMs, as a realm running the `inference` example
//! would make them; the model, inputs and reference outputs are the committed ones of
//! `realm-inference/data/digits`.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use cca_abi::eventlog::{Event, LogWriter};
use cca_abi::measurement::HashAlgorithm;
use realm_inference::binding::{self, MODEL_EVENT_DESCRIPTION, MODEL_REM};

const BIN: &str = env!("CARGO_BIN_EXE_cca-token");
const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../realm-inference/data/digits"
);
const NONCE: [u8; 32] = [0x4e; 32];
const RIM: [u8; 32] = [0x33; 32];
const BATCH: usize = 50;

fn run(args: &[&OsStr]) -> (i32, String, String) {
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

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{name}")).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A temporary file, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "cca-token-inference-{}-{n}-{name}",
            std::process::id()
        ));
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

/// The event log of a realm that measured `model` (SHA-256), and the REMs it replays to.
fn event_log(model: &[u8]) -> (Vec<u8>, [[u8; 32]; 4]) {
    let mut buf = [0u8; 512];
    let mut log = LogWriter::new(&mut buf).unwrap();
    let hash = binding::model_hash(HashAlgorithm::Sha256, model);
    log.push(&Event {
        index: MODEL_REM,
        algorithm: HashAlgorithm::Sha256,
        value: hash.as_bytes(),
        description: MODEL_EVENT_DESCRIPTION,
    })
    .unwrap();
    let rems = cca_abi::eventlog::replay(log.as_bytes(), HashAlgorithm::Sha256).unwrap();
    let rems = rems.map(|r| r.as_bytes().try_into().unwrap());
    (log.as_bytes().to_vec(), rems)
}

/// A token with `challenge` and `rems`, signed with test keys, and its trust anchor file.
fn token(challenge: &[u8; 64], rems: &[[u8; 32]; 4]) -> (Vec<u8>, String) {
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
            challenge,
            personalization_value: &[0x55; 64],
            public_key: key,
            hash_algorithm: "sha-256",
            public_key_hash_algorithm: "sha-256",
            mec_policy: None,
            instance_id: None,
            profile: Some(cca_token::realm::PROFILE_1_0),
            rim: &RIM,
            rems: [&rems[0], &rems[1], &rems[2], &rems[3]],
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
            lifecycle: 0x3000,
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
    .unwrap()
    .to_vec();
    let iak_point = iak.verifying_key().to_sec1_point(false);
    let xy = &iak_point.as_bytes()[1..];
    let anchors = serde_json::json!([{
        "pkey": {"crv": "P-256", "kty": "EC", "x": base64url(&xy[..32]), "y": base64url(&xy[32..])},
        "implementation-id": hex(&[0x7f; 32]),
        "instance-id": hex(&instance_id),
    }]);
    (token, anchors.to_string())
}

/// The files of one batch: what a run of the `inference` example gives the verifier.
struct Batch {
    token: TempFile,
    anchors: TempFile,
    log: TempFile,
    inputs: TempFile,
    outputs: TempFile,
    model: TempFile,
    model_hash: String,
    hashes: String,
}

/// The first batch of the reference run; `lie` rewrites the outputs the realm attests
/// (a realm that does not run the model).
fn batch(lie: impl Fn(&mut Vec<u8>)) -> Batch {
    let model = data("model.qmlp");
    let inputs = data("inputs.bin")[..BATCH * 64].to_vec();
    let mut outputs = data("outputs.bin")[..BATCH * 41].to_vec();
    lie(&mut outputs);
    let (log, rems) = event_log(&model);
    let challenge = binding::batch_challenge(&NONCE, &inputs, &outputs);
    let (token, anchors) = token(&challenge, &rems);
    let hashes = [binding::batch_hash(&inputs), binding::batch_hash(&outputs)].concat();
    Batch {
        token: TempFile::new("token.cbor", &token),
        anchors: TempFile::new("ta.json", anchors.as_bytes()),
        log: TempFile::new("events.log", &log),
        inputs: TempFile::new("inputs.bin", &inputs),
        outputs: TempFile::new("outputs.bin", &outputs),
        model_hash: hex(binding::model_hash(HashAlgorithm::Sha256, &model).as_bytes()),
        model: TempFile::new("model.qmlp", &model),
        hashes: hex(&hashes),
    }
}

/// Runs `verify-inference` on `b`, each option replaceable through `with` (an empty value
/// leaves the option out; `TOKEN` replaces the token file).
fn verify(b: &Batch, with: &[(&str, &OsStr)]) -> (i32, String, String) {
    let nonce = hex(&NONCE);
    let rim = hex(&RIM);
    let mut options: Vec<(&str, &OsStr)> = vec![
        ("--anchors", b.anchors.0.as_os_str()),
        ("--event-log", b.log.0.as_os_str()),
        ("--inputs", b.inputs.0.as_os_str()),
        ("--outputs", b.outputs.0.as_os_str()),
        ("--nonce", nonce.as_ref()),
        ("--rim", rim.as_ref()),
        ("--model-hash", b.model_hash.as_ref()),
        ("--reported-hashes", b.hashes.as_ref()),
    ];
    let mut token = b.token.0.as_os_str();
    for (k, v) in with {
        if *k == "TOKEN" {
            token = v;
            continue;
        }
        match options.iter_mut().find(|(o, _)| o == k) {
            Some(o) => o.1 = v,
            None => options.push((k, v)),
        }
    }
    let mut args: Vec<&OsStr> = vec!["verify-inference".as_ref(), token];
    for (k, v) in &options {
        if !v.is_empty() {
            args.push(k.as_ref());
            args.push(v);
        }
    }
    run(&args)
}

fn refused(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 1, "stdout {} stderr {}", r.1, r.2);
    assert!(r.1.is_empty(), "{}", r.1);
    r.2.trim().to_owned()
}

#[test]
fn a_batch_verifies() {
    let b = batch(|_| {});
    let (code, out, err) = verify(&b, &[]);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    // With the plaintext model instead of its hash, each output is recomputed.
    let (code, out, err) = verify(
        &b,
        &[
            ("--model-hash", "".as_ref()),
            ("--model", b.model.0.as_os_str()),
        ],
    );
    assert_eq!(
        (code, out.trim()),
        (0, "verified: 50 inputs, each output recomputed"),
        "{err}"
    );
}

#[test]
fn each_tampering_fails_with_its_reason() {
    let b = batch(|_| {});
    // Another model expected than the one the log measures.
    let other = hex(&[0xaa; 32]);
    let e = refused(verify(&b, &[("--model-hash", other.as_ref())]));
    assert_eq!(
        e,
        format!(
            "cca-token: the realm measured model {}, not the expected model {other}",
            b.model_hash
        )
    );
    // A changed input.
    let mut inputs = std::fs::read(&b.inputs.0).unwrap();
    inputs[7] ^= 1;
    let changed = TempFile::new("changed-inputs.bin", &inputs);
    assert_eq!(
        refused(verify(&b, &[("--inputs", changed.0.as_os_str())])),
        "cca-token: the inputs are not the ones the realm classified (their SHA-512 is not the one the token binds)"
    );
    // Without the reported hashes, the mismatch is the challenge's.
    assert_eq!(
        refused(verify(
            &b,
            &[
                ("--inputs", changed.0.as_os_str()),
                ("--reported-hashes", "".as_ref())
            ]
        )),
        "cca-token: the token's challenge does not bind this nonce, these inputs and these outputs"
    );
    // A changed output.
    let mut outputs = std::fs::read(&b.outputs.0).unwrap();
    outputs[0] = (outputs[0] + 1) % 10;
    let changed = TempFile::new("changed-outputs.bin", &outputs);
    assert_eq!(
        refused(verify(&b, &[("--outputs", changed.0.as_os_str())])),
        "cca-token: the outputs are not the ones the realm wrote (their SHA-512 is not the one the token binds)"
    );
    // Another nonce: the token answers another request.
    let nonce = hex(&[0; 32]);
    assert!(
        refused(verify(&b, &[("--nonce", nonce.as_ref())]))
            .starts_with("cca-token: the token's challenge is not bound to this verifier's nonce")
    );
    // A changed event log.
    let mut log = std::fs::read(&b.log.0).unwrap();
    log[8] ^= 1; // the first byte of the model's hash
    let changed = TempFile::new("changed.log", &log);
    assert_eq!(
        refused(verify(&b, &[("--event-log", changed.0.as_os_str())])),
        "cca-token: the event log does not match the token: REM0: the event log replays to another value"
    );
    // A log that measures nothing does not replay either; one with no model event at all
    // would have to replay to the REMs, which only a realm that measured no model has.
    let empty = TempFile::new("empty.log", b"REL2");
    assert!(refused(verify(&b, &[("--event-log", empty.0.as_os_str())])).contains("REM0"));
    // A changed token.
    let mut token = std::fs::read(&b.token.0).unwrap();
    let last = token.len() - 1;
    token[last] ^= 1;
    let changed = TempFile::new("changed.cbor", &token);
    assert!(
        refused(verify(&b, &[("TOKEN", changed.0.as_os_str())]))
            .starts_with("cca-token: the token does not verify: ")
    );
    // Another image.
    let rim = hex(&[0x34; 32]);
    assert!(
        refused(verify(&b, &[("--rim", rim.as_ref())]))
            .starts_with("cca-token: the realm's RIM is 3333")
    );
    // A platform nobody trusts.
    let none = TempFile::new("none.json", b"[]");
    assert_eq!(
        refused(verify(&b, &[("--anchors", none.0.as_os_str())])),
        "cca-token: the token does not verify: no trust anchor for this platform's implementation and instance ID"
    );
}

/// A realm that attests outputs its model did not compute: the token binds them, so only
/// the recomputation with the plaintext model finds it.
#[test]
fn outputs_the_model_did_not_compute_are_found() {
    let b = batch(|outputs| outputs[41 * 3] = (outputs[41 * 3] + 1) % 10);
    let (code, out, err) = verify(&b, &[]);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    assert_eq!(
        refused(verify(
            &b,
            &[
                ("--model-hash", "".as_ref()),
                ("--model", b.model.0.as_os_str())
            ]
        )),
        "cca-token: output 3 of the batch is not what the model computes for input 3"
    );
}

/// Inputs that cannot be used: exit 2, nothing checked.
#[test]
fn unusable_inputs_exit_2() {
    let b = batch(|_| {});
    let short = hex(&[1; 31]);
    let (code, _, err) = verify(&b, &[("--nonce", short.as_ref())]);
    assert_eq!(
        (code, err.trim()),
        (2, "cca-token: --nonce: 31 bytes; 32 are expected")
    );
    let bad = TempFile::new("bad.qmlp", b"QMLP");
    let (code, _, err) = verify(
        &b,
        &[
            ("--model-hash", "".as_ref()),
            ("--model", bad.0.as_os_str()),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the model is truncated"), "{err}");
    // Neither --model-hash nor --model: a usage error.
    let (code, _, err) = verify(&b, &[("--model-hash", "".as_ref())]);
    assert_eq!(code, 2, "{err}");
}
