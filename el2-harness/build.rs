//! Links the harness with `linker/el2.ld` and its MEMORY file.

use std::env;
use std::path::PathBuf;

fn main() {
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    for file in [dir.join("memory.ld"), dir.join("../linker/el2.ld")] {
        println!("cargo:rerun-if-changed={}", file.display());
        println!("cargo:rustc-link-arg-bins=-T{}", file.display());
    }
}
