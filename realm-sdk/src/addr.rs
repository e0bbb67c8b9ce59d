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

/// A plane index (RSI 1.1): 0 is plane 0, the one that makes RSI calls; 1 to 3 are auxiliary
/// planes (TF-RMM v0.9.0 `smc-rmi.h`: `MAX_AUX_PLANES` = 3).
///
/// Which of them exist depends on the realm: the RMM refuses an index above
/// `RsiRealmConfig.num_aux_planes` with `RSI_ERROR_INPUT` (TF-RMM v0.9.0
/// `runtime/rsi/planes.c`, `memory.c`).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct PlaneIndex(u8);

impl PlaneIndex {
    /// Plane 0.
    pub const PLANE_0: Self = Self(0);

    /// Makes an index; `None` above 3.
    #[must_use]
    pub const fn try_new(index: u64) -> Option<Self> {
        if index <= cca_abi::rsi::MAX_AUX_PLANES {
            #[allow(clippy::cast_possible_truncation, reason = "at most 3")]
            Some(Self(index as u8))
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

impl From<AuxPlaneIndex> for PlaneIndex {
    fn from(plane: AuxPlaneIndex) -> Self {
        Self(plane.0)
    }
}

impl fmt::Display for PlaneIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plane {}", self.0)
    }
}

/// An auxiliary plane: plane index 1 to 3. `RSI_PLANE_ENTER`, `RSI_PLANE_SYSREG_READ` /
/// `WRITE` and `RSI_MEM_SET_PERM_VALUE` act on one; TF-RMM v0.9.0 refuses plane 0 for all of
/// them (`runtime/rsi/planes.c`, `memory.c`).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct AuxPlaneIndex(u8);

impl AuxPlaneIndex {
    /// Plane 1, the only auxiliary plane a realm with one has.
    pub const PLANE_1: Self = Self(1);

    /// Makes an index; `None` for 0 and above 3.
    #[must_use]
    pub const fn try_new(index: u64) -> Option<Self> {
        match PlaneIndex::try_new(index) {
            Some(PlaneIndex(p @ 1..)) => Some(Self(p)),
            _ => None,
        }
    }

    /// The ABI value.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for AuxPlaneIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plane {}", self.0)
    }
}

/// A stage-2 permission index for protected memory (RSI 1.1): 0 to 14. Each plane maps each
/// index to a [`MemPermValue`](cca_abi::rsi::MemPermValue); `RSI_MEM_SET_PERM_INDEX` says
/// which index a range of memory uses. Index 15 is kept for unprotected memory and TF-RMM
/// v0.9.0 refuses it (`lib/s2tt/include/s2ap_ind.h`); index 0 is the default of all
/// protected memory and its values can never change (`runtime/rmi/realm.c`).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct PermIndex(u8);

impl PermIndex {
    /// Index 0, the default of protected memory.
    pub const DEFAULT: Self = Self(0);
    /// The highest index: 14.
    #[allow(clippy::cast_possible_truncation, reason = "14")]
    pub const MAX: Self = Self(cca_abi::rsi::PERM_INDEX_COUNT as u8 - 1);

    /// Makes an index; `None` above 14.
    #[must_use]
    pub const fn try_new(index: u64) -> Option<Self> {
        if index < cca_abi::rsi::PERM_INDEX_COUNT {
            #[allow(clippy::cast_possible_truncation, reason = "below 15")]
            Some(Self(index as u8))
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

impl fmt::Display for PermIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "permission index {}", self.0)
    }
}

/// A realm device identifier (RSI 1.1 device assignment): the host's name for a device it
/// assigned to the realm. The specification gives it no range; the RMM checks it.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct VdevId(pub u64);

impl fmt::Display for VdevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device {:#x}", self.0)
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

    /// TF-RMM v0.9.0: planes 0 to 3 (`MAX_AUX_PLANES`), auxiliary planes 1 to 3, permission
    /// indices 0 to 14 (`s2ap_ind.h`).
    #[test]
    fn plane_and_permission_index_ranges() {
        assert_eq!(PlaneIndex::try_new(0), Some(PlaneIndex::PLANE_0));
        assert_eq!(PlaneIndex::try_new(3).map(PlaneIndex::get), Some(3));
        assert_eq!(PlaneIndex::try_new(4), None);
        assert_eq!(PlaneIndex::try_new(1 << 32), None);
        assert_eq!(AuxPlaneIndex::try_new(0), None);
        assert_eq!(AuxPlaneIndex::try_new(1), Some(AuxPlaneIndex::PLANE_1));
        assert_eq!(AuxPlaneIndex::try_new(3).map(AuxPlaneIndex::get), Some(3));
        assert_eq!(AuxPlaneIndex::try_new(4), None);
        assert_eq!(PlaneIndex::from(AuxPlaneIndex::PLANE_1).get(), 1);
        assert_eq!(PermIndex::try_new(0), Some(PermIndex::DEFAULT));
        assert_eq!(PermIndex::try_new(14), Some(PermIndex::MAX));
        assert_eq!(PermIndex::try_new(15), None);
        assert_eq!(PermIndex::try_new(1 << 32), None);
        assert_eq!(AuxPlaneIndex::PLANE_1.to_string(), "plane 1");
        assert_eq!(PermIndex::MAX.to_string(), "permission index 14");
        assert_eq!(VdevId(0x10).to_string(), "device 0x10");
    }

    #[test]
    fn ipa_alignment() {
        assert!(Ipa(0x4000).is_granule_aligned());
        assert!(!Ipa(0x4100).is_granule_aligned());
        assert!(Ipa(0x4100).is_aligned(0x100));
    }
}
