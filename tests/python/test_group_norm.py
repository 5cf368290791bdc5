"""InstanceNormalization and GroupNormalization (opset 18: scale/bias per group; opset 21: per
channel): ranks 3-5, odd sizes, batch > 1, epsilon, run-time scale and bias, bad shapes."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import metalnn
from op_check import NEWEST_OPSET, check_model, check_op, const, make_op_model

SHAPES = [(2, 6, 13), (3, 6, 5, 7), (2, 6, 3, 5, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("epsilon", [1e-5, 0.3])
def test_instance_norm(shape, epsilon, target, rng):
    x = rng.standard_normal(shape, dtype="float32") * 3 + 1
    scale, bias = rng.standard_normal((2, shape[1]), dtype="float32")
    check_op("InstanceNormalization", [x, const(scale), const(bias)], target, {"epsilon": epsilon})


def test_instance_norm_runtime_params(target, rng):
    """Scale and B fed at run time; a large plane (4 x 129 elements per channel)."""
    x = rng.standard_normal((2, 3, 4, 129), dtype="float32")
    scale, bias = rng.standard_normal((2, 3), dtype="float32")
    check_op("InstanceNormalization", [x, scale, bias], target, {}, opset=6)


def group_norm_model(x, scale, bias, attributes, opset):
    """A one-node GroupNormalization model with its output declared (ONNX infers none for it)."""
    inputs = {"x": x, "scale": scale, "bias": bias}
    node = helper.make_node("GroupNormalization", list(inputs), ["y"], name="group_norm_node", **attributes)
    graph = helper.make_graph(
        [node], "test",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, value.shape) for name, value in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, x.shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model, inputs


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("groups", [1, 2, 3, 6])
@pytest.mark.parametrize("opset", [18, 21])
def test_group_norm(shape, groups, opset, target, rng):
    x = rng.standard_normal(shape, dtype="float32") * 2 - 1
    scale, bias = rng.standard_normal((2, groups if opset == 18 else shape[1]), dtype="float32")
    model, feeds = group_norm_model(x, scale, bias, {"num_groups": groups}, opset)
    check_model(model, feeds, target)


@pytest.mark.parametrize("opset", [18, 21])
def test_group_norm_attributes(opset, target, rng):
    """epsilon, and stash_type (opset 21) at its float32 default: the engine computes in float32."""
    x = rng.standard_normal((2, 12, 7, 9), dtype="float32")
    scale, bias = rng.standard_normal((2, 4 if opset == 18 else 12), dtype="float32")
    attributes = {"num_groups": 4, "epsilon": 0.25} | ({"stash_type": 1} if opset == 21 else {})
    model, feeds = group_norm_model(x, scale, bias, attributes, opset)
    check_model(model, feeds, target)


@pytest.mark.parametrize("opset,params,match", [
    (21, 3, r"scale 'scale' has shape \[3\], expected \[6\] \(one value per channel\)"),
    (18, 6, r"scale 'scale' has shape \[6\], expected \[3\] \(one value per group\)"),
])
def test_group_norm_bad_scale(opset, params, match, rng):
    x = rng.standard_normal((2, 6, 5), dtype="float32")
    scale = rng.standard_normal(params, dtype="float32")
    model, _ = group_norm_model(x, scale, scale, {"num_groups": 3}, opset)
    with pytest.raises(metalnn.ShapeError, match="group_norm_node.*" + match):
        metalnn.load(model)


def test_group_norm_bad_groups(rng):
    x = rng.standard_normal((2, 6, 5), dtype="float32")
    scale = rng.standard_normal(6, dtype="float32")
    model, _ = group_norm_model(x, scale, scale, {"num_groups": 4}, NEWEST_OPSET)
    with pytest.raises(metalnn.ShapeError, match="group_norm_node.*6 channels, not a multiple of num_groups 4"):
        metalnn.load(model)


def test_instance_norm_bad_scale(rng):
    x = rng.standard_normal((2, 5, 7), dtype="float32")
    model, _ = make_op_model("InstanceNormalization", [x, np.ones(5, "float32"), np.ones(5, "float32")])
    model.graph.input[1].type.tensor_type.shape.dim[0].dim_value = 4
    with pytest.raises(metalnn.ShapeError, match=r"instancenormalization_node.*scale 'input1' has shape \[4\], "
                                                 r"expected \[5\] \(one value per channel\)"):
        metalnn.load(model)


def test_instance_norm_rank_2():
    model, _ = make_op_model("InstanceNormalization", [np.ones((2, 5, 3), "float32"), np.ones(5, "float32"),
                                                      np.ones(5, "float32")])
    del model.graph.input[0].type.tensor_type.shape.dim[2]
    with pytest.raises(metalnn.ShapeError, match="instancenormalization_node.*has 2 dims, expected at least 3"):
        metalnn.load(model)
