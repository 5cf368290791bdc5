"""Offline batch inference over a Ray Data dataset: each worker loads the model once, then runs it on
NumPy batches. Ray does the distribution; metalnn runs each batch.

    python examples/ray_batch_inference.py MODEL --images images.npy [--device cpu] [--batch-size 16]

On a cluster with Mac workers, start each Mac with a custom resource, `ray start --address=HEAD
--resources='{"metal": 1}'`, and pass `--device metal --metal-workers N`: the model actors then ask
for that resource, so Ray places them on the Macs (docs/ray.md).
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import metalnn


class MetalnnPredictor:
    """A Ray Data callable class: loads the model once per worker; each call runs one batch."""

    def __init__(self, model_path: str, device: str = "auto", threads: int | None = None, column: str = "data"):
        """Loads `model_path` (ONNX or .metalnn); batches are read from `column`."""
        self.model = metalnn.load(model_path, device=device, threads=threads)
        self.input = self.model.inputs[0].name
        self.column = column

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs the model on the batch's input column; the other columns (ids, say) pass through."""
        x = np.ascontiguousarray(batch[self.column], dtype=self.model.inputs[0].dtype)
        kept = {name: values for name, values in batch.items() if name != self.column}
        return {**kept, **self.model.run({self.input: x})}


def predict(dataset: Any, model_path: str, device: str = "auto", batch_size: int = 16, workers: int = 1,
            threads: int | None = None, metal_workers: bool = False) -> Any:
    """The dataset mapped through the model by `workers` actors, in NumPy batches of `batch_size` rows."""
    placement: dict[str, Any] = {"resources": {"metal": 1}} if metal_workers else {"num_cpus": threads or 1}
    return dataset.map_batches(
        MetalnnPredictor, fn_constructor_kwargs={"model_path": model_path, "device": device, "threads": threads},
        batch_size=batch_size, batch_format="numpy", concurrency=workers, **placement)


def main(argv: list[str] | None = None) -> int:
    """Runs the model over an array of inputs saved with np.save and writes the outputs with np.savez."""
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an ONNX or .metalnn model with a free batch dimension")
    parser.add_argument("--images", required=True, help="a .npy array of inputs, one row per sample")
    parser.add_argument("--output", default="predictions.npz", help="where to write the outputs (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu, metal or metal-sim")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="model actors")
    parser.add_argument("--metal-workers", action="store_true", help="place the actors on nodes with the 'metal' resource")
    args = parser.parse_args(argv)
    ray.init()
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # rows out in input order
    dataset = ray.data.from_numpy(np.load(args.images))
    results = predict(dataset, args.model, args.device, args.batch_size, args.workers,
                      metal_workers=args.metal_workers).take_all()
    np.savez(args.output, **{name: np.stack([row[name] for row in results]) for name in results[0]})
    print(f"{len(results)} rows -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
