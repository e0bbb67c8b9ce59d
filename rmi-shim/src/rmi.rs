//! Typed RMI 1.0 calls: one function per command of DEN0137 1.0-rel0 chapter B4, named after
//! the specification without its `RMI_` prefix (cca-abi.md §4.1).
//!
//! Arguments are newtypes that are valid by construction ([`Granule`], [`Ipa`], [`RttLevel`]),
//! so the only errors left are the RMM's: [`Error::Refused`] when it answers with a status,
//! [`Error::NotImplemented`] for `SMC_UNKNOWN`, and [`Error::Malformed`] for a reply the
//! specification does not allow. `RMI_VERSION` is in [`crate::version`].

use crate::error::{Error, Malformed};
use crate::link::{Rmi, RmiV1};
use cca_abi::rmi::{
    Granule, Ipa, REC_MAX_AUX, RmiCommand, RmiDataMeasureContent, RmiFeatureRegister0, RmiReply,
    RmiRipas, RmiRttEntryState, RmiStatus, RttLevel,
};

/// Sends `cmd` and returns `x1..x4` of a successful reply.
pub(crate) fn call<C: Rmi + ?Sized>(c: &mut C, cmd: RmiCommand) -> Result<[u64; 4], Error> {
    let fid = cmd.fid();
    let generation = c.generation();
    let reply = RmiReply::from_regs(&c.call(cmd.to_regs()));
    match reply.ret.status {
        RmiStatus::Success if reply.ret.index == 0 => Ok(reply.out),
        // SUCCESS always has index 0 (cca-abi.md §4.2); a status the negotiated generation
        // does not define (RMI 2.0's 8 to 15 from a 1.0 RMM) is malformed.
        status if status == RmiStatus::Success || !status.defined_in(generation) => {
            Err(Error::Malformed {
                fid,
                problem: Malformed::Status(reply.ret.to_raw()),
            })
        }
        RmiStatus::SmcUnknown => Err(Error::NotImplemented { fid }),
        _ => Err(Error::Refused {
            fid,
            ret: reply.ret,
            out: reply.out,
        }),
    }
}

/// Decodes result register `register` (1-based) of `fid` with `decode`.
fn output<T>(
    fid: u32,
    out: &[u64; 4],
    register: u8,
    decode: impl FnOnce(u64) -> Option<T>,
) -> Result<T, Error> {
    let value = out[usize::from(register) - 1];
    decode(value).ok_or(Error::Malformed {
        fid,
        problem: Malformed::Output { register, value },
    })
}

/// `RMI_GRANULE_DELEGATE`: hand the NS granule `addr` to the realm world (it is zeroed).
///
/// # Errors
///
/// `RMI_ERROR_INPUT` if the granule is not NS or not tracked by the RMM.
pub fn granule_delegate<C: RmiV1 + ?Sized>(c: &mut C, addr: Granule) -> Result<(), Error> {
    call(c, RmiCommand::GranuleDelegate { addr: addr.addr() }).map(drop)
}

/// `RMI_GRANULE_UNDELEGATE`: give the DELEGATED granule `addr` back to the host.
///
/// # Errors
///
/// `RMI_ERROR_INPUT` if the granule is not DELEGATED.
pub fn granule_undelegate<C: RmiV1 + ?Sized>(c: &mut C, addr: Granule) -> Result<(), Error> {
    call(c, RmiCommand::GranuleUndelegate { addr: addr.addr() }).map(drop)
}

/// `RMI_DATA_CREATE`: copy the NS granule `src` into the delegated granule `data`, map it at
/// `ipa` of the NEW realm `rd` and extend the RIM (cca-abi.md §6.2).
///
/// # Errors
///
/// `RMI_ERROR_INPUT`, `RMI_ERROR_REALM` (realm not NEW), or `(RMI_ERROR_RTT, level)` when
/// the level-3 entry for `ipa` is missing or not UNASSIGNED.
pub fn data_create<C: RmiV1 + ?Sized>(
    c: &mut C,
    rd: Granule,
    data: Granule,
    ipa: Ipa,
    src: Granule,
    flags: RmiDataMeasureContent,
) -> Result<(), Error> {
    let cmd = RmiCommand::DataCreate {
        rd: rd.addr(),
        data: data.addr(),
        ipa: ipa.addr(),
        src: src.addr(),
        flags: flags.to_raw(),
    };
    call(c, cmd).map(drop)
}

/// `RMI_DATA_CREATE_UNKNOWN`: map the delegated granule `data` at `ipa`, content unknown and
/// not measured.
///
/// # Errors
///
/// As [`data_create`], except that the realm may be in any state.
pub fn data_create_unknown<C: RmiV1 + ?Sized>(
    c: &mut C,
    rd: Granule,
    data: Granule,
    ipa: Ipa,
) -> Result<(), Error> {
    call(
        c,
        RmiCommand::DataCreateUnknown {
            rd: rd.addr(),
            data: data.addr(),
            ipa: ipa.addr(),
        },
    )
    .map(drop)
}

/// The results of [`data_destroy`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct DataDestroyed {
    /// `x1`: the DATA granule, now DELEGATED.
    pub data: Granule,
    /// `x2`: top of the non-live region that follows `ipa`.
    pub top: u64,
}

/// `RMI_DATA_DESTROY`: unmap the DATA granule at `ipa`.
///
/// # Errors
///
/// `(RMI_ERROR_RTT, level)` if there is no DATA granule at `ipa`; [`Error::Refused`] then
/// still carries the top of the non-live region in `out[1]`.
pub fn data_destroy<C: RmiV1 + ?Sized>(
    c: &mut C,
    rd: Granule,
    ipa: Ipa,
) -> Result<DataDestroyed, Error> {
    let cmd = RmiCommand::DataDestroy {
        rd: rd.addr(),
        ipa: ipa.addr(),
    };
    let fid = cmd.fid();
    let out = call(c, cmd)?;
    Ok(DataDestroyed {
        data: output(fid, &out, 1, Granule::new)?,
        top: out[1],
    })
}

/// `RMI_REALM_ACTIVATE`: move the realm from NEW to ACTIVE; its RIM is final from here.
///
/// # Errors
///
/// `RMI_ERROR_REALM` if the realm is not NEW.
pub fn realm_activate<C: Rmi + ?Sized>(c: &mut C, rd: Granule) -> Result<(), Error> {
    call(c, RmiCommand::RealmActivate { rd: rd.addr() }).map(drop)
}

/// `RMI_REALM_CREATE`: make the delegated granule `rd` a realm descriptor, with the
/// `RmiRealmParams` page at `params` (cca-abi.md §5.1, §6.1).
///
/// # Errors
///
/// `RMI_ERROR_INPUT` for invalid parameters (cca-abi.md §8).
pub fn realm_create<C: RmiV1 + ?Sized>(
    c: &mut C,
    rd: Granule,
    params: Granule,
) -> Result<(), Error> {
    call(
        c,
        RmiCommand::RealmCreate {
            rd: rd.addr(),
            params: params.addr(),
        },
    )
    .map(drop)
}

/// `RMI_REALM_DESTROY`.
///
/// # Errors
///
/// `RMI_ERROR_REALM` while RECs or RTTs remain.
pub fn realm_destroy<C: Rmi + ?Sized>(c: &mut C, rd: Granule) -> Result<(), Error> {
    call(c, RmiCommand::RealmDestroy { rd: rd.addr() }).map(drop)
}

/// `RMI_REC_CREATE`: make the delegated granule `rec` a REC of the NEW realm `rd`, with the
/// `RmiRecParams` page at `params` (cca-abi.md §5.2, §6.3).
///
/// # Errors
///
/// `RMI_ERROR_INPUT` (for example an MPIDR out of creation order, or `num_aux` not equal to
/// [`rec_aux_count`]), `RMI_ERROR_REALM` if the realm is not NEW.
pub fn rec_create<C: RmiV1 + ?Sized>(
    c: &mut C,
    rd: Granule,
    rec: Granule,
    params: Granule,
) -> Result<(), Error> {
    call(
        c,
        RmiCommand::RecCreate {
            rd: rd.addr(),
            rec: rec.addr(),
            params: params.addr(),
        },
    )
    .map(drop)
}

/// `RMI_REC_DESTROY`.
///
/// # Errors
///
/// `RMI_ERROR_REC` while the REC is running.
pub fn rec_destroy<C: RmiV1 + ?Sized>(c: &mut C, rec: Granule) -> Result<(), Error> {
    call(c, RmiCommand::RecDestroy { rec: rec.addr() }).map(drop)
}

/// `RMI_REC_ENTER`: run the REC; the exit is reported in the `RmiRecRun` page at `run`.
///
/// # Errors
///
/// `(RMI_ERROR_REALM, 0)` for a NEW realm, `(RMI_ERROR_REALM, 1)` after `SYSTEM_OFF`,
/// `RMI_ERROR_REC` if the REC cannot run (cca-abi.md §4.1).
pub fn rec_enter<C: Rmi + ?Sized>(c: &mut C, rec: Granule, run: Granule) -> Result<(), Error> {
    call(
        c,
        RmiCommand::RecEnter {
            rec: rec.addr(),
            run: run.addr(),
        },
    )
    .map(drop)
}

/// `RMI_RTT_CREATE`: make the delegated granule `rtt` the table at `level` covering `ipa`.
///
/// # Errors
///
/// `(RMI_ERROR_RTT, level)` if the parent entry is missing or not UNASSIGNED; `RMI_ERROR_INPUT`
/// if `level` is not in start + 1 ..= 3 or `ipa` is not aligned for it.
pub fn rtt_create<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    rtt: Granule,
    ipa: Ipa,
    level: RttLevel,
) -> Result<(), Error> {
    let cmd = RmiCommand::RttCreate {
        rd: rd.addr(),
        rtt: rtt.addr(),
        ipa: ipa.addr(),
        level: level.to_raw(),
    };
    call(c, cmd).map(drop)
}

/// The results of [`rtt_destroy`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RttDestroyed {
    /// `x1`: the RTT granule, now DELEGATED.
    pub rtt: Granule,
    /// `x2`: top of the non-live region.
    pub top: u64,
}

/// `RMI_RTT_DESTROY`: remove the table at `level` covering `ipa`.
///
/// # Errors
///
/// `(RMI_ERROR_RTT, level)` if the table is missing or still live; [`Error::Refused`] then
/// still carries the top of the non-live region in `out[1]`.
pub fn rtt_destroy<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    ipa: Ipa,
    level: RttLevel,
) -> Result<RttDestroyed, Error> {
    let cmd = RmiCommand::RttDestroy {
        rd: rd.addr(),
        ipa: ipa.addr(),
        level: level.to_raw(),
    };
    let fid = cmd.fid();
    let out = call(c, cmd)?;
    Ok(RttDestroyed {
        rtt: output(fid, &out, 1, Granule::new)?,
        top: out[1],
    })
}

/// `RMI_RTT_MAP_UNPROTECTED`: map host memory at the unprotected `ipa`, with the host-chosen
/// part of the descriptor `desc` (output address, `MemAttr[4:2]`, `S2AP[7:6]`).
///
/// # Errors
///
/// `RMI_ERROR_INPUT` for a bad descriptor or a protected IPA; `(RMI_ERROR_RTT, level)`.
pub fn rtt_map_unprotected<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    ipa: Ipa,
    level: RttLevel,
    desc: u64,
) -> Result<(), Error> {
    let cmd = RmiCommand::RttMapUnprotected {
        rd: rd.addr(),
        ipa: ipa.addr(),
        level: level.to_raw(),
        desc,
    };
    call(c, cmd).map(drop)
}

/// An RTT entry as `RMI_RTT_READ_ENTRY` reports it (cca-abi.md §4.1).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct RttEntry {
    /// `x1`: the level the walk reached.
    pub level: RttLevel,
    /// `x2`: the entry's state.
    pub state: RmiRttEntryState,
    /// `x3`: the output address (and, unprotected, the host-controlled attributes); 0 when
    /// the entry has none.
    pub desc: u64,
    /// `x4`: the RIPAS of a protected entry.
    pub ripas: RmiRipas,
}

/// `RMI_RTT_READ_ENTRY`: read the entry for `ipa`, walking down to `level` at most.
///
/// # Errors
///
/// `RMI_ERROR_INPUT` for an IPA out of range or not aligned to `level`.
pub fn rtt_read_entry<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    ipa: Ipa,
    level: RttLevel,
) -> Result<RttEntry, Error> {
    let cmd = RmiCommand::RttReadEntry {
        rd: rd.addr(),
        ipa: ipa.addr(),
        level: level.to_raw(),
    };
    let fid = cmd.fid();
    let out = call(c, cmd)?;
    Ok(RttEntry {
        level: output(fid, &out, 1, RttLevel::from_raw)?,
        state: output(fid, &out, 2, RmiRttEntryState::from_raw)?,
        desc: out[2],
        ripas: output(fid, &out, 4, RmiRipas::from_raw)?,
    })
}

/// `RMI_RTT_UNMAP_UNPROTECTED`: remove the unprotected mapping at `ipa`; returns `x1`, the
/// top of the non-live region.
///
/// # Errors
///
/// `(RMI_ERROR_RTT, level)` if there is no such mapping.
pub fn rtt_unmap_unprotected<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    ipa: Ipa,
    level: RttLevel,
) -> Result<u64, Error> {
    let cmd = RmiCommand::RttUnmapUnprotected {
        rd: rd.addr(),
        ipa: ipa.addr(),
        level: level.to_raw(),
    };
    call(c, cmd).map(|out| out[0])
}

/// The PSCI status the host gives in `RMI_PSCI_COMPLETE` (`x3`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum PsciCompleteStatus {
    /// `PSCI_SUCCESS` (0): the only value `AFFINITY_INFO` accepts.
    Success,
    /// `PSCI_DENIED` (−3): refuse a `CPU_ON`.
    Denied,
}

impl PsciCompleteStatus {
    /// The register value: the PSCI status sign-extended to 64 bits.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::Success => 0,
            Self::Denied => (-3i64).cast_unsigned(),
        }
    }
}

/// `RMI_PSCI_COMPLETE`: finish the `CPU_ON` or `AFFINITY_INFO` that `calling_rec` made on
/// `target_rec`.
///
/// # Errors
///
/// `RMI_ERROR_INPUT` if no such request is pending or the status is not allowed for it.
pub fn psci_complete<C: Rmi + ?Sized>(
    c: &mut C,
    calling_rec: Granule,
    target_rec: Granule,
    status: PsciCompleteStatus,
) -> Result<(), Error> {
    let cmd = RmiCommand::PsciComplete {
        calling_rec: calling_rec.addr(),
        target_rec: target_rec.addr(),
        status: status.to_raw(),
    };
    call(c, cmd).map(drop)
}

/// `RMI_FEATURES`: read feature register `index` (TF-RMM v0.8.0 defines 0, and 1 = MAX_MECID).
///
/// # Errors
///
/// Only an RMM outside the specification fails this call.
pub fn features<C: Rmi + ?Sized>(c: &mut C, index: u64) -> Result<u64, Error> {
    call(c, RmiCommand::Features { index }).map(|out| out[0])
}

/// `RMI_FEATURES(0)` decoded (cca-abi.md §4.3).
///
/// # Errors
///
/// As [`features`].
pub fn features0<C: RmiV1 + ?Sized>(c: &mut C) -> Result<RmiFeatureRegister0, Error> {
    features(c, 0).map(RmiFeatureRegister0::from_raw)
}

/// `RMI_RTT_FOLD`: fold the homogeneous table at `level` covering `ipa` into its parent entry;
/// returns the freed RTT granule.
///
/// # Errors
///
/// `(RMI_ERROR_RTT, level)` if the table is missing or not homogeneous.
pub fn rtt_fold<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    ipa: Ipa,
    level: RttLevel,
) -> Result<Granule, Error> {
    let cmd = RmiCommand::RttFold {
        rd: rd.addr(),
        ipa: ipa.addr(),
        level: level.to_raw(),
    };
    let fid = cmd.fid();
    let out = call(c, cmd)?;
    output(fid, &out, 1, Granule::new)
}

/// `RMI_REC_AUX_COUNT`: how many auxiliary granules each REC of `rd` needs (at most 16; TF-RMM
/// always says 16).
///
/// # Errors
///
/// [`Error::Malformed`] if the RMM reports more than the 16 slots `RmiRecParams` has.
pub fn rec_aux_count<C: RmiV1 + ?Sized>(c: &mut C, rd: Granule) -> Result<usize, Error> {
    let cmd = RmiCommand::RecAuxCount { rd: rd.addr() };
    let fid = cmd.fid();
    let out = call(c, cmd)?;
    output(fid, &out, 1, |v| {
        usize::try_from(v).ok().filter(|n| *n <= REC_MAX_AUX)
    })
}

/// `RMI_RTT_INIT_RIPAS`: set the RIPAS of `[base, top)` of the NEW realm `rd` to RAM, one RTT
/// entry at a time, measuring each entry (cca-abi.md §6.4). Returns the top reached, which
/// may be below `top` when the walk leaves the last-level table; the host then calls again.
///
/// # Errors
///
/// `(RMI_ERROR_RTT, level)` if `base` is not aligned to the entry it reaches, or that entry
/// is not UNASSIGNED EMPTY/RAM.
pub fn rtt_init_ripas<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    base: Ipa,
    top: Ipa,
) -> Result<Ipa, Error> {
    let cmd = RmiCommand::RttInitRipas {
        rd: rd.addr(),
        base: base.addr(),
        top: top.addr(),
    };
    let fid = cmd.fid();
    let out = call(c, cmd)?;
    output(fid, &out, 1, |v| {
        Ipa::new(v).filter(|t| *t > base && *t <= top)
    })
}

/// `RMI_RTT_SET_RIPAS`: apply the pending `RSI_IPA_STATE_SET` of `rec` to `[base, top)`;
/// returns the top reached.
///
/// # Errors
///
/// `RMI_ERROR_INPUT` if the range does not match the request; `(RMI_ERROR_RTT, level)`.
pub fn rtt_set_ripas<C: Rmi + ?Sized>(
    c: &mut C,
    rd: Granule,
    rec: Granule,
    base: Ipa,
    top: Ipa,
) -> Result<Ipa, Error> {
    let cmd = RmiCommand::RttSetRipas {
        rd: rd.addr(),
        rec: rec.addr(),
        base: base.addr(),
        top: top.addr(),
    };
    let fid = cmd.fid();
    let out = call(c, cmd)?;
    output(fid, &out, 1, |v| {
        Ipa::new(v).filter(|t| *t > base && *t <= top)
    })
}
