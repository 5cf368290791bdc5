"""The `metalnn` command: one module per subcommand in this package, each with `register(commands)`.

Adding a command is one module here and one name in COMMANDS. Errors print one line on stderr and
exit with status 1 (2 for a usage error); METALNN_TRACEBACK=1 shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn, Sequence

# Subcommands, in the order `metalnn --help` lists them; each names a module of this package.
COMMANDS = ("info", "run", "bench", "profile", "convert", "demo", "doctor")


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line on stderr (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Prints `prog: error: message` and a pointer to --help, then exits with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets `handler`, the function that runs it."""
    from .. import __version__

    parser = ArgumentParser(
        prog="metalnn",
        description="Inspect, run, time and convert neural-network models (ONNX or .metalnn) with metalnn.",
        epilog="Run `metalnn COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"metalnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=ArgumentParser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(commands)
    return parser


def error_line(exc: BaseException) -> str:
    """One line that says what went wrong, without a traceback."""
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror or exc}: '{exc.filename}'"
    elif isinstance(exc, KeyError) and exc.args:  # str() of a KeyError quotes its message
        text = str(exc.args[0])
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `metalnn` command; returns the exit status."""
    from ..errors import Error
    from .common import CommandError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("metalnn: interrupted", file=sys.stderr)
        return 130
    except (Error, CommandError, OSError, ValueError, KeyError, TypeError, ImportError) as exc:
        if os.environ.get("METALNN_TRACEBACK"):
            raise
        print(f"metalnn {args.command}: error: {error_line(exc)}", file=sys.stderr)
        return 1
