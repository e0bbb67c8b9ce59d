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
use cca_abi::smccc::{Regs, unpack_bytes};
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

fn main() -> ! {
    // Realm exits come through the harness's own vectors.
    VBAR_EL2.set((&raw const __harness_vectors).addr() as u64);

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
        ..RealmConfig::default()
    };
    let ram = [(REALM_RAM_IPA, REALM_RAM_IPA + REALM_RAM_SIZE)];
    let mut model = RealmModel::new(config, &ram, InsecureTestIssuer::new());

    let vttbr = STAGE2.lock().build(image_size);
    VTTBR_EL2.set(vttbr);
    VTCR_EL2.set(stage2::VTCR);
    // HCR_EL2: RW (EL1 is AArch64), TSC (trap SMC), VM (stage 2 on).
    HCR_EL2.set((1 << 31) | (1 << 19) | (1 << 0));
    SCTLR_EL1.set(SCTLR_EL1_MMU_OFF);
    VMPIDR_EL2.set(1 << 31);
    // EL1 may read the physical counter and use the physical timer.
    CNTHCTL_EL2.set(0b11);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    vgic::init_cpu();

    let mut ctx = GuestContext::new(REALM_RAM_IPA, SPSR_EL1H_MASKED, entry);
    run(&mut model, &mut ctx);
    log!(
        "done; {} pages of RAM populated on the realm's demand",
        STAGE2.lock().populated()
    );
    power_off();
}

/// Runs the realm until it stops or fails.
fn run(model: &mut RealmModel<InsecureTestIssuer>, ctx: &mut GuestContext) {
    let mut timer = vgic::VirtualTimer::new();
    loop {
        timer.before_entry();
        // SAFETY: stage 2 maps only realm RAM and the UART's alias; HCR_EL2 traps SMCs.
        let vector = unsafe { enter_guest(ctx) };
        let esr = ESR_EL2.get();
        let ec = (esr >> 26) & 0x3f;
        match (vector, ec) {
            (8, EC_SMC64) => {
                let mut regs: Regs = [0; 18];
                regs.copy_from_slice(&ctx.x[..18]);
                let step = model.handle_smc(0, &mut regs, &mut RealmRam);
                // A trapped SMC returns to the instruction after it.
                ctx.elr += 4;
                if let Step::Exit(exit) = step {
                    let Some(response) = host(&exit) else {
                        return;
                    };
                    if let Err(e) = model.enter(0, &mut regs, response, &mut RealmRam) {
                        log!("cannot enter the realm again: {e}");
                        return;
                    }
                }
                ctx.x[..18].copy_from_slice(&regs);
            }
            (8, EC_WFX) if esr & 1 == 0 => timer.on_wfi(ctx),
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
            (8, EC_DABT_LOWER) if crate::virtio::handle(ctx, esr) => {
                // A virtio register access, emulated; the realm resumes after it.
            }
            (8, EC_DABT_LOWER | EC_IABT_LOWER) => {
                log!(
                    "realm stage-2 fault: EC {ec:#x} at IPA {:#x}, FAR {:#x}, PC {:#x}",
                    (HPFAR_EL2.get() >> 4) << 12,
                    FAR_EL2.get(),
                    ctx.elr
                );
                return;
            }
            _ => {
                log!(
                    "unexpected exit: vector {vector}, ESR {esr:#x}, PC {:#x}",
                    ctx.elr
                );
                return;
            }
        }
    }
}

/// Acts as the host for one REC exit; `None` when the realm is finished.
fn host(exit: &RecExit) -> Option<HostResponse> {
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
            Some(HostResponse::HostCall { gprs: reply })
        }
        RecExit::RipasChange { top, .. } => Some(HostResponse::Ripas {
            progress: *top,
            reject: false,
        }),
        // The harness maps realm RAM with fixed permissions: accepting the whole range is
        // what a host whose RMI_RTT_SET_S2AP calls covered it would report.
        RecExit::S2apChange { top, .. } => Some(HostResponse::S2ap {
            progress: *top,
            reject: false,
        }),
        RecExit::Psci {
            fid: 0x8400_0008, ..
        } => {
            log!("realm called PSCI SYSTEM_OFF");
            None
        }
        RecExit::Psci {
            fid: 0x8400_0009, ..
        } => {
            log!("realm called PSCI SYSTEM_RESET");
            None
        }
        RecExit::Psci {
            fid: 0x8400_0002, ..
        } => {
            log!("realm called PSCI CPU_OFF on its only REC");
            None
        }
        RecExit::Psci {
            fid: 0x8400_0001 | 0xC400_0001,
            ..
        } => Some(HostResponse::Resume),
        RecExit::Psci { fid, .. } => {
            // Only CPU_ON and AFFINITY_INFO need completion; the harness runs one REC.
            log!("PSCI {fid:#x} refused: the harness runs one REC");
            Some(HostResponse::PsciComplete { status: -1 })
        }
        RecExit::DataAbort { ipa } => {
            log!("the RMM model could not reach realm memory at {ipa:#x}");
            None
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
