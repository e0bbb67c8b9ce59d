//! The disk image the host hands the realm: a header sector, the encrypted model and the
//! input batches.
//!
//! The host (and so everything on the disk) is hostile: [`Header::parse`] checks every field
//! against the device's capacity and this format's limits before the realm reads a byte
//! more. All integers little-endian; the header is the first [`SECTOR_SIZE`] bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | magic `"RIDK"` |
//! | 4 | 2 | version, 1 |
//! | 6 | 2 | reserved, 0 |
//! | 8 | 8 | offset of the model container ([`crate::container`]), a multiple of 512, at least 512 |
//! | 16 | 8 | length of the model container, 1 to [`MAX_CONTAINER_SIZE`] |
//! | 24 | 8 | offset of the inputs, a multiple of 512, at least 512 |
//! | 32 | 4 | bytes of one input, 1 to [`MAX_WIDTH`] |
//! | 36 | 4 | number of inputs, 1 to [`MAX_INPUTS`] |
//! | 40 | 4 | inputs per batch, 1 to [`MAX_BATCH`] (the last batch may be shorter) |
//! | 44 | 4 | reserved, 0 |
//! | 48 | 32 | the verifier's nonce ([`crate::binding`]) |
//! | 80 | 432 | reserved, 0 |
//!
//! The model and the inputs must lie within the device and must not overlap each other or
//! the header. The inputs are stored one after the other, without padding.

use core::fmt;

use crate::binding::NONCE_LEN;
use crate::container::MAX_CONTAINER_SIZE;
use crate::model::MAX_WIDTH;

/// Bytes of a sector, and of the header.
pub const SECTOR_SIZE: usize = 512;
/// The header's magic.
pub const MAGIC: [u8; 4] = *b"RIDK";
/// The format version.
pub const VERSION: u16 = 1;
/// The most inputs a disk may carry.
pub const MAX_INPUTS: u32 = 1 << 20;
/// The most inputs in one batch.
pub const MAX_BATCH: u32 = 256;

/// The header, checked.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Header {
    /// Offset of the model container.
    pub model_offset: u64,
    /// Length of the model container.
    pub model_len: usize,
    /// Offset of the inputs.
    pub inputs_offset: u64,
    /// Bytes of one input.
    pub input_len: usize,
    /// Number of inputs.
    pub input_count: usize,
    /// Inputs per batch.
    pub batch_size: usize,
    /// The verifier's nonce.
    pub nonce: [u8; NONCE_LEN],
}

/// Why a disk header was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DiskError {
    /// The device is smaller than the header sector.
    TooSmall(u64),
    /// Not [`MAGIC`].
    Magic,
    /// Another version of the format.
    Version(u16),
    /// Reserved bytes that are not zero, at this offset.
    Reserved(usize),
    /// A region's offset is not a multiple of 512 or lies in the header.
    Alignment {
        /// `"model"` or `"inputs"`.
        region: &'static str,
        /// Its offset.
        offset: u64,
    },
    /// A length or count out of its range.
    Field {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A region that ends past the device.
    PastEnd {
        /// `"model"` or `"inputs"`.
        region: &'static str,
        /// Where it ends.
        end: u64,
        /// The device's capacity in bytes.
        capacity: u64,
    },
    /// The model and the inputs overlap.
    Overlap,
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooSmall(n) => write!(
                f,
                "the disk has {n} bytes, less than its {SECTOR_SIZE}-byte header"
            ),
            Self::Magic => f.write_str("not an inference disk (its magic is not \"RIDK\")"),
            Self::Version(v) => {
                write!(
                    f,
                    "inference disk version {v}; this reader knows version {VERSION}"
                )
            }
            Self::Reserved(at) => {
                write!(
                    f,
                    "the disk header's reserved bytes at {at:#x} are not zero"
                )
            }
            Self::Alignment { region, offset } => write!(
                f,
                "the {region} starts at {offset:#x}, which is not a sector past the header"
            ),
            Self::Field { field, value, max } => {
                write!(
                    f,
                    "the disk header's {field} is {value}; 1 to {max} are accepted"
                )
            }
            Self::PastEnd {
                region,
                end,
                capacity,
            } => write!(
                f,
                "the {region} ends at {end:#x}, past the disk's {capacity:#x} bytes"
            ),
            Self::Overlap => f.write_str("the disk's model and inputs overlap"),
        }
    }
}

impl core::error::Error for DiskError {}

fn u16_at(b: &[u8; SECTOR_SIZE], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8; SECTOR_SIZE], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8; SECTOR_SIZE], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// `value` if it is 1 to `max`.
fn ranged(field: &'static str, value: u64, max: u64) -> Result<u64, DiskError> {
    if value == 0 || value > max {
        return Err(DiskError::Field { field, value, max });
    }
    Ok(value)
}

impl Header {
    /// Parses and checks the header sector of a device of `capacity` bytes.
    ///
    /// # Errors
    ///
    /// The [`DiskError`] of the first field at fault.
    pub fn parse(sector: &[u8; SECTOR_SIZE], capacity: u64) -> Result<Self, DiskError> {
        if capacity < SECTOR_SIZE as u64 {
            return Err(DiskError::TooSmall(capacity));
        }
        if sector[..4] != MAGIC {
            return Err(DiskError::Magic);
        }
        let version = u16_at(sector, 4);
        if version != VERSION {
            return Err(DiskError::Version(version));
        }
        for (start, end) in [(6, 8), (44, 48), (80, SECTOR_SIZE)] {
            if let Some(i) = sector[start..end].iter().position(|&b| b != 0) {
                return Err(DiskError::Reserved(start + i));
            }
        }
        let region = |region: &'static str, offset: u64, len: u64| {
            if offset < SECTOR_SIZE as u64 || !offset.is_multiple_of(SECTOR_SIZE as u64) {
                return Err(DiskError::Alignment { region, offset });
            }
            // Both are bounded (offset by u64, len by the limits), so only the sum can
            // overflow: then it is past any device.
            let end = offset.saturating_add(len);
            if end > capacity {
                return Err(DiskError::PastEnd {
                    region,
                    end,
                    capacity,
                });
            }
            Ok(end)
        };
        let model_offset = u64_at(sector, 8);
        let model_len = ranged(
            "model length",
            u64_at(sector, 16),
            MAX_CONTAINER_SIZE as u64,
        )?;
        let model_end = region("model", model_offset, model_len)?;
        let inputs_offset = u64_at(sector, 24);
        let input_len = ranged("input length", u32_at(sector, 32).into(), MAX_WIDTH as u64)?;
        let input_count = ranged("input count", u32_at(sector, 36).into(), MAX_INPUTS.into())?;
        let batch_size = ranged("batch size", u32_at(sector, 40).into(), MAX_BATCH.into())?;
        // At most 512 × 2^20 bytes: no overflow.
        let inputs_end = region("inputs", inputs_offset, input_len * input_count)?;
        if model_offset < inputs_end && inputs_offset < model_end {
            return Err(DiskError::Overlap);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sector[48..80]);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "each is bounded above by a limit far below usize::MAX on 64-bit targets"
        )]
        Ok(Self {
            model_offset,
            model_len: model_len as usize,
            inputs_offset,
            input_len: input_len as usize,
            input_count: input_count as usize,
            batch_size: batch_size as usize,
            nonce,
        })
    }

    /// Encodes the header sector.
    #[must_use]
    pub fn encode(&self) -> [u8; SECTOR_SIZE] {
        let mut s = [0u8; SECTOR_SIZE];
        s[..4].copy_from_slice(&MAGIC);
        s[4..6].copy_from_slice(&VERSION.to_le_bytes());
        s[8..16].copy_from_slice(&self.model_offset.to_le_bytes());
        s[16..24].copy_from_slice(&(self.model_len as u64).to_le_bytes());
        s[24..32].copy_from_slice(&self.inputs_offset.to_le_bytes());
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the format's fields are 32 bits"
        )]
        {
            s[32..36].copy_from_slice(&(self.input_len as u32).to_le_bytes());
            s[36..40].copy_from_slice(&(self.input_count as u32).to_le_bytes());
            s[40..44].copy_from_slice(&(self.batch_size as u32).to_le_bytes());
        }
        s[48..80].copy_from_slice(&self.nonce);
        s
    }

    /// Number of batches.
    #[must_use]
    pub fn batches(&self) -> usize {
        self.input_count.div_ceil(self.batch_size)
    }

    /// Offset and length in bytes of batch `index`, or `None` past the last.
    #[must_use]
    pub fn batch(&self, index: usize) -> Option<(u64, usize)> {
        let first = index.checked_mul(self.batch_size)?;
        if first >= self.input_count {
            return None;
        }
        let count = self.batch_size.min(self.input_count - first);
        Some((
            self.inputs_offset + (first * self.input_len) as u64,
            count * self.input_len,
        ))
    }
}

/// Builds a disk image (host side): the header, the model container at sector 1, the
/// inputs at the next sector boundary, the whole padded to a sector.
///
/// # Errors
///
/// The [`DiskError`] that [`Header::parse`] would give the result (an empty model, inputs
/// that are not whole, counts over the limits).
#[cfg(feature = "alloc")]
pub fn build(
    nonce: &[u8; NONCE_LEN],
    container: &[u8],
    inputs: &[u8],
    input_len: usize,
    batch_size: usize,
) -> Result<alloc::vec::Vec<u8>, DiskError> {
    let sector = SECTOR_SIZE as u64;
    let model_offset = sector;
    let inputs_offset = (model_offset + container.len() as u64).next_multiple_of(sector);
    let input_count = inputs.len().checked_div(input_len).unwrap_or(0);
    if input_len == 0 || !inputs.len().is_multiple_of(input_len) {
        return Err(DiskError::Field {
            field: "input length",
            value: input_len as u64,
            max: MAX_WIDTH as u64,
        });
    }
    if input_count > MAX_INPUTS as usize {
        return Err(DiskError::Field {
            field: "input count",
            value: input_count as u64,
            max: MAX_INPUTS.into(),
        });
    }
    let header = Header {
        model_offset,
        model_len: container.len(),
        inputs_offset,
        input_len,
        input_count,
        batch_size,
        nonce: *nonce,
    };
    #[allow(clippy::cast_possible_truncation, reason = "the image is in memory")]
    let total = (inputs_offset + inputs.len() as u64).next_multiple_of(sector) as usize;
    let mut image = alloc::vec![0u8; total];
    let encoded = header.encode();
    Header::parse(&encoded, total as u64)?;
    image[..SECTOR_SIZE].copy_from_slice(&encoded);
    #[allow(clippy::cast_possible_truncation, reason = "offsets within the image")]
    {
        image[model_offset as usize..][..container.len()].copy_from_slice(container);
        image[inputs_offset as usize..][..inputs.len()].copy_from_slice(inputs);
    }
    Ok(image)
}
