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


# Several images: on the CPU a convolution writes each image into its band of the concatenation (an
# image stride), on every path; other producers, and a part read elsewhere too, are copied.
# name: (input shape, weight shape of part a (part b has 3 output channels fewer), conv attributes)
STRIDED_CASES = {
    "direct_pointwise": ((3, 8, 5, 7), (64, 8, 1, 1), {}),
    "direct_pointwise_narrow_uncached": ((2, 96, 71, 77), (32, 96, 1, 1), {}),
    "packed_pointwise": ((2, 20, 17, 19), (45, 20, 1, 1), {}),
    "batched_pointwise": ((3, 40, 7, 7), (37, 40, 1, 1), {}),
    "im2col": ((2, 5, 17, 19), (16, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    "batched_im2col": ((3, 4, 9, 9), (20, 4, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd": ((2, 32, 9, 11), (9, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_f4": ((2, 32, 27, 27), (9, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Winograd's grid forms (an image's tiles per vector, the batch as GEMM columns): 7x7, and 13x13 from 4 images.
    "winograd_grid": ((3, 32, 7, 7), (9, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_grid_f4": ((4, 32, 13, 13), (9, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_grid_f4_blocked": ((4, 16, 13, 13), (120, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    "stem": ((2, 3, 15, 37), (19, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "depthwise": ((2, 7, 9, 9), (7, 1, 3, 3), {"group": 7, "pads": [1, 1, 1, 1]}),
}


@pytest.mark.parametrize("case", STRIDED_CASES.values(), ids=STRIDED_CASES.keys())
def test_concat_of_conv_outputs_batched(case, target, rng):
    x_shape, w_shape, attributes = case
    wb_shape = (w_shape[0] - 3 if attributes.get("group", 1) == 1 else w_shape[0], *w_shape[1:])
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "wa": const(rng.standard_normal(w_shape, dtype="float32")),
        "wb": const(rng.standard_normal(wb_shape, dtype="float32")),
        "bb": const(rng.standard_normal(wb_shape[0], dtype="float32")),
    }
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], **attributes),
        helper.make_node("Conv", ["x", "wb", "bb"], ["b0"], **attributes),
        helper.make_node("Relu", ["b0"], ["b"]),
        helper.make_node("Neg", ["a"], ["na"]),
        helper.make_node("Concat", ["b", "a", "na"], ["cat"], axis=1),
        helper.make_node("Sigmoid", ["cat"], ["y"]),
    ]
    reduction = w_shape[1] * w_shape[2] * w_shape[3]
    check_model(*make_model(nodes, values, ["y"]), target, target.tolerance.scaled(max(1.0, (reduction / 18) ** 0.5)))


@pytest.mark.parametrize("batch", [1, 3])
def test_concat_of_pooled_stem(batch, target, rng):
    """A stem convolution whose MaxPool it computes itself, into a concatenation with a plain pool."""
    values = {
        "x": rng.standard_normal((batch, 3, 29, 33), dtype="float32"),
        "w": const(rng.standard_normal((16, 3, 3, 3), dtype="float32")),
    }
    pool = {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]),
        helper.make_node("MaxPool", ["c"], ["p"], **pool),
        helper.make_node("Conv", ["x", "w"], ["d"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["d"], ["q"], kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Concat", ["p", "q"], ["cat"], axis=1),
        helper.make_node("Relu", ["cat"], ["y"]),
    ]
    check_model(*make_model(nodes, values, ["y"]), target, target.tolerance.scaled(1.3))
