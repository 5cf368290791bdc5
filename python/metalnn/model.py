"""The Python face of a loaded model."""
from __future__ import annotations

import os
from typing import Callable, Mapping, NamedTuple

import numpy as np

from . import _native
from .errors import DtypeError, InputError


# Apple silicon's page size: Metal wraps memory aligned to it without copying.
PAGE_SIZE = 16384


class TensorInfo(NamedTuple):
    """Name, shape (-1 for a dimension chosen per run) and dtype of a model input or output."""

    name: str
    shape: tuple
    dtype: np.dtype


class Model:
    """A model compiled for one device. Immutable; `run` may be called from several threads."""

    def __init__(self, native: _native.Model):
        self._native = native
        self.inputs = [TensorInfo(*info) for info in native.inputs]
        self.outputs = [TensorInfo(*info) for info in native.outputs]

    @property
    def device(self) -> str:
        """The device the model runs on ("cpu", "metal" or "metal-sim")."""
        return self._native.device

    @property
    def precision(self) -> str:
        """The precision activations and weights are stored in."""
        return self._native.precision

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs one inference; returns every output by name, without copying it after the kernels finish."""
        expected = [info.name for info in self.inputs]
        unknown = [name for name in inputs if name not in expected]
        missing = [name for name in expected if name not in inputs]
        if unknown or missing:
            raise InputError(f"inputs do not match the model: unknown {unknown}, missing {missing}; "
                             f"expected {expected}")
        arrays = []
        for info in self.inputs:
            array = np.asarray(inputs[info.name])
            if array.dtype != info.dtype:
                raise DtypeError(f"input '{info.name}' has dtype {array.dtype}, expected {info.dtype}")
            arrays.append(array)
        results = self._native.run(arrays)
        return {info.name: result for info, result in zip(self.outputs, results)}

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

    def save(self, path: str | os.PathLike, progress: Callable[[int, int], None] | None = None) -> None:
        """Writes the optimised model as a .mnn file (see docs/format.md); progress(done, total) gets bytes."""
        _native.save_mnn(self._native, os.fspath(path), progress)

    def __call__(self, *args: np.ndarray, **kwargs: np.ndarray):
        """`model(x)` for a one-input model returns its first output; keyword or positional inputs otherwise."""
        feeds = dict(zip((info.name for info in self.inputs), args))
        feeds.update(kwargs)
        outputs = self.run(feeds)
        if len(self.inputs) == 1 and len(args) == 1 and not kwargs:
            return next(iter(outputs.values()))
        return outputs

    def __repr__(self) -> str:
        ins = ", ".join(f"{i.name}{list(i.shape)}:{i.dtype}" for i in self.inputs)
        return f"<metalnn.Model device={self.device} inputs=({ins})>"
