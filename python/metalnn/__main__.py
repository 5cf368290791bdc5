"""Command line: `python -m metalnn demo [--device D]`."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `metalnn` command."""
    parser = argparse.ArgumentParser(prog="metalnn", description="metalnn inference engine")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="classify a generated image with a model built on the fly")
    demo.add_argument("--device", default="auto", help="auto, cpu, metal or metal-sim")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        return demo_main(args.device)
    return 2


if __name__ == "__main__":
    sys.exit(main())
