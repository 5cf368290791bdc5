"""NonZero: every dtype it accepts, ranks 0 to 4, odd sizes, all and no elements nonzero, -0.0 and NaN;
the output's column count is known only after the kernel has run."""

import metalnn
import numpy as np
import pytest

from op_check import TARGETS, check_op, make_op_model

pytestmark = pytest.mark.parametrize("target", TARGETS, ids=str)

DTYPES = ["float32", "float16", "int64", "int32", "int8", "uint8", "bool"]


def sparse(rng, shape, dtype, density=0.3):
    """Random values of `dtype` with about `density` of them nonzero."""
    values = rng.integers(1, 5, shape) * (rng.random(shape) < density)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(13,), (3, 7), (2, 5, 129), (2, 1, 3, 5)], ids=str)
def test_nonzero(shape, dtype, target, rng):
    x = sparse(rng, shape, dtype)
    if dtype != "int8":
        check_op("NonZero", [x], target)
        return
    # ONNX Runtime has no int8 NonZero: NumPy is the reference.
    model, feeds = make_op_model("NonZero", [x])
    actual = metalnn.load(model, device=target.device, precision=target.precision).run(feeds)["output0"]
    np.testing.assert_array_equal(actual, np.array(np.nonzero(x), dtype="int64"))


@pytest.mark.parametrize("fill", [0, 1])
def test_nonzero_none_or_all(fill, target):
    check_op("NonZero", [np.full((3, 5, 7), fill, dtype="float32")], target)


def test_nonzero_scalar_and_empty(target):
    check_op("NonZero", [np.array(3, dtype="int64")], target)
    check_op("NonZero", [np.array(0, dtype="int64")], target)
    check_op("NonZero", [np.zeros((2, 0, 3), dtype="int32")], target)


def test_nonzero_signed_zero_and_nan(target):
    x = np.array([[0.0, -0.0, np.nan], [1e-30, -2.0, 0.0]], dtype="float32")
    if target.precision == "float16":
        x[1, 0] = 1e-3  # 1e-30 is zero in half
    check_op("NonZero", [x], target)


def test_nonzero_large(target, rng):
    """More elements than the kernel's threads, so chunks of several elements each."""
    check_op("NonZero", [sparse(rng, (3, 1031), "float32", 0.05)], target)
