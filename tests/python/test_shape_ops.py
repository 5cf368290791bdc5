"""Shape, Size, ConstantOfShape, Expand, Range, Cast, Identity, Dropout and Constant."""

import numpy as np
import pytest
from onnx import helper, numpy_helper

from op_check import NEWEST_OPSET, OPSETS, check_model, check_op, const, make_model

SHAPE = (2, 7, 13, 5)


@pytest.mark.parametrize("opset", OPSETS)
def test_shape(opset, target, rng):
    check_op("Shape", [rng.standard_normal(SHAPE, dtype="float32")], target, opset=opset)


@pytest.mark.parametrize("start,end", [(1, None), (0, 2), (-2, None), (1, -1)])
def test_shape_start_end(start, end, target, rng):
    """Opset 15 added start and end."""
    attributes = {"start": start} if end is None else {"start": start, "end": end}
    check_op("Shape", [rng.standard_normal(SHAPE, dtype="float32")], target, attributes)


@pytest.mark.parametrize("opset", OPSETS)
def test_size(opset, target, rng):
    check_op("Size", [rng.standard_normal(SHAPE, dtype="float32")], target, opset=opset)


def constant_of_shape_plus_input(value, rng):
    """ConstantOfShape produces a constant; adding an input keeps the graph non-trivial."""
    attributes = {} if value is None else {"value": numpy_helper.from_array(value)}
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["filled"], **attributes),
             helper.make_node("Add", ["filled", "x"], ["y"])]
    dtype = "float32" if value is None else value.dtype
    x = rng.integers(-5, 5, (2, 7, 13)).astype(dtype)
    return make_model(nodes, {"shape": const([2, 7, 13], "int64"), "x": x}, ["filled", "y"])


@pytest.mark.parametrize("value", [None, np.array([1.5], "float32"), np.array([3], "int64")],
                         ids=["default_zero", "float", "int64"])
def test_constant_of_shape(value, target, rng):
    model, feeds = constant_of_shape_plus_input(value, rng)
    check_model(model, feeds, target)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("input_shape,shape", [((3, 1), (2, 3, 4)), ((1,), (7, 13)),
                                               ((2, 1, 13), (1, 7, 1)), ((7, 13), (13,))],
                         ids=["grow_rank", "from_one", "both_ways", "shape_shorter"])
def test_expand(input_shape, shape, opset, target, rng):
    x = rng.standard_normal(input_shape, dtype="float32")
    check_op("Expand", [x, const(shape, "int64")], target, opset=opset)


@pytest.mark.parametrize("start,limit,delta,dtype", [
    (0, 13, 1, "int64"), (10, -3, -3, "int64"), (0.5, 7.0, 0.75, "float32"), (2, 3, 5, "int32"),
], ids=["int64", "negative_delta", "float32", "single"])
def test_range(start, limit, delta, dtype, target):
    """Range of constants followed by Add, so a run-time input takes part too."""
    nodes = [helper.make_node("Range", ["start", "limit", "delta"], ["range"]),
             helper.make_node("Add", ["range", "offset"], ["y"])]
    values = {name: const(value, dtype)
              for name, value in (("start", start), ("limit", limit), ("delta", delta))}
    count = len(np.arange(start, limit, delta))
    values["offset"] = np.arange(count).astype(dtype)
    model, feeds = make_model(nodes, values, ["range", "y"])
    check_model(model, feeds, target)


CASTS = [("float32", "int64"), ("float32", "int32"), ("int64", "float32"), ("int32", "int64"),
         ("bool", "float32"), ("float32", "bool"), ("float32", "float32"), ("int64", "bool")]


@pytest.mark.parametrize("opset", [11, 13, NEWEST_OPSET])
@pytest.mark.parametrize("source,destination", CASTS, ids=[f"{s}_to_{d}" for s, d in CASTS])
def test_cast(source, destination, opset, target, rng):
    """Float to integer truncates toward zero; values stay well inside the integer range."""
    x = (rng.uniform(-50, 50, (2, 7, 13)) * (rng.random((2, 7, 13)) < 0.8)).astype(source)
    to = helper.np_dtype_to_tensor_dtype(np.dtype(destination))
    check_op("Cast", [x], target, {"to": to}, opset=opset)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_identity(dtype, opset, target, rng):
    x = rng.integers(-9, 9, (2, 7, 13)).astype(dtype)
    check_op("Identity", [x], target, opset=opset)


@pytest.mark.parametrize("opset", OPSETS)
def test_dropout_inference(opset, target, rng):
    """Dropout is the identity at inference; the ratio is an attribute before opset 12."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    if opset < 12:
        check_op("Dropout", [x], target, {"ratio": 0.3}, opset=opset)
    else:
        check_op("Dropout", [x, const(0.3, "float32")], target, opset=opset)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("form", ["value", "value_float", "value_ints"])
def test_constant(form, opset, target, rng):
    """A Constant node feeding Add (value_float and value_ints exist since opset 12)."""
    if form == "value":
        data = rng.standard_normal((7, 13), dtype="float32")
        attributes = {"value": numpy_helper.from_array(data)}
    elif form == "value_float":
        data = np.array(0.75, "float32")
        attributes = {"value_float": 0.75}
    else:
        data = np.array([3, -1, 4], "int64")
        attributes = {"value_ints": [3, -1, 4]}
    opset = opset if form == "value" else max(opset, 12)
    nodes = [helper.make_node("Constant", [], ["c"], **attributes),
             helper.make_node("Add", ["x", "c"], ["y"])]
    x = rng.integers(-5, 5, (2, 7, 13) if data.ndim != 1 else (2, 3)).astype(data.dtype)
    model, feeds = make_model(nodes, {"x": x}, ["y"], opset=opset)
    check_model(model, feeds, target)


def test_shape_arithmetic_feeding_reshape(target, rng):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, the pattern exported Flatten produces."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch_1d"]),
        helper.make_node("Concat", ["batch_1d", "minus_one"], ["new_shape"], axis=0),
        helper.make_node("Reshape", ["x", "new_shape"], ["y"]),
    ]
    values = {"x": rng.standard_normal(SHAPE, dtype="float32"), "zero": const(0, "int64"),
              "axes": const([0], "int64"), "minus_one": const([-1], "int64")}
    model, feeds = make_model(nodes, values, ["y"])
    outputs = check_model(model, feeds, target)
    assert outputs["y"].shape == (2, 7 * 13 * 5)


@pytest.mark.parametrize("dtypes", [("float32", "int64"), ("int64", "float32"), ("float32", "int32"),
                                    ("int32", "float32"), ("float32", "bool"), ("bool", "float32"),
                                    ("int64", "int32"), ("float32", "float32")],
                         ids=lambda d: f"{d[0]}_to_{d[1]}")
@pytest.mark.parametrize("like_is_constant", [False, True], ids=["input", "const"])
def test_cast_like(dtypes, like_is_constant, target, rng):
    source, like_dtype = dtypes
    x = (rng.uniform(-20, 20, (3, 7, 13)) if source != "bool" else rng.integers(0, 2, (3, 7, 13))).astype(source)
    like = np.zeros((2,), like_dtype)
    check_op("CastLike", [x, const(like) if like_is_constant else like], target, opset=15)
