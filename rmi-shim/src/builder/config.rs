//! What a realm is made of ([`RealmConfig`]), its validation, the measured parameters the
//! RIM depends on, and the builder's error type.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use cca_abi::GRANULE_SIZE;
use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams};
use cca_abi::rmi::{
    Generation, Ipa, RealmFlags, RecCreateFlags, RmiDataMeasureContent, RmiRealmParams,
    RmiRealmParams2, RttLevel,
};
use zerocopy::FromZeros;

use super::GRANULE;
use crate::error::Error;
use crate::rim::{self, PredictError, RealmBuild, RipasRange};
use crate::version::VersionError;

/// What an RMM of either generation reports about the realms it accepts.
struct Limits {
    s2sz: u8,
    num_bps: u8,
    num_wps: u8,
    max_recs: u64,
    /// Whether the RMM offers the configuration's hash algorithm.
    hash: bool,
    lpa2: bool,
    /// The largest SVE vector length (VQ − 1), if the RMM offers SVE.
    sve_vl: Option<u8>,
    /// The most PMU counters, if the RMM offers the PMU.
    pmu_num_ctrs: Option<u8>,
}

/// What the realm is made of.
#[derive(Clone, Debug)]
pub struct RealmConfig<'a> {
    /// The flat image, loaded at the start of realm RAM and entered at its first byte.
    pub image: &'a [u8],
    /// IPA of realm RAM (granule aligned; the `REALM_RAM` origin of the payload's board file).
    pub ram_base: u64,
    /// Bytes of realm RAM (a multiple of 2 MiB), at least the image.
    pub ram_size: u64,
    /// IPA width in bits (`s2sz`), 32 to 48.
    pub ipa_width: u32,
    /// Hash algorithm of the RIM and REMs.
    pub hash: HashAlgorithm,
    /// Realm Personalization Value (not measured).
    pub rpv: [u8; 64],
    /// `num_bps` and `num_wps` of `RmiRealmParams` (TF-RMM requires 1 up to `RMI_FEATURES`).
    pub debug: (u32, u32),
    /// VMID, unique among live realms.
    pub vmid: u16,
    /// Number of RECs (REC 0 starts; the others wait for PSCI `CPU_ON`).
    pub recs: usize,
    /// `x0..x7` of REC 0 at entry (realm-sdk's runtime: `x0` bit 0 selects the PL011
    /// console, `x1..x3` go to `main`).
    pub entry_regs: [u64; 8],
    /// IPA (protected alias) of the UART the host emulates at the unprotected alias, if any.
    pub uart_ipa: Option<u64>,
    /// Most host pages the builder maps behind the unprotected alias of RAM on the realm's
    /// demand (shared buffers); a fault beyond is an unhandled exit.
    pub max_shared_pages: usize,
    /// `RmiRealmParams.flags0.LPA2`: IPA widths up to 52 bits and a level −1 root (the RMM
    /// must report LPA2 in `RMI_FEATURES`). Measured.
    pub lpa2: bool,
    /// `flags0.SVE` with `sve_vl`: the realm may use SVE with vectors of up to
    /// `(sve_vl + 1) × 128` bits (0 to 15, at most what the RMM reports); `None`: no SVE.
    /// Measured.
    pub sve_vl: Option<u8>,
    /// `flags0.PMU` with `pmu_num_ctrs`: the realm may use the PMU with this many event
    /// counters (at most what the RMM reports; 0 needs FEAT_HPMN0, which the host cannot
    /// see); `None`: no PMU. TF-RMM v0.9.0 offers no PMU. Measured.
    pub pmu_counters: Option<u8>,
    /// `rtt_level_start`: the level of the root RTTs, −1 (LPA2 only) to 2; `None`: level 1
    /// up to 39 bits of IPA, else level 0. TF-RMM accepts a level whose tables, up to 16 of
    /// them concatenated (one at level −1), cover exactly `ipa_width` bits
    /// (`runtime/rmi/realm.c`, `s2_inconsistent_sl`); level 0 also needs a PA width of at
    /// least 44 bits. Not measured.
    pub rtt_level_start: Option<i8>,
    /// IPA where REC 0 starts (`RmiRecParams.pc`), 4-byte aligned, inside RAM; `None`: the
    /// start of RAM. Measured.
    pub entry: Option<u64>,
    /// Byte ranges of `image` loaded without measuring their content
    /// (`RMI_NO_MEASURE_CONTENT`): data that differs between instances of one image. Each
    /// starts on a granule and ends on one or at the end of the image. The RIM still records
    /// each granule's IPA and that its content was left out.
    pub unmeasured: &'a [core::ops::Range<usize>],
    /// When RAM beyond the image gets its data granules. The RIM is the same either way.
    pub populate: Populate,
}

/// When the builder gives realm RAM beyond the image its data granules.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub enum Populate {
    /// When the realm first touches a page: the REC exits with a stage-2 translation fault
    /// at a protected IPA of RAM whose entry is UNASSIGNED with RIPAS RAM, and the host
    /// creates the granule there (RMI 1.0 `RMI_DATA_CREATE_UNKNOWN`, RMI 2.0
    /// `RMI_RTT_DATA_MAP`; neither is measured) and enters the REC again, which repeats the
    /// access. A realm that touches little of its RAM launches and tears down in a fraction
    /// of the calls.
    #[default]
    OnDemand,
    /// Every granule of RAM before the realm is activated: a granule per page whether the
    /// realm uses it or not (the builder's behaviour before on-demand population; kept as the
    /// launch benchmark's baseline).
    Eager,
}

impl Default for RealmConfig<'_> {
    /// The layout of `realm-build/linker/qemu-virt-realm.ld`: 32 MiB of RAM at IPA
    /// 0x8000_0000, a 39-bit IPA space, SHA-256, one REC, the QEMU virt UART, no image.
    fn default() -> Self {
        Self {
            image: &[],
            ram_base: 0x8000_0000,
            ram_size: 32 << 20,
            ipa_width: 39,
            hash: HashAlgorithm::Sha256,
            rpv: [0; 64],
            debug: (1, 1),
            vmid: 1,
            recs: 1,
            entry_regs: [0; 8],
            uart_ipa: Some(0x0900_0000),
            max_shared_pages: 16,
            lpa2: false,
            sve_vl: None,
            pmu_counters: None,
            rtt_level_start: None,
            entry: None,
            unmeasured: &[],
            populate: Populate::OnDemand,
        }
    }
}

/// Why a realm could not be built, run or torn down.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum BuildError {
    /// The configuration is not one the RMM can build.
    Config(&'static str),
    /// The configuration asks for more than this RMM offers (`RMI_FEATURES(0)`), checked
    /// before `RMI_REALM_CREATE` so that the answer is not a bare `RMI_ERROR_INPUT`.
    Unsupported {
        /// The parameter.
        what: &'static str,
        /// What the configuration asks for.
        value: u64,
        /// The smallest value the RMM accepts.
        min: u64,
        /// The largest value the RMM accepts.
        max: u64,
    },
    /// The configuration asks for a feature the RMM does not offer (`RMI_FEATURES`): LPA2,
    /// SVE, the PMU or the hash algorithm.
    NotOffered(&'static str),
    /// `RMI_VERSION` failed: the RMM speaks neither RMI 1.0 nor 2.0, or did not answer.
    Version(VersionError),
    /// The granule source ran out.
    OutOfGranules,
    /// An RMI command failed.
    Rmi(Error),
    /// The realm stopped in a way the host cannot handle (an exit it does not know, an
    /// SError, an unexpected abort).
    UnhandledExit {
        /// `RmiRecExit.exit_reason`.
        reason: u64,
        /// `RmiRecExit.esr`.
        esr: u64,
    },
    /// The virtual interrupt state that came back from a REC exit is not what the host put
    /// there ([`super::vgic`]).
    Vgic(super::vgic::VgicError),
    /// Teardown could not destroy or undelegate `leaked` granules.
    Leaked {
        /// Granules still delegated.
        leaked: usize,
        /// The failure that made the builder tear down, when a build failed part-way
        /// (`None` for [`super::Realm::destroy`] and drop).
        cause: Option<Box<BuildError>>,
    },
}

impl From<Error> for BuildError {
    fn from(e: Error) -> Self {
        Self::Rmi(e)
    }
}

impl From<super::vgic::VgicError> for BuildError {
    fn from(e: super::vgic::VgicError) -> Self {
        Self::Vgic(e)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(what) => write!(f, "invalid realm configuration: {what}"),
            Self::Unsupported {
                what,
                value,
                min,
                max,
            } => write!(
                f,
                "the RMM does not accept {what} = {value}: RMI_FEATURES(0) allows {min} to {max}"
            ),
            Self::NotOffered(what) => write!(
                f,
                "the realm asks for {what}, which the RMM does not offer (RMI_FEATURES)"
            ),
            Self::Version(e) => write!(f, "RMI version: {e}"),
            Self::OutOfGranules => f.write_str("no granules left to delegate"),
            Self::Rmi(e) => write!(f, "RMI call failed: {e}"),
            Self::UnhandledExit { reason, esr } => {
                write!(f, "unhandled REC exit: reason {reason}, ESR {esr:#x}")
            }
            Self::Vgic(e) => write!(f, "virtual GIC: {e}"),
            Self::Leaked {
                leaked,
                cause: None,
            } => write!(f, "teardown left {leaked} granules delegated"),
            Self::Leaked {
                leaked,
                cause: Some(cause),
            } => write!(
                f,
                "{cause}; tearing the realm down then left {leaked} granules delegated"
            ),
        }
    }
}

impl core::error::Error for BuildError {}

impl RealmConfig<'_> {
    pub(super) fn check(&self) -> Result<(), BuildError> {
        let c = |ok: bool, what| {
            if ok {
                Ok(())
            } else {
                Err(BuildError::Config(what))
            }
        };
        c(
            (32..=48).contains(&self.ipa_width) || (self.lpa2 && self.ipa_width <= 52),
            "ipa_width must be 32 to 48 (52 with LPA2)",
        )?;
        c(
            root_fits(self.ipa_width, self.root().0, self.lpa2),
            "rtt_level_start does not fit ipa_width: the root tables (up to 16 concatenated, \
             one at level -1 with LPA2) must cover exactly ipa_width bits",
        )?;
        c(
            self.sve_vl.is_none_or(|vl| vl <= 15),
            "sve_vl must be 0 to 15",
        )?;
        c(
            self.pmu_counters.is_none_or(|n| n <= 31),
            "pmu_counters must be 0 to 31",
        )?;
        c(
            self.ram_base.is_multiple_of(2 << 20),
            "ram_base must be 2 MiB aligned",
        )?;
        c(
            self.ram_size > 0 && self.ram_size.is_multiple_of(2 << 20),
            "ram_size must be a multiple of 2 MiB",
        )?;
        let top = self
            .ram_base
            .checked_add(self.ram_size)
            .ok_or(BuildError::Config("RAM overflows"))?;
        c(
            top <= 1 << (self.ipa_width - 1),
            "RAM must lie in the protected half of the IPA space",
        )?;
        c(
            self.image.len() as u64 <= self.ram_size,
            "the image is larger than RAM",
        )?;
        c(!self.image.is_empty(), "the image is empty")?;
        c(
            self.entry
                .is_none_or(|pc| pc.is_multiple_of(4) && (self.ram_base..top).contains(&pc)),
            "entry must be a 4-byte aligned IPA inside RAM",
        )?;
        c(
            self.unmeasured.iter().all(|r| {
                r.start < r.end
                    && r.end <= self.image.len()
                    && r.start.is_multiple_of(GRANULE_SIZE)
                    && (r.end.is_multiple_of(GRANULE_SIZE) || r.end == self.image.len())
            }),
            "each unmeasured range must be non-empty, inside the image, start on a granule \
             and end on one or at the end of the image",
        )?;
        c(self.recs >= 1 && self.recs <= 16, "1 to 16 RECs")
    }

    /// Checks the configuration against what the RMM reports in `RMI_FEATURES(0)`, as
    /// TF-RMM v0.8.0 checks `RmiRealmParams` in `RMI_REALM_CREATE`
    /// (`runtime/rmi/realm.c`, `validate_realm_params`): `s2sz` from 32 to the register's
    /// `S2SZ`, `num_bps` and `num_wps` from 1 to the register's fields (compared as they
    /// are), the hash algorithm offered; and the RECs within `2^MAX_RECS_ORDER − 1`.
    ///
    /// # Errors
    ///
    /// [`BuildError::Unsupported`] naming the first parameter out of range, or
    /// [`BuildError::Config`] for a hash algorithm the RMM does not offer.
    pub fn check_features(
        &self,
        features: &cca_abi::rmi::RmiFeatureRegister0,
    ) -> Result<(), BuildError> {
        self.check_limits(&Limits {
            s2sz: features.s2sz,
            num_bps: features.num_bps,
            num_wps: features.num_wps,
            max_recs: features.max_recs(),
            hash: features.supports_hash(self.hash),
            lpa2: features.lpa2,
            sve_vl: features.sve.then_some(features.sve_vl),
            pmu_num_ctrs: features.pmu.then_some(features.pmu_num_ctrs),
        })
    }

    /// [`Self::check_features`] for an RMI 2.0 RMM, whose limits are split over feature
    /// registers 0 and 1 (TF-RMM v0.9.0 `runtime/rmi/feature.c`; the realm parameters are
    /// checked as in v0.8.0).
    ///
    /// # Errors
    ///
    /// As [`Self::check_features`].
    pub fn check_features_v2(
        &self,
        reg0: &cca_abi::rmi::RmiFeatureRegister0V2,
        reg1: &cca_abi::rmi::RmiFeatureRegister1,
    ) -> Result<(), BuildError> {
        self.check_limits(&Limits {
            s2sz: reg0.s2sz,
            num_bps: reg0.num_bps,
            num_wps: reg0.num_wps,
            max_recs: reg1.max_recs(),
            hash: reg1.supports_hash(self.hash),
            lpa2: reg0.lpa2,
            sve_vl: reg0.sve.then_some(reg0.sve_vl),
            pmu_num_ctrs: reg0.pmu.then_some(reg0.pmu_num_ctrs),
        })
    }

    fn check_limits(&self, features: &Limits) -> Result<(), BuildError> {
        let range = |what, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(BuildError::Unsupported {
                    what,
                    value,
                    min,
                    max,
                })
            }
        };
        let offered = |what, yes: bool| {
            if yes {
                Ok(())
            } else {
                Err(BuildError::NotOffered(what))
            }
        };
        offered("LPA2", !self.lpa2 || features.lpa2)?;
        offered("SVE", self.sve_vl.is_none() || features.sve_vl.is_some())?;
        offered(
            "the PMU",
            self.pmu_counters.is_none() || features.pmu_num_ctrs.is_some(),
        )?;
        // TF-RMM checks s2sz against the register, then against 48 without LPA2.
        let max_s2sz = if self.lpa2 { 52 } else { 48 };
        range(
            "s2sz (ipa_width)",
            self.ipa_width.into(),
            32,
            u64::from(features.s2sz).min(max_s2sz),
        )?;
        if let (Some(vl), Some(max)) = (self.sve_vl, features.sve_vl) {
            range("sve_vl", vl.into(), 0, max.into())?;
        }
        if let (Some(n), Some(max)) = (self.pmu_counters, features.pmu_num_ctrs) {
            range("pmu_num_ctrs", n.into(), 0, max.into())?;
        }
        range("num_bps", self.debug.0.into(), 1, features.num_bps.into())?;
        range("num_wps", self.debug.1.into(), 1, features.num_wps.into())?;
        range("the number of RECs", self.recs as u64, 1, features.max_recs)?;
        offered(self.hash.token_name(), features.hash)?;
        Ok(())
    }

    /// Level of the root RTT and how many are concatenated: [`Self::rtt_level_start`], or
    /// one table at the level whose tables cover `ipa_width` bits; as many tables as the
    /// level needs (TF-RMM `s2_num_root_rtts`: the count must match exactly).
    pub(super) fn root(&self) -> (i8, u64) {
        let level = self
            .rtt_level_start
            .unwrap_or(if self.ipa_width <= 39 { 1 } else { 0 });
        let covered = table_bits(level);
        (level, 1 << self.ipa_width.saturating_sub(covered).min(4))
    }

    /// The top of the 2 MiB blocks that hold the image (level-3 tables from the start).
    /// [`rim::image_blocks_top`] of this configuration, which [`Self::check`] keeps from
    /// overflowing.
    pub(super) fn image_blocks_top(&self) -> u64 {
        rim::image_blocks_top(self.ram_base, self.ram_size, self.image.len())
            .unwrap_or(self.ram_base + self.ram_size)
    }

    /// The RTTs the build creates below the roots before `RMI_RTT_INIT_RIPAS`, level by
    /// level: one per block of the level above that RAM touches, down to level 2 over all of
    /// RAM and to level 3 over the image's 2 MiB blocks only. `RMI_RTT_INIT_RIPAS` then marks
    /// the rest of RAM as whole 2 MiB entries: one RIPAS descriptor per 2 MiB in the RIM of
    /// RMI 1.0 instead of one per 4 KiB (512 times fewer hashes, for the RMM and for the
    /// prediction), and RMI 2.0 measures none. A level-3 table under such an entry is made
    /// afterwards: at once for [`Populate::Eager`] ([`Self::rest_rtts`]), or when the realm
    /// first reaches the block.
    pub(super) fn rtts(&self) -> impl Iterator<Item = (RttLevel, u64)> + '_ {
        let image_top = self.image_blocks_top();
        self.tables_over(self.ram_base + self.ram_size, image_top)
    }

    /// The level-3 tables over RAM beyond the image's blocks (made after
    /// `RMI_RTT_INIT_RIPAS` by an eager build).
    pub(super) fn rest_rtts(&self) -> impl Iterator<Item = (RttLevel, u64)> + '_ {
        let (image_top, top) = (self.image_blocks_top(), self.ram_base + self.ram_size);
        let l3 = RttLevel::new(3).expect("3");
        let step = RttLevel::new(2).expect("2").block_size();
        (0..(top - image_top) / step).map(move |i| (l3, image_top + i * step))
    }

    /// Tables from below the root down to level 2 up to `top`, and at level 3 up to `l3_top`.
    fn tables_over(&self, top: u64, l3_top: u64) -> impl Iterator<Item = (RttLevel, u64)> + '_ {
        let base = self.ram_base;
        let (level, _) = self.root();
        ((level + 1)..=3).flat_map(move |l| {
            let level = RttLevel::new(l).expect("0 to 3");
            let step = RttLevel::new(l - 1).expect("-1 to 2").block_size();
            let first = base - base % step;
            let end = if l == 3 { l3_top } else { top };
            (0..end.saturating_sub(first).div_ceil(step)).map(move |i| (level, first + i * step))
        })
    }

    /// The `RMI_RTT_INIT_RIPAS` walk over RAM, as the RIM records it
    /// ([`rim::builder_ripas`]): level-3 entries over the image's blocks, 2 MiB level-2
    /// entries over the rest ([`Self::rtts`]).
    pub(super) fn ripas_ranges(&self) -> Result<Vec<RipasRange>, PredictError> {
        let base = Ipa::new(self.ram_base).ok_or(PredictError::AddressOverflow)?;
        rim::builder_ripas(base, self.ram_size, self.image.len())
    }

    /// Granules the build delegates after the RD and the root RTTs: the RTTs, the data it
    /// creates before activation, and each REC with `aux_per_rec` auxiliary granules.
    pub(super) fn granules_after_roots(&self, aux_per_rec: usize) -> usize {
        let (data, rest) = match self.populate {
            Populate::Eager => (self.ram_size / GRANULE, self.rest_rtts().count()),
            Populate::OnDemand => ((self.image.len() as u64).div_ceil(GRANULE), 0),
        };
        self.rtts().count() + rest + data as usize + self.recs * (1 + aux_per_rec)
    }

    /// `flags0`: LPA2, SVE and PMU as configured.
    fn flags0(&self) -> RealmFlags {
        let mut flags = RealmFlags::EMPTY;
        if self.lpa2 {
            flags |= RealmFlags::LPA2;
        }
        if self.sve_vl.is_some() {
            flags |= RealmFlags::SVE;
        }
        if self.pmu_counters.is_some() {
            flags |= RealmFlags::PMU;
        }
        flags
    }

    pub(super) fn measured_params(&self) -> MeasuredRealmParams {
        MeasuredRealmParams {
            flags0: self.flags0().to_raw(),
            s2sz: self.ipa_width,
            sve_vl: self.sve_vl.map_or(0, u32::from),
            num_bps: self.debug.0,
            num_wps: self.debug.1,
            pmu_num_ctrs: self.pmu_counters.map_or(0, u32::from),
            hash_algo: self.hash,
        }
    }

    /// `RmiRealmParams` (RMI 1.0) with the root RTTs from `rtt_base`.
    pub(super) fn realm_params(&self, rtt_base: u64) -> RmiRealmParams {
        let m = self.measured_params();
        let (level, num_root) = self.root();
        let mut p = RmiRealmParams::new_zeroed();
        p.flags0 = m.flags0;
        p.s2sz = m.s2sz;
        p.sve_vl = m.sve_vl;
        p.num_bps = m.num_bps;
        p.num_wps = m.num_wps;
        p.pmu_num_ctrs = m.pmu_num_ctrs;
        p.hash_algo = self.hash.encoding();
        p.rpv = self.rpv;
        p.vmid = self.vmid;
        p.rtt_base = rtt_base;
        p.rtt_level_start = i64::from(level);
        p.rtt_num_start = num_root as u32;
        p
    }

    /// `RmiRealmParams2` (RMI 2.0): the same fields but the VMID, which the RMM allocates
    /// (TF-RMM v0.9.0 `runtime/rmi/realm.c`).
    pub(super) fn realm_params_v2(&self, rtt_base: u64) -> RmiRealmParams2 {
        let v1 = self.realm_params(rtt_base);
        let mut p = RmiRealmParams2::new_zeroed();
        p.flags0 = v1.flags0;
        p.s2sz = v1.s2sz;
        p.sve_vl = v1.sve_vl;
        p.num_bps = v1.num_bps;
        p.num_wps = v1.num_wps;
        p.pmu_num_ctrs = v1.pmu_num_ctrs;
        p.algorithm = v1.hash_algo;
        p.rpv = v1.rpv;
        p.rtt_base = v1.rtt_base;
        p.rtt_level_start = v1.rtt_level_start;
        p.rtt_num_start = v1.rtt_num_start;
        p
    }

    /// How the image granule at byte `offset` is loaded: its content measured unless an
    /// [`Self::unmeasured`] range covers it.
    pub(super) fn measure(&self, offset: usize) -> RmiDataMeasureContent {
        if self.unmeasured.iter().any(|r| r.contains(&offset)) {
            RmiDataMeasureContent::NoMeasureContent
        } else {
            RmiDataMeasureContent::MeasureContent
        }
    }

    pub(super) fn rec_params(&self, index: usize) -> MeasuredRecParams {
        let runnable = index == 0;
        MeasuredRecParams {
            flags: if runnable {
                RecCreateFlags::RUNNABLE.to_raw()
            } else {
                0
            },
            pc: self.entry.unwrap_or(self.ram_base),
            gprs: if runnable { self.entry_regs } else { [0; 8] },
        }
    }

    /// The RIM the RMM will compute for this realm ([`crate::rim::predict`] of the build
    /// sequence in the module documentation).
    ///
    /// # Errors
    ///
    /// [`PredictError`] for a layout the RMM would refuse.
    pub fn predict_rim(&self) -> Result<Measurement, PredictError> {
        self.predict_rim_for(Generation::V1_0)
    }

    /// [`Self::predict_rim`] for an RMM of `generation` (RMI 2.0 does not measure
    /// `RMI_RTT_INIT_RIPAS`).
    ///
    /// # Errors
    ///
    /// As [`Self::predict_rim`].
    pub fn predict_rim_for(&self, generation: Generation) -> Result<Measurement, PredictError> {
        let ripas = self.ripas_ranges()?;
        let (chunks, tail) = self.image.as_chunks::<GRANULE_SIZE>();
        let mut last = [0u8; GRANULE_SIZE];
        last[..tail.len()].copy_from_slice(tail);
        let mut data = Vec::with_capacity(chunks.len() + 1);
        for (i, content) in chunks
            .iter()
            .chain((!tail.is_empty()).then_some(&last))
            .enumerate()
        {
            data.push(rim::DataGranule {
                ipa: (i as u64)
                    .checked_mul(GRANULE)
                    .and_then(|offset| self.ram_base.checked_add(offset))
                    .and_then(Ipa::new)
                    .ok_or(PredictError::AddressOverflow)?,
                flags: self.measure(i * GRANULE_SIZE),
                content,
            });
        }
        let recs: Vec<MeasuredRecParams> = (0..self.recs).map(|i| self.rec_params(i)).collect();
        rim::predict_for(
            generation,
            &RealmBuild {
                params: self.measured_params(),
                ripas: &ripas,
                data: &data,
                recs: &recs,
            },
        )
    }
}

/// IPA bits one table at `level` and the levels below it translate (4 KiB granules: 12 bits
/// of offset and 9 per level; level 1 covers 39 bits, level 0 48, level −1 57).
const fn table_bits(level: i8) -> u32 {
    12 + 9 * (4 - level as i32) as u32
}

/// Whether root tables at `level` can cover exactly `ipa_width` bits, as TF-RMM decides it
/// (v0.8.0 and v0.9.0 `runtime/rmi/realm.c`, `validate_ipa_bits_and_sl` and
/// `s2_inconsistent_sl`): the level is −1 (LPA2 only) to 3, and `ipa_width` lies between one
/// bit more than a table one level down covers and what one table at `level` covers, plus
/// 4 bits (16 concatenated tables) at levels above 0, or at 0 with LPA2. (Level 0 also
/// needs a PA width of at least 44 bits: a property of the machine, checked by the RMM.)
pub(super) fn root_fits(ipa_width: u32, level: i8, lpa2: bool) -> bool {
    let lowest = if lpa2 { -1 } else { 0 };
    if !(lowest..=3).contains(&level) {
        return false;
    }
    let min = table_bits(level) - 9 + 1;
    let max = if level == -1 {
        // Level −1 resolves 4 bits and cannot be concatenated.
        52
    } else if level > 0 || lpa2 {
        table_bits(level) + 4
    } else {
        table_bits(level)
    };
    (min..=max).contains(&ipa_width)
}
