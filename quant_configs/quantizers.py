"""tfmot ``Quantizer`` classes for the papers' quantization schemes.

Every quantizer emits a grid that lands exactly on TFLite's integer grid with zero point 0
(symmetric, narrow range for weights), so the converter (or the flatbuffer post-pass) can
store the trained values as integers without re-rounding.

Weights (``WeightQuantizer``), with ``q = 2**(k-1) - 1`` the largest integer level:

* linear (low-bit QAT paper ``w*``, sub-8-bit paper stage 2): ``s = max|w| / q``,
  ``w_hat = s * clip(round(w / s), -q, q)``; per tensor, or per output
  channel (the last kernel axis: Dense columns, Conv2D filters).
* squashed (sub-8-bit paper stage 1, "tanh"; fixed-point paper "squashed weight distribution"):
  ``t = tanh(w) / max|tanh(w)| * max|w|`` then the linear grid above on ``t``. Scaling by
  ``max|w|`` (held constant for the gradient) keeps the layer's gain, so a float model
  transfers smoothly (``t ~ w`` for small weights) and layers without batch-norm still work.
* 1 bit: ``{-a, +a}`` with ``a = mean|t|`` (the least-squares binary scale), ``sign(0) = +1``.
* power of two (fixed-point paper, Q-format): ``s = 2**ceil(log2(max|w| / q))``.
* per column (low-bit dynamic quantization papers): the linear grid per output column,
  symmetric ``[-max|w|, max|w|]`` (storable as packed INT4 at 4 bits), or
* per-column min-max (``minmax=True``, the papers' own form): each column's
  ``[lo, hi] = [min(min w, 0), max(max w, 0)]`` on ``2**k - 1`` steps,
  ``s = (hi - lo) / (2**k - 1)``, integer zero point ``z = round(-lo / s)``,
  ``w_hat = s * (clip(round(w / s) + z, 0, 2**k - 1) - z)``. The stored integers
  ``q - z`` lie in ``[-(2**k - 1), 2**k - 1]``, so for ``k <= 7`` they fit an int8
  container with a symmetric per-channel scale ``s`` (TFLite weights need zero point 0);
  a column of one sign gets 0 added to its range so that ``z`` stays in ``[0, 2**k - 1]``.
* absolute-cosine regularizer (fixed-point paper): ``R = lambda * mean(1 - |cos(pi * t / s)|)``,
  zero on every grid point ``t = n s`` and largest half-way between, added to the loss.
* accumulator budget (fixed-point paper, QAT over transient variables; ``accumulator_bits``
  ``a``, e.g. 16): every partial sum of ``sum_i q_i (x_i - z)`` with int8 inputs must fit a
  signed ``a``-bit accumulator. ``x_i - z`` spans 255 values, so the proven bound
  (``pipeline/tflite/accumulators.py``) is at most ``255 max(P, N)`` whatever the input
  zero point, ``P``/``N`` the sums of a channel's positive / negative integer weights; the
  quantizer keeps ``max(P, N) <= B = floor((2**(a-1) - 1) / 255)`` (128 at 16 bits) per
  output channel: (1) the step grows until the unrounded sums fit (by a power of two for
  power-of-two scales; per channel where the grid is per channel, else for the tensor),
  (2) a channel that rounding still pushes over ``B`` has its positive (negative) levels
  scaled by ``B / P`` (``B / N``) and rounded towards zero. The forward pass (and so the
  deployed model) uses these integers; a penalty ``mean(relu(max(P, N) / B - 1))`` on the
  unrounded sums (weight :data:`ACCUMULATOR_PENALTY`) pulls the float weights inside.

Gradients are straight-through: d w_hat / d w = d t / d w (1 for linear) inside the range.

Per-tensor grids (and per-channel grids on rank-4 kernels) use
``tf.quantization.fake_quant_with_min_max_vars[_per_channel]`` with ``min = -q s, max = q s``
and ``narrow_range=True`` -- the form TF 2.21's converter turns into INT8/packed INT4
tensors. Per-column grids on Dense kernels do not convert as fake-quant ops, so they are
computed with plain ops (the converter folds them into a float constant already on the
grid; the post-pass restores the per-column scales from ``weight_grids``). One bit has no
fake-quant op: its {-s, +s} values are passed through a 2-bit fake-quant on [-s, s].

Activations:

* ``PowerOfTwoActivationQuantizer`` (fixed-point paper): symmetric signed k-bit Q-format, scale
  ``2**ceil(log2(M / 2**(k-1)))`` with ``M`` a moving average of ``max|x|`` (decay 0.99),
  full range ``[-2**(k-1), 2**(k-1) - 1]``, zero point 0.
* ``DynamicRangeQuantizer`` (low-bit QAT paper): per frame (per example) asymmetric min-max
  quantization over ``[min(x_min, 0), max(x_max, 0)]`` (0 exactly representable, as in
  TFLite's hybrid kernels), ``s = (max - min) / (2**k - 1)``, ``z = round(-min / s)``,
  ``x_hat = s * (clip(round(x / s) + z, 0, 2**k - 1) - z)``. Applied while training only:
  at inference the TFLite hybrid kernels quantize each input row themselves, and an
  integer-only graph has no ops to compute it.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

Quantizer = tfmot.quantization.keras.quantizers.Quantizer

# How a squashed kernel is rescaled after tanh: "weights" multiplies tanh(w)/max|tanh(w)|
# by max|w| (the layer keeps its largest weight); "tanh" keeps tanh(w) as it is, i.e.
# tanh(w)/max|tanh(w)| on the grid rescaled by max|tanh(w)| (small weights unchanged).
SQUASH_GAINS = ("weights", "tanh")

_EPS = 1e-12
ACCUMULATOR_PENALTY = 0.1
INPUT_SPAN = 255  # distinct values of (x - z) for an int8 input x


def max_level(bits: int) -> int:
    """Largest integer level of a symmetric narrow-range ``bits``-bit grid (1 bit: 1)."""
    return max(1, 2 ** (bits - 1) - 1)


def _pow2_ceil(x: tf.Tensor) -> tf.Tensor:
    return tf.pow(2.0, tf.math.ceil(tf.math.log(tf.maximum(x, _EPS)) / math.log(2.0)))


def _round_half_away(x: tf.Tensor) -> tf.Tensor:
    """Round to nearest, ties away from zero (C's round(), TfLiteRound)."""
    return tf.sign(x) * tf.floor(tf.abs(x) + 0.5)


# Switch for the runtime-exact forward pass of linked power-of-two output quantizers
# (``runtime_requantize``); conversion turns it off so the graph holds only fake-quant ops.
RUNTIME_ROUNDING = [True]


@contextlib.contextmanager
def fake_quant_only() -> Iterator[None]:
    """Within: linked output quantizers emit only their fake-quant op (for the converter)."""
    saved = RUNTIME_ROUNDING[0]
    RUNTIME_ROUNDING[0] = False
    try:
        yield
    finally:
        RUNTIME_ROUNDING[0] = saved


def runtime_requantize(x: tf.Tensor, s_acc: tf.Tensor, s_out: tf.Tensor, bits: int) -> tf.Tensor:
    """A weight layer's output as TFLite's integer kernels compute it, for power-of-two scales.

    ``x`` is the float layer output (bias added, activation applied), ``s_acc = s_in * s_w``
    the accumulator's step (scalar or per output channel), ``s_out`` the output step.
    (1) The int32 accumulator holds the bias rounded to its grid: ``acc = round(x / s_acc)``.
    (2) TFLite writes the ratio ``s_acc / s_out = 2^-k`` as the Q31 multiplier ``2^30``
    (0.5) and a right shift of ``k - 1``; ``SaturatingRoundingDoublingHighMul`` rounds at the
    halving (ties up: its negative nudge ``1 - 2^30`` plus truncation make ``-1.5 -> -1``) and
    ``RoundingDivideByPOT`` again (ties away from zero), so for ``k >= 2`` the output is
    ``round_away(floor(acc / 2 + 1/2) / 2^(k-1))``, not ``round(acc / 2^k)``.
    """
    acc = _round_half_away(x / s_acc)
    k = tf.round(tf.math.log(s_out / s_acc) / math.log(2.0))
    twice = _round_half_away(tf.floor(acc / 2.0 + 0.5) / tf.pow(2.0, tf.maximum(k, 2.0) - 1.0))
    once = _round_half_away(acc * tf.pow(2.0, -k))
    q = tf.where(k >= 2.0, twice, once)
    half = 2 ** (bits - 1)
    return tf.clip_by_value(q, -half, half - 1) * s_out


def _ste(x: tf.Tensor, x_hat: tf.Tensor) -> tf.Tensor:
    """Forward ``x_hat``, backward identity to ``x``."""
    return x + tf.stop_gradient(x_hat - x)


class WeightQuantizer(Quantizer):
    """Symmetric k-bit weight quantizer: linear, squashed (tanh), power-of-two scales.

    ``regularization`` is the strength of the absolute-cosine regularizer (fixed-point paper),
    ``lambda * mean(1 - |cos(pi * t / s)|)`` over the (squashed) weights ``t``; it is zero at
    every grid point and largest half-way between. It is attached to the model as a loss by
    ``quant_configs.quantize_model`` (see ``regularization_loss``).
    """

    def __init__(
        self,
        bits: int,
        per_channel: bool = False,
        squash: bool = False,
        power_of_two: bool = False,
        regularization: float = 0.0,
        minmax: bool = False,
        squash_gain: str = "weights",
        accumulator_bits: int = 0,
        depthwise: bool = False,
    ) -> None:
        if not 1 <= bits <= 16:
            raise ValueError(f"weight bits must be 1..16, got {bits}")
        if minmax and not (per_channel and 2 <= bits <= 7 and not squash and not power_of_two):
            raise ValueError("min-max weight grids are linear, per column and 2..7 bits (the "
                             "integers q - z must fit an int8 container)")
        self.bits = int(bits)
        self.per_channel = bool(per_channel)
        self.squash = bool(squash)
        self.power_of_two = bool(power_of_two)
        self.regularization = float(regularization)
        self.minmax = bool(minmax)
        if squash_gain not in SQUASH_GAINS:
            raise ValueError(f"squash_gain must be one of {SQUASH_GAINS}, got {squash_gain!r}")
        self.squash_gain = squash_gain
        if accumulator_bits and (minmax or bits < 2 or not 9 <= accumulator_bits <= 32):
            raise ValueError("an accumulator budget needs a symmetric grid of >= 2 bits and "
                             "9..32 accumulator bits")
        self.accumulator_bits = int(accumulator_bits)
        self.depthwise = bool(depthwise)  # kernel [kh, kw, channels, multiplier]

    @property
    def accumulator_budget(self) -> int:
        """Largest allowed per-channel sum of positive (or negative) integer weights."""
        return (2 ** (self.accumulator_bits - 1) - 1) // INPUT_SPAN

    def channel_sums(self, q: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Per output channel: sums of positive values and of negative values' magnitudes
        (``[out]``, or ``[channels, multiplier]`` for a depthwise kernel)."""
        axes = [0, 1] if self.depthwise else list(range(len(q.shape) - 1))
        return (tf.reduce_sum(tf.nn.relu(q), axis=axes),
                tf.reduce_sum(tf.nn.relu(-q), axis=axes))

    def _budget_factor(self, t: tf.Tensor, s: tf.Tensor) -> tf.Tensor:
        """How much coarser the step must be for the unrounded channel sums to fit."""
        pos, neg = self.channel_sums(t / s)
        need = tf.maximum(tf.maximum(pos, neg) / self.accumulator_budget, 1.0)
        if not self.per_channel:
            need = tf.reduce_max(need)
        return _pow2_ceil(need) if self.power_of_two else need

    def _fit_budget(self, q: tf.Tensor) -> tf.Tensor:
        """Integer levels ``q`` with each channel's positive and negative sums <= budget."""
        pos, neg = self.channel_sums(q)
        budget = float(self.accumulator_budget)
        fp = tf.minimum(1.0, budget / tf.maximum(pos, 1.0))
        fn = tf.minimum(1.0, budget / tf.maximum(neg, 1.0))
        return tf.where(q > 0, tf.floor(q * fp), -tf.floor(-q * fn))

    def accumulator_loss(self, w: tf.Tensor) -> tf.Tensor:
        """``mean(relu(max(P, N) / B - 1))`` over channels, on the unrounded levels."""
        t = self.transform(w)
        pos, neg = self.channel_sums(t / self.base_scale(t))
        return tf.reduce_mean(tf.nn.relu(tf.maximum(pos, neg) / self.accumulator_budget - 1))

    # -- the formula, shared by the forward pass, the regularizer and weight_grids --
    def transform(self, w: tf.Tensor) -> tf.Tensor:
        """The (squashed) weights the grid is applied to."""
        if not self.squash:
            return w
        th = tf.tanh(w)
        if self.squash_gain == "tanh":  # the grid is laid over tanh(w) itself
            return th
        peak = tf.stop_gradient(tf.reduce_max(tf.abs(th)))
        gain = tf.stop_gradient(tf.reduce_max(tf.abs(w)))
        return th / tf.maximum(peak, _EPS) * gain

    def _column_range(self, t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        axes = list(range(len(t.shape) - 1))
        lo = tf.minimum(tf.reduce_min(t, axis=axes), 0.0)
        hi = tf.maximum(tf.reduce_max(t, axis=axes), 0.0)
        return lo, hi

    def zero_point(self, t: tf.Tensor) -> tf.Tensor:
        """Integer zero point per column of a min-max grid (0 for symmetric grids)."""
        t = tf.stop_gradient(t)
        if not self.minmax:
            return tf.zeros_like(self.scale(t))
        lo, _ = self._column_range(t)
        return tf.round(-lo / self.scale(t))

    def scale(self, t: tf.Tensor) -> tf.Tensor:
        """Grid step: a scalar, or one per output channel (last axis); with an accumulator
        budget, the step grown until the channel sums fit it."""
        s = self.base_scale(t)
        if not self.accumulator_bits:
            return s
        t = tf.stop_gradient(t)
        return s * self._budget_factor(t, s)

    def base_scale(self, t: tf.Tensor) -> tf.Tensor:
        """Grid step from the weights' range alone."""
        t = tf.stop_gradient(t)
        if self.minmax:
            lo, hi = self._column_range(t)
            return tf.maximum(hi - lo, _EPS) / (2**self.bits - 1)
        if self.per_channel:
            axes = list(range(len(t.shape) - 1))
            peak = tf.reduce_max(tf.abs(t), axis=axes)
        else:
            peak = tf.reduce_max(tf.abs(t))
        if self.bits == 1:
            if self.per_channel:
                return tf.reduce_mean(tf.abs(t), axis=axes)
            return tf.reduce_mean(tf.abs(t))
        s = tf.maximum(peak, _EPS) / max_level(self.bits)
        return _pow2_ceil(s) if self.power_of_two else s

    def quantize(self, w: tf.Tensor) -> tf.Tensor:
        t = self.transform(w)
        s = self.scale(t)
        q = max_level(self.bits)
        if self.minmax:
            z = self.zero_point(t)
            top = float(2**self.bits - 1)
            return _ste(t, (tf.clip_by_value(tf.round(t / s) + z, 0.0, top) - z) * s)
        if self.per_channel and len(w.shape) == 2 and self.bits > 1:
            levels = tf.clip_by_value(tf.round(t / s), -q, q)
            if self.accumulator_bits:
                levels = self._fit_budget(levels)
            return _ste(t, levels * s)
        t_const = tf.stop_gradient(t)
        on_grid = t_const
        if self.accumulator_bits:  # already on the grid: the fake-quant op keeps it
            on_grid = self._fit_budget(tf.clip_by_value(tf.round(t_const / s), -q, q)) * s
        if self.bits == 1:
            # sign with sign(0) = +1, in arithmetic the converter can constant-fold (a
            # boolean select is left in the graph), then a 2-bit fake-quant on [-s, s] so
            # the converter stores the kernel as packed INT4 codes -1/+1 with scale s.
            sign = tf.clip_by_value(2.0 * tf.math.floor(t_const / s) + 1.0, -1.0, 1.0)
            if self.per_channel and len(w.shape) == 2:
                fq = sign * s
            elif self.per_channel:
                fq = tf.quantization.fake_quant_with_min_max_vars_per_channel(
                    sign * s, -s, s, num_bits=2, narrow_range=True
                )
            else:
                fq = tf.quantization.fake_quant_with_min_max_vars(
                    sign * s, -s, s, num_bits=2, narrow_range=True
                )
        elif self.per_channel:
            fq = tf.quantization.fake_quant_with_min_max_vars_per_channel(
                on_grid, -q * s, q * s, num_bits=self.bits, narrow_range=True
            )
        else:
            fq = tf.quantization.fake_quant_with_min_max_vars(
                on_grid, -q * s, q * s, num_bits=self.bits, narrow_range=True
            )
        # Straight-through for every weight: fake-quant's own gradient is zero for inputs an
        # ulp outside [min, max], which hits the extreme weights. ``t - stop_gradient(t)``
        # is exactly 0 forward, so the forward value stays the fake-quant output.
        return fq + (t - t_const)

    def regularization_loss(self, w: tf.Tensor) -> tf.Tensor:
        t = self.transform(w)
        loss = tf.constant(0.0)
        if self.regularization:
            distance = 1.0 - tf.abs(tf.cos(math.pi * t / self.scale(t)))
            loss += self.regularization * tf.reduce_mean(distance)
        if self.accumulator_bits:
            loss += ACCUMULATOR_PENALTY * self.accumulator_loss(w)
        return loss

    # -- tfmot Quantizer interface --
    def build(self, tensor_shape, name, layer):
        return {}

    def __call__(self, inputs, training, weights, **kwargs):
        return self.quantize(inputs)

    def get_config(self) -> dict:
        return {
            "bits": self.bits,
            "per_channel": self.per_channel,
            "squash": self.squash,
            "power_of_two": self.power_of_two,
            "regularization": self.regularization,
            "minmax": self.minmax,
            "squash_gain": self.squash_gain,
            "accumulator_bits": self.accumulator_bits,
            "depthwise": self.depthwise,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WeightQuantizer) and self.get_config() == other.get_config()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)


class PowerOfTwoActivationQuantizer(Quantizer):
    """Signed k-bit fixed-point (Q-format) activations with a power-of-two scale."""

    decay = 0.99

    def __init__(self, bits: int) -> None:
        if not 2 <= bits <= 16:
            raise ValueError(f"activation bits must be 2..16, got {bits}")
        self.bits = int(bits)

    def build(self, tensor_shape, name, layer):
        peak = layer.add_weight(
            f"{name}_abs_max",
            shape=(),
            initializer=tf.keras.initializers.Constant(0.0),
            trainable=False,
        )
        return {"abs_max": peak}

    def scale(self, abs_max: tf.Tensor) -> tf.Tensor:
        return _pow2_ceil(tf.maximum(abs_max, _EPS) / 2 ** (self.bits - 1))

    def __call__(self, inputs, training, weights, **kwargs):
        peak_var = weights["abs_max"]
        if training:
            batch = tf.stop_gradient(tf.reduce_max(tf.abs(inputs)))
            new = tf.where(
                peak_var > 0, self.decay * peak_var + (1 - self.decay) * batch, batch
            )
            peak_var.assign(new)
            peak = new
        else:
            peak = tf.identity(peak_var)
        s = self.scale(peak)
        half = 2 ** (self.bits - 1)
        fq = tf.quantization.fake_quant_with_min_max_vars(
            inputs, -half * s, (half - 1) * s, num_bits=self.bits, narrow_range=False
        )
        if not RUNTIME_ROUNDING[0]:
            return fq
        if getattr(self, "defer", False):  # a fused ReLU's quantizer rounds this value
            return fq + tf.stop_gradient(inputs - fq)
        link = getattr(self, "accumulator_scale", None)
        if link is None:
            return fq
        # Forward value as deployed, gradient of the fake-quant op.
        x_hat = runtime_requantize(inputs, link(), s, self.bits)
        return fq + tf.stop_gradient(x_hat - fq)

    def get_config(self) -> dict:
        return {"bits": self.bits}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PowerOfTwoActivationQuantizer) and self.bits == other.bits

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)


class DynamicRangeQuantizer(Quantizer):
    """Per-example (per-frame) asymmetric min-max quantization of a layer's input vector."""

    def __init__(self, bits: int, at_inference: bool = True) -> None:
        if not 2 <= bits <= 16:
            raise ValueError(f"dynamic bits must be 2..16, got {bits}")
        self.bits = int(bits)
        self.at_inference = bool(at_inference)

    def build(self, tensor_shape, name, layer):
        return {}

    def quantize(self, x: tf.Tensor) -> tf.Tensor:
        axes = list(range(1, len(x.shape)))
        lo = tf.stop_gradient(tf.minimum(tf.reduce_min(x, axis=axes, keepdims=True), 0.0))
        hi = tf.stop_gradient(tf.maximum(tf.reduce_max(x, axis=axes, keepdims=True), 0.0))
        levels = 2**self.bits - 1
        # TFLite's hybrid kernels (AsymmetricQuantizeFloats), step for step: the scale in
        # double stored as float, the zero point from whichever end has the smaller error,
        # rounded half away from zero, inputs scaled by the float reciprocal. Matching it
        # to the rounding keeps Keras and the deployed model on the same integer rows.
        lo64, hi64 = tf.cast(lo, tf.float64), tf.cast(hi, tf.float64)
        s64 = tf.maximum(hi64 - lo64, _EPS) / levels
        from_min = -lo64 / s64
        from_max = levels - hi64 / s64
        half = 2 ** (self.bits - 1)  # TFLite's |qmin|; |qmax| = half - 1
        use_min = half + tf.abs(lo64 / s64) < (half - 1) + tf.abs(hi64 / s64)
        z = _round_half_away(tf.clip_by_value(tf.where(use_min, from_min, from_max), 0.0,
                                              float(levels)))
        s = tf.cast(s64, x.dtype)
        z = tf.cast(z, x.dtype)
        q = tf.clip_by_value(_round_half_away(z + x * (1.0 / s)), 0.0, float(levels))
        return _ste(x, (q - z) * s)

    def __call__(self, inputs, training, weights, **kwargs):
        return self.quantize(inputs) if training or self.at_inference else inputs

    def get_config(self) -> dict:
        return {"bits": self.bits, "at_inference": self.at_inference}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DynamicRangeQuantizer) and self.get_config() == other.get_config()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)


CUSTOM_OBJECTS = {
    "WeightQuantizer": WeightQuantizer,
    "PowerOfTwoActivationQuantizer": PowerOfTwoActivationQuantizer,
    "DynamicRangeQuantizer": DynamicRangeQuantizer,
}
