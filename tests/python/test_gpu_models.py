"""The six torchvision classifiers on every GPU device (metal-sim, and metal where it exists) at a
reduced resolution, against the cpu device; one of them also in float16."""

import time

import numpy as np
import pytest

from metalnn import load
from metalnn.torchvision_models import MODEL_NAMES, export_onnx, random_images, small_image_size
from op_check import GPU_DEVICES

pytestmark = pytest.mark.skipif(not GPU_DEVICES, reason="no GPU device")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gpu_models")
    paths = {}

    def get(name: str):
        if name not in paths:
            size = small_image_size(name)
            paths[name] = export_onnx(name, directory / f"{name}_{size}.onnx", 1, image_size=size)
        return paths[name]

    return get


def max_error(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    return float(np.abs(actual - expected).max()), float(np.abs(expected).max())


@pytest.mark.parametrize("device", GPU_DEVICES)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_matches_cpu(name, device, exported):
    path = exported(name)
    images = random_images(1, small_image_size(name), seed=3)
    expected = load(path, device="cpu").run({"input": images})["logits"]
    model = load(path, device=device)
    start = time.perf_counter()
    actual = model.run({"input": images})["logits"]
    elapsed = time.perf_counter() - start
    assert actual.shape == expected.shape and actual.dtype == np.float32
    error, scale = max_error(actual, expected)
    assert error <= 1e-4 * scale + 1e-5, f"{name}: max |delta| {error:.3g} (max |ref| {scale:.3g}), run {elapsed:.2f}s"


@pytest.mark.parametrize("device", GPU_DEVICES)
def test_resnet18_float16(device, exported):
    """float16 stores activations and weights in half: agreement to about 1% of the logits' range."""
    path = exported("resnet18")
    images = random_images(1, small_image_size("resnet18"), seed=4)
    expected = load(path, device="cpu").run({"input": images})["logits"]
    model = load(path, device=device, precision="float16")
    assert model.precision == "float16"
    actual = model.run({"input": images})["logits"]
    assert actual.dtype == np.float32
    error, scale = max_error(actual, expected)
    assert error <= 2e-2 * scale, f"max |delta| {error:.3g} (max |ref| {scale:.3g})"
    assert np.argmax(actual) == np.argmax(expected)
