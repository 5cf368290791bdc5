"""LessOrEqual / GreaterOrEqual (bool out, broadcasting), And / Or / Xor / Not on bool, and Mod."""

import pytest

from op_check import CPU_TARGETS, OPSETS, check_op, const

SHAPES = [((2, 7, 13), (2, 7, 13)), ((2, 7, 13), (13,)), ((7, 1), (1, 13)), ((), (3, 5))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int64", "int32"])
@pytest.mark.parametrize("op_type", ["LessOrEqual", "GreaterOrEqual"])
def test_ordered_comparison(op_type, dtype, shapes, target, rng):
    """Small integers make equal pairs common, so the 'or equal' half is exercised."""
    a, b = (rng.integers(-3, 4, s).astype(dtype) for s in shapes)
    check_op(op_type, [a, b], target, opset=max(OPSETS[-1], 16))


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("op_type", ["And", "Or", "Xor"])
def test_logical_binary(op_type, shapes, target, rng):
    a, b = (rng.integers(0, 2, s).astype(bool) for s in shapes)
    check_op(op_type, [a, b], target)


def test_logical_constant_operand(target, rng):
    check_op("And", [rng.integers(0, 2, (3, 129)).astype(bool), const(rng.integers(0, 2, (129,)).astype(bool))], target)


@pytest.mark.parametrize("shape", [(), (129,), (2, 7, 13)], ids=str)
def test_not(shape, target, rng):
    check_op("Not", [rng.integers(0, 2, shape).astype(bool)], target)


@pytest.mark.parametrize("opset", [o for o in OPSETS if o >= 13])
@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_mod_integers(dtype, fmod, opset, target, rng):
    """Every sign combination: fmod=0 follows the divisor's sign, fmod=1 the dividend's."""
    a = rng.integers(-20, 21, (7, 13)).astype(dtype)
    b = rng.integers(1, 6, (13,)).astype(dtype) * rng.choice([-1, 1], 13).astype(dtype)
    check_op("Mod", [a, b], target, {"fmod": fmod}, opset=opset)


def float_operands(rng, shapes):
    a = rng.uniform(-10, 10, shapes[0]).astype("float32")
    b = (rng.uniform(0.5, 3, shapes[1]) * rng.choice([-1, 1], shapes[1])).astype("float32")
    return a, b


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_fmod_float(shapes, target, rng):
    check_op("Mod", list(float_operands(rng, shapes)), target, {"fmod": 1})


@pytest.mark.parametrize("target", CPU_TARGETS, ids=str)  # metal-sim has no float Mod with fmod=0 yet
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_mod_float(shapes, target, rng):
    """fmod=0 on floats is NumPy's mod (valid since opset 28, the newest the tests use)."""
    check_op("Mod", list(float_operands(rng, shapes)), target, {"fmod": 0})
