"""GELU written in elementwise ops, as exporters emit it, runs as one Gelu node and matches ONNX Runtime.

The reference runs the un-fused graph; each variant is the association or constant spelling one
exporter or model family writes.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import metalnn
from op_check import check_model, const, make_model

SQRT2 = np.float32(np.sqrt(2.0))


def _erf_nodes(variant):
    """0.5 * x * (1 + erf(x / sqrt 2)) spelled as `variant`; the graph reads `x` and writes `y`."""
    scale = (helper.make_node("Div", ["x", "sqrt2"], ["u"]) if variant != "mul_rsqrt2"
             else helper.make_node("Mul", ["rsqrt2", "x"], ["u"]))
    nodes = [scale, helper.make_node("Erf", ["u"], ["e"]), helper.make_node("Add", ["e", "one"], ["a"])]
    if variant == "half_first":  # (x * 0.5) * a
        nodes += [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Mul", ["h", "a"], ["y"])]
    elif variant == "half_gate":  # x * (a * 0.5)
        nodes += [helper.make_node("Mul", ["half", "a"], ["h"]), helper.make_node("Mul", ["x", "h"], ["y"])]
    else:  # (x * a) * 0.5, torch's F.gelu
        nodes += [helper.make_node("Mul", ["x", "a"], ["p"]), helper.make_node("Mul", ["p", "half"], ["y"])]
    return nodes


def _tanh_nodes():
    """GPT-2's NewGELU: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))."""
    return [
        helper.make_node("Mul", ["x", "half"], ["h"]),
        helper.make_node("Pow", ["x", "three"], ["c"]),
        helper.make_node("Mul", ["c", "k"], ["ck"]),
        helper.make_node("Add", ["x", "ck"], ["w"]),
        helper.make_node("Mul", ["w", "s"], ["v"]),
        helper.make_node("Tanh", ["v"], ["t"]),
        helper.make_node("Add", ["t", "one"], ["a"]),
        helper.make_node("Mul", ["h", "a"], ["y"]),
    ]


CONSTANTS = {
    "sqrt2": const(SQRT2), "rsqrt2": const(np.float32(1 / np.sqrt(2.0))), "one": const(np.float32(1.0)),
    "half": const(np.float32(0.5)), "three": const(np.float32(3.0)), "k": const(np.float32(0.044715)),
    "s": const(np.float32(np.sqrt(2 / np.pi))),
}


def _model(nodes, x, outputs=("y",), **overrides):
    used = {name for node in nodes for name in node.input}
    values = {"x": x, **{name: value for name, value in CONSTANTS.items() if name in used}, **overrides}
    return make_model(nodes, values, list(outputs))


def _ops(model, target):
    return metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts


@pytest.mark.parametrize("variant", ["div_sqrt2", "mul_rsqrt2", "half_first", "half_gate"])
@pytest.mark.parametrize("shape", [(2, 7, 13), (3, 129)])
def test_erf_gelu_fused(variant, shape, target, rng):
    x = rng.standard_normal(shape, dtype="float32") * 3
    x.flat[:4] = [0.0, -9.0, 9.0, -1e-4]
    model, feeds = _model(_erf_nodes(variant), x)
    assert _ops(model, target) == {"Gelu": 1}
    check_model(model, feeds, target)


@pytest.mark.parametrize("shape", [(2, 7, 13), (1, 64, 768 + 5)])
def test_tanh_gelu_fused(shape, target, rng):
    x = rng.standard_normal(shape, dtype="float32") * 3
    x.flat[:4] = [0.0, -9.0, 9.0, -1e-4]
    model, feeds = _model(_tanh_nodes(), x)
    assert _ops(model, target) == {"Gelu": 1}
    check_model(model, feeds, target)


def test_wrong_constant_not_fused(target, rng):
    """0.6 in place of 0.5 is not GELU: the ops stay and still match."""
    x = rng.standard_normal((3, 17), dtype="float32")
    model, feeds = _model(_erf_nodes("torch"), x, half=const(np.float32(0.6)))
    assert "Gelu" not in _ops(model, target)
    check_model(model, feeds, target)


def test_shared_intermediate_not_fused(target, rng):
    """An intermediate read outside the pattern (here the Erf output) keeps the graph as it is."""
    x = rng.standard_normal((4, 9), dtype="float32")
    model, feeds = _model(_erf_nodes("torch") + [helper.make_node("Add", ["e", "y"], ["z"])], x, ["z"])
    assert "Gelu" not in _ops(model, target)
    check_model(model, feeds, target)


def test_broadcasting_constant_not_fused(target, rng):
    """A 'scalar' that broadcasts x to a larger shape is not a GELU of x."""
    x = rng.standard_normal((5,), dtype="float32")
    model, feeds = _model(_erf_nodes("torch"), x, half=const(np.full((1, 1), 0.5, np.float32)))
    assert "Gelu" not in _ops(model, target)
    check_model(model, feeds, target)


# Gelu fused into the producing MatMul/Gemm/Conv's epilogue: the Gelu node itself, or GELU spelled in
# elementwise ops (fused to Gelu first), after the producer and its bias Add.
PRODUCERS = {
    "matmul_bias": ((2, 13, 24), (24, 37)),
    "matmul_batched": ((3, 5, 9), (9, 70)),
    # Several 14-row panels, 32-column tiles and a 1-column tail: the GELU applied in registers per tile.
    "matmul_tiles": ((2, 29, 24), (24, 129)),
    "gemm": ((17, 24), (24, 33)),
    "conv": ((2, 6, 9, 7), (11, 6, 3, 3)),
}


def _producer(kind, x_shape, w_shape, rng):
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "weight": const(rng.standard_normal(w_shape, dtype="float32")
                   / np.float32(np.sqrt(np.prod(w_shape[1:]) if kind == "conv" else w_shape[0]))),
        "bias": const(rng.standard_normal(w_shape[0] if kind == "conv" else w_shape[-1], dtype="float32")),
    }
    if kind == "conv":
        return [helper.make_node("Conv", ["x", "weight", "bias"], ["g"], pads=[1, 1, 1, 1])], values, "Conv"
    if kind == "gemm":
        return [helper.make_node("Gemm", ["x", "weight", "bias"], ["g"])], values, "Gemm"
    nodes = [helper.make_node("MatMul", ["x", "weight"], ["m"]), helper.make_node("Add", ["m", "bias"], ["g"])]
    return nodes, values, "MatMul"


def _gelu_after(form, source):
    """GELU of `source` into y: the opset-20 Gelu node or the elementwise spelling."""
    if form == "erf_node":
        return [helper.make_node("Gelu", [source], ["y"])]
    if form == "tanh_node":
        return [helper.make_node("Gelu", [source], ["y"], approximate="tanh")]
    rename = {"x": source}
    nodes = _erf_nodes("torch") if form == "erf_spelled" else _tanh_nodes()
    for node in nodes:
        node.input[:] = [rename.get(name, name) for name in node.input]
    return nodes


@pytest.mark.parametrize("form", ["erf_node", "tanh_node", "erf_spelled", "tanh_spelled"])
@pytest.mark.parametrize("kind", PRODUCERS)
def test_gelu_fused_into_producer(kind, form, target, rng):
    """MatMul (+ bias Add), Gemm or Conv followed by Gelu ends as the producer alone."""
    nodes, values, producer = _producer(kind, *PRODUCERS[kind], rng)
    nodes += _gelu_after(form, "g")
    used = {name for node in nodes for name in node.input}
    values.update({name: value for name, value in CONSTANTS.items() if name in used})
    model, feeds = make_model(nodes, values, ["y"], opset=20)
    assert _ops(model, target) == {producer: 1}
    check_model(model, feeds, target)


def test_gelu_extremes_fused(target):
    """The epilogue's Gelu at the tails and near zero, where erf's polynomial is least accurate."""
    x = np.concatenate([np.linspace(-12, 12, 301), [-1e-6, 1e-6, 0.0, 40.0, -40.0]]).astype("float32")
    for approximate in ("none", "tanh"):
        model, feeds = make_model(
            [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Gelu", ["m"], ["y"], approximate=approximate)],
            {"x": x.reshape(-1, 1), "w": const(np.ones((1, 3), np.float32))}, ["y"], opset=20)
        assert _ops(model, target) == {"MatMul": 1}
        check_model(model, feeds, target)


@pytest.mark.parametrize("form", ["tanh_spelled", "erf_node"])
def test_gelu_fused_through_reshape(form, target, rng):
    """GPT-2's MLP: Gemm on [B * S, E] rows, Reshape to [B, S, N], then GELU: the Gemm takes the GELU
    and the Reshape moves after it."""
    nodes, values, _ = _producer("gemm", (2 * 7, 24), (24, 40), rng)
    nodes.append(helper.make_node("Reshape", ["g", "shape"], ["r"]))
    nodes += _gelu_after(form, "r")
    values["shape"] = const(np.array([2, 7, 40], np.int64))
    used = {name for node in nodes for name in node.input}
    values.update({name: value for name, value in CONSTANTS.items() if name in used})
    model, feeds = make_model(nodes, values, ["y"], opset=20)
    assert _ops(model, target) == {"Gemm": 1, "Reshape": 1}
    check_model(model, feeds, target)


def test_gelu_not_fused_through_shared_reshape_input(target, rng):
    """A Gemm output also read beside the Reshape keeps its own values: the Gelu stays."""
    nodes, values, _ = _producer("gemm", (6, 8), (8, 10), rng)
    nodes += [helper.make_node("Reshape", ["g", "shape"], ["r"]), helper.make_node("Gelu", ["r"], ["y"]),
              helper.make_node("Neg", ["g"], ["z"])]
    values["shape"] = const(np.array([2, 3, 10], np.int64))
    model, feeds = make_model(nodes, values, ["y", "z"], opset=20)
    assert _ops(model, target).get("Gelu") == 1
    check_model(model, feeds, target)


def test_gelu_avx2_path():
    """The cpu tests of this file once more on the AVX2 Gelu (METALNN_GELU_KERNELS=avx2), as on CPUs
    without AVX-512; the best ISA runs them otherwise."""
    env = dict(os.environ, METALNN_GELU_KERNELS="avx2")
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not avx2_path"], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]
