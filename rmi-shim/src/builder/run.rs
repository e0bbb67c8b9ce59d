//! The run loops: entering RECs and handling their exits (host calls, PSCI, RIPAS changes,
//! MMIO emulation of the UART, faults in the unprotected alias of RAM), with the [`Host`]
//! policies. [`Realm::run`] runs every REC on the calling CPU; [`Parallel`] runs each REC on
//! a CPU of its own. Both enter RECs in one place ([`RecRunner`]) and handle every exit in
//! one place (`Realm::handle_exit`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use cca_abi::hostcall::{CONSOLE_WRITE, CONSOLE_WRITE_MAX};
use cca_abi::rmi::{
    self as abi, Generation, Granule, Ipa, RecEnterFlags, RmiExitReason, RmiRecRun,
};
use cca_abi::rsi::Ripas;
use cca_abi::smccc::{Conduit, unpack_bytes};
use spin::Mutex;
use zerocopy::FromZeros;

use super::vgic::{ExitHandled, Interrupts, VirtualCpuInterface};
use super::{BuildError, GranuleSource, Realm, SharedMemory, page_addr, rec_mpidr};
use crate::error::Error;
use crate::link::Rmi;
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

/// PSCI function ids the run loop handles (Arm DEN0022).
mod psci_fid {
    pub use cca_abi::smccc::psci::{
        PSCI_AFFINITY_INFO_32 as AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64 as AFFINITY_INFO_64,
        PSCI_CPU_OFF as CPU_OFF, PSCI_CPU_ON_32 as CPU_ON_32, PSCI_CPU_ON_64 as CPU_ON_64,
        PSCI_SYSTEM_OFF as SYSTEM_OFF, PSCI_SYSTEM_RESET as SYSTEM_RESET,
    };
}

/// ESR_ELx.EC of a trapped WFI or WFE (Arm ARM D23.2.41); TF-RMM forwards these from plane 0
/// as `RMI_EXIT_SYNC` when the host set `TRAP_WFI` / `TRAP_WFE` (v0.8.0 and v0.9.0
/// `runtime/core/exit.c`, `handle_wfx_exception`).
const EC_WFX: u64 = 0x01;

/// One REC's side of the run loop: its `RmiRecRun` page (the entry it is given next, the exit
/// it came back with) and what the last exit left to remember. Each REC has its own, on
/// whichever physical CPU runs it; per-REC host state belongs here.
pub struct RecRunner {
    index: usize,
    run: Box<RmiRecRun>,
    /// The page populated at the last exit: a second fault there is not a missing page.
    populated: Option<Ipa>,
}

impl RecRunner {
    /// The run state of REC `index`, nothing pending.
    #[must_use]
    pub fn new(index: usize) -> Self {
        Self {
            index,
            run: Box::new(RmiRecRun::new_zeroed()),
            populated: None,
        }
    }

    /// The REC's index.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The `RmiRecRun` page: its exit part holds the last exit, its entry part what the next
    /// `RMI_REC_ENTER` passes.
    #[must_use]
    pub fn run(&self) -> &RmiRecRun {
        &self.run
    }

    /// `RMI_REC_ENTER` of `rec` with this runner's page, through `rmm`: the one place a loop
    /// enters a REC. The entry part is cleared afterwards, so an exit handler only sets what
    /// the next entry needs.
    fn enter(&mut self, rmm: &mut impl Rmi, rec: Granule, flags: u64) -> Result<(), Error> {
        self.run.enter.flags |= flags;
        let result = rmi::rec_enter(rmm, rec, page_addr(&*self.run));
        self.run.enter.flags = 0;
        self.run.enter.gprs = [0; 31];
        result
    }
}

/// What an exit asks of the scheduler.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Next {
    /// Enter the REC again.
    Enter,
    /// The REC waits (WFI/WFE): run another one first if there is one.
    Yield,
    /// The REC switched itself off (`CPU_OFF`).
    Off,
    /// The realm is finished.
    Stop(RunOutcome),
}

/// Which RECs may run: set when a `CPU_ON` completes, cleared on `CPU_OFF`. Shared between
/// the CPUs of [`Parallel`]; [`Realm::run`] uses it alone.
struct Runnable {
    recs: Vec<AtomicBool>,
    /// Set when the realm is finished (or failed): every CPU leaves its loop.
    stop: AtomicBool,
}

impl Runnable {
    /// REC 0 runnable (as `RMI_REALM_ACTIVATE` leaves it), the others not.
    fn new(recs: usize) -> Self {
        Self {
            recs: (0..recs).map(|i| AtomicBool::new(i == 0)).collect(),
            stop: AtomicBool::new(false),
        }
    }

    fn get(&self, index: usize) -> bool {
        self.recs[index].load(Ordering::Acquire)
    }

    fn set(&self, index: usize, on: bool) {
        self.recs[index].store(on, Ordering::Release);
    }

    fn any(&self) -> bool {
        self.recs.iter().any(|r| r.load(Ordering::Acquire))
    }
}

impl<C: Conduit, S: GranuleSource> Realm<'_, C, S> {
    /// Runs the realm on the calling CPU until it switches itself off (or every REC is off),
    /// answering its exits with `host`: console host calls and the emulated UART, RIPAS
    /// changes, PSCI `CPU_ON` / `AFFINITY_INFO` (completed with `RMI_PSCI_COMPLETE`),
    /// interrupts.
    ///
    /// Several RECs share this one CPU round-robin: a REC runs until it waits (a WFx exit:
    /// RECs are entered with `TRAP_WFE` when the realm has more than one; or PSCI
    /// `AFFINITY_INFO`, which realm-sdk's `smp` join polls) or switches itself off; then the
    /// next runnable REC runs. Switching at other exits could leave a REC holding a spin lock
    /// the next one spins on without ever exiting. To run RECs on several CPUs at once see [`Realm::parallel`].
    ///
    /// # Errors
    ///
    /// [`BuildError::Rmi`] if an RMI command fails, [`BuildError::UnhandledExit`] for an
    /// exit the host cannot handle.
    pub fn run(&mut self, host: &mut impl Host) -> Result<RunOutcome, BuildError> {
        let rd = self
            .rd
            .ok_or(BuildError::Config("the realm was not built"))?;
        let runnable = Runnable::new(self.recs.len());
        let mut runners: Vec<RecRunner> = (0..self.recs.len()).map(RecRunner::new).collect();
        let flags = if self.recs.len() > 1 {
            RecEnterFlags::TRAP_WFE.to_raw()
        } else {
            0
        };
        let mut current = 0;
        let mut interrupts = Interrupts::new(self.generation(), self.recs.len());
        loop {
            let runner = &mut runners[current];
            interrupts.before_enter(current, &mut runner.run, host.cpu_interface());
            runner.enter(&mut self.link, self.recs[current], flags)?;
            let next = match interrupts.after_exit(current, &runner.run, host.cpu_interface())? {
                // A trapped WFI (or WFE) the virtual timer delivery answered: the REC waits.
                ExitHandled::Wfx => Next::Yield,
                ExitHandled::No => self.handle_exit(rd, runner, host, &runnable)?,
            };
            match next {
                Next::Stop(outcome) => return Ok(outcome),
                Next::Off if !runnable.any() => return Ok(RunOutcome::AllRecsOff),
                // A REC keeps the CPU until it waits: switching at any exit could leave it
                // holding a spin lock (its console's, across a host call) that the next REC
                // then spins on forever, with no exit to switch back.
                Next::Enter => continue,
                Next::Yield | Next::Off => {}
            }
            // Round-robin over the runnable RECs.
            current = (1..=runners.len())
                .map(|k| (current + k) % runners.len())
                .find(|&i| runnable.get(i))
                .unwrap_or(current);
        }
    }

    /// Handles the exit `runner` holds, for REC `runner.index`: the one place that changes
    /// the realm's state while it runs (callers on several CPUs hold [`Parallel`]'s lock).
    /// Sets the runner's entry part for the REC's next entry.
    fn handle_exit(
        &mut self,
        rd: Granule,
        runner: &mut RecRunner,
        host: &mut impl Host,
        runnable: &Runnable,
    ) -> Result<Next, BuildError> {
        let index = runner.index;
        let rec = self.recs[index];
        let run = &mut *runner.run;
        let exit = &run.exit;
        let reason = RmiExitReason::from_raw(exit.exit_reason.into());
        let last_populated = runner.populated.take();
        match reason {
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
            RmiExitReason::Sync if (exit.esr >> 26) & 0x3f == EC_WFX => return Ok(Next::Yield),
            RmiExitReason::Sync => {
                match (self.ram_fault(&run.exit), self.shared_fault(&run.exit)) {
                    (Some(ipa), _) if last_populated != Some(ipa) => {
                        self.populate(rd, ipa, run.exit.esr)?;
                        runner.populated = Some(ipa);
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
                    _ => self.emulate_mmio(run, host)?,
                }
            }
            RmiExitReason::Irq | RmiExitReason::Fiq => {}
            RmiExitReason::RipasChange => {
                let (base, top) = (exit.ripas_base, exit.ripas_top);
                let ripas = Ripas::from_raw(exit.ripas_value.into()).unwrap_or(Ripas::Empty);
                match host.ripas_change(base, top, ripas) {
                    RipasDecision::Accept => self.set_ripas(rd, rec, base, top)?,
                    RipasDecision::Reject => {
                        run.enter.flags = RecEnterFlags::RIPAS_RESPONSE.to_raw();
                    }
                }
            }
            RmiExitReason::Psci => return self.psci(rec, index, exit, runnable),
            other => {
                return Err(BuildError::UnhandledExit {
                    reason: other.to_raw(),
                    esr: exit.esr,
                });
            }
        }
        Ok(Next::Enter)
    }

    /// A PSCI exit of REC `index` (`rec`). `CPU_ON` and `AFFINITY_INFO` are completed here,
    /// by the CPU handling the caller's exit: TF-RMM's `RMI_PSCI_COMPLETE` requires the
    /// calling REC not to be running (`RMI_ERROR_INPUT` otherwise), while the target may be
    /// running on another CPU, which the RMM then reports as `ALREADY_ON` or `ON` (v0.8.0
    /// and v0.9.0 `runtime/rmi/rec.c` `smc_psci_complete`, `runtime/rsi/psci.c`
    /// `complete_psci_cpu_on`, `complete_psci_affinity_info`). The target comes from the
    /// exit's `gprs[1]`, which the RMM checked is one of the realm's RECs before exiting; one
    /// that matches none of the host's RECs is an unhandled exit, not a guess.
    fn psci(
        &mut self,
        rec: Granule,
        index: usize,
        exit: &abi::RmiRecExit,
        runnable: &Runnable,
    ) -> Result<Next, BuildError> {
        let fid = exit.gprs[0] as u32;
        match fid {
            psci_fid::SYSTEM_OFF => Ok(Next::Stop(RunOutcome::SystemOff)),
            psci_fid::SYSTEM_RESET => Ok(Next::Stop(RunOutcome::SystemReset)),
            psci_fid::CPU_OFF => {
                runnable.set(index, false);
                Ok(Next::Off)
            }
            psci_fid::CPU_ON_32
            | psci_fid::CPU_ON_64
            | psci_fid::AFFINITY_INFO_32
            | psci_fid::AFFINITY_INFO_64 => {
                let target = exit.gprs[1];
                let target = if fid & 0x4000_0000 == 0 {
                    target & 0xffff_ffff
                } else {
                    target
                };
                let Some(t) = (0..self.recs.len()).find(|&i| rec_mpidr(i) == target) else {
                    return Err(BuildError::UnhandledExit {
                        reason: RmiExitReason::Psci.to_raw(),
                        esr: u64::from(fid),
                    });
                };
                rmi::psci_complete(
                    &mut self.link,
                    rec,
                    self.recs[t],
                    rmi::PsciCompleteStatus::Success,
                )?;
                if matches!(fid, psci_fid::CPU_ON_32 | psci_fid::CPU_ON_64) {
                    // The RMM made the target runnable, or it was already (then it answered
                    // ALREADY_ON and nothing changed).
                    runnable.set(t, true);
                    Ok(Next::Enter)
                } else {
                    // A REC asking whether another is off is waiting for it.
                    Ok(Next::Yield)
                }
            }
            _ => Ok(Next::Enter),
        }
    }

    /// Prepares the realm to run on several CPUs at once: see [`Parallel`].
    ///
    /// # Errors
    ///
    /// [`BuildError::Config`] if the realm was not built.
    pub fn parallel<'r, H: Host>(
        &'r mut self,
        host: &'r mut H,
    ) -> Result<Parallel<'r, Self, H>, BuildError> {
        let rd = self
            .rd
            .ok_or(BuildError::Config("the realm was not built"))?;
        let recs = self.recs.clone();
        let generation = self.link.generation();
        Ok(Parallel {
            runnable: Runnable::new(recs.len()),
            recs,
            rd,
            generation,
            shared: Mutex::new(Shared {
                realm: self,
                host,
                outcome: None,
            }),
        })
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

/// What the CPUs of a [`Parallel`] run share behind its lock.
struct Shared<'r, R, H> {
    realm: &'r mut R,
    host: &'r mut H,
    /// How the run ended, once it has: the first outcome or error wins.
    outcome: Option<Result<RunOutcome, BuildError>>,
}

/// A realm running on several CPUs at once, one REC per CPU: made by [`Realm::parallel`],
/// shared (it is `Sync`) by the CPUs, each of which calls [`Parallel::run_rec`] with its own
/// REC index, its own conduit and its own virtual CPU interface (for the REC's timer
/// interrupt, [`super::vgic`]); then [`Parallel::finish`] says how the run ended.
///
/// `RMI_REC_ENTER` runs concurrently on the CPUs (TF-RMM guards each REC with its reference
/// count, `runtime/rmi/rec.c` `smc_rec_enter`); every exit is handled under one lock
/// (`spin::Mutex`), so that populating RAM, RIPAS changes, shared mappings, PSCI completion
/// and the [`Host`] callbacks are serialised. A CPU whose REC is not runnable (never started,
/// or after `CPU_OFF`) spins until another REC's `CPU_ON` completes for it,
/// or the run ends.
///
/// Ending: a `SYSTEM_OFF` / `SYSTEM_RESET`, every REC off, or an error stops every CPU at
/// its REC's next exit. A REC that never exits keeps its CPU: interrupting it is the host's
/// business (an interrupt to that CPU makes the REC exit).
pub struct Parallel<'r, R, H> {
    shared: Mutex<Shared<'r, R, H>>,
    runnable: Runnable,
    recs: Vec<Granule>,
    rd: Granule,
    generation: Generation,
}

impl<C: Conduit, S: GranuleSource, H: Host> Parallel<'_, Realm<'_, C, S>, H> {
    /// The number of RECs: one CPU each.
    #[must_use]
    pub fn recs(&self) -> usize {
        self.recs.len()
    }

    /// Runs REC `index` on the calling CPU, entering it through `rmm` (this CPU's conduit to
    /// the same RMM, negotiated to the realm's RMI generation), until the realm stops. `cpu`
    /// is this CPU's counter and GIC virtual CPU interface, to deliver the REC's virtual
    /// timer interrupt (`None`: none delivered, as [`Host::cpu_interface`]'s default).
    /// Returns at once for an index past the last REC.
    ///
    /// # Errors
    ///
    /// [`BuildError::Config`] if `rmm` speaks another generation; otherwise the error that
    /// ended the run, as [`Realm::run`]'s (every CPU's `run_rec` returns it).
    pub fn run_rec(
        &self,
        index: usize,
        rmm: &mut impl Rmi,
        mut cpu: Option<&mut dyn VirtualCpuInterface>,
    ) -> Result<(), BuildError> {
        if index >= self.recs.len() {
            return Ok(());
        }
        if rmm.generation() != self.generation {
            return Err(BuildError::Config(
                "the CPU's conduit speaks another RMI generation than the realm's",
            ));
        }
        let mut runner = RecRunner::new(index);
        let mut interrupts = Interrupts::new(self.generation, self.recs.len());
        loop {
            while !self.runnable.get(index) {
                if self.runnable.stop.load(Ordering::Acquire) {
                    return self.result();
                }
                wait();
            }
            if self.runnable.stop.load(Ordering::Acquire) {
                return self.result();
            }
            interrupts.before_enter(index, &mut runner.run, reborrow(&mut cpu));
            if let Err(e) = runner.enter(rmm, self.recs[index], 0) {
                self.end(Err(e.into()));
                return self.result();
            }
            // The timer's delivery runs on this CPU, outside the lock: waiting for a REC's
            // deadline holds up no other CPU.
            match interrupts.after_exit(index, &runner.run, reborrow(&mut cpu)) {
                Ok(ExitHandled::Wfx) => continue,
                Ok(ExitHandled::No) => {}
                Err(e) => {
                    self.end(Err(e.into()));
                    return self.result();
                }
            }
            let mut shared = self.shared.lock();
            let Shared { realm, host, .. } = &mut *shared;
            let next = realm.handle_exit(self.rd, &mut runner, *host, &self.runnable);
            drop(shared);
            match next {
                Ok(Next::Stop(outcome)) => self.end(Ok(outcome)),
                Ok(Next::Off) if !self.runnable.any() => self.end(Ok(RunOutcome::AllRecsOff)),
                Ok(_) => {}
                Err(e) => self.end(Err(e)),
            }
        }
    }

    /// Records how the run ended (the first call wins) and stops every CPU.
    fn end(&self, outcome: Result<RunOutcome, BuildError>) {
        let mut shared = self.shared.lock();
        if shared.outcome.is_none() {
            shared.outcome = Some(outcome);
        }
        self.runnable.stop.store(true, Ordering::Release);
        drop(shared);
    }

    fn result(&self) -> Result<(), BuildError> {
        match &self.shared.lock().outcome {
            Some(Err(e)) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// How the run ended, once every CPU's [`Parallel::run_rec`] has returned.
    ///
    /// # Errors
    ///
    /// The error that ended the run; [`BuildError::Config`] if it has not ended.
    pub fn finish(self) -> Result<RunOutcome, BuildError> {
        self.shared
            .into_inner()
            .outcome
            .unwrap_or(Err(BuildError::Config("the realm is still running")))
    }
}

/// The CPU interface `cpu` holds, borrowed for one call (the trait object's lifetime
/// shortened to the borrow's, which `Option::as_deref_mut` cannot do).
fn reborrow<'s>(
    cpu: &'s mut Option<&mut dyn VirtualCpuInterface>,
) -> Option<&'s mut dyn VirtualCpuInterface> {
    match cpu {
        Some(cpu) => Some(&mut **cpu),
        None => None,
    }
}

/// Waits a moment for another CPU (a spin-loop hint: this crate has no `unsafe`, so no WFE).
fn wait() {
    core::hint::spin_loop();
}
