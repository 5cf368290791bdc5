"""Tile: repeats per dim (constant), any dtype."""

import numpy as np
import pytest

from op_check import OPSETS, TARGETS, check_op, const

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)


@pytest.mark.parametrize("shape, repeats", [
    ((7,), [3]),
    ((2, 7, 13), [1, 2, 3]),
    ((3, 1, 5), [2, 13, 1]),
    ((2, 3), [1, 1]),
    ((4, 5), [0, 2]),
], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_tile(shape, repeats, dtype, target, rng):
    x = rng.standard_normal(shape).astype(dtype) if dtype != "bool" else rng.integers(0, 2, shape).astype(bool)
    check_op("Tile", [x, const(repeats, "int64")], target)


@pytest.mark.parametrize("opset", OPSETS)
def test_tile_opsets(opset, target, rng):
    check_op("Tile", [rng.standard_normal((2, 3, 5), dtype="float32"), const([2, 1, 3], "int64")], target, opset=opset)
