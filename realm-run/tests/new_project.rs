//! A payload project of one's own, outside the workspace: `realm-run new` makes it from the
//! template in a temporary folder, and `cargo run` there builds it for aarch64 and runs it
//! with this `realm-run` as the runner (through `CARGO_TARGET_AARCH64_UNKNOWN_NONE_RUNNER`,
//! so nothing is installed). The exit code says how the realm ended: 0 after `main`
//! returned, 1 after a panic, 124 when it did not stop in time.
//!
//! Needs QEMU: skipped with a reason without it, failed without it in CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RUNNER: &str = env!("CARGO_BIN_EXE_realm-run");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("realm-run is in the workspace")
        .to_path_buf()
}

fn qemu_or_skip(test: &str) -> bool {
    if realm_run::Qemu::available() {
        return true;
    }
    assert!(
        !testdata::in_ci(),
        "{test}: qemu-system-aarch64 is missing in CI (.ci/run installs it)"
    );
    eprintln!("{test}: skipped: qemu-system-aarch64 not found (apt-get install qemu-system-arm)");
    false
}

/// A fresh project `name` in a temporary folder, made by `realm-run new` against this
/// checkout, with `main_rs` as its `src/main.rs` if given. The workspace's `Cargo.lock` goes
/// with it, so the same dependency versions are used (already downloaded, no index update).
fn new_project(name: &str, main_rs: Option<&str>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(RUNNER)
        .arg("new")
        .arg(&dir)
        .arg("--sdk")
        .arg(workspace())
        .output()
        .expect("start realm-run");
    assert!(
        out.status.success(),
        "realm-run new: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    if let Some(main_rs) = main_rs {
        std::fs::write(dir.join("src/main.rs"), main_rs).expect("write src/main.rs");
    }
    dir
}

/// `cargo run` in `dir` (arguments after `--`: `args`), sharing the workspace's target
/// folder so the dependencies and the harness are built once.
fn cargo_run(dir: &Path, args: &[&str]) -> Output {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(["run", "--quiet", "--"])
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TARGET_AARCH64_UNKNOWN_NONE_RUNNER", RUNNER)
        .env_remove("REALM_SDK_DIR")
        .output()
        .expect("start cargo");
    eprintln!(
        "--- {} stdout ---\n{}--- stderr ---\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_template_runs_with_cargo_run() {
    if !qemu_or_skip("the_template_runs_with_cargo_run") {
        return;
    }
    let dir = new_project("realm-run-test-ok", None);
    let out = cargo_run(&dir, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the realm ended well");
    assert!(stdout.contains("RSI 1.0, IPA width "), "{stdout}");
    assert!(stdout.contains("\nRIM "), "{stdout}");
    assert!(
        stdout.contains("el2-harness: realm called PSCI SYSTEM_OFF"),
        "{stdout}"
    );
    // The flat image sits next to the ELF.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_panicking_payload_exits_1_with_the_panic_message() {
    if !qemu_or_skip("a_panicking_payload_exits_1_with_the_panic_message") {
        return;
    }
    let main_rs = r#"#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use realm_sdk::{Realm, Smc, rt::EntryArgs};

    realm_sdk::entry!(main);

    fn main(_realm: &mut Realm<Smc>, _args: EntryArgs) {
        panic!("the payload gave up");
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
"#;
    let dir = new_project("realm-run-test-panic", Some(main_rs));
    let out = cargo_run(&dir, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a panic is a failure");
    assert!(stdout.contains("the payload gave up"), "{stdout}");
    assert!(
        stderr.contains("realm-run: the realm ended: panic (status 1)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_realm_that_does_not_stop_exits_124() {
    if !qemu_or_skip("a_realm_that_does_not_stop_exits_124") {
        return;
    }
    let main_rs = r#"#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use realm_sdk::{Realm, Smc, println, rt::EntryArgs};

    realm_sdk::entry!(main);

    fn main(_realm: &mut Realm<Smc>, _args: EntryArgs) {
        println!("spinning");
        loop {
            core::hint::spin_loop();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
"#;
    let dir = new_project("realm-run-test-spin", Some(main_rs));
    let out = cargo_run(&dir, &["--timeout", "5"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "a timeout");
    assert!(
        stdout.contains("spinning"),
        "streamed before the timeout: {stdout}"
    );
    assert!(
        stderr.contains("realm-run: the realm did not stop within 5 s"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Usage errors exit 2, a file that is not a payload exits 1 naming the file; neither needs
/// QEMU.
#[test]
fn usage_errors_and_bad_files() {
    let out = Command::new(RUNNER).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(RUNNER).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let missing = std::env::temp_dir().join("realm-run-no-such-payload");
    let out = Command::new(RUNNER).arg(&missing).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("realm-run: {}: ", missing.display())),
        "{stderr}"
    );
    let not_elf = std::env::temp_dir().join(format!("realm-run-not-elf-{}", std::process::id()));
    std::fs::write(&not_elf, b"not an ELF").unwrap();
    let out = Command::new(RUNNER).arg(&not_elf).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "realm-run: {}: bad payload ELF: not a little-endian ELF64 file\n",
            not_elf.display()
        )
    );
    let _ = std::fs::remove_file(&not_elf);
    let out = Command::new(RUNNER)
        .args(["--tf-rmm", "/nonexistent-firmware"])
        .arg(&not_elf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
