"""MLPerf Tiny's reference KWS model, DS-CNN (small), rebuilt in tf_keras.

49x10 MFCC in; Conv2D 64 10x4 stride 2; four depthwise-separable blocks (DW 3x3 + PW 1x1,
64 channels), each conv followed by batch-norm and ReLU; average pool over the whole
25x5 map; Dense to the classes. Convolutions keep their biases like the reference, so
after batch-norm folding the parameter count is the reference .tflite's 22,604
(``FOLDED_PARAMS``); the Keras model adds 4 x 64 x 9 batch-norm values on top.

Batch-norm momentum is 0.9, not Keras's 0.99: on kwsq's small corpora an epoch is only
30-200 steps, and with 0.99 the moving means of the deeper layers lagged the batch
statistics by up to 28 standard deviations after several epochs, so inference-mode
validation predicted one class (8.3%, 12 classes) while training-mode batch statistics
gave 68-94%; with 0.9 the lag is ~0.1 standard deviation from the second epoch on and the
weights train identically (the momentum only touches the moving statistics).
"""

from __future__ import annotations

import tf_keras as keras

# MLPerf Tiny front-end: 40 mel bins over 30 ms / 20 ms frames, first 10 MFCC: 49 x 10.
FEATURES = {"kind": "mfcc", "num_bins": 40, "window_ms": 30.0, "hop_ms": 20.0, "num_mfcc": 10}

FILTERS = 64
BLOCKS = 4
FOLDED_PARAMS = 22_604


def build(
    input_shape: tuple[int, ...] = (49, 10), num_classes: int = 12, filters: int = FILTERS,
    blocks: int = BLOCKS, dropout: float = 0.2, bn_momentum: float = 0.9,
) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs
    if len(input_shape) == 2:
        x = keras.layers.Reshape((*input_shape, 1), name="reshape")(x)

    def bn_relu(x, name: str):
        x = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
        return keras.layers.ReLU(name=f"{name}_relu")(x)

    x = keras.layers.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", name="conv1")(x)
    x = bn_relu(x, "conv1")
    x = keras.layers.Dropout(dropout, name="conv1_dropout")(x)
    for i in range(1, blocks + 1):
        x = keras.layers.DepthwiseConv2D((3, 3), padding="same", name=f"dw{i}")(x)
        x = bn_relu(x, f"dw{i}")
        x = keras.layers.Conv2D(filters, (1, 1), padding="same", name=f"pw{i}")(x)
        x = bn_relu(x, f"pw{i}")
    x = keras.layers.Dropout(2 * dropout, name="dropout")(x)
    x = keras.layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="avg_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")
