//! Inferences per second of the int8 kernel on the host, over the 450 held-out digits of
//! `data/digits`, next to a named baseline in the same run: the same network in `f32`
//! (each layer's weights and biases dequantised with the scales the model file carries,
//! ReLU, no requantisation), the arithmetic a float inference engine would do.
//!
//! This is also the host baseline of `cargo xtask inference`, which prints the realm's
//! inferences per second next to this kernel's on the host in the same run.
//!
//! Run: `cargo bench -p realm-inference --bench classify`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use realm_inference::model::{Kind, Model};

const MODEL: &[u8] = include_bytes!("../data/digits/model.qmlp");
const INPUTS: &[u8] = include_bytes!("../data/digits/inputs.bin");

/// The float baseline: per layer, weights (out × in) and biases as `f32`.
struct FloatMlp {
    layers: Vec<(usize, Vec<f32>, Vec<f32>, bool)>,
}

impl FloatMlp {
    /// Dequantises `model`: a weight's real value is its integer times the layer's weight
    /// scale, which is (output scale of the layer before, or 1/16 for the input) ÷ the
    /// layer's accumulator scale; the biases are at the accumulator's scale.
    fn new(model: &Model<'_>, raw: &[u8]) -> Self {
        let mut layers = Vec::new();
        let mut at = 8 + 16 * model.layers().len();
        let mut in_scale = 1.0f32 / 16.0;
        for l in model.layers() {
            let w = &raw[at..at + l.inputs * l.outputs];
            at += w.len();
            let b = &raw[at..at + 4 * l.outputs];
            at += b.len();
            let acc_scale = match l.kind {
                // m · 2^-s = accumulator scale ÷ output scale.
                Kind::ReluRequantise { multiplier, shift } => {
                    l.scale * (multiplier as f32) / ((1u64 << shift) as f32)
                }
                Kind::Linear => l.scale,
            };
            let w_scale = acc_scale / in_scale;
            let weights = w.iter().map(|&x| f32::from(x as i8) * w_scale).collect();
            let biases = b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32 * acc_scale)
                .collect();
            layers.push((
                l.inputs,
                weights,
                biases,
                matches!(l.kind, Kind::ReluRequantise { .. }),
            ));
            in_scale = l.scale;
        }
        Self { layers }
    }

    fn classify(&self, input: &[u8]) -> usize {
        let mut a: Vec<f32> = input.iter().map(|&x| f32::from(x as i8) / 16.0).collect();
        for (inputs, w, b, relu) in &self.layers {
            a = b
                .iter()
                .zip(w.chunks_exact(*inputs))
                .map(|(b, row)| {
                    let y = b + row.iter().zip(&a).map(|(w, x)| w * x).sum::<f32>();
                    if *relu { y.max(0.0) } else { y }
                })
                .collect();
        }
        a.iter()
            .enumerate()
            .fold(0, |best, (j, &y)| if y > a[best] { j } else { best })
    }
}

fn main() {
    let model = Model::parse(MODEL).expect("the committed model parses");
    let n = INPUTS.len() / model.input_len();
    let float = FloatMlp::new(&model, MODEL);
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut g = c.benchmark_group("digits, 450 inputs");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("int8 kernel (realm-inference)", |b| {
        let mut logits = [0i32; 10];
        b.iter(|| {
            let mut sum = 0u32;
            for input in black_box(INPUTS).chunks_exact(model.input_len()) {
                sum += u32::from(model.classify(input, &mut logits).expect("classifies"));
            }
            sum
        });
    });
    g.bench_function("baseline: the same network in f32", |b| {
        b.iter(|| {
            let mut sum = 0usize;
            for input in black_box(INPUTS).chunks_exact(model.input_len()) {
                sum += float.classify(input);
            }
            sum
        });
    });
    g.finish();
}
