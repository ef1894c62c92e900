"""Speaker and channel diversity transforms, checked with independent numpy measurements."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from pipeline.corpus import acoustics, voices

RATE = 16000


def _vowel(f0: float = 120.0, formant: float = 1000.0, seconds: float = 0.5) -> np.ndarray:
    """A pulse train at ``f0`` through one two-pole resonance at ``formant`` Hz."""
    n = int(seconds * RATE)
    pulses = np.zeros(n)
    pulses[:: int(RATE / f0)] = 1.0
    r = 0.97
    theta = 2 * np.pi * formant / RATE
    return signal.lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], pulses).astype(np.float32)


def _envelope_peak_hz(x: np.ndarray) -> float:
    """Frequency of the strongest harmonic region: a smoothed magnitude spectrum's peak."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    smooth = np.convolve(spec, np.ones(301) / 301, mode="same")
    return float(np.argmax(smooth) * RATE / x.size)


def _pitch_hz(x: np.ndarray) -> float:
    """Autocorrelation pitch between 60 and 400 Hz."""
    x = x - x.mean()
    ac = np.correlate(x, x, mode="full")[x.size - 1 :]
    lo, hi = RATE // 400, RATE // 60
    return RATE / (lo + int(np.argmax(ac[lo:hi])))


@pytest.mark.parametrize("factor", [0.85, 1.2])
def test_warp_formants_moves_the_formant_and_keeps_the_pitch(factor: float) -> None:
    x = _vowel()
    y = acoustics.warp_formants(x, factor)
    assert y.shape == x.shape
    assert _envelope_peak_hz(y) == pytest.approx(1000.0 * factor, rel=0.12)
    assert _pitch_hz(y) == pytest.approx(_pitch_hz(x), rel=0.03)


def test_warp_formants_with_factor_one_is_identity() -> None:
    x = _vowel()
    assert acoustics.warp_formants(x, 1.0) is x


def _schroeder_rt60(h: np.ndarray) -> float:
    """RT60 from the energy decay curve (backward integration), fitted from -5 to -25 dB."""
    edc = np.cumsum(h[::-1].astype(np.float64) ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-30)
    i5, i25 = np.argmax(edc_db <= -5), np.argmax(edc_db <= -25)
    return 3.0 * (i25 - i5) / RATE


def test_simulated_rooms_decay_at_their_reverberation_time() -> None:
    dry = acoustics.room_impulse_response((4.0, 3.5, 2.6, 0.2, 1.0))
    wet = acoustics.room_impulse_response((7.0, 5.5, 3.2, 0.8, 2.0))
    assert _schroeder_rt60(dry) == pytest.approx(0.2, rel=0.5)
    assert _schroeder_rt60(wet) == pytest.approx(0.8, rel=0.5)
    assert _schroeder_rt60(wet) > 2 * _schroeder_rt60(dry)
    # a room is a fixed identity: the same parameters give the same response
    np.testing.assert_array_equal(wet, acoustics.room_impulse_response((7.0, 5.5, 3.2, 0.8, 2.0)))


def test_apply_room_keeps_the_peak_and_the_onset() -> None:
    x = np.zeros(4000, np.float32)
    x[1000:1400] = np.sin(np.arange(400) * 0.3)
    y = acoustics.apply_room(x, (5.0, 4.0, 3.0, 0.5, 1.5))
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(x)), rel=1e-5)
    onset = int(np.argmax(np.abs(y) > 0.05))
    assert 990 <= onset <= 1010
    assert y.size > x.size  # the reverberant tail is kept


def _tone_db(x: np.ndarray, hz: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    k = int(round(hz * x.size / RATE))
    return 20 * np.log10(np.max(spec[k - 2 : k + 3]) + 1e-12)


def test_channel_band_limits_attenuate_outside_the_band() -> None:
    t = np.arange(RATE) / RATE
    x = (0.2 * (np.sin(2 * np.pi * 60 * t) + np.sin(2 * np.pi * 1000 * t)
                + np.sin(2 * np.pi * 6000 * t))).astype(np.float32)
    y = acoustics.colour_channel(x, {"highpass_hz": 300.0, "lowpass_hz": 3000.0})
    mid = _tone_db(y, 1000) - _tone_db(x, 1000)
    assert _tone_db(y, 6000) - _tone_db(x, 6000) < mid - 15
    assert _tone_db(y, 60) - _tone_db(x, 60) < mid - 15


def test_channel_peak_eq_boosts_its_band() -> None:
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(RATE)).astype(np.float32)
    y = acoustics.colour_channel(x, {"peak_hz": 2000.0, "peak_db": 9.0})

    def band_db(z: np.ndarray, lo: float, hi: float) -> float:
        spec = np.abs(np.fft.rfft(z)) ** 2
        f = np.fft.rfftfreq(z.size, 1 / RATE)
        return 10 * np.log10(spec[(f >= lo) & (f < hi)].mean())

    gain_peak = band_db(y, 1800, 2200) - band_db(x, 1800, 2200)
    gain_far = band_db(y, 200, 400) - band_db(x, 200, 400)
    assert gain_peak - gain_far == pytest.approx(9.0, abs=2.0)


def test_clipping_and_agc_reduce_the_dynamics() -> None:
    t = np.arange(RATE) / RATE
    x = np.sin(2 * np.pi * 300 * t).astype(np.float32)
    x[RATE // 2 :] *= 0.05  # a loud half and a quiet half (-26 dB)
    clipped = acoustics.colour_channel(x, {"clip": 0.5})
    crest_in = np.max(np.abs(x[: RATE // 2])) / np.sqrt(np.mean(x[: RATE // 2] ** 2))
    crest_out = np.max(np.abs(clipped[: RATE // 2])) / np.sqrt(np.mean(clipped[: RATE // 2] ** 2))
    assert crest_out < crest_in - 0.2
    levelled = acoustics.agc(x, 18.0)

    def half_db(z: np.ndarray, which: slice) -> float:
        return 10 * np.log10(np.mean(z[which] ** 2))

    loud, quiet = slice(2000, RATE // 2 - 2000), slice(RATE // 2 + 2000, RATE - 2000)
    before = half_db(x, loud) - half_db(x, quiet)
    after = half_db(levelled, loud) - half_db(levelled, quiet)
    assert before == pytest.approx(26.0, abs=0.5)
    assert after < before - 12


def test_plain_speakers_keep_their_hash_when_wide_fields_are_neutral() -> None:
    s = voices.Speaker("espeak", "en-us", rate=120, pitch=50)
    assert "warp" not in s.key and "carrier" not in s.key and "channel" not in s.key
    wide = voices.Speaker("espeak", "en-us", rate=120, pitch=50, warp=1.1)
    assert wide.hash != s.hash


def test_wide_speakers_differ_from_plain_ones_only_by_the_wide_fields() -> None:
    inv = voices.VoiceInventory(("en-us", "en-gb"), ("m1", "f2"), ("kal", "slt"),
                                ("kal_diphone",), ("de",), ("pc_diphone",))
    plain = voices.speaker_pool({"flite": 5}, 3, inv, "plain")
    wide = voices.speaker_pool({"flite": 5}, 3, inv, "wide")
    for p, w in zip(plain, wide, strict=True):
        assert (p.voice, p.stretch, p.f0, p.cents, p.level_db) == (w.voice, w.stretch, w.f0,
                                                                    w.cents, w.level_db)
        assert w.hash != p.hash
        assert 0.8 <= w.warp <= 1.25 and w.channel
    assert len({w.carrier for w in wide}) > 1
