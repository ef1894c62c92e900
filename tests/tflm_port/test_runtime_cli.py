"""`kwsq run` on the host: a batch in, the raw outputs out (the model's own
type), equal to TFLite Micro; bad inputs are one-line errors, not tracebacks."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from runtime_refs import anchor_bytes, random_inputs, tflm_run

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


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None
                    or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_kwsq_run_on_the_m4_target_gives_the_host_outputs(tmp_path, capsys) -> None:
    model = anchor_bytes("micro_speech_quantized")
    (tmp_path / "m.tflite").write_bytes(model)
    xs = random_inputs(model, 3, seed=13)
    np.save(tmp_path / "x.npy", np.stack(xs))
    code = main(["run", str(tmp_path / "m.tflite"), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy"), "--target", "m4"])
    assert code == 0, capsys.readouterr().err
    assert "instructions/inference" in capsys.readouterr().out
    assert np.array_equal(np.load(tmp_path / "y.npy"), np.stack(tflm_run(model, xs)))


def test_c_cli_runs_a_batch_and_prints_the_minimum_arena(tmp_path) -> None:
    from pipeline.device.runtime import Runtime, build_library
    from pipeline.paths import PORT_DIR

    build_library()
    exe = PORT_DIR / "build" / "host" / "kwsq-run"
    model = anchor_bytes("mlperf_tiny_kws_ds_cnn_int8")
    (tmp_path / "m.tflite").write_bytes(model)
    xs = random_inputs(model, 4, seed=17)
    (tmp_path / "in.bin").write_bytes(b"".join(x.tobytes() for x in xs))
    run = subprocess.run([str(exe), str(tmp_path / "m.tflite"), str(tmp_path / "in.bin"),
                          str(tmp_path / "out.bin")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(4, 1, 12)
    assert np.array_equal(out, np.stack(tflm_run(model, xs)))
    arena = subprocess.run([str(exe), "--arena", str(tmp_path / "m.tflite")],
                           capture_output=True, text=True, check=True)
    assert int(arena.stdout) == Runtime(model).arena_used_bytes
    bad = subprocess.run([str(exe), str(tmp_path / "m.tflite"), str(tmp_path / "m.tflite"),
                          str(tmp_path / "o2.bin")], capture_output=True, text=True)
    assert bad.returncode == 1 and "must hold a multiple of 490 bytes" in bad.stderr
