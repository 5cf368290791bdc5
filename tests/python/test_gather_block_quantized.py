"""GatherBlockQuantized (com.microsoft) against ONNX Runtime: uint8 data (two 4-bit codes a byte, or
8-bit codes), int4 / uint4 data on every gather / quantize axis pair, with and without zero points,
int32 / int64 / constant indices (negative and out-of-range ones)."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import metalnn
from op_check import check_model

MS = "com.microsoft"


def gbq_model(data, indices, scales, zero_points=None, constant_indices=False, **attrs):
    """A one-node model; `data`, `scales`, `zero_points` are TensorProtos (initializers)."""
    inits = [data, scales] + ([zero_points] if zero_points is not None else [])
    names = [data.name, "indices", scales.name] + ([zero_points.name] if zero_points is not None else [])
    node = helper.make_node("GatherBlockQuantized", names, ["Y"], name="gbq_node", domain=MS, **attrs)
    inputs, feeds = [], {}
    if constant_indices:
        inits.append(numpy_helper.from_array(indices, "indices"))
    else:
        inputs.append(helper.make_tensor_value_info("indices", helper.np_dtype_to_tensor_dtype(indices.dtype),
                                                    indices.shape))
        feeds["indices"] = indices
    graph = helper.make_graph([node], "gbq", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(MS, 1)])
    return model, feeds


def _four_bit(name, values, signed):
    """An int4 / uint4 TensorProto of `values` (one code per element)."""
    kind = TensorProto.INT4 if signed else TensorProto.UINT4
    return helper.make_tensor(name, kind, values.shape, values.ravel().tolist())


def _scales(rng, shape):
    return numpy_helper.from_array(rng.uniform(0.05, 0.5, shape).astype(np.float32), "scales")


@pytest.mark.parametrize("index_type", ["int64", "int32", "constant"])
@pytest.mark.parametrize("zero_points", [False, True])
@pytest.mark.parametrize("bits", [4, 8])
def test_uint8_table(bits, zero_points, index_type, target, rng):
    """A [rows, 70]-code embedding table in uint8 (gather_axis 0, quantize_axis last), blocks of 32."""
    rows, cols, block = 13, 70, 32
    per_byte = 8 // bits
    data = numpy_helper.from_array(rng.integers(0, 256, (rows, cols // per_byte), dtype=np.uint8), "data")
    scale_cols = -(-cols // block)
    zp = None
    if zero_points:
        zp_cols = -(-scale_cols // per_byte)
        zp = numpy_helper.from_array(rng.integers(0, 256, (rows, zp_cols), dtype=np.uint8), "zp")
    indices = np.array([[0, 12, -1], [5, 5, -13]], dtype="int32" if index_type == "int32" else "int64")
    model, feeds = gbq_model(data, indices, _scales(rng, (rows, scale_cols)), zp, index_type == "constant",
                             gather_axis=0, quantize_axis=1, block_size=block, bits=bits)
    check_model(model, feeds, target)


@pytest.mark.parametrize("signed", [False, True], ids=["uint4", "int4"])
@pytest.mark.parametrize("zero_points", [False, True])
@pytest.mark.parametrize("gather_axis,quantize_axis", [(0, 1), (1, 0), (0, 2), (2, 1), (1, -1), (-1, 0)])
def test_four_bit_table(gather_axis, quantize_axis, zero_points, signed, target, rng):
    """A [3, 37, 20] int4 / uint4 table (odd element count), blocks of 16 along each axis form."""
    shape, block = (3, 37, 20), 16
    low, high = (-8, 8) if signed else (0, 16)
    data = _four_bit("data", rng.integers(low, high, shape), signed)
    scale_shape = list(shape)
    scale_shape[quantize_axis] = -(-shape[quantize_axis] // block)
    zp = _four_bit("zp", rng.integers(low, high, scale_shape), signed) if zero_points else None
    axis_len = shape[gather_axis]
    indices = np.array([axis_len - 1, 0, -axis_len, 1], dtype="int64")
    model, feeds = gbq_model(data, indices, _scales(rng, scale_shape), zp, gather_axis=gather_axis,
                             quantize_axis=quantize_axis, block_size=block)
    check_model(model, feeds, target)


def test_out_of_range_index_gives_zeros(target, rng):
    """Unlike Gather, an index outside the axis selects zeros (ONNX Runtime's rule)."""
    data = numpy_helper.from_array(rng.integers(0, 256, (4, 16), dtype=np.uint8), "data")
    indices = np.array([1, 4, -5, 2], dtype="int64")
    model, feeds = gbq_model(data, indices, _scales(rng, (4, 1)), block_size=32, quantize_axis=1)
    result = check_model(model, feeds, target)["Y"]
    assert not result[1].any() and not result[2].any() and result[0].any()


@pytest.mark.parametrize("attrs,error,match", [
    ({"gather_axis": 1, "quantize_axis": 1}, metalnn.UnsupportedOpError, "uint8 data needs gather_axis 0"),
    ({"block_size": 8}, metalnn.ModelError, "block_size 8 is not a power of two"),
    ({"bits": 2}, metalnn.UnsupportedOpError, "bits = 2"),
])
def test_bad_attributes(attrs, error, match, rng):
    data = numpy_helper.from_array(np.zeros((4, 16), np.uint8), "data")
    model, _ = gbq_model(data, np.zeros(2, "int64"), _scales(rng, (4, 1)),
                         **{"block_size": 32, "quantize_axis": 1, **attrs})
    with pytest.raises(error, match=f"gbq_node.*{match}"):
        metalnn.load(model, device="cpu")


def test_bad_scales_shape(rng):
    data = numpy_helper.from_array(np.zeros((4, 16), np.uint8), "data")
    model, _ = gbq_model(data, np.zeros(2, "int64"), _scales(rng, (4, 2)), block_size=32, quantize_axis=1)
    with pytest.raises(metalnn.ShapeError, match=r"gbq_node.*scales 'scales' \[4, 2\], expected \[4, 1\]"):
        metalnn.load(model, device="cpu")


def test_four_bit_table_saved_packed(tmp_path, rng):
    """An int4 table stays packed (half a byte a code) in a saved .metalnn file and reloads as it ran."""
    shape, block = (512, 256), 32
    data = _four_bit("data", rng.integers(-8, 8, shape), True)
    model, feeds = gbq_model(data, np.array([3, 511, 0], "int64"), _scales(rng, (512, 8)), gather_axis=0,
                             quantize_axis=1, block_size=block)
    engine = metalnn.load(model, device="cpu")
    path = tmp_path / "table.metalnn"
    engine.save(str(path))
    codes, scales = 512 * 256 // 2, 512 * 8 * 4
    assert path.stat().st_size < codes + scales + 64 * 1024, path.stat().st_size
    np.testing.assert_array_equal(metalnn.load(str(path), device="cpu").run(feeds)["Y"], engine.run(feeds)["Y"])


def test_four_bit_initializer_read_by_another_op(rng):
    data = _four_bit("data", rng.integers(0, 16, (4, 16)), False)
    model, _ = gbq_model(data, np.zeros(2, "int64"), _scales(rng, (4, 1)), block_size=32, quantize_axis=1)
    model.graph.node.append(helper.make_node("Identity", ["data"], ["copy"], name="copy_node"))
    model.graph.output.append(helper.make_tensor_value_info("copy", TensorProto.UINT4, [4, 16]))
    with pytest.raises(metalnn.UnsupportedOpError, match="copy_node.*'data' is int4 / uint4"):
        metalnn.load(model, device="cpu")
