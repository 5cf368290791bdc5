"""metalnn as an ONNX backend (`onnx.backend.base.Backend`), so ONNX's own conformance suite can drive it.

`backend_for("metal-sim")` gives a backend class that runs every model on that device.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from . import load
from .model import Model


class MetalnnRep(BackendRep):
    """A prepared model; `run` takes inputs in graph order (or by name) and returns outputs in graph order."""

    def __init__(self, model: Model):
        self.model = model

    def run(self, inputs: Any, **kwargs: Any) -> tuple:
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            feeds = {info.name: np.asarray(x) for info, x in zip(self.model.inputs, inputs)}
        outputs = self.model.run(feeds)
        return tuple(outputs[info.name] for info in self.model.outputs)


class MetalnnBackend(Backend):
    """Runs ONNX models with metalnn on `metalnn_device` (cpu unless a subclass from backend_for says otherwise)."""

    metalnn_device = "cpu"

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> MetalnnRep:
        super().prepare(model, device, **kwargs)
        return MetalnnRep(load(model, device=kwargs.get("metalnn_device", cls.metalnn_device)))

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
