//! `cca-token`: inspect or verify an Arm CCA attestation token.
//!
//! ```text
//! cca-token inspect TOKEN
//! cca-token verify TOKEN --anchors TA.json [--policy POLICY.json]
//!                        [--nonce HEX | --challenge HEX] [--rim HEX] [--rpv HEX]
//!                        [--event-log LOG] [--json]
//! cca-token verify-inference TOKEN --anchors TA.json [--policy POLICY.json]
//!                        --event-log LOG --inputs FILE --outputs FILE --nonce HEX
//!                        --rim HEX (--model-hash HEX | --model FILE) [--rpv HEX]
//!                        [--reported-hashes HEX]
//! ```
//!
//! Options may come in any order; `-` as a file reads standard input (for one of the files).
//! `--nonce` is the verifier's data given to a realm-sdk realm, which attests it with
//! `Challenge::for_verifier` (the domain-separated `cca_abi::challenge::verifier`);
//! `--challenge` is the token's raw 64-byte challenge.
//!
//! `inspect` prints the token as JSON (byte strings as lower-case hex, unknown claims as
//! the hex of their CBOR). `verify` checks the signatures, the binding and the trust anchor,
//! then **appraises** the token: with `--policy`, against the JSON appraisal policy in that
//! file (the format of `cca_token::appraisal::PolicyFile`); without it, against the
//! default appraisal (`Appraisal::DEFAULT`: a secured platform lifecycle, any known
//! profile and hash algorithm), so that a token from a debug or decommissioned platform
//! does not print `verified`. To accept such a platform, say so in a policy file
//! (`{"lifecycle": ["secured", "non-cca-platform-debug"]}`). With `--event-log`, the realm's
//! measured-boot event log (`cca_abi::eventlog`, as realm-sdk's `Realm::measure` writes it)
//! must replay to the REMs in the token. `verify` prints `verified`, or with `--json` a
//! JSON document: `verified` (true or false), `error` (the reason, or null), `appraisal`
//! (`default` or the policy file) and `token` (what `inspect` prints, or null for a
//! malformed token).
//!
//! `verify-inference` checks one batch of attested inference (`realm_inference::verify`):
//! the token as `verify` does (signatures, binding, trust anchor, appraisal), the RIM of the
//! approved image, the event log against the REMs, the model the log measures against
//! `--model-hash` (or the hash of `--model`, the plaintext model file, whose outputs are
//! then recomputed too), and that the challenge binds `--nonce` (the verifier's, 32 bytes),
//! these inputs and these outputs. `--reported-hashes` (the realm's `batch N hashes` line)
//! makes a challenge mismatch say which of the three differs. It prints `verified: N
//! inputs` or fails with the reason.
//!
//! Exit codes: 0 the token was inspected or verified (and `--help`, `--version`); 1 the
//! token is malformed or does not verify (the reason on stderr); 2 a usage error (clap's
//! message), or an input that could not be used, named with the reason (a missing file,
//! trust anchors or a policy file that are refused): the check was not made. A closed
//! output (`cca-token inspect T | head -1`) ends the command quietly with exit 0.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cca_abi::eventlog;
use cca_abi::measurement::HashAlgorithm;
use cca_token::appraisal::{Appraisal, PolicyFile};
use cca_token::claims::RawClaim;
use cca_token::{Format, Policy, Token};
use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::{Map, Value, json};

/// The exit codes, at the end of `--help`.
const EXIT_CODES: &str = "\
Exit codes: 0 inspected or verified; 1 the token is malformed or does not verify;
2 a usage error or an input that could not be used (the check was not made).";

/// Inspect or verify an Arm CCA attestation token (tag 399 or CMW collection tag 907).
#[derive(Debug, Parser)]
#[command(name = "cca-token", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the token's claims as JSON (byte strings as lower-case hex).
    Inspect {
        /// The token (CBOR); `-` reads standard input.
        #[arg(value_name = "TOKEN")]
        token: PathBuf,
    },
    /// Check the signatures, the binding and the trust anchor, then appraise the token.
    Verify(VerifyArgs),
    /// Check one batch of attested inference: the token, the RIM, the event log and the
    /// model it measures, and that the challenge binds the nonce, the inputs and outputs.
    VerifyInference(InferenceArgs),
}

#[derive(Debug, Args)]
struct InferenceArgs {
    /// The batch's token (CBOR); `-` reads standard input.
    #[arg(value_name = "TOKEN")]
    token: PathBuf,
    /// Trust anchors, in the format of veraison's ta.json.
    #[arg(long, value_name = "TA.json")]
    anchors: PathBuf,
    /// JSON appraisal policy [default: secured platforms only].
    #[arg(long, value_name = "POLICY.json")]
    policy: Option<PathBuf>,
    /// The realm's event log (cca_abi::eventlog).
    #[arg(long, value_name = "LOG")]
    event_log: PathBuf,
    /// The batch's inputs, as put on the disk.
    #[arg(long, value_name = "FILE")]
    inputs: PathBuf,
    /// The batch's output records, as received.
    #[arg(long, value_name = "FILE")]
    outputs: PathBuf,
    /// The verifier's nonce (32 bytes) on the disk.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    nonce: Hex,
    /// The approved image's RIM (what rim-predict gives for it).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    rim: Hex,
    /// The expected realm personalization value.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    rpv: Option<Hex>,
    /// The expected model's hash (with the realm's algorithm).
    #[arg(long, value_name = "HEX", value_parser = hex_arg, required_unless_present = "model", conflicts_with = "model")]
    model_hash: Option<Hex>,
    /// The plaintext model file (QMLP): its hash is expected, and the outputs are recomputed.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The hashes the realm reported for the batch (128 bytes: its `batch N hashes` line).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    reported_hashes: Option<Hex>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The token (CBOR); `-` reads standard input.
    #[arg(value_name = "TOKEN")]
    token: PathBuf,
    /// Trust anchors, in the format of veraison's ta.json.
    #[arg(long, value_name = "TA.json")]
    anchors: PathBuf,
    /// JSON appraisal policy (cca_token::appraisal::PolicyFile) [default: secured platforms
    /// only].
    #[arg(long, value_name = "POLICY.json")]
    policy: Option<PathBuf>,
    /// The verifier's data the realm attested (challenge = cca_abi::challenge::verifier).
    #[arg(long, value_name = "HEX", value_parser = hex_arg, conflicts_with = "challenge")]
    nonce: Option<Hex>,
    /// The expected raw 64-byte realm challenge.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    challenge: Option<Hex>,
    /// The expected RIM.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    rim: Option<Hex>,
    /// The expected realm personalization value.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    rpv: Option<Hex>,
    /// A measured-boot event log that must replay to the token's REMs.
    #[arg(long, value_name = "LOG")]
    event_log: Option<PathBuf>,
    /// Print a JSON document (the outcome and the token as `inspect` prints it).
    #[arg(long)]
    json: bool,
}

/// Bytes given in hex on the command line.
#[derive(Clone, Debug)]
struct Hex(Vec<u8>);

/// Parses `--nonce` and the like: an even number of hex digits.
fn hex_arg(s: &str) -> Result<Hex, String> {
    let bad = || "not an even number of hex digits".to_owned();
    // Only hex digits: `from_str_radix` alone would also take a sign ("+f").
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<_, _>>()
        .map(Hex)
}

fn hex(b: &[u8]) -> Value {
    Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn unknown<'a>(claims: impl Iterator<Item = RawClaim<'a>>) -> Value {
    Value::Object(
        claims
            .map(|c| (c.label.to_string(), hex(c.value)))
            .collect::<Map<_, _>>(),
    )
}

/// The token as JSON: what `inspect` prints and `verify --json` embeds.
fn inspect(t: &Token<'_>) -> Value {
    let r = &t.realm_claims;
    let p = &t.platform_claims;
    let sw: Vec<Value> = p
        .sw_components()
        .map(|c| {
            json!({
                "measurement-type": c.measurement_type,
                "measurement-value": hex(c.measurement_value),
                "version": c.version,
                "signer-id": hex(c.signer_id),
                "measurement-description": c.description,
            })
        })
        .collect();
    json!({
        "format": match t.format { Format::Tag399 => "tag 399", Format::Cmw => "CMW collection (tag 907)" },
        "platform": {
            "algorithm": t.platform.algorithm.name(),
            "signature": hex(t.platform.signature),
            "claims": {
                "profile": p.profile.as_str(),
                "challenge": hex(p.challenge),
                "implementation-id": hex(p.implementation_id),
                "instance-id": hex(p.instance_id),
                "config": hex(p.config),
                "lifecycle": p.lifecycle,
                // As appraisal policy files spell it.
                "lifecycle-state": p.lifecycle_state().name(),
                "software-components": sw,
                "verification-service": p.verification_service,
                "hash-algorithm": p.hash_algorithm,
                "unknown": unknown(p.unknown()),
            },
        },
        "realm": {
            "algorithm": t.realm.algorithm.name(),
            "signature": hex(t.realm.signature),
            "claims": {
                "profile": r.profile.as_str(),
                "challenge": hex(r.challenge),
                "personalization-value": hex(r.personalization_value),
                "hash-algorithm": r.hash_algorithm,
                "public-key": hex(r.public_key),
                "public-key-hash-algorithm": r.public_key_hash_algorithm,
                "rim": hex(r.rim),
                "rems": r.rems().map(hex),
                "mec-policy": r.mec_policy.map(cca_token::realm::MecPolicy::as_str),
                "instance-id": r.instance_id.map(hex),
                "unknown": unknown(r.unknown()),
            },
        },
    })
}

/// Why the command did not succeed.
#[derive(Debug)]
enum Failure {
    /// An input could not be read or used, so nothing was checked (exit 2).
    Input {
        /// The file, or `standard input` / `standard output`.
        file: String,
        /// Why, as a sentence.
        reason: String,
    },
    /// The token is malformed or does not verify (exit 1).
    Refused(String),
    /// Standard output was closed early (`| head`): stop quietly (exit 0).
    Closed,
}

impl Failure {
    /// The exit code of the README's table.
    fn exit_code(&self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::Refused(_) => 1,
            Self::Input { .. } => 2,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input { file, reason } => write!(f, "{file}: {reason}"),
            Self::Refused(reason) => f.write_str(reason),
            Self::Closed => f.write_str("standard output was closed"),
        }
    }
}

/// How a file argument is named in messages: `-` is standard input.
fn name(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads `path`, or standard input for `-`.
fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    let input = |e: std::io::Error| Failure::Input {
        file: name(path),
        reason: e.to_string(),
    };
    if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(input)?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(input)
    }
}

/// Reads `path` (or standard input) as UTF-8 text.
fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read(path)?).map_err(|_| Failure::Input {
        file: name(path),
        reason: "not UTF-8 text".to_owned(),
    })
}

/// Writes `text` and a newline to `out`.
fn line_to(out: &mut impl Write, text: &str) -> Result<(), Failure> {
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            ErrorKind::BrokenPipe => Failure::Closed,
            _ => Failure::Input {
                file: "standard output".to_owned(),
                reason: e.to_string(),
            },
        })
}

/// Writes `text` and a newline to standard output.
fn print(text: &str) -> Result<(), Failure> {
    line_to(&mut std::io::stdout().lock(), text)
}

/// What `verify` read before checking anything.
struct Inputs {
    token: Vec<u8>,
    anchors: Vec<cca_token::TrustAnchor>,
    policy: Option<PolicyFile>,
    event_log: Option<Vec<u8>>,
}

/// The trust anchors in the JSON file at `path`.
fn read_anchors(path: &Path) -> Result<Vec<cca_token::TrustAnchor>, Failure> {
    cca_token::anchors::from_json(&read_text(path)?).map_err(|e| Failure::Input {
        file: name(path),
        reason: e.to_string(),
    })
}

/// The appraisal policy in the JSON file at `path`.
fn read_policy(path: &Path) -> Result<PolicyFile, Failure> {
    PolicyFile::from_json(&read_text(path)?).map_err(|e| Failure::Input {
        file: name(path),
        reason: e.to_string(),
    })
}

fn read_inputs(a: &VerifyArgs) -> Result<Inputs, Failure> {
    let token = read(&a.token)?;
    let anchors = read_anchors(&a.anchors)?;
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let event_log = a.event_log.as_deref().map(read).transpose()?;
    Ok(Inputs {
        token,
        anchors,
        policy,
        event_log,
    })
}

/// The checks of `verify` on a parsed token, the first refusal as a sentence.
fn check(token: &Token<'_>, a: &VerifyArgs, inputs: &Inputs) -> Result<(), String> {
    let appraisal = inputs
        .policy
        .as_ref()
        .map_or(Appraisal::DEFAULT, PolicyFile::appraisal);
    let challenge = match (&a.nonce, &a.challenge) {
        (Some(nonce), _) => Some(cca_abi::challenge::verifier(&nonce.0).to_vec()),
        (None, challenge) => challenge.as_ref().map(|c| c.0.clone()),
    };
    let policy = Policy {
        challenge: challenge.as_deref(),
        rim: a.rim.as_ref().map(|h| h.0.as_slice()),
        personalization_value: a.rpv.as_ref().map(|h| h.0.as_slice()),
    };
    let verified = token
        .verify(inputs.anchors.as_slice(), &policy)
        .map_err(|e| e.to_string())?;
    appraisal
        .appraise(&verified)
        .map_err(|e| format!("appraisal: {e}"))?;
    if let Some(log) = &inputs.event_log {
        let algorithm = match verified.realm.hash_algorithm {
            "sha-256" => HashAlgorithm::Sha256,
            "sha-512" => HashAlgorithm::Sha512,
            other => return Err(format!("event log: realm hash algorithm {other}")),
        };
        eventlog::check(log, algorithm, verified.realm.rems()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn verify(a: &VerifyArgs) -> Result<(), Failure> {
    let inputs = read_inputs(a)?;
    let (outcome, token) = match Token::parse(&inputs.token) {
        Ok(token) => (check(&token, a, &inputs), Some(inspect(&token))),
        Err(e) => (Err(format!("malformed token: {e}")), None),
    };
    let printed = if a.json {
        let document = json!({
            "verified": outcome.is_ok(),
            "error": outcome.as_ref().err(),
            "appraisal": a.policy.as_deref().map_or_else(|| "default".to_owned(), name),
            "token": token,
        });
        print(&format!("{document:#}"))
    } else if outcome.is_ok() {
        print("verified")
    } else {
        Ok(())
    };
    // A refusal stays a refusal even if nobody read the document.
    outcome.map_err(Failure::Refused).and(printed)
}

/// The bytes of a hex option of fixed length; another length is an input error naming it.
fn fixed<const N: usize>(option: &str, h: &Hex) -> Result<[u8; N], Failure> {
    h.0.as_slice().try_into().map_err(|_| Failure::Input {
        file: option.to_owned(),
        reason: format!("{} bytes; {N} are expected", h.0.len()),
    })
}

fn verify_inference(a: &InferenceArgs) -> Result<(), Failure> {
    use realm_inference::model::Model;
    use realm_inference::verify::{Evidence, Expected, verify_batch};

    let token = read(&a.token)?;
    let anchors = read_anchors(&a.anchors)?;
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let (log, inputs, outputs) = (read(&a.event_log)?, read(&a.inputs)?, read(&a.outputs)?);
    let nonce: [u8; 32] = fixed("--nonce", &a.nonce)?;
    let reported: Option<[u8; 128]> = a
        .reported_hashes
        .as_ref()
        .map(|h| fixed("--reported-hashes", h))
        .transpose()?;
    let model_bytes = a.model.as_deref().map(read).transpose()?;
    let model = match (&model_bytes, &a.model) {
        (Some(bytes), Some(path)) => Some(Model::parse(bytes).map_err(|e| Failure::Input {
            file: name(path),
            reason: e.to_string(),
        })?),
        _ => None,
    };
    // The expected hash: given, or the model's with the token's algorithm (known only once
    // the token parses; a malformed token is refused by the check itself).
    let algorithm = Token::parse(&token)
        .ok()
        .map(|t| t.realm_claims.hash_algorithm);
    let model_hash = match (&a.model_hash, &model_bytes) {
        (Some(h), _) => h.0.clone(),
        (None, Some(bytes)) => match algorithm {
            Some("sha-512") => HashAlgorithm::Sha512.hash(&[bytes]).as_bytes().to_vec(),
            _ => HashAlgorithm::Sha256.hash(&[bytes]).as_bytes().to_vec(),
        },
        (None, None) => Vec::new(),
    };
    let expected = Expected {
        anchors: &anchors,
        appraisal: policy
            .as_ref()
            .map_or(Appraisal::DEFAULT, PolicyFile::appraisal),
        rim: &a.rim.0,
        rpv: a.rpv.as_ref().map(|h| h.0.as_slice()),
        model_hash: &model_hash,
        nonce: &nonce,
        model: model.as_ref(),
    };
    let evidence = Evidence {
        token: &token,
        event_log: &log,
        inputs: &inputs,
        outputs: &outputs,
        reported_hashes: reported.as_ref(),
    };
    let verified =
        verify_batch(&evidence, &expected).map_err(|e| Failure::Refused(e.to_string()))?;
    if model.is_some() {
        print(&format!(
            "verified: {} inputs, each output recomputed",
            verified.inputs
        ))
    } else {
        print("verified")
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Inspect { token } => {
            let bytes = read(token)?;
            let token = Token::parse(&bytes)
                .map_err(|e| Failure::Refused(format!("malformed token: {e}")))?;
            print(&format!("{:#}", inspect(&token)))
        }
        Command::Verify(args) => verify(args),
        Command::VerifyInference(args) => verify_inference(args),
    }
}

/// Refuses a command line that gives `-` (standard input) for more than one file.
fn check_stdin(cli: &Cli) -> Result<(), clap::Error> {
    let (files, subcommand) = match &cli.command {
        Command::Inspect { .. } => return Ok(()),
        Command::Verify(a) => (
            vec![
                Some(&a.token),
                Some(&a.anchors),
                a.policy.as_ref(),
                a.event_log.as_ref(),
            ],
            "verify",
        ),
        Command::VerifyInference(a) => (
            vec![
                Some(&a.token),
                Some(&a.anchors),
                a.policy.as_ref(),
                Some(&a.event_log),
                Some(&a.inputs),
                Some(&a.outputs),
                a.model.as_ref(),
            ],
            "verify-inference",
        ),
    };
    if files.iter().flatten().filter(|p| is_stdin(p)).count() > 1 {
        let mut command = Cli::command();
        // The message shows the usage of `cca-token verify`.
        command.build();
        let kind = clap::error::ErrorKind::ArgumentConflict;
        let message = "only one file can be `-` (standard input)";
        return Err(match command.find_subcommand_mut(subcommand) {
            Some(verify) => verify.error(kind, message),
            None => command.error(kind, message),
        });
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse().and_then(|cli| check_stdin(&cli).map(|()| cli)) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout (exit 0), errors to stderr (exit 2); a closed
            // stream is ignored.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(&cli) {
        Ok(()) | Err(Failure::Closed) => ExitCode::SUCCESS,
        Err(failure) => {
            // Nothing more can be reported if standard error is closed too.
            let _ = writeln!(std::io::stderr().lock(), "cca-token: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader is gone, or that fails otherwise.
    struct Failing(ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(self.0.into())
        }
    }

    #[test]
    fn a_closed_output_ends_quietly() {
        assert!(matches!(
            line_to(&mut Failing(ErrorKind::BrokenPipe), "x"),
            Err(Failure::Closed)
        ));
        let other = line_to(&mut Failing(ErrorKind::StorageFull), "x").unwrap_err();
        assert_eq!(other.exit_code(), 2);
        assert!(
            other.to_string().starts_with("standard output: "),
            "{other}"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hex_arguments() {
        assert_eq!(hex_arg("00fF").unwrap().0, [0, 0xff]);
        for bad in ["0", "+f", "zz", "0x00"] {
            assert!(hex_arg(bad).is_err(), "{bad}");
        }
    }
}
