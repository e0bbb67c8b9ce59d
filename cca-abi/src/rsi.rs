//! Realm Services Interface (RSI): the calls a realm makes to the RMM.
//!
//! DEN0137 1.0-rel0 chapter B5; function ids, registers and structures as TF-RMM v0.8.0
//! defines them in `lib/smc/include/smc-rsi.h` (cca-abi.md §2, §3).

use core::mem::{offset_of, size_of};

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use crate::smccc::{Regs, pack_bytes, regs, unpack_bytes};
use crate::{AbiVersion, GRANULE_SIZE};

/// `RSI_VERSION`: negotiate the interface revision.
pub const RSI_VERSION: u32 = 0xC400_0190;
/// `RSI_FEATURES`: read a feature register.
pub const RSI_FEATURES: u32 = 0xC400_0191;
/// `RSI_MEASUREMENT_READ`: read the RIM (index 0) or a REM (1 to 4).
pub const RSI_MEASUREMENT_READ: u32 = 0xC400_0192;
/// `RSI_MEASUREMENT_EXTEND`: extend a REM.
pub const RSI_MEASUREMENT_EXTEND: u32 = 0xC400_0193;
/// `RSI_ATTESTATION_TOKEN_INIT`: start building an attestation token.
pub const RSI_ATTESTATION_TOKEN_INIT: u32 = 0xC400_0194;
/// `RSI_ATTESTATION_TOKEN_CONTINUE`: sign and copy out the attestation token.
pub const RSI_ATTESTATION_TOKEN_CONTINUE: u32 = 0xC400_0195;
/// `RSI_REALM_CONFIG`: write the realm configuration to a granule.
pub const RSI_REALM_CONFIG: u32 = 0xC400_0196;
/// `RSI_IPA_STATE_SET`: request a RIPAS change.
pub const RSI_IPA_STATE_SET: u32 = 0xC400_0197;
/// `RSI_IPA_STATE_GET`: read the RIPAS of a range.
pub const RSI_IPA_STATE_GET: u32 = 0xC400_0198;
/// `RSI_HOST_CALL`: exit to the host with a message.
pub const RSI_HOST_CALL: u32 = 0xC400_0199;

/// Bytes of a challenge passed to `RSI_ATTESTATION_TOKEN_INIT` (`x1..x8`).
pub const CHALLENGE_SIZE: usize = 64;
/// Bytes of the Realm Personalization Value.
pub const RPV_SIZE: usize = 64;
/// Most bytes one `RSI_MEASUREMENT_EXTEND` hashes (`x3..x10`).
pub const MAX_EXTEND_SIZE: usize = 64;
/// Number of general-purpose registers an `RsiHostCall` carries.
pub const HOST_CALL_GPRS: usize = 31;
/// Alignment the RMM requires of an `RsiHostCall` (TF-RMM `runtime/rsi/host_call.c`).
pub const HOST_CALL_ALIGN: u64 = 0x100;

/// `RsiCommandReturnCode`: the status an RSI call leaves in `x0` (cca-abi.md §2.1).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RsiStatus {
    /// `RSI_SUCCESS` (0).
    Success,
    /// `RSI_ERROR_INPUT` (1): an argument was invalid.
    ErrorInput,
    /// `RSI_ERROR_STATE` (2): the call is not valid in the current state.
    ErrorState,
    /// `RSI_INCOMPLETE` (3): the operation needs more calls.
    Incomplete,
    /// `RSI_ERROR_UNKNOWN` (4): the RMM failed internally.
    ErrorUnknown,
    /// `RSI_ERROR_DEVICE` (5, RSI 1.1): a device assignment error.
    ErrorDevice,
    /// `SMC_UNKNOWN`: the RMM does not implement the function id.
    NotSupported,
    /// Any other value.
    Unknown(u64),
}

impl RsiStatus {
    /// Decodes `x0`.
    #[must_use]
    pub const fn from_raw(x0: u64) -> Self {
        match x0 {
            0 => Self::Success,
            1 => Self::ErrorInput,
            2 => Self::ErrorState,
            3 => Self::Incomplete,
            4 => Self::ErrorUnknown,
            5 => Self::ErrorDevice,
            u64::MAX => Self::NotSupported,
            other => Self::Unknown(other),
        }
    }

    /// Encodes `x0`.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::Success => 0,
            Self::ErrorInput => 1,
            Self::ErrorState => 2,
            Self::Incomplete => 3,
            Self::ErrorUnknown => 4,
            Self::ErrorDevice => 5,
            Self::NotSupported => u64::MAX,
            Self::Unknown(other) => other,
        }
    }
}

/// Realm IPA state (`RsiRipas`, cca-abi.md §2.1).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Ripas {
    /// `EMPTY` (0): no memory; an access aborts.
    Empty,
    /// `RAM` (1): protected memory.
    Ram,
    /// `DESTROYED` (2): the host destroyed the memory; an access aborts.
    Destroyed,
    /// `DEV` (3, RSI 1.1): assigned device memory.
    Dev,
}

impl Ripas {
    /// Decodes the ABI value.
    #[must_use]
    pub const fn from_raw(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::Empty),
            1 => Some(Self::Ram),
            2 => Some(Self::Destroyed),
            3 => Some(Self::Dev),
            _ => None,
        }
    }

    /// The ABI value.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Ram => 1,
            Self::Destroyed => 2,
            Self::Dev => 3,
        }
    }
}

/// The host's answer to a RIPAS change request (`RsiResponse`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RsiResponse {
    /// `ACCEPT` (0).
    Accept,
    /// `REJECT` (1).
    Reject,
}

impl RsiResponse {
    /// Decodes the ABI value.
    #[must_use]
    pub const fn from_raw(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::Accept),
            1 => Some(Self::Reject),
            _ => None,
        }
    }

    /// The ABI value.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::Accept => 0,
            Self::Reject => 1,
        }
    }
}

/// `RSI_IPA_STATE_SET` flags (`x4`): may the change apply to `DESTROYED` granules?
///
/// TF-RMM compares the whole register with 1 (cca-abi.md §2.1), so only 0 and 1 are meaningful.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RipasChangeDestroyed {
    /// `RSI_NO_CHANGE_DESTROYED` (0): stop at the first `DESTROYED` granule.
    NoChange,
    /// `RSI_CHANGE_DESTROYED` (1): change `DESTROYED` granules too.
    Change,
}

impl RipasChangeDestroyed {
    /// The ABI value of `x4`.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::NoChange => 0,
            Self::Change => 1,
        }
    }
}

/// `RsiFeatureRegister0` bit: Device Assignment (RSI 1.1).
pub const FEATURE0_DA: u64 = 1 << 0;
/// `RsiFeatureRegister0` bit: Memory Region Ownership (RSI 1.1).
pub const FEATURE0_MRO: u64 = 1 << 1;
/// `RsiFeatureRegister0` bit: Address Translation Services (RSI 1.1).
pub const FEATURE0_ATS: u64 = 1 << 2;

/// `RsiRealmConfig`: what `RSI_REALM_CONFIG` writes (4096 bytes, granule aligned).
///
/// Layout from TF-RMM v0.8.0 `smc-rsi.h` (cca-abi.md §3.1); fields after `hash_algo` that
/// only RSI 1.1 defines read as zero from an RSI 1.0 RMM.
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RsiRealmConfig {
    /// 0x000: IPA width in bits (`RmiRealmParams.s2sz`).
    pub ipa_width: u64,
    /// 0x008: hash algorithm, 0 = SHA-256, 1 = SHA-512. TF-RMM writes one byte; the other
    /// seven of the slot are left as they were.
    pub hash_algo: u8,
    /// 0x009: rest of the `hash_algo` slot.
    pub reserved_09: [u8; 7],
    /// 0x010: number of auxiliary planes (RSI 1.1).
    pub num_aux_planes: u64,
    /// 0x018: `ICH_VTR_EL2` value (RSI 1.1).
    pub gicv3_vtr: u32,
    /// 0x01C: padding.
    pub reserved_1c: [u8; 4],
    /// 0x020: plane used for ATS (RSI 1.1).
    pub ats_plane: u64,
    /// 0x028: reserved up to the RPV.
    pub reserved_28: [u8; 0x200 - 0x28],
    /// 0x200: Realm Personalization Value.
    pub rpv: [u8; RPV_SIZE],
    /// 0x240: reserved to the end of the granule.
    pub reserved_240: [u8; GRANULE_SIZE - 0x240],
}

const _: () = {
    assert!(size_of::<RsiRealmConfig>() == GRANULE_SIZE);
    assert!(core::mem::align_of::<RsiRealmConfig>() == GRANULE_SIZE);
    assert!(offset_of!(RsiRealmConfig, ipa_width) == 0x000);
    assert!(offset_of!(RsiRealmConfig, hash_algo) == 0x008);
    assert!(offset_of!(RsiRealmConfig, num_aux_planes) == 0x010);
    assert!(offset_of!(RsiRealmConfig, gicv3_vtr) == 0x018);
    assert!(offset_of!(RsiRealmConfig, ats_plane) == 0x020);
    assert!(offset_of!(RsiRealmConfig, rpv) == 0x200);
};

impl RsiRealmConfig {
    /// An all-zero configuration page.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as FromZeros>::new_zeroed()
    }
}

/// `RsiHostCall`: the message of `RSI_HOST_CALL` (256 bytes, 256-byte aligned).
///
/// Layout from TF-RMM v0.8.0 `smc-rsi.h` (cca-abi.md §3.2). TF-RMM reads `imm` as 32 bits and
/// KVM as 16; this type writes 16 bits and keeps the next two bytes zero so both agree.
#[derive(Clone, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(256))]
pub struct RsiHostCall {
    /// 0x00: immediate, copied to `RmiRecExit.imm`.
    pub imm: u16,
    /// 0x02: rest of the immediate slot; zero.
    pub reserved_02: [u8; 6],
    /// 0x08: registers exchanged with the host.
    pub gprs: [u64; HOST_CALL_GPRS],
}

const _: () = {
    assert!(size_of::<RsiHostCall>() == 0x100);
    assert!(core::mem::align_of::<RsiHostCall>() == 0x100);
    assert!(offset_of!(RsiHostCall, imm) == 0x00);
    assert!(offset_of!(RsiHostCall, gprs) == 0x08);
};

impl RsiHostCall {
    /// A host call with immediate `imm` and all registers zero.
    #[must_use]
    pub fn new(imm: u16) -> Self {
        Self {
            imm,
            reserved_02: [0; 6],
            gprs: [0; HOST_CALL_GPRS],
        }
    }
}

/// One RSI command with its arguments, as they travel in registers.
///
/// Arguments are kept raw: encoding never refuses a value, so that the receiver (the RMM or
/// the model) is the one that applies the specification's checks.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum RsiCommand {
    /// `RSI_VERSION(x1 = requested)`.
    Version {
        /// Requested revision, encoded.
        requested: u64,
    },
    /// `RSI_FEATURES(x1 = index)`.
    Features {
        /// Feature register index.
        index: u64,
    },
    /// `RSI_MEASUREMENT_READ(x1 = index)`.
    MeasurementRead {
        /// 0 = RIM, 1..4 = REM.
        index: u64,
    },
    /// `RSI_MEASUREMENT_EXTEND(x1 = index, x2 = size, x3..x10 = value)`.
    MeasurementExtend {
        /// REM index, 1 to 4.
        index: u64,
        /// Number of value bytes to hash, at most 64.
        size: u64,
        /// Value, little-endian in `x3..x10`.
        value: [u8; MAX_EXTEND_SIZE],
    },
    /// `RSI_ATTESTATION_TOKEN_INIT(x1..x8 = challenge)`.
    AttestationTokenInit {
        /// Challenge, little-endian in `x1..x8`.
        challenge: [u8; CHALLENGE_SIZE],
    },
    /// `RSI_ATTESTATION_TOKEN_CONTINUE(x1 = granule IPA, x2 = offset, x3 = size)`.
    AttestationTokenContinue {
        /// IPA of the buffer granule.
        granule: u64,
        /// Offset within the granule.
        offset: u64,
        /// Bytes available from the offset.
        size: u64,
    },
    /// `RSI_REALM_CONFIG(x1 = IPA)`.
    RealmConfig {
        /// IPA of the granule to write `RsiRealmConfig` to.
        ipa: u64,
    },
    /// `RSI_IPA_STATE_SET(x1 = base, x2 = top, x3 = ripas, x4 = flags)`.
    IpaStateSet {
        /// Base of the range.
        base: u64,
        /// Top (exclusive) of the range.
        top: u64,
        /// Requested RIPAS.
        ripas: u64,
        /// `RsiRipasChangeDestroyed`.
        flags: u64,
    },
    /// `RSI_IPA_STATE_GET(x1 = base, x2 = end)`.
    IpaStateGet {
        /// Base of the range.
        base: u64,
        /// End (exclusive) of the range.
        end: u64,
    },
    /// `RSI_HOST_CALL(x1 = IPA)`.
    HostCall {
        /// IPA of the `RsiHostCall` structure.
        ipa: u64,
    },
}

impl RsiCommand {
    /// The command's function id.
    #[must_use]
    pub const fn fid(&self) -> u32 {
        match self {
            Self::Version { .. } => RSI_VERSION,
            Self::Features { .. } => RSI_FEATURES,
            Self::MeasurementRead { .. } => RSI_MEASUREMENT_READ,
            Self::MeasurementExtend { .. } => RSI_MEASUREMENT_EXTEND,
            Self::AttestationTokenInit { .. } => RSI_ATTESTATION_TOKEN_INIT,
            Self::AttestationTokenContinue { .. } => RSI_ATTESTATION_TOKEN_CONTINUE,
            Self::RealmConfig { .. } => RSI_REALM_CONFIG,
            Self::IpaStateSet { .. } => RSI_IPA_STATE_SET,
            Self::IpaStateGet { .. } => RSI_IPA_STATE_GET,
            Self::HostCall { .. } => RSI_HOST_CALL,
        }
    }

    /// Encodes the command into the registers of an SMC.
    #[must_use]
    pub fn to_regs(&self) -> Regs {
        let fid = self.fid();
        match *self {
            Self::Version { requested: a }
            | Self::Features { index: a }
            | Self::MeasurementRead { index: a }
            | Self::RealmConfig { ipa: a }
            | Self::HostCall { ipa: a } => regs(fid, &[a]),
            Self::MeasurementExtend {
                index,
                size,
                ref value,
            } => {
                let mut r = regs(fid, &[index, size]);
                pack_bytes(value, &mut r[3..11]);
                r
            }
            Self::AttestationTokenInit { ref challenge } => {
                let mut r = regs(fid, &[]);
                pack_bytes(challenge, &mut r[1..9]);
                r
            }
            Self::AttestationTokenContinue {
                granule,
                offset,
                size,
            } => regs(fid, &[granule, offset, size]),
            Self::IpaStateSet {
                base,
                top,
                ripas,
                flags,
            } => regs(fid, &[base, top, ripas, flags]),
            Self::IpaStateGet { base, end } => regs(fid, &[base, end]),
        }
    }

    /// Decodes the registers of an SMC; `None` if `x0` is not an RSI 1.0 function id.
    ///
    /// Only bits 31:0 of `x0` name the function, and the SMCCC SVE hint (bit 16) is ignored,
    /// as TF-RMM does for RSI (cca-abi.md §1.1).
    #[must_use]
    pub fn from_regs(r: &Regs) -> Option<Self> {
        const SVE_HINT: u64 = 1 << 16;
        let fid = u32::try_from(r[0] & !SVE_HINT).ok()?;
        Some(match fid {
            RSI_VERSION => Self::Version { requested: r[1] },
            RSI_FEATURES => Self::Features { index: r[1] },
            RSI_MEASUREMENT_READ => Self::MeasurementRead { index: r[1] },
            RSI_MEASUREMENT_EXTEND => {
                let mut value = [0; MAX_EXTEND_SIZE];
                unpack_bytes(&r[3..11], &mut value);
                Self::MeasurementExtend {
                    index: r[1],
                    size: r[2],
                    value,
                }
            }
            RSI_ATTESTATION_TOKEN_INIT => {
                let mut challenge = [0; CHALLENGE_SIZE];
                unpack_bytes(&r[1..9], &mut challenge);
                Self::AttestationTokenInit { challenge }
            }
            RSI_ATTESTATION_TOKEN_CONTINUE => Self::AttestationTokenContinue {
                granule: r[1],
                offset: r[2],
                size: r[3],
            },
            RSI_REALM_CONFIG => Self::RealmConfig { ipa: r[1] },
            RSI_IPA_STATE_SET => Self::IpaStateSet {
                base: r[1],
                top: r[2],
                ripas: r[3],
                flags: r[4],
            },
            RSI_IPA_STATE_GET => Self::IpaStateGet {
                base: r[1],
                end: r[2],
            },
            RSI_HOST_CALL => Self::HostCall { ipa: r[1] },
            _ => return None,
        })
    }
}

/// The reply of `RSI_VERSION`: `x1` = lower and `x2` = higher implemented revision.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct VersionReply {
    /// `x0`: SUCCESS if the requested revision is implemented.
    pub status: RsiStatus,
    /// `x1`: the lower implemented revision (the requested one on success).
    pub lower: u64,
    /// `x2`: the highest implemented revision.
    pub higher: u64,
}

impl VersionReply {
    /// Decodes the reply registers.
    #[must_use]
    pub const fn from_regs(r: &Regs) -> Self {
        Self {
            status: RsiStatus::from_raw(r[0]),
            lower: r[1],
            higher: r[2],
        }
    }

    /// Decodes `lower` and `higher`, if both are well-formed revisions.
    #[must_use]
    pub const fn versions(&self) -> Option<(AbiVersion, AbiVersion)> {
        match (
            AbiVersion::decode(self.lower),
            AbiVersion::decode(self.higher),
        ) {
            (Some(l), Some(h)) => Some((l, h)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command survives an encode/decode round trip (DEN0137 B5.3 register usage).
    #[test]
    fn commands_round_trip() {
        let value: [u8; 64] = core::array::from_fn(|i| (i * 3) as u8);
        let cmds = [
            RsiCommand::Version {
                requested: AbiVersion::V1_0.encode(),
            },
            RsiCommand::Features { index: 0 },
            RsiCommand::MeasurementRead { index: 4 },
            RsiCommand::MeasurementExtend {
                index: 3,
                size: 64,
                value,
            },
            RsiCommand::AttestationTokenInit { challenge: value },
            RsiCommand::AttestationTokenContinue {
                granule: 0x4000,
                offset: 0xc00,
                size: 0x200,
            },
            RsiCommand::RealmConfig { ipa: 0x2000 },
            RsiCommand::IpaStateSet {
                base: 0x1000,
                top: 0x3000,
                ripas: 1,
                flags: 1,
            },
            RsiCommand::IpaStateGet {
                base: 0,
                end: 0x1000,
            },
            RsiCommand::HostCall { ipa: 0x1000 },
        ];
        for cmd in cmds {
            assert_eq!(RsiCommand::from_regs(&cmd.to_regs()).as_ref(), Some(&cmd));
        }
    }

    /// cca-abi.md §6.5: value byte k is byte (k mod 8) of x(3 + k/8).
    #[test]
    fn extend_value_register_order() {
        let value: [u8; 64] = core::array::from_fn(|i| i as u8);
        let r = RsiCommand::MeasurementExtend {
            index: 1,
            size: 64,
            value,
        }
        .to_regs();
        assert_eq!(r[3], 0x0706_0504_0302_0100);
        assert_eq!(r[10], 0x3f3e_3d3c_3b3a_3938);
    }

    /// cca-abi.md §1.1: unknown function ids and other ranges are not RSI commands; the SVE
    /// hint bit is ignored.
    #[test]
    fn decode_function_ids() {
        assert_eq!(RsiCommand::from_regs(&regs(0xC400_019A, &[])), None);
        assert_eq!(RsiCommand::from_regs(&regs(0x8400_0008, &[])), None);
        let mut r = regs(RSI_FEATURES | (1 << 16), &[0]);
        assert_eq!(
            RsiCommand::from_regs(&r),
            Some(RsiCommand::Features { index: 0 })
        );
        r[0] |= 1 << 32;
        assert_eq!(RsiCommand::from_regs(&r), None);
    }

    /// cca-abi.md §2.1 status codes.
    #[test]
    fn status_codes() {
        for raw in [0, 1, 2, 3, 4, 5, 6, u64::MAX] {
            assert_eq!(RsiStatus::from_raw(raw).to_raw(), raw);
        }
        assert_eq!(RsiStatus::from_raw(3), RsiStatus::Incomplete);
        assert_eq!(RsiStatus::from_raw(7), RsiStatus::Unknown(7));
    }

    /// cca-abi.md §2.1 version encoding: 1.0 = 0x10000, 1.1 = 0x10001, bit 31 reserved.
    #[test]
    fn version_encoding() {
        assert_eq!(AbiVersion::V1_0.encode(), 0x10000);
        assert_eq!(AbiVersion::V1_1.encode(), 0x10001);
        assert_eq!(AbiVersion::decode(0x20000), Some(AbiVersion::V2_0));
        assert_eq!(AbiVersion::decode(0x8001_0000), None);
    }
}
