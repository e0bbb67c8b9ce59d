//! Links the host with `linker/el2.ld` and embeds the realm image named by `REALM_IMAGE`
//! (a flat binary, e.g. from `cargo xtask image hello`). Without it the host embeds nothing
//! and says so when it runs. `REALM_ENTRY_X0` and `REALM_ENTRY_X1` (decimal or 0x-hex) set
//! the REC's `x0` and `x1` at entry.

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
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            regs[i] = parsed.unwrap_or_else(|e| panic!("{var}={v}: {e}"));
        }
    }
    let entry = PathBuf::from(env::var("OUT_DIR").unwrap()).join("entry.rs");
    std::fs::write(entry, format!("[{:#x}, {:#x}]", regs[0], regs[1])).unwrap();
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    for file in [dir.join("memory.ld"), dir.join("../../linker/el2.ld")] {
        println!("cargo:rerun-if-changed={}", file.display());
        println!("cargo:rustc-link-arg-bins=-T{}", file.display());
    }
}
