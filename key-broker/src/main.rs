//! `key-broker --config FILE [--listen ADDR]`: serves a key broker configuration
//! ([`key_broker::BrokerConfig::from_json`]) over TCP ([`key_broker::net`]).
//!
//! Prints two lines to stdout: `key-broker: public key <hex>`, the key realms must build into
//! their image (`REALM_BROKER_PUBLIC_KEY`, see `realm_build::embed_broker_public_key`), then
//! `key-broker: listening on <address>` once bound (scripts read the port from it when
//! listening on port 0); then it logs each release decision to stderr. `--config -` reads
//! the configuration from standard input.
//! Exit codes: 0 for `--help` and `--version`, and when standard output is closed before
//! the two lines are written (`| head -1`: it stops quietly); 2 for a usage error (clap's
//! message); 1 for a configuration, randomness or network failure. The limits are
//! [`key_broker::ServerLimits`]'s defaults.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use key_broker::net::{self, Event};
use key_broker::{Broker, BrokerConfig, ConfigError};
use zeroize::Zeroizing;

/// Where the broker listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// The largest configuration read from standard input (a real one is a few KiB).
const MAX_STDIN_CONFIG: usize = 1 << 20;

/// What `--help` says after the options.
const AFTER_HELP: &str = "\
Prints `key-broker: public key <hex>` (what realms pin: REALM_BROKER_PUBLIC_KEY) and
`key-broker: listening on <address>` once bound, then one line per decision on stderr.

Limits: 64 connections, 8 outstanding nonces per connection valid for 120 s, a
connection idle for 30 s is closed, a frame must arrive whole within 5 s.

Exit codes: 0 --help, --version, or standard output closed before the two lines; 1 a
configuration, randomness or network failure; 2 a usage error.";

/// Serve attestation-gated key release: verify a realm's CCA token and release its sealing
/// key, encrypted to the realm's ephemeral key.
#[derive(Debug, Parser)]
#[command(name = "key-broker", version, after_help = AFTER_HELP)]
struct Cli {
    /// The configuration (JSON: master_secret, trust_anchors, allowed, policies; see
    /// key-broker/broker.example.json, whose master secret is an example that must be
    /// replaced); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Where to listen; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Writes one log line to stderr; a closed stderr loses the line, never the server.
fn log_line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "key-broker: {line}");
}

fn log(event: Event<'_>) {
    match event {
        Event::Released { rim, .. } => log_line(format_args!("released key for RIM {}", hex(rim))),
        Event::Refused { refusal, .. } => log_line(format_args!("refused: {refusal}")),
        Event::Dropped { peer, error } => {
            log_line(format_args!("{peer}: connection closed: {error}"));
        }
        Event::AcceptFailed(error) => log_line(format_args!("accept: {error}")),
        Event::Rejected { peer } => {
            log_line(format_args!(
                "{peer}: connection closed: too many connections open"
            ));
        }
        // `Event` is non-exhaustive.
        _ => {}
    }
}

/// Why the broker stopped.
enum Failure {
    /// A sentence naming what failed (exit 1).
    Failed(String),
    /// Standard output was closed before the two lines (exit 0, quietly).
    Closed,
}

/// Loads the configuration from `path`, or from standard input for `-`.
fn load(path: &Path) -> Result<BrokerConfig, String> {
    if path.as_os_str() != "-" {
        return BrokerConfig::from_file(path).map_err(|e| match e {
            ConfigError::Read { .. } => e.to_string(),
            e => format!("{}: {e}", path.display()),
        });
    }
    // One zeroized buffer that never grows: reading stops one byte past the limit.
    let mut json = Zeroizing::new(Vec::with_capacity(MAX_STDIN_CONFIG + 1));
    let limit = u64::try_from(MAX_STDIN_CONFIG + 1).unwrap_or(u64::MAX);
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut json)
        .map_err(|e| format!("reading standard input: {e}"))?;
    if json.len() > MAX_STDIN_CONFIG {
        return Err(format!(
            "standard input: more than {MAX_STDIN_CONFIG} bytes; a configuration is a few KiB"
        ));
    }
    let text =
        std::str::from_utf8(&json).map_err(|_| "standard input: not UTF-8 text".to_owned())?;
    BrokerConfig::from_json(text).map_err(|e| format!("standard input: {e}"))
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let config_name = if cli.config.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        cli.config.display().to_string()
    };
    let config = load(&cli.config).map_err(Failure::Failed)?;
    // Before binding: without randomness there is nothing to serve.
    let broker =
        Arc::new(Broker::new(config).map_err(|e| Failure::Failed(format!("{config_name}: {e}")))?);
    let public_key = hex(broker.public_key().as_bytes());
    let binding = |e| Failure::Failed(format!("binding {}: {e}", cli.listen));
    let listener = TcpListener::bind(&cli.listen).map_err(binding)?;
    let addr = listener.local_addr().map_err(binding)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "key-broker: public key {public_key}")
        .and_then(|()| writeln!(stdout, "key-broker: listening on {addr}"))
        .and_then(|()| stdout.flush())
        .map_err(|e| match e.kind() {
            ErrorKind::BrokenPipe => Failure::Closed,
            _ => Failure::Failed(format!("standard output: {e}")),
        })?;
    drop(stdout);
    net::serve_with(listener, broker, log)
        .map_err(|e| Failure::Failed(format!("serving on {addr}: {e}")))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout (exit 0), errors to stderr (exit 2); a closed
            // stream is ignored.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(&cli) {
        Ok(()) | Err(Failure::Closed) => ExitCode::SUCCESS,
        Err(Failure::Failed(e)) => {
            log_line(format_args!("{e}"));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
