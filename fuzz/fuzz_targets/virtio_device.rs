//! virtio-host's block device driven by a hostile realm: the input is a sequence of register
//! writes (offset, value) into a device whose guest memory (the realm's shared pages) the
//! input also fills. Nothing panics, and the device touches nothing outside that memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use virtio_host::{Disk, Function, Io, MmioDevice, OutOfShared};

const BASE: u64 = 0x40_8000_0000;

struct Shared(Vec<u8>);

impl Io for Shared {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), OutOfShared> {
        let off = ipa.checked_sub(BASE).ok_or(OutOfShared { ipa })? as usize;
        let src = self.0.get(off..off + buf.len()).ok_or(OutOfShared { ipa })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), OutOfShared> {
        let off = ipa.checked_sub(BASE).ok_or(OutOfShared { ipa })? as usize;
        let dst = self.0.get_mut(off..off + data.len()).ok_or(OutOfShared { ipa })?;
        dst.copy_from_slice(data);
        Ok(())
    }

    fn console(&mut self, _bytes: &[u8]) {}
}

fuzz_target!(|data: &[u8]| {
    let (memory, writes) = data.split_at(data.len().min(0x4000));
    let mut shared = Shared(memory.to_vec());
    shared.0.resize(0x4000, 0);
    let mut disk = vec![0u8; 8 * 512];
    let mut dev = MmioDevice::new(Function::Block(Disk::new(&mut disk, b"fuzz")));
    for w in writes.chunks_exact(6) {
        let offset = u64::from(u16::from_le_bytes([w[0], w[1]]) & 0x1ff);
        let value = u32::from_le_bytes([w[2], w[3], w[4], w[5]]);
        dev.write(offset, 4, u64::from(value), &mut shared);
        let _ = dev.read(offset, 4);
    }
});
