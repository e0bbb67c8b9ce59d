//! Where the granules the builder delegates come from.

use alloc::vec::Vec;

use cca_abi::rmi::Granule;

use super::GRANULE;

/// Where the builder gets granules to delegate (physical memory the host owns and may give
/// to the realm world).
pub trait GranuleSource {
    /// A free 4 KiB granule, or `None` when memory runs out.
    fn allocate(&mut self) -> Option<Granule>;
    /// Gives back a granule that is Non-secure again.
    fn release(&mut self, granule: Granule);
}

/// A [`GranuleSource`] over a range of physical addresses.
#[derive(Clone, Debug)]
pub struct RangeSource {
    next: u64,
    top: u64,
    free: Vec<Granule>,
}

impl RangeSource {
    /// Granules from `[base, top)` (rounded inwards to granules).
    #[must_use]
    pub fn new(base: u64, top: u64) -> Self {
        Self {
            next: base.next_multiple_of(GRANULE),
            top: top & !(GRANULE - 1),
            free: Vec::new(),
        }
    }

    /// Number of granules handed out and not released.
    #[must_use]
    pub fn outstanding(&self, base: u64) -> u64 {
        (self.next - base.next_multiple_of(GRANULE)) / GRANULE - self.free.len() as u64
    }
}

impl GranuleSource for RangeSource {
    fn allocate(&mut self) -> Option<Granule> {
        if let Some(g) = self.free.pop() {
            return Some(g);
        }
        if self.next >= self.top {
            return None;
        }
        let g = Granule::new(self.next);
        self.next += GRANULE;
        g
    }

    fn release(&mut self, granule: Granule) {
        self.free.push(granule);
    }
}
