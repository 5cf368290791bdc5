"""Greedy text generation with a key/value cache: a small GPT-2 or Llama-style decoder (random
weights, seeded) exported to ONNX once, then run by metalnn one token at a time.

    python examples/generate.py [--model gpt2|llama] [--tokens 32] [--device cpu] [--exporter torchscript|dynamo]

The exported step takes `input_ids` [batch, new], `attention_mask` [batch, past + new] and the
cache of every layer (`past_key_<i>`, `past_value_<i>`: [batch, kv_heads, past, head_dim]); it
returns `logits` and the grown cache (`present_key_<i>`, `present_value_<i>`). The prompt runs as one
step with an empty cache, then each new token is one step with the cache of the step before, so
every cache length compiles once. Needs torch and transformers.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import metalnn

VOCAB = 96


def build(name: str, attention: str = "sdpa", seed: int = 0) -> Any:
    """A small causal language model with seeded random weights (ten times the usual spread, so
    the logits are far from uniform and greedy choices are clear): 'gpt2' or 'llama' (rotary
    embeddings, RMSNorm, grouped-query attention: 4 query heads share 2 key/value heads)."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    if name == "gpt2":
        config = GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=128,
                            initializer_range=0.2, bos_token_id=0, eos_token_id=VOCAB - 1)
    elif name == "llama":
        config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                             initializer_range=0.2, bos_token_id=0, eos_token_id=VOCAB - 1)
    else:
        raise SystemExit(f"unknown model {name!r}: expected gpt2 or llama")
    config._attn_implementation = attention
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config).eval()


def cache_shape(model: Any, batch: int, length: int) -> tuple[int, int, int, int]:
    config = model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return batch, kv_heads, length, config.hidden_size // heads


def _step_module(model: Any) -> Any:
    import torch
    from transformers import DynamicCache

    layers = model.config.num_hidden_layers

    class Step(torch.nn.Module):
        """One decoding step on flat tensors: the cache goes in and out as 2 * layers tensors."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, *past):
            cache = DynamicCache([(past[2 * i], past[2 * i + 1]) for i in range(layers)], config=self.model.config)
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True)
            present = []
            for layer in out.past_key_values.layers:
                present += [layer.keys, layer.values]
            return (out.logits, *present)

    return Step().eval()


def cache_names(model: Any, prefix: str) -> list[str]:
    return [f"{prefix}_{kind}_{i}" for i in range(model.config.num_hidden_layers) for kind in ("key", "value")]


def export(model: Any, path: Path | str, exporter: str = "torchscript") -> Path:
    """Exports one decoding step of `model` with free batch, new-token and cache lengths."""
    import torch

    path = Path(path)
    past_names, present_names = cache_names(model, "past"), cache_names(model, "present")
    # Traced at 3 cached + 2 new tokens, so no length is 0 or 1 (which the tracer could fix).
    past = [torch.randn(cache_shape(model, 2, 3)) for _ in past_names]
    ids, mask = torch.ones(2, 2, dtype=torch.long), torch.ones(2, 5, dtype=torch.long)
    step = _step_module(model)
    with torch.no_grad():
        if exporter == "torchscript":
            axes = {"input_ids": {0: "batch", 1: "new"}, "attention_mask": {0: "batch", 1: "total"},
                    "logits": {0: "batch", 1: "new"}}
            axes.update({n: {0: "batch", 2: "past"} for n in past_names})
            axes.update({n: {0: "batch", 2: "total"} for n in present_names})
            torch.onnx.export(step, (ids, mask, *past), str(path), input_names=["input_ids", "attention_mask", *past_names],
                              output_names=["logits", *present_names], dynamic_axes=axes, opset_version=17, dynamo=False)
        else:
            # Named free axes: torch.export cannot declare the mask's length as new + past (a sum of
            # two free dimensions), so it gets its own axis and the traced graph ties the three.
            shapes = ({0: "batch", 1: "new"}, {0: "batch", 1: "total"}, tuple({0: "batch", 2: "past"} for _ in past))
            program = torch.onnx.export(step, (ids, mask, *past), input_names=["input_ids", "attention_mask", *past_names],
                                        output_names=["logits", *present_names], dynamic_shapes=shapes, dynamo=True)
            program.save(str(path))
    return path


def generate(step: metalnn.Model, model: Any, prompt: np.ndarray, tokens: int) -> np.ndarray:
    """Greedy decoding: `prompt` [batch, length] int64 followed by `tokens` new tokens, one step each."""
    batch, length = prompt.shape
    past_names, present_names = cache_names(model, "past"), cache_names(model, "present")
    cache = {n: np.zeros(cache_shape(model, batch, 0), np.float32) for n in past_names}
    ids, sequence = prompt, prompt
    for _ in range(tokens):
        mask = np.ones((batch, sequence.shape[1]), np.int64)
        outputs = step.run({"input_ids": ids, "attention_mask": mask, **cache})
        ids = np.argmax(outputs["logits"][:, -1], axis=-1).astype(np.int64)[:, None]
        sequence = np.concatenate([sequence, ids], axis=1)
        cache = {p: outputs[q] for p, q in zip(past_names, present_names)}
    return sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2", choices=("gpt2", "llama"))
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--exporter", default="torchscript", choices=("torchscript", "dynamo"))
    args = parser.parse_args()
    model = build(args.model)
    prompt = np.random.default_rng(0).integers(1, VOCAB, (1, 5), dtype=np.int64)
    with tempfile.TemporaryDirectory() as directory:
        step = metalnn.load(export(model, Path(directory) / "step.onnx", args.exporter), device=args.device)
    sequence = generate(step, model, prompt, args.tokens)
    print(f"{args.model} on {step.device}: prompt {prompt[0].tolist()}")
    print(f"generated {sequence[0, prompt.shape[1]:].tolist()}")


if __name__ == "__main__":
    main()
