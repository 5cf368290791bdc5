"""metalnn: neural-network inference on Apple GPUs through Metal, with a CPU device and a Metal simulator."""
from __future__ import annotations

from typing import Any

from . import _native
from .errors import DeviceError, DtypeError, Error, InputError, ModelError, ShapeError, UnsupportedOpError
from .model import Model, TensorInfo

__version__ = "0.1.0"

_PRECISIONS = ("float32", "float16")


def devices() -> list[str]:
    """Lists the devices usable on this machine, best first."""
    return list(_native.devices())


def unavailable_devices() -> dict[str, str]:
    """Maps each device missing on this machine ("metal", "metal-sim") to why it is missing."""
    return dict(_native.unavailable_devices())


def load(source: Any, device: str = "auto", precision: str = "float32") -> Model:
    """Loads a model from a .mnn or .onnx path, .mnn or ONNX bytes, or an onnx.ModelProto; compiles it for `device`.

    .mnn files are read by the C++ reader with the weights memory-mapped; ONNX goes through the importer.

    `device` is "auto", "cpu", "metal" or "metal-sim"; `precision` ("float32" or "float16") applies to
    the GPU devices.
    """
    from .onnx_import import import_model, read_model

    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}")
    from .convert import is_mnn_source, load_mnn

    if is_mnn_source(source):
        return load_mnn(source, device, precision)
    graph = import_model(read_model(source))
    return Model(_native.Model(graph, device, precision))


__all__ = [
    "DeviceError", "DtypeError", "Error", "InputError", "Model", "ModelError", "ShapeError", "TensorInfo",
    "UnsupportedOpError", "devices", "load", "unavailable_devices",
]
