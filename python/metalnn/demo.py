"""`python -m metalnn demo`: builds a small edge-detecting classifier and runs it on a generated image."""
from __future__ import annotations

import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LABELS = ("vertical stripes", "horizontal stripes")


def build_classifier(size: int = 64) -> onnx.ModelProto:
    """A CNN whose hand-set weights tell vertical from horizontal stripes: Sobel filters, |.|, pooling, a linear layer."""
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    weights = np.stack([sobel_x, sobel_x.T])[:, None]  # [2, 1, 3, 3]: responds to vertical, horizontal edges
    classifier = np.array([[4.0, -4.0], [-4.0, 4.0]], np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "sobel"], ["edges"], name="edges", pads=[1, 1, 1, 1]),
        helper.make_node("Abs", ["edges"], ["magnitude"], name="magnitude"),
        helper.make_node("GlobalAveragePool", ["magnitude"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["features"], name="flatten"),
        helper.make_node("Gemm", ["features", "classifier"], ["logits"], name="classifier"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "stripes",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(weights, "sobel"), numpy_helper.from_array(classifier, "classifier")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def make_image(vertical: bool, size: int = 64, seed: int = 0) -> np.ndarray:
    """Stripes 4 pixels wide with noise, as a [1, 1, size, size] float32 image."""
    rng = np.random.default_rng(seed)
    stripes = ((np.arange(size) // 4) % 2).astype(np.float32)
    image = np.tile(stripes, (size, 1)) if vertical else np.tile(stripes[:, None], (1, size))
    image += rng.normal(0, 0.1, image.shape).astype(np.float32)
    return image[None, None].astype(np.float32)


def main(device: str = "auto") -> int:
    """Classifies one image of each kind of stripes; status 0 when both come out right."""
    import metalnn

    model = metalnn.load(build_classifier(), device=device)
    print(f"metalnn {metalnn.__version__}: devices {metalnn.devices()}, running on '{model.device}'")
    ok = True
    for vertical in (True, False):
        image = make_image(vertical, seed=int(vertical))
        start = time.perf_counter()
        probabilities = model(image)[0]
        elapsed_ms = (time.perf_counter() - start) * 1e3
        label = LABELS[int(np.argmax(probabilities))]
        truth = LABELS[0 if vertical else 1]
        ok &= label == truth
        print(f"image of {truth}: classified as {label} (p={probabilities.max():.3f}) in {elapsed_ms:.2f} ms")
    return 0 if ok else 1
