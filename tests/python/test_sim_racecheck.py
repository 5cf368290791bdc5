"""metal-sim's dynamic checks from Python: dispatches between two command-buffer barriers run out of
order (last to first), so a host encoder that forgets a barrier gives wrong numbers, and under the race
checker (METALNN_SIM_RACECHECK=1) a DeviceError naming both dispatches. The kernels' own rules are
tested in tests/metal_sim/racecheck_test.cpp."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import metalnn
from metalnn import _native
from op_check import small_cnn_model

pytestmark = pytest.mark.skipif("metal-sim" not in metalnn.devices(), reason="no metal-sim device")


def chain(rng):
    """Conv -> Relu -> MaxPool -> Gemm: each dispatch reads what the one before wrote."""
    return small_cnn_model(rng, softmax=False)


def test_host_without_barriers_gives_wrong_numbers(rng):
    model, feeds = chain(rng)
    reference = metalnn.load(model, device="cpu").run(feeds)["y"]
    engine = metalnn.load(model, device="metal-sim")
    np.testing.assert_allclose(engine.run(feeds)["y"], reference, rtol=1e-4, atol=1e-5)
    _native._gpu_set_encoder_barriers(False)
    try:  # a fresh model: its intermediates are not yet left over from a correct run
        fresh = metalnn.load(model, device="metal-sim")
        if os.environ.get("METALNN_SIM_RACECHECK") == "1":
            with pytest.raises(metalnn.DeviceError, match="no barrier between them"):
                fresh.run(feeds)
        else:
            assert not np.allclose(fresh.run(feeds)["y"], reference, rtol=1e-4, atol=1e-5)
    finally:
        _native._gpu_set_encoder_barriers(True)
    np.testing.assert_allclose(engine.run(feeds)["y"], reference, rtol=1e-4, atol=1e-5)


def test_host_without_barriers_is_a_race(rng, tmp_path):
    model, feeds = chain(rng)
    path = tmp_path / "chain.onnx"
    path.write_bytes(model.SerializeToString())
    np.savez(tmp_path / "feeds.npz", **feeds)
    script = textwrap.dedent(f"""
        import numpy as np, metalnn
        from metalnn import _native
        feeds = dict(np.load({str(tmp_path / 'feeds.npz')!r}))
        engine = metalnn.load({str(path)!r}, device="metal-sim")
        reference = metalnn.load({str(path)!r}, device="cpu").run(feeds)["y"]
        np.testing.assert_allclose(engine.run(feeds)["y"], reference, rtol=1e-4, atol=1e-5)
        _native._gpu_set_encoder_barriers(False)
        try:
            engine.run(feeds)
        except metalnn.DeviceError as e:
            print(e)
        else:
            print("no error")
    """)
    env = dict(os.environ, METALNN_SIM_RACECHECK="1")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    message = result.stdout
    assert "metal-sim race check: dispatches" in message, message
    assert "have no barrier between them" in message, message
    assert ".metal:" in message, message
