"""``kwsq generalize``: one fold per left-out family, tested on exactly that family's clips."""

from __future__ import annotations

import csv
import json

import pytest

from pipeline.cli import main as kwsq
from pipeline.data.gsc import speaker_of, split_files
from pipeline.train.runs import Run


@pytest.mark.slow
def test_generalize_leaves_each_family_out_and_tests_on_it(tiny_corpus, tmp_path):
    run_dir = tmp_path / "gen"
    # tiny: validation and test speakers are all espeak, so leave out the two others
    assert kwsq(["generalize", "--data", str(tiny_corpus), "--run", str(run_dir),
                 "--preset", "smoke", "--scheme", "float", "--float-epochs", "1",
                 "--families", "flite,festival", "--extra-test", str(tiny_corpus)]) == 0
    result = json.loads((run_dir / "generalize.json").read_text())
    assert [f["left_out"] for f in result["folds"]] == ["flite", "festival"]
    with (tiny_corpus / "speakers.csv").open(newline="") as f:
        family = {row["hash"]: row["family"] for row in csv.DictReader(f)}
    files = split_files(tiny_corpus)
    for fold in result["folds"]:
        left = fold["left_out"]
        # 12 classes: the ten commands of that family, plus unknown/silence examples
        commands = sum(1 for split in files.values() for word, rels in split.items()
                       for rel in rels if family[speaker_of(rel)] == left
                       and word in ("yes", "no", "up", "down", "left", "right", "on", "off",
                                    "stop", "go"))
        assert commands < fold["left_out_examples"] <= commands * 1.2 + 2
        assert 0.0 <= fold["left_out_accuracy"] <= 1.0
        sub = Run(run_dir / f"leave_out_{left}")
        assert sub.read_config().data["holdout_family"] == left
        assert fold["in_distribution"] == sub.read_metrics()["test_accuracy"]
        assert set(fold["extra"]) == {str(tiny_corpus)}
    md = (run_dir / "generalize.md").read_text()
    assert "| flite |" in md and "| festival |" in md
    assert Run(run_dir).read_metrics()["generalize"]["folds"] == result["folds"]
    # a second call resumes: folds are done, nothing is trained again
    mtime = (run_dir / "leave_out_flite" / "model.keras").stat().st_mtime_ns
    assert kwsq(["generalize", "--data", str(tiny_corpus), "--run", str(run_dir),
                 "--preset", "smoke", "--families", "flite"]) == 0
    assert (run_dir / "leave_out_flite" / "model.keras").stat().st_mtime_ns == mtime


def test_generalize_rejects_a_family_the_corpus_lacks(tiny_corpus, tmp_path, capsys):
    assert kwsq(["generalize", "--data", str(tiny_corpus), "--run", str(tmp_path / "g"),
                 "--families", "piper"]) == 2
    assert "family 'piper' is not in" in capsys.readouterr().err


@pytest.mark.slow
def test_generalize_reports_the_wake_word_at_0_5_and_at_a_picked_threshold(tiny_corpus,
                                                                          tmp_path):
    """Wake mode: recall / false accepts per clip at 0.5 agree with the fold's accuracy; the
    picked threshold accepts at most 20 % of the validation split's other clips and is the
    lowest that does; a fixed --wake-threshold is taken as given (fold resumed)."""
    import numpy as np

    from pipeline.data import loader as D
    from pipeline.data.features import FeatureConfig
    from pipeline.train import generalize as G

    run_dir = tmp_path / "wake"
    args = ["generalize", "--data", str(tiny_corpus), "--run", str(run_dir), "--preset",
            "smoke", "--scheme", "float", "--float-epochs", "2", "--families", "flite",
            "--label-mode", "wake", "--keyword", "yes"]
    assert kwsq([*args, "--wake-threshold", "fa=0.2"]) == 0
    fold = json.loads((run_dir / "generalize.json").read_text())["folds"][0]
    w = fold["wake"]
    assert set(w["sets"]) == {"in_distribution", "left_out"}
    at = w["sets"]["left_out"]["default"]
    n = at["keyword_clips"] + at["other_clips"]
    assert n == fold["left_out_examples"]
    assert fold["left_out_accuracy"] == pytest.approx(
        (at["recall"] * at["keyword_clips"] + (1 - at["false_accepts"]) * at["other_clips"])
        / n, abs=1.5 / n)
    sub = Run(run_dir / "leave_out_flite")
    cfg = D.DataConfig.from_dict(sub.read_config().data)
    scores, y = G._keyword_scores(sub.load_model(), cfg,
                                  FeatureConfig.from_dict(sub.read_config().features),
                                  "validation", False)
    other = scores[y != 1]
    assert np.mean(other >= w["threshold"]) <= 0.2
    assert not any(np.mean(other >= s) <= 0.2 for s in other if s < w["threshold"])
    assert "Wake word, left out flite" in (run_dir / "generalize.md").read_text()
    assert kwsq([*args, "--wake-threshold", "0.7"]) == 0
    w = json.loads((run_dir / "generalize.json").read_text())["folds"][0]["wake"]
    assert w["threshold"] == 0.7 and w["rule"] == "fixed 0.7"
