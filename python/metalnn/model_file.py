"""The .metalnn file from Python: telling formats apart by their bytes, and loading through the C++ reader.

A source is a metalnn model when it starts with the .metalnn magic bytes, whatever its name; an
Alibaba MNN model (a FlatBuffers `Net`, or a `.mnn` file that is nothing else we read) is refused
with a clear ModelError; anything else is parsed as ONNX.
"""
from __future__ import annotations

import mmap
import os
from typing import Literal, Union

from . import _native
from .errors import ModelError

MAGIC = b"\x89MNN\r\n\x1a\n"
ALIBABA_MNN_MESSAGE = "this is an MNN model (Alibaba MNN), not a metalnn model"

BytesLike = Union[bytes, bytearray, memoryview]
Format = Literal["metalnn", "mnn", "unknown"]


def _buffer_format(data: BytesLike | mmap.mmap) -> Format:
    kind = _native.model_format(data)
    return "metalnn" if kind == "metalnn" else "mnn" if kind == "mnn" else "unknown"


def sniff(source: BytesLike | str | os.PathLike[str]) -> Format:
    """What a path or bytes-like object holds by its bytes: "metalnn", "mnn" (Alibaba MNN) or "unknown"."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _buffer_format(source)
    with open(os.fspath(source), "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return "unknown"
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return _buffer_format(mapped)


def has_suffix(source: object, suffix: str) -> bool:
    """True for a path whose name ends in `suffix` (".mnn" is Alibaba MNN's, ".metalnn" ours)."""
    return isinstance(source, (str, os.PathLike)) and os.fspath(source).lower().endswith(suffix)


def load_native(source: BytesLike | str | os.PathLike[str], device: str, precision: str,
                threads: int) -> _native.Model:
    """Loads a .metalnn path (memory-mapped) or bytes-like image (copied once) and compiles it for `device`."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _native.load_model_bytes(source, device, precision, threads)
    return _native.load_model_file(os.fspath(source), device, precision, threads)


def reject_mnn(source: object) -> ModelError:
    """The error for an Alibaba MNN model, naming the file when there is one."""
    where = f"model file '{os.fspath(source)}': " if isinstance(source, (str, os.PathLike)) else ""
    return ModelError(where + ALIBABA_MNN_MESSAGE)
