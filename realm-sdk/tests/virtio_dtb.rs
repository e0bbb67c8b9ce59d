//! `Devices::parse_dtb` on devicetrees written here as QEMU and kvmtool write them (root
//! with two address and two size cells, `/memory`, `virtio_mmio@...` nodes with
//! `compatible = "virtio,mmio"`, `reg`, `interrupts`), and on hostile blobs: every one is a
//! typed error, never a panic.

use realm_sdk::virtio::{DeviceInfo, Devices, DtbError, MAX_DEVICES};
use vm_fdt::FdtWriter;

const UNPROTECTED: u64 = 1 << 38;

/// A devicetree with `/memory` and `n` virtio-mmio nodes from 0x0a00_0000, 0x200 apart,
/// SPIs from 16; `reg_of` may change a node's `reg` cells.
fn dtb(n: u64, reg_of: impl Fn(u64) -> Vec<u32>) -> Vec<u8> {
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    w.property_string("compatible", "linux,dummy-virt").unwrap();
    let memory = w.begin_node("memory@80000000").unwrap();
    w.property_string("device_type", "memory").unwrap();
    w.property_array_u64("reg", &[0x8000_0000, 32 << 20])
        .unwrap();
    w.end_node(memory).unwrap();
    for i in 0..n {
        let base = 0x0a00_0000 + i * 0x200;
        let node = w.begin_node(&format!("virtio_mmio@{base:x}")).unwrap();
        w.property_string("compatible", "virtio,mmio").unwrap();
        w.property_array_u32("reg", &reg_of(base)).unwrap();
        w.property_array_u32("interrupts", &[0, 16 + i as u32, 1])
            .unwrap();
        w.property_null("dma-coherent").unwrap();
        w.end_node(node).unwrap();
    }
    let other = w.begin_node("pl011@9000000").unwrap();
    w.property_string_list(
        "compatible",
        vec!["arm,pl011".into(), "arm,primecell".into()],
    )
    .unwrap();
    w.property_array_u64("reg", &[0x0900_0000, 0x1000]).unwrap();
    w.end_node(other).unwrap();
    w.end_node(root).unwrap();
    w.finish().unwrap()
}

fn reg(base: u64) -> Vec<u32> {
    vec![(base >> 32) as u32, base as u32, 0, 0x200]
}

#[test]
fn virtio_nodes_and_memory_are_read_at_the_unprotected_alias() {
    let devices = Devices::parse_dtb(&dtb(2, reg), UNPROTECTED).unwrap();
    assert_eq!(
        devices.list(),
        [
            DeviceInfo {
                ipa: 0x40_0a00_0000,
                size: 0x200,
                irq: Some(16)
            },
            DeviceInfo {
                ipa: 0x40_0a00_0200,
                size: 0x200,
                irq: Some(17)
            },
        ]
    );
    assert_eq!(devices.memory(), Some((0x8000_0000, 32 << 20)));
    // The same device list as the hosts' default slots.
    let none = Devices::parse_dtb(&dtb(0, reg), UNPROTECTED).unwrap();
    assert!(none.list().is_empty());
}

#[test]
fn a_blob_that_is_not_a_devicetree_is_refused() {
    assert_eq!(
        Devices::parse_dtb(b"not a devicetree", UNPROTECTED),
        Err(DtbError::BadMagic(u32::from_be_bytes(*b"not ")))
    );
    assert_eq!(
        Devices::parse_dtb(&[], UNPROTECTED),
        Err(DtbError::BadMagic(0))
    );
    let blob = dtb(2, reg);
    assert_eq!(
        Devices::parse_dtb(&blob[..20], UNPROTECTED),
        Err(DtbError::Malformed)
    );
    // A totalsize past the blob, or over the limit.
    assert_eq!(
        Devices::parse_dtb(&blob[..blob.len() - 1], UNPROTECTED),
        Err(DtbError::Malformed)
    );
    let mut big = blob.clone();
    big[4..8].copy_from_slice(&0x0100_0000u32.to_be_bytes());
    assert_eq!(
        Devices::parse_dtb(&big, UNPROTECTED),
        Err(DtbError::BadSize(0x0100_0000))
    );
    // Block offsets whose sum overflows 32 bits (fdt 0.2.0-alpha3 would panic on them).
    let mut wrap = blob.clone();
    wrap[8..12].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
    assert_eq!(
        Devices::parse_dtb(&wrap, UNPROTECTED),
        Err(DtbError::Malformed)
    );
}

#[test]
fn unusable_reg_properties_are_refused() {
    // Missing size cells.
    let e = Devices::parse_dtb(&dtb(1, |b| vec![0, b as u32]), UNPROTECTED).unwrap_err();
    assert_eq!(e, DtbError::BadReg);
    // Zero size.
    let e = Devices::parse_dtb(&dtb(1, |b| vec![0, b as u32, 0, 0]), UNPROTECTED).unwrap_err();
    assert_eq!(e, DtbError::BadReg);
    // Already in the unprotected half, or wrapping around the address space.
    let e = Devices::parse_dtb(&dtb(1, |b| reg(b | UNPROTECTED)), UNPROTECTED).unwrap_err();
    assert_eq!(e, DtbError::BadReg);
    let e = Devices::parse_dtb(&dtb(1, |_| vec![u32::MAX, u32::MAX, 0, 0x200]), UNPROTECTED)
        .unwrap_err();
    assert_eq!(e, DtbError::BadReg);
    assert!(!e.to_string().is_empty());
}

#[test]
fn more_devices_than_the_list_holds_are_refused() {
    let e = Devices::parse_dtb(&dtb(MAX_DEVICES as u64 + 1, reg), UNPROTECTED).unwrap_err();
    assert_eq!(e, DtbError::TooManyDevices);
    assert_eq!(
        Devices::parse_dtb(&dtb(MAX_DEVICES as u64, reg), UNPROTECTED)
            .unwrap()
            .list()
            .len(),
        MAX_DEVICES
    );
}

#[test]
fn corrupted_blobs_give_errors_or_lists_never_panics() {
    // Every single-byte corruption and every truncation of a real blob, and a header whose
    // offsets and sizes point anywhere.
    let blob = dtb(2, reg);
    for at in 0..blob.len() {
        for value in [0x00, 0xff, 0x01, 0x80] {
            let mut bad = blob.clone();
            bad[at] = value;
            let _ = Devices::parse_dtb(&bad, UNPROTECTED);
        }
        let _ = Devices::parse_dtb(&blob[..at], UNPROTECTED);
    }
    // Several random corruptions at once (a fixed linear congruential sequence).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    for _ in 0..20_000 {
        let mut bad = blob.clone();
        for _ in 0..1 + next() % 8 {
            let at = next() % bad.len();
            bad[at] = next() as u8;
        }
        let _ = Devices::parse_dtb(&bad, UNPROTECTED);
    }
    for field in (4..40).step_by(4) {
        for value in [0u32, 1, 0x28, 0xffff_fff0, u32::MAX] {
            let mut bad = blob.clone();
            bad[field..field + 4].copy_from_slice(&value.to_be_bytes());
            let _ = Devices::parse_dtb(&bad, UNPROTECTED);
        }
    }
}
