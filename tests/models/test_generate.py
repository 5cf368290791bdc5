"""GPT-2 and a Llama-style decoder as decoders with a key/value cache (examples/generate.py): 32
greedy tokens from metalnn, each checked against transformers' own `generate` with the same weights.

The step model has free batch, new-token and cache lengths. `test_generate_pinned` runs the same
steps with every length fixed in the file (one load per step), so the cache arithmetic is checked
apart from free-dimension support. `--zoo full` adds the sdpa attention and the dynamo exporter.
"""

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import zoo

ROOT = Path(__file__).resolve().parents[2]
TOKENS = 32

_spec = importlib.util.spec_from_file_location("generate_example", ROOT / "examples" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

# What each combination still needs, by (model, attention, exporter, device, pinned); None matches all.
PENDING: list[tuple] = []


def pending(*case) -> str:
    return "; ".join(reason for *key, reason in PENDING
                     if all(k is None or k == c for k, c in zip(key, case)))


def _cases(config, pinned):
    full = (config.getoption("--zoo") or os.environ.get("METALNN_ZOO", "default")) == "full"
    for model in ("gpt2", "llama"):
        for attention in ("sdpa", "eager") if full else ("eager",):
            for exporter in zoo.EXPORTERS if full else ("torchscript",):
                for device in zoo.DEVICES:
                    reason = pending(model, attention, exporter, device, pinned)
                    yield pytest.param(model, attention, exporter, device,
                                       marks=[pytest.mark.xfail(strict=True, reason=reason)] if reason else [],
                                       id=f"{model}-{attention}-{exporter}-{device}")


def pytest_generate_tests(metafunc):
    if "attention" in metafunc.fixturenames:
        pinned = metafunc.function.__name__.endswith("pinned")
        metafunc.parametrize(("model_name", "attention", "exporter", "device"), list(_cases(metafunc.config, pinned)))


_built = {}


def _decoder(model_name, attention, exporter):
    """The torch model, its exported step (cached on disk) and transformers' greedy tokens."""
    key = (model_name, attention, exporter)
    if key not in _built:
        import torch

        model = generate.build(model_name, attention)
        digest = hashlib.sha256((ROOT / "examples" / "generate.py").read_bytes())
        digest.update(f"{key}{zoo.cache_key(zoo.ENTRIES['gpt2-eager'], exporter)}".encode())
        path = zoo.cache_directory() / f"step-{model_name}-{attention}.{exporter}.{digest.hexdigest()[:16]}.onnx"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            generate.export(model, str(path) + ".tmp", exporter)
            os.replace(str(path) + ".tmp", path)
        prompt = np.random.default_rng(0).integers(1, generate.VOCAB, (2, 5), dtype=np.int64)
        with torch.no_grad():
            expected = model.generate(torch.from_numpy(prompt), attention_mask=torch.ones_like(torch.from_numpy(prompt)),
                                      max_new_tokens=TOKENS, min_new_tokens=TOKENS, do_sample=False).numpy()
        _built[key] = model, path, prompt, expected
    return _built[key]


class PinnedStep:
    """Runs each step on a copy of the model whose free dimensions are fixed to that step's sizes."""

    def __init__(self, path, device):
        self.proto, self.device, self.models = onnx.load(str(path)), device, {}

    def run(self, feeds):
        import metalnn

        shapes = tuple(v.shape for v in feeds.values())
        if shapes not in self.models:
            proto = onnx.ModelProto.FromString(self.proto.SerializeToString())
            for value in proto.graph.input:
                for dim, size in zip(value.type.tensor_type.shape.dim, feeds[value.name].shape):
                    dim.Clear()
                    dim.dim_value = size
            self.models = {shapes: metalnn.load(proto, device=self.device)}  # one at a time
        return self.models[shapes].run(feeds)


def _check(tokens, expected):
    assert tokens.shape == expected.shape == (2, 5 + TOKENS)
    mismatch = np.argwhere(tokens != expected)
    assert not mismatch.size, f"first differing token at (row, position) {tuple(mismatch[0])}: " \
                              f"{tokens[tuple(mismatch[0])]} != {expected[tuple(mismatch[0])]}"


def test_generate_matches_transformers(model_name, attention, exporter, device):
    import metalnn

    model, path, prompt, expected = _decoder(model_name, attention, exporter)
    step = metalnn.load(path, device=device)
    _check(generate.generate(step, model, prompt, TOKENS), expected)


def test_generate_pinned(model_name, attention, exporter, device):
    model, path, prompt, expected = _decoder(model_name, attention, exporter)
    _check(generate.generate(PinnedStep(path, device), model, prompt, TOKENS), expected)
