//! Realm Services Interface (RSI): the calls a realm makes to the RMM.
//!
//! DEN0137 1.0-rel0 chapter B5; function ids, registers and structures as TF-RMM v0.8.0
//! defines them in `lib/smc/include/smc-rsi.h` (cca-abi.md §2, §3).
//!
//! RSI 1.1 (the DEN0137 1.1 drafts TF-RMM v0.9.0 follows; cca-abi.md §2.3, §3.3): every
//! command TF-RMM v0.9.0 defines in `lib/smc/include/smc-rsi.h` has a function id here and
//! a variant of [`RsiCommand`], with the registers its handler reads (`runtime/rsi/planes.c`,
//! `runtime/rsi/memory.c`, `runtime/rsi/vdev.c`). The structures it exchanges through memory
//! are [`RsiPlaneRun`] and [`RsiVdevInfo`].

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

/// `RSI_VSMMU_GET_INFO` (RSI 1.1): defined by TF-RMM v0.9.0 `smc-rsi.h` without arguments,
/// and not dispatched by `runtime/core/exit.c`, so it answers `SMC_UNKNOWN`.
pub const RSI_VSMMU_GET_INFO: u32 = 0xC400_019A;
/// `RSI_ARCH_DEV_ACTIVATE` (RSI 1.1): defined by TF-RMM v0.9.0 `smc-rsi.h` without
/// arguments, and not dispatched, so it answers `SMC_UNKNOWN`. TF-RMM v0.8.0 named this id
/// `RSI_VSMMU_ACTIVATE` and did not dispatch it either.
pub const RSI_ARCH_DEV_ACTIVATE: u32 = 0xC400_019B;
/// `RSI_VDEV_DMA_ENABLE` (RSI 1.1): enable DMA for an assigned device. TF-RMM v0.8.0 used
/// this id for `RSI_RDEV_GET_INSTANCE_ID`.
pub const RSI_VDEV_DMA_ENABLE: u32 = 0xC400_019C;
/// `RSI_VDEV_GET_INFO` (RSI 1.1): write an [`RsiVdevInfo`] for an assigned device.
pub const RSI_VDEV_GET_INFO: u32 = 0xC400_019D;
/// `RSI_VDEV_VALIDATE_MAPPING` (RSI 1.1): accept a device memory mapping the host made.
pub const RSI_VDEV_VALIDATE_MAPPING: u32 = 0xC400_019F;
/// `RSI_MEM_GET_PERM_VALUE` (RSI 1.1): read a plane's value of a permission index.
pub const RSI_MEM_GET_PERM_VALUE: u32 = 0xC400_01A0;
/// `RSI_MEM_SET_PERM_INDEX` (RSI 1.1): ask the host to give a range a permission index.
pub const RSI_MEM_SET_PERM_INDEX: u32 = 0xC400_01A1;
/// `RSI_MEM_SET_PERM_VALUE` (RSI 1.1): set an auxiliary plane's value of a permission index.
pub const RSI_MEM_SET_PERM_VALUE: u32 = 0xC400_01A2;
/// `RSI_PLANE_ENTER` (RSI 1.1): run an auxiliary plane until it exits back to plane 0.
pub const RSI_PLANE_ENTER: u32 = 0xC400_01A3;
/// `RSI_VDEV_DMA_DISABLE` (RSI 1.1): disable DMA for an assigned device. TF-RMM v0.8.0
/// used this id for `RSI_RDEV_CONTINUE`.
pub const RSI_VDEV_DMA_DISABLE: u32 = 0xC400_01A4;
/// `RSI_PLANE_SYSREG_READ` (RSI 1.1): read a system register of an auxiliary plane.
pub const RSI_PLANE_SYSREG_READ: u32 = 0xC400_01AE;
/// `RSI_PLANE_SYSREG_WRITE` (RSI 1.1): write a system register of an auxiliary plane.
pub const RSI_PLANE_SYSREG_WRITE: u32 = 0xC400_01AF;
/// `RDEV_P2P_BIND`: defined by TF-RMM v0.8.0 and v0.9.0 `smc-rsi.h` (as `SMC_RDEV_P2P_BIND`)
/// above the RSI range, where `IS_SMC64_RSI_FID` does not reach: no RMM answers it as RSI.
pub const RSI_RDEV_P2P_BIND: u32 = 0xC400_01BF;

/// The specification's name of an RSI function id, for messages; `None` for an id no
/// TF-RMM v0.9.0 RSI command uses.
#[must_use]
pub const fn fid_name(fid: u32) -> Option<&'static str> {
    Some(match fid {
        RSI_VERSION => "RSI_VERSION",
        RSI_FEATURES => "RSI_FEATURES",
        RSI_MEASUREMENT_READ => "RSI_MEASUREMENT_READ",
        RSI_MEASUREMENT_EXTEND => "RSI_MEASUREMENT_EXTEND",
        RSI_ATTESTATION_TOKEN_INIT => "RSI_ATTESTATION_TOKEN_INIT",
        RSI_ATTESTATION_TOKEN_CONTINUE => "RSI_ATTESTATION_TOKEN_CONTINUE",
        RSI_REALM_CONFIG => "RSI_REALM_CONFIG",
        RSI_IPA_STATE_SET => "RSI_IPA_STATE_SET",
        RSI_IPA_STATE_GET => "RSI_IPA_STATE_GET",
        RSI_HOST_CALL => "RSI_HOST_CALL",
        RSI_VSMMU_GET_INFO => "RSI_VSMMU_GET_INFO",
        RSI_ARCH_DEV_ACTIVATE => "RSI_ARCH_DEV_ACTIVATE",
        RSI_VDEV_DMA_ENABLE => "RSI_VDEV_DMA_ENABLE",
        RSI_VDEV_GET_INFO => "RSI_VDEV_GET_INFO",
        RSI_VDEV_VALIDATE_MAPPING => "RSI_VDEV_VALIDATE_MAPPING",
        RSI_MEM_GET_PERM_VALUE => "RSI_MEM_GET_PERM_VALUE",
        RSI_MEM_SET_PERM_INDEX => "RSI_MEM_SET_PERM_INDEX",
        RSI_MEM_SET_PERM_VALUE => "RSI_MEM_SET_PERM_VALUE",
        RSI_PLANE_ENTER => "RSI_PLANE_ENTER",
        RSI_VDEV_DMA_DISABLE => "RSI_VDEV_DMA_DISABLE",
        RSI_PLANE_SYSREG_READ => "RSI_PLANE_SYSREG_READ",
        RSI_PLANE_SYSREG_WRITE => "RSI_PLANE_SYSREG_WRITE",
        RSI_RDEV_P2P_BIND => "RDEV_P2P_BIND",
        _ => return None,
    })
}

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

impl core::fmt::Display for Ripas {
    /// The specification's name: `EMPTY`, `RAM`, `DESTROYED` or `DEV`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Empty => "EMPTY",
            Self::Ram => "RAM",
            Self::Destroyed => "DESTROYED",
            Self::Dev => "DEV",
        })
    }
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

/// Most auxiliary planes a realm can have (`MAX_AUX_PLANES` in TF-RMM v0.9.0 `smc-rmi.h`);
/// plane indices run from 0 (plane 0) to this.
pub const MAX_AUX_PLANES: u64 = 3;
/// Number of permission indices a realm may use for protected memory: 0 to 14. TF-RMM
/// v0.9.0 (`lib/s2tt/include/s2ap_ind.h`, `s2ap_is_ovrl_perm_index_valid`) answers
/// `RSI_ERROR_INPUT` for 15, which it keeps for unprotected memory, and above. It compares
/// only the low 32 bits of the register (the handlers cast it to `unsigned int`).
pub const PERM_INDEX_COUNT: u64 = 15;
/// General-purpose registers in `RsiPlaneEnter` and `RsiPlaneExit`.
pub const PLANE_GPRS: usize = 31;
/// GIC list registers in `RsiPlaneEnter` and `RsiPlaneExit`.
pub const PLANE_GIC_LRS: usize = 16;
/// Alignment TF-RMM v0.9.0 requires of the `RsiVdevInfo` IPA (`runtime/rsi/vdev.c`).
pub const VDEV_INFO_ALIGN: u64 = 0x200;
/// Bytes of each digest in `RsiVdevInfo`.
pub const VDEV_DIGEST_SIZE: usize = 64;

crate::rmi::flag_word! {
    /// `RsiPlaneEnterFlags`: `RsiPlaneEnter.flags`, how plane 0 runs plane N (TF-RMM
    /// v0.9.0 `smc-rsi.h`; `runtime/rsi/planes.c` reads them on `RSI_PLANE_ENTER`).
    PlaneEnterFlags {
        /// Bit 0 `TRAP_WFI`: WFI in plane N exits to plane 0.
        TRAP_WFI = 0;
        /// Bit 1 `TRAP_WFE`: WFE in plane N exits to plane 0.
        TRAP_WFE = 1;
        /// Bit 2 `TRAP_HC`: `RSI_HOST_CALL` from plane N exits to plane 0 instead of the host.
        TRAP_HC = 2;
        /// Bit 3 `OWN_GIC`: plane N uses the GIC state the host programmed; otherwise the
        /// RMM loads `gicv3_hcr` and `gicv3_lrs` of the entry structure.
        OWN_GIC = 3;
        /// Bit 4 `TRAP_SIMD`: SIMD use in plane N exits to plane 0.
        TRAP_SIMD = 4;
        /// Bit 5 `TRAP_DBG` (new in TF-RMM v0.9.0).
        TRAP_DBG = 5;
    }
}

crate::rmi::abi_enum! {
    /// `RsiPlaneExitReason`: `RsiPlaneExit.reason` (TF-RMM v0.9.0 `smc-rsi.h`).
    RsiPlaneExitReason {
        /// `RSI_EXIT_SYNC` (0): a synchronous exception in plane N.
        Sync = 0,
        /// `RSI_EXIT_IRQ` (1): an interrupt while plane N ran.
        Irq = 1,
        /// `RSI_EXIT_HOST` (2): the host needed the REC.
        Host = 2,
    }
}

crate::rmi::abi_enum! {
    /// `RsiPmuOverflowStatus`: `RsiPlaneExit.pmu_ovf_status` (TF-RMM v0.9.0 `smc-rsi.h`).
    RsiPmuOverflowStatus {
        /// `NOT_ACTIVE` (0).
        NotActive = 0,
        /// `ACTIVE` (1): a PMU overflow interrupt is pending.
        Active = 1,
    }
}

crate::rmi::abi_enum! {
    /// A stage-2 permission value, the 4-bit field a permission index selects (Arm ARM
    /// stage-2 indirect permissions; TF-RMM v0.9.0 `lib/s2tt/include/s2ap_ind.h`). This is
    /// what `RSI_MEM_GET_PERM_VALUE` returns and `RSI_MEM_SET_PERM_VALUE` takes.
    ///
    /// TF-RMM v0.9.0 `runtime/rmi/realm.c` starts plane 0 with [`MemPermValue::RwUpx`] for
    /// every protected index (0 to 14) and every auxiliary plane with
    /// [`MemPermValue::NoAccess`].
    MemPermValue {
        /// 0 `NO_ACCESS`.
        NoAccess = 0,
        /// 1: reserved.
        Reserved1 = 1,
        /// 2 `MRO`: MMU read-only.
        Mro = 2,
        /// 3 `MRO_TL1`.
        MroTl1 = 3,
        /// 4 `WO`: write-only.
        Wo = 4,
        /// 5: reserved.
        Reserved5 = 5,
        /// 6 `MRO_TL0`.
        MroTl0 = 6,
        /// 7 `MRO_TL01`.
        MroTl01 = 7,
        /// 8 `RO`: read-only, not executable.
        Ro = 8,
        /// 9 `RO_uX`: read-only, executable at EL0.
        RoUx = 9,
        /// 10 `RO_pX`: read-only, executable at EL1.
        RoPx = 10,
        /// 11 `RO_upX`: read-only, executable at EL0 and EL1.
        RoUpx = 11,
        /// 12 `RW`: read-write, not executable.
        Rw = 12,
        /// 13 `RW_uX`: read-write, executable at EL0.
        RwUx = 13,
        /// 14 `RW_pX`: read-write, executable at EL1.
        RwPx = 14,
        /// 15 `RW_upX`: read-write, executable at EL0 and EL1.
        RwUpx = 15,
    }
}

impl MemPermValue {
    /// The Arm ARM label, for messages (`RW_upX`, `NO_ACCESS`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoAccess => "NO_ACCESS",
            Self::Reserved1 => "reserved (1)",
            Self::Mro => "MRO",
            Self::MroTl1 => "MRO_TL1",
            Self::Wo => "WO",
            Self::Reserved5 => "reserved (5)",
            Self::MroTl0 => "MRO_TL0",
            Self::MroTl01 => "MRO_TL01",
            Self::Ro => "RO",
            Self::RoUx => "RO_uX",
            Self::RoPx => "RO_pX",
            Self::RoUpx => "RO_upX",
            Self::Rw => "RW",
            Self::RwUx => "RW_uX",
            Self::RwPx => "RW_pX",
            Self::RwUpx => "RW_upX",
        }
    }
}

/// A system register as `RSI_PLANE_SYSREG_READ` and `RSI_PLANE_SYSREG_WRITE` name it
/// (`RsiSysregAddress`): the KVM encoding, op2 in bits 2:0, CRm 6:3, CRn 10:7, op1 13:11,
/// op0 15:14, and bit 16 set for a 128-bit access (TF-RMM v0.9.0 `smc-rsi.h`, field widths
/// from `lib/arch/include/arch.h`).
///
/// The constants are the registers TF-RMM v0.9.0 `runtime/rsi/planes.c` lets plane 0 reach;
/// it answers `RSI_ERROR_INPUT` for any other encoding.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct SysregEncoding(u64);

/// Defines the [`SysregEncoding`] constants from (op0, op1, CRn, CRm, op2).
macro_rules! sysregs {
    ($( $name:ident = ($op0:expr, $op1:expr, $crn:expr, $crm:expr, $op2:expr); )*) => {
        impl SysregEncoding {
            $(
                #[doc = concat!("`", stringify!($name), "` (op0 ", stringify!($op0), ", op1 ",
                    stringify!($op1), ", CRn ", stringify!($crn), ", CRm ", stringify!($crm),
                    ", op2 ", stringify!($op2), ").")]
                pub const $name: Self = Self::encode($op0, $op1, $crn, $crm, $op2);
            )*
            /// Every named register, in the order above.
            pub const ALL: &'static [Self] = &[$(Self::$name),*];
        }
    };
}

sysregs! {
    ACTLR_EL1 = (3, 0, 1, 0, 1);
    AFSR0_EL1 = (3, 0, 5, 1, 0);
    AFSR1_EL1 = (3, 0, 5, 1, 1);
    AMAIR_EL1 = (3, 0, 10, 3, 0);
    APIAKEYLO_EL1 = (3, 0, 2, 1, 0);
    APIAKEYHI_EL1 = (3, 0, 2, 1, 1);
    APIBKEYLO_EL1 = (3, 0, 2, 1, 2);
    APIBKEYHI_EL1 = (3, 0, 2, 1, 3);
    APDAKEYLO_EL1 = (3, 0, 2, 2, 0);
    APDAKEYHI_EL1 = (3, 0, 2, 2, 1);
    APDBKEYLO_EL1 = (3, 0, 2, 2, 2);
    APDBKEYHI_EL1 = (3, 0, 2, 2, 3);
    APGAKEYLO_EL1 = (3, 0, 2, 3, 0);
    APGAKEYHI_EL1 = (3, 0, 2, 3, 1);
    BRBCR_EL1 = (2, 1, 9, 0, 0);
    CNTKCTL_EL1 = (3, 0, 14, 1, 0);
    CONTEXTIDR_EL1 = (3, 0, 13, 0, 1);
    CPACR_EL1 = (3, 0, 1, 0, 2);
    CSSELR_EL1 = (3, 2, 0, 0, 0);
    DISR_EL1 = (3, 0, 12, 1, 1);
    ELR_EL1 = (3, 0, 4, 0, 1);
    ESR_EL1 = (3, 0, 5, 2, 0);
    FAR_EL1 = (3, 0, 6, 0, 0);
    MAIR_EL1 = (3, 0, 10, 2, 0);
    MDCCINT_EL1 = (2, 0, 0, 2, 0);
    MDSCR_EL1 = (2, 0, 0, 2, 2);
    PAR_EL1 = (3, 0, 7, 4, 0);
    PIR_EL1 = (3, 0, 10, 2, 3);
    PIRE0_EL1 = (3, 0, 10, 2, 2);
    POR_EL1 = (3, 0, 10, 2, 4);
    SCTLR_EL1 = (3, 0, 1, 0, 0);
    SP_EL0 = (3, 0, 4, 1, 0);
    SP_EL1 = (3, 4, 4, 1, 0);
    SPSR_EL1 = (3, 0, 4, 0, 0);
    TCR_EL1 = (3, 0, 2, 0, 2);
    TCR2_EL1 = (3, 0, 2, 0, 3);
    TPIDR_EL0 = (3, 3, 13, 0, 2);
    TPIDR_EL1 = (3, 0, 13, 0, 4);
    TPIDRRO_EL0 = (3, 3, 13, 0, 3);
    TTBR0_EL1 = (3, 0, 2, 0, 0);
    TTBR1_EL1 = (3, 0, 2, 0, 1);
    VBAR_EL1 = (3, 0, 12, 0, 0);
    ZCR_EL1 = (3, 0, 1, 2, 0);
    CNTP_CTL_EL0 = (3, 3, 14, 2, 1);
    CNTP_CVAL_EL0 = (3, 3, 14, 2, 2);
    CNTV_CTL_EL0 = (3, 3, 14, 3, 1);
    CNTV_CVAL_EL0 = (3, 3, 14, 3, 2);
    PMCR_EL0 = (3, 3, 9, 12, 0);
    PMCCFILTR_EL0 = (3, 3, 14, 15, 7);
    PMCCNTR_EL0 = (3, 3, 9, 13, 0);
    PMCNTENSET_EL0 = (3, 3, 9, 12, 1);
    PMINTENSET_EL1 = (3, 0, 9, 14, 1);
    PMOVSSET_EL0 = (3, 3, 9, 14, 3);
    PMSELR_EL0 = (3, 3, 9, 12, 5);
    PMUSERENR_EL0 = (3, 3, 9, 14, 0);
}

impl SysregEncoding {
    /// Bit 16: access the register as 128 bits (FEAT_SYSREG128; TF-RMM v0.9.0 allows it for
    /// `PAR_EL1`, `TTBR0_EL1` and `TTBR1_EL1` only, and only where the CPU has the feature).
    pub const SYSREG128: u64 = 1 << 16;

    const fn encode(op0: u64, op1: u64, crn: u64, crm: u64, op2: u64) -> Self {
        Self(op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2)
    }

    /// The encoding of the register (op0, op1, CRn, CRm, op2); `None` if a field does not fit
    /// its width (2, 3, 4, 4 and 3 bits).
    #[must_use]
    pub const fn new(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> Option<Self> {
        if op0 > 3 || op1 > 7 || crn > 15 || crm > 15 || op2 > 7 {
            return None;
        }
        Some(Self::encode(
            op0 as u64, op1 as u64, crn as u64, crm as u64, op2 as u64,
        ))
    }

    /// `PMEVCNTR<n>_EL0`, n = 0 to 30 (op0 3, op1 3, CRn 14, CRm 0b10:n\[4:3\], op2 n\[2:0\]).
    #[must_use]
    pub const fn pmevcntr_el0(n: u8) -> Option<Self> {
        if n > 30 {
            return None;
        }
        Some(Self::encode(
            3,
            3,
            14,
            0b1000 | (n as u64 >> 3),
            n as u64 & 7,
        ))
    }

    /// `PMEVTYPER<n>_EL0`, n = 0 to 30 (op0 3, op1 3, CRn 14, CRm 0b11:n\[4:3\], op2 n\[2:0\]).
    #[must_use]
    pub const fn pmevtyper_el0(n: u8) -> Option<Self> {
        if n > 30 {
            return None;
        }
        Some(Self::encode(
            3,
            3,
            14,
            0b1100 | (n as u64 >> 3),
            n as u64 & 7,
        ))
    }

    /// The same register, accessed as 128 bits.
    #[must_use]
    pub const fn as_128bit(self) -> Self {
        Self(self.0 | Self::SYSREG128)
    }

    /// Whether the access is 128 bits wide.
    #[must_use]
    pub const fn is_128bit(self) -> bool {
        self.0 & Self::SYSREG128 != 0
    }

    /// Wraps a raw register value, keeping every bit.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The register value (`x2`).
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        self.0
    }
}

/// `RsiPlaneEnter`: what plane 0 gives the RMM to run plane N (2048 bytes, the first half of
/// [`RsiPlaneRun`]). Layout from TF-RMM v0.9.0 `smc-rsi.h` (cca-abi.md §3.3, R9 column).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RsiPlaneEnter {
    /// 0x000: [`PlaneEnterFlags`].
    pub flags: u64,
    /// 0x008: program counter of plane N.
    pub pc: u64,
    /// 0x010: PSTATE of plane N; TF-RMM refuses AArch32 (`RSI_ERROR_INPUT`).
    pub pstate: u64,
    /// 0x018: reserved.
    pub reserved_018: [u8; 0x100 - 0x018],
    /// 0x100: `x0` to `x30` of plane N.
    pub gprs: [u64; PLANE_GPRS],
    /// 0x1F8: reserved.
    pub reserved_1f8: [u8; 0x200 - 0x1F8],
    /// 0x200: `ICH_HCR_EL2` for plane N (used unless [`PlaneEnterFlags::OWN_GIC`]).
    pub gicv3_hcr: u64,
    /// 0x208: GIC list registers for plane N (used unless [`PlaneEnterFlags::OWN_GIC`]).
    pub gicv3_lrs: [u64; PLANE_GIC_LRS],
    /// 0x288: reserved.
    pub reserved_288: [u8; 0x400 - 0x288],
    /// 0x400: `ELR_EL1` of plane N (new in TF-RMM v0.9.0).
    pub elr_el1: u64,
    /// 0x408: reserved to the end of the half.
    pub reserved_408: [u8; 0x800 - 0x408],
}

/// `RsiPlaneExit`: what the RMM reports to plane 0 when plane N exits (2048 bytes, the second
/// half of [`RsiPlaneRun`]). Layout from TF-RMM v0.9.0 `smc-rsi.h` (cca-abi.md §3.3, R9
/// column); TF-RMM zeroes the whole half before filling it (`runtime/core/exit.c`).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RsiPlaneExit {
    /// 0x000: [`RsiPlaneExitReason`] (one byte).
    pub reason: u8,
    /// 0x001: rest of the `reason` slot.
    pub reserved_001: [u8; 7],
    /// 0x008: `ELR_EL2`: where plane N stopped.
    pub elr_el2: u64,
    /// 0x010: PSTATE of plane N.
    pub pstate: u64,
    /// 0x018: reserved.
    pub reserved_018: [u8; 0x100 - 0x018],
    /// 0x100: `x0` to `x30` of plane N.
    pub gprs: [u64; PLANE_GPRS],
    /// 0x1F8: reserved.
    pub reserved_1f8: [u8; 0x200 - 0x1F8],
    /// 0x200: `ESR_EL2` of the exit.
    pub esr_el2: u64,
    /// 0x208: `FAR_EL2` of the exit.
    pub far_el2: u64,
    /// 0x210: `HPFAR_EL2` of the exit.
    pub hpfar_el2: u64,
    /// 0x218: reserved.
    pub reserved_218: [u8; 0x300 - 0x218],
    /// 0x300: `ICH_HCR_EL2` of plane N.
    pub gicv3_hcr: u64,
    /// 0x308: GIC list registers of plane N.
    pub gicv3_lrs: [u64; PLANE_GIC_LRS],
    /// 0x388: `ICH_MISR_EL2`.
    pub gicv3_misr: u64,
    /// 0x390: `ICH_VMCR_EL2`.
    pub gicv3_vmcr: u64,
    /// 0x398: reserved.
    pub reserved_398: [u8; 0x400 - 0x398],
    /// 0x400: `CNTP_CTL_EL0` of plane N.
    pub cntp_ctl: u64,
    /// 0x408: `CNTP_CVAL_EL0` of plane N.
    pub cntp_cval: u64,
    /// 0x410: `CNTV_CTL_EL0` of plane N.
    pub cntv_ctl: u64,
    /// 0x418: `CNTV_CVAL_EL0` of plane N.
    pub cntv_cval: u64,
    /// 0x420: reserved.
    pub reserved_420: [u8; 0x500 - 0x420],
    /// 0x500: `SCTLR_EL1` of plane N.
    pub sctlr_el1: u64,
    /// 0x508: `VBAR_EL1` of plane N.
    pub vbar_el1: u64,
    /// 0x510: `ELR_EL1` of plane N.
    pub elr_el1: u64,
    /// 0x518: reserved.
    pub reserved_518: [u8; 0x600 - 0x518],
    /// 0x600: [`RsiPmuOverflowStatus`] (one byte).
    pub pmu_ovf_status: u8,
    /// 0x601: reserved to the end of the half.
    pub reserved_601: [u8; 0x800 - 0x601],
}

/// `RsiPlaneRun`: the granule plane 0 passes to `RSI_PLANE_ENTER` (4096 bytes, granule
/// aligned): [`RsiPlaneEnter`] at 0x000, [`RsiPlaneExit`] at 0x800 (TF-RMM v0.9.0
/// `smc-rsi.h`, cca-abi.md §3.3).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RsiPlaneRun {
    /// 0x000: entry to plane N.
    pub enter: RsiPlaneEnter,
    /// 0x800: exit from plane N.
    pub exit: RsiPlaneExit,
}

const _: () = {
    assert!(size_of::<RsiPlaneEnter>() == 0x800);
    assert!(offset_of!(RsiPlaneEnter, flags) == 0x000);
    assert!(offset_of!(RsiPlaneEnter, pc) == 0x008);
    assert!(offset_of!(RsiPlaneEnter, pstate) == 0x010);
    assert!(offset_of!(RsiPlaneEnter, gprs) == 0x100);
    assert!(offset_of!(RsiPlaneEnter, gicv3_hcr) == 0x200);
    assert!(offset_of!(RsiPlaneEnter, gicv3_lrs) == 0x208);
    assert!(offset_of!(RsiPlaneEnter, elr_el1) == 0x400);
    assert!(size_of::<RsiPlaneExit>() == 0x800);
    assert!(offset_of!(RsiPlaneExit, reason) == 0x000);
    assert!(offset_of!(RsiPlaneExit, elr_el2) == 0x008);
    assert!(offset_of!(RsiPlaneExit, pstate) == 0x010);
    assert!(offset_of!(RsiPlaneExit, gprs) == 0x100);
    assert!(offset_of!(RsiPlaneExit, esr_el2) == 0x200);
    assert!(offset_of!(RsiPlaneExit, far_el2) == 0x208);
    assert!(offset_of!(RsiPlaneExit, hpfar_el2) == 0x210);
    assert!(offset_of!(RsiPlaneExit, gicv3_hcr) == 0x300);
    assert!(offset_of!(RsiPlaneExit, gicv3_lrs) == 0x308);
    assert!(offset_of!(RsiPlaneExit, gicv3_misr) == 0x388);
    assert!(offset_of!(RsiPlaneExit, gicv3_vmcr) == 0x390);
    assert!(offset_of!(RsiPlaneExit, cntp_ctl) == 0x400);
    assert!(offset_of!(RsiPlaneExit, cntp_cval) == 0x408);
    assert!(offset_of!(RsiPlaneExit, cntv_ctl) == 0x410);
    assert!(offset_of!(RsiPlaneExit, cntv_cval) == 0x418);
    assert!(offset_of!(RsiPlaneExit, sctlr_el1) == 0x500);
    assert!(offset_of!(RsiPlaneExit, vbar_el1) == 0x508);
    assert!(offset_of!(RsiPlaneExit, elr_el1) == 0x510);
    assert!(offset_of!(RsiPlaneExit, pmu_ovf_status) == 0x600);
    assert!(size_of::<RsiPlaneRun>() == GRANULE_SIZE);
    assert!(core::mem::align_of::<RsiPlaneRun>() == GRANULE_SIZE);
    assert!(offset_of!(RsiPlaneRun, enter) == 0x000);
    assert!(offset_of!(RsiPlaneRun, exit) == 0x800);
};

impl RsiPlaneRun {
    /// An all-zero run structure.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as FromZeros>::new_zeroed()
    }
}

crate::rmi::flag_word! {
    /// `RsiVdevFlags`: `RsiVdevInfo.flags` (TF-RMM v0.9.0 `smc-rsi.h`). The header's comment
    /// on the field names `RsiDevFlags` (whose bit 0 is `P2P`), while `vsmmu_addr` and
    /// `vsmmu_vsid` depend on `flags.vsmmu`; this follows the latter. TF-RMM v0.9.0
    /// (`runtime/rsi/vdev.c`) leaves the field zero.
    VdevFlags {
        /// Bit 0 `VSMMU`: the device sits behind a virtual SMMU; `vsmmu_addr` and
        /// `vsmmu_vsid` are valid.
        VSMMU = 0;
    }
}

crate::rmi::flag_word! {
    /// `RsiRdevValidateIoFlags`: `x5` of `RSI_VDEV_VALIDATE_MAPPING` (TF-RMM v0.9.0
    /// `smc-rsi.h`).
    DevMemFlags {
        /// Bit 0 (`RsiDevMemShared`): 1 = `SHARED`, 0 = `PRIVATE` mapping.
        SHARED = 0;
        /// Bit 1 (`RsiDevMemCoherent`): 1 = `COHERENT`, 0 = `NON_COHERENT`: whether the
        /// memory is in the system's coherent memory space.
        COHERENT = 1;
    }
}

crate::rmi::abi_enum! {
    /// `RsiVdevState`: `RsiVdevInfo.state` (TF-RMM v0.9.0 `smc-rsi.h`).
    RsiVdevState {
        /// `UNLOCKED` (0).
        Unlocked = 0,
        /// `LOCKED` (1): the device interface is locked (TDISP CONFIG_LOCKED).
        Locked = 1,
        /// `STARTED` (2): the device interface runs (TDISP RUN).
        Started = 2,
        /// `ERROR` (3).
        Error = 3,
    }
}

crate::rmi::abi_enum! {
    /// `RsiVdevReportFormatType`: `RsiVdevInfo.format_type` (TF-RMM v0.9.0 `smc-rsi.h`).
    RsiVdevReportFormat {
        /// `IMPDEF` (0): implementation defined.
        Impdef = 0,
        /// `TDISP` (1): a PCIe TDISP interface report; `format_version` is the TDISP version,
        /// major in bits 31:16 and minor in 15:0.
        Tdisp = 1,
    }
}

/// `RsiVdevInfo`: what `RSI_VDEV_GET_INFO` writes about an assigned device (512 bytes,
/// 512-byte aligned). Layout from TF-RMM v0.9.0 `smc-rsi.h`; `runtime/rsi/vdev.c` zeroes
/// the structure before it fills it in, so reserved bytes read as zero.
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(512))]
pub struct RsiVdevInfo {
    /// 0x000: [`VdevFlags`].
    pub flags: u64,
    /// 0x008: certificate slot of the device.
    pub cert_id: u64,
    /// 0x010: hash algorithm of the digests (`RsiHashAlgorithm`: 0 SHA-256, 1 SHA-512,
    /// 2 SHA-384).
    pub hash_algo: u8,
    /// 0x011: rest of the `hash_algo` slot.
    pub reserved_011: [u8; 7],
    /// 0x018: nonce of the last transition to `LOCKED`.
    pub lock_nonce: u64,
    /// 0x020: nonce of the last `GET_MEASUREMENT` request.
    pub meas_nonce: u64,
    /// 0x028: nonce of the last `GET_INTERFACE_REPORT` request.
    pub report_nonce: u64,
    /// 0x030: [`RsiVdevReportFormat`] (one byte).
    pub format_type: u8,
    /// 0x031: rest of the `format_type` slot.
    pub reserved_031: [u8; 7],
    /// 0x038: report format version (for TDISP: major in bits 31:16, minor in 15:0).
    pub format_version: u64,
    /// 0x040: [`RsiVdevState`] (one byte).
    pub state: u8,
    /// 0x041: reserved.
    pub reserved_041: [u8; 0x80 - 0x41],
    /// 0x080: digest of the device's VCA (SPDM version, capabilities and algorithms).
    pub vca_digest: [u8; VDEV_DIGEST_SIZE],
    /// 0x0C0: digest of the device's certificate chain.
    pub cert_digest: [u8; VDEV_DIGEST_SIZE],
    /// 0x100: digest of the device's public key.
    pub pubkey_digest: [u8; VDEV_DIGEST_SIZE],
    /// 0x140: digest of the device's measurements.
    pub meas_digest: [u8; VDEV_DIGEST_SIZE],
    /// 0x180: digest of the interface report.
    pub report_digest: [u8; VDEV_DIGEST_SIZE],
    /// 0x1C0: IPA of the virtual SMMU (valid with [`VdevFlags::VSMMU`]).
    pub vsmmu_addr: u64,
    /// 0x1C8: virtual stream id (valid with [`VdevFlags::VSMMU`]).
    pub vsmmu_vsid: u64,
    /// 0x1D0: reserved to the end of the structure.
    pub reserved_1d0: [u8; 0x200 - 0x1D0],
}

const _: () = {
    assert!(size_of::<RsiVdevInfo>() == 0x200);
    assert!(core::mem::align_of::<RsiVdevInfo>() as u64 == VDEV_INFO_ALIGN);
    assert!(offset_of!(RsiVdevInfo, flags) == 0x000);
    assert!(offset_of!(RsiVdevInfo, cert_id) == 0x008);
    assert!(offset_of!(RsiVdevInfo, hash_algo) == 0x010);
    assert!(offset_of!(RsiVdevInfo, lock_nonce) == 0x018);
    assert!(offset_of!(RsiVdevInfo, meas_nonce) == 0x020);
    assert!(offset_of!(RsiVdevInfo, report_nonce) == 0x028);
    assert!(offset_of!(RsiVdevInfo, format_type) == 0x030);
    assert!(offset_of!(RsiVdevInfo, format_version) == 0x038);
    assert!(offset_of!(RsiVdevInfo, state) == 0x040);
    assert!(offset_of!(RsiVdevInfo, vca_digest) == 0x080);
    assert!(offset_of!(RsiVdevInfo, cert_digest) == 0x0C0);
    assert!(offset_of!(RsiVdevInfo, pubkey_digest) == 0x100);
    assert!(offset_of!(RsiVdevInfo, meas_digest) == 0x140);
    assert!(offset_of!(RsiVdevInfo, report_digest) == 0x180);
    assert!(offset_of!(RsiVdevInfo, vsmmu_addr) == 0x1C0);
    assert!(offset_of!(RsiVdevInfo, vsmmu_vsid) == 0x1C8);
};

impl RsiVdevInfo {
    /// An all-zero structure.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as FromZeros>::new_zeroed()
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
    /// `RSI_VSMMU_GET_INFO` (RSI 1.1): TF-RMM v0.9.0 documents no registers; none are sent.
    VsmmuGetInfo,
    /// `RSI_ARCH_DEV_ACTIVATE` (RSI 1.1): TF-RMM v0.9.0 documents no registers; none are
    /// sent.
    ArchDevActivate,
    /// `RSI_VDEV_DMA_ENABLE(x1 = vdev id, x2 = flags, x3 = non-ATS plane, x4 = lock nonce,
    /// x5 = measurement nonce, x6 = report nonce)` (RSI 1.1; TF-RMM v0.9.0
    /// `runtime/rsi/vdev.c`).
    VdevDmaEnable {
        /// Realm device identifier.
        vdev_id: u64,
        /// Flags; TF-RMM v0.9.0 defines none and does not read the register.
        flags: u64,
        /// Plane whose stage-2 permissions apply to the device's non-ATS requests.
        non_ats_plane: u64,
        /// `RsiVdevInfo.lock_nonce` the realm checked.
        lock_nonce: u64,
        /// `RsiVdevInfo.meas_nonce` the realm checked.
        meas_nonce: u64,
        /// `RsiVdevInfo.report_nonce` the realm checked.
        report_nonce: u64,
    },
    /// `RSI_VDEV_GET_INFO(x1 = vdev id, x2 = IPA of an RsiVdevInfo)` (RSI 1.1).
    VdevGetInfo {
        /// Realm device identifier.
        vdev_id: u64,
        /// IPA to write the `RsiVdevInfo` to (512-byte aligned).
        ipa: u64,
    },
    /// `RSI_VDEV_VALIDATE_MAPPING(x1 = vdev id, x2 = IPA base, x3 = IPA top, x4 = PA base,
    /// x5 = flags, x6 = lock nonce, x7 = measurement nonce, x8 = report nonce)` (RSI 1.1;
    /// replies `x1` = next base, `x2` = `RsiResponse`).
    VdevValidateMapping {
        /// Realm device identifier.
        vdev_id: u64,
        /// Base of the IPA range.
        ipa_base: u64,
        /// Top (exclusive) of the IPA range.
        ipa_top: u64,
        /// Physical address the range maps to.
        pa_base: u64,
        /// [`DevMemFlags`].
        flags: u64,
        /// `RsiVdevInfo.lock_nonce` the realm checked.
        lock_nonce: u64,
        /// `RsiVdevInfo.meas_nonce` the realm checked.
        meas_nonce: u64,
        /// `RsiVdevInfo.report_nonce` the realm checked.
        report_nonce: u64,
    },
    /// `RSI_MEM_GET_PERM_VALUE(x1 = plane, x2 = permission index)` (RSI 1.1; replies `x1` =
    /// the [`MemPermValue`]).
    MemGetPermValue {
        /// Plane index (0 is plane 0).
        plane: u64,
        /// Permission index.
        index: u64,
    },
    /// `RSI_MEM_SET_PERM_INDEX(x1 = base, x2 = top, x3 = permission index, x4 = cookie)`
    /// (RSI 1.1; replies `x1` = next base, `x2` = `RsiResponse`, `x3` = next cookie).
    MemSetPermIndex {
        /// Base of the range.
        base: u64,
        /// Top (exclusive) of the range.
        top: u64,
        /// Permission index.
        index: u64,
        /// Cookie: 0 to start, then the one the previous call returned.
        cookie: u64,
    },
    /// `RSI_MEM_SET_PERM_VALUE(x1 = plane, x2 = permission index, x3 = value)` (RSI 1.1).
    MemSetPermValue {
        /// Plane index (an auxiliary plane).
        plane: u64,
        /// Permission index.
        index: u64,
        /// [`MemPermValue`].
        value: u64,
    },
    /// `RSI_PLANE_ENTER(x1 = plane, x2 = IPA of an RsiPlaneRun)` (RSI 1.1).
    PlaneEnter {
        /// Plane index (an auxiliary plane).
        plane: u64,
        /// IPA of the `RsiPlaneRun` granule.
        run: u64,
    },
    /// `RSI_VDEV_DMA_DISABLE(x1 = vdev id)` (RSI 1.1).
    VdevDmaDisable {
        /// Realm device identifier.
        vdev_id: u64,
    },
    /// `RSI_PLANE_SYSREG_READ(x1 = plane, x2 = register)` (RSI 1.1; replies `x1` = the value,
    /// `x2` = its upper 64 bits for a 128-bit access, else 0).
    PlaneSysregRead {
        /// Plane index (an auxiliary plane).
        plane: u64,
        /// [`SysregEncoding`].
        sysreg: u64,
    },
    /// `RSI_PLANE_SYSREG_WRITE(x1 = plane, x2 = register, x3 = value, x4 = upper 64 bits
    /// of a 128-bit value)` (RSI 1.1; TF-RMM v0.9.0 `runtime/rsi/planes.c` reads `x4` only
    /// for a 128-bit access).
    PlaneSysregWrite {
        /// Plane index (an auxiliary plane).
        plane: u64,
        /// [`SysregEncoding`].
        sysreg: u64,
        /// Value, or its lower 64 bits.
        value: u64,
        /// Upper 64 bits of a 128-bit value.
        value_hi: u64,
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
            Self::VsmmuGetInfo => RSI_VSMMU_GET_INFO,
            Self::ArchDevActivate => RSI_ARCH_DEV_ACTIVATE,
            Self::VdevDmaEnable { .. } => RSI_VDEV_DMA_ENABLE,
            Self::VdevGetInfo { .. } => RSI_VDEV_GET_INFO,
            Self::VdevValidateMapping { .. } => RSI_VDEV_VALIDATE_MAPPING,
            Self::MemGetPermValue { .. } => RSI_MEM_GET_PERM_VALUE,
            Self::MemSetPermIndex { .. } => RSI_MEM_SET_PERM_INDEX,
            Self::MemSetPermValue { .. } => RSI_MEM_SET_PERM_VALUE,
            Self::PlaneEnter { .. } => RSI_PLANE_ENTER,
            Self::VdevDmaDisable { .. } => RSI_VDEV_DMA_DISABLE,
            Self::PlaneSysregRead { .. } => RSI_PLANE_SYSREG_READ,
            Self::PlaneSysregWrite { .. } => RSI_PLANE_SYSREG_WRITE,
        }
    }

    /// Whether the command is an RSI 1.1 one (TF-RMM v0.9.0 `smc-rsi.h`, cca-abi.md §2.3).
    #[must_use]
    pub const fn is_rsi_1_1(&self) -> bool {
        self.fid() >= RSI_VSMMU_GET_INFO
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
            | Self::HostCall { ipa: a }
            | Self::VdevDmaDisable { vdev_id: a } => regs(fid, &[a]),
            Self::VsmmuGetInfo | Self::ArchDevActivate => regs(fid, &[]),
            Self::VdevDmaEnable {
                vdev_id,
                flags,
                non_ats_plane,
                lock_nonce,
                meas_nonce,
                report_nonce,
            } => regs(
                fid,
                &[
                    vdev_id,
                    flags,
                    non_ats_plane,
                    lock_nonce,
                    meas_nonce,
                    report_nonce,
                ],
            ),
            Self::VdevGetInfo { vdev_id: a, ipa: b }
            | Self::MemGetPermValue { plane: a, index: b }
            | Self::PlaneEnter { plane: a, run: b }
            | Self::PlaneSysregRead {
                plane: a,
                sysreg: b,
            } => regs(fid, &[a, b]),
            Self::VdevValidateMapping {
                vdev_id,
                ipa_base,
                ipa_top,
                pa_base,
                flags,
                lock_nonce,
                meas_nonce,
                report_nonce,
            } => regs(
                fid,
                &[
                    vdev_id,
                    ipa_base,
                    ipa_top,
                    pa_base,
                    flags,
                    lock_nonce,
                    meas_nonce,
                    report_nonce,
                ],
            ),
            Self::MemSetPermIndex {
                base,
                top,
                index,
                cookie,
            } => regs(fid, &[base, top, index, cookie]),
            Self::MemSetPermValue {
                plane,
                index,
                value,
            } => regs(fid, &[plane, index, value]),
            Self::PlaneSysregWrite {
                plane,
                sysreg,
                value,
                value_hi,
            } => regs(fid, &[plane, sysreg, value, value_hi]),
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

    /// Decodes the registers of an SMC; `None` if `x0` is not the function id of an RSI 1.0
    /// or TF-RMM v0.9.0 RSI 1.1 command.
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
            RSI_VSMMU_GET_INFO => Self::VsmmuGetInfo,
            RSI_ARCH_DEV_ACTIVATE => Self::ArchDevActivate,
            RSI_VDEV_DMA_ENABLE => Self::VdevDmaEnable {
                vdev_id: r[1],
                flags: r[2],
                non_ats_plane: r[3],
                lock_nonce: r[4],
                meas_nonce: r[5],
                report_nonce: r[6],
            },
            RSI_VDEV_GET_INFO => Self::VdevGetInfo {
                vdev_id: r[1],
                ipa: r[2],
            },
            RSI_VDEV_VALIDATE_MAPPING => Self::VdevValidateMapping {
                vdev_id: r[1],
                ipa_base: r[2],
                ipa_top: r[3],
                pa_base: r[4],
                flags: r[5],
                lock_nonce: r[6],
                meas_nonce: r[7],
                report_nonce: r[8],
            },
            RSI_MEM_GET_PERM_VALUE => Self::MemGetPermValue {
                plane: r[1],
                index: r[2],
            },
            RSI_MEM_SET_PERM_INDEX => Self::MemSetPermIndex {
                base: r[1],
                top: r[2],
                index: r[3],
                cookie: r[4],
            },
            RSI_MEM_SET_PERM_VALUE => Self::MemSetPermValue {
                plane: r[1],
                index: r[2],
                value: r[3],
            },
            RSI_PLANE_ENTER => Self::PlaneEnter {
                plane: r[1],
                run: r[2],
            },
            RSI_VDEV_DMA_DISABLE => Self::VdevDmaDisable { vdev_id: r[1] },
            RSI_PLANE_SYSREG_READ => Self::PlaneSysregRead {
                plane: r[1],
                sysreg: r[2],
            },
            RSI_PLANE_SYSREG_WRITE => Self::PlaneSysregWrite {
                plane: r[1],
                sysreg: r[2],
                value: r[3],
                value_hi: r[4],
            },
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

    /// Every RSI 1.1 command of TF-RMM v0.9.0 survives a round trip with distinct values in
    /// every register it uses (`smc-rsi.h`, cca-abi.md §2.3).
    #[test]
    fn rsi_1_1_commands_round_trip() {
        let cmds = [
            RsiCommand::VsmmuGetInfo,
            RsiCommand::ArchDevActivate,
            RsiCommand::VdevDmaEnable {
                vdev_id: 1,
                flags: 2,
                non_ats_plane: 3,
                lock_nonce: 4,
                meas_nonce: 5,
                report_nonce: 6,
            },
            RsiCommand::VdevGetInfo {
                vdev_id: 7,
                ipa: 0x8000_0200,
            },
            RsiCommand::VdevValidateMapping {
                vdev_id: 1,
                ipa_base: 2,
                ipa_top: 3,
                pa_base: 4,
                flags: 5,
                lock_nonce: 6,
                meas_nonce: 7,
                report_nonce: 8,
            },
            RsiCommand::MemGetPermValue { plane: 1, index: 2 },
            RsiCommand::MemSetPermIndex {
                base: 0x1000,
                top: 0x3000,
                index: 4,
                cookie: 0x1001,
            },
            RsiCommand::MemSetPermValue {
                plane: 2,
                index: 3,
                value: 15,
            },
            RsiCommand::PlaneEnter {
                plane: 1,
                run: 0x4000,
            },
            RsiCommand::VdevDmaDisable { vdev_id: 9 },
            RsiCommand::PlaneSysregRead {
                plane: 3,
                sysreg: SysregEncoding::SCTLR_EL1.to_raw(),
            },
            RsiCommand::PlaneSysregWrite {
                plane: 3,
                sysreg: SysregEncoding::TTBR0_EL1.as_128bit().to_raw(),
                value: 0x1234,
                value_hi: 0x5678,
            },
        ];
        for cmd in cmds {
            assert!(cmd.is_rsi_1_1(), "{:#x}", cmd.fid());
            assert!(fid_name(cmd.fid()).is_some());
            assert_eq!(RsiCommand::from_regs(&cmd.to_regs()).as_ref(), Some(&cmd));
        }
        assert!(!RsiCommand::HostCall { ipa: 0 }.is_rsi_1_1());
    }

    /// TF-RMM v0.9.0 `runtime/rsi/vdev.c` reads the device id from x1 and, for
    /// VALIDATE_MAPPING, the three nonces from x6..x8; `planes.c` reads the upper half of a
    /// 128-bit value from x4.
    #[test]
    fn rsi_1_1_register_placement() {
        let r = RsiCommand::VdevValidateMapping {
            vdev_id: 0x11,
            ipa_base: 0x22,
            ipa_top: 0x33,
            pa_base: 0x44,
            flags: 0x55,
            lock_nonce: 0x66,
            meas_nonce: 0x77,
            report_nonce: 0x88,
        }
        .to_regs();
        assert_eq!(
            &r[..10],
            &[
                u64::from(RSI_VDEV_VALIDATE_MAPPING),
                0x11,
                0x22,
                0x33,
                0x44,
                0x55,
                0x66,
                0x77,
                0x88,
                0
            ]
        );
        let r = RsiCommand::VdevDmaEnable {
            vdev_id: 1,
            flags: 0,
            non_ats_plane: 2,
            lock_nonce: 3,
            meas_nonce: 4,
            report_nonce: 5,
        }
        .to_regs();
        assert_eq!(&r[1..8], &[1, 0, 2, 3, 4, 5, 0]);
        let r = RsiCommand::PlaneSysregWrite {
            plane: 1,
            sysreg: 2,
            value: 3,
            value_hi: 4,
        }
        .to_regs();
        assert_eq!(&r[1..6], &[1, 2, 3, 4, 0]);
        assert_eq!(RsiCommand::VsmmuGetInfo.to_regs()[1..], [0; 17]);
    }

    /// `RsiSysregAddress` uses KVM's encoding, so the values match KVM's register ids
    /// (`ARM64_SYS_REG`): SCTLR_EL1 0xC080, TTBR0_EL1 0xC100, VBAR_EL1 0xC600,
    /// PMEVCNTR0_EL0 0xDF40, PMEVTYPER30_EL0 0xDF7E.
    #[test]
    fn sysreg_encodings() {
        assert_eq!(SysregEncoding::SCTLR_EL1.to_raw(), 0xC080);
        assert_eq!(SysregEncoding::TTBR0_EL1.to_raw(), 0xC100);
        assert_eq!(SysregEncoding::VBAR_EL1.to_raw(), 0xC600);
        assert_eq!(
            SysregEncoding::new(3, 0, 1, 0, 0),
            Some(SysregEncoding::SCTLR_EL1)
        );
        assert_eq!(SysregEncoding::new(4, 0, 0, 0, 0), None);
        assert_eq!(SysregEncoding::new(3, 8, 0, 0, 0), None);
        assert_eq!(SysregEncoding::new(3, 0, 16, 0, 0), None);
        assert_eq!(SysregEncoding::new(3, 0, 0, 16, 0), None);
        assert_eq!(SysregEncoding::new(3, 0, 0, 0, 8), None);
        assert_eq!(
            SysregEncoding::pmevcntr_el0(0).map(SysregEncoding::to_raw),
            Some(0xDF40)
        );
        assert_eq!(
            SysregEncoding::pmevtyper_el0(30).map(SysregEncoding::to_raw),
            Some(0xDF7E)
        );
        assert_eq!(SysregEncoding::pmevcntr_el0(31), None);
        let wide = SysregEncoding::PAR_EL1.as_128bit();
        assert!(wide.is_128bit() && !SysregEncoding::PAR_EL1.is_128bit());
        assert_eq!(wide.to_raw(), SysregEncoding::PAR_EL1.to_raw() | 1 << 16);
        assert_eq!(SysregEncoding::ALL.len(), 55);
        for (i, a) in SysregEncoding::ALL.iter().enumerate() {
            assert!(a.to_raw() < 1 << 16);
            assert!(
                !SysregEncoding::ALL[i + 1..].contains(a),
                "{:#x}",
                a.to_raw()
            );
        }
    }

    /// Stage-2 permission values are 4 bits (`s2ap_ind.h`); RsiPlaneExitReason, RsiVdevState
    /// and the report format are the `smc-rsi.h` values.
    #[test]
    fn rsi_1_1_enumerations() {
        for raw in 0..16 {
            let v = MemPermValue::from_raw(raw).unwrap();
            assert_eq!(v.to_raw(), raw);
            assert!(!v.name().is_empty());
        }
        assert_eq!(MemPermValue::from_raw(16), None);
        assert_eq!(MemPermValue::RwUpx.name(), "RW_upX");
        assert_eq!(
            RsiPlaneExitReason::from_raw(2),
            Some(RsiPlaneExitReason::Host)
        );
        assert_eq!(RsiPlaneExitReason::from_raw(3), None);
        assert_eq!(RsiVdevState::from_raw(3), Some(RsiVdevState::Error));
        assert_eq!(RsiVdevState::from_raw(4), None);
        assert_eq!(
            RsiVdevReportFormat::from_raw(1),
            Some(RsiVdevReportFormat::Tdisp)
        );
        assert_eq!(PlaneEnterFlags::TRAP_DBG.to_raw(), 1 << 5);
        assert_eq!(PlaneEnterFlags::DEFINED.to_raw(), 0x3f);
        assert_eq!(DevMemFlags::DEFINED.to_raw(), 0b11);
        assert_eq!(VdevFlags::VSMMU.to_raw(), 1);
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
        // Ids inside the RSI range that no TF-RMM v0.9.0 command uses.
        for unused in [0xC400_019E, 0xC400_01A5, 0xC400_01AC, 0xC400_01AD] {
            assert_eq!(RsiCommand::from_regs(&regs(unused, &[])), None);
        }
        assert_eq!(RsiCommand::from_regs(&regs(RSI_RDEV_P2P_BIND, &[])), None);
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
