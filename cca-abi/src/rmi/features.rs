//! `RmiFeatureRegister0`, the value of `RMI_FEATURES(0)` (cca-abi.md §4.3; TF-RMM
//! `lib/smc/include/smc-rmi.h`, `runtime/rmi/feature.c`; KVM `rmi_smc.h`).

/// Extracts bits `hi:lo` of `value`.
pub(super) const fn bits(value: u64, lo: u32, hi: u32) -> u64 {
    (value >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// Extracts bits `hi:lo` of `value` as a byte (every field here is at most 8 bits wide).
#[allow(
    clippy::cast_possible_truncation,
    reason = "callers pass fields of at most 8 bits"
)]
pub(super) const fn field(value: u64, lo: u32, hi: u32) -> u8 {
    bits(value, lo, hi) as u8
}

/// Places `value`, truncated to the width of bits `hi:lo`, at those bits.
pub(super) const fn put(value: u64, lo: u32, hi: u32) -> u64 {
    (value & ((1 << (hi - lo + 1)) - 1)) << lo
}

/// `RmiFeatureRegister0` decoded into its fields.
///
/// Counts follow the register's encoding, which is "count − 1" for breakpoints, watchpoints,
/// SVE vector length and GIC list registers; the `*_count` helpers convert.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct RmiFeatureRegister0 {
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
    /// Bit 26 `PMU_EN`: realms may use the PMU.
    pub pmu: bool,
    /// Bits 31:27 `PMU_NUM_CTRS`: PMU event counters (`PMCR_EL0.N`).
    pub pmu_num_ctrs: u8,
    /// Bit 32 `HASH_SHA_256`.
    pub hash_sha_256: bool,
    /// Bit 33 `HASH_SHA_512`.
    pub hash_sha_512: bool,
    /// Bits 37:34 `GICV3_NUM_LRS`: GIC list registers, minus one.
    pub gicv3_num_lrs: u8,
    /// Bits 41:38 `MAX_RECS_ORDER`: a realm may have at most 2^order − 1 RECs.
    pub max_recs_order: u8,
    /// Bit 42 `DA_EN` (RMI 1.1; TF-RMM v0.8.0 sets it only when built with `RMM_V1_1`).
    pub da: bool,
    /// Bits 44:43 `PLANE_RTT` (RMI 1.1): 0 AUX, 1 AUX_SINGLE, 2 SINGLE.
    pub plane_rtt: u8,
    /// Bits 48:45 `MAX_NUM_AUX_PLANES` (RMI 1.1).
    pub max_num_aux_planes: u8,
    /// Bit 49 `RTT_S2AP_INDIRECT` (RMI 1.1).
    pub rtt_s2ap_indirect: bool,
    /// Bits 63:50: reserved, kept so that decoding is lossless.
    pub reserved: u16,
}

impl RmiFeatureRegister0 {
    /// Decodes the register.
    #[must_use]
    pub const fn from_raw(v: u64) -> Self {
        #[allow(clippy::cast_possible_truncation, reason = "14-bit field")]
        let reserved = bits(v, 50, 63) as u16;
        Self {
            s2sz: field(v, 0, 7),
            lpa2: bits(v, 8, 8) != 0,
            sve: bits(v, 9, 9) != 0,
            sve_vl: field(v, 10, 13),
            num_bps: field(v, 14, 19),
            num_wps: field(v, 20, 25),
            pmu: bits(v, 26, 26) != 0,
            pmu_num_ctrs: field(v, 27, 31),
            hash_sha_256: bits(v, 32, 32) != 0,
            hash_sha_512: bits(v, 33, 33) != 0,
            gicv3_num_lrs: field(v, 34, 37),
            max_recs_order: field(v, 38, 41),
            da: bits(v, 42, 42) != 0,
            plane_rtt: field(v, 43, 44),
            max_num_aux_planes: field(v, 45, 48),
            rtt_s2ap_indirect: bits(v, 49, 49) != 0,
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
            | put(self.hash_sha_256 as u64, 32, 32)
            | put(self.hash_sha_512 as u64, 33, 33)
            | put(self.gicv3_num_lrs as u64, 34, 37)
            | put(self.max_recs_order as u64, 38, 41)
            | put(self.da as u64, 42, 42)
            | put(self.plane_rtt as u64, 43, 44)
            | put(self.max_num_aux_planes as u64, 45, 48)
            | put(self.rtt_s2ap_indirect as u64, 49, 49)
            | put(self.reserved as u64, 50, 63)
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

    /// Largest SVE vector length in bits, if SVE is available.
    #[must_use]
    pub const fn sve_vector_bits(&self) -> Option<u32> {
        if self.sve {
            Some((self.sve_vl as u32 + 1) * 128)
        } else {
            None
        }
    }

    /// Number of GIC list registers in `RmiRecRun` the RMM checks and uses.
    #[must_use]
    pub const fn gic_list_registers(&self) -> u32 {
        self.gicv3_num_lrs as u32 + 1
    }

    /// Most RECs a realm may have: 2^`MAX_RECS_ORDER` − 1 (cca-abi.md §8).
    #[must_use]
    pub const fn max_recs(&self) -> u64 {
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

impl From<u64> for RmiFeatureRegister0 {
    fn from(v: u64) -> Self {
        Self::from_raw(v)
    }
}

impl From<RmiFeatureRegister0> for u64 {
    fn from(r: RmiFeatureRegister0) -> Self {
        r.to_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measurement::HashAlgorithm;

    /// cca-abi.md §4.3 against the value TF-RMM v0.8.0 reported on QEMU `-cpu max`
    /// (`rmi_features.0` in the tf-rmm-v0.8.0 vectors' realm.json).
    #[test]
    fn decode_tf_rmm_qemu_value() {
        let raw = 0x28f_3431_7f34;
        let f = RmiFeatureRegister0::from_raw(raw);
        assert_eq!(f.s2sz, 52);
        assert!(f.lpa2 && f.sve && f.pmu && f.hash_sha_256 && f.hash_sha_512);
        assert_eq!(f.sve_vl, 15);
        assert_eq!(f.sve_vector_bits(), Some(2048));
        assert_eq!((f.num_bps, f.num_wps), (5, 3));
        assert_eq!(f.pmu_num_ctrs, 6);
        assert_eq!(f.gicv3_num_lrs, 3);
        assert_eq!(f.max_recs_order, 10);
        assert_eq!(f.max_recs(), 1023);
        assert!(!f.da && f.plane_rtt == 0 && f.max_num_aux_planes == 0 && f.reserved == 0);
        assert!(f.supports_hash(HashAlgorithm::Sha512));
        assert_eq!(f.to_raw(), raw);
    }

    /// cca-abi.md §4.3: each field occupies exactly its bit range.
    #[test]
    fn field_positions() {
        type Getter = fn(&RmiFeatureRegister0) -> bool;
        let one_bit_fields: [(u32, Getter); 8] = [
            (8, |f| f.lpa2),
            (9, |f| f.sve),
            (26, |f| f.pmu),
            (32, |f| f.hash_sha_256),
            (33, |f| f.hash_sha_512),
            (42, |f| f.da),
            (49, |f| f.rtt_s2ap_indirect),
            (50, |f| f.reserved == 1),
        ];
        for (bit, get) in one_bit_fields {
            let f = RmiFeatureRegister0::from_raw(1 << bit);
            assert!(get(&f), "bit {bit}");
            assert_eq!(f.to_raw(), 1 << bit);
        }
        let all = RmiFeatureRegister0::from_raw(u64::MAX);
        assert_eq!(all.s2sz, 0xFF);
        assert_eq!(all.sve_vl, 0xF);
        assert_eq!(all.num_bps, 0x3F);
        assert_eq!(all.num_wps, 0x3F);
        assert_eq!(all.pmu_num_ctrs, 0x1F);
        assert_eq!(all.gicv3_num_lrs, 0xF);
        assert_eq!(all.max_recs_order, 0xF);
        assert_eq!(all.plane_rtt, 3);
        assert_eq!(all.max_num_aux_planes, 0xF);
        assert_eq!(all.to_raw(), u64::MAX);
    }
}
