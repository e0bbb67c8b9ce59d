//! This project's conventions for `RSI_HOST_CALL`.
//!
//! The specification leaves the meaning of a host call to the realm and its host: it only
//! carries an immediate and 31 registers (DEN0137 1.0-rel0 B5.3.3, `RsiHostCall`). The values
//! here are **not** part of the specification; they are what realm-sdk payloads and the hosts
//! in this workspace (the EL2 harness and the rmi-shim host) agree on.

/// Immediate of a console write: the realm hands the host bytes to print.
///
/// Registers: `gprs[0]` = number of bytes `n` (1 to [`CONSOLE_WRITE_MAX`]), `gprs[1..]` =
/// the bytes, packed eight per register, little-endian ([`crate::smccc::pack_bytes`]). The
/// host returns `gprs[0]` = number of bytes it accepted (it may be fewer; the realm retries
/// with the rest).
pub const CONSOLE_WRITE: u16 = 0x0C01;

/// Most bytes one console write carries: 30 registers of 8 bytes.
pub const CONSOLE_WRITE_MAX: usize = 30 * 8;

/// Entry convention of realm-sdk's runtime: bit 0 of the REC's `x0` at entry selects the
/// PL011 console at the unprotected alias of the board's UART instead of host calls.
pub const ENTRY_CONSOLE_PL011: u64 = 1 << 0;

/// Immediate of a service call: the realm asks its host to carry a message to a service
/// outside the machine (the key broker, a blob store) and to bring back the answer.
///
/// The message travels in a shared buffer: granules of realm memory whose RIPAS the realm
/// set to `EMPTY` and that it reaches at their unprotected alias, where the host maps its
/// own memory. Registers:
///
/// | register | realm → host | host → realm |
/// |---|---|---|
/// | `gprs[0]` | service ([`service`]) | status ([`status`]) |
/// | `gprs[1]` | unprotected IPA of the buffer | length of the answer, in the buffer |
/// | `gprs[2]` | length of the request, at the start of the buffer | |
/// | `gprs[3]` | size of the buffer | |
///
/// The realm must treat everything the host returns as hostile: it checks the length
/// against the buffer and copies the answer into private memory once, before parsing it.
pub const SERVICE: u16 = 0x0C02;

/// Immediate of the exit report: the realm says how it ended, just before PSCI
/// `SYSTEM_OFF` (which carries no status). `gprs[0]` = the status ([`exit`]); the host
/// answers nothing. A host that does not know this call ignores it.
pub const EXIT_STATUS: u16 = 0x0C03;

/// Statuses of an [`EXIT_STATUS`] call.
pub mod exit {
    /// The payload's `main` returned.
    pub const SUCCESS: u64 = 0;
    /// The payload panicked.
    pub const PANIC: u64 = 1;
    /// An exception the runtime does not handle.
    pub const EXCEPTION: u64 = 2;
    /// The runtime could not start (RSI initialisation failed).
    pub const INIT_FAILED: u64 = 3;

    /// What a status means, for a host's log.
    #[must_use]
    pub const fn describe(status: u64) -> &'static str {
        match status {
            SUCCESS => "main returned",
            PANIC => "panic",
            EXCEPTION => "unhandled exception",
            INIT_FAILED => "runtime initialisation failed",
            _ => "unknown status",
        }
    }
}

/// The services a [`SERVICE`] call names.
pub mod service {
    /// Key broker: a fresh single-use nonce (request empty; answer 32 bytes).
    pub const BROKER_NONCE: u64 = 1;
    /// Key broker: a release request (`realm_sdk::broker::Request`); the answer is the
    /// wrapped key, or, with [`super::status::REFUSED`], the broker's reason as UTF-8.
    pub const BROKER_RELEASE: u64 = 2;
    /// Blob store: keep the request's bytes for the next realm of the same name (answer
    /// empty).
    pub const BLOB_STORE: u64 = 3;
    /// Blob store: the bytes kept by [`BLOB_STORE`]; [`super::status::REFUSED`] if there
    /// are none.
    pub const BLOB_LOAD: u64 = 4;
}

/// Status of a [`SERVICE`] call.
pub mod status {
    /// The service answered.
    pub const OK: u64 = 0;
    /// The service refused; the answer is its reason, UTF-8.
    pub const REFUSED: u64 = 1;
    /// The host cannot reach the service.
    pub const UNAVAILABLE: u64 = 2;
    /// The buffer is not shared memory the host can reach, or the request does not fit it.
    pub const BAD_BUFFER: u64 = 3;
}

/// How a bare-metal host relays [`SERVICE`] calls over its console UART to a process that
/// reaches the services (`cargo xtask` does, for QEMU's serial port on its standard input
/// and output).
///
/// The host writes a request line, `<RS>@@service <service> <request as lowercase hex>\n`
/// (RS is the control byte 0x1e), then reads the answer line from the UART, `<status>
/// <answer as hex>\n` (status and service in decimal, at least one digit; one carriage
/// return may stand before the newline, nowhere else).
///
/// A host forwards a realm's console output through [`relay::sanitize`], which replaces
/// control bytes, so nothing a realm prints through the host can start a request line. (A
/// realm that drives the UART itself, at the unprotected alias, shares the line with the
/// relay; it can confuse only its own service calls.)
pub mod relay {
    /// The start of a request line.
    pub const REQUEST: &str = "\x1e@@service ";

    /// Makes realm output safe to put on the relay's line: every control byte but newline,
    /// carriage return and tab becomes `?`, so no line can start with [`REQUEST`].
    pub fn sanitize(bytes: &mut [u8]) {
        for b in bytes {
            if (b.is_ascii_control() && !matches!(*b, b'\n' | b'\r' | b'\t')) || *b == 0x7f {
                *b = b'?';
            }
        }
    }

    const HEX: &[u8; 16] = b"0123456789abcdef";

    /// Writes the request line for `service` and `request` to `out`, a few bytes at a time.
    pub fn write_request(service: u64, request: &[u8], out: &mut impl FnMut(&[u8])) {
        out(REQUEST.as_bytes());
        let mut digits = [0u8; 20];
        let mut n = digits.len();
        let mut v = service;
        loop {
            n -= 1;
            digits[n] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        out(&digits[n..]);
        out(b" ");
        for chunk in request.chunks(32) {
            let mut hex = [0u8; 64];
            for (pair, b) in hex.chunks_exact_mut(2).zip(chunk) {
                pair[0] = HEX[usize::from(b >> 4)];
                pair[1] = HEX[usize::from(b & 0xf)];
            }
            out(&hex[..2 * chunk.len()]);
        }
        out(b"\n");
    }

    /// Why an answer line could not be read.
    #[derive(Clone, Copy, Debug, Eq, PartialEq)]
    pub enum ReplyError {
        /// A byte that does not belong in an answer line.
        Malformed,
        /// The answer is longer than the buffer.
        TooLong,
    }

    /// Decodes an answer line byte by byte into a caller's buffer, without a line buffer.
    #[derive(Debug)]
    pub struct ReplyDecoder<'b> {
        out: &'b mut [u8],
        status: u64,
        digits: usize,
        len: usize,
        state: State,
        high: Option<u8>,
    }

    /// Where the decoder is in the line.
    #[derive(Clone, Copy, Debug, Eq, PartialEq)]
    enum State {
        Status,
        Answer,
        /// A carriage return was read: only the newline may follow.
        CarriageReturn,
        /// The line ended; nothing may follow.
        Done,
    }

    impl<'b> ReplyDecoder<'b> {
        /// A decoder writing the answer into `out`.
        pub fn new(out: &'b mut [u8]) -> Self {
            Self {
                out,
                status: 0,
                digits: 0,
                len: 0,
                state: State::Status,
                high: None,
            }
        }

        /// Takes the next byte; at the end of the line returns the status and the length of
        /// the answer.
        ///
        /// # Errors
        ///
        /// [`ReplyError`] for a malformed or overlong line, and for any byte pushed after
        /// the line ended.
        pub fn push(&mut self, byte: u8) -> Result<Option<(u64, usize)>, ReplyError> {
            let ended = self.high.is_none() && self.state != State::Status;
            match (byte, self.state) {
                (_, State::Done) => return Err(ReplyError::Malformed),
                (b'\r', State::Answer) if ended => self.state = State::CarriageReturn,
                (b'\n', State::Answer | State::CarriageReturn) if ended => {
                    self.state = State::Done;
                    return Ok(Some((self.status, self.len)));
                }
                (b'0'..=b'9', State::Status) => {
                    self.digits += 1;
                    self.status = self
                        .status
                        .checked_mul(10)
                        .and_then(|s| s.checked_add(u64::from(byte - b'0')))
                        .ok_or(ReplyError::Malformed)?;
                }
                (b' ', State::Status) if self.digits > 0 => self.state = State::Answer,
                (_, State::Answer) => {
                    let nibble = match byte {
                        b'0'..=b'9' => byte - b'0',
                        b'a'..=b'f' => byte - b'a' + 10,
                        b'A'..=b'F' => byte - b'A' + 10,
                        _ => return Err(ReplyError::Malformed),
                    };
                    match self.high.take() {
                        None => self.high = Some(nibble),
                        Some(high) => {
                            let slot = self.out.get_mut(self.len).ok_or(ReplyError::TooLong)?;
                            *slot = (high << 4) | nibble;
                            self.len += 1;
                        }
                    }
                }
                _ => return Err(ReplyError::Malformed),
            }
            Ok(None)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn request_line_is_service_and_hex() {
            let mut line = [0u8; 128];
            let mut n = 0;
            write_request(42, &[0x00, 0xab, 0x7f], &mut |b: &[u8]| {
                line[n..n + b.len()].copy_from_slice(b);
                n += b.len();
            });
            assert_eq!(&line[..n], b"\x1e@@service 42 00ab7f\n");
        }

        fn decode(line: &[u8], out: &mut [u8]) -> Result<Option<(u64, usize)>, ReplyError> {
            let mut d = ReplyDecoder::new(out);
            let mut last = None;
            for &b in line {
                last = d.push(b)?;
            }
            Ok(last)
        }

        #[test]
        fn reply_line_decodes_status_and_bytes() {
            let mut out = [0u8; 4];
            assert_eq!(decode(b"1 00FFa5\r\n", &mut out), Ok(Some((1, 3))));
            assert_eq!(out[..3], [0x00, 0xff, 0xa5]);
            assert_eq!(decode(b"0 \n", &mut out), Ok(Some((0, 0))));
        }

        #[test]
        fn bad_reply_lines_are_errors() {
            let mut out = [0u8; 2];
            assert_eq!(decode(b"0 abcdef\n", &mut out), Err(ReplyError::TooLong));
            assert_eq!(decode(b"0 abc\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"x 00\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0 0g\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(
                decode(b"99999999999999999999999 \n", &mut out),
                Err(ReplyError::Malformed)
            );
        }

        /// What a hostile relay might send: an empty status, a carriage return inside the
        /// hex or twice, bytes after the newline.
        #[test]
        fn strict_reply_lines() {
            let mut out = [0u8; 4];
            assert_eq!(decode(b" 00\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0 0\r0\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0 00\r\r\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0 00\rx", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0\r 00\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0 00\nx", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"0 00\n\n", &mut out), Err(ReplyError::Malformed));
            assert_eq!(decode(b"12 \r\n", &mut out), Ok(Some((12, 0))));
        }

        /// Realm output through [`sanitize`] can never hold a request line.
        #[test]
        fn sanitized_output_holds_no_request() {
            let mut line = *b"\x1e@@service 2 00\n\x1b[31m\x7f\tok\r\n";
            sanitize(&mut line);
            assert_eq!(&line, b"?@@service 2 00\n?[31m?\tok\r\n");
            assert!(!line.windows(REQUEST.len()).any(|w| w == REQUEST.as_bytes()));
        }
    }
}
