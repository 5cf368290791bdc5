"""ReduceMean/Sum/Max/Min: axes as attribute (old opsets) or input (13 for Sum, 18 for the rest)."""

import numpy as np
import pytest

import metalnn
from op_check import NEWEST_OPSET, check_op, const, make_op_model

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


INTEGER_REDUCE_OPS = ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean"]


@pytest.mark.parametrize("axes", [[1], [0, 2], [2]], ids=lambda axes: f"axes{axes}")
@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("op_type", INTEGER_REDUCE_OPS)
def test_reduce_integers(op_type, dtype, axes, target, rng):
    """Integers reduce exactly in their own type; the reduced axes are longer than a SIMD-group and
    not a multiple of it. Prod reads values in [-1, 1] and a few 2s so that it cannot overflow."""
    shape = (3, 37, 5) if op_type == "ReduceProd" else (3, 67, 45)
    if op_type == "ReduceProd":
        x = rng.choice([-1, 1, 1, 2], size=shape, p=[0.3, 0.3, 0.38, 0.02])
    else:
        x = rng.integers(-1000, 1000, size=shape)
    if dtype == "int64" and op_type in ("ReduceSum", "ReduceMax", "ReduceMin"):
        x = x * 3_000_000_000  # beyond 32 bits, and beyond float's 24-bit mantissa
    check_op(op_type, [x.astype(dtype), const(axes, "int64")], target, {"keepdims": 0}, opset=NEWEST_OPSET)


def test_integer_reduce_mean_truncates_toward_zero(target):
    x = np.array([[-7, 0, 0], [7, 0, 0], [-1, -1, 0]], dtype="int32")
    model, feeds = make_op_model("ReduceMean", [x, const([1], "int64")], {"keepdims": 0})
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    np.testing.assert_array_equal(actual, np.array([-2, 2, 0], dtype="int32"))


@pytest.mark.parametrize("op_type,expected", [("ReduceMean", np.nan), ("ReduceSum", 0.0), ("ReduceProd", 1.0),
                                               ("ReduceMax", -np.inf), ("ReduceMin", np.inf), ("ReduceL2", 0.0),
                                               ("ReduceLogSumExp", -np.inf)])
def test_reduce_empty_float(op_type, expected, target):
    """Nothing reduced: the op's identity; Mean is 0 / 0."""
    x = np.zeros((2, 0, 3), dtype="float32")
    model, feeds = make_op_model(op_type, [x, const([1], "int64")], {"keepdims": 0})
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    np.testing.assert_array_equal(actual, np.full((2, 3), expected, dtype="float32"))


@pytest.mark.parametrize("op_type,expected", [("ReduceMax", False), ("ReduceMin", True)])
def test_reduce_empty_bool(op_type, expected, target):
    """Nothing reduced: any is false and all is true."""
    x = np.zeros((2, 0, 3), dtype=bool)
    model, feeds = make_op_model(op_type, [x, const([1], "int64")], {"keepdims": 1})
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    np.testing.assert_array_equal(actual, np.full((2, 1, 3), expected))


@pytest.mark.parametrize("op_type", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_reduce_empty_integers(op_type, dtype, target):
    """Nothing reduced: the op's identity (the dtype's lowest and highest for Max and Min), Mean 0."""
    x = np.zeros((2, 0, 3), dtype=dtype)
    model, feeds = make_op_model(op_type, [x, const([1], "int64")], {"keepdims": 0})
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    info = np.iinfo(dtype)
    identity = {"ReduceSum": 0, "ReduceMean": 0, "ReduceProd": 1, "ReduceMax": info.min, "ReduceMin": info.max}
    np.testing.assert_array_equal(actual, np.full((2, 3), identity[op_type], dtype=dtype))
