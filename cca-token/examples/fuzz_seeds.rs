//! Writes CCA tokens made with this crate's encoder into a folder, as seeds for the fuzz
//! corpus (fuzz/seed-corpus.sh runs it): both collection formats, SHA-256 and SHA-512
//! realms, and a legacy realm token whose RAK is a raw SEC1 point.
//!
//! The keys are fixed test scalars, insecure by design: the platform key is the one the
//! fuzz target trusts (P-256 scalar `0x22…22`, implementation ID `7f…7f`, instance ID
//! `01 01 02 … 20`), so fuzzed inputs reach the platform signature and the policy.
//!
//! Run: `cargo run -p cca-token --features sign --example fuzz_seeds -- DIR`.

use cca_token::encode::{self, PlatformClaimValues, RealmClaimValues};
use cca_token::platform::{PROFILE_1_0, SwComponent};
use cca_token::{Format, realm};
use sha2::{Digest, Sha256};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: fuzz_seeds DIR")?;
    std::fs::create_dir_all(&dir)?;
    let rak = p384::ecdsa::SigningKey::from_slice(&[0x11; 48])?;
    let iak = p256::ecdsa::SigningKey::from_slice(&[0x22; 32])?;
    let point = rak.verifying_key().to_sec1_point(false);
    let sec1 = point.as_bytes();
    let mut key_buf = [0u8; 128];
    let cose_key = realm::encode_p384_cose_key(
        sec1[1..49].try_into()?,
        sec1[49..97].try_into()?,
        &mut key_buf,
    )
    .map_err(|_| "COSE_Key buffer")?;
    let instance_id: [u8; 33] = core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 });
    let sw = [SwComponent {
        measurement_type: Some("BL2"),
        measurement_value: &[1; 32],
        version: Some("1.0"),
        signer_id: &[2; 32],
        description: Some("sha-256"),
    }];
    let cases: [(&str, Format, &str, usize, bool); 4] = [
        ("encoder-tag399-sha256", Format::Tag399, "sha-256", 32, true),
        ("encoder-cmw-sha256", Format::Cmw, "sha-256", 32, true),
        ("encoder-cmw-sha512", Format::Cmw, "sha-512", 64, true),
        (
            "encoder-tag399-legacy-rak",
            Format::Tag399,
            "sha-256",
            32,
            false,
        ),
    ];
    for (name, format, hash, len, profile) in cases {
        let public_key = if profile { cose_key } else { sec1 };
        let measurement = [0x33u8; 64];
        let rem = &measurement[..len];
        let mut rc = [0u8; 1024];
        let realm_claims = encode::realm_claims(
            &RealmClaimValues {
                challenge: &[0x44; 64],
                personalization_value: &[0x55; 64],
                public_key,
                hash_algorithm: hash,
                public_key_hash_algorithm: "sha-256",
                mec_policy: Some(cca_token::realm::MecPolicy::Shared),
                instance_id: None,
                profile: profile.then_some(realm::PROFILE_1_0),
                rim: &measurement[..len],
                rems: [rem; 4],
            },
            &mut rc,
        )
        .map_err(|e| format!("{e:?}"))?;
        let binding = Sha256::digest(public_key);
        let mut pc = [0u8; 1024];
        let platform_claims = encode::platform_claims(
            &PlatformClaimValues {
                profile: PROFILE_1_0,
                challenge: &binding,
                implementation_id: &[0x7f; 32],
                instance_id: &instance_id,
                config: &[0xcf; 4],
                lifecycle: 0x3003,
                sw_components: &sw,
                verification_service: Some("https://verifier.invalid"),
                hash_algorithm: "sha-256",
            },
            &mut pc,
        )
        .map_err(|e| format!("{e:?}"))?;
        let (mut rt, mut pt, mut out) = ([0u8; 2048], [0u8; 2048], [0u8; 4096]);
        let realm_token =
            encode::sign1(realm_claims, &rak, &mut rt).map_err(|e| format!("{e:?}"))?;
        let platform_token =
            encode::sign1(platform_claims, &iak, &mut pt).map_err(|e| format!("{e:?}"))?;
        let token = encode::collection(format, platform_token, realm_token, &mut out)
            .map_err(|e| format!("{e:?}"))?;
        std::fs::write(format!("{dir}/{name}.cbor"), token)?;
    }
    println!("wrote {} seed tokens to {dir}", cases.len());
    Ok(())
}
