"""TopK: largest and smallest, axis, sorted, ties (lower index first), k as attribute before opset 10."""

import numpy as np
import pytest

from op_check import TARGETS, check_op, const

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("axis", [-1, 1, 0])
@pytest.mark.parametrize("largest", [1, 0])
def test_topk(k, axis, largest, target, rng):
    # Distinct values, exact in float16 too, so rounding creates no ties that reorder the indices.
    x = rng.permutation(13 * 13 * 5).reshape(13, 13, 5).astype("float32") / 8 - 50
    check_op("TopK", [x, const([k], "int64")], target, {"axis": axis, "largest": largest}, num_outputs=2)


@pytest.mark.parametrize("dtype", ["float32", "int64", "int32"])
def test_topk_ties(dtype, target, rng):
    x = rng.integers(0, 4, (3, 129)).astype(dtype)
    check_op("TopK", [x, const([7], "int64")], target, num_outputs=2)


@pytest.mark.parametrize("opset", [1, 10, 11])
def test_topk_opsets(opset, target, rng):
    """Opset 1 takes k as an attribute; 10 as an input; 11 adds largest and sorted."""
    x = rng.standard_normal((4, 129), dtype="float32")
    if opset == 1:
        check_op("TopK", [x], target, {"k": 5}, opset=opset, num_outputs=2)
    else:
        check_op("TopK", [x, const([5], "int64")], target, opset=opset, num_outputs=2)
