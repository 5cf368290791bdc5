"""`metalnn profile MODEL`: per-layer times on the cpu device, as a table and as a Chrome trace."""
from __future__ import annotations

import argparse
import json
from typing import Any

import metalnn

from ..cpu_peak import CpuPeak, cpu_peak
from .common import (add_model_argument, add_shape_option, format_count, load_model, model_inputs, positive_int,
                     table)


def register(commands: Any) -> None:
    """Adds the `profile` subcommand."""
    parser = commands.add_parser(
        "profile", help="per-layer times (table and Chrome/Perfetto trace)",
        description="Time every layer of the optimised model on the cpu device over random inputs; print the "
                    "slowest layers and optionally write a Chrome trace (chrome://tracing, ui.perfetto.dev).")
    add_model_argument(parser)
    add_shape_option(parser)
    parser.add_argument("--runs", type=positive_int, default=10, metavar="N", help="profiled runs (default: %(default)s)")
    parser.add_argument("--top", type=positive_int, default=None, metavar="N", help="print only the N slowest layers")
    parser.add_argument("--trace", metavar="FILE.json", help="write a Chrome-trace / Perfetto JSON file")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="cpu threads (default: METALNN_NUM_THREADS or every core)")
    parser.add_argument("--clock-ghz", type=float, default=None, metavar="GHZ",
                        help="clock for the peak (default: the highest /proc/cpuinfo reports)")
    parser.set_defaults(handler=run, device="cpu", precision="float32")


def render(profile: Any, top: int | None, peak: CpuPeak | None = None) -> str:
    """The per-layer table, slowest first, with each layer's share, GFLOP/s and share of the CPU's peak."""
    total = profile.total_ms or 1.0
    layers = sorted(profile.layers, key=lambda layer: -layer.median_ms)[:top]

    rows = []
    for layer in layers:
        rate = layer.flops / (layer.median_ms * 1e6) if layer.flops and layer.median_ms else None
        rows.append((layer.label, layer.op, f"{layer.median_ms:.3f}", f"{100 * layer.median_ms / total:.1f}",
                     f"{rate:.1f}" if rate else "-", f"{100 * rate / peak.gflops:.0f}" if rate and peak else "-",
                     format_count(layer.flops) if layer.flops else "-"))
    head = (f"{len(profile.layers)} layers on {profile.device}, median of {profile.runs} runs: "
            f"{profile.total_ms:.3f} ms in layers")
    if peak:
        head += f"\npeak {peak.gflops:.0f} GFLOP/s = {peak.how}"
    return head + "\n" + table(("layer", "op", "ms", "%", "GFLOP/s", "% of peak", "FLOPs"), rows,
                               (False, False, True, True, True, True, True))


def run(args: argparse.Namespace) -> int:
    """Loads on cpu, profiles, prints the table and writes the trace."""
    model, _ = load_model(args)
    feeds = model_inputs(args, model)
    profile = model.profile(feeds, runs=args.runs)
    print(render(profile, args.top, cpu_peak(args.threads or metalnn.get_num_threads(), args.clock_ghz)))
    if args.trace:
        with open(args.trace, "w", encoding="utf-8") as f:
            json.dump(profile.chrome_trace(), f)
        print(f"wrote {args.trace} (open in ui.perfetto.dev or chrome://tracing)")
    return 0
