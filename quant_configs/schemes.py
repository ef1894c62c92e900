"""The quantization schemes as data: per layer kind or layer name, which quantizer and bits.

A ``Scheme`` says how weights are quantized (a rule per layer kind, overridable per layer
name), how layer outputs/activations and the model input are quantized, and in which
training stages. ``quant_configs.quantize_model`` turns it into tfmot QuantizeConfigs with
one generic code path; adding a scheme is adding a table entry here.

Batch-norm is not folded into the preceding kernel: it stays a separate layer whose output
is quantized (TFLite MUL + ADD with converter-quantized constants), so a sub-8-bit
per-tensor kernel grid survives conversion. Biases are not fake-quantized: TFLite stores
them as int32 at scale ``s_in * s_w``, which is exact to well below one output LSB.

There is no 16-bit QAT scheme (the low-bit QAT paper's 16-bit row): measured with TF 2.21, a model
with 16-bit activation fake-quant fails int8 conversion ("tfl.logistic op failed to verify that x
and y must have same element type") and in 16x8 mode converts to a file whose LOGISTIC fails to
prepare (output scale not 1/32768). 16x8 is a post-training converter mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import KwsqError

# Quantizer kinds. Weights: linear | tanh (squashed) | fxp (squashed, power-of-two scale).
# Activations: minmax (tfmot moving-average min/max) | pow2 (Q-format) | dynamic (per frame).
WEIGHT_KINDS = ("linear", "tanh", "fxp")
ACTIVATION_KINDS = ("minmax", "pow2", "dynamic")

# Strength of the fixed-point paper's absolute-cosine regularizer for the fxp schemes.
ABS_COSINE_LAMBDA = 0.01


@dataclass(frozen=True)
class Quant:
    """One quantizer: its kind, bit width and granularity."""

    kind: str
    bits: int
    per_channel: bool = False
    regularization: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in WEIGHT_KINDS + ACTIVATION_KINDS:
            raise ValueError(f"unknown quantizer kind {self.kind!r}")


@dataclass(frozen=True)
class Scheme:
    """A quantization scheme (docs/design.md, scheme table).

    ``weights`` maps a layer kind (Keras class name) or a layer name to a weight quantizer;
    a layer-name entry wins over its kind. ``activations`` quantizes every layer output in
    the last stage, ``inputs`` the model input. ``stages`` are the QAT stages in order:
    ``"weights"`` quantizes only weights (sub-8-bit paper stage 1), ``"all"`` everything.
    """

    name: str
    stages: tuple[str, ...]
    weight_bits: int | None
    activation_bits: int | None
    description: str
    weights: tuple[tuple[str, Quant], ...] = ()
    activations: Quant | None = None
    inputs: Quant | None = None
    paper: str = ""

    def weight_rule(self, kind: str, layer_name: str) -> Quant | None:
        table = dict(self.weights)
        return table.get(layer_name, table.get(kind))


def _kinds(
    kind: str, bits: int, conv_per_channel: bool = True, dense_per_channel: bool = False,
    regularization: float = 0.0,
) -> tuple[tuple[str, Quant], ...]:
    return (
        ("Dense", Quant(kind, bits, dense_per_channel, regularization)),
        ("Conv2D", Quant(kind, bits, conv_per_channel, regularization)),
        # Depthwise per-channel grids need a reshaped kernel the converter does not match.
        ("DepthwiseConv2D", Quant(kind, bits, False, regularization)),
    )


A8 = Quant("minmax", 8)


def _tanh(bits: int) -> Scheme:
    return Scheme(
        f"tanh-w{bits}", ("weights", "all"), bits, 8,
        f"stage 1: tanh(W)/max|tanh(W)| on a {bits}-bit grid; stage 2: + 8-bit linear "
        "inputs and activations",
        weights=_kinds("tanh", bits), activations=A8, inputs=A8, paper="000",
    )


def _dyn(bits: int) -> Scheme:
    return Scheme(
        f"dyn-w{bits}", ("all",), bits, 8,
        f"{bits}-bit per-column min-max weights; per-frame dynamic 8-bit input quantization "
        "of every layer (hybrid ops)",
        weights=_kinds("linear", bits, dense_per_channel=True),
        activations=Quant("dynamic", 8), inputs=Quant("dynamic", 8), paper="001/003",
    )


def _fxp(bits: int) -> Scheme:
    return Scheme(
        f"fxp{bits}", ("all",), bits, 8,
        f"fixed point: squashed {bits}-bit weights with power-of-two scales and the "
        "absolute-cosine regularizer; Q-format 8-bit activations and transients",
        weights=_kinds("fxp", bits, regularization=ABS_COSINE_LAMBDA),
        activations=Quant("pow2", 8), inputs=Quant("pow2", 8), paper="002",
    )


_LIST = [
    Scheme("float", (), None, None, "no quantization (fp32)", paper="baseline"),
    Scheme(
        "int8", ("all",), 8, 8, "8-bit linear weights (per-channel conv) and activations",
        weights=_kinds("linear", 8), activations=A8, inputs=A8, paper="TFLM",
    ),
    Scheme(
        "w4a8", ("all",), 4, 8, "4-bit linear symmetric weights, 8-bit activations",
        weights=_kinds("linear", 4), activations=A8, inputs=A8, paper="003",
    ),
    Scheme(
        "w4-8", ("all",), 4, 8,
        "4-bit weights on the bottleneck layers after a sigmoid (bottleneck2, bottleneck3), "
        "8-bit on the others; 8-bit activations",
        weights=_kinds("linear", 8)
        + (("bottleneck2", Quant("linear", 4)), ("bottleneck3", Quant("linear", 4))),
        activations=A8, inputs=A8, paper="003",
    ),
    *(_tanh(b) for b in (1, 2, 4, 5, 8)),
    _dyn(4), _dyn(8),
    _fxp(4), _fxp(8),
]

SCHEMES: dict[str, Scheme] = {s.name: s for s in _LIST}


def get_scheme(name: str) -> Scheme:
    """The named scheme; a KwsqError listing the valid names otherwise."""
    if name not in SCHEMES:
        raise KwsqError(f"unknown quantization scheme '{name}'; valid: {', '.join(SCHEMES)}")
    return SCHEMES[name]
