//! Fuzzes the event-log reader and replay: no input may panic.
#![no_main]

use cca_abi::eventlog::{events, replay};
use cca_abi::measurement::HashAlgorithm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = events(data) {
        let _ = e.count();
    }
    let _ = replay(data, HashAlgorithm::Sha256);
    let _ = replay(data, HashAlgorithm::Sha512);
});
