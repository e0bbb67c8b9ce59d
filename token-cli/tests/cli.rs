//! The `cca-token` command on the real tokens in ../shared/testdata (read in place).

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cca-token");

fn data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run cca-token");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn inspect_prints_claims_as_json() {
    let Some(tok) = data("tf-rmm/tf-rmm-v0.8.0/sha256/token.cbor") else {
        return;
    };
    let (code, out, err) = run(&["inspect".as_ref(), tok.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rim =
        std::fs::read_to_string(data("tf-rmm/tf-rmm-v0.8.0/sha256/rim.hex").unwrap()).unwrap();
    assert_eq!(v["realm"]["claims"]["rim"], rim.trim());
    assert_eq!(v["realm"]["claims"]["mec-policy"], "shared");
    assert_eq!(
        v["platform"]["claims"]["software-components"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
    assert_eq!(v["format"], "tag 399");
}

#[test]
fn verify_succeeds_and_fails_with_precise_reasons() {
    let (Some(tok), Some(ta_tfa), Some(ta)) = (
        data("veraison/cca-token-01.cbor"),
        data("veraison/ta-tfa.json"),
        data("veraison/ta.json"),
    ) else {
        return;
    };
    let verify = |anchors: &PathBuf, extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "verify".as_ref(),
            tok.as_os_str(),
            "--anchors".as_ref(),
            anchors.as_os_str(),
        ];
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        run(&args)
    };
    let (code, out, err) = verify(&ta_tfa, &[]);
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, _, err) = verify(&ta, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("no trust anchor"), "{err}");
    let (code, _, err) = verify(&ta_tfa, &["--rim", "00"]);
    assert_eq!(code, 1);
    assert!(err.contains("RIM is not the expected one"), "{err}");
    let (code, _, err) = verify(&ta_tfa, &["--challenge", "zz"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn malformed_input_is_reported() {
    let path = std::env::temp_dir().join(format!("cca-token-cli-{}.cbor", std::process::id()));
    std::fs::write(&path, [0xd9, 0x01, 0x8f, 0xa0]).unwrap();
    let (code, _, err) = run(&["inspect".as_ref(), path.as_os_str()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 1);
    assert!(err.contains("malformed token"), "{err}");
}
