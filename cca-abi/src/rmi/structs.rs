//! The granule-sized structures the host passes to the RMM by physical address
//! (cca-abi.md §5; TF-RMM v0.8.0 `lib/smc/include/smc-rmi.h`, KVM `rmi_smc.h`).
//!
//! Offsets are the ones TF-RMM compile-time asserts and KVM uses; each field's comment gives
//! its offset. Where TF-RMM and KVM read a field with different widths but at the same offset,
//! the narrower width is used and the rest of the slot is an explicit reserved field
//! (cca-abi.md §10.1): readers then agree with both, and writers zero the whole slot.
//! Fields marked "RMI 1.1" exist in TF-RMM v0.8.0's layout; an RMI 1.0 host leaves them zero.

use core::mem::{offset_of, size_of};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::GRANULE_SIZE;

/// Number of general-purpose registers set at REC creation (`x0..x7`, cca-abi.md §8).
pub const REC_CREATE_GPRS: usize = 8;
/// Number of general-purpose registers exchanged on REC entry and exit (`x0..x30`).
pub const REC_EXIT_GPRS: usize = 31;
/// Number of GIC list register slots in `RmiRecRun`.
pub const REC_GIC_LRS: usize = 16;
/// Number of auxiliary granule slots in `RmiRecParams` (`MAX_REC_AUX_GRANULES`).
pub const REC_MAX_AUX: usize = 16;

/// `RmiRealmParams`: the parameters of `RMI_REALM_CREATE` (4096 bytes, cca-abi.md §5.1).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RmiRealmParams {
    /// 0x000 `flags` (R8: `flags0`): [`super::RealmFlags`].
    pub flags0: u64,
    /// 0x008 `s2sz`: IPA width in bits.
    pub s2sz: u32,
    /// 0x00C: reserved.
    pub reserved_00c: [u8; 4],
    /// 0x010 `sve_vl`: SVE vector length as VQ − 1; checked only with the SVE flag.
    pub sve_vl: u32,
    /// 0x014: reserved.
    pub reserved_014: [u8; 4],
    /// 0x018 `num_bps`: breakpoints minus one (TF-RMM requires 1 ≤ v ≤ `NUM_BPS`).
    pub num_bps: u32,
    /// 0x01C: reserved.
    pub reserved_01c: [u8; 4],
    /// 0x020 `num_wps`: watchpoints minus one (same rule as `num_bps`).
    pub num_wps: u32,
    /// 0x024: reserved.
    pub reserved_024: [u8; 4],
    /// 0x028 `pmu_num_ctrs`: PMU counters; checked only with the PMU flag.
    pub pmu_num_ctrs: u32,
    /// 0x02C: reserved.
    pub reserved_02c: [u8; 4],
    /// 0x030 `hash_algo`: [`super::RmiHashAlgorithm`] encoding (0 or 1).
    pub hash_algo: u8,
    /// 0x031: reserved.
    pub reserved_031: [u8; 7],
    /// 0x038 `num_aux_planes` (RMI 1.1).
    pub num_aux_planes: u32,
    /// 0x03C: reserved up to the RPV.
    pub reserved_03c: [u8; 0x400 - 0x03C],
    /// 0x400 `rpv`: Realm Personalization Value (not measured).
    pub rpv: [u8; 64],
    /// 0x440 `ats_plane` (RMI 1.1).
    pub ats_plane: u64,
    /// 0x448: reserved up to the VMID.
    pub reserved_448: [u8; 0x800 - 0x448],
    /// 0x800 `vmid`: VMID, unique per realm.
    pub vmid: u16,
    /// 0x802: reserved.
    pub reserved_802: [u8; 6],
    /// 0x808 `rtt_base`: PA of the first root RTT.
    pub rtt_base: u64,
    /// 0x810 `rtt_level_start`: level of the root RTT (−1 only with LPA2).
    pub rtt_level_start: i64,
    /// 0x818 `rtt_num_start`: number of concatenated root RTTs (1 to 16).
    pub rtt_num_start: u32,
    /// 0x81C: reserved.
    pub reserved_81c: [u8; 4],
    /// 0x820 `flags1` (RMI 1.1): `RmiRealmFlags1`.
    pub flags1: u64,
    /// 0x828 `mecid` (RMI 1.1).
    pub mecid: u64,
    /// 0x830: reserved up to the auxiliary VMIDs.
    pub reserved_830: [u8; 0xF00 - 0x830],
    /// 0xF00 `aux_vmid` (RMI 1.1).
    pub aux_vmid: [u16; 3],
    /// 0xF06: reserved.
    pub reserved_f06: [u8; 0xF80 - 0xF06],
    /// 0xF80 `aux_rtt_base` (RMI 1.1).
    pub aux_rtt_base: [u64; 3],
    /// 0xF98: reserved to the end of the granule.
    pub reserved_f98: [u8; GRANULE_SIZE - 0xF98],
}

const _: () = {
    assert!(size_of::<RmiRealmParams>() == 0x1000);
    assert!(offset_of!(RmiRealmParams, flags0) == 0x000);
    assert!(offset_of!(RmiRealmParams, s2sz) == 0x008);
    assert!(offset_of!(RmiRealmParams, sve_vl) == 0x010);
    assert!(offset_of!(RmiRealmParams, num_bps) == 0x018);
    assert!(offset_of!(RmiRealmParams, num_wps) == 0x020);
    assert!(offset_of!(RmiRealmParams, pmu_num_ctrs) == 0x028);
    assert!(offset_of!(RmiRealmParams, hash_algo) == 0x030);
    assert!(offset_of!(RmiRealmParams, num_aux_planes) == 0x038);
    assert!(offset_of!(RmiRealmParams, rpv) == 0x400);
    assert!(offset_of!(RmiRealmParams, ats_plane) == 0x440);
    assert!(offset_of!(RmiRealmParams, vmid) == 0x800);
    assert!(offset_of!(RmiRealmParams, rtt_base) == 0x808);
    assert!(offset_of!(RmiRealmParams, rtt_level_start) == 0x810);
    assert!(offset_of!(RmiRealmParams, rtt_num_start) == 0x818);
    assert!(offset_of!(RmiRealmParams, flags1) == 0x820);
    assert!(offset_of!(RmiRealmParams, mecid) == 0x828);
    assert!(offset_of!(RmiRealmParams, aux_vmid) == 0xF00);
    assert!(offset_of!(RmiRealmParams, aux_rtt_base) == 0xF80);
};

impl RmiRealmParams {
    /// An all-zero parameter page.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }
}

/// `RmiRecParams`: the parameters of `RMI_REC_CREATE` (4096 bytes, cca-abi.md §5.2).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RmiRecParams {
    /// 0x000 `flags`: [`super::RecCreateFlags`].
    pub flags: u64,
    /// 0x008: reserved.
    pub reserved_008: [u8; 0x100 - 0x008],
    /// 0x100 `mpidr`: the REC's MPIDR (`RmiRecMpidr` form, cca-abi.md §8).
    pub mpidr: u64,
    /// 0x108: reserved.
    pub reserved_108: [u8; 0x200 - 0x108],
    /// 0x200 `pc`: initial program counter.
    pub pc: u64,
    /// 0x208: reserved.
    pub reserved_208: [u8; 0x300 - 0x208],
    /// 0x300 `gprs`: initial `x0..x7`.
    pub gprs: [u64; REC_CREATE_GPRS],
    /// 0x340: reserved.
    pub reserved_340: [u8; 0x800 - 0x340],
    /// 0x800 `num_aux`: must equal `RMI_REC_AUX_COUNT` (16 for TF-RMM).
    pub num_aux: u64,
    /// 0x808 `aux`: PAs of the delegated auxiliary granules.
    pub aux: [u64; REC_MAX_AUX],
    /// 0x888: reserved to the end of the granule.
    pub reserved_888: [u8; GRANULE_SIZE - 0x888],
}

const _: () = {
    assert!(size_of::<RmiRecParams>() == 0x1000);
    assert!(offset_of!(RmiRecParams, flags) == 0x000);
    assert!(offset_of!(RmiRecParams, mpidr) == 0x100);
    assert!(offset_of!(RmiRecParams, pc) == 0x200);
    assert!(offset_of!(RmiRecParams, gprs) == 0x300);
    assert!(offset_of!(RmiRecParams, num_aux) == 0x800);
    assert!(offset_of!(RmiRecParams, aux) == 0x808);
};

impl RmiRecParams {
    /// An all-zero parameter page.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }
}

/// `RmiRecEnter`: what the host gives the RMM on `RMI_REC_ENTER` (first half of
/// `RmiRecRun`, 0x800 bytes, cca-abi.md §5.3).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RmiRecEnter {
    /// 0x000 `flags`: [`super::RecEnterFlags`].
    pub flags: u64,
    /// 0x008: reserved.
    pub reserved_008: [u8; 0x200 - 0x008],
    /// 0x200 `gprs`: `x0..x30` handed back (host-call results; MMIO read value in `gprs[0]`).
    pub gprs: [u64; REC_EXIT_GPRS],
    /// 0x2F8: reserved.
    pub reserved_2f8: [u8; 8],
    /// 0x300 `gicv3_hcr`: only UIE, LRENPIE, NPIE, VGrp{0,1}{E,D}IE and TDIR may be set.
    pub gicv3_hcr: u64,
    /// 0x308 `gicv3_lrs`: list registers; the HW bit must be 0.
    pub gicv3_lrs: [u64; REC_GIC_LRS],
    /// 0x388: reserved to the end of the half.
    pub reserved_388: [u8; 0x800 - 0x388],
}

const _: () = {
    assert!(size_of::<RmiRecEnter>() == 0x800);
    assert!(offset_of!(RmiRecEnter, flags) == 0x000);
    assert!(offset_of!(RmiRecEnter, gprs) == 0x200);
    assert!(offset_of!(RmiRecEnter, gicv3_hcr) == 0x300);
    assert!(offset_of!(RmiRecEnter, gicv3_lrs) == 0x308);
};

/// `RmiRecExit`: what the RMM reports when a REC exits (second half of `RmiRecRun`,
/// 0x800 bytes; offsets here are relative, add 0x800 for the `RmiRecRun` offset).
///
/// TF-RMM zeroes this half before every `REC_ENTER` (cca-abi.md §5.3).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RmiRecExit {
    /// 0x000 `exit_reason`: [`super::RmiExitReason`]. TF-RMM writes 8 bytes, KVM reads 1.
    pub exit_reason: u8,
    /// 0x001: rest of the `exit_reason` slot.
    pub reserved_001: [u8; 7],
    /// 0x008: reserved.
    pub reserved_008: [u8; 0x100 - 0x008],
    /// 0x100 `esr`: sanitised `ESR_EL2`.
    pub esr: u64,
    /// 0x108 `far`: `FAR_EL2`.
    pub far: u64,
    /// 0x110 `hpfar`: `HPFAR_EL2`.
    pub hpfar: u64,
    /// 0x118 `rtt_tree` (RMI 1.1).
    pub rtt_tree: u64,
    /// 0x120 `rtt_level` (RMI 1.1).
    pub rtt_level: u64,
    /// 0x128: reserved.
    pub reserved_128: [u8; 0x200 - 0x128],
    /// 0x200 `gprs`: `x0..x30` (MMIO write value in `gprs[0]`; host-call and PSCI arguments).
    pub gprs: [u64; REC_EXIT_GPRS],
    /// 0x2F8: reserved.
    pub reserved_2f8: [u8; 8],
    /// 0x300 `gicv3_hcr`.
    pub gicv3_hcr: u64,
    /// 0x308 `gicv3_lrs`.
    pub gicv3_lrs: [u64; REC_GIC_LRS],
    /// 0x388 `gicv3_misr`.
    pub gicv3_misr: u64,
    /// 0x390 `gicv3_vmcr`.
    pub gicv3_vmcr: u64,
    /// 0x398: reserved.
    pub reserved_398: [u8; 0x400 - 0x398],
    /// 0x400 `cntp_ctl`.
    pub cntp_ctl: u64,
    /// 0x408 `cntp_cval` (the compare value minus the counter offset).
    pub cntp_cval: u64,
    /// 0x410 `cntv_ctl`.
    pub cntv_ctl: u64,
    /// 0x418 `cntv_cval`.
    pub cntv_cval: u64,
    /// 0x420: reserved.
    pub reserved_420: [u8; 0x500 - 0x420],
    /// 0x500 `ripas_base`: base of the requested RIPAS change.
    pub ripas_base: u64,
    /// 0x508 `ripas_top`: top of the requested RIPAS change.
    pub ripas_top: u64,
    /// 0x510 `ripas_value`: requested [`super::RmiRipas`]. TF-RMM writes 1 byte, KVM reads 8.
    pub ripas_value: u8,
    /// 0x511: rest of the `ripas_value` slot and padding.
    pub reserved_511: [u8; 0x520 - 0x511],
    /// 0x520 `s2ap_base` (RMI 1.1).
    pub s2ap_base: u64,
    /// 0x528 `s2ap_top` (RMI 1.1).
    pub s2ap_top: u64,
    /// 0x530 `vdev_id` (RMI 1.1).
    pub vdev_id: u64,
    /// 0x538: reserved.
    pub reserved_538: [u8; 0x600 - 0x538],
    /// 0x600 `imm`: host-call immediate. TF-RMM writes 4 bytes, KVM reads 2.
    pub imm: u16,
    /// 0x602: rest of the `imm` slot.
    pub reserved_602: [u8; 6],
    /// 0x608 `plane` (RMI 1.1).
    pub plane: u64,
    /// 0x610 `vdev` (RMI 1.1).
    pub vdev: u64,
    /// 0x618 `vdev_action` (RMI 1.1).
    pub vdev_action: u8,
    /// 0x619: rest of the `vdev_action` slot.
    pub reserved_619: [u8; 7],
    /// 0x620 `dev_mem_base` (RMI 1.1).
    pub dev_mem_base: u64,
    /// 0x628 `dev_mem_top` (RMI 1.1).
    pub dev_mem_top: u64,
    /// 0x630 `dev_mem_pa` (RMI 1.1).
    pub dev_mem_pa: u64,
    /// 0x638: reserved.
    pub reserved_638: [u8; 0x700 - 0x638],
    /// 0x700 `pmu_ovf_status`: [`super::RmiPmuOverflowStatus`].
    pub pmu_ovf_status: u64,
    /// 0x708: reserved to the end of the half.
    pub reserved_708: [u8; 0x800 - 0x708],
}

const _: () = {
    assert!(size_of::<RmiRecExit>() == 0x800);
    assert!(offset_of!(RmiRecExit, exit_reason) == 0x000);
    assert!(offset_of!(RmiRecExit, esr) == 0x100);
    assert!(offset_of!(RmiRecExit, far) == 0x108);
    assert!(offset_of!(RmiRecExit, hpfar) == 0x110);
    assert!(offset_of!(RmiRecExit, rtt_tree) == 0x118);
    assert!(offset_of!(RmiRecExit, rtt_level) == 0x120);
    assert!(offset_of!(RmiRecExit, gprs) == 0x200);
    assert!(offset_of!(RmiRecExit, gicv3_hcr) == 0x300);
    assert!(offset_of!(RmiRecExit, gicv3_lrs) == 0x308);
    assert!(offset_of!(RmiRecExit, gicv3_misr) == 0x388);
    assert!(offset_of!(RmiRecExit, gicv3_vmcr) == 0x390);
    assert!(offset_of!(RmiRecExit, cntp_ctl) == 0x400);
    assert!(offset_of!(RmiRecExit, cntp_cval) == 0x408);
    assert!(offset_of!(RmiRecExit, cntv_ctl) == 0x410);
    assert!(offset_of!(RmiRecExit, cntv_cval) == 0x418);
    assert!(offset_of!(RmiRecExit, ripas_base) == 0x500);
    assert!(offset_of!(RmiRecExit, ripas_top) == 0x508);
    assert!(offset_of!(RmiRecExit, ripas_value) == 0x510);
    assert!(offset_of!(RmiRecExit, s2ap_base) == 0x520);
    assert!(offset_of!(RmiRecExit, s2ap_top) == 0x528);
    assert!(offset_of!(RmiRecExit, vdev_id) == 0x530);
    assert!(offset_of!(RmiRecExit, imm) == 0x600);
    assert!(offset_of!(RmiRecExit, plane) == 0x608);
    assert!(offset_of!(RmiRecExit, vdev) == 0x610);
    assert!(offset_of!(RmiRecExit, vdev_action) == 0x618);
    assert!(offset_of!(RmiRecExit, dev_mem_base) == 0x620);
    assert!(offset_of!(RmiRecExit, dev_mem_top) == 0x628);
    assert!(offset_of!(RmiRecExit, dev_mem_pa) == 0x630);
    assert!(offset_of!(RmiRecExit, pmu_ovf_status) == 0x700);
};

impl RmiRecExit {
    /// The decoded exit reason.
    #[must_use]
    pub const fn reason(&self) -> super::RmiExitReason {
        super::RmiExitReason::from_raw(self.exit_reason as u64)
    }
}

/// `RmiRecRun`: the NS granule `RMI_REC_ENTER` takes (4096 bytes, cca-abi.md §5.3).
#[derive(Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct RmiRecRun {
    /// 0x000 `enter`: written by the host.
    pub enter: RmiRecEnter,
    /// 0x800 `exit`: written by the RMM.
    pub exit: RmiRecExit,
}

const _: () = {
    assert!(size_of::<RmiRecRun>() == 0x1000);
    assert!(offset_of!(RmiRecRun, enter) == 0x000);
    assert!(offset_of!(RmiRecRun, exit) == 0x800);
    // Absolute offsets of a few exit fields, as cca-abi.md §5.3 lists them.
    assert!(offset_of!(RmiRecRun, exit) + offset_of!(RmiRecExit, esr) == 0x900);
    assert!(offset_of!(RmiRecRun, exit) + offset_of!(RmiRecExit, gprs) == 0xA00);
    assert!(offset_of!(RmiRecRun, exit) + offset_of!(RmiRecExit, ripas_value) == 0xD10);
    assert!(offset_of!(RmiRecRun, exit) + offset_of!(RmiRecExit, imm) == 0xE00);
    assert!(offset_of!(RmiRecRun, exit) + offset_of!(RmiRecExit, pmu_ovf_status) == 0xF00);
};

impl RmiRecRun {
    /// An all-zero run page.
    #[must_use]
    pub fn zeroed() -> Self {
        <Self as zerocopy::FromZeros>::new_zeroed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cca-abi.md §5.1: fields land at their offsets, little-endian.
    #[test]
    fn realm_params_bytes() {
        let mut p = RmiRealmParams::zeroed();
        p.s2sz = 0x27;
        p.hash_algo = 1;
        p.rpv[0] = 0xF0;
        p.vmid = 3;
        p.rtt_level_start = -1;
        let b = p.as_bytes();
        assert_eq!(b[0x008], 0x27);
        assert_eq!(b[0x030], 1);
        assert_eq!(b[0x400], 0xF0);
        assert_eq!(&b[0x800..0x802], &[3, 0]);
        assert_eq!(&b[0x810..0x818], &[0xFF; 8]);
    }

    /// cca-abi.md §5.3: the exit half starts at 0x800 and narrow fields read their low bytes.
    #[test]
    fn rec_run_bytes() {
        let mut bytes = [0u8; 0x1000];
        bytes[0x800] = 5;
        bytes[0xE00] = 0x01;
        bytes[0xE01] = 0x0C;
        bytes[0xD10] = 1;
        bytes[0xA00] = 0x2A;
        let run = RmiRecRun::read_from_bytes(&bytes).unwrap();
        assert_eq!(run.exit.reason(), super::super::RmiExitReason::HostCall);
        assert_eq!(run.exit.imm, 0x0C01);
        assert_eq!(run.exit.ripas_value, 1);
        assert_eq!(run.exit.gprs[0], 0x2A);
    }
}
