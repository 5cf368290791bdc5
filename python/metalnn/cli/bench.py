"""`metalnn bench MODEL`: load time, first run, median and p90 latency, throughput, peak memory.

With `--compare onnxruntime`, ONNX Runtime runs the same ONNX model in the same process: after
warm-up the engines take turns, each turn a short block of runs after a pause (as bench/compare.py
does), so load changes on a shared machine hit both alike and one engine's spinning threads do not
take the other's cores.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any, Callable

import numpy as np

from .common import (CommandError, add_device_options, add_model_argument, add_shape_option, format_bytes,
                     load_model, model_inputs, peak_memory_bytes, positive_int)

PAUSE_S = 0.1  # before each turn, for the previous engine's threads to go idle
BLOCK = 5      # timed runs per engine per turn


def register(commands: Any) -> None:
    """Adds the `bench` subcommand."""
    parser = commands.add_parser(
        "bench", help="time a model on random inputs (optionally against ONNX Runtime)",
        description="Time a model on random inputs: load time, first run (compiles the input shape), median "
                    "and p90 latency, throughput and peak resident memory.")
    add_model_argument(parser)
    add_shape_option(parser)
    parser.add_argument("--iters", type=positive_int, default=20, metavar="N", help="timed runs (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, metavar="N", help="untimed runs first (default: %(default)s)")
    parser.add_argument("--compare", choices=("onnxruntime",), help="also time ONNX Runtime (CPU) on the same ONNX model")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_options(parser)
    parser.set_defaults(handler=run)


def onnxruntime_runner(path: str, feeds: dict[str, np.ndarray], threads: int | None) -> Callable[[], Any]:
    """A function that runs the model once in ONNX Runtime's CPU provider with the same thread count."""
    from metalnn.model_file import sniff

    try:
        import onnxruntime as ort
    except ImportError:
        raise CommandError("--compare onnxruntime needs the onnxruntime package (pip install onnxruntime)") from None
    if sniff(path) != "unknown":
        raise CommandError("--compare onnxruntime needs the ONNX model, not a .metalnn file")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, feeds)


def stats(times_ms: list[float], batch: int) -> dict[str, float]:
    """Median, p90 and min latency in ms and throughput in samples per second."""
    median = statistics.median(times_ms)
    return {"median_ms": median, "p90_ms": float(np.percentile(times_ms, 90)), "min_ms": min(times_ms),
            "throughput_per_s": batch * 1e3 / median}


def run(args: argparse.Namespace) -> int:
    """Loads, runs once (timed as the first run), warms up, then times the engines in turns."""
    from metalnn import get_num_threads
    from metalnn.progress import steps

    if args.warmup < 0:
        raise CommandError(f"--warmup must be >= 0, got {args.warmup}")
    model, load_s = load_model(args)
    feeds = model_inputs(args, model)
    batch = next(iter(feeds.values())).shape[0] if feeds and next(iter(feeds.values())).ndim else 1
    start = time.perf_counter()
    model.run(feeds)
    first_ms = (time.perf_counter() - start) * 1e3
    engines: dict[str, Callable[[], Any]] = {"metalnn": lambda: model.run(feeds)}
    if args.compare:
        engines[args.compare] = onnxruntime_runner(args.model, feeds, args.threads)
    for run_once in engines.values():
        for _ in range(args.warmup):
            run_once()
    times: dict[str, list[float]] = {name: [] for name in engines}
    turns = -(-args.iters // BLOCK)
    for turn in steps(range(turns), "timing", turns, enabled=not args.quiet and not args.json):
        for name, run_once in engines.items():
            if len(engines) > 1:
                time.sleep(PAUSE_S)
                run_once()  # untimed: wakes this engine's threads
            for _ in range(min(BLOCK, args.iters - turn * BLOCK)):
                t0 = time.perf_counter()
                run_once()
                times[name].append((time.perf_counter() - t0) * 1e3)
    result: dict[str, Any] = {
        "model": args.model, "device": model.device, "batch": batch,
        "threads": args.threads or get_num_threads(), "iters": args.iters,
        "load_ms": load_s * 1e3, "first_run_ms": first_ms, **stats(times["metalnn"], batch),
        "peak_memory_bytes": peak_memory_bytes()}
    if args.compare:
        result[args.compare] = stats(times[args.compare], batch)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.model} on {model.device}, batch {batch}, {result['threads']} threads, {args.iters} runs")
    print(f"load:        {result['load_ms']:.1f} ms")
    print(f"first run:   {first_ms:.2f} ms")
    print(f"latency:     median {result['median_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms, min {result['min_ms']:.2f} ms")
    print(f"throughput:  {result['throughput_per_s']:.1f} samples/s")
    if result["peak_memory_bytes"] is not None:
        print(f"peak memory: {format_bytes(result['peak_memory_bytes'])} (process, resident)")
    if args.compare:
        other = result[args.compare]
        print(f"{args.compare}: median {other['median_ms']:.2f} ms, p90 {other['p90_ms']:.2f} ms "
              f"-> metalnn / {args.compare} = {result['median_ms'] / other['median_ms']:.2f}x")
    return 0
