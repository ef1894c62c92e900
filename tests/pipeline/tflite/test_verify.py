"""``kwsq verify``: its figures match independent runs of the interpreters, and it notices
a model that computes something else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)


def test_verify_figures_match_independent_interpreter_runs(converted_run) -> None:
    from ai_edge_litert.interpreter import Interpreter
    from tflite_micro import runtime

    from pipeline.tflite import verify

    metrics = json.loads(converted_run.metrics_path.read_text())["tflite"]
    x, y = verify.test_arrays(converted_run)
    data = converted_run.tflite_path.read_bytes()
    lite = Interpreter(model_content=data)
    lite.allocate_tensors()
    inp, out = lite.get_input_details()[0], lite.get_output_details()[0]
    scale, zero = inp["quantization"]
    micro = runtime.Interpreter.from_bytes(data)
    lite_pred, micro_pred = [], []
    for sample in x:
        q = np.clip(np.round(sample / scale) + zero, -128, 127).astype(np.int8)[None]
        lite.set_tensor(inp["index"], q)
        lite.invoke()
        lite_pred.append(int(np.argmax(lite.get_tensor(out["index"]))))
        micro.set_input(q, 0)
        micro.invoke()
        micro_pred.append(int(np.argmax(micro.get_output(0))))
    keras_pred = converted_run.load_model().predict(x, verbose=0).argmax(1)
    assert metrics["samples"] == len(x)
    assert metrics["litert_accuracy"] == pytest.approx(np.mean(np.array(lite_pred) == y))
    assert metrics["tflm_accuracy"] == pytest.approx(np.mean(np.array(micro_pred) == y))
    assert metrics["int8_test_accuracy"] == metrics["tflm_accuracy"]
    assert metrics["keras_accuracy"] == pytest.approx(np.mean(keras_pred == y))
    assert metrics["tflm_agreement"] == pytest.approx(np.mean(np.array(micro_pred) == keras_pred))


def test_verify_detects_a_model_that_computes_something_else(trained) -> None:
    from pipeline.tflite import schema as tfs
    from pipeline.tflite import verify

    _, model, data, x, y = trained("int8")
    fb = tfs.load(data)
    sg = fb.subgraphs[0]
    last_fc = [op for op in sg.operators if tfs.op_name(fb, op) == "FULLY_CONNECTED"][-1]
    w = sg.tensors[last_fc.inputs[1]]
    values = tfs.tensor_values(fb, w)
    tfs.set_tensor_values(fb, w, -values, tfs.TensorType.INT8)  # negated output layer
    bad = verify.compare(tfs.dump(fb), model, x, y)
    good = verify.compare(data, model, x, y)
    assert good.tflm_agreement >= 0.99 and good.litert_tflm_max_lsb <= 5
    assert bad.tflm_agreement < 0.5 and bad.litert_agreement < 0.5
    assert bad.tflm_max_lsb > 20 * good.tflm_max_lsb


def test_verify_reports_lsb_in_output_quantization_steps(trained) -> None:
    from pipeline.tflite import verify

    _, model, data, x, y = trained("int8")
    spec = verify.io_spec(data)
    assert spec.output_lsb == pytest.approx(1 / 256)  # int8 softmax output
    raw = verify.run_tflm(data, verify.quantize_input(x, spec))
    ref = model.predict(x, verbose=0)
    expected = np.abs((raw.astype(np.float64) + 128) / 256 - ref).max() * 256
    assert verify.compare(data, model, x, y).tflm_max_lsb == pytest.approx(expected, rel=1e-4)


def test_verify_of_a_hybrid_model_uses_litert_only(trained) -> None:
    from pipeline.tflite import verify

    _, model, data, x, y = trained("dyn-w8")
    result = verify.compare(data, model, x, y)
    assert verify.hybrid_ops(data) == ["FULLY_CONNECTED"]
    assert result.tflm_agreement is None and "hybrid" in result.note
    assert result.litert_agreement >= 0.99


def test_verify_without_a_converted_model_is_one_error_line(
        converted_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    missing = tmp_path / "missing.tflite"
    assert main(["verify", str(converted_run.path), "--tflite", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
