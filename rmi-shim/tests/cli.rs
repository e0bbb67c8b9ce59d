//! The `rim-predict` tool end to end: on the TF-RMM v0.8.0 `sha256` and `sha512` vectors
//! (whose realm is a flat 24 KiB image at IPA 0 with three unmeasured granules, one level-3
//! RIPAS range and one RUNNABLE REC) it prints exactly `rim.hex`.
#![cfg(feature = "std")]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rim-predict");

fn vector_dir(variant: &str) -> Option<PathBuf> {
    let rim = testdata::path(&format!("tf-rmm/tf-rmm-v0.8.0/{variant}/rim.hex"))?;
    rim.parent().map(Path::to_path_buf)
}

/// Concatenates the vector's six DATA granules into a temporary image file.
fn image_of(dir: &Path, variant: &str) -> PathBuf {
    let mut image = Vec::new();
    for ipa in (0..0x6000).step_by(0x1000) {
        let page = std::fs::read(dir.join(format!("data-{ipa:#06x}.bin"))).expect("data file");
        image.extend_from_slice(&page);
    }
    let path =
        std::env::temp_dir().join(format!("rim-predict-{}-{variant}.bin", std::process::id()));
    std::fs::write(&path, image).expect("write temporary image");
    path
}

/// The vectors' build (realm.json `realm_params`, `data_create`, `rec_params`).
const VECTOR_ARGS: [&str; 24] = [
    "--s2sz",
    "39",
    "--num-bps",
    "5",
    "--num-wps",
    "3",
    "--ripas-level",
    "3",
    "--unmeasured-at",
    "0x1000",
    "--unmeasured-at",
    "0x2000",
    "--unmeasured-at",
    "0x3000",
    "--gpr",
    "2=0x123456789abcdef",
    "--gpr",
    "3=0xfedcba9876543210",
    "--gpr",
    "5=0xffffffffffffffff",
    "--gpr",
    "6=1",
    "--gpr",
    "7=0x8000000000000000",
];

#[test]
fn reproduces_tf_rmm_rim() {
    for variant in ["sha256", "sha512"] {
        let Some(dir) = vector_dir(variant) else {
            continue;
        };
        let image = image_of(&dir, variant);
        let out = Command::new(BIN)
            .args(["--hash", variant])
            .args(VECTOR_ARGS)
            .args(["--rpv", "f0f1"])
            .arg(&image)
            .output()
            .expect("run rim-predict");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read_to_string(dir.join("rim.hex")).expect("rim.hex");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            expected.trim(),
            "{variant}"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("RPV is not part of the RIM"));

        let json = Command::new(BIN)
            .args(["--hash", variant, "--json"])
            .args(VECTOR_ARGS)
            .arg(&image)
            .output()
            .expect("run rim-predict --json");
        assert!(json.status.success());
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON output");
        assert_eq!(v["rim"].as_str(), Some(expected.trim()));
        assert_eq!(v["rtt_init_ripas"][0]["measured_entries"], 6);
        assert_eq!(v["image"]["data_granules"], 6);
        std::fs::remove_file(image).ok();
    }
}

#[test]
fn refuses_bad_arguments() {
    for args in [
        &["--ipa-base", "0x1001", "x"][..],
        &["--hash", "md5", "x"],
        &["--gpr", "8=1", "x"],
        &["--ripas-level", "4", "x"],
        &[],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .output()
            .expect("run rim-predict");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = Command::new(BIN)
        .arg("/nonexistent/image")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let help = Command::new(BIN).arg("--help").output().expect("run");
    assert!(String::from_utf8_lossy(&help.stdout).contains(
        "One RMI_DATA_CREATE (RMI 2.0: RMI_RTT_DATA_MAP_INIT, measured alike) per 4 KiB"
    ));
}

/// With `--ram-size`, the tool predicts the realm rmi-shim's builder makes (RIPAS over all
/// of its RAM): the same RIM as `RealmConfig::predict_rim` for the builder's defaults.
#[test]
fn ram_size_matches_the_builder() {
    let image: Vec<u8> = (0..10_000u32).map(|i| (i * 31) as u8).collect();
    let path = std::env::temp_dir().join(format!("rim-predict-builder-{}.bin", std::process::id()));
    std::fs::write(&path, &image).expect("write temporary image");
    let out = Command::new(BIN)
        .args([
            "--s2sz",
            "39",
            "--ipa-base",
            "0x80000000",
            "--ram-size",
            "0x2000000",
            "--gpr",
            "0=1",
        ])
        .arg(&path)
        .output()
        .expect("run rim-predict");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = rmi_shim::builder::RealmConfig {
        image: &image,
        entry_regs: [1, 0, 0, 0, 0, 0, 0, 0],
        ..rmi_shim::builder::RealmConfig::default()
    };
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        config.predict_rim().unwrap().to_string()
    );
}

/// `--rmi 2.0`: the RIM an RMI 2.0 RMM computes (no RIPAS descriptors), the library's
/// `FlatImage::predict_for`; it differs from 1.0's and does not depend on `--ram-size`;
/// anything but 1.0 or 2.0 is refused.
#[test]
fn rmi_generation_flag() {
    use cca_abi::rmi::{Generation, Ipa, RmiDataMeasureContent, RttLevel};
    use rmi_shim::rim::{FlatImage, MeasuredRealmParams, MeasuredRecParams};
    let image: Vec<u8> = (0..9_000u32).map(|i| (i * 7) as u8).collect();
    let path = std::env::temp_dir().join(format!("rim-predict-rmi2-{}.bin", std::process::id()));
    std::fs::write(&path, &image).expect("write temporary image");
    let run = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["--s2sz", "39", "--ipa-base", "0x80000000"])
            .args(extra)
            .arg(&path)
            .output()
            .expect("run rim-predict");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, v2, err) = run(&["--rmi", "2.0"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, v2_ram, _) = run(&["--rmi", "2.0", "--ram-size", "0x2000000"]);
    let (_, v1, _) = run(&[]);
    let (_, v1_explicit, _) = run(&["--rmi", "1.0"]);
    assert_eq!(v2, v2_ram);
    assert_eq!(v1, v1_explicit);
    assert_ne!(v1, v2);
    let recs = [MeasuredRecParams {
        flags: 1,
        pc: 0x8000_0000,
        gprs: [0; 8],
    }];
    let flat = FlatImage {
        params: MeasuredRealmParams {
            flags0: 0,
            s2sz: 39,
            sve_vl: 0,
            num_bps: 1,
            num_wps: 1,
            pmu_num_ctrs: 0,
            hash_algo: cca_abi::measurement::HashAlgorithm::Sha256,
        },
        load: Ipa::new(0x8000_0000).unwrap(),
        bytes: &image,
        flags: RmiDataMeasureContent::MeasureContent,
        unmeasured: &[],
        ripas_level: RttLevel::PAGE,
        recs: &recs,
    };
    assert_eq!(v2, flat.predict_for(Generation::V2_0).unwrap().to_string());
    let (code, _, err) = run(&["--rmi", "1.1"]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("invalid value '1.1' for '--rmi <VERSION>'"),
        "{err}"
    );
    assert!(err.contains("[possible values: 1.0, 2.0]"), "{err}");
}

/// Parameters no RMM accepts are refused with exit 2 and the parameter named, instead of a
/// RIM that could never be formed.
#[test]
fn refuses_parameters_no_rmm_accepts() {
    let path = std::env::temp_dir().join(format!("rim-predict-params-{}.bin", std::process::id()));
    std::fs::write(&path, [1u8; 100]).expect("write temporary image");
    for (args, message) in [
        (
            &["--num-bps", "0"][..],
            "--num-bps 0 (1 to 16; 0 is reserved)",
        ),
        (&["--num-wps", "17"][..], "--num-wps 17"),
        (
            &["--realm-flags", "0x10"][..],
            "--realm-flags 0x10 (undefined bits)",
        ),
        (
            &["--rmi", "2.0", "--realm-flags", "0x100"][..],
            "--realm-flags 0x100",
        ),
        (
            &["--rmi", "2.0", "--realm-flags", "4"][..],
            "PMU (bit 2) under RMI 2.0",
        ),
        (&["--sve-vl", "16"][..], "--sve-vl 16"),
    ] {
        let out = Command::new(BIN)
            .args(args)
            .arg(&path)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let ok = Command::new(BIN)
        .args(["--rmi", "2.0", "--realm-flags", "0x80"])
        .arg(&path)
        .output()
        .expect("run");
    let _ = std::fs::remove_file(&path);
    assert!(
        ok.status.success(),
        "MEC policy private is a valid 2.0 flag"
    );
}

/// A temporary file for one test, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("rim-predict-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write temporary file");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the tool with `stdin` on its standard input: exit code, stdout, stderr.
fn run_with_stdin(args: &[&std::ffi::OsStr], stdin: &[u8]) -> (Option<i32>, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rim-predict");
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--help`, `-h` and `--version` exit 0 on stdout; an unknown flag or a missing IMAGE gets
/// clap's message and exit 2; options may follow the image.
#[test]
fn help_version_and_usage_errors() {
    for help in ["--help", "-h"] {
        let (code, out, err) = run_with_stdin(&[help.as_ref()], b"");
        assert_eq!(code, Some(0), "{err}");
        assert!(
            out.starts_with("Predict the Realm Initial Measurement"),
            "{out}"
        );
        assert!(
            out.contains("Usage: rim-predict [OPTIONS] <IMAGE>"),
            "{out}"
        );
    }
    let (_, long, _) = run_with_stdin(&["--help".as_ref()], b"");
    assert!(long.contains("Exit codes: 0 the RIM was printed"), "{long}");
    let (code, out, _) = run_with_stdin(&["--version".as_ref()], b"");
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim(),
        concat!("rim-predict ", env!("CARGO_PKG_VERSION"))
    );
    for (args, message) in [
        (&["--bogus", "x"][..], "unexpected argument '--bogus'"),
        (&["x", "y"], "unexpected argument 'y'"),
        (&["--s2sz"], "a value is required for '--s2sz <BITS>'"),
        (
            &["--threads", "0", "x"],
            "invalid value '0' for '--threads <N>'",
        ),
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        let (code, out, err) = run_with_stdin(&args, b"");
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(
            err.starts_with("error: ") && err.contains(message),
            "{args:?}: {err}"
        );
    }
    let image = TempFile::new("order.bin", &[7u8; 5000]);
    let before = Command::new(BIN)
        .args(["--s2sz", "39"])
        .arg(&image.0)
        .output()
        .expect("run");
    let after = Command::new(BIN)
        .arg(&image.0)
        .args(["--s2sz", "39"])
        .output()
        .expect("run");
    assert!(before.status.success());
    assert_eq!(before.stdout, after.stdout);
}

/// `-` reads the image from standard input; the mapped file, the file read into memory
/// (`--no-mmap`) and the sequential predictor (`--threads 1`) give the same RIM, with
/// and without `--ram-size`.
#[test]
fn stdin_mmap_and_threads_agree() {
    let bytes: Vec<u8> = (0..300_001u32).map(|i| (i * 13 + i / 4096) as u8).collect();
    let image = TempFile::new("agree.bin", &bytes);
    for ram in [&[][..], &["--ram-size", "0x200000"]] {
        let base: Vec<&std::ffi::OsStr> = ["--s2sz", "39", "--ipa-base", "0x80000000"]
            .iter()
            .chain(ram)
            .map(|s| s.as_ref())
            .collect();
        let with = |extra: &[&str], image: &std::ffi::OsStr, stdin: &[u8]| {
            let mut args = base.clone();
            args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
            args.push(image);
            let (code, out, err) = run_with_stdin(&args, stdin);
            assert_eq!(code, Some(0), "{args:?}: {err}");
            out
        };
        let mapped = with(&[], image.0.as_os_str(), b"");
        assert_eq!(mapped.trim().len(), 64, "{mapped}");
        assert_eq!(with(&["--no-mmap"], image.0.as_os_str(), b""), mapped);
        assert_eq!(with(&["--threads", "1"], image.0.as_os_str(), b""), mapped);
        assert_eq!(with(&["--threads", "3"], image.0.as_os_str(), b""), mapped);
        assert_eq!(with(&[], "-".as_ref(), &bytes), mapped);
        // A file that cannot be mapped (a pipe) is read.
        if Path::new("/dev/stdin").exists() {
            assert_eq!(with(&[], "/dev/stdin".as_ref(), &bytes), mapped);
        }
    }
    let (code, out, _) = run_with_stdin(&["--json".as_ref(), "-".as_ref()], &bytes);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["image"]["path"], "-");
    assert_eq!(v["image"]["bytes"], bytes.len());
}

/// An empty image and an ELF file are refused with exit 1, saying what to give instead;
/// so is a file that cannot be read, named.
#[test]
fn refuses_empty_and_elf_images() {
    let empty = TempFile::new("empty.bin", b"");
    let out = Command::new(BIN).arg(&empty.0).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        err.trim(),
        format!(
            "rim-predict: {} is empty; rim-predict takes the flat binary a host loads \
             (rust-objcopy -O binary, or cargo xtask image NAME), not an empty file",
            empty.0.display()
        )
    );
    let (code, _, err) = run_with_stdin(&["-".as_ref()], b"");
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("rim-predict: standard input is empty;"),
        "{err}"
    );

    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(8192, 0);
    let elf_file = TempFile::new("realm.elf", &elf);
    for no_mmap in [false, true] {
        let out = Command::new(BIN)
            .arg(&elf_file.0)
            .args(no_mmap.then_some("--no-mmap"))
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(out.stdout.is_empty());
        assert!(
            err.starts_with(&format!(
                "rim-predict: {} is an ELF file; rim-predict takes the flat binary a host loads",
                elf_file.0.display()
            )),
            "{err}"
        );
        assert!(err.contains("rust-objcopy -O binary"), "{err}");
        assert!(err.contains("cargo xtask image NAME"), "{err}");
    }
    let (code, _, err) = run_with_stdin(&["-".as_ref()], &elf);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("rim-predict: standard input is an ELF file"),
        "{err}"
    );

    let out = Command::new(BIN)
        .arg("/nonexistent/image.bin")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.starts_with("rim-predict: /nonexistent/image.bin: "),
        "{err}"
    );
}

/// `rim-predict IMAGE | head -c0`, `--json` and `--help` into a closed pipe: exit 0, nothing
/// on stderr.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::process::Stdio;
    let image = TempFile::new("pipe.bin", &[1u8; 20_000]);
    for args in [&[][..], &["--json"], &["--help"]] {
        let mut child = Command::new(BIN)
            .args(args)
            .arg(&image.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// `--endorsements` and `--endorsements-json` write the realm's reference values (the RIM
/// printed, the `--rem` REMs, the `--rpv` RPV) as the CoMID of the CCA realm profile,
/// byte for byte what the library's `comid` module makes; a REM of the wrong length is
/// refused with a sentence and exit 1.
#[test]
fn writes_the_reference_values_as_a_comid() {
    use cca_abi::measurement::{HashAlgorithm, Measurement};
    use rmi_shim::comid::RealmReferenceValues;
    let dir = std::env::temp_dir().join(format!("rim-predict-comid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("image.bin");
    std::fs::write(&image, [0x42u8; 5000]).unwrap();
    let (cbor, json) = (dir.join("comid.cbor"), dir.join("comid.json"));
    let rem0 = "11".repeat(32);
    let rpv = "ab".repeat(64);
    let out = Command::new(BIN)
        .args(["--ipa-base", "0x80000000", "--ram-size", "0x2000000"])
        .args(["--rem", &format!("0={rem0}"), "--rpv", &rpv])
        .arg("--endorsements")
        .arg(&cbor)
        .arg("--endorsements-json")
        .arg(&json)
        .arg(&image)
        .output()
        .expect("run rim-predict");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rim_hex = String::from_utf8(out.stdout).unwrap();
    let rim_bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&rim_hex.trim()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let values = RealmReferenceValues {
        rim: Measurement::from_digest(HashAlgorithm::Sha256, &rim_bytes).unwrap(),
        rems: [
            Measurement::from_digest(HashAlgorithm::Sha256, &[0x11; 32]),
            None,
            None,
            None,
        ],
        rpv: Some([0xab; 64]),
    };
    assert_eq!(std::fs::read(&cbor).unwrap(), values.comid_cbor());
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(written, values.comid_json());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rpv went into the endorsements only"));

    let bad = Command::new(BIN)
        .args(["--rem", "1=abcd", "--endorsements"])
        .arg(&cbor)
        .arg(&image)
        .output()
        .expect("run rim-predict");
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr).trim(),
        "rim-predict: --rem 1: 2 bytes; a sha-256 REM has 32"
    );
    std::fs::remove_dir_all(&dir).ok();
}
