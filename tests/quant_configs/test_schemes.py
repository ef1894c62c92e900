"""The scheme table: every scheme name of docs/design.md is there and means what it says."""

import pytest

from pipeline.errors import KwsqError
from quant_configs import SCHEMES, get_scheme

NAMES = ["float", "int8", "w4a8", "w4-8", "tanh-w1", "tanh-w2", "tanh-w4", "tanh-w5",
         "tanh-w8", "dyn-w4", "dyn-w8", "fxp4", "fxp8"]


def test_table_covers_every_scheme_name():
    assert set(NAMES) <= set(SCHEMES)


def test_unknown_scheme_error_lists_valid_names():
    with pytest.raises(KwsqError) as info:
        get_scheme("int3")
    for name in NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_scheme_weight_bits_match_its_name(name):
    scheme = get_scheme(name)
    digits = "".join(c for c in name.split("-")[-1] if c.isdigit())
    if name == "float":
        assert scheme.stages == () and scheme.weight_bits is None
    elif name == "w4-8":
        assert scheme.weight_bits == 4
    else:
        assert scheme.weight_bits == int(digits[0] if name == "w4a8" else digits)
        assert scheme.weight_rule("Dense", "any").bits == scheme.weight_bits


def test_tanh_schemes_have_two_stages_weights_first():
    for bits in (1, 2, 4, 5, 8):
        assert get_scheme(f"tanh-w{bits}").stages == ("weights", "all")


def test_w4_8_follows_the_low_bit_paper_layer_assignment():
    scheme = get_scheme("w4-8")
    bits = {name: scheme.weight_rule("Dense", name).bits
            for name in ["bottleneck1", "hidden1", "bottleneck2", "hidden2", "bottleneck3",
                         "hidden3", "output"]}
    assert bits == {"bottleneck1": 8, "hidden1": 8, "bottleneck2": 4, "hidden2": 8,
                    "bottleneck3": 4, "hidden3": 8, "output": 8}
