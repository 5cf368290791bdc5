"""Gather along every axis with scalar, 1-D, 2-D and negative indices."""

import numpy as np
import pytest

from op_check import OPSETS, check_op, const

# name: (indices, axis)
GATHER_CASES = {
    "scalar_axis0": (1, 0),
    "scalar_axis1": (-2, 1),
    "vector_axis0": ([1, 0, 1], 0),
    "vector_axis1": ([6, 0, 3, 3], 1),
    "vector_last": ([4, -1, 0], -1),
    "matrix_axis2": ([[0, 5], [12, 7], [3, 3]], 2),
    "negative": ([-7, -1], 1),
}


@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
@pytest.mark.parametrize("case", GATHER_CASES.values(), ids=GATHER_CASES.keys())
def test_gather(case, index_dtype, target, rng):
    indices, axis = case
    x = rng.standard_normal((2, 7, 13, 5), dtype="float32")
    check_op("Gather", [x, const(indices, index_dtype)], target, {"axis": axis})


@pytest.mark.parametrize("opset", OPSETS)
def test_gather_embedding_lookup(opset, target, rng):
    """Constant table, indices fed at run time."""
    table = const(rng.standard_normal((129, 13), dtype="float32"))
    indices = rng.integers(0, 129, (2, 7)).astype("int64")
    check_op("Gather", [table, indices], target, opset=opset)


def test_gather_shape_element(target):
    """Gather of one element of an int64 vector, as exported shape code does."""
    check_op("Gather", [np.array([2, 7, 13], dtype="int64"), const(1, "int64")], target)
