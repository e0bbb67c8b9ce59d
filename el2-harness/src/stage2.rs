//! The realm's stage-2 translation: protected RAM, and in the unprotected half the host
//! memory behind the alias of RAM (shared buffers) and the UART.
//!
//! VMSAv8-64 stage 2 with a 4 KiB granule, a 39-bit IPA space starting at level 1
//! (`VTCR_EL2.T0SZ` = 25, `SL0` = 1), 4 KiB pages of RAM at level 3 and 2 MiB blocks for the
//! rest (Arm ARM D8.3).
//!
//! RAM is populated as rmi-shim's builder does by default (`Populate::OnDemand`): the image's
//! pages are mapped before the realm starts; any other page of RAM is zeroed and mapped when
//! the realm (or the RMM model, on its behalf) first reaches it.

use el2_harness::layout::{
    IPA_WIDTH, REALM_RAM_IPA, REALM_RAM_PA, REALM_RAM_SIZE, SHARED_IPA, SHARED_PA, UART_PA,
};

const BLOCK_2M: u64 = 1 << 21;
const PAGE: u64 = 1 << 12;
const ENTRIES: usize = 512;
/// Level-3 tables over realm RAM, one per 2 MiB.
const RAM_TABLES: usize = (REALM_RAM_SIZE / BLOCK_2M) as usize;

/// Descriptor bits (Arm ARM D8.3.2, stage 2).
const VALID_TABLE: u64 = 0b11;
const VALID_BLOCK: u64 = 0b01;
const VALID_PAGE: u64 = 0b11;
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

/// The tables: the level-1 root, the level-2 tables of realm RAM and of its unprotected
/// alias, the level-2 table of the unprotected alias of the UART, and the level-3 tables of
/// RAM.
#[repr(C)]
pub struct Stage2 {
    root: Table,
    ram: Table,
    shared: Table,
    mmio: Table,
    pages: [Table; RAM_TABLES],
    /// Pages of RAM mapped on the realm's demand.
    populated: usize,
}

impl Stage2 {
    /// Empty tables.
    pub const fn new() -> Self {
        Self {
            root: Table([0; ENTRIES]),
            ram: Table([0; ENTRIES]),
            shared: Table([0; ENTRIES]),
            mmio: Table([0; ENTRIES]),
            pages: [const { Table([0; ENTRIES]) }; RAM_TABLES],
            populated: 0,
        }
    }

    /// The level-3 descriptor of realm RAM at offset `off`.
    fn page_entry(&mut self, off: u64) -> &mut u64 {
        let page = (off / PAGE) as usize;
        &mut self.pages[page / ENTRIES].0[page % ENTRIES]
    }

    fn map_page(&mut self, off: u64) {
        let pa = REALM_RAM_PA + off;
        *self.page_entry(off) = pa | AF | SH_INNER | S2AP_RW | MEMATTR_NORMAL_WB | VALID_PAGE;
    }

    /// Whether the page of RAM at IPA `ipa` is mapped; `None` outside RAM.
    #[must_use]
    fn is_mapped(&mut self, ipa: u64) -> Option<bool> {
        let off = ipa
            .checked_sub(REALM_RAM_IPA)
            .filter(|&o| o < REALM_RAM_SIZE)?;
        Some(*self.page_entry(off & !(PAGE - 1)) & VALID_PAGE != 0)
    }

    /// Populates the page of RAM at IPA `ipa` (zeroes it, maps it) if it is not mapped yet;
    /// `false` outside RAM or if it already was (a fault there is not a missing page).
    pub fn populate(&mut self, ipa: u64) -> bool {
        if self.is_mapped(ipa) != Some(false) {
            return false;
        }
        let off = (ipa - REALM_RAM_IPA) & !(PAGE - 1);
        let pa = (REALM_RAM_PA + off) as usize;
        // SAFETY: the page lies in the realm RAM backing (checked above), reserved for the
        // realm by the harness's memory map; the realm cannot reach it yet (unmapped).
        unsafe { core::ptr::write_bytes(pa as *mut u8, 0, PAGE as usize) };
        self.map_page(off);
        self.populated += 1;
        // The walker must see the zeroed page and the new descriptor (an invalid entry is
        // never held in a TLB, so no invalidation).
        aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        true
    }

    /// Whether the page of RAM at IPA `ipa` is mapped (another CPU may have populated it
    /// between this CPU's fault and its handling).
    #[must_use]
    pub fn ram_mapped(&mut self, ipa: u64) -> bool {
        self.is_mapped(ipa) == Some(true)
    }

    /// The value for `VTTBR_EL2` (VMID 0), once [`Stage2::build`] made the tables.
    #[must_use]
    pub fn vttbr(&self) -> u64 {
        (&raw const self.root).addr() as u64
    }

    /// Pages of RAM populated on demand so far.
    #[must_use]
    pub fn populated(&self) -> usize {
        self.populated
    }

    /// Maps the `image_size` bytes of the image at the start of realm RAM (normal memory,
    /// executable; the rest of RAM when the realm reaches it), the host memory behind its
    /// unprotected alias (normal memory, execute-never) and the UART's unprotected alias
    /// (device memory, execute-never); returns the value for `VTTBR_EL2` (VMID 0).
    pub fn build(&mut self, image_size: u64) -> u64 {
        let l1 = |ipa: u64| ((ipa >> 30) & 0x1ff) as usize;
        let l2 = |ipa: u64| ((ipa >> 21) & 0x1ff) as usize;

        for i in 0..RAM_TABLES {
            let ipa = REALM_RAM_IPA + i as u64 * BLOCK_2M;
            self.ram.0[l2(ipa)] = (&raw const self.pages[i]).addr() as u64 | VALID_TABLE;
        }
        for off in (0..image_size.min(REALM_RAM_SIZE)).step_by(PAGE as usize) {
            self.map_page(off);
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
