"""LayerNormalization (opset 17): axis, epsilon, broadcast Scale/B, optional Mean and InvStdDev outputs."""

import numpy as np
import pytest

from op_check import TARGETS, check_op, const

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)

SHAPE = (2, 7, 13)


@pytest.mark.parametrize("axis", [-1, 1, 0, 2])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(axis, with_bias, target, rng):
    x = rng.standard_normal(SHAPE, dtype="float32") * 3 + 1
    normalized = SHAPE[axis:] if axis >= 0 else SHAPE[axis:]
    inputs = [x, const(rng.standard_normal(normalized, dtype="float32"))]
    if with_bias:
        inputs.append(const(rng.standard_normal(normalized, dtype="float32")))
    check_op("LayerNormalization", inputs, target, {"axis": axis}, opset=17)


def test_layer_norm_all_outputs(target, rng):
    x = rng.standard_normal((4, 129), dtype="float32")
    scale, bias = rng.standard_normal((2, 129), dtype="float32")
    check_op("LayerNormalization", [x, scale, bias], target, {"epsilon": 1e-3}, num_outputs=3)


def test_layer_norm_broadcast_scale(target, rng):
    """Scale [1, 13] and a scalar-like B broadcast over the normalised dims [7, 13]."""
    x = rng.standard_normal(SHAPE, dtype="float32")
    scale = rng.standard_normal((1, 13), dtype="float32")
    check_op("LayerNormalization", [x, scale, const(np.array([0.5], "float32"))], target, {"axis": 1})


def test_layer_norm_transformer_shape(target, rng):
    """A BERT-like hidden state: [batch, tokens, 768]."""
    x = rng.standard_normal((2, 33, 768), dtype="float32")
    scale, bias = rng.standard_normal((2, 768), dtype="float32")
    check_op("LayerNormalization", [x, const(scale), const(bias)], target, {"epsilon": 1e-12}, tolerance_scale=10)


def test_layer_norm_offset_rows(target, rng):
    """Rows far from zero (mean 300, deviation 0.5) with a width that leaves a vector tail: the sums
    must keep the small deviations."""
    if target.precision == "float16":
        pytest.skip("float16 holds 300 only to 0.25, coarser than the deviations")
    x = rng.standard_normal((3, 5, 773), dtype="float32") * 0.5 + 300
    scale, bias = rng.standard_normal((2, 773), dtype="float32")
    check_op("LayerNormalization", [x, const(scale), const(bias)], target, tolerance_scale=10)
