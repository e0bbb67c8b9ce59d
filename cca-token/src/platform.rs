//! The CCA platform token's claims (Arm CCA Security Model / the CCA platform token profile,
//! as veraison models them; cca-abi.md §7.3).

use crate::cbor::Reader;
use crate::claims::{self, ClaimError, MAX_CLAIMS, UnknownClaims};

/// `10`: the challenge: a hash of the realm's RAK (32, 48 or 64 bytes).
pub const CHALLENGE: i64 = 10;
/// `256`: the instance ID (33 bytes, first byte 0x01).
pub const INSTANCE_ID: i64 = 256;
/// `265`: the profile.
pub const PROFILE: i64 = 265;
/// `2395`: the security lifecycle.
pub const LIFECYCLE: i64 = 2395;
/// `2396`: the implementation ID (32 bytes).
pub const IMPLEMENTATION_ID: i64 = 2396;
/// `2399`: the software components.
pub const SW_COMPONENTS: i64 = 2399;
/// `2400`: the verification service.
pub const VERIFICATION_SERVICE: i64 = 2400;
/// `2401`: the platform configuration.
pub const CONFIG: i64 = 2401;
/// `2402`: the platform hash algorithm (mandatory).
pub const HASH_ALGORITHM: i64 = 2402;

/// The early CCA platform profile.
pub const PROFILE_LEGACY: &str = "http://arm.com/CCA-SSD/1.0.0";
/// The CCA platform profile TF-A's and TF-M's tokens carry.
pub const PROFILE_1_0: &str = "tag:arm.com,2023:cca_platform#1.0.0";

const KNOWN: &[i64] = &[
    CHALLENGE,
    INSTANCE_ID,
    PROFILE,
    LIFECYCLE,
    IMPLEMENTATION_ID,
    SW_COMPONENTS,
    VERIFICATION_SERVICE,
    CONFIG,
    HASH_ALGORITHM,
];

/// Which platform profile a token follows.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PlatformProfile {
    /// `http://arm.com/CCA-SSD/1.0.0`.
    Legacy,
    /// `tag:arm.com,2023:cca_platform#1.0.0`.
    V1_0,
}

impl PlatformProfile {
    /// The profile claim's value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Legacy => PROFILE_LEGACY,
            Self::V1_0 => PROFILE_1_0,
        }
    }
}

/// Security lifecycle states (the ranges of claim 2395).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Lifecycle {
    /// 0x0000–0x00ff.
    Unknown,
    /// 0x1000–0x10ff.
    AssemblyAndTest,
    /// 0x2000–0x20ff.
    RotProvisioning,
    /// 0x3000–0x30ff: the only state a relying party should normally trust.
    Secured,
    /// 0x4000–0x40ff.
    NonCcaPlatformDebug,
    /// 0x5000–0x50ff.
    RecoverableCcaPlatformDebug,
    /// 0x6000–0x60ff.
    Decommissioned,
}

impl Lifecycle {
    /// The state of a lifecycle value; `None` outside the defined ranges.
    #[must_use]
    pub const fn from_value(v: u64) -> Option<Self> {
        Some(match v {
            0x0000..=0x00ff => Self::Unknown,
            0x1000..=0x10ff => Self::AssemblyAndTest,
            0x2000..=0x20ff => Self::RotProvisioning,
            0x3000..=0x30ff => Self::Secured,
            0x4000..=0x40ff => Self::NonCcaPlatformDebug,
            0x5000..=0x50ff => Self::RecoverableCcaPlatformDebug,
            0x6000..=0x60ff => Self::Decommissioned,
            _ => return None,
        })
    }

    /// Every state, in the order of their ranges.
    pub const ALL: [Self; 7] = [
        Self::Unknown,
        Self::AssemblyAndTest,
        Self::RotProvisioning,
        Self::Secured,
        Self::NonCcaPlatformDebug,
        Self::RecoverableCcaPlatformDebug,
        Self::Decommissioned,
    ];

    /// The state's name, as an appraisal policy file spells it: "unknown",
    /// "assembly-and-test", "rot-provisioning", "secured", "non-cca-platform-debug",
    /// "recoverable-cca-platform-debug" or "decommissioned".
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::AssemblyAndTest => "assembly-and-test",
            Self::RotProvisioning => "rot-provisioning",
            Self::Secured => "secured",
            Self::NonCcaPlatformDebug => "non-cca-platform-debug",
            Self::RecoverableCcaPlatformDebug => "recoverable-cca-platform-debug",
            Self::Decommissioned => "decommissioned",
        }
    }
}

/// One software component (claim 2399 entries).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SwComponent<'a> {
    /// `1`: measurement type, e.g. "BL2".
    pub measurement_type: Option<&'a str>,
    /// `2`: measurement value (32, 48 or 64 bytes).
    pub measurement_value: &'a [u8],
    /// `4`: version.
    pub version: Option<&'a str>,
    /// `5`: signer ID (32, 48 or 64 bytes).
    pub signer_id: &'a [u8],
    /// `6`: measurement description (the hash algorithm in TF-A's sample).
    pub description: Option<&'a str>,
}

fn sw_component<'a>(r: &mut Reader<'a>) -> Result<SwComponent<'a>, ClaimError> {
    let ty = ClaimError::Type(SW_COMPONENTS);
    let n = r.map().map_err(|_| ty)?;
    let mut c = SwComponent {
        measurement_type: None,
        measurement_value: &[],
        version: None,
        signer_id: &[],
        description: None,
    };
    let mut seen = 0u8;
    for _ in 0..n {
        let key = r.int().map_err(|_| ty)?;
        let bit = match key {
            1..=6 => 1u8 << key,
            _ => 0,
        };
        if seen & bit != 0 {
            return Err(ClaimError::Duplicate(SW_COMPONENTS));
        }
        seen |= bit;
        match key {
            1 => c.measurement_type = Some(r.text().map_err(|_| ty)?),
            2 => c.measurement_value = r.bytes().map_err(|_| ty)?,
            4 => c.version = Some(r.text().map_err(|_| ty)?),
            5 => c.signer_id = r.bytes().map_err(|_| ty)?,
            6 => c.description = Some(r.text().map_err(|_| ty)?),
            _ => drop(r.item().map_err(|_| ty)?),
        }
    }
    let digest = |v: &[u8]| matches!(v.len(), 32 | 48 | 64);
    if !digest(c.measurement_value) || !digest(c.signer_id) {
        return Err(ClaimError::Value(SW_COMPONENTS));
    }
    Ok(c)
}

/// The software components, in token order (validated when the claims were parsed).
#[derive(Clone, Debug)]
pub struct SwComponents<'a> {
    reader: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for SwComponents<'a> {
    type Item = SwComponent<'a>;

    fn next(&mut self) -> Option<SwComponent<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        sw_component(&mut self.reader).ok()
    }
}

/// The platform token's claims, borrowed from the token.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct PlatformClaims<'a> {
    payload: &'a [u8],
    sw_components: &'a [u8],
    /// The profile.
    pub profile: PlatformProfile,
    /// The challenge: H(RAK) with the realm token's binding algorithm.
    pub challenge: &'a [u8],
    /// The implementation ID (32 bytes).
    pub implementation_id: &'a [u8],
    /// The instance ID (33 bytes, first byte 0x01).
    pub instance_id: &'a [u8],
    /// The platform configuration.
    pub config: &'a [u8],
    /// The security lifecycle value.
    pub lifecycle: u64,
    /// The verification service, if given.
    pub verification_service: Option<&'a str>,
    /// The platform hash algorithm (claim 2402), e.g. "sha-256": the algorithm of the
    /// software components' measurements. Mandatory: TF-A and TF-RMM emit it and veraison's
    /// verifiers refuse a platform token without it.
    pub hash_algorithm: &'a str,
}

impl<'a> PlatformClaims<'a> {
    /// Parses and checks the claims of a platform token's payload.
    ///
    /// # Errors
    ///
    /// [`ClaimError`]: a missing, duplicated or mistyped claim, or a value the profile does
    /// not allow.
    pub fn parse(payload: &'a [u8]) -> Result<Self, ClaimError> {
        let mut table = [None; MAX_CLAIMS];
        claims::read_claims(payload, &mut table)?;
        let t = &table[..];
        let profile = match claims::require(t, PROFILE)?.text()? {
            PROFILE_LEGACY => PlatformProfile::Legacy,
            PROFILE_1_0 => PlatformProfile::V1_0,
            _ => return Err(ClaimError::Value(PROFILE)),
        };
        let challenge = claims::require(t, CHALLENGE)?.bytes()?;
        if !matches!(challenge.len(), 32 | 48 | 64) {
            return Err(ClaimError::Value(CHALLENGE));
        }
        let implementation_id = claims::require(t, IMPLEMENTATION_ID)?.bytes_of(32)?;
        let instance_id = claims::require(t, INSTANCE_ID)?.bytes_of(33)?;
        if instance_id[0] != 0x01 {
            return Err(ClaimError::Value(INSTANCE_ID));
        }
        let config = claims::require(t, CONFIG)?.bytes()?;
        let lifecycle = claims::require(t, LIFECYCLE)?.uint()?;
        if Lifecycle::from_value(lifecycle).is_none() {
            return Err(ClaimError::Value(LIFECYCLE));
        }
        let sw = claims::require(t, SW_COMPONENTS)?;
        let mut r = Reader::new(sw.value);
        let n = r.array().map_err(|_| ClaimError::Type(SW_COMPONENTS))?;
        if n == 0 {
            return Err(ClaimError::Value(SW_COMPONENTS));
        }
        for _ in 0..n {
            sw_component(&mut r)?;
        }
        let verification_service = claims::find(t, VERIFICATION_SERVICE)
            .map(|c| c.text())
            .transpose()?;
        let hash_algorithm = claims::require(t, HASH_ALGORITHM)?.text()?;
        Ok(Self {
            payload,
            sw_components: sw.value,
            profile,
            challenge,
            implementation_id,
            instance_id,
            config,
            lifecycle,
            verification_service,
            hash_algorithm,
        })
    }

    /// The lifecycle state.
    #[must_use]
    pub fn lifecycle_state(&self) -> Lifecycle {
        Lifecycle::from_value(self.lifecycle).unwrap_or(Lifecycle::Unknown)
    }

    /// The software components.
    #[must_use]
    pub fn sw_components(&self) -> SwComponents<'a> {
        let mut reader = Reader::new(self.sw_components);
        let left = reader.array().unwrap_or(0);
        SwComponents { reader, left }
    }

    /// The claims this crate does not know, in token order.
    #[must_use]
    pub fn unknown(&self) -> UnknownClaims<'a> {
        UnknownClaims::new(self.payload, KNOWN)
    }
}
