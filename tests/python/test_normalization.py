"""BatchNormalization (inference form) and LRN."""

import pytest

from op_check import NEWEST_OPSET, check_op, const


def batch_norm_parameters(channels, rng):
    scale = rng.uniform(0.5, 1.5, channels).astype("float32")
    bias = rng.standard_normal(channels, dtype="float32")
    mean = rng.standard_normal(channels, dtype="float32")
    variance = rng.uniform(0.1, 2.0, channels).astype("float32")
    return [const(scale), const(bias), const(mean), const(variance)]


@pytest.mark.parametrize("opset", [11, 14, 15, NEWEST_OPSET])
@pytest.mark.parametrize("shape", [(2, 7, 13, 13), (2, 13), (2, 5, 13), (1, 129, 3, 3)])
def test_batch_normalization(shape, opset, target, rng):
    x = rng.standard_normal(shape, dtype="float32")
    check_op("BatchNormalization", [x, *batch_norm_parameters(shape[1], rng)], target, opset=opset)


@pytest.mark.parametrize("fed", [[1, 2, 3, 4], [3]], ids=["all", "mean"])
@pytest.mark.parametrize("shape", [(2, 7, 9, 11), (3, 5)])
def test_batch_normalization_fed_parameters(shape, fed, target, rng):
    """Parameters fed at run time (all of them, or the mean only) instead of folded at load."""
    parameters = batch_norm_parameters(shape[1], rng)
    inputs = [rng.standard_normal(shape, dtype="float32")]
    inputs += [p.value if i + 1 in fed else p for i, p in enumerate(parameters)]
    check_op("BatchNormalization", inputs, target, {"epsilon": 1e-3})


@pytest.mark.parametrize("epsilon", [1e-3, 0.5])
def test_batch_normalization_epsilon(epsilon, target, rng):
    x = rng.standard_normal((2, 7, 9, 9), dtype="float32")
    check_op("BatchNormalization", [x, *batch_norm_parameters(7, rng)], target,
             {"epsilon": epsilon, "momentum": 0.7})


@pytest.mark.parametrize("opset", [11, 13, NEWEST_OPSET])
@pytest.mark.parametrize("attributes", [
    {"size": 5},
    {"size": 3, "alpha": 1e-2, "beta": 0.5, "bias": 2.0},
    {"size": 1, "alpha": 1e-3, "beta": 0.9},
    {"size": 15, "alpha": 1e-1, "beta": 0.75, "bias": 1.5},
], ids=["size5_default", "size3", "size1", "size15_wider_than_channels"])
def test_lrn(attributes, opset, target, rng):
    x = rng.standard_normal((2, 13, 7, 7), dtype="float32") * 3
    check_op("LRN", [x], target, attributes, opset=opset)
