"""The six torchvision classifiers on metal-sim at a reduced resolution, against the cpu device;
one of them also in float16."""

import time

import numpy as np
import pytest

import metalnn
from torchvision_export import MODEL_NAMES, export_onnx, random_images

pytestmark = pytest.mark.skipif("metal-sim" not in metalnn.devices(), reason="no metal-sim device")

# 64x64 keeps the simulator fast. AlexNet and VGG end in an adaptive average pool to 6x6 / 7x7 that
# the ONNX exporter only accepts when the feature map is a multiple of it, which needs 224x224.
IMAGE_SIZES = {"alexnet": 224, "vgg16": 224}
IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gpu_models")
    paths = {}

    def get(name: str):
        if name not in paths:
            size = IMAGE_SIZES.get(name, IMAGE_SIZE)
            paths[name] = export_onnx(name, directory / f"{name}_{size}.onnx", 1, image_size=size)
        return paths[name]

    return get


def max_error(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    return float(np.abs(actual - expected).max()), float(np.abs(expected).max())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_matches_cpu(name, exported):
    path = exported(name)
    images = random_images(1, IMAGE_SIZES.get(name, IMAGE_SIZE), seed=3)
    expected = metalnn.load(path, device="cpu").run({"input": images})["logits"]
    model = metalnn.load(path, device="metal-sim")
    start = time.perf_counter()
    actual = model.run({"input": images})["logits"]
    elapsed = time.perf_counter() - start
    assert actual.shape == expected.shape and actual.dtype == np.float32
    error, scale = max_error(actual, expected)
    assert error <= 1e-4 * scale + 1e-5, f"{name}: max |delta| {error:.3g} (max |ref| {scale:.3g}), run {elapsed:.2f}s"


def test_resnet18_float16(exported):
    """float16 stores activations and weights in half: agreement to about 1% of the logits' range."""
    path = exported("resnet18")
    images = random_images(1, IMAGE_SIZE, seed=4)
    expected = metalnn.load(path, device="cpu").run({"input": images})["logits"]
    model = metalnn.load(path, device="metal-sim", precision="float16")
    assert model.precision == "float16"
    actual = model.run({"input": images})["logits"]
    assert actual.dtype == np.float32
    error, scale = max_error(actual, expected)
    assert error <= 2e-2 * scale, f"max |delta| {error:.3g} (max |ref| {scale:.3g})"
    assert np.argmax(actual) == np.argmax(expected)
