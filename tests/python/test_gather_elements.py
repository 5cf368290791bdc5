"""GatherElements: indices of the data's rank, negative indices, any axis, smaller index shapes."""

import numpy as np
import pytest

import metalnn
from op_check import CPU_TARGETS, OPSETS, TARGETS, check_op, const, make_op_model

all_targets = pytest.mark.parametrize("target", TARGETS, ids=str)


@all_targets
@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_gather_elements(axis, index_dtype, opset, target, rng):
    data = rng.standard_normal((5, 7, 13), dtype="float32")
    size = data.shape[axis]
    indices = rng.integers(-size, size, (4, 6, 11)).astype(index_dtype)
    check_op("GatherElements", [data, indices], target, {"axis": axis}, opset=opset)


@all_targets
@pytest.mark.parametrize("constant", [True, False])
def test_gather_elements_int64_data(constant, target, rng):
    data = rng.integers(-100, 100, (129, 3)).astype("int64")
    indices = rng.integers(0, 129, (129, 3)).astype("int64")
    indices = const(indices) if constant else indices
    check_op("GatherElements", [data, indices], target, {"axis": 0})


@pytest.mark.parametrize("target", CPU_TARGETS, ids=str)  # the GPU clamps run-time indices
def test_gather_elements_out_of_range(target):
    model, feeds = make_op_model("GatherElements", [np.zeros((2, 3), "float32"), np.array([[0, 3]], "int64")],
                                 {"axis": 1})
    engine = metalnn.load(model, device=target.device)
    with pytest.raises(metalnn.ShapeError, match="index 3 is out of range"):
        engine.run(feeds)
