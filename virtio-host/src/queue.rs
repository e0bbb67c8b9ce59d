//! Split virtqueues (virtio 1.2 §2.7), read and written through [`Io`] only.

use crate::{DeviceError, Io, OutOfShared, QUEUE_NUM_MAX};

/// `VIRTQ_DESC_F_NEXT` (§2.7.5).
const DESC_F_NEXT: u16 = 1;
/// `VIRTQ_DESC_F_WRITE` (§2.7.5).
const DESC_F_WRITE: u16 = 2;
/// `VIRTQ_DESC_F_INDIRECT` (§2.7.5).
const DESC_F_INDIRECT: u16 = 4;
/// Size of a descriptor (§2.7.5).
const DESC_SIZE: u64 = 16;
/// Size of a used ring element (§2.7.8).
const USED_ELEM_SIZE: u64 = 8;

/// One queue's registers and the device's position in it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Queue {
    /// `QueueNum`.
    pub(crate) size: u32,
    /// `QueueReady`.
    pub(crate) ready: bool,
    /// `QueueDescLow/High`.
    pub(crate) desc: u64,
    /// `QueueDriverLow/High`: the available ring.
    pub(crate) driver: u64,
    /// `QueueDeviceLow/High`: the used ring.
    pub(crate) device: u64,
    /// The next available ring index the device will take.
    last_avail: u16,
    /// The used ring index the device will write next.
    used_idx: u16,
}

/// A buffer of a chain: guest address, length, whether the device writes it.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub(crate) struct Segment {
    pub(crate) addr: u64,
    pub(crate) len: u32,
    pub(crate) writable: bool,
}

/// A descriptor chain taken from the available ring: at most [`QUEUE_NUM_MAX`] buffers,
/// device-readable ones first.
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    pub(crate) head: u16,
    segments: [Segment; QUEUE_NUM_MAX as usize],
    count: usize,
}

impl Chain {
    fn segments(&self) -> &[Segment] {
        &self.segments[..self.count]
    }

    /// Total length of the device-readable buffers.
    pub(crate) fn readable_len(&self) -> u64 {
        self.segments()
            .iter()
            .filter(|s| !s.writable)
            .map(|s| u64::from(s.len))
            .sum()
    }

    /// Total length of the device-writable buffers.
    pub(crate) fn writable_len(&self) -> u64 {
        self.segments()
            .iter()
            .filter(|s| s.writable)
            .map(|s| u64::from(s.len))
            .sum()
    }

    /// Walks the buffers of one direction from byte `offset` for `len` bytes, calling `f`
    /// with each piece's guest address, its offset in the walk and its length. The caller
    /// has checked that `offset + len` is within the direction's total.
    fn walk(
        &self,
        writable: bool,
        offset: u64,
        len: usize,
        mut f: impl FnMut(u64, usize, usize) -> Result<(), OutOfShared>,
    ) -> Result<(), OutOfShared> {
        let mut skip = offset;
        let mut done = 0usize;
        for s in self.segments().iter().filter(|s| s.writable == writable) {
            if done == len {
                break;
            }
            let seg_len = u64::from(s.len);
            if skip >= seg_len {
                skip -= seg_len;
                continue;
            }
            let n = ((seg_len - skip) as usize).min(len - done);
            let addr = s
                .addr
                .checked_add(skip)
                .ok_or(OutOfShared { ipa: s.addr })?;
            f(addr, done, n)?;
            done += n;
            skip = 0;
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes of the device-readable buffers from `offset`.
    pub(crate) fn read(
        &self,
        io: &mut dyn Io,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), OutOfShared> {
        let len = buf.len();
        self.walk(false, offset, len, |addr, at, n| {
            io.read(addr, &mut buf[at..at + n])
        })
    }

    /// Writes `data` to the device-writable buffers from `offset`.
    pub(crate) fn write(
        &self,
        io: &mut dyn Io,
        offset: u64,
        data: &[u8],
    ) -> Result<(), OutOfShared> {
        self.walk(true, offset, data.len(), |addr, at, n| {
            io.write(addr, &data[at..at + n])
        })
    }

    /// Calls `f` on each piece of the device-readable buffers, in order, with its address
    /// and length, from byte `offset` for `len` bytes.
    pub(crate) fn for_readable(
        &self,
        offset: u64,
        len: usize,
        f: impl FnMut(u64, usize, usize) -> Result<(), OutOfShared>,
    ) -> Result<(), OutOfShared> {
        self.walk(false, offset, len, f)
    }

    /// As [`Chain::for_readable`], over the device-writable buffers.
    pub(crate) fn for_writable(
        &self,
        offset: u64,
        len: usize,
        f: impl FnMut(u64, usize, usize) -> Result<(), OutOfShared>,
    ) -> Result<(), OutOfShared> {
        self.walk(true, offset, len, f)
    }
}

fn read_u16(io: &mut dyn Io, ipa: u64) -> Result<u16, OutOfShared> {
    let mut b = [0; 2];
    io.read(ipa, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

/// `base + index * size`, an address in a ring; overflow is an address no one shares.
fn at(base: u64, index: u64, size: u64) -> Result<u64, OutOfShared> {
    index
        .checked_mul(size)
        .and_then(|o| base.checked_add(o))
        .ok_or(OutOfShared { ipa: base })
}

impl Queue {
    /// Resets the device's position (a device reset or `QueueReady` set).
    pub(crate) fn reset_position(&mut self) {
        self.last_avail = 0;
        self.used_idx = 0;
    }

    /// Whether the queue size is one the model accepts.
    pub(crate) fn size_valid(&self) -> bool {
        self.size.is_power_of_two() && self.size <= u32::from(QUEUE_NUM_MAX)
    }

    /// Takes the next chain the driver made available, if any.
    pub(crate) fn pop(
        &mut self,
        number: u16,
        io: &mut dyn Io,
    ) -> Result<Option<Chain>, DeviceError> {
        // The size was checked when the queue was made ready.
        let size = self.size as u16;
        let avail_idx = read_u16(io, at(self.driver, 1, 2)?)?;
        let pending = avail_idx.wrapping_sub(self.last_avail);
        if pending == 0 {
            return Ok(None);
        }
        if pending > size {
            return Err(DeviceError::AvailOverrun {
                queue: number,
                avail: avail_idx,
                seen: self.last_avail,
            });
        }
        let slot = u64::from(self.last_avail % size);
        let head = read_u16(io, at(self.driver, 2 + slot, 2)?)?;
        self.last_avail = self.last_avail.wrapping_add(1);

        let mut chain = Chain {
            head,
            segments: [Segment::default(); QUEUE_NUM_MAX as usize],
            count: 0,
        };
        let mut index = head;
        let mut seen_writable = false;
        loop {
            if index >= size {
                return Err(DeviceError::BadDescriptorIndex {
                    queue: number,
                    index,
                });
            }
            if chain.count == usize::from(size) {
                return Err(DeviceError::ChainTooLong { queue: number });
            }
            let mut d = [0u8; DESC_SIZE as usize];
            io.read(at(self.desc, u64::from(index), DESC_SIZE)?, &mut d)?;
            let addr = u64::from_le_bytes(d[0..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(d[8..12].try_into().expect("4 bytes"));
            let flags = u16::from_le_bytes(d[12..14].try_into().expect("2 bytes"));
            let next = u16::from_le_bytes(d[14..16].try_into().expect("2 bytes"));
            if flags & DESC_F_INDIRECT != 0 {
                return Err(DeviceError::Indirect { queue: number });
            }
            let writable = flags & DESC_F_WRITE != 0;
            if seen_writable && !writable {
                return Err(DeviceError::ReadableAfterWritable { queue: number });
            }
            seen_writable |= writable;
            // The whole buffer must end inside the address space; whether it is shared is
            // checked at each access.
            if addr.checked_add(u64::from(len)).is_none() {
                return Err(DeviceError::Memory(OutOfShared { ipa: addr }));
            }
            chain.segments[chain.count] = Segment {
                addr,
                len,
                writable,
            };
            chain.count += 1;
            if flags & DESC_F_NEXT == 0 {
                return Ok(Some(chain));
            }
            index = next;
        }
    }

    /// Puts a used element (`head`, bytes written) in the used ring and publishes it.
    pub(crate) fn push_used(
        &mut self,
        io: &mut dyn Io,
        head: u16,
        written: u32,
    ) -> Result<(), OutOfShared> {
        let size = self.size as u16;
        let slot = u64::from(self.used_idx % size);
        let mut elem = [0u8; USED_ELEM_SIZE as usize];
        elem[0..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..8].copy_from_slice(&written.to_le_bytes());
        io.write(
            at(self.device, 0, 1)?
                .checked_add(4 + slot * USED_ELEM_SIZE)
                .ok_or(OutOfShared { ipa: self.device })?,
            &elem,
        )?;
        self.used_idx = self.used_idx.wrapping_add(1);
        // The element is written before the index that publishes it (the host's accesses
        // complete in order: the realm is stopped while the device runs).
        io.write(at(self.device, 1, 2)?, &self.used_idx.to_le_bytes())
    }
}
