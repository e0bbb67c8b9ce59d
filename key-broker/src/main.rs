//! `key-broker --config FILE [--listen ADDR]`: serves a key broker configuration
//! ([`key_broker::BrokerConfig::from_json`]) over TCP ([`key_broker::net`]).
//!
//! Prints two lines to stdout: `key-broker: public key <hex>`, the key realms must build into
//! their image (`REALM_BROKER_PUBLIC_KEY`, see `realm_build::embed_broker_public_key`), then
//! `key-broker: listening on <address>` once bound (scripts read the port from it when
//! listening on port 0); then it logs each release decision to stderr.
//! Exit codes: 0 for `--help`, 2 for bad arguments, 1 for a configuration, randomness or
//! network failure. The limits are [`key_broker::ServerLimits`]'s defaults.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use key_broker::net::{self, Event};
use key_broker::{Broker, BrokerConfig, ConfigError};

/// Where the broker listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

const USAGE: &str = "usage: key-broker --config FILE [--listen ADDR]

Serves the key broker configured in FILE (JSON: master_secret, trust_anchors, allowed,
policies; see key-broker/broker.example.json, whose master secret is an example that
must be replaced) on ADDR (default 127.0.0.1:7878; port 0 picks a free port). Prints
`key-broker: public key <hex>` (what realms pin: REALM_BROKER_PUBLIC_KEY) and
`key-broker: listening on <address>` once bound.

Limits: 64 connections, 8 outstanding nonces per connection valid for 120 s, a
connection idle for 30 s is closed, a frame must arrive whole within 5 s.";

/// The command line.
struct Args {
    config: String,
    listen: String,
}

/// `Ok(None)` for `--help`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut config, mut listen) = (None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--config" => &mut config,
            "--listen" => &mut listen,
            _ => return Err(format!("unexpected argument `{arg}`")),
        };
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        if slot.replace(value).is_some() {
            return Err(format!("{arg} given twice"));
        }
    }
    Ok(Some(Args {
        config: config.ok_or("--config is required")?,
        listen: listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn log(event: Event<'_>) {
    match event {
        Event::Released { rim, .. } => eprintln!("key-broker: released key for RIM {}", hex(rim)),
        Event::Refused { refusal, .. } => eprintln!("key-broker: refused: {refusal}"),
        Event::Dropped { peer, error } => {
            eprintln!("key-broker: {peer}: connection closed: {error}");
        }
        Event::AcceptFailed(error) => eprintln!("key-broker: accept: {error}"),
        Event::Rejected { peer } => {
            eprintln!("key-broker: {peer}: connection closed: too many connections open");
        }
        // `Event` is non-exhaustive.
        _ => {}
    }
}

fn run(args: &Args) -> Result<(), String> {
    let config = BrokerConfig::from_file(Path::new(&args.config)).map_err(|e| match e {
        ConfigError::Read { .. } => e.to_string(),
        e => format!("{}: {e}", args.config),
    })?;
    // Before binding: without randomness there is nothing to serve.
    let broker = Arc::new(Broker::new(config).map_err(|e| format!("{}: {e}", args.config))?);
    let public_key = hex(broker.public_key().as_bytes());
    let listener =
        TcpListener::bind(&args.listen).map_err(|e| format!("binding {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("binding {}: {e}", args.listen))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "key-broker: public key {public_key}")
        .and_then(|()| writeln!(stdout, "key-broker: listening on {addr}"))
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    drop(stdout);
    net::serve_with(listener, broker, log).map_err(|e| format!("serving on {addr}: {e}"))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("key-broker: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("key-broker: {e}");
            ExitCode::FAILURE
        }
    }
}
