"""`metalnn convert`: imports an ONNX model, optimises it and writes it as a .metalnn file."""
from __future__ import annotations

import os
from typing import Any

from .model import Model


def convert(source: Any, output: str | os.PathLike[str], show_progress: bool = True) -> Model:
    """Imports an ONNX model, optimises it and writes it as .metalnn to `output`; returns the compiled model.

    With `show_progress`, a progress bar on stderr follows the bytes written.
    """
    from . import load
    from .progress import byte_progress

    model = load(source, device="cpu")
    with byte_progress(f"writing {os.fspath(output)}", enabled=show_progress) as progress:
        model.save(output, progress=progress)
    return model
