"""The low-bit QAT paper's small-footprint DNN: three SVD-bottleneck pairs on stacked LFBE frames.

Input: 20 LFBE bins x 31 stacked frames (20 left, 10 right context) = 620 values,
taken every 3rd frame so the window spans the whole 1 s clip (pipeline/data/features.py);
``--window frames31`` gives the paper's 31 consecutive frames with frame-level targets;
such a model is scored per clip by sliding the window over it, as a device runs it
(``kwsq generalize``, preset ``svd_frames``), and it generalizes to unseen voices better than
the whole-clip window, which sees every word position as a different input.
Each pair is a 39-unit linear bottleneck followed by a 128-unit sigmoid layer, the
low-rank (SVD) factorization of a 128x128 layer; the first pair's bottleneck sees the
raw features. About 50K parameters, which is what the paper calls its 50k model.

``LAYER_ROLES`` marks the layers the paper's mixed 4-8 bit scheme quantizes at 4 bits:
the first layer of each SVD pair that reads a sigmoid output (inputs in [0, 1]). The first
pair reads the raw features and the 128-unit layers read un-squeezed bottleneck outputs,
so they keep 8 bits.
"""

from __future__ import annotations

import tf_keras as keras

# Feature front-end this model expects (recorded in every run's config).
FEATURES = {"kind": "lfbe", "num_bins": 20, "left_context": 20, "right_context": 10,
            "stack_stride": 3}
# Named input windows (``kwsq train --window``): "clip3" (the default, FEATURES) takes the
# 31 frames every 3rd frame over the whole 1 s clip with the clip's label; "frames31" is the
# paper's 31 consecutive frames (0.31 s) trained on frame-level targets
# (pipeline/data/frame_targets.py).
WINDOWS = {
    "clip3": {"features": FEATURES, "data": {}},
    "frames31": {"features": {**FEATURES, "stack_stride": 1}, "data": {"targets": "frames"}},
}

BOTTLENECK = 39
HIDDEN = 128
PAIRS = 3

LAYER_ROLES = {f"bottleneck{i + 1}": "bottleneck" for i in range(1, PAIRS)}


def build(input_shape: tuple[int, ...] = (620,), num_classes: int = 12) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs if len(input_shape) == 1 else keras.layers.Flatten(name="flatten")(inputs)
    for i in range(PAIRS):
        x = keras.layers.Dense(BOTTLENECK, activation=None, name=f"bottleneck{i + 1}")(x)
        x = keras.layers.Dense(HIDDEN, activation="sigmoid", name=f"hidden{i + 1}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="svd_dnn")


def build_full_rank(input_shape: tuple[int, ...] = (620,), num_classes: int = 12
                    ) -> keras.Model:
    """The full-rank DNN the paper trains before introducing SVD bottlenecks: each
    bottleneck pair is one ``HIDDEN``-unit sigmoid layer (``full1``..``full3``)."""
    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs if len(input_shape) == 1 else keras.layers.Flatten(name="flatten")(inputs)
    for i in range(PAIRS):
        x = keras.layers.Dense(HIDDEN, activation="sigmoid", name=f"full{i + 1}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="svd_dnn_full_rank")


def factor_full_rank(full: keras.Model, model: keras.Model) -> None:
    """Set ``model``'s weights from a trained full-rank DNN by truncated SVD.

    Each ``W = U S V^T`` (inputs x ``HIDDEN``) becomes the bottleneck kernel
    ``U_r S_r^(1/2)`` (no bias) and the hidden kernel ``S_r^(1/2) V_r^T`` with ``W``'s bias,
    ``r = BOTTLENECK``: the best rank-``r`` approximation of ``W`` (Eckart-Young), exact
    when ``W``'s rank is at most ``r``. The output layer is copied.
    """
    import numpy as np

    for i in range(PAIRS):
        w, b = full.get_layer(f"full{i + 1}").get_weights()
        u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
        root = np.sqrt(s[:BOTTLENECK])
        bottleneck = model.get_layer(f"bottleneck{i + 1}")
        bottleneck.set_weights([(u[:, :BOTTLENECK] * root).astype(np.float32),
                                np.zeros(BOTTLENECK, np.float32)])
        model.get_layer(f"hidden{i + 1}").set_weights(
            [(root[:, None] * vt[:BOTTLENECK]).astype(np.float32), b])
    model.get_layer("output").set_weights(full.get_layer("output").get_weights())
