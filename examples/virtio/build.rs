//! Links the payload with realm-sdk's image script and a board's MEMORY file, and writes
//! the devicetree its `x1 = 2` mode embeds: the two virtio-mmio slots of this project's
//! hosts (`cca_abi::virtio`), as QEMU would describe them.

use std::path::PathBuf;

use cca_abi::virtio::{MMIO_BASE, MMIO_STRIDE, SLOTS};
use vm_fdt::FdtWriter;

fn devicetree() -> Result<Vec<u8>, vm_fdt::Error> {
    let mut w = FdtWriter::new()?;
    let root = w.begin_node("")?;
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 2)?;
    w.property_string("compatible", "linux,dummy-virt")?;
    let memory = w.begin_node("memory@80000000")?;
    w.property_string("device_type", "memory")?;
    w.property_array_u64("reg", &[0x8000_0000, 32 << 20])?;
    w.end_node(memory)?;
    for slot in 0..SLOTS {
        let base = MMIO_BASE + slot * MMIO_STRIDE;
        let node = w.begin_node(&format!("virtio_mmio@{base:x}"))?;
        w.property_string("compatible", "virtio,mmio")?;
        w.property_array_u64("reg", &[base, MMIO_STRIDE])?;
        w.property_array_u32("interrupts", &[0, 16 + slot as u32, 1])?;
        w.end_node(node)?;
    }
    w.end_node(root)?;
    w.finish()
}

fn main() {
    realm_build::link_payload();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dtb = devicetree().expect("write the devicetree");
    std::fs::write(out.join("devices.dtb"), dtb).expect("write OUT_DIR/devices.dtb");
}
