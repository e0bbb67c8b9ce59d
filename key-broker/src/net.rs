//! The broker on the network: a small framed protocol over TCP, the server ([`serve`],
//! [`serve_with`]: one event loop for all connections, token verification on a bounded
//! pool of threads) and a blocking [`Client`].
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
//! `N` is answered with `n`; `R` with `r` or `x`. A nonce is valid only on the connection
//! that asked for it, for [`ServerLimits::nonce_ttl`], and a connection holds at most
//! [`ServerLimits::nonces_per_connection`] (a new one drops its oldest): a client asks for
//! its nonce and sends its release request on one connection. A release request that does
//! not decode is refused (`x`, code 1) and the connection stays open: only the framing is a
//! protocol error. The refusal codes are:
//!
//! | code | [`Refusal`] |
//! |------|-------------|
//! | 1 | `Malformed` |
//! | 2 | `StaleNonce` (unknown, used, expired, or another connection's) |
//! | 3 | `Token` (does not parse) |
//! | 4 | `Verify` (does not verify) |
//! | 5 | `Binding` |
//! | 6 | `RimNotAllowed` |
//! | 7 | `RpvNotAllowed` |
//! | 8 | `PolicyNotAllowed` |
//! | 9 | `Version` (another protocol version) |
//! | 10 | `Appraisal` (the verified token fails the broker's appraisal policy) |
//!
//! # Limits
//!
//! The server closes a connection, without an answer, on a protocol error: a frame of
//! another kind, an `N` frame with a payload, a `len` over [`MAX_PAYLOAD`], or a frame cut
//! short by the end of the stream. It also closes it when a frame does not arrive whole
//! within [`ServerLimits::frame_timeout`] of its first byte, when nothing comes for
//! [`ServerLimits::idle_timeout`] after the last answer, and when an answer cannot be
//! written within the frame timeout. With [`ServerLimits::max_connections`] open, it closes
//! new connections as soon as it accepts them. The other connections are not affected.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use realm_sdk::broker::{NONCE_SIZE, RESPONSE_SIZE};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::{Broker, Refusal, ServerLimits, Session};

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
/// How long the [`Client`] waits to connect, for its writes to go through, and for an
/// answer. (The server's limits are the broker's [`ServerLimits`].)
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The refusal code byte of `refusal` (the table in the module docs).
///
/// To add a refusal: give its variant the next free code here (the match is exhaustive, so
/// a new variant does not compile without one), add its row to the module docs' table and
/// its case to the `refusal_codes` test. Codes are never reused.
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
        Refusal::Appraisal { .. } => 10,
    }
}

/// The payload of a refusal frame: the code byte, then the refusal's text.
fn refusal_payload(refusal: &Refusal) -> Vec<u8> {
    let text = refusal.to_string();
    let mut payload = Vec::with_capacity(1 + text.len());
    payload.push(refusal_code(refusal));
    payload.extend_from_slice(text.as_bytes());
    payload
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

/// The payload length in a frame header, refusing lengths over [`MAX_PAYLOAD`] (before
/// anything is allocated).
fn payload_len(header: [u8; 4]) -> io::Result<usize> {
    let len = u32::from_le_bytes(header);
    usize::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_PAYLOAD)
        .ok_or_else(|| invalid(format!("frame of {len} bytes exceeds {MAX_PAYLOAD}")))
}

/// Reads the length and payload of a frame whose kind was read.
fn read_payload(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let mut payload = vec![0u8; payload_len(len)?];
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

/// A frame as bytes (sent in one write, so that it leaves in one segment).
fn encode_frame(kind: u8, payload: &[u8]) -> io::Result<Vec<u8>> {
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
    Ok(frame)
}

/// Writes a frame.
fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode_frame(kind, payload)?)?;
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
    /// A connection was closed on a protocol or I/O error or a timeout (not on a clean end
    /// of stream).
    Dropped {
        /// The other end.
        peer: SocketAddr,
        /// What went wrong.
        error: &'a io::Error,
    },
    /// Accepting a connection failed; the server waits a moment and goes on.
    AcceptFailed(&'a io::Error),
    /// A connection was closed as soon as it was accepted:
    /// [`ServerLimits::max_connections`] were open.
    Rejected {
        /// The other end.
        peer: SocketAddr,
    },
}

/// Serves `broker` on `listener` forever, logging nothing ([`serve_with`] to log).
///
/// # Errors
///
/// As [`serve_with`].
pub fn serve(listener: TcpListener, broker: Arc<Broker>) -> io::Result<()> {
    serve_with(listener, broker, |_| {})
}

/// Serves `broker` on `listener` forever, telling `log` about every release decision and
/// every connection closed on an error or a timeout, within the broker's
/// [`ServerLimits`].
///
/// Blocks the calling thread, which runs an event loop (a current-thread tokio runtime)
/// for all the connections. Token verification, which takes milliseconds of CPU, runs on a
/// pool of at most as many threads as the machine has CPUs, so it does not hold up the
/// other connections. `log` is called on the event loop: it should be quick.
///
/// # Errors
///
/// Only if the runtime cannot be started or the listener cannot be used: it cannot be made
/// non-blocking, or accepting fails with [`io::ErrorKind::InvalidInput`] (it is not
/// listening). Other accept errors (a client that went away, no file descriptors left) are
/// logged and retried after a short pause.
pub fn serve_with(
    listener: TcpListener,
    broker: Arc<Broker>,
    log: impl Fn(Event<'_>) + Send + Sync + 'static,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(workers)
        .thread_name("key-broker verifier")
        .build()?;
    runtime.block_on(accept_loop(listener, broker, Arc::new(log)))
}

/// Accepts connections forever, one task each.
async fn accept_loop(
    listener: TcpListener,
    broker: Arc<Broker>,
    log: Arc<dyn Fn(Event<'_>) + Send + Sync>,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let limits = broker.limits();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(e),
            Err(e) => {
                log(Event::AcceptFailed(&e));
                // Not a busy loop when out of file descriptors.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(session) = broker.session() else {
            // Over the connection cap: closed at once, unanswered.
            drop(stream);
            log(Event::Rejected { peer });
            continue;
        };
        let log = Arc::clone(&log);
        tokio::spawn(async move {
            if let Err(error) = converse(stream, peer, session, limits, &*log).await {
                log(Event::Dropped {
                    peer,
                    error: &error,
                });
            }
        });
    }
}

fn timed_out(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

/// Reads the length and payload of a frame whose kind was read.
async fn read_payload_async(r: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let mut payload = vec![0u8; payload_len(len)?];
    r.read_exact(&mut payload).await?;
    Ok(payload)
}

/// Answers the frames of one connection until the client closes it (`Ok`), breaks the
/// protocol or runs out of time (`Err`). The session is closed when this returns, or when
/// the task is dropped.
async fn converse(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut session: Session,
    limits: ServerLimits,
    log: &(dyn Fn(Event<'_>) + Send + Sync),
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let mut kind = [0u8; 1];
        let read = tokio::time::timeout(limits.idle_timeout, stream.read(&mut kind)).await;
        match read {
            Err(_) => {
                return Err(timed_out(format!(
                    "idle for {} s",
                    limits.idle_timeout.as_secs_f32()
                )));
            }
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
        // The whole frame must arrive within the frame timeout of its first byte.
        let deadline = tokio::time::Instant::now() + limits.frame_timeout;
        let kind = kind[0];
        if kind != NONCE_REQUEST && kind != RELEASE_REQUEST {
            return Err(invalid(format!("unknown frame kind {kind:#04x}")));
        }
        let payload = tokio::time::timeout_at(deadline, read_payload_async(&mut stream))
            .await
            .map_err(|_| {
                timed_out(format!(
                    "frame not complete within {} s",
                    limits.frame_timeout.as_secs_f32()
                ))
            })??;
        let answer = if kind == NONCE_REQUEST {
            if !payload.is_empty() {
                return Err(invalid(format!(
                    "nonce request with a {}-byte payload",
                    payload.len()
                )));
            }
            encode_frame(NONCE, &session.nonce())?
        } else {
            // Verification is CPU work: off the event loop. The session goes to the worker
            // and comes back with the decision.
            let (back, decision) = tokio::task::spawn_blocking(move || {
                let decision = session.grant(&payload);
                (session, decision)
            })
            .await
            .map_err(|e| io::Error::other(format!("verification failed: {e}")))?;
            session = back;
            match decision {
                Ok(grant) => {
                    log(Event::Released {
                        peer,
                        rim: &grant.rim,
                    });
                    encode_frame(RELEASED, &grant.response)?
                }
                Err(refusal) => {
                    log(Event::Refused {
                        peer,
                        refusal: &refusal,
                    });
                    encode_frame(REFUSED, &refusal_payload(&refusal))?
                }
            }
        };
        tokio::time::timeout(limits.frame_timeout, stream.write_all(&answer))
            .await
            .map_err(|_| {
                timed_out(format!(
                    "answer not taken within {} s",
                    limits.frame_timeout.as_secs_f32()
                ))
            })??;
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
            Refusal::Version(1),
            Refusal::Appraisal {
                claim: 2395,
                reason: String::new(),
            },
        ];
        let codes: Vec<u8> = all.iter().map(refusal_code).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
}
