//! `virtio`: a realm payload that uses the host's virtio devices.
//!
//! It gives a pool of pages to the host (`virtio::init`), finds the devices (from the
//! devicetree whose address the host passed in `x0`, if it did, else the default slots),
//! writes lines to the virtio console, then reads the block device's identity, capacity and
//! first bytes, the SHA-256 of its first MiB, writes a pattern across sector boundaries and
//! reads it back.
//!
//! With `x1` = 1 it is a benchmark instead: bytes per second read and written through the
//! block device, against a `memcpy` of the same bytes inside the realm.
//!
//! With `x1` = 2 it finds the devices in a devicetree its image embeds (written by its
//! build script), so that the blob is part of the measured image and the RIM covers it: the
//! way a host that passes a devicetree should load it.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use core::fmt::Write as _;
    use core::time::Duration;

    use realm_sdk::rt::EntryArgs;
    use realm_sdk::service::SharedPages;
    use realm_sdk::time::{Clock, Instant};
    use realm_sdk::virtio::{self, Block, Devices, Mmio, VirtioError};
    use realm_sdk::{Ipa, Realm, Smc, println};
    use sha2::{Digest, Sha256};

    realm_sdk::entry!(main);

    /// The pool the devices reach: enough for a console and a block device.
    static mut POOL: SharedPages<32> = SharedPages::new();

    /// Where the check writes its pattern: 1 MiB + 100 bytes into the disk.
    const PATTERN_AT: u64 = (1 << 20) + 100;

    fn main(realm: &mut Realm<Smc>, args: EntryArgs) {
        if let Err(e) = run(realm, args) {
            println!("virtio: error: {e}");
        }
        println!("virtio: done");
    }

    /// The devicetree of mode 2, aligned as the specification asks (8 bytes).
    #[repr(C, align(8))]
    struct Dtb<const N: usize>([u8; N]);

    static DTB: &Dtb<{ include_bytes!(concat!(env!("OUT_DIR"), "/devices.dtb")).len() }> =
        &Dtb(*include_bytes!(concat!(env!("OUT_DIR"), "/devices.dtb")));

    fn devices(realm: &Realm<Smc>, x0: u64, x1: u64) -> Devices {
        let x0 = if x1 == 2 { Ipa::of(DTB).0 } else { x0 };
        // x0 is a devicetree's address under the Linux arm64 boot protocol; bit 0 is this
        // project's PL011-console flag, so an address with it clear and not 0 is a DTB.
        if x0 != 0 && x0 & 1 == 0 {
            match Devices::from_dtb_in_ram(realm, Ipa(x0)) {
                Ok(d) => {
                    println!("virtio: {} devices from the devicetree", d.list().len());
                    return d;
                }
                Err(e) => println!("virtio: devicetree refused: {e}; using the default slots"),
            }
        }
        Devices::host_default(realm)
    }

    fn run(realm: &mut Realm<Smc>, args: EntryArgs) -> Result<(), VirtioError> {
        // SAFETY: the only place that takes a reference to POOL, once.
        let pool = unsafe { &mut *core::ptr::addr_of_mut!(POOL) };
        virtio::init(realm, pool)?;
        let devices = devices(realm, args.0[0], args.0[1]);
        let mut console = devices.console()?;
        let mut disk = devices.block()?;
        if args.0[1] == 1 {
            return bench(&mut disk);
        }
        console.write_line("virtio console: hello from the realm")?;
        let _ = writeln!(console, "virtio console: {} bytes of disk", disk.size());

        let mut id = [0u8; 20];
        let n = disk.id(&mut id)?;
        println!(
            "virtio: disk id \"{}\", {} sectors",
            core::str::from_utf8(&id[..n]).unwrap_or("(not UTF-8)"),
            disk.sectors()
        );
        let mut head = [0u8; 32];
        disk.read_at(0, &mut head)?;
        println!("virtio: first bytes: {}", Printable(&head));

        let mut hash = Sha256::new();
        let mut buf = alloc_buf();
        for chunk in 0..(1 << 20) / buf.len() as u64 {
            disk.read_at(chunk * buf.len() as u64, &mut buf[..])?;
            hash.update(&buf[..]);
        }
        println!(
            "virtio: SHA-256 of the first MiB: {}",
            Hex(&hash.finalize())
        );

        let pattern: [u8; 3000] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        disk.write_at(PATTERN_AT, &pattern)?;
        let mut back = [0u8; 3100];
        disk.read_at(PATTERN_AT - 50, &mut back)?;
        let ok = back[50..3050] == pattern;
        println!("virtio: wrote 3000 bytes at {PATTERN_AT:#x} and read them back: {ok}");
        console.write_line("virtio console: goodbye")?;
        Ok(())
    }

    fn alloc_buf() -> alloc::boxed::Box<[u8; 64 << 10]> {
        alloc::boxed::Box::new([0; 64 << 10])
    }

    /// Block throughput over 4 MiB (64 KiB requests split by the driver into 32 KiB
    /// transfers), against memcpy of the same bytes between two heap buffers.
    fn bench(disk: &mut Block<Mmio>) -> Result<(), VirtioError> {
        const TOTAL: u64 = 4 << 20;
        let Some(clock) = Clock::read() else {
            println!("bench: no timer frequency");
            return Ok(());
        };
        let mut buf = alloc_buf();
        let passes = TOTAL / buf.len() as u64;
        let per_second = |d: Duration| {
            let us = d.as_micros().max(1) as u64;
            (us, TOTAL * 1_000_000 / us)
        };

        let start = Instant::now();
        for pass in 0..passes {
            disk.read_at(pass * buf.len() as u64, &mut buf[..])?;
        }
        let (us, rate) = per_second(Instant::now().duration_since(start, clock));
        println!("bench: virtio block read: {TOTAL} bytes in {us} us, {rate} bytes/s");

        let start = Instant::now();
        for pass in 0..passes {
            buf[0] = pass as u8;
            disk.write_at(pass * buf.len() as u64, &buf[..])?;
        }
        let (us, rate) = per_second(Instant::now().duration_since(start, clock));
        println!("bench: virtio block write: {TOTAL} bytes in {us} us, {rate} bytes/s");

        let mut other = alloc_buf();
        let start = Instant::now();
        for pass in 0..passes {
            buf[0] = pass as u8;
            other.copy_from_slice(core::hint::black_box(&buf[..]));
            core::hint::black_box(&other);
        }
        let (us, rate) = per_second(Instant::now().duration_since(start, clock));
        println!("bench: baseline memcpy in the realm: {TOTAL} bytes in {us} us, {rate} bytes/s");
        Ok(())
    }

    extern crate alloc;

    /// Bytes as text, non-printable ones as `.` (the disk is the host's).
    struct Printable<'a>(&'a [u8]);

    impl core::fmt::Display for Printable<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            for &b in self.0 {
                let c = if b.is_ascii_graphic() || b == b' ' {
                    b
                } else {
                    b'.'
                };
                write!(f, "{}", char::from(c))?;
            }
            Ok(())
        }
    }

    struct Hex<'a>(&'a [u8]);

    impl core::fmt::Display for Hex<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("virtio is a realm payload: build it for aarch64-unknown-none");
}
