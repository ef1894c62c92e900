"""The quantization schemes as data: per layer kind or layer name, which quantizer and bits.

A ``Scheme`` says how weights are quantized (a rule per layer kind, overridable per layer
name), how layer outputs/activations and the model input are quantized, and in which
training stages. ``quant_configs.quantize_model`` turns it into tfmot QuantizeConfigs with
one generic code path; adding a scheme is adding a table entry here.

Batch-norm is folded into the preceding kernel before QAT (``quant_configs.fold``), so the
kernel the quantizer trains is the kernel the device stores (the sub-8-bit QAT paper's
stage 2 quantizes gain and batch-norm too). Biases are not fake-quantized: TFLite stores
them as int32 at scale ``s_in * s_w``, exact to well below one output LSB.

Mixed-precision schemes name layer *roles*, not layer names: a model file declares
``LAYER_ROLES`` (layer name -> role), and a rule keyed ``"role:<name>"`` applies to the
layers with that role. A scheme whose role rules match no layer of a model is refused
(``check_applicable``) instead of silently running as its fallback width.

16 bit (the dynamic-quantization paper's Table 1 row) is ``dyn-w16``: 16-bit per-column
weights and 16-bit per-frame inputs in Keras, sized as 16-bit storage. No .tflite form
carries it: TFLite's hybrid kernels take int8/int4 weights only, and its 16x8 mode has
8-bit weights (measured with TF 2.21 a 16-bit activation fake-quant does not convert:
"tfl.logistic op failed to verify that x and y must have same element type").
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
    minmax: bool = False  # per-column [min, max] grid with an integer zero point
    squash_gain: str = "weights"  # tanh kinds: quant_configs.quantizers.SQUASH_GAINS
    # > 0: keep every proven partial-sum bound within a signed accumulator of this width
    # (quant_configs.quantizers, "accumulator budget")
    accumulator_bits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in WEIGHT_KINDS + ACTIVATION_KINDS:
            raise ValueError(f"unknown quantizer kind {self.kind!r}")


@dataclass(frozen=True)
class Scheme:
    """A quantization scheme (docs/design.md, scheme table).

    ``weights`` maps a layer kind (Keras class name) or a layer role (``"role:<name>"``, as
    declared by the model file's ``LAYER_ROLES``) to a weight quantizer; a role entry wins
    over its kind. ``activations`` quantizes every layer output in
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

    # Conversion: "integer" (full-integer TFLite), "hybrid" (float activations, integer
    # weights, per-row input quantization), "float", or "keras" (no .tflite form exists).
    conversion: str = "integer"

    def weight_rule(self, kind: str, role: str | None = None) -> Quant | None:
        table = dict(self.weights)
        if role is not None and f"role:{role}" in table:
            return table[f"role:{role}"]
        return table.get(kind)

    @property
    def roles(self) -> tuple[str, ...]:
        """The layer roles the scheme's rules name."""
        return tuple(k[len("role:"):] for k, _ in self.weights if k.startswith("role:"))


def _kinds(
    kind: str, bits: int, conv_per_channel: bool = True, dense_per_channel: bool = False,
    regularization: float = 0.0, accumulator_bits: int = 0,
) -> tuple[tuple[str, Quant], ...]:
    acc = {"accumulator_bits": accumulator_bits}
    return (
        ("Dense", Quant(kind, bits, dense_per_channel, regularization, **acc)),
        ("Conv2D", Quant(kind, bits, conv_per_channel, regularization, **acc)),
        # Depthwise per-channel grids need a reshaped kernel the converter does not match.
        ("DepthwiseConv2D", Quant(kind, bits, False, regularization, **acc)),
    )


A8 = Quant("minmax", 8)


def _tanh(bits: int) -> Scheme:
    return Scheme(
        f"tanh-w{bits}", ("weights", "all"), bits, 8,
        f"stage 1: tanh(W)/max|tanh(W)| on a {bits}-bit grid; stage 2: + 8-bit linear "
        "inputs and activations",
        weights=_kinds("tanh", bits), activations=A8, inputs=A8, paper="000",
    )


def _lin(bits: int) -> Scheme:
    """The tanh schemes' linear twin (same two stages, only the weight transform differs):
    the sub-8-bit streaming paper's linear baseline."""
    return Scheme(
        f"lin-w{bits}", ("weights", "all"), bits, 8,
        f"stage 1: linear symmetric {bits}-bit weights; stage 2: + 8-bit linear inputs and "
        "activations (the tanh schemes' linear twin)",
        weights=_kinds("linear", bits), activations=A8, inputs=A8, paper="000",
    )


def _dyn(name: str, bits: int, minmax: bool, description: str, act_bits: int = 8,
         bottleneck: Quant | None = None, dense_bits: int | None = None) -> Scheme:
    dense = Quant("linear", dense_bits or bits, True, minmax=minmax)
    weights = (("Dense", dense),)
    if bottleneck is not None:
        weights += (("role:bottleneck", bottleneck),)
    return Scheme(
        name, ("all",), bits, act_bits,
        f"{description}; per-frame dynamic {act_bits}-bit min-max quantization of every "
        "weight layer's input (hybrid ops)",
        weights=weights, activations=Quant("dynamic", act_bits),
        inputs=Quant("dynamic", act_bits), paper="001/003",
        conversion="hybrid" if act_bits == 8 else "keras",
    )


def _fxp(bits: int, accumulator_bits: int = 0) -> Scheme:
    name, extra = f"fxp{bits}", ""
    if accumulator_bits:
        name += f"-acc{accumulator_bits}"
        extra = (f"; every proven partial-sum bound fits a {accumulator_bits}-bit "
                 "accumulator (trained with the budget)")
    return Scheme(
        name, ("all",), bits, 8,
        f"fixed point: squashed {bits}-bit weights with power-of-two scales and the "
        f"absolute-cosine regularizer; Q-format 8-bit activations and transients{extra}",
        weights=_kinds("fxp", bits, regularization=ABS_COSINE_LAMBDA,
                       accumulator_bits=accumulator_bits),
        activations=Quant("pow2", 8), inputs=Quant("pow2", 8), paper="002",
    )


_LIST = [
    Scheme("float", (), None, None, "no quantization (fp32)", paper="baseline",
           conversion="float"),
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
        "static: 4-bit weights on the layers of role 'bottleneck' (the first layer of each "
        "SVD pair after a sigmoid), 8-bit on the others; 8-bit activations",
        weights=_kinds("linear", 8) + (("role:bottleneck", Quant("linear", 4)),),
        activations=A8, inputs=A8, paper="003",
    ),
    *(_tanh(b) for b in (1, 2, 4, 5, 8)),
    *(_lin(b) for b in (1, 4, 5, 8)),
    _dyn("dyn-w4", 4, True, "4-bit per-column min-max weights with an integer zero point "
         "(the papers' grid; int8 container)"),
    _dyn("dyn-w4-sym", 4, False, "4-bit per-column symmetric weights (packed INT4)"),
    _dyn("dyn-w8", 8, False, "8-bit per-column symmetric weights (an 8-bit min-max grid "
         "does not fit int8 with zero point 0)"),
    _dyn("dyn-w4-8", 4, False, "mixed: 4-bit per-column min-max weights on role "
         "'bottleneck', 8-bit per-column symmetric elsewhere",
         bottleneck=Quant("linear", 4, True, minmax=True), dense_bits=8),
    _dyn("dyn-w16", 16, False, "16-bit per-column weights (Keras only: no .tflite form)",
         act_bits=16),
    _fxp(4), _fxp(8), _fxp(4, 16), _fxp(8, 16),
]

SCHEMES: dict[str, Scheme] = {s.name: s for s in _LIST}


def get_scheme(name: str) -> Scheme:
    """The named scheme; a KwsqError listing the valid names otherwise."""
    if name not in SCHEMES:
        raise KwsqError(f"unknown quantization scheme '{name}'; valid: {', '.join(SCHEMES)}")
    return SCHEMES[name]
