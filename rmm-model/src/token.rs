//! The attestation token: what the realm claims and who signs it.

use alloc::vec::Vec;

use cca_abi::measurement::{HashAlgorithm, Measurement, REM_COUNT};
use cca_abi::rsi::{CHALLENGE_SIZE, RPV_SIZE};

/// The realm claims the RMM snapshots at `RSI_ATTESTATION_TOKEN_INIT` (DEN0137 A7.2.3.1).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Claims {
    /// The challenge (`x1..x8`).
    pub challenge: [u8; CHALLENGE_SIZE],
    /// The Realm Personalization Value.
    pub rpv: [u8; RPV_SIZE],
    /// The realm's hash algorithm.
    pub hash_algorithm: HashAlgorithm,
    /// The RIM.
    pub rim: Measurement,
    /// REM\[0\] to REM\[3\].
    pub rems: [Measurement; REM_COUNT],
}

/// Why a token could not be made; the realm sees `RSI_ERROR_UNKNOWN`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IssueError {
    /// The model has no attestation key.
    NoKey,
    /// Signing or encoding failed.
    Failed,
}

/// Makes the CCA attestation token for a set of claims.
pub trait TokenIssuer {
    /// The complete token (the collection holding the platform and realm tokens).
    fn issue(&mut self, claims: &Claims) -> Result<Vec<u8>, IssueError>;
}

/// An RMM without attestation keys: every `RSI_ATTESTATION_TOKEN_INIT` fails with
/// `RSI_ERROR_UNKNOWN`, as TF-RMM does when it cannot create the token.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAttestation;

impl TokenIssuer for NoAttestation {
    fn issue(&mut self, _claims: &Claims) -> Result<Vec<u8>, IssueError> {
        Err(IssueError::NoKey)
    }
}

impl<T: TokenIssuer + ?Sized> TokenIssuer for alloc::boxed::Box<T> {
    fn issue(&mut self, claims: &Claims) -> Result<Vec<u8>, IssueError> {
        (**self).issue(claims)
    }
}

/// Where one REC is in the token protocol (TF-RMM keeps this in the REC's aux granules).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub enum TokenState {
    /// No INIT yet, or the last one failed.
    #[default]
    Idle,
    /// INIT done; `steps_left` more CONTINUE calls are spent signing.
    Signing {
        /// Signing steps still to go.
        steps_left: u32,
        /// The token, ready once signing is over.
        token: Vec<u8>,
    },
    /// Signed; `copied` bytes handed out so far.
    Copying {
        /// The token.
        token: Vec<u8>,
        /// Bytes already copied to the realm.
        copied: usize,
    },
    /// Every byte was handed out; CONTINUE now fails with ERROR_STATE until the next INIT.
    Delivered,
}

/// An RMM with attestation keys: it issues real CCA tokens, a realm token signed with a P-384
/// RAK under a platform token signed with a P-256 IAK, bound as TF-RMM binds them (platform
/// challenge = SHA-256 of the RAK's COSE_Key), in the tag-399 format of TF-RMM v0.8.0.
///
/// **Insecure by construction**: the keys come from fixed test scalars; anyone can sign as
/// this "platform". It exists so tests and the QEMU harness exercise real tokens.
pub struct InsecureTestIssuer {
    rak: p384::ecdsa::SigningKey,
    rak_cose_key: Vec<u8>,
    platform_token: Vec<u8>,
    anchor: cca_token::TrustAnchor,
    format: TokenFormat,
}

/// The token formats of the TF-RMM releases the model stands in for
/// (docs/rmi-2.0-tf-rmm-v0.9.0.md §13).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum TokenFormat {
    /// TF-RMM v0.8.0: the tag-399 collection, realm profile 1.0, MEC policy as text.
    #[default]
    TfRmmV0_8,
    /// TF-RMM v0.9.0: the CMW collection (tag 907), otherwise as v0.8.0.
    TfRmmV0_9,
    /// TF-RMM main after v0.9.0 (commit 72aea692): the CMW collection, realm profile 2.0
    /// with the realm instance ID (claim 256) and the MEC policy as an integer.
    TfRmmMain,
}

/// Implementation ID of the test platform.
pub const TEST_IMPLEMENTATION_ID: [u8; 32] = *b"realm-sdk insecure test platform";
/// Instance ID of the test platform (a UEID: type 0x01, then 32 bytes).
pub const TEST_INSTANCE_ID: [u8; 33] = *b"\x01realm-sdk test platform inst 001";

impl InsecureTestIssuer {
    /// The issuer with the fixed test keys, on a platform in the secured lifecycle state
    /// (0x3000).
    #[must_use]
    pub fn new() -> Self {
        Self::with_lifecycle(0x3000)
    }

    /// The issuer with the fixed test keys, on a platform whose token claims `lifecycle`
    /// (claim 2395): for testing what verifiers do with debug or decommissioned platforms.
    ///
    /// # Panics
    ///
    /// Never: the fixed scalars are valid keys and the buffers fit the tokens (checked by
    /// the tests).
    #[must_use]
    pub fn with_lifecycle(lifecycle: u64) -> Self {
        use cca_token::encode::{self, PlatformClaimValues};
        use cca_token::platform::{PROFILE_1_0, SwComponent};
        use sha2::{Digest, Sha256};

        let rak = p384::ecdsa::SigningKey::from_slice(&[0x5a; 48]).expect("valid P-384 scalar");
        let iak = p256::ecdsa::SigningKey::from_slice(&[0xa5; 32]).expect("valid P-256 scalar");
        let point = rak.verifying_key().to_sec1_point(false);
        let xy = point.as_bytes();
        let mut key_buf = [0u8; 128];
        let x: &[u8; 48] = xy[1..49].try_into().expect("48 bytes");
        let y: &[u8; 48] = xy[49..97].try_into().expect("48 bytes");
        let rak_cose_key = cca_token::realm::encode_p384_cose_key(x, y, &mut key_buf)
            .expect("fits")
            .to_vec();
        let binding = Sha256::digest(&rak_cose_key);
        let sw = [SwComponent {
            measurement_type: Some("RMM"),
            measurement_value: &[0x11; 32],
            version: Some("rmm-model"),
            signer_id: &[0x22; 32],
            description: Some("sha-256"),
        }];
        let values = PlatformClaimValues {
            profile: PROFILE_1_0,
            challenge: &binding,
            implementation_id: &TEST_IMPLEMENTATION_ID,
            instance_id: &TEST_INSTANCE_ID,
            config: &[0; 4],
            lifecycle,
            sw_components: &sw,
            verification_service: None,
            hash_algorithm: "sha-256",
        };
        let (mut claims_buf, mut token_buf) = ([0u8; 1024], [0u8; 1024]);
        let claims = encode::platform_claims(&values, &mut claims_buf).expect("fits");
        let platform_token = encode::sign1(claims, &iak, &mut token_buf)
            .expect("fits")
            .to_vec();
        let iak_point = iak.verifying_key().to_sec1_point(false);
        let anchor = cca_token::TrustAnchor {
            implementation_id: TEST_IMPLEMENTATION_ID,
            instance_id: TEST_INSTANCE_ID,
            key: cca_token::PublicKey::from_sec1(iak_point.as_bytes()).expect("valid point"),
        };
        Self {
            rak,
            rak_cose_key,
            platform_token,
            anchor,
            format: TokenFormat::default(),
        }
    }

    /// The same issuer, emitting tokens in `format`.
    #[must_use]
    pub fn with_format(self, format: TokenFormat) -> Self {
        Self { format, ..self }
    }

    /// The trust anchor of the test platform, for verifiers.
    #[must_use]
    pub fn trust_anchor(&self) -> cca_token::TrustAnchor {
        self.anchor.clone()
    }
}

impl Default for InsecureTestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenIssuer for InsecureTestIssuer {
    fn issue(&mut self, claims: &Claims) -> Result<Vec<u8>, IssueError> {
        use cca_token::encode::{self, RealmClaimValues};
        let len = claims.hash_algorithm.digest_len();
        let rems: [&[u8]; REM_COUNT] = core::array::from_fn(|i| &claims.rems[i].as_bytes()[..len]);
        // TF-RMM main draws the instance ID from its PRNG at REALM_CREATE; the model derives
        // it from what identifies the realm, so that tests are repeatable.
        let instance_id: [u8; 33] = {
            use sha2::{Digest, Sha256};
            let digest = Sha256::new()
                .chain_update(b"rmm-model realm instance")
                .chain_update(claims.rim.as_bytes())
                .chain_update(claims.rpv)
                .finalize();
            let mut id = [0x01; 33];
            id[1..].copy_from_slice(&digest);
            id
        };
        let main = self.format == TokenFormat::TfRmmMain;
        let values = RealmClaimValues {
            challenge: &claims.challenge,
            personalization_value: &claims.rpv,
            public_key: &self.rak_cose_key,
            hash_algorithm: claims.hash_algorithm.token_name(),
            public_key_hash_algorithm: "sha-256",
            mec_policy: Some(cca_token::realm::MecPolicy::Shared),
            instance_id: main.then_some(&instance_id[..]),
            profile: Some(if main {
                cca_token::realm::PROFILE_2_0
            } else {
                cca_token::realm::PROFILE_1_0
            }),
            rim: claims.rim.as_bytes(),
            rems,
        };
        let mut claims_buf = alloc::vec![0u8; 2048];
        let mut realm_buf = alloc::vec![0u8; 2048];
        let mut out = alloc::vec![0u8; 4096];
        let realm_claims =
            encode::realm_claims(&values, &mut claims_buf).map_err(|_| IssueError::Failed)?;
        let realm_token = encode::sign1(realm_claims, &self.rak, &mut realm_buf)
            .map_err(|_| IssueError::Failed)?;
        let format = match self.format {
            TokenFormat::TfRmmV0_8 => cca_token::Format::Tag399,
            TokenFormat::TfRmmV0_9 | TokenFormat::TfRmmMain => cca_token::Format::Cmw,
        };
        let token = encode::collection(format, &self.platform_token, realm_token, &mut out)
            .map_err(|_| IssueError::Failed)?;
        Ok(token.to_vec())
    }
}
