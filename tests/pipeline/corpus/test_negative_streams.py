"""Negative streams: no keyword anywhere, every kind of segment, voices from the test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.corpus import streams
from pipeline.data.audio import read_wav
from pipeline.data.gsc import COMMANDS, WORDS, speaker_of


@pytest.fixture(scope="module")
def negative_corpus(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    root = tmp_path_factory.mktemp("negatives") / "c"
    shutil.copytree(tiny_corpus, root, ignore=shutil.ignore_patterns(".kwsq_cache"))
    stats = streams.make_streams(root, seed=0, minutes=0.5, negative_minutes=6.0,
                                 progress=False)
    assert stats["negative_files"] == 2 and stats["negative_minutes"] == 6.0
    return root


def _truths(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "streams").glob("negative_*.json"))]


def test_negative_streams_hold_no_keyword(negative_corpus: Path) -> None:
    test = set((negative_corpus / "testing_list.txt").read_text().split())
    speakers = {speaker_of(r) for r in test}
    words = [e for t in _truths(negative_corpus) for e in t["events"]]
    assert words and not any(e["keyword"] or e["word"] in COMMANDS for e in words)
    assert all(e["speaker"] in speakers for e in words)  # only test-split voices
    assert all(e["file"] in test for e in words if e["word"] != "_sentence_")
    for e in words:
        if e["word"] == "_sentence_":  # sentences avoid every Speech Commands word
            assert not set(e["text"].replace(",", " ").split()) & set(WORDS)


def test_negative_streams_cover_every_segment_kind(negative_corpus: Path) -> None:
    truths = _truths(negative_corpus)
    kinds = {s["kind"] for t in truths for s in t["segments"]}
    assert kinds == set(streams.SEGMENT_KINDS)
    assert any(e["word"] == "_sentence_" for t in truths for e in t["events"])
    for t in truths:
        audio, rate = read_wav(negative_corpus / "streams" / t["wav"])
        assert rate == 16000 and audio.size == int(t["seconds"] * 16000)
        seg = t["segments"]
        assert seg[0]["start"] == 0 and seg[-1]["end"] == t["seconds"]
        # near-silent segments are quieter than loud noise segments
        db = {k: [] for k in ("silence", "noise", "babble")}
        for s in seg:
            if s["kind"] in db:
                x = audio[int(s["start"] * 16000) + 800: int(s["end"] * 16000) - 800]
                db[s["kind"]].append(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-15))
        if db["silence"] and db["noise"]:
            assert max(db["silence"]) < min(db["noise"])


def test_negative_streams_are_deterministic(negative_corpus: Path) -> None:
    wav = negative_corpus / "streams" / "negative_001.wav"
    before = wav.read_bytes()
    wav.unlink()
    stats = streams.make_streams(negative_corpus, seed=0, minutes=0.5, negative_minutes=6.0,
                                 progress=False)
    assert stats["made_this_run"] == 1 and wav.read_bytes() == before
