//! `_start`, the secondary REC entry, the exception vector table and the IRQ path: the only
//! assembly of the runtime.

use super::smp;

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    /* x0..x3: REC entry registers, kept for main in x19..x22 (callee-saved). */
    mov     x19, x0
    mov     x20, x1
    mov     x21, x2
    mov     x22, x3

    /* CPACR_EL1.FPEN = 0b11: compiled Rust uses FP/SIMD registers. */
    mov     x9, #(3 << 20)
    msr     cpacr_el1, x9

    adrp    x9, __realm_sdk_vectors
    add     x9, x9, :lo12:__realm_sdk_vectors
    msr     vbar_el1, x9
    isb

    adrp    x9, __stack_top
    add     x9, x9, :lo12:__stack_top
    mov     sp, x9

    /* Zero BSS; the linker script aligns both ends to 16 bytes. */
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
0:  cmp     x9, x10
    b.hs    1f
    stp     xzr, xzr, [x9], #16
    b       0b
1:
    /* TPIDR_EL1: this CPU's block (smp::CpuBlock), whose first word the vectors read. */
    adrp    x9, __realm_sdk_primary_cpu
    add     x9, x9, :lo12:__realm_sdk_primary_cpu
    adrp    x10, __exception_stack_top
    add     x10, x10, :lo12:__exception_stack_top
    str     x10, [x9]
    msr     tpidr_el1, x9
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x3, x22
    bl      __realm_sdk_start
2:  wfi
    b       2b

    /* Secondary RECs start here (smp.rs), MMU off, x0 = the CPU_ON context id. The context
     * id is checked before use: it must be the address of a launch slot (inside the slot
     * array, slot aligned) whose magic says it is armed; otherwise CPU_OFF. */
    .section .text, "ax"
    .global __realm_sdk_secondary
__realm_sdk_secondary:
    adrp    x9, __realm_sdk_launch_slots
    add     x9, x9, :lo12:__realm_sdk_launch_slots
    subs    x10, x0, x9
    b.lo    9f
    mov     x11, #{slots_bytes}
    cmp     x10, x11
    b.hs    9f
    tst     x10, #({slot_size} - 1)
    b.ne    9f
    ldr     x11, [x0, #{off_magic}]
    ldr     x12, 8f
    cmp     x11, x12
    b.ne    9f
    mov     x19, x0

    mov     x9, #(3 << 20)
    msr     cpacr_el1, x9
    /* The primary's map, as is: same tables, same attributes, same controls. */
    ldr     x9, [x19, #{off_mair}]
    msr     mair_el1, x9
    ldr     x9, [x19, #{off_tcr}]
    msr     tcr_el1, x9
    ldr     x9, [x19, #{off_ttbr0}]
    msr     ttbr0_el1, x9
    isb
    tlbi    vmalle1
    ic      iallu
    dsb     nsh
    isb
    ldr     x9, [x19, #{off_sctlr}]
    msr     sctlr_el1, x9
    isb

    adrp    x9, __realm_sdk_vectors
    add     x9, x9, :lo12:__realm_sdk_vectors
    msr     vbar_el1, x9
    add     x9, x19, #{off_cpu}
    msr     tpidr_el1, x9
    ldr     x9, [x19, #{off_stack_top}]
    mov     sp, x9
    isb
    mov     x0, x19
    bl      __realm_sdk_secondary_start
    b       9f
    .balign 8
8:  .quad   {magic}
    /* PSCI CPU_OFF (0x84000002); should it return, wait. */
9:  movz    x0, #0x0002
    movk    x0, #0x8400, lsl #16
    smc     #0
    wfi
    b       9b

    /* 16 vectors of 0x80 bytes. Vector 5, an IRQ taken from EL1 on SP_EL1 (the runtime's
     * own stack), goes to the IRQ path below and returns. Every other one is fatal: it
     * switches to this CPU's exception stack (the main stack may be what overflowed into its
     * guard page; the first word of the CPU's block at TPIDR_EL1) and passes its number to the
     * Rust handler. */
    .section .text.vectors, "ax"
    .balign 0x800
    .global __realm_sdk_vectors
__realm_sdk_vectors:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    .if \n == 5
    b       __realm_sdk_irq_entry
    .else
    mrs     x9, tpidr_el1
    ldr     x9, [x9]
    mov     sp, x9
    mov     x0, #\n
    b       __realm_sdk_exception
    .endif
    .endr

    /* IRQ: saves what the AAPCS64 lets a Rust function clobber (x0-x18, x30, all of the
     * SIMD&FP registers since only the low halves of v8-v15 are callee-saved, FPCR, FPSR)
     * and ELR_EL1/SPSR_EL1, calls __realm_sdk_irq with IRQs still masked, restores, ERET.
     * Frame (0x2c0 bytes, 16-aligned): x0-x17 at 0x00, x18/x30 at 0x90, ELR/SPSR at 0xa0,
     * FPCR/FPSR at 0xb0, q0-q31 at 0xc0. */
    .section .text.irq, "ax"
__realm_sdk_irq_entry:
    sub     sp, sp, #0x2c0
    stp     x0, x1, [sp, #0x00]
    stp     x2, x3, [sp, #0x10]
    stp     x4, x5, [sp, #0x20]
    stp     x6, x7, [sp, #0x30]
    stp     x8, x9, [sp, #0x40]
    stp     x10, x11, [sp, #0x50]
    stp     x12, x13, [sp, #0x60]
    stp     x14, x15, [sp, #0x70]
    stp     x16, x17, [sp, #0x80]
    stp     x18, x30, [sp, #0x90]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x0, x1, [sp, #0xa0]
    mrs     x0, fpcr
    mrs     x1, fpsr
    stp     x0, x1, [sp, #0xb0]
    add     x0, sp, #0xc0
    stp     q0, q1, [x0, #0x000]
    stp     q2, q3, [x0, #0x020]
    stp     q4, q5, [x0, #0x040]
    stp     q6, q7, [x0, #0x060]
    stp     q8, q9, [x0, #0x080]
    stp     q10, q11, [x0, #0x0a0]
    stp     q12, q13, [x0, #0x0c0]
    stp     q14, q15, [x0, #0x0e0]
    stp     q16, q17, [x0, #0x100]
    stp     q18, q19, [x0, #0x120]
    stp     q20, q21, [x0, #0x140]
    stp     q22, q23, [x0, #0x160]
    stp     q24, q25, [x0, #0x180]
    stp     q26, q27, [x0, #0x1a0]
    stp     q28, q29, [x0, #0x1c0]
    stp     q30, q31, [x0, #0x1e0]
    bl      __realm_sdk_irq
    add     x0, sp, #0xc0
    ldp     q0, q1, [x0, #0x000]
    ldp     q2, q3, [x0, #0x020]
    ldp     q4, q5, [x0, #0x040]
    ldp     q6, q7, [x0, #0x060]
    ldp     q8, q9, [x0, #0x080]
    ldp     q10, q11, [x0, #0x0a0]
    ldp     q12, q13, [x0, #0x0c0]
    ldp     q14, q15, [x0, #0x0e0]
    ldp     q16, q17, [x0, #0x100]
    ldp     q18, q19, [x0, #0x120]
    ldp     q20, q21, [x0, #0x140]
    ldp     q22, q23, [x0, #0x160]
    ldp     q24, q25, [x0, #0x180]
    ldp     q26, q27, [x0, #0x1a0]
    ldp     q28, q29, [x0, #0x1c0]
    ldp     q30, q31, [x0, #0x1e0]
    ldp     x0, x1, [sp, #0xb0]
    msr     fpcr, x0
    msr     fpsr, x1
    ldp     x0, x1, [sp, #0xa0]
    msr     elr_el1, x0
    msr     spsr_el1, x1
    ldp     x18, x30, [sp, #0x90]
    ldp     x16, x17, [sp, #0x80]
    ldp     x14, x15, [sp, #0x70]
    ldp     x12, x13, [sp, #0x60]
    ldp     x10, x11, [sp, #0x50]
    ldp     x8, x9, [sp, #0x40]
    ldp     x6, x7, [sp, #0x30]
    ldp     x4, x5, [sp, #0x20]
    ldp     x2, x3, [sp, #0x10]
    ldp     x0, x1, [sp, #0x00]
    add     sp, sp, #0x2c0
    eret
"#,
    slots_bytes = const smp::SLOTS_BYTES,
    slot_size = const smp::SLOT_SIZE,
    off_magic = const smp::OFF_MAGIC,
    off_mair = const smp::OFF_MAIR,
    off_tcr = const smp::OFF_TCR,
    off_ttbr0 = const smp::OFF_TTBR0,
    off_sctlr = const smp::OFF_SCTLR,
    off_stack_top = const smp::OFF_STACK_TOP,
    off_cpu = const smp::OFF_CPU,
    magic = const smp::MAGIC,
);
