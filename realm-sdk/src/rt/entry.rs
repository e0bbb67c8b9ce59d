//! `_start`, the secondary REC entry and the exception vector table: the only assembly of
//! the runtime.

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

    /* 16 vectors of 0x80 bytes: each switches to this CPU's exception stack (every exception
     * is fatal, and the main stack may be what overflowed into its guard page; the first word
     * of the CPU's block at TPIDR_EL1) and passes its number to the Rust handler. */
    .section .text.vectors, "ax"
    .balign 0x800
    .global __realm_sdk_vectors
__realm_sdk_vectors:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mrs     x9, tpidr_el1
    ldr     x9, [x9]
    mov     sp, x9
    mov     x0, #\n
    b       __realm_sdk_exception
    .endr
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
