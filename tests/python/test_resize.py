"""Resize, nearest, linear and cubic: scales or sizes, coordinate modes, nearest modes, axes and
keep_aspect_ratio_policy (opset 18), antialias (18), half_pixel_symmetric (19), tf_crop_and_resize,
cubic_coeff_a and exclude_outside, opset 10's form."""

import metalnn
import numpy as np
import pytest

from op_check import NEWEST_OPSET, TARGETS, check_op, const, make_op_model, run_reference

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)

COORDINATE_MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]
SCALES = {"up2": [1, 1, 2, 2], "up3x1.5": [1, 1, 3, 1.5], "down": [1, 1, 0.5, 0.5], "mixed": [1, 1, 0.6, 2.5]}


def image(rng, shape=(2, 3, 8, 10)):
    return rng.standard_normal(shape, dtype="float32")


@pytest.mark.parametrize("scales", SCALES)
@pytest.mark.parametrize("coordinates", COORDINATE_MODES)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_scales(mode, coordinates, scales, target, rng):
    if scales == "mixed" and coordinates in ("align_corners", "pytorch_half_pixel"):
        pytest.skip("fractional output length: ONNX Runtime uses the integer one, metalnn the reference's")
    attrs = {"mode": mode, "coordinate_transformation_mode": coordinates}
    check_op("Resize", [image(rng), None, const(SCALES[scales], "float32")], target, attrs)


@pytest.mark.parametrize("sizes", [[2, 3, 16, 20], [2, 3, 5, 13], [2, 3, 1, 7], [2, 3, 17, 21]], ids=str)
@pytest.mark.parametrize("coordinates", COORDINATE_MODES + ["half_pixel_symmetric"])
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_sizes(mode, coordinates, sizes, target, rng):
    attrs = {"mode": mode, "coordinate_transformation_mode": coordinates}
    check_op("Resize", [image(rng), None, None, const(sizes, "int64")], target, attrs)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("coordinates", COORDINATE_MODES)
@pytest.mark.parametrize("scales", ["up2", "up3x1.5", "down"])
def test_resize_nearest(scales, coordinates, nearest_mode, target, rng):
    attrs = {"mode": "nearest", "coordinate_transformation_mode": coordinates, "nearest_mode": nearest_mode}
    check_op("Resize", [image(rng), None, const(SCALES[scales], "float32")], target, attrs)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int8"])
def test_resize_nearest_integers(dtype, target, rng):
    """Nearest moves elements by width: every integer dtype (1- and 4-byte kernels)."""
    x = rng.integers(0 if dtype == "uint8" else -50, 50, (2, 2, 5, 7)).astype(dtype)
    check_op("Resize", [x, None, None, const([2, 2, 13, 3], "int64")], target, {"mode": "nearest"})


def test_resize_nearest_int64(target, rng):
    """8-byte elements beyond 32 bits. ONNX Runtime has no int64 Resize: it resizes the elements'
    indices (int32), which say where each output element comes from."""
    x = rng.integers(-(2**40), 2**40, (2, 2, 5, 7)).astype("int64")
    inputs = [None, None, const([2, 2, 13, 3], "int64")]
    model, feeds = make_op_model("Resize", [np.arange(x.size, dtype="int32").reshape(x.shape), *inputs],
                                 {"mode": "nearest"})
    source = run_reference(model, feeds)["output0"]
    model, feeds = make_op_model("Resize", [x, *inputs], {"mode": "nearest"})
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    np.testing.assert_array_equal(actual, x.ravel()[source])


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_axes_and_aspect_policy(mode, policy, target, rng):
    attrs = {"mode": mode, "axes": [2, 3], "keep_aspect_ratio_policy": policy}
    check_op("Resize", [image(rng), None, None, const([13, 15], "int64")], target, attrs, opset=NEWEST_OPSET)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_tf_crop_and_resize(mode, target, rng):
    attrs = {"mode": mode, "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 7.0}
    roi = const([0, 0, -0.2, 0.3, 1, 1, 0.8, 1.4], "float32")
    check_op("Resize", [image(rng), roi, None, const([2, 3, 6, 9], "int64")], target, attrs)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_opset10(mode, target, rng):
    """Resize-10 takes (X, scales) and resizes with asymmetric coordinates."""
    check_op("Resize", [image(rng), const([1, 1, 2, 3], "float32")], target, {"mode": mode}, opset=10)


def test_resize_5d_nearest_every_axis(target, rng):
    x = rng.standard_normal((3, 4, 5, 6, 7), dtype="float32")
    check_op("Resize", [x, None, const([2, 1, 0.6, 1.5, 2], "float32")], target, {"mode": "nearest"})


@pytest.mark.parametrize("scales", ["up3x1.5", "down"])
@pytest.mark.parametrize("coeff_a", [-0.5, -0.75])
@pytest.mark.parametrize("exclude_outside", [0, 1])
def test_resize_cubic_coeff_and_exclude_outside(exclude_outside, coeff_a, scales, target, rng):
    attrs = {"mode": "cubic", "cubic_coeff_a": coeff_a, "exclude_outside": exclude_outside}
    check_op("Resize", [image(rng), None, const(SCALES[scales], "float32")], target, attrs)


@pytest.mark.parametrize("scales", [[1.5, 0.6], [2, 2.5]], ids=str)
def test_resize_cubic_2d_every_axis(scales, target, rng):
    """ONNX Runtime resizes 2-D inputs (bicubic) on both axes; 4-D ones on the last two only."""
    x = rng.standard_normal((7, 9), dtype="float32")
    check_op("Resize", [x, None, const(scales, "float32")], target, {"mode": "cubic"})


@pytest.mark.parametrize("sizes", [[2, 3, 3, 4], [2, 3, 5, 3], [2, 3, 7, 13]], ids=str)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_antialias(mode, sizes, target, rng):
    x = image(rng, (2, 3, 13, 11))
    attrs = {"mode": mode, "antialias": 1}
    check_op("Resize", [x, None, None, const(sizes, "int64")], target, attrs, opset=NEWEST_OPSET)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_antialias_scales_axes(mode, target, rng):
    attrs = {"mode": mode, "antialias": 1, "axes": [2, 3]}
    check_op("Resize", [image(rng, (2, 3, 13, 11)), None, const([0.3, 0.6], "float32")], target, attrs,
             opset=NEWEST_OPSET)


def test_resize_cubic_needs_float(target):
    model, _ = make_op_model("Resize", [np.zeros((1, 1, 3, 3), "int32"), None, const([1, 1, 2, 2], "float32")],
                             {"mode": "cubic"})
    with pytest.raises(metalnn.DtypeError, match="resize_node.*int32"):
        metalnn.load(model, device=target.device, precision=target.precision)
