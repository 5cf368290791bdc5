"""Softmax and LogSoftmax: opset < 13 flattens at `axis`, opset >= 13 works along one axis."""

import pytest

from op_check import NEWEST_OPSET, check_op

SHAPE = (2, 3, 7, 13)


@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset", [11, 13, NEWEST_OPSET])
@pytest.mark.parametrize("axis", [None, -1, 0, 1, 2, -3], ids=lambda a: f"axis{a}")
def test_softmax_axis(op_type, opset, axis, target, rng):
    """The default axis is 1 before opset 13 and -1 from it on; the meanings differ too."""
    x = rng.standard_normal(SHAPE, dtype="float32") * 4
    attributes = {} if axis is None else {"axis": axis}
    check_op(op_type, [x], target, attributes, opset=opset)


@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(4, 1000), (7,), (2, 129), (13, 1)])
def test_softmax_shapes(op_type, shape, target, rng):
    check_op(op_type, [rng.standard_normal(shape, dtype="float32") * 4], target)


@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax"])
def test_softmax_large_logits(op_type, target, rng):
    """Logits near 100 overflow exp() unless the maximum is subtracted first."""
    x = rng.standard_normal((2, 129), dtype="float32") + 100
    x[1] -= 200
    check_op(op_type, [x], target)
