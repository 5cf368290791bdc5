"""Per-token latency of a 4-bit decoder: one new token (M = 1 rows for every MatMulNBits) through a
Llama-style decoder with random weights, quantised by ONNX Runtime's MatMulNBitsQuantizer.

Three runners in one process, same thread count, timed in interleaved turns (as bench/compare.py):
metalnn on the 4-bit file, metalnn on the float32 file it was quantised from, and ONNX Runtime on the
same 4-bit file. Logits are compared before timing. Not a test.

    python bench/matmul_nbits.py                       # 2 threads, the default decoder
    python bench/matmul_nbits.py --hidden 2048 --layers 2 --threads 1
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (thread settings and engine loaders)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="threads each engine may use")
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--intermediate", type=int, default=2816)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per runner")
    p.add_argument("--iters", type=int, default=40, help="timed runs per runner")
    p.add_argument("--block", type=int, default=5, help="timed runs per runner per turn")
    p.add_argument("--settle", type=float, default=0.05, help="seconds of pause before each turn")
    p.add_argument("--device", default="cpu", help="metalnn device")
    args = p.parse_args()
    args.allow_spinning = False
    return args


def export_decoder(args, workdir: Path) -> tuple[Path, Path, dict]:
    """Writes the float32 and the 4-bit decoder; returns their paths and a one-token feed."""
    import numpy as np
    import onnx
    import torch
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                         num_hidden_layers=args.layers, num_attention_heads=args.hidden // 64,
                         num_key_value_heads=max(1, args.hidden // 256), max_position_embeddings=256)
    config._attn_implementation = "eager"
    model = LlamaForCausalLM(config).eval()

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    feed = {"input_ids": np.array([[7]], np.int64), "attention_mask": np.ones((1, 1), np.int64)}
    buffer = io.BytesIO()
    torch.onnx.export(Logits().eval(), tuple(torch.from_numpy(v) for v in feed.values()), buffer,
                      input_names=list(feed), output_names=["logits"], opset_version=21, dynamo=False)
    float_model = onnx.load_from_string(buffer.getvalue())
    float_path, q4_path = workdir / "decoder_f32.onnx", workdir / "decoder_q4.onnx"
    onnx.save(float_model, str(float_path))
    quantizer = MatMulNBitsQuantizer(float_model, block_size=args.block_size, is_symmetric=False)
    quantizer.process()
    onnx.save(quantizer.model.model, str(q4_path))
    return float_path, q4_path, feed


def main() -> None:
    args = parse_args()
    compare.set_thread_env(args.threads, args.allow_spinning)
    import logging

    import numpy as np
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        float_path, q4_path, feed = export_decoder(args, Path(tmp))
        runners = {
            "metalnn 4-bit": compare.file_runner("metalnn", q4_path, feed, args),
            "metalnn float32": compare.file_runner("metalnn", float_path, feed, args),
            "onnxruntime 4-bit": compare.file_runner("onnxruntime", q4_path, feed, args),
        }
        sizes = {"metalnn 4-bit": q4_path.stat().st_size, "metalnn float32": float_path.stat().st_size,
                 "onnxruntime 4-bit": q4_path.stat().st_size}
        ours = runners["metalnn 4-bit"]()[0]
        ref = runners["onnxruntime 4-bit"]()[0]
        error = float(np.abs(ours - ref).max() / np.abs(ref).max())
        for run in runners.values():
            for _ in range(args.warmup):
                run()
        times = compare.interleaved_times(runners, args)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"Llama-style decoder: hidden {args.hidden}, intermediate {args.intermediate}, {args.layers} layers, "
          f"vocab {args.vocab}, 4-bit blocks of {args.block_size}; one token (M = 1); {args.threads} threads; "
          f"median of {args.iters} runs in interleaved turns of {args.block}")
    print(f"4-bit logits vs ONNX Runtime: max |diff| / max |logits| = {error:.2e}\n")
    print("| runner | ONNX file MB | median ms / token | min ms / token | median vs metalnn 4-bit |\n"
          "|---|---:|---:|---:|---:|")
    for name in runners:
        print(f"| {name} | {sizes[name] / 1e6:.1f} | {med[name]:.2f} | {min(times[name]):.2f} | "
              f"{med[name] / med['metalnn 4-bit']:.2f}x |")


if __name__ == "__main__":
    main()
