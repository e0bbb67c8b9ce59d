//! The device model against a driver written here from virtio 1.2 (§3.1.1 initialisation,
//! §2.7 split queues, §5.2 block, §5.3 console), honest and hostile.

use virtio_host::{
    DeviceError, Disk, Function, Io, MmioAccess, MmioDevice, OutOfShared, QUEUE_NUM_MAX,
    VIRTIO_F_VERSION_1,
};

/// The realm's shared memory as the host sees it: `bytes` at IPA `BASE`.
struct Shared {
    bytes: Vec<u8>,
    console: Vec<u8>,
}

const BASE: u64 = 0x40_8000_0000;
const DESC: u64 = BASE;
const AVAIL: u64 = BASE + 0x1000;
const USED: u64 = BASE + 0x2000;
const DATA: u64 = BASE + 0x3000;

impl Shared {
    fn new() -> Self {
        Self {
            bytes: vec![0; 0x10000],
            console: Vec::new(),
        }
    }

    fn range(&self, ipa: u64, len: usize) -> Result<std::ops::Range<usize>, OutOfShared> {
        let off = ipa.checked_sub(BASE).ok_or(OutOfShared { ipa })? as usize;
        let end = off.checked_add(len).ok_or(OutOfShared { ipa })?;
        (end <= self.bytes.len())
            .then_some(off..end)
            .ok_or(OutOfShared { ipa })
    }

    fn put(&mut self, ipa: u64, data: &[u8]) {
        let r = self.range(ipa, data.len()).unwrap();
        self.bytes[r].copy_from_slice(data);
    }

    fn get(&self, ipa: u64, len: usize) -> &[u8] {
        &self.bytes[self.range(ipa, len).unwrap()]
    }

    fn u16_at(&self, ipa: u64) -> u16 {
        u16::from_le_bytes(self.get(ipa, 2).try_into().unwrap())
    }

    fn u32_at(&self, ipa: u64) -> u32 {
        u32::from_le_bytes(self.get(ipa, 4).try_into().unwrap())
    }

    /// Writes descriptor `i`.
    fn desc(&mut self, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..16].copy_from_slice(&next.to_le_bytes());
        self.put(DESC + u64::from(i) * 16, &d);
    }

    /// Makes chain `head` available at ring slot `slot` and sets the index to `idx`.
    fn avail(&mut self, slot: u16, head: u16, idx: u16) {
        self.put(AVAIL + 4 + u64::from(slot) * 2, &head.to_le_bytes());
        self.put(AVAIL + 2, &idx.to_le_bytes());
    }

    fn used_idx(&self) -> u16 {
        self.u16_at(USED + 2)
    }

    /// The used element in slot `slot`: (id, len).
    fn used(&self, slot: u16) -> (u32, u32) {
        let at = USED + 4 + u64::from(slot) * 8;
        (self.u32_at(at), self.u32_at(at + 4))
    }
}

impl Io for Shared {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), OutOfShared> {
        let r = self.range(ipa, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), OutOfShared> {
        let r = self.range(ipa, data.len())?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }

    fn console(&mut self, bytes: &[u8]) {
        self.console.extend_from_slice(bytes);
    }
}

const NEXT: u16 = 1;
const WRITE: u16 = 2;
const INDIRECT: u16 = 4;

fn w(dev: &mut MmioDevice<'_>, mem: &mut Shared, off: u64, v: u32) {
    dev.write(off, 4, u64::from(v), mem);
}

fn r(dev: &MmioDevice<'_>, off: u64) -> u32 {
    dev.read(off, 4) as u32
}

/// §3.1.1 with VERSION_1, then queue `q` of size `size` at DESC/AVAIL/USED, DRIVER_OK.
fn init(dev: &mut MmioDevice<'_>, mem: &mut Shared, q: u32, size: u32) {
    w(dev, mem, 0x70, 0);
    w(dev, mem, 0x70, 1 | 2);
    w(dev, mem, 0x24, 1);
    w(dev, mem, 0x20, 1);
    w(dev, mem, 0x24, 0);
    w(dev, mem, 0x20, 0);
    w(dev, mem, 0x70, 1 | 2 | 8);
    assert_eq!(r(dev, 0x70) & 8, 8, "FEATURES_OK accepted");
    w(dev, mem, 0x30, q);
    w(dev, mem, 0x38, size);
    w(dev, mem, 0x80, DESC as u32);
    w(dev, mem, 0x84, (DESC >> 32) as u32);
    w(dev, mem, 0x90, AVAIL as u32);
    w(dev, mem, 0x94, (AVAIL >> 32) as u32);
    w(dev, mem, 0xa0, USED as u32);
    w(dev, mem, 0xa4, (USED >> 32) as u32);
    w(dev, mem, 0x44, 1);
    w(dev, mem, 0x70, 1 | 2 | 8 | 4);
}

fn block_header(mem: &mut Shared, kind: u32, sector: u64) {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&kind.to_le_bytes());
    h[8..16].copy_from_slice(&sector.to_le_bytes());
    mem.put(DATA, &h);
}

fn disk_bytes() -> Vec<u8> {
    (0..8 * 512).map(|i| (i % 251) as u8).collect()
}

#[test]
fn registers_identify_a_version_2_block_device() {
    // §4.2.2: magic "virt", version 2, device ID 2 for block (§5.2), VERSION_1 offered.
    let mut backing = disk_bytes();
    let dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"disk")));
    assert_eq!(r(&dev, 0x000), 0x7472_6976);
    assert_eq!(r(&dev, 0x004), 2);
    assert_eq!(r(&dev, 0x008), 2);
    assert_eq!(r(&dev, 0x010), 0, "features 0..31");
    let mut dev = dev;
    let mut mem = Shared::new();
    w(&mut dev, &mut mem, 0x14, 1);
    assert_eq!(u64::from(r(&dev, 0x010)) << 32, VIRTIO_F_VERSION_1);
    assert_eq!(r(&dev, 0x034), u32::from(QUEUE_NUM_MAX));
    w(&mut dev, &mut mem, 0x30, 1);
    assert_eq!(r(&dev, 0x034), 0, "block has one queue");
    // Capacity (§5.2.4) in sectors, read as two 32-bit halves or one 64-bit read.
    assert_eq!(dev.read(0x100, 4), 8);
    assert_eq!(dev.read(0x104, 4), 0);
    assert_eq!(dev.read(0x100, 8), 8);
    // A non-existent shared memory region reads as all ones.
    assert_eq!(r(&dev, 0xb0), u32::MAX);
}

#[test]
fn features_ok_is_refused_without_version_1_or_with_unoffered_bits() {
    let mut backing = disk_bytes();
    let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"")));
    let mut mem = Shared::new();
    w(&mut dev, &mut mem, 0x70, 3);
    w(&mut dev, &mut mem, 0x70, 3 | 8);
    assert_eq!(r(&dev, 0x70) & 8, 0, "VERSION_1 not accepted");
    w(&mut dev, &mut mem, 0x24, 1);
    w(&mut dev, &mut mem, 0x20, 1 | 2);
    w(&mut dev, &mut mem, 0x70, 3 | 8);
    assert_eq!(r(&dev, 0x70) & 8, 0, "a feature the device does not offer");
}

#[test]
fn block_reads_writes_and_identifies() {
    let mut backing = disk_bytes();
    let expected = backing.clone();
    {
        let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"realm-disk")));
        let mut mem = Shared::new();
        init(&mut dev, &mut mem, 0, 16);

        // IN: sectors 2 and 3, split over two writable buffers, then status.
        block_header(&mut mem, 0, 2);
        mem.desc(0, DATA, 16, NEXT, 1);
        mem.desc(1, DATA + 0x100, 700, NEXT | WRITE, 2);
        mem.desc(2, DATA + 0x800, 324, NEXT | WRITE, 3);
        mem.desc(3, DATA + 0xf00, 1, WRITE, 0);
        mem.put(DATA + 0xf00, &[0xff]);
        mem.avail(0, 0, 1);
        w(&mut dev, &mut mem, 0x50, 0);
        assert_eq!(mem.used_idx(), 1);
        assert_eq!(mem.used(0), (0, 1025));
        assert_eq!(mem.get(DATA + 0xf00, 1), [0], "VIRTIO_BLK_S_OK");
        assert_eq!(mem.get(DATA + 0x100, 700), &expected[1024..1724]);
        assert_eq!(mem.get(DATA + 0x800, 324), &expected[1724..2048]);
        assert_eq!(r(&dev, 0x60) & 1, 1, "used buffer notification");
        w(&mut dev, &mut mem, 0x64, 1);
        assert_eq!(r(&dev, 0x60), 0);

        // OUT: sector 7 from one readable buffer.
        block_header(&mut mem, 1, 7);
        mem.put(DATA + 0x100, &[0x5a; 512]);
        mem.desc(4, DATA, 16, NEXT, 5);
        mem.desc(5, DATA + 0x100, 512, NEXT, 6);
        mem.desc(6, DATA + 0xf00, 1, WRITE, 0);
        mem.avail(1, 4, 2);
        w(&mut dev, &mut mem, 0x50, 0);
        assert_eq!(mem.used(1), (4, 1));
        assert_eq!(mem.get(DATA + 0xf00, 1), [0]);

        // GET_ID: 20 bytes, zero padded.
        block_header(&mut mem, 8, 0);
        mem.desc(7, DATA, 16, NEXT, 8);
        mem.desc(8, DATA + 0x100, 20, NEXT | WRITE, 9);
        mem.desc(9, DATA + 0xf00, 1, WRITE, 0);
        mem.avail(2, 7, 3);
        w(&mut dev, &mut mem, 0x50, 0);
        assert_eq!(mem.used(2), (7, 21));
        assert_eq!(&mem.get(DATA + 0x100, 20)[..11], b"realm-disk\0");

        // Past the end: IOERR, nothing transferred; unknown type: UNSUPP.
        block_header(&mut mem, 0, 7);
        mem.desc(10, DATA, 16, NEXT, 11);
        mem.desc(11, DATA + 0x100, 1024, NEXT | WRITE, 12);
        mem.desc(12, DATA + 0xf00, 1, WRITE, 0);
        mem.avail(3, 10, 4);
        w(&mut dev, &mut mem, 0x50, 0);
        assert_eq!(mem.get(DATA + 0xf00, 1), [1], "VIRTIO_BLK_S_IOERR");
        assert_eq!(mem.used(3), (10, 1));
        block_header(&mut mem, 99, 0);
        mem.avail(4, 10, 5);
        w(&mut dev, &mut mem, 0x50, 0);
        assert_eq!(mem.get(DATA + 0xf00, 1), [2], "VIRTIO_BLK_S_UNSUPP");
        // A sector number whose byte offset overflows is out of range too.
        block_header(&mut mem, 0, u64::MAX);
        mem.avail(5, 10, 6);
        w(&mut dev, &mut mem, 0x50, 0);
        assert_eq!(mem.get(DATA + 0xf00, 1), [1]);
        assert_eq!(dev.error(), None);
    }
    assert_eq!(&backing[7 * 512..], &[0x5a; 512]);
    assert_eq!(&backing[..7 * 512], &expected[..7 * 512]);
}

#[test]
fn console_transmits_and_receives() {
    let mut dev = MmioDevice::new(Function::Console);
    let mut mem = Shared::new();
    assert_eq!(r(&dev, 0x008), 3);
    init(&mut dev, &mut mem, 1, 4);
    mem.put(DATA, b"hello, ");
    mem.put(DATA + 0x100, b"host\n");
    mem.desc(0, DATA, 7, NEXT, 1);
    mem.desc(1, DATA + 0x100, 5, 0, 0);
    mem.avail(0, 0, 1);
    w(&mut dev, &mut mem, 0x50, 1);
    assert_eq!(mem.console, b"hello, host\n");
    assert_eq!(mem.used(0), (0, 0));

    // Receive queue (queue 0), its own ring.
    let mut dev = MmioDevice::new(Function::Console);
    let mut mem = Shared::new();
    init(&mut dev, &mut mem, 0, 4);
    assert_eq!(dev.console_input(b"nothing posted", &mut mem), 0);
    mem.desc(0, DATA, 4, WRITE, 0);
    mem.desc(1, DATA + 0x10, 4, WRITE, 0);
    mem.avail(0, 0, 1);
    mem.avail(1, 1, 2);
    w(&mut dev, &mut mem, 0x50, 0);
    assert_eq!(mem.used_idx(), 0, "a notification only says buffers wait");
    assert_eq!(dev.console_input(b"abcdef", &mut mem), 6);
    assert_eq!(mem.get(DATA, 4), b"abcd");
    assert_eq!(mem.get(DATA + 0x10, 2), b"ef");
    assert_eq!((mem.used(0), mem.used(1)), ((0, 4), (1, 2)));
}

/// Runs one hostile chain (descriptors set by `setup`) on a fresh block device and returns
/// the error the device reports; the host must not have written the used ring.
fn hostile(setup: impl FnOnce(&mut Shared)) -> DeviceError {
    let mut backing = disk_bytes();
    let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"")));
    let mut mem = Shared::new();
    init(&mut dev, &mut mem, 0, 4);
    block_header(&mut mem, 0, 0);
    setup(&mut mem);
    w(&mut dev, &mut mem, 0x50, 0);
    let error = dev.error().expect("the device reports the driver's error");
    assert_eq!(r(&dev, 0x70) & 64, 64, "DEVICE_NEEDS_RESET");
    assert_eq!(mem.used_idx(), 0);
    // It stays stopped until a reset, which clears the error.
    w(&mut dev, &mut mem, 0x50, 0);
    assert_eq!(mem.used_idx(), 0);
    w(&mut dev, &mut mem, 0x70, 0);
    assert_eq!((dev.error(), r(&dev, 0x70)), (None, 0));
    assert!(!error.to_string().is_empty());
    error
}

#[test]
fn a_looping_chain_is_stopped_at_the_queue_size() {
    let e = hostile(|mem| {
        mem.desc(0, DATA, 16, NEXT, 1);
        mem.desc(1, DATA, 16, NEXT, 0);
        mem.avail(0, 0, 1);
    });
    assert_eq!(e, DeviceError::ChainTooLong { queue: 0 });
}

#[test]
fn descriptor_indices_past_the_queue_are_refused() {
    let e = hostile(|mem| mem.avail(0, 4, 1));
    assert_eq!(e, DeviceError::BadDescriptorIndex { queue: 0, index: 4 });
    let e = hostile(|mem| {
        mem.desc(0, DATA, 16, NEXT, 0xffff);
        mem.avail(0, 0, 1);
    });
    assert_eq!(
        e,
        DeviceError::BadDescriptorIndex {
            queue: 0,
            index: 0xffff
        }
    );
}

#[test]
fn buffers_outside_shared_memory_are_refused() {
    // A data buffer in (what would be) the realm's private memory.
    let e = hostile(|mem| {
        mem.desc(0, DATA, 16, NEXT, 1);
        mem.desc(1, 0x8000_0000, 512, NEXT | WRITE, 2);
        mem.desc(2, DATA + 0xf00, 1, WRITE, 0);
        mem.avail(0, 0, 1);
    });
    assert_eq!(e, DeviceError::Memory(OutOfShared { ipa: 0x8000_0000 }));
    // A buffer whose end wraps around the address space.
    let e = hostile(|mem| {
        mem.desc(0, u64::MAX - 4, 16, 0, 0);
        mem.avail(0, 0, 1);
    });
    assert!(matches!(e, DeviceError::Memory(_)));
    // A buffer that starts inside shared memory and runs out of it.
    let e = hostile(|mem| {
        mem.desc(0, DATA, 16, NEXT, 1);
        mem.desc(1, BASE + 0xfe00, 1024, NEXT | WRITE, 2);
        mem.desc(2, DATA + 0xf00, 1, WRITE, 0);
        mem.avail(0, 0, 1);
    });
    assert!(matches!(e, DeviceError::Memory(_)));
}

#[test]
fn indirect_descriptors_and_misordered_chains_are_refused() {
    let e = hostile(|mem| {
        mem.desc(0, DATA, 16, INDIRECT, 0);
        mem.avail(0, 0, 1);
    });
    assert_eq!(e, DeviceError::Indirect { queue: 0 });
    let e = hostile(|mem| {
        mem.desc(0, DATA + 0xf00, 1, NEXT | WRITE, 1);
        mem.desc(1, DATA, 16, 0, 0);
        mem.avail(0, 0, 1);
    });
    assert_eq!(e, DeviceError::ReadableAfterWritable { queue: 0 });
}

#[test]
fn short_requests_are_refused() {
    let e = hostile(|mem| {
        mem.desc(0, DATA, 8, NEXT, 1);
        mem.desc(1, DATA + 0xf00, 1, WRITE, 0);
        mem.avail(0, 0, 1);
    });
    assert_eq!(e, DeviceError::BadRequestLength { queue: 0 });
    let e = hostile(|mem| {
        mem.desc(0, DATA, 16, 0, 0);
        mem.avail(0, 0, 1);
    });
    assert_eq!(e, DeviceError::BadRequestLength { queue: 0 });
}

#[test]
fn an_available_index_more_than_a_queue_ahead_is_refused() {
    let e = hostile(|mem| mem.avail(0, 0, 5));
    assert_eq!(
        e,
        DeviceError::AvailOverrun {
            queue: 0,
            avail: 5,
            seen: 0
        }
    );
}

#[test]
fn rings_outside_shared_memory_are_refused() {
    let mut backing = disk_bytes();
    let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"")));
    let mut mem = Shared::new();
    init(&mut dev, &mut mem, 0, 4);
    w(&mut dev, &mut mem, 0x44, 0);
    w(&mut dev, &mut mem, 0x90, 0x1000);
    w(&mut dev, &mut mem, 0x94, 0);
    w(&mut dev, &mut mem, 0x44, 1);
    w(&mut dev, &mut mem, 0x50, 0);
    assert_eq!(
        dev.error(),
        Some(DeviceError::Memory(OutOfShared { ipa: 0x1002 }))
    );
}

#[test]
fn queue_sizes_must_be_powers_of_two_up_to_the_maximum() {
    for size in [0, 3, 32, u32::MAX] {
        let mut backing = disk_bytes();
        let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"")));
        let mut mem = Shared::new();
        w(&mut dev, &mut mem, 0x38, size);
        w(&mut dev, &mut mem, 0x44, 1);
        assert_eq!(
            dev.error(),
            Some(DeviceError::BadQueueSize { queue: 0, size })
        );
        assert_eq!(r(&dev, 0x44), 0, "not ready");
    }
}

#[test]
fn queue_registers_are_fixed_while_the_queue_is_ready() {
    let mut backing = disk_bytes();
    let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"")));
    let mut mem = Shared::new();
    init(&mut dev, &mut mem, 0, 4);
    // Moving the used ring to private memory after QueueReady has no effect.
    w(&mut dev, &mut mem, 0xa0, 0);
    w(&mut dev, &mut mem, 0xa4, 0);
    w(&mut dev, &mut mem, 0x38, 1 << 20);
    block_header(&mut mem, 8, 0);
    mem.desc(0, DATA, 16, NEXT, 1);
    mem.desc(1, DATA + 0x100, 20, NEXT | WRITE, 2);
    mem.desc(2, DATA + 0xf00, 1, WRITE, 0);
    mem.avail(0, 0, 1);
    w(&mut dev, &mut mem, 0x50, 0);
    assert_eq!((dev.error(), mem.used_idx()), (None, 1));
}

#[test]
fn narrow_register_accesses_are_ignored() {
    let mut backing = disk_bytes();
    let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut backing, b"")));
    let mut mem = Shared::new();
    assert_eq!(dev.read(0, 2), 0);
    dev.write(0x70, 1, 3, &mut mem);
    assert_eq!(r(&dev, 0x70), 0);
    // Notifications before DRIVER_OK do nothing.
    w(&mut dev, &mut mem, 0x50, 0);
    assert_eq!(dev.error(), None);
}

#[test]
fn data_abort_syndromes_decode_as_the_arm_arm_lays_them_out() {
    // LDR W3, [..]: EC 0x24, IL, ISV, SAS = 0b10, SRT = 3, WnR = 0.
    let esr = (0x24 << 26) | (1 << 25) | (1 << 24) | (0b10 << 22) | (3 << 16);
    let a = MmioAccess::decode(esr, 0x1234).unwrap();
    assert_eq!((a.size, a.write, a.register, a.ipa), (4, false, 3, 0x1234));
    // STRB W7: SAS = 0, WnR.
    let a = MmioAccess::decode((0x24 << 26) | (1 << 24) | (7 << 16) | (1 << 6), 0).unwrap();
    assert_eq!((a.size, a.write, a.register), (1, true, 7));
    assert_eq!(a.write_value(0x1_2345), 0x45);
    // Without ISV, or not a data abort: nothing to emulate.
    assert_eq!(MmioAccess::decode((0x24 << 26) | (0b10 << 22), 0), None);
    assert_eq!(MmioAccess::decode((0x20 << 26) | (1 << 24), 0), None);
    // LDRSH X1 (SSE, SF): sign-extended to 64 bits; LDRSH W1: to 32 bits.
    let ldrsh_x = (0x24 << 26) | (1 << 24) | (0b01 << 22) | (1 << 21) | (1 << 16) | (1 << 15);
    let a = MmioAccess::decode(ldrsh_x, 0).unwrap();
    assert_eq!(a.read_result(0xdead_8000), 0xffff_ffff_ffff_8000);
    let a = MmioAccess::decode(ldrsh_x & !(1 << 15), 0).unwrap();
    assert_eq!(a.read_result(0x8000), 0xffff_8000);
    let ldr_x = (0x24 << 26) | (1 << 24) | (0b11 << 22) | (1 << 15);
    assert_eq!(
        MmioAccess::decode(ldr_x, 0).unwrap().read_result(u64::MAX),
        u64::MAX
    );
}

#[test]
fn the_bus_routes_by_slot() {
    let mut backing = disk_bytes();
    let mut devices = [
        MmioDevice::new(Function::Console),
        MmioDevice::new(Function::Block(Disk::new(&mut backing, b""))),
    ];
    let mut bus = virtio_host::Bus::new(0x40_0a00_0000, &mut devices);
    let mut mem = Shared::new();
    let read = |ipa| MmioAccess {
        ipa,
        size: 4,
        write: false,
        register: 0,
        sign_extend: false,
        sixty_four: false,
    };
    assert_eq!(bus.access(&read(0x40_0a00_0008), 0, &mut mem), Some(3));
    assert_eq!(bus.access(&read(0x40_0a00_0208), 0, &mut mem), Some(2));
    assert_eq!(bus.access(&read(0x40_0a00_0408), 0, &mut mem), None);
    assert_eq!(bus.access(&read(0x40_09ff_fffc), 0, &mut mem), None);
}
