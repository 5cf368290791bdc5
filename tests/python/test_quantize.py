"""QuantizeLinear / DequantizeLinear against ONNX Runtime (per tensor, per axis, blocked; int8 and
uint8), and models quantized by onnxruntime.quantization run end to end."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                      quantize_static)

import metalnn
from op_check import STEP_TOLERANCE, check_model, const, make_model, make_op_model, run_reference

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
    x = rng.standard_normal((4, 3, 11, 13), dtype="float32")
    zp = _zero_points(rng, (3,), qtype)
    scale = _scales(rng, (3,))
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q", axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq", axis=1),
             helper.make_node("Relu", ["y"], ["r"], name="relu")]
    model, feeds = make_model(nodes, {"x": x, "s": const(scale), "z": const(zp)}, ["r", "q"], opset=13)
    check_model(model, feeds, target, _tolerance(target))


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_int8_inputs_and_uint8_outputs(layout, target, rng):
    """int8 in, uint8 out through NumPy: outputs are views of the engine's buffers, inputs read in place
    or copied when strided."""
    x = rng.integers(-128, 128, (3, 7, 10)).astype("int8")
    if layout == "strided":
        x = x[..., ::2]
    nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["f"], name="dq"),
             helper.make_node("QuantizeLinear", ["f", "s2", "z2"], ["y"], name="q")]
    values = {"x": np.ascontiguousarray(x), "s": const(0.1, "float32"), "z": const(3, "int8"),
              "s2": const(0.3, "float32"), "z2": const(128, "uint8")}
    model, _ = make_model(nodes, values, ["y"], opset=13)
    expected = run_reference(model, {"x": np.ascontiguousarray(x)})["y"]
    actual = metalnn.load(model, device=target.device, precision=target.precision).run({"x": x})["y"]
    assert actual.dtype == np.uint8 and not actual.flags.owndata
    np.testing.assert_allclose(actual, expected, atol=1 if target.precision == "float16" else 0)


@pytest.mark.parametrize("shape", [(1, 7), (3, 5, 129), (2, 1), (3, 129, 131)])  # the last: several chunks
def test_dynamic_quantize(shape, target, rng):
    x = rng.standard_normal(shape, dtype="float32") * 3 + (1 if shape == (2, 1) else 0)
    model, feeds = make_op_model("DynamicQuantizeLinear", [x], num_outputs=3, opset=11)
    check_model(model, feeds, target, _tolerance(target))


def test_dynamic_quantize_positive_and_negative_ranges(target, rng):
    for x in (rng.uniform(0.5, 2.0, (4, 9)), rng.uniform(-2.0, -0.5, (4, 9))):
        model, feeds = make_op_model("DynamicQuantizeLinear", [x.astype("float32")], num_outputs=3, opset=11)
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


# ---- models quantized by onnxruntime.quantization, run end to end ----

def _small_cnn(rng):
    """Conv/Relu/residual Add/GlobalAveragePool/Gemm on [N, 3, 13, 11] inputs."""
    def weight(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype("float32"), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["a"]),
        helper.make_node("Relu", ["a"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    weights = [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("w2", 8, 8, 3, 3), weight("b2", 8),
               weight("w3", 5, 8), weight("b3", 5)]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 13, 11])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], initializer=weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _output_scale(model, output):
    """The scale of the DequantizeLinear producing graph output `output`."""
    producer = next(n for n in model.graph.node if output in n.output)
    assert producer.op_type == "DequantizeLinear"
    init = next(i for i in model.graph.initializer if i.name == producer.input[1])
    return float(numpy_helper.to_array(init))


def _quantized_steps(model, feeds, target, output, step):
    """Worst |metalnn - ONNX Runtime| on `output` in units of `step`, less the rounding of the float
    output itself to half on float16 targets."""
    expected = run_reference(model, feeds)[output]
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)[output]
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    slack = np.abs(expected) * 2.0**-11 if target.precision == "float16" else 0.0
    return max(0.0, float((np.abs(actual.astype("float64") - expected) - slack).max() / step))


@pytest.mark.parametrize("activation_type", ["QInt8", "QUInt8"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_static_cnn(per_channel, activation_type, target, rng, tmp_path):
    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.standard_normal((2, 3, 13, 11), dtype="float32")} for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)

    onnx.save(_small_cnn(rng), tmp_path / "float.onnx")
    quantize_static(tmp_path / "float.onnx", tmp_path / "int8.onnx", Calibration(), quant_format=QuantFormat.QDQ,
                    per_channel=per_channel, activation_type=QuantType[activation_type],
                    weight_type=QuantType.QInt8)
    model = onnx.load(tmp_path / "int8.onnx")
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in model.graph.node}
    feeds = {"x": rng.standard_normal((3, 3, 13, 11), dtype="float32")}
    steps = _quantized_steps(model, feeds, target, "y", _output_scale(model, "y"))
    print(f"{target} per_channel={per_channel} {activation_type}: worst difference {steps:.3f} steps")
    assert steps <= 1.0 + 1e-3


def _small_mlp(rng):
    """MatMul/Relu/MatMul on [N, 5, 16] inputs."""
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    weights = [numpy_helper.from_array(rng.standard_normal((16, 23), dtype="float32"), "w1"),
               numpy_helper.from_array(rng.standard_normal((23, 7), dtype="float32"), "w2")]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 7])], initializer=weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("weight_type", ["QInt8", "QUInt8"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_dynamic_mlp(per_channel, weight_type, target, rng, tmp_path):
    onnx.save(_small_mlp(rng), tmp_path / "float.onnx")
    quantize_dynamic(tmp_path / "float.onnx", tmp_path / "int8.onnx", per_channel=per_channel,
                     weight_type=QuantType[weight_type])
    model = onnx.load(tmp_path / "int8.onnx")
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= {n.op_type for n in model.graph.node}
    # The output's step is one unit of the last MatMulInteger: the product of its two scales.
    last_mul = next(n for n in model.graph.node if "y" in n.output)
    step_name = last_mul.input[1]
    model.graph.output.append(helper.make_tensor_value_info(step_name, TensorProto.FLOAT, None))
    feeds = {"x": rng.standard_normal((3, 5, 16), dtype="float32")}
    if target.precision == "float16":  # MatMulInteger's int32 sums exceed float16 once cast
        with pytest.raises(metalnn.UnsupportedOpError, match="MatMulInteger"):
            # At load, or at the first run when the model has free dimensions (compiled per shape).
            metalnn.load(model, device=target.device, precision=target.precision).run(feeds)
        return
    step = run_reference(model, feeds)[step_name].min()
    steps = _quantized_steps(model, feeds, target, "y", float(step))
    print(f"{target} per_channel={per_channel} {weight_type}: worst difference {steps:.3f} steps")
    assert steps <= 1.0 + 1e-3


@pytest.mark.parametrize("op,domain,inputs", [  # QLinearConv and the like: test_qlinear.py
    ("QLinearWhere", "com.microsoft", ["c", "x", "s", "z", "w", "s", "z", "s", "z"]),
    ("QAttention", "com.microsoft", ["x", "w"]),
])
def test_unsupported_quantized_ops(op, domain, inputs):
    node = helper.make_node(op, inputs, ["y"], name="node", domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 1, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None)])
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    with pytest.raises(metalnn.UnsupportedOpError, match=op):
        metalnn.load(helper.make_model(graph, opset_imports=opsets), device="cpu")


def test_quantized_models_save_and_load(rng, tmp_path):
    """int8/uint8 constants (MatMulInteger weights, Q/DQ zero points) survive a .metalnn round trip."""
    onnx.save(_small_mlp(rng), tmp_path / "float.onnx")
    quantize_dynamic(tmp_path / "float.onnx", tmp_path / "int8.onnx", weight_type=QuantType.QInt8)
    nodes = [helper.make_node("QuantizeLinear", ["y", "s", "z"], ["q"], name="q"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["o"], name="dq")]
    model = onnx.load(tmp_path / "int8.onnx")
    model.graph.node.extend(nodes)
    model.graph.initializer.extend([numpy_helper.from_array(np.array(0.5, "float32"), "s"),
                                    numpy_helper.from_array(np.array(-3, "int8"), "z")])
    model.graph.output[0].name = "o"
    feeds = {"x": rng.standard_normal((1, 5, 16), dtype="float32")}  # a saved model keeps symbolic dims at 1
    for device in [d for d in ("cpu", "metal-sim") if d in metalnn.devices()]:
        engine = metalnn.load(model, device=device)
        engine.save(tmp_path / "model.metalnn")
        reloaded = metalnn.load(tmp_path / "model.metalnn", device=device)
        np.testing.assert_array_equal(reloaded.run(feeds)["o"], engine.run(feeds)["o"])
