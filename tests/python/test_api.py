"""The Python API: load sources, model description, calling, zero-copy outputs, threads."""

import gc
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from onnx import helper

import metalnn
from op_check import TOLERANCES, assert_close, const, make_model, run_reference

TOLERANCE = TOLERANCES["float32"]


@pytest.fixture(scope="module")
def two_input_model():
    """Inputs a (2, 7, 13) and b (13,); outputs sum = a + b, product = a * b, shape = Shape(a)."""
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
             helper.make_node("Mul", ["a", "b"], ["product"]),
             helper.make_node("Shape", ["a"], ["shape"])]
    values = {"a": np.zeros((2, 7, 13), "float32"), "b": np.zeros(13, "float32")}
    return make_model(nodes, values, ["sum", "product", "shape"])[0]


@pytest.fixture(scope="module")
def conv_model():
    """One input "x" (4, 3, 13, 13); output "y" = Relu(Conv(x)) of shape (4, 8, 13, 13)."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w", "bias"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["y"])]
    values = {"x": np.zeros((4, 3, 13, 13), "float32"),
              "w": const(rng.standard_normal((8, 3, 3, 3), dtype="float32")),
              "bias": const(rng.standard_normal(8, dtype="float32"))}
    return make_model(nodes, values, ["y"])[0]


def images(seed, shape=(4, 3, 13, 13)):
    return np.random.default_rng(seed).standard_normal(shape, dtype="float32")


@pytest.mark.parametrize("form", ["str_path", "pathlib_path", "bytes", "model_proto"])
def test_load_sources(form, conv_model, tmp_path):
    path = tmp_path / "conv.onnx"
    path.write_bytes(conv_model.SerializeToString())
    source = {"str_path": str(path), "pathlib_path": path,
              "bytes": conv_model.SerializeToString(), "model_proto": conv_model}[form]
    model = metalnn.load(source, device="cpu")
    x = images(1)
    assert_close(model.run({"x": x})["y"], run_reference(conv_model, {"x": x})["y"], TOLERANCE)


def test_inputs_and_outputs(two_input_model):
    model = metalnn.load(two_input_model, device="cpu")
    assert [(i.name, i.shape, i.dtype) for i in model.inputs] == [
        ("a", (2, 7, 13), np.dtype("float32")), ("b", (13,), np.dtype("float32"))]
    assert [(o.name, o.shape, o.dtype) for o in model.outputs] == [
        ("sum", (2, 7, 13), np.dtype("float32")), ("product", (2, 7, 13), np.dtype("float32")),
        ("shape", (3,), np.dtype("int64"))]
    for info in model.inputs + model.outputs:
        assert isinstance(info.shape, tuple) and all(type(d) is int for d in info.shape)
        assert isinstance(info.dtype, np.dtype)


def test_run_returns_every_output(two_input_model):
    model = metalnn.load(two_input_model, device="cpu")
    rng = np.random.default_rng(2)
    feeds = {"a": rng.standard_normal((2, 7, 13), dtype="float32"),
             "b": rng.standard_normal(13, dtype="float32")}
    outputs = model.run(feeds)
    expected = run_reference(two_input_model, feeds)
    assert list(outputs) == ["sum", "product", "shape"]
    for name in expected:
        assert_close(outputs[name], expected[name], TOLERANCE, name)


def test_devices():
    devices = metalnn.devices()
    assert isinstance(devices, list) and all(isinstance(d, str) for d in devices)
    assert "cpu" in devices
    assert set(devices) <= {"cpu", "metal", "metal-sim"}
    if sys.platform != "darwin":
        assert "metal" not in devices


def test_unavailable_devices_say_why(conv_model):
    """Every device metalnn knows is either usable or missing with a reason, which loading it raises."""
    missing = metalnn.unavailable_devices()
    assert set(missing) | set(metalnn.devices()) == {"cpu", "metal", "metal-sim"}
    assert not set(missing) & set(metalnn.devices())
    if sys.platform != "darwin":
        assert missing["metal"] == "device 'metal' is not available: it needs an Apple GPU and a build on macOS or iOS"
    for device, reason in missing.items():
        with pytest.raises(metalnn.DeviceError) as raised:
            metalnn.load(conv_model, device=device)
        assert str(raised.value) == reason


def test_device_attribute(conv_model):
    assert metalnn.load(conv_model, device="cpu").device == "cpu"
    assert metalnn.load(conv_model).device in metalnn.devices()
    if sys.platform != "darwin":
        assert metalnn.load(conv_model, device="auto").device in ("cpu", "metal-sim")


def test_call_returns_first_output(conv_model):
    model = metalnn.load(conv_model, device="cpu")
    x = images(3)
    result = model(x)
    assert isinstance(result, np.ndarray)
    assert_close(result, model.run({"x": x})["y"], TOLERANCE)
    assert_close(result, run_reference(conv_model, {"x": x})["y"], TOLERANCE)


def test_outputs_are_not_copies(conv_model):
    """Outputs are views of the engine's buffers: they do not own their data."""
    model = metalnn.load(conv_model, device="cpu")
    output = model.run({"x": images(4)})["y"]
    assert not output.flags.owndata
    assert output.base is not None
    assert output.flags.c_contiguous


def test_second_run_leaves_first_result_intact(conv_model):
    model = metalnn.load(conv_model, device="cpu")
    first_input, second_input = images(5), images(6)
    first = model.run({"x": first_input})["y"]
    first_copy = first.copy()
    second = model.run({"x": second_input})["y"]
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, first_copy)
    assert_close(second, run_reference(conv_model, {"x": second_input})["y"], TOLERANCE)


def test_outputs_outlive_model(conv_model):
    """An output keeps its buffer alive after the Model is gone."""
    model = metalnn.load(conv_model, device="cpu")
    x = images(7)
    output = model(x)
    del model
    gc.collect()
    metalnn.load(conv_model, device="cpu")(images(9))  # may reuse freed engine memory
    assert_close(output, run_reference(conv_model, {"x": x})["y"], TOLERANCE)


@pytest.mark.parametrize("layout", ["transposed", "strided", "fortran", "read_only"])
def test_non_contiguous_inputs(layout, conv_model):
    """Inputs that cannot be read in place still give the right answer."""
    base = images(8)
    x = {
        "transposed": np.ascontiguousarray(base.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2),
        "strided": np.repeat(base, 2, axis=3)[..., ::2],
        "fortran": np.asfortranarray(base),
        "read_only": base.copy(),
    }[layout]
    x.flags.writeable = layout != "read_only"
    np.testing.assert_array_equal(x, base)
    model = metalnn.load(conv_model, device="cpu")
    assert_close(model(x), run_reference(conv_model, {"x": base})["y"], TOLERANCE)


def test_concurrent_runs(conv_model):
    """Several Python threads share one Model; every call gets its own correct result."""
    model = metalnn.load(conv_model, device="cpu")
    inputs = [images(100 + i) for i in range(8)]
    expected = [run_reference(conv_model, {"x": x})["y"] for x in inputs]

    def run_many(thread):
        results = []
        for step in range(12):
            index = (thread + step) % len(inputs)
            results.append((index, model.run({"x": inputs[index]})["y"]))
        return results

    with ThreadPoolExecutor(max_workers=4) as pool:
        for results in pool.map(run_many, range(4)):
            for index, output in results:
                assert_close(output, expected[index], TOLERANCE)


def test_interpreter_exits_cleanly(conv_model, tmp_path):
    """Loading and running a model, then exiting Python, must not crash the process."""
    path = tmp_path / "conv.onnx"
    path.write_bytes(conv_model.SerializeToString())
    script = ("import sys, numpy as np, metalnn\n"
              "model = metalnn.load(sys.argv[1], device='cpu')\n"
              "model(np.ones((4, 3, 13, 13), np.float32))\n")
    finished = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                              text=True, timeout=120)
    assert finished.returncode == 0, f"exit status {finished.returncode}: {finished.stderr[-2000:]}"


def _thread_count() -> int:
    import os
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads through /proc")
def test_threads_per_model_and_process_default(conv_model):
    x = images(3)
    reference = metalnn.load(conv_model, device="cpu", threads=1).run({"x": x})["y"]
    before = _thread_count()
    model = metalnn.load(conv_model, device="cpu", threads=5)  # a count no other test uses: a new pool
    np.testing.assert_array_equal(model.run({"x": x})["y"], reference)
    assert _thread_count() == before + 4  # four workers and the calling thread
    default = metalnn.get_num_threads()
    try:
        metalnn.set_num_threads(6)
        assert metalnn.get_num_threads() == 6
        before = _thread_count()
        np.testing.assert_array_equal(metalnn.load(conv_model, device="cpu").run({"x": x})["y"], reference)
        assert _thread_count() == before + 5
    finally:
        metalnn.set_num_threads(default)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            metalnn.load(conv_model, device="cpu", threads=bad)
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            metalnn.set_num_threads(bad)


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version
    assert metalnn.__version__ == version("metalnn")
