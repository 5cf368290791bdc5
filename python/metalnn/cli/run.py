"""`metalnn run MODEL --input name=file`: one inference on NumPy arrays or images; prints or saves the outputs."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from .common import CommandError, add_device_options, add_model_argument, format_shape, load_model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def register(commands: Any) -> None:
    """Adds the `run` subcommand."""
    parser = commands.add_parser(
        "run", help="run a model once on .npy arrays or images",
        description="Run a model once. Each --input is NAME=FILE (or just FILE for a one-input model): a .npy "
                    "array, or an image that is resized to the input's size (or --size), scaled by --scale, "
                    "normalised by --mean/--std per channel and laid out NCHW. With --labels, the top classes of "
                    "the first output are printed.",
        epilog="example: metalnn run squeezenet.onnx --input data=cat.jpg --size 227 --scale 1 --bgr "
               "--mean 104 117 123 --labels imagenet.txt")
    add_model_argument(parser)
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=FILE",
                        help="an input as NAME=file.npy or NAME=image.png (repeat for each input)")
    parser.add_argument("--output", "-o", metavar="FILE.npz", help="save every output into one .npz file")
    image = parser.add_argument_group("image inputs")
    image.add_argument("--size", type=int, nargs="+", metavar="N", help="resize to N x N, or H W (default: the input's size)")
    image.add_argument("--scale", type=float, default=1 / 255, help="multiply pixel values (0-255) by this first (default: 1/255)")
    image.add_argument("--mean", type=float, nargs=3, default=(0.0, 0.0, 0.0), metavar="M", help="per-channel mean to subtract")
    image.add_argument("--std", type=float, nargs=3, default=(1.0, 1.0, 1.0), metavar="S", help="per-channel std to divide by")
    image.add_argument("--bgr", action="store_true", help="channels in BGR order (Caffe models)")
    image.add_argument("--nhwc", action="store_true", help="lay images out as [1, H, W, 3] instead of [1, 3, H, W]")
    labels = parser.add_argument_group("classification")
    labels.add_argument("--labels", metavar="FILE", help="class names, one per line: print the top classes of the first output")
    labels.add_argument("--top", type=int, default=5, metavar="K", help="how many classes to print (default: %(default)s)")
    add_device_options(parser)
    parser.set_defaults(handler=run)


def parse_inputs(specs: list[str], model: Any) -> dict[str, Path]:
    """NAME=FILE specs by input name; a bare FILE for a one-input model."""
    names = [info.name for info in model.inputs]
    if not specs:
        raise CommandError(f"no --input given; the model takes {', '.join(names)}")
    files: dict[str, Path] = {}
    for spec in specs:
        name, sep, file = spec.rpartition("=") if "=" in spec else ("", "", spec)
        if sep and (not name or not file):
            raise CommandError(f"bad --input '{spec}': expected NAME=FILE")
        if not sep:
            if len(names) != 1:
                raise CommandError(f"bad --input '{spec}': the model has {len(names)} inputs, write NAME=FILE "
                                   f"with NAME one of {', '.join(names)}")
            name = names[0]
        if name not in names:
            raise CommandError(f"bad --input '{spec}': the model has no input '{name}' (inputs: {', '.join(names)})")
        if not Path(file).is_file():
            raise CommandError(f"bad --input '{spec}': no such file '{file}'")
        files[name] = Path(file)
    missing = [n for n in names if n not in files]
    if missing:
        raise CommandError(f"missing --input for {', '.join(missing)}")
    return files


def read_input(info: Any, path: Path, args: argparse.Namespace) -> np.ndarray:
    """The array for one input: a .npy file as it is, or a preprocessed image."""
    from metalnn.preprocess import load_image

    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise CommandError(f"input '{info.name}': '{path}' is neither a .npy file nor an image ({', '.join(IMAGE_SUFFIXES)})")
    spatial = info.shape[1:3] if args.nhwc else info.shape[2:4]
    if args.size:
        if len(args.size) > 2:
            raise CommandError(f"--size takes N or H W, got {len(args.size)} numbers")
        size = (args.size[0], args.size[-1])
    elif len(info.shape) == 4 and all(d > 0 for d in spatial):
        size = (spatial[0], spatial[1])
    else:
        raise CommandError(f"input '{info.name}' has shape {format_shape(info.shape)}; give the image size with --size")
    image = load_image(path, size, args.mean, args.std, args.scale, args.bgr, "nhwc" if args.nhwc else "nchw")
    return image.astype(info.dtype, copy=False)


def run(args: argparse.Namespace) -> int:
    """Loads, reads the inputs, runs once, prints (or saves) the outputs."""
    from metalnn.preprocess import read_labels, top_k

    if args.top < 1:
        raise CommandError(f"--top must be at least 1, got {args.top}")
    labels = read_labels(args.labels) if args.labels else None
    model, _ = load_model(args)
    files = parse_inputs(args.input, model)
    feeds = {info.name: read_input(info, files[info.name], args) for info in model.inputs}
    outputs = model.run(feeds)
    print(f"ran on {model.device}")
    for name, value in outputs.items():
        stats = (f" min {value.min():.6g} max {value.max():.6g} mean {value.mean():.6g}"
                 if value.size and value.dtype.kind in "fiu" else "")
        print(f"{name}: {value.dtype} {format_shape(value.shape)}{stats}")
    if labels is not None:
        first = next(iter(outputs.values()))
        for rank, (index, score, label) in enumerate(top_k(first[0] if first.ndim > 1 else first, labels, args.top), 1):
            print(f"  {rank}. {label} (class {index}): {score:.4f}")
    if args.output:
        np.savez(args.output, **outputs)
        print(f"saved {len(outputs)} output(s) to {args.output}")
    return 0
