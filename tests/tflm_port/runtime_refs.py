"""Reference runners and model builders shared by the runtime tests.

A plain module (not conftest.py): several conftest modules exist in the suite, and
``from runtime_refs import`` picks whichever was imported first.
"""


from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import pipeline  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from pipeline.paths import ANCHOR_DIR

ANCHORS = ["hello_world_int8", "micro_speech_quantized", "mlperf_tiny_kws_ds_cnn_int8"]


def anchor_bytes(name: str) -> bytes:
    path = ANCHOR_DIR / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"anchor model {path} not found (../shared is absent)")
    return path.read_bytes()


def tflm_run(model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of TFLite Micro (reference kernels) for each input sample."""
    from tflite_micro import runtime as tflm

    interp = tflm.Interpreter.from_bytes(model)
    outs = []
    for x in xs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(interp.get_output(0).copy())
    return outs


def kwsq_run(model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    from pipeline.device.runtime import Runtime

    rt = Runtime(model)
    outs = []
    for x in xs:
        rt.set_input(x, 0)
        rt.invoke()
        outs.append(rt.get_output(0))
    return outs


def cli_run(cli: Path, model: bytes | Path, xs: list[np.ndarray], like: np.ndarray,
            tmp: Path) -> list[np.ndarray]:
    """Outputs of a host `kwsq_run` build (`cli`) for each input, shaped and typed as `like`."""
    if not isinstance(model, Path):
        (tmp / "m.tflite").write_bytes(model)
        model = tmp / "m.tflite"
    (tmp / "in.bin").write_bytes(b"".join(x.tobytes() for x in xs))
    subprocess.run([str(cli), str(model), str(tmp / "in.bin"), str(tmp / "out.bin")], check=True,
                   capture_output=True)
    out = np.frombuffer((tmp / "out.bin").read_bytes(), dtype=like.dtype)
    return list(out.reshape(len(xs), *like.shape))


def assert_same_outputs(ours: list[np.ndarray], ref: list[np.ndarray], what: str) -> None:
    """Every sample bit-equal to the reference (the first differing index in the message),
    and the reference itself input-dependent, so a constant output cannot pass."""
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        a = np.asarray(a).reshape(b.shape)
        bad = np.argwhere(a != b)
        assert bad.size == 0, (f"{what}, sample {i}: {len(bad)} values differ, first at "
                               f"{tuple(bad[0])}: {a[tuple(bad[0])]} != {b[tuple(bad[0])]}")
    assert len({r.tobytes() for r in ref}) > 1, f"{what}: outputs do not depend on the input"


def random_inputs(model: bytes, count: int, seed: int) -> list[np.ndarray]:
    """Seeded random inputs covering the input type's whole range."""
    from pipeline.device.runtime import Runtime

    d = Runtime(model).input_details()[0]
    rng = np.random.default_rng(seed)
    if d.dtype == np.int8:
        return [rng.integers(-128, 128, size=d.shape, dtype=np.int8) for _ in range(count)]
    return [rng.normal(0.0, 2.0, size=d.shape).astype(np.float32) for _ in range(count)]


def check_host(cli: Path, models: list[tuple[bytes, str]], count: int, seed: int,
               tmp: Path) -> None:
    """Each (model, description) run by the host build `cli` on `count` seeded random inputs,
    bit-exact with tflite_micro."""
    for model, desc in models:
        xs = random_inputs(model, count, seed=seed)
        ref = tflm_run(model, xs)
        assert_same_outputs(cli_run(cli, model, xs, ref[0], tmp), ref, desc)


def run_m55(model: bytes, xs: list[np.ndarray], tmp: Path) -> list[np.ndarray]:
    """The model's outputs for `xs` on the Cortex-M55 with kernels/mve, one firmware run."""
    from pipeline.device.targets import run_on_target

    path = tmp / "model.tflite"
    path.write_bytes(model)
    run = run_on_target(path, np.stack(xs), "m55", kernels="mve")
    return list(run.outputs[0])


def assert_m55_matches_tflm(models: list[tuple[bytes, str]], n_random: int, seed: int,
                            tmp: Path) -> None:
    """Each model on m55/mve against TFLite Micro: n_random seeded inputs plus the all-127
    and all--128 inputs (the sums' extremes), in one firmware run per model."""
    for model, desc in models:
        xs = random_inputs(model, n_random, seed=seed)
        xs += [np.full_like(xs[0], 127), np.full_like(xs[0], -128)]
        assert_same_outputs(run_m55(model, xs, tmp), tflm_run(model, xs), desc)


def convert_int8(model, shape: tuple[int, ...], seed: int, per_tensor: bool = False) -> bytes:
    """The Keras model as int8 TFLite with int8 input and output, calibrated on 16 seeded
    N(0, 1.5) samples of `shape` (no batch axis); per-tensor weights if asked (the converter
    defaults to per-channel). The kernel tests' randomized models all go through here."""
    import tensorflow as tf

    data = np.random.default_rng(seed)

    def rep():
        for _ in range(16):
            yield [data.normal(0.0, 1.5, size=(1, *shape)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if per_tensor:
        conv._experimental_disable_per_channel = True
    return conv.convert()


def _convert(model, input_shape: tuple[int, ...], int8_io: bool, quantize: str = "int8") -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(1)

    def rep():
        for _ in range(32):
            yield [rng.normal(0.0, 1.5, size=(1, *input_shape)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "int8":
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    return conv.convert()


def _build_int4(conv: bool, depthwise: bool = False) -> bytes:
    """tfmot QAT with 4-bit symmetric narrow-range weights: the converter
    stores the weights as packed INT4 (docs/design.md)."""
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    qk = tfmot.quantization.keras

    class W4(qk.QuantizeConfig):
        def get_weights_and_quantizers(self, layer):
            q = qk.quantizers.LastValueQuantizer(
                num_bits=4, symmetric=True, narrow_range=True, per_axis=conv)
            return [(getattr(layer, self.attr), q)]

        def get_activations_and_quantizers(self, layer):
            q = qk.quantizers.MovingAverageQuantizer(
                num_bits=8, symmetric=False, narrow_range=False, per_axis=False)
            return [(layer.activation, q)]

        def set_quantize_weights(self, layer, quantize_weights):
            setattr(layer, self.attr, quantize_weights[0])

        def set_quantize_activations(self, layer, quantize_activations):
            layer.activation = quantize_activations[0]

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    keras.utils.set_random_seed(7)
    L = keras.layers
    ann = qk.quantize_annotate_layer
    W4.attr = "kernel"
    if depthwise:
        W4.attr = "depthwise_kernel"
        shape = (7, 6, 3)
        layers = [ann(L.DepthwiseConv2D(3, depth_multiplier=3, padding="same",
                                        activation="relu"), W4()),
                  ann(L.DepthwiseConv2D(3, strides=2, padding="valid"), W4())]
    elif conv:
        shape = (6, 5, 3)
        layers = [ann(L.Conv2D(5, 3, padding="same", activation="relu"), W4()),
                  ann(L.Conv2D(4, 3, padding="valid"), W4())]
    else:
        shape = (33,)
        layers = [ann(L.Dense(21, activation="relu"), W4()), ann(L.Dense(7), W4())]
    model = keras.Sequential([keras.Input(shape, batch_size=1), *layers])
    with qk.quantize_scope({"W4": W4}):
        qat = qk.quantize_apply(qk.quantize_annotate_model(model))
    rng = np.random.default_rng(3)
    for _ in range(8):
        qat(rng.normal(0.0, 1.5, size=(1, *shape)).astype(np.float32), training=True)
    return _convert(qat, shape, int8_io=True)


def _build(kind: str) -> bytes:
    import tf_keras as keras

    keras.utils.set_random_seed(7)
    L = keras.layers
    if kind == "dense_act":
        inp = keras.Input((20,), batch_size=1)
        x = L.Dense(16, activation="relu")(inp)
        x = L.Dense(12, activation="tanh")(x)
        out = L.Dense(6, activation="sigmoid")(x)
        return _convert(keras.Model(inp, out), (20,), int8_io=True)
    if kind == "float_family":
        inp = keras.Input((6, 5, 2), batch_size=1)
        a = L.MaxPooling2D(2, padding="same")(inp)
        b = L.AveragePooling2D(2, padding="same")(inp)
        x = L.Concatenate()([L.Add()([a, b]), L.Multiply()([a, b])])
        x = L.Reshape((3 * 3 * 4,))(x)
        x = L.Dense(16, activation="relu")(x)
        x = L.Dense(12, activation="tanh")(x)
        x = L.Dense(8, activation="sigmoid")(x)
        out = L.Softmax()(L.Dense(5)(x))
        return _convert(keras.Model(inp, out), (6, 5, 2), int8_io=False, quantize="none")
    if kind == "float_conv":
        # A float model's convolutions: strides, dilation, valid/same, grouped, no bias,
        # depth multiplier 2, fused ReLU and ReLU6 (TFLM runs them with its float kernels).
        inp = keras.Input((13, 9, 2), batch_size=1)
        x = L.Conv2D(8, (4, 3), strides=(2, 1), padding="same", activation="relu")(inp)
        x = L.Conv2D(8, 3, dilation_rate=2, padding="same", use_bias=False)(x)
        x = L.Conv2D(6, 1, groups=2, activation="relu6")(x)
        x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="valid", activation="relu")(x)
        x = L.DepthwiseConv2D((3, 2), strides=2, dilation_rate=1, padding="same", use_bias=False)(x)
        x = L.DepthwiseConv2D(3, dilation_rate=(2, 1), padding="same", activation="relu6")(x)
        out = L.Dense(5)(L.Flatten()(x))
        return _convert(keras.Model(inp, out), (13, 9, 2), int8_io=False, quantize="none")
    if kind == "dynamic_batch":
        # No fixed batch: the converter computes Reshape's shape at run time
        # with SHAPE -> STRIDED_SLICE -> PACK.
        inp = keras.Input((10, 6))
        x = L.Reshape((60,))(inp)
        x = L.ReLU(6.0)(L.Reshape((6, 10))(L.Dense(60)(x)))
        out = L.Dense(4)(L.Reshape((60,))(x))
        return _convert(keras.Model(inp, out), (10, 6), int8_io=True)
    if kind == "concat_relu6":
        # A ReLU6 after a reshape cannot be fused: a standalone int8 RELU6.
        inp = keras.Input((12,), batch_size=1)
        x = L.Dense(12)(inp)
        x = L.Concatenate()([inp, L.Multiply()([x, x])])
        x = L.ReLU(6.0)(L.Reshape((4, 6))(x))
        out = L.Dense(3)(L.Flatten()(x))
        return _convert(keras.Model(inp, out), (12,), int8_io=True)
    if kind == "dense_softmax_float_io":
        inp = keras.Input((20,), batch_size=1)
        x = L.Dense(10)(inp)
        out = L.Softmax()(x)
        return _convert(keras.Model(inp, out), (20,), int8_io=False)
    if kind == "conv_family":
        inp = keras.Input((12, 10, 3), batch_size=1)
        x = L.Conv2D(8, 3, padding="same")(inp)
        x = L.ReLU(6.0)(x)
        y = L.DepthwiseConv2D(3, depth_multiplier=2, padding="valid")(x)
        a = L.MaxPooling2D(2)(y)
        b = L.AveragePooling2D(3, strides=2, padding="same")(y)
        s = L.Add()([a, b])
        m = L.Multiply()([a, b])
        c = L.Concatenate()([s, m])
        # 1x1 conv and stride-1 depthwise conv: both run in place over their input.
        c = L.Conv2D(6, 1, strides=1, padding="same", activation="relu")(c)
        c = L.DepthwiseConv2D(5, padding="same")(c)
        out = L.Dense(5)(L.Flatten()(c))
        return _convert(keras.Model(inp, out), (12, 10, 3), int8_io=True)
    if kind == "slice_pack":
        import tensorflow as tf

        inp = keras.Input((10, 6), batch_size=1)
        a = L.Lambda(lambda t: t[:, 1:9:2, :])(inp)
        b = L.Lambda(lambda t: t[:, -5:-1, ::-1])(inp)
        x = L.Lambda(lambda t: tf.stack(t, axis=1))([a, b])
        x = L.ReLU()(x)
        x = L.Lambda(lambda t: tf.nn.relu6(t[:, :, ::2, :] * 3.0))(x)
        # Broadcast along the last axis and along the middle ones.
        gain = np.linspace(-1.0, 2.0, 6).astype(np.float32)
        bias = np.array([0.5, -0.75], dtype=np.float32).reshape(1, 2, 1)
        out = L.Lambda(lambda t: t + tf.constant(bias) * t + tf.constant(gain))(x)
        return _convert(keras.Model(inp, out), (10, 6), int8_io=True)
    if kind in ("dense_int4", "conv_int4", "dw_int4"):
        return _build_int4(kind != "dense_int4", depthwise=kind == "dw_int4")
    if kind == "hybrid_dense":
        inp = keras.Input((40,), batch_size=1)
        x = L.Dense(64, activation="relu")(inp)
        out = L.Dense(48)(x)
        return _convert(keras.Model(inp, out), (40,), int8_io=False, quantize="dynamic")
    if kind == "unsupported_sub":
        inp = keras.Input((8,), batch_size=1)
        x = L.Dense(8)(inp)
        out = L.Subtract()([x, inp])
        return _convert(keras.Model(inp, out), (8,), int8_io=True)
    raise ValueError(kind)
