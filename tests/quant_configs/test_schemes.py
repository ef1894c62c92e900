"""The scheme table: every scheme name of docs/design.md is there and means what it says."""

import re

import pytest

from pipeline.errors import KwsqError
from quant_configs import SCHEMES, get_scheme

NAMES = ["float", "int8", "w4a8", "w4-8", "tanh-w1", "tanh-w2", "tanh-w4", "tanh-w5",
         "tanh-w8", "dyn-w4", "dyn-w4-sym", "dyn-w8", "dyn-w4-8", "dyn-w16", "fxp4", "fxp8",
         "fxp4-acc16", "fxp8-acc16"]


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
    if name == "float":
        assert scheme.stages == () and scheme.weight_bits is None
    elif name in ("w4-8", "dyn-w4-8"):
        assert scheme.weight_bits == 4
        assert scheme.weight_rule("Dense", "bottleneck").bits == 4
        assert scheme.weight_rule("Dense").bits == 8
    else:
        assert scheme.weight_bits == int(re.findall(r"\d+", name)[0])
        assert scheme.weight_rule("Dense", "any").bits == scheme.weight_bits


def test_tanh_schemes_have_two_stages_weights_first():
    for bits in (1, 2, 4, 5, 8):
        assert get_scheme(f"tanh-w{bits}").stages == ("weights", "all")


@pytest.mark.parametrize("name", ["w4-8", "dyn-w4-8"])
def test_mixed_4_8_follows_the_papers_layer_assignment_on_svd_dnn(name):
    """4 bits on the first layer of each SVD pair that reads a sigmoid output, 8 elsewhere."""
    import models

    scheme = get_scheme(name)
    roles = models.layer_roles("svd_dnn")
    bits = {layer: scheme.weight_rule("Dense", roles.get(layer)).bits
            for layer in ["bottleneck1", "hidden1", "bottleneck2", "hidden2", "bottleneck3",
                          "hidden3", "output"]}
    assert bits == {"bottleneck1": 8, "hidden1": 8, "bottleneck2": 4, "hidden2": 8,
                    "bottleneck3": 4, "hidden3": 8, "output": 8}


@pytest.mark.parametrize("name", ["w4-8", "dyn-w4-8"])
def test_mixed_scheme_matching_no_layer_role_is_refused_in_one_line(name):
    import models
    from quant_configs import check_applicable

    with pytest.raises(KwsqError, match="declares no layer with that role") as info:
        check_applicable(name, models.builder("dnn250k")())
    assert "\n" not in str(info.value)


def test_dynamic_scheme_on_a_conv_model_is_refused_in_one_line():
    import models
    from quant_configs import check_applicable

    with pytest.raises(KwsqError, match="convolutions"):
        check_applicable("dyn-w4", models.builder("ds_cnn")())
