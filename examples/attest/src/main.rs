//! `attest`: a realm checks its own attestation token.
//!
//! It asks the RMM for a token for a fixed challenge (INIT, then CONTINUE into a buffer of
//! two granules), parses it with cca-token, verifies the realm signature with the RAK the
//! token carries and the binding of that RAK to the platform token, and checks that the
//! claims are its own: challenge, RIM, REMs, RPV. It prints what is stable across RMMs and
//! keys (claim names and checks), and the token's size and formats.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use cca_token::{Format, Token};
    use realm_sdk::rt::EntryArgs;
    use realm_sdk::{Realm, RemIndex, Smc, println};

    realm_sdk::entry!(main);

    /// The verifier's nonce; the token's challenge is its domain-separated hash
    /// (`cca_abi::challenge::verifier`), which a verifier recomputes.
    const NONCE: &[u8] = b"attest example: a verifier's nonce";

    fn check(name: &str, ok: bool) -> bool {
        println!("  {name}: {}", if ok { "ok" } else { "MISMATCH" });
        ok
    }

    fn main(realm: &mut Realm<Smc>, _args: EntryArgs) {
        if let Err(e) = realm.measurement_extend(RemIndex::REM0, b"attest example") {
            println!("attest: extend failed: {e}");
            return;
        }
        // Two granules for the token (TF-RMM's upper bound is one), on the stack.
        let mut buffer = [0u8; 8192];
        let challenge = realm_sdk::Challenge::for_verifier(NONCE);
        let token = match realm.attestation_token(&challenge, &mut buffer) {
            Ok(t) => t,
            Err(e) => {
                println!("attest: no token: {e}");
                return;
            }
        };
        println!("attest: token of {} bytes", token.len());
        // For verifiers outside the realm (`cca-token verify`), in hex on one line, 100
        // bytes per write.
        realm_sdk::print!("attest: token ");
        for chunk in token.chunks(100) {
            let mut hex = [0u8; 200];
            for (pair, b) in hex.chunks_mut(2).zip(chunk) {
                pair[0] = b"0123456789abcdef"[usize::from(b >> 4)];
                pair[1] = b"0123456789abcdef"[usize::from(b & 0xf)];
            }
            let text = core::str::from_utf8(&hex[..2 * chunk.len()]).unwrap_or("");
            realm_sdk::print!("{text}");
        }
        println!();
        let t = match Token::parse(token) {
            Ok(t) => t,
            Err(e) => {
                println!("attest: token does not parse: {e}");
                return;
            }
        };
        let format = match t.format {
            Format::Tag399 => "tag 399",
            Format::Cmw => "CMW (tag 907)",
        };
        println!(
            "attest: collection {format}, platform {}, realm {}",
            t.platform.algorithm.name(),
            t.realm.algorithm.name()
        );
        let r = &t.realm_claims;
        println!(
            "attest: realm profile {}, hash {}, RAK hash {}",
            r.profile.as_str().unwrap_or("none (legacy)"),
            r.hash_algorithm,
            r.public_key_hash_algorithm
        );
        println!(
            "attest: platform profile {}, lifecycle {}, {} software components",
            t.platform_claims.profile.as_str(),
            t.platform_claims.lifecycle_state().name(),
            t.platform_claims.sw_components().count()
        );
        println!("attest: checks");
        let mut ok = true;
        match t.verify_realm() {
            Ok(()) => ok &= check("realm signature and binding", true),
            Err(e) => {
                println!("  realm signature and binding: {e}");
                ok = false;
            }
        }
        ok &= check("challenge", r.challenge == challenge.as_bytes());
        ok &= check("RIM", realm.rim().is_ok_and(|m| m.as_bytes() == r.rim));
        ok &= check(
            "REMs",
            realm
                .rems()
                .is_ok_and(|rems| rems.iter().zip(r.rems()).all(|(a, b)| a.as_bytes() == b)),
        );
        ok &= check(
            "RPV",
            r.personalization_value == realm.personalization_value(),
        );
        println!(
            "attest: {}",
            if ok {
                "token verified inside the realm"
            } else {
                "FAILED"
            }
        );
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "attest is a realm payload: build it with `cargo build -p attest --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
