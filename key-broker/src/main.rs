//! `key-broker --config FILE [--listen ADDR]`: serves a key broker configuration
//! ([`key_broker::BrokerConfig::from_json`]) over TCP ([`key_broker::net`]).
//!
//! Prints two lines to stdout: `key-broker: public key <hex>`, the key realms must build into
//! their image (`REALM_BROKER_PUBLIC_KEY`, see `realm_build::embed_broker_public_key`), then
//! `key-broker: listening on <address>` once bound (scripts read the port from it when
//! listening on port 0); then it logs each release decision to stderr.
//! Exit codes: 2 for bad arguments, 1 for a configuration or network failure.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use key_broker::net::{self, Event};
use key_broker::{Broker, BrokerConfig};

/// Where the broker listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

const USAGE: &str = "usage: key-broker --config FILE [--listen ADDR]

Serves the key broker configured in FILE (JSON: master_secret, trust_anchors, allowed,
policies) on ADDR (default 127.0.0.1:7878; port 0 picks a free port). Prints
`key-broker: public key <hex>` (what realms pin: REALM_BROKER_PUBLIC_KEY) and
`key-broker: listening on <address>` once bound.";

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
        // `Event` is non-exhaustive.
        _ => {}
    }
}

fn run(args: &Args) -> Result<(), String> {
    let json = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("reading {}: {e}", args.config))?;
    let config = BrokerConfig::from_json(&json).map_err(|e| format!("{}: {e}", args.config))?;
    let listener =
        TcpListener::bind(&args.listen).map_err(|e| format!("binding {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("binding {}: {e}", args.listen))?;
    let broker = Broker::new(config, Box::new(key_broker::os_random))
        .map_err(|e| format!("{}: {e}", args.config))?;
    let public_key = hex(broker.public_key().as_bytes());
    let broker = Arc::new(Mutex::new(broker));
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
