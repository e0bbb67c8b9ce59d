//! `_start` and the exception vector table: the only assembly of the runtime.

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
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x3, x22
    bl      __realm_sdk_start
2:  wfi
    b       2b

    /* 16 vectors of 0x80 bytes: each switches to the exception stack (every exception is
     * fatal, and the main stack may be what overflowed into its guard page) and passes its
     * number to the Rust handler. */
    .section .text.vectors, "ax"
    .balign 0x800
    .global __realm_sdk_vectors
__realm_sdk_vectors:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    adrp    x9, __exception_stack_top
    add     x9, x9, :lo12:__exception_stack_top
    mov     sp, x9
    mov     x0, #\n
    b       __realm_sdk_exception
    .endr
"#
);
