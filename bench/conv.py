"""Single-op latency of convolutions: metalnn against ONNX Runtime, one Conv node each.

Both engines run in one process with the same thread count, timed in interleaved turns as in
bench/compare.py (a pause before each turn, one untimed run, then a block of timed runs), so load
changes on a shared machine hit both alike. The ratio is metalnn's median over ONNX Runtime's.
Outputs are compared before timing.

    python bench/conv.py                      # every case, 2 threads
    python bench/conv.py dw_5x5 dw_7x7 --threads 1  # cases whose name contains one of the words
    python bench/conv.py dense --json
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

# name: (input channels, output channels, spatial input size, kernel, stride, dilation, groups); pads
# keep the size ("same") at stride 1. Depthwise sizes are those of MobileNet, MnasNet, EfficientNet,
# ConvNeXt and DeepLab; dense 3x3 ones those of VGG and ResNet; stems those of MobileNet, SqueezeNet
# and ResNet.
CASES = {
    "dw_3x3_s1_c144_56": (144, 144, (56, 56), 3, 1, 1, 144),
    "dw_3x3_s1_c384_14": (384, 384, (14, 14), 3, 1, 1, 384),
    "dw_3x3_s2_c96_112": (96, 96, (112, 112), 3, 2, 1, 96),
    "dw_3x3_s2_c144_56": (144, 144, (56, 56), 3, 2, 1, 144),
    "dw_5x5_s1_c240_28": (240, 240, (28, 28), 5, 1, 1, 240),
    "dw_5x5_s1_c672_14": (672, 672, (14, 14), 5, 1, 1, 672),
    "dw_5x5_s2_c144_56": (144, 144, (56, 56), 5, 2, 1, 144),
    "dw_5x5_s2_c672_14": (672, 672, (14, 14), 5, 2, 1, 672),
    "dw_7x7_s1_c96_56": (96, 96, (56, 56), 7, 1, 1, 96),
    "dw_7x7_s1_c384_14": (384, 384, (14, 14), 7, 1, 1, 384),
    "dw_7x7_s1_c768_7": (768, 768, (7, 7), 7, 1, 1, 768),
    "dw_3x3_d2_c256_28": (256, 256, (28, 28), 3, 1, 2, 256),
    "dw_5x5_d2_c128_56": (128, 128, (56, 56), 5, 1, 2, 128),
    "dw_3x3_s1_m2_c32_56": (32, 64, (56, 56), 3, 1, 1, 32),
    "dw_1d_k15_c256_500": (256, 256, (500,), 15, 1, 1, 256),
    "dense_3x3_c64_224": (64, 64, (224, 224), 3, 1, 1, 1),
    "dense_3x3_c128_112": (128, 128, (112, 112), 3, 1, 1, 1),
    "dense_3x3_c256_56": (256, 256, (56, 56), 3, 1, 1, 1),
    "dense_3x3_c512_28": (512, 512, (28, 28), 3, 1, 1, 1),
    "dense_3x3_c512_14": (512, 512, (14, 14), 3, 1, 1, 1),
    "dense_3x3_c64_56": (64, 64, (56, 56), 3, 1, 1, 1),
    # Grouped 3x3 of RegNetY-400MF (8 channels a group) and ResNeXt-50 32x4d (32 groups).
    "grp_w8_s2_c48_112": (48, 48, (112, 112), 3, 2, 1, 6),
    "grp_w8_s1_c48_56": (48, 48, (56, 56), 3, 1, 1, 6),
    "grp_w8_s2_c104_56": (104, 104, (56, 56), 3, 2, 1, 13),
    "grp_w8_s1_c104_28": (104, 104, (28, 28), 3, 1, 1, 13),
    "grp_w8_s2_c208_28": (208, 208, (28, 28), 3, 2, 1, 26),
    "grp_w8_s1_c208_14": (208, 208, (14, 14), 3, 1, 1, 26),
    "grp_w8_s2_c440_14": (440, 440, (14, 14), 3, 2, 1, 55),
    "grp_w8_s1_c440_7": (440, 440, (7, 7), 3, 1, 1, 55),
    "grp_w4_s1_c128_56": (128, 128, (56, 56), 3, 1, 1, 32),
    "grp_w8_s2_c256_56": (256, 256, (56, 56), 3, 2, 1, 32),
    "grp_w8_s1_c256_28": (256, 256, (28, 28), 3, 1, 1, 32),
    "grp_w16_s1_c512_14": (512, 512, (14, 14), 3, 1, 1, 32),
    "grp_w32_s1_c1024_7": (1024, 1024, (7, 7), 3, 1, 1, 32),
    "grp_w64_s1_c128_56": (128, 128, (56, 56), 3, 1, 1, 2),
    # ResNet-50's layers on small maps (run with --batch 8): 1x1, 1x1 stride 2, 3x3 stride 2, 3x3 on 7x7.
    "pw_c2048_512_7": (2048, 512, (7, 7), 1, 1, 1, 1),
    "pw_c512_2048_7": (512, 2048, (7, 7), 1, 1, 1, 1),
    "pw_c1024_256_14": (1024, 256, (14, 14), 1, 1, 1, 1),
    "pw_c256_1024_14": (256, 1024, (14, 14), 1, 1, 1, 1),
    "pw_s2_c1024_2048_14": (1024, 2048, (14, 14), 1, 2, 1, 1),
    "pw_s2_c512_1024_28": (512, 1024, (28, 28), 1, 2, 1, 1),
    "dense_3x3_c512_7": (512, 512, (7, 7), 3, 1, 1, 1),
    "dense_3x3_s2_c256_28": (256, 256, (28, 28), 3, 2, 1, 1),
    "dense_3x3_s2_c512_14": (512, 512, (14, 14), 3, 2, 1, 1),
    "stem_3x3_s2_c3_32_224": (3, 32, (224, 224), 3, 2, 1, 1),
    "stem_3x3_s2_c3_64_224": (3, 64, (224, 224), 3, 2, 1, 1),
    "stem_7x7_s2_c3_64_224": (3, 64, (224, 224), 7, 2, 1, 1),
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
    p.add_argument("--batch", type=int, default=1, help="images per run")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = p.parse_args()
    args.allow_spinning = False
    return args


def conv_model(path: Path, in_channels: int, out_channels: int, size: tuple, kernel: int, stride: int,
               dilation: int, groups: int, batch: int = 1) -> dict:
    """Writes a one-Conv model (random weights and bias) to `path`; returns its input feed."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(0)
    dims = len(size)
    pad = dilation * (kernel - 1) // 2
    x_shape = [batch, in_channels, *size]
    w = rng.standard_normal([out_channels, in_channels // groups] + [kernel] * dims).astype(np.float32)
    b = rng.standard_normal([out_channels]).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=groups, strides=[stride] * dims,
                            dilations=[dilation] * dims, pads=[pad] * (2 * dims))
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return {"x": rng.standard_normal(x_shape, dtype=np.float32)}


def measure(name: str, case: tuple, args, workdir: Path) -> dict:
    """Times one case on both engines in interleaved turns; returns medians and the ratio."""
    import numpy as np
    path = workdir / f"{name}.onnx"
    feed = conv_model(path, *case, batch=args.batch)
    runners = {engine: compare.file_runner(engine, path, feed, args) for engine in ("metalnn", "onnxruntime")}
    ours, ref = runners["metalnn"]()[0], runners["onnxruntime"]()
    # Sums over in_channels x kernel products: the tolerance scales with the output's magnitude.
    np.testing.assert_allclose(np.asarray(ours), ref[0], rtol=1e-4, atol=1e-4 * float(np.abs(ref[0]).max()),
                               err_msg=name)
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
        print(f"{args.threads} threads, batch {args.batch}, median of {args.iters} runs in interleaved turns of {args.block}\n\n"
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
