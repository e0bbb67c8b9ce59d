//! The harness's UART (QEMU virt PL011 at its physical address, MMU off).

use core::fmt;
use core::ptr::NonNull;

use arm_pl011_uart::{PL011Registers, Uart};
use embedded_io::Write;
use safe_mmio::UniqueMmioPointer;
use spin::Mutex;

use el2_harness::layout::UART_PA;

static UART: Mutex<Option<Uart<'static>>> = Mutex::new(None);

/// Takes the UART; call once at start.
pub fn init() {
    let regs = NonNull::new(UART_PA as usize as *mut PL011Registers).expect("UART address");
    // SAFETY: QEMU virt has a PL011 at UART_PA; with the MMU off it is reached at that
    // address, and only this module touches it (the realm's alias maps the same device, but
    // the realm only runs while the harness is not printing).
    let uart = Uart::new(unsafe { UniqueMmioPointer::new(regs) });
    *UART.lock() = Some(uart);
}

/// Writes raw bytes (the realm's console output).
pub fn write_bytes(bytes: &[u8]) {
    if let Some(uart) = UART.lock().as_mut() {
        let _ = uart.write_all(bytes);
    }
}

/// Writes formatted text.
pub fn print(args: fmt::Arguments<'_>) {
    if let Some(uart) = UART.lock().as_mut() {
        let _ = uart.write_fmt(args);
    }
}

/// Prints a line prefixed with `el2-harness: `.
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("el2-harness: {}\n", format_args!($($arg)*)))
    };
}
pub(crate) use log;
