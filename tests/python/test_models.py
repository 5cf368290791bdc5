"""Whole torchvision classifiers (random weights) on the cpu device against ONNX Runtime."""

import numpy as np
import onnxruntime as ort
import pytest

import metalnn
from metalnn.torchvision_models import MODEL_NAMES, export_onnx, random_images

BATCHES = (1, 4)


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory):
    """Export each (model, batch) once per session; returns a function giving the file's path."""
    directory = tmp_path_factory.mktemp("torchvision")
    paths = {}

    def get(name: str, batch: int):
        if (name, batch) not in paths:
            paths[name, batch] = export_onnx(name, directory / f"{name}_b{batch}.onnx", batch)
        return paths[name, batch]

    return get


def run_onnx_runtime(path, images):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": images})[0]


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_matches_onnx_runtime(name, batch, exported_model):
    path = exported_model(name, batch)
    images = random_images(batch, seed=batch)
    expected = run_onnx_runtime(path, images)
    model = metalnn.load(path, device="cpu")
    actual = model.run({"input": images})["logits"]
    assert actual.shape == expected.shape == (batch, 1000)
    assert actual.dtype == np.float32
    error = float(np.abs(actual - expected).max())
    limit = 1e-4 * float(np.abs(expected).max()) + 1e-5
    assert error <= limit, f"{name} batch {batch}: max |delta| {error:.3g} > {limit:.3g}"
