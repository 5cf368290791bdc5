"""Pad in constant, reflect and edge modes; pads as input (opset 11) and with axes (opset 18)."""

import pytest

from op_check import NEWEST_OPSET, check_op, const

SHAPE = (2, 3, 7, 13)

# name: pads for the 4 dims (begins then ends)
PADS = {
    "spatial": [0, 0, 1, 2, 0, 0, 3, 1],
    "symmetric": [0, 0, 2, 2, 0, 0, 2, 2],
    "channels_and_batch": [1, 2, 0, 0, 0, 1, 0, 0],
    "end_only": [0, 0, 0, 0, 0, 0, 1, 5],
    "none": [0, 0, 0, 0, 0, 0, 0, 0],
}
MODES = ["constant", "reflect", "edge"]


@pytest.mark.parametrize("opset", [11, 13, NEWEST_OPSET])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pads", PADS.values(), ids=PADS.keys())
def test_pad(pads, mode, opset, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Pad", [x, const(pads, "int64")], target, {"mode": mode}, opset=opset)


@pytest.mark.parametrize("value", [0.0, -1.5])
def test_pad_constant_value(value, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32")
    pads = const(PADS["spatial"], "int64")
    check_op("Pad", [x, pads, const(value, "float32")], target, {"mode": "constant"}, opset=11)


def test_pad_negative_crops(target, rng):
    """Negative pads remove elements."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Pad", [x, const([0, 0, -1, 2, 0, 0, 1, -3], "int64")], target, opset=11)


@pytest.mark.parametrize("opset", [18, NEWEST_OPSET])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("axes,pads",
                         [([2, 3], [1, 2, 3, 1]), ([-1], [4, 2]), ([3, 1], [1, 0, 2, 1])],
                         ids=["spatial", "negative_axis", "unordered"])
def test_pad_axes(axes, pads, mode, opset, target, rng):
    """From opset 18 an optional axes input says which dims the pads belong to."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    inputs = [x, const(pads, "int64"), const(0.25, "float32"), const(axes, "int64")]
    check_op("Pad", inputs, target, {"mode": mode}, opset=opset)
