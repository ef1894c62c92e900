"""The sub-8-bit streaming paper's state-free feed-forward KWS DNN of about 250K parameters.

It sees one window of stacked LFBE frames (the same 20 bins x 31 frames as svd_dnn, so the
two DNNs share a front-end) and keeps no state between windows. Each hidden layer is a
bias-free Dense, batch-norm (its shift is the layer's bias, its scale the "gain" that paper
quantizes in stage 2) and ReLU. Four 200-unit layers give 249,612 parameters
(248,012 trainable, 1,600 batch-norm moving statistics): 250K within 0.2 %.
"""

from __future__ import annotations

import tf_keras as keras

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

HIDDEN = 200
LAYERS = 4


def build(
    input_shape: tuple[int, ...] = (620,), num_classes: int = 12, hidden: int = HIDDEN,
    layers: int = LAYERS,
) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs if len(input_shape) == 1 else keras.layers.Flatten(name="flatten")(inputs)
    for i in range(1, layers + 1):
        x = keras.layers.Dense(hidden, use_bias=False, name=f"dense{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="dnn250k")
