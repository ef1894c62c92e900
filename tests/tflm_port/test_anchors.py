"""The three third-party anchor models run unmodified and bit-exact with
TFLite Micro (reference kernels), and the arena size the runtime reports is
really enough."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_refs import ANCHORS, anchor_bytes, kwsq_run, random_inputs, tflm_run

from pipeline.device.runtime import Runtime
from pipeline.errors import KwsqError


@pytest.mark.parametrize("name", ANCHORS)
def test_anchor_outputs_are_bit_exact_with_tflite_micro(name: str) -> None:
    model = anchor_bytes(name)
    xs = random_inputs(model, 100, seed=ANCHORS.index(name))
    ours, ref = kwsq_run(model, xs), tflm_run(model, xs)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b), f"sample {i}: {a.ravel()} != {b.ravel()}"
    # The outputs must depend on the input, or equality would prove little.
    assert len({o.tobytes() for o in ref}) > 1


@pytest.mark.parametrize("name", ANCHORS)
def test_reported_arena_size_is_sufficient_and_tight(name: str) -> None:
    model = anchor_bytes(name)
    used = Runtime(model).arena_used_bytes
    xs = random_inputs(model, 3, seed=5)
    exact = Runtime(model, arena_bytes=used)
    assert exact.arena_used_bytes == used
    for x, ref in zip(xs, tflm_run(model, xs), strict=True):
        exact.set_input(x)
        exact.invoke()
        assert np.array_equal(exact.get_output(), ref)
    with pytest.raises(KwsqError, match="arena too small"):
        Runtime(model, arena_bytes=used - 8)
