//! The realm's virtio-mmio devices: a console and a block device (virtio-host's model) at
//! the slots of `cca_abi::virtio`, in the unprotected half of the realm's IPA space.
//!
//! Stage 2 leaves the device region unmapped, so each register access is a stage-2 data
//! abort at EL2 with a valid syndrome (the realm's drivers use single loads and stores,
//! safe-mmio's): [`handle`] decodes it (ESR_EL2 ISV, SAS, SSE, SRT, SF, WnR), performs it on
//! the device, writes a read's value to the register and steps the realm past the
//! instruction, as an RMM does when the host asks it to complete an emulated access (TF-RMM
//! v0.8.0 `runtime/rmi/run.c`, `complete_mmio_emulation`). A notification is served before
//! the realm runs again; no interrupt is injected (the realm polls the used ring).
//!
//! The devices reach only the memory behind the unprotected alias of realm RAM (the
//! realm's shared pages, `SHARED_PA`): a descriptor that names anything else stops the device
//! (`DEVICE_NEEDS_RESET`) and the harness logs why. The block device's disk is the
//! [`DISK_WINDOW`] bytes at [`DISK_PA`].

use aarch64_cpu::registers::{FAR_EL2, HPFAR_EL2, Readable};
use cca_abi::hostcall::relay;
use el2_harness::layout::{DISK_PA, DISK_WINDOW, IPA_WIDTH, REALM_RAM_SIZE, SHARED_IPA, SHARED_PA};
use spin::Mutex;
use virtio_host::{Bus, Disk, Function, Io, MmioAccess, MmioDevice, OutOfShared, layout};

use crate::switch::GuestContext;

/// The devices, made on the realm's first access.
static DEVICES: Mutex<Option<[MmioDevice<'static>; 2]>> = Mutex::new(None);

/// The unprotected IPA of slot 0.
const BASE: u64 = layout::MMIO_BASE | (1 << (IPA_WIDTH - 1));

/// The realm's shared memory, as the devices reach it.
struct Shared;

impl Shared {
    /// The harness address of `[ipa, ipa + len)` if it lies in the alias of realm RAM.
    fn pa(ipa: u64, len: usize) -> Result<usize, OutOfShared> {
        let off = ipa.checked_sub(SHARED_IPA).ok_or(OutOfShared { ipa })?;
        match off.checked_add(len as u64) {
            Some(end) if end <= REALM_RAM_SIZE => Ok((SHARED_PA + off) as usize),
            _ => Err(OutOfShared { ipa }),
        }
    }
}

impl Io for Shared {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), OutOfShared> {
        let pa = Self::pa(ipa, buf.len())?;
        // SAFETY: `pa..pa + len` lies in the host memory behind the alias of realm RAM
        // (checked), which only the realm's shared accesses and the harness's host side use;
        // the realm is stopped while its access is emulated.
        unsafe { core::ptr::copy_nonoverlapping(pa as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), OutOfShared> {
        let pa = Self::pa(ipa, data.len())?;
        // SAFETY: as for `read`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), pa as *mut u8, data.len()) };
        Ok(())
    }

    fn console(&mut self, bytes: &[u8]) {
        let mut line = [0u8; 256];
        for chunk in bytes.chunks(line.len()) {
            let out = &mut line[..chunk.len()];
            out.copy_from_slice(chunk);
            relay::sanitize(out);
            el2_rt::console::write_bytes(out);
        }
    }
}

fn devices() -> [MmioDevice<'static>; 2] {
    // SAFETY: the disk window lies in QEMU's RAM above everything else in the harness's
    // memory map (`memory.ld`, `layout.rs`); nothing else references it, and this runs once
    // (the devices are kept in `DEVICES`).
    let disk = unsafe { core::slice::from_raw_parts_mut(DISK_PA as *mut u8, DISK_WINDOW as usize) };
    [
        MmioDevice::new(Function::Console),
        MmioDevice::new(Function::Block(Disk::new(disk, b"el2-harness disk"))),
    ]
}

/// Emulates the realm's access to a device register, if the stage-2 data abort with
/// syndrome `esr` is one; returns whether it was.
pub fn handle(ctx: &mut GuestContext, esr: u64) -> bool {
    let ipa = ((HPFAR_EL2.get() >> 4) << 12) | (FAR_EL2.get() & 0xfff);
    let Some(access) = MmioAccess::decode(esr, ipa) else {
        return false;
    };
    let mut guard = DEVICES.lock();
    let devices = guard.get_or_insert_with(devices);
    let before = devices.each_ref().map(MmioDevice::error);
    let mut bus = Bus::new(BASE, devices);
    let r = usize::from(access.register);
    let register = ctx.x.get(r).copied().unwrap_or(0);
    let Some(value) = bus.access(&access, register, &mut Shared) else {
        return false;
    };
    if !access.write
        && let Some(x) = ctx.x.get_mut(r)
    {
        *x = value;
    }
    ctx.elr += 4;
    for (slot, (device, before)) in devices.iter().zip(before).enumerate() {
        if let Some(e) = device.error().filter(|_| before.is_none()) {
            el2_rt::println!("el2-harness: virtio device {slot} stopped: {e}");
        }
    }
    true
}
