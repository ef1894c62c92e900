"""save_model/load_model: a QAT model reloads with identical outputs and its regularizers."""

import numpy as np
import pytest
import tf_keras as keras

import quant_configs as qc
from models import svd_dnn
from pipeline.errors import KwsqError

X = np.random.default_rng(5).standard_normal((16, 620)).astype(np.float32)


def test_qat_model_reloads_with_identical_outputs(tmp_path, scheme="fxp4"):
    # fxp4: custom weight and activation quantizers with state, and a regularizer
    keras.utils.set_random_seed(2)
    qat = qc.quantize_model(svd_dnn.build(), scheme, "all")
    qc.calibrate(qat, [X])  # non-default range variables must be saved too
    path = qc.save_model(qat, tmp_path / "model.keras")
    reloaded = qc.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(X, verbose=0), qat.predict(X, verbose=0))
    assert len(reloaded.losses) == len(qat.losses)
    np.testing.assert_allclose(sum(float(v) for v in reloaded.losses),
                               sum(float(v) for v in qat.losses), rtol=1e-6)


def test_save_model_refuses_formats_that_do_not_round_trip(tmp_path):
    with pytest.raises(KwsqError, match=".keras"):
        qc.save_model(svd_dnn.build(), tmp_path / "model.h5")


def test_load_model_missing_file_is_a_kwsq_error(tmp_path):
    with pytest.raises(KwsqError, match="no such"):
        qc.load_model(tmp_path / "absent.keras")
