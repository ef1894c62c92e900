"""``kwsq inspect`` reads what the flatbuffer really stores: types, levels, scales, bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)


def test_inspect_shows_packed_int4_weights_and_their_levels(trained) -> None:
    from pipeline.tflite.inspect import inspect_bytes

    data = trained("w4a8")[2]
    ins = inspect_bytes(data)
    weights = ins.weights()
    assert len(weights) == 7 and ins.file_bytes == len(data)
    for w in weights:
        assert w.type == "INT4"
        assert w.bytes == (int(np.prod(w.shape)) + 1) // 2  # two weights per byte
        assert w.distinct_values <= 15 and w.bits_used <= 4
        assert -7 <= w.value_min and w.value_max <= 7


def test_inspect_counts_the_levels_of_a_5_bit_grid_in_int8_storage(trained) -> None:
    from pipeline.tflite.inspect import inspect_bytes

    for w in inspect_bytes(trained("tanh-w5")[2]).weights():
        assert w.type == "INT8"
        assert 16 < w.distinct_values <= 31 and w.bits_used == 5


def test_inspect_tells_power_of_two_scales_apart(trained) -> None:
    from pipeline.tflite.inspect import inspect_bytes

    fxp = inspect_bytes(trained("fxp4")[2])
    lin = inspect_bytes(trained("w4a8")[2]).weights()
    # fixed point end to end: weights, biases and activations (shift-only requantization)
    assert all(t.power_of_two for t in fxp.tensors if t.scales)
    assert not any(w.power_of_two for w in lin)


def test_inspect_shows_per_channel_fully_connected_scales(trained) -> None:
    from pipeline.tflite.inspect import inspect_bytes

    for w in inspect_bytes(trained("dyn-w8")[2]).weights():
        assert w.per_channel and w.scales == w.shape[0]


def test_inspect_cli_prints_json_and_table(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], trained) -> None:
    from pipeline.cli import main

    path = tmp_path / "m.tflite"
    path.write_bytes(trained("w4-8")[2])
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["op_counts"]["FULLY_CONNECTED"] == 7
    types = [t["type"] for t in report["tensors"] if t["constant"] and t["name"].count("MatMul")]
    assert sorted(set(types)) == ["INT4", "INT8"]
    assert main(["inspect", str(path)]) == 0
    table = capsys.readouterr().out
    assert "FULLY_CONNECTED" in table and "INT4" in table
    assert f"{len(path.read_bytes())} bytes" in table


def test_inspect_of_a_non_tflite_file_is_one_error_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    path = tmp_path / "junk.tflite"
    path.write_bytes(b"\x00" * 64)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a TFLite flatbuffer" in err[0]
