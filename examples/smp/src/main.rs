//! `smp`: one computation on 1, 2, 4, ... RECs.
//!
//! The work is [`CHAINS`] SHA-256 hash chains of [`ROUNDS`] links each (chain `i` starts from
//! the hash of its index; each link hashes the previous digest). Chains are independent, so
//! they split across RECs by index: REC `r` of `n` takes chains `r, r + n, r + 2n, ...`; the
//! primary (REC 0) takes its share while the others run theirs (`realm_sdk::smp::start`).
//!
//! It runs the whole computation on REC 0 alone first (the baseline and the reference
//! result), then on 2, 4, ... RECs up to the realm's REC count, checks every result against
//! the reference, and prints a line per REC count with the time and the speed-up over one
//! REC in the same run:
//!
//! ```text
//! smp: 2 RECs: 1234 us, speed-up 1.93 over 1 REC, result matches
//! ```
//!
//! Each REC also reports what it did (`smp: REC 1 of 2 ran 8 chains`). The last line is
//! `smp: result check passed`; a failed check panics (the realm ends with status PANIC). The numbers measure the
//! platform (QEMU's threads, the host's cores), not a promise.
#![cfg_attr(target_os = "none", no_std, no_main)]

/// Independent hash chains.
pub const CHAINS: usize = 16;
/// Links per chain.
pub const ROUNDS: usize = 12000;

#[cfg(target_os = "none")]
mod payload {
    extern crate alloc;

    use alloc::vec::Vec;
    use core::time::Duration;

    use realm_sdk::rt::EntryArgs;
    use realm_sdk::smp;
    use realm_sdk::time::{Clock, Instant};
    use realm_sdk::{Realm, Smc, println};
    use sha2::{Digest, Sha256};

    use super::{CHAINS, ROUNDS};

    realm_sdk::entry!(main);

    type Digests = Vec<(usize, [u8; 32])>;

    /// The end of chain `i`.
    fn chain(i: usize) -> [u8; 32] {
        let mut d: [u8; 32] = Sha256::digest((i as u64).to_le_bytes()).into();
        for _ in 0..ROUNDS {
            d = Sha256::digest(d).into();
        }
        d
    }

    /// The chains REC `rec` of `recs` takes.
    fn share(rec: usize, recs: usize) -> Digests {
        (rec..CHAINS).step_by(recs).map(|i| (i, chain(i))).collect()
    }

    /// Runs every chain on `recs` RECs and returns the results in chain order.
    fn run(recs: usize) -> Result<[[u8; 32]; CHAINS], smp::SmpError> {
        let handles = (1..recs)
            .map(|rec| {
                smp::start(rec, move || {
                    let done = share(rec, recs);
                    println!(
                        "smp: REC {} of {recs} ran {} chains",
                        smp::current(),
                        done.len()
                    );
                    done
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mine = share(0, recs);
        println!("smp: REC 0 of {recs} ran {} chains", mine.len());
        let mut out = [[0u8; 32]; CHAINS];
        for (i, d) in mine {
            out[i] = d;
        }
        for handle in handles {
            for (i, d) in handle.join()? {
                out[i] = d;
            }
        }
        Ok(out)
    }

    fn micros(d: Duration) -> u128 {
        d.as_micros()
    }

    fn main(_realm: &mut Realm<Smc>, _args: EntryArgs) {
        let recs = smp::rec_count();
        println!("smp: {recs} RECs, {CHAINS} chains of {ROUNDS} SHA-256 links");
        let Some(clock) = Clock::read() else {
            panic!("smp: the counter frequency is 0");
        };
        let mut ok = true;
        let mut reference = None;
        let mut base = Duration::ZERO;
        let mut n = 1;
        while n <= recs {
            let start = Instant::now();
            let result = match run(n) {
                Ok(r) => r,
                Err(e) => {
                    println!("smp: {n} RECs: {e}");
                    ok = false;
                    break;
                }
            };
            let took = Instant::now().duration_since(start, clock);
            let matches = *reference.get_or_insert(result) == result;
            ok &= matches;
            if n == 1 {
                base = took;
                println!("smp: 1 REC: {} us (baseline)", micros(took));
            } else {
                let speedup = base.as_secs_f64() / took.as_secs_f64().max(1e-9);
                println!(
                    "smp: {n} RECs: {} us, speed-up {speedup:.2} over 1 REC, result {}",
                    micros(took),
                    if matches { "matches" } else { "DIFFERS" }
                );
            }
            n *= 2;
        }
        if ok {
            println!("smp: result check passed");
        } else {
            panic!("smp: result check FAILED");
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("smp is a realm payload: build it with `--target aarch64-unknown-none`");
    std::process::exit(2);
}
