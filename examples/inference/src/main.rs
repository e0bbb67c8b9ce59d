//! `inference`: attested inference in a realm (realm-sdk issue 13). The pipeline is this
//! package's library (`inference::run`, documented there); this is its payload:
//!
//! - the key broker it trusts is built into the image (`REALM_BROKER_PUBLIC_KEY`, so the RIM
//!   pins it), and the key is released over the host's service relay
//!   (`realm_sdk::service`, as in the `seal` example), with policy `RimRpv`;
//! - the model's ID is fixed in the image ([`MODEL_ID`]);
//! - the disk is the host's virtio block device and the report goes to its virtio console
//!   (`realm_sdk::virtio`, over a pool of pages shared with the host; both hosts, the EL2
//!   harness and rmi-host, copy the virtio console to their UART); classification is
//!   timed with the generic timer.
//!
//! Everything the host hands over (the disk, the broker's answers) is checked by the
//! pipeline before use; a failure stops the payload with a panic naming it.
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
    use realm_sdk::virtio::{self, Block, Devices, Mmio, VirtioError};
    use realm_sdk::{Realm, Smc};

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

    /// The pool of pages the virtio devices reach (a console and a block device need 18).
    static mut POOL: SharedPages<32> = SharedPages::new();

    /// The virtio console: each line formatted first, then sent in one transmission. The
    /// first failure is kept (and later lines dropped) for [`main`] to report: a report
    /// with lines missing would not verify anyway.
    struct Lines {
        console: virtio::Console<Mmio>,
        failed: Option<VirtioError>,
    }

    impl Console for Lines {
        fn line(&mut self, line: fmt::Arguments<'_>) {
            if self.failed.is_some() {
                return;
            }
            let mut text = alloc::string::String::new();
            // Formatting into a String fails only if a Display impl does.
            if fmt::Write::write_fmt(&mut text, format_args!("{line}\n")).is_err() {
                text = alloc::string::String::from("inference: a report line did not format\n");
            }
            if let Err(e) = self.console.write(text.as_bytes()) {
                self.failed = Some(e);
            }
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

    /// The virtio block device holding the inference disk (`realm_inference::disk`).
    struct VirtioDisk(Block<Mmio>);

    impl Disk for VirtioDisk {
        type Error = VirtioError;
        fn capacity(&mut self) -> u64 {
            self.0.size()
        }
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), VirtioError> {
            self.0.read_at(offset, buf)
        }
    }

    /// The host's virtio console and block device, at the default slots.
    fn devices(realm: &mut Realm<Smc>) -> Result<(Lines, VirtioDisk), VirtioError> {
        // SAFETY: `main` runs once, on the only REC, and POOL is used only here.
        let pool = unsafe { &mut *core::ptr::addr_of_mut!(POOL) };
        virtio::init(realm, pool)?;
        let devices = Devices::host_default(realm);
        let console = devices.console()?;
        let disk = devices.block()?;
        Ok((
            Lines {
                console,
                failed: None,
            },
            VirtioDisk(disk),
        ))
    }

    fn main(realm: &mut Realm<Smc>, _args: EntryArgs) {
        let (mut console, mut disk) = match devices(realm) {
            Ok(devices) => devices,
            Err(e) => panic!("inference: the virtio devices: {e}"),
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
            &mut console,
            &mut Timer(clock),
            &Config {
                model_id: container::model_id(MODEL_ID),
                max_model: MAX_MODEL,
            },
            &mut log,
        );
        if let Some(e) = console.failed {
            panic!("inference: the virtio console: {e}");
        }
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
