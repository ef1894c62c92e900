"""weight_grids describes exactly the grid the QAT model computes with."""

import numpy as np
import pytest
import tf_keras as keras

import models
import quant_configs as qc
from models import cnn, svd_dnn


@pytest.mark.parametrize("scheme", ["w4-8", "tanh-w1", "dyn-w4", "dyn-w4-8", "fxp4"])
def test_quantized_kernels_are_scale_times_integers_in_range(scheme):
    keras.utils.set_random_seed(4)
    qat = qc.quantize_model(svd_dnn.build(), scheme, "all")
    grids = qc.weight_grids(qat)
    kernels = qc.quantized_weights(qat)
    assert grids.keys() == kernels.keys()
    spec = qc.get_scheme(scheme)
    for name, kernel in kernels.items():
        grid = grids[name]
        rule = spec.weight_rule("Dense", models.layer_roles("svd_dnn").get(name))
        assert (grid.bits, grid.per_channel) == (rule.bits, rule.per_channel)
        assert grid.scales.shape == ((kernel.shape[-1],) if grid.per_channel else (1,))
        if grid.power_of_two:
            np.testing.assert_array_equal(np.log2(grid.scales), np.round(np.log2(grid.scales)))
        codes = kernel / grid.scales
        np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)
        levels = np.unique(np.round(codes))
        if grid.bits == 1:
            assert set(levels) <= {-1.0, 1.0}
        else:
            assert np.abs(levels).max() <= grid.max_level
            assert grid.asymmetric == rule.minmax
            if grid.asymmetric:  # 2**k levels per column, within an int8 container
                for column in np.round(codes).T:
                    assert column.max() - column.min() <= 2**grid.bits - 1
        np.testing.assert_array_equal(grid.integers(kernel), np.round(codes))


def test_conv_kernels_get_per_channel_grids():
    qat = qc.quantize_model(cnn.build(), "w4a8", "all")
    grids = qc.weight_grids(qat)
    assert grids["conv2"].per_channel and grids["conv2"].scales.shape == (32,)
    assert not grids["output"].per_channel
