"""A static model loaded from an ONNX file on the cpu device frees each weight once its kernels hold a
packed or transformed copy. What reads the originals later (saving, profiling) compiles the model
again from the file; models with free dimensions, loaded from bytes or on other devices keep them.
Outputs match ONNX Runtime throughout."""

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
from metalnn import _native
from test_onnx_file import _PEAK_PROBE, stacked_linear_model


def conv_gemm_model(rng, batch: int | str = 2) -> onnx.ModelProto:
    """3x3 conv with 32 channels (Winograd), 1x1 conv, 3x3 stride-2 conv (im2col), Gemm and MatMul:
    every kind of packed weight the cpu kernels make."""
    def w(*shape):
        return (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)
    inits = {"w1": w(32, 32, 3, 3), "b1": w(32), "w2": w(48, 32, 1, 1), "w3": w(40, 48, 3, 3),
             "w4": w(40 * 4 * 4, 24), "b4": w(24), "w5": w(24, 20)}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"]),
        helper.make_node("Conv", ["c2", "w3"], ["c3"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Flatten", ["c3"], ["f"]),
        helper.make_node("Gemm", ["f", "w4", "b4"], ["g"]),
        helper.make_node("Relu", ["g"], ["r4"]),
        helper.make_node("MatMul", ["r4", "w5"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "packed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 32, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 20])],
        [numpy_helper.from_array(a, name) for name, a in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def ort_run(path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def released(model: metalnn.Model) -> list[str]:
    """Names of the optimised graph's constants whose data was freed."""
    return [name for name, address, nbytes in _native._constant_addresses(model._native) if address == 0 and nbytes]


@pytest.fixture
def static_file(tmp_path, rng):
    path = tmp_path / "packed.onnx"
    onnx.save(conv_gemm_model(rng), path)
    return path


def test_released_weights_run_again_and_match_onnxruntime(static_file, rng):
    model = metalnn.load(static_file, device="cpu")
    assert model._native.weights_released
    assert len(released(model)) >= 3  # the Winograd conv, the Gemm and the MatMul at least
    for _ in range(3):
        x = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
        np.testing.assert_allclose(model.run({"x": x})["y"], ort_run(static_file, x), rtol=1e-4, atol=1e-4)
    assert model.summary().params == metalnn.load(static_file.read_bytes(), device="cpu").summary().params


def test_save_and_profile_compile_again_from_the_file(static_file, tmp_path, rng):
    model = metalnn.load(static_file, device="cpu")
    x = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
    saved = tmp_path / "packed.metalnn"
    model.save(saved)
    reloaded = metalnn.load(saved, device="cpu")
    expected = ort_run(static_file, x)
    np.testing.assert_allclose(reloaded.run({"x": x})["y"], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(reloaded.run({"x": x})["y"], model.run({"x": x})["y"])
    profile = model.profile({"x": x}, runs=2, warmup=1)
    assert {layer.op for layer in profile.layers} >= {"Conv", "Gemm"}
    with pytest.raises(metalnn.ModelError, match="released"):
        _native.save_model_file(model._native, str(tmp_path / "direct.metalnn"))


def test_a_changed_file_is_not_read_back(static_file, tmp_path, rng):
    model = metalnn.load(static_file, device="cpu")
    onnx.save(conv_gemm_model(rng), static_file)  # other weights, the same size
    os.utime(static_file, ns=(1, 1))
    with pytest.raises(metalnn.ModelError, match="changed since the model was loaded"):
        model.save(tmp_path / "stale.metalnn")
    x = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
    assert np.isfinite(model.run({"x": x})["y"]).all()  # the packed weights it runs on are its own


def test_free_dims_bytes_and_other_devices_keep_the_weights(tmp_path, rng):
    path = tmp_path / "free.onnx"
    onnx.save(conv_gemm_model(rng, batch="n"), path)
    model = metalnn.load(path, device="cpu")
    assert not model._native.weights_released
    for batch in (1, 3, 2):
        x = rng.standard_normal((batch, 32, 8, 8)).astype(np.float32)
        np.testing.assert_allclose(model.run({"x": x})["y"], ort_run(path, x), rtol=1e-4, atol=1e-4)
    static = tmp_path / "static.onnx"
    onnx.save(conv_gemm_model(rng), static)
    from_bytes = metalnn.load(static.read_bytes(), device="cpu")
    assert not from_bytes._native.weights_released and not released(from_bytes)
    x = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(from_bytes.run({"x": x})["y"], ort_run(static, x), rtol=1e-4, atol=1e-4)
    if "metal-sim" in metalnn.devices():
        sim = metalnn.load(static, device="metal-sim")
        assert not sim._native.weights_released
        np.testing.assert_allclose(sim.run({"x": x})["y"], ort_run(static, x), rtol=1e-3, atol=1e-3)


def test_two_models_of_one_file_each_run_on_their_own_weights(static_file, rng):
    """Packed forms are shared by source address only while that source lives."""
    first = metalnn.load(static_file, device="cpu")
    second = metalnn.load(static_file, device="cpu")
    x = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
    expected = ort_run(static_file, x)
    del first
    np.testing.assert_allclose(second.run({"x": x})["y"], expected, rtol=1e-4, atol=1e-4)
    third = metalnn.load(static_file, device="cpu")
    np.testing.assert_allclose(third.run({"x": x})["y"], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_packed_weights_do_not_sit_beside_their_originals(tmp_path, rng):
    """8 weights of 8 MB, each packed for the GEMM: with the originals kept the peak was both copies
    (over 128 MB); freed as each is packed, it is one copy plus the weight being packed."""
    features, layers = 1448, 8
    path = tmp_path / "big.onnx"
    onnx.save(stacked_linear_model(rng, features, layers), path)
    weights_mb = layers * features * features * 4 / 2**20
    env = {key: value for key, value in os.environ.items() if key != "METALNN_GEMM_ISA"}
    out = subprocess.run([sys.executable, "-c", _PEAK_PROBE, str(path), str(features)], check=True,
                         capture_output=True, text=True, env=env).stdout
    peak = json.loads(out.splitlines()[-1])["peak_mb"]
    assert peak < 1.5 * weights_mb, f"loading {weights_mb:.0f} MB of packed weights peaked at {peak:.0f} MB"


@pytest.mark.parametrize("batch", [1, 3])
def test_weights_a_pass_replaced_are_freed_too(tmp_path, rng, batch):
    """A BatchNorm folded into its convolution leaves the convolution's original weight unread; that
    original is freed with the rest, not kept for the executable's lifetime."""
    def w(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    inits = {"w": w(48, 40, 3, 3) * 0.1, "scale": w(48), "shift": w(48), "mean": w(48),
             "var": np.abs(w(48)) + 0.5, "w2": w(24, 48, 1, 1) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["b"]),
             helper.make_node("Relu", ["b"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["y"])]
    graph = helper.make_graph(
        nodes, "folded", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 40, 11, 13])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 24, 11, 13])],
        [numpy_helper.from_array(a, name) for name, a in inits.items()])
    path = tmp_path / "folded.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    model = metalnn.load(path, device="cpu")
    kept = [(name, nbytes) for name, address, nbytes in _native._constant_addresses(model._native)
            if address != 0 and nbytes >= 4096]
    assert not kept, f"weights still held after packing: {kept}"
    x = rng.standard_normal((batch, 40, 11, 13)).astype(np.float32)
    np.testing.assert_allclose(model.run({"x": x})["y"], ort_run(path, x), rtol=1e-4, atol=1e-4)
