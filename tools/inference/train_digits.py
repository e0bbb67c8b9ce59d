#!/usr/bin/env python3
"""Train and quantise the digits classifier of the attested-inference example.

Deterministic: the split, the MLP's initialisation and its training use fixed seeds
(SEED below), and scikit-learn's `load_digits` reads the data set bundled inside the
package (no download). Running it again with the same scikit-learn and NumPy versions
writes the same files; the versions it was run with are in the data folder's README.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn numpy
    /tmp/venv/bin/python tools/inference/train_digits.py realm-inference/data/digits

It writes, into the folder given:

* `model.qmlp`: the quantised model in the format `realm_inference::model` parses
  (documented there and below);
* `inputs.bin`: the held-out test digits, 64 signed bytes each (the pixel values 0..16 as
  they are: the input scale is 1/16, so quantising the inputs loses nothing);
* `outputs.bin`: per test digit, the reference output of the integer network below: the
  class (1 byte) then the ten int32 logits (little-endian);
* `labels.bin`: the true label of each test digit (1 byte each);
* `accuracy.txt`: the float and int8 accuracies on the test digits.

The integer network (what the Rust kernel computes, bit for bit):

    acc[j]  = bias[j] + sum_i x[i] * w[j][i]           (int32; the parser bounds it)
    hidden:  y[j] = clamp((acc[j] * m + 2^(s-1)) >> s, 0, 127)   (int64, arithmetic shift)
    last:    logits = acc; class = the first index of the largest logit

where `m` (a positive int32 in [2^30, 2^31)) and `s` (the shift) encode the layer's real
rescaling factor  scale_in * scale_w / scale_out  as m * 2^-s.

The model format (all integers little-endian):

    magic "QMLP" | version u16 = 1 | layer count u16
    per layer (16 bytes): inputs u16 | outputs u16 | kind u8 (0 linear, 1 ReLU + requantise)
                          | shift u8 | reserved u16 = 0 | multiplier i32 | output scale f32
    per layer, in order: weights (outputs x inputs int8, row-major) then biases (outputs int32)
"""

import os
import struct
import sys

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 0
HIDDEN = 32
# Input pixels are integers 0..16; the float network sees them divided by 16.
INPUT_SCALE = 1.0 / 16.0


def quantise_multiplier(real):
    """real (0 < real < 1) as (m, s) with m in [2^30, 2^31) and real ~= m * 2^-s."""
    assert 0.0 < real < 1.0, real
    s = 0
    while real * (1 << s) < (1 << 30):
        s += 1
    m = int(round(real * (1 << s)))
    if m == (1 << 31):
        m //= 2
        s -= 1
    assert (1 << 30) <= m < (1 << 31) and 1 <= s <= 62, (m, s)
    return m, s


def requantise(acc, m, s):
    """The integer rescaling of a hidden layer, exactly as the Rust kernel does it."""
    y = (acc.astype(np.int64) * np.int64(m) + np.int64(1 << (s - 1))) >> np.int64(s)
    return np.clip(y, 0, 127).astype(np.int64)


def integer_forward(layers, x):
    """The integer network on int8 inputs x (n x 64): logits (n x 10) and classes."""
    a = x.astype(np.int64)
    for layer in layers:
        acc = a @ layer["w"].astype(np.int64).T + layer["b"].astype(np.int64)
        assert np.all(np.abs(acc) < (1 << 31)), "accumulator out of int32"
        if layer["kind"] == 1:
            a = requantise(acc, layer["m"], layer["s"])
        else:
            a = acc
    return a, np.argmax(a, axis=1)  # argmax: the first maximum, as the kernel


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "realm-inference/data/digits"
    os.makedirs(out_dir, exist_ok=True)

    digits = load_digits()
    x_int = digits.data.astype(np.int64)  # 0..16
    y = digits.target
    x_train, x_test, y_train, y_test = train_test_split(
        x_int, y, test_size=0.25, random_state=SEED, stratify=y
    )

    mlp = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="relu",
        solver="adam",
        alpha=1e-3,
        max_iter=600,
        random_state=SEED,
    )
    mlp.fit(x_train * INPUT_SCALE, y_train)
    float_acc = float(np.mean(mlp.predict(x_test * INPUT_SCALE) == y_test))

    # Quantise: symmetric per-tensor int8 weights, int32 biases at the accumulator's scale,
    # the hidden activation's scale calibrated on the training set's largest ReLU output.
    w1, w2 = mlp.coefs_[0].T, mlp.coefs_[1].T  # (out, in)
    b1, b2 = mlp.intercepts_
    s_w1 = np.max(np.abs(w1)) / 127.0
    s_w2 = np.max(np.abs(w2)) / 127.0
    hidden_train = np.maximum(0.0, (x_train * INPUT_SCALE) @ w1.T + b1)
    s_h = np.max(hidden_train) / 127.0

    w1_q = np.clip(np.round(w1 / s_w1), -127, 127).astype(np.int8)
    w2_q = np.clip(np.round(w2 / s_w2), -127, 127).astype(np.int8)
    b1_q = np.round(b1 / (INPUT_SCALE * s_w1)).astype(np.int32)
    b2_q = np.round(b2 / (s_h * s_w2)).astype(np.int32)
    m1, sh1 = quantise_multiplier(INPUT_SCALE * s_w1 / s_h)

    layers = [
        {"w": w1_q, "b": b1_q, "kind": 1, "m": m1, "s": sh1, "scale": s_h},
        {"w": w2_q, "b": b2_q, "kind": 0, "m": 0, "s": 0, "scale": s_h * s_w2},
    ]
    logits, classes = integer_forward(layers, x_test)
    int_acc = float(np.mean(classes == y_test))

    model = bytearray(b"QMLP")
    model += struct.pack("<HH", 1, len(layers))
    for layer in layers:
        out_n, in_n = layer["w"].shape
        model += struct.pack(
            "<HHBBHif", in_n, out_n, layer["kind"], layer["s"], 0, layer["m"], layer["scale"]
        )
    for layer in layers:
        model += layer["w"].astype("<i1").tobytes()
        model += layer["b"].astype("<i4").tobytes()

    with open(os.path.join(out_dir, "model.qmlp"), "wb") as f:
        f.write(bytes(model))
    with open(os.path.join(out_dir, "inputs.bin"), "wb") as f:
        f.write(x_test.astype(np.int8).tobytes())
    with open(os.path.join(out_dir, "labels.bin"), "wb") as f:
        f.write(y_test.astype(np.uint8).tobytes())
    with open(os.path.join(out_dir, "outputs.bin"), "wb") as f:
        for c, row in zip(classes, logits):
            f.write(struct.pack("<B", int(c)))
            f.write(row.astype("<i4").tobytes())
    summary = (
        f"test digits: {len(y_test)}\n"
        f"float accuracy: {float_acc:.4f} ({int(round(float_acc * len(y_test)))}/{len(y_test)})\n"
        f"int8 accuracy: {int_acc:.4f} ({int(np.sum(classes == y_test))}/{len(y_test)})\n"
        f"model bytes: {len(model)}\n"
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}\n"
    )
    with open(os.path.join(out_dir, "accuracy.txt"), "w") as f:
        f.write(summary)
    print(summary, end="")


if __name__ == "__main__":
    main()
