//! {{project-name}}: a realm payload. `cargo run` builds it for `aarch64-unknown-none` and
//! runs it with `realm-run` (see `.cargo/config.toml`); the exit code says how the realm
//! ended: 0 when it switched itself off after `main` returned.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use realm_sdk::{Realm, RemIndex, Smc, println, rt::EntryArgs};

    realm_sdk::entry!(main);

    fn main(realm: &mut Realm<Smc>, _args: EntryArgs) {
        println!("RSI {}, IPA width {}", realm.version(), realm.ipa_width());
        realm
            .measurement_extend(RemIndex::REM0, b"stage 1")
            .unwrap_or_else(|e| panic!("extending REM0: {e}"));
        let rim = realm.rim().unwrap_or_else(|e| panic!("reading the RIM: {e}"));
        println!("RIM {rim}");
    }
}

// A host build (`cargo build --target x86_64-unknown-linux-gnu`, an IDE's check) gets this
// placeholder instead of the payload.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("{{project-name}} is a realm payload: `cargo run` builds it for aarch64-unknown-none");
    std::process::exit(2);
}
