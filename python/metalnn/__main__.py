"""Command line: `metalnn demo [--device D]`, `metalnn convert model.onnx -o model.mnn`, `metalnn doctor`."""
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
    doctor = commands.add_parser("doctor", help="check the GPU device against cpu and print a report to send back")
    doctor.add_argument("--device", help="the GPU device to check (default: metal where available, else metal-sim)")
    doctor.add_argument("--ops", help="only the op test cases of these op types, comma-separated (default: all)")
    doctor.add_argument("--models", help="only these models, comma-separated: demo and the torchvision names "
                        "(default: all; 'none' for none)")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from .doctor import run as run_doctor

        models = None if args.models is None else [m for m in args.models.split(",") if m and m != "none"]
        ops = args.ops.split(",") if args.ops else None
        return 0 if run_doctor(args.device, ops, models) else 1
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
