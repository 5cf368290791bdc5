"""Command line: `metalnn demo [--device D]`, `metalnn convert model.onnx -o model.mnn`."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `metalnn` command."""
    parser = argparse.ArgumentParser(prog="metalnn", description="metalnn inference engine")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="classify a generated image with a model built on the fly")
    demo.add_argument("--device", default="auto", help="auto, cpu, metal or metal-sim")
    convert = commands.add_parser("convert", help="convert an ONNX model to a .mnn file")
    convert.add_argument("model", help="the .onnx file")
    convert.add_argument("-o", "--output", required=True, help="the .mnn file to write")
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.command == "convert":
        from .convert import convert as convert_model

        model = convert_model(args.model, args.output, show_progress=not args.quiet)
        if not args.quiet:
            print(f"wrote {args.output}: {len(model.inputs)} inputs, {len(model.outputs)} outputs")
        return 0
    if args.command == "demo":
        from .demo import main as demo_main

        return demo_main(args.device)
    return 2


if __name__ == "__main__":
    sys.exit(main())
