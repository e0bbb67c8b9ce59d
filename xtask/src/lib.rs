//! Build and run helpers for realm payloads: used by `cargo xtask` and by the system tests.
//!
//! - [`build_aarch64`] builds workspace packages for `aarch64-unknown-none`;
//! - [`flat_image`] turns a payload ELF into the flat binary a host loads at the realm's IPA
//!   (what `objcopy -O binary` does, without needing binutils);
//! - [`Qemu`] runs a payload on `qemu-system-aarch64` under the EL2 harness and collects
//!   its console output;
//! - [`exclusives`] checks a QEMU trace for exclusive accesses before the realm's MMU is on.
//!
//! The image conversion, the QEMU runs and how a realm ended live in `realm_run` (the
//! library of the `realm-run` cargo runner), re-exported here; this crate adds this
//! workspace's examples, the key broker relay and the demos.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod bench_launch;
pub mod bench_smp;
pub mod exclusives;
pub mod inference;
pub mod relay;
pub mod seal;

pub use realm_run::{
    Error, FIP_FLASH_OFFSET, Firmware, FlatImage, HARNESS_BOOT_INFO_PA, HARNESS_BOOT_MAGIC,
    HARNESS_IMAGE_PA, ModelRmm, Qemu, Sdk, TARGET, TimedOutput, check_realm_end, disk_device,
    flat_image, run_timed, write_atomic,
};
pub use relay::{BrokerRelay, NoServices, Services};

/// Realm payloads in `examples/`, by package name.
pub const EXAMPLES: &[&str] = &[
    "attest", "hello", "minimal", "seal", "selftest", "smp", "timer",
];

/// The workspace root.
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

/// This workspace as a [`Sdk`].
#[must_use]
pub fn sdk() -> Sdk {
    Sdk::new(workspace_root())
}

/// Where `cargo build --target aarch64-unknown-none --release` puts binaries.
#[must_use]
pub fn aarch64_dir() -> PathBuf {
    sdk().aarch64_dir()
}

/// Builds `packages` for `aarch64-unknown-none` in release mode.
pub fn build_aarch64(packages: &[&str]) -> Result<(), Error> {
    build_aarch64_with(packages, &[])
}

/// [`build_aarch64`] with extra environment variables for the build scripts.
pub fn build_aarch64_with(packages: &[&str], env: &[(&str, &Path)]) -> Result<(), Error> {
    sdk().build_aarch64_with(packages, env)
}

/// Builds the example `name` and returns its flat image, also written next to the ELF as
/// `<name>.bin`.
pub fn build_payload(name: &str) -> Result<(PathBuf, FlatImage), Error> {
    build_payload_with(name, &[])
}

/// [`build_payload`] with extra environment variables for the payload's build script.
///
/// # Errors
///
/// As [`build_payload`].
pub fn build_payload_with(
    name: &str,
    env: &[(&str, &Path)],
) -> Result<(PathBuf, FlatImage), Error> {
    build_aarch64_with(&[name], env)?;
    realm_run::image_from_elf(&aarch64_dir().join(name))
}

/// Builds the EL2 harness and returns the path of its ELF.
pub fn build_harness() -> Result<PathBuf, Error> {
    sdk().build_harness()
}

/// Builds the payload `name` and runs it on TF-RMM with [`run_image_on_tf_rmm`].
pub fn run_on_tf_rmm(
    firmware: &Firmware,
    name: &str,
    entry: [u64; 2],
    timeout: Duration,
    services: &mut dyn Services,
) -> Result<String, Error> {
    let (image, _) = build_payload(name)?;
    run_image_on_tf_rmm(firmware, &image, entry, timeout, services)
}

/// Builds rmi-host embedding the flat realm `image` (the REC starting with `x0`, `x1` =
/// `entry`), puts the host into a copy of the firmware's FIP as BL33 (Debian's `fiptool`,
/// package arm-trusted-firmware-tools), makes the flash image (BL1, then the FIP at
/// 0x40000) and boots it on QEMU with RME; `services` answers the realm's service calls.
pub fn run_image_on_tf_rmm(
    firmware: &Firmware,
    image: &Path,
    entry: [u64; 2],
    timeout: Duration,
    services: &mut dyn Services,
) -> Result<String, Error> {
    run_image_on_tf_rmm_with(firmware, image, entry, "", timeout, services)
}

/// [`run_image_on_tf_rmm`] with realm parameters beyond the defaults: `realm_params` is
/// rmi-host's `REALM_PARAMS` (`examples/rmi-host/build.rs`), e.g. `"sve_vl=1,pmu=2"`.
pub fn run_image_on_tf_rmm_with(
    firmware: &Firmware,
    image: &Path,
    entry: [u64; 2],
    realm_params: &str,
    timeout: Duration,
    services: &mut dyn Services,
) -> Result<String, Error> {
    let _guard = tf_rmm_runs();
    let qemu = tf_rmm_qemu(firmware, image, entry, realm_params)?;
    run_timed(qemu, timeout, services).map(|out| out.text())
}

/// One TF-RMM run at a time per process: each run rebuilds rmi-host with its own payload
/// and reuses the same work folder. Hold the guard from [`tf_rmm_qemu`] to the run's end.
pub(crate) fn tf_rmm_runs() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Builds rmi-host embedding the flat realm `image` (with `entry` and `realm_params` as in
/// [`run_image_on_tf_rmm_with`]), puts it into a copy of the firmware's FIP as BL33, makes
/// the flash image and returns the QEMU command that boots it (not started):
/// [`realm_run::tf_rmm_qemu`] in this workspace.
///
/// # Errors
///
/// A build or tool failure.
pub fn tf_rmm_qemu(
    firmware: &Firmware,
    image: &Path,
    entry: [u64; 2],
    realm_params: &str,
) -> Result<std::process::Command, Error> {
    realm_run::tf_rmm_qemu(&sdk(), firmware, image, entry, realm_params)
}

/// Builds the harness and the payload `name`, then runs it on QEMU with `entry` in the
/// REC's `x0` and `x1`.
pub fn run_example(name: &str, entry: [u64; 2]) -> Result<String, Error> {
    let harness = build_harness()?;
    let (image, flat) = build_payload(name)?;
    Qemu {
        harness,
        image,
        image_size: flat.bytes.len() as u64,
        entry,
        recs: 1,
        timeout: Duration::from_secs(60),
        rmm: ModelRmm::default(),
        disk: None,
    }
    .run()
}
