//! Build-script helper for realm payloads.
//!
//! A payload's `build.rs` is `fn main() { realm_build::link_payload() }`: on the bare-metal
//! target it links the binaries with the board's MEMORY file and `linker/realm.ld`. The
//! board comes from `REALM_BOARD` (a file name in `linker/` without `.ld`; default
//! `qemu-virt-realm`). Host builds get no linker script (payloads only build a placeholder
//! `main` there).

use std::env;
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
