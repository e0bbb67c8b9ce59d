//! The broker on the network: a small framed protocol over TCP, the server loop
//! ([`serve`], [`serve_with`]) and a [`Client`]. Plain `std::net`, one thread per connection.
//!
//! # Wire protocol
//!
//! Every message, either way, is one frame:
//!
//! ```text
//! kind: u8 ‖ len: u32 little-endian ‖ payload: len bytes
//! ```
//!
//! with `len` at most [`MAX_PAYLOAD`] (65536). A receiver rejects a longer frame before
//! reading or allocating its payload. A connection carries any number of exchanges, each one
//! request frame answered by one response frame, in order.
//!
//! | kind | direction | payload |
//! |------|-----------|---------|
//! | `b'N'` ([`NONCE_REQUEST`]) | client → server | empty |
//! | `b'R'` ([`RELEASE_REQUEST`]) | client → server | an encoded [`realm_sdk::broker::Request`] |
//! | `b'n'` ([`NONCE`]) | server → client | the 32-byte nonce |
//! | `b'r'` ([`RELEASED`]) | server → client | the [`RESPONSE_SIZE`]-byte response (the wrapped key) |
//! | `b'x'` ([`REFUSED`]) | server → client | a refusal: one code byte, then the UTF-8 text of the [`Refusal`]'s `Display` |
//!
//! `N` is answered with `n`; `R` with `r` or `x`. A release request that does not decode is
//! refused (`x`, code 1) and the connection stays open: only the framing is a protocol
//! error. The refusal codes are:
//!
//! | code | [`Refusal`] |
//! |------|-------------|
//! | 1 | `Malformed` |
//! | 2 | `StaleNonce` |
//! | 3 | `Token` (does not parse) |
//! | 4 | `Verify` (does not verify) |
//! | 5 | `Binding` |
//! | 6 | `RimNotAllowed` |
//! | 7 | `RpvNotAllowed` |
//! | 8 | `PolicyNotAllowed` |
//! | 9 | `Version` (another protocol version) |
//!
//! The server closes a connection, without an answer, on a protocol error: a frame of
//! another kind, an `N` frame with a payload, a `len` over [`MAX_PAYLOAD`], or a frame cut
//! short by the end of the stream or by [`TIMEOUT`] of silence in the middle of it. Between
//! frames a connection may stay idle as long as the client likes. The other connections
//! are not affected.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use realm_sdk::broker::{NONCE_SIZE, RESPONSE_SIZE};

use crate::{Broker, Refusal};

/// The largest payload a frame may have (64 KiB).
pub const MAX_PAYLOAD: usize = 65536;
/// Kind of a nonce request (client → server, empty payload).
pub const NONCE_REQUEST: u8 = b'N';
/// Kind of a release request (client → server, payload: an encoded request).
pub const RELEASE_REQUEST: u8 = b'R';
/// Kind of a nonce (server → client, payload: the nonce).
pub const NONCE: u8 = b'n';
/// Kind of a released key (server → client, payload: the response).
pub const RELEASED: u8 = b'r';
/// Kind of a refusal (server → client, payload: code byte ‖ UTF-8 reason).
pub const REFUSED: u8 = b'x';
/// How long either side waits for the rest of a frame, or for its write to go through; the
/// client also waits this long for an answer.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The refusal code byte of `refusal` (the table in the module docs).
fn refusal_code(refusal: &Refusal) -> u8 {
    match refusal {
        Refusal::Malformed => 1,
        Refusal::StaleNonce => 2,
        Refusal::Token(_) => 3,
        Refusal::Verify(_) => 4,
        Refusal::Binding => 5,
        Refusal::RimNotAllowed => 6,
        Refusal::RpvNotAllowed => 7,
        Refusal::PolicyNotAllowed => 8,
        Refusal::Version(_) => 9,
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads the kind byte of the next frame; `None` at the end of the stream.
fn read_kind(r: &mut impl Read) -> io::Result<Option<u8>> {
    let mut kind = [0u8; 1];
    loop {
        return match r.read(&mut kind) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(kind[0])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
    }
}

/// Reads the length and payload of a frame whose kind was read, refusing lengths over
/// [`MAX_PAYLOAD`] before allocating.
fn read_payload(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len);
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_PAYLOAD)
        .ok_or_else(|| invalid(format!("frame of {len} bytes exceeds {MAX_PAYLOAD}")))?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(payload)
}

/// Reads a whole frame; `None` if the stream ends before it starts.
fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    match read_kind(r)? {
        Some(kind) => Ok(Some((kind, read_payload(r)?))),
        None => Ok(None),
    }
}

/// Writes a frame (in one write, so that it leaves in one segment).
fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|_| payload.len() <= MAX_PAYLOAD)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("payload of {} bytes exceeds {MAX_PAYLOAD}", payload.len()),
            )
        })?;
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)?;
    w.flush()
}

/// What the server did, for its log.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The broker released a key.
    Released {
        /// Who asked (the host relaying for the realm).
        peer: SocketAddr,
        /// The RIM of the realm the key went to.
        rim: &'a [u8],
    },
    /// The broker refused a release.
    Refused {
        /// Who asked.
        peer: SocketAddr,
        /// Why.
        refusal: &'a Refusal,
    },
    /// A connection was closed on a protocol or I/O error (not on a clean end of stream).
    Dropped {
        /// The other end.
        peer: SocketAddr,
        /// What went wrong.
        error: &'a io::Error,
    },
    /// Accepting a connection failed; the server waits a moment and goes on.
    AcceptFailed(&'a io::Error),
}

/// Serves `broker` on `listener` forever, one thread per connection, logging nothing
/// ([`serve_with`] to log).
///
/// # Errors
///
/// As [`serve_with`].
pub fn serve(listener: TcpListener, broker: Arc<Mutex<Broker>>) -> io::Result<()> {
    serve_with(listener, broker, |_| {})
}

/// Serves `broker` on `listener` forever, one thread per connection, telling `log` about
/// every release decision and every connection dropped on an error.
///
/// # Errors
///
/// Only if the listener cannot be used: it cannot be made blocking, or accepting fails with
/// [`io::ErrorKind::InvalidInput`] (it is not listening). Other accept errors (a client that
/// went away, no file descriptors left) are logged and retried after a short pause.
pub fn serve_with(
    listener: TcpListener,
    broker: Arc<Mutex<Broker>>,
    log: impl Fn(Event<'_>) + Send + Sync + 'static,
) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    let log: Arc<dyn Fn(Event<'_>) + Send + Sync> = Arc::new(log);
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(e),
            Err(e) => {
                log(Event::AcceptFailed(&e));
                // Not a busy loop when out of file descriptors.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let (broker, conn_log) = (broker.clone(), log.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("key-broker {peer}"))
            .spawn(move || {
                if let Err(error) = converse(&stream, peer, &broker, &*conn_log) {
                    conn_log(Event::Dropped {
                        peer,
                        error: &error,
                    });
                }
            });
        if let Err(error) = spawned {
            log(Event::Dropped {
                peer,
                error: &error,
            });
        }
    }
}

/// Answers the frames of one connection until the client closes it (`Ok`) or breaks the
/// protocol (`Err`).
fn converse(
    mut stream: &TcpStream,
    peer: SocketAddr,
    broker: &Mutex<Broker>,
    log: &(dyn Fn(Event<'_>) + Send + Sync),
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let lock = || {
        broker
            .lock()
            .map_err(|_| io::Error::other("the broker panicked in another connection"))
    };
    loop {
        // Idle between frames as long as the client likes; once a frame has started, the
        // rest of it must come within the timeout.
        stream.set_read_timeout(None)?;
        let Some(kind) = read_kind(&mut stream)? else {
            return Ok(());
        };
        if kind != NONCE_REQUEST && kind != RELEASE_REQUEST {
            return Err(invalid(format!("unknown frame kind {kind:#04x}")));
        }
        stream.set_read_timeout(Some(TIMEOUT))?;
        let payload = read_payload(&mut stream)?;
        if kind == NONCE_REQUEST {
            if !payload.is_empty() {
                return Err(invalid(format!(
                    "nonce request with a {}-byte payload",
                    payload.len()
                )));
            }
            let nonce = lock()?.nonce();
            write_frame(&mut stream, NONCE, &nonce)?;
            continue;
        }
        let decision = lock()?.grant(&payload);
        match decision {
            Ok(grant) => {
                log(Event::Released {
                    peer,
                    rim: &grant.rim,
                });
                write_frame(&mut stream, RELEASED, &grant.response)?;
            }
            Err(refusal) => {
                log(Event::Refused {
                    peer,
                    refusal: &refusal,
                });
                let text = refusal.to_string();
                let mut answer = Vec::with_capacity(1 + text.len());
                answer.push(refusal_code(&refusal));
                answer.extend_from_slice(text.as_bytes());
                write_frame(&mut stream, REFUSED, &answer)?;
            }
        }
    }
}

/// A connection to a key broker server.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
}

impl Client {
    /// Connects to the broker at `addr` (each address it resolves to in turn, each within
    /// [`TIMEOUT`]); reads and writes time out after [`TIMEOUT`] too.
    ///
    /// # Errors
    ///
    /// The error of the last address tried, or [`io::ErrorKind::InvalidInput`] if `addr`
    /// resolves to none.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, TIMEOUT) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(TIMEOUT))?;
                    stream.set_write_timeout(Some(TIMEOUT))?;
                    return Ok(Self { stream });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Sends a request frame and reads the answer frame.
    fn exchange(&mut self, kind: u8, payload: &[u8]) -> io::Result<(u8, Vec<u8>)> {
        write_frame(&mut self.stream, kind, payload)?;
        read_frame(&mut self.stream)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the key broker closed the connection",
            )
        })
    }

    /// A fresh single-use nonce from the broker.
    ///
    /// # Errors
    ///
    /// I/O errors, and [`io::ErrorKind::InvalidData`] for an answer that is not a nonce.
    pub fn nonce(&mut self) -> io::Result<[u8; NONCE_SIZE]> {
        match self.exchange(NONCE_REQUEST, &[])? {
            (NONCE, payload) => payload
                .try_into()
                .map_err(|p: Vec<u8>| invalid(format!("nonce of {} bytes", p.len()))),
            (kind, _) => Err(invalid(format!(
                "answer of kind {kind:#04x} to a nonce request"
            ))),
        }
    }

    /// Asks the broker to release the key for `request` (an encoded
    /// [`realm_sdk::broker::Request`]): `Ok(Ok(response))` with the wrapped key, or
    /// `Ok(Err(reason))` with the text of the broker's refusal.
    ///
    /// # Errors
    ///
    /// I/O errors, [`io::ErrorKind::InvalidInput`] for a request over [`MAX_PAYLOAD`]
    /// (nothing is sent), and [`io::ErrorKind::InvalidData`] for an answer that is neither
    /// a response nor a refusal.
    pub fn release(&mut self, request: &[u8]) -> io::Result<Result<[u8; RESPONSE_SIZE], String>> {
        match self.exchange(RELEASE_REQUEST, request)? {
            (RELEASED, payload) => payload
                .try_into()
                .map(Ok)
                .map_err(|p: Vec<u8>| invalid(format!("response of {} bytes", p.len()))),
            (REFUSED, payload) => {
                // The code byte is for machines; the caller gets the text.
                let text = payload.get(1..).unwrap_or_default();
                Ok(Err(String::from_utf8_lossy(text).into_owned()))
            }
            (kind, _) => Err(invalid(format!(
                "answer of kind {kind:#04x} to a release request"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame is kind, little-endian length, payload; several follow one another.
    #[test]
    fn frames_round_trip() {
        let mut wire = Vec::new();
        write_frame(&mut wire, NONCE_REQUEST, &[]).unwrap();
        write_frame(&mut wire, RELEASE_REQUEST, &[1, 2, 3]).unwrap();
        assert_eq!(wire, [b'N', 0, 0, 0, 0, b'R', 3, 0, 0, 0, 1, 2, 3]);
        let mut r = wire.as_slice();
        assert_eq!(read_frame(&mut r).unwrap(), Some((b'N', vec![])));
        assert_eq!(read_frame(&mut r).unwrap(), Some((b'R', vec![1, 2, 3])));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    /// 65536 bytes is the largest payload; one more is refused on both sides, and reading
    /// refuses it from the header alone.
    #[test]
    fn payload_bound() {
        let mut wire = Vec::new();
        write_frame(&mut wire, RELEASE_REQUEST, &vec![7; MAX_PAYLOAD]).unwrap();
        let (kind, payload) = read_frame(&mut wire.as_slice()).unwrap().unwrap();
        assert_eq!((kind, payload.len()), (RELEASE_REQUEST, MAX_PAYLOAD));

        let err = write_frame(&mut Vec::new(), RELEASE_REQUEST, &vec![7; MAX_PAYLOAD + 1]);
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        for len in [MAX_PAYLOAD as u32 + 1, u32::MAX] {
            let mut header = vec![RELEASE_REQUEST];
            header.extend_from_slice(&len.to_le_bytes());
            let err = read_frame(&mut header.as_slice()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        }
    }

    /// A frame cut anywhere after its kind byte is an error, not an end of stream.
    #[test]
    fn truncated_frames() {
        let mut wire = Vec::new();
        write_frame(&mut wire, RELEASE_REQUEST, &[9; 10]).unwrap();
        for cut in 1..wire.len() {
            let err = read_frame(&mut &wire[..cut]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    /// Every refusal has its own code, as the table in the module docs lists.
    #[test]
    fn refusal_codes() {
        let all = [
            Refusal::Malformed,
            Refusal::StaleNonce,
            Refusal::Token(cca_token::ParseError::CollectionKeys),
            Refusal::Verify(cca_token::VerifyError::NoTrustAnchor),
            Refusal::Binding,
            Refusal::RimNotAllowed,
            Refusal::RpvNotAllowed,
            Refusal::PolicyNotAllowed,
        ];
        let codes: Vec<u8> = all.iter().map(refusal_code).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
