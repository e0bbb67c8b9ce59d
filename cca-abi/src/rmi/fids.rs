//! Function ids by RMI generation, and their names.
//!
//! RMI 2.0 (TF-RMM v0.9.0, `lib/smc/include/smc-rmi.h` and the dispatch table in
//! `runtime/core/handler.c`) removes five RMI 1.0 commands, gives `…153` a new name with the
//! same arguments, and adds range delegation, unmeasured data mapping, the RMM's own
//! configuration and activation, and stateful operations. A number's meaning therefore
//! depends on the generation: [`fid_name`] names a function id for one of them.

use super::*;

/// An RMI generation: the interface a host and an RMM agreed on with `RMI_VERSION`.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Generation {
    /// RMI 1.0 (DEN0137 1.0-rel0; TF-RMM v0.8.0).
    V1_0,
    /// RMI 2.0 (TF-RMM v0.9.0 and main).
    V2_0,
}

impl Generation {
    /// The revision `RMI_VERSION` negotiates for this generation.
    #[must_use]
    pub const fn version(self) -> crate::AbiVersion {
        match self {
            Self::V1_0 => crate::AbiVersion::V1_0,
            Self::V2_0 => crate::AbiVersion::V2_0,
        }
    }

    /// The generation of a negotiated revision (major 1 or 2).
    #[must_use]
    pub const fn of(version: crate::AbiVersion) -> Option<Self> {
        match version.major {
            1 => Some(Self::V1_0),
            2 => Some(Self::V2_0),
            _ => None,
        }
    }
}

impl core::fmt::Display for Generation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::V1_0 => "RMI 1.0",
            Self::V2_0 => "RMI 2.0",
        })
    }
}

/// `RMI_RTT_DATA_MAP_INIT` (RMI 2.0): `…153`, the number of RMI 1.0's `RMI_DATA_CREATE`, with
/// the same five arguments (RD, data, IPA, source, flags); measured.
pub const RMI_RTT_DATA_MAP_INIT: u32 = 0xC400_0153;
/// `RMI_RMM_CONFIG_SET` (RMI 2.0): `x1` = PA of the RMM configuration.
pub const RMI_RMM_CONFIG_SET: u32 = 0xC400_016E;
/// `RMI_GRANULE_TRACKING_GET` (RMI 2.0).
pub const RMI_GRANULE_TRACKING_GET: u32 = 0xC400_01E1;
/// `RMI_RMM_CONFIG_GET` (RMI 2.0): `x1` = PA of a buffer for the RMM configuration.
pub const RMI_RMM_CONFIG_GET: u32 = 0xC400_01EC;
/// `RMI_GRANULE_RANGE_DELEGATE` (RMI 2.0): `x1` = base, `x2` = top; returns the next base.
pub const RMI_GRANULE_RANGE_DELEGATE: u32 = 0xC400_01F1;
/// `RMI_GRANULE_RANGE_UNDELEGATE` (RMI 2.0): `x1` = base, `x2` = top; returns the next base.
pub const RMI_GRANULE_RANGE_UNDELEGATE: u32 = 0xC400_01F2;
/// `RMI_GPT_L1_CREATE` (RMI 2.0).
pub const RMI_GPT_L1_CREATE: u32 = 0xC400_01F3;
/// `RMI_GPT_L1_DESTROY` (RMI 2.0; not dispatched by TF-RMM v0.9.0).
pub const RMI_GPT_L1_DESTROY: u32 = 0xC400_01F4;
/// `RMI_RTT_DATA_MAP` (RMI 2.0): unmeasured, zero-filled data.
pub const RMI_RTT_DATA_MAP: u32 = 0xC400_01F5;
/// `RMI_RTT_DATA_UNMAP` (RMI 2.0).
pub const RMI_RTT_DATA_UNMAP: u32 = 0xC400_01F6;
/// `RMI_RMM_ACTIVATE` (RMI 2.0): until it, most commands answer `RMI_ERROR_GLOBAL`.
pub const RMI_RMM_ACTIVATE: u32 = 0xC400_0202;
/// `RMI_OP_CONTINUE` (RMI 2.0): `x1` = operation handle, `x2` = flags.
pub const RMI_OP_CONTINUE: u32 = 0xC400_0203;
/// `RMI_OP_MEM_DONATE` (RMI 2.0): `x1` = handle, `x2` = PA of an address list, `x3` = entries.
pub const RMI_OP_MEM_DONATE: u32 = 0xC400_0208;
/// `RMI_OP_MEM_RECLAIM` (RMI 2.0): `x1` = handle, `x2` = PA of a list buffer, `x3` = capacity.
pub const RMI_OP_MEM_RECLAIM: u32 = 0xC400_0209;
/// `RMI_OP_CANCEL` (RMI 2.0): `x1` = handle.
pub const RMI_OP_CANCEL: u32 = 0xC400_020A;

/// The RMI 2.0 commands of realm lifecycle and memory, with their names, in function-number
/// order (TF-RMM v0.9.0 `runtime/core/handler.c`).
pub const RMI_2_0_LIFECYCLE: [(u32, &str); 31] = [
    (RMI_VERSION, "RMI_VERSION"),
    (RMI_RTT_DATA_MAP_INIT, "RMI_RTT_DATA_MAP_INIT"),
    (RMI_REALM_ACTIVATE, "RMI_REALM_ACTIVATE"),
    (RMI_REALM_CREATE, "RMI_REALM_CREATE"),
    (RMI_REALM_DESTROY, "RMI_REALM_DESTROY"),
    (RMI_REC_CREATE, "RMI_REC_CREATE"),
    (RMI_REC_DESTROY, "RMI_REC_DESTROY"),
    (RMI_REC_ENTER, "RMI_REC_ENTER"),
    (RMI_RTT_CREATE, "RMI_RTT_CREATE"),
    (RMI_RTT_DESTROY, "RMI_RTT_DESTROY"),
    (RMI_RTT_MAP_UNPROTECTED, "RMI_RTT_MAP_UNPROTECTED"),
    (RMI_RTT_READ_ENTRY, "RMI_RTT_READ_ENTRY"),
    (RMI_RTT_UNMAP_UNPROTECTED, "RMI_RTT_UNMAP_UNPROTECTED"),
    (RMI_PSCI_COMPLETE, "RMI_PSCI_COMPLETE"),
    (RMI_FEATURES, "RMI_FEATURES"),
    (RMI_RTT_FOLD, "RMI_RTT_FOLD"),
    (RMI_RTT_INIT_RIPAS, "RMI_RTT_INIT_RIPAS"),
    (RMI_RTT_SET_RIPAS, "RMI_RTT_SET_RIPAS"),
    (RMI_RMM_CONFIG_SET, "RMI_RMM_CONFIG_SET"),
    (RMI_GRANULE_TRACKING_GET, "RMI_GRANULE_TRACKING_GET"),
    (RMI_RMM_CONFIG_GET, "RMI_RMM_CONFIG_GET"),
    (RMI_GRANULE_RANGE_DELEGATE, "RMI_GRANULE_RANGE_DELEGATE"),
    (RMI_GRANULE_RANGE_UNDELEGATE, "RMI_GRANULE_RANGE_UNDELEGATE"),
    (RMI_GPT_L1_CREATE, "RMI_GPT_L1_CREATE"),
    (RMI_RTT_DATA_MAP, "RMI_RTT_DATA_MAP"),
    (RMI_RTT_DATA_UNMAP, "RMI_RTT_DATA_UNMAP"),
    (RMI_RMM_ACTIVATE, "RMI_RMM_ACTIVATE"),
    (RMI_OP_CONTINUE, "RMI_OP_CONTINUE"),
    (RMI_OP_MEM_DONATE, "RMI_OP_MEM_DONATE"),
    (RMI_OP_MEM_RECLAIM, "RMI_OP_MEM_RECLAIM"),
    (RMI_OP_CANCEL, "RMI_OP_CANCEL"),
];

/// RMI 1.0 commands that RMI 2.0 removed: TF-RMM v0.9.0 answers `SMC_UNKNOWN`.
pub const RMI_2_0_REMOVED: [u32; 5] = [
    RMI_GRANULE_DELEGATE,
    RMI_GRANULE_UNDELEGATE,
    RMI_DATA_CREATE_UNKNOWN,
    RMI_DATA_DESTROY,
    RMI_REC_AUX_COUNT,
];

/// The RMI 2.0 commands of device assignment, planes and the SMMU, with their names: typed
/// so that errors name them; rmi-shim does not issue them (TF-RMM v0.9.0
/// `lib/smc/include/smc-rmi.h`).
pub const RMI_2_0_DEVICE_AND_PLANES: [(u32, &str); 38] = [
    (0xC400_0156, "RMI_PDEV_AUX_COUNT"),
    (0xC400_0160, "RMI_VDEV_AUX_COUNT"),
    (0xC400_0163, "RMI_VDEV_VALIDATE_MAPPING"),
    (0xC400_016A, "RMI_VSMMU_CREATE"),
    (0xC400_016B, "RMI_VSMMU_DESTROY"),
    (0xC400_016C, "RMI_VSMMU_MAP"),
    (0xC400_016D, "RMI_VSMMU_UNMAP"),
    (0xC400_016F, "RMI_PSMMU_IRQ_NOTIFY"),
    (0xC400_0172, "RMI_VDEV_MAP"),
    (0xC400_0173, "RMI_VDEV_UNMAP"),
    (0xC400_0174, "RMI_PDEV_ABORT"),
    (0xC400_0175, "RMI_PDEV_COMMUNICATE"),
    (0xC400_0176, "RMI_PDEV_CREATE"),
    (0xC400_0177, "RMI_PDEV_DESTROY"),
    (0xC400_0178, "RMI_PDEV_GET_STATE"),
    (0xC400_0179, "RMI_PDEV_IDE_RESET"),
    (0xC400_017A, "RMI_PDEV_IDE_KEY_REFRESH"),
    (0xC400_017B, "RMI_PDEV_SET_PUBKEY"),
    (0xC400_017C, "RMI_PDEV_STOP"),
    (0xC400_017D, "RMI_RTT_AUX_CREATE"),
    (0xC400_017E, "RMI_RTT_AUX_DESTROY"),
    (0xC400_017F, "RMI_RTT_AUX_FOLD"),
    (0xC400_0180, "RMI_RTT_AUX_MAP_PROTECTED"),
    (0xC400_0181, "RMI_RTT_AUX_MAP_UNPROTECTED"),
    (0xC400_0183, "RMI_RTT_AUX_UNMAP_PROTECTED"),
    (0xC400_0184, "RMI_RTT_AUX_UNMAP_UNPROTECTED"),
    (0xC400_0185, "RMI_VDEV_ABORT"),
    (0xC400_0186, "RMI_VDEV_COMMUNICATE"),
    (0xC400_0187, "RMI_VDEV_CREATE"),
    (0xC400_0188, "RMI_VDEV_DESTROY"),
    (0xC400_0189, "RMI_VDEV_GET_STATE"),
    (0xC400_018A, "RMI_VDEV_UNLOCK"),
    (0xC400_018B, "RMI_RTT_SET_S2AP"),
    (0xC400_018E, "RMI_VDEV_COMPLETE"),
    (0xC400_01D0, "RMI_VDEV_GET_INTERFACE_REPORT"),
    (0xC400_01D1, "RMI_VDEV_GET_MEASUREMENTS"),
    (0xC400_01D2, "RMI_VDEV_LOCK"),
    (0xC400_01D3, "RMI_VDEV_START"),
];

/// The RMI 1.0 commands that are not also RMI 2.0 commands of the same number and name
/// (the rest of 1.0's names are in [`RMI_2_0_LIFECYCLE`]).
const RMI_1_0_ONLY: [(u32, &str); 6] = [
    (RMI_GRANULE_DELEGATE, "RMI_GRANULE_DELEGATE"),
    (RMI_GRANULE_UNDELEGATE, "RMI_GRANULE_UNDELEGATE"),
    (RMI_DATA_CREATE, "RMI_DATA_CREATE"),
    (RMI_DATA_CREATE_UNKNOWN, "RMI_DATA_CREATE_UNKNOWN"),
    (RMI_DATA_DESTROY, "RMI_DATA_DESTROY"),
    (RMI_REC_AUX_COUNT, "RMI_REC_AUX_COUNT"),
];

/// The name of function id `fid` in `generation` (the SVE hint bit ignored), or `None` for
/// a number the generation does not define.
#[must_use]
pub fn fid_name(generation: Generation, fid: u64) -> Option<&'static str> {
    let fid = fid & !(1 << 16);
    let find = |table: &[(u32, &'static str)]| {
        table
            .iter()
            .find(|(f, _)| u64::from(*f) == fid)
            .map(|(_, name)| *name)
    };
    match generation {
        Generation::V1_0 => find(&RMI_1_0_ONLY).or_else(|| {
            // Every other 1.0 command kept its number and name in 2.0.
            RMI_1_0_FIDS
                .iter()
                .any(|f| u64::from(*f) == fid)
                .then(|| find(&RMI_2_0_LIFECYCLE))
                .flatten()
        }),
        Generation::V2_0 => find(&RMI_2_0_LIFECYCLE).or_else(|| find(&RMI_2_0_DEVICE_AND_PLANES)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every RMI 1.0 function id has its 1.0 name, the one its command codec gives, and no
    /// other number in the RMI range is named for 1.0.
    #[test]
    fn rmi_1_0_names_cover_every_command() {
        for fid in RMI_1_0_FIDS {
            assert!(fid_name(Generation::V1_0, fid.into()).is_some(), "{fid:#x}");
        }
        for fid in 0xC400_0150u64..=0xC400_020A {
            let named = fid_name(Generation::V1_0, fid).is_some();
            assert_eq!(
                named,
                RMI_1_0_FIDS.iter().any(|f| u64::from(*f) == fid),
                "{fid:#x}"
            );
        }
        let cmd = RmiCommand::RecAuxCount { rd: 0 };
        assert_eq!(
            fid_name(Generation::V1_0, cmd.fid().into()),
            Some(cmd.name())
        );
        let cmd = RmiCommand::RttInitRipas {
            rd: 0,
            base: 0,
            top: 0,
        };
        assert_eq!(
            fid_name(Generation::V1_0, cmd.fid().into()),
            Some(cmd.name())
        );
    }

    /// TF-RMM v0.9.0: `…153` is RTT_DATA_MAP_INIT, the removed 1.0 numbers have no name, and
    /// the new numbers are where `smc-rmi.h` puts them (0x150 + offset).
    #[test]
    fn names_depend_on_the_generation() {
        assert_eq!(
            fid_name(Generation::V1_0, 0xC400_0153),
            Some("RMI_DATA_CREATE")
        );
        assert_eq!(
            fid_name(Generation::V2_0, 0xC400_0153),
            Some("RMI_RTT_DATA_MAP_INIT")
        );
        for removed in RMI_2_0_REMOVED {
            assert!(fid_name(Generation::V1_0, removed.into()).is_some());
            assert_eq!(fid_name(Generation::V2_0, removed.into()), None);
        }
        assert_eq!(
            fid_name(Generation::V2_0, 0xC401_015A),
            Some("RMI_REC_CREATE"),
            "the SVE hint is not part of the number"
        );
        assert_eq!(fid_name(Generation::V1_0, 0xC400_0202), None);
        assert_eq!(
            fid_name(Generation::V2_0, 0xC400_0202),
            Some("RMI_RMM_ACTIVATE")
        );
    }

    /// No number is named twice within a generation, and every 2.0 number is in the range
    /// TF-RMM dispatches (0x150 to 0x20A).
    #[test]
    fn tables_are_consistent() {
        let all = RMI_2_0_LIFECYCLE
            .iter()
            .chain(RMI_2_0_DEVICE_AND_PLANES.iter());
        for (i, (fid, _)) in all.clone().enumerate() {
            assert!((0xC400_0150..=0xC400_020A).contains(fid), "{fid:#x}");
            assert_eq!(all.clone().skip(i + 1).filter(|(f, _)| f == fid).count(), 0);
        }
    }
}
