//! RIM prediction: the Realm Initial Measurement a realm will have, computed from a
//! description of how the host builds it, without an RMM.
//!
//! The arithmetic is [`cca_abi::rim`] (cca-abi.md §6; DEN0137 1.0-rel0 §B4.3.9.4,
//! §B4.3.12.4; TF-RMM v0.8.0). What the host decides, and what therefore goes into the
//! description, is (cca-abi.md §10.5):
//!
//! - the measured realm parameters ([`MeasuredRealmParams`]; the RPV is *not* measured);
//! - each `RMI_RTT_INIT_RIPAS` range and the level of the RTT entries it covers, which follows
//!   from the RTTs the host created: one RIPAS descriptor is measured **per RTT entry**, so
//!   `[0, 2 MiB)` costs 512 descriptors over a level-3 table and one over a level-2 block;
//! - each `RMI_DATA_CREATE`, in call order, with its IPA, whether the content is measured,
//!   and the content;
//! - each `RMI_REC_CREATE`, in call order (only RUNNABLE RECs are measured).
//!
//! [`predict`] applies the order the reference host uses (REALM_CREATE, INIT_RIPAS, DATA,
//! REC); [`predict_steps`] takes any order.
//!
//! RMI 2.0 (TF-RMM v0.9.0) measures the same descriptors without the RIPAS ones:
//! `RMI_RTT_DATA_MAP_INIT` is 1.0's `RMI_DATA_CREATE` and `RMI_RTT_INIT_RIPAS` is no longer
//! measured. The `_for` functions ([`predict_for`], [`predict_steps_for`],
//! [`FlatImage::predict_for`]) take the generation; the others predict for RMI 1.0.

use core::fmt;

use cca_abi::GRANULE_SIZE;
use cca_abi::measurement::Measurement;
pub use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams, Rim};
use cca_abi::rmi::{Generation, Ipa, RmiDataMeasureContent, RttLevel};

/// Smallest IPA width TF-RMM accepts (cca-abi.md §8).
pub const MIN_S2SZ: u32 = 32;
/// Largest IPA width with LPA2 (cca-abi.md §8).
pub const MAX_S2SZ: u32 = 52;

/// One `RMI_RTT_INIT_RIPAS` call, with the level of the RTT entries the range covers.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RipasRange {
    /// `x2`: base of the range.
    pub base: Ipa,
    /// `x3`: top (exclusive) of the range.
    pub top: Ipa,
    /// Level of the RTT entries between `base` and `top` (3 when the host created level-3
    /// tables there, 2 for 2 MiB blocks, ...).
    pub level: RttLevel,
}

impl RipasRange {
    /// The `[base, top)` of every RTT entry the RMM measures for this call, in order.
    ///
    /// # Errors
    ///
    /// [`PredictError::EmptyRipasRange`] if `base >= top`;
    /// [`PredictError::RipasRangeNotAligned`] if `base` or `top` is not a multiple of the
    /// level's block size. (The RMM refuses an unaligned base with `RMI_ERROR_RTT`, and stops
    /// short of an unaligned top; the host would have to describe the remainder at a lower
    /// level.)
    pub fn entries(&self) -> Result<RipasEntries, PredictError> {
        let (base, top) = (self.base.addr(), self.top.addr());
        if base >= top {
            return Err(PredictError::EmptyRipasRange { base, top });
        }
        let size = self.level.block_size();
        if base % size != 0 || top % size != 0 {
            return Err(PredictError::RipasRangeNotAligned {
                base,
                top,
                level: self.level,
            });
        }
        Ok(RipasEntries {
            next: base,
            top,
            size,
        })
    }
}

/// The RTT entries of a [`RipasRange`], as `(base, top)` pairs.
#[derive(Clone, Debug)]
pub struct RipasEntries {
    next: u64,
    top: u64,
    size: u64,
}

impl Iterator for RipasEntries {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        if self.next >= self.top {
            return None;
        }
        let base = self.next;
        self.next = base + self.size;
        Some((base, self.next))
    }
}

/// One `RMI_DATA_CREATE` call.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct DataGranule<'a> {
    /// `x3`: IPA of the granule.
    pub ipa: Ipa,
    /// `x5`: whether the content is measured.
    pub flags: RmiDataMeasureContent,
    /// The 4 KiB copied from the source granule.
    pub content: &'a [u8; GRANULE_SIZE],
}

/// One RIM-relevant RMI command of a realm build, after `RMI_REALM_CREATE`.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum BuildStep<'a> {
    /// `RMI_RTT_INIT_RIPAS`.
    InitRipas(RipasRange),
    /// `RMI_DATA_CREATE`.
    DataCreate(DataGranule<'a>),
    /// `RMI_REC_CREATE`.
    RecCreate(MeasuredRecParams),
}

/// How the host builds a realm, in the reference order: all `RMI_RTT_INIT_RIPAS` calls, then
/// all `RMI_DATA_CREATE` calls, then all `RMI_REC_CREATE` calls, each list in call order.
#[derive(Clone, Copy, Debug)]
pub struct RealmBuild<'a> {
    /// The measured fields of `RmiRealmParams`.
    pub params: MeasuredRealmParams,
    /// The `RMI_RTT_INIT_RIPAS` calls.
    pub ripas: &'a [RipasRange],
    /// The `RMI_DATA_CREATE` calls.
    pub data: &'a [DataGranule<'a>],
    /// The `RMI_REC_CREATE` calls.
    pub recs: &'a [MeasuredRecParams],
}

impl<'a> RealmBuild<'a> {
    /// The build as a sequence of steps, in the reference order.
    pub fn steps(&self) -> impl Iterator<Item = BuildStep<'a>> + 'a {
        let ripas = self.ripas.iter().copied().map(BuildStep::InitRipas);
        let data = self.data.iter().copied().map(BuildStep::DataCreate);
        let recs = self.recs.iter().copied().map(BuildStep::RecCreate);
        ripas.chain(data).chain(recs)
    }
}

/// A build description the RMM would refuse, so that no RIM can be predicted for it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum PredictError {
    /// `s2sz` is outside [`MIN_S2SZ`]..=[`MAX_S2SZ`].
    InvalidS2sz(u32),
    /// An `RMI_RTT_INIT_RIPAS` range with `base >= top`.
    EmptyRipasRange {
        /// Base given.
        base: u64,
        /// Top given.
        top: u64,
    },
    /// An `RMI_RTT_INIT_RIPAS` range not aligned to the block size of its level.
    RipasRangeNotAligned {
        /// Base given.
        base: u64,
        /// Top given.
        top: u64,
        /// Level given.
        level: RttLevel,
    },
    /// An address computed from the description overflows 64 bits.
    AddressOverflow,
    /// An address range reaches beyond the Protected IPA range, 2^(s2sz − 1).
    OutsideProtectedRange {
        /// Top (exclusive) of the offending range.
        top: u64,
        /// Size of the Protected IPA range.
        limit: u64,
    },
}

impl fmt::Display for PredictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidS2sz(s) => {
                write!(
                    f,
                    "s2sz {s} is outside the {MIN_S2SZ}..={MAX_S2SZ} bits the RMM accepts"
                )
            }
            Self::EmptyRipasRange { base, top } => {
                write!(f, "RTT_INIT_RIPAS range [{base:#x}, {top:#x}) is empty")
            }
            Self::RipasRangeNotAligned { base, top, level } => write!(
                f,
                "RTT_INIT_RIPAS range [{base:#x}, {top:#x}) is not aligned to the {:#x}-byte \
                 entries of {level}",
                level.block_size()
            ),
            Self::AddressOverflow => f.write_str("an address overflows 64 bits"),
            Self::OutsideProtectedRange { top, limit } => write!(
                f,
                "range ending at {top:#x} leaves the Protected IPA range [0, {limit:#x})"
            ),
        }
    }
}

impl core::error::Error for PredictError {}

/// Size of the Protected IPA range of a realm with this IPA width (cca-abi.md §8).
fn protected_limit(params: &MeasuredRealmParams) -> Result<u64, PredictError> {
    if !(MIN_S2SZ..=MAX_S2SZ).contains(&params.s2sz) {
        return Err(PredictError::InvalidS2sz(params.s2sz));
    }
    Ok(1 << (params.s2sz - 1))
}

/// Checks that `[.., top)` lies in the Protected IPA range.
fn check_protected(top: u64, limit: u64) -> Result<(), PredictError> {
    if top > limit {
        Err(PredictError::OutsideProtectedRange { top, limit })
    } else {
        Ok(())
    }
}

/// Checks one step and applies it to `rim` as an RMM of `generation` measures it, using
/// `content` as the DATA content hash when given (so that it can be computed elsewhere).
///
/// RMI 2.0 (TF-RMM v0.9.0) no longer measures `RMI_RTT_INIT_RIPAS`
/// (`app/attestation/rmm_stub/src/rim.c` has no RIPAS descriptor any more); its
/// `RMI_RTT_DATA_MAP_INIT` measures what 1.0's `RMI_DATA_CREATE` did, and `RMI_REC_CREATE`
/// (at its final `RMI_OP_CONTINUE`) what 1.0's did.
fn apply(
    rim: &mut Rim,
    generation: Generation,
    limit: u64,
    step: &BuildStep<'_>,
    content: Option<Option<&Measurement>>,
) -> Result<(), PredictError> {
    match step {
        BuildStep::InitRipas(range) => {
            let entries = range.entries()?;
            check_protected(range.top.addr(), limit)?;
            if generation == Generation::V1_0 {
                for (base, top) in entries {
                    rim.init_ripas_entry(base, top);
                }
            }
        }
        BuildStep::DataCreate(d) => {
            check_protected(d.ipa.addr() + GRANULE_SIZE as u64, limit)?;
            match content {
                Some(hash) => {
                    // The hashes handed in were computed with the realm's algorithm by
                    // `predict_parallel`, so a mismatch cannot happen; fall back to hashing
                    // here rather than trusting them if it ever did.
                    if rim.data_create_hashed(d.ipa.addr(), hash).is_err() {
                        rim.data_create(d.ipa.addr(), d.flags, d.content);
                    }
                }
                None => rim.data_create(d.ipa.addr(), d.flags, d.content),
            }
        }
        BuildStep::RecCreate(rec) => {
            rim.rec_create_measured(rec);
        }
    }
    Ok(())
}

/// Predicts the RIM of a realm built with `params` and then `steps`, in the given order.
///
/// # Errors
///
/// A [`PredictError`] for a step the RMM would refuse (the RIM would never be formed).
pub fn predict_steps<'a>(
    params: &MeasuredRealmParams,
    steps: impl IntoIterator<Item = BuildStep<'a>>,
) -> Result<Measurement, PredictError> {
    predict_steps_for(Generation::V1_0, params, steps)
}

/// [`predict_steps`] for an RMM of `generation` (RMI 2.0 does not measure
/// `RMI_RTT_INIT_RIPAS`; its `RMI_RTT_DATA_MAP_INIT` is 1.0's `RMI_DATA_CREATE`).
///
/// # Errors
///
/// As [`predict_steps`].
pub fn predict_steps_for<'a>(
    generation: Generation,
    params: &MeasuredRealmParams,
    steps: impl IntoIterator<Item = BuildStep<'a>>,
) -> Result<Measurement, PredictError> {
    let limit = protected_limit(params)?;
    let mut rim = Rim::new(params);
    for step in steps {
        apply(&mut rim, generation, limit, &step, None)?;
    }
    Ok(rim.measurement())
}

/// Predicts the RIM of `build` (reference order: INIT_RIPAS, DATA, REC).
///
/// The result uses the realm's own algorithm (`params.hash_algo`): SHA-256 or SHA-512.
///
/// # Errors
///
/// As [`predict_steps`].
pub fn predict(build: &RealmBuild<'_>) -> Result<Measurement, PredictError> {
    predict_steps(&build.params, build.steps())
}

/// [`predict`] for an RMM of `generation`.
///
/// # Errors
///
/// As [`predict_steps`].
pub fn predict_for(
    generation: Generation,
    build: &RealmBuild<'_>,
) -> Result<Measurement, PredictError> {
    predict_steps_for(generation, &build.params, build.steps())
}

/// The top of the 2 MiB blocks of RAM from `base` that hold an image of `image_len` bytes,
/// within `ram_size` bytes of RAM: where rmi-shim's builder stops making level-3 tables at
/// launch. `None` if it overflows the address space.
pub(crate) fn image_blocks_top(base: u64, ram_size: u64, image_len: usize) -> Option<u64> {
    let block = RttLevel::new(2).expect("2").block_size();
    let top = base.checked_add(ram_size)?;
    let end = base.checked_add((image_len as u64).checked_next_multiple_of(block)?)?;
    Some(end.min(top))
}

/// The `RMI_RTT_INIT_RIPAS` walk of rmi-shim's builder over `ram_size` bytes of RAM from
/// `base` holding an image of `image_len` bytes: level-3 entries over the 2 MiB blocks of the
/// image, then 2 MiB level-2 entries up to the top of RAM (RMI 1.0 measures one RIPAS
/// descriptor per entry; see `builder::RealmConfig`).
///
/// # Errors
///
/// [`PredictError::AddressOverflow`] if RAM overflows the address space,
/// [`PredictError::RipasRangeNotAligned`] if `base` or `ram_size` is not 2 MiB aligned,
/// [`PredictError::EmptyRipasRange`] for no RAM.
pub fn builder_ripas(
    base: Ipa,
    ram_size: u64,
    image_len: usize,
) -> Result<alloc::vec::Vec<RipasRange>, PredictError> {
    let overflow = PredictError::AddressOverflow;
    let top = base.addr().checked_add(ram_size).ok_or(overflow)?;
    let image_top = image_blocks_top(base.addr(), ram_size, image_len).ok_or(overflow)?;
    let ipa = |a: u64| Ipa::new(a).ok_or(overflow);
    let ranges = [
        RipasRange {
            base,
            top: ipa(image_top)?,
            level: RttLevel::new(3).expect("3"),
        },
        RipasRange {
            base: ipa(image_top)?,
            top: ipa(top)?,
            level: RttLevel::new(2).expect("2"),
        },
    ];
    if ram_size == 0 {
        return Err(PredictError::EmptyRipasRange {
            base: base.addr(),
            top,
        });
    }
    let non_empty: alloc::vec::Vec<RipasRange> =
        ranges.into_iter().filter(|r| r.base < r.top).collect();
    // Checks the alignment of each range for its level.
    for r in &non_empty {
        r.entries()?;
    }
    Ok(non_empty)
}

/// A flat image loaded as consecutive DATA granules, the usual shape of a realm payload.
///
/// - One `RMI_DATA_CREATE` per 4 KiB of `bytes`, at `load`, `load + 0x1000`, ... in order;
///   the last granule is zero-padded. Each uses `flags`, except the granules listed in
///   `unmeasured`, which use `NO_MEASURE_CONTENT` (for example the zero-filled scratch pages
///   of the reference realm).
/// - One `RMI_RTT_INIT_RIPAS` over the image, widened to whole entries of `ripas_level`:
///   `[align_down(load), align_up(load + len))`.
/// - Then the RECs, in order.
#[derive(Clone, Copy, Debug)]
pub struct FlatImage<'a> {
    /// The measured realm parameters.
    pub params: MeasuredRealmParams,
    /// IPA of the first byte of the image (granule aligned).
    pub load: Ipa,
    /// The image.
    pub bytes: &'a [u8],
    /// Whether DATA content is measured.
    pub flags: RmiDataMeasureContent,
    /// IPAs of granules created with `NO_MEASURE_CONTENT` whatever `flags` says (a short
    /// list: it is searched linearly).
    pub unmeasured: &'a [Ipa],
    /// Level of the RTT entries covering the image.
    pub ripas_level: RttLevel,
    /// The RECs, in creation order.
    pub recs: &'a [MeasuredRecParams],
}

impl FlatImage<'_> {
    /// The `RMI_RTT_INIT_RIPAS` range covering the image, or `None` for an empty image.
    ///
    /// # Errors
    ///
    /// [`PredictError::AddressOverflow`] if the rounded range overflows the address space.
    pub fn ripas_range(&self) -> Result<Option<RipasRange>, PredictError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let size = self.ripas_level.block_size();
        let overflow = PredictError::AddressOverflow;
        let len = u64::try_from(self.bytes.len()).map_err(|_| overflow)?;
        let end = self.load.addr().checked_add(len).ok_or(overflow)?;
        let top = end.checked_next_multiple_of(size).ok_or(overflow)?;
        let base = self.load.addr() - self.load.addr() % size;
        // Both are multiples of a block size, hence of the granule size.
        match (Ipa::new(base), Ipa::new(top)) {
            (Some(base), Some(top)) => Ok(Some(RipasRange {
                base,
                top,
                level: self.ripas_level,
            })),
            _ => Err(overflow),
        }
    }

    /// The flags of the granule at `ipa`.
    fn flags_at(&self, ipa: Ipa) -> RmiDataMeasureContent {
        if self.unmeasured.contains(&ipa) {
            RmiDataMeasureContent::NoMeasureContent
        } else {
            self.flags
        }
    }

    /// The IPA of granule `i` of the image.
    fn granule_ipa(&self, i: usize) -> Result<Ipa, PredictError> {
        let overflow = PredictError::AddressOverflow;
        (i as u64)
            .checked_mul(GRANULE_SIZE as u64)
            .and_then(|off| self.load.addr().checked_add(off))
            .and_then(Ipa::new)
            .ok_or(overflow)
    }

    /// Predicts the RIM of the image's realm.
    ///
    /// # Errors
    ///
    /// As [`predict_steps`].
    pub fn predict(&self) -> Result<Measurement, PredictError> {
        self.predict_for(Generation::V1_0)
    }

    /// [`Self::predict`] for an RMM of `generation`.
    ///
    /// # Errors
    ///
    /// As [`predict_steps`].
    pub fn predict_for(&self, generation: Generation) -> Result<Measurement, PredictError> {
        self.predict_with(generation, self.ripas_range()?.as_slice(), |_, _| None)
    }

    /// [`Self::predict_for`] with `RMI_RTT_INIT_RIPAS` over the `ripas` ranges, in order,
    /// instead of [`Self::ripas_range`]: for a host that sets the RIPAS of more than the
    /// image, such as rmi-shim's builder, which covers all of the realm's RAM
    /// ([`builder_ripas`]).
    ///
    /// # Errors
    ///
    /// As [`predict_steps`].
    pub fn predict_over_for(
        &self,
        generation: Generation,
        ripas: &[RipasRange],
    ) -> Result<Measurement, PredictError> {
        self.predict_with(generation, ripas, |_, _| None)
    }

    /// [`Self::predict_for`] with `RMI_RTT_INIT_RIPAS` over `ripas` (if any), taking the
    /// content hash of measured granule `index` from `hash_of(index, content)` when it
    /// returns `Some`.
    fn predict_with<'h>(
        &self,
        generation: Generation,
        ripas: &[RipasRange],
        hash_of: impl Fn(usize, &[u8; GRANULE_SIZE]) -> Option<Option<&'h Measurement>>,
    ) -> Result<Measurement, PredictError> {
        let limit = protected_limit(&self.params)?;
        let mut rim = Rim::new(&self.params);
        for &range in ripas {
            apply(
                &mut rim,
                generation,
                limit,
                &BuildStep::InitRipas(range),
                None,
            )?;
        }
        let (chunks, tail) = self.bytes.as_chunks::<GRANULE_SIZE>();
        for (i, content) in chunks.iter().enumerate() {
            let ipa = self.granule_ipa(i)?;
            let flags = self.flags_at(ipa);
            let step = BuildStep::DataCreate(DataGranule {
                ipa,
                flags,
                content,
            });
            let precomputed = match flags {
                RmiDataMeasureContent::MeasureContent => hash_of(i, content),
                RmiDataMeasureContent::NoMeasureContent => None,
            };
            apply(&mut rim, generation, limit, &step, precomputed)?;
        }
        if !tail.is_empty() {
            let mut last = [0u8; GRANULE_SIZE];
            last[..tail.len()].copy_from_slice(tail);
            let ipa = self.granule_ipa(chunks.len())?;
            let step = BuildStep::DataCreate(DataGranule {
                ipa,
                flags: self.flags_at(ipa),
                content: &last,
            });
            apply(&mut rim, generation, limit, &step, None)?;
        }
        for rec in self.recs {
            rim.rec_create_measured(rec);
        }
        Ok(rim.measurement())
    }

    /// [`Self::predict`] with the DATA content hashes computed on `threads` threads first.
    ///
    /// The RIM chain itself is sequential (each descriptor holds the previous RIM), but the
    /// content hashes, which are most of the work, are independent.
    ///
    /// # Errors
    ///
    /// As [`predict_steps`].
    #[cfg(feature = "std")]
    pub fn predict_parallel(
        &self,
        threads: core::num::NonZeroUsize,
    ) -> Result<Measurement, PredictError> {
        self.predict_parallel_for(Generation::V1_0, threads)
    }

    /// [`Self::predict_parallel`] for an RMM of `generation`.
    ///
    /// # Errors
    ///
    /// As [`predict_steps`].
    #[cfg(feature = "std")]
    pub fn predict_parallel_for(
        &self,
        generation: Generation,
        threads: core::num::NonZeroUsize,
    ) -> Result<Measurement, PredictError> {
        self.predict_parallel_with(generation, self.ripas_range()?.as_slice(), threads)
    }

    /// [`Self::predict_over_for`] with the DATA content hashes computed on `threads`
    /// threads first, as [`Self::predict_parallel`] does.
    ///
    /// # Errors
    ///
    /// As [`predict_steps`].
    #[cfg(feature = "std")]
    pub fn predict_parallel_over_for(
        &self,
        generation: Generation,
        ripas: &[RipasRange],
        threads: core::num::NonZeroUsize,
    ) -> Result<Measurement, PredictError> {
        self.predict_parallel_with(generation, ripas, threads)
    }

    /// [`Self::predict_with`] with the content hashes computed on `threads` threads.
    #[cfg(feature = "std")]
    fn predict_parallel_with(
        &self,
        generation: Generation,
        ripas: &[RipasRange],
        threads: core::num::NonZeroUsize,
    ) -> Result<Measurement, PredictError> {
        if self.flags == RmiDataMeasureContent::NoMeasureContent {
            return self.predict_with(generation, ripas, |_, _| None);
        }
        let algorithm = self.params.hash_algo;
        let (chunks, _) = self.bytes.as_chunks::<GRANULE_SIZE>();
        let per_thread = chunks.len().div_ceil(threads.get()).max(1);
        let mut hashes = vec![Measurement::zero(algorithm); chunks.len()];
        std::thread::scope(|s| {
            for (out, input) in hashes.chunks_mut(per_thread).zip(chunks.chunks(per_thread)) {
                s.spawn(move || {
                    for (h, content) in out.iter_mut().zip(input) {
                        *h = cca_abi::rim::content_hash(algorithm, content);
                    }
                });
            }
        });
        self.predict_with(generation, ripas, |i, _| hashes.get(i).map(Some))
    }
}

#[cfg(test)]
mod tests {
    use cca_abi::measurement::HashAlgorithm;

    use super::*;

    fn params() -> MeasuredRealmParams {
        MeasuredRealmParams {
            flags0: 0,
            s2sz: 39,
            sve_vl: 0,
            num_bps: 5,
            num_wps: 3,
            pmu_num_ctrs: 0,
            hash_algo: HashAlgorithm::Sha256,
        }
    }

    fn ipa(v: u64) -> Ipa {
        Ipa::new(v).unwrap()
    }

    /// RMI 2.0 measures no RIPAS descriptor: a flat image's 2.0 RIM is its 1.0 RIM with the
    /// INIT_RIPAS step left out, and it does not depend on the RIPAS range or its level.
    #[test]
    fn rmi_2_0_does_not_measure_init_ripas() {
        let bytes = [0x5au8; 3 * GRANULE_SIZE + 100];
        let recs = [MeasuredRecParams {
            flags: 1,
            pc: 0x8000_0000,
            gprs: [0; 8],
        }];
        let image = |level: i8| FlatImage {
            params: params(),
            load: ipa(0x8000_0000),
            bytes: &bytes,
            flags: RmiDataMeasureContent::MeasureContent,
            unmeasured: &[],
            ripas_level: RttLevel::new(level).unwrap(),
            recs: &recs,
        };
        let v2 = image(3).predict_for(Generation::V2_0).unwrap();
        assert_eq!(image(2).predict_for(Generation::V2_0).unwrap(), v2);
        assert_ne!(image(3).predict().unwrap(), v2);
        assert_eq!(image(3).predict_for(Generation::V1_0), image(3).predict());
        // The same as the steps without the RIPAS one, predicted for 1.0.
        let (chunks, tail) = bytes.as_chunks::<GRANULE_SIZE>();
        let mut last = [0u8; GRANULE_SIZE];
        last[..tail.len()].copy_from_slice(tail);
        let data: Vec<DataGranule<'_>> = chunks
            .iter()
            .chain([&last])
            .enumerate()
            .map(|(i, content)| DataGranule {
                ipa: ipa(0x8000_0000 + i as u64 * GRANULE_SIZE as u64),
                flags: RmiDataMeasureContent::MeasureContent,
                content,
            })
            .collect();
        let build = RealmBuild {
            params: params(),
            ripas: &[],
            data: &data,
            recs: &recs,
        };
        assert_eq!(predict(&build).unwrap(), v2);
        let with_ripas = RealmBuild {
            ripas: &[image(3).ripas_range().unwrap().unwrap()],
            ..build
        };
        assert_eq!(predict_for(Generation::V2_0, &with_ripas).unwrap(), v2);
        #[cfg(feature = "std")]
        assert_eq!(
            image(3)
                .predict_parallel_for(Generation::V2_0, core::num::NonZeroUsize::new(2).unwrap())
                .unwrap(),
            v2
        );
    }

    /// cca-abi.md §6.4 and the testdata README: `[0, 0x6000)` over a level-3 table gives six
    /// descriptors; `[0x200000, 0x400000)` over a level-2 block gives one.
    #[test]
    fn ripas_entries_follow_the_level() {
        let l3 = RttLevel::new(3).unwrap();
        let l2 = RttLevel::new(2).unwrap();
        let six: Vec<_> = RipasRange {
            base: ipa(0),
            top: ipa(0x6000),
            level: l3,
        }
        .entries()
        .unwrap()
        .collect();
        assert_eq!(six.len(), 6);
        assert_eq!(six[5], (0x5000, 0x6000));
        let one: Vec<_> = RipasRange {
            base: ipa(0x20_0000),
            top: ipa(0x40_0000),
            level: l2,
        }
        .entries()
        .unwrap()
        .collect();
        assert_eq!(one, [(0x20_0000, 0x40_0000)]);
        assert_eq!(
            RipasRange {
                base: ipa(0x1000),
                top: ipa(0x40_0000),
                level: l2
            }
            .entries()
            .err(),
            Some(PredictError::RipasRangeNotAligned {
                base: 0x1000,
                top: 0x40_0000,
                level: l2
            })
        );
        assert_eq!(
            RipasRange {
                base: ipa(0x2000),
                top: ipa(0x2000),
                level: l3
            }
            .entries()
            .err(),
            Some(PredictError::EmptyRipasRange {
                base: 0x2000,
                top: 0x2000
            })
        );
    }

    /// The Protected IPA range is the lower half of the IPA space (cca-abi.md §8).
    #[test]
    fn refuses_what_the_rmm_refuses() {
        let content = [0u8; GRANULE_SIZE];
        let limit = 1u64 << 38;
        let outside = DataGranule {
            ipa: ipa(limit),
            flags: RmiDataMeasureContent::MeasureContent,
            content: &content,
        };
        let build = RealmBuild {
            params: params(),
            ripas: &[],
            data: &[outside],
            recs: &[],
        };
        assert_eq!(
            predict(&build),
            Err(PredictError::OutsideProtectedRange {
                top: limit + 0x1000,
                limit
            })
        );
        let bad = MeasuredRealmParams {
            s2sz: 31,
            ..params()
        };
        assert_eq!(predict_steps(&bad, []), Err(PredictError::InvalidS2sz(31)));
    }

    /// Order matters: the reference order equals the same steps given explicitly, and
    /// swapping two steps changes the RIM (cca-abi.md §10.5).
    #[test]
    fn order_is_significant() {
        let a = [1u8; GRANULE_SIZE];
        let b = [2u8; GRANULE_SIZE];
        let m = RmiDataMeasureContent::MeasureContent;
        let data = [
            DataGranule {
                ipa: ipa(0),
                flags: m,
                content: &a,
            },
            DataGranule {
                ipa: ipa(0x1000),
                flags: m,
                content: &b,
            },
        ];
        let ripas = [RipasRange {
            base: ipa(0),
            top: ipa(0x2000),
            level: RttLevel::PAGE,
        }];
        let recs = [MeasuredRecParams {
            flags: 1,
            ..Default::default()
        }];
        let build = RealmBuild {
            params: params(),
            ripas: &ripas,
            data: &data,
            recs: &recs,
        };
        let reference = predict(&build).unwrap();
        let explicit = predict_steps(
            &params(),
            [
                BuildStep::InitRipas(ripas[0]),
                BuildStep::DataCreate(data[0]),
                BuildStep::DataCreate(data[1]),
                BuildStep::RecCreate(recs[0]),
            ],
        )
        .unwrap();
        assert_eq!(reference, explicit);
        let swapped = predict_steps(
            &params(),
            [
                BuildStep::InitRipas(ripas[0]),
                BuildStep::DataCreate(data[1]),
                BuildStep::DataCreate(data[0]),
                BuildStep::RecCreate(recs[0]),
            ],
        )
        .unwrap();
        assert_ne!(reference, swapped);
    }

    /// A flat image is the explicit build of its granules, with a zero-padded tail.
    #[test]
    fn flat_image_matches_explicit_build() {
        let bytes: Vec<u8> = (0..0x2800u32).map(|i| (i % 251) as u8).collect();
        let mut tail = [0u8; GRANULE_SIZE];
        tail[..0x800].copy_from_slice(&bytes[0x2000..]);
        let m = RmiDataMeasureContent::MeasureContent;
        let (chunks, _) = bytes.as_chunks::<GRANULE_SIZE>();
        let data = [
            DataGranule {
                ipa: ipa(0x8000),
                flags: m,
                content: &chunks[0],
            },
            DataGranule {
                ipa: ipa(0x9000),
                flags: m,
                content: &chunks[1],
            },
            DataGranule {
                ipa: ipa(0xA000),
                flags: m,
                content: &tail,
            },
        ];
        let l2 = RttLevel::new(2).unwrap();
        let ripas = [RipasRange {
            base: ipa(0),
            top: ipa(0x20_0000),
            level: l2,
        }];
        let recs = [MeasuredRecParams {
            flags: 1,
            pc: 0x8000,
            gprs: [0; 8],
        }];
        let build = RealmBuild {
            params: params(),
            ripas: &ripas,
            data: &data,
            recs: &recs,
        };
        let image = FlatImage {
            params: params(),
            load: ipa(0x8000),
            bytes: &bytes,
            flags: m,
            unmeasured: &[],
            ripas_level: l2,
            recs: &recs,
        };
        assert_eq!(image.ripas_range().unwrap(), Some(ripas[0]));
        assert_eq!(image.predict().unwrap(), predict(&build).unwrap());
        // The same range given explicitly, and a wider one.
        assert_eq!(
            image
                .predict_over_for(Generation::V1_0, &ripas[..1])
                .unwrap(),
            predict(&build).unwrap()
        );
        let wide = [RipasRange {
            top: ipa(0x80_0000),
            ..ripas[0]
        }];
        let wide_build = RealmBuild {
            ripas: &wide,
            ..build
        };
        assert_eq!(
            image
                .predict_over_for(Generation::V1_0, &wide[..1])
                .unwrap(),
            predict(&wide_build).unwrap()
        );
        assert_ne!(predict(&wide_build).unwrap(), predict(&build).unwrap());
        #[cfg(feature = "std")]
        for n in [1, 2, 3] {
            let threads = core::num::NonZeroUsize::new(n).unwrap();
            assert_eq!(
                image
                    .predict_parallel_over_for(Generation::V1_0, &wide[..1], threads)
                    .unwrap(),
                predict(&wide_build).unwrap()
            );
        }
        #[cfg(feature = "std")]
        for n in [1, 2, 3] {
            let threads = core::num::NonZeroUsize::new(n).unwrap();
            assert_eq!(
                image.predict_parallel(threads).unwrap(),
                predict(&build).unwrap()
            );
        }
    }
}
