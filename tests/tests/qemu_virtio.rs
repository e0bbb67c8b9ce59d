//! The `virtio` realm payload on QEMU under the EL2 harness (`expected/virtio.txt`): its
//! console lines arrive through the harness's virtio console, and it reads a disk image
//! made here through the virtio block device (loaded by QEMU at the harness's disk
//! window), whose SHA-256 it reports, and writes and reads back a pattern. Once with the
//! default device slots, once (`x1 = 2`) with the devices read from a devicetree in the
//! realm's measured image, whose RIM must still be the one computed offline.

use std::time::Duration;

use sha2::{Digest, Sha256};
use system_tests::{expected, match_output, qemu_or_skip};
use xtask::{Qemu, build_harness, build_payload};

/// A 2 MiB disk image: a header, then bytes that differ from sector to sector.
fn disk_image() -> Vec<u8> {
    let mut disk: Vec<u8> = (0..2u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let header = b"REALM-SDK VIRTIO TEST DISK\n\0\0\0\0\0";
    disk[..header.len()].copy_from_slice(header);
    disk
}

fn run(test: &str, x1: u64, expected_file: &str) {
    if !qemu_or_skip(test) {
        return;
    }
    let disk = disk_image();
    let path =
        std::env::temp_dir().join(format!("realm-sdk-virtio-{x1}-{}.img", std::process::id()));
    std::fs::write(&path, &disk).expect("write the disk image");
    let harness = build_harness().expect("build el2-harness");
    let (image_path, image) = build_payload("virtio").expect("build virtio");
    let output = Qemu {
        harness,
        image: image_path,
        image_size: image.bytes.len() as u64,
        entry: [0, x1],
        timeout: Duration::from_secs(120),
        rmm: xtask::ModelRmm::default(),
        disk: Some(path.clone()),
        recs: 1,
    }
    .run();
    let _ = std::fs::remove_file(&path);
    let output = output.expect("run QEMU");
    let captures = match_output(&expected(expected_file), &output)
        .unwrap_or_else(|e| panic!("{test}: {e}\n--- output ---\n{output}"));
    let offline = el2_harness::measure::rim(&image.bytes, [0, x1]).expect("image fits");
    assert_eq!(captures[1], offline.to_string(), "{test}: RIM");
    let digest: String = Sha256::digest(&disk[..1 << 20])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        captures[2], digest,
        "{test}: the SHA-256 the realm read through virtio"
    );
}

#[test]
fn virtio_console_and_block_under_the_harness() {
    run("virtio", 0, "virtio.txt");
}

#[test]
fn virtio_devices_from_a_measured_devicetree() {
    run("virtio (devicetree)", 2, "virtio-dtb.txt");
}

#[test]
fn a_disk_image_larger_than_the_window_is_refused() {
    let path =
        std::env::temp_dir().join(format!("realm-sdk-virtio-big-{}.img", std::process::id()));
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(cca_abi::virtio::DISK_WINDOW + 1)
        .expect("size");
    let e = xtask::disk_device(&path, cca_abi::virtio::HARNESS_DISK_PA).unwrap_err();
    let _ = std::fs::remove_file(&path);
    assert!(e.to_string().contains("more than the 16777216"), "{e}");
}
