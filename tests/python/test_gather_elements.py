"""GatherElements: indices of the data's rank, negative indices, any axis, smaller index shapes."""

import numpy as np
import pytest

import metalnn
from op_check import CPU_TARGETS, OPSETS, check_op, const, make_op_model

pytestmark = pytest.mark.parametrize("target", CPU_TARGETS, ids=str)  # no GPU kernel yet


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_gather_elements(axis, index_dtype, opset, target, rng):
    data = rng.standard_normal((5, 7, 13), dtype="float32")
    size = data.shape[axis]
    indices = rng.integers(-size, size, (4, 6, 11)).astype(index_dtype)
    check_op("GatherElements", [data, indices], target, {"axis": axis}, opset=opset)


def test_gather_elements_int64_data_constant_indices(target, rng):
    data = rng.integers(-100, 100, (129, 3)).astype("int64")
    indices = const(rng.integers(0, 129, (129, 3)), "int64")
    check_op("GatherElements", [data, indices], target, {"axis": 0})


def test_gather_elements_out_of_range(target):
    model, feeds = make_op_model("GatherElements", [np.zeros((2, 3), "float32"), np.array([[0, 3]], "int64")],
                                 {"axis": 1})
    engine = metalnn.load(model, device=target.device)
    with pytest.raises(metalnn.ShapeError, match="index 3 is out of range"):
        engine.run(feeds)
