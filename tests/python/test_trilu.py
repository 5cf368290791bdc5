"""Trilu (opset 14): upper and lower, k absent, positive, negative and past the matrix, non-square
and batched matrices, every dtype the engine stores (ONNX Runtime has no int8/uint8 Trilu, so
those compare with NumPy)."""

import numpy as np
import pytest

import metalnn
from op_check import check_op, const, make_op_model

SHAPES = [(5, 7), (7, 5), (3, 6, 6), (2, 3, 4, 9)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, 0, 2, -3, 11, -20])
def test_trilu(shape, upper, k, target, rng):
    x = rng.standard_normal(shape, dtype="float32")
    inputs = [x] if k is None else [x, const(k, "int64")]
    check_op("Trilu", inputs, target, {"upper": upper})


@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "int32", "bool"])
@pytest.mark.parametrize("upper", [0, 1])
def test_trilu_dtypes(dtype, upper, target, rng):
    x = (rng.integers(1, 100, (2, 5, 7)) % (2 if dtype == "bool" else 100)).astype(dtype)
    check_op("Trilu", [x, const(-1, "int64")], target, {"upper": upper})


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("upper", [0, 1])
def test_trilu_bytes(dtype, upper, target, rng):
    x = rng.integers(1, 100, (3, 4, 7)).astype(dtype)
    model, feeds = make_op_model("Trilu", [x, const(1, "int64")], {"upper": upper})
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    expected = np.triu(x, 1) if upper else np.tril(x, 1)
    np.testing.assert_array_equal(actual, expected)
    assert actual.dtype == expected.dtype


def test_trilu_empty(target):
    check_op("Trilu", [np.zeros((0, 5), "float32")], target)


def test_trilu_vector_rejected():
    model, _ = make_op_model("Trilu", [np.zeros((2, 3), "float32")])
    del model.graph.input[0].type.tensor_type.shape.dim[0]
    with pytest.raises(metalnn.ShapeError, match="trilu_node.*has 1 dims, expected at least 2"):
        metalnn.load(model)


def test_trilu_k_of_two_values():
    model, _ = make_op_model("Trilu", [np.zeros((2, 3), "float32"), const([1, 2], "int64")])
    with pytest.raises(metalnn.ShapeError, match="trilu_node.*k has 2 values, expected one"):
        metalnn.load(model)
