//! Finding 1: with the process out of file descriptors, the broker still answers (its
//! randomness needs none, and nothing in request handling can panic), and once descriptors
//! are free again new clients are served: nothing was poisoned.
//!
//! Its own test binary: it exhausts the descriptors of its whole process.

mod common;

use common::{config_for, request_for};

use std::fs::File;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::Arc;

use key_broker::net::{self, Client};
use key_broker::{Broker, ServerLimits};

const IMAGE: &[u8] = b"app v1";

/// Lowers this process's soft descriptor limit (with util-linux `prlimit`, if it is there),
/// so that exhausting it is quick; then opens files until the limit is hit.
fn exhaust_descriptors() -> Vec<File> {
    let _ = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg("--nofile=512:")
        .status();
    let mut held = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) => {
                // EMFILE.
                assert_eq!(e.raw_os_error(), Some(24), "{e}");
                return held;
            }
        }
        assert!(held.len() < 1 << 20, "no descriptor limit to hit");
    }
}

#[test]
fn out_of_descriptors_the_broker_still_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = Arc::new(Broker::with_limits(config_for(IMAGE), ServerLimits::default()).unwrap());
    let served = broker.clone();
    std::thread::spawn(move || net::serve(listener, served));
    let mut client = Client::connect(addr).unwrap();
    let session = broker.session().unwrap();

    let mut held = exhaust_descriptors();
    assert_eq!(
        File::open("/dev/null").unwrap_err().raw_os_error(),
        Some(24)
    );
    // In process and over the connection opened before: nonces, releases, refusals.
    let nonce = session.nonce();
    let (_, request) = request_for(IMAGE, nonce, 1);
    assert!(session.release(&request).is_ok());
    for seed in 2..5 {
        let nonce = client.nonce().unwrap();
        let (ephemeral, request) = request_for(IMAGE, nonce, seed);
        let response = client.release(&request).unwrap().unwrap();
        common::open(&ephemeral, &nonce, &response).unwrap();
        assert_eq!(
            client.release(b"garbage").unwrap().unwrap_err(),
            "malformed request"
        );
    }
    // A new client cannot even get a socket of its own now.
    let err = Client::connect(addr).unwrap_err();
    assert!(
        err.raw_os_error() == Some(24) || err.kind() == ErrorKind::Other,
        "{err}"
    );

    // Descriptors free again: the server accepts and serves new clients.
    held.truncate(held.len().saturating_sub(64));
    for seed in 10..13 {
        let mut late = Client::connect(addr).unwrap();
        let nonce = late.nonce().unwrap();
        let (ephemeral, request) = request_for(IMAGE, nonce, seed);
        let response = late.release(&request).unwrap().unwrap();
        common::open(&ephemeral, &nonce, &response).unwrap();
    }
    drop(held);
}
