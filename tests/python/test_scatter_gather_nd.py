"""GatherND (batch_dims), ScatterND and ScatterElements (every reduction, negative indices), on every
data dtype the engine stores and both index dtypes, against ONNX Runtime."""

import numpy as np
import pytest

import metalnn
from onnx import TensorProto

from op_check import CPU_TARGETS, TOLERANCES, assert_close, check_op, const, make_op_model, run_reference

# Data dtypes by what the GPU kernels see: 4-, 8- and 1-byte moves (float32 under the float16
# target moves 2 bytes) and the arithmetic dtypes of the reductions.
MOVE_DTYPES = ["float32", "float16", "int64", "int32", "int8", "uint8", "bool"]
REDUCE_DTYPES = ["float32", "int64", "int32"]


def random_data(rng, shape, dtype):
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -50), min(info.max, 50), shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def check_nd(op, inputs, target, attributes=None, opset=18, index_dtype="int64"):
    """check_op, except that ONNX types GatherND and ScatterND indices int64 only: with int32
    indices the engine's model differs from the reference's in that input's type alone."""
    if index_dtype == "int64":
        check_op(op, inputs, target, attributes, opset=opset)
        return
    model, feeds = make_op_model(op, inputs, attributes, opset)
    expected = run_reference(model, feeds)
    model.graph.input[1].type.tensor_type.elem_type = TensorProto.INT32
    feeds["input1"] = feeds["input1"].astype("int32")
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)
    assert_close(actual["output0"], expected["output0"], target.tolerance, f"{target}: int32 indices")


def tuples(rng, dims, count, negative=True):
    """`count` distinct index tuples into `dims`, some written from the end."""
    flat = rng.permutation(int(np.prod(dims)))[:count]
    index = np.stack(np.unravel_index(flat, dims), axis=-1)
    if negative:
        index = np.where(rng.integers(0, 2, index.shape) == 1, index - np.array(dims), index)
    return index


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_gather_nd(k, index_dtype, opset, target, rng):
    data = rng.standard_normal((5, 7, 3, 4), dtype="float32")
    index = tuples(rng, data.shape[:k], 4).reshape(2, 2, k)
    check_nd("GatherND", [data, index], target, opset=opset, index_dtype=index_dtype)


@pytest.mark.parametrize("batch_dims,k", [(1, 1), (1, 2), (2, 1)])
@pytest.mark.parametrize("constant", [False, True])
def test_gather_nd_batch_dims(batch_dims, k, constant, target, rng):
    data = rng.standard_normal((3, 5, 7, 2), dtype="float32")
    batch = data.shape[:batch_dims]
    index = np.stack([tuples(rng, data.shape[batch_dims:batch_dims + k], 4) for _ in range(int(np.prod(batch)))])
    index = index.reshape(*batch, 4, k).astype("int64")
    check_op("GatherND", [data, const(index) if constant else index], target, {"batch_dims": batch_dims}, opset=12)


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_gather_nd_dtypes(dtype, index_dtype, target, rng):
    data = random_data(rng, (7, 13), dtype)
    index = tuples(rng, (7,), 5).reshape(5, 1)
    check_nd("GatherND", [data, index], target, index_dtype=index_dtype)


@pytest.mark.parametrize("opset", [11, 13, 16])
@pytest.mark.parametrize("k", [1, 3])
def test_scatter_nd(k, opset, target, rng):
    data = rng.standard_normal((5, 7, 3, 2), dtype="float32")
    index = tuples(rng, data.shape[:k], 4).reshape(2, 2, k)
    updates = rng.standard_normal((2, 2) + data.shape[k:], dtype="float32")
    check_op("ScatterND", [data, index, updates], target, opset=opset)


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_scatter_nd_dtypes(dtype, index_dtype, target, rng):
    data = random_data(rng, (7, 3, 5), dtype)
    index = tuples(rng, (7, 3), 4).reshape(4, 2)
    check_nd("ScatterND", [data, index, random_data(rng, (4, 5), dtype)], target, index_dtype=index_dtype)


@pytest.mark.parametrize("reduction", ["add", "mul", "max", "min"])
@pytest.mark.parametrize("dtype", REDUCE_DTYPES)
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_scatter_nd_reduction(reduction, dtype, index_dtype, target, rng):
    data = random_data(rng, (2, 7, 3), dtype)
    # Repeated tuples: every update of a location combines.
    index = np.concatenate([tuples(rng, (2, 7), 5), tuples(rng, (2, 7), 5)]).reshape(2, 5, 2)
    check_nd("ScatterND", [data, index, random_data(rng, (2, 5, 3), dtype)], target, {"reduction": reduction},
             index_dtype=index_dtype)


@pytest.mark.parametrize("opset", [11, 13, 16])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scatter_elements(axis, opset, target, rng):
    data = rng.standard_normal((5, 7, 9), dtype="float32")
    shape = [3, 4, 5]
    size = data.shape[axis]
    # Distinct indices along the axis (a permutation's head), half of them negative.
    full = list(shape)
    full[axis] = size
    index = np.take(np.argsort(rng.random(full), axis=axis), range(shape[axis]), axis=axis)
    index = np.where(rng.integers(0, 2, index.shape) == 1, index - size, index).astype("int64")
    check_op("ScatterElements", [data, index, rng.standard_normal(shape, dtype="float32")], target, {"axis": axis},
             opset=opset)


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_scatter_elements_dtypes(dtype, index_dtype, target, rng):
    data = random_data(rng, (3, 7), dtype)
    index = np.stack([rng.permutation(7)[:5] for _ in range(3)]).astype(index_dtype)
    check_op("ScatterElements", [data, index, random_data(rng, (3, 5), dtype)], target, {"axis": 1})


@pytest.mark.parametrize("reduction", ["add", "mul", "max", "min"])
@pytest.mark.parametrize("dtype", REDUCE_DTYPES)
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_scatter_elements_reduction(reduction, dtype, index_dtype, target, rng):
    data = random_data(rng, (5, 3, 4), dtype)
    index = rng.integers(-5, 5, (9, 3, 2)).astype(index_dtype)  # duplicates combine
    check_op("ScatterElements", [data, index, random_data(rng, (9, 3, 2), dtype)], target,
             {"axis": 0, "reduction": reduction}, opset=18)


@pytest.mark.parametrize("target", CPU_TARGETS, ids=str)  # the GPU clamps (GatherND) or skips (scatters)
@pytest.mark.parametrize("op,inputs", [
    ("GatherND", [np.zeros((2, 3), "float32"), np.array([[1, 3]], "int64")]),
    ("ScatterND", [np.zeros((2, 3), "float32"), np.array([[-3]], "int64"), np.zeros((1, 3), "float32")]),
    ("ScatterElements", [np.zeros((2, 3), "float32"), np.array([[0, 3]], "int32"), np.zeros((1, 2), "float32")]),
])
def test_out_of_range(op, inputs, target):
    model, feeds = make_op_model(op, inputs)
    engine = metalnn.load(model, device=target.device)
    with pytest.raises(metalnn.ShapeError, match=f"{op.lower()}_node.*indices 'input1' holds -?3, out of range"):
        engine.run(feeds)


@pytest.mark.parametrize("device", [d for d in metalnn.devices() if d != "cpu"])
def test_out_of_range_gpu(device):
    """The GPU's defined behaviour: GatherND clamps each coordinate, scatters skip the update."""
    data = np.arange(6, dtype="float32").reshape(2, 3)
    model, feeds = make_op_model("GatherND", [data, np.array([[1, 7], [-9, 0]], "int64")])
    np.testing.assert_array_equal(metalnn.load(model, device=device).run(feeds)["output0"], [5, 0])
    model, feeds = make_op_model("ScatterND", [data, np.array([[5], [1]], "int64"), np.ones((2, 3), "float32")])
    np.testing.assert_array_equal(metalnn.load(model, device=device).run(feeds)["output0"], [[0, 1, 2], [1, 1, 1]])
    model, feeds = make_op_model("ScatterElements", [data, np.array([[0, 3]], "int64"), np.full((1, 2), 9, "float32")],
                                 {"axis": 1, "reduction": "add"})
    np.testing.assert_array_equal(metalnn.load(model, device=device).run(feeds)["output0"], [[9, 1, 2], [3, 4, 5]])


def test_bad_shapes():
    model, _ = make_op_model("ScatterND", [np.zeros((2, 3), "float32"), np.array([[1]], "int64"),
                                           np.zeros((1, 3), "float32")])
    model.graph.input[2].type.tensor_type.shape.dim[1].dim_value = 4
    with pytest.raises(metalnn.ShapeError, match="scatternd_node.*updates 'input2'"):
        metalnn.load(model)


@pytest.mark.parametrize("op", ["ScatterND", "ScatterElements"])
@pytest.mark.parametrize("reduction", ["add", "mul", "max", "min"])
def test_float16_reduction(op, reduction, target, rng):
    """ONNX Runtime has no float16 reductions: the reference runs the same values in float32."""
    data = rng.standard_normal((5, 3), dtype="float32").astype("float16")
    index = np.array([[1], [4], [1], [-4]]) if op == "ScatterND" else rng.integers(-5, 5, (7, 3))
    updates = rng.standard_normal((4, 3) if op == "ScatterND" else (7, 3), dtype="float32").astype("float16")
    model, feeds = make_op_model(op, [data, index, updates], {"reduction": reduction})
    model32, feeds32 = make_op_model(op, [data.astype("float32"), index, updates.astype("float32")],
                                     {"reduction": reduction})
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    expected = run_reference(model32, feeds32)["output0"].astype("float16")
    assert_close(actual, expected, TOLERANCES["float16"], f"{target}: float16 {reduction}")
