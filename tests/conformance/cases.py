"""Selects ONNX backend-test cases whose ops metalnn supports, and the explicit exclusions."""
from __future__ import annotations

import os
from collections import Counter

import onnx
from onnx.backend.test.loader import load_model_tests

import metalnn._native as native

KINDS = ("node", "simple", "pytorch-converted", "pytorch-operator")

# Individual cases the engine rejects on purpose, each with the reason. Every entry must fail with a
# clear metalnn error, never a wrong number.
EXCLUDED: dict[str, str] = {}


def case_model(case) -> onnx.ModelProto:
    if case.model is not None:
        return case.model
    return onnx.load(os.path.join(case.model_dir, "model.onnx"))


def case_op_types(case) -> set[str]:
    model = case_model(case)
    return {n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in model.graph.node}


def select_cases() -> tuple[dict[str, set[str]], Counter]:
    """Returns (case name -> op types) for every runnable case, and a count of cases per unsupported op."""
    supported = set(native.supported_ops()) | {"Constant"}
    selected: dict[str, set[str]] = {}
    unsupported: Counter = Counter()
    for kind in KINDS:
        for case in load_model_tests(kind=kind):
            try:
                ops = case_op_types(case)
            except Exception:  # a case whose files are absent from this onnx release
                continue
            missing = ops - supported
            if missing:
                unsupported.update(missing)
            else:
                selected[case.name] = ops
    return selected, unsupported
