//! A simulation of Islet's vendor call `RSI_ISLET_REALM_SEALING_KEY` (0xC7000191), so that
//! realm-sdk's Islet provider runs against the model.
//!
//! The register interface is Islet's (its documentation, `docs/.../sealing.md`, and its RMM,
//! `rmm/src/rsi/sealing.rs`): `x1` flags (bit 0 input key VHUK_M instead of VHUK_A, bit 1
//! mix in the RIM and hash algorithm, bit 2 the realm ID from the realm's metadata, bit 3
//! the SVN in `x2`; bits 4..63 reserved), `x2` SVN; `x0` status, `x1..x4` the 256-bit key.
//! The derivation is **not** Islet's: Islet's RMM derives from virtual hardware unique keys
//! the platform's security processor provides; this model uses two public constants. Keys
//! from here protect nothing.

use cca_abi::rsi::RsiStatus;
use cca_abi::smccc::Regs;
use hkdf::Hkdf;
use sha2::Sha256;

use crate::RealmConfig;

/// The function id.
pub const ISLET_REALM_SEALING_KEY: u64 = 0xC700_0191;

/// The model's stand-in for VHUK_A (public: insecure).
const VHUK_A: [u8; 32] = [0xa5; 32];
/// The model's stand-in for VHUK_M (public: insecure).
const VHUK_M: [u8; 32] = [0x5a; 32];
/// HKDF salt of the model's derivation.
const SALT: &[u8] = b"rmm-model INSECURE Islet sealing simulation";

/// What the simulated Islet knows of the realm beyond its configuration: the SVN from the
/// realm's metadata (Islet's `RmiIsletRealmMetadata`; the model has no realm ID or public
/// key, so those inputs are zeros, as in Islet for a realm without metadata).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct IsletSealing {
    /// The realm's SVN; a request may name this one or an older one.
    pub svn: u64,
}

/// Answers the call in `regs` for a realm of `config`.
pub(crate) fn sealing_key(sim: IsletSealing, config: &RealmConfig, regs: &mut Regs) {
    let (flags, svn) = (regs[1], regs[2]);
    if flags >> 4 != 0 || (flags & 1 << 3 != 0 && (svn == 0 || svn > sim.svn)) {
        regs[0] = RsiStatus::ErrorInput.to_raw();
        return;
    }
    let mut info = [0u8; 8 + 64 + 64 + 1 + 32 + 8];
    info[..8].copy_from_slice(&flags.to_le_bytes());
    info[8..72].copy_from_slice(&config.rpv);
    if flags & 1 << 1 != 0 {
        let rim = config.rim.as_bytes();
        info[72..72 + rim.len()].copy_from_slice(rim);
        info[136] = config.hash_algorithm.encoding();
    }
    if flags & 1 << 3 != 0 {
        info[169..].copy_from_slice(&svn.to_le_bytes());
    }
    let ikm = if flags & 1 != 0 { &VHUK_M } else { &VHUK_A };
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(SALT), ikm)
        .expand(&info, &mut key)
        .expect("32 bytes is a valid HKDF-SHA-256 length");
    regs[0] = RsiStatus::Success.to_raw();
    for (reg, word) in regs[1..5].iter_mut().zip(key.chunks_exact(8)) {
        *reg = u64::from_le_bytes(word.try_into().expect("8 bytes"));
    }
}
