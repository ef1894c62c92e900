"""``kwsq eval`` and ``kwsq report`` on a small trained and converted run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main as kwsq
from pipeline.train.runs import Run


@pytest.fixture(scope="module")
def evaluated(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    from pipeline.corpus import streams

    root = tmp_path_factory.mktemp("eval")
    data = root / "corpus"
    shutil.copytree(tiny_corpus, data, ignore=shutil.ignore_patterns(".kwsq_cache"))
    streams.make_streams(data, seed=0, minutes=1.0, negative_minutes=1.0, progress=False)
    run = root / "run"
    assert kwsq(["train", "--data", str(data), "--run", str(run), "--preset", "smoke",
                 "--no-naive"]) == 0
    assert kwsq(["convert", str(run), "--no-size-table"]) == 0
    assert kwsq(["eval", str(run), "--stream-backends", "float,qat,litert,tflm,kwsq"]) == 0
    return Run(run)


def test_eval_reports_every_model(evaluated: Run) -> None:
    ev = evaluated.read_metrics()["eval"]
    assert set(ev["models"]) == {"float", "qat", "litert", "tflm", "kwsq"}
    assert ev["streams"]["hours"] == pytest.approx(2 / 60, abs=1e-3)
    assert ev["streams"]["keyword_events"] > 5
    for m in ev["models"].values():
        p = m["streams"]["pooled"]
        assert 0 <= p["miss_at_1_fa_per_hour"] <= 1 and 0 <= p["auc"] <= 1
        assert m["streams"]["relative_auc"] is not None
        assert 0 <= m["clips"]["accuracy"] <= 1
        assert np.sum(m["clips"]["confusion"]) == m["clips"]["examples"]
    assert ev["models"]["float"]["streams"]["relative_auc"] == 1.0
    # clip accuracy equals what verify measured with its own code
    tfl = evaluated.read_metrics()["tflite"]
    assert ev["models"]["litert"]["clips"]["accuracy"] == tfl["litert_accuracy"]
    assert ev["models"]["tflm"]["clips"]["accuracy"] == tfl["tflm_accuracy"]


def test_kwsq_runtime_and_tflm_give_the_same_stream_curves(evaluated: Run) -> None:
    """Bit-exact runtimes on the same windows: identical DET curves, point by point."""
    c = json.loads((evaluated.path / "eval" / "curves.json").read_text())
    assert c["kwsq"]["pooled"] == c["tflm"]["pooled"]
    assert c["kwsq"]["keywords"] == c["tflm"]["keywords"]


def test_report_has_det_figures_and_model_table(evaluated: Run) -> None:
    assert kwsq(["report", str(evaluated.path)]) == 0
    text = (evaluated.path / "report.md").read_text()
    assert "miss @1 FA/h" in text and "rel. AUC" in text
    for png in ("det.png", "det_keywords.png", "confusion.png", "training.png"):
        data = (evaluated.path / "figures" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"figures/{png}" in text


def test_wake_mode_scores_one_keyword(evaluated: Run) -> None:
    assert kwsq(["eval", str(evaluated.path), "--no-clips", "--label-mode", "wake",
                 "--keyword", "yes", "--stream-backends", "float"]) == 0
    ev = evaluated.read_metrics()["eval"]
    assert ev["streams"]["keywords"] == ["yes"]
    assert list(ev["models"]["float"]["streams"]["keywords"]) == ["yes"]


def test_eval_errors_are_one_line(evaluated: Run, tmp_path: Path, capsys) -> None:
    assert kwsq(["eval", str(evaluated.path), "--streams", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder of streams" in err[0]
    assert kwsq(["eval", str(evaluated.path), "--label-mode", "wake"]) == 2


def test_fork_trains_only_qat_from_the_same_float(evaluated: Run, tmp_path: Path) -> None:
    import quant_configs
    from pipeline.evaluate.paper import fork_run

    dst = fork_run(evaluated.path, tmp_path / "w4", "w4a8")
    assert kwsq(["train", "--run", str(dst.path)]) == 0
    a = quant_configs.load_model(evaluated.float_model_path).get_weights()
    b = quant_configs.load_model(dst.float_model_path).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    m, src = dst.read_metrics(), evaluated.read_metrics()
    assert m["scheme"] == "w4a8" and m["float_test_accuracy"] == src["float_test_accuracy"]
    history = json.loads(dst.state_path.read_text())["history"]
    assert set(history) == {"0_float", "1_all"}
    assert history["0_float"] == json.loads(evaluated.state_path.read_text())["history"]["0_float"]


def test_paper_tables_at_the_smallest_scale(evaluated: Run, tmp_path: Path) -> None:
    from pipeline.evaluate import paper

    data = Path(evaluated.read_config().data["path"])
    scale = paper.Scale(1, 1, 1, 1.0, "test")
    res = paper.run_paper(data, tmp_path / "runs", tmp_path / "doc", scale, ["lowbit"],
                          log=lambda _m: None)
    variants = {c["variant"] for c in res["cells"]}
    assert variants == {"float", "naive dyn-w16", "naive dyn-w8", "naive dyn-w4-8",
                        "naive dyn-w4", "qat dyn-w4-8", "qat dyn-w4"}
    for c in res["cells"]:
        assert Path(c["run"]).is_dir() and c["bytes"] and 0 <= c["auc"] <= 1
    assert [c["relative_auc"] for c in res["cells"] if c["variant"] == "float"] == [1.0]
    sizes = {c["variant"]: c["bytes"] for c in res["cells"]}
    assert (sizes["float"] > sizes["naive dyn-w16"] > sizes["naive dyn-w8"]
            > sizes["naive dyn-w4"])
    saved = json.loads((tmp_path / "doc" / "results.json").read_text())
    assert saved["meta"]["lowbit"]["complete"] and len(saved["cells"]) == len(res["cells"])
    text = (tmp_path / "doc" / "report.md").read_text()
    assert "Table 1" in text and "Table 2" in text and "svd_dnn-s0-dyn-w4" in text
    assert "2.2159" in text  # the paper's naive 4-bit figure beside ours
    logs: list[str] = []  # a second run resumes: nothing retrained or rescored
    again = paper.run_paper(data, tmp_path / "runs", tmp_path / "doc", scale, ["lowbit"],
                            log=logs.append)
    assert any("scored before: kept" in m for m in logs)
    assert not any(m.startswith("paper: scored") for m in logs)
    assert [(c["variant"], c["auc"]) for c in again["cells"]] == [
        (c["variant"], c["auc"]) for c in res["cells"]]
    assert (tmp_path / "doc" / "figures" / "det_lowbit_svd_dnn.png").stat().st_size > 5000


def test_eval_on_another_dataset(evaluated: Run, tiny_corpus: Path) -> None:
    """--data scores the run's models on another Speech Commands folder, kept apart."""
    assert kwsq(["eval", str(evaluated.path), "--data", str(tiny_corpus), "--no-streams",
                 "--backends", "float,kwsq"]) == 0
    m = evaluated.read_metrics()
    other = m["eval_other"][str(tiny_corpus)]
    assert set(other["models"]) == {"float", "kwsq"}
    clips = other["models"]["kwsq"]["clips"]
    assert np.sum(clips["confusion"]) == clips["examples"] > 0
    assert m["eval"]["data"] != str(tiny_corpus)  # the run's own figures are untouched


def test_linear_twins_differ_from_tanh_only_by_the_transform() -> None:
    import quant_configs
    from pipeline.evaluate import paper

    for bits in (1, 4, 5, 8):
        lin, tanh = paper.linear_twin(bits), quant_configs.get_scheme(f"tanh-w{bits}")
        assert lin.stages == tanh.stages and lin.weight_bits == tanh.weight_bits == bits
        assert lin.activations == tanh.activations and lin.inputs == tanh.inputs
        for (kind, q_lin), (kind_t, q_tanh) in zip(lin.weights, tanh.weights, strict=True):
            assert kind == kind_t and (q_lin.kind, q_tanh.kind) == ("linear", "tanh")
            assert (q_lin.bits, q_lin.per_channel) == (q_tanh.bits, q_tanh.per_channel)


def test_report_quotes_the_cross_family_figure_first(tmp_path: Path) -> None:
    """A kwsq generalize folder (no config of its own) and one of its folds: the report's
    first figure is the mean left-out-family accuracy, computed here by hand."""
    from pipeline.evaluate import report

    folds = [{"left_out": f, "left_out_accuracy": a, "in_distribution": i,
              "left_out_per_class": {"yes": a}, "left_out_examples": 10,
              "extra": {"/x/piper": {"accuracy": e, "per_class": {}, "examples": 5}}}
             for f, a, i, e in (("espeak", 0.25, 0.9, 0.5), ("flite", 0.75, 0.8, 0.7))]
    g = {"data": "/x/corpus", "model": "cnn", "scheme": "float", "label_mode": None,
         "folds": folds}
    parent = tmp_path / "gen"
    parent.mkdir()
    (parent / "generalize.json").write_text(json.dumps(g))
    (parent / "metrics.json").write_text(json.dumps({"generalize": g}))
    text = report.write_report(Run(parent), [], plots_on=False)
    first = text.splitlines()[2]
    assert first.startswith("**Cross-family accuracy: 50.0%**")
    assert "worst 25.0%, espeak" in first and "85.0% on the same folds" in first
    assert "60.0% on the extra test corpus piper" in first
    fold = parent / "leave_out_espeak"
    fold.mkdir()
    (fold / "metrics.json").write_text(json.dumps({"model": "cnn", "scheme": "float",
                                                   "float_test_accuracy": 0.9}))
    text = report.write_report(Run(fold), [], plots_on=False)
    assert text.index("Cross-family accuracy: 50.0%") < text.index("float test accuracy")
    assert "| espeak | 25.0% (10 clips)" in text
    alone = tmp_path / "plain"
    alone.mkdir()
    (alone / "metrics.json").write_text(json.dumps({"model": "cnn", "scheme": "float"}))
    assert "Cross-family" not in report.write_report(Run(alone), [], plots_on=False)


def test_diagnose_counts_every_keyword_event(evaluated: Run) -> None:
    from pipeline.data.gsc import COMMANDS
    from pipeline.evaluate import diagnose, streaming

    folder = Path(evaluated.read_config().data["path"]) / "streams"
    res = diagnose.diagnose(evaluated, folder, log=lambda _m: None)
    recs = streaming.find_recordings(folder)
    events = sum(1 for r in recs for e in r.events if e["word"] in COMMANDS and "file" in e)
    assert res["events"] == events == sum(r["events"] for r in res["by_snr"]) > 0
    assert 0 <= res["clip_alone_mean"] <= 1 and 0 <= res["stream_max_mean"] <= 1
    kinds = {s["kind"] for r in recs for s in r.truth.get("segments", [])}
    assert kinds and set(res["fa_by_segment"]) == kinds
    hours = sum(s["end"] - s["start"] for r in recs for s in r.truth.get("segments", [])) / 3600
    assert sum(v["hours"] for v in res["fa_by_segment"].values()) == pytest.approx(hours)
    rt = res["rules_table"]
    assert [r["smooth_seconds"] for r in rt] == list(diagnose.SMOOTHING)
    for r in rt:  # a wider FA/h range can only lower the mean miss rate
        assert r["auc_0_1000"] <= r["auc_0_100"] <= r["auc_0_10"] <= 1
    assert (evaluated.path / "eval" / "diagnose.json").is_file()
