//! The kernel against the reference outputs `tools/inference/train_digits.py` recorded from
//! its own integer implementation: every logit of every held-out digit, bit for bit.

use realm_inference::model::{Model, encode_output};

const MODEL: &[u8] = include_bytes!("../data/digits/model.qmlp");
const INPUTS: &[u8] = include_bytes!("../data/digits/inputs.bin");
const OUTPUTS: &[u8] = include_bytes!("../data/digits/outputs.bin");
const LABELS: &[u8] = include_bytes!("../data/digits/labels.bin");
const ACCURACY: &str = include_str!("../data/digits/accuracy.txt");

#[test]
fn every_output_is_bit_exact() {
    let model = Model::parse(MODEL).unwrap();
    assert_eq!((model.input_len(), model.classes()), (64, 10));
    assert_eq!(model.layers().len(), 2);
    let n = INPUTS.len() / 64;
    assert_eq!(n, 450);
    assert_eq!(OUTPUTS.len(), n * model.output_len());
    let mut logits = [0i32; 10];
    let mut record = [0u8; 41];
    for (i, (input, expected)) in INPUTS
        .chunks_exact(64)
        .zip(OUTPUTS.chunks_exact(41))
        .enumerate()
    {
        let class = model.classify(input, &mut logits).unwrap();
        let len = encode_output(class, &logits, &mut record).unwrap();
        assert_eq!(&record[..len], expected, "digit {i}");
    }
}

/// The accuracy is the one the script printed for its integer network (and recorded in
/// accuracy.txt).
#[test]
fn accuracy_is_the_scripts() {
    let model = Model::parse(MODEL).unwrap();
    let mut logits = [0i32; 10];
    let correct = INPUTS
        .chunks_exact(64)
        .zip(LABELS)
        .filter(|(input, label)| model.classify(input, &mut logits).unwrap() == **label)
        .count();
    assert_eq!(correct, 438);
    assert!(
        ACCURACY.contains(&format!("int8 accuracy: 0.9733 ({correct}/450)")),
        "{ACCURACY}"
    );
}

/// A wrong length is refused, never a panic.
#[test]
fn wrong_lengths_are_refused() {
    let model = Model::parse(MODEL).unwrap();
    let mut logits = [0i32; 10];
    assert!(model.classify(&[0; 63], &mut logits).is_err());
    assert!(model.classify(&[0; 65], &mut logits).is_err());
    assert!(model.classify(&[0; 64], &mut logits[..9]).is_err());
    let e = model.classify(&[0; 63], &mut logits).unwrap_err();
    assert_eq!(e.to_string(), "an input of 63 bytes; the model takes 64");
}
