"""`metalnn doctor`: a first-run self-check whose output a user can send back.

Prints the platform, the GPU device (name, family, SIMD width, limits, its kernel library), builds a
pipeline for every kernel, runs ONNX's own op test cases (the ones tests/conformance runs, from
metalnn.conformance) and the small models on the GPU device against `cpu`, and ends with a one-line
verdict. It checks `metal` where it exists and `metal-sim` elsewhere.
"""
from __future__ import annotations

import functools

import platform
import sys
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from . import __version__, _native, conformance, demo, devices, load, torchvision_models, unavailable_devices
from .errors import Error
from .onnx_backend import backend_for

# The GPU against cpu, both within ONNX's backend-test tolerance (rtol 1e-3) of the reference.
CASE_RTOL, CASE_ATOL = 2e-3, 1e-5
# Whole models: float32 differs by summation order; float16 stores activations in half.
MODEL_TOLERANCE = {"float32": 1e-4, "float16": 2e-2}
FLOAT16_MODELS = ("demo", "resnet18")


def compare(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str | None:
    """What is wrong with `actual` against `expected` (None when it matches): shape, dtype or values,
    within atol * max(1, max|expected|) + rtol * |expected| for floats, exactly otherwise."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        return f"got {actual.dtype}{list(actual.shape)}, expected {expected.dtype}{list(expected.shape)}"
    if not np.issubdtype(expected.dtype, np.floating):
        wrong = int(np.count_nonzero(actual != expected))
        return f"{wrong} of {expected.size} values differ" if wrong else None
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    finite = np.isfinite(e)
    scale = max(1.0, float(np.abs(e[finite]).max())) if finite.any() else 1.0
    same_special = (np.isnan(a) & np.isnan(e)) | (a == e)
    bad = ~same_special & ~(np.abs(a - e) <= atol * scale + rtol * np.abs(e))
    if not bad.any():
        return None
    delta = np.abs(a - e)[bad]
    return f"{int(bad.sum())} of {e.size} values off, max |delta| {float(np.nanmax(delta)):.3g} (max |ref| {scale:.3g})"


class Report:
    """Prints as it goes (a crash still leaves the lines before it) and counts passes and failures."""

    def __init__(self, out: TextIO):
        self.out = out
        self.counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # section -> [passed, total]

    def line(self, text: str = "") -> None:
        """Prints one line of the report."""
        print(text, file=self.out, flush=True)

    def count(self, section: str, ok: bool) -> None:
        """Counts one check of `section` as passed or failed."""
        self.counts[section][0] += int(ok)
        self.counts[section][1] += 1

    def failed(self) -> bool:
        """True when any check of any section failed."""
        return any(passed != total for passed, total in self.counts.values())

    def summary(self) -> str:
        """Passed/total per section, on one line."""
        return ", ".join(f"{passed}/{total} {section}" for section, (passed, total) in self.counts.items())


def check_device(report: Report, device: str) -> None:
    """The device's own account of itself, then a pipeline for every kernel in its library."""
    info = _native._gpu_device_info(device)
    report.line(f"device: {device}")
    report.line(f"  GPU: {info['gpu']} (family {info['family']})")
    report.line(f"  SIMD width {info['simd_width']}; per threadgroup at most {info['max_threads_per_threadgroup']} "
                f"threads and {info['max_threadgroup_memory']} bytes of threadgroup memory")
    report.line(f"  kernels: {info['library']}: loaded")
    rows = _native._gpu_build_pipelines(device)
    shapes: dict[tuple[int, int], int] = defaultdict(int)
    for row in rows:
        report.count("pipelines", not row["error"])
        if row["error"]:
            report.line(f"  FAILED pipeline {row['kernel']}: {row['error']}")
        else:
            shapes[row["thread_execution_width"], row["max_total_threads_per_threadgroup"]] += 1
    passed, total = report.counts["pipelines"]
    report.line(f"pipelines: {passed} of {total} built; (threadExecutionWidth, maxTotalThreadsPerThreadgroup): " +
                ", ".join(f"{shape} x{n}" for shape, n in sorted(shapes.items())))


def run_cases(report: Report, device: str, ops: set[str] | None) -> None:
    """ONNX's backend-test cases of the ops `device` runs (float32), on `device` against cpu."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the in-memory node cases warn about overflowing casts
        selected, _, runnable = conformance.select_cases(device, ops)
    excluded = conformance.excluded(device)
    names = sorted(n for n in selected if n not in excluded)
    report.line(f"op cases: {len(names)} ONNX backend-test cases (float32), {device} against cpu")
    per_op: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    skipped = 0
    for name in names:
        case = runnable[name]
        model, inputs = conformance.case_model(case), conformance.case_inputs(case)
        try:
            expected = backend_for("cpu").prepare(model).run(inputs)
        except Error:
            skipped += 1  # the engine rejects it on cpu too: not a GPU question
            continue
        try:
            actual = backend_for(device).prepare(model).run(inputs)
            problems = [p for a, e in zip(actual, expected) if (p := compare(a, e, CASE_RTOL, CASE_ATOL))]
        except Exception as exc:  # any failure is the report's to show, never the doctor's end
            problems = [f"{type(exc).__name__}: {exc}"]
        report.count("op cases", not problems)
        for op in selected[name]:
            per_op[op][0] += int(not problems)
            per_op[op][1] += 1
        if problems:
            report.line(f"  FAILED {name}: {problems[0]}")
    report.line("  " + ", ".join(f"{op} {p}/{t}" for op, (p, t) in sorted(per_op.items())))
    if skipped:
        report.line(f"  ({skipped} cases the cpu device rejects as well were left out)")


def model_sources(names: Sequence[str] | None, directory: Path) -> list[tuple[str, Callable[[], tuple]]]:
    """(name, build) pairs; build() gives (model, feeds). torchvision's need torch and torchvision."""
    def demo_model():
        return demo.build_classifier(), {"image": demo.make_image(True)}

    def torchvision_model(name: str):
        size = torchvision_models.small_image_size(name)
        path = torchvision_models.export_onnx(name, directory / f"{name}.onnx", 1, image_size=size)
        return path, {"input": torchvision_models.random_images(1, size, seed=3)}

    sources = [("demo", demo_model)]
    if torchvision_models.available():
        sources += [(n, functools.partial(torchvision_model, n)) for n in torchvision_models.MODEL_NAMES]
    return [s for s in sources if names is None or s[0] in names]


def run_models(report: Report, device: str, names: Sequence[str] | None) -> None:
    """Each small model on `device` against cpu, in float32 (and float16 for a few)."""
    report.line(f"models: {device} against cpu")
    if not torchvision_models.available():
        report.line("  the torchvision classifiers are left out: pip install torch torchvision to include them")
    with tempfile.TemporaryDirectory() as directory:
        for name, build in model_sources(names, Path(directory)):
            try:
                model, feeds = build()
                expected = next(iter(load(model, device="cpu").run(feeds).values()))
            except Exception as exc:
                report.line(f"  {name}: not checked, the model could not be built: {exc}")
                continue
            for precision in ("float32", "float16") if name in FLOAT16_MODELS else ("float32",):
                try:
                    actual = next(iter(load(model, device=device, precision=precision).run(feeds).values()))
                    problem = compare(actual, expected, 0.0, MODEL_TOLERANCE[precision])
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                report.count("models", problem is None)
                report.line(f"  {name} {precision}: " + (f"FAILED: {problem}" if problem else "ok"))


def run(device: str | None = None, ops: Sequence[str] | None = None, models: Sequence[str] | None = None,
        out: TextIO | None = None) -> bool:
    """Runs every check and prints the report (to stdout by default); True when everything passed."""
    report = Report(out or sys.stdout)
    report.line(f"metalnn {__version__} doctor")
    report.line(f"platform: {platform.platform()} ({platform.machine()}), Python {platform.python_version()}")
    report.line(f"devices: {', '.join(devices())}")
    for name, reason in unavailable_devices().items():
        report.line(f"{name}: unavailable: {reason}")
    if device is None:
        device = "metal" if "metal" in devices() else "metal-sim"
    if device not in devices():
        report.line(f"verdict: FAIL: device '{device}' is not available")
        return False
    check_device(report, device)
    run_cases(report, device, set(ops) if ops else None)
    run_models(report, device, models)
    info = _native._gpu_device_info(device)
    verdict = "FAIL" if report.failed() else "PASS"
    report.line(f"verdict: {verdict}: {device} on {info['gpu']}: {report.summary()}")
    return verdict == "PASS"
