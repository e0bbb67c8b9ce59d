//! The quantised model format (`QMLP`, version 1) and its int8 kernel.
//!
//! A model is a chain of fully connected layers over signed 8-bit activations, written by
//! `tools/inference/train_digits.py`. All integers are little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `"QMLP"` |
//! | 2 | version, 1 |
//! | 2 | layer count `L`, 1 to [`MAX_LAYERS`] |
//! | 16 × `L` | layer records, below |
//! | per layer, in order | weights: `outputs × inputs` int8, row-major (one row per output); then biases: `outputs` int32 |
//!
//! A layer record:
//!
//! | bytes | field |
//! |---|---|
//! | 2 | inputs, 1 to [`MAX_WIDTH`] (the first layer's is the model's input length; each later layer's equals the previous layer's outputs) |
//! | 2 | outputs, 1 to [`MAX_WIDTH`] |
//! | 1 | kind: 0 linear (only the last layer, whose accumulators are the logits), 1 ReLU and requantise (every other layer) |
//! | 1 | shift `s`: 1 to 62 for kind 1, 0 for kind 0 |
//! | 2 | reserved, 0 |
//! | 4 | multiplier `m`: int32, 2^30 to 2^31 − 1 for kind 1, 0 for kind 0 |
//! | 4 | the real scale of the layer's output (f32; documentation for tools, unused by the kernel) |
//!
//! # The arithmetic
//!
//! For output `j` of a layer with inputs `x`: `acc = bias[j] + Σ x[i]·w[j][i]` (int32), then
//! for kind 1 `y = clamp((acc·m + 2^(s−1)) >> s, 0, 127)` (int64, arithmetic shift: round
//! half up), and for the last layer the logits are `acc`. The class is the index of the
//! first largest logit. The parser refuses a bias of magnitude over [`MAX_BIAS`], so with at
//! most [`MAX_WIDTH`] inputs of magnitude at most 128 and weights of at most 128 an
//! accumulator cannot leave int32 (2^30 + 512·2^14 < 2^31), and `acc·m + 2^61` cannot leave
//! int64. The training script computes the same function with NumPy integers, so the kernel
//! is checked bit for bit against the outputs it recorded.
//!
//! # Why no inference crate
//!
//! The maintained `no_std` candidates were weighed first. `microflow` (0.1.3, May 2024) is
//! `no_std`, but its compiler is a procedural macro that turns a TFLite file into code and
//! constants **at build time**: the weights would sit in the realm image, measured into the
//! RIM and readable by whoever holds the image, while this example's model must travel
//! encrypted and be decrypted only inside an approved realm at run time; it also computes in
//! `f32` over `nalgebra`. `tract` needs `std`. `burn` carries a tensor framework far larger
//! than a 2.5 KB model needs. A 64-32-10 MLP is two matrix-vector products, so the kernel
//! is the hundred lines below, parsed from bytes at run time, without `unsafe` or a heap.

use core::fmt;

/// The format's magic.
pub const MAGIC: [u8; 4] = *b"QMLP";
/// The format version this parser reads.
pub const VERSION: u16 = 1;
/// Bytes of the file header (magic, version, layer count).
pub const HEADER_SIZE: usize = 8;
/// Bytes of a layer record.
pub const LAYER_RECORD_SIZE: usize = 16;
/// The most layers a model may have.
pub const MAX_LAYERS: usize = 8;
/// The most inputs or outputs a layer may have.
pub const MAX_WIDTH: usize = 512;
/// The most classes (last-layer outputs) a model may have: a class is one byte.
pub const MAX_CLASSES: usize = 256;
/// The largest bias magnitude accepted (keeps every accumulator in int32).
pub const MAX_BIAS: i32 = 1 << 30;
/// The largest model file accepted: every layer at [`MAX_WIDTH`] × [`MAX_WIDTH`].
pub const MAX_MODEL_SIZE: usize =
    HEADER_SIZE + MAX_LAYERS * (LAYER_RECORD_SIZE + MAX_WIDTH * MAX_WIDTH + 4 * MAX_WIDTH);

/// What a layer does after its matrix-vector product.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Kind {
    /// Nothing: the accumulators are the output (the last layer's logits).
    Linear,
    /// ReLU and requantisation to `[0, 127]` with a fixed-point multiplier and shift.
    ReluRequantise {
        /// The multiplier `m`, 2^30 to 2^31 − 1.
        multiplier: i32,
        /// The shift `s`, 1 to 62.
        shift: u8,
    },
}

/// One layer of a parsed model, borrowing its weights from the model's bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layer<'a> {
    /// Number of inputs.
    pub inputs: usize,
    /// Number of outputs.
    pub outputs: usize,
    /// What follows the product.
    pub kind: Kind,
    /// The real scale of the output (informative, from the training script).
    pub scale: f32,
    /// `outputs × inputs` weights, row-major, as signed bytes.
    weights: &'a [u8],
    /// `outputs` little-endian int32 biases.
    biases: &'a [u8],
}

impl Layer<'_> {
    /// A placeholder for the unused slots of a [`Model`].
    const EMPTY: Layer<'static> = Layer {
        inputs: 0,
        outputs: 0,
        kind: Kind::Linear,
        scale: 0.0,
        weights: &[],
        biases: &[],
    };

    /// The bias of output `j` (`j < outputs`, checked by the parser's layout).
    fn bias(&self, j: usize) -> i32 {
        let b = &self.biases[4 * j..4 * j + 4];
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The weights of output `j`.
    fn row(&self, j: usize) -> &[u8] {
        &self.weights[j * self.inputs..(j + 1) * self.inputs]
    }
}

/// Why model bytes were refused. Offsets count from the start of the file.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ModelError {
    /// Fewer bytes than the header, the layer records or the weights they announce.
    Truncated {
        /// Bytes the header and records call for (or the header's size).
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// More bytes than the layers announce.
    TrailingBytes {
        /// Bytes the layers call for.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// Not [`MAGIC`].
    Magic,
    /// Another version of the format.
    Version(u16),
    /// A layer count of 0 or over [`MAX_LAYERS`].
    LayerCount(u16),
    /// A layer with 0 or over [`MAX_WIDTH`] inputs or outputs.
    Width {
        /// The layer.
        layer: usize,
        /// Its inputs.
        inputs: u16,
        /// Its outputs.
        outputs: u16,
    },
    /// A last layer with more than [`MAX_CLASSES`] outputs.
    Classes(usize),
    /// A layer whose inputs are not the previous layer's outputs.
    Chain {
        /// The layer.
        layer: usize,
        /// Its inputs.
        inputs: usize,
        /// The previous layer's outputs.
        previous: usize,
    },
    /// A kind byte other than 0 and 1, a linear layer before the last, or a last layer that
    /// is not linear.
    Kind {
        /// The layer.
        layer: usize,
        /// Its kind byte.
        kind: u8,
    },
    /// A multiplier or shift out of range for the layer's kind.
    Requantisation {
        /// The layer.
        layer: usize,
        /// Its multiplier.
        multiplier: i32,
        /// Its shift.
        shift: u8,
    },
    /// Reserved bytes that are not zero.
    Reserved {
        /// The layer.
        layer: usize,
    },
    /// A bias of magnitude over [`MAX_BIAS`].
    Bias {
        /// The layer.
        layer: usize,
        /// The output.
        output: usize,
        /// The bias.
        bias: i32,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { needed, got } => write!(
                f,
                "the model is truncated: its header calls for {needed} bytes, {got} were given"
            ),
            Self::TrailingBytes { expected, got } => write!(
                f,
                "the model has {got} bytes where its layers call for {expected}"
            ),
            Self::Magic => f.write_str("not a quantised model (its magic is not \"QMLP\")"),
            Self::Version(v) => {
                write!(
                    f,
                    "model format version {v}; this parser reads version {VERSION}"
                )
            }
            Self::LayerCount(n) => {
                write!(f, "a model of {n} layers; 1 to {MAX_LAYERS} are accepted")
            }
            Self::Width {
                layer,
                inputs,
                outputs,
            } => write!(
                f,
                "layer {layer} has {inputs} inputs and {outputs} outputs; each must be 1 to {MAX_WIDTH}"
            ),
            Self::Classes(n) => write!(
                f,
                "the last layer has {n} outputs; a model may have at most {MAX_CLASSES} classes"
            ),
            Self::Chain {
                layer,
                inputs,
                previous,
            } => write!(
                f,
                "layer {layer} takes {inputs} inputs, but layer {} gives {previous} outputs",
                layer - 1
            ),
            Self::Kind { layer, kind } => write!(
                f,
                "layer {layer} has kind {kind}; every layer but the last must be 1 (ReLU) and the last 0 (linear)"
            ),
            Self::Requantisation {
                layer,
                multiplier,
                shift,
            } => write!(
                f,
                "layer {layer} has multiplier {multiplier:#x} and shift {shift}, out of range for its kind"
            ),
            Self::Reserved { layer } => write!(f, "layer {layer} has non-zero reserved bytes"),
            Self::Bias {
                layer,
                output,
                bias,
            } => write!(
                f,
                "layer {layer} output {output} has bias {bias}, beyond the limit of {MAX_BIAS}"
            ),
        }
    }
}

impl core::error::Error for ModelError {}

/// Why an input could not be classified.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ClassifyError {
    /// The input's length is not the model's input length.
    InputLength {
        /// The model's input length.
        expected: usize,
        /// The input's.
        got: usize,
    },
    /// The logits buffer is not the model's class count long.
    OutputLength {
        /// The model's class count.
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
}

impl fmt::Display for ClassifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::InputLength { expected, got } => {
                write!(f, "an input of {got} bytes; the model takes {expected}")
            }
            Self::OutputLength { expected, got } => write!(
                f,
                "a logits buffer of {got} entries; the model has {expected} classes"
            ),
        }
    }
}

impl core::error::Error for ClassifyError {}

/// A parsed model, borrowing the bytes it was parsed from.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The first `count` are the model's; the rest are [`Layer::EMPTY`].
    layers: [Layer<'a>; MAX_LAYERS],
    /// 1 to [`MAX_LAYERS`].
    count: usize,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> Model<'a> {
    /// Parses a model, checking every field and that the file is exactly as long as its
    /// layers say.
    ///
    /// # Errors
    ///
    /// The [`ModelError`] naming the first field at fault.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let got = bytes.len();
        if got < HEADER_SIZE {
            return Err(ModelError::Truncated {
                needed: HEADER_SIZE,
                got,
            });
        }
        if bytes[..4] != MAGIC {
            return Err(ModelError::Magic);
        }
        let version = u16_at(bytes, 4);
        if version != VERSION {
            return Err(ModelError::Version(version));
        }
        let count = u16_at(bytes, 6);
        if count == 0 || usize::from(count) > MAX_LAYERS {
            return Err(ModelError::LayerCount(count));
        }
        let count = usize::from(count);
        let records_end = HEADER_SIZE + count * LAYER_RECORD_SIZE;
        if got < records_end {
            return Err(ModelError::Truncated {
                needed: records_end,
                got,
            });
        }
        // First pass: the records, and the total length they call for.
        let mut shapes = [(0usize, 0usize, Kind::Linear, 0f32); MAX_LAYERS];
        let mut expected = records_end;
        let mut previous = 0;
        for (layer, shape) in shapes.iter_mut().enumerate().take(count) {
            let r = &bytes[HEADER_SIZE + layer * LAYER_RECORD_SIZE..][..LAYER_RECORD_SIZE];
            let (inputs, outputs) = (u16_at(r, 0), u16_at(r, 2));
            if inputs == 0
                || outputs == 0
                || usize::from(inputs) > MAX_WIDTH
                || usize::from(outputs) > MAX_WIDTH
            {
                return Err(ModelError::Width {
                    layer,
                    inputs,
                    outputs,
                });
            }
            let (inputs, outputs) = (usize::from(inputs), usize::from(outputs));
            if layer > 0 && inputs != previous {
                return Err(ModelError::Chain {
                    layer,
                    inputs,
                    previous,
                });
            }
            previous = outputs;
            let (kind, shift, multiplier) = (r[4], r[5], i32_at(r, 8));
            if u16_at(r, 6) != 0 {
                return Err(ModelError::Reserved { layer });
            }
            let last = layer + 1 == count;
            if last && outputs > MAX_CLASSES {
                return Err(ModelError::Classes(outputs));
            }
            let kind = match (kind, last) {
                (0, true) => {
                    if shift != 0 || multiplier != 0 {
                        return Err(ModelError::Requantisation {
                            layer,
                            multiplier,
                            shift,
                        });
                    }
                    Kind::Linear
                }
                (1, false) => {
                    if !(1..=62).contains(&shift) || multiplier < (1 << 30) {
                        return Err(ModelError::Requantisation {
                            layer,
                            multiplier,
                            shift,
                        });
                    }
                    Kind::ReluRequantise { multiplier, shift }
                }
                _ => return Err(ModelError::Kind { layer, kind }),
            };
            let scale = f32::from_le_bytes([r[12], r[13], r[14], r[15]]);
            *shape = (inputs, outputs, kind, scale);
            expected += outputs * inputs + 4 * outputs;
        }
        if got < expected {
            return Err(ModelError::Truncated {
                needed: expected,
                got,
            });
        }
        if got > expected {
            return Err(ModelError::TrailingBytes { expected, got });
        }
        // Second pass: the weights and biases.
        let mut layers = [Layer::EMPTY; MAX_LAYERS];
        let mut at = records_end;
        for (layer, &(inputs, outputs, kind, scale)) in shapes.iter().enumerate().take(count) {
            let weights = &bytes[at..at + outputs * inputs];
            at += outputs * inputs;
            let biases = &bytes[at..at + 4 * outputs];
            at += 4 * outputs;
            let l = Layer {
                inputs,
                outputs,
                kind,
                scale,
                weights,
                biases,
            };
            for output in 0..outputs {
                let bias = l.bias(output);
                if bias.unsigned_abs() > MAX_BIAS.unsigned_abs() {
                    return Err(ModelError::Bias {
                        layer,
                        output,
                        bias,
                    });
                }
            }
            layers[layer] = l;
        }
        Ok(Self { layers, count })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer<'a>] {
        &self.layers[..self.count]
    }

    fn first(&self) -> &Layer<'a> {
        &self.layers[0]
    }

    fn last(&self) -> &Layer<'a> {
        // `parse` makes 1 to MAX_LAYERS layers.
        &self.layers[self.count - 1]
    }

    /// Bytes of one input.
    #[must_use]
    pub fn input_len(&self) -> usize {
        self.first().inputs
    }

    /// Number of classes (the last layer's outputs).
    #[must_use]
    pub fn classes(&self) -> usize {
        self.last().outputs
    }

    /// Bytes of one encoded output record ([`encode_output`]).
    #[must_use]
    pub fn output_len(&self) -> usize {
        1 + 4 * self.classes()
    }

    /// Runs the network on `input` (signed bytes, two's complement, as they lie on the
    /// disk), writes the logits and returns the class: the index of the first largest logit.
    ///
    /// # Errors
    ///
    /// [`ClassifyError`] if `input` or `logits` is not of the model's length.
    pub fn classify(&self, input: &[u8], logits: &mut [i32]) -> Result<u8, ClassifyError> {
        if input.len() != self.input_len() {
            return Err(ClassifyError::InputLength {
                expected: self.input_len(),
                got: input.len(),
            });
        }
        if logits.len() != self.classes() {
            return Err(ClassifyError::OutputLength {
                expected: self.classes(),
                got: logits.len(),
            });
        }
        let mut a = [0i8; MAX_WIDTH];
        let mut b = [0i8; MAX_WIDTH];
        for (a, &x) in a.iter_mut().zip(input) {
            *a = x.cast_signed();
        }
        for layer in self.layers() {
            let x = &a[..layer.inputs];
            // The last layer writes `logits`, each earlier one `b`, which becomes `a`.
            for j in 0..layer.outputs {
                let acc = dot(x, layer.row(j)) + layer.bias(j);
                match layer.kind {
                    Kind::Linear => logits[j] = acc,
                    Kind::ReluRequantise { multiplier, shift } => {
                        b[j] = requantise(acc, multiplier, shift);
                    }
                }
            }
            core::mem::swap(&mut a, &mut b);
        }
        let mut best = 0;
        for (j, &l) in logits.iter().enumerate() {
            if l > logits[best] {
                best = j;
            }
        }
        // The parser bounds the classes to MAX_CLASSES = 256, so `best` fits a byte.
        Ok(u8::try_from(best).unwrap_or(u8::MAX))
    }
}

/// `Σ x[i]·w[i]` with the weights as signed bytes. The sum stays in int32 for the
/// parser's bounds (module documentation).
fn dot(x: &[i8], w: &[u8]) -> i32 {
    x.iter()
        .zip(w)
        .map(|(&x, &w)| i32::from(x) * i32::from(w.cast_signed()))
        .sum()
}

/// `clamp((acc·m + 2^(s−1)) >> s, 0, 127)`.
fn requantise(acc: i32, multiplier: i32, shift: u8) -> i8 {
    let y = (i64::from(acc) * i64::from(multiplier) + (1i64 << (shift - 1))) >> shift;
    #[allow(clippy::cast_possible_truncation, reason = "clamped to [0, 127]")]
    let y = y.clamp(0, 127) as i8;
    y
}

/// Encodes an output record: the class (1 byte), then each logit as int32 little-endian;
/// returns the bytes written (`1 + 4 × logits`).
///
/// # Errors
///
/// [`ClassifyError::OutputLength`] if `out` is shorter.
pub fn encode_output(class: u8, logits: &[i32], out: &mut [u8]) -> Result<usize, ClassifyError> {
    let n = 1 + 4 * logits.len();
    let got = out.len();
    let out = out
        .get_mut(..n)
        .ok_or(ClassifyError::OutputLength { expected: n, got })?;
    out[0] = class;
    for (chunk, l) in out[1..].chunks_exact_mut(4).zip(logits) {
        chunk.copy_from_slice(&l.to_le_bytes());
    }
    Ok(n)
}
