"""Models whose input sizes are free: loading checks without inventing sizes, each input shape is
compiled at its first run (or by `prepare`) into a bounded cache whose entries share the weights."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest

import metalnn
from op_check import assert_close, run_reference

torch = pytest.importorskip("torch")

# Odd sizes, batch > 1; an unpadded 3x3 convolution after a stride-2 one makes any side below 5
# invalid, so a model compiled at size 1 would be refused.
SHAPES = [(1, 3, 37, 53), (2, 3, 64, 48), (3, 3, 29, 131)]


class _Segmenter(torch.nn.Module):
    """Encoder-decoder as segmentation models are exported: shape-dependent Resize sizes, Reshape,
    Slice ends and Expand shape, all read off the input through Shape/Gather/Concat chains."""

    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 40, 3, padding=1), nn.BatchNorm2d(40), nn.ReLU())
        self.down = nn.Sequential(nn.Conv2d(40, 48, 3, padding=1, stride=2), nn.BatchNorm2d(48), nn.ReLU())
        self.valid = nn.Sequential(nn.Conv2d(48, 48, 3), nn.ReLU())  # no padding: needs sides >= 3
        self.head = nn.Conv2d(88, 5, 1)

    def forward(self, x):  # type: ignore[no-untyped-def]
        a = self.stem(x)
        b = self.valid(self.down(a))
        up = torch.nn.functional.interpolate(b, size=a.shape[-2:], mode="bilinear", align_corners=False)
        y = self.head(torch.cat([a, up], 1))
        n, c, h, w = y.shape
        y = y.reshape(n, c, h * w).softmax(-1).reshape(n, c, h, w)
        edge = y[:, :1, :, : w - 1].mean(1, keepdim=True)
        return y[:, :, :, : w - 1] + edge.expand(n, c, h, w - 1)


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> onnx.ModelProto:
    torch.manual_seed(0)
    module = _Segmenter().eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        for bn in (module.stem[1], module.down[1]):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("free_dims") / "segmenter.onnx"
    torch.onnx.export(module, (torch.randn(1, 3, 32, 32),), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}})
    return onnx.load(str(path))


def test_free_spatial_dims_load_and_run_at_three_sizes(segmenter, target, rng):
    model = metalnn.load(segmenter, device=target.device, precision=target.precision)
    assert model.inputs[0].shape == (-1, 3, -1, -1)
    assert model.cached_shapes() == []  # nothing compiled at load
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        expected = run_reference(segmenter, {"x": x})["y"]
        assert_close(model.run({"x": x})["y"], expected, target.tolerance, f"{target} at {shape}")
    assert [c.shapes["x"] for c in model.cached_shapes()] == SHAPES[::-1]


def test_prepare_compiles_ahead_and_summary_reports_the_cache(segmenter, rng):
    model = metalnn.load(segmenter, device="cpu")
    model.prepare({"x": (1, 3, 40, 24)})
    summary = model.summary()
    assert [(c.shapes, c.runs) for c in summary.cached] == [({"x": (1, 3, 40, 24)}, 0)]
    assert summary.cache_capacity == model.cache_capacity and summary.arena_bytes > 0
    assert summary.layers and all(min(s, default=1) > 0 for layer in summary.layers for s in layer.output_shapes)
    x = rng.standard_normal((1, 3, 40, 24)).astype(np.float32)
    assert_close(model.run({"x": x})["y"], run_reference(segmenter, {"x": x})["y"],
                 op_check_tolerance(), "prepared shape")
    assert [(c.runs) for c in model.cached_shapes()] == [1]
    with pytest.raises(metalnn.ShapeError, match="input 'x' has shape"):
        model.prepare({"x": (1, 4, 40, 24)})
    with pytest.raises(metalnn.InputError, match="every input"):
        model.prepare({"y": (1, 3, 40, 24)})


def op_check_tolerance():  # type: ignore[no-untyped-def]
    import op_check
    return op_check.TOLERANCES["float32"]


def test_cache_is_least_recently_used_and_bounded(segmenter, rng):
    model = metalnn.load(segmenter, device="cpu")
    model.cache_capacity = 2
    xs = {s: rng.standard_normal(s).astype(np.float32) for s in SHAPES}
    for shape in (SHAPES[0], SHAPES[1], SHAPES[0], SHAPES[2]):  # SHAPES[1] is the least recent
        model.run({"x": xs[shape]})
    assert [c.shapes["x"] for c in model.cached_shapes()] == [SHAPES[2], SHAPES[0]]
    # An evicted shape compiles again and is still right.
    assert_close(model.run({"x": xs[SHAPES[1]]})["y"], run_reference(segmenter, {"x": xs[SHAPES[1]]})["y"],
                 op_check_tolerance(), "recompiled shape")
    model.cache_capacity = 1
    assert [c.shapes["x"] for c in model.cached_shapes()] == [SHAPES[1]]
    with pytest.raises(ValueError, match="positive integer"):
        model.cache_capacity = 0


def test_a_size_the_model_cannot_take_fails_at_that_run_naming_the_node(segmenter):
    model = metalnn.load(segmenter, device="cpu")
    with pytest.raises(metalnn.Error, match="Conv '.*'"):
        model.run({"x": np.zeros((1, 3, 3, 3), np.float32)})  # 2x2 after the stride-2 conv, 3x3 kernel
    model.run({"x": np.zeros((1, 3, 9, 9), np.float32)})  # the model stays usable


def test_a_model_wrong_whatever_the_sizes_fails_naming_the_node():
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="bad")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [8, 4, 3, 3], np.zeros(8 * 4 * 9, np.float32))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    # Refused at load when the schema's message does not depend on the free sizes; this one names
    # the input shape, so it is reported by the first run instead.
    with pytest.raises(metalnn.Error, match="Conv 'bad'"):
        metalnn.load(model, device="cpu").run({"x": np.zeros((1, 3, 8, 8), np.float32)})


_RSS_SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import metalnn
    cap = int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))  # a runaway cache fails here, not the machine
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    model = metalnn.load(sys.argv[1], device=sys.argv[2])
    model.cache_capacity = 4
    shapes = [(1, 3, h, w) for h in range(16, 46) for w in range(16, 26)]  # 300 distinct
    rng = np.random.default_rng(0)
    for i, shape in enumerate(shapes):
        model.run({"x": rng.standard_normal(shape).astype(np.float32)})
        if i == 29:
            warm = rss()
    assert len(model.cached_shapes()) == 4
    print(warm, rss())
""")


@pytest.mark.parametrize("device", [d for d in ("cpu", "metal-sim") if d in metalnn.devices()])
def test_memory_over_300_shapes_is_bounded_by_the_cache(segmenter, tmp_path, device):
    path = tmp_path / "segmenter.onnx"
    onnx.save(segmenter, str(path))
    cap = 3 << 30
    result = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(path), device, str(cap)],
                            capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-2000:]
    warm, final = map(int, result.stdout.split())
    # Four cached specialisations of this model take well under 20 MB; 270 more compiled shapes
    # keeping even 1 MB each would add 270 MB.
    assert final - warm < 48 << 20, f"RSS grew {(final - warm) >> 20} MB over 270 shapes"
