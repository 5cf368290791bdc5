"""Export torchvision classifiers with random weights to ONNX, for the model tests, the benchmarks
and `metalnn doctor`. Needs torch and torchvision (not dependencies of metalnn): `available()` says
whether they are installed, and only the export functions import them.

Random weights alone let activations drift far from O(1) through BatchNorm layers whose running
statistics are still 0 and 1, so the statistics are re-estimated on random batches first.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAMES = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1")
EXPORT_OPSET = 17

# Reduced resolutions that keep metal-sim fast. AlexNet and VGG end in an adaptive average pool to
# 6x6 / 7x7 that the ONNX exporter only accepts when the feature map is a multiple of it: 224x224.
_SMALL_IMAGE_SIZES = {"alexnet": 224, "vgg16": 224}


def small_image_size(name: str) -> int:
    """The smallest convenient input resolution of model `name` (64, or 224 where export needs it)."""
    return _SMALL_IMAGE_SIZES.get(name, 64)


def available() -> bool:
    """Whether torch and torchvision are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "torchvision"))


def random_images(batch: int, image_size: int = 224, seed: int = 0) -> np.ndarray:
    """Standard-normal NCHW float32 images, like normalised photographs in scale."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 3, image_size, image_size), dtype=np.float32)


def reestimate_batch_norm(model: Any, image_size: int, batch: int = 8,
                          passes: int = 3, seed: int = 0) -> None:
    """Replace BatchNorm running statistics of torch module `model` by their averages over random batches."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over all passes
    model.train()
    with torch.no_grad():
        for i in range(passes):
            model(torch.from_numpy(random_images(batch, image_size, seed + 1 + i)))
    model.eval()


@functools.lru_cache(maxsize=1)
def build_model(name: str, image_size: int = 224, seed: int = 0) -> Any:
    """A torchvision classifier with seeded random weights and re-estimated BatchNorm statistics.

    The last one built is cached, so exporting one model at several batch sizes builds it once;
    callers must not modify it.
    """
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = torchvision.models.get_model(name, weights=None)
    reestimate_batch_norm(model, image_size, seed=seed)
    return model.eval()


def export_onnx(name: str, path: Path | str, batch: int, image_size: int = 224,
                seed: int = 0) -> Path:
    """Export `name` with fixed input shape (batch, 3, image_size, image_size) to `path`.

    The model has one input "input" and one output "logits". Uses the TorchScript exporter,
    which needs no packages beyond torch. BatchNormalization nodes are kept (not folded into the
    convolutions by the exporter) so that the engine's own folding is exercised.
    """
    import torch

    path = Path(path)
    model = build_model(name, image_size, seed)
    example = torch.from_numpy(random_images(batch, image_size, seed))
    with torch.no_grad():
        torch.onnx.export(model, (example,), str(path), input_names=["input"],
                          output_names=["logits"], opset_version=EXPORT_OPSET, dynamo=False,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    return path
