"""QuantizeLinear / DequantizeLinear against ONNX Runtime (per tensor, per axis, blocked; int8 and
uint8), and models quantized by onnxruntime.quantization run end to end."""

import numpy as np
import pytest

import metalnn
from op_check import STEP_TOLERANCE, check_model, check_op, const, make_op_model

QTYPES = ["int8", "uint8"]


def _scales(rng, shape):
    return (rng.uniform(0.01, 0.1, shape)).astype("float32")


def _zero_points(rng, shape, qtype):
    lo, hi = (-20, 20) if qtype == "int8" else (100, 156)
    return rng.integers(lo, hi, shape).astype(qtype)


def _tolerance(target):
    # float16 rounds x and the scale to half first, which moves some values across a rounding boundary.
    return STEP_TOLERANCE if target.precision == "float16" else None


def _check(op, inputs, target, attributes=None, opset=21, dequantize=False):
    model, feeds = make_op_model(op, inputs, attributes, opset)
    tolerance = _tolerance(target)
    if dequantize and tolerance is not None:
        tolerance = target.tolerance
    return check_model(model, feeds, target, tolerance)


@pytest.mark.parametrize("opset", [10, 13, 21])
@pytest.mark.parametrize("qtype", QTYPES)
def test_quantize_per_tensor(qtype, opset, target, rng):
    x = rng.standard_normal((3, 5, 7, 9), dtype="float32") * 4
    x[0, 0, 0, :4] = [0.025, 0.075, -0.025, 100.0]  # halves (scale 0.05) and saturation
    _check("QuantizeLinear", [x, const(0.05, "float32"), const(_zero_points(rng, (), qtype))], target, opset=opset)


@pytest.mark.parametrize("qtype", QTYPES)
def test_quantize_without_zero_point(qtype, target, rng):
    x = rng.standard_normal((2, 13), dtype="float32") * 3
    attributes = {"output_dtype": 3} if qtype == "int8" else {}
    _check("QuantizeLinear", [x, const(0.02, "float32")], target, attributes)


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
@pytest.mark.parametrize("qtype", QTYPES)
def test_quantize_per_axis(qtype, axis, target, rng):
    x = rng.standard_normal((3, 5, 7), dtype="float32") * 2
    n = x.shape[axis]
    scale, zp = _scales(rng, (n,)), _zero_points(rng, (n,), qtype)
    _check("QuantizeLinear", [x, const(scale), const(zp)], target, {"axis": axis}, opset=13)


@pytest.mark.parametrize("qtype", QTYPES)
def test_quantize_runtime_scale(qtype, target, rng):
    x = rng.standard_normal((2, 7, 5), dtype="float32")
    _check("QuantizeLinear", [x, _scales(rng, (7,)), _zero_points(rng, (7,), qtype)], target, {"axis": 1})


@pytest.mark.parametrize("block,axis", [(2, 1), (4, -1), (3, 0)])
@pytest.mark.parametrize("qtype", QTYPES)
def test_quantize_blocked(qtype, block, axis, target, rng):
    x = rng.standard_normal((5, 7, 9), dtype="float32")
    shape = list(x.shape)
    shape[axis] = -(-shape[axis] // block)
    attributes = {"axis": axis, "block_size": block}
    _check("QuantizeLinear", [x, const(_scales(rng, shape)), const(_zero_points(rng, shape, qtype))], target,
           attributes)


@pytest.mark.parametrize("opset", [10, 13, 21])
@pytest.mark.parametrize("qtype", QTYPES + ["int32"])
def test_dequantize_per_tensor(qtype, opset, target, rng):
    info = np.iinfo(qtype)
    x = rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, (3, 5, 7, 9)).astype(qtype)
    zp = np.zeros((), qtype) if qtype == "int32" else _zero_points(rng, (), qtype)
    _check("DequantizeLinear", [x, const(0.05, "float32"), const(zp)], target, opset=opset, dequantize=True)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("qtype", QTYPES)
def test_dequantize_per_axis(qtype, axis, target, rng):
    x = rng.integers(0, 100, (3, 5, 7)).astype(qtype)
    n = x.shape[axis]
    _check("DequantizeLinear", [x, const(_scales(rng, (n,))), const(_zero_points(rng, (n,), qtype))], target,
           {"axis": axis}, opset=13, dequantize=True)


@pytest.mark.parametrize("qtype", QTYPES)
def test_dequantize_without_zero_point_blocked(qtype, target, rng):
    x = rng.integers(0, 100, (2, 9, 4)).astype(qtype)
    _check("DequantizeLinear", [x, const(_scales(rng, (2, 3, 4)))], target, {"axis": 1, "block_size": 4},
           dequantize=True)


@pytest.mark.parametrize("qtype", QTYPES)
def test_quantize_dequantize_chain(qtype, target, rng):
    """Q -> DQ of an activation (what QDQ models hold between float ops) with batch > 1."""
    from onnx import helper

    x = rng.standard_normal((4, 3, 11, 13), dtype="float32")
    zp = _zero_points(rng, (3,), qtype)
    scale = _scales(rng, (3,))
    from op_check import make_model

    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q", axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq", axis=1),
             helper.make_node("Relu", ["y"], ["r"], name="relu")]
    model, feeds = make_model(nodes, {"x": x, "s": const(scale), "z": const(zp)}, ["r", "q"], opset=13)
    check_model(model, feeds, target, _tolerance(target))


@pytest.mark.parametrize("op,inputs,attributes,error,match", [
    ("QuantizeLinear", [np.zeros((2, 3), "float32"), const([0.1, 0.2], "float32")], {"axis": 1},
     metalnn.ShapeError, "has 2 entries but input axis 1 has 3"),
    ("QuantizeLinear", [np.zeros((2, 3), "float32"), const(0.1, "float32")], {"output_dtype": 5},
     metalnn.UnsupportedOpError, "output_dtype 5 is not int8 or uint8"),
    ("DequantizeLinear", [np.zeros((2, 3), "int8"), const([0.1, 0.2, 0.3], "float32"), const([0, 0], "int8")],
     {"axis": 1}, metalnn.ShapeError, "zero point 'input2' .2. differs from scale"),
])
def test_bad_inputs(op, inputs, attributes, error, match):
    model, _ = make_op_model(op, inputs, attributes, opset=21)
    with pytest.raises(error, match=f"{op.lower()}_node.*{match}"):
        metalnn.load(model, device="cpu")
