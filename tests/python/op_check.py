"""Run small ONNX graphs on every metalnn device and compare with ONNX Runtime.

Op tests build a one-node model with `check_op` (or a small graph with `make_model` and
`check_model`); each run happens on one `Target` (a device and a precision), and the conftest
`target` fixture parametrises a test over all targets usable on this machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper, shape_inference

import metalnn

NEWEST_OPSET = onnx.defs.onnx_opset_version()

# Opsets every op test covers unless the op needs others: the oldest supported, the one where
# many ops moved attributes to inputs, and the newest the onnx package knows.
OPSETS = sorted({11, 13, NEWEST_OPSET})

FLOAT16_DEVICES = ("metal", "metal-sim")


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Allowed error: |actual - ref| <= atol * max(1, max|ref|) + rtol * |ref|."""

    rtol: float
    atol: float

    def scaled(self, factor: float) -> Tolerance:
        """This tolerance loosened by `factor` (for errors that grow with reduction size)."""
        return Tolerance(self.rtol * factor, self.atol * factor)


# float16 stores activations and weights in half (about 3 significant digits) and accumulates
# in float; float32 differs from the reference only by summation order and libm rounding.
TOLERANCES = {
    "float32": Tolerance(rtol=1e-5, atol=1e-5),
    "float16": Tolerance(rtol=1e-2, atol=5e-3),
}


# Step functions jump by 1 where rounding the input to half moves it across an integer (Cast to
# an integer type truncates, so its integer outputs may differ by 1 too).
STEP_OPS = ("Floor", "Ceil", "Cast", "CastLike")
STEP_TOLERANCE = Tolerance(rtol=0.0, atol=1.0)


@dataclasses.dataclass(frozen=True)
class Target:
    """One way to run a model: a metalnn device and a precision."""

    device: str
    precision: str = "float32"

    @property
    def tolerance(self) -> Tolerance:
        """The default tolerance of this target's precision."""
        return TOLERANCES[self.precision]

    def __str__(self) -> str:
        return f"{self.device}-{self.precision}"


# Every device this machine has: `metal` wherever metalnn.devices() lists it, next to metal-sim.
DEVICES = [d for d in ("cpu", "metal", "metal-sim") if d in metalnn.devices()]
GPU_DEVICES = [d for d in DEVICES if d in FLOAT16_DEVICES]
TARGETS = [Target(d) for d in DEVICES] + [
    Target(d, "float16") for d in DEVICES if d in FLOAT16_DEVICES
]
# For tests of ops only the CPU device has kernels for so far (pytestmark overriding `target`).
CPU_TARGETS = [t for t in TARGETS if t.device == "cpu"]


@dataclasses.dataclass(frozen=True)
class Const:
    """An op input stored as an initializer, so the engine sees its value at load time."""

    value: np.ndarray


def const(value: Any, dtype: Any = None) -> Const:
    """Mark `value` as a constant input (shapes, axes, pads, weights...)."""
    return Const(np.asarray(value, dtype=dtype))


Value = np.ndarray | Const


def make_model(
    nodes: Sequence[onnx.NodeProto],
    values: Mapping[str, Value],
    outputs: Sequence[str],
    opset: int = NEWEST_OPSET,
) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Build a model from `nodes`; arrays in `values` become graph inputs, `Const`s initializers.

    Output types and shapes come from ONNX shape inference. Returns the model and its feeds.
    """
    graph_inputs, initializers, feeds = [], [], {}
    for name, value in values.items():
        if isinstance(value, Const):
            initializers.append(numpy_helper.from_array(value.value, name))
        else:
            array = np.asarray(value)
            elem_type = helper.np_dtype_to_tensor_dtype(array.dtype)
            graph_inputs.append(helper.make_tensor_value_info(name, elem_type, array.shape))
            feeds[name] = array
    graph = helper.make_graph(nodes, "test", graph_inputs, [], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    known = {info.name: info for info in inferred.graph.value_info}
    model.graph.output.extend(known[name] for name in outputs)
    onnx.checker.check_model(model)
    return model, feeds


def make_op_model(
    op_type: str,
    inputs: Sequence[Value | None],
    attributes: Mapping[str, Any] | None = None,
    opset: int = NEWEST_OPSET,
    num_outputs: int = 1,
) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Build a one-node model; `None` in `inputs` is an omitted optional input."""
    names = ["" if value is None else f"input{i}" for i, value in enumerate(inputs)]
    values = {name: value for name, value in zip(names, inputs) if value is not None}
    outputs = [f"output{i}" for i in range(num_outputs)]
    node = helper.make_node(
        op_type, names, outputs, name=f"{op_type.lower()}_node", **(attributes or {})
    )
    return make_model([node], values, outputs, opset)


def run_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run `model` with ONNX Runtime's CPU execution provider on one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [output.name for output in model.graph.output]
    return dict(zip(names, session.run(names, dict(feeds))))


def assert_close(
    actual: np.ndarray, expected: np.ndarray, tolerance: Tolerance, what: str = "output"
) -> None:
    """Check shape, dtype and values; non-float outputs must match exactly."""
    assert isinstance(actual, np.ndarray), f"{what}: got {type(actual).__name__}, not an array"
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}")
    assert actual.dtype == expected.dtype, (
        f"{what}: dtype {actual.dtype}, expected {expected.dtype}")
    if not np.issubdtype(expected.dtype, np.floating):
        if tolerance is STEP_TOLERANCE:
            np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance.atol, err_msg=what)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    finite = expected[np.isfinite(expected)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    np.testing.assert_allclose(
        actual, expected, rtol=tolerance.rtol, atol=tolerance.atol * scale, equal_nan=True,
        err_msg=what,
    )


def check_model(
    model: onnx.ModelProto,
    feeds: Mapping[str, np.ndarray],
    target: Target,
    tolerance: Tolerance | None = None,
) -> dict[str, np.ndarray]:
    """Run `model` on `target` and on ONNX Runtime; assert every output matches.

    Also asserts the engine left its inputs untouched. Returns metalnn's outputs.
    """
    expected = run_reference(model, feeds)
    originals = {name: array.copy() for name, array in feeds.items()}
    engine = metalnn.load(model, device=target.device, precision=target.precision)
    actual = engine.run(dict(feeds))
    assert set(actual) == set(expected), f"outputs {sorted(actual)}, expected {sorted(expected)}"
    for name, reference in expected.items():
        assert_close(actual[name], reference, tolerance or target.tolerance, f"{target}: {name}")
    for name, original in originals.items():
        np.testing.assert_array_equal(feeds[name], original, err_msg=f"input {name} was modified")
    return actual


def check_op(
    op_type: str,
    inputs: Sequence[Value | None],
    target: Target,
    attributes: Mapping[str, Any] | None = None,
    opset: int = NEWEST_OPSET,
    num_outputs: int = 1,
    tolerance_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Build a one-node model and check it on `target` against ONNX Runtime."""
    model, feeds = make_op_model(op_type, inputs, attributes, opset, num_outputs)
    tolerance = target.tolerance.scaled(tolerance_scale)
    if target.precision == "float16" and op_type in STEP_OPS:
        tolerance = STEP_TOLERANCE
    return check_model(model, feeds, target, tolerance)


def small_cnn_model(rng: Any, softmax: bool = True):
    """Conv -> Relu -> MaxPool -> Flatten -> Gemm (-> Softmax): dependent dispatches on a GPU device."""
    from onnx import helper

    gemm_out = "g" if softmax else "y"
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fb"], [gemm_out], transB=1),
    ] + ([helper.make_node("Softmax", ["g"], ["y"])] if softmax else [])
    values = {
        "x": rng.standard_normal((2, 3, 8, 8), dtype="float32"),
        "w": const(rng.standard_normal((4, 3, 3, 3), dtype="float32")),
        "b": const(rng.standard_normal(4, dtype="float32")),
        "fc": const(rng.standard_normal((10, 64), dtype="float32")),
        "fb": const(rng.standard_normal(10, dtype="float32")),
    }
    return make_model(nodes, values, ["y"])
