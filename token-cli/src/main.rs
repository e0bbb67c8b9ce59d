//! `cca-token`: inspect or verify an Arm CCA attestation token.
//!
//! ```text
//! cca-token inspect TOKEN
//! cca-token verify TOKEN --anchors TA.json [--policy POLICY.json]
//!                        [--nonce HEX | --challenge HEX] [--rim HEX] [--rpv HEX]
//!                        [--event-log LOG]
//! ```
//!
//! `--nonce` is the verifier's data given to a realm-sdk realm, which attests it with
//! `Challenge::for_verifier` (the domain-separated `cca_abi::challenge::verifier`);
//! `--challenge` is the token's raw 64-byte challenge.
//!
//! `inspect` prints the token as JSON (byte strings as lower-case hex, unknown claims as
//! the hex of their CBOR); a closed output (`cca-token inspect T | head -1`) ends it
//! quietly with exit 0. `verify` checks the signatures, the binding and the trust anchor,
//! then **appraises** the token: with `--policy`, against the JSON appraisal policy in that
//! file (the format of `cca_token::appraisal::PolicyFile`); without it, against the
//! default appraisal (`Appraisal::DEFAULT`: a secured platform lifecycle, any known
//! profile and hash algorithm), so that a token from a debug or decommissioned platform
//! does not print `verified`. To accept such a platform, say so in a policy file
//! (`{"lifecycle": ["secured", "non-cca-platform-debug"]}`). `verify` prints `verified` and
//! exits 0, or prints the precise reason and exits 1; a usage or input error, including a
//! policy file that is refused (named with the JSON path at fault), exits 2. With
//! `--event-log`, the realm's measured-boot event log (`cca_abi::eventlog`, as realm-sdk's
//! `Realm::measure` writes it) must replay to the REMs in the token.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use cca_abi::eventlog;
use cca_abi::measurement::HashAlgorithm;
use cca_token::appraisal::{Appraisal, PolicyFile};
use cca_token::claims::RawClaim;
use cca_token::{Format, Policy, Token};
use serde_json::{Map, Value, json};

const USAGE: &str = "usage: cca-token inspect TOKEN
       cca-token verify TOKEN --anchors TA.json [--policy POLICY.json]
                        [--nonce HEX | --challenge HEX] [--rim HEX] [--rpv HEX]
                        [--event-log LOG]";

fn hex(b: &[u8]) -> Value {
    Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn unhex(flag: &str, s: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("{flag}: `{s}` is not hex");
    // Only hex digits: `from_str_radix` alone would also take a sign ("+f").
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

fn unknown<'a>(claims: impl Iterator<Item = RawClaim<'a>>) -> Value {
    Value::Object(
        claims
            .map(|c| (c.label.to_string(), hex(c.value)))
            .collect::<Map<_, _>>(),
    )
}

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
                "lifecycle-state": format!("{:?}", p.lifecycle_state()),
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

enum Failure {
    Usage(String),
    Verify(String),
    /// Standard output was closed early (`| head`): stop quietly.
    Closed,
}

/// Writes `text` and a newline to standard output.
fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            ErrorKind::BrokenPipe => Failure::Closed,
            _ => Failure::Usage(format!("standard output: {e}")),
        })
}

fn run(args: &[String]) -> Result<(), Failure> {
    let usage = |m: &str| Failure::Usage(m.to_owned());
    let (cmd, path) = match args {
        [cmd, path, ..] => (cmd.as_str(), path),
        _ => return Err(usage(USAGE)),
    };
    let bytes = std::fs::read(path).map_err(|e| Failure::Usage(format!("{path}: {e}")))?;
    let token =
        Token::parse(&bytes).map_err(|e| Failure::Verify(format!("malformed token: {e}")))?;
    match cmd {
        "inspect" if args.len() == 2 => print(&format!("{:#}", inspect(&token))),
        "verify" => {
            let (mut anchors, mut challenge, mut rim, mut rpv) = (None, None, None, None);
            let (mut event_log, mut policy_file) = (None, None);
            let mut it = args[2..].iter();
            while let Some(flag) = it.next() {
                let value = it
                    .next()
                    .ok_or_else(|| usage(&format!("{flag} needs a value")))?;
                match flag.as_str() {
                    "--anchors" => anchors = Some(value),
                    "--policy" => policy_file = Some(value),
                    "--challenge" | "--nonce" if challenge.is_some() => {
                        return Err(usage("give --nonce or --challenge, once"));
                    }
                    "--challenge" => challenge = Some(unhex(flag, value).map_err(Failure::Usage)?),
                    "--nonce" => {
                        let nonce = unhex(flag, value).map_err(Failure::Usage)?;
                        challenge = Some(cca_abi::challenge::verifier(&nonce).to_vec());
                    }
                    "--rim" => rim = Some(unhex(flag, value).map_err(Failure::Usage)?),
                    "--rpv" => rpv = Some(unhex(flag, value).map_err(Failure::Usage)?),
                    "--event-log" => {
                        event_log = Some(
                            std::fs::read(value)
                                .map_err(|e| Failure::Usage(format!("{value}: {e}")))?,
                        );
                    }
                    other => return Err(usage(&format!("unknown option {other}\n{USAGE}"))),
                }
            }
            let anchors = anchors.ok_or_else(|| usage("verify needs --anchors TA.json"))?;
            let json = std::fs::read_to_string(anchors)
                .map_err(|e| Failure::Usage(format!("{anchors}: {e}")))?;
            let anchors =
                cca_token::anchors::from_json(&json).map_err(|e| Failure::Usage(e.to_string()))?;
            let policy_file = policy_file
                .map(|path| {
                    let json = std::fs::read_to_string(path)
                        .map_err(|e| Failure::Usage(format!("{path}: {e}")))?;
                    PolicyFile::from_json(&json)
                        .map_err(|e| Failure::Usage(format!("policy file {path}: {e}")))
                })
                .transpose()?;
            let appraisal = policy_file
                .as_ref()
                .map_or(Appraisal::DEFAULT, PolicyFile::appraisal);
            let policy = Policy {
                challenge: challenge.as_deref(),
                rim: rim.as_deref(),
                personalization_value: rpv.as_deref(),
            };
            let verified = token
                .verify(anchors.as_slice(), &policy)
                .map_err(|e| Failure::Verify(e.to_string()))?;
            appraisal
                .appraise(&verified)
                .map_err(|e| Failure::Verify(format!("appraisal: {e}")))?;
            if let Some(log) = event_log {
                let algorithm = match verified.realm.hash_algorithm {
                    "sha-256" => HashAlgorithm::Sha256,
                    "sha-512" => HashAlgorithm::Sha512,
                    other => return Err(Failure::Verify(format!("realm hash algorithm {other}"))),
                };
                eventlog::check(&log, algorithm, verified.realm.rems())
                    .map_err(|e| Failure::Verify(e.to_string()))?;
            }
            print("verified")
        }
        _ => Err(usage(USAGE)),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (code, message) = match run(&args) {
        Ok(()) | Err(Failure::Closed) => return ExitCode::SUCCESS,
        Err(Failure::Verify(m)) => (1, m),
        Err(Failure::Usage(m)) => (2, m),
    };
    // Nothing more can be reported if standard error is closed too.
    let _ = writeln!(std::io::stderr().lock(), "cca-token: {message}");
    ExitCode::from(code)
}
