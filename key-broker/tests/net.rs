//! The broker over TCP (`key_broker::net`): a realm on the RMM model (real tokens from its
//! test keys) gets its key through a `Client`, refusals come back as text, garbage closes
//! only its own connection, and the `key-broker` binary serves a configuration file.

mod common;

use common::{MASTER_SECRET, request_for};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use cca_abi::measurement::{HashAlgorithm, Measurement};
use key_broker::net::{self, Client, Event, MAX_PAYLOAD};
use key_broker::{AllowedRealm, Broker, BrokerConfig};
use realm_sdk::broker::Request;
use realm_sdk::seal::{self, Identity, Policy, SealingKey};
use rmm_model::token::InsecureTestIssuer;
use zeroize::Zeroizing;

/// The image the broker serves.
const IMAGE: &[u8] = b"app v1";
/// How long a test waits for anything before failing.
const PATIENCE: Duration = Duration::from_secs(10);

fn rim_of(image: &[u8]) -> Vec<u8> {
    HashAlgorithm::Sha256.hash(&[image]).as_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A broker serving [`IMAGE`] on the test platform, as `tests/release.rs` builds it.
fn broker() -> Broker {
    Broker::new(broker_config()).unwrap()
}

/// The configuration of [`broker`].
fn broker_config() -> BrokerConfig {
    BrokerConfig {
        anchors: vec![InsecureTestIssuer::new().trust_anchor()],
        master_secret: Zeroizing::new(MASTER_SECRET),
        allowed: vec![AllowedRealm {
            rim: rim_of(IMAGE),
            rpv: Some(vec![9; 64]),
        }],
        policies: vec![Policy::RimRpv, Policy::RimRpvRems],
        appraisal: None,
    }
}

/// Serves [`broker`] on a loopback port in a thread; the receiver gets a line per event.
fn start() -> (SocketAddr, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let log = move |event: Event<'_>| {
        let line = match event {
            Event::Released { rim, .. } => format!("released {}", hex(rim)),
            Event::Refused { refusal, .. } => format!("refused {refusal}"),
            Event::Dropped { error, .. } => format!("dropped {:?}: {error}", error.kind()),
            e => format!("{e:?}"),
        };
        let _ = tx.send(line);
    };
    let broker = Arc::new(broker());
    std::thread::spawn(move || net::serve_with(listener, broker, log));
    (addr, rx)
}

/// The key the realm asking with `request` must get: HKDF of the master secret with the
/// identity its token shows (`realm_sdk::seal::derive_key`).
fn expected_key(request: &[u8]) -> SealingKey {
    let req = Request::decode(request).unwrap();
    let token = cca_token::Token::parse(req.token).unwrap();
    let r = &token.realm_claims;
    assert_eq!(r.hash_algorithm, "sha-256");
    let m = |d: &[u8]| Measurement::from_digest(HashAlgorithm::Sha256, d).unwrap();
    let rems = r.rems();
    let rems = [m(rems[0]), m(rems[1]), m(rems[2]), m(rems[3])];
    let identity = Identity {
        rim: &m(r.rim),
        rpv: r.personalization_value.try_into().unwrap(),
        rems: &rems,
    };
    seal::derive_key(&MASTER_SECRET, &identity, req.policy)
}

/// One nonce + release through `client` for a realm of `image`; the realm unwraps the
/// answer. `Err` is the broker's refusal.
fn release(client: &mut Client, image: &[u8], seed: u64) -> Result<(SealingKey, Vec<u8>), String> {
    let nonce = client.nonce().unwrap();
    let (ephemeral, request) = request_for(image, nonce, seed);
    let response = client.release(&request).unwrap()?;
    let key = common::open(&ephemeral, &nonce, &response).unwrap();
    Ok((key, request))
}

/// A realm gets its key over TCP, and unwraps it to the key its identity derives; a second
/// exchange on the same connection (new nonce, new ephemeral key) gets the same key.
#[test]
fn release_over_tcp_unwraps_to_the_realms_key() {
    let (addr, log) = start();
    let mut client = Client::connect(addr).unwrap();
    let (key, request) = release(&mut client, IMAGE, 1).unwrap();
    assert_eq!(key.expose_secret(), expected_key(&request).expose_secret());
    assert_eq!(
        log.recv_timeout(PATIENCE).unwrap(),
        format!("released {}", hex(&rim_of(IMAGE)))
    );

    let (again, _) = release(&mut client, IMAGE, 2).unwrap();
    assert_eq!(again.expose_secret(), key.expose_secret());
}

/// Refusals come back as the broker's text and leave the connection usable: a replayed
/// (stale) nonce, a request that does not decode, a realm of another image.
#[test]
fn refusals_come_back_as_text() {
    let (addr, log) = start();
    let mut client = Client::connect(addr).unwrap();
    let nonce = client.nonce().unwrap();
    let (_, request) = request_for(IMAGE, nonce, 1);
    assert!(client.release(&request).unwrap().is_ok());
    assert_eq!(
        client.release(&request).unwrap().err().as_deref(),
        Some("unknown or already used nonce")
    );
    assert_eq!(
        client.release(b"garbage").unwrap().err().as_deref(),
        Some("malformed request")
    );
    assert_eq!(
        release(&mut client, b"app v2", 3).err().as_deref(),
        Some("RIM not allowed")
    );
    let events: Vec<String> = log.try_iter().collect();
    assert_eq!(
        events[1..],
        [
            "refused unknown or already used nonce",
            "refused malformed request",
            "refused RIM not allowed",
        ]
    );
    assert_ne!(client.nonce().unwrap(), nonce);
}

/// Asserts that the server closed `stream` without answering.
fn assert_closed(mut stream: TcpStream, what: &str) {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: the server answered {:?}", &buf[..n]),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
            "{what}: connection not closed: {e}"
        ),
    }
}

/// Garbage frames (unknown kind, oversize length, a nonce request with a payload, a frame
/// cut short) close their own connection, and only it: a client connected before keeps
/// working and a new one is served.
#[test]
fn garbage_closes_only_its_connection() {
    let (addr, log) = start();
    let mut bystander = Client::connect(addr).unwrap();
    bystander.nonce().unwrap();

    let oversize = [&[b'R'][..], &(MAX_PAYLOAD as u32 + 1).to_le_bytes()].concat();
    let huge = [&[b'R'][..], &u32::MAX.to_le_bytes()].concat();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "unknown kind",
            b"Z\0\0\0\0".to_vec(),
            "unknown frame kind 0x5a",
        ),
        ("oversize", oversize, "frame of 65537 bytes exceeds 65536"),
        ("4 GiB", huge, "frame of 4294967295 bytes exceeds 65536"),
        (
            "nonce with payload",
            b"N\x01\0\0\0!".to_vec(),
            "nonce request with a 1-byte payload",
        ),
        ("truncated", b"R\x64\0\0\0RKB1".to_vec(), "UnexpectedEof"),
    ];
    for (what, bytes, reason) in cases {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(&bytes).unwrap();
        // The end of the stream cuts the truncated frame short. The server may already have
        // closed (and reset) the others, which makes this fail: that is fine.
        let _ = stream.shutdown(Shutdown::Write);
        assert_closed(stream, what);
        let event = log.recv_timeout(PATIENCE).unwrap();
        assert!(
            event.starts_with("dropped") && event.contains(reason),
            "{what}: {event}"
        );
    }

    // The largest frame allowed is read whole (and refused by the broker, not the framing).
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut frame = vec![b'R'];
    frame.extend_from_slice(&(MAX_PAYLOAD as u32).to_le_bytes());
    frame.resize(5 + MAX_PAYLOAD, 0);
    stream.write_all(&frame).unwrap();
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).unwrap();
    let mut payload = vec![0u8; u32::from_le_bytes(header[1..].try_into().unwrap()) as usize];
    stream.read_exact(&mut payload).unwrap();
    assert_eq!(header[0], b'x');
    assert_eq!(payload, b"\x01malformed request");
    assert_eq!(
        log.recv_timeout(PATIENCE).unwrap(),
        "refused malformed request"
    );

    let (key, request) = release(&mut bystander, IMAGE, 1).unwrap();
    assert_eq!(key.expose_secret(), expected_key(&request).expose_secret());
    let mut newcomer = Client::connect(addr).unwrap();
    assert_ne!(newcomer.nonce().unwrap(), bystander.nonce().unwrap());
}

/// The `key-broker` binary, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("key-broker-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Unpadded base64url (RFC 4648 §5), as JWKs use it.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The test platform's trust anchor in veraison's `ta.json` form.
fn test_anchor_json() -> serde_json::Value {
    let anchor = InsecureTestIssuer::new().trust_anchor();
    let cca_token::PublicKey::P256(key) = &anchor.key else {
        panic!("the test IAK is a P-256 key");
    };
    let point = key.to_sec1_point(false);
    let xy = &point.as_bytes()[1..];
    serde_json::json!([{
        "implementation-id": hex(&anchor.implementation_id),
        "instance-id": hex(&anchor.instance_id),
        "pkey": { "kty": "EC", "crv": "P-256", "x": base64url(&xy[..32]), "y": base64url(&xy[32..]) },
    }])
}

/// The binary loads a configuration file, says where it listens, hands out nonces and
/// releases keys, and logs its decisions.
#[test]
fn binary_serves_a_config_file() {
    let dir = temp_dir("serve");
    let config = dir.join("broker.json");
    let json = serde_json::json!({
        "master_secret": hex(&MASTER_SECRET),
        "trust_anchors": test_anchor_json(),
        "allowed": [{ "rim": hex(&rim_of(IMAGE)), "rpv": hex(&[9; 64]) }],
        "policies": ["rim+rpv"],
    });
    std::fs::write(&config, json.to_string()).unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_key-broker"))
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim_end(),
        format!(
            "key-broker: public key {}",
            hex(common::pinned_broker().as_bytes())
        )
    );
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .strip_prefix("key-broker: listening on ")
        .unwrap_or_else(|| panic!("second line: {line:?}"))
        .trim_end()
        .parse()
        .unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let mut client = Client::connect(addr).unwrap();
    let nonce = client.nonce().unwrap();
    assert_ne!(client.nonce().unwrap(), nonce);
    let (key, request) = release(&mut client, IMAGE, 1).unwrap();
    assert_eq!(key.expose_secret(), expected_key(&request).expose_secret());
    assert_eq!(
        release(&mut client, b"app v2", 2).err().as_deref(),
        Some("RIM not allowed")
    );

    // Kill it, then read everything it logged.
    let _ = server.0.kill();
    let mut stderr = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!("key-broker: released key for RIM {}", hex(&rim_of(IMAGE))),
            "key-broker: refused: RIM not allowed".to_owned(),
        ]
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Bad arguments exit 2 with clap's message; `--help` and `--version` exit 0; a
/// configuration that does not load exits 1 saying what is wrong.
#[test]
fn binary_rejects_bad_arguments_and_configs() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_key-broker"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.stdout.is_empty(), "{args:?}");
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    for (args, message) in [
        (
            &[][..],
            "the following required arguments were not provided",
        ),
        (&["--listen", "127.0.0.1:0"], "--config <FILE>"),
        (&["--config"], "a value is required for '--config <FILE>'"),
        (
            &["--config", "a", "--config", "b"],
            "the argument '--config <FILE>' cannot be used multiple times",
        ),
        (&["--port", "1"], "unexpected argument '--port'"),
        (&["serve"], "unexpected argument 'serve'"),
    ] {
        let (code, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(message),
            "{args:?}: {stderr}"
        );
    }

    for help in ["--help", "-h"] {
        let out = Command::new(env!("CARGO_BIN_EXE_key-broker"))
            .arg(help)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.contains("Usage: key-broker [OPTIONS] --config <FILE>"),
            "{stdout}"
        );
        assert!(stdout.contains("Exit codes: 0 "), "{stdout}");
        assert!(out.stderr.is_empty());
    }
    for version in ["--version", "-V"] {
        let out = Command::new(env!("CARGO_BIN_EXE_key-broker"))
            .arg(version)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            concat!("key-broker ", env!("CARGO_PKG_VERSION"))
        );
    }

    let dir = temp_dir("bad-config");
    let missing = dir.join("missing.json");
    let (code, stderr) = run(&["--config", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("missing.json"), "{stderr}");

    let bad = dir.join("bad.json");
    let json = serde_json::json!({
        "master_secret": "00",
        "trust_anchors": test_anchor_json(),
        "allowed": [{ "rim": hex(&rim_of(IMAGE)) }],
        "policies": ["rim+rpv"],
    });
    std::fs::write(&bad, json.to_string()).unwrap();
    let (code, stderr) = run(&["--config", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "bad.json: master_secret: 1 bytes; the master secret is 32 bytes (64 hex digits)"
        ),
        "{stderr}"
    );
    std::fs::write(&bad, r#"{"master_secret": "00", "trust_anchors": []}"#).unwrap();
    let (code, stderr) = run(&["--config", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("missing field `allowed`"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `--config -` reads the configuration from standard input: a JSON error names it; a
/// good one is served. A closed standard output (`| head -0`) stops the broker quietly
/// (exit 0) before it serves.
#[test]
fn binary_reads_stdin_and_stops_quietly_on_a_closed_output() {
    // With `close_stdout`, the read end is closed before the broker has its configuration,
    // hence before it writes anything.
    let with_stdin = |json: &str, close_stdout: bool| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_key-broker"))
            .args(["--config", "-", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if close_stdout {
            drop(child.stdout.take());
        }
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
        child
    };
    let out = with_stdin("{\n  \"master_secret\": 1", false)
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("key-broker: standard input: master_secret: invalid type")
            && stderr.contains("line 2 column"),
        "{stderr}"
    );

    let json = serde_json::json!({
        "master_secret": hex(&MASTER_SECRET),
        "trust_anchors": test_anchor_json(),
        "allowed": [{ "rim": hex(&rim_of(IMAGE)), "rpv": hex(&[9; 64]) }],
        "policies": ["rim+rpv"],
    })
    .to_string();
    let mut server = Server(with_stdin(&json, false));
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim_end(),
        format!(
            "key-broker: public key {}",
            hex(common::pinned_broker().as_bytes())
        )
    );
    drop(server);

    let out = with_stdin(&json, true).wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// A nonce can be spent only on the connection that asked for it (finding 2): sent on
/// another it is refused as stale, and stays valid on its own.
#[test]
fn a_nonce_is_spent_only_on_its_own_connection() {
    let (addr, _log) = start();
    let (mut mine, mut other) = (
        Client::connect(addr).unwrap(),
        Client::connect(addr).unwrap(),
    );
    let nonce = mine.nonce().unwrap();
    let (ephemeral, request) = request_for(IMAGE, nonce, 1);
    assert_eq!(
        other.release(&request).unwrap().err().as_deref(),
        Some("unknown or already used nonce")
    );
    let response = mine.release(&request).unwrap().unwrap();
    common::open(&ephemeral, &nonce, &response).unwrap();
}

/// Nonces expire after the TTL, and a connection keeps only its newest few (finding 2).
#[test]
fn nonces_expire_and_a_connection_keeps_its_newest() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = key_broker::ServerLimits {
        nonces_per_connection: 2,
        nonce_ttl: Duration::from_millis(300),
        ..key_broker::ServerLimits::default()
    };
    let config = broker_config();
    let broker = Arc::new(Broker::with_limits(config, limits).unwrap());
    std::thread::spawn(move || net::serve(listener, broker));
    let mut client = Client::connect(addr).unwrap();

    let old = client.nonce().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let (_, request) = request_for(IMAGE, old, 1);
    assert_eq!(
        client.release(&request).unwrap().err().as_deref(),
        Some("unknown or already used nonce"),
        "expired"
    );

    let first = client.nonce().unwrap();
    let second = client.nonce().unwrap();
    let third = client.nonce().unwrap();
    let (_, request) = request_for(IMAGE, first, 2);
    assert!(
        client.release(&request).unwrap().is_err(),
        "dropped as the oldest"
    );
    for (nonce, seed) in [(second, 3), (third, 4)] {
        let (_, request) = request_for(IMAGE, nonce, seed);
        assert!(client.release(&request).unwrap().is_ok());
    }
}
