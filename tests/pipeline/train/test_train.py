"""kwsq train on the tiny corpus: stages, metrics, saved models, resume after interruption."""

import json

import numpy as np
import pytest

from pipeline.cli import main as kwsq
from pipeline.train.runs import Run


@pytest.fixture(scope="module")
def smoke_run(tiny_corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(run_dir),
                 "--preset", "smoke"]) == 0
    return Run(run_dir)


def test_run_folder_holds_config_models_and_metrics(smoke_run):
    cfg = smoke_run.read_config()
    assert cfg.model == "svd_dnn" and cfg.scheme == "int8"
    assert [s.name for s in cfg.stages] == ["float", "all"]
    assert smoke_run.float_model_path.is_file() and smoke_run.model_path.is_file()
    m = smoke_run.read_metrics()
    for key in ("float_test_accuracy", "naive_test_accuracy", "qat_test_accuracy"):
        assert 0.0 <= m[key] <= 1.0
    assert m["parameters"] == 51_189  # 620-39-128-39-128-39-128-12 with biases
    # The saved QAT model is what conversion starts from: it must predict like the trained one.
    assert m["reloaded_test_accuracy"] == m["qat_test_accuracy"]


def test_qat_model_has_fake_quant_wrappers(smoke_run):
    model = smoke_run.load_model()
    names = [type(layer).__name__ for layer in model.layers]
    assert "QuantizeWrapperV2" in names or "QuantizeWrapper" in names, names


def test_config_reproduces_run_from_toml(smoke_run, tmp_path):
    """A second run from the first run's config.toml trains the same model bit for bit."""
    from pipeline import tomlio

    cfg = tomlio.load(smoke_run.config_path)
    cfg.pop("name")
    cfg["stages"] = cfg["stages"][:1]  # float stage only keeps it quick
    path = tmp_path / "cfg.toml"
    path.write_text(tomlio.dumps(cfg))
    first = tmp_path / "a"
    second = tmp_path / "b"
    for out in (first, second):
        assert kwsq(["train", "--config", str(path), "--run", str(out), "--no-naive"]) == 0
    import quant_configs

    wa = quant_configs.load_model(Run(first).model_path).get_weights()
    wb = quant_configs.load_model(Run(second).model_path).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(wa, wb, strict=True))


def test_interrupted_run_resumes_from_last_epoch(smoke_run, tmp_path, capsys):
    """Rewind the state file to 'float stage, 1 epoch done' and check training continues there."""
    import shutil

    run_dir = tmp_path / "resumed"
    shutil.copytree(smoke_run.path, run_dir)
    run = Run(run_dir)
    state = json.loads(run.state_path.read_text())
    state["completed"] = []
    state["epoch"] = {"0": 1}
    run.state_path.write_text(json.dumps(state))
    run.metrics_path.unlink()
    assert kwsq(["train", "--run", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    assert run.read_metrics()["qat_test_accuracy"] >= 0.0


def test_mirrored_strategy_runs_every_stage(tiny_corpus, tmp_path):
    """The same config trains under tf.distribute.MirroredStrategy, naive calibration included."""
    run_dir = tmp_path / "mirrored"
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(run_dir), "--preset", "smoke",
                 "--strategy", "mirrored", "--float-epochs", "1", "--qat-epochs", "1"]) == 0
    run = Run(run_dir)
    m = run.read_metrics()
    assert run.read_config().strategy == "mirrored"
    assert set(m["stages"]) == {"0_float", "1_all"}
    assert 0.0 <= m["naive_test_accuracy"] <= 1.0
    assert m["reloaded_test_accuracy"] == m["qat_test_accuracy"]
