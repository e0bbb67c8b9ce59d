//! Fuzzes the CCA token parser, every claim accessor and verification against a fixed
//! anchor: no input may panic.
#![no_main]

use cca_token::{Policy, Token, TrustAnchor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = Token::parse(data) else { return };
    let r = &token.realm_claims;
    let _ = r.rak();
    let _ = r.unknown().count();
    let p = &token.platform_claims;
    let _ = p.sw_components().count();
    let _ = p.unknown().count();
    let _ = p.lifecycle_state();
    let _ = token.verify_realm();
    let anchors: [TrustAnchor; 0] = [];
    let _ = token.verify(&anchors, &Policy { challenge: Some(&[0; 64]), rim: None, personalization_value: None });
});
