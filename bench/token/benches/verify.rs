//! cca-token parse + verify of veraison's cca-token-01 (against ta-tfa.json), next to, in
//! the same run:
//! - the limit: the two raw P-384 signature verifications it performs (prehashed digests
//!   and parsed keys prepared outside the loop);
//! - veraison's `ccatoken` crate (OpenSSL inside) decoding and verifying the same token.
//!
//! Run: `cargo bench --manifest-path bench/token/Cargo.toml`. It prints the ratios last.

use std::hint::black_box;
use std::time::Duration;

use cca_token::{Policy, PublicKey, Token};
use criterion::Criterion;
use p384::ecdsa::signature::hazmat::PrehashVerifier;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/veraison");

fn main() {
    let token = std::fs::read(format!("{DATA}/cca-token-01.cbor")).expect("../shared/testdata");
    let ta_json = std::fs::read_to_string(format!("{DATA}/ta-tfa.json")).expect("ta-tfa.json");
    let anchors = cca_token::anchors::from_json(&ta_json).expect("anchors");

    // The raw verifications: digests, signatures and keys prepared once.
    let parsed = Token::parse(&token).expect("parses");
    let mut raw = Vec::new();
    for (sign1, key) in [(parsed.realm, parsed.realm_claims.rak().expect("rak")), (parsed.platform, anchors[0].key.clone())] {
        let mut digest = [0u8; 64];
        let n = sign1.digest(&mut digest);
        let PublicKey::P384(vk) = key else { panic!("P-384 keys expected") };
        let sig = p384::ecdsa::Signature::from_slice(sign1.signature).expect("r||s");
        raw.push((vk, digest[..n].to_vec(), sig));
    }

    let mut c = Criterion::default().measurement_time(Duration::from_secs(5)).configure_from_args();
    let mut g = c.benchmark_group("cca-token-01");
    g.bench_function("raw 2x P-384 verify (limit)", |b| {
        b.iter(|| {
            for (vk, digest, sig) in &raw {
                vk.verify_prehash(black_box(digest), black_box(sig)).expect("valid");
            }
        });
    });
    g.bench_function("cca-token parse + verify", |b| {
        b.iter(|| {
            let t = Token::parse(black_box(&token)).expect("parses");
            t.verify(anchors.as_slice(), &Policy::default()).expect("verifies");
        });
    });
    let mut tas = ccatoken::store::MemoTrustAnchorStore::new();
    tas.load_json(&ta_json).expect("ccatoken anchors");
    g.bench_function("veraison ccatoken decode + verify", |b| {
        b.iter(|| {
            let mut e = ccatoken::token::Evidence::decode(black_box(&token)).expect("decodes");
            e.verify(&tas).expect("verifies");
        });
    });
    g.finish();
    c.final_summary();
}
