//! The console (virtio 1.2 §5.3): port 0 only (no `VIRTIO_CONSOLE_F_MULTIPORT`), queue 0
//! receives (host to realm), queue 1 transmits (realm to host).

use crate::queue::Chain;
use crate::{DeviceError, Io};

/// `receiveq` of port 0 (§5.3.2).
pub(crate) const RECEIVEQ: u16 = 0;
/// `transmitq` of port 0.
pub(crate) const TRANSMITQ: u16 = 1;

/// Passes a transmit chain's device-readable bytes to the host's console, in pieces of at
/// most 256 bytes; nothing is written back.
pub(crate) fn transmit(chain: &Chain, io: &mut dyn Io) -> Result<u32, DeviceError> {
    let mut buf = [0u8; 256];
    let total = chain.readable_len();
    let mut at = 0u64;
    while at < total {
        let n = (total - at).min(buf.len() as u64) as usize;
        chain.read(io, at, &mut buf[..n])?;
        io.console(&buf[..n]);
        at += n as u64;
    }
    Ok(0)
}

/// Fills a receive chain's device-writable buffers from `input`; returns the bytes used.
pub(crate) fn receive(chain: &Chain, io: &mut dyn Io, input: &[u8]) -> Result<u32, DeviceError> {
    let n = (chain.writable_len().min(input.len() as u64)) as usize;
    chain.write(io, 0, &input[..n])?;
    // `n` is at most the writable length, a sum of at most 16 `u32`s, and the input's length.
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The configuration space (§5.3.4): `cols`, `rows`, `max_nr_ports`, `emerg_wr`, all zero
/// (their features are not offered).
pub(crate) fn config(_offset: u64) -> u8 {
    0
}
