//! Build-script helper for realm payloads built with `realm-sdk`'s runtime (feature `rt`).
//!
//! A payload's `build.rs` is `fn main() { realm_build::link_payload() }`: on the bare-metal
//! target it links the binaries with the board's MEMORY file and `realm.ld`, the image
//! script that matches realm-sdk's runtime (entry first, vectors, stack and heap, with
//! ASSERTs whose messages say what to fix). Both ship in this crate's `linker/` folder.
//!
//! The board comes from `REALM_BOARD`:
//!
//! - a board of this crate, by name: `qemu-virt-realm` (the default: QEMU `virt`, the EL2
//!   harness and TF-RMM under QEMU) or `fvp-realm` (Arm's FVP Base RevC);
//! - or a MEMORY file of your own, by a path ending in `.ld`, relative to the payload's
//!   package: it defines the `REALM_RAM` region and `__realm_pl011_ipa` (see
//!   `linker/qemu-virt-realm.ld` in this crate).
//!
//! Host builds get no linker script (payloads only build a placeholder `main` there).
//!
//! ```no_run
//! // The body of the `main` of a realm payload's build.rs:
//! realm_build::link_payload();
//! ```

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Emits the link arguments of a realm payload (see the crate documentation).
///
/// # Panics
///
/// In a build script, when `REALM_BOARD` names a board or a file that does not exist: the
/// build must stop with that message.
pub fn link_payload() {
    println!("cargo:rerun-if-env-changed=REALM_BOARD");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let linker = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("linker");
    let board = env::var("REALM_BOARD").unwrap_or_else(|_| "qemu-virt-realm".into());
    let board_file = if board.ends_with(".ld") {
        // The payload's own MEMORY file; build scripts run with the payload's package as
        // CARGO_MANIFEST_DIR.
        let payload = env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        PathBuf::from(payload).join(&board)
    } else {
        linker.join(format!("{board}.ld"))
    };
    assert!(
        board_file.exists(),
        "REALM_BOARD={board}: no {} (name a board of realm-build: qemu-virt-realm, fvp-realm; or give the path of a MEMORY file ending in .ld)",
        board_file.display()
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
