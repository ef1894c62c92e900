"""Shared fixtures of the TFLite tests (conversion, verification, inspection).

* ``converted_run``: a run folder trained briefly on the tiny corpus and converted with
  ``kwsq convert`` (once per session).
* ``trained``: ``trained(scheme)`` -> (float model, final QAT model, converted bytes, test x,
  test y): short QAT runs of the SVD DNN on separable synthetic clusters, cached per scheme,
  so the network is confident and argmax agreement is meaningful.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)


def make_run(corpus: Path, root: Path, scheme: str = "int8", name: str = "r"):
    """A run folder trained briefly on the tiny corpus (config, float and QAT models)."""
    import tf_keras as keras

    import models
    import quant_configs
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig
    from pipeline.train.runs import Run, RunConfig

    run = Run(root / name)
    feats = FeatureConfig.from_dict(models.module("svd_dnn").FEATURES)
    data_cfg = data_mod.DataConfig(path=str(corpus), cache_dir=str(root / "cache"))
    run.write_config(RunConfig(name=name, model="svd_dnn", scheme=scheme,
                               data=data_cfg.to_dict(), features=feats.to_dict()))
    x, y = data_mod.arrays(data_cfg, feats, "training")
    keras.utils.set_random_seed(0)
    float_model = models.builder("svd_dnn")(input_shape=x.shape[1:], num_classes=12)
    float_model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    float_model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    quant_configs.save_model(float_model, run.float_model_path)
    qat = quant_configs.quantize_model(float_model, scheme, "all")
    qat.compile(keras.optimizers.Adam(5e-4), "sparse_categorical_crossentropy")
    qat.fit(x, y, epochs=1, batch_size=32, verbose=0)
    quant_configs.save_model(qat, run.model_path)
    return run


@pytest.fixture(scope="session")
def converted_run(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """An int8 run converted with ``kwsq convert`` (size table skipped: tested apart)."""
    from pipeline.cli import main

    run = make_run(tiny_corpus, tmp_path_factory.mktemp("runs"))
    assert main(["convert", str(run.path), "--no-size-table"]) == 0
    return run


INPUT = 620
CLASSES = 12


def clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around fixed class centres: learnable in a couple of epochs."""
    centres = np.random.default_rng(1234).normal(size=(CLASSES, INPUT))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n).astype(np.int32)
    x = centres[y] + rng.normal(size=(n, INPUT))
    return x.astype(np.float32), y


@functools.cache
def _float_weights() -> tuple:
    """One float pre-training shared by every scheme (the QAT stages differ)."""
    import tf_keras as keras

    import models

    keras.utils.set_random_seed(0)
    x, y = clusters(384, seed=1)
    model = models.builder("svd_dnn")(input_shape=(INPUT,), num_classes=CLASSES)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    return tuple(model.get_weights())


@functools.cache
def _trained(scheme: str):
    """(float model, final QAT model, converted bytes, test x, test y) for ``scheme``."""
    import tf_keras as keras

    import models
    import quant_configs
    from pipeline.tflite import convert

    x, y = clusters(384, seed=1)
    build = models.builder("svd_dnn")
    float_model = build(input_shape=(INPUT,), num_classes=CLASSES)
    float_model.set_weights(list(_float_weights()))
    keras.utils.set_random_seed(0)
    model = float_model
    stages = quant_configs.get_scheme(scheme).stages
    for stage in stages:
        model = quant_configs.quantize_model(float_model, scheme, stage)
        model.compile(keras.optimizers.Adam(5e-4), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        if stage != stages[-1]:
            quant_configs.copy_float_weights(model, float_model)
    graph = build(input_shape=(INPUT,), num_classes=CLASSES)
    data = convert.convert_qat(model, scheme, x[:100], graph)
    xt, yt = clusters(300, seed=2)
    return float_model, model, data, xt, yt


@pytest.fixture(scope="session")
def trained() -> Callable[[str], tuple]:
    """``trained(scheme)``: see the module docstring; each scheme is trained once."""
    return _trained
