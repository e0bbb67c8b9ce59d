//! realm-sdk's virtio drivers (`SharedHal`, `Console`, `Block`) against a test double of
//! the host: a transport that calls virtio-host's device model directly instead of trapping,
//! over a pool of heap pages standing in for the realm's shared memory. The device model
//! reaches nothing but the pool, so a request that completes proves its buffers were
//! bounced through it; hostile variants lie in the used ring and the configuration.
#![allow(
    unsafe_code,
    reason = "the test double reaches the pool through raw pointers"
)]

use std::sync::{Arc, Mutex, Once};

use realm_sdk::service::SharedPages;
use realm_sdk::virtio::{self, Block, Console, VirtioError};
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{Error as DriverError, PhysAddr};
use virtio_host::{Disk, Function, Io, MmioDevice, OutOfShared};
use zerocopy::{FromBytes, Immutable, IntoBytes};

const POOL_PAGES: usize = 128;

/// The pool's address and size, once installed.
fn pool() -> (usize, usize) {
    static ONCE: Once = Once::new();
    static mut BASE: usize = 0;
    ONCE.call_once(|| {
        let pages: &'static mut SharedPages<POOL_PAGES> = Box::leak(Box::new(SharedPages::new()));
        let base = std::ptr::from_mut(pages).expose_provenance();
        // SAFETY: leaked, page-aligned heap memory nothing else uses.
        unsafe { virtio::install_pool(base, POOL_PAGES) }.unwrap();
        // SAFETY: written once, inside `call_once`, before any reader.
        unsafe { BASE = base };
    });
    // SAFETY: `call_once` above finished writing it.
    (unsafe { BASE }, POOL_PAGES * 4096)
}

/// Tests share one pool: run them one at a time so that free-page counts are exact.
static SERIAL: Mutex<()> = Mutex::new(());

/// The host's view of the pool: every access bounds-checked against it.
struct PoolIo {
    /// What the host saw: console output and device errors.
    record: Arc<Mutex<Record>>,
    /// Hostile: add this to every used element's length the device writes.
    inflate_used_len: u32,
    /// Hostile: replace the id of every used element with this.
    wrong_used_id: Option<u32>,
}

impl Io for PoolIo {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), OutOfShared> {
        let (base, size) = pool();
        let off = (ipa as usize)
            .checked_sub(base)
            .ok_or(OutOfShared { ipa })?;
        if off.checked_add(buf.len()).is_none_or(|end| end > size) {
            return Err(OutOfShared { ipa });
        }
        let src = std::ptr::with_exposed_provenance::<u8>(ipa as usize);
        // SAFETY: inside the leaked pool (checked); the driver is not running meanwhile.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), OutOfShared> {
        let (base, size) = pool();
        let off = (ipa as usize)
            .checked_sub(base)
            .ok_or(OutOfShared { ipa })?;
        if off.checked_add(data.len()).is_none_or(|end| end > size) {
            return Err(OutOfShared { ipa });
        }
        let mut data = data.to_vec();
        // A used element is 8 bytes at an 8-byte offset past the ring's 4-byte header.
        if data.len() == 8 {
            if let Some(id) = self.wrong_used_id {
                data[0..4].copy_from_slice(&id.to_le_bytes());
            }
            let len = u32::from_le_bytes(data[4..8].try_into().unwrap());
            data[4..8].copy_from_slice(&len.wrapping_add(self.inflate_used_len).to_le_bytes());
        }
        let dst = std::ptr::with_exposed_provenance_mut::<u8>(ipa as usize);
        // SAFETY: as for `read`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }

    fn console(&mut self, bytes: &[u8]) {
        self.record.lock().unwrap().console.extend_from_slice(bytes);
    }
}

/// What the host side saw, kept outside the driver that owns the transport.
#[derive(Default)]
struct Record {
    console: Vec<u8>,
    errors: Vec<String>,
}

/// Test double of the MMIO transport: register accesses go straight to the device model.
struct FakeMmio {
    device: MmioDevice<'static>,
    io: PoolIo,
    /// Hostile: the capacity the configuration space reports instead of the device's.
    capacity: Option<u64>,
}

impl FakeMmio {
    fn new(function: Function<'static>) -> Self {
        Self {
            device: MmioDevice::new(function),
            io: PoolIo {
                record: Arc::default(),
                inflate_used_len: 0,
                wrong_used_id: None,
            },
            capacity: None,
        }
    }

    fn block(bytes: usize) -> Self {
        let data: &'static mut [u8] = Box::leak(
            (0..bytes)
                .map(|i| (i % 253) as u8)
                .collect::<Vec<u8>>()
                .into_boxed_slice(),
        );
        Self::new(Function::Block(Disk::new(data, b"test-double-disk")))
    }

    fn r(&self, off: u64) -> u32 {
        self.device.read(off, 4) as u32
    }

    fn w(&mut self, off: u64, v: u32) {
        self.device.write(off, 4, u64::from(v), &mut self.io);
    }
}

impl Transport for FakeMmio {
    fn device_type(&self) -> DeviceType {
        DeviceType::try_from(self.r(0x8)).unwrap()
    }

    fn read_device_features(&mut self) -> u64 {
        self.w(0x14, 0);
        let low = self.r(0x10);
        self.w(0x14, 1);
        u64::from(low) | u64::from(self.r(0x10)) << 32
    }

    fn write_driver_features(&mut self, f: u64) {
        self.w(0x24, 0);
        self.w(0x20, f as u32);
        self.w(0x24, 1);
        self.w(0x20, (f >> 32) as u32);
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.w(0x30, u32::from(queue));
        self.r(0x34)
    }

    fn notify(&mut self, queue: u16) {
        self.w(0x50, u32::from(queue));
        if let Some(e) = self.device.error() {
            self.io.record.lock().unwrap().errors.push(e.to_string());
        }
    }

    fn get_status(&self) -> DeviceStatus {
        DeviceStatus::from_bits_truncate(self.r(0x70))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.w(0x70, status.bits());
    }

    fn set_guest_page_size(&mut self, _size: u32) {}

    fn requires_legacy_layout(&self) -> bool {
        false
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        desc: PhysAddr,
        driver: PhysAddr,
        device: PhysAddr,
    ) {
        self.w(0x30, u32::from(queue));
        self.w(0x38, size);
        for (off, v) in [(0x80, desc), (0x90, driver), (0xa0, device)] {
            self.w(off, v as u32);
            self.w(off + 4, (v >> 32) as u32);
        }
        self.w(0x44, 1);
    }

    fn queue_unset(&mut self, queue: u16) {
        self.w(0x30, u32::from(queue));
        self.w(0x44, 0);
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.w(0x30, u32::from(queue));
        self.r(0x44) != 0
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let s = self.r(0x60);
        self.w(0x64, s);
        InterruptStatus::from_bits_truncate(s)
    }

    fn read_config_generation(&self) -> u32 {
        self.r(0xfc)
    }

    fn read_config_space<T: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<T> {
        let mut bytes = vec![0u8; size_of::<T>()];
        for (i, b) in bytes.iter_mut().enumerate() {
            let at = (offset + i) as u64;
            *b = match self.capacity {
                Some(c) if at < 8 => c.to_le_bytes()[at as usize],
                _ => self.device.read(0x100 + at, 1) as u8,
            };
        }
        T::read_from_bytes(&bytes).map_err(|_| DriverError::ConfigSpaceTooSmall)
    }

    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        _offset: usize,
        _value: T,
    ) -> virtio_drivers::Result<()> {
        Ok(())
    }
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    pool();
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn console_output_reaches_the_host_through_the_pool() {
    let _g = serial();
    let free = virtio::pool_free_pages();
    let fake = FakeMmio::new(Function::Console);
    let record = fake.io.record.clone();
    {
        let mut console = Console::new(fake).unwrap();
        console.write_line("hello from the realm").unwrap();
        let long = "x".repeat(10_000);
        console.write(long.as_bytes()).unwrap();
        use std::fmt::Write;
        write!(console, "{}-{}", 1, 2).unwrap();
    }
    let record = record.lock().unwrap();
    assert_eq!(record.errors, Vec::<String>::new());
    assert_eq!(&record.console[..21], b"hello from the realm\n");
    assert_eq!(record.console.len(), 21 + 10_000 + 3);
    assert_eq!(&record.console[21 + 10_000..], b"1-2");
    // Every page came back but the receive buffer's bounce page: virtio-drivers 0.13 does
    // not unshare the receive request still outstanding when a console is dropped.
    assert_eq!(virtio::pool_free_pages(), free - 1);
}

#[test]
fn block_reads_and_writes_sectors_and_byte_ranges() {
    let _g = serial();
    let free = virtio::pool_free_pages();
    let fake = FakeMmio::block(256 << 10);
    let record = fake.io.record.clone();
    let mut disk = Block::new(fake).unwrap();
    assert_eq!(disk.size(), 256 << 10);
    assert_eq!(disk.sectors(), 512);
    let mut id = [0u8; 20];
    let n = disk.id(&mut id).unwrap();
    assert_eq!(&id[..n], b"test-double-disk");

    // 80 KiB from sector 3: three requests of at most MAX_TRANSFER.
    let mut buf = vec![0u8; 80 << 10];
    disk.read_sectors(3, &mut buf).unwrap();
    let expected: Vec<u8> = (3 * 512..3 * 512 + (80 << 10))
        .map(|i| (i % 253) as u8)
        .collect();
    assert_eq!(buf, expected);

    // Byte ranges across sector boundaries.
    let data: Vec<u8> = (0..3000).map(|i| (i * 7) as u8).collect();
    disk.write_at(1000, &data).unwrap();
    let mut back = vec![0u8; 3100];
    disk.read_at(950, &mut back).unwrap();
    assert_eq!(&back[50..3050], &data[..]);
    assert_eq!(back[..50], expected_at(950, 50)[..]);
    assert_eq!(back[3050..], expected_at(4000, 50)[..]);

    // Outside the disk, or not whole sectors: refused before the device sees it.
    assert!(matches!(
        disk.read_sectors(511, &mut [0u8; 1024]),
        Err(VirtioError::OutOfRange { .. })
    ));
    assert!(matches!(
        disk.write_sectors(0, &[0u8; 100]),
        Err(VirtioError::OutOfRange { .. })
    ));
    assert!(matches!(
        disk.read_at(u64::MAX - 1, &mut [0u8; 4]),
        Err(VirtioError::OutOfRange { .. })
    ));
    assert!(matches!(
        disk.read_sectors(u64::MAX, &mut [0u8; 512]),
        Err(VirtioError::OutOfRange { .. })
    ));
    drop(disk);
    assert_eq!(virtio::pool_free_pages(), free);
    // The device model reached nothing outside the pool.
    assert_eq!(record.lock().unwrap().errors, Vec::<String>::new());
}

fn expected_at(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 253) as u8).collect()
}

#[test]
fn a_device_that_lies_about_used_lengths_cannot_overrun_buffers() {
    let _g = serial();
    let mut t = FakeMmio::block(64 << 10);
    t.io.inflate_used_len = 0x7fff_0000;
    let mut disk = Block::new(t).unwrap();
    let mut buf = [0u8; 1024];
    // The read completes; exactly the buffer is copied back, whatever length is claimed.
    disk.read_sectors(1, &mut buf).unwrap();
    assert_eq!(buf[..], expected_at(512, 1024)[..]);
}

#[test]
fn a_device_that_completes_the_wrong_chain_is_an_error() {
    let _g = serial();
    let mut t = FakeMmio::block(64 << 10);
    t.io.wrong_used_id = Some(9);
    let mut disk = Block::new(t).unwrap();
    let e = disk.read_sectors(0, &mut [0u8; 512]).unwrap_err();
    assert_eq!(e, VirtioError::Device(DriverError::WrongToken));
    assert!(!e.to_string().is_empty());
}

#[test]
fn a_device_that_overstates_its_capacity_gets_io_errors_not_reads_past_its_disk() {
    let _g = serial();
    let mut t = FakeMmio::block(64 << 10);
    t.capacity = Some(u64::MAX);
    let mut disk = Block::new(t).unwrap();
    // The byte size saturates instead of overflowing.
    assert_eq!(disk.size(), u64::MAX);
    let e = disk.read_sectors(1 << 20, &mut [0u8; 512]).unwrap_err();
    assert_eq!(e, VirtioError::Device(DriverError::IoError));
    // Requests inside the real disk still work.
    let mut buf = [0u8; 512];
    disk.read_sectors(2, &mut buf).unwrap();
    assert_eq!(buf[..], expected_at(1024, 512)[..]);
}

#[test]
fn the_wrong_device_type_is_refused() {
    let _g = serial();
    let e = Block::new(FakeMmio::new(Function::Console)).unwrap_err();
    assert_eq!(e, VirtioError::NoDevice(DeviceType::Block));
    assert_eq!(e.to_string(), "no virtio block device in the device list");
    let e = Console::new(FakeMmio::block(4096)).unwrap_err();
    assert_eq!(e, VirtioError::NoDevice(DeviceType::Console));
}
