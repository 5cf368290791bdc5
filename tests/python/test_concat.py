"""Concat along every axis, of inputs and constants, float and int64, small and large blocks."""

import pytest
from onnx import helper

from op_check import OPSETS, check_model, check_op, const, make_model


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_concat(axis, count, target, rng):
    shapes = []
    for i in range(count):
        shape = [2, 7, 13, 5]
        shape[axis] += i * 2
        shapes.append(tuple(shape))
    inputs = [rng.standard_normal(shape, dtype="float32") for shape in shapes]
    check_op("Concat", inputs, target, {"axis": axis})


def test_concat_with_constant(target, rng):
    x = rng.standard_normal((2, 7, 13), dtype="float32")
    c = const(rng.standard_normal((2, 3, 13), dtype="float32"))
    check_op("Concat", [c, x, c], target, {"axis": 1})


@pytest.mark.parametrize("opset", OPSETS)
def test_concat_opsets(opset, target, rng):
    a = rng.standard_normal((2, 129), dtype="float32")
    b = rng.standard_normal((2, 7), dtype="float32")
    check_op("Concat", [a, b], target, {"axis": -1}, opset=opset)


def test_concat_int64(target, rng):
    a = rng.integers(-5, 5, (3,)).astype("int64")
    check_op("Concat", [a, const([7, -1], "int64")], target, {"axis": 0})


# Blocks of several KiB per index before the axis (channel concatenations of feature maps): long
# contiguous runs, over 64 KiB in some cases.
LARGE_BLOCK_CASES = {
    "channels": ([(3, 4, 17, 19), (3, 11, 17, 19), (3, 60, 17, 19)], 1, "float32"),
    "axis0": ([(2, 50, 41), (5, 50, 41)], 0, "float32"),
    "axis2": ([(2, 3, 30, 50), (2, 3, 21, 50)], 2, "float32"),
    "channels_int64": ([(2, 3, 40, 40), (2, 2, 40, 40)], -3, "int64"),
}


@pytest.mark.parametrize("case", LARGE_BLOCK_CASES.values(), ids=LARGE_BLOCK_CASES.keys())
def test_concat_large_blocks(case, target, rng):
    shapes, axis, dtype = case
    if dtype == "int64":
        inputs = [rng.integers(-1000, 1000, shape).astype(dtype) for shape in shapes]
    else:
        inputs = [rng.standard_normal(shape, dtype=dtype) for shape in shapes]
    check_op("Concat", inputs, target, {"axis": axis})


# Channel concatenations of node outputs (the fire modules of SqueezeNet): on the CPU, producers may
# write straight into their band of the output. Each case must give the same values whichever
# inputs get written in place.
def _conv(name, x, w):
    return helper.make_node("Conv", [x, w], [name], pads=[1, 1, 1, 1])


def _concat_model(kind, batch, rng):
    c, h, w = 5, 7, 9
    values = {
        "x": rng.standard_normal((batch, c, h, w), dtype="float32"),
        "wa": const(rng.standard_normal((16, c, 3, 3), dtype="float32")),
        "wb": const(rng.standard_normal((4, c, 3, 3), dtype="float32")),
    }
    nodes = [_conv("a", "x", "wa"), _conv("b", "x", "wb")]
    parts, outputs = ["a", "b"], ["y"]
    if kind == "shared_producer":  # a is also read after the concat's last reader
        nodes.append(helper.make_node("Sigmoid", ["a"], ["sa"]))
        parts = ["a", "sa", "b"]
    if kind == "graph_input":
        parts = ["a", "x", "b"]
    if kind == "mixed":  # an elementwise producer, a constant and a part given twice
        values["k"] = const(rng.standard_normal((batch, 3, h, w), dtype="float32"))
        nodes.append(helper.make_node("Relu", ["x"], ["rx"]))
        parts = ["rx", "a", "k", "b", "a"]
    if kind == "nested":
        nodes.append(helper.make_node("Concat", ["b", "a"], ["ba"], axis=1))
        parts = ["a", "ba"]
    nodes.append(helper.make_node("Concat", parts, ["cat"], axis=1))
    if kind == "graph_output":
        outputs = ["cat", "y"]
    nodes.append(helper.make_node("Relu", ["cat"], ["y"]))
    if kind == "shared_producer":
        # yy may not take the concat's space while a, inside it, is still to be read
        nodes.append(helper.make_node("Mul", ["y", "y"], ["yy"]))
        nodes.append(helper.make_node("Sigmoid", ["yy"], ["s"]))
        nodes.append(helper.make_node("Neg", ["a"], ["late"]))
        outputs = ["s", "late"]
    return make_model(nodes, values, outputs)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("kind", ["convs", "shared_producer", "graph_output", "graph_input", "mixed", "nested"])
def test_concat_of_node_outputs(kind, batch, target, rng):
    model, feeds = _concat_model(kind, batch, rng)
    check_model(model, feeds, target)
