"""`kwsq run` on the host: a batch in, the raw outputs out (the model's own
type), equal to TFLite Micro; bad inputs are one-line errors, not tracebacks."""

from __future__ import annotations

import numpy as np
from conftest import anchor_bytes, random_inputs, tflm_run

from pipeline.cli import main


def test_kwsq_run_writes_a_batch_of_raw_outputs_equal_to_tflite_micro(tmp_path) -> None:
    model = anchor_bytes("micro_speech_quantized")
    (tmp_path / "m.tflite").write_bytes(model)
    xs = random_inputs(model, 7, seed=9)
    np.save(tmp_path / "x.npy", np.stack(xs))
    code = main(["run", str(tmp_path / "m.tflite"), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")])
    assert code == 0
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.int8 and y.shape == (7, 1, 4)
    assert np.array_equal(y, np.stack(tflm_run(model, xs)))


def test_kwsq_run_accepts_a_single_unbatched_tensor(tmp_path) -> None:
    model = anchor_bytes("hello_world_int8")
    (tmp_path / "m.tflite").write_bytes(model)
    x = random_inputs(model, 1, seed=4)[0]
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(tmp_path / "m.tflite"), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "y.npy"), tflm_run(model, [x])[0])


def test_kwsq_run_rejects_input_of_the_wrong_type(tmp_path, capsys) -> None:
    (tmp_path / "m.tflite").write_bytes(anchor_bytes("hello_world_int8"))
    np.save(tmp_path / "x.npy", np.zeros((3, 1), np.float32))
    code = main(["run", str(tmp_path / "m.tflite"), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")])
    assert code == 2
    assert "kwsq run: error: input must have dtype int8" in capsys.readouterr().err
    assert not (tmp_path / "y.npy").exists()
