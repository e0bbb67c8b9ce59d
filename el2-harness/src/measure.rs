//! The RIM of the realm the harness builds.
//!
//! The harness has no RMM, so it computes the RIM the reference RMM (TF-RMM v0.8.0) would
//! compute for a host that built the realm this way (each step's measurement as in
//! `cca_abi::rim`, which reproduces TF-RMM's captured vectors):
//!
//! 1. `RMI_REALM_CREATE` with `s2sz` = 39, SHA-256, and no SVE, breakpoints, watchpoints or
//!    PMU counters (`flags0` = 0);
//! 2. RTTs down to level 3 over realm RAM, then `RMI_RTT_INIT_RIPAS` over all of it: one
//!    RIPAS descriptor per 4 KiB entry, in address order;
//! 3. `RMI_DATA_CREATE` with `MEASURE_CONTENT` for each 4 KiB of the image (the last one
//!    zero-padded), in address order from the start of realm RAM; the rest of realm RAM is
//!    populated with `RMI_DATA_CREATE_UNKNOWN`, which is not measured;
//! 4. `RMI_REC_CREATE` of one RUNNABLE REC entered at the start of realm RAM with `x0` =
//!    the boot information's entry values in `x0` and `x1`.

use cca_abi::GRANULE_SIZE;
use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams, Rim};
use cca_abi::rmi::{RecCreateFlags, RmiDataMeasureContent};

use crate::layout::{IPA_WIDTH, REALM_RAM_IPA, REALM_RAM_SIZE};

const GRANULE: u64 = GRANULE_SIZE as u64;

/// The realm parameters the harness's build measures.
#[must_use]
pub const fn realm_params() -> MeasuredRealmParams {
    MeasuredRealmParams {
        flags0: 0,
        s2sz: IPA_WIDTH as u32,
        sve_vl: 0,
        num_bps: 0,
        num_wps: 0,
        pmu_num_ctrs: 0,
        hash_algo: HashAlgorithm::Sha256,
    }
}

/// The RIM of the realm built from `image` (at most the size of realm RAM) whose REC starts
/// with `x0`, `x1` = `entry`; `None` if the image does not fit.
#[must_use]
pub fn rim(image: &[u8], entry: [u64; 2]) -> Option<Measurement> {
    if image.len() as u64 > REALM_RAM_SIZE {
        return None;
    }
    let mut rim = Rim::new(&realm_params());
    for entry in (REALM_RAM_IPA..REALM_RAM_IPA + REALM_RAM_SIZE).step_by(GRANULE_SIZE) {
        rim.init_ripas_entry(entry, entry + GRANULE);
    }
    let mut ipa = REALM_RAM_IPA;
    for chunk in image.chunks(GRANULE_SIZE) {
        let mut content = [0u8; GRANULE_SIZE];
        content[..chunk.len()].copy_from_slice(chunk);
        rim.data_create(ipa, RmiDataMeasureContent::MeasureContent, &content);
        ipa += GRANULE;
    }
    let mut gprs = [0; 8];
    gprs[..2].copy_from_slice(&entry);
    let rec = MeasuredRecParams {
        flags: RecCreateFlags::RUNNABLE.to_raw(),
        pc: REALM_RAM_IPA,
        gprs,
    };
    rim.rec_create_measured(&rec);
    Some(rim.measurement())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    /// The RIM depends on every measured input: image bytes, image length, entry register.
    #[test]
    fn rim_depends_on_image_and_entry() {
        let a = rim(&[1, 2, 3], [0, 0]).unwrap();
        assert_ne!(a, rim(&[1, 2, 4], [0, 0]).unwrap());
        assert_ne!(a, rim(&[1, 2, 3], [1, 0]).unwrap());
        assert_ne!(a, rim(&[1, 2, 3], [0, 1]).unwrap());
        // A partial last granule is zero-padded: trailing zeros inside it do not count...
        assert_eq!(a, rim(&[1, 2, 3, 0], [0, 0]).unwrap());
        // ...but a further granule does.
        let mut two = vec![0u8; 4097];
        two[..3].copy_from_slice(&[1, 2, 3]);
        assert_ne!(a, rim(&two, [0, 0]).unwrap());
        assert!(rim(&vec![0u8; (32 << 20) + 1], [0, 0]).is_none());
    }
}
