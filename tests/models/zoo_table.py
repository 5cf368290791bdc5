"""Runs the model zoo and prints its table: model, exporter, device, error against ONNX Runtime, and
load and run times of metalnn and ONNX Runtime (markdown).

    python tests/models/zoo_table.py [--zoo default|full] [--devices cpu metal-sim] [--only NAME ...]

Exports come from the zoo's cache (exported on first use). A model that fails says why in the error
column (an op still pending shows the error metalnn raised). Times are single runs after one warm-up
run, on a shared machine: read them as rough.
"""

from __future__ import annotations

import argparse
import fnmatch
import platform
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import zoo  # noqa: E402


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".replace("|", "/").replace("\n", " ")
    return text if len(text) < 140 else text[:137] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", choices=("default", "full"), default="full")
    parser.add_argument("--devices", nargs="+", default=zoo.DEVICES)
    parser.add_argument("--only", nargs="+", default=["*"], help="model name patterns")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import metalnn
    import onnxruntime
    import torch

    print(f"metalnn {metalnn.__version__}, onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, "
          f"{platform.machine()}, zoo cache {zoo.cache_directory()}\n")
    print("| model | family | exporter | device | max error / max ref | load s | run s | onnxruntime load s | onnxruntime run s | status |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    passed = total = 0
    for entry in zoo.ENTRIES.values():
        if not any(fnmatch.fnmatch(entry.name, p) for p in args.only):
            continue
        if args.zoo == "default" and not entry.default:
            continue
        for mode in entry.modes:
            if args.zoo == "default" and mode not in entry.default_modes:
                continue
            try:
                exported = zoo.export(entry, mode)
                expected, ref_load, ref_run = zoo.reference(exported)
            except Exception as error:  # noqa: BLE001 - the table reports every failure
                print(f"| {entry.name} | {entry.family} | {mode} | - | export failed: {_short(error)} | | | | | fail |", flush=True)
                total += len(args.devices)
                continue
            for device in args.devices:
                total += 1
                pending = zoo.pending(entry.name, mode, device)
                try:
                    actual, load, run = zoo.run(exported, device)
                    error = zoo.relative_error(actual, expected)
                    ok = error <= zoo.TOLERANCE
                    passed += ok
                    status = "pass" if ok else "FAIL"
                    if pending:
                        status += f" (listed as pending: {pending})"
                    print(f"| {entry.name} | {entry.family} | {mode} | {device} | {error:.2e} | {load:.3f} | {run:.4f} "
                          f"| {ref_load:.3f} | {ref_run:.4f} | {status} |", flush=True)
                except Exception as error:  # noqa: BLE001
                    status = f"pending: {pending}" if pending else "FAIL"
                    print(f"| {entry.name} | {entry.family} | {mode} | {device} | {_short(error)} | | | {ref_load:.3f} "
                          f"| {ref_run:.4f} | {status} |", flush=True)
    print(f"\n{passed} of {total} model/exporter/device runs match ONNX Runtime.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
