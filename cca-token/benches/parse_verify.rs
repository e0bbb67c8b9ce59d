//! Where the time of `Token::parse` + `Token::verify` goes, for veraison's cca-token-01
//! against ta-tfa.json (both signatures ES384): the whole, next to the two raw P-384
//! `verify_prehash` calls it makes (the limit), and the glue on its own (parsing, the two
//! streamed Sig_structure digests, decoding the RAK). The comparison with veraison's
//! `ccatoken` crate is in bench/token (outside the workspace: it needs OpenSSL).
//!
//! Run: `cargo bench -p cca-token --features std --bench parse_verify`. The testdata is read
//! in place from ../shared/testdata; without it the bench says so and exits.

use std::hint::black_box;
use std::time::Duration;

use cca_token::{Policy, PublicKey, Token};
use criterion::Criterion;
use p384::ecdsa::signature::hazmat::PrehashVerifier;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/veraison"
);

fn main() {
    let (Ok(token), Ok(ta_json)) = (
        std::fs::read(format!("{DATA}/cca-token-01.cbor")),
        std::fs::read_to_string(format!("{DATA}/ta-tfa.json")),
    ) else {
        eprintln!("skipped: {DATA} is absent");
        return;
    };
    let anchors = cca_token::anchors::from_json(&ta_json).expect("ta-tfa.json parses");
    let parsed = Token::parse(&token).expect("cca-token-01 parses");
    let mut raw = Vec::new();
    for (sign1, key) in [
        (parsed.realm, parsed.realm_claims.rak().expect("RAK")),
        (parsed.platform, anchors[0].key.clone()),
    ] {
        let mut digest = [0u8; 64];
        let n = sign1.digest(&mut digest);
        let PublicKey::P384(vk) = key else {
            panic!("cca-token-01 uses P-384 keys")
        };
        let sig = p384::ecdsa::Signature::from_slice(sign1.signature).expect("r || s");
        raw.push((vk, digest[..n].to_vec(), sig));
    }

    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut g = c.benchmark_group("cca-token-01");
    g.bench_function("raw 2x P-384 verify_prehash (limit)", |b| {
        b.iter(|| {
            for (vk, digest, sig) in &raw {
                vk.verify_prehash(black_box(digest), black_box(sig))
                    .expect("valid");
            }
        });
    });
    g.bench_function("parse + verify", |b| {
        b.iter(|| {
            let t = Token::parse(black_box(&token)).expect("parses");
            t.verify(anchors.as_slice(), &Policy::default())
                .expect("verifies")
                .realm
                .rim
                .len()
        });
    });
    g.bench_function("glue: parse", |b| {
        b.iter(|| Token::parse(black_box(&token)).expect("parses").format);
    });
    g.bench_function("glue: 2 Sig_structure digests", |b| {
        b.iter(|| {
            let mut d = [0u8; 64];
            black_box(&parsed).realm.digest(&mut d) + black_box(&parsed).platform.digest(&mut d)
        });
    });
    g.bench_function("glue: decode the RAK", |b| {
        b.iter(|| black_box(&parsed).realm_claims.rak().expect("RAK"));
    });
    g.finish();
    c.final_summary();
}
