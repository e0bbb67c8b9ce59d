//! Negative tests: every part of a valid token tampered in turn gives the right typed error,
//! never a panic. Claims are tampered and the token re-signed with test keys, so the claim
//! checks are what fails, not the signature.

use cca_token::claims::Label;
use cca_token::encode::{self, PlatformClaimValues, RealmClaimValues};
use cca_token::platform::SwComponent;
use cca_token::{
    ClaimError, CoseError, Format, ParseError, Policy, PublicKey, SignatureError, Token,
    TrustAnchor, VerifyError, realm,
};
use sha2::{Digest, Sha256};

mod common;

use common::{anchor, iak, rak};

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
            mec_policy: Some(cca_token::realm::MecPolicy::Shared),
            instance_id: None,
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
            hash_algorithm: "sha-256",
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
        .map(drop)
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
    let unknown: Vec<_> = parsed.realm_claims.unknown().map(|c| c.label).collect();
    assert_eq!(unknown, [Label::Int(77777)]);
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
        (
            // TF-A and TF-RMM emit claim 2402 and veraison's verifiers require it.
            "missing platform hash algorithm",
            Box::new(|v| replace(v, &key(HASH_ALGORITHM), &key(-5))),
            ClaimError::Missing(HASH_ALGORITHM),
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
        )
        .map(|v| v.realm.rim),
        Ok(&[0x33u8; 32][..])
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

/// Replaces the head byte(s) `from` that follow claim `k`'s key with `to`: retypes a claim.
fn retype(v: &mut Vec<u8>, k: i64, from: &[u8], to: &[u8]) {
    let mut pat = key(k);
    pat.extend_from_slice(from);
    let mut new = key(k);
    new.extend_from_slice(to);
    replace(v, &pat, &new);
}

/// Replaces the encoded value of claim `k` in the claims map `v` with `value`.
fn set_value(v: &mut Vec<u8>, k: i64, value: &[u8]) {
    let mut r = cca_token::cbor::Reader::new(v);
    let n = r.map().unwrap();
    for _ in 0..n {
        let key = r.int().unwrap();
        let item = r.item().unwrap();
        if key == k {
            let at = item.as_ptr() as usize - v.as_ptr() as usize;
            let len = item.len();
            v.splice(at..at + len, value.iter().copied());
            return;
        }
    }
    panic!("claim {k} absent");
}

/// Each realm claim given a value of the wrong CBOR type in turn (and re-signed):
/// `Type(key)` (cca-abi.md §7.2 claim types).
#[test]
fn realm_claims_mistyped() {
    use realm::*;
    // uint 0 or "x" where a byte string is due, h'78' where a text string is due, ...
    let cases: [(i64, &[u8]); 10] = [
        (CHALLENGE, &[0x61, b'x']),
        (PERSONALIZATION_VALUE, &[0x00]),
        (PUBLIC_KEY, &[0x61, b'x']),
        (HASH_ALGORITHM, &[0x41, b'x']),
        (PUBLIC_KEY_HASH_ALGORITHM, &[0x00]),
        (MEC_POLICY, &[0x00]),
        (PROFILE, &[0x41, b'x']),
        (RIM, &[0x00]),
        (REMS, &[0x00]),
        (REMS, &[0xa0]),
    ];
    for (k, value) in cases {
        let t = token(Format::Tag399, |v| set_value(v, k, value), |_| {});
        assert_eq!(
            Token::parse(&t).map(drop),
            Err(ParseError::RealmClaim(ClaimError::Type(k))),
            "claim {k} = {value:02x?}"
        );
    }
}

/// REMs must be exactly four (DEN0137 A7.2.3.1: REM\[0..3\]): three, each of the RIM's length.
#[test]
fn realm_three_rems() {
    let t = token(
        Format::Tag399,
        |v| {
            // The REMs are the last claim: drop the last (34-byte) REM, fix the array head.
            v.truncate(v.len() - 34);
            retype(v, realm::REMS, &[0x84], &[0x83]);
        },
        |_| {},
    );
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::RealmClaim(ClaimError::Value(realm::REMS)))
    );
}

/// Each platform claim given a value of the wrong CBOR type (and re-signed): `Type(key)`
/// (cca-abi.md §7.3 claim types).
#[test]
fn platform_claims_mistyped() {
    use cca_token::platform::*;
    let cases: [(i64, &[u8]); 10] = [
        (PROFILE, &[0x41, b'x']),
        (CHALLENGE, &[0x00]),
        (IMPLEMENTATION_ID, &[0x61, b'x']),
        (INSTANCE_ID, &[0x00]),
        (CONFIG, &[0x61, b'x']),
        (LIFECYCLE, &[0x61, b'x']),
        (LIFECYCLE, &[0x39, 0x30, 0x03]),
        (HASH_ALGORITHM, &[0x00]),
        (VERIFICATION_SERVICE, &[0x41, b'x']),
        (SW_COMPONENTS, &[0xa0]),
    ];
    for (k, value) in cases {
        let t = token(Format::Tag399, |_| {}, |v| set_value(v, k, value));
        assert_eq!(
            Token::parse(&t).map(drop),
            Err(ParseError::PlatformClaim(ClaimError::Type(k))),
            "claim {k} = {value:02x?}"
        );
    }
    // A software component's measurement type as a byte string.
    let t = token(
        Format::Tag399,
        |_| {},
        |v| replace(v, &[0x01, 0x63, b'B'], &[0x01, 0x43, b'B']),
    );
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::PlatformClaim(ClaimError::Type(SW_COMPONENTS)))
    );
    // A duplicated platform claim.
    let t = token(
        Format::Tag399,
        |_| {},
        |v| replace(v, &key(CONFIG), &key(IMPLEMENTATION_ID)),
    );
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::PlatformClaim(ClaimError::Duplicate(
            IMPLEMENTATION_ID
        )))
    );
}

/// The realm profile 2.0 (tag:arm.com,2024:realm#2.0.0) makes claim 256, the realm instance
/// ID, mandatory and spells the MEC policy as an integer; with both the token parses and
/// verifies.
#[test]
fn realm_profile_2_0_needs_instance_id() {
    let to_2_0 = |v: &mut Vec<u8>| {
        replace(
            v,
            realm::PROFILE_1_0.as_bytes(),
            realm::PROFILE_2_0.as_bytes(),
        );
        let mut text = key(realm::MEC_POLICY);
        text.extend_from_slice(b"\x66shared");
        let mut integer = key(realm::MEC_POLICY);
        integer.push(0x00);
        replace(v, &text, &integer);
    };
    // The profile 1.0 spelling under profile 2.0 is refused.
    let text_mec = token(
        Format::Cmw,
        |v| {
            replace(
                v,
                realm::PROFILE_1_0.as_bytes(),
                realm::PROFILE_2_0.as_bytes(),
            )
        },
        |_| {},
    );
    assert_eq!(
        Token::parse(&text_mec).map(drop),
        Err(ParseError::RealmClaim(ClaimError::Type(realm::MEC_POLICY)))
    );
    let t = token(Format::Tag399, to_2_0, |_| {});
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::RealmClaim(ClaimError::Missing(
            realm::INSTANCE_ID
        )))
    );
    let t = token(
        Format::Cmw,
        |v| {
            to_2_0(v);
            // One more claim: the map head grows by one, claim 256 goes at the end.
            v[0] += 1;
            v.extend_from_slice(&key(realm::INSTANCE_ID));
            v.extend_from_slice(&[0x58, 0x21, 0x01]);
            v.extend_from_slice(&[0x5a; 32]);
        },
        |_| {},
    );
    let v = verify_ok(&t);
    assert_eq!(v.realm.profile, realm::RealmProfile::V2_0);
    assert_eq!(v.realm.instance_id.map(<[u8]>::len), Some(33));
}

fn verify_ok(bytes: &[u8]) -> cca_token::Verified<'_> {
    Token::parse(bytes)
        .unwrap()
        .verify(&[anchor()], &Policy::default())
        .unwrap()
}

/// The binding hash is the one realm claim 44240 names (veraison rust-ccatoken issue 33):
/// with "sha-512" the platform challenge must be SHA-512 of the RAK claim bytes; a SHA-256
/// challenge then fails, and a SHA-512 one verifies.
#[test]
fn binding_uses_the_realm_algorithm() {
    let mut key_buf = [0u8; 128];
    let key_bytes = rak_cose_key(&mut key_buf).to_vec();
    let sha512 = |v: &mut Vec<u8>| {
        retype(
            v,
            realm::PUBLIC_KEY_HASH_ALGORITHM,
            b"\x67sha-256",
            b"\x67sha-512",
        );
    };
    let t = token(Format::Tag399, sha512, |_| {});
    assert_eq!(verify(&t), Err("verify: Binding".into()));
    let t = token(Format::Tag399, sha512, |v| {
        let old = Sha256::digest(&key_bytes);
        let mut from = vec![0x58, 0x20];
        from.extend_from_slice(&old);
        let mut to = vec![0x58, 0x40];
        to.extend_from_slice(&sha2::Sha512::digest(&key_bytes));
        replace(v, &from, &to);
    });
    assert_eq!(verify_ok(&t).realm.public_key_hash_algorithm, "sha-512");
}

/// The realm token's RAK as a raw SEC1 point is accepted only without a profile claim
/// (legacy), and a COSE_Key only with one (cca-abi.md §7.2, veraison realm/claims.go).
#[test]
fn rak_encoding_follows_the_profile() {
    let point = rak().verifying_key().to_sec1_point(false);
    let mut key_buf = [0u8; 128];
    let cose = rak_cose_key(&mut key_buf).to_vec();
    // Legacy: drop the profile claim (rename its key), swap the COSE_Key for the point.
    let legacy = |v: &mut Vec<u8>| {
        let mut from = key(realm::PUBLIC_KEY);
        from.extend_from_slice(&[0x58, cose.len() as u8]);
        from.extend_from_slice(&cose);
        let mut to = key(realm::PUBLIC_KEY);
        to.extend_from_slice(&[0x58, 97]);
        to.extend_from_slice(point.as_bytes());
        replace(v, &from, &to);
    };
    let t = token(
        Format::Tag399,
        |v| {
            legacy(v);
            replace(v, &key(realm::PROFILE), &key(-70000));
        },
        |_| {},
    );
    // The binding still hashes the claim bytes, now the point: a mismatch, parse succeeds.
    let parsed = Token::parse(&t).unwrap();
    assert_eq!(parsed.realm_claims.profile, realm::RealmProfile::Legacy);
    assert!(parsed.realm_claims.rak().is_ok());
    assert_eq!(parsed.verify_realm(), Err(VerifyError::Binding));
    // A point with the 1.0 profile is refused.
    let t = token(Format::Tag399, legacy, |_| {});
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::RealmClaim(ClaimError::Value(realm::PUBLIC_KEY)))
    );
}

/// Signature algorithms: an unsupported one is a parse error (`UnsupportedAlgorithm`); a
/// supported one that is not the key's is `AlgorithmMismatch` at verification.
#[test]
fn algorithms() {
    let t = valid(Format::Tag399);
    // The realm COSE_Sign1's protected header {1: -35} = a1 01 38 22.
    let p = Token::parse(&t).unwrap();
    let at = p.realm.protected.as_ptr() as usize - t.as_ptr() as usize;
    assert_eq!(&t[at..at + 4], [0xa1, 0x01, 0x38, 0x22]);
    let mut bad = t.clone();
    bad[at + 3] = 0x24; // -37: PS256
    assert_eq!(
        Token::parse(&bad).map(drop),
        Err(ParseError::RealmCose(CoseError::UnsupportedAlgorithm(-37)))
    );
    let mut bad = t.clone();
    bad[at + 3] = 0x23; // -36: ES512, not the P-384 RAK's
    assert_eq!(
        Token::parse(&bad).unwrap().verify_realm(),
        Err(VerifyError::RealmSignature(
            SignatureError::AlgorithmMismatch {
                token: cca_token::Algorithm::Es512,
                key: cca_token::Algorithm::Es384
            }
        ))
    );
    // A P-384 anchor for a platform token signed ES256.
    let point = rak().verifying_key().to_sec1_point(false);
    let wrong = TrustAnchor {
        key: PublicKey::from_sec1(point.as_bytes()).unwrap(),
        ..anchor()
    };
    assert_eq!(
        p.verify(&[wrong], &Policy::default()).map(drop),
        Err(VerifyError::PlatformSignature(
            SignatureError::AlgorithmMismatch {
                token: cca_token::Algorithm::Es256,
                key: cca_token::Algorithm::Es384
            }
        ))
    );
}

/// Trust anchors are found by implementation ID and instance ID together.
#[test]
fn anchor_lookup_needs_both_ids() {
    let t = valid(Format::Cmw);
    let p = Token::parse(&t).unwrap();
    let mut other_instance = anchor();
    other_instance.instance_id[32] ^= 1;
    let mut other_implementation = anchor();
    other_implementation.implementation_id[0] ^= 1;
    for a in [other_instance, other_implementation] {
        assert_eq!(
            p.verify(&[a], &Policy::default()).map(drop),
            Err(VerifyError::NoTrustAnchor)
        );
    }
    let none: [TrustAnchor; 0] = [];
    assert_eq!(
        p.verify(&none, &Policy::default()).map(drop),
        Err(VerifyError::NoTrustAnchor)
    );
}

/// The collection (cca-abi.md §7.1): other keys, repeated keys, a CMW record of another
/// content format, bytes after the collection.
#[test]
fn collection_tampered() {
    let t = valid(Format::Tag399);
    // d9 01 8f a2 19 ac ca ...: 44234 = 19 ac ca, 44241 = 19 ac d1.
    let mut bad = t.clone();
    bad[6] = 0xcb;
    assert_eq!(
        Token::parse(&bad).map(drop),
        Err(ParseError::CollectionKeys)
    );
    let mut bad = t.clone();
    replace(&mut bad, &[0x19, 0xac, 0xd1], &[0x19, 0xac, 0xca]);
    assert_eq!(
        Token::parse(&bad).map(drop),
        Err(ParseError::CollectionKeys)
    );
    let mut bad = t.clone();
    bad.push(0);
    assert_eq!(
        Token::parse(&bad).map(drop),
        Err(ParseError::Collection(cca_token::CborError::Trailing))
    );
    let c = valid(Format::Cmw);
    // 44234: [263, ...] = 19 ac ca 82 19 01 07.
    let mut bad = c.clone();
    replace(
        &mut bad,
        &[0x82, 0x19, 0x01, 0x07],
        &[0x82, 0x19, 0x01, 0x08],
    );
    assert_eq!(Token::parse(&bad).map(drop), Err(ParseError::CmwRecord));
    // A tag-399 body under tag 907 is not a CMW collection.
    let mut bad = t.clone();
    bad[1..3].copy_from_slice(&907u16.to_be_bytes());
    assert_eq!(Token::parse(&bad).map(drop), Err(ParseError::CmwRecord));
}

/// Claims with text labels (EAT allows them) are unknown claims, kept and never fatal; a
/// repeated text label is an error like a repeated key.
#[test]
fn text_labelled_claims() {
    let add = |v: &mut Vec<u8>| {
        v[0] += 1;
        v.extend_from_slice(&[0x63, b'f', b'o', b'o', 0x43, 1, 2, 3]);
    };
    let t = token(Format::Tag399, add, |v| add(v));
    let v = verify_ok(&t);
    let unknown: Vec<_> = v.realm.unknown().collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].label, Label::Text("foo"));
    assert_eq!(unknown[0].value, [0x43, 1, 2, 3]);
    assert_eq!(v.platform.unknown().count(), 1);
    let t = token(
        Format::Tag399,
        |v| {
            add(v);
            add(v);
        },
        |_| {},
    );
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::RealmClaim(ClaimError::DuplicateText))
    );
    // A label that is neither an integer nor text.
    let t = token(
        Format::Tag399,
        |v| {
            v[0] += 1;
            v.extend_from_slice(&[0x41, 0, 0]);
        },
        |_| {},
    );
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::RealmClaim(ClaimError::Cbor(
            cca_token::CborError::UnexpectedType
        )))
    );
}

/// The encoder-made fuzz seeds committed in fuzz/seeds (written by the `fuzz_seeds`
/// example with these tests' keys) parse and verify: the fuzzer starts from valid tokens of
/// both formats, both realm hash algorithms and the legacy RAK encoding.
#[test]
fn committed_fuzz_seeds_verify() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/token_parse");
    let mut formats = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let v = verify_ok(&bytes);
        assert_eq!(v.realm.challenge, [0x44; 64]);
        formats.push((Token::parse(&bytes).unwrap().format, v.realm.profile));
    }
    assert_eq!(formats.len(), 4);
    assert!(formats.contains(&(Format::Cmw, realm::RealmProfile::V1_0)));
    assert!(formats.contains(&(Format::Tag399, realm::RealmProfile::Legacy)));
}

/// A COSE_Sign1 over `payload` with the given serialized protected header and unprotected
/// header map, properly signed by `key` (ES384 for the RAK, ES256 for the IAK).
fn sign1_with_headers(
    payload: &[u8],
    protected: &[u8],
    unprotected: &[u8],
    rak_key: bool,
) -> Vec<u8> {
    use cca_token::Algorithm;
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    let algorithm = if rak_key {
        Algorithm::Es384
    } else {
        Algorithm::Es256
    };
    let unsigned = cca_token::Sign1 {
        protected,
        algorithm,
        payload,
        signature: &[],
    };
    let mut digest = [0u8; 64];
    let n = unsigned.digest(&mut digest);
    let signature = if rak_key {
        let s: p384::ecdsa::Signature = rak().sign_prehash(&digest[..n]).unwrap();
        s.to_bytes().to_vec()
    } else {
        let s: p256::ecdsa::Signature = iak().sign_prehash(&digest[..n]).unwrap();
        s.to_bytes().to_vec()
    };
    let mut buf = [0u8; 8192];
    let mut w = cca_token::cbor::Writer::new(&mut buf);
    // Tag 18 (COSE_Sign1) around an array of four items.
    w.raw(&[0xd2, 0x84]).unwrap();
    w.bytes(protected).unwrap();
    w.raw(unprotected).unwrap();
    w.bytes(payload).unwrap();
    w.bytes(&signature).unwrap();
    w.written().to_vec()
}

/// The valid token with its realm (or platform) COSE_Sign1 re-signed with these headers.
fn token_with_headers(realm_side: bool, protected: &[u8], unprotected: &[u8]) -> Vec<u8> {
    let valid = valid(Format::Tag399);
    let t = Token::parse(&valid).unwrap();
    let (mut pbuf, mut rbuf, mut out) = ([0u8; 4096], [0u8; 4096], [0u8; 8192]);
    let (platform, realm) = if realm_side {
        (
            encode::sign1(t.platform.payload, &iak(), &mut pbuf)
                .unwrap()
                .to_vec(),
            sign1_with_headers(t.realm.payload, protected, unprotected, true),
        )
    } else {
        (
            sign1_with_headers(t.platform.payload, protected, unprotected, false),
            encode::sign1(t.realm.payload, &rak(), &mut rbuf)
                .unwrap()
                .to_vec(),
        )
    };
    encode::collection(Format::Tag399, &platform, &realm, &mut out)
        .unwrap()
        .to_vec()
}

/// RFC 9052 §3 and §3.1 header rules, on properly signed tokens: crit naming a label the
/// crate does not process, a malformed crit, crit in the unprotected header, a label in
/// both headers and a label twice in one map (integer and text) are each refused with
/// their own error; the same helper with acceptable headers verifies, so the refusals come
/// from the header checks and not from the signature.
#[test]
fn cose_header_rules() {
    use cca_token::Header;
    const ES384: &[u8] = &[0xa1, 0x01, 0x38, 0x22];
    const EMPTY: &[u8] = &[0xa0];
    // Acceptable: crit [1] (alg, which the crate processes); a kid in the unprotected header.
    for (protected, unprotected) in [
        (ES384, EMPTY),
        (&[0xa2, 0x01, 0x38, 0x22, 0x02, 0x81, 0x01][..], EMPTY),
        (ES384, &[0xa1, 0x04, 0x43, b'k', b'i', b'd'][..]),
    ] {
        verify(&token_with_headers(true, protected, unprotected)).unwrap();
    }
    let cases: [(&str, &[u8], &[u8], CoseError); 13] = [
        (
            "crit [4] with a kid",
            &[0xa3, 0x01, 0x38, 0x22, 0x02, 0x81, 0x04, 0x04, 0x41, 0x01],
            EMPTY,
            CoseError::UnprocessedCritical(4),
        ),
        (
            "crit [\"x\"]",
            &[
                0xa3, 0x01, 0x38, 0x22, 0x02, 0x81, 0x61, b'x', 0x61, b'x', 0x01,
            ],
            EMPTY,
            CoseError::UnprocessedCriticalText,
        ),
        (
            "crit []",
            &[0xa2, 0x01, 0x38, 0x22, 0x02, 0x80],
            EMPTY,
            CoseError::Crit,
        ),
        (
            "crit 1 (not an array)",
            &[0xa2, 0x01, 0x38, 0x22, 0x02, 0x01],
            EMPTY,
            CoseError::Crit,
        ),
        (
            "crit [h'01']",
            &[0xa2, 0x01, 0x38, 0x22, 0x02, 0x81, 0x41, 0x01],
            EMPTY,
            CoseError::Crit,
        ),
        (
            "crit [1] unprotected",
            ES384,
            &[0xa1, 0x02, 0x81, 0x01],
            CoseError::CritUnprotected,
        ),
        (
            "alg in both headers",
            ES384,
            ES384,
            CoseError::LabelInBothHeaders,
        ),
        (
            "kid in both headers",
            &[0xa2, 0x01, 0x38, 0x22, 0x04, 0x41, 0x01],
            &[0xa1, 0x04, 0x41, 0x01],
            CoseError::LabelInBothHeaders,
        ),
        (
            "text label in both headers",
            &[0xa2, 0x01, 0x38, 0x22, 0x61, b'x', 0x01],
            &[0xa1, 0x61, b'x', 0x01],
            CoseError::LabelInBothHeaders,
        ),
        (
            "alg twice in the protected header",
            &[0xa2, 0x01, 0x38, 0x22, 0x01, 0x38, 0x22],
            EMPTY,
            CoseError::DuplicateLabel(Header::Protected),
        ),
        (
            "text label twice in the protected header",
            &[0xa3, 0x01, 0x38, 0x22, 0x61, b'x', 0x01, 0x61, b'x', 0x02],
            EMPTY,
            CoseError::DuplicateLabel(Header::Protected),
        ),
        (
            "kid twice in the unprotected header",
            ES384,
            &[0xa2, 0x04, 0x40, 0x04, 0x40],
            CoseError::DuplicateLabel(Header::Unprotected),
        ),
        (
            "text label twice in the unprotected header",
            ES384,
            &[0xa2, 0x61, b'k', 0x01, 0x61, b'k', 0x02],
            CoseError::DuplicateLabel(Header::Unprotected),
        ),
    ];
    for (what, protected, unprotected, want) in cases {
        let t = token_with_headers(true, protected, unprotected);
        assert_eq!(
            Token::parse(&t).map(drop),
            Err(ParseError::RealmCose(want)),
            "{what}"
        );
        // Each refusal is a sentence naming the rule.
        assert!(want.to_string().starts_with("COSE_Sign1: "), "{what}");
    }
    // The platform token is held to the same rules.
    let es256_crit_kid = [0xa3, 0x01, 0x26, 0x02, 0x81, 0x04, 0x04, 0x41, 0x01];
    let t = token_with_headers(false, &es256_crit_kid, EMPTY);
    assert_eq!(
        Token::parse(&t).map(drop),
        Err(ParseError::PlatformCose(CoseError::UnprocessedCritical(4)))
    );
    verify(&token_with_headers(false, &[0xa1, 0x01, 0x26], EMPTY)).unwrap();
}
