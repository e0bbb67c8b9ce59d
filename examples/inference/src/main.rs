//! `inference`: attested inference in a realm (realm-sdk issue 13). The pipeline is this
//! package's library (`inference::run`, documented there); this is its payload:
//!
//! - the key broker it trusts is built into the image (`REALM_BROKER_PUBLIC_KEY`, so the RIM
//!   pins it), and the key is released over the host's service relay
//!   (`realm_sdk::service`, as in the `seal` example), with policy `RimRpv`;
//! - the model's ID is fixed in the image ([`MODEL_ID`]);
//! - the report goes to the console, classification is timed with the generic timer.
//!
//! The block device comes from [`block_device`]: realm-sdk's virtio-blk driver plugs in
//! there. Until it does, this build has no block device and the payload stops with a panic
//! saying so (`realm ended: panic`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    extern crate alloc;

    use core::fmt;

    use cca_abi::eventlog::LogWriter;
    use inference::{Clock, Config, Console, Disk, LOG_SIZE, TOKEN_SIZE, run};
    use realm_inference::container;
    use realm_sdk::broker::{BrokerPublicKey, KeyBrokerProvider, REQUEST_HEADER_SIZE};
    use realm_sdk::rt::{EntryArgs, Rndr};
    use realm_sdk::seal::{Policy, SealingKeyProvider};
    use realm_sdk::service::{ServiceChannel, SharedPages, share};
    use realm_sdk::time::Instant;
    use realm_sdk::{Realm, Smc, println};

    realm_sdk::entry!(main);

    /// The key broker this image trusts (`realm_build::embed_broker_public_key`).
    const BROKER_PUBLIC_KEY: Option<[u8; 97]> =
        include!(concat!(env!("OUT_DIR"), "/broker_public_key.rs"));

    /// The model this image accepts.
    const MODEL_ID: &str = "digits-mlp";

    /// The largest model container read (the heap holds it; the digits model is 2.6 KB).
    const MAX_MODEL: usize = 256 * 1024;

    /// The pages given up for the service relay: a token and the request around it fit.
    static mut SHARED: SharedPages<2> = SharedPages::new();

    /// The console, through realm-sdk's `println!`.
    struct Lines;

    impl Console for Lines {
        fn line(&mut self, line: fmt::Arguments<'_>) {
            println!("{line}");
        }
    }

    /// The generic timer.
    struct Timer(realm_sdk::time::Clock);

    impl Clock for Timer {
        fn now(&mut self) -> u64 {
            Instant::now().ticks()
        }
        fn hz(&self) -> u64 {
            self.0.hz()
        }
    }

    /// No block device: the uninhabited placeholder of this build, which has no virtio-blk
    /// driver. Replace it (and [`block_device`]) by realm-sdk's virtio-blk device.
    enum NoDisk {}

    impl Disk for NoDisk {
        type Error = core::convert::Infallible;
        fn capacity(&mut self) -> u64 {
            match *self {}
        }
        fn read_at(&mut self, _: u64, _: &mut [u8]) -> Result<(), Self::Error> {
            match *self {}
        }
    }

    /// The block device holding the inference disk (`realm_inference::disk`).
    fn block_device() -> Option<NoDisk> {
        None
    }

    fn main(realm: &mut Realm<Smc>, _args: EntryArgs) {
        let Some(mut disk) = block_device() else {
            panic!("inference: no block device (this build has no virtio-blk driver)");
        };
        let broker = match BROKER_PUBLIC_KEY.map(|k| BrokerPublicKey::from_sec1(&k)) {
            Some(Ok(broker)) => broker,
            Some(Err(e)) => panic!("inference: the built-in broker key: {e}"),
            None => panic!("inference: built without a key broker (set REALM_BROKER_PUBLIC_KEY)"),
        };
        let Some(clock) = realm_sdk::time::Clock::read() else {
            panic!("inference: the generic timer has no frequency");
        };
        let Some(rng) = Rndr::new() else {
            panic!("inference: the CPU has no RNDR");
        };
        // SAFETY: `main` runs once, on the only REC, and SHARED is used only here.
        let shared = unsafe { &mut *core::ptr::addr_of_mut!(SHARED) };
        let mut channel = match share(realm, shared) {
            Ok(window) => ServiceChannel::new(window),
            Err(e) => panic!("inference: cannot share memory with the host: {e}"),
        };
        let mut log = [0u8; LOG_SIZE];
        let Ok(mut log) = LogWriter::new(&mut log) else {
            panic!("inference: the event log buffer is too small");
        };
        let result = run(
            realm,
            |realm| {
                let mut token = alloc::vec![0u8; TOKEN_SIZE];
                let mut request = alloc::vec![0u8; TOKEN_SIZE + REQUEST_HEADER_SIZE];
                KeyBrokerProvider::new(realm, &mut channel, rng, broker, &mut token, &mut request)
                    .sealing_key(Policy::RimRpv)
            },
            &mut disk,
            &mut Lines,
            &mut Timer(clock),
            &Config {
                model_id: container::model_id(MODEL_ID),
                max_model: MAX_MODEL,
            },
            &mut log,
        );
        if let Err(e) = result {
            panic!("inference: {e}");
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "inference is a realm payload: build it with `cargo build -p inference --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
