"""The .metalnn file from Python: save/load round trips with bit-identical outputs, memory-mapped weights,
loading from bytes, `metalnn convert`, and ModelError for damaged files."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import metalnn
from metalnn import _native, demo, torchvision_models
from metalnn.cli import main as cli_main


def _model(nodes, inputs, outputs, initializers) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs,
                              [numpy_helper.from_array(a, n) for n, a in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def mlp() -> onnx.ModelProto:
    """Gemm -> Relu -> Gemm -> Softmax, wide enough that the first weight is a page-aligned blob."""
    rng = np.random.default_rng(1)
    return _model(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"], name="fc2", transB=1),
         helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 37])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 10])],
        {"w1": rng.standard_normal((129, 37), dtype=np.float32), "b1": rng.standard_normal(129, dtype=np.float32),
         "w2": rng.standard_normal((10, 129), dtype=np.float32), "b2": rng.standard_normal(10, dtype=np.float32)})


def conv_bn_residual() -> onnx.ModelProto:
    """Conv -> BatchNorm -> Relu -> Conv + skip -> pooling -> Gemm: exercises folding and fusion before saving."""
    rng = np.random.default_rng(2)
    c = 8
    return _model(
        [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c1", "scale", "shift", "mean", "var"], ["bn"], name="bn"),
         helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
         helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
         helper.make_node("Add", ["c2", "r1"], ["sum"], name="skip"),
         helper.make_node("GlobalAveragePool", ["sum"], ["pooled"], name="pool"),
         helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
         helper.make_node("Gemm", ["flat", "fc"], ["y"], name="fc")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 13, 13])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
        {"w1": rng.standard_normal((c, 3, 3, 3), dtype=np.float32),
         "scale": rng.uniform(0.5, 1.5, c).astype(np.float32), "shift": rng.standard_normal(c, dtype=np.float32),
         "mean": rng.standard_normal(c, dtype=np.float32), "var": rng.uniform(0.5, 2, c).astype(np.float32),
         "w2": rng.standard_normal((c, c, 3, 3), dtype=np.float32), "b2": rng.standard_normal(c, dtype=np.float32),
         "fc": rng.standard_normal((c, 5), dtype=np.float32)})


SMALL_MODELS = {"demo": demo.build_classifier, "mlp": mlp, "conv_bn_residual": conv_bn_residual}


def random_feeds(model: metalnn.Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {i.name: rng.standard_normal([max(d, 1) for d in i.shape]).astype(i.dtype) for i in model.inputs}


def assert_bit_identical(original: metalnn.Model, loaded: metalnn.Model, feeds) -> None:
    assert [(i.name, i.dtype) for i in loaded.inputs] == [(i.name, i.dtype) for i in original.inputs]
    expected, actual = original.run(feeds), loaded.run(feeds)
    assert list(actual) == list(expected)
    for name in expected:
        assert actual[name].shape == expected[name].shape
        assert actual[name].tobytes() == expected[name].tobytes(), f"output '{name}' differs"


def mapped_ranges(path: Path) -> list[tuple[int, int, int]]:
    """(start, end, file offset) of each range this process has mapped from `path` (Linux /proc/self/maps)."""
    target = os.path.realpath(path)
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].strip() == target:
                lo, hi = fields[0].split("-")
                ranges.append((int(lo, 16), int(hi, 16), int(fields[2], 16)))
    return ranges


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_round_trip_is_bit_identical(name, tmp_path, rng):
    original = metalnn.load(SMALL_MODELS[name](), device="cpu")
    path = tmp_path / f"{name}.metalnn"
    original.save(path)
    loaded = metalnn.load(path, device="cpu")
    for _ in range(2):
        assert_bit_identical(original, loaded, random_feeds(original, rng))


def test_round_trip_from_bytes_and_a_path_without_suffix(tmp_path, rng):
    original = metalnn.load(conv_bn_residual(), device="cpu")
    path = tmp_path / "model.bin"
    original.save(path)
    feeds = random_feeds(original, rng)
    assert_bit_identical(original, metalnn.load(path.read_bytes(), device="cpu"), feeds)
    assert_bit_identical(original, metalnn.load(str(path), device="cpu"), feeds)


def test_free_dimensions_stay_free_in_the_saved_file(tmp_path, rng):
    model = mlp()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    original = metalnn.load(model, device="cpu")
    assert original.inputs[0].shape == (-1, 37)
    original.save(tmp_path / "free.metalnn")
    loaded = metalnn.load(tmp_path / "free.metalnn", device="cpu")
    assert loaded.inputs[0].shape == (-1, 37)
    x = rng.standard_normal((3, 37)).astype(np.float32)
    np.testing.assert_array_equal(original.run({original.inputs[0].name: x})[original.outputs[0].name],
                                  loaded.run({loaded.inputs[0].name: x})[loaded.outputs[0].name])


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps")
def test_weights_are_memory_mapped_not_copied(tmp_path):
    path = tmp_path / "mapped.metalnn"
    metalnn.load(mlp(), device="cpu").save(path)
    loaded = metalnn.load(path, device="cpu")
    ranges = mapped_ranges(path)
    assert ranges, "the file is not mapped"
    constants = _native._constant_addresses(loaded._native)
    assert len(constants) >= 4
    file_offsets = {}
    for name, address, nbytes in constants:
        inside = [(lo, offset) for lo, hi, offset in ranges if lo <= address and address + nbytes <= hi]
        assert inside, f"'{name}' was copied"
        file_offsets[name] = address - inside[0][0] + inside[0][1]
        assert address % 64 == 0, f"'{name}' is not 64-byte aligned"
    big = [file_offsets[name] for name, _, nbytes in constants if nbytes >= 16384]
    assert big and all(offset % 16384 == 0 for offset in big)  # page-aligned in the file

    from_bytes = metalnn.load(path.read_bytes(), device="cpu")  # a copy: nothing points into the file
    for name, address, _ in _native._constant_addresses(from_bytes._native):
        assert not any(lo <= address < hi for lo, hi, _ in ranges), name
    del loaded
    import gc
    gc.collect()
    assert not mapped_ranges(path), "the mapping outlived the model"


def test_convert_command_writes_a_loadable_file(tmp_path, capsys, rng):
    onnx_path = tmp_path / "classifier.onnx"
    onnx.save(conv_bn_residual(), onnx_path)
    mnn_path = tmp_path / "classifier.metalnn"
    assert cli_main(["convert", str(onnx_path), "-o", str(mnn_path)]) == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err and "wrote" in captured.out
    assert not (tmp_path / "classifier.metalnn.tmp").exists()
    assert_bit_identical(metalnn.load(onnx_path, device="cpu"), metalnn.load(mnn_path, device="cpu"),
                         random_feeds(metalnn.load(onnx_path, device="cpu"), rng))


def test_save_reports_progress(tmp_path):
    calls = []
    metalnn.load(mlp(), device="cpu").save(tmp_path / "p.metalnn", progress=lambda done, total: calls.append((done, total)))
    total = (tmp_path / "p.metalnn").stat().st_size
    assert calls and calls[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))


def _damaged(tmp_path: Path, change) -> Path:
    path = tmp_path / "damaged.metalnn"
    metalnn.load(mlp(), device="cpu").save(path)
    data = bytearray(path.read_bytes())
    change(data)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda d: d.__setitem__(slice(1, 4), b"XYZ"), "wrong magic"),
    (lambda d: struct.pack_into("<I", d, 8, 3), "format version 3 is newer than this reader"),
    (lambda d: struct.pack_into("<I", d, 8, 0), "format version 0 is not valid"),
    (lambda d: d.__delitem__(slice(len(d) - 100, None)), "(truncated)"),
    (lambda d: struct.pack_into("<I", d, 64, 0xFFFFFFFF), "blob count is 4294967295"),
    (lambda d: struct.pack_into("<Q", d, 68, 1 << 40), "lies past the end"),
])
def test_damaged_files_raise_model_error(tmp_path, change, message):
    path = _damaged(tmp_path, change)
    with pytest.raises(metalnn.ModelError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        metalnn.load(path, device="cpu")
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    if path.read_bytes().startswith(b"\x89MNN"):  # bytes without the magic are taken for ONNX
        with pytest.raises(metalnn.ModelError, match="model in memory"):
            metalnn.load(path.read_bytes(), device="cpu")


def test_version_1_files_are_still_read(tmp_path, rng):
    """Version 2 only added fused forms (Gelu activations, attention heads, Conv residuals); a file
    without them, as every version-1 file is, reads the same under either number."""
    original = metalnn.load(mlp(), device="cpu")
    path = tmp_path / "v1.metalnn"
    original.save(path)
    data = bytearray(path.read_bytes())
    assert struct.unpack_from("<I", data, 8)[0] == 2
    struct.pack_into("<I", data, 8, 1)
    path.write_bytes(bytes(data))
    assert_bit_identical(original, metalnn.load(path, device="cpu"), random_feeds(original, rng))


def test_unknown_fused_activation_is_refused():
    weight = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "w")
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="c1", _activation="Bogus")
    graph = helper.make_graph([conv], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(metalnn.ModelError, match="Conv 'c1': unknown fused activation 'Bogus'"):
        metalnn.load(model.SerializeToString(), device="cpu").run({"x": np.ones((1, 3, 4, 4), np.float32)})


def test_missing_file_and_unwritable_path(tmp_path):
    with pytest.raises(metalnn.ModelError, match="cannot open"):
        metalnn.load(tmp_path / "missing.metalnn")
    with pytest.raises(metalnn.Error, match="cannot open"):
        metalnn.load(mlp(), device="cpu").save(tmp_path / "no" / "such" / "dir.metalnn")


# Small images keep the test quick; AlexNet and VGG pool adaptively to 6x6 / 7x7, which the ONNX
# exporter supports only for the standard 224.
TORCHVISION_IMAGE_SIZES = {name: torchvision_models.small_image_size(name) for name in torchvision_models.MODEL_NAMES}


@pytest.mark.skipif(not torchvision_models.available(), reason="needs torch and torchvision")
@pytest.mark.parametrize("name", TORCHVISION_IMAGE_SIZES)
def test_torchvision_round_trip_is_bit_identical(name, tmp_path):
    size = TORCHVISION_IMAGE_SIZES[name]
    onnx_path = torchvision_models.export_onnx(name, tmp_path / f"{name}.onnx", 1, size)
    original = metalnn.load(onnx_path, device="cpu")
    mnn_path = tmp_path / f"{name}.metalnn"
    original.save(mnn_path)
    onnx_path.unlink()
    images = torchvision_models.random_images(1, size, seed=3)
    assert_bit_identical(original, metalnn.load(mnn_path, device="cpu"), {"input": images})


ALIBABA_MNN = Path(__file__).parent / "data" / "alibaba_relu.mnn"  # Relu converted by MNN's own converter


def test_formats_are_recognised_by_their_bytes(tmp_path):
    from metalnn.model_file import sniff
    ours = tmp_path / "m.metalnn"
    metalnn.load(mlp(), device="cpu").save(ours)
    mnn = ALIBABA_MNN.read_bytes()
    assert sniff(ours) == sniff(ours.read_bytes()) == "metalnn"
    assert sniff(ALIBABA_MNN) == sniff(mnn) == "mnn"
    assert sniff(mlp().SerializeToString()) == "unknown"
    # The same layout with its op list pointing past the end, or cut short, is not taken for MNN.
    root = struct.unpack_from("<I", mnn)[0]
    vtable = root - struct.unpack_from("<i", mnn, root)[0]
    oplists_slot = root + struct.unpack_from("<H", mnn, vtable + 4 + 2 * 3)[0]
    broken = bytearray(mnn)
    struct.pack_into("<I", broken, oplists_slot, len(mnn))
    assert sniff(bytes(broken)) == "unknown"
    assert sniff(mnn[:oplists_slot + 2]) == "unknown"
    assert sniff(bytes(len(mnn))) == "unknown"


def test_the_file_name_does_not_decide_the_format(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 37)).astype(np.float32)
    expected = metalnn.load(mlp(), device="cpu").run({"x": x})
    metalnn.load(mlp(), device="cpu").save(tmp_path / "ours_named.onnx")
    (tmp_path / "onnx_named.mnn").write_bytes(mlp().SerializeToString())
    for path in (tmp_path / "ours_named.onnx", tmp_path / "onnx_named.mnn"):
        got = metalnn.load(path, device="cpu").run({"x": x})
        np.testing.assert_array_equal(got["y"], expected["y"])


@pytest.mark.parametrize("source", ["path", "bytes", "renamed", "named_mnn"])
def test_alibaba_mnn_models_are_refused_clearly(source, tmp_path):
    (tmp_path / "relu.bin").write_bytes(ALIBABA_MNN.read_bytes())
    (tmp_path / "junk.mnn").write_bytes(b"\x00\x01 not any model format")
    arg = {"path": ALIBABA_MNN, "bytes": ALIBABA_MNN.read_bytes(), "renamed": tmp_path / "relu.bin",
           "named_mnn": tmp_path / "junk.mnn"}[source]
    with pytest.raises(metalnn.ModelError, match=r"this is an MNN model \(Alibaba MNN\), not a metalnn model"):
        metalnn.load(arg, device="cpu")


def test_the_cpp_reader_refuses_alibaba_mnn_too():
    """Apps load through the C++ reader alone: it gives the same message for a file and for bytes."""
    with pytest.raises(metalnn.ModelError, match="Alibaba MNN"):
        _native.load_model_file(str(ALIBABA_MNN), "cpu", "float32")
    with pytest.raises(metalnn.ModelError, match="model in memory: this is an MNN model"):
        _native.load_model_bytes(ALIBABA_MNN.read_bytes(), "cpu", "float32")
