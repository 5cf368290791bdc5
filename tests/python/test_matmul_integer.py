"""MatMulInteger against ONNX Runtime: int8/uint8 operands, zero points per tensor and per column,
batched A, odd sizes."""

import numpy as np
import pytest

import metalnn
from op_check import check_op, const, make_op_model

QTYPES = ["int8", "uint8"]


def _check(inputs, target):
    if target.precision == "float16":  # its int32 sums would overflow the float16 math after it
        with pytest.raises(metalnn.UnsupportedOpError, match="matmulinteger_node.*float16 precision"):
            check_op("MatMulInteger", inputs, target, opset=10)
    else:
        check_op("MatMulInteger", inputs, target, opset=10)


def _ints(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


@pytest.mark.parametrize("b_type", QTYPES)
@pytest.mark.parametrize("a_type", QTYPES)
def test_matmul_integer(a_type, b_type, target, rng):
    a, b = _ints(rng, (3, 5, 13), a_type), _ints(rng, (13, 7), b_type)
    _check([a, const(b), const(_ints(rng, (), a_type)), const(_ints(rng, (), b_type))], target)


@pytest.mark.parametrize("b_type", QTYPES)
def test_matmul_integer_per_column_zero_point(b_type, target, rng):
    a, b = _ints(rng, (2, 129), "uint8"), _ints(rng, (129, 9), b_type)
    _check([a, b, None, const(_ints(rng, (9,), b_type))], target)


def test_matmul_integer_without_zero_points(target, rng):
    _check([_ints(rng, (1, 1, 4, 3), "int8"), _ints(rng, (3, 1), "int8")], target)


@pytest.mark.parametrize("b_shape,error,match", [
    ((2, 3, 4), metalnn.UnsupportedOpError, r"B \[2, 3, 4\] is not 2-D"),
    ((5, 4), metalnn.ShapeError, "disagree on K: 3 vs 5"),
])
def test_bad_shapes(b_shape, error, match, rng):
    model, _ = make_op_model("MatMulInteger", [np.zeros((2, 3, 3), "int8"), np.zeros((3, 4), "int8")], opset=10)
    model.graph.input[1].type.tensor_type.shape.Clear()
    for d in b_shape:
        model.graph.input[1].type.tensor_type.shape.dim.add().dim_value = d
    with pytest.raises(error, match=f"matmulinteger_node.*{match}"):
        metalnn.load(model, device="cpu")


def test_matmul_integer_empty_k(target):
    """K = 0: every sum is empty, so the output is zeros (ONNX Runtime 1.32 leaves it uninitialised)."""
    model, feeds = make_op_model("MatMulInteger", [np.zeros((3, 0), "uint8"), np.zeros((0, 5), "uint8")], opset=10)
    if target.precision == "float16":
        pytest.skip("MatMulInteger runs at float32 precision only")
    result = metalnn.load(model, device=target.device).run(feeds)["output0"]
    np.testing.assert_array_equal(result, np.zeros((3, 5), "int32"))


@pytest.mark.parametrize("a_type", QTYPES)
@pytest.mark.parametrize("k,n", [(1, 21), (13, 21), (130, 21), (64, 40), (65, 33), (300, 17)])
def test_matmul_integer_constant_int8_weights(a_type, k, n, target, rng):
    """What quantize_dynamic writes: constant int8 B with zero zero points (the cpu device packs it for
    its int8 GEMM), A's zero point an input. K around the 64-byte AMX tile and N around its 16 and 32
    rows, 74 rows of A (an odd number of 16-column panels)."""
    a, b = _ints(rng, (2, 37, k), a_type), _ints(rng, (k, n), "int8")
    _check([a, const(b), _ints(rng, (), a_type), const(np.zeros((n,), np.int8))], target)
    _check([a, const(b)], target)
