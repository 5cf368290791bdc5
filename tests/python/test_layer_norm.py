"""LayerNormalization (opset 17): axis, epsilon, broadcast Scale/B, optional Mean and InvStdDev outputs."""

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

from op_check import TARGETS, check_model, check_op, const, make_model

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)

SHAPE = (2, 7, 13)


@pytest.mark.parametrize("axis", [-1, 1, 0, 2])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(axis, with_bias, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32") * 3 + 1
    normalized = SHAPE[axis:] if axis >= 0 else SHAPE[axis:]
    inputs = [x, const(rng.standard_normal(normalized, dtype="float32"))]
    if with_bias:
        inputs.append(const(rng.standard_normal(normalized, dtype="float32")))
    check_op("LayerNormalization", inputs, target, {"axis": axis}, opset=17)


def test_layer_norm_all_outputs(target, rng):
    x = rng.standard_normal((4, 129), dtype="float32")
    scale, bias = rng.standard_normal((2, 129), dtype="float32")
    check_op("LayerNormalization", [x, scale, bias], target, {"epsilon": 1e-3}, num_outputs=3)


def test_layer_norm_broadcast_scale(target, rng):
    """Scale [1, 13] and a scalar-like B broadcast over the normalised dims [7, 13]."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    scale = rng.standard_normal((1, 13), dtype="float32")
    check_op("LayerNormalization", [x, scale, const(np.array([0.5], "float32"))], target, {"axis": 1})


def test_layer_norm_transformer_shape(target, rng):
    """A BERT-like hidden state: [batch, tokens, 768]."""
    x = rng.standard_normal((2, 33, 768), dtype="float32")
    scale, bias = rng.standard_normal((2, 768), dtype="float32")
    check_op("LayerNormalization", [x, const(scale), const(bias)], target, {"epsilon": 1e-12}, tolerance_scale=10)


def test_layer_norm_offset_rows(target, rng):
    """Rows far from zero (mean 300, deviation 0.5) with a width that leaves a vector tail: the sums
    must keep the small deviations."""
    if target.precision == "float16":
        pytest.skip("float16 holds 300 only to 0.25, coarser than the deviations")
    x = rng.standard_normal((3, 5, 773), dtype="float32") * 0.5 + 300
    scale, bias = rng.standard_normal((2, 773), dtype="float32")
    check_op("LayerNormalization", [x, const(scale), const(bias)], target, tolerance_scale=10)


# Transpose to channels-last, then LayerNorm over the channels (ConvNeXt's blocks and downsampling):
# the cpu device runs the pair as one kernel. Channels and positions around its 16-wide tiles.
CHANNELS_LAST = {
    "c96_7x7": ((2, 96, 7, 7), True),
    "c20_5x9": ((3, 20, 5, 9), False),
    "c16_4x4": ((1, 16, 4, 4), True),
    "c7_1x3": ((2, 7, 1, 3), True),
    "c40_17x1": ((1, 40, 17, 1), True),
}


@pytest.mark.parametrize("case", CHANNELS_LAST.values(), ids=CHANNELS_LAST.keys())
def test_layer_norm_after_channels_last_transpose(case, target, rng):
    shape, with_bias = case
    c = shape[1]
    values = {"x": rng.standard_normal(shape, dtype="float32") * 2 + 1,
              "scale": const(rng.standard_normal(c, dtype="float32"))}
    ln_inputs = ["t", "scale"]
    if with_bias:
        values["bias"] = const(rng.standard_normal(c, dtype="float32"))
        ln_inputs.append("bias")
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("LayerNormalization", ln_inputs, ["y"], axis=-1, epsilon=1e-6)]
    model, feeds = make_model(nodes, values, ["y"], opset=17)
    check_model(model, feeds, target)


def test_layer_norm_after_channels_last_transpose_offset(target, rng):
    """Channels far from zero (mean 300, deviation 0.5): the statistics must keep the deviations."""
    if target.precision == "float16":
        pytest.skip("float16 holds 300 only to 0.25, coarser than the deviations")
    values = {"x": rng.standard_normal((2, 197, 5, 7), dtype="float32") * 0.5 + 300,
              "scale": const(rng.standard_normal(197, dtype="float32")),
              "bias": const(rng.standard_normal(197, dtype="float32"))}
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("LayerNormalization", ["t", "scale", "bias"], ["y"], axis=-1)]
    model, feeds = make_model(nodes, values, ["y"], opset=17)
    check_model(model, feeds, target, target.tolerance.scaled(10))


def test_layer_norm_after_transpose_not_fused(target, rng):
    """Run-time scale, a normalised axis that is not all the channels, the transposed value read
    twice: the pair stays two kernels and must still be right."""
    x = rng.standard_normal((2, 6, 5, 4), dtype="float32")
    values = {"x": x, "scale": rng.standard_normal(6, dtype="float32"),
              "s2": const(rng.standard_normal((4, 6), dtype="float32"))}
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("LayerNormalization", ["t", "scale"], ["y"], axis=-1),
             helper.make_node("LayerNormalization", ["t", "s2"], ["z"], axis=-2)]
    model, feeds = make_model(nodes, values, ["y", "z"], opset=17)
    check_model(model, feeds, target)


def test_layer_norm_cpu_portable(target):
    """The cpu tests of this file once more with the transposes in scalar tiles and the LayerNorm
    apart (METALNN_TRANSPOSE_KERNELS=portable), as on CPUs without AVX-512."""
    if str(target) != "cpu-float32":
        pytest.skip("one rerun of the cpu cases")
    env = dict(os.environ, METALNN_TRANSPOSE_KERNELS="portable")
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not portable"], env=env, capture_output=True, text=True, cwd=here)
    assert result.returncode == 0, result.stdout[-3000:]
