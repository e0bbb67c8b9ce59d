//! RMI 2.0 as TF-RMM v0.9.0 implements it, for realm lifecycle and memory (the repository's
//! digest `docs/rmi-2.0-tf-rmm-v0.9.0.md`, §1–§12).
//!
//! An [`Rmm`] whose [`RmmConfig::generation`] is [`Generation::V2_0`] answers here. The
//! commands RMI 2.0 keeps from 1.0 (realm activate/destroy, RTT commands, `RMI_RTT_SET_RIPAS`,
//! `RMI_PSCI_COMPLETE`, `RMI_REC_ENTER`) run the RMI 1.0 code of the parent module; what is
//! new or changed is here, each with the TF-RMM v0.9.0 file that shows the behaviour:
//!
//! - the dispatch range and the RMM-state gate (`runtime/core/handler.c` `handle_ns_smc`);
//! - `RMI_VERSION` offering 2.0 only (`runtime/rmi/version.c`), `RMI_FEATURES` 0–4
//!   (`runtime/rmi/feature.c`);
//! - the RMM's boot steps and one-granule-per-call range delegation
//!   (`runtime/rmi/granule.c`, `runtime/rmi/activate.c`);
//! - `RMI_RTT_DATA_MAP_INIT` / `RMI_RTT_DATA_MAP` / `RMI_RTT_DATA_UNMAP` and the unmeasured
//!   `RMI_RTT_INIT_RIPAS` (`runtime/rmi/rtt.c`);
//! - `RMI_REALM_CREATE` with `RmiRealmParams2` (`runtime/rmi/realm.c`);
//! - stateful `RMI_REC_CREATE` / `RMI_REC_DESTROY` and `RMI_OP_*` (`runtime/rmi/rec.c`,
//!   `runtime/rmi/sro.c`, `lib/sro_context/src/sro_context.c`, `lib/addr_list/src/addr_list.c`);
//! - the 2.0 `RmiRecExit` encoding (`lib/smc/include/smc-rmi.h`).
//!
//! What this platform lacks, and how it answers (as TF-RMM v0.9.0 does without the feature):
//! device assignment (`RMI_FEATURES(2)` = 0; PDEV/VDEV commands `SMC_NOT_SUPPORTED`, the
//! VDEV mapping commands `RMI_ERROR_INPUT`), the physical SMMU (`RMI_ERROR_NOT_SUPPORTED`),
//! MEC (`RMI_FEATURES(4)` = 0; a private-MEC realm gets `RMI_ERROR_GLOBAL`) and the PMU
//! (`PMU_EN` = 0, as TF-RMM v0.9.0 reports everywhere). Auxiliary planes: this model reports
//! `MAX_NUM_AUX_PLANES` = 0 (TF-RMM reports 3), so realms with planes are refused with
//! `RMI_ERROR_INPUT` and the plane commands answer `RMI_ERROR_INPUT`.
//!
//! Simplifications: a single CPU, so `RMI_BUSY` only comes from [`Rmm::busy_next`]; the NS
//! pages the RMM reads or writes (parameters, configuration, address lists, `RmiRecRun`) are
//! the host process's memory at their address, and must lie outside
//! [`RmmConfig::delegable`], whose granules the model tracks but never dereferences.

use super::*;
use cca_abi::rmi::fids::{
    RMI_GPT_L1_CREATE, RMI_GRANULE_RANGE_DELEGATE, RMI_GRANULE_RANGE_UNDELEGATE,
    RMI_GRANULE_TRACKING_GET, RMI_OP_CANCEL, RMI_OP_CONTINUE, RMI_OP_MEM_DONATE,
    RMI_OP_MEM_RECLAIM, RMI_RMM_ACTIVATE, RMI_RMM_CONFIG_GET, RMI_RMM_CONFIG_SET, RMI_RTT_DATA_MAP,
    RMI_RTT_DATA_MAP_INIT, RMI_RTT_DATA_UNMAP,
};
use cca_abi::rmi::{
    ADDR_LIST_ENTRIES, RMI_FEATURES, RMI_PSCI_COMPLETE, RMI_REALM_ACTIVATE, RMI_REALM_CREATE,
    RMI_REALM_DESTROY, RMI_REC_CREATE, RMI_REC_DESTROY, RMI_REC_ENTER, RMI_RTT_CREATE,
    RMI_RTT_DESTROY, RMI_RTT_FOLD, RMI_RTT_INIT_RIPAS, RMI_RTT_MAP_UNPROTECTED, RMI_RTT_READ_ENTRY,
    RMI_RTT_SET_RIPAS, RMI_RTT_UNMAP_UNPROTECTED, RMI_VERSION, RmiAddrRangeDesc, RmiBlockSize,
    RmiExitReason2, RmiFeatureRegister0V2, RmiFeatureRegister1, RmiOpMemState, RmiRealmParams2,
    RmiRecExit2, RmiRecParams2, RmiRecRun2, RmiRmmConfig,
};

/// The only revision TF-RMM v0.9.0 implements (`version.c`).
const V2_0: u64 = 0x2_0000;
/// `MAX_REC_AUX_GRANULES`: the auxiliary granules every REC asks for (`rec.c`).
const REC_AUX_GRANULES: usize = 16;
/// `RMI_ADDR_TYPE_SINGLE`, the only `flags` `RTT_DATA_MAP` / `RTT_DATA_UNMAP` accept.
const ADDR_TYPE_SINGLE: u64 = 1;
/// `x0` of `RMI_INCOMPLETE` with each `RmiOpMemReq` (status 13, request in bits 9:8; REC
/// operations cannot be cancelled, bit 10 clear).
const INCOMPLETE_NONE: u64 = 0x00D;
const INCOMPLETE_DONATE: u64 = 0x10D;
const INCOMPLETE_RECLAIM: u64 = 0x20D;
/// Bits 51:12 of an output address (`RTT_DATA_MAP` keeps only these).
const OA_MASK: u64 = ((1 << 52) - 1) & !(GRANULE - 1);

/// The RMI 2.0 state of an [`Rmm`].
#[derive(Default)]
pub(super) struct State {
    /// `RMM_STATE_ACTIVE` (else `RMM_STATE_INIT`).
    active: bool,
    /// The stateful-operation contexts: `Some` = sealed (a handle the host holds).
    contexts: Vec<Option<Operation>>,
    /// `RMI_BUSY` answers left for initiating commands.
    busy: u32,
    /// Every dispatched command: function id and `x0`.
    log: Vec<(u32, u64)>,
}

/// What a stateful operation does.
#[derive(Clone, Copy)]
enum OpKind {
    /// `RMI_REC_CREATE(rd, rec, params)`.
    Create { rd: u64, rec: u64, params: u64 },
    /// `RMI_REC_DESTROY(rec)`.
    Destroy { rec: u64 },
}

/// One sealed stateful-operation context (`struct sro_context`).
struct Operation {
    kind: OpKind,
    /// The `RMI_OP_*` the host must call next.
    expected: u32,
    /// Granules the RMM holds for the operation, in donation order: donated auxiliary
    /// granules, or those still to be reclaimed.
    held: Vec<u64>,
    /// Once the operation has failed or is tearing down: the status `RMI_OP_CONTINUE`
    /// reports after the reclaim.
    result: Option<RmiReturn>,
}

/// A reply: `x0` and the command's outputs from `x1`.
struct Out {
    x0: u64,
    x: [u64; 4],
    n: usize,
}

fn reply(x0: u64, out: &[u64]) -> Out {
    let mut x = [0; 4];
    let n = out.len().min(4);
    x[..n].copy_from_slice(&out[..n]);
    Out { x0, x, n }
}

fn ok(out: &[u64]) -> Out {
    reply(0, out)
}

fn refused(ret: RmiReturn) -> Out {
    reply(ret.to_raw(), &[])
}

fn input() -> RmiReturn {
    err(RmiStatus::ErrorInput)
}

/// How TF-RMM v0.9.0 handles a function number in its dispatch range.
enum Handler {
    /// A lifecycle command this model implements.
    Lifecycle,
    /// A device-assignment command on a platform without it: `SMC_NOT_SUPPORTED`.
    NoDa,
    /// A command whose inputs can only be invalid here (VDEV mappings, auxiliary planes).
    Input,
    /// A physical-SMMU command without device assignment: `RMI_ERROR_NOT_SUPPORTED`.
    NoPsmmu,
}

/// The handler of function number `fid` (`handler.c` `smc_handlers`); `None` answers
/// `SMC_UNKNOWN` whatever the RMM state.
fn handler(fid: u32) -> Option<Handler> {
    if cca_abi::rmi::fids::RMI_2_0_LIFECYCLE
        .iter()
        .any(|(f, _)| *f == fid)
    {
        return Some(Handler::Lifecycle);
    }
    match fid & 0xFFFF {
        0x156 | 0x160 | 0x174..=0x17C | 0x185..=0x18A | 0x18E | 0x1D0..=0x1D3 => {
            Some(Handler::NoDa)
        }
        0x163 | 0x172 | 0x173 | 0x17D..=0x181 | 0x183 | 0x184 | 0x18B => Some(Handler::Input),
        0x1D7 | 0x1D8 | 0x1DB | 0x1DC => Some(Handler::NoPsmmu),
        _ => None,
    }
}

/// Reads the entry half of an `RmiRecRun2`: flags and GPRs.
pub(super) fn read_enter(run_pa: u64) -> Result<(u64, [u64; 31]), RmiReturn> {
    let mut run = RmiRecRun2::zeroed();
    HostMemory
        .read(run_pa, run.enter.as_mut_bytes())
        .map_err(|_| input())?;
    Ok((run.enter.flags, run.enter.gprs))
}

/// Writes `exit` as an RMI 2.0 `RmiRecExit` at `run_pa + 0x800`: the whole half zeroed,
/// then the fields of the exit (same values as RMI 1.0's `write_exit`; the GIC fields are
/// gone and the exit reasons are [`RmiExitReason2`]).
pub(super) fn write_exit(run_pa: u64, exit: &RecExit) -> Result<(), crate::memory::Unmapped> {
    let mut e = RmiRecExit2::new_zeroed();
    let reason = match exit {
        RecExit::HostCall { imm, gprs } => {
            e.imm = u32::from(*imm);
            e.gprs = *gprs;
            RmiExitReason2::HostCall
        }
        RecExit::RipasChange {
            base, top, ripas, ..
        } => {
            e.ripas_base = *base;
            e.ripas_top = *top;
            #[allow(clippy::cast_possible_truncation, reason = "RIPAS values are 0 to 3")]
            let value = ripas.to_raw() as u8;
            e.ripas_value = value;
            RmiExitReason2::RipasChange
        }
        RecExit::Psci { fid, args } => {
            e.gprs[0] = u64::from(*fid);
            if matches!(fid & 0xff, 0x03 | 0x04) {
                e.gprs[1] = args[0];
            }
            RmiExitReason2::Psci
        }
        RecExit::S2apChange { base, top, .. } => {
            e.s2ap_base = *base;
            e.s2ap_top = *top;
            RmiExitReason2::S2apChange
        }
        RecExit::DataAbort { ipa } => {
            // EC 0x24 without a valid syndrome (`exit.c` `handle_data_abort`).
            e.esr = super::DATA_ABORT_ESR;
            e.hpfar = (ipa >> 12) << 4;
            RmiExitReason2::Sync
        }
    };
    e.exit_reason = reason.to_raw();
    HostMemory.write(run_pa + 0x800, e.as_bytes())
}

impl Rmm {
    /// Makes the next `n` commands that start a stateful operation (`RMI_REC_CREATE`,
    /// `RMI_REC_DESTROY`) answer `RMI_BUSY` with no effect, as TF-RMM v0.9.0 does while
    /// other CPUs hold every free context (RMI 2.0 only).
    pub fn busy_next(&mut self, n: u32) {
        self.v2.busy = n;
    }

    /// RMI 2.0: whether `RMI_RMM_ACTIVATE` has succeeded.
    #[must_use]
    pub fn rmm_active(&self) -> bool {
        self.v2.active
    }

    /// RMI 2.0: the stateful operations started and not yet ended by `RMI_OP_CONTINUE`
    /// (sealed contexts). Zero after a host that finishes what it starts.
    #[must_use]
    pub fn open_operations(&self) -> usize {
        self.v2.contexts.iter().filter(|c| c.is_some()).count()
    }

    /// RMI 2.0: every dispatched command, as its function id and `x0` (commands without a
    /// handler, which answer `SMC_UNKNOWN`, are not logged).
    #[must_use]
    pub fn log2(&self) -> &[(u32, u64)] {
        &self.v2.log
    }

    /// One RMI 2.0 call (`handler.c` `handle_ns_smc`): `x0..x3` start at 0 and `x4..x7`
    /// hold the caller's values, which a command with fewer outputs leaves as they were.
    pub(super) fn call_v2(&mut self, regs: &Regs) -> Regs {
        let mut r = [0u64; 18];
        r[4..8].copy_from_slice(&regs[4..8]);
        // Only bits 31:0 name the function; the SVE hint (bit 16) is masked off.
        #[allow(clippy::cast_possible_truncation, reason = "function ids are 32-bit")]
        let fid = (regs[0] as u32) & !(1 << 16);
        let Some(h) = handler(fid) else {
            r[0] = cca_abi::smccc::SMCCC_NOT_SUPPORTED;
            return r;
        };
        let allowed = match fid {
            RMI_VERSION | RMI_FEATURES | RMI_RMM_CONFIG_GET | RMI_GRANULE_TRACKING_GET => true,
            RMI_RMM_CONFIG_SET | RMI_RMM_ACTIVATE => !self.v2.active,
            _ => self.v2.active,
        };
        let fault = self.next_call_faults();
        let out = if !allowed {
            refused(err(RmiStatus::ErrorGlobal))
        } else if fault {
            refused(input())
        } else {
            match h {
                Handler::Lifecycle => {
                    let mut a = [0u64; 7];
                    a.copy_from_slice(&regs[1..8]);
                    self.dispatch_v2(fid, a)
                }
                Handler::NoDa => reply(cca_abi::smccc::SMCCC_NOT_SUPPORTED, &[]),
                Handler::Input => refused(input()),
                Handler::NoPsmmu => refused(err(RmiStatus::ErrorNotSupported)),
            }
        };
        r[0] = out.x0;
        r[1..=out.n].copy_from_slice(&out.x[..out.n]);
        self.v2.log.push((fid, out.x0));
        r
    }

    /// A command's reply from a 1.0-style result with `n` outputs.
    fn v1(result: Reply, n: usize) -> Out {
        match result {
            Ok(x) => ok(&x[..n]),
            Err(ret) => refused(ret),
        }
    }

    fn dispatch_v2(&mut self, fid: u32, a: [u64; 7]) -> Out {
        match fid {
            RMI_VERSION => {
                let x0 = if a[0] == V2_0 { 0 } else { input().to_raw() };
                reply(x0, &[if x0 == 0 { a[0] } else { V2_0 }, V2_0])
            }
            RMI_FEATURES => ok(&[self.feature_register(a[0])]),
            RMI_RMM_CONFIG_GET => self.rmm_config_get(a[0]),
            RMI_RMM_CONFIG_SET => self.rmm_config_set(a[0]),
            RMI_RMM_ACTIVATE => {
                self.v2.active = true;
                ok(&[])
            }
            RMI_GRANULE_TRACKING_GET => self.granule_tracking_get(a[0]),
            RMI_GPT_L1_CREATE => {
                // L1 GPTs are static in TF-RMM v0.9.0 (`granule.c` `smc_gpt_l1_create`).
                let status = if a[0].is_multiple_of(1 << 30) {
                    RmiStatus::ErrorGpt
                } else {
                    RmiStatus::ErrorInput
                };
                reply(err(status).to_raw(), &[0])
            }
            RMI_GRANULE_RANGE_DELEGATE => self.granule_range(a[0], a[1], true),
            RMI_GRANULE_RANGE_UNDELEGATE => self.granule_range(a[0], a[1], false),
            RMI_REALM_CREATE => Self::v1(self.realm_create_v2(a[0], a[1]), 0),
            RMI_REALM_ACTIVATE => Self::v1(self.realm_activate(a[0]), 0),
            RMI_REALM_DESTROY => Self::v1(self.realm_destroy(a[0]), 0),
            RMI_RTT_DATA_MAP_INIT => Self::v1(self.data_map_init(a[0], a[1], a[2], a[3], a[4]), 0),
            RMI_RTT_DATA_MAP => self.data_map(a[0], a[1], a[2], a[3], a[4]),
            RMI_RTT_DATA_UNMAP => self.data_unmap(a[0], a[1], a[2], a[3]),
            RMI_RTT_CREATE => Self::v1(self.rtt_create(a[0], a[1], a[2], a[3]), 0),
            RMI_RTT_DESTROY => Self::v1(self.rtt_destroy(a[0], a[1], a[2]), 2),
            RMI_RTT_FOLD => Self::v1(self.rtt_fold(a[0], a[1], a[2]), 1),
            RMI_RTT_READ_ENTRY => Self::v1(self.rtt_read_entry(a[0], a[1], a[2]), 4),
            RMI_RTT_MAP_UNPROTECTED => {
                Self::v1(self.rtt_map_unprotected(a[0], a[1], a[2], a[3]), 0)
            }
            RMI_RTT_UNMAP_UNPROTECTED => Self::v1(self.rtt_unmap_unprotected(a[0], a[1], a[2]), 1),
            RMI_RTT_INIT_RIPAS => Self::v1(self.init_ripas_v2(a[0], a[1], a[2]), 1),
            RMI_RTT_SET_RIPAS => Self::v1(self.rtt_set_ripas(a[0], a[1], a[2], a[3]), 1),
            RMI_PSCI_COMPLETE => Self::v1(self.psci_complete(a[0], a[1], a[2]), 0),
            RMI_REC_ENTER => match self.ns_page(a[1]) {
                Ok(()) => Self::v1(self.rec_enter(a[0], a[1]), 0),
                Err(e) => refused(e),
            },
            RMI_REC_CREATE => self.rec_create_v2(a[0], a[1], a[2]),
            RMI_REC_DESTROY => self.rec_destroy_v2(a[0]),
            RMI_OP_CONTINUE => self.op_continue(a[0]),
            RMI_OP_MEM_DONATE => self.op_mem_donate(a[0], a[1], a[2]),
            RMI_OP_MEM_RECLAIM => self.op_mem_reclaim(a[0], a[1], a[2]),
            // Unknown handles and REC operations (which cannot be cancelled) alike
            // (`sro.c` `smc_op_cancel`).
            RMI_OP_CANCEL => reply(input().to_raw(), &[0]),
            _ => reply(cca_abi::smccc::SMCCC_NOT_SUPPORTED, &[]),
        }
    }

    // ---- Features and the RMM's own state (digest §3, §7) ----

    /// `RMI_FEATURES(index)` (`feature.c`): registers 0 and 1 from the platform the
    /// configuration describes; 2 (device assignment), 3 (planes), 4 (MEC) and every other
    /// index are 0 on this platform.
    fn feature_register(&self, index: u64) -> u64 {
        let f = self.config.features0;
        match index {
            0 => RmiFeatureRegister0V2 {
                s2sz: f.s2sz,
                lpa2: f.lpa2,
                sve: f.sve,
                sve_vl: f.sve_vl,
                num_bps: f.num_bps,
                num_wps: f.num_wps,
                // `feature.c`: the PMU is not offered by RMI 2.0.
                pmu: false,
                pmu_num_ctrs: 0,
                reserved: 0,
            }
            .to_raw(),
            1 => RmiFeatureRegister1 {
                gran_sz_4k: true,
                hash_sha_256: f.hash_sha_256,
                hash_sha_512: f.hash_sha_512,
                max_recs_order: f.max_recs_order,
                // `feature.c`: fixed values, 30-bit L0 GPT and 48-bit PPS.
                l0gptsz: 0,
                pps: 5,
                ..RmiFeatureRegister1::default()
            }
            .to_raw(),
            _ => 0,
        }
    }

    /// An NS granule the host passes for the RMM to read or write: aligned, non-zero, not
    /// delegated, and (a limit of the model) outside the delegable range, which is not
    /// backed by memory.
    fn ns_page(&self, pa: u64) -> Result<(), RmiReturn> {
        let (base, top) = self.config.delegable;
        if pa == 0
            || !is_granule_aligned(pa)
            || self.state(pa).is_some()
            || (base..top).contains(&pa)
        {
            Err(input())
        } else {
            Ok(())
        }
    }

    /// `granule.c` `smc_rmm_config_get`: the whole 4096-byte configuration, all zero.
    fn rmm_config_get(&mut self, pa: u64) -> Out {
        if let Err(e) = self.ns_page(pa) {
            return refused(e);
        }
        match HostMemory.write(pa, RmiRmmConfig::zeroed().as_bytes()) {
            Ok(()) => ok(&[]),
            Err(_) => refused(input()),
        }
    }

    /// `granule.c` `smc_rmm_config_set`: only 4 KiB granules and 1 GiB tracking regions;
    /// nothing is stored.
    fn rmm_config_set(&mut self, pa: u64) -> Out {
        if let Err(e) = self.ns_page(pa) {
            return refused(e);
        }
        let mut config = RmiRmmConfig::zeroed();
        if HostMemory.read(pa, config.as_mut_bytes()).is_err()
            || config.tracking_region_size != 0
            || config.rmi_granule_size != 0
        {
            return refused(input());
        }
        ok(&[])
    }

    /// `granule.c` `smc_granule_tracking_get`: FINE, conventional memory, for a region whose
    /// first granule the RMM tracks; NONE otherwise.
    fn granule_tracking_get(&mut self, pa: u64) -> Out {
        if !pa.is_multiple_of(1 << 30) || pa >= 1 << 48 {
            return reply(input().to_raw(), &[0, 0]);
        }
        let (base, top) = self.config.delegable;
        let state = if (base..top).contains(&pa) { 2 } else { 1 };
        ok(&[0, state])
    }

    // ---- Delegation (digest §4.1) ----

    /// `RMI_GRANULE_RANGE_(UN)DELEGATE`: one granule per call; `x1` = the next base on
    /// success, `base` on any error.
    fn granule_range(&mut self, base: u64, top: u64, delegate: bool) -> Out {
        let next = base.checked_add(GRANULE);
        let fail = |ret: RmiReturn| reply(ret.to_raw(), &[base]);
        let Some(next) =
            next.filter(|n| is_granule_aligned(base) && is_granule_aligned(top) && top >= *n)
        else {
            return fail(input());
        };
        let done = if delegate {
            self.granule_delegate(base)
        } else {
            self.granule_undelegate(base)
        };
        match done {
            Ok(_) => ok(&[next]),
            Err(e) => fail(e),
        }
    }

    // ---- Realms (digest §10.1) ----

    /// `RMI_REALM_CREATE` with `RmiRealmParams2` (`realm.c` `smc_realm_create`): the RMI 1.0
    /// checks, plus the MEC policy, and no VMID from the host (the model picks a free one).
    fn realm_create_v2(&mut self, rd: u64, params_pa: u64) -> Reply {
        self.ns_page(params_pa)?;
        let mut p = RmiRealmParams2::zeroed();
        HostMemory
            .read(params_pa, p.as_mut_bytes())
            .map_err(|_| input())?;
        let mec_policy = (p.flags0 >> 7) & 0b11;
        // PMU: `PMU_EN` is 0 (and this platform has no FEAT_HPMN0 for 0 counters); planes:
        // `MAX_NUM_AUX_PLANES` is 0 here; `flags1` bit 1 (indirect S2AP) needs FEAT_S2PIE.
        if mec_policy > 1
            || RealmFlags::from_raw(p.flags0).contains(RealmFlags::PMU)
            || p.num_aux_planes != 0
            || p.ats_plane != 0
            || p.flags1 & !1 != 0
        {
            return Err(input());
        }
        let vmid = (1..=u16::MAX)
            .find(|v| self.realms.values().all(|r| r.vmid != *v))
            .ok_or(err(RmiStatus::ErrorGlobal))?;
        let mut v1 = RmiRealmParams::new_zeroed();
        v1.flags0 = p.flags0 & !(0b11 << 7);
        v1.s2sz = p.s2sz;
        v1.sve_vl = p.sve_vl;
        v1.num_bps = p.num_bps;
        v1.num_wps = p.num_wps;
        v1.pmu_num_ctrs = p.pmu_num_ctrs;
        v1.hash_algo = p.algorithm;
        v1.rpv = p.rpv;
        v1.vmid = vmid;
        v1.rtt_base = p.rtt_base;
        v1.rtt_level_start = p.rtt_level_start;
        v1.rtt_num_start = p.rtt_num_start;
        self.realm_create_from(rd, &v1, mec_policy == 1)
    }

    // ---- Data (digest §5) and RIPAS (§11.1) ----

    /// `RMI_RTT_DATA_MAP_INIT` (`rtt.c` `smc_rtt_data_map_init`): RMI 1.0's measured
    /// `DATA_CREATE`; the entry becomes ASSIGNED with RIPAS RAM.
    fn data_map_init(&mut self, rd: u64, data: u64, ipa: u64, src: u64, flags: u64) -> Reply {
        self.ns_page(src)?;
        self.data_create(rd, data, ipa, Some((src, flags)))?;
        let realm = self.realm_mut(rd)?;
        let (table, _, idx) = Self::walk(realm, ipa, 3);
        if let Some(t) = realm.tables.get_mut(&table) {
            t.entries[idx].ripas = Ripas::Ram;
        }
        Ok([0; 4])
    }

    /// `RMI_RTT_DATA_MAP` (`rtt.c` `smc_rtt_data_map`): one zero-filled, unmeasured granule
    /// at `base`, RIPAS kept, in any realm state; `x1` = `base` + 4 KiB whatever the status.
    fn data_map(&mut self, rd: u64, base: u64, top: u64, flags: u64, oaddr: u64) -> Out {
        let next = base.wrapping_add(GRANULE);
        let result =
            if flags != ADDR_TYPE_SINGLE || base.checked_add(GRANULE).is_none_or(|n| top < n) {
                Err(input())
            } else {
                self.data_create(rd, oaddr & OA_MASK, base, None)
            };
        match result {
            Ok(_) => ok(&[next]),
            Err(e) => reply(e.to_raw(), &[next]),
        }
    }

    /// `RMI_RTT_DATA_UNMAP` (`rtt.c` `smc_rtt_data_unmap`): unmaps the level-3 page at
    /// `base` if there is one (`x2` = its granule as an address-range descriptor, now
    /// DELEGATED); `x1` = the end of the run of non-live entries from `base`, capped at `top`.
    fn data_unmap(&mut self, rd: u64, base: u64, top: u64, flags: u64) -> Out {
        if flags != ADDR_TYPE_SINGLE || base.checked_add(GRANULE).is_none_or(|n| top < n) {
            return refused(input());
        }
        let realm = match self.realm_mut(rd) {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        let par = 1u64 << (realm.s2sz - 1);
        if !is_granule_aligned(base) || base >= par {
            return refused(input());
        }
        let (table, level, idx) = Self::walk(realm, base, 3);
        let Some(t) = realm.tables.get_mut(&table) else {
            return refused(input());
        };
        let e = &mut t.entries[idx];
        let freed = match e.state {
            EntryState::Unassigned => None,
            EntryState::Assigned(data) if level == 3 => {
                e.state = EntryState::Unassigned;
                if e.ripas == Ripas::Ram {
                    e.ripas = Ripas::Destroyed;
                }
                Some(data)
            }
            _ => return refused(rtt_err(level)),
        };
        let next = Self::non_live_top(realm, table, idx).min(top);
        if let Some(data) = freed {
            realm.data.remove(&data);
            self.granules.insert(data, GranuleState::Delegated);
        }
        let desc = freed.map_or(0, |pa| pa | (1 << 2));
        ok(&[next, desc, 0])
    }

    /// `RMI_RTT_INIT_RIPAS` of RMI 2.0 (`rtt.c` `smc_rtt_init_ripas`): not measured;
    /// ASSIGNED-EMPTY becomes ASSIGNED-RAM too; RAM entries are passed over; a DESTROYED,
    /// table or unprotected entry stops the walk.
    fn init_ripas_v2(&mut self, rd: u64, base: u64, top: u64) -> Reply {
        let realm = self.realm_mut(rd)?;
        let par = 1u64 << (realm.s2sz - 1);
        if !is_granule_aligned(base) || !is_granule_aligned(top) || base >= top || top > par {
            return Err(input());
        }
        if realm.state != RealmState::New {
            return Err(err(RmiStatus::ErrorRealm));
        }
        let out = Self::for_entries(realm, base, top, |_, _, e| {
            let live_or_not = matches!(e.state, EntryState::Unassigned | EntryState::Assigned(_));
            if !live_or_not || e.ripas == Ripas::Destroyed {
                return false;
            }
            e.ripas = Ripas::Ram;
            true
        })?;
        Ok([out, 0, 0, 0])
    }

    // ---- Stateful operations (digest §6) ----

    /// `sro_context.c` `sro_ctx_reserve`: a free context, or `RMI_BLOCKED` when every one
    /// is sealed. (`RMI_BUSY` needs other CPUs; [`Rmm::busy_next`] plays them.)
    fn reserve(&mut self) -> Result<usize, RmiReturn> {
        if self.v2.busy > 0 {
            self.v2.busy -= 1;
            return Err(err(RmiStatus::Busy));
        }
        let n = self.config.sro_contexts;
        if self.v2.contexts.len() < n {
            self.v2.contexts.resize_with(n, || None);
        }
        self.v2
            .contexts
            .iter()
            .take(n)
            .position(Option::is_none)
            .ok_or(err(RmiStatus::Blocked))
    }

    /// The sealed context `handle` if it expects `fid` next (`sro.c` `rmi_op_dispatch`).
    fn operation(&mut self, handle: u64, fid: u32) -> Result<&mut Operation, RmiReturn> {
        usize::try_from(handle)
            .ok()
            .and_then(|h| self.v2.contexts.get_mut(h))
            .and_then(Option::as_mut)
            .filter(|op| op.expected == fid)
            .ok_or(input())
    }

    /// `rec.c` `smc_rec_create`: the REC granule becomes PARTIAL and the RMM asks for
    /// [`REC_AUX_GRANULES`] delegated granules; RD and parameters are checked at the end.
    fn rec_create_v2(&mut self, rd: u64, rec: u64, params: u64) -> Out {
        if let Err(e) = self.expect(rec, GranuleState::Delegated) {
            return refused(e);
        }
        let handle = match self.reserve() {
            Ok(h) => h,
            Err(e) => return refused(e),
        };
        self.granules.insert(rec, GranuleState::Partial);
        self.v2.contexts[handle] = Some(Operation {
            kind: OpKind::Create { rd, rec, params },
            expected: RMI_OP_MEM_DONATE,
            held: Vec::new(),
            result: None,
        });
        reply(
            INCOMPLETE_DONATE,
            &[handle as u64, (REC_AUX_GRANULES as u64) << 2],
        )
    }

    /// `rec.c` `smc_rec_destroy`: reserves a context, then the REC becomes PARTIAL and its
    /// auxiliary granules wait to be reclaimed.
    fn rec_destroy_v2(&mut self, rec: u64) -> Out {
        let handle = match self.reserve() {
            Ok(h) => h,
            Err(e) => return refused(e),
        };
        if let Err(e) = self.expect(rec, GranuleState::Rec) {
            return refused(e);
        }
        let Some(mut r) = self.recs.remove(&rec) else {
            return refused(input());
        };
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
        self.granules.insert(rec, GranuleState::Partial);
        self.v2.contexts[handle] = Some(Operation {
            kind: OpKind::Destroy { rec },
            expected: RMI_OP_MEM_RECLAIM,
            held: r.aux,
            result: Some(RmiReturn::SUCCESS),
        });
        reply(INCOMPLETE_RECLAIM, &[handle as u64])
    }

    /// Where an address list may be: 8-byte aligned NS memory; returns how many of `count`
    /// entries fit before the end of its granule.
    fn list_capacity(&self, list: u64, count: u64) -> Result<usize, RmiReturn> {
        let page = list & !(GRANULE - 1);
        if !list.is_multiple_of(8) {
            return Err(input());
        }
        self.ns_page(page)?;
        #[allow(clippy::cast_possible_truncation, reason = "an offset below 4096")]
        let fit = ADDR_LIST_ENTRIES - (list % GRANULE) as usize / 8;
        Ok(usize::try_from(count).unwrap_or(usize::MAX).min(fit))
    }

    /// `sro.c` `smc_op_mem_donate` with `rec.c` `rec_memory_donate`: validates the list,
    /// then takes DELEGATED granules in list order until the request is met or one is not
    /// DELEGATED; a first granule that is not makes the operation fail through a reclaim.
    fn op_mem_donate(&mut self, handle: u64, list: u64, count: u64) -> Out {
        let cap = match self
            .operation(handle, RMI_OP_MEM_DONATE)
            .map(|_| ())
            .and_then(|()| self.list_capacity(list, count))
        {
            Ok(c) => c,
            Err(e) => return refused(e),
        };
        let mut raw = alloc::vec![0u8; cap * 8];
        if HostMemory.read(list, &mut raw).is_err() {
            return refused(input());
        }
        let mut entries = Vec::new();
        for chunk in raw.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let v = u64::from_le_bytes(b);
            match RmiAddrRangeDesc::from_raw(v) {
                Some(d) if d.count == 0 => {}
                Some(d) if d.is_valid() && d.state == RmiOpMemState::Delegated => entries.push(d),
                _ => return refused(input()),
            }
        }
        let op = self.operation(handle, RMI_OP_MEM_DONATE).expect("checked");
        let outstanding = (REC_AUX_GRANULES - op.held.len()) as u64;
        let total: u64 = entries.iter().map(|d| d.granules()).sum();
        if total > outstanding {
            return refused(input());
        }
        let mut consumed = 0u64;
        'list: for d in entries {
            for k in 0..d.granules() {
                let pa = d.pa + k * GRANULE;
                if self.granules.get(&pa) != Some(&GranuleState::Delegated) {
                    if consumed == 0 {
                        let op = self.operation(handle, RMI_OP_MEM_DONATE).expect("checked");
                        op.result = Some(input());
                        op.expected = RMI_OP_MEM_RECLAIM;
                        return reply(INCOMPLETE_RECLAIM, &[0, 0]);
                    }
                    break 'list;
                }
                self.granules.insert(pa, GranuleState::RecAux);
                self.operation(handle, RMI_OP_MEM_DONATE)
                    .expect("checked")
                    .held
                    .push(pa);
                consumed += 1;
            }
        }
        let op = self.operation(handle, RMI_OP_MEM_DONATE).expect("checked");
        let wanted = (REC_AUX_GRANULES - op.held.len()) as u64;
        if wanted == 0 {
            op.expected = RMI_OP_CONTINUE;
            reply(INCOMPLETE_NONE, &[consumed, 0])
        } else {
            reply(INCOMPLETE_DONATE, &[consumed, wanted << 2])
        }
    }

    /// `sro.c` `smc_op_mem_reclaim` with `addr_list.c` `addr_list_add_block`: gives back
    /// held granules, DELEGATED, as entries that merge granules adjacent to an entry (either
    /// end); `x1` = entries written.
    fn op_mem_reclaim(&mut self, handle: u64, list: u64, capacity: u64) -> Out {
        let cap = match self
            .operation(handle, RMI_OP_MEM_RECLAIM)
            .map(|_| ())
            .and_then(|()| self.list_capacity(list, capacity))
        {
            Ok(c) => c,
            Err(e) => return refused(e),
        };
        let op = self.operation(handle, RMI_OP_MEM_RECLAIM).expect("checked");
        let mut entries: Vec<RmiAddrRangeDesc> = Vec::new();
        let mut taken = 0;
        for &pa in &op.held {
            let merged = entries.iter_mut().any(|e| {
                if e.count == RmiAddrRangeDesc::MAX_COUNT {
                    return false;
                }
                if pa.checked_add(GRANULE) == Some(e.pa) {
                    e.pa = pa;
                } else if pa != e.top() {
                    return false;
                }
                e.count += 1;
                true
            });
            if !merged {
                if entries.len() == cap {
                    break;
                }
                entries.push(RmiAddrRangeDesc {
                    block_size: RmiBlockSize::Page4K,
                    count: 1,
                    pa,
                    state: RmiOpMemState::Delegated,
                });
            }
            taken += 1;
        }
        let bytes: Vec<u8> = entries
            .iter()
            .flat_map(|e| e.to_raw().to_le_bytes())
            .collect();
        if HostMemory.write(list, &bytes).is_err() {
            return refused(input());
        }
        let back: Vec<u64> = op.held.drain(..taken).collect();
        let done = op.held.is_empty();
        if done {
            op.expected = RMI_OP_CONTINUE;
        }
        for pa in back {
            self.granules.insert(pa, GranuleState::Delegated);
        }
        let x0 = if done {
            INCOMPLETE_NONE
        } else {
            INCOMPLETE_RECLAIM
        };
        reply(x0, &[entries.len() as u64])
    }

    /// `sro.c` `smc_op_continue`: ends a reclaimed operation with its stored result (the
    /// REC granule DELEGATED again), or finishes `REC_CREATE` (`rec.c`
    /// `rec_create_continue`), whose failure asks for the donated granules back.
    fn op_continue(&mut self, handle: u64) -> Out {
        let (kind, result) = match self.operation(handle, RMI_OP_CONTINUE) {
            Ok(op) => (op.kind, op.result),
            Err(e) => return reply(e.to_raw(), &[0, 0]),
        };
        #[allow(clippy::cast_possible_truncation, reason = "a context index")]
        let index = handle as usize;
        let rec = match kind {
            OpKind::Create { rec, .. } | OpKind::Destroy { rec } => rec,
        };
        if let Some(ret) = result {
            self.granules.insert(rec, GranuleState::Delegated);
            self.v2.contexts[index] = None;
            return reply(ret.to_raw(), &[0, 0]);
        }
        let OpKind::Create { rd, params, .. } = kind else {
            return reply(input().to_raw(), &[0, 0]);
        };
        match self.rec_create_finish(rd, rec, params, index) {
            Ok(()) => {
                self.v2.contexts[index] = None;
                ok(&[0, 0])
            }
            Err(e) => {
                if let Some(Some(op)) = self.v2.contexts.get_mut(index) {
                    op.result = Some(e);
                    op.expected = RMI_OP_MEM_RECLAIM;
                }
                reply(INCOMPLETE_RECLAIM, &[0, 0])
            }
        }
    }

    /// The checks and effects of `rec.c` `rec_create_continue`: parameters read now, REC
    /// measured if RUNNABLE.
    fn rec_create_finish(
        &mut self,
        rd: u64,
        rec: u64,
        params_pa: u64,
        index: usize,
    ) -> Result<(), RmiReturn> {
        self.ns_page(params_pa)?;
        let mut params = RmiRecParams2::zeroed();
        HostMemory
            .read(params_pa, params.as_mut_bytes())
            .map_err(|_| input())?;
        self.expect(rec, GranuleState::Partial)?;
        let max_recs = self.config.features0.max_recs();
        let realm = self.realm_mut(rd)?;
        if realm.state != RealmState::New {
            return Err(err(RmiStatus::ErrorRealm));
        }
        let rec_index = realm.recs.len();
        if params.mpidr != crate::rec_mpidr(rec_index) || rec_index as u64 >= max_recs {
            return Err(input());
        }
        let aux = self
            .v2
            .contexts
            .get(index)
            .and_then(Option::as_ref)
            .map(|op| op.held.clone())
            .unwrap_or_default();
        if aux.len() != REC_AUX_GRANULES {
            return Err(input());
        }
        let realm = self.realms.get_mut(&rd).ok_or(input())?;
        realm.rim.rec_create_measured(&MeasuredRecParams {
            flags: params.flags,
            pc: params.pc,
            gprs: params.gprs,
        });
        realm.recs.push(rec);
        realm.live_recs += 1;
        self.granules.insert(rec, GranuleState::Rec);
        self.recs
            .insert(rec, Rec::new(rd, rec_index, aux, &params.gprs));
        Ok(())
    }
}
