//! The harness's memory map and boot-information block (see `harness.ld`).

/// Where the runner puts the boot information (`-device loader,addr=...,data=...`).
pub const BOOT_INFO_PA: u64 = 0x4100_0000;
/// `BOOT_INFO_PA + 0x00`: this magic ("REALMIMG", little-endian).
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"REALMIMG");
/// `BOOT_INFO_PA + 0x08`: size of the realm image in bytes.
pub const BOOT_INFO_IMAGE_SIZE: u64 = 0x08;
/// `BOOT_INFO_PA + 0x10`: the realm's `x0` at entry.
pub const BOOT_INFO_ENTRY_X0: u64 = 0x10;
/// `BOOT_INFO_PA + 0x18`: the realm's `x1` at entry.
pub const BOOT_INFO_ENTRY_X1: u64 = 0x18;
/// `BOOT_INFO_PA + 0x20`: the RMM the harness models, [`MODEL_TF_RMM_V0_8`] or
/// [`MODEL_TF_RMM_V0_9`].
pub const BOOT_INFO_MODEL: u64 = 0x20;
/// `BOOT_INFO_PA + 0x28`: the number of RECs (1 to 8, one physical CPU each: QEMU needs
/// `-smp` at least this); 0, what a runner that does not write the word leaves, means 1.
pub const BOOT_INFO_RECS: u64 = 0x28;
/// [`BOOT_INFO_MODEL`] value: TF-RMM v0.8.0's default build, RSI 1.0 only.
pub const MODEL_TF_RMM_V0_8: u64 = 0;
/// [`BOOT_INFO_MODEL`] value: TF-RMM v0.9.0, RSI 1.0 and 1.1.
pub const MODEL_TF_RMM_V0_9: u64 = 1;

/// Physical address the runner loads the realm image to (`-device loader,file=...`).
pub const REALM_RAM_PA: u64 = 0x4200_0000;
/// IPA of realm RAM: the `REALM_RAM` origin of `realm-build/linker/qemu-virt-realm.ld`.
pub const REALM_RAM_IPA: u64 = 0x8000_0000;
/// Size of realm RAM.
pub const REALM_RAM_SIZE: u64 = 32 << 20;
/// Host memory behind the unprotected alias of realm RAM: the realm's shared buffers (see
/// `hostcall::SERVICE`). The alias of realm IPA `REALM_RAM_IPA + off` is PA
/// `SHARED_PA + off`.
pub const SHARED_PA: u64 = REALM_RAM_PA + REALM_RAM_SIZE;
/// The unprotected alias of `REALM_RAM_IPA`.
pub const SHARED_IPA: u64 = REALM_RAM_IPA | (1 << (IPA_WIDTH - 1));
/// The realm's IPA width; the unprotected alias bit is bit 38.
pub const IPA_WIDTH: u8 = 39;
/// QEMU virt PL011 UART0.
pub const UART_PA: u64 = 0x0900_0000;
/// Physical address of the virtio block device's disk window: the runner loads the disk
/// image there (`-device loader,file=...,addr=...,force-raw=on`); the realm sees
/// [`DISK_WINDOW`] bytes whatever the file's size (QEMU's RAM reads as zeros past it).
pub const DISK_PA: u64 = cca_abi::virtio::HARNESS_DISK_PA;
/// Size of the disk window.
pub const DISK_WINDOW: u64 = cca_abi::virtio::DISK_WINDOW;
