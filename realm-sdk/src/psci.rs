//! PSCI calls a realm makes (Arm DEN0022 PSCI 1.1, as the RMM handles them: cca-abi.md §1.3).
//!
//! The RMM answers `PSCI_VERSION` and `PSCI_FEATURES` itself and forwards the rest to the
//! host as a `RMI_EXIT_PSCI` REC exit. Function ids and error codes come from the `smccc`
//! crate; the calls go through the same [`Conduit`] as RSI.

use cca_abi::smccc::{Conduit, regs};
pub use smccc::psci::{
    Error as PsciError, PSCI_AFFINITY_INFO_64, PSCI_CPU_OFF, PSCI_CPU_ON_64, PSCI_FEATURES,
    PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_VERSION, Version,
};

/// Power state of a CPU as `AFFINITY_INFO` reports it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum AffinityState {
    /// 0: the CPU is on.
    On,
    /// 1: the CPU is off.
    Off,
    /// 2: the CPU is being turned on.
    OnPending,
}

fn call(conduit: &mut (impl Conduit + ?Sized), fid: u32, args: &[u64]) -> i64 {
    // PSCI returns a signed 32-bit value; SMC64 calls sign-extend it to 64 bits.
    #[allow(clippy::cast_possible_truncation, reason = "PSCI results are 32-bit")]
    let ret = conduit.call(regs(fid, args))[0] as i32;
    i64::from(ret)
}

fn status(ret: i64) -> Result<(), PsciError> {
    if ret == 0 { Ok(()) } else { Err(ret.into()) }
}

/// `PSCI_VERSION`.
pub fn version(conduit: &mut (impl Conduit + ?Sized)) -> Result<Version, PsciError> {
    let ret = call(conduit, PSCI_VERSION, &[]);
    if ret < 0 {
        return Err(ret.into());
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "16-bit fields"
    )]
    Ok(Version {
        major: (ret >> 16) as u16,
        minor: ret as u16,
    })
}

/// `PSCI_FEATURES`: whether `fid` is implemented, and its feature flags if so.
pub fn features(conduit: &mut (impl Conduit + ?Sized), fid: u32) -> Result<u32, PsciError> {
    let ret = call(conduit, PSCI_FEATURES, &[u64::from(fid)]);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "non-negative i32"
    )]
    if ret >= 0 {
        Ok(ret as u32)
    } else {
        Err(ret.into())
    }
}

/// `CPU_ON` (SMC64): starts the REC whose MPIDR is `target` at `entry` (a protected IPA)
/// with `context_id` in `x0`.
pub fn cpu_on(
    conduit: &mut (impl Conduit + ?Sized),
    target: u64,
    entry: u64,
    context_id: u64,
) -> Result<(), PsciError> {
    status(call(conduit, PSCI_CPU_ON_64, &[target, entry, context_id]))
}

/// `CPU_OFF`: stops the calling REC. Returns only if the call failed.
pub fn cpu_off(conduit: &mut (impl Conduit + ?Sized)) -> Result<(), PsciError> {
    status(call(conduit, PSCI_CPU_OFF, &[]))
}

/// `AFFINITY_INFO` (SMC64) for the REC whose MPIDR is `target` (level 0 only, as the RMM
/// requires).
pub fn affinity_info(
    conduit: &mut (impl Conduit + ?Sized),
    target: u64,
) -> Result<AffinityState, PsciError> {
    match call(conduit, PSCI_AFFINITY_INFO_64, &[target, 0]) {
        0 => Ok(AffinityState::On),
        1 => Ok(AffinityState::Off),
        2 => Ok(AffinityState::OnPending),
        err => Err(err.into()),
    }
}

/// `SYSTEM_OFF`: powers the realm off. On an RMM it does not return; a model may return.
pub fn system_off(conduit: &mut (impl Conduit + ?Sized)) -> Result<(), PsciError> {
    status(call(conduit, PSCI_SYSTEM_OFF, &[]))
}

/// `SYSTEM_RESET`: asks the host to reset the realm. On an RMM it does not return.
pub fn system_reset(conduit: &mut (impl Conduit + ?Sized)) -> Result<(), PsciError> {
    status(call(conduit, PSCI_SYSTEM_RESET, &[]))
}

/// The most RECs a realm can have here: `rmi-shim`'s builder creates 1 to 16, and the
/// runtime's `smp` module has one launch slot per REC.
pub const MAX_RECS: usize = 16;

/// The MPIDR of REC `index`: the layout TF-RMM gives REC indices (`lib/arch/include/arch.h`
/// and `runtime/include/rec.h` of v0.8.0 and v0.9.0, `mpidr_to_rec_idx`): Aff0\[3:0\] is
/// index\[3:0\], Aff1 index\[11:4\], Aff2 index\[19:12\], Aff3 index\[27:20\]. RECs are created
/// with consecutive indices from 0, REC 0 being the one the host starts.
#[must_use]
pub const fn rec_mpidr(index: usize) -> u64 {
    let i = index as u64;
    (i & 0xf) | ((i >> 4) & 0xff) << 8 | ((i >> 12) & 0xff) << 16 | ((i >> 20) & 0xff) << 32
}

/// Counts the realm's RECs (1 to [`MAX_RECS`]) by asking `AFFINITY_INFO` about REC 1, 2, ...
/// until the RMM answers `INVALID_PARAMETERS`.
///
/// Why `AFFINITY_INFO` rather than `CPU_ON` or a build-time constant: the RMM itself refuses
/// an MPIDR whose REC index is at or past the realm's REC count, before the host sees the
/// call (TF-RMM v0.8.0 and v0.9.0 `runtime/rsi/psci.c`, `psci_affinity_info`), so the
/// answer comes from the RMM, which the realm trusts, not from the host; and unlike
/// `CPU_ON` the probe starts nothing. A build-time constant could not follow the host's
/// configuration. A valid MPIDR does exit to the host (one round trip per REC), whose only
/// choice is to complete the call (the RMM computes ON or OFF) or stall the realm.
///
/// Any other error ends the count there (a REC the realm cannot ask about is not one it can
/// use).
pub fn count_recs(conduit: &mut (impl Conduit + ?Sized)) -> usize {
    (1..MAX_RECS)
        .find(|&i| affinity_info(conduit, rec_mpidr(i)).is_err())
        .unwrap_or(MAX_RECS)
}
