"""ArgMax / ArgMin: axis, keepdims, select_last_index (opset 12), float and integer inputs."""

import numpy as np
import pytest

from op_check import OPSETS, TARGETS, check_op

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("keepdims", [1, 0])
@pytest.mark.parametrize("axis", [0, 1, -1, 2])
@pytest.mark.parametrize("op_type", ["ArgMax", "ArgMin"])
def test_arg_reduce(op_type, axis, keepdims, opset, target, rng):
    x = rng.standard_normal((2, 7, 13), dtype="float32")
    check_op(op_type, [x], target, {"axis": axis, "keepdims": keepdims}, opset=opset)


@pytest.mark.parametrize("select_last_index", [0, 1])
@pytest.mark.parametrize("dtype", ["float32", "int64", "int32"])
@pytest.mark.parametrize("op_type", ["ArgMax", "ArgMin"])
def test_arg_reduce_ties(op_type, dtype, select_last_index, target, rng):
    """Few distinct values: ties decide the index."""
    x = rng.integers(0, 3, (3, 129, 5)).astype(dtype)
    check_op(op_type, [x], target, {"axis": 1, "select_last_index": select_last_index})


def test_arg_max_default_axis(target, rng):
    check_op("ArgMax", [rng.standard_normal((13, 4), dtype="float32")], target)
