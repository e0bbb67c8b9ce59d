//! The global heap over the linker script's `__heap_start..__heap_end`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use linked_list_allocator::Heap;
use spin::Mutex;

struct LockedHeap(Mutex<Heap>);

#[global_allocator]
static HEAP: LockedHeap = LockedHeap(Mutex::new(Heap::empty()));

// SAFETY: `Heap` hands out disjoint blocks of the requested layout; the mutex serialises it.
unsafe impl GlobalAlloc for LockedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: the caller passes a block this allocator returned, with its layout.
            unsafe { self.0.lock().deallocate(ptr, layout) };
        }
    }
}

unsafe extern "C" {
    static mut __heap_start: u8;
    static mut __heap_end: u8;
}

/// Hands the heap region to the allocator; the runtime calls it once, before anything
/// allocates.
pub(crate) fn init() {
    let start = &raw mut __heap_start;
    let size = (&raw mut __heap_end).addr() - start.addr();
    // SAFETY: the linker script reserves `[__heap_start, __heap_end)` for the heap alone and
    // this runs once, before any allocation.
    unsafe { HEAP.0.lock().init(start, size) };
}
