"""Images to input tensors: load with Pillow, resize, scale, normalise per channel, lay out as NCHW."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np


def load_image(path: str | os.PathLike[str], size: tuple[int, int], mean: Sequence[float] = (0.0, 0.0, 0.0),
               std: Sequence[float] = (1.0, 1.0, 1.0), scale: float = 1 / 255, bgr: bool = False,
               layout: str = "nchw") -> np.ndarray:
    """A [1, 3, H, W] (or [1, H, W, 3]) float32 image: RGB (BGR with `bgr`) pixels resized to `size` = (H, W).

    Each pixel becomes (value * scale - mean[c]) / std[c], with mean and std in the channel order
    of the result. ImageNet models exported from PyTorch take the defaults with mean
    (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225); Caffe models take scale 1, BGR and a mean
    of about (104, 117, 123).
    """
    from PIL import Image

    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std need 3 values (one per channel), got {len(mean)} and {len(std)}")
    if layout not in ("nchw", "nhwc"):
        raise ValueError(f"layout must be 'nchw' or 'nhwc', got '{layout}'")
    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
    pixels: np.ndarray = np.asarray(rgb, dtype=np.float32)
    if bgr:
        pixels = pixels[:, :, ::-1]
    normalised: np.ndarray = (pixels * np.float32(scale) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    if layout == "nchw":
        normalised = normalised.transpose(2, 0, 1)
    return np.ascontiguousarray(normalised[None], dtype=np.float32)


def read_labels(path: str | os.PathLike[str]) -> list[str]:
    """One label per line; blank lines are kept so line numbers stay class indices."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def top_k(scores: np.ndarray, labels: Sequence[str] | None, k: int) -> list[tuple[int, float, str]]:
    """The k best (class index, score, label) of a [1, classes] or [classes] score vector."""
    flat = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-flat, kind="stable")[:k]
    return [(int(i), float(flat[i]), labels[i] if labels is not None and i < len(labels) else f"class {i}")
            for i in order]
