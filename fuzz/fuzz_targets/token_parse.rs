//! Fuzzes the CCA token parser, every claim accessor and verification against fixed trust
//! anchors: no input may panic.
//!
//! Anchors: the test platform key of the encoder-made seeds (cca-token's `fuzz_seeds`
//! example: P-256 scalar `0x22…22`), so mutated seeds reach the platform signature and the
//! policy; plus, when ../shared/testdata is present, the TF-A sample key (ta-tfa.json) that
//! the real tokens verify with.
#![no_main]

use std::sync::OnceLock;

use cca_token::{Policy, PublicKey, Token, TrustAnchor};
use libfuzzer_sys::fuzz_target;

fn anchors() -> &'static [TrustAnchor] {
    static ANCHORS: OnceLock<Vec<TrustAnchor>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let iak = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).expect("test scalar");
        let point = iak.verifying_key().to_sec1_point(false);
        let mut anchors = vec![TrustAnchor {
            implementation_id: [0x7f; 32],
            instance_id: core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 }),
            key: PublicKey::from_sec1(point.as_bytes()).expect("valid point"),
        }];
        let ta = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/veraison/ta-tfa.json");
        if let Ok(json) = std::fs::read_to_string(ta) {
            anchors.extend(cca_token::anchors::from_json(&json).expect("ta-tfa.json parses"));
        }
        anchors
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = Token::parse(data) else { return };
    let r = &token.realm_claims;
    let _ = r.rak();
    let _ = r.rems();
    let _ = r.unknown().count();
    let p = &token.platform_claims;
    let _ = p.sw_components().count();
    let _ = p.unknown().count();
    let _ = p.lifecycle_state();
    let _ = token.verify_realm();
    let challenge = [0x44; 64];
    let policy = Policy { challenge: Some(&challenge), rim: None, personalization_value: None };
    if let Ok(v) = token.verify(anchors(), &policy) {
        // A verified token's claims are the parsed ones.
        assert_eq!(v.realm, *r);
    }
});
