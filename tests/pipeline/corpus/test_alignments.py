"""``alignments.csv``: where ``kwsq synth`` put each word in its clip.

The recorded span is measured on the clean word before noise; the reference here is the
written clip itself: its energy above the noise floor must lie inside the span (tolerance
10 ms each side, at least 97 % of it: reverberant tails below -40 dB may fall outside), and
an energy detector run on the noisy clip must find the same edges (median within 10 ms).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.corpus import synth
from pipeline.data.audio import read_wav
from pipeline.data.frame_targets import energy_span
from pipeline.errors import KwsqError

TOLERANCE = 160  # samples: 10 ms


def _listed(root: Path) -> list[str]:
    listed = set()
    for name in ("validation_list.txt", "testing_list.txt"):
        listed |= set((root / name).read_text().split())
    clips = sorted(f"{p.parent.name}/{p.name}" for p in root.glob("*/*.wav")
                   if not p.parent.name.startswith("_"))
    assert listed <= set(clips)
    return clips


def test_every_clip_has_a_span_inside_the_clip(tiny_corpus: Path) -> None:
    with (tiny_corpus / synth.ALIGNMENTS).open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == synth.ALIGNMENT_FIELDS
    spans = synth.read_alignments(tiny_corpus)
    assert sorted(spans) == _listed(tiny_corpus)
    for start, end in spans.values():
        assert 0 <= start < end <= synth.CLIP_SAMPLES


def test_spans_hold_the_clips_speech_energy(tiny_corpus: Path) -> None:
    spans = synth.read_alignments(tiny_corpus)
    starts, ends = [], []
    for rel, (start, end) in spans.items():
        audio, _ = read_wav(tiny_corpus / rel)
        power = audio.astype(np.float64) ** 2
        frames = power[: power.size // 160 * 160].reshape(-1, 160).mean(axis=1)
        excess = np.maximum(power - np.percentile(frames, 10), 0.0)
        inside = excess[max(0, start - TOLERANCE) : end + TOLERANCE].sum()
        assert inside >= 0.97 * excess.sum(), rel
        s, e = energy_span(audio)
        starts.append(abs(s - start))
        ends.append(abs(e - end))
    assert np.median(starts) <= TOLERANCE and np.median(ends) <= TOLERANCE
    assert np.percentile(starts, 90) <= 2 * TOLERANCE


def test_a_resumed_run_keeps_and_remakes_the_same_spans(tiny_corpus: Path,
                                                        tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, root, ignore=shutil.ignore_patterns(".kwsq_cache"))
    before = synth.read_alignments(root)
    gone = sorted(before)[:3]
    for rel in gone:
        (root / rel).unlink()
    synth.synthesize(root, size="tiny", seed=0, jobs=1, progress=False)
    assert synth.read_alignments(root) == before


def test_a_foreign_table_is_refused(tmp_path: Path) -> None:
    (tmp_path / synth.ALIGNMENTS).write_text("file,onset\nyes/a.wav,3\n")
    with pytest.raises(KwsqError, match="not a word-alignment table"):
        synth.read_alignments(tmp_path)
    assert synth.read_alignments(tmp_path / "none") == {}
