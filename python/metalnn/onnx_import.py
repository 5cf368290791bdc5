"""Builds the engine's Graph from an ONNX model.

Every node is read with the op version in force (the newest not above the model's opset) and
rewritten to the newest form of its op, so the C++ schemas know one form per op.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper

from . import _native, onnx_file, qlinear
from .errors import Error, ModelError, UnsupportedOpError

_DEFAULT_DOMAINS = ("", "ai.onnx")
# Ops of other domains the engine implements: (domain, op type). Their nodes keep the op type as the
# engine's op name; ONNX has no schema for them, so the engine's schema checks their inputs.
_CONTRIB_OPS = {("com.microsoft", "MatMulNBits"), ("com.microsoft", "GatherBlockQuantized")}
_FOUR_BIT = {onnx.TensorProto.INT4: True, onnx.TensorProto.UINT4: False}  # -> signed


def _c_order(array) -> np.ndarray:
    """A C-contiguous array over the same data when possible; keeps 0-d arrays 0-d."""
    return np.asarray(array, order="C")


def read_model(source: Any, lean: bool = False) -> onnx.ModelProto:
    """Returns a ModelProto from a path, bytes or a ModelProto; raises ModelError when it cannot be parsed.

    With `lean`, a file's weights stay on disk as external-data references (onnx_file.read_lean) for
    the importer to read once, given the file's directory; otherwise external data is loaded here.
    """
    if isinstance(source, onnx.ModelProto):
        return source
    if not isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)):
        raise TypeError(f"cannot load a model from {type(source).__name__}; expected a path, bytes or onnx.ModelProto")
    model = None
    if lean and not isinstance(source, (bytes, bytearray, memoryview)):
        try:
            model = onnx_file.read_lean(source)
        except OSError:
            raise
        except Exception:  # not well-formed: the ordinary parse below reports it
            model = None
    if model is None:
        base_dir = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        else:
            with open(os.fspath(source), "rb") as f:  # an OSError about the file itself is the caller's
                data = f.read()
            base_dir = os.path.dirname(os.fspath(source))
        try:
            model = onnx.load_model_from_string(data)
            del data
            if base_dir is not None and not lean:
                onnx.external_data_helper.load_external_data_for_model(model, base_dir)
        except Exception as exc:  # protobuf raises its own DecodeError and sometimes RuntimeError; onnx raises
            # TypeError, ValueError or OSError for external data a corrupt model names wrongly
            raise ModelError(f"not a valid ONNX model: {exc}") from exc
    if not model.HasField("graph") or not model.graph.node:
        raise ModelError("not a valid ONNX model: it has no graph or the graph has no nodes (truncated file?)")
    return model


def default_opset(model: onnx.ModelProto) -> int:
    """The version of the default ONNX opset the model imports."""
    for entry in model.opset_import:
        if entry.domain in _DEFAULT_DOMAINS:
            return entry.version
    raise ModelError("the model does not import the default ONNX opset")


def node_version(op_type: str, opset: int) -> int:
    """The version of `op_type` in force at `opset` (0 when ONNX has no such op)."""
    try:
        return onnx.defs.get_schema(op_type, max_inclusive_version=opset, domain="").since_version
    except Exception:
        return 0


# OpSchema's attribute types -> AttributeProto's (the same names).
_SCHEMA_ATTR_TYPES = {getattr(onnx.defs.OpSchema.AttrType, name): value
                      for name, value in onnx.AttributeProto.AttributeType.items()
                      if hasattr(onnx.defs.OpSchema.AttrType, name)}


def _declared_attribute_types(op_type: str, opset: int) -> dict[str, int]:
    """Attribute name -> AttributeProto type, as ONNX declares them for `op_type` at `opset`."""
    try:
        schema = onnx.defs.get_schema(op_type, max_inclusive_version=opset, domain="")
    except onnx.defs.SchemaError:
        return {}
    return {name: _SCHEMA_ATTR_TYPES[attr.type] for name, attr in schema.attributes.items()
            if attr.type in _SCHEMA_ATTR_TYPES}


def _attribute_type_name(kind: int) -> str:
    try:
        return onnx.AttributeProto.AttributeType.Name(kind)
    except ValueError:
        return f"type {kind}"


def _attributes(node: onnx.NodeProto, opset: int, base_dir: str | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    declared = _declared_attribute_types(node.op_type, opset)
    for attr in node.attribute:
        where = f"{node.op_type} '{node.name}': attribute '{attr.name}'"
        if attr.ref_attr_name:
            raise ModelError(f"{where} refers to function attribute '{attr.ref_attr_name}', "
                             "which only a function body may do")
        if attr.type == onnx.AttributeProto.GRAPHS:
            raise UnsupportedOpError(f"{node.op_type} '{node.name}': graph-list attribute '{attr.name}' is not supported")
        if attr.name in attrs:
            raise ModelError(f"{where} is given twice")
        if attr.type == onnx.AttributeProto.UNDEFINED:
            raise ModelError(f"{where} has no type")
        expected = declared.get(attr.name)
        if expected is not None and attr.type != expected:
            raise ModelError(f"{where} is {_attribute_type_name(attr.type)}, expected "
                             f"{_attribute_type_name(expected)}")
        # The onnx package reports malformed attributes (no type, a tensor whose data does not fill its
        # dims) as ValueError / TypeError; they are the model's fault.
        try:
            value = helper.get_attribute_value(attr)
            if isinstance(value, onnx.TensorProto):
                # External data is read only from beside the model file, never from the working directory.
                value = onnx_file.tensor_array(value, base_dir)
        except (ValueError, TypeError, KeyError) as exc:  # KeyError: a tensor of an unknown data type
            raise ModelError(f"{where} is malformed: {exc!s}") from exc
        if isinstance(value, list) and value and isinstance(value[0], onnx.TensorProto):
            raise UnsupportedOpError(f"{node.op_type} '{node.name}': tensor-list attribute '{attr.name}'")
        attrs[attr.name] = value
    return attrs


_FLOAT16 = onnx.TensorProto.FLOAT16
_FLOAT = onnx.TensorProto.FLOAT


def _widen_float16(array: np.ndarray) -> np.ndarray:
    """float16 constants become float32: models stored in float16 compute in float32 (or in the GPU's
    float16 precision), with casts at the graph's float16 inputs and outputs."""
    return array.astype(np.float32) if array.dtype == np.float16 else array


# Sub-graphs nest no deeper than this (an exporter's nesting is a handful of levels).
MAX_SUBGRAPH_DEPTH = 32


class _Importer:
    def __init__(self, model: onnx.ModelProto, depth: int = 0, base_dir: str | None = None):
        self.model = model
        self.base_dir = base_dir  # where external data is read from (None: a model given as bytes)
        self.opset = default_opset(model)
        self.graph = _native.Graph()
        self.depth = depth
        self.constant_count = 0
        # float16 graph inputs and outputs -> the float32 value the graph computes with
        self.renamed: dict[str, str] = {}
        # int4 / uint4 initializers, kept as flat packed bytes: name -> (logical shape, signed)
        self.four_bit: dict[str, tuple[list[int], bool]] = {}

    def constant(self, base: str, array: np.ndarray) -> str:
        self.constant_count += 1
        name = f"{base}__const{self.constant_count}"
        self.graph.add_initializer(name, _c_order(array))
        return name

    def run(self) -> _native.Graph:
        g = self.model.graph
        self.check_supported()
        initializer_names = set()
        for init in g.initializer:
            initializer_names.add(init.name)
            if init.data_type in _FOUR_BIT:
                self.add_four_bit(init)
                continue
            array = self.tensor_array(init)
            self.graph.add_initializer(init.name, _c_order(_widen_float16(array)))
        for out in g.output:
            if out.type.tensor_type.elem_type == _FLOAT16 and out.name not in initializer_names:
                self.renamed[out.name] = f"{out.name}__float32"
        for inp in g.input:
            if inp.name in initializer_names:
                continue
            tensor_type = inp.type.tensor_type
            if not inp.type.HasField("tensor_type"):
                raise UnsupportedOpError(f"input '{inp.name}' is not a tensor")
            shape = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim]
            try:
                self.graph.add_input(inp.name, tensor_type.elem_type, shape)
            except Exception as exc:
                reader = next((n for n in g.node if inp.name in n.input), None)
                read_by = f" (read by {reader.op_type} '{reader.name}')" if reader is not None else ""
                raise type(exc)(f"input '{inp.name}'{read_by}: {exc}") from exc
            if tensor_type.elem_type == _FLOAT16:
                widened = self.renamed.setdefault(inp.name, f"{inp.name}__float32")
                self.graph.add_node("Cast", f"{inp.name}.to_float32", [inp.name], [widened], {"to": _FLOAT})
        if not g.output:
            raise ModelError("the graph has no outputs")
        for index, node in enumerate(g.node):
            self.add_node(index, node)
        for out in g.output:
            if out.name in self.renamed and out.type.tensor_type.elem_type == _FLOAT16:
                self.graph.add_node("Cast", f"{out.name}.to_float16", [self.renamed[out.name]], [out.name],
                                    {"to": _FLOAT16})
            self.graph.add_output(out.name, out.type.tensor_type.elem_type)
        return self.graph

    def add_four_bit(self, init: onnx.TensorProto) -> None:
        """An int4 / uint4 initializer as uint8 bytes holding two codes each, low nibble first."""
        codes = self.tensor_array(init).astype(np.int8).ravel()
        codes = np.append(codes, np.int8(0)) if codes.size % 2 else codes
        nibbles = codes.view(np.uint8) & 0x0F
        self.graph.add_initializer(init.name, np.ascontiguousarray(nibbles[0::2] | (nibbles[1::2] << 4)))
        self.four_bit[init.name] = (list(init.dims), init.data_type == onnx.TensorProto.INT4)

    def initializer(self, name: str) -> np.ndarray | None:
        """The value of initializer `name`, or None when it is not one."""
        for init in self.model.graph.initializer:
            if init.name == name:
                return self.tensor_array(init)
        return None

    def tensor_array(self, init: onnx.TensorProto) -> np.ndarray:
        """An initializer's value (read from disk now when it is external data); ModelError if corrupt."""
        try:
            return onnx_file.tensor_array(init, self.base_dir)
        except Exception as exc:
            raise ModelError(f"initializer '{init.name}' is corrupt: {exc}") from exc

    def declared_rank(self, name: str) -> int | None:
        """The rank ONNX declares for value `name` (graph input, output or value_info), if any."""
        g = self.model.graph
        for info in (*g.input, *g.value_info, *g.output):
            if info.name == name and info.type.tensor_type.HasField("shape"):
                return len(info.type.tensor_type.shape.dim)
        return None

    def check_supported(self) -> None:
        missing = unsupported_nodes(self.model)
        if missing:
            raise UnsupportedOpError(f"{len(missing)} unsupported node(s): " + ", ".join(missing))

    def add_node(self, index: int, node: onnx.NodeProto) -> None:
        name = node.name or f"{node.op_type}_{index}"
        attrs = {key: _widen_float16(value) if isinstance(value, np.ndarray) else value
                 for key, value in _attributes(node, self.opset, self.base_dir).items()}
        if node.op_type == "Cast" and attrs.get("to") == _FLOAT16:
            attrs["to"] = _FLOAT
        inputs = [self.renamed.get(v, v) for v in node.input]
        outputs = [self.renamed.get(v, v) for v in node.output]
        four_bit = [v for v in node.input if v in self.four_bit]
        if four_bit and node.op_type != "GatherBlockQuantized":
            raise UnsupportedOpError(f"{node.op_type} '{name}': input '{four_bit[0]}' is int4 / uint4, which only "
                                     "GatherBlockQuantized reads")
        if node.domain not in _DEFAULT_DOMAINS:  # unsupported_nodes let through only what is listed or lowered
            if qlinear.lowers(node.domain, node.op_type):
                qlinear.lower(self, node.domain, node.op_type, name, inputs, outputs, attrs)
                return
            upgrade = _CONTRIB_UPGRADES.get(node.op_type)
            if upgrade is not None:
                inputs, attrs = upgrade(self, name, inputs, attrs)
            self.graph.add_node(node.op_type, name, inputs, outputs, attrs)
            return
        version = node_version(node.op_type, self.opset)
        if version == 0:
            raise ModelError(f"{node.op_type} '{name}': the model declares opset {self.opset}, "
                             f"where ONNX has no {node.op_type} yet")
        check_arity(node, name, self.opset)
        if node.op_type == "Constant":
            self.graph.add_initializer(outputs[0], _c_order(_widen_float16(_constant_value(name, attrs))))
            return
        if node.op_type in _SUBGRAPH_OPS:
            inputs, attrs = self.subgraph_node(node, name, inputs, attrs)
        if qlinear.lowers(node.domain, node.op_type):
            qlinear.lower(self, node.domain, node.op_type, name, inputs, outputs, attrs)
            return
        if node.op_type == "QuantizeLinear":
            qlinear.note_quantize_linear(self, inputs, outputs)
        elif qlinear.lower_on_quantized(self, node.op_type, name, inputs, outputs, attrs):
            return
        upgrade = _UPGRADES.get(node.op_type)
        if upgrade is not None:
            try:
                inputs, attrs = upgrade(self, name, version, inputs, attrs)
            except Error:
                raise
            except (ValueError, TypeError, IndexError, ArithmeticError) as exc:  # an older form's attribute of the wrong kind
                raise ModelError(f"{node.op_type} '{name}' (opset {version} form): {exc!s}") from exc
        self.graph.add_node(node.op_type, name, inputs, outputs, attrs)


    def subgraph_node(self, node: onnx.NodeProto, name: str, inputs: list, attrs: dict):
        """Builds the sub-graphs of an If or Loop; every value they read from an enclosing scope
        becomes an input of the node (after its own) and of each sub-graph (after its formal inputs)."""
        label = f"{node.op_type} '{name}'"
        keys = _SUBGRAPH_OPS[node.op_type]
        for key in keys:
            if not isinstance(attrs.get(key), onnx.GraphProto):
                raise ModelError(f"{label}: sub-graph attribute '{key}' is missing")
        if self.depth + 1 > MAX_SUBGRAPH_DEPTH:
            raise ModelError(f"{label}: sub-graphs nest deeper than {MAX_SUBGRAPH_DEPTH} levels")
        captured: list[str] = []
        for key in keys:
            for v in _free_names(attrs[key]):
                if v not in captured:
                    captured.append(v)
        for key in keys:
            sub = attrs[key]
            if node.op_type == "If" and len(sub.input):
                raise ModelError(f"{label}: {key} declares {len(sub.input)} inputs, an If branch takes none")
            child = _Importer(self.model, self.depth + 1, self.base_dir)
            try:
                attrs[key] = child.build_subgraph(sub, captured)
            except Error as exc:
                raise type(exc)(f"{label}: {key}: {exc}") from exc
        if node.op_type == "Loop":
            attrs["_captured"] = len(captured)
        return list(inputs) + [self.renamed.get(v, v) for v in captured], attrs

    def build_subgraph(self, sub: onnx.GraphProto, captured: list[str]) -> _native.Graph:
        for inp in sub.input:
            self.graph.add_subgraph_input(inp.name)
        for v in captured:
            self.graph.add_subgraph_input(v)
        for init in sub.initializer:
            self.graph.add_initializer(init.name, _c_order(_widen_float16(self.tensor_array(init))))
        for index, inner in enumerate(sub.node):
            self.add_node(index, inner)
        if not sub.output:
            raise ModelError("the sub-graph has no outputs")
        for out in sub.output:
            self.graph.add_output(out.name, out.type.tensor_type.elem_type)
        return self.graph


# The sub-graph attributes of each op that has them, in the order the node's inputs list them.
_SUBGRAPH_OPS = {"If": ("then_branch", "else_branch"), "Loop": ("body",)}


def _free_names(graph: onnx.GraphProto) -> list[str]:
    """Names `graph` (or a sub-graph inside it) reads but does not define, in order of first use."""
    defined = {v.name for v in graph.input} | {i.name for i in graph.initializer}
    free: list[str] = []

    def use(name: str) -> None:
        if name and name not in defined and name not in free:
            free.append(name)

    for node in graph.node:
        for v in node.input:
            use(v)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                for v in _free_names(attr.g):
                    use(v)
        defined.update(v for v in node.output if v)
    for out in graph.output:
        use(out.name)
    return free


def check_arity(node: onnx.NodeProto, name: str, opset: int) -> None:
    """Raises ModelError unless the node's input and output counts fit its op at the model's opset.

    An older form given a newer form's inputs (Clip with min and max inputs at opset 6) would
    otherwise lose them silently; ONNX Runtime refuses such models too.
    """
    try:
        schema = onnx.defs.get_schema(node.op_type, max_inclusive_version=opset, domain="")
    except onnx.defs.SchemaError:
        return  # no such op at this opset: the supported-op check reports it
    # Trailing empty names are omitted optional inputs / outputs.
    inputs = len(node.input)
    while inputs and not node.input[inputs - 1]:
        inputs -= 1
    outputs = len(node.output)
    while outputs and not node.output[outputs - 1]:
        outputs -= 1
    label = f"{node.op_type} '{name}'"
    required = sum(1 for p in schema.inputs if p.option == onnx.defs.OpSchema.FormalParameterOption.Single)
    if not schema.min_input <= inputs <= schema.max_input:
        raise ModelError(f"{label}: has {inputs} inputs, but {node.op_type} of opset {schema.since_version} "
                         f"(in force at the model's opset {opset}) takes {schema.min_input} to {schema.max_input}")
    for i in range(min(required, inputs)):
        if not node.input[i] and schema.inputs[i].option == onnx.defs.OpSchema.FormalParameterOption.Single:
            raise ModelError(f"{label}: required input {i} ('{schema.inputs[i].name}') is empty")
    if not 1 <= outputs <= schema.max_output or outputs < schema.min_output:
        raise ModelError(f"{label}: has {outputs} outputs, but {node.op_type} of opset {schema.since_version} "
                         f"takes {schema.min_output} to {schema.max_output}")


def _constant_value(name: str, attrs: dict[str, Any]) -> np.ndarray:
    if "value" in attrs:
        return np.asarray(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    raise UnsupportedOpError(f"Constant '{name}': only tensor, float(s) and int(s) values are supported")


def _attr_to_input(position: int, key: str, dtype: Any, min_version: int) -> Callable:
    """An upgrade that moves attribute `key` to input `position` for versions below `min_version`."""

    def upgrade(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
        if version < min_version and key in attrs:
            value = np.asarray(attrs.pop(key), dtype=dtype)
            inputs = inputs + [""] * (position + 1 - len(inputs))
            inputs[position] = imp.constant(f"{name}.{key}", value)
        return inputs, attrs

    return upgrade


def _upgrade_clip(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    if version < 11:
        lo = attrs.pop("min", np.finfo(np.float32).min)
        hi = attrs.pop("max", np.finfo(np.float32).max)
        inputs = [inputs[0], imp.constant(f"{name}.min", np.array(lo, np.float32)),
                  imp.constant(f"{name}.max", np.array(hi, np.float32))]
    return inputs, attrs


def _upgrade_softmax(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    if version < 13:
        attrs.setdefault("axis", 1)
        attrs["_coerce_2d"] = 1
    return inputs, attrs


def _upgrade_prelu(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    # Before opset 7 a 1-D slope of C values applies per channel (axis 1), not along the last axis.
    slope = imp.initializer(inputs[1]) if version < 7 else None
    if slope is not None and slope.ndim == 1 and slope.size > 1:
        rank = imp.declared_rank(inputs[0])
        if rank is None:
            raise UnsupportedOpError(f"PRelu '{name}': opset {version} per-channel slope needs X's rank declared")
        inputs = [inputs[0], imp.constant(f"{name}.slope", slope.reshape((-1,) + (1,) * (rank - 2)))]
    return inputs, attrs


def _upgrade_resize(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    # Resize-10 took (X, scales) with Upsample's geometry: asymmetric coordinates, nearest rounding down.
    if version < 11:
        inputs = [inputs[0], "", inputs[1]]
        attrs["coordinate_transformation_mode"] = "asymmetric"
        attrs["nearest_mode"] = "floor"
    return inputs, attrs


def _upgrade_roi_align(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    # RoiAlign-10 had no coordinate_transformation_mode and did not shift the box by half a pixel.
    if version < 16:
        attrs["coordinate_transformation_mode"] = "output_half_pixel"
    return inputs, attrs


def _upgrade_pad(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    if version < 11:
        pads = attrs.pop("pads", [])
        value = attrs.pop("value", 0.0)
        inputs = [inputs[0], imp.constant(f"{name}.pads", np.array(pads, np.int64)),
                  imp.constant(f"{name}.value", np.array(value, np.float32))]
    return inputs, attrs


def _upgrade_slice(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    if version < 10:
        new_inputs = [inputs[0]]
        for key in ("starts", "ends", "axes"):
            if key in attrs:
                new_inputs.append(imp.constant(f"{name}.{key}", np.array(attrs.pop(key), np.int64)))
        inputs = new_inputs
    return inputs, attrs


def _upgrade_group_norm(imp: _Importer, name: str, version: int, inputs: list, attrs: dict):
    # GroupNormalization-18 takes one scale and bias per group; opset 21 one per channel.
    if version < 21:
        attrs["_per_group_scale"] = 1
    return inputs, attrs


_UPGRADES: dict[str, Callable] = {
    "Clip": _upgrade_clip,
    "Softmax": _upgrade_softmax,
    "LogSoftmax": _upgrade_softmax,
    "Pad": _upgrade_pad,
    "PRelu": _upgrade_prelu,
    "Slice": _upgrade_slice,
    "Resize": _upgrade_resize,
    "RoiAlign": _upgrade_roi_align,
    "TopK": _attr_to_input(1, "k", np.int64, 10),
    "Split": _attr_to_input(1, "split", np.int64, 13),
    "Squeeze": _attr_to_input(1, "axes", np.int64, 13),
    "Unsqueeze": _attr_to_input(1, "axes", np.int64, 13),
    "ReduceSum": _attr_to_input(1, "axes", np.int64, 13),
    "ReduceMean": _attr_to_input(1, "axes", np.int64, 18),
    "ReduceMax": _attr_to_input(1, "axes", np.int64, 18),
    "ReduceMin": _attr_to_input(1, "axes", np.int64, 18),
    "ReduceProd": _attr_to_input(1, "axes", np.int64, 18),
    "ReduceL2": _attr_to_input(1, "axes", np.int64, 18),
    "ReduceLogSumExp": _attr_to_input(1, "axes", np.int64, 18),
    "GroupNormalization": _upgrade_group_norm,
}


def _gather_block_quantized(imp: _Importer, name: str, inputs: list, attrs: dict):
    """int4 / uint4 data reaches the engine as flat packed bytes; `_codes` and `_shape` say how to read them."""
    data = inputs[0] if inputs else ""
    if data in imp.four_bit:
        shape, signed = imp.four_bit[data]
        zero_points = inputs[3] if len(inputs) > 3 else ""
        if zero_points and zero_points not in imp.four_bit:
            raise ModelError(f"GatherBlockQuantized '{name}': zero_points '{zero_points}' must be of data's "
                             "4-bit type")
        attrs["_codes"] = 2 if signed else 1
        attrs["_shape"] = shape
    return inputs, attrs


_CONTRIB_UPGRADES: dict[str, Callable] = {
    "GatherBlockQuantized": _gather_block_quantized,
}


def unsupported_nodes(model: onnx.ModelProto) -> list[str]:
    """Every node of `model` (sub-graphs included) whose op the engine does not implement, as "Op (node 'name')"."""
    supported = set(_native.supported_ops()) | {"Constant"}
    missing: list[str] = []

    def visit(graph: onnx.GraphProto, depth: int) -> None:
        for index, node in enumerate(graph.node):
            name = node.name or f"{node.op_type}_{index}"
            if (node.domain, node.op_type) in _CONTRIB_OPS or qlinear.lowers(node.domain, node.op_type):
                continue
            if node.domain not in _DEFAULT_DOMAINS:
                missing.append(f"{node.domain}.{node.op_type} (node '{name}')")
            elif node.op_type not in supported:
                missing.append(f"{node.op_type} (node '{name}')")
            if depth < MAX_SUBGRAPH_DEPTH:  # deeper nesting is refused by the import itself
                for attr in node.attribute:
                    if attr.type == onnx.AttributeProto.GRAPH:
                        visit(attr.g, depth + 1)

    visit(model.graph, 0)
    return missing


def import_model(model: onnx.ModelProto, base_dir: str | None = None) -> _native.Graph:
    """Translates a parsed ONNX model into the engine's Graph; raises UnsupportedOpError listing every
    unsupported node. External data is read from `base_dir` (the model file's directory)."""
    return _Importer(model, base_dir=base_dir).run()
