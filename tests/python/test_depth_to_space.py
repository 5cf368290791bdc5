"""DepthToSpace and SpaceToDepth (DCR and CRD): odd sizes, batch > 1, every stored dtype, each opset form."""

import numpy as np
import pytest

import metalnn
from op_check import check_op, make_op_model

DTYPES = ["float32", "float16", "int64", "int32", "uint8", "bool"]


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("blocksize", [2, 3])
def test_depth_to_space(blocksize, mode, opset, target, rng):
    x = rng.standard_normal((2, 5 * blocksize * blocksize, 3, 7), dtype="float32")
    check_op("DepthToSpace", [x], target, {"blocksize": blocksize, "mode": mode}, opset=opset)


@pytest.mark.parametrize("opset,mode", [(1, None), (13, None), (28, "DCR"), (28, "CRD")])
@pytest.mark.parametrize("blocksize", [2, 3])
def test_space_to_depth(blocksize, opset, mode, target, rng):
    x = rng.standard_normal((3, 5, 3 * blocksize, 7 * blocksize), dtype="float32")
    attributes = {"blocksize": blocksize} | ({"mode": mode} if mode else {})
    check_op("SpaceToDepth", [x], target, attributes, opset=opset)


@pytest.mark.parametrize("op", ["DepthToSpace", "SpaceToDepth"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes(op, dtype, target, rng):
    x = (rng.integers(0, 100, (2, 4, 6, 6)) % (2 if dtype == "bool" else 100)).astype(dtype)
    check_op(op, [x], target, {"blocksize": 2})


@pytest.mark.parametrize("op,shape,match", [
    ("DepthToSpace", (1, 6, 2, 2), "6 channels, not a multiple of blocksize"),
    ("SpaceToDepth", (1, 3, 5, 4), "not divisible by blocksize 2"),
])
def test_bad_shapes(op, shape, match):
    model, _ = make_op_model(op, [np.zeros((1, 4, 4, 4), "float32")], {"blocksize": 2})
    for d, size in zip(model.graph.input[0].type.tensor_type.shape.dim, shape):
        d.dim_value = size
    with pytest.raises(metalnn.ShapeError, match=f"{op.lower()}_node.*{match}"):
        metalnn.load(model)
