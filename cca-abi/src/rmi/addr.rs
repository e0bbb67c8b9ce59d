//! Address and level newtypes for RMI arguments.
//!
//! Every physical address an RMI 1.0 command takes names a granule, and every IPA it takes is
//! at least granule aligned (cca-abi.md §4.1, §8), so both types refuse anything else.

use core::fmt;

use crate::{GRANULE_SIZE, is_granule_aligned};

/// The physical address of a 4 KiB granule: aligned by construction.
///
/// Used for delegated granules (RD, REC, RTT, DATA, auxiliary) and for the NS granules the
/// host passes by address (`RmiRealmParams`, `RmiRecParams`, `RmiRecRun`, DATA source).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Granule(u64);

impl Granule {
    /// Makes a granule address; `None` unless `pa` is a multiple of 4 KiB.
    #[must_use]
    pub const fn new(pa: u64) -> Option<Self> {
        if is_granule_aligned(pa) {
            Some(Self(pa))
        } else {
            None
        }
    }

    /// Makes the granule that contains `pa` (rounds down).
    #[must_use]
    pub const fn containing(pa: u64) -> Self {
        Self(pa & !(GRANULE_SIZE as u64 - 1))
    }

    /// The physical address.
    #[must_use]
    pub const fn addr(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Granule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PA {:#x}", self.0)
    }
}

/// An intermediate physical address of a realm, granule aligned by construction.
///
/// Commands that work on a whole RTT entry need more alignment (the entry's block size);
/// [`Ipa::is_aligned_to`] checks it, and the RMM answers `(RMI_ERROR_RTT, level)` otherwise.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Ipa(u64);

impl Ipa {
    /// Makes an IPA; `None` unless `ipa` is a multiple of 4 KiB.
    #[must_use]
    pub const fn new(ipa: u64) -> Option<Self> {
        if is_granule_aligned(ipa) {
            Some(Self(ipa))
        } else {
            None
        }
    }

    /// The address.
    #[must_use]
    pub const fn addr(self) -> u64 {
        self.0
    }

    /// Whether the IPA is the start of an entry of an RTT at `level`.
    #[must_use]
    pub const fn is_aligned_to(self, level: RttLevel) -> bool {
        self.0 & (level.block_size() - 1) == 0
    }
}

impl fmt::Display for Ipa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IPA {:#x}", self.0)
    }
}

/// A level of the realm translation tables: −1 (with LPA2 only) to 3 (cca-abi.md §8).
///
/// With a 4 KiB granule an entry at level 3 maps 4 KiB, and each level up maps 512 times more.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct RttLevel(i8);

impl RttLevel {
    /// Level −1: the extra root level FEAT_LPA2 adds for 52-bit IPAs.
    pub const LPA2_ROOT: Self = Self(-1);
    /// Level 3, the only level where DATA granules are mapped.
    pub const PAGE: Self = Self(3);
    /// The lowest level: −1.
    pub const MIN: i8 = -1;
    /// The highest level: 3.
    pub const MAX: i8 = 3;

    /// Makes a level; `None` outside −1..=3.
    #[must_use]
    pub const fn new(level: i8) -> Option<Self> {
        if level >= Self::MIN && level <= Self::MAX {
            Some(Self(level))
        } else {
            None
        }
    }

    /// Decodes a level register (`x3`/`x4` of the RTT commands, sign-extended 64-bit).
    #[must_use]
    pub const fn from_raw(value: u64) -> Option<Self> {
        // A two's complement reinterpretation: level -1 travels as u64::MAX.
        #[allow(clippy::cast_possible_wrap, reason = "levels are signed in the ABI")]
        let signed = value as i64;
        if signed >= Self::MIN as i64 && signed <= Self::MAX as i64 {
            #[allow(clippy::cast_possible_truncation, reason = "range checked above")]
            Some(Self(signed as i8))
        } else {
            None
        }
    }

    /// Decodes the level in the index byte of `RMI_ERROR_RTT` (TF-RMM casts it to
    /// `unsigned char`, so level −1 arrives as 0xFF; cca-abi.md §4.2).
    #[must_use]
    pub const fn from_index(index: u8) -> Option<Self> {
        #[allow(clippy::cast_possible_wrap, reason = "0xFF is level -1")]
        Self::new(index as i8)
    }

    /// The register encoding: the level sign-extended to 64 bits.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        #[allow(
            clippy::cast_sign_loss,
            reason = "two's complement is the ABI encoding"
        )]
        {
            self.0 as i64 as u64
        }
    }

    /// The level as a number.
    #[must_use]
    pub const fn get(self) -> i8 {
        self.0
    }

    /// Bytes of IPA space one entry at this level maps: 4 KiB at level 3, 2 MiB at 2, 1 GiB
    /// at 1, 512 GiB at 0 and 256 TiB at −1.
    #[must_use]
    pub const fn block_size(self) -> u64 {
        // 12 bits of page offset plus 9 bits per level below this one.
        #[allow(clippy::cast_sign_loss, reason = "3 - level is in 0..=4")]
        let shift = 12 + 9 * (3 - self.0) as u32;
        1 << shift
    }
}

impl fmt::Display for RttLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cca-abi.md §0: a granule is 4 KiB, so addresses must be 4 KiB aligned.
    #[test]
    fn granule_alignment() {
        assert_eq!(
            Granule::new(0x7820_1000).map(Granule::addr),
            Some(0x7820_1000)
        );
        assert_eq!(Granule::new(0x7820_1800), None);
        assert_eq!(Granule::containing(0x7820_1fff).addr(), 0x7820_1000);
        assert_eq!(Ipa::new(0x1001), None);
    }

    /// cca-abi.md §8: levels −1..3; §6.4: an entry maps its level's block size.
    #[test]
    fn levels_and_block_sizes() {
        assert_eq!(RttLevel::new(4), None);
        assert_eq!(RttLevel::new(-2), None);
        let sizes = [
            (-1, 1u64 << 48),
            (0, 1 << 39),
            (1, 1 << 30),
            (2, 1 << 21),
            (3, 1 << 12),
        ];
        for (level, size) in sizes {
            let l = RttLevel::new(level).unwrap();
            assert_eq!(l.block_size(), size);
            assert_eq!(RttLevel::from_raw(l.to_raw()), Some(l));
        }
        assert_eq!(RttLevel::LPA2_ROOT.to_raw(), u64::MAX);
        assert_eq!(RttLevel::from_raw(4), None);
        assert_eq!(RttLevel::from_index(0xFF), Some(RttLevel::LPA2_ROOT));
        assert!(
            Ipa::new(0x20_0000)
                .unwrap()
                .is_aligned_to(RttLevel::new(2).unwrap())
        );
        assert!(
            !Ipa::new(0x1000)
                .unwrap()
                .is_aligned_to(RttLevel::new(2).unwrap())
        );
    }
}
