//! The console: `embedded_io::Write` over `RSI_HOST_CALL` or a PL011 UART at the
//! unprotected alias of the board's UART address.
//!
//! The host-call console follows this project's convention
//! ([`cca_abi::hostcall::CONSOLE_WRITE`]) and works under any host that implements it (the
//! EL2 harness, rmi-shim's host). The PL011 console writes to the UART the host emulates
//! at the unprotected alias of `__realm_pl011_ipa` (set by the board's linker file).

use core::fmt;
use core::ptr::NonNull;

use arm_pl011_uart::{PL011Registers, Uart};
use cca_abi::hostcall::{CONSOLE_WRITE, CONSOLE_WRITE_MAX};
use cca_abi::rsi::{HOST_CALL_GPRS, RsiHostCall};
use cca_abi::smccc::{Smc, pack_bytes};
use embedded_io::{ErrorKind, ErrorType, Write};
use safe_mmio::UniqueMmioPointer;
use spin::Mutex;

use crate::rsi::{self, RsiError};
use crate::{Ipa, Realm};

/// Why console output failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ConsoleError {
    /// `RSI_HOST_CALL` failed.
    HostCall(RsiError),
    /// The PL011 reported an error.
    Uart,
    /// The host accepted none of the bytes.
    Refused,
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HostCall(e) => write!(f, "console host call failed: {e}"),
            Self::Uart => f.write_str("PL011 error"),
            Self::Refused => f.write_str("the host took no console output"),
        }
    }
}

impl core::error::Error for ConsoleError {}

impl embedded_io::Error for ConsoleError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// Console output through `RSI_HOST_CALL`, line-buffered: bytes collect until a newline,
/// a full buffer (240 bytes, one host call) or `flush`, so a line costs one REC exit.
pub struct HostCallConsole {
    call: RsiHostCall,
    buf: [u8; CONSOLE_WRITE_MAX],
    len: usize,
}

impl HostCallConsole {
    /// A console with its own host-call structure.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            call: RsiHostCall {
                imm: CONSOLE_WRITE,
                reserved_02: [0; 6],
                gprs: [0; HOST_CALL_GPRS],
            },
            buf: [0; CONSOLE_WRITE_MAX],
            len: 0,
        }
    }

    /// Hands the buffered bytes to the host, as many host calls as it takes.
    fn send(&mut self) -> Result<(), ConsoleError> {
        let mut sent = 0;
        while sent < self.len {
            let n = self.len - sent;
            self.call.imm = CONSOLE_WRITE;
            self.call.gprs = [0; HOST_CALL_GPRS];
            self.call.gprs[0] = n as u64;
            pack_bytes(&self.buf[sent..self.len], &mut self.call.gprs[1..]);
            let result = rsi::host_call(&mut Smc, &mut self.call);
            // The host says how much it took; never more than offered.
            #[allow(clippy::cast_possible_truncation, reason = "clamped to n")]
            let taken = (self.call.gprs[0] as usize).min(n);
            if let Err(e) = result {
                self.len = 0;
                return Err(ConsoleError::HostCall(e));
            }
            if taken == 0 {
                self.len = 0;
                return Err(ConsoleError::Refused);
            }
            sent += taken;
        }
        self.len = 0;
        Ok(())
    }
}

impl Default for HostCallConsole {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorType for HostCallConsole {
    type Error = ConsoleError;
}

impl Write for HostCallConsole {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ConsoleError> {
        let n = buf.len().min(CONSOLE_WRITE_MAX - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&buf[..n]);
        self.len += n;
        if self.len == CONSOLE_WRITE_MAX || buf[..n].contains(&b'\n') {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ConsoleError> {
        self.send()
    }
}

/// The console in use.
#[allow(
    clippy::large_enum_variant,
    reason = "one static instance; no heap in the console"
)]
pub enum Console {
    /// Output through host calls.
    HostCall(HostCallConsole),
    /// Output through a PL011 at the unprotected alias.
    Pl011(Uart<'static>),
}

impl ErrorType for Console {
    type Error = ConsoleError;
}

impl Write for Console {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ConsoleError> {
        match self {
            Self::HostCall(c) => c.write(buf),
            Self::Pl011(u) => u.write(buf).map_err(|_| ConsoleError::Uart),
        }
    }

    fn flush(&mut self) -> Result<(), ConsoleError> {
        match self {
            Self::HostCall(c) => c.flush(),
            Self::Pl011(u) => u.flush().map_err(|_| ConsoleError::Uart),
        }
    }
}

impl Console {
    /// A short name of the console: `"host call"` or `"pl011"`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::HostCall(_) => "host call",
            Self::Pl011(_) => "pl011",
        }
    }
}

/// The console `print!` and `println!` write to.
pub static CONSOLE: Mutex<Console> = Mutex::new(Console::HostCall(HostCallConsole::new()));

unsafe extern "C" {
    /// IPA of the board's PL011 (protected alias), from the board's linker file.
    static __realm_pl011_ipa: u8;
}

/// Switches the console to the PL011 at the unprotected alias of the board's UART.
///
/// Keeps the host-call console if the runtime's map does not reach the unprotected half
/// (an IPA width over 48 bits, see [`super::mmu::alias_mapped`]).
pub fn use_pl011(realm: &Realm<Smc>) {
    if !super::mmu::alias_mapped() {
        return;
    }
    let ipa = realm.unprotected_alias(Ipa((&raw const __realm_pl011_ipa).addr() as u64));
    #[allow(
        clippy::cast_possible_truncation,
        reason = "IPAs fit in usize on aarch64"
    )]
    let Some(regs) = NonNull::new(ipa.0 as usize as *mut PL011Registers) else {
        return;
    };
    // SAFETY: the board's linker file names the UART the host emulates; the runtime's identity
    // map makes the unprotected alias of its IPA Device memory, and only this console
    // accesses it.
    let uart = Uart::new(unsafe { UniqueMmioPointer::new(regs) });
    *CONSOLE.lock() = Console::Pl011(uart);
}

/// Writes formatted text to the console; used by `print!` and `println!`. Errors are
/// dropped: there is nowhere to report them.
pub fn _print(args: fmt::Arguments<'_>) {
    let mut console = CONSOLE.lock();
    let _ = console.write_fmt(args);
    let _ = console.flush();
}

/// Prints even while the console is locked (from a panic or an exception taken while
/// printing), through a fresh host-call console. Before the MMU is on it does not touch the
/// lock at all (an exclusive access on Device memory is UNPREDICTABLE) and always uses a
/// fresh host-call console.
pub fn emergency_print(args: fmt::Arguments<'_>) {
    let console = if super::mmu::is_enabled() {
        CONSOLE.try_lock()
    } else {
        None
    };
    match console {
        Some(mut console) => {
            let _ = console.write_fmt(args);
            let _ = console.flush();
        }
        None => {
            let mut console = HostCallConsole::new();
            let _ = console.write_fmt(args);
            let _ = console.flush();
        }
    }
}

/// Prints to the realm console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::rt::console::_print(format_args!($($arg)*)) };
}

/// Prints a line to the realm console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::rt::console::_print(format_args!("{}\n", format_args!($($arg)*))) };
}
