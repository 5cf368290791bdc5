"""ReduceMean/Sum/Max/Min: axes as attribute (old opsets) or input (13 for Sum, 18 for the rest)."""

import pytest

from op_check import NEWEST_OPSET, check_op, const

REDUCE_OPS = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"]
SHAPE = (2, 7, 13, 5)


def axes_input_since(op_type):
    """The first opset in which `op_type` takes axes as an input."""
    return 13 if op_type == "ReduceSum" else 18


def reduce_op(op_type, axes, keepdims, opset, rng, shape=SHAPE, **extra):
    x = rng.standard_normal(shape, dtype="float32")
    attributes = {"keepdims": keepdims, **extra}
    inputs = [x]
    if axes is not None:
        if opset >= axes_input_since(op_type):
            inputs.append(const(axes, "int64"))
        else:
            attributes["axes"] = axes
    return inputs, attributes


@pytest.mark.parametrize("opset", [11, 13, NEWEST_OPSET])
@pytest.mark.parametrize("keepdims", [1, 0])
@pytest.mark.parametrize("axes", [[1], [-1], [2, 3], [0, 2], [0, 1, 2, 3], None],
                         ids=lambda axes: f"axes{axes}")
@pytest.mark.parametrize("op_type", REDUCE_OPS)
def test_reduce(op_type, axes, keepdims, opset, target, rng):
    """No axes reduces every dim."""
    inputs, attributes = reduce_op(op_type, axes, keepdims, opset, rng)
    check_op(op_type, inputs, target, attributes, opset=opset)


@pytest.mark.parametrize("op_type", REDUCE_OPS)
def test_reduce_noop_with_empty_axes(op_type, target, rng):
    """With noop_with_empty_axes=1 and no axes input the op copies its input."""
    inputs, attributes = reduce_op(op_type, None, 1, NEWEST_OPSET, rng, noop_with_empty_axes=1)
    check_op(op_type, inputs, target, attributes, opset=NEWEST_OPSET)


@pytest.mark.parametrize("op_type", REDUCE_OPS)
def test_reduce_long_axis(op_type, target, rng):
    """A long reduction (129 x 129) with a loosened tolerance for summation order."""
    inputs, attributes = reduce_op(op_type, [1, 2], 0, NEWEST_OPSET, rng, shape=(2, 129, 129))
    check_op(op_type, inputs, target, attributes, tolerance_scale=10)
