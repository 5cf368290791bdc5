"""What several commands share: model and device options, loading, input specs, and formatting."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

DEVICES = ("auto", "cpu", "metal", "metal-sim")


class CommandError(Exception):
    """A problem with what the user asked for, reported as one line."""


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """MODEL: an ONNX or .metalnn file."""
    parser.add_argument("model", metavar="MODEL", help="an ONNX (.onnx) or metalnn (.metalnn) model file")


def add_device_options(parser: argparse.ArgumentParser, threads: bool = True) -> None:
    """--device, --precision and --threads."""
    parser.add_argument("--device", default="auto", choices=DEVICES, help="where to run (default: %(default)s)")
    parser.add_argument("--precision", default="float32", choices=("float32", "float16"),
                        help="storage precision on the GPU devices (default: %(default)s)")
    if threads:
        parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                            help="cpu threads (default: METALNN_NUM_THREADS or every core)")


def add_shape_option(parser: argparse.ArgumentParser) -> None:
    """--batch and --shape for inputs with free dimensions."""
    parser.add_argument("--batch", type=positive_int, default=None, metavar="N",
                        help="batch size for inputs whose first dimension is free (default: 1)")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=DxDx...",
                        help="the shape of an input with free dimensions, e.g. input=1x3x480x640 (repeatable)")
    parser.add_argument("--inputs", metavar="FILE.npz",
                        help="the inputs, one array per input name (default: random: standard normal floats, "
                             "integers 0 or 1, which index any table and are valid masks)")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def check_model_path(path: str) -> Path:
    """The model path, or CommandError when there is no such file."""
    model_path = Path(path)
    if not model_path.is_file():
        raise CommandError(f"no such model file: '{path}'")
    return model_path


def load_model(args: argparse.Namespace) -> tuple[Any, float]:
    """Loads args.model for args.device/precision/threads; returns the model and the seconds it took."""
    import metalnn

    path = check_model_path(args.model)
    start = time.perf_counter()
    model = metalnn.load(path, device=args.device, precision=args.precision, threads=getattr(args, "threads", None))
    return model, time.perf_counter() - start


def parse_shapes(specs: Sequence[str], model: Any) -> dict[str, tuple[int, ...]]:
    """`--shape name=1x3x224x224` options by input name."""
    names = [info.name for info in model.inputs]
    shapes = {}
    for spec in specs:
        name, sep, dims = spec.partition("=")
        if not sep or not name or not dims:
            raise CommandError(f"bad --shape '{spec}': expected NAME=DxDx..., e.g. input=1x3x224x224")
        if name not in names:
            raise CommandError(f"bad --shape '{spec}': the model has no input '{name}' (inputs: {', '.join(names)})")
        try:
            shapes[name] = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            raise CommandError(f"bad --shape '{spec}': dimensions must be integers separated by 'x'") from None
    return shapes


def input_shape(info: Any, batch: int | None, shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """A concrete shape for input `info`: --shape, else its dims with a free first dim at --batch."""
    if info.name in shapes:
        return shapes[info.name]
    dims = list(info.shape)
    if batch is not None and dims:
        if dims[0] >= 0 and dims[0] != batch:
            raise CommandError(f"input '{info.name}' has a fixed batch of {dims[0]}; --batch {batch} needs a model "
                               f"exported with a free batch dimension")
        dims[0] = batch
    elif dims and dims[0] < 0:
        dims[0] = 1
    if any(d < 0 for d in dims):
        raise CommandError(f"input '{info.name}' has free dimensions {format_shape(info.shape)}; give its shape "
                           f"with --shape {info.name}=DxDx...")
    return tuple(dims)


def model_inputs(args: argparse.Namespace, model: Any) -> dict[str, np.ndarray]:
    """The inputs --inputs names, else random ones shaped by --batch and --shape."""
    if not args.inputs:
        return random_inputs(model, args.batch, parse_shapes(args.shape, model))
    try:
        with np.load(args.inputs, allow_pickle=False) as archive:
            feeds = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot read --inputs '{args.inputs}': {e}") from None
    names = [info.name for info in model.inputs]
    missing = [name for name in names if name not in feeds]
    if missing:
        raise CommandError(f"--inputs '{args.inputs}' has no array for input(s) {', '.join(missing)} "
                           f"(it holds: {', '.join(feeds) or 'nothing'})")
    return {name: feeds[name] for name in names}


def random_inputs(model: Any, batch: int | None, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs of the model's dtypes: standard normal floats; integers 0 or 1, in range for any
    lookup table (token ids, token types, positions) and valid as masks."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in model.inputs:
        shape = input_shape(info, batch, shapes)
        if info.dtype.kind == "f":
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype.kind == "b":
            feeds[info.name] = rng.integers(0, 2, shape).astype(info.dtype)
        else:
            feeds[info.name] = rng.integers(0, 2, shape).astype(info.dtype)
    return feeds


def format_shape(shape: Sequence[Any]) -> str:
    """[1, 3, 224, 224], free dims by name or '?'."""
    return "[" + ", ".join("?" if isinstance(d, int) and d < 0 else str(d) for d in shape) + "]"


def format_bytes(n: float) -> str:
    """Bytes in B, kB, MB or GB (powers of 1000)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def format_count(n: float) -> str:
    """A count with K, M or G."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def peak_memory_bytes() -> int | None:
    """The process's peak resident memory, where the platform reports it."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if os.uname().sysname == "Darwin" else peak * 1024)
