"""Reshape, Flatten, Squeeze and Unsqueeze (axes as attribute before opset 13, as input after)."""

import numpy as np
import pytest

from onnx import helper

from op_check import NEWEST_OPSET, OPSETS, check_model, check_op, const, make_model

SHAPE = (2, 7, 13, 5)

RESHAPE_TARGETS = {
    "flat": [-1],
    "batch_flat": [2, -1],
    "copy_dim_zero": [0, 7, -1],
    "split_dim": [2, 7, 13, 5, 1],
    "merge_middle": [0, 91, 5],
    "same": [2, 7, 13, 5],
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("shape", RESHAPE_TARGETS.values(), ids=RESHAPE_TARGETS.keys())
def test_reshape(shape, opset, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Reshape", [x, const(shape, "int64")], target, opset=opset)


@pytest.mark.parametrize("allowzero", [0, 1])
def test_reshape_allowzero(allowzero, target, rng):
    """Opset 14: with allowzero=0 a 0 copies the input dim; with 1 it is a real 0 only when
    no -1 is present, so this shape has no zeros and both forms agree."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Reshape", [x, const([14, 65], "int64")], target, {"allowzero": allowzero})


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("axis", [0, 1, 2, 4, -1, -3])
def test_flatten(axis, opset, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32")
    check_op("Flatten", [x], target, {"axis": axis}, opset=opset)


def test_flatten_default_axis(target, rng):
    check_op("Flatten", [rng.standard_normal(SHAPE, dtype="float32")], target)


def axes_inputs(op_type, axes, opset):
    """Squeeze/Unsqueeze take axes as an attribute before opset 13 and as an input from it on."""
    if axes is None:
        return [], {}
    if opset < 13:
        return [], {"axes": axes}
    return [const(axes, "int64")], {}


# op: list of (input shape, axes); None means every dim of size 1 (Squeeze only).
AXES_CASES = {
    "Squeeze": [((2, 1, 13, 1), [1]), ((2, 1, 13, 1), [-1, 1]), ((1, 7, 1, 13), None),
                ((1, 7), [0])],
    "Unsqueeze": [((2, 7, 13), [0]), ((2, 7, 13), [1, 4]), ((2, 7, 13), [-1]),
                  ((7,), [0, 2]), ((13,), [-2])],
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("op_type,case", [(op, case) for op, cases in AXES_CASES.items()
                                          for case in cases],
                         ids=lambda v: str(v).replace(" ", ""))
def test_squeeze_unsqueeze(op_type, case, opset, target, rng):
    shape, axes = case
    extra_inputs, attributes = axes_inputs(op_type, axes, opset)
    x = rng.standard_normal(shape, dtype="float32")
    check_op(op_type, [x, *extra_inputs], target, attributes, opset=opset)


def test_unsqueeze_scalar(target):
    """A scalar becomes a one-element vector, as in exported shape code."""
    check_op("Unsqueeze", [np.array(7, dtype="int64"), const([0], "int64")], target,
             opset=NEWEST_OPSET)


def test_reshape_chain_shares_memory(target, rng):
    """Reshape -> Flatten -> Unsqueeze of an intermediate, the original read again after later nodes
    have run, and a Reshape of a Concat input written into its band: on the cpu device the outputs
    share their inputs' bytes, which must stay intact while any of them is read."""
    x = rng.standard_normal((2, 8, 13), dtype="float32")  # 832 bytes: the concat band is aligned
    nodes = [
        helper.make_node("Add", ["x", "one"], ["a"]),
        helper.make_node("Reshape", ["a", "s1"], ["r1"]),
        helper.make_node("Flatten", ["r1"], ["r2"], axis=1),
        helper.make_node("Unsqueeze", ["r2", "ax"], ["r3"]),
        helper.make_node("Mul", ["x", "two"], ["m"]),
        helper.make_node("Neg", ["x"], ["b"]),
        helper.make_node("Concat", ["b", "m"], ["cat"], axis=0),
        helper.make_node("Reshape", ["m", "s1"], ["rm"]),
        helper.make_node("Relu", ["cat"], ["c2"]),
        helper.make_node("Reshape", ["c2", "s2"], ["c3"]),
        helper.make_node("Add", ["r1", "rm"], ["y0"]),
        helper.make_node("Reshape", ["y0", "s3"], ["y1"]),
        helper.make_node("Add", ["y1", "r3"], ["y"]),
        helper.make_node("Sub", ["a", "x"], ["z"]),
    ]
    values = {"x": x, "one": const(np.float32(1)), "two": const(np.float32(2)),
              "s1": const(np.array([16, 13], np.int64)), "s2": const(np.array([-1], np.int64)),
              "s3": const(np.array([1, 16, 13], np.int64)), "ax": const(np.array([0], np.int64))}
    model, feeds = make_model(nodes, values, ["y", "z", "c3"])
    check_model(model, feeds, target)
