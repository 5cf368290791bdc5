"""Split: sizes as attribute (opset 11), as input (opset 13), or num_outputs (opset 18)."""

import pytest

from op_check import NEWEST_OPSET, OPSETS, check_op, const

SHAPE = (2, 13, 7, 5)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("axis,outputs", [(1, 13), (0, 2), (-1, 5), (1, 1)])
def test_split_equal(axis, outputs, opset, target, rng):
    """Without sizes (before opset 18) the axis is split evenly over the outputs."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    attributes = {"axis": axis}
    if opset >= 18:
        attributes["num_outputs"] = outputs
    check_op("Split", [x], target, attributes, opset=opset, num_outputs=outputs)


@pytest.mark.parametrize("axis,sizes", [(1, [3, 9, 1]), (2, [2, 5]), (-1, [1, 1, 3]), (0, [2])])
def test_split_sizes_attribute(axis, sizes, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Split", [x], target, {"axis": axis, "split": sizes}, opset=11,
             num_outputs=len(sizes))


@pytest.mark.parametrize("opset", [13, NEWEST_OPSET])
@pytest.mark.parametrize("axis,sizes", [(1, [3, 9, 1]), (2, [2, 5]), (-1, [1, 1, 3])])
def test_split_sizes_input(axis, sizes, opset, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Split", [x, const(sizes, "int64")], target, {"axis": axis}, opset=opset,
             num_outputs=len(sizes))


@pytest.mark.parametrize("axis,outputs", [(1, 4), (2, 3), (0, 2)])
def test_split_num_outputs_uneven(axis, outputs, target, rng):
    """Opset 18: when the axis does not divide evenly the last chunk is smaller."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Split", [x], target, {"axis": axis, "num_outputs": outputs}, opset=18,
             num_outputs=outputs)
