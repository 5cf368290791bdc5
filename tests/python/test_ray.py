"""examples/ray_batch_inference.py on a local Ray instance: every row comes back with the outputs a
direct metalnn run gives. METALNN_SKIP_RAY=1 skips it (Ray takes half a minute to start on 2 cores)."""
import importlib.util
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import metalnn
from test_cli import small_cnn

pytestmark = pytest.mark.skipif(os.environ.get("METALNN_SKIP_RAY") == "1", reason="METALNN_SKIP_RAY=1")
ROOT = Path(__file__).resolve().parents[2]


def test_map_batches_matches_direct_runs(tmp_path):
    ray = pytest.importorskip("ray")
    spec = importlib.util.spec_from_file_location("ray_batch_inference", ROOT / "examples" / "ray_batch_inference.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    model_path = tmp_path / "small.onnx"
    onnx.save(small_cnn(), model_path)
    images = np.random.default_rng(3).standard_normal((37, 3, 8, 8)).astype(np.float32)  # batches of 8, 8, 8, 8, 5
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        dataset = ray.data.from_items([{"id": i, "data": images[i]} for i in range(len(images))])
        rows = example.predict(dataset, str(model_path), device="cpu", batch_size=8, threads=1).take_all()
    finally:
        ray.shutdown()
    assert sorted(row["id"] for row in rows) == list(range(len(images)))
    got = np.stack([row["scores"] for row in sorted(rows, key=lambda row: row["id"])])
    expected = metalnn.load(model_path, device="cpu").run({"x": images})["scores"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
