//! The RIPAS of every granule of the protected IPA space, as ranges.

use alloc::collections::BTreeMap;

use cca_abi::rsi::Ripas;

/// RIPAS per granule over `[0, limit)`; addresses never set are `EMPTY`, as a granule the
/// host never initialised is (DEN0137 A5.2.3).
#[derive(Clone, Debug)]
pub struct RipasMap {
    /// start → (end, ripas); ranges are disjoint, non-empty and never `EMPTY`.
    ranges: BTreeMap<u64, (u64, Ripas)>,
}

impl Default for RipasMap {
    fn default() -> Self {
        Self::new()
    }
}

impl RipasMap {
    /// Everything `EMPTY`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            ranges: BTreeMap::new(),
        }
    }

    /// Sets `[base, top)` to `ripas`.
    pub fn set(&mut self, base: u64, top: u64, ripas: Ripas) {
        if base >= top {
            return;
        }
        // Cut out [base, top) from the existing ranges, keeping what lies outside.
        let overlapping: alloc::vec::Vec<(u64, (u64, Ripas))> = self
            .ranges
            .range(..top)
            .filter(|(_, (end, _))| *end > base)
            .map(|(s, v)| (*s, *v))
            .collect();
        for (start, (end, r)) in overlapping {
            self.ranges.remove(&start);
            if start < base {
                self.ranges.insert(start, (base, r));
            }
            if end > top {
                self.ranges.insert(top, (end, r));
            }
        }
        if ripas != Ripas::Empty {
            self.ranges.insert(base, (top, ripas));
            self.merge_around(base);
        }
    }

    fn merge_around(&mut self, start: u64) {
        let Some(&(end, r)) = self.ranges.get(&start) else {
            return;
        };
        let (mut s, mut e) = (start, end);
        if let Some((&ps, &(pe, pr))) = self.ranges.range(..start).next_back()
            && pe == start
            && pr == r
        {
            self.ranges.remove(&start);
            s = ps;
        }
        if let Some(&(ne, nr)) = self.ranges.get(&end)
            && nr == r
        {
            self.ranges.remove(&end);
            e = ne;
        }
        self.ranges.insert(s, (e, r));
    }

    /// The RIPAS at `addr`.
    #[must_use]
    pub fn get(&self, addr: u64) -> Ripas {
        self.run(addr, u64::MAX).0
    }

    /// The RIPAS at `base` and the end of the run of that RIPAS, capped at `end`.
    #[must_use]
    pub fn run(&self, base: u64, end: u64) -> (Ripas, u64) {
        if let Some((_, &(e, r))) = self.ranges.range(..=base).next_back()
            && e > base
        {
            return (r, e.min(end));
        }
        let next = self
            .ranges
            .range(base..)
            .next()
            .map_or(u64::MAX, |(s, _)| *s);
        (Ripas::Empty, next.min(end))
    }

    /// Returns whether every byte of `[base, base + len)` is `RAM`.
    #[must_use]
    pub fn is_ram(&self, base: u64, len: u64) -> bool {
        let Some(top) = base.checked_add(len) else {
            return false;
        };
        let (r, end) = self.run(base, top);
        r == Ripas::Ram && end == top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_split_and_merge() {
        let mut m = RipasMap::new();
        assert_eq!(m.get(0), Ripas::Empty);
        m.set(0x1000, 0x5000, Ripas::Ram);
        assert_eq!(m.run(0x1000, u64::MAX), (Ripas::Ram, 0x5000));
        assert_eq!(m.run(0, u64::MAX), (Ripas::Empty, 0x1000));
        m.set(0x2000, 0x3000, Ripas::Destroyed);
        assert_eq!(m.run(0x1000, u64::MAX), (Ripas::Ram, 0x2000));
        assert_eq!(m.run(0x2000, u64::MAX), (Ripas::Destroyed, 0x3000));
        assert_eq!(m.run(0x3000, u64::MAX), (Ripas::Ram, 0x5000));
        m.set(0x2000, 0x3000, Ripas::Ram);
        assert_eq!(m.run(0x1000, u64::MAX), (Ripas::Ram, 0x5000));
        assert_eq!(m.ranges.len(), 1);
        m.set(0x0, 0x2000, Ripas::Empty);
        assert_eq!(m.run(0x0, 0x8000), (Ripas::Empty, 0x2000));
        assert_eq!(m.run(0x2000, 0x4000), (Ripas::Ram, 0x4000));
        assert!(m.is_ram(0x2000, 0x3000));
        assert!(!m.is_ram(0x1000, 0x2000));
    }
}
