//! `cargo xtask inference`: the attested-inference story of realm-sdk issue 13.
//!
//! 1. the model's owner (who runs the key broker) encrypts the committed digits model for
//!    the approved image: one recipient per RIM the image has (under RMI 1.0 and RMI 2.0),
//!    each keyed by what the broker releases to that identity (`realm_inference::container`);
//! 2. the verifier draws a nonce; the host builds the disk (`realm_inference::disk`): the
//!    nonce, the encrypted model and the 450 held-out digits in batches of [`BATCH_SIZE`];
//! 3. a broker on loopback serves the approved RIMs; the realm (`examples/inference`) runs
//!    with the disk attached, gets its key after attestation, decrypts the model, measures
//!    it into REM0, classifies, and reports outputs, hashes and a token per batch;
//! 4. the verifier checks every batch (`realm_inference::verify`, what `cca-token
//!    verify-inference` runs) and that the outputs are the reference outputs bit for bit;
//! 5. the tamper cases: each change a host can make to the evidence fails with its own
//!    reason, and realms given a changed model or a model for another image stop;
//! 6. the benchmark: the realm's inferences per second next to the same kernel natively on
//!    this host (the baseline), the disk's bytes per second, the payload's size.
//!
//! Where the realm runs ([`Platform`]): under the EL2 harness on QEMU or on TF-RMM (rmi-host),
//! the disk attached as the realm's virtio block device and the report read from its virtio
//! console ([`run_realm`]), or [`Platform::Simulator`]: the same pipeline library
//! (`inference::run`) in this process on the software RMM model (`rmm_model::sim`, tokens
//! signed with its published test keys), with the disk in memory and the broker reached
//! over TCP. The simulator's RIM is not an image's: it is a fixed value the broker allows.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rmi::Generation;
use cca_token::TrustAnchor;
use cca_token::appraisal::Appraisal;
use realm_inference::container;
use realm_inference::model::Model;
use realm_inference::report::{Line, decode_hex};
use realm_inference::verify::{Evidence, Expected, InferenceError, verify_batch};
use realm_sdk::broker::BrokerPublicKey;
use realm_sdk::seal::{Identity, Policy, derive_key};

use crate::{BrokerRelay, Error, Firmware, Qemu, aarch64_dir, build_payload_with, write_atomic};

/// The committed model (`tools/inference/train_digits.py`).
pub const MODEL: &[u8] = include_bytes!("../../realm-inference/data/digits/model.qmlp");
/// The held-out digits.
pub const INPUTS: &[u8] = include_bytes!("../../realm-inference/data/digits/inputs.bin");
/// The script's reference outputs for them.
pub const OUTPUTS: &[u8] = include_bytes!("../../realm-inference/data/digits/outputs.bin");
/// The model ID the payload accepts (`examples/inference/src/main.rs`).
pub const MODEL_ID: &str = "digits-mlp";
/// Inputs per batch (one token each).
pub const BATCH_SIZE: usize = 50;
/// The RPV of the realms the harness and rmi-host build.
pub const RPV: [u8; 64] = [0; 64];

/// Where the realm runs.
#[derive(Clone, Debug)]
pub enum Platform {
    /// QEMU under the EL2 harness (this harness's ELF) and the RMM model.
    Harness(PathBuf),
    /// The reference firmware under QEMU with RME, launched by rmi-host.
    TfRmm(Firmware),
    /// The pipeline in this process on the software RMM model (see the module docs).
    Simulator,
}

/// One batch as the realm reported it.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Batch {
    /// Its output records.
    pub outputs: Vec<u8>,
    /// The two hashes its challenge binds.
    pub hashes: Vec<u8>,
    /// Its token.
    pub token: Vec<u8>,
}

/// What the realm reported (`realm_inference::report`).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Report {
    /// The model's hash.
    pub model_hash: Vec<u8>,
    /// The event log.
    pub event_log: Vec<u8>,
    /// The batches, in order.
    pub batches: Vec<Batch>,
    /// Inferences made.
    pub inferences: usize,
    /// Counter ticks spent classifying.
    pub ticks: u64,
    /// Bytes read from the disk.
    pub read_bytes: u64,
    /// Counter ticks spent reading.
    pub read_ticks: u64,
    /// The counter's frequency.
    pub hz: u64,
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; text.len() / 2];
    decode_hex(text, &mut out)
        .map(<[u8]>::to_vec)
        .map_err(|e| e.to_string())
}

/// Reads the realm's report out of its console output (other lines are ignored).
///
/// # Errors
///
/// A sentence: a malformed line, a batch out of order or incomplete, no summary.
pub fn parse_report(console: &str) -> Result<Report, String> {
    let mut report = Report::default();
    let mut done = false;
    for (n, line) in console.lines().enumerate() {
        let Some(line) = Line::parse(line.trim_end_matches('\r')) else {
            continue;
        };
        let line = line.map_err(|e| format!("console line {}: {e}", n + 1))?;
        let batch = |report: &mut Report, i: usize| {
            if i == report.batches.len() {
                report.batches.push(Batch::default());
            }
            if i + 1 != report.batches.len() {
                return Err(format!("console line {}: batch {i} out of order", n + 1));
            }
            Ok(report.batches.len() - 1)
        };
        match line {
            Line::Model(h) => report.model_hash = hex_bytes(h)?,
            Line::EventLog(h) => report.event_log = hex_bytes(h)?,
            Line::Outputs(i, h) => {
                let b = batch(&mut report, i)?;
                report.batches[b].outputs = hex_bytes(h)?;
            }
            Line::Hashes(i, h) => {
                let b = batch(&mut report, i)?;
                report.batches[b].hashes = hex_bytes(h)?;
            }
            Line::Token(i, h) => {
                let b = batch(&mut report, i)?;
                report.batches[b].token = hex_bytes(h)?;
            }
            Line::Done {
                batches,
                inferences,
                ticks,
                read_bytes,
                read_ticks,
                hz,
            } => {
                if batches != report.batches.len() {
                    return Err(format!(
                        "the realm says {batches} batches but reported {}",
                        report.batches.len()
                    ));
                }
                report.inferences = inferences;
                report.ticks = ticks;
                report.read_bytes = read_bytes;
                report.read_ticks = read_ticks;
                report.hz = hz;
                done = true;
            }
        }
    }
    if !done {
        return Err("the realm did not finish its report (no `inference: done` line)".into());
    }
    if let Some(i) = report
        .batches
        .iter()
        .position(|b| b.outputs.is_empty() || b.hashes.len() != 128 || b.token.is_empty())
    {
        return Err(format!("batch {i} is incomplete"));
    }
    Ok(report)
}

/// The key the broker with `master_secret` releases to the realm with `rim` and [`RPV`]
/// (policy `RimRpv`): what the model's owner encrypts for.
#[must_use]
pub fn released_key(master_secret: &[u8; 32], rim: &Measurement) -> realm_sdk::seal::SealingKey {
    let rems = [Measurement::zero(rim.algorithm()); 4];
    derive_key(
        master_secret,
        &Identity {
            rim,
            rpv: &RPV,
            rems: &rems,
        },
        Policy::RimRpv,
    )
}

/// The model container for the realms of `rims`, and the disk around it with `nonce`.
///
/// # Errors
///
/// [`Error::Build`] if the container or the disk cannot be made, [`Error::Io`] without
/// randomness.
pub fn make_disk(
    master_secret: &[u8; 32],
    rims: &[Measurement],
    nonce: &[u8; 32],
    model: &[u8],
) -> Result<Vec<u8>, Error> {
    let keys: Vec<_> = rims
        .iter()
        .map(|rim| released_key(master_secret, rim))
        .collect();
    let recipients: Vec<&[u8; 32]> = keys.iter().map(|k| k.expose_secret()).collect();
    let mut out = vec![0u8; container::MAX_CONTAINER_SIZE.min(model.len() + 4096)];
    let mut failed = None;
    let mut random = |b: &mut [u8]| {
        if let Err(e) = key_broker::os_random(b) {
            failed = Some(e);
        }
    };
    let sealed = container::seal(
        &recipients,
        &container::model_id(MODEL_ID),
        1,
        model,
        &mut random,
        &mut out,
    )
    .map_err(|e| Error::Build(e.to_string()))?
    .to_vec();
    if let Some(e) = failed {
        return Err(Error::Io("drawing the model's keys".into(), e.into()));
    }
    realm_inference::disk::build(nonce, &sealed, INPUTS, 64, BATCH_SIZE)
        .map_err(|e| Error::Build(e.to_string()))
}

/// Runs the realm of `image` (none for the simulator) with `disk` attached, the broker at
/// `broker` (whose public key the simulated realm pins: `pinned`); returns its console
/// output.
///
/// On QEMU the disk is loaded into the host's disk window (the harness's or rmi-host's,
/// `cca_abi::virtio`) and the realm reads it through its virtio block device; its service
/// calls reach the broker through a [`BrokerRelay`], as in `xtask::seal`.
///
/// # Errors
///
/// A build or run failure; [`Error::Realm`] with the console output if the realm did not
/// end with `SYSTEM_OFF` (`check_realm_end`), e.g. because the pipeline stopped.
pub fn run_realm(
    platform: &Platform,
    image: Option<&Path>,
    disk: &Path,
    broker: SocketAddr,
    pinned: BrokerPublicKey,
) -> Result<String, Error> {
    let qemu_image = || image.ok_or(Error::Elf("no realm image to run on QEMU"));
    let blob = aarch64_dir().join(format!("inference-{}.blob", std::process::id()));
    let output = match platform {
        Platform::Harness(harness) => {
            let image = qemu_image()?;
            let size = std::fs::metadata(image)
                .map_err(|e| Error::Io(image.display().to_string(), e))?
                .len();
            let mut relay = BrokerRelay::new(broker, blob.clone());
            Qemu {
                harness: harness.clone(),
                image: image.to_path_buf(),
                image_size: size,
                entry: [0, 0],
                recs: 1,
                timeout: Duration::from_secs(300),
                rmm: crate::ModelRmm::default(),
                disk: Some(disk.to_path_buf()),
            }
            .run_with(&mut relay)
        }
        Platform::TfRmm(firmware) => {
            let image = qemu_image()?;
            let mut relay = BrokerRelay::new(broker, blob.clone());
            let _guard = crate::tf_rmm_runs();
            let mut qemu = crate::tf_rmm_qemu(firmware, image, [0, 0], "")?;
            qemu.arg("-device")
                .arg(crate::disk_device(disk, cca_abi::virtio::RMI_HOST_DISK_PA)?);
            crate::run_timed(qemu, Duration::from_secs(600), &mut relay).map(|o| o.text())
        }
        Platform::Simulator => return simulate(disk, broker, pinned),
    };
    let _ = std::fs::remove_file(&blob);
    let output = output?;
    match crate::check_realm_end(&output) {
        Ok(()) => Ok(output),
        Err(e) => Err(Error::Realm(format!("{output}\n{e}"))),
    }
}

/// The pipeline in this process on the RMM model, the broker over TCP (module docs).
fn simulate(disk: &Path, broker: SocketAddr, pinned: BrokerPublicKey) -> Result<String, Error> {
    use cca_abi::eventlog::LogWriter;
    use realm_sdk::broker::{KeyBrokerProvider, RESPONSE_SIZE, Transport};
    use realm_sdk::seal::SealingKeyProvider;
    use realm_sdk::{Conduit, Realm};
    use rmm_model::sim::Simulator;
    use rmm_model::token::InsecureTestIssuer;

    struct MemDisk(Vec<u8>);
    impl inference::Disk for MemDisk {
        type Error = String;
        fn capacity(&mut self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
            let at = usize::try_from(offset).map_err(|e| e.to_string())?;
            let src = at
                .checked_add(buf.len())
                .and_then(|end| self.0.get(at..end))
                .ok_or_else(|| format!("read past the end at {offset:#x}"))?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }
    struct Text(String);
    impl inference::Console for Text {
        fn line(&mut self, line: std::fmt::Arguments<'_>) {
            self.0.push_str(&format!("{line}\n"));
        }
    }
    struct HostClock(Instant);
    impl inference::Clock for HostClock {
        fn now(&mut self) -> u64 {
            u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
        }
        fn hz(&self) -> u64 {
            1_000_000_000
        }
    }
    struct Tcp(key_broker::net::Client);
    impl Transport for Tcp {
        type Error = String;
        fn nonce(&mut self, _: &mut dyn Conduit) -> Result<[u8; 32], String> {
            self.0.nonce().map_err(|e| e.to_string())
        }
        fn release(
            &mut self,
            _: &mut dyn Conduit,
            request: &[u8],
            response: &mut [u8; RESPONSE_SIZE],
        ) -> Result<(), String> {
            *response = self.0.release(request).map_err(|e| e.to_string())??;
            Ok(())
        }
    }

    let bytes = std::fs::read(disk).map_err(|e| Error::Io(disk.display().to_string(), e))?;
    let client = key_broker::net::Client::connect(broker)
        .map_err(|e| Error::Io(format!("connecting to the broker at {broker}"), e))?;
    let mut sim = Simulator::with_issuer(
        rmm_model::RealmConfig {
            rim: simulator_rim(),
            rpv: RPV,
            ..Default::default()
        },
        Box::new(InsecureTestIssuer::new()),
    );
    let mut realm = Realm::new(&mut sim).map_err(|e| Error::Realm(e.to_string()))?;
    let mut log = [0u8; inference::LOG_SIZE];
    let mut log = LogWriter::new(&mut log).map_err(|e| Error::Realm(e.to_string()))?;
    let mut console = Text(String::new());
    let result = inference::run(
        &mut realm,
        |realm| {
            let (mut token, mut request) = (vec![0; 4096], vec![0; 4096 + 136]);
            KeyBrokerProvider::new(
                realm,
                Tcp(client),
                key_broker::OsRandom,
                pinned,
                &mut token,
                &mut request,
            )
            .sealing_key(Policy::RimRpv)
        },
        &mut MemDisk(bytes),
        &mut console,
        &mut HostClock(Instant::now()),
        &inference::Config {
            model_id: container::model_id(MODEL_ID),
            max_model: 256 * 1024,
        },
        &mut log,
    );
    match result {
        Ok(_) => Ok(console.0),
        Err(e) => Err(Error::Realm(format!("{}inference: {e}", console.0))),
    }
}

/// The RIM the simulated realm has (a fixed value, not an image's: see the module docs).
#[must_use]
pub fn simulator_rim() -> Measurement {
    HashAlgorithm::Sha256.hash(&[b"realm-sdk inference example, simulated"])
}

/// One check of the story and its outcome.
#[derive(Debug)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// `Ok` with what it showed, or the failure.
    pub outcome: Result<String, String>,
}

/// The benchmark's figures.
#[derive(Clone, Copy, Debug)]
pub struct Bench {
    /// Inferences per second in the realm.
    pub realm_per_s: f64,
    /// The same kernel natively on this host (the baseline), in this run.
    pub host_per_s: f64,
    /// Bytes per second read from the disk in the realm.
    pub disk_bytes_per_s: f64,
    /// Bytes of the payload's flat image (0 for the simulator).
    pub payload_bytes: usize,
}

/// The whole story's outcome.
#[derive(Debug)]
pub struct Story {
    /// The realm's console output.
    pub output: String,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The benchmark.
    pub bench: Bench,
    /// Where batch 0's evidence was written (for `cca-token verify-inference`).
    pub evidence: PathBuf,
}

/// The same kernel natively on this host: inferences per second over [`INPUTS`], repeated
/// for at least half a second.
#[must_use]
pub fn host_inferences_per_second() -> f64 {
    let Ok(model) = Model::parse(MODEL) else {
        return 0.0;
    };
    let mut logits = [0i32; 10];
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed() < Duration::from_millis(500) {
        for input in INPUTS.chunks_exact(model.input_len()) {
            let class = model.classify(std::hint::black_box(input), &mut logits);
            std::hint::black_box(class.ok());
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Runs the story on `platform` with a broker trusting `anchors` (module documentation).
///
/// # Errors
///
/// A build or run failure ([`Error`]); the checks' outcomes are in the [`Story`].
pub fn demo(platform: &Platform, anchors: &[TrustAnchor]) -> Result<Story, Error> {
    let secret = crate::seal::demo_master_secret()?;
    let identity = key_broker::identity(&secret).map_err(|e| Error::Build(e.to_string()))?;
    let pinned = identity.broker_public_key();
    let (image, rims, payload_bytes) = match platform {
        Platform::Simulator => (None, vec![simulator_rim()], 0),
        Platform::Harness(_) | Platform::TfRmm(_) => {
            let public: String = identity
                .public()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let env = [(realm_build::BROKER_PUBLIC_KEY_ENV, Path::new(&public))];
            let (path, image) = build_payload_with("inference", &env)?;
            let rim = |generation| {
                el2_harness::measure::rim_for(&image.bytes, [0, 0], generation)
                    .ok_or(Error::Elf("image larger than realm RAM"))
            };
            let rims = vec![rim(Generation::V1_0)?, rim(Generation::V2_0)?];
            (Some(path), rims, image.bytes.len())
        }
    };
    let allowed: Vec<Vec<u8>> = rims.iter().map(|r| r.as_bytes().to_vec()).collect();
    let allowed: Vec<&[u8]> = allowed.iter().map(Vec::as_slice).collect();
    let broker = crate::seal::start_broker(anchors, *secret, &allowed)?;
    let mut nonce = [0u8; 32];
    key_broker::os_random(&mut nonce)
        .map_err(|e| Error::Io("drawing the verifier's nonce".into(), e.into()))?;
    let dir = aarch64_dir().join(format!("inference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io(dir.display().to_string(), e))?;
    let disk = dir.join("disk.img");
    write_atomic(&disk, &make_disk(&secret, &rims, &nonce, MODEL)?)?;

    let output = run_realm(platform, image.as_deref(), &disk, broker, pinned)?;
    let report = parse_report(&output).map_err(Error::Realm)?;
    let model = Model::parse(MODEL).map_err(|e| Error::Build(e.to_string()))?;
    let mut checks = Vec::new();
    let mut check = |what: &str, outcome: Result<String, String>| {
        checks.push(Check {
            what: what.to_owned(),
            outcome,
        });
    };

    // The realm's outputs are the reference outputs, bit for bit.
    let all: Vec<u8> = report
        .batches
        .iter()
        .flat_map(|b| b.outputs.clone())
        .collect();
    check(
        "the realm's outputs equal the reference outputs bit for bit",
        if all == OUTPUTS {
            Ok(format!("{} outputs", OUTPUTS.len() / model.output_len()))
        } else {
            Err("they differ".into())
        },
    );
    // Every batch verifies, against the RIM its token carries among the approved ones.
    let inputs_of = |i: usize| {
        let n = BATCH_SIZE * model.input_len();
        &INPUTS[(i * n).min(INPUTS.len())..((i + 1) * n).min(INPUTS.len())]
    };
    let expected = |rim, model_hash, nonce| expected(anchors, rim, model_hash, nonce);
    let nonce = &nonce;
    let model_hash = HashAlgorithm::Sha256.hash(&[MODEL]).as_bytes().to_vec();
    let model_hash = model_hash.as_slice();
    let token_rim = report
        .batches
        .first()
        .and_then(|b| cca_token::Token::parse(&b.token).ok())
        .map(|t| t.realm_claims.rim.to_vec())
        .unwrap_or_default();
    let rim = rims
        .iter()
        .find(|r| r.as_bytes() == token_rim)
        .map_or_else(|| rims[0].as_bytes().to_vec(), |r| r.as_bytes().to_vec());
    let rim = rim.as_slice();
    let mut verified = 0;
    for (i, b) in report.batches.iter().enumerate() {
        let evidence = Evidence {
            token: &b.token,
            event_log: &report.event_log,
            inputs: inputs_of(i),
            outputs: &b.outputs,
            reported_hashes: b.hashes.as_slice().try_into().ok(),
        };
        let mut x = expected(rim, model_hash, nonce);
        x.model = Some(&model);
        match verify_batch(&evidence, &x) {
            Ok(_) => verified += 1,
            Err(e) => check(&format!("batch {i} verifies"), Err(e.to_string())),
        }
    }
    check(
        "every batch verifies (token, RIM, event log, model, challenge, outputs recomputed)",
        if verified == report.batches.len() {
            Ok(format!("{verified} batches"))
        } else {
            Err(format!("{verified} of {}", report.batches.len()))
        },
    );

    // The tamper cases on the evidence, each with its reason.
    if let Some(b) = report.batches.first() {
        let hashes: Option<&[u8; 128]> = b.hashes.as_slice().try_into().ok();
        let inputs = inputs_of(0);
        let flip = |v: &[u8], at: usize| {
            let mut v = v.to_vec();
            let at = at.min(v.len().saturating_sub(1));
            if let Some(x) = v.get_mut(at) {
                *x ^= 1;
            }
            v
        };
        let other_nonce = &[0u8; 32];
        let other_model = &[0xaa; 32][..];
        let other_rim = vec![0x5a; rim.len()];
        let other_rim = other_rim.as_slice();
        let (changed_input, changed_output) = (flip(inputs, 7), flip(&b.outputs, 0));
        let (changed_log, changed_token) =
            (flip(&report.event_log, 8), flip(&b.token, b.token.len()));
        let second_token = report
            .batches
            .get(1)
            .map_or(b.token.clone(), |b| b.token.clone());
        type Want = fn(&InferenceError<'_>) -> bool;
        let cases: [(&str, Evidence<'_>, Expected<'_>, Want); 8] = [
            (
                "a changed input",
                Evidence {
                    inputs: &changed_input,
                    ..evidence0(b, &report, inputs, hashes)
                },
                expected(rim, model_hash, nonce),
                |e| *e == InferenceError::Inputs,
            ),
            (
                "a changed output",
                Evidence {
                    outputs: &changed_output,
                    ..evidence0(b, &report, inputs, hashes)
                },
                expected(rim, model_hash, nonce),
                |e| *e == InferenceError::Outputs,
            ),
            (
                "another verifier's nonce (a replayed token)",
                evidence0(b, &report, inputs, hashes),
                expected(rim, model_hash, other_nonce),
                |e| *e == InferenceError::Nonce,
            ),
            (
                "another batch's token",
                Evidence {
                    token: &second_token,
                    ..evidence0(b, &report, inputs, hashes)
                },
                expected(rim, model_hash, nonce),
                |e| *e == InferenceError::Nonce,
            ),
            (
                "a changed event log",
                Evidence {
                    event_log: &changed_log,
                    ..evidence0(b, &report, inputs, hashes)
                },
                expected(rim, model_hash, nonce),
                |e| matches!(e, InferenceError::EventLog(_)),
            ),
            (
                "a changed token",
                Evidence {
                    token: &changed_token,
                    ..evidence0(b, &report, inputs, hashes)
                },
                expected(rim, model_hash, nonce),
                |e| matches!(e, InferenceError::Signature(_) | InferenceError::Token(_)),
            ),
            (
                "another model expected",
                evidence0(b, &report, inputs, hashes),
                expected(rim, other_model, nonce),
                |e| matches!(e, InferenceError::Model { .. }),
            ),
            (
                "another image's RIM expected",
                evidence0(b, &report, inputs, hashes),
                expected(other_rim, model_hash, nonce),
                |e| matches!(e, InferenceError::Rim { .. }),
            ),
        ];
        for (what, evidence, x, want) in cases {
            check(
                &format!("tamper: {what}"),
                match verify_batch(&evidence, &x) {
                    Ok(_) => Err("accepted".into()),
                    Err(e) if want(&e) => Ok(format!("refused: {e}")),
                    Err(e) => Err(format!("refused for another reason: {e}")),
                },
            );
        }
        // Batch 0's evidence as files, for `cca-token verify-inference`.
        for (name, bytes) in [
            ("batch0.token", b.token.as_slice()),
            ("events.log", report.event_log.as_slice()),
            ("batch0.inputs", inputs),
            ("batch0.outputs", b.outputs.as_slice()),
        ] {
            write_atomic(&dir.join(name), bytes)?;
        }
    }

    // The tamper cases on the disk: the realm stops.
    for (what, disk_bytes, reason) in [
        (
            "a changed model container",
            {
                let mut d = make_disk(&secret, &rims, nonce, MODEL)?;
                // A byte of the model's ciphertext: past the header sector, the container's
                // header and its recipients.
                let at = 512 + 48 + 68 * rims.len() + 100;
                d[at] ^= 1;
                d
            },
            "the model container was changed",
        ),
        (
            "a model encrypted for another image",
            make_disk(
                &secret,
                &[HashAlgorithm::Sha256.hash(&[b"another image"])],
                nonce,
                MODEL,
            )?,
            "the model is not encrypted for this realm",
        ),
    ] {
        let path = dir.join("tampered.img");
        write_atomic(&path, &disk_bytes)?;
        let outcome = match run_realm(platform, image.as_deref(), &path, broker, pinned) {
            Ok(out) => Err(format!(
                "the realm ran: {}",
                out.lines().last().unwrap_or("")
            )),
            Err(Error::Realm(out)) if out.contains(reason) => {
                Ok(format!("the realm stops: {reason}"))
            }
            Err(e) => Err(e.to_string()),
        };
        check(&format!("tamper: {what}"), outcome);
    }

    let per_s = |count: f64, ticks: u64| {
        if ticks == 0 {
            0.0
        } else {
            count * report.hz as f64 / ticks as f64
        }
    };
    let bench = Bench {
        realm_per_s: per_s(report.inferences as f64, report.ticks),
        host_per_s: host_inferences_per_second(),
        disk_bytes_per_s: per_s(report.read_bytes as f64, report.read_ticks),
        payload_bytes,
    };
    Ok(Story {
        output,
        checks,
        bench,
        evidence: dir,
    })
}

/// What the story's verifier expects.
fn expected<'a>(
    anchors: &'a [TrustAnchor],
    rim: &'a [u8],
    model_hash: &'a [u8],
    nonce: &'a [u8; 32],
) -> Expected<'a> {
    Expected {
        anchors,
        appraisal: Appraisal::DEFAULT,
        rim,
        rpv: Some(&RPV),
        model_hash,
        nonce,
        model: None,
    }
}

/// Batch 0's evidence as reported.
fn evidence0<'a>(
    b: &'a Batch,
    report: &'a Report,
    inputs: &'a [u8],
    hashes: Option<&'a [u8; 128]>,
) -> Evidence<'a> {
    Evidence {
        token: &b.token,
        event_log: &report.event_log,
        inputs,
        outputs: &b.outputs,
        reported_hashes: hashes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report parser takes a realm's lines in order and refuses gaps.
    #[test]
    fn reports_parse_and_gaps_are_refused() {
        let h = "ab".repeat(128);
        let good = format!(
            "noise\ninference: model 00\ninference: event-log 5245\ninference: batch 0 outputs 01\n\
             inference: batch 0 hashes {h}\ninference: batch 0 token d9\n\
             inference: done 1 batches, 1 inferences in 5 ticks, 512 bytes read in 2 ticks at 100 Hz\n"
        );
        let r = parse_report(&good).unwrap();
        assert_eq!((r.batches.len(), r.inferences, r.hz), (1, 1, 100));
        assert!(parse_report(&good.replace("batch 0 token", "batch 2 token")).is_err());
        assert!(parse_report(&good.replace("done 1 batches", "done 2 batches")).is_err());
        assert!(parse_report(&good.replace("inference: done", "x")).is_err());
        assert!(parse_report(&good.replace("batch 0 token d9", "batch 0 token zz")).is_err());
    }

    /// The story on the simulator: every check passes.
    #[test]
    fn the_story_holds_on_the_simulator() {
        let story = demo(
            &Platform::Simulator,
            &[rmm_model::token::InsecureTestIssuer::new().trust_anchor()],
        )
        .unwrap();
        for c in &story.checks {
            assert!(c.outcome.is_ok(), "{}: {:?}", c.what, c.outcome);
        }
        assert_eq!(story.checks.len(), 12);
        let _ = std::fs::remove_dir_all(&story.evidence);
    }
}

/// What `examples/inference-bench` printed: the kernel in a realm.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct KernelRun {
    /// Outputs equal to the reference, bit for bit.
    pub exact: u64,
    /// Correct labels.
    pub correct: u64,
    /// Inputs classified and checked.
    pub total: u64,
    /// Inferences in the timed loop.
    pub inferences: u64,
    /// Its counter ticks.
    pub ticks: u64,
    /// The counter's frequency.
    pub hz: u64,
}

impl KernelRun {
    /// Finds the payload's line in `console` and reads it.
    #[must_use]
    pub fn parse(console: &str) -> Option<Self> {
        let line = console
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("inference-bench: "))?;
        let numbers: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        // exact / total, correct / total; inferences, ticks, hz.
        match numbers.as_slice() {
            &[exact, total, correct, total2, inferences, ticks, hz] if total == total2 => {
                Some(Self {
                    exact,
                    correct,
                    total,
                    inferences,
                    ticks,
                    hz,
                })
            }
            _ => None,
        }
    }

    /// Inferences per second in the realm.
    #[must_use]
    pub fn per_second(&self) -> f64 {
        if self.ticks == 0 {
            return 0.0;
        }
        self.inferences as f64 * self.hz as f64 / self.ticks as f64
    }
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    #[test]
    fn the_bench_line_parses() {
        let out = "x\ninference-bench: 450/450 outputs equal the reference bit for bit, 438/450 correct; 9000 inferences in 116465886 ticks at 1000000000 Hz\r\n";
        let k = KernelRun::parse(out).unwrap();
        assert_eq!(
            (k.exact, k.correct, k.total, k.inferences),
            (450, 438, 450, 9000)
        );
        assert!((k.per_second() - 77275.0).abs() < 1.0);
        assert_eq!(KernelRun::parse("inference-bench: 1/2 outputs"), None);
    }
}
