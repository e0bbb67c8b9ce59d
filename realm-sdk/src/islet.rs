//! Sealing keys from Islet's RMM (feature `islet`): the vendor call
//! `RSI_ISLET_REALM_SEALING_KEY` of Samsung's Islet project.
//!
//! Islet's RMM derives a realm sealing key with HKDF-SHA-256 from a virtual hardware unique
//! key (VHUK) that its platform security processor provides, and from the realm's identity:
//! always its RPV and the public key of its metadata, optionally its RIM, its realm ID and
//! an SVN (Islet documentation `sealing.md`, "RSI_ISLET_REALM_SEALING_KEY command"; Islet RMM
//! `rmm/src/rsi/sealing.rs`). Nobody outside the platform can compute such a key: it does
//! not need the network, but it needs Islet's RMM and firmware. The RMM specification has no
//! such call; TF-RMM answers it `SMCCC_NOT_SUPPORTED` ([`IsletError::NotSupported`]).
//!
//! Registers: `x0` = 0xC7000191, `x1` = [`SealingFlags`], `x2` = SVN (with the SVN flag;
//! it must not exceed the SVN in the realm's metadata); out `x0` = RSI status, `x1..x4` =
//! the key's doublewords 0 to 3, little-endian.

use core::fmt;

use zeroize::Zeroizing;

use crate::seal::{Policy, SealingKey, SealingKeyProvider, provider};
use crate::{Conduit, Realm};

/// Function id of `RSI_ISLET_REALM_SEALING_KEY` (Islet's vendor-specific RSI range
/// 0xC7000190 to 0xC70001AF).
pub const RSI_ISLET_REALM_SEALING_KEY: u64 = 0xC700_0191;

/// The input key material Islet derives from.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Ikm {
    /// VHUK_A, authority-based: stable across firmware updates from the same vendor.
    VhukA,
    /// VHUK_M, measurement-based: bound to the platform's firmware measurements.
    VhukM,
}

/// `RsiIsletSealingFlags` and the SVN: what Islet mixes into the key besides the RPV and the
/// metadata's public key.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SealingFlags {
    /// Bit 0: the input key.
    pub ikm: Ikm,
    /// Bit 1: the RIM and hash algorithm.
    pub rim: bool,
    /// Bit 2: the realm ID of the realm's metadata.
    pub realm_id: bool,
    /// Bit 3 and `x2`: this SVN (nonzero, at most the metadata's).
    pub svn: Option<u64>,
}

impl SealingFlags {
    /// The `x1` value.
    #[must_use]
    pub const fn to_raw(&self) -> u64 {
        (matches!(self.ikm, Ikm::VhukM) as u64)
            | (self.rim as u64) << 1
            | (self.realm_id as u64) << 2
            | (self.svn.is_some() as u64) << 3
    }

    /// From `x1` and `x2`; `None` if a reserved bit (4 to 63) is set.
    #[must_use]
    pub const fn from_raw(flags: u64, svn: u64) -> Option<Self> {
        if flags >> 4 != 0 {
            return None;
        }
        Some(Self {
            ikm: if flags & 1 != 0 {
                Ikm::VhukM
            } else {
                Ikm::VhukA
            },
            rim: flags & 1 << 1 != 0,
            realm_id: flags & 1 << 2 != 0,
            svn: if flags & 1 << 3 != 0 { Some(svn) } else { None },
        })
    }
}

/// Why Islet gave no key.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IsletError {
    /// The RMM does not implement the call: it is not Islet's.
    NotSupported,
    /// `RSI_ERROR_INPUT`: an SVN of 0 or above the realm's, or a reserved flag.
    Input,
    /// Another status.
    Unknown(u64),
    /// Islet cannot bind a key to this policy (it does not mix in REMs).
    PolicyUnsupported(Policy),
}

impl fmt::Display for IsletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSupported => f.write_str("the RMM has no Islet sealing-key call"),
            Self::Input => f.write_str("Islet refused the sealing flags or SVN"),
            Self::Unknown(s) => write!(f, "Islet sealing-key call failed with status {s:#x}"),
            Self::PolicyUnsupported(p) => write!(f, "Islet cannot bind a key to {p:?}"),
        }
    }
}

impl core::error::Error for IsletError {}

/// Asks Islet's RMM for the realm sealing key selected by `flags`.
///
/// # Errors
///
/// [`IsletError`].
pub fn sealing_key(
    conduit: &mut (impl Conduit + ?Sized),
    flags: SealingFlags,
) -> Result<SealingKey, IsletError> {
    let mut regs = [0u64; 18];
    regs[0] = RSI_ISLET_REALM_SEALING_KEY;
    regs[1] = flags.to_raw();
    regs[2] = flags.svn.unwrap_or(0);
    let mut out = Zeroizing::new(conduit.call(regs));
    match out[0] {
        0 => {}
        1 => return Err(IsletError::Input),
        cca_abi::smccc::SMCCC_NOT_SUPPORTED => return Err(IsletError::NotSupported),
        s => return Err(IsletError::Unknown(s)),
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (bytes, reg) in key.chunks_exact_mut(8).zip(&out[1..5]) {
        bytes.copy_from_slice(&reg.to_le_bytes());
    }
    out.fill(0);
    Ok(SealingKey::new(*key))
}

/// A [`SealingKeyProvider`] over Islet's call. [`Policy::RimRpv`] asks for the
/// measurement-bound key (VHUK_M, RIM mixed in; the RPV always is); [`Policy::RimRpvRems`]
/// is refused, since Islet does not mix in REMs.
pub struct IsletProvider<'r, C: Conduit> {
    realm: &'r mut Realm<C>,
    /// Also mix in the realm ID of the realm's metadata.
    pub realm_id: bool,
    /// Also mix in this SVN.
    pub svn: Option<u64>,
}

impl<'r, C: Conduit> IsletProvider<'r, C> {
    /// A provider for `realm`, with neither realm ID nor SVN.
    pub fn new(realm: &'r mut Realm<C>) -> Self {
        Self {
            realm,
            realm_id: false,
            svn: None,
        }
    }
}

impl<C: Conduit> SealingKeyProvider for IsletProvider<'_, C> {
    const PROVIDER: u8 = provider::ISLET;
    type Error = IsletError;

    fn sealing_key(&mut self, policy: Policy) -> Result<SealingKey, IsletError> {
        if policy != Policy::RimRpv {
            return Err(IsletError::PolicyUnsupported(policy));
        }
        let flags = SealingFlags {
            ikm: Ikm::VhukM,
            rim: true,
            realm_id: self.realm_id,
            svn: self.svn,
        };
        sealing_key(self.realm.conduit(), flags)
    }
}
