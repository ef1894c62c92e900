"""Int8 models with layer shapes the anchor models lack, for ``make bench``'s general section.

kwsq's kernels must be fast on any int8 model TFLite Micro runs with these ops, not only on
the exact layer shapes of the anchor models (DS-CNN's 10x4 stride-2 first conv and 3x3
stride-1 depthwise layers, micro_speech's one depthwise layer). These twelve models vary what
a fast path could quietly depend on: input sizes (DS-CNN's 49x10, 25x5, 40x20, 20x20, a
MobileNet-style 32x32x3 and an odd 31x13x2), first convolutions of 10x4, 3x3, 5x5 and 5x3 at
strides 1 and 2 with "same" and "valid" padding, widths from 8 to 100 channels, depthwise
layers of 3x3 and 5x5 at strides 1 and 2, depth multipliers 2 and 4, and per-tensor as well
as per-channel weights.

Each model is a small Keras model with seeded random weights (N(0, 0.3), biases too, so bias
handling shows), converted by the TF converter to int8 with int8 input and output, calibrated
on 16 seeded N(0, 1.5) samples. Building the twelve takes a minute, so ``ensure_models`` keeps
them in a folder and rebuilds a model only when its spec, seed or TensorFlow's version
changed. MACs are counted from the .tflite's own op list (``op_shapes``), not from the specs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from pipeline.atomic import write_bytes, write_text
from pipeline.errors import KwsqError

# Bump when the way a model is built changes (the cache key includes it).
GENERATOR_VERSION = 1
WEIGHT_STD = 0.3
CALIBRATION_SAMPLES = 16
CALIBRATION_STD = 1.5


@dataclass(frozen=True)
class Conv:
    """CONV_2D with a fused ReLU."""

    filters: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: str = "same"


@dataclass(frozen=True)
class Depthwise:
    """DEPTHWISE_CONV_2D with a fused ReLU."""

    kernel: tuple[int, int] = (3, 3)
    stride: int = 1
    padding: str = "same"
    multiplier: int = 1


@dataclass(frozen=True)
class ShapeModel:
    """A model: ``layers`` on an ``input_shape`` (height, width, channels) input, then the
    head: AVERAGE_POOL_2D over the whole map, RESHAPE, FULLY_CONNECTED to ``classes``, and
    SOFTMAX when ``softmax``."""

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[Conv | Depthwise, ...]
    classes: int
    softmax: bool = False
    per_tensor: bool = False
    seed: int = 0


def separable(filters: int, stride: int = 1, padding: str = "same",
              kernel: tuple[int, int] = (3, 3)) -> tuple[Conv | Depthwise, ...]:
    """A DS-CNN block: depthwise (multiplier 1), then a 1x1 conv to ``filters``."""
    return (Depthwise(kernel, stride, padding), Conv(filters, (1, 1)))


def _models() -> tuple[ShapeModel, ...]:
    s = separable
    specs = [
        ("ds49x10_k10x4s2_c100", (49, 10, 1), (Conv(100, (10, 4), 2),) + s(100) * 4, 12, True,
         False),
        ("ds49x10_k10x4s2_c24_pt", (49, 10, 1), (Conv(24, (10, 4), 2),) + s(24) * 3, 12, True,
         True),
        ("ds49x10_k10x4s1v_c40", (49, 10, 1),
         (Conv(40, (10, 4), 1, "valid"),) + s(40, 1, "valid") + s(40, 2) + s(40), 12, False,
         False),
        ("mbnet32x32x3_c24-40-64-96", (32, 32, 3),
         (Conv(24, (3, 3), 2),) + s(40, 2) + s(64) + s(96, 2) + s(96), 10, True, False),
        ("mbnet32x32x3_k5x5s2_c32-64-96v", (32, 32, 3),
         (Conv(32, (5, 5), 2),) + s(64, 2) + s(96) + s(96, 2, "valid"), 10, False, False),
        ("ds25x5_k5x3v_c40", (25, 5, 1), (Conv(40, (5, 3), 1, "valid"),) + s(40)
         + s(40, 1, "valid"), 12, True, False),
        ("dm2_20x20_c16-32-40-64", (20, 20, 1),
         (Conv(16, (3, 3)), Depthwise(multiplier=2), Conv(40, (1, 1))) + s(64, 2), 8, False,
         False),
        ("ds20x20_k3x3v_c100", (20, 20, 1), (Conv(100, (3, 3), 1, "valid"),) + s(100, 2)
         + s(100), 12, False, False),
        ("odd31x13x2_c24-40-64_dw5x5", (31, 13, 2),
         (Conv(24, (3, 3), 2),) + s(40, 1, "same", (5, 5)) + s(64, 2), 12, False, False),
        ("dm4_32x20x1_k5x5s2", (32, 20, 1), (Depthwise((5, 5), 2, "same", 4),) + s(32), 4,
         False, False),
        ("ds40x20_k3x3s2_c64_5blk", (40, 20, 1), (Conv(64, (3, 3), 2),) + s(64) * 5, 35, False,
         False),
        ("tiny10x10_c8", (10, 10, 1), (Conv(8, (3, 3)),) + s(8), 4, False, False),
    ]
    return tuple(ShapeModel(name, shape, layers, classes, softmax, per_tensor, seed=100 + i)
                 for i, (name, shape, layers, classes, softmax, per_tensor) in enumerate(specs))


GENERAL_MODELS: tuple[ShapeModel, ...] = _models()


def find(name: str) -> ShapeModel:
    """The general-shapes model called ``name``."""
    for spec in GENERAL_MODELS:
        if spec.name == name:
            return spec
    raise KwsqError(f"unknown general-shapes model '{name}': expected one of "
                    f"{', '.join(m.name for m in GENERAL_MODELS)}")


def keras_model(spec: ShapeModel):
    """The float Keras model of ``spec`` with its seeded random weights."""
    import tf_keras as keras  # legacy Keras: the pipeline package selects it at import

    layers = keras.layers
    # Every name given: Keras's automatic ones count up within a process, and tensor names
    # are stored in the .tflite, so the same spec would give other bytes the second time.
    inp = keras.Input(shape=spec.input_shape, name="input")
    x = inp
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Conv):
            x = layers.Conv2D(layer.filters, layer.kernel, strides=layer.stride,
                              padding=layer.padding, activation="relu", name=f"conv{i}")(x)
        else:
            x = layers.DepthwiseConv2D(layer.kernel, strides=layer.stride, padding=layer.padding,
                                       depth_multiplier=layer.multiplier, activation="relu",
                                       name=f"depthwise{i}")(x)
        if min(x.shape[1:3]) < 1:
            raise KwsqError(f"{spec.name}: the map shrinks to nothing at {layer}")
    x = layers.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(spec.classes, name="dense")(x)
    if spec.softmax:
        x = layers.Softmax(name="softmax")(x)
    model = keras.Model(inp, x, name=spec.name.replace("-", "_"))
    # Keras's zero biases would hide bias handling: every weight, bias included, is drawn.
    rng = np.random.default_rng(spec.seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0.0, WEIGHT_STD, size=w.shape).astype(np.float32)
                               for w in weights])
    return model


def calibration_data(spec: ShapeModel) -> np.ndarray:
    """The converter's seeded representative samples (batch axis first)."""
    rng = np.random.default_rng(spec.seed)
    return rng.normal(0.0, CALIBRATION_STD,
                      size=(CALIBRATION_SAMPLES, *spec.input_shape)).astype(np.float32)


def convert(spec: ShapeModel) -> bytes:
    """``spec`` as an int8 .tflite (int8 input and output)."""
    from pipeline.tflite.convert import convert_integer

    return convert_integer(keras_model(spec), calibration_data(spec),
                           per_channel=not spec.per_tensor)


def cache_key(spec: ShapeModel) -> str:
    """What a cached .tflite was built from: the spec, the generator and TensorFlow's version."""
    try:
        tf_version = metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        tf_version = "none"
    text = json.dumps({"spec": asdict(spec), "generator": GENERATOR_VERSION,
                       "tensorflow": tf_version}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_models(folder: Path, say: Callable[[str], None] = print,
                  specs: Sequence[ShapeModel] = GENERAL_MODELS) -> list[Path]:
    """``folder/<name>.tflite`` for each spec, built (written atomically) unless the one there
    was built from the same spec by the same generator and TensorFlow; one line per model."""
    paths = []
    for i, spec in enumerate(specs, 1):
        path = folder / f"{spec.name}.tflite"
        key_path = folder / f"{spec.name}.key"
        key = cache_key(spec)
        where = f"general shapes {i}/{len(specs)}: {spec.name}"
        if path.is_file() and key_path.is_file() and key_path.read_text().strip() == key:
            say(f"bench: {where} (cached, {model_macs(path.read_bytes()):,} MACs)")
        else:
            start = time.monotonic()
            data = convert(spec)
            write_bytes(path, data)
            write_text(key_path, key + "\n")
            say(f"bench: {where} built ({model_macs(data):,} MACs,"
                f" {time.monotonic() - start:.1f} s)")
        paths.append(path)
    return paths


@dataclass(frozen=True)
class OpShape:
    """One operator of a .tflite: its multiply-accumulates and a short shape description."""

    index: int
    op: str
    macs: int  # 0 for ops without multiply-accumulates
    detail: str


MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def op_shapes(data: bytes) -> list[OpShape]:
    """Every operator of the first subgraph with its MACs, counted from tensor shapes:
    CONV_2D output elements x kh x kw x input channels (filter [oc, kh, kw, ic]),
    DEPTHWISE_CONV_2D output elements x kh x kw (filter [1, kh, kw, oc]), FULLY_CONNECTED
    output elements x accumulation depth (filter [out, in])."""
    from pipeline.tflite import schema as ts

    model = ts.load(data)
    sg = model.subgraphs[0]
    tensors = sg.tensors or []

    def shape(indices, slot: int) -> list[int]:
        idx = [int(k) for k in indices] if indices is not None else []
        if slot >= len(idx) or not 0 <= idx[slot] < len(tensors):
            return []
        t = tensors[idx[slot]]
        return [int(d) for d in t.shape] if t.shape is not None else []

    out = []
    for i, op in enumerate(sg.operators or []):
        name = ts.op_name(model, op)
        inp, w, res = shape(op.inputs, 0), shape(op.inputs, 1), shape(op.outputs, 0)
        n_out = int(np.prod(res)) if res else 0
        opts = op.builtinOptions
        macs, detail = 0, ""
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(w) == 4 and len(inp) == 4:
            kh, kw = w[1], w[2]
            stride = f"s{getattr(opts, 'strideH', 1)}x{getattr(opts, 'strideW', 1)}"
            if getattr(opts, "strideH", 1) == getattr(opts, "strideW", 1):
                stride = f"s{getattr(opts, 'strideH', 1)}"
            pad = "same" if getattr(opts, "padding", 0) == 0 else "valid"
            size = f"{inp[1]}x{inp[2]}" + (f"->{res[1]}x{res[2]}" if len(res) == 4 else "")
            if name == "CONV_2D":
                macs = n_out * kh * kw * w[3]
                detail = f"{kh}x{kw} {stride} {pad}, {inp[3]}->{w[0]} ch, {size}"
            else:
                macs = n_out * kh * kw
                mult = w[3] // inp[3] if inp[3] else 0
                detail = (f"{kh}x{kw} {stride} {pad}, {inp[3]} ch"
                          + (f" x{mult}" if mult != 1 else "") + f", {size}")
        elif name == "FULLY_CONNECTED" and len(w) == 2:
            macs = n_out * w[1]
            detail = f"{w[1]}->{w[0]}"
        out.append(OpShape(i, name, int(macs), detail))
    return out


def model_macs(data: bytes) -> int:
    """Multiply-accumulates of one inference (``op_shapes`` summed)."""
    return sum(o.macs for o in op_shapes(data))
