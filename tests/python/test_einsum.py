"""Einsum: explicit and implicit output, contractions, transposes, diagonals, ellipsis broadcasting."""

import numpy as np
import pytest

from op_check import TARGETS, check_op

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)

CASES = {
    "matmul": ("ij,jk->ik", [(7, 13), (13, 5)]),
    "batch_matmul": ("bij,bjk->bik", [(3, 7, 13), (3, 13, 5)]),
    "attention_scores": ("bhqd,bhkd->bhqk", [(2, 3, 7, 8), (2, 3, 5, 8)]),
    "transpose": ("ij->ji", [(7, 13)]),
    "sum_rows": ("ij->i", [(7, 13)]),
    "implicit": ("ij,jk", [(7, 13), (13, 5)]),
    "implicit_order": ("ba", [(3, 5)]),
    "inner": ("i,i", [(129,), (129,)]),
    "outer": ("i,j->ij", [(7,), (13,)]),
    "trace": ("ii", [(7, 7)]),
    "diagonal": ("ii->i", [(7, 7)]),
    "ellipsis": ("...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),
    "ellipsis_broadcast_one": ("...ij,...jk->...ik", [(2, 1, 4, 5), (2, 3, 5, 6)]),
    "three_operands": ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 6)]),
}


@pytest.mark.parametrize("case", CASES)
def test_einsum(case, target, rng):
    equation, shapes = CASES[case]
    inputs = [rng.standard_normal(s, dtype="float32") for s in shapes]
    check_op("Einsum", inputs, target, {"equation": equation}, tolerance_scale=10)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_einsum_integers(dtype, target, rng):
    a, b = (rng.integers(-5, 6, s).astype(dtype) for s in [(4, 7), (7, 3)])
    check_op("Einsum", [a, b], target, {"equation": "ij,jk->ik"})
