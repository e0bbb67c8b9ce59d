//! virtio in a realm (feature `virtio`): the console and block devices a host emulates,
//! driven by the `virtio-drivers` crate over the MMIO transport (virtio 1.2 §4.2).
//!
//! # Memory
//!
//! Devices see only a pool of pages the realm shares with the host (`init` (runtime only) gives them
//! up: RIPAS `EMPTY`, reached at their unprotected alias). The drivers' queues live there,
//! and every buffer the realm passes (a sector, a console line) is copied into the pool
//! before the device may read it and out of the pool after the device wrote it: a private
//! page is never exposed ([`SharedHal`]). The device registers are at the unprotected
//! alias of their addresses, mapped as Device memory, where each access exits to the host
//! (a data abort with a valid syndrome, which the host emulates).
//!
//! # The host is hostile
//!
//! The device model runs in the host: everything it writes to the pool (used ring indices
//! and lengths, configuration values, sector data, status bytes) is untrusted. What keeps
//! the realm safe:
//!
//! - virtio-drivers 0.13 keeps its own copy of the descriptors (`desc_shadow`), masks used
//!   ring slots with the queue size and refuses a used element for a chain it did not
//!   expect (`Error::WrongToken`); `SharedHal`'s `unshare` copies back exactly the
//!   buffer's length, whatever length the device claims;
//! - [`Block`] checks every request against the capacity it read once at start, cuts
//!   transfers to [`MAX_TRANSFER`] bytes and returns the device's status as an error;
//! - [`Console`] only transmits: virtio-drivers 0.13's receive path trusts the used length
//!   (`VirtIOConsole::recv` indexes its page-sized buffer with it and asserts it is not
//!   zero, `device/console.rs`), which a lying host could turn into a panic;
//! - a device that claims the legacy (version 1) register layout is refused.
//!
//! A host that completes the wrong chain makes the request fail with `WrongToken` and
//! strands its bounce pages (virtio-drivers does not unshare them); once the pool runs low
//! every operation fails with [`VirtioError::PoolExhausted`]: the realm checks the free
//! pages before each request, so the pool running out is an error, never a panic.
//!
//! The free-page check and the allocation are two steps: drive the devices from one CPU at
//! a time (each `Console` and `Block` takes `&mut self`; two devices used from two CPUs at
//! once need a lock around both), or a race could empty the pool between them, which
//! `SharedHal` (whose `Hal` methods cannot fail) reports with a panic.
//!
//! What the host can still do, and nothing here can prevent: read and change every byte in
//! the pool (so data must be protected end to end: the attested-inference example encrypts
//! its model and inputs and authenticates its results), return wrong sector contents,
//! refuse requests, or never complete one (the realm polls the used ring, so the host can
//! stall it, as it can by not scheduling it).
//!
//! # Devices
//!
//! [`Devices`] lists the virtio-mmio devices: from a devicetree the host passed
//! (`Devices::from_dtb_in_ram`, runtime only) or, without one, the slots this project's hosts use
//! ([`Devices::host_default`], `cca_abi::virtio`).
//!
//! # Example (in a payload with the `rt` and `virtio` features)
//!
//! ```ignore
//! use realm_sdk::service::SharedPages;
//! use realm_sdk::virtio::{self, Devices, VirtioError};
//!
//! static mut POOL: SharedPages<32> = SharedPages::new();
//!
//! fn run(realm: &mut Realm<Smc>, args: EntryArgs) -> Result<(), VirtioError> {
//!     // SAFETY: the only reference to POOL.
//!     virtio::init(realm, unsafe { &mut *core::ptr::addr_of_mut!(POOL) })?;
//!     let devices = Devices::host_default(realm);
//!     let mut console = devices.console()?;
//!     console.write_line("hello over virtio")?;
//!     let mut disk = devices.block()?;
//!     let mut header = [0u8; 64];
//!     disk.read_at(0, &mut header)?;
//!     disk.write_at(4096, b"result")?;
//!     Ok(())
//! }
//! ```

#[allow(
    unsafe_code,
    reason = "the devices' registers and the devicetree are memory no Rust object owns"
)]
mod devices;
#[allow(
    unsafe_code,
    reason = "the Hal contract of virtio-drivers is unsafe; each block is justified"
)]
mod hal;

use core::fmt;

use virtio_drivers::device::blk::{SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::device::console::VirtIOConsole;
use virtio_drivers::transport::Transport;

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
pub use devices::Mmio;
pub use devices::{DeviceInfo, Devices, DtbError, MAX_DEVICES, MAX_DTB_SIZE};
pub use hal::{MAX_POOL_PAGES, PoolError, SharedHal};
pub use virtio_drivers::transport::DeviceType;

/// Bytes of one block-device sector.
pub const SECTOR: usize = SECTOR_SIZE;
/// The largest transfer [`Block`] hands the device in one request (longer reads and writes
/// are split): 32 KiB, so that a request with its header and status needs 10 pool pages.
pub const MAX_TRANSFER: usize = 32 << 10;
/// The largest piece of console output in one request: one page.
pub const MAX_CONSOLE_WRITE: usize = cca_abi::GRANULE_SIZE;
/// Pool pages a [`Console`] needs while it lives (two queues of two pages, the receive
/// buffer) plus one transmission.
pub const CONSOLE_POOL_PAGES: usize = 6;
/// Pool pages a [`Block`] needs while it lives (one queue of two pages) plus one request of
/// [`MAX_TRANSFER`] bytes (header, data, status).
pub const BLOCK_POOL_PAGES: usize = 2 + 1 + MAX_TRANSFER / cca_abi::GRANULE_SIZE + 1;

/// Why a virtio operation failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum VirtioError {
    /// Giving the pool's pages up to the host failed.
    Share(crate::rsi::RsiError),
    /// The pool could not be installed.
    Pool(PoolError),
    /// No pool: `init` (runtime only) was not called (or failed).
    NoPool,
    /// The pool has fewer free pages than the operation needs.
    PoolExhausted {
        /// Pages needed.
        needed: usize,
        /// Pages free.
        free: usize,
    },
    /// No device of this type in the list.
    NoDevice(DeviceType),
    /// The device's registers could not be mapped.
    Map,
    /// The device at this IPA is not a virtio-mmio device of version 2.
    Transport {
        /// The device's registers (unprotected IPA).
        ipa: u64,
    },
    /// The request lies outside the disk (as the device reported its capacity), or is not
    /// whole sectors.
    OutOfRange {
        /// First byte of the request.
        offset: u64,
        /// Length of the request.
        len: u64,
        /// The disk's size in bytes.
        size: u64,
    },
    /// The driver (virtio-drivers) or the device reported an error.
    Device(virtio_drivers::Error),
}

impl fmt::Display for VirtioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Share(e) => write!(f, "the virtio pool could not be shared: {e}"),
            Self::Pool(PoolError::AlreadyInstalled) => {
                f.write_str("a virtio pool is already installed")
            }
            Self::Pool(PoolError::BadPool) => write!(
                f,
                "a virtio pool must be 1 to {MAX_POOL_PAGES} page-aligned pages"
            ),
            Self::NoPool => f.write_str("virtio::init has not installed a shared pool"),
            Self::PoolExhausted { needed, free } => write!(
                f,
                "the virtio pool has {free} free pages, the operation needs {needed}"
            ),
            Self::NoDevice(t) => write!(f, "no virtio {} device in the device list", type_name(*t)),
            Self::Map => f.write_str("the device's registers could not be mapped"),
            Self::Transport { ipa } => {
                write!(f, "no virtio-mmio version 2 device answers at IPA {ipa:#x}")
            }
            Self::OutOfRange { offset, len, size } => write!(
                f,
                "{len} bytes at offset {offset:#x} are not whole sectors inside a disk of {size:#x} bytes"
            ),
            Self::Device(e) => write!(f, "virtio device error: {e}"),
        }
    }
}

impl core::error::Error for VirtioError {}

impl From<virtio_drivers::Error> for VirtioError {
    fn from(e: virtio_drivers::Error) -> Self {
        Self::Device(e)
    }
}

fn type_name(t: DeviceType) -> &'static str {
    match t {
        DeviceType::Block => "block",
        DeviceType::Console => "console",
        _ => "other",
    }
}

fn reserve(needed: usize) -> Result<(), VirtioError> {
    if !hal::installed() {
        return Err(VirtioError::NoPool);
    }
    let free = hal::free_pages();
    if free < needed {
        return Err(VirtioError::PoolExhausted { needed, free });
    }
    Ok(())
}

/// Gives `pages` up to the host as the virtio pool ([`crate::service::share`]: RIPAS
/// `EMPTY`, then reached at the unprotected alias) and installs it. Call it once.
///
/// # Errors
///
/// [`VirtioError::Share`] if the RIPAS change fails, [`VirtioError::Pool`] if a pool is
/// already installed or `N` is 0 or over [`MAX_POOL_PAGES`].
#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
#[allow(
    unsafe_code,
    reason = "installing the pool hands the shared pages to the Hal"
)]
pub fn init<C: crate::Conduit, const N: usize>(
    realm: &mut crate::Realm<C>,
    pages: &'static mut crate::service::SharedPages<N>,
) -> Result<(), VirtioError> {
    use crate::service::Window;
    if hal::installed() {
        return Err(VirtioError::Pool(PoolError::AlreadyInstalled));
    }
    if N == 0 || N > MAX_POOL_PAGES {
        return Err(VirtioError::Pool(PoolError::BadPool));
    }
    let window = crate::service::share(realm, pages).map_err(VirtioError::Share)?;
    // SAFETY: `share` turned the pages into shared memory reached at `window.ipa()`, which
    // the runtime's identity map holds read/write (Normal non-cacheable); the `'static`
    // borrow it consumed leaves the window the only user, and it is dropped here.
    unsafe { hal::install(window.ipa() as usize, window.size() / cca_abi::GRANULE_SIZE) }
        .map_err(VirtioError::Pool)
}

/// Installs a pool of `pages` pages at `base`, for a host test whose device double reaches
/// the same memory (the realm uses `init` (runtime only)).
///
/// # Errors
///
/// [`VirtioError::Pool`] as for `init` (runtime only).
///
/// # Safety
///
/// `[base, base + pages * 4096)` must be page aligned, mapped read/write, and used by
/// nothing but the pool and the device from now on.
#[allow(
    unsafe_code,
    reason = "installing the pool hands raw memory to the Hal"
)]
pub unsafe fn install_pool(base: usize, pages: usize) -> Result<(), VirtioError> {
    // SAFETY: the caller's contract is `install`'s.
    unsafe { hal::install(base, pages) }.map_err(VirtioError::Pool)
}

/// Free pages in the pool (0 if none is installed).
#[must_use]
pub fn pool_free_pages() -> usize {
    hal::free_pages()
}

/// A virtio console (port 0), for output. Input is not read (see the module docs).
///
/// Make one per device and keep it: dropping it leaves one pool page taken (virtio-drivers
/// 0.13 does not unshare the receive request still outstanding).
pub struct Console<T: Transport> {
    inner: VirtIOConsole<SharedHal, T>,
}

impl<T: Transport> fmt::Debug for Console<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Console")
    }
}

impl<T: Transport> Console<T> {
    /// Initialises the console behind `transport`.
    ///
    /// # Errors
    ///
    /// [`VirtioError::PoolExhausted`] without [`CONSOLE_POOL_PAGES`] free pool pages,
    /// [`VirtioError::NoDevice`] if it is not a console, [`VirtioError::Device`] if the
    /// initialisation fails.
    pub fn new(transport: T) -> Result<Self, VirtioError> {
        if transport.device_type() != DeviceType::Console {
            return Err(VirtioError::NoDevice(DeviceType::Console));
        }
        reserve(CONSOLE_POOL_PAGES)?;
        Ok(Self {
            inner: VirtIOConsole::new(transport)?,
        })
    }

    /// Sends `bytes`, a page at a time.
    ///
    /// # Errors
    ///
    /// [`VirtioError::Device`] if a transmission fails.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), VirtioError> {
        for chunk in bytes.chunks(MAX_CONSOLE_WRITE) {
            reserve(hal::pages_for(chunk.len()))?;
            self.inner.send_bytes(chunk)?;
        }
        Ok(())
    }

    /// Sends `line` and a newline.
    ///
    /// # Errors
    ///
    /// As [`Console::write`].
    pub fn write_line(&mut self, line: &str) -> Result<(), VirtioError> {
        self.write(line.as_bytes())?;
        self.write(b"\n")
    }
}

impl<T: Transport> fmt::Write for Console<T> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// A virtio block device: sectors of [`SECTOR`] bytes, or byte ranges.
pub struct Block<T: Transport> {
    inner: VirtIOBlk<SharedHal, T>,
    /// Size in bytes, from the capacity the device reported once at start (untrusted: it
    /// bounds requests, nothing else).
    size: u64,
}

impl<T: Transport> fmt::Debug for Block<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Block({:#x} bytes)", self.size)
    }
}

impl<T: Transport> Block<T> {
    /// Initialises the block device behind `transport`.
    ///
    /// # Errors
    ///
    /// [`VirtioError::PoolExhausted`] without [`BLOCK_POOL_PAGES`] free pool pages,
    /// [`VirtioError::NoDevice`] if it is not a block device, [`VirtioError::Device`] if
    /// the initialisation fails.
    pub fn new(transport: T) -> Result<Self, VirtioError> {
        if transport.device_type() != DeviceType::Block {
            return Err(VirtioError::NoDevice(DeviceType::Block));
        }
        reserve(BLOCK_POOL_PAGES)?;
        let inner = VirtIOBlk::new(transport)?;
        // A capacity whose byte size overflows is cut to what u64 holds.
        let size = inner.capacity().saturating_mul(SECTOR as u64);
        Ok(Self { inner, size })
    }

    /// The disk's size in bytes, as the device reported it.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The disk's size in sectors.
    #[must_use]
    pub fn sectors(&self) -> u64 {
        self.size / SECTOR as u64
    }

    /// The device's identifier (`VIRTIO_BLK_T_GET_ID`): up to 20 bytes, copied into `id`;
    /// returns its length.
    ///
    /// # Errors
    ///
    /// [`VirtioError::Device`] if the device refuses.
    pub fn id(&mut self, id: &mut [u8; 20]) -> Result<usize, VirtioError> {
        reserve(3)?;
        Ok(self.inner.device_id(id)?.min(20))
    }

    fn check(&self, offset: u64, len: usize, whole_sectors: bool) -> Result<(), VirtioError> {
        let len = len as u64;
        let bad = VirtioError::OutOfRange {
            offset,
            len,
            size: self.size,
        };
        let aligned = offset.is_multiple_of(SECTOR as u64) && len.is_multiple_of(SECTOR as u64);
        if whole_sectors && !aligned {
            return Err(bad);
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(bad),
        }
    }

    /// Reads `buf.len()` bytes (whole sectors) from sector `sector`.
    ///
    /// # Errors
    ///
    /// [`VirtioError::OutOfRange`] if the range is not whole sectors inside the disk,
    /// [`VirtioError::Device`] if the device fails a request.
    pub fn read_sectors(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), VirtioError> {
        let offset = sector.saturating_mul(SECTOR as u64);
        self.check(offset, buf.len(), true)?;
        let mut at = sector;
        for chunk in buf.chunks_mut(MAX_TRANSFER) {
            reserve(2 + hal::pages_for(chunk.len()))?;
            self.inner.read_blocks(at as usize, chunk)?;
            at += (chunk.len() / SECTOR) as u64;
        }
        Ok(())
    }

    /// Writes `data` (whole sectors) from sector `sector`.
    ///
    /// # Errors
    ///
    /// As [`Block::read_sectors`].
    pub fn write_sectors(&mut self, sector: u64, data: &[u8]) -> Result<(), VirtioError> {
        let offset = sector.saturating_mul(SECTOR as u64);
        self.check(offset, data.len(), true)?;
        let mut at = sector;
        for chunk in data.chunks(MAX_TRANSFER) {
            reserve(2 + hal::pages_for(chunk.len()))?;
            self.inner.write_blocks(at as usize, chunk)?;
            at += (chunk.len() / SECTOR) as u64;
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at byte `offset`, any alignment.
    ///
    /// # Errors
    ///
    /// [`VirtioError::OutOfRange`] if the range is not inside the disk,
    /// [`VirtioError::Device`] if the device fails a request.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), VirtioError> {
        self.check(offset, buf.len(), false)?;
        let mut done = 0;
        let mut sector_buf = [0u8; SECTOR];
        while done < buf.len() {
            let at = offset + done as u64;
            let skip = (at % SECTOR as u64) as usize;
            let sector = at / SECTOR as u64;
            let left = buf.len() - done;
            if skip == 0 && left >= SECTOR {
                // Whole sectors straight into the caller's buffer.
                let n = (left - left % SECTOR).min(MAX_TRANSFER);
                self.read_sectors(sector, &mut buf[done..done + n])?;
                done += n;
            } else {
                self.read_sectors(sector, &mut sector_buf)?;
                let n = (SECTOR - skip).min(left);
                buf[done..done + n].copy_from_slice(&sector_buf[skip..skip + n]);
                done += n;
            }
        }
        Ok(())
    }

    /// Writes `data` at byte `offset`, any alignment (partial sectors are read, changed
    /// and written back).
    ///
    /// # Errors
    ///
    /// As [`Block::read_at`].
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), VirtioError> {
        self.check(offset, data.len(), false)?;
        let mut done = 0;
        let mut sector_buf = [0u8; SECTOR];
        while done < data.len() {
            let at = offset + done as u64;
            let skip = (at % SECTOR as u64) as usize;
            let sector = at / SECTOR as u64;
            let left = data.len() - done;
            if skip == 0 && left >= SECTOR {
                let n = (left - left % SECTOR).min(MAX_TRANSFER);
                self.write_sectors(sector, &data[done..done + n])?;
                done += n;
            } else {
                self.read_sectors(sector, &mut sector_buf)?;
                let n = (SECTOR - skip).min(left);
                sector_buf[skip..skip + n].copy_from_slice(&data[done..done + n]);
                self.write_sectors(sector, &sector_buf)?;
                done += n;
            }
        }
        Ok(())
    }
}
