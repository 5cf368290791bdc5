"""Side-by-side latency of metalnn and the engines users would pick instead, on the same models.

Runs metalnn, ONNX Runtime (CPU execution provider), OpenVINO (CPU plugin), ncnn (the model converted
from its PyTorch module by pnnx) and PyTorch eager (plus Core ML on Apple where coremltools is
installed) in one process with the same thread count, fp32 throughout (ncnn has no batch dimension:
its batch N is N inferences of the batch-1 conversion). Engines whose package is missing are
skipped with the reason. Every engine's outputs are first checked against PyTorch's; an engine that
disagrees is reported, not timed. After warm-up the engines take turns round-robin, so
load changes on a shared machine hit all of them alike. A turn is a short block of back-to-back
inferences (the first untimed) after a pause: the engines' thread pools keep spinning for tens of
milliseconds after a run (ONNX Runtime, OpenMP in PyTorch and ncnn, metalnn), and without the pause
that spinning would take cores from whichever engine runs next.

With --memory each engine's peak memory is measured in a fresh process of its own: the growth of
peak RSS from just before the model is loaded (the engine's package already imported, the inputs
in memory) to after its first run (for PyTorch, whose module is built in place with random weights,
its parameters' and buffers' bytes plus the peak RSS growth of the first run).

    python bench/compare.py                          # the default models (CNNs), batch 1 and 8
    python bench/compare.py --set full --memory      # every model of the full set
    python bench/compare.py --after-idle             # each run timed right after the pause: cold latency
    python bench/compare.py resnet50 model.onnx --batch 1 --threads 2 --json
    python bench/compare.py --readme README.md       # rewrite the README's generated table

The optional engines' packages are listed in bench/requirements.txt. Exported ONNX files and ncnn
conversions are kept in --cache (default ~/.cache/metalnn-bench).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "alexnet", "vgg16")
FULL_MODELS = DEFAULT_MODELS + (
    "bert_base", "minilm_l6", "convnext_tiny", "mnasnet1_0", "efficientnet_v2_s", "regnet_y_400mf", "vit_b_16",
    "deeplabv3_mobilenet_v3_large", "whisper_tiny_encoder", "gpt2")
SETS = {"default": DEFAULT_MODELS, "full": FULL_MODELS}
# torchvision classifiers at 224x224, built and exported by metalnn.torchvision_models.
CLASSIFIERS = DEFAULT_MODELS + ("convnext_tiny", "mnasnet1_0", "efficientnet_v2_s", "regnet_y_400mf")
README_BEGIN, README_END = "<!-- compare.py table: begin -->", "<!-- compare.py table: end -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*",
                   help="model names (those of --set, or other torchvision classifiers) or .onnx paths")
    p.add_argument("--set", choices=sorted(SETS), default="default",
                   help="the models when none are named: default %(default)s (" + ", ".join(DEFAULT_MODELS)
                   + "); full adds " + ", ".join(FULL_MODELS[len(DEFAULT_MODELS):]))
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes (named models)")
    p.add_argument("--threads", type=int, default=2, help="threads every engine may use")
    p.add_argument("--engines", nargs="+", choices=list(ENGINES), help="only these engines (default: all)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per engine")
    p.add_argument("--iters", type=int, default=15, help="timed runs per engine")
    p.add_argument("--block", type=int, default=5, help="timed runs per engine per turn")
    p.add_argument("--settle", type=float, default=0.1,
                   help="seconds of pause before each turn, for the previous engine's threads to go idle")
    p.add_argument("--after-idle", action="store_true",
                   help="time each run right after the --settle pause (turns of one run, none untimed): the "
                   "latency of an app that runs a model now and then, caches and threads gone cold")
    p.add_argument("--tolerance", type=float, default=1e-3,
                   help="largest max |engine - reference| / max |reference| an engine may show and be timed")
    p.add_argument("--memory", action="store_true", help="also measure each engine's peak memory (a process each)")
    p.add_argument("--device", default="cpu", help="metalnn device")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "metalnn-bench",
                   help="where exported ONNX files, inputs and ncnn conversions are kept")
    p.add_argument("--clock-ghz", type=float, help="override the clock used for the peak (GHz)")
    p.add_argument("--fma-units", type=int, default=2, help="FMA pipes per core used for the peak")
    p.add_argument("--allow-spinning", action="store_true",
                   help="let ONNX Runtime, OpenMP and ncnn workers spin between runs (they then slow the other engines)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--readme", type=Path, help="rewrite the generated table in this README")
    p.add_argument("--probe-memory", metavar="ENGINE", help=argparse.SUPPRESS)  # the --memory child
    args = p.parse_args(argv)
    args.models = args.models or list(SETS[args.set])
    return args


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
    """Peak fp32 FLOP/s of `threads` cores, as `metalnn profile` reports it (metalnn.cpu_peak)."""
    from metalnn.cpu_peak import cpu_peak as peak
    p = peak(threads, clock_override, fma_units)
    return {"gflops": p.gflops, "how": p.how}


# ---- models ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Bench:
    """One model at one batch: its ONNX file, inputs and output names, and how to build its PyTorch module."""

    name: str
    batch: int
    onnx: Path
    feed: dict[str, Any]  # name -> numpy array, in the module's argument order
    outputs: list[str]
    build: Callable[[], Any] | None = None  # the torch module (None for an .onnx file given as such)
    cache: Path = Path()
    reference: list | None = None  # the reference engine's outputs
    built: Any = None

    def module(self) -> Any:
        """The torch module, built once (the reference, PyTorch and pnnx share it)."""
        if self.build is None:
            raise RuntimeError("needs a named model (a PyTorch module), not an .onnx file")
        if self.built is None:
            self.built = self.build()
        return self.built


def _built(name: str, batch: int) -> Any:
    """A tests/models builder's Built (module, inputs, output names) for the models it has, at benchmark sizes."""
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    import torchvision_zoo as tv
    import transformer_models as tm
    from transformers import BertConfig, GPT2Config, ViTConfig, WhisperConfig

    if name == "deeplabv3_mobilenet_v3_large":
        return tv.segmenter(name, batch, size=224, num_classes=21)
    if name == "bert_base":  # the library's default config is BERT-base
        return tm.bert("sdpa", batch, config=BertConfig(), sequence=128)
    if name == "minilm_l6":  # MiniLM-L6-H384's sizes in a BERT
        config = BertConfig(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536)
        return tm.bert("sdpa", batch, config=config, sequence=128)
    if name == "whisper_tiny_encoder":  # the library's default config is whisper-tiny; a 30 s window
        return tm.whisper_encoder("sdpa", batch, config=WhisperConfig())
    if name == "vit_b_16":  # the library's default config is ViT-B/16 at 224x224
        return tm.vit("sdpa", batch, config=ViTConfig())
    if name == "gpt2":  # the library's default config is GPT-2 small
        return tm.gpt2("sdpa", batch, config=GPT2Config(), sequence=64)
    raise KeyError(name)


def _export(module: Any, feed: dict, outputs: list[str], path: Path) -> None:
    import torch
    args = tuple(torch.from_numpy(v) for v in feed.values())
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), input_names=list(feed), output_names=outputs,
                          opset_version=17, dynamo=False)


def _cached(path: Path, make: Callable[[Path], object]) -> Path:
    """`path`, made by `make(temporary path)` the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # the cache may be shared
        try:
            make(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.rename(path)
    return path


def _save(path: Path, arrays: dict) -> None:
    import numpy as np
    with open(path, "wb") as f:  # a file object, so that savez adds no suffix
        np.savez(f, **arrays)


def prepare(name: str, batch: int | None, cache: Path) -> Bench:
    """The model `name` (or an .onnx path) at `batch`, exported once into the cache with its inputs."""
    import numpy as np
    import onnx
    if name.endswith(".onnx"):
        graph = onnx.load(name, load_external_data=False).graph
        rng, feed, batch = np.random.default_rng(0), {}, None
        for value in graph.input:
            shape = [d.dim_value or 1 for d in value.type.tensor_type.shape.dim]
            dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
            feed[value.name] = (rng.standard_normal(shape).astype(dtype) if dtype.kind == "f"
                                else np.ones(shape, dtype))
            batch = batch or (shape[0] if shape else 1)
        return Bench(Path(name).stem, batch or 1, Path(name), feed,
                     [o.name for o in graph.output], None, cache)
    path = cache / f"{name}_b{batch}.onnx"
    inputs = cache / f"{name}_b{batch}.inputs.npz"
    if name in FULL_MODELS and name not in CLASSIFIERS:  # any other name is a torchvision classifier
        build = lambda: _built(name, batch).module  # noqa: E731
        if not (path.exists() and inputs.exists()):
            built = _built(name, batch)
            _cached(path, lambda p: _export(built.module, built.inputs, list(built.outputs), p))
            _cached(inputs, lambda p: _save(p, built.inputs))
    else:
        from metalnn.torchvision_models import build_model, export_onnx, random_images
        build = lambda: build_model(name)  # noqa: E731
        _cached(path, lambda p: export_onnx(name, p, batch))
        _cached(inputs, lambda p: _save(p, {"input": random_images(batch)}))
    with np.load(inputs) as saved:
        feed = {k: saved[k] for k in saved.files}
    outputs = [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]
    return Bench(name, batch, path, feed, outputs, build, cache)


def model_flops(path: Path) -> float:
    """FLOPs of one inference: 2 x multiply-adds of Conv, Gemm and MatMul (the rest is noise)."""
    import numpy as np
    import onnx
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)  # shapes computed in-graph
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
        elif node.op_type == "Gemm" and out:
            a = shapes.get(node.input[0])
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            if a:
                total += 2.0 * np.prod(out) * (a[-2] if trans_a else a[-1])
        elif node.op_type == "MatMul":
            a, b = shapes.get(node.input[0], []), shapes.get(node.input[1], [])
            if len(a) >= 2 and len(b) >= 2:  # a dim inference left unknown (0) is taken from the other side
                lead = [max(x, y) for x, y in itertools.zip_longest(a[-3::-1], b[-3::-1], fillvalue=1)]
                total += 2.0 * np.prod(lead) * a[-2] * b[-1] * (a[-1] or b[-2])
    return total


def flatten(out: Any) -> list:
    """A PyTorch module's outputs (tensor, tuple, list, dict or model output) as a list of numpy arrays."""
    if hasattr(out, "detach"):
        return [out.detach().numpy()]
    if isinstance(out, dict) or hasattr(out, "to_tuple"):
        out = list(out.values())
    return [a for o in out for a in flatten(o)]


def relative_error(actual: list, expected: list) -> float:
    """max |actual - expected| / max(1e-3, max |expected|) over all outputs; inf on a count or shape mismatch."""
    import numpy as np
    if len(actual) != len(expected):
        return math.inf
    worst = 0.0
    for a, e in zip(actual, expected):
        a, e = np.asarray(a), np.asarray(e)
        if a.shape != e.shape:
            return math.inf
        if a.size:
            diff = float(np.abs(a.astype(np.float64) - e.astype(np.float64)).max())
            worst = max(worst, diff / max(1e-3, float(np.abs(e).max())))
    return worst


# ---- engines: each returns (run, collect): run() does one inference, collect(run()) its outputs as
# numpy arrays in the ONNX file's output order; or raises with the reason it is missing ------------

def engine_metalnn(bench: Bench, args) -> tuple[Callable, Callable]:
    import metalnn
    model = metalnn.load(str(bench.onnx), device=args.device)
    return lambda: model.run(bench.feed), lambda out: [out[n] for n in bench.outputs]


def engine_onnxruntime(bench: Bench, args) -> tuple[Callable, Callable]:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if not args.allow_spinning:  # idle spinning workers would steal the cores from the next engine
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(bench.onnx), opts, providers=["CPUExecutionProvider"])
    return lambda: sess.run(bench.outputs, bench.feed), list


def file_runner(engine: str, path: Path, feed: dict[str, Any], args) -> Callable[[], list]:
    """One engine's runner on an ONNX file: run() returns the outputs in the file's order (for the
    single-op and quantized benchmarks, which build their own files)."""
    import onnx
    outputs = [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]
    run, collect = ENGINES[engine](Bench(path.stem, 1, path, feed, outputs), args)
    return lambda: collect(run())


def engine_openvino(bench: Bench, args) -> tuple[Callable, Callable]:
    import openvino as ov
    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_PRECISION_HINT": "f32"}  # else bf16 or f16 where the CPU has them
    compiled = core.compile_model(core.read_model(str(bench.onnx)), "CPU", config)
    request = compiled.create_infer_request()
    count = len(compiled.outputs)

    def run():
        request.infer(bench.feed, share_inputs=True)
        return [request.get_output_tensor(i).data for i in range(count)]
    return run, lambda out: [a.copy() for a in out]


def ncnn_files(bench: Bench) -> tuple[Path, Path]:
    """The module converted by pnnx at batch 1 (ncnn has no batch dimension), fp32 weights, cached."""
    folder = bench.cache / "ncnn"
    param, weights = folder / f"{bench.name}.ncnn.param", folder / f"{bench.name}.ncnn.bin"
    if param.exists() and weights.exists():
        return param, weights
    import pnnx
    import torch
    work = folder / f"{bench.name}.{os.getpid()}.work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    example = tuple(torch.from_numpy(v[:1]) for v in bench.feed.values())
    kinds = {torch.float32: "f32", torch.int64: "i64", torch.int32: "i32"}
    shapes = ",".join(f"[{','.join(map(str, t.shape))}]{kinds[t.dtype]}" for t in example)
    with torch.no_grad():
        torch.jit.trace(bench.module(), example, check_trace=False).save(str(work / "model.pt"))
    done = subprocess.run([pnnx.EXEC_PATH, "model.pt", f"inputshape={shapes}", "fp16=0",
                           "ncnnparam=model.ncnn.param", "ncnnbin=model.ncnn.bin"],
                          cwd=work, capture_output=True, text=True)
    if done.returncode or not (work / "model.ncnn.param").exists():
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise RuntimeError(f"pnnx failed: {tail[0]}")
    (work / "model.ncnn.param").rename(param)
    (work / "model.ncnn.bin").rename(weights)
    shutil.rmtree(work)
    return param, weights


@contextlib.contextmanager
def _stderr_text():
    """Captures what native code writes to file descriptor 2; yields a function returning its lines."""
    import tempfile
    lines: list[str] = []
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines += sink.read().decode(errors="replace").strip().splitlines()


def engine_ncnn(bench: Bench, args) -> tuple[Callable, Callable]:
    import ncnn
    import numpy as np
    param, weights = ncnn_files(bench)
    net = ncnn.Net()
    opt = net.opt
    opt.num_threads = args.threads
    opt.use_fp16_packed = opt.use_fp16_storage = opt.use_fp16_arithmetic = False
    opt.use_bf16_storage = opt.use_int8_inference = False
    if not args.allow_spinning:
        opt.openmp_blocktime = 0
    with _stderr_text() as said:  # ncnn names a layer it lacks on stderr only
        failed = net.load_param(str(param)) or net.load_model(str(weights))
    if failed:
        raise RuntimeError("ncnn could not load pnnx's conversion: " + "; ".join(said()[-2:]))
    # Batch N is N inferences of the batch-1 conversion; inputs are float Mats, as pnnx made them.
    arrays = [[np.ascontiguousarray(v[b], dtype=np.float32) for v in bench.feed.values()]
              for b in range(bench.batch)]
    mats = [[ncnn.Mat(a) for a in sample] for sample in arrays]

    def run():
        out = []
        for sample in mats:
            ex = net.create_extractor()
            for i, mat in enumerate(sample):
                ex.input(f"in{i}", mat)
            got = []
            for j in range(len(bench.outputs)):
                ret, mat = ex.extract(f"out{j}")
                if ret:
                    raise RuntimeError(f"ncnn could not compute out{j}")
                got.append(mat)
            out.append(got)
        return out

    def collect(out):
        return [np.concatenate([np.array(sample[j]).reshape((1,) + shape[1:]) for sample in out])
                for j, shape in enumerate(shapes)]
    shapes = [tuple(a.shape) for a in bench.reference] if bench.reference is not None else []
    return run, collect


def engine_torch(bench: Bench, args) -> tuple[Callable, Callable]:
    import torch
    torch.set_num_threads(args.threads)
    module = bench.module()
    inputs = [torch.from_numpy(v) for v in bench.feed.values()]

    def run():
        with torch.inference_mode():
            return module(*inputs)
    return run, flatten


def engine_coreml(bench: Bench, args) -> tuple[Callable, Callable]:
    if platform.system() != "Darwin":
        raise RuntimeError("Core ML runs on Apple only")
    import coremltools as ct
    import torch
    example = [torch.from_numpy(v) for v in bench.feed.values()]
    traced = torch.jit.trace(bench.module(), example)
    mlmodel = ct.convert(traced, inputs=[ct.TensorType(name=n, shape=v.shape) for n, v in bench.feed.items()],
                         compute_units=ct.ComputeUnit.ALL, convert_to="mlprogram")
    return lambda: mlmodel.predict(bench.feed), lambda out: list(out.values())


def engine_mlx(bench: Bench, args) -> tuple[Callable, Callable]:
    if platform.system() != "Darwin":
        raise RuntimeError("MLX runs on Apple only")
    import mlx.core  # noqa: F401  (installed, but there is no ONNX or torchvision importer to feed it)
    raise RuntimeError("MLX has no importer for ONNX or torchvision models")


ENGINES = {"metalnn": engine_metalnn, "onnxruntime": engine_onnxruntime, "openvino": engine_openvino,
           "ncnn": engine_ncnn, "torch": engine_torch, "coreml": engine_coreml, "mlx": engine_mlx}
APPLE_ONLY = ("coreml", "mlx")
PACKAGES = {"openvino": "openvino", "ncnn": "ncnn", "coreml": "coremltools", "mlx": "mlx"}


def engines_wanted(args) -> list[str]:
    names = args.engines or [e for e in ENGINES if e not in APPLE_ONLY or platform.system() == "Darwin"]
    return names


def reference_outputs(bench: Bench, args) -> tuple[str, list]:
    """PyTorch's outputs, or ONNX Runtime's for an .onnx file given as such."""
    if bench.build is not None:
        run, collect = engine_torch(bench, args)
        return "PyTorch", collect(run())
    run, collect = engine_onnxruntime(bench, args)
    return "ONNX Runtime", collect(run())


def _why(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().splitlines()
    return (text[0] if text else type(e).__name__)[:160]


# ---- measurement ----------------------------------------------------------------------------------

def interleaved_times(runners: dict[str, Callable[[], object]], args,
                      cpu: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Milliseconds of `args.iters` runs of each runner, in turns of `args.block` runs (each after a pause
    of `args.settle` seconds and one untimed run), so load changes on a shared machine hit all alike;
    `cpu`, if given, receives each run's process CPU milliseconds (all threads)."""
    times: dict[str, list[float]] = {engine: [] for engine in runners}
    after_idle = getattr(args, "after_idle", False)  # the other bench scripts share this loop
    block = 1 if after_idle else max(1, min(args.block, args.iters))
    for turn in range((args.iters + block - 1) // block):
        for engine, run in runners.items():
            time.sleep(args.settle)
            if not after_idle:
                run()  # untimed: wakes this engine's threads
            for _ in range(min(block, args.iters - turn * block)):
                t0, c0 = time.perf_counter(), time.process_time()
                run()
                times[engine].append((time.perf_counter() - t0) * 1e3)
                if cpu is not None:
                    cpu.setdefault(engine, []).append((time.process_time() - c0) * 1e3)
    return times


def measure(bench: Bench, args, peak: dict) -> dict:
    """Loads the model in every engine, checks and warms each up, then times them in turns, round-robin."""
    flops = model_flops(bench.onnx)
    ref_name, bench.reference = reference_outputs(bench, args)
    runners, missing, errors = {}, {}, {}
    for engine in engines_wanted(args):
        try:
            run, collect = ENGINES[engine](bench, args)
            error = relative_error(collect(run()), bench.reference)
            errors[engine] = error
            if not error <= args.tolerance:
                missing[engine] = f"disagrees with {ref_name}: max error {error:.1e} of the largest output"
                continue
            for _ in range(args.warmup):
                run()
            runners[engine] = run
        except ImportError as e:
            missing[engine] = f"not installed ({e.name or e}; pip install {PACKAGES.get(engine, engine)})"
        except Exception as e:  # a failing peer is reported, not fatal
            missing[engine] = _why(e)
    times = interleaved_times(runners, args)
    del runners
    row = {"model": bench.name, "batch": bench.batch, "gflop": flops / 1e9, "median_ms": {}, "min_ms": {},
           "max_error": errors, "reference": ref_name, "missing": missing}
    for engine, ts in times.items():
        row["median_ms"][engine] = statistics.median(ts)
        row["min_ms"][engine] = min(ts)
    ours = row["median_ms"].get("metalnn")
    others = {e: ms for e, ms in row["median_ms"].items() if e != "metalnn"}
    row["metalnn_ratio"] = {e: ours / ms for e, ms in others.items() if ours}
    if ours and others:
        row["fastest_other"] = min(others, key=others.get)
        row["metalnn_vs_fastest"] = ours / others[row["fastest_other"]]
    if ours:
        row["metalnn_gflops"] = flops / 1e9 / (ours / 1e3)
        row["metalnn_peak_fraction"] = row["metalnn_gflops"] / peak["gflops"]
    return row


# ---- memory: one fresh process per engine and model -----------------------------------------------

def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def probe_memory(args) -> None:
    """The --memory child: prints the peak RSS growth (MB) of loading one model in one engine and running it once."""
    import importlib
    import numpy as np  # noqa: F401
    engine = args.probe_memory
    bench = prepare(args.models[0], args.batch[0], args.cache)
    bench.reference = None
    for module in {"metalnn": ["metalnn"], "onnxruntime": ["onnxruntime"], "openvino": ["openvino"],
                   "ncnn": ["ncnn"], "torch": ["torch"]}.get(engine, []):
        importlib.import_module(module)  # the package itself is not the model's memory
    if engine == "openvino":  # nor are the plugin and reader libraries OpenVINO loads on first use
        import openvino as ov
        ov.Core().get_versions("CPU")
        ov.frontend.FrontEndManager().load_by_framework("onnx")
    extra = 0
    if engine == "torch":  # built in place (random init and BatchNorm statistics have a peak of their own)
        module = bench.module()
        extra = sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status_kb("VmRSS")
    run, _ = ENGINES[engine](bench, args)
    run()
    peak = _status_kb("VmHWM")
    print(json.dumps({"peak_mb": ((peak - before) * 1024 + extra) / 2**20}))


def measure_memory(bench: Bench, row: dict, args) -> None:
    """Adds row["peak_mb"]: each timed engine's peak memory, measured by probe_memory in a child process."""
    row["peak_mb"] = {}
    if platform.system() != "Linux":
        return
    model = str(bench.onnx) if bench.build is None else bench.name
    for engine in row["median_ms"]:
        command = [sys.executable, str(Path(__file__).resolve()), model, "--batch", str(bench.batch),
                   "--threads", str(args.threads), "--device", args.device, "--cache", str(args.cache),
                   "--probe-memory", engine] + (["--allow-spinning"] if args.allow_spinning else [])
        done = subprocess.run(command, capture_output=True, text=True)
        try:
            row["peak_mb"][engine] = json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]
        except (IndexError, ValueError, KeyError):
            row["missing"][f"{engine} memory"] = (done.stderr.strip().splitlines() or ["no output"])[-1][:160]


# ---- report ---------------------------------------------------------------------------------------

def geomean(values: list[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def table(rows: list[dict], engines: list[str]) -> str:
    """Markdown: median ms per engine, metalnn ÷ the fastest other engine, metalnn's GFLOP/s and % of
    peak; a geomean row; then peak memory per engine where it was measured."""
    head = (["model", "batch", "GFLOP"] + [f"{e} ms" for e in engines]
            + ["fastest other", "metalnn ÷ fastest", "metalnn GFLOP/s", "% of peak"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], str(r["batch"]), f"{r['gflop']:.2f}" if r["gflop"] == r["gflop"] else "—"]
        cells += [f"{r['median_ms'][e]:.2f}" if e in r["median_ms"] else "—" for e in engines]
        cells += [r.get("fastest_other", "—"),
                  f"{r['metalnn_vs_fastest']:.2f}×" if "metalnn_vs_fastest" in r else "—",
                  f"{r['metalnn_gflops']:.1f}" if "metalnn_gflops" in r else "—",
                  f"{100 * r['metalnn_peak_fraction']:.0f}%" if "metalnn_peak_fraction" in r else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    ratios = [r["metalnn_vs_fastest"] for r in rows if "metalnn_vs_fastest" in r]
    if ratios:
        cells = ["geomean", "", ""] + [""] * len(engines) + [f"{len(ratios)} rows", f"{geomean(ratios):.2f}×", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    if any(r.get("peak_mb") for r in rows):
        mem = [e for e in engines if any(e in r.get("peak_mb", {}) for r in rows)]
        lines += ["", "Peak memory (MB): growth of peak RSS over loading the model and its first run, one process "
                  "per engine.", ""]
        head = ["model", "batch"] + [f"{e} MB" for e in mem] + ["metalnn ÷ onnxruntime"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        mem_ratios = []
        for r in rows:
            mb = r.get("peak_mb", {})
            cells = [r["model"], str(r["batch"])] + [f"{mb[e]:.0f}" if e in mb else "—" for e in mem]
            if mb.get("metalnn") and mb.get("onnxruntime"):
                mem_ratios.append(mb["metalnn"] / mb["onnxruntime"])
                cells.append(f"{mem_ratios[-1]:.2f}×")
            else:
                cells.append("—")
            lines.append("| " + " | ".join(cells) + " |")
        if mem_ratios:
            cells = ["geomean", ""] + [""] * len(mem) + [f"{geomean(mem_ratios):.2f}×"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions() -> dict:
    out = {}
    for module in ("metalnn", "onnxruntime", "openvino", "ncnn", "pnnx", "torch", "coremltools", "mlx"):
        try:
            import importlib.metadata
            out[module] = importlib.metadata.version("coremltools" if module == "coremltools" else module)
        except Exception:
            pass
    return out


def main() -> None:
    args = parse_args()
    set_thread_env(args.threads, args.allow_spinning)
    if args.probe_memory:
        probe_memory(args)
        return
    peak = cpu_peak(args.threads, args.clock_ghz, args.fma_units)
    rows = []
    for name in args.models:
        for batch in ([None] if name.endswith(".onnx") else args.batch):
            try:
                bench = prepare(name, batch, args.cache)
            except Exception as e:  # an export that fails is reported with the rest
                rows.append({"model": Path(name).stem, "batch": batch, "gflop": math.nan, "median_ms": {},
                             "missing": {"every engine": f"export failed: {_why(e)}"}})
                print(f"{name} batch {batch}: export failed: {_why(e)}", file=sys.stderr, flush=True)
                continue
            rows.append(measure(bench, args, peak))
            if args.memory:
                measure_memory(bench, rows[-1], args)
            if not args.json:
                r = rows[-1]
                note = "; ".join(f"{e}: {why}" for e, why in r["missing"].items())
                print(f"measured {r['model']} batch {r['batch']}" + (f" ({note})" if note else ""),
                      file=sys.stderr, flush=True)
    engines = [e for e in ENGINES if any(e in r["median_ms"] for r in rows)]
    command = "python bench/compare.py " + " ".join(sys.argv[1:])
    meta = {"date": datetime.date.today().isoformat(), "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.machine()}", "threads": args.threads, "peak_gflops": peak["gflops"],
            "peak_how": peak["how"], "iters": args.iters, "versions": versions(), "command": command}
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return
    turns = (f"each the first after a {args.settle:g} s pause" if args.after_idle
             else f"in interleaved turns of {args.block}")
    text = (f"{meta['date']}, {meta['machine']}, {args.threads} threads, median of {args.iters} runs "
            f"{turns}.\nPeak {peak['gflops']:.0f} GFLOP/s = {peak['how']}.\n"
            + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + "\n\n" + table(rows, engines))
    notes = [f"- {r['model']} batch {r['batch']}, {e} not measured: {why}"
             for r in rows for e, why in r["missing"].items()]
    if notes:
        text += "\n\n" + "\n".join(notes)
    print(text)
    if args.readme:
        readme = args.readme.read_text()
        begin, end = readme.index(README_BEGIN) + len(README_BEGIN), readme.index(README_END)
        block = f"\n`{command}`\n\n{text}\n"
        args.readme.write_text(readme[:begin] + block + readme[end:])


if __name__ == "__main__":
    main()
