//! The run loop: entering RECs and handling their exits (host calls, PSCI, RIPAS changes,
//! MMIO emulation of the UART, faults in the unprotected alias of RAM), with the [`Host`]
//! policies.

use alloc::boxed::Box;
use alloc::vec::Vec;

use cca_abi::hostcall::{CONSOLE_WRITE, CONSOLE_WRITE_MAX};
use cca_abi::rmi::{self as abi, Granule, Ipa, RecEnterFlags, RmiExitReason, RmiRecRun};
use cca_abi::rsi::Ripas;
use cca_abi::smccc::{Conduit, unpack_bytes};
use zerocopy::FromZeros;

use super::vgic::{ExitHandled, Interrupts, VirtualCpuInterface};
use super::{BuildError, GranuleSource, Realm, SharedMemory, page_addr, rec_mpidr};
use crate::error::Error;
use crate::rmi;

/// How a run ended.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RunOutcome {
    /// The realm called PSCI `SYSTEM_OFF`.
    SystemOff,
    /// The realm called PSCI `SYSTEM_RESET`.
    SystemReset,
    /// Every REC called PSCI `CPU_OFF`.
    AllRecsOff,
}

/// The host's answer to a RIPAS change request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RipasDecision {
    /// Change the range (as far as the host's RTTs reach).
    Accept,
    /// Refuse (only meaningful for a request for RAM).
    Reject,
}

/// The host's policies while a realm runs.
pub trait Host {
    /// Console output from the realm (host-call console or emulated PL011).
    fn console(&mut self, bytes: &[u8]);

    /// A host call other than the console; `gprs` hold the realm's registers and become the
    /// reply; `shared` reaches the memory the realm shares with the host. The default
    /// answers nothing (the registers go back unchanged).
    fn host_call(&mut self, imm: u16, gprs: &mut [u64; 31], shared: &mut SharedMemory<'_>) {
        let _ = (imm, gprs, shared);
    }

    /// An emulatable read (a data abort with a valid syndrome) of `size` bytes at the
    /// unprotected `ipa`, outside the UART: the value to return, or `None` if the host has
    /// nothing there (the run stops with [`BuildError::UnhandledExit`]). `shared` reaches
    /// the memory the realm shares. The default has nothing.
    fn mmio_read(&mut self, ipa: u64, size: u8, shared: &mut SharedMemory<'_>) -> Option<u64> {
        let _ = (ipa, size, shared);
        None
    }

    /// An emulatable write of `size` bytes of `value` at the unprotected `ipa`, outside the
    /// UART: whether the host has something there (as for [`Host::mmio_read`]).
    fn mmio_write(
        &mut self,
        ipa: u64,
        size: u8,
        value: u64,
        shared: &mut SharedMemory<'_>,
    ) -> bool {
        let _ = (ipa, size, value, shared);
        false
    }

    /// A RIPAS change request. The default accepts.
    fn ripas_change(&mut self, base: u64, top: u64, ripas: Ripas) -> RipasDecision {
        let _ = (base, top, ripas);
        RipasDecision::Accept
    }

    /// The host CPU's counter and GICv3 virtual CPU interface, to deliver the realm's
    /// virtual timer interrupt ([`super::vgic`]). The default, `None`, delivers none (and a
    /// realm waiting in `WFI` for its timer waits until some other exit).
    fn cpu_interface(&mut self) -> Option<&mut dyn VirtualCpuInterface> {
        None
    }
}

impl<C: Conduit, S: GranuleSource> Realm<'_, C, S> {
    /// Runs the realm until it switches itself off (or every REC is off), answering its
    /// exits with `host`: console host calls and the emulated UART, RIPAS changes, PSCI
    /// `CPU_ON` / `AFFINITY_INFO` (completed with `RMI_PSCI_COMPLETE`), interrupts.
    ///
    /// # Errors
    ///
    /// [`BuildError::Rmi`] if an RMI command fails, [`BuildError::UnhandledExit`] for an
    /// exit the host cannot handle.
    pub fn run(&mut self, host: &mut impl Host) -> Result<RunOutcome, BuildError> {
        let rd = self
            .rd
            .ok_or(BuildError::Config("the realm was not built"))?;
        let mut run = Box::new(RmiRecRun::new_zeroed());
        let mut runnable: Vec<bool> = (0..self.recs.len()).map(|i| i == 0).collect();
        let mut current = 0;
        // The page populated at the last exit: a second fault there is not a missing page.
        let mut populated: Option<Ipa> = None;
        let mut interrupts = Interrupts::new(self.generation(), self.recs.len());
        loop {
            let rec = self.recs[current];
            interrupts.before_enter(current, &mut run, host.cpu_interface());
            rmi::rec_enter(&mut self.link, rec, page_addr(&*run))?;
            let vgic = interrupts.after_exit(current, &run, host.cpu_interface())?;
            run.enter.flags = 0;
            run.enter.gprs = [0; 31];
            let exit = &run.exit;
            let reason = RmiExitReason::from_raw(exit.exit_reason.into());
            let last_populated = populated.take();
            match reason {
                // A trapped WFI the virtual timer delivery answered.
                _ if vgic == ExitHandled::Wfx => {}
                RmiExitReason::HostCall => {
                    let mut gprs = exit.gprs;
                    if exit.imm == CONSOLE_WRITE {
                        let n = (gprs[0] as usize).min(CONSOLE_WRITE_MAX);
                        let mut bytes = [0u8; CONSOLE_WRITE_MAX];
                        unpack_bytes(&gprs[1..], &mut bytes[..n]);
                        host.console(&bytes[..n]);
                        gprs[0] = n as u64;
                    } else {
                        let mut shared = SharedMemory {
                            pages: &mut self.shared,
                        };
                        host.host_call(exit.imm, &mut gprs, &mut shared);
                    }
                    run.enter.gprs = gprs;
                }
                RmiExitReason::Sync => {
                    match (self.ram_fault(&run.exit), self.shared_fault(&run.exit)) {
                        (Some(ipa), _) if last_populated != Some(ipa) => {
                            self.populate(rd, ipa, run.exit.esr)?;
                            populated = Some(ipa);
                        }
                        (Some(_), _) => {
                            return Err(BuildError::UnhandledExit {
                                reason: reason.to_raw(),
                                esr: run.exit.esr,
                            });
                        }
                        (None, Some(ipa)) if self.shared.len() < self.max_shared => {
                            self.map_shared(rd, ipa)?;
                        }
                        _ => self.emulate_mmio(&mut run, host)?,
                    }
                }
                RmiExitReason::Irq | RmiExitReason::Fiq => {}
                RmiExitReason::RipasChange => {
                    let (base, top) = (exit.ripas_base, exit.ripas_top);
                    let ripas = Ripas::from_raw(exit.ripas_value.into()).unwrap_or(Ripas::Empty);
                    match host.ripas_change(base, top, ripas) {
                        RipasDecision::Accept => self.set_ripas(rd, rec, base, top)?,
                        RipasDecision::Reject => {
                            run.enter.flags = RecEnterFlags::RIPAS_RESPONSE.to_raw()
                        }
                    }
                }
                RmiExitReason::Psci => {
                    let fid = exit.gprs[0] as u32;
                    match fid {
                        0x8400_0008 => return Ok(RunOutcome::SystemOff),
                        0x8400_0009 => return Ok(RunOutcome::SystemReset),
                        0x8400_0002 => {
                            runnable[current] = false;
                            if !runnable.contains(&true) {
                                return Ok(RunOutcome::AllRecsOff);
                            }
                        }
                        0x8400_0003 | 0xC400_0003 | 0x8400_0004 | 0xC400_0004 => {
                            let target = exit.gprs[1];
                            let index = (0..self.recs.len()).find(|&i| rec_mpidr(i) == target);
                            let Some(index) = index else {
                                return Err(BuildError::UnhandledExit {
                                    reason: 3,
                                    esr: u64::from(fid),
                                });
                            };
                            rmi::psci_complete(
                                &mut self.link,
                                rec,
                                self.recs[index],
                                rmi::PsciCompleteStatus::Success,
                            )?;
                            if fid & 0xff == 0x03 {
                                runnable[index] = true;
                            }
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(BuildError::UnhandledExit {
                        reason: other.to_raw(),
                        esr: exit.esr,
                    });
                }
            }
            // Round-robin over the runnable RECs.
            current = (1..=runnable.len())
                .map(|k| (current + k) % runnable.len())
                .find(|&i| runnable[i])
                .unwrap_or(current);
        }
    }

    /// The page of realm RAM a stage-2 translation fault reports, if this exit is one: a data
    /// or instruction abort from the realm (ESR EC 0x24 or 0x20) with a fault status of
    /// "translation fault, level 0 to 3" (0b0001xx), at a protected IPA inside RAM. TF-RMM
    /// reports an access to an UNASSIGNED entry with RIPAS RAM this way (v0.8.0 and v0.9.0
    /// `runtime/core/exit.c`; RIPAS EMPTY and DESTROYED pages get an abort injected instead).
    fn ram_fault(&self, exit: &abi::RmiRecExit) -> Option<Ipa> {
        const EC_IABT_LOWER: u64 = 0x20;
        const EC_DABT_LOWER: u64 = 0x24;
        let ec = (exit.esr >> 26) & 0x3f;
        let fsc = exit.esr & 0x3f;
        if !matches!(ec, EC_IABT_LOWER | EC_DABT_LOWER) || fsc & 0b11_1100 != 0b00_0100 {
            return None;
        }
        let ipa = (exit.hpfar >> 4) << 12;
        (self.ram.0..self.ram.1)
            .contains(&ipa)
            .then(|| Ipa::new(ipa))
            .flatten()
    }

    /// Gives the faulting page of RAM its data granule ([`Populate::OnDemand`]); the REC
    /// repeats the access when entered again.
    fn populate(&mut self, rd: Granule, ipa: Ipa, esr: u64) -> Result<(), BuildError> {
        match self.create_unknown(rd, ipa) {
            Ok(()) => {
                self.populated += 1;
                Ok(())
            }
            // The entry is not UNASSIGNED (or has no level-3 table): not a page to populate.
            Err(BuildError::Rmi(Error::Refused { ret, .. }))
                if ret.status == abi::RmiStatus::ErrorRtt =>
            {
                Err(BuildError::UnhandledExit {
                    reason: RmiExitReason::Sync.to_raw(),
                    esr,
                })
            }
            Err(e) => Err(e),
        }
    }

    fn set_ripas(
        &mut self,
        rd: Granule,
        rec: Granule,
        base: u64,
        top: u64,
    ) -> Result<(), BuildError> {
        let (Some(mut at), Some(end)) = (Ipa::new(base), Ipa::new(top)) else {
            return Ok(());
        };
        while at < end {
            match rmi::rtt_set_ripas(&mut self.link, rd, rec, at, end) {
                Ok(next) => at = next,
                // Inside RAM, above level 3 (on-demand RAM beyond the image's blocks has no
                // level-3 table yet) and the range does not cover the whole entry: make the
                // table below.
                Err(Error::Refused { ret, .. })
                    if ret.status == abi::RmiStatus::ErrorRtt
                        && ret.index < 3
                        && (self.ram.0..self.ram.1).contains(&at.addr()) =>
                {
                    self.create_rtt_below(rd, at, ret.index)?;
                }
                // Outside the RTTs the host built: the realm gets the partial progress.
                Err(Error::Refused { ret, .. }) if ret.status == abi::RmiStatus::ErrorRtt => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Emulates a data abort with a valid syndrome at an unprotected IPA: at the UART's
    /// alias a PL011 (writes to `UARTDR` print, reads return 0, so `UARTFR` reports an empty,
    /// idle FIFO); anywhere else the host's [`Host::mmio_read`] / [`Host::mmio_write`].
    ///
    /// TF-RMM reports such an abort with ESR's ISV, SAS, SF and WnR kept (SRT and SSE
    /// masked), FAR holding the offset in the page and, for a write, the value in
    /// `gprs[0]`; on the next entry with `EMUL_MMIO` it puts `enter.gprs[0]`, cut to the
    /// access size and sign-extended if the load asked, in the register, and steps over the
    /// instruction (v0.8.0 and v0.9.0 `runtime/core/exit.c` `handle_data_abort`,
    /// `runtime/rmi/run.c` `complete_mmio_emulation`).
    fn emulate_mmio(
        &mut self,
        run: &mut RmiRecRun,
        host: &mut impl Host,
    ) -> Result<(), BuildError> {
        const ESR_EC_DABT_LOWER: u64 = 0x24;
        const ESR_ISV: u64 = 1 << 24;
        const ESR_WNR: u64 = 1 << 6;
        let esr = run.exit.esr;
        let ipa = ((run.exit.hpfar >> 4) << 12) | (run.exit.far & 0xfff);
        let unhandled = BuildError::UnhandledExit { reason: 0, esr };
        if (esr >> 26) != ESR_EC_DABT_LOWER || esr & ESR_ISV == 0 {
            return Err(unhandled);
        }
        let write = esr & ESR_WNR != 0;
        let size = 1u8 << ((esr >> 22) & 0b11);
        match self.uart_alias {
            Some(uart) if (uart..uart + 0x1000).contains(&ipa) => {
                if write {
                    if ipa == uart {
                        host.console(&[run.exit.gprs[0] as u8]);
                    }
                } else {
                    run.enter.gprs[0] = 0;
                }
            }
            _ => {
                let mut shared = SharedMemory {
                    pages: &mut self.shared,
                };
                if write {
                    if !host.mmio_write(ipa, size, run.exit.gprs[0], &mut shared) {
                        return Err(unhandled);
                    }
                } else {
                    run.enter.gprs[0] = host.mmio_read(ipa, size, &mut shared).ok_or(unhandled)?;
                }
            }
        }
        run.enter.flags = RecEnterFlags::EMUL_MMIO.to_raw();
        Ok(())
    }
}
