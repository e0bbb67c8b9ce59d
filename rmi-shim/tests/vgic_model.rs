//! The builder's virtual timer delivery (`builder::vgic`) against the software RMM model as
//! TF-RMM v0.8.0 (RMI 1.0), whose RECs have an EL1 virtual timer and GIC list registers
//! (`rmm_model::rmi::vtimer`): a realm arms its timer and waits in `WFI`; the builder traps
//! the `WFI`, waits on the model's counter for the deadline, injects vINTID 27 in
//! `RmiRecEnter.gicv3_lrs`, and the realm acknowledges and ends it. The model refuses entry
//! state TF-RMM refuses, so an injection the RMM would reject fails the run.

use std::sync::Arc;
use std::time::Duration;

use cca_abi::hostcall::CONSOLE_WRITE;
use cca_abi::rsi::RsiHostCall;
use cca_abi::smccc::{Conduit, Regs, pack_bytes, regs};
use realm_sdk::{psci, rsi};
use rmi_shim::builder::vgic::{CpuInterfaceState, VirtualCpuInterface};
use rmi_shim::builder::{Host, RangeSource, Realm, RealmConfig, RunOutcome};
use rmm_model::rmi::vtimer::{
    MODEL_CNTV_READ, MODEL_CNTV_WRITE, MODEL_IRQ_ACK, MODEL_IRQ_EOI, MODEL_WFI, counter,
};
use rmm_model::rmi::{Rmm, RmmConfig};

const POOL: (u64, u64) = (0x1_0000_0000, 0x1_0400_0000);
const ENABLE: u64 = 1;
const IMASK: u64 = 2;
const ISTATUS: u64 = 4;
const SLEEP: Duration = Duration::from_millis(20);

/// A model call (`rmm_model::rmi::vtimer`): the realm's timer and CPU interface.
fn model(c: &mut dyn Conduit, id: u64, args: &[u64]) -> Regs {
    c.call(regs(u32::try_from(id).unwrap(), args))
}

fn print(c: &mut dyn Conduit, text: &str) {
    let mut call = Box::new(RsiHostCall::new(CONSOLE_WRITE));
    call.gprs[0] = text.len() as u64;
    pack_bytes(text.as_bytes(), &mut call.gprs[1..]);
    rsi::host_call(c, &mut call).unwrap();
}

/// The realm: sleeps until a deadline as realm-sdk's `time::sleep_until` does (arm, `WFI`,
/// take what is pending, loop until the counter says so), then reports what it saw.
fn sleeper(_rec: usize, c: &mut dyn Conduit) {
    let start = counter();
    let deadline = start + u64::try_from(SLEEP.as_nanos()).unwrap();
    let (mut fired, mut early, mut spurious, mut wfis) = (0, 0, 0, 0);
    while counter() < deadline {
        model(c, MODEL_CNTV_WRITE, &[deadline, ENABLE]);
        model(c, MODEL_WFI, &[]);
        wfis += 1;
        let intid = model(c, MODEL_IRQ_ACK, &[])[1];
        if intid == 1023 {
            spurious += 1;
            continue;
        }
        assert_eq!(intid, 27, "only the timer is injected");
        let ctl = model(c, MODEL_CNTV_READ, &[])[1];
        if ctl & (ENABLE | IMASK | ISTATUS) == ENABLE | ISTATUS {
            fired += 1;
            model(c, MODEL_CNTV_WRITE, &[deadline, ENABLE | IMASK]);
        } else {
            early += 1;
        }
        model(c, MODEL_IRQ_EOI, &[27]);
    }
    model(c, MODEL_CNTV_WRITE, &[0, 0]);
    let slept = counter() - start;
    print(
        c,
        &format!(
            "slept {slept} ns: {fired} fired, {early} early, {spurious} spurious, {wfis} WFI\n"
        ),
    );
    psci::system_off(c).unwrap();
}

/// A host on the model's counter; `load`/`save` are RMI 2.0 only and never called here.
#[derive(Default)]
struct TimerHost {
    out: Vec<u8>,
    waits: Vec<u64>,
}

impl Host for TimerHost {
    fn console(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    fn cpu_interface(&mut self) -> Option<&mut dyn VirtualCpuInterface> {
        Some(self)
    }
}

impl VirtualCpuInterface for TimerHost {
    fn counter(&mut self) -> u64 {
        counter()
    }
    fn wait_until(&mut self, tick: u64) {
        self.waits.push(tick);
        while counter() < tick {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    fn load(&mut self, _: &CpuInterfaceState) {
        panic!("RMI 1.0 has no host-programmed CPU interface");
    }
    fn save(&mut self, _: &mut CpuInterfaceState) {
        panic!("RMI 1.0 has no host-programmed CPU interface");
    }
}

fn run(host: &mut TimerHost) -> String {
    let mut rmm = Rmm::new(RmmConfig {
        delegable: POOL,
        ..RmmConfig::default()
    });
    rmm.set_program(Arc::new(sleeper));
    let image = [0u8; 4096];
    let config = RealmConfig {
        image: &image,
        ram_size: 4 << 20,
        ipa_width: 48,
        ..RealmConfig::default()
    };
    let mut source = RangeSource::new(POOL.0, POOL.1);
    let mut realm = Realm::build(&mut rmm, &mut source, &config).unwrap();
    assert_eq!(realm.run(host).unwrap(), RunOutcome::SystemOff);
    realm.destroy().unwrap();
    String::from_utf8(host.out.clone()).unwrap()
}

/// One `WFI` exit: the host waits for the realm's deadline (the `cntv_cval` the model
/// reports), injects vINTID 27, the model checks the list register as TF-RMM does, and the
/// realm wakes on its timer's interrupt, not before the deadline.
#[test]
fn a_realm_sleeps_until_its_timer_interrupt() {
    let mut host = TimerHost::default();
    let out = run(&mut host);
    let (slept, rest) = out
        .strip_prefix("slept ")
        .and_then(|s| s.split_once(" ns: "))
        .unwrap_or_else(|| panic!("{out}"));
    let slept: u64 = slept.parse().unwrap();
    assert!(slept >= u64::try_from(SLEEP.as_nanos()).unwrap(), "{out}");
    assert_eq!(rest, "1 fired, 0 early, 0 spurious, 1 WFI\n");
    assert_eq!(host.waits.len(), 1, "one wait, for the one deadline");
}
