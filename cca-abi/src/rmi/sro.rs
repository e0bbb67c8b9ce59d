//! The encodings of RMI 2.0 stateful operations (SRO): what the RMM asks for in an
//! `RMI_INCOMPLETE(DONATE)` reply, and the address-list entries that carry memory in both
//! directions (TF-RMM v0.9.0 `lib/smc/include/smc-rmi.h`, the `RMI_OP_DONATE_*` and
//! `RMI_ADDR_RDESC_4K_*` macros; `lib/addr_list/src/addr_list_prv.h`; digest rmi2.md §6.4).
//!
//! The incomplete-status bits themselves (`RmiOpMemReq`, `RmiOpCanCancel`) are decoded by
//! [`super::RmiReturn::incomplete`].

use crate::GRANULE_SIZE;

use super::Granule;

/// The most entries one address list holds: one 4 KiB granule of 8-byte entries
/// (`ADDR_LIST_MAX_RANGES`). A list that starts `k` entries into a granule holds `512 − k`.
pub const ADDR_LIST_ENTRIES: usize = GRANULE_SIZE / 8;

/// The block size of a donation request or an address-list entry (bits 1:0 of both).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum RmiBlockSize {
    /// 0 (`RMI_PAGE_L3`): 4 KiB.
    Page4K,
    /// 1 (`RMI_BLOCK_L2`): 2 MiB.
    Block2M,
    /// 2 (`RMI_BLOCK_L1`): 1 GiB.
    Block1G,
    /// 3 (`RMI_BLOCK_L0`): 512 GiB.
    Block512G,
}

impl RmiBlockSize {
    /// Decodes the two-bit field (higher bits are ignored).
    #[must_use]
    pub const fn from_bits(raw: u64) -> Self {
        match raw & 0b11 {
            0 => Self::Page4K,
            1 => Self::Block2M,
            2 => Self::Block1G,
            _ => Self::Block512G,
        }
    }

    /// The field value.
    #[must_use]
    pub const fn to_bits(self) -> u64 {
        match self {
            Self::Page4K => 0,
            Self::Block2M => 1,
            Self::Block1G => 2,
            Self::Block512G => 3,
        }
    }

    /// The size in bytes (4 KiB × 512^n).
    #[must_use]
    pub const fn bytes(self) -> u64 {
        (GRANULE_SIZE as u64) << (9 * self.to_bits())
    }

    /// The size in 4 KiB granules.
    #[must_use]
    pub const fn granules(self) -> u64 {
        1 << (9 * self.to_bits())
    }
}

/// The state memory is in, or must be in, when it changes hands (`RMI_OP_MEM_DELEGATED` = 0,
/// `RMI_OP_MEM_UNDELEGATED` = 1).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RmiOpMemState {
    /// 0: delegated to the realm world (the only state REC operations use).
    Delegated,
    /// 1: non-secure.
    Undelegated,
}

impl RmiOpMemState {
    /// Decodes a one-bit field.
    #[must_use]
    pub const fn from_bit(bit: bool) -> Self {
        if bit {
            Self::Undelegated
        } else {
            Self::Delegated
        }
    }

    /// Whether the bit is set.
    #[must_use]
    pub const fn bit(self) -> bool {
        matches!(self, Self::Undelegated)
    }
}

/// `RmiOpMemDonateReq`: `x2` of a reply whose status is `RMI_INCOMPLETE` with a `DONATE`
/// request — how much memory the operation wants next, and in what form.
///
/// | Bits | Field |
/// |---|---|
/// | 1:0 | block size |
/// | 15:2 | block count |
/// | 16 | contiguous: one naturally aligned power-of-two block |
/// | 17 | state the memory must be in |
/// | 63:18 | zero |
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RmiOpMemDonateReq {
    /// Bits 1:0.
    pub block_size: RmiBlockSize,
    /// Bits 15:2: blocks wanted (at most 16383).
    pub count: u16,
    /// Bit 16: the blocks must form one naturally aligned, power-of-two sized range.
    pub contiguous: bool,
    /// Bit 17.
    pub state: RmiOpMemState,
}

impl RmiOpMemDonateReq {
    /// The largest block count the field holds.
    pub const MAX_COUNT: u16 = (1 << 14) - 1;

    /// Decodes `x2`; `None` if any of bits 63:18 is set.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Option<Self> {
        if raw >> 18 != 0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, reason = "14-bit field")]
        let count = ((raw >> 2) & 0x3FFF) as u16;
        Some(Self {
            block_size: RmiBlockSize::from_bits(raw),
            count,
            contiguous: raw & (1 << 16) != 0,
            state: RmiOpMemState::from_bit(raw & (1 << 17) != 0),
        })
    }

    /// Encodes `x2`; a count above [`Self::MAX_COUNT`] is truncated to 14 bits.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        self.block_size.to_bits()
            | ((self.count as u64) & 0x3FFF) << 2
            | (self.contiguous as u64) << 16
            | (self.state.bit() as u64) << 17
    }

    /// The amount of memory requested, in 4 KiB granules.
    #[must_use]
    pub const fn granules(self) -> u64 {
        self.block_size.granules() * self.count as u64
    }
}

/// `RmiAddrRangeDesc4KB`: one entry of an RMI address list — `count` blocks of one size
/// starting at `pa`, all in `state`.
///
/// | Bits | Field |
/// |---|---|
/// | 1:0 | block size |
/// | 11:2 | block count (0 marks an empty entry, which the RMM skips) |
/// | 51:12 | PA bits 51:12 |
/// | 62:52 | zero |
/// | 63 | state |
///
/// One delegated granule at `P` is `P | 0x4`; sixteen contiguous delegated granules at `P`
/// are `P | 0x40`. A reclaim may merge adjacent granules into one entry
/// (`addr_list.c` `addr_list_add_block`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RmiAddrRangeDesc {
    /// Bits 1:0.
    pub block_size: RmiBlockSize,
    /// Bits 11:2: number of blocks (at most 1023).
    pub count: u16,
    /// Bits 51:12: the first block's physical address (low 12 bits zero).
    pub pa: u64,
    /// Bit 63.
    pub state: RmiOpMemState,
}

impl RmiAddrRangeDesc {
    /// The largest block count the field holds.
    pub const MAX_COUNT: u16 = (1 << 10) - 1;
    /// The bits that hold the address.
    const PA_MASK: u64 = ((1 << 52) - 1) & !(GRANULE_SIZE as u64 - 1);

    /// An entry for one delegated 4 KiB granule.
    #[must_use]
    pub const fn granule(g: Granule) -> Self {
        Self {
            block_size: RmiBlockSize::Page4K,
            count: 1,
            pa: g.addr(),
            state: RmiOpMemState::Delegated,
        }
    }

    /// Makes an entry; `None` if the count is 0 or above [`Self::MAX_COUNT`], `pa` is not
    /// aligned to the block size, or the range does not fit below 2^52.
    #[must_use]
    pub const fn new(
        pa: u64,
        block_size: RmiBlockSize,
        count: u16,
        state: RmiOpMemState,
    ) -> Option<Self> {
        let desc = Self {
            block_size,
            count,
            pa,
            state,
        };
        if desc.is_valid() { Some(desc) } else { None }
    }

    /// Decodes an entry; `None` if any of the reserved bits 62:52 is set. The other rules
    /// ([`Self::is_valid`]) are left to the reader, since an empty entry is legal in a list.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Option<Self> {
        if (raw >> 52) & 0x7FF != 0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, reason = "10-bit field")]
        let count = ((raw >> 2) & 0x3FF) as u16;
        Some(Self {
            block_size: RmiBlockSize::from_bits(raw),
            count,
            pa: raw & Self::PA_MASK,
            state: RmiOpMemState::from_bit(raw >> 63 != 0),
        })
    }

    /// Encodes the entry; fields are truncated to their bits.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        self.block_size.to_bits()
            | ((self.count as u64) & 0x3FF) << 2
            | (self.pa & Self::PA_MASK)
            | (self.state.bit() as u64) << 63
    }

    /// Whether the entry is non-empty, its count fits, its address is aligned to its block
    /// size, and the whole range lies below 2^52 (the rules `addr_list_validate` applies).
    #[must_use]
    pub const fn is_valid(self) -> bool {
        let size = self.block_size.bytes();
        self.count != 0
            && self.count <= Self::MAX_COUNT
            && self.pa & (size - 1) == 0
            && self.pa & !Self::PA_MASK == 0
            // count ≤ 1023 and size ≤ 2^39, so the product fits; the sum is checked.
            && match self.pa.checked_add(size * self.count as u64) {
                Some(top) => top <= 1 << 52,
                None => false,
            }
    }

    /// The number of 4 KiB granules the entry covers.
    #[must_use]
    pub const fn granules(self) -> u64 {
        self.block_size.granules() * self.count as u64
    }

    /// The address just past the range (saturating; meaningful for a valid entry).
    #[must_use]
    pub const fn top(self) -> u64 {
        self.pa
            .saturating_add(self.block_size.bytes().saturating_mul(self.count as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = 0x8804_0000;

    /// Digest §6.4: one delegated granule at P is P | 0x4; sixteen contiguous ones P | 0x40.
    #[test]
    fn address_list_entries() {
        let one = RmiAddrRangeDesc::granule(Granule::new(P).unwrap());
        assert_eq!(one.to_raw(), P | 0x4);
        assert_eq!(RmiAddrRangeDesc::from_raw(P | 0x4), Some(one));
        let sixteen =
            RmiAddrRangeDesc::new(P, RmiBlockSize::Page4K, 16, RmiOpMemState::Delegated).unwrap();
        assert_eq!(sixteen.to_raw(), P | 0x40);
        assert_eq!(sixteen.granules(), 16);
        assert_eq!(sixteen.top(), P + 16 * 0x1000);
        assert_eq!(RmiAddrRangeDesc::from_raw(P | 0x40), Some(sixteen));
    }

    /// Bit positions of `RmiAddrRangeDesc4KB`: size 1:0, count 11:2, address 51:12,
    /// reserved 62:52, state 63.
    #[test]
    fn address_list_bits() {
        let d = RmiAddrRangeDesc::from_raw(1 << 63 | 0x3FF << 2 | 0b01 | 0x000F_FFFF_FFFF_F000)
            .unwrap();
        assert_eq!(d.state, RmiOpMemState::Undelegated);
        assert_eq!(d.count, 1023);
        assert_eq!(d.block_size, RmiBlockSize::Block2M);
        assert_eq!(d.pa, 0x000F_FFFF_FFFF_F000);
        assert!(!d.is_valid(), "not 2 MiB aligned, and past 2^52");
        for reserved in 52..63 {
            assert_eq!(RmiAddrRangeDesc::from_raw(P | 4 | 1 << reserved), None);
        }
        for raw in [
            0,
            P | 0x4,
            P | 0x40 | 1 << 63,
            0x4000_0000 | 0x6,
            u64::MAX >> 12 << 12,
        ] {
            if let Some(d) = RmiAddrRangeDesc::from_raw(raw) {
                assert_eq!(d.to_raw(), raw, "{raw:#x}");
            }
        }
        // Validity: empty, misaligned, too large.
        assert!(!RmiAddrRangeDesc::from_raw(P).unwrap().is_valid());
        assert!(
            RmiAddrRangeDesc::new(P, RmiBlockSize::Block2M, 1, RmiOpMemState::Delegated).is_none()
        );
        assert!(
            RmiAddrRangeDesc::new(
                0x4000_0000,
                RmiBlockSize::Block1G,
                1,
                RmiOpMemState::Delegated
            )
            .is_some()
        );
        assert!(
            RmiAddrRangeDesc::new(P, RmiBlockSize::Page4K, 1024, RmiOpMemState::Delegated)
                .is_none()
        );
    }

    /// Digest §6.5: REC_CREATE asks for 16 × 4 KiB, non-contiguous, delegated: `x2 = 0x40`.
    #[test]
    fn donate_requests() {
        let rec = RmiOpMemDonateReq::from_raw(0x40).unwrap();
        assert_eq!(
            rec,
            RmiOpMemDonateReq {
                block_size: RmiBlockSize::Page4K,
                count: 16,
                contiguous: false,
                state: RmiOpMemState::Delegated,
            }
        );
        assert_eq!(rec.granules(), 16);
        assert_eq!(rec.to_raw(), 0x40);
        let all = RmiOpMemDonateReq::from_raw((1 << 18) - 1).unwrap();
        assert_eq!(all.block_size, RmiBlockSize::Block512G);
        assert_eq!(all.count, RmiOpMemDonateReq::MAX_COUNT);
        assert!(all.contiguous);
        assert_eq!(all.state, RmiOpMemState::Undelegated);
        assert_eq!(all.to_raw(), (1 << 18) - 1);
        assert_eq!(RmiOpMemDonateReq::from_raw(1 << 18), None);
        assert_eq!(
            RmiOpMemDonateReq::from_raw(1 << 16).map(|r| r.contiguous),
            Some(true)
        );
        assert_eq!(
            RmiOpMemDonateReq::from_raw(3 << 2 | 1).map(|r| r.granules()),
            Some(3 * 512)
        );
    }

    /// Block sizes: 4 KiB × 512^n.
    #[test]
    fn block_sizes() {
        for (bits, bytes) in [(0, 1u64 << 12), (1, 1 << 21), (2, 1 << 30), (3, 1 << 39)] {
            let s = RmiBlockSize::from_bits(bits);
            assert_eq!(s.to_bits(), bits);
            assert_eq!(s.bytes(), bytes);
            assert_eq!(s.granules(), bytes >> 12);
        }
    }
}
