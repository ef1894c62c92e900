"""Save and reload QAT models so that the reloaded model gives identical outputs.

Measured with tf_keras 2.21 + tfmot 0.8.1: the native ``.keras`` format round-trips every
scheme. ``.h5`` fails to reload ("Weight count mismatch" on the input QuantizeLayer) and
SavedModel cannot trace our quantizer objects, so only ``.keras`` is accepted. Loss terms
added with ``model.add_loss`` (the absolute-cosine regularizer) are not serialized by
Keras; ``load_model`` re-attaches them from the quantizers' configs.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tf_keras as keras  # noqa: E402

from pipeline.atomic import atomic_path  # noqa: E402
from pipeline.errors import KwsqError  # noqa: E402
from quant_configs.apply import (  # noqa: E402
    attach_regularizers,
    drop_input_build_config,
    link_runtime_rounding,
    quantize_scope,
)

SUFFIX = ".keras"


def _check(path: Path) -> Path:
    if path.suffix != SUFFIX:
        raise KwsqError(f"{path}: QAT models are saved as '{SUFFIX}' files (h5/SavedModel "
                        "do not round-trip tfmot models)")
    return path


def _rebuilt(model: keras.Model) -> keras.Model:
    """``model`` rebuilt from its config, with its weights.

    A model fresh from ``quantize_apply`` tracks its variables in a different structure
    than the same model rebuilt from its config (which is what loading does), so saving it
    directly gives a file that does not reload; saving the rebuilt copy does.
    """
    with quantize_scope():
        clone = keras.Model.from_config(model.get_config())
    for layer in clone.layers:
        layer.set_weights(model.get_layer(layer.name).get_weights())
    drop_input_build_config(clone)
    return clone


def save_model(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` (float or QAT) to ``path`` (must end in .keras), atomically."""
    path = _check(Path(path))
    clone = _rebuilt(model)
    # Keras picks the format from the suffix, so the temporary file keeps it.
    with atomic_path(path) as tmp:
        staged = tmp.with_name(tmp.name + SUFFIX)
        try:
            clone.save(staged)
            staged.replace(tmp)
        finally:
            staged.unlink(missing_ok=True)
    return path


def load_model(path: str | os.PathLike[str], compile: bool = False) -> keras.Model:
    """Reload a model written by ``save_model``, with its regularizers re-attached."""
    path = _check(Path(path))
    if not path.is_file():
        raise KwsqError(f"{path}: no such model file")
    with quantize_scope():
        model = keras.models.load_model(path, compile=compile)
    drop_input_build_config(model)
    attach_regularizers(model)
    link_runtime_rounding(model)
    return model
