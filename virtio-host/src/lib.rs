//! virtio-host: the host side of virtio for a realm, as a device model that both hosts of
//! this project (el2-harness and rmi-shim's builder, hence rmi-host) drive.
//!
//! It follows *Virtual I/O Device (VIRTIO) Version 1.2*: the MMIO transport of §4.2
//! (register layout version 2, §4.2.2), split virtqueues (§2.7), the console device (§5.3,
//! device ID 3, port 0's receive and transmit queues) and the block device (§5.2, device ID
//! 2, `VIRTIO_BLK_T_IN`, `VIRTIO_BLK_T_OUT`, `VIRTIO_BLK_T_GET_ID`).
//!
//! # The realm is hostile
//!
//! Everything the driver writes — registers, descriptors, ring indices — is untrusted:
//!
//! - the only guest memory the model reaches is what the host's [`Io`] gives it, which for
//!   both hosts is the memory the realm *shared* (addresses are unprotected-alias IPAs); a
//!   descriptor that points anywhere else is a device error, never a host access;
//! - descriptor chains are bounded by the queue size (a loop in the `next` links is an
//!   error), indirect descriptors are not offered and refused, lengths are checked against
//!   the request they carry;
//! - a malformed request or ring puts the device in the `DEVICE_NEEDS_RESET` state
//!   (§2.1.2): it stops processing queues until the driver resets it, and
//!   [`MmioDevice::error`] tells the host what went wrong ([`DeviceError`]).
//!
//! # Notifications and interrupts
//!
//! The driver's write to `QueueNotify` traps to the host (the device region is not mapped),
//! which processes the queue synchronously before it lets the realm run again; the used
//! buffer is therefore in the used ring when the realm's store completes. The model sets
//! `InterruptStatus` bit 0 as §4.2.2 asks but injects no interrupt: the realm polls the used
//! ring (virtio-drivers does).
//!
//! # Decoding the trapped access
//!
//! [`MmioAccess::decode`] turns a data abort's syndrome (ESR_EL2 ISS with ISV = 1, Arm ARM
//! D24.2.41) into size, direction and register, for both hosts.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

pub use cca_abi::virtio as layout;

mod block;
mod console;
mod mmio;
mod queue;

pub use block::Disk;
pub use mmio::{Bus, Function, MmioAccess, MmioDevice};

/// virtio-mmio `MagicValue`: "virt" little-endian (§4.2.2).
pub const MAGIC_VALUE: u32 = 0x7472_6976;
/// `Version` of the non-legacy MMIO register layout (§4.2.2).
pub const VERSION: u32 = 2;
/// `VendorID` the model reports (the same one QEMU uses, "QEMU" little-endian).
pub const VENDOR_ID: u32 = 0x554d_4551;
/// Device ID of a block device (§5.2).
pub const DEVICE_ID_BLOCK: u32 = 2;
/// Device ID of a console (§5.3).
pub const DEVICE_ID_CONSOLE: u32 = 3;
/// `VIRTIO_F_VERSION_1` (§6): the only feature the model offers; the driver must accept it.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// The largest queue the model offers (`QueueNumMax`): bounds every descriptor chain.
pub const QUEUE_NUM_MAX: u16 = 16;
/// Sector size of the block device's requests (§5.2.6).
pub const SECTOR_SIZE: usize = 512;

/// Guest memory as the device reaches it: the realm's shared pages, by unprotected IPA.
pub trait Io {
    /// Copies `[ipa, ipa + buf.len())` into `buf`.
    ///
    /// # Errors
    ///
    /// [`OutOfShared`] if part of the range is not memory the realm shares with the host.
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), OutOfShared>;

    /// Copies `data` to `[ipa, ipa + data.len())`.
    ///
    /// # Errors
    ///
    /// [`OutOfShared`] if part of the range is not memory the realm shares with the host.
    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), OutOfShared>;

    /// Bytes the realm wrote to its virtio console (port 0); untrusted.
    fn console(&mut self, bytes: &[u8]);
}

/// An address outside the memory the realm shares with the host.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct OutOfShared {
    /// The first address of the range that was refused.
    pub ipa: u64,
}

impl fmt::Display for OutOfShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPA {:#x} is not memory the realm shares with the host",
            self.ipa
        )
    }
}

/// Why a device stopped: the driver broke the virtio rules. The device is in the
/// `DEVICE_NEEDS_RESET` state until the driver writes 0 to `Status`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DeviceError {
    /// A ring or buffer lies outside the realm's shared memory.
    Memory(OutOfShared),
    /// A queue was made ready with a size that is zero, over [`QUEUE_NUM_MAX`] or not a
    /// power of two (§2.7: split queue sizes are powers of two).
    BadQueueSize {
        /// The queue.
        queue: u16,
        /// The size the driver wrote to `QueueNum`.
        size: u32,
    },
    /// The available ring's index ran further ahead of the device than the queue size.
    AvailOverrun {
        /// The queue.
        queue: u16,
        /// The driver's `idx`.
        avail: u16,
        /// The device's last seen index.
        seen: u16,
    },
    /// A descriptor index is not below the queue size.
    BadDescriptorIndex {
        /// The queue.
        queue: u16,
        /// The index.
        index: u16,
    },
    /// A chain is longer than the queue (its `next` links loop).
    ChainTooLong {
        /// The queue.
        queue: u16,
    },
    /// A descriptor has `VIRTQ_DESC_F_INDIRECT`, which the model does not offer.
    Indirect {
        /// The queue.
        queue: u16,
    },
    /// A device-readable descriptor follows a device-writable one (§2.7.4.2).
    ReadableAfterWritable {
        /// The queue.
        queue: u16,
    },
    /// A request's buffers are too short for its header or status, or a chain's length
    /// overflows.
    BadRequestLength {
        /// The queue.
        queue: u16,
    },
}

impl From<OutOfShared> for DeviceError {
    fn from(e: OutOfShared) -> Self {
        Self::Memory(e)
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory(e) => write!(f, "the driver named memory it does not share: {e}"),
            Self::BadQueueSize { queue, size } => write!(
                f,
                "queue {queue} was made ready with size {size}, not a power of two from 1 to {QUEUE_NUM_MAX}"
            ),
            Self::AvailOverrun { queue, avail, seen } => write!(
                f,
                "queue {queue}: the available index {avail} is more than a queue ahead of {seen}"
            ),
            Self::BadDescriptorIndex { queue, index } => {
                write!(f, "queue {queue}: descriptor index {index} is out of range")
            }
            Self::ChainTooLong { queue } => write!(
                f,
                "queue {queue}: a descriptor chain is longer than the queue (its links loop)"
            ),
            Self::Indirect { queue } => write!(
                f,
                "queue {queue}: an indirect descriptor, a feature the device does not offer"
            ),
            Self::ReadableAfterWritable { queue } => write!(
                f,
                "queue {queue}: a device-readable descriptor follows a device-writable one"
            ),
            Self::BadRequestLength { queue } => write!(
                f,
                "queue {queue}: a request's buffers are too short for its header and status"
            ),
        }
    }
}
