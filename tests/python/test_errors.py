"""Bad files, unsupported ops and bad inputs raise the right metalnn errors; the Model survives."""

import re
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import metalnn
from op_check import const, make_model, run_reference

INPUT_SHAPE = (2, 3, 7, 7)


@pytest.fixture(scope="module")
def conv_model():
    """A small Conv + Relu model with one input, "image", and its ONNX form."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["image", "weight"], ["conv"], name="conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["features"], name="relu")]
    values = {"image": rng.standard_normal(INPUT_SHAPE, dtype="float32"),
              "weight": const(rng.standard_normal((4, 3, 3, 3), dtype="float32"))}
    proto, _ = make_model(nodes, values, ["features"])
    return proto, metalnn.load(proto, device="cpu")


def assert_still_runs(conv_model):
    """After an error the same Model must still give the right answer."""
    proto, model = conv_model
    image = np.random.default_rng(1).standard_normal(INPUT_SHAPE, dtype="float32")
    expected = run_reference(proto, {"image": image})["features"]
    np.testing.assert_allclose(model.run({"image": image})["features"], expected,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.01])
@pytest.mark.parametrize("as_path", [True, False], ids=["path", "bytes"])
def test_truncated_model(fraction, as_path, conv_model, tmp_path):
    data = conv_model[0].SerializeToString()
    data = data[: int(len(data) * fraction)]
    source = data
    if as_path:
        source = tmp_path / "truncated.onnx"
        source.write_bytes(data)
    with pytest.raises(metalnn.ModelError) as raised:
        metalnn.load(source, device="cpu")
    assert isinstance(raised.value, ValueError)
    assert str(raised.value)
    assert_still_runs(conv_model)


@pytest.mark.parametrize("size", [1, 100, 10_000])
def test_random_bytes(size, conv_model, tmp_path):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "random.onnx"
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(metalnn.ModelError):
            metalnn.load(source, device="cpu")
    assert_still_runs(conv_model)


def test_unsupported_ops_are_all_listed(conv_model):
    """Det and Hardmax are standard ONNX ops outside metalnn's list; both must be reported."""
    nodes = [helper.make_node("Det", ["x"], ["det"], name="determinant_of_x"),
             helper.make_node("Relu", ["x"], ["relu"], name="supported_relu"),
             helper.make_node("Hardmax", ["relu"], ["hardmax"], name="hardmax_of_relu")]
    proto, _ = make_model(nodes, {"x": np.zeros((2, 5, 5), "float32")}, ["det", "hardmax"])
    with pytest.raises(metalnn.UnsupportedOpError) as raised:
        metalnn.load(proto, device="cpu")
    assert isinstance(raised.value, NotImplementedError)
    message = str(raised.value)
    for expected in ("Det", "determinant_of_x", "Hardmax", "hardmax_of_relu"):
        assert expected in message, f"{expected!r} missing from {message!r}"
    assert "supported_relu" not in message
    assert_still_runs(conv_model)


@pytest.mark.parametrize("feeds_name", ["img", "image_", ""])
def test_wrong_input_name(feeds_name, conv_model):
    image = np.zeros(INPUT_SHAPE, "float32")
    with pytest.raises(metalnn.InputError) as raised:
        conv_model[1].run({feeds_name: image})
    assert isinstance(raised.value, (metalnn.Error, KeyError))
    assert "image" in str(raised.value)
    if feeds_name:
        assert feeds_name in str(raised.value)
    assert_still_runs(conv_model)


def test_extra_input(conv_model):
    image = np.zeros(INPUT_SHAPE, "float32")
    with pytest.raises(metalnn.InputError) as raised:
        conv_model[1].run({"image": image, "mask": image})
    assert "mask" in str(raised.value)
    assert_still_runs(conv_model)


@pytest.mark.parametrize("shape", [(2, 3, 9, 7), (1, 3, 7, 7), (2, 3, 49), (2, 3, 7, 7, 1), ()])
def test_wrong_shape(shape, conv_model):
    with pytest.raises(metalnn.ShapeError) as raised:
        conv_model[1].run({"image": np.zeros(shape, "float32")})
    assert isinstance(raised.value, ValueError)
    message = str(raised.value)
    assert "image" in message
    assert re.search(r"2\D+3\D+7\D+7", message), f"expected shape missing from {message!r}"
    assert_still_runs(conv_model)


@pytest.mark.parametrize("dtype", ["float64", "float16", "int64", "int32", "bool"])
def test_wrong_dtype(dtype, conv_model):
    with pytest.raises(metalnn.DtypeError) as raised:
        conv_model[1].run({"image": np.zeros(INPUT_SHAPE, dtype)})
    assert isinstance(raised.value, TypeError)
    message = str(raised.value)
    assert "image" in message and "float32" in message, message
    assert_still_runs(conv_model)


def test_wrong_dtype_through_call(conv_model):
    with pytest.raises(metalnn.DtypeError):
        conv_model[1](np.zeros(INPUT_SHAPE, "float64"))
    assert_still_runs(conv_model)


@pytest.mark.skipif(sys.platform == "darwin", reason="Metal exists on Apple platforms")
def test_metal_unavailable_off_apple(conv_model):
    assert "metal" not in metalnn.devices()
    with pytest.raises(metalnn.DeviceError) as raised:
        metalnn.load(conv_model[0], device="metal")
    assert isinstance(raised.value, RuntimeError)
    assert "metal" in str(raised.value)
    assert_still_runs(conv_model)


def test_unknown_device(conv_model):
    with pytest.raises(metalnn.DeviceError) as raised:
        metalnn.load(conv_model[0], device="tpu")
    assert "tpu" in str(raised.value)
    assert_still_runs(conv_model)


@pytest.mark.parametrize("error,builtin", [
    ("ModelError", ValueError), ("UnsupportedOpError", NotImplementedError),
    ("ShapeError", ValueError), ("DtypeError", TypeError), ("DeviceError", RuntimeError),
    ("InputError", KeyError),
])
def test_error_hierarchy(error, builtin):
    cls = getattr(metalnn, error)
    assert issubclass(cls, metalnn.Error) and issubclass(cls, builtin)


def test_unstored_element_type_names_type_tensor_and_reader():
    """A float8 quantized input: the error names the ONNX type, the tensor, the node that reads it and
    the dtypes the engine stores."""
    graph = helper.make_graph([helper.make_node("DequantizeLinear", ["x", "s"], ["y"], name="dq8")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT8E4M3FN, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                              [numpy_helper.from_array(np.float32(0.5), "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(metalnn.DtypeError) as raised:
        metalnn.load(model)
    message = str(raised.value)
    for part in ("float8e4m3fn", "'x'", "DequantizeLinear 'dq8'", "float32"):
        assert part in message, message
