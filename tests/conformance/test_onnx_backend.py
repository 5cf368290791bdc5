"""ONNX's own backend test suite (node, simple, pytorch-converted, pytorch-operator cases) against metalnn.

The device comes from METALNN_CONFORMANCE_DEVICE (default cpu). Only cases whose ops metalnn
supports run; unsupported op types are reported in the summary, not failed.
"""
from __future__ import annotations

import os
import warnings

import onnx.backend.test

from cases import EXCLUDED, select_cases
from metalnn.onnx_backend import backend_for

DEVICE = os.environ.get("METALNN_CONFORMANCE_DEVICE", "cpu")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the in-memory node cases warn about overflowing casts
    SELECTED, UNSUPPORTED = select_cases(DEVICE)

_suite = onnx.backend.test.BackendTest(backend_for(DEVICE), __name__)
for _name in SELECTED:
    _suite.include(f"^{_name}_cpu$")
for _name in EXCLUDED:
    _suite.exclude(f"^{_name}_cpu$")
globals().update(_suite.test_cases)
