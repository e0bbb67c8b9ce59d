//! SMC Calling Convention (Arm DEN0028) plumbing shared by RSI, RMI and PSCI.

/// PSCI function ids and error codes (Arm DEN0022), from the `smccc` crate, so that the
/// realm, the hosts and the model name the same constants.
pub use smccc::psci;

/// The registers of one SMC64 call, `x0` to `x17` (SMCCC 1.2 and later).
///
/// On entry `regs[0]` holds the function id and `regs[1..]` the arguments; on return
/// `regs[0]` holds the status and `regs[1..]` the results.
pub type Regs = [u64; 18];

/// The way calls reach the firmware.
///
/// The real conduit is [`Smc`]; tests plug in the software RMM model or a fake, which is how
/// the same realm code runs on the host and under the RMM.
pub trait Conduit {
    /// Makes one SMC64 call with `regs` in `x0..x17` and returns the registers the callee left.
    fn call(&mut self, regs: Regs) -> Regs;
}

impl<C: Conduit + ?Sized> Conduit for &mut C {
    fn call(&mut self, regs: Regs) -> Regs {
        (**self).call(regs)
    }
}

/// The `SMC #0` instruction: how a realm reaches the RMM and a host reaches EL3 and the RMM.
///
/// The RMM reads and writes realm memory during a call (for example `RSI_REALM_CONFIG`), so
/// the call must not be treated as pure by the compiler; `smccc::smc64` issues the
/// instruction without the `nomem` option, which is what makes that sound.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Smc;

#[cfg(target_arch = "aarch64")]
impl Conduit for Smc {
    fn call(&mut self, regs: Regs) -> Regs {
        let mut args = [0u64; 17];
        args.copy_from_slice(&regs[1..]);
        // Function ids are 32-bit (SMCCC 1.4 section 2.5); the upper half of x0 is ignored.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "SMCCC function ids are 32 bits"
        )]
        smccc::smc64(regs[0] as u32, args)
    }
}

/// `SMC_UNKNOWN`: the status of a function id the callee does not implement (SMCCC 1.4 §5.1).
pub const SMCCC_NOT_SUPPORTED: u64 = u64::MAX;

/// `SMCCC_VERSION` function id.
pub const SMCCC_VERSION: u32 = 0x8000_0000;

/// Builds a register file with the function id in `x0` and `args` in `x1` onwards.
#[must_use]
pub fn regs(fid: u32, args: &[u64]) -> Regs {
    let mut r = [0u64; 18];
    r[0] = u64::from(fid);
    let n = args.len().min(17);
    r[1..=n].copy_from_slice(&args[..n]);
    r
}

/// Packs `bytes` (at most 8 per register, little-endian) into consecutive registers.
///
/// This is how RSI passes byte strings in registers: byte `k` is byte `k % 8` of register
/// `k / 8` (DEN0137 `RSI_MEASUREMENT_EXTEND`, `RSI_ATTESTATION_TOKEN_INIT`).
pub fn pack_bytes(bytes: &[u8], out: &mut [u64]) {
    for (reg, chunk) in out.iter_mut().zip(bytes.chunks(8)) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        *reg = u64::from_le_bytes(word);
    }
}

/// The inverse of [`pack_bytes`]: fills `out` from consecutive little-endian registers.
pub fn unpack_bytes(regs: &[u64], out: &mut [u8]) {
    for (chunk, reg) in out.chunks_mut(8).zip(regs) {
        let n = chunk.len();
        chunk.copy_from_slice(&reg.to_le_bytes()[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_round_trip() {
        let bytes: [u8; 64] = core::array::from_fn(|i| i as u8);
        let mut r = [0u64; 8];
        pack_bytes(&bytes, &mut r);
        assert_eq!(r[0], 0x0706_0504_0302_0100);
        assert_eq!(r[7], 0x3f3e_3d3c_3b3a_3938);
        let mut back = [0u8; 64];
        unpack_bytes(&r, &mut back);
        assert_eq!(back, bytes);
    }

    #[test]
    fn pack_partial_register_is_zero_padded() {
        let mut r = [u64::MAX; 2];
        pack_bytes(&[0xaa; 9], &mut r);
        assert_eq!(r, [0xaaaa_aaaa_aaaa_aaaa, 0xaa]);
    }

    #[test]
    fn regs_places_fid_and_args() {
        let r = regs(0xC400_0190, &[1, 2]);
        assert_eq!(&r[..4], &[0xC400_0190, 1, 2, 0]);
    }
}
