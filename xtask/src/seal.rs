//! The sealing demo: four realms of the `seal` example and a key broker on loopback.
//!
//! 1. a realm seals its secret with the key the broker releases to it and hands the blob to
//!    the host, then is torn down;
//! 2. a new realm of the same image gets the same key and unseals the blob;
//! 3. a realm of a changed image (another RIM) is refused by the broker;
//! 4. a broker that serves the changed image too releases it another key, which does not
//!    open the blob;
//! 5. a host that answers the release request itself, with a key of its choosing wrapped
//!    for the realm, is not believed: the realm accepts only the broker its image pins.
//!
//! The brokers' identity comes from a master secret kept in the build folder
//! (`seal-demo-broker.secret`, made once); the `seal` image is built with that broker's
//! public key (`REALM_BROKER_PUBLIC_KEY`).
//!
//! The realms run under the EL2 harness (whose RMM model signs tokens with its insecure
//! test keys) or on the reference RMM launched by rmi-host; either way the host relays the
//! realm's service calls over the serial port to [`BrokerRelay`], which reaches the broker
//! over TCP ([`key_broker::net`]).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cca_abi::rmi::Generation;
use cca_token::TrustAnchor;
use key_broker::{AllowedRealm, Broker, BrokerConfig};
use realm_sdk::seal::Policy;
use zeroize::Zeroizing;

use crate::{BrokerRelay, Error, Firmware, Qemu, aarch64_dir, build_payload_with, write_atomic};

/// Where the realms run.
#[derive(Clone, Debug)]
pub enum Platform {
    /// QEMU under the EL2 harness (this harness's ELF) and the RMM model.
    Harness(PathBuf),
    /// The reference firmware under QEMU with RME, launched by rmi-host.
    TfRmm(Firmware),
}

/// One realm's run.
#[derive(Debug)]
pub struct Stage {
    /// What the stage shows.
    pub title: &'static str,
    /// The RIM the realm has under an RMI 1.0 RMM (and the harness).
    pub rim: String,
    /// The RIM the same realm has under an RMI 2.0 RMM (TF-RMM v0.9.0).
    pub rim_v2: String,
    /// Its console output.
    pub output: String,
    /// The relay, with the requests it carried and the refusals it passed on.
    pub relay: BrokerRelay,
}

/// The variant marker in the `seal` image (`examples/seal`).
pub const VARIANT_MARKER: &[u8] = b"seal-variant-v1";

/// Starts a broker trusting `anchors` and serving `rims` on a loopback port.
///
/// # Errors
///
/// [`Error::Io`] if no port can be bound.
pub fn start_broker(
    anchors: &[TrustAnchor],
    master_secret: [u8; 32],
    rims: &[&[u8]],
) -> Result<SocketAddr, Error> {
    let config = BrokerConfig {
        anchors: anchors.to_vec(),
        master_secret: Zeroizing::new(master_secret),
        allowed: rims
            .iter()
            .map(|rim| AllowedRealm {
                rim: rim.to_vec(),
                rpv: None,
            })
            .collect(),
        policies: vec![Policy::RimRpv],
        appraisal: None,
    };
    let io = |e| Error::Io("binding the key broker to 127.0.0.1".into(), e);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let broker = Arc::new(Broker::new(config).map_err(|e| Error::Build(e.to_string()))?);
    std::thread::spawn(move || key_broker::net::serve(listener, broker));
    Ok(addr)
}

/// The demo brokers' master secret: made once and kept in the build folder, so that the
/// `seal` image (which pins the broker's public key) is not rebuilt on every run.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read or written.
pub fn demo_master_secret() -> Result<Zeroizing<[u8; 32]>, Error> {
    let path = aarch64_dir().join("seal-demo-broker.secret");
    let mut secret = Zeroizing::new([0u8; 32]);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => secret.copy_from_slice(&bytes),
        _ => {
            key_broker::os_random(&mut *secret)
                .map_err(|e| Error::Io("drawing the master secret".into(), e.into()))?;
            std::fs::create_dir_all(aarch64_dir())
                .map_err(|e| Error::Io(aarch64_dir().display().to_string(), e))?;
            write_atomic(&path, &*secret)?;
        }
    }
    Ok(secret)
}

/// Runs the five stages on `platform` with brokers trusting `anchors`.
///
/// # Errors
///
/// A build or run failure ([`Error`]); what the realms print is the caller's to check.
pub fn demo(platform: &Platform, anchors: &[TrustAnchor]) -> Result<Vec<Stage>, Error> {
    let secret = demo_master_secret()?;
    let identity = key_broker::identity(&secret).map_err(|e| Error::Build(e.to_string()))?;
    let public: String = identity
        .public()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let env = [(realm_build::BROKER_PUBLIC_KEY_ENV, Path::new(&public))];
    let (image_path, image) = build_payload_with("seal", &env)?;
    let at = image
        .bytes
        .windows(VARIANT_MARKER.len())
        .position(|w| w == VARIANT_MARKER)
        .ok_or(Error::Elf("no variant marker in the seal image"))?;
    let mut other = image.bytes.clone();
    other[at + VARIANT_MARKER.len() - 1] = b'2';
    let other_path = image_path.with_file_name("seal-variant-v2.bin");
    write_atomic(&other_path, &other)?;
    // The broker serves the image on RMMs of both generations: its RIM under each.
    let rims_of = |bytes: &[u8]| {
        let rim = |generation| {
            el2_harness::measure::rim_for(bytes, [0, 0], generation)
                .ok_or(Error::Elf("image larger than realm RAM"))
        };
        Ok::<_, Error>([rim(Generation::V1_0)?, rim(Generation::V2_0)?])
    };
    let (rims, other_rims) = (rims_of(&image.bytes)?, rims_of(&other)?);
    let allow = |sets: &[&[cca_abi::measurement::Measurement; 2]]| -> Vec<Vec<u8>> {
        sets.iter()
            .flat_map(|r| r.iter().map(|m| m.as_bytes().to_vec()))
            .collect()
    };
    let one_rims = allow(&[&rims]);
    let both_rims = allow(&[&rims, &other_rims]);
    let one = start_broker(anchors, *secret, &slices(&one_rims))?;
    let both = start_broker(anchors, *secret, &slices(&both_rims))?;
    // One blob store per demo: two demos at once (the harness's and TF-RMM's tests) must not
    // share it.
    let blob = aarch64_dir().join(format!("seal-demo-{}.blob", std::process::id()));
    let _ = std::fs::remove_file(&blob);

    let plan = [
        ("a realm seals its secret", &image_path, one, None),
        (
            "a new realm of the same image unseals it",
            &image_path,
            one,
            None,
        ),
        (
            "a realm of a changed image is refused",
            &other_path,
            one,
            None,
        ),
        (
            "a broker serving the changed image too gives it another key",
            &other_path,
            both,
            None,
        ),
        (
            "a host answering in the broker's place is not believed",
            &image_path,
            one,
            Some([0x5e; 32]),
        ),
    ];
    let stages = plan
        .into_iter()
        .map(|(title, path, broker, forge)| {
            let mut relay = BrokerRelay::new(broker, blob.clone());
            relay.forge = forge;
            let output = run(platform, path, &mut relay)?;
            let [rim, rim_v2] = if path == &image_path {
                rims
            } else {
                other_rims
            };
            Ok(Stage {
                title,
                rim: rim.to_string(),
                rim_v2: rim_v2.to_string(),
                output,
                relay,
            })
        })
        .collect();
    let _ = std::fs::remove_file(&blob);
    stages
}

fn slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

fn run(platform: &Platform, image: &Path, relay: &mut BrokerRelay) -> Result<String, Error> {
    match platform {
        Platform::Harness(harness) => {
            let size = std::fs::metadata(image)
                .map_err(|e| Error::Io(image.display().to_string(), e))?
                .len();
            Qemu {
                harness: harness.clone(),
                image: image.to_path_buf(),
                image_size: size,
                entry: [0, 0],
                recs: 1,
                timeout: Duration::from_secs(180),
                rmm: crate::ModelRmm::default(),
                disk: None,
            }
            .run_with(relay)
        }
        Platform::TfRmm(firmware) => {
            crate::run_image_on_tf_rmm(firmware, image, [0, 0], Duration::from_secs(300), relay)
        }
    }
}
