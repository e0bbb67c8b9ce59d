//! The RIM of the realm the harness builds.
//!
//! The harness has no RMM, so it computes the RIM the reference RMM (TF-RMM v0.8.0) would
//! compute for the realm rmi-shim's builder makes from the same image with its default
//! configuration ([`rmi_shim::builder::RealmConfig::default`]: 32 MiB of RAM at IPA
//! 0x8000_0000, 39-bit IPA space, SHA-256, one REC entered at the start of RAM). So a payload
//! reads the same RIM under the harness as under TF-RMM launched by rmi-shim's host.

use cca_abi::measurement::Measurement;
use rmi_shim::builder::RealmConfig;

/// The builder configuration the harness mirrors, for `image` with `x0`, `x1` = `entry`.
#[must_use]
pub fn config(image: &[u8], entry: [u64; 2]) -> RealmConfig<'_> {
    let mut entry_regs = [0; 8];
    entry_regs[..2].copy_from_slice(&entry);
    RealmConfig {
        image,
        entry_regs,
        ..RealmConfig::default()
    }
}

/// The RIM of the realm built from `image` whose REC starts with `x0`, `x1` = `entry`;
/// `None` if the image does not fit in realm RAM.
#[must_use]
pub fn rim(image: &[u8], entry: [u64; 2]) -> Option<Measurement> {
    rim_for(image, entry, cca_abi::rmi::Generation::V1_0)
}

/// [`rim`] as an RMM of `generation` measures the same build (RMI 2.0 does not measure
/// `RMI_RTT_INIT_RIPAS`): what rmi-host's realm has on TF-RMM v0.9.0.
#[must_use]
pub fn rim_for(
    image: &[u8],
    entry: [u64; 2],
    generation: cca_abi::rmi::Generation,
) -> Option<Measurement> {
    if image.len() as u64 > config(image, entry).ram_size {
        return None;
    }
    config(image, entry).predict_rim_for(generation).ok()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    /// The RIM depends on every measured input: image bytes, image length, entry registers.
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

    /// The harness's stage 2 maps what the builder's default configuration describes.
    #[test]
    fn layout_matches_the_builder_default() {
        use crate::layout::{IPA_WIDTH, REALM_RAM_IPA, REALM_RAM_SIZE, UART_PA};
        let c = RealmConfig::default();
        assert_eq!(
            (c.ram_base, c.ram_size, c.ipa_width),
            (REALM_RAM_IPA, REALM_RAM_SIZE, u32::from(IPA_WIDTH))
        );
        assert_eq!(c.uart_ipa, Some(UART_PA));
    }
}
