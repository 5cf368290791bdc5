"""Unary activations and math, binary ops with NumPy broadcasting, comparisons, Where."""

import numpy as np
import pytest
from onnx import helper

from op_check import NEWEST_OPSET, OPSETS, check_model, check_op, const, make_model

# op: (first opset that has it, input range, attributes)
UNARY_OPS = {
    "Relu": (1, (-3, 3), {}),
    "LeakyRelu": (1, (-3, 3), {"alpha": 0.1}),
    "Sigmoid": (1, (-8, 8), {}),
    "HardSigmoid": (1, (-4, 4), {"alpha": 0.25, "beta": 0.4}),
    "HardSwish": (14, (-5, 5), {}),
    "Tanh": (1, (-4, 4), {}),
    "Erf": (9, (-3, 3), {}),
    "Sqrt": (1, (0, 9), {}),
    "Exp": (1, (-6, 6), {}),
    "Log": (1, (1e-3, 20), {}),
    "Neg": (1, (-3, 3), {}),
    "Abs": (1, (-3, 3), {}),
    "Reciprocal": (1, (0.1, 5), {}),
    "Floor": (1, (-5, 5), {}),
    "Ceil": (1, (-5, 5), {}),
}


def uniform(rng, shape, low, high):
    return rng.uniform(low, high, shape).astype("float32")


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("op_type", UNARY_OPS)
def test_unary(op_type, opset, target, rng):
    since, (low, high), attributes = UNARY_OPS[op_type]
    x = uniform(rng, (2, 7, 13, 3), low, high)
    check_op(op_type, [x], target, attributes, opset=max(opset, since))


@pytest.mark.parametrize("shape", [(), (1,), (129,), (2, 129, 7), (4, 3, 13, 13)])
@pytest.mark.parametrize("op_type", ["Relu", "Sigmoid", "HardSwish", "Exp"])
def test_unary_shapes(op_type, shape, target, rng):
    since, (low, high), attributes = UNARY_OPS[op_type]
    check_op(op_type, [uniform(rng, shape, low, high)], target, attributes)


def test_erf_whole_range(target):
    """Erf on every interval of the cpu's piecewise polynomial, its saturation past 4, signed zeros,
    tiny and infinite inputs, and a tail shorter than one vector."""
    x = np.concatenate([np.linspace(-5, 5, 1001), [0.0, -0.0, 1e-30, -1e-20, 3.999, 4.0, np.inf, -np.inf]])
    check_op("Erf", [x.astype("float32")], target)


@pytest.mark.parametrize("attributes", [{}, {"alpha": 0.3}, {"alpha": 2.0}],
                         ids=["default", "alpha0.3", "alpha2"])
def test_leaky_relu_alpha(attributes, target, rng):
    check_op("LeakyRelu", [uniform(rng, (2, 7, 13), -3, 3)], target, attributes)


# Opset 24 introduced Swish; ONNX Runtime expands its function body only at that opset.
@pytest.mark.parametrize("shape", [(2, 7, 13), (129,), (3, 5, 9, 17)])
@pytest.mark.parametrize("alpha", [None, 0.5, 1.702, -1.0])
def test_swish(alpha, shape, target, rng):
    attributes = {} if alpha is None else {"alpha": alpha}
    check_op("Swish", [uniform(rng, shape, -9, 9)], target, attributes, opset=24)


def test_hard_sigmoid_default_attributes(target, rng):
    check_op("HardSigmoid", [uniform(rng, (2, 7, 13), -6, 6)], target)


@pytest.mark.parametrize("slope_shape", [(7, 1, 1), (13,), (1,), (2, 7, 13, 13), (1, 7, 1, 1)])
def test_prelu(slope_shape, target, rng):
    x = uniform(rng, (2, 7, 13, 13), -3, 3)
    slope = const(uniform(rng, slope_shape, -0.5, 0.5))
    check_op("PRelu", [x, slope], target)


@pytest.mark.parametrize("opset", [6, 10])
@pytest.mark.parametrize("attributes", [{"min": 0.0, "max": 6.0}, {"min": -0.5}, {"max": 0.25}, {}],
                         ids=["relu6", "min_only", "max_only", "no_bounds"])
def test_clip_attributes(attributes, opset, target, rng):
    """Before opset 11 the bounds are attributes."""
    check_op("Clip", [uniform(rng, (2, 7, 13), -8, 8)], target, attributes, opset=opset)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("bounds", [(0.0, 6.0), (-0.5, None), (None, 0.25), (None, None)],
                         ids=["relu6", "min_only", "max_only", "no_bounds"])
def test_clip_inputs(bounds, opset, target, rng):
    """From opset 11 the bounds are optional scalar inputs; an omitted min leaves an empty name."""
    low, high = (None if b is None else const(b, "float32") for b in bounds)
    inputs = [uniform(rng, (2, 7, 13), -8, 8), low, high]
    while inputs[-1] is None:
        inputs.pop()
    check_op("Clip", inputs, target, opset=opset)


@pytest.mark.parametrize("bounds", [(0.0, 6.0), (-0.5, None), (None, 0.25), (2.0, -1.0)],
                         ids=["relu6", "min_only", "max_only", "min_above_max"])
@pytest.mark.parametrize("fed", ["both", "min"])
def test_clip_bounds_fed(bounds, fed, target, rng):
    """Bounds fed at run time (one of them may stay a constant); min > max gives max everywhere."""
    low, high = (None if b is None else np.array(b, dtype="float32") for b in bounds)
    if fed == "min" and high is not None:
        high = const(high)
    x = uniform(rng, (3, 7, 13), -8, 8)
    x[0, 0, :3] = np.nan
    inputs = [x, low, high]
    while inputs[-1] is None:
        inputs.pop()
    check_op("Clip", inputs, target)


# name: (shape of A, shape of B)
BROADCAST_SHAPES = {
    "same": ((2, 7, 13), (2, 7, 13)),
    "scalar": ((2, 7, 13), ()),
    "one": ((2, 7, 13), (1,)),
    "row": ((2, 7, 13), (13,)),
    "column": ((2, 7, 13), (7, 1)),
    "both_ways": ((2, 1, 13), (1, 7, 1)),
    "channel_bias": ((2, 7, 5, 5), (7, 1, 1)),
    "left_smaller": ((5, 5), (2, 7, 5, 5)),
    "left_scalar": ((), (2, 7, 13)),
    "large": ((4, 129, 13), (129, 1)),
}

BINARY_RANGES = {
    "Add": ((-3, 3), (-3, 3)),
    "Sub": ((-3, 3), (-3, 3)),
    "Mul": ((-3, 3), (-3, 3)),
    "Div": ((-3, 3), (0.5, 3)),
    "Pow": ((0.1, 3), (-2, 2)),
    "Min": ((-3, 3), (-3, 3)),
    "Max": ((-3, 3), (-3, 3)),
}


@pytest.mark.parametrize("b_is_constant", [False, True], ids=["input_b", "const_b"])
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES.values(), ids=BROADCAST_SHAPES.keys())
@pytest.mark.parametrize("op_type", BINARY_RANGES)
def test_binary_broadcasting(op_type, shapes, b_is_constant, target, rng):
    (a_low, a_high), (b_low, b_high) = BINARY_RANGES[op_type]
    a = uniform(rng, shapes[0], a_low, a_high)
    b = uniform(rng, shapes[1], b_low, b_high)
    check_op(op_type, [a, const(b) if b_is_constant else b], target)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("op_type", BINARY_RANGES)
def test_binary_opsets(op_type, opset, target, rng):
    (a_low, a_high), (b_low, b_high) = BINARY_RANGES[op_type]
    a = uniform(rng, (2, 7, 13), a_low, a_high)
    b = uniform(rng, (7, 1), b_low, b_high)
    check_op(op_type, [a, b], target, opset=opset)


@pytest.mark.parametrize("exponent", [2.0, 0.5, 3.0, -1.0])
def test_pow_constant_exponent(exponent, target, rng):
    x = uniform(rng, (2, 7, 13), 0.1, 3)
    check_op("Pow", [x, const(exponent, "float32")], target)


@pytest.mark.parametrize("op_type", ["Min", "Max"])
@pytest.mark.parametrize("count", [1, 3])
def test_min_max_variadic(op_type, count, target, rng):
    shapes = [(2, 7, 13), (7, 1), (13,)][:count]
    check_op(op_type, [uniform(rng, shape, -3, 3) for shape in shapes], target)


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div"])
def test_binary_int64(op_type, target, rng):
    """Integer arithmetic as in exported shape computations; Div truncates."""
    a = rng.integers(1, 100, (2, 7, 13)).astype("int64")
    b = rng.integers(1, 9, (13,)).astype("int64")
    check_op(op_type, [a, b], target)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
@pytest.mark.parametrize("shapes", [((2, 7, 13), (2, 7, 13)), ((2, 7, 13), (13,)),
                                    ((2, 1, 13), (7, 1)), ((2, 7, 13), ())],
                         ids=["same", "row", "both_ways", "scalar"])
@pytest.mark.parametrize("op_type", ["Equal", "Less", "Greater"])
def test_comparison(op_type, shapes, dtype, target, rng):
    """Small integers so that equal elements occur often."""
    a = rng.integers(-3, 3, shapes[0]).astype(dtype)
    b = rng.integers(-3, 3, shapes[1]).astype(dtype)
    check_op(op_type, [a, b], target)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("op_type", ["Equal", "Less", "Greater"])
def test_comparison_opsets(op_type, opset, target, rng):
    a = rng.integers(-3, 3, (2, 7, 13)).astype("float32")
    b = const(rng.integers(-3, 3, (13,)).astype("float32"))
    check_op(op_type, [a, b], target, opset=opset)


# name: (condition shape, X shape, Y shape)
WHERE_SHAPES = {
    "same": ((2, 7, 13), (2, 7, 13), (2, 7, 13)),
    "condition_row": ((13,), (2, 7, 13), (2, 7, 13)),
    "scalar_y": ((2, 7, 13), (2, 7, 13), ()),
    "all_broadcast": ((2, 1, 13), (7, 1), (1, 13)),
}


@pytest.mark.parametrize("opset", [11, NEWEST_OPSET])
@pytest.mark.parametrize("shapes", WHERE_SHAPES.values(), ids=WHERE_SHAPES.keys())
def test_where(shapes, opset, target, rng):
    condition = rng.random(shapes[0]) < 0.5
    x = uniform(rng, shapes[1], -3, 3)
    y = uniform(rng, shapes[2], -3, 3)
    check_op("Where", [condition, x, y], target, opset=opset)


def test_where_from_comparison(target, rng):
    """Where fed by Less, the usual masking pattern, checked against NumPy too."""
    nodes = [helper.make_node("Less", ["x", "limit"], ["mask"]),
             helper.make_node("Where", ["mask", "x", "fill"], ["y"])]
    x = uniform(rng, (2, 7, 13), -3, 3)
    values = {"x": x, "limit": const(0.5, "float32"), "fill": const(-1.0, "float32")}
    model, feeds = make_model(nodes, values, ["y"])
    outputs = check_model(model, feeds, target)
    if target.precision == "float32":  # float16 rounds x, which check_model allows for
        np.testing.assert_array_equal(outputs["y"], np.where(x < 0.5, x, np.float32(-1)))


# op: (first opset that has it, input range, attribute variants)
ACTIVATIONS = {
    "Sin": (7, (-7, 7), [{}]),
    "Cos": (7, (-7, 7), [{}]),
    "Softplus": (1, (-20, 20), [{}]),
    "Mish": (18, (-20, 20), [{}]),
    "Elu": (6, (-4, 4), [{}, {"alpha": 0.5}]),
    "Selu": (6, (-4, 4), [{}, {"alpha": 1.5, "gamma": 2.0}]),
    "Gelu": (20, (-6, 6), [{}, {"approximate": "tanh"}]),
}


@pytest.mark.parametrize("variant", [0, 1], ids=["default", "attributes"])
@pytest.mark.parametrize("opset", [11, NEWEST_OPSET])
@pytest.mark.parametrize("op_type", ACTIVATIONS)
def test_activation(op_type, opset, variant, target, rng):
    since, (low, high), variants = ACTIVATIONS[op_type]
    if variant >= len(variants):
        pytest.skip(f"{op_type} has no attributes")
    x = uniform(rng, (3, 7, 13), low, high)
    check_op(op_type, [x], target, variants[variant], opset=max(opset, since))


def special_values(rng, shape):
    """Finite values with NaN and both infinities mixed in."""
    x = uniform(rng, shape, -3, 3)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=flat.size // 2, replace=False)
    flat[picks[0::3]] = np.nan
    flat[picks[1::3]] = np.inf
    flat[picks[2::3]] = -np.inf
    return x


@pytest.mark.parametrize("opset", [13, NEWEST_OPSET])
def test_isnan(opset, target, rng):
    check_op("IsNaN", [special_values(rng, (3, 7, 13))], target, opset=opset)


@pytest.mark.parametrize("attributes", [{}, {"detect_negative": 0}, {"detect_positive": 0},
                                        {"detect_negative": 0, "detect_positive": 0}],
                         ids=["both", "positive", "negative", "neither"])
def test_isinf(attributes, target, rng):
    check_op("IsInf", [special_values(rng, (3, 7, 13))], target, attributes, opset=10)


@pytest.mark.parametrize("opset", [8, 13, NEWEST_OPSET])
@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize("op_type", ["Sum", "Mean"])
def test_sum_mean_variadic(op_type, count, opset, target, rng):
    shapes = [(3, 7, 13), (7, 1), (13,), (3, 1, 1)][:count]
    check_op(op_type, [uniform(rng, shape, -3, 3) for shape in shapes], target, opset=opset)


def test_sum_broadcast_first_input_smaller(target, rng):
    """The output shape may come from a later input."""
    check_op("Sum", [uniform(rng, (13,), -3, 3), uniform(rng, (3, 7, 13), -3, 3)], target)


@pytest.mark.parametrize("exponent_dtype", ["int32", "int64"])
@pytest.mark.parametrize("shapes", [((3, 7, 13), ()), ((3, 7, 13), (13,)), ((3, 7, 13), (3, 7, 13))],
                         ids=["scalar", "row", "same"])
@pytest.mark.parametrize("constant", [False, True], ids=["input", "const"])
def test_pow_integer_exponent(exponent_dtype, shapes, constant, target, rng):
    """Each input is read as its own dtype: a float base with an int32/int64 exponent."""
    # |x| >= 0.5 keeps x ** -2 within float16's range.
    x = uniform(rng, shapes[0], 0.5, 2) * rng.choice([-1, 1], shapes[0]).astype("float32")
    exponent = rng.integers(-2, 4, shapes[1]).astype(exponent_dtype)
    check_op("Pow", [x, const(exponent) if constant else exponent], target)
