"""Every zoo model, from each exporter, on every device, against ONNX Runtime on the same inputs.

`pytest tests/models` runs the default subset; `pytest tests/models --zoo full` (or METALNN_ZOO=full)
runs all of it. Models that need an op or kernel still being added are strict xfails naming it in
zoo.PENDING, so each flips to a failure (to be removed from the table) the day it passes.
"""

import os

import numpy as np
import pytest

import zoo
from zoo import DEVICES


def _cases(config):
    selection = config.getoption("--zoo") or os.environ.get("METALNN_ZOO", "default")
    for entry in zoo.ENTRIES.values():
        if selection == "full" or entry.default:
            for mode in entry.modes:
                if selection == "full" or mode in entry.default_modes:
                    for device in DEVICES:
                        reason = zoo.pending(entry.name, mode, device)
                        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                        yield pytest.param(entry.name, mode, device, marks=marks,
                                           id=f"{entry.name}-{mode}-{device}")


def pytest_generate_tests(metafunc):
    if {"name", "mode", "device"} <= set(metafunc.fixturenames):
        metafunc.parametrize(("name", "mode", "device"), list(_cases(metafunc.config)))


_references = {}


def _reference(name, mode):
    """The exported model and ONNX Runtime's outputs, once per session."""
    if (name, mode) not in _references:
        try:
            exported = zoo.export(zoo.ENTRIES[name], mode)
        except FileNotFoundError as missing:  # a trained model's package is not installed
            pytest.skip(str(missing))
        expected = zoo.reference(exported)[0]
        # Random weights that give a constant output would let any engine pass.
        assert all(e.size and np.ptp(e.astype(np.float64)) > 0 for e in expected), f"{name}: constant output"
        _references[name, mode] = exported, expected
    return _references[name, mode]


def test_zoo_model_matches_onnx_runtime(name, mode, device):
    exported, expected = _reference(name, mode)
    actual = zoo.run(exported, device)[0]
    error = zoo.relative_error(actual, expected)
    assert error <= zoo.TOLERANCE, f"{name} ({mode}) on {device}: max |delta| / max |ref| = {error:.3g}"
