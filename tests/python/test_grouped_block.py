"""Grouped bottlenecks as RegNets and ResNeXts write them: a 1x1 expansion and its activation, then a
grouped conv and its activation. On the cpu device the pair runs as one step over bands of output
rows and chunks of whole groups (cpu/grouped_block.h) when the expanded tensor holds at least 2^18
floats over the batch, so the shapes here are that large; metal-sim runs the same graphs as separate
convs. Group widths 2 to 24, stride 1 and 2, 3x3 and 5x5 kernels, odd sizes, channel counts not
multiples of 16, batch 1 to 3."""

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import metalnn
from op_check import CPU_TARGETS, check_model, const, make_model, run_reference
from test_depthwise_block import ACTIVATIONS, activation, cpu_conv_steps

# name: (input shape, expanded channels, group width, output channels, kernel, stride, pads)
CASES = {
    "w8_stride2": ((2, 12, 59, 49), 48, 8, 48, 3, 2, [1, 1, 1, 1]),
    "w2_stride1": ((1, 5, 75, 71), 50, 2, 50, 3, 1, [1, 1, 1, 1]),
    "w4_stride2_uneven_pads": ((3, 7, 41, 45), 60, 4, 60, 3, 2, [0, 0, 1, 1]),
    "w16_stride1": ((2, 20, 43, 39), 80, 16, 80, 3, 1, [1, 1, 1, 1]),
    "w24_stride2_wider_out": ((1, 9, 67, 61), 72, 24, 108, 3, 2, [1, 1, 1, 1]),
    "w8_k5_deep": ((2, 70, 35, 31), 136, 8, 136, 5, 2, [2, 2, 2, 2]),
    "w8_many_bands": ((1, 32, 113, 111), 48, 8, 48, 3, 2, [1, 1, 1, 1]),
}


def grouped_block(rng, x_shape, expanded, width, out_c, kernel, stride, pads, act, bias=True, residual=False,
                  reread=False, dilation=1):
    """The pair's model and feeds; `residual` adds an input after the grouped conv, `reread` the expanded
    tensor (which then has two readers)."""
    c = x_shape[1]
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "we": const(rng.standard_normal((expanded, c, 1, 1), dtype="float32") / np.sqrt(c), "float32"),
        "wg": const(rng.standard_normal((out_c, width, kernel, kernel), dtype="float32") / (kernel * np.sqrt(width)),
                    "float32"),
    }
    be, bg = [], []
    if bias:
        values["be"] = const(rng.standard_normal(expanded, dtype="float32"))
        values["bg"] = const(rng.standard_normal(out_c, dtype="float32"))
        be, bg = ["be"], ["bg"]
    nodes = [helper.make_node("Conv", ["x", "we", *be], ["e"])]
    e = activation(act, "e", values, nodes)
    nodes.append(helper.make_node("Conv", [e, "wg", *bg], ["g"], group=expanded // width,
                                  kernel_shape=[kernel, kernel], strides=[stride, stride], pads=pads,
                                  dilations=[dilation, dilation]))
    out = activation(act, "g", values, nodes)
    if residual:
        values["r"] = rng.standard_normal((x_shape[0], out_c, *output_size(x_shape, kernel, stride, pads)),
                                          dtype="float32")
        nodes.append(helper.make_node("Add", [out, "r"], ["y"]))
        out = "y"
    if reread:
        nodes.append(helper.make_node("Add", [out, e], ["y"]))
        out = "y"
    return make_model(nodes, values, [out])


def output_size(x_shape, kernel, stride, pads):
    """The grouped conv's output rows and columns."""
    return [(x_shape[2 + i] + pads[i] + pads[2 + i] - kernel) // stride + 1 for i in range(2)]


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_expand_grouped(case, act, target, rng):
    model, feeds = grouped_block(rng, *case, act)
    check_model(model, feeds, target, target.tolerance.scaled(3.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 1


@pytest.mark.parametrize("residual", [False, True])
def test_expand_grouped_no_bias(residual, target, rng):
    model, feeds = grouped_block(rng, (2, 6, 61, 43), 64, 8, 64, 3, 2, [1, 1, 1, 1], "relu", bias=False,
                                 residual=residual)
    check_model(model, feeds, target, target.tolerance.scaled(3.0))


@pytest.mark.parametrize("stride", [1, 2])
def test_expand_grouped_dilated(stride, target, rng):
    """Dilated taps reach further rows: each band expands the rows they read."""
    model, feeds = grouped_block(rng, (2, 10, 83, 53), 40, 8, 40, 3, stride, [2, 2, 2, 2], "relu", dilation=2)
    check_model(model, feeds, target, target.tolerance.scaled(3.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 1


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 3])
def test_grouped_block_threads(batch, threads, rng):
    """Fewer bands than threads split the groups into narrower chunks."""
    model, feeds = grouped_block(rng, (batch, 16, 57, 59), 104, 8, 104, 3, 2, [1, 1, 1, 1], "relu")
    expected = run_reference(model, feeds)["g_relu"]
    actual = metalnn.load(model, device="cpu", threads=threads).run(feeds)["g_relu"]
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


def test_grouped_block_switch(monkeypatch, rng):
    """METALNN_GROUPED_BLOCKS=0 leaves the pair two steps, with the same result."""
    model, feeds = grouped_block(rng, *CASES["w8_stride2"], "relu")
    monkeypatch.setenv("METALNN_GROUPED_BLOCKS", "0")
    assert cpu_conv_steps(model, feeds) == 2
    check_model(model, feeds, CPU_TARGETS[0])
    monkeypatch.setenv("METALNN_GROUPED_BLOCKS", "1")
    assert cpu_conv_steps(model, feeds) == 1


def test_expand_grouped_not_fused(rng):
    """The pair stays two steps when the expanded tensor is small, or read elsewhere too."""
    for args, reread in ((((1, 8, 20, 20), 32), False), (((1, 4, 96, 96), 48), True)):
        model, feeds = grouped_block(rng, *args, 8, args[1], 3, 1, [1, 1, 1, 1], "relu", reread=reread)
        assert cpu_conv_steps(model, feeds) == 2
        check_model(model, feeds, CPU_TARGETS[0])


@pytest.mark.parametrize("isa", ["avx2", "portable"])
def test_grouped_block_kernel_isa_paths(isa):
    """The cpu cases above once more with the grouped conv on AVX2 or portable register tiles."""
    env = dict(os.environ, METALNN_GROUPED_KERNELS=isa)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not isa_paths"], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]
