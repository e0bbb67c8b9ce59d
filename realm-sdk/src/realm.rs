//! The [`Realm`] handle.

use cca_abi::AbiVersion;
use cca_abi::eventlog::{self, Event, LogError, LogWriter};
use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rsi::{
    self as abi, DevMemFlags, MAX_AUX_PLANES, MemPermValue, RPV_SIZE, RipasChangeDestroyed,
    RsiHostCall, RsiPlaneExitReason, RsiPlaneRun, RsiRealmConfig, RsiResponse, RsiVdevInfo,
    SysregEncoding,
};
use cca_abi::smccc::Conduit;

use crate::addr::{AuxPlaneIndex, Ipa, MeasurementIndex, PermIndex, PlaneIndex, RemIndex, VdevId};
use crate::attest::{self, Challenge, TokenError};
use crate::rsi::{
    self, BadReply, PermCookie, PermIndexChange, Ripas, RsiError, ValidatedMapping, VdevNonces,
};

/// Why [`Realm::measure`] failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum MeasureError {
    /// The event log could not take the event.
    Log(LogError),
    /// `RSI_MEASUREMENT_EXTEND` failed.
    Rsi(RsiError),
}

impl core::fmt::Display for MeasureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Log(e) => write!(f, "event log: {e}"),
            Self::Rsi(e) => write!(f, "RSI_MEASUREMENT_EXTEND: {e}"),
        }
    }
}

impl core::error::Error for MeasureError {}

/// A realm's view of itself: the negotiated RSI revision and its configuration, read once.
///
/// Every RSI call is available as a method; the free functions in [`crate::rsi`] are the same
/// calls without the handle. The RSI 1.1 methods (planes, memory permissions, devices) check
/// the negotiated revision first: on a realm that negotiated RSI 1.0 they return
/// [`RsiError::NotNegotiated`] without calling the RMM.
pub struct Realm<C: Conduit> {
    conduit: C,
    version: AbiVersion,
    num_aux_planes: u8,
    ipa_width: u8,
    hash_algorithm: HashAlgorithm,
    rpv: [u8; RPV_SIZE],
}

impl<C: Conduit> Realm<C> {
    /// Negotiates the RSI revision ([`rsi::negotiate_version`]) and reads the realm
    /// configuration with `RSI_REALM_CONFIG` into a granule on the stack.
    pub fn new(mut conduit: C) -> Result<Self, RsiError> {
        let version = rsi::negotiate_version(&mut conduit)?;
        let mut config = RsiRealmConfig::zeroed();
        rsi::realm_config(&mut conduit, &mut config)?;
        let ipa_width = match u8::try_from(config.ipa_width) {
            Ok(w @ 1..=64) => w,
            _ => return Err(BadReply::IpaWidth(config.ipa_width).into()),
        };
        let hash_algorithm = HashAlgorithm::from_encoding(config.hash_algo.into())
            .ok_or(BadReply::HashAlgorithm(config.hash_algo))?;
        // `num_aux_planes` is an RSI 1.1 field: an RSI 1.0 realm has plane 0 only.
        let num_aux_planes = match config.num_aux_planes {
            _ if version < AbiVersion::V1_1 => 0,
            #[allow(clippy::cast_possible_truncation, reason = "at most 3")]
            n @ 0..=MAX_AUX_PLANES => n as u8,
            n => return Err(BadReply::AuxPlanes(n).into()),
        };
        Ok(Self {
            conduit,
            version,
            num_aux_planes,
            ipa_width,
            hash_algorithm,
            rpv: config.rpv,
        })
    }

    /// The negotiated RSI revision.
    pub fn version(&self) -> AbiVersion {
        self.version
    }

    /// The number of auxiliary planes (RSI 1.1 `RsiRealmConfig.num_aux_planes`, 0 to 3); 0
    /// on RSI 1.0.
    pub fn num_aux_planes(&self) -> u8 {
        self.num_aux_planes
    }

    /// The realm's IPA width in bits.
    pub fn ipa_width(&self) -> u8 {
        self.ipa_width
    }

    /// The realm's hash algorithm (of the RIM and the REMs).
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }

    /// The Realm Personalization Value the host chose.
    pub fn personalization_value(&self) -> &[u8; RPV_SIZE] {
        &self.rpv
    }

    /// The top IPA bit: set, it selects the unprotected (shared with the host) alias of an
    /// address; clear, the protected one (DEN0137 A5.2.2).
    pub fn unprotected_bit(&self) -> u64 {
        1 << (self.ipa_width - 1)
    }

    /// The unprotected alias of `ipa`, through which the realm shares memory with the host.
    pub fn unprotected_alias(&self, ipa: Ipa) -> Ipa {
        Ipa(ipa.0 | self.unprotected_bit())
    }

    /// Returns whether `ipa` lies in the protected half of the IPA space.
    pub fn is_protected(&self, ipa: Ipa) -> bool {
        ipa.0 < self.unprotected_bit()
    }

    /// The conduit, for calls the handle does not wrap (PSCI, for example).
    pub fn conduit(&mut self) -> &mut C {
        &mut self.conduit
    }

    /// `RSI_FEATURES` register `index`.
    pub fn features(&mut self, index: u64) -> Result<u64, RsiError> {
        rsi::features(&mut self.conduit, index)
    }

    /// `RSI_MEASUREMENT_READ` of `index`, as a digest of the realm's algorithm.
    pub fn measurement_read(&mut self, index: MeasurementIndex) -> Result<Measurement, RsiError> {
        rsi::measurement_read(&mut self.conduit, index, self.hash_algorithm)
    }

    /// The Realm Initial Measurement.
    pub fn rim(&mut self) -> Result<Measurement, RsiError> {
        self.measurement_read(MeasurementIndex::RIM)
    }

    /// The four REMs, REM\[0\] to REM\[3\].
    pub fn rems(&mut self) -> Result<[Measurement; 4], RsiError> {
        let mut rems = [Measurement::zero(self.hash_algorithm); 4];
        for (rem, index) in rems.iter_mut().zip(RemIndex::ALL) {
            *rem = self.measurement_read(index.into())?;
        }
        Ok(rems)
    }

    /// Extends REM `index` with `data`.
    ///
    /// Data of up to 64 bytes is extended as it is: `REM = H(REM ‖ data)`. Longer data is
    /// first hashed with the realm's algorithm and its digest extended: `REM = H(REM ‖
    /// H(data))`. A verifier replaying an event log must follow the same convention.
    pub fn measurement_extend(&mut self, index: RemIndex, data: &[u8]) -> Result<(), RsiError> {
        let (value, len) = eventlog::extend_value(self.hash_algorithm, data);
        rsi::measurement_extend(&mut self.conduit, index, &value[..len])
    }

    /// Measures `data` into REM `index` and records it in `log` with `description`.
    ///
    /// The value measured follows the convention of [`Realm::measurement_extend`] (data over
    /// 64 bytes is hashed first) and the log records it; a non-empty `description` is bound
    /// into what the REM is extended with ([`cca_abi::eventlog::Event::extension`]), so that
    /// nobody can relabel the event. A verifier replays the log
    /// ([`cca_abi::eventlog::replay`]) and compares it with the REMs in a token.
    ///
    /// # Errors
    ///
    /// [`MeasureError::Log`] if the log is full (nothing is extended);
    /// [`MeasureError::Rsi`] if the RMM refuses (nothing is logged).
    pub fn measure(
        &mut self,
        log: &mut LogWriter<'_>,
        index: RemIndex,
        data: &[u8],
        description: &str,
    ) -> Result<(), MeasureError> {
        let (value, len) = eventlog::extend_value(self.hash_algorithm, data);
        let before = log.len();
        let event = Event {
            index: index.get(),
            algorithm: self.hash_algorithm,
            value: &value[..len],
            description,
        };
        log.push(&event).map_err(MeasureError::Log)?;
        let (extension, n) = event.extension();
        if let Err(e) = rsi::measurement_extend(&mut self.conduit, index, &extension[..n]) {
            log.truncate(before);
            return Err(MeasureError::Rsi(e));
        }
        Ok(())
    }

    /// Gets an attestation token for `challenge` into `buffer`; see
    /// [`attest::attestation_token`].
    pub fn attestation_token<'b>(
        &mut self,
        challenge: &Challenge,
        buffer: &'b mut [u8],
    ) -> Result<&'b [u8], TokenError> {
        attest::attestation_token(&mut self.conduit, challenge, buffer)
    }

    /// Gets an attestation token for raw challenge bytes; see (and heed the warning of)
    /// [`attest::attestation_token_with_raw_challenge`].
    pub fn attestation_token_with_raw_challenge<'b>(
        &mut self,
        challenge: &[u8],
        buffer: &'b mut [u8],
    ) -> Result<&'b [u8], TokenError> {
        attest::attestation_token_with_raw_challenge(&mut self.conduit, challenge, buffer)
    }

    /// Changes the RIPAS of `[base, top)` to `ripas`, calling `RSI_IPA_STATE_SET` until the
    /// host has changed the whole range.
    ///
    /// # Errors
    ///
    /// [`RsiError::HostRejected`] if the host rejects the request or stops making progress;
    /// the RMM's status or [`RsiError::BadArgument`] otherwise.
    pub fn set_ripas(
        &mut self,
        base: Ipa,
        top: Ipa,
        ripas: Ripas,
        destroyed: RipasChangeDestroyed,
    ) -> Result<(), RsiError> {
        // Under the runtime's identity map: write the lines of pages about to leave back to
        // PoC and unmap them; map them again once they are RAM (`rt::mmu`). After a failure
        // pages stay unmapped: some may be EMPTY already, and an access then faults cleanly.
        #[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
        let len = usize::try_from(top.0.saturating_sub(base.0)).unwrap_or(0);
        #[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
        if ripas == Ripas::Empty {
            crate::rt::mmu::before_ripas_empty(base, len);
        }
        let mut at = base;
        while at < top {
            let change = rsi::ipa_state_set(&mut self.conduit, at, top, ripas, destroyed)?;
            if change.response == RsiResponse::Reject || change.next <= at {
                return Err(RsiError::HostRejected { next: change.next });
            }
            at = change.next;
        }
        #[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
        if ripas == Ripas::Ram {
            crate::rt::mmu::after_ripas_ram(base, len);
        }
        Ok(())
    }

    /// `RSI_IPA_STATE_GET`: the RIPAS at `base` and where that run ends (capped at `end`).
    pub fn ripas(&mut self, base: Ipa, end: Ipa) -> Result<(Ripas, Ipa), RsiError> {
        rsi::ipa_state_get(&mut self.conduit, base, end)
    }

    /// `RSI_HOST_CALL` with `call`; the host's reply is in `call.gprs` afterwards.
    pub fn host_call(&mut self, call: &mut RsiHostCall) -> Result<(), RsiError> {
        rsi::host_call(&mut self.conduit, call)
    }

    /// Refuses `fid`, an RSI 1.1 command, unless the realm negotiated RSI 1.1 or later.
    fn rsi_1_1(&self, fid: u32) -> Result<(), RsiError> {
        if self.version >= AbiVersion::V1_1 {
            Ok(())
        } else {
            Err(RsiError::NotNegotiated {
                fid,
                negotiated: self.version,
            })
        }
    }

    /// `RSI_MEM_GET_PERM_VALUE` (RSI 1.1); see [`rsi::mem_get_perm_value`].
    pub fn mem_get_perm_value(
        &mut self,
        plane: PlaneIndex,
        index: PermIndex,
    ) -> Result<MemPermValue, RsiError> {
        self.rsi_1_1(abi::RSI_MEM_GET_PERM_VALUE)?;
        rsi::mem_get_perm_value(&mut self.conduit, plane, index)
    }

    /// `RSI_MEM_SET_PERM_INDEX` (RSI 1.1), one call; see [`rsi::mem_set_perm_index`].
    pub fn mem_set_perm_index(
        &mut self,
        base: Ipa,
        top: Ipa,
        index: PermIndex,
        cookie: PermCookie,
    ) -> Result<PermIndexChange, RsiError> {
        self.rsi_1_1(abi::RSI_MEM_SET_PERM_INDEX)?;
        rsi::mem_set_perm_index(&mut self.conduit, base, top, index, cookie)
    }

    /// `RSI_MEM_SET_PERM_VALUE` (RSI 1.1); see [`rsi::mem_set_perm_value`].
    pub fn mem_set_perm_value(
        &mut self,
        plane: AuxPlaneIndex,
        index: PermIndex,
        value: MemPermValue,
    ) -> Result<(), RsiError> {
        self.rsi_1_1(abi::RSI_MEM_SET_PERM_VALUE)?;
        rsi::mem_set_perm_value(&mut self.conduit, plane, index, value)
    }

    /// `RSI_PLANE_ENTER` (RSI 1.1); see [`rsi::plane_enter`].
    pub fn plane_enter(
        &mut self,
        plane: AuxPlaneIndex,
        run: &mut RsiPlaneRun,
    ) -> Result<RsiPlaneExitReason, RsiError> {
        self.rsi_1_1(abi::RSI_PLANE_ENTER)?;
        rsi::plane_enter(&mut self.conduit, plane, run)
    }

    /// `RSI_PLANE_SYSREG_READ` (RSI 1.1); see [`rsi::plane_sysreg_read`].
    pub fn plane_sysreg_read(
        &mut self,
        plane: AuxPlaneIndex,
        sysreg: SysregEncoding,
    ) -> Result<u128, RsiError> {
        self.rsi_1_1(abi::RSI_PLANE_SYSREG_READ)?;
        rsi::plane_sysreg_read(&mut self.conduit, plane, sysreg)
    }

    /// `RSI_PLANE_SYSREG_WRITE` (RSI 1.1); see [`rsi::plane_sysreg_write`].
    pub fn plane_sysreg_write(
        &mut self,
        plane: AuxPlaneIndex,
        sysreg: SysregEncoding,
        value: u128,
    ) -> Result<(), RsiError> {
        self.rsi_1_1(abi::RSI_PLANE_SYSREG_WRITE)?;
        rsi::plane_sysreg_write(&mut self.conduit, plane, sysreg, value)
    }

    /// `RSI_VDEV_GET_INFO` (RSI 1.1); see [`rsi::vdev_get_info`].
    pub fn vdev_get_info(&mut self, vdev: VdevId, info: &mut RsiVdevInfo) -> Result<(), RsiError> {
        self.rsi_1_1(abi::RSI_VDEV_GET_INFO)?;
        rsi::vdev_get_info(&mut self.conduit, vdev, info)
    }

    /// `RSI_VDEV_DMA_ENABLE` (RSI 1.1); see [`rsi::vdev_dma_enable`].
    pub fn vdev_dma_enable(
        &mut self,
        vdev: VdevId,
        non_ats_plane: PlaneIndex,
        nonces: &VdevNonces,
    ) -> Result<(), RsiError> {
        self.rsi_1_1(abi::RSI_VDEV_DMA_ENABLE)?;
        rsi::vdev_dma_enable(&mut self.conduit, vdev, non_ats_plane, nonces)
    }

    /// `RSI_VDEV_DMA_DISABLE` (RSI 1.1); see [`rsi::vdev_dma_disable`].
    pub fn vdev_dma_disable(&mut self, vdev: VdevId) -> Result<(), RsiError> {
        self.rsi_1_1(abi::RSI_VDEV_DMA_DISABLE)?;
        rsi::vdev_dma_disable(&mut self.conduit, vdev)
    }

    /// `RSI_VDEV_VALIDATE_MAPPING` (RSI 1.1), one call; see [`rsi::vdev_validate_mapping`].
    pub fn vdev_validate_mapping(
        &mut self,
        vdev: VdevId,
        base: Ipa,
        top: Ipa,
        pa_base: u64,
        flags: DevMemFlags,
        nonces: &VdevNonces,
    ) -> Result<ValidatedMapping, RsiError> {
        self.rsi_1_1(abi::RSI_VDEV_VALIDATE_MAPPING)?;
        rsi::vdev_validate_mapping(&mut self.conduit, vdev, base, top, pa_base, flags, nonces)
    }

    /// `RSI_VSMMU_GET_INFO` (RSI 1.1); see [`rsi::vsmmu_get_info`].
    pub fn vsmmu_get_info(&mut self) -> Result<(), RsiError> {
        self.rsi_1_1(abi::RSI_VSMMU_GET_INFO)?;
        rsi::vsmmu_get_info(&mut self.conduit)
    }

    /// `RSI_ARCH_DEV_ACTIVATE` (RSI 1.1); see [`rsi::arch_dev_activate`].
    pub fn arch_dev_activate(&mut self) -> Result<(), RsiError> {
        self.rsi_1_1(abi::RSI_ARCH_DEV_ACTIVATE)?;
        rsi::arch_dev_activate(&mut self.conduit)
    }
}
