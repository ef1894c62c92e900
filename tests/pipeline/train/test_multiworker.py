"""Two local worker processes with TF_CONFIG train the same model as one process.

``kwsq train --strategy multiworker`` uses ``tf.distribute.MultiWorkerMirroredStrategy``;
the loader's training dataset is sharded by data (every worker runs the same seeded
pipeline and keeps its half of each global batch). Checked here: the two workers together
receive exactly the examples of the single process's first batch, half each; the logged
loss of every epoch matches the single process within 2e-4 (losses are printed to 4
decimals; the all-reduce adds the two half-batch gradients in another order, so bits may
differ); the final weights of both workers and the single process agree within 1e-4.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("multiworker_worker.py")
REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tf_config: dict | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


@pytest.mark.slow
def test_two_workers_train_the_same_model_as_one_process(tiny_corpus, tmp_path):
    import quant_configs

    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    procs = []
    for i in range(2):
        cfg = {"cluster": cluster, "task": {"type": "worker", "index": i}}
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), str(tiny_corpus), str(tmp_path / f"w{i}"),
             str(tmp_path / f"w{i}.json")], env=_env(cfg), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    single = subprocess.run(
        [sys.executable, str(WORKER), str(tiny_corpus), str(tmp_path / "single"),
         str(tmp_path / "single.json")], env=_env(None), cwd=tmp_path,
        capture_output=True, text=True, timeout=900)
    outs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-3000:]
    assert single.returncode == 0, (single.stdout + single.stderr)[-3000:]

    ref = json.loads((tmp_path / "single.json").read_text())
    w = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    # sharding: each worker gets a different half of the same global batch
    batch = sorted(ref["first_batch_sums"])
    halves = [sorted(x["first_batch_sums"]) for x in w]
    assert len(batch) == 32 and [len(h) for h in halves] == [16, 16]
    np.testing.assert_allclose(sorted(halves[0] + halves[1]), batch, rtol=1e-5, atol=1e-3)
    assert not np.allclose(halves[0], halves[1])
    # same loss trajectory and the same model
    assert len(ref["losses"]) == 3
    for x in w:
        np.testing.assert_allclose(x["losses"], ref["losses"], atol=2e-4)
    models = [quant_configs.load_model(tmp_path / d / "model.keras")
              for d in ("single", "w0", "w1")]
    for m in models[1:]:
        for a, b in zip(models[0].get_weights(), m.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-4)
