"""Single-op latency of depthwise convolutions: metalnn against ONNX Runtime, one Conv node each.

Both engines run in one process with the same thread count, timed in interleaved turns as in
bench/compare.py (a pause before each turn, one untimed run, then a block of timed runs), so load
changes on a shared machine hit both alike. The ratio is metalnn's median over ONNX Runtime's.
Outputs are compared before timing.

    python bench/depthwise.py                      # every case, 2 threads
    python bench/depthwise.py 5x5 7x7 --threads 1  # cases whose name contains one of the words
    python bench/depthwise.py --json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the thread settings and engine loaders are shared)

# name: (channels, spatial input size, kernel, stride, dilation, multiplier); pads keep the size
# ("same") at stride 1. Sizes are those of MobileNet, MnasNet, EfficientNet, ConvNeXt and DeepLab.
CASES = {
    "3x3_s1_c144_56": (144, (56, 56), 3, 1, 1, 1),
    "3x3_s1_c384_14": (384, (14, 14), 3, 1, 1, 1),
    "3x3_s2_c96_112": (96, (112, 112), 3, 2, 1, 1),
    "3x3_s2_c144_56": (144, (56, 56), 3, 2, 1, 1),
    "5x5_s1_c240_28": (240, (28, 28), 5, 1, 1, 1),
    "5x5_s1_c672_14": (672, (14, 14), 5, 1, 1, 1),
    "5x5_s2_c144_56": (144, (56, 56), 5, 2, 1, 1),
    "5x5_s2_c672_14": (672, (14, 14), 5, 2, 1, 1),
    "7x7_s1_c96_56": (96, (56, 56), 7, 1, 1, 1),
    "7x7_s1_c384_14": (384, (14, 14), 7, 1, 1, 1),
    "7x7_s1_c768_7": (768, (7, 7), 7, 1, 1, 1),
    "3x3_d2_c256_28": (256, (28, 28), 3, 1, 2, 1),
    "5x5_d2_c128_56": (128, (56, 56), 5, 1, 2, 1),
    "3x3_s1_m2_c32_56": (32, (56, 56), 3, 1, 1, 2),
    "1d_k15_c256_500": (256, (500,), 15, 1, 1, 1),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("cases", nargs="*", help="substrings of case names (default: all)")
    p.add_argument("--threads", type=int, default=2, help="threads each engine may use")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs per engine")
    p.add_argument("--iters", type=int, default=100, help="timed runs per engine")
    p.add_argument("--block", type=int, default=10, help="timed runs per engine per turn")
    p.add_argument("--settle", type=float, default=0.05, help="seconds of pause before each turn")
    p.add_argument("--device", default="cpu", help="metalnn device")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = p.parse_args()
    args.allow_spinning = False
    return args


def conv_model(path: Path, channels: int, size: tuple, kernel: int, stride: int, dilation: int,
               multiplier: int) -> dict:
    """Writes a one-Conv model (random weights and bias) to `path`; returns its input feed."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(0)
    dims = len(size)
    pad = dilation * (kernel - 1) // 2
    x_shape = [1, channels, *size]
    w = rng.standard_normal([channels * multiplier, 1] + [kernel] * dims).astype(np.float32)
    b = rng.standard_normal([channels * multiplier]).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=channels, strides=[stride] * dims,
                            dilations=[dilation] * dims, pads=[pad] * (2 * dims))
    graph = helper.make_graph([node], "depthwise", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return {"x": rng.standard_normal(x_shape, dtype=np.float32)}


def measure(name: str, case: tuple, args, workdir: Path) -> dict:
    """Times one case on both engines in interleaved turns; returns medians and the ratio."""
    import numpy as np
    path = workdir / f"{name}.onnx"
    feed = conv_model(path, *case)
    runners = {"metalnn": compare.engine_metalnn(path, feed, name, 1, args),
               "onnxruntime": compare.engine_onnxruntime(path, feed, name, 1, args)}
    ours, ref = runners["metalnn"](), runners["onnxruntime"]()
    ours = next(iter(ours.values())) if isinstance(ours, dict) else ours[0]
    np.testing.assert_allclose(np.asarray(ours), ref[0], rtol=1e-4, atol=1e-3, err_msg=name)
    for run in runners.values():
        for _ in range(args.warmup):
            run()
    times = compare.interleaved_times(runners, args)
    med = {engine: statistics.median(ts) for engine, ts in times.items()}
    return {"case": name, "median_ms": med, "ratio": med["metalnn"] / med["onnxruntime"]}


def main() -> None:
    args = parse_args()
    compare.set_thread_env(args.threads, args.allow_spinning)
    names = [n for n in CASES if not args.cases or any(c in n for c in args.cases)]
    rows = []
    if not args.json:
        print(f"{args.threads} threads, median of {args.iters} runs in interleaved turns of {args.block}\n\n"
              "| case | metalnn ms | onnxruntime ms | metalnn / onnxruntime |\n|---|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            r = measure(name, CASES[name], args, Path(tmp))
            rows.append(r)
            if not args.json:
                print(f"| {name} | {r['median_ms']['metalnn']:.3f} | {r['median_ms']['onnxruntime']:.3f} | "
                      f"{r['ratio']:.2f}x |", flush=True)
    geomean = statistics.geometric_mean([r["ratio"] for r in rows])
    if args.json:
        print(json.dumps({"threads": args.threads, "rows": rows, "geomean_ratio": geomean}, indent=2))
    else:
        print(f"\ngeomean metalnn / onnxruntime: {geomean:.2f}x")


if __name__ == "__main__":
    main()
