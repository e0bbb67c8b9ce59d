//! A host-provided devicetree (`realm_sdk::virtio::Devices::parse_dtb`): any bytes give a
//! device list or a `DtbError`, never a panic, and every device listed is in the
//! unprotected half.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realm_sdk::virtio::Devices;

fuzz_target!(|data: &[u8]| {
    const UNPROTECTED: u64 = 1 << 38;
    if let Ok(devices) = Devices::parse_dtb(data, UNPROTECTED) {
        for d in devices.list() {
            assert!(d.ipa & UNPROTECTED != 0 && d.size != 0);
        }
    }
});
