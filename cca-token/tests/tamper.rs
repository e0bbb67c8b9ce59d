//! Negative tests: every part of a valid token tampered in turn gives the right typed error,
//! never a panic. Claims are tampered and the token re-signed with test keys, so the claim
//! checks are what fails, not the signature.

use cca_token::encode::{self, PlatformClaimValues, RealmClaimValues};
use cca_token::platform::SwComponent;
use cca_token::{
    ClaimError, CoseError, Format, ParseError, Policy, PublicKey, SignatureError, Token,
    TrustAnchor, VerifyError, realm,
};
use sha2::{Digest, Sha256};

/// Test-only keys (fixed scalars): a P-384 RAK and a P-256 IAK.
fn rak() -> p384::ecdsa::SigningKey {
    p384::ecdsa::SigningKey::from_slice(&[0x11; 48]).unwrap()
}
fn iak() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap()
}

fn anchor() -> TrustAnchor {
    let point = iak().verifying_key().to_sec1_point(false);
    TrustAnchor {
        implementation_id: [0x7f; 32],
        instance_id: core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 }),
        key: PublicKey::from_sec1(point.as_bytes()).unwrap(),
    }
}

fn rak_cose_key(buf: &mut [u8]) -> &[u8] {
    let point = rak().verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    realm::encode_p384_cose_key(
        b[1..49].try_into().unwrap(),
        b[49..].try_into().unwrap(),
        buf,
    )
    .unwrap()
}

/// Builds a token; `tweak_realm` / `tweak_platform` edit the encoded claims before signing.
fn token(
    format: Format,
    tweak_realm: impl FnOnce(&mut Vec<u8>),
    tweak_platform: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut key_buf = [0u8; 128];
    let key = rak_cose_key(&mut key_buf).to_vec();
    let rim = [0x33; 32];
    let rems = [[0u8; 32]; 4];
    let mut buf = [0u8; 2048];
    let realm_claims = encode::realm_claims(
        &RealmClaimValues {
            challenge: &[0x44; 64],
            personalization_value: &[0x55; 64],
            public_key: &key,
            hash_algorithm: "sha-256",
            public_key_hash_algorithm: "sha-256",
            mec_policy: Some("shared"),
            profile: Some(realm::PROFILE_1_0),
            rim: &rim,
            rems: [&rems[0], &rems[1], &rems[2], &rems[3]],
        },
        &mut buf,
    )
    .unwrap();
    let mut realm_claims = realm_claims.to_vec();
    tweak_realm(&mut realm_claims);
    let a = anchor();
    let binding = Sha256::digest(&key);
    let sw = [SwComponent {
        measurement_type: Some("BL2"),
        measurement_value: &[1; 32],
        version: Some("1.0"),
        signer_id: &[2; 32],
        description: Some("sha-256"),
    }];
    let mut pbuf = [0u8; 2048];
    let platform_claims = encode::platform_claims(
        &PlatformClaimValues {
            profile: cca_token::platform::PROFILE_1_0,
            challenge: &binding,
            implementation_id: &a.implementation_id,
            instance_id: &a.instance_id,
            config: &[0xcf; 4],
            lifecycle: 0x3003,
            sw_components: &sw,
            verification_service: Some("https://verifier.invalid"),
            hash_algorithm: Some("sha-256"),
        },
        &mut pbuf,
    )
    .unwrap();
    let mut platform_claims = platform_claims.to_vec();
    tweak_platform(&mut platform_claims);
    let (mut rt, mut pt, mut out) = ([0u8; 4096], [0u8; 4096], [0u8; 8192]);
    let realm_token = encode::sign1(&realm_claims, &rak(), &mut rt).unwrap();
    let platform_token = encode::sign1(&platform_claims, &iak(), &mut pt).unwrap();
    encode::collection(format, platform_token, realm_token, &mut out)
        .unwrap()
        .to_vec()
}

fn valid(format: Format) -> Vec<u8> {
    token(format, |_| {}, |_| {})
}

fn verify(bytes: &[u8]) -> Result<(), String> {
    let t = Token::parse(bytes).map_err(|e| format!("parse: {e:?}"))?;
    t.verify(&[anchor()], &Policy::default())
        .map_err(|e| format!("verify: {e:?}"))
}

/// Replaces the first occurrence of `from` in `v` with `to`.
fn replace(v: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    let at = v
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    v.splice(at..at + from.len(), to.iter().copied());
}

type Tweak = Box<dyn Fn(&mut Vec<u8>)>;
type Case = (&'static str, Tweak, ClaimError);

/// Encodings of claim keys as they appear in the claims map.
fn key(k: i64) -> Vec<u8> {
    let mut b = [0u8; 9];
    let mut w = cca_token::cbor::Writer::new(&mut b);
    w.int(k).unwrap();
    w.written().to_vec()
}

#[test]
fn both_formats_verify() {
    for format in [Format::Tag399, Format::Cmw] {
        let t = valid(format);
        verify(&t).unwrap();
        assert_eq!(Token::parse(&t).unwrap().format, format);
    }
}

/// Each realm claim tampered in turn (and re-signed): the claim's own error.
#[test]
fn realm_claims_tampered() {
    use realm::*;
    let cases: Vec<Case> = vec![
        (
            "challenge too short",
            Box::new(|v| replace(v, &[0x58, 0x40, 0x44], &[0x58, 0x3f])),
            ClaimError::Value(CHALLENGE),
        ),
        (
            "RPV as text",
            Box::new(|v| replace(v, &[0x58, 0x40, 0x55], &[0x78, 0x40, 0x55])),
            ClaimError::Type(PERSONALIZATION_VALUE),
        ),
        (
            "unknown hash algorithm",
            Box::new(|v| replace(v, b"sha-256", b"sha-257")),
            ClaimError::Value(HASH_ALGORITHM),
        ),
        (
            "unknown profile",
            Box::new(|v| replace(v, b"realm#1.0.0", b"realm#9.0.0")),
            ClaimError::Value(PROFILE),
        ),
        (
            "RIM of 31 bytes",
            Box::new(|v| replace(v, &[0x58, 0x20, 0x33], &[0x58, 0x1f])),
            ClaimError::Value(RIM),
        ),
        (
            "three REMs",
            Box::new(|v| replace(v, &[0x84, 0x58, 0x20], &[0x83, 0x58, 0x20])),
            ClaimError::Cbor(cca_token::CborError::Trailing),
        ),
        (
            "duplicated challenge key",
            Box::new(|v| replace(v, &key(PERSONALIZATION_VALUE), &key(CHALLENGE))),
            ClaimError::Duplicate(CHALLENGE),
        ),
        (
            "RAK not on the curve",
            Box::new(off_curve),
            ClaimError::Value(PUBLIC_KEY),
        ),
    ];
    for (what, tweak, want) in cases {
        let t = token(Format::Tag399, |v| tweak(v), |_| {});
        assert_eq!(
            Token::parse(&t).map(drop),
            Err(ParseError::RealmClaim(want)),
            "{what}"
        );
    }
}

/// Changes the RAK's x coordinate (its first byte) so that the point is off the curve.
#[allow(clippy::ptr_arg, reason = "the type every tweak in the table has")]
fn off_curve(v: &mut Vec<u8>) {
    let at = v
        .windows(3)
        .position(|w| w == [0x22, 0x58, 0x30])
        .expect("x of the COSE_Key")
        + 3;
    v[at] ^= 0x01;
}

/// Missing mandatory claims: each removed in turn (its key renamed to an unknown one, which
/// is then kept as an unknown claim, not an error).
#[test]
fn realm_claims_missing() {
    use realm::*;
    for k in [
        CHALLENGE,
        PERSONALIZATION_VALUE,
        HASH_ALGORITHM,
        PUBLIC_KEY,
        PUBLIC_KEY_HASH_ALGORITHM,
        RIM,
        REMS,
    ] {
        let t = token(Format::Tag399, |v| replace(v, &key(k), &key(-99)), |_| {});
        assert_eq!(
            Token::parse(&t).map(drop),
            Err(ParseError::RealmClaim(ClaimError::Missing(k))),
            "{k}"
        );
    }
    let t = token(
        Format::Tag399,
        |v| replace(v, &key(MEC_POLICY), &key(77777)),
        |_| {},
    );
    let parsed = Token::parse(&t).unwrap();
    assert_eq!(parsed.realm_claims.mec_policy, None);
    let unknown: Vec<i64> = parsed.realm_claims.unknown().map(|c| c.key).collect();
    assert_eq!(unknown, [77777]);
}

/// Platform claims tampered (and re-signed).
#[test]
fn platform_claims_tampered() {
    use cca_token::platform::*;
    let cases: Vec<Case> = vec![
        (
            "unknown profile",
            Box::new(|v| replace(v, b"cca_platform#1.0.0", b"cca_platform#7.0.0")),
            ClaimError::Value(PROFILE),
        ),
        (
            "instance ID not starting with 01",
            Box::new(|v| replace(v, &[0x58, 0x21, 0x01], &[0x58, 0x21, 0x02])),
            ClaimError::Value(INSTANCE_ID),
        ),
        (
            "lifecycle out of range",
            Box::new(|v| replace(v, &[0x19, 0x30, 0x03], &[0x19, 0x70, 0x03])),
            ClaimError::Value(LIFECYCLE),
        ),
        (
            "signer ID of 31 bytes",
            Box::new(|v| replace(v, &[0x05, 0x58, 0x20, 0x02], &[0x05, 0x58, 0x1f])),
            ClaimError::Value(SW_COMPONENTS),
        ),
        (
            "missing implementation ID",
            Box::new(|v| replace(v, &key(IMPLEMENTATION_ID), &key(-5))),
            ClaimError::Missing(IMPLEMENTATION_ID),
        ),
    ];
    for (what, tweak, want) in cases {
        let t = token(Format::Tag399, |_| {}, |v| tweak(v));
        assert_eq!(
            Token::parse(&t).map(drop),
            Err(ParseError::PlatformClaim(want)),
            "{what}"
        );
    }
}

/// The binding: a platform challenge that is not H(RAK).
#[test]
fn broken_binding() {
    let t = token(
        Format::Tag399,
        |_| {},
        |v| {
            let at = v.windows(2).position(|w| w == [0x0a, 0x58]).unwrap() + 3;
            v[at] ^= 1;
        },
    );
    assert_eq!(verify(&t), Err("verify: Binding".into()));
}

/// Every byte of each signature flipped: the signature error of that token.
#[test]
fn signature_bytes_tampered() {
    let t = valid(Format::Tag399);
    let parsed = Token::parse(&t).unwrap();
    for (sig, is_realm) in [
        (parsed.realm.signature, true),
        (parsed.platform.signature, false),
    ] {
        let start = sig.as_ptr() as usize - t.as_ptr() as usize;
        for i in start..start + sig.len() {
            let mut bad = t.clone();
            bad[i] ^= 0x01;
            let got = Token::parse(&bad)
                .unwrap()
                .verify(&[anchor()], &Policy::default());
            let ok = match got {
                Err(VerifyError::RealmSignature(
                    SignatureError::Invalid | SignatureError::Malformed,
                )) => is_realm,
                Err(VerifyError::PlatformSignature(
                    SignatureError::Invalid | SignatureError::Malformed,
                )) => !is_realm,
                _ => false,
            };
            assert!(ok, "byte {i}: {got:?}");
        }
    }
}

/// Tags: the collection, the COSE_Sign1s.
#[test]
fn tags_tampered() {
    let mut t = valid(Format::Tag399);
    t[2] = 0x8e; // 399 = 0xd9 0x01 0x8f -> 398
    assert_eq!(Token::parse(&t).map(drop), Err(ParseError::Tag(398)));
    let t = token(Format::Tag399, |_| {}, |_| {});
    let parsed = Token::parse(&t).unwrap();
    // The realm COSE_Sign1 starts with tag 18 (d2), the array head (84) and the protected
    // header's bstr head (43), then the protected header.
    let realm_at = parsed.realm.protected.as_ptr() as usize - t.as_ptr() as usize - 3;
    let mut bad = t.clone();
    assert_eq!(bad[realm_at], 0xd2);
    bad[realm_at] = 0xd1;
    assert_eq!(
        Token::parse(&bad).map(drop),
        Err(ParseError::RealmCose(CoseError::Tag))
    );
}

/// The policy: challenge (zero-padded when short), RIM, RPV.
#[test]
fn policy_checks() {
    let t = valid(Format::Tag399);
    let p = Token::parse(&t).unwrap();
    let a = [anchor()];
    assert_eq!(
        p.verify(
            &a,
            &Policy {
                challenge: Some(&[0x44; 64]),
                rim: Some(&[0x33; 32]),
                personalization_value: Some(&[0x55; 64])
            }
        ),
        Ok(())
    );
    assert_eq!(
        p.verify(
            &a,
            &Policy {
                challenge: Some(&[0x44; 32]),
                ..Policy::default()
            }
        ),
        Err(VerifyError::ChallengeMismatch)
    );
    assert_eq!(
        p.verify(
            &a,
            &Policy {
                challenge: Some(&[0x44; 65]),
                ..Policy::default()
            }
        ),
        Err(VerifyError::ChallengeMismatch)
    );
    assert_eq!(
        p.verify(
            &a,
            &Policy {
                rim: Some(&[0x34; 32]),
                ..Policy::default()
            }
        ),
        Err(VerifyError::RimMismatch)
    );
    assert_eq!(
        p.verify(
            &a,
            &Policy {
                personalization_value: Some(&[0; 64]),
                ..Policy::default()
            }
        ),
        Err(VerifyError::PersonalizationValueMismatch)
    );
}

/// Truncation at every offset is an error; a bit flip in any byte makes the token fail to
/// parse or to verify. Never a panic.
#[test]
fn truncation_and_bit_flips() {
    for format in [Format::Tag399, Format::Cmw] {
        let t = valid(format);
        for len in 0..t.len() {
            assert!(
                Token::parse(&t[..len]).is_err(),
                "{format:?} truncated to {len}"
            );
        }
        // One bit per byte, a different bit each time (every byte; all bits over 8 bytes).
        for i in 0..t.len() {
            let bit = i % 8;
            let mut bad = t.clone();
            bad[i] ^= 1 << bit;
            assert!(
                verify(&bad).is_err(),
                "{format:?} byte {i} bit {bit} still verifies"
            );
        }
    }
}
