//! The attested-inference pipeline of the `inference` payload, written against a small disk
//! and console abstraction ([`Disk`], [`Console`]) so that it runs in the realm over
//! virtio devices and on the host in tests over memory.
//!
//! [`run`] does, in this order:
//!
//! 1. reads the disk's header sector and checks it (`realm_inference::disk`: every field
//!    is the host's and hostile);
//! 2. reads the encrypted model container (at most [`Config::max_model`] bytes);
//! 3. gets the released key through the caller's `release` (in the payload: attestation
//!    and the key broker, `realm_sdk::broker::KeyBrokerProvider` with policy `RimRpv`), and
//!    decrypts the model with the key derived from it (`realm_inference::container`);
//! 4. measures the plaintext model into REM\[0\] through the event log
//!    (`realm_sdk::Realm::measure`, `realm_inference::binding`) **before** it is parsed or
//!    used, and reports the model's hash and the log;
//! 5. parses the model, and per batch: reads the inputs, classifies each, writes the output
//!    records, and gets a token whose challenge binds the verifier's nonce, the inputs and
//!    the outputs (`realm_inference::binding::batch_challenge`); reports outputs, hashes
//!    and token;
//! 6. reports how many inferences it made in how many clock ticks (classification only),
//!    and how many bytes it read from the disk in how many ticks.
//!
//! The lines are those of `realm_inference::report`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use core::fmt;

use cca_abi::eventlog::{LogError, LogWriter};
use realm_inference::binding::{self, MODEL_EVENT_DESCRIPTION};
use realm_inference::container::{self, ContainerError, MODEL_ID_SIZE};
use realm_inference::disk::{DiskError, Header, SECTOR_SIZE};
use realm_inference::model::{ClassifyError, MAX_CLASSES, Model, ModelError, encode_output};
use realm_inference::report::{Hex, PREFIX};
use realm_sdk::MeasureError;
use realm_sdk::attest::TokenError;
use realm_sdk::seal::SealingKey;
use realm_sdk::{Challenge, Conduit, Realm, RemIndex};

/// The block device the realm reads (in the payload: virtio-blk; in tests: memory).
pub trait Disk {
    /// Why a read failed.
    type Error: fmt::Display;
    /// The device's capacity in bytes.
    fn capacity(&mut self) -> u64;
    /// Fills `buf` from byte `offset` of the device.
    ///
    /// # Errors
    ///
    /// The device's error (a read past the end included).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
}

/// Where the realm writes its report lines (in the payload: the console).
pub trait Console {
    /// Writes one line (without its line end).
    fn line(&mut self, line: fmt::Arguments<'_>);
}

/// A monotonic counter to time classification with (in the payload: the generic timer).
pub trait Clock {
    /// The counter's value.
    fn now(&mut self) -> u64;
    /// Its ticks per second.
    fn hz(&self) -> u64;
}

/// What the payload fixes at build time (and so the RIM covers).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The model the realm accepts (`realm_inference::container::model_id`).
    pub model_id: [u8; MODEL_ID_SIZE],
    /// The largest model container it reads (its heap holds it).
    pub max_model: usize,
}

/// What a run did.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Summary {
    /// Batches classified and attested.
    pub batches: usize,
    /// Inputs classified.
    pub inferences: usize,
    /// Clock ticks spent classifying.
    pub ticks: u64,
    /// Bytes read from the disk (header, model, inputs).
    pub read_bytes: u64,
    /// Clock ticks spent reading them.
    pub read_ticks: u64,
}

/// Why a run stopped.
#[derive(Debug)]
pub enum PipelineError<D, R> {
    /// The disk failed.
    Disk(D),
    /// The disk header was refused.
    Header(DiskError),
    /// The model container is larger than the realm accepts.
    ModelTooLarge {
        /// Its length.
        len: usize,
        /// The realm's limit.
        max: usize,
    },
    /// No released key.
    Release(R),
    /// The container does not open.
    Container(ContainerError),
    /// The model could not be measured.
    Measure(MeasureError),
    /// The event log buffer could not be started.
    Log(LogError),
    /// The decrypted model does not parse.
    Model(ModelError),
    /// The disk's inputs are not of the model's input length.
    InputLength {
        /// The disk's.
        disk: usize,
        /// The model's.
        model: usize,
    },
    /// Classification failed.
    Classify(ClassifyError),
    /// No token.
    Token(TokenError),
}

impl<D: fmt::Display, R: fmt::Display> fmt::Display for PipelineError<D, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disk(e) => write!(f, "disk: {e}"),
            Self::Header(e) => write!(f, "disk header: {e}"),
            Self::ModelTooLarge { len, max } => write!(
                f,
                "the model container has {len} bytes; this realm reads at most {max}"
            ),
            Self::Release(e) => write!(f, "no model key: {e}"),
            Self::Container(e) => write!(f, "{e}"),
            Self::Measure(e) => write!(f, "measuring the model: {e}"),
            Self::Log(e) => write!(f, "event log: {e}"),
            Self::Model(e) => write!(f, "{e}"),
            Self::InputLength { disk, model } => write!(
                f,
                "the disk's inputs are {disk} bytes each; the model takes {model}"
            ),
            Self::Classify(e) => write!(f, "classifying: {e}"),
            Self::Token(e) => write!(f, "attestation token: {e}"),
        }
    }
}

impl<D: fmt::Display + fmt::Debug, R: fmt::Display + fmt::Debug> core::error::Error
    for PipelineError<D, R>
{
}

/// Bytes of the event log buffer (one model event and room for the caller's).
pub const LOG_SIZE: usize = 512;
/// Bytes of the token buffer (TF-RMM's upper bound).
pub const TOKEN_SIZE: usize = 4096;

/// Runs the pipeline (crate documentation). `release` gets the key the broker releases for
/// this realm; `log` is the realm's event log, which may hold earlier events.
///
/// # Errors
///
/// The first [`PipelineError`]; the lines reported until then stay reported.
#[allow(
    clippy::too_many_arguments,
    reason = "each is a distinct device or input of the pipeline"
)]
pub fn run<C, D, R>(
    realm: &mut Realm<C>,
    release: impl FnOnce(&mut Realm<C>) -> Result<SealingKey, R>,
    disk: &mut D,
    console: &mut impl Console,
    clock: &mut impl Clock,
    config: &Config,
    log: &mut LogWriter<'_>,
) -> Result<Summary, PipelineError<D::Error, R>>
where
    C: Conduit,
    D: Disk,
{
    let mut summary = Summary {
        batches: 0,
        inferences: 0,
        ticks: 0,
        read_bytes: 0,
        read_ticks: 0,
    };
    // Every read is timed, for the device's throughput.
    let read = |disk: &mut D,
                clock: &mut dyn Clock,
                offset: u64,
                buf: &mut [u8],
                summary: &mut Summary| {
        let start = clock.now();
        disk.read_at(offset, buf).map_err(PipelineError::Disk)?;
        summary.read_ticks += clock.now().wrapping_sub(start);
        summary.read_bytes += buf.len() as u64;
        Ok::<(), PipelineError<D::Error, R>>(())
    };
    let capacity = disk.capacity();
    let mut sector = [0u8; SECTOR_SIZE];
    read(disk, clock, 0, &mut sector, &mut summary)?;
    let header = Header::parse(&sector, capacity).map_err(PipelineError::Header)?;
    if header.model_len > config.max_model {
        return Err(PipelineError::ModelTooLarge {
            len: header.model_len,
            max: config.max_model,
        });
    }
    let mut sealed = vec![0u8; header.model_len];
    read(disk, clock, header.model_offset, &mut sealed, &mut summary)?;

    let key = release(realm).map_err(PipelineError::Release)?;
    let (_, plaintext) = container::open(key.expose_secret(), &config.model_id, &mut sealed)
        .map_err(PipelineError::Container)?;
    drop(key);

    // Measured before anything else reads it.
    let hash = binding::model_hash(realm.hash_algorithm(), plaintext);
    realm
        .measure(
            log,
            RemIndex::REM0,
            hash.as_bytes(),
            MODEL_EVENT_DESCRIPTION,
        )
        .map_err(PipelineError::Measure)?;
    console.line(format_args!("{PREFIX}model {}", Hex(hash.as_bytes())));
    console.line(format_args!("{PREFIX}event-log {}", Hex(log.as_bytes())));

    let model = Model::parse(plaintext).map_err(PipelineError::Model)?;
    if header.input_len != model.input_len() {
        return Err(PipelineError::InputLength {
            disk: header.input_len,
            model: model.input_len(),
        });
    }
    let output_len = model.output_len();
    let mut inputs = vec![0u8; header.batch_size * header.input_len];
    let mut outputs = vec![0u8; header.batch_size * output_len];
    let mut token = vec![0u8; TOKEN_SIZE];
    let mut logits = [0i32; MAX_CLASSES];
    let logits = &mut logits[..model.classes()];
    let mut index = 0;
    while let Some((offset, len)) = header.batch(index) {
        let inputs = &mut inputs[..len];
        read(disk, clock, offset, inputs, &mut summary)?;
        let count = len / header.input_len;
        let outputs = &mut outputs[..count * output_len];
        let start = clock.now();
        for (input, output) in inputs
            .chunks_exact(header.input_len)
            .zip(outputs.chunks_exact_mut(output_len))
        {
            let class = model
                .classify(input, logits)
                .map_err(PipelineError::Classify)?;
            encode_output(class, logits, output).map_err(PipelineError::Classify)?;
        }
        summary.ticks += clock.now().wrapping_sub(start);
        let (inputs_hash, outputs_hash) =
            (binding::batch_hash(inputs), binding::batch_hash(outputs));
        let challenge = Challenge::for_inference(&header.nonce, &inputs_hash, &outputs_hash);
        let token = realm
            .attestation_token(&challenge, &mut token)
            .map_err(PipelineError::Token)?;
        console.line(format_args!(
            "{PREFIX}batch {index} outputs {}",
            Hex(outputs)
        ));
        console.line(format_args!(
            "{PREFIX}batch {index} hashes {}{}",
            Hex(&inputs_hash),
            Hex(&outputs_hash)
        ));
        console.line(format_args!("{PREFIX}batch {index} token {}", Hex(token)));
        summary.batches += 1;
        summary.inferences += count;
        index += 1;
    }
    console.line(format_args!(
        "{PREFIX}done {} batches, {} inferences in {} ticks, {} bytes read in {} ticks at {} Hz",
        summary.batches,
        summary.inferences,
        summary.ticks,
        summary.read_bytes,
        summary.read_ticks,
        clock.hz()
    ));
    Ok(summary)
}
