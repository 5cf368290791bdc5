"""Ops whose GPU kernels exist per element dtype: each dtype checked on every device against ONNX Runtime."""

import numpy as np
import pytest
from onnx import helper

import metalnn
from op_check import TARGETS, check_op, const, make_op_model

RNG = np.random.default_rng(7)


def ints(shape, dtype):
    return RNG.integers(-50, 50, size=shape).astype(dtype)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("op", ["Max", "Min"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_min_max(target, op, dtype):
    check_op(op, [ints((3, 7, 5), dtype), ints((1, 7, 1), dtype)], target)


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_float_mod_follows_the_divisor_sign(target):
    a = RNG.uniform(-9, 9, size=(2, 5, 13)).astype(np.float32)
    b = RNG.choice([-3.5, -1.25, 2.0, 4.5], size=(5, 1)).astype(np.float32)
    check_op("Mod", [a, b], target, attributes={"fmod": 0}, tolerance_scale=10)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("base,exponent", [("float32", "float16"), ("float16", "float32")])
def test_pow_with_mixed_float_dtypes(target, base, exponent):
    x = RNG.uniform(0.5, 2.0, size=(3, 9)).astype(base)
    y = RNG.uniform(-2.0, 2.0, size=(1, 9)).astype(exponent)
    check_op("Pow", [x, y], target, tolerance_scale=10)


def run_engine(target, op, inputs, attributes=None):
    """ONNX Runtime has no bool kernels for these ops; NumPy is the reference."""
    model, feeds = make_op_model(op, inputs, attributes)
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    return engine.run(feeds)["output0"]


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("op,reduce", [("ReduceMax", np.any), ("ReduceMin", np.all)])
def test_bool_reduce(target, op, reduce):
    x = RNG.random((3, 5, 7)) > 0.3
    actual = run_engine(target, op, [x, const([1], np.int64)], {"keepdims": 1})
    np.testing.assert_array_equal(actual, reduce(x, axis=1, keepdims=True))


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_where_of_each_dtype(target, dtype):
    cond = RNG.random((2, 1, 11)) > 0.5
    check_op("Where", [cond, ints((3, 11), dtype), ints((2, 3, 1), dtype)], target)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("dtype", ["uint8", "int8"])
def test_where_of_bytes(target, dtype):
    cond = RNG.random((2, 1, 11)) > 0.5
    a, b = (RNG.integers(0 if dtype == "uint8" else -100, 100, size=s).astype(dtype) for s in [(3, 11), (2, 3, 1)])
    check_op("Where", [cond, a, b], target)


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_where_of_bool(target):
    cond, a, b = RNG.random((2, 1, 11)) > 0.5, RNG.random((3, 11)) > 0.5, RNG.random((2, 3, 1)) > 0.5
    actual = run_engine(target, "Where", [cond, a, b])
    np.testing.assert_array_equal(actual, np.where(cond, a, b))


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("constant_indices", [True, False], ids=["constant", "fed"])
def test_gather_of_bool_data(target, index_dtype, constant_indices):
    """1-byte data (the bool attention masks of transformer exports), indices constant or fed."""
    x = RNG.random((3, 7, 5)) > 0.5
    idx = np.array([[4, -1], [0, 6], [2, 2]], dtype=index_dtype)
    indices = const(idx) if constant_indices else idx
    actual = run_engine(target, "Gather", [x, indices], {"axis": 1})
    np.testing.assert_array_equal(actual, np.take(x, idx, axis=1))
    eidx = RNG.integers(-7, 7, size=(3, 4, 5)).astype(index_dtype)
    eindices = const(eidx) if constant_indices else eidx
    actual = run_engine(target, "GatherElements", [x, eindices], {"axis": 1})
    np.testing.assert_array_equal(actual, np.take_along_axis(x, np.where(eidx < 0, eidx + 7, eidx), axis=1))


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("base,exponent", [("int32", "int32"), ("int64", "int64"), ("int32", "int64"),
                                           ("int64", "int32"), ("float32", "int32"), ("float32", "int64")])
def test_pow_with_integer_operands(target, base, exponent):
    """Integer bases multiply exactly (7^18 needs 51 bits, beyond float's mantissa, within the double the
    references compute in); each operand is read as its own dtype."""
    big = base == "int64"
    x = RNG.integers(-7 if big else -6, 8 if big else 7, size=(2, 5, 13)).astype(base)
    y = RNG.integers(0, 19 if big else 8, size=(5, 1)).astype(exponent)
    if base.startswith("float"):
        x = RNG.uniform(-2.0, 2.0, size=(2, 5, 13)).astype(base)
    check_op("Pow", [x, y], target, tolerance_scale=10)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("base", ["int32", "int64"])
def test_pow_of_integer_base_with_float_exponent(target, base):
    """A float exponent: integral values stay exact, fractional ones truncate like a cast of pow."""
    x = RNG.integers(0, 40, size=(3, 1, 7)).astype(base)
    y = np.array([[0.0], [0.5], [1.0], [2.0], [3.0], [1.5]], dtype=np.float32)
    check_op("Pow", [x, y], target)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("base", ["int32", "int64"])
def test_pow_of_integer_base_with_negative_exponent(target, base):
    """x^-n truncates to 0 except for 1 and -1."""
    x = np.array([[-2], [-1], [1], [3]], dtype=base)
    y = np.array([-3, -2, -1, 0, 2], dtype=base)
    actual = run_engine(target, "Pow", [x, y])
    expected = np.array([[0, 0, 0, 1, 4], [-1, 1, -1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 1, 9]], dtype=base)
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("op", ["Neg", "Abs"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_neg_abs(target, op, dtype):
    x = RNG.integers(-(2**40) if dtype == "int64" else -(2**30), 2**30, size=(3, 17)).astype(dtype)
    check_op(op, [x], target)


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_equal_of_bool(target):
    a, b = RNG.random((2, 3, 7)) > 0.5, RNG.random((3, 1)) > 0.5
    check_op("Equal", [a, b], target)


CAST_DTYPES = ["float32", "float16", "int64", "int32", "uint8", "int8", "bool"]


@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("to", CAST_DTYPES)
@pytest.mark.parametrize("source", CAST_DTYPES)
def test_cast_between_every_pair(target, source, to):
    """Every ordered pair of stored dtypes (uint8 and bool share a byte but not a meaning: 2 -> true).
    Values 0..100 hold in every dtype, float ones with a fraction that a cast to an integer drops."""
    x = RNG.integers(0, 101, size=(3, 5, 7)).astype(np.float32)
    x[0, 0] = 0
    if source.startswith("float"):
        x = x + 0.25
    x = x.astype(source)
    check_op("Cast", [x], target, attributes={"to": helper.np_dtype_to_tensor_dtype(np.dtype(to))})
