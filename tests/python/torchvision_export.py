"""Export torchvision classifiers with random weights to ONNX, for the model tests and benchmarks.

Random weights alone let activations drift far from O(1) through BatchNorm layers whose running
statistics are still 0 and 1, so the statistics are re-estimated on random batches first.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
import torchvision

MODEL_NAMES = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1")
EXPORT_OPSET = 17


def random_images(batch: int, image_size: int = 224, seed: int = 0) -> np.ndarray:
    """Standard-normal NCHW float32 images, like normalised photographs in scale."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 3, image_size, image_size), dtype=np.float32)


def reestimate_batch_norm(model: torch.nn.Module, image_size: int, batch: int = 8,
                          passes: int = 3, seed: int = 0) -> None:
    """Replace BatchNorm running statistics by their averages over random batches."""
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
def build_model(name: str, image_size: int = 224, seed: int = 0) -> torch.nn.Module:
    """A torchvision classifier with seeded random weights and re-estimated BatchNorm statistics.

    The last one built is cached, so exporting one model at several batch sizes builds it once;
    callers must not modify it.
    """
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
    path = Path(path)
    model = build_model(name, image_size, seed)
    example = torch.from_numpy(random_images(batch, image_size, seed))
    with torch.no_grad():
        torch.onnx.export(model, (example,), str(path), input_names=["input"],
                          output_names=["logits"], opset_version=EXPORT_OPSET, dynamo=False,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    return path
