"""The Python face of a loaded model."""
from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from . import _native
from .errors import DeviceError, DtypeError, InputError
from .summary import CachedShape, Dim, LayerInfo, LayerTime, Profile, Summary, TensorSpec, dims_of

# Apple silicon's page size: Metal wraps memory aligned to it without copying.
PAGE_SIZE = 16384

# The profiler is process-wide: one profile at a time.
_PROFILE_LOCK = threading.Lock()


class TensorInfo(NamedTuple):
    """Name, shape (-1 for a dimension chosen per run) and dtype of a model input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


class Model:
    """A model compiled for one device. Immutable; `run` may be called from several threads."""

    def __init__(self, native: _native.Model, rebuild: Callable[[], _native.Model] | None = None,
                 onnx_model: Any = None):
        """Wraps a compiled native model; `rebuild` compiles it again (for profiling), `onnx_model` names its dims."""
        self._native = native
        self._rebuild = rebuild
        self.inputs = [TensorInfo(*info) for info in native.inputs]
        self.outputs = [TensorInfo(*info) for info in native.outputs]
        self._declared: dict[str, tuple[Dim, ...]] = {}
        if onnx_model is not None:
            for info in (*onnx_model.graph.input, *onnx_model.graph.output):
                self._declared[info.name] = dims_of(info)

    @property
    def device(self) -> str:
        """The device the model runs on ("cpu", "metal" or "metal-sim")."""
        return str(self._native.device)

    @property
    def precision(self) -> str:
        """The precision activations and weights are stored in."""
        return str(self._native.precision)

    @property
    def arena_bytes(self) -> int:
        """Bytes of the activation arena at the input shapes; with free dims, at the most recently run ones (0 before)."""
        return int(self._native.arena_bytes)

    @property
    def cache_capacity(self) -> int:
        """The most input-shape specialisations kept; running a new shape beyond it frees the least recently used."""
        return int(self._native.cache_capacity)

    @cache_capacity.setter
    def cache_capacity(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"cache_capacity must be a positive integer, got {capacity!r}")
        self._native.cache_capacity = capacity

    def prepare(self, shapes: Mapping[str, Sequence[int]]) -> None:
        """Compiles the model ahead for these input shapes (every input by name, every dim given), e.g.
        `model.prepare({"x": (1, 3, 640, 640)})`, so the first run at them does not compile.
        """
        names = [info.name for info in self.inputs]
        if sorted(shapes) != sorted(names):
            raise InputError(f"prepare needs a shape for every input: got {sorted(shapes)}, expected {names}")
        self._native.prepare([[int(d) for d in shapes[name]] for name in names])

    def cached_shapes(self) -> list[CachedShape]:
        """The compiled input-shape specialisations, most recently used first."""
        names = [info.name for info in self.inputs]
        return [CachedShape({name: tuple(s) for name, s in zip(names, shapes)}, int(arena), int(runs))
                for shapes, arena, runs in self._native.cached()]

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs one inference; returns every output by name, without copying it after the kernels finish."""
        return {info.name: result for info, result in zip(self.outputs, self._native.run(self._arrays(inputs)))}

    def _arrays(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        expected = [info.name for info in self.inputs]
        unknown = [name for name in inputs if name not in expected]
        missing = [name for name in expected if name not in inputs]
        if unknown or missing:
            raise InputError(f"inputs do not match the model: unknown {unknown}, missing {missing}; "
                             f"expected {expected}")
        # Dtypes and shapes are checked once, by the engine (Model::validate), before any copy.
        return [np.asarray(inputs[info.name]) for info in self.inputs]

    def input_buffers(self) -> dict[str, np.ndarray]:
        """Fresh page-aligned arrays, one per input, that `run` reads in place on every device (never copied)."""
        buffers = {}
        for info in self.inputs:
            shape = tuple(max(d, 1) for d in info.shape)
            nbytes = int(np.prod(shape, dtype=np.int64)) * info.dtype.itemsize
            # Metal wraps page-aligned memory whole pages at a time: pad to a page multiple.
            padded = -(-max(nbytes, 1) // PAGE_SIZE) * PAGE_SIZE
            raw = np.zeros(padded + PAGE_SIZE, np.uint8)
            start = -raw.ctypes.data % PAGE_SIZE
            buffers[info.name] = raw[start:start + nbytes].view(info.dtype).reshape(shape)
        return buffers

    def save(self, path: str | os.PathLike[str], progress: Callable[[int, int], None] | None = None) -> None:
        """Writes the optimised model as a .metalnn file (see docs/format.md); progress(done, total) gets bytes.

        A model that freed the weights it packed (loaded from an ONNX file) is compiled again from that
        file for the writing.
        """
        native = self._native
        if native.weights_released and self._rebuild is not None:
            native = self._rebuild()
        _native.save_model_file(native, os.fspath(path), progress)

    def summary(self) -> Summary:
        """Inputs and outputs (symbolic dims by name), op counts, parameters, FLOPs, arena bytes and layers.

        Layers, FLOPs and the arena are those of the optimised graph at the input shapes; with free
        dimensions, at the most recently run (or prepared) ones, and `cached` lists every compiled shape.
        Before any run, a model with free dimensions is prepared with each of them at 1.
        """
        if self._native.has_free_dims and not self._native.cached():
            self.prepare({info.name: tuple(d if d > 0 else 1 for d in info.shape) for info in self.inputs})
        layers = [LayerInfo(layer["name"], layer["op"], tuple(tuple(s) for s in layer["output_shapes"]),
                            int(layer["params"]), int(layer["param_bytes"]), float(layer["flops"]))
                  for layer in _native.layers(self._native)]

        def spec(info: TensorInfo) -> TensorSpec:
            declared = self._declared.get(info.name)
            shape = declared if declared is not None and len(declared) == len(info.shape) else info.shape
            return TensorSpec(info.name, tuple(shape), str(info.dtype))

        return Summary(
            inputs=[spec(i) for i in self.inputs], outputs=[spec(o) for o in self.outputs],
            op_counts=dict(Counter(layer.op for layer in layers)),
            params=sum(layer.params for layer in layers), param_bytes=sum(layer.param_bytes for layer in layers),
            flops=sum(layer.flops for layer in layers), arena_bytes=self.arena_bytes, layers=layers,
            device=self.device, cached=self.cached_shapes(), cache_capacity=self.cache_capacity)

    def profile(self, inputs: Mapping[str, np.ndarray], runs: int = 10, warmup: int = 2) -> Profile:
        """Times every layer over `runs` runs (after `warmup` untimed ones) on a profiled copy of this model.

        Per-layer times come from the cpu device's profiler; other devices raise DeviceError.
        """
        if self.device != "cpu":
            raise DeviceError(f"per-layer profiles are measured on the cpu device; this model runs on "
                              f"'{self.device}' (load it with device='cpu')")
        if self._rebuild is None:
            raise DeviceError("this model cannot be compiled again for profiling")
        if runs < 1 or warmup < 0:
            raise ValueError(f"runs must be >= 1 and warmup >= 0, got {runs} and {warmup}")
        arrays = self._arrays(inputs)
        with _PROFILE_LOCK:
            _native.profiler_start()
            try:
                profiled = self._rebuild()
                for _ in range(warmup + runs):
                    profiled.run(arrays)
            finally:
                steps = _native.profiler_stop()
        layers = [LayerTime(step["label"], step["op"], float(step["flops"]),
                            tuple(seconds * 1e3 for seconds in step["seconds"][warmup:]))
                  for step in steps]
        return Profile(self.device, runs, layers)

    def __call__(self, *args: np.ndarray, **kwargs: np.ndarray) -> Any:
        """`model(x)` for a one-input model returns its first output; keyword or positional inputs otherwise."""
        if len(args) > len(self.inputs):
            raise InputError(f"the model takes {len(self.inputs)} input(s) "
                             f"{[info.name for info in self.inputs]}, got {len(args)} positional arrays")
        feeds = dict(zip((info.name for info in self.inputs), args))
        twice = [name for name in list(feeds) if name in kwargs]
        if twice:
            raise InputError(f"input(s) {twice} given both by position and by name")
        feeds.update(kwargs)
        outputs = self.run(feeds)
        if len(self.inputs) == 1 and len(args) == 1 and not kwargs:
            return next(iter(outputs.values()))
        return outputs

    def __repr__(self) -> str:
        ins = ", ".join(f"{i.name}{list(i.shape)}:{i.dtype}" for i in self.inputs)
        return f"<metalnn.Model device={self.device} inputs=({ins})>"
