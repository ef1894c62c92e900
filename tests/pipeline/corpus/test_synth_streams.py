"""Streaming test audio: ground truth matches the audio, only test speakers, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.corpus import streams
from pipeline.data.audio import read_wav
from pipeline.data.loader import speaker_of


@pytest.fixture(scope="module")
def stream_corpus(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    root = tmp_path_factory.mktemp("streams") / "c"
    shutil.copytree(tiny_corpus, root, ignore=shutil.ignore_patterns(".kwsq_cache"))
    streams.make_streams(root, seed=0, minutes=1.0, progress=False)
    return root


def _truth(root: Path) -> dict:
    return json.loads((root / "streams" / "stream_000.json").read_text())


def test_stream_has_requested_length_and_format(stream_corpus: Path) -> None:
    audio, rate = read_wav(stream_corpus / "streams" / "stream_000.wav")
    assert rate == 16000 and audio.size == 60 * 16000
    assert _truth(stream_corpus)["seconds"] == 60.0


def test_stream_words_come_only_from_test_speakers(stream_corpus: Path) -> None:
    test = set((stream_corpus / "testing_list.txt").read_text().split())
    events = _truth(stream_corpus)["events"]
    assert len(events) >= 10
    assert all(e["file"] in test and e["speaker"] == speaker_of(e["file"]) for e in events)
    assert {e["keyword"] for e in events} == {True, False}  # keywords and distractors
    assert all(e["keyword"] == (e["word"] in streams.COMMANDS) for e in events)


def test_ground_truth_times_mark_where_the_words_are(stream_corpus: Path) -> None:
    audio, _ = read_wav(stream_corpus / "streams" / "stream_000.wav")
    events = _truth(stream_corpus)["events"]
    for a, b in zip(events, events[1:], strict=False):
        assert a["end"] < b["start"]  # no overlapping words
    # words are mixed 5-25 dB above the background: marked regions carry more energy
    word_db = [10 * np.log10(np.mean(audio[int(e["start"] * 16000) : int(e["end"] * 16000)]
                                     ** 2)) for e in events]
    just_before = [10 * np.log10(np.mean(audio[int(e["start"] * 16000) - 4000 :
                                               int(e["start"] * 16000)] ** 2) + 1e-12)
                   for e in events if e["start"] > 0.25]
    assert np.median(word_db) > np.median(just_before) + 5


def test_streams_are_resumable_and_deterministic(stream_corpus: Path) -> None:
    wav = stream_corpus / "streams" / "stream_000.wav"
    before = wav.read_bytes()
    stats = streams.make_streams(stream_corpus, seed=0, minutes=1.0, progress=False)
    assert stats["made_this_run"] == 0
    wav.unlink()
    streams.make_streams(stream_corpus, seed=0, minutes=1.0, progress=False)
    assert wav.read_bytes() == before
