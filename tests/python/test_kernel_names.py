"""Every kernel name a GPU lowering can ask for exists: each op is lowered on metal-sim (float32 and
float16) for every dtype combination the engine's schema accepts, so a lowering that builds a name no
`instantiate_kernel` provides fails here rather than on a user's model.

The graphs are the single-node cases of ONNX's backend suite, one per variant of attributes and
present inputs, retyped to each combination of the op's ONNX type constraints over the dtypes the
engine stores; the cpu device decides which combinations the schema accepts and gives the expected
outputs (compared where the dtypes are exact or float32). A refusal by the GPU lowering must be
listed in GPU_REFUSALS with its reason.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import metalnn
from metalnn import conformance
from metalnn.onnx_backend import _inputs_needing_constant, _runtime_inputs, _with_constants

pytestmark = pytest.mark.skipif("metal-sim" not in metalnn.devices(), reason="needs the metal-sim device")

# ONNX tensor types of the dtypes the engine stores.
ENGINE_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int32)": np.int32,
    "tensor(int64)": np.int64, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(bool)": np.bool_,
}

# What the GPU devices refuse on purpose: op -> the words of its refusal.
GPU_REFUSALS: dict[str, str] = {
    "MatMulInteger": "at float16 precision",  # int32 sums do not survive a float16 model
}

# Ops with no ONNX schema to retype from (the engine's fused quantized ops, ONNX Runtime's com.microsoft
# ops): the named test file runs each dtype combination they accept on metal-sim, so the session's
# kernel-coverage check sees every kernel of theirs dispatched.
OWN_DTYPE_WALK = {
    "QuantizedConv": "test_qfused.py", "QuantizedMatMul": "test_qfused.py", "QuantizedAdd": "test_qfused.py",
    "MatMulNBits": "test_matmul_nbits.py", "GatherBlockQuantized": "test_gather_block_quantized.py",
    "FusedAttention": "test_attention.py",
}

# Casts whose results the standard leaves undefined (NaN, infinities, out-of-range values to integers).
UNDEFINED_FOR_OUT_OF_RANGE = ("Cast", "CastLike")

PRECISIONS = ("float32", "float16")
CAST_TO = "to"  # Cast's target, an attribute, walked like a type variable


def _short(dtype) -> str:
    return np.dtype(dtype).name


def _signature(arrays) -> tuple[str, ...]:
    return tuple("-" if a is None else _short(a.dtype) for a in arrays)


def _formal_types(schema, count: int, outputs: bool = False) -> list[str]:
    """The type string of each of `count` actual inputs (or outputs), the variadic last one repeated."""
    formal = schema.outputs if outputs else schema.inputs
    types = []
    for i in range(count):
        param = formal[min(i, len(formal) - 1)]
        types.append(param.type_str)
    return types


@functools.lru_cache(maxsize=None)
def _all_templates() -> dict[str, list]:
    """op -> (case name, model, inputs) of the single-node cases of ONNX's node suite."""
    found: dict[str, list] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = conformance._load_cases("node", None)
    for case in cases:
        try:
            model = conformance.case_model(case)
            inputs = conformance.case_inputs(case)
        except Exception:  # files absent from this onnx release
            continue
        nodes = model.graph.node
        if len(nodes) != 1 or nodes[0].domain not in ("", "ai.onnx"):
            continue
        try:
            inputs = [numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else np.asarray(x) for x in inputs]
        except Exception:
            continue
        if not all(isinstance(x, np.ndarray) and x.dtype.kind in "fiub" for x in inputs):
            continue  # sequences, strings, the float8 and int4 families
        found.setdefault(nodes[0].op_type, []).append((case.name, model, inputs))
    return found


def _templates(op: str):
    return _all_templates().get(op, [])


def _variant_key(model: onnx.ModelProto) -> tuple:
    node = model.graph.node[0]
    attrs = tuple(sorted((a.name, str(onnx.helper.get_attribute_value(a))) for a in node.attribute))
    initializers = {i.name for i in model.graph.initializer}
    present = tuple(bool(name) for name in node.input)
    constant = tuple(name in initializers for name in node.input)
    return attrs, present, constant


def _retyped(model: onnx.ModelProto, inputs: list[np.ndarray], assignment: dict[str, type]):
    """The model with each type variable of its node's inputs and outputs set to `assignment`, and the
    inputs cast to match (feeds in graph-input order)."""
    node = model.graph.node[0]
    schema = onnx.defs.get_schema(node.op_type, model.opset_import[0].version, "")
    in_types = _formal_types(schema, len(node.input))
    out_types = _formal_types(schema, len(node.output), outputs=True)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    runtime = _runtime_inputs(model)
    feeds = dict(zip(runtime, inputs))
    dtype_of = {}
    for name, type_str in zip(node.input, in_types):
        if name and type_str in assignment:
            dtype_of[name] = assignment[type_str]
    with np.errstate(all="ignore"):
        for name, dtype in dtype_of.items():
            if name in feeds:
                value = np.asarray(feeds[name])
                if node.op_type in UNDEFINED_FOR_OUT_OF_RANGE and value.dtype.kind == "f":
                    value = np.clip(np.nan_to_num(value), 0, 100)
                feeds[name] = value.astype(dtype)
        for init in out.graph.initializer:
            if init.name in dtype_of:
                init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(dtype_of[init.name]), init.name))
    elem = {name: onnx.helper.np_dtype_to_tensor_dtype(np.dtype(d)) for name, d in dtype_of.items()}
    if CAST_TO in assignment:
        to = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(assignment[CAST_TO]))
        for attr in out.graph.node[0].attribute:
            if attr.name == "to":
                attr.i = to
        elem[node.output[0]] = to
    for name, type_str in zip(node.output, out_types):
        if type_str in assignment:
            elem[name] = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(assignment[type_str]))
    for info in itertools.chain(out.graph.input, out.graph.output):
        if info.name in elem:
            info.type.tensor_type.elem_type = elem[info.name]
    return out, [feeds[name] for name in runtime]


def _assignments(model: onnx.ModelProto):
    """Every assignment of engine dtypes to the type variables of the node's present inputs."""
    node = model.graph.node[0]
    schema = onnx.defs.get_schema(node.op_type, model.opset_import[0].version, "")
    allowed = {c.type_param_str: [ENGINE_TYPES[t] for t in c.allowed_type_strs if t in ENGINE_TYPES]
               for c in schema.type_constraints}
    variables = sorted({t for name, t in zip(node.input, _formal_types(schema, len(node.input)))
                        if name and t in allowed})
    if node.op_type == "Cast":  # the output type is the attribute's
        variables.append(CAST_TO)
        allowed[CAST_TO] = list(ENGINE_TYPES.values())
    for combo in itertools.product(*(allowed[v] for v in variables)):
        yield dict(zip(variables, combo))


def _run(model: onnx.ModelProto, inputs: list[np.ndarray], device: str, precision: str = "float32"):
    """Loads (folding the fed values the engine needs as constants, as the ONNX backend does) and runs."""
    feeds = dict(zip(_runtime_inputs(model), inputs))
    folded: set[str] = set()
    while True:
        try:
            engine = metalnn.load(_with_constants(model, {n: feeds[n] for n in folded}),
                                  device=device, precision=precision)
            break
        except metalnn.UnsupportedOpError as exc:
            needed = _inputs_needing_constant(exc, model) - folded
            if not needed:
                raise
            folded |= needed
    outputs = engine.run({info.name: feeds[info.name] for info in engine.inputs})
    return [outputs[info.name] for info in engine.outputs]


def _close(actual, expected, precision: str) -> bool:
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        return False
    if not np.issubdtype(expected.dtype, np.floating):
        return np.array_equal(actual, expected)
    half = precision == "float16" or expected.dtype == np.float16  # float16 outputs round in half
    rtol, atol = (1e-2, 5e-3) if half else (1e-5, 1e-5)
    finite = expected[np.isfinite(expected)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    return bool(np.allclose(actual, expected, rtol=rtol, atol=atol * scale, equal_nan=True))


def _gpu_ops() -> list[str]:
    return sorted(set(metalnn._native.supported_ops()) & set(metalnn._native._gpu_lowered_ops()))


def _has_onnx_schema(op: str) -> bool:
    try:
        onnx.defs.get_schema(op, "")
        return True
    except onnx.defs.SchemaError:
        return False


def test_ops_without_an_onnx_schema_are_walked_by_their_own_tests():
    """Only ops ONNX cannot describe leave the walk below, each to a test file that exercises it."""
    here = Path(__file__).parent
    assert sorted(op for op in _gpu_ops() if not _has_onnx_schema(op)) == sorted(OWN_DTYPE_WALK)
    for op, test_file in OWN_DTYPE_WALK.items():
        text = (here / test_file).read_text()
        assert op in text and ("metal-sim" in text or "target" in text), (op, test_file)


@pytest.mark.parametrize("op", [op for op in _gpu_ops() if op not in OWN_DTYPE_WALK])
def test_every_kernel_name_exists(op):
    missing, refused, wrong, accepted = [], set(), [], 0
    seen = set()
    for case, model, inputs in _templates(op):
        for assignment in _assignments(model):
            retyped, feeds = _retyped(model, inputs, assignment)
            key = (_variant_key(retyped), _signature(feeds + [numpy_helper.to_array(i) for i in retyped.graph.initializer]))
            if key in seen:
                continue
            seen.add(key)
            try:
                with np.errstate(all="ignore"):
                    expected = _run(retyped, feeds, "cpu")
            except metalnn.Error:
                continue  # the schema (or the cpu device) refuses this combination
            accepted += 1
            signature = tuple(_short(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)))
                              for i in retyped.graph.input)
            for precision in PRECISIONS:
                try:
                    actual = _run(retyped, feeds, "metal-sim", precision)
                except metalnn.DeviceError as exc:
                    if "no kernel named" not in str(exc):
                        raise
                    missing.append(f"{case} {signature} {precision}: {exc}")
                    continue
                except metalnn.UnsupportedOpError as exc:
                    if op not in GPU_REFUSALS or GPU_REFUSALS[op] not in str(exc):
                        refused.add((signature, precision, str(exc).split(": ", 1)[-1]))
                    continue
                if precision == "float32" or all(not np.issubdtype(e.dtype, np.floating) for e in expected):
                    if not all(_close(a, e, precision) for a, e in zip(actual, expected)):
                        wrong.append(f"{case} {signature} {precision}")
    assert accepted, f"{op}: no ONNX backend case to retype"
    assert not missing, "kernels no metal/*.metal instantiates:\n" + "\n".join(missing)
    assert not refused, f"{op}: the GPU lowering refuses dtypes the schema accepts: {sorted(refused)}"
    assert not wrong, f"{op}: metal-sim differs from cpu:\n" + "\n".join(wrong)
