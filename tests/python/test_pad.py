"""Pad in constant, reflect and edge modes; pads as input (opset 11) and with axes (opset 18)."""

import numpy as np
import pytest
from onnx import helper

from op_check import NEWEST_OPSET, check_model, check_op, const, make_model

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


DTYPES = ["int32", "int64", "uint8", "int8", "bool", "float16"]


def values_of(dtype, shape, rng):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype == "float16":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-100 if dtype.startswith("int") else 0, 100, size=shape).astype(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pad_of_every_dtype(dtype, mode, target, rng):
    """The kernels move elements by width: every dtype pads, reading its own element size."""
    x = values_of(dtype, (3, 5, 7), rng)
    check_op("Pad", [x, const([1, 0, 2, 0, 2, 3], "int64")], target, {"mode": mode}, opset=NEWEST_OPSET)


@pytest.mark.parametrize("dtype", ["float32", *DTYPES])
@pytest.mark.parametrize("fed", [False, True], ids=["constant_value", "fed_value"])
def test_pad_value_of_every_dtype(dtype, fed, target, rng):
    """The pad value in the data's dtype, a constant or fed at run time."""
    x = values_of(dtype, (2, 3, 5), rng)
    value = np.array(True if dtype == "bool" else 7, dtype=dtype)
    check_op("Pad", [x, const([0, 1, 2, 1, 0, 3], "int64"), value if fed else const(value)], target,
             opset=NEWEST_OPSET)


def test_pad_value_computed_in_the_graph(target, rng):
    """A pad value produced by another node (as the expanded Attention function does)."""
    x = rng.standard_normal((2, 3, 5), dtype="float32")
    nodes = [helper.make_node("Neg", ["v"], ["nv"]), helper.make_node("Pad", ["x", "pads", "nv"], ["y"])]
    model, feeds = make_model(nodes, {"x": x, "pads": const([0, 0, 1, 1, 2, 0], "int64"),
                                      "v": np.array(2.5, dtype="float32")}, ["y"])
    check_model(model, feeds, target)
