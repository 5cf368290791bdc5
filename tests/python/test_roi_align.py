"""RoiAlign (opset 10 and 16): avg and max, output sizes, sampling_ratio (0 = adaptive),
spatial_scale, half_pixel and output_half_pixel; rois as graph inputs and as constants."""

import metalnn
import numpy as np
import pytest

from op_check import TARGETS, check_op, const, make_op_model

OPSET = 16  # RoiAlign's newest; ONNX Runtime has no kernel registered for later opsets

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)


def boxes(rng, count, batch, height, width, scale=1.0):
    """`count` boxes (x1, y1, x2, y2) in input coordinates / scale, some past the edges, and their batch."""
    x1 = rng.uniform(-2, width - 1, count)
    y1 = rng.uniform(-2, height - 1, count)
    x2 = x1 + rng.uniform(0.3, width * 0.8, count)
    y2 = y1 + rng.uniform(0.3, height * 0.8, count)
    rois = (np.stack([x1, y1, x2, y2], axis=1) / scale).astype("float32")
    return rois, rng.integers(0, batch, count).astype("int64")


@pytest.mark.parametrize("coordinates", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align(sampling_ratio, mode, coordinates, target, rng):
    x = rng.standard_normal((2, 3, 13, 11), dtype="float32")
    rois, batch = boxes(rng, 5, 2, 13, 11)
    attrs = {"mode": mode, "coordinate_transformation_mode": coordinates, "sampling_ratio": sampling_ratio,
             "output_height": 3, "output_width": 4}
    check_op("RoiAlign", [x, rois, batch], target, attrs, opset=OPSET, tolerance_scale=2.0)


@pytest.mark.parametrize("num_rois", [1, 7])
@pytest.mark.parametrize("output", [(1, 1), (5, 2)], ids=str)
def test_roi_align_spatial_scale(num_rois, output, target, rng):
    x = rng.standard_normal((3, 2, 7, 9), dtype="float32")
    rois, batch = boxes(rng, num_rois, 3, 7, 9, scale=0.25)
    attrs = {"spatial_scale": 0.25, "output_height": output[0], "output_width": output[1]}
    check_op("RoiAlign", [x, rois, batch], target, attrs, opset=OPSET, tolerance_scale=2.0)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_opset10(mode, target, rng):
    """RoiAlign-10 has no coordinate_transformation_mode: boxes are not shifted by half a pixel."""
    x = rng.standard_normal((2, 4, 9, 9), dtype="float32")
    rois, batch = boxes(rng, 4, 2, 9, 9)
    attrs = {"mode": mode, "output_height": 2, "output_width": 3, "sampling_ratio": 0}
    check_op("RoiAlign", [x, rois, batch], target, attrs, opset=10, tolerance_scale=2.0)


def test_roi_align_constant_rois(target, rng):
    x = rng.standard_normal((1, 5, 6, 8), dtype="float32")
    rois, batch = boxes(rng, 3, 1, 6, 8)
    check_op("RoiAlign", [x, const(rois), const(batch)], target, {"output_height": 2, "output_width": 2},
             opset=OPSET, tolerance_scale=2.0)


@pytest.mark.parametrize("rois_shape,match", [
    ((3, 5), r"rois 'input1' has shape \[3, 5\], expected \[num_rois, 4\]"),
    ((3,), r"rois 'input1' has shape \[3\], expected \[num_rois, 4\]"),
])
def test_roi_align_bad_rois(rois_shape, match, target):
    model, _ = make_op_model("RoiAlign", [np.zeros((1, 2, 4, 4), "float32"), np.zeros((3, 4), "float32"),
                                          np.zeros(3, "int64")], opset=OPSET)
    rois = model.graph.input[1].type.tensor_type.shape
    del rois.dim[:]
    for size in rois_shape:
        rois.dim.add().dim_value = size
    with pytest.raises(metalnn.ShapeError, match=f"roialign_node.*{match}"):
        metalnn.load(model, device=target.device, precision=target.precision)


def test_roi_align_bad_batch_indices(target):
    model, _ = make_op_model("RoiAlign", [np.zeros((1, 2, 4, 4), "float32"), np.zeros((3, 4), "float32"),
                                          np.zeros(3, "int64")], opset=OPSET)
    model.graph.input[2].type.tensor_type.shape.dim[0].dim_value = 2
    with pytest.raises(metalnn.ShapeError, match=r"roialign_node.*batch_indices 'input2' has shape \[2\]"):
        metalnn.load(model, device=target.device, precision=target.precision)


def test_roi_align_batch_index_out_of_range(target, rng):
    """The CPU names the roi whose batch index is past the batch; the GPU clamps it instead."""
    if target.device != "cpu":
        pytest.skip("GPU kernels clamp indices (no error path on the device)")
    model, _ = make_op_model("RoiAlign", [np.zeros((2, 2, 4, 4), "float32"), np.zeros((3, 4), "float32"),
                                          np.zeros(3, "int64")], opset=OPSET)
    engine = metalnn.load(model, device=target.device)
    feeds = {"input0": rng.standard_normal((2, 2, 4, 4), dtype="float32"),
             "input1": np.ones((3, 4), "float32"), "input2": np.array([0, 2, 1], "int64")}
    with pytest.raises(metalnn.ShapeError, match=r"roialign_node.*batch_indices\[1\] = 2 is outside \[0, 2\)"):
        engine.run(feeds)
