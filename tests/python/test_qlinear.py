"""QOperator quantized ops (QLinearConv, QLinearMatMul, ConvInteger and the com.microsoft ops ONNX
Runtime's quantizer writes) against ONNX Runtime: int8 and uint8, per-tensor and per-channel weights,
odd sizes, batch > 1. They run as DequantizeLinear -> float op -> QuantizeLinear, where ONNX Runtime
rounds an int32 sum once: a quantized output may differ by one step (float16 precision too, more
often), and only rarely; ConvInteger is exact."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import metalnn
from op_check import NEWEST_OPSET, run_reference

QTYPES = ["uint8", "int8"]
MS = "com.microsoft"


def _ints(rng, shape, dtype, low=None, high=None):
    info = np.iinfo(dtype)
    return rng.integers(info.min if low is None else low, (info.max if high is None else high) + 1,
                        shape).astype(dtype)


def _zp(rng, dtype, shape=()):
    """A zero point away from the ends of the range, as calibration gives."""
    return _ints(rng, shape, dtype, *((100, 150) if dtype == "uint8" else (-20, 20)))


def _scale(rng, shape=(), size=0.02):
    return (rng.uniform(0.5, 1.5, shape) * size).astype(np.float32)


def _model(nodes, inputs: dict, consts: dict, outputs: dict, opset: int = NEWEST_OPSET):
    """A model of `nodes` importing com.microsoft too; outputs declared with their dtype only."""
    elem = helper.np_dtype_to_tensor_dtype
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(k, elem(v.dtype), v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, elem(np.dtype(t)), None) for k, t in outputs.items()],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])


def _check(model, feeds, target, steps: float | None = None, exact: bool = False, share: float | None = None):
    """metalnn against ONNX Runtime: quantized outputs within `steps` and off at all in at most `share`
    of the elements (5%, float16 precision 25%); float outputs within `steps` absolutely."""
    expected = run_reference(model, feeds)
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(dict(feeds))
    for name, ref in expected.items():
        got = actual[name]
        assert got.shape == ref.shape and got.dtype == ref.dtype, (name, got.shape, got.dtype, ref.shape, ref.dtype)
        diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        if exact:
            np.testing.assert_array_equal(got, ref, err_msg=f"{target}: {name}")
            continue
        limit = 1 if steps is None else steps
        print(f"{target} {name}: worst {diff.max(initial=0):g}, {np.mean(diff > 0):.2%} differ")
        assert diff.max(initial=0) <= limit, f"{target}: {name} differs by {diff.max()} (allowed {limit})"
        if np.issubdtype(ref.dtype, np.integer) and ref.size >= 20:
            allowed = share or (0.25 if target.precision == "float16" else 0.05)
            assert np.mean(diff > 0) <= allowed, f"{target}: {name}: {np.mean(diff > 0):.1%} of the elements differ"
    return actual


# --- QLinearConv ---------------------------------------------------------------------------------

@pytest.mark.parametrize("x_type,w_type", [("uint8", "int8"), ("int8", "int8"), ("uint8", "uint8")])
@pytest.mark.parametrize("per_channel", [False, True])
def test_qlinear_conv(x_type, w_type, per_channel, target, rng):
    m, c, k = 6, 5, 3
    w = _ints(rng, (m, c, k, k), w_type)
    consts = {"xs": _scale(rng), "xz": _zp(rng, x_type), "w": w,
              "ws": _scale(rng, (m,) if per_channel else (), 0.01),
              "wz": _zp(rng, w_type, (m,) if per_channel else ()) if w_type == "uint8" else
              np.zeros((m,) if per_channel else (), w_type),
              "ys": np.float32(0.5), "yz": _zp(rng, x_type), "b": _ints(rng, (m,), "int32", -2000, 2000)}
    x = _ints(rng, (2, c, 9, 7), x_type)
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            pads=[1, 1, 1, 1])
    _check(_model([node], {"x": x}, consts, {"y": x_type}), {"x": x}, target)


@pytest.mark.parametrize("attrs", [
    {"group": 3, "strides": [2, 1]},
    {"group": 6, "strides": [2, 2], "pads": [1, 1, 1, 1]},  # depthwise
    {"dilations": [2, 2], "pads": [2, 1, 0, 2]},
    {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
])
def test_qlinear_conv_geometry(attrs, target, rng):
    group = attrs.get("group", 1)
    w = _ints(rng, (6, 6 // group, 3, 3), "int8")
    x = _ints(rng, (3, 6, 11, 8), "uint8")
    consts = {"xs": np.float32(0.03), "xz": np.uint8(128), "w": w, "ws": _scale(rng, (6,), 0.01),
              "wz": np.zeros(6, np.int8), "ys": np.float32(0.2), "yz": np.uint8(120)}
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], **attrs)
    _check(_model([node], {"x": x}, consts, {"y": "uint8"}), {"x": x}, target)


def test_qlinear_conv_wide(target, rng):
    """40 input channels at 3x3: the shape the CPU runs with Winograd in float."""
    w = _ints(rng, (8, 40, 3, 3), "int8", -60, 60)
    x = _ints(rng, (1, 40, 6, 6), "uint8")
    consts = {"xs": np.float32(0.02), "xz": np.uint8(130), "w": w, "ws": _scale(rng, (8,), 0.005),
              "wz": np.zeros(8, np.int8), "ys": np.float32(0.5), "yz": np.uint8(128)}
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], pads=[1, 1, 1, 1])
    _check(_model([node], {"x": x}, consts, {"y": "uint8"}), {"x": x}, target)


# --- QLinearMatMul -------------------------------------------------------------------------------

@pytest.mark.parametrize("a_type,b_type", [("uint8", "int8"), ("int8", "int8"), ("uint8", "uint8")])
@pytest.mark.parametrize("per_column", [False, True])
def test_qlinear_matmul(a_type, b_type, per_column, target, rng):
    a, b = _ints(rng, (2, 3, 13), a_type), _ints(rng, (13, 7), b_type)
    consts = {"as": np.float32(0.05), "az": _zp(rng, a_type), "b": b,
              "bs": _scale(rng, (7,) if per_column else (), 0.02),
              "bz": _zp(rng, b_type, (7,) if per_column else ()),
              "ys": np.float32(0.7), "yz": _zp(rng, a_type)}
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
    _check(_model([node], {"a": a}, consts, {"y": a_type}), {"a": a}, target)


# --- ConvInteger ---------------------------------------------------------------------------------

def _conv_integer(target, x, w, x_zp, w_zp, **attrs):
    node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], **attrs)
    model = _model([node], {"x": x}, {"w": w, "xz": x_zp, "wz": w_zp}, {"y": "int32"})
    if target.precision == "float16":
        with pytest.raises(metalnn.UnsupportedOpError, match="ConvInteger at float16 precision"):
            metalnn.load(model, device=target.device, precision=target.precision)
        return
    _check(model, {"x": x}, target, exact=True)


@pytest.mark.parametrize("x_type,w_type", [("uint8", "int8"), ("int8", "int8"), ("uint8", "uint8")])
def test_conv_integer(x_type, w_type, target, rng):
    """40 input channels at 3x3, where the CPU's float Conv would use Winograd."""
    w = _ints(rng, (6, 40, 3, 3), w_type)
    _conv_integer(target, _ints(rng, (2, 40, 7, 5), x_type), w, _zp(rng, x_type), _zp(rng, w_type),
                  pads=[1, 1, 1, 1])


def test_conv_integer_large_sums(target, rng):
    """Sums near 2^24 stay exact (Winograd's transforms in float would be off by a few units here)."""
    w = _ints(rng, (6, 56, 3, 3), "int8", -128, -100)
    _conv_integer(target, _ints(rng, (2, 56, 8, 8), "uint8", 200, 255), w, np.uint8(0), np.int8(0), pads=[1, 1, 1, 1])


def test_conv_integer_groups_strides(target, rng):
    w = _ints(rng, (6, 2, 3, 2), "uint8")
    _conv_integer(target, _ints(rng, (3, 4, 9, 8), "uint8"), w, np.uint8(7), np.uint8(128), group=2, strides=[2, 3])


def test_conv_integer_too_wide_for_float32(rng):
    """Sums that could pass 2^24 are refused by name, never computed inexactly."""
    w = np.full((2, 300, 3, 3), -128, np.int8)
    node = helper.make_node("ConvInteger", ["x", "w"], ["y"], name="wide")
    x = np.zeros((1, 300, 4, 4), np.uint8)
    with pytest.raises(metalnn.UnsupportedOpError, match="ConvInteger 'wide'.*2\\^24"):
        metalnn.load(_model([node], {"x": x}, {"w": w}, {"y": "int32"}), device="cpu")


# --- com.microsoft elementwise -------------------------------------------------------------------

@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("qtype", QTYPES)
@pytest.mark.parametrize("b_shape", [(2, 3, 5, 7), (3, 1, 7), ()])
def test_qlinear_binary(op, qtype, b_shape, target, rng):
    a, b = _ints(rng, (2, 3, 5, 7), qtype), _ints(rng, b_shape, qtype)
    consts = {"as": _scale(rng, (), 0.03), "az": _zp(rng, qtype), "bs": _scale(rng, (), 0.05), "bz": _zp(rng, qtype),
              "cs": _scale(rng, (), 0.06 if op == "QLinearAdd" else 0.2), "cz": _zp(rng, qtype)}
    node = helper.make_node(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"], domain=MS)
    _check(_model([node], {"a": a, "b": b}, consts, {"y": qtype}), {"a": a, "b": b}, target)


@pytest.mark.parametrize("op,attrs", [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1}),
                                      ("QLinearSoftmax", {"axis": -1, "opset": 13}),
                                      ("QLinearSoftmax", {"axis": 1, "opset": 11})])
@pytest.mark.parametrize("qtype", QTYPES)
def test_qlinear_unary(op, attrs, qtype, target, rng):
    x = _ints(rng, (2, 3, 17), qtype)
    if op == "QLinearSoftmax":  # ONNX Runtime requires the output scale 1/256 (uint8) or 1/255 (int8)
        ys, yz = (np.float32(1 / 256), np.uint8(0)) if qtype == "uint8" else (np.float32(1 / 255), np.int8(-128))
    else:
        ys, yz = _scale(rng, (), 0.01 if op == "QLinearSigmoid" else 0.04), _zp(rng, qtype)
    node = helper.make_node(op, ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS, **attrs)
    model = _model([node], {"x": x}, {"xs": _scale(rng, (), 0.05), "xz": _zp(rng, qtype), "ys": ys, "yz": yz},
                   {"y": qtype})
    # ONNX Runtime's QLinearSoftmax sums table-looked-up exponentials in integers: more ties fall apart.
    _check(model, {"x": x}, target, share=0.15 if op == "QLinearSoftmax" else None)


@pytest.mark.parametrize("channels_last", [0, 1])
@pytest.mark.parametrize("qtype", QTYPES)
def test_qlinear_global_average_pool(channels_last, qtype, target, rng):
    x = _ints(rng, (2, 7, 5, 3) if channels_last else (2, 3, 7, 5), qtype)
    node = helper.make_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS,
                            channels_last=channels_last)
    consts = {"xs": np.float32(0.05), "xz": _zp(rng, qtype), "ys": np.float32(0.02), "yz": _zp(rng, qtype)}
    _check(_model([node], {"x": x}, consts, {"y": qtype}), {"x": x}, target)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "strides": [2, 2]},
    {"kernel_shape": [2, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "channels_last": 1},
])
@pytest.mark.parametrize("qtype", QTYPES)
def test_qlinear_average_pool(attrs, qtype, target, rng):
    x = _ints(rng, (2, 9, 7, 3) if attrs.get("channels_last") else (2, 3, 9, 7), qtype)
    node = helper.make_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS, **attrs)
    consts = {"xs": np.float32(0.05), "xz": _zp(rng, qtype), "ys": np.float32(0.03), "yz": _zp(rng, qtype)}
    _check(_model([node], {"x": x}, consts, {"y": qtype}), {"x": x}, target)


@pytest.mark.parametrize("qtype", QTYPES)
def test_qlinear_concat(qtype, target, rng):
    a, b = _ints(rng, (2, 3, 5), qtype), _ints(rng, (2, 4, 5), qtype)
    node = helper.make_node("QLinearConcat", ["ys", "yz", "a", "as", "az", "b", "bs", "bz"], ["y"], domain=MS,
                            axis=1)
    consts = {"ys": np.float32(0.05), "yz": _zp(rng, qtype), "as": np.float32(0.03), "az": _zp(rng, qtype),
              "bs": np.float32(0.07), "bz": _zp(rng, qtype)}
    _check(_model([node], {"a": a, "b": b}, consts, {"y": qtype}), {"a": a, "b": b}, target)


# --- QGemm and DynamicQuantizeMatMul -------------------------------------------------------------

@pytest.mark.parametrize("a_type,b_type", [("uint8", "int8"), ("int8", "int8"), ("uint8", "uint8")])
@pytest.mark.parametrize("trans_b,per_column,bias,quantized_out,alpha", [
    (1, True, True, True, 1.0), (0, False, True, True, 1.0), (1, False, False, True, 1.0),
    (1, True, True, False, 1.0), (0, True, True, True, 0.5)])
def test_qgemm(a_type, b_type, trans_b, per_column, bias, quantized_out, alpha, target, rng):
    n, k = 7, 13
    a = _ints(rng, (3, k), a_type)
    b = _ints(rng, (n, k) if trans_b else (k, n), b_type)
    if b_type == "int8":  # ONNX Runtime's QGemm takes symmetric int8 weights
        bz = np.zeros((n,) if per_column else (), np.int8)
    else:
        bz = _zp(rng, b_type, (n,) if per_column else ())
    consts = {"as": np.float32(0.05), "az": _zp(rng, a_type), "b": b, "bs": _scale(rng, (n,) if per_column else ()),
              "bz": bz, "c": _ints(rng, (n,), "int32", -3000, 3000), "ys": np.float32(0.3), "yz": _zp(rng, a_type)}
    inputs = ["a", "as", "az", "b", "bs", "bz", "c" if bias else ""] + (["ys", "yz"] if quantized_out else [])
    node = helper.make_node("QGemm", inputs, ["y"], domain=MS, transB=trans_b, alpha=alpha)
    model = _model([node], {"a": a}, consts, {"y": a_type if quantized_out else "float32"})
    if quantized_out:
        _check(model, {"a": a}, target)
    else:  # float output: within a small part of one step of the accumulator, a_scale * b_scale
        _check(model, {"a": a}, target, steps=0.05 if target.precision == "float32" else 0.5)


@pytest.mark.parametrize("b_type", QTYPES)
@pytest.mark.parametrize("per_column", [False, True])
def test_dynamic_quantize_matmul(b_type, per_column, target, rng):
    a = rng.standard_normal((2, 3, 13), dtype=np.float32)
    b = _ints(rng, (13, 7), b_type)
    consts = {"b": b, "bs": _scale(rng, (7,) if per_column else ()), "bz": _zp(rng, b_type, (7,) if per_column else ()),
              "bias": rng.standard_normal(7, dtype=np.float32)}
    node = helper.make_node("DynamicQuantizeMatMul", ["a", "b", "bs", "bz", "bias"], ["y"], domain=MS)
    _check(_model([node], {"a": a}, consts, {"y": "float32"}), {"a": a}, target,
           steps=1e-3 if target.precision == "float32" else 0.1)


def test_unsupported_quantized_op_is_named():
    x = np.zeros((1, 4, 8), np.float32)
    node = helper.make_node("QAttention", ["x"], ["y"], domain=MS, name="attn0", num_heads=2)
    with pytest.raises(metalnn.UnsupportedOpError, match=r"com\.microsoft\.QAttention \(node 'attn0'\)"):
        metalnn.load(_model([node], {"x": x}, {}, {"y": "float32"}), device="cpu")


def test_lowered_ops_save_and_load(rng, tmp_path):
    """A .metalnn file keeps the lowered form, ConvInteger's exact-sum marking included."""
    x = _ints(rng, (1, 40, 6, 5), "uint8")
    consts = {"xs": np.float32(0.02), "xz": np.uint8(128), "w": _ints(rng, (4, 40, 3, 3), "int8"),
              "ws": _scale(rng, (4,), 0.01), "wz": np.zeros(4, np.int8), "ys": np.float32(0.3), "yz": np.uint8(127)}
    nodes = [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("ConvInteger", ["x", "w", "xz"], ["acc"], pads=[1, 1, 1, 1])]
    model = _model(nodes, {"x": x}, consts, {"y": "uint8", "acc": "int32"})
    expected = run_reference(model, {"x": x})
    metalnn.load(model, device="cpu").save(tmp_path / "q.metalnn")
    for device in [d for d in ("cpu", "metal-sim") if d in metalnn.devices()]:
        actual = metalnn.load(tmp_path / "q.metalnn", device=device).run({"x": x})
        np.testing.assert_array_equal(actual["acc"], expected["acc"])
        assert np.abs(actual["y"].astype(int) - expected["y"].astype(int)).max() <= 1


@pytest.mark.parametrize("qtype", QTYPES)
def test_max_pool_on_quantized_values(qtype, target, rng):
    """MaxPool applied to int8/uint8 values, as the QOperator format does, is exact."""
    x = _ints(rng, (2, 3, 9, 7), qtype)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    _check(_model([node], {"x": x}, {}, {"y": qtype}), {"x": x}, target, exact=True)
