//! The harness proper: set up the realm, run it, answer its exits.

use core::ptr;

use aarch64_cpu::registers::{
    CNTHCTL_EL2, ESR_EL2, FAR_EL2, HCR_EL2, HPFAR_EL2, Readable, SCTLR_EL1, VBAR_EL1, VBAR_EL2,
    VMPIDR_EL2, VTCR_EL2, VTTBR_EL2, Writeable,
};
use cca_abi::hostcall::{
    CONSOLE_WRITE, CONSOLE_WRITE_MAX, EXIT_STATUS, SERVICE, exit, relay, status,
};
use cca_abi::measurement::HashAlgorithm;
use cca_abi::rsi::HOST_CALL_GPRS;
use cca_abi::smccc::{Regs, psci, unpack_bytes};
use el2_harness::layout::*;
use el2_rt::{console, power_off};
use rmm_model::memory::{RealmMemory, Unmapped};
use rmm_model::token::InsecureTestIssuer;
use rmm_model::{HostResponse, RealmConfig, RealmModel, RecExit, RsiRevisions, Step};
use spin::Mutex;

use crate::stage2::{self, Stage2};
use crate::switch::{GuestContext, enter_guest};
use crate::vgic;

static STAGE2: Mutex<Stage2> = Mutex::new(Stage2::new());

unsafe extern "C" {
    /// The harness's vector table (`switch.rs`).
    static __harness_vectors: u8;
}

/// Prints a line prefixed with `el2-harness: `.
macro_rules! log {
    ($($arg:tt)*) => {
        el2_rt::println!("el2-harness: {}", format_args!($($arg)*))
    };
}

/// SPSR for the realm's entry: EL1h with D, A, I and F masked.
const SPSR_EL1H_MASKED: u64 = 0x3c5;
/// SCTLR_EL1 with the MMU and caches off (RES1 bits only).
const SCTLR_EL1_MMU_OFF: u64 = 0x30d0_0800;
/// ESR_ELx.EC values (Arm ARM D23.2.41).
const EC_WFX: u64 = 0x01;
const EC_HVC64: u64 = 0x16;
const EC_SMC64: u64 = 0x17;
const EC_DABT_LOWER: u64 = 0x24;
const EC_IABT_LOWER: u64 = 0x20;

/// Realm RAM as the model reaches it: IPA `REALM_RAM_IPA + off` is PA `REALM_RAM_PA + off`.
struct RealmRam;

impl RealmRam {
    fn pa(ipa: u64, len: usize) -> Result<usize, Unmapped> {
        let fault = Unmapped { ipa };
        let off = ipa.checked_sub(REALM_RAM_IPA).ok_or(fault)?;
        let end = off.checked_add(len as u64).ok_or(fault)?;
        if end > REALM_RAM_SIZE {
            return Err(fault);
        }
        Ok((REALM_RAM_PA + off) as usize)
    }
}

impl RealmRam {
    /// Populates the pages of `[ipa, ipa + len)` the realm has not reached yet: the RMM's
    /// access to them would exit to the host, which maps them (and the call runs again).
    fn populate(ipa: u64, len: usize) {
        let mut stage2 = STAGE2.lock();
        let end = ipa.saturating_add(len as u64);
        let mut page = ipa & !0xfff;
        while page < end {
            stage2.populate(page);
            page += 0x1000;
        }
    }
}

impl RealmMemory for RealmRam {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        let pa = Self::pa(ipa, buf.len())?;
        Self::populate(ipa, buf.len());
        // SAFETY: `pa..pa + len` lies in the realm RAM backing, reserved for the realm by the
        // harness's memory map and not otherwise referenced while the realm is stopped.
        unsafe { ptr::copy_nonoverlapping(pa as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), Unmapped> {
        let pa = Self::pa(ipa, data.len())?;
        Self::populate(ipa, data.len());
        // SAFETY: as for `read`.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), pa as *mut u8, data.len()) };
        Ok(())
    }
}

fn read_boot_word(offset: u64) -> u64 {
    // SAFETY: the boot information block is a fixed location in RAM the runner writes
    // before QEMU starts; it is read once, before anything else uses it.
    unsafe { ptr::read_volatile((BOOT_INFO_PA + offset) as *const u64) }
}

el2_rt::entry!(main);

/// What the CPUs share: the RMM model (every exit is handled under its lock) and the
/// starting state of each REC.
struct Shared {
    model: Mutex<RealmModel<InsecureTestIssuer>>,
    /// Per REC: the context a completed `CPU_ON` (or, for REC 0, the boot) gave it, taken by
    /// the REC's CPU when it starts the REC.
    starts: [Mutex<Option<GuestContext>>; MAX_RECS],
}

/// RECs the harness runs at most: one physical CPU each (`el2_rt::smp::MAX_CPUS`).
const MAX_RECS: usize = el2_rt::smp::MAX_CPUS;

fn main() -> ! {
    log!("QEMU virt, NS-EL2, realm RAM at IPA {REALM_RAM_IPA:#x}");
    if read_boot_word(0) != BOOT_INFO_MAGIC {
        log!("no realm image: the runner must write the boot information at {BOOT_INFO_PA:#x}");
        power_off();
    }
    let image_size = read_boot_word(BOOT_INFO_IMAGE_SIZE);
    let entry = [
        read_boot_word(BOOT_INFO_ENTRY_X0),
        read_boot_word(BOOT_INFO_ENTRY_X1),
    ];
    if image_size == 0 || image_size > REALM_RAM_SIZE {
        log!("bad realm image size {image_size:#x}");
        power_off();
    }
    // A boot block from before the word existed reads 0 there: one REC.
    let recs = match read_boot_word(BOOT_INFO_RECS) {
        0 => 1,
        n if n <= MAX_RECS as u64 => n as usize,
        n => {
            log!("{n} RECs asked for; the harness runs at most {MAX_RECS}");
            power_off();
        }
    };
    // SAFETY: the runner loaded `image_size` bytes at REALM_RAM_PA, inside the realm RAM
    // backing; nothing writes it while the RIM is computed.
    let image =
        unsafe { core::slice::from_raw_parts(REALM_RAM_PA as *const u8, image_size as usize) };
    let Some(rim) = el2_harness::measure::rim(image, entry) else {
        log!("realm image too large");
        power_off();
    };
    log!("realm image: {image_size} bytes, RIM {rim}");

    let rsi = match read_boot_word(BOOT_INFO_MODEL) {
        MODEL_TF_RMM_V0_8 => RsiRevisions::TF_RMM_V0_8,
        MODEL_TF_RMM_V0_9 => {
            log!("modelling TF-RMM v0.9.0: RSI 1.0 and 1.1");
            RsiRevisions::TF_RMM_V0_9
        }
        other => {
            log!("unknown RMM model {other:#x} in the boot information");
            power_off();
        }
    };
    let config = RealmConfig {
        ipa_width: IPA_WIDTH,
        hash_algorithm: HashAlgorithm::Sha256,
        rim,
        rsi,
        recs,
        ..RealmConfig::default()
    };
    let ram = [(REALM_RAM_IPA, REALM_RAM_IPA + REALM_RAM_SIZE)];
    let model = RealmModel::new(config, &ram, InsecureTestIssuer::new());
    STAGE2.lock().build(image_size);
    let shared = Shared {
        model: Mutex::new(model),
        starts: [const { Mutex::new(None) }; MAX_RECS],
    };
    *shared.starts[0].lock() = Some(GuestContext::new(REALM_RAM_IPA, SPSR_EL1H_MASKED, entry));
    if recs > 1 {
        log!("{recs} RECs, one physical CPU each");
    }
    // REC i runs on CPU i; the machine is powered off by the CPU that sees the realm end.
    if let Err(e) = el2_rt::smp::on_cpus(recs, &|cpu| cpu_main(cpu, &shared)) {
        log!("cannot run {recs} RECs: {e} (QEMU needs -smp {recs} or more)");
    }
    power_off();
}

/// Sets up the calling CPU's EL2 state for running REC `index`: the harness's vectors, stage
/// 2, the traps, the REC's MPIDR, timer access.
fn cpu_init(index: usize) {
    // Realm exits come through the harness's own vectors.
    VBAR_EL2.set((&raw const __harness_vectors).addr() as u64);
    VTTBR_EL2.set(STAGE2.lock().vttbr());
    VTCR_EL2.set(stage2::VTCR);
    // HCR_EL2: RW (EL1 is AArch64), TSC (trap SMC), VM (stage 2 on).
    HCR_EL2.set((1 << 31) | (1 << 19) | (1 << 0));
    // The REC's MPIDR as the RMM gives it (bit 31 RES1).
    VMPIDR_EL2.set(rmm_model::rec_mpidr(index) | (1 << 31));
    // EL1 may read the physical counter and use the physical timer.
    CNTHCTL_EL2.set(0b11);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    vgic::init_cpu();
}

/// How one run of a REC ended.
enum RecEnd {
    /// The REC called `CPU_OFF`: its CPU waits for the next `CPU_ON`.
    Off,
    /// The realm is finished (or failed).
    Finished,
}

/// One physical CPU's state while it runs its REC: the REC's registers and what the last
/// exit left to remember. Per-CPU host state of the REC belongs here.
struct Vcpu {
    index: usize,
    ctx: GuestContext,
    /// The page whose translation fault was last retried because another CPU had mapped it
    /// meanwhile: a second fault there is not a missing page.
    retried: Option<u64>,
    /// The REC's virtual timer delivery on this CPU.
    timer: vgic::VirtualTimer,
}

/// Physical CPU `index`: runs REC `index` whenever it is on, until the realm ends.
fn cpu_main(index: usize, shared: &Shared) {
    cpu_init(index);
    loop {
        let ctx = loop {
            if let Some(ctx) = shared.starts[index].lock().take() {
                break ctx;
            }
            core::hint::spin_loop();
        };
        // A REC starts as TF-RMM's `psci_reset_rec` leaves it: MMU and caches off.
        SCTLR_EL1.set(SCTLR_EL1_MMU_OFF);
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        let mut vcpu = Vcpu {
            index,
            ctx,
            retried: None,
            timer: vgic::VirtualTimer::new(),
        };
        if let RecEnd::Finished = run(&mut vcpu, shared) {
            finish();
        }
        if shared.model.lock().recs().iter().all(|r| !r.runnable()) {
            log!("every REC called PSCI CPU_OFF");
            finish();
        }
    }
}

/// Ends the run: reports, then powers the machine off (whatever the other CPUs are doing).
fn finish() -> ! {
    log!(
        "done; {} pages of RAM populated on the realm's demand",
        STAGE2.lock().populated()
    );
    power_off();
}

/// Runs REC `index` on this CPU until it stops, the realm stops or something fails. The one
/// place this CPU enters the realm and takes its exits.
fn run(vcpu: &mut Vcpu, shared: &Shared) -> RecEnd {
    loop {
        vcpu.timer.before_entry();
        // SAFETY: stage 2 maps only realm RAM and the UART's alias; HCR_EL2 traps SMCs.
        let vector = unsafe { enter_guest(&mut vcpu.ctx) };
        if let Some(end) = exit(vcpu, shared, vector) {
            return end;
        }
    }
}

/// Handles one exit of the CPU's REC (vector `vector`); `Some` when the REC stops running.
fn exit(vcpu: &mut Vcpu, shared: &Shared, vector: u64) -> Option<RecEnd> {
    let (index, ctx) = (vcpu.index, &mut vcpu.ctx);
    let retried = vcpu.retried.take();
    let esr = ESR_EL2.get();
    let ec = (esr >> 26) & 0x3f;
    match (vector, ec) {
        (8, EC_SMC64) => {
            let mut regs: Regs = [0; 18];
            regs.copy_from_slice(&ctx.x[..18]);
            // A trapped SMC returns to the instruction after it.
            ctx.elr += 4;
            let mut model = shared.model.lock();
            if let Step::Exit(exit) = model.handle_smc(index, &mut regs, &mut RealmRam) {
                let response = match host(&exit) {
                    Reply::Enter(response) => response,
                    Reply::Off => return Some(RecEnd::Off),
                    Reply::Finished => return Some(RecEnd::Finished),
                };
                if let Err(e) = model.enter(index, &mut regs, response, &mut RealmRam) {
                    log!("cannot enter REC {index} again: {e}");
                    return Some(RecEnd::Finished);
                }
                if let RecExit::Psci {
                    fid: psci::PSCI_CPU_ON_32 | psci::PSCI_CPU_ON_64,
                    args,
                } = exit
                    && regs[0] == 0
                {
                    start_rec(shared, args);
                }
            }
            ctx.x[..18].copy_from_slice(&regs);
        }
        (8, EC_WFX) if esr & 1 == 0 => vcpu.timer.on_wfi(ctx),
        (8, EC_HVC64) => {
            // The RMM makes the realm take an Undefined Instruction exception for HVC
            // (TF-RMM runtime/core/exit.c): inject it at the realm's EL1 vectors.
            inject_undefined(ctx);
        }
        (8, EC_DABT_LOWER | EC_IABT_LOWER)
            if esr & 0b11_1100 == 0b00_0100
                && STAGE2.lock().populate((HPFAR_EL2.get() >> 4) << 12) =>
        {
            // A translation fault on a page of RAM not reached before: now mapped; the
            // realm repeats the access.
        }
        (8, EC_DABT_LOWER | EC_IABT_LOWER)
            if esr & 0b11_1100 == 0b00_0100
                && retried != Some((HPFAR_EL2.get() >> 4) << 12)
                && STAGE2.lock().ram_mapped((HPFAR_EL2.get() >> 4) << 12) =>
        {
            // Another CPU populated the page between this fault and now: repeat once.
            vcpu.retried = Some((HPFAR_EL2.get() >> 4) << 12);
        }
        (8, EC_DABT_LOWER) if crate::virtio::handle(ctx, esr) => {
            // A virtio register access, emulated; the realm resumes after it.
        }
        (8, EC_DABT_LOWER | EC_IABT_LOWER) => {
            log!(
                "realm stage-2 fault on REC {index}: EC {ec:#x} at IPA {:#x}, FAR {:#x}, PC {:#x}",
                (HPFAR_EL2.get() >> 4) << 12,
                FAR_EL2.get(),
                ctx.elr
            );
            return Some(RecEnd::Finished);
        }
        _ => {
            log!(
                "unexpected exit of REC {index}: vector {vector}, ESR {esr:#x}, PC {:#x}",
                ctx.elr
            );
            return Some(RecEnd::Finished);
        }
    }
    None
}

/// After a `CPU_ON` the model completed successfully: REC `args[0]` starts at `args[1]` with
/// `x0` = `args[2]` (the context id), on its own CPU. The model checked the MPIDR (it names
/// one of the realm's RECs) and the entry address (protected IPA).
fn start_rec(shared: &Shared, args: [u64; 3]) {
    let Some(target) = (0..MAX_RECS).find(|&i| rmm_model::rec_mpidr(i) == args[0]) else {
        return;
    };
    *shared.starts[target].lock() =
        Some(GuestContext::new(args[1], SPSR_EL1H_MASKED, [args[2], 0]));
}

/// What the host does after an exit.
#[allow(
    clippy::large_enum_variant,
    reason = "made once per exit and matched at once, as the model's own HostResponse"
)]
enum Reply {
    /// Enter the REC again with this response.
    Enter(HostResponse),
    /// The REC switched itself off.
    Off,
    /// The realm is finished.
    Finished,
}

/// Acts as the host for one REC exit.
fn host(exit: &RecExit) -> Reply {
    match exit {
        RecExit::HostCall { imm, gprs } => {
            let mut reply = *gprs;
            if *imm == CONSOLE_WRITE {
                let n = (gprs[0] as usize).min(CONSOLE_WRITE_MAX);
                let mut bytes = [0u8; CONSOLE_WRITE_MAX];
                unpack_bytes(&gprs[1..HOST_CALL_GPRS], &mut bytes[..n]);
                relay::sanitize(&mut bytes[..n]);
                console::write_bytes(&bytes[..n]);
                reply[0] = n as u64;
            } else if *imm == EXIT_STATUS {
                if gprs[0] != exit::SUCCESS {
                    log!(
                        "realm ended: {} (status {})",
                        exit::describe(gprs[0]),
                        gprs[0]
                    );
                }
            } else if *imm == SERVICE {
                let (code, len) = service(gprs[0], gprs[1], gprs[2], gprs[3]);
                reply[0] = code;
                reply[1] = len as u64;
            } else {
                log!("host call with immediate {imm:#x} ignored");
            }
            Reply::Enter(HostResponse::HostCall { gprs: reply })
        }
        RecExit::RipasChange { top, .. } => Reply::Enter(HostResponse::Ripas {
            progress: *top,
            reject: false,
        }),
        // The harness maps realm RAM with fixed permissions: accepting the whole range is
        // what a host whose RMI_RTT_SET_S2AP calls covered it would report.
        RecExit::S2apChange { top, .. } => Reply::Enter(HostResponse::S2ap {
            progress: *top,
            reject: false,
        }),
        RecExit::Psci {
            fid: psci::PSCI_SYSTEM_OFF,
            ..
        } => {
            log!("realm called PSCI SYSTEM_OFF");
            Reply::Finished
        }
        RecExit::Psci {
            fid: psci::PSCI_SYSTEM_RESET,
            ..
        } => {
            log!("realm called PSCI SYSTEM_RESET");
            Reply::Finished
        }
        RecExit::Psci {
            fid: psci::PSCI_CPU_OFF,
            ..
        } => Reply::Off,
        // CPU_ON and AFFINITY_INFO: the host lets it happen (RMI_PSCI_COMPLETE with
        // success); the model answers from the target REC's state, as TF-RMM does.
        RecExit::Psci {
            fid:
                psci::PSCI_CPU_ON_32
                | psci::PSCI_CPU_ON_64
                | psci::PSCI_AFFINITY_INFO_32
                | psci::PSCI_AFFINITY_INFO_64,
            ..
        } => Reply::Enter(HostResponse::PsciComplete { status: 0 }),
        RecExit::Psci { .. } => Reply::Enter(HostResponse::Resume),
        RecExit::DataAbort { ipa } => {
            log!("the RMM model could not reach realm memory at {ipa:#x}");
            Reply::Finished
        }
    }
}

/// Relays a service call (`hostcall::SERVICE`) over the console to whoever runs QEMU and
/// puts the answer in the realm's shared buffer: the status and the answer's length.
fn service(service: u64, ipa: u64, request_len: u64, size: u64) -> (u64, usize) {
    // The buffer must lie in the unprotected alias of realm RAM, where the harness maps
    // its own memory (`stage2.rs`), and hold the request.
    let end = ipa.checked_add(size);
    if ipa < SHARED_IPA
        || end.is_none_or(|end| end > SHARED_IPA + REALM_RAM_SIZE)
        || request_len > size
    {
        return (status::BAD_BUFFER, 0);
    }
    let pa = (SHARED_PA + (ipa - SHARED_IPA)) as usize;
    // SAFETY: `pa..pa + size` lies in the host memory behind the alias of realm RAM, which
    // nothing else in the harness uses; the realm is stopped while its host call is served.
    let buffer = unsafe { core::slice::from_raw_parts_mut(pa as *mut u8, size as usize) };
    let (code, len) = console::relay_service(service, buffer, request_len as usize);
    if code == status::UNAVAILABLE {
        log!("service {service}: unavailable");
    }
    (code, len)
}

/// Makes the realm take an Undefined Instruction exception at the instruction before
/// `ctx.elr` (an HVC, whose preferred return address is the next instruction).
fn inject_undefined(ctx: &mut GuestContext) {
    use aarch64_cpu::registers::{ELR_EL1, ESR_EL1, SPSR_EL1};
    ELR_EL1.set(ctx.elr - 4);
    SPSR_EL1.set(ctx.spsr);
    // EC 0 (unknown reason), IL = 1.
    ESR_EL1.set(1 << 25);
    // Current EL with SP_ELx, synchronous: VBAR_EL1 + 0x200.
    ctx.elr = VBAR_EL1.get() + 0x200;
    ctx.spsr = SPSR_EL1H_MASKED;
}
