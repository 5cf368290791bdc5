"""Structure-aware fuzzer of the ONNX import path: mutates ONNX protos, then loads and runs them.

Seeds are small models of common ops (make_seeds.py's models, one per op family below) and every
regression model of tests/python/test_hostile_input.py. Each mutation edits the proto (dims, attribute
values, op types, value names, node inputs and outputs, dtypes, opset versions, initializer data),
and a pool of worker processes, each under an address-space cap, loads the serialized model with
metalnn, runs it on generated inputs and saves and reloads it. Outcomes:

  clean      loaded and ran, or raised a metalnn.Error
  exception  raised anything else (a bug)
  crash      the worker died from a signal
  hang       no answer within the timeout
  memory     the worker ran out of memory outside a metalnn.Error (MemoryError, std::bad_alloc)

Deterministic for a seed (model i is mutated from a generator seeded by (seed, i)); bounded by a time
budget. Exits 1 on any outcome that is not clean, after shrinking each finding and printing the path
of the smallest model that still shows it.

Usage: python tests/fuzz/onnx_fuzz.py [--seconds 60] [--seed 0] [--workers 2] [--out build/onnx_fuzz]
       python tests/fuzz/onnx_fuzz.py --replay model.onnx [--device cpu]
"""
from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import random
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUTCOMES = ("clean", "exception", "crash", "hang", "memory")

# ---------------------------------------------------------------------------------------------------
# Seeds


def _model(nodes, inputs, outputs, initializers=None, opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "seed", inputs, outputs,
                              initializer=[numpy_helper.from_array(np.asarray(v), k)
                                           for k, v in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _vi(name, shape, elem_type=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem_type, shape)


def op_seeds():
    """One small model per common op family, each valid and runnable."""
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    i64 = lambda *values: np.array(values, np.int64)  # noqa: E731
    x4 = _vi("x", [1, 3, 5, 5])
    y = _vi("y", None)
    n = helper.make_node
    yield "conv_relu", _model([n("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[2, 1]),
                               n("Relu", ["c"], ["y"], name="relu")], [x4], [y], {"w": f32(4, 3, 3, 3), "b": f32(4)})
    yield "gemm", _model([n("Gemm", ["x", "w", "b"], ["y"], name="gemm", transB=1, alpha=0.5)],
                         [_vi("x", [2, 6])], [y], {"w": f32(3, 6), "b": f32(3)})
    yield "matmul_add", _model([n("MatMul", ["x", "w"], ["m"], name="mm"), n("Add", ["m", "b"], ["y"], name="add")],
                               [_vi("x", [2, 3, 4])], [y], {"w": f32(4, 5), "b": f32(5)})
    yield "reshape_transpose", _model([n("Reshape", ["x", "s"], ["r"], name="reshape"),
                                       n("Transpose", ["r"], ["y"], name="transpose", perm=[2, 0, 1])],
                                      [x4], [y], {"s": i64(3, -1, 5)})
    yield "concat_split", _model([n("Concat", ["x", "x"], ["c"], name="concat", axis=1),
                                  n("Split", ["c", "sp"], ["y", "z"], name="split", axis=1)],
                                 [x4], [y, _vi("z", None)], {"sp": i64(2, 4)})
    yield "gather", _model([n("Gather", ["x", "i"], ["y"], name="gather", axis=2)], [x4], [y], {"i": i64(0, 4, -1)})
    yield "gather_input", _model([n("Gather", ["x", "i"], ["y"], name="gather", axis=0)],
                                 [_vi("x", [5, 3]), _vi("i", [2], TensorProto.INT64)], [y])
    yield "resize", _model([n("Resize", ["x", "", "sc"], ["y"], name="resize", mode="linear")], [x4], [y],
                           {"sc": np.array([1, 1, 2, 1.5], np.float32)})
    yield "resize_sizes", _model([n("Resize", ["x", "", "", "sz"], ["y"], name="resize", mode="nearest")], [x4], [y],
                                 {"sz": i64(1, 3, 7, 3)})
    yield "pad", _model([n("Pad", ["x", "p", "v"], ["y"], name="pad", mode="constant")], [x4], [y],
                        {"p": i64(0, 0, 1, 2, 0, 0, 2, 1), "v": np.array(0.5, np.float32)})
    yield "pad_reflect", _model([n("Pad", ["x", "p"], ["y"], name="pad", mode="reflect")], [x4], [y],
                                {"p": i64(0, 0, 1, 2, 0, 0, 2, 1)})
    yield "expand", _model([n("Expand", ["x", "s"], ["y"], name="expand")], [_vi("x", [3, 1])], [y], {"s": i64(2, 3, 4)})
    yield "range", _model([n("Range", ["a", "b", "d"], ["r"], name="range"), n("Cast", ["r"], ["c"], name="cast", to=1),
                           n("Mul", ["c", "x"], ["y"], name="mul")], [_vi("x", [1])], [y],
                          {"a": i64(1)[0], "b": i64(10)[0], "d": i64(3)[0]})
    yield "slice", _model([n("Slice", ["x", "st", "en", "ax", "stp"], ["y"], name="slice")], [x4], [y],
                          {"st": i64(0, 4), "en": i64(2, 0), "ax": i64(1, 3), "stp": i64(1, -2)})
    yield "tile", _model([n("Tile", ["x", "r"], ["y"], name="tile")], [_vi("x", [2, 3])], [y], {"r": i64(2, 3)})
    yield "constant_of_shape", _model([n("Shape", ["x"], ["s"], name="shape"),
                                       n("ConstantOfShape", ["s"], ["c"], name="cos",
                                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])),
                                       n("Add", ["c", "x"], ["y"], name="add")], [x4], [y])
    yield "pool_softmax", _model([n("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
                                  n("GlobalAveragePool", ["p"], ["g"], name="gap"),
                                  n("Flatten", ["g"], ["f"], name="flatten"),
                                  n("Softmax", ["f"], ["y"], name="softmax", axis=-1)], [x4], [y])
    yield "activations", _model([n("Clip", ["x", "lo", "hi"], ["c"], name="clip"),
                                 n("HardSigmoid", ["c"], ["h"], name="hsig", alpha=0.2),
                                 n("HardSwish", ["h"], ["s"], name="hswish"),
                                 n("LeakyRelu", ["s"], ["y"], name="leaky", alpha=0.1)], [x4], [y],
                                {"lo": np.array(-1, np.float32), "hi": np.array(1, np.float32)})
    yield "reduce_unsqueeze", _model([n("ReduceMean", ["x"], ["m"], name="mean", axes=[2, 3], keepdims=0),
                                      n("Unsqueeze", ["m", "ax"], ["y"], name="unsqueeze")], [x4], [y],
                                     {"ax": i64(0)}, opset=13)
    yield "batchnorm", _model([n("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn", epsilon=1e-3)],
                              [x4], [y], {"s": f32(3), "b": f32(3), "m": f32(3), "v": np.abs(f32(3)) + 0.1})
    yield "einsum", _model([n("Einsum", ["x", "w"], ["y"], name="einsum", equation="bij,jk->bik")],
                           [_vi("x", [2, 3, 4])], [y], {"w": f32(4, 5)})
    yield "where_equal", _model([n("Equal", ["a", "b"], ["e"], name="eq"), n("Where", ["e", "a", "b"], ["y"], name="where")],
                                [_vi("a", [2, 3], TensorProto.INT64), _vi("b", [3], TensorProto.INT64)], [y])
    yield "topk_argmax", _model([n("TopK", ["x", "k"], ["v", "i"], name="topk", axis=-1),
                                 n("ArgMax", ["v"], ["y"], name="argmax", axis=1)], [_vi("x", [2, 7])], [y],
                                {"k": i64(3)})
    yield "free_dims", _model([n("Relu", ["x"], ["r"], name="relu"), n("Shape", ["r"], ["s"], name="shape"),
                               n("Reshape", ["r", "s"], ["y"], name="reshape")], [_vi("x", ["n", 3, "w"])], [y])
    yield "old_opset", _model([n("Clip", ["x"], ["c"], name="clip", min=0.0, max=6.0),
                               n("Pad", ["c"], ["p"], name="pad", pads=[0, 0, 1, 1, 0, 0, 1, 1]),
                               n("Upsample", ["p", "sc"], ["y"], name="up", mode="nearest")], [x4], [y],
                              {"sc": np.array([1, 1, 2, 2], np.float32)}, opset=9)
    yield "float16", _model([n("Mul", ["x", "w"], ["y"], name="mul")], [_vi("x", [2, 3], TensorProto.FLOAT16)],
                            [_vi("y", None, TensorProto.FLOAT16)], {"w": np.ones(3, np.float16)})


def regression_seeds():
    """Every minimal model of tests/python/test_hostile_input.py."""
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    import test_hostile_input
    yield from test_hostile_input.regression_models()


def seed_models() -> list[tuple[str, onnx.ModelProto]]:
    sys.path.insert(0, str(HERE))
    import make_seeds
    seeds = list(op_seeds()) + list(make_seeds.small_models()) + list(regression_seeds())
    return sorted(seeds, key=lambda item: item[0])


# ---------------------------------------------------------------------------------------------------
# Mutations: each takes (model, rng) and edits the model in place.

INTERESTING_INTS = [0, 1, -1, 2, 3, 7, -2, 255, 2**31 - 1, -2**31, 2**31, 2**32 + 1, 2**40, 2**40 + 1,
                    2**60 + 1, 2**62, 2**63 - 1, -2**63]
INTERESTING_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-30, 1e30, -1e30, float("inf"), float("-inf"), float("nan"),
                      3.4e38, 2.0**40]
ODD_STRINGS = [b"", b"x", b"constant", b"reflect", b"edge", b"linear", b"nearest", b"cubic", b"half_pixel",
               b"NOTSET", b"SAME_UPPER", b"ij,jk->ik", b"i\xc3,\xc3j->ij", b"\xff\xfe", b"a" * 300, b"...", b"ii->i"]
ATTRIBUTE_NAMES = ["axis", "axes", "perm", "pads", "strides", "kernel_shape", "dilations", "group", "keepdims", "mode",
                   "to", "alpha", "beta", "transA", "transB", "epsilon", "k", "largest", "sorted", "split",
                   "allowzero", "auto_pad", "ceil_mode", "coordinate_transformation_mode", "nearest_mode",
                   "equation", "blocksize", "batch_dims", "select_last_index", "min", "max", "value", "exclusive",
                   "reverse", "upper", "num_groups", "output_padding", "output_shape"]
DTYPES = [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64, TensorProto.INT32, TensorProto.INT8,
          TensorProto.UINT8, TensorProto.BOOL, TensorProto.DOUBLE, TensorProto.STRING, TensorProto.BFLOAT16, 0, 99]


def _some_int(rng: random.Random) -> int:
    return rng.choice(INTERESTING_INTS) if rng.random() < 0.6 else rng.randint(-5, 9)


def _value_names(model: onnx.ModelProto) -> list[str]:
    g = model.graph
    names = [i.name for i in g.input] + [i.name for i in g.initializer]
    for node in g.node:
        names += list(node.input) + list(node.output)
    return sorted(set(names)) or ["x"]


def mutate_dims(model, rng):
    infos = list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
    infos = [i for i in infos if i.type.HasField("tensor_type")]
    if not infos:
        return
    shape = rng.choice(infos).type.tensor_type.shape
    choice = rng.random()
    if choice < 0.15 or not shape.dim:
        shape.dim.add().dim_value = rng.choice([1, 2, 3])
    elif choice < 0.25:
        del shape.dim[rng.randrange(len(shape.dim))]
    elif choice < 0.35:
        shape.dim[rng.randrange(len(shape.dim))].dim_param = rng.choice(["n", "m", ""])
    else:
        value = rng.choice([0, 1, 2, 3, 5, 7, 13, 64, 2**31, 2**40, 2**62, -1, -7])
        shape.dim[rng.randrange(len(shape.dim))].dim_value = value


def mutate_attribute(model, rng):
    nodes = [n for n in model.graph.node if n.attribute]
    if not nodes:
        return add_attribute(model, rng)
    node = rng.choice(nodes)
    attr = rng.choice(node.attribute)
    t = attr.type
    if t == onnx.AttributeProto.INT:
        attr.i = _some_int(rng)
    elif t == onnx.AttributeProto.FLOAT:
        attr.f = rng.choice(INTERESTING_FLOATS)
    elif t == onnx.AttributeProto.STRING:
        attr.s = rng.choice(ODD_STRINGS)
    elif t == onnx.AttributeProto.INTS:
        values = list(attr.ints)
        op = rng.random()
        if op < 0.3 and values:
            values[rng.randrange(len(values))] = _some_int(rng)
        elif op < 0.5:
            values.append(_some_int(rng))
        elif op < 0.7 and values:
            del values[rng.randrange(len(values))]
        else:
            values = [_some_int(rng) for _ in range(rng.randint(0, 9))]
        del attr.ints[:]
        attr.ints.extend(values)
    elif t == onnx.AttributeProto.FLOATS:
        values = list(attr.floats) + [rng.choice(INTERESTING_FLOATS)]
        del attr.floats[:]
        attr.floats.extend(values[rng.randint(0, 1):])
    elif t == onnx.AttributeProto.TENSOR:
        mutate_tensor(attr.t, rng)
    if rng.random() < 0.05:  # a type that does not match the payload, or none
        attr.type = rng.choice([0, 1, 2, 3, 4, 6, 7, 8, 5])
    if rng.random() < 0.03:
        attr.ref_attr_name = "outer"


def add_attribute(model, rng):
    if not model.graph.node:
        return
    node = rng.choice(model.graph.node)
    name = rng.choice(ATTRIBUTE_NAMES)
    kind = rng.random()
    if kind < 0.4:
        value = _some_int(rng)
    elif kind < 0.7:
        value = [_some_int(rng) for _ in range(rng.randint(0, 6))]
    elif kind < 0.85:
        value = rng.choice(INTERESTING_FLOATS)
    else:
        value = rng.choice(ODD_STRINGS)
    try:
        attr = helper.make_attribute(name, value)
    except Exception:
        return
    for i, existing in enumerate(node.attribute):
        if existing.name == name:
            del node.attribute[i]
            break
    node.attribute.append(attr)


def mutate_op_type(model, rng, supported=None):
    if not model.graph.node:
        return
    node = rng.choice(model.graph.node)
    ops = supported or ["Relu", "Add", "Conv", "Gemm", "Reshape", "Expand", "Tile", "Pad", "Resize", "Slice",
                        "Concat", "Gather", "Range", "ConstantOfShape", "Clip", "Einsum", "Transpose", "Squeeze",
                        "Unsqueeze", "Split", "TopK", "Cast", "MatMul", "Softmax", "Where", "Flatten", "PRelu",
                        "DepthToSpace", "ScatterND", "GatherND", "GatherElements", "ReduceSum", "ArgMax", "Shape",
                        "Constant", "Identity", "Upsample", "NotAnOp"]
    node.op_type = rng.choice(ops)


def mutate_names(model, rng):
    g = model.graph
    names = _value_names(model)
    choice = rng.random()
    if choice < 0.5 and g.node:
        node = rng.choice(g.node)
        field = node.output if (rng.random() < 0.4 and node.output) else node.input
        if not field:
            return
        field[rng.randrange(len(field))] = rng.choice(names + ["", "fresh", "x"])
    elif choice < 0.7 and g.output:
        g.output[rng.randrange(len(g.output))].name = rng.choice(names + ["nowhere"])
    elif choice < 0.85 and g.input:
        g.input[rng.randrange(len(g.input))].name = rng.choice(names)
    elif g.initializer:
        g.initializer[rng.randrange(len(g.initializer))].name = rng.choice(names)


def mutate_arity(model, rng):
    g = model.graph
    if not g.node:
        return
    node = rng.choice(g.node)
    choice = rng.random()
    names = _value_names(model)
    if choice < 0.3 and node.input:
        del node.input[rng.randrange(len(node.input))]
    elif choice < 0.55:
        node.input.append(rng.choice(names + [""]))
    elif choice < 0.7 and node.input:
        node.input.append(node.input[rng.randrange(len(node.input))])
    elif choice < 0.8 and node.output:
        del node.output[rng.randrange(len(node.output))]
    elif choice < 0.9:
        node.output.append(rng.choice(["extra", ""] + names))
    elif node.input:
        node.input[rng.randrange(len(node.input))] = ""


def mutate_graph(model, rng):
    g = model.graph
    choice = rng.random()
    if choice < 0.3 and len(g.node) > 1:
        del g.node[rng.randrange(len(g.node))]
    elif choice < 0.5 and g.node:
        g.node.append(copy.deepcopy(rng.choice(g.node)))
    elif choice < 0.65 and len(g.node) > 1:
        nodes = list(g.node)
        i, j = rng.randrange(len(nodes)), rng.randrange(len(nodes))
        nodes[i], nodes[j] = nodes[j], nodes[i]
        del g.node[:]
        g.node.extend(nodes)
    elif choice < 0.75 and g.output:
        del g.output[rng.randrange(len(g.output))]
    elif choice < 0.85:
        g.output.append(helper.make_tensor_value_info(rng.choice(_value_names(model)), TensorProto.FLOAT, None))
    elif g.input:
        g.input.append(copy.deepcopy(rng.choice(g.input)))


def mutate_dtype(model, rng):
    g = model.graph
    choice = rng.random()
    if choice < 0.4 and g.input:
        g.input[rng.randrange(len(g.input))].type.tensor_type.elem_type = rng.choice(DTYPES)
    elif choice < 0.7 and g.initializer:
        g.initializer[rng.randrange(len(g.initializer))].data_type = rng.choice(DTYPES)
    elif g.output:
        g.output[rng.randrange(len(g.output))].type.tensor_type.elem_type = rng.choice(DTYPES)


def mutate_opset(model, rng):
    newest = onnx.defs.onnx_opset_version()
    version = rng.choice([1, 5, 6, 7, 9, 10, 11, 12, 13, 17, newest, newest + 1, 1000])
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = version
            return
    model.opset_import.add(domain="", version=version)


def mutate_tensor(tensor: onnx.TensorProto, rng):
    """Values (huge and negative ints for shape constants), dims, or data that no longer fills the dims."""
    choice = rng.random()
    try:
        array = numpy_helper.to_array(tensor)
    except Exception:
        array = None
    if choice < 0.45 and array is not None and array.size:
        flat = array.reshape(-1).copy()
        i = rng.randrange(flat.size)
        if np.issubdtype(flat.dtype, np.integer):
            flat[i] = np.array(_some_int(rng)).astype(flat.dtype)
        elif np.issubdtype(flat.dtype, np.floating):
            flat[i] = rng.choice(INTERESTING_FLOATS)
        else:
            return
        new = numpy_helper.from_array(flat.reshape(array.shape), tensor.name)
        tensor.CopyFrom(new)
    elif choice < 0.65:
        dims = list(tensor.dims)
        if dims and rng.random() < 0.5:
            dims[rng.randrange(len(dims))] = rng.choice([0, 1, 2, 3, 2**40, 2**62, -1])
        elif rng.random() < 0.5:
            dims.append(rng.choice([1, 2, 3]))
        elif dims:
            dims.pop()
        del tensor.dims[:]
        tensor.dims.extend(dims)
    elif choice < 0.8 and tensor.raw_data:
        tensor.raw_data = tensor.raw_data[:rng.randrange(len(tensor.raw_data) + 1)]
    elif choice < 0.9 and array is not None:
        # The same values stored in typed fields instead of raw_data (or the reverse)
        if tensor.raw_data or tensor.data_type == TensorProto.STRING:
            values = [b"a"] * array.size if tensor.data_type == TensorProto.STRING else array.reshape(-1).tolist()
            new = helper.make_tensor(tensor.name, tensor.data_type, list(tensor.dims), values)
        else:
            new = helper.make_tensor(tensor.name, tensor.data_type, list(tensor.dims), array.tobytes(), raw=True)
        tensor.CopyFrom(new)
    else:
        tensor.data_location = onnx.TensorProto.EXTERNAL if rng.random() < 0.5 else tensor.data_location
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            del tensor.external_data[:]
            tensor.external_data.add(key="location", value=rng.choice(["missing.bin", "../../etc/passwd", ""]))


def mutate_initializer(model, rng):
    g = model.graph
    if not g.initializer:
        g.initializer.append(numpy_helper.from_array(np.array([_some_int(rng)], np.int64),
                                                     rng.choice(_value_names(model))))
        return
    mutate_tensor(rng.choice(g.initializer), rng)


MUTATORS = [(mutate_dims, 2), (mutate_attribute, 4), (add_attribute, 1), (mutate_op_type, 1), (mutate_names, 2),
            (mutate_arity, 2), (mutate_graph, 2), (mutate_dtype, 1), (mutate_opset, 1), (mutate_initializer, 4)]


def mutated_model(seeds, seed: int, index: int) -> tuple[str, bytes]:
    """Model `index` of the run with `seed`: a seed model with one to four mutations, serialized."""
    rng = random.Random(seed * 1_000_003 + index)
    name, base = seeds[rng.randrange(len(seeds))]
    model = copy.deepcopy(base)
    functions, weights = zip(*MUTATORS)
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        try:
            with np.errstate(all="ignore"):
                rng.choices(functions, weights)[0](model, rng)
        except (ValueError, TypeError, OverflowError, IndexError):
            pass  # a mutation the onnx helpers refuse to build: the model keeps its earlier ones
    data = model.SerializeToString()
    if rng.random() < 0.03 and data:  # now and then a few raw bytes too
        raw = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        data = bytes(raw)
    return name, data


# ---------------------------------------------------------------------------------------------------
# Worker: loads, runs, saves and reloads one model per request, under an address-space cap.


class _TooLarge(Exception):
    """A model input the worker will not generate (the model loaded; running it is skipped)."""


def make_feeds(model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random inputs for `model`, free dims from 1 to 3; raises _TooLarge for huge declared shapes."""
    feeds = {}
    for info in model.inputs:
        shape = [d if d >= 0 else int(rng.integers(1, 4)) for d in info.shape]
        if int(np.prod(shape, dtype=np.float64)) > 1 << 24:
            raise _TooLarge(f"input '{info.name}' of shape {shape}")
        if info.dtype.kind == "f":
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype.kind == "b":
            feeds[info.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            feeds[info.name] = rng.integers(0, 3, shape).astype(info.dtype)
    return feeds


def worker_main(cap_mb: int) -> None:
    import resource
    if cap_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (cap_mb << 20, cap_mb << 20))
    import traceback

    import metalnn

    tmp = Path(os.environ.get("ONNX_FUZZ_TMP", "/tmp")) / f"onnx_fuzz_{os.getpid()}.metalnn"
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        rng = np.random.default_rng(job["index"])
        result = {"outcome": "clean", "stage": "load"}
        try:
            model = metalnn.load(job["path"], device=job["device"], precision=job["precision"])
            result["stage"] = "run"
            model.run(make_feeds(model, rng))
            result["stage"] = "save"
            model.save(tmp)
            result["stage"] = "reload"
            # The saved graph is the optimised one, whose free dims are fixed at 1: new feeds.
            reloaded = metalnn.load(tmp, device=job["device"], precision=job["precision"])
            reloaded.run(make_feeds(reloaded, rng))
            result["stage"] = "done"
        except _TooLarge as exc:
            result["note"] = f"not run: {exc} is too large to generate"
        except metalnn.Error as exc:
            result["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        except MemoryError as exc:
            result.update(outcome="memory", error=f"{type(exc).__name__}: {str(exc)[:300]}")
        except Exception as exc:  # a bug: every failure of load and run must be a metalnn.Error
            result.update(outcome="exception", error=f"{type(exc).__name__}: {str(exc)[:300]}",
                          traceback=traceback.format_exc()[-2000:])
        print(json.dumps(result), flush=True)


class Worker:
    """One worker process; restarted after any outcome that is not clean and every `recycle` models."""

    def __init__(self, wid: int, args, log_dir: Path):
        self.wid, self.args, self.log_dir = wid, args, log_dir
        self.proc = None
        self.served = 0
        self.job = None
        self.deadline = 0.0

    def start(self):
        env = {**os.environ, "METALNN_NUM_THREADS": "1", "ONNX_FUZZ_TMP": str(self.log_dir)}
        self.log = open(self.log_dir / f"worker{self.wid}.log", "wb")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker",
                                      "--cap-mb", str(self.args.cap_mb)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.wid} did not start; see {self.log.name}")
        self.served = 0

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc.stdin.close()
            self.log.close()
            self.proc = None

    def send(self, job: dict):
        if self.proc is None or self.served >= self.args.recycle:
            self.stop()
            self.start()
        self.job = job
        self.deadline = time.monotonic() + self.args.timeout
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        self.proc.stdin.flush()
        self.served += 1

    def collect(self) -> dict:
        """The answer to the current job (call when stdout is readable or the deadline has passed)."""
        job, self.job = self.job, None
        if time.monotonic() >= self.deadline and not select.select([self.proc.stdout], [], [], 0)[0]:
            self.stop()
            return {"outcome": "hang", "error": f"no answer within {self.args.timeout} s"}
        line = self.proc.stdout.readline()
        if line:
            result = json.loads(line)
            if result["outcome"] != "clean":
                self.stop()
            return result
        status = self.proc.wait()
        self.log.flush()
        tail = (self.log_dir / f"worker{self.wid}.log").read_bytes()[-3000:].decode("utf-8", "replace")
        self.stop()
        memory = any(word in tail for word in ("bad_alloc", "MemoryError", "Cannot allocate memory", "out of memory"))
        return {"outcome": "memory" if memory else "crash", "error": f"worker exited with status {status}",
                "stderr": tail}


def run_jobs(workers: list[Worker], jobs, on_result) -> None:
    """Feeds `jobs` (an iterator of dicts) to the workers; calls on_result(job, result) for each."""
    jobs = iter(jobs)
    busy: dict[int, Worker] = {}
    exhausted = False
    while True:
        for w in workers:
            if w.job is None and not exhausted:
                job = next(jobs, None)
                if job is None:
                    exhausted = True
                else:
                    w.send(job)
        busy = {w.proc.stdout.fileno(): w for w in workers if w.job is not None}
        if not busy:
            return
        wait = max(0.0, min(w.deadline for w in busy.values()) - time.monotonic())
        ready, _, _ = select.select(list(busy), [], [], wait)
        now = time.monotonic()
        for w in list(busy.values()):
            if w.proc.stdout.fileno() in ready or now >= w.deadline:
                job = w.job
                on_result(job, w.collect())


def signature(result: dict) -> tuple:
    """What must stay the same while shrinking: the outcome and the exception type."""
    return result["outcome"], (result.get("error") or "").split(":")[0]


def shrink(data: bytes, job: dict, target: tuple, worker: Worker, out: Path) -> Path:
    """Greedily removes nodes, attributes, initializers, inputs and outputs while the finding persists."""
    try:
        model = onnx.load_model_from_string(data)
    except Exception:
        model = None
    path = out / f"{job['name']}.min.onnx"
    path.write_bytes(data)
    if model is None:
        return path

    def still_fails(candidate: onnx.ModelProto) -> bool:
        path.write_bytes(candidate.SerializeToString())
        result = {}
        run_jobs([worker], [dict(job, path=str(path))], lambda _job, r: result.update(r))
        return signature(result) == target

    best = model
    for _round in range(3):
        changed = False
        for field in ("node", "initializer", "input", "output", "value_info"):
            i = 0
            while i < len(getattr(best.graph, field)):
                candidate = copy.deepcopy(best)
                del getattr(candidate.graph, field)[i]
                if still_fails(candidate):
                    best, changed = candidate, True
                else:
                    i += 1
        for n in range(len(best.graph.node)):
            i = 0
            while i < len(best.graph.node[n].attribute):
                candidate = copy.deepcopy(best)
                del candidate.graph.node[n].attribute[i]
                if still_fails(candidate):
                    best, changed = candidate, True
                else:
                    i += 1
        if not changed:
            break
    path.write_bytes(best.SerializeToString())
    return path


def fuzz(args) -> int:
    out = Path(args.out)
    for sub in ("findings", "in_flight"):  # this run's only
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    seeds = seed_models()
    devices = [(d.split(":")[0], d.split(":")[1] if ":" in d else "float32") for d in args.devices.split(",")]
    workers = [Worker(i, args, out) for i in range(args.workers)]
    counts = collections.Counter()
    stages = collections.Counter()  # where clean models stopped: "done" ran, saved and reloaded
    findings = []
    stop_at = time.monotonic() + args.seconds

    def jobs():
        index = 0
        while time.monotonic() < stop_at and (args.max_models is None or index < args.max_models):
            name, data = mutated_model(seeds, args.seed, index)
            device, precision = devices[index % len(devices)]
            path = out / "in_flight" / f"{index}.onnx"  # removed once answered
            path.write_bytes(data)
            yield {"index": index, "name": f"{args.seed}-{index}-{name}", "path": str(path), "device": device,
                   "precision": precision}
            index += 1

    def on_result(job, result):
        counts[result["outcome"]] += 1
        if result["outcome"] == "clean":
            stages[result.get("stage")] += 1
        path = Path(job["path"])
        if result["outcome"] != "clean":
            saved = out / "findings" / f"{job['name']}.onnx"
            path.replace(saved)
            findings.append((job, result, saved))
            print(f"[{result['outcome']}] model {job['index']} ({job['device']} {job['precision']}, "
                  f"at {result.get('stage', '?')}): "
                  f"{result.get('error')}", flush=True)
        else:
            path.unlink()

    try:
        run_jobs(workers, jobs(), on_result)
        total = sum(counts.values())
        print(f"onnx_fuzz: seed {args.seed}, {len(seeds)} seed models, {total} mutated models in "
              f"{args.seconds:g} s budget: " + ", ".join(f"{k} {counts[k]}" for k in OUTCOMES))
        print("  clean ones: ran, saved and reloaded {}; metalnn.Error at load {}, run {}, save {}, reload {}".format(
            *(stages[k] for k in ("done", "load", "run", "save", "reload"))))
        if not findings:
            return 0
        shrinker = workers[0]
        shrinker.stop()
        for job, result, saved in findings[:args.max_shrink]:
            target = signature(result)
            # A crash may come from damage done by an earlier model: replay alone first.
            alone = {}
            run_jobs([shrinker], [dict(job, path=str(saved))], lambda _j, r: alone.update(r))
            if signature(alone) != target:
                print(f"  {saved}: {target[0]} does not reproduce alone (got {alone['outcome']})")
                continue
            small = shrink(saved.read_bytes(), dict(job, name=f"findings/{job['name']}"), target, shrinker, out)
            print(f"  reproducer: {small}  (python {Path(__file__).relative_to(ROOT) if Path(__file__).is_relative_to(ROOT) else __file__} "
                  f"--replay {small} --device {job['device']}:{job['precision']})")
            if result.get("traceback"):
                print("    " + result["traceback"].strip().replace("\n", "\n    "))
            if result.get("stderr"):
                print("    " + result["stderr"].strip()[-1500:].replace("\n", "\n    "))
        return 1
    finally:
        for w in workers:
            w.stop()


def replay(args) -> int:
    """Runs one model in a worker and prints what happened."""
    device, _, precision = args.device.partition(":")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    worker = Worker(0, args, out)
    result = {}
    try:
        run_jobs([worker], [{"index": 0, "name": "replay", "path": str(Path(args.replay).resolve()), "device": device,
                             "precision": precision or "float32"}], lambda _j, r: result.update(r))
    finally:
        worker.stop()
    print(json.dumps(result, indent=1))
    return 0 if result["outcome"] == "clean" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="time budget for mutated models (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--devices", default="cpu,metal-sim,metal-sim:float16",
                        help="device[:precision] list the models rotate through")
    parser.add_argument("--cap-mb", type=int, default=2048, help="address-space cap of each worker (0: none)")
    parser.add_argument("--timeout", type=float, default=20, help="seconds a model may take before it is a hang")
    parser.add_argument("--recycle", type=int, default=500, help="models a worker serves before it is restarted")
    parser.add_argument("--max-models", type=int, default=None)
    parser.add_argument("--max-shrink", type=int, default=5, help="findings to shrink and report")
    parser.add_argument("--out", default=str(ROOT / "build" / "onnx_fuzz"))
    parser.add_argument("--replay", help="run this one model and report its outcome")
    parser.add_argument("--device", default="cpu", help="device[:precision] for --replay")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.cap_mb)
        return 0
    if args.replay:
        return replay(args)
    return fuzz(args)


if __name__ == "__main__":
    sys.exit(main())
