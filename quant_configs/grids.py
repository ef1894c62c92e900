"""The trained integer grid of every quantized kernel, for the converter's post-pass.

TF's converter re-scales 5..8-bit grids to [-127, 127] and cannot express per-column Dense
grids; the post-pass rewrites the stored weights from this description instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from quant_configs.apply import base_layer, float_params  # noqa: E402
from quant_configs.configs import LayerQuantizeConfig  # noqa: E402
from quant_configs.quantizers import WeightQuantizer, max_level  # noqa: E402


@dataclass(frozen=True)
class WeightGrid:
    """A kernel's grid: value = scale * integer, integer in [-max_level, max_level]
    (1 bit: value = +-scale). ``scales`` has one entry per output channel (last kernel
    axis) when ``per_channel``, else one entry. ``asymmetric``: a per-column min-max grid,
    whose integers ``q - z`` span up to ``[-(2**bits - 1), 2**bits - 1]`` (an int8
    container, never packed INT4)."""

    bits: int
    scales: np.ndarray
    per_channel: bool
    power_of_two: bool
    attribute: str = "kernel"
    asymmetric: bool = False

    @property
    def max_level(self) -> int:
        return 2**self.bits - 1 if self.asymmetric else max_level(self.bits)

    def integers(self, values: np.ndarray) -> np.ndarray:
        """The integer codes of quantized ``values`` (rounded; 1 bit gives -1/+1)."""
        q = np.round(values / self.scales)
        return np.where(q >= 0, 1, -1) if self.bits == 1 else q.astype(np.int32)


def _quantized_kernels(model: keras.Model):
    """(float layer name, attribute, weight quantizer, float value) of every quantized weight."""
    for layer in model.layers:
        config = getattr(layer, "quantize_config", None)
        if not isinstance(config, LayerQuantizeConfig):
            continue
        params = float_params(layer)
        for attr, quantizer in config.weights.items():
            if isinstance(quantizer, WeightQuantizer):
                yield base_layer(layer).name, attr, quantizer, params[attr]


def weight_grids(model: keras.Model) -> dict[str, WeightGrid]:
    """Layer name (the float model's name) -> grid of its quantized weight."""
    grids = {}
    for name, attr, quantizer, value in _quantized_kernels(model):
        t = quantizer.transform(value)
        grids[name] = WeightGrid(
            bits=quantizer.bits,
            scales=np.atleast_1d(quantizer.scale(t).numpy()).astype(np.float64),
            per_channel=quantizer.per_channel,
            power_of_two=quantizer.power_of_two,
            attribute=attr,
            asymmetric=quantizer.minmax,
        )
    return grids


def quantized_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """Layer name -> the fake-quantized weight values the QAT model computes with."""
    return {name: quantizer.quantize(value).numpy()
            for name, _, quantizer, value in _quantized_kernels(model)}
