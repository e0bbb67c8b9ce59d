//! A minimal runtime for bare-metal programs at NS-EL2 on QEMU `virt`, with the MMU off:
//! the EL2 harness (no EL3 firmware) and rmi-shim's host (BL33 on TF-A + TF-RMM).
//!
//! - `_start`: stack, BSS, FP/SIMD untrapped (`CPTR_EL2`), fault vectors in `VBAR_EL2`, then
//!   the program's `main` declared with [`entry!`];
//! - a heap over the linker script's `__heap_start..__heap_end`;
//! - the QEMU `virt` PL011 at 0x0900_0000 as console (`console`, `println!`);
//! - the GICv3 virtual CPU interface cleared before a realm first runs, and its list
//!   registers, active priorities and control registers for a host to load and save per
//!   REC (`gic`);
//! - the physical counter (`physical_counter`);
//! - the other CPUs, each on a stack of its own, through PSCI `CPU_ON` (`smp::on_cpus`);
//! - faults and panics are reported on the console, then the machine is powered off with
//!   PSCI `SYSTEM_OFF` (`power_off`).
//!
//! Link with `linker/el2.ld` and a MEMORY file that defines `EL2_RAM`.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(not(target_os = "none"), allow(unused))]

#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
pub mod gic;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
pub mod smp;

/// Physical address of the QEMU `virt` PL011 UART0.
pub const UART_PA: u64 = 0x0900_0000;

/// Declares the program's entry point: a `fn() -> !`, called on the runtime's stack with BSS
/// zeroed and the heap and console ready.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(export_name = "__el2_rt_main")]
        extern "C" fn __el2_rt_main() -> ! {
            $main()
        }
    };
}

/// The physical counter `CNTPCT_EL0`, read after an `ISB` (so not before earlier
/// instructions).
#[cfg(target_os = "none")]
#[must_use]
pub fn physical_counter() -> u64 {
    use aarch64_cpu::registers::{CNTPCT_EL0, Readable};
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTPCT_EL0.get()
}

/// Powers the machine off with PSCI `SYSTEM_OFF` (an SMC to EL3 firmware, or QEMU's own PSCI
/// when there is none); waits forever if that returns.
#[cfg(target_os = "none")]
pub fn power_off() -> ! {
    use cca_abi::smccc::{Conduit, Smc, regs};
    let _ = Smc.call(regs(smccc::psci::PSCI_SYSTEM_OFF, &[]));
    loop {
        aarch64_cpu::asm::wfi();
    }
}
