//! Typed RMI 2.0 calls, as TF-RMM v0.9.0 implements them (digest rmi2.md; TF-RMM
//! `runtime/core/handler.c`, `runtime/rmi/{version,feature,granule,rtt,rec,sro}.c`).
//!
//! The commands RMI 2.0 keeps from 1.0 with the same registers (REALM_CREATE with
//! [`RmiRealmParams2`](cca_abi::rmi::RmiRealmParams2), REALM_ACTIVATE/DESTROY, RTT_CREATE/
//! DESTROY/FOLD/READ_ENTRY, RTT_(UN)MAP_UNPROTECTED, RTT_INIT/SET_RIPAS, REC_ENTER with
//! [`RmiRecRun2`](cca_abi::rmi::RmiRecRun2), PSCI_COMPLETE) are not repeated here; this module
//! has what is new or changed:
//!
//! - [`version`]: `RMI_VERSION` asking for 2.0 (§2);
//! - [`features`] and the typed `features0`..`features4` (§7);
//! - [`rmm_config_get`], [`rmm_config_set`], [`rmm_activate`]: the RMM's own boot steps (§3);
//! - [`granule_range_delegate`] / [`granule_range_undelegate`]: loop until a whole range is
//!   done (§4.1);
//! - [`rtt_data_map_init`] (measured), [`rtt_data_map`] (unmeasured, one granule per IPA,
//!   looped) and [`rtt_data_unmap`] (§5);
//! - [`rec_create`] and [`rec_destroy`]: drivers of the stateful operations that donate and
//!   reclaim a REC's auxiliary granules (§6).
//!
//! Every loop is bounded ([`BUSY_RETRIES`], [`MAX_OP_CALLS`], the length of a range), and a
//! reply outside what TF-RMM v0.9.0 can produce is [`Error::Malformed`], never a panic.

use alloc::vec::Vec;
use core::fmt;

use cca_abi::AbiVersion;
use cca_abi::rmi::{
    ADDR_LIST_ENTRIES, Generation, Granule, Ipa, RMI_FEATURES, RMI_REALM_CREATE, RMI_REC_CREATE,
    RMI_REC_DESTROY, RMI_VERSION, RmiAddrRangeDesc, RmiBlockSize, RmiDataMeasureContent,
    RmiFeatureRegister0V2, RmiFeatureRegister1, RmiFeatureRegister2, RmiFeatureRegister3,
    RmiFeatureRegister4, RmiIncomplete, RmiOpMemDonateReq, RmiOpMemReq, RmiOpMemState, RmiReply,
    RmiReturn, RmiStatus,
    fids::{
        RMI_GRANULE_RANGE_DELEGATE, RMI_GRANULE_RANGE_UNDELEGATE, RMI_OP_CONTINUE,
        RMI_OP_MEM_DONATE, RMI_OP_MEM_RECLAIM, RMI_RMM_ACTIVATE, RMI_RMM_CONFIG_GET,
        RMI_RMM_CONFIG_SET, RMI_RTT_DATA_MAP, RMI_RTT_DATA_MAP_INIT, RMI_RTT_DATA_UNMAP,
    },
};
use cca_abi::smccc::{Conduit, regs};

use crate::error::{Error, Malformed};
use crate::link::RmiV2;
use crate::version::{Negotiated, VersionError};

const GRANULE: u64 = cca_abi::GRANULE_SIZE as u64;

/// How many `RMI_BUSY` answers in a row a call accepts before giving up with
/// [`Error::Stalled`]. TF-RMM v0.9.0 answers BUSY only when another CPU holds every free
/// stateful-operation context, so a few retries are plenty.
pub const BUSY_RETRIES: u32 = 16;

/// How many times a stateful operation's `RMI_OP_*` call refused with `RMI_ERROR_INPUT` is
/// answered again. TF-RMM v0.9.0 leaves the operation as it was when it refuses a memory
/// transfer or a call for the handle (`runtime/rmi/sro.c`: nothing consumed or written),
/// and REC operations cannot be cancelled, so giving up would leave the REC granule stuck.
/// `RMI_OP_CONTINUE`'s `RMI_ERROR_INPUT` may also be the operation's own end, after which
/// the handle is free and asking again is refused the same way, harmlessly. A refusal
/// that repeats is reported.
pub const OP_INPUT_RETRIES: u32 = 2;

/// Whether `reply` to `fid` is an `RMI_OP_*` call refused with `RMI_ERROR_INPUT`.
fn op_refused(fid: u32, reply: &RmiReply) -> bool {
    matches!(
        fid,
        RMI_OP_MEM_DONATE | RMI_OP_MEM_RECLAIM | RMI_OP_CONTINUE
    ) && reply.ret.status == RmiStatus::ErrorInput
}

/// The most calls one stateful operation ([`rec_create`], [`rec_destroy`]) makes, initiating
/// command included. TF-RMM v0.9.0 needs 3 (REC_CREATE, one OP_MEM_DONATE, OP_CONTINUE) when
/// the host donates all 16 granules at once.
pub const MAX_OP_CALLS: u32 = 128;

/// The most granules one stateful operation may move either way (a REC needs 16): a bound on
/// what a hostile RMM can make the host allocate or believe it got back.
pub const MAX_OP_GRANULES: usize = 1024;

/// `RMI_ADDR_TYPE_SINGLE`: the only address type TF-RMM v0.9.0's `RTT_DATA_MAP` and
/// `RTT_DATA_UNMAP` accept in `x4`.
const RMI_ADDR_TYPE_SINGLE: u64 = 1;

/// Sends `fid` with `args` in `x1..` and decodes `x0..x4`.
fn send<C: Conduit + ?Sized>(c: &mut C, fid: u32, args: &[u64]) -> RmiReply {
    RmiReply::from_regs(&c.call(regs(fid, args)))
}

/// The error for a reply that is not `RMI_SUCCESS` with index 0 and is not an
/// `RMI_INCOMPLETE` the caller handles.
fn failure(fid: u32, reply: &RmiReply) -> Error {
    match reply.ret.status {
        RmiStatus::SmcUnknown => Error::NotImplemented { fid },
        // SUCCESS carries index 0; an INCOMPLETE here was not expected; undefined codes.
        status
            if status == RmiStatus::Success
                || status == RmiStatus::Incomplete
                || !status.defined_in(Generation::V2_0) =>
        {
            Error::Malformed {
                fid,
                problem: Malformed::Status(reply.ret.to_raw()),
            }
        }
        _ => Error::Refused {
            fid,
            ret: reply.ret,
            out: reply.out,
        },
    }
}

/// Sends a command that is not stateful; returns `x1..x4` of a successful reply.
fn call<C: Conduit + ?Sized>(c: &mut C, fid: u32, args: &[u64]) -> Result<[u64; 4], Error> {
    let reply = send(c, fid, args);
    if reply.ret == RmiReturn::SUCCESS {
        Ok(reply.out)
    } else {
        Err(failure(fid, &reply))
    }
}

/// An impossible value in result register `register`.
const fn bad_output(fid: u32, register: u8, value: u64) -> Error {
    Error::Malformed {
        fid,
        problem: Malformed::Output { register, value },
    }
}

/// `RMI_VERSION` asking for 2.0 (digest §2). TF-RMM v0.9.0 answers SUCCESS with
/// `x1 = x2 = 2.0`; an RMI 1.x RMM answers `RMI_ERROR_INPUT` with what it offers.
///
/// # Errors
///
/// [`VersionError::NotRmi2`] when the RMM refuses 2.0 (fall back to
/// [`crate::version::negotiate`] if it offers 1.x), [`VersionError::Call`] for no RMM, another
/// status, or an impossible reply.
pub fn version<C: Conduit + ?Sized>(c: &mut C) -> Result<Negotiated, VersionError> {
    let fid = RMI_VERSION;
    let requested = AbiVersion::V2_0;
    let reply = send(c, fid, &[requested.encode()]);
    let decode = |register: u8, value: u64| {
        AbiVersion::decode(value).ok_or(bad_output(fid, register, value))
    };
    if reply.ret == RmiReturn::SUCCESS {
        let lower = decode(1, reply.out[0])?;
        let higher = decode(2, reply.out[1])?;
        if lower > requested || higher < requested {
            return Err(bad_output(fid, 2, reply.out[1]).into());
        }
        Ok(Negotiated {
            version: requested,
            lower,
            higher,
        })
    } else if reply.ret == RmiReturn::new(RmiStatus::ErrorInput, 0) {
        let lower = decode(1, reply.out[0])?;
        let higher = decode(2, reply.out[1])?;
        Err(VersionError::NotRmi2 { lower, higher })
    } else {
        Err(failure(fid, &reply).into())
    }
}

/// `RMI_FEATURES(index)`: the raw feature register. TF-RMM v0.9.0 defines 0 to 4 and answers
/// 0 for any other index.
///
/// # Errors
///
/// Only an RMM outside the specification fails this call.
pub fn features<C: RmiV2 + ?Sized>(c: &mut C, index: u64) -> Result<u64, Error> {
    call(c, RMI_FEATURES, &[index]).map(|out| out[0])
}

/// `RMI_FEATURES(0)` decoded with the RMI 2.0 layout.
///
/// # Errors
///
/// As [`features`].
pub fn features0<C: RmiV2 + ?Sized>(c: &mut C) -> Result<RmiFeatureRegister0V2, Error> {
    features(c, 0).map(RmiFeatureRegister0V2::from_raw)
}

/// `RMI_FEATURES(1)` decoded: granule sizes, hash algorithms, REC limit.
///
/// # Errors
///
/// As [`features`].
pub fn features1<C: RmiV2 + ?Sized>(c: &mut C) -> Result<RmiFeatureRegister1, Error> {
    features(c, 1).map(RmiFeatureRegister1::from_raw)
}

/// `RMI_FEATURES(2)` decoded: device assignment.
///
/// # Errors
///
/// As [`features`].
pub fn features2<C: RmiV2 + ?Sized>(c: &mut C) -> Result<RmiFeatureRegister2, Error> {
    features(c, 2).map(RmiFeatureRegister2::from_raw)
}

/// `RMI_FEATURES(3)` decoded: planes.
///
/// # Errors
///
/// As [`features`].
pub fn features3<C: RmiV2 + ?Sized>(c: &mut C) -> Result<RmiFeatureRegister3, Error> {
    features(c, 3).map(RmiFeatureRegister3::from_raw)
}

/// `RMI_FEATURES(4)` decoded: memory encryption contexts.
///
/// # Errors
///
/// As [`features`].
pub fn features4<C: RmiV2 + ?Sized>(c: &mut C) -> Result<RmiFeatureRegister4, Error> {
    features(c, 4).map(RmiFeatureRegister4::from_raw)
}

/// `RMI_RMM_CONFIG_GET`: the RMM writes its [`RmiRmmConfig`](cca_abi::rmi::RmiRmmConfig)
/// (4096 bytes) into the NS granule `config`. Allowed in any RMM state.
///
/// # Errors
///
/// `RMI_ERROR_INPUT` if `config` is not an NS granule the RMM tracks.
pub fn rmm_config_get<C: RmiV2 + ?Sized>(c: &mut C, config: Granule) -> Result<(), Error> {
    call(c, RMI_RMM_CONFIG_GET, &[config.addr()]).map(drop)
}

/// `RMI_RMM_CONFIG_SET`: configure the RMM from the
/// [`RmiRmmConfig`](cca_abi::rmi::RmiRmmConfig) in the NS granule `config`. Only before
/// [`rmm_activate`]; TF-RMM v0.9.0 accepts only the all-zero configuration and stores nothing.
///
/// # Errors
///
/// `RMI_ERROR_INPUT` for a bad granule or configuration, `RMI_ERROR_GLOBAL` after activation.
pub fn rmm_config_set<C: RmiV2 + ?Sized>(c: &mut C, config: Granule) -> Result<(), Error> {
    call(c, RMI_RMM_CONFIG_SET, &[config.addr()]).map(drop)
}

/// `RMI_RMM_ACTIVATE`: move the RMM from INIT to ACTIVE; until then every realm command,
/// delegation included, answers `RMI_ERROR_GLOBAL` (digest §3.2). Once per boot.
///
/// # Errors
///
/// `RMI_ERROR_GLOBAL` if the RMM is already active (a previous host activated it).
pub fn rmm_activate<C: RmiV2 + ?Sized>(c: &mut C) -> Result<(), Error> {
    call(c, RMI_RMM_ACTIVATE, &[]).map(drop)
}

/// `RMI_REALM_CREATE` (RMI 2.0): make the delegated granule `rd` a realm descriptor, with
/// the [`RmiRealmParams2`](cca_abi::rmi::RmiRealmParams2) page at `params` (no VMID: the RMM
/// allocates it; TF-RMM v0.9.0 `runtime/rmi/realm.c`, digest §10.1). The function number
/// is 1.0's; the structure is not, hence a function of its own.
///
/// # Errors
///
/// `RMI_ERROR_INPUT` for invalid parameters, `RMI_ERROR_GLOBAL` before `RMI_RMM_ACTIVATE`.
pub fn realm_create<C: RmiV2 + ?Sized>(
    c: &mut C,
    rd: Granule,
    params: Granule,
) -> Result<(), Error> {
    call(c, RMI_REALM_CREATE, &[rd.addr(), params.addr()]).map(drop)
}

/// A multi-call range command that stopped: how far it got, and why.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RangeError {
    /// The first address not processed: `[base, reached)` was done.
    pub reached: u64,
    /// Why it stopped.
    pub error: Error,
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (stopped at {:#x})", self.error, self.reached)
    }
}

impl core::error::Error for RangeError {}

impl From<RangeError> for Error {
    fn from(e: RangeError) -> Self {
        e.error
    }
}

/// Issues `fid(base, top, extra...)` until `base` reaches `top`, retrying `RMI_BUSY`.
/// `x1` of each success must move `base` forward by at least a granule, within `top`
/// (`step_exact` requires exactly one granule). Bounded by the number of granules in the
/// range plus [`BUSY_RETRIES`] per step.
fn range_loop<C: Conduit + ?Sized>(
    c: &mut C,
    fid: u32,
    base: u64,
    top: u64,
    mut args: impl FnMut(u64, u64) -> [u64; 5],
    step_exact: bool,
) -> Result<(), RangeError> {
    let mut next = base;
    let mut busy = 0;
    while next < top {
        let reply = send(c, fid, &args(next, top));
        let stop = |error| RangeError {
            reached: next,
            error,
        };
        if reply.ret.status == RmiStatus::Busy {
            busy += 1;
            if busy > BUSY_RETRIES {
                return Err(stop(Error::Stalled { fid, calls: busy }));
            }
            continue;
        }
        busy = 0;
        if reply.ret != RmiReturn::SUCCESS {
            return Err(stop(failure(fid, &reply)));
        }
        let reported = reply.out[0];
        let plausible = if step_exact {
            Some(reported) == next.checked_add(GRANULE)
        } else {
            reported > next && reported <= top
        };
        if !plausible || !cca_abi::is_granule_aligned(reported) {
            return Err(stop(bad_output(fid, 1, reported)));
        }
        next = reported;
    }
    Ok(())
}

/// `RMI_GRANULE_RANGE_DELEGATE` over `[base, top)`, one call per step until the whole range
/// is delegated (TF-RMM v0.9.0 does one granule per call and returns the next base in `x1`).
/// An empty or reversed range makes no call.
///
/// # Errors
///
/// [`RangeError`] with the first granule not delegated: `RMI_ERROR_INPUT` for a granule that
/// is not NS or not tracked, `RMI_ERROR_GLOBAL` before [`rmm_activate`].
pub fn granule_range_delegate<C: RmiV2 + ?Sized>(
    c: &mut C,
    base: Granule,
    top: Granule,
) -> Result<(), RangeError> {
    let fid = RMI_GRANULE_RANGE_DELEGATE;
    range_loop(
        c,
        fid,
        base.addr(),
        top.addr(),
        |b, t| [b, t, 0, 0, 0],
        false,
    )
}

/// `RMI_GRANULE_RANGE_UNDELEGATE` over `[base, top)`, looped like
/// [`granule_range_delegate`]; each granule is scrubbed by the RMM.
///
/// # Errors
///
/// [`RangeError`] with the first granule not undelegated: `RMI_ERROR_INPUT` for a granule
/// that is not DELEGATED (still an RD, REC, RTT, DATA, auxiliary or PARTIAL granule).
pub fn granule_range_undelegate<C: RmiV2 + ?Sized>(
    c: &mut C,
    base: Granule,
    top: Granule,
) -> Result<(), RangeError> {
    let fid = RMI_GRANULE_RANGE_UNDELEGATE;
    range_loop(
        c,
        fid,
        base.addr(),
        top.addr(),
        |b, t| [b, t, 0, 0, 0],
        false,
    )
}

/// `RMI_RTT_DATA_MAP_INIT`: copy the NS granule `src` into the delegated granule `data`, map
/// it at `ipa` of the NEW realm `rd` and extend the RIM (RMI 1.0's `RMI_DATA_CREATE`, same
/// registers and measurement; digest §5.1).
///
/// # Errors
///
/// `RMI_ERROR_INPUT`, `RMI_ERROR_REALM` (realm not NEW), `(RMI_ERROR_RTT, level)` when the
/// level-3 entry is missing or not UNASSIGNED.
pub fn rtt_data_map_init<C: RmiV2 + ?Sized>(
    c: &mut C,
    rd: Granule,
    data: Granule,
    ipa: Ipa,
    src: Granule,
    flags: RmiDataMeasureContent,
) -> Result<(), Error> {
    let args = [
        rd.addr(),
        data.addr(),
        ipa.addr(),
        src.addr(),
        flags.to_raw(),
    ];
    call(c, RMI_RTT_DATA_MAP_INIT, &args).map(drop)
}

/// `RMI_RTT_DATA_MAP` for each granule of `data` in turn, at `base`, `base` + 4 KiB, ...:
/// unmeasured and zero-filled; the RIPAS of each entry is kept (digest §5.2). Each call is
/// `(rd, ipa, top, SINGLE, pa)` with `top` the end of the whole run, and must answer
/// `x1 = ipa + 4 KiB`. Allowed in any realm state, so a host may map on demand.
///
/// # Errors
///
/// [`RangeError`] whose `reached` is the first IPA not mapped: `data[..(reached − base) /
/// 4 KiB]` are mapped, the rest are still the host's. `(RMI_ERROR_RTT, level)` when the
/// level-3 entry is missing or not UNASSIGNED, `RMI_ERROR_INPUT` for a granule that is not
/// DELEGATED or an IPA outside the protected range; [`Error::Malformed`] (register 1) if
/// the run would pass the top of the address space.
pub fn rtt_data_map<C: RmiV2 + ?Sized>(
    c: &mut C,
    rd: Granule,
    base: Ipa,
    data: &[Granule],
) -> Result<(), RangeError> {
    let fid = RMI_RTT_DATA_MAP;
    let top = u64::try_from(data.len())
        .ok()
        .and_then(|n| n.checked_mul(GRANULE))
        .and_then(|len| base.addr().checked_add(len))
        .ok_or(RangeError {
            reached: base.addr(),
            error: bad_output(fid, 1, base.addr()),
        })?;
    range_loop(
        c,
        fid,
        base.addr(),
        top,
        |ipa, top| {
            // One granule per call, in order: `range_loop` asks only for IPAs in
            // `[base, top)`, so the index is always in `data`.
            let index = usize::try_from((ipa - base.addr()) / GRANULE).unwrap_or(usize::MAX);
            let pa = data.get(index).map_or(0, |g| g.addr());
            [rd.addr(), ipa, top, RMI_ADDR_TYPE_SINGLE, pa]
        },
        true,
    )
}

/// What [`rtt_data_unmap`] did.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct DataUnmapped {
    /// `x1`: the next IPA worth trying (the top of the run of non-live entries from `base`,
    /// capped at `top`).
    pub next: Ipa,
    /// `x2`: the granule freed, now DELEGATED (the host still undelegates it), or `None` when
    /// nothing was mapped at `base`.
    pub freed: Option<RmiAddrRangeDesc>,
}

impl DataUnmapped {
    /// The freed 4 KiB granule, when the RMM freed exactly one (TF-RMM v0.9.0 always does).
    #[must_use]
    pub fn granule(&self) -> Option<Granule> {
        self.freed
            .filter(|d| d.block_size == RmiBlockSize::Page4K && d.count == 1)
            .and_then(|d| Granule::new(d.pa))
    }
}

/// `RMI_RTT_DATA_UNMAP` of the granule at `base` (`x3 = top` bounds the search for the next
/// live entry; digest §5.3). A SUCCESS with nothing mapped at `base` is normal and reports
/// `freed: None`. Allowed in any realm state.
///
/// # Errors
///
/// `(RMI_ERROR_RTT, level)` for a live block mapping above level 3, `RMI_ERROR_INPUT` for a
/// bad RD or IPA; [`Error::Malformed`] if `x1` is not in `(base, top]`, `x2` is not a valid
/// delegated range, or `x3` is not 0.
pub fn rtt_data_unmap<C: RmiV2 + ?Sized>(
    c: &mut C,
    rd: Granule,
    base: Ipa,
    top: Ipa,
) -> Result<DataUnmapped, Error> {
    let fid = RMI_RTT_DATA_UNMAP;
    let args = [rd.addr(), base.addr(), top.addr(), RMI_ADDR_TYPE_SINGLE, 0];
    let out = call(c, fid, &args)?;
    let next = Ipa::new(out[0])
        .filter(|n| *n > base && *n <= top)
        .ok_or(bad_output(fid, 1, out[0]))?;
    let freed = match out[1] {
        0 => None,
        raw => Some(
            RmiAddrRangeDesc::from_raw(raw)
                .filter(|d| d.is_valid() && d.state == RmiOpMemState::Delegated)
                .ok_or(bad_output(fid, 2, raw))?,
        ),
    };
    if out[2] != 0 {
        return Err(bad_output(fid, 3, out[2]));
    }
    Ok(DataUnmapped { next, freed })
}

/// The NS page that carries address lists between the host and the RMM in
/// `RMI_OP_MEM_DONATE` and `RMI_OP_MEM_RECLAIM`, with the physical address the RMM uses.
///
/// The list may start anywhere in a granule (8-byte aligned) but never crosses it: a list
/// `k` entries into its granule holds `512 − k` ([`AddrList::capacity`]).
pub struct AddrList<'a> {
    entries: &'a mut [u64; ADDR_LIST_ENTRIES],
    /// `None`: the host is identity-mapped and the PA is the address of `entries`.
    pa: Option<u64>,
}

impl<'a> AddrList<'a> {
    /// A list whose physical address is its own address: the host runs with the MMU off or
    /// an identity map (as rmi-shim's bare-metal host does), or against the in-process
    /// model, as the builder's parameter pages are.
    #[must_use]
    pub fn identity(entries: &'a mut [u64; ADDR_LIST_ENTRIES]) -> Self {
        Self { entries, pa: None }
    }

    /// A list the RMM reaches at physical address `pa` (8-byte aligned), for a host whose
    /// mapping is not the identity; `None` if `pa` is misaligned.
    #[must_use]
    pub fn at(entries: &'a mut [u64; ADDR_LIST_ENTRIES], pa: u64) -> Option<Self> {
        if pa.is_multiple_of(8) {
            Some(Self {
                entries,
                pa: Some(pa),
            })
        } else {
            None
        }
    }

    /// The physical address handed to the RMM, computed just before each call.
    ///
    /// The address is taken from the entries' pointer with exposed provenance even when it
    /// is given explicitly: the RMM reads and writes the page during the SMC, so the
    /// compiler must treat it as reachable by the call (as with the builder's pages).
    fn pa(&mut self) -> u64 {
        let exposed = self.entries.as_mut_ptr().expose_provenance() as u64;
        self.pa.unwrap_or(exposed)
    }

    /// How many entries fit between the start of the list and the end of its granule.
    #[must_use]
    pub fn capacity(&self) -> usize {
        let pa = self.pa.unwrap_or(self.entries.as_ptr().addr() as u64);
        #[allow(clippy::cast_possible_truncation, reason = "an offset below 4096")]
        let offset = (pa % GRANULE) as usize / 8;
        ADDR_LIST_ENTRIES - offset
    }
}

/// A stateful operation that did not finish, with the granules the host has back.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SroError {
    /// Why it stopped. With [`Error::Refused`] from `RMI_OP_CONTINUE` the operation ended
    /// cleanly (the RMM released it and, for REC_CREATE, the REC granule is DELEGATED again);
    /// with any other error it was abandoned and the REC granule stays PARTIAL (TF-RMM v0.9.0
    /// cannot cancel REC operations).
    pub error: Error,
    /// Granules the host obtained for, or got back from, the operation that the RMM does not
    /// hold: DELEGATED, for the caller to undelegate or reuse.
    pub returned: Vec<Granule>,
}

impl fmt::Display for SroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} delegated granules returned to the host)",
            self.error,
            self.returned.len()
        )
    }
}

impl core::error::Error for SroError {}

/// What [`rec_create`] leaves with the host.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecCreated {
    /// The auxiliary granules the RMM took (now REC_AUX); [`rec_destroy`] gives them back.
    pub aux: Vec<Granule>,
    /// Granules obtained from the supply that the RMM did not take: DELEGATED, the caller's.
    pub unused: Vec<Granule>,
}

/// How an operation answers the RMM's request for memory: `(op, conduit, the FID whose
/// reply asked, the raw RmiOpMemDonateReq)` → the reply to `RMI_OP_MEM_DONATE`.
type Donate<'d, 'l, 'a, C> =
    dyn FnMut(&mut Op<'l, 'a>, &mut C, u32, u64) -> Result<RmiReply, Error> + 'd;

/// The state of one stateful operation as the host drives it.
struct Op<'l, 'a> {
    /// The operation handle (`x1` of the initiating reply; 0 is valid).
    handle: u64,
    list: &'l mut AddrList<'a>,
    calls: u32,
    /// Granules the RMM holds for the operation (donated, not yet reclaimed), in donation
    /// order.
    held: Vec<Granule>,
    /// Granules the host has for the operation that the RMM does not hold.
    spare: Vec<Granule>,
}

impl<'l, 'a> Op<'l, 'a> {
    /// The error report: the spare granules go back to the host. Granules the RMM still
    /// holds (an abandoned operation) are not the host's to reuse and are not returned.
    fn error(&mut self, error: Error) -> SroError {
        SroError {
            error,
            returned: core::mem::take(&mut self.spare),
        }
    }

    /// Sends one call of the operation, counting it against [`MAX_OP_CALLS`].
    fn send<C: Conduit + ?Sized>(
        &mut self,
        c: &mut C,
        fid: u32,
        args: &[u64],
    ) -> Result<RmiReply, Error> {
        if self.calls >= MAX_OP_CALLS {
            return Err(Error::Stalled {
                fid,
                calls: self.calls,
            });
        }
        self.calls += 1;
        Ok(send(c, fid, args))
    }

    /// Sends `fid`, retrying `RMI_BUSY` up to [`BUSY_RETRIES`] times.
    fn send_retrying<C: Conduit + ?Sized>(
        &mut self,
        c: &mut C,
        fid: u32,
        args: &[u64],
    ) -> Result<RmiReply, Error> {
        for _ in 0..=BUSY_RETRIES {
            let reply = self.send(c, fid, args)?;
            if reply.ret.status != RmiStatus::Busy {
                return Ok(reply);
            }
        }
        Err(Error::Stalled {
            fid,
            calls: self.calls,
        })
    }

    /// Answers the donation request `raw_request` (`x2` of the reply of `request_fid`) with
    /// granules from `supply`; returns the reply.
    fn donate<C: Conduit + ?Sized>(
        &mut self,
        c: &mut C,
        request_fid: u32,
        raw_request: u64,
        supply: &mut dyn FnMut() -> Option<Granule>,
        fallback_ns: Granule,
        out_of_granules: &mut bool,
    ) -> Result<RmiReply, Error> {
        let fid = RMI_OP_MEM_DONATE;
        // The request is `x2` of the reply that asked; this driver supplies single delegated
        // 4 KiB granules, which is what TF-RMM v0.9.0's REC operations ask for.
        let request = RmiOpMemDonateReq::from_raw(raw_request)
            .filter(|r| {
                r.count != 0
                    && r.block_size == RmiBlockSize::Page4K
                    && !r.contiguous
                    && r.state == RmiOpMemState::Delegated
            })
            .ok_or(bad_output(request_fid, 2, raw_request))?;
        let wanted = usize::from(request.count);
        if self.held.len() + wanted > MAX_OP_GRANULES {
            return Err(bad_output(request_fid, 2, raw_request));
        }
        let n = wanted.min(self.list.capacity());
        while self.spare.len() < n {
            match supply() {
                Some(g) => self.spare.push(g),
                None => break,
            }
        }
        let n = n.min(self.spare.len());
        let offered = if n == 0 {
            // Nothing to give. An RMI 2.0 REC operation cannot be cancelled, so end it the
            // way TF-RMM v0.9.0 ends a donation whose first granule is not DELEGATED
            // (`rec.c` `rec_memory_donate`): offer an NS granule the host owns (the
            // parameter page); the RMM reclaims what it holds and OP_CONTINUE fails with
            // RMI_ERROR_INPUT, which is reported as OutOfGranules.
            *out_of_granules = true;
            self.list.entries[0] = RmiAddrRangeDesc::granule(fallback_ns).to_raw();
            1
        } else {
            for (slot, g) in self.list.entries.iter_mut().zip(&self.spare[..n]) {
                *slot = RmiAddrRangeDesc::granule(*g).to_raw();
            }
            n
        };
        let pa = self.list.pa();
        let reply = self.send(c, fid, &[self.handle, pa, offered as u64])?;
        if reply.ret.status == RmiStatus::Incomplete {
            // x1: granules consumed, in list order.
            let consumed = usize::try_from(reply.out[0])
                .ok()
                .filter(|k| *k <= n)
                .ok_or(bad_output(fid, 1, reply.out[0]))?;
            self.held.extend(self.spare.drain(..consumed));
        }
        Ok(reply)
    }

    /// Drives the operation `fid` starts with `args` to its end: each `RMI_INCOMPLETE` is
    /// answered as it asks (a donation through `donate`, which an operation that never asks
    /// for memory leaves out, making such a request a failure; a reclaim into `returned`, checked
    /// against what the operation holds when `reclaim_held`, else `RMI_OP_CONTINUE`), an
    /// `RMI_OP_*` refused with `RMI_ERROR_INPUT` is answered again up to
    /// [`OP_INPUT_RETRIES`] times, and `Ok` means the operation ended in `RMI_SUCCESS`.
    fn drive<C: Conduit + ?Sized>(
        &mut self,
        c: &mut C,
        fid: u32,
        args: &[u64],
        returned: &mut Vec<Granule>,
        reclaim_held: bool,
        mut donate: Option<&mut Donate<'_, 'l, 'a, C>>,
    ) -> Result<(), Error> {
        let (initiator, mut fid) = (fid, fid);
        let mut reply = self.send_retrying(c, fid, args)?;
        self.handle = reply.out[0];
        let (mut last, mut refused) = (reply, 0);
        loop {
            let Some(step) = incomplete(&reply) else {
                if reply.ret == RmiReturn::SUCCESS && (fid == initiator || fid == RMI_OP_CONTINUE) {
                    return Ok(());
                }
                if op_refused(fid, &reply) && refused < OP_INPUT_RETRIES {
                    // The operation is as it was: answer its last request again.
                    refused += 1;
                    reply = last;
                    continue;
                }
                return Err(failure(fid, &reply));
            };
            last = reply;
            match step.request {
                RmiOpMemReq::Donate => {
                    let Some(donate) = donate.as_mut() else {
                        return Err(failure(fid, &reply));
                    };
                    let (asked_by, request) = (fid, reply.out[1]);
                    fid = RMI_OP_MEM_DONATE;
                    reply = donate(self, c, asked_by, request)?;
                }
                RmiOpMemReq::Reclaim => {
                    fid = RMI_OP_MEM_RECLAIM;
                    reply = self.reclaim(c, returned, reclaim_held)?;
                }
                RmiOpMemReq::None => {
                    fid = RMI_OP_CONTINUE;
                    reply = self.send_retrying(c, fid, &[self.handle, 0])?;
                }
                RmiOpMemReq::Reserved => return Err(failure(fid, &reply)),
            }
        }
    }

    /// Collects the granules of one `RMI_OP_MEM_RECLAIM` into `returned`. With
    /// `must_be_held` (REC_CREATE) each must be one the operation holds; otherwise (REC_DESTROY)
    /// each must be new to `returned`.
    fn reclaim<C: Conduit + ?Sized>(
        &mut self,
        c: &mut C,
        returned: &mut Vec<Granule>,
        must_be_held: bool,
    ) -> Result<RmiReply, Error> {
        let fid = RMI_OP_MEM_RECLAIM;
        let capacity = self.list.capacity();
        let pa = self.list.pa();
        let reply = self.send(c, fid, &[self.handle, pa, capacity as u64])?;
        if reply.ret.status != RmiStatus::Incomplete {
            return Ok(reply);
        }
        let written = usize::try_from(reply.out[0])
            .ok()
            .filter(|k| *k <= capacity)
            .ok_or(bad_output(fid, 1, reply.out[0]))?;
        for (index, &raw) in self.list.entries[..written].iter().enumerate() {
            #[allow(clippy::cast_possible_truncation, reason = "index < 512")]
            let bad = Error::Malformed {
                fid,
                problem: Malformed::AddrListEntry {
                    index: index as u16,
                    value: raw,
                },
            };
            let desc = RmiAddrRangeDesc::from_raw(raw)
                .filter(|d| d.is_valid() && d.state == RmiOpMemState::Delegated)
                .ok_or(bad)?;
            // Bounded: at most MAX_OP_GRANULES granules come back in all.
            let count = usize::try_from(desc.granules()).map_err(|_| bad)?;
            if returned.len() + count > MAX_OP_GRANULES {
                return Err(bad);
            }
            for k in 0..count {
                let g = Granule::new(desc.pa + k as u64 * GRANULE).ok_or(bad)?;
                if must_be_held {
                    let at = self.held.iter().position(|h| *h == g).ok_or(bad)?;
                    self.held.swap_remove(at);
                } else if returned.contains(&g) {
                    return Err(bad);
                }
                returned.push(g);
            }
        }
        Ok(reply)
    }
}

/// The `RmiResultDataIncomplete` of a reply, or `None` for a terminal status.
fn incomplete(reply: &RmiReply) -> Option<RmiIncomplete> {
    reply.ret.incomplete()
}

/// `RMI_REC_CREATE` driven to its end (digest §6.5): make the delegated granule `rec` a REC
/// of the NEW realm `rd`, with the [`RmiRecParams2`](cca_abi::rmi::RmiRecParams2) page at
/// `params`, giving the RMM the auxiliary granules it asks for.
///
/// The sequence: REC_CREATE (retried on `RMI_BUSY`) → `INCOMPLETE(DONATE)` with a request →
/// `RMI_OP_MEM_DONATE` of that many granules from `granules` (each already DELEGATED),
/// written into `list` → repeated while the RMM wants more → `RMI_OP_CONTINUE` until a
/// terminal status. If the RMM fails the creation after taking granules it asks for them
/// back (`INCOMPLETE(RECLAIM)`); they are reclaimed and returned in the error. The params page
/// is read at `RMI_OP_CONTINUE`, so it must stay unchanged until this returns.
///
/// When `granules` runs dry before the RMM has what it needs, the operation is ended
/// through the RMM's failure path (see `Op::donate`) and [`Error::OutOfGranules`] returned.
///
/// # Errors
///
/// [`SroError`] with every granule the host has back: `RMI_ERROR_INPUT` (REC not DELEGATED,
/// params or MPIDR invalid), `RMI_ERROR_REALM` (realm not NEW or full), `RMI_BLOCKED` (every
/// operation context held by unfinished operations), [`Error::Stalled`] (BUSY without end,
/// or more than [`MAX_OP_CALLS`] calls), [`Error::Malformed`] for an impossible reply.
pub fn rec_create<C: RmiV2 + ?Sized>(
    c: &mut C,
    rd: Granule,
    rec: Granule,
    params: Granule,
    granules: &mut impl FnMut() -> Option<Granule>,
    list: &mut AddrList<'_>,
) -> Result<RecCreated, SroError> {
    let mut op = Op {
        handle: 0,
        list,
        calls: 0,
        held: Vec::new(),
        spare: Vec::new(),
    };
    let mut out_of_granules = false;
    let mut returned = Vec::new();
    let args = [rd.addr(), rec.addr(), params.addr()];
    let result = op.drive(
        c,
        RMI_REC_CREATE,
        &args,
        &mut returned,
        true,
        Some(&mut |op, c, asked_by, request| {
            op.donate(
                c,
                asked_by,
                request,
                &mut *granules,
                params,
                &mut out_of_granules,
            )
        }),
    );
    match result {
        Ok(()) => Ok(RecCreated {
            aux: op.held,
            unused: op.spare,
        }),
        Err(error) => {
            // The forced failure of `Op::donate` ends with OP_CONTINUE's RMI_ERROR_INPUT.
            let error = match error {
                Error::Refused { fid, .. } if out_of_granules && fid == RMI_OP_CONTINUE => {
                    Error::OutOfGranules {
                        fid: RMI_REC_CREATE,
                    }
                }
                other => other,
            };
            let mut e = op.error(error);
            e.returned.append(&mut returned);
            Err(e)
        }
    }
}

/// `RMI_REC_DESTROY` driven to its end (digest §6.6): REC_DESTROY (retried on `RMI_BUSY`) →
/// `INCOMPLETE(RECLAIM)` → `RMI_OP_MEM_RECLAIM` into `list` while the RMM has granules to
/// give back (entries may merge adjacent granules) → `RMI_OP_CONTINUE` → SUCCESS.
///
/// Returns every auxiliary granule given back, DELEGATED; the REC granule itself is
/// DELEGATED too. The caller undelegates all of them.
///
/// # Errors
///
/// [`SroError`] with the granules reclaimed before the failure: `RMI_ERROR_INPUT` (not a
/// REC), `RMI_ERROR_REC` (REC running or referenced), `RMI_BLOCKED`, [`Error::Stalled`],
/// [`Error::Malformed`] for an impossible reply (a donation request, an entry that is not a
/// delegated range, a granule returned twice).
pub fn rec_destroy<C: RmiV2 + ?Sized>(
    c: &mut C,
    rec: Granule,
    list: &mut AddrList<'_>,
) -> Result<Vec<Granule>, SroError> {
    let mut op = Op {
        handle: 0,
        list,
        calls: 0,
        held: Vec::new(),
        spare: Vec::new(),
    };
    let mut returned = Vec::new();
    // Destruction never asks for memory.
    let result = op.drive(
        c,
        RMI_REC_DESTROY,
        &[rec.addr()],
        &mut returned,
        false,
        None,
    );
    match result {
        Ok(()) => Ok(returned),
        Err(error) => Err(SroError { error, returned }),
    }
}
