"""metalnn as an ONNX backend (`onnx.backend.base.Backend`), so ONNX's own conformance suite can drive it.

`backend_for("metal-sim")` gives a backend class that runs every model on that device.

The engine plans memory at load time, so inputs that decide shapes (Reshape's shape, Slice's starts,
reduction axes, pads...) must be constants. A deployed model has them as initializers or folded shape
arithmetic; the ONNX test cases feed them as graph inputs. For the graph inputs a value the engine
asks to be constant depends on, the backend compiles the model at run time with the fed values folded in.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep

from . import load
from .errors import UnsupportedOpError
from .model import Model
from .onnx_import import _free_names

# How InferContext::require_constant names the value it needs as a constant.
_NEEDS_CONSTANT = re.compile(r"\('([^']+)'\) must be a constant")


def _runtime_inputs(model: onnx.ModelProto) -> list[str]:
    initializers = {init.name for init in model.graph.initializer}
    return [inp.name for inp in model.graph.input if inp.name not in initializers]


def _inputs_needing_constant(exc: UnsupportedOpError, model: onnx.ModelProto) -> set[str]:
    """The graph inputs whose values decide the value the engine asked to be a constant (empty when
    `exc` is about something else). Shape and Size read only their input's shape, which is static."""
    match = _NEEDS_CONSTANT.search(str(exc))
    if not match:
        return set()
    producers = {out: node for node in model.graph.node for out in node.output}
    # An If or Loop reads the values its sub-graphs capture too; a value inlined from a sub-graph is
    # named after its node ("node/then/value") and depends on what the node reads.
    reads = {id(node): list(node.input) + [v for a in node.attribute if a.type == onnx.AttributeProto.GRAPH
                                           for v in _free_names(a.g)] for node in model.graph.node}
    with_subgraphs = [(node.name or f"{node.op_type}_{index}", node) for index, node in enumerate(model.graph.node)
                      if any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute)]
    runtime = set(_runtime_inputs(model))
    found, pending, seen = set(), [match.group(1)], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in runtime:
            found.add(name)
        elif name in producers and producers[name].op_type not in ("Shape", "Size"):
            pending.extend(reads[id(producers[name])])
        else:
            pending.extend(v for label, node in with_subgraphs if name.startswith(label + "/") for v in reads[id(node)])
    return found


def _with_constants(model: onnx.ModelProto, values: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of `model` in which the graph inputs named in `values` are initializers holding them."""
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    kept = [inp for inp in folded.graph.input if inp.name not in values]
    del folded.graph.input[:]
    folded.graph.input.extend(kept)
    folded.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), name) for name, v in values.items())
    return folded


class MetalnnRep(BackendRep):
    """A prepared model; `run` takes inputs in graph order (or by name) and returns outputs in graph order.

    `model` is None when some graph inputs must be constants (`constant_inputs`): each run then compiles
    the model with the values fed for them.
    """

    def __init__(self, onnx_model: onnx.ModelProto, device: str, model: Model | None = None,
                 constant_inputs: frozenset[str] = frozenset()):
        self.onnx_model = onnx_model
        self.device = device
        self.model = model
        self.constant_inputs = constant_inputs

    def run(self, inputs: Any, **kwargs: Any) -> tuple:
        """Runs the prepared model on the inputs in graph-input order; returns the outputs in order."""
        if isinstance(inputs, dict):
            feeds = {name: np.asarray(x) for name, x in inputs.items()}
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            feeds = {name: np.asarray(x) for name, x in zip(_runtime_inputs(self.onnx_model), inputs)}
        model = self.model or self._compile_with(feeds)
        outputs = model.run({info.name: feeds[info.name] for info in model.inputs})
        return tuple(outputs[info.name] for info in model.outputs)

    def _compile_with(self, feeds: Mapping[str, np.ndarray]) -> Model:
        names = set(self.constant_inputs)
        while True:
            try:
                return load(_with_constants(self.onnx_model, {n: feeds[n] for n in names}), device=self.device)
            except UnsupportedOpError as exc:
                needed = _inputs_needing_constant(exc, self.onnx_model) - names
                if not needed or not needed <= feeds.keys():
                    raise
                names |= needed


class MetalnnBackend(Backend):
    """Runs ONNX models with metalnn on `metalnn_device` (cpu unless a subclass from backend_for says otherwise)."""

    metalnn_device = "cpu"

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> MetalnnRep:
        super().prepare(model, device, **kwargs)
        metalnn_device = kwargs.get("metalnn_device", cls.metalnn_device)
        try:
            return MetalnnRep(model, metalnn_device, load(model, device=metalnn_device))
        except UnsupportedOpError as exc:
            needed = _inputs_needing_constant(exc, model)
            if not needed:
                raise
            return MetalnnRep(model, metalnn_device, constant_inputs=frozenset(needed))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        # ONNX names host devices "CPU"; metal-sim runs on the host too.
        return device.upper() == "CPU"


def backend_for(device: str) -> type[MetalnnBackend]:
    """A backend class bound to one metalnn device ("cpu", "metal-sim" or "metal")."""
    return type(f"MetalnnBackend_{device.replace('-', '_')}", (MetalnnBackend,), {"metalnn_device": device})


prepare = MetalnnBackend.prepare
run_model = MetalnnBackend.run_model
supports_device = MetalnnBackend.supports_device

__all__: Sequence[str] = ["MetalnnBackend", "MetalnnRep", "backend_for", "prepare", "run_model", "supports_device"]
