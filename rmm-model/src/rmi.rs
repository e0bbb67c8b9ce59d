//! The host side of the model: RMI 1.0 (DEN0137 1.0-rel0 chapter B4) as TF-RMM v0.8.0
//! implements it, with granule states, the realm / REC / RTT / DATA life cycle and the RIM;
//! or, per instance ([`RmmConfig::generation`]), RMI 2.0 as TF-RMM v0.9.0 implements it
//! (realm lifecycle and memory; see the `v2` module and [`RmmConfig::tf_rmm_v0_9`]).
//!
//! [`Rmm`] is a [`Conduit`] for a host: every RMI command a host (rmi-shim's builder) issues
//! is checked the way the RMM checks it and answered with the RMM's status. Realms run in
//! process: `RMI_REC_ENTER` runs the realm's Rust code ([`RealmProgram`]) on a thread of its
//! own, whose SMCs reach the RSI side of the model ([`RealmModel`]); each REC exit returns
//! from `REC_ENTER` with `RmiRecExit` filled in, as on hardware.
//!
//! What is simplified, on purpose:
//! - physical memory: delegated granules are addresses in a range the model owns (never
//!   dereferenced); DATA contents are kept by the model. Non-secure pages the host passes
//!   (parameters, DATA sources, `RmiRecRun`) are the host process's memory, at their address.
//! - the in-process realm's own memory is the process's memory too: its RSI checks treat the
//!   whole protected range as RAM unless the realm asked for a RIPAS change (see
//!   [`crate::sim`]). The image populated with DATA is measured, not executed.
//! - RTTs map DATA only at level 3 (no block mappings), and `RTT_FOLD` folds only tables of
//!   UNASSIGNED entries.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::sync::mpsc;
use std::thread::JoinHandle;

use cca_abi::measurement::HashAlgorithm;
use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams, Rim};
use cca_abi::rmi::{
    Generation, RealmFlags, RecEnterFlags, RmiCommand, RmiDataMeasureContent, RmiExitReason,
    RmiFeatureRegister0, RmiRealmParams, RmiRecParams, RmiRecRun, RmiReturn, RmiRttEntryState,
    RmiStatus, TF_RMM_REC_AUX_COUNT,
};
use cca_abi::rsi::Ripas;
use cca_abi::smccc::{Conduit, Regs, psci};
use cca_abi::{AbiVersion, GRANULE_SIZE, is_granule_aligned};
use zerocopy::{FromZeros, IntoBytes};

use crate::memory::{HostMemory, RealmMemory, Unmapped};
use crate::token::TokenIssuer;
use crate::{HostResponse, RealmConfig, RealmModel, RecExit, RsiRevisions, Step};

mod v2;
pub mod vtimer;

const GRANULE: u64 = GRANULE_SIZE as u64;

/// The ESR of the model's data-abort exits: EC 0x24 (data abort from a lower Exception
/// level) without a valid syndrome, DFSC 0b000111 (translation fault, level 3): what a host
/// populating RAM on demand looks for (TF-RMM `exit.c` `handle_data_abort` keeps the DFSC).
pub(crate) const DATA_ABORT_ESR: u64 = (0x24 << 26) | 0b00_0111;

/// **Not an RMM call**: the in-process stand-in for a load (`x0` = this, `x1` = IPA, `x2` =
/// size, 1 to 8 bytes, not crossing a granule; the value returns in `x1`) at an unprotected
/// IPA. A realm on hardware just executes the load; the stage-2 translation the host built
/// with `RMI_RTT_MAP_UNPROTECTED` serves it, or the REC exits to the host with a data abort.
/// An in-process realm has no stage 2 of its own, so it asks the model, which walks the
/// realm's RTTs the same way: a mapped page is the host memory the descriptor names; an
/// unmapped one makes `RMI_REC_ENTER` return a data abort at that IPA, and the access is
/// retried when the host enters the REC again. (An SMC id in the vendor-specific RSI range
/// that neither TF-RMM nor Islet uses.)
pub const MODEL_UNPROTECTED_READ: u64 = 0xC700_01AE;
/// **Not an RMM call**: the store counterpart of [`MODEL_UNPROTECTED_READ`] (`x3` = value,
/// little-endian, its low `x2` bytes stored).
pub const MODEL_UNPROTECTED_WRITE: u64 = 0xC700_01AF;

/// The realm code an in-process REC runs: called once per REC, on its own thread, with the
/// REC's index and the conduit its SMCs go through.
pub type RealmProgram = Arc<dyn Fn(usize, &mut dyn Conduit) + Send + Sync>;

/// Makes the token issuer of each realm.
pub type IssuerFactory = Arc<dyn Fn() -> Box<dyn TokenIssuer + Send> + Send + Sync>;

/// What the modelled RMM and platform offer.
#[derive(Clone)]
pub struct RmmConfig {
    /// `RMI_FEATURES` register 0.
    pub features0: RmiFeatureRegister0,
    /// Physical addresses the host may delegate: `[base, top)`.
    pub delegable: (u64, u64),
    /// RMI revisions implemented.
    pub rmi: RsiRevisions,
    /// RSI revisions implemented.
    pub rsi: RsiRevisions,
    /// The token issuer of each realm.
    pub issuer: Option<IssuerFactory>,
    /// The RMI generation the RMM implements: [`Generation::V1_0`] (TF-RMM v0.8.0) or
    /// [`Generation::V2_0`] (TF-RMM v0.9.0; `rmi` is then ignored: `RMI_VERSION` offers 2.0
    /// only).
    pub generation: Generation,
    /// RMI 2.0: the number of stateful-operation contexts (TF-RMM v0.9.0: `MAX_CPUS` × 10,
    /// 320 on QEMU; `lib/sro_context/src/sro_context.c`). A host that leaves this many
    /// operations unfinished gets `RMI_BLOCKED`.
    pub sro_contexts: usize,
}

impl Default for RmmConfig {
    /// TF-RMM v0.8.0 on QEMU 10 `-cpu max`: the `RMI_FEATURES(0)` value measured there
    /// (S2SZ 52, LPA2, SVE, 6 breakpoints, 4 watchpoints, PMU with 6 counters, SHA-256 and
    /// SHA-512, 4 GIC list registers, 1023 RECs), RMI and RSI 1.0, and 64 MiB to delegate.
    fn default() -> Self {
        Self {
            features0: RmiFeatureRegister0 {
                s2sz: 52,
                lpa2: true,
                sve: true,
                sve_vl: 15,
                num_bps: 5,
                num_wps: 3,
                pmu: true,
                pmu_num_ctrs: 6,
                hash_sha_256: true,
                hash_sha_512: true,
                gicv3_num_lrs: 3,
                max_recs_order: 10,
                ..RmiFeatureRegister0::from_raw(0)
            },
            delegable: (0x1_0000_0000, 0x1_0400_0000),
            rmi: RsiRevisions::TF_RMM_V0_8,
            rsi: RsiRevisions::TF_RMM_V0_8,
            issuer: None,
            generation: Generation::V1_0,
            sro_contexts: 320,
        }
    }
}

impl RmmConfig {
    /// TF-RMM v0.9.0 (RMI 2.0, RSI 1.0 and 1.1) on the same platform as [`Self::default`],
    /// without device assignment, auxiliary planes or MEC.
    #[must_use]
    pub fn tf_rmm_v0_9() -> Self {
        Self {
            generation: Generation::V2_0,
            rsi: RsiRevisions::TF_RMM_V0_9,
            ..Self::default()
        }
    }
}

/// State of a granule the host delegated (GPT Realm PAS). Granules not in the map are NS.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum GranuleState {
    /// Delegated, unused.
    Delegated,
    /// A Realm Descriptor.
    Rd,
    /// A REC.
    Rec,
    /// A REC auxiliary granule.
    RecAux,
    /// Realm DATA.
    Data,
    /// A Realm Translation Table.
    Rtt,
    /// RMI 2.0: a REC granule in the middle of a stateful `RMI_REC_CREATE` or
    /// `RMI_REC_DESTROY` (TF-RMM `GRANULE_STATE_PARTIAL`); it cannot be undelegated.
    Partial,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum EntryState {
    Unassigned,
    Assigned(u64),
    Table(u64),
    /// An unprotected mapping: the host's descriptor (output address and attributes).
    AssignedNs(u64),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    state: EntryState,
    ripas: Ripas,
}

struct Table {
    level: i8,
    base: u64,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum RealmState {
    New,
    Active,
    SystemOff,
}

struct Realm {
    state: RealmState,
    s2sz: u32,
    start_level: i8,
    root: u64,
    root_granules: Vec<u64>,
    tables: BTreeMap<u64, Table>,
    rim: Rim,
    config: RealmConfig,
    vmid: u16,
    recs: Vec<u64>,
    live_recs: usize,
    data: BTreeMap<u64, Box<[u8; GRANULE_SIZE]>>,
    model: Option<RealmModel<Box<dyn TokenIssuer + Send>>>,
}

enum ToRmm {
    Smc(Regs),
    Done,
}

/// Realm memory as the RMM reaches it for an in-process realm: process memory, except that
/// RAM the host's RTTs describe must be ASSIGNED. An UNASSIGNED entry with RIPAS RAM (a
/// page, or a whole block without a level-3 table) is a stage-2 fault the host resolves (it
/// populates RAM on demand, as TF-RMM makes it: the REC exits with a data abort and the RSI
/// call runs again). Memory outside RAM (the test process's own buffers, RIPAS EMPTY) is
/// reached directly.
struct AssignedRam<'a> {
    tables: &'a BTreeMap<u64, Table>,
    root: u64,
    /// The top of the realm's IPA space: the RTTs describe nothing above.
    limit: u64,
}

impl AssignedRam<'_> {
    fn check(&self, ipa: u64, len: usize) -> Result<(), Unmapped> {
        let end = ipa.saturating_add(len as u64).min(self.limit);
        let mut page = ipa & !(GRANULE - 1);
        while page < end {
            let (table, _, idx) = Rmm::walk_tables(self.tables, self.root, page, 3);
            let entry = self.tables[&table].entries[idx];
            if entry.state == EntryState::Unassigned && entry.ripas == Ripas::Ram {
                return Err(Unmapped { ipa: page.max(ipa) });
            }
            page += GRANULE;
        }
        Ok(())
    }
}

impl RealmMemory for AssignedRam<'_> {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        self.check(ipa, buf.len())?;
        HostMemory.read(ipa, buf)
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), Unmapped> {
        self.check(ipa, data.len())?;
        HostMemory.write(ipa, data)
    }
}

struct RecThread {
    to_realm: mpsc::Sender<Regs>,
    from_realm: mpsc::Receiver<ToRmm>,
    handle: Option<JoinHandle<()>>,
}

struct Rec {
    rd: u64,
    index: usize,
    aux: Vec<u64>,
    regs: Regs,
    pending: Option<RecExit>,
    ripas_progress: u64,
    thread: Option<RecThread>,
    /// The pending exit is a data abort of a model access, to retry on entry.
    retry_access: bool,
    /// The pending exit is a data abort of an RSI call that reached unpopulated RAM: the
    /// call runs again on entry (TF-RMM re-executes it once the host mapped the page).
    retry_smc: bool,
    /// The EL1 virtual timer and GIC list registers (RMI 1.0).
    vtimer: vtimer::VirtualTimer,
}

impl Rec {
    /// REC `index` of the realm `rd`, with its auxiliary granules and `x0..x7` at entry.
    fn new(rd: u64, index: usize, aux: Vec<u64>, gprs: &[u64; 8]) -> Self {
        let mut regs = [0u64; 18];
        regs[..8].copy_from_slice(gprs);
        Self {
            rd,
            index,
            aux,
            regs,
            pending: None,
            ripas_progress: 0,
            thread: None,
            retry_access: false,
            retry_smc: false,
            vtimer: vtimer::VirtualTimer::default(),
        }
    }
}

/// The marker a REC thread unwinds with when its REC is destroyed.
struct RecGone;

/// The conduit of an in-process REC: each SMC goes to the RMM thread and waits for its reply.
struct RecConduit {
    to_rmm: mpsc::Sender<ToRmm>,
    from_rmm: mpsc::Receiver<Regs>,
}

impl Conduit for RecConduit {
    fn call(&mut self, regs: Regs) -> Regs {
        if self.to_rmm.send(ToRmm::Smc(regs)).is_err() {
            std::panic::resume_unwind(Box::new(RecGone));
        }
        self.from_rmm
            .recv()
            .unwrap_or_else(|_| std::panic::resume_unwind(Box::new(RecGone)))
    }
}

/// The modelled RMM of one machine.
pub struct Rmm {
    config: RmmConfig,
    granules: BTreeMap<u64, GranuleState>,
    realms: BTreeMap<u64, Realm>,
    recs: BTreeMap<u64, Rec>,
    program: Option<RealmProgram>,
    calls: u64,
    fail_at: Option<u64>,
    /// Every call from this one on fails ([`Self::fail_from`]).
    fail_from: Option<u64>,
    log: Vec<(RmiCommand, RmiReturn)>,
    v2: v2::State,
}

fn err(status: RmiStatus) -> RmiReturn {
    RmiReturn::new(status, 0)
}

fn rtt_err(level: i8) -> RmiReturn {
    #[allow(clippy::cast_sign_loss, reason = "levels reached by a walk are 0 to 3")]
    RmiReturn::new(RmiStatus::ErrorRtt, level.max(0) as u8)
}

/// Bytes mapped by one entry of a table at `level` (4 KiB granule).
const fn entry_size(level: i8) -> u64 {
    1 << (12 + 9 * (3 - level) as u32)
}

type Reply = Result<[u64; 4], RmiReturn>;

impl Rmm {
    /// An RMM with nothing delegated.
    #[must_use]
    pub fn new(config: RmmConfig) -> Self {
        Self {
            config,
            granules: BTreeMap::new(),
            realms: BTreeMap::new(),
            recs: BTreeMap::new(),
            program: None,
            calls: 0,
            fail_at: None,
            fail_from: None,
            log: Vec::new(),
            v2: v2::State::default(),
        }
    }

    /// The code RECs of realms run when entered.
    pub fn set_program(&mut self, program: RealmProgram) {
        self.program = Some(program);
    }

    /// Makes the `n`-th RMI call from now (0 = the next) fail with `RMI_ERROR_INPUT` and no
    /// effect, to test the host's error paths.
    pub fn fail_call(&mut self, n: u64) {
        self.fail_at = Some(self.calls + n);
    }

    /// Makes every RMI call from the `n`-th from now on fail with `RMI_ERROR_INPUT` and no
    /// effect: an RMM that stopped cooperating, so that the host's teardown cannot finish.
    pub fn fail_from(&mut self, n: u64) {
        self.fail_from = Some(self.calls + n);
    }

    /// Counts a call; says whether a fault injected by [`Self::fail_call`] or
    /// [`Self::fail_from`] hits it.
    pub(crate) fn next_call_faults(&mut self) -> bool {
        let n = self.calls;
        self.calls += 1;
        self.fail_at == Some(n) || self.fail_from.is_some_and(|f| n >= f)
    }

    /// Number of RMI calls so far.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Every RMI 1.0 command and its result, in order (an RMI 2.0 RMM logs in
    /// [`Self::log2`]).
    #[must_use]
    pub fn log(&self) -> &[(RmiCommand, RmiReturn)] {
        &self.log
    }

    /// Number of granules not in the Non-secure PAS (delegated, in any state).
    #[must_use]
    pub fn delegated_count(&self) -> usize {
        self.granules.len()
    }

    /// The state of the granule at `pa`; `None` if it is Non-secure.
    #[must_use]
    pub fn granule(&self, pa: u64) -> Option<GranuleState> {
        self.granules.get(&pa).copied()
    }

    /// The RIM of the realm whose RD is at `rd`, as the RMM has measured it so far.
    #[must_use]
    pub fn rim(&self, rd: u64) -> Option<cca_abi::measurement::Measurement> {
        self.realms.get(&rd).map(|r| r.rim.measurement())
    }

    /// The RSI side of an active realm (REMs, RIPAS, ...).
    #[must_use]
    pub fn realm_model(&self, rd: u64) -> Option<&RealmModel<Box<dyn TokenIssuer + Send>>> {
        self.realms.get(&rd).and_then(|r| r.model.as_ref())
    }

    fn state(&self, pa: u64) -> Option<GranuleState> {
        self.granules.get(&pa).copied()
    }

    fn expect(&self, pa: u64, state: GranuleState) -> Result<(), RmiReturn> {
        if is_granule_aligned(pa) && self.state(pa) == Some(state) {
            Ok(())
        } else {
            Err(err(RmiStatus::ErrorInput))
        }
    }

    fn dispatch(&mut self, cmd: &RmiCommand) -> Reply {
        use RmiCommand as C;
        match *cmd {
            C::Version { requested } => {
                let highest = self.config.rmi.highest.encode();
                let ok = AbiVersion::decode(requested).is_some_and(|v| self.config.rmi.supports(v));
                if ok {
                    Ok([requested, highest, 0, 0])
                } else {
                    // The outputs still name the revisions; the caller reads them.
                    Err(err(RmiStatus::ErrorInput))
                }
            }
            C::Features { index } => Ok([
                if index == 0 {
                    self.config.features0.to_raw()
                } else {
                    0
                },
                0,
                0,
                0,
            ]),
            C::GranuleDelegate { addr } => self.granule_delegate(addr),
            C::GranuleUndelegate { addr } => self.granule_undelegate(addr),
            C::RealmCreate { rd, params } => self.realm_create(rd, params),
            C::RealmActivate { rd } => self.realm_activate(rd),
            C::RealmDestroy { rd } => self.realm_destroy(rd),
            C::RecAuxCount { rd } => {
                self.expect(rd, GranuleState::Rd)?;
                Ok([TF_RMM_REC_AUX_COUNT, 0, 0, 0])
            }
            C::RecCreate { rd, rec, params } => self.rec_create(rd, rec, params),
            C::RecDestroy { rec } => self.rec_destroy(rec),
            C::RecEnter { rec, run } => self.rec_enter(rec, run),
            C::RttCreate {
                rd,
                rtt,
                ipa,
                level,
            } => self.rtt_create(rd, rtt, ipa, level),
            C::RttDestroy { rd, ipa, level } => self.rtt_destroy(rd, ipa, level),
            C::RttFold { rd, ipa, level } => self.rtt_fold(rd, ipa, level),
            C::RttReadEntry { rd, ipa, level } => self.rtt_read_entry(rd, ipa, level),
            C::RttMapUnprotected {
                rd,
                ipa,
                level,
                desc,
            } => self.rtt_map_unprotected(rd, ipa, level, desc),
            C::RttUnmapUnprotected { rd, ipa, level } => self.rtt_unmap_unprotected(rd, ipa, level),
            C::RttInitRipas { rd, base, top } => self.rtt_init_ripas(rd, base, top),
            C::RttSetRipas { rd, rec, base, top } => self.rtt_set_ripas(rd, rec, base, top),
            C::DataCreate {
                rd,
                data,
                ipa,
                src,
                flags,
            } => self.data_create(rd, data, ipa, Some((src, flags))),
            C::DataCreateUnknown { rd, data, ipa } => self.data_create(rd, data, ipa, None),
            C::DataDestroy { rd, ipa } => self.data_destroy(rd, ipa),
            C::PsciComplete {
                calling_rec,
                target_rec,
                status,
            } => self.psci_complete(calling_rec, target_rec, status),
        }
    }

    // ---- Granules (B4.3.1, B4.3.2) ----

    fn granule_delegate(&mut self, addr: u64) -> Reply {
        let (base, top) = self.config.delegable;
        if !is_granule_aligned(addr) || addr < base || addr >= top || self.state(addr).is_some() {
            return Err(err(RmiStatus::ErrorInput));
        }
        self.granules.insert(addr, GranuleState::Delegated);
        Ok([0; 4])
    }

    fn granule_undelegate(&mut self, addr: u64) -> Reply {
        self.expect(addr, GranuleState::Delegated)?;
        self.granules.remove(&addr);
        Ok([0; 4])
    }

    // ---- Realms (B4.3.9, B4.3.8, B4.3.10) ----

    fn realm_create(&mut self, rd: u64, params_pa: u64) -> Reply {
        let mut params = RmiRealmParams::new_zeroed();
        HostMemory
            .read(params_pa, params.as_mut_bytes())
            .map_err(|_| err(RmiStatus::ErrorInput))?;
        self.realm_create_from(rd, &params, false)
    }

    /// `RMI_REALM_CREATE` from a parameter page already read. With `mec_private` (RMI 2.0,
    /// a realm asking for a private MEC, which this platform cannot give), the command fails
    /// with `RMI_ERROR_GLOBAL` once the parameters are valid (TF-RMM v0.9.0 `realm.c`).
    fn realm_create_from(&mut self, rd: u64, params: &RmiRealmParams, mec_private: bool) -> Reply {
        let f = self.config.features0;
        let flags = RealmFlags::from_raw(params.flags0);
        let bad = |c: bool| {
            if c {
                Err(err(RmiStatus::ErrorInput))
            } else {
                Ok(())
            }
        };
        bad(flags.undefined_bits() != 0 || flags.contains(RealmFlags::DA))?;
        bad(flags.contains(RealmFlags::LPA2) && !f.lpa2)?;
        let max_s2sz = u32::from(f.s2sz).min(if flags.contains(RealmFlags::LPA2) {
            52
        } else {
            48
        });
        bad(params.s2sz < 32 || params.s2sz > max_s2sz)?;
        bad(flags.contains(RealmFlags::SVE) && (!f.sve || params.sve_vl > u32::from(f.sve_vl)))?;
        bad(flags.contains(RealmFlags::PMU)
            && (!f.pmu || params.pmu_num_ctrs > u32::from(f.pmu_num_ctrs)))?;
        bad(params.num_bps == 0 || params.num_bps > u32::from(f.num_bps))?;
        bad(params.num_wps == 0 || params.num_wps > u32::from(f.num_wps))?;
        let hash = HashAlgorithm::from_encoding(params.hash_algo.into())
            .ok_or(err(RmiStatus::ErrorInput))?;
        bad(!f.supports_hash(hash))?;
        // The root RTTs must cover exactly s2sz bits at the start level (TF-RMM realm.c).
        let level = i8::try_from(params.rtt_level_start).map_err(|_| err(RmiStatus::ErrorInput))?;
        bad(!(0..=3).contains(&level))?;
        let table_bits = 12 + 9 * (4 - i32::from(level)) as u32;
        bad(params.s2sz + 9 <= table_bits || params.s2sz > table_bits + 4)?;
        let num_root = 1u64 << params.s2sz.saturating_sub(table_bits);
        bad(u64::from(params.rtt_num_start) != num_root)?;
        bad(!params.rtt_base.is_multiple_of(num_root * GRANULE))?;
        bad(self.realms.values().any(|r| r.vmid == params.vmid))?;
        if mec_private {
            return Err(err(RmiStatus::ErrorGlobal));
        }
        let roots: Vec<u64> = (0..num_root)
            .map(|i| params.rtt_base + i * GRANULE)
            .collect();
        bad(roots.contains(&rd))?;
        for &g in roots.iter().chain([&rd]) {
            self.expect(g, GranuleState::Delegated)?;
        }
        let measured =
            MeasuredRealmParams::from_params(params).map_err(|_| err(RmiStatus::ErrorInput))?;
        let entries = (num_root as usize) * 512;
        let root_ripas = Ripas::Empty;
        let mut tables = BTreeMap::new();
        tables.insert(
            params.rtt_base,
            Table { level, base: 0, entries: alloc::vec![Entry { state: EntryState::Unassigned, ripas: root_ripas }; entries] },
        );
        for &g in &roots {
            self.granules.insert(g, GranuleState::Rtt);
        }
        self.granules.insert(rd, GranuleState::Rd);
        let config = RealmConfig {
            ipa_width: params.s2sz as u8,
            hash_algorithm: hash,
            rpv: params.rpv,
            rim: cca_abi::measurement::Measurement::zero(hash),
            rsi: self.config.rsi,
            ..RealmConfig::default()
        };
        self.realms.insert(
            rd,
            Realm {
                state: RealmState::New,
                s2sz: params.s2sz,
                start_level: level,
                root: params.rtt_base,
                root_granules: roots,
                tables,
                rim: Rim::new(&measured),
                config,
                vmid: params.vmid,
                recs: Vec::new(),
                live_recs: 0,
                data: BTreeMap::new(),
                model: None,
            },
        );
        Ok([0; 4])
    }

    fn realm_mut(&mut self, rd: u64) -> Result<&mut Realm, RmiReturn> {
        self.expect(rd, GranuleState::Rd)?;
        self.realms.get_mut(&rd).ok_or(err(RmiStatus::ErrorInput))
    }

    fn realm_activate(&mut self, rd: u64) -> Reply {
        let issuer = self.config.issuer.clone();
        let realm = self.realm_mut(rd)?;
        if realm.state != RealmState::New {
            return Err(err(RmiStatus::ErrorRealm));
        }
        realm.state = RealmState::Active;
        let mut config = realm.config.clone();
        config.rim = realm.rim.measurement();
        config.recs = realm.recs.len().max(1);
        // The in-process realm's memory is the process's: the whole protected range is RAM.
        let par = 1u64 << (realm.s2sz - 1);
        let issuer: Box<dyn TokenIssuer + Send> = match issuer {
            Some(make) => make(),
            None => Box::new(crate::token::NoAttestation),
        };
        realm.model = Some(RealmModel::new(config, &[(0, par)], issuer));
        Ok([0; 4])
    }

    fn realm_destroy(&mut self, rd: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        if realm.live_recs > 0 || realm.tables.len() > 1 || !realm.data.is_empty() {
            return Err(err(RmiStatus::ErrorRealm));
        }
        let realm = self.realms.remove(&rd).expect("checked");
        for g in realm.root_granules {
            self.granules.insert(g, GranuleState::Delegated);
        }
        self.granules.insert(rd, GranuleState::Delegated);
        Ok([0; 4])
    }

    // ---- RECs (B4.3.13, B4.3.14, B4.3.12) ----

    fn rec_create(&mut self, rd: u64, rec: u64, params_pa: u64) -> Reply {
        let mut params = RmiRecParams::new_zeroed();
        HostMemory
            .read(params_pa, params.as_mut_bytes())
            .map_err(|_| err(RmiStatus::ErrorInput))?;
        self.expect(rec, GranuleState::Delegated)?;
        let max_recs = self.config.features0.max_recs();
        let realm = self.realm_mut(rd)?;
        if realm.state != RealmState::New {
            return Err(err(RmiStatus::ErrorRealm));
        }
        let index = realm.recs.len();
        // RECs are created in MPIDR index order (TF-RMM rec.h, cca-abi.md §8).
        if params.mpidr != crate::rec_mpidr(index) || index as u64 >= max_recs {
            return Err(err(RmiStatus::ErrorInput));
        }
        if params.num_aux != TF_RMM_REC_AUX_COUNT {
            return Err(err(RmiStatus::ErrorInput));
        }
        let aux: Vec<u64> = params.aux[..TF_RMM_REC_AUX_COUNT as usize].to_vec();
        let mut seen = aux.clone();
        seen.push(rec);
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != aux.len() + 1 {
            return Err(err(RmiStatus::ErrorInput));
        }
        for &a in &aux {
            self.expect(a, GranuleState::Delegated)?;
        }
        let realm = self.realms.get_mut(&rd).expect("checked");
        realm
            .rim
            .rec_create_measured(&MeasuredRecParams::from_params(&params));
        realm.recs.push(rec);
        realm.live_recs += 1;
        self.granules.insert(rec, GranuleState::Rec);
        for &a in &aux {
            self.granules.insert(a, GranuleState::RecAux);
        }
        self.recs
            .insert(rec, Rec::new(rd, index, aux, &params.gprs));
        Ok([0; 4])
    }

    fn rec_destroy(&mut self, rec: u64) -> Reply {
        self.expect(rec, GranuleState::Rec)?;
        let mut r = self.recs.remove(&rec).expect("REC granules have records");
        if let Some(mut t) = r.thread.take() {
            // Closing the channels makes the REC's thread unwind; wait for it.
            drop(t.to_realm);
            drop(t.from_realm);
            if let Some(h) = t.handle.take() {
                let _ = h.join();
            }
        }
        if let Some(realm) = self.realms.get_mut(&r.rd) {
            realm.live_recs -= 1;
        }
        self.granules.insert(rec, GranuleState::Delegated);
        for a in r.aux {
            self.granules.insert(a, GranuleState::Delegated);
        }
        Ok([0; 4])
    }

    fn rec_enter(&mut self, rec_pa: u64, run_pa: u64) -> Reply {
        self.expect(rec_pa, GranuleState::Rec)?;
        // Only the run structure's encoding depends on the generation: the entry flags (0x000)
        // and GPRs (0x200) are where they were; the exit half differs (`write_exit`,
        // `v2::write_exit`).
        let generation = self.config.generation;
        // RMI 1.0: the whole entry, whose GIC fields the REC checks and loads below.
        let mut entry_v1 = None;
        let (enter_flags, enter_gprs) = match generation {
            Generation::V1_0 => {
                let mut run = Box::new(RmiRecRun::new_zeroed());
                HostMemory
                    .read(run_pa, run.as_mut_bytes())
                    .map_err(|_| err(RmiStatus::ErrorInput))?;
                let entry = (run.enter.flags, run.enter.gprs);
                entry_v1 = Some(run);
                entry
            }
            Generation::V2_0 => v2::read_enter(run_pa)?,
        };
        let program = self.program.clone();
        let Self { realms, recs, .. } = self;
        let rec = recs.get_mut(&rec_pa).expect("REC granules have records");
        let realm = realms.get_mut(&rec.rd).expect("RECs belong to realms");
        match realm.state {
            RealmState::New => return Err(err(RmiStatus::ErrorRealm)),
            RealmState::SystemOff => return Err(RmiReturn::new(RmiStatus::ErrorRealm, 1)),
            RealmState::Active => {}
        }
        let runnable = realm
            .model
            .as_ref()
            .expect("active realms have a model")
            .recs()[rec.index]
            .runnable();
        if !runnable {
            return Err(err(RmiStatus::ErrorRec));
        }
        if let Some(run) = &entry_v1
            && !rec.vtimer.enter(run)
        {
            return Err(err(RmiStatus::ErrorRec));
        }
        if rec.retry_access {
            // The realm's access at an unprotected IPA faulted; the host may have mapped it.
            if let Err(ipa) = Self::unprotected_access(realm, &mut rec.regs) {
                return Self::exit_to_host(rec, generation, run_pa, RecExit::DataAbort { ipa });
            }
            rec.retry_access = false;
            rec.pending = None;
        }
        if rec.retry_smc {
            match Self::model_smc(realm, rec.index, &mut rec.regs) {
                // Still not there: exit again.
                Step::Exit(exit @ RecExit::DataAbort { .. }) => {
                    return Self::exit_to_host(rec, generation, run_pa, exit);
                }
                Step::Exit(exit) => {
                    rec.retry_smc = false;
                    return Self::exit_to_host(rec, generation, run_pa, exit);
                }
                // Done: the result goes to the realm below, as for any other SMC.
                Step::Resume => {
                    rec.retry_smc = false;
                    rec.pending = None;
                }
            }
        }
        let model = realm.model.as_mut().expect("active realms have a model");
        if let Some(pending) = rec.pending.clone() {
            let response = match pending {
                RecExit::HostCall { .. } => {
                    let mut gprs = [0u64; 31];
                    gprs.copy_from_slice(&enter_gprs);
                    HostResponse::HostCall { gprs }
                }
                RecExit::RipasChange { .. } => HostResponse::Ripas {
                    progress: rec.ripas_progress,
                    reject: RecEnterFlags::from_raw(enter_flags)
                        .contains(RecEnterFlags::RIPAS_RESPONSE),
                },
                // The model has no RMI_RTT_SET_S2AP, so the host cannot have changed any of
                // the range: the realm learns that nothing changed, and the host's response.
                RecExit::S2apChange { base, .. } => HostResponse::S2ap {
                    progress: base,
                    reject: RecEnterFlags::from_raw(enter_flags)
                        .contains(RecEnterFlags::S2AP_RESPONSE),
                },
                // CPU_ON and AFFINITY_INFO wait for RMI_PSCI_COMPLETE (which clears the exit).
                RecExit::Psci { fid, .. } if matches!(fid & 0xff, 0x03 | 0x04) => {
                    return Err(err(RmiStatus::ErrorRec));
                }
                RecExit::Psci { .. } | RecExit::DataAbort { .. } => HostResponse::Resume,
            };
            model
                .enter(rec.index, &mut rec.regs, response, &mut HostMemory)
                .map_err(|_| err(RmiStatus::ErrorRec))?;
            rec.pending = None;
        }
        // The timer's asserted state changed while the host ran: TF-RMM reports it at once.
        if generation == Generation::V1_0 && rec.thread.is_some() && rec.vtimer.changed() {
            return Self::exit_v1_timer(rec, run_pa, RmiExitReason::Irq, 0);
        }
        // Start the REC's thread on first entry, or hand it the result of its last SMC.
        match &rec.thread {
            None => {
                let program = program.ok_or(err(RmiStatus::ErrorRec))?;
                let (to_realm, from_rmm) = mpsc::channel();
                let (to_rmm, from_realm) = mpsc::channel();
                let index = rec.index;
                let handle = std::thread::spawn(move || {
                    let mut conduit = RecConduit {
                        to_rmm: to_rmm.clone(),
                        from_rmm,
                    };
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        program(index, &mut conduit)
                    }));
                    if result.is_ok() {
                        let _ = to_rmm.send(ToRmm::Done);
                    }
                });
                rec.thread = Some(RecThread {
                    to_realm,
                    from_realm,
                    handle: Some(handle),
                });
            }
            Some(t) => {
                let _ = t.to_realm.send(rec.regs);
            }
        }
        let thread = rec.thread.as_ref().expect("started");
        let exit = loop {
            // The timer and GIC model calls first (`vtimer`).
            let message = match thread.from_realm.recv() {
                Ok(ToRmm::Smc(mut regs)) => match rec.vtimer.call(&mut regs) {
                    vtimer::Call::NotMine => Ok(ToRmm::Smc(regs)),
                    vtimer::Call::Resume => {
                        let _ = thread.to_realm.send(regs);
                        continue;
                    }
                    vtimer::Call::Wfi => {
                        rec.regs = regs;
                        // ESR: EC 0x01, IL, TI = 0 (WFI).
                        return Self::exit_v1_timer(
                            rec,
                            run_pa,
                            RmiExitReason::Sync,
                            (0x01 << 26) | (1 << 25),
                        );
                    }
                },
                other => other,
            };
            match message {
                Ok(ToRmm::Smc(regs))
                    if matches!(regs[0], MODEL_UNPROTECTED_READ | MODEL_UNPROTECTED_WRITE) =>
                {
                    rec.regs = regs;
                    match Self::unprotected_access(realm, &mut rec.regs) {
                        Ok(()) => {
                            let _ = thread.to_realm.send(rec.regs);
                        }
                        Err(ipa) => {
                            rec.retry_access = true;
                            break RecExit::DataAbort { ipa };
                        }
                    }
                }
                Ok(ToRmm::Smc(regs)) => {
                    rec.regs = regs;
                    match Self::model_smc(realm, rec.index, &mut rec.regs) {
                        Step::Resume => {
                            let _ = thread.to_realm.send(rec.regs);
                        }
                        Step::Exit(exit) => {
                            rec.retry_smc = matches!(exit, RecExit::DataAbort { .. });
                            break exit;
                        }
                    }
                }
                // The program returned (as the runtime does after main) or panicked: the
                // realm is switched off as with PSCI SYSTEM_OFF.
                Ok(ToRmm::Done) | Err(_) => {
                    break RecExit::Psci {
                        fid: psci::PSCI_SYSTEM_OFF,
                        args: [0; 3],
                    };
                }
            }
        };
        if realm.model.as_ref().is_some_and(RealmModel::is_off)
            || matches!(
                exit,
                RecExit::Psci {
                    fid: psci::PSCI_SYSTEM_OFF | psci::PSCI_SYSTEM_RESET,
                    ..
                }
            )
        {
            realm.state = RealmState::SystemOff;
        }
        Self::exit_to_host(rec, generation, run_pa, exit)
    }

    /// Hands REC `index`'s SMC in `regs` to the realm's model, which reaches realm RAM as
    /// [`AssignedRam`] (an unpopulated page is a data abort for the host).
    fn model_smc(realm: &mut Realm, index: usize, regs: &mut Regs) -> Step {
        let Realm {
            model,
            tables,
            root,
            s2sz,
            ..
        } = realm;
        let model = model.as_mut().expect("active realms have a model");
        let mut memory = AssignedRam {
            tables,
            root: *root,
            limit: 1 << *s2sz,
        };
        model.handle_smc(index, regs, &mut memory)
    }

    /// An RMI 1.0 exit of the timer model: a trapped `WFI` (`Sync`, `esr`) or the timer's
    /// change of state (`Irq`), with nothing pending for the next entry.
    fn exit_v1_timer(rec: &mut Rec, run_pa: u64, reason: RmiExitReason, esr: u64) -> Reply {
        let mut run = Box::new(RmiRecRun::new_zeroed());
        #[allow(clippy::cast_possible_truncation, reason = "exit reasons fit a byte")]
        let raw = reason.to_raw() as u8;
        run.exit.exit_reason = raw;
        run.exit.esr = esr;
        rec.vtimer.report(&mut run.exit);
        rec.pending = None;
        HostMemory
            .write(run_pa + 0x800, run.exit.as_bytes())
            .map_err(|_| err(RmiStatus::ErrorInput))?;
        Ok([0; 4])
    }

    /// Records `exit` as the REC's pending exit and writes it to the exit half of the host's
    /// `RmiRecRun` in the encoding of `generation`.
    fn exit_to_host(rec: &mut Rec, generation: Generation, run_pa: u64, exit: RecExit) -> Reply {
        let written = match generation {
            Generation::V1_0 => {
                let mut run = Box::new(RmiRecRun::new_zeroed());
                write_exit(&mut run, &exit);
                rec.vtimer.report(&mut run.exit);
                HostMemory.write(run_pa + 0x800, run.exit.as_bytes())
            }
            Generation::V2_0 => v2::write_exit(run_pa, &exit),
        };
        if let RecExit::RipasChange { base, .. } = exit {
            rec.ripas_progress = base;
        }
        rec.pending = Some(exit);
        written.map_err(|_| err(RmiStatus::ErrorInput))?;
        Ok([0; 4])
    }

    /// Performs a [`MODEL_UNPROTECTED_READ`] or [`MODEL_UNPROTECTED_WRITE`] in `regs`
    /// through the realm's RTTs; `Err(ipa)` if the page is not mapped (a data abort). A
    /// malformed access answers `SMCCC_NOT_SUPPORTED` in `x0`.
    fn unprotected_access(realm: &Realm, regs: &mut Regs) -> Result<(), u64> {
        let (ipa, size) = (regs[1], regs[2]);
        let par = 1u64 << (realm.s2sz - 1);
        let offset = ipa % GRANULE;
        if !(par..1 << realm.s2sz).contains(&ipa)
            || !(1..=8).contains(&size)
            || offset + size > GRANULE
        {
            regs[0] = cca_abi::smccc::SMCCC_NOT_SUPPORTED;
            return Ok(());
        }
        let page = ipa - offset;
        let (table, level, idx) = Self::walk(realm, page, 3);
        let EntryState::AssignedNs(desc) = realm.tables[&table].entries[idx].state else {
            return Err(page);
        };
        let pa = desc & !(GRANULE - 1) & ((1 << 48) - 1);
        if level != 3 {
            return Err(page);
        }
        #[allow(clippy::cast_possible_truncation, reason = "size is 1 to 8")]
        let n = size as usize;
        let mut bytes = [0u8; 8];
        let done = if regs[0] == MODEL_UNPROTECTED_WRITE {
            bytes.copy_from_slice(&regs[3].to_le_bytes());
            HostMemory.write(pa + offset, &bytes[..n])
        } else {
            HostMemory.read(pa + offset, &mut bytes[..n]).map(|()| {
                regs[1] = u64::from_le_bytes(bytes);
            })
        };
        regs[0] = if done.is_ok() {
            0
        } else {
            cca_abi::smccc::SMCCC_NOT_SUPPORTED
        };
        Ok(())
    }

    fn psci_complete(&mut self, calling: u64, target: u64, status: u64) -> Reply {
        self.expect(calling, GranuleState::Rec)?;
        self.expect(target, GranuleState::Rec)?;
        let t_index = self.recs[&target].index;
        let t_rd = self.recs[&target].rd;
        let Self { realms, recs, .. } = self;
        let c = recs.get_mut(&calling).expect("checked");
        let Some(RecExit::Psci { fid, args }) = c.pending else {
            return Err(err(RmiStatus::ErrorInput));
        };
        if !matches!(fid & 0xff, 0x03 | 0x04)
            || c.rd != t_rd
            || crate::rec_mpidr(t_index) != args[0]
        {
            return Err(err(RmiStatus::ErrorInput));
        }
        #[allow(
            clippy::cast_possible_truncation,
            reason = "PSCI status is a 32-bit value"
        )]
        let status = status as i32;
        let model = realms
            .get_mut(&c.rd)
            .and_then(|r| r.model.as_mut())
            .ok_or(err(RmiStatus::ErrorRealm))?;
        model
            .psci_complete(c.index, &mut c.regs, status)
            .map_err(|_| err(RmiStatus::ErrorInput))?;
        c.pending = None;
        Ok([0; 4])
    }

    // ---- RTTs (B4.3.x) ----

    /// Walks from the root towards `level` at `ipa`: the deepest table reached (its PA and
    /// level) and the index of the entry for `ipa` in it.
    fn walk(realm: &Realm, ipa: u64, level: i8) -> (u64, i8, usize) {
        Self::walk_tables(&realm.tables, realm.root, ipa, level)
    }

    /// [`Self::walk`] over `tables` from the root table at `root`; `ipa` must lie below the
    /// realm's `2^s2sz`.
    fn walk_tables(
        tables: &BTreeMap<u64, Table>,
        root: u64,
        ipa: u64,
        level: i8,
    ) -> (u64, i8, usize) {
        let mut pa = root;
        loop {
            let t = &tables[&pa];
            let idx = ((ipa - t.base) / entry_size(t.level)) as usize;
            if t.level == level {
                return (pa, t.level, idx);
            }
            match t.entries[idx].state {
                EntryState::Table(child) => pa = child,
                _ => return (pa, t.level, idx),
            }
        }
    }

    /// The `top` output of the destroy and unmap commands: from the entry at `idx` of the
    /// table at `table_pa`, the end of the run of non-live (UNASSIGNED) entries up to the
    /// end of the table (DEN0137 B4.3.5 `RMI_DATA_DESTROY` output `top`).
    fn non_live_top(realm: &Realm, table_pa: u64, mut idx: usize) -> u64 {
        let t = &realm.tables[&table_pa];
        while idx < t.entries.len() && t.entries[idx].state == EntryState::Unassigned {
            idx += 1;
        }
        t.base + idx as u64 * entry_size(t.level)
    }

    fn check_ipa(realm: &Realm, ipa: u64, level: i8) -> Result<(), RmiReturn> {
        if ipa >= (1 << realm.s2sz) || !ipa.is_multiple_of(entry_size(level)) {
            Err(err(RmiStatus::ErrorInput))
        } else {
            Ok(())
        }
    }

    fn rtt_create(&mut self, rd: u64, rtt: u64, ipa: u64, level: u64) -> Reply {
        self.expect(rtt, GranuleState::Delegated)?;
        let realm = self.realm_mut(rd)?;
        let level = i8::try_from(level).map_err(|_| err(RmiStatus::ErrorInput))?;
        if level <= realm.start_level || level > 3 {
            return Err(err(RmiStatus::ErrorInput));
        }
        Self::check_ipa(realm, ipa, level - 1)?;
        let (parent, reached, idx) = Self::walk(realm, ipa, level - 1);
        if reached != level - 1 {
            return Err(rtt_err(reached));
        }
        let e = realm.tables[&parent].entries[idx];
        if e.state != EntryState::Unassigned {
            return Err(rtt_err(level - 1));
        }
        let child = Entry {
            state: EntryState::Unassigned,
            ripas: e.ripas,
        };
        realm.tables.insert(
            rtt,
            Table {
                level,
                base: ipa,
                entries: alloc::vec![child; 512],
            },
        );
        realm.tables.get_mut(&parent).expect("walked").entries[idx].state = EntryState::Table(rtt);
        self.granules.insert(rtt, GranuleState::Rtt);
        Ok([0; 4])
    }

    fn rtt_destroy(&mut self, rd: u64, ipa: u64, level: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        let level = i8::try_from(level).map_err(|_| err(RmiStatus::ErrorInput))?;
        if level <= realm.start_level || level > 3 {
            return Err(err(RmiStatus::ErrorInput));
        }
        Self::check_ipa(realm, ipa, level - 1)?;
        let (parent, reached, idx) = Self::walk(realm, ipa, level - 1);
        let EntryState::Table(child) = realm.tables[&parent].entries[idx].state else {
            return Err(rtt_err(reached));
        };
        if reached != level - 1 {
            return Err(rtt_err(reached));
        }
        if realm.tables[&child]
            .entries
            .iter()
            .any(|e| e.state != EntryState::Unassigned)
        {
            return Err(rtt_err(level));
        }
        realm.tables.remove(&child);
        // DEN0137 1.0: the range of a destroyed table becomes UNASSIGNED, DESTROYED.
        realm.tables.get_mut(&parent).expect("walked").entries[idx] = Entry {
            state: EntryState::Unassigned,
            ripas: Ripas::Destroyed,
        };
        let top = Self::non_live_top(realm, parent, idx);
        self.granules.insert(child, GranuleState::Delegated);
        Ok([child, top, 0, 0])
    }

    fn rtt_fold(&mut self, rd: u64, ipa: u64, level: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        let level = i8::try_from(level).map_err(|_| err(RmiStatus::ErrorInput))?;
        if level <= realm.start_level || level > 3 {
            return Err(err(RmiStatus::ErrorInput));
        }
        Self::check_ipa(realm, ipa, level - 1)?;
        let (parent, reached, idx) = Self::walk(realm, ipa, level - 1);
        let EntryState::Table(child) = realm.tables[&parent].entries[idx].state else {
            return Err(rtt_err(reached));
        };
        let entries = &realm.tables[&child].entries;
        let first = entries[0];
        if entries
            .iter()
            .any(|e| e.state != EntryState::Unassigned || e.ripas != first.ripas)
        {
            return Err(rtt_err(level));
        }
        realm.tables.remove(&child);
        realm.tables.get_mut(&parent).expect("walked").entries[idx] = first;
        self.granules.insert(child, GranuleState::Delegated);
        Ok([child, 0, 0, 0])
    }

    fn rtt_read_entry(&mut self, rd: u64, ipa: u64, level: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        let level = i8::try_from(level).map_err(|_| err(RmiStatus::ErrorInput))?;
        if level < realm.start_level || level > 3 {
            return Err(err(RmiStatus::ErrorInput));
        }
        Self::check_ipa(realm, ipa, level)?;
        let (table, reached, idx) = Self::walk(realm, ipa, level);
        let e = realm.tables[&table].entries[idx];
        let (state, desc) = match e.state {
            EntryState::Unassigned => (RmiRttEntryState::Unassigned, 0),
            EntryState::Assigned(pa) | EntryState::AssignedNs(pa) => {
                (RmiRttEntryState::Assigned, pa)
            }
            EntryState::Table(pa) => (RmiRttEntryState::Table, pa),
        };
        #[allow(clippy::cast_sign_loss, reason = "levels are 0 to 3")]
        Ok([reached as u64, state.to_raw(), desc, e.ripas.to_raw()])
    }

    fn rtt_map_unprotected(&mut self, rd: u64, ipa: u64, level: u64, desc: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        let level = i8::try_from(level).map_err(|_| err(RmiStatus::ErrorInput))?;
        let par = 1u64 << (realm.s2sz - 1);
        // The host controls only the output address, MemAttr[4:2] (0b100 reserved) and
        // S2AP[7:6] (TF-RMM v0.8.0 `host_ns_s2tte_is_valid`, `lib/s2tt/src/s2tt.c`).
        const HOST_ATTRS: u64 = (0b111 << 2) | (0b11 << 6);
        let oa_mask = ((1u64 << 48) - 1) & !(entry_size(level.clamp(1, 3)) - 1);
        if !(1..=3).contains(&level)
            || level < realm.start_level
            || ipa < par
            || desc & !(oa_mask | HOST_ATTRS) != 0
            || (desc >> 2) & 0b111 == 0b100
        {
            return Err(err(RmiStatus::ErrorInput));
        }
        Self::check_ipa(realm, ipa, level)?;
        let (table, reached, idx) = Self::walk(realm, ipa, level);
        if reached != level {
            return Err(rtt_err(reached));
        }
        let e = &mut realm.tables.get_mut(&table).expect("walked").entries[idx];
        if e.state != EntryState::Unassigned {
            return Err(rtt_err(level));
        }
        e.state = EntryState::AssignedNs(desc);
        Ok([0; 4])
    }

    fn rtt_unmap_unprotected(&mut self, rd: u64, ipa: u64, level: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        let level = i8::try_from(level).map_err(|_| err(RmiStatus::ErrorInput))?;
        let par = 1u64 << (realm.s2sz - 1);
        if !(1..=3).contains(&level) || level < realm.start_level || ipa < par {
            return Err(err(RmiStatus::ErrorInput));
        }
        Self::check_ipa(realm, ipa, level)?;
        let (table, reached, idx) = Self::walk(realm, ipa, level);
        let e = &mut realm.tables.get_mut(&table).expect("walked").entries[idx];
        if reached != level || !matches!(e.state, EntryState::AssignedNs(_)) {
            return Err(rtt_err(reached));
        }
        e.state = EntryState::Unassigned;
        Ok([Self::non_live_top(realm, table, idx), 0, 0, 0])
    }

    /// Applies `f` to the entries of the deepest existing table at `base`, from `base` up to
    /// `top` or the end of that table; returns where it stopped. Stops early (and reports the
    /// level) at the first entry `f` refuses.
    fn for_entries(
        realm: &mut Realm,
        base: u64,
        top: u64,
        mut f: impl FnMut(u64, u64, &mut Entry) -> bool,
    ) -> Result<u64, RmiReturn> {
        let (table, level, mut idx) = Self::walk(realm, base, 3);
        let size = entry_size(level);
        if !base.is_multiple_of(size) {
            return Err(rtt_err(level));
        }
        let t = realm.tables.get_mut(&table).expect("walked");
        let mut at = base;
        while idx < t.entries.len() && at + size <= top {
            if !f(at, at + size, &mut t.entries[idx]) {
                break;
            }
            at += size;
            idx += 1;
        }
        if at == base {
            Err(rtt_err(level))
        } else {
            Ok(at)
        }
    }

    fn rtt_init_ripas(&mut self, rd: u64, base: u64, top: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        if realm.state != RealmState::New {
            return Err(err(RmiStatus::ErrorRealm));
        }
        let par = 1u64 << (realm.s2sz - 1);
        if !is_granule_aligned(base) || !is_granule_aligned(top) || base >= top || top > par {
            return Err(err(RmiStatus::ErrorInput));
        }
        let mut measured = Vec::new();
        let out = Self::for_entries(realm, base, top, |b, t, e| {
            if e.state != EntryState::Unassigned {
                return false;
            }
            e.ripas = Ripas::Ram;
            measured.push((b, t));
            true
        })?;
        // TF-RMM v0.8.0 measures one RIPAS descriptor per entry (testdata README).
        for (b, t) in measured {
            realm.rim.init_ripas_entry(b, t);
        }
        Ok([out, 0, 0, 0])
    }

    fn rtt_set_ripas(&mut self, rd: u64, rec_pa: u64, base: u64, top: u64) -> Reply {
        self.expect(rec_pa, GranuleState::Rec)?;
        let rec = &self.recs[&rec_pa];
        let Some(RecExit::RipasChange {
            top: req_top,
            ripas,
            change_destroyed,
            ..
        }) = rec.pending
        else {
            return Err(err(RmiStatus::ErrorInput));
        };
        if rec.rd != rd
            || base != rec.ripas_progress
            || top > req_top
            || base >= top
            || !is_granule_aligned(top)
        {
            return Err(err(RmiStatus::ErrorInput));
        }
        let realm = self.realms.get_mut(&rd).expect("REC's realm");
        if realm.state != RealmState::Active {
            return Err(err(RmiStatus::ErrorRealm));
        }
        let out = match Self::for_entries(realm, base, top, |_, _, e| {
            if e.ripas == Ripas::Destroyed && !change_destroyed {
                return false;
            }
            e.ripas = ripas;
            true
        }) {
            Ok(out) => out,
            // Outside the RTTs the host built (the in-process realm's own memory) there is
            // nothing to walk: the change applies as requested.
            Err(_) if Self::walk(realm, base, 3).1 == realm.start_level => top,
            Err(e) => return Err(e),
        };
        self.recs.get_mut(&rec_pa).expect("checked").ripas_progress = out;
        Ok([out, 0, 0, 0])
    }

    // ---- DATA (B4.3.3, B4.3.4, B4.3.5) ----

    fn data_create(&mut self, rd: u64, data: u64, ipa: u64, src: Option<(u64, u64)>) -> Reply {
        self.expect(data, GranuleState::Delegated)?;
        let mut content = Box::new([0u8; GRANULE_SIZE]);
        let mut measure = None;
        if let Some((src, flags)) = src {
            let flags = match flags {
                0 => RmiDataMeasureContent::NoMeasureContent,
                1 => RmiDataMeasureContent::MeasureContent,
                _ => return Err(err(RmiStatus::ErrorInput)),
            };
            HostMemory
                .read(src, content.as_mut_slice())
                .map_err(|_| err(RmiStatus::ErrorInput))?;
            measure = Some(flags);
        }
        let realm = self.realm_mut(rd)?;
        if measure.is_some() && realm.state != RealmState::New {
            return Err(err(RmiStatus::ErrorRealm));
        }
        let par = 1u64 << (realm.s2sz - 1);
        if !is_granule_aligned(ipa) || ipa >= par {
            return Err(err(RmiStatus::ErrorInput));
        }
        let (table, level, idx) = Self::walk(realm, ipa, 3);
        if level != 3 {
            return Err(rtt_err(level));
        }
        let e = &mut realm.tables.get_mut(&table).expect("walked").entries[idx];
        if e.state != EntryState::Unassigned {
            return Err(rtt_err(3));
        }
        e.state = EntryState::Assigned(data);
        if let Some(flags) = measure {
            realm.rim.data_create(ipa, flags, &content);
        }
        realm.data.insert(data, content);
        self.granules.insert(data, GranuleState::Data);
        Ok([0; 4])
    }

    fn data_destroy(&mut self, rd: u64, ipa: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        let par = 1u64 << (realm.s2sz - 1);
        if !is_granule_aligned(ipa) || ipa >= par {
            return Err(err(RmiStatus::ErrorInput));
        }
        let (table, level, idx) = Self::walk(realm, ipa, 3);
        let e = &mut realm.tables.get_mut(&table).expect("walked").entries[idx];
        let EntryState::Assigned(data) = e.state else {
            return Err(rtt_err(level));
        };
        if level != 3 {
            return Err(rtt_err(level));
        }
        e.state = EntryState::Unassigned;
        if e.ripas == Ripas::Ram {
            e.ripas = Ripas::Destroyed;
        }
        realm.data.remove(&data);
        let top = Self::non_live_top(realm, table, idx);
        self.granules.insert(data, GranuleState::Delegated);
        Ok([data, top, 0, 0])
    }
}

/// Fills `RmiRecExit` for `exit` (cca-abi.md §5.3; PSCI: gprs[0] = FID, gprs[1] = target
/// for CPU_ON and AFFINITY_INFO, the rest zero).
fn write_exit(run: &mut RmiRecRun, exit: &RecExit) {
    run.exit = FromZeros::new_zeroed();
    let reason = match exit {
        RecExit::HostCall { imm, gprs } => {
            run.exit.imm = *imm;
            run.exit.gprs = *gprs;
            RmiExitReason::HostCall
        }
        RecExit::RipasChange {
            base, top, ripas, ..
        } => {
            run.exit.ripas_base = *base;
            run.exit.ripas_top = *top;
            #[allow(clippy::cast_possible_truncation, reason = "RIPAS values are 0 to 3")]
            let value = ripas.to_raw() as u8;
            run.exit.ripas_value = value;
            RmiExitReason::RipasChange
        }
        RecExit::Psci { fid, args } => {
            run.exit.gprs[0] = u64::from(*fid);
            if matches!(fid & 0xff, 0x03 | 0x04) {
                run.exit.gprs[1] = args[0];
            }
            RmiExitReason::Psci
        }
        // TF-RMM v0.8.0 reports this exit even to an RMI 1.0 host (`runtime/rsi/memory.c`
        // does not depend on RMM_V1_1), with the range at 0x520 / 0x528.
        RecExit::S2apChange { base, top, .. } => {
            run.exit.s2ap_base = *base;
            run.exit.s2ap_top = *top;
            RmiExitReason::S2apChange
        }
        RecExit::DataAbort { ipa } => {
            run.exit.esr = DATA_ABORT_ESR;
            run.exit.hpfar = (ipa >> 12) << 4;
            RmiExitReason::Sync
        }
    };
    #[allow(clippy::cast_possible_truncation, reason = "exit reasons fit a byte")]
    let reason = reason.to_raw() as u8;
    run.exit.exit_reason = reason;
}

impl Conduit for Rmm {
    /// One RMI call from the host. For an RMI 1.0 RMM, anything that is not an RMI 1.0
    /// command gets `SMC_UNKNOWN`; an RMI 2.0 RMM answers as the `v2` module describes.
    fn call(&mut self, regs: Regs) -> Regs {
        if self.config.generation == Generation::V2_0 {
            return self.call_v2(&regs);
        }
        let Some(cmd) = RmiCommand::from_regs(&regs) else {
            let mut r = [0; 18];
            r[0] = cca_abi::smccc::SMCCC_NOT_SUPPORTED;
            return r;
        };
        let result = if self.next_call_faults() {
            Err(err(RmiStatus::ErrorInput))
        } else {
            self.dispatch(&cmd)
        };
        let mut r = [0u64; 18];
        match result {
            Ok(out) => {
                r[1..5].copy_from_slice(&out);
                self.log.push((cmd, RmiReturn::SUCCESS));
            }
            Err(ret) => {
                r[0] = ret.to_raw();
                if let RmiCommand::Version { .. } = cmd {
                    r[1] = self.config.rmi.highest.encode();
                    r[2] = self.config.rmi.highest.encode();
                }
                self.log.push((cmd, ret));
            }
        }
        r
    }
}

impl Drop for Rmm {
    /// Stops every REC thread.
    fn drop(&mut self) {
        let recs: Vec<u64> = self.recs.keys().copied().collect();
        for rec in recs {
            if let Some(mut t) = self.recs.get_mut(&rec).and_then(|r| r.thread.take()) {
                drop(t.to_realm);
                drop(t.from_realm);
                if let Some(h) = t.handle.take() {
                    let _ = h.join();
                }
            }
        }
    }
}
