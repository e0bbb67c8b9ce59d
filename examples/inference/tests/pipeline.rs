//! The pipeline on the host, end to end, with test doubles for the devices: the realm runs
//! on the software RMM model (`rmm_model::sim`, tokens signed with its published insecure
//! test keys), the key broker is `key_broker::Broker` called directly instead of over the
//! relay, the disk is a byte vector ([`MemDisk`]) and the console a vector of lines.
//! In the realm, the same `inference::run` reads virtio-blk and writes the console.
//!
//! What is checked: the realm's outputs equal the script's reference outputs bit for bit,
//! every batch verifies (`realm_inference::verify`), and each tampering a host could do
//! fails with its own reason.

use std::sync::Arc;

use cca_abi::eventlog::LogWriter;
use cca_abi::measurement::HashAlgorithm;
use cca_token::appraisal::Appraisal;
use inference::{Clock, Config, Console, Disk, PipelineError, Summary, run};
use key_broker::{AllowedRealm, Broker, BrokerConfig, Refusal, Session};
use realm_inference::binding;
use realm_inference::container::{self, HEADER_SIZE, RECIPIENT_SIZE, TAG_SIZE};
use realm_inference::disk;
use realm_inference::model::Model;
use realm_inference::report::{Line, decode_hex};
use realm_inference::verify::{Evidence, Expected, InferenceError, verify_batch};
use realm_sdk::broker::{KeyBrokerProvider, RESPONSE_SIZE, Transport};
use realm_sdk::seal::{Identity, Policy, SealingKeyProvider, derive_key};
use realm_sdk::{Conduit, Realm};
use rmm_model::sim::Simulator;
use rmm_model::token::InsecureTestIssuer;
use zeroize::Zeroizing;

const MODEL: &[u8] = include_bytes!("../../../realm-inference/data/digits/model.qmlp");
const INPUTS: &[u8] = include_bytes!("../../../realm-inference/data/digits/inputs.bin");
const OUTPUTS: &[u8] = include_bytes!("../../../realm-inference/data/digits/outputs.bin");
const MASTER: [u8; 32] = [0x24; 32];
const NONCE: [u8; 32] = [0x6e; 32];
const RPV: [u8; 64] = [5; 64];

/// Test double: a disk in memory.
struct MemDisk(Vec<u8>);

impl Disk for MemDisk {
    type Error = String;
    fn capacity(&mut self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
        let start = usize::try_from(offset).map_err(|e| e.to_string())?;
        let src = self
            .0
            .get(start..start + buf.len())
            .ok_or_else(|| format!("read past the end at {offset:#x}"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Test double: the console as lines.
#[derive(Default)]
struct Lines(Vec<String>);

impl Console for Lines {
    fn line(&mut self, line: std::fmt::Arguments<'_>) {
        self.0.push(line.to_string());
    }
}

/// The host's monotonic clock in nanoseconds.
struct HostClock(std::time::Instant);

impl Clock for HostClock {
    fn now(&mut self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
    fn hz(&self) -> u64 {
        1_000_000_000
    }
}

/// The untrusted host's relay, as a direct call.
struct Direct<'s>(&'s Session);

impl Transport for Direct<'_> {
    type Error = Refusal;
    fn nonce(&mut self, _: &mut dyn Conduit) -> Result<[u8; 32], Refusal> {
        Ok(self.0.nonce())
    }
    fn release(
        &mut self,
        _: &mut dyn Conduit,
        request: &[u8],
        response: &mut [u8; RESPONSE_SIZE],
    ) -> Result<(), Refusal> {
        *response = self.0.release(request)?;
        Ok(())
    }
}

fn rim(image: &str) -> cca_abi::measurement::Measurement {
    HashAlgorithm::Sha256.hash(&[image.as_bytes()])
}

/// The broker, which releases keys to the approved image only.
fn broker() -> Arc<Broker> {
    Arc::new(
        Broker::new(BrokerConfig {
            anchors: vec![InsecureTestIssuer::new().trust_anchor()],
            master_secret: Zeroizing::new(MASTER),
            allowed: vec![AllowedRealm {
                rim: rim("approved image").as_bytes().to_vec(),
                rpv: None,
            }],
            policies: vec![Policy::RimRpv],
            appraisal: None,
        })
        .unwrap(),
    )
}

/// The key the broker releases to the realm of `image` (the model's owner runs the broker,
/// so it knows the master secret and derives it as the broker does).
fn released(image: &str) -> realm_sdk::seal::SealingKey {
    let rim = rim(image);
    let rems = [cca_abi::measurement::Measurement::zero(HashAlgorithm::Sha256); 4];
    derive_key(
        &MASTER,
        &Identity {
            rim: &rim,
            rpv: &RPV,
            rems: &rems,
        },
        Policy::RimRpv,
    )
}

/// The model encrypted for the realms of `images` (the owner's approved images).
fn encrypt_for_all(images: &[&str], model: &[u8]) -> Vec<u8> {
    let keys: Vec<_> = images.iter().map(|i| released(i)).collect();
    let recipients: Vec<&[u8; 32]> = keys.iter().map(|k| k.expose_secret()).collect();
    let mut out = vec![0u8; model.len() + HEADER_SIZE + TAG_SIZE + 8 * RECIPIENT_SIZE];
    let id = container::model_id("digits-mlp");
    let mut random = |b: &mut [u8]| key_broker::os_random(b).unwrap();
    container::seal(&recipients, &id, 1, model, &mut random, &mut out)
        .unwrap()
        .to_vec()
}

fn encrypt_for(image: &str, model: &[u8]) -> Vec<u8> {
    encrypt_for_all(&[image], model)
}

fn disk_image(container: &[u8], inputs: &[u8]) -> Vec<u8> {
    disk::build(&NONCE, container, inputs, 64, 50).unwrap()
}

struct Run {
    result: Result<Summary, String>,
    lines: Vec<String>,
}

/// A realm of `image` runs the pipeline over `disk`.
fn run_realm(image: &str, disk: Vec<u8>) -> Run {
    let broker = broker();
    let session = broker.session().unwrap();
    let mut sim = Simulator::with_issuer(
        rmm_model::RealmConfig {
            rim: rim(image),
            rpv: RPV,
            ..Default::default()
        },
        Box::new(InsecureTestIssuer::new()),
    );
    let mut realm = Realm::new(&mut sim).unwrap();
    let (mut lines, mut disk) = (Lines::default(), MemDisk(disk));
    let mut log = [0u8; inference::LOG_SIZE];
    let mut log = LogWriter::new(&mut log).unwrap();
    let pinned = broker.public_key();
    let result = run(
        &mut realm,
        |realm| {
            let (mut token, mut request) = (vec![0; 4096], vec![0; 4096 + 136]);
            KeyBrokerProvider::new(
                realm,
                Direct(&session),
                key_broker::OsRandom,
                pinned,
                &mut token,
                &mut request,
            )
            .sealing_key(Policy::RimRpv)
        },
        &mut disk,
        &mut lines,
        &mut HostClock(std::time::Instant::now()),
        &Config {
            model_id: container::model_id("digits-mlp"),
            max_model: 64 * 1024,
        },
        &mut log,
    );
    Run {
        result: result.map_err(|e: PipelineError<String, _>| e.to_string()),
        lines: lines.0,
    }
}

/// One batch's evidence as the host collects it from the report.
#[derive(Clone, Debug, Default)]
struct Batch {
    outputs: Vec<u8>,
    hashes: Vec<u8>,
    token: Vec<u8>,
}

fn hex(text: &str) -> Vec<u8> {
    let mut out = vec![0u8; text.len() / 2];
    decode_hex(text, &mut out).unwrap().to_vec()
}

/// The event log and the batches of a report.
fn collect(lines: &[String]) -> (Vec<u8>, Vec<Batch>, Vec<u8>) {
    let (mut log, mut model, mut batches) = (Vec::new(), Vec::new(), Vec::<Batch>::new());
    for line in lines {
        let Some(line) = Line::parse(line) else {
            continue;
        };
        match line.unwrap() {
            Line::Model(h) => model = hex(h),
            Line::EventLog(h) => log = hex(h),
            Line::Outputs(i, h) => {
                batches.resize(batches.len().max(i + 1), Batch::default());
                batches[i].outputs = hex(h);
            }
            Line::Hashes(i, h) => batches[i].hashes = hex(h),
            Line::Token(i, h) => batches[i].token = hex(h),
            Line::Done { .. } => {}
        }
    }
    (log, batches, model)
}

fn expected<'a>(
    anchors: &'a [cca_token::TrustAnchor],
    rim: &'a [u8],
    model_hash: &'a [u8],
    model: Option<&'a Model<'a>>,
) -> Expected<'a> {
    Expected {
        anchors,
        appraisal: Appraisal::DEFAULT,
        rim,
        rpv: Some(&RPV),
        model_hash,
        nonce: &NONCE,
        model,
    }
}

#[test]
fn the_realm_classifies_bit_exactly_and_every_batch_verifies() {
    let run = run_realm(
        "approved image",
        disk_image(&encrypt_for("approved image", MODEL), INPUTS),
    );
    let summary = run.result.unwrap();
    assert_eq!((summary.batches, summary.inferences), (9, 450));
    let (log, batches, model_hash) = collect(&run.lines);
    assert_eq!(model_hash, HashAlgorithm::Sha256.hash(&[MODEL]).as_bytes());
    // The realm's outputs are the reference outputs, bit for bit.
    let all: Vec<u8> = batches.iter().flat_map(|b| b.outputs.clone()).collect();
    assert_eq!(all, OUTPUTS);
    let anchors = [InsecureTestIssuer::new().trust_anchor()];
    let rim = rim("approved image");
    let model = Model::parse(MODEL).unwrap();
    for (i, b) in batches.iter().enumerate() {
        let inputs = &INPUTS[i * 50 * 64..((i + 1) * 50 * 64).min(INPUTS.len())];
        let evidence = Evidence {
            token: &b.token,
            event_log: &log,
            inputs,
            outputs: &b.outputs,
            reported_hashes: Some(b.hashes.as_slice().try_into().unwrap()),
        };
        let v = verify_batch(
            &evidence,
            &expected(&anchors, rim.as_bytes(), &model_hash, Some(&model)),
        )
        .unwrap();
        assert_eq!(v.inputs, 50);
    }
    assert!(
        run.lines
            .last()
            .unwrap()
            .starts_with("inference: done 9 batches, 450 inferences in ")
    );
}

/// Each thing the host can change, and the reason the verifier names.
#[test]
fn tampering_fails_with_its_reason() {
    let run = run_realm(
        "approved image",
        disk_image(&encrypt_for("approved image", MODEL), INPUTS),
    );
    run.result.unwrap();
    let (log, batches, model_hash) = collect(&run.lines);
    let anchors = [InsecureTestIssuer::new().trust_anchor()];
    let rim = rim("approved image");
    let model = Model::parse(MODEL).unwrap();
    let b = &batches[0];
    let inputs = &INPUTS[..50 * 64];
    let hashes: &[u8; 128] = b.hashes.as_slice().try_into().unwrap();
    let check = |token: &[u8],
                 log: &[u8],
                 inputs: &[u8],
                 outputs: &[u8],
                 hashes: Option<&[u8; 128]>,
                 x: Expected<'_>| {
        verify_batch(
            &Evidence {
                token,
                event_log: log,
                inputs,
                outputs,
                reported_hashes: hashes,
            },
            &x,
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let x = || expected(&anchors, rim.as_bytes(), &model_hash, Some(&model));
    assert_eq!(
        check(&b.token, &log, inputs, &b.outputs, Some(hashes), x()),
        Ok(())
    );

    // An input changed.
    let mut changed = inputs.to_vec();
    changed[100] ^= 1;
    assert_eq!(
        check(&b.token, &log, &changed, &b.outputs, Some(hashes), x()).unwrap_err(),
        InferenceError::Inputs.to_string()
    );
    // Without the reported hashes, only as a challenge mismatch.
    assert_eq!(
        check(&b.token, &log, &changed, &b.outputs, None, x()).unwrap_err(),
        InferenceError::Challenge.to_string()
    );
    // An output changed (the class of the first digit).
    let mut out = b.outputs.clone();
    out[0] = (out[0] + 1) % 10;
    assert_eq!(
        check(&b.token, &log, inputs, &out, Some(hashes), x()).unwrap_err(),
        InferenceError::Outputs.to_string()
    );
    // Another nonce (a replayed token).
    let other = [0u8; 32];
    let mut y = x();
    y.nonce = &other;
    assert_eq!(
        check(&b.token, &log, inputs, &b.outputs, Some(hashes), y).unwrap_err(),
        InferenceError::Nonce.to_string()
    );
    // Another batch's token.
    assert_eq!(
        check(
            &batches[1].token,
            &log,
            inputs,
            &b.outputs,
            Some(hashes),
            x()
        )
        .unwrap_err(),
        InferenceError::Nonce.to_string()
    );
    // The event log changed: a value byte, a description, one event dropped.
    let mut l = log.clone();
    let last = l.len() - 1;
    l[last] ^= 0x20;
    assert!(
        check(&b.token, &l, inputs, &b.outputs, Some(hashes), x())
            .unwrap_err()
            .contains("the event log does not match the token: REM0")
    );
    l = log.clone();
    l[8] ^= 1;
    assert!(
        check(&b.token, &l, inputs, &b.outputs, Some(hashes), x())
            .unwrap_err()
            .contains("REM0: the event log replays to another value")
    );
    assert!(
        check(&b.token, b"REL2", inputs, &b.outputs, Some(hashes), x())
            .unwrap_err()
            .contains("REM0")
    );
    assert!(
        check(&b.token, b"RELX", inputs, &b.outputs, Some(hashes), x())
            .unwrap_err()
            .contains("bad magic")
    );
    // The token changed: a signature byte, a claim byte.
    let mut t = b.token.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    let e = check(&t, &log, inputs, &b.outputs, Some(hashes), x()).unwrap_err();
    assert!(e.starts_with("the token does not verify: "), "{e}");
    // The challenge claim rewritten to bind changed outputs: the realm's signature fails.
    let challenge = binding::batch_challenge(&NONCE, inputs, &b.outputs);
    let at = b.token.windows(64).position(|w| w == challenge).unwrap();
    let mut t = b.token.clone();
    t[at..at + 64].copy_from_slice(&binding::batch_challenge(&NONCE, inputs, &out));
    let e = check(&t, &log, inputs, &out, Some(hashes), x()).unwrap_err();
    assert_eq!(
        e,
        "the token does not verify: realm token signature: the signature does not verify"
    );
    t.truncate(t.len() / 2);
    let e = check(&t, &log, inputs, &b.outputs, Some(hashes), x()).unwrap_err();
    assert!(e.starts_with("malformed token: "), "{e}");
    // The expected model is another one.
    let other_model = HashAlgorithm::Sha256.hash(&[b"another model".as_slice()]);
    let mut y = x();
    y.model_hash = other_model.as_bytes();
    y.model = None;
    assert!(
        check(&b.token, &log, inputs, &b.outputs, Some(hashes), y)
            .unwrap_err()
            .starts_with("the realm measured model ")
    );
    // Another image (RIM).
    let other_rim = [0u8; 32];
    let mut y = x();
    y.rim = &other_rim;
    assert!(
        check(&b.token, &log, inputs, &b.outputs, Some(hashes), y)
            .unwrap_err()
            .starts_with("the realm's RIM is ")
    );
    // A platform that is not trusted.
    let mut y = x();
    y.anchors = &[];
    assert!(
        check(&b.token, &log, inputs, &b.outputs, Some(hashes), y)
            .unwrap_err()
            .contains("no trust anchor")
    );
    // Outputs cut short: the token no longer binds them.
    assert_eq!(
        check(&b.token, &log, inputs, &b.outputs[..40], None, x()).unwrap_err(),
        InferenceError::Challenge.to_string()
    );
}

/// A tampered model on the disk: a changed byte does not decrypt; a model encrypted with
/// the right key but different weights (the owner's key leaked to the host, say) is
/// measured, and the verifier names it.
#[test]
fn a_tampered_model_is_refused_or_named() {
    let mut c = encrypt_for("approved image", MODEL);
    c[HEADER_SIZE + RECIPIENT_SIZE + 10] ^= 1;
    let run = run_realm("approved image", disk_image(&c, INPUTS));
    assert_eq!(
        run.result.unwrap_err(),
        "the model container was changed: a tag does not verify"
    );
    assert!(run.lines.is_empty());

    let mut other = MODEL.to_vec();
    other[8 + 32 + 5] ^= 1; // one weight
    let run = run_realm(
        "approved image",
        disk_image(&encrypt_for("approved image", &other), INPUTS),
    );
    run.result.unwrap();
    let (log, batches, reported) = collect(&run.lines);
    let anchors = [InsecureTestIssuer::new().trust_anchor()];
    let rim = rim("approved image");
    let model_hash = HashAlgorithm::Sha256.hash(&[MODEL]);
    let b = &batches[0];
    let e = verify_batch(
        &Evidence {
            token: &b.token,
            event_log: &log,
            inputs: &INPUTS[..3200],
            outputs: &b.outputs,
            reported_hashes: None,
        },
        &expected(&anchors, rim.as_bytes(), model_hash.as_bytes(), None),
    )
    .unwrap_err();
    assert_eq!(
        e,
        InferenceError::Model {
            found: &reported,
            expected: model_hash.as_bytes()
        }
    );
}

/// A realm of an image the owner did not approve gets no key: the broker refuses it.
#[test]
fn another_image_gets_no_key() {
    let run = run_realm(
        "changed image",
        disk_image(&encrypt_for("approved image", MODEL), INPUTS),
    );
    assert_eq!(
        run.result.unwrap_err(),
        "no model key: key broker: RIM not allowed"
    );
}

/// A disk whose header lies is refused before anything else is read.
#[test]
fn a_lying_disk_is_refused() {
    let mut image = disk_image(&encrypt_for("approved image", MODEL), INPUTS);
    image[36..40].copy_from_slice(&451u32.to_le_bytes());
    let len = image.len();
    image.truncate(len - 512);
    let run = run_realm("approved image", image);
    assert!(
        run.result
            .unwrap_err()
            .starts_with("disk header: the inputs ends at"),
        ""
    );
    let mut image = disk_image(&encrypt_for("approved image", MODEL), INPUTS);
    let sector: [u8; 512] = image[..512].try_into().unwrap();
    let header = disk::Header::parse(&sector, image.len() as u64).unwrap();
    image.resize(4 << 20, 0);
    image[..512].copy_from_slice(
        &disk::Header {
            model_len: 1 << 20,
            inputs_offset: 2 << 20,
            ..header
        }
        .encode(),
    );
    let run = run_realm("approved image", image);
    assert_eq!(
        run.result.unwrap_err(),
        "the model container has 1048576 bytes; this realm reads at most 65536"
    );
}
