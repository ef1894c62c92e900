"""Put the trained weight grids back into a converted .tflite (the flatbuffer post-pass).

TF's converter loses or refuses parts of what QAT trained (docs/design.md, conversion facts):
5..7-bit grids are rescaled to [-127, 127], per-column grids on Dense do not convert,
one-bit and other grids computed with plain ops arrive as float constants that the
converter re-quantizes on its own per-tensor int8 grid, and hybrid (dynamic-range)
conversion quantizes weights itself. The post-pass therefore rewrites every quantized
layer's weight tensor from the Keras model: the integer levels ``q = w_hat / s`` of the
trained grid, the trained scales (per tensor or per output channel, power-of-two ones
bit for bit), INT4 packing for grids of at most 4 bits, and the bias requantized to the
new ``input_scale * weight_scale``. Layers are matched to operators by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import KwsqError
from pipeline.tflite import schema as tfs

# Operators whose input 1 is a weight tensor the post-pass knows how to lay out.
WEIGHT_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
GRID_TOLERANCE = 1e-3  # max |w_hat / s - round(w_hat / s)| for weights "on the grid"


@dataclass
class LayerWeights:
    """A layer's trained weights on its grid, in Keras layout."""

    name: str
    levels: np.ndarray  # integers q, Keras kernel layout (Dense: [in, out])
    scales: np.ndarray  # shape () per tensor, or (out_channels,)
    bits: int
    power_of_two: bool = False
    asymmetric: bool = False  # per-column min-max grid: levels q - z, int8 container
    bias: np.ndarray | None = None  # the trained float bias (restored in hybrid models)

    @property
    def per_channel(self) -> bool:
        return self.scales.ndim == 1 and self.scales.size > 1


def levels_on_grid(name: str, w_hat: np.ndarray, scales: np.ndarray, bits: int,
                   asymmetric: bool = False) -> np.ndarray:
    """The integer levels of fake-quantized weights; an error if they are not on the grid.

    ``asymmetric``: a min-max grid, whose levels ``q - z`` span ``+-(2**bits - 1)``."""
    s = np.asarray(scales, np.float64)
    ratio = np.asarray(w_hat, np.float64) / np.where(s == 0, 1.0, s)
    q = np.round(ratio)
    off = float(np.max(np.abs(ratio - q))) if q.size else 0.0
    if off > GRID_TOLERANCE:
        raise KwsqError(f"weights of layer '{name}' are not on their {bits}-bit grid "
                        f"(off by {off:.3g} steps); the scheme's weight_grids and the "
                        "quantizer disagree")
    limit = 2**bits - 1 if asymmetric else max(1, 2 ** (bits - 1) - 1)
    if np.abs(q).max(initial=0) > limit:
        raise KwsqError(f"weights of layer '{name}' exceed the {bits}-bit range +-{limit}")
    return q.astype(np.int8)


def _tokens(*names: str) -> set[str]:
    out: set[str] = set()
    for name in names:
        for part in name.replace(";", "/").split("/"):
            out.add(part)
            if part.startswith("quant_"):
                out.add(part[len("quant_"):])
    return out


def _tflite_layout(op: str, levels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """Keras kernel -> the operator's weight layout, or None if it does not fit."""
    if op == "FULLY_CONNECTED" and levels.ndim == 2:
        out = levels.T
    elif op == "CONV_2D" and levels.ndim == 4:  # [kh, kw, in, out] -> [out, kh, kw, in]
        out = levels.transpose(3, 0, 1, 2)
    elif op == "DEPTHWISE_CONV_2D" and levels.ndim == 4:  # [kh, kw, in, m] -> [1, kh, kw, in*m]
        kh, kw, cin, mult = levels.shape
        out = levels.reshape(1, kh, kw, cin * mult)
    else:
        return None
    return out if tuple(out.shape) == tuple(shape) else None


def apply_grids(model, layers: dict[str, LayerWeights], hybrid: bool = False,
                check: bool = True) -> list[str]:
    """Rewrite the weight tensors of ``layers`` in ``model`` (a ModelT) in place.

    ``hybrid``: the model is a dynamic-range conversion (float activations); its
    FULLY_CONNECTED ops are switched to per-row asymmetric input quantization.
    ``check``: refuse when the converter's weights are not the trained kernel up to
    rounding (only the size table, which re-grids a float model on purpose, turns it off).
    Returns the names of the layers rewritten; raises KwsqError when a layer cannot be
    found among the weight operators or its operator cannot be rewritten.
    """
    done: list[str] = []
    for sg in model.subgraphs:
        for op in sg.operators:
            name = tfs.op_name(model, op)
            inputs = [int(i) for i in op.inputs]
            if len(inputs) < 2 or inputs[1] < 0:
                continue
            weight = sg.tensors[inputs[1]]
            if not tfs.is_constant(model, weight):
                continue
            # Only the weight tensor's name: fused outputs also name neighbouring layers
            # (a bottleneck's bias is folded into the next layer's).
            matches = [n for n in layers if n in _tokens(tfs.tensor_name(weight))]
            if not matches:
                continue
            if len(matches) > 1:
                raise KwsqError(f"{name} operator '{tfs.tensor_name(weight)}' matches several "
                                f"layers ({', '.join(matches)}); cannot tell whose weights "
                                "it holds")
            layer = layers[matches[0]]
            if name not in WEIGHT_OPS:
                raise KwsqError(f"layer '{layer.name}' with {layer.bits}-bit weights became a "
                                f"{name} operator, which the post-pass cannot rewrite "
                                f"(supported: {', '.join(WEIGHT_OPS)})")
            if layer.name in done:
                raise KwsqError(f"layer '{layer.name}' feeds more than one operator")
            _rewrite(model, sg, op, name, layer, hybrid, check)
            done.append(layer.name)
    missing = sorted(set(layers) - set(done))
    if missing:
        raise KwsqError(f"layers {', '.join(missing)} have trained weight grids but no "
                        f"{'/'.join(WEIGHT_OPS)} operator holds their weights; the post-pass "
                        "cannot restore them")
    return done


def _along(values: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """Per-channel ``values`` shaped to broadcast along ``axis`` of an ``ndim`` tensor."""
    shape = [1] * ndim
    if values.size > 1:
        shape[axis] = values.size
    return values.reshape(shape)


def _check_same_weights(model, weight, layer: LayerWeights, levels: np.ndarray,
                        scales: np.ndarray, axis: int) -> None:
    """The converter's weights must be the trained kernel up to rounding, else it folded
    something into them (batch-norm in a float graph) and overwriting would be wrong."""
    stored = tfs.tensor_values(model, weight).astype(np.float64)
    q = tfs.quant(weight)
    if q is None:
        old, old_step = stored, 0.0
    else:
        old_step = _along(q.scales.astype(np.float64), stored.ndim, q.axis)
        old = (stored - _along(q.zero_points.astype(np.float64), stored.ndim, q.axis)) * old_step
    new_step = _along(scales.astype(np.float64), levels.ndim, axis)
    new = levels.astype(np.float64) * new_step
    limit = 0.5 * old_step + 0.5 * new_step + 1e-6 * (np.abs(new).max() + 1e-12)
    if np.any(np.abs(old - new) > limit):
        raise KwsqError(f"layer '{layer.name}': the converter's weights differ from the trained "
                        "kernel (something, e.g. a batch-norm, was folded into them); the "
                        "post-pass cannot restore the trained grid of this model")


def _rewrite(model, sg, op, op_kind: str, layer: LayerWeights, hybrid: bool,
             check: bool) -> None:
    inputs = [int(i) for i in op.inputs]
    weight = sg.tensors[inputs[1]]
    shape = tuple(int(d) for d in weight.shape)
    levels = _tflite_layout(op_kind, layer.levels, shape)
    if levels is None:
        raise KwsqError(f"layer '{layer.name}': kernel shape {layer.levels.shape} does not map "
                        f"onto the {op_kind} weight tensor of shape {list(shape)}")
    axis = 3 if op_kind == "DEPTHWISE_CONV_2D" else 0
    channels = shape[axis]
    scales = np.asarray(layer.scales, np.float32).reshape(-1)
    if scales.size not in (1, channels):
        raise KwsqError(f"layer '{layer.name}': {scales.size} scales for {channels} channels")
    if op_kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and scales.size == 1 and not hybrid:
        # TFLite's integer conv kernels want one scale per output channel.
        scales = np.full(channels, scales[0], np.float32)
    old_wq = tfs.quant(weight)
    if check:
        _check_same_weights(model, weight, layer, levels, scales, axis)
    # LiteRT's hybrid (float-activation) kernels take INT4 weights only in
    # FULLY_CONNECTED; hybrid convolutions keep a <=4-bit grid in INT8 storage.
    packed = (layer.bits <= 4 and not layer.asymmetric
              and (op_kind == "FULLY_CONNECTED" or not hybrid))
    tfs.set_tensor_values(model, weight, levels,
                          tfs.TensorType.INT4 if packed else tfs.TensorType.INT8)
    tfs.set_quant(weight, scales, np.zeros(scales.size, np.int64), axis if scales.size > 1 else 0)

    bias_index = inputs[2] if len(inputs) > 2 else -1
    if hybrid:
        opts = op.builtinOptions
        if op_kind == "FULLY_CONNECTED" and opts is not None:
            opts.asymmetricQuantizeInputs = True
        _restore_float_bias(model, sg, op, layer)
        return
    if bias_index < 0:
        return
    bias = sg.tensors[bias_index]
    in_q = tfs.quant(sg.tensors[inputs[0]])
    bias_q = tfs.quant(bias)
    bias_types = (tfs.TensorType.INT32, tfs.TensorType.INT64)  # int64: 16x8 models
    if bias.type not in bias_types or in_q is None or bias_q is None or old_wq is None:
        raise KwsqError(f"layer '{layer.name}': expected an integer bias and quantized input "
                        f"in the {op_kind} operator")
    real_bias = tfs.tensor_values(model, bias).astype(np.float64) * bias_q.scales.astype(
        np.float64)
    new_scales = np.float64(in_q.scales[0]) * scales.astype(np.float64)
    q_bias = np.round(real_bias / np.broadcast_to(new_scales, real_bias.shape))
    bits = 32 if bias.type == tfs.TensorType.INT32 else 64
    limit = float(2 ** (bits - 1) - 1)
    q_bias = np.clip(q_bias, -limit, limit).astype(np.int32 if bits == 32 else np.int64)
    tfs.set_tensor_values(model, bias, q_bias, int(bias.type))
    tfs.set_quant(bias, new_scales.astype(np.float32), np.zeros(new_scales.size, np.int64),
                  0)


def _restore_float_bias(model, sg, op, layer: LayerWeights) -> None:
    """Give a hybrid operator its layer's own trained bias.

    The converter folds a linear layer's bias into the next layer's (``(x W1 + b1) W2 + b2
    = x W1 W2' + (b1 W2 + b2)``), which is exact in float but not under per-row input
    quantization: the next hybrid kernel would quantize ``x W1`` instead of ``x W1 + b1``,
    the row the trained model quantizes. Every rewritten layer gets its own bias back
    (a new tensor where the converter dropped it), so the file computes what Keras does.
    """
    if layer.bias is None:
        return
    bias = np.asarray(layer.bias, np.float32).reshape(-1)
    inputs = [int(i) for i in op.inputs]
    if len(inputs) > 2 and inputs[2] >= 0:
        tensor = sg.tensors[inputs[2]]
        if tensor.type != tfs.TensorType.FLOAT32 or tfs.num_elements(tensor) != bias.size:
            raise KwsqError(f"layer '{layer.name}': unexpected bias tensor in its hybrid "
                            "operator")
        if tensor.buffer in _shared_buffers(sg, inputs[2]):
            inputs[2] = tfs.add_constant(model, sg, f"{layer.name}/bias", bias,
                                         tfs.TensorType.FLOAT32)
            op.inputs = np.asarray(inputs, np.int32)
        else:
            tfs.set_tensor_values(model, tensor, bias, tfs.TensorType.FLOAT32)
        return
    index = tfs.add_constant(model, sg, f"{layer.name}/bias", bias, tfs.TensorType.FLOAT32)
    op.inputs = np.asarray([*inputs[:2], index], np.int32)


def _shared_buffers(sg, tensor_index: int) -> set[int]:
    """Buffers of ``tensor_index`` that another tensor also uses (rewriting would leak)."""
    mine = sg.tensors[tensor_index].buffer
    return {mine} if any(t.buffer == mine for i, t in enumerate(sg.tensors)
                         if i != tensor_index) else set()


# ---------------------------------------------------------------- Keras side: trained grids


def trained_weights(qat_model) -> dict[str, LayerWeights]:
    """Every quantized kernel of a QAT model as integer levels and scales.

    Layers quantized by a kwsq scheme give their fake-quantized kernel and grid through
    ``quant_configs.quantized_weights``/``weight_grids``; layers wrapped by tfmot's own
    default configs (a ``LastValueQuantizer``) are evaluated through the wrapper's
    quantizer and its min/max variables. Either way the levels are checked to lie on the
    grid, so a grid the converter would silently re-round is caught here.
    """
    import quant_configs

    grids = quant_configs.weight_grids(qat_model)
    values = quant_configs.quantized_weights(qat_model)
    out: dict[str, LayerWeights] = {}
    for name, grid in grids.items():
        scales = np.asarray(grid.scales, np.float64).reshape(-1)
        scales = scales.reshape(-1) if grid.per_channel else scales[:1].reshape(())
        levels = levels_on_grid(name, values[name], scales, int(grid.bits), grid.asymmetric)
        out[name] = LayerWeights(name, levels, scales, int(grid.bits), bool(grid.power_of_two),
                                 bool(grid.asymmetric), _float_bias(qat_model, name))
    for layer in qat_model.layers:
        inner = getattr(layer, "layer", layer)
        weight_vars = getattr(layer, "_weight_vars", None)
        if inner.name in out or not weight_vars:
            continue
        kernels = [(w, qz, qv) for w, qz, qv in weight_vars
                   if w.name.split("/")[-1].split(":")[0] in ("kernel", "depthwise_kernel")]
        if len(kernels) != 1:
            continue
        weight, quantizer, qvars = kernels[0]
        w_hat = np.asarray(quantizer(weight, False, weights=qvars))
        bits, scales = _tfmot_grid(inner.name, quantizer, qvars)
        scales = scales.reshape(()) if scales.size == 1 else scales.reshape(-1)
        out[inner.name] = LayerWeights(inner.name, levels_on_grid(inner.name, w_hat, scales, bits),
                                       scales, bits)
    return out


def _tfmot_grid(name: str, quantizer, qvars) -> tuple[int, np.ndarray]:
    bits = getattr(quantizer, "num_bits", None)
    if (bits is None or "min_var" not in qvars or not getattr(quantizer, "symmetric", False)
            or not getattr(quantizer, "narrow_range", False)):
        raise KwsqError(f"layer '{name}': unknown weight quantizer {type(quantizer).__name__}; "
                        "cannot tell its grid")
    lo = np.abs(np.asarray(qvars["min_var"], np.float64))
    hi = np.abs(np.asarray(qvars["max_var"], np.float64))
    # a symmetric narrow-range fake-quant spans [-max, max] in 2 * (2**(bits-1) - 1) steps
    scales = np.maximum(lo, hi) / (2 ** (bits - 1) - 1)
    return int(bits), scales


def _float_bias(qat_model, name: str) -> np.ndarray | None:
    from quant_configs.apply import base_layer, float_params

    for layer in qat_model.layers:
        if base_layer(layer).name == name:
            bias = float_params(layer).get("bias")
            return None if bias is None else np.asarray(bias.numpy(), np.float32)
    return None
