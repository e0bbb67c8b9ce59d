//! Exception vectors and the switch between the harness (EL2) and the realm (EL1).
//!
//! [`enter_guest`] saves the harness's callee-saved registers, loads the realm's registers
//! from a [`GuestContext`] and returns to EL1 with `ERET`. Any exception the realm takes to
//! EL2 (its SMCs trap with `HCR_EL2.TSC`) comes back through the lower-EL vectors, which
//! store the realm's registers in the same context and return from `enter_guest` with the
//! vector number, so the harness handles exits in ordinary Rust.

use core::mem::offset_of;

/// The realm's register state while the harness runs.
#[derive(Clone, Debug)]
#[repr(C, align(16))]
pub struct GuestContext {
    /// `x0..x30`.
    pub x: [u64; 31],
    /// `ELR_EL2`: where the realm resumes.
    pub elr: u64,
    /// `SPSR_EL2`: the realm's PSTATE.
    pub spsr: u64,
    /// The harness's stack pointer while the realm runs.
    host_sp: u64,
    /// `FPSR`.
    fpsr: u64,
    /// `FPCR`.
    fpcr: u64,
    /// `q0..q31`.
    q: [u128; 32],
}

const _: () = {
    assert!(offset_of!(GuestContext, x) == 0);
    assert!(offset_of!(GuestContext, elr) == 248);
    assert!(offset_of!(GuestContext, spsr) == 256);
    assert!(offset_of!(GuestContext, q) % 16 == 0);
};

impl GuestContext {
    /// A context that enters at `pc` with `spsr` and `x0`, `x1` = `entry`.
    pub const fn new(pc: u64, spsr: u64, entry: [u64; 2]) -> Self {
        let mut x = [0; 31];
        x[0] = entry[0];
        x[1] = entry[1];
        Self {
            x,
            elr: pc,
            spsr,
            host_sp: 0,
            fpsr: 0,
            fpcr: 0,
            q: [0; 32],
        }
    }
}

unsafe extern "C" {
    /// Runs the realm until it takes an exception to EL2; returns the vector number
    /// (8 = synchronous from a lower EL in AArch64, 9 = IRQ, ...).
    fn __harness_enter_guest(ctx: *mut GuestContext) -> u64;
}

/// Runs the realm described by `ctx` until its next exit; returns the vector number.
///
/// # Safety
///
/// The EL2 state must describe a realm that may run: stage 2 enabled and mapping only
/// memory the realm may use, `HCR_EL2` trapping what the harness has to see.
pub unsafe fn enter_guest(ctx: &mut GuestContext) -> u64 {
    // SAFETY: `ctx` is a valid, exclusively borrowed context; the assembly saves and restores
    // every register the AAPCS64 asks a callee to preserve, and the caller vouches for the
    // EL2 configuration.
    unsafe { __harness_enter_guest(ctx) }
}

core::arch::global_asm!(
    r#"
    .section .text, "ax"
    .global __harness_enter_guest
__harness_enter_guest:
    sub     sp, sp, #160
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mov     x9, sp
    str     x9, [x0, #{host_sp}]
    msr     tpidr_el2, x0

    add     x9, x0, #{q}
    ldp     q0, q1, [x9], #32
    ldp     q2, q3, [x9], #32
    ldp     q4, q5, [x9], #32
    ldp     q6, q7, [x9], #32
    ldp     q8, q9, [x9], #32
    ldp     q10, q11, [x9], #32
    ldp     q12, q13, [x9], #32
    ldp     q14, q15, [x9], #32
    ldp     q16, q17, [x9], #32
    ldp     q18, q19, [x9], #32
    ldp     q20, q21, [x9], #32
    ldp     q22, q23, [x9], #32
    ldp     q24, q25, [x9], #32
    ldp     q26, q27, [x9], #32
    ldp     q28, q29, [x9], #32
    ldp     q30, q31, [x9], #32
    ldr     x10, [x0, #{fpsr}]
    msr     fpsr, x10
    ldr     x10, [x0, #{fpcr}]
    msr     fpcr, x10
    ldp     x10, x11, [x0, #{elr}]
    msr     elr_el2, x10
    msr     spsr_el2, x11

    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret

__harness_guest_exit:
    mrs     x0, tpidr_el2
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #{elr}]

    add     x9, x0, #{q}
    stp     q0, q1, [x9], #32
    stp     q2, q3, [x9], #32
    stp     q4, q5, [x9], #32
    stp     q6, q7, [x9], #32
    stp     q8, q9, [x9], #32
    stp     q10, q11, [x9], #32
    stp     q12, q13, [x9], #32
    stp     q14, q15, [x9], #32
    stp     q16, q17, [x9], #32
    stp     q18, q19, [x9], #32
    stp     q20, q21, [x9], #32
    stp     q22, q23, [x9], #32
    stp     q24, q25, [x9], #32
    stp     q26, q27, [x9], #32
    stp     q28, q29, [x9], #32
    stp     q30, q31, [x9], #32
    mrs     x10, fpsr
    str     x10, [x0, #{fpsr}]
    mrs     x10, fpcr
    str     x10, [x0, #{fpcr}]

    ldr     x9, [x0, #{host_sp}]
    mov     sp, x9
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    mov     x0, x1
    ret

    /* VBAR_EL2 while the realm runs: vectors 0-7 are the harness's own faults (reported by
       el2-rt), 8-15 the realm's exits. */
    .section .text.vectors, "ax"
    .balign 0x800
    .global __harness_vectors
__harness_vectors:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7
    .balign 0x80
    mov     x0, #\n
    b       __el2_rt_fault
    .endr
    .irp n, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\n
    b       __harness_guest_exit
    .endr
"#,
    host_sp = const offset_of!(GuestContext, host_sp),
    q = const offset_of!(GuestContext, q),
    fpsr = const offset_of!(GuestContext, fpsr),
    fpcr = const offset_of!(GuestContext, fpcr),
    elr = const offset_of!(GuestContext, elr),
);
