"""Run folders: config round trip through TOML, metrics merging, the LR schedule."""

import tomllib

import pytest

from pipeline.config import dumps_toml, read_toml, write_toml
from pipeline.errors import KwsqError
from pipeline.train.runs import Run, RunConfig, StageConfig


def _config() -> RunConfig:
    return RunConfig(
        name="r", model="svd_dnn", scheme="tanh-w4",
        data={"path": "data/x", "label_mode": "12", "keyword": None},
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
    assert tomllib.loads(dumps_toml(data)) == data


def test_toml_round_trips_dotted_and_spaced_keys_and_non_bmp_strings(tmp_path):
    data = {
        "a.b": 1,  # one key with a dot, not a table a containing b
        "key with spaces": "x",
        "table.with.dots": {"inner key": [1.5, -0.0], "é": True},
        "emoji": "\U0001F600 and \U0001D11E",  # outside the Basic Multilingual Plane
        "ctrl": "tab\tnewline\nnul-free \x7f",
        "stages": [{"name": "float", "epochs": 2}, {"name": "all", "note": "\U00010348"}],
    }
    path = tmp_path / "c.toml"
    write_toml(path, data)
    assert read_toml(path) == data
    assert tomllib.loads(path.read_text(encoding="utf-8")) == data


def test_toml_writer_leaves_out_none_values():
    assert tomllib.loads(dumps_toml({"a": None, "t": {"b": None, "c": 1}})) == {"t": {"c": 1}}


def test_invalid_toml_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("model = \n")
    with pytest.raises(KwsqError, match="bad.toml is not valid TOML") as exc:
        read_toml(path)
    assert "\n" not in str(exc.value)


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


def test_unknown_config_key_is_rejected_naming_the_allowed_keys():
    with pytest.raises(KwsqError, match="unknown key 'bogus' in .*; allowed: name, model"):
        RunConfig.from_dict({"name": "x", "bogus": 1})


@pytest.mark.parametrize("stage, message", [
    ({"name": "float", "epochs": 2, "lr": 0.1}, "unknown key 'lr' in \\[\\[stages\\]\\] entry 1"),
    ({"name": "float"}, "lacks epochs"),
    ({"name": "float", "epochs": "two"}, "epochs must be an integer, not 'two'"),
    ({"name": "float", "epochs": -1}, "epochs must be >= 0"),
    ({"name": "float", "epochs": 1, "learning_rate": 0}, "learning_rate must be > 0"),
])
def test_bad_stage_is_one_line(stage, message):
    with pytest.raises(KwsqError, match=message) as exc:
        RunConfig.from_dict({"name": "x", "stages": [stage]})
    assert "\n" not in str(exc.value)


def test_integer_learning_rate_is_taken_as_a_number():
    cfg = RunConfig.from_dict({"name": "x", "stages": [{"name": "float", "epochs": 1,
                                                         "learning_rate": 1}]})
    assert cfg.stages[0].learning_rate == 1.0 and isinstance(cfg.stages[0].learning_rate, float)
