//! The list of virtio-mmio devices: from the host's devicetree or this project's default
//! slots, and (in a realm) the transports over them.

use core::fmt;

use cca_abi::virtio as slots;

use crate::{Conduit, Realm};

/// The most devices a [`Devices`] list holds.
pub const MAX_DEVICES: usize = 8;
/// The largest devicetree blob accepted.
pub const MAX_DTB_SIZE: usize = 64 << 10;

/// One virtio-mmio device.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct DeviceInfo {
    /// Its registers' IPA in the unprotected half (where accesses exit to the host).
    pub ipa: u64,
    /// Size of its register region in bytes.
    pub size: u64,
    /// Its interrupt: the second cell of the first `interrupts` specifier (GIC binding:
    /// type, number, flags), if there is one; the drivers here poll and do not use it.
    pub irq: Option<u32>,
}

/// The virtio-mmio devices the realm may drive.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Devices {
    list: [DeviceInfo; MAX_DEVICES],
    len: usize,
    /// Memory the devicetree declares (`/memory` `reg`), first range, if any.
    memory: Option<(u64, u64)>,
}

/// Why a devicetree blob was refused. Everything in it is the host's.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DtbError {
    /// The blob's address or its `totalsize` puts it outside the realm's RAM.
    OutsideRam {
        /// The blob's address.
        ipa: u64,
    },
    /// `totalsize` is over [`MAX_DTB_SIZE`] or under the header's size.
    BadSize(u32),
    /// The blob does not start with the FDT magic 0xd00dfeed.
    BadMagic(u32),
    /// The `fdt` crate refused the blob's structure.
    Malformed,
    /// A virtio-mmio node has no usable `reg` (missing, not 2 + 2 cells, empty, or in the
    /// unprotected half already).
    BadReg,
    /// More than [`MAX_DEVICES`] virtio-mmio nodes.
    TooManyDevices,
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutsideRam { ipa } => {
                write!(
                    f,
                    "the devicetree at IPA {ipa:#x} does not lie inside realm RAM"
                )
            }
            Self::BadSize(n) => write!(
                f,
                "the devicetree's size {n:#x} is outside 0x28..={MAX_DTB_SIZE:#x}"
            ),
            Self::BadMagic(m) => write!(f, "no devicetree: magic {m:#x}, not 0xd00dfeed"),
            Self::Malformed => f.write_str("the devicetree is malformed"),
            Self::BadReg => f.write_str("a virtio,mmio node has no usable reg property"),
            Self::TooManyDevices => write!(f, "more than {MAX_DEVICES} virtio,mmio nodes"),
        }
    }
}

impl core::error::Error for DtbError {}

impl Devices {
    /// The slots this project's hosts (el2-harness, rmi-shim's builder and so rmi-host)
    /// emulate when they pass no devicetree: a console at `cca_abi::virtio::MMIO_BASE` and
    /// a block device 0x200 above it, at the realm's unprotected alias.
    #[must_use]
    pub fn host_default<C: Conduit>(realm: &Realm<C>) -> Self {
        Self::default_for(realm.unprotected_bit())
    }

    fn default_for(unprotected_bit: u64) -> Self {
        let mut devices = Self::default();
        for slot in 0..slots::SLOTS {
            devices.push(DeviceInfo {
                ipa: (slots::MMIO_BASE + slot * slots::MMIO_STRIDE) | unprotected_bit,
                size: slots::MMIO_STRIDE,
                irq: None,
            });
        }
        devices
    }

    fn push(&mut self, info: DeviceInfo) -> bool {
        if self.len == MAX_DEVICES {
            return false;
        }
        self.list[self.len] = info;
        self.len += 1;
        true
    }

    /// The devices.
    #[must_use]
    pub fn list(&self) -> &[DeviceInfo] {
        &self.list[..self.len]
    }

    /// The first memory range the devicetree declares (base, size), if it was read from one
    /// that has it. Untrusted: the realm's RAM is what the RMM measured, not this.
    #[must_use]
    pub fn memory(&self) -> Option<(u64, u64)> {
        self.memory
    }

    /// Reads the devices from the devicetree `blob` (which the caller copied out of realm
    /// RAM, see `Devices::from_dtb_in_ram`, runtime only): every node whose `compatible` holds
    /// `virtio,mmio`, its first `reg` range (two address and two size cells, as QEMU and
    /// kvmtool write them) moved to the unprotected half with `unprotected_bit`, and its
    /// first interrupt; and `/memory`.
    ///
    /// # Errors
    ///
    /// [`DtbError`] for a blob that is not a devicetree, is malformed or has a node that
    /// cannot be used.
    pub fn parse_dtb(blob: &[u8], unprotected_bit: u64) -> Result<Self, DtbError> {
        let magic = blob
            .get(..4)
            .map_or(0, |m| u32::from_be_bytes(m.try_into().expect("4 bytes")));
        if magic != 0xd00d_feed {
            return Err(DtbError::BadMagic(magic));
        }
        let blob = checked_header(blob)?;
        let fdt = fdt::Fdt::new_unaligned_fallible(blob).map_err(|_| DtbError::Malformed)?;
        let mut devices = Self::default();
        for node in fdt.all_nodes().map_err(|_| DtbError::Malformed)? {
            let (_, node) = node.map_err(|_| DtbError::Malformed)?;
            let name = node.name().map_err(|_| DtbError::Malformed)?;
            let compatible = node
                .raw_property("compatible")
                .map_err(|_| DtbError::Malformed)?;
            let is_virtio =
                compatible.is_some_and(|c| c.value.split(|&b| b == 0).any(|s| s == b"virtio,mmio"));
            let is_memory = name.name == "memory";
            if !is_virtio && !is_memory {
                continue;
            }
            let reg = node.raw_property("reg").map_err(|_| DtbError::Malformed)?;
            let (base, size) = first_reg(reg)?;
            if is_memory {
                devices.memory.get_or_insert((base, size));
                continue;
            }
            let end = base.checked_add(size).ok_or(DtbError::BadReg)?;
            if size == 0 || end > unprotected_bit {
                return Err(DtbError::BadReg);
            }
            let irq = node
                .raw_property("interrupts")
                .ok()
                .flatten()
                .and_then(|p| p.value.get(4..8))
                .map(|v| u32::from_be_bytes(v.try_into().expect("4 bytes")));
            let info = DeviceInfo {
                ipa: base | unprotected_bit,
                size,
                irq,
            };
            if !devices.push(info) {
                return Err(DtbError::TooManyDevices);
            }
        }
        Ok(devices)
    }
}

/// Checks the header (devicetree specification v0.4 §5.2) before the `fdt` crate reads it:
/// fdt 0.2.0-alpha3 adds the blocks' offsets and sizes as `u32` without checking for
/// overflow (`Fdt::new_unaligned`), which panics in a debug build and slices out of range in
/// a release one. Returns the blob cut to its `totalsize`.
fn checked_header(blob: &[u8]) -> Result<&[u8], DtbError> {
    let word = |i: usize| {
        blob.get(i * 4..i * 4 + 4)
            .map(|w| u64::from(u32::from_be_bytes(w.try_into().expect("4 bytes"))))
            .ok_or(DtbError::Malformed)
    };
    let total = word(1)?;
    if total < 0x28 || total > MAX_DTB_SIZE as u64 {
        return Err(DtbError::BadSize(total as u32));
    }
    if total > blob.len() as u64 {
        return Err(DtbError::Malformed);
    }
    let (structs, strings, rsvmap) = (word(2)?, word(3)?, word(4)?);
    let (strings_size, structs_size) = (word(8)?, word(9)?);
    if structs + structs_size > total || strings + strings_size > total || rsvmap >= total {
        return Err(DtbError::Malformed);
    }
    Ok(&blob[..total as usize])
}

/// The first `reg` range of a node, with two address and two size cells.
fn first_reg(reg: Option<fdt::nodes::NodeProperty<'_>>) -> Result<(u64, u64), DtbError> {
    let reg = reg.ok_or(DtbError::BadReg)?;
    let value = reg.value;
    if value.len() < 16 {
        return Err(DtbError::BadReg);
    }
    let cell = |i: usize| {
        u64::from(u32::from_be_bytes(
            value[i * 4..i * 4 + 4].try_into().expect("4 bytes"),
        ))
    };
    Ok((cell(0) << 32 | cell(1), cell(2) << 32 | cell(3)))
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
mod realm {
    use core::ptr::NonNull;

    use safe_mmio::UniqueMmioPointer;
    use safe_mmio::fields::ReadPure;
    use virtio_drivers::transport::DeviceType;
    use virtio_drivers::transport::mmio::{MmioTransport, MmioVersion, VirtIOHeader};

    use super::{DeviceInfo, Devices, DtbError, MAX_DTB_SIZE};
    use crate::rt::mmu;
    use crate::virtio::{Block, Console, VirtioError};
    use crate::{Conduit, Ipa, Realm};

    /// Device regions mapped so far (page-aligned start and end; 0 is free).
    static MAPPED: spin::Mutex<[(u64, u64); super::MAX_DEVICES]> =
        spin::Mutex::new([(0, 0); super::MAX_DEVICES]);

    /// The transport of the realm's devices.
    pub type Mmio = MmioTransport<'static>;

    impl Devices {
        /// Reads the devices from the devicetree at `dtb` (the `x0` the host entered the
        /// realm with, Linux arm64 boot protocol): the blob must lie inside realm RAM and be
        /// at most [`MAX_DTB_SIZE`] bytes; it is copied into private memory before parsing.
        ///
        /// # Errors
        ///
        /// [`DtbError`] as for [`Devices::parse_dtb`], or [`DtbError::OutsideRam`].
        pub fn from_dtb_in_ram<C: Conduit>(realm: &Realm<C>, dtb: Ipa) -> Result<Self, DtbError> {
            let (ram_start, ram_end) = mmu::realm_ram();
            let outside = DtbError::OutsideRam { ipa: dtb.0 };
            let header_end = dtb.0.checked_add(8).ok_or(outside)?;
            if dtb.0 < ram_start.0 || header_end > ram_end.0 || !dtb.is_aligned(8) {
                return Err(outside);
            }
            let mut header = [0u8; 8];
            copy_from_ram(dtb.0, &mut header);
            let total = u32::from_be_bytes(header[4..8].try_into().expect("4 bytes"));
            if !(0x28..=MAX_DTB_SIZE as u32).contains(&total) {
                return Err(DtbError::BadSize(total));
            }
            let end = dtb.0.checked_add(u64::from(total)).ok_or(outside)?;
            if end > ram_end.0 {
                return Err(outside);
            }
            let mut blob = alloc::vec![0u8; total as usize];
            copy_from_ram(dtb.0, &mut blob);
            Self::parse_dtb(&blob, realm.unprotected_bit())
        }

        /// Initialises the first console in the list.
        ///
        /// # Errors
        ///
        /// [`VirtioError::NoDevice`] if there is none, or as [`Console::new`].
        pub fn console(&self) -> Result<Console<Mmio>, VirtioError> {
            Console::new(self.transport(DeviceType::Console)?)
        }

        /// Initialises the first block device in the list.
        ///
        /// # Errors
        ///
        /// [`VirtioError::NoDevice`] if there is none, or as [`Block::new`].
        pub fn block(&self) -> Result<Block<Mmio>, VirtioError> {
            Block::new(self.transport(DeviceType::Block)?)
        }

        /// Maps each device's registers in turn and returns the first of type `wanted`.
        fn transport(&self, wanted: DeviceType) -> Result<Mmio, VirtioError> {
            for info in self.list() {
                if let Some(t) = open(info, wanted)? {
                    return Ok(t);
                }
            }
            Err(VirtioError::NoDevice(wanted))
        }
    }

    fn copy_from_ram(ipa: u64, buf: &mut [u8]) {
        let src = core::ptr::with_exposed_provenance::<u8>(ipa as usize);
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: the caller checked `[ipa, ipa + len)` lies in realm RAM, which the
            // runtime maps (Normal memory) at its IPA; volatile byte reads make no claim
            // about what the bytes are.
            *b = unsafe { src.add(i).read_volatile() };
        }
    }

    /// virtio-mmio `MagicValue` (§4.2.2).
    const MAGIC_VALUE: u32 = 0x7472_6976;

    /// Maps `info`'s page(s) as Device memory and opens its transport if it is a device of
    /// type `wanted`; `None` for another type or an empty slot (device ID 0, §4.2.3.1.1).
    fn open(info: &DeviceInfo, wanted: DeviceType) -> Result<Option<Mmio>, VirtioError> {
        let page = info.ipa & !0xfff;
        let end = info
            .ipa
            .checked_add(info.size)
            .ok_or(VirtioError::Map)?
            .next_multiple_of(0x1000);
        let size = usize::try_from(info.size).map_err(|_| VirtioError::Map)?;
        if size < 0x100 {
            return Err(VirtioError::Transport { ipa: info.ipa });
        }
        // Two devices may share a page: map each region once.
        {
            let mut mapped = MAPPED.lock();
            if !mapped.contains(&(page, end)) {
                let slot = mapped
                    .iter()
                    .position(|&(p, _)| p == 0)
                    .ok_or(VirtioError::Map)?;
                mmu::map_device(Ipa(page), (end - page) as usize).map_err(|_| VirtioError::Map)?;
                mapped[slot] = (page, end);
            }
        }
        // Identify the device before making a transport: dropping an `MmioTransport`
        // resets its device, which would undo another driver's set-up.
        let register = |offset: u64| {
            let ptr = NonNull::new(core::ptr::with_exposed_provenance_mut::<ReadPure<u32>>(
                (info.ipa + offset) as usize,
            ))
            .ok_or(VirtioError::Map)?;
            // SAFETY: a 32-bit register inside the device's region, mapped as Device memory
            // above; reading it has no side effect (MagicValue, Version, DeviceID, §4.2.2).
            let reg = unsafe { UniqueMmioPointer::new(ptr) };
            Ok::<u32, VirtioError>(reg.read())
        };
        if register(0)? != MAGIC_VALUE || register(4)? != 2 {
            return Err(VirtioError::Transport { ipa: info.ipa });
        }
        let found = register(8)?;
        if found == 0 || DeviceType::try_from(found).ok() != Some(wanted) {
            return Ok(None);
        }
        let header = NonNull::new(core::ptr::with_exposed_provenance_mut::<VirtIOHeader>(
            info.ipa as usize,
        ))
        .ok_or(VirtioError::Map)?;
        // SAFETY: `header` is the device's register region, `size` bytes, now mapped as
        // Device memory for the rest of the program; no other transport is made for it (the
        // caller stops at the first device of the type it wants).
        let transport = match unsafe { MmioTransport::new(header, size) } {
            Ok(t) => t,
            Err(_) => return Err(VirtioError::Transport { ipa: info.ipa }),
        };
        if transport.version() != MmioVersion::Modern {
            return Err(VirtioError::Transport { ipa: info.ipa });
        }
        Ok(Some(transport))
    }
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
pub use realm::Mmio;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_slots_are_the_hosts() {
        let d = Devices::default_for(1 << 38);
        assert_eq!(d.list().len(), 2);
        assert_eq!(d.list()[0].ipa, 0x40_0a00_0000);
        assert_eq!(d.list()[1].ipa, 0x40_0a00_0200);
        assert_eq!(d.memory(), None);
    }
}
