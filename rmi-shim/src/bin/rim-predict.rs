//! `rim-predict`: print the RIM a realm built from a flat image will have under an RMI 1.0
//! RMM (TF-RMM v0.8.0) or, with `--rmi 2.0`, an RMI 2.0 one (TF-RMM v0.9.0), without running
//! it.
//!
//! See `--help` for how the image is assumed to be loaded; the arithmetic is
//! `rmi_shim::rim::FlatImage`. The image file is memory-mapped and its DATA content hashes
//! are computed on every core (`FlatImage::predict_parallel_for`); `-` reads the image from
//! standard input instead. An empty image or an ELF file is refused (exit 1): the RIM of
//! either could never match a realm's.
//!
//! Exit codes: 0 the RIM was printed (and `--help`, `--version`, or a closed output: `|
//! head` ends it quietly); 1 the image could not be read or is refused, or the prediction
//! failed; 2 a usage error, including realm parameters no RMM accepts.
// Mapping the image is the one unsafe operation (`map`).
#![deny(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rmi::{Generation, Ipa, RecCreateFlags, RmiDataMeasureContent, RttLevel};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{CommandFactory, Parser};
use rmi_shim::rim::{FlatImage, MeasuredRealmParams, MeasuredRecParams, RipasRange};
use serde_json::json;

/// How the realm is assumed to be built, at the end of `--help`.
const BUILD: &str = "\
HOW THE REALM IS ASSUMED TO BE BUILT (the RIM depends on every step and its order):
    1. RMI_REALM_CREATE with the parameters below. Only flags, s2sz, sve_vl, num_bps,
       num_wps, pmu_num_ctrs and hash_algo are measured.
    2. RMI_RTT_INIT_RIPAS (measured by RMI 1.0 only) over the image, widened to whole
       RTT entries of --ripas-level: [align_down(ipa-base), align_up(ipa-base + size)). One
       descriptor is measured per RTT entry, so the level must be the level of the RTT
       entries the host really has there (3 = 4 KiB entries of level-3 tables, 2 = 2 MiB
       blocks, ...). With --ram-size, over [ipa-base, ipa-base + ram-size) as rmi-shim's
       builder walks it: 4 KiB entries over the 2 MiB blocks that hold the image, 2 MiB
       entries beyond (--ripas-level is then not used).
    3. One RMI_DATA_CREATE (RMI 2.0: RMI_RTT_DATA_MAP_INIT, measured alike) per 4 KiB of
       the image, in address order from --ipa-base; the last granule is zero-padded.
       Content measured unless --unmeasured(-at).
    4. One RMI_REC_CREATE, RUNNABLE (unless --not-runnable) with pc and x0..x7 below. MPIDR
       and the auxiliary granules are not measured.
    A host that creates other granules, uses other ranges or another order gets another RIM.
    rmi-shim's builder (and rmi-host) makes exactly this realm with RIPAS over all of its
    RAM: its default configuration is --s2sz 39 --ipa-base 0x80000000 --ram-size 0x2000000.
    RMI 2.0 RMMs (TF-RMM v0.9.0) do not measure step 2 (--rmi 2.0).

IMAGE is the flat binary the host loads (rust-objcopy -O binary, cargo xtask image NAME),
not an ELF file; `-` reads it from standard input. Numbers are decimal or 0x-prefixed hex.

Exit codes: 0 the RIM was printed; 1 the image could not be read or is refused, or the
prediction failed; 2 a usage error (including parameters no RMM accepts).";

/// Predict the Realm Initial Measurement (RIM) of a realm built from a flat image, as an
/// RMI 1.0 RMM (DEN0137 1.0-rel0, TF-RMM v0.8.0) or an RMI 2.0 RMM (TF-RMM v0.9.0)
/// computes it.
#[derive(Debug, Parser)]
#[command(name = "rim-predict", version, after_long_help = BUILD)]
struct Cli {
    /// The flat image (not an ELF file); `-` reads standard input.
    #[arg(value_name = "IMAGE")]
    image: PathBuf,
    /// The RMM's interface generation.
    #[arg(long, value_name = "VERSION", default_value = "1.0", value_parser = generation())]
    rmi: Generation,
    /// Realm hash algorithm (RmiRealmParams.hash_algo).
    #[arg(long, value_name = "ALGORITHM", default_value = "sha256", value_parser = hash())]
    hash: HashAlgorithm,
    /// IPA width (32..52).
    #[arg(long, value_name = "BITS", default_value = "40", value_parser = number_u32)]
    s2sz: u32,
    /// RmiRealmParams.flags: bit 0 LPA2, 1 SVE, 2 PMU.
    #[arg(long, value_name = "N", default_value = "0", value_parser = number)]
    realm_flags: u64,
    /// SVE vector length as VQ - 1.
    #[arg(long, value_name = "N", default_value = "0", value_parser = number_u32)]
    sve_vl: u32,
    /// Breakpoints minus one.
    #[arg(long, value_name = "N", default_value = "1", value_parser = number_u32)]
    num_bps: u32,
    /// Watchpoints minus one.
    #[arg(long, value_name = "N", default_value = "1", value_parser = number_u32)]
    num_wps: u32,
    /// PMU counters.
    #[arg(long, value_name = "N", default_value = "0", value_parser = number_u32)]
    pmu_num_ctrs: u32,
    /// IPA of the first image byte (4 KiB aligned).
    #[arg(long, value_name = "ADDR", default_value = "0", value_parser = ipa)]
    ipa_base: Ipa,
    /// Level of the RTT entries covering the image.
    #[arg(long, value_name = "L", default_value = "3", value_parser = rtt_level)]
    ripas_level: RttLevel,
    /// RTT_INIT_RIPAS over this much RAM from ipa-base (a multiple of 2 MiB), as rmi-shim's
    /// builder does, not just over the image.
    #[arg(long, value_name = "BYTES", value_parser = number)]
    ram_size: Option<u64>,
    /// DATA_CREATE with NO_MEASURE_CONTENT for every granule.
    #[arg(long)]
    unmeasured: bool,
    /// DATA_CREATE with NO_MEASURE_CONTENT for the granule at IPA only (repeatable).
    #[arg(long, value_name = "IPA", value_parser = ipa)]
    unmeasured_at: Vec<Ipa>,
    /// REC entry point [default: ipa-base].
    #[arg(long, value_name = "ADDR", value_parser = number)]
    pc: Option<u64>,
    /// Initial value of x0..x7, as I=VALUE with I in 0..7 (repeatable) [default: 0].
    #[arg(long, value_name = "I=VALUE", value_parser = gpr)]
    gpr: Vec<(usize, u64)>,
    /// Create the REC without RUNNABLE (it is then not measured).
    #[arg(long)]
    not_runnable: bool,
    /// The Realm Personalization Value (up to 64 bytes, zero-padded): NOT part of the RIM;
    /// it goes into the endorsements only.
    #[arg(long, value_name = "HEX", value_parser = rpv)]
    rpv: Option<[u8; 64]>,
    /// Expected REM I (0..3) as hex, for the endorsements (repeatable).
    #[arg(long, value_name = "I=HEX", value_parser = rem)]
    rem: Vec<(usize, Vec<u8>)>,
    /// Write the realm's reference values (RIM, the --rem REMs, the --rpv RPV) to FILE as a
    /// CBOR CoMID of the CoRIM CCA realm profile (draft-ydb-rats-cca-endorsements), for
    /// Veraison's provisioning tools.
    #[arg(long, value_name = "FILE")]
    endorsements: Option<PathBuf>,
    /// The same CoMID in the JSON template form (cocli, cca-realm-measurements).
    #[arg(long, value_name = "FILE")]
    endorsements_json: Option<PathBuf>,
    /// Print a JSON object instead of the hex RIM.
    #[arg(long)]
    json: bool,
    /// Hash the image on N threads; 1 runs the sequential predictor [default: one per CPU].
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
    /// Read the image into memory instead of mapping it.
    #[arg(long)]
    no_mmap: bool,
}

/// `--rmi`: 1.0 or 2.0.
fn generation() -> impl TypedValueParser<Value = Generation> {
    PossibleValuesParser::new(["1.0", "2.0"]).map(|s| match s.as_str() {
        "2.0" => Generation::V2_0,
        _ => Generation::V1_0,
    })
}

/// `--hash`: sha256 or sha512 (also spelt as in tokens, sha-256 and sha-512).
fn hash() -> impl TypedValueParser<Value = HashAlgorithm> {
    PossibleValuesParser::new([
        PossibleValue::new("sha256").alias("sha-256"),
        PossibleValue::new("sha512").alias("sha-512"),
    ])
    .map(|s| match s.as_str() {
        "sha512" | "sha-512" => HashAlgorithm::Sha512,
        _ => HashAlgorithm::Sha256,
    })
}

/// A decimal or 0x-prefixed hex number, with optional `_` separators.
fn number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    parsed.map_err(|e| format!("not a decimal or 0x-prefixed hex number ({e})"))
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return Err("an odd number of hex digits".into());
    }
    (0..s.len() / 2)
        .map(|i| {
            s.get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("not hex at digit {}", 2 * i))
        })
        .collect()
}

/// `--rpv`: up to 64 bytes in hex, zero-padded to 64 as `RmiRealmParams.rpv` holds them
/// (kvmtool and QEMU pad a shorter personalization value the same way).
fn rpv(s: &str) -> Result<[u8; 64], String> {
    let bytes = hex_bytes(s)?;
    if bytes.len() > 64 {
        return Err(format!("{} bytes; the RPV has 64", bytes.len()));
    }
    let mut rpv = [0u8; 64];
    rpv[..bytes.len()].copy_from_slice(&bytes);
    Ok(rpv)
}

/// `--rem I=HEX`: a REM index (0..3) and a digest.
fn rem(s: &str) -> Result<(usize, Vec<u8>), String> {
    let (i, hex) = s.split_once('=').ok_or("expected I=HEX")?;
    let i: usize = i.parse().map_err(|_| format!("{i}: not a REM index"))?;
    if i > 3 {
        return Err(format!("REM {i}: there are REMs 0 to 3"));
    }
    Ok((i, hex_bytes(hex)?))
}

fn number_u32(s: &str) -> Result<u32, String> {
    u32::try_from(number(s)?).map_err(|_| "does not fit in 32 bits".to_owned())
}

/// A 4 KiB aligned IPA.
fn ipa(s: &str) -> Result<Ipa, String> {
    let v = number(s)?;
    Ipa::new(v).ok_or_else(|| format!("{v:#x} is not 4 KiB aligned"))
}

fn rtt_level(s: &str) -> Result<RttLevel, String> {
    s.parse::<i8>()
        .ok()
        .and_then(RttLevel::new)
        .ok_or_else(|| "not a level in -1..3".to_owned())
}

/// `--gpr I=VALUE`.
fn gpr(s: &str) -> Result<(usize, u64), String> {
    let (i, x) = s.split_once('=').ok_or("not I=VALUE")?;
    let i: usize = i
        .parse()
        .ok()
        .filter(|i| *i < 8)
        .ok_or_else(|| format!("register `{i}` is not one of 0..7 (RmiRecParams.gprs)"))?;
    Ok((i, number(x)?))
}

impl Cli {
    fn params(&self) -> MeasuredRealmParams {
        MeasuredRealmParams {
            flags0: self.realm_flags,
            s2sz: self.s2sz,
            sve_vl: self.sve_vl,
            num_bps: self.num_bps,
            num_wps: self.num_wps,
            pmu_num_ctrs: self.pmu_num_ctrs,
            hash_algo: self.hash,
        }
    }

    fn rec(&self) -> MeasuredRecParams {
        let mut gprs = [0u64; 8];
        for &(i, value) in &self.gpr {
            // `gpr` checked the index.
            if let Some(slot) = gprs.get_mut(i) {
                *slot = value;
            }
        }
        let flags = if self.not_runnable {
            RecCreateFlags::EMPTY
        } else {
            RecCreateFlags::RUNNABLE
        };
        MeasuredRecParams {
            flags: flags.to_raw(),
            pc: self.pc.unwrap_or(self.ipa_base.addr()),
            gprs,
        }
    }

    fn content_flags(&self) -> RmiDataMeasureContent {
        if self.unmeasured {
            RmiDataMeasureContent::NoMeasureContent
        } else {
            RmiDataMeasureContent::MeasureContent
        }
    }
}

/// Why no RIM was printed (exit 1).
#[derive(Debug)]
enum Failure {
    /// The image could not be read.
    Read {
        /// The file, or `standard input`.
        file: String,
        /// The error.
        error: std::io::Error,
    },
    /// The image is empty.
    Empty {
        /// The file.
        file: String,
    },
    /// The image is an ELF file, not the flat binary a host loads.
    Elf {
        /// The file.
        file: String,
    },
    /// Another reason, as a sentence.
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { file, error } => write!(f, "{file}: {error}"),
            Self::Empty { file } => write!(
                f,
                "{file} is empty; rim-predict takes the flat binary a host loads \
                 (rust-objcopy -O binary, or cargo xtask image NAME), not an empty file"
            ),
            Self::Elf { file } => write!(
                f,
                "{file} is an ELF file; rim-predict takes the flat binary a host loads: \
                 make it with `rust-objcopy -O binary {file} IMAGE` (or `cargo xtask image \
                 NAME` for an example)"
            ),
            Self::Other(reason) => f.write_str(reason),
        }
    }
}

/// The image's bytes: mapped from its file, or read into memory (standard input, a file
/// that cannot be mapped, `--no-mmap`).
enum Image {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Deref for Image {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(map) => map,
            Self::Read(bytes) => bytes,
        }
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How the image is named in messages.
fn name(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Maps `file` read-only.
#[allow(unsafe_code, reason = "memory-maps the image (see the SAFETY comment)")]
fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: `Mmap::map` is unsafe because the mapped bytes are not ours: if another
    // process rewrites the file while it is mapped the slice changes under us, and if it
    // truncates it, reading past the new end faults (SIGBUS). Nothing in this process
    // writes the file, and the mapping lives for one pass over the image. A RIM predicted
    // from an image that is being rewritten means nothing anyway; this is the trade-off
    // ripgrep makes for the same gain, and `--no-mmap` reads the file instead.
    unsafe { memmap2::Mmap::map(file) }
}

/// Loads the image named by `path` and refuses what cannot be a flat realm image.
fn load(path: &Path, mmap: bool) -> Result<Image, Failure> {
    let file_name = name(path);
    let read = |error| Failure::Read {
        file: file_name.clone(),
        error,
    };
    let image = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(read)?;
        Image::Read(bytes)
    } else {
        let mut file = File::open(path).map_err(read)?;
        let metadata = file.metadata().map_err(read)?;
        // Only regular files are mapped: a pipe or a device (`<(...)`, /dev/stdin) is read.
        if mmap && metadata.is_file() && metadata.len() > 0 {
            Image::Mapped(map(&file).map_err(read)?)
        } else {
            let capacity = usize::try_from(metadata.len()).unwrap_or(0);
            let mut bytes = Vec::with_capacity(capacity);
            file.read_to_end(&mut bytes).map_err(read)?;
            Image::Read(bytes)
        }
    };
    if image.is_empty() {
        return Err(Failure::Empty { file: file_name });
    }
    if image.starts_with(b"\x7fELF") {
        return Err(Failure::Elf { file: file_name });
    }
    Ok(image)
}

/// Refuses realm parameters no RMM of `generation` accepts, whatever it reports in
/// `RMI_FEATURES` (TF-RMM v0.8.0 and v0.9.0 `runtime/rmi/realm.c`, `validate_realm_params`;
/// the field widths of `RMI_FEATURES(0)`): a RIM for them could never be formed.
fn check_params(generation: Generation, p: &MeasuredRealmParams) -> Result<(), String> {
    let known_flags: u64 = match generation {
        // LPA2, SVE, PMU, DA (TF-RMM v0.8.0 checks the RMI 1.1 DA flag too).
        Generation::V1_0 => 0b1111,
        // The same, and the MEC policy in bits 8:7, which may be 0 (shared) or 1 (private)
        // (TF-RMM v0.9.0 `RMI_REALM_FLAGS0_*`).
        Generation::V2_0 => 0b0_1000_1111,
    };
    let refuse = |what: &str| Err(format!("no RMM accepts {what}"));
    if p.flags0 & !known_flags != 0 {
        return refuse(&format!("--realm-flags {:#x} (undefined bits)", p.flags0));
    }
    if !(1..=16).contains(&p.num_bps) {
        return refuse(&format!("--num-bps {} (1 to 16; 0 is reserved)", p.num_bps));
    }
    if !(1..=16).contains(&p.num_wps) {
        return refuse(&format!("--num-wps {} (1 to 16; 0 is reserved)", p.num_wps));
    }
    if p.sve_vl > 15 {
        return refuse(&format!("--sve-vl {} (0 to 15)", p.sve_vl));
    }
    if p.pmu_num_ctrs > 31 {
        return refuse(&format!("--pmu-num-ctrs {} (0 to 31)", p.pmu_num_ctrs));
    }
    if generation == Generation::V2_0 && p.flags0 & 0b100 != 0 {
        // RMI_FEATURES(0).PMU_EN is 0 in TF-RMM v0.9.0: realms get no PMU.
        return refuse("--realm-flags with PMU (bit 2) under RMI 2.0 (TF-RMM v0.9.0)");
    }
    Ok(())
}

/// The `RMI_RTT_INIT_RIPAS` ranges of `--ram-size`: `ram_size` bytes from the load address,
/// walked as rmi-shim's builder does ([`rmi_shim::rim::builder_ripas`]).
fn ram_ranges(flat: &FlatImage<'_>, ram_size: u64) -> Result<Vec<RipasRange>, Failure> {
    if (flat.bytes.len() as u64) > ram_size {
        return Err(Failure::Other("the image is larger than --ram-size".into()));
    }
    rmi_shim::rim::builder_ripas(flat.load, ram_size, flat.bytes.len())
        .map_err(|e| Failure::Other(format!("--ram-size {ram_size:#x}: {e}")))
}

/// The RIM and the `RMI_RTT_INIT_RIPAS` ranges it measured. One thread runs the library's
/// sequential predictor (no thread spawned); more hash the DATA contents in parallel.
fn predict(cli: &Cli, flat: &FlatImage<'_>) -> Result<(Measurement, Vec<RipasRange>), Failure> {
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    let (generation, sequential) = (cli.rmi, threads.get() == 1);
    let failed = |e: rmi_shim::rim::PredictError| Failure::Other(e.to_string());
    match cli.ram_size {
        Some(size) => {
            let ranges = ram_ranges(flat, size)?;
            let rim = if sequential {
                flat.predict_over_for(generation, &ranges)
            } else {
                flat.predict_parallel_over_for(generation, &ranges, threads)
            };
            Ok((rim.map_err(failed)?, ranges))
        }
        None => {
            let rim = if sequential {
                flat.predict_for(generation)
            } else {
                flat.predict_parallel_for(generation, threads)
            };
            let range = flat.ripas_range().map_err(failed)?;
            Ok((rim.map_err(failed)?, range.into_iter().collect()))
        }
    }
}

/// Writes the CoMID files `--endorsements` and `--endorsements-json` ask for.
fn write_endorsements(cli: &Cli, rim: &Measurement) -> Result<(), Failure> {
    if cli.endorsements.is_none() && cli.endorsements_json.is_none() {
        return Ok(());
    }
    let mut rems = [None, None, None, None];
    for (i, digest) in &cli.rem {
        let rem = Measurement::from_digest(cli.hash, digest).ok_or_else(|| {
            Failure::Other(format!(
                "--rem {i}: {} bytes; a {} REM has {}",
                digest.len(),
                cli.hash.token_name(),
                cli.hash.digest_len()
            ))
        })?;
        rems[*i] = Some(rem);
    }
    let values = rmi_shim::comid::RealmReferenceValues {
        rim: *rim,
        rems,
        rpv: cli.rpv,
    };
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|error| Failure::Read {
            file: path.display().to_string(),
            error,
        })
    };
    if let Some(path) = &cli.endorsements {
        write(path, &values.comid_cbor())?;
    }
    if let Some(path) = &cli.endorsements_json {
        write(path, format!("{:#}\n", values.comid_json()).as_bytes())?;
    }
    Ok(())
}

/// Standard output failed, other than by being closed.
struct Output(std::io::Error);

fn run(cli: &Cli) -> Result<(), Failure> {
    let bytes = load(&cli.image, !cli.no_mmap)?;
    let recs = [cli.rec()];
    let flat = FlatImage {
        params: cli.params(),
        load: cli.ipa_base,
        bytes: &bytes,
        flags: cli.content_flags(),
        unmeasured: &cli.unmeasured_at,
        ripas_level: cli.ripas_level,
        recs: &recs,
    };
    let (rim, ripas) = predict(cli, &flat)?;
    write_endorsements(cli, &rim)?;
    let note = if cli.endorsements.is_some() || cli.endorsements_json.is_some() {
        "the RPV is not part of the RIM; --rpv went into the endorsements only"
    } else {
        "the RPV is not part of the RIM; --rpv was ignored"
    };
    let printed = if cli.json {
        let hex = |v: u64| format!("{v:#x}");
        let p = &flat.params;
        let rec = &recs[0];
        let out = json!({
            "rim": rim.to_string(),
            "hash_algo": p.hash_algo.token_name(),
            "rmi_abi": match cli.rmi {
                Generation::V1_0 => "1.0",
                Generation::V2_0 => "2.0",
            },
            "realm_params": {
                "flags0": hex(p.flags0), "s2sz": p.s2sz, "sve_vl": p.sve_vl,
                "num_bps": p.num_bps, "num_wps": p.num_wps, "pmu_num_ctrs": p.pmu_num_ctrs,
                "hash_algo": p.hash_algo.encoding(),
            },
            "image": {
                "path": cli.image.display().to_string(),
                "bytes": bytes.len(),
                "data_granules": bytes.len().div_ceil(cca_abi::GRANULE_SIZE),
                "ipa_base": hex(flat.load.addr()),
                "content_measured": flat.flags == RmiDataMeasureContent::MeasureContent,
                "unmeasured_at": cli.unmeasured_at.iter().map(|i| hex(i.addr())).collect::<Vec<_>>(),
            },
            "rtt_init_ripas": ripas.iter().map(|r| json!({
                "base": hex(r.base.addr()), "top": hex(r.top.addr()), "rtt_level": r.level.get(),
                "measured_entries": match cli.rmi {
                    Generation::V1_0 => (r.top.addr() - r.base.addr()) / r.level.block_size(),
                    Generation::V2_0 => 0,
                },
            })).collect::<Vec<_>>(),
            "rec": {
                "flags": hex(rec.flags), "measured": rec.is_measured(),
                "pc": hex(rec.pc), "gprs": rec.gprs.map(hex),
            },
            "notes": if cli.rpv.is_some() { vec![note] } else { Vec::new() },
        });
        print(&format!("{out:#}"))
    } else {
        if cli.rpv.is_some() {
            let _ = writeln!(std::io::stderr().lock(), "note: {note}");
        }
        print(&rim.to_string())
    };
    printed.map_err(|Output(e)| Failure::Read {
        file: "standard output".into(),
        error: e,
    })
}

/// Writes `text` and a newline to `out`. A reader that went away (`rim-predict ... | head`)
/// is not an error: the output simply ends there.
fn line_to(out: &mut impl Write, text: &str) -> Result<(), Output> {
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(Output(e)),
        _ => Ok(()),
    }
}

/// Writes `text` and a newline to standard output (see [`line_to`]).
fn print(text: &str) -> Result<(), Output> {
    line_to(&mut std::io::stdout().lock(), text)
}

fn main() -> ExitCode {
    let parsed = Cli::try_parse().and_then(|cli| match check_params(cli.rmi, &cli.params()) {
        Ok(()) => Ok(cli),
        Err(e) => Err(Cli::command().error(clap::error::ErrorKind::ValueValidation, e)),
    });
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout (exit 0), errors to stderr (exit 2); a closed
            // stream is ignored.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Nothing more can be reported if standard error is closed too.
            let _ = writeln!(std::io::stderr().lock(), "rim-predict: {failure}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader is gone, or that fails otherwise.
    struct Failing(ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(self.0.into())
        }
    }

    #[test]
    fn a_closed_output_ends_quietly() {
        assert!(line_to(&mut Failing(ErrorKind::BrokenPipe), "rim").is_ok());
        assert!(line_to(&mut Failing(ErrorKind::StorageFull), "rim").is_err());
        let mut out = Vec::new();
        assert!(line_to(&mut out, "0123").is_ok());
        assert_eq!(out, b"0123\n");
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn numbers_and_registers() {
        assert_eq!(number("0x8000_0000"), Ok(0x8000_0000));
        assert_eq!(number("1_000"), Ok(1000));
        assert!(number("-1").is_err());
        assert!(number_u32("0x1_0000_0000").is_err());
        assert_eq!(gpr("7=0x10"), Ok((7, 16)));
        assert!(gpr("8=1").is_err());
        assert!(ipa("0x1001").is_err());
        assert!(rtt_level("4").is_err());
        let mut padded = [0u8; 64];
        padded[..2].copy_from_slice(&[0xf0, 0xf1]);
        assert_eq!(rpv("f0f1"), Ok(padded));
        assert!(rpv(&"00".repeat(65)).is_err());
        assert!(rpv("f0f").is_err());
        assert_eq!(rem("3=0a0b"), Ok((3, vec![10, 11])));
        assert!(rem("4=00").is_err());
        assert!(rem("00").is_err());
    }
}
