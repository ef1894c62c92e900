"""``--diversity twins``: one derived twin per real-voice speaker, and the formant-style
re-synthesis some twins are made with.

Checked on measured audio: the re-synthesis keeps the clip's length, peak and word span,
puts the pitch where ``f0_ratio`` says and the formant where ``warp`` says, is a sum of
harmonics (periodic) in voiced frames, brightens noise by ``noise_tilt``, and is a pure
function of (audio, settings, seed). The twins: the people pool unchanged as their prefix,
one twin per non-derived real-voice speaker of the same family and voice, nothing derived
from espeak-ng or test-only voices, and a synthesized twin's clip is reproducible.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from pipeline.corpus import acoustics, synth, voices
from pipeline.data.audio import read_wav, word_bounds

RATE = 16000


def _centroid(x: np.ndarray) -> float:
    f, p = signal.welch(x, RATE, nperseg=512)
    return float((f * p).sum() / p.sum())


def _vowel(f0: float = 120.0, formant: float = 1000.0, n: int = RATE // 2) -> np.ndarray:
    """A pulse train through one resonance: a vowel with its formant at ``formant`` Hz."""
    pulses = np.zeros(n)
    pulses[:: int(RATE / f0)] = 1.0
    r, theta = 0.97, 2 * np.pi * formant / RATE
    x = signal.lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], pulses)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def _fricative(lo: float = 1500.0, hi: float = 2200.0, n: int = RATE // 4) -> np.ndarray:
    noise = np.random.default_rng(0).standard_normal(n)
    b, a = signal.butter(4, [lo, hi], btype="band", fs=RATE)
    return (0.3 * signal.lfilter(b, a, noise)).astype(np.float32)


def _word() -> np.ndarray:
    """0.2 s silence, a 0.4 s vowel, a 0.15 s fricative, 0.25 s silence: a "word" whose
    span is known (0.2 .. 0.75 s)."""
    v = _vowel(n=int(0.4 * RATE))
    f = _fricative(n=int(0.15 * RATE))
    f *= 0.4 * np.max(np.abs(v)) / np.max(np.abs(f))
    return np.concatenate([np.zeros(int(0.2 * RATE)), v, f,
                           np.zeros(int(0.25 * RATE))]).astype(np.float32)


def _pitch_hz(x: np.ndarray) -> float:
    x = x[RATE // 10 : -RATE // 10] - x.mean()
    ac = np.correlate(x, x, mode="full")[x.size - 1 :]
    lo, hi = RATE // 400, RATE // 60
    return RATE / (lo + int(np.argmax(ac[lo:hi])))


def _peak_hz(x: np.ndarray, f0: float) -> float:
    """Frequency of the strongest harmonic region: the Welch spectrum smoothed over two
    harmonic spacings, so the envelope peak (the formant) wins, not one harmonic."""
    f, p = signal.welch(x, RATE, nperseg=2048)
    width = max(1, int(2 * f0 / (f[1] - f[0])))
    smooth = np.convolve(p, np.ones(width) / width, mode="same")
    band = (f > 300) & (f < 4000)
    return float(f[band][np.argmax(smooth[band])])


def test_resynthesis_keeps_length_peak_and_word_span() -> None:
    x = _word()
    y = acoustics.formant_resynth(x, {"order": 16, "sharpen": 1.5, "tilt": 3.0,
                                      "noise_tilt": 4.0, "f0_range": 0.5, "jitter": 0.01})
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(x)), rel=1e-5)
    lo_x, hi_x = word_bounds(x, rel=0.01, margin=0)
    lo_y, hi_y = word_bounds(y, rel=0.01, margin=0)
    assert abs(lo_y - lo_x) < 0.02 * RATE and abs(hi_y - hi_x) < 0.03 * RATE
    # silence stays silence: no energy before the word or after it
    assert np.max(np.abs(y[: int(0.15 * RATE)])) < 0.01 * np.max(np.abs(y))
    assert np.max(np.abs(y[int(0.82 * RATE):])) < 0.01 * np.max(np.abs(y))


def test_resynthesis_is_a_function_of_audio_settings_and_seed() -> None:
    x = _word()
    params = {"order": 18, "jitter": 0.015}
    a = acoustics.formant_resynth(x, params, seed=3)
    assert np.array_equal(a, acoustics.formant_resynth(x, params, seed=3))
    b = acoustics.formant_resynth(x, params, seed=4)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("ratio", [0.8, 1.5])
def test_resynthesis_moves_the_pitch_by_f0_ratio(ratio: float) -> None:
    x = _vowel(f0=120.0)
    y = acoustics.formant_resynth(x, {"f0_ratio": ratio})
    assert _pitch_hz(x) == pytest.approx(120.0, rel=0.03)
    assert _pitch_hz(y) == pytest.approx(120.0 * ratio, rel=0.04)


def test_resynthesis_keeps_the_formant_and_warp_moves_it() -> None:
    x = _vowel(f0=100.0, formant=1000.0)
    assert _peak_hz(x, 100.0) == pytest.approx(1000.0, abs=100)
    same = acoustics.formant_resynth(x, {"order": 20})
    assert _peak_hz(same, 100.0) == pytest.approx(1000.0, abs=120)
    up = acoustics.formant_resynth(x, {"order": 20, "warp": 1.25})
    assert _peak_hz(up, 100.0) == pytest.approx(1250.0, abs=130)


def test_resynthesized_vowel_is_a_sum_of_harmonics() -> None:
    # energy sits on the harmonics of F0: a harmonic-to-between-harmonics ratio well above
    # noise's 0 dB (checked on the strongest harmonics around the formant)
    y = acoustics.formant_resynth(_vowel(f0=125.0), {"f0_range": 0.0})
    f, p = signal.welch(y, RATE, nperseg=4096)
    on = [p[np.argmin(np.abs(f - k * 125.0))] for k in range(4, 13)]
    off = [p[np.argmin(np.abs(f - (k + 0.5) * 125.0))] for k in range(4, 13)]
    assert 10 * np.log10(np.sum(on) / np.sum(off)) > 15


def test_noise_tilt_brightens_the_fricative_by_its_slope() -> None:
    # reference: the plain re-synthesis's spectrum tilted by 6 dB per octave above 500 Hz
    x = _fricative(1500.0, 3000.0, n=RATE // 2)
    plain = acoustics.formant_resynth(x, {"order": 24})
    bright = acoustics.formant_resynth(x, {"order": 24, "noise_tilt": 6.0})
    f, p = signal.welch(plain, RATE, nperseg=512)
    p = p * 10 ** (6.0 * np.log2(np.maximum(f, 500.0) / 500.0) / 10)
    expected = float((f * p).sum() / p.sum())
    assert expected > _centroid(plain) + 150
    assert _centroid(bright) == pytest.approx(expected, abs=60)


@pytest.mark.parametrize("factor", [1.3, 1.8])
def test_noise_warp_moves_the_fricative_and_leaves_the_vowel(factor: float) -> None:
    fricative = _fricative(1500.0, 2200.0, n=RATE // 2)
    plain = acoustics.formant_resynth(fricative, {"order": 24})
    moved = acoustics.formant_resynth(fricative, {"order": 24, "noise_warp": factor})
    assert _centroid(moved) == pytest.approx(factor * _centroid(plain), rel=0.1)
    vowel = _vowel(f0=100.0, formant=1000.0)
    kept = acoustics.formant_resynth(vowel, {"order": 20, "noise_warp": factor})
    assert _peak_hz(kept, 100.0) == pytest.approx(1000.0, abs=120)


def test_resynthesis_rejects_unknown_or_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown formant re-synthesis setting 'pitch'"):
        acoustics.formant_resynth(_vowel(), {"pitch": 1.0})
    with pytest.raises(ValueError, match="out of range"):
        acoustics.formant_resynth(_vowel(), {"order": 2})
    with pytest.raises(ValueError, match="out of range"):
        acoustics.formant_resynth(_vowel(), {"jitter": 0.5})


def _inventory() -> voices.VoiceInventory:
    """A fixed inventory (the twins need no installed engine to be drawn)."""
    return voices.VoiceInventory(
        espeak_accents=("en-us", "en-gb"), espeak_variants=("m1", "f2"),
        flite=("kal", "slt", "awb"), festival=("kal_diphone", "ked_diphone"),
        festival_mapped=("czech_dita", "lp_diphone"))


def test_twins_pool_is_the_people_pool_plus_a_twin_of_every_second_real_voice() -> None:
    inv = _inventory()
    counts = {"espeak": 6, "flite": 6, "festival": 4}
    people = voices.speaker_pool(counts, 0, inv, "people")
    twins = voices.speaker_pool(counts, 0, inv, "twins")
    assert twins[: len(people)] == people  # existing speakers (and levels) unchanged
    added = twins[len(people):]
    sources = []
    for family in ("flite", "festival"):
        real = [s for s in people if s.family == family and not s.world]
        sources += real[1::2]  # the second, fourth, ... of each family
    assert len(added) == len(sources) > 0
    for src, twin in zip(sources, added, strict=True):
        # same family, voice and reading (mapped) as its source: folds stay leak-free
        assert (twin.family, twin.voice, twin.mapped, twin.stretch) == \
            (src.family, src.voice, src.mapped, src.stretch)
        assert twin.cents == 0 and twin.f0 == 0.0 and not twin.world and twin.formant
        assert {k for k, _ in twin.formant} == set(voices.FORMANT_RANGES)
        for key, value in twin.formant:
            lo, hi = voices.FORMANT_RANGES[key]
            assert lo <= value <= hi
    assert any(t.mapped for t in added)  # the mapped voices get twins too
    assert len({s.hash for s in twins}) == len(twins)
    # a twin round-trips through speakers.csv's params
    for s in added:
        assert voices.Speaker.from_dict(s.to_dict()) == s
    assert voices.speaker_pool(counts, 0, inv, "twins") == twins
    assert voices.speaker_pool(counts, 1, inv, "twins") != twins


def test_test_only_espeak_and_derived_speakers_get_no_twin() -> None:
    piper = voices.Speaker("piper", "joe", stretch=1.1)
    world = voices.Speaker("flite", "kal", world=(("warp", 1.1),))
    espeak = voices.Speaker("espeak", "en-us", rate=120, pitch=40)
    real = [voices.Speaker("festival", "kal_diphone", stretch=1.0 + i / 10) for i in range(4)]
    twins = voices.twin_speakers([piper, world, espeak, *real, espeak], set())
    assert [t.stretch for t in twins] == [1.1, 1.3]
    assert all(t.family == "festival" and t.formant for t in twins)


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (make setup)")
def test_a_formant_twin_clip_is_reproducible_and_keeps_the_word(tmp_path: Path) -> None:
    rng = random.Random(0)
    src = voices.Speaker("flite", "kal", stretch=1.2)
    twin = dataclasses.replace(src, formant=voices.formant_settings(rng))
    words = ("left", "yes")
    for out in (tmp_path / "a", tmp_path / "b"):
        res = synth._speaker_task((str(out), twin, words, 1, 1, 0))
        assert res["made"] == 2 and not res["errors"]
    for word in words:
        name = synth.clip_name(twin, word, 0)
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # the re-synthesized render has the engine render's word span (within 30 ms)
    raw = tmp_path / "left.wav"
    subprocess.run(["flite", "-voice", "kal", "-t", "left", "-o", str(raw)], check=True)
    audio, rate = read_wav(raw)
    audio = synth.resample(audio, int(round(audio.size * RATE / rate)))
    y = acoustics.formant_resynth(audio, dict(twin.formant))
    lo_x, hi_x = word_bounds(audio, rel=0.01, margin=0)
    lo_y, hi_y = word_bounds(y, rel=0.01, margin=0)
    assert abs(lo_y - lo_x) < 0.03 * RATE and abs(hi_y - hi_x) < 0.03 * RATE
