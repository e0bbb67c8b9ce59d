//! The feature registers of RMI 2.0, `RMI_FEATURES(0..=4)`, as TF-RMM v0.9.0 defines them
//! (`lib/smc/include/smc-rmi.h`, the `RMI_FEATURE_REGISTER_<n>_*` macros; values reported by
//! `runtime/rmi/feature.c`; digest rmi2.md §7).
//!
//! RMI 2.0 keeps only the realm-shape fields in register 0 and moves the granule sizes, hash
//! algorithms and `MAX_RECS_ORDER` to register 1; the GIC list-register count is gone (the
//! host programs the virtual GIC itself). TF-RMM v0.9.0 answers `RMI_SUCCESS` with `x1 = 0`
//! for any index above 4.

use super::features::{bits, field, put};

/// `RmiFeatureRegister0` of RMI 2.0 (bits 31:0; bits 63:32 are reserved).
///
/// Counts keep the register's "count − 1" encoding, as in the RMI 1.0 type.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct RmiFeatureRegister0V2 {
    /// Bits 7:0 `S2SZ`: the largest IPA width a realm may have.
    pub s2sz: u8,
    /// Bit 8 `LPA2`: 52-bit addresses with 4 KiB granules at stage 1 and stage 2.
    pub lpa2: bool,
    /// Bit 9 `SVE_EN`: realms may use SVE.
    pub sve: bool,
    /// Bits 13:10 `SVE_VL`: largest SVE vector length, as (bits / 128) − 1.
    pub sve_vl: u8,
    /// Bits 19:14 `NUM_BPS`: breakpoints, minus one.
    pub num_bps: u8,
    /// Bits 25:20 `NUM_WPS`: watchpoints, minus one.
    pub num_wps: u8,
    /// Bit 26 `PMU_EN`: realms may use the PMU (TF-RMM v0.9.0 always reports 0).
    pub pmu: bool,
    /// Bits 31:27 `PMU_NUM_CTRS`: PMU event counters.
    pub pmu_num_ctrs: u8,
    /// Bits 63:32: reserved, kept so that decoding is lossless.
    pub reserved: u32,
}

impl RmiFeatureRegister0V2 {
    /// Decodes the register.
    #[must_use]
    pub const fn from_raw(v: u64) -> Self {
        #[allow(clippy::cast_possible_truncation, reason = "32-bit field")]
        let reserved = (v >> 32) as u32;
        Self {
            s2sz: field(v, 0, 7),
            lpa2: bits(v, 8, 8) != 0,
            sve: bits(v, 9, 9) != 0,
            sve_vl: field(v, 10, 13),
            num_bps: field(v, 14, 19),
            num_wps: field(v, 20, 25),
            pmu: bits(v, 26, 26) != 0,
            pmu_num_ctrs: field(v, 27, 31),
            reserved,
        }
    }

    /// Encodes the register; fields wider than their bit range are truncated to it.
    #[must_use]
    pub const fn to_raw(&self) -> u64 {
        put(self.s2sz as u64, 0, 7)
            | put(self.lpa2 as u64, 8, 8)
            | put(self.sve as u64, 9, 9)
            | put(self.sve_vl as u64, 10, 13)
            | put(self.num_bps as u64, 14, 19)
            | put(self.num_wps as u64, 20, 25)
            | put(self.pmu as u64, 26, 26)
            | put(self.pmu_num_ctrs as u64, 27, 31)
            | (self.reserved as u64) << 32
    }

    /// Number of hardware breakpoints a realm may use.
    #[must_use]
    pub const fn breakpoint_count(&self) -> u32 {
        self.num_bps as u32 + 1
    }

    /// Number of hardware watchpoints a realm may use.
    #[must_use]
    pub const fn watchpoint_count(&self) -> u32 {
        self.num_wps as u32 + 1
    }
}

/// `RmiFeatureRegister1` (RMI 2.0): granule sizes, hash algorithms, REC limit and GPT shape.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct RmiFeatureRegister1 {
    /// Bit 0 `RMI_GRAN_SZ_4K`.
    pub gran_sz_4k: bool,
    /// Bit 1 `RMI_GRAN_SZ_16K`.
    pub gran_sz_16k: bool,
    /// Bit 2 `RMI_GRAN_SZ_64K`.
    pub gran_sz_64k: bool,
    /// Bit 3 `HASH_SHA_256`.
    pub hash_sha_256: bool,
    /// Bit 4 `HASH_SHA_384` (TF-RMM v0.9.0 reports 0 and refuses algorithm 2).
    pub hash_sha_384: bool,
    /// Bit 5 `HASH_SHA_512`.
    pub hash_sha_512: bool,
    /// Bits 9:6 `MAX_RECS_ORDER`: a realm may have at most 2^order − 1 RECs.
    pub max_recs_order: u8,
    /// Bits 13:10 `L0GPTSZ` (`RmiL0GptSz`: 0, 4, 6, 9 = 30, 34, 36, 39 bits). TF-RMM v0.9.0
    /// reports a fixed 0.
    pub l0gptsz: u8,
    /// Bits 16:14 `PPS` (`RmiPps`: 5 = 48 bits, 6 = 52 bits). TF-RMM v0.9.0 reports a fixed 5,
    /// which need not match the platform.
    pub pps: u8,
    /// Bits 63:17: reserved, kept so that decoding is lossless.
    pub reserved: u64,
}

impl RmiFeatureRegister1 {
    /// Decodes the register.
    #[must_use]
    pub const fn from_raw(v: u64) -> Self {
        Self {
            gran_sz_4k: bits(v, 0, 0) != 0,
            gran_sz_16k: bits(v, 1, 1) != 0,
            gran_sz_64k: bits(v, 2, 2) != 0,
            hash_sha_256: bits(v, 3, 3) != 0,
            hash_sha_384: bits(v, 4, 4) != 0,
            hash_sha_512: bits(v, 5, 5) != 0,
            max_recs_order: field(v, 6, 9),
            l0gptsz: field(v, 10, 13),
            pps: field(v, 14, 16),
            reserved: v >> 17,
        }
    }

    /// Encodes the register; fields wider than their bit range are truncated to it.
    #[must_use]
    pub const fn to_raw(&self) -> u64 {
        put(self.gran_sz_4k as u64, 0, 0)
            | put(self.gran_sz_16k as u64, 1, 1)
            | put(self.gran_sz_64k as u64, 2, 2)
            | put(self.hash_sha_256 as u64, 3, 3)
            | put(self.hash_sha_384 as u64, 4, 4)
            | put(self.hash_sha_512 as u64, 5, 5)
            | put(self.max_recs_order as u64, 6, 9)
            | put(self.l0gptsz as u64, 10, 13)
            | put(self.pps as u64, 14, 16)
            | put(self.reserved, 17, 63)
    }

    /// Most RECs a realm may have: 2^`MAX_RECS_ORDER` − 1.
    #[must_use]
    pub const fn max_recs(&self) -> u64 {
        // The field is 4 bits wide after decoding; a wider value set by hand saturates.
        if self.max_recs_order >= 64 {
            u64::MAX
        } else {
            (1 << self.max_recs_order) - 1
        }
    }

    /// Whether the RMM supports `hash` for realm measurements.
    #[must_use]
    pub const fn supports_hash(&self, hash: crate::measurement::HashAlgorithm) -> bool {
        match hash {
            crate::measurement::HashAlgorithm::Sha256 => self.hash_sha_256,
            crate::measurement::HashAlgorithm::Sha512 => self.hash_sha_512,
        }
    }
}

/// `RmiFeatureRegister2` (RMI 2.0): device assignment.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct RmiFeatureRegister2 {
    /// Bit 0 `DA_EN`: device assignment (0 on QEMU, where SMMU set-up fails).
    pub da: bool,
    /// Bit 1 `DA_COH`: coherent device assignment.
    pub da_coh: bool,
    /// Bit 2 `VSMMU`.
    pub vsmmu: bool,
    /// Bit 3 `ATS`.
    pub ats: bool,
    /// Bits 7:4 `MAX_VDEVS_ORDER`.
    pub max_vdevs_order: u8,
    /// Bit 8 `VDEV_KROU`.
    pub vdev_krou: bool,
    /// Bit 9 `NON_TEE_STREAM`.
    pub non_tee_stream: bool,
    /// Bits 63:10: reserved, kept so that decoding is lossless.
    pub reserved: u64,
}

impl RmiFeatureRegister2 {
    /// Decodes the register.
    #[must_use]
    pub const fn from_raw(v: u64) -> Self {
        Self {
            da: bits(v, 0, 0) != 0,
            da_coh: bits(v, 1, 1) != 0,
            vsmmu: bits(v, 2, 2) != 0,
            ats: bits(v, 3, 3) != 0,
            max_vdevs_order: field(v, 4, 7),
            vdev_krou: bits(v, 8, 8) != 0,
            non_tee_stream: bits(v, 9, 9) != 0,
            reserved: v >> 10,
        }
    }

    /// Encodes the register; fields wider than their bit range are truncated to it.
    #[must_use]
    pub const fn to_raw(&self) -> u64 {
        put(self.da as u64, 0, 0)
            | put(self.da_coh as u64, 1, 1)
            | put(self.vsmmu as u64, 2, 2)
            | put(self.ats as u64, 3, 3)
            | put(self.max_vdevs_order as u64, 4, 7)
            | put(self.vdev_krou as u64, 8, 8)
            | put(self.non_tee_stream as u64, 9, 9)
            | put(self.reserved, 10, 63)
    }
}

/// `RmiFeatureRegister3` (RMI 2.0): planes.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct RmiFeatureRegister3 {
    /// Bits 3:0 `MAX_NUM_AUX_PLANES`.
    pub max_num_aux_planes: u8,
    /// Bits 5:4 `RTT_PLANE`: 0 AUX, 1 AUX_SINGLE, 2 SINGLE.
    pub rtt_plane: u8,
    /// Bit 6 `RTT_S2AP_INDIRECT`.
    pub rtt_s2ap_indirect: bool,
    /// Bits 63:7: reserved, kept so that decoding is lossless.
    pub reserved: u64,
}

impl RmiFeatureRegister3 {
    /// Decodes the register.
    #[must_use]
    pub const fn from_raw(v: u64) -> Self {
        Self {
            max_num_aux_planes: field(v, 0, 3),
            rtt_plane: field(v, 4, 5),
            rtt_s2ap_indirect: bits(v, 6, 6) != 0,
            reserved: v >> 7,
        }
    }

    /// Encodes the register; fields wider than their bit range are truncated to it.
    #[must_use]
    pub const fn to_raw(&self) -> u64 {
        put(self.max_num_aux_planes as u64, 0, 3)
            | put(self.rtt_plane as u64, 4, 5)
            | put(self.rtt_s2ap_indirect as u64, 6, 6)
            | put(self.reserved, 7, 63)
    }
}

/// `RmiFeatureRegister4` (RMI 2.0): bits 63:0 `MEC_COUNT`, the number of memory encryption
/// contexts (0 without FEAT_MEC).
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct RmiFeatureRegister4 {
    /// Bits 63:0 `MEC_COUNT`.
    pub mec_count: u64,
}

impl RmiFeatureRegister4 {
    /// Decodes the register.
    #[must_use]
    pub const fn from_raw(v: u64) -> Self {
        Self { mec_count: v }
    }

    /// Encodes the register.
    #[must_use]
    pub const fn to_raw(&self) -> u64 {
        self.mec_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each one-bit field of registers 0–3 sits at the bit `smc-rmi.h` gives it, and nothing
    /// else moves (digest §7 tables).
    #[test]
    fn one_bit_fields() {
        type Check = (u32, fn(u64) -> bool, fn(u64) -> u64);
        let cases: [Check; 16] = [
            (
                8,
                |v| RmiFeatureRegister0V2::from_raw(v).lpa2,
                |v| RmiFeatureRegister0V2::from_raw(v).to_raw(),
            ),
            (
                9,
                |v| RmiFeatureRegister0V2::from_raw(v).sve,
                |v| RmiFeatureRegister0V2::from_raw(v).to_raw(),
            ),
            (
                26,
                |v| RmiFeatureRegister0V2::from_raw(v).pmu,
                |v| RmiFeatureRegister0V2::from_raw(v).to_raw(),
            ),
            (
                0,
                |v| RmiFeatureRegister1::from_raw(v).gran_sz_4k,
                |v| RmiFeatureRegister1::from_raw(v).to_raw(),
            ),
            (
                1,
                |v| RmiFeatureRegister1::from_raw(v).gran_sz_16k,
                |v| RmiFeatureRegister1::from_raw(v).to_raw(),
            ),
            (
                2,
                |v| RmiFeatureRegister1::from_raw(v).gran_sz_64k,
                |v| RmiFeatureRegister1::from_raw(v).to_raw(),
            ),
            (
                3,
                |v| RmiFeatureRegister1::from_raw(v).hash_sha_256,
                |v| RmiFeatureRegister1::from_raw(v).to_raw(),
            ),
            (
                4,
                |v| RmiFeatureRegister1::from_raw(v).hash_sha_384,
                |v| RmiFeatureRegister1::from_raw(v).to_raw(),
            ),
            (
                5,
                |v| RmiFeatureRegister1::from_raw(v).hash_sha_512,
                |v| RmiFeatureRegister1::from_raw(v).to_raw(),
            ),
            (
                0,
                |v| RmiFeatureRegister2::from_raw(v).da,
                |v| RmiFeatureRegister2::from_raw(v).to_raw(),
            ),
            (
                1,
                |v| RmiFeatureRegister2::from_raw(v).da_coh,
                |v| RmiFeatureRegister2::from_raw(v).to_raw(),
            ),
            (
                2,
                |v| RmiFeatureRegister2::from_raw(v).vsmmu,
                |v| RmiFeatureRegister2::from_raw(v).to_raw(),
            ),
            (
                3,
                |v| RmiFeatureRegister2::from_raw(v).ats,
                |v| RmiFeatureRegister2::from_raw(v).to_raw(),
            ),
            (
                8,
                |v| RmiFeatureRegister2::from_raw(v).vdev_krou,
                |v| RmiFeatureRegister2::from_raw(v).to_raw(),
            ),
            (
                9,
                |v| RmiFeatureRegister2::from_raw(v).non_tee_stream,
                |v| RmiFeatureRegister2::from_raw(v).to_raw(),
            ),
            (
                6,
                |v| RmiFeatureRegister3::from_raw(v).rtt_s2ap_indirect,
                |v| RmiFeatureRegister3::from_raw(v).to_raw(),
            ),
        ];
        for (bit, get, round_trip) in cases {
            assert!(get(1 << bit), "bit {bit}");
            assert!(!get(!(1 << bit)), "only bit {bit}");
            assert_eq!(round_trip(1 << bit), 1 << bit);
        }
    }

    /// The multi-bit fields span exactly their ranges (digest §7).
    #[test]
    fn multi_bit_fields() {
        let r0 = RmiFeatureRegister0V2::from_raw(u64::MAX);
        assert_eq!(
            (r0.s2sz, r0.sve_vl, r0.num_bps, r0.num_wps, r0.pmu_num_ctrs),
            (0xFF, 0xF, 0x3F, 0x3F, 0x1F)
        );
        assert_eq!(r0.reserved, u32::MAX);
        assert_eq!(r0.to_raw(), u64::MAX);
        assert_eq!(RmiFeatureRegister0V2::from_raw(0x3F << 14).num_bps, 0x3F);
        assert_eq!(RmiFeatureRegister0V2::from_raw(0x3F << 14).num_wps, 0);
        assert_eq!(RmiFeatureRegister0V2::from_raw(1 << 32).reserved, 1);

        let r1 = RmiFeatureRegister1::from_raw(0xF << 6);
        assert_eq!((r1.max_recs_order, r1.l0gptsz, r1.pps), (0xF, 0, 0));
        assert_eq!(RmiFeatureRegister1::from_raw(0xF << 10).l0gptsz, 0xF);
        assert_eq!(RmiFeatureRegister1::from_raw(0x7 << 14).pps, 7);
        assert_eq!(RmiFeatureRegister1::from_raw(1 << 17).reserved, 1);
        assert_eq!(RmiFeatureRegister1::from_raw(u64::MAX).to_raw(), u64::MAX);

        assert_eq!(RmiFeatureRegister2::from_raw(0xF << 4).max_vdevs_order, 0xF);
        assert_eq!(RmiFeatureRegister2::from_raw(u64::MAX).to_raw(), u64::MAX);
        assert_eq!(RmiFeatureRegister3::from_raw(0xF).max_num_aux_planes, 0xF);
        assert_eq!(RmiFeatureRegister3::from_raw(0x3 << 4).rtt_plane, 3);
        assert_eq!(RmiFeatureRegister3::from_raw(u64::MAX).to_raw(), u64::MAX);
        assert_eq!(RmiFeatureRegister4::from_raw(u64::MAX).mec_count, u64::MAX);
    }

    /// The register-1 value TF-RMM v0.9.0 builds (`feature.c`): 4 KiB granules, SHA-256 and
    /// SHA-512, `MAX_RECS_ORDER` 10, `L0GPTSZ` 0, `PPS` 5.
    #[test]
    fn tf_rmm_v0_9_0_register_1() {
        let raw = 1 | 1 << 3 | 1 << 5 | 10 << 6 | 5 << 14;
        let r1 = RmiFeatureRegister1::from_raw(raw);
        assert!(r1.gran_sz_4k && !r1.gran_sz_16k && !r1.gran_sz_64k);
        assert!(r1.hash_sha_256 && !r1.hash_sha_384 && r1.hash_sha_512);
        assert_eq!(r1.max_recs(), 1023);
        assert_eq!((r1.l0gptsz, r1.pps, r1.reserved), (0, 5, 0));
        assert!(r1.supports_hash(crate::measurement::HashAlgorithm::Sha512));
        assert_eq!(r1.to_raw(), raw);
    }
}
