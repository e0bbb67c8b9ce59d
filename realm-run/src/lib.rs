//! Runs realm payloads: the library behind the `realm-run` command (a cargo runner) and
//! `cargo xtask`.
//!
//! - [`flat_image`] turns a payload ELF into the flat binary a host loads at the realm's IPA
//!   (what `objcopy -O binary` does, without needing binutils);
//! - [`Sdk`] is a realm-sdk checkout, where the hosts are built for `aarch64-unknown-none`:
//!   the EL2 harness ([`Sdk::build_harness`]) and rmi-host, which embeds the realm image
//!   ([`tf_rmm_qemu`]);
//! - [`Qemu`] runs a payload on `qemu-system-aarch64` under the EL2 harness and collects
//!   (or streams) its console output; [`tf_rmm_qemu`] makes the QEMU command that boots it on
//!   the user's TF-A + TF-RMM;
//! - [`check_realm_end`] says from that output how the realm ended;
//! - [`template`] makes a payload project of one's own (`realm-run new`).

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub mod relay;
pub mod template;

pub use relay::{NoServices, Services};

/// The bare-metal target.
pub const TARGET: &str = "aarch64-unknown-none";

/// Physical address where the harness expects the realm image (`el2-harness/src/layout.rs`).
pub const HARNESS_IMAGE_PA: u64 = 0x4200_0000;
/// Physical address of the harness's boot information block.
pub const HARNESS_BOOT_INFO_PA: u64 = 0x4100_0000;
/// Magic of the boot information block ("REALMIMG", little-endian).
pub const HARNESS_BOOT_MAGIC: u64 = u64::from_le_bytes(*b"REALMIMG");

/// Why a build or a run failed.
#[derive(Debug)]
pub enum Error {
    /// A command could not be started or its I/O failed.
    Io(String, io::Error),
    /// `cargo build` failed.
    Build(String),
    /// The payload ELF is not what a realm image needs.
    Elf(&'static str),
    /// QEMU is not installed.
    NoQemu,
    /// QEMU did not finish in time; the output so far is attached.
    Timeout(String),
    /// The realm did not end well ([`check_realm_end`]): why.
    Realm(String),
    /// No realm-sdk checkout where one was looked for: the folder and why.
    NoSdk(PathBuf, &'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(what, e) => write!(f, "{what}: {e}"),
            Self::Build(what) => write!(f, "build failed: {what}"),
            Self::Elf(what) => write!(f, "bad payload ELF: {what}"),
            Self::NoQemu => f.write_str(
                "qemu-system-aarch64 not found (Debian: apt-get install qemu-system-arm)",
            ),
            Self::Timeout(out) => write!(f, "QEMU did not stop in time; output so far:\n{out}"),
            Self::Realm(reason) => f.write_str(reason),
            Self::NoSdk(dir, why) => write!(
                f,
                "{} is not a realm-sdk checkout ({why}); name one with --sdk DIR or REALM_SDK_DIR",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for Error {}

/// A realm-sdk checkout: where the hosts (the EL2 harness, rmi-host) are built.
#[derive(Clone, Debug)]
pub struct Sdk {
    root: PathBuf,
    target_dir: PathBuf,
    quiet: bool,
}

/// The environment variable that names the realm-sdk checkout `realm-run` builds its hosts
/// in (its `--sdk` option wins over it).
pub const SDK_DIR_ENV: &str = "REALM_SDK_DIR";

impl Sdk {
    /// The checkout at `root`, building into `CARGO_TARGET_DIR` if it is set (relative to
    /// the current folder), else `root/target`. Not checked: see [`Sdk::find`].
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => std::path::absolute(&dir).unwrap_or_else(|_| PathBuf::from(dir)),
            None => root.join("target"),
        };
        Self {
            root,
            target_dir,
            quiet: false,
        }
    }

    /// The checkout `explicit` names (`--sdk`), else the one [`SDK_DIR_ENV`] names, else the
    /// one this library was built from (`cargo install --path realm-run` remembers it), checked
    /// to hold the EL2 harness and rmi-host.
    ///
    /// # Errors
    ///
    /// [`Error::NoSdk`] if the folder is not a realm-sdk checkout.
    pub fn find(explicit: Option<&Path>) -> Result<Self, Error> {
        let root = match (explicit, std::env::var_os(SDK_DIR_ENV)) {
            (Some(dir), _) => dir.to_path_buf(),
            (None, Some(dir)) => PathBuf::from(dir),
            (None, None) => Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        };
        let root = std::path::absolute(&root).unwrap_or(root);
        for (file, why) in [
            ("Cargo.toml", "no Cargo.toml"),
            ("el2-harness/Cargo.toml", "no el2-harness"),
            ("examples/rmi-host/Cargo.toml", "no examples/rmi-host"),
            ("realm-sdk/Cargo.toml", "no realm-sdk"),
        ] {
            if !root.join(file).is_file() {
                return Err(Error::NoSdk(root, why));
            }
        }
        Ok(Self::new(root))
    }

    /// The same checkout, with cargo's progress lines left out of builds (errors still show).
    #[must_use]
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// The checkout's folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `cargo build --target aarch64-unknown-none --release` puts binaries.
    #[must_use]
    pub fn aarch64_dir(&self) -> PathBuf {
        self.target_dir.join(TARGET).join("release")
    }

    /// Builds the checkout's `packages` for `aarch64-unknown-none` in release mode, with
    /// `env` for their build scripts.
    ///
    /// # Errors
    ///
    /// Cargo could not be started or the build failed.
    pub fn build_aarch64_with(
        &self,
        packages: &[&str],
        env: &[(&str, &Path)],
    ) -> Result<(), Error> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root)
            .args(["build", "--release", "--target", TARGET])
            .arg("--target-dir")
            .arg(&self.target_dir)
            .envs(env.iter().copied());
        if self.quiet {
            cmd.arg("--quiet");
        }
        for p in packages {
            cmd.args(["-p", p]);
        }
        let status = cmd
            .status()
            .map_err(|e| Error::Io("running cargo".into(), e))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Build(format!(
                "{} in {}",
                packages.join(", "),
                self.root.display()
            )))
        }
    }

    /// Builds the EL2 harness and returns the path of its ELF.
    ///
    /// # Errors
    ///
    /// As [`Sdk::build_aarch64_with`].
    pub fn build_harness(&self) -> Result<PathBuf, Error> {
        self.build_aarch64_with(&["el2-harness"], &[])?;
        Ok(self.aarch64_dir().join("el2-harness"))
    }
}

/// A flat realm image: the loadable bytes of a payload from its lowest load address.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct FlatImage {
    /// Address of the first byte (the realm IPA the host loads it to).
    pub load_address: u64,
    /// Entry point from the ELF header.
    pub entry: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

fn u16_at(b: &[u8], off: usize) -> Result<u16, Error> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(Error::Elf("truncated"))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, Error> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or(Error::Elf("truncated"))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, Error> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or(Error::Elf("truncated"))
}

/// Converts an AArch64 ELF64 executable into a flat image: every `PT_LOAD` segment's file
/// bytes placed at its physical address relative to the lowest one, gaps zero-filled.
/// Segments with no file bytes (BSS, stack, heap) are left out, as `objcopy -O binary` does.
///
/// # Errors
///
/// [`Error::Elf`] when `elf` is not an AArch64 ELF64 executable with something to load.
pub fn flat_image(elf: &[u8]) -> Result<FlatImage, Error> {
    const PT_LOAD: u32 = 1;
    const EM_AARCH64: u16 = 183;
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err(Error::Elf("not a little-endian ELF64 file"));
    }
    if u16_at(elf, 18)? != EM_AARCH64 {
        return Err(Error::Elf("not an AArch64 executable"));
    }
    let entry = u64_at(elf, 24)?;
    let phoff = usize::try_from(u64_at(elf, 32)?).map_err(|_| Error::Elf("phoff"))?;
    let phentsize = usize::from(u16_at(elf, 54)?);
    let phnum = usize::from(u16_at(elf, 56)?);
    let mut segments = Vec::new();
    for i in 0..phnum {
        let ph = phentsize
            .checked_mul(i)
            .and_then(|o| o.checked_add(phoff))
            .ok_or(Error::Elf("program headers past end"))?;
        if u32_at(elf, ph)? != PT_LOAD {
            continue;
        }
        let offset = usize::try_from(u64_at(elf, ph + 8)?).map_err(|_| Error::Elf("offset"))?;
        let paddr = u64_at(elf, ph + 24)?;
        let filesz = usize::try_from(u64_at(elf, ph + 32)?).map_err(|_| Error::Elf("filesz"))?;
        if filesz == 0 {
            continue;
        }
        let data = offset
            .checked_add(filesz)
            .and_then(|end| elf.get(offset..end))
            .ok_or(Error::Elf("segment past end"))?;
        paddr
            .checked_add(filesz as u64)
            .ok_or(Error::Elf("segment past the end of the address space"))?;
        segments.push((paddr, data));
    }
    let load_address = segments
        .iter()
        .map(|s| s.0)
        .min()
        .ok_or(Error::Elf("nothing to load"))?;
    let end = segments
        .iter()
        .map(|s| s.0 + s.1.len() as u64)
        .max()
        .unwrap_or(load_address);
    let len = usize::try_from(end - load_address).map_err(|_| Error::Elf("image too large"))?;
    if len > 256 << 20 {
        return Err(Error::Elf("segments span more than 256 MiB"));
    }
    let mut bytes = vec![0; len];
    for (paddr, data) in segments {
        let at = (paddr - load_address) as usize;
        bytes[at..at + data.len()].copy_from_slice(data);
    }
    Ok(FlatImage {
        load_address,
        entry,
        bytes,
    })
}

/// Reads the payload ELF at `path` and writes its flat image next to it, as `<path>.bin`;
/// returns that file's path and the image. The entry point must be the image's first byte,
/// where the hosts start the realm.
///
/// # Errors
///
/// The file cannot be read or written, or it is not a realm payload ([`Error::Elf`]).
pub fn image_from_elf(path: &Path) -> Result<(PathBuf, FlatImage), Error> {
    let elf = std::fs::read(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
    let image = flat_image(&elf)?;
    if image.entry != image.load_address {
        return Err(Error::Elf("entry point is not the first byte of the image"));
    }
    let bin = path.with_extension("bin");
    write_atomic(&bin, &image.bytes)?;
    Ok((bin, image))
}

/// Writes `bytes` to `path` so that a reader (a QEMU of a test running in parallel) sees the
/// old file or the new one, never a partial one: a temporary file in the same folder, then
/// a rename. Leaves an identical file alone.
///
/// # Errors
///
/// The file cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::Io(tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::Io(path.display().to_string(), e))
}

/// The reference firmware a user built: TF-A's BL1 and a FIP holding TF-RMM (TF-A v2.14.0 and
/// TF-RMM v0.8.0 for QEMU with RME; see the README).
#[derive(Clone, Debug)]
pub struct Firmware {
    /// `bl1.bin`.
    pub bl1: PathBuf,
    /// `fip.bin`.
    pub fip: PathBuf,
}

impl Firmware {
    /// The firmware in `dir` (`bl1.bin` and `fip.bin`), if both files are there.
    #[must_use]
    pub fn in_dir(dir: &Path) -> Option<Self> {
        let fw = Self {
            bl1: dir.join("bl1.bin"),
            fip: dir.join("fip.bin"),
        };
        (fw.bl1.is_file() && fw.fip.is_file()).then_some(fw)
    }

    /// The firmware named by `REALM_SDK_FIRMWARE`, if it is set and complete.
    #[must_use]
    pub fn from_env() -> Option<Self> {
        std::env::var_os("REALM_SDK_FIRMWARE").and_then(|d| Self::in_dir(Path::new(&d)))
    }
}

/// Offset of the FIP in the flash image TF-A's `qemu_fw.bios` target makes (`plat/qemu`).
pub const FIP_FLASH_OFFSET: usize = 0x40000;

fn run_tool(cmd: &mut Command, what: &str) -> Result<(), Error> {
    let status = cmd.status().map_err(|e| Error::Io(what.into(), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Build(what.into()))
    }
}

/// Builds rmi-host in `sdk` embedding the flat realm `image` (the REC starting with `x0`,
/// `x1` = `entry`; `realm_params` is rmi-host's `REALM_PARAMS`,
/// `examples/rmi-host/build.rs`, e.g. `"sve_vl=1,pmu=2"`), puts the host into a copy of the
/// firmware's FIP as BL33 (Debian's `fiptool`, package arm-trusted-firmware-tools), makes
/// the flash image (BL1, then the FIP at 0x40000) and returns the QEMU command that boots it
/// on QEMU with RME (not started).
///
/// # Errors
///
/// A build or tool failure.
pub fn tf_rmm_qemu(
    sdk: &Sdk,
    firmware: &Firmware,
    image: &Path,
    entry: [u64; 2],
    realm_params: &str,
) -> Result<Command, Error> {
    fn io(p: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
        move |e| Error::Io(p.display().to_string(), e)
    }
    let (x0, x1) = (entry[0].to_string(), entry[1].to_string());
    let image = std::path::absolute(image).map_err(io(image))?;
    let env = [
        ("REALM_IMAGE", image.as_path()),
        ("REALM_ENTRY_X0", Path::new(&x0)),
        ("REALM_ENTRY_X1", Path::new(&x1)),
        ("REALM_PARAMS", Path::new(realm_params)),
    ];
    sdk.build_aarch64_with(&["rmi-host"], &env)?;
    let elf_path = sdk.aarch64_dir().join("rmi-host");
    let elf = std::fs::read(&elf_path).map_err(io(&elf_path))?;
    let host = flat_image(&elf)?;
    let work = sdk.aarch64_dir().join("tf-rmm");
    std::fs::create_dir_all(&work).map_err(io(&work))?;
    let host_bin = work.join("rmi-host.bin");
    let fip = work.join("fip.bin");
    write_atomic(&host_bin, &host.bytes)?;
    std::fs::copy(&firmware.fip, &fip).map_err(io(&firmware.fip))?;
    run_tool(
        Command::new("fiptool")
            .arg("update")
            .arg("--nt-fw")
            .arg(&host_bin)
            .arg(&fip),
        "fiptool update --nt-fw (Debian: apt-get install arm-trusted-firmware-tools)",
    )?;
    let mut flash = std::fs::read(&firmware.bl1).map_err(io(&firmware.bl1))?;
    if flash.len() > FIP_FLASH_OFFSET {
        return Err(Error::Build(format!(
            "{} is larger than 0x40000",
            firmware.bl1.display()
        )));
    }
    flash.resize(FIP_FLASH_OFFSET, 0);
    flash.extend(std::fs::read(&fip).map_err(io(&fip))?);
    let flash_path = work.join("flash.bin");
    std::fs::write(&flash_path, flash).map_err(io(&flash_path))?;
    let mut cmd = Command::new("qemu-system-aarch64");
    cmd.args([
        "-M",
        "virt,virtualization=on,secure=on,gic-version=3,acpi=off",
    ])
    .args(["-cpu", "max,x-rme=on", "-smp"])
    .arg(tf_rmm_cpus(realm_params).to_string())
    .args(["-m", "2G", "-nographic"])
    .arg("-bios")
    .arg(&flash_path);
    Ok(cmd)
}

/// QEMU CPUs for a TF-RMM run: 2 (what the firmware has always booted with), or one per REC
/// when `realm_params` asks for more RECs (`recs=N`: rmi-host runs REC i on CPU i). TF-RMM's
/// QEMU `virt` build supports 32 CPUs (`MAX_CPUS`, `configs/qemu_virt_defcfg.cmake` of
/// v0.8.0), TF-A's QEMU platform more than the 8 rmi-host uses.
#[must_use]
pub fn tf_rmm_cpus(realm_params: &str) -> usize {
    realm_params
        .split(',')
        .filter_map(|item| item.trim().strip_prefix("recs="))
        .filter_map(|n| n.parse::<usize>().ok())
        .next_back()
        .unwrap_or(1)
        .max(2)
}

/// What a run printed, line by line, with the time since QEMU was started at which each line
/// arrived, and when QEMU exited.
#[derive(Clone, Debug, Default)]
pub struct TimedOutput {
    /// Each line (without its end) and when it arrived.
    pub lines: Vec<(Duration, String)>,
    /// When QEMU exited.
    pub exited: Duration,
}

impl TimedOutput {
    /// The output as one string, a line end after each line.
    #[must_use]
    pub fn text(&self) -> String {
        self.lines.iter().map(|(_, l)| format!("{l}\n")).collect()
    }
}

/// Runs `cmd` (a QEMU command) to the end, or kills it after `timeout`, timing each line of
/// its standard output; `services` answers the service request lines on QEMU's standard
/// input, and those lines are left out of the output.
///
/// # Errors
///
/// QEMU cannot be started or waited for, or it did not stop in time ([`Error::Timeout`]).
pub fn run_timed(
    cmd: Command,
    timeout: Duration,
    services: &mut dyn Services,
) -> Result<TimedOutput, Error> {
    run_streaming(cmd, timeout, services, &mut |_| {})
}

/// [`run_timed`], handing each line to `on_line` as it arrives (to print it as the realm
/// runs).
///
/// # Errors
///
/// As [`run_timed`].
pub fn run_streaming(
    mut cmd: Command,
    timeout: Duration,
    services: &mut dyn Services,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<TimedOutput, Error> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::Io("starting qemu-system-aarch64".into(), e))?;
    let (Some(stdout), Some(mut stdin)) = (child.stdout.take(), child.stdin.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::Io(
            "qemu-system-aarch64's standard input and output".into(),
            io::Error::other("not piped"),
        ));
    };
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut out = Vec::new();
            let mut lines = BufReader::new(stdout);
            let mut line = Vec::new();
            while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let at = start.elapsed();
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches('\n').trim_end_matches('\r');
                match relay::parse_request(text) {
                    None => {
                        on_line(text);
                        out.push((at, text.to_string()));
                    }
                    Some(request) => {
                        let (status, answer) = match request {
                            Ok((service, bytes)) => services.call(service, &bytes),
                            Err(()) => (cca_abi::hostcall::status::UNAVAILABLE, Vec::new()),
                        };
                        // QEMU gone: the wait below notices.
                        let _ = stdin.write_all(relay::reply_line(status, &answer).as_bytes());
                        let _ = stdin.flush();
                    }
                }
                line.clear();
            }
            out
        });
        let timed_out = loop {
            match child.try_wait() {
                Ok(Some(_)) => break false,
                Ok(None) if start.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break true;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Io("waiting for QEMU".into(), e));
                }
            }
        };
        let exited = start.elapsed();
        let lines = reader.join().unwrap_or_default();
        let out = TimedOutput { lines, exited };
        if timed_out {
            Err(Error::Timeout(out.text()))
        } else {
            Ok(out)
        }
    })
}

/// Which RMM the EL2 harness models (`el2_harness::layout::BOOT_INFO_MODEL`).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum ModelRmm {
    /// TF-RMM v0.8.0's default build: RSI 1.0 only.
    #[default]
    TfRmmV0_8,
    /// TF-RMM v0.9.0: RSI 1.0 and 1.1.
    TfRmmV0_9,
}

impl ModelRmm {
    /// The boot information word.
    #[must_use]
    pub const fn boot_word(self) -> u64 {
        match self {
            Self::TfRmmV0_8 => el2_harness::layout::MODEL_TF_RMM_V0_8,
            Self::TfRmmV0_9 => el2_harness::layout::MODEL_TF_RMM_V0_9,
        }
    }
}

/// A QEMU run of a realm payload under the EL2 harness.
#[derive(Clone, Debug)]
pub struct Qemu {
    /// The harness ELF.
    pub harness: PathBuf,
    /// The flat realm image.
    pub image: PathBuf,
    /// Size of the image in bytes.
    pub image_size: u64,
    /// The realm's `x0` and `x1` at entry (`x0` bit 0: PL011 console).
    pub entry: [u64; 2],
    /// How long QEMU may run.
    pub timeout: Duration,
    /// The RMM the harness models.
    pub rmm: ModelRmm,
    /// The realm's RECs (1 to 8), one QEMU CPU each (`-smp`); QEMU runs the CPUs in
    /// parallel threads (MTTCG), so RECs really run at the same time.
    pub recs: usize,
    /// A disk image for the realm's virtio block device, loaded at the harness's disk
    /// window (`el2_harness::layout::DISK_PA`, at most `DISK_WINDOW` bytes); without one
    /// the disk reads as zeros.
    pub disk: Option<PathBuf>,
}

/// The QEMU `-device` argument that loads the disk image `path` at `pa`, the disk window
/// of a host's virtio block device (`cca_abi::virtio`: `HARNESS_DISK_PA` or
/// `RMI_HOST_DISK_PA`). The device's capacity is the whole window,
/// [`cca_abi::virtio::DISK_WINDOW`] bytes, whatever the file's size.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, [`Error::Build`] if it is larger than the
/// window.
pub fn disk_device(path: &Path, pa: u64) -> Result<String, Error> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::Io(path.display().to_string(), e))?
        .len();
    if len > cca_abi::virtio::DISK_WINDOW {
        return Err(Error::Build(format!(
            "the disk image {} has {len} bytes, more than the {} of the disk window",
            path.display(),
            cca_abi::virtio::DISK_WINDOW
        )));
    }
    let path = std::path::absolute(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
    Ok(format!(
        "loader,file={},addr={pa:#x},force-raw=on",
        path.display()
    ))
}

impl Qemu {
    /// The same run with `path` as the virtio block device's disk image.
    #[must_use]
    pub fn disk(mut self, path: impl Into<PathBuf>) -> Self {
        self.disk = Some(path.into());
        self
    }

    /// Returns whether `qemu-system-aarch64` can be started.
    #[must_use]
    pub fn available() -> bool {
        Command::new("qemu-system-aarch64")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The command line.
    ///
    /// # Errors
    ///
    /// As [`disk_device`] for the disk image.
    pub fn command(&self) -> Result<Command, Error> {
        let mut cmd = Command::new("qemu-system-aarch64");
        cmd.args(["-M", "virt,virtualization=on,gic-version=3", "-cpu", "max"])
            .arg("-smp")
            .arg(self.recs.max(1).to_string())
            .args([
                "-m",
                "1G",
                "-nodefaults",
                "-display",
                "none",
                "-serial",
                "stdio",
            ])
            .arg("-kernel")
            .arg(&self.harness)
            .arg("-device")
            .arg(format!(
                "loader,file={},addr={HARNESS_IMAGE_PA:#x},force-raw=on",
                self.image.display()
            ));
        let words = [
            HARNESS_BOOT_MAGIC,
            self.image_size,
            self.entry[0],
            self.entry[1],
            self.rmm.boot_word(),
            self.recs as u64,
        ];
        for (offset, value) in (0..).step_by(8).zip(words) {
            cmd.arg("-device").arg(format!(
                "loader,addr={:#x},data={value:#x},data-len=8",
                HARNESS_BOOT_INFO_PA + offset
            ));
        }
        if let Some(disk) = &self.disk {
            cmd.arg("-device")
                .arg(disk_device(disk, el2_harness::layout::DISK_PA)?);
        }
        Ok(cmd)
    }

    /// Runs QEMU to the end and returns what the serial port printed; service calls are
    /// answered "unavailable".
    ///
    /// # Errors
    ///
    /// QEMU is missing, cannot be started or did not stop in time.
    pub fn run(&self) -> Result<String, Error> {
        self.run_with(&mut NoServices)
    }

    /// As [`Qemu::run`], with QEMU logging each block of guest code it translates
    /// (`-d in_asm`) to `log` (xtask's `exclusives` reads it).
    ///
    /// # Errors
    ///
    /// As [`Qemu::run`].
    pub fn run_traced(&self, log: &Path) -> Result<String, Error> {
        if !Self::available() {
            return Err(Error::NoQemu);
        }
        let mut cmd = self.command()?;
        cmd.arg("-d").arg("in_asm").arg("-D").arg(log);
        run_streaming(cmd, self.timeout, &mut NoServices, &mut |_| {}).map(|out| out.text())
    }

    /// As [`Qemu::run`], with `services` answering the realm's service calls.
    ///
    /// # Errors
    ///
    /// As [`Qemu::run`].
    pub fn run_with(&self, services: &mut dyn Services) -> Result<String, Error> {
        self.run_streaming(services, &mut |_| {})
    }

    /// As [`Qemu::run_with`], handing each line to `on_line` as it arrives.
    ///
    /// # Errors
    ///
    /// As [`Qemu::run`].
    pub fn run_streaming(
        &self,
        services: &mut dyn Services,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, Error> {
        if !Self::available() {
            return Err(Error::NoQemu);
        }
        run_streaming(self.command()?, self.timeout, services, on_line).map(|out| out.text())
    }
}

/// How the realm in a host's console output ended: `Ok` if it switched itself off with
/// PSCI `SYSTEM_OFF` after its `main` returned, `Err` with the reason otherwise (a panic or
/// an exception it reported, a failed launch, a fault the host saw, or no `SYSTEM_OFF` at
/// all). The hosts print these lines: the EL2 harness and rmi-host.
///
/// # Errors
///
/// The reason the realm did not end well, as a sentence.
pub fn check_realm_end(output: &str) -> Result<(), String> {
    const FAILURES: &[(&str, &str)] = &[
        ("el2-harness: realm ended: ", "the realm ended: "),
        ("rmi-host: realm ended: ", "the realm ended: "),
        ("rmi-host: error: ", "the launch failed: "),
        ("rmi-host: realm stopped: ", "the realm stopped: "),
        (
            "el2-harness: realm stage-2 fault",
            "the realm faulted: stage-2 fault",
        ),
        (
            "el2-harness: unexpected exit",
            "the realm stopped: unexpected exit",
        ),
        (
            "el2-harness: cannot enter the realm",
            "the realm stopped: cannot enter the realm",
        ),
    ];
    for line in output.lines() {
        if line == "rmi-host: realm stopped: PSCI SYSTEM_OFF" {
            continue;
        }
        for (prefix, reason) in FAILURES {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Err(format!("{reason}{rest}"));
            }
        }
    }
    let off = [
        "el2-harness: realm called PSCI SYSTEM_OFF",
        "rmi-host: realm stopped: PSCI SYSTEM_OFF",
    ];
    if output.lines().any(|l| off.contains(&l)) {
        Ok(())
    } else {
        Err("the realm did not switch itself off with PSCI SYSTEM_OFF".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a realm that switched itself off after `main` returned ended well; each other
    /// ending is named.
    #[test]
    fn realm_endings() {
        let ok = "el2-harness: done\nel2-harness: realm called PSCI SYSTEM_OFF\n";
        assert_eq!(check_realm_end(ok), Ok(()));
        assert_eq!(
            check_realm_end("x\nrmi-host: realm stopped: PSCI SYSTEM_OFF\nrmi-host: teardown\n"),
            Ok(())
        );
        let panic = "el2-harness: realm ended: panic (status 1)\nel2-harness: realm called PSCI SYSTEM_OFF\n";
        assert_eq!(
            check_realm_end(panic),
            Err("the realm ended: panic (status 1)".into())
        );
        assert_eq!(
            check_realm_end("rmi-host: error: RMI version: no common version\n"),
            Err("the launch failed: RMI version: no common version".into())
        );
        assert_eq!(
            check_realm_end("rmi-host: realm stopped: PSCI SYSTEM_RESET\n"),
            Err("the realm stopped: PSCI SYSTEM_RESET".into())
        );
        assert_eq!(
            check_realm_end("hello\n"),
            Err("the realm did not switch itself off with PSCI SYSTEM_OFF".into())
        );
    }

    /// A minimal ELF64 with two PT_LOAD segments and a gap between them.
    fn elf() -> Vec<u8> {
        let mut e = vec![0u8; 0x200];
        e[..4].copy_from_slice(b"\x7fELF");
        e[4] = 2;
        e[5] = 1;
        e[18..20].copy_from_slice(&183u16.to_le_bytes());
        e[24..32].copy_from_slice(&0x8000_0000u64.to_le_bytes());
        e[32..40].copy_from_slice(&0x40u64.to_le_bytes());
        e[54..56].copy_from_slice(&56u16.to_le_bytes());
        e[56..58].copy_from_slice(&3u16.to_le_bytes());
        let seg = |e: &mut Vec<u8>, i: usize, off: u64, paddr: u64, filesz: u64| {
            let ph = 0x40 + i * 56;
            e[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
            e[ph + 8..ph + 16].copy_from_slice(&off.to_le_bytes());
            e[ph + 24..ph + 32].copy_from_slice(&paddr.to_le_bytes());
            e[ph + 32..ph + 40].copy_from_slice(&filesz.to_le_bytes());
        };
        seg(&mut e, 0, 0x100, 0x8000_0000, 4);
        seg(&mut e, 1, 0x104, 0x8000_0010, 2);
        seg(&mut e, 2, 0, 0x8000_1000, 0); // BSS: no file bytes
        e[0x100..0x106].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        e
    }

    #[test]
    fn flat_image_places_segments_and_fills_gaps() {
        let img = flat_image(&elf()).unwrap();
        assert_eq!(img.load_address, 0x8000_0000);
        assert_eq!(img.entry, 0x8000_0000);
        let mut want = vec![0; 0x12];
        want[..4].copy_from_slice(&[1, 2, 3, 4]);
        want[0x10..].copy_from_slice(&[5, 6]);
        assert_eq!(img.bytes, want);
    }

    #[test]
    fn flat_image_rejects_bad_input_without_panicking() {
        let good = elf();
        for len in 0..good.len() {
            let _ = flat_image(&good[..len]);
        }
        assert!(matches!(flat_image(b"not an elf"), Err(Error::Elf(_))));
        let mut other = good.clone();
        other[18] = 62; // x86-64
        assert!(matches!(
            flat_image(&other),
            Err(Error::Elf("not an AArch64 executable"))
        ));
    }
}
