"""Hostile input (issue 14): tiny models and strange arrays fail as metalnn.Error, never crash or eat memory.

One test (or a few) per numbered item of the issue, each with its minimal model. Anything that could
crash the process or allocate without bound runs in a child process under an address-space cap
(`run_capped`), so a regression fails fast instead of taking the machine.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import metalnn
from op_check import NEWEST_OPSET, run_reference

# Address-space cap of the child processes: room for Python, NumPy, ONNX and the engine, far below
# what a runaway allocation would take.
CAP_BYTES = 3 << 30
# Peak resident memory a child that failed cleanly may have reached.
RSS_LIMIT_BYTES = 1 << 30

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def tensor_input(name: str, shape, elem_type: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def build(nodes, inputs, outputs, initializers=(), opset: int = NEWEST_OPSET) -> onnx.ModelProto:
    """A model from raw parts; no checker, since most of these models are invalid on purpose."""
    graph = helper.make_graph(nodes, "hostile", inputs, outputs,
                              initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def any_output(name: str = "y") -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, F, None)


_CHILD = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    import numpy as np
    import metalnn
    result = {{"outcome": "ok"}}
    try:
        source = sys.argv[1]
        model = metalnn.load(source, device=sys.argv[2], precision=sys.argv[3])
        feeds = {{}}
        for info in model.inputs:
            shape = [d if d >= 0 else 1 for d in info.shape]
            feeds[info.name] = np.ones(shape, info.dtype)
        {body}
    except BaseException as exc:
        result = {{"outcome": "error", "type": type(exc).__name__,
                  "metalnn_error": isinstance(exc, metalnn.Error), "message": str(exc)}}
    # VmHWM, not ru_maxrss: after fork and exec the latter still counts the parent's pages (Linux).
    with open("/proc/self/status") as status:
        result["max_rss"] = next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) * 1024
    print(json.dumps(result))
""")


def run_capped(tmp_path, source: onnx.ModelProto | bytes, device: str = "cpu",
               body: str = "model.run(feeds)", timeout: float = 120, precision: str = "float32") -> dict:
    """Loads `source` and runs `body` in a child process under an address-space cap; returns what happened.

    A crash or a timeout fails the test here; otherwise the result says "ok" or names the exception.
    """
    if sys.platform != "linux":
        pytest.skip("the address-space cap and VmHWM are Linux's")
    path = tmp_path / "model.bin"
    data = source.SerializeToString() if isinstance(source, onnx.ModelProto) else source
    path.write_bytes(data)
    code = _CHILD.format(cap=CAP_BYTES, body=body)
    proc = subprocess.run([sys.executable, "-c", code, str(path), device, precision], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "METALNN_NUM_THREADS": "2"})
    assert proc.returncode == 0, f"child died with status {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_clean_error(result: dict, kind: type = metalnn.Error, *words: str) -> None:
    """The child raised a metalnn.Error (of class `kind`) whose message holds `words`, with bounded memory."""
    assert result["outcome"] == "error", f"expected a {kind.__name__}, the model loaded and ran: {result}"
    assert result["metalnn_error"], f"expected a metalnn.Error, got {result['type']}: {result['message']}"
    assert issubclass(getattr(metalnn, result["type"], type(None)), kind), result
    for word in words:
        assert word in result["message"], f"{word!r} not in {result['message']!r}"
    assert result["max_rss"] < RSS_LIMIT_BYTES, f"peak RSS {result['max_rss'] >> 20} MiB"


def load_error(source, kind: type = metalnn.Error, *words: str, device: str = "cpu") -> str:
    """Loads in this process (for models that cannot allocate much) and returns the metalnn error's text."""
    with pytest.raises(kind) as info:
        metalnn.load(source, device=device)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


# 1. A node must not write into an initializer, a graph input or another node's output.

def output_like_initializer() -> onnx.ModelProto:
    return build([helper.make_node("Relu", ["x"], ["w"], name="relu"),
                  helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [tensor_input("x", [4])], [any_output()], {"w": np.ones(4, np.float32)})


def output_like_graph_input() -> onnx.ModelProto:
    return build([helper.make_node("Relu", ["x"], ["x"], name="relu"),
                  helper.make_node("Neg", ["x"], ["y"], name="neg")],
                 [tensor_input("x", [4])], [any_output()])


def two_producers() -> onnx.ModelProto:
    return build([helper.make_node("Relu", ["x"], ["t"], name="first"),
                  helper.make_node("Neg", ["x"], ["t"], name="second"),
                  helper.make_node("Abs", ["t"], ["y"], name="abs")],
                 [tensor_input("x", [4])], [any_output()])


def test_node_output_named_like_initializer(tmp_path):
    model = output_like_initializer()
    assert_clean_error(run_capped(tmp_path, model), metalnn.ModelError, "relu", "'w'")


def test_node_output_named_like_graph_input(tmp_path):
    model = output_like_graph_input()
    assert_clean_error(run_capped(tmp_path, model), metalnn.ModelError, "relu", "graph input 'x'")


def test_value_with_two_producers(tmp_path):
    model = two_producers()
    assert_clean_error(run_capped(tmp_path, model), metalnn.ModelError, "'t'", "first", "second")


# 2. Every inferred size obeys the 2^40-element limit with overflow-checked products.

def shape_op_model(op: str, shape_values, input_shape=(2, 3), **attrs) -> onnx.ModelProto:
    return build([helper.make_node(op, ["x", "s"], ["y"], name="big", **attrs)],
                 [tensor_input("x", list(input_shape))], [any_output()],
                 {"s": np.array(shape_values, np.int64)})


HUGE_SHAPE_MODELS = {
    "expand": lambda: shape_op_model("Expand", [2**60 + 1, 4], input_shape=(1, 4)),
    "expand_wrapping": lambda: shape_op_model("Expand", [2**62, 4], input_shape=(1, 4)),
    "tile": lambda: shape_op_model("Tile", [2**40, 2**40]),
    "reshape_wrapping": lambda: shape_op_model("Reshape", [6, 3, 3074457345618258603]),  # product = 6 mod 2^64
    "reshape_huge": lambda: shape_op_model("Reshape", [2**41, 3, 0], allowzero=0),
    "range": lambda: build([helper.make_node("Range", ["a", "b", "c"], ["y"], name="big")], [], [any_output()],
                           {"a": np.array(0, np.int64), "b": np.array(2**63 - 1, np.int64), "c": np.array(2, np.int64)}),
    "range_negative_delta": lambda: build([helper.make_node("Range", ["a", "b", "c"], ["y"], name="big")], [],
                                          [any_output()], {"a": np.array(2**62, np.int64),
                                                           "b": np.array(-2**62, np.int64),
                                                           "c": np.array(-1, np.int64)}),
    "constant_of_shape": lambda: build([helper.make_node("ConstantOfShape", ["s"], ["y"], name="big")], [],
                                       [any_output()], {"s": np.array([2**40, 2**40], np.int64)}),
    "constant_of_shape_input": lambda: build([helper.make_node("ConstantOfShape", ["s"], ["y"], name="big")],
                                             [tensor_input("s", [2], I64)], [any_output()]),
}


@pytest.mark.parametrize("name", sorted(HUGE_SHAPE_MODELS))
def test_huge_inferred_shape(name, tmp_path):
    model = HUGE_SHAPE_MODELS[name]()
    if name == "constant_of_shape_input":  # the shape arrives at run time
        body = "feeds['s'] = np.array([2**40, 2**40], np.int64); model.run(feeds)"
        assert_clean_error(run_capped(tmp_path, model, body=body), metalnn.Error, "big")
    else:
        assert_clean_error(run_capped(tmp_path, model), metalnn.Error, "big")


def expand_model_file(tmp_path) -> bytes:
    """A .metalnn file whose Expand shape constant reads [7777, 4] (made huge by the caller)."""
    model = build([helper.make_node("Expand", ["x", "s"], ["e"], name="expand"),
                   helper.make_node("Relu", ["e"], ["y"], name="relu")],
                  [tensor_input("x", [1, 4])], [any_output()], {"s": np.array([7777, 4], np.int64)})
    path = tmp_path / "expand.metalnn"
    metalnn.load(model, device="cpu").save(path)
    return path.read_bytes()


def test_model_file_with_huge_shape_constant(tmp_path):
    data = expand_model_file(tmp_path)
    marker = struct.pack("<qq", 7777, 4)
    at = data.rindex(marker)  # the constant's data; the stored shapes come before it
    for huge in (2**60 + 1, 2**40 + 1, -5):
        patched = data[:at] + struct.pack("<qq", huge, 4) + data[at + len(marker):]
        assert_clean_error(run_capped(tmp_path, patched), metalnn.Error, "expand")


# 3. Non-contiguous inputs: validated on a view before any copy; copies that cannot be made are errors.

@pytest.fixture(scope="module")
def add_model():
    model = build([helper.make_node("Add", ["x", "b"], ["y"], name="add")],
                  [tensor_input("x", [3, 5])], [any_output()], {"b": np.arange(5, dtype=np.float32)})
    return model


def test_wrong_shape_broadcast_view_is_not_copied(tmp_path, add_model):
    # Copying this view would take 16 GiB: under the cap only a check on the view can answer.
    body = "model.run({'x': np.broadcast_to(np.float32(1), (1 << 16, 1 << 16))})"
    assert_clean_error(run_capped(tmp_path, add_model, body=body), metalnn.ShapeError, "input 'x'")


def test_uncopyable_broadcast_view_of_right_shape(tmp_path):
    model = build([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                  [tensor_input("x", ["n", 4])], [any_output()])
    body = "model.run({'x': np.broadcast_to(np.float32(1), (1 << 34, 4))})"
    assert_clean_error(run_capped(tmp_path, model, body=body), metalnn.Error, "input 'x'")


def test_right_shape_non_contiguous_inputs(add_model):
    model = metalnn.load(add_model, device="cpu")
    base = np.arange(60, dtype=np.float32).reshape(6, 10)
    for x in (base[::2, 1::2], base[:3, :5].T.copy().T, np.broadcast_to(np.float32(2), (3, 5)),
              np.broadcast_to(np.arange(5, dtype=np.float32), (3, 5))):
        assert not x.flags.c_contiguous or x is base
        expected = x + np.arange(5, dtype=np.float32)
        np.testing.assert_array_equal(model.run({"x": x})["y"], expected)


# 4. Hostile pad and resize sizes fail before allocating.

def huge_pad() -> onnx.ModelProto:
    return build([helper.make_node("Pad", ["x", "p"], ["y"], name="pad")], [tensor_input("x", [2, 3])],
                 [any_output()], {"p": np.array([0, 2**62, 0, 0], np.int64)})


def huge_resize(scale: float = 1e30) -> onnx.ModelProto:
    return build([helper.make_node("Resize", ["x", "", "s"], ["y"], name="resize", mode="nearest")],
                 [tensor_input("x", [1, 1, 2, 2])], [any_output()],
                 {"s": np.array([1, 1, scale, scale], np.float32)})


def test_pad_huge(tmp_path):
    model = huge_pad()
    assert_clean_error(run_capped(tmp_path, model), metalnn.Error, "pad")


def test_pad_huge_at_run_time(tmp_path):
    model = build([helper.make_node("Pad", ["x", "p"], ["y"], name="pad")],
                  [tensor_input("x", [2, 3]), tensor_input("p", [4], I64)], [any_output()])
    body = "feeds['p'] = np.array([0, 2**62, 0, 0], np.int64); model.run(feeds)"
    assert_clean_error(run_capped(tmp_path, model, body=body), metalnn.Error, "pad")


@pytest.mark.parametrize("scale", [1e30, 2.0**40, float("inf"), float("nan"), -2.0])
def test_resize_huge_scales(scale, tmp_path):
    model = huge_resize(scale)
    assert_clean_error(run_capped(tmp_path, model), metalnn.Error, "resize")


def test_resize_huge_sizes(tmp_path):
    model = build([helper.make_node("Resize", ["x", "", "", "s"], ["y"], name="resize", mode="linear")],
                  [tensor_input("x", [1, 1, 2, 2])], [any_output()],
                  {"s": np.array([1, 1, 2**31, 2**31], np.int64)})
    assert_clean_error(run_capped(tmp_path, model), metalnn.Error, "resize")


# 5. Every failure of load and run is a metalnn.Error, whatever the bytes of a name.

def with_bytes_replaced(model: onnx.ModelProto, placeholder: bytes, replacement: bytes) -> bytes:
    data = model.SerializeToString()
    assert len(placeholder) == len(replacement) and data.count(placeholder) >= 1
    return data.replace(placeholder, replacement)


@pytest.mark.parametrize("replacement", [b"\xff\xfeXX", b"ab\xc3(", b"abc\xe2"], ids=["invalid", "bad-continuation", "cut"])
def test_invalid_utf8_node_name(replacement, tmp_path):
    model = build([helper.make_node("Relu", ["x"], ["t"], name="QQQQ"),
                   helper.make_node("Reshape", ["t", "s"], ["y"], name="reshape")],
                  [tensor_input("x", [2, 3])], [any_output()], {"s": np.array([7, 7], np.int64)})
    data = with_bytes_replaced(model, b"QQQQ", replacement)
    result = run_capped(tmp_path, data)
    assert_clean_error(result, metalnn.Error)


def test_invalid_utf8_in_failing_node_name(tmp_path):
    model = build([helper.make_node("Reshape", ["x", "s"], ["y"], name="QQQQ")],
                  [tensor_input("x", [2, 3])], [any_output()], {"s": np.array([7, 7], np.int64)})
    result = run_capped(tmp_path, with_bytes_replaced(model, b"QQQQ", b"ab\xc3("))
    assert_clean_error(result, metalnn.ShapeError, "ab\ufffd(")


def test_invalid_utf8_tensor_names(tmp_path):
    model = build([helper.make_node("Relu", ["QQQQ"], ["RRRR"], name="relu")],
                  [tensor_input("QQQQ", [2, 3])], [any_output("RRRR")])
    data = with_bytes_replaced(model, b"QQQQ", b"\xff\xfeXX").replace(b"RRRR", b"RR\xe2\x82")
    result = run_capped(tmp_path, data, body="print(model.inputs, model.outputs, file=sys.stderr)")
    # Either it loads (names decoded with replacement) or it is refused cleanly.
    assert result["outcome"] == "ok" or result["metalnn_error"], result


def einsum_non_ascii() -> onnx.ModelProto:
    return build([helper.make_node("Einsum", ["x", "w"], ["y"], name="einsum", equation="ié,éj->ij")],
                 [tensor_input("x", [2, 3]), tensor_input("w", [3, 4])], [any_output()])


def test_einsum_non_ascii_equation():
    model = einsum_non_ascii()
    load_error(model, metalnn.Error, "einsum")


def test_einsum_invalid_utf8_equation(tmp_path):
    model = build([helper.make_node("Einsum", ["x", "w"], ["y"], name="einsum", equation="iQ,Qj->ij")],
                  [tensor_input("x", [2, 3]), tensor_input("w", [3, 4])], [any_output()])
    data = model.SerializeToString().replace(b"iQ,Qj->ij", b"i\xc3,\xc3j->ij")
    assert_clean_error(run_capped(tmp_path, data), metalnn.Error, "einsum")


def model_file_with_name(tmp_path, name: str) -> bytes:
    model = build([helper.make_node("Relu", ["x"], [name], name="relu")], [tensor_input("x", [2, 3])],
                  [any_output(name)])
    path = tmp_path / "named.metalnn"
    metalnn.load(model, device="cpu").save(path)
    return path.read_bytes()


@pytest.mark.parametrize("replacement", [b"\xff\xfeXXXX", b"output\xe2", b"outpu\xc3("],
                         ids=["invalid", "cut", "bad-continuation"])
def test_model_file_invalid_utf8_name(replacement, tmp_path):
    data = model_file_with_name(tmp_path, "output")[:]
    patched = data.replace(b"output", replacement[:6].ljust(6, b"x"))
    result = run_capped(tmp_path, patched, body="model.run(feeds); print(model.outputs, file=sys.stderr)")
    assert result["outcome"] == "ok" or result["metalnn_error"], result


def test_model_file_invalid_utf8_name_in_error(tmp_path):
    data = model_file_with_name(tmp_path, "output")
    patched = data.replace(b"output", b"outp\xc3(")
    body = "model.run({'x': np.ones((5, 5), np.float32)})"
    assert_clean_error(run_capped(tmp_path, patched, body=body), metalnn.ShapeError)


OLD_OPSET_MISSING_INPUTS = {
    "clip-6": (6, helper.make_node("Clip", [], ["y"], name="old", min=0.0)),
    "prelu-6": (6, helper.make_node("PRelu", ["x"], ["y"], name="old")),
    "resize-10": (10, helper.make_node("Resize", ["x"], ["y"], name="old")),
    "pad-2": (2, helper.make_node("Pad", [], ["y"], name="old", pads=[0, 0, 0, 0])),
    "slice-9": (9, helper.make_node("Slice", [], ["y"], name="old", starts=[0], ends=[1])),
    "slice-9-empty-input": (9, helper.make_node("Slice", [""], ["y"], name="old", starts=[0], ends=[1])),
    "topk-9": (9, helper.make_node("TopK", [], ["y", "i"], name="old", k=1)),
    "squeeze-11": (11, helper.make_node("Squeeze", [], ["y"], name="old", axes=[0])),
}


# Found by tests/fuzz/onnx_fuzz.py: an op used below the opset that introduced it (Resize at opset 9
# went through Resize-10's upgrade with one input and raised IndexError).
OP_BEFORE_ITS_OPSET = {
    "resize-9": (9, helper.make_node("Resize", ["x"], ["y"], name="old")),
    "range-10": (10, helper.make_node("Range", ["x", "x", "x"], ["y"], name="old")),
}
OLD_OPSET_MISSING_INPUTS.update(OP_BEFORE_ITS_OPSET)

# Found by tests/fuzz/onnx_fuzz.py: an older form's attribute of another kind than its upgrade reads
# (Pad-1 with `pads` as strings raised ValueError in the upgrade to Pad-11's inputs).
OLD_FORM_ATTRIBUTE_OF_ANOTHER_KIND = {
    "pad-1-string-pads": (1, helper.make_node("Pad", ["x"], ["y"], name="old", pads=["SAME_UPPER"] * 8)),
    "pad-1-infinite-pads": (1, helper.make_node("Pad", ["x"], ["y"], name="old", pads=[float("inf")] * 8)),
}
OLD_OPSET_MISSING_INPUTS.update(OLD_FORM_ATTRIBUTE_OF_ANOTHER_KIND)


@pytest.mark.parametrize("case", sorted(OLD_OPSET_MISSING_INPUTS))
def test_old_opset_missing_inputs(case):
    opset, node = OLD_OPSET_MISSING_INPUTS[case]
    model = build([node], [tensor_input("x", [1, 2, 3, 3])], [any_output()], opset=opset)
    load_error(model, metalnn.ModelError, "old")


def test_prelu_6_per_channel_slope_without_rank():
    model = build([helper.make_node("PRelu", ["x", "slope"], ["y"], name="prelu")],
                  [helper.make_tensor_value_info("x", F, None)], [any_output()],
                  {"slope": np.ones(3, np.float32)}, opset=6)
    load_error(model, metalnn.Error, "prelu")


def inconsistent_tensor(name: str, raw: bool) -> onnx.TensorProto:
    """A float tensor of dims [2, 3] holding 4 or 5 values (helper.make_tensor refuses to build one)."""
    tensor = onnx.TensorProto(name=name, data_type=F, dims=[2, 3])
    if raw:
        tensor.raw_data = np.ones(5, np.float32).tobytes()
    else:
        tensor.float_data.extend([1.0, 2.0, 3.0, 4.0])
    return tensor


def inconsistent_constant(raw: bool = False) -> onnx.ModelProto:
    value = inconsistent_tensor("v", raw=raw)
    return build([helper.make_node("Constant", [], ["c"], name="const", value=value),
                  helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                 [tensor_input("x", [2, 3])], [any_output()])


def test_constant_with_inconsistent_dims():
    model = inconsistent_constant()
    load_error(model, metalnn.ModelError, "const")


def test_constant_with_inconsistent_raw_data():
    model = inconsistent_constant(raw=True)
    load_error(model, metalnn.ModelError, "const")


@pytest.mark.parametrize("location", ["missing.bin", "../outside.bin", ""])
def test_external_data_that_is_not_there(location, tmp_path):
    # Found by tests/fuzz/onnx_fuzz.py: onnx raised TypeError or OSError for these, not ModelError.
    model = build([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [tensor_input("x", [2, 3])],
                  [any_output()], {"w": np.ones((2, 3), np.float32)})
    init = model.graph.initializer[0]
    init.ClearField("raw_data")
    init.data_location = TensorProto.EXTERNAL
    init.external_data.add(key="location", value=location)
    path = tmp_path / "external.onnx"
    path.write_bytes(model.SerializeToString())
    load_error(path, metalnn.ModelError)
    load_error(model.SerializeToString(), metalnn.ModelError)


@pytest.mark.parametrize("location", ["missing.bin", "../../etc/passwd", "", "present.bin"])
def test_constant_attribute_with_external_data(location, tmp_path, monkeypatch):
    # Found by tests/fuzz/onnx_fuzz.py: a Constant's tensor naming external data raised onnx's
    # ValidationError. A file in the working directory must not be read either: only one beside a
    # model file is, and a Constant's value never names one in an exporter's output.
    value = numpy_helper.from_array(np.ones((2, 3), np.float32), "v")
    value.ClearField("raw_data")
    value.data_location = TensorProto.EXTERNAL
    value.external_data.add(key="location", value=location)
    model = build([helper.make_node("Constant", [], ["c"], name="const", value=value),
                   helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                  [tensor_input("x", [2, 3])], [any_output()])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "present.bin").write_bytes(np.ones(6, np.float32).tobytes())
    load_error(model.SerializeToString(), metalnn.ModelError, "const")


def test_initializer_with_inconsistent_raw_data():
    model = build([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [tensor_input("x", [2, 3])],
                  [any_output()])
    model.graph.initializer.append(inconsistent_tensor("w", raw=True))
    load_error(model, metalnn.ModelError, "'w'")


def with_ref_attr_name() -> onnx.ModelProto:
    node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky")
    node.attribute.append(onnx.AttributeProto(name="alpha", ref_attr_name="slope", type=onnx.AttributeProto.FLOAT))
    return build([node], [tensor_input("x", [2, 3])], [any_output()])


def test_ref_attr_name():
    model = with_ref_attr_name()
    load_error(model, metalnn.ModelError, "leaky", "alpha")


def test_attribute_of_the_wrong_type():
    # Found by tests/fuzz/onnx_fuzz.py: a string 'axes' on ReduceMean-13 raised ValueError in the upgrade.
    model = build([helper.make_node("ReduceMean", ["x"], ["y"], name="mean", axes="01")],
                  [tensor_input("x", [2, 3])], [any_output()], opset=13)
    load_error(model, metalnn.ModelError, "mean", "'axes'", "STRING", "INTS")


def test_trailing_omitted_inputs(target):
    # Found by tests/fuzz/onnx_fuzz.py: Equal(a, b, "") passed the arity check (a trailing empty name is an
    # omitted input) but its kernel read the third input and crashed.
    model = build([helper.make_node("Equal", ["a", "b", ""], ["e", ""], name="eq"),
                   helper.make_node("Where", ["e", "a", "b"], ["y", ""], name="where")],
                  [tensor_input("a", [2, 3], I64), tensor_input("b", [3], I64)],
                  [helper.make_tensor_value_info("y", I64, [2, 3])])
    a = np.array([[1, 2, 3], [4, 5, 6]], np.int64)
    b = np.array([1, 5, 3], np.int64)
    y = metalnn.load(model, device=target.device, precision=target.precision).run({"a": a, "b": b})["y"]
    np.testing.assert_array_equal(y, np.where(a == b, a, b))


def test_tensor_attribute_of_unknown_data_type():
    # Found by tests/fuzz/onnx_fuzz.py: numpy_helper raised KeyError for data type 68.
    value = onnx.TensorProto(name="v", data_type=68, dims=[1], raw_data=b"\0" * 4)
    model = build([helper.make_node("Constant", [], ["c"], name="const", value=value),
                   helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                  [tensor_input("x", [2, 3])], [any_output()])
    load_error(model, metalnn.ModelError, "const", "'value'")


@pytest.mark.parametrize("op", ["Gather", "GatherElements", "GatherND"])
def test_gather_from_an_empty_axis(op, target):
    # Found by tests/fuzz/onnx_fuzz.py: the GPU kernels clamp out-of-range indices to the axis, and an
    # empty axis has nothing to clamp to: they read before the buffer and crashed metal-sim.
    indices_shape = {"Gather": [2], "GatherElements": [2, 3], "GatherND": [2, 1]}[op]
    model = build([helper.make_node(op, ["x", "i"], ["y"], name="gather")],
                  [tensor_input("x", [0, 3]), tensor_input("i", indices_shape, I64)], [any_output()])
    feeds = {"x": np.ones((0, 3), np.float32), "i": np.zeros(indices_shape, np.int64)}
    with pytest.raises(metalnn.ShapeError, match="gather"):
        metalnn.load(model, device=target.device, precision=target.precision).run(feeds)


@pytest.mark.parametrize("a_shape,b_shape", [((0, 3, 4), (4, 5)), ((4, 0, 3, 4), (1, 4, 5)), ((2, 3, 4), (0, 1, 4, 5))])
def test_matmul_with_an_empty_batch(a_shape, b_shape, target, tmp_path):
    # Found by tests/fuzz/onnx_fuzz.py: the GPU lowering took max(0, 1) = 1 for a broadcast batch dim,
    # so the kernel wrote a whole batch into an empty output and corrupted the heap (metal-sim).
    model = build([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
                  [tensor_input("a", list(a_shape)), tensor_input("b", list(b_shape))], [any_output()])
    expected = np.matmul(np.ones(a_shape), np.ones(b_shape)).shape
    body = f"y = model.run(feeds)['y']; assert y.shape == {expected}, y.shape; del y, model"
    result = run_capped(tmp_path, model, device=target.device, precision=target.precision, body=body)
    assert result["outcome"] == "ok", result


def test_attribute_without_type():
    node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky")
    node.attribute.append(onnx.AttributeProto(name="alpha"))
    model = build([node], [tensor_input("x", [2, 3])], [any_output()])
    load_error(model, metalnn.ModelError, "leaky", "alpha")


# 6. Invalid-for-their-opset models are refused; NaN propagates on every device.

def clip_inputs_at_opset_6() -> onnx.ModelProto:
    return build([helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")],
                 [tensor_input("x", [2, 3])], [any_output()],
                 {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}, opset=6)


def test_clip_inputs_at_opset_6():
    model = clip_inputs_at_opset_6()
    load_error(model, metalnn.ModelError, "clip", "opset")


NAN_OPS = {
    "Relu": ([], {}),
    "Clip": (["lo", "hi"], {}),
    "Clip-min-only": (["lo"], {}),
    "HardSigmoid": ([], {"alpha": 0.3, "beta": 0.4}),
    "HardSwish": ([], {}),
}


@pytest.mark.parametrize("op", sorted(NAN_OPS))
def test_nan_propagates(op, target):
    extra, attrs = NAN_OPS[op]
    op_type = op.split("-")[0]
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 13)).astype(np.float32) * 4
    x[0, 1, 2, ::3] = np.nan
    x[1, 0, :, 5] = np.nan
    x[1, 2, 6, 12] = -np.inf
    if op != "Clip-min-only":  # ONNX Runtime clamps +inf to the float maximum when max is omitted
        x[0, 0, 0, 0] = np.inf
    model = build([helper.make_node(op_type, ["x", *extra], ["y"], name="act", **attrs)],
                  [tensor_input("x", list(x.shape))], [helper.make_tensor_value_info("y", F, list(x.shape))],
                  {"lo": np.array(-1.5, np.float32), "hi": np.array(2.5, np.float32)})
    for init in list(model.graph.initializer):
        if init.name not in extra:
            model.graph.initializer.remove(init)
    expected = run_reference(model, {"x": x})["y"]
    actual = metalnn.load(model, device=target.device, precision=target.precision).run({"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    tol = target.tolerance
    np.testing.assert_allclose(actual, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=True)


# 7. API misuse fails at the first moment it can.

def test_two_arrays_for_one_input(add_model):
    model = metalnn.load(add_model, device="cpu")
    x = np.ones((3, 5), np.float32)
    with pytest.raises(metalnn.InputError, match="1 input"):
        model(x, x)
    with pytest.raises(metalnn.Error):
        model._native.run([x, x])


def without_outputs() -> onnx.ModelProto:
    return build([helper.make_node("Relu", ["x"], ["y"], name="relu")], [tensor_input("x", [2, 3])], [])


def test_graph_without_outputs():
    model = without_outputs()
    load_error(model, metalnn.ModelError, "no outputs")


def test_save_refuses_what_load_refuses(tmp_path):
    rank = 33
    model = build([helper.make_node("Relu", ["x"], ["y"], name="relu")], [tensor_input("x", [1] * rank)],
                  [any_output()])
    loaded = metalnn.load(model, device="cpu")
    path = tmp_path / "deep.metalnn"
    with pytest.raises(metalnn.Error, match="rank"):
        loaded.save(path)
    assert not path.exists()


def regression_models():
    """(name, model) for every minimal ONNX model above: the seeds of tests/fuzz/onnx_fuzz.py."""
    for builder in (output_like_initializer, output_like_graph_input, two_producers, huge_pad, huge_resize,
                    einsum_non_ascii, inconsistent_constant, with_ref_attr_name, clip_inputs_at_opset_6,
                    without_outputs):
        yield f"regression_{builder.__name__}", builder()
    for name, builder in sorted(HUGE_SHAPE_MODELS.items()):
        yield f"regression_huge_{name}", builder()
    for name, (opset, node) in sorted(OLD_OPSET_MISSING_INPUTS.items()):
        yield f"regression_old_{name}", build([node], [tensor_input("x", [1, 2, 3, 3])], [any_output()], opset=opset)
