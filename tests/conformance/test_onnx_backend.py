"""ONNX's own backend test suite (node, simple, pytorch-converted, pytorch-operator cases) against metalnn.

The device comes from METALNN_CONFORMANCE_DEVICE (default cpu). Only cases whose ops metalnn
supports on that device run; unsupported op types are reported in the summary, not failed. Excluded
cases are skipped, and checked to still fail with a metalnn error.
"""
from __future__ import annotations

import os
import warnings

import onnx.backend.test
import pytest

from metalnn.conformance import EXCLUDED_GPU, case_inputs, case_model, excluded, select_cases
from metalnn import Error
from metalnn.onnx_backend import backend_for

DEVICE = os.environ.get("METALNN_CONFORMANCE_DEVICE", "cpu")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the in-memory node cases warn about overflowing casts
    SELECTED, UNSUPPORTED, _RUNNABLE = select_cases(DEVICE)
EXCLUDED = excluded(DEVICE)

_suite = onnx.backend.test.BackendTest(backend_for(DEVICE), __name__)
for _name in SELECTED:
    _suite.include(f"^{_name}_cpu$")
for _name in EXCLUDED:
    _suite.exclude(f"^{_name}_cpu$")
globals().update(_suite.test_cases)


@pytest.mark.parametrize("name", sorted(n for n in EXCLUDED if n in _RUNNABLE))
def test_exclusion_still_fails_clearly(name):
    """An excluded case must fail with a metalnn error; one that passes should leave the list."""
    case = _RUNNABLE[name]
    with pytest.raises(Error):
        backend_for(DEVICE).prepare(case_model(case)).run(case_inputs(case))


def test_exclusions_name_runnable_cases():
    """Every exclusion for this device names a case it selects (so the list cannot go stale)."""
    own = excluded(DEVICE) if DEVICE == "cpu" else {n: r for n, r in EXCLUDED.items() if n in EXCLUDED_GPU}
    assert not set(own) - set(_RUNNABLE)
