"""Run folders: config round trip through TOML, metrics merging, the LR schedule."""

import tomllib

import pytest

from pipeline import tomlio
from pipeline.errors import KwsqError
from pipeline.train.runs import Run, RunConfig, StageConfig


def _config() -> RunConfig:
    return RunConfig(
        name="r", model="svd_dnn", scheme="tanh-w4",
        data={"path": "/data/x", "label_mode": "12", "keyword": None},
        features={"kind": "lfbe", "num_bins": 20, "left_context": 20},
        stages=[StageConfig("float", 3, 1e-3, 2.0, 2, 1.2), StageConfig("weights", 2, 5e-4)],
        model_params={"hidden": 64},
    )


def test_run_config_round_trips_through_toml(tmp_path):
    run = Run(tmp_path / "r")
    cfg = _config()
    run.write_config(cfg)
    back = run.read_config()
    expected = cfg.to_dict()
    del expected["data"]["keyword"]  # TOML has no null: None keys are omitted
    assert back.to_dict() == expected


def test_toml_writer_output_parses_with_tomllib():
    data = {"s": 'quote " and \\ backslash', "f": 0.1, "i": -3, "b": False, "l": [1, 2],
            "t": {"u": {"v": "w"}}, "arr": [{"a": 1}, {"a": 2}]}
    assert tomllib.loads(tomlio.dumps(data)) == data


def test_lr_schedule_follows_the_low_bit_paper_two_phase_decay():
    s = StageConfig("float", 10, learning_rate=0.000125, decay_first=2.0,
                    decay_first_epochs=3, decay_rest=1.2)
    assert s.lr_at(0) == pytest.approx(0.000125)
    assert s.lr_at(3) == pytest.approx(0.000125 / 8)
    assert s.lr_at(5) == pytest.approx(0.000125 / 8 / 1.2**2)


def test_metrics_updates_merge(tmp_path):
    run = Run(tmp_path)
    run.update_metrics({"a": 1, "b": 2})
    assert run.update_metrics({"b": 3}) == {"a": 1, "b": 3}
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(KwsqError, match="does not exist"):
        Run(tmp_path / "nope").require()
    with pytest.raises(KwsqError, match="no config.toml"):
        Run(tmp_path).require()


def test_unknown_config_key_is_rejected():
    with pytest.raises(KwsqError, match="bogus"):
        RunConfig.from_dict({"name": "x", "bogus": 1})
