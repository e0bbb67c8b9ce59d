//! `rim-predict`: print the RIM a realm built from a flat image will have under an RMI 1.0
//! RMM (TF-RMM v0.8.0) or, with `--rmi 2.0`, an RMI 2.0 one (TF-RMM v0.9.0), without running
//! it.
//!
//! See `--help` for how the image is assumed to be loaded; the arithmetic is
//! `rmi_shim::rim::FlatImage`.
#![forbid(unsafe_code)]

use std::io::{ErrorKind, Write};
use std::num::NonZeroUsize;
use std::process::ExitCode;

use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rmi::{Generation, Ipa, RecCreateFlags, RmiDataMeasureContent, RttLevel};
use rmi_shim::rim::{
    DataGranule, FlatImage, MeasuredRealmParams, MeasuredRecParams, RealmBuild, RipasRange,
    predict_for,
};
use serde_json::json;

const HELP: &str = "\
rim-predict: predict the Realm Initial Measurement (RIM) of a realm built from a flat image,
as an RMI 1.0 RMM (DEN0137 1.0-rel0, TF-RMM v0.8.0) or an RMI 2.0 RMM (TF-RMM v0.9.0)
computes it.

USAGE:
    rim-predict [OPTIONS] IMAGE

HOW THE REALM IS ASSUMED TO BE BUILT (the RIM depends on every step and its order):
    1. RMI_REALM_CREATE with the parameters below. Only flags, s2sz, sve_vl, num_bps,
       num_wps, pmu_num_ctrs and hash_algo are measured.
    2. One RMI_RTT_INIT_RIPAS (measured by RMI 1.0 only) over the image, widened to whole
       RTT entries of --ripas-level: [align_down(ipa-base), align_up(ipa-base + size)), or over
       [ipa-base, ipa-base + ram-size) with --ram-size. One descriptor is
       measured per RTT entry, so the level must be the level of the RTT entries the host
       really has there (3 = 4 KiB entries of level-3 tables, 2 = 2 MiB blocks, ...).
    3. One RMI_DATA_CREATE (RMI 2.0: RMI_RTT_DATA_MAP_INIT, measured alike) per 4 KiB of
       the image, in address order from --ipa-base; the last granule is zero-padded.
       Content measured unless --unmeasured(-at).
    4. One RMI_REC_CREATE, RUNNABLE (unless --not-runnable) with pc and x0..x7 below. MPIDR
       and the auxiliary granules are not measured.
    A host that creates other granules, uses other ranges or another order gets another RIM.
    rmi-shim's builder (and rmi-host) makes exactly this realm with RIPAS over all of its
    RAM: its default configuration is --s2sz 39 --ipa-base 0x80000000 --ram-size 0x2000000.
    RMI 2.0 RMMs (TF-RMM v0.9.0) do not measure step 2 (--rmi 2.0).

OPTIONS:
    --rmi 1.0|2.0            the RMM's interface generation                     [1.0]
    --hash sha256|sha512     realm hash algorithm (RmiRealmParams.hash_algo)  [sha256]
    --s2sz BITS              IPA width (32..52)                                [40]
    --realm-flags N          RmiRealmParams.flags: bit 0 LPA2, 1 SVE, 2 PMU     [0]
    --sve-vl N               SVE vector length as VQ - 1                        [0]
    --num-bps N              breakpoints minus one                              [1]
    --num-wps N              watchpoints minus one                              [1]
    --pmu-num-ctrs N         PMU counters                                       [0]
    --ipa-base ADDR          IPA of the first image byte (4 KiB aligned)        [0]
    --ripas-level L          level of the RTT entries covering the image        [3]
    --ram-size BYTES         RTT_INIT_RIPAS over this much RAM from ipa-base, not just
                             the image (a multiple of the --ripas-level entry size)
    --unmeasured             DATA_CREATE with NO_MEASURE_CONTENT for every granule
    --unmeasured-at IPA      ... for the granule at IPA only (repeatable)
    --pc ADDR                REC entry point                            [ipa-base]
    --gpr I=VALUE            initial x<I>, I in 0..7 (repeatable)               [0]
    --not-runnable           create the REC without RUNNABLE (it is then not measured)
    --rpv HEX                accepted and ignored: the RPV is NOT part of the RIM
    --json                   print a JSON object instead of the hex RIM
    -h, --help               this text

Numbers are decimal or 0x-prefixed hex.";

/// Parsed command line.
struct Options {
    image: String,
    generation: Generation,
    params: MeasuredRealmParams,
    load: Ipa,
    ripas_level: RttLevel,
    flags: RmiDataMeasureContent,
    unmeasured: Vec<Ipa>,
    rec: MeasuredRecParams,
    ram_size: Option<u64>,
    rpv_given: bool,
    json: bool,
}

fn number(flag: &str, s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    parsed.map_err(|e| format!("{flag}: `{s}` is not a number ({e})"))
}

fn number_u32(flag: &str, s: &str) -> Result<u32, String> {
    u32::try_from(number(flag, s)?).map_err(|_| format!("{flag}: `{s}` does not fit in 32 bits"))
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut params = MeasuredRealmParams {
        flags0: 0,
        s2sz: 40,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: HashAlgorithm::Sha256,
    };
    let (mut image, mut load, mut pc) = (None, 0, None);
    let mut ripas_level = RttLevel::PAGE;
    let mut flags = RmiDataMeasureContent::MeasureContent;
    let mut unmeasured = Vec::new();
    let mut gprs = [0u64; 8];
    let (mut runnable, mut rpv_given, mut json) = (true, false, false);
    let mut ram_size = None;
    let mut generation = Generation::V1_0;

    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--rmi" => {
                generation = match value()?.as_str() {
                    "1.0" => Generation::V1_0,
                    "2.0" => Generation::V2_0,
                    other => return Err(format!("--rmi: `{other}` is not 1.0 or 2.0")),
                }
            }
            "--hash" => {
                params.hash_algo = match value()?.as_str() {
                    "sha256" | "sha-256" => HashAlgorithm::Sha256,
                    "sha512" | "sha-512" => HashAlgorithm::Sha512,
                    other => return Err(format!("--hash: `{other}` is not sha256 or sha512")),
                }
            }
            "--s2sz" => params.s2sz = number_u32(arg, value()?)?,
            "--realm-flags" => params.flags0 = number(arg, value()?)?,
            "--sve-vl" => params.sve_vl = number_u32(arg, value()?)?,
            "--num-bps" => params.num_bps = number_u32(arg, value()?)?,
            "--num-wps" => params.num_wps = number_u32(arg, value()?)?,
            "--pmu-num-ctrs" => params.pmu_num_ctrs = number_u32(arg, value()?)?,
            "--ipa-base" => load = number(arg, value()?)?,
            "--ram-size" => ram_size = Some(number(arg, value()?)?),
            "--ripas-level" => {
                let v = value()?;
                ripas_level = v
                    .parse::<i8>()
                    .ok()
                    .and_then(RttLevel::new)
                    .ok_or_else(|| format!("--ripas-level: `{v}` is not a level in -1..3"))?;
            }
            "--unmeasured" => flags = RmiDataMeasureContent::NoMeasureContent,
            "--unmeasured-at" => {
                let v = number(arg, value()?)?;
                unmeasured.push(
                    Ipa::new(v)
                        .ok_or_else(|| format!("--unmeasured-at {v:#x} is not 4 KiB aligned"))?,
                );
            }
            "--pc" => pc = Some(number(arg, value()?)?),
            "--gpr" => {
                let v = value()?;
                let (i, x) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--gpr: `{v}` is not I=VALUE"))?;
                let i: usize = i.parse().ok().filter(|i| *i < 8).ok_or_else(|| {
                    format!("--gpr: register `{i}` is not one of 0..7 (RmiRecParams.gprs)")
                })?;
                gprs[i] = number(arg, x)?;
            }
            "--not-runnable" => runnable = false,
            "--rpv" => {
                value()?;
                rpv_given = true;
            }
            "--json" => json = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => {
                if image.replace(s.to_owned()).is_some() {
                    return Err("more than one IMAGE given".into());
                }
            }
        }
    }
    let image = image.ok_or("no IMAGE given")?;
    check_params(generation, &params)?;
    let load_ipa =
        Ipa::new(load).ok_or_else(|| format!("--ipa-base {load:#x} is not 4 KiB aligned"))?;
    let rec_flags = if runnable {
        RecCreateFlags::RUNNABLE
    } else {
        RecCreateFlags::EMPTY
    };
    let rec = MeasuredRecParams {
        flags: rec_flags.to_raw(),
        pc: pc.unwrap_or(load),
        gprs,
    };
    Ok(Some(Options {
        image,
        generation,
        params,
        load: load_ipa,
        ripas_level,
        flags,
        unmeasured,
        rec,
        ram_size,
        rpv_given,
        json,
    }))
}

fn run(o: &Options) -> Result<(), String> {
    let bytes = std::fs::read(&o.image).map_err(|e| format!("{}: {e}", o.image))?;
    let recs = [o.rec];
    let flat = FlatImage {
        params: o.params,
        load: o.load,
        bytes: &bytes,
        flags: o.flags,
        unmeasured: &o.unmeasured,
        ripas_level: o.ripas_level,
        recs: &recs,
    };
    let (rim, ripas) = match o.ram_size {
        None => {
            let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
            let rim = flat
                .predict_parallel_for(o.generation, threads)
                .map_err(|e| e.to_string())?;
            (rim, flat.ripas_range().map_err(|e| e.to_string())?)
        }
        Some(size) => with_ram(o.generation, &flat, size)?,
    };
    let note = "the RPV is not part of the RIM; --rpv was ignored";
    if o.json {
        let hex = |v: u64| format!("{v:#x}");
        let p = &o.params;
        let out = json!({
            "rim": rim.to_string(),
            "hash_algo": p.hash_algo.token_name(),
            "rmi_abi": match o.generation {
                Generation::V1_0 => "1.0",
                Generation::V2_0 => "2.0",
            },
            "realm_params": {
                "flags0": hex(p.flags0), "s2sz": p.s2sz, "sve_vl": p.sve_vl,
                "num_bps": p.num_bps, "num_wps": p.num_wps, "pmu_num_ctrs": p.pmu_num_ctrs,
                "hash_algo": p.hash_algo.encoding(),
            },
            "image": {
                "path": o.image,
                "bytes": bytes.len(),
                "data_granules": bytes.len().div_ceil(cca_abi::GRANULE_SIZE),
                "ipa_base": hex(o.load.addr()),
                "content_measured": o.flags == RmiDataMeasureContent::MeasureContent,
                "unmeasured_at": o.unmeasured.iter().map(|i| hex(i.addr())).collect::<Vec<_>>(),
            },
            "rtt_init_ripas": ripas.map(|r| json!({
                "base": hex(r.base.addr()), "top": hex(r.top.addr()), "rtt_level": r.level.get(),
                "measured_entries": match o.generation {
                    Generation::V1_0 => (r.top.addr() - r.base.addr()) / r.level.block_size(),
                    Generation::V2_0 => 0,
                },
            })),
            "rec": {
                "flags": hex(o.rec.flags), "measured": o.rec.is_measured(),
                "pc": hex(o.rec.pc), "gprs": o.rec.gprs.map(hex),
            },
            "notes": if o.rpv_given { vec![note] } else { Vec::new() },
        });
        print(&format!("{out:#}"))?;
    } else {
        if o.rpv_given {
            let _ = writeln!(std::io::stderr().lock(), "note: {note}");
        }
        print(&rim.to_string())?;
    }
    Ok(())
}

/// The prediction with `RMI_RTT_INIT_RIPAS` over `ram_size` bytes from the load address.
fn with_ram(
    generation: Generation,
    flat: &FlatImage<'_>,
    ram_size: u64,
) -> Result<(Measurement, Option<RipasRange>), String> {
    let top = flat
        .load
        .addr()
        .checked_add(ram_size)
        .and_then(Ipa::new)
        .ok_or_else(|| format!("--ram-size {ram_size:#x}: not 4 KiB aligned or overflows"))?;
    if (flat.bytes.len() as u64) > ram_size {
        return Err("the image is larger than --ram-size".into());
    }
    let range = RipasRange {
        base: flat.load,
        top,
        level: flat.ripas_level,
    };
    let (chunks, tail) = flat.bytes.as_chunks::<{ cca_abi::GRANULE_SIZE }>();
    let mut last = [0u8; cca_abi::GRANULE_SIZE];
    last[..tail.len()].copy_from_slice(tail);
    let contents = chunks.iter().chain((!tail.is_empty()).then_some(&last));
    let mut data = Vec::new();
    for (i, content) in contents.enumerate() {
        let ipa = Ipa::new(flat.load.addr() + i as u64 * cca_abi::GRANULE_SIZE as u64)
            .ok_or("image IPA overflows")?;
        let flags = if flat.unmeasured.contains(&ipa) {
            RmiDataMeasureContent::NoMeasureContent
        } else {
            flat.flags
        };
        data.push(DataGranule {
            ipa,
            flags,
            content,
        });
    }
    let build = RealmBuild {
        params: flat.params,
        ripas: &[range],
        data: &data,
        recs: flat.recs,
    };
    let rim = predict_for(generation, &build).map_err(|e| e.to_string())?;
    Ok((rim, Some(range)))
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

/// Writes `text` and a newline to `out`. A reader that went away (`rim-predict ... | head`)
/// is not an error: the output simply ends there.
fn line_to(out: &mut impl Write, text: &str) -> Result<(), String> {
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(format!("standard output: {e}")),
        _ => Ok(()),
    }
}

/// Writes `text` and a newline to standard output (see [`line_to`]).
fn print(text: &str) -> Result<(), String> {
    line_to(&mut std::io::stdout().lock(), text)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (code, message) = match parse(&args) {
        Ok(None) => match print(HELP) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(e) => (1, e),
        },
        Ok(Some(o)) => match run(&o) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(e) => (1, e),
        },
        Err(e) => (2, format!("{e}\n(see rim-predict --help)")),
    };
    // Nothing more can be reported if standard error is closed too.
    let _ = writeln!(std::io::stderr().lock(), "rim-predict: {message}");
    ExitCode::from(code)
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
        assert_eq!(line_to(&mut Failing(ErrorKind::BrokenPipe), "rim"), Ok(()));
        assert!(
            line_to(&mut Failing(ErrorKind::StorageFull), "rim")
                .unwrap_err()
                .starts_with("standard output: ")
        );
        let mut out = Vec::new();
        assert_eq!(line_to(&mut out, "0123"), Ok(()));
        assert_eq!(out, b"0123\n");
    }
}
