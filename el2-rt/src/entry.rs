//! `_start`, the default EL2 vectors, and the fault and panic handlers.

use aarch64_cpu::registers::{ELR_EL2, ESR_EL2, FAR_EL2, Readable};

use crate::{console, power_off};

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    adrp    x9, __stack_top
    add     x9, x9, :lo12:__stack_top
    mov     sp, x9
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
0:  cmp     x9, x10
    b.hs    1f
    stp     xzr, xzr, [x9], #16
    b       0b
1:  adrp    x9, __el2_rt_vectors
    add     x9, x9, :lo12:__el2_rt_vectors
    msr     vbar_el2, x9
    /* CPTR_EL2 (E2H = 0): RES1 bits, TZ = 0, TFP = 0: FP/SIMD and SVE are not trapped. */
    mov     x9, #0x32ff
    msr     cptr_el2, x9
    isb
    bl      __el2_rt_start
2:  wfi
    b       2b

    /* Secondary CPUs (smp.rs), started by PSCI CPU_ON: x0 = its smp::Start, whose first word
     * is the top of this CPU's stack. */
    .section .text, "ax"
    .global __el2_rt_secondary
__el2_rt_secondary:
    ldr     x9, [x0]
    mov     sp, x9
    adrp    x9, __el2_rt_vectors
    add     x9, x9, :lo12:__el2_rt_vectors
    msr     vbar_el2, x9
    mov     x9, #0x32ff
    msr     cptr_el2, x9
    isb
    bl      __el2_rt_secondary_start
3:  wfi
    b       3b

    /* Every exception is a fault of the program: report it and power off. */
    .section .text.el2_rt_vectors, "ax"
    .balign 0x800
__el2_rt_vectors:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mov     x0, #\n
    b       __el2_rt_fault
    .endr
"#
);

unsafe extern "C" {
    fn __el2_rt_main() -> !;
}

#[unsafe(no_mangle)]
extern "C" fn __el2_rt_start() -> ! {
    crate::heap::init();
    console::init();
    // SAFETY: `__el2_rt_main` is defined by `entry!`, which checks its signature.
    unsafe { __el2_rt_main() }
}

/// Reports an exception taken at EL2 (vector `vector`, offset / 0x80) and powers off.
#[unsafe(no_mangle)]
pub extern "C" fn __el2_rt_fault(vector: u64) -> ! {
    console::print(format_args!(
        "el2: fault: vector {vector}, ESR {:#x}, ELR {:#x}, FAR {:#x}\n",
        ESR_EL2.get(),
        ELR_EL2.get(),
        FAR_EL2.get()
    ));
    power_off();
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::print(format_args!("el2: panic: {info}\n"));
    power_off();
}
