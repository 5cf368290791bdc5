"""CumSum (opset 14): float32, float16 (computed in float32), int32 and int64; every axis incl. negative ones, exclusive and
reverse, odd sizes, batch > 1, int32 and int64 axis inputs; a bad axis."""

import numpy as np
import pytest

from onnx import numpy_helper

import metalnn
from op_check import check_op, const, make_op_model

SHAPES = [(13,), (3, 7), (2, 5, 7), (2, 3, 5, 3)]


def values(shape, dtype, rng):
    if dtype.startswith("float"):
        return rng.standard_normal(shape, dtype="float32").astype(dtype)
    return rng.integers(-50, 50, shape).astype(dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
def test_cumsum_axes(shape, exclusive, reverse, target, rng):
    x = values(shape, "float32", rng)
    for axis in range(-len(shape), len(shape)):
        check_op("CumSum", [x, const(axis, "int64")], target, {"exclusive": exclusive, "reverse": reverse})


@pytest.mark.parametrize("dtype", ["float32", "float16", "int32", "int64"])
@pytest.mark.parametrize("axis_dtype", ["int32", "int64"])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum_dtypes(dtype, axis_dtype, exclusive, reverse, target, rng):
    x = values((2, 9, 5), dtype, rng)
    # ONNX Runtime sums float16 in float16; the engine in float32.
    check_op("CumSum", [x, const(-2, axis_dtype)], target, {"exclusive": exclusive, "reverse": reverse},
             tolerance_scale=300 if dtype == "float16" and target.precision == "float32" else 1)


def test_cumsum_long_axis(target, rng):
    """A 1-D axis input of one element, and a long axis."""
    x = rng.standard_normal((3, 1031), dtype="float32")
    check_op("CumSum", [x, const([1], "int64")], target, tolerance_scale=10)


@pytest.mark.parametrize("axis", [3, -4])
def test_cumsum_bad_axis(axis):
    model, _ = make_op_model("CumSum", [np.zeros((2, 3, 4), "float32"), const(0, "int64")])
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.array(axis, "int64"), "input1"))
    with pytest.raises(metalnn.ModelError, match=f"cumsum_node.*axis {axis} is out of range for rank 3"):
        metalnn.load(model)
