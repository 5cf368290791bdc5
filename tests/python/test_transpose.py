"""Transpose with explicit and default permutations."""

import os
import subprocess
import sys

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
    # Plane transposes in 16x16 tiles: full tiles, edges on either side, size-1 axes between.
    "planes_16": ((16, 32), [1, 0]),
    "planes_edges": ((3, 17, 33), [0, 2, 1]),
    "nchw_to_nhwc_edges": ((3, 40, 7, 7), [0, 2, 3, 1]),
    "nhwc_to_nchw_edges": ((2, 5, 9, 129), [0, 3, 1, 2]),
    "planes_unit_axes": ((1, 19, 1, 18), [3, 1, 2, 0]),
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


def test_transpose_planes_uint8(target, rng):
    x = rng.integers(0, 255, (2, 21, 35)).astype("uint8")
    check_op("Transpose", [x], target, {"perm": [0, 2, 1]})


def test_transpose_cpu_portable():
    """The cpu tests of this file once more without the AVX-512 tiles (METALNN_TRANSPOSE_KERNELS=portable)."""
    env = dict(os.environ, METALNN_TRANSPOSE_KERNELS="portable")
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not portable"], env=env, capture_output=True, text=True, cwd=here)
    assert result.returncode == 0, result.stdout[-3000:]


def test_transpose_int64(target, rng):
    x = rng.integers(-100, 100, (3, 7, 13)).astype("int64")
    check_op("Transpose", [x], target, {"perm": [2, 0, 1]})
