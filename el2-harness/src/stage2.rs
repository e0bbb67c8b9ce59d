//! The realm's stage-2 translation: protected RAM, and in the unprotected half the host
//! memory behind the alias of RAM (shared buffers) and the UART.
//!
//! VMSAv8-64 stage 2 with a 4 KiB granule, a 39-bit IPA space starting at level 1
//! (`VTCR_EL2.T0SZ` = 25, `SL0` = 1), 2 MiB blocks at level 2 (Arm ARM D8.3).

use el2_harness::layout::{
    IPA_WIDTH, REALM_RAM_IPA, REALM_RAM_PA, REALM_RAM_SIZE, SHARED_IPA, SHARED_PA, UART_PA,
};

const BLOCK_2M: u64 = 1 << 21;
const ENTRIES: usize = 512;

/// Descriptor bits (Arm ARM D8.3.2, stage 2).
const VALID_TABLE: u64 = 0b11;
const VALID_BLOCK: u64 = 0b01;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 0b11 << 8;
const S2AP_RW: u64 = 0b11 << 6;
const MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
const MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
/// Execute-never at EL1 and EL0 (`XN` = 0b10).
const XN: u64 = 0b10 << 53;

/// A translation table.
#[repr(C, align(4096))]
pub struct Table([u64; ENTRIES]);

/// The four tables: the level-1 root, the level-2 tables of realm RAM and of its
/// unprotected alias, and the level-2 table of the unprotected alias of the UART.
#[repr(C)]
pub struct Stage2 {
    root: Table,
    ram: Table,
    shared: Table,
    mmio: Table,
}

impl Stage2 {
    /// Empty tables.
    pub const fn new() -> Self {
        Self {
            root: Table([0; ENTRIES]),
            ram: Table([0; ENTRIES]),
            shared: Table([0; ENTRIES]),
            mmio: Table([0; ENTRIES]),
        }
    }

    /// Maps realm RAM (normal memory, executable), the host memory behind its unprotected
    /// alias (normal memory, execute-never) and the UART's unprotected alias (device memory,
    /// execute-never); returns the value for `VTTBR_EL2` (VMID 0).
    pub fn build(&mut self) -> u64 {
        let l1 = |ipa: u64| ((ipa >> 30) & 0x1ff) as usize;
        let l2 = |ipa: u64| ((ipa >> 21) & 0x1ff) as usize;

        for i in 0..REALM_RAM_SIZE / BLOCK_2M {
            let ipa = REALM_RAM_IPA + i * BLOCK_2M;
            let pa = REALM_RAM_PA + i * BLOCK_2M;
            self.ram.0[l2(ipa)] = pa | AF | SH_INNER | S2AP_RW | MEMATTR_NORMAL_WB | VALID_BLOCK;
        }
        self.root.0[l1(REALM_RAM_IPA)] = (&raw const self.ram).addr() as u64 | VALID_TABLE;

        for i in 0..REALM_RAM_SIZE / BLOCK_2M {
            let ipa = SHARED_IPA + i * BLOCK_2M;
            let pa = SHARED_PA + i * BLOCK_2M;
            self.shared.0[l2(ipa)] =
                pa | AF | SH_INNER | S2AP_RW | MEMATTR_NORMAL_WB | XN | VALID_BLOCK;
        }
        self.root.0[l1(SHARED_IPA)] = (&raw const self.shared).addr() as u64 | VALID_TABLE;

        let alias = UART_PA | (1 << (IPA_WIDTH - 1));
        let uart_block = UART_PA & !(BLOCK_2M - 1);
        self.mmio.0[l2(alias)] =
            uart_block | AF | S2AP_RW | MEMATTR_DEVICE_NGNRE | XN | VALID_BLOCK;
        self.root.0[l1(alias)] = (&raw const self.mmio).addr() as u64 | VALID_TABLE;

        (&raw const self.root).addr() as u64
    }
}

/// `VTCR_EL2`: T0SZ = 64 - 39, SL0 = 1 (level 1), inner/outer write-back cacheable walks,
/// inner shareable, 4 KiB granule, 40-bit PA, bit 31 RES1.
pub const VTCR: u64 = (64 - IPA_WIDTH as u64)
    | (1 << 6)
    | (1 << 8)
    | (1 << 10)
    | (0b11 << 12)
    | (0b010 << 16)
    | (1 << 31);
