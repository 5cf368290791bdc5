"""metalnn: neural-network inference on Apple GPUs through Metal, with a CPU device and a Metal simulator."""
from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import Union

import onnx

from . import _native
from .errors import (AllocationError, DeviceError, DtypeError, Error, InputError, KernelSourceError, ModelError,
                     ShapeError, UnsupportedOpError)
from .metal_kernel import MetalKernel, metal_kernel
from .model import Model, TensorInfo
from .summary import CachedShape, LayerInfo, LayerTime, Profile, Summary

try:
    __version__ = version("metalnn")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0.0.0"

_PRECISIONS = ("float32", "float16")

#: What `load` accepts: a path (str or pathlib.Path) to a .metalnn or ONNX file, the bytes of one, or an
#: onnx.ModelProto.
ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, onnx.ModelProto]


def devices() -> list[str]:
    """Lists the devices usable on this machine, best first."""
    return list(_native.devices())


def unavailable_devices() -> dict[str, str]:
    """Maps each device missing on this machine ("metal", "metal-sim") to why it is missing."""
    return dict(_native.unavailable_devices())


def set_num_threads(threads: int) -> None:
    """Sets how many threads the cpu device uses from the next run on (models loaded with `threads=` keep theirs).

    The default is the environment variable METALNN_NUM_THREADS, else every core.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    _native.set_num_threads(threads)


def get_num_threads() -> int:
    """The cpu device's default thread count (see `set_num_threads`)."""
    return int(_native.get_num_threads())


def load(source: ModelSource, device: str = "auto", precision: str = "float32", threads: int | None = None) -> Model:
    """Loads a model from a .metalnn or .onnx path (str or pathlib.Path), their bytes, or an onnx.ModelProto.

    The format is recognised by its bytes, not by the file name: .metalnn files are read by the C++
    reader with the weights memory-mapped, ONNX goes through the importer, and an Alibaba MNN model
    (also named .mnn) raises ModelError.

    `device` is "auto", "cpu", "metal" or "metal-sim"; `precision` ("float32" or "float16") applies to
    the GPU devices; `threads` sets the cpu device's thread count for this model (default: the
    process's, see `set_num_threads`).
    """
    from .model_file import has_suffix, load_native, reject_mnn, sniff
    from .onnx_import import import_model, read_model

    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    n_threads = threads or 0

    def native() -> Model:
        return Model(load_native(source, device, precision, n_threads),
                     lambda: load_native(source, device, precision, n_threads))

    if not isinstance(source, onnx.ModelProto):
        try:
            kind = sniff(source)
        except OSError:  # the reader names the file in its ModelError; ONNX raises the OSError
            kind = "metalnn" if has_suffix(source, ".metalnn") else "unknown"
        if kind == "metalnn":
            return native()
        if kind == "mnn":
            raise reject_mnn(source)
    try:
        proto = read_model(source, lean=True)
    except ModelError:
        # Neither format by its bytes: the file's name picks the more helpful error.
        if has_suffix(source, ".mnn"):
            raise reject_mnn(source) from None
        if has_suffix(source, ".metalnn"):
            return native()  # raises the reader's account of the header
        raise
    # The native model takes the imported graph's contents (its weights then have one owner). Loaded
    # from a file, it may free the weights it packs: compiling it again reads them from the file.
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    base_dir = os.path.dirname(path) if path is not None else None
    stamp = _file_stamp(path) if path is not None else None
    compiled = _native.Model(import_model(proto, base_dir), device, precision, n_threads,
                             release_weights=path is not None)

    def rebuild() -> _native.Model:
        if path is None or not compiled.weights_released:
            return _native.Model(compiled.imported_graph(), device, precision, n_threads)
        if _file_stamp(path) != stamp:
            raise ModelError(f"{path!r} changed since the model was loaded, and the model kept only "
                             "its packed weights: load it again")
        return _native.Model(import_model(read_model(path, lean=True), base_dir), device, precision, n_threads)

    return Model(compiled, rebuild, proto)


def _file_stamp(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """A model file's size and modification time (None when it cannot be read)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


__all__ = [
    "AllocationError", "CachedShape", "DeviceError", "DtypeError", "Error", "InputError", "KernelSourceError", "LayerInfo",
    "LayerTime", "MetalKernel", "Model", "ModelError",
    "ModelSource", "Profile", "ShapeError", "Summary", "TensorInfo", "UnsupportedOpError", "__version__",
    "devices", "get_num_threads", "load", "metal_kernel", "set_num_threads", "unavailable_devices",
]
