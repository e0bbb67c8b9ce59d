//! Arm CCA attestation tokens: parse, verify and encode them in `no_std`, with no heap.
//!
//! A CCA token (DEN0137 RMM 1.0 A7; TF-RMM v0.8.0 and v0.9.0; cca-abi.md §7) is a collection
//! of two COSE_Sign1 tokens: the **platform token**, signed by the platform's Initial
//! Attestation Key (IAK), and the **realm token**, signed by the Realm Attestation Key (RAK)
//! it carries. The platform token's challenge is a hash of that RAK, which binds the two.
//!
//! - [`Token::parse`] reads both collection formats: CBOR tag 399 (TF-RMM up to v0.8.0)
//!   and the CMW collection under tag 907 (TF-RMM v0.9.0 and later), borrowing every claim
//!   from the input;
//! - [`Token::verify`] checks the realm signature, the binding, the platform signature with
//!   a [`TrustAnchor`] found by implementation and instance ID, and a [`Policy`]; every
//!   failure is its own [`VerifyError`];
//! - [`appraisal::Appraisal::appraise`] then checks what the relying party accepts in a
//!   verified token: platform lifecycle (secured by default), profiles, hash algorithms,
//!   software components against reference values, RIMs, RPV and REMs; with `std`,
//!   `appraisal::PolicyFile` loads such a policy from JSON;
//! - [`encode`] writes tokens (the software RMM model and tests use it), signing through
//!   [`encode::Signer`].
//!
//! Realm claims follow DEN0137 A7.2.3.1 with the realm profiles
//! `tag:arm.com,2023:realm#1.0.0` and `tag:arm.com,2024:realm#2.0.0` (and the earlier
//! profile-less form); platform claims follow the Arm CCA platform token profile
//! `tag:arm.com,2023:cca_platform#1.0.0` (and the earlier `http://arm.com/CCA-SSD/1.0.0`).
//!
//! The same code runs in a realm, in firmware and on a server: no heap, no `unsafe`, and
//! no input makes it panic. Features: `std` adds loading trust anchors from JSON
//! (module `anchors`) and appraisal policies from JSON (`appraisal::PolicyFile`); `sign` adds
//! [`encode::Signer`] for p256 and p384 signing keys.
//!
//! ```
//! use cca_token::{Policy, PublicKey, Token, TrustAnchor};
//! # let bytes: &[u8] = include_bytes!(concat!(
//! #     env!("CARGO_MANIFEST_DIR"),
//! #     "/../fuzz/seeds/token_parse/encoder-cmw-sha256.cbor"
//! # ));
//! # let iak = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
//! # let iak_point = iak.verifying_key().to_sec1_point(false);
//! let token = Token::parse(bytes)?;
//! // The relying party knows the platform's key by its implementation and instance ID.
//! let anchors = [TrustAnchor {
//!     implementation_id: [0x7f; 32],
//!     instance_id: core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 }),
//!     key: PublicKey::from_sec1(iak_point.as_bytes())?,
//! }];
//! let policy = Policy { challenge: Some(&[0x44; 64]), ..Policy::default() };
//! let verified = token.verify(&anchors, &policy)?;
//! assert_eq!(verified.realm.hash_algorithm, "sha-256");
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly) marks what a feature or target gates.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
pub mod anchors;
pub mod appraisal;
pub mod cbor;
pub mod claims;
pub mod cose;
pub mod encode;
#[cfg(feature = "std")]
pub mod json;
pub mod platform;
pub mod realm;

use core::fmt;

use sha2::{Digest, Sha256, Sha384, Sha512};

pub use cbor::CborError;
pub use claims::ClaimError;
pub use cose::{Algorithm, CoseError, Header, PublicKey, Sign1, SignatureError};
pub use platform::PlatformClaims;
pub use realm::RealmClaims;

/// CBOR tag of the CCA token collection up to TF-RMM v0.8.0.
pub const CCA_TOKEN_TAG: u64 = 399;
/// CBOR tag of the CMW collection (TF-RMM v0.9.0 and later).
pub const CMW_COLLECTION_TAG: u64 = 907;
/// Collection key of the platform token.
pub const PLATFORM_KEY: i64 = 44234;
/// Collection key of the realm token.
pub const REALM_KEY: i64 = 44241;
/// CoAP content format of a CMW record's token: `application/eat+cwt`.
pub const CMW_EAT_CWT: u64 = 263;

/// The collection format of a token.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Format {
    /// Tag 399: the map values are the COSE_Sign1 tokens in byte strings.
    Tag399,
    /// Tag 907: the map values are CMW records `[263, bstr]`.
    Cmw,
}

/// Why a token could not be parsed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ParseError {
    /// The collection is not a CBOR tag 399 or 907 around a map.
    Collection(CborError),
    /// The outer tag is neither 399 nor 907.
    Tag(u64),
    /// The collection lacks the platform or realm token, repeats one, or has other keys.
    CollectionKeys,
    /// A CMW record is not `[263, bstr]`.
    CmwRecord,
    /// The platform COSE_Sign1 is malformed.
    PlatformCose(CoseError),
    /// The realm COSE_Sign1 is malformed.
    RealmCose(CoseError),
    /// A platform claim is wrong.
    PlatformClaim(ClaimError),
    /// A realm claim is wrong.
    RealmClaim(ClaimError),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Collection(e) => write!(f, "token collection: {e}"),
            Self::Tag(t) => write!(f, "token collection: tag {t} is neither 399 nor 907"),
            Self::CollectionKeys => {
                f.write_str("token collection: needs exactly keys 44234 and 44241")
            }
            Self::CmwRecord => f.write_str("token collection: CMW record is not [263, bstr]"),
            Self::PlatformCose(e) => write!(f, "platform token: {e}"),
            Self::RealmCose(e) => write!(f, "realm token: {e}"),
            Self::PlatformClaim(e) => write!(f, "platform token: {e}"),
            Self::RealmClaim(e) => write!(f, "realm token: {e}"),
        }
    }
}

impl core::error::Error for ParseError {}

/// A parsed CCA token, borrowing from its bytes.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Token<'a> {
    /// The collection format.
    pub format: Format,
    /// The platform token.
    pub platform: Sign1<'a>,
    /// The realm token.
    pub realm: Sign1<'a>,
    /// The platform token's claims.
    pub platform_claims: PlatformClaims<'a>,
    /// The realm token's claims.
    pub realm_claims: RealmClaims<'a>,
}

fn collection_entry<'a>(r: &mut cbor::Reader<'a>, format: Format) -> Result<&'a [u8], ParseError> {
    match format {
        Format::Tag399 => r.bytes().map_err(ParseError::Collection),
        Format::Cmw => {
            if r.array().map_err(|_| ParseError::CmwRecord)? != 2
                || r.uint().map_err(|_| ParseError::CmwRecord)? != CMW_EAT_CWT
            {
                return Err(ParseError::CmwRecord);
            }
            r.bytes().map_err(|_| ParseError::CmwRecord)
        }
    }
}

impl<'a> Token<'a> {
    /// Parses a CCA token and checks the structure of both tokens and of every claim. No
    /// signature is checked: see [`Token::verify`].
    ///
    /// # Errors
    ///
    /// [`ParseError`], for any input that is not a well-formed CCA token.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = cbor::Reader::new(bytes);
        let format = match r.tag().map_err(ParseError::Collection)? {
            CCA_TOKEN_TAG => Format::Tag399,
            CMW_COLLECTION_TAG => Format::Cmw,
            other => return Err(ParseError::Tag(other)),
        };
        if r.map().map_err(ParseError::Collection)? != 2 {
            return Err(ParseError::CollectionKeys);
        }
        let (mut platform, mut realm) = (None, None);
        for _ in 0..2 {
            let slot = match r.int().map_err(ParseError::Collection)? {
                PLATFORM_KEY => &mut platform,
                REALM_KEY => &mut realm,
                _ => return Err(ParseError::CollectionKeys),
            };
            if slot.replace(collection_entry(&mut r, format)?).is_some() {
                return Err(ParseError::CollectionKeys);
            }
        }
        r.finish().map_err(ParseError::Collection)?;
        let (Some(platform), Some(realm)) = (platform, realm) else {
            return Err(ParseError::CollectionKeys);
        };
        let platform = Sign1::parse(platform).map_err(ParseError::PlatformCose)?;
        let realm = Sign1::parse(realm).map_err(ParseError::RealmCose)?;
        let platform_claims =
            PlatformClaims::parse(platform.payload).map_err(ParseError::PlatformClaim)?;
        let realm_claims = RealmClaims::parse(realm.payload).map_err(ParseError::RealmClaim)?;
        Ok(Self {
            format,
            platform,
            realm,
            platform_claims,
            realm_claims,
        })
    }

    /// Verifies the token: the realm signature with its RAK, the binding, the platform
    /// signature with the anchor for its implementation and instance ID, then `policy`.
    ///
    /// # Errors
    ///
    /// The first check that fails, as a [`VerifyError`].
    pub fn verify(
        &self,
        anchors: &(impl TrustAnchors + ?Sized),
        policy: &Policy<'_>,
    ) -> Result<Verified<'a>, VerifyError> {
        self.verify_realm()?;
        let p = &self.platform_claims;
        let key = anchors
            .find(p.implementation_id, p.instance_id)
            .ok_or(VerifyError::NoTrustAnchor)?;
        self.platform
            .verify(key)
            .map_err(VerifyError::PlatformSignature)?;
        policy.check(self)?;
        Ok(Verified {
            realm: self.realm_claims,
            platform: self.platform_claims,
        })
    }

    /// The checks that need no trust anchor: the realm signature with the RAK the realm
    /// token carries, and the binding of that RAK to the platform token. A realm can run
    /// these on its own token.
    ///
    /// # Errors
    ///
    /// [`VerifyError::RealmSignature`] or [`VerifyError::Binding`].
    pub fn verify_realm(&self) -> Result<(), VerifyError> {
        // The key was checked when the claims were parsed, so this cannot fail in practice.
        let rak = self.realm_claims.rak().map_err(|_| VerifyError::RealmKey)?;
        self.realm
            .verify(&rak)
            .map_err(VerifyError::RealmSignature)?;
        if !binding_holds(&self.realm_claims, self.platform_claims.challenge) {
            return Err(VerifyError::Binding);
        }
        Ok(())
    }
}

/// Whether `challenge` is the hash of the realm's RAK claim bytes with the algorithm the
/// realm token names in claim 44240 (veraison rust-ccatoken issue 33: the algorithm is the
/// realm token's, not a fixed one).
fn binding_holds(realm: &RealmClaims<'_>, challenge: &[u8]) -> bool {
    let key = realm.public_key;
    match realm.public_key_hash_algorithm {
        "sha-256" => Sha256::digest(key).as_slice() == challenge,
        "sha-384" => Sha384::digest(key).as_slice() == challenge,
        "sha-512" => Sha512::digest(key).as_slice() == challenge,
        _ => false,
    }
}

/// A platform verification key with the identity it belongs to.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TrustAnchor {
    /// Implementation ID (32 bytes).
    pub implementation_id: [u8; 32],
    /// Instance ID (33 bytes).
    pub instance_id: [u8; 33],
    /// The IAK's public key.
    pub key: PublicKey,
}

/// Looks trust anchors up by implementation and instance ID.
pub trait TrustAnchors {
    /// The key of the platform with these IDs.
    fn find(&self, implementation_id: &[u8], instance_id: &[u8]) -> Option<&PublicKey>;
}

impl TrustAnchors for [TrustAnchor] {
    fn find(&self, implementation_id: &[u8], instance_id: &[u8]) -> Option<&PublicKey> {
        self.iter()
            .find(|a| a.implementation_id == implementation_id && a.instance_id == instance_id)
            .map(|a| &a.key)
    }
}

impl<const N: usize> TrustAnchors for [TrustAnchor; N] {
    fn find(&self, implementation_id: &[u8], instance_id: &[u8]) -> Option<&PublicKey> {
        self.as_slice().find(implementation_id, instance_id)
    }
}

/// What the relying party expects beyond valid signatures.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Policy<'p> {
    /// The challenge the realm was given; shorter than 64 bytes is zero-padded (as realms
    /// pad it).
    pub challenge: Option<&'p [u8]>,
    /// The expected RIM.
    pub rim: Option<&'p [u8]>,
    /// The expected Realm Personalization Value.
    pub personalization_value: Option<&'p [u8]>,
}

impl Policy<'_> {
    fn check(&self, token: &Token<'_>) -> Result<(), VerifyError> {
        let r = &token.realm_claims;
        if let Some(c) = self.challenge {
            let mut padded = [0u8; 64];
            let fits = c.len() <= 64;
            padded[..c.len().min(64)].copy_from_slice(&c[..c.len().min(64)]);
            if !fits || padded[..] != *r.challenge {
                return Err(VerifyError::ChallengeMismatch);
            }
        }
        if self.rim.is_some_and(|rim| rim != r.rim) {
            return Err(VerifyError::RimMismatch);
        }
        if self
            .personalization_value
            .is_some_and(|v| v != r.personalization_value)
        {
            return Err(VerifyError::PersonalizationValueMismatch);
        }
        Ok(())
    }
}

/// The claims of a token that passed [`Token::verify`]: both signatures, the binding and
/// the policy held.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Verified<'a> {
    /// The realm token's claims, signed by the RAK that the platform token binds.
    pub realm: RealmClaims<'a>,
    /// The platform token's claims, signed by the trust anchor's key.
    pub platform: PlatformClaims<'a>,
}

/// Why a parsed token did not verify. Malformed input is a [`ParseError`] instead.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum VerifyError {
    /// The RAK claim is not a usable key (parsing rejects this already).
    RealmKey,
    /// The realm token's signature does not verify with its RAK.
    RealmSignature(SignatureError),
    /// The platform challenge is not the hash of the RAK.
    Binding,
    /// No trust anchor for the platform's implementation and instance ID.
    NoTrustAnchor,
    /// The platform token's signature does not verify with the anchor's key.
    PlatformSignature(SignatureError),
    /// The realm challenge is not the expected one.
    ChallengeMismatch,
    /// The RIM is not the expected one.
    RimMismatch,
    /// The RPV is not the expected one.
    PersonalizationValueMismatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RealmKey => f.write_str("the realm token's RAK is not a usable key"),
            Self::RealmSignature(e) => write!(f, "realm token signature: {e}"),
            Self::Binding => {
                f.write_str("the platform challenge is not the hash of the realm's RAK")
            }
            Self::NoTrustAnchor => {
                f.write_str("no trust anchor for this platform's implementation and instance ID")
            }
            Self::PlatformSignature(e) => write!(f, "platform token signature: {e}"),
            Self::ChallengeMismatch => f.write_str("the realm challenge is not the expected one"),
            Self::RimMismatch => f.write_str("the RIM is not the expected one"),
            Self::PersonalizationValueMismatch => f.write_str("the RPV is not the expected one"),
        }
    }
}

impl core::error::Error for VerifyError {}
