//! A bare-metal runtime for realm payloads (feature `rt`, `aarch64-unknown-none`).
//!
//! It provides what a payload needs to run at R-EL1 straight from the host's load:
//!
//! - `_start` ([`entry`](self)): enables FP/SIMD, installs the exception vectors, sets the
//!   stack, zeroes BSS, negotiates RSI and reads the realm configuration, builds an identity
//!   map and turns the MMU and caches on ([`mmu`]), initialises the heap, selects the
//!   console and calls the payload's `main`;
//! - exception vectors that report the exception class and addresses, then switch the realm
//!   off with PSCI `SYSTEM_OFF`; except an IRQ at EL1, which saves the interrupted context,
//!   acknowledges and ends what is pending at the GIC CPU interface ([`crate::gic`]) and
//!   returns: the virtual timer's interrupt that ends [`crate::time::sleep_until`];
//! - a panic handler that reports the panic and switches the realm off;
//! - before every `SYSTEM_OFF`, an exit report to the host
//!   (`cca_abi::hostcall::EXIT_STATUS`): main returned, panic, exception or failed start, so
//!   that a host's exit code can say how the realm ended;
//! - a console ([`console`]) implementing `embedded_io::Write`, over `RSI_HOST_CALL` or a
//!   PL011 at the unprotected alias of the board's UART;
//! - a global heap (`linked_list_allocator` behind a spin lock);
//! - randomness from the CPU's `RNDR` register ([`Rndr`]);
//! - jobs on the realm's other RECs ([`smp`]): a secondary entry that validates its `CPU_ON`
//!   context id and turns the MMU on with the primary's map, per-REC stacks with guard pages
//!   and a per-CPU block (`TPIDR_EL1`, from which the exception vectors take each CPU's own
//!   exception stack).
//!
//! Virtual addresses are IPAs (an identity map, see [`mmu`]), which is what realm-sdk's safe
//! RSI functions assume; protected RAM is Normal write-back memory, the unprotected alias of
//! RAM Normal non-cacheable (shared buffers) and the UART Device memory. Nothing before the
//! MMU is on uses an atomic read-modify-write (exclusive accesses on Device memory are
//! UNPREDICTABLE). The image is linked with realm-build's `realm.ld` and a board's MEMORY
//! file (`realm_build::link_payload` in the payload's `build.rs`).
//!
//! # Entry registers
//!
//! The host sets `x0..x7` of the REC (`RmiRecParams.gprs`). The runtime passes `x0..x3` to
//! `main` in [`EntryArgs`] and reads one convention of this project from `x0`: bit 0
//! ([`cca_abi::hostcall::ENTRY_CONSOLE_PL011`]) selects the PL011 console; otherwise the
//! console uses host calls.
//!
//! # Declaring `main`
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use realm_sdk::{Realm, Smc, println, rt::EntryArgs};
//!
//! realm_sdk::entry!(main);
//!
//! fn main(realm: &mut Realm<Smc>, _args: EntryArgs) {
//!     println!("RSI {}", realm.version());
//! }
//! ```
//! When `main` returns the runtime reports success and switches the realm off with PSCI
//! `SYSTEM_OFF`.

pub mod console;
mod entry;
mod exceptions;
mod heap;
pub mod mmu;
mod rndr;
pub mod smp;

pub use rndr::Rndr;

use cca_abi::smccc::Smc;

use crate::{Realm, psci};

/// Registers `x0..x3` the host set when it created the REC.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct EntryArgs(pub [u64; 4]);

/// Declares the payload's `main`: `fn(&mut Realm<Smc>, EntryArgs)`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(export_name = "__realm_sdk_main")]
        fn __realm_sdk_main(realm: &mut $crate::Realm<$crate::Smc>, args: $crate::rt::EntryArgs) {
            $main(realm, args)
        }
    };
}

unsafe extern "Rust" {
    /// Defined by [`entry!`] with the signature it checks.
    fn __realm_sdk_main(realm: &mut Realm<Smc>, args: EntryArgs);
}

/// Reports `status` to the host (`cca_abi::hostcall::EXIT_STATUS`, one of
/// [`cca_abi::hostcall::exit`]), then switches the realm off with PSCI `SYSTEM_OFF`.
pub fn exit(status: u64) -> ! {
    let mut call = cca_abi::rsi::RsiHostCall {
        imm: cca_abi::hostcall::EXIT_STATUS,
        reserved_02: [0; 6],
        gprs: [0; cca_abi::rsi::HOST_CALL_GPRS],
    };
    call.gprs[0] = status;
    // Nothing is left to do if the host refuses: it still sees the SYSTEM_OFF.
    let _ = crate::rsi::host_call(&mut Smc, &mut call);
    system_off()
}

/// Switches the realm off with PSCI `SYSTEM_OFF`; if the RMM refuses, waits forever.
pub fn system_off() -> ! {
    let _ = psci::system_off(&mut Smc);
    loop {
        aarch64_cpu::asm::wfi();
    }
}

/// Called by `_start` with the entry registers, on the runtime's stack, BSS zeroed.
#[unsafe(no_mangle)]
extern "C" fn __realm_sdk_start(x0: u64, x1: u64, x2: u64, x3: u64) -> ! {
    // The MMU is off until `mmu::init` returns: every data access is Device memory, so
    // nothing here may use an atomic read-modify-write (no lock, no heap). `Realm::new` is
    // plain SMCs and stores; errors print through a lock-free host-call console.
    let mut realm = match Realm::new(Smc) {
        Ok(realm) => realm,
        Err(e) => {
            console::emergency_print(format_args!("realm-sdk: RSI initialisation failed: {e}\n"));
            exit(cca_abi::hostcall::exit::INIT_FAILED);
        }
    };
    if let Err(e) = mmu::init(realm.ipa_width()) {
        console::emergency_print(format_args!("realm-sdk: MMU set-up failed: {e}\n"));
        exit(cca_abi::hostcall::exit::INIT_FAILED);
    }
    heap::init();
    if x0 & cca_abi::hostcall::ENTRY_CONSOLE_PL011 != 0 {
        console::use_pl011(&realm);
    }
    // SAFETY: `__realm_sdk_main` is defined by `entry!`, which checks its signature.
    unsafe { __realm_sdk_main(&mut realm, EntryArgs([x0, x1, x2, x3])) };
    exit(cca_abi::hostcall::exit::SUCCESS);
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::emergency_print(format_args!("realm-sdk: panic: {info}\n"));
    exit(cca_abi::hostcall::exit::PANIC);
}
