"""The GPU path's promises on every GPU device (metal-sim, and metal where it exists): one command
buffer per run, every pipeline built at load, zero-copy inputs and outputs, precision handling and
every engine op lowered."""

import numpy as np
import pytest
from onnx import helper

import metalnn
from metalnn import _native
from op_check import GPU_DEVICES, make_model, small_cnn_model

pytestmark = pytest.mark.skipif(not GPU_DEVICES, reason="no GPU device")
each_gpu = pytest.mark.parametrize("device", GPU_DEVICES)


@pytest.fixture
def small_net(rng):
    """Conv + Relu + MaxPool + Gemm + Softmax: several dependent dispatches."""
    return small_cnn_model(rng)


@each_gpu
def test_one_command_buffer_per_run_and_no_pipeline_during_run(device, small_net):
    model, feeds = small_net
    engine = metalnn.load(model, device=device)
    reference = metalnn.load(model, device="cpu").run(feeds)["y"]
    before = _native._gpu_counters(device)
    for _ in range(3):
        np.testing.assert_allclose(engine.run(feeds)["y"], reference, rtol=1e-5, atol=1e-6)
    after = _native._gpu_counters(device)
    assert after["command_buffers_created"] - before["command_buffers_created"] == 3
    assert after["pipelines_created"] == before["pipelines_created"]


@each_gpu
def test_pipelines_are_shared_between_models(device, small_net):
    model, _ = small_net
    metalnn.load(model, device=device)
    before = _native._gpu_counters(device)["pipelines_created"]
    metalnn.load(model, device=device)
    assert _native._gpu_counters(device)["pipelines_created"] == before


@each_gpu
def test_outputs_are_device_buffers(device, small_net):
    """Each output array is the buffer the kernels wrote (page-aligned device memory), not a copy."""
    model, feeds = small_net
    engine = metalnn.load(model, device=device)
    first = engine.run(feeds)["y"]
    second = engine.run(feeds)["y"]
    assert first.ctypes.data % 16384 == 0 and first.base is not None
    assert first.ctypes.data != second.ctypes.data  # a fresh buffer per run: earlier results stay valid
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("device", ["cpu", *GPU_DEVICES])
def test_input_buffers(device, small_net):
    model, feeds = small_net
    engine = metalnn.load(model, device=device)
    buffers = engine.input_buffers()
    assert set(buffers) == {"x"}
    x = buffers["x"]
    assert x.shape == feeds["x"].shape and x.dtype == np.float32
    assert x.ctypes.data % metalnn.model.PAGE_SIZE == 0 and x.flags.c_contiguous
    x[...] = feeds["x"]
    np.testing.assert_array_equal(engine.run(buffers)["y"], engine.run(feeds)["y"])


@each_gpu
def test_inputs_are_read_in_place(device, small_net):
    """A page-aligned input is wrapped, not copied: per run one buffer for it and one per output."""
    model, feeds = small_net
    engine = metalnn.load(model, device=device)
    buffers = engine.input_buffers()
    buffers["x"][...] = feeds["x"]
    engine.run(buffers)
    before = _native._gpu_counters(device)["buffers_created"]
    engine.run(buffers)
    assert _native._gpu_counters(device)["buffers_created"] - before == 2


@each_gpu
def test_float16_precision(device, small_net):
    model, feeds = small_net
    engine = metalnn.load(model, device=device, precision="float16")
    assert engine.precision == "float16"
    y = engine.run(feeds)["y"]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, metalnn.load(model, device="cpu").run(feeds)["y"], atol=2e-2)


@each_gpu
def test_bad_precision_is_a_device_error(device, small_net):
    with pytest.raises(ValueError, match="precision"):
        metalnn.load(small_net[0], device=device, precision="bfloat16")


def test_metal_unavailable_off_apple(small_net):
    if "metal" in metalnn.devices():
        pytest.skip("this machine has a Metal GPU")
    with pytest.raises(metalnn.DeviceError, match="Apple GPU"):
        metalnn.load(small_net[0], device="metal")


def test_every_op_is_lowered():
    """The GPU registry names exactly the engine's ops."""
    supported, lowered = set(_native.supported_ops()), set(_native._gpu_lowered_ops())
    assert lowered <= supported, f"GPU lowerings of unknown ops: {sorted(lowered - supported)}"
    assert supported <= lowered, f"ops without GPU kernels: {sorted(supported - lowered)}"


@each_gpu
@pytest.mark.parametrize("precision", ["float32", "float16"])
@pytest.mark.parametrize("source, target", [(np.float32, np.float16), (np.float16, np.float32)])
def test_float_inputs_and_outputs_keep_their_dtype_at_either_precision(device, rng, precision, source, target):
    """A float16 input or output of a float32 model (and the reverse) is converted at the edges."""
    to = helper.np_dtype_to_tensor_dtype(np.dtype(target))
    nodes = [helper.make_node("Cast", ["x"], ["y"], to=to)]
    model, feeds = make_model(nodes, {"x": rng.standard_normal((3, 129)).astype(source)}, ["y"])
    result = metalnn.load(model, device=device, precision=precision).run(feeds)["y"]
    assert result.dtype == target
    np.testing.assert_array_equal(result, feeds["x"].astype(target))
