//! `inference-bench`: the int8 kernel of `realm-inference` in a realm, on the committed
//! digits model and its 450 held-out inputs (built into this image: this payload measures
//! the kernel, it is not the attested-inference story, whose model travels encrypted; see
//! `examples/inference`).
//!
//! It classifies every input, checks each output record against the training script's
//! reference output bit for bit, counts the correct labels, then classifies the whole set
//! `ROUNDS` (20) times timed with the generic timer, and prints one line:
//!
//! ```text
//! inference-bench: 450/450 outputs equal the reference bit for bit, 438/450 correct; 9000 inferences in T ticks at F Hz
//! ```
//!
//! `cargo xtask inference-bench` runs it and prints the inferences per second next to the
//! same kernel natively on the host (the baseline) in the same run.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    use realm_inference::model::{Model, encode_output};
    use realm_sdk::rt::EntryArgs;
    use realm_sdk::time::{Clock, Instant};
    use realm_sdk::{Realm, Smc, println};

    realm_sdk::entry!(main);

    const MODEL: &[u8] = include_bytes!("../../../realm-inference/data/digits/model.qmlp");
    const INPUTS: &[u8] = include_bytes!("../../../realm-inference/data/digits/inputs.bin");
    const OUTPUTS: &[u8] = include_bytes!("../../../realm-inference/data/digits/outputs.bin");
    const LABELS: &[u8] = include_bytes!("../../../realm-inference/data/digits/labels.bin");

    /// How many times the timed loop classifies the whole set.
    const ROUNDS: u64 = 20;

    fn main(_realm: &mut Realm<Smc>, _args: EntryArgs) {
        let model = match Model::parse(MODEL) {
            Ok(model) => model,
            Err(e) => panic!("inference-bench: {e}"),
        };
        let (input_len, output_len) = (model.input_len(), model.output_len());
        let mut logits = [0i32; 10];
        let mut record = [0u8; 41];
        if model.classes() != logits.len() || output_len != record.len() {
            panic!("inference-bench: the committed model is not the 64-32-10 digits model");
        }
        let (mut exact, mut correct, mut total) = (0, 0, 0);
        for ((input, expected), label) in INPUTS
            .chunks_exact(input_len)
            .zip(OUTPUTS.chunks_exact(output_len))
            .zip(LABELS)
        {
            let class = match model.classify(input, &mut logits) {
                Ok(class) => class,
                Err(e) => panic!("inference-bench: {e}"),
            };
            if encode_output(class, &logits, &mut record).is_ok() && record == *expected {
                exact += 1;
            }
            if class == *label {
                correct += 1;
            }
            total += 1;
        }
        let Some(clock) = Clock::read() else {
            panic!("inference-bench: the generic timer has no frequency");
        };
        let start = Instant::now();
        let mut checksum = 0u64;
        for _ in 0..ROUNDS {
            for input in INPUTS.chunks_exact(input_len) {
                let class = model.classify(core::hint::black_box(input), &mut logits);
                checksum += u64::from(class.unwrap_or(0));
            }
        }
        let ticks = Instant::now().ticks().wrapping_sub(start.ticks());
        core::hint::black_box(checksum);
        println!(
            "inference-bench: {exact}/{total} outputs equal the reference bit for bit, {correct}/{total} correct; {} inferences in {ticks} ticks at {} Hz",
            ROUNDS * total,
            clock.hz()
        );
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "inference-bench is a realm payload: build it with `cargo build -p inference-bench --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
