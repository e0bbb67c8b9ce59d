//! The verifier's side: does this token prove that the expected model, in the expected
//! realm image, turned these inputs into these outputs for this nonce?
//!
//! [`verify_batch`] makes the checks in this order and stops at the first that fails,
//! naming it ([`InferenceError`]):
//!
//! 1. the token parses, its realm signature verifies with its RAK, the platform token binds
//!    the RAK and its signature verifies with a trust anchor (`cca_token::Token::verify`);
//! 2. the platform passes the appraisal (`cca_token::appraisal`, default: secured only);
//! 3. the RIM is the expected one (the RIM rmi-shim's `rim-predict` gives for the image),
//!    and the RPV too if one is expected;
//! 4. the event log replays to the token's REMs (`cca_abi::eventlog::check`);
//! 5. the log holds exactly one model event ([`crate::binding`]), and it measures the
//!    expected model;
//! 6. the token's challenge is [`crate::binding::batch_challenge`] of the verifier's nonce,
//!    these inputs and these outputs. When the realm's reported hashes are given
//!    ([`crate::report`]), a mismatch says which of the three differs: the token signs the
//!    reported hashes, so they show what the realm really read and wrote;
//! 7. the outputs are whole records for the inputs, and if the verifier holds the plaintext
//!    model, each output is what the model computes for its input.

use core::fmt;

use cca_abi::challenge::{self, NONCE_SIZE};
use cca_abi::eventlog::{self, CheckError, LogError};
use cca_abi::measurement::HashAlgorithm;
use cca_token::appraisal::{Appraisal, AppraisalError};
use cca_token::{ParseError, Policy, Token, TrustAnchor, VerifyError};

use crate::binding::{MODEL_EVENT_DESCRIPTION, MODEL_REM, batch_hash};
use crate::model::{MAX_CLASSES, Model, encode_output};
use crate::report::Hex;

/// What the verifier expects.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The platforms it trusts.
    pub anchors: &'a [TrustAnchor],
    /// How it appraises the platform.
    pub appraisal: Appraisal<'a>,
    /// The RIM of the approved image.
    pub rim: &'a [u8],
    /// The RPV, if one is expected.
    pub rpv: Option<&'a [u8]>,
    /// The model's hash ([`crate::binding::model_hash`]).
    pub model_hash: &'a [u8],
    /// The nonce it put on the disk.
    pub nonce: &'a [u8; NONCE_SIZE],
    /// The plaintext model, if the verifier holds it: each output is then recomputed.
    pub model: Option<&'a Model<'a>>,
}

/// What the host brought back for one batch.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    /// The batch's attestation token.
    pub token: &'a [u8],
    /// The realm's event log.
    pub event_log: &'a [u8],
    /// The batch's inputs, as the verifier put them on the disk.
    pub inputs: &'a [u8],
    /// The batch's outputs, as received.
    pub outputs: &'a [u8],
    /// The two hashes the realm reported for the batch (SHA-512 of its inputs, then of its
    /// outputs), if the verifier has them: they only make a mismatch's reason precise.
    pub reported_hashes: Option<&'a [u8; 128]>,
}

/// Why a batch's evidence does not verify.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum InferenceError<'a> {
    /// The token does not parse.
    Token(ParseError),
    /// Its signatures, the binding of the two tokens or the trust anchor fail.
    Signature(VerifyError),
    /// The platform fails the appraisal.
    Appraisal(AppraisalError<'a>),
    /// The realm's hash algorithm is not one realm-sdk knows.
    Algorithm(&'a str),
    /// The RIM is not the approved image's.
    Rim {
        /// The token's RIM.
        found: &'a [u8],
        /// The expected RIM.
        expected: &'a [u8],
    },
    /// The RPV is not the expected one.
    Rpv,
    /// The event log does not replay to the token's REMs, or is malformed.
    EventLog(CheckError),
    /// The event log measures no model.
    NoModel,
    /// The event log measures more than one model.
    SeveralModels,
    /// The event log measures another model.
    Model {
        /// The hash the log measures.
        found: &'a [u8],
        /// The expected hash.
        expected: &'a [u8],
    },
    /// The challenge binds another nonce (a token of another request, or replayed).
    Nonce,
    /// The inputs are not the ones the realm classified.
    Inputs,
    /// The outputs are not the ones the realm wrote.
    Outputs,
    /// The challenge does not bind this nonce, these inputs and these outputs (without the
    /// reported hashes, which of them differs is unknown).
    Challenge,
    /// The outputs are not whole records, one per input.
    OutputShape {
        /// Bytes of outputs.
        outputs: usize,
        /// Number of inputs.
        inputs: usize,
    },
    /// Output `index` is not what the model computes for input `index`.
    OutputDiffers {
        /// The input's index in the batch.
        index: usize,
    },
}

impl fmt::Display for InferenceError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Token(e) => write!(f, "malformed token: {e}"),
            Self::Signature(e) => write!(f, "the token does not verify: {e}"),
            Self::Appraisal(e) => write!(f, "appraisal: {e}"),
            Self::Algorithm(a) => write!(f, "the realm's hash algorithm {a} is not supported"),
            Self::Rim { found, expected } => write!(
                f,
                "the realm's RIM is {}, not the approved image's {}",
                Hex(found),
                Hex(expected)
            ),
            Self::Rpv => f.write_str("the realm's RPV is not the expected one"),
            Self::EventLog(e) => write!(f, "the event log does not match the token: {e}"),
            Self::NoModel => write!(
                f,
                "the event log measures no model (no \"{MODEL_EVENT_DESCRIPTION}\" event in REM{})",
                MODEL_REM - 1
            ),
            Self::SeveralModels => f.write_str("the event log measures more than one model"),
            Self::Model { found, expected } => write!(
                f,
                "the realm measured model {}, not the expected model {}",
                Hex(found),
                Hex(expected)
            ),
            Self::Nonce => f.write_str(
                "the token's challenge is not bound to this verifier's nonce with the hashes the realm reported (a token for another nonce, a replay, or an altered report)",
            ),
            Self::Inputs => f.write_str(
                "the inputs are not the ones the realm classified (their SHA-512 is not the one the token binds)",
            ),
            Self::Outputs => f.write_str(
                "the outputs are not the ones the realm wrote (their SHA-512 is not the one the token binds)",
            ),
            Self::Challenge => f.write_str(
                "the token's challenge does not bind this nonce, these inputs and these outputs",
            ),
            Self::OutputShape { outputs, inputs } => write!(
                f,
                "{outputs} bytes of outputs are not one record per input for {inputs} inputs"
            ),
            Self::OutputDiffers { index } => write!(
                f,
                "output {index} of the batch is not what the model computes for input {index}"
            ),
        }
    }
}

impl core::error::Error for InferenceError<'_> {}

/// What a verified batch showed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct VerifiedBatch {
    /// The realm's hash algorithm.
    pub algorithm: HashAlgorithm,
    /// Inputs in the batch (known when the model was given, else 0).
    pub inputs: usize,
}

/// Checks one batch's evidence (module documentation).
///
/// # Errors
///
/// The first [`InferenceError`].
pub fn verify_batch<'a>(
    evidence: &Evidence<'a>,
    expected: &Expected<'a>,
) -> Result<VerifiedBatch, InferenceError<'a>> {
    let token = Token::parse(evidence.token).map_err(InferenceError::Token)?;
    let verified = token
        .verify(expected.anchors, &Policy::default())
        .map_err(InferenceError::Signature)?;
    expected
        .appraisal
        .appraise(&verified)
        .map_err(InferenceError::Appraisal)?;
    let r = verified.realm;
    let algorithm = match r.hash_algorithm {
        "sha-256" => HashAlgorithm::Sha256,
        "sha-512" => HashAlgorithm::Sha512,
        other => return Err(InferenceError::Algorithm(other)),
    };
    if r.rim != expected.rim {
        return Err(InferenceError::Rim {
            found: r.rim,
            expected: expected.rim,
        });
    }
    if expected
        .rpv
        .is_some_and(|rpv| rpv != r.personalization_value)
    {
        return Err(InferenceError::Rpv);
    }
    eventlog::check(evidence.event_log, algorithm, r.rems()).map_err(InferenceError::EventLog)?;
    let mut model = None;
    let events = eventlog::events(evidence.event_log)
        .map_err(|e| InferenceError::EventLog(CheckError::Log(e)))?;
    for event in events {
        let event = event.map_err(|e: LogError| InferenceError::EventLog(CheckError::Log(e)))?;
        if event.index == MODEL_REM && event.description == MODEL_EVENT_DESCRIPTION {
            if model.is_some() {
                return Err(InferenceError::SeveralModels);
            }
            model = Some(event.value);
        }
    }
    let found = model.ok_or(InferenceError::NoModel)?;
    if found != expected.model_hash {
        return Err(InferenceError::Model {
            found,
            expected: expected.model_hash,
        });
    }
    let (inputs_hash, outputs_hash) = (batch_hash(evidence.inputs), batch_hash(evidence.outputs));
    let challenge = challenge::inference(expected.nonce, &inputs_hash, &outputs_hash);
    if r.challenge != challenge {
        let Some(reported) = evidence.reported_hashes else {
            return Err(InferenceError::Challenge);
        };
        let (mut rin, mut rout) = ([0u8; 64], [0u8; 64]);
        rin.copy_from_slice(&reported[..64]);
        rout.copy_from_slice(&reported[64..]);
        return Err(
            if r.challenge != challenge::inference(expected.nonce, &rin, &rout) {
                // The token does not sign the reported hashes with this nonce: the nonce
                // differs, or the report was altered.
                InferenceError::Nonce
            } else if rin != inputs_hash {
                InferenceError::Inputs
            } else {
                InferenceError::Outputs
            },
        );
    }
    let mut count = 0;
    if let Some(model) = expected.model {
        let (input_len, output_len) = (model.input_len(), model.output_len());
        count = evidence.inputs.len() / input_len;
        if !evidence.inputs.len().is_multiple_of(input_len)
            || evidence.outputs.len() != count * output_len
        {
            return Err(InferenceError::OutputShape {
                outputs: evidence.outputs.len(),
                inputs: count,
            });
        }
        let mut logits = [0i32; MAX_CLASSES];
        let mut record = [0u8; 1 + 4 * MAX_CLASSES];
        let logits = &mut logits[..model.classes()];
        for (index, (input, output)) in evidence
            .inputs
            .chunks_exact(input_len)
            .zip(evidence.outputs.chunks_exact(output_len))
            .enumerate()
        {
            let class = model
                .classify(input, logits)
                .map_err(|_| InferenceError::OutputDiffers { index })?;
            let n = encode_output(class, logits, &mut record)
                .map_err(|_| InferenceError::OutputDiffers { index })?;
            if record[..n] != *output {
                return Err(InferenceError::OutputDiffers { index });
            }
        }
    }
    Ok(VerifiedBatch {
        algorithm,
        inputs: count,
    })
}
