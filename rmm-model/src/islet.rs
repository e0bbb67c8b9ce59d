//! A **simulation** of Islet's vendor call `RSI_ISLET_REALM_SEALING_KEY` (0xC7000191), so
//! that realm-sdk's Islet provider runs against the model. It is not Islet's derivation, and
//! its keys protect nothing.
//!
//! The register interface is Islet's (islet-project/islet `doc/components/sealing.md`,
//! "RSI_ISLET_REALM_SEALING_KEY command"; Islet's RMM `rmm/src/rsi/sealing.rs`): `x1` =
//! `RsiIsletSealingFlags` (bit 0 input key VHUK_M instead of VHUK_A, bit 1 mix in the RIM
//! and hash algorithm, bit 2 the realm ID from the realm's metadata, bit 3 the SVN in `x2`;
//! bits 4 to 63 reserved), `x2` = SVN; out `x0` = status, `x1..x4` = the key's doublewords
//! 0 to 3 (little-endian bytes).
//!
//! What the simulation does:
//!
//! - It plays a realm the host provisioned with Islet realm metadata whose SVN is
//!   [`IsletSealing::svn`] and whose realm ID and public key are all zeros. (Islet mixes the
//!   RIM in regardless of the flag for a realm without metadata; with metadata, as here, the
//!   RIM flag decides.)
//! - `RSI_ERROR_INPUT` for the SVN flag with an SVN of 0 or above the metadata's: failure
//!   condition `svn_valid` of Islet's documentation. (Islet's RMM source checks only "above".)
//! - `RSI_ERROR_INPUT` for a reserved flag bit. Islet documents no such failure condition and
//!   its RMM mixes the flags in as given; the model refuses them so that nothing comes to
//!   depend on them.
//! - The key: HKDF-SHA-256 with salt [`SALT`], input key material the model's public stand-in
//!   for VHUK_A or VHUK_M, and info `flags (8, LE) ‖ RPV (64) ‖ RIM slot (64) ‖ hash
//!   algorithm (1) ‖ realm ID (32) ‖ SVN (8, LE)`, zeros for what the flags leave out. Islet
//!   derives with HKDF-SHA-256 too, but from VHUKs that the platform's security processor
//!   derives from its hardware unique key, with its own salt and info layout (which also holds
//!   the metadata's public key); none of that is reproduced here.
//!
//! Without [`crate::RealmModel::simulate_islet_sealing`] the model answers the call
//! `SMCCC_NOT_SUPPORTED`, as TF-RMM does.

use cca_abi::measurement::MAX_MEASUREMENT_SIZE;
use cca_abi::rsi::{RPV_SIZE, RsiStatus};
use cca_abi::smccc::{Regs, pack_bytes};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::RealmConfig;

/// Function id of `RSI_ISLET_REALM_SEALING_KEY` (Islet's vendor-specific RSI range).
pub const ISLET_REALM_SEALING_KEY: u64 = 0xC700_0191;

/// Flag bit 0: VHUK_M instead of VHUK_A.
const USE_VHUK_M: u64 = 1 << 0;
/// Flag bit 1: mix in the RIM and hash algorithm.
const SLK_RIM: u64 = 1 << 1;
/// Flag bit 3: mix in the SVN in `x2`. (Bit 2, the realm ID, mixes in zeros here.)
const SLK_SVN: u64 = 1 << 3;
/// Flag bits 4 to 63.
const RESERVED: u64 = !0xf;

/// The model's stand-in for VHUK_A. **Public, so insecure.**
pub const INSECURE_VHUK_A: [u8; 32] = [0xa5; 32];
/// The model's stand-in for VHUK_M. **Public, so insecure.**
pub const INSECURE_VHUK_M: [u8; 32] = [0x5a; 32];
/// HKDF salt of the model's derivation.
pub const SALT: &[u8] = b"rmm-model INSECURE Islet sealing simulation";

/// Bytes of the realm ID in the info (zeros in the model).
const REALM_ID_SIZE: usize = 32;
/// Offsets in the info.
const RPV_AT: usize = 8;
const RIM_AT: usize = RPV_AT + RPV_SIZE;
const HASH_AT: usize = RIM_AT + MAX_MEASUREMENT_SIZE;
const SVN_AT: usize = HASH_AT + 1 + REALM_ID_SIZE;
const INFO_SIZE: usize = SVN_AT + 8;

/// What the simulated Islet knows of the realm beyond its configuration: the realm
/// metadata the host provisioned (Islet's `RmiIsletRealmMetadata`), of which the model keeps
/// only the SVN.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct IsletSealing {
    /// The metadata's SVN; a request may name it or an older one (1 or more).
    pub svn: u64,
}

impl Default for IsletSealing {
    /// SVN 1.
    fn default() -> Self {
        Self { svn: 1 }
    }
}

/// Answers the call in `regs` for a realm of `config`.
pub(crate) fn sealing_key(sim: IsletSealing, config: &RealmConfig, regs: &mut Regs) {
    let (flags, svn) = (regs[1], regs[2]);
    let with_svn = flags & SLK_SVN != 0;
    if flags & RESERVED != 0 || (with_svn && (svn == 0 || svn > sim.svn)) {
        regs[0] = RsiStatus::ErrorInput.to_raw();
        return;
    }
    let mut info = [0u8; INFO_SIZE];
    info[..RPV_AT].copy_from_slice(&flags.to_le_bytes());
    info[RPV_AT..RIM_AT].copy_from_slice(&config.rpv);
    if flags & SLK_RIM != 0 {
        info[RIM_AT..HASH_AT].copy_from_slice(&config.rim.slot());
        info[HASH_AT] = config.hash_algorithm.encoding();
    }
    if with_svn {
        info[SVN_AT..].copy_from_slice(&svn.to_le_bytes());
    }
    let ikm = if flags & USE_VHUK_M != 0 {
        &INSECURE_VHUK_M
    } else {
        &INSECURE_VHUK_A
    };
    let mut key = [0u8; 32];
    if Hkdf::<Sha256>::new(Some(SALT), ikm)
        .expand(&info, &mut key)
        .is_err()
    {
        // Unreachable: 32 bytes are far below HKDF-SHA-256's output limit.
        regs[0] = RsiStatus::ErrorUnknown.to_raw();
        return;
    }
    regs[0] = RsiStatus::Success.to_raw();
    pack_bytes(&key, &mut regs[1..5]);
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use cca_abi::measurement::HashAlgorithm;

    use super::*;

    fn call(sim: IsletSealing, config: &RealmConfig, flags: u64, svn: u64) -> Regs {
        let mut regs = [0; 18];
        regs[0] = ISLET_REALM_SEALING_KEY;
        regs[1] = flags;
        regs[2] = svn;
        sealing_key(sim, config, &mut regs);
        regs
    }

    /// sealing.md failure condition `svn_valid`, and the model's refusal of reserved bits.
    #[test]
    fn refusals() {
        let c = RealmConfig::default();
        let sim = IsletSealing { svn: 2 };
        for (flags, svn, ok) in [
            (SLK_SVN, 0, false),
            (SLK_SVN, 1, true),
            (SLK_SVN, 2, true),
            (SLK_SVN, 3, false),
            (0, 3, true),
            (1 << 4, 0, false),
            (1 << 63, 0, false),
        ] {
            let r = call(sim, &c, flags, svn);
            assert_eq!(r[0] == 0, ok, "flags {flags:#x} svn {svn}");
            if !ok {
                assert_eq!(r[0], RsiStatus::ErrorInput.to_raw());
            }
        }
    }

    /// What each flag mixes in: `x2` counts only with the SVN flag, the RIM only with the
    /// RIM flag, the RPV always, and each flag changes the key.
    #[test]
    fn inputs() {
        let sim = IsletSealing { svn: 5 };
        let a = RealmConfig::default();
        let b = RealmConfig {
            rim: HashAlgorithm::Sha256.hash(&[b"other image"]),
            ..RealmConfig::default()
        };
        let c = RealmConfig {
            rpv: [1; RPV_SIZE],
            ..RealmConfig::default()
        };
        let key = |config, flags, svn| call(sim, config, flags, svn)[1..5].to_vec();
        assert_eq!(key(&a, 0, 0), key(&a, 0, 4));
        assert_ne!(key(&a, SLK_SVN, 3), key(&a, SLK_SVN, 4));
        assert_eq!(key(&a, 0, 0), key(&b, 0, 0));
        assert_ne!(key(&a, SLK_RIM, 0), key(&b, SLK_RIM, 0));
        assert_ne!(key(&a, 0, 0), key(&c, 0, 0));
        let all: Vec<_> = (0..16).map(|f| key(&a, f, 1)).collect();
        for (i, k) in all.iter().enumerate() {
            assert!(all[..i].iter().all(|o| o != k), "flags {i:#x}");
        }
    }
}
