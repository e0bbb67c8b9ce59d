//! Links the host with `linker/el2.ld` and embeds the realm image named by `REALM_IMAGE`
//! (a flat binary, e.g. from `cargo xtask image hello`). Without it the host embeds nothing
//! and says so when it runs. `REALM_ENTRY_X0` and `REALM_ENTRY_X1` (decimal or 0x-hex) set
//! the REC's `x0` and `x1` at entry. `REALM_PARAMS` sets the realm parameters beyond the
//! defaults, comma-separated: `lpa2`, `sve_vl=N`, `pmu=N` (counters), `ipa_width=N`,
//! `rtt_level_start=N`, `entry=OFFSET` (from the start of RAM), `unmeasured=A..B` (byte
//! range of the image, repeatable), `ram_size=N` (bytes, a multiple of 2 MiB),
//! `populate=eager|on-demand` (when RAM beyond the image gets its granules), `recs=N` (RECs,
//! 1 to 16: REC 0 starts, the others wait for the realm's PSCI `CPU_ON`).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=REALM_IMAGE");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("realm.bin");
    let image = match env::var("REALM_IMAGE") {
        Ok(path) => {
            println!("cargo:rerun-if-changed={path}");
            std::fs::read(&path).unwrap_or_else(|e| panic!("REALM_IMAGE={path}: {e}"))
        }
        Err(_) => Vec::new(),
    };
    std::fs::write(&out, image).unwrap();
    let mut regs = [0u64; 2];
    for (i, var) in ["REALM_ENTRY_X0", "REALM_ENTRY_X1"].iter().enumerate() {
        println!("cargo:rerun-if-env-changed={var}");
        if let Ok(v) = env::var(var) {
            regs[i] = number(var, &v);
        }
    }
    let entry = PathBuf::from(env::var("OUT_DIR").unwrap()).join("entry.rs");
    std::fs::write(entry, format!("[{:#x}, {:#x}]", regs[0], regs[1])).unwrap();
    println!("cargo:rerun-if-env-changed=REALM_PARAMS");
    let params = env::var("REALM_PARAMS").unwrap_or_default();
    let params_rs = PathBuf::from(env::var("OUT_DIR").unwrap()).join("params.rs");
    std::fs::write(params_rs, realm_params(&params)).unwrap();
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    for file in [dir.join("memory.ld"), dir.join("../../linker/el2.ld")] {
        println!("cargo:rerun-if-changed={}", file.display());
        println!("cargo:rustc-link-arg-bins=-T{}", file.display());
    }
}

/// A decimal or 0x-hex number from the build environment; `key` names it in the panic.
fn number(key: &str, v: &str) -> u64 {
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("{key}={v}: {e}"))
}

/// The Rust items `src/main.rs` includes for `REALM_PARAMS`.
fn realm_params(spec: &str) -> String {
    let (mut lpa2, mut sve_vl, mut pmu, mut ipa_width, mut level, mut entry) =
        (false, None, None, None, None, None);
    let (mut ram_size, mut eager, mut recs) = (None, false, None);
    let mut unmeasured = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        let name = format!("REALM_PARAMS: {key}");
        match key {
            "lpa2" => lpa2 = true,
            "sve_vl" => sve_vl = Some(number(&name, value)),
            "pmu" => pmu = Some(number(&name, value)),
            "ipa_width" => ipa_width = Some(number(&name, value)),
            "rtt_level_start" => {
                level = Some(
                    value
                        .parse::<i8>()
                        .unwrap_or_else(|e| panic!("REALM_PARAMS: {item}: {e}")),
                );
            }
            "entry" => entry = Some(number(&name, value)),
            "ram_size" => ram_size = Some(number(&name, value)),
            "recs" => recs = Some(number(&name, value)),
            "populate" => {
                eager = match value {
                    "eager" => true,
                    "on-demand" => false,
                    _ => panic!("REALM_PARAMS: populate={value}: expected eager or on-demand"),
                }
            }
            "unmeasured" => {
                let (a, b) = value
                    .split_once("..")
                    .unwrap_or_else(|| panic!("REALM_PARAMS: {item}: expected A..B"));
                unmeasured.push((number(&name, a), number(&name, b)));
            }
            _ => panic!("REALM_PARAMS: unknown parameter '{key}'"),
        }
    }
    let opt = |v: Option<u64>, ty: &str| match v {
        Some(v) => format!("Some({v} as {ty})"),
        None => "None".into(),
    };
    let ranges: Vec<String> = unmeasured
        .iter()
        .map(|(a, b)| format!("{a}..{b}"))
        .collect();
    format!(
        "/// `REALM_PARAMS` as given.\nconst SPEC: &str = {spec:?};\n\
         const LPA2: bool = {lpa2};\n\
         const SVE_VL: Option<u8> = {};\n\
         const PMU_COUNTERS: Option<u8> = {};\n\
         const IPA_WIDTH: Option<u32> = {};\n\
         const RTT_LEVEL_START: Option<i8> = {};\n\
         const ENTRY_OFFSET: Option<u64> = {};\n\
         static UNMEASURED: &[core::ops::Range<usize>] = &[{}];\n\
         const RAM_SIZE: Option<u64> = {};\n\
         const EAGER: bool = {eager};\n\
         const RECS: Option<usize> = {};\n",
        opt(sve_vl, "u8"),
        opt(pmu, "u8"),
        opt(ipa_width, "u32"),
        match level {
            Some(l) => format!("Some({l})"),
            None => "None".into(),
        },
        opt(entry, "u64"),
        ranges.join(", "),
        opt(ram_size, "u64"),
        opt(recs, "usize"),
    )
}
