"""If and Loop: resolved per input-shape specialisation (the branch taken is inlined, a loop of
constant trip count unrolled), so the devices run only the ops inside. Checked against ONNX Runtime."""
from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import metalnn
from op_check import DEVICES, TOLERANCES, assert_close, run_reference

F = TensorProto.FLOAT
I64 = TensorProto.INT64
BOOL = TensorProto.BOOL

# The forms of If and Loop ONNX defines (opset 9 reads If-1 and Loop-1), up to what ONNX Runtime runs.
OPSETS = [9, 11, 13, 16, 19, 21]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


def init(name: str, value, dtype=np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def graph(name, nodes, inputs, outputs, initializers=()) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, inputs, outputs, list(initializers))


def model(g: onnx.GraphProto, opset: int = 17) -> onnx.ModelProto:
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset >= 14 else 7
    return m


def out(name, elem=F, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def x_input(cols: int = 3):
    return helper.make_tensor_value_info("x", F, ["n", cols])


def rows_above(threshold: int, prefix: str = "") -> list[onnx.NodeProto]:
    """Nodes computing `{prefix}cond` = x.shape[0] > threshold (folds once the shape is known)."""
    return [
        helper.make_node("Shape", ["x"], [prefix + "shape"]),
        helper.make_node("Gather", [prefix + "shape", "zero"], [prefix + "rows"], axis=0),
        helper.make_node("Greater", [prefix + "rows", prefix + "limit"], [prefix + "cond"]),
    ], [init("zero", 0, np.int64), init(prefix + "limit", threshold, np.int64)]


def check_runs(m: onnx.ModelProto, device: str, feeds_list, tolerance=None, precision="float32") -> metalnn.Model:
    """Loads once, runs every feed (different shapes: different specialisations) against ONNX Runtime."""
    engine = metalnn.load(m, device=device, precision=precision)
    for feeds in feeds_list:
        expected = run_reference(m, feeds)
        actual = engine.run(dict(feeds))
        assert set(actual) == set(expected)
        for name, ref in expected.items():
            assert_close(actual[name], ref, tolerance or TOLERANCES["float32"], f"{device}: {name}")
    return engine


def rows(rng, n: int, cols: int = 3) -> dict[str, np.ndarray]:
    return {"x": rng.standard_normal((n, cols)).astype(np.float32)}


def if_on_rows(opset: int, threshold: int = 4) -> onnx.ModelProto:
    """y = relu(x) + one when x has more than `threshold` rows, else x * three - one: both branches
    read the graph input and initializers of the enclosing graph."""
    cond_nodes, cond_inits = rows_above(threshold)
    then_g = graph("then", [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "one"], ["t"])],
                   [], [out("t")])
    else_g = graph("else", [helper.make_node("Mul", ["x", "three"], ["m"]), helper.make_node("Sub", ["m", "one"], ["e"])],
                   [], [out("e")])
    nodes = cond_nodes + [helper.make_node("If", ["cond"], ["y"], name="choose", then_branch=then_g, else_branch=else_g)]
    return model(graph("g", nodes, [x_input()], [out("y", F, ["n", 3])],
                       cond_inits + [init("one", 1.0), init("three", 3.0)]), opset)


# --- If ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", OPSETS)
def test_if_shape_condition_takes_each_branch(opset, device, rng):
    engine = check_runs(if_on_rows(opset), device, [rows(rng, 2), rows(rng, 6), rows(rng, 4), rows(rng, 5)])
    assert len(engine.cached_shapes()) == 4
    # The devices never see an If: the branch ops are all that is compiled.
    assert "If" not in engine.summary().op_counts


def test_if_with_static_shape_is_resolved_at_load(device, rng):
    m = if_on_rows(17)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 7
    check_runs(m, device, [rows(rng, 7)])


def test_nested_if_reads_values_of_every_enclosing_scope(device, rng):
    cond_nodes, cond_inits = rows_above(4)
    inner_cond, inner_inits = rows_above(8, prefix="inner_")
    # The inner branches read x (graph input), `scaled` (a node output of the outer graph) and
    # `offset` (an initializer): the outer branch must pass them through.
    inner_then = graph("inner_then", [helper.make_node("Add", ["scaled", "offset"], ["a"])], [], [out("a")])
    inner_else = graph("inner_else", [helper.make_node("Sub", ["x", "offset"], ["b"])], [], [out("b")])
    outer_then = graph("outer_then", inner_cond + [
        helper.make_node("If", ["inner_cond"], ["c"], name="inner", then_branch=inner_then, else_branch=inner_else)],
        [], [out("c")], inner_inits[1:])
    outer_else = graph("outer_else", [helper.make_node("Neg", ["scaled"], ["d"])], [], [out("d")])
    nodes = cond_nodes + [
        helper.make_node("Mul", ["x", "offset"], ["scaled"]),
        helper.make_node("If", ["cond"], ["y"], name="outer", then_branch=outer_then, else_branch=outer_else)]
    m = model(graph("g", nodes, [x_input()], [out("y", F, ["n", 3])], cond_inits + [init("offset", 2.5)]))
    check_runs(m, device, [rows(rng, 3), rows(rng, 6), rows(rng, 10)])


def test_if_with_several_outputs_passes_outer_values_and_constants(device, rng):
    cond_nodes, cond_inits = rows_above(4)
    # (ONNX Runtime wants an Identity between an outer value and a branch output.)
    then_g = graph("then", [helper.make_node("Exp", ["x"], ["t0"]), helper.make_node("Identity", ["x"], ["t1"])],
                   [], [out("t0"), out("t1"), out("c1", I64)], [init("c1", [1, 2], np.int64)])
    else_g = graph("else", [helper.make_node("Constant", [], ["c2"], value=init("v", [7, 8], np.int64)),
                            helper.make_node("Identity", ["x"], ["e0"]),
                            helper.make_node("Abs", ["x"], ["e1"])], [], [out("e0"), out("e1"), out("c2", I64)])
    nodes = cond_nodes + [helper.make_node("If", ["cond"], ["y0", "y1", "y2"], name="multi",
                                           then_branch=then_g, else_branch=else_g),
                          helper.make_node("Add", ["y0", "y1"], ["sum"])]
    m = model(graph("g", nodes, [x_input()], [out("sum", F, ["n", 3]), out("y2", I64, [2])], cond_inits))
    check_runs(m, device, [rows(rng, 2), rows(rng, 7)])


def test_if_on_an_empty_input_as_exporters_write_it(device, rng):
    """`if x.numel() == 0` (torchvision's batched_nms and friends)."""
    then_g = graph("then", [helper.make_node("Identity", ["x"], ["t"])], [], [out("t")])
    else_g = graph("else", [helper.make_node("Sigmoid", ["x"], ["e"])], [], [out("e")])
    nodes = [helper.make_node("Size", ["x"], ["numel"]),
             helper.make_node("Equal", ["numel", "zero"], ["empty"]),
             helper.make_node("If", ["empty"], ["y"], name="if_empty", then_branch=then_g, else_branch=else_g)]
    m = model(graph("g", nodes, [x_input()], [out("y", F, ["n", 3])], [init("zero", 0, np.int64)]))
    check_runs(m, device, [rows(rng, 0), rows(rng, 5)])


def test_if_on_data_takes_the_branch_the_data_chooses(device, rng):
    """A condition computed from the data splits the plan there: each value of it is specialised."""
    then_g = graph("then", [helper.make_node("Sin", ["x"], ["t"])], [], [out("t")])
    else_g = graph("else", [helper.make_node("Cos", ["x"], ["e"]), helper.make_node("Neg", ["e"], ["n"])], [],
                   [out("n")])
    nodes = [helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
             helper.make_node("Greater", ["total", "zero_f"], ["positive"]),
             helper.make_node("If", ["positive"], ["y"], name="on_data", then_branch=then_g, else_branch=else_g)]
    m = model(graph("g", nodes, [x_input()], [out("y", F, ["n", 3])], [init("zero_f", 0.0)]))
    positive, negative = {"x": np.abs(rows(rng, 3)["x"])}, {"x": -np.abs(rows(rng, 3)["x"])}
    check_runs(m, device, [positive, negative, positive, rows(rng, 5)])
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 3  # static shapes split the same way
    check_runs(m, device, [negative, positive])


# --- Loop --------------------------------------------------------------------------------------------

def counting_body(with_cond_out: str = "cond_in") -> onnx.GraphProto:
    """Carried: acc (x-shaped) and count; scan: acc * i. acc = acc * w + float(i), count += 1."""
    nodes = [
        helper.make_node("Cast", ["i"], ["i_f"], to=F),
        helper.make_node("Mul", ["acc_in", "w"], ["m"]),
        helper.make_node("Add", ["m", "i_f"], ["acc_out"]),
        helper.make_node("Add", ["count_in", "one_i"], ["count_out"]),
        helper.make_node("Mul", ["acc_out", "i_f"], ["scan"]),
        helper.make_node("Identity", [with_cond_out], ["cond_out"]),
    ]
    return graph("body", nodes,
                 [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", BOOL, []),
                  helper.make_tensor_value_info("acc_in", F, None), helper.make_tensor_value_info("count_in", I64, [])],
                 [out("cond_out", BOOL, []), out("acc_out"), out("count_out", I64, []), out("scan")])


def loop_model(opset: int, trip: str, cond: str, extra_nodes=(), extra_inits=()) -> onnx.ModelProto:
    nodes = list(extra_nodes) + [helper.make_node("Loop", [trip, cond, "x", "count0"], ["acc", "count", "scans"],
                                                  name="loop", body=counting_body())]
    inits = [init("w", 0.5), init("one_i", 1, np.int64), init("count0", 0, np.int64), init("M", 4, np.int64),
             init("true", True, np.bool_)] + list(extra_inits)
    return model(graph("g", nodes, [x_input()], [out("acc", F, ["n", 3]), out("count", I64, []),
                                                 out("scans", F, None)], inits), opset)


@pytest.mark.parametrize("opset", OPSETS)
def test_loop_with_constant_trip_count(opset, device, rng):
    check_runs(loop_model(opset, "M", ""), device, [rows(rng, 3), rows(rng, 5)])


@pytest.mark.parametrize("cond", ["true", ""])
def test_loop_with_trip_count_and_condition(cond, device, rng):
    check_runs(loop_model(17, "M", cond), device, [rows(rng, 2)])


def test_loop_trip_count_from_the_input_shape(device, rng):
    """M = x.shape[0]: a different unrolling per specialisation."""
    shape_nodes = [helper.make_node("Shape", ["x"], ["s"]),
                   helper.make_node("Gather", ["s", "zero"], ["rows"], axis=0)]
    m = loop_model(17, "rows", "", shape_nodes, [init("zero", 0, np.int64)])
    engine = check_runs(m, device, [rows(rng, 1), rows(rng, 3), rows(rng, 6)])
    assert "Loop" not in engine.summary().op_counts


def test_while_loop_whose_condition_folds_each_iteration(device, rng):
    """torch's while_loop: no trip count, the body computes the condition from a carried counter."""
    body = graph("body", [
        helper.make_node("Add", ["k_in", "one_i"], ["k_out"]),
        helper.make_node("Mul", ["v_in", "two"], ["v_out"]),
        helper.make_node("Less", ["k_out", "five"], ["cond_out"])],
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("c", BOOL, []),
         helper.make_tensor_value_info("k_in", I64, []), helper.make_tensor_value_info("v_in", F, None)],
        [out("cond_out", BOOL, []), out("k_out", I64, []), out("v_out")])
    nodes = [helper.make_node("Loop", ["", "true", "k0", "x"], ["k", "y"], name="while", body=body)]
    m = model(graph("g", nodes, [x_input()], [out("k", I64, []), out("y", F, ["n", 3])],
                    [init("true", True, np.bool_), init("k0", 0, np.int64), init("one_i", 1, np.int64),
                     init("five", 5, np.int64), init("two", 2.0)]))
    check_runs(m, device, [rows(rng, 2), rows(rng, 4)])


def test_loop_with_zero_iterations_returns_the_initial_values(device, rng):
    body = counting_body()
    del body.output[3]
    del body.node[4]
    nodes = [helper.make_node("Loop", ["M0", "", "x", "count0"], ["acc", "count"], name="loop", body=body)]
    m = model(graph("g", nodes, [x_input()], [out("acc", F, ["n", 3]), out("count", I64, [])],
                    [init("w", 0.5), init("one_i", 1, np.int64), init("count0", 0, np.int64), init("M0", 0, np.int64)]))
    check_runs(m, device, [rows(rng, 3)])


def test_loop_inside_if_branch(device, rng):
    cond_nodes, cond_inits = rows_above(2)
    loop = helper.make_node("Loop", ["M", "", "x", "count0"], ["acc", "count", "scans"], name="inner_loop",
                            body=counting_body())
    then_g = graph("then", [loop], [], [out("acc")])
    else_g = graph("else", [helper.make_node("Neg", ["x"], ["e"])], [], [out("e")])
    nodes = cond_nodes + [helper.make_node("If", ["cond"], ["y"], name="outer", then_branch=then_g, else_branch=else_g)]
    m = model(graph("g", nodes, [x_input()], [out("y", F, ["n", 3])],
                    cond_inits + [init("w", 0.5), init("one_i", 1, np.int64), init("count0", 0, np.int64),
                                  init("M", 3, np.int64)]))
    check_runs(m, device, [rows(rng, 1), rows(rng, 4)])


def test_loop_with_a_trip_count_from_data(device):
    """A trip count fed at run time is a split point: the loop is unrolled for each count it takes."""
    m = loop_model(17, "m_in", "")
    m.graph.input.append(helper.make_tensor_value_info("m_in", I64, []))
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    check_runs(m, device, [{"x": x, "m_in": np.array(n, np.int64)} for n in (3, 1, 3, 5)])


@pytest.mark.parametrize("which", ["if", "loop"])
def test_every_precision(which, target, rng):
    """The inlined ops run in the target's precision (float16 on the GPU devices)."""
    m = if_on_rows(17) if which == "if" else loop_model(17, "M", "")
    check_runs(m, target.device, [rows(rng, 3), rows(rng, 6)], target.tolerance, target.precision)


# --- hostile models ----------------------------------------------------------------------------------

def attribute(node: onnx.NodeProto, name: str) -> onnx.AttributeProto:
    return next(a for a in node.attribute if a.name == name)


def test_branches_with_mismatched_output_counts():
    m = if_on_rows(17)
    attribute(m.graph.node[-1], "else_branch").g.output.append(out("x"))  # else_branch: two outputs
    with pytest.raises(metalnn.ModelError, match=r"If 'choose': else_branch has 2 outputs, the node has 1"):
        metalnn.load(m, device="cpu").run({"x": np.ones((2, 3), np.float32)})


def test_missing_branch():
    m = if_on_rows(17)
    m.graph.node[-1].attribute.remove(attribute(m.graph.node[-1], "else_branch"))
    with pytest.raises(metalnn.ModelError, match=r"If 'choose'.*else_branch.*missing"):
        metalnn.load(m, device="cpu")


def test_branch_with_inputs():
    m = if_on_rows(17)
    attribute(m.graph.node[-1], "then_branch").g.input.append(helper.make_tensor_value_info("bogus", F, [1]))
    with pytest.raises(metalnn.ModelError, match=r"If 'choose': then_branch declares 1 inputs"):
        metalnn.load(m, device="cpu")


def test_unsupported_op_inside_a_branch_is_named():
    m = if_on_rows(17)
    attribute(m.graph.node[-1], "then_branch").g.node[0].op_type = "NoSuchOp"
    with pytest.raises(metalnn.UnsupportedOpError, match=r"NoSuchOp"):
        metalnn.load(m, device="cpu")


@pytest.mark.parametrize("trip", [10**12, 2**62])
def test_huge_trip_count_is_refused(trip):
    m = loop_model(17, "huge", "", extra_inits=[init("huge", trip, np.int64)])
    with pytest.raises(metalnn.UnsupportedOpError, match=rf"Loop 'loop': trip count M \('huge'\) = {trip}.*limit"):
        metalnn.load(m, device="cpu").run({"x": np.ones((2, 3), np.float32)})


def test_endless_while_loop_is_refused():
    body = graph("body", [helper.make_node("Identity", ["c"], ["c_out"]), helper.make_node("Neg", ["v"], ["v_out"])],
                 [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("c", BOOL, []),
                  helper.make_tensor_value_info("v", F, None)],
                 [out("c_out", BOOL, []), out("v_out")])
    m = model(graph("g", [helper.make_node("Loop", ["", "true", "x"], ["y"], name="forever", body=body)],
                    [x_input()], [out("y", F, ["n", 3])], [init("true", True, np.bool_)]))
    with pytest.raises(metalnn.UnsupportedOpError, match=r"Loop 'forever': its condition still holds after"):
        metalnn.load(m, device="cpu").run({"x": np.ones((2, 3), np.float32)})


def test_body_with_wrong_output_count():
    m = loop_model(17, "M", "")
    del attribute(m.graph.node[-1], "body").g.output[1:]
    with pytest.raises(metalnn.ModelError, match=r"Loop 'loop': body has 1 outputs"):
        metalnn.load(m, device="cpu").run({"x": np.ones((2, 3), np.float32)})


# --- .metalnn files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["if", "loop"])
def test_model_file_round_trip(which, tmp_path, device, rng):
    m = if_on_rows(17) if which == "if" else loop_model(17, "M", "")
    original = metalnn.load(m, device=device)
    original.save(tmp_path / "cf.metalnn")
    loaded = metalnn.load(tmp_path / "cf.metalnn", device=device)
    for n in (2, 6):
        feeds = rows(rng, n)
        a, b = original.run(feeds), loaded.run(feeds)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    # Saved again, the file is the same bytes.
    loaded.save(tmp_path / "again.metalnn")
    assert (tmp_path / "again.metalnn").read_bytes() == (tmp_path / "cf.metalnn").read_bytes()


def test_damaged_sub_graph_files_raise_model_error(tmp_path, rng):
    metalnn.load(if_on_rows(17), device="cpu").save(tmp_path / "cf.metalnn")
    data = (tmp_path / "cf.metalnn").read_bytes()
    header = 64
    graph_size = int.from_bytes(data[32:40], "little")
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            damaged[header + int(rng.integers(0, graph_size))] = int(rng.integers(0, 256))
        try:
            engine = metalnn.load(bytes(damaged), device="cpu")
            engine.run(rows(rng, 3))
        except metalnn.Error:
            pass


# --- exporters ---------------------------------------------------------------------------------------

try:
    import torch
except ImportError:  # the exporter tests need it; everything above does not
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")


def export_legacy(module, example) -> onnx.ModelProto:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, f, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=17)
    return onnx.load_from_string(f.getvalue())


def export_dynamo(module, example) -> onnx.ModelProto:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, example, dynamo=True, verbose=False,
                                    dynamic_shapes=({0: torch.export.Dim("n", min=2, max=64)},))
    return program.model_proto


def check_torch(m: onnx.ModelProto, module, device: str, sizes, rng, op: str) -> None:
    assert op in [n.op_type for n in m.graph.node], "the exporter no longer writes this op"
    engine = metalnn.load(m, device=device)
    name = m.graph.input[0].name
    for n in sizes:
        x = rng.standard_normal((n, 3)).astype(np.float32)
        actual = list(engine.run({name: x}).values())[0]
        expected = module(torch.from_numpy(x)).detach().numpy()
        assert_close(actual, expected, TOLERANCES["float32"], f"{device}: n={n}")
        assert_close(actual, list(run_reference(m, {name: x}).values())[0], TOLERANCES["float32"], f"{device}: n={n}")


def torch_modules() -> dict:
    """Small modules with data-independent control flow, as users write it for each exporter."""

    @torch.jit.script
    def scripted_if(x):
        if x.shape[0] > 3:
            return torch.relu(x) + 1.0
        return x * 2.0 - 1.0

    @torch.jit.script
    def scripted_loop(x, n: int):
        acc = x
        for i in range(n):
            acc = acc * 0.5 + float(i)
        return acc

    class ScriptedIf(torch.nn.Module):
        def forward(self, x):
            return scripted_if(x)

    class ScriptedLoop(torch.nn.Module):
        def forward(self, x):
            return scripted_loop(x, 4)

    class Cond(torch.nn.Module):
        def forward(self, x):
            return torch.cond(x.shape[0] > 4, lambda x: torch.relu(x) + 1.0, lambda x: x * 3.0 - 1.0, (x,))

    class WhileLoop(torch.nn.Module):
        def forward(self, x):
            from torch._higher_order_ops.while_loop import while_loop
            return while_loop(lambda i, acc: i < 5, lambda i, acc: (i + 1, acc * 0.5 + 1.0), (torch.tensor(0), x))[1]

    return {"ScriptedIf": ScriptedIf(), "ScriptedLoop": ScriptedLoop(), "Cond": Cond(), "WhileLoop": WhileLoop()}


@needs_torch
@pytest.mark.parametrize("module, op", [("ScriptedIf", "If"), ("ScriptedLoop", "Loop")])
def test_torchscript_export(module, op, device, rng):
    m = torch_modules()[module]
    check_torch(export_legacy(m, (torch.randn(5, 3),)), m, device, [2, 5], rng, op)


@needs_torch
@pytest.mark.parametrize("module, op", [("Cond", "If"), ("WhileLoop", "Loop")])
def test_dynamo_export(module, op, device, rng):
    m = torch_modules()[module]
    check_torch(export_dynamo(m, (torch.randn(6, 3),)), m, device, [3, 6], rng, op)
