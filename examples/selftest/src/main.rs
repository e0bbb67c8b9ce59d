//! `selftest`: exercises the runtime and ends the way the host asks.
//!
//! It allocates from the heap, changes the RIPAS of a buffer to `EMPTY` and back with
//! `RSI_IPA_STATE_SET`, asks for an attestation token, and then, depending on the REC's
//! `x1` at entry: 0 returns normally, 1 executes an undefined instruction, 2 panics, 3
//! executes `HVC` (which the RMM turns into an undefined-instruction exception). The
//! runtime's exception vectors and panic handler report the last three and switch the realm
//! off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    extern crate alloc;

    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt::Write;

    use realm_sdk::attest::TokenError;
    use realm_sdk::rsi::RipasChangeDestroyed;
    use realm_sdk::rt::EntryArgs;
    use realm_sdk::{Ipa, Realm, Ripas, Smc, println};

    realm_sdk::entry!(main);

    /// Two granules whose RIPAS the test changes; nothing else lives there.
    #[repr(C, align(4096))]
    struct Scratch([u8; 8192]);
    static mut SCRATCH: Scratch = Scratch([0; 8192]);

    fn main(realm: &mut Realm<Smc>, args: EntryArgs) {
        let v: Vec<u64> = (0..1000).collect();
        let mut s = String::new();
        let _ = write!(s, "{} items, sum {}", v.len(), v.iter().sum::<u64>());
        println!("heap: {s}");

        let base = Ipa((&raw const SCRATCH).addr() as u64);
        let top = Ipa(base.0 + 8192);
        for ripas in [Ripas::Empty, Ripas::Ram] {
            // The scratch granules hold no live data: nothing reads them while EMPTY.
            match realm.set_ripas(base, top, ripas, RipasChangeDestroyed::NoChange) {
                Ok(()) => match realm.ripas(base, top) {
                    Ok((now, end)) => println!(
                        "RIPAS: {ripas:?} requested, now {now:?} up to +{:#x}",
                        end.0 - base.0
                    ),
                    Err(e) => println!("RIPAS: read failed: {e}"),
                },
                Err(e) => println!("RIPAS: {ripas:?} refused: {e}"),
            }
        }

        let mut buf = [0u8; 64];
        match realm.attestation_token(&realm_sdk::Challenge::for_verifier(b"selftest"), &mut buf) {
            Ok(token) => println!("attestation: {} bytes", token.len()),
            Err(TokenError::Init(e)) => println!("attestation: INIT failed: {e}"),
            Err(e) => println!("attestation: {e}"),
        }

        match args.0[1] {
            0 => println!("selftest: done"),
            1 => {
                println!("selftest: undefined instruction");
                // SAFETY: UDF raises an Undefined Instruction exception, which the runtime's
                // vectors report before switching the realm off; it never returns here.
                unsafe { core::arch::asm!("udf #0x42", options(noreturn)) }
            }
            2 => panic!("selftest: deliberate panic"),
            3 => {
                println!("selftest: HVC");
                // SAFETY: a realm may not use HVC; the RMM injects an Undefined Instruction
                // exception, which the runtime reports before switching the realm off.
                unsafe { core::arch::asm!("hvc #0", options(noreturn)) }
            }
            other => println!("selftest: unknown ending {other}"),
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "selftest is a realm payload: build it with `cargo build -p selftest --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
