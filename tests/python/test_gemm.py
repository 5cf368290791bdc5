"""Gemm (transA/transB/alpha/beta, C shapes) and MatMul (batched, broadcasting, 1-D operands)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import metalnn

from op_check import CPU_TARGETS, OPSETS, check_model, check_op, const, make_model

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


@pytest.mark.parametrize("isa", ["avx2", "blas"])
def test_gemm_isa_paths(isa):
    """The cpu tests of this file once more with the packed GEMM on AVX2 register tiles (6 x 16, so
    other row panels and blocks), or on the platform BLAS."""
    env = dict(os.environ, METALNN_GEMM_ISA=isa)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k",
                             "cpu-float32 and not gemv_paths and not isa_paths"], env=env, capture_output=True,
                            text=True, cwd=os.path.dirname(__file__))
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


# MatMul + bias Add (or Gemm with a row C) and an activation, all fused into the GEMM's store: the
# packed kernels (ragged tiles, one K block up to 1024 deep and equal blocks past it, constant B
# shared by a folded batch or one per batch entry, past 512 rows while B is at most 1536 wide, all
# rows in one block of A on a B at least 1536 wide), BLAS
# past 512 rows on a wider B and the few-row gemv, the bias and activation applied as C is stored.
FUSED_SHAPES = {
    "folded": ((2, 13, 24), (24, 37)),
    "k_blocks": ((2, 45, 600), (600, 50)),
    "k_one_block": ((2, 30, 1000), (1000, 40)),
    "k_deep_blocks": ((70, 1600), (1600, 33)),
    "tall": ((2, 300, 40), (40, 70)),
    "wide_row_blocks": ((2, 250, 77), (77, 1601)),
    "wide_row_blocks_tall": ((600, 40), (40, 1536)),
    "tall_wide_blas": ((600, 40), (40, 1601)),
    "per_batch_b": ((3, 5, 9), (3, 9, 20)),
    # 197 rows: 15 row panels of 14 (33 of 6 on AVX2), whose short last block joins the one before;
    # 280 rows: 20 panels, a full block of 12 and its own block of 8.
    "row_block_tail": ((197, 600), (600, 77)),
    "row_block_split": ((280, 131), (131, 45)),
    "few_rows": ((1, 24), (24, 37)),
}
FUSED_ACTIVATIONS = {
    "none": None,
    "relu": ("Relu", {}),
    "clip": ("Clip", {}),
    "sigmoid": ("Sigmoid", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.1}),
    "gelu": ("Gelu", {}),
}


def _activation_nodes(activation, source):
    op, attributes = activation
    inputs = [source, "lo", "hi"] if op == "Clip" else [source]
    return [helper.make_node(op, inputs, ["y"], **attributes)]


@pytest.mark.parametrize("activation", FUSED_ACTIVATIONS.values(), ids=FUSED_ACTIVATIONS.keys())
@pytest.mark.parametrize("shapes", FUSED_SHAPES.values(), ids=FUSED_SHAPES.keys())
def test_matmul_bias_activation_fused(shapes, activation, target, rng):
    a_shape, b_shape = shapes
    values = {
        "a": rng.standard_normal(a_shape, dtype="float32"),
        "b": const(rng.standard_normal(b_shape, dtype="float32") / np.float32(np.sqrt(b_shape[-2]))),
        "bias": const(rng.standard_normal(b_shape[-1], dtype="float32")),
        "lo": const(np.array(-0.5, np.float32)),
        "hi": const(np.array(0.75, np.float32)),
    }
    nodes = [helper.make_node("MatMul", ["a", "b"], ["m"]),
             helper.make_node("Add", ["m", "bias"], ["g" if activation else "y"])]
    if activation:
        nodes += _activation_nodes(activation, "g")
    used = {name for node in nodes for name in node.input}
    model, feeds = make_model(nodes, {k: v for k, v in values.items() if k in used}, ["y"], opset=20)
    loaded = metalnn.load(model, device=target.device, precision=target.precision)
    assert loaded.summary().op_counts == {"MatMul": 1}
    check_model(model, feeds, target)


def test_matmul_wide_b_deep_k_row_blocks(rng):
    """A constant B 1536 wide with one K block 1000 deep: the rows of A split into blocks of fewer
    than all 400 rows (the cap on A's block), each block finishing its own rows of C."""
    a = rng.standard_normal((400, 1000), dtype="float32")
    b = rng.standard_normal((1000, 1536), dtype="float32") / np.float32(np.sqrt(1000))
    check_op("MatMul", [a, const(b)], CPU_TARGETS[0])


@pytest.mark.parametrize("b_is_constant", [True, False], ids=["const_b", "input_b"])
@pytest.mark.parametrize("m", [300, 757])
def test_matmul_wide_b_l2_blocks(m, b_is_constant, rng):
    """A 1536 wide B over 384-deep rows: A's blocks sized from the L2 the process reads where B is
    constant (packed ahead), the per-call path beside it. With METALNN_L2_BYTES=131072
    (test_gemm_cache_sizes), 300 rows go as 12 + 5 + 5 row panels (the last 10 joined would pass the
    L2); 757 rows on 2 threads are 54 panels each, one block at a 1.25 MB L2."""
    a = rng.standard_normal((1, m, 384), dtype="float32")
    b = rng.standard_normal((384, 1536), dtype="float32") / np.float32(np.sqrt(384))
    check_op("MatMul", [a, const(b) if b_is_constant else b], CPU_TARGETS[0])


@pytest.mark.parametrize("l2_bytes", ["131072", "4194304"])
def test_gemm_cache_sizes(l2_bytes):
    """The cpu tests of this file once more with the L2 size the blocking is derived from overridden,
    small (blocks split, few columns of B per call) or large (the constants' caps rule)."""
    env = dict(os.environ, METALNN_L2_BYTES=l2_bytes)
    selection = "(cpu-float32 or l2_blocks or row_blocks) and not gemv_paths and not isa_paths and not cache_sizes"
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k", selection],
                            env=env, capture_output=True, text=True, cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("activation", ["Sigmoid", "Gelu"])
@pytest.mark.parametrize("m, n", [(7, 45), (600, 45), (600, 1601)])
def test_gemm_bias_activation_fused(m, n, activation, target, rng):
    a, b = gemm_operands({"transB": 1}, rng, m=m, k=130, n=n)
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["g"], transB=1), helper.make_node(activation, ["g"], ["y"])]
    model, feeds = make_model(nodes, {"a": a, "b": const(b), "c": const(rng.standard_normal(n, dtype="float32"))},
                              ["y"], opset=20)
    check_model(model, feeds, target)
