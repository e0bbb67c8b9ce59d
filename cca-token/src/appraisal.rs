//! Appraisal: what a relying party accepts in a token whose signatures and binding already
//! verified ([`Token::verify`](crate::Token::verify)). No heap, no panics.
//!
//! An [`Appraisal`] states:
//! - the accepted platform lifecycle states (claim 2395); by default **secured** only
//!   (0x3000–0x30ff), the only state in which the platform's security guarantees hold;
//! - the accepted profiles (platform and realm claim 265) and hash algorithms (realm claims
//!   44236 and 44240, platform claim 2402); by default every one this crate knows, except
//!   that the realm's measurement algorithm (44236) is "sha-256" or "sha-512", the two that
//!   DEN0137 defines;
//! - reference values for the platform's software components (claim 2399): each names an
//!   optional measurement type, a measurement value and an optional signer ID;
//!   [`SwComponentPolicy::require_all_known`] says whether every component in the token
//!   must match one;
//! - accepted RIMs (claim 44238), the expected Realm Personalization Value (44235) and, per
//!   REM index 0..3, an optional expected REM (44239).
//!
//! [`Appraisal::appraise`] checks a [`Verified`] token and names the first claim that fails
//! in an [`AppraisalError`], whose `Display` is a sentence giving the claim's name and key
//! and its value in hex.
//!
//! ```
//! use cca_token::appraisal::{Appraisal, Digest, SwComponentPolicy, SwReference};
//! use cca_token::platform::Lifecycle;
//! # use cca_token::{Policy, PublicKey, Token, TrustAnchor};
//! # let bytes: &[u8] = include_bytes!(concat!(
//! #     env!("CARGO_MANIFEST_DIR"),
//! #     "/../fuzz/seeds/token_parse/encoder-cmw-sha256.cbor"
//! # ));
//! # let iak = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
//! # let iak_point = iak.verifying_key().to_sec1_point(false);
//! # let anchors = [TrustAnchor {
//! #     implementation_id: [0x7f; 32],
//! #     instance_id: core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 }),
//! #     key: PublicKey::from_sec1(iak_point.as_bytes())?,
//! # }];
//! let verified = Token::parse(bytes)?.verify(&anchors, &Policy::default())?;
//! // The default: a secured platform, any known profile and hash algorithm.
//! Appraisal::default().appraise(&verified)?;
//! // Reference values for the platform's one component, a BL2.
//! let references = [SwReference {
//!     measurement_type: Some("BL2".parse()?),
//!     measurement_value: Digest::new(&[1; 32]).ok_or("length")?,
//!     signer_id: Some(Digest::new(&[2; 32]).ok_or("length")?),
//! }];
//! let appraisal = Appraisal {
//!     sw_components: Some(SwComponentPolicy { references: &references, require_all_known: true }),
//!     ..Appraisal::default()
//! };
//! appraisal.appraise(&verified)?;
//! // A policy that accepts only a decommissioned platform refuses it, naming the claim.
//! let appraisal = Appraisal {
//!     lifecycles: Appraisal::DEFAULT.lifecycles.without(Lifecycle::Secured).with(Lifecycle::Decommissioned),
//!     ..Appraisal::default()
//! };
//! let refusal = appraisal.appraise(&verified).unwrap_err().to_string();
//! assert_eq!(refusal, "platform lifecycle (claim 2395) is 0x3003 (secured); accepted: decommissioned");
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! With the `std` feature, `PolicyFile` loads an appraisal from JSON (the format is
//! documented there).

use core::fmt;

use crate::Verified;
use crate::platform::{self, Lifecycle, PlatformProfile, SwComponent};
use crate::realm::{self, RealmProfile};

#[cfg(feature = "std")]
mod file;
#[cfg(feature = "std")]
pub use file::{PolicyFile, PolicyFileError};

/// Hash algorithms that CCA tokens name (claims 44236, 44240 and 2402).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum HashAlgorithm {
    /// "sha-256".
    Sha256,
    /// "sha-384".
    Sha384,
    /// "sha-512".
    Sha512,
}

impl HashAlgorithm {
    /// Every algorithm.
    pub const ALL: [Self; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The name tokens use: "sha-256", "sha-384" or "sha-512".
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// From the name tokens use; `None` for any other name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Writes `bytes` as `0x` and lower-case hex.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

const fn realm_profile_name(p: RealmProfile) -> &'static str {
    match p.as_str() {
        Some(s) => s,
        None => LEGACY_REALM_PROFILE,
    }
}

/// How an appraisal names the realm profile of a token without claim 265 (the early,
/// profile-less format).
pub const LEGACY_REALM_PROFILE: &str = "legacy";

/// Defines a small set of a fieldless enum as a bit mask, with `const` constructors.
macro_rules! enum_set {
    ($(#[$doc:meta])* $set:ident of $t:ty, all: $all:expr, name: $name:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
        pub struct $set(u8);

        impl $set {
            /// No member.
            pub const EMPTY: Self = Self(0);
            /// Every member.
            pub const ALL: Self = {
                let (mut set, mut i) = (Self::EMPTY, 0);
                while i < $all.len() {
                    set = set.with($all[i]);
                    i += 1;
                }
                set
            };

            /// This set and `member`.
            #[must_use]
            pub const fn with(self, member: $t) -> Self {
                Self(self.0 | 1 << member as u8)
            }

            /// This set without `member`.
            #[must_use]
            pub const fn without(self, member: $t) -> Self {
                Self(self.0 & !(1 << member as u8))
            }

            /// Whether `member` is in the set.
            #[must_use]
            pub const fn contains(self, member: $t) -> bool {
                self.0 & 1 << member as u8 != 0
            }

            /// Whether the set has no member.
            #[must_use]
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// The members, in declaration order.
            pub fn iter(self) -> impl Iterator<Item = $t> {
                $all.into_iter().filter(move |m| self.contains(*m))
            }
        }

        /// The members' names separated by commas, or "none".
        impl fmt::Display for $set {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.is_empty() {
                    return f.write_str("none");
                }
                for (i, m) in self.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str($name(m))?;
                }
                Ok(())
            }
        }
    };
}

enum_set!(
    /// A set of platform lifecycle states (claim 2395).
    LifecycleSet of Lifecycle, all: Lifecycle::ALL, name: Lifecycle::name
);
enum_set!(
    /// A set of platform profiles (claim 265).
    PlatformProfileSet of PlatformProfile,
    all: [PlatformProfile::Legacy, PlatformProfile::V1_0],
    name: PlatformProfile::as_str
);
enum_set!(
    /// A set of realm profiles (claim 265; [`RealmProfile::Legacy`] is the token without it).
    RealmProfileSet of RealmProfile,
    all: [RealmProfile::Legacy, RealmProfile::V1_0, RealmProfile::V2_0],
    name: realm_profile_name
);
enum_set!(
    /// A set of hash algorithms.
    HashAlgorithmSet of HashAlgorithm, all: HashAlgorithm::ALL, name: HashAlgorithm::name
);

/// A measurement, RIM, REM or signer ID: a digest of 32, 48 or 64 bytes, held inline.
#[derive(Clone, Copy, Eq, Hash, PartialEq)]
pub struct Digest {
    bytes: [u8; 64],
    len: u8,
}

impl Digest {
    /// A digest of `bytes`; `None` unless they are 32, 48 or 64 bytes long.
    #[must_use]
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if !matches!(bytes.len(), 32 | 48 | 64) {
            return None;
        }
        let mut d = Self {
            bytes: [0; 64],
            len: bytes.len() as u8,
        };
        d.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(d)
    }

    /// The digest's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", Hex(self.as_bytes()))
    }
}

/// A software component's measurement type (e.g. "BL2"), held inline: at most
/// [`MeasurementType::MAX_LEN`] bytes of UTF-8.
#[derive(Clone, Copy, Eq, Hash, PartialEq)]
pub struct MeasurementType {
    bytes: [u8; MeasurementType::MAX_LEN],
    len: u8,
}

/// A measurement type longer than [`MeasurementType::MAX_LEN`] bytes.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct MeasurementTypeTooLong;

impl fmt::Display for MeasurementTypeTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a measurement type is at most {} bytes long",
            MeasurementType::MAX_LEN
        )
    }
}

impl core::error::Error for MeasurementTypeTooLong {}

impl MeasurementType {
    /// Longest measurement type, in bytes (TF-A's longest, "SOC_FW_CONFIG", has 13).
    pub const MAX_LEN: usize = 32;

    /// The type as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Built from a `&str` cut at its own length: always whole UTF-8.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl core::str::FromStr for MeasurementType {
    type Err = MeasurementTypeTooLong;

    fn from_str(s: &str) -> Result<Self, MeasurementTypeTooLong> {
        if s.len() > Self::MAX_LEN {
            return Err(MeasurementTypeTooLong);
        }
        let mut t = Self {
            bytes: [0; Self::MAX_LEN],
            len: s.len() as u8,
        };
        t.bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(t)
    }
}

impl fmt::Debug for MeasurementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeasurementType({:?})", self.as_str())
    }
}

/// A reference value for a platform software component.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SwReference {
    /// The measurement type it applies to (key 1); `None` matches any type.
    pub measurement_type: Option<MeasurementType>,
    /// The expected measurement value (key 2).
    pub measurement_value: Digest,
    /// The expected signer ID (key 5); `None` accepts any signer.
    pub signer_id: Option<Digest>,
}

impl SwReference {
    fn type_matches(&self, c: &SwComponent<'_>) -> bool {
        match self.measurement_type {
            None => true,
            Some(t) => c.measurement_type == Some(t.as_str()),
        }
    }
}

/// How the platform's software components (claim 2399) are appraised.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SwComponentPolicy<'p> {
    /// The reference values.
    pub references: &'p [SwReference],
    /// Whether every component in the token must match a reference value. Without it, a
    /// component no reference names (by type, or by value for untyped references) is
    /// allowed, but one whose type has references must still match one of them.
    pub require_all_known: bool,
}

/// An appraisal policy: what is accepted in a verified token. Borrowed and heap-free;
/// [`Appraisal::DEFAULT`] accepts a secured platform with any known profile and hash
/// algorithm.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Appraisal<'p> {
    /// Accepted platform lifecycle states (claim 2395).
    pub lifecycles: LifecycleSet,
    /// Accepted platform profiles (claim 265).
    pub platform_profiles: PlatformProfileSet,
    /// Accepted platform hash algorithms (claim 2402).
    pub platform_hash_algorithms: HashAlgorithmSet,
    /// Platform software components (claim 2399): not appraised when `None`.
    pub sw_components: Option<SwComponentPolicy<'p>>,
    /// Accepted realm profiles (claim 265).
    pub realm_profiles: RealmProfileSet,
    /// Accepted realm measurement hash algorithms (claim 44236).
    pub realm_hash_algorithms: HashAlgorithmSet,
    /// Accepted hash algorithms binding the RAK to the platform (claim 44240).
    pub realm_public_key_hash_algorithms: HashAlgorithmSet,
    /// Accepted RIMs (claim 44238): any RIM when `None`.
    pub rims: Option<&'p [Digest]>,
    /// The expected Realm Personalization Value (claim 44235): any when `None`.
    pub personalization_value: Option<&'p [u8; 64]>,
    /// The expected REM\[0\] to REM\[3\] (claim 44239): any where `None`.
    pub rems: [Option<Digest>; 4],
}

impl Default for Appraisal<'_> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which realm token claim an [`AppraisalError`] is about, where several share a shape.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum HashClaim {
    /// Platform claim 2402.
    Platform,
    /// Realm claim 44236 (RIM and REMs).
    Realm,
    /// Realm claim 44240 (the RAK binding).
    RealmPublicKey,
}

impl HashClaim {
    const fn describe(self) -> (&'static str, i64) {
        match self {
            Self::Platform => ("platform hash algorithm", platform::HASH_ALGORITHM),
            Self::Realm => ("realm hash algorithm", realm::HASH_ALGORITHM),
            Self::RealmPublicKey => (
                "realm public key hash algorithm",
                realm::PUBLIC_KEY_HASH_ALGORITHM,
            ),
        }
    }
}

/// Why a verified token is not accepted: the first claim that fails, with its value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum AppraisalError<'a> {
    /// The platform lifecycle state is not accepted.
    Lifecycle {
        /// The claim's value.
        value: u64,
        /// The accepted states.
        accepted: LifecycleSet,
    },
    /// The platform profile is not accepted.
    PlatformProfile {
        /// The token's profile.
        profile: PlatformProfile,
        /// The accepted profiles.
        accepted: PlatformProfileSet,
    },
    /// The realm profile is not accepted.
    RealmProfile {
        /// The token's profile.
        profile: RealmProfile,
        /// The accepted profiles.
        accepted: RealmProfileSet,
    },
    /// A hash algorithm claim names an algorithm that is not accepted.
    HashAlgorithm {
        /// Which claim.
        claim: HashClaim,
        /// The token's value.
        name: &'a str,
        /// The accepted algorithms.
        accepted: HashAlgorithmSet,
    },
    /// A software component matches no reference value and the policy requires every one
    /// to.
    SwComponentUnknown {
        /// Its index in claim 2399.
        index: usize,
        /// Its measurement type.
        measurement_type: Option<&'a str>,
        /// Its measurement value.
        measurement_value: &'a [u8],
    },
    /// References exist for a software component's type, but none has its measurement
    /// value.
    SwComponentMeasurement {
        /// Its index in claim 2399.
        index: usize,
        /// Its measurement type.
        measurement_type: Option<&'a str>,
        /// Its measurement value.
        measurement_value: &'a [u8],
    },
    /// A software component's measurement matches a reference value whose signer ID
    /// differs from the component's.
    SwComponentSigner {
        /// Its index in claim 2399.
        index: usize,
        /// Its measurement type.
        measurement_type: Option<&'a str>,
        /// Its signer ID.
        signer_id: &'a [u8],
    },
    /// The RIM is not one of the accepted ones.
    Rim {
        /// The token's RIM.
        rim: &'a [u8],
        /// How many RIMs are accepted.
        accepted: usize,
    },
    /// The Realm Personalization Value is not the expected one.
    PersonalizationValue {
        /// The token's RPV.
        value: &'a [u8],
    },
    /// A REM is not the expected one.
    Rem {
        /// The REM index, 0 to 3.
        index: usize,
        /// The token's REM.
        value: &'a [u8],
        /// The expected REM.
        expected: Digest,
    },
}

impl AppraisalError<'_> {
    /// The key of the claim that failed (2395 for the lifecycle, 2399 for a software
    /// component, 44238 for the RIM, ...; 265 for either profile).
    #[must_use]
    pub const fn claim(&self) -> i64 {
        match self {
            Self::Lifecycle { .. } => platform::LIFECYCLE,
            Self::PlatformProfile { .. } => platform::PROFILE,
            Self::RealmProfile { .. } => realm::PROFILE,
            Self::HashAlgorithm { claim, .. } => claim.describe().1,
            Self::SwComponentUnknown { .. }
            | Self::SwComponentMeasurement { .. }
            | Self::SwComponentSigner { .. } => platform::SW_COMPONENTS,
            Self::Rim { .. } => realm::RIM,
            Self::PersonalizationValue { .. } => realm::PERSONALIZATION_VALUE,
            Self::Rem { .. } => realm::REMS,
        }
    }
}

/// "component 3 (BL2)" or "component 3 (no measurement type)".
struct Component<'a>(usize, Option<&'a str>);

impl fmt::Display for Component<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(t) => write!(f, "platform software component {} ({t})", self.0),
            None => write!(
                f,
                "platform software component {} (no measurement type)",
                self.0
            ),
        }
    }
}

impl fmt::Display for AppraisalError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sw = platform::SW_COMPONENTS;
        match *self {
            Self::Lifecycle { value, accepted } => {
                let state = Lifecycle::from_value(value).map_or("undefined", Lifecycle::name);
                write!(
                    f,
                    "platform lifecycle (claim {}) is {value:#06x} ({state}); accepted: {accepted}",
                    platform::LIFECYCLE
                )
            }
            Self::PlatformProfile { profile, accepted } => write!(
                f,
                "platform profile (claim {}) is \"{}\"; accepted: {accepted}",
                platform::PROFILE,
                profile.as_str()
            ),
            Self::RealmProfile { profile, accepted } => match profile.as_str() {
                Some(p) => write!(
                    f,
                    "realm profile (claim {}) is \"{p}\"; accepted: {accepted}",
                    realm::PROFILE
                ),
                None => write!(
                    f,
                    "realm profile (claim {}) is absent ({LEGACY_REALM_PROFILE}); accepted: {accepted}",
                    realm::PROFILE
                ),
            },
            Self::HashAlgorithm {
                claim,
                name,
                accepted,
            } => {
                let (what, key) = claim.describe();
                write!(
                    f,
                    "{what} (claim {key}) is \"{}\"; accepted: {accepted}",
                    name.escape_default()
                )
            }
            Self::SwComponentUnknown {
                index,
                measurement_type,
                measurement_value,
            } => write!(
                f,
                "{} (claim {sw}) matches no reference value: measurement value {}",
                Component(index, measurement_type),
                Hex(measurement_value)
            ),
            Self::SwComponentMeasurement {
                index,
                measurement_type,
                measurement_value,
            } => write!(
                f,
                "{} (claim {sw}): measurement value {} is not a reference value for its type",
                Component(index, measurement_type),
                Hex(measurement_value)
            ),
            Self::SwComponentSigner {
                index,
                measurement_type,
                signer_id,
            } => write!(
                f,
                "{} (claim {sw}): signer ID {} is not the reference value's signer",
                Component(index, measurement_type),
                Hex(signer_id)
            ),
            Self::Rim { rim, accepted } => write!(
                f,
                "RIM (claim {}) is {}, which is not one of the {accepted} accepted RIMs",
                realm::RIM,
                Hex(rim)
            ),
            Self::PersonalizationValue { value } => write!(
                f,
                "realm personalization value (claim {}) is {}, not the expected one",
                realm::PERSONALIZATION_VALUE,
                Hex(value)
            ),
            Self::Rem {
                index,
                value,
                expected,
            } => write!(
                f,
                "REM[{index}] (claim {}) is {}; expected {}",
                realm::REMS,
                Hex(value),
                Hex(expected.as_bytes())
            ),
        }
    }
}

impl core::error::Error for AppraisalError<'_> {}

impl<'p> Appraisal<'p> {
    /// The default appraisal: a secured platform (lifecycle 0x3000–0x30ff); every known
    /// platform and realm profile; platform (2402) and binding (44240) hash algorithms
    /// "sha-256", "sha-384" or "sha-512"; realm measurements (44236) "sha-256" or "sha-512";
    /// no reference values.
    pub const DEFAULT: Self = Self {
        lifecycles: LifecycleSet::EMPTY.with(Lifecycle::Secured),
        platform_profiles: PlatformProfileSet::ALL,
        platform_hash_algorithms: HashAlgorithmSet::ALL,
        sw_components: None,
        realm_profiles: RealmProfileSet::ALL,
        realm_hash_algorithms: HashAlgorithmSet::EMPTY
            .with(HashAlgorithm::Sha256)
            .with(HashAlgorithm::Sha512),
        realm_public_key_hash_algorithms: HashAlgorithmSet::ALL,
        rims: None,
        personalization_value: None,
        rems: [None; 4],
    };

    /// Appraises a verified token: platform claims first (lifecycle, profile, hash
    /// algorithm, software components), then realm claims (profile, hash algorithms, RIM,
    /// RPV, REMs).
    ///
    /// # Errors
    ///
    /// The first claim that is not accepted, as an [`AppraisalError`].
    pub fn appraise<'a>(&self, token: &Verified<'a>) -> Result<(), AppraisalError<'a>> {
        let p = &token.platform;
        if !Lifecycle::from_value(p.lifecycle).is_some_and(|l| self.lifecycles.contains(l)) {
            return Err(AppraisalError::Lifecycle {
                value: p.lifecycle,
                accepted: self.lifecycles,
            });
        }
        if !self.platform_profiles.contains(p.profile) {
            return Err(AppraisalError::PlatformProfile {
                profile: p.profile,
                accepted: self.platform_profiles,
            });
        }
        hash_accepted(
            HashClaim::Platform,
            p.hash_algorithm,
            self.platform_hash_algorithms,
        )?;
        if let Some(sw) = &self.sw_components {
            for (index, c) in p.sw_components().enumerate() {
                sw.check(index, &c)?;
            }
        }
        let r = &token.realm;
        if !self.realm_profiles.contains(r.profile) {
            return Err(AppraisalError::RealmProfile {
                profile: r.profile,
                accepted: self.realm_profiles,
            });
        }
        hash_accepted(
            HashClaim::Realm,
            r.hash_algorithm,
            self.realm_hash_algorithms,
        )?;
        hash_accepted(
            HashClaim::RealmPublicKey,
            r.public_key_hash_algorithm,
            self.realm_public_key_hash_algorithms,
        )?;
        if let Some(rims) = self.rims
            && !rims.iter().any(|d| d.as_bytes() == r.rim)
        {
            return Err(AppraisalError::Rim {
                rim: r.rim,
                accepted: rims.len(),
            });
        }
        if let Some(rpv) = self.personalization_value
            && rpv[..] != *r.personalization_value
        {
            return Err(AppraisalError::PersonalizationValue {
                value: r.personalization_value,
            });
        }
        for (index, (expected, value)) in self.rems.iter().zip(r.rems()).enumerate() {
            if let Some(expected) = *expected
                && expected.as_bytes() != value
            {
                return Err(AppraisalError::Rem {
                    index,
                    value,
                    expected,
                });
            }
        }
        Ok(())
    }
}

fn hash_accepted(
    claim: HashClaim,
    name: &str,
    accepted: HashAlgorithmSet,
) -> Result<(), AppraisalError<'_>> {
    match HashAlgorithm::from_name(name) {
        Some(a) if accepted.contains(a) => Ok(()),
        _ => Err(AppraisalError::HashAlgorithm {
            claim,
            name,
            accepted,
        }),
    }
}

impl SwComponentPolicy<'_> {
    fn check<'a>(&self, index: usize, c: &SwComponent<'a>) -> Result<(), AppraisalError<'a>> {
        let value_matches = |r: &&SwReference| {
            r.type_matches(c) && r.measurement_value.as_bytes() == c.measurement_value
        };
        let signer_matches =
            |r: &&SwReference| r.signer_id.is_none_or(|s| s.as_bytes() == c.signer_id);
        let mut by_value = self.references.iter().filter(value_matches).peekable();
        if by_value.peek().is_some() {
            return if by_value.any(|r| signer_matches(&r)) {
                Ok(())
            } else {
                Err(AppraisalError::SwComponentSigner {
                    index,
                    measurement_type: c.measurement_type,
                    signer_id: c.signer_id,
                })
            };
        }
        // No reference has this measurement value. References for this type make it a
        // wrong measurement; otherwise the component is unknown.
        let typed = self
            .references
            .iter()
            .any(|r| r.measurement_type.is_some() && r.type_matches(c));
        if typed {
            Err(AppraisalError::SwComponentMeasurement {
                index,
                measurement_type: c.measurement_type,
                measurement_value: c.measurement_value,
            })
        } else if self.require_all_known {
            Err(AppraisalError::SwComponentUnknown {
                index,
                measurement_type: c.measurement_type,
                measurement_value: c.measurement_value,
            })
        } else {
            Ok(())
        }
    }
}
