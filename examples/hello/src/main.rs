//! `hello`: the first realm payload.
//!
//! It prints the negotiated RSI version, the realm configuration, the RIM and the REMs,
//! extends REM\[0\], reads it back and checks the result against the RMM's rule, then returns
//! (the runtime switches the realm off with PSCI `SYSTEM_OFF`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use core::time::Duration;
    use realm_sdk::psci;
    use realm_sdk::rsi::RsiError;
    use realm_sdk::rt::EntryArgs;
    use realm_sdk::time::{Clock, Instant, delay};
    use realm_sdk::{Measurement, Realm, RemIndex, Smc, println};

    realm_sdk::entry!(main);

    /// What REM\[0\] is extended with.
    const EVENT: &[u8] = b"hello, realm";

    fn main(realm: &mut Realm<Smc>, _args: EntryArgs) {
        let console = realm_sdk::rt::console::CONSOLE.lock().name();
        println!("hello: running in a realm, console: {console}");
        if let Err(e) = run(realm) {
            println!("hello: error: {e}");
        }
        println!("hello: done");
    }

    fn run(realm: &mut Realm<Smc>) -> Result<(), RsiError> {
        println!("RSI version: {}", realm.version());
        println!("RSI features0: {:#x}", realm.features(0)?);
        match psci::version(realm.conduit()) {
            Ok(v) => println!("PSCI version: {v}"),
            Err(e) => println!("PSCI version: error: {e}"),
        }
        println!("IPA width: {} bits", realm.ipa_width());
        println!("unprotected alias bit: {:#x}", realm.unprotected_bit());
        println!("hash algorithm: {}", realm.hash_algorithm());
        println!("RPV: {}", Hex(realm.personalization_value()));
        println!("RIM: {}", realm.rim()?);
        for (i, rem) in realm.rems()?.iter().enumerate() {
            println!("REM[{i}]: {rem}");
        }
        let mut expected = realm.measurement_read(RemIndex::REM0.into())?;
        realm.measurement_extend(RemIndex::REM0, EVENT)?;
        expected.extend(EVENT);
        let after: Measurement = realm.measurement_read(RemIndex::REM0.into())?;
        println!("REM[0] after extend: {after}");
        println!(
            "REM[0] check: {}",
            if after == expected { "ok" } else { "MISMATCH" }
        );
        match Clock::read() {
            Some(clock) => {
                let start = Instant::now();
                delay(Duration::from_millis(1));
                let took = Instant::now().duration_since(start, clock);
                println!(
                    "time: generic timer at {} Hz; a 1 ms delay took at least 1 ms: {}",
                    clock.hz(),
                    if took >= Duration::from_millis(1) {
                        "ok"
                    } else {
                        "NO"
                    }
                );
            }
            None => println!("time: CNTFRQ_EL0 is 0: no generic timer frequency"),
        }
        Ok(())
    }

    /// Lower-case hex of a byte string.
    struct Hex<'a>(&'a [u8]);

    impl core::fmt::Display for Hex<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "hello is a realm payload: build it with `cargo build -p hello --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
