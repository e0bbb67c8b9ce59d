//! `seal`: a secret sealed to the realm's identity, kept by the host between realms.
//!
//! The realm measures its configuration into REM 0 (and prints the event log, so a verifier
//! can replay it against the token), gives two pages up for a shared buffer, and asks the
//! host's blob store for a sealed blob. Then it gets its sealing key from the key broker
//! (attestation-gated release, `realm_sdk::broker`: the realm trusts only the broker whose
//! public key was built into its image from `REALM_BROKER_PUBLIC_KEY`, so the RIM pins it)
//! and either seals its secret and
//! hands the blob to the host (first run), or unseals the blob it got (later runs). A realm
//! with another image has another RIM: the broker refuses it, or, if it serves that RIM
//! too, releases another key, which does not open the blob.
//!
//! The image carries a variant marker (`VARIANT`): changing it changes the RIM, which is
//! how the tests make "another image" without another build.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use cca_abi::eventlog::LogWriter;
    use cca_abi::measurement::HashAlgorithm;
    use realm_sdk::broker::{BrokerPublicKey, KeyBrokerProvider};
    use realm_sdk::rt::{EntryArgs, Rndr};
    use realm_sdk::seal::{self, Policy, SealingKeyProvider};
    use realm_sdk::service::{ServiceChannel, SharedPages, share};
    use realm_sdk::{Realm, RemIndex, Smc, println};

    realm_sdk::entry!(main);

    /// The image variant: tests patch the last digit to make an image with another RIM.
    #[unsafe(no_mangle)]
    static VARIANT: [u8; 16] = *b"seal-variant-v1\0";

    /// The key broker this image trusts (`realm_build::embed_broker_public_key`).
    const BROKER_PUBLIC_KEY: Option<[u8; 97]> =
        include!(concat!(env!("OUT_DIR"), "/broker_public_key.rs"));

    /// What the realm keeps secret.
    const SECRET: &[u8] = b"inference model key 7f3a";
    /// Additional data the blob is bound to.
    const AAD: &[u8] = b"realm-sdk seal example";

    /// The pages given up for the shared buffer: a token and the request around it fit.
    static mut SHARED: SharedPages<2> = SharedPages::new();

    fn hex(bytes: &[u8]) -> impl core::fmt::Display + '_ {
        struct Hex<'a>(&'a [u8]);
        impl core::fmt::Display for Hex<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
        Hex(bytes)
    }

    fn main(realm: &mut Realm<Smc>, _args: EntryArgs) {
        // SAFETY: `main` runs once, on the only REC, and SHARED is used only here.
        let shared = unsafe { &mut *core::ptr::addr_of_mut!(SHARED) };
        let (mut token, mut request, mut log) = ([0u8; 4096], [0u8; 4096 + 136], [0u8; 512]);
        // SAFETY: a plain read of an immutable static; volatile so that the marker stays
        // in the image and is read from it.
        let variant = unsafe { (&raw const VARIANT).read_volatile() };
        let variant = core::str::from_utf8(&variant[..15]).unwrap_or("?");
        println!("seal: image {variant}");

        let broker = match BROKER_PUBLIC_KEY.map(|k| BrokerPublicKey::from_sec1(&k)) {
            Some(Ok(broker)) => broker,
            Some(Err(e)) => {
                println!("seal: the built-in broker key: {e}");
                return;
            }
            None => {
                println!("seal: built without a key broker (set REALM_BROKER_PUBLIC_KEY)");
                return;
            }
        };
        let Ok(mut log) = LogWriter::new(&mut log) else {
            return;
        };
        if let Err(e) = realm.measure(&mut log, RemIndex::REM0, variant.as_bytes(), "variant") {
            println!("seal: measuring failed: {e}");
            return;
        }
        println!("seal: event log {}", hex(log.as_bytes()));

        let mut channel = match share(realm, shared) {
            Ok(window) => ServiceChannel::new(window),
            Err(e) => {
                println!("seal: cannot share memory with the host: {e}");
                return;
            }
        };
        let mut stored = [0u8; 256];
        let blob = match channel.load_blob(realm.conduit(), &mut stored) {
            Ok(blob) => blob,
            Err(e) => {
                println!("seal: blob store: {e}");
                return;
            }
        };
        let Some(mut rng) = Rndr::new() else {
            println!("seal: the CPU has no RNDR");
            return;
        };
        let key =
            KeyBrokerProvider::new(realm, &mut channel, rng, broker, &mut token, &mut request)
                .sealing_key(Policy::RimRpv);
        let key = match key {
            Ok(key) => key,
            Err(e) => {
                println!("seal: no sealing key: {e}");
                return;
            }
        };
        println!("seal: key released, id {}", hex(&key.id()));

        match blob {
            None => {
                let mut nonce = [0u8; 12];
                if realm_sdk::broker::Entropy::fill(&mut rng, &mut nonce).is_err() {
                    println!("seal: no randomness for the nonce");
                    return;
                }
                let mut out = [0u8; 256];
                let provider = seal::provider::KEY_BROKER;
                let sealed = match seal::seal(
                    &key,
                    Policy::RimRpv,
                    provider,
                    nonce,
                    SECRET,
                    AAD,
                    &mut out,
                ) {
                    Ok(sealed) => sealed,
                    Err(e) => {
                        println!("seal: {e}");
                        return;
                    }
                };
                match channel.store_blob(realm.conduit(), sealed) {
                    Ok(()) => println!(
                        "seal: sealed {} secret bytes into a {}-byte blob; the host keeps it",
                        SECRET.len(),
                        sealed.len()
                    ),
                    Err(e) => println!("seal: blob store: {e}"),
                }
            }
            Some(blob) => {
                let mut out = [0u8; 256];
                // The secret itself is never printed: the console goes through the host.
                match seal::unseal(&key, blob, AAD, &mut out) {
                    Ok(secret) => println!(
                        "seal: unsealed the secret: {} bytes, SHA-256 {}",
                        secret.len(),
                        HashAlgorithm::Sha256.hash(&[secret])
                    ),
                    Err(e) => println!("seal: cannot unseal the blob: {e}"),
                }
            }
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "seal is a realm payload: build it with `cargo build -p seal --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
