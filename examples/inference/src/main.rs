//! `inference`: attested inference in a realm (realm-sdk issue 13). The pipeline is the
//! library of this package (`inference::run`, documented there); this is its payload.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "inference is a realm payload: build it with `cargo build -p inference --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
