"""One generic tfmot ``QuantizeConfig``: which weights, activations and outputs of a layer to
quantize, and with which quantizer.

Schemes (``quant_configs.schemes``) are tables that fill this config per layer, so a new
scheme never needs a new config class. The config serializes its quantizers with
``keras.utils.serialize_keras_object`` so that ``get_config`` round-trips through
``__init__`` (quantize_apply clones the model, and saved models must reload).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402

from quant_configs.quantizers import CUSTOM_OBJECTS  # noqa: E402

QuantizeConfig = tfmot.quantization.keras.QuantizeConfig

# Names of the tfmot quantizers our configs use, for deserialization.
TFMOT_QUANTIZERS = {
    "MovingAverageQuantizer": tfmot.quantization.keras.quantizers.MovingAverageQuantizer,
    "AllValuesQuantizer": tfmot.quantization.keras.quantizers.AllValuesQuantizer,
    "LastValueQuantizer": tfmot.quantization.keras.quantizers.LastValueQuantizer,
}


def _serialize(quantizer):
    return None if quantizer is None else keras.utils.serialize_keras_object(quantizer)


def _deserialize(config):
    if config is None or not isinstance(config, dict):
        return config
    return keras.utils.deserialize_keras_object(
        config, custom_objects={**CUSTOM_OBJECTS, **TFMOT_QUANTIZERS}
    )


class LayerQuantizeConfig(QuantizeConfig):
    """Quantize the named weight attributes, the layer's activation and/or its output.

    ``weights`` maps a layer attribute (``kernel``, ``depthwise_kernel``...) to its quantizer.
    ``activation`` quantizes ``layer.activation`` the tfmot way (after ReLU/linear, before
    sigmoid/softmax whose output ranges are fixed in TFLite). ``output`` quantizes the layer
    output (for layers without an ``activation`` attribute: batch-norm, ReLU, Add).
    """

    def __init__(self, weights: dict | None = None, activation=None, output=None) -> None:
        self.weights = {k: _deserialize(v) for k, v in (weights or {}).items()}
        self.activation = _deserialize(activation)
        self.output = _deserialize(output)

    def get_weights_and_quantizers(self, layer):
        return [(getattr(layer, attr), q) for attr, q in self.weights.items()]

    def get_activations_and_quantizers(self, layer):
        if self.activation is None or not hasattr(layer, "activation"):
            return []
        return [(layer.activation, self.activation)]

    def set_quantize_weights(self, layer, quantize_weights):
        for attr, value in zip(self.weights, quantize_weights, strict=True):
            setattr(layer, attr, value)

    def set_quantize_activations(self, layer, quantize_activations):
        if quantize_activations:
            layer.activation = quantize_activations[0]

    def get_output_quantizers(self, layer):
        return [] if self.output is None else [self.output]

    def get_config(self) -> dict:
        return {
            "weights": {k: _serialize(v) for k, v in self.weights.items()},
            "activation": _serialize(self.activation),
            "output": _serialize(self.output),
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LayerQuantizeConfig) and self.get_config() == other.get_config()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)


CONFIG_OBJECTS = {"LayerQuantizeConfig": LayerQuantizeConfig}
