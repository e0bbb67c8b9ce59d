//! RSI command handling (DEN0137 B5.3; TF-RMM v0.8.0 `runtime/rsi/*.c`), and the RSI 1.1
//! commands as TF-RMM v0.9.0 (or v0.8.0) answers them for a realm with no auxiliary plane
//! and no device assignment.

use cca_abi::measurement::REM_COUNT;
use cca_abi::rsi::{
    HOST_CALL_ALIGN, HOST_CALL_GPRS, MAX_EXTEND_SIZE, MemPermValue, PERM_INDEX_COUNT, Ripas,
    RsiCommand, RsiStatus,
};
use cca_abi::smccc::{Regs, pack_bytes};
use cca_abi::{AbiVersion, GRANULE_SIZE, is_granule_aligned};

use crate::memory::RealmMemory;
use crate::token::{Claims, TokenIssuer, TokenState};
use crate::{RealmModel, RecExit, Step};

const GRANULE: u64 = GRANULE_SIZE as u64;

/// Planes of every realm the model runs: plane 0 only (`rec_num_planes` in TF-RMM
/// `runtime/include/rec.h` is `num_aux_planes + 1`).
const NUM_PLANES: u64 = 1;

/// Whether TF-RMM accepts `index` as a permission index: it casts the register to 32 bits
/// and accepts 0 to 14 (`runtime/rsi/memory.c`, `lib/s2tt/include/s2ap_ind.h`).
fn perm_index_valid(index: u64) -> bool {
    #[allow(clippy::cast_possible_truncation, reason = "TF-RMM's own cast")]
    let low = index as u32;
    u64::from(low) < PERM_INDEX_COUNT
}

fn status(regs: &mut Regs, s: RsiStatus) -> Step {
    regs[0] = s.to_raw();
    Step::Resume
}

impl<I: TokenIssuer> RealmModel<I> {
    pub(crate) fn handle_rsi(
        &mut self,
        rec: usize,
        cmd: RsiCommand,
        regs: &mut Regs,
        mem: &mut dyn RealmMemory,
    ) -> Step {
        // x1..x3 a command does not set come back as zero (TF-RMM `runtime/core/exit.c`).
        let saved = *regs;
        regs[1..4].fill(0);
        match cmd {
            RsiCommand::Version { requested } => self.version(requested, regs),
            RsiCommand::Features { .. } => {
                // TF-RMM v0.8.0 sets no RsiFeatureRegister0 bit for a realm without DA.
                status(regs, RsiStatus::Success)
            }
            RsiCommand::MeasurementRead { index } => self.measurement_read(index, regs),
            RsiCommand::MeasurementExtend { index, size, value } => {
                self.measurement_extend(index, size, &value, regs)
            }
            RsiCommand::AttestationTokenInit { challenge } => {
                self.token_init(rec, &challenge, regs)
            }
            RsiCommand::AttestationTokenContinue {
                granule,
                offset,
                size,
            } => {
                let step = self.token_continue(rec, granule, offset, size, regs, mem);
                if matches!(step, Step::Exit(RecExit::DataAbort { .. })) {
                    *regs = saved;
                }
                step
            }
            RsiCommand::RealmConfig { ipa } => {
                let step = self.realm_config(ipa, regs, mem);
                if matches!(step, Step::Exit(RecExit::DataAbort { .. })) {
                    *regs = saved;
                }
                step
            }
            RsiCommand::IpaStateSet {
                base,
                top,
                ripas,
                flags,
            } => self.ipa_state_set(base, top, ripas, flags, regs),
            RsiCommand::IpaStateGet { base, end } => self.ipa_state_get(base, end, regs),
            RsiCommand::HostCall { ipa } => {
                let step = self.host_call(ipa, regs, mem);
                // The structure's address stays in x1 for the completion.
                regs[1] = saved[1];
                step
            }
            // Defined but not dispatched by TF-RMM v0.8.0 and v0.9.0 (`runtime/core/exit.c`).
            RsiCommand::VsmmuGetInfo | RsiCommand::ArchDevActivate => {
                status(regs, RsiStatus::NotSupported)
            }
            // TF-RMM v0.9.0 `runtime/rsi/vdev.c`: every VDEV command first checks that the
            // realm has device assignment and answers ERROR_STATE otherwise. v0.8.0
            // dispatches 0x19C and 0x1A4 to RDEV_GET_INSTANCE_ID and RDEV_CONTINUE
            // (`runtime/rsi/rdev.c`), which check the same first, and has no 0x19D or 0x19F.
            RsiCommand::VdevDmaEnable { .. } | RsiCommand::VdevDmaDisable { .. } => {
                status(regs, RsiStatus::ErrorState)
            }
            RsiCommand::VdevGetInfo { .. } | RsiCommand::VdevValidateMapping { .. } => {
                if self.is_tf_rmm_v0_9() {
                    status(regs, RsiStatus::ErrorState)
                } else {
                    status(regs, RsiStatus::NotSupported)
                }
            }
            RsiCommand::MemGetPermValue { plane, index } => {
                self.mem_get_perm_value(plane, index, regs)
            }
            RsiCommand::MemSetPermIndex {
                base,
                top,
                index,
                cookie,
            } => self.mem_set_perm_index(base, top, index, cookie, regs),
            // TF-RMM v0.8.0 / v0.9.0 `runtime/rsi/memory.c`: plane 0's values cannot be set,
            // and the plane must exist; so a single-plane realm always gets ERROR_INPUT.
            RsiCommand::MemSetPermValue { .. } => status(regs, RsiStatus::ErrorInput),
            // TF-RMM v0.8.0 / v0.9.0 `runtime/rsi/planes.c`: the target must be an existing
            // auxiliary plane, which is checked first; a single-plane realm has none.
            RsiCommand::PlaneEnter { .. }
            | RsiCommand::PlaneSysregRead { .. }
            | RsiCommand::PlaneSysregWrite { .. } => status(regs, RsiStatus::ErrorInput),
        }
    }

    /// Whether the modelled RMM is TF-RMM v0.9.0 (it offers RSI 1.1) rather than v0.8.0's
    /// default build (RSI 1.0 only): the two assign some RSI 1.1 function ids differently.
    fn is_tf_rmm_v0_9(&self) -> bool {
        self.config.rsi.supports(AbiVersion::V1_1)
    }

    /// TF-RMM v0.8.0 dispatches function ids 0x1A5 to 0x1AC to its draft device-assignment
    /// handlers (`runtime/rsi/rdev.c`), which TF-RMM v0.9.0 dropped: for a realm without
    /// device assignment they answer ERROR_STATE, except RDEV_VALIDATE_MAPPING (0x1AC), which
    /// first answers ERROR_INPUT for an unaligned or empty range (`x3`, `x4`, `x5`).
    /// `None` for any other function id, or on TF-RMM v0.9.0.
    pub(crate) fn handle_v0_8_rdev(&mut self, regs: &mut Regs) -> Option<Step> {
        const SVE_HINT: u64 = 1 << 16;
        const RDEV_VALIDATE_MAPPING: u64 = 0xC400_01AC;
        let fid = regs[0] & !SVE_HINT;
        if self.is_tf_rmm_v0_9() || !(0xC400_01A5..=RDEV_VALIDATE_MAPPING).contains(&fid) {
            return None;
        }
        let (base, top, pa) = (regs[3], regs[4], regs[5]);
        regs[1..4].fill(0);
        let bad_range = !is_granule_aligned(base)
            || !is_granule_aligned(top)
            || !is_granule_aligned(pa)
            || top <= base;
        Some(if fid == RDEV_VALIDATE_MAPPING && bad_range {
            status(regs, RsiStatus::ErrorInput)
        } else {
            status(regs, RsiStatus::ErrorState)
        })
    }

    /// TF-RMM v0.8.0 / v0.9.0 `runtime/rsi/memory.c`: the plane must exist and the index be
    /// valid (ERROR_INPUT); x1 = the plane's value of the index. Plane 0 starts with `RW_upX`
    /// for indices 0 to 14 (`runtime/rmi/realm.c`), and nothing can change its values.
    fn mem_get_perm_value(&mut self, plane: u64, index: u64, regs: &mut Regs) -> Step {
        if plane >= NUM_PLANES || !perm_index_valid(index) {
            return status(regs, RsiStatus::ErrorInput);
        }
        regs[1] = MemPermValue::RwUpx.to_raw();
        status(regs, RsiStatus::Success)
    }

    /// TF-RMM v0.8.0 / v0.9.0 `runtime/rsi/memory.c`, in its order: base and top granule
    /// aligned with base < top; then the range protected, the index valid and the cookie
    /// acceptable (ERROR_INPUT). A realm whose planes share one stage-2 tree (all realms
    /// without auxiliary planes) accepts only cookie 0. Otherwise the REC exits to the host.
    fn mem_set_perm_index(
        &mut self,
        base: u64,
        top: u64,
        index: u64,
        cookie: u64,
        regs: &mut Regs,
    ) -> Step {
        if !is_granule_aligned(base) || !is_granule_aligned(top) || base >= top {
            return status(regs, RsiStatus::ErrorInput);
        }
        if top > self.par_size() || !perm_index_valid(index) || cookie != 0 {
            return status(regs, RsiStatus::ErrorInput);
        }
        regs[0] = RsiStatus::Success.to_raw();
        Step::Exit(RecExit::S2apChange { base, top, index })
    }

    /// DEN0137 B5.3.10 / TF-RMM `runtime/rsi/system.c`: SUCCESS with x1 = the request if it
    /// is implemented, otherwise ERROR_INPUT with x1 = the highest; x2 = the highest.
    fn version(&mut self, requested: u64, regs: &mut Regs) -> Step {
        let highest = self.config.rsi.highest.encode();
        let ok = AbiVersion::decode(requested).is_some_and(|v| self.config.rsi.supports(v));
        regs[1] = if ok { requested } else { highest };
        regs[2] = highest;
        status(
            regs,
            if ok {
                RsiStatus::Success
            } else {
                RsiStatus::ErrorInput
            },
        )
    }

    /// DEN0137 B5.3.6: index 0 is the RIM, 1..4 the REMs; anything else ERROR_INPUT.
    /// x1..x8 hold the 64-byte slot, zero past the digest.
    fn measurement_read(&mut self, index: u64, regs: &mut Regs) -> Step {
        let m = match index {
            0 => self.config.rim,
            1..=4 => self.rems[index as usize - 1],
            _ => return status(regs, RsiStatus::ErrorInput),
        };
        pack_bytes(&m.slot(), &mut regs[1..9]);
        status(regs, RsiStatus::Success)
    }

    /// DEN0137 B5.3.5: index 0 (the RIM) or past 4, or size > 64, is ERROR_INPUT;
    /// otherwise REM = H(REM ‖ value[0..size]). Size 0 is accepted as TF-RMM does.
    fn measurement_extend(
        &mut self,
        index: u64,
        size: u64,
        value: &[u8; MAX_EXTEND_SIZE],
        regs: &mut Regs,
    ) -> Step {
        if index == 0 || index > REM_COUNT as u64 || size > MAX_EXTEND_SIZE as u64 {
            return status(regs, RsiStatus::ErrorInput);
        }
        self.rems[index as usize - 1].extend(&value[..size as usize]);
        status(regs, RsiStatus::Success)
    }

    /// DEN0137 B5.3.1 / TF-RMM `realm_attest.c`: aborts any token in progress on this REC,
    /// snapshots the claims, x1 = upper bound on the token size.
    fn token_init(&mut self, rec: usize, challenge: &[u8; 64], regs: &mut Regs) -> Step {
        let claims = Claims {
            challenge: *challenge,
            rpv: self.config.rpv,
            hash_algorithm: self.config.hash_algorithm,
            rim: self.config.rim,
            rems: self.rems,
        };
        self.recs[rec].token = TokenState::Idle;
        match self.issuer.issue(&claims) {
            Ok(token) if token.len() as u64 <= self.config.token_upper_bound => {
                self.recs[rec].token = TokenState::Signing {
                    steps_left: self.config.signing_steps,
                    token,
                };
                regs[1] = self.config.token_upper_bound;
                status(regs, RsiStatus::Success)
            }
            _ => status(regs, RsiStatus::ErrorUnknown),
        }
    }

    /// DEN0137 B5.3.2 / TF-RMM `realm_attest.c`, in TF-RMM's order: the granule must be
    /// aligned, `offset < 4096`, `offset + size <= 4096` without overflow, and the granule in
    /// the protected range (ERROR_INPUT); then a token must be in progress (ERROR_STATE);
    /// then signing steps answer INCOMPLETE with nothing written; then the buffer must be
    /// RAM (ERROR_INPUT) and min(size, remaining) bytes are copied, INCOMPLETE while bytes
    /// remain and SUCCESS with the last one.
    fn token_continue(
        &mut self,
        rec: usize,
        granule: u64,
        offset: u64,
        size: u64,
        regs: &mut Regs,
        mem: &mut dyn RealmMemory,
    ) -> Step {
        let in_bounds =
            offset < GRANULE && offset.checked_add(size).is_some_and(|end| end <= GRANULE);
        if !is_granule_aligned(granule) || !in_bounds || !self.in_par(granule, GRANULE) {
            return status(regs, RsiStatus::ErrorInput);
        }
        let state = &mut self.recs[rec].token;
        match state {
            TokenState::Idle | TokenState::Delivered => status(regs, RsiStatus::ErrorState),
            TokenState::Signing { steps_left, token } => {
                if *steps_left > 0 {
                    *steps_left -= 1;
                } else {
                    *state = TokenState::Copying {
                        token: core::mem::take(token),
                        copied: 0,
                    };
                }
                status(regs, RsiStatus::Incomplete)
            }
            TokenState::Copying { token, copied } => {
                if !self.ripas.is_ram(granule, GRANULE) {
                    return status(regs, RsiStatus::ErrorInput);
                }
                let rest = &token[*copied..];
                #[allow(clippy::cast_possible_truncation, reason = "size <= 4096")]
                let n = rest.len().min(size as usize);
                if let Err(fault) = mem.write(granule + offset, &rest[..n]) {
                    return Step::Exit(RecExit::DataAbort { ipa: fault.ipa });
                }
                *copied += n;
                regs[1] = n as u64;
                if *copied == token.len() {
                    *state = TokenState::Delivered;
                    status(regs, RsiStatus::Success)
                } else {
                    status(regs, RsiStatus::Incomplete)
                }
            }
        }
    }

    /// DEN0137 B5.3.9: the granule must be aligned, protected and RAM (ERROR_INPUT). TF-RMM
    /// writes `ipa_width` (8 bytes), `hash_algo` (one byte), `num_aux_planes` (8 bytes, 0
    /// here), `gicv3_vtr` (the CPU's `ICH_VTR_EL2`, which the model has no GIC to take it
    /// from, so it leaves the slot alone) and the RPV, plus `ats_plane` (8 bytes, 0) from
    /// v0.9.0 on (`runtime/rsi/config.c`); it leaves the rest of the granule as it was.
    fn realm_config(&mut self, ipa: u64, regs: &mut Regs, mem: &mut dyn RealmMemory) -> Step {
        if !is_granule_aligned(ipa)
            || !self.in_par(ipa, GRANULE)
            || !self.ripas.is_ram(ipa, GRANULE)
        {
            return status(regs, RsiStatus::ErrorInput);
        }
        let zero = 0u64.to_le_bytes();
        let writes: [(u64, &[u8]); 5] = [
            (0x000, &u64::from(self.config.ipa_width).to_le_bytes()),
            (0x008, &[self.config.hash_algorithm.encoding()]),
            (0x010, &zero),
            (0x020, if self.is_tf_rmm_v0_9() { &zero } else { &[] }),
            (0x200, &self.config.rpv),
        ];
        for (off, bytes) in writes {
            if let Err(fault) = mem.write(ipa + off, bytes) {
                return Step::Exit(RecExit::DataAbort { ipa: fault.ipa });
            }
        }
        status(regs, RsiStatus::Success)
    }

    /// DEN0137 B5.3.11 / TF-RMM `memory.c`: RIPAS must be EMPTY or RAM, base and top granule
    /// aligned with base < top, and the range protected (ERROR_INPUT). Otherwise the REC
    /// exits to the host with the request.
    fn ipa_state_set(
        &mut self,
        base: u64,
        top: u64,
        ripas: u64,
        flags: u64,
        regs: &mut Regs,
    ) -> Step {
        let ripas = match Ripas::from_raw(ripas) {
            Some(r @ (Ripas::Empty | Ripas::Ram)) => r,
            _ => return status(regs, RsiStatus::ErrorInput),
        };
        if !is_granule_aligned(base)
            || !is_granule_aligned(top)
            || base >= top
            || top > self.par_size()
        {
            return status(regs, RsiStatus::ErrorInput);
        }
        regs[0] = RsiStatus::Success.to_raw();
        // TF-RMM compares the whole register with RSI_CHANGE_DESTROYED (cca-abi.md §2.1).
        Step::Exit(RecExit::RipasChange {
            base,
            top,
            ripas,
            change_destroyed: flags == 1,
        })
    }

    /// DEN0137 B5.3.12: base and end granule aligned, base < end, end protected
    /// (ERROR_INPUT); x1 = end of the run of equal RIPAS from base (capped at end), x2 = RIPAS.
    fn ipa_state_get(&mut self, base: u64, end: u64, regs: &mut Regs) -> Step {
        if !is_granule_aligned(base)
            || !is_granule_aligned(end)
            || base >= end
            || end > self.par_size()
        {
            return status(regs, RsiStatus::ErrorInput);
        }
        let (ripas, top) = self.ripas.run(base, end);
        regs[1] = top;
        regs[2] = ripas.to_raw();
        status(regs, RsiStatus::Success)
    }

    /// DEN0137 B5.3.3 / TF-RMM `host_call.c`: the structure must be 256-byte aligned (so it
    /// cannot cross a granule), protected and RAM (ERROR_INPUT). The REC exits with the
    /// immediate and the 31 registers.
    fn host_call(&mut self, ipa: u64, regs: &mut Regs, mem: &mut dyn RealmMemory) -> Step {
        if !ipa.is_multiple_of(HOST_CALL_ALIGN)
            || !self.in_par(ipa, HOST_CALL_ALIGN)
            || !self.ripas.is_ram(ipa, HOST_CALL_ALIGN)
        {
            return status(regs, RsiStatus::ErrorInput);
        }
        let mut raw = [0u8; 0x100];
        if let Err(fault) = mem.read(ipa, &mut raw) {
            return Step::Exit(RecExit::DataAbort { ipa: fault.ipa });
        }
        let imm = u16::from_le_bytes([raw[0], raw[1]]);
        let mut gprs = [0u64; HOST_CALL_GPRS];
        for (g, chunk) in gprs.iter_mut().zip(raw[8..].chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *g = u64::from_le_bytes(b);
        }
        Step::Exit(RecExit::HostCall { imm, gprs })
    }
}
