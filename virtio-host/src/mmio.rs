//! The MMIO transport (virtio 1.2 §4.2): register layout version 2, one device per 0x200
//! bytes, and the decoding of the trapped access.

use crate::block::Disk;
use crate::queue::Queue;
use crate::{
    DEVICE_ID_BLOCK, DEVICE_ID_CONSOLE, DeviceError, Io, MAGIC_VALUE, QUEUE_NUM_MAX, VENDOR_ID,
    VERSION, VIRTIO_F_VERSION_1, console, layout,
};

/// Register offsets (§4.2.2, table "MMIO Device Register Layout").
mod reg {
    pub const MAGIC_VALUE: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// Device status bits (§2.1).
mod status {
    pub const FEATURES_OK: u32 = 8;
    pub const DRIVER_OK: u32 = 4;
    pub const DEVICE_NEEDS_RESET: u32 = 64;
}

/// `InterruptStatus` bits (§4.2.2): used buffer notification, configuration change.
const INT_USED_BUFFER: u32 = 1;
const INT_CONFIG_CHANGE: u32 = 2;

/// What a device is.
#[derive(Debug)]
pub enum Function<'a> {
    /// A console (device ID 3), port 0; its output goes to [`Io::console`].
    Console,
    /// A block device (device ID 2) over a disk.
    Block(Disk<'a>),
}

impl Function<'_> {
    fn device_id(&self) -> u32 {
        match self {
            Self::Console => DEVICE_ID_CONSOLE,
            Self::Block(_) => DEVICE_ID_BLOCK,
        }
    }

    fn queues(&self) -> u16 {
        match self {
            Self::Console => 2,
            Self::Block(_) => 1,
        }
    }

    fn config(&self, offset: u64) -> u8 {
        match self {
            Self::Console => console::config(offset),
            Self::Block(disk) => disk.config(offset),
        }
    }
}

/// One virtio-mmio device: its registers, its queues and what it does.
#[derive(Debug)]
pub struct MmioDevice<'a> {
    function: Function<'a>,
    status: u32,
    device_features_sel: u32,
    driver_features: u64,
    driver_features_sel: u32,
    queue_sel: u32,
    queues: [Queue; 2],
    interrupt_status: u32,
    error: Option<DeviceError>,
}

impl<'a> MmioDevice<'a> {
    /// A device in its reset state.
    #[must_use]
    pub fn new(function: Function<'a>) -> Self {
        Self {
            function,
            status: 0,
            device_features_sel: 0,
            driver_features: 0,
            driver_features_sel: 0,
            queue_sel: 0,
            queues: [Queue::default(); 2],
            interrupt_status: 0,
            error: None,
        }
    }

    /// What the device is.
    #[must_use]
    pub fn function(&self) -> &Function<'a> {
        &self.function
    }

    /// Why the device stopped (it is in `DEVICE_NEEDS_RESET`), if it did.
    #[must_use]
    pub fn error(&self) -> Option<DeviceError> {
        self.error
    }

    /// Features the device offers: only `VIRTIO_F_VERSION_1`.
    fn device_features() -> u64 {
        VIRTIO_F_VERSION_1
    }

    fn queue(&mut self) -> Option<&mut Queue> {
        let n = usize::try_from(self.queue_sel).ok()?;
        (n < usize::from(self.function.queues())).then(|| &mut self.queues[n])
    }

    fn reset(&mut self) {
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features = 0;
        self.driver_features_sel = 0;
        self.queue_sel = 0;
        self.queues = [Queue::default(); 2];
        self.interrupt_status = 0;
        self.error = None;
    }

    fn fail(&mut self, e: DeviceError) {
        self.error = Some(e);
        self.status |= status::DEVICE_NEEDS_RESET;
        self.interrupt_status |= INT_CONFIG_CHANGE;
    }

    /// A read of `size` bytes (1, 2, 4 or 8) at `offset` in the device's region.
    /// Registers below the configuration space answer only 32-bit reads (§4.2.2: the driver
    /// uses only those); anything else reads as 0.
    #[must_use]
    pub fn read(&self, offset: u64, size: u8) -> u64 {
        if offset >= reg::CONFIG {
            let base = offset - reg::CONFIG;
            return (0..u64::from(size.min(8))).fold(0, |v, i| {
                v | u64::from(self.function.config(base + i)) << (8 * i)
            });
        }
        if size != 4 {
            return 0;
        }
        let queue = usize::try_from(self.queue_sel)
            .ok()
            .filter(|&n| n < usize::from(self.function.queues()))
            .map(|n| &self.queues[n]);
        let value: u32 = match offset {
            reg::MAGIC_VALUE => MAGIC_VALUE,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => self.function.device_id(),
            reg::VENDOR_ID => VENDOR_ID,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => Self::device_features() as u32,
                1 => (Self::device_features() >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX => queue.map_or(0, |_| u32::from(QUEUE_NUM_MAX)),
            reg::QUEUE_READY => queue.map_or(0, |q| u32::from(q.ready)),
            reg::INTERRUPT_STATUS => self.interrupt_status,
            reg::STATUS => self.status,
            // No shared memory regions: a non-existent region reads as all ones (§4.2.2).
            reg::SHM_LEN_LOW..=reg::SHM_BASE_HIGH => u32::MAX,
            reg::CONFIG_GENERATION => 0,
            _ => 0,
        };
        u64::from(value)
    }

    /// A write of `size` bytes of `value` at `offset`; a notification processes the queue
    /// through `io` before it returns. Writes to the configuration space and writes other
    /// than 32 bits to the registers are ignored.
    pub fn write(&mut self, offset: u64, size: u8, value: u64, io: &mut dyn Io) {
        if offset >= reg::CONFIG || size != 4 {
            return;
        }
        let value = value as u32;
        let high = |old: u64, v: u32| (old & 0xffff_ffff) | (u64::from(v) << 32);
        let low = |old: u64, v: u32| (old & !0xffff_ffff) | u64::from(v);
        match offset {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = value,
            reg::DRIVER_FEATURES => match self.driver_features_sel {
                0 => self.driver_features = low(self.driver_features, value),
                1 => self.driver_features = high(self.driver_features, value),
                _ => {}
            },
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            reg::QUEUE_SEL => self.queue_sel = value,
            reg::QUEUE_NUM => {
                if let Some(q) = self.queue().filter(|q| !q.ready) {
                    q.size = value;
                }
            }
            reg::QUEUE_READY => self.queue_ready(value != 0),
            reg::QUEUE_NOTIFY => self.notify(value, io),
            reg::INTERRUPT_ACK => self.interrupt_status &= !value,
            reg::STATUS => self.write_status(value),
            reg::QUEUE_DESC_LOW..=reg::QUEUE_DEVICE_HIGH => {
                if let Some(q) = self.queue().filter(|q| !q.ready) {
                    let (field, is_high) = match offset {
                        reg::QUEUE_DESC_LOW => (&mut q.desc, false),
                        reg::QUEUE_DESC_HIGH => (&mut q.desc, true),
                        reg::QUEUE_DRIVER_LOW => (&mut q.driver, false),
                        reg::QUEUE_DRIVER_HIGH => (&mut q.driver, true),
                        reg::QUEUE_DEVICE_LOW => (&mut q.device, false),
                        reg::QUEUE_DEVICE_HIGH => (&mut q.device, true),
                        _ => return,
                    };
                    *field = if is_high {
                        high(*field, value)
                    } else {
                        low(*field, value)
                    };
                }
            }
            _ => {}
        }
    }

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let mut value = value & !status::DEVICE_NEEDS_RESET;
        // FEATURES_OK only for a subset of what is offered that includes VERSION_1 (§2.2,
        // §6.1: a device that offers VERSION_1 may refuse a driver that does not accept it).
        if value & status::FEATURES_OK != 0 {
            let offered = Self::device_features();
            if self.driver_features & !offered != 0
                || self.driver_features & VIRTIO_F_VERSION_1 == 0
            {
                value &= !status::FEATURES_OK;
            }
        }
        self.status = value | (self.status & status::DEVICE_NEEDS_RESET);
    }

    fn queue_ready(&mut self, ready: bool) {
        let number = self.queue_sel as u16;
        let Some(q) = self.queue() else { return };
        if !ready {
            q.ready = false;
            return;
        }
        if !q.size_valid() {
            let size = q.size;
            self.fail(DeviceError::BadQueueSize {
                queue: number,
                size,
            });
            return;
        }
        q.reset_position();
        q.ready = true;
    }

    fn notify(&mut self, queue: u32, io: &mut dyn Io) {
        if self.status & status::DRIVER_OK == 0 || self.error.is_some() {
            return;
        }
        let Ok(number) = u16::try_from(queue) else {
            return;
        };
        if number >= self.function.queues() || !self.queues[usize::from(number)].ready {
            return;
        }
        // Received data comes from `console_input`; a notification there only says that
        // buffers are waiting.
        if matches!(self.function, Function::Console) && number == console::RECEIVEQ {
            return;
        }
        if let Err(e) = self.process(number, io, &[]).map(|_| ()) {
            self.fail(e);
        }
    }

    /// Serves the chains waiting in queue `number` (at most one queue's worth); returns how
    /// many bytes of `input` a console's receive queue took.
    fn process(
        &mut self,
        number: u16,
        io: &mut dyn Io,
        input: &[u8],
    ) -> Result<usize, DeviceError> {
        let index = usize::from(number);
        let size = self.queues[index].size;
        let mut used = false;
        let mut taken = 0;
        for _ in 0..size {
            if matches!(self.function, Function::Console)
                && number == console::RECEIVEQ
                && taken == input.len()
            {
                break;
            }
            let Some(chain) = self.queues[index].pop(number, io)? else {
                break;
            };
            let written = match (&mut self.function, number) {
                (Function::Console, console::TRANSMITQ) => console::transmit(&chain, io)?,
                (Function::Console, _) => {
                    let n = console::receive(&chain, io, &input[taken..])?;
                    taken += n as usize;
                    n
                }
                (Function::Block(disk), _) => disk.request(number, &chain, io)?,
            };
            self.queues[index].push_used(io, chain.head, written)?;
            used = true;
        }
        if used {
            self.interrupt_status |= INT_USED_BUFFER;
        }
        Ok(taken)
    }

    /// Gives `input` to a console's receive queue, as far as the buffers the driver made
    /// available reach; returns the bytes taken (0 for a block device, a device that is not
    /// running, or one that failed now, see [`MmioDevice::error`]).
    pub fn console_input(&mut self, input: &[u8], io: &mut dyn Io) -> usize {
        let q = usize::from(console::RECEIVEQ);
        if !matches!(self.function, Function::Console)
            || self.status & status::DRIVER_OK == 0
            || self.error.is_some()
            || !self.queues[q].ready
        {
            return 0;
        }
        match self.process(console::RECEIVEQ, io, input) {
            Ok(n) => n,
            Err(e) => {
                self.fail(e);
                0
            }
        }
    }
}

/// A data abort's access, decoded from its syndrome (Arm ARM D24.2.41, ESR_EL2 for a data
/// abort with ISV = 1: SAS bits 23:22, SSE bit 21, SRT bits 20:16, SF bit 15, WnR bit 6).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct MmioAccess {
    /// The faulting IPA (HPFAR_EL2's page with FAR_EL2's offset in it).
    pub ipa: u64,
    /// Access size in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// Whether it is a write.
    pub write: bool,
    /// The general-purpose register transferred (31 is XZR).
    pub register: u8,
    /// Whether a read sign-extends (SSE).
    pub sign_extend: bool,
    /// Whether the register is 64 bits wide (SF).
    pub sixty_four: bool,
}

impl MmioAccess {
    /// ESR_ELx.EC of a data abort from a lower exception level.
    pub const EC_DABT_LOWER: u64 = 0x24;

    /// Decodes `esr`; `None` unless it is a data abort from a lower level with a valid
    /// instruction syndrome (ISV), the only kind a host can emulate.
    #[must_use]
    pub fn decode(esr: u64, ipa: u64) -> Option<Self> {
        const ISV: u64 = 1 << 24;
        if (esr >> 26) & 0x3f != Self::EC_DABT_LOWER || esr & ISV == 0 {
            return None;
        }
        Some(Self {
            ipa,
            size: 1 << ((esr >> 22) & 0b11),
            write: esr & (1 << 6) != 0,
            register: ((esr >> 16) & 0x1f) as u8,
            sign_extend: esr & (1 << 21) != 0,
            sixty_four: esr & (1 << 15) != 0,
        })
    }

    /// The value a read puts in its register: `value` cut to the access size, sign-extended
    /// if SSE asks, cut to 32 bits for a W register (as TF-RMM v0.8.0 does,
    /// `runtime/rmi/run.c`, `complete_mmio_emulation`).
    #[must_use]
    pub fn read_result(&self, value: u64) -> u64 {
        let bits = u32::from(self.size) * 8;
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1 << bits) - 1
        };
        let mut v = value & mask;
        if self.sign_extend && bits < 64 {
            let sign = 1u64 << (bits - 1);
            v = (v ^ sign).wrapping_sub(sign);
            if !self.sixty_four {
                v &= 0xffff_ffff;
            }
        }
        v
    }

    /// The value a write stores: `register` cut to the access size.
    #[must_use]
    pub fn write_value(&self, register: u64) -> u64 {
        if self.size >= 8 {
            register
        } else {
            register & ((1 << (u32::from(self.size) * 8)) - 1)
        }
    }
}

/// The devices of one host, in slots of [`layout::MMIO_STRIDE`] bytes from `base` (an
/// unprotected IPA).
#[derive(Debug)]
pub struct Bus<'d, 'a> {
    base: u64,
    devices: &'d mut [MmioDevice<'a>],
}

impl<'d, 'a> Bus<'d, 'a> {
    /// Devices at `base`, `base + 0x200`, ...
    pub fn new(base: u64, devices: &'d mut [MmioDevice<'a>]) -> Self {
        Self { base, devices }
    }

    /// The device whose slot holds `ipa`, and the offset in it.
    fn slot(&mut self, ipa: u64) -> Option<(&mut MmioDevice<'a>, u64)> {
        let off = ipa.checked_sub(self.base)?;
        let index = usize::try_from(off / layout::MMIO_STRIDE).ok()?;
        let device = self.devices.get_mut(index)?;
        Some((device, off % layout::MMIO_STRIDE))
    }

    /// Whether `ipa` is in one of the bus's slots.
    pub fn contains(&mut self, ipa: u64) -> bool {
        self.slot(ipa).is_some()
    }

    /// Performs `access` (with `register`, the value of its register for a write); returns
    /// the value for a read's register (0 for a write), or `None` if the access is not on
    /// this bus.
    pub fn access(&mut self, access: &MmioAccess, register: u64, io: &mut dyn Io) -> Option<u64> {
        let (device, offset) = self.slot(access.ipa)?;
        if access.write {
            device.write(offset, access.size, access.write_value(register), io);
            Some(0)
        } else {
            Some(access.read_result(device.read(offset, access.size)))
        }
    }

    /// The devices.
    pub fn devices(&mut self) -> &mut [MmioDevice<'a>] {
        self.devices
    }
}
