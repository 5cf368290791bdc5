"""Kernel variants the foundation op tests leave out on the GPU devices: int32 and bool element
types, run-time gather indices, every cast pair, and the logical ops."""

import numpy as np
import pytest

import metalnn
from op_check import TARGETS, check_op, const

GPU_TARGETS = [t for t in TARGETS if t.device != "cpu"]
pytestmark = [
    pytest.mark.skipif(not GPU_TARGETS, reason="no GPU device"),
    pytest.mark.parametrize("target", GPU_TARGETS, ids=str),
]


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div"])
def test_int32_arithmetic(op_type, target, rng):
    a = rng.integers(1, 100, (2, 7, 13)).astype("int32")
    b = rng.integers(1, 9, (13,)).astype("int32")
    check_op(op_type, [a, b], target)


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
@pytest.mark.parametrize("op_type", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
def test_comparisons(op_type, dtype, target, rng):
    a = rng.integers(-3, 4, (2, 7, 13)).astype(dtype)
    b = rng.integers(-3, 4, (7, 1)).astype(dtype)
    check_op(op_type, [a, b], target, opset=16)


@pytest.mark.parametrize("op_type", ["And", "Or", "Xor"])
def test_logical(op_type, target, rng):
    a = rng.integers(0, 2, (2, 7, 13)).astype(bool)
    b = rng.integers(0, 2, (13,)).astype(bool)
    check_op(op_type, [a, b], target)


def test_not(target, rng):
    check_op("Not", [rng.integers(0, 2, (7, 13)).astype(bool)], target)


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_mod_integers(dtype, fmod, target, rng):
    a = rng.integers(-20, 21, (7, 13)).astype(dtype)
    b = rng.integers(1, 6, (13,)).astype(dtype) * rng.choice([-1, 1], 13).astype(dtype)
    check_op("Mod", [a, b], target, {"fmod": fmod})


def test_mod_float(target, rng):
    """Quarters and halves are exact in half, so fmod has no jumps to land on."""
    a = (rng.integers(-40, 41, (7, 13)) / 4).astype("float32")
    b = (rng.choice([1.5, 2.5, 3.0], 13) * rng.choice([-1, 1], 13)).astype("float32")
    check_op("Mod", [a, b], target, {"fmod": 1})


def test_bool_transpose(target, rng):
    check_op("Transpose", [rng.integers(0, 2, (3, 7, 13)).astype(bool)], target, {"perm": [2, 0, 1]})


@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_gather_run_time_indices(dtype, index_dtype, target, rng):
    x = rng.integers(-50, 50, (5, 7, 13)).astype(dtype)
    indices = rng.integers(-7, 7, (2, 3)).astype(index_dtype)
    check_op("Gather", [x, indices], target, {"axis": 1})


CASTS = [("float32", "int64"), ("int64", "float32"), ("float32", "int32"), ("int32", "float32"),
         ("float32", "bool"), ("bool", "float32"), ("int32", "int64"), ("int64", "int32"),
         ("int64", "bool")]


@pytest.mark.parametrize("source,destination", CASTS, ids=[f"{s}_to_{d}" for s, d in CASTS])
def test_cast_pairs(source, destination, target, rng):
    from onnx import helper
    x = (rng.uniform(-50, 50, (2, 7, 13)) * (rng.random((2, 7, 13)) < 0.8)).astype(source)
    check_op("Cast", [x], target, {"to": helper.np_dtype_to_tensor_dtype(np.dtype(destination))})
