"""Per-window feature normalization in the C front-end (``kwsq_fe_norm``) against Python.

Training subtracts each clip's mean from its features (``FeatureConfig.normalize``); on a
stream the device normalizes each model input over its window, the frames training
averaged over, with running sums (``pipeline.evaluate.streaming.Windowing``). Held here:
the fixed-point path's normalized model input equals its numpy twin
(``pipeline.device.frontend.norm_input_q20``) bit for bit, on clips and on a stream whose
ring wraps many times; the float path's equals the training features and the streaming
evaluator within stated bounds; mode "fixed" gives the bits of the front-end before
normalization existed; a mode the C side lacks is refused, never ignored.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.data import features as F
from pipeline.device import frontend as fe
from pipeline.errors import KwsqError
from pipeline.evaluate import streaming
from pipeline.tflite import export_frontend as ex

pytestmark = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None,
                                reason="needs a host C compiler and make")

MODES = ("fixed", "utterance", "channel", "channel_var")
KINDS = ("lfbe", "mfcc")
QUANT = {"lfbe": ex.InputQuant(9, 0.04, -7), "mfcc": ex.InputQuant(9, 0.9, -7)}
# Share of int8 model inputs that may differ by one step from the Python features' (a value
# within the front-end's error of a rounding edge; never more than one step): float path /
# fixed path, measured on the tiny corpus (clips and stream) at most 0.0006 % / 0.0098 %
# for fixed/utterance/channel and 0.0017 % / 0.048 % for channel_var (its division by
# the deviation magnifies a feature's error); bounds with margin.
MISMATCH = {"float": 1e-4, "fixed": 2e-3}


def _config(kind: str, mode: str) -> F.FeatureConfig:
    if kind == "lfbe":
        return F.FeatureConfig(kind="lfbe", num_bins=20, left_context=20, right_context=10,
                               stack_stride=3, normalize=mode)
    return F.FeatureConfig(kind="mfcc", num_bins=40, window_ms=30.0, hop_ms=20.0,
                           num_mfcc=10, normalize=mode)


def _header(tmp_path: Path, cfg: F.FeatureConfig, quant: ex.InputQuant) -> Path:
    path = tmp_path / f"frontend_{cfg.kind}_{cfg.normalize}.h"
    w = ex.input_window(cfg)
    path.write_text(ex.header_text(cfg, quant, w.frames, w.stride, window=w))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> np.ndarray:
    """The tiny corpus's word clips (int16, 1 s)."""
    from pipeline.corpus.synth import synthesize
    from pipeline.data.audio import read_wav

    root = tmp_path_factory.mktemp("fe_norm_corpus") / "tiny"
    synthesize(root, size="tiny", seed=0, progress=False)
    files = [f for f in sorted(root.glob("*/*.wav")) if not f.parent.name.startswith("_")]
    return fe.to_int16(np.stack([np.pad(read_wav(f)[0], (0, 16000))[:16000] for f in files]))


def _signal(seconds: float, seed: int = 5) -> np.ndarray:
    """Seeded noise with gated chirps: level and spectrum move, so means move."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000) + 123
    t = np.arange(n) / 16000
    gate = np.sin(2 * np.pi * 0.7 * t) > 0
    x = 0.02 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * gate
    return fe.to_int16(x)


def _q20_reference(c: fe.CFeatures, frames_q20: np.ndarray, header: Path, cfg, starts):
    """numpy's normalized input of the windows starting at ``starts``."""
    w = ex.input_window(cfg)
    params = fe.header_quant(header)
    out = [fe.norm_input_q20(frames_q20[s : s + w.window_frames], cfg.normalize, w.offset,
                             w.stride, w.frames, params) for s in starts]
    return np.stack([m for m, _ in out]), np.stack([x for _, x in out])


# Golden: sha256 of the fixed-point path's frames (int32 Q20) and quantized bytes for
# _signal(3) with the headers below, computed with the front-end before normalization was
# added (main at 1c6b693). Integer arithmetic only, so the same on every compiler.
GOLDEN_Q20 = {
    "lfbe": "3671ef4d3c0bd79772788b93eeb311a4bdf97e8c769443d590cb14e69e002f00",
    "mfcc": "2b8c82aad58bcbdd88b79f2881220573fea3648f8020743a0c1b2cb4be66bd00",
}


@pytest.mark.parametrize("kind", KINDS)
def test_mode_fixed_gives_the_bits_of_the_front_end_before_normalization(tmp_path, kind):
    cfg = _config(kind, "fixed")
    c = fe.run_dump(_header(tmp_path, cfg, QUANT[kind]), _signal(3), np.int8)
    digest = hashlib.sha256(c.q20.astype("<i4").tobytes() + c.quant_fixed.tobytes())
    assert digest.hexdigest() == GOLDEN_Q20[kind]
    # and its windows are the quantized frames themselves, stacked
    w = ex.input_window(cfg)
    assert w.offset == 0 and w.window_frames == (w.frames - 1) * w.stride + 1
    for path in fe.PATHS:
        q = c.quantized(path)
        idx = np.arange(len(c.inputs(path)))[:, None] + w.stride * np.arange(w.frames)
        assert np.array_equal(c.inputs(path), q[idx])
    assert not c.means_q20.any() and not c.means_float.any()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_clip_inputs_match_the_training_features(clips, tmp_path, kind, mode):
    """One window per clip for a normalized config (its frames are the clip's): the model
    input the chip computes from each clip is the one training computed from it."""
    cfg = _config(kind, mode)
    header = _header(tmp_path, cfg, QUANT[kind])
    c = fe.run_dump(header, clips, np.int8)
    w = ex.input_window(cfg)
    n = cfg.num_frames(16000)
    assert c.inputs("float").shape[1] == n - w.window_frames + 1
    # fixed point: bit for bit its numpy twin, on every window of every clip
    starts = np.arange(n - w.window_frames + 1)
    for i in range(len(clips)):
        means, ref = _q20_reference(c, c.q20[i], header, cfg, starts)
        assert np.array_equal(c.input_fixed[i], ref)
        assert np.array_equal(c.means_q20[i], means)
    # both paths against the training features of the same audio (features.compute)
    train = F.compute_numpy(clips.astype(np.float32) / 32768.0, cfg)
    q = QUANT[kind]
    q_train = np.clip(np.round(train / np.float32(q.scale)) + q.zero_point, -128, 127)
    first = F.clip_window_start(cfg) - w.offset if cfg.stacked else 0
    for path in fe.PATHS:
        got = c.inputs(path)[:, first].reshape(q_train.shape).astype(np.int64)
        assert np.abs(got - q_train).max() <= 1, path
        assert np.mean(got != q_train) < MISMATCH[path], (path, np.mean(got != q_train))
    # the float path's means are those of its own frames
    if mode != "fixed":
        f64 = c.float_path.astype(np.float64)
        ref_means = f64[:, : w.window_frames].mean(1)
        if mode == "utterance":
            ref_means = np.repeat(ref_means.mean(1, keepdims=True), cfg.coefficients, 1)
        assert np.abs(c.means_float[:, 0] - ref_means).max() < 2e-5


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ("utterance", "channel", "channel_var"))
def test_a_stream_gives_the_streaming_evaluators_inputs(clips, tmp_path, kind, mode):
    """Hop by hop over 12 clips laid end to end: a window after every frame (the ring wraps
    over a dozen times), each equal to pipeline.evaluate.streaming's input of that window."""
    cfg = _config(kind, mode)
    header = _header(tmp_path, cfg, QUANT[kind])
    stream = clips[:12].reshape(-1)[: 12 * 16000 - 77]
    c = fe.run_dump(header, stream, np.int8)
    win = streaming.windowing(cfg)
    n = cfg.num_frames(stream.size)
    assert len(c.input_fixed) == n - win.span + 1
    every = np.arange(n - win.span + 1)
    means, ref = _q20_reference(c, c.q20, header, cfg, every)
    assert np.array_equal(c.input_fixed, ref)
    assert np.array_equal(c.means_q20, means)
    py_frames = streaming._frames(stream.astype(np.float32) / 32768.0, cfg)
    starts = win.starts(n)
    x = streaming.inputs(py_frames, win, starts)
    q = QUANT[kind]
    q_py = np.clip(np.round(x / np.float32(q.scale)) + q.zero_point, -128, 127)
    for path in fe.PATHS:
        got = c.inputs(path)[starts].reshape(q_py.shape).astype(np.int64)
        assert np.abs(got - q_py).max() <= 1, path
        assert np.mean(got != q_py) < MISMATCH[path], (path, np.mean(got != q_py))


@pytest.mark.parametrize("mode", ("utterance", "channel", "channel_var"))
def test_the_float_running_sums_do_not_drift(tmp_path, mode):
    """Ten minutes of audio through the MFCC front-end (29,951 windows; the 49-frame ring
    wraps 611 times): the float path's window means stay those of float64 sums over its own
    frames. Measured max error 2.6e-6 (channel) / 4.9e-7 (utterance), flat over the stream;
    without the re-summing at each wrap it grows to 3.5e-5, 4.7x its first minutes'."""
    cfg = _config("mfcc", mode)
    c = fe.run_dump(_header(tmp_path, cfg, ex.InputQuant()), _signal(600, seed=9), np.float32)
    w = ex.input_window(cfg)
    f64 = c.float_path.astype(np.float64)
    cs = np.concatenate([np.zeros((1, f64.shape[1])), np.cumsum(f64, 0)])
    ref = (cs[w.window_frames:] - cs[: -w.window_frames]) / w.window_frames
    if mode == "utterance":
        ref = np.repeat(ref.mean(1, keepdims=True), cfg.coefficients, 1)
    err = np.abs(c.means_float - ref)
    assert err.max() < 5e-6, err.max()
    k = len(err) // 6  # the last sixth no worse than the first
    assert err[-k:].max() < 1.5 * err[:k].max(), (err[:k].max(), err[-k:].max())


def test_a_mode_the_c_front_end_lacks_is_refused(tmp_path):
    """A header whose mode the C side has no code for (a newer kwsq, a hand edit) stops
    fe-dump with the reason, as kwsq_fe_init refuses it in a firmware."""
    cfg = _config("lfbe", "channel")
    header = _header(tmp_path, cfg, QUANT["lfbe"])
    text = header.read_text().replace("    .normalize = 2,", "    .normalize = 9,")
    header.write_text(text.replace("_NORMALIZE 2\n", "_NORMALIZE 9\n"))
    with pytest.raises(KwsqError, match="does not implement normalization mode 9"):
        fe.run_dump(header, _signal(1), np.int8)
    with pytest.raises(KwsqError, match="does not implement normalization 'pcen'"):
        fe.norm_input_q20(np.zeros((98, 20)), "pcen", 3, 3, 31, fe.header_quant(header))


def test_the_header_carries_the_mode_and_the_window():
    for mode, code in ex.NORMALIZE_CODES.items():
        text = ex.header_text(_config("lfbe", mode), QUANT["lfbe"], 31, 3)
        assert f"#define KWSQ_FRONTEND_NORMALIZE {code}\n" in text
        assert f"    .normalize = {code}," in text
    stacked = ex.input_window(_config("lfbe", "channel"))
    assert (stacked.frames, stacked.stride, stacked.offset, stacked.window_frames) == \
        (31, 3, F.clip_window_start(_config("lfbe", "channel")), 98)
    assert ex.input_window(_config("lfbe", "fixed")).window_frames == 91
    assert ex.input_window(_config("mfcc", "channel")) == ex.InputWindow(49, 1, 0, 49)
    with pytest.raises(KwsqError, match="compression 'pcen'"):
        ex.tables(F.FeatureConfig(kind="lfbe", compression="pcen"))
