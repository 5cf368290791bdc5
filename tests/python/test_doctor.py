"""`metalnn doctor` on each GPU device with a few op types and the demo model: what it reports, and
that a wrong number anywhere turns its verdict to FAIL."""

import numpy as np
import pytest

from metalnn import _native, doctor, unavailable_devices
from metalnn.cli import main as cli_main
from op_check import GPU_DEVICES

pytestmark = pytest.mark.skipif(not GPU_DEVICES, reason="no GPU device")

OPS = "Relu,Softmax"


@pytest.mark.parametrize("device", GPU_DEVICES)
def test_report_on_a_working_device(device, capsys):
    assert cli_main(["doctor", "--device", device, "--ops", OPS, "--models", "demo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    text = "\n".join(lines)
    assert lines[1].startswith("platform: ")
    for name, reason in unavailable_devices().items():
        assert f"{name}: unavailable: {reason}" in lines
    assert f"device: {device}" in lines
    info = _native._gpu_device_info(device)
    assert f"  GPU: {info['gpu']} (family {info['family']})" in lines
    assert f"  SIMD width {info['simd_width']};" in text
    kernels = len(_native._gpu_build_pipelines(device))
    assert kernels > 100 and f"pipelines: {kernels} of {kernels} built;" in text
    per_op = next(line for line in lines if line.startswith("  Relu ") or ", Relu " in line)
    assert "Softmax" in per_op and "FAILED" not in text
    assert "  demo float32: ok" in lines and "  demo float16: ok" in lines
    assert lines[-1].startswith(f"verdict: PASS: {device} on {info['gpu']}: {kernels}/{kernels} pipelines, ")
    assert lines[-1].endswith(" op cases, 2/2 models")


def test_a_wrong_result_fails_the_verdict(monkeypatch, capsys):
    """A device whose Relu outputs are off by one: every case with a Relu is reported, and the verdict."""
    real_backend_for = doctor.backend_for

    class OffByOne:
        def __init__(self, rep):
            self.rep = rep

        def run(self, inputs):
            return tuple(out + 1 if out.dtype == np.float32 else out for out in self.rep.run(inputs))

    class Backend:
        @staticmethod
        def prepare(model):
            return OffByOne(real_backend_for("metal-sim").prepare(model))

    monkeypatch.setattr(doctor, "backend_for", lambda device: real_backend_for(device) if device == "cpu" else Backend)
    assert cli_main(["doctor", "--device", "metal-sim", "--ops", "Relu", "--models", "none"]) == 1
    lines = capsys.readouterr().out.splitlines()
    failed = [line for line in lines if line.lower().startswith("  failed test_relu")]
    assert len(failed) >= 2 and all("values off, max |delta| 1" in line for line in failed)
    assert lines[-1].startswith("verdict: FAIL: metal-sim on ")


def test_compare():
    expected = np.array([[1.0, -2.0, 3.0]], np.float32)
    assert doctor.compare(expected + 1e-6, expected, 1e-3, 1e-5) is None
    assert doctor.compare(expected + 1e-2, expected, 1e-3, 1e-5) == (
        "3 of 3 values off, max |delta| 0.01 (max |ref| 3)")
    assert doctor.compare(np.array([np.nan], np.float32), np.array([np.nan], np.float32), 0, 0) is None
    assert doctor.compare(expected[0], expected, 1e-3, 1e-5) == "got float32[3], expected float32[1, 3]"
    assert doctor.compare(np.array([1, 2]), np.array([1, 3]), 0, 0) == "1 of 2 values differ"
    assert doctor.compare(np.array([1, 2]), np.array([1, 2]), 0, 0) is None
