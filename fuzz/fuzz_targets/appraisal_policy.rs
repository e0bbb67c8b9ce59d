//! Fuzzes the JSON appraisal-policy loader (`cca_token::appraisal::PolicyFile`): no input
//! may panic. Inputs that are UTF-8 go to `PolicyFile::from_json`; a policy that loads
//! appraises a fixed verified token (the committed encoder seed
//! `seeds/token_parse/encoder-tag399-sha256.cbor`, verified with its test platform key), and
//! every refusal's sentence is formatted.
#![no_main]

use std::sync::OnceLock;

use cca_token::appraisal::PolicyFile;
use cca_token::{Policy, PublicKey, Token, TrustAnchor, Verified};
use libfuzzer_sys::fuzz_target;

const SEED: &[u8] = include_bytes!("../seeds/token_parse/encoder-tag399-sha256.cbor");

fn verified() -> &'static Verified<'static> {
    static VERIFIED: OnceLock<Verified<'static>> = OnceLock::new();
    VERIFIED.get_or_init(|| {
        let iak = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).expect("test scalar");
        let point = iak.verifying_key().to_sec1_point(false);
        let anchors = [TrustAnchor {
            implementation_id: [0x7f; 32],
            instance_id: core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 }),
            key: PublicKey::from_sec1(point.as_bytes()).expect("valid point"),
        }];
        Token::parse(SEED)
            .expect("the seed parses")
            .verify(&anchors, &Policy::default())
            .expect("the seed verifies")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    match PolicyFile::from_json(json) {
        Ok(policy) => {
            if let Err(e) = policy.appraisal().appraise(verified()) {
                let _ = e.to_string();
            }
        }
        Err(e) => {
            // Every refusal but a syntax error names a JSON path, and its sentence starts there.
            let text = e.to_string();
            if let Some(path) = e.path() {
                assert!(text.starts_with(path));
            }
        }
    }
});
