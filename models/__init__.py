"""Keyword-spotting model builders, one module per model, registered by name.

Every builder takes the input shape (without batch) and the number of classes and
returns an uncompiled tf_keras model (Keras 2: tfmot refuses Keras 3 models).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# name -> module defining ``build(input_shape, num_classes, **params)``, ``FEATURES`` and,
# optionally, ``LAYER_ROLES`` (layer name -> role, for mixed-precision schemes) and
# ``WINDOWS`` (named input windows: features + data settings, for ``--window``)
REGISTRY: dict[str, str] = {
    "cnn": "models.cnn",
    "dnn250k": "models.dnn250k",
    "ds_cnn": "models.ds_cnn",
    "svd_dnn": "models.svd_dnn",
}


def names() -> list[str]:
    return sorted(REGISTRY)


def module(name: str):
    """The module of a registered model; raises KwsqError naming the known models."""
    from pipeline.errors import KwsqError

    if name not in REGISTRY:
        raise KwsqError(f"unknown model '{name}'; known models: {', '.join(names())}")
    return importlib.import_module(REGISTRY[name])


def builder(name: str) -> Callable:
    return module(name).build


def layer_roles(name: str) -> dict[str, str]:
    """Layer name -> role declared by a registered model's file ({} for unknown models)."""
    if name not in REGISTRY:
        return {}
    return dict(getattr(module(name), "LAYER_ROLES", {}))


def windows(name: str) -> dict[str, dict]:
    """Input window name -> ``{"features": ..., "data": ...}`` settings a registered model
    declares (``WINDOWS`` in its file; {} when it has no alternatives)."""
    return dict(getattr(module(name), "WINDOWS", {}))
