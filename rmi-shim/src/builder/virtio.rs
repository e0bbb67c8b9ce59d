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

#[cfg(test)]
mod tests {
    use alloc::boxed::Box;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::super::Page;
    use super::super::shared::SharedPage;
    use super::*;

    const UNPROTECTED: u64 = 1 << 38;
    const SHARED: u64 = 0x8010_0000 | UNPROTECTED;

    fn pages(n: u64) -> Vec<SharedPage> {
        (0..n)
            .map(|i| SharedPage {
                ipa: SHARED + i * 0x1000,
                page: Box::new(Page([0; cca_abi::GRANULE_SIZE])),
            })
            .collect()
    }

    fn w(d: &mut Devices<'_>, m: &mut SharedMemory<'_>, out: &mut Vec<u8>, off: u64, v: u64) {
        assert!(d.write(SHARED_SLOT0 + off, 4, v, m, &mut |b| {
            out.extend_from_slice(b)
        }));
    }

    const SHARED_SLOT0: u64 = slots::MMIO_BASE | UNPROTECTED;

    /// Console transmit queue (1) at the first shared page: descriptors at +0, available
    /// ring at +0x100, used ring at +0x200, data at +0x800.
    fn console_ready(d: &mut Devices<'_>, m: &mut SharedMemory<'_>, out: &mut Vec<u8>) {
        for (off, v) in [
            (0x70, 3),
            (0x24, 1),
            (0x20, 1),
            (0x70, 11),
            (0x30, 1),
            (0x38, 2),
        ] {
            w(d, m, out, off, v);
        }
        for (off, addr) in [
            (0x80, SHARED),
            (0x90, SHARED + 0x100),
            (0xa0, SHARED + 0x200),
        ] {
            w(d, m, out, off, addr & 0xffff_ffff);
            w(d, m, out, off + 4, addr >> 32);
        }
        w(d, m, out, 0x44, 1);
        w(d, m, out, 0x70, 15);
    }

    fn descriptor(m: &mut SharedMemory<'_>, addr: u64, len: u32) {
        let mut desc = [0u8; 16];
        desc[0..8].copy_from_slice(&addr.to_le_bytes());
        desc[8..12].copy_from_slice(&len.to_le_bytes());
        m.write(SHARED, &desc).unwrap();
        m.write(SHARED + 0x104, &0u16.to_le_bytes()).unwrap();
        m.write(SHARED + 0x102, &1u16.to_le_bytes()).unwrap();
    }

    #[test]
    fn the_console_prints_what_the_realm_shared() {
        let mut disk = vec![0u8; 4096];
        let mut d = Devices::new(39, &mut disk, b"test");
        let mut backing = pages(2);
        let mut m = SharedMemory {
            pages: &mut backing,
        };
        let mut out = Vec::new();
        // MagicValue and DeviceID of both slots, at the unprotected alias of 0x0a00_0000.
        assert_eq!(d.read(SHARED_SLOT0, 4, &mut m), Some(0x7472_6976));
        assert_eq!(d.read(SHARED_SLOT0 + 8, 4, &mut m), Some(3));
        assert_eq!(d.read(SHARED_SLOT0 + 0x208, 4, &mut m), Some(2));
        assert_eq!(
            d.read(SHARED_SLOT0 + 0x400, 4, &mut m),
            None,
            "no third device"
        );
        assert_eq!(
            d.read(slots::MMIO_BASE, 4, &mut m),
            None,
            "the protected IPA"
        );

        console_ready(&mut d, &mut m, &mut out);
        // Data crossing into the second shared page.
        m.write(SHARED + 0xffa, b"hello, host\n").unwrap();
        descriptor(&mut m, SHARED + 0xffa, 12);
        w(&mut d, &mut m, &mut out, 0x50, 1);
        assert_eq!(out, b"hello, host\n");
        assert_eq!(d.errors(), [None, None]);
    }

    #[test]
    fn a_descriptor_outside_shared_memory_stops_the_device() {
        let mut disk = vec![0u8; 4096];
        let mut d = Devices::new(39, &mut disk, b"test");
        let mut backing = pages(1);
        let mut m = SharedMemory {
            pages: &mut backing,
        };
        let mut out = Vec::new();
        console_ready(&mut d, &mut m, &mut out);
        // Protected RAM, then the shared page's end and beyond.
        for (addr, len) in [(0x8000_0000, 16), (SHARED + 0xff0, 32)] {
            descriptor(&mut m, addr, len);
            w(&mut d, &mut m, &mut out, 0x50, 1);
            assert!(matches!(
                d.errors()[0],
                Some(virtio_host::DeviceError::Memory(_))
            ));
            assert!(out.is_empty());
            w(&mut d, &mut m, &mut out, 0x70, 0);
            console_ready(&mut d, &mut m, &mut out);
        }
    }
}
