"""ReduceMean/Sum/Max/Min: axes as attribute (old opsets) or input (13 for Sum, 18 for the rest)."""

import numpy as np
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


NEW_REDUCE_OPS = ["ReduceProd", "ReduceL2", "ReduceLogSumExp"]


@pytest.mark.parametrize("opset", [13, NEWEST_OPSET])
@pytest.mark.parametrize("keepdims", [1, 0])
@pytest.mark.parametrize("axes", [[1], [-1], [0, 2], None], ids=lambda axes: f"axes{axes}")
@pytest.mark.parametrize("op_type", NEW_REDUCE_OPS)
def test_reduce_prod_l2_logsumexp(op_type, axes, keepdims, opset, target, rng):
    """axes is an attribute before opset 18 and an input from 18; ReduceProd over values of magnitude
    near 1 with either sign, so a product of all 1365 stays within float16's range."""
    shape = (3, 7, 13, 5)
    if op_type == "ReduceProd":
        x = (rng.uniform(0.97, 1.03, shape) * rng.choice([-1, 1], shape)).astype("float32")
    else:
        x = (rng.standard_normal(shape) * 3).astype("float32")
    attributes = {"keepdims": keepdims}
    inputs = [x]
    if axes is not None:
        if opset >= 18:
            inputs.append(const(axes, "int64"))
        else:
            attributes["axes"] = axes
    check_op(op_type, inputs, target, attributes, opset=opset, tolerance_scale=4)


def test_reduce_logsumexp_large_values(target, rng):
    """Values whose exponentials overflow float32 (the max is subtracted first)."""
    x = (rng.standard_normal((3, 7, 13)) * 10 + 200).astype("float32")
    check_op("ReduceLogSumExp", [x, const([1], "int64")], target, {"keepdims": 0}, tolerance_scale=4)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_reduce_prod_integers(dtype):
    from op_check import CPU_TARGETS

    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, (3, 5, 7)).astype(dtype)
    for target in CPU_TARGETS:
        check_op("ReduceProd", [x, const([1], "int64")], target)
