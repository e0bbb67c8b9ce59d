//! Links realm payloads with realm-sdk's image script and a board's MEMORY file.
//!
//! The board comes from `REALM_BOARD` (a file name in `linker/` without `.ld`); the default
//! is `qemu-virt-realm`. Host builds get no linker script: the example is a realm payload
//! and only builds a placeholder `main` for the host.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=REALM_BOARD");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let linker = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../linker");
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
