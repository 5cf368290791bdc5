"""What `Model.summary()` and `Model.profile()` return: plain data that `metalnn info` and `metalnn profile` print."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence, Union

import numpy as np

#: A dimension: its size, or the name of a symbolic (free) ONNX dimension, or -1 when unnamed.
Dim = Union[int, str]


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as declared: name, dims (symbolic ones by name) and dtype name."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the optimised graph: op, output shapes, its parameters and FLOPs per run."""

    name: str
    op: str
    output_shapes: tuple[tuple[int, ...], ...]
    params: int
    param_bytes: int
    flops: float


@dataclass(frozen=True)
class CachedShape:
    """One compiled specialisation of a model: its input shapes by name, arena bytes and runs so far."""

    shapes: dict[str, tuple[int, ...]]
    arena_bytes: int
    runs: int


@dataclass(frozen=True)
class Summary:
    """A model at a glance; `flops`, `arena_bytes` and `layers` are for the (most recently run) input shapes.

    For a model the engine cannot run, `unsupported` lists every unsupported node and the fields that
    need the optimised graph (`layers`, `flops`, `arena_bytes`) are empty.
    """

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    op_counts: dict[str, int]
    params: int
    param_bytes: int
    flops: float | None
    arena_bytes: int | None
    layers: list[LayerInfo] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    device: str | None = None
    cached: list[CachedShape] = field(default_factory=list)
    cache_capacity: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready dicts and lists."""
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class LayerTime:
    """One step of a profiled run: its label ("Conv 'conv1'"), op, FLOPs and time per run in milliseconds."""

    label: str
    op: str
    flops: float
    times_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        """The median time of this step over the profiled runs."""
        return float(statistics.median(self.times_ms))


@dataclass(frozen=True)
class Profile:
    """Per-layer times of `runs` runs on `device`, in run order."""

    device: str
    runs: int
    layers: list[LayerTime]

    @property
    def total_ms(self) -> float:
        """The sum of the layers' median times."""
        return sum(layer.median_ms for layer in self.layers)

    def chrome_trace(self) -> dict[str, Any]:
        """The profile as a Chrome trace (chrome://tracing, ui.perfetto.dev): one complete event per step and run."""
        events: list[dict[str, Any]] = [{"ph": "M", "name": "process_name", "pid": 0, "tid": 0,
                                         "args": {"name": f"metalnn ({self.device})"}}]
        clock_us = 0.0
        for run in range(self.runs):
            for layer in self.layers:
                duration = layer.times_ms[run] * 1e3
                events.append({"name": layer.label, "cat": layer.op, "ph": "X", "pid": 0, "tid": 0,
                               "ts": round(clock_us, 3), "dur": round(duration, 3),
                               "args": {"run": run, "flops": layer.flops}})
                clock_us += duration
        return {"traceEvents": events, "displayTimeUnit": "ms"}


def dims_of(info: Any) -> tuple[Dim, ...]:
    """The dims of an ONNX ValueInfoProto, symbolic ones by name (-1 when unnamed)."""
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or -1)
                 for d in info.type.tensor_type.shape.dim)


def onnx_dtype_name(elem_type: int) -> str:
    """The NumPy name of an ONNX element type."""
    from onnx import helper

    try:
        return str(np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)))
    except Exception:
        return f"onnx type {elem_type}"


def from_onnx(proto: Any, unsupported: Sequence[str]) -> Summary:
    """What can be said of an ONNX model the engine does not load: declared inputs and outputs, ops, parameters."""
    from onnx import numpy_helper

    initializers = {init.name: init for init in proto.graph.initializer}
    params = param_bytes = 0
    for init in initializers.values():
        array = numpy_helper.to_array(init)
        params += int(array.size)
        param_bytes += int(array.nbytes)

    def spec(info: Any) -> TensorSpec:
        return TensorSpec(info.name, dims_of(info), onnx_dtype_name(info.type.tensor_type.elem_type))

    return Summary(
        inputs=[spec(i) for i in proto.graph.input if i.name not in initializers],
        outputs=[spec(o) for o in proto.graph.output],
        op_counts=dict(Counter(node.op_type for node in proto.graph.node)),
        params=params, param_bytes=param_bytes, flops=None, arena_bytes=None,
        unsupported=list(unsupported))
