"""Fold batch-norm into the preceding Dense/Conv2D/DepthwiseConv2D before QAT.

Why: the sub-8-bit QAT paper's stage 2 quantizes every component, batch-norm's gain and
offset included, so the deployed integers must be the trained ones. If batch-norm stays a
separate layer, TF's converter folds it into the kernel after training (moving the weights
off the grid stage 1 trained) or keeps MUL/ADD constants that break a shift-only
fixed-point path. Folding before QAT makes the kernel the quantizer sees the kernel the
device stores: ``W' = W * k``, ``b' = (b - mean) * k + beta`` with
``k = gamma / sqrt(var + eps)`` per output channel, and the fake-quantized ``W'`` is
exactly what conversion writes. The batch statistics are frozen from then on (the
standard "freeze batch-norm for QAT" choice), which is what inference uses anyway.
"""

from __future__ import annotations

import copy
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

FOLDABLE = ("Dense", "Conv2D", "DepthwiseConv2D")


def _inbound_names(layer_cfg: dict) -> list[str]:
    names = []
    for node in layer_cfg.get("inbound_nodes", []):
        for ref in node:
            names.append(ref[0])
    return names


def foldable_pairs(model: keras.Model) -> dict[str, str]:
    """Batch-norm layer name -> the layer it folds into.

    A pair folds when the batch-norm normalizes the last axis, reads the output of a
    Dense/Conv2D/DepthwiseConv2D with a linear activation, and is that output's only reader.
    """
    if not isinstance(model, keras.Model) or "layers" not in model.get_config():
        return {}
    cfg = model.get_config()
    by_name = {lc["config"]["name"]: lc for lc in cfg["layers"]}
    readers: dict[str, int] = {}
    for lc in cfg["layers"]:
        for name in _inbound_names(lc):
            readers[name] = readers.get(name, 0) + 1
    outputs = {ref[0] for ref in cfg["output_layers"]}
    pairs = {}
    for lc in cfg["layers"]:
        if lc["class_name"] != "BatchNormalization":
            continue
        axis = lc["config"].get("axis", -1)
        axis = axis[0] if isinstance(axis, list | tuple) and len(axis) == 1 else axis
        rank = len(model.get_layer(lc["config"]["name"]).input_shape)
        if axis not in (-1, rank - 1):
            continue
        sources = _inbound_names(lc)
        if len(sources) != 1:
            continue
        src = by_name[sources[0]]
        if (src["class_name"] in FOLDABLE and readers.get(sources[0], 0) == 1
                and sources[0] not in outputs
                and src["config"].get("activation", "linear") in ("linear", None)):
            pairs[lc["config"]["name"]] = sources[0]
    return pairs


def _fold_factors(bn: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """(k, shift) with bn(x) = k * x + shift in inference mode."""
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    var = np.asarray(bn.moving_variance.numpy(), np.float64)
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else np.zeros_like(mean)
    k = gamma / np.sqrt(var + bn.epsilon)
    return k, beta - mean * k


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with every foldable batch-norm folded (``model`` if none is).

    The folded model computes what ``model`` computes in inference mode (to float
    rounding); layer names are kept, folded layers gain a bias.
    """
    pairs = foldable_pairs(model)
    if not pairs:
        return model
    cfg = copy.deepcopy(model.get_config())
    targets = set(pairs.values())
    layers = []
    for lc in cfg["layers"]:
        name = lc["config"]["name"]
        if name in pairs:
            continue
        if name in targets:
            lc["config"]["use_bias"] = True
        for node in lc.get("inbound_nodes", []):
            for ref in node:
                ref[0] = pairs.get(ref[0], ref[0])
        layers.append(lc)
    cfg["layers"] = layers
    for ref in cfg["output_layers"]:
        ref[0] = pairs.get(ref[0], ref[0])
    folded = keras.Model.from_config(cfg)
    into = {v: k for k, v in pairs.items()}
    for layer in folded.layers:
        src = model.get_layer(layer.name)
        if layer.name not in into:
            layer.set_weights(src.get_weights())
            continue
        k, shift = _fold_factors(model.get_layer(into[layer.name]))
        kernel = np.asarray(src.get_weights()[0], np.float64)
        bias = (np.asarray(src.bias.numpy(), np.float64) if getattr(src, "use_bias", False)
                else np.zeros(k.shape))
        if type(src).__name__ == "DepthwiseConv2D":  # output channel c * mult + m
            kernel = kernel * k.reshape(kernel.shape[2], kernel.shape[3])
        else:
            kernel = kernel * k
        layer.set_weights([kernel.astype(np.float32), (bias * k + shift).astype(np.float32)])
    return folded
