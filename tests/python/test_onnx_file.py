"""Loading an .onnx file reads each weight once: the lean reader leaves large raw_data in the file as
external-data references, the importer reads them from disk, and weights an exporter transposes are
folded at load with the originals let go. Outputs match ONNX Runtime; the peak memory of a load is
measured in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import metalnn
from metalnn import onnx_file
from metalnn.onnx_import import read_model


def transposed_weights_model(rng, features: int, extra_inputs: bool = False) -> onnx.ModelProto:
    """x @ Transpose(w1) -> Relu -> @ Transpose(w2) + b, as torch's exporter writes Linear layers;
    a small int64 shape initializer stays inline."""
    w1 = (rng.standard_normal((features, features)) / np.sqrt(features)).astype(np.float32)
    w2 = rng.standard_normal((7, features), dtype=np.float32)  # under LAZY_MIN_BYTES when features < 147
    nodes = [
        helper.make_node("Transpose", ["w1"], ["w1t"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "w1t"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Transpose", ["w2"], ["w2t"], perm=[1, 0]),
        helper.make_node("MatMul", ["r", "w2t"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["s"]),
        helper.make_node("Reshape", ["s", "shape"], ["y"]),
    ]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
             numpy_helper.from_array(rng.standard_normal(7).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([-1, 7], np.int64), "shape")]
    graph = helper.make_graph(nodes, "lean", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, features])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 7])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def ort_outputs(model: onnx.ModelProto, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_large_raw_data_becomes_a_reference_to_the_same_bytes(tmp_path, rng):
    model = transposed_weights_model(rng, 96)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    lean = onnx_file.read_lean(path)
    by_name = {init.name: init for init in lean.graph.initializer}
    assert by_name["w1"].data_location == TensorProto.EXTERNAL
    for small in ("w2", "b", "shape"):  # under LAZY_MIN_BYTES: left in the message
        assert by_name[small].data_location == TensorProto.DEFAULT
    for init in model.graph.initializer:
        np.testing.assert_array_equal(onnx_file.tensor_array(by_name[init.name], str(tmp_path)),
                                      numpy_helper.to_array(init))
    # Everything but the weights' bytes parses to the same message.
    assert [n.SerializeToString() for n in lean.graph.node] == [n.SerializeToString() for n in model.graph.node]
    assert lean.graph.input == model.graph.input and lean.graph.output == model.graph.output


@pytest.mark.parametrize("device", metalnn.devices())
def test_a_file_loads_like_its_bytes_and_matches_onnxruntime(device, tmp_path, rng):
    model = transposed_weights_model(rng, 131)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = rng.standard_normal((3, 131), dtype=np.float32)
    expected = ort_outputs(model, {"x": x})[0]
    from_file = metalnn.load(path, device=device).run({"x": x})["y"]
    from_bytes = metalnn.load(model.SerializeToString(), device=device).run({"x": x})["y"]
    np.testing.assert_array_equal(from_file, from_bytes)
    np.testing.assert_allclose(from_file, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float16, np.int8, np.int64, np.bool_, np.float64])
def test_every_plain_dtype_reads_back(dtype, tmp_path, rng):
    value = (rng.standard_normal((65, 129)) * 50).astype(dtype)
    tensor = numpy_helper.from_array(value, "t")
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["t"], ["y"])], "g", [], [helper.make_tensor_value_info("y", tensor.data_type, None)],
        [tensor]))
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    lean = onnx_file.read_lean(path)
    assert lean.graph.initializer[0].data_location == TensorProto.EXTERNAL
    np.testing.assert_array_equal(onnx_file.tensor_array(lean.graph.initializer[0], str(tmp_path)), value)


def test_external_data_files_are_read_lazily_too(tmp_path, rng):
    model = transposed_weights_model(rng, 64)
    x = rng.standard_normal((3, 64), dtype=np.float32)
    expected = ort_outputs(model, {"x": x})[0]
    path = tmp_path / "ext.onnx"
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="ext.bin",
              size_threshold=1024)  # moves the weights of `model` itself to the external file
    np.testing.assert_allclose(metalnn.load(path).run({"x": x})["y"], expected, rtol=1e-4, atol=1e-4)


def test_a_truncated_file_still_raises_model_error(tmp_path, rng):
    data = transposed_weights_model(rng, 64).SerializeToString()
    for cut in (len(data) // 3, len(data) - 5, 7):
        path = tmp_path / f"cut{cut}.onnx"
        path.write_bytes(data[:cut])
        with pytest.raises(metalnn.ModelError):
            metalnn.load(path)


def test_a_reference_past_the_end_of_the_file_is_model_error(tmp_path, rng):
    model = transposed_weights_model(rng, 64)
    init = model.graph.initializer[0]
    init.ClearField("raw_data")
    init.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "m.onnx"), ("offset", "16"), ("length", str(10**9))):
        init.external_data.add(key=key, value=value)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    with pytest.raises(metalnn.ModelError, match="'w1'"):
        metalnn.load(path)


def test_read_model_without_lean_keeps_the_data_in_the_message(tmp_path, rng):
    model = transposed_weights_model(rng, 64)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    full = read_model(path)
    assert all(init.data_location == TensorProto.DEFAULT for init in full.graph.initializer)


def stacked_linear_model(rng, features: int, layers: int) -> onnx.ModelProto:
    """`layers` Linear layers as torch exports them (MatMul by a transposed weight)."""
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((features, features)) / np.sqrt(features)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes += [helper.make_node("Transpose", [f"w{i}"], [f"w{i}t"], perm=[1, 0]),
                  helper.make_node("MatMul", [x, f"w{i}t"], [f"h{i}"])]
        x = f"h{i}"
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, features])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, features])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


_PEAK_PROBE = """
import json, sys
import metalnn, numpy as np
def kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
open("/proc/self/clear_refs", "w").write("5")
before = kb("VmRSS")
model = metalnn.load(sys.argv[1], device="cpu")
model.run({"x": np.ones((3, int(sys.argv[2])), np.float32)})
print(json.dumps({"peak_mb": (kb("VmHWM") - before) / 1024}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_loading_holds_the_weights_about_once(tmp_path, rng):
    """8 weights of 8 MB that the exporter transposes: parsing, importing and folding them used to
    hold them more than twice over (144 MB); now the peak is one copy plus the weight being folded
    and the run (80 MB when written)."""
    features, layers = 1448, 8
    path = tmp_path / "big.onnx"
    onnx.save(stacked_linear_model(rng, features, layers), path)
    weights_mb = layers * features * features * 4 / 2**20
    # The packed GEMM keeps a packed copy of each weight beside the original; BLAS reads the
    # original, so with it the peak measures the loading alone.
    env = dict(os.environ, METALNN_GEMM_ISA="blas")
    out = subprocess.run([sys.executable, "-c", _PEAK_PROBE, str(path), str(features)], check=True,
                         capture_output=True, text=True, env=env).stdout
    peak = json.loads(out.splitlines()[-1])["peak_mb"]
    assert peak < 1.5 * weights_mb, f"loading {weights_mb:.0f} MB of weights peaked at {peak:.0f} MB"
