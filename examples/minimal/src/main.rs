//! `minimal`: the smallest realm payload. The runtime negotiates RSI, reads the realm
//! configuration and sets up the console and heap; `main` returns at once and the runtime
//! switches the realm off. Copy it to start a payload; `cargo xtask size` uses it as the
//! baseline of the image-size benchmark.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use realm_sdk::rt::EntryArgs;
    use realm_sdk::{Realm, Smc};

    realm_sdk::entry!(main);

    fn main(_realm: &mut Realm<Smc>, _args: EntryArgs) {}
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "minimal is a realm payload: build it with `cargo build -p minimal --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
