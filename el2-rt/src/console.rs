//! The console: the QEMU `virt` PL011 at its physical address (the MMU is off).

use core::fmt;
use core::ptr::NonNull;

use arm_pl011_uart::{PL011Registers, Uart};
use embedded_io::Write;
use safe_mmio::UniqueMmioPointer;
use spin::Mutex;

use crate::UART_PA;

static UART: Mutex<Option<Uart<'static>>> = Mutex::new(None);

/// Takes the UART; the runtime calls it once at start.
pub(crate) fn init() {
    let regs = NonNull::new(UART_PA as usize as *mut PL011Registers).expect("UART address");
    // SAFETY: QEMU virt has a PL011 at UART_PA; with the MMU off it is reached at that
    // address, and only this module touches it from EL2 (a realm the program runs may reach
    // the same device, but only while the program is not printing).
    let uart = Uart::new(unsafe { UniqueMmioPointer::new(regs) });
    *UART.lock() = Some(uart);
}

/// Writes raw bytes.
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

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
