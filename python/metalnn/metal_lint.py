"""Checks .metal files against the MSL rules metal-sim enforces when it translates them.

    python -m metalnn.metal_lint [-I DIR] [--no-address-spaces] FILE...

Prints one `file:line: rule: message` per violation and exits with status 1 when there is any.
The address-space check needs clang++ 14 or later on PATH; without one it is skipped with a note."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

from .sim.msl_translator import AUTO, TranslationError, Violation, find_clang, translate_file


def lint(paths: Iterable[str], include_dirs: Sequence[str] = (), address_spaces: bool = True) -> list[Violation]:
    """Every violation in the given .metal files (an empty list when they follow the rules)."""
    violations = []
    for path in paths:
        try:
            translate_file(path, include_dirs=include_dirs, clang=AUTO if address_spaces else None)
        except TranslationError as e:
            violations += e.violations
    return violations


def main(argv: Sequence[str] | None = None) -> int:
    """Checks each file; prints `file:line: rule: message` per violation and returns 1 if there was any."""
    parser = argparse.ArgumentParser(prog="python -m metalnn.metal_lint", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("-I", dest="include_dirs", action="append", default=[], help="header search directory")
    parser.add_argument("--no-address-spaces", action="store_true", help="skip the clang address-space check")
    args = parser.parse_args(argv)
    check_spaces = not args.no_address_spaces
    if check_spaces and find_clang() is None:
        print("metal_lint: note: no clang++ 14 or later on PATH, address-space check skipped", file=sys.stderr)
    violations = lint(args.files, args.include_dirs, check_spaces)
    for v in violations:
        print(v)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
