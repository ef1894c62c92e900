"""Why a model misses keywords in streams: the detector, or the model on stream audio?

``python -m pipeline.evaluate.diagnose RUN [--streams DIR]`` scores the run's float model
(or ``--backend qat``) over the streams and, for every keyword event of the ground truth,
puts side by side

* the model's posterior of that keyword on the event's own source clip, alone (the clip the
  stream was built from, as ``kwsq eval`` scores clips), and
* the highest raw (unsmoothed) posterior of that keyword anywhere in the event's matching
  span of the stream (``[start - tol_before, end + tol_after]``, the span in which any
  detection would be a hit).

The second is an upper bound for every detector rule: smoothing only lowers peaks, and a
threshold above it misses the event whatever the refractory time. If the in-stream maximum
is low where the clip alone scores high, the stream audio (signal-to-noise ratio, the words
around the keyword, the background) and not the rules makes the misses. Events are grouped
by the signal-to-noise ratio the synthesizer recorded. False accepts are counted per hour
of each negative segment kind (running words, sentences, babble, noise, silence) at fixed
thresholds, pooled over keywords, with the rules of ``det``.

Writes ``RUN/eval/diagnose.json`` and prints a table; figures of ``docs/paper/report.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import write_text
from pipeline.errors import KwsqError
from pipeline.train.runs import Run

SNR_BINS = (-np.inf, 5.0, 10.0, 15.0, 20.0, np.inf)
THRESHOLDS = (0.5, 0.8, 0.9)
SMOOTHING = (0.1, 0.3, 0.5, 1.0)  # seconds: the same fixed alternatives for every model
MISS_POINTS = (1.0, 10.0, 100.0)  # FA/h
AUC_RANGES = ((0.0, 10.0), (0.0, 100.0), (0.0, 1000.0))


def rules_table(sp, scorer: str) -> list[dict[str, Any]]:
    """The pooled DET figures under fixed alternative smoothing windows (other rules at
    their defaults), with the highest relative AUC any model could reach against this one
    (1 / AUC: every keyword missed)."""
    import dataclasses

    from pipeline.evaluate import det, streaming

    rows = []
    for sm in SMOOTHING:
        rules = dataclasses.replace(det.DEFAULT_RULES, smooth_seconds=sm,
                                    auc_fa_max=max(r[1] for r in AUC_RANGES))
        curve = streaming.sweep(sp, scorer, rules).pooled
        row: dict[str, Any] = {"smooth_seconds": sm}
        for f in MISS_POINTS:
            row[f"miss_at_{f:g}"] = curve.miss_at(f)
        for lo, hi in AUC_RANGES:
            a = det.auc(curve, lo, hi)
            row[f"auc_{lo:g}_{hi:g}"] = a
            row[f"ceiling_{lo:g}_{hi:g}"] = 1 / a if a > 0 else None
        rows.append(row)
    return rows


def event_table(clip_p: np.ndarray, stream_max: np.ndarray, snr: np.ndarray,
                thresholds: tuple[float, ...] = THRESHOLDS) -> list[dict[str, Any]]:
    """Per SNR bin: events, and the share whose clip-alone / in-stream-max posterior of the
    right keyword reaches each threshold."""
    rows = []
    for lo, hi in zip(SNR_BINS[:-1], SNR_BINS[1:], strict=True):
        sel = (snr >= lo) & (snr < hi)
        if not sel.any():
            continue
        row: dict[str, Any] = {"snr_db": [float(lo), float(hi)], "events": int(sel.sum())}
        for t in thresholds:
            row[f"clip>={t}"] = float(np.mean(clip_p[sel] >= t))
            row[f"stream>={t}"] = float(np.mean(stream_max[sel] >= t))
        rows.append(row)
    return rows


def fa_by_segment(detections: list[tuple[float, str]], seconds: dict[str, float]
                  ) -> dict[str, dict[str, float]]:
    """False accepts per hour of each segment kind, from (threshold, kind) of every
    detection in negative audio (each threshold's own refractory suppression)."""
    out: dict[str, dict[str, float]] = {}
    thresholds = sorted({t for t, _ in detections} | set(THRESHOLDS))
    for kind, secs in sorted(seconds.items()):
        out[kind] = {"hours": secs / 3600}
        for t in thresholds:
            n = sum(1 for th, k in detections if th == t and k == kind)
            out[kind][f"fa_per_hour>={t}"] = n / max(secs / 3600, 1e-9)
    return out


def _segment_kind(rec, t: float) -> str | None:
    for s in rec.truth.get("segments", []):
        if s["start"] <= t < s["end"]:
            return str(s["kind"])
    return None


def diagnose(run: Run, stream_dir: Path, backend: str = "float", log=print) -> dict[str, Any]:
    from pipeline.data.audio import read_wav
    from pipeline.data.features import FeatureConfig
    from pipeline.evaluate import backends, det, streaming

    cfg = run.read_config()
    feat = FeatureConfig.from_dict(cfg.features)
    scorer = backends.run_scorers(run, (backend,), log=log)
    if not scorer:
        raise KwsqError(f"{run.path} has no {backend} model")
    s = scorer[0]
    from pipeline.data import loader
    from pipeline.data.gsc import COMMANDS

    names = loader.class_names(loader.DataConfig.from_dict(cfg.data))

    cols = {w: names.index(w) for w in COMMANDS if w in names}
    recs = streaming.find_recordings(stream_dir)
    rules = det.DEFAULT_RULES
    sp = streaming.posteriors(recs, [s], feat, cols, log=lambda m: None)
    win = streaming.windowing(feat)
    data_root = Path(cfg.data["path"])
    clip_p, stream_max, snr, words = [], [], [], []
    for rec, times, post in zip(sp.recordings, sp.times, sp.posteriors[s.name], strict=True):
        for e in rec.events:
            if e["word"] not in cols or "file" not in e:
                continue
            k = list(cols).index(e["word"])
            inside = (times >= e["start"] - rules.tol_before_seconds) & (
                times <= e["end"] + rules.tol_after_seconds)
            stream_max.append(float(post[inside, k].max()) if inside.any() else 0.0)
            audio, _ = read_wav(data_root / e["file"])
            audio = np.pad(audio, (0, max(0, 16000 - audio.size)))[:16000]
            frames = streaming._frames(audio, feat)
            starts = win.starts(len(frames))[-1:]
            p = s.score(streaming.inputs(frames, win, starts))
            clip_p.append(float(p[0, cols[e["word"]]]))
            snr.append(float(e.get("snr_db", np.inf)))
            words.append(e["word"])
    clip_arr, stream_arr, snr_arr = map(np.asarray, (clip_p, stream_max, snr))
    # false accepts by negative segment kind: detections at the lowest threshold
    w = det.window_frames(rules.smooth_seconds, sp.hop_seconds)
    found: list[tuple[float, str]] = []
    seconds: dict[str, float] = {}
    for rec, times, post in zip(sp.recordings, sp.times, sp.posteriors[s.name], strict=True):
        for seg in rec.truth.get("segments", []):
            seconds[seg["kind"]] = seconds.get(seg["kind"], 0.0) + seg["end"] - seg["start"]
        if not rec.truth.get("segments"):
            continue
        for k in range(post.shape[1]):
            sm = det.smooth(post[:, k], w)
            for t in THRESHOLDS:
                for i in det.detect(sm, times, t, rules.refractory_seconds):
                    kind = _segment_kind(rec, float(times[i]))
                    if kind is not None:
                        found.append((t, kind))
    result = {
        "run": str(run.path), "backend": backend, "streams": str(stream_dir),
        "rules": rules.to_dict(), "events": len(clip_p),
        "clip_alone_mean": float(clip_arr.mean()) if clip_p else None,
        "stream_max_mean": float(stream_arr.mean()) if clip_p else None,
        "by_snr": event_table(clip_arr, stream_arr, snr_arr),
        "fa_by_segment": fa_by_segment(found, seconds),
        "rules_table": rules_table(sp, s.name),
    }
    (run.path / "eval").mkdir(parents=True, exist_ok=True)
    write_text(run.path / "eval" / "diagnose.json", json.dumps(result, indent=1) + "\n")
    return result


def markdown(res: dict[str, Any]) -> str:
    from pipeline.evaluate.report import table

    head = ["SNR dB", "events"] + [f"{w} >= {t}" for t in THRESHOLDS
                                    for w in ("clip alone", "in stream")]
    rows = [[f"{r['snr_db'][0]:g}..{r['snr_db'][1]:g}", str(r["events"])]
            + [f"{100 * r[f'{w}>={t}']:.0f}%" for t in THRESHOLDS for w in ("clip", "stream")]
            for r in res["by_snr"]]
    fa_head = ["negative segment kind", "hours"] + [f"FA/h at >= {t}" for t in THRESHOLDS]
    fa_rows = [[k, f"{v['hours']:.2f}"] + [f"{v[f'fa_per_hour>={t}']:.0f}" for t in THRESHOLDS]
               for k, v in res["fa_by_segment"].items()]
    r_head = (["smoothing s"] + [f"miss @{f:g} FA/h" for f in MISS_POINTS]
              + [f"AUC {lo:g}-{hi:g} (ceiling)" for lo, hi in AUC_RANGES])
    r_rows = [[f"{r['smooth_seconds']:g}"] + [f"{100 * r[f'miss_at_{f:g}']:.1f}%"
                                              for f in MISS_POINTS]
              + [f"{r[f'auc_{lo:g}_{hi:g}']:.3f} ({r[f'ceiling_{lo:g}_{hi:g}']:.2f})"
                 for lo, hi in AUC_RANGES] for r in res.get("rules_table", [])]
    return (table(head, rows) + "\n" + table(fa_head, fa_rows) + "\n"
            + table(r_head, r_rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.evaluate.diagnose",
                                description="keyword posteriors on clips alone vs in streams")
    p.add_argument("run")
    p.add_argument("--streams", help="stream folder (default: the run's corpus streams/)")
    p.add_argument("--backend", default="float", choices=("float", "qat"))
    args = p.parse_args(argv)
    from pipeline import console

    with console.session():
        try:
            run = Run(args.run).require()
            folder = Path(args.streams) if args.streams else Path(
                run.read_config().data["path"]) / "streams"
            res = diagnose(run, folder, args.backend, log=lambda m: None)
        except KwsqError as exc:
            print(f"diagnose: error: {exc}", file=sys.stderr)
            return 2
    print(f"{res['events']} keyword events; mean posterior of the right keyword: clip alone "
          f"{res['clip_alone_mean']:.3f}, in-stream maximum {res['stream_max_mean']:.3f}")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
