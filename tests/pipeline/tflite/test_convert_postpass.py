"""The post-pass's per-channel FULLY_CONNECTED weights are honoured by LiteRT and TFLM.

TF's converter refuses per-column Dense grids, so the post-pass writes them into a
per-tensor conversion; this checks both interpreters compute with every column's own
scale, against float math in numpy on the stored integers.
"""

from __future__ import annotations

import numpy as np

import pipeline  # noqa: F401


def test_per_channel_fully_connected_matches_numpy_in_litert_and_tflm() -> None:
    import tf_keras as keras

    from pipeline.tflite import convert, postpass, verify
    from pipeline.tflite import schema as tfs

    rng = np.random.default_rng(0)
    inp = keras.Input((16,))
    model = keras.Model(inp, keras.layers.Dense(6, name="fc")(inp))
    kernel = rng.normal(size=(16, 6)) * np.array([0.01, 0.1, 1.0, 0.05, 0.5, 2.0])  # column spread
    model.get_layer("fc").set_weights([kernel.astype(np.float32),
                                       rng.normal(size=6).astype(np.float32)])
    x = rng.normal(size=(64, 16)).astype(np.float32)
    fb = tfs.load(convert.convert_integer(model, x))
    scales = np.abs(kernel).max(0) / 127
    levels = np.round(kernel / scales).astype(np.int8)
    postpass.apply_grids(fb, {"fc": postpass.LayerWeights("fc", levels, scales, 8)})
    data = tfs.dump(fb)

    sg = fb.subgraphs[0]
    op = sg.operators[0]
    w_q, b_q = (tfs.quant(sg.tensors[op.inputs[i]]) for i in (1, 2))
    assert w_q.per_channel and w_q.scales.size == 6
    spec = verify.io_spec(data)
    xq = verify.quantize_input(x, spec)
    stored_w = tfs.tensor_values(fb, sg.tensors[op.inputs[1]]).astype(np.float64)
    stored_b = tfs.tensor_values(fb, sg.tensors[op.inputs[2]]).astype(np.float64)
    real = ((xq.astype(np.float64) - spec.input_zero_point) * spec.input_scale
            @ (stored_w * w_q.scales[:, None]).T + stored_b * b_q.scales)
    expected = np.clip(np.round(real / spec.output_scale) + spec.output_zero_point, -128, 127)
    for run in (verify.run_litert, verify.run_tflm):
        got = run(data, xq).astype(np.float64)
        assert np.abs(got - expected).max() <= 1, run.__name__
