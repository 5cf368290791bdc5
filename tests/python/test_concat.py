"""Concat along every axis, of inputs and constants, float and int64."""

import pytest

from op_check import OPSETS, check_op, const


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_concat(axis, count, target, rng):
    shapes = []
    for i in range(count):
        shape = [2, 7, 13, 5]
        shape[axis] += i * 2
        shapes.append(tuple(shape))
    inputs = [rng.standard_normal(shape, dtype="float32") for shape in shapes]
    check_op("Concat", inputs, target, {"axis": axis})


def test_concat_with_constant(target, rng):
    x = rng.standard_normal((2, 7, 13), dtype="float32")
    c = const(rng.standard_normal((2, 3, 13), dtype="float32"))
    check_op("Concat", [c, x, c], target, {"axis": 1})


@pytest.mark.parametrize("opset", OPSETS)
def test_concat_opsets(opset, target, rng):
    a = rng.standard_normal((2, 129), dtype="float32")
    b = rng.standard_normal((2, 7), dtype="float32")
    check_op("Concat", [a, b], target, {"axis": -1}, opset=opset)


def test_concat_int64(target, rng):
    a = rng.integers(-5, 5, (3,)).astype("int64")
    check_op("Concat", [a, const([7, -1], "int64")], target, {"axis": 0})
