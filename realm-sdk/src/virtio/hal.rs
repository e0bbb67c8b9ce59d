//! The [`Hal`] of the realm's virtio drivers: DMA memory and bounce buffers from a pool of
//! pages the realm shares with the host.
//!
//! A device reaches only the pool. Queues live there ([`Hal::dma_alloc`]); a buffer of the
//! driver's (in private memory) is never handed to the device: [`Hal::share`] copies it into
//! pool pages when the device is to read it, and [`Hal::unshare`] copies the pool pages back
//! into it when the device wrote them, exactly the buffer's length, whatever the device
//! claims to have written. Physical addresses handed to devices are the pool's
//! unprotected-alias IPAs, which equal the addresses the realm reaches them at (the
//! runtime's identity map holds the alias as Normal non-cacheable memory, so neither side
//! needs cache maintenance).
//!
//! The pool is a page bitmap behind a spin lock (the `Hal` has no `self`): one pool per
//! realm, installed once ([`install`]).

use core::ptr::NonNull;

use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use cca_abi::GRANULE_SIZE as PAGE;

/// The most pages a pool may hold (the bitmap's width).
pub const MAX_POOL_PAGES: usize = 128;

/// The shared pages: their address (unprotected IPA = virtual address) and which are taken.
struct Pool {
    base: usize,
    pages: usize,
    used: u128,
}

impl Pool {
    fn free(&self) -> usize {
        self.pages - self.used.count_ones() as usize
    }

    fn allocate(&mut self, n: usize) -> Option<usize> {
        if n == 0 || n > self.pages {
            return None;
        }
        let run = if n == 128 {
            u128::MAX
        } else {
            (1u128 << n) - 1
        };
        let first = (0..=self.pages - n).find(|&i| self.used & (run << i) == 0)?;
        self.used |= run << first;
        Some(self.base + first * PAGE)
    }

    fn release(&mut self, addr: usize, n: usize) {
        let first = (addr - self.base) / PAGE;
        let run = if n == 128 {
            u128::MAX
        } else {
            (1u128 << n) - 1
        };
        self.used &= !(run << first);
    }

    fn contains(&self, addr: usize, len: usize) -> bool {
        addr >= self.base
            && addr
                .checked_add(len)
                .is_some_and(|end| end <= self.base + self.pages * PAGE)
    }
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Why a pool could not be installed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PoolError {
    /// A pool is already installed.
    AlreadyInstalled,
    /// The pool is empty, larger than [`MAX_POOL_PAGES`] or not page aligned.
    BadPool,
}

/// Installs the pool: `pages` pages at `base`, which is both the address the realm reaches
/// them at and the IPA devices use.
///
/// # Safety
///
/// `[base, base + pages * 4096)` must be memory the realm shares with the host (RIPAS
/// `EMPTY`, reached at its unprotected alias, or a test's stand-in for it), mapped
/// read/write at `base`, and used by nothing else from now on.
pub(super) unsafe fn install(base: usize, pages: usize) -> Result<(), PoolError> {
    if pages == 0 || pages > MAX_POOL_PAGES || !base.is_multiple_of(PAGE) {
        return Err(PoolError::BadPool);
    }
    let mut pool = POOL.lock();
    if pool.is_some() {
        return Err(PoolError::AlreadyInstalled);
    }
    *pool = Some(Pool {
        base,
        pages,
        used: 0,
    });
    Ok(())
}

/// Free pages in the pool (0 without one).
pub(super) fn free_pages() -> usize {
    POOL.lock().as_ref().map_or(0, Pool::free)
}

/// Whether a pool is installed.
pub(super) fn installed() -> bool {
    POOL.lock().is_some()
}

/// Pages needed for `len` bytes.
pub(super) const fn pages_for(len: usize) -> usize {
    len.div_ceil(PAGE)
}

fn allocate(pages: usize) -> NonNull<u8> {
    let addr = POOL
        .lock()
        .as_mut()
        .and_then(|pool| pool.allocate(pages))
        // Every caller in this module reserves before it asks (`Console` and `Block` check
        // `free_pages` and cut transfers to `MAX_TRANSFER`): running out is a bug here,
        // not something the host can cause.
        .expect("realm-sdk virtio: the shared DMA pool is exhausted");
    NonNull::new(core::ptr::with_exposed_provenance_mut(addr)).expect("pool addresses are not 0")
}

fn release(addr: usize, pages: usize) {
    if let Some(pool) = POOL.lock().as_mut() {
        assert!(
            pool.contains(addr, pages * PAGE),
            "realm-sdk virtio: a DMA address outside the pool was given back"
        );
        pool.release(addr, pages);
    }
}

/// The realm's virtio [`Hal`]: everything a device sees is in the shared pool.
#[derive(Debug)]
pub struct SharedHal;

// SAFETY: `dma_alloc` returns zeroed, page-aligned pool pages that nothing else uses until
// `dma_dealloc` (the bitmap hands each page out once); `share` returns the address of pool
// pages holding the buffer's bytes.
unsafe impl Hal for SharedHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let ptr = allocate(pages);
        // SAFETY: `allocate` handed out `pages` whole pages of the pool at `ptr`, mapped
        // read/write (`install`'s contract) and used by no one else.
        unsafe { ptr.as_ptr().write_bytes(0, pages * PAGE) };
        (ptr.as_ptr().addr() as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        release(vaddr.as_ptr().addr(), pages);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport calls this; the realm's devices are virtio-mmio, mapped by
        // `Devices` at their (identity-mapped) unprotected IPAs.
        NonNull::new(core::ptr::with_exposed_provenance_mut(paddr as usize))
            .expect("realm-sdk virtio: an MMIO address of 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let len = buffer.len();
        let bounce = allocate(pages_for(len.max(1)));
        if matches!(
            direction,
            BufferDirection::DriverToDevice | BufferDirection::Both
        ) {
            // SAFETY: the caller guarantees `buffer` is valid for `len` bytes and not used by
            // anyone else during the call; `bounce` is at least `len` bytes of pool memory
            // that only this share owns. They do not overlap (one private, one pool).
            unsafe {
                core::ptr::copy_nonoverlapping(buffer.cast::<u8>().as_ptr(), bounce.as_ptr(), len);
            }
        } else {
            // SAFETY: as above; the device sees zeros rather than an earlier user's data.
            unsafe { bounce.as_ptr().write_bytes(0, len) };
        }
        bounce.as_ptr().addr() as PhysAddr
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let len = buffer.len();
        let addr = paddr as usize;
        if matches!(
            direction,
            BufferDirection::DeviceToDriver | BufferDirection::Both
        ) {
            let inside = POOL
                .lock()
                .as_ref()
                .is_some_and(|pool| pool.contains(addr, len));
            assert!(
                inside,
                "realm-sdk virtio: a bounce address outside the pool"
            );
            // SAFETY: `paddr` is what `share` returned for this buffer (the caller's
            // contract), so `len` bytes of pool memory are there (checked above); the buffer
            // is valid for `len` bytes and used by no one else during the call. Exactly
            // `len` bytes are copied, whatever length the device reported.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    core::ptr::with_exposed_provenance::<u8>(addr),
                    buffer.cast::<u8>().as_ptr(),
                    len,
                );
            }
        }
        release(addr, pages_for(len.max(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bitmap_hands_out_contiguous_runs_once() {
        let mut pool = Pool {
            base: 0x10_0000,
            pages: 8,
            used: 0,
        };
        assert_eq!(pool.allocate(3), Some(0x10_0000));
        assert_eq!(pool.allocate(2), Some(0x10_3000));
        assert_eq!(pool.free(), 3);
        assert_eq!(pool.allocate(4), None);
        pool.release(0x10_0000, 3);
        assert_eq!(pool.allocate(4), None, "3 + 3 free pages, not 4 in a row");
        assert_eq!(pool.allocate(3), Some(0x10_0000));
        assert_eq!(pool.allocate(0), None);
        assert_eq!(pool.allocate(9), None);
        assert!(pool.contains(0x10_7000, 0x1000));
        assert!(!pool.contains(0x10_7000, 0x1001));
        assert!(!pool.contains(usize::MAX, 2));
    }
}
