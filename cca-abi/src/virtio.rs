//! Where this project's hosts (el2-harness and rmi-shim's builder) put their virtio-mmio
//! devices, for a realm that gets no devicetree.
//!
//! The devices sit in the *unprotected* half of the realm's IPA space, where every access
//! exits to the host as an emulatable data abort (the RMM forwards aborts at unprotected
//! IPAs the host did not map; TF-RMM v0.8.0 `runtime/core/exit.c`, `handle_data_abort`).
//! The addresses below are the protected-half values; the realm ORs in its
//! unprotected-alias bit (`Realm::unprotected_alias`). They follow QEMU virt's own
//! virtio-mmio window (0x0a00_0000, 0x200 bytes per device).

/// IPA (without the unprotected bit) of the first virtio-mmio device.
pub const MMIO_BASE: u64 = 0x0a00_0000;
/// Bytes of IPA space per device: registers at 0x000..0x100, configuration from 0x100
/// (virtio 1.2 §4.2.2).
pub const MMIO_STRIDE: u64 = 0x200;
/// Device slot of the virtio console (device ID 3).
pub const SLOT_CONSOLE: u64 = 0;
/// Device slot of the virtio block device (device ID 2).
pub const SLOT_BLOCK: u64 = 1;
/// Number of device slots the hosts emulate.
pub const SLOTS: u64 = 2;
/// Size of the block device's backing window in bytes: a disk image is at most this long;
/// the device's capacity is always this (a shorter file reads as zeros past its end).
pub const DISK_WINDOW: u64 = 16 << 20;
/// Physical address of the disk window under el2-harness (QEMU virt, `-m 1G`): above the
/// harness's realm RAM and shared memory (0x4200_0000..0x4600_0000).
pub const HARNESS_DISK_PA: u64 = 0x5000_0000;
/// Physical address of the disk window under rmi-host (QEMU virt with TF-A, `-m 2G`): above
/// rmi-host's delegation pool (0x4400_0000..0x5c00_0000), below the end of RAM
/// (0xc000_0000), away from TF-A's and TF-RMM's memory (below 0x4400_0000).
pub const RMI_HOST_DISK_PA: u64 = 0x7000_0000;
