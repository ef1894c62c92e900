"""The general-shapes models of ``make bench``: MACs, reproducible builds, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.device import general_shapes as gs
from pipeline.device.bench_report import DS_CNN, DS_CNN_MACS
from pipeline.paths import ANCHOR_DIR

# Small, but with what the counts could get wrong: stride 2 with valid padding, a depth
# multiplier on several input channels, a 5x3 kernel, two input channels, per-tensor weights.
SMALL = gs.ShapeModel(
    "small_test", (11, 9, 2),
    (gs.Conv(6, (5, 3), 2, "valid"), gs.Depthwise((3, 3), 1, "same", 2),
     gs.Depthwise((5, 5), 2, "same"), gs.Conv(7, (1, 1))),
    classes=3, softmax=True, per_tensor=True, seed=5)


def _keras_macs(model) -> list[tuple[str, int]]:
    """MACs per layer from the Keras layers' own output and weight shapes."""
    import tf_keras as keras

    out = []
    for layer in model.layers:
        shape = layer.output_shape
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            out.append(("DEPTHWISE_CONV_2D", int(np.prod(shape[1:])) * kh * kw))
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, ic, _ = layer.get_weights()[0].shape
            out.append(("CONV_2D", int(np.prod(shape[1:])) * kh * kw * ic))
        elif isinstance(layer, keras.layers.Dense):
            n_in, n_out = layer.get_weights()[0].shape
            out.append(("FULLY_CONNECTED", n_in * n_out))
    return out


@pytest.fixture(scope="module")
def small_tflite() -> bytes:
    return gs.convert(SMALL)


def test_macs_from_the_tflite_equal_the_keras_layer_shapes(small_tflite: bytes) -> None:
    ops = gs.op_shapes(small_tflite)
    counted = [(o.op, o.macs) for o in ops if o.macs]
    assert counted == _keras_macs(gs.keras_model(SMALL))
    assert gs.model_macs(small_tflite) == sum(m for _, m in counted)
    by_op = {o.op: o for o in ops}
    assert {"AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX"} <= set(by_op)
    dm2 = next(o for o in ops if o.op == "DEPTHWISE_CONV_2D")
    assert dm2.detail == "3x3 s1 same, 6 ch x2, 4x4->4x4"
    assert ops[0].detail == "5x3 s2 valid, 2->6 ch, 11x9->4x4"


def test_the_build_is_reproducible_and_seeded(small_tflite: bytes) -> None:
    assert gs.convert(SMALL) == small_tflite
    other = gs.convert(gs.ShapeModel(**{**SMALL.__dict__, "seed": 6}))
    assert other != small_tflite
    weights = gs.keras_model(SMALL).layers[1].get_weights()
    assert np.all(weights[1] != 0)  # biases are drawn too, not Keras's zeros
    # per-tensor: one scale per filter; the converter's default is one per output channel
    from pipeline.tflite.inspect import inspect_bytes

    def filter_scales(data: bytes) -> list[int]:
        ins = inspect_bytes(data)
        return [ins.tensor(op.inputs[1]).scales for op in ins.ops if op.op in gs.MAC_OPS]

    assert filter_scales(small_tflite) == [1] * 5
    assert filter_scales(other) == [1] * 5
    per_channel = gs.convert(gs.ShapeModel(**{**SMALL.__dict__, "per_tensor": False}))
    assert filter_scales(per_channel) == [6, 12, 12, 7, 3]


def test_models_are_cached_by_spec_and_rebuilt_when_it_changes(tmp_path: Path,
                                                               monkeypatch) -> None:
    lines: list[str] = []
    (path,) = gs.ensure_models(tmp_path, lines.append, [SMALL])
    assert "built" in lines[-1] and f"{gs.model_macs(path.read_bytes()):,} MACs" in lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small_test.key", "small_test.tflite"]
    built = path.read_bytes()

    def fail(spec):
        raise AssertionError("rebuilt a cached model")

    monkeypatch.setattr(gs, "convert", fail)
    gs.ensure_models(tmp_path, lines.append, [SMALL])
    assert "(cached," in lines[-1]
    calls = []
    monkeypatch.setattr(gs, "convert", lambda spec: calls.append(spec) or built)
    changed = gs.ShapeModel(**{**SMALL.__dict__, "classes": 4})
    gs.ensure_models(tmp_path, lines.append, [changed])
    assert calls == [changed] and "built" in lines[-1]


def test_the_general_models_vary_what_a_fast_path_could_depend_on() -> None:
    models = gs.GENERAL_MODELS
    assert len(models) == 12 and len({m.name for m in models}) == 12
    layers = [layer for m in models for layer in m.layers]
    dws = [x for x in layers if isinstance(x, gs.Depthwise)]
    convs = [x for x in layers if isinstance(x, gs.Conv)]
    assert {x.multiplier for x in dws} == {1, 2, 4}
    assert {x.kernel for x in dws} >= {(3, 3), (5, 5)} and {x.stride for x in dws} == {1, 2}
    assert {x.kernel for x in convs} >= {(10, 4), (3, 3), (5, 5), (5, 3), (1, 1)}
    assert {x.padding for x in layers} == {"same", "valid"}
    assert any(m.per_tensor for m in models) and not all(m.per_tensor for m in models)
    assert {m.input_shape[2] for m in models} == {1, 2, 3}
    with pytest.raises(Exception, match="unknown general-shapes model 'nope'"):
        gs.find("nope")


def test_anchor_macs_from_their_op_lists() -> None:
    ds, ms = ANCHOR_DIR / DS_CNN, ANCHOR_DIR / "micro_speech_quantized.tflite"
    if not ds.is_file() or not ms.is_file():
        pytest.skip(f"anchor models not found in {ANCHOR_DIR} (../shared is absent)")
    # DS-CNN: 10x4 s2 conv 1->64 on 49x10 -> 25x5, four 3x3 depthwise + 1x1 64->64, FC 64->12.
    per_map = 25 * 5 * 64
    expected = per_map * 40 + 4 * (per_map * 9 + per_map * 64) + 64 * 12
    assert gs.model_macs(ds.read_bytes()) == expected == DS_CNN_MACS
    assert gs.model_macs(ms.read_bytes()) == 336_000
