//! The JSON form of an [`Appraisal`] (feature `std`).

use core::fmt;

use serde_json::{Map, Value};

use super::{
    Appraisal, Digest, HashAlgorithm, HashAlgorithmSet, LEGACY_REALM_PROFILE, LifecycleSet,
    MeasurementType, PlatformProfileSet, RealmProfileSet, SwComponentPolicy, SwReference,
};
use crate::json::{JsonError, child};
use crate::platform::{Lifecycle, PlatformProfile};
use crate::realm::RealmProfile;

/// An appraisal policy loaded from JSON, owning its data; [`PolicyFile::appraisal`] lends
/// it as an [`Appraisal`].
///
/// # Format
///
/// One JSON object. Every key is optional; an absent key keeps the default of
/// [`Appraisal::DEFAULT`]. Unknown keys, keys given twice, lists that are empty or repeat
/// an entry, hex that is not an even number of hex digits or has the wrong length are all
/// refused, and the error names the JSON path (`$.sw_components.reference[1].signer`).
///
/// | Key | Value | Default |
/// |---|---|---|
/// | `lifecycle` | platform lifecycle states (2395): `"unknown"`, `"assembly-and-test"`, `"rot-provisioning"`, `"secured"`, `"non-cca-platform-debug"`, `"recoverable-cca-platform-debug"`, `"decommissioned"` | `["secured"]` |
/// | `platform_profiles` | platform profiles (265): `"tag:arm.com,2023:cca_platform#1.0.0"`, `"http://arm.com/CCA-SSD/1.0.0"` | both |
/// | `platform_hash_algorithms` | platform hash algorithms (2402): `"sha-256"`, `"sha-384"`, `"sha-512"` | all three |
/// | `sw_components` | `{"require_all_known": bool, "reference": [{"type": str, "measurement": hex, "signer": hex}]}`: reference values for the software components (2399). `reference` is required and non-empty; `type` and `signer` are optional in each; `require_all_known` defaults to `true` | not appraised |
/// | `realm_profiles` | realm profiles (265): `"tag:arm.com,2023:realm#1.0.0"`, `"tag:arm.com,2024:realm#2.0.0"`, and `"legacy"` for a token without the claim | all three |
/// | `realm_hash_algorithms` | realm measurement hash algorithms (44236): `"sha-256"`, `"sha-384"`, `"sha-512"` | `["sha-256", "sha-512"]` |
/// | `realm_public_key_hash_algorithms` | RAK binding hash algorithms (44240) | all three |
/// | `rim` | accepted RIMs (44238), hex of 32 or 64 bytes | any RIM |
/// | `rpv` | the expected Realm Personalization Value (44235), hex of 64 bytes | any |
/// | `rems` | four entries, REM\[0\] to REM\[3\] (44239): `null` (any) or hex of 32 or 64 bytes | any |
///
/// Measurement values and signer IDs are hex of 32, 48 or 64 bytes; a measurement type is
/// at most 32 bytes of text.
///
/// ```
/// use cca_token::appraisal::PolicyFile;
///
/// let policy = PolicyFile::from_json(r#"{
///     "lifecycle": ["secured"],
///     "platform_profiles": ["tag:arm.com,2023:cca_platform#1.0.0"],
///     "realm_hash_algorithms": ["sha-256", "sha-512"],
///     "sw_components": {
///         "require_all_known": true,
///         "reference": [
///             {"type": "BL2", "measurement": "0101010101010101010101010101010101010101010101010101010101010101",
///              "signer": "0202020202020202020202020202020202020202020202020202020202020202"}
///         ]
///     },
///     "rim": ["3333333333333333333333333333333333333333333333333333333333333333"],
///     "rems": [null, null, null, null]
/// }"#)?;
/// let appraisal = policy.appraisal();
/// assert_eq!(appraisal.sw_components.map(|s| s.references.len()), Some(1));
///
/// let err = PolicyFile::from_json(r#"{"rim": ["33"]}"#).unwrap_err();
/// assert_eq!(err.to_string(), "$.rim[0]: 1 bytes of hex; expected 32 or 64");
/// # Ok::<(), cca_token::appraisal::PolicyFileError>(())
/// ```
///
/// A larger configuration can hold this object under a key of its own and hand it to
/// [`PolicyFile::from_value`] (which cannot see keys repeated in the original text:
/// `serde_json` has already kept only the last).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PolicyFile {
    lifecycles: LifecycleSet,
    platform_profiles: PlatformProfileSet,
    platform_hash_algorithms: HashAlgorithmSet,
    sw_references: Option<(Vec<SwReference>, bool)>,
    realm_profiles: RealmProfileSet,
    realm_hash_algorithms: HashAlgorithmSet,
    realm_public_key_hash_algorithms: HashAlgorithmSet,
    rims: Option<Vec<Digest>>,
    personalization_value: Option<[u8; 64]>,
    rems: [Option<Digest>; 4],
}

/// Why a policy file was refused. Every variant but [`PolicyFileError::Syntax`] names the
/// JSON path of the offending value (`$` is the policy object).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum PolicyFileError {
    /// The text is not JSON (serde_json's message, with line and column).
    Syntax(String),
    /// An object has the key twice.
    DuplicateKey {
        /// The key's path.
        path: String,
    },
    /// An object has a key this format does not define.
    UnknownKey {
        /// The key's path.
        path: String,
    },
    /// A mandatory key is absent.
    Missing {
        /// The absent key's path.
        path: String,
    },
    /// A value has the wrong JSON type.
    Type {
        /// The value's path.
        path: String,
        /// What the format wants there.
        expected: &'static str,
    },
    /// A list is empty where it must have entries.
    Empty {
        /// The list's path.
        path: String,
    },
    /// A list has the wrong number of entries.
    Count {
        /// The list's path.
        path: String,
        /// How many it has.
        count: usize,
        /// How many it must have.
        expected: usize,
    },
    /// A list entry repeats an earlier one.
    Repeated {
        /// The entry's path.
        path: String,
    },
    /// A name (lifecycle state, profile, hash algorithm) this format does not define.
    UnknownName {
        /// The entry's path.
        path: String,
        /// The names allowed there.
        expected: String,
    },
    /// A string that is not an even number of hex digits.
    Hex {
        /// The string's path.
        path: String,
    },
    /// Hex of the wrong length.
    Length {
        /// The string's path.
        path: String,
        /// How many bytes it holds.
        len: usize,
        /// The lengths allowed there.
        expected: &'static str,
    },
    /// A measurement type longer than [`MeasurementType::MAX_LEN`] bytes.
    TooLong {
        /// The string's path.
        path: String,
    },
}

impl PolicyFileError {
    /// The JSON path of the offending value, except for a syntax error.
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Syntax(_) => None,
            Self::DuplicateKey { path }
            | Self::UnknownKey { path }
            | Self::Missing { path }
            | Self::Type { path, .. }
            | Self::Empty { path }
            | Self::Count { path, .. }
            | Self::Repeated { path }
            | Self::UnknownName { path, .. }
            | Self::Hex { path }
            | Self::Length { path, .. }
            | Self::TooLong { path } => Some(path),
        }
    }
}

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(e) => write!(f, "not JSON: {e}"),
            Self::DuplicateKey { path } => write!(f, "{path}: the key appears twice"),
            Self::UnknownKey { path } => write!(f, "{path}: unknown key"),
            Self::Missing { path } => write!(f, "{path}: missing"),
            Self::Type { path, expected } => write!(f, "{path}: expected {expected}"),
            Self::Empty { path } => write!(f, "{path}: the list is empty"),
            Self::Count {
                path,
                count,
                expected,
            } => write!(f, "{path}: {count} entries; expected {expected}"),
            Self::Repeated { path } => write!(f, "{path}: repeats an earlier entry"),
            Self::UnknownName { path, expected } => {
                write!(f, "{path}: not one of {expected}")
            }
            Self::Hex { path } => write!(f, "{path}: not an even number of hex digits"),
            Self::Length {
                path,
                len,
                expected,
            } => write!(f, "{path}: {len} bytes of hex; expected {expected}"),
            Self::TooLong { path } => {
                write!(f, "{path}: longer than {} bytes", MeasurementType::MAX_LEN)
            }
        }
    }
}

impl std::error::Error for PolicyFileError {}

/// The keys of the policy object.
const KEYS: &[&str] = &[
    "lifecycle",
    "platform_profiles",
    "platform_hash_algorithms",
    "sw_components",
    "realm_profiles",
    "realm_hash_algorithms",
    "realm_public_key_hash_algorithms",
    "rim",
    "rpv",
    "rems",
];

fn object<'v>(
    v: &'v Value,
    path: &str,
    keys: &[&str],
) -> Result<&'v Map<String, Value>, PolicyFileError> {
    let obj = v.as_object().ok_or_else(|| PolicyFileError::Type {
        path: path.to_owned(),
        expected: "an object",
    })?;
    if let Some(k) = obj.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(PolicyFileError::UnknownKey {
            path: child(path, k),
        });
    }
    Ok(obj)
}

/// A non-empty array.
fn list<'v>(v: &'v Value, path: &str) -> Result<&'v [Value], PolicyFileError> {
    let items = v.as_array().ok_or_else(|| PolicyFileError::Type {
        path: path.to_owned(),
        expected: "a list",
    })?;
    if items.is_empty() {
        return Err(PolicyFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(items)
}

fn string<'v>(v: &'v Value, path: &str) -> Result<&'v str, PolicyFileError> {
    v.as_str().ok_or_else(|| PolicyFileError::Type {
        path: path.to_owned(),
        expected: "a string",
    })
}

/// Hex of one of the lengths in `lens` (described by `expected`).
fn hex(
    v: &Value,
    path: &str,
    lens: &[usize],
    expected: &'static str,
) -> Result<Vec<u8>, PolicyFileError> {
    let s = string(v, path)?;
    let bad = || PolicyFileError::Hex {
        path: path.to_owned(),
    };
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>, _>>()?;
    if !lens.contains(&bytes.len()) {
        return Err(PolicyFileError::Length {
            path: path.to_owned(),
            len: bytes.len(),
            expected,
        });
    }
    Ok(bytes)
}

fn digest(v: &Value, path: &str, realm: bool) -> Result<Digest, PolicyFileError> {
    let bytes = if realm {
        hex(v, path, &[32, 64], "32 or 64")?
    } else {
        hex(v, path, &[32, 48, 64], "32, 48 or 64")?
    };
    // The length was checked above.
    Digest::new(&bytes).ok_or(PolicyFileError::Hex {
        path: path.to_owned(),
    })
}

/// A non-empty list of distinct names, each mapped by `lookup`.
fn names<T: Copy, S: Copy>(
    v: &Value,
    path: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
    empty: S,
    with: impl Fn(S, T) -> S,
    contains: impl Fn(S, T) -> bool,
) -> Result<S, PolicyFileError> {
    let mut set = empty;
    for (i, item) in list(v, path)?.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let s = string(item, &path)?;
        let Some(m) = all.iter().copied().find(|m| name(*m) == s) else {
            let expected = all
                .iter()
                .map(|m| format!("\"{}\"", name(*m)))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(PolicyFileError::UnknownName { path, expected });
        };
        if contains(set, m) {
            return Err(PolicyFileError::Repeated { path });
        }
        set = with(set, m);
    }
    Ok(set)
}

macro_rules! name_set {
    ($v:expr, $path:expr, $set:ident, $all:expr, $name:expr) => {
        names(
            $v,
            $path,
            &$all,
            $name,
            $set::EMPTY,
            $set::with,
            $set::contains,
        )
    };
}

fn sw_components(v: &Value, path: &str) -> Result<(Vec<SwReference>, bool), PolicyFileError> {
    let obj = object(v, path, &["require_all_known", "reference"])?;
    let require_all_known = match obj.get("require_all_known") {
        None => true,
        Some(b) => b.as_bool().ok_or_else(|| PolicyFileError::Type {
            path: child(path, "require_all_known"),
            expected: "true or false",
        })?,
    };
    let list_path = child(path, "reference");
    let items = obj
        .get("reference")
        .ok_or_else(|| PolicyFileError::Missing {
            path: list_path.clone(),
        })?;
    let mut references = Vec::new();
    for (i, item) in list(items, &list_path)?.iter().enumerate() {
        let path = format!("{list_path}[{i}]");
        let r = object(item, &path, &["type", "measurement", "signer"])?;
        let measurement_type = match r.get("type") {
            None => None,
            Some(t) => {
                let tpath = child(&path, "type");
                Some(
                    string(t, &tpath)?
                        .parse::<MeasurementType>()
                        .map_err(|_| PolicyFileError::TooLong { path: tpath })?,
                )
            }
        };
        let mpath = child(&path, "measurement");
        let measurement_value = digest(
            r.get("measurement").ok_or(PolicyFileError::Missing {
                path: mpath.clone(),
            })?,
            &mpath,
            false,
        )?;
        let signer_id = r
            .get("signer")
            .map(|s| digest(s, &child(&path, "signer"), false))
            .transpose()?;
        let reference = SwReference {
            measurement_type,
            measurement_value,
            signer_id,
        };
        if references.contains(&reference) {
            return Err(PolicyFileError::Repeated { path });
        }
        references.push(reference);
    }
    Ok((references, require_all_known))
}

impl PolicyFile {
    /// Parses a policy from JSON text (the format is in the type's documentation),
    /// refusing keys that appear twice in an object.
    ///
    /// # Errors
    ///
    /// [`PolicyFileError`], naming the JSON path of the first problem.
    pub fn from_json(json: &str) -> Result<Self, PolicyFileError> {
        match crate::json::from_str(json) {
            Ok(v) => Self::from_value(&v),
            Err(JsonError::DuplicateKey { path }) => Err(PolicyFileError::DuplicateKey { path }),
            Err(JsonError::Syntax(e)) => Err(PolicyFileError::Syntax(e)),
        }
    }

    /// Reads a policy from a JSON value already parsed, e.g. the `"appraisal"` member of a
    /// larger configuration. Paths in errors start at `$`, this value.
    ///
    /// # Errors
    ///
    /// [`PolicyFileError`], naming the JSON path of the first problem.
    pub fn from_value(value: &Value) -> Result<Self, PolicyFileError> {
        let obj = object(value, "$", KEYS)?;
        let d = Appraisal::DEFAULT;
        let mut p = Self {
            lifecycles: d.lifecycles,
            platform_profiles: d.platform_profiles,
            platform_hash_algorithms: d.platform_hash_algorithms,
            sw_references: None,
            realm_profiles: d.realm_profiles,
            realm_hash_algorithms: d.realm_hash_algorithms,
            realm_public_key_hash_algorithms: d.realm_public_key_hash_algorithms,
            rims: None,
            personalization_value: None,
            rems: [None; 4],
        };
        let realm_profile_name = |p: RealmProfile| p.as_str().unwrap_or(LEGACY_REALM_PROFILE);
        let hash_all = HashAlgorithm::ALL;
        for (key, v) in obj {
            let path = &child("$", key);
            match key.as_str() {
                "lifecycle" => {
                    p.lifecycles =
                        name_set!(v, path, LifecycleSet, Lifecycle::ALL, Lifecycle::name)?;
                }
                "platform_profiles" => {
                    p.platform_profiles = name_set!(
                        v,
                        path,
                        PlatformProfileSet,
                        [PlatformProfile::V1_0, PlatformProfile::Legacy],
                        PlatformProfile::as_str
                    )?;
                }
                "platform_hash_algorithms" => {
                    p.platform_hash_algorithms =
                        name_set!(v, path, HashAlgorithmSet, hash_all, HashAlgorithm::name)?;
                }
                "sw_components" => p.sw_references = Some(sw_components(v, path)?),
                "realm_profiles" => {
                    p.realm_profiles = name_set!(
                        v,
                        path,
                        RealmProfileSet,
                        [RealmProfile::V1_0, RealmProfile::V2_0, RealmProfile::Legacy],
                        realm_profile_name
                    )?;
                }
                "realm_hash_algorithms" => {
                    p.realm_hash_algorithms =
                        name_set!(v, path, HashAlgorithmSet, hash_all, HashAlgorithm::name)?;
                }
                "realm_public_key_hash_algorithms" => {
                    p.realm_public_key_hash_algorithms =
                        name_set!(v, path, HashAlgorithmSet, hash_all, HashAlgorithm::name)?;
                }
                "rim" => {
                    let mut rims = Vec::new();
                    for (i, item) in list(v, path)?.iter().enumerate() {
                        let path = format!("{path}[{i}]");
                        let rim = digest(item, &path, true)?;
                        if rims.contains(&rim) {
                            return Err(PolicyFileError::Repeated { path });
                        }
                        rims.push(rim);
                    }
                    p.rims = Some(rims);
                }
                "rpv" => {
                    let bytes = hex(v, path, &[64], "64")?;
                    let mut rpv = [0u8; 64];
                    rpv.copy_from_slice(&bytes);
                    p.personalization_value = Some(rpv);
                }
                "rems" => {
                    let items = v.as_array().ok_or_else(|| PolicyFileError::Type {
                        path: path.clone(),
                        expected: "a list of four entries, each null or hex",
                    })?;
                    if items.len() != 4 {
                        return Err(PolicyFileError::Count {
                            path: path.clone(),
                            count: items.len(),
                            expected: 4,
                        });
                    }
                    for (i, item) in items.iter().enumerate() {
                        if !item.is_null() {
                            p.rems[i] = Some(digest(item, &format!("{path}[{i}]"), true)?);
                        }
                    }
                }
                // `object` refused every other key.
                _ => {
                    return Err(PolicyFileError::UnknownKey { path: path.clone() });
                }
            }
        }
        Ok(p)
    }

    /// The appraisal this policy states, borrowing from it.
    #[must_use]
    pub fn appraisal(&self) -> Appraisal<'_> {
        Appraisal {
            lifecycles: self.lifecycles,
            platform_profiles: self.platform_profiles,
            platform_hash_algorithms: self.platform_hash_algorithms,
            sw_components: self
                .sw_references
                .as_ref()
                .map(|(references, require_all_known)| SwComponentPolicy {
                    references,
                    require_all_known: *require_all_known,
                }),
            realm_profiles: self.realm_profiles,
            realm_hash_algorithms: self.realm_hash_algorithms,
            realm_public_key_hash_algorithms: self.realm_public_key_hash_algorithms,
            rims: self.rims.as_deref(),
            personalization_value: self.personalization_value.as_ref(),
            rems: self.rems,
        }
    }
}
