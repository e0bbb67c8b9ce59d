//! Address and index newtypes.

use core::fmt;

use cca_abi::measurement::REM_COUNT;

/// An intermediate physical address in the realm's IPA space.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[repr(transparent)]
pub struct Ipa(pub u64);

impl Ipa {
    /// The IPA of `value`, under the identity mapping realm-sdk assumes (see the crate docs).
    ///
    /// The address is exposed (`expose_provenance`) because the RMM reads or writes it behind
    /// the compiler's back during the call that receives it.
    #[must_use]
    pub fn of<T: ?Sized>(value: &T) -> Self {
        Self(core::ptr::from_ref(value).cast::<u8>().expose_provenance() as u64)
    }

    /// The IPA of `value`, for memory the RMM will write (see [`Ipa::of`]).
    #[must_use]
    pub fn of_mut<T: ?Sized>(value: &mut T) -> Self {
        Self(core::ptr::from_mut(value).cast::<u8>().expose_provenance() as u64)
    }

    /// Returns whether the address is aligned to `align` (a power of two).
    #[must_use]
    pub const fn is_aligned(self, align: u64) -> bool {
        self.0 & (align - 1) == 0
    }

    /// Returns whether the address is 4 KiB aligned.
    #[must_use]
    pub const fn is_granule_aligned(self) -> bool {
        cca_abi::is_granule_aligned(self.0)
    }
}

impl fmt::Display for Ipa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A measurement index for `RSI_MEASUREMENT_READ`: 0 is the RIM, 1 to 4 the REMs.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct MeasurementIndex(u8);

impl MeasurementIndex {
    /// The Realm Initial Measurement.
    pub const RIM: Self = Self(0);

    /// Makes an index, `None` past 4.
    #[must_use]
    pub const fn new(index: u8) -> Option<Self> {
        if index as usize <= REM_COUNT {
            Some(Self(index))
        } else {
            None
        }
    }

    /// The ABI value.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl From<RemIndex> for MeasurementIndex {
    fn from(rem: RemIndex) -> Self {
        Self(rem.0)
    }
}

/// A Realm Extensible Measurement: measurement index 1 to 4, REM\[0\] to REM\[3\].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RemIndex(u8);

impl RemIndex {
    /// REM\[0\], measurement index 1.
    pub const REM0: Self = Self(1);
    /// REM\[1\], measurement index 2.
    pub const REM1: Self = Self(2);
    /// REM\[2\], measurement index 3.
    pub const REM2: Self = Self(3);
    /// REM\[3\], measurement index 4.
    pub const REM3: Self = Self(4);
    /// All four, in order.
    pub const ALL: [Self; REM_COUNT] = [Self::REM0, Self::REM1, Self::REM2, Self::REM3];

    /// Makes an index from a measurement index (1 to 4); `None` for 0 (the RIM) or past 4.
    #[must_use]
    pub const fn new(measurement_index: u8) -> Option<Self> {
        match measurement_index {
            1..=4 => Some(Self(measurement_index)),
            _ => None,
        }
    }

    /// The measurement index (1 to 4).
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DEN0137 B5.3.6/B5.3.7: index 0 is the RIM and only 1..4 name REMs.
    #[test]
    fn index_ranges() {
        assert_eq!(MeasurementIndex::new(0), Some(MeasurementIndex::RIM));
        assert!(MeasurementIndex::new(4).is_some());
        assert!(MeasurementIndex::new(5).is_none());
        assert!(RemIndex::new(0).is_none());
        assert_eq!(RemIndex::new(4), Some(RemIndex::REM3));
        assert!(RemIndex::new(5).is_none());
    }

    #[test]
    fn ipa_alignment() {
        assert!(Ipa(0x4000).is_granule_aligned());
        assert!(!Ipa(0x4100).is_granule_aligned());
        assert!(Ipa(0x4100).is_aligned(0x100));
    }
}
