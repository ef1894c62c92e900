"""``kwsq convert`` on a run folder: outputs, I/O types, size table and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from pipeline.errors import KwsqError


def test_convert_writes_tflite_c_array_and_metrics(converted_run) -> None:
    run = converted_run
    data = run.tflite_path.read_bytes()
    metrics = json.loads(run.metrics_path.read_text())["tflite"]
    assert metrics["model_bytes"] == len(data)
    assert metrics["scheme"] == "int8"
    for key in ("int8_test_accuracy", "litert_agreement", "tflm_agreement", "litert_max_lsb",
                "tflm_mean_lsb", "keras_accuracy"):
        assert key in metrics
    assert f"{len(data)} bytes" in run.tflite_path.with_suffix(".h").read_text()
    assert "kwsq_model[]" in run.tflite_path.with_suffix(".c").read_text()
    # The op list for an op-selective firmware build, beside model.h.
    ops = (run.tflite_path.parent / f"{run.tflite_path.stem}_ops.c").read_text()
    # An int8 model gets the int8-only FC record (no int4, hybrid or float FC code linked).
    assert "&kwsq_kernel_fully_connected_s8," in ops and "kwsq_model_ops" in ops


def test_convert_gives_a_full_integer_model_with_int8_io(converted_run) -> None:
    from pipeline.tflite import schema as tfs

    model = tfs.load(converted_run.tflite_path.read_bytes())
    sg = model.subgraphs[0]
    assert sg.tensors[sg.inputs[0]].type == tfs.TensorType.INT8
    assert sg.tensors[sg.outputs[0]].type == tfs.TensorType.INT8
    floats = [tfs.tensor_name(t) for t in sg.tensors if t.type == tfs.TensorType.FLOAT32]
    assert floats == []


def test_convert_float_io_gives_float_input_and_output(converted_run, tmp_path: Path) -> None:
    from pipeline.cli import main
    from pipeline.tflite import schema as tfs

    out = tmp_path / "float_io.tflite"
    recorded = converted_run.metrics_path.read_text()
    assert main(["convert", str(converted_run.path), "--out", str(out), "--float-io",
                 "--no-size-table", "--no-verify"]) == 0
    assert converted_run.metrics_path.read_text() == recorded  # not the run's own model
    model = tfs.load(out.read_bytes())
    sg = model.subgraphs[0]
    assert sg.tensors[sg.inputs[0]].type == tfs.TensorType.FLOAT32
    assert sg.tensors[sg.outputs[0]].type == tfs.TensorType.FLOAT32
    ops = {tfs.op_name(model, op) for op in sg.operators}
    assert {"QUANTIZE", "DEQUANTIZE"} <= ops


def test_convert_without_trained_model_is_one_error_line(
        tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main
    from pipeline.train.runs import Run, RunConfig

    run = Run(tmp_path / "untrained")
    run.write_config(RunConfig(name="untrained", data={"path": str(tiny_corpus)}))
    assert main(["convert", str(run.path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kwsq convert: error:") and "trained" in err[0]
    assert sorted(p.name for p in run.path.iterdir()) == ["config.toml"]


def test_convert_to_unwritable_path_leaves_no_file(
        converted_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    before = sorted(p.name for p in converted_run.path.iterdir())
    assert main(["convert", str(converted_run.path), "--out", str(blocker / "m.tflite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_dir"]
    assert sorted(p.name for p in converted_run.path.iterdir()) == before


def test_atomic_write_failure_leaves_no_partial_file(tmp_path: Path) -> None:
    from pipeline.tflite import export_c

    (tmp_path / "f.txt").write_text("a file, not a folder")
    with pytest.raises(KwsqError):
        export_c.write_c_array(b"\x00" * 64, tmp_path / "f.txt" / "model.h")
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_postpass_refuses_an_operator_it_cannot_rewrite() -> None:
    import tf_keras as keras

    from pipeline.tflite import convert, postpass
    from pipeline.tflite import schema as tfs

    inp = keras.Input((4, 4, 2))
    out = keras.layers.Conv2DTranspose(3, 2, strides=2, name="up")(inp)
    model = keras.Model(inp, out)
    rep = np.random.default_rng(0).normal(size=(8, 4, 4, 2)).astype(np.float32)
    fb = tfs.load(convert.convert_integer(model, rep))
    grids = convert.naive_layers(model, {"up": 4})
    # Conv2DTranspose becomes TRANSPOSE_CONV with its kernel behind other operators
    with pytest.raises(KwsqError, match="became a [A-Z_0-9]+ operator, which the post-pass "
                                        "cannot rewrite"):
        postpass.apply_grids(fb, grids, check=False)


def test_postpass_refuses_weights_off_their_grid() -> None:
    from pipeline.tflite import postpass

    scales = np.array([0.5, 0.25])
    on_grid = np.array([[1.0, -0.25], [-0.5, 0.75]])
    np.testing.assert_array_equal(postpass.levels_on_grid("l", on_grid, scales, 4),
                                  [[2, -1], [-1, 3]])
    with pytest.raises(KwsqError, match="not on their 4-bit grid"):
        postpass.levels_on_grid("l", on_grid + 0.1, scales, 4)
    with pytest.raises(KwsqError, match="exceed"):
        postpass.levels_on_grid("l", on_grid * 4, scales, 4)


@pytest.mark.slow
def test_size_table_shrinks_with_bits_like_the_low_bit_paper(converted_run) -> None:
    from pipeline.tflite import convert

    qat = converted_run.load_model()
    rep = convert.representative_data(converted_run, 50)
    table = convert.size_table(convert.float_model_of(converted_run, qat), rep)
    rel = table["relative"]
    assert rel["float"] == 1.0
    assert rel["16bit"] > rel["8bit"] > rel["4-8bit"] > rel["4bit"]
    assert rel["4bit"] <= 0.20  # low-bit QAT paper, Table 1: 0.20
    assert 0.45 <= rel["16bit"] <= 0.55  # float16 weights: half of float32


def test_hybrid_conversion_stores_the_trained_kernel_with_batch_norm_folded() -> None:
    """Batch-norm is folded before QAT, so the converter's kernel is the trained one (gain
    3 included) instead of a refusal or a re-rounded grid."""
    import tf_keras as keras

    import quant_configs
    from pipeline.tflite import convert
    from pipeline.tflite import schema as tfs

    def build():
        inp = keras.Input((12,))
        x = keras.layers.Dense(4, use_bias=False, name="fc1")(inp)
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.ReLU(name="relu")(x)
        return keras.Model(inp, keras.layers.Dense(3, name="fc2")(x))

    float_model = build()
    bn = float_model.get_layer("bn")
    bn.set_weights([np.full(4, 3.0, np.float32), np.zeros(4, np.float32),
                    np.zeros(4, np.float32), np.ones(4, np.float32)])  # gain 3: folding shows
    qat = quant_configs.quantize_model(float_model, "dyn-w8", "all")
    rep = np.random.default_rng(0).normal(size=(8, 12)).astype(np.float32)
    data = convert.convert_qat(qat, "dyn-w8", rep, build())
    model = tfs.load(data)
    sg = model.subgraphs[0]
    fcs = [op for op in sg.operators if tfs.op_name(model, op) == "FULLY_CONNECTED"]
    w = sg.tensors[fcs[0].inputs[1]]
    stored = tfs.tensor_values(model, w).astype(np.float64) * tfs.quant(w).scales[:, None]
    want = quant_configs.quantized_weights(qat)["fc1"]
    np.testing.assert_allclose(stored, want.T, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(want, 3.0 / np.sqrt(1 + 1e-3) * float_model.get_layer(
        "fc1").kernel.numpy(), atol=np.abs(want).max() / 127)


def test_size_table_of_a_model_with_batch_norm_after_its_dense_layers() -> None:
    """dnn250k's layout (Dense, BatchNormalization, ReLU): the converter would fold the
    batch-norm itself and name the fused kernel after it; the table folds it first, so every
    layer's re-gridded kernel is found and the integer rows shrink with the bits."""
    import tf_keras as keras

    from pipeline.tflite import convert

    inp = keras.Input((40,))
    x = inp
    for i in (1, 2):
        x = keras.layers.Dense(64, use_bias=False, name=f"dense{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    model = keras.Model(inp, keras.layers.Dense(5, name="output")(x))
    rep = np.random.default_rng(0).normal(size=(16, 40)).astype(np.float32)
    table = convert.size_table(model, rep)
    b = table["bytes"]
    assert b["float"] > b["16bit"] > b["8bit"] > b["4bit"]
    # 4-bit packing halves the 40*64 + 64*64 + 64*5 kernel bytes of the 8-bit file
    kernel_bytes = 40 * 64 + 64 * 64 + 64 * 5
    assert b["8bit"] - b["4bit"] >= kernel_bytes // 2 - 64
