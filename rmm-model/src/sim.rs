//! Running realm code in the host process against the model.
//!
//! [`Simulator`] is a [`Conduit`]: realm code written against `realm-sdk` calls it where a
//! realm would execute `SMC`, and it plays both the RMM (the model) and a host (a policy for
//! host calls, RIPAS changes and PSCI). Realm memory is the process's own memory: the IPA of
//! a buffer is its address, as in a realm that runs with an identity map.

use alloc::boxed::Box;
use alloc::vec::Vec;

use cca_abi::hostcall::{CONSOLE_WRITE, CONSOLE_WRITE_MAX};
use cca_abi::rsi::{HOST_CALL_GPRS, Ripas};
use cca_abi::smccc::{Conduit, Regs, unpack_bytes};

use crate::memory::HostMemory;
use crate::token::{NoAttestation, TokenIssuer};
use crate::{HostResponse, RealmConfig, RealmModel, RecExit, Step};

/// How the simulated host answers RIPAS change requests.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RipasPolicy {
    /// Change the whole range.
    AcceptAll,
    /// Change at most this many granules per request, then return to the realm.
    Partial(u64),
    /// Change nothing and reject (the host may only reject requests for RAM).
    Reject,
}

/// The simulated host's answer to host calls other than the console: it gets the
/// immediate and the realm's registers, which become the reply.
pub type HostCallHandler = Box<dyn FnMut(u16, &mut [u64; HOST_CALL_GPRS])>;

/// An in-process realm: the model, host memory and a scripted host.
pub struct Simulator {
    model: RealmModel<Box<dyn TokenIssuer>>,
    ripas_policy: RipasPolicy,
    console: Vec<u8>,
    exits: Vec<RecExit>,
    host_calls: Option<HostCallHandler>,
}

impl Simulator {
    /// A realm with `config`, RIPAS `RAM` over the whole protected IPA range (so that any
    /// buffer of the test process is realm RAM), and no attestation key.
    #[must_use]
    pub fn new(config: RealmConfig) -> Self {
        Self::with_issuer(config, Box::new(NoAttestation))
    }

    /// As [`Simulator::new`], with tokens from `issuer`.
    #[must_use]
    pub fn with_issuer(config: RealmConfig, issuer: Box<dyn TokenIssuer>) -> Self {
        let par = 1u64 << (config.ipa_width - 1);
        let model = RealmModel::new(config, &[(0, par)], issuer);
        Self {
            model,
            ripas_policy: RipasPolicy::AcceptAll,
            console: Vec::new(),
            exits: Vec::new(),
            host_calls: None,
        }
    }

    /// Answers host calls other than the console with `handler` (without one, the
    /// registers go back unchanged).
    pub fn set_host_call_handler(&mut self, handler: HostCallHandler) {
        self.host_calls = Some(handler);
    }

    /// The model, to inspect or to act as the host on it.
    pub fn model(&mut self) -> &mut RealmModel<Box<dyn TokenIssuer>> {
        &mut self.model
    }

    /// Sets how the host answers RIPAS change requests.
    pub fn set_ripas_policy(&mut self, policy: RipasPolicy) {
        self.ripas_policy = policy;
    }

    /// Sets the RIPAS of `[base, top)` as the host would.
    pub fn host_set_ripas(&mut self, base: u64, top: u64, ripas: Ripas) {
        self.model.host_set_ripas(base, top, ripas);
    }

    /// Bytes the realm wrote with console host calls.
    #[must_use]
    pub fn console(&self) -> &[u8] {
        &self.console
    }

    /// Every REC exit so far.
    #[must_use]
    pub fn exits(&self) -> &[RecExit] {
        &self.exits
    }

    fn host_call(&mut self, imm: u16, gprs: &[u64; HOST_CALL_GPRS]) -> [u64; HOST_CALL_GPRS] {
        let mut reply = *gprs;
        if imm == CONSOLE_WRITE {
            #[allow(clippy::cast_possible_truncation, reason = "clamped to 240")]
            let n = (gprs[0] as usize).min(CONSOLE_WRITE_MAX);
            let mut bytes = [0u8; CONSOLE_WRITE_MAX];
            unpack_bytes(&gprs[1..], &mut bytes[..n]);
            self.console.extend_from_slice(&bytes[..n]);
            reply[0] = n as u64;
        } else if let Some(handler) = &mut self.host_calls {
            handler(imm, &mut reply);
        }
        reply
    }

    fn response(&mut self, exit: &RecExit) -> HostResponse {
        match exit {
            RecExit::HostCall { imm, gprs } => HostResponse::HostCall {
                gprs: self.host_call(*imm, gprs),
            },
            RecExit::RipasChange { base, top, .. } => match self.ripas_policy {
                RipasPolicy::AcceptAll => HostResponse::Ripas {
                    progress: *top,
                    reject: false,
                },
                RipasPolicy::Partial(n) => HostResponse::Ripas {
                    progress: (*top).min(base.saturating_add(n.saturating_mul(0x1000))),
                    reject: false,
                },
                RipasPolicy::Reject => HostResponse::Ripas {
                    progress: *base,
                    reject: true,
                },
            },
            // As a host whose RMI_RTT_SET_S2AP calls cover the whole range.
            RecExit::S2apChange { top, .. } => HostResponse::S2ap {
                progress: *top,
                reject: false,
            },
            RecExit::Psci { fid, .. } if matches!(fid & 0xff, 0x03 | 0x04) => {
                HostResponse::PsciComplete { status: 0 }
            }
            RecExit::Psci { .. } | RecExit::DataAbort { .. } => HostResponse::Resume,
        }
    }
}

impl Conduit for Simulator {
    /// One SMC from REC 0, including any exit to the simulated host and the entry back.
    ///
    /// After `SYSTEM_OFF` or `SYSTEM_RESET` the call returns (a real one does not) and the
    /// model reports [`RealmModel::is_off`].
    fn call(&mut self, mut regs: Regs) -> Regs {
        let step = self.model.handle_smc(0, &mut regs, &mut HostMemory);
        if let Step::Exit(exit) = step {
            let response = self.response(&exit);
            self.exits.push(exit);
            if !self.model.is_off() {
                // The simulated host only answers the exit it was given, so entry fails
                // only if the realm switched its only REC off; the registers then stay.
                let _ = self.model.enter(0, &mut regs, response, &mut HostMemory);
            }
        }
        regs
    }
}
