//! What a realm is made of ([`RealmConfig`]), its validation, the measured parameters the
//! RIM depends on, and the builder's error type.

use alloc::vec::Vec;
use core::fmt;

use cca_abi::GRANULE_SIZE;
use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams};
use cca_abi::rmi::{Generation, Ipa, RecCreateFlags, RmiDataMeasureContent, RttLevel};

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
        }
    }
}

/// Why a realm could not be built, run or torn down.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
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
    /// The RMM does not speak RMI 1.0.
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
    /// Teardown could not destroy or undelegate `leaked` granules.
    Leaked {
        /// Granules still delegated.
        leaked: usize,
    },
}

impl From<Error> for BuildError {
    fn from(e: Error) -> Self {
        Self::Rmi(e)
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
            Self::Version(e) => write!(f, "RMI version: {e}"),
            Self::OutOfGranules => f.write_str("no granules left to delegate"),
            Self::Rmi(e) => write!(f, "RMI call failed: {e}"),
            Self::UnhandledExit { reason, esr } => {
                write!(f, "unhandled REC exit: reason {reason}, ESR {esr:#x}")
            }
            Self::Leaked { leaked } => write!(f, "teardown left {leaked} granules delegated"),
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
            (32..=48).contains(&self.ipa_width),
            "ipa_width must be 32 to 48",
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
        range(
            "s2sz (ipa_width)",
            self.ipa_width.into(),
            32,
            features.s2sz.into(),
        )?;
        range("num_bps", self.debug.0.into(), 1, features.num_bps.into())?;
        range("num_wps", self.debug.1.into(), 1, features.num_wps.into())?;
        range("the number of RECs", self.recs as u64, 1, features.max_recs)?;
        if !features.hash {
            return Err(BuildError::Config(
                "the RMM does not support this hash algorithm",
            ));
        }
        Ok(())
    }

    /// Level of the root RTT and how many are concatenated: one table at the level whose
    /// tables cover `ipa_width` bits (TF-RMM requires the count to match exactly).
    pub(super) fn root(&self) -> (i8, u64) {
        if self.ipa_width <= 39 {
            (1, 1 << self.ipa_width.saturating_sub(39))
        } else {
            (0, 1 << self.ipa_width.saturating_sub(48))
        }
    }

    pub(super) fn measured_params(&self) -> MeasuredRealmParams {
        MeasuredRealmParams {
            flags0: 0,
            s2sz: self.ipa_width,
            sve_vl: 0,
            num_bps: self.debug.0,
            num_wps: self.debug.1,
            pmu_num_ctrs: 0,
            hash_algo: self.hash,
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
            pc: self.ram_base,
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
        let range = RipasRange {
            base: Ipa::new(self.ram_base).ok_or(PredictError::AddressOverflow)?,
            top: self
                .ram_base
                .checked_add(self.ram_size)
                .and_then(Ipa::new)
                .ok_or(PredictError::AddressOverflow)?,
            level: RttLevel::new(3).expect("level 3"),
        };
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
                flags: RmiDataMeasureContent::MeasureContent,
                content,
            });
        }
        let recs: Vec<MeasuredRecParams> = (0..self.recs).map(|i| self.rec_params(i)).collect();
        rim::predict_for(
            generation,
            &RealmBuild {
                params: self.measured_params(),
                ripas: &[range],
                data: &data,
                recs: &recs,
            },
        )
    }
}
