"""The quantized fusion pass and its fused ops (QuantizedConv, QuantizedMatMul, QuantizedAdd) against
ONNX Runtime running the same QDQ graph: int8/uint8 activations, per-tensor and per-channel weights,
groups, depthwise, strides, dilations, fused Relu/Clip, odd sizes, batch > 1. Outputs are the
quantized tensors themselves, so "within one quantization step" is |metalnn - ORT| <= 1 per element
(the int32 sums are exact; only a requantised value within float rounding of a .5 may round the other
way)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import metalnn
import onnxruntime as ort
from op_check import const, make_model

# The worst difference seen by each test, in quantization steps (the report reads it with -s).
WORST = {}
# The newest opset ONNX Runtime runs DequantizeLinear at.
OPSET = 21


@pytest.fixture(scope="module", autouse=True)
def report_worst():
    """Prints the worst difference per test group (seen with -s)."""
    yield
    print(f"\nworst differences in quantization steps: {WORST}")


def _ints(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def _zero(rng, dtype):
    return np.array(rng.integers(-20, 21) if dtype == "int8" else rng.integers(100, 156), dtype=dtype)


def run_reference(model, feeds):
    """ONNX Runtime without graph rewrites: the QDQ graph's own float semantics (its rewrites into
    QLinear kernels differ by a step at times, and reject some valid 3-D MatMul graphs)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    return dict(zip(names, session.run(names, dict(feeds))))


def _run(model, feeds, target):
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    return engine, engine.run(dict(feeds))


def _check(model, feeds, target, fused, name):
    """Runs on metalnn and ORT; asserts the fused ops are there and outputs within one step."""
    expected = run_reference(model, feeds)
    engine, actual = _run(model, feeds, target)
    ops = engine.summary().op_counts
    for op, count in fused.items():
        assert ops.get(op, 0) == count, f"{op}: {ops}"
    worst = 0
    for key, ref in expected.items():
        assert actual[key].dtype == ref.dtype and actual[key].shape == ref.shape
        diff = np.abs(actual[key].astype(np.int32) - ref.astype(np.int32))
        worst = max(worst, int(diff.max()))
        assert diff.max() <= 1, f"{target}: {key} differs by {diff.max()} steps at {np.argmax(diff)}"
    WORST[name] = max(WORST.get(name, 0), worst)
    return ops


def _dq(name, out, dtype_scale_zero):
    return helper.make_node("DequantizeLinear", [name, *dtype_scale_zero], [out])


def _conv_model(rng, x_type, y_type, per_channel, shape, out_c, kernel, group=1, act=None, bias=True,
                **attrs):
    n, c, h, w = shape
    x = _ints(rng, shape, x_type)
    weight = rng.integers(-127, 128, (out_c, c // group, *kernel)).astype(np.int8)
    w_scale = (rng.uniform(0.5, 1.5, out_c) if per_channel else rng.uniform(0.5, 1.5, ())).astype(np.float32)
    w_scale *= np.float32(0.02)
    values = {
        "x": x, "x_scale": const(np.float32(0.05)), "x_zero": const(_zero(rng, x_type)),
        "w": const(weight), "w_scale": const(w_scale),
        "w_zero": const(np.zeros(w_scale.shape, np.int8)),
        "y_scale": const(np.float32(0.09)), "y_zero": const(_zero(rng, y_type)),
    }
    nodes = [_dq("x", "xf", ["x_scale", "x_zero"]),
             helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero"], ["wf"], axis=0)]
    conv_inputs = ["xf", "wf"]
    if bias:
        values["b"] = const(rng.uniform(-1, 1, out_c).astype(np.float32))
        conv_inputs.append("b")
    nodes.append(helper.make_node("Conv", conv_inputs, ["yf"], group=group, **attrs))
    last = "yf"
    if act == "Relu":
        nodes.append(helper.make_node("Relu", ["yf"], ["yr"]))
        last = "yr"
    elif act == "Clip":
        values["lo"], values["hi"] = const(np.float32(-0.5)), const(np.float32(3.0))
        nodes.append(helper.make_node("Clip", ["yf", "lo", "hi"], ["yr"]))
        last = "yr"
    nodes.append(helper.make_node("QuantizeLinear", [last, "y_scale", "y_zero"], ["y"]))
    return make_model(nodes, values, ["y"], OPSET)


@pytest.mark.parametrize("y_type", ["int8", "uint8"])
@pytest.mark.parametrize("x_type", ["int8", "uint8"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["per_tensor", "per_channel"])
def test_quantized_conv(x_type, y_type, per_channel, target, rng):
    model, feeds = _conv_model(rng, x_type, y_type, per_channel, (2, 7, 13, 11), 9, (3, 3), pads=[1, 1, 1, 1])
    _check(model, feeds, target, {"QuantizedConv": 1, "Conv": 0, "DequantizeLinear": 0}, "conv")


@pytest.mark.parametrize("case", [
    dict(shape=(2, 6, 9, 10), out_c=4, kernel=(3, 3), group=2, strides=[2, 2], pads=[1, 0, 1, 2]),
    dict(shape=(1, 13, 15, 9), out_c=13, kernel=(3, 3), group=13, pads=[1, 1, 1, 1], act="Relu"),
    dict(shape=(3, 8, 11, 7), out_c=8, kernel=(3, 3), group=8, strides=[2, 2], pads=[1, 1, 1, 1], act="Clip"),
    dict(shape=(2, 8, 9, 9), out_c=16, kernel=(3, 3), group=8, dilations=[2, 2]),  # channel multiplier 2
    dict(shape=(2, 33, 7, 5), out_c=17, kernel=(1, 1), act="Relu", bias=False),
    dict(shape=(1, 3, 17, 19), out_c=5, kernel=(5, 3), strides=[3, 2], dilations=[1, 2], pads=[2, 1, 0, 1]),
    dict(shape=(2, 130, 5, 6), out_c=7, kernel=(3, 3), pads=[1, 1, 1, 1], act="Clip"),
    dict(shape=(2, 5, 12, 37), out_c=5, kernel=(5, 3), group=5, strides=[1, 2], dilations=[2, 1],
         pads=[2, 0, 1, 3], act="Relu"),
    dict(shape=(1, 3, 21, 19), out_c=3, kernel=(3, 3), group=3, strides=[2, 3], dilations=[1, 2], pads=[0, 2, 1, 0]),
    dict(shape=(2, 19, 9, 8), out_c=45, kernel=(3, 3), pads=[1, 1, 1, 1]),  # 45 rows: 16-row tiles, one past a pair
    # Dense convolutions read their taps from stride-phase planes: rows wider than a 16-column panel,
    # planes that end mid-panel, phases a kernel never reads, padding wider than a tap reaches.
    dict(shape=(2, 7, 23, 37), out_c=9, kernel=(3, 3), pads=[1, 1, 1, 1], act="Relu"),
    dict(shape=(1, 3, 29, 31), out_c=8, kernel=(7, 7), strides=[2, 2], pads=[3, 3, 3, 3]),  # a stem
    dict(shape=(2, 12, 13, 15), out_c=6, kernel=(1, 1), strides=[2, 2]),  # a downsampling shortcut
    dict(shape=(1, 6, 17, 18), out_c=5, kernel=(3, 3), dilations=[2, 3], pads=[2, 3, 2, 3]),
    dict(shape=(3, 4, 1, 41), out_c=7, kernel=(1, 5), strides=[1, 3], pads=[0, 2, 0, 1]),  # 1-D
    dict(shape=(1, 5, 6, 7), out_c=4, kernel=(2, 2), strides=[3, 3], pads=[4, 4, 3, 4]),
], ids=["grouped", "depthwise", "depthwise_s2", "multiplier", "pointwise", "strided", "long_k", "depthwise_wide",
        "depthwise_s3", "many_channels", "wide_rows", "stem", "pointwise_s2", "dilated", "one_d", "wide_padding"])
@pytest.mark.parametrize("x_type", ["int8", "uint8"])
def test_quantized_conv_geometry(case, x_type, target, rng):
    case = dict(case)
    model, feeds = _conv_model(rng, x_type, "uint8" if case.get("act") else "int8", True, case.pop("shape"),
                               case.pop("out_c"), case.pop("kernel"), **case)
    _check(model, feeds, target, {"QuantizedConv": 1, "Conv": 0, "Relu": 0, "Clip": 0}, "conv_geometry")


def _matmul_model(rng, x_type, y_type, per_channel, a_shape, n, gemm=None, act=None):
    k = a_shape[-1]
    w_shape = (n, k) if gemm and gemm.get("transB") else (k, n)
    axis = 0 if gemm and gemm.get("transB") else 1
    w_scale = (rng.uniform(0.01, 0.03, n) if per_channel else rng.uniform(0.01, 0.03, ())).astype(np.float32)
    values = {
        "x": _ints(rng, a_shape, x_type), "x_scale": const(np.float32(0.04)), "x_zero": const(_zero(rng, x_type)),
        "w": const(rng.integers(-127, 128, w_shape).astype(np.int8)), "w_scale": const(w_scale),
        "y_scale": const(np.float32(0.3)), "y_zero": const(_zero(rng, y_type)),
        "b": const(rng.uniform(-2, 2, n).astype(np.float32)),
    }
    nodes = [_dq("x", "xf", ["x_scale", "x_zero"]),
             helper.make_node("DequantizeLinear", ["w", "w_scale"], ["wf"], axis=axis)]
    if gemm is not None:
        nodes.append(helper.make_node("Gemm", ["xf", "wf", "b"], ["yf"], **gemm))
    else:
        nodes += [helper.make_node("MatMul", ["xf", "wf"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["yf"])]
    last = "yf"
    if act:
        nodes.append(helper.make_node(act, ["yf"], ["ya"]))
        last = "ya"
    nodes.append(helper.make_node("QuantizeLinear", [last, "y_scale", "y_zero"], ["y"]))
    return make_model(nodes, values, ["y"], OPSET)


@pytest.mark.parametrize("y_type", ["int8", "uint8"])
@pytest.mark.parametrize("x_type", ["int8", "uint8"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["per_tensor", "per_channel"])
def test_quantized_matmul(x_type, y_type, per_channel, target, rng):
    model, feeds = _matmul_model(rng, x_type, y_type, per_channel, (2, 5, 37), 19, act="Relu")
    _check(model, feeds, target, {"QuantizedMatMul": 1, "MatMul": 0, "Add": 0}, "matmul")


@pytest.mark.parametrize("gemm", [dict(transB=1), dict(transB=0, alpha=0.5, beta=2.0), dict(transB=1, alpha=1.5)])
def test_quantized_gemm(gemm, target, rng):
    model, feeds = _matmul_model(rng, "uint8", "uint8", True, (3, 70), 33, gemm=gemm)
    _check(model, feeds, target, {"QuantizedMatMul": 1, "Gemm": 0}, "gemm")


@pytest.mark.parametrize("y_type", ["int8", "uint8"])
@pytest.mark.parametrize("b_type", ["int8", "uint8"])
@pytest.mark.parametrize("a_type", ["int8", "uint8"])
def test_quantized_add(a_type, b_type, y_type, target, rng):
    shape = (2, 3, 7, 5)
    values = {
        "a": _ints(rng, shape, a_type), "a_scale": const(np.float32(0.07)), "a_zero": const(_zero(rng, a_type)),
        "b": _ints(rng, shape, b_type), "b_scale": const(np.float32(0.03)), "b_zero": const(_zero(rng, b_type)),
        "y_scale": const(np.float32(0.06)), "y_zero": const(_zero(rng, y_type)),
    }
    nodes = [_dq("a", "af", ["a_scale", "a_zero"]), _dq("b", "bf", ["b_scale", "b_zero"]),
             helper.make_node("Add", ["af", "bf"], ["s"]), helper.make_node("Relu", ["s"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "y_scale", "y_zero"], ["y"])]
    model, feeds = make_model(nodes, values, ["y"], OPSET)
    _check(model, feeds, target, {"QuantizedAdd": 1, "Add": 0, "Relu": 0}, "add")


def test_unfusable_patterns_stay_float(target, rng):
    """A weight zero point other than 0, a broadcasting Add and a Sigmoid are left as DQ -> op -> Q."""
    model, feeds = _conv_model(rng, "uint8", "uint8", True, (1, 4, 6, 6), 3, (3, 3))
    zero = next(i for i in model.graph.initializer if i.name == "w_zero")
    zero.raw_data = np.array([0, 3, 0], np.int8).tobytes()
    _check(model, feeds, target, {"QuantizedConv": 0, "Conv": 1}, "unfused")
    model, feeds = _matmul_model(rng, "int8", "int8", False, (4, 9), 6, act="Sigmoid")
    _check(model, feeds, target, {"QuantizedMatMul": 0, "MatMul": 1}, "unfused")


def test_chain_and_residual(target, rng, tmp_path):
    """Conv -> Q -> DQ -> Conv, then a residual Add of the two, stays integer end to end; the saved
    .metalnn file keeps the weights int8 and runs the same."""
    c = 32
    values = {"x": _ints(rng, (2, c, 7, 9), "uint8"), "s": const(np.float32(0.05)), "z": const(np.uint8(128)),
              "s1": const(np.float32(0.08)), "z1": const(np.uint8(120)), "s2": const(np.float32(0.1)),
              "z2": const(np.uint8(110)), "s3": const(np.float32(0.12)), "z3": const(np.uint8(100))}
    nodes = [_dq("x", "xf", ["s", "z"])]
    for i, (src, scale, zero) in enumerate([("xf", "s1", "z1"), ("h1f", "s2", "z2")]):
        values[f"w{i}"] = const(rng.integers(-127, 128, (c, c, 3, 3)).astype(np.int8))
        values[f"ws{i}"] = const(rng.uniform(0.002, 0.01, c).astype(np.float32))
        nodes += [helper.make_node("DequantizeLinear", [f"w{i}", f"ws{i}"], [f"w{i}f"], axis=0),
                  helper.make_node("Conv", [src, f"w{i}f"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
                  helper.make_node("QuantizeLinear", [f"r{i}", scale, zero], [f"h{i + 1}"]),
                  _dq(f"h{i + 1}", f"h{i + 1}f", [scale, zero])]
    nodes += [helper.make_node("Add", ["h2f", "xf"], ["sum"]),
              helper.make_node("QuantizeLinear", ["sum", "s3", "z3"], ["y"])]
    model, feeds = make_model(nodes, values, ["y"], OPSET)
    _check(model, feeds, target, {"QuantizedConv": 2, "QuantizedAdd": 1, "DequantizeLinear": 0, "Conv": 0},
           "chain")
    if target.device != "cpu":
        return
    engine, out = _run(model, feeds, target)
    path = tmp_path / "q.metalnn"
    engine.save(path)
    assert path.stat().st_size < 2 * c * c * 9 * 4  # two int8 weight tensors, not float32 ones
    again = metalnn.load(str(path), device=target.device)
    assert again.summary().op_counts.get("QuantizedConv") == 2
    np.testing.assert_array_equal(again.run(dict(feeds))["y"], out["y"])


@pytest.mark.parametrize("pool", [dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                                  dict(kernel_shape=[2, 3], strides=[1, 2], ceil_mode=1)], ids=["stem", "ceil"])
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_quantized_max_pool(dtype, pool, target, rng):
    """DequantizeLinear -> MaxPool -> QuantizeLinear with the same scale and zero point pools the bytes
    (exactly: ONNX Runtime's float graph gives the same bytes); other parameters keep the float pool."""
    zero = _zero(rng, dtype)
    values = {"x": _ints(rng, (3, 5, 13, 14), dtype), "s": const(np.float32(0.037)), "z": const(zero),
              "s2": const(np.float32(0.05))}
    nodes = [_dq("x", "xf", ["s", "z"]), helper.make_node("MaxPool", ["xf"], ["p"], **pool),
             helper.make_node("QuantizeLinear", ["p", "s", "z"], ["y"])]
    model, feeds = make_model(nodes, values, ["y"], OPSET)
    ops = _check(model, feeds, target, {"MaxPool": 1, "DequantizeLinear": 0, "QuantizeLinear": 0}, "max_pool")
    np.testing.assert_array_equal(_run(model, feeds, target)[1]["y"], run_reference(model, feeds)["y"])
    assert ops["MaxPool"] == 1
    nodes[-1] = helper.make_node("QuantizeLinear", ["p", "s2", "z"], ["y"])
    model, feeds = make_model(nodes, values, ["y"], OPSET)
    _check(model, feeds, target, {"MaxPool": 1, "DequantizeLinear": 1, "QuantizeLinear": 1}, "max_pool")


@pytest.mark.parametrize("kernels", ["avx512vnni", "avxvnni", "avx2", "portable"])
def test_int8_kernel_paths(kernels):
    """The cpu tests above (and MatMulInteger's) once more with the int8 GEMM capped at AVX512-VNNI,
    AVX-VNNI, AVX2 (vpmaddwd) or plain C++: they run on the best path of this machine otherwise (AMX where
    the CPU and OS allow; the choice is made once per process; a path the CPU lacks falls back to the next)."""
    env = dict(os.environ, METALNN_INT8_KERNELS=kernels)
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, os.path.join(here, "test_matmul_integer.py"),
                             "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not kernel_paths"], env=env, capture_output=True, text=True,
                            cwd=here)
    assert result.returncode == 0, result.stdout[-3000:]
