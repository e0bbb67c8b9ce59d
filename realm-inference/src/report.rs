//! The lines the realm writes on its console, which the host side (`cargo xtask inference`)
//! parses into the evidence a verifier checks.
//!
//! Every line starts with [`PREFIX`]; byte strings are lower-case hex:
//!
//! | line | when |
//! |---|---|
//! | `inference: model <hash>` | after the model is decrypted and measured ([`crate::binding::model_hash`]) |
//! | `inference: event-log <log>` | right after, the realm's event log (`cca_abi::eventlog`) |
//! | `inference: batch <i> outputs <outputs>` | per batch, its output records |
//! | `inference: batch <i> hashes <SHA-512 inputs><SHA-512 outputs>` | per batch, the two hashes its challenge binds (128 bytes) |
//! | `inference: batch <i> token <token>` | per batch, the attestation token |
//! | `inference: done <batches> batches, <n> inferences in <ticks> ticks, <bytes> bytes read in <ticks> ticks at <hz> Hz` | at the end: classification time alone, then the disk reads (for the device's throughput) |
//!
//! The realm prints what it computed, but the host carries it, so nothing here is trusted:
//! the verifier checks the token's signatures and challenge against the inputs the verifier
//! itself put on the disk and the outputs it received ([`crate::verify`]). The hashes line
//! only lets a failing check say which part differs.

use core::fmt;

/// The start of every line.
pub const PREFIX: &str = "inference: ";

/// Bytes as lower-case hex, for `write!`.
#[derive(Clone, Copy, Debug)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// One parsed line, borrowing its hex text.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Line<'a> {
    /// The model's hash.
    Model(&'a str),
    /// The event log.
    EventLog(&'a str),
    /// A batch's outputs.
    Outputs(usize, &'a str),
    /// A batch's two hashes.
    Hashes(usize, &'a str),
    /// A batch's token.
    Token(usize, &'a str),
    /// The summary.
    Done {
        /// Batches classified.
        batches: usize,
        /// Inputs classified.
        inferences: usize,
        /// Counter ticks spent classifying.
        ticks: u64,
        /// Bytes read from the disk.
        read_bytes: u64,
        /// Counter ticks spent reading them.
        read_ticks: u64,
        /// The counter's frequency.
        hz: u64,
    },
}

/// Why a line of the realm's report could not be read.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum LineError {
    /// A line with the prefix but of no known form.
    Unknown,
    /// Text that should be hex and is not (or has an odd length).
    Hex,
    /// A number that does not parse.
    Number,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "a report line of no known form",
            Self::Hex => "a report line whose data is not hex",
            Self::Number => "a report line whose number does not parse",
        })
    }
}

impl core::error::Error for LineError {}

fn hex_text(s: &str) -> Result<&str, LineError> {
    if s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(LineError::Hex)
    }
}

fn number<T: core::str::FromStr>(s: &str) -> Result<T, LineError> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LineError::Number);
    }
    s.parse().map_err(|_| LineError::Number)
}

impl<'a> Line<'a> {
    /// Parses `line` (without its line end); `None` if it does not start with [`PREFIX`].
    #[must_use]
    pub fn parse(line: &'a str) -> Option<Result<Self, LineError>> {
        let rest = line.strip_prefix(PREFIX)?;
        Some(Self::parse_rest(rest))
    }

    fn parse_rest(rest: &'a str) -> Result<Self, LineError> {
        let words: [Option<&str>; 18] = {
            let mut w = rest.split(' ');
            core::array::from_fn(|_| w.next())
        };
        match words {
            [Some("model"), Some(h), None, ..] => Ok(Self::Model(hex_text(h)?)),
            [Some("event-log"), Some(h), None, ..] => Ok(Self::EventLog(hex_text(h)?)),
            [Some("batch"), Some(i), Some(kind), Some(h), None, ..] => {
                let i = number(i)?;
                let h = hex_text(h)?;
                match kind {
                    "outputs" => Ok(Self::Outputs(i, h)),
                    "hashes" if h.len() == 256 => Ok(Self::Hashes(i, h)),
                    "token" => Ok(Self::Token(i, h)),
                    _ => Err(LineError::Unknown),
                }
            }
            [
                Some("done"),
                Some(b),
                Some("batches,"),
                Some(n),
                Some("inferences"),
                Some("in"),
                Some(t),
                Some("ticks,"),
                Some(rb),
                Some("bytes"),
                Some("read"),
                Some("in"),
                Some(rt),
                Some("ticks"),
                Some("at"),
                Some(hz),
                Some("Hz"),
                None,
            ] => Ok(Self::Done {
                batches: number(b)?,
                inferences: number(n)?,
                ticks: number(t)?,
                read_bytes: number(rb)?,
                read_ticks: number(rt)?,
                hz: number(hz)?,
            }),
            _ => Err(LineError::Unknown),
        }
    }
}

/// Decodes hex text (as [`Line`] returns it) into `out`; returns the bytes written.
///
/// # Errors
///
/// [`LineError::Hex`] for text that is not hex or does not fit `out`.
pub fn decode_hex<'o>(text: &str, out: &'o mut [u8]) -> Result<&'o [u8], LineError> {
    let text = hex_text(text)?;
    let out = out.get_mut(..text.len() / 2).ok_or(LineError::Hex)?;
    for (o, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16).ok_or(LineError::Hex);
        #[allow(clippy::cast_possible_truncation, reason = "two hex digits")]
        {
            *o = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let h = "ab".repeat(128);
        let hashes = format!("inference: batch 3 hashes {h}");
        assert_eq!(Line::parse(&hashes), Some(Ok(Line::Hashes(3, &h))));
        assert_eq!(
            Line::parse("inference: batch 0 token d901"),
            Some(Ok(Line::Token(0, "d901")))
        );
        assert_eq!(
            Line::parse(
                "inference: done 9 batches, 450 inferences in 1234 ticks, 31744 bytes read in 99 ticks at 62500000 Hz"
            ),
            Some(Ok(Line::Done {
                batches: 9,
                inferences: 450,
                ticks: 1234,
                read_bytes: 31744,
                read_ticks: 99,
                hz: 62_500_000
            }))
        );
        assert_eq!(Line::parse("hello: inference"), None);
    }

    /// What the host could forge on the console is refused with a reason, never a panic.
    #[test]
    fn malformed_lines_are_refused() {
        for (line, e) in [
            ("inference: model xyz", LineError::Hex),
            ("inference: model abc", LineError::Hex),
            ("inference: batch -1 token 00", LineError::Number),
            ("inference: batch +1 token 00", LineError::Number),
            (
                "inference: batch 99999999999999999999999 token 00",
                LineError::Number,
            ),
            ("inference: batch 1 hashes 00", LineError::Unknown),
            ("inference: batch 1 weights 00", LineError::Unknown),
            ("inference: event-log 00 00", LineError::Unknown),
            ("inference: ", LineError::Unknown),
            (
                "inference: done 1 batches, 1 inferences in 1 ticks at 1 Hz",
                LineError::Unknown,
            ),
            (
                "inference: done 1 batches, 1 inferences in 1 ticks, 1 bytes read in 1 ticks at x Hz",
                LineError::Number,
            ),
            (
                "inference: done 1 batches, 1 inferences in 1 ticks, 1 bytes read in 1 ticks at 1 Hz extra",
                LineError::Unknown,
            ),
            (
                "inference: done 1 batches, 1 inferences in 1 ticks, 1 bytes read in 1 ticks at 1",
                LineError::Unknown,
            ),
        ] {
            assert_eq!(Line::parse(line), Some(Err(e)), "{line}");
        }
        let mut out = [0u8; 1];
        assert_eq!(decode_hex("0011", &mut out), Err(LineError::Hex));
        assert_eq!(decode_hex("ff", &mut out), Ok(&[0xff][..]));
    }
}
