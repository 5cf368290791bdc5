"""Writes the fuzzer's seed corpus: real .metalnn files saved by metalnn, plus compact copies of each.

The compact copy moves the data section right after the graph (64-byte aligned, as the format allows)
so the fuzzer spends its mutations on the graph instead of on page padding.
Usage: python3 tests/fuzz/make_seeds.py OUT_DIR
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import metalnn
from metalnn import demo

HEADER = struct.Struct("<8sIIQQQQQQ")  # magic, version, endian marker, file, graph, data sizes and offsets, reserved


def small_models():
    """A few ONNX models covering Conv/Gemm fusion, pooling, reshapes and several attribute kinds."""
    rng = np.random.default_rng(0)
    yield "demo", demo.build_classifier(16)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 0, 1, 0], strides=[1, 2]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="clip"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="reshape"),
        helper.make_node("MatMul", ["f", "m"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "bias"], ["a"], name="bias"),
        helper.make_node("Softmax", ["a"], ["y"], name="softmax", axis=-1),
    ]
    initializers = {
        "w": rng.standard_normal((4, 2, 3, 3), dtype=np.float32), "b": rng.standard_normal(4, dtype=np.float32),
        "lo": np.array(0, np.float32), "hi": np.array(6, np.float32), "shape": np.array([1, -1], np.int64),
        "m": rng.standard_normal((8, 3), dtype=np.float32), "bias": rng.standard_normal(3, dtype=np.float32),
    }
    graph = helper.make_graph(nodes, "mixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                              [numpy_helper.from_array(a, n) for n, a in initializers.items()])
    yield "mixed", helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    yield "control_flow", control_flow_model()


def control_flow_model():
    """An If whose branches read outer values and hold a Loop: a free dimension keeps both in the file."""
    f = TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node("Mul", ["v", "two"], ["v_out"]), helper.make_node("Identity", ["c"], ["c_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", f, None)],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []), helper.make_tensor_value_info("v_out", f, None)])
    then_branch = helper.make_graph([helper.make_node("Loop", ["m", "", "x"], ["t"], name="loop", body=body)], "then",
                                    [], [helper.make_tensor_value_info("t", f, None)])
    else_branch = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                                    [helper.make_tensor_value_info("e", f, None)])
    nodes = [helper.make_node("Size", ["x"], ["n"]), helper.make_node("Greater", ["n", "m"], ["c"]),
             helper.make_node("If", ["c"], ["y"], name="if", then_branch=then_branch, else_branch=else_branch)]
    graph = helper.make_graph(nodes, "control_flow", [helper.make_tensor_value_info("x", f, ["n", 2])],
                              [helper.make_tensor_value_info("y", f, ["n", 2])],
                              [numpy_helper.from_array(np.array(3, np.int64), "m"),
                               numpy_helper.from_array(np.array(2, np.float32), "two")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def compact(image: bytes) -> bytes | None:
    """The same model with the data section moved down to the first 64-byte boundary after the graph."""
    magic, version, marker, file_size, graph_offset, graph_size, data_offset, data_size, reserved = \
        HEADER.unpack_from(image)
    new_offset = (graph_offset + graph_size + 63) // 64 * 64
    header = HEADER.pack(magic, version, marker, new_offset + data_size, graph_offset, graph_size, new_offset,
                         data_size, reserved)
    body = image[HEADER.size:graph_offset + graph_size].ljust(new_offset - HEADER.size, b"\0")
    return header + body + image[data_offset:data_offset + data_size]


def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, model in small_models():
        path = out / f"{name}.metalnn"
        metalnn.load(model, device="cpu").save(path)
        small = compact(path.read_bytes())
        metalnn.load(small, device="cpu")  # the compact copy must still be a valid file
        (out / f"{name}.compact.metalnn").write_bytes(small)
    print(f"seed corpus: {len(list(out.glob('*.metalnn')))} files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
