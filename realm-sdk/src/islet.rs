//! Sealing keys from Islet's RMM (feature `islet`): the vendor call
//! `RSI_ISLET_REALM_SEALING_KEY` of Samsung's Islet project.
//!
//! The RMM specification gives a realm no sealing key; Islet adds one as a vendor-specific
//! RSI call. Sources: islet-project/islet `doc/components/sealing.md` ("RSI_ISLET_REALM_SEALING_KEY
//! command", with `doc/components/vendor_specific_smcs.md` for the function id) and Islet's
//! RMM, `rmm/src/rsi/sealing.rs`. TF-RMM has no such call and answers
//! `SMCCC_NOT_SUPPORTED` ([`IsletError::NotSupported`]).
//!
//! # Registers
//!
//! | register | in | out |
//! |---|---|---|
//! | `x0` | [`RSI_ISLET_REALM_SEALING_KEY`] (0xC7000191) | RSI status |
//! | `x1` | `RsiIsletSealingFlags` ([`SealingFlags::to_raw`]) | key doubleword 0 |
//! | `x2` | SVN, read only with the SVN flag | key doubleword 1 |
//! | `x3` | | key doubleword 2 |
//! | `x4` | | key doubleword 3 |
//!
//! The 32-byte key is the little-endian bytes of `x1`, `x2`, `x3`, `x4` in that order.
//!
//! # Threat model
//!
//! Islet's RMM derives the key with HKDF-SHA-256 from a virtual hardware unique key (VHUK)
//! and the calling realm's identity: always its RPV and the public key of the realm metadata
//! the host provisioned (zeros without metadata), optionally its RIM and hash algorithm, its
//! realm ID and an SVN ([`SealingFlags`]). The VHUKs come from the platform's security
//! processor (Islet's HES), which derives them from the hardware unique key, the platform's
//! lifecycle state and its firmware (the signers for VHUK_A, the measurements for VHUK_M);
//! the RMM fetches them through TF-A at boot and never hands them out. So:
//!
//! - nobody outside the platform can compute a realm's key, not the host, not a verifier who
//!   knows the realm's RIM and RPV, not another machine running the same realm;
//! - another realm on the same platform gets another key: the RMM takes the identity from the
//!   caller's realm descriptor, not from the call's arguments;
//! - it needs Islet's RMM, Islet's TF-A (the `RMM_ISLET_GET_VHUK` service) and HES firmware,
//!   and trusts all three; a platform in a debug lifecycle state derives other keys;
//! - the key arrives in registers: this module copies it into a [`SealingKey`] and zeroizes
//!   the registers' copy. Islet recommends deriving working keys from it rather than using it
//!   directly, which is what [`crate::seal`] does (AES-GCM under the key, per blob nonce).
//!
//! realm-sdk has been tested against `rmm_model::islet`, a labelled simulation of this call
//! with public keys, not on Islet itself.

use core::fmt;

use cca_abi::rsi::RsiStatus;
use cca_abi::smccc::{Regs, unpack_bytes};
use zeroize::Zeroizing;

use crate::seal::{Policy, SealingKey, SealingKeyProvider, provider};
use crate::{Conduit, Realm};

/// Function id of `RSI_ISLET_REALM_SEALING_KEY`, in Islet's vendor-specific RSI range
/// 0xC7000190 to 0xC70001AF (0xC7000190 is `RSI_ISLET_REALM_METADATA`).
pub const RSI_ISLET_REALM_SEALING_KEY: u64 = 0xC700_0191;

/// `RsiIsletSealingFlags` bit 0 (`KEY`): 1 selects VHUK_M as input key material.
const RSI_ISLET_SLK_USE_IKM_VHUK_M: u64 = 1 << 0;
/// Bit 1 (`RIM`): mix in the RIM and the hash algorithm.
const RSI_ISLET_SLK_RIM: u64 = 1 << 1;
/// Bit 2 (`REALM_ID`): mix in the realm ID of the realm's metadata.
const RSI_ISLET_SLK_REALM_ID: u64 = 1 << 2;
/// Bit 3 (`SVN`): mix in the SVN passed in `x2`.
const RSI_ISLET_SLK_SVN: u64 = 1 << 3;
/// Bits 4 to 63 are reserved.
const RESERVED: u64 = !0xf;

/// The input key material Islet derives from (`RsiIsletSealingIkm`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Ikm {
    /// `RSI_ISLET_SLK_USE_IKM_VHUK_A` (0): the authority-based VHUK, derived from who signed
    /// the platform firmware; keys survive firmware updates from the same signers.
    VhukA,
    /// `RSI_ISLET_SLK_USE_IKM_VHUK_M` (1): the measurement-based VHUK, derived from the
    /// platform firmware's measurements; any firmware update changes the keys.
    VhukM,
}

/// What Islet mixes into the key besides the RPV and the metadata's public key:
/// `RsiIsletSealingFlags` (`x1`) and the SVN (`x2`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct SealingFlags {
    /// Bit 0 (`KEY`): the input key material.
    pub ikm: Ikm,
    /// Bit 1 (`RIM`): the RIM and hash algorithm (zeros otherwise). Islet mixes them in
    /// regardless for a realm the host gave no metadata.
    pub rim: bool,
    /// Bit 2 (`REALM_ID`): the realm ID from the realm's metadata (zeros otherwise).
    pub realm_id: bool,
    /// Bit 3 (`SVN`) and `x2`: this SVN (zeros otherwise). It may not exceed the SVN in the
    /// realm's metadata, so that an older realm cannot derive a newer one's key; Islet's
    /// documentation also refuses 0.
    pub svn: Option<u64>,
}

impl SealingFlags {
    /// The `x1` value.
    #[must_use]
    pub const fn to_raw(&self) -> u64 {
        let mut raw = 0;
        if matches!(self.ikm, Ikm::VhukM) {
            raw |= RSI_ISLET_SLK_USE_IKM_VHUK_M;
        }
        if self.rim {
            raw |= RSI_ISLET_SLK_RIM;
        }
        if self.realm_id {
            raw |= RSI_ISLET_SLK_REALM_ID;
        }
        if self.svn.is_some() {
            raw |= RSI_ISLET_SLK_SVN;
        }
        raw
    }

    /// The `x2` value: the SVN, or 0 without the SVN flag.
    #[must_use]
    pub const fn svn_raw(&self) -> u64 {
        match self.svn {
            Some(svn) => svn,
            None => 0,
        }
    }

    /// From `x1` (`flags`) and `x2` (`svn`, kept only with the SVN flag); `None` if a
    /// reserved bit (4 to 63) is set.
    #[must_use]
    pub const fn from_raw(flags: u64, svn: u64) -> Option<Self> {
        if flags & RESERVED != 0 {
            return None;
        }
        Some(Self {
            ikm: if flags & RSI_ISLET_SLK_USE_IKM_VHUK_M != 0 {
                Ikm::VhukM
            } else {
                Ikm::VhukA
            },
            rim: flags & RSI_ISLET_SLK_RIM != 0,
            realm_id: flags & RSI_ISLET_SLK_REALM_ID != 0,
            svn: if flags & RSI_ISLET_SLK_SVN != 0 {
                Some(svn)
            } else {
                None
            },
        })
    }

    /// The call's registers: `x0` = [`RSI_ISLET_REALM_SEALING_KEY`], `x1` = flags, `x2` =
    /// SVN, the rest zero.
    #[must_use]
    pub const fn to_regs(&self) -> Regs {
        let mut regs = [0; 18];
        regs[0] = RSI_ISLET_REALM_SEALING_KEY;
        regs[1] = self.to_raw();
        regs[2] = self.svn_raw();
        regs
    }
}

/// Why Islet gave no key.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IsletError {
    /// `SMCCC_NOT_SUPPORTED`: the RMM does not implement the call (it is not Islet's; TF-RMM
    /// answers this).
    NotSupported,
    /// `RSI_ERROR_INPUT`: Islet refused the SVN (failure condition `svn_valid`: above the
    /// SVN in the realm's metadata, or, as its documentation has it, 0).
    Input,
    /// Any other status.
    Unknown(u64),
    /// Islet cannot bind a key to this policy: it does not mix in REMs. Found before calling.
    PolicyUnsupported(Policy),
}

impl IsletError {
    /// The error for the status in `x0`; `None` for `RSI_SUCCESS`.
    #[must_use]
    pub const fn from_status(x0: u64) -> Option<Self> {
        Some(match RsiStatus::from_raw(x0) {
            RsiStatus::Success => return None,
            RsiStatus::ErrorInput => Self::Input,
            RsiStatus::NotSupported => Self::NotSupported,
            _ => Self::Unknown(x0),
        })
    }

    /// The status behind this error; `None` for an error found before calling.
    #[must_use]
    pub const fn status(&self) -> Option<u64> {
        match *self {
            Self::NotSupported => Some(RsiStatus::NotSupported.to_raw()),
            Self::Input => Some(RsiStatus::ErrorInput.to_raw()),
            Self::Unknown(x0) => Some(x0),
            Self::PolicyUnsupported(_) => None,
        }
    }
}

impl fmt::Display for IsletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSupported => {
                f.write_str("the RMM has no Islet sealing-key call (SMCCC_NOT_SUPPORTED)")
            }
            Self::Input => f.write_str("Islet refused the sealing SVN (RSI_ERROR_INPUT)"),
            Self::Unknown(s) => write!(f, "Islet sealing-key call failed with status {s:#x}"),
            Self::PolicyUnsupported(p) => write!(f, "Islet cannot bind a key to policy {p}"),
        }
    }
}

impl core::error::Error for IsletError {}

/// `RSI_ISLET_REALM_SEALING_KEY`: asks Islet's RMM for the realm sealing key `flags` select.
///
/// The same realm on the same platform with the same firmware (VHUK_M) or firmware signers
/// (VHUK_A) gets the same key for the same flags, across boots.
///
/// # Errors
///
/// [`IsletError::NotSupported`] on an RMM other than Islet's, [`IsletError::Input`] for an
/// SVN Islet refuses, [`IsletError::Unknown`] for any other status.
pub fn sealing_key(
    conduit: &mut (impl Conduit + ?Sized),
    flags: SealingFlags,
) -> Result<SealingKey, IsletError> {
    let out = Zeroizing::new(conduit.call(flags.to_regs()));
    if let Some(e) = IsletError::from_status(out[0]) {
        return Err(e);
    }
    let mut key = Zeroizing::new([0u8; 32]);
    unpack_bytes(&out[1..5], &mut *key);
    Ok(SealingKey::new(*key))
}

/// A [`SealingKeyProvider`] over Islet's call.
///
/// [`Policy::RimRpv`] asks for the measurement-bound key: VHUK_M with the RIM flag (the RPV
/// is always mixed in), plus the realm ID and SVN if set here. Such a key changes when the
/// realm image, its RPV or the platform firmware changes; data sealed under it does not
/// survive a firmware update (use [`sealing_key`] with [`Ikm::VhukA`] for keys that do).
/// [`Policy::RimRpvRems`] is refused with [`IsletError::PolicyUnsupported`], since Islet
/// does not mix in REMs.
pub struct IsletProvider<'r, C: Conduit> {
    realm: &'r mut Realm<C>,
    /// Also mix in the realm ID of the realm's metadata (default `false`).
    pub realm_id: bool,
    /// Also mix in this SVN (default `None`).
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

    /// The flags this provider asks for under `policy`; `None` for a policy Islet cannot
    /// bind.
    #[must_use]
    pub const fn flags(&self, policy: Policy) -> Option<SealingFlags> {
        match policy {
            Policy::RimRpv => Some(SealingFlags {
                ikm: Ikm::VhukM,
                rim: true,
                realm_id: self.realm_id,
                svn: self.svn,
            }),
            Policy::RimRpvRems => None,
        }
    }
}

impl<C: Conduit> SealingKeyProvider for IsletProvider<'_, C> {
    const PROVIDER: u8 = provider::ISLET;
    type Error = IsletError;

    fn sealing_key(&mut self, policy: Policy) -> Result<SealingKey, IsletError> {
        let flags = self
            .flags(policy)
            .ok_or(IsletError::PolicyUnsupported(policy))?;
        sealing_key(self.realm.conduit(), flags)
    }
}
