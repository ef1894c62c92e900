"""The C feature front-end (``tflm_port/frontend``) on the host, against the Python features.

A deployed model sees the features the chip computes, not the ones it was trained on, so
the two must agree. This module builds the front-end's host tool (``fe-dump``) for a
``frontend.h``, runs both of its paths (float and fixed point) on int16 audio, and measures
them against ``pipeline.data.features``: absolute differences per feature, and the accuracy
of the run's .tflite fed by each front-end on the test split.

Per-clip normalization (``FeatureConfig.normalize``) happens over the model input's window
(``kwsq_fe_norm``, see ``pipeline.evaluate.streaming.Windowing``); ``fe-dump`` also writes
every window's means and normalized model input, and :func:`norm_input_q20` is the
bit-exact numpy twin of the fixed-point path's normalization and quantization.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import KwsqError
from pipeline.paths import PORT_DIR

FRONTEND_DIR = PORT_DIR / "frontend"
BUILD_DIR = PORT_DIR / "build" / "host" / "frontend"
PATHS = ("float", "fixed")


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1) as the int16 samples a microphone or WAV file delivers.

    The WAV reader divides by 32768, so WAV audio comes back unchanged.
    """
    return np.clip(np.round(np.asarray(audio, np.float64) * 32768.0), -32768, 32767).astype("<i2")


def build_dump(header: str | Path) -> Path:
    """Build (or reuse) ``fe-dump`` for one ``frontend.h``; its path."""
    header = Path(header)
    if not header.is_file():
        raise KwsqError(f"front-end header not found: {header}")
    key = hashlib.sha256(header.read_bytes()).hexdigest()[:16]
    out = BUILD_DIR / f"dump-{key}"
    proc = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(FRONTEND_DIR), "dump",
         f"PARAMS={header.resolve()}", f"OUT={out}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise KwsqError(f"building the front-end for {header} failed:\n"
                        + "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-12:]))
    return out / "fe-dump"


@dataclass
class CFeatures:
    """Frames from both paths: ``[clips, frames, coeffs]`` (or ``[frames, coeffs]``), and
    the normalized model input of every full window (``[clips, windows, ...]`` or
    ``[windows, ...]``; a clip of one window's frames has exactly one)."""

    float_path: np.ndarray  # float32
    fixed_path: np.ndarray  # float64 from Q20
    quant_float: np.ndarray  # model input type, from the float path
    quant_fixed: np.ndarray  # model input type, from the fixed path
    means_float: np.ndarray  # [..., windows, coeffs] float32: each window's means
    means_q20: np.ndarray  # [..., windows, coeffs] int32 (Q20)
    input_float: np.ndarray  # [..., windows, input frames, coeffs] model input type
    input_fixed: np.ndarray

    @property
    def q20(self) -> np.ndarray:
        """The fixed path's frames as the int32 Q20 values it computed."""
        return np.round(self.fixed_path * 2.0**20).astype(np.int64)

    def inputs(self, path: str) -> np.ndarray:
        return self.input_float if path == "float" else self.input_fixed

    def features(self, path: str) -> np.ndarray:
        return self.float_path if path == "float" else self.fixed_path

    def quantized(self, path: str) -> np.ndarray:
        return self.quant_float if path == "float" else self.quant_fixed


def header_info(header: str | Path) -> dict[str, int]:
    """The ``#define KWSQ_FRONTEND_*`` numbers of a ``frontend.h`` (lower-case keys)."""
    out = {}
    for line in Path(header).read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "#define" and parts[1].startswith("KWSQ_FRONTEND_"):
            try:
                out[parts[1][len("KWSQ_FRONTEND_"):].lower()] = int(parts[2])
            except ValueError:
                pass
    return out


def run_dump(header: str | Path, audio: np.ndarray, input_dtype: np.dtype) -> CFeatures:
    """Both paths of the C front-end on int16 audio: ``[clips, samples]`` clips (each
    from a fresh state) or one ``[samples]`` stream."""
    exe = build_dump(header)
    info = header_info(header)
    coeffs = info["num_coeffs"]
    frames_in = info["input_frames"]
    audio = np.asarray(audio)
    if audio.dtype != np.int16:
        raise KwsqError("the C front-end takes int16 audio (use to_int16)")
    clips = audio.ndim == 2
    dtype = np.dtype(input_dtype)
    rec = np.dtype([("f", "<f4", coeffs), ("q", "<i4", coeffs), ("a", dtype, coeffs),
                    ("b", dtype, coeffs)])
    wrec = np.dtype([("mf", "<f4", coeffs), ("mq", "<i4", coeffs),
                     ("a", dtype, (frames_in, coeffs)), ("b", dtype, (frames_in, coeffs))])
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "audio.raw", Path(tmp) / "frames.bin"
        wout = Path(tmp) / "windows.bin"
        audio.astype("<i2").tofile(raw)
        cmd = [str(exe), str(raw), str(out), str(audio.shape[1] if clips else 0), str(wout)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise KwsqError(f"fe-dump failed: {proc.stderr.strip()}")
        d = np.fromfile(out, rec)
        w = np.fromfile(wout, wrec)
    shape = (audio.shape[0], -1, coeffs) if clips else (-1, coeffs)
    lead = (audio.shape[0], -1) if clips else (-1,)
    return CFeatures(d["f"].reshape(shape), (d["q"] / 2.0**20).reshape(shape),
                     d["a"].reshape(shape), d["b"].reshape(shape),
                     w["mf"].reshape(*lead, coeffs), w["mq"].reshape(*lead, coeffs),
                     w["a"].reshape(*lead, frames_in, coeffs),
                     w["b"].reshape(*lead, frames_in, coeffs))


def _round_div(num: np.ndarray, den: int) -> np.ndarray:
    """round(num / den) for int64 ``num`` and ``den`` > 0, halves away from zero."""
    mag = (np.abs(num) + den // 2) // den
    return np.where(num < 0, -mag, mag)


def apply_scale(x: np.ndarray, mult: int, shift: int) -> np.ndarray:
    """``kwsq_fe__apply_scale``: ``x * mult >> shift`` rounded half away from zero,
    saturated to int32 (int64 numpy: |x|, |mult| < 2^31 so the product fits)."""
    prod = np.asarray(x, np.int64) * np.int64(mult)
    half = np.int64(1 << (shift - 1)) if shift > 0 else np.int64(0)
    r = np.where(prod >= 0, (prod + half) >> shift, -((-prod + half) >> shift))
    return np.clip(r, -2**31, 2**31 - 1)


def quantize_q20(x_q20: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """``kwsq_fe_quantize_q20`` on int32 Q20 values: the model input (int8 / int16 /
    float32) as the fixed-point path computes it."""
    x = np.asarray(x_q20, np.int64)
    if params["input_type"] == 0:
        return (x.astype(np.float32) * np.float32(2.0**-20)).astype(np.float32)
    q = apply_scale(x, params["mult"], params["shift"])
    q = np.clip(q, -2**31 + 32768, 2**31 - 1 - 32768) + params["zero_point"]
    lo, hi, dt = (-128, 127, np.int8) if params["input_type"] == 9 else (-32768, 32767, np.int16)
    return np.clip(q, lo, hi).astype(dt)


def _square_q20(x: np.ndarray) -> np.ndarray:
    return (x * x + (1 << 19)) >> 20


def norm_input_q20(window_q20: np.ndarray, mode: str, offset: int, stride: int, frames: int,
                   params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The fixed-point path's normalized model input of one window, in numpy: the reference
    ``kwsq_fe_norm_input_q20`` must equal bit for bit. ``window_q20`` ``[window frames,
    coeffs]`` int Q20 -> (means ``[coeffs]`` int64, input ``[frames, coeffs]``). Mean =
    round(sum / n) with halves away from zero (sums exact in int64), then ``x - mean``
    saturated to int32, then :func:`quantize_q20`. "channel_var": var = round(sum sq(x) /
    n) - sq(mean) with sq(x) = round(x^2 / 2^20), sd = floor(sqrt(var 2^20)) floored at
    ``params["sd_floor_q20"]``, and ``(x - mean) round(2^40 / sd) / 2^20`` rounded half
    away from zero (``normalize.c``)."""
    w = np.asarray(window_q20, np.int64)
    n, coeffs = w.shape
    if mode == "fixed":
        means = np.zeros(coeffs, np.int64)
    elif mode == "channel":
        means = _round_div(w.sum(0), n)
    elif mode == "utterance":
        means = np.full(coeffs, _round_div(w.sum(), n * coeffs), np.int64)
    elif mode == "channel_var":
        means = _round_div(w.sum(0), n)
    else:
        raise KwsqError(f"the C front-end does not implement normalization '{mode}'")
    picked = w[offset : offset + (frames - 1) * stride + 1 : stride]
    x = np.clip(picked - means[None, :], -2**31, 2**31 - 1)
    if mode == "channel_var":
        import math

        var = np.maximum(_round_div(_square_q20(w).sum(0), n) - _square_q20(means), 0)
        sd = np.array([math.isqrt(int(v) << 20) if v < 1 << 43 else math.isqrt(1 << 63)
                       for v in var], np.int64)
        sd = np.maximum(sd, params["sd_floor_q20"])
        inv = ((1 << 40) + sd // 2) // sd
        mag = (np.abs(x) * inv[None, :] + (1 << 19)) >> 20
        x = np.clip(np.where(x < 0, -mag, mag), -2**31, 2**31 - 1)
    return means, quantize_q20(x, params)


def header_quant(header: str | Path) -> dict[str, Any]:
    """The model input quantization of a ``frontend.h`` (type, zero point, the Q20 scale)."""
    import re

    text = Path(header).read_text()
    kind = re.search(r"\.input_type = KWSQ_FE_INPUT_(\w+),", text).group(1)
    mult, shift = map(int, re.search(r"\.input_q20 = \{(-?\d+), (\d+)\}", text).groups())
    zp = int(re.search(r"\.input_zero_point = (-?\d+),", text).group(1))
    floor = int(re.search(r"\.norm_sd_floor_q20 = (\d+),", text).group(1))
    return {"input_type": {"FLOAT32": 0, "INT16": 7, "INT8": 9}[kind], "mult": mult,
            "shift": shift, "zero_point": zp, "sd_floor_q20": floor}


def stack_clip_inputs(frames: np.ndarray, feat_cfg: Any, clip_samples: int) -> np.ndarray:
    """Per-clip model inputs from ``[clips, frames, coeffs]``, as ``features.compute`` picks
    them (the stacked window centred in the clip, or all frames)."""
    from pipeline.data import features

    if not feat_cfg.stacked:
        return frames
    start = features.clip_window_start(feat_cfg, clip_samples)
    picked = frames[:, start : start + feat_cfg.stack_span : feat_cfg.stack_stride, :]
    return picked.reshape(picked.shape[0], -1)


def difference_stats(c: np.ndarray, py: np.ndarray) -> dict[str, float]:
    diff = np.abs(np.asarray(c, np.float64) - np.asarray(py, np.float64))
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean()),
            "per_feature_max": [float(v) for v in diff.reshape(-1, diff.shape[-1]).max(0)]}


def compare_run(run: Any, header: str | Path | None = None, split: str = "testing",
                max_clips: int = 0, log=print) -> dict[str, Any]:
    """C front-end (both paths) vs Python features on a run's split, and the accuracy of
    the run's .tflite fed by each."""
    from pipeline.data import loader
    from pipeline.data.features import FeatureConfig
    from pipeline.data.features import frames as py_frames
    from pipeline.tflite import verify

    cfg = run.read_config()
    data_cfg = loader.DataConfig.from_dict(cfg.data)
    feat_cfg = FeatureConfig.from_dict(cfg.features)
    model_path = run.tflite_path
    if not model_path.is_file():
        raise KwsqError(f"{run.path} has no model.tflite; run kwsq convert first")
    header = Path(header) if header else model_path.with_name("frontend.h")
    if not header.is_file():
        raise KwsqError(f"{header} is missing; convert the run again (kwsq convert)")
    model_bytes = model_path.read_bytes()
    spec = verify.io_spec(model_bytes)
    audio, y, _, _ = loader.load_audio(data_cfg, split)
    if max_clips:
        audio, y = audio[:max_clips], y[:max_clips]
    pcm = to_int16(audio)
    in_dtype = {9: np.int8, 7: np.int16}.get(spec.input_type, np.float32)
    log(f"frontend: {len(pcm)} {split} clips through the C front-end ({header.name})")
    c = run_dump(header, pcm, in_dtype)
    # Features of the same int16 audio in Python: the fair front-end comparison.
    ref = np.asarray(py_frames(pcm.astype(np.float32) / 32768.0, feat_cfg), np.float64)
    # The model's accuracy with the features it was evaluated on (float audio, Python).
    x_py, _ = loader.arrays(data_cfg, feat_cfg, split)
    x_py = x_py[: len(y)]
    result: dict[str, Any] = {"clips": int(len(y)), "split": split, "kind": feat_cfg.kind,
                              "num_coeffs": feat_cfg.coefficients}

    def accuracy(inputs: np.ndarray) -> tuple[float, np.ndarray]:
        out = verify.run_litert(model_bytes, inputs)
        pred = np.argmax(out.reshape(len(out), -1), axis=1)
        return float(np.mean(pred == y) * 100.0), pred

    acc_py, pred_py = accuracy(verify.quantize_input(x_py, spec))
    result["accuracy_python"] = acc_py
    normalized = feat_cfg.normalize != "fixed"
    if normalized:
        from pipeline.data.features import compute_numpy

        # the normalized model input of the same int16 audio in Python
        x_ref = compute_numpy(pcm.astype(np.float32) / 32768.0, feat_cfg)
        q_ref = verify.quantize_input(x_ref, spec)
    for path in PATHS:
        stats = difference_stats(c.features(path), ref)
        q_py = verify.quantize_input(ref.astype(np.float32), spec)
        stats["quantized_mismatch"] = float(np.mean(c.quantized(path) != q_py))
        if normalized:
            # one window per clip: the clip's frames, normalized over the clip
            inputs = c.inputs(path)[:, 0].reshape((len(y), *x_py.shape[1:]))
            if spec.input_type == 0:
                stats["normalized_input_max_abs"] = float(np.abs(inputs - q_ref).max())
            else:
                stats["normalized_input_mismatch"] = float(np.mean(inputs != q_ref))
        elif spec.input_type == 0:
            inputs = stack_clip_inputs(c.features(path).astype(np.float32), feat_cfg,
                                       data_cfg.clip_samples)
        else:
            inputs = stack_clip_inputs(c.quantized(path), feat_cfg, data_cfg.clip_samples)
        acc, pred = accuracy(inputs.reshape((len(y), *x_py.shape[1:])))
        stats["accuracy"] = acc
        stats["argmax_agreement"] = float(np.mean(pred == pred_py) * 100.0)
        result[path] = stats
        log(f"frontend: {path:5s} path: max |C - Python| {stats['max_abs']:.3g}, mean "
            f"{stats['mean_abs']:.3g}; quantized inputs differing "
            f"{stats['quantized_mismatch']:.4%};"
            + (f" normalized inputs differing {stats['normalized_input_mismatch']:.4%};"
               if "normalized_input_mismatch" in stats else "")
            + f" accuracy {acc:.2f}% vs {acc_py:.2f}% with Python features "
            f"(argmax agreement {stats['argmax_agreement']:.2f}%)")
    return result
