//! A strict reader and writer for the subset of CBOR (RFC 8949) that attestation tokens use:
//! definite lengths only, shortest-form heads, integers, byte and text strings, arrays, maps
//! and tags. The reader never panics and bounds nesting.

use core::fmt;

/// Major types.
pub(crate) const UINT: u8 = 0;
pub(crate) const NINT: u8 = 1;
pub(crate) const BSTR: u8 = 2;
pub(crate) const TSTR: u8 = 3;
pub(crate) const ARRAY: u8 = 4;
pub(crate) const MAP: u8 = 5;
pub(crate) const TAG: u8 = 6;
pub(crate) const SIMPLE: u8 = 7;

/// Deepest nesting the reader follows when skipping an item.
const MAX_DEPTH: u32 = 16;

/// A CBOR encoding error.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CborError {
    /// The input ends inside an item.
    Truncated,
    /// An indefinite-length item (tokens use definite lengths only).
    Indefinite,
    /// A reserved additional-information value (28 to 30).
    Reserved,
    /// A head that is not in its shortest form.
    NonMinimal,
    /// An item of another type than the one expected.
    UnexpectedType,
    /// A negative integer or a value that does not fit an `i64`.
    IntegerRange,
    /// A text string that is not UTF-8.
    Utf8,
    /// Items nested deeper than the reader follows.
    TooDeep,
    /// Bytes after the item that should end the input.
    Trailing,
}

impl core::error::Error for CborError {}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated CBOR",
            Self::Indefinite => "indefinite-length CBOR item",
            Self::Reserved => "reserved CBOR additional information",
            Self::NonMinimal => "CBOR head not in shortest form",
            Self::UnexpectedType => "unexpected CBOR type",
            Self::IntegerRange => "CBOR integer out of range",
            Self::Utf8 => "CBOR text is not UTF-8",
            Self::TooDeep => "CBOR nested too deeply",
            Self::Trailing => "bytes after the CBOR item",
        })
    }
}

/// Reads CBOR items from a byte slice, borrowing strings from it.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    #[must_use]
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Returns whether every byte was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails with [`CborError::Trailing`] unless every byte was read.
    pub fn finish(&self) -> Result<(), CborError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CborError::Trailing)
        }
    }

    /// The major type of the next item, if any.
    #[must_use]
    pub fn peek_major(&self) -> Option<u8> {
        self.buf.get(self.pos).map(|b| b >> 5)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// Reads a head: (major type, argument).
    fn head(&mut self) -> Result<(u8, u64), CborError> {
        let ib = *self.take(1)?.first().ok_or(CborError::Truncated)?;
        let (major, ai) = (ib >> 5, ib & 0x1f);
        let arg = match ai {
            0..=23 => return Ok((major, u64::from(ai))),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes(
                self.take(2)?.try_into().map_err(|_| CborError::Truncated)?,
            )),
            26 => u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().map_err(|_| CborError::Truncated)?,
            )),
            27 => u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| CborError::Truncated)?),
            28..=30 => return Err(CborError::Reserved),
            _ => return Err(CborError::Indefinite),
        };
        // Simple values and floats (major 7) have their own rules; the others must be shortest.
        let min = match ai {
            24 => 24,
            25 => 0x100,
            26 => 0x1_0000,
            _ => 0x1_0000_0000,
        };
        if major != SIMPLE && arg < min {
            return Err(CborError::NonMinimal);
        }
        // RFC 8949 §3.3: a two-byte simple value below 32 is not well-formed.
        if major == SIMPLE && ai == 24 && arg < 32 {
            return Err(CborError::NonMinimal);
        }
        Ok((major, arg))
    }

    fn expect(&mut self, major: u8) -> Result<u64, CborError> {
        let start = self.pos;
        let (m, arg) = self.head()?;
        if m != major {
            self.pos = start;
            return Err(CborError::UnexpectedType);
        }
        Ok(arg)
    }

    /// An unsigned integer.
    pub fn uint(&mut self) -> Result<u64, CborError> {
        self.expect(UINT)
    }

    /// A signed integer that fits an `i64`.
    pub fn int(&mut self) -> Result<i64, CborError> {
        let start = self.pos;
        let (m, arg) = self.head()?;
        let v = i64::try_from(arg).map_err(|_| CborError::IntegerRange)?;
        match m {
            UINT => Ok(v),
            NINT => Ok(-1 - v),
            _ => {
                self.pos = start;
                Err(CborError::UnexpectedType)
            }
        }
    }

    fn len(&mut self, major: u8) -> Result<usize, CborError> {
        let n = self.expect(major)?;
        usize::try_from(n).map_err(|_| CborError::Truncated)
    }

    /// A byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        let n = self.len(BSTR)?;
        self.take(n)
    }

    /// A text string.
    pub fn text(&mut self) -> Result<&'a str, CborError> {
        let n = self.len(TSTR)?;
        core::str::from_utf8(self.take(n)?).map_err(|_| CborError::Utf8)
    }

    /// The head of an array: its number of items (at most the bytes left).
    pub fn array(&mut self) -> Result<usize, CborError> {
        let n = self.len(ARRAY)?;
        if n > self.buf.len() - self.pos {
            return Err(CborError::Truncated);
        }
        Ok(n)
    }

    /// The head of a map: its number of pairs (at most half the bytes left).
    pub fn map(&mut self) -> Result<usize, CborError> {
        let n = self.len(MAP)?;
        if n > (self.buf.len() - self.pos) / 2 {
            return Err(CborError::Truncated);
        }
        Ok(n)
    }

    /// A tag number.
    pub fn tag(&mut self) -> Result<u64, CborError> {
        self.expect(TAG)
    }

    /// Skips one item of any type and returns its encoding.
    pub fn item(&mut self) -> Result<&'a [u8], CborError> {
        let start = self.pos;
        self.skip(0)?;
        Ok(&self.buf[start..self.pos])
    }

    fn skip(&mut self, depth: u32) -> Result<(), CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let (m, arg) = self.head()?;
        let n = usize::try_from(arg).map_err(|_| CborError::Truncated)?;
        match m {
            UINT | NINT | SIMPLE => {
                // Floats carry their bytes in the argument already read.
                Ok(())
            }
            BSTR => self.take(n).map(drop),
            TSTR => core::str::from_utf8(self.take(n)?)
                .map(drop)
                .map_err(|_| CborError::Utf8),
            ARRAY | MAP => {
                let items = if m == MAP {
                    n.checked_mul(2).ok_or(CborError::Truncated)?
                } else {
                    n
                };
                if items > self.buf.len() - self.pos {
                    return Err(CborError::Truncated);
                }
                (0..items).try_for_each(|_| self.skip(depth + 1))
            }
            _ => self.skip(depth + 1),
        }
    }
}

/// Writes CBOR into a caller buffer.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

/// The output buffer is too small.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct BufferFull;

impl fmt::Display for BufferFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CBOR output buffer full")
    }
}

impl core::error::Error for BufferFull {}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written.
    #[must_use]
    pub fn into_written(self) -> &'b [u8] {
        &self.buf[..self.len]
    }

    /// The bytes written so far.
    #[must_use]
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends raw bytes (an already encoded item).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), BufferFull> {
        let end = self.len.checked_add(bytes.len()).ok_or(BufferFull)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(BufferFull)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Appends a head in shortest form.
    pub fn head(&mut self, major: u8, arg: u64) -> Result<(), BufferFull> {
        let mut h = [0u8; 9];
        let n = encode_head(major, arg, &mut h);
        self.raw(&h[..n])
    }

    /// Appends an integer.
    pub fn int(&mut self, v: i64) -> Result<(), BufferFull> {
        if v >= 0 {
            self.head(UINT, v.unsigned_abs())
        } else {
            self.head(NINT, (-1 - v).unsigned_abs())
        }
    }

    /// Appends a byte string.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), BufferFull> {
        self.head(BSTR, b.len() as u64)?;
        self.raw(b)
    }

    /// Appends a text string.
    pub fn text(&mut self, s: &str) -> Result<(), BufferFull> {
        self.head(TSTR, s.len() as u64)?;
        self.raw(s.as_bytes())
    }
}

/// Encodes a head in shortest form into `out`; returns its length.
pub(crate) fn encode_head(major: u8, arg: u64, out: &mut [u8; 9]) -> usize {
    let m = major << 5;
    #[allow(clippy::cast_possible_truncation, reason = "each arm checks the range")]
    match arg {
        0..=23 => {
            out[0] = m | arg as u8;
            1
        }
        24..=0xff => {
            out[..2].copy_from_slice(&[m | 24, arg as u8]);
            2
        }
        0x100..=0xffff => {
            out[0] = m | 25;
            out[1..3].copy_from_slice(&(arg as u16).to_be_bytes());
            3
        }
        0x1_0000..=0xffff_ffff => {
            out[0] = m | 26;
            out[1..5].copy_from_slice(&(arg as u32).to_be_bytes());
            5
        }
        _ => {
            out[0] = m | 27;
            out[1..9].copy_from_slice(&arg.to_be_bytes());
            9
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8949 Appendix A examples for the types tokens use.
    #[test]
    fn rfc8949_examples() {
        assert_eq!(Reader::new(&[0x17]).uint(), Ok(23));
        assert_eq!(Reader::new(&[0x18, 0x18]).uint(), Ok(24));
        assert_eq!(Reader::new(&[0x19, 0x03, 0xe8]).uint(), Ok(1000));
        assert_eq!(Reader::new(&[0x38, 0x63]).int(), Ok(-100));
        assert_eq!(
            Reader::new(&[0x44, 1, 2, 3, 4]).bytes(),
            Ok(&[1u8, 2, 3, 4][..])
        );
        assert_eq!(Reader::new(&[0x62, 0x22, 0x5c]).text(), Ok("\"\\"));
        assert_eq!(Reader::new(&[0xd2]).tag(), Ok(18));
        assert_eq!(Reader::new(&[0xd8, 0x12]).tag(), Err(CborError::NonMinimal));
    }

    /// Strictness: indefinite lengths, reserved values, non-shortest heads, huge lengths.
    #[test]
    fn strictness() {
        assert_eq!(Reader::new(&[0x5f]).bytes(), Err(CborError::Indefinite));
        assert_eq!(Reader::new(&[0x1c]).uint(), Err(CborError::Reserved));
        assert_eq!(
            Reader::new(&[0x18, 0x01]).uint(),
            Err(CborError::NonMinimal)
        );
        assert_eq!(
            Reader::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).bytes(),
            Err(CborError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0x9b, 0, 0, 0, 1, 0, 0, 0, 0]).array(),
            Err(CborError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0]).int(),
            Err(CborError::IntegerRange)
        );
        assert_eq!(
            Reader::new(&[0xf8, 0x14]).item(),
            Err(CborError::NonMinimal)
        );
        assert_eq!(Reader::new(&[0xf8, 0x20]).item(), Ok(&[0xf8u8, 0x20][..]));
        let deep = [0x81u8; 40];
        assert_eq!(Reader::new(&deep).item(), Err(CborError::TooDeep));
    }

    /// The writer produces what the reader accepts, for every head size.
    #[test]
    fn write_read_round_trip() {
        for v in [
            0i64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            1 << 40,
            -1,
            -24,
            -25,
            -44241,
            i64::MIN,
        ] {
            let mut buf = [0u8; 16];
            let mut w = Writer::new(&mut buf);
            w.int(v).unwrap();
            assert_eq!(Reader::new(w.written()).int(), Ok(v), "{v}");
        }
    }
}
