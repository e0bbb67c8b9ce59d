//! Writing CCA tokens into caller buffers, without a heap: claims, COSE_Sign1 and the
//! collection. The software RMM model issues its tokens with this, and tests re-sign tampered
//! tokens with it so that claim checks are reached past the signature.

use crate::cbor::{self, BufferFull, Writer};
use crate::cose::{Algorithm, COSE_SIGN1_TAG, Sign1};
use crate::platform::{self, SwComponent};
use crate::{
    CCA_TOKEN_TAG, CMW_COLLECTION_TAG, CMW_EAT_CWT, Format, PLATFORM_KEY, REALM_KEY, realm,
};

/// Why a token could not be written.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferFull,
    /// The signer failed.
    Sign,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BufferFull => "the token does not fit the output buffer",
            Self::Sign => "the signer failed",
        })
    }
}

impl core::error::Error for EncodeError {}

impl From<BufferFull> for EncodeError {
    fn from(_: BufferFull) -> Self {
        Self::BufferFull
    }
}

/// Signs COSE_Sign1 digests.
pub trait Signer {
    /// The algorithm (and so the hash) this signer uses.
    fn algorithm(&self) -> Algorithm;
    /// Signs `digest`, writing `r ‖ s` into `out`; returns its length.
    fn sign_prehash(&self, digest: &[u8], out: &mut [u8; 132]) -> Result<usize, EncodeError>;
}

#[cfg(feature = "sign")]
impl Signer for p384::ecdsa::SigningKey {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es384
    }

    fn sign_prehash(&self, digest: &[u8], out: &mut [u8; 132]) -> Result<usize, EncodeError> {
        use p384::ecdsa::signature::hazmat::PrehashSigner;
        let sig: p384::ecdsa::Signature =
            PrehashSigner::sign_prehash(self, digest).map_err(|_| EncodeError::Sign)?;
        out[..96].copy_from_slice(&sig.to_bytes());
        Ok(96)
    }
}

#[cfg(feature = "sign")]
impl Signer for p256::ecdsa::SigningKey {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn sign_prehash(&self, digest: &[u8], out: &mut [u8; 132]) -> Result<usize, EncodeError> {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        let sig: p256::ecdsa::Signature =
            PrehashSigner::sign_prehash(self, digest).map_err(|_| EncodeError::Sign)?;
        out[..64].copy_from_slice(&sig.to_bytes());
        Ok(64)
    }
}

/// Writes a tagged COSE_Sign1 over `payload`, protected header `{1: alg}`, empty
/// unprotected header, signed by `signer`.
pub fn sign1<'b>(
    payload: &[u8],
    signer: &impl Signer,
    out: &'b mut [u8],
) -> Result<&'b [u8], EncodeError> {
    let algorithm = signer.algorithm();
    let mut protected_buf = [0u8; 8];
    let mut p = Writer::new(&mut protected_buf);
    p.head(cbor::MAP, 1)?;
    p.int(1)?;
    p.int(algorithm.cose())?;
    let protected = p.into_written();
    let unsigned = Sign1 {
        protected,
        algorithm,
        payload,
        signature: &[],
    };
    let mut digest = [0u8; 64];
    let n = unsigned.digest(&mut digest);
    let mut sig = [0u8; 132];
    let sig_len = signer.sign_prehash(&digest[..n], &mut sig)?;
    let mut w = Writer::new(out);
    w.head(cbor::TAG, COSE_SIGN1_TAG)?;
    w.head(cbor::ARRAY, 4)?;
    w.bytes(protected)?;
    w.head(cbor::MAP, 0)?;
    w.bytes(payload)?;
    w.bytes(&sig[..sig_len])?;
    Ok(w.into_written())
}

/// The realm claims to write.
#[derive(Clone, Copy, Debug)]
pub struct RealmClaimValues<'a> {
    /// Claim 10.
    pub challenge: &'a [u8],
    /// Claim 44235.
    pub personalization_value: &'a [u8],
    /// Claim 44237: the RAK, already encoded (a COSE_Key for the 1.0 profile).
    pub public_key: &'a [u8],
    /// Claim 44236.
    pub hash_algorithm: &'a str,
    /// Claim 44240.
    pub public_key_hash_algorithm: &'a str,
    /// Claim 44243, if any: text for profile 1.0, an integer for profile 2.0.
    pub mec_policy: Option<realm::MecPolicy>,
    /// Claim 265, if any.
    pub profile: Option<&'a str>,
    /// Claim 256, the realm instance ID (profile 2.0), if any.
    pub instance_id: Option<&'a [u8]>,
    /// Claim 44238.
    pub rim: &'a [u8],
    /// Claim 44239.
    pub rems: [&'a [u8]; 4],
}

/// Writes realm claims in the order TF-RMM emits them: v0.8.0 and v0.9.0, and TF-RMM main
/// for profile 2.0 (the instance ID second, the MEC policy as an integer;
/// docs/rmi-2.0-tf-rmm-v0.9.0.md §13).
pub fn realm_claims<'b>(
    v: &RealmClaimValues<'_>,
    out: &'b mut [u8],
) -> Result<&'b [u8], EncodeError> {
    let mut w = Writer::new(out);
    let n = 7
        + u64::from(v.mec_policy.is_some())
        + u64::from(v.profile.is_some())
        + u64::from(v.instance_id.is_some());
    w.head(cbor::MAP, n)?;
    w.int(realm::CHALLENGE)?;
    w.bytes(v.challenge)?;
    if let Some(id) = v.instance_id {
        w.int(realm::INSTANCE_ID)?;
        w.bytes(id)?;
    }
    w.int(realm::PERSONALIZATION_VALUE)?;
    w.bytes(v.personalization_value)?;
    w.int(realm::PUBLIC_KEY)?;
    w.bytes(v.public_key)?;
    w.int(realm::HASH_ALGORITHM)?;
    w.text(v.hash_algorithm)?;
    w.int(realm::PUBLIC_KEY_HASH_ALGORITHM)?;
    w.text(v.public_key_hash_algorithm)?;
    if let Some(m) = v.mec_policy {
        w.int(realm::MEC_POLICY)?;
        if v.profile == Some(realm::PROFILE_2_0) {
            w.head(cbor::UINT, u64::from(m == realm::MecPolicy::Private))?;
        } else {
            w.text(m.as_str())?;
        }
    }
    if let Some(p) = v.profile {
        w.int(realm::PROFILE)?;
        w.text(p)?;
    }
    w.int(realm::RIM)?;
    w.bytes(v.rim)?;
    w.int(realm::REMS)?;
    w.head(cbor::ARRAY, 4)?;
    for rem in v.rems {
        w.bytes(rem)?;
    }
    Ok(w.into_written())
}

/// The platform claims to write.
#[derive(Clone, Copy, Debug)]
pub struct PlatformClaimValues<'a> {
    /// Claim 265.
    pub profile: &'a str,
    /// Claim 10.
    pub challenge: &'a [u8],
    /// Claim 2396.
    pub implementation_id: &'a [u8],
    /// Claim 256.
    pub instance_id: &'a [u8],
    /// Claim 2401.
    pub config: &'a [u8],
    /// Claim 2395.
    pub lifecycle: u64,
    /// Claim 2399.
    pub sw_components: &'a [SwComponent<'a>],
    /// Claim 2400, if any.
    pub verification_service: Option<&'a str>,
    /// Claim 2402 (always written: it is mandatory).
    pub hash_algorithm: &'a str,
}

/// Writes platform claims.
pub fn platform_claims<'b>(
    v: &PlatformClaimValues<'_>,
    out: &'b mut [u8],
) -> Result<&'b [u8], EncodeError> {
    let mut w = Writer::new(out);
    let n = 8 + u64::from(v.verification_service.is_some());
    w.head(cbor::MAP, n)?;
    w.int(platform::PROFILE)?;
    w.text(v.profile)?;
    w.int(platform::CHALLENGE)?;
    w.bytes(v.challenge)?;
    w.int(platform::IMPLEMENTATION_ID)?;
    w.bytes(v.implementation_id)?;
    w.int(platform::INSTANCE_ID)?;
    w.bytes(v.instance_id)?;
    w.int(platform::CONFIG)?;
    w.bytes(v.config)?;
    w.int(platform::LIFECYCLE)?;
    w.head(cbor::UINT, v.lifecycle)?;
    w.int(platform::HASH_ALGORITHM)?;
    w.text(v.hash_algorithm)?;
    w.int(platform::SW_COMPONENTS)?;
    w.head(cbor::ARRAY, v.sw_components.len() as u64)?;
    for c in v.sw_components {
        let fields = [
            c.measurement_type.is_some(),
            true,
            c.version.is_some(),
            true,
            c.description.is_some(),
        ];
        w.head(cbor::MAP, fields.iter().filter(|f| **f).count() as u64)?;
        if let Some(t) = c.measurement_type {
            w.int(1)?;
            w.text(t)?;
        }
        w.int(2)?;
        w.bytes(c.measurement_value)?;
        if let Some(v) = c.version {
            w.int(4)?;
            w.text(v)?;
        }
        w.int(5)?;
        w.bytes(c.signer_id)?;
        if let Some(d) = c.description {
            w.int(6)?;
            w.text(d)?;
        }
    }
    if let Some(s) = v.verification_service {
        w.int(platform::VERIFICATION_SERVICE)?;
        w.text(s)?;
    }
    Ok(w.into_written())
}

/// Writes the collection of a platform and a realm COSE_Sign1 in `format`.
pub fn collection<'b>(
    format: Format,
    platform: &[u8],
    realm: &[u8],
    out: &'b mut [u8],
) -> Result<&'b [u8], EncodeError> {
    let mut w = Writer::new(out);
    let tag = match format {
        Format::Tag399 => CCA_TOKEN_TAG,
        Format::Cmw => CMW_COLLECTION_TAG,
    };
    w.head(cbor::TAG, tag)?;
    w.head(cbor::MAP, 2)?;
    for (key, token) in [(PLATFORM_KEY, platform), (REALM_KEY, realm)] {
        w.int(key)?;
        if format == Format::Cmw {
            w.head(cbor::ARRAY, 2)?;
            w.head(cbor::UINT, CMW_EAT_CWT)?;
        }
        w.bytes(token)?;
    }
    Ok(w.into_written())
}
