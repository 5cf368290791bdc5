"""Gemm (transA/transB/alpha/beta, C shapes) and MatMul (batched, broadcasting, 1-D operands)."""

import os
import subprocess
import sys

import pytest
from onnx import helper

from op_check import OPSETS, check_model, check_op, const, make_model

M, K, N = 7, 129, 13

# name: (attributes, shape of C or None)
GEMM_CASES = {
    "plain": ({}, (N,)),
    "no_c": ({}, None),
    "c_row": ({}, (1, N)),
    "c_column": ({}, (M, 1)),
    "c_full": ({}, (M, N)),
    "c_scalar": ({}, ()),
    "c_one": ({}, (1,)),
    "trans_a": ({"transA": 1}, (N,)),
    "trans_b": ({"transB": 1}, (N,)),
    "trans_both": ({"transA": 1, "transB": 1}, (M, N)),
    "alpha_beta": ({"alpha": 0.5, "beta": -2.0}, (M, N)),
    "alpha_trans_b": ({"alpha": 1.7, "transB": 1}, (1, N)),
    "beta_zero": ({"beta": 0.0}, (N,)),
}


def gemm_operands(attributes, rng, m=M, k=K, n=N):
    a_shape = (k, m) if attributes.get("transA") else (m, k)
    b_shape = (n, k) if attributes.get("transB") else (k, n)
    return (rng.standard_normal(a_shape, dtype="float32"),
            rng.standard_normal(b_shape, dtype="float32"))


@pytest.mark.parametrize("case", GEMM_CASES.values(), ids=GEMM_CASES.keys())
def test_gemm(case, target, rng):
    attributes, c_shape = case
    a, b = gemm_operands(attributes, rng)
    c = [] if c_shape is None else [const(rng.standard_normal(c_shape, dtype="float32"))]
    check_op("Gemm", [a, const(b), *c], target, attributes)


@pytest.mark.parametrize("opset", OPSETS)
def test_gemm_opsets(opset, target, rng):
    attributes = {"transB": 1, "alpha": 0.75}
    a, b = gemm_operands(attributes, rng, m=4)
    c = const(rng.standard_normal((N,), dtype="float32"))
    check_op("Gemm", [a, const(b), c], target, attributes, opset=opset)


def test_gemm_all_inputs_at_run_time(target, rng):
    a, b = gemm_operands({"transA": 1}, rng)
    c = rng.standard_normal((M, N), dtype="float32")
    check_op("Gemm", [a, b, c], target, {"transA": 1, "beta": 0.5})


# A few rows of A against a large B (fully connected layers at small batch): on the CPU a
# matrix-vector kernel streams B as it lies. Odd K and N leave partial vectors; the larger sizes
# split the columns over threads.
GEMV_CASES = {
    "m1_trans_b": (1, 1031, 517, {"transB": 1}, (517,)),
    "m1": (1, 1031, 517, {}, (517,)),
    "m1_tiny": (1, 7, 3, {}, (3,)),
    "m1_tiny_trans_b": (1, 7, 3, {"transB": 1}, None),
    "m1_trans_a": (1, 300, 70, {"transA": 1, "transB": 1}, (1, 70)),
    "m1_alpha": (1, 129, 2100, {"alpha": 1.7}, (2100,)),
    "m2_alpha_trans_b": (2, 129, 33, {"alpha": -0.5, "transB": 1}, (33,)),
    "m3": (3, 1031, 517, {}, (517,)),
    "m4_trans_b": (4, 1031, 517, {"transB": 1}, (517,)),
    "m5": (5, 1031, 517, {"transB": 1}, (517,)),
    "m8": (8, 520, 40, {}, (40,)),
    "m2_c_full": (2, 129, 33, {"beta": 0.5}, (2, 33)),
    "m4_c_column": (4, 129, 33, {}, (4, 1)),
}


@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
@pytest.mark.parametrize("case", GEMV_CASES.values(), ids=GEMV_CASES.keys())
def test_gemm_few_rows(case, relu, target, rng):
    m, k, n, attributes, c_shape = case
    a, b = gemm_operands(attributes, rng, m=m, k=k, n=n)
    values = {"a": a, "b": const(b)}
    if c_shape is not None:
        values["c"] = const(rng.standard_normal(c_shape, dtype="float32"))
    nodes = [helper.make_node("Gemm", list(values), ["g"], **attributes)]
    if relu:
        nodes.append(helper.make_node("Relu", ["g"], ["y"]))
    model, feeds = make_model(nodes, values, ["y" if relu else "g"])
    check_model(model, feeds, target)


def test_gemm_one_row_b_at_run_time(target, rng):
    a, b = gemm_operands({}, rng, m=1, k=700, n=401)
    check_op("Gemm", [a, b], target)


@pytest.mark.parametrize("kernels", ["avx2", "portable"])
def test_gemm_cpu_gemv_paths(kernels):
    """The cpu tests of this file once more with the matrix-vector kernel capped at AVX2, or off
    (portable: BLAS and the packed GEMM); otherwise this machine's best path runs them (the choice is
    made once per process)."""
    env = dict(os.environ, METALNN_GEMV_KERNELS=kernels)
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k",
                             "cpu-float32 and not gemv_paths"], env=env, capture_output=True, text=True, cwd=here)
    assert result.returncode == 0, result.stdout[-3000:]


MATMUL_SHAPES = {
    "2d": ((7, 13), (13, 5)),
    "2d_large": ((13, 129), (129, 7)),
    "batched": ((2, 7, 13), (2, 13, 5)),
    "batched_4d": ((2, 3, 7, 13), (2, 3, 13, 5)),
    "broadcast_b_2d": ((2, 3, 7, 13), (13, 5)),
    "broadcast_a_2d": ((7, 13), (3, 13, 5)),
    "broadcast_ones": ((1, 7, 13), (4, 13, 5)),
    "broadcast_both": ((2, 1, 7, 13), (3, 13, 5)),
    "vector_a": ((13,), (13, 5)),
    "vector_b": ((7, 13), (13,)),
    "vector_both": ((13,), (13,)),
    "batched_vector_b": ((2, 7, 13), (13,)),
    "vector_a_batched_b": ((13,), (2, 13, 5)),
    "single_row": ((2, 1, 129), (129, 13)),
    "one_row_large": ((1, 1031), (1031, 517)),
    "four_rows_batched": ((2, 2, 700), (700, 301)),
    "five_rows_batched": ((5, 1, 70), (70, 33)),
}


@pytest.mark.parametrize("b_is_constant", [True, False], ids=["const_b", "input_b"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES.values(), ids=MATMUL_SHAPES.keys())
def test_matmul(shapes, b_is_constant, target, rng):
    a = rng.standard_normal(shapes[0], dtype="float32")
    b = rng.standard_normal(shapes[1], dtype="float32")
    check_op("MatMul", [a, const(b) if b_is_constant else b], target)


@pytest.mark.parametrize("opset", OPSETS)
def test_matmul_opsets(opset, target, rng):
    a = rng.standard_normal((2, 7, 13), dtype="float32")
    b = const(rng.standard_normal((13, 5), dtype="float32"))
    check_op("MatMul", [a, b], target, opset=opset)


# M, N, K multiples of 8 with M >= 32 take the simdgroup-matrix kernel (matmul_simdgroup); 40 and 48
# leave partial 32x32 tiles.
SIMDGROUP_GEMM_CASES = {
    "plain": ({}, (48,)),
    "trans_both_alpha_beta": ({"transA": 1, "transB": 1, "alpha": 0.5, "beta": -2.0}, (40, 48)),
    "no_c": ({"transB": 1}, None),
}


@pytest.mark.parametrize("case", SIMDGROUP_GEMM_CASES.values(), ids=SIMDGROUP_GEMM_CASES.keys())
def test_gemm_simdgroup(case, target, rng):
    attributes, c_shape = case
    a, b = gemm_operands(attributes, rng, m=40, k=24, n=48)
    c = [] if c_shape is None else [const(rng.standard_normal(c_shape, dtype="float32"))]
    check_op("Gemm", [a, const(b), *c], target, attributes)


def test_matmul_simdgroup(target, rng):
    a = rng.standard_normal((2, 32, 16), dtype="float32")
    b = rng.standard_normal((16, 40), dtype="float32")
    check_op("MatMul", [a, b], target)
