//! virtio-mmio devices for the realm (feature `virtio`): virtio-host's console and block
//! device model at the slots of `cca_abi::virtio`, for a [`Host`](super::Host) to reach
//! from its [`mmio_read`](super::Host::mmio_read) and [`mmio_write`](super::Host::mmio_write).
//!
//! The realm's register accesses exit to the host as emulatable data aborts (the device
//! region is never mapped in the realm's stage 2); a write to `QueueNotify` is served
//! before the realm runs again, through [`SharedMemory`] only: a descriptor naming memory
//! the realm does not share stops the device (`DEVICE_NEEDS_RESET`, [`Devices::errors`])
//! and never reaches anything else of the host's. No interrupt is injected: the realm
//! polls the used ring.

use cca_abi::virtio as slots;
use virtio_host::{Bus, Disk, Function, Io, MmioAccess, MmioDevice, OutOfShared};

use super::SharedMemory;

/// The realm's devices: a console and a block device over `disk`.
#[derive(Debug)]
pub struct Devices<'d> {
    base: u64,
    devices: [MmioDevice<'d>; 2],
}

/// [`SharedMemory`] as the device model's guest memory, with the console's output going to
/// a closure.
struct SharedIo<'s, 'm, F> {
    shared: &'s mut SharedMemory<'m>,
    console: F,
}

impl<F: FnMut(&[u8])> Io for SharedIo<'_, '_, F> {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), OutOfShared> {
        self.shared
            .read(ipa, buf)
            .map_err(|e| OutOfShared { ipa: e.ipa })
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), OutOfShared> {
        self.shared
            .write(ipa, data)
            .map_err(|e| OutOfShared { ipa: e.ipa })
    }

    fn console(&mut self, bytes: &[u8]) {
        (self.console)(bytes);
    }
}

impl<'d> Devices<'d> {
    /// The devices of a realm whose IPA space is `ipa_width` bits wide (slots at the
    /// unprotected alias of `cca_abi::virtio::MMIO_BASE`), the block device's disk being
    /// `disk` (identified as `id` by `VIRTIO_BLK_T_GET_ID`).
    #[must_use]
    pub fn new(ipa_width: u32, disk: &'d mut [u8], id: &[u8]) -> Self {
        let unprotected = 1u64 << (ipa_width.clamp(33, 64) - 1);
        Self {
            base: slots::MMIO_BASE | unprotected,
            devices: [
                MmioDevice::new(Function::Console),
                MmioDevice::new(Function::Block(Disk::new(disk, id))),
            ],
        }
    }

    /// A read of `size` bytes at `ipa`: the value, or `None` if no device is there.
    pub fn read(&mut self, ipa: u64, size: u8, shared: &mut SharedMemory<'_>) -> Option<u64> {
        self.access(ipa, size, None, shared, &mut |_| {})
    }

    /// A write of `size` bytes of `value` at `ipa`, console output going to `console`;
    /// whether a device is there.
    pub fn write(
        &mut self,
        ipa: u64,
        size: u8,
        value: u64,
        shared: &mut SharedMemory<'_>,
        console: &mut dyn FnMut(&[u8]),
    ) -> bool {
        self.access(ipa, size, Some(value), shared, console)
            .is_some()
    }

    fn access(
        &mut self,
        ipa: u64,
        size: u8,
        value: Option<u64>,
        shared: &mut SharedMemory<'_>,
        console: &mut dyn FnMut(&[u8]),
    ) -> Option<u64> {
        let access = MmioAccess {
            ipa,
            size,
            write: value.is_some(),
            // TF-RMM passes neither SRT nor SSE; it sign-extends a read itself.
            register: 0,
            sign_extend: false,
            sixty_four: true,
        };
        let mut io = SharedIo {
            shared,
            console: |b: &[u8]| console(b),
        };
        Bus::new(self.base, &mut self.devices).access(&access, value.unwrap_or(0), &mut io)
    }

    /// Each device's error, if the realm's driver made it stop: console, then block.
    #[must_use]
    pub fn errors(&self) -> [Option<virtio_host::DeviceError>; 2] {
        [self.devices[0].error(), self.devices[1].error()]
    }
}
