"""Accumulator bounds: tight (reached by a worst-case input), and never exceeded by
TFLite's own integer arithmetic reproduced in numpy."""

import numpy as np

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)


def test_bounds_are_the_worst_case_partial_sums_of_every_fully_connected(trained):
    from pipeline.tflite import accumulators
    from pipeline.tflite import schema as tfs

    data = trained("w4a8")[2]
    side = accumulators.bounds(data)
    assert side["format"] == accumulators.FORMAT and len(side["operators"]) == 7
    model = tfs.load(data)
    sg = model.subgraphs[0]
    rng = np.random.default_rng(0)
    for entry in side["operators"]:
        op = sg.operators[entry["index"]]
        w = tfs.tensor_values(model, sg.tensors[op.inputs[1]]).astype(np.int64)  # [out, in]
        z = entry["input_zero_point"]
        # the adversarial input of each channel reaches the bound exactly
        hi, lo = 127 - z, z + 128  # x - z in [-lo, hi]
        up = (w * np.where(w >= 0, hi, -lo)).sum(axis=1)
        down = (w * np.where(w >= 0, -lo, hi)).sum(axis=1)
        assert max(up.max(), -down.min()) == entry["partial_sum_bound"]
        # random int8 inputs never exceed it, partial sums included
        x = rng.integers(-128, 128, size=(64, w.shape[1])) - z
        partial = np.cumsum(w[None, :, :] * x[:, None, :], axis=2)
        assert np.abs(partial).max() <= entry["partial_sum_bound"]
        assert entry["fits_int16"] == (entry["with_bias_bound"] <= 32767)
        assert 2 ** (entry["bits"] - 1) > entry["with_bias_bound"]
