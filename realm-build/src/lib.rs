//! Build-script helper for realm payloads.
//!
//! A payload's `build.rs` is `fn main() { realm_build::link_payload() }`: on the bare-metal
//! target it links the binaries with the board's MEMORY file and `linker/realm.ld`. The
//! board comes from `REALM_BOARD` (a file name in `linker/` without `.ld`; default
//! `qemu-virt-realm`). Host builds get no linker script (payloads only build a placeholder
//! `main` there).

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Emits the link arguments of a realm payload (see the crate documentation).
///
/// # Panics
///
/// In a build script, when `REALM_BOARD` names a board with no MEMORY file: the build must
/// stop with that message.
pub fn link_payload() {
    println!("cargo:rerun-if-env-changed=REALM_BOARD");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let linker = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../linker");
    let board = env::var("REALM_BOARD").unwrap_or_else(|_| "qemu-virt-realm".into());
    let board_file = linker.join(format!("{board}.ld"));
    assert!(
        board_file.exists(),
        "REALM_BOARD={board}: no linker/{board}.ld"
    );
    for file in [&board_file, &linker.join("realm.ld")] {
        println!("cargo:rerun-if-changed={}", file.display());
        println!("cargo:rustc-link-arg-bins=-T{}", file.display());
    }
}

/// The environment variable that names the key broker a payload trusts: the broker's
/// P-384 public key, SEC1 uncompressed, as 194 hex digits (`key-broker` prints it at start).
pub const BROKER_PUBLIC_KEY_ENV: &str = "REALM_BROKER_PUBLIC_KEY";

/// Writes `$OUT_DIR/broker_public_key.rs`, an expression of type `Option<[u8; 97]>`: the
/// key in [`BROKER_PUBLIC_KEY_ENV`], or `None` when it is not set. A payload includes it
/// with `include!(concat!(env!("OUT_DIR"), "/broker_public_key.rs"))`, so the key is part of
/// the image and the RIM pins it.
///
/// # Panics
///
/// In a build script, when the variable is set but is not 97 bytes of hex: the build must
/// stop with that message.
pub fn embed_broker_public_key() {
    println!("cargo:rerun-if-env-changed={BROKER_PUBLIC_KEY_ENV}");
    let code = match env::var(BROKER_PUBLIC_KEY_ENV) {
        Err(_) => "None".to_owned(),
        Ok(hex) => {
            let hex = hex.trim();
            assert!(
                hex.len() == 194 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                "{BROKER_PUBLIC_KEY_ENV} must be 194 hex digits (a SEC1 uncompressed P-384 key)"
            );
            let mut code = "Some([".to_owned();
            for i in (0..hex.len()).step_by(2) {
                let _ = write!(code, "0x{},", &hex[i..i + 2]);
            }
            code.push_str("])");
            code
        }
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    std::fs::write(out.join("broker_public_key.rs"), code)
        .expect("the build script can write to OUT_DIR");
}
