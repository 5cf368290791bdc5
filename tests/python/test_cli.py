"""The `metalnn` command: info, run, bench, profile and convert on a small model, checked against the
Python API; and every kind of bad input gives one line on stderr and a non-zero status."""
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

import metalnn
from metalnn.cli import main

RNG = np.random.default_rng(7)
WEIGHT = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
BIAS = RNG.standard_normal(4).astype(np.float32)
CLASSES = RNG.standard_normal((4, 5)).astype(np.float32)


def small_cnn(batch="N") -> onnx.ModelProto:
    """x [N, 3, 8, 8] -> Conv 3x3 (4 channels) -> Relu -> GlobalAveragePool -> Flatten -> MatMul [N, 5]."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "classes"], ["scores"], name="classify")]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, 5])],
        [numpy_helper.from_array(WEIGHT, "w"), numpy_helper.from_array(BIAS, "b"),
         numpy_helper.from_array(CLASSES, "classes")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "small.onnx"
    onnx.save(small_cnn(), path)
    return path


def cli(capsys, *args):
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_info_reports_the_model(model_path, capsys):
    status, out, _ = cli(capsys, "info", model_path)
    assert status == 0
    assert "x: float32 [N, 3, 8, 8]" in out and "scores: float32 [N, 5]" in out
    params = WEIGHT.size + BIAS.size + CLASSES.size
    assert f"parameters: {params:,} ({params * 4} B)" in out
    assert "Conv x1" in out and "MatMul x1" in out
    assert "unsupported ops: none" in out
    # FLOPs at batch 1: conv 2*4*8*8*27 + matmul 2*5*4
    assert f"FLOPs per run: {(2 * 4 * 64 * 27 + 2 * 5 * 4) / 1e3:.2f}K" in out
    from metalnn.cli.common import format_bytes
    summary = metalnn.load(model_path, device="cpu").summary()
    assert summary.arena_bytes > 0 and f"activation arena: {format_bytes(summary.arena_bytes)}" in out


def test_info_layers_and_json_match_the_summary(model_path, capsys):
    status, out, _ = cli(capsys, "info", model_path, "--layers")
    assert status == 0
    summary = metalnn.load(model_path, device="cpu").summary()
    rows = [line.split() for line in out.splitlines() if line[:2].strip().isdigit()]
    assert [row[1:3] for row in rows] == [[layer.name, layer.op] for layer in summary.layers]
    conv = next(layer for layer in summary.layers if layer.op == "Conv")
    assert conv.output_shapes == ((1, 4, 8, 8),) and conv.params == WEIGHT.size + BIAS.size
    status, out, _ = cli(capsys, "info", model_path, "--json")
    data = json.loads(out)
    assert data["params"] == summary.params and data["op_counts"] == summary.op_counts
    assert data["inputs"][0] == {"name": "x", "shape": ["N", 3, 8, 8], "dtype": "float32"}


def test_info_lists_every_unsupported_op_at_once(tmp_path, capsys):
    model = small_cnn()
    model.graph.node.extend([helper.make_node("Unique", ["scores"], ["n1"], name="unique"),
                             helper.make_node("Det", ["scores"], ["n2"], name="det")])
    path = tmp_path / "unsupported.onnx"
    onnx.save(model, path)
    status, out, _ = cli(capsys, "info", path)
    assert status == 1
    assert "unsupported ops (2): Unique (node 'unique'), Det (node 'det')" in out
    assert "x: float32 [N, 3, 8, 8]" in out


def test_run_npy_inputs_match_the_api(model_path, tmp_path, capsys):
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    status, out, _ = cli(capsys, "run", model_path, "--input", f"x={tmp_path / 'x.npy'}", "-o", tmp_path / "out.npz",
                         "--device", "cpu")
    assert status == 0 and "scores: float32 [2, 5]" in out
    expected = metalnn.load(model_path, device="cpu").run({"x": x})["scores"]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npz")["scores"], expected)


def test_run_preprocesses_images_and_prints_top_labels(model_path, tmp_path, capsys):
    pixels = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    (tmp_path / "labels.txt").write_text("".join(f"label {i}\n" for i in range(5)))
    status, out, _ = cli(capsys, "run", model_path, "--input", tmp_path / "photo.png", "--size", 8, "--scale", 1,
                         "--mean", 10, 20, 30, "--std", 2, 4, 8, "--bgr", "--labels", tmp_path / "labels.txt",
                         "--top", 3, "-o", tmp_path / "out.npz")
    assert status == 0
    resized = np.asarray(Image.fromarray(pixels).resize((8, 8), Image.Resampling.BILINEAR), np.float32)[:, :, ::-1]
    x = ((resized - [10, 20, 30]) / [2, 4, 8]).astype(np.float32).transpose(2, 0, 1)[None].copy()
    scores = metalnn.load(model_path, device="cpu").run({"x": x})["scores"][0]
    np.testing.assert_allclose(np.load(tmp_path / "out.npz")["scores"][0], scores, rtol=1e-5, atol=1e-5)
    best = np.argsort(-scores)[:3]
    printed = [line.split()[1:3] for line in out.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert printed == [["label", str(i)] for i in best]


def test_bench_json(model_path, capsys):
    status, out, _ = cli(capsys, "bench", model_path, "--batch", 3, "--iters", 6, "--json", "--device", "cpu",
                         "--compare", "onnxruntime", "--threads", 1)
    assert status == 0
    result = json.loads(out)
    assert result["batch"] == 3 and result["threads"] == 1 and result["device"] == "cpu"
    for key in ("load_ms", "first_run_ms", "median_ms", "p90_ms", "throughput_per_s"):
        assert result[key] > 0, key
    assert result["p90_ms"] >= result["median_ms"] >= result["min_ms"]
    assert result["throughput_per_s"] == pytest.approx(3e3 / result["median_ms"])
    assert result["peak_memory_bytes"] > 10 << 20
    assert result["onnxruntime"]["median_ms"] > 0


def test_profile_table_and_trace(model_path, tmp_path, capsys):
    status, out, _ = cli(capsys, "profile", model_path, "--runs", 3, "--trace", tmp_path / "trace.json")
    assert status == 0
    summary = metalnn.load(model_path, device="cpu").summary()
    assert f"{len(summary.layers)} layers on cpu, median of 3 runs" in out
    for layer in summary.layers:
        assert f"{layer.op} '{layer.name}'" in out
    trace = json.loads((tmp_path / "trace.json").read_text())
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(events) == 3 * len(summary.layers)
    assert all(e["dur"] >= 0 for e in events)
    assert all(a["ts"] + a["dur"] <= b["ts"] + 1e-3 for a, b in zip(events, events[1:]))


def test_profile_share_of_peak(model_path, capsys):
    from metalnn.cpu_peak import cpu_peak
    status, out, _ = cli(capsys, "profile", model_path, "--runs", 2, "--threads", 1, "--clock-ghz", 2.5)
    assert status == 0
    peak = cpu_peak(1, 2.5)
    assert peak.gflops in (1 * 4 * 2 * 1 * 2.5, 1 * 4 * 2 * 2 * 2.5, 1 * 8 * 2 * 2 * 2.5, 1 * 16 * 2 * 2 * 2.5)
    assert f"peak {peak.gflops:.0f} GFLOP/s = 1 cores" in out and "2.50 GHz" in out
    assert any("GFLOP/s" in line and "% of peak" in line for line in out.splitlines())
    conv = next(line for line in out.splitlines() if line.lstrip().startswith("Conv '"))
    cells = conv.split()
    gflops, share = float(cells[-3]), float(cells[-2])  # ... GFLOP/s, % of peak, FLOPs
    assert share == pytest.approx(100 * gflops / peak.gflops, abs=0.51), conv


def token_model() -> onnx.ModelProto:
    """ids, types [N, S] int64 -> two Gathers (a 2-row token-type table, as BERT has) -> Add [N, S, 4]."""
    words = RNG.standard_normal((30, 4)).astype(np.float32)
    kinds = RNG.standard_normal((2, 4)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["words", "ids"], ["w"], name="word_embeddings"),
             helper.make_node("Gather", ["kinds", "types"], ["k"], name="token_type_embeddings"),
             helper.make_node("Add", ["w", "k"], ["e"], name="embed")]
    graph = helper.make_graph(
        nodes, "tokens", [helper.make_tensor_value_info(n, TensorProto.INT64, ["N", 5]) for n in ("ids", "types")],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["N", 5, 4])],
        [numpy_helper.from_array(words, "words"), numpy_helper.from_array(kinds, "kinds")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_profile_and_bench_random_indices_fit_any_table(tmp_path, capsys):
    path = tmp_path / "tokens.onnx"
    onnx.save(token_model(), path)
    status, out, err = cli(capsys, "profile", path, "--runs", 2, "--batch", 3)
    assert status == 0, err
    assert "Gather 'token_type_embeddings'" in out
    status, out, err = cli(capsys, "bench", path, "--iters", 2, "--quiet")
    assert status == 0, err


def test_profile_inputs_from_a_file(tmp_path, capsys):
    path = tmp_path / "tokens.onnx"
    onnx.save(token_model(), path)
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, ids=np.array([[29, 0, 7, 3, 1]]), types=np.array([[1, 1, 0, 0, 1]]))
    status, out, err = cli(capsys, "profile", path, "--runs", 2, "--inputs", feeds)
    assert status == 0, err
    assert "Gather 'word_embeddings'" in out
    np.savez(feeds, ids=np.array([[29, 0, 7, 3, 1]]))
    status, _, err = cli(capsys, "profile", path, "--inputs", feeds)
    assert status != 0 and "no array for input(s) types" in err and "it holds: ids" in err
    status, _, err = cli(capsys, "bench", path, "--inputs", tmp_path / "missing.npz")
    assert status != 0 and "cannot read --inputs" in err
    np.savez(feeds, ids=np.array([[30, 0, 7, 3, 1]]), types=np.array([[1, 1, 0, 0, 1]]))
    status, _, err = cli(capsys, "profile", path, "--inputs", feeds)
    assert status != 0 and "word_embeddings" in err and "30" in err


def test_model_profile_data(model_path):
    model = metalnn.load(model_path, device="cpu")
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    profile = model.profile({"x": x}, runs=4)
    assert profile.runs == 4 and [layer.op for layer in profile.layers] == [l.op for l in model.summary().layers]
    assert all(len(layer.times_ms) == 4 and min(layer.times_ms) >= 0 for layer in profile.layers)
    conv = next(layer for layer in profile.layers if layer.op == "Conv")
    assert conv.flops == 2 * 2 * 4 * 64 * 27  # at the profiled batch of 2
    with pytest.raises(metalnn.InputError):
        model.profile({"y": x})


def test_convert_defaults_to_the_metalnn_suffix(model_path, tmp_path, capsys):
    source = tmp_path / "copy.onnx"
    source.write_bytes(model_path.read_bytes())
    status, out, _ = cli(capsys, "convert", source, "--quiet")
    assert status == 0 and (tmp_path / "copy.metalnn").is_file()
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(metalnn.load(tmp_path / "copy.metalnn").run({"x": x})["scores"],
                                  metalnn.load(source, device="cpu").run({"x": x})["scores"])


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, model_path):
    root = tmp_path_factory.mktemp("bad")
    (root / "notes.onnx").write_text("not a model at all\n")
    (root / "x.npy").write_bytes(b"")
    np.save(root / "good.npy", np.zeros((1, 3, 8, 8), np.float32))
    return root


BAD_INPUTS = {
    "missing file": (["info", "{root}/nope.onnx"], "no such model file"),
    "wrong model": (["info", "{root}/notes.onnx"], "not a valid ONNX model"),
    "alibaba mnn": (["run", "{data}/alibaba_relu.mnn", "--input", "x={root}/good.npy"], "Alibaba MNN"),
    "input without name": (["run", "{model}", "--input", "=x.npy"], "expected NAME=FILE"),
    "unknown input name": (["run", "{model}", "--input", "y={root}/good.npy"], "has no input 'y'"),
    "missing input file": (["run", "{model}", "--input", "x={root}/gone.npy"], "no such file"),
    "not npy or image": (["run", "{model}", "--input", "x={root}/notes.onnx"], "neither a .npy file nor an image"),
    "no inputs": (["run", "{model}"], "no --input given"),
    "unknown device": (["bench", "{model}", "--device", "tpu"], "invalid choice: 'tpu'"),
    "bad shape spec": (["bench", "{model}", "--shape", "x=1xa"], "bad --shape"),
    "zero iterations": (["bench", "{model}", "--iters", "0"], "expected a positive integer"),
    "unknown command": (["fly"], "invalid choice: 'fly'"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_prints_one_line(case, bad_files, model_path, capsys):
    args, message = BAD_INPUTS[case]
    from pathlib import Path
    data = Path(__file__).parent / "data"
    args = [a.format(root=bad_files, model=model_path, data=data) for a in args]
    try:
        status = main(args)
    except SystemExit as exit:  # usage errors exit from argparse
        status = exit.code
    out, err = capsys.readouterr()
    assert status not in (0, None)
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err


def test_console_script_and_module_agree(model_path, tmp_path):
    """`python -m metalnn` and the `metalnn` script run the same code; a bad file is one line from either."""
    for command in ([sys.executable, "-m", "metalnn"], [str(__import__("shutil").which("metalnn"))]):
        done = subprocess.run([*command, "info", str(model_path)], capture_output=True, text=True)
        assert done.returncode == 0 and "x: float32 [N, 3, 8, 8]" in done.stdout
        done = subprocess.run([*command, "info", str(tmp_path / "none.onnx")], capture_output=True, text=True)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    help_text = subprocess.run([sys.executable, "-m", "metalnn", "run", "--help"], capture_output=True, text=True).stdout
    assert "--input" in help_text and "--labels" in help_text and "--bgr" in help_text
