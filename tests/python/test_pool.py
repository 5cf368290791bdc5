"""MaxPool, AveragePool (ceil_mode, count_include_pad, pads, strides, dilations), global pools."""

import os
import subprocess
import sys

import numpy as np
import pytest

from onnx import helper

from op_check import NEWEST_OPSET, OPSETS, check_model, check_op, const, make_model

# name: (input shape, attributes); each case runs as MaxPool and as AveragePool.
POOL_CASES = {
    "2x2_stride2": ((2, 3, 13, 13), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "3x3_stride2": ((2, 5, 14, 14), {"kernel_shape": [3, 3], "strides": [2, 2]}),
    "3x3_stride2_ceil": ((2, 5, 14, 14), {"kernel_shape": [3, 3], "strides": [2, 2],
                                          "ceil_mode": 1}),
    "2x2_stride2_ceil_odd": ((2, 3, 13, 13), {"kernel_shape": [2, 2], "strides": [2, 2],
                                              "ceil_mode": 1}),
    "3x3_stride2_pad1": ((2, 3, 13, 13), {"kernel_shape": [3, 3], "strides": [2, 2],
                                          "pads": [1, 1, 1, 1]}),
    "3x3_stride1_pad1": ((2, 7, 7, 7), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    "asymmetric_pads": ((2, 3, 13, 11), {"kernel_shape": [3, 3], "pads": [0, 1, 2, 1]}),
    "ceil_with_pads": ((2, 3, 13, 13), {"kernel_shape": [3, 3], "strides": [2, 2],
                                        "pads": [1, 1, 1, 1], "ceil_mode": 1}),
    "rectangular": ((2, 3, 13, 13), {"kernel_shape": [2, 3], "strides": [1, 2]}),
    "large_kernel": ((1, 4, 13, 13), {"kernel_shape": [7, 7], "strides": [3, 3]}),
    "same_upper": ((2, 3, 13, 13), {"kernel_shape": [2, 2], "strides": [2, 2],
                                    "auto_pad": "SAME_UPPER"}),
    "same_lower": ((2, 3, 13, 13), {"kernel_shape": [4, 4], "strides": [2, 2],
                                    "auto_pad": "SAME_LOWER"}),
    "valid": ((2, 3, 13, 13), {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "VALID"}),
    "pool1d": ((2, 5, 13), {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    # Stride 2 along rows (separable on AVX2): rows wider than one vector with a partial last one,
    # windows of 1 and up to 16 columns (and 17, which keeps the general kernel), left padding of 1-2.
    "stride2_wide_5x5": ((2, 3, 11, 61), {"kernel_shape": [5, 5], "strides": [2, 2], "pads": [2, 1, 2, 2],
                                          "ceil_mode": 1}),
    "stride2_16_wide": ((1, 2, 5, 70), {"kernel_shape": [2, 16], "strides": [3, 2], "pads": [0, 2, 1, 1]}),
    "stride2_17_wide": ((1, 2, 5, 70), {"kernel_shape": [2, 17], "strides": [1, 2]}),
    "stride2_1x1": ((2, 3, 9, 19), {"kernel_shape": [1, 1], "strides": [2, 2]}),
    "stride2_squeezenet": ((3, 4, 27, 27), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
}


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("case", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pool(op_type, case, target, rng):
    shape, attributes = case
    check_op(op_type, [rng.standard_normal(shape, dtype="float32")], target, attributes)


@pytest.mark.parametrize("kernels", ["avx2", "portable"])
def test_pool_kernel_paths(kernels):
    """The cpu cases of this file once more with the pool kernels capped at AVX2 or plain C++ (no
    stride-2 row kernel: a stem convolution then leaves its MaxPool alone); the choice is made once per
    process."""
    env = dict(os.environ, METALNN_POOL_KERNELS=kernels)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k",
                             "cpu and not kernel_paths and not avx2_path"], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("case", ["3x3_stride2_pad1", "ceil_with_pads", "rectangular", "same_lower", "pool1d"])
def test_max_pool_bytes(case, dtype, target, rng):
    shape, attributes = POOL_CASES[case]
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, shape).astype(dtype)
    check_op("MaxPool", [x], target, attributes)


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize("case", ["3x3_stride2_pad1", "asymmetric_pads", "ceil_with_pads",
                                  "3x3_stride1_pad1", "same_upper"])
def test_average_pool_count_include_pad(case, count_include_pad, target, rng):
    shape, attributes = POOL_CASES[case]
    attributes = {**attributes, "count_include_pad": count_include_pad}
    check_op("AveragePool", [rng.standard_normal(shape, dtype="float32")], target, attributes)


@pytest.mark.parametrize("op_type,opset", [("MaxPool", 11), ("MaxPool", NEWEST_OPSET),
                                           ("AveragePool", NEWEST_OPSET)])
@pytest.mark.parametrize("dilations,pads", [([2, 2], [0, 0, 0, 0]), ([2, 3], [2, 1, 1, 2])])
def test_pool_dilations(op_type, opset, dilations, pads, target, rng):
    """AveragePool has dilations since opset 19, MaxPool since opset 10."""
    x = rng.standard_normal((2, 3, 13, 13), dtype="float32")
    attributes = {"kernel_shape": [3, 3], "strides": [2, 1], "dilations": dilations, "pads": pads}
    check_op(op_type, [x], target, attributes, opset=opset)


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("opset", OPSETS)
def test_pool_opsets(op_type, opset, target, rng):
    x = rng.standard_normal((2, 3, 13, 13), dtype="float32")
    attributes = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}
    check_op(op_type, [x], target, attributes, opset=opset)


@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 7, 13, 13), (1, 129, 7, 7), (4, 13, 1, 1), (2, 5, 13)])
def test_global_pool(op_type, shape, target, rng):
    check_op(op_type, [rng.standard_normal(shape, dtype="float32")], target)


# Conv (<= 4 input channels, stride 2: the CPU's stem kernel) -> activation -> MaxPool. On the CPU the
# stem pools its own rows when the pool moves 2 columns a step (a band per task; one image splits into
# several bands, which recompute the rows they share); other pools run apart.
# name: (input shape, weight shape, conv attributes, pool attributes)
STEM_POOL_CASES = {
    "squeezenet": ((2, 3, 35, 37), (13, 3, 3, 3), {"strides": [2, 2]},
                   {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    "resnet": ((3, 3, 37, 41), (20, 3, 7, 7), {"strides": [2, 2], "pads": [3, 3, 3, 3]},
               {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "one_image_bands": ((1, 3, 75, 70), (9, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]},
                        {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    "2x2": ((2, 2, 30, 64), (8, 2, 3, 3), {"strides": [2, 2]}, {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "rows_stride1_dilated": ((2, 3, 33, 35), (6, 3, 3, 3), {"strides": [2, 2]},
                             {"kernel_shape": [3, 2], "strides": [1, 2], "dilations": [2, 1], "pads": [2, 0, 1, 1]}),
    "rows_stride3_skipped": ((2, 1, 40, 40), (5, 1, 3, 3), {"strides": [2, 2]},
                             {"kernel_shape": [1, 3], "strides": [3, 2]}),
    # The first pooled row needs 11 convolution rows, more than one buffer fill holds; rows of 45
    # columns end in a tile of three vectors; 17 channels leave a partial block.
    "tall_window": ((2, 3, 45, 90), (17, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]},
                    {"kernel_shape": [11, 3], "strides": [2, 2], "pads": [0, 1, 0, 1]}),
    "not_fused_stride1": ((2, 3, 21, 23), (7, 3, 3, 3), {"strides": [2, 2]},
                          {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
}
STEM_POOL_ACTIVATIONS = {"none": None, "relu": "Relu", "leaky_relu": "LeakyRelu"}


def stem_pool_model(case, activation, rng, extra_outputs=()):
    x_shape, w_shape, conv_attributes, pool_attributes = case
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "w": const(rng.standard_normal(w_shape, dtype="float32")),
        "b": const(rng.standard_normal(w_shape[0], dtype="float32")),
    }
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **conv_attributes)]
    if activation:
        nodes.append(helper.make_node(activation, ["c"], ["a"]))
    nodes.append(helper.make_node("MaxPool", ["a" if activation else "c"], ["y"], **pool_attributes))
    return make_model(nodes, values, ["y", *extra_outputs])


@pytest.mark.parametrize("activation", STEM_POOL_ACTIVATIONS)
@pytest.mark.parametrize("case", STEM_POOL_CASES.values(), ids=STEM_POOL_CASES.keys())
def test_stem_pool(case, activation, target, rng):
    reduction = np.prod(case[1][1:])
    check_model(*stem_pool_model(case, STEM_POOL_ACTIVATIONS[activation], rng), target,
                target.tolerance.scaled(max(1.0, (reduction / 18) ** 0.5)))


def test_stem_pool_output_read_elsewhere(target, rng):
    """The convolution's output is a graph output too: the pool cannot take its place."""
    check_model(*stem_pool_model(STEM_POOL_CASES["squeezenet"], None, rng, ["c"]), target,
                target.tolerance.scaled(1.3))


def test_stem_pool_avx2_path():
    """The cpu stem-pool cases once more with the stem kernel capped at AVX2 (chosen once per process)."""
    env = dict(os.environ, METALNN_STEM_KERNELS="avx2")
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k",
                             "stem_pool and cpu-float32 and not avx2_path"], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout, result.stdout[-3000:]
