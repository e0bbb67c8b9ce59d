//! The Realm Services Interface: every RSI 1.0 command (DEN0137 1.0-rel0 chapter B5) and
//! every RSI 1.1 command TF-RMM v0.9.0 defines (planes, memory permissions, device
//! assignment; cca-abi.md §2.3).
//!
//! Each function encodes its command with [`RsiCommand`], makes one call through the
//! [`Conduit`] and decodes the reply. The RMM's refusals come back as the [`RsiError`]
//! variant of their status; a reply that breaks the specification (an unknown RIPAS value, a
//! byte count larger than the buffer, ...) is [`RsiError::BadReply`], and an argument the
//! function can tell is wrong before calling is [`RsiError::BadArgument`].
//!
//! The functions here do not know which revision was negotiated: an RSI 1.1 function sends
//! its command whatever the RMM offers. [`Realm`](crate::Realm) has the same calls as
//! methods that refuse the RSI 1.1 ones with [`RsiError::NotNegotiated`], without calling,
//! when the realm negotiated RSI 1.0.

use core::fmt;

use cca_abi::measurement::{HashAlgorithm, MAX_MEASUREMENT_SIZE, Measurement};
use cca_abi::rsi::{
    CHALLENGE_SIZE, MAX_EXTEND_SIZE, RsiCommand, RsiStatus, VersionReply, fid_name,
};
use cca_abi::smccc::{Conduit, unpack_bytes};
use cca_abi::{AbiVersion, GRANULE_SIZE};

use crate::addr::{AuxPlaneIndex, Ipa, MeasurementIndex, PermIndex, PlaneIndex, RemIndex, VdevId};
pub use cca_abi::rsi::{
    DevMemFlags, MemPermValue, PlaneEnterFlags, Ripas, RipasChangeDestroyed, RsiHostCall,
    RsiPlaneExitReason, RsiPlaneRun, RsiRealmConfig, RsiResponse, RsiVdevInfo, RsiVdevReportFormat,
    RsiVdevState, SysregEncoding, VdevFlags,
};

/// Why an RSI call failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RsiError {
    /// `RSI_ERROR_INPUT`: the RMM found an argument invalid.
    ErrorInput,
    /// `RSI_ERROR_STATE`: the call is not valid in the current state.
    ErrorState,
    /// `RSI_INCOMPLETE` where the call cannot be incomplete.
    Incomplete,
    /// `RSI_ERROR_UNKNOWN`: the RMM failed internally.
    ErrorUnknown,
    /// `RSI_ERROR_DEVICE`: a device assignment error (RSI 1.1).
    ErrorDevice,
    /// `SMC_UNKNOWN`: the RMM does not implement the command.
    NotSupported,
    /// A status the specification does not define.
    Unknown(u64),
    /// The RMM implements no RSI revision this crate speaks (1.0 or 1.1).
    UnsupportedVersion {
        /// Lowest revision the RMM reported.
        lower: AbiVersion,
        /// Highest revision the RMM reported.
        higher: AbiVersion,
    },
    /// The reply broke the specification.
    BadReply(BadReply),
    /// An argument was refused before calling the RMM.
    BadArgument(BadArgument),
    /// The host rejected a RIPAS change, or stopped making progress, at `next`.
    HostRejected {
        /// First address the host did not change.
        next: Ipa,
    },
    /// An RSI 1.1 command on a realm that negotiated an earlier revision: refused before
    /// any call to the RMM.
    NotNegotiated {
        /// Function id of the command.
        fid: u32,
        /// The revision the realm negotiated.
        negotiated: AbiVersion,
    },
}

/// A reply that breaks the specification.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum BadReply {
    /// `RSI_VERSION` returned a revision with reserved bits set.
    Version(u64),
    /// `RSI_REALM_CONFIG` reported a hash algorithm the specification does not define.
    HashAlgorithm(u8),
    /// `RSI_REALM_CONFIG` reported an IPA width outside 1 to 64.
    IpaWidth(u64),
    /// A RIPAS value the specification does not define.
    Ripas(u64),
    /// A RIPAS change response the specification does not define.
    Response(u64),
    /// An address outside the range the call was about (IPA_STATE_GET/SET progress).
    Progress(u64),
    /// `RSI_ATTESTATION_TOKEN_CONTINUE` claimed more bytes than the buffer had room for.
    TokenLength(u64),
    /// `RSI_REALM_CONFIG` reported more auxiliary planes than RSI 1.1 allows (3).
    AuxPlanes(u64),
    /// `RSI_MEM_GET_PERM_VALUE` returned a value wider than a 4-bit permission value.
    PermValue(u64),
    /// `RSI_PLANE_ENTER` left an exit reason RSI 1.1 does not define.
    PlaneExitReason(u8),
    /// `RSI_PLANE_SYSREG_READ` returned upper bits for a 64-bit register access.
    SysregUpper(u64),
    /// `RSI_VDEV_GET_INFO` wrote a field value the specification does not define.
    VdevInfo {
        /// The field of `RsiVdevInfo`.
        field: &'static str,
        /// Its value.
        value: u64,
    },
}

/// An argument refused before calling the RMM.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum BadArgument {
    /// More than 64 bytes to extend a REM with.
    ExtendTooLong(usize),
    /// More than 64 bytes of challenge.
    ChallengeTooLong(usize),
    /// A range whose base is not below its top, or not granule aligned.
    Range,
    /// A token buffer chunk that crosses a granule boundary.
    CrossesGranule,
    /// A RIPAS a realm may not request (only EMPTY and RAM).
    Ripas(Ripas),
    /// A value wider than 64 bits for a 64-bit system register access.
    SysregValueTooWide,
    /// A device physical address that is not granule aligned.
    UnalignedPa(u64),
    /// Flag bits the specification does not define.
    UndefinedFlags(u64),
}

impl fmt::Display for BadReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version(v) => write!(f, "RSI_VERSION revision {v:#x} has reserved bits set"),
            Self::HashAlgorithm(a) => {
                write!(f, "RSI_REALM_CONFIG hash algorithm {a:#x} is not defined")
            }
            Self::IpaWidth(w) => write!(f, "RSI_REALM_CONFIG IPA width {w} is outside 1 to 64"),
            Self::Ripas(r) => write!(f, "RIPAS value {r:#x} is not defined"),
            Self::Response(r) => write!(f, "RIPAS change response {r:#x} is not defined"),
            Self::Progress(a) => write!(f, "progress address {a:#x} is outside the range asked"),
            Self::TokenLength(n) => write!(
                f,
                "RSI_ATTESTATION_TOKEN_CONTINUE claims {n} bytes, more than the buffer holds"
            ),
            Self::AuxPlanes(n) => write!(
                f,
                "RSI_REALM_CONFIG reports {n} auxiliary planes, more than the 3 RSI 1.1 allows"
            ),
            Self::PermValue(v) => write!(
                f,
                "RSI_MEM_GET_PERM_VALUE returned {v:#x}, which is not a 4-bit permission value"
            ),
            Self::PlaneExitReason(r) => {
                write!(
                    f,
                    "RSI_PLANE_ENTER left exit reason {r:#x}, which is not defined"
                )
            }
            Self::SysregUpper(v) => write!(
                f,
                "RSI_PLANE_SYSREG_READ returned upper bits {v:#x} for a 64-bit register"
            ),
            Self::VdevInfo { field, value } => write!(
                f,
                "RSI_VDEV_GET_INFO wrote {field} = {value:#x}, which is not defined"
            ),
        }
    }
}

impl fmt::Display for BadArgument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExtendTooLong(n) => write!(f, "{n} bytes to extend a REM with (at most 64)"),
            Self::ChallengeTooLong(n) => write!(f, "{n} bytes of challenge (at most 64)"),
            Self::Range => f.write_str("a range whose base is not below its top, or unaligned"),
            Self::CrossesGranule => f.write_str("a token buffer chunk that crosses a granule"),
            Self::Ripas(r) => write!(
                f,
                "RIPAS {} may not be requested (only EMPTY and RAM)",
                r.to_raw()
            ),
            Self::SysregValueTooWide => {
                f.write_str("a value wider than 64 bits for a 64-bit system register")
            }
            Self::UnalignedPa(pa) => {
                write!(f, "device physical address {pa:#x} is not granule aligned")
            }
            Self::UndefinedFlags(bits) => {
                write!(
                    f,
                    "flag bits {bits:#x} are not defined by the specification"
                )
            }
        }
    }
}

impl RsiError {
    /// The error for a status other than `RSI_SUCCESS`; `None` for success.
    #[must_use]
    pub const fn from_status(status: RsiStatus) -> Option<Self> {
        Some(match status {
            RsiStatus::Success => return None,
            RsiStatus::ErrorInput => Self::ErrorInput,
            RsiStatus::ErrorState => Self::ErrorState,
            RsiStatus::Incomplete => Self::Incomplete,
            RsiStatus::ErrorUnknown => Self::ErrorUnknown,
            RsiStatus::ErrorDevice => Self::ErrorDevice,
            RsiStatus::NotSupported => Self::NotSupported,
            RsiStatus::Unknown(v) => Self::Unknown(v),
        })
    }

    /// The RMM status behind this error; `None` for errors found locally.
    #[must_use]
    pub const fn status(&self) -> Option<RsiStatus> {
        Some(match *self {
            Self::ErrorInput => RsiStatus::ErrorInput,
            Self::ErrorState => RsiStatus::ErrorState,
            Self::Incomplete => RsiStatus::Incomplete,
            Self::ErrorUnknown => RsiStatus::ErrorUnknown,
            Self::ErrorDevice => RsiStatus::ErrorDevice,
            Self::NotSupported => RsiStatus::NotSupported,
            Self::Unknown(v) => RsiStatus::Unknown(v),
            Self::UnsupportedVersion { .. } => RsiStatus::ErrorInput,
            Self::BadReply(_)
            | Self::BadArgument(_)
            | Self::HostRejected { .. }
            | Self::NotNegotiated { .. } => return None,
        })
    }
}

impl From<BadReply> for RsiError {
    fn from(e: BadReply) -> Self {
        Self::BadReply(e)
    }
}

impl From<BadArgument> for RsiError {
    fn from(e: BadArgument) -> Self {
        Self::BadArgument(e)
    }
}

impl fmt::Display for RsiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorInput => f.write_str("the RMM refused an argument (RSI_ERROR_INPUT)"),
            Self::ErrorState => {
                f.write_str("the RMM refused the call in this state (RSI_ERROR_STATE)")
            }
            Self::Incomplete => f.write_str("the RMM reported RSI_INCOMPLETE unexpectedly"),
            Self::ErrorUnknown => f.write_str("the RMM failed internally (RSI_ERROR_UNKNOWN)"),
            Self::ErrorDevice => f.write_str("device assignment error (RSI_ERROR_DEVICE)"),
            Self::NotSupported => f.write_str("the RMM does not implement this call (SMC_UNKNOWN)"),
            Self::Unknown(v) => write!(f, "the RMM returned an undefined status {v:#x}"),
            Self::UnsupportedVersion { lower, higher } => write!(
                f,
                "the RMM offers RSI {lower} to {higher}; this SDK speaks RSI 1.0 and 1.1"
            ),
            Self::BadReply(r) => write!(f, "malformed reply from the RMM: {r}"),
            Self::BadArgument(a) => write!(f, "invalid argument: {a}"),
            Self::HostRejected { next } => {
                write!(f, "the host rejected the RIPAS change at {next}")
            }
            Self::NotNegotiated { fid, negotiated } => match fid_name(*fid) {
                Some(name) => write!(
                    f,
                    "{name} needs RSI 1.1, but RSI {negotiated} was negotiated; nothing was sent"
                ),
                None => write!(
                    f,
                    "RSI function {fid:#x} needs RSI 1.1, but RSI {negotiated} was negotiated; \
                     nothing was sent"
                ),
            },
        }
    }
}

impl core::error::Error for RsiError {}

fn check(status: u64) -> Result<(), RsiError> {
    RsiError::from_status(RsiStatus::from_raw(status)).map_or(Ok(()), Err)
}

/// The revisions this crate speaks, best first.
pub const SUPPORTED_VERSIONS: [AbiVersion; 2] = [AbiVersion::V1_1, AbiVersion::V1_0];

/// `RSI_VERSION`: asks for `requested` and returns the raw reply (status, lower, higher).
///
/// Use [`negotiate_version`] to pick a revision; this is the single call.
pub fn version(conduit: &mut (impl Conduit + ?Sized), requested: AbiVersion) -> VersionReply {
    let r = conduit.call(
        RsiCommand::Version {
            requested: requested.encode(),
        }
        .to_regs(),
    );
    VersionReply::from_regs(&r)
}

/// Negotiates the RSI revision: the best of [`SUPPORTED_VERSIONS`] the RMM implements.
///
/// DEN0137 B5.3.10: the RMM answers SUCCESS for a revision it implements; otherwise
/// `RSI_ERROR_INPUT` with the revisions it does implement in `x1`/`x2`. A 1.0 RMM
/// (TF-RMM v0.8.0) refuses 1.1 and accepts 1.0; a 1.1 RMM accepts 1.1 at once. An RMM whose
/// revisions share nothing with ours gives [`RsiError::UnsupportedVersion`].
pub fn negotiate_version(conduit: &mut (impl Conduit + ?Sized)) -> Result<AbiVersion, RsiError> {
    let mut last = None;
    for wanted in SUPPORTED_VERSIONS {
        let reply = version(conduit, wanted);
        let (lower, higher) = reply.versions().ok_or(BadReply::Version(
            if AbiVersion::decode(reply.lower).is_none() {
                reply.lower
            } else {
                reply.higher
            },
        ))?;
        match reply.status {
            RsiStatus::Success => return Ok(wanted),
            RsiStatus::ErrorInput => last = Some((lower, higher)),
            other => return Err(RsiError::from_status(other).unwrap_or(RsiError::Unknown(0))),
        }
    }
    let (lower, higher) = last.unwrap_or((AbiVersion::new(0, 0), AbiVersion::new(0, 0)));
    Err(RsiError::UnsupportedVersion { lower, higher })
}

/// `RSI_FEATURES`: reads feature register `index` (`RsiFeatureRegister0` for index 0).
pub fn features(conduit: &mut (impl Conduit + ?Sized), index: u64) -> Result<u64, RsiError> {
    let r = conduit.call(RsiCommand::Features { index }.to_regs());
    check(r[0])?;
    Ok(r[1])
}

/// `RSI_MEASUREMENT_READ`: the raw 64-byte measurement slot of `index` (`x1..x8`).
pub fn measurement_read_slot(
    conduit: &mut (impl Conduit + ?Sized),
    index: MeasurementIndex,
) -> Result<[u8; MAX_MEASUREMENT_SIZE], RsiError> {
    raw::measurement_read(conduit, u64::from(index.get()))
}

/// `RSI_MEASUREMENT_READ`: the measurement `index` as a digest of `algorithm`.
pub fn measurement_read(
    conduit: &mut (impl Conduit + ?Sized),
    index: MeasurementIndex,
    algorithm: HashAlgorithm,
) -> Result<Measurement, RsiError> {
    Ok(Measurement::from_slot(
        algorithm,
        measurement_read_slot(conduit, index)?,
    ))
}

/// `RSI_MEASUREMENT_EXTEND`: extends REM `index` with `data` (at most 64 bytes).
///
/// The RMM computes `REM = H(REM ‖ data)`. Longer data must be hashed first; see
/// [`crate::Realm::measurement_extend`].
pub fn measurement_extend(
    conduit: &mut (impl Conduit + ?Sized),
    index: RemIndex,
    data: &[u8],
) -> Result<(), RsiError> {
    if data.len() > MAX_EXTEND_SIZE {
        return Err(BadArgument::ExtendTooLong(data.len()).into());
    }
    let mut value = [0; MAX_EXTEND_SIZE];
    value[..data.len()].copy_from_slice(data);
    raw::measurement_extend(conduit, u64::from(index.get()), data.len() as u64, &value)
}

/// `RSI_ATTESTATION_TOKEN_INIT`: starts a token for `challenge` and returns the RMM's upper
/// bound on the token size in bytes.
///
/// A challenge shorter than 64 bytes is zero-padded, as Linux's CCA guest driver does.
pub fn attestation_token_init(
    conduit: &mut (impl Conduit + ?Sized),
    challenge: &[u8],
) -> Result<u64, RsiError> {
    if challenge.len() > CHALLENGE_SIZE {
        return Err(BadArgument::ChallengeTooLong(challenge.len()).into());
    }
    let mut c = [0; CHALLENGE_SIZE];
    c[..challenge.len()].copy_from_slice(challenge);
    let r = conduit.call(RsiCommand::AttestationTokenInit { challenge: c }.to_regs());
    check(r[0])?;
    Ok(r[1])
}

/// Progress of `RSI_ATTESTATION_TOKEN_CONTINUE`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TokenProgress {
    /// `RSI_INCOMPLETE`: `written` bytes were copied and more remain (or signing is still
    /// under way, with 0 bytes written); call again.
    Incomplete {
        /// Bytes copied by this call.
        written: usize,
    },
    /// `RSI_SUCCESS`: the last `written` bytes were copied; the token is complete.
    Done {
        /// Bytes copied by this call.
        written: usize,
    },
}

/// `RSI_ATTESTATION_TOKEN_CONTINUE` into `chunk`, which must lie within one granule.
///
/// The RMM writes at most `chunk.len()` bytes at the start of `chunk`. `chunk` may start
/// anywhere in the granule: its granule is passed as `x1` and its offset as `x2`.
pub fn attestation_token_continue(
    conduit: &mut (impl Conduit + ?Sized),
    chunk: &mut [u8],
) -> Result<TokenProgress, RsiError> {
    let ipa = Ipa::of_mut(chunk).0;
    let offset = ipa & (GRANULE_SIZE as u64 - 1);
    if offset + chunk.len() as u64 > GRANULE_SIZE as u64 {
        return Err(BadArgument::CrossesGranule.into());
    }
    // SAFETY: `chunk` is an exclusively borrowed buffer of `chunk.len()` bytes at this IPA
    // (identity mapping, see the crate docs), so the RMM may write `size` bytes there.
    #[allow(unsafe_code, reason = "the RMM writes the chunk")]
    unsafe {
        raw::attestation_token_continue(conduit, Ipa(ipa - offset), offset, chunk.len() as u64)
    }
}

/// `RSI_REALM_CONFIG`: has the RMM write the realm configuration into `config`.
pub fn realm_config(
    conduit: &mut (impl Conduit + ?Sized),
    config: &mut RsiRealmConfig,
) -> Result<(), RsiError> {
    // SAFETY: `config` is an exclusively borrowed, granule-aligned granule at this IPA.
    #[allow(unsafe_code, reason = "the RMM writes the granule")]
    unsafe {
        raw::realm_config(conduit, Ipa::of_mut(config))
    }
}

/// Result of one `RSI_IPA_STATE_SET` call.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RipasChange {
    /// First address the change did not reach: the top of the range if the host changed all
    /// of it.
    pub next: Ipa,
    /// Whether the host accepted or rejected the request.
    pub response: RsiResponse,
}

/// `RSI_IPA_STATE_SET`: asks the host to change the RIPAS of `[base, top)` to `ripas`.
///
/// The host may change only part of the range: [`RipasChange::next`] says where it stopped.
/// Only `EMPTY` and `RAM` may be requested. Making memory `EMPTY` discards its content, so
/// the range must not hold live Rust objects; that is why this takes addresses and is safe
/// only to *request*: the caller owns what lives there.
///
/// # Errors
///
/// [`BadArgument::Range`] for an unaligned or empty range, [`BadArgument::Ripas`] for a
/// RIPAS other than `EMPTY` or `RAM`, the RMM's status otherwise.
pub fn ipa_state_set(
    conduit: &mut (impl Conduit + ?Sized),
    base: Ipa,
    top: Ipa,
    ripas: Ripas,
    destroyed: RipasChangeDestroyed,
) -> Result<RipasChange, RsiError> {
    if !matches!(ripas, Ripas::Empty | Ripas::Ram) {
        return Err(BadArgument::Ripas(ripas).into());
    }
    if !(base.is_granule_aligned() && top.is_granule_aligned() && base < top) {
        return Err(BadArgument::Range.into());
    }
    raw::ipa_state_set(conduit, base, top, ripas.to_raw(), destroyed.to_raw())
}

/// `RSI_IPA_STATE_GET`: the RIPAS at `base` and where the run of that RIPAS ends (capped at
/// `end`).
pub fn ipa_state_get(
    conduit: &mut (impl Conduit + ?Sized),
    base: Ipa,
    end: Ipa,
) -> Result<(Ripas, Ipa), RsiError> {
    let r = conduit.call(
        RsiCommand::IpaStateGet {
            base: base.0,
            end: end.0,
        }
        .to_regs(),
    );
    check(r[0])?;
    if r[1] <= base.0 || r[1] > end.0 {
        return Err(BadReply::Progress(r[1]).into());
    }
    let ripas = Ripas::from_raw(r[2]).ok_or(BadReply::Ripas(r[2]))?;
    Ok((ripas, Ipa(r[1])))
}

/// `RSI_HOST_CALL`: exits to the host with `call`; on return `call.gprs` hold the host's reply.
pub fn host_call(
    conduit: &mut (impl Conduit + ?Sized),
    call: &mut RsiHostCall,
) -> Result<(), RsiError> {
    // SAFETY: `call` is an exclusively borrowed, 256-byte aligned `RsiHostCall` at this IPA.
    #[allow(unsafe_code, reason = "the RMM reads and writes the structure")]
    unsafe {
        raw::host_call(conduit, Ipa::of_mut(call))
    }
}

// ---- RSI 1.1 (TF-RMM v0.9.0; cca-abi.md §2.3) ----

/// `RSI_MEM_GET_PERM_VALUE`: the permission value `plane` gives memory with permission index
/// `index`.
///
/// TF-RMM v0.9.0 (`runtime/rsi/memory.c`) answers `RSI_ERROR_INPUT` for a plane the realm
/// does not have. A realm starts with `RW_upX` for every index of plane 0
/// (`runtime/rmi/realm.c`), which is what a single-plane realm always reads.
///
/// # Errors
///
/// The RMM's status; [`BadReply::PermValue`] if the value is not a 4-bit permission value.
pub fn mem_get_perm_value(
    conduit: &mut (impl Conduit + ?Sized),
    plane: PlaneIndex,
    index: PermIndex,
) -> Result<MemPermValue, RsiError> {
    let r = conduit.call(
        RsiCommand::MemGetPermValue {
            plane: plane.get().into(),
            index: index.get().into(),
        }
        .to_regs(),
    );
    check(r[0])?;
    MemPermValue::from_raw(r[1]).ok_or(BadReply::PermValue(r[1]).into())
}

/// The state `RSI_MEM_SET_PERM_INDEX` hands from one call to the next: [`PermCookie::START`]
/// for the first call of a change, then the one the previous call returned. Realms whose
/// planes have separate stage-2 trees need it to walk every tree; for the others it stays
/// zero. It is the RMM's value and is passed back unchanged.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct PermCookie(u64);

impl PermCookie {
    /// The cookie of a change's first call (0).
    pub const START: Self = Self(0);

    /// Wraps a raw cookie.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw cookie (`x4`).
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        self.0
    }
}

/// Result of one `RSI_MEM_SET_PERM_INDEX` call.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct PermIndexChange {
    /// Where the next call starts: the top of the range once it is done.
    pub next: Ipa,
    /// Whether the host accepted or rejected the request.
    pub response: RsiResponse,
    /// The cookie for the next call; [`PermCookie::START`] when nothing is left.
    pub cookie: PermCookie,
}

/// `RSI_MEM_SET_PERM_INDEX`: asks the host to give `[base, top)` permission index `index`.
///
/// The REC exits to the host (`RMI_EXIT_S2AP_CHANGE`), which changes all or part of the
/// range; [`PermIndexChange::next`] says where it stopped. TF-RMM v0.9.0
/// (`runtime/rsi/memory.c`) refuses with `RSI_ERROR_INPUT`, without an exit, a range outside
/// the protected half and a non-zero `cookie` on a realm whose planes share one stage-2 tree
/// (every realm with no auxiliary plane). An accepted change makes `index`'s values
/// permanent (`runtime/rmi/run.c`).
///
/// Plane 0 keeps `RW_upX` for every index, so this changes only what auxiliary planes may do
/// with the range: moving memory that holds live Rust objects to an index an auxiliary plane
/// may write lets that plane change them while it runs ([`plane_enter`]). Like
/// [`ipa_state_set`], it takes addresses: the caller owns what lives there.
///
/// # Errors
///
/// [`BadArgument::Range`] for an unaligned or empty range; the RMM's status;
/// [`BadReply::Progress`] if `next` is outside `[base, top]`, [`BadReply::Response`] for an
/// undefined response.
pub fn mem_set_perm_index(
    conduit: &mut (impl Conduit + ?Sized),
    base: Ipa,
    top: Ipa,
    index: PermIndex,
    cookie: PermCookie,
) -> Result<PermIndexChange, RsiError> {
    if !(base.is_granule_aligned() && top.is_granule_aligned() && base < top) {
        return Err(BadArgument::Range.into());
    }
    let r = conduit.call(
        RsiCommand::MemSetPermIndex {
            base: base.0,
            top: top.0,
            index: index.get().into(),
            cookie: cookie.0,
        }
        .to_regs(),
    );
    check(r[0])?;
    if r[1] < base.0 || r[1] > top.0 {
        return Err(BadReply::Progress(r[1]).into());
    }
    let response = RsiResponse::from_raw(r[2]).ok_or(BadReply::Response(r[2]))?;
    Ok(PermIndexChange {
        next: Ipa(r[1]),
        response,
        cookie: PermCookie(r[3]),
    })
}

/// `RSI_MEM_SET_PERM_VALUE`: makes auxiliary plane `plane` give `value` to memory with
/// permission index `index`.
///
/// TF-RMM v0.9.0 (`runtime/rsi/memory.c`) answers `RSI_ERROR_INPUT` for a plane the realm
/// does not have, and for an index whose values are permanent (index 0, and any index a
/// change accepted by the host used).
///
/// # Errors
///
/// The RMM's status.
pub fn mem_set_perm_value(
    conduit: &mut (impl Conduit + ?Sized),
    plane: AuxPlaneIndex,
    index: PermIndex,
    value: MemPermValue,
) -> Result<(), RsiError> {
    let r = conduit.call(
        RsiCommand::MemSetPermValue {
            plane: plane.get().into(),
            index: index.get().into(),
            value: value.to_raw(),
        }
        .to_regs(),
    );
    check(r[0])
}

/// `RSI_PLANE_ENTER`: runs auxiliary plane `plane` from `run.enter` until it exits back to
/// plane 0, and returns why; the rest of the exit state is in `run.exit`.
///
/// TF-RMM v0.9.0 (`runtime/rsi/planes.c`) answers `RSI_ERROR_INPUT`, without running
/// anything, for a plane the realm does not have, an AArch32 `pstate`, and invalid GIC list
/// registers. While plane N runs it can access what its permission values allow (see
/// [`mem_set_perm_index`]).
///
/// # Errors
///
/// The RMM's status; [`BadReply::PlaneExitReason`] for an undefined exit reason.
pub fn plane_enter(
    conduit: &mut (impl Conduit + ?Sized),
    plane: AuxPlaneIndex,
    run: &mut RsiPlaneRun,
) -> Result<RsiPlaneExitReason, RsiError> {
    // SAFETY: `run` is an exclusively borrowed, granule-aligned `RsiPlaneRun` at this IPA;
    // the RMM reads its entry half and writes its exit half during the call.
    #[allow(unsafe_code, reason = "the RMM reads and writes the run granule")]
    unsafe {
        raw::plane_enter(conduit, plane.get().into(), Ipa::of_mut(run))?;
    }
    RsiPlaneExitReason::from_raw(run.exit.reason.into())
        .ok_or(BadReply::PlaneExitReason(run.exit.reason).into())
}

/// `RSI_PLANE_SYSREG_READ`: reads system register `sysreg` of auxiliary plane `plane`. A
/// 64-bit access returns the value in the low half.
///
/// TF-RMM v0.9.0 (`runtime/rsi/planes.c`) answers `RSI_ERROR_INPUT` for a plane the realm
/// does not have and for a register it does not let plane 0 reach (see [`SysregEncoding`]).
///
/// # Errors
///
/// The RMM's status; [`BadReply::SysregUpper`] if a 64-bit read returns upper bits.
pub fn plane_sysreg_read(
    conduit: &mut (impl Conduit + ?Sized),
    plane: AuxPlaneIndex,
    sysreg: SysregEncoding,
) -> Result<u128, RsiError> {
    let r = conduit.call(
        RsiCommand::PlaneSysregRead {
            plane: plane.get().into(),
            sysreg: sysreg.to_raw(),
        }
        .to_regs(),
    );
    check(r[0])?;
    if !sysreg.is_128bit() && r[2] != 0 {
        return Err(BadReply::SysregUpper(r[2]).into());
    }
    Ok(u128::from(r[2]) << 64 | u128::from(r[1]))
}

/// `RSI_PLANE_SYSREG_WRITE`: writes `value` to system register `sysreg` of auxiliary plane
/// `plane`. Only a 128-bit access ([`SysregEncoding::as_128bit`]) takes more than 64 bits.
///
/// # Errors
///
/// [`BadArgument::SysregValueTooWide`]; the RMM's status, as for [`plane_sysreg_read`].
pub fn plane_sysreg_write(
    conduit: &mut (impl Conduit + ?Sized),
    plane: AuxPlaneIndex,
    sysreg: SysregEncoding,
    value: u128,
) -> Result<(), RsiError> {
    #[allow(clippy::cast_possible_truncation, reason = "the high half")]
    let hi = (value >> 64) as u64;
    if !sysreg.is_128bit() && hi != 0 {
        return Err(BadArgument::SysregValueTooWide.into());
    }
    #[allow(clippy::cast_possible_truncation, reason = "the low half")]
    let lo = value as u64;
    let r = conduit.call(
        RsiCommand::PlaneSysregWrite {
            plane: plane.get().into(),
            sysreg: sysreg.to_raw(),
            value: lo,
            value_hi: hi,
        }
        .to_regs(),
    );
    check(r[0])
}

/// The three nonces of an assigned device the realm checked in its [`RsiVdevInfo`], which
/// `RSI_VDEV_DMA_ENABLE` and `RSI_VDEV_VALIDATE_MAPPING` repeat so that the RMM can refuse
/// (`RSI_ERROR_DEVICE`) if the device changed since.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct VdevNonces {
    /// Nonce of the last transition to `LOCKED`.
    pub lock: u64,
    /// Nonce of the last `GET_MEASUREMENT` request.
    pub meas: u64,
    /// Nonce of the last `GET_INTERFACE_REPORT` request.
    pub report: u64,
}

impl From<&RsiVdevInfo> for VdevNonces {
    fn from(info: &RsiVdevInfo) -> Self {
        Self {
            lock: info.lock_nonce,
            meas: info.meas_nonce,
            report: info.report_nonce,
        }
    }
}

/// `RSI_VDEV_GET_INFO`: has the RMM write what it knows about device `vdev` into `info`.
///
/// TF-RMM v0.9.0 (`runtime/rsi/vdev.c`) answers `RSI_ERROR_STATE` on a realm created without
/// device assignment, before looking at any argument; otherwise the REC exits to the host
/// (`RMI_EXIT_VDEV_REQUEST`) to find the device.
///
/// # Errors
///
/// The RMM's status; [`BadReply::VdevInfo`] if the state, hash algorithm or report format
/// written is not defined.
pub fn vdev_get_info(
    conduit: &mut (impl Conduit + ?Sized),
    vdev: VdevId,
    info: &mut RsiVdevInfo,
) -> Result<(), RsiError> {
    // SAFETY: `info` is an exclusively borrowed, 512-byte aligned `RsiVdevInfo` at this IPA,
    // which the RMM writes during the call.
    #[allow(unsafe_code, reason = "the RMM writes the structure")]
    unsafe {
        raw::vdev_get_info(conduit, vdev, Ipa::of_mut(info))?;
    }
    let bad = |field, value: u8| {
        Err(BadReply::VdevInfo {
            field,
            value: value.into(),
        }
        .into())
    };
    if RsiVdevState::from_raw(info.state.into()).is_none() {
        return bad("state", info.state);
    }
    // RsiHashAlgorithm: SHA-256 (0), SHA-512 (1), SHA-384 (2) (TF-RMM v0.9.0 `smc-rsi.h`).
    if info.hash_algo > 2 {
        return bad("hash_algo", info.hash_algo);
    }
    if RsiVdevReportFormat::from_raw(info.format_type.into()).is_none() {
        return bad("format_type", info.format_type);
    }
    Ok(())
}

/// `RSI_VDEV_DMA_ENABLE`: lets device `vdev` access memory, with `non_ats_plane`'s stage-2
/// permissions for requests without ATS, provided the device still has the `nonces` the
/// realm checked.
///
/// `x2` (flags) is sent as zero: TF-RMM v0.9.0 defines no flag and does not read it. On a
/// realm created without device assignment TF-RMM answers `RSI_ERROR_STATE` before looking at
/// any argument (`runtime/rsi/vdev.c`).
///
/// # Errors
///
/// The RMM's status.
pub fn vdev_dma_enable(
    conduit: &mut (impl Conduit + ?Sized),
    vdev: VdevId,
    non_ats_plane: PlaneIndex,
    nonces: &VdevNonces,
) -> Result<(), RsiError> {
    let r = conduit.call(
        RsiCommand::VdevDmaEnable {
            vdev_id: vdev.0,
            flags: 0,
            non_ats_plane: non_ats_plane.get().into(),
            lock_nonce: nonces.lock,
            meas_nonce: nonces.meas,
            report_nonce: nonces.report,
        }
        .to_regs(),
    );
    check(r[0])
}

/// `RSI_VDEV_DMA_DISABLE`: stops device `vdev` from accessing memory.
///
/// # Errors
///
/// The RMM's status (`RSI_ERROR_STATE` without device assignment, as for
/// [`vdev_dma_enable`]).
pub fn vdev_dma_disable(
    conduit: &mut (impl Conduit + ?Sized),
    vdev: VdevId,
) -> Result<(), RsiError> {
    check(conduit.call(RsiCommand::VdevDmaDisable { vdev_id: vdev.0 }.to_regs())[0])
}

/// Result of one `RSI_VDEV_VALIDATE_MAPPING` call.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ValidatedMapping {
    /// First address not validated: the top of the range if the host mapped all of it.
    pub next: Ipa,
    /// Whether the host accepted or rejected the request.
    pub response: RsiResponse,
}

/// `RSI_VDEV_VALIDATE_MAPPING`: accepts the host's mapping of `[base, top)` to device `vdev`'s
/// memory at `pa_base`, provided the device still has the `nonces` the realm checked.
///
/// TF-RMM v0.9.0 (`runtime/rsi/vdev.c`) answers `RSI_ERROR_STATE` on a realm without device
/// assignment, before looking at the other arguments; otherwise it checks the range and
/// exits to the host (`RMI_EXIT_DEV_MEM_MAP`).
///
/// # Errors
///
/// [`BadArgument::Range`], [`BadArgument::UnalignedPa`], [`BadArgument::UndefinedFlags`];
/// the RMM's status; [`BadReply::Progress`] or [`BadReply::Response`] for a malformed reply.
pub fn vdev_validate_mapping(
    conduit: &mut (impl Conduit + ?Sized),
    vdev: VdevId,
    base: Ipa,
    top: Ipa,
    pa_base: u64,
    flags: DevMemFlags,
    nonces: &VdevNonces,
) -> Result<ValidatedMapping, RsiError> {
    if !(base.is_granule_aligned() && top.is_granule_aligned() && base < top) {
        return Err(BadArgument::Range.into());
    }
    if !cca_abi::is_granule_aligned(pa_base) {
        return Err(BadArgument::UnalignedPa(pa_base).into());
    }
    if flags.undefined_bits() != 0 {
        return Err(BadArgument::UndefinedFlags(flags.undefined_bits()).into());
    }
    let r = conduit.call(
        RsiCommand::VdevValidateMapping {
            vdev_id: vdev.0,
            ipa_base: base.0,
            ipa_top: top.0,
            pa_base,
            flags: flags.to_raw(),
            lock_nonce: nonces.lock,
            meas_nonce: nonces.meas,
            report_nonce: nonces.report,
        }
        .to_regs(),
    );
    check(r[0])?;
    if r[1] < base.0 || r[1] > top.0 {
        return Err(BadReply::Progress(r[1]).into());
    }
    let response = RsiResponse::from_raw(r[2]).ok_or(BadReply::Response(r[2]))?;
    Ok(ValidatedMapping {
        next: Ipa(r[1]),
        response,
    })
}

/// `RSI_VSMMU_GET_INFO`: TF-RMM v0.9.0 defines the function id but neither its registers nor
/// a handler (`runtime/core/exit.c`), so it answers `SMC_UNKNOWN`. This sends no argument
/// and reads nothing back but the status: it tells whether an RMM implements the call.
///
/// # Errors
///
/// The RMM's status ([`RsiError::NotSupported`] on TF-RMM v0.9.0).
pub fn vsmmu_get_info(conduit: &mut (impl Conduit + ?Sized)) -> Result<(), RsiError> {
    check(conduit.call(RsiCommand::VsmmuGetInfo.to_regs())[0])
}

/// `RSI_ARCH_DEV_ACTIVATE`: as for [`vsmmu_get_info`], a function id TF-RMM v0.9.0 defines
/// without registers or a handler; this tells whether an RMM implements it.
///
/// # Errors
///
/// The RMM's status ([`RsiError::NotSupported`] on TF-RMM v0.9.0).
pub fn arch_dev_activate(conduit: &mut (impl Conduit + ?Sized)) -> Result<(), RsiError> {
    check(conduit.call(RsiCommand::ArchDevActivate.to_regs())[0])
}

/// RSI calls that take IPAs, for kernels whose virtual addresses are not IPAs, and for tests
/// of the RMM's own checks. They check nothing themselves.
#[allow(unsafe_code, reason = "the RMM accesses memory at caller-given IPAs")]
pub mod raw {
    use super::*;

    /// `RSI_MEASUREMENT_READ` with a raw index (0 to 4 are valid).
    pub fn measurement_read(
        conduit: &mut (impl Conduit + ?Sized),
        index: u64,
    ) -> Result<[u8; MAX_MEASUREMENT_SIZE], RsiError> {
        let r = conduit.call(RsiCommand::MeasurementRead { index }.to_regs());
        check(r[0])?;
        let mut slot = [0; MAX_MEASUREMENT_SIZE];
        unpack_bytes(&r[1..9], &mut slot);
        Ok(slot)
    }

    /// `RSI_MEASUREMENT_EXTEND` with a raw index and size.
    pub fn measurement_extend(
        conduit: &mut (impl Conduit + ?Sized),
        index: u64,
        size: u64,
        value: &[u8; MAX_EXTEND_SIZE],
    ) -> Result<(), RsiError> {
        let r = conduit.call(
            RsiCommand::MeasurementExtend {
                index,
                size,
                value: *value,
            }
            .to_regs(),
        );
        check(r[0])
    }

    /// `RSI_ATTESTATION_TOKEN_CONTINUE` at a granule IPA, offset and size.
    ///
    /// # Safety
    ///
    /// The RMM may write `size` bytes at `granule + offset`; that memory must be protected
    /// realm memory the caller owns and no Rust reference may be live on it.
    pub unsafe fn attestation_token_continue(
        conduit: &mut (impl Conduit + ?Sized),
        granule: Ipa,
        offset: u64,
        size: u64,
    ) -> Result<TokenProgress, RsiError> {
        let r = conduit.call(
            RsiCommand::AttestationTokenContinue {
                granule: granule.0,
                offset,
                size,
            }
            .to_regs(),
        );
        let status = RsiStatus::from_raw(r[0]);
        if !matches!(status, RsiStatus::Success | RsiStatus::Incomplete) {
            check(r[0])?;
        }
        if r[1] > size {
            return Err(BadReply::TokenLength(r[1]).into());
        }
        #[allow(
            clippy::cast_possible_truncation,
            reason = "bounded by size, a buffer length"
        )]
        let written = r[1] as usize;
        Ok(if status == RsiStatus::Success {
            TokenProgress::Done { written }
        } else {
            TokenProgress::Incomplete { written }
        })
    }

    /// `RSI_REALM_CONFIG` at an IPA.
    ///
    /// # Safety
    ///
    /// The RMM writes the 4 KiB granule at `ipa`; it must be protected realm memory the
    /// caller owns with no live Rust reference on it.
    pub unsafe fn realm_config(
        conduit: &mut (impl Conduit + ?Sized),
        ipa: Ipa,
    ) -> Result<(), RsiError> {
        check(conduit.call(RsiCommand::RealmConfig { ipa: ipa.0 }.to_regs())[0])
    }

    /// `RSI_IPA_STATE_SET` with raw RIPAS and flags.
    pub fn ipa_state_set(
        conduit: &mut (impl Conduit + ?Sized),
        base: Ipa,
        top: Ipa,
        ripas: u64,
        flags: u64,
    ) -> Result<RipasChange, RsiError> {
        let r = conduit.call(
            RsiCommand::IpaStateSet {
                base: base.0,
                top: top.0,
                ripas,
                flags,
            }
            .to_regs(),
        );
        check(r[0])?;
        if r[1] < base.0 || r[1] > top.0 {
            return Err(BadReply::Progress(r[1]).into());
        }
        let response = RsiResponse::from_raw(r[2]).ok_or(BadReply::Response(r[2]))?;
        Ok(RipasChange {
            next: Ipa(r[1]),
            response,
        })
    }

    /// `RSI_IPA_STATE_GET` with raw bounds.
    pub fn ipa_state_get(
        conduit: &mut (impl Conduit + ?Sized),
        base: Ipa,
        end: Ipa,
    ) -> Result<(Ripas, Ipa), RsiError> {
        super::ipa_state_get(conduit, base, end)
    }

    /// `RSI_HOST_CALL` at an IPA.
    ///
    /// # Safety
    ///
    /// The RMM reads and writes the 256 bytes at `ipa`, which must hold an `RsiHostCall` the
    /// caller owns with no live Rust reference on it.
    pub unsafe fn host_call(
        conduit: &mut (impl Conduit + ?Sized),
        ipa: Ipa,
    ) -> Result<(), RsiError> {
        check(conduit.call(RsiCommand::HostCall { ipa: ipa.0 }.to_regs())[0])
    }

    /// `RSI_PLANE_ENTER` with a raw plane index and the IPA of an `RsiPlaneRun`.
    ///
    /// # Safety
    ///
    /// The RMM reads and writes the 4 KiB granule at `run`, which must hold an
    /// `RsiPlaneRun` the caller owns with no live Rust reference on it.
    pub unsafe fn plane_enter(
        conduit: &mut (impl Conduit + ?Sized),
        plane: u64,
        run: Ipa,
    ) -> Result<(), RsiError> {
        check(conduit.call(RsiCommand::PlaneEnter { plane, run: run.0 }.to_regs())[0])
    }

    /// `RSI_VDEV_GET_INFO` at an IPA.
    ///
    /// # Safety
    ///
    /// The RMM writes the 512 bytes at `ipa`, which must be realm memory the caller owns with
    /// no live Rust reference on it.
    pub unsafe fn vdev_get_info(
        conduit: &mut (impl Conduit + ?Sized),
        vdev: VdevId,
        ipa: Ipa,
    ) -> Result<(), RsiError> {
        check(
            conduit.call(
                RsiCommand::VdevGetInfo {
                    vdev_id: vdev.0,
                    ipa: ipa.0,
                }
                .to_regs(),
            )[0],
        )
    }
}
