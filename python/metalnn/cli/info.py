"""`metalnn info MODEL`: inputs and outputs, op counts, parameters, FLOPs, arena, unsupported ops, layers."""
from __future__ import annotations

import argparse
import json
from typing import Any

from .common import (add_device_options, add_model_argument, check_model_path, format_bytes, format_count,
                     format_shape, table)


def register(commands: Any) -> None:
    """Adds the `info` subcommand."""
    parser = commands.add_parser(
        "info", help="describe a model: inputs, outputs, ops, parameters, FLOPs, memory",
        description="Describe a model: its inputs and outputs (free dimensions by name), op counts, parameters "
                    "and their bytes, FLOPs and the activation arena per run (free dimensions at 1), and every op "
                    "the engine does not support. Exits with status 1 when the model has unsupported ops.")
    add_model_argument(parser)
    parser.add_argument("--layers", action="store_true", help="also print a per-layer table (op, output shape, params, FLOPs)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_device_options(parser, threads=False)
    parser.set_defaults(handler=run, device="cpu")


def summarize(path: str, device: str, precision: str) -> Any:
    """The model's Summary; for an ONNX model with unsupported ops, what the ONNX file says and the list of them."""
    import metalnn
    from metalnn.errors import ModelError
    from metalnn.model_file import sniff
    from metalnn.onnx_import import read_model, unsupported_nodes
    from metalnn.summary import from_onnx

    model_path = check_model_path(path)
    source: Any = model_path
    if sniff(model_path) == "unknown":
        try:
            source = read_model(model_path)
        except ModelError:
            pass  # metalnn.load names what the file is instead
        else:
            missing = unsupported_nodes(source)
            if missing:
                return from_onnx(source, missing)
    return metalnn.load(source, device=device, precision=precision).summary()


def render(summary: Any, path: str, layers: bool) -> str:
    """The text `metalnn info` prints."""
    lines = [f"model: {path}" + (f" (compiled for {summary.device})" if summary.device else "")]
    for title, specs in (("inputs", summary.inputs), ("outputs", summary.outputs)):
        lines.append(f"{title}:")
        for spec in specs:
            lines.append(f"  {spec.name}: {spec.dtype} {format_shape(spec.shape)}")
    ops = sorted(summary.op_counts.items(), key=lambda item: (-item[1], item[0]))
    lines.append(f"ops: {sum(summary.op_counts.values())} "
                 f"({', '.join(f'{op} x{count}' for op, count in ops)})")
    lines.append(f"parameters: {summary.params:,} ({format_bytes(summary.param_bytes)})")
    if summary.flops is not None:
        lines.append(f"FLOPs per run: {format_count(summary.flops)} (Conv, ConvTranspose, Gemm, MatMul; free dims at 1)")
    if summary.arena_bytes is not None:
        lines.append(f"activation arena: {format_bytes(summary.arena_bytes)}")
    if summary.unsupported:
        lines.append(f"unsupported ops ({len(summary.unsupported)}): {', '.join(summary.unsupported)}")
    else:
        lines.append("unsupported ops: none")
    if layers and summary.layers:
        rows = [(i, layer.name, layer.op, " ".join(format_shape(s) for s in layer.output_shapes),
                 f"{layer.params:,}", format_count(layer.flops) if layer.flops else "-")
                for i, layer in enumerate(summary.layers)]
        lines += ["", table(("#", "layer", "op", "output shape", "params", "FLOPs"), rows,
                            (True, False, False, False, True, True))]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Prints the summary; status 1 when ops are unsupported."""
    summary = summarize(args.model, args.device, args.precision)
    if args.json:
        data = summary.to_dict()
        if not args.layers:
            data.pop("layers")
        print(json.dumps(data, indent=2))
    else:
        print(render(summary, args.model, args.layers))
    return 1 if summary.unsupported else 0
