//! Fuzzes what the host hands an inference realm (`realm-inference`): the model file (and
//! the kernel on whatever parses), the encrypted container, the disk header and the report
//! lines. No input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realm_inference::container;
use realm_inference::disk::{Header, SECTOR_SIZE};
use realm_inference::model::{MAX_CLASSES, Model};
use realm_inference::report::Line;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Model::parse(data) {
        let input = vec![0x80u8; model.input_len()];
        let mut logits = [0i32; MAX_CLASSES];
        let _ = model.classify(&input, &mut logits[..model.classes()]);
    }
    let mut c = data.to_vec();
    let _ = container::open(&[7; 32], &container::model_id("digits-mlp"), &mut c);
    let mut sector = [0u8; SECTOR_SIZE];
    let n = data.len().min(SECTOR_SIZE);
    sector[..n].copy_from_slice(&data[..n]);
    if let Ok(h) = Header::parse(&sector, data.len() as u64 * 64) {
        for i in 0..h.batches() {
            let _ = h.batch(i);
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        for line in text.lines() {
            let _ = Line::parse(line);
        }
    }
});
