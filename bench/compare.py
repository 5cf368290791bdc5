"""Side-by-side latency of metalnn and the engines users would pick instead, on the same models.

Runs metalnn, ONNX Runtime (CPU execution provider) and PyTorch eager (plus Core ML on Apple where
coremltools is installed) in one process with the same thread count. After warm-up the engines take
turns round-robin, so load changes on a shared machine hit all of them alike. A turn is a short
block of back-to-back inferences (the first untimed) after a pause: the engines' thread pools keep
spinning for tens of milliseconds after a run (ONNX Runtime, OpenMP in PyTorch, metalnn), and
without the pause that spinning would take cores from whichever engine runs next.

    python bench/compare.py                          # the default torchvision models, batch 1 and 8
    python bench/compare.py resnet50 model.onnx --batch 1 --threads 2 --json
    python bench/compare.py --readme README.md       # rewrite the README's generated table
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "alexnet", "vgg16")
README_BEGIN, README_END = "<!-- compare.py table: begin -->", "<!-- compare.py table: end -->"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", default=list(DEFAULT_MODELS),
                   help="torchvision model names or .onnx paths (default: %(default)s)")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes (torchvision models)")
    p.add_argument("--threads", type=int, default=2, help="threads every engine may use")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per engine")
    p.add_argument("--iters", type=int, default=15, help="timed runs per engine")
    p.add_argument("--block", type=int, default=5, help="timed runs per engine per turn")
    p.add_argument("--settle", type=float, default=0.1,
                   help="seconds of pause before each turn, for the previous engine's threads to go idle")
    p.add_argument("--device", default="cpu", help="metalnn device")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "metalnn-bench",
                   help="where exported ONNX files are kept")
    p.add_argument("--clock-ghz", type=float, help="override the clock used for the peak (GHz)")
    p.add_argument("--fma-units", type=int, default=2, help="FMA pipes per core used for the peak")
    p.add_argument("--allow-spinning", action="store_true",
                   help="let ONNX Runtime and OpenMP workers spin between runs (they then slow the other engines)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--readme", type=Path, help="rewrite the generated table in this README")
    return p.parse_args()


def set_thread_env(threads: int, allow_spinning: bool) -> None:
    """Every engine reads its thread count from these before its first use; set them before importing any."""
    for var in ("METALNN_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if not allow_spinning:  # PyTorch's OpenMP workers: sleep when idle instead of spinning
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# ---- the machine ----------------------------------------------------------------------------------

def cpu_name() -> str:
    """The CPU's model name as the OS reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess
        return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                              text=True).stdout.strip()
    return platform.processor() or platform.machine()


def cpu_peak(threads: int, clock_override: float | None, fma_units: int) -> dict:
    """Peak fp32 FLOP/s of `threads` cores: threads x lanes x 2 (an FMA is two FLOPs) x FMA pipes x clock.

    Lanes come from the widest vector extension the CPU reports (AVX-512: 16, AVX2: 8, SSE/NEON: 4);
    the clock is the CPU's nominal frequency from /proc/cpuinfo or lscpu (or --clock-ghz).
    """
    flags, ghz = "", None
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = next((l.split(":", 1)[1] for l in text.splitlines() if l.startswith("flags")), "")
        mhz = [float(l.split(":", 1)[1]) for l in text.splitlines() if l.startswith("cpu MHz")]
        if mhz:
            ghz = max(mhz) / 1000
    except OSError:
        pass
    flagset = set(flags.split())
    if "avx512f" in flagset:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flagset and "fma" in flagset:
        lanes, isa = 8, "AVX2+FMA"
    elif platform.machine() in ("arm64", "aarch64"):
        lanes, isa = 4, "NEON"
    else:
        lanes, isa, fma_units = 4, "SSE", 1
    if clock_override:
        ghz = clock_override
    if ghz is None:
        ghz = 3.0
    gflops = threads * lanes * 2 * fma_units * ghz
    how = (f"{threads} cores x {lanes} fp32 lanes ({isa}) x 2 FLOP/FMA x {fma_units} FMA pipes x {ghz:.2f} GHz "
           "(the reported clock; turbo can run above it)")
    return {"gflops": gflops, "how": how}


# ---- models ---------------------------------------------------------------------------------------

def model_onnx(name: str, batch: int, cache: Path) -> Path:
    """An .onnx path as given, or the torchvision model exported once into the cache."""
    if name.endswith(".onnx"):
        return Path(name)
    from metalnn.torchvision_models import export_onnx
    path = cache / f"{name}_b{batch}.onnx"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        export_onnx(name, path.with_suffix(".tmp"), batch)
        path.with_suffix(".tmp").rename(path)
    return path


def model_flops(path: Path) -> float:
    """FLOPs of one inference: 2 x multiply-adds of Conv, Gemm and MatMul (the rest is noise)."""
    import numpy as np
    import onnx
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {}
    for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    for t in model.graph.initializer:
        shapes[t.name] = list(t.dims)
    total = 0.0
    for node in model.graph.node:
        out = shapes.get(node.output[0])
        if node.op_type == "Conv" and out and node.input[1] in shapes:
            w = shapes[node.input[1]]
            total += 2.0 * np.prod(out) * np.prod(w[1:])
        elif node.op_type in ("Gemm", "MatMul") and out:
            a = shapes.get(node.input[0])
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            if a:
                total += 2.0 * np.prod(out) * (a[-2] if trans_a else a[-1])
    return total


def batch_of(path: Path) -> int:
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    return dim.dim_value or 1


# ---- engines: each returns a zero-argument run function, or raises with the reason it is missing ----

def engine_metalnn(path: Path, feed: dict, name: str, batch: int, args) -> Callable[[], object]:
    import metalnn
    model = metalnn.load(str(path), device=args.device)
    return lambda: model.run(feed)


def engine_onnxruntime(path: Path, feed: dict, name: str, batch: int, args) -> Callable[[], object]:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if not args.allow_spinning:  # idle spinning workers would steal the cores from the next engine
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, feed)


def engine_torch(path: Path, feed: dict, name: str, batch: int, args) -> Callable[[], object]:
    if name.endswith(".onnx"):
        raise RuntimeError("eager PyTorch needs a torchvision model name")
    import torch
    from metalnn.torchvision_models import build_model
    torch.set_num_threads(args.threads)
    model = build_model(name)
    x = torch.from_numpy(next(iter(feed.values())))

    def run():
        with torch.inference_mode():
            return model(x)
    return run


def engine_coreml(path: Path, feed: dict, name: str, batch: int, args) -> Callable[[], object]:
    if platform.system() != "Darwin":
        raise RuntimeError("Core ML runs on Apple only")
    if name.endswith(".onnx"):
        raise RuntimeError("Core ML conversion needs a torchvision model name")
    import coremltools as ct
    import torch
    from metalnn.torchvision_models import build_model
    x = next(iter(feed.values()))
    traced = torch.jit.trace(build_model(name), torch.from_numpy(x))
    mlmodel = ct.convert(traced, inputs=[ct.TensorType(name="input", shape=x.shape)],
                         compute_units=ct.ComputeUnit.ALL, convert_to="mlprogram")
    return lambda: mlmodel.predict({"input": x})


def engine_mlx(path: Path, feed: dict, name: str, batch: int, args) -> Callable[[], object]:
    if platform.system() != "Darwin":
        raise RuntimeError("MLX runs on Apple only")
    import mlx.core  # noqa: F401  (installed, but there is no ONNX or torchvision importer to feed it)
    raise RuntimeError("MLX has no importer for ONNX or torchvision models")


ENGINES = {"metalnn": engine_metalnn, "onnxruntime": engine_onnxruntime, "torch": engine_torch,
           "coreml": engine_coreml, "mlx": engine_mlx}
APPLE_ONLY = ("coreml", "mlx")


# ---- measurement ----------------------------------------------------------------------------------

def interleaved_times(runners: dict[str, Callable[[], object]], args,
                      cpu: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Milliseconds of `args.iters` runs of each runner, in turns of `args.block` runs (each after a pause
    of `args.settle` seconds and one untimed run), so load changes on a shared machine hit all alike;
    `cpu`, if given, receives each run's process CPU milliseconds (all threads)."""
    times: dict[str, list[float]] = {engine: [] for engine in runners}
    block = max(1, min(args.block, args.iters))
    for turn in range((args.iters + block - 1) // block):
        for engine, run in runners.items():
            time.sleep(args.settle)
            run()  # untimed: wakes this engine's threads
            for _ in range(min(block, args.iters - turn * block)):
                t0, c0 = time.perf_counter(), time.process_time()
                run()
                times[engine].append((time.perf_counter() - t0) * 1e3)
                if cpu is not None:
                    cpu.setdefault(engine, []).append((time.process_time() - c0) * 1e3)
    return times


def measure(name: str, batch: int, args, peak: dict) -> dict:
    """Loads the model in every engine, warms each up, then times them in turns, round-robin."""
    import numpy as np
    path = model_onnx(name, batch, args.cache)
    batch = batch_of(path)
    flops = model_flops(path)
    rng = np.random.default_rng(0)
    import onnx
    graph_input = onnx.load(str(path), load_external_data=False).graph.input[0]
    shape = [d.dim_value or 1 for d in graph_input.type.tensor_type.shape.dim]
    feed = {graph_input.name: rng.standard_normal(shape, dtype=np.float32)}

    runners, missing = {}, {}
    for engine, make in ENGINES.items():
        if engine in APPLE_ONLY and platform.system() != "Darwin":
            continue
        try:
            runners[engine] = make(path, feed, name, batch, args)
            for _ in range(args.warmup):
                runners[engine]()
        except Exception as e:  # a missing peer is reported, not fatal
            runners.pop(engine, None)
            missing[engine] = f"{type(e).__name__}: {e}".splitlines()[0][:120]
    times = interleaved_times(runners, args)

    row = {"model": Path(name).stem if name.endswith(".onnx") else name, "batch": batch,
           "gflop": flops / 1e9, "median_ms": {}, "min_ms": {}, "missing": missing}
    for engine, ts in times.items():
        row["median_ms"][engine] = statistics.median(ts)
        row["min_ms"][engine] = min(ts)
    ours = row["median_ms"].get("metalnn")
    row["metalnn_ratio"] = {e: ours / ms for e, ms in row["median_ms"].items() if ours and e != "metalnn"}
    if ours:
        row["metalnn_gflops"] = flops / 1e9 / (ours / 1e3)
        row["metalnn_peak_fraction"] = row["metalnn_gflops"] / peak["gflops"]
    return row


def table(rows: list[dict], engines: list[str]) -> str:
    """A Markdown table: median ms per engine, metalnn / peer ratios, metalnn's GFLOP/s and % of peak."""
    peers = [e for e in engines if e != "metalnn"]
    head = (["model", "batch", "GFLOP"] + [f"{e} ms" for e in engines] + [f"metalnn / {p}" for p in peers]
            + ["metalnn GFLOP/s", "% of peak"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], str(r["batch"]), f"{r['gflop']:.2f}"]
        cells += [f"{r['median_ms'][e]:.2f}" if e in r["median_ms"] else "—" for e in engines]
        cells += [f"{r['metalnn_ratio'][p]:.2f}×" if p in r["metalnn_ratio"] else "—" for p in peers]
        cells += [f"{r['metalnn_gflops']:.1f}" if "metalnn_gflops" in r else "—",
                  f"{100 * r['metalnn_peak_fraction']:.0f}%" if "metalnn_peak_fraction" in r else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions() -> dict:
    out = {}
    for module in ("metalnn", "onnxruntime", "torch", "coremltools", "mlx"):
        try:
            out[module] = __import__(module).__version__
        except Exception:
            pass
    return out


def main() -> None:
    args = parse_args()
    set_thread_env(args.threads, args.allow_spinning)
    peak = cpu_peak(args.threads, args.clock_ghz, args.fma_units)
    rows = []
    for name in args.models:
        for batch in ([None] if name.endswith(".onnx") else args.batch):
            rows.append(measure(name, batch, args, peak))
            if not args.json:
                print(f"measured {rows[-1]['model']} batch {rows[-1]['batch']}", file=sys.stderr, flush=True)
    engines = [e for e in ENGINES if any(e in r["median_ms"] for r in rows)]
    missing = {e: why for r in rows for e, why in r["missing"].items() if e not in engines}
    command = "python bench/compare.py " + " ".join(sys.argv[1:])
    meta = {"date": datetime.date.today().isoformat(), "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.machine()}", "threads": args.threads, "peak_gflops": peak["gflops"],
            "peak_how": peak["how"], "iters": args.iters, "versions": versions(), "command": command}
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows, "missing": missing}, indent=2))
        return
    text = (f"{meta['date']}, {meta['machine']}, {args.threads} threads, median of {args.iters} runs in "
            f"interleaved turns of {args.block}.\nPeak {peak['gflops']:.0f} GFLOP/s = {peak['how']}.\n"
            + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + "\n\n" + table(rows, engines))
    if missing:
        text += "\n\n" + "\n".join(f"- {e} not measured: {why}" for e, why in missing.items())
    print(text)
    if args.readme:
        readme = args.readme.read_text()
        begin, end = readme.index(README_BEGIN) + len(README_BEGIN), readme.index(README_END)
        block = f"\n`{command}`\n\n{text}\n"
        args.readme.write_text(readme[:begin] + block + readme[end:])


if __name__ == "__main__":
    main()
