"""Turn a float tf_keras model into a QAT model for a scheme and stage, and move float
parameters between float and QAT models.

One code path for every scheme: each layer gets a ``LayerQuantizeConfig`` filled from the
scheme's table (``quant_configs.schemes``), tfmot's ``quantize_apply`` wraps the layers,
the model-input quantizer is set from the scheme, the float weights are copied in, and any
weight regularizer is attached with ``model.add_loss``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402
from tensorflow_model_optimization.python.core.quantization.keras import (  # noqa: E402
    quantize_layer,
    quantize_layout_transform,
)
from tensorflow_model_optimization.python.core.quantization.keras import (  # noqa: E402
    utils as _tfq_utils,
)
from tensorflow_model_optimization.python.core.quantization.keras.graph_transformations import (  # noqa: E402, E501
    model_transformer,
)
from tensorflow_model_optimization.python.core.quantization.keras.graph_transformations import (  # noqa: E402, E501
    transforms as _transforms,
)

import models  # noqa: E402
from pipeline.errors import KwsqError  # noqa: E402
from quant_configs.configs import CONFIG_OBJECTS, TFMOT_QUANTIZERS, LayerQuantizeConfig  # noqa: E402
from quant_configs.fold import fold_batchnorm  # noqa: E402
from quant_configs.quantizers import (  # noqa: E402
    CUSTOM_OBJECTS,
    DynamicRangeQuantizer,
    PowerOfTwoActivationQuantizer,
    WeightQuantizer,
)
from quant_configs.schemes import Quant, Scheme, get_scheme  # noqa: E402

_tfq = tfmot.quantization.keras
_QuantizeLayer = quantize_layer.QuantizeLayer
_QuantizeLayoutTransform = quantize_layout_transform.QuantizeLayoutTransform
_ModelTransformer = model_transformer.ModelTransformer

# Layer kind -> the attribute holding its quantizable weight.
WEIGHT_ATTRS = {"Dense": "kernel", "Conv2D": "kernel", "DepthwiseConv2D": "depthwise_kernel"}
# Layer kinds whose result is a new value range (a "transient" in the fixed-point QAT paper's words)
# and so gets an output quantizer. Layers not listed (pooling, reshape, dropout...) keep their
# input's scale, as in TFLite.
OUTPUT_KINDS = {"BatchNormalization", "ReLU", "Add", "Softmax"}
# Layer kinds with an ``activation`` attribute, quantized the tfmot way (QuantizeAwareActivation:
# after ReLU/linear, before sigmoid/softmax whose TFLite output ranges are fixed).
ACTIVATION_KINDS = {*WEIGHT_ATTRS, "Activation"}


def quantize_scope() -> contextlib.AbstractContextManager:
    """Custom objects needed to deserialize (clone, load) our QAT models."""
    return _tfq.quantize_scope({**CUSTOM_OBJECTS, **CONFIG_OBJECTS, **TFMOT_QUANTIZERS})


def weight_quantizer(spec: Quant, kind: str = "") -> WeightQuantizer:
    """The weight quantizer of a rule; ``kind`` is the layer's class name."""
    return WeightQuantizer(
        spec.bits,
        per_channel=spec.per_channel,
        squash=spec.kind in ("tanh", "fxp"),
        power_of_two=spec.kind == "fxp",
        regularization=spec.regularization,
        minmax=spec.minmax,
        squash_gain=spec.squash_gain,
        accumulator_bits=spec.accumulator_bits,
        depthwise=kind == "DepthwiseConv2D",
    )


def activation_quantizer(spec: Quant, model_input: bool = False):
    if spec.kind == "pow2":
        return PowerOfTwoActivationQuantizer(spec.bits)
    if spec.kind == "dynamic":
        return DynamicRangeQuantizer(spec.bits)
    if spec.kind == "minmax":
        # tfmot's own choices: all-values range on the model input, moving average elsewhere.
        cls = _tfq.quantizers.AllValuesQuantizer if model_input else (
            _tfq.quantizers.MovingAverageQuantizer)
        return cls(num_bits=spec.bits, per_axis=False, symmetric=False, narrow_range=False)
    raise KwsqError(f"'{spec.kind}' is a weight quantizer kind, not an activation one")


# Layers that pass values through unchanged in kind (so a weight layer behind them still
# reads their input's values).
PASS_THROUGH_KINDS = {"Flatten", "Reshape", "Dropout"}


def feeds_weight_layers(model: keras.Model) -> set[str]:
    """Names of the layers whose output is read only by weight layers (Dense, Conv2D,
    DepthwiseConv2D), looking through Flatten/Reshape/Dropout: the tensors TFLite's hybrid
    kernels quantize per row, and so where dynamic quantization belongs."""
    readers: dict[str, list[keras.layers.Layer]] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for inbound in tf.nest.flatten(node.inbound_layers):
                readers.setdefault(inbound.name, []).append(layer)

    def only_weights(name: str) -> bool:
        found = readers.get(name, [])
        if not found:
            return False
        for reader in found:
            kind = type(reader).__name__
            if kind in PASS_THROUGH_KINDS:
                if not only_weights(reader.name):
                    return False
            elif kind not in WEIGHT_ATTRS:
                return False
        return True

    return {layer.name for layer in model.layers if only_weights(layer.name)}


def layer_config(
    scheme: Scheme, stage: str, layer: keras.layers.Layer, is_model_output: bool,
    role: str | None = None, feeds_weights: bool = False,
) -> LayerQuantizeConfig:
    """The QuantizeConfig of one layer under a scheme and stage (possibly quantizing nothing)."""
    kind = type(layer).__name__
    weights = {}
    rule = scheme.weight_rule(kind, role)
    if kind in WEIGHT_ATTRS and rule is not None:
        weights[WEIGHT_ATTRS[kind]] = weight_quantizer(rule, kind)
    act = scheme.activations if stage == "all" else None
    if act is None:
        return LayerQuantizeConfig(weights)
    if act.kind == "dynamic":
        # Quantizes the next weight layer's input vector, as the hybrid kernel does.
        if is_model_output or not feeds_weights:
            return LayerQuantizeConfig(weights)
        return LayerQuantizeConfig(weights, output=activation_quantizer(act))
    if kind in ACTIVATION_KINDS:
        return LayerQuantizeConfig(weights, activation=activation_quantizer(act))
    if kind in OUTPUT_KINDS:
        return LayerQuantizeConfig(weights, output=activation_quantizer(act))
    return LayerQuantizeConfig(weights)


def _fresh(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.__class__.from_config(layer.get_config())


class _InputQuantize(_transforms.Transform):
    """InputLayer -> InputLayer + QuantizeLayer(our quantizer): tfmot's InputLayerQuantize
    with the quantizer chosen by the scheme instead of a fixed 8-bit one."""

    def __init__(self, quantizer) -> None:
        self.quantizer = quantizer

    def pattern(self):
        return _transforms.LayerPattern("InputLayer")

    def replacement(self, match_layer):
        layer = _QuantizeLayer(self.quantizer)
        config = _tfq_utils.serialize_layer(layer, use_legacy_format=True)
        config["name"] = layer.name
        return _transforms.LayerNode(config, input_layers=[match_layer])

    def custom_objects(self):
        return {"QuantizeLayer": _QuantizeLayer, **CUSTOM_OBJECTS, **TFMOT_QUANTIZERS}


class _Layout(_QuantizeLayoutTransform):
    """Only the input quantizer: every other layer carries its own LayerQuantizeConfig, so
    tfmot's batch-norm/activation rewrites (which skip custom configs anyway) are not run."""

    def __init__(self, input_quantizer) -> None:
        self.input_quantizer = input_quantizer

    def apply(self, model, layer_quantize_map):
        if self.input_quantizer is None:
            return model, layer_quantize_map
        return _ModelTransformer(
            model, [_InputQuantize(self.input_quantizer)], set(layer_quantize_map),
            layer_quantize_map,
        ).transform()


class _QuantizeScheme(_tfq.QuantizeScheme):
    def __init__(self, input_quantizer) -> None:
        self.input_quantizer = input_quantizer

    def get_layout_transformer(self):
        return _Layout(self.input_quantizer)

    def get_quantize_registry(self):
        return _tfq.default_8bit.Default8BitQuantizeRegistry()


def drop_input_build_config(model: keras.Model) -> None:
    """Make the model's QuantizeLayers reload from a .keras file.

    tfmot's QuantizeLayer.build never sets ``built``; when the saved config carries a
    ``build_config``, loading builds it once from that and again when the graph is rebuilt,
    creating its range variables twice ("expected 5 variables, received 3"). Without a
    build config the layer is built once, by the call."""
    for layer in model.layers:
        if isinstance(layer, _QuantizeLayer):
            layer._build_input_shape = None


# Layers TFLite runs at their input's scale (a weight layer behind them reads that scale).
SAME_SCALE_KINDS = {*PASS_THROUGH_KINDS, "AveragePooling2D", "MaxPooling2D",
                    "GlobalAveragePooling2D", "GlobalMaxPooling2D"}


def _pow2_scale_of(layer: keras.layers.Layer):
    """(quantizer, abs-max variable) of the power-of-two quantizer writing ``layer``'s
    output, looking back through layers that keep their input's scale; None if unknown."""
    for _ in range(64):
        if isinstance(layer, _QuantizeLayer):
            q = layer.quantizer
            return (q, layer.quantizer_vars["abs_max"]) if isinstance(
                q, PowerOfTwoActivationQuantizer) else None
        config = getattr(layer, "quantize_config", None)
        if isinstance(config, LayerQuantizeConfig):
            if config.output is not None:
                q = layer._output_quantizers[0]
                return (q, layer._output_quantizer_vars["abs_max"]) if isinstance(
                    q, PowerOfTwoActivationQuantizer) else None
            act = getattr(base_layer(layer), "activation", None)
            if config.activation is not None and hasattr(act, "_post_activation_vars"):
                q = act.quantizer
                return (q, act._post_activation_vars["abs_max"]) if isinstance(
                    q, PowerOfTwoActivationQuantizer) else None
        if type(base_layer(layer)).__name__ not in SAME_SCALE_KINDS:
            return None
        inbound = tf.nest.flatten(layer._inbound_nodes[0].inbound_layers)
        if len(inbound) != 1:
            return None
        layer = inbound[0]
    return None


def link_runtime_rounding(model: keras.Model) -> int:
    """Give each weight layer's power-of-two output quantizer the accumulator step
    ``s_in * s_w``, so its forward value is the deployed integer kernel's
    (``quantizers.runtime_requantize``: bias on the int32 grid, TFLite's two-stage rounding).
    The link is a Python attribute (not saved): ``quantize_model`` and ``load_model`` set it.
    Returns the number of layers linked."""
    linked = 0
    for wrapper in model.layers:
        config = getattr(wrapper, "quantize_config", None)
        if not isinstance(config, LayerQuantizeConfig) or not config.weights:
            continue
        act = getattr(base_layer(wrapper), "activation", None)
        if not isinstance(getattr(act, "quantizer", None), PowerOfTwoActivationQuantizer):
            continue
        (attr, wq), = config.weights.items()
        if not (isinstance(wq, WeightQuantizer) and wq.power_of_two):
            continue
        inbound = tf.nest.flatten(wrapper._inbound_nodes[0].inbound_layers)
        source = _pow2_scale_of(inbound[0]) if len(inbound) == 1 else None
        if source is None:
            continue
        in_q, in_var = source
        kernel = float_params(wrapper)[attr]

        def s_acc(in_q=in_q, in_var=in_var, wq=wq, kernel=kernel):
            return in_q.scale(in_var) * wq.scale(wq.transform(kernel))

        relu = _fused_relu(wrapper) if act.activation is keras.activations.linear else None
        if relu is None:
            act.quantizer.accumulator_scale = s_acc
        else:  # the converter fuses the ReLU: one requantization, at the ReLU's scale
            act.quantizer.defer = True
            relu._output_quantizers[0].accumulator_scale = s_acc
        linked += 1
    return linked


def _fused_relu(wrapper: keras.layers.Layer):
    """The plain ReLU wrapper (power-of-two output quantizer) that is ``wrapper``'s only
    reader, which TFLite's converter fuses into the weight op; else None."""
    readers = [node.outbound_layer for node in wrapper._outbound_nodes]
    if len(readers) != 1:
        return None
    relu = readers[0]
    inner = base_layer(relu)
    config = getattr(relu, "quantize_config", None)
    if not (isinstance(inner, keras.layers.ReLU) and isinstance(config, LayerQuantizeConfig)
            and isinstance(config.output, PowerOfTwoActivationQuantizer)):
        return None
    if inner.max_value is not None or float(inner.negative_slope) or float(inner.threshold):
        return None
    return relu


def attach_regularizers(model: keras.Model) -> None:
    """Add every weight quantizer's regularization term (if any) to ``model.losses``."""
    for wrapper in model.layers:
        config = getattr(wrapper, "quantize_config", None)
        if not isinstance(config, LayerQuantizeConfig):
            continue
        for attr, quantizer in config.weights.items():
            if isinstance(quantizer, WeightQuantizer) and (quantizer.regularization > 0
                                                           or quantizer.accumulator_bits):
                var = float_params(wrapper)[attr]
                model.add_loss(lambda q=quantizer, v=var: q.regularization_loss(v))


def check_applicable(scheme: str, model: keras.Model,
                     roles: dict[str, str] | None = None) -> None:
    """Refuse, in one line, a scheme that cannot mean what it says on ``model``.

    * role rules (mixed precision) that match no layer would silently fall back to the
      scheme's default width;
    * dynamic (hybrid) schemes need fully-connected weight layers: TFLite Micro and kwsq's
      runtime have no hybrid convolution kernels, and the papers use them on DNNs only.
    """
    spec = get_scheme(scheme)
    roles = models.layer_roles(model.name) if roles is None else roles
    kinds = {type(layer).__name__ for layer in model.layers}
    if spec.roles:
        present = set(roles.values())
        if not present & set(spec.roles):
            raise KwsqError(
                f"scheme '{scheme}' sets bits by layer role ({', '.join(spec.roles)}) but "
                f"model '{model.name}' declares no layer with that role (LAYER_ROLES in its "
                "model file); it would run as a uniform-width scheme")
    if spec.conversion in ("hybrid", "keras") and kinds & {"Conv2D", "DepthwiseConv2D"}:
        raise KwsqError(
            f"scheme '{scheme}' is dynamic (hybrid) quantization, which kwsq implements for "
            f"fully-connected models; '{model.name}' has convolutions (no hybrid conv "
            "kernels in TFLite Micro or kwsq's runtime)")


def quantize_model(model: keras.Model, scheme: str, stage: str,
                   roles: dict[str, str] | None = None) -> keras.Model:
    """Float model in, QAT-wrapped model (with the float weights) out.

    ``stage`` is one of the scheme's stages: ``"weights"`` quantizes only weights, ``"all"``
    everything the scheme quantizes. The float scheme returns ``model`` unchanged.
    Batch-norm layers are folded into their kernels first (``quant_configs.fold``), so
    the quantized kernel is the one conversion stores. ``roles`` (layer name -> role)
    defaults to the ``LAYER_ROLES`` of the registered model named ``model.name``.
    """
    spec = get_scheme(scheme)
    if not spec.stages:
        return model
    if stage not in spec.stages:
        raise KwsqError(
            f"scheme '{scheme}' has no stage '{stage}'; its stages: {', '.join(spec.stages)}"
        )
    roles = models.layer_roles(model.name) if roles is None else roles
    check_applicable(scheme, model, roles)
    model = fold_batchnorm(model)
    output_layers = {t._keras_history.layer.name for t in tf.nest.flatten(model.outputs)}
    feeding = feeds_weight_layers(model)

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer_config(spec, stage, layer, layer.name in output_layers,
                              roles.get(layer.name), layer.name in feeding)
        return _tfq.quantize_annotate_layer(_fresh(layer), config)

    inputs = spec.inputs if stage == "all" else None
    input_quantizer = None if inputs is None else activation_quantizer(inputs, model_input=True)
    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=annotate)
        qat = _tfq.quantize_apply(annotated, scheme=_QuantizeScheme(input_quantizer))
    drop_input_build_config(qat)
    copy_float_weights(model, qat)
    attach_regularizers(qat)
    link_runtime_rounding(qat)
    return qat


# Variables of a layer that are float model parameters (not quantizer state).
FLOAT_PARAMS = (
    "kernel", "depthwise_kernel", "pointwise_kernel", "bias",
    "gamma", "beta", "moving_mean", "moving_variance",
)


def _short(var: tf.Variable) -> str:
    return var.name.split("/")[-1].split(":")[0]


def base_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The float layer inside a tfmot wrapper (or the layer itself)."""
    return getattr(layer, "layer", layer)


def float_params(layer: keras.layers.Layer) -> dict[str, tf.Variable]:
    """Float parameters by short name. Read from the wrapper, not the wrapped layer: after
    quantize_apply the wrapped layer's kernel attribute is the fake-quantized tensor and
    only the wrapper still tracks the kernel variable."""
    return {_short(v): v for v in layer.weights if _short(v) in FLOAT_PARAMS}


def _by_base_name(model: keras.Model) -> Iterator[tuple[str, keras.layers.Layer]]:
    for layer in model.layers:
        yield base_layer(layer).name, layer


def copy_float_weights(src: keras.Model, dst: keras.Model) -> None:
    """Copy float parameters (kernels, biases, batch-norm) from ``src`` to ``dst`` by layer name.

    Either model may be float or QAT-wrapped. Every float parameter of ``dst`` must exist in
    ``src`` with the same shape; otherwise a KwsqError names the layer.
    """
    source = dict(_by_base_name(src))
    for name, layer in _by_base_name(dst):
        params = float_params(layer)
        if not params:
            continue
        if name not in source:
            raise KwsqError(f"layer '{name}' of {dst.name} has no counterpart in {src.name}")
        src_params = float_params(source[name])
        for key, var in params.items():
            if key not in src_params or tuple(src_params[key].shape) != tuple(var.shape):
                raise KwsqError(f"layer '{name}': parameter '{key}' does not match in {src.name}")
            var.assign(src_params[key])


def calibrate(model: keras.Model, batches: Iterable, strategy=None) -> None:
    """Set a QAT model's activation ranges from data without changing any float parameter.

    Runs the forward pass in training mode (so range variables update) with batch-norm
    frozen. Use it before evaluating a "naive" (not QAT-trained) quantized model. Pass the
    ``tf.distribute`` strategy the model was built under, if any.
    """
    frozen = []
    for layer in model.layers:
        inner = base_layer(layer)
        if isinstance(inner, keras.layers.BatchNormalization) and inner.trainable:
            inner.trainable = False
            frozen.append(inner)
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, tuple | list) else batch
            if strategy is None:
                model(x, training=True)
            else:  # range updates are replica-context assignments under a distribution strategy
                strategy.run(lambda v: model(v, training=True), args=(x,))
    finally:
        for inner in frozen:
            inner.trainable = True

