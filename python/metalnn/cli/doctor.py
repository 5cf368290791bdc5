"""`metalnn doctor`: the self-check to run first on a new machine and send back (see metalnn.doctor)."""
from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Adds the `doctor` subcommand."""
    parser = commands.add_parser(
        "doctor", help="check the GPU device against cpu and print a report to send back",
        description="Print the platform and GPU, build a pipeline for every kernel, then run ONNX's op test cases "
                    "and the small models on the GPU device against cpu, ending with a one-line verdict.")
    parser.add_argument("--device", help="the GPU device to check (default: metal where available, else metal-sim)")
    parser.add_argument("--ops", help="only the op test cases of these op types, comma-separated (default: all)")
    parser.add_argument("--models", help="only these models, comma-separated: demo and the torchvision names "
                        "(default: all; 'none' for none)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Runs the checks; exit status 0 when every one passed."""
    from metalnn.doctor import run as run_doctor

    models = None if args.models is None else [m for m in args.models.split(",") if m and m != "none"]
    ops = args.ops.split(",") if args.ops else None
    return 0 if run_doctor(args.device, ops, models) else 1
