//! `realm-run`: runs a realm payload ELF as a realm, as a cargo runner.
//!
//! ```text
//! realm-run [--tf-rmm DIR] [--pl011] [--x1 N] [--timeout SECS] [--sdk DIR] PAYLOAD
//! realm-run new DIR [--name NAME] [--sdk DIR]
//! ```
//!
//! A payload project names it in `.cargo/config.toml`
//! (`[target.aarch64-unknown-none] runner = "realm-run"`), so `cargo run` hands it the ELF,
//! followed by what comes after `--`. It makes the flat image (`PAYLOAD.bin`, next to the
//! ELF), builds the EL2 harness in the realm-sdk checkout and runs the image under it on
//! QEMU, printing the console as it arrives; with `--tf-rmm DIR` it builds rmi-host with the
//! image inside and boots it as BL33 on the TF-A + TF-RMM in DIR (`bl1.bin`, `fip.bin`).
//!
//! The checkout: `--sdk DIR`, else `REALM_SDK_DIR`, else the one `realm-run` was built from.
//! Runs on TF-RMM share rmi-host's build and a work folder in the checkout's target folder:
//! one at a time per checkout (runs under the harness may overlap).
//!
//! Exit codes: 0 the realm switched itself off with PSCI `SYSTEM_OFF` after `main` returned;
//! 1 it did not (panic, exception, failed start, a launch or build failure, QEMU missing);
//! 2 usage error (a `--tf-rmm` folder without the firmware too); 124 it did not stop within the timeout.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use realm_run::{Error, Firmware, ModelRmm, NoServices, Qemu, Sdk};

/// Runs a realm payload ELF under the EL2 harness on QEMU, or on TF-RMM.
#[derive(Parser)]
#[command(
    name = "realm-run",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 the realm switched itself off after main returned; 1 it did not (panic, exception, failed start or launch); 2 usage error; 124 timeout."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: Run,
}

#[derive(Subcommand)]
enum Command {
    /// Makes a payload project in DIR from the template, depending on the realm-sdk checkout.
    New {
        /// The new project's folder (made if missing; must be empty).
        dir: PathBuf,
        /// The package name (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// The realm-sdk checkout to depend on (default: as for running).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Run {
    /// The payload ELF (what `cargo run` passes).
    payload: Option<PathBuf>,
    /// Run on TF-RMM: DIR holds TF-A's bl1.bin and the fip.bin with TF-RMM.
    #[arg(long, value_name = "DIR")]
    tf_rmm: Option<PathBuf>,
    /// The realm's console is the PL011 (x0 bit 0) instead of host calls.
    #[arg(long)]
    pl011: bool,
    /// The REC's x1 at entry (`EntryArgs`).
    #[arg(long, value_name = "N", default_value_t = 0)]
    x1: u64,
    /// Seconds the realm may run (default 60 under the harness, 300 on TF-RMM).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// A disk image (at most 16 MiB) for the realm's virtio block device.
    #[arg(long, value_name = "FILE")]
    disk: Option<PathBuf>,
    /// The harness models TF-RMM v0.9.0 (RSI 1.1) instead of v0.8.0.
    #[arg(long, conflicts_with = "tf_rmm")]
    rsi_1_1: bool,
    /// The realm-sdk checkout that builds the hosts (default: REALM_SDK_DIR, else the
    /// checkout realm-run was built from).
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

/// Exit code: the realm did not stop within the timeout (as `timeout(1)`).
const EXIT_TIMEOUT: u8 = 124;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::New { dir, name, sdk }) => new_project(&dir, name, sdk.as_deref()),
        None => {
            let Some(payload) = cli.run.payload.clone() else {
                use clap::CommandFactory;
                Cli::command()
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "the payload ELF is missing (realm-run PAYLOAD, or realm-run new DIR)",
                    )
                    .exit()
            };
            run(&cli.run, &payload)
        }
    }
}

fn new_project(dir: &Path, name: Option<String>, sdk: Option<&Path>) -> ExitCode {
    let sdk = match Sdk::find(sdk) {
        Ok(sdk) => sdk,
        Err(e) => return fail(&e.to_string()),
    };
    let name = name.unwrap_or_else(|| {
        std::path::absolute(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default()
    });
    match realm_run::template::create(dir, &name, sdk.root()) {
        Ok(()) => {
            println!(
                "realm-run: made {name} in {} (realm-sdk at {}); `cd` there and `cargo run`",
                dir.display(),
                sdk.root().display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("realm-run: {message}");
    ExitCode::FAILURE
}

fn run(args: &Run, payload: &Path) -> ExitCode {
    let timeout =
        Duration::from_secs(
            args.timeout
                .unwrap_or(if args.tf_rmm.is_some() { 300 } else { 60 }),
        );
    let firmware = match &args.tf_rmm {
        None => None,
        Some(dir) => match Firmware::in_dir(dir) {
            Some(firmware) => Some(firmware),
            None => {
                eprintln!(
                    "realm-run: {} must hold bl1.bin and fip.bin (TF-A + TF-RMM, see the README)",
                    dir.display()
                );
                return ExitCode::from(2);
            }
        },
    };
    match launch(args, firmware.as_ref(), payload, timeout) {
        Ok(output) => match realm_run::check_realm_end(&output) {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => fail(&reason),
        },
        // The output was printed as it came.
        Err(Error::Timeout(_)) => {
            eprintln!(
                "realm-run: the realm did not stop within {} s (--timeout SECS)",
                timeout.as_secs()
            );
            ExitCode::from(EXIT_TIMEOUT)
        }
        Err(e @ Error::Elf(_)) => fail(&format!("{}: {e}", payload.display())),
        Err(e) => fail(&e.to_string()),
    }
}

/// Builds what the run needs and runs the realm, printing its console as it arrives; returns
/// the whole output.
fn launch(
    args: &Run,
    firmware: Option<&Firmware>,
    payload: &Path,
    timeout: Duration,
) -> Result<String, Error> {
    let (image, flat) = realm_run::image_from_elf(payload)?;
    let sdk = Sdk::find(args.sdk.as_deref())?.quiet();
    let entry = [u64::from(args.pl011), args.x1];
    let mut print = |line: &str| {
        // A closed standard output must not stop the realm: its end still sets the exit code.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    };
    match firmware {
        None => {
            let harness = sdk.build_harness()?;
            Qemu {
                harness,
                image,
                image_size: flat.bytes.len() as u64,
                entry,
                recs: 1,
                timeout,
                rmm: if args.rsi_1_1 {
                    ModelRmm::TfRmmV0_9
                } else {
                    ModelRmm::TfRmmV0_8
                },
                disk: args.disk.clone(),
            }
            .run_streaming(&mut NoServices, &mut print)
        }
        Some(firmware) => {
            if !Qemu::available() {
                return Err(Error::NoQemu);
            }
            let mut cmd = realm_run::tf_rmm_qemu(&sdk, firmware, &image, entry, "")?;
            if let Some(disk) = &args.disk {
                cmd.arg("-device").arg(realm_run::disk_device(
                    disk,
                    cca_abi::virtio::RMI_HOST_DISK_PA,
                )?);
            }
            realm_run::run_streaming(cmd, timeout, &mut NoServices, &mut print)
                .map(|out| out.text())
        }
    }
}
