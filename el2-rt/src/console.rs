//! The console: the QEMU `virt` PL011 at its physical address (the MMU is off).

use core::fmt;
use core::ptr::NonNull;

use arm_pl011_uart::{DataBits, LineConfig, PL011Registers, Parity, StopBits, Uart};
use embedded_io::Write;
use safe_mmio::UniqueMmioPointer;
use spin::Mutex;

use cca_abi::hostcall::{relay, status};

use crate::UART_PA;

static UART: Mutex<Option<Uart<'static>>> = Mutex::new(None);

/// Takes the UART; the runtime calls it once at start.
pub(crate) fn init() {
    let regs = NonNull::new(UART_PA as usize as *mut PL011Registers).expect("UART address");
    // SAFETY: QEMU virt has a PL011 at UART_PA; with the MMU off it is reached at that
    // address, and only this module touches it from EL2 (a realm the program runs may reach
    // the same device, but only while the program is not printing).
    let mut uart = Uart::new(unsafe { UniqueMmioPointer::new(regs) });
    // Receiving needs UARTEN and RXE (QEMU's PL011 drops input otherwise). The firmware
    // before us may have configured the UART; 115200 8N1 on QEMU's 24 MHz clock is what TF-A
    // sets too.
    let config = LineConfig {
        data_bits: DataBits::Bits8,
        parity: Parity::None,
        stop_bits: StopBits::One,
    };
    let _ = uart.enable(config, 115_200, 24_000_000);
    *UART.lock() = Some(uart);
}

/// Writes raw bytes.
pub fn write_bytes(bytes: &[u8]) {
    if let Some(uart) = UART.lock().as_mut() {
        let _ = uart.write_all(bytes);
    }
}

/// Reads one byte from the UART, waiting until one arrives. Receive errors (overrun,
/// framing, parity, break) drop the byte and the wait goes on.
pub fn read_byte() -> u8 {
    loop {
        if let Some(uart) = UART.lock().as_mut()
            && let Ok(Some(byte)) = uart.read_word()
        {
            return byte;
        }
        core::hint::spin_loop();
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

/// Relays a realm's service call over the console to the process on the other end of the
/// serial port (`cca_abi::hostcall::relay`): writes the request line for
/// `buffer[..request_len]`, then reads the answer line into `buffer` (the whole request is
/// sent before the first answer byte arrives). Returns the status and the answer's length;
/// an answer line that is not in the protocol's form, or too long for `buffer`, is skipped
/// and reported [`status::UNAVAILABLE`].
pub fn relay_service(service: u64, buffer: &mut [u8], request_len: usize) -> (u64, usize) {
    let request_len = request_len.min(buffer.len());
    relay::write_request(service, &buffer[..request_len], &mut |b: &[u8]| {
        write_bytes(b);
    });
    let mut decoder = relay::ReplyDecoder::new(buffer);
    loop {
        let byte = read_byte();
        match decoder.push(byte) {
            Ok(None) => {}
            Ok(Some(reply)) => return reply,
            Err(_) => {
                let mut b = byte;
                while b != b'\n' {
                    b = read_byte();
                }
                return (status::UNAVAILABLE, 0);
            }
        }
    }
}
