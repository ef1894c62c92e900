"""kwsq train on the tiny corpus: stages, metrics, saved models, resume after interruption."""


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
    assert set(m["stages"]) == {"0_float", "1_all"}
    assert m["stages"]["0_float"]["test_accuracy"] == m["float_test_accuracy"]
    assert m["stages"]["1_all"]["test_accuracy"] == m["qat_test_accuracy"]
    assert m["parameters"] == 51_189  # 620-39-128-39-128-39-128-12 with biases
    # The saved QAT model is what conversion starts from: it must predict like the trained one.
    assert m["reloaded_test_accuracy"] == m["qat_test_accuracy"]


def test_qat_model_has_fake_quant_wrappers(smoke_run):
    model = smoke_run.load_model()
    names = [type(layer).__name__ for layer in model.layers]
    assert "QuantizeWrapperV2" in names or "QuantizeWrapper" in names, names


def test_recorded_accuracies_are_those_of_the_saved_models(smoke_run):
    """Recomputed from float.keras and model.keras on the test split, independently."""
    import quant_configs
    from pipeline.data import loader
    from pipeline.data.features import FeatureConfig

    cfg = smoke_run.read_config()
    x, y = loader.arrays(loader.DataConfig.from_dict(cfg.data),
                         FeatureConfig.from_dict(cfg.features), "testing")
    m = smoke_run.read_metrics()
    assert m["test_examples"] == len(y)
    for path, key in ((smoke_run.float_model_path, "float_test_accuracy"),
                      (smoke_run.model_path, "qat_test_accuracy")):
        probs = quant_configs.load_model(path).predict(x, verbose=0)
        assert m[key] == pytest.approx(float(np.mean(probs.argmax(1) == y))), key
    naive = m["naive_test_accuracy"] * len(y)
    assert naive == pytest.approx(round(naive))  # a count of test examples


def test_config_reproduces_run_from_toml(smoke_run, tmp_path):
    """A second run from the first run's config.toml trains the same model bit for bit."""
    from pipeline.config import read_toml, write_toml

    cfg = read_toml(smoke_run.config_path)
    cfg.pop("name")
    cfg["stages"] = cfg["stages"][:1]  # float stage only keeps it quick
    path = tmp_path / "cfg.toml"
    write_toml(path, cfg)
    first = tmp_path / "a"
    second = tmp_path / "b"
    for out in (first, second):
        assert kwsq(["train", "--config", str(path), "--run", str(out), "--no-naive"]) == 0
    import quant_configs

    wa = quant_configs.load_model(Run(first).model_path).get_weights()
    wb = quant_configs.load_model(Run(second).model_path).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(wa, wb, strict=True))


def _weights(run_dir) -> list:
    import quant_configs

    return quant_configs.load_model(Run(run_dir).model_path).get_weights()


@pytest.mark.parametrize("stop_after", [1, 2])  # inside the float stage; at its end
def test_interrupted_and_resumed_run_ends_with_identical_weights(
        smoke_run, tiny_corpus, tmp_path, capsys, stop_after):
    """Stopped after ``stop_after`` epochs in a first process-like call, resumed in a
    second: the final weights equal the uninterrupted smoke run's bit for bit (optimizer
    state is in the checkpoint, the data order is a function of seed and epoch)."""
    run_dir = tmp_path / "resumed"
    args = ["train", "--data", str(tiny_corpus), "--run", str(run_dir), "--preset", "smoke"]
    assert kwsq([*args, "--stop-after-epoch", str(stop_after)]) == 0
    out = capsys.readouterr().out
    assert f"stopped after {stop_after} epochs" in out
    assert not Run(run_dir).model_path.exists()
    assert kwsq(["train", "--run", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out
    assert f"epoch {stop_after}/2" not in out  # nothing trained twice
    resumed, straight = _weights(run_dir), _weights(smoke_run.path)
    assert len(resumed) == len(straight)
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(a, b)
    assert Run(run_dir).read_metrics()["qat_test_accuracy"] == \
        smoke_run.read_metrics()["qat_test_accuracy"]


def test_options_contradicting_an_existing_run_are_refused(smoke_run, capsys):
    assert kwsq(["train", "--run", str(smoke_run.path), "--batch-size", "7",
                 "--scheme", "w4a8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--fresh" in err
    assert "batch_size 32 -> 7" in err and "scheme int8 -> w4a8" in err
    # options that agree with the run are no contradiction (and it is complete: no training)
    assert kwsq(["train", "--run", str(smoke_run.path), "--preset", "smoke"]) == 0


BAD_CONFIGS = [
    ("float_epochs = 1\nbatchsize = 8\n", "unknown key 'batchsize' in "),
    ("[data]\nnoise_probability = 0.5\n", "unknown key 'noise_probability' in [data]"),
    ("[features]\nbins = 20\n", "unknown key 'bins' in [features]"),
    ("[model_params]\nwidth = 3\n", "unknown key 'width' in [model_params]"),
    ("[[stages]]\nname = \"float\"\nepochs = 1\nlr = 0.1\n",
     "unknown key 'lr' in [[stages]] entry 1"),
    ("[[stages]]\nname = \"weights\"\nepochs = 1\n", "unknown stage 'weights' for scheme int8"),
    ("[[stages]]\nname = \"float\"\nepochs = \"one\"\n", "epochs must be an integer"),
    ("stages = 3\n", "must be an array of tables"),
]


@pytest.mark.parametrize("text, message", BAD_CONFIGS)
def test_bad_config_is_one_line_and_writes_nothing(tmp_path, tiny_corpus, capsys, text,
                                                   message):
    (tmp_path / "c.toml").write_text(text)
    run_dir = tmp_path / "r"
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(run_dir),
                 "--config", str(tmp_path / "c.toml")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kwsq train: error:"), lines
    assert message in lines[0], lines[0]
    assert not run_dir.exists()


@pytest.mark.parametrize("text, message", [BAD_CONFIGS[0], BAD_CONFIGS[4]])
def test_unknown_key_and_bad_stage_exit_2_with_one_line_from_the_command(
        tmp_path, tiny_corpus, text, message):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "c.toml").write_text(text)
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "train", "--data",
                          str(tiny_corpus), "--run", str(tmp_path / "r"), "--config",
                          str(tmp_path / "c.toml")], capture_output=True, text=True,
                         timeout=300, cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_config_is_written_only_after_the_data_loaded(tiny_corpus, tmp_path):
    """A keyword with no folder fails while loading: no config.toml to resume from later."""
    run_dir = tmp_path / "r"
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(run_dir), "--preset",
                 "smoke", "--label-mode", "wake", "--keyword", "nosuchword"]) == 2
    assert not Run(run_dir).exists()


def test_mirrored_strategy_runs_every_stage(tiny_corpus, tmp_path):
    """The same config trains under tf.distribute.MirroredStrategy, naive calibration included."""
    run_dir = tmp_path / "mirrored"
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(run_dir), "--preset", "smoke",
                 "--strategy", "mirrored", "--float-epochs", "1", "--qat-epochs", "1"]) == 0
    run = Run(run_dir)
    m = run.read_metrics()
    assert run.read_config().strategy == "mirrored"
    assert set(m["stages"]) == {"0_float", "1_all"}
    naive = m["naive_test_accuracy"] * m["test_examples"]
    assert naive == pytest.approx(round(naive))  # a count of test examples
    assert m["reloaded_test_accuracy"] == m["qat_test_accuracy"]
