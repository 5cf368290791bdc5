"""Depthwise Conv (group == input channels) against ONNX Runtime: every kernel size 1..7 with strides
1..3 and dilations 1..3 over asymmetric pads and odd sizes, output maps of every width and height the
CPU kernel's register blocks split differently, channel multipliers > 1, 1-D depthwise convs, and
fused activations (clamps applied in registers; on the channel-blocked path the others too, as the
outputs are transposed back, but Tanh)."""

import math

import pytest
from onnx import helper

from op_check import check_model, check_op, const, make_model


def dw_pads(kernel, dilation):
    """Asymmetric pads within the dilated kernel's reach: [top, left, bottom, right]."""
    reach = (kernel - 1) * dilation
    return [reach // 2, reach, 0, min(reach, reach // 2 + 1)]


def reduction_scale(kernel):
    """Tolerance factor: half-precision error grows with the number of taps each output sums."""
    return max(1.0, (math.prod(kernel) / 9) ** 0.5)


def run_depthwise(target, rng, x_shape, kernel, attributes, multiplier=1, bias=True):
    channels = x_shape[1]
    x = rng.standard_normal(x_shape, dtype="float32")
    w = const(rng.standard_normal((channels * multiplier, 1, *kernel), dtype="float32"))
    b = [const(rng.standard_normal(channels * multiplier, dtype="float32"))] if bias else []
    check_op("Conv", [x, w, *b], target, {"group": channels, **attributes}, tolerance_scale=reduction_scale(kernel))


@pytest.mark.parametrize("dilation", [1, 2, 3], ids=lambda d: f"d{d}")
@pytest.mark.parametrize("stride", [1, 2, 3], ids=lambda s: f"s{s}")
@pytest.mark.parametrize("kernel", range(1, 8), ids=lambda k: f"k{k}")
def test_depthwise_kernel_stride_dilation(kernel, stride, dilation, target, rng):
    run_depthwise(target, rng, (3, 5, 19, 23), (kernel, kernel),
                  {"strides": [stride, stride], "dilations": [dilation, dilation], "pads": dw_pads(kernel, dilation)})


# Stride 2 with 3-wide kernels and outputs over 8 wide: with AVX-512 the CPU reads these in place in
# runs of up to 15 outputs (5-wide kernels go channel-blocked). name: (input shape, kernel, multiplier, pads).
STRIDE2_CASES = {
    "k3_odd": ((2, 19, 29, 31), (3, 3), 1, [1, 1, 1, 1]),
    "k3_9_wide": ((1, 7, 9, 17), (3, 3), 1, [1, 1, 1, 1]),
    "k3_56_wide": ((1, 3, 14, 112), (3, 3), 1, [1, 1, 1, 1]),
    "k3_same_upper": ((2, 17, 20, 19), (3, 3), 1, [0, 0, 1, 1]),
    "k3_no_pad": ((1, 16, 21, 24), (3, 3), 1, [0, 0, 0, 0]),
    "k3_multiplier2": ((2, 6, 19, 20), (3, 3), 2, [1, 1, 1, 1]),
    "k5_wide": ((1, 18, 23, 61), (5, 5), 1, [2, 2, 2, 2]),
    "k5_wide_pads": ((1, 5, 18, 17), (5, 5), 1, [4, 3, 2, 4]),
    "k3x5": ((1, 4, 15, 33), (3, 5), 1, [1, 2, 1, 2]),
    "k7x3": ((2, 5, 16, 20), (7, 3), 1, [3, 1, 3, 1]),
}


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("case", STRIDE2_CASES.values(), ids=STRIDE2_CASES.keys())
def test_depthwise_stride2_rows(case, with_bias, target, rng):
    x_shape, kernel, multiplier, pads = case
    run_depthwise(target, rng, x_shape, kernel, {"strides": [2, 2], "pads": pads}, multiplier=multiplier,
                  bias=with_bias)


# Output widths around whole 8-float vectors and heights around the row blocks (8, 4, 2, 1).
@pytest.mark.parametrize("height", [1, 2, 3, 5, 7, 9, 13])
@pytest.mark.parametrize("width", [1, 3, 7, 8, 9, 15, 16, 17, 23, 33, 57, 71])
def test_depthwise_map_sizes(width, height, target, rng):
    run_depthwise(target, rng, (1, 3, height, width), (3, 3), {"pads": [1, 1, 1, 1]})


# name: (input shape, kernel, attributes)
MIXED_CASES = {
    "rect_3x5_s1x2": ((2, 4, 11, 29), (3, 5), {"strides": [1, 2], "pads": [1, 2, 1, 2]}),
    "rect_5x1_s2x1": ((2, 4, 17, 13), (5, 1), {"strides": [2, 1], "pads": [2, 0, 2, 0]}),
    "rect_1x7_d1x2": ((1, 6, 9, 41), (1, 7), {"dilations": [1, 2], "pads": [0, 6, 0, 6]}),
    "stride_3x1_dil_1x3": ((2, 3, 25, 31), (3, 3), {"strides": [3, 1], "dilations": [1, 3], "pads": [1, 3, 1, 3]}),
    "no_pad": ((2, 5, 15, 17), (5, 5), {}),
    "kernel_wider_than_row": ((1, 3, 6, 3), (3, 7), {"pads": [1, 3, 1, 3]}),
    "single_output": ((3, 4, 7, 7), (7, 7), {}),
    "same_upper_s2": ((2, 5, 14, 15), (5, 5), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "same_lower_s2": ((2, 5, 14, 15), (4, 4), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    "many_channels": ((1, 67, 14, 14), (7, 7), {"pads": [3, 3, 3, 3]}),
}


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("case", MIXED_CASES.values(), ids=MIXED_CASES.keys())
def test_depthwise_mixed(case, with_bias, target, rng):
    x_shape, kernel, attributes = case
    run_depthwise(target, rng, x_shape, kernel, attributes, bias=with_bias)


# C_out = multiplier x C_in, group = C_in: every input channel feeds `multiplier` output channels.
@pytest.mark.parametrize("multiplier", [2, 3, 4])
@pytest.mark.parametrize("kernel,stride,dilation", [(3, 1, 1), (3, 2, 1), (5, 2, 2), (7, 1, 1), (2, 3, 2)],
                         ids=["3x3", "3x3_s2", "5x5_s2_d2", "7x7", "2x2_s3_d2"])
def test_depthwise_multiplier(kernel, stride, dilation, multiplier, target, rng):
    run_depthwise(target, rng, (3, 5, 13, 19), (kernel, kernel),
                  {"strides": [stride, stride], "dilations": [dilation, dilation], "pads": dw_pads(kernel, dilation)},
                  multiplier=multiplier)


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("kernel,stride,dilation,length", [(1, 1, 1, 9), (3, 1, 1, 37), (5, 2, 1, 41),
                                                          (7, 3, 2, 50), (15, 1, 1, 101), (4, 2, 3, 33)],
                         ids=["k1", "k3", "k5_s2", "k7_s3_d2", "k15_long", "k4_s2_d3"])
def test_depthwise_1d(kernel, stride, dilation, length, multiplier, target, rng):
    reach = (kernel - 1) * dilation
    run_depthwise(target, rng, (3, 6, length), (kernel,),
                  {"strides": [stride], "dilations": [dilation], "pads": [reach // 2, reach - reach // 2 + 1]},
                  multiplier=multiplier)


ACTIVATIONS = {
    "relu": ("Relu", []),
    "clip": ("Clip", [const(-0.5, "float32"), const(0.75, "float32")]),
    "leaky_relu": ("LeakyRelu", []),
    "sigmoid": ("Sigmoid", []),
    "hard_sigmoid": ("HardSigmoid", []),
    "hard_swish": ("HardSwish", []),
    "tanh": ("Tanh", []),
    "silu": ("Sigmoid", []),  # times the conv's output: Swish
}
# name: (input shape, kernel, multiplier, attributes)
FUSED_CASES = {
    "5x5_s1": ((3, 6, 15, 21), (5, 5), 1, {"pads": [2, 2, 2, 2]}),
    "7x7_s2": ((2, 5, 17, 13), (7, 7), 1, {"strides": [2, 2], "pads": [3, 3, 3, 3]}),
    "3x3_d2": ((2, 4, 11, 19), (3, 3), 1, {"dilations": [2, 2], "pads": [2, 1, 2, 3]}),
    "3x3_multiplier2": ((2, 3, 9, 10), (3, 3), 2, {"pads": [1, 1, 1, 1]}),
    "1d_k5": ((3, 4, 29), (5,), 1, {"pads": [2, 2]}),
    # Channel-blocked with AVX-512 (the activation applied as the outputs are transposed back): a partial
    # block after a full one, odd sizes at stride 2, 7x7 and 14x14 planes, and a plane too wide for it.
    "3x3_s2_odd_partial": ((2, 21, 13, 11), (3, 3), 1, {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "3x3_s1_7x7_c35": ((2, 35, 7, 7), (3, 3), 1, {"pads": [1, 1, 1, 1]}),
    "5x5_s1_14x14": ((1, 18, 14, 14), (5, 5), 1, {"pads": [2, 2, 2, 2]}),
    "3x3_s1_wide": ((2, 5, 6, 41), (3, 3), 1, {"pads": [1, 1, 1, 1]}),
    # Stride 2 read in place (outputs over 8 wide).
    "3x3_s2_rows": ((2, 21, 19, 37), (3, 3), 1, {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "5x5_s2_rows": ((1, 9, 17, 29), (5, 5), 1, {"strides": [2, 2], "pads": [2, 2, 2, 2]}),
}


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("case", FUSED_CASES.values(), ids=FUSED_CASES.keys())
def test_depthwise_fused_activation(case, activation, target, rng):
    x_shape, kernel, multiplier, attributes = case
    channels = x_shape[1]
    op_type, extra = ACTIVATIONS[activation]
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "w": const(rng.standard_normal((channels * multiplier, 1, *kernel), dtype="float32")),
        "b": const(rng.standard_normal(channels * multiplier, dtype="float32")),
    }
    values.update({f"a{i}": value for i, value in enumerate(extra)})
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], group=channels, **attributes),
        helper.make_node(op_type, ["c", *(f"a{i}" for i in range(len(extra)))], ["g" if activation == "silu" else "y"]),
    ]
    if activation == "silu":
        nodes.append(helper.make_node("Mul", ["c", "g"], ["y"]))
    check_model(*make_model(nodes, values, ["y"]), target, target.tolerance.scaled(reduction_scale(kernel)))
