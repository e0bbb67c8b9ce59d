//! The granule-sized structures of RMI 2.0 as TF-RMM v0.9.0 lays them out
//! (`lib/smc/include/smc-rmi.h`: `struct rmi_rmm_config`, `rmi_realm_params`,
//! `rmi_rec_params`, `rmi_rec_enter`, `rmi_rec_exit`, `rmi_rec_run`; digest rmi2.md §3.1,
//! §10.1–§10.4), and the RMI 2.0 REC exit reasons.
//!
//! Against RMI 1.0 ([`super::RmiRealmParams`] and friends): the realm parameters lose `vmid`,
//! `mecid` and `aux_vmid` (the RMM allocates them); the REC parameters lose the auxiliary
//! granule list (the RMM asks for the granules through a stateful operation); `RmiRecRun`
//! loses every GIC field (the host programs the virtual GIC itself) and moves the
//! device-memory fields. Each field's comment gives its offset; reserved ranges are explicit
//! and must be written as zero.

use core::mem::{offset_of, size_of};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::{REC_CREATE_GPRS, REC_EXIT_GPRS};
use crate::GRANULE_SIZE;

/// `RmiRmmConfig`: the RMM's configuration, read by `RMI_RMM_CONFIG_GET` and written by
/// `RMI_RMM_CONFIG_SET` (4096 bytes; `struct rmi_rmm_config`).
///
/// TF-RMM v0.9.0 accepts only the all-zero configuration (4 KiB granules, 1 GiB tracking
/// regions). The header's comment puts `rmi_granule_size` at offset 16; the structure
/// definition, which the compiler follows, puts it at 0x8.
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RmiRmmConfig {
    /// 0x000 `tracking_region_size`: with 4 KiB granules, 0 = 1 GiB (the only value).
    pub tracking_region_size: u64,
    /// 0x008 `rmi_granule_size` (`RmiGranuleSize`): 0 = 4 KiB, 1 = 16 KiB, 2 = 64 KiB.
    pub rmi_granule_size: u64,
    /// 0x010: reserved to the end of the granule.
    pub reserved_010: [u8; GRANULE_SIZE - 0x010],
}

const _: () = {
    assert!(size_of::<RmiRmmConfig>() == 0x1000);
    assert!(offset_of!(RmiRmmConfig, tracking_region_size) == 0x000);
    assert!(offset_of!(RmiRmmConfig, rmi_granule_size) == 0x008);
};

impl RmiRmmConfig {
    /// The all-zero configuration: 4 KiB granules, 1 GiB tracking regions.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }
}

/// `RmiRealmParams` of RMI 2.0: the parameters of `RMI_REALM_CREATE` (4096 bytes;
/// `struct rmi_realm_params`, digest §10.1).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RmiRealmParams2 {
    /// 0x000 `flags0`: [`super::RealmFlags`]; bits 8:7 are the MEC policy (0 shared,
    /// 1 private).
    pub flags0: u64,
    /// 0x008 `s2sz`: IPA width in bits.
    pub s2sz: u32,
    /// 0x00C: reserved.
    pub reserved_00c: [u8; 4],
    /// 0x010 `sve_vl`: SVE vector length as VQ − 1; checked only with the SVE flag.
    pub sve_vl: u32,
    /// 0x014: reserved.
    pub reserved_014: [u8; 4],
    /// 0x018 `num_bps`: breakpoints (1 ≤ v ≤ `NUM_BPS`).
    pub num_bps: u32,
    /// 0x01C: reserved.
    pub reserved_01c: [u8; 4],
    /// 0x020 `num_wps`: watchpoints (1 ≤ v ≤ `NUM_WPS`).
    pub num_wps: u32,
    /// 0x024: reserved.
    pub reserved_024: [u8; 4],
    /// 0x028 `pmu_num_ctrs`: PMU counters; checked only with the PMU flag.
    pub pmu_num_ctrs: u32,
    /// 0x02C: reserved.
    pub reserved_02c: [u8; 4],
    /// 0x030 `algorithm`: [`super::RmiHashAlgorithm`] encoding (0 SHA-256, 1 SHA-512).
    pub algorithm: u8,
    /// 0x031: reserved.
    pub reserved_031: [u8; 7],
    /// 0x038 `num_aux_planes`: 0 for a realm without planes.
    pub num_aux_planes: u32,
    /// 0x03C: reserved up to the RPV.
    pub reserved_03c: [u8; 0x400 - 0x03C],
    /// 0x400 `rpv`: Realm Personalization Value (not measured).
    pub rpv: [u8; 64],
    /// 0x440 `ats_plane`: ≤ `num_aux_planes`.
    pub ats_plane: u64,
    /// 0x448: reserved up to the RTT fields (0x800, RMI 1.0's `vmid`, is reserved here).
    pub reserved_448: [u8; 0x808 - 0x448],
    /// 0x808 `rtt_base`: PA of the first root RTT (DELEGATED).
    pub rtt_base: u64,
    /// 0x810 `rtt_level_start`: level of the root RTT (−1 only with LPA2).
    pub rtt_level_start: i64,
    /// 0x818 `rtt_num_start`: number of concatenated root RTTs (1 to 16).
    pub rtt_num_start: u32,
    /// 0x81C: reserved.
    pub reserved_81c: [u8; 4],
    /// 0x820 `flags1`: `RmiRealmFlags1` (bit 0 RTT_TREE_PP, bit 1 S2AP_ENC); 0 for a realm
    /// without planes.
    pub flags1: u64,
    /// 0x828: reserved up to the auxiliary RTT bases (RMI 1.0's `mecid` at 0x828 and
    /// `aux_vmid` at 0xF00 are reserved here).
    pub reserved_828: [u8; 0xF80 - 0x828],
    /// 0xF80 `aux_rtt_base`: root RTTs of the auxiliary planes' trees.
    pub aux_rtt_base: [u64; 3],
    /// 0xF98: reserved to the end of the granule.
    pub reserved_f98: [u8; GRANULE_SIZE - 0xF98],
}

const _: () = {
    assert!(size_of::<RmiRealmParams2>() == 0x1000);
    assert!(offset_of!(RmiRealmParams2, flags0) == 0x000);
    assert!(offset_of!(RmiRealmParams2, s2sz) == 0x008);
    assert!(offset_of!(RmiRealmParams2, sve_vl) == 0x010);
    assert!(offset_of!(RmiRealmParams2, num_bps) == 0x018);
    assert!(offset_of!(RmiRealmParams2, num_wps) == 0x020);
    assert!(offset_of!(RmiRealmParams2, pmu_num_ctrs) == 0x028);
    assert!(offset_of!(RmiRealmParams2, algorithm) == 0x030);
    assert!(offset_of!(RmiRealmParams2, num_aux_planes) == 0x038);
    assert!(offset_of!(RmiRealmParams2, rpv) == 0x400);
    assert!(offset_of!(RmiRealmParams2, ats_plane) == 0x440);
    assert!(offset_of!(RmiRealmParams2, rtt_base) == 0x808);
    assert!(offset_of!(RmiRealmParams2, rtt_level_start) == 0x810);
    assert!(offset_of!(RmiRealmParams2, rtt_num_start) == 0x818);
    assert!(offset_of!(RmiRealmParams2, flags1) == 0x820);
    assert!(offset_of!(RmiRealmParams2, aux_rtt_base) == 0xF80);
};

impl RmiRealmParams2 {
    /// An all-zero parameter page.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }
}

/// `RmiRecParams` of RMI 2.0: the parameters of `RMI_REC_CREATE` (4096 bytes;
/// `struct rmi_rec_params`, digest §10.2).
///
/// TF-RMM v0.9.0 reads this page when the operation is continued (`RMI_OP_CONTINUE`), not at
/// `RMI_REC_CREATE`: the host keeps it unchanged and non-secure until the operation ends.
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RmiRecParams2 {
    /// 0x000 `flags`: [`super::RecCreateFlags`].
    pub flags: u64,
    /// 0x008: reserved.
    pub reserved_008: [u8; 0x100 - 0x008],
    /// 0x100 `mpidr`: the REC's MPIDR; must name the next REC index.
    pub mpidr: u64,
    /// 0x108: reserved.
    pub reserved_108: [u8; 0x200 - 0x108],
    /// 0x200 `pc`: initial program counter.
    pub pc: u64,
    /// 0x208: reserved.
    pub reserved_208: [u8; 0x300 - 0x208],
    /// 0x300 `gprs`: initial `x0..x7`.
    pub gprs: [u64; REC_CREATE_GPRS],
    /// 0x340: reserved to the end of the granule (RMI 1.0's `num_aux` at 0x800 and `aux` at
    /// 0x808 are reserved here).
    pub reserved_340: [u8; GRANULE_SIZE - 0x340],
}

const _: () = {
    assert!(size_of::<RmiRecParams2>() == 0x1000);
    assert!(offset_of!(RmiRecParams2, flags) == 0x000);
    assert!(offset_of!(RmiRecParams2, mpidr) == 0x100);
    assert!(offset_of!(RmiRecParams2, pc) == 0x200);
    assert!(offset_of!(RmiRecParams2, gprs) == 0x300);
};

impl RmiRecParams2 {
    /// An all-zero parameter page.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }
}

/// `RmiRecEnter` of RMI 2.0: the first half of [`RmiRecRun2`] (0x800 bytes; digest §10.3).
///
/// TF-RMM v0.9.0's `struct rmi_rec_enter` is 0x300 bytes and the RMM reads only those; the
/// rest of the half (RMI 1.0's `gicv3_hcr` and `gicv3_lrs`) is reserved.
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RmiRecEnter2 {
    /// 0x000 `flags`: [`super::RecEnterFlags`].
    pub flags: u64,
    /// 0x008: reserved.
    pub reserved_008: [u8; 0x200 - 0x008],
    /// 0x200 `gprs`: `x0..x30` handed back (host-call results; MMIO read value in `gprs[0]`).
    pub gprs: [u64; REC_EXIT_GPRS],
    /// 0x2F8: reserved to the end of the half.
    pub reserved_2f8: [u8; 0x800 - 0x2F8],
}

const _: () = {
    assert!(size_of::<RmiRecEnter2>() == 0x800);
    assert!(offset_of!(RmiRecEnter2, flags) == 0x000);
    assert!(offset_of!(RmiRecEnter2, gprs) == 0x200);
    assert!(offset_of!(RmiRecEnter2, reserved_2f8) + 0x508 == 0x800);
};

/// `RmiRecExit` of RMI 2.0: the second half of [`RmiRecRun2`] (0x800 bytes; offsets here are
/// relative, add 0x800 for the `RmiRecRun` offset; digest §10.3).
///
/// TF-RMM v0.9.0 zeroes this half and writes it on every successful `RMI_REC_ENTER`.
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RmiRecExit2 {
    /// 0x000 `exit_reason` (8 bytes): [`RmiExitReason2`].
    pub exit_reason: u64,
    /// 0x008: reserved.
    pub reserved_008: [u8; 0x100 - 0x008],
    /// 0x100 `esr`: sanitised `ESR_EL2`.
    pub esr: u64,
    /// 0x108 `far`: `FAR_EL2` (low 12 bits cleared for an emulatable abort).
    pub far: u64,
    /// 0x110 `hpfar`: `HPFAR_EL2`.
    pub hpfar: u64,
    /// 0x118 `rtt_tree`: the RTT tree active at the exit.
    pub rtt_tree: u64,
    /// 0x120 `rtt_level` (signed).
    pub rtt_level: i64,
    /// 0x128: reserved.
    pub reserved_128: [u8; 0x200 - 0x128],
    /// 0x200 `gprs`: `x0..x30` (MMIO write value in `gprs[0]`; host-call and PSCI arguments).
    pub gprs: [u64; REC_EXIT_GPRS],
    /// 0x2F8: reserved (RMI 1.0's GIC fields at 0x300–0x397 are reserved here, always 0).
    pub reserved_2f8: [u8; 0x400 - 0x2F8],
    /// 0x400 `cntp_ctl`.
    pub cntp_ctl: u64,
    /// 0x408 `cntp_cval` (the compare value minus the counter offset).
    pub cntp_cval: u64,
    /// 0x410 `cntv_ctl`.
    pub cntv_ctl: u64,
    /// 0x418 `cntv_cval` (the compare value minus the counter offset).
    pub cntv_cval: u64,
    /// 0x420: reserved.
    pub reserved_420: [u8; 0x500 - 0x420],
    /// 0x500 `ripas_base`: base of the requested RIPAS change.
    pub ripas_base: u64,
    /// 0x508 `ripas_top`: top of the requested RIPAS change.
    pub ripas_top: u64,
    /// 0x510 `ripas_value` (1 byte): requested [`super::RmiRipas`].
    pub ripas_value: u8,
    /// 0x511: reserved.
    pub reserved_511: [u8; 0x520 - 0x511],
    /// 0x520 `s2ap_base`: base of a pending S2AP change (planes).
    pub s2ap_base: u64,
    /// 0x528 `s2ap_top`: top of a pending S2AP change.
    pub s2ap_top: u64,
    /// 0x530 `vdev_id_1` (RMI 1.0 layout: `vdev_id`).
    pub vdev_id_1: u64,
    /// 0x538 `vdev_id_2`.
    pub vdev_id_2: u64,
    /// 0x540 `dev_mem_base` (RMI 1.0 layout: at 0x620).
    pub dev_mem_base: u64,
    /// 0x548 `dev_mem_top` (RMI 1.0 layout: at 0x628).
    pub dev_mem_top: u64,
    /// 0x550 `dev_mem_pa` (RMI 1.0 layout: at 0x630).
    pub dev_mem_pa: u64,
    /// 0x558: reserved.
    pub reserved_558: [u8; 0x600 - 0x558],
    /// 0x600 `imm` (4 bytes): the host-call immediate.
    pub imm: u32,
    /// 0x604: reserved.
    pub reserved_604: [u8; 4],
    /// 0x608 `plane`: plane index of a host call.
    pub plane: u64,
    /// 0x610: reserved.
    pub reserved_610: [u8; 0x700 - 0x610],
    /// 0x700 `pmu_ovf_status`: [`super::RmiPmuOverflowStatus`] (always NOT_ACTIVE in TF-RMM
    /// v0.9.0, whose realms have no PMU).
    pub pmu_ovf_status: u64,
    /// 0x708: reserved to the end of the half.
    pub reserved_708: [u8; 0x800 - 0x708],
}

const _: () = {
    assert!(size_of::<RmiRecExit2>() == 0x800);
    assert!(offset_of!(RmiRecExit2, exit_reason) == 0x000);
    assert!(offset_of!(RmiRecExit2, esr) == 0x100);
    assert!(offset_of!(RmiRecExit2, far) == 0x108);
    assert!(offset_of!(RmiRecExit2, hpfar) == 0x110);
    assert!(offset_of!(RmiRecExit2, rtt_tree) == 0x118);
    assert!(offset_of!(RmiRecExit2, rtt_level) == 0x120);
    assert!(offset_of!(RmiRecExit2, gprs) == 0x200);
    assert!(offset_of!(RmiRecExit2, cntp_ctl) == 0x400);
    assert!(offset_of!(RmiRecExit2, cntp_cval) == 0x408);
    assert!(offset_of!(RmiRecExit2, cntv_ctl) == 0x410);
    assert!(offset_of!(RmiRecExit2, cntv_cval) == 0x418);
    assert!(offset_of!(RmiRecExit2, ripas_base) == 0x500);
    assert!(offset_of!(RmiRecExit2, ripas_top) == 0x508);
    assert!(offset_of!(RmiRecExit2, ripas_value) == 0x510);
    assert!(offset_of!(RmiRecExit2, s2ap_base) == 0x520);
    assert!(offset_of!(RmiRecExit2, s2ap_top) == 0x528);
    assert!(offset_of!(RmiRecExit2, vdev_id_1) == 0x530);
    assert!(offset_of!(RmiRecExit2, vdev_id_2) == 0x538);
    assert!(offset_of!(RmiRecExit2, dev_mem_base) == 0x540);
    assert!(offset_of!(RmiRecExit2, dev_mem_top) == 0x548);
    assert!(offset_of!(RmiRecExit2, dev_mem_pa) == 0x550);
    assert!(offset_of!(RmiRecExit2, imm) == 0x600);
    assert!(offset_of!(RmiRecExit2, plane) == 0x608);
    assert!(offset_of!(RmiRecExit2, pmu_ovf_status) == 0x700);
};

impl RmiRecExit2 {
    /// The decoded exit reason.
    #[must_use]
    pub const fn reason(&self) -> RmiExitReason2 {
        RmiExitReason2::from_raw(self.exit_reason)
    }
}

/// `RmiRecRun` of RMI 2.0: the NS granule `RMI_REC_ENTER` takes (4096 bytes;
/// `struct rmi_rec_run`).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RmiRecRun2 {
    /// 0x000 `enter`: written by the host.
    pub enter: RmiRecEnter2,
    /// 0x800 `exit`: written by the RMM.
    pub exit: RmiRecExit2,
}

const _: () = {
    assert!(size_of::<RmiRecRun2>() == 0x1000);
    assert!(offset_of!(RmiRecRun2, enter) == 0x000);
    assert!(offset_of!(RmiRecRun2, exit) == 0x800);
    // Absolute offsets as digest §10.3 lists them.
    assert!(offset_of!(RmiRecRun2, exit) + offset_of!(RmiRecExit2, esr) == 0x900);
    assert!(offset_of!(RmiRecRun2, exit) + offset_of!(RmiRecExit2, gprs) == 0xA00);
    assert!(offset_of!(RmiRecRun2, exit) + offset_of!(RmiRecExit2, ripas_value) == 0xD10);
    assert!(offset_of!(RmiRecRun2, exit) + offset_of!(RmiRecExit2, dev_mem_pa) == 0xD50);
    assert!(offset_of!(RmiRecRun2, exit) + offset_of!(RmiRecExit2, imm) == 0xE00);
    assert!(offset_of!(RmiRecRun2, exit) + offset_of!(RmiRecExit2, pmu_ovf_status) == 0xF00);
};

impl RmiRecRun2 {
    /// An all-zero run page.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }
}

/// `RmiRecExitReason` of RMI 2.0 (`smc-rmi.h` `RMI_EXIT_*`; digest §10.4).
///
/// A separate type from RMI 1.0's [`super::RmiExitReason`]: 0–8 mean the same in both, but
/// RMI 2.0 puts `DEV_MEM_MAP` at 9 (TF-RMM v0.8.0: 10) and `VDEV_P2P_BINDING` at 10
/// (TF-RMM v0.8.0: 9 was `VDEV_COMM`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RmiExitReason2 {
    /// `RMI_EXIT_SYNC` (0): a synchronous exception (data abort, sysreg, WFx...).
    Sync,
    /// `RMI_EXIT_IRQ` (1).
    Irq,
    /// `RMI_EXIT_FIQ` (2).
    Fiq,
    /// `RMI_EXIT_PSCI` (3): the realm made a PSCI call.
    Psci,
    /// `RMI_EXIT_RIPAS_CHANGE` (4): the realm asked for a RIPAS change.
    RipasChange,
    /// `RMI_EXIT_HOST_CALL` (5): `RSI_HOST_CALL`.
    HostCall,
    /// `RMI_EXIT_SERROR` (6).
    SError,
    /// `RMI_EXIT_S2AP_CHANGE` (7): planes only.
    S2apChange,
    /// `RMI_EXIT_VDEV_REQUEST` (8): device assignment only.
    VdevRequest,
    /// `RMI_EXIT_DEV_MEM_MAP` (9): device assignment only.
    DevMemMap,
    /// `RMI_EXIT_VDEV_P2P_BINDING` (10): device assignment only.
    VdevP2pBinding,
    /// Any other value.
    Unknown(u64),
}

impl RmiExitReason2 {
    /// Decodes the exit reason.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        match raw {
            0 => Self::Sync,
            1 => Self::Irq,
            2 => Self::Fiq,
            3 => Self::Psci,
            4 => Self::RipasChange,
            5 => Self::HostCall,
            6 => Self::SError,
            7 => Self::S2apChange,
            8 => Self::VdevRequest,
            9 => Self::DevMemMap,
            10 => Self::VdevP2pBinding,
            other => Self::Unknown(other),
        }
    }

    /// The ABI value.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        match self {
            Self::Sync => 0,
            Self::Irq => 1,
            Self::Fiq => 2,
            Self::Psci => 3,
            Self::RipasChange => 4,
            Self::HostCall => 5,
            Self::SError => 6,
            Self::S2apChange => 7,
            Self::VdevRequest => 8,
            Self::DevMemMap => 9,
            Self::VdevP2pBinding => 10,
            Self::Unknown(other) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::RmiExitReason;
    use super::*;

    /// Digest §10.1: fields land at their offsets; 0x800 (1.0's `vmid`) stays reserved.
    #[test]
    fn realm_params_bytes() {
        let mut p = RmiRealmParams2::zeroed();
        p.s2sz = 39;
        p.algorithm = 1;
        p.rpv[0] = 0xF0;
        p.rtt_base = 0x8800_0000;
        p.rtt_level_start = -1;
        p.rtt_num_start = 2;
        p.aux_rtt_base[2] = 0xAB;
        let b = p.as_bytes();
        assert_eq!(b[0x008], 39);
        assert_eq!(b[0x030], 1);
        assert_eq!(b[0x400], 0xF0);
        assert_eq!(&b[0x800..0x808], &[0; 8]);
        assert_eq!(&b[0x808..0x810], &0x8800_0000u64.to_le_bytes());
        assert_eq!(&b[0x810..0x818], &[0xFF; 8]);
        assert_eq!(b[0x818], 2);
        assert_eq!(b[0xF90], 0xAB);
    }

    /// Digest §10.2: `gprs` at 0x300 and nothing meaningful after 0x340.
    #[test]
    fn rec_params_bytes() {
        let mut p = RmiRecParams2::zeroed();
        p.flags = 1;
        p.mpidr = 0x0102;
        p.pc = 0x8000_0000;
        p.gprs[7] = 0x77;
        let b = p.as_bytes();
        assert_eq!(b[0x000], 1);
        assert_eq!(&b[0x100..0x102], &[2, 1]);
        assert_eq!(&b[0x200..0x208], &0x8000_0000u64.to_le_bytes());
        assert_eq!(b[0x338], 0x77);
        assert!(b[0x340..].iter().all(|&x| x == 0));
    }

    /// Digest §10.3: the exit half at 0x800 and the moved device-memory fields.
    #[test]
    fn rec_run_bytes() {
        let mut bytes = [0u8; 0x1000];
        bytes[0x800] = 9;
        bytes[0xE00..0xE04].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        bytes[0xD10] = 1;
        bytes[0xD40] = 0x40;
        bytes[0xD50] = 0x50;
        bytes[0xA00] = 0x2A;
        bytes[0x200] = 0x11;
        let run = RmiRecRun2::read_from_bytes(&bytes).unwrap();
        assert_eq!(run.exit.reason(), RmiExitReason2::DevMemMap);
        assert_eq!(run.exit.imm, 0x1234_5678);
        assert_eq!(run.exit.ripas_value, 1);
        assert_eq!(run.exit.dev_mem_base, 0x40);
        assert_eq!(run.exit.dev_mem_pa, 0x50);
        assert_eq!(run.exit.gprs[0], 0x2A);
        assert_eq!(run.enter.gprs[0], 0x11);
    }

    /// Digest §10.4: values 0–10, and 9/10 differ from the RMI 1.0 decoding.
    #[test]
    fn exit_reasons() {
        for raw in 0..=12 {
            assert_eq!(RmiExitReason2::from_raw(raw).to_raw(), raw);
        }
        assert_eq!(RmiExitReason2::from_raw(5), RmiExitReason2::HostCall);
        assert_eq!(RmiExitReason2::from_raw(9), RmiExitReason2::DevMemMap);
        assert_eq!(RmiExitReason2::from_raw(10), RmiExitReason2::VdevP2pBinding);
        assert_eq!(RmiExitReason2::from_raw(11), RmiExitReason2::Unknown(11));
        assert_eq!(RmiExitReason::from_raw(10), RmiExitReason::DevMemMap);
        assert_eq!(RmiExitReason::from_raw(9), RmiExitReason::VdevComm);
    }

    /// Digest §3.1: the configuration's two fields at 0x0 and 0x8.
    #[test]
    fn rmm_config_bytes() {
        let mut c = RmiRmmConfig::zeroed();
        c.tracking_region_size = 1;
        c.rmi_granule_size = 2;
        let b = c.as_bytes();
        assert_eq!(b[0x0], 1);
        assert_eq!(b[0x8], 2);
        assert!(b[0x10..].iter().all(|&x| x == 0));
    }
}
