"""Reads an ONNX file without holding its weights twice.

Parsing a whole .onnx file puts every weight in memory twice (the file's bytes and the parsed message)
before the importer copies it a third time. Instead the file is memory-mapped, the protobuf wire
format of the top-level graph's initializers is walked, and each large `raw_data` field is replaced
by an external-data reference to the same bytes of the same file (ONNX's own external-data fields:
location, offset, length). Only the small remainder is parsed; the importer then reads each weight
from the file when it needs it (`tensor_array`), once.
"""
from __future__ import annotations

import mmap
import os

import numpy as np
import onnx
from onnx import numpy_helper

# raw_data fields smaller than this stay in the message.
LAZY_MIN_BYTES = 4096
# Weights of at least this many bytes are read into an anonymous mapping of their own.
OWN_MAPPING_MIN_BYTES = 1 << 16

_MODEL_GRAPH = 7        # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer
_TENSOR_NAME = 8        # TensorProto.name
_TENSOR_RAW_DATA = 9    # TensorProto.raw_data
_TENSOR_EXTERNAL = 13   # TensorProto.external_data
_TENSOR_LOCATION = 14   # TensorProto.data_location


class WireError(ValueError):
    """The bytes are not the protobuf wire format this reader expects."""


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(buf, start: int, end: int):
    """(field number, wire type, first byte of the field, first byte of its value, end of the field)."""
    pos = start
    while pos < end:
        key, value_pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, stop = _varint(buf, value_pos, end)
        elif wire == 1:
            stop = value_pos + 8
        elif wire == 5:
            stop = value_pos + 4
        elif wire == 2:
            length, value_pos = _varint(buf, value_pos, end)
            stop = value_pos + length
        else:  # groups (wire types 3 and 4) are not in ONNX's schema
            raise WireError(f"unexpected wire type {wire}")
        if stop > end or field == 0:
            raise WireError("field runs past its message")
        yield field, wire, pos, value_pos, stop
        pos = stop


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def _external_reference(location: str, offset: int, length: int) -> bytes:
    entries = b""
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = _length_delimited(1, key.encode()) + _length_delimited(2, value.encode())
        entries += _length_delimited(_TENSOR_EXTERNAL, entry)
    return entries + _encode_varint(_TENSOR_LOCATION << 3) + _encode_varint(onnx.TensorProto.EXTERNAL)


def _lean_tensor(buf, start: int, end: int, location: str) -> bytes:
    """The TensorProto at buf[start:end], its raw_data replaced by a reference when it is large."""
    kept = bytearray()
    raw = None
    for field, wire, first, value, stop in _fields(buf, start, end):
        if field in (_TENSOR_EXTERNAL, _TENSOR_LOCATION):
            return bytes(buf[start:end])  # already external: left as written
        if field == _TENSOR_RAW_DATA and wire == 2 and stop - value >= LAZY_MIN_BYTES and raw is None:
            raw = (value, stop - value)
            continue
        kept += buf[first:stop]
    if raw is None:
        return bytes(buf[start:end])
    return bytes(kept) + _external_reference(location, *raw)


def _lean_graph(buf, start: int, end: int, location: str) -> bytes:
    out = bytearray()
    for field, wire, first, value, stop in _fields(buf, start, end):
        if field == _GRAPH_INITIALIZER and wire == 2:
            out += _length_delimited(field, _lean_tensor(buf, value, stop, location))
        else:
            out += buf[first:stop]
    return bytes(out)


def read_lean(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """The model in `path` with the top-level initializers' large raw_data left in the file, referred
    to as external data of the file itself. Raises WireError (or protobuf's DecodeError) when the
    file is not a well-formed message; the caller then parses it the ordinary way for the error."""
    path = os.fspath(path)
    location = os.path.basename(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise WireError("empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            buf = memoryview(mapped)
            try:
                out = bytearray()
                for field, wire, first, value, stop in _fields(buf, 0, size):
                    if field == _MODEL_GRAPH and wire == 2:
                        out += _length_delimited(field, _lean_graph(buf, value, stop, location))
                    else:
                        out += buf[first:stop]
            finally:
                buf.release()
    model = onnx.ModelProto()
    model.ParseFromString(bytes(out))
    return model


# Element types whose raw_data is the little-endian array itself.
_PLAIN: dict[int, type] = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16,
          onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.INT8: np.int8, onnx.TensorProto.UINT8: np.uint8,
          onnx.TensorProto.INT16: np.int16, onnx.TensorProto.UINT16: np.uint16,
          onnx.TensorProto.INT32: np.int32, onnx.TensorProto.UINT32: np.uint32,
          onnx.TensorProto.INT64: np.int64, onnx.TensorProto.UINT64: np.uint64, onnx.TensorProto.BOOL: np.bool_}


def _external_bytes(tensor: onnx.TensorProto, base_dir: str | None) -> np.ndarray:
    """The bytes an external-data tensor refers to, read once; ValueError when they cannot be."""
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise ValueError("its data is in an external file, and a model given as bytes has no directory")
    if not location or os.path.isabs(location) or os.path.normpath(location).startswith(os.pardir):
        raise ValueError(f"external data location {location!r} is not a file beside the model")
    file = os.path.join(base_dir, location)
    try:
        offset = int(info.get("offset", "0"))
        size = os.path.getsize(file)
        length = int(info["length"]) if "length" in info else size - offset
    except (OSError, ValueError) as exc:
        raise ValueError(f"external data {location!r}: {exc}") from None
    if offset < 0 or length < 0 or offset + length > size:
        raise ValueError(f"external data {location!r} has {size} bytes, the tensor asks for {length} at {offset}")
    if length < OWN_MAPPING_MIN_BYTES:
        return np.fromfile(file, dtype=np.uint8, count=length, offset=offset)
    # A mapping of its own goes back to the system whole when the engine frees the weight (once
    # packed); a heap block could stay resident as a hole between other blocks.
    buffer = mmap.mmap(-1, length)
    with open(file, "rb") as f:
        f.seek(offset)
        if f.readinto(buffer) != length:
            raise ValueError(f"external data {location!r} ended early")
    return np.frombuffer(buffer, dtype=np.uint8)


def tensor_array(tensor: onnx.TensorProto, base_dir: str | None) -> np.ndarray:
    """A TensorProto's value; external data is read from disk now, without keeping it in the message."""
    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return numpy_helper.to_array(tensor)
    data = _external_bytes(tensor, base_dir)
    dims = [int(d) for d in tensor.dims]
    plain = _PLAIN.get(tensor.data_type)
    if plain is not None and np.little_endian:
        count = int(np.prod(dims, dtype=np.int64)) if dims else 1
        if data.size != count * np.dtype(plain).itemsize:
            raise ValueError(f"its data holds {data.size} bytes, {count} elements of its type need "
                             f"{count * np.dtype(plain).itemsize}")
        return data.view(plain).reshape(dims)
    inline = onnx.TensorProto()
    inline.CopyFrom(tensor)
    del inline.external_data[:]
    inline.data_location = onnx.TensorProto.DEFAULT
    inline.raw_data = data.tobytes()
    return numpy_helper.to_array(inline)
