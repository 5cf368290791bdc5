"""Slice (starts/ends/axes/steps as constant inputs): negative indices, steps, clamping."""

import pytest

from op_check import OPSETS, check_op, const

INT64_MAX = 2**63 - 1

# name: (starts, ends, axes or None, steps or None)
SLICE_CASES = {
    "one_axis": ([2], [9], [1], None),
    "all_axes_implicit": ([0, 1, 2, 1], [2, 6, 11, 4], None, None),
    "negative_indices": ([-5], [-1], [2], None),
    "negative_axis": ([1], [4], [-1], None),
    "to_end": ([3], [INT64_MAX], [1], None),
    "clamped": ([-100], [100], [2], None),
    "step2": ([1, 0], [13, 5], [2, 3], [2, 2]),
    "step3_two_axes": ([0, 1], [7, 13], [1, 2], [3, 4]),
    "reverse": ([-1], [-INT64_MAX], [1], [-1]),
    "reverse_step2": ([11], [1], [2], [-2]),
    "unordered_axes": ([1, 2], [5, 4], [3, 1], None),
    "batch": ([1], [2], [0], None),
    "empty": ([5], [2], [1], None),
}


@pytest.mark.parametrize("case", SLICE_CASES.values(), ids=SLICE_CASES.keys())
def test_slice(case, target, rng):
    starts, ends, axes, steps = case
    x = rng.standard_normal((2, 7, 13, 5), dtype="float32")
    inputs = [x, const(starts, "int64"), const(ends, "int64")]
    if axes is not None or steps is not None:
        inputs.append(const(axes if axes is not None else range(len(starts)), "int64"))
    if steps is not None:
        inputs.append(const(steps, "int64"))
    check_op("Slice", inputs, target)


@pytest.mark.parametrize("opset", OPSETS)
def test_slice_opsets(opset, target, rng):
    x = rng.standard_normal((2, 7, 13, 5), dtype="float32")
    inputs = [x, const([1, -2], "int64"), const([7, 0], "int64"), const([1, 3], "int64"),
              const([2, -1], "int64")]
    check_op("Slice", inputs, target, opset=opset)


def test_slice_int64(target):
    """Shape arithmetic slices int64 vectors."""
    x = const([2, 7, 13, 5], "int64")
    check_op("Slice", [x, const([1], "int64"), const([3], "int64")], target)
