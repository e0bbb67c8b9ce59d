//! Randomness from the CPU: `RNDR` (FEAT_RNG, Arm ARM D23.2.150 `RNDR`), for ephemeral keys
//! and nonces.

use core::arch::asm;

use crate::broker::{BrokerError, Entropy};

/// The `RNDR` register: 64 random bits per read from the CPU's generator, reseeded as the
/// architecture requires. A realm's RMM may not hide it (TF-RMM does not trap it), but the
/// CPU may lack it: [`Rndr::new`] checks `ID_AA64ISAR0_EL1.RNDR`.
#[derive(Clone, Copy, Debug)]
pub struct Rndr(());

impl Rndr {
    /// The generator, if the CPU implements FEAT_RNG.
    #[must_use]
    pub fn new() -> Option<Self> {
        let isar0: u64;
        // SAFETY: reading an ID register has no side effects; it is readable at EL1.
        unsafe { asm!("mrs {}, id_aa64isar0_el1", out(reg) isar0, options(nomem, nostack)) };
        (isar0 >> 60 != 0).then_some(Self(()))
    }

    /// 64 random bits, or `None` if the generator could not produce them in reasonable
    /// time (it reports that with `NZCV.Z`; the read is retried a few times).
    #[must_use]
    pub fn next_u64(&self) -> Option<u64> {
        for _ in 0..16 {
            let (value, failed): (u64, u64);
            // SAFETY: `Rndr` exists only if FEAT_RNG is implemented, so `RNDR`
            // (s3_3_c2_c4_0) is readable; the read sets NZCV, which `cset` consumes.
            unsafe {
                asm!(
                    "mrs {v}, s3_3_c2_c4_0",
                    "cset {f}, eq",
                    v = out(reg) value,
                    f = out(reg) failed,
                    options(nomem, nostack),
                );
            }
            if failed == 0 {
                return Some(value);
            }
        }
        None
    }
}

impl Entropy for Rndr {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError> {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().ok_or(BrokerError::Entropy)?;
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}
