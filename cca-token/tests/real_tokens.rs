//! The real tokens in ../shared/testdata: veraison's samples and the tokens TF-RMM v0.8.0
//! made. Read in place; each test skips with a reason when the folder is absent, and fails
//! in CI (the `testdata` crate).

use cca_token::{Format, Policy, PublicKey, Token, TrustAnchor, VerifyError, platform, realm};
use testdata::read as testdata;

fn anchors(rel: &str) -> Option<Vec<TrustAnchor>> {
    let json = String::from_utf8(testdata(rel)?).unwrap();
    Some(cca_token::anchors::from_json(&json).unwrap())
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s.trim()[i..i + 2], 16).unwrap())
        .collect()
}

/// veraison cca-token-01 verifies fully (realm ES384, binding, platform ES384) against the
/// anchor for TF-A's sample platform key.
#[test]
fn cca_token_01_verifies_with_ta_tfa() {
    let (Some(bytes), Some(ta)) = (
        testdata("veraison/cca-token-01.cbor"),
        anchors("veraison/ta-tfa.json"),
    ) else {
        return;
    };
    let token = Token::parse(&bytes).unwrap();
    assert_eq!(token.format, Format::Tag399);
    assert_eq!(
        token.platform_claims.profile,
        platform::PlatformProfile::Legacy
    );
    // No realm profile claim: the RAK is the raw 97-byte SEC1 point (cca-abi.md §7.2).
    assert_eq!(token.realm_claims.profile, realm::RealmProfile::Legacy);
    assert_eq!(token.realm_claims.public_key.len(), 97);
    let v = token.verify(ta.as_slice(), &Policy::default()).unwrap();
    assert_eq!(v.realm, token.realm_claims);
}

/// ta.json is for another instance ID: no anchor, a typed error.
#[test]
fn cca_token_01_does_not_verify_with_ta() {
    let (Some(bytes), Some(ta)) = (
        testdata("veraison/cca-token-01.cbor"),
        anchors("veraison/ta.json"),
    ) else {
        return;
    };
    let token = Token::parse(&bytes).unwrap();
    assert_eq!(
        token.verify(ta.as_slice(), &Policy::default()),
        Err(VerifyError::NoTrustAnchor)
    );
}

/// veraison cca-token-02 parses (ES256 platform token); its realm signature verifies and
/// its binding holds with SHA-512, the algorithm its claim 44240 names (the case of veraison
/// rust-ccatoken issue 33: a verifier that always uses SHA-256 rejects this token).
#[test]
fn cca_token_02_parses() {
    let Some(bytes) = testdata("veraison/cca-token-02.cbor") else {
        return;
    };
    let token = Token::parse(&bytes).unwrap();
    assert!(token.platform_claims.sw_components().count() >= 1);
    assert_eq!(token.platform.algorithm, cca_token::Algorithm::Es256);
    assert_eq!(token.realm_claims.public_key_hash_algorithm, "sha-512");
    assert_eq!(token.verify_realm(), Ok(()));
    // Neither sample anchor is for its platform (instance ID 01 02 02 ...).
    if let Some(ta) = anchors("veraison/ta.json") {
        assert_eq!(
            token.verify(ta.as_slice(), &Policy::default()),
            Err(VerifyError::NoTrustAnchor)
        );
    }
}

/// Every TF-RMM v0.8.0 token: tag 399; realm signature and binding verify; the claims equal
/// the vector's challenge, RIM and REMs; the platform token verifies with TF-A's sample key.
#[test]
fn tf_rmm_v0_8_0_tokens() {
    for variant in ["sha256", "sha512", "sha256-rpv"] {
        let dir = format!("tf-rmm/tf-rmm-v0.8.0/{variant}");
        let Some(bytes) = testdata(&format!("{dir}/token.cbor")) else {
            return;
        };
        let token = Token::parse(&bytes).unwrap();
        assert_eq!(token.format, Format::Tag399, "{variant}");
        token.verify_realm().unwrap();
        let r = &token.realm_claims;
        assert_eq!(r.profile, realm::RealmProfile::V1_0);
        assert_eq!(
            r.challenge,
            testdata(&format!("{dir}/challenge.bin")).unwrap()
        );
        let rim = String::from_utf8(testdata(&format!("{dir}/rim.hex")).unwrap()).unwrap();
        assert_eq!(r.rim, hex(&rim));
        let rems = String::from_utf8(testdata(&format!("{dir}/rems.hex")).unwrap()).unwrap();
        let want: Vec<Vec<u8>> = rems.lines().map(hex).collect();
        assert_eq!(r.rems().map(<[u8]>::to_vec).to_vec(), want, "{variant}");
        assert_eq!(r.mec_policy, Some(cca_token::realm::MecPolicy::Shared));
        assert_eq!(token.platform_claims.sw_components().count(), 13);
        let ta = anchors("veraison/ta-tfa.json").unwrap();
        let policy = Policy {
            challenge: Some(r.challenge),
            rim: Some(&hex(&rim)),
            personalization_value: None,
        };
        token.verify(ta.as_slice(), &policy).unwrap();
    }
}

/// JSON value of a claim in token-claims.json (keys are strings).
fn claim(claims: &serde_json::Value, key: i64) -> &serde_json::Value {
    &claims[key.to_string()]
}

fn json_hex(v: &serde_json::Value) -> Vec<u8> {
    hex(v.as_str().expect("hex string"))
}

/// Every claim of the TF-RMM v0.8.0 tokens equals the decoding in the vector's
/// token-claims.json (an independent decoder), platform and realm, including every software
/// component, the signatures and the protected headers' algorithm.
#[test]
fn tf_rmm_v0_8_0_claims_match_token_claims_json() {
    for variant in ["sha256", "sha512", "sha256-rpv"] {
        let dir = format!("tf-rmm/tf-rmm-v0.8.0/{variant}");
        let (Some(bytes), Some(json)) = (
            testdata(&format!("{dir}/token.cbor")),
            testdata(&format!("{dir}/token-claims.json")),
        ) else {
            return;
        };
        let want: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let t = Token::parse(&bytes).unwrap();
        assert_eq!(want["outer_tag"], 399);

        let (pj, p) = (&want["platform_token"], &t.platform_claims);
        assert_eq!(pj["protected"]["1"], t.platform.algorithm.cose());
        assert_eq!(json_hex(&pj["signature"]), t.platform.signature);
        let c = &pj["claims"];
        assert_eq!(claim(c, platform::PROFILE), platform::PROFILE_1_0);
        assert_eq!(p.profile, platform::PlatformProfile::V1_0);
        assert_eq!(json_hex(claim(c, platform::CHALLENGE)), p.challenge);
        assert_eq!(
            json_hex(claim(c, platform::IMPLEMENTATION_ID)),
            p.implementation_id
        );
        assert_eq!(json_hex(claim(c, platform::INSTANCE_ID)), p.instance_id);
        assert_eq!(json_hex(claim(c, platform::CONFIG)), p.config);
        assert_eq!(claim(c, platform::LIFECYCLE), p.lifecycle);
        assert_eq!(p.lifecycle_state(), platform::Lifecycle::Secured);
        assert_eq!(claim(c, platform::HASH_ALGORITHM), p.hash_algorithm);
        assert_eq!(
            claim(c, platform::VERIFICATION_SERVICE),
            p.verification_service.unwrap()
        );
        let sw_json = claim(c, platform::SW_COMPONENTS).as_array().unwrap();
        assert_eq!(sw_json.len(), p.sw_components().count());
        for (j, sw) in sw_json.iter().zip(p.sw_components()) {
            assert_eq!(j["1"], sw.measurement_type.unwrap());
            assert_eq!(json_hex(&j["2"]), sw.measurement_value);
            assert_eq!(json_hex(&j["5"]), sw.signer_id);
            assert_eq!(j["6"], sw.description.unwrap());
            assert_eq!(j.get("4").is_some(), sw.version.is_some());
        }
        assert_eq!(p.unknown().count(), 0);

        let (rj, r) = (&want["realm_token"], &t.realm_claims);
        assert_eq!(rj["protected"]["1"], t.realm.algorithm.cose());
        assert_eq!(json_hex(&rj["signature"]), t.realm.signature);
        let c = &rj["claims"];
        assert_eq!(json_hex(claim(c, realm::CHALLENGE)), r.challenge);
        assert_eq!(
            json_hex(claim(c, realm::PERSONALIZATION_VALUE)),
            r.personalization_value
        );
        assert_eq!(json_hex(claim(c, realm::PUBLIC_KEY)), r.public_key);
        assert_eq!(claim(c, realm::HASH_ALGORITHM), r.hash_algorithm);
        assert_eq!(
            claim(c, realm::PUBLIC_KEY_HASH_ALGORITHM),
            r.public_key_hash_algorithm
        );
        assert_eq!(claim(c, realm::MEC_POLICY), r.mec_policy.unwrap().as_str());
        assert_eq!(claim(c, realm::PROFILE), realm::PROFILE_1_0);
        assert_eq!(json_hex(claim(c, realm::RIM)), r.rim);
        let rems: Vec<Vec<u8>> = claim(c, realm::REMS)
            .as_array()
            .unwrap()
            .iter()
            .map(json_hex)
            .collect();
        assert_eq!(rems, r.rems().map(<[u8]>::to_vec));
        assert_eq!(r.unknown().count(), 0);
        // The RAK's coordinates, decoded independently.
        let PublicKey::P384(rak) = r.rak().unwrap() else {
            panic!("{variant}: the RAK is not P-384");
        };
        let point = rak.to_sec1_point(false);
        let xy = &point.as_bytes()[1..];
        assert_eq!(json_hex(&rj["rak_cose_key"]["-2"]), xy[..48]);
        assert_eq!(json_hex(&rj["rak_cose_key"]["-3"]), xy[48..]);
    }
}

/// A real token truncated at every offset fails to parse, and a bit flipped in any byte
/// makes it fail to parse or to verify (TF-RMM v0.8.0 sha256 against ta-tfa.json): the
/// typed error of the layer that caught it, never a panic.
#[test]
fn tf_rmm_token_truncated_and_flipped() {
    let (Some(bytes), Some(ta)) = (
        testdata("tf-rmm/tf-rmm-v0.8.0/sha256/token.cbor"),
        anchors("veraison/ta-tfa.json"),
    ) else {
        return;
    };
    for len in 0..bytes.len() {
        assert!(Token::parse(&bytes[..len]).is_err(), "truncated to {len}");
    }
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (i % 8);
        if let Ok(t) = Token::parse(&bad) {
            assert!(
                t.verify(ta.as_slice(), &Policy::default()).is_err(),
                "byte {i} flipped still verifies"
            );
        }
    }
}

/// Random corruption (fixed-seed xorshift, so failures reproduce): 1 to 4 random bytes of
/// a real token replaced by random values, 1000 times. Every mutant fails to parse or to
/// verify with a typed error; none panics and none verifies.
#[test]
fn tf_rmm_token_random_byte_replacements() {
    let (Some(bytes), Some(ta)) = (
        testdata("tf-rmm/tf-rmm-v0.8.0/sha512/token.cbor"),
        anchors("veraison/ta-tfa.json"),
    ) else {
        return;
    };
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..1000 {
        let mut bad = bytes.clone();
        for _ in 0..=next() % 4 {
            let at = (next() % bad.len() as u64) as usize;
            bad[at] = next() as u8;
        }
        if bad == bytes {
            continue;
        }
        if let Ok(t) = Token::parse(&bad) {
            assert!(
                t.verify(ta.as_slice(), &Policy::default()).is_err(),
                "round {round}: a corrupted token verifies"
            );
        }
    }
}
