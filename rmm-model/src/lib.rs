//! A software model of the Arm CCA Realm Management Monitor.
//!
//! It implements the realm side of the *Realm Management Monitor specification*, Arm DEN0137
//! RMM 1.0-rel0, with the behaviour of the reference RMM, TF-RMM v0.8.0, wherever the two
//! differ (each such place says so). It is what lets realm code run without an RMM: the host
//! tests call it in process ([`sim::Simulator`], feature `std`), and the QEMU EL2 harness
//! traps the realm's SMCs and answers them with it.
//!
//! What it models (RSI, DEN0137 chapter B5; cca-abi.md §2):
//!
//! - version negotiation for an RMM implementing a chosen range of RSI revisions;
//! - the realm configuration (`RSI_REALM_CONFIG`);
//! - the RIM and four REMs, extended with SHA-256 or SHA-512 exactly as TF-RMM does;
//! - RIPAS per granule, `RSI_IPA_STATE_GET`, and `RSI_IPA_STATE_SET` as an exit to the host,
//!   who decides how much of the range to change and whether to reject;
//! - `RSI_HOST_CALL` as an exit to the host;
//! - the attestation token protocol (`INIT`, `CONTINUE`, signing steps, `INCOMPLETE`,
//!   granule buffers and offsets), with the token bytes from a [`token::TokenIssuer`];
//! - the PSCI and SMCCC calls the RMM answers itself or forwards to the host;
//! - the RSI 1.1 commands (planes, memory permissions, device assignment) as TF-RMM answers
//!   them for a realm with no auxiliary plane and no device assignment, the only kind the
//!   model runs: refusals, plane 0's permission values, and `RSI_MEM_SET_PERM_INDEX` as an
//!   exit to the host. Which TF-RMM that is follows [`RealmConfig::rsi`]: an RMM offering
//!   RSI 1.1 answers as TF-RMM v0.9.0, one offering only RSI 1.0 as TF-RMM v0.8.0's default
//!   build, which dispatches some of those function ids to older handlers.
//!
//! Every bad input gets the status TF-RMM v0.8.0 (or v0.9.0, as above) gives it.
//!
//! # Example
//!
//! Realm code tested on the host: a realm on the model (with a RIM its host measured)
//! extends a REM and gets an attestation token, which verifies against the model's trust
//! anchor. The token issuer signs with the model's published test keys
//! ([`token::InsecureTestIssuer`]), so no real verifier trusts these tokens.
//!
//! ```
//! use cca_abi::measurement::HashAlgorithm;
//! use cca_token::{Policy, Token};
//! use realm_sdk::{Challenge, Realm, RemIndex};
//! use rmm_model::RealmConfig;
//! use rmm_model::sim::Simulator;
//! use rmm_model::token::InsecureTestIssuer;
//!
//! let rim = HashAlgorithm::Sha256.hash(&[b"the realm's image"]);
//! let issuer = InsecureTestIssuer::new();
//! let anchors = [issuer.trust_anchor()];
//! let config = RealmConfig { rim, ..RealmConfig::default() };
//! let mut rmm = Simulator::with_issuer(config, Box::new(issuer));
//!
//! // What the realm does, through realm-sdk as on a real RMM.
//! let mut realm = Realm::new(&mut rmm)?;
//! assert_eq!(realm.rim()?, rim);
//! realm.measurement_extend(RemIndex::REM0, b"stage 1")?;
//! let mut buffer = [0; 4096];
//! let token = realm.attestation_token(&Challenge::for_verifier(b"nonce"), &mut buffer)?;
//!
//! // What a verifier does.
//! let policy = Policy { rim: Some(rim.as_bytes()), ..Policy::default() };
//! Token::parse(token)?.verify(&anchors, &policy)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod islet;
pub mod memory;
mod psci;
pub mod ripas;
#[cfg(feature = "std")]
pub mod rmi;
mod rsi;
#[cfg(feature = "std")]
#[allow(
    unsafe_code,
    reason = "in-process realm memory is the host process's memory"
)]
pub mod sim;
pub mod token;

use alloc::vec::Vec;

use cca_abi::AbiVersion;
use cca_abi::measurement::{HashAlgorithm, Measurement, REM_COUNT};
use cca_abi::rsi::{HOST_CALL_GPRS, RPV_SIZE, Ripas};
use cca_abi::smccc::Regs;

use crate::memory::RealmMemory;
use crate::ripas::RipasMap;
use crate::token::{TokenIssuer, TokenState};

/// The RSI revisions an RMM implements: every revision of `lowest.major` from `lowest` to
/// `highest`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RsiRevisions {
    /// Lowest implemented revision.
    pub lowest: AbiVersion,
    /// Highest implemented revision.
    pub highest: AbiVersion,
}

impl RsiRevisions {
    /// TF-RMM v0.8.0 in its default build: RSI 1.0 only.
    pub const TF_RMM_V0_8: Self = Self {
        lowest: AbiVersion::V1_0,
        highest: AbiVersion::V1_0,
    };
    /// TF-RMM v0.9.0: RSI 1.0 and 1.1.
    pub const TF_RMM_V0_9: Self = Self {
        lowest: AbiVersion::V1_0,
        highest: AbiVersion::V1_1,
    };

    /// Returns whether `v` is implemented.
    #[must_use]
    pub fn supports(&self, v: AbiVersion) -> bool {
        v.major == self.lowest.major && self.lowest <= v && v <= self.highest
    }
}

/// What the host decided when it created the realm, as the model needs it.
#[derive(Clone, Debug)]
pub struct RealmConfig {
    /// IPA width in bits (`RmiRealmParams.s2sz`); the protected half is below
    /// `1 << (ipa_width - 1)`.
    pub ipa_width: u8,
    /// Hash algorithm of the RIM and the REMs.
    pub hash_algorithm: HashAlgorithm,
    /// Realm Personalization Value.
    pub rpv: [u8; RPV_SIZE],
    /// The RIM the host's build produced (see rmi-shim's RIM prediction).
    pub rim: Measurement,
    /// RSI revisions the modelled RMM implements.
    pub rsi: RsiRevisions,
    /// Upper bound on the token size reported by `RSI_ATTESTATION_TOKEN_INIT`: TF-RMM
    /// reports `RMM_CCA_TOKEN_BUFFER` × 4096 = 4096 by default.
    pub token_upper_bound: u64,
    /// `RSI_ATTESTATION_TOKEN_CONTINUE` calls that answer `RSI_INCOMPLETE` with nothing
    /// written before the token is signed, as an RMM interrupted while signing does.
    pub signing_steps: u32,
    /// Number of RECs; REC `i` has the MPIDR TF-RMM derives from index `i`.
    pub recs: usize,
}

impl Default for RealmConfig {
    /// A 48-bit SHA-256 realm with a zero RPV and RIM, one REC, on an RSI 1.0 RMM.
    fn default() -> Self {
        Self {
            ipa_width: 48,
            hash_algorithm: HashAlgorithm::Sha256,
            rpv: [0; RPV_SIZE],
            rim: Measurement::zero(HashAlgorithm::Sha256),
            rsi: RsiRevisions::TF_RMM_V0_8,
            token_upper_bound: 4096,
            signing_steps: 0,
            recs: 1,
        }
    }
}

/// The MPIDR of REC `index`: Aff0\[3:0\] = index bits 3:0, Aff1 = bits 11:4, Aff2 = bits
/// 19:12, Aff3 = bits 27:20 (TF-RMM `runtime/include/rec.h`, cca-abi.md §8).
#[must_use]
pub const fn rec_mpidr(index: usize) -> u64 {
    let i = index as u64;
    (i & 0xf) | ((i >> 4) & 0xff) << 8 | ((i >> 12) & 0xff) << 16 | ((i >> 20) & 0xff) << 32
}

/// Why the REC stopped and what the host has to do (`RmiRecExit` reasons).
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per REC exit; boxing would allocate on every host call"
)]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum RecExit {
    /// `RMI_EXIT_HOST_CALL`: the realm called `RSI_HOST_CALL`.
    HostCall {
        /// The immediate.
        imm: u16,
        /// The registers of the `RsiHostCall`.
        gprs: [u64; HOST_CALL_GPRS],
    },
    /// `RMI_EXIT_RIPAS_CHANGE`: the realm asks for `[base, top)` to become `ripas`.
    RipasChange {
        /// Base of the range.
        base: u64,
        /// Top of the range.
        top: u64,
        /// Requested RIPAS (EMPTY or RAM).
        ripas: Ripas,
        /// Whether DESTROYED granules may change.
        change_destroyed: bool,
    },
    /// `RMI_EXIT_PSCI`: a PSCI call the host handles (`gprs[0]` = function id, then the
    /// arguments).
    Psci {
        /// PSCI function id.
        fid: u32,
        /// `x1..x3` of the call.
        args: [u64; 3],
    },
    /// `RMI_EXIT_S2AP_CHANGE`: the realm asks (`RSI_MEM_SET_PERM_INDEX`) for `[base, top)`
    /// to get permission index `index`.
    S2apChange {
        /// Base of the range (`RmiRecExit.s2ap_base`).
        base: u64,
        /// Top of the range (`RmiRecExit.s2ap_top`).
        top: u64,
        /// The permission index (kept by the RMM, not in `RmiRecExit`).
        index: u64,
    },
    /// The model needed realm memory the backing store does not have (on an RMM, a stage-2
    /// data abort the host must resolve). The call is retried on the next entry.
    DataAbort {
        /// The address.
        ipa: u64,
    },
}

/// What [`RealmModel::handle_smc`] did.
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per REC exit; boxing would allocate on every host call"
)]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Step {
    /// The call completed; the result is in the registers and the realm resumes.
    Resume,
    /// The REC exits to the host, which must answer with [`RealmModel::enter`].
    Exit(RecExit),
}

/// The host's answer when it enters the REC again after an exit.
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per REC exit; boxing would allocate on every host call"
)]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum HostResponse {
    /// After [`RecExit::HostCall`]: the registers to copy back into the `RsiHostCall`.
    HostCall {
        /// Registers for the realm.
        gprs: [u64; HOST_CALL_GPRS],
    },
    /// After [`RecExit::RipasChange`]: the host changed `[base, progress)` (as many
    /// `RMI_RTT_SET_RIPAS` calls would) and may reject the rest.
    Ripas {
        /// First address not changed (`base` to `top`, granule aligned).
        progress: u64,
        /// `RMI_REC_ENTER` flag `RIPAS_RESPONSE` = REJECT.
        reject: bool,
    },
    /// After [`RecExit::S2apChange`]: the host changed `[base, progress)` (as its
    /// `RMI_RTT_SET_S2AP` calls would) and may reject the request.
    S2ap {
        /// First address not changed (`base` to `top`, granule aligned).
        progress: u64,
        /// `RMI_REC_ENTER` flag `S2AP_RESPONSE` = REJECT.
        reject: bool,
    },
    /// After [`RecExit::Psci`] for `CPU_ON` or `AFFINITY_INFO`: `RMI_PSCI_COMPLETE` with
    /// this PSCI status (0 = success).
    PsciComplete {
        /// Status the host reports.
        status: i32,
    },
    /// After any other exit: enter with nothing to report.
    Resume,
}

/// Why the host could not enter the REC (the `RMI_REC_ENTER` / `RMI_PSCI_COMPLETE` errors).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum EnterError {
    /// The realm is off (`SYSTEM_OFF` / `SYSTEM_RESET`): `RMI_ERROR_REALM`.
    RealmOff,
    /// No REC with that index.
    NoSuchRec,
    /// The REC is not runnable (`CPU_OFF`, never started): `RMI_ERROR_REC`.
    NotRunnable,
    /// The response does not answer the pending exit: `RMI_ERROR_INPUT`.
    WrongResponse,
    /// The RIPAS (or S2AP) progress is outside the requested range or unaligned:
    /// `RMI_ERROR_INPUT`.
    BadProgress,
}

impl core::fmt::Display for EnterError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::RealmOff => "the realm is off (RMI_ERROR_REALM)",
            Self::NoSuchRec => "no REC with that index",
            Self::NotRunnable => "the REC is not runnable (RMI_ERROR_REC)",
            Self::WrongResponse => {
                "the response does not answer the pending exit (RMI_ERROR_INPUT)"
            }
            Self::BadProgress => {
                "the RIPAS or S2AP progress is outside the requested range or unaligned (RMI_ERROR_INPUT)"
            }
        })
    }
}

/// State of one REC.
#[derive(Clone, Debug)]
pub struct RecState {
    mpidr: u64,
    runnable: bool,
    pending: Option<RecExit>,
    token: TokenState,
}

impl RecState {
    /// The REC's MPIDR.
    #[must_use]
    pub fn mpidr(&self) -> u64 {
        self.mpidr
    }

    /// Whether the REC may run.
    #[must_use]
    pub fn runnable(&self) -> bool {
        self.runnable
    }
}

/// One realm as the RMM sees it.
pub struct RealmModel<I: TokenIssuer> {
    config: RealmConfig,
    rems: [Measurement; REM_COUNT],
    ripas: RipasMap,
    recs: Vec<RecState>,
    off: bool,
    issuer: I,
    islet: Option<islet::IsletSealing>,
}

impl<I: TokenIssuer> RealmModel<I> {
    /// A realm in the state `RMI_REALM_ACTIVATE` leaves it: REC 0 runnable, the others not,
    /// RIPAS `RAM` over `ram` (what the host's `RMI_RTT_INIT_RIPAS` calls covered) and `EMPTY`
    /// elsewhere, REMs zero.
    pub fn new(config: RealmConfig, ram: &[(u64, u64)], issuer: I) -> Self {
        let mut ripas = RipasMap::new();
        for &(base, top) in ram {
            ripas.set(base, top, Ripas::Ram);
        }
        let recs = (0..config.recs.max(1))
            .map(|i| RecState {
                mpidr: rec_mpidr(i),
                runnable: i == 0,
                pending: None,
                token: TokenState::Idle,
            })
            .collect();
        let zero = Measurement::zero(config.hash_algorithm);
        Self {
            config,
            rems: [zero; REM_COUNT],
            ripas,
            recs,
            off: false,
            islet: None,
            issuer,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RealmConfig {
        &self.config
    }

    /// The RIM.
    pub fn rim(&self) -> Measurement {
        self.config.rim
    }

    /// REM\[0\] to REM\[3\].
    pub fn rems(&self) -> &[Measurement; REM_COUNT] {
        &self.rems
    }

    /// The RIPAS map.
    pub fn ripas(&self) -> &RipasMap {
        &self.ripas
    }

    /// Sets RIPAS as the host may before activation (`RMI_RTT_INIT_RIPAS`) or after a
    /// destroy (`DESTROYED`).
    pub fn host_set_ripas(&mut self, base: u64, top: u64, ripas: Ripas) {
        self.ripas.set(base, top, ripas);
    }

    /// The RECs.
    pub fn recs(&self) -> &[RecState] {
        &self.recs
    }

    /// Whether the realm was switched off with `SYSTEM_OFF` or `SYSTEM_RESET`.
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// The token issuer.
    pub fn issuer_mut(&mut self) -> &mut I {
        &mut self.issuer
    }

    /// Size of the protected IPA range: `2^(ipa_width - 1)` (TF-RMM `realm.h`).
    pub fn par_size(&self) -> u64 {
        1u64 << (self.config.ipa_width - 1)
    }

    /// Returns whether `[base, base + len)` lies in the protected IPA range.
    pub fn in_par(&self, base: u64, len: u64) -> bool {
        base.checked_add(len)
            .is_some_and(|top| top <= self.par_size())
    }

    /// Handles an SMC the realm made on REC `rec` with registers `regs`.
    ///
    /// RSI, PSCI and SMCCC calls are answered in `regs` ([`Step::Resume`]) or turned into a
    /// REC exit ([`Step::Exit`]); anything else gets `SMC_UNKNOWN`.
    ///
    /// # Panics
    ///
    /// Never for any register values; `rec` out of range or a REC with an exit still
    /// pending is a bug in the caller and answered with `SMC_UNKNOWN`.
    pub fn handle_smc(&mut self, rec: usize, regs: &mut Regs, mem: &mut dyn RealmMemory) -> Step {
        if self.recs.get(rec).is_none_or(|r| r.pending.is_some()) {
            regs[0] = cca_abi::smccc::SMCCC_NOT_SUPPORTED;
            return Step::Resume;
        }
        if let (islet::ISLET_REALM_SEALING_KEY, Some(sim)) = (regs[0], self.islet) {
            islet::sealing_key(sim, &self.config, regs);
            return Step::Resume;
        }
        let step = if let Some(cmd) = cca_abi::rsi::RsiCommand::from_regs(regs) {
            self.handle_rsi(rec, cmd, regs, mem)
        } else if let Some(step) = self.handle_v0_8_rdev(regs) {
            step
        } else {
            self.handle_psci(rec, regs)
        };
        if let Step::Exit(exit) = &step
            && !matches!(exit, RecExit::DataAbort { .. })
        {
            self.recs[rec].pending = Some(exit.clone());
        }
        step
    }

    /// Answers Islet's vendor call `RSI_ISLET_REALM_SEALING_KEY` from now on, as a realm on
    /// Islet's RMM with `sim` would see it ([`islet`]: a simulation with public keys).
    /// Without this the call is unknown, as on TF-RMM.
    pub fn simulate_islet_sealing(&mut self, sim: islet::IsletSealing) {
        self.islet = Some(sim);
    }

    /// Enters REC `rec` again after an exit, applying the host's `response`.
    pub fn enter(
        &mut self,
        rec: usize,
        regs: &mut Regs,
        response: HostResponse,
        mem: &mut dyn RealmMemory,
    ) -> Result<(), EnterError> {
        if self.off {
            return Err(EnterError::RealmOff);
        }
        let state = self.recs.get(rec).ok_or(EnterError::NoSuchRec)?;
        if !state.runnable {
            return Err(EnterError::NotRunnable);
        }
        match (state.pending.clone(), response) {
            (None, HostResponse::Resume) => Ok(()),
            (Some(RecExit::HostCall { .. }), HostResponse::HostCall { gprs }) => {
                self.complete_host_call(rec, regs, &gprs, mem)
            }
            (
                Some(RecExit::RipasChange {
                    base,
                    top,
                    ripas,
                    change_destroyed,
                }),
                HostResponse::Ripas { progress, reject },
            ) => self.complete_ripas(
                rec,
                regs,
                (base, top, ripas, change_destroyed),
                progress,
                reject,
            ),
            (
                Some(RecExit::S2apChange { base, top, .. }),
                HostResponse::S2ap { progress, reject },
            ) => self.complete_s2ap(rec, regs, (base, top), progress, reject),
            (Some(RecExit::Psci { fid, args }), response) => {
                self.complete_psci(rec, regs, fid, args, response)
            }
            _ => Err(EnterError::WrongResponse),
        }
    }

    /// `RMI_PSCI_COMPLETE`: completes the pending `CPU_ON` or `AFFINITY_INFO` of REC `rec`
    /// with the host's `status`, at once (as TF-RMM does): the target REC of a successful
    /// `CPU_ON` becomes runnable, and `regs` (the calling REC's) get the result.
    pub fn psci_complete(
        &mut self,
        rec: usize,
        regs: &mut Regs,
        status: i32,
    ) -> Result<(), EnterError> {
        let Some(RecExit::Psci { fid, args }) = self
            .recs
            .get(rec)
            .ok_or(EnterError::NoSuchRec)?
            .pending
            .clone()
        else {
            return Err(EnterError::WrongResponse);
        };
        self.complete_psci(rec, regs, fid, args, HostResponse::PsciComplete { status })
    }

    fn complete_host_call(
        &mut self,
        rec: usize,
        regs: &mut Regs,
        gprs: &[u64; HOST_CALL_GPRS],
        mem: &mut dyn RealmMemory,
    ) -> Result<(), EnterError> {
        // The structure was checked when the call was made; write the registers back.
        let ipa = regs[1];
        let mut bytes = [0u8; HOST_CALL_GPRS * 8];
        for (chunk, g) in bytes.chunks_mut(8).zip(gprs) {
            chunk.copy_from_slice(&g.to_le_bytes());
        }
        self.recs[rec].pending = None;
        regs[0] = if mem.write(ipa + 8, &bytes).is_ok() {
            cca_abi::rsi::RsiStatus::Success.to_raw()
        } else {
            cca_abi::rsi::RsiStatus::ErrorInput.to_raw()
        };
        Ok(())
    }

    /// TF-RMM v0.9.0 `runtime/rmi/run.c` (`complete_set_s2ap`), for a realm whose planes share
    /// one stage-2 tree: x1 = where the host stopped, x2 = the host's response (whatever the
    /// progress), x3 = the next cookie, always 0 for such a realm.
    fn complete_s2ap(
        &mut self,
        rec: usize,
        regs: &mut Regs,
        (base, top): (u64, u64),
        progress: u64,
        reject: bool,
    ) -> Result<(), EnterError> {
        if progress < base || progress > top || !cca_abi::is_granule_aligned(progress) {
            return Err(EnterError::BadProgress);
        }
        self.recs[rec].pending = None;
        regs[0] = cca_abi::rsi::RsiStatus::Success.to_raw();
        regs[1] = progress;
        regs[2] = if reject {
            cca_abi::rsi::RsiResponse::Reject.to_raw()
        } else {
            cca_abi::rsi::RsiResponse::Accept.to_raw()
        };
        regs[3] = 0;
        Ok(())
    }

    fn complete_ripas(
        &mut self,
        rec: usize,
        regs: &mut Regs,
        (base, top, ripas, change_destroyed): (u64, u64, Ripas, bool),
        progress: u64,
        reject: bool,
    ) -> Result<(), EnterError> {
        if progress < base || progress > top || !cca_abi::is_granule_aligned(progress) {
            return Err(EnterError::BadProgress);
        }
        // Without RSI_CHANGE_DESTROYED, RMI_RTT_SET_RIPAS stops at the first DESTROYED
        // granule (DEN0137 B4.3.16 failure conditions), so the change ends there.
        let mut end = progress;
        if !change_destroyed {
            let mut at = base;
            while at < end {
                let (r, run_end) = self.ripas.run(at, end);
                if r == Ripas::Destroyed {
                    end = at;
                    break;
                }
                at = run_end;
            }
        }
        self.ripas.set(base, end, ripas);
        // REJECT only means something for a RAM request the host did not complete.
        let rejected = reject && ripas == Ripas::Ram && end < top;
        self.recs[rec].pending = None;
        regs[0] = cca_abi::rsi::RsiStatus::Success.to_raw();
        regs[1] = end;
        regs[2] = if rejected {
            cca_abi::rsi::RsiResponse::Reject.to_raw()
        } else {
            cca_abi::rsi::RsiResponse::Accept.to_raw()
        };
        Ok(())
    }
}
