//! PSCI and SMCCC calls as the RMM handles them (TF-RMM `runtime/rsi/psci.c`,
//! cca-abi.md §1.3).

use cca_abi::smccc::{Regs, SMCCC_NOT_SUPPORTED, SMCCC_VERSION};

use crate::token::TokenIssuer;
use crate::{EnterError, HostResponse, RealmModel, RecExit, Step};

/// PSCI function ids (Arm DEN0022, SMC32 and SMC64 forms).
mod fid {
    pub use cca_abi::smccc::psci::{
        PSCI_AFFINITY_INFO_32 as AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64 as AFFINITY_INFO_64,
        PSCI_CPU_OFF as CPU_OFF, PSCI_CPU_ON_32 as CPU_ON_32, PSCI_CPU_ON_64 as CPU_ON_64,
        PSCI_CPU_SUSPEND_32 as CPU_SUSPEND_32, PSCI_CPU_SUSPEND_64 as CPU_SUSPEND_64,
        PSCI_FEATURES as FEATURES, PSCI_SYSTEM_OFF as SYSTEM_OFF,
        PSCI_SYSTEM_RESET as SYSTEM_RESET, PSCI_VERSION as VERSION,
    };
}

const SUCCESS: i64 = 0;
const NOT_SUPPORTED: i64 = -1;
const INVALID_PARAMETERS: i64 = -2;
const ALREADY_ON: i64 = -4;
const INVALID_ADDRESS: i64 = -9;

/// SMCCC 1.2, which TF-RMM reports.
const SMCCC_VERSION_1_2: u64 = 0x1_0002;
/// PSCI 1.1, which TF-RMM reports.
const PSCI_VERSION_1_1: u64 = 0x1_0001;

#[allow(
    clippy::cast_sign_loss,
    reason = "PSCI status in x0 is the sign-extended value"
)]
fn ret(regs: &mut Regs, value: i64) -> Step {
    regs[0] = value as u64;
    Step::Resume
}

impl<I: TokenIssuer> RealmModel<I> {
    pub(crate) fn handle_psci(&mut self, rec: usize, regs: &mut Regs) -> Step {
        let Ok(f) = u32::try_from(regs[0]) else {
            regs[0] = SMCCC_NOT_SUPPORTED;
            return Step::Resume;
        };
        let args = [regs[1], regs[2], regs[3]];
        match f {
            SMCCC_VERSION => ret(regs, SMCCC_VERSION_1_2 as i64),
            fid::VERSION => ret(regs, PSCI_VERSION_1_1 as i64),
            fid::FEATURES => {
                let supported = u32::try_from(args[0]).is_ok_and(|q| {
                    matches!(
                        q,
                        fid::CPU_SUSPEND_32
                            | fid::CPU_SUSPEND_64
                            | fid::CPU_OFF
                            | fid::CPU_ON_32
                            | fid::CPU_ON_64
                            | fid::AFFINITY_INFO_32
                            | fid::AFFINITY_INFO_64
                            | fid::SYSTEM_OFF
                            | fid::SYSTEM_RESET
                            | fid::FEATURES
                            | SMCCC_VERSION
                    )
                });
                ret(regs, if supported { SUCCESS } else { NOT_SUPPORTED })
            }
            fid::CPU_SUSPEND_32 | fid::CPU_SUSPEND_64 => {
                ret(regs, SUCCESS);
                Step::Exit(RecExit::Psci { fid: f, args })
            }
            fid::CPU_OFF => {
                self.recs[rec].runnable = false;
                ret(regs, SUCCESS);
                Step::Exit(RecExit::Psci { fid: f, args })
            }
            fid::SYSTEM_OFF | fid::SYSTEM_RESET => {
                self.off = true;
                ret(regs, SUCCESS);
                Step::Exit(RecExit::Psci { fid: f, args })
            }
            fid::CPU_ON_32 | fid::CPU_ON_64 => {
                let target = if f == fid::CPU_ON_32 {
                    args[0] & 0xffff_ffff
                } else {
                    args[0]
                };
                let Some(t) = self.rec_index(target) else {
                    return ret(regs, INVALID_PARAMETERS);
                };
                if t == rec {
                    return ret(regs, ALREADY_ON);
                }
                if !self.in_par(args[1], 4) {
                    return ret(regs, INVALID_ADDRESS);
                }
                Step::Exit(RecExit::Psci { fid: f, args })
            }
            fid::AFFINITY_INFO_32 | fid::AFFINITY_INFO_64 => {
                if args[1] != 0 || self.rec_index(args[0]).is_none() {
                    return ret(regs, INVALID_PARAMETERS);
                }
                Step::Exit(RecExit::Psci { fid: f, args })
            }
            _ => {
                regs[0] = SMCCC_NOT_SUPPORTED;
                Step::Resume
            }
        }
    }

    fn rec_index(&self, mpidr: u64) -> Option<usize> {
        self.recs.iter().position(|r| r.mpidr == mpidr)
    }

    pub(crate) fn complete_psci(
        &mut self,
        rec: usize,
        regs: &mut Regs,
        f: u32,
        args: [u64; 3],
        response: HostResponse,
    ) -> Result<(), EnterError> {
        let needs_completion = matches!(
            f,
            fid::CPU_ON_32 | fid::CPU_ON_64 | fid::AFFINITY_INFO_32 | fid::AFFINITY_INFO_64
        );
        let status = match (needs_completion, response) {
            (true, HostResponse::PsciComplete { status }) => i64::from(status),
            (false, HostResponse::Resume) => {
                self.recs[rec].pending = None;
                return Ok(());
            }
            _ => return Err(EnterError::WrongResponse),
        };
        let target = self.rec_index(args[0]).ok_or(EnterError::WrongResponse)?;
        self.recs[rec].pending = None;
        match f {
            fid::CPU_ON_32 | fid::CPU_ON_64 => {
                if status == SUCCESS && self.recs[target].runnable {
                    ret(regs, ALREADY_ON);
                } else {
                    if status == SUCCESS {
                        // TF-RMM resets the target (`psci_reset_rec`): whatever its last exit
                        // was (its CPU_OFF), it starts afresh.
                        self.recs[target].runnable = true;
                        self.recs[target].pending = None;
                    }
                    ret(regs, status);
                }
            }
            _ => {
                // AFFINITY_INFO: the RMM answers from the target REC's state.
                let on = if self.recs[target].runnable { 0 } else { 1 };
                ret(regs, if status == SUCCESS { on } else { status });
            }
        }
        Ok(())
    }
}
