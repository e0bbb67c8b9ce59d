//! `selftest`: exercises the runtime and ends the way the host asks.
//!
//! It allocates from the heap, changes the RIPAS of a buffer to `EMPTY` and back with
//! `RSI_IPA_STATE_SET`, asks for an attestation token, and then, depending on the REC's
//! `x1` at entry: 0 returns normally, 1 executes an undefined instruction, 2 panics, 3
//! executes `HVC` (which the RMM turns into an undefined-instruction exception), 4 writes to
//! the stack's guard page (a translation fault). The runtime's exception vectors and panic
//! handler report the last four and switch the realm off. It first says whether the MMU and
//! caches are on (`SCTLR_EL1`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    extern crate alloc;

    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt::Write;

    use realm_sdk::attest::TokenError;
    use realm_sdk::rsi::RipasChangeDestroyed;
    use realm_sdk::rt::{EntryArgs, mmu};
    use realm_sdk::{Ipa, Realm, Ripas, Smc, println};

    realm_sdk::entry!(main);

    /// Two granules whose RIPAS the test changes; nothing else lives there.
    #[repr(C, align(4096))]
    struct Scratch([u8; 8192]);
    static mut SCRATCH: Scratch = Scratch([0; 8192]);

    fn main(realm: &mut Realm<Smc>, args: EntryArgs) {
        let on_off = |on: bool| if on { "on" } else { "off" };
        println!(
            "MMU: {}, caches {}",
            on_off(mmu::is_enabled()),
            on_off(mmu::caches_enabled())
        );

        let v: Vec<u64> = (0..1000).collect();
        let mut s = String::new();
        let _ = write!(s, "{} items, sum {}", v.len(), v.iter().sum::<u64>());
        println!("heap: {s}");

        let base = Ipa((&raw const SCRATCH).addr() as u64);
        let top = Ipa(base.0 + 8192);
        for ripas in [Ripas::Empty, Ripas::Ram] {
            // The scratch granules hold no live data: nothing reads them while EMPTY, and the
            // map holds them only while they are RAM.
            if ripas == Ripas::Empty
                && let Err(e) = mmu::release(base, 8192)
            {
                println!("MMU: release failed: {e}");
            }
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
            if ripas == Ripas::Ram
                && let Err(e) = mmu::restore(base, 8192)
            {
                println!("MMU: restore failed: {e}");
            }
        }
        // SAFETY: SCRATCH is mapped again and nothing else refers to it.
        unsafe { (&raw mut SCRATCH).cast::<u8>().write_volatile(1) };

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
            4 => {
                let guard = mmu::stack_guard();
                println!("selftest: write to the stack guard page");
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "IPAs fit in usize on aarch64"
                )]
                let at = guard.0 as usize + 0xff8;
                // SAFETY: the guard page is unmapped: the store faults (a translation fault)
                // and the runtime reports it and switches the realm off; it never completes.
                unsafe { core::ptr::with_exposed_provenance_mut::<u64>(at).write_volatile(0x5a5a) };
                println!("selftest: the guard page took the write");
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
