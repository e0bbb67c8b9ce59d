//! The broker's configuration file ([`BrokerConfig::from_json`], [`BrokerConfig::from_file`]).
//!
//! ```json
//! { "master_secret": "<64 hex digits, not all zero>",
//!   "trust_anchors": [ ...veraison ta.json entries... ],
//!   "allowed": [ { "rim": "<64 or 128 hex digits>", "rpv": "<128 hex digits, optional>" } ],
//!   "policies": ["rim+rpv", "rim+rpv+rems"],
//!   "appraisal": { ...optional: a cca_token::appraisal policy (`cca-token verify --policy`)... } }
//! ```
//!
//! Parsing is strict: an unknown field, a missing one, a key given twice (anywhere in the
//! file, the trust anchors and `appraisal` included), a hex string with anything but
//! `[0-9a-fA-F]` or of the wrong length, an empty `allowed` or `policies`, and a policy
//! listed twice are all errors, and each [`ConfigError`] names the JSON path at fault
//! (`allowed[2].rim: 31 bytes; a RIM is 32 (SHA-256) or 64 (SHA-512) bytes`).
//! `key-broker/broker.example.json` is an example.
//!
//! # What is zeroized
//!
//! The master secret is secret; everything else in the file is public. [`BrokerConfig::from_file`]
//! reads the file into one buffer of its size, zeroized when dropped. Parsing copies the
//! secret's hex text once, into a zeroized string (serde_json copies into a scratch buffer
//! of its own only a string with `\` escapes, which hex digits do not need), and decodes it
//! straight into the zeroized array [`BrokerConfig::master_secret`]: no other copy is made.
//! The caller of [`BrokerConfig::from_json`] owns the text it passes and should zeroize it.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cca_token::TrustAnchor;
use cca_token::anchors::AnchorError;
use cca_token::appraisal::{PolicyFile, PolicyFileError};
use cca_token::json::StrictValue;
use realm_sdk::seal::Policy;
use serde::Deserialize;
use zeroize::Zeroizing;

/// A realm the broker serves.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AllowedRealm {
    /// Its RIM (32 or 64 bytes from a configuration file).
    pub rim: Vec<u8>,
    /// Its RPV (64 bytes from a configuration file), if the broker pins it.
    pub rpv: Option<Vec<u8>>,
}

/// What the broker trusts and releases.
pub struct BrokerConfig {
    /// Trust anchors of the platforms.
    pub anchors: Vec<TrustAnchor>,
    /// The master secret.
    pub master_secret: Zeroizing<[u8; 32]>,
    /// The realms that get keys.
    pub allowed: Vec<AllowedRealm>,
    /// The identity policies the broker derives keys for.
    pub policies: Vec<Policy>,
    /// How the broker appraises a verified token beyond its signatures
    /// ([`cca_token::appraisal`]); `None` applies `Appraisal::DEFAULT` (secured platform
    /// lifecycle only, every known profile and hash algorithm).
    pub appraisal: Option<PolicyFile>,
}

impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("anchors", &self.anchors.len())
            .field("master_secret", &"<redacted>")
            .field("allowed", &self.allowed)
            .field("policies", &self.policies)
            .field("appraisal", &self.appraisal)
            .finish()
    }
}

/// Why a configuration could not be loaded. `Display` names the JSON path at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The text is not JSON of the configuration's shape: a syntax error, an unknown or
    /// missing field, a value of the wrong type, a key given twice.
    Json {
        /// Where (`.` for the whole document).
        path: String,
        /// serde_json's message, with the line and column.
        message: String,
    },
    /// A hex string has a character other than `[0-9a-fA-F]`, or an odd number of them.
    Hex {
        /// The field.
        path: String,
    },
    /// A hex string decodes to the wrong number of bytes.
    Length {
        /// The field.
        path: String,
        /// How many bytes it has.
        bytes: usize,
        /// What it must have, as a sentence.
        expected: &'static str,
    },
    /// The master secret is all zero.
    ZeroSecret,
    /// The `appraisal` object is not a valid appraisal policy.
    Appraisal(PolicyFileError),
    /// The master secret yields no P-384 identity key ([`crate::identity`]; the derivation
    /// makes this impossible, but the curve library's constructor is fallible).
    Identity,
    /// A list that must not be empty is.
    Empty {
        /// The field.
        path: &'static str,
    },
    /// A policy that is neither `"rim+rpv"` nor `"rim+rpv+rems"`.
    UnknownPolicy {
        /// The entry.
        path: String,
    },
    /// A policy listed twice.
    DuplicatePolicy {
        /// The second entry.
        path: String,
    },
    /// The trust anchors do not load.
    Anchors(AnchorError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { file, error } => write!(f, "reading {}: {error}", file.display()),
            Self::Json { path, message } => write!(f, "{path}: {message}"),
            Self::Hex { path } => write!(
                f,
                "{path}: not hex (an even number of the digits 0-9, a-f, A-F)"
            ),
            Self::Length {
                path,
                bytes,
                expected,
            } => write!(f, "{path}: {bytes} bytes; {expected}"),
            Self::ZeroSecret => f.write_str("master_secret: all zero; use 32 random bytes"),
            Self::Identity => f.write_str("master_secret: yields no P-384 identity key"),
            Self::Appraisal(e) => write!(f, "appraisal: {e}"),
            Self::Empty { path } => write!(f, "{path}: empty; list at least one"),
            Self::UnknownPolicy { path } => write!(
                f,
                "{path}: unknown policy; the policies are \"rim+rpv\" and \"rim+rpv+rems\""
            ),
            Self::DuplicatePolicy { path } => write!(f, "{path}: policy listed twice"),
            Self::Anchors(AnchorError::Field { index, field }) => {
                // The JWK's own fields sit inside `pkey`.
                let pkey = if matches!(*field, "kty" | "crv" | "x" | "y") {
                    "pkey."
                } else {
                    ""
                };
                write!(
                    f,
                    "trust_anchors[{index}].{pkey}{field}: missing or malformed"
                )
            }
            Self::Anchors(AnchorError::Key { index }) => write!(
                f,
                "trust_anchors[{index}].pkey: not a valid P-256, P-384 or P-521 public key"
            ),
            Self::Anchors(e) => write!(f, "trust_anchors: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { error, .. } => Some(error),
            Self::Anchors(e) => Some(e),
            _ => None,
        }
    }
}

/// The file as serde reads it, before the values are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    master_secret: Zeroizing<String>,
    trust_anchors: StrictValue,
    allowed: Vec<FileRealm>,
    policies: Vec<String>,
    #[serde(default)]
    appraisal: Option<StrictValue>,
}

/// An `allowed` entry as serde reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRealm {
    rim: String,
    #[serde(default)]
    rpv: Option<String>,
}

/// The value of hex digit `c`, only for `[0-9a-fA-F]`.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `hex` into `out` (which must be half its length) without another copy.
fn unhex_into(hex: &[u8], out: &mut [u8]) -> Option<()> {
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(())
}

/// Decodes the hex string at `path` into its bytes.
fn unhex(path: impl Fn() -> String, hex: &str) -> Result<Vec<u8>, ConfigError> {
    let hex = hex.as_bytes();
    let mut out = vec![0u8; hex.len() / 2];
    if !hex.len().is_multiple_of(2) || unhex_into(hex, &mut out).is_none() {
        return Err(ConfigError::Hex { path: path() });
    }
    Ok(out)
}

/// Checks that `hex` is hex digits only (of any length).
fn check_hex(path: &str, hex: &[u8]) -> Result<(), ConfigError> {
    if hex.len().is_multiple_of(2) && hex.iter().all(u8::is_ascii_hexdigit) {
        Ok(())
    } else {
        Err(ConfigError::Hex { path: path.into() })
    }
}

impl BrokerConfig {
    /// Parses and checks a configuration (the module docs give its form and rules).
    ///
    /// # Errors
    ///
    /// The first [`ConfigError`] found.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let file: File = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::Json {
                path,
                message: e.into_inner().to_string(),
            }
        })?;
        de.end().map_err(|e| ConfigError::Json {
            path: ".".into(),
            message: e.to_string(),
        })?;

        let hex = file.master_secret.as_bytes();
        check_hex("master_secret", hex)?;
        let mut master_secret = Zeroizing::new([0u8; 32]);
        if hex.len() != 64 {
            return Err(ConfigError::Length {
                path: "master_secret".into(),
                bytes: hex.len() / 2,
                expected: "the master secret is 32 bytes (64 hex digits)",
            });
        }
        unhex_into(hex, &mut *master_secret).ok_or(ConfigError::Hex {
            path: "master_secret".into(),
        })?;
        if master_secret.iter().all(|&b| b == 0) {
            return Err(ConfigError::ZeroSecret);
        }

        let anchors = cca_token::anchors::from_json(&file.trust_anchors.0.to_string())
            .map_err(ConfigError::Anchors)?;

        if file.allowed.is_empty() {
            return Err(ConfigError::Empty { path: "allowed" });
        }
        let allowed = file
            .allowed
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let rim = unhex(|| format!("allowed[{i}].rim"), &a.rim)?;
                if rim.len() != 32 && rim.len() != 64 {
                    return Err(ConfigError::Length {
                        path: format!("allowed[{i}].rim"),
                        bytes: rim.len(),
                        expected: "a RIM is 32 (SHA-256) or 64 (SHA-512) bytes",
                    });
                }
                let rpv = match &a.rpv {
                    None => None,
                    Some(rpv) => {
                        let rpv = unhex(|| format!("allowed[{i}].rpv"), rpv)?;
                        if rpv.len() != 64 {
                            return Err(ConfigError::Length {
                                path: format!("allowed[{i}].rpv"),
                                bytes: rpv.len(),
                                expected: "an RPV is 64 bytes",
                            });
                        }
                        Some(rpv)
                    }
                };
                Ok(AllowedRealm { rim, rpv })
            })
            .collect::<Result<Vec<_>, _>>()?;

        if file.policies.is_empty() {
            return Err(ConfigError::Empty { path: "policies" });
        }
        let mut seen = HashSet::new();
        let policies = file
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let path = || format!("policies[{i}]");
                let policy = match p.as_str() {
                    "rim+rpv" => Policy::RimRpv,
                    "rim+rpv+rems" => Policy::RimRpvRems,
                    _ => return Err(ConfigError::UnknownPolicy { path: path() }),
                };
                if !seen.insert(policy.to_byte()) {
                    return Err(ConfigError::DuplicatePolicy { path: path() });
                }
                Ok(policy)
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Self {
            anchors,
            master_secret,
            allowed,
            policies,
            appraisal: file
                .appraisal
                .map(|a| PolicyFile::from_value(&a.0))
                .transpose()
                .map_err(ConfigError::Appraisal)?,
        })
    }

    /// Reads and parses the configuration file `file` ([`BrokerConfig::from_json`]); the
    /// text is read into one buffer that is zeroized when dropped.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] if the file cannot be read (or is not UTF-8), otherwise as
    /// [`BrokerConfig::from_json`].
    pub fn from_file(file: &Path) -> Result<Self, ConfigError> {
        let read = |error| ConfigError::Read {
            file: file.to_owned(),
            error,
        };
        let mut f = std::fs::File::open(file).map_err(read)?;
        let size = f.metadata().map_err(read)?.len();
        // One allocation of the file's size (and a byte to see the end), so that growing
        // the buffer leaves no unzeroized copy behind, unless the file grows meanwhile.
        let size = usize::try_from(size).map_err(|_| read(io::ErrorKind::FileTooLarge.into()))?;
        let mut json = Zeroizing::new(String::with_capacity(size.saturating_add(1)));
        f.read_to_string(&mut json).map_err(read)?;
        Self::from_json(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const ANCHORS: &str = include_str!("../broker.example.json");

    /// The example file, with `edit` applied to its JSON.
    fn example(edit: impl FnOnce(&mut Value)) -> String {
        let mut v: Value = serde_json::from_str(ANCHORS).unwrap();
        edit(&mut v);
        v.to_string()
    }

    fn error(json: &str) -> String {
        match BrokerConfig::from_json(json) {
            Ok(_) => panic!("accepted: {json}"),
            Err(e) => e.to_string(),
        }
    }

    /// The example file loads, with its one P-384 anchor, one realm and both policies.
    #[test]
    fn example_loads() {
        let c = BrokerConfig::from_json(ANCHORS).unwrap();
        assert_eq!(c.anchors.len(), 1);
        assert_eq!(c.allowed.len(), 2);
        assert_eq!(c.allowed[0].rim.len(), 32);
        assert_eq!(c.allowed[0].rpv.as_deref(), Some(&[0u8; 64][..]));
        assert_eq!(c.allowed[1].rim.len(), 64);
        assert_eq!(c.allowed[1].rpv, None);
        assert_eq!(c.policies, [Policy::RimRpv, Policy::RimRpvRems]);
        assert_ne!(*c.master_secret, [0; 32]);
        assert!(c.appraisal.is_none());
        let with = example(|v| {
            v["appraisal"] =
                serde_json::json!({"lifecycle": ["secured", "recoverable-cca-platform-debug"]});
        });
        let c = BrokerConfig::from_json(&with).unwrap();
        let appraisal = c.appraisal.as_ref().unwrap().appraisal();
        assert!(
            appraisal
                .lifecycles
                .contains(cca_token::platform::Lifecycle::Secured)
        );
        assert!(
            !appraisal
                .lifecycles
                .contains(cca_token::platform::Lifecycle::Decommissioned)
        );
    }

    /// The `appraisal` object is an appraisal policy, read as strictly as the rest: an
    /// unknown key or state is an error naming it, and so is a key given twice.
    #[test]
    fn appraisal_is_strict() {
        for (appraisal, msg) in [
            (r#"{"lifecycle": ["bogus"]}"#, "appraisal: $.lifecycle[0]"),
            (r#"{"colour": 1}"#, "appraisal: $.colour"),
            (r#"{"lifecycle": []}"#, "appraisal: $.lifecycle"),
        ] {
            let json = example(|v| v["appraisal"] = serde_json::from_str(appraisal).unwrap());
            let err = BrokerConfig::from_json(&json).unwrap_err().to_string();
            assert!(err.starts_with(msg), "{appraisal}: {err}");
        }
        let twice = example(|_| {}).replacen(
            "\"policies\"",
            "\"appraisal\": {\"lifecycle\": [\"secured\"], \"lifecycle\": [\"decommissioned\"]}, \"policies\"",
            1,
        );
        assert!(BrokerConfig::from_json(&twice).is_err(), "{twice}");
    }

    /// Hex is exact: only `[0-9a-fA-F]` (not a sign, as `from_str_radix` takes), even, and
    /// of the length the field has; each error names the path.
    #[test]
    fn hex_is_exact() {
        let s = "ab".repeat(32);
        for (bad, msg) in [
            (format!("+f{}", &s[2..]), "master_secret: not hex"),
            (format!("{}g", &s[1..]), "master_secret: not hex"),
            (format!("{s}a"), "master_secret: not hex"),
            (
                s[2..].to_owned(),
                "master_secret: 31 bytes; the master secret is 32",
            ),
            (format!("{s}ab"), "master_secret: 33 bytes"),
            ("00".repeat(32), "master_secret: all zero"),
        ] {
            let json = example(|v| v["master_secret"] = bad.clone().into());
            assert!(error(&json).starts_with(msg), "{bad}: {}", error(&json));
        }
        assert!(
            BrokerConfig::from_json(&example(|v| v["master_secret"] = s.to_uppercase().into()))
                .is_ok()
        );
        let json = example(|v| v["allowed"][1]["rim"] = "ab".repeat(31).into());
        assert_eq!(
            error(&json),
            "allowed[1].rim: 31 bytes; a RIM is 32 (SHA-256) or 64 (SHA-512) bytes"
        );
        let json = example(|v| v["allowed"][0]["rim"] = format!("-1{}", "0".repeat(62)).into());
        assert!(error(&json).starts_with("allowed[0].rim: not hex"));
        let json = example(|v| v["allowed"][0]["rpv"] = "00".repeat(32).into());
        assert_eq!(error(&json), "allowed[0].rpv: 32 bytes; an RPV is 64 bytes");
    }

    /// Unknown, missing and duplicate fields, wrong types and trailing text are refused with
    /// their path; so are duplicate keys inside the trust anchors.
    #[test]
    fn shape_is_strict() {
        let json = example(|v| v["colour"] = "blue".into());
        assert!(
            error(&json).contains("unknown field `colour`"),
            "{}",
            error(&json)
        );
        let json = example(|v| v["allowed"][0]["note"] = "x".into());
        let e = error(&json);
        assert!(
            e.starts_with("allowed[0]") && e.contains("unknown field `note`"),
            "{e}"
        );
        let json = example(|v| {
            v.as_object_mut()
                .unwrap()
                .remove("policies")
                .map(drop)
                .unwrap()
        });
        assert!(error(&json).contains("missing field `policies`"));
        let json = example(|v| v["allowed"][0]["rim"] = 7.into());
        assert!(error(&json).starts_with("allowed[0].rim: invalid type"));
        let dup = ANCHORS.replacen("\"policies\"", "\"policies\": [],\n  \"policies\"", 1);
        assert!(
            error(&dup).contains("duplicate field `policies`"),
            "{}",
            error(&dup)
        );
        let dup = ANCHORS.replacen("\"kty\"", "\"kty\": \"EC\", \"kty\"", 1);
        let e = error(&dup);
        assert!(
            e.starts_with("trust_anchors[0].pkey") && e.contains("key `kty` appears twice"),
            "{e}"
        );
        assert!(error(&format!("{ANCHORS} {{}}")).contains("trailing characters"));
    }

    /// Lists must not be empty, policies must be known and listed once, anchors must load.
    #[test]
    fn lists_and_anchors() {
        let json = example(|v| v["allowed"] = serde_json::json!([]));
        assert_eq!(error(&json), "allowed: empty; list at least one");
        let json = example(|v| v["policies"] = serde_json::json!([]));
        assert_eq!(error(&json), "policies: empty; list at least one");
        let json = example(|v| v["policies"] = serde_json::json!(["rim+rpv", "rim"]));
        assert!(error(&json).starts_with("policies[1]: unknown policy"));
        let json = example(|v| v["policies"] = serde_json::json!(["rim+rpv", "rim+rpv"]));
        assert_eq!(error(&json), "policies[1]: policy listed twice");
        let json = example(|v| v["trust_anchors"][0]["pkey"]["x"] = "AAAA".into());
        assert!(
            error(&json).starts_with("trust_anchors[0].pkey"),
            "{}",
            error(&json)
        );
        let json = example(|v| v["trust_anchors"][0]["instance-id"] = "00".into());
        assert_eq!(
            error(&json),
            "trust_anchors[0].instance-id: missing or malformed"
        );
    }

    /// `from_file` names the file it cannot read.
    #[test]
    fn unreadable_file() {
        let e = BrokerConfig::from_file(Path::new("/nonexistent/broker.json")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(
            e.to_string()
                .starts_with("reading /nonexistent/broker.json: "),
            "{e}"
        );
    }
}
