"""Speaker and channel diversity for ``kwsq synth --diversity wide``.

Models trained on a few speech engines learn the engines, not the words (the cross-family
test, ``kwsq generalize``, shows it). The transforms here vary what real recordings vary
and the engines do not:

* vocal-tract length: the spectral envelope (formants) is scaled in frequency while the
  pitch harmonics stay where they are, as a longer or shorter vocal tract would do;
* the room: a shoebox room simulated with pyroomacoustics (image source method,
  wall absorption from a target RT60 by Sabine's formula), not an echo made by hand;
* the microphone and channel: band limits, a peaking EQ and a spectral tilt (audiomentations'
  filters with fixed parameters), automatic gain control and clipping;
* source-filter voice conversion (``kwsq synth --diversity people``): the WORLD vocoder
  (Morise, Yokomori and Ozawa, "WORLD: a vocoder-based high-quality speech synthesis system
  for real-time applications") splits a real voice into F0, spectral envelope and
  aperiodicity; the envelope and aperiodicity are warped in frequency (consonant noise
  bands move with the formants: the "f" of one person lands where another's would be), F0
  is moved and its contour widened or flattened, and aperiodicity is raised (breathiness).
  One recorded person gives many synthetic speakers whose consonant spectra differ.

Every function is deterministic given its parameters, so a speaker (whose parameters live
in :class:`pipeline.corpus.voices.Speaker`) always sounds the same.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from scipy import signal

SAMPLE_RATE = 16000


def warp_formants(audio: np.ndarray, factor: float, rate: int = SAMPLE_RATE,
                  lifter_ms: float = 2.0) -> np.ndarray:
    """Scale the spectral envelope by ``factor`` in frequency, keeping the pitch.

    Per 32 ms frame, the log-magnitude spectrum is split by cepstral liftering into an
    envelope (quefrencies below ``lifter_ms``, under any voice's pitch period) and a fine
    structure (harmonics); the envelope is resampled at ``f / factor`` and recombined with
    the unchanged fine structure and phase. ``factor > 1`` raises the formants (a shorter
    vocal tract), ``< 1`` lowers them.
    """
    if factor == 1.0 or audio.size == 0:
        return audio
    nper = 512
    _, _, spec = signal.stft(audio.astype(np.float64), fs=rate, nperseg=nper,
                             noverlap=nper * 3 // 4, boundary="even")
    mag = np.abs(spec) + 1e-9
    logmag = np.log(mag)
    cep = np.fft.irfft(logmag, axis=0)
    cut = max(2, int(lifter_ms * rate / 1000))
    lifter = np.zeros(cep.shape[0])
    lifter[:cut] = 1.0
    lifter[-cut + 1:] = 1.0
    env = np.fft.rfft(cep * lifter[:, None], axis=0).real[: logmag.shape[0]]
    bins = np.arange(logmag.shape[0], dtype=np.float64)
    src = np.clip(bins / factor, 0, logmag.shape[0] - 1)
    warped = np.stack([np.interp(src, bins, env[:, t]) for t in range(env.shape[1])], axis=1)
    new = spec * np.exp(warped - env)
    _, out = signal.istft(new, fs=rate, nperseg=nper, noverlap=nper * 3 // 4, boundary=True)
    return _like(out, audio)


def _like(out: np.ndarray, audio: np.ndarray) -> np.ndarray:
    """A resynthesis ``out`` cut or zero-padded to ``audio``'s length and scaled to its peak,
    as float32: a conversion changes the voice, not the clip's length or level."""
    out = out[: audio.size]
    if out.size < audio.size:
        out = np.pad(out, (0, audio.size - out.size))
    peak_in, peak_out = np.max(np.abs(audio)), np.max(np.abs(out))
    if peak_out > 0:
        out = out * (peak_in / peak_out)
    return out.astype(np.float32)


WORLD_FRAME_MS = 5.0
WORLD_KEYS = ("breath", "f0_range", "f0_ratio", "noise_warp", "warp")


def _world_analysis(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WORLD's analysis of a clip (F0 by DIO refined by StoneMask, CheapTrick envelope, D4C
    aperiodicity) at WORLD_FRAME_MS: what the two re-syntheses below start from."""
    import pyworld

    x = audio.astype(np.float64)
    f0, times = pyworld.dio(x, rate, frame_period=WORLD_FRAME_MS)
    f0 = pyworld.stonemask(x, f0, times, rate)
    return f0, pyworld.cheaptrick(x, f0, times, rate), pyworld.d4c(x, f0, times, rate)


def world_convert(audio: np.ndarray, params: dict[str, float], rate: int = SAMPLE_RATE
                  ) -> np.ndarray:
    """Another speaker's version of ``audio`` by WORLD analysis, modification, resynthesis.

    ``params`` (all optional, neutral values in brackets): ``warp`` [1.0] scales the spectral
    envelope and the aperiodicity in frequency (``> 1`` moves formants and fricative noise
    up, as a shorter vocal tract would); ``noise_warp`` [``warp``] is the factor of the
    unvoiced frames alone (fricatives, bursts, aspiration: where one person's "f" and
    another's "s" differ most, independent of vowel formants); ``f0_ratio`` [1.0] scales
    F0; ``f0_range`` [1.0] scales each voiced frame's log-F0 distance from the clip's mean
    (intonation wider or flatter); ``breath`` [0.0] in [0, 1) mixes that fraction of the
    periodic part into the aperiodic one (a breathier voice). Same duration and peak as the input.
    """
    bad = sorted(set(params) - set(WORLD_KEYS))
    if bad:
        raise ValueError(f"unknown WORLD conversion setting '{bad[0]}'; expected some of "
                         f"{', '.join(WORLD_KEYS)}")
    warp = float(params.get("warp", 1.0))
    noise_warp = float(params.get("noise_warp", warp))
    ratio = float(params.get("f0_ratio", 1.0))
    spread = float(params.get("f0_range", 1.0))
    breath = float(params.get("breath", 0.0))
    if warp <= 0 or noise_warp <= 0 or ratio <= 0 or spread < 0 or not 0.0 <= breath < 1.0:
        raise ValueError(f"WORLD conversion settings out of range: {params}")
    if audio.size == 0:
        return audio
    f0, sp, ap = _world_analysis(audio, rate)
    if warp != 1.0 or noise_warp != 1.0:
        bins = np.arange(sp.shape[1], dtype=np.float64)
        sources = {w: np.clip(bins / w, 0, sp.shape[1] - 1) for w in {warp, noise_warp}}
        factors = np.where(f0 > 0, warp, noise_warp)
        # interpolate the log envelope (formant peaks keep their shape)
        sp = np.exp(np.stack([np.interp(sources[w], bins, np.log(row + 1e-16))
                              for w, row in zip(factors, sp, strict=True)]))
        ap = np.stack([np.interp(sources[w], bins, row)
                       for w, row in zip(factors, ap, strict=True)])
    voiced = f0 > 0
    if voiced.any() and (ratio != 1.0 or spread != 1.0):
        logf0 = np.log(f0[voiced])
        mean = float(np.mean(logf0))
        f0 = f0.copy()
        f0[voiced] = np.exp(mean + spread * (logf0 - mean)) * ratio
    if breath:
        ap = 1.0 - (1.0 - ap) * (1.0 - breath)
    import pyworld

    y = pyworld.synthesize(f0, np.ascontiguousarray(sp), np.ascontiguousarray(ap), rate,
                           WORLD_FRAME_MS)
    return _like(y, audio)


@lru_cache(maxsize=64)
def room_impulse_response(rir: tuple[float, ...], rate: int = SAMPLE_RATE) -> np.ndarray:
    """Impulse response of a shoebox room ``(x, y, z, rt60, distance)``, simulated.

    Source and microphone positions are drawn from a hash of the parameters (so the same
    room always gives the same response): the source at mouth height, the microphone
    ``distance`` metres away at desk height, both at least 0.3 m from the walls.
    """
    import pyroomacoustics as pra

    x, y, z, rt60, dist = rir
    dims = np.array([x, y, z])
    seed = int.from_bytes(hashlib.sha1(repr(rir).encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    try:
        absorption, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError:  # RT60 too short for this room by Sabine: the driest it allows
        absorption, max_order = 0.99, 3
    # Image sources to order 15 give the early reflections (cheap: ~50 ms a room; the full
    # order Sabine asks for costs seconds); the late, diffuse part is added below.
    max_order = min(int(max_order), 15)
    room = pra.ShoeBox(dims, fs=rate, materials=pra.Material(absorption),
                       max_order=max_order)
    margin = 0.3
    src = np.array([rng.uniform(margin, x - margin), rng.uniform(margin, y - margin),
                    rng.uniform(1.4, min(1.8, z - margin))])
    angle = rng.uniform(0, 2 * np.pi)
    mic = src + dist * np.array([np.cos(angle), np.sin(angle), 0.0])
    mic[:2] = np.clip(mic[:2], margin, dims[:2] - margin)
    mic[2] = min(0.9, z - margin)
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    h = _diffuse_tail(np.asarray(room.rir[0][0], np.float64), rt60, rate, rng)
    return (h / (np.max(np.abs(h)) + 1e-12)).astype(np.float32)


def _diffuse_tail(h: np.ndarray, rt60: float, rate: int, rng: np.random.Generator
                  ) -> np.ndarray:
    """Continue an image-source response with an exponentially decaying noise tail.

    A truncated image-source model runs out of reflections and decays too fast. Past 60 %
    of its length the response is replaced (20 ms cross-fade) by Gaussian noise decaying
    by 60 dB per ``rt60`` seconds, scaled to the energy the response had there: the usual
    hybrid of early reflections and a statistical late reverberation.
    """
    t_mix = int(0.6 * h.size)
    win = max(1, rate // 100)
    if t_mix <= win:
        return h
    level = np.sqrt(np.mean(h[t_mix - win : t_mix + win] ** 2))
    length = max(h.size, int(1.2 * rt60 * rate) + t_mix)
    tail = rng.standard_normal(length - t_mix) * level
    tail *= np.exp(-6.91 * np.arange(tail.size) / (rt60 * rate))
    out = np.zeros(length)
    out[: h.size] = h
    fade = min(win * 2, tail.size, h.size - t_mix)
    ramp = np.linspace(0.0, 1.0, fade)
    out[t_mix : t_mix + fade] = h[t_mix : t_mix + fade] * (1 - ramp) + tail[:fade] * ramp
    out[t_mix + fade :] = tail[fade:]
    return out


def apply_room(audio: np.ndarray, rir: tuple[float, ...], rate: int = SAMPLE_RATE
               ) -> np.ndarray:
    """Reverberant version of ``audio`` (same peak); the tail past the input is kept."""
    if not rir or audio.size == 0:
        return audio
    h = room_impulse_response(tuple(rir), rate)
    wet = signal.fftconvolve(audio.astype(np.float64), h)
    # drop the direct-path delay so the word does not start later than the dry one
    start = int(np.argmax(np.abs(h)))
    wet = wet[start:]
    peak_in, peak_out = np.max(np.abs(audio)), np.max(np.abs(wet))
    return (wet * (peak_in / peak_out if peak_out > 0 else 0)).astype(np.float32)


def agc(audio: np.ndarray, compression_db: float, rate: int = SAMPLE_RATE,
        window_ms: float = 40.0) -> np.ndarray:
    """Automatic gain control: the short-time level is pulled towards the loudest level,
    reducing the dynamic range by up to ``compression_db`` (quiet parts, noise included,
    come up as a phone's AGC makes them)."""
    if audio.size == 0 or compression_db <= 0:
        return audio
    n = max(1, int(window_ms * rate / 1000))
    power = np.convolve(audio.astype(np.float64) ** 2, np.ones(n) / n, mode="same")
    level_db = 10 * np.log10(power + 1e-12)
    top = np.max(level_db)
    boost = np.clip(top - level_db, 0.0, compression_db)
    # a slow gain: smooth the boost so the AGC does not follow single periods
    boost = np.convolve(boost, np.ones(4 * n) / (4 * n), mode="same")
    out = audio * 10 ** (boost / 20)
    peak_in, peak_out = np.max(np.abs(audio)), np.max(np.abs(out))
    return (out * (peak_in / peak_out if peak_out > 0 else 0)).astype(np.float32)


def colour_channel(audio: np.ndarray, channel: dict[str, float], rate: int = SAMPLE_RATE
                   ) -> np.ndarray:
    """A microphone and channel: band limits, peaking EQ, tilt, AGC, clipping (in order).

    The filters are audiomentations' biquads with every random range pinned to the
    speaker's value, so the colouring is the same for every clip of the speaker.
    """
    if not channel or audio.size == 0:
        return audio
    import audiomentations as A

    x = audio.astype(np.float32)
    steps = []
    hp = channel.get("highpass_hz", 20.0)
    if hp > 20.0:
        steps.append(A.HighPassFilter(min_cutoff_freq=hp, max_cutoff_freq=hp, min_rolloff=12,
                                      max_rolloff=12, p=1.0))
    lp = channel.get("lowpass_hz", rate / 2)
    if lp < rate / 2 - 200:
        steps.append(A.LowPassFilter(min_cutoff_freq=lp, max_cutoff_freq=lp, min_rolloff=24,
                                     max_rolloff=24, p=1.0))
    if channel.get("peak_db", 0.0):
        f, g = channel["peak_hz"], channel["peak_db"]
        steps.append(A.PeakingFilter(min_center_freq=f, max_center_freq=f, min_gain_db=g,
                                     max_gain_db=g, min_q=1.0, max_q=1.0, p=1.0))
    if channel.get("tilt_db", 0.0):
        g = channel["tilt_db"]
        steps.append(A.HighShelfFilter(min_center_freq=1000.0, max_center_freq=1000.0,
                                       min_gain_db=g, max_gain_db=g, min_q=0.5, max_q=0.5,
                                       p=1.0))
    peak = float(np.max(np.abs(x)))
    for step in steps:
        x = step(samples=x, sample_rate=rate)
    if "agc" in channel:
        x = agc(x, channel["agc"], rate)
    if "clip" in channel:
        limit = channel["clip"] * float(np.max(np.abs(x)))
        x = np.clip(x, -limit, limit)
    out_peak = float(np.max(np.abs(x)))
    if out_peak > 0:
        x = x * (peak / out_peak)
    return np.asarray(x, np.float32)


FORMANT_KEYS = ("f0_range", "f0_ratio", "jitter", "noise_tilt", "noise_warp", "order", "sharpen",
                "tilt", "warp")


def formant_resynth(audio: np.ndarray, params: dict[str, float], rate: int = SAMPLE_RATE,
                    seed: int = 0) -> np.ndarray:
    """The same word re-synthesized the way a formant synthesizer makes speech.

    Formant synthesizers (espeak-ng) build a voice from a few smooth resonances driven by a
    regular sum of harmonics, with a stylized pitch contour, and shape noise for the
    consonants; concatenative and parametric voices keep a real person's fine spectral
    detail and irregularities. A model that learned only the latter hears the former as
    another word. This keeps what the word is (its timing, its voicing, its formant tracks,
    its fricative bands) and replaces how the engine rendered it:

    * analysis: WORLD (F0, spectral envelope, aperiodicity; see :func:`world_convert`);
    * envelope: cepstrally smoothed to ``order`` coefficients [20] (formant-like broad
      peaks, no per-person detail), the peaks' contrast scaled by ``sharpen`` [1.0] (the
      cepstral coefficients above the tilt multiplied by it), a tilt of ``tilt`` dB per
      octave above 500 Hz [0.0] (and ``noise_tilt`` [0.0] more on the aperiodic part:
      brighter or duller fricatives), warped in frequency by ``warp`` [1.0], the aperiodic
      part by ``noise_warp`` [1.0] more (a formant synthesizer's fricatives and bursts sit
      higher than a person's: espeak-ng's "ft" of "left" has half its energy above 4 kHz);
    * pitch: log-F0 smoothed over 60 ms (no micro-prosody), its range about the clip mean
      scaled by ``f0_range`` [1.0] and by ``f0_ratio`` [1.0], then frame-to-frame
      ``jitter`` [0.0] (relative standard deviation);
    * voiced part: additive synthesis, one sinusoid per harmonic of the new F0 with the
      amplitude the smoothed periodic envelope gives it there (the way espeak-ng's wave
      generator sums harmonics); unvoiced part: white noise shaped frame by frame (5 ms
      hop STFT) by the smoothed aperiodic envelope. The two are scaled so that each has
      the envelope's power spectral density.

    Written here because no library does it: WORLD's own synthesizer (pyworld.synthesize)
    uses minimum-phase pulses with the full envelope, and speech libraries on PyPI
    (librosa, pyworld, audiomentations) offer no harmonic-plus-noise re-synthesis from a
    smoothed envelope. Deterministic for (audio, params, seed); same length and peak as
    the input.
    """
    bad = sorted(set(params) - set(FORMANT_KEYS))
    if bad:
        raise ValueError(f"unknown formant re-synthesis setting '{bad[0]}'; expected some "
                         f"of {', '.join(FORMANT_KEYS)}")
    order = int(params.get("order", 20))
    sharpen = float(params.get("sharpen", 1.0))
    tilt = float(params.get("tilt", 0.0))
    noise_tilt = float(params.get("noise_tilt", 0.0))
    noise_warp = float(params.get("noise_warp", 1.0))
    warp = float(params.get("warp", 1.0))
    ratio = float(params.get("f0_ratio", 1.0))
    spread = float(params.get("f0_range", 1.0))
    jitter = float(params.get("jitter", 0.0))
    if (order < 4 or sharpen <= 0 or warp <= 0 or noise_warp <= 0 or ratio <= 0 or spread < 0
            or not 0.0 <= jitter < 0.2 or abs(tilt) > 12 or abs(noise_tilt) > 12):
        raise ValueError(f"formant re-synthesis settings out of range: {params}")
    if audio.size == 0:
        return audio
    f0, sp, ap = _world_analysis(audio, rate)
    n_bins = sp.shape[1]
    freqs = np.arange(n_bins) * (rate / 2) / (n_bins - 1)
    env = _smooth_envelope(np.log(sp + 1e-16), order, sharpen)
    octaves = np.log2(np.maximum(freqs, 500.0) / 500.0)
    env = env + (tilt * octaves * np.log(10) / 10)[None, :]  # dB of power -> natural log
    if warp != 1.0:
        src = np.clip(np.arange(n_bins) / warp, 0, n_bins - 1)
        env = np.stack([np.interp(src, np.arange(n_bins), row) for row in env])
        ap = np.stack([np.interp(src, np.arange(n_bins), row) for row in ap])
    power = np.exp(env)
    voiced = f0 > 0
    rng = np.random.default_rng(seed)
    f0 = _stylized_f0(f0, voiced, spread, ratio, jitter, rng)
    n = audio.size
    t_frames = np.arange(f0.size) * WORLD_FRAME_MS / 1000
    t = np.arange(n) / rate
    periodic = power * (1.0 - ap) * voiced[:, None]
    # voiced: sum of harmonics; A_k = 2 sqrt(S(k f0) f0 / rate) gives the harmonics the
    # power density S that unit white noise filtered by sqrt(S) has (both relative to rate/2)
    f0_t = np.interp(t, t_frames, f0)
    phase = 2 * np.pi * np.cumsum(f0_t) / rate
    k_max = int((rate / 2 - 200) / max(float(np.min(f0)), 40.0))
    fk = f0[:, None] * np.arange(1, k_max + 1)[None, :]
    amp = np.stack([np.interp(fk[i], freqs, periodic[i]) for i in range(f0.size)])
    amp = 2 * np.sqrt(amp * f0[:, None] / rate) * (fk < rate / 2 - 200)
    y = np.zeros(n)
    for k in range(k_max):
        if amp[:, k].any():
            y += np.interp(t, t_frames, amp[:, k]) * np.sin((k + 1) * phase)
    # unvoiced: white noise shaped by the aperiodic envelope (5 ms hop, 32 ms window)
    hop, nper = int(rate * WORLD_FRAME_MS / 1000), 512
    noise = rng.standard_normal(n)
    _, tt, spec = signal.stft(noise, fs=rate, nperseg=nper, noverlap=nper - hop)
    fbins = np.arange(spec.shape[0]) * rate / nper
    aper = power * ap * (10 ** (noise_tilt * octaves / 10))[None, :]
    if noise_warp != 1.0:
        src = np.clip(np.arange(n_bins) / noise_warp, 0, n_bins - 1)
        aper = np.stack([np.interp(src, np.arange(n_bins), row) for row in aper])
    gain = np.stack([np.interp(fbins, freqs, row) for row in aper])  # frames x bins
    gain_t = np.stack([np.interp(tt, t_frames, gain[:, b]) for b in range(gain.shape[1])])
    _, shaped = signal.istft(spec * np.sqrt(gain_t), fs=rate, nperseg=nper,
                             noverlap=nper - hop)
    y += shaped[:n] if shaped.size >= n else np.pad(shaped, (0, n - shaped.size))
    return _like(y, audio)


def _smooth_envelope(logsp: np.ndarray, order: int, sharpen: float) -> np.ndarray:
    """Each frame's log power envelope kept to its first ``order`` cepstral coefficients;
    coefficients 2.. (peak contrast, not level or overall slope) scaled by ``sharpen``."""
    cep = np.fft.irfft(logsp, axis=1)
    lifter = np.zeros(cep.shape[1])
    lifter[:order] = 1.0
    lifter[-order + 1:] = 1.0
    lifter[2:order] *= sharpen
    lifter[-order + 1:-1] *= sharpen
    return np.fft.rfft(cep * lifter[None, :], axis=1).real[:, : logsp.shape[1]]


def _stylized_f0(f0: np.ndarray, voiced: np.ndarray, spread: float, ratio: float,
                 jitter: float, rng: np.random.Generator) -> np.ndarray:
    """A rule-synthesizer-like pitch track: every frame gets an F0 (voiced frames' log-F0
    smoothed over 60 ms, interpolated through the unvoiced ones), range and level scaled,
    with frame-to-frame jitter."""
    out = np.full(f0.shape, 100.0 * ratio)
    if not voiced.any():
        return out
    idx = np.arange(f0.size)
    logf0 = np.interp(idx, idx[voiced], np.log(f0[voiced]))
    width = max(1, int(60 / WORLD_FRAME_MS))
    pad = np.pad(logf0, (width // 2, width - 1 - width // 2), mode="edge")
    logf0 = np.convolve(pad, np.ones(width) / width, mode="valid")
    mean = float(np.mean(logf0[voiced]))
    logf0 = mean + spread * (logf0 - mean) + np.log(ratio)
    if jitter:
        logf0 = logf0 + jitter * rng.standard_normal(logf0.size)
    return np.exp(logf0)
