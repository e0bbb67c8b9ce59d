//! The real tokens in ../shared/testdata: veraison's samples and the tokens TF-RMM v0.8.0
//! made. Read in place; each test skips with a reason when the folder is absent.

use std::path::PathBuf;

use cca_token::{Format, Policy, Token, TrustAnchor, VerifyError, platform, realm};

fn testdata(rel: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(rel);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipped: {} is absent", path.display());
            None
        }
    }
}

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
    token.verify(ta.as_slice(), &Policy::default()).unwrap();
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

/// veraison cca-token-02 parses.
#[test]
fn cca_token_02_parses() {
    let Some(bytes) = testdata("veraison/cca-token-02.cbor") else {
        return;
    };
    let token = Token::parse(&bytes).unwrap();
    assert!(token.platform_claims.sw_components().count() >= 1);
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
        assert_eq!(r.mec_policy, Some("shared"));
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
