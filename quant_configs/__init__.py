"""Quantization schemes for kwsq as tfmot QuantizeConfigs (docs/design.md, scheme table).

Public interface used by training and conversion: the scheme table (``SCHEMES``,
``get_scheme``), ``quantize_model`` (float -> QAT model for a scheme stage),
``copy_float_weights``, ``calibrate``, ``quantize_scope``, ``save_model``/``load_model``
and ``weight_grids`` (the trained integer grid of every quantized kernel).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from quant_configs.apply import (  # noqa: E402
    calibrate,
    check_applicable,
    copy_float_weights,
    quantize_model,
    quantize_scope,
)
from quant_configs.fold import fold_batchnorm  # noqa: E402
from quant_configs.grids import WeightGrid, quantized_weights, weight_grids  # noqa: E402
from quant_configs.schemes import SCHEMES, Quant, Scheme, get_scheme  # noqa: E402
from quant_configs.storage import load_model, save_model  # noqa: E402

__all__ = [
    "SCHEMES",
    "Quant",
    "Scheme",
    "WeightGrid",
    "calibrate",
    "check_applicable",
    "fold_batchnorm",
    "copy_float_weights",
    "get_scheme",
    "load_model",
    "quantize_model",
    "quantize_scope",
    "quantized_weights",
    "save_model",
    "weight_grids",
]
