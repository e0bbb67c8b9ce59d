//! The stage-1 identity map and the MMU: built at entry, before any Rust code runs an
//! atomic, with [`aarch64_paging`] over a static pool of page tables.
//!
//! Virtual addresses equal IPAs (what realm-sdk's safe RSI functions assume), in both halves
//! of the realm's IPA space:
//!
//! | range (linker symbols of realm-build `realm.ld`) | memory type         | access  |
//! |--------------------------------------------------|---------------------|---------|
//! | `__image_start..__text_end`                      | Normal write-back   | R, X    |
//! | `__rodata_start..__rodata_end`                   | Normal write-back   | R, XN   |
//! | `__data_start..__stack_guard` (data, BSS)        | Normal write-back   | RW, XN  |
//! | `__stack_guard..__stack_bottom` (guard page)     | unmapped            |         |
//! | `__stack_bottom..__realm_ram_end` (stack, heap, rest of RAM) | Normal write-back | RW, XN |
//! | unprotected alias of `REALM_RAM`                 | Normal non-cacheable| RW, XN  |
//! | unprotected alias of `__realm_pl011_ipa` (4 KiB) | Device-nGnRE        | RW, XN  |
//!
//! With an IPA width over 48 bits (LPA2) the unprotected half lies above the 48-bit VA space
//! this map can have (aarch64-paging has no level -1 tables): only protected RAM is mapped,
//! the PL011 console stays on host calls and `service::share` fails ([`alias_mapped`]).
//!
//! Everything else faults (a translation fault, reported by the runtime's exception
//! handler). Protected RAM up to `__heap_end` is mapped with 4 KiB pages, so that pages there
//! can be given up ([`release`]) and taken back ([`restore`]) one by one; RAM past the heap
//! may use 2 MiB blocks. [`crate::Realm::set_ripas`] does both around its RIPAS changes
//! ([`before_ripas_empty`], [`after_ripas_ram`]), and so `service::share`. `MAIR_EL1`: index 0 Device-nGnRE, 1 Normal WB RA/WA inner and outer,
//! 2 Normal non-cacheable. `TCR_EL1`: 4 KiB granule, a 39-bit (IPA width up to 39) or 48-bit
//! VA space from `TTBR0_EL1`, inner-shareable write-back walks, `TTBR1_EL1` walks disabled.
//! `SCTLR_EL1`: M, C, I and WXN set, alignment checking off (the target is built with
//! strict alignment anyway).
//!
//! Before the MMU is on, every data access is Device memory, where the architecture leaves
//! exclusive accesses UNPREDICTABLE: `init` uses no atomic read-modify-write (the page
//! tables are written with plain stores) and the runtime calls it before the heap and the
//! console take their spin locks.

use core::fmt;
use core::ptr::NonNull;

use aarch64_paging::descriptor::{El1Attributes, PhysicalAddress};
use aarch64_paging::mair::{Mair, MairAttribute, NormalMemory};
use aarch64_paging::paging::{Constraints, El1And0, MemoryRegion, PageTable, Translation, VaRange};
use aarch64_paging::{MapError, Mapping};
use spin::Mutex;

use crate::Ipa;

/// Page tables in the static pool: enough for the map of any `realm.ld` image (about ten
/// tables) and for the splits that [`release`] and [`map_device`] may need later.
pub const POOL_TABLES: usize = 32;

/// Tables one change of the map may need at most: two per level below the root.
const TABLES_PER_CHANGE: usize = 6;

const PAGE_SIZE: usize = 4096;

/// `MAIR_EL1`: index 0 Device-nGnRE, 1 Normal write-back, 2 Normal non-cacheable.
const MAIR: Mair = Mair::EMPTY
    .with_attribute(0, MairAttribute::DEVICE_NGNRE)
    .with_attribute(
        1,
        MairAttribute::normal(
            NormalMemory::WriteBackNonTransientReadWriteAllocate,
            NormalMemory::WriteBackNonTransientReadWriteAllocate,
        ),
    )
    .with_attribute(
        2,
        MairAttribute::normal(NormalMemory::NonCacheable, NormalMemory::NonCacheable),
    );

const DEVICE: El1Attributes = El1Attributes::VALID
    .union(El1Attributes::ATTRIBUTE_INDEX_0)
    .union(El1Attributes::ACCESSED)
    .union(El1Attributes::PXN)
    .union(El1Attributes::UXN);
const NORMAL: El1Attributes = El1Attributes::VALID
    .union(El1Attributes::ATTRIBUTE_INDEX_1)
    .union(El1Attributes::INNER_SHAREABLE)
    .union(El1Attributes::ACCESSED);
const TEXT: El1Attributes = NORMAL
    .union(El1Attributes::READ_ONLY)
    .union(El1Attributes::UXN);
const RODATA: El1Attributes = NORMAL
    .union(El1Attributes::READ_ONLY)
    .union(El1Attributes::PXN)
    .union(El1Attributes::UXN);
const DATA: El1Attributes = NORMAL.union(El1Attributes::PXN).union(El1Attributes::UXN);
const SHARED: El1Attributes = El1Attributes::VALID
    .union(El1Attributes::ATTRIBUTE_INDEX_2)
    .union(El1Attributes::INNER_SHAREABLE)
    .union(El1Attributes::ACCESSED)
    .union(El1Attributes::PXN)
    .union(El1Attributes::UXN);

/// `SCTLR_EL1` bits (Arm ARM D23.2.150).
const SCTLR_M: u64 = 1 << 0;
const SCTLR_A: u64 = 1 << 1;
const SCTLR_C: u64 = 1 << 2;
const SCTLR_I: u64 = 1 << 12;
const SCTLR_WXN: u64 = 1 << 19;

/// Why the map could not be built or changed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum MmuError {
    /// The realm's IPA width is outside what the map supports (33 to 52 bits).
    IpaWidth(u8),
    /// The unprotected half is out of the map's reach (an IPA width over 48 bits).
    NoAlias,
    /// `ID_AA64MMFR0_EL1.PARange` (the value) is too small for the realm's IPA width.
    PaRange(u64),
    /// The range is empty, not page aligned, or not where the call may change the map.
    BadRange,
    /// The pool of page tables ([`POOL_TABLES`]) has too few tables left for the change.
    PoolExhausted,
    /// The runtime has not turned the MMU on.
    NotEnabled,
    /// `aarch64-paging` refused the change.
    Map(MapError),
}

impl fmt::Display for MmuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IpaWidth(w) => write!(f, "IPA width {w} is not supported (33 to 52 bits)"),
            Self::NoAlias => f.write_str("the unprotected half is not mapped (IPA over 48 bits)"),
            Self::PaRange(r) => write!(f, "PARange {r:#x} is smaller than the IPA width"),
            Self::BadRange => f.write_str("range is empty, unaligned or outside what may change"),
            Self::PoolExhausted => f.write_str("the page-table pool is exhausted"),
            Self::NotEnabled => f.write_str("the MMU is not on"),
            Self::Map(e) => write!(f, "page tables: {e}"),
        }
    }
}

impl core::error::Error for MmuError {}

impl From<MapError> for MmuError {
    fn from(e: MapError) -> Self {
        Self::Map(e)
    }
}

/// The page-table pool, in BSS (zeroed by `_start`).
static mut POOL: [PageTable<El1Attributes>; POOL_TABLES] = [PageTable::EMPTY; POOL_TABLES];

/// Bump allocation from [`POOL`]: each table is handed out once, zeroed.
#[derive(Debug)]
struct TablePool {
    next: usize,
}

impl TablePool {
    fn base() -> *mut PageTable<El1Attributes> {
        (&raw mut POOL).cast()
    }

    fn free(&self) -> usize {
        POOL_TABLES - self.next
    }
}

impl Translation<El1Attributes> for TablePool {
    fn allocate_table(&mut self) -> (NonNull<PageTable<El1Attributes>>, PhysicalAddress) {
        // The trait has no way to fail: callers check `free` against TABLES_PER_CHANGE first
        // (and `init`'s map needs far fewer than POOL_TABLES), so this is a bug, not input.
        assert!(
            self.next < POOL_TABLES,
            "realm-sdk: page-table pool exhausted"
        );
        let table = Self::base().wrapping_add(self.next);
        self.next += 1;
        // SAFETY: `table` points into POOL, which is not at address 0.
        let table = unsafe { NonNull::new_unchecked(table) };
        (table, PhysicalAddress(table.addr().get()))
    }

    unsafe fn deallocate_table(&mut self, _table: NonNull<PageTable<El1Attributes>>) {
        // Tables are never reused: a freed table stays zeroed or stale and unreachable. The
        // pool is sized for the map's whole life, and reuse would need a free list for little
        // gain in a runtime that changes its map a handful of times.
    }

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<El1Attributes>> {
        // Identity map: the table's VA is its PA; keep the pool's provenance.
        let table = Self::base().with_addr(pa.0);
        // SAFETY: `pa` is the address of a table this pool handed out, never 0.
        unsafe { NonNull::new_unchecked(table) }
    }
}

/// The live map, once the MMU is on.
struct IdMap {
    mapping: Mapping<TablePool, El1And0>,
    unprotected_bit: usize,
    /// Whether the unprotected alias of RAM and the UART are mapped.
    alias: bool,
}

static MAP: Mutex<Option<IdMap>> = Mutex::new(None);

unsafe extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __stack_guard: u8;
    static __stack_bottom: u8;
    static __stack_top: u8;
    static __heap_end: u8;
    static __realm_ram_start: u8;
    static __realm_ram_end: u8;
    static __realm_pl011_ipa: u8;
}

/// A linker symbol's address.
macro_rules! sym {
    ($s:ident) => {
        (&raw const $s).addr()
    };
}

/// Returns whether the MMU is on (`SCTLR_EL1.M`).
#[must_use]
pub fn is_enabled() -> bool {
    sctlr() & SCTLR_M != 0
}

/// Returns whether the data and instruction caches are on (`SCTLR_EL1.C` and `.I`).
#[must_use]
pub fn caches_enabled() -> bool {
    sctlr() & (SCTLR_C | SCTLR_I) == SCTLR_C | SCTLR_I
}

fn sctlr() -> u64 {
    let value: u64;
    // SAFETY: reading SCTLR_EL1 at EL1 has no side effect.
    unsafe { core::arch::asm!("mrs {}, sctlr_el1", out(reg) value, options(nomem, nostack)) };
    value
}

/// Builds the identity map for a realm of `ipa_width` bits and turns the MMU and caches on.
///
/// Runs once, from the runtime's entry, with the MMU off: it must not use atomic
/// read-modify-write instructions, the heap or the console's lock.
pub(super) fn init(ipa_width: u8) -> Result<(), MmuError> {
    let (root_level, va_bits) = match ipa_width {
        33..=39 => (1, 39),
        40..=52 => (0, 48),
        w => return Err(MmuError::IpaWidth(w)),
    };
    // aarch64-paging has no level -1 tables (FEAT_LPA2, 52-bit VAs): a realm with a wider
    // IPA space gets its protected RAM mapped (below 2^48) but not the unprotected half.
    let alias = ipa_width <= 48;
    let ips = ips_for(ipa_width.min(48))?;
    let unprotected_bit = 1usize << (ipa_width - 1);
    let mut mapping = Mapping::with_asid_and_va_range(
        TablePool { next: 0 },
        0,
        root_level,
        El1And0,
        VaRange::Lower,
    );
    let ram = (sym!(__realm_ram_start), sym!(__realm_ram_end));
    let pages = Constraints::NO_BLOCK_MAPPINGS;
    let regions = [
        (sym!(__image_start), sym!(__text_end), TEXT, pages),
        (sym!(__rodata_start), sym!(__rodata_end), RODATA, pages),
        (sym!(__data_start), sym!(__stack_guard), DATA, pages),
        (sym!(__stack_bottom), sym!(__heap_end), DATA, pages),
        (sym!(__heap_end), ram.1, DATA, Constraints::empty()),
        (
            ram.0 | unprotected_bit,
            ram.1 | unprotected_bit,
            SHARED,
            Constraints::empty(),
        ),
        (
            sym!(__realm_pl011_ipa) | unprotected_bit,
            (sym!(__realm_pl011_ipa) | unprotected_bit) + PAGE_SIZE,
            DEVICE,
            pages,
        ),
    ];
    for (start, end, flags, constraints) in regions {
        if start < end && (alias || start & unprotected_bit == 0) {
            // Identity: the output address is the IPA, the same bits as the VA.
            mapping.map_range(
                &MemoryRegion::new(start, end),
                PhysicalAddress(start),
                flags,
                constraints,
            )?;
        }
    }
    let tcr = tcr(va_bits, ips);
    // SAFETY: the map covers the code that is running (text), its stack, data and BSS with
    // the same addresses; the tables live in POOL, which stays mapped and is never freed.
    unsafe { enable(mapping.root_address().0, tcr) };
    // The MMU is on: atomics are now on Normal memory.
    mapping.mark_active();
    *MAP.lock() = Some(IdMap {
        mapping,
        unprotected_bit,
        alias,
    });
    Ok(())
}

/// `TCR_EL1.IPS` for an output range of at least `ipa_width` bits, within the CPU's PARange.
fn ips_for(ipa_width: u8) -> Result<u64, MmuError> {
    // ID_AA64MMFR0_EL1.PARange encodings and their widths (Arm ARM D23.2.74); 52 bits needs
    // LPA2, which this map does not use.
    const WIDTHS: [u8; 6] = [32, 36, 40, 42, 44, 48];
    let mmfr0: u64;
    // SAFETY: reading an ID register has no side effect.
    unsafe {
        core::arch::asm!("mrs {}, id_aa64mmfr0_el1", out(reg) mmfr0, options(nomem, nostack));
    };
    let parange = mmfr0 & 0xf;
    let ips = WIDTHS
        .iter()
        .position(|&w| w >= ipa_width)
        .ok_or(MmuError::IpaWidth(ipa_width))? as u64;
    if ips > parange {
        return Err(MmuError::PaRange(parange));
    }
    Ok(ips)
}

/// `TCR_EL1` for a `va_bits` TTBR0 space, 4 KiB granule, inner-shareable write-back walks,
/// TTBR1 walks disabled, output size `ips` (Arm ARM D23.2.163).
const fn tcr(va_bits: u64, ips: u64) -> u64 {
    let t0sz = 64 - va_bits;
    let irgn0_wb = 0b01 << 8;
    let orgn0_wb = 0b01 << 10;
    let sh0_inner = 0b11 << 12;
    let tg0_4k = 0b00 << 14;
    let t1sz = t0sz << 16;
    let epd1 = 1 << 23;
    t0sz | irgn0_wb | orgn0_wb | sh0_inner | tg0_4k | t1sz | epd1 | (ips << 32)
}

/// Loads the translation registers and sets `SCTLR_EL1.{M, C, I, WXN}`.
///
/// # Safety
///
/// `root` is the root table of a map that maps the running code, its stack and every object
/// the program uses at their current addresses, and that stays valid while it is in use.
unsafe fn enable(root: usize, tcr: u64) {
    // Data written with the MMU off (BSS, the tables, the stack) went to memory without
    // allocating in the caches; invalidate what the caches may hold for it from before the
    // realm ran, so that cacheable reads see the memory. Text and rodata were loaded and
    // measured by the host and the RMM, which leave them clean to PoC.
    invalidate_dcache(sym!(__data_start), sym!(__stack_top));
    let sctlr = (sctlr() | SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_WXN) & !SCTLR_A;
    // SAFETY: the caller's contract: the new map keeps every address in use where it is, so
    // the instruction after `msr sctlr_el1` and everything after it run as before.
    unsafe {
        core::arch::asm!(
            "msr mair_el1, {mair}",
            "msr tcr_el1, {tcr}",
            "msr ttbr0_el1, {root}",
            "isb",
            "tlbi vmalle1",
            "ic iallu",
            "dsb nsh",
            "isb",
            "msr sctlr_el1, {sctlr}",
            "isb",
            mair = in(reg) MAIR.0,
            tcr = in(reg) tcr,
            root = in(reg) root,
            sctlr = in(reg) sctlr,
            options(nostack),
        );
    }
}

/// The smallest data cache line (`CTR_EL0.DminLine`).
fn dcache_line() -> usize {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effect.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    4 << ((ctr >> 16) & 0xf)
}

/// `DC IVAC` over `[start, end)`: discards cached copies without writing them back.
fn invalidate_dcache(start: usize, end: usize) {
    let line = dcache_line();
    let mut at = start & !(line - 1);
    while at < end {
        // SAFETY: invalidation by VA to PoC only discards cached copies of memory that,
        // with the MMU off, every access bypasses; it changes no memory the program owns.
        unsafe { core::arch::asm!("dc ivac, {}", in(reg) at, options(nostack)) };
        at += line;
    }
    // SAFETY: a barrier has no other effect.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// `DC CIVAC` over `[start, end)`: writes dirty lines back to PoC and discards them.
fn clean_invalidate_dcache(start: usize, end: usize) {
    let line = dcache_line();
    let mut at = start & !(line - 1);
    while at < end {
        // SAFETY: cleaning and invalidating to PoC keeps the memory's contents (dirty data
        // is written back first) and only changes what the caches hold.
        unsafe { core::arch::asm!("dc civac, {}", in(reg) at, options(nostack)) };
        at += line;
    }
    // SAFETY: a barrier has no other effect.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// Checks that `[base, base + len)` is a non-empty page-aligned range of protected RAM that
/// the map holds with pages (between `__data_start` and `__heap_end`, not the guard page or
/// the image's text and rodata).
fn page_mapped_ram(base: Ipa, len: usize) -> Result<MemoryRegion, MmuError> {
    let start = usize::try_from(base.0).map_err(|_| MmuError::BadRange)?;
    let end = start.checked_add(len).ok_or(MmuError::BadRange)?;
    let aligned = start.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE) && len > 0;
    let in_data = start >= sym!(__data_start) && end <= sym!(__stack_guard);
    let in_stack_or_heap = start >= sym!(__stack_bottom) && end <= sym!(__heap_end);
    if !aligned || !(in_data || in_stack_or_heap) {
        return Err(MmuError::BadRange);
    }
    Ok(MemoryRegion::new(start, end))
}

/// Runs `f` on the live map, after checking that the pool can take one more change.
fn with_map<T>(f: impl FnOnce(&mut IdMap) -> Result<T, MmuError>) -> Result<T, MmuError> {
    let mut map = MAP.lock();
    let map = map.as_mut().ok_or(MmuError::NotEnabled)?;
    if map.mapping.translation().free() < TABLES_PER_CHANGE {
        return Err(MmuError::PoolExhausted);
    }
    f(map)
}

/// Prepares protected pages to be given up (their RIPAS set to `EMPTY`): writes their dirty
/// cache lines back to PoC, discards them, and unmaps the pages, so that any later access
/// faults in the realm instead of reaching memory the realm no longer owns.
///
/// `[base, base + len)` must be page aligned and lie in the image's data, BSS, stack or
/// heap (where the map uses pages); the caller must own it and not use it until
/// [`restore`].
///
/// # Errors
///
/// [`MmuError::BadRange`], [`MmuError::NotEnabled`], [`MmuError::PoolExhausted`], or
/// [`MmuError::Map`].
pub fn release(base: Ipa, len: usize) -> Result<(), MmuError> {
    let region = page_mapped_ram(base, len)?;
    with_map(|map| {
        clean_mapped(&map.mapping, &region)?;
        map.mapping.map_range(
            &region,
            PhysicalAddress(region.start().0),
            El1Attributes::empty(),
            Constraints::NO_BLOCK_MAPPINGS,
        )?;
        Ok(())
    })
}

/// `DC CIVAC` over the parts of `region` the map holds (on an unmapped VA it would fault), so
/// that releasing twice is harmless.
fn clean_mapped(
    mapping: &Mapping<TablePool, El1And0>,
    region: &MemoryRegion,
) -> Result<(), MmuError> {
    mapping.walk_range(region, &mut |chunk, descriptor, _level| {
        if descriptor.is_valid() {
            clean_invalidate_dcache(chunk.start().0, chunk.end().0);
        }
        Ok(())
    })?;
    Ok(())
}

/// Keeps the map consistent with a change of `[base, base + len)` to RIPAS `EMPTY`, before
/// the change ([`crate::Realm::set_ripas`] calls it): [`release`] where the map holds the
/// pages one by one (data, BSS, stack, heap). Elsewhere (RAM past the heap, in 2 MiB blocks)
/// the mapped lines are still written back and discarded, and the mapping stays: the realm
/// must not touch the range. Does nothing before the MMU is on.
pub fn before_ripas_empty(base: Ipa, len: usize) {
    if release(base, len).is_ok() {
        return;
    }
    let Ok(start) = usize::try_from(base.0) else {
        return;
    };
    let Some(end) = start.checked_add(len).filter(|&end| end > start) else {
        return;
    };
    if let Some(map) = MAP.lock().as_ref() {
        // A range outside the map's VA space has nothing to clean.
        let _ = clean_mapped(&map.mapping, &MemoryRegion::new(start, end));
    }
}

/// Keeps the map consistent with a change of `[base, base + len)` to RIPAS `RAM`, after the
/// change ([`crate::Realm::set_ripas`] calls it): [`restore`]s pages [`release`] unmapped;
/// ranges the map never held page by page are left as they are.
pub fn after_ripas_ram(base: Ipa, len: usize) {
    let _ = restore(base, len);
}

/// Maps pages given up with [`release`] again (read-write, execute-never, write-back), once
/// their RIPAS is `RAM` again.
///
/// # Errors
///
/// As [`release`].
pub fn restore(base: Ipa, len: usize) -> Result<(), MmuError> {
    let region = page_mapped_ram(base, len)?;
    with_map(|map| {
        map.mapping.map_range(
            &region,
            PhysicalAddress(region.start().0),
            DATA,
            Constraints::NO_BLOCK_MAPPINGS,
        )?;
        Ok(())
    })
}

/// Realm RAM as the image was linked for it: `[__realm_ram_start, __realm_ram_end)`.
#[must_use]
pub fn realm_ram() -> (Ipa, Ipa) {
    (
        Ipa(sym!(__realm_ram_start) as u64),
        Ipa(sym!(__realm_ram_end) as u64),
    )
}

/// Maps `[ipa, ipa + len)`, in the unprotected half of the IPA space, as Device-nGnRE memory
/// (execute-never) for a device the host emulates there.
///
/// # Errors
///
/// [`MmuError::BadRange`] if the range is empty, unaligned, not unprotected or overlaps the
/// alias of `REALM_RAM`; otherwise as [`release`].
pub fn map_device(ipa: Ipa, len: usize) -> Result<(), MmuError> {
    let start = usize::try_from(ipa.0).map_err(|_| MmuError::BadRange)?;
    let end = start.checked_add(len).ok_or(MmuError::BadRange)?;
    with_map(|map| {
        if !map.alias {
            return Err(MmuError::NoAlias);
        }
        let alias = (
            sym!(__realm_ram_start) | map.unprotected_bit,
            sym!(__realm_ram_end) | map.unprotected_bit,
        );
        let aligned = start.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE) && len > 0;
        let unprotected = start & map.unprotected_bit != 0 && end <= map.unprotected_bit << 1;
        let overlaps_ram = start < alias.1 && end > alias.0;
        if !aligned || !unprotected || overlaps_ram {
            return Err(MmuError::BadRange);
        }
        map.mapping.map_range(
            &MemoryRegion::new(start, end),
            PhysicalAddress(start),
            DEVICE,
            Constraints::NO_BLOCK_MAPPINGS,
        )?;
        Ok(())
    })
}

/// Runs `f` with the MMU and caches off, then turns them on again: for measuring what the
/// map and the caches are worth (a benchmark), nothing else.
///
/// Before turning the MMU off it writes every dirty line of `[__data_start, __heap_end)`
/// (data, BSS, stack, heap) back to PoC; before turning it on again it discards the lines
/// the caches may still hold there, so that cacheable reads see what `f` wrote.
///
/// # Safety
///
/// While `f` runs every data access is Device memory: `f` must not use atomics (no lock, no
/// heap, no `println!`), must not take an exception, must touch no memory outside the image
/// and `[__data_start, __heap_end)`, and no other CPU may run.
pub unsafe fn with_mmu_off<R>(f: impl FnOnce() -> R) -> R {
    let line = dcache_line();
    let (start, end) = (sym!(__data_start) & !(line - 1), sym!(__heap_end));
    let on = sctlr();
    let off = on & !(SCTLR_M | SCTLR_C | SCTLR_I);
    // SAFETY: cleaning to PoC keeps memory's contents; with the MMU off, VAs are the same
    // IPAs the identity map used, so the code and its stack stay where they are. The loop and
    // the switch are one block: no store can land in the cache between them.
    unsafe {
        core::arch::asm!(
            "2:",
            "dc civac, {at}",
            "add {at}, {at}, {line}",
            "cmp {at}, {end}",
            "b.lo 2b",
            "dsb sy",
            "msr sctlr_el1, {off}",
            "isb",
            "ic iallu",
            "dsb nsh",
            "isb",
            at = inout(reg) start => _,
            line = in(reg) line,
            end = in(reg) end,
            off = in(reg) off,
            options(nostack),
        );
    }
    let result = f();
    // SAFETY: invalidation only discards cached copies (all clean: nothing was cacheable
    // while the MMU was off) of memory `f` may have written; the map is the one that was on.
    unsafe {
        core::arch::asm!(
            "2:",
            "dc ivac, {at}",
            "add {at}, {at}, {line}",
            "cmp {at}, {end}",
            "b.lo 2b",
            "dsb sy",
            "msr sctlr_el1, {on}",
            "isb",
            "ic iallu",
            "dsb nsh",
            "isb",
            at = inout(reg) start => _,
            line = in(reg) line,
            end = in(reg) end,
            on = in(reg) on,
            options(nostack),
        );
    }
    result
}

/// Returns whether the unprotected alias of RAM (shared buffers) and of the UART is mapped:
/// true once the MMU is on, unless the realm's IPA width is over 48 bits.
#[must_use]
pub fn alias_mapped() -> bool {
    MAP.lock().as_ref().is_some_and(|map| map.alias)
}

/// Page tables left in the pool, or `None` before the MMU is on.
#[must_use]
pub fn free_tables() -> Option<usize> {
    MAP.lock()
        .as_ref()
        .map(|map| map.mapping.translation().free())
}

/// Where the stack's guard page is: an access there faults.
#[must_use]
pub fn stack_guard() -> Ipa {
    Ipa(sym!(__stack_guard) as u64)
}

const _: () = assert!(core::mem::size_of::<PageTable<El1Attributes>>() == PAGE_SIZE);
