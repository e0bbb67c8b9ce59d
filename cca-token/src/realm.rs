//! The realm token's claims (DEN0137 1.0-rel0 A7.2.3.1; TF-RMM v0.8.0; cca-abi.md §7.2).

use crate::cbor::{self, Reader};
use crate::claims::{self, Claim, ClaimError, MAX_CLAIMS, UnknownClaims};
use crate::cose::PublicKey;

/// `10`: the challenge (64 bytes).
pub const CHALLENGE: i64 = 10;
/// `256`: the realm instance ID (profile 2.0).
pub const INSTANCE_ID: i64 = 256;
/// `265`: the profile.
pub const PROFILE: i64 = 265;
/// `44235`: the Realm Personalization Value (64 bytes).
pub const PERSONALIZATION_VALUE: i64 = 44235;
/// `44236`: the hash algorithm of the RIM and REMs.
pub const HASH_ALGORITHM: i64 = 44236;
/// `44237`: the Realm Attestation Key (public).
pub const PUBLIC_KEY: i64 = 44237;
/// `44238`: the RIM.
pub const RIM: i64 = 44238;
/// `44239`: the REMs (array of 4).
pub const REMS: i64 = 44239;
/// `44240`: the hash algorithm that binds the RAK to the platform token.
pub const PUBLIC_KEY_HASH_ALGORITHM: i64 = 44240;
/// `44243`: the MEC policy (TF-RMM v0.8.0 and later).
pub const MEC_POLICY: i64 = 44243;

/// Realm profile 1.0, which TF-RMM v0.8.0 and v0.9.0 emit.
pub const PROFILE_1_0: &str = "tag:arm.com,2023:realm#1.0.0";
/// Realm profile 2.0 (RMM 2.0; adds the mandatory realm instance ID).
pub const PROFILE_2_0: &str = "tag:arm.com,2024:realm#2.0.0";

const KNOWN: &[i64] = &[
    CHALLENGE,
    INSTANCE_ID,
    PROFILE,
    PERSONALIZATION_VALUE,
    HASH_ALGORITHM,
    PUBLIC_KEY,
    RIM,
    REMS,
    PUBLIC_KEY_HASH_ALGORITHM,
    MEC_POLICY,
];

/// Which realm profile a token follows.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RealmProfile {
    /// No profile claim: the early format, with the RAK as a raw SEC1 point.
    Legacy,
    /// `tag:arm.com,2023:realm#1.0.0`: the RAK as a COSE_Key.
    V1_0,
    /// `tag:arm.com,2024:realm#2.0.0`: adds the realm instance ID.
    V2_0,
}

impl RealmProfile {
    /// The profile claim's value; `None` for [`RealmProfile::Legacy`], which has none.
    #[must_use]
    pub const fn as_str(self) -> Option<&'static str> {
        match self {
            Self::Legacy => None,
            Self::V1_0 => Some(PROFILE_1_0),
            Self::V2_0 => Some(PROFILE_2_0),
        }
    }
}

/// The realm's Memory Encryption Context policy (claim 44243).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum MecPolicy {
    /// The realm shares its MEC with other realms: `"shared"` (profile 1.0) or 0
    /// (profile 2.0).
    Shared,
    /// The realm has a MEC of its own: `"private"` or 1.
    Private,
}

impl MecPolicy {
    /// The profile 1.0 spelling: `"shared"` or `"private"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Private => "private",
        }
    }

    /// Reads the claim as `profile` encodes it: text up to profile 1.0 (TF-RMM v0.8.0 and
    /// v0.9.0), an unsigned integer from profile 2.0 on (TF-RMM main, commit 72aea692,
    /// `attestation_token.c`; docs/rmi-2.0-tf-rmm-v0.9.0.md §13).
    fn parse(claim: Claim<'_>, profile: RealmProfile) -> Result<Self, ClaimError> {
        let bad = ClaimError::Value(MEC_POLICY);
        match profile {
            RealmProfile::V2_0 => match claim.uint()? {
                0 => Ok(Self::Shared),
                1 => Ok(Self::Private),
                _ => Err(bad),
            },
            RealmProfile::Legacy | RealmProfile::V1_0 => match claim.text()? {
                "shared" => Ok(Self::Shared),
                "private" => Ok(Self::Private),
                _ => Err(bad),
            },
        }
    }
}

impl core::fmt::Display for MecPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The realm token's claims, borrowed from the token.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RealmClaims<'a> {
    payload: &'a [u8],
    /// The profile.
    pub profile: RealmProfile,
    /// The challenge given to `RSI_ATTESTATION_TOKEN_INIT` (64 bytes).
    pub challenge: &'a [u8],
    /// The Realm Personalization Value (64 bytes).
    pub personalization_value: &'a [u8],
    /// Hash algorithm of the RIM and REMs ("sha-256", "sha-512").
    pub hash_algorithm: &'a str,
    /// The RAK claim exactly as encoded (a COSE_Key, or a SEC1 point for `Legacy`): the
    /// bytes the platform token's challenge binds.
    pub public_key: &'a [u8],
    /// Hash algorithm of the binding ("sha-256", ...).
    pub public_key_hash_algorithm: &'a str,
    /// The RIM.
    pub rim: &'a [u8],
    rems: [&'a [u8]; 4],
    /// The MEC policy, if present.
    pub mec_policy: Option<MecPolicy>,
    /// The realm instance ID (profile 2.0): a 33-byte UEID of type RAND (0x01), made by the
    /// RMM at `RMI_REALM_CREATE`.
    pub instance_id: Option<&'a [u8]>,
}

impl<'a> RealmClaims<'a> {
    /// Parses and checks the claims of a realm token's payload.
    ///
    /// # Errors
    ///
    /// [`ClaimError`]: a missing, duplicated or mistyped claim, or a value the profile does
    /// not allow (challenge or RPV not 64 bytes, a RIM that is not 32, 48 or 64 bytes, REMs
    /// not four of the RIM's length, an unknown hash algorithm or profile, a malformed RAK).
    pub fn parse(payload: &'a [u8]) -> Result<Self, ClaimError> {
        let mut table = [None; MAX_CLAIMS];
        claims::read_claims(payload, &mut table)?;
        let t = &table[..];
        let profile = match claims::find(t, PROFILE) {
            None => RealmProfile::Legacy,
            Some(c) => match c.text()? {
                PROFILE_1_0 => RealmProfile::V1_0,
                PROFILE_2_0 => RealmProfile::V2_0,
                _ => return Err(ClaimError::Value(PROFILE)),
            },
        };
        let challenge = claims::require(t, CHALLENGE)?.bytes_of(64)?;
        let personalization_value = claims::require(t, PERSONALIZATION_VALUE)?.bytes_of(64)?;
        let hash_algorithm = claims::require(t, HASH_ALGORITHM)?.text()?;
        claims::digest_len(hash_algorithm).ok_or(ClaimError::Value(HASH_ALGORITHM))?;
        let public_key = claims::require(t, PUBLIC_KEY)?.bytes()?;
        let public_key_hash_algorithm = claims::require(t, PUBLIC_KEY_HASH_ALGORITHM)?.text()?;
        claims::digest_len(public_key_hash_algorithm)
            .ok_or(ClaimError::Value(PUBLIC_KEY_HASH_ALGORITHM))?;
        // The RIM is a SHA-2 digest and the REMs have its length. Tokens are not required to
        // use the length of the algorithm they name: veraison's sample cca-token-02 names
        // SHA-256 with 64-byte measurements, and verifiers accept it; a relying party compares
        // the RIM with the value it expects in any case.
        let rim = claims::require(t, RIM)?.bytes()?;
        let len = rim.len();
        if !matches!(len, 32 | 48 | 64) {
            return Err(ClaimError::Value(RIM));
        }
        let rems = parse_rems(claims::require(t, REMS)?, len)?;
        let mec_policy = claims::find(t, MEC_POLICY)
            .map(|c| MecPolicy::parse(c, profile))
            .transpose()?;
        // Profile 2.0 makes the instance ID mandatory; TF-RMM main writes 33 bytes, the
        // first 0x01 (UEID type RAND; `REALM_INSTANCE_ID_SIZE`, `generate_realm_instance_id`).
        let instance_id = match claims::find(t, INSTANCE_ID) {
            Some(c) => {
                let id = c.bytes_of(33)?;
                if id[0] != 0x01 {
                    return Err(ClaimError::Value(INSTANCE_ID));
                }
                Some(id)
            }
            None if profile == RealmProfile::V2_0 => return Err(ClaimError::Missing(INSTANCE_ID)),
            None => None,
        };
        let claims = Self {
            payload,
            profile,
            challenge,
            personalization_value,
            hash_algorithm,
            public_key,
            public_key_hash_algorithm,
            rim,
            rems,
            mec_policy,
            instance_id,
        };
        claims.rak().map_err(|_| ClaimError::Value(PUBLIC_KEY))?;
        Ok(claims)
    }

    /// REM\[0\] to REM\[3\].
    #[must_use]
    pub const fn rems(&self) -> [&'a [u8]; 4] {
        self.rems
    }

    /// The Realm Attestation Key: from the COSE_Key (EC2; P-256, P-384 or P-521), or for a
    /// legacy token from the SEC1 point.
    ///
    /// # Errors
    ///
    /// [`ClaimError::Value`] if the key is malformed or not on its curve.
    pub fn rak(&self) -> Result<PublicKey, ClaimError> {
        let bad = ClaimError::Value(PUBLIC_KEY);
        match self.profile {
            RealmProfile::Legacy => PublicKey::from_sec1(self.public_key).map_err(|_| bad),
            RealmProfile::V1_0 | RealmProfile::V2_0 => cose_key(self.public_key).ok_or(bad),
        }
    }

    /// The claims this crate does not know, in token order.
    #[must_use]
    pub fn unknown(&self) -> UnknownClaims<'a> {
        UnknownClaims::new(self.payload, KNOWN)
    }
}

fn parse_rems(claim: Claim<'_>, len: usize) -> Result<[&[u8]; 4], ClaimError> {
    let mut r = Reader::new(claim.value);
    if r.array().map_err(|_| ClaimError::Type(REMS))? != 4 {
        return Err(ClaimError::Value(REMS));
    }
    let mut rems = [&[][..]; 4];
    for rem in &mut rems {
        *rem = r.bytes().map_err(|_| ClaimError::Type(REMS))?;
        if rem.len() != len {
            return Err(ClaimError::Value(REMS));
        }
    }
    Ok(rems)
}

/// Decodes an EC2 COSE_Key (RFC 9053 §7.1.1): kty 2, crv 1/2/3, x and y.
fn cose_key(bytes: &[u8]) -> Option<PublicKey> {
    let mut r = Reader::new(bytes);
    let n = r.map().ok()?;
    let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
    for _ in 0..n {
        let label = r.int().ok()?;
        let slot = match label {
            1 => kty.replace(r.int().ok()?).map(drop),
            -1 => crv.replace(r.int().ok()?).map(drop),
            -2 => x.replace(r.bytes().ok()?).map(drop),
            -3 => y.replace(r.bytes().ok()?).map(drop),
            _ => {
                r.item().ok()?;
                None
            }
        };
        if slot.is_some() {
            return None;
        }
    }
    r.finish().ok()?;
    let size = match crv? {
        1 => 32,
        2 => 48,
        3 => 66,
        _ => return None,
    };
    let (x, y) = (x?, y?);
    if kty? != 2 || x.len() != size {
        return None;
    }
    PublicKey::from_coordinates(x, y).ok()
}

/// Writes a COSE_Key for a P-384 point given by `x` and `y` (48 bytes each), as TF-RMM
/// encodes the RAK: `{1: 2, -1: 2, -2: x, -3: y}`.
pub fn encode_p384_cose_key<'b>(
    x: &[u8; 48],
    y: &[u8; 48],
    out: &'b mut [u8],
) -> Result<&'b [u8], cbor::BufferFull> {
    let mut w = cbor::Writer::new(out);
    w.head(cbor::MAP, 4)?;
    w.int(1)?;
    w.int(2)?;
    w.int(-1)?;
    w.int(2)?;
    w.int(-2)?;
    w.bytes(x)?;
    w.int(-3)?;
    w.bytes(y)?;
    Ok(w.into_written())
}
