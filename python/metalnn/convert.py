"""The .metalnn file from Python: recognising it, loading it through the C++ reader, converting ONNX to it."""
from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

from . import _native
from .model import Model

MAGIC = b"\x89MNN\r\n\x1a\n"


def is_mnn_source(source: Any) -> bool:
    """True for bytes that start with the .metalnn magic, and for paths ending in .metalnn or holding such a file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[: len(MAGIC)]) == MAGIC
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith(".metalnn"):
            return True
        try:
            with open(path, "rb") as f:
                return f.read(len(MAGIC)) == MAGIC
        except OSError:
            return False
    return False


def load_mnn(source: Any, device: str, precision: str) -> Model:
    """Loads a .metalnn path (memory-mapped) or bytes-like image (copied once) and compiles it for `device`."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Model(_native.load_model_bytes(source, device, precision))
    return Model(_native.load_model_file(os.fspath(source), device, precision))


class ProgressBar:
    """A one-line text bar on a stream, redrawn at most ten times a second; a plain final line off a terminal."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._last_draw = 0.0
        self._interactive = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        finished = done >= total
        now = time.monotonic()
        if not finished and (not self._interactive or now - self._last_draw < 0.1):
            return
        self._last_draw = now
        fraction = done / total if total else 1.0
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if finished else ""
        prefix = "\r" if self._interactive else ""
        unit, scale = ("MB", 1e6) if total >= 1e6 else ("kB", 1e3)
        self.stream.write(f"{prefix}{self.label} [{bar}] {fraction:4.0%} {done / scale:.1f}/{total / scale:.1f} {unit}{end}")
        self.stream.flush()


def convert(source: Any, output: str | os.PathLike, show_progress: bool = True) -> Model:
    """Imports an ONNX model, optimises it and writes it as .metalnn to `output`; returns the compiled model."""
    from . import load

    model = load(source, device="cpu")
    progress = ProgressBar(f"writing {os.fspath(output)}") if show_progress else None
    model.save(output, progress=progress)
    return model
