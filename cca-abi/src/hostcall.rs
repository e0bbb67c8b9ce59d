//! This project's conventions for `RSI_HOST_CALL`.
//!
//! The specification leaves the meaning of a host call to the realm and its host: it only
//! carries an immediate and 31 registers (DEN0137 1.0-rel0 B5.3.3, `RsiHostCall`). The values
//! here are **not** part of the specification; they are what realm-sdk payloads and the hosts
//! in this workspace (the EL2 harness and the rmi-shim host) agree on.

/// Immediate of a console write: the realm hands the host bytes to print.
///
/// Registers: `gprs[0]` = number of bytes `n` (1 to [`CONSOLE_WRITE_MAX`]), `gprs[1..]` =
/// the bytes, packed eight per register, little-endian ([`crate::smccc::pack_bytes`]). The
/// host returns `gprs[0]` = number of bytes it accepted (it may be fewer; the realm retries
/// with the rest).
pub const CONSOLE_WRITE: u16 = 0x0C01;

/// Most bytes one console write carries: 30 registers of 8 bytes.
pub const CONSOLE_WRITE_MAX: usize = 30 * 8;

/// Entry convention of realm-sdk's runtime: bit 0 of the REC's `x0` at entry selects the
/// PL011 console at the unprotected alias of the board's UART instead of host calls.
pub const ENTRY_CONSOLE_PL011: u64 = 1 << 0;
