"""Inverted-bottleneck blocks as MobileNets write them: a 1x1 expansion and its activation, a depthwise
conv and its activation, optionally a 1x1 projection with a residual Add. On the cpu device the
expansion, the depthwise conv and the projection run as one step over chunks of channels
(cpu/depthwise_block.h) when the depthwise input holds at least 2^16 floats per image and 2^18 over
the batch, so the shapes here are that large; metal-sim runs the same graphs as separate convs. Every
activation, stride 1 and 2, 3x3 and 5x5 kernels, odd sizes, channel counts that split into uneven
chunks, maps split into bands of rows, a stem convolution in front, batch 1 and > 1."""

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

import metalnn
from op_check import CPU_TARGETS, check_model, const, make_model, run_reference

ACTIVATIONS = ("none", "relu", "relu6", "hardswish", "silu")

# name: (input shape, expanded channels, kernel, stride, pads). The depthwise kernels differ:
# stride2_k3 reads in place, stride1_wide per plane, stride1_narrow (maps at most 32 wide)
# channel-blocked, k5 per plane at stride 2. Expansions 64 deep run on the packed GEMM, shallower ones
# on the direct kernel.
CASES = {
    "stride2_k3": ((2, 5, 57, 47), 52, 3, 2, [1, 1, 1, 1]),
    "stride1_wide": ((1, 7, 65, 61), 67, 3, 1, [1, 1, 1, 1]),
    "stride1_narrow": ((2, 3, 30, 29), 157, 3, 1, [1, 1, 1, 1]),
    "stride2_k5": ((1, 8, 64, 66), 64, 5, 2, [2, 2, 2, 2]),
    "stride2_k3_no_pad": ((3, 4, 52, 53), 56, 3, 2, [0, 0, 1, 1]),
    "deep_expansion": ((2, 64, 29, 31), 160, 3, 1, [1, 1, 1, 1]),
}


def activation(kind, name, values, nodes):
    """Appends `kind` applied to value `name`; returns the name of its output."""
    out = name + "_" + kind
    if kind == "none":
        return name
    if kind == "relu":
        nodes.append(helper.make_node("Relu", [name], [out]))
    elif kind == "relu6":
        values[name + "_lo"], values[name + "_hi"] = const(0.0, "float32"), const(6.0, "float32")
        nodes.append(helper.make_node("Clip", [name, name + "_lo", name + "_hi"], [out]))
    elif kind == "hardswish":
        nodes.append(helper.make_node("HardSwish", [name], [out]))
    else:
        nodes.append(helper.make_node("Sigmoid", [name], [name + "_sig"]))
        nodes.append(helper.make_node("Mul", [name, name + "_sig"], [out]))
    return out


def block(rng, x_shape, expanded, kernel, stride, pads, act, project=False, bias=True, head=False):
    """The block's model, feeds, and how many Conv steps the cpu should run fused or not."""
    c = x_shape[1]
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "we": const(rng.standard_normal((expanded, c, 1, 1), dtype="float32") / np.sqrt(c), "float32"),
        "wd": const(rng.standard_normal((expanded, 1, kernel, kernel), dtype="float32") / kernel, "float32"),
    }
    be, bd = [], []
    if bias:
        values["be"] = const(rng.standard_normal(expanded, dtype="float32"))
        values["bd"] = const(rng.standard_normal(expanded, dtype="float32"))
        be, bd = ["be"], ["bd"]
    nodes = [helper.make_node("Conv", ["x", "we", *be], ["e"])]
    e = activation(act, "e", values, nodes)
    nodes.append(helper.make_node("Conv", [e, "wd", *bd], ["d"], group=expanded, kernel_shape=[kernel, kernel],
                                  strides=[stride, stride], pads=pads))
    out = activation(act, "d", values, nodes)
    if project:
        values["wp"] = const(rng.standard_normal((c, expanded, 1, 1), dtype="float32") / np.sqrt(expanded), "float32")
        nodes.append(helper.make_node("Conv", [out, "wp"], ["p"]))
        out = "p"
        if stride == 1:
            nodes.append(helper.make_node("Add", ["x", "p"], ["y"]))
            out = "y"
        if head:  # a 1x1 conv after the projection, which must stay a step of its own
            values["wh"] = const(rng.standard_normal((24, c, 1, 1), dtype="float32") / np.sqrt(c), "float32")
            nodes.append(helper.make_node("Conv", [out, "wh"], ["h"]))
            out = "h"
    return make_model(nodes, values, [out])


def cpu_conv_steps(model, feeds):
    """The Conv steps the cpu device runs (its profile lists one per step)."""
    profile = metalnn.load(model, device="cpu").profile(feeds, runs=1, warmup=0)
    return sum(layer.op == "Conv" for layer in profile.layers)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_expand_depthwise(case, act, target, rng):
    x_shape, expanded, kernel, stride, pads = case
    model, feeds = block(rng, x_shape, expanded, kernel, stride, pads, act)
    check_model(model, feeds, target, target.tolerance.scaled(3.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 1


@pytest.mark.parametrize("act", ["relu6", "hardswish"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("batch", [1, 3])
def test_expand_depthwise_project(batch, stride, act, target, rng):
    """The whole block: the projection (and at stride 1 the residual Add) joins the fused pair, its
    sums over the chunks split over the threads when there are fewer images than threads."""
    model, feeds = block(rng, (batch, 16, 59, 47), 96, 3, stride, [1, 1, 1, 1], act, project=True)
    check_model(model, feeds, target, target.tolerance.scaled(4.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 1


@pytest.mark.parametrize("act", ["relu", "silu"])
@pytest.mark.parametrize("batch", [1, 3, 4])
def test_depthwise_project(batch, act, target, rng):
    """A block without expansion (MobileNetV2's first): the depthwise conv on the input and the
    projection after it, one step on the cpu once the batch's input reaches 2^20 floats (below, the
    depthwise output stays in cache for the projection as a step of its own)."""
    c, h, w = 32, 91, 93
    values = {
        "x": rng.standard_normal((batch, c, h, w), dtype="float32"),
        "wd": const(rng.standard_normal((c, 1, 3, 3), dtype="float32") / 3, "float32"),
        "bd": const(rng.standard_normal(c, dtype="float32")),
        "wp": const(rng.standard_normal((16, c, 1, 1), dtype="float32") / np.sqrt(c), "float32"),
        "bp": const(rng.standard_normal(16, dtype="float32")),
    }
    nodes = [helper.make_node("Conv", ["x", "wd", "bd"], ["d"], group=c, pads=[1, 1, 1, 1])]
    d = activation(act, "d", values, nodes)
    nodes.append(helper.make_node("Conv", [d, "wp", "bp"], ["y"]))
    model, feeds = make_model(nodes, values, ["y"])
    check_model(model, feeds, target, target.tolerance.scaled(4.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == (1 if batch * c * h * w >= 1 << 20 else 2)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("shape, expanded, stride", [((24, 57, 55), 141, 1), ((16, 91, 93), 45, 2)],
                         ids=["36_wide", "12_wide"])
def test_expand_depthwise_project_even_chunks(shape, expanded, stride, batch, target, rng):
    """MobileNetV2's 56 x 56 and MnasNet's 112 x 112 blocks: expanded channels on per-plane depthwise
    kernels run in an even count of chunks (for two threads) that are not multiples of 16, here four of
    36 or 12, the last one shorter."""
    model, feeds = block(rng, (batch, *shape), expanded, 3, stride, [1, 1, 1, 1], "relu6", project=True)
    check_model(model, feeds, target, target.tolerance.scaled(4.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 1
        out = model.graph.output[0].name
        for threads in (1, 2):
            np.testing.assert_allclose(metalnn.load(model, device="cpu", threads=threads).run(feeds)[out],
                                       run_reference(model, feeds)[out], rtol=1e-4, atol=1e-4)


# name: (input shape, expanded channels, kernel, stride, pads). Maps whose chunk of whole planes
# would overflow its share of L2 (over 10^4 pixels) run in bands of output rows, each expanding the
# input rows it reads: the first band's padding at the top, the last one's at the bottom and shorter.
BAND_CASES = {
    "stride2_k3": ((8, 131, 97), 40, 3, 2, [1, 1, 1, 1]),
    "stride1_k3": ((12, 127, 101), 36, 3, 1, [1, 1, 1, 1]),
    "stride1_k5": ((8, 121, 95), 24, 5, 1, [2, 2, 2, 2]),
    "stride2_k5_odd_pads": ((8, 119, 103), 24, 5, 2, [1, 2, 2, 1]),
    "stride1_narrow": ((8, 421, 30), 32, 3, 1, [1, 1, 1, 1]),  # channel-blocked depthwise kernel
    "deep_expansion": ((64, 111, 97), 72, 3, 2, [1, 1, 1, 1]),  # expansion on the packed GEMM
}


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", BAND_CASES.values(), ids=BAND_CASES.keys())
def test_expand_depthwise_project_bands(case, batch, target, rng):
    x_shape, expanded, kernel, stride, pads = case
    model, feeds = block(rng, (batch, *x_shape), expanded, kernel, stride, pads, "relu6", project=True)
    check_model(model, feeds, target, target.tolerance.scaled(4.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 1


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("batch", [1, 3])
def test_expand_depthwise_project_bands_threads(batch, threads, rng):
    """Bands of rows split over the threads, several from one image."""
    model, feeds = block(rng, (batch, 12, 127, 101), 36, 3, 1, [1, 1, 1, 1], "hardswish", project=True)
    expected = run_reference(model, feeds)["y"]
    actual = metalnn.load(model, device="cpu", threads=threads).run(feeds)["y"]
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


def stem_block(rng, x_shape, kernel, stride, pads, stem_act, channels=32):
    """A network's start: a 3x3 stride-2 stem convolution, a depthwise conv and a projection to 16."""
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "ws": const(rng.standard_normal((channels, x_shape[1], 3, 3), dtype="float32") / 5, "float32"),
        "bs": const(rng.standard_normal(channels, dtype="float32")),
        "wd": const(rng.standard_normal((channels, 1, kernel, kernel), dtype="float32") / kernel, "float32"),
        "bd": const(rng.standard_normal(channels, dtype="float32")),
        "wp": const(rng.standard_normal((16, channels, 1, 1), dtype="float32") / np.sqrt(channels), "float32"),
    }
    nodes = [helper.make_node("Conv", ["x", "ws", "bs"], ["s"], strides=[2, 2], pads=[1, 1, 1, 1])]
    s = activation(stem_act, "s", values, nodes)
    nodes.append(helper.make_node("Conv", [s, "wd", "bd"], ["d"], group=channels, kernel_shape=[kernel, kernel],
                                  strides=[stride, stride], pads=pads))
    d = activation("relu6", "d", values, nodes)
    nodes.append(helper.make_node("Conv", [d, "wp"], ["y"]))
    return make_model(nodes, values, ["y"])


# name: (input shape, depthwise kernel, stride, pads, stem activation). Batches whose stem output
# reaches 2^20 floats run as one step, in bands of rows each made by the stem as it is consumed.
STEM_CASES = {
    "k3": ((3, 3, 227, 229), 3, 1, [1, 1, 1, 1], "relu6"),
    "k3_hardswish": ((4, 3, 201, 223), 3, 1, [1, 1, 1, 1], "hardswish"),
    "k5_stride2": ((3, 3, 301, 297), 5, 2, [2, 2, 2, 2], "relu"),
    "four_channels": ((3, 4, 233, 211), 3, 1, [1, 1, 1, 1], "none"),
}


@pytest.mark.parametrize("case", STEM_CASES.values(), ids=STEM_CASES.keys())
def test_stem_depthwise_project(case, target, rng):
    x_shape, kernel, stride, pads, stem_act = case
    model, feeds = stem_block(rng, x_shape, kernel, stride, pads, stem_act)
    check_model(model, feeds, target, target.tolerance.scaled(4.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 1


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_stem_depthwise_project_threads(threads, rng):
    """The bands of three images over the threads; a single image stays three steps."""
    model, feeds = stem_block(rng, (3, 3, 227, 229), 3, 1, [1, 1, 1, 1], "relu6")
    expected = run_reference(model, feeds)["y"]
    actual = metalnn.load(model, device="cpu", threads=threads).run(feeds)["y"]
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))
    model, feeds = stem_block(rng, (1, 3, 227, 229), 3, 1, [1, 1, 1, 1], "relu6")
    assert cpu_conv_steps(model, feeds) == 3
    check_model(model, feeds, CPU_TARGETS[0])


def test_expand_depthwise_project_then_conv(target, rng):
    model, feeds = block(rng, (2, 16, 59, 47), 96, 3, 2, [1, 1, 1, 1], "relu", project=True, head=True)
    check_model(model, feeds, target, target.tolerance.scaled(4.0))
    if target.device == "cpu":
        assert cpu_conv_steps(model, feeds) == 2


def test_expand_depthwise_no_bias(target, rng):
    model, feeds = block(rng, (2, 6, 41, 43), 80, 3, 2, [1, 1, 1, 1], "relu", bias=False)
    check_model(model, feeds, target, target.tolerance.scaled(3.0))


def test_expand_depthwise_not_fused(rng):
    """The pair stays two steps when the expanded tensor is read elsewhere too, or is small."""
    model, feeds = block(rng, (2, 8, 16, 16), 32, 3, 1, [1, 1, 1, 1], "relu")
    assert cpu_conv_steps(model, feeds) == 2
    check_model(model, feeds, CPU_TARGETS[0])
    values = {
        "x": rng.standard_normal((1, 4, 64, 64), dtype="float32"),
        "we": const(rng.standard_normal((48, 4, 1, 1), dtype="float32")),
        "wd": const(rng.standard_normal((48, 1, 3, 3), dtype="float32")),
    }
    nodes = [helper.make_node("Conv", ["x", "we"], ["e"]),
             helper.make_node("Conv", ["e", "wd"], ["d"], group=48, pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["d", "e"], ["y"])]
    model, feeds = make_model(nodes, values, ["y"])
    assert cpu_conv_steps(model, feeds) == 2
    check_model(model, feeds, CPU_TARGETS[0])



@pytest.mark.parametrize("isa", ["avx2", "blas"])
def test_depthwise_block_gemm_isa_paths(isa):
    """The cpu cases above once more with the expansion and projection GEMMs on AVX2 register tiles (the
    stem and depthwise kernels too) or on the platform BLAS (unpacked weights)."""
    env = dict(os.environ, METALNN_GEMM_ISA=isa)
    if isa == "avx2":
        env.update(METALNN_STEM_KERNELS="avx2", METALNN_DEPTHWISE_KERNELS="avx2")
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not isa_paths"], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("l2", [512 << 10, 2 << 20])
def test_depthwise_block_l2_sizes(l2):
    """The cpu cases above once more with the chunks of channels sized for a smaller and a larger L2
    (the size is read once per process): other chunk widths and counts, the last chunk shorter."""
    env = dict(os.environ, METALNN_L2_BYTES=str(l2))
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not isa_paths and not l2_sizes"], env=env, capture_output=True,
                            text=True, cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]


def test_depthwise_block_with_released_weights(tmp_path, rng):
    """Loaded from a file, the cpu frees the projection's weights once packed; the block runs on."""
    model, feeds = block(rng, (1, 16, 59, 47), 96, 3, 1, [1, 1, 1, 1], "relu6", project=True)
    path = tmp_path / "block.onnx"
    onnx.save(model, path)
    loaded = metalnn.load(path, device="cpu")
    freed = [name for name, address, nbytes in metalnn._native._constant_addresses(loaded._native)
             if address == 0 and nbytes]
    assert "wp" in freed
    expected = run_reference(model, feeds)["y"]
    for _ in range(2):
        np.testing.assert_allclose(loaded.run(feeds)["y"], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 3, 4])
def test_depthwise_block_threads(batch, threads, rng):
    """Images per thread whole or not: batches that leave threads idle split each image's chunks over
    the threads into partial sums (4 chunks of 24 channels here)."""
    model, feeds = block(rng, (batch, 16, 59, 47), 96, 3, 1, [1, 1, 1, 1], "hardswish", project=True)
    expected = run_reference(model, feeds)["y"]
    actual = metalnn.load(model, device="cpu", threads=threads).run(feeds)["y"]
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))
