//! `timer`: sleeps on the EL1 virtual timer.
//!
//! It sleeps 50, 10 and 25 ms with `realm_sdk::time::sleep`, which arms the virtual timer
//! and waits in `WFI` for its interrupt (INTID 27) from the host's virtual GIC. After each
//! sleep it checks, on the counter, that it did not wake early, and, on the interrupt
//! handler's counts (`realm_sdk::time::timer_events`), that the timer's interrupt was
//! taken while the timer condition held. It ends with the handler's counts: interrupts the
//! host injected before the timer fired, or that nothing asked for, are counted as early
//! or other and do not end a sleep (the EL2 harness injects one of each on purpose, during
//! the first sleep, which is the longest so that they fall inside it).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use core::time::Duration;

    use realm_sdk::rt::EntryArgs;
    use realm_sdk::time::{Clock, Instant, sleep, timer_events};
    use realm_sdk::{Realm, Smc, println};

    realm_sdk::entry!(main);

    /// The sleeps, in milliseconds.
    const SLEEPS_MS: [u64; 3] = [50, 10, 25];

    fn main(_realm: &mut Realm<Smc>, _args: EntryArgs) {
        let Some(clock) = Clock::read() else {
            panic!("CNTFRQ_EL0 is 0: no generic timer frequency");
        };
        println!("timer: generic timer at {} Hz", clock.hz());
        let mut ok = true;
        for ms in SLEEPS_MS {
            let asked = Duration::from_millis(ms);
            let before = timer_events();
            let start = Instant::now();
            sleep(asked);
            let took = Instant::now().duration_since(start, clock);
            let after = timer_events();
            let woke_on_timer = after.fired > before.fired;
            println!(
                "timer: slept {ms} ms, woke on the virtual timer interrupt (INTID 27) after {} ms",
                took.as_millis()
            );
            if took < asked {
                println!("timer: error: the {ms} ms sleep ended after {took:?}");
                ok = false;
            }
            if !woke_on_timer {
                println!("timer: error: the {ms} ms sleep ended without the timer's interrupt");
                ok = false;
            }
        }
        let events = timer_events();
        println!(
            "timer: interrupts taken: {} from the timer, {} early, {} other, {} spurious",
            events.fired, events.early, events.other, events.spurious
        );
        // A failed check ends the realm with the panic status, which the hosts report.
        assert!(ok, "a sleep check failed");
        println!("timer: no sleep ended early, each ended on the timer's interrupt: ok");
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("timer is a realm payload: build it with `--target aarch64-unknown-none`");
    std::process::exit(2);
}
