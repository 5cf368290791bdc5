"""`metalnn convert MODEL.onnx [-o MODEL.metalnn]`: an optimised .metalnn file for apps without Python."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_model_argument, check_model_path


def register(commands: Any) -> None:
    """Adds the `convert` subcommand."""
    parser = commands.add_parser(
        "convert", help="convert an ONNX model to a .metalnn file",
        description="Import an ONNX model, optimise it and write it as a .metalnn file (docs/format.md). Free "
                    "input dimensions are saved at size 1.")
    add_model_argument(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="the file to write (default: MODEL with suffix .metalnn)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Converts and reports what it wrote."""
    from metalnn.convert import convert

    source = check_model_path(args.model)
    output = Path(args.output) if args.output else source.with_suffix(".metalnn")
    model = convert(source, output, show_progress=not args.quiet)
    if not args.quiet:
        print(f"wrote {output}: {len(model.inputs)} inputs, {len(model.outputs)} outputs")
    return 0
