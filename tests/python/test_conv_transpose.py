"""ConvTranspose (1-D and 2-D): strides, pads, dilations, groups, output_padding, output_shape, auto_pad."""

import pytest

from op_check import OPSETS, TARGETS, check_op, const

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)

CASES = {
    "basic": dict(x=(1, 3, 7, 7), w=(3, 4, 3, 3), attrs={}),
    "stride2_pad1": dict(x=(2, 3, 7, 13), w=(3, 5, 3, 3), attrs={"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "stride2_output_padding": dict(x=(1, 4, 5, 5), w=(4, 2, 4, 4),
                                   attrs={"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
    "asymmetric": dict(x=(1, 2, 6, 9), w=(2, 3, 2, 5), attrs={"strides": [3, 2], "pads": [0, 2, 1, 0]}),
    "dilated": dict(x=(1, 2, 7, 7), w=(2, 3, 3, 3), attrs={"dilations": [2, 2]}),
    "groups": dict(x=(2, 6, 5, 5), w=(6, 2, 3, 3), attrs={"group": 3, "strides": [2, 2]}),
    "depthwise": dict(x=(1, 8, 13, 13), w=(8, 1, 4, 4), attrs={"group": 8, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "output_shape": dict(x=(1, 3, 5, 5), w=(3, 2, 3, 3), attrs={"strides": [2, 2], "output_shape": [10, 11]}),
    "same_upper": dict(x=(1, 3, 5, 7), w=(3, 2, 3, 3), attrs={"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    "same_lower": dict(x=(1, 3, 5, 7), w=(3, 2, 4, 4), attrs={"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    "1d": dict(x=(2, 3, 13), w=(3, 4, 5), attrs={"strides": [3], "pads": [1, 2]}),
    "wide": dict(x=(1, 64, 16, 16), w=(64, 32, 2, 2), attrs={"strides": [2, 2]}),
}


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_conv_transpose(case, with_bias, target, rng):
    spec = CASES[case]
    x = rng.standard_normal(spec["x"], dtype="float32")
    w = rng.standard_normal(spec["w"], dtype="float32")
    inputs = [x, const(w)]
    if with_bias:
        inputs.append(const(rng.standard_normal(spec["w"][1] * spec["attrs"].get("group", 1), dtype="float32")))
    check_op("ConvTranspose", inputs, target, spec["attrs"], tolerance_scale=10)


@pytest.mark.parametrize("opset", OPSETS)
def test_conv_transpose_opsets_runtime_weight(opset, target, rng):
    x = rng.standard_normal((1, 3, 7, 7), dtype="float32")
    w = rng.standard_normal((3, 2, 3, 3), dtype="float32")
    check_op("ConvTranspose", [x, w], target, {"strides": [2, 2]}, opset=opset, tolerance_scale=10)
