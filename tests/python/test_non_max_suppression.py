"""NonMaxSuppression (opset 10 and 11): corner and center boxes, thresholds present and absent,
several batches and classes, no box selected, equal scores (ordered as ONNX Runtime orders them),
max_output_boxes_per_class as a constant and computed at run time; bad shapes name node and tensor."""

import metalnn
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from op_check import TARGETS, check_model, check_op, const, make_model, make_op_model

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)


def random_boxes(rng, batches, count, center):
    """Boxes on a coarse grid (exact in float16), many overlapping; corners in either order."""
    a = rng.integers(0, 32, (batches, count, 2)) / 4
    size = rng.integers(1, 24, (batches, count, 2)) / 4
    if center:
        return np.concatenate([a + size / 2, size], axis=2).astype("float32")
    b = a + size
    flip = rng.random((batches, count, 1)) < 0.3
    return np.where(flip, np.concatenate([b, a], axis=2), np.concatenate([a, b], axis=2)).astype("float32")


def random_scores(rng, batches, classes, count, distinct=True):
    if distinct:
        scores = np.stack([rng.permutation(count) for _ in range(batches * classes)]) / (2 * count)
    else:
        scores = rng.integers(0, 4, (batches * classes, count)) / 4
    return scores.reshape(batches, classes, count).astype("float32")


@pytest.mark.parametrize("center", [0, 1])
@pytest.mark.parametrize("batches,classes,count", [(1, 1, 7), (2, 3, 13), (3, 2, 129)])
@pytest.mark.parametrize("max_out", [1, 5, 200])
def test_nms(batches, classes, count, center, max_out, target, rng):
    boxes = random_boxes(rng, batches, count, center)
    scores = random_scores(rng, batches, classes, count)
    check_op("NonMaxSuppression", [boxes, scores, const([max_out], "int64"), const([0.5], "float32"),
                                   const([0.25], "float32")], target, {"center_point_box": center})


@pytest.mark.parametrize("center", [0, 1])
def test_nms_equal_scores(center, target, rng):
    boxes = random_boxes(rng, 2, 31, center)
    scores = random_scores(rng, 2, 3, 31, distinct=False)
    check_op("NonMaxSuppression", [boxes, scores, const([10], "int64"), const([0.3], "float32")], target,
             {"center_point_box": center})


def test_nms_optional_inputs(target, rng):
    boxes = random_boxes(rng, 2, 11, 0)
    scores = random_scores(rng, 2, 2, 11)
    check_op("NonMaxSuppression", [boxes, scores], target)  # no max_out: nothing selected
    check_op("NonMaxSuppression", [boxes, scores, const([3], "int64")], target)
    check_op("NonMaxSuppression", [boxes, scores, const([4], "int64"), None, const([0.3], "float32")], target)


def test_nms_none_selected(target, rng):
    boxes = random_boxes(rng, 1, 9, 0)
    scores = random_scores(rng, 1, 2, 9)
    check_op("NonMaxSuppression", [boxes, scores, const([5], "int64"), const([0.5], "float32"),
                                   const([0.99], "float32")], target)
    check_op("NonMaxSuppression", [boxes, scores, const([0], "int64")], target)


def test_nms_thresholds_at_run_time(target, rng):
    """Thresholds fed as graph inputs are read by the kernel; max_out as an input splits the plan."""
    boxes = random_boxes(rng, 2, 17, 1)
    scores = random_scores(rng, 2, 2, 17)
    check_op("NonMaxSuppression", [boxes, scores, np.array([3], dtype="int64"), np.array([0.4], dtype="float32"),
                                   np.array([0.1], dtype="float32")], target, {"center_point_box": 1})


def test_nms_opset10(target, rng):
    boxes = random_boxes(rng, 1, 13, 0)
    scores = random_scores(rng, 1, 3, 13)
    nms = helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou"], ["selected"])
    graph = helper.make_graph(
        [nms], "nms10",
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, boxes.shape),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, scores.shape)],
        [helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])],
        initializer=[numpy_helper.from_array(np.array([4], "int64"), "max_out"),
                     numpy_helper.from_array(np.array([0.5], "float32"), "iou")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    check_model(model, {"boxes": boxes, "scores": scores}, target)


def test_nms_bad_shapes(target, rng):
    scores = random_scores(rng, 1, 2, 5)
    model, _ = make_op_model("NonMaxSuppression", [np.zeros((1, 5, 4), "float32"), scores, const([3], "int64")])
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 3
    with pytest.raises(metalnn.ShapeError, match=r"NonMaxSuppression 'nonmaxsuppression_node': boxes 'input0' "
                                                 r"has shape \[1, 5, 3\], expected \[num_batches, num_boxes, 4\]"):
        metalnn.load(model, device=target.device, precision=target.precision)
    model, _ = make_op_model("NonMaxSuppression", [np.zeros((1, 5, 4), "float32"), scores, const([3], "int64")])
    model.graph.input[1].type.tensor_type.shape.dim[2].dim_value = 6
    with pytest.raises(metalnn.ShapeError, match=r"scores 'input1' has shape \[1, 2, 6\], expected \[1, num_classes, 5\]"):
        metalnn.load(model, device=target.device, precision=target.precision)
