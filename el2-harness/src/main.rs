//! el2-harness: runs a realm payload on QEMU without an RMM.
//!
//! QEMU's `virt` machine (with `virtualization=on`) enters this program at NS-EL2. It plays
//! two roles for one realm:
//!
//! - **the RMM**: it maps the payload, loaded unmodified by the runner at a physical address,
//!   as the realm's protected RAM through stage 2, runs it at EL1 with `HCR_EL2.TSC` so every
//!   `SMC` traps, and answers RSI, PSCI and SMCCC calls with `rmm-model`, which implements
//!   them as TF-RMM v0.8.0 does (or v0.9.0, with RSI 1.1, if the boot information asks:
//!   `layout::BOOT_INFO_MODEL`); it computes the RIM of the realm the way the RMM would
//!   measure the host's build described in [`measure`];
//! - **the host**: it prints console host calls, accepts RIPAS changes and stops when the
//!   realm calls PSCI `SYSTEM_OFF` or `SYSTEM_RESET`.
//!
//! A realm of several RECs (the boot information's REC count, `layout::BOOT_INFO_RECS`) runs
//! REC i on QEMU CPU i (`-smp N`): the harness starts the other CPUs with PSCI `CPU_ON` to
//! QEMU (`el2_rt::smp`), all share one model behind a lock, and a REC's `CPU_ON` and
//! `AFFINITY_INFO` are completed through the model as `RMI_PSCI_COMPLETE` would.
//!
//! It delivers the realm's EL1 virtual timer interrupt through the GICv3 virtual CPU
//! interface, trapping `WFI` ([`vgic`]), and injects it early once, as a hostile host may.
//!
//! It emulates two virtio devices: a console and a block device (virtio-host's model) at the
//! slots of `cca_abi::virtio`, from the realm's stage-2 data aborts (`virtio.rs`); the disk
//! is the window at `layout::DISK_PA`.
//!
//! What it does not model: the rest of the GIC (no physical interrupt is enabled, no other
//! virtual interrupt is delivered), the physical timer, emulation of the
//! UART (its unprotected alias is mapped straight to the UART), and RIPAS enforcement on
//! the realm's own memory accesses (only the RMM's accesses check RIPAS).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(
    target_os = "none",
    allow(unsafe_code, reason = "a bare-metal EL2 program")
)]

#[cfg(target_os = "none")]
mod harness;
#[cfg(target_os = "none")]
mod stage2;
#[cfg(target_os = "none")]
mod switch;
#[cfg(target_os = "none")]
mod vgic;
#[cfg(target_os = "none")]
mod virtio;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("el2-harness runs at EL2 on QEMU: build it with `--target aarch64-unknown-none`");
    std::process::exit(2);
}
