"""The SAM family (``kwsq synth --families ...,sam``): resampling, the voice parameters on
measured audio, the speaker draw, deterministic clips, and the error without samtts."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import itertools
import json
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.corpus import synth, voices
from pipeline.data.audio import read_wav
from pipeline.data.gsc import WORDS
from pipeline.errors import KwsqError

needs_sam = pytest.mark.skipif(
    importlib.util.find_spec("samtts") is None,
    reason="samtts is not installed (opt-in, no licence: make setup-sam; docs/data.md)")
SR = 16000


def _word(x: np.ndarray, below_db: float = 30.0) -> np.ndarray:
    """The samples from the first to the last one within ``below_db`` of the peak."""
    idx = np.flatnonzero(np.abs(x) > np.max(np.abs(x)) * 10 ** (-below_db / 20))
    return x[idx[0] : idx[-1] + 1]


def _f0(x: np.ndarray) -> float:
    """Pitch of the middle 120 ms by autocorrelation (50-500 Hz)."""
    mid = x.size // 2
    seg = x[mid - 960 : mid + 960].astype(np.float64)
    seg = seg - seg.mean()
    ac = np.correlate(seg, seg, "full")[seg.size - 1 :]
    lo, hi = SR // 500, SR // 50
    return SR / (lo + int(np.argmax(ac[lo:hi])))


def _peak_hz(x: np.ndarray, lo: float, hi: float) -> float:
    seg = x * np.hanning(x.size)
    spec = np.abs(np.fft.rfft(seg, 16384))
    f = np.fft.rfftfreq(16384, 1 / SR)
    band = (f > lo) & (f < hi)
    return float(f[band][np.argmax(spec[band])])


def _centroid(x: np.ndarray) -> float:
    s = np.abs(np.fft.rfft(x)) ** 2
    return float((s * np.fft.rfftfreq(x.size, 1 / SR)).sum() / s.sum())


def test_resampler_keeps_the_band_and_removes_what_would_alias() -> None:
    n = 22050
    t = np.arange(n) / 22050
    x = np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 10000 * t)  # 10 kHz > 8 kHz Nyquist
    y = synth.resample_to_16k(x.astype(np.float32), 22050)
    assert y.dtype == np.float32 and y.size == 16000
    spec = np.abs(np.fft.rfft(y[2000:14000] * np.hanning(12000)))
    f = np.fft.rfftfreq(12000, 1 / SR)
    ref = np.abs(np.fft.rfft(np.sin(2 * np.pi * 1000 * np.arange(12000) / SR)
                             * np.hanning(12000)))
    # the 1 kHz tone keeps its level; naive decimation would fold 10 kHz onto 6 kHz
    assert abs(20 * np.log10(spec.max() / ref.max())) < 0.2
    assert f[np.argmax(spec)] == pytest.approx(1000, abs=2)
    alias = spec[(f > 5900) & (f < 6100)].max()
    assert 20 * np.log10(alias / spec.max()) < -50
    same = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    assert np.array_equal(synth.resample_to_16k(same, SR), same)


@needs_sam
def test_every_word_renders_speech_at_every_corner_of_the_ranges() -> None:
    corners = [dict(zip(voices.SAM_RANGES, v, strict=True))
               for v in itertools.product(*voices.SAM_RANGES.values())]
    for settings in corners:
        for w in WORDS:
            x = synth.sam_audio(w, settings)
            word = _word(x)
            rms_db = 20 * np.log10(np.sqrt(np.mean(word ** 2)))
            assert 0.1 < word.size / SR < 1.2, (settings, w, word.size / SR)
            assert rms_db > -25.0, (settings, w, rms_db)
            # the renderer leaves its buffer's first 3 samples unwritten (0 of 8-bit
            # unsigned, full scale): silence, no click
            assert np.max(np.abs(x[:2])) < 0.05, (settings, w)


@needs_sam
def test_voice_parameters_move_what_they_name() -> None:
    base = {"speed": 72, "pitch": 64, "mouth": 128, "throat": 128}
    # pitch is a period (plus a fixed part of each cycle): half the value, over twice the F0
    low = _f0(_word(synth.sam_audio("no", {**base, "pitch": 80})))
    high = _f0(_word(synth.sam_audio("no", {**base, "pitch": 40})))
    assert 70 < low < 130 and 2.0 <= high / low < 2.6
    # speed scales the duration
    slow = _word(synth.sam_audio("backward", {**base, "speed": 108})).size
    fast = _word(synth.sam_audio("backward", {**base, "speed": 64})).size
    assert slow / fast == pytest.approx(108 / 64, rel=0.08)
    # mouth raises the first formant of "ah", throat the spectrum's centroid
    f1 = [_peak_hz(_word(synth.sam_audio("ah", {**base, "mouth": m})), 200, 1300)
          for m in (100, 200)]
    assert f1[1] > 1.4 * f1[0]
    cen = [_centroid(_word(synth.sam_audio("ah", {**base, "throat": t}))) for t in (100, 200)]
    assert cen[1] > 1.2 * cen[0]


def _inventory(sam: bool) -> voices.VoiceInventory:
    return dataclasses.replace(voices.discover(), sam=("sam",) if sam else ())


def test_sam_speakers_are_drawn_in_range_and_leave_the_others_alone() -> None:
    inv = _inventory(True)
    without = voices.speaker_pool({"espeak": 6, "flite": 3}, 0, inv)
    pool = voices.speaker_pool({"espeak": 6, "flite": 3, "sam": 12}, 0, inv)
    assert pool[: len(without)] == without  # the other families keep their speakers
    sam = [s for s in pool if s.family == "sam"]
    assert len(sam) == 12 and len({s.hash for s in sam}) == 12
    for s in sam:
        settings = dict(s.sam)
        assert set(settings) == set(voices.SAM_RANGES)
        for key, (lo, hi) in voices.SAM_RANGES.items():
            assert lo <= settings[key] <= hi
        assert not s.human and s.cents == 0 and s.tempo == 1.0
        assert voices.Speaker.from_dict(s.to_dict()) == s
    assert len({dict(s.sam)["pitch"] for s in sam}) > 6
    splits = synth.assign_splits(pool, 0, holdout_family="sam")
    assert all(splits[s.hash] == "testing" for s in sam)
    # no SAM speaker when samtts is absent (the caller refuses the family, below)
    assert not any(s.family == "sam" for s in
                   voices.speaker_pool({"espeak": 2, "sam": 3}, 0, _inventory(False)))


def test_sam_without_samtts_is_a_clear_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    inv = _inventory(False)
    monkeypatch.setattr(synth.voices, "discover", lambda: inv)
    with pytest.raises(KwsqError, match="samtts"):
        synth.synthesize(tmp_path / "c", size="tiny", families=("espeak", "sam"),
                         progress=False)
    assert not (tmp_path / "c").exists()
    monkeypatch.setitem(sys.modules, "samtts", None)  # import samtts -> ImportError
    with pytest.raises(synth.RenderError, match="pip install --no-deps samtts"):
        synth.sam_audio("yes", {"speed": 72, "pitch": 64, "mouth": 128, "throat": 128})


@needs_sam
def test_sam_corpus_is_deterministic_and_placed_like_the_others(tmp_path: Path) -> None:
    a = synth.synthesize(tmp_path / "a", size="tiny", seed=3, jobs=1, families=("sam",),
                         progress=False)
    synth.synthesize(tmp_path / "b", size="tiny", seed=3, jobs=2, families=("sam",),
                     progress=False)
    assert a["complete"] and a["speakers_per_family"] == {"sam": 5}
    assert a["clips"] == 5 * len(synth.SIZES["tiny"].words)
    assert a["config"]["families"] == ["sam"]
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.wav"))
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
                         for f in files)
    speakers = {r["hash"]: r for r in csv.DictReader(open(tmp_path / "a" / "speakers.csv"))}
    spans = synth.read_alignments(tmp_path / "a")
    for name, (start, end) in spans.items():
        row = speakers[Path(name).name.split("_")[0]]
        params = json.loads(row["params"])
        assert row["family"] == "sam" and set(params["sam"]) == set(voices.SAM_RANGES)
        with wave.open(str(tmp_path / "a" / name)) as w:
            assert (w.getframerate(), w.getnframes()) == (SR, SR)
        clip, _ = read_wav(tmp_path / "a" / name)
        # the word's peak sits at the speaker's level (+-4 dB per clip), the rest of the clip
        # is the microphone floor, far below
        peak_db = 20 * np.log10(np.max(np.abs(clip[start:end])))
        assert abs(peak_db - min(params["level_db"], -0.5)) < 4.6, name
        outside = np.concatenate([clip[: max(0, start - 800)], clip[end + 4000 :]])
        if outside.size > 1600:
            assert 20 * np.log10(np.sqrt(np.mean(outside ** 2))) < peak_db - 30, name
    assert len(spans) == a["clips"]
