//! The GICv3 virtual CPU interface seen from NS-EL2 (`ICH_*_EL2`).
//!
//! From RMI 2.0 (TF-RMM v0.9.0) the RMM neither saves, restores nor initialises the `ICH_*`
//! registers for a realm without planes: the realm runs with what the host left there, and
//! `RMI_REC_ENTER` fails with `RMI_ERROR_REC` if a valid list register has HW = 1 or two share
//! a vINTID (docs/rmi-2.0-tf-rmm-v0.9.0.md §10.6; TF-RMM v0.9.0 `runtime/rmi/run.c`,
//! `lib/gic/src/gic.c`). Their reset values are architecturally UNKNOWN, so a host clears
//! them once before the first entry.

use aarch64_cpu::registers::{
    ICH_AP0R0_EL2, ICH_AP0R1_EL2, ICH_AP0R2_EL2, ICH_AP0R3_EL2, ICH_AP1R0_EL2, ICH_AP1R1_EL2,
    ICH_AP1R2_EL2, ICH_AP1R3_EL2, ICH_HCR_EL2, ICH_LR0_EL2, ICH_LR1_EL2, ICH_LR2_EL2, ICH_LR3_EL2,
    ICH_LR4_EL2, ICH_LR5_EL2, ICH_LR6_EL2, ICH_LR7_EL2, ICH_LR8_EL2, ICH_LR9_EL2, ICH_LR10_EL2,
    ICH_LR11_EL2, ICH_LR12_EL2, ICH_LR13_EL2, ICH_LR14_EL2, ICH_LR15_EL2, ICH_VMCR_EL2,
    ICH_VTR_EL2, Readable, Writeable,
};

/// Reads `ICH_LR<n>_EL2`; 0 (an invalid entry) for `n` ≥ 16.
#[must_use]
pub fn read_list_register(n: usize) -> u64 {
    let lrs: [fn() -> u64; 16] = [
        || ICH_LR0_EL2.get(),
        || ICH_LR1_EL2.get(),
        || ICH_LR2_EL2.get(),
        || ICH_LR3_EL2.get(),
        || ICH_LR4_EL2.get(),
        || ICH_LR5_EL2.get(),
        || ICH_LR6_EL2.get(),
        || ICH_LR7_EL2.get(),
        || ICH_LR8_EL2.get(),
        || ICH_LR9_EL2.get(),
        || ICH_LR10_EL2.get(),
        || ICH_LR11_EL2.get(),
        || ICH_LR12_EL2.get(),
        || ICH_LR13_EL2.get(),
        || ICH_LR14_EL2.get(),
        || ICH_LR15_EL2.get(),
    ];
    lrs.get(n).map_or(0, |read| read())
}

/// Writes `ICH_LR<n>_EL2`; nothing for `n` ≥ 16. The caller keeps `n` below
/// [`list_registers`] (higher ones are not implemented).
pub fn write_list_register(n: usize, value: u64) {
    let lrs: [fn(u64); 16] = [
        |v| ICH_LR0_EL2.set(v),
        |v| ICH_LR1_EL2.set(v),
        |v| ICH_LR2_EL2.set(v),
        |v| ICH_LR3_EL2.set(v),
        |v| ICH_LR4_EL2.set(v),
        |v| ICH_LR5_EL2.set(v),
        |v| ICH_LR6_EL2.set(v),
        |v| ICH_LR7_EL2.set(v),
        |v| ICH_LR8_EL2.set(v),
        |v| ICH_LR9_EL2.set(v),
        |v| ICH_LR10_EL2.set(v),
        |v| ICH_LR11_EL2.set(v),
        |v| ICH_LR12_EL2.set(v),
        |v| ICH_LR13_EL2.set(v),
        |v| ICH_LR14_EL2.set(v),
        |v| ICH_LR15_EL2.set(v),
    ];
    if let Some(write) = lrs.get(n) {
        write(value);
    }
}

/// How many `ICH_AP0R<n>_EL2` / `ICH_AP1R<n>_EL2` pairs exist: one with 5 preemption bits,
/// two with 6, four with 7 (Arm ARM, ICH_AP0R<n>_EL2; `ICH_VTR_EL2.PREbits` + 1).
#[must_use]
pub fn active_priority_registers() -> usize {
    let pre_bits = ICH_VTR_EL2.read(ICH_VTR_EL2::PREbits) + 1;
    1usize << pre_bits.saturating_sub(5).min(2)
}

/// Reads `ICH_AP0R<n>_EL2` and `ICH_AP1R<n>_EL2`; (0, 0) for `n` ≥ 4.
#[must_use]
pub fn read_active_priorities(n: usize) -> (u64, u64) {
    let aprs: [fn() -> (u64, u64); 4] = [
        || (ICH_AP0R0_EL2.get(), ICH_AP1R0_EL2.get()),
        || (ICH_AP0R1_EL2.get(), ICH_AP1R1_EL2.get()),
        || (ICH_AP0R2_EL2.get(), ICH_AP1R2_EL2.get()),
        || (ICH_AP0R3_EL2.get(), ICH_AP1R3_EL2.get()),
    ];
    aprs.get(n).map_or((0, 0), |read| read())
}

/// Writes `ICH_AP0R<n>_EL2` and `ICH_AP1R<n>_EL2`; nothing for `n` ≥ 4. The caller keeps `n`
/// below [`active_priority_registers`].
pub fn write_active_priorities(n: usize, ap0: u64, ap1: u64) {
    let aprs: [fn(u64, u64); 4] = [
        |a, b| {
            ICH_AP0R0_EL2.set(a);
            ICH_AP1R0_EL2.set(b);
        },
        |a, b| {
            ICH_AP0R1_EL2.set(a);
            ICH_AP1R1_EL2.set(b);
        },
        |a, b| {
            ICH_AP0R2_EL2.set(a);
            ICH_AP1R2_EL2.set(b);
        },
        |a, b| {
            ICH_AP0R3_EL2.set(a);
            ICH_AP1R3_EL2.set(b);
        },
    ];
    if let Some(write) = aprs.get(n) {
        write(ap0, ap1);
    }
}

/// Writes `ICH_VMCR_EL2` and then `ICH_HCR_EL2` (so the interface is enabled last), with an
/// `ISB` so that a following `SMC` sees them.
pub fn write_control(vmcr: u64, hcr: u64) {
    ICH_VMCR_EL2.set(vmcr);
    ICH_HCR_EL2.set(hcr);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Reads `ICH_VMCR_EL2`.
#[must_use]
pub fn read_vmcr() -> u64 {
    ICH_VMCR_EL2.get()
}

/// How many list registers the CPU interface implements (`ICH_VTR_EL2.ListRegs` + 1).
#[must_use]
pub fn list_registers() -> usize {
    (ICH_VTR_EL2.read(ICH_VTR_EL2::ListRegs) + 1) as usize
}

/// Clears the virtual CPU interface: `ICH_HCR_EL2` (virtual interface disabled, no traps),
/// `ICH_VMCR_EL2`, the active-priority registers the implementation has and every list
/// register (invalid). Afterwards no virtual interrupt reaches the realm until the host
/// programs one.
pub fn reset_virtual_cpu_interface() {
    ICH_HCR_EL2.set(0);
    ICH_VMCR_EL2.set(0);
    // ICH_AP{0,1}R<n>_EL2 exist for n < 2^(PREbits + 1 - 5): one with 5 preemption bits,
    // two with 6, four with 7 (Arm ARM, ICH_AP0R<n>_EL2).
    let pre_bits = ICH_VTR_EL2.read(ICH_VTR_EL2::PREbits) + 1;
    let aprs = 1usize << pre_bits.saturating_sub(5).min(2);
    let ap0: [fn(); 4] = [
        || ICH_AP0R0_EL2.set(0),
        || ICH_AP0R1_EL2.set(0),
        || ICH_AP0R2_EL2.set(0),
        || ICH_AP0R3_EL2.set(0),
    ];
    let ap1: [fn(); 4] = [
        || ICH_AP1R0_EL2.set(0),
        || ICH_AP1R1_EL2.set(0),
        || ICH_AP1R2_EL2.set(0),
        || ICH_AP1R3_EL2.set(0),
    ];
    for (a, b) in ap0.iter().zip(&ap1).take(aprs) {
        a();
        b();
    }
    let lrs: [fn(); 16] = [
        || ICH_LR0_EL2.set(0),
        || ICH_LR1_EL2.set(0),
        || ICH_LR2_EL2.set(0),
        || ICH_LR3_EL2.set(0),
        || ICH_LR4_EL2.set(0),
        || ICH_LR5_EL2.set(0),
        || ICH_LR6_EL2.set(0),
        || ICH_LR7_EL2.set(0),
        || ICH_LR8_EL2.set(0),
        || ICH_LR9_EL2.set(0),
        || ICH_LR10_EL2.set(0),
        || ICH_LR11_EL2.set(0),
        || ICH_LR12_EL2.set(0),
        || ICH_LR13_EL2.set(0),
        || ICH_LR14_EL2.set(0),
        || ICH_LR15_EL2.set(0),
    ];
    for clear in lrs.iter().take(list_registers()) {
        clear();
    }
}
