"""int8 latency: metalnn on an int8 model against metalnn on the float32 original and ONNX Runtime on
the same int8 file, in one process, taking turns as bench/compare.py does (so load changes on a shared
machine hit every engine alike).

The int8 files are what ONNX Runtime's quantizer writes: quant_pre_process then quantize_static (QDQ,
per-channel int8 weights, calibration on random images) for the CNNs, quantize_dynamic (int8 weights, MatMulInteger)
for BERT-base. Weights are random; the files are cached.

    python bench/quantized.py                         # resnet50, mobilenet_v2, bert_base; 2 threads
    python bench/quantized.py resnet50 --iters 30 --activation QUInt8
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the same thread setup, export cache and engines)

MODELS = ("resnet50", "mobilenet_v2", "bert_base")
SEQUENCE = 128


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", default=list(MODELS), help="default: %(default)s")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=15)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--settle", type=float, default=0.1)
    p.add_argument("--activation", default="QUInt8", choices=["QInt8", "QUInt8"],
                   help="activation type of quantize_static")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "metalnn-bench")
    p.add_argument("--allow-spinning", action="store_true")
    p.add_argument("--device", default="cpu")
    return p.parse_args()


def bert_base(cache: Path) -> Path:
    """BERT-base (random weights) encoder taking input_ids [1, SEQUENCE], exported once."""
    path = cache / f"bert_base_s{SEQUENCE}.onnx"
    if path.exists():
        return path
    import torch
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    model = BertModel(BertConfig(), add_pooling_layer=False).eval()

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = model

        def forward(self, ids):
            return self.bert(input_ids=ids).last_hidden_state

    ids = torch.ones(1, SEQUENCE, dtype=torch.int64)
    cache.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(Encoder(), (ids,), str(path.with_suffix(".tmp")), input_names=["ids"],
                          output_names=["output"], opset_version=17, dynamo=False)
    path.with_suffix(".tmp").rename(path)
    return path


def quantized(name: str, float_path: Path, args) -> Path:
    """The int8 version of float_path, made once."""
    from onnxruntime import quantization as q
    suffix = "dynamic" if name == "bert_base" else f"qdq_{args.activation}"
    path = float_path.with_name(f"{float_path.stem}_{suffix}.onnx")
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    if name == "bert_base":
        q.quantize_dynamic(str(float_path), str(tmp), weight_type=q.QuantType.QInt8)
    else:
        import numpy as np
        from metalnn.torchvision_models import random_images

        class Reader(q.CalibrationDataReader):
            def __init__(self):
                self.batches = iter(random_images(1, seed=s) for s in range(4))

            def get_next(self):
                batch = next(self.batches, None)
                return None if batch is None else {"input": np.ascontiguousarray(batch)}

        # ONNX Runtime's recommended first step: shape inference and its optimiser (BatchNorm folded into
        # the convolutions), so that the quantizer sees Conv -> Relu rather than Conv -> BN -> Relu.
        from onnxruntime.quantization.shape_inference import quant_pre_process
        prepared = path.with_name(f"{float_path.stem}_prepared.onnx")
        quant_pre_process(str(float_path), str(prepared))
        q.quantize_static(str(prepared), str(tmp), Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                          activation_type=getattr(q.QuantType, args.activation), weight_type=q.QuantType.QInt8)
    tmp.rename(path)
    return path


def measure(name: str, args) -> dict:
    import numpy as np
    float_path = bert_base(args.cache) if name == "bert_base" else compare.prepare(name, 1, args.cache).onnx
    int8_path = quantized(name, float_path, args)
    if name == "bert_base":
        feed = {"ids": np.random.default_rng(0).integers(1, 30000, (1, SEQUENCE)).astype(np.int64)}
    else:
        feed = {"input": np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)}
    runners = {
        "metalnn int8": compare.file_runner("metalnn", int8_path, feed, args),
        "metalnn fp32": compare.file_runner("metalnn", float_path, feed, args),
        "onnxruntime int8": compare.file_runner("onnxruntime", int8_path, feed, args),
        "onnxruntime fp32": compare.file_runner("onnxruntime", float_path, feed, args),
    }
    for run in runners.values():
        for _ in range(args.warmup):
            run()
    cpu: dict[str, list[float]] = {}
    times = compare.interleaved_times(runners, args, cpu)
    return {"model": name, "median_ms": {e: statistics.median(t) for e, t in times.items()},
            "cpu_ms": {e: statistics.median(t) for e, t in cpu.items()}}


def main() -> None:
    args = parse_args()
    compare.set_thread_env(args.threads, args.allow_spinning)
    rows = [measure(name, args) for name in args.models]
    engines = list(rows[0]["median_ms"])
    print(f"batch 1, {args.threads} threads, {args.iters} runs per engine in turns; CPU: {compare.cpu_name()}")
    for key, what in (("median_ms", "median wall ms"), ("cpu_ms", "median process CPU ms per run (all threads)")):
        print(f"\n{what}\n| model | {' | '.join(engines)} | int8 vs fp32 | int8 vs ORT int8 |")
        print("|---" * (len(engines) + 3) + "|")
        for row in rows:
            ms = row[key]
            cells = " | ".join(f"{ms[e]:.1f}" for e in engines)
            print(f"| {row['model']} | {cells} | {ms['metalnn fp32'] / ms['metalnn int8']:.2f}x | "
                  f"{ms['onnxruntime int8'] / ms['metalnn int8']:.2f}x |")

if __name__ == "__main__":
    main()
