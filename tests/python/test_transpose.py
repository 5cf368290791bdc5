"""Transpose with explicit and default permutations."""

import pytest

from op_check import OPSETS, check_op

PERMUTATIONS = {
    "2d": ((13, 7), [1, 0]),
    "3d_swap_last": ((2, 7, 13), [0, 2, 1]),
    "3d_rotate": ((2, 7, 13), [2, 0, 1]),
    "nchw_to_nhwc": ((2, 7, 13, 5), [0, 2, 3, 1]),
    "nhwc_to_nchw": ((2, 13, 5, 7), [0, 3, 1, 2]),
    "4d_heads": ((2, 7, 3, 13), [0, 2, 1, 3]),
    "5d": ((2, 3, 5, 7, 4), [4, 2, 0, 3, 1]),
    "identity": ((2, 7, 13), [0, 1, 2]),
    "large": ((129, 65), [1, 0]),
    "default_reverse": ((2, 7, 13, 5), None),
}


@pytest.mark.parametrize("case", PERMUTATIONS.values(), ids=PERMUTATIONS.keys())
def test_transpose(case, target, rng):
    shape, perm = case
    attributes = {} if perm is None else {"perm": perm}
    check_op("Transpose", [rng.standard_normal(shape, dtype="float32")], target, attributes)


@pytest.mark.parametrize("opset", OPSETS)
def test_transpose_opsets(opset, target, rng):
    x = rng.standard_normal((2, 7, 13, 5), dtype="float32")
    check_op("Transpose", [x], target, {"perm": [0, 3, 1, 2]}, opset=opset)


def test_transpose_int64(target, rng):
    x = rng.integers(-100, 100, (3, 7, 13)).astype("int64")
    check_op("Transpose", [x], target, {"perm": [2, 0, 1]})
