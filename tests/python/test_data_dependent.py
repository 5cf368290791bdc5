"""Plans split where a size is known only at run time: after NonZero and NonMaxSuppression, and before
a node that needs as a constant a value computed from data (TopK's K, Reshape's shape, ...). The rest of
the model is planned once the size is known, per size, and the same model run with other data gets
other sizes."""

import metalnn
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from op_check import TARGETS, check_model, const, make_model, run_reference, assert_close

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)

node = helper.make_node


def nonzero_gather_model():
    """x -> NonZero -> Transpose -> GatherND(x): the nonzero values, reshaped to [count, 1] by a shape
    read off the NonZero output, and the count itself; plus a graph output of the first stage."""
    nodes = [
        node("NonZero", ["x"], ["nz"]),
        node("Transpose", ["nz"], ["idx"], perm=[1, 0]),
        node("GatherND", ["x", "idx"], ["values"]),
        node("Shape", ["nz"], ["nz_shape"]),
        node("Gather", ["nz_shape", "one"], ["count"], axis=0),
        node("Concat", ["count", "one"], ["column_shape"], axis=0),
        node("Reshape", ["values", "column_shape"], ["column"]),
        node("Relu", ["x"], ["relu"]),
    ]
    return nodes, ["column", "count", "relu", "nz"]


def run_both(model, feeds, target):
    expected = run_reference(model, feeds)
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    return engine, expected


def test_nonzero_feeds_gather_and_reshape(target, rng):
    nodes, outputs = nonzero_gather_model()
    x = (rng.integers(0, 3, (5, 7)) * (rng.random((5, 7)) < 0.4)).astype("float32")
    model, feeds = make_model(nodes, {"x": x, "one": const([1], "int64")}, outputs)
    check_model(model, feeds, target)


def test_same_model_other_sizes(target, rng):
    """Each nonzero count plans the rest once: a repeated count reuses it, a new one plans again."""
    nodes, outputs = nonzero_gather_model()
    x = np.zeros((5, 7), "float32")
    model, _ = make_model(nodes, {"x": x, "one": const([1], "int64")}, outputs)
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    for density in [0.3, 0.0, 1.0, 0.3, 0.6, 0.0]:
        x = (rng.integers(1, 3, (5, 7)) * (rng.random((5, 7)) < density)).astype("float32")
        expected = run_reference(model, {"x": x})
        actual = engine.run({"x": x})
        for name in outputs:
            assert_close(actual[name], expected[name], target.tolerance, name)
    assert len(engine.cached_shapes()) == 1
    assert engine.outputs[3].shape == (2, -1)  # NonZero's count is free


def test_free_dims_and_nonzero(target, rng):
    nodes, outputs = nonzero_gather_model()
    model, _ = make_model(nodes, {"x": np.zeros((5, 7), "float32"), "one": const([1], "int64")}, outputs)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "n"
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    for rows in [3, 8, 3]:
        x = (rng.integers(1, 3, (rows, 7)) * (rng.random((rows, 7)) < 0.5)).astype("float32")
        expected = run_reference(model, {"x": x})
        actual = engine.run({"x": x})
        for name in outputs:
            assert_close(actual[name], expected[name], target.tolerance, name)
    assert len(engine.cached_shapes()) == 2


def test_topk_with_computed_k(target, rng):
    """K = the number of positive elements: TopK is planned once K is known."""
    nodes = [
        node("Flatten", ["x"], ["flat"], axis=0),
        node("Reshape", ["x", "minus_one"], ["flat1d"]),
        node("Greater", ["flat1d", "zero"], ["positive"]),
        node("Cast", ["positive"], ["positive_f"], to=TensorProto.FLOAT),
        node("ReduceSum", ["positive_f"], ["count"], keepdims=1),
        node("Cast", ["count"], ["k"], to=TensorProto.INT64),
        node("TopK", ["flat", "k"], ["values", "indices"], axis=1),
    ]
    x = rng.permutation(6 * 13).reshape(6, 13).astype("float32") / 8 - 5
    model, feeds = make_model(nodes, {"x": x, "zero": const(0.0, "float32"), "minus_one": const([-1], "int64")}, ["values", "indices"])
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    for shift in [0, 3, -20, 0]:
        x_shifted = x + shift
        expected = run_reference(model, {"x": x_shifted})
        actual = engine.run({"x": x_shifted})
        for name in ["values", "indices"]:
            assert_close(actual[name], expected[name], target.tolerance, name)


def test_reshape_shape_from_data(target, rng):
    """The shape is a graph input (and so computed at run time): each shape value plans the Reshape."""
    nodes = [node("Relu", ["x"], ["r"]), node("Reshape", ["r", "shape"], ["y"]), node("Neg", ["y"], ["z"])]
    x = rng.standard_normal((4, 6), dtype="float32")
    model, _ = make_model(nodes, {"x": x, "shape": np.array([3, 8], "int64")}, ["z", "r"])
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    for shape in ([3, 8], [2, -1], [24, 1], [3, 8]):
        feeds = {"x": x, "shape": np.array(shape, "int64")}
        expected = run_reference(model, feeds)
        actual = engine.run(feeds)
        for name in ["z", "r"]:
            assert_close(actual[name], expected[name], target.tolerance, name)


def test_detection_post_processing(target, rng):
    """NMS -> the selected box indices -> Gather of the boxes and scores; max_out computed from data."""
    batches, classes, count = 1, 2, 29
    a = rng.integers(0, 32, (count, 2)) / 4
    boxes = np.concatenate([a, a + rng.integers(1, 24, (count, 2)) / 4], axis=1)[None].astype("float32")
    scores = (np.stack([rng.permutation(count) for _ in range(classes)]) / (2 * count))[None].astype("float32")
    nodes = [
        node("Shape", ["boxes"], ["boxes_shape"]),
        node("Gather", ["cap", "pick"], ["max_out"], axis=0),
        node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "score_floor"], ["selected"]),
        node("Gather", ["selected", "two"], ["box_index"], axis=1),
        node("Squeeze", ["boxes", "zero"], ["boxes2d"]),
        node("Gather", ["boxes2d", "box_index"], ["picked"], axis=0),
    ]
    model, feeds = make_model(nodes, {
        "boxes": boxes, "scores": scores, "cap": np.array([2, 6], "int64"), "pick": np.array([1], "int64"), "iou": const([0.4], "float32"),
        "score_floor": const([0.1], "float32"), "two": const(2, "int64"), "zero": const([0], "int64")},
        ["selected", "picked"])
    check_model(model, feeds, target)
    feeds["pick"] = np.array([0], "int64")
    check_model(model, feeds, target)


def test_save_and_load(target, rng, tmp_path):
    nodes, outputs = nonzero_gather_model()
    x = (rng.integers(0, 3, (5, 7)) * (rng.random((5, 7)) < 0.4)).astype("float32")
    model, feeds = make_model(nodes, {"x": x, "one": const([1], "int64")}, outputs)
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    path = tmp_path / "nonzero.metalnn"
    engine.save(path)
    loaded = metalnn.load(path, device=target.device, precision=target.precision)
    expected = run_reference(model, feeds)
    actual = loaded.run(feeds)
    for name in outputs:
        assert_close(actual[name], expected[name], target.tolerance, name)
    assert engine.summary().layers


def _nms_in_if_model(cond: str, rng):
    """torchvision's batched_nms as its TorchScript export writes it: an If whose else branch holds the
    NonMaxSuppression (its padded output read inside the branch), then a Gather of the boxes kept."""
    count = 23
    a = rng.integers(0, 16, (count, 2)) / 4
    boxes = np.concatenate([a, a + rng.integers(1, 24, (count, 2)) / 4], axis=1)[None].astype("float32")
    scores = (rng.permutation(count) / count)[None, None].astype("float32")
    empty = helper.make_tensor("empty", TensorProto.INT64, [0], [])
    then_g = helper.make_graph([node("Constant", [], ["none"], value=empty)], "then", [],
                               [helper.make_tensor_value_info("none", TensorProto.INT64, [0])])
    else_g = helper.make_graph([
        node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou"], ["selected"]),
        node("Gather", ["selected", "two"], ["column"], axis=1),
        node("Squeeze", ["column", "one"], ["kept"]),
    ], "else", [], [helper.make_tensor_value_info("kept", TensorProto.INT64, ["kept_count"])])
    conds = {
        # None of the scores above the floor: known only once the scores are.
        "data": [node("ReduceMax", ["scores"], ["top"], keepdims=0), node("Less", ["top", "floor"], ["cond"])],
        # No boxes: known once the input shape is.
        "shape": [node("Shape", ["boxes"], ["boxes_shape"]), node("ReduceProd", ["boxes_shape"], ["size"], keepdims=0),
                  node("Equal", ["size", "zero"], ["cond"])],
    }
    nodes = conds[cond] + [
        node("If", ["cond"], ["keep"], then_branch=then_g, else_branch=else_g),
        node("Slice", ["keep", "start", "stop", "axis"], ["first"]),
        node("Squeeze", ["boxes", "axis"], ["boxes2d"]),
        node("Gather", ["boxes2d", "first"], ["picked"], axis=0),
        node("Gather", ["flat_scores", "first"], ["picked_scores"], axis=0),
    ]
    values = {"boxes": boxes, "scores": scores, "flat_scores": scores.reshape(-1),
              "max_out": const([2**63 - 1], "int64"), "iou": const([0.3], "float32"), "floor": np.array(0.5, "float32"),
              "two": const([2], "int64"), "one": const([1], "int64"), "zero": const(0, "int64"),
              "start": const([0], "int64"), "stop": const([20], "int64"), "axis": const([0], "int64")}
    return make_model(nodes, values, ["keep", "picked", "picked_scores"])


@pytest.mark.parametrize("cond", ["data", "shape"])
def test_nms_inside_if_is_trimmed(target, rng, cond):
    """The kept count, not NonMaxSuppression's upper bound, reaches what reads the If's output."""
    model, feeds = _nms_in_if_model(cond, rng)
    expected = check_model(model, feeds, target)
    assert 0 < len(expected["keep"]) < feeds["boxes"].shape[1]
    if cond == "data":  # the other branch, on the same plan
        feeds["floor"] = np.array(2.0, "float32")
        assert len(check_model(model, feeds, target)["keep"]) == 0


def test_nonzero_inside_loop_body_is_refused(target):
    """An unrolled body cannot be split: its padded output would be read untrimmed."""
    body = helper.make_graph([
        node("NonZero", ["x"], ["nz"]),
        node("ReduceSum", ["nz"], ["total"], keepdims=0),
        node("Identity", ["cond_in"], ["cond_out"]),
        node("Add", ["acc_in", "total"], ["acc_out"]),
    ], "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                helper.make_tensor_value_info("acc_in", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.INT64, [])])
    g = helper.make_graph([node("Loop", ["trips", "", "acc"], ["sum"], body=body)], "loop",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("sum", TensorProto.INT64, [])],
                          [numpy_helper.from_array(np.array(2, "int64"), "trips"),
                           numpy_helper.from_array(np.array(0, "int64"), "acc")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(metalnn.Error, match="NonZero.*Loop body"):
        metalnn.load(model, device=target.device, precision=target.precision).run({"x": np.array([1, 0, 2], "float32")})
