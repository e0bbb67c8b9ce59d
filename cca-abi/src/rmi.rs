//! Realm Management Interface (RMI): the calls a host makes to the RMM.
//!
//! DEN0137 1.0-rel0 chapter B4; function ids, registers, status codes and structures as
//! TF-RMM `tf-rmm-v0.8.0` defines them in `lib/smc/include/smc-rmi.h` and
//! `lib/common/include/status.h`, cross-checked against the KVM-CCA host's `rmi_smc.h`
//! (cca-abi.md §4, §5).
//!
//! - the function ids below, one constant per command, spelled as in the specification;
//! - [`RmiStatus`] and [`RmiReturn`]: the status a command leaves in `x0` (§4.2);
//! - [`RmiFeatureRegister0`]: what `RMI_FEATURES(0)` reports (§4.3);
//! - the enumerations of §4.4 and the exit reasons of §5.3;
//! - [`RmiRealmParams`], [`RmiRecParams`] and [`RmiRecRun`]: the granule-sized structures the
//!   host passes by physical address (§5);
//! - [`RmiCommand`] and [`RmiReply`]: a register codec for every command, used by the host shim
//!   to encode and by the software RMM model to decode;
//! - [`Granule`], [`Ipa`] and [`RttLevel`]: address and level newtypes that are valid by
//!   construction;
//! - [`fids`]: RMI 2.0's function ids (TF-RMM v0.9.0) beside 1.0's, the [`Generation`]
//!   enum, and [`fid_name`] for readable errors;
//! - RMI 2.0 (TF-RMM v0.9.0, digest rmi2.md): the feature registers
//!   [`RmiFeatureRegister0V2`] to [`RmiFeatureRegister4`], the stateful-operation encodings
//!   [`RmiOpMemDonateReq`] and [`RmiAddrRangeDesc`], the structures [`RmiRmmConfig`],
//!   [`RmiRealmParams2`], [`RmiRecParams2`] and [`RmiRecRun2`], and [`RmiExitReason2`].

mod addr;
mod command;
mod features;
mod features2;
pub mod fids;
mod sro;
mod status;
mod structs;
mod structs2;
mod types;

pub use addr::{Granule, Ipa, RttLevel};
pub use command::{RmiCommand, RmiReply};
pub use features::RmiFeatureRegister0;
pub use features2::{
    RmiFeatureRegister0V2, RmiFeatureRegister1, RmiFeatureRegister2, RmiFeatureRegister3,
    RmiFeatureRegister4,
};
pub use fids::{Generation, fid_name};
pub use sro::{
    ADDR_LIST_ENTRIES, RmiAddrRangeDesc, RmiBlockSize, RmiOpMemDonateReq, RmiOpMemState,
};
pub use status::{RmiIncomplete, RmiOpMemReq, RmiReturn, RmiStatus};
pub use structs::{
    REC_CREATE_GPRS, REC_EXIT_GPRS, REC_GIC_LRS, REC_MAX_AUX, RmiRealmParams, RmiRecEnter,
    RmiRecExit, RmiRecParams, RmiRecRun,
};
pub use structs2::{
    RmiExitReason2, RmiRealmParams2, RmiRecEnter2, RmiRecExit2, RmiRecParams2, RmiRecRun2,
    RmiRmmConfig,
};
pub use types::{
    RealmFlags, RecCreateFlags, RecEnterFlags, RmiDataMeasureContent, RmiExitReason,
    RmiPmuOverflowStatus, RmiResponse, RmiRttEntryState,
};
pub(crate) use types::{abi_enum, flag_word};

/// `RmiHashAlgorithm` (cca-abi.md §4.4): `SHA_256` = 0, `SHA_512` = 1.
///
/// The RMI and RSI encodings are the same, so this is the crate's one hash-algorithm type.
pub use crate::measurement::HashAlgorithm as RmiHashAlgorithm;
/// `RmiRipas` (cca-abi.md §4.4): `EMPTY` 0, `RAM` 1, `DESTROYED` 2, and `DEV` 3 in RMI 1.1.
///
/// The RMI and RSI encodings are the same, so this is [`crate::rsi::Ripas`].
pub use crate::rsi::Ripas as RmiRipas;

/// `RMI_VERSION`: negotiate the interface revision (`…150`).
pub const RMI_VERSION: u32 = 0xC400_0150;
/// `RMI_GRANULE_DELEGATE`: make a granule usable by the RMM (`…151`).
pub const RMI_GRANULE_DELEGATE: u32 = 0xC400_0151;
/// `RMI_GRANULE_UNDELEGATE`: give a delegated granule back to the host (`…152`).
pub const RMI_GRANULE_UNDELEGATE: u32 = 0xC400_0152;
/// `RMI_DATA_CREATE`: create a DATA granule from host memory, measured into the RIM (`…153`).
pub const RMI_DATA_CREATE: u32 = 0xC400_0153;
/// `RMI_DATA_CREATE_UNKNOWN`: create a DATA granule with unknown content (`…154`).
pub const RMI_DATA_CREATE_UNKNOWN: u32 = 0xC400_0154;
/// `RMI_DATA_DESTROY`: destroy a DATA granule (`…155`).
pub const RMI_DATA_DESTROY: u32 = 0xC400_0155;
/// `RMI_REALM_ACTIVATE`: move a realm from NEW to ACTIVE (`…157`).
pub const RMI_REALM_ACTIVATE: u32 = 0xC400_0157;
/// `RMI_REALM_CREATE`: create a realm descriptor (`…158`).
pub const RMI_REALM_CREATE: u32 = 0xC400_0158;
/// `RMI_REALM_DESTROY`: destroy a realm descriptor (`…159`).
pub const RMI_REALM_DESTROY: u32 = 0xC400_0159;
/// `RMI_REC_CREATE`: create a realm execution context (`…15A`).
pub const RMI_REC_CREATE: u32 = 0xC400_015A;
/// `RMI_REC_DESTROY`: destroy a realm execution context (`…15B`).
pub const RMI_REC_DESTROY: u32 = 0xC400_015B;
/// `RMI_REC_ENTER`: run a REC until it exits to the host (`…15C`).
pub const RMI_REC_ENTER: u32 = 0xC400_015C;
/// `RMI_RTT_CREATE`: add a realm translation table (`…15D`).
pub const RMI_RTT_CREATE: u32 = 0xC400_015D;
/// `RMI_RTT_DESTROY`: remove a realm translation table (`…15E`).
pub const RMI_RTT_DESTROY: u32 = 0xC400_015E;
/// `RMI_RTT_MAP_UNPROTECTED`: map host memory at an unprotected IPA (`…15F`).
pub const RMI_RTT_MAP_UNPROTECTED: u32 = 0xC400_015F;
/// `RMI_RTT_READ_ENTRY`: read an RTT entry (`…161`).
pub const RMI_RTT_READ_ENTRY: u32 = 0xC400_0161;
/// `RMI_RTT_UNMAP_UNPROTECTED`: remove an unprotected mapping (`…162`).
pub const RMI_RTT_UNMAP_UNPROTECTED: u32 = 0xC400_0162;
/// `RMI_PSCI_COMPLETE`: complete a realm's `CPU_ON` or `AFFINITY_INFO` (`…164`).
pub const RMI_PSCI_COMPLETE: u32 = 0xC400_0164;
/// `RMI_FEATURES`: read a feature register (`…165`).
pub const RMI_FEATURES: u32 = 0xC400_0165;
/// `RMI_RTT_FOLD`: fold a homogeneous RTT into its parent entry (`…166`).
pub const RMI_RTT_FOLD: u32 = 0xC400_0166;
/// `RMI_REC_AUX_COUNT`: number of auxiliary granules a REC needs (`…167`).
pub const RMI_REC_AUX_COUNT: u32 = 0xC400_0167;
/// `RMI_RTT_INIT_RIPAS`: set the RIPAS of a NEW realm's range to RAM, measured (`…168`).
pub const RMI_RTT_INIT_RIPAS: u32 = 0xC400_0168;
/// `RMI_RTT_SET_RIPAS`: apply a REC's pending RIPAS change (`…169`).
pub const RMI_RTT_SET_RIPAS: u32 = 0xC400_0169;

/// Every RMI 1.0 function id, in function-number order (cca-abi.md §4.1).
pub const RMI_1_0_FIDS: [u32; 23] = [
    RMI_VERSION,
    RMI_GRANULE_DELEGATE,
    RMI_GRANULE_UNDELEGATE,
    RMI_DATA_CREATE,
    RMI_DATA_CREATE_UNKNOWN,
    RMI_DATA_DESTROY,
    RMI_REALM_ACTIVATE,
    RMI_REALM_CREATE,
    RMI_REALM_DESTROY,
    RMI_REC_CREATE,
    RMI_REC_DESTROY,
    RMI_REC_ENTER,
    RMI_RTT_CREATE,
    RMI_RTT_DESTROY,
    RMI_RTT_MAP_UNPROTECTED,
    RMI_RTT_READ_ENTRY,
    RMI_RTT_UNMAP_UNPROTECTED,
    RMI_PSCI_COMPLETE,
    RMI_FEATURES,
    RMI_RTT_FOLD,
    RMI_REC_AUX_COUNT,
    RMI_RTT_INIT_RIPAS,
    RMI_RTT_SET_RIPAS,
];

/// `REC_AUX_COUNT` as TF-RMM reports it: always 16 (`MAX_REC_AUX_GRANULES`, cca-abi.md §4.1).
pub const TF_RMM_REC_AUX_COUNT: u64 = 16;

#[cfg(test)]
mod tests {
    use super::*;

    /// cca-abi.md §4.1: FID = `0xC400_0150 + n`; `…156`, `…160` and `…163` are not RMI 1.0.
    #[test]
    fn function_numbers() {
        let numbers: [u32; 23] = [
            0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x57, 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E,
            0x5F, 0x61, 0x62, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
        ];
        for (fid, n) in RMI_1_0_FIDS.iter().zip(numbers) {
            assert_eq!(*fid, 0xC400_0100 + n);
        }
        for unused in [0xC400_0156, 0xC400_0160, 0xC400_0163] {
            assert!(!RMI_1_0_FIDS.contains(&unused));
        }
    }

    /// cca-abi.md §1.1: every RMI FID is a fast SMC64 call of the Standard Secure Service
    /// range (bit 31, bit 30, OEN 4) inside `0xC400_0150..=0xC400_0169`.
    #[test]
    fn function_id_format() {
        for fid in RMI_1_0_FIDS {
            assert_eq!(fid >> 24, 0xC4);
            assert_eq!((fid >> 16) & 0xFF, 0);
            assert!((0x150..=0x169).contains(&(fid & 0xFFFF)));
        }
    }
}
