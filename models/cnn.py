"""A small convolutional KWS model with batch-norm and a residual block, for the fixed-point
QAT paper's experiments.

It has every transient that paper quantizes: convolution accumulators, batch-norm outputs and
a residual sum (``Add``), all of which get power-of-two (Q-format) quantizers under the
``fxp*`` schemes. 40-bin LFBE over 98 frames in; two strided 3x3 convs (16, 32 channels),
one residual block of two 3x3 convs, average pool, Dense. Convolutions have no bias
(batch-norm's shift is the bias). 24,028 parameters, 23,804 trainable.
"""

from __future__ import annotations

import tf_keras as keras

FEATURES = {"kind": "lfbe", "num_bins": 40}

CHANNELS = (16, 32)


def build(
    input_shape: tuple[int, ...] = (98, 40), num_classes: int = 12,
    channels: tuple[int, int] = CHANNELS,
) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs
    if len(input_shape) == 2:
        x = keras.layers.Reshape((*input_shape, 1), name="reshape")(x)

    def conv_bn(x, filters: int, name: str, strides: int = 1, relu: bool = True):
        x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                                name=name)(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x

    x = conv_bn(x, channels[0], "conv1", strides=2)
    x = conv_bn(x, channels[1], "conv2", strides=2)
    y = conv_bn(x, channels[1], "res1a")
    y = conv_bn(y, channels[1], "res1b", relu=False)
    x = keras.layers.Add(name="res1_add")([x, y])
    x = keras.layers.ReLU(name="res1_relu")(x)
    x = keras.layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="avg_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="cnn")
