//! Exception reporting: any exception taken by the payload is fatal, except an IRQ taken at
//! EL1 on its own stack, which goes to the interrupt handler ([`crate::time::sleep_until`]).

use aarch64_cpu::registers::{ELR_EL1, ESR_EL1, FAR_EL1, Readable};

use super::console::emergency_print;
use super::exit;

/// Names of the 16 vectors, by offset / 0x80 (Arm ARM D1.10.2).
const VECTORS: [&str; 16] = [
    "synchronous (current EL, SP0)",
    "IRQ (current EL, SP0)",
    "FIQ (current EL, SP0)",
    "SError (current EL, SP0)",
    "synchronous",
    "IRQ",
    "FIQ",
    "SError",
    "synchronous (lower EL, AArch64)",
    "IRQ (lower EL, AArch64)",
    "FIQ (lower EL, AArch64)",
    "SError (lower EL, AArch64)",
    "synchronous (lower EL, AArch32)",
    "IRQ (lower EL, AArch32)",
    "FIQ (lower EL, AArch32)",
    "SError (lower EL, AArch32)",
];

/// A short name for an exception class (ESR_ELx.EC, Arm ARM D23.2.41).
fn class_name(ec: u64) -> &'static str {
    match ec {
        0x00 => "unknown reason",
        0x01 => "WFI/WFE",
        0x07 => "SIMD/FP access",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "system register access",
        0x20 | 0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 | 0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2f => "SError",
        0x3c => "BRK",
        _ => "other",
    }
}

#[unsafe(no_mangle)]
extern "C" fn __realm_sdk_exception(vector: u64) -> ! {
    let esr = ESR_EL1.get();
    let ec = (esr >> 26) & 0x3f;
    let name = VECTORS.get(vector as usize).copied().unwrap_or("unknown");
    emergency_print(format_args!(
        "realm-sdk: {name} exception: EC {ec:#04x} ({}), ESR {esr:#x}, FAR {:#x}, ELR {:#x}\n",
        class_name(ec),
        FAR_EL1.get(),
        ELR_EL1.get(),
    ));
    exit(cca_abi::hostcall::exit::EXCEPTION);
}

/// Called by the IRQ vector (current EL, SP_ELx) with the interrupted context saved and IRQs
/// masked: acknowledges and ends what is pending at the GIC CPU interface.
#[unsafe(no_mangle)]
extern "C" fn __realm_sdk_irq() {
    crate::time::handle_irq();
}
