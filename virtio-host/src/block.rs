//! The block device (virtio 1.2 §5.2): requests over a disk held in host memory.

use crate::queue::Chain;
use crate::{DeviceError, Io, SECTOR_SIZE};

/// `VIRTIO_BLK_T_IN` (§5.2.6).
const T_IN: u32 = 0;
/// `VIRTIO_BLK_T_OUT`.
const T_OUT: u32 = 1;
/// `VIRTIO_BLK_T_GET_ID`.
const T_GET_ID: u32 = 8;
/// `VIRTIO_BLK_S_OK`.
const S_OK: u8 = 0;
/// `VIRTIO_BLK_S_IOERR`.
const S_IOERR: u8 = 1;
/// `VIRTIO_BLK_S_UNSUPP`.
const S_UNSUPP: u8 = 2;
/// Size of the request header: type, reserved, sector (§5.2.6).
const HEADER: u64 = 16;
/// `VIRTIO_BLK_ID_BYTES`.
const ID_BYTES: usize = 20;

/// The disk behind a block device: host memory (for both hosts, the window QEMU's loader
/// filled with the image). Its capacity is its length in whole sectors.
#[derive(Debug)]
pub struct Disk<'a> {
    data: &'a mut [u8],
    id: [u8; ID_BYTES],
}

impl<'a> Disk<'a> {
    /// A disk over `data` (a trailing partial sector is not part of it) whose
    /// `VIRTIO_BLK_T_GET_ID` answer is `id` (cut to 20 bytes, zero padded).
    pub fn new(data: &'a mut [u8], id: &[u8]) -> Self {
        let mut padded = [0; ID_BYTES];
        let n = id.len().min(ID_BYTES);
        padded[..n].copy_from_slice(&id[..n]);
        let whole = data.len() - data.len() % SECTOR_SIZE;
        Self {
            data: &mut data[..whole],
            id: padded,
        }
    }

    /// Capacity in 512-byte sectors (the `capacity` field of the configuration).
    #[must_use]
    pub fn capacity(&self) -> u64 {
        (self.data.len() / SECTOR_SIZE) as u64
    }

    /// The disk's bytes.
    #[must_use]
    pub fn data(&self) -> &[u8] {
        self.data
    }

    /// Byte range of `len` bytes at `sector`, if it is whole sectors inside the disk.
    fn range(&self, sector: u64, len: u64) -> Option<core::ops::Range<usize>> {
        if !len.is_multiple_of(SECTOR_SIZE as u64) {
            return None;
        }
        let start = sector.checked_mul(SECTOR_SIZE as u64)?;
        let end = start.checked_add(len)?;
        (end <= self.data.len() as u64).then_some(start as usize..end as usize)
    }

    /// Serves one request; returns the number of bytes written to the driver's buffers.
    pub(crate) fn request(
        &mut self,
        queue: u16,
        chain: &Chain,
        io: &mut dyn Io,
    ) -> Result<u32, DeviceError> {
        let readable = chain.readable_len();
        let writable = chain.writable_len();
        if readable < HEADER || writable < 1 {
            return Err(DeviceError::BadRequestLength { queue });
        }
        let mut header = [0u8; HEADER as usize];
        chain.read(io, 0, &mut header)?;
        let kind = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let sector = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        let status_at = writable - 1;
        let (status, data_written) = match kind {
            T_IN => match self.range(sector, status_at) {
                Some(range) => {
                    let disk = &self.data[range];
                    chain.for_writable(0, disk.len(), |addr, at, n| {
                        io.write(addr, &disk[at..at + n])
                    })?;
                    (S_OK, status_at)
                }
                None => (S_IOERR, 0),
            },
            T_OUT => match self.range(sector, readable - HEADER) {
                Some(range) => {
                    let disk = &mut self.data[range];
                    let len = disk.len();
                    chain.for_readable(HEADER, len, |addr, at, n| {
                        io.read(addr, &mut disk[at..at + n])
                    })?;
                    (S_OK, 0)
                }
                None => (S_IOERR, 0),
            },
            T_GET_ID if status_at >= ID_BYTES as u64 => {
                chain.write(io, 0, &self.id)?;
                (S_OK, ID_BYTES as u64)
            }
            T_GET_ID => (S_IOERR, 0),
            _ => (S_UNSUPP, 0),
        };
        chain.write(io, status_at, &[status])?;
        // At most the writable length, which is a sum of at most 16 `u32`s; the used ring's
        // field is 32 bits, so saturate.
        Ok(u32::try_from(data_written + 1).unwrap_or(u32::MAX))
    }

    /// The configuration space (§5.2.4): `capacity` at 0, everything else (for features the
    /// model does not offer) zero.
    pub(crate) fn config(&self, offset: u64) -> u8 {
        match offset {
            0..8 => self.capacity().to_le_bytes()[offset as usize],
            _ => 0,
        }
    }
}
