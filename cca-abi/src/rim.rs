//! The Realm Initial Measurement (RIM): the arithmetic the RMM performs while a realm is built.
//!
//! DEN0137 1.0-rel0 §B4.3.9.4 (`RMI_REALM_CREATE`) and §B4.3.12.4 (`RMI_REC_CREATE`), as
//! TF-RMM v0.8.0 implements them in `app/attestation/rmm_stub/src/{rim.c,measurement_descs.h}`
//! (cca-abi.md §6; `shared/testdata/tf-rmm/README.md`, "RIM model"):
//!
//! 1. `RMI_REALM_CREATE`: RIM = H(the 4 KiB `RmiRealmParams` image holding only the measured
//!    fields, [`MeasuredRealmParams`]).
//! 2. `RMI_RTT_INIT_RIPAS`: for every RTT entry it transitions, RIM = H([`RimRipasDescriptor`]).
//!    TF-RMM v0.9.0 (RMI 2.0) dropped this step; this module models RMI 1.0.
//! 3. `RMI_DATA_CREATE`: RIM = H([`RimDataDescriptor`]), with H(content) in it only when the
//!    content is measured. `RMI_DATA_CREATE_UNKNOWN` does not touch the RIM.
//! 4. `RMI_REC_CREATE` of a RUNNABLE REC: RIM = H([`RimRecDescriptor`]) holding H(the 4 KiB
//!    `RmiRecParams` image of [`MeasuredRecParams`]).
//!
//! H is the realm's hash algorithm. Every "rim" and "content" field of a descriptor is 64
//! bytes: the digest followed by zeros.

use core::fmt;
use core::mem::{offset_of, size_of};

use sha2::{Digest, Sha256, Sha512};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::GRANULE_SIZE;
use crate::measurement::{HashAlgorithm, MAX_MEASUREMENT_SIZE, Measurement};
use crate::rmi::{
    REC_CREATE_GPRS, RecCreateFlags, RmiDataMeasureContent, RmiRealmParams, RmiRecParams,
};

/// `desc_type` of the `RMI_DATA_CREATE` descriptor.
pub const DESC_TYPE_DATA: u8 = 0;
/// `desc_type` of the `RMI_REC_CREATE` descriptor.
pub const DESC_TYPE_REC: u8 = 1;
/// `desc_type` of the `RMI_RTT_INIT_RIPAS` descriptor.
pub const DESC_TYPE_RIPAS: u8 = 2;
/// `len` of every measurement descriptor.
pub const DESC_LEN: u64 = 0x100;

/// `RmmMeasurementDescriptorData` (0x100 bytes, cca-abi.md §6.2).
#[derive(Clone, Debug, Eq, PartialEq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RimDataDescriptor {
    /// 0x00 `desc_type`: [`DESC_TYPE_DATA`].
    pub desc_type: u8,
    /// 0x01: rest of the `desc_type` slot, zero.
    pub reserved_01: [u8; 7],
    /// 0x08 `len`: [`DESC_LEN`].
    pub len: u64,
    /// 0x10 `rim`: the current RIM, zero-padded to 64 bytes.
    pub rim: [u8; MAX_MEASUREMENT_SIZE],
    /// 0x50 `ipa`: the IPA the granule is mapped at (`x3`).
    pub ipa: u64,
    /// 0x58 `flags`: `x5` as given, [`RmiDataMeasureContent`].
    pub flags: u64,
    /// 0x60 `content`: H(the 4 KiB content) if measured, else zero.
    pub content: [u8; MAX_MEASUREMENT_SIZE],
    /// 0xA0: zero.
    pub reserved_a0: [u8; 0x100 - 0xA0],
}

const _: () = {
    assert!(size_of::<RimDataDescriptor>() == 0x100);
    assert!(offset_of!(RimDataDescriptor, desc_type) == 0x00);
    assert!(offset_of!(RimDataDescriptor, len) == 0x08);
    assert!(offset_of!(RimDataDescriptor, rim) == 0x10);
    assert!(offset_of!(RimDataDescriptor, ipa) == 0x50);
    assert!(offset_of!(RimDataDescriptor, flags) == 0x58);
    assert!(offset_of!(RimDataDescriptor, content) == 0x60);
};

/// `RmmMeasurementDescriptorRec` (0x100 bytes, cca-abi.md §6.3).
#[derive(Clone, Debug, Eq, PartialEq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RimRecDescriptor {
    /// 0x00 `desc_type`: [`DESC_TYPE_REC`].
    pub desc_type: u8,
    /// 0x01: rest of the `desc_type` slot, zero.
    pub reserved_01: [u8; 7],
    /// 0x08 `len`: [`DESC_LEN`].
    pub len: u64,
    /// 0x10 `rim`: the current RIM, zero-padded to 64 bytes.
    pub rim: [u8; MAX_MEASUREMENT_SIZE],
    /// 0x50 `content`: H(the 4 KiB image of [`MeasuredRecParams`]), zero-padded.
    pub content: [u8; MAX_MEASUREMENT_SIZE],
    /// 0x90: zero.
    pub reserved_90: [u8; 0x100 - 0x90],
}

const _: () = {
    assert!(size_of::<RimRecDescriptor>() == 0x100);
    assert!(offset_of!(RimRecDescriptor, desc_type) == 0x00);
    assert!(offset_of!(RimRecDescriptor, len) == 0x08);
    assert!(offset_of!(RimRecDescriptor, rim) == 0x10);
    assert!(offset_of!(RimRecDescriptor, content) == 0x50);
};

/// `RmmMeasurementDescriptorRipas` (0x100 bytes, cca-abi.md §6.4; RMI 1.0 only).
#[derive(Clone, Debug, Eq, PartialEq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RimRipasDescriptor {
    /// 0x00 `desc_type`: [`DESC_TYPE_RIPAS`].
    pub desc_type: u8,
    /// 0x01: rest of the `desc_type` slot, zero.
    pub reserved_01: [u8; 7],
    /// 0x08 `len`: [`DESC_LEN`].
    pub len: u64,
    /// 0x10 `rim`: the current RIM, zero-padded to 64 bytes.
    pub rim: [u8; MAX_MEASUREMENT_SIZE],
    /// 0x50 `base`: start of the RTT entry.
    pub base: u64,
    /// 0x58 `top`: `base` plus the size the entry maps at its level.
    pub top: u64,
    /// 0x60: zero.
    pub reserved_60: [u8; 0x100 - 0x60],
}

const _: () = {
    assert!(size_of::<RimRipasDescriptor>() == 0x100);
    assert!(offset_of!(RimRipasDescriptor, desc_type) == 0x00);
    assert!(offset_of!(RimRipasDescriptor, len) == 0x08);
    assert!(offset_of!(RimRipasDescriptor, rim) == 0x10);
    assert!(offset_of!(RimRipasDescriptor, base) == 0x50);
    assert!(offset_of!(RimRipasDescriptor, top) == 0x58);
};

/// Why a RIM step could not be computed.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RimError {
    /// `RmiRealmParams.hash_algo` is not 0 or 1 (TF-RMM answers `RMI_ERROR_INPUT`).
    InvalidHashAlgorithm(u8),
    /// A precomputed content hash was made with another algorithm than the realm's.
    AlgorithmMismatch {
        /// The realm's algorithm.
        realm: HashAlgorithm,
        /// The algorithm of the hash given.
        given: HashAlgorithm,
    },
}

impl fmt::Display for RimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHashAlgorithm(v) => {
                write!(
                    f,
                    "RmiRealmParams.hash_algo = {v} is neither 0 (SHA-256) nor 1 (SHA-512)"
                )
            }
            Self::AlgorithmMismatch { realm, given } => {
                write!(
                    f,
                    "content hash uses {given} but the realm measures with {realm}"
                )
            }
        }
    }
}

impl core::error::Error for RimError {}

/// The fields of `RmiRealmParams` that `RMI_REALM_CREATE` measures (cca-abi.md §6.1).
///
/// Everything else (RPV, VMID, `rtt_*` and the RMI 1.1 fields) is left out of the image.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct MeasuredRealmParams {
    /// `flags0` at 0x000, the whole 64-bit value.
    pub flags0: u64,
    /// `s2sz` at 0x008.
    pub s2sz: u32,
    /// `sve_vl` at 0x010.
    pub sve_vl: u32,
    /// `num_bps` at 0x018.
    pub num_bps: u32,
    /// `num_wps` at 0x020.
    pub num_wps: u32,
    /// `pmu_num_ctrs` at 0x028.
    pub pmu_num_ctrs: u32,
    /// `hash_algo` at 0x030.
    pub hash_algo: HashAlgorithm,
}

/// Bytes of the measured realm-parameter image that can be non-zero (up to `hash_algo`).
const REALM_PARAMS_HEAD: usize = 0x38;

impl MeasuredRealmParams {
    /// Takes the measured fields of a parameter page.
    ///
    /// # Errors
    ///
    /// [`RimError::InvalidHashAlgorithm`] if `hash_algo` is not 0 or 1.
    pub fn from_params(p: &RmiRealmParams) -> Result<Self, RimError> {
        let hash_algo = HashAlgorithm::from_encoding(p.hash_algo.into())
            .ok_or(RimError::InvalidHashAlgorithm(p.hash_algo))?;
        Ok(Self {
            flags0: p.flags0,
            s2sz: p.s2sz,
            sve_vl: p.sve_vl,
            num_bps: p.num_bps,
            num_wps: p.num_wps,
            pmu_num_ctrs: p.pmu_num_ctrs,
            hash_algo,
        })
    }

    /// The 4 KiB image `RMI_REALM_CREATE` hashes: these fields, every other byte zero.
    #[must_use]
    pub fn image(&self) -> RmiRealmParams {
        let mut p = RmiRealmParams::zeroed();
        p.flags0 = self.flags0;
        p.s2sz = self.s2sz;
        p.sve_vl = self.sve_vl;
        p.num_bps = self.num_bps;
        p.num_wps = self.num_wps;
        p.pmu_num_ctrs = self.pmu_num_ctrs;
        p.hash_algo = self.hash_algo.encoding();
        p
    }

    /// The first [`REALM_PARAMS_HEAD`] bytes of [`Self::image`]; the rest is zero.
    fn head(&self) -> [u8; REALM_PARAMS_HEAD] {
        let mut h = [0; REALM_PARAMS_HEAD];
        h[0x00..0x08].copy_from_slice(&self.flags0.to_le_bytes());
        h[0x08..0x0C].copy_from_slice(&self.s2sz.to_le_bytes());
        h[0x10..0x14].copy_from_slice(&self.sve_vl.to_le_bytes());
        h[0x18..0x1C].copy_from_slice(&self.num_bps.to_le_bytes());
        h[0x20..0x24].copy_from_slice(&self.num_wps.to_le_bytes());
        h[0x28..0x2C].copy_from_slice(&self.pmu_num_ctrs.to_le_bytes());
        h[0x30] = self.hash_algo.encoding();
        h
    }
}

/// The fields of `RmiRecParams` that `RMI_REC_CREATE` measures (cca-abi.md §6.3).
///
/// `mpidr`, `num_aux` and the auxiliary granules are not measured.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct MeasuredRecParams {
    /// `flags` at 0x000 ([`RecCreateFlags`]); only a RUNNABLE REC is measured at all.
    pub flags: u64,
    /// `pc` at 0x200.
    pub pc: u64,
    /// `gprs[0..7]` at 0x300.
    pub gprs: [u64; REC_CREATE_GPRS],
}

impl MeasuredRecParams {
    /// Takes the measured fields of a parameter page.
    #[must_use]
    pub const fn from_params(p: &RmiRecParams) -> Self {
        Self {
            flags: p.flags,
            pc: p.pc,
            gprs: p.gprs,
        }
    }

    /// Whether `RMI_REC_CREATE` extends the RIM for this REC (flag RUNNABLE).
    #[must_use]
    pub const fn is_measured(&self) -> bool {
        RecCreateFlags::from_raw(self.flags).contains(RecCreateFlags::RUNNABLE)
    }

    /// The 4 KiB image whose hash goes into the REC descriptor.
    #[must_use]
    pub fn image(&self) -> RmiRecParams {
        let mut p = RmiRecParams::zeroed();
        p.flags = self.flags;
        p.pc = self.pc;
        p.gprs = self.gprs;
        p
    }
}

/// Zeros streamed into the hash in place of the unmeasured parts of a parameter page.
static ZEROS: [u8; GRANULE_SIZE] = [0; GRANULE_SIZE];

/// A running hash of the realm's algorithm.
enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
            HashAlgorithm::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    fn finalize(self) -> Measurement {
        let mut slot = [0; MAX_MEASUREMENT_SIZE];
        let algorithm = match self {
            Self::Sha256(h) => {
                slot[..32].copy_from_slice(&h.finalize());
                HashAlgorithm::Sha256
            }
            Self::Sha512(h) => {
                slot.copy_from_slice(&h.finalize());
                HashAlgorithm::Sha512
            }
        };
        Measurement::from_slot(algorithm, slot)
    }
}

/// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-512 initial hash value (FIPS 180-4 §5.3.5).
const SHA512_IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

/// Hashes one whole byte string with `algorithm`.
///
/// Every message the RIM hashes (4 KiB contents and images, 256-byte descriptors) is a whole
/// number of blocks of both algorithms, so its padding is one constant block: this path runs
/// the compression function straight over the caller's bytes and the padding block, with no
/// buffering or copying (FIPS 180-4 §5.1). Other lengths take the general path.
fn hash(algorithm: HashAlgorithm, bytes: &[u8]) -> Measurement {
    let mut slot = [0; MAX_MEASUREMENT_SIZE];
    match algorithm {
        HashAlgorithm::Sha256 => {
            let (blocks, []) = bytes.as_chunks::<64>() else {
                return hash_general(algorithm, bytes);
            };
            let mut pad = [0u8; 64];
            pad[0] = 0x80;
            pad[56..].copy_from_slice(&((bytes.len() as u64) << 3).to_be_bytes());
            let mut state = SHA256_IV;
            sha2::block_api::compress256(&mut state, blocks);
            sha2::block_api::compress256(&mut state, &[pad]);
            for (out, word) in slot.chunks_exact_mut(4).zip(state) {
                out.copy_from_slice(&word.to_be_bytes());
            }
        }
        HashAlgorithm::Sha512 => {
            let (blocks, []) = bytes.as_chunks::<128>() else {
                return hash_general(algorithm, bytes);
            };
            let mut pad = [0u8; 128];
            pad[0] = 0x80;
            pad[112..].copy_from_slice(&((bytes.len() as u128) << 3).to_be_bytes());
            let mut state = SHA512_IV;
            sha2::block_api::compress512(&mut state, blocks);
            sha2::block_api::compress512(&mut state, &[pad]);
            for (out, word) in slot.chunks_exact_mut(8).zip(state) {
                out.copy_from_slice(&word.to_be_bytes());
            }
        }
    }
    Measurement::from_slot(algorithm, slot)
}

/// [`hash`] through the buffered hasher, for any length.
fn hash_general(algorithm: HashAlgorithm, bytes: &[u8]) -> Measurement {
    let mut h = Hasher::new(algorithm);
    h.update(bytes);
    h.finalize()
}

/// Hashes the contents of a DATA granule, as `RMI_DATA_CREATE` with `MEASURE_CONTENT` does.
///
/// This is the expensive part of a RIM (one pass over every measured byte). It depends only on
/// the content, so a caller may compute it ahead of time or in parallel and hand it to
/// [`Rim::data_create_hashed`].
#[must_use]
pub fn content_hash(algorithm: HashAlgorithm, content: &[u8; GRANULE_SIZE]) -> Measurement {
    hash(algorithm, content)
}

/// The RIM of a realm under construction: an accumulator over the build commands.
///
/// Each method performs the RIM step of one RMI command that succeeded, in the order the host
/// issued them.
///
/// ```
/// use cca_abi::measurement::HashAlgorithm;
/// use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams, Rim};
/// use cca_abi::rmi::RmiDataMeasureContent;
///
/// let params = MeasuredRealmParams {
///     flags0: 0, s2sz: 39, sve_vl: 0, num_bps: 5, num_wps: 3, pmu_num_ctrs: 0,
///     hash_algo: HashAlgorithm::Sha256,
/// };
/// let mut rim = Rim::new(&params);
/// rim.init_ripas_entry(0, 0x1000);
/// rim.data_create(0, RmiDataMeasureContent::MeasureContent, &[0; 4096]);
/// rim.rec_create_measured(&MeasuredRecParams { flags: 1, ..Default::default() });
/// assert_eq!(rim.measurement().as_bytes().len(), 32);
/// ```
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Rim {
    current: Measurement,
}

impl Rim {
    /// `RMI_REALM_CREATE`: the initial RIM of a realm created with `params`.
    ///
    /// # Errors
    ///
    /// [`RimError::InvalidHashAlgorithm`] if `hash_algo` is not 0 or 1 (the RMM would refuse
    /// the realm).
    pub fn realm_create(params: &RmiRealmParams) -> Result<Self, RimError> {
        Ok(Self::new(&MeasuredRealmParams::from_params(params)?))
    }

    /// `RMI_REALM_CREATE` from the measured fields alone.
    #[must_use]
    pub fn new(params: &MeasuredRealmParams) -> Self {
        let mut h = Hasher::new(params.hash_algo);
        h.update(&params.head());
        h.update(&ZEROS[REALM_PARAMS_HEAD..]);
        Self {
            current: h.finalize(),
        }
    }

    /// Continues from a known RIM (for example one read back from a realm).
    #[must_use]
    pub const fn from_measurement(current: Measurement) -> Self {
        Self { current }
    }

    /// The realm's hash algorithm.
    #[must_use]
    pub const fn algorithm(&self) -> HashAlgorithm {
        self.current.algorithm()
    }

    /// The RIM so far.
    #[must_use]
    pub const fn measurement(&self) -> Measurement {
        self.current
    }

    /// `RMI_DATA_CREATE(ipa, flags)` with the 4 KiB `content` copied from the source granule.
    ///
    /// The content is hashed in place (no copy) only for
    /// [`RmiDataMeasureContent::MeasureContent`].
    pub fn data_create(
        &mut self,
        ipa: u64,
        flags: RmiDataMeasureContent,
        content: &[u8; GRANULE_SIZE],
    ) {
        let digest = match flags {
            RmiDataMeasureContent::MeasureContent => Some(content_hash(self.algorithm(), content)),
            RmiDataMeasureContent::NoMeasureContent => None,
        };
        self.extend_data(ipa, digest.as_ref());
    }

    /// `RMI_DATA_CREATE(ipa)` with a content hash computed beforehand by [`content_hash`]:
    /// `Some` for `MEASURE_CONTENT`, `None` for `NO_MEASURE_CONTENT`.
    ///
    /// # Errors
    ///
    /// [`RimError::AlgorithmMismatch`] if the hash is not of the realm's algorithm; the RIM is
    /// then unchanged.
    pub fn data_create_hashed(
        &mut self,
        ipa: u64,
        content: Option<&Measurement>,
    ) -> Result<(), RimError> {
        if let Some(m) = content
            && m.algorithm() != self.algorithm()
        {
            return Err(RimError::AlgorithmMismatch {
                realm: self.algorithm(),
                given: m.algorithm(),
            });
        }
        self.extend_data(ipa, content);
        Ok(())
    }

    fn extend_data(&mut self, ipa: u64, content: Option<&Measurement>) {
        let desc = self.data_descriptor(ipa, content);
        self.current = hash(self.algorithm(), desc.as_bytes());
    }

    /// The descriptor `RMI_DATA_CREATE(ipa)` would hash now (for inspection and tests).
    #[must_use]
    pub fn data_descriptor(&self, ipa: u64, content: Option<&Measurement>) -> RimDataDescriptor {
        let flags = match content {
            Some(_) => RmiDataMeasureContent::MeasureContent,
            None => RmiDataMeasureContent::NoMeasureContent,
        };
        RimDataDescriptor {
            desc_type: DESC_TYPE_DATA,
            reserved_01: [0; 7],
            len: DESC_LEN,
            rim: self.current.slot(),
            ipa,
            flags: flags.to_raw(),
            content: content.map_or([0; MAX_MEASUREMENT_SIZE], Measurement::slot),
            reserved_a0: [0; 0x100 - 0xA0],
        }
    }

    /// `RMI_REC_CREATE` with the parameter page `params`; returns whether the RIM changed
    /// (only a RUNNABLE REC is measured).
    pub fn rec_create(&mut self, params: &RmiRecParams) -> bool {
        self.rec_create_measured(&MeasuredRecParams::from_params(params))
    }

    /// `RMI_REC_CREATE` from the measured fields alone; returns whether the RIM changed.
    pub fn rec_create_measured(&mut self, params: &MeasuredRecParams) -> bool {
        if !params.is_measured() {
            return false;
        }
        let desc = self.rec_descriptor(params);
        self.current = hash(self.algorithm(), desc.as_bytes());
        true
    }

    /// The descriptor `RMI_REC_CREATE` would hash now for a RUNNABLE REC.
    #[must_use]
    pub fn rec_descriptor(&self, params: &MeasuredRecParams) -> RimRecDescriptor {
        // Hash the image by streaming its three non-zero fields between runs of zeros.
        let mut h = Hasher::new(self.algorithm());
        h.update(&params.flags.to_le_bytes());
        h.update(&ZEROS[0x008..0x200]);
        h.update(&params.pc.to_le_bytes());
        h.update(&ZEROS[0x208..0x300]);
        for gpr in params.gprs {
            h.update(&gpr.to_le_bytes());
        }
        h.update(&ZEROS[0x340..]);
        RimRecDescriptor {
            desc_type: DESC_TYPE_REC,
            reserved_01: [0; 7],
            len: DESC_LEN,
            rim: self.current.slot(),
            content: h.finalize().slot(),
            reserved_90: [0; 0x100 - 0x90],
        }
    }

    /// One RTT entry `[base, top)` transitioned by `RMI_RTT_INIT_RIPAS` (RMI 1.0 only).
    ///
    /// The RMM extends the RIM once per entry; which entries a call covers depends on the RTT
    /// levels the host built (cca-abi.md §6.4).
    pub fn init_ripas_entry(&mut self, base: u64, top: u64) {
        let desc = self.ripas_descriptor(base, top);
        self.current = hash(self.algorithm(), desc.as_bytes());
    }

    /// The descriptor `RMI_RTT_INIT_RIPAS` would hash now for the entry `[base, top)`.
    #[must_use]
    pub fn ripas_descriptor(&self, base: u64, top: u64) -> RimRipasDescriptor {
        RimRipasDescriptor {
            desc_type: DESC_TYPE_RIPAS,
            reserved_01: [0; 7],
            len: DESC_LEN,
            rim: self.current.slot(),
            base,
            top,
            reserved_60: [0; 0x100 - 0x60],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(hash_algo: HashAlgorithm) -> MeasuredRealmParams {
        MeasuredRealmParams {
            flags0: 0x2,
            s2sz: 36,
            sve_vl: 1,
            num_bps: 2,
            num_wps: 2,
            pmu_num_ctrs: 0,
            hash_algo,
        }
    }

    /// cca-abi.md §6.1: RIM = H(4 KiB image with only the measured fields); the streamed
    /// computation equals hashing the image, and unmeasured fields do not matter.
    #[test]
    fn realm_create_hashes_the_measured_image() {
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let p = params(alg);
            let image = p.image();
            let expected = alg.hash(&[image.as_bytes()]);
            assert_eq!(Rim::new(&p).measurement(), expected);

            let mut full = image.clone();
            full.rpv = [0xAB; 64];
            full.vmid = 7;
            full.rtt_base = 0x7820_1000;
            full.rtt_level_start = 1;
            full.rtt_num_start = 1;
            assert_eq!(Rim::realm_create(&full).unwrap().measurement(), expected);
            assert_eq!(image.as_bytes()[0x08], 36);
            assert_eq!(image.as_bytes()[0x30], alg.encoding());
        }
    }

    /// cca-abi.md §5.1: hash_algo other than 0/1 is refused.
    #[test]
    fn invalid_hash_algorithm() {
        let mut p = params(HashAlgorithm::Sha256).image();
        p.hash_algo = 2;
        assert_eq!(
            Rim::realm_create(&p),
            Err(RimError::InvalidHashAlgorithm(2))
        );
    }

    /// cca-abi.md §6.2 descriptor layout and RIM = H(descriptor), for both flag values.
    #[test]
    fn data_descriptor() {
        let alg = HashAlgorithm::Sha512;
        let content: [u8; GRANULE_SIZE] = core::array::from_fn(|i| i as u8);
        let start = Rim::new(&params(alg));

        let mut rim = start;
        rim.data_create(0x5000, RmiDataMeasureContent::MeasureContent, &content);
        let digest = alg.hash(&[&content]);
        let desc = start.data_descriptor(0x5000, Some(&digest));
        let b = desc.as_bytes();
        assert_eq!(b[0x00], 0);
        assert_eq!(&b[0x08..0x10], &0x100u64.to_le_bytes());
        assert_eq!(&b[0x10..0x50], start.measurement().as_bytes());
        assert_eq!(&b[0x50..0x58], &0x5000u64.to_le_bytes());
        assert_eq!(&b[0x58..0x60], &1u64.to_le_bytes());
        assert_eq!(&b[0x60..0xA0], digest.as_bytes());
        assert_eq!(&b[0xA0..], &[0; 0x60]);
        assert_eq!(rim.measurement(), alg.hash(&[b]));

        let mut unmeasured = start;
        unmeasured.data_create(0x5000, RmiDataMeasureContent::NoMeasureContent, &content);
        let desc = start.data_descriptor(0x5000, None);
        assert_eq!(desc.flags, 0);
        assert_eq!(desc.content, [0; 64]);
        assert_eq!(unmeasured.measurement(), alg.hash(&[desc.as_bytes()]));
        assert_ne!(
            unmeasured, start,
            "an unmeasured granule still extends the RIM"
        );
    }

    /// Precomputed content hashes give the same RIM; a wrong algorithm is refused.
    #[test]
    fn data_create_hashed() {
        let content = [0x5A; GRANULE_SIZE];
        let mut a = Rim::new(&params(HashAlgorithm::Sha256));
        let mut b = a;
        a.data_create(0, RmiDataMeasureContent::MeasureContent, &content);
        let digest = content_hash(HashAlgorithm::Sha256, &content);
        b.data_create_hashed(0, Some(&digest)).unwrap();
        assert_eq!(a, b);
        let wrong = content_hash(HashAlgorithm::Sha512, &content);
        assert_eq!(
            b.data_create_hashed(0, Some(&wrong)),
            Err(RimError::AlgorithmMismatch {
                realm: HashAlgorithm::Sha256,
                given: HashAlgorithm::Sha512
            })
        );
        assert_eq!(a, b);
    }

    /// The whole-block path agrees with the buffered hasher (FIPS 180-4 padding), for the
    /// lengths the RIM uses and for lengths that are whole blocks of SHA-256 only.
    #[test]
    fn whole_block_hash_matches_general_hash() {
        let bytes: [u8; GRANULE_SIZE] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            for len in [0, 1, 64, 128, 0x100, 0x1C0, 0x1000] {
                assert_eq!(
                    hash(alg, &bytes[..len]),
                    hash_general(alg, &bytes[..len]),
                    "{alg} over {len} bytes"
                );
                assert_eq!(hash(alg, &bytes[..len]), alg.hash(&[&bytes[..len]]));
            }
        }
    }

    /// cca-abi.md §6.3: only RUNNABLE RECs are measured, over an image of flags, pc, gprs.
    #[test]
    fn rec_descriptor() {
        let alg = HashAlgorithm::Sha256;
        let start = Rim::new(&params(alg));
        let rec = MeasuredRecParams {
            flags: 1,
            pc: 0x8000_0000,
            gprs: [1, 2, 3, 4, 5, 6, 7, 8],
        };

        let mut rim = start;
        assert!(rim.rec_create_measured(&rec));
        let image = rec.image();
        let desc = start.rec_descriptor(&rec);
        assert_eq!(desc.desc_type, 1);
        assert_eq!(
            &desc.content[..32],
            alg.hash(&[image.as_bytes()]).as_bytes()
        );
        assert_eq!(desc.content[32..], [0; 32]);
        assert_eq!(rim.measurement(), alg.hash(&[desc.as_bytes()]));

        // mpidr and the aux list are not measured.
        let mut page = image.clone();
        page.mpidr = 0x101;
        page.num_aux = 16;
        page.aux = [0x7824_0000; 16];
        let mut again = start;
        assert!(again.rec_create(&page));
        assert_eq!(again, rim);

        let mut not_runnable = start;
        assert!(!not_runnable.rec_create_measured(&MeasuredRecParams { flags: 0, ..rec }));
        assert_eq!(not_runnable, start);
    }

    /// cca-abi.md §6.4 descriptor layout.
    #[test]
    fn ripas_descriptor() {
        let alg = HashAlgorithm::Sha256;
        let start = Rim::new(&params(alg));
        let desc = start.ripas_descriptor(0x20_0000, 0x40_0000);
        let b = desc.as_bytes();
        assert_eq!(b[0], 2);
        assert_eq!(&b[0x08..0x10], &0x100u64.to_le_bytes());
        assert_eq!(&b[0x50..0x58], &0x20_0000u64.to_le_bytes());
        assert_eq!(&b[0x58..0x60], &0x40_0000u64.to_le_bytes());
        assert_eq!(&b[0x60..], &[0; 0xA0]);
        let mut rim = start;
        rim.init_ripas_entry(0x20_0000, 0x40_0000);
        assert_eq!(rim.measurement(), alg.hash(&[b]));
    }
}
