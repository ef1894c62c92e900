"""``frontend.h``: a run's feature front-end as data for the C front-end (``tflm_port/frontend``).

A model is only as good on a chip as the features it is fed there, so the conversion step
writes, beside ``model.h``, one header holding everything the C front-end needs to compute
exactly the features the model was trained on (``pipeline.data.features``):

* the periodic Hann window, the FFT's quarter-wave cosine table and the HTK-mel filters
  as ``tf.signal`` itself computes them, stored bin-major (each FFT bin lies on at most two
  neighbouring triangles) so the C code needs no spectrum buffer;
* for MFCC the orthonormal DCT-II that ``tf.signal.mfccs_from_log_mel_spectrograms`` applies;
* the log floor and the normalization; the model input tensor's scale and zero point;
* the integer constants of the fixed-point path (scales as powers of two, multipliers with
  shifts), so a core without an FPU needs no float at all;
* the stacking the model input expects (frames per input, stride between them) and its
  window: the frames the per-clip normalization (``FeatureConfig.normalize``) averages over
  on a stream, exactly what training averaged over (``pipeline.evaluate.streaming.windowing``),
  and the normalization mode. The C side implements "fixed", "utterance", "channel" and
  "channel_var" and refuses any other mode with an error instead of feeding the model
  unnormalized inputs.

Float tables are compiled unless ``KWSQ_FE_NO_FLOAT`` is defined, fixed-point ones unless
``KWSQ_FE_NO_FIXED`` is, so a firmware carries only the tables of the path it runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.atomic import write_text
from pipeline.data.features import FeatureConfig
from pipeline.errors import KwsqError

FEATURE_FRAC_BITS = 20
LOG_FRAC_BITS = 24
MAGNITUDE_FRAC_BITS = 12
INPUT_TYPES = {0: "KWSQ_FE_INPUT_FLOAT32", 7: "KWSQ_FE_INPUT_INT16", 9: "KWSQ_FE_INPUT_INT8"}
# FeatureConfig.normalize -> the C front-end's mode number (kwsq_fe.h KWSQ_FE_NORM_*); the
# header carries every mode (-1: one the C side has no number for), and the C side refuses
# those it does not implement.
NORMALIZE_CODES = {"fixed": 0, "utterance": 1, "channel": 2, "channel_var": 3}
C_NORMALIZE = ("fixed", "utterance", "channel", "channel_var")


@dataclass(frozen=True)
class InputQuant:
    """The model's first input tensor: TFLite type number, scale, zero point."""

    type_code: int = 0
    scale: float = 1.0
    zero_point: int = 0


@dataclass
class Tables:
    """Every array of the header, float64 before rounding to each path's type."""

    window: np.ndarray  # float32, [window]
    cos: np.ndarray  # float64, [fft_length // 4 + 1]
    first_bin: int
    end_bin: int
    channel: np.ndarray  # uint16, [end_bin - first_bin]
    lo: np.ndarray  # float32 weights of filter channel[k]
    hi: np.ndarray  # float32 weights of filter channel[k] + 1
    dct: np.ndarray | None  # float64, [num_mfcc, num_bins]


def input_quant(model_bytes: bytes) -> InputQuant:
    """Type and quantization of a .tflite's first input tensor."""
    from pipeline.tflite import schema as tfs

    model = tfs.load(model_bytes)
    sg = model.subgraphs[0]
    if sg.inputs is None or len(sg.inputs) == 0:
        raise KwsqError("the model has no input tensor")
    tensor = sg.tensors[sg.inputs[0]]
    q = tfs.quant(tensor)
    if int(tensor.type) not in INPUT_TYPES:
        raise KwsqError(f"the C front-end cannot feed a {tfs.TYPE_NAMES.get(tensor.type)} "
                        "model input (float32, int16 or int8)")
    if q is None:
        return InputQuant(int(tensor.type))
    return InputQuant(int(tensor.type), float(q.scales[0]), int(q.zero_points[0]))


def tables(cfg: FeatureConfig) -> Tables:
    """The window, FFT, mel and DCT tables of a feature config (TensorFlow's own values)."""
    import tensorflow as tf

    from pipeline.data.features import mel_matrix

    if cfg.power not in (1.0, 2.0):
        raise KwsqError(f"the C front-end supports power 1 or 2, not {cfg.power}")
    if cfg.compression != "log":
        raise KwsqError(f"the C front-end computes log-mel features, not compression "
                        f"'{cfg.compression}'")
    n = int(cfg.fft_length)
    if n & (n - 1) or n < 4:
        raise KwsqError(f"the C front-end needs a power-of-two FFT length >= 4, not {n}")
    window = tf.signal.hann_window(cfg.window_samples, dtype=tf.float32).numpy()
    cos = np.cos(2.0 * np.pi * np.arange(n // 4 + 1) / n)
    mel = mel_matrix(cfg).numpy()  # [n // 2 + 1, num_bins]
    used = np.flatnonzero(np.any(mel != 0, axis=1))
    if used.size == 0:
        raise KwsqError("the mel filters are empty: check lower_hz/upper_hz")
    first, end = int(used[0]), int(used[-1]) + 1
    channel = np.zeros(end - first, np.uint16)
    lo = np.zeros(end - first, np.float32)
    hi = np.zeros(end - first, np.float32)
    for j, k in enumerate(range(first, end)):
        cols = np.flatnonzero(mel[k])
        if cols.size > 2 or (cols.size == 2 and cols[1] != cols[0] + 1):
            raise KwsqError(f"FFT bin {k} feeds mel filters {list(cols)}: the C front-end "
                            "expects at most two neighbouring filters per bin")
        if cols.size:
            channel[j] = cols[0]
            lo[j] = mel[k, cols[0]]
            hi[j] = mel[k, cols[1]] if cols.size == 2 else 0.0
    dct = None
    if cfg.kind == "mfcc":
        nb = cfg.num_bins
        k = np.arange(cfg.num_mfcc)[:, None]
        i = np.arange(nb)[None, :]
        dct = 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * nb)) / math.sqrt(2.0 * nb)
    return Tables(window, cos, first, end, channel, lo, hi, dct)


def scale_of(value: float, frac_in: int, frac_out: int = 0) -> tuple[int, int]:
    """(mult, shift) with ``x * mult >> shift`` = x * value, from Q``frac_in`` to Q``frac_out``."""
    if value == 0 or not math.isfinite(value):
        raise KwsqError(f"cannot represent the scale {value} as a multiplier")
    mant, exp = math.frexp(abs(value))  # value = mant * 2^exp, mant in [0.5, 1)
    mult = round(mant * (1 << 31))
    if mult == 1 << 31:
        mult, exp = 1 << 30, exp + 1
    shift = 31 - exp + frac_in - frac_out
    while shift < 0:  # huge values: give up precision to stay a right shift
        mult, shift = mult << 1, shift + 1
    while shift > 62:  # tiny values: fewer multiplier bits
        mult, shift = (mult + 1) >> 1, shift - 1
    if mult >= 1 << 31:
        raise KwsqError(f"the scale {value} is out of the fixed-point range")
    return (mult if value > 0 else -mult), shift


@dataclass(frozen=True)
class FixedConstants:
    input_shift: int
    mel_exponent: int
    magnitude_shift: int
    log_floor_fixed: int
    norm_offset_q24: int
    norm_scale: tuple[int, int]
    input_scale: tuple[int, int]


def fixed_constants(cfg: FeatureConfig, quant: InputQuant) -> FixedConstants:
    """The fixed-point path's scales (see tflm_port/frontend/src/frontend_q20.c)."""
    input_shift = (cfg.window_samples - 1).bit_length() + 2  # sum |x| <= 2^28
    if cfg.power == 2.0:
        magnitude_shift, mel_exponent = 0, 2 * (31 - input_shift)
    else:
        magnitude_shift = MAGNITUDE_FRAC_BITS
        mel_exponent = 31 - input_shift + magnitude_shift
    floor = round(float(cfg.log_floor) * 2.0**mel_exponent)
    if floor < 1 or floor >= 1 << 62:
        raise KwsqError(f"log_floor {cfg.log_floor} is outside the fixed-point path's range")
    offset = round(float(cfg.norm_offset) * (1 << LOG_FRAC_BITS))
    if abs(offset) >= 1 << 31:
        raise KwsqError(f"norm_offset {cfg.norm_offset} is outside the fixed-point range")
    norm = scale_of(1.0 / float(cfg.norm_scale), LOG_FRAC_BITS, FEATURE_FRAC_BITS)
    inp = scale_of(1.0 / quant.scale, FEATURE_FRAC_BITS) if quant.type_code else (1 << 30, 30)
    return FixedConstants(input_shift, mel_exponent, magnitude_shift, floor, offset, norm, inp)


def radix4_twiddles(n: int) -> np.ndarray:
    """The float FFT's radix-4 twiddles in the order it uses them (rfft_f32.c): for each pass
    q (4, or 2 when log2(n / 2) is odd, then times 4 while q < n / 2) and each j < q, the
    (re, im) of W^j, W^2j, W^3j with W = exp(-2 pi i / 4q). Empty for n <= 8."""
    m = n // 2
    q = 2 if (m.bit_length() - 1) % 2 else 4
    rows = []
    while q < m:
        j = np.arange(q)[:, None] * np.arange(1, 4)[None, :]
        angle = -2.0 * np.pi * j / (4 * q)
        rows.append(np.stack([np.cos(angle), np.sin(angle)], axis=-1).reshape(-1))
        q *= 4
    return np.concatenate(rows) if rows else np.zeros(0)


def _c_float(x: float) -> str:
    return f"{float(np.float32(x))!r}f".replace("inf", "INFINITY")


def _array(ctype: str, name: str, values, fmt) -> str:
    items = [fmt(v) for v in np.asarray(values).ravel()]
    rows = ["    " + ", ".join(items[i : i + 8]) + "," for i in range(0, len(items), 8)]
    return f"static const {ctype} {name}[{len(items)}] = {{\n" + "\n".join(rows) + "\n};\n"


@dataclass(frozen=True)
class InputWindow:
    """The frames of one model input on a stream: ``frames`` frames ``stride`` apart from
    frame ``offset`` of a window of ``window_frames`` frames (the frames normalization
    averages over; without normalization the input's own span)."""

    frames: int
    stride: int
    offset: int
    window_frames: int


def input_window(cfg: FeatureConfig, clip_samples: int = 16000) -> InputWindow:
    """The model input's window as the streaming evaluator defines it."""
    from pipeline.evaluate.streaming import windowing

    win = windowing(cfg, clip_samples)
    stride = win.offsets[1] - win.offsets[0] if len(win.offsets) > 1 else 1
    return InputWindow(len(win.offsets), stride, win.offsets[0], win.span)


def header_text(cfg: FeatureConfig, quant: InputQuant, input_frames: int, input_stride: int,
                description: str = "", symbol: str = "kwsq_frontend",
                window: InputWindow | None = None) -> str:
    """The text of ``frontend.h`` for a feature config and a model input (``window``: the
    input's window on a stream; default: the config's, for 1 s clips)."""
    window = window or input_window(cfg)
    if (window.frames, window.stride) != (input_frames, input_stride):
        raise KwsqError(f"input of {input_frames} frames {input_stride} apart does not match "
                        f"its window ({window.frames} frames {window.stride} apart)")
    from pipeline.data.features import CHANNEL_VAR_FLOOR

    t = tables(cfg)
    fx = fixed_constants(cfg, quant)
    norm_code = NORMALIZE_CODES.get(cfg.normalize, -1)
    sd_floor_q20 = round(CHANNEL_VAR_FLOOR * 2.0**FEATURE_FRAC_BITS)
    if sd_floor_q20 < 1024:
        raise KwsqError(f"the deviation floor {CHANNEL_VAR_FLOOR} is below the fixed-point "
                        "path's 2^-10")
    s = symbol
    guard = f"{s.upper()}_H"
    about = " ".join(description.split()).replace("*/", "* /") or "kwsq feature front-end"
    win_q31 = np.minimum(np.round(np.asarray(t.window, np.float64) * 2.0**31),
                         2**31 - 1).astype(np.int64)
    cos_q31 = np.minimum(np.round(t.cos * 2.0**31), 2**31 - 1).astype(np.int64)
    lo_q15 = np.round(t.lo.astype(np.float64) * 32768.0).astype(np.int64)
    hi_q15 = np.round(t.hi.astype(np.float64) * 32768.0).astype(np.int64)
    mfcc = t.dct is not None
    twiddles = radix4_twiddles(int(cfg.fft_length))
    out = [
        f"/* {about}\n * Feature front-end parameters for tflm_port/frontend (kwsq_fe.h),"
        f"\n * written by kwsq convert from the run's feature config; do not edit."
        f"\n * {cfg.to_dict()}\n */",
        f"#ifndef {guard}\n#define {guard}\n",
        "#include <stdint.h>\n\n#include \"kwsq_fe.h\"\n",
        f"#define {s.upper()}_SAMPLE_RATE {cfg.sample_rate}",
        f"#define {s.upper()}_WINDOW {cfg.window_samples}",
        f"#define {s.upper()}_HOP {cfg.hop_samples}",
        f"#define {s.upper()}_FFT_LENGTH {cfg.fft_length}",
        f"#define {s.upper()}_NUM_BINS {cfg.num_bins}",
        f"#define {s.upper()}_NUM_COEFFS {cfg.coefficients}",
        "/* The model input: INPUT_FRAMES frames, INPUT_STRIDE frames apart, flattened. */",
        f"#define {s.upper()}_INPUT_FRAMES {input_frames}",
        f"#define {s.upper()}_INPUT_STRIDE {input_stride}",
        "/* ... from frame INPUT_OFFSET of a window of WINDOW_FRAMES frames, normalized over",
        f" * that window (NORMALIZE: KWSQ_FE_NORM_*; {cfg.normalize}). */",
        f"#define {s.upper()}_INPUT_OFFSET {window.offset}",
        f"#define {s.upper()}_WINDOW_FRAMES {window.window_frames}",
        f"#define {s.upper()}_NORMALIZE {norm_code}",
        f"#define {s.upper()}_STATE_BYTES KWSQ_FE_STATE_BYTES({cfg.window_samples}, "
        f"{cfg.hop_samples}, {cfg.fft_length}, {cfg.num_bins})\n",
        _array("uint16_t", f"{s}_channel", t.channel, str),
        "#ifndef KWSQ_FE_NO_FLOAT",
        _array("float", f"{s}_window_f32", t.window, _c_float),
        _array("float", f"{s}_cos_f32", t.cos, _c_float),
        _array("float", f"{s}_mel_lo_f32", t.lo, _c_float),
        _array("float", f"{s}_mel_hi_f32", t.hi, _c_float),
    ]
    if twiddles.size:
        out.append(_array("float", f"{s}_twiddle_f32", twiddles, _c_float))
    if mfcc:
        out.append(_array("float", f"{s}_dct_f32", t.dct, _c_float))
    out += [
        "#endif\n#ifndef KWSQ_FE_NO_FIXED",
        _array("int32_t", f"{s}_window_q31", win_q31, str),
        _array("int32_t", f"{s}_cos_q31", cos_q31, str),
        _array("uint16_t", f"{s}_mel_lo_q15", lo_q15, str),
        _array("uint16_t", f"{s}_mel_hi_q15", hi_q15, str),
    ]
    if mfcc:
        dct_q30 = np.round(t.dct * 2.0**30).astype(np.int64)
        out.append(_array("int32_t", f"{s}_dct_q30", dct_q30, str))
    out.append("#endif\n")

    def ptr(name: str, path: str, present: bool = True) -> str:
        guard_macro = "KWSQ_FE_NO_FLOAT" if path == "f" else "KWSQ_FE_NO_FIXED"
        if not present:
            return f"    .{name} = 0,"
        return (f"#ifndef {guard_macro}\n    .{name} = {s}_{name},\n#else\n"
                f"    .{name} = 0,\n#endif")

    kind = "KWSQ_FE_MFCC" if mfcc else "KWSQ_FE_LFBE"
    out += [
        f"static const kwsq_fe_params {s} = {{",
        f"    .kind = {kind},",
        f"    .sample_rate = {cfg.sample_rate},",
        f"    .window = {cfg.window_samples},",
        f"    .hop = {cfg.hop_samples},",
        f"    .fft_length = {cfg.fft_length},",
        f"    .power = {int(cfg.power)},",
        f"    .num_bins = {cfg.num_bins},",
        f"    .num_coeffs = {cfg.coefficients},",
        f"    .first_bin = {t.first_bin},",
        f"    .end_bin = {t.end_bin},",
        f"    .channel = {s}_channel,",
        ptr("window_f32", "f"), ptr("cos_f32", "f"), ptr("twiddle_f32", "f", bool(twiddles.size)),
        ptr("mel_lo_f32", "f"),
        ptr("mel_hi_f32", "f"), ptr("dct_f32", "f", mfcc),
        f"    .log_floor = {_c_float(cfg.log_floor)},",
        f"    .norm_offset = {_c_float(cfg.norm_offset)},",
        f"    .norm_scale = {_c_float(cfg.norm_scale)},",
        ptr("window_q31", "q"), ptr("cos_q31", "q"), ptr("mel_lo_q15", "q"),
        ptr("mel_hi_q15", "q"), ptr("dct_q30", "q", mfcc),
        f"    .input_shift = {fx.input_shift},",
        f"    .mel_exponent = {fx.mel_exponent},",
        f"    .magnitude_shift = {fx.magnitude_shift},",
        f"    .log_floor_fixed = {fx.log_floor_fixed}ull,",
        f"    .norm_offset_q24 = {fx.norm_offset_q24},",
        f"    .norm_q24_to_q20 = {{{fx.norm_scale[0]}, {fx.norm_scale[1]}}},",
        f"    .input_type = {INPUT_TYPES[quant.type_code]},",
        f"    .input_scale = {_c_float(quant.scale)},",
        f"    .input_zero_point = {quant.zero_point},",
        f"    .input_q20 = {{{fx.input_scale[0]}, {fx.input_scale[1]}}},",
        f"    .normalize = {norm_code},",
        f"    .norm_frames = {window.window_frames},",
        f"    .norm_sd_floor = {_c_float(CHANNEL_VAR_FLOOR)},",
        f"    .norm_sd_floor_q20 = {sd_floor_q20},",
        "};\n",
        f"#endif /* {guard} */\n",
    ]
    return "\n".join(out)


def model_input_frames(cfg: FeatureConfig, clip_samples: int = 16000) -> tuple[int, int]:
    """(frames per model input, stride between them) for a feature config."""
    if cfg.stacked:
        return cfg.left_context + cfg.right_context + 1, cfg.stack_stride
    return cfg.num_frames(clip_samples), 1


def write_frontend_header(cfg: FeatureConfig, model_bytes: bytes, path: str | Path,
                          clip_samples: int = 16000, description: str = "") -> Path:
    """Write ``frontend.h`` for a model (its input quantization) and its feature config."""
    path = Path(path)
    window = input_window(cfg, clip_samples)
    write_text(path, header_text(cfg, input_quant(model_bytes), window.frames, window.stride,
                                 description, window=window))
    return path


def export_run_frontend(run, model_bytes: bytes, model_path: Path) -> Path:
    """``frontend.h`` beside a run's converted model (called by ``kwsq convert``)."""
    cfg = run.read_config()
    feats = FeatureConfig.from_dict(cfg.features)
    clip = int(cfg.data.get("clip_samples", 16000))
    return write_frontend_header(feats, model_bytes, Path(model_path).with_name("frontend.h"),
                                 clip, f"{cfg.model} / {cfg.scheme} from {run.path}")
