//! The measured-boot event log: what a realm extended into its REMs, and its offline replay.
//!
//! A realm records every `RSI_MEASUREMENT_EXTEND` it makes as an event (REM index, hash
//! algorithm, the value measured, a short description); a verifier replays the log and
//! compares the result with the REMs in the realm's attestation token.
//!
//! # The extension convention
//!
//! The RMM extends `REM = H(REM ‖ value)` with a value of at most 64 bytes (DEN0137
//! B5.3.5). realm-sdk measures data of up to 64 bytes as it is; longer data is first hashed
//! with the realm's algorithm and the digest is measured ([`extend_value`]). The log records
//! that measured value, so replay needs no data.
//!
//! The description is bound to the REM, so that whoever carries the log (the host) cannot
//! relabel an event: an event **with** a description extends the REM with
//! `H("realm-sdk/event/v2" ‖ 0 ‖ d ‖ description ‖ value)` (`d` its length as one byte, `H`
//! the realm's algorithm: [`Event::extension`]); an event **without** one extends its value
//! as it is (an extension made outside `Realm::measure`, say by earlier boot software,
//! which has no description to bind).
//!
//! # Encoding
//!
//! All integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `"REL2"` |
//! | then per event: 1 | measurement index (1 to 4: REM\[0\] to REM\[3\]) |
//! | 1 | hash algorithm of the realm (0 = SHA-256, 1 = SHA-512) |
//! | 1 | value length `n` (0 to 64) |
//! | 1 | description length `d` (0 to 255, UTF-8) |
//! | `n` | the value measured |
//! | `d` | the description |
//!
//! Version 1 (`"REL1"`) extended every value as it was and left descriptions unbound; such
//! logs are refused ([`LogError::Magic`]).

use core::fmt;

use crate::measurement::{HashAlgorithm, MAX_MEASUREMENT_SIZE, Measurement, REM_COUNT};

/// The log's magic.
pub const MAGIC: [u8; 4] = *b"REL2";

/// Domain tag of the extension of an event with a description.
pub const EVENT_DOMAIN: &[u8] = b"realm-sdk/event/v2";

/// Bytes an event takes before its value and description.
pub const EVENT_HEADER: usize = 4;

/// One logged extension.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Event<'a> {
    /// Measurement index, 1 to 4.
    pub index: u8,
    /// The realm's hash algorithm.
    pub algorithm: HashAlgorithm,
    /// The value extended (at most 64 bytes).
    pub value: &'a [u8],
    /// What was measured; empty for a raw extension. At most 255 bytes are kept.
    pub description: &'a str,
}

impl Event<'_> {
    /// The description as the log keeps it: cut to 255 bytes at a character boundary.
    #[must_use]
    pub fn logged_description(&self) -> &str {
        let mut d = self.description.len().min(255);
        while !self.description.is_char_boundary(d) {
            d -= 1;
        }
        &self.description[..d]
    }

    /// The bytes the REM is extended with for this event (see the module documentation),
    /// in a 64-byte slot, and their length.
    #[must_use]
    pub fn extension(&self) -> ([u8; MAX_MEASUREMENT_SIZE], usize) {
        let mut slot = [0; MAX_MEASUREMENT_SIZE];
        let description = self.logged_description();
        if description.is_empty() {
            let n = self.value.len().min(MAX_MEASUREMENT_SIZE);
            slot[..n].copy_from_slice(&self.value[..n]);
            return (slot, n);
        }
        #[allow(clippy::cast_possible_truncation, reason = "at most 255 bytes")]
        let d = [description.len() as u8];
        let digest =
            self.algorithm
                .hash(&[EVENT_DOMAIN, &[0], &d, description.as_bytes(), self.value]);
        let n = self.algorithm.digest_len();
        slot[..n].copy_from_slice(digest.as_bytes());
        (slot, n)
    }
}

/// Why a log could not be read or replayed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum LogError {
    /// The log does not start with [`MAGIC`].
    Magic,
    /// The log ends inside the event at this offset.
    Truncated {
        /// Offset of the event.
        at: usize,
    },
    /// A measurement index other than 1 to 4.
    Index {
        /// Offset of the event.
        at: usize,
        /// The index.
        index: u8,
    },
    /// An undefined hash algorithm.
    Algorithm {
        /// Offset of the event.
        at: usize,
    },
    /// A value longer than 64 bytes.
    ValueTooLong {
        /// Offset of the event.
        at: usize,
    },
    /// A description that is not UTF-8.
    Description {
        /// Offset of the event.
        at: usize,
    },
    /// An event whose algorithm differs from the one the replay was asked for.
    AlgorithmMismatch {
        /// Offset of the event.
        at: usize,
    },
    /// The buffer a log is written into is full.
    Full,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Magic => f.write_str("not an event log (bad magic)"),
            Self::Truncated { at } => write!(f, "event log truncated in the event at {at}"),
            Self::Index { at, index } => {
                write!(f, "event at {at}: measurement index {index} is not a REM")
            }
            Self::Algorithm { at } => write!(f, "event at {at}: undefined hash algorithm"),
            Self::ValueTooLong { at } => write!(f, "event at {at}: value longer than 64 bytes"),
            Self::Description { at } => write!(f, "event at {at}: description is not UTF-8"),
            Self::AlgorithmMismatch { at } => {
                write!(f, "event at {at}: not the realm's hash algorithm")
            }
            Self::Full => f.write_str("event log buffer full"),
        }
    }
}

impl core::error::Error for LogError {}

/// Appends events to a caller buffer, without a heap.
#[derive(Debug)]
pub struct LogWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> LogWriter<'b> {
    /// Starts a log in `buf`.
    ///
    /// # Errors
    ///
    /// [`LogError::Full`] if `buf` cannot hold the magic.
    pub fn new(buf: &'b mut [u8]) -> Result<Self, LogError> {
        buf.get_mut(..MAGIC.len())
            .ok_or(LogError::Full)?
            .copy_from_slice(&MAGIC);
        Ok(Self {
            buf,
            len: MAGIC.len(),
        })
    }

    /// Appends `event`; the description is cut to 255 bytes at a character boundary.
    ///
    /// # Errors
    ///
    /// [`LogError::Full`] if it does not fit (the log is unchanged); [`LogError::Index`] or
    /// [`LogError::ValueTooLong`] for an event the RMM would refuse.
    pub fn push(&mut self, event: &Event<'_>) -> Result<(), LogError> {
        if !(1..=REM_COUNT as u8).contains(&event.index) {
            return Err(LogError::Index {
                at: self.len,
                index: event.index,
            });
        }
        if event.value.len() > MAX_MEASUREMENT_SIZE {
            return Err(LogError::ValueTooLong { at: self.len });
        }
        let d = event.logged_description().len();
        let n = event.value.len();
        let end = self.len + EVENT_HEADER + n + d;
        let out = self.buf.get_mut(self.len..end).ok_or(LogError::Full)?;
        #[allow(clippy::cast_possible_truncation, reason = "n <= 64 and d <= 255")]
        out[..EVENT_HEADER].copy_from_slice(&[
            event.index,
            event.algorithm.encoding(),
            n as u8,
            d as u8,
        ]);
        out[EVENT_HEADER..EVENT_HEADER + n].copy_from_slice(event.value);
        out[EVENT_HEADER + n..].copy_from_slice(&event.description.as_bytes()[..d]);
        self.len = end;
        Ok(())
    }

    /// The log so far.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Length of the log in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the log has no event.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == MAGIC.len()
    }

    /// Drops the events after the first `len` bytes (a length [`Self::len`] returned), to
    /// undo an event whose extension failed.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len).max(MAGIC.len());
    }
}

/// The events of an encoded log, in order.
#[derive(Clone, Debug)]
pub struct Events<'a> {
    log: &'a [u8],
    at: usize,
}

/// Reads an encoded log.
///
/// # Errors
///
/// [`LogError::Magic`] if it is not one; each event is checked as it is read.
pub fn events(log: &[u8]) -> Result<Events<'_>, LogError> {
    if log.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(LogError::Magic);
    }
    Ok(Events {
        log,
        at: MAGIC.len(),
    })
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<Event<'a>, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.log.len() {
            return None;
        }
        let at = self.at;
        let result = (|| {
            let h = self
                .log
                .get(at..at + EVENT_HEADER)
                .ok_or(LogError::Truncated { at })?;
            let (index, alg, n, d) = (h[0], h[1], usize::from(h[2]), usize::from(h[3]));
            if !(1..=REM_COUNT as u8).contains(&index) {
                return Err(LogError::Index { at, index });
            }
            let algorithm =
                HashAlgorithm::from_encoding(alg.into()).ok_or(LogError::Algorithm { at })?;
            if n > MAX_MEASUREMENT_SIZE {
                return Err(LogError::ValueTooLong { at });
            }
            let body = at + EVENT_HEADER;
            let value = self
                .log
                .get(body..body + n)
                .ok_or(LogError::Truncated { at })?;
            let text = self
                .log
                .get(body + n..body + n + d)
                .ok_or(LogError::Truncated { at })?;
            let description =
                core::str::from_utf8(text).map_err(|_| LogError::Description { at })?;
            self.at = body + n + d;
            Ok(Event {
                index,
                algorithm,
                value,
                description,
            })
        })();
        if result.is_err() {
            // Stop after the first bad event.
            self.at = self.log.len();
        }
        Some(result)
    }
}

/// Replays a log: the REMs a realm with hash `algorithm` has after extending what it lists,
/// starting from zero, exactly as the RMM extends them.
///
/// # Errors
///
/// Any [`LogError`] of the log, or [`LogError::AlgorithmMismatch`] for an event of another
/// algorithm.
pub fn replay(log: &[u8], algorithm: HashAlgorithm) -> Result<[Measurement; REM_COUNT], LogError> {
    let mut rems = [Measurement::zero(algorithm); REM_COUNT];
    let mut at = MAGIC.len();
    for event in events(log)? {
        let event = event?;
        if event.algorithm != algorithm {
            return Err(LogError::AlgorithmMismatch { at });
        }
        let (value, n) = event.extension();
        rems[usize::from(event.index) - 1].extend(&value[..n]);
        at += EVENT_HEADER + event.value.len() + event.description.len();
    }
    Ok(rems)
}

/// Why a log does not account for the REMs a verifier got (in an attestation token).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CheckError {
    /// The log itself is malformed.
    Log(LogError),
    /// REM `index` (1 to 4) after replaying the log differs from the one given.
    RemMismatch {
        /// The REM's measurement index.
        index: u8,
    },
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Log(e) => write!(f, "event log: {e}"),
            Self::RemMismatch { index } => {
                write!(
                    f,
                    "REM{}: the event log replays to another value",
                    index - 1
                )
            }
        }
    }
}

impl core::error::Error for CheckError {}

/// The verifier's check: replays `log` with `algorithm` and compares the result with `rems`
/// (REM0 to REM3 as a token carries them, e.g. `cca_token::RealmClaims::rems`). A realm
/// whose REMs a log accounts for extended exactly the events it lists, in that order.
///
/// # Errors
///
/// [`CheckError::Log`] for a malformed log, [`CheckError::RemMismatch`] for the first REM
/// that differs.
pub fn check(
    log: &[u8],
    algorithm: HashAlgorithm,
    rems: [&[u8]; REM_COUNT],
) -> Result<(), CheckError> {
    let replayed = replay(log, algorithm).map_err(CheckError::Log)?;
    for (i, (replayed, given)) in replayed.iter().zip(rems).enumerate() {
        if replayed.as_bytes() != given {
            #[allow(clippy::cast_possible_truncation, reason = "0 to 3")]
            return Err(CheckError::RemMismatch { index: i as u8 + 1 });
        }
    }
    Ok(())
}

/// The value realm-sdk measures for `data`: the data itself up to 64 bytes, else its digest
/// with `algorithm` (see the module documentation). Returns the bytes in a 64-byte slot and
/// their length.
#[must_use]
pub fn extend_value(algorithm: HashAlgorithm, data: &[u8]) -> ([u8; MAX_MEASUREMENT_SIZE], usize) {
    let mut slot = [0; MAX_MEASUREMENT_SIZE];
    if data.len() <= MAX_MEASUREMENT_SIZE {
        slot[..data.len()].copy_from_slice(data);
        (slot, data.len())
    } else {
        let digest = algorithm.hash(&[data]);
        let n = algorithm.digest_len();
        slot[..n].copy_from_slice(digest.as_bytes());
        (slot, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(buf: &mut [u8]) -> usize {
        let mut w = LogWriter::new(buf).unwrap();
        let v: [u8; 32] = core::array::from_fn(|i| i as u8 + 1);
        w.push(&Event {
            index: 1,
            algorithm: HashAlgorithm::Sha256,
            value: &v,
            description: "stage 1",
        })
        .unwrap();
        w.push(&Event {
            index: 3,
            algorithm: HashAlgorithm::Sha256,
            value: &[0xa5; 16],
            description: "",
        })
        .unwrap();
        w.as_bytes().len()
    }

    /// Replay applies the RMM's rule (cca-abi.md §6.5) per REM, in order.
    #[test]
    fn check_compares_every_rem() {
        let mut buf = [0u8; 256];
        let mut log = LogWriter::new(&mut buf).unwrap();
        let event = Event {
            index: 2,
            algorithm: HashAlgorithm::Sha256,
            value: b"kernel",
            description: "k",
        };
        log.push(&event).unwrap();
        let len = log.len();
        let rems = replay(&buf[..len], HashAlgorithm::Sha256).unwrap();
        fn as_slices(r: &[Measurement; REM_COUNT]) -> [&[u8]; REM_COUNT] {
            [
                r[0].as_bytes(),
                r[1].as_bytes(),
                r[2].as_bytes(),
                r[3].as_bytes(),
            ]
        }
        assert_eq!(
            check(&buf[..len], HashAlgorithm::Sha256, as_slices(&rems)),
            Ok(())
        );
        let mut other = rems;
        other[1].extend(b"more");
        assert_eq!(
            check(&buf[..len], HashAlgorithm::Sha256, as_slices(&other)),
            Err(CheckError::RemMismatch { index: 2 })
        );
        assert_eq!(
            check(&buf[..3], HashAlgorithm::Sha256, as_slices(&rems)),
            Err(CheckError::Log(LogError::Magic))
        );
    }

    #[test]
    fn replay_extends_in_order() {
        let mut buf = [0u8; 256];
        let len = sample(&mut buf);
        let rems = replay(&buf[..len], HashAlgorithm::Sha256).unwrap();
        // The first event has a description, bound into what is extended.
        let mut r0 = Measurement::zero(HashAlgorithm::Sha256);
        let v: [u8; 32] = core::array::from_fn(|i| i as u8 + 1);
        r0.extend(
            HashAlgorithm::Sha256
                .hash(&[b"realm-sdk/event/v2", &[0, 7], b"stage 1", &v])
                .as_bytes(),
        );
        // The second has none: a raw extension.
        let mut r2 = Measurement::zero(HashAlgorithm::Sha256);
        r2.extend(&[0xa5; 16]);
        assert_eq!(
            rems,
            [
                r0,
                Measurement::zero(HashAlgorithm::Sha256),
                r2,
                Measurement::zero(HashAlgorithm::Sha256)
            ]
        );
        let listed: [&str; 2] = [
            events(&buf[..len])
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .description,
            events(&buf[..len])
                .unwrap()
                .nth(1)
                .unwrap()
                .unwrap()
                .description,
        ];
        assert_eq!(listed, ["stage 1", ""]);
    }

    /// Every truncation and every byte flip gives a typed error or a different, valid log;
    /// never a panic.
    #[test]
    fn malformed_logs_are_errors() {
        let mut buf = [0u8; 256];
        let len = sample(&mut buf);
        for cut in 0..len {
            let r = replay(&buf[..cut], HashAlgorithm::Sha256);
            assert!(
                cut == 4 || cut == 4 + 4 + 32 + 7 || r.is_err(),
                "cut {cut}: {r:?}"
            );
        }
        for i in 0..len {
            for bit in 0..8 {
                let mut b = buf;
                b[i] ^= 1 << bit;
                let _ = replay(&b[..len], HashAlgorithm::Sha256);
            }
        }
        assert_eq!(replay(b"RELX", HashAlgorithm::Sha256), Err(LogError::Magic));
        assert_eq!(
            replay(&buf[..len], HashAlgorithm::Sha512),
            Err(LogError::AlgorithmMismatch { at: 4 })
        );
    }

    /// The writer refuses what the RMM would refuse and what does not fit.
    #[test]
    fn writer_limits() {
        let mut small = [0u8; 10];
        let mut w = LogWriter::new(&mut small).unwrap();
        let e = Event {
            index: 1,
            algorithm: HashAlgorithm::Sha256,
            value: &[1; 8],
            description: "x",
        };
        assert_eq!(w.push(&e), Err(LogError::Full));
        assert_eq!(w.as_bytes(), b"REL2");
        let mut buf = [0u8; 256];
        let mut w = LogWriter::new(&mut buf).unwrap();
        assert!(matches!(
            w.push(&Event { index: 0, ..e }),
            Err(LogError::Index { .. })
        ));
        assert!(matches!(
            w.push(&Event { index: 5, ..e }),
            Err(LogError::Index { .. })
        ));
        assert!(matches!(
            w.push(&Event {
                value: &[0; 65],
                ..e
            }),
            Err(LogError::ValueTooLong { .. })
        ));
    }

    /// Whoever carries the log cannot relabel an event, strip its description, or give a
    /// raw extension one: each replays to other REMs. Nor is a version 1 log read.
    #[test]
    fn descriptions_are_bound() {
        let mut buf = [0u8; 256];
        let mut log = LogWriter::new(&mut buf).unwrap();
        log.push(&Event {
            index: 1,
            algorithm: HashAlgorithm::Sha256,
            value: &[0x11; 32],
            description: "kernel",
        })
        .unwrap();
        let len = log.len();
        let rems = replay(&buf[..len], HashAlgorithm::Sha256).unwrap();
        let relabelled = {
            let mut b = buf;
            b[len - 6..len].copy_from_slice(b"initrd");
            replay(&b[..len], HashAlgorithm::Sha256).unwrap()
        };
        assert_eq!(
            events(&buf[..len])
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .description,
            "kernel"
        );
        assert_ne!(relabelled[0], rems[0]);
        let stripped = {
            let mut b = buf;
            b[7] = 0;
            replay(&b[..len - 6], HashAlgorithm::Sha256).unwrap()
        };
        assert_ne!(stripped[0], rems[0]);
        let mut v1 = buf;
        v1[..4].copy_from_slice(b"REL1");
        assert_eq!(
            replay(&v1[..len], HashAlgorithm::Sha256),
            Err(LogError::Magic)
        );
    }

    /// The convention: up to 64 bytes as they are, longer data as its digest.
    #[test]
    fn extend_value_convention() {
        let (v, n) = extend_value(HashAlgorithm::Sha512, &[7; 64]);
        assert_eq!(&v[..n], &[7; 64]);
        let (v, n) = extend_value(HashAlgorithm::Sha256, &[7; 65]);
        assert_eq!(&v[..n], HashAlgorithm::Sha256.hash(&[&[7; 65]]).as_bytes());
    }
}
